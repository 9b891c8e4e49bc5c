//! Exact Euclidean distance transforms in linear time with anisotropic spacing.
//!
//! Felzenszwalb & Huttenlocher's separable algorithm ("Distance Transforms of Sampled Functions", Theory of
//! Computing 8, 2012): the squared distance is computed one axis at a time as the lower envelope of parabolas
//!
//! ```text
//! D_k(q) = min_p ( s_k² (q − p)² + D_{k−1}(p) )          (one 1-D pass per axis k, spacing s_k)
//! D_0(p) = 0 at feature voxels, +inf elsewhere
//! intersection of the parabolas rooted at p < q:
//!   x(p, q) = ( (D(q) + s²q²) − (D(p) + s²p²) ) / ( 2 s² (q − p) )
//! ```
//!
//! Each pass is O(n) per line, so the transform is O(N) for N voxels; lines run in parallel (rayon). Sites
//! with an infinite value are skipped (never `inf − inf`). The result equals scipy's
//! `ndimage.distance_transform_edt(…, sampling=spacing)` (Maurer, Qi & Raghavan, IEEE PAMI 2003) to rounding:
//! both are exact.
//!
//! Reference: `/work/shared/reference/metrics.md` §6; scipy `scipy/ndimage/_morphology.py`
//! (`distance_transform_edt`) for the semantics of [`distance_transform_edt`].

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

use crate::error::Result;
use crate::mask::{check_spacing, Spacing};

/// Squared Euclidean distance (mm², with `spacing`) from every voxel to the nearest `true` voxel of
/// `features`; `+inf` everywhere when `features` has no `true` voxel.
///
/// ```text
/// out[i] = min_{j : features[j]} Σ_k (s_k (i_k − j_k))²
/// ```
///
/// # Errors
/// [`crate::Error::InvalidSpacing`] when a spacing entry is not finite and positive.
pub fn squared_distance_to_set(
    features: ArrayView3<'_, bool>,
    spacing: Spacing,
) -> Result<Array3<f64>> {
    check_spacing(spacing)?;
    let mut d = features.mapv(|f| if f { 0.0 } else { f64::INFINITY });
    // Start with the contiguous axis (x), then y, then z.
    for axis in [2usize, 1, 0] {
        lower_envelope_pass(&mut d, axis, spacing[axis] * spacing[axis]);
    }
    Ok(d)
}

/// Euclidean distance (mm) from every voxel to the nearest `true` voxel of `features` (the square root of
/// [`squared_distance_to_set`]); `+inf` everywhere when there is none.
///
/// # Errors
/// [`crate::Error::InvalidSpacing`] when a spacing entry is not finite and positive.
///
/// # Examples
/// ```
/// use ndarray::Array3;
/// let mut f = Array3::from_elem((1, 1, 5), false);
/// f[[0, 0, 0]] = true;
/// let d = medmetrics::distance_to_set(f.view(), [1.0, 1.0, 0.5]).unwrap();
/// assert_eq!(d.as_slice().unwrap(), &[0.0, 0.5, 1.0, 1.5, 2.0]);
/// ```
pub fn distance_to_set(features: ArrayView3<'_, bool>, spacing: Spacing) -> Result<Array3<f64>> {
    let mut d = squared_distance_to_set(features, spacing)?;
    d.par_mapv_inplace(f64::sqrt);
    Ok(d)
}

/// scipy's `distance_transform_edt(mask, sampling=spacing)`: for every `true` voxel of `mask` the distance
/// (mm) to the nearest `false` voxel, 0 at `false` voxels.
///
/// ```text
/// out[i] = 0                                   if !mask[i]
///        = min_{j : !mask[j]} ‖s ⊙ (i − j)‖₂   otherwise
/// ```
///
/// When `mask` has no `false` voxel at all, every voxel gets `+inf` (scipy's output is meaningless there).
///
/// # Errors
/// [`crate::Error::InvalidSpacing`] when a spacing entry is not finite and positive.
pub fn distance_transform_edt(mask: ArrayView3<'_, bool>, spacing: Spacing) -> Result<Array3<f64>> {
    let background = mask.mapv(|m| !m);
    distance_to_set(background.view(), spacing)
}

/// One 1-D lower-envelope pass along `axis` with squared spacing `s2`, in place.
fn lower_envelope_pass(d: &mut Array3<f64>, axis: usize, s2: f64) {
    let n = d.len_of(Axis(axis));
    let outer = if axis == 0 { 1 } else { 0 };
    let line_axis = if axis > outer { axis - 1 } else { axis };
    let run = |mut slab: ndarray::ArrayViewMut2<'_, f64>| {
        let mut scratch = Scratch::new(n);
        for mut lane in slab.lanes_mut(Axis(line_axis)) {
            for (dst, &src) in scratch.f.iter_mut().zip(lane.iter()) {
                *dst = src;
            }
            scratch.envelope(s2);
            for (dst, &src) in lane.iter_mut().zip(scratch.out.iter()) {
                *dst = src;
            }
        }
    };
    if d.len() >= PARALLEL_THRESHOLD {
        d.axis_iter_mut(Axis(outer)).into_par_iter().for_each(run);
    } else {
        d.axis_iter_mut(Axis(outer)).for_each(run);
    }
}

/// Volumes with at least this many voxels are transformed with rayon.
const PARALLEL_THRESHOLD: usize = 1 << 15;

/// Per-line buffers of the lower-envelope algorithm.
struct Scratch {
    f: Vec<f64>,
    out: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Scratch {
    fn new(n: usize) -> Self {
        Scratch {
            f: vec![0.0; n],
            out: vec![0.0; n],
            v: vec![0; n],
            z: vec![0.0; n + 1],
        }
    }

    /// `out[q] = min_p s2 (q − p)² + f[p]` over the finite `f[p]`; `+inf` when none is finite.
    #[allow(clippy::cast_precision_loss)]
    fn envelope(&mut self, s2: f64) {
        let (f, v, z) = (&self.f, &mut self.v, &mut self.z);
        let n = f.len();
        let mut k = usize::MAX; // index of the rightmost parabola; MAX = none yet
        for (q, &fq) in f.iter().enumerate() {
            if !fq.is_finite() {
                continue;
            }
            if k == usize::MAX {
                k = 0;
                v[0] = q;
                z[0] = f64::NEG_INFINITY;
                z[1] = f64::INFINITY;
                continue;
            }
            let qf = q as f64;
            let hq = fq + s2 * qf * qf;
            loop {
                let p = v[k];
                let pf = p as f64;
                let s = (hq - (f[p] + s2 * pf * pf)) / (2.0 * s2 * (qf - pf));
                // z[0] = −inf, so this stops at k = 0 at the latest.
                if s <= z[k] {
                    k -= 1;
                    continue;
                }
                k += 1;
                v[k] = q;
                z[k] = s;
                z[k + 1] = f64::INFINITY;
                break;
            }
        }
        if k == usize::MAX {
            self.out.fill(f64::INFINITY);
            return;
        }
        let mut j = 0;
        for q in 0..n {
            let qf = q as f64;
            while z[j + 1] < qf {
                j += 1;
            }
            let p = v[j];
            let dq = qf - p as f64;
            self.out[q] = s2 * dq * dq + f[p];
        }
    }
}
