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

use ndarray::{Array3, ArrayView3};
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
    let dims = features.dim();
    let flat: Vec<bool> = match features.as_slice() {
        Some(s) => s.to_vec(),
        None => features.iter().copied().collect(),
    };
    let d = squared_edt_flat(&flat, [dims.0, dims.1, dims.2], spacing);
    Ok(
        Array3::from_shape_vec(dims, d)
            .unwrap_or_else(|_| unreachable!("length = product of dims")),
    )
}

/// The squared EDT of a C-order feature volume of shape `dims` (no validation).
pub(crate) fn squared_edt_flat(features: &[bool], dims: [usize; 3], spacing: Spacing) -> Vec<f64> {
    let [nz, ny, nx] = dims;
    let mut d = vec![0.0f64; features.len()];
    if features.is_empty() {
        return d;
    }
    // Pass 1 (x, contiguous): distance to the nearest feature on the row, by two sweeps.
    let sx = spacing[2];
    for (frow, drow) in features.chunks_exact(nx).zip(d.chunks_exact_mut(nx)) {
        row_pass(frow, drow, sx);
    }
    // Passes 2 (y, stride nx) and 3 (z, stride ny·nx): lower envelopes.
    let big = nz * ny * nx >= PARALLEL_THRESHOLD;
    strided_pass(&mut d, [nz, ny, nx], 1, spacing[1] * spacing[1], big);
    strided_pass(&mut d, [nz, ny, nx], 0, spacing[0] * spacing[0], big);
    d
}

/// Squared distance along one row to the nearest `true` (`+inf` when none).
#[allow(clippy::cast_precision_loss)]
fn row_pass(f: &[bool], out: &mut [f64], s: f64) {
    let n = f.len();
    let mut last: Option<usize> = None;
    for q in 0..n {
        if f[q] {
            last = Some(q);
        }
        out[q] = last.map_or(f64::INFINITY, |p| {
            let t = (q - p) as f64 * s;
            t * t
        });
    }
    let mut next: Option<usize> = None;
    for q in (0..n).rev() {
        if f[q] {
            next = Some(q);
        }
        if let Some(p) = next {
            let t = (p - q) as f64 * s;
            out[q] = out[q].min(t * t);
        }
    }
}

/// Lower-envelope pass along `axis` (0 = z or 1 = y) of a C-order volume, in place.
fn strided_pass(d: &mut [f64], dims: [usize; 3], axis: usize, s2: f64, parallel: bool) {
    let [_, ny, nx] = dims;
    let n = dims[axis];
    if n <= 1 {
        return;
    }
    // axis 1 (y): z-slices are disjoint contiguous slabs (parallel for big volumes), lines of stride nx.
    // axis 0 (z): lines of stride ny·nx interleave over the whole volume; processed serially.
    match axis {
        1 => {
            let run = |slab: &mut [f64]| {
                let mut scr = Scratch::new(n);
                for x in 0..nx {
                    scr.run_strided(slab, x, nx, s2);
                }
            };
            if parallel {
                d.par_chunks_mut(ny * nx).for_each(run);
            } else {
                d.chunks_mut(ny * nx).for_each(run);
            }
        }
        _ => {
            let mut scr = Scratch::new(n);
            for start in 0..ny * nx {
                scr.run_strided(d, start, ny * nx, s2);
            }
        }
    }
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
    d.mapv_inplace(f64::sqrt);
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

/// Volumes with at least this many voxels are transformed with rayon.
const PARALLEL_THRESHOLD: usize = 1 << 21;

/// Per-line buffers of the lower-envelope algorithm.
struct Scratch {
    f: Vec<f64>,
    out: Vec<f64>,
    v: Vec<usize>,
    z: Vec<f64>,
}

impl Scratch {
    /// Gathers the line `data[start + k·stride]`, runs the envelope, scatters the result back.
    fn run_strided(&mut self, data: &mut [f64], start: usize, stride: usize, s2: f64) {
        let mut any = false;
        for (k, f) in self.f.iter_mut().enumerate() {
            *f = data[start + k * stride];
            any |= f.is_finite();
        }
        if !any {
            return; // all +inf stays +inf
        }
        self.envelope(s2);
        for (k, &o) in self.out.iter().enumerate() {
            data[start + k * stride] = o;
        }
    }

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
