//! Resampling of image and mask to a new voxel spacing, bit-for-bit as PyRadiomics + SimpleITK do it.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/imageoperations.py` (`resampleImage`, `_checkROI`,
//! `cropToTumorMask`); ITK 5.4 (InsightSoftwareConsortium/ITK) `Modules/Filtering/ImageGrid/include/
//! itkResampleImageFilter.hxx` (`LinearThreadedGenerateData`, `CastPixelWithBoundsChecking`),
//! `Modules/Core/ImageFunction/include/itkBSplineDecompositionImageFilter.hxx`,
//! `itkBSplineInterpolateImageFunction.hxx`, `itkLinearInterpolateImageFunction.h`,
//! `itkNearestNeighborInterpolateImageFunction.h`, `itkImageFunction.hxx` (`IsInsideBuffer`).
//! Identity direction and origin 0 are assumed (this crate works on arrays plus spacing).
//!
//! ```text
//! per axis (mask spacing s, new spacing t, ROI box lo..lo+n−1, image size N, padDistance p):
//!   t = s where t == 0 or n == 1;   r = s / t
//!   L = max(floor((lo − ½)·r − p), 0),  U = min(ceil((lo + n − ½)·r + p), ceil(N·r) − 1),  size = U − L + 1
//!   output voxel k ↦ input continuous index  c(k) = ((s·(½(t − s)/s + L/r)) + t·k) · (1/s)
//!   (x: c = c(0) + (c(size) − c(0))·k/size, ITK's scan-line interpolation)
//!   inside iff −½ ≤ c < N − ½ on every axis, else 0
//! NearestNeighbor: floor(c + ½);  Linear: trilinear, x then y then z, coordinates clamped to [0, N − 1]
//! BSpline (order 3): coefficients by the recursive prefilter z = √3 − 2 (gain (1 − z)(1 − 1/z), mirror
//!   boundaries, causal initial value over 18 terms), evaluated with cubic B-spline weights on 4×4×4
//!   coefficients around floor(f32(c)) − 1 with mirrored indices
//! output cast to the image's pixel type: integers clamped and truncated, f32 rounded
//! ```

use ndarray::{Array3, ArrayView3, Axis};
use rayon::prelude::*;

use crate::imageops::BoundingBox;
use crate::settings::Interpolator;
use crate::voxel::{MaskVoxel, Voxel};

/// The output grid of a resampling, per array axis `(z, y, x)`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResampleGrid {
    /// Output shape.
    pub shape: [usize; 3],
    /// Output spacing in mm.
    pub spacing: [f64; 3],
    /// Physical position (mm, input origin at 0) of output voxel 0.
    pub origin: [f64; 3],
}

/// PyRadiomics' `resampleImage` grid for the ROI box `bbox` of a `shape` image with `spacing`.
///
/// `target` holds the requested spacing (0 keeps an axis); axes where the ROI spans a single slice keep
/// their spacing. Returns `None` when the effective spacing equals the input spacing (NumPy `allclose`),
/// in which case PyRadiomics only crops (to the box ± `pad`).
///
/// ```text
/// see the module docs (L, U, size, origin = s·(½(t − s)/s + L/r))
/// ```
#[must_use]
pub fn resample_grid(
    bbox: &BoundingBox,
    shape: [usize; 3],
    spacing: [f64; 3],
    target: [f64; 3],
    pad: usize,
) -> Option<ResampleGrid> {
    let size = bbox.size();
    let mut t = [0.0; 3];
    for a in 0..3 {
        t[a] = if target[a] == 0.0 || size[a] == 1 {
            spacing[a]
        } else {
            target[a]
        };
    }
    // numpy.allclose(imageSpacing, resampledPixelSpacing): |a − b| ≤ 1e-8 + 1e-5·|b|.
    if (0..3).all(|a| (spacing[a] - t[a]).abs() <= 1e-8 + 1e-5 * t[a].abs()) {
        return None;
    }
    #[allow(clippy::cast_precision_loss)]
    let pad = pad as f64;
    let mut out = ResampleGrid {
        shape: [0; 3],
        spacing: t,
        origin: [0.0; 3],
    };
    for a in 0..3 {
        let r = spacing[a] / t[a];
        #[allow(clippy::cast_precision_loss)]
        let (lo, n, big_n) = (bbox.lo[a] as f64, size[a] as f64, shape[a] as f64);
        let mut l = ((lo - 0.5) * r - pad).floor();
        let mut u = ((lo + n - 0.5) * r + pad).ceil();
        let max_u = (big_n * r).ceil() - 1.0;
        if l < 0.0 {
            l = 0.0;
        }
        if u > max_u {
            u = max_u;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let len = (u - l + 1.0).max(0.0) as usize;
        out.shape[a] = len;
        let origin_index = 0.5 * (t[a] - spacing[a]) / spacing[a] + l / r;
        out.origin[a] = 0.0 + spacing[a] * origin_index;
    }
    Some(out)
}

/// Continuous input indices of the output voxels along each axis (axis 2 = x uses ITK's scan-line form).
fn axis_indices(grid: &ResampleGrid, spacing: [f64; 3]) -> [Vec<f64>; 3] {
    let mut out: [Vec<f64>; 3] = Default::default();
    for a in 0..3 {
        let inv = 1.0 / spacing[a];
        let n = grid.shape[a];
        #[allow(clippy::cast_precision_loss)]
        let at = |k: usize| ((grid.origin[a] + grid.spacing[a] * k as f64) - 0.0) * inv;
        out[a] = if a == 2 {
            let (s, e) = (at(0), at(n));
            #[allow(clippy::cast_precision_loss)]
            (0..n)
                .map(|k| s + (e - s) * (k as f64 / n as f64))
                .collect()
        } else {
            (0..n).map(at).collect()
        };
    }
    out
}

/// ITK `IsInsideBuffer`: −½ ≤ c < N − ½.
fn inside(c: f64, n: usize) -> bool {
    #[allow(clippy::cast_precision_loss)]
    let end = n as f64 - 0.5;
    c >= -0.5 && c < end
}

/// Nearest input index of `c` (ITK `RoundHalfIntegerUp`), clamped to the image.
fn nearest(c: f64, n: usize) -> usize {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = (c + 0.5).floor().max(0.0) as usize;
    i.min(n - 1)
}

/// Resamples `mask` onto `grid` with nearest-neighbour interpolation (0 outside the input).
#[must_use]
pub fn resample_mask<M: MaskVoxel + Default>(
    mask: ArrayView3<M>,
    spacing: [f64; 3],
    grid: &ResampleGrid,
) -> Array3<M> {
    let idx = axis_indices(grid, spacing);
    let dims = mask.dim();
    let n = [dims.0, dims.1, dims.2];
    let [nz, ny, nx] = grid.shape;
    Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let c = [idx[0][z], idx[1][y], idx[2][x]];
        if (0..3).all(|a| inside(c[a], n[a])) {
            mask[(
                nearest(c[0], n[0]),
                nearest(c[1], n[1]),
                nearest(c[2], n[2]),
            )]
        } else {
            M::default()
        }
    })
}

/// The cubic B-spline pole √3 − 2.
fn pole() -> f64 {
    3.0f64.sqrt() - 2.0
}

/// ITK `DataToCoefficients1D` for order 3 (mirror boundaries), in place.
fn prefilter_line(s: &mut [f64]) {
    let len = s.len();
    if len == 1 {
        return;
    }
    let z = pole();
    let c0 = 1.0 * (1.0 - z) * (1.0 - 1.0 / z);
    for v in s.iter_mut() {
        *v *= c0;
    }
    // Causal initialisation (tolerance 1e-10).
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let horizon = ((1e-10f64).ln() / z.abs().ln()).ceil() as usize;
    let mut zn = z;
    if horizon < len {
        let mut sum = s[0];
        for v in s.iter().take(horizon).skip(1) {
            sum += zn * v;
            zn *= z;
        }
        s[0] = sum;
    } else {
        let iz = 1.0 / z;
        #[allow(clippy::cast_precision_loss)]
        let mut z2n = z.powf((len - 1) as f64);
        let mut sum = s[0] + z2n * s[len - 1];
        z2n = z2n * (z2n * iz);
        for v in s.iter().take(len - 1).skip(1) {
            sum += (zn + z2n) * v;
            zn *= z;
            z2n *= iz;
        }
        s[0] = sum / (1.0 - zn * zn);
    }
    for n in 1..len {
        s[n] += z * s[n - 1];
    }
    s[len - 1] = (z / (z * z - 1.0)) * (z * s[len - 2] + s[len - 1]);
    for n in (0..len - 1).rev() {
        s[n] = z * (s[n + 1] - s[n]);
    }
}

/// Prefilters every line of `a` along `axis` (full lines) and keeps `keep` of that axis.
fn prefilter_axis(a: &Array3<f64>, axis: usize, keep: (usize, usize)) -> Array3<f64> {
    let mut dim = [a.dim().0, a.dim().1, a.dim().2];
    let len = dim[axis];
    dim[axis] = keep.1 - keep.0;
    let mut out = Array3::<f64>::zeros((dim[0], dim[1], dim[2]));
    // Lines along `axis`: iterate the other two axes; parallel over the outermost remaining axis.
    let outer = if axis == 0 { 1 } else { 0 };
    out.axis_iter_mut(Axis(outer))
        .into_par_iter()
        .zip(a.axis_iter(Axis(outer)).into_par_iter())
        .for_each(|(mut o2, a2)| {
            let ax = if axis > outer { axis - 1 } else { axis };
            let mut scratch = vec![0.0; len];
            for (mut ol, al) in o2.lanes_mut(Axis(ax)).into_iter().zip(a2.lanes(Axis(ax))) {
                for (s, v) in scratch.iter_mut().zip(al.iter()) {
                    *s = *v;
                }
                prefilter_line(&mut scratch);
                for (o, s) in ol.iter_mut().zip(&scratch[keep.0..keep.1]) {
                    *o = *s;
                }
            }
        });
    out
}

/// Support indices of `c` (order 3) after ITK's mirror boundary conditions, and the cubic weights.
fn bspline_support(c: f64, n: usize) -> ([usize; 4], [f64; 4]) {
    #[allow(clippy::cast_possible_truncation)]
    let first = f64::from((c as f32).floor()) as i64 - 1;
    let w = c - (first + 1) as f64;
    let w3 = (1.0 / 6.0) * w * w * w;
    let w0 = (1.0 / 6.0) + 0.5 * w * (w - 1.0) - w3;
    let w2 = w + w0 - 2.0 * w3;
    let w1 = 1.0 - w0 - w2 - w3;
    let mut idx = [0usize; 4];
    #[allow(clippy::cast_possible_wrap)]
    let end = n as i64 - 1;
    for (k, slot) in idx.iter_mut().enumerate() {
        let mut i = first + k as i64;
        if n == 1 {
            i = 0;
        } else {
            if i < 0 {
                i = -i;
            }
            if i >= end {
                i = end - (i - end);
            }
        }
        #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
        {
            *slot = i.clamp(0, end.max(0)) as usize;
        }
    }
    (idx, [w0, w1, w2, w3])
}

/// Trilinear interpolation as ITK's `LinearInterpolateImageFunction` (3-D optimized path).
fn linear_at<T: Voxel>(image: &ArrayView3<T>, c: [f64; 3], n: [usize; 3]) -> f64 {
    let mut b0 = [0usize; 3];
    let mut b1 = [0usize; 3];
    let mut d = [0.0; 3];
    for a in 0..3 {
        let f = c[a].floor().max(0.0);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let b = (f as usize).min(n[a] - 1);
        #[allow(clippy::cast_precision_loss)]
        let dist = c[a] - b as f64;
        b0[a] = b;
        b1[a] = (b + 1).min(n[a] - 1);
        d[a] = if dist > 0.0 { dist } else { 0.0 };
    }
    let v = |z: usize, y: usize, x: usize| image[(z, y, x)].to_f64();
    let lerp = |a: f64, b: f64, t: f64| a + (b - a) * t;
    let x00 = lerp(v(b0[0], b0[1], b0[2]), v(b0[0], b0[1], b1[2]), d[2]);
    let x10 = lerp(v(b0[0], b1[1], b0[2]), v(b0[0], b1[1], b1[2]), d[2]);
    let xx0 = lerp(x00, x10, d[1]);
    let x01 = lerp(v(b1[0], b0[1], b0[2]), v(b1[0], b0[1], b1[2]), d[2]);
    let x11 = lerp(v(b1[0], b1[1], b0[2]), v(b1[0], b1[1], b1[2]), d[2]);
    let xx1 = lerp(x01, x11, d[1]);
    lerp(xx0, xx1, d[0])
}

/// Resamples `image` onto `grid` with `interpolator`, values cast back to the pixel type `T` as SimpleITK's
/// `ResampleImageFilter` with `SetOutputPixelType(image type)` does (0 outside the input).
///
/// Only `NearestNeighbor`, `Linear` and `BSpline` are implemented; other interpolators return `None`.
#[must_use]
pub fn resample_image<T: Voxel>(
    image: ArrayView3<T>,
    spacing: [f64; 3],
    grid: &ResampleGrid,
    interpolator: Interpolator,
) -> Option<Array3<T>> {
    let idx = axis_indices(grid, spacing);
    let dims = image.dim();
    let n = [dims.0, dims.1, dims.2];
    let [nz, ny, nx] = grid.shape;
    let mut out = Array3::<T>::from_elem((nz, ny, nx), T::from_f64_cast(0.0));
    match interpolator {
        Interpolator::NearestNeighbor | Interpolator::Linear => {
            out.axis_iter_mut(Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each(|(z, mut plane)| {
                    for ((y, x), o) in plane.indexed_iter_mut() {
                        let c = [idx[0][z], idx[1][y], idx[2][x]];
                        if !(0..3).all(|a| inside(c[a], n[a])) {
                            continue;
                        }
                        *o = if interpolator == Interpolator::Linear {
                            T::from_f64_cast(linear_at(&image, c, n))
                        } else {
                            image[(
                                nearest(c[0], n[0]),
                                nearest(c[1], n[1]),
                                nearest(c[2], n[2]),
                            )]
                        };
                    }
                });
        }
        Interpolator::BSpline => {
            // Supports per axis; the coefficients are needed only on the span they cover.
            let supports: Vec<Vec<([usize; 4], [f64; 4])>> = (0..3)
                .map(|a| idx[a].iter().map(|&c| bspline_support(c, n[a])).collect())
                .collect();
            let mut keep = [(0usize, 0usize); 3];
            for a in 0..3 {
                let lo = supports[a].iter().flat_map(|s| s.0).min().unwrap_or(0);
                let hi = supports[a].iter().flat_map(|s| s.0).max().unwrap_or(0);
                keep[a] = (lo, hi + 1);
            }
            // ITK order: x lines, then y, then z (each on full lines of the previous result).
            let full = image.mapv(Voxel::to_f64);
            let cx = prefilter_axis(&full, 2, keep[2]);
            drop(full);
            let cy = prefilter_axis(&cx, 1, keep[1]);
            drop(cx);
            let coef = prefilter_axis(&cy, 0, keep[0]);
            drop(cy);
            out.axis_iter_mut(Axis(0))
                .into_par_iter()
                .enumerate()
                .for_each(|(z, mut plane)| {
                    let (iz, wz) = &supports[0][z];
                    for ((y, x), o) in plane.indexed_iter_mut() {
                        let c = [idx[0][z], idx[1][y], idx[2][x]];
                        if !(0..3).all(|a| inside(c[a], n[a])) {
                            continue;
                        }
                        let (iy, wy) = &supports[1][y];
                        let (ix, wx) = &supports[2][x];
                        let mut acc = 0.0;
                        for (kz, &zz) in iz.iter().enumerate() {
                            for (ky, &yy) in iy.iter().enumerate() {
                                for (kx, &xx) in ix.iter().enumerate() {
                                    let w = 1.0 * wx[kx] * wy[ky] * wz[kz];
                                    acc +=
                                        w * coef[(zz - keep[0].0, yy - keep[1].0, xx - keep[2].0)];
                                }
                            }
                        }
                        *o = T::from_f64_cast(acc);
                    }
                });
        }
        _ => return None,
    }
    Some(out)
}
