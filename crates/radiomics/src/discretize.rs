//! Gray-level discretisation exactly as PyRadiomics bins the ROI.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/imageoperations.py` (`getBinEdges`, `binImage`), NumPy 2.x
//! `arange`, `histogram` and `digitize`; `reference/radiomics.md` §3.
//!
//! ```text
//! binWidth W:  lo = min − (min mod W)         (floor-mod, in the pixel dtype)
//!              hi = max + 2W                  (in the pixel dtype)
//!              edges[k] = lo + k·((lo + W) − lo),  k < ceil((hi − lo)/W)   (numpy.arange, float64)
//!              one edge e0 only → edges = [e0 − 0.5, e0 + 0.5]
//! binCount N:  edges = linspace(min, max, N + 1) (min == max → min − 0.5, max + 0.5), last edge + 1
//! bin(x) = i such that edges[i−1] ≤ x < edges[i]    (numpy.digitize, 1-based)
//! ```

use crate::error::{Error, Result};
use crate::settings::Binning;
use crate::voxel::PixelKind;

/// Upper bound on the number of bin edges (a binWidth far below the intensity range is a settings error).
const MAX_EDGES: f64 = 1.0e7;

/// NumPy's floor-mod (`npy_divmod`): the result has the sign of `b`.
fn floor_mod_f64(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        m + b
    } else if m == 0.0 {
        0.0f64.copysign(b)
    } else {
        m
    }
}

fn floor_mod_f32(a: f32, b: f32) -> f32 {
    let m = a % b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        m + b
    } else if m == 0.0 {
        0.0f32.copysign(b)
    } else {
        m
    }
}

/// The bin edges PyRadiomics uses for `values` (the ROI intensities, widened to `f64`).
///
/// ```text
/// see the module docs: binWidth → 0-anchored arange edges; binCount → histogram edges with last + 1
/// ```
///
/// # Errors
///
/// [`Error::TooManyBins`] when the edges would exceed 10⁷; [`Error::InvalidParameter`] for empty input.
pub fn bin_edges(values: &[f64], kind: PixelKind, binning: Binning) -> Result<Vec<f64>> {
    if values.is_empty() {
        return Err(Error::InvalidParameter {
            key: "mask",
            reason: "empty ROI".into(),
        });
    }
    let (min, max) = values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        });
    match binning {
        Binning::Width(w) => {
            let integral_w = w.fract() == 0.0;
            let (lo, hi) = match kind {
                PixelKind::Integer if integral_w => (min - floor_mod_f64(min, w), max + 2.0 * w),
                // Integer pixels with a fractional width promote to float64.
                PixelKind::Integer | PixelKind::Float64 => {
                    (min - floor_mod_f64(min, w), max + 2.0 * w)
                }
                #[allow(clippy::cast_possible_truncation)]
                PixelKind::Float32 => {
                    let (mn, mx, wf) = (min as f32, max as f32, w as f32);
                    (
                        f64::from(mn - floor_mod_f32(mn, wf)),
                        f64::from(mx + (2.0 * w) as f32),
                    )
                }
            };
            let n = ((hi - lo) / w).ceil();
            if !(n.is_finite() && n <= MAX_EDGES) {
                return Err(Error::TooManyBins(n));
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let n = n.max(0.0) as usize;
            let delta = (lo + w) - lo;
            #[allow(clippy::cast_precision_loss)]
            let mut edges: Vec<f64> = (0..n).map(|k| lo + k as f64 * delta).collect();
            if n >= 1 {
                // numpy.arange stores the first element as `start` exactly.
                edges[0] = lo;
            }
            if edges.len() == 1 {
                let e0 = edges[0];
                edges = vec![e0 - 0.5, e0 + 0.5];
            }
            Ok(edges)
        }
        Binning::Count(count) => {
            let (first, last) = if min == max {
                (min - 0.5, max + 0.5)
            } else {
                (min, max)
            };
            #[allow(clippy::cast_precision_loss)]
            let step = (last - first) / count as f64;
            #[allow(clippy::cast_precision_loss)]
            let mut edges: Vec<f64> = (0..=count).map(|k| k as f64 * step + first).collect();
            edges[count] = last + 1.0;
            Ok(edges)
        }
    }
}

/// NumPy's `digitize(x, edges)` for increasing edges (`right=False`): the number of edges ≤ `x`.
#[must_use]
pub fn digitize(x: f64, edges: &[f64]) -> u32 {
    #[allow(clippy::cast_possible_truncation)]
    let bin = edges.partition_point(|&e| e <= x) as u32;
    bin
}

/// Discretises `values` (see the module docs); returns the 1-based bins and `Ng` = the largest bin.
///
/// # Errors
///
/// As [`bin_edges`].
pub fn discretize(values: &[f64], kind: PixelKind, binning: Binning) -> Result<(Vec<u32>, u32)> {
    let edges = bin_edges(values, kind, binning)?;
    let bins: Vec<u32> = values.iter().map(|&v| digitize(v, &edges)).collect();
    let ng = bins.iter().copied().max().unwrap_or(0);
    Ok((bins, ng))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_anchored_grid_and_negative_minimum() {
        let (bins, ng) = discretize(
            &[-13.0, 0.0, 24.0, 25.0],
            PixelKind::Integer,
            Binning::Width(25.0),
        )
        .unwrap();
        assert_eq!(bins, vec![1, 2, 2, 3]);
        assert_eq!(ng, 3);
    }

    #[test]
    fn maximum_on_an_edge_opens_its_own_bin() {
        let (bins, _) =
            discretize(&[0.0, 25.0, 50.0], PixelKind::Integer, Binning::Width(25.0)).unwrap();
        assert_eq!(bins, vec![1, 2, 3]);
    }

    #[test]
    fn float_edges_follow_numpy_arange() {
        // reference/radiomics.md §3: {0.1, 0.35, 0.7}, W 0.05 → bins {1, 5, 12}.
        let (bins, _) =
            discretize(&[0.1, 0.35, 0.7], PixelKind::Float64, Binning::Width(0.05)).unwrap();
        assert_eq!(bins, vec![1, 5, 12]);
    }

    #[test]
    fn flat_region_is_one_bin() {
        let (bins, ng) = discretize(&[7.0, 7.0], PixelKind::Integer, Binning::Width(25.0)).unwrap();
        assert_eq!((bins, ng), (vec![1, 1], 1));
        let (bins, ng) = discretize(&[7.0, 7.0], PixelKind::Integer, Binning::Count(8)).unwrap();
        assert_eq!(ng, 5);
        assert_eq!(bins, vec![5, 5]);
    }
}
