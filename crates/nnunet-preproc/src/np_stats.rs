//! NumPy-exact single-precision reductions: the `float32` sums, means, standard deviations, medians and
//! linear-interpolated percentiles that nnU-Net computes with NumPy on `float32` arrays.
//!
//! nnU-Net normalises with `image.mean()` / `image.std()` on `float32` arrays, which NumPy evaluates in
//! `float32` with its **pairwise summation** (8 unrolled partial sums on blocks of at most 128 values,
//! recursive halving above that). Reproducing that order makes the means and standard deviations
//! bit-identical for contiguous inputs (verified against NumPy 2.4 in `tests/crop_normalize.rs`).
//!
//! ```text
//! pw(a[0..n]) = Σ a[i] sequentially from 0                      n < 8
//!             = ((r0+r1)+(r2+r3)) + ((r4+r5)+(r6+r7)) + tail   8 ≤ n ≤ 128, r_j = Σ_k a[8k+j]
//!             = pw(a[0..m]) + pw(a[m..n]),  m = n/2 − (n/2 mod 8)  n > 128
//! mean  = f32( f64(pw(x)) / n )
//! std   = sqrt( f32( f64(pw((x − mean)²)) / n ) )                 (ddof 0, every operation in f32)
//! ```
//!
//! References: NumPy 2.4 `numpy/_core/src/umath/loops_utils.h.src` (`pairwise_sum`),
//! `numpy/_core/_methods.py` (`_mean`, `_var`), `numpy/lib/_function_base_impl.py` (`_quantile`, `_lerp`,
//! method `"linear"`).

/// Block size below which NumPy sums with 8 unrolled partial sums (`PW_BLOCKSIZE`).
const PW_BLOCKSIZE: usize = 128;

/// NumPy's pairwise sum of `f(values[i])` in `f32`, in the order `numpy.add.reduce` uses for a contiguous
/// `float32` array.
///
/// ```text
/// see the module docs for the recursion
/// ```
#[must_use]
pub fn pairwise_sum_f32_by(values: &[f32], f: impl Fn(f32) -> f32 + Copy) -> f32 {
    let n = values.len();
    if n < 8 {
        let mut res = 0.0f32;
        for &v in values {
            res += f(v);
        }
        res
    } else if n <= PW_BLOCKSIZE {
        let mut r = [0.0f32; 8];
        for (j, rj) in r.iter_mut().enumerate() {
            *rj = f(values[j]);
        }
        let full = n - n % 8;
        let mut i = 8;
        while i < full {
            for (j, rj) in r.iter_mut().enumerate() {
                *rj += f(values[i + j]);
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &v in &values[full..] {
            res += f(v);
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum_f32_by(&values[..n2], f) + pairwise_sum_f32_by(&values[n2..], f)
    }
}

/// NumPy's pairwise `float32` sum (`np.add.reduce` of a contiguous `float32` array).
#[must_use]
pub fn pairwise_sum_f32(values: &[f32]) -> f32 {
    pairwise_sum_f32_by(values, |v| v)
}

/// `np.mean` of a contiguous `float32` array: pairwise `f32` sum divided by the count (division in `f64`,
/// rounded to `f32`). `NaN` for an empty slice (NumPy warns and returns `nan`).
#[must_use]
pub fn mean_f32(values: &[f32]) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    (f64::from(pairwise_sum_f32(values)) / values.len() as f64) as f32
}

/// `np.std` (ddof 0) of a contiguous `float32` array given its [`mean_f32`]: deviations, squares and their
/// pairwise sum in `f32`, division by the count in `f64` rounded to `f32`, `f32` square root.
/// `NaN` for an empty slice.
///
/// ```text
/// std = sqrt( f32( f64(pw((x − mean)·(x − mean))) / n ) )
/// ```
#[must_use]
pub fn std_f32(values: &[f32], mean: f32) -> f32 {
    if values.is_empty() {
        return f32::NAN;
    }
    let ss = pairwise_sum_f32_by(values, |v| {
        let d = v - mean;
        d * d
    });
    ((f64::from(ss) / values.len() as f64) as f32).sqrt()
}

/// `(mean, std)` of a contiguous `float32` array exactly as `(x.mean(), x.std())` in NumPy.
#[must_use]
pub fn mean_std_f32(values: &[f32]) -> (f32, f32) {
    let mean = mean_f32(values);
    (mean, std_f32(values, mean))
}

/// Arithmetic of the final interpolation step of NumPy's linear percentile, which depends on how `q` was
/// passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LerpPrecision {
    /// `q` given as an array (`np.percentile(x, np.array((0.5, 50, 99.5)))`, nnU-Net v2): the weight is a
    /// `float64` array, so `a + (b − a)·t` is evaluated in `f64` (with `b − a` in `f32`).
    F64,
    /// `q` given as a Python float (`np.percentile(x, 99.5)`, nnU-Net v1): the weight is a weak Python
    /// float and the interpolation runs in `f32`.
    F32,
}

/// NumPy's default (`method="linear"`) percentile of **sorted** `float32` values; `q` in percent.
/// `NaN` for an empty slice.
///
/// ```text
/// v = (n − 1)·(q / 100),  i = ⌊v⌋,  t = v − i,  a = x[i],  b = x[i+1],  d = b − a (f32)
/// p = a + d·t            if t < 0.5
///   = b − d·(1 − t)      if t ≥ 0.5          (p = x[n−1] when v ≥ n − 1)
/// ```
#[must_use]
pub fn percentile_sorted_f32(sorted: &[f32], q: f64, precision: LerpPrecision) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let virtual_index = (n - 1) as f64 * (q / 100.0);
    if virtual_index >= (n - 1) as f64 {
        return f64::from(sorted[n - 1]);
    }
    let virtual_index = virtual_index.max(0.0);
    let prev = virtual_index.floor();
    let t = virtual_index - prev;
    let i = prev as usize;
    let (a, b) = (sorted[i], sorted[i + 1]);
    let d = b - a;
    match precision {
        LerpPrecision::F64 => {
            if t >= 0.5 {
                f64::from(b) - f64::from(d) * (1.0 - t)
            } else {
                f64::from(a) + f64::from(d) * t
            }
        }
        LerpPrecision::F32 => {
            let r = if t >= 0.5 {
                b - d * ((1.0 - t) as f32)
            } else {
                a + d * (t as f32)
            };
            f64::from(r)
        }
    }
}

/// NumPy's default (`method="linear"`) percentile of **sorted** `float64` values; `q` in percent.
/// `NaN` for an empty slice. Same formula as [`percentile_sorted_f32`], all in `f64`.
#[must_use]
pub fn percentile_sorted_f64(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    let virtual_index = (n - 1) as f64 * (q / 100.0);
    if virtual_index >= (n - 1) as f64 {
        return sorted[n - 1];
    }
    let virtual_index = virtual_index.max(0.0);
    let prev = virtual_index.floor();
    let t = virtual_index - prev;
    let i = prev as usize;
    let (a, b) = (sorted[i], sorted[i + 1]);
    let d = b - a;
    if t >= 0.5 {
        b - d * (1.0 - t)
    } else {
        a + d * t
    }
}

/// `np.median` of **sorted** `float32` values (the middle value, or the `f32` mean of the two middle
/// values). `NaN` for an empty slice.
#[must_use]
pub fn median_sorted_f32(sorted: &[f32]) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        f64::from(sorted[n / 2])
    } else {
        f64::from(mean_f32(&sorted[n / 2 - 1..=n / 2]))
    }
}

/// `np.median` of `float64` values (sorts a copy). `NaN` for an empty slice.
#[must_use]
pub fn median_f64(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_sums_and_percentiles() {
        assert_eq!(pairwise_sum_f32(&[1.0, 2.0, 3.0]), 6.0);
        let v: Vec<f32> = (0..300).map(|i| i as f32).collect();
        assert_eq!(pairwise_sum_f32(&v), 44850.0);
        let (m, s) = mean_std_f32(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 1.118_034).abs() < 1e-6);
        let sorted = [1.0f32, 2.0, 3.0, 4.0];
        assert_eq!(
            percentile_sorted_f32(&sorted, 50.0, LerpPrecision::F64),
            2.5
        );
        assert_eq!(
            percentile_sorted_f32(&sorted, 100.0, LerpPrecision::F32),
            4.0
        );
        assert_eq!(percentile_sorted_f32(&sorted, 0.0, LerpPrecision::F32), 1.0);
        assert_eq!(median_sorted_f32(&sorted), 2.5);
        assert_eq!(median_f64(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(percentile_sorted_f64(&[1.0, 2.0, 3.0, 4.0, 5.0], 10.0), 1.4);
        assert!(mean_f32(&[]).is_nan());
    }
}
