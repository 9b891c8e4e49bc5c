//! Percentiles with numpy's default `linear` method.
//!
//! ```text
//! x sorted ascending, n values, q in [0, 100]
//! r = n·(q/100) + (1 − q/100) − 1          (= (n − 1)·q/100, numpy's "virtual index" with α = β = 1)
//! i = clamp(floor(r), 0, n − 1),  j = clamp(i + 1, 0, n − 1),  t = r − floor(r)
//! P_q = x_i + (x_j − x_i)·t                 (t < 0.5)
//!     = x_j − (x_j − x_i)·(1 − t)           (t ≥ 0.5)
//! ```
//!
//! Reference: numpy `numpy/lib/_function_base_impl.py` (`_quantile`, `_compute_virtual_index`, `_lerp`);
//! `/work/shared/reference/metrics.md` §3.

use crate::error::{Error, Result};

/// The `q`-th percentile (`0 ≤ q ≤ 100`) of `values` with numpy's linear interpolation (`np.percentile`).
///
/// `+inf` values are allowed (an interpolation touching one gives `+inf`); NaN is not.
///
/// # Errors
/// [`Error::EmptyInput`] for no values; [`Error::InvalidParameter`] for `q` outside `[0, 100]`;
/// [`Error::NonFinite`] for a NaN value.
///
/// # Examples
/// ```
/// let p = medmetrics::percentile(&[1.0, 2.0, 3.0, 4.0], 95.0).unwrap();
/// assert!((p - 3.85).abs() < 1e-12);
/// ```
pub fn percentile(values: &[f64], q: f64) -> Result<f64> {
    if values.is_empty() {
        return Err(Error::EmptyInput { what: "percentile" });
    }
    let mut v = values.to_vec();
    percentile_in_place(&mut v, q)
}

/// [`percentile`] on a buffer it may reorder (no allocation).
///
/// # Errors
/// As [`percentile`].
pub(crate) fn percentile_in_place(v: &mut [f64], q: f64) -> Result<f64> {
    if v.is_empty() {
        return Err(Error::EmptyInput { what: "percentile" });
    }
    if !(0.0..=100.0).contains(&q) {
        return Err(Error::InvalidParameter {
            key: "q",
            reason: format!("percentile {q} is outside [0, 100]"),
        });
    }
    if let Some(i) = v.iter().position(|x| x.is_nan()) {
        return Err(Error::NonFinite {
            what: "percentile input",
            index: i,
            value: f64::NAN,
        });
    }
    let n = v.len();
    let quantile = q / 100.0;
    #[allow(clippy::cast_precision_loss)]
    let r = n as f64 * quantile + (1.0 - quantile) - 1.0;
    let fl = r.floor();
    let t = r - fl;
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = (fl.max(0.0) as usize).min(n - 1);
    let j = (i + 1).min(n - 1);
    // Two order statistics by selection (O(n)) instead of a full sort.
    let (_, xi, rest) = v.select_nth_unstable_by(i, f64::total_cmp);
    let xi = *xi;
    let xj = if j == i {
        xi
    } else {
        rest.iter().copied().fold(f64::INFINITY, f64::min)
    };
    Ok(lerp(xi, xj, t))
}

/// numpy's `_lerp`: `a + (b − a)·t`, computed from `b` when `t ≥ 0.5`; equal ends give that end (no
/// `inf − inf`).
fn lerp(a: f64, b: f64, t: f64) -> f64 {
    if a == b || t == 0.0 {
        return a;
    }
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}
