//! The separable resampling engine: the in-plane passes of [`super::plane`] (per z-plane) and the pass along z
//! (per column block), in whichever order costs less, each "pad → prefilter → 1…4-tap evaluation", parallel with rayon, no per-voxel allocation.
//!
//! Resizing with an axis-aligned zoom is a product of 1-D operators, one per axis: scipy's 3-D
//! `spline_filter` (one 1-D filter per axis) followed by the 4×4×4-tap evaluation equals, up to float
//! rounding, the three 1-D "prefilter + 4-tap" passes in any order, and the 12-voxel edge padding commutes
//! with the passes along the other axes. References (read, not copied): scipy 1.17.1
//! `scipy/ndimage/_interpolation.py` (`zoom`, `spline_filter`), `scipy/ndimage/src/ni_interpolation.c`
//! (`NI_ZoomShift`); skimage 0.26 `skimage/transform/_warps.py` (`resize`, `_clip_warp_output`).
//!
//! ```text
//! out[k0,k1,k2] = Σ_a Σ_b Σ_c wz[k0][a] · wy[k1][b] · wx[k2][c] · C[iz[k0][a], iy[k1][b], ix[k2][c]]
//!              = Z( Y( X(input) ) )      X, Y, Z: 1-D passes (C: prefiltered, edge-padded coefficients)
//! ```

use std::borrow::Cow;

use ndarray::parallel::prelude::*;
use ndarray::{ArrayView2, ArrayView3, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::axis::AxisPlan;
use super::config::Order;
use super::plane::{eval_rows, pad_rows, resize_plane, Sample, Scratch};
use super::spline::{prefilter_rows, GAIN};

/// Columns per work item of the pass along axis 0.
const COLUMN_BLOCK: usize = 256;

/// A scalar type the engine can write (`f32` output volumes, `f64` label scores).
pub(crate) trait Store: Copy + Send + Sync + Default {
    /// Converts the f64 result.
    fn store(v: f64) -> Self;
}

impl Store for f32 {
    #[inline]
    fn store(v: f64) -> Self {
        v as f32
    }
}

impl Store for f64 {
    #[inline]
    fn store(v: f64) -> Self {
        v
    }
}

/// `np.clip(v, lo, hi)` that lets NaN through (and never panics).
#[inline]
pub(crate) fn clip(v: f64, range: Option<(f64, f64)>) -> f64 {
    match range {
        Some((lo, hi)) => {
            if v < lo {
                lo
            } else if v > hi {
                hi
            } else {
                v
            }
        }
        None => v,
    }
}

/// NaN-ignoring `[min, max]` of a contiguous slice, 8 independent accumulators (vectorised).
fn slice_range(values: &[f32]) -> (f32, f32) {
    let mut lo = [f32::INFINITY; 8];
    let mut hi = [f32::NEG_INFINITY; 8];
    let mut chunks = values.chunks_exact(8);
    for c in &mut chunks {
        for l in 0..8 {
            lo[l] = lo[l].min(c[l]);
            hi[l] = hi[l].max(c[l]);
        }
    }
    for &v in chunks.remainder() {
        lo[0] = lo[0].min(v);
        hi[0] = hi[0].max(v);
    }
    (
        lo.iter().copied().fold(f32::INFINITY, f32::min),
        hi.iter().copied().fold(f32::NEG_INFINITY, f32::max),
    )
}

/// NaN-ignoring `[min, max]` of a volume as f64 (skimage's clip range); `(NaN, NaN)` when empty or all NaN.
#[must_use]
pub(crate) fn value_range<D: ndarray::Dimension>(
    values: ndarray::ArrayView<'_, f32, D>,
) -> (f64, f64) {
    let (lo, hi) = match values.as_slice_memory_order() {
        Some(s) => s.par_chunks(1 << 16).map(slice_range).reduce(
            || (f32::INFINITY, f32::NEG_INFINITY),
            |a, b| {
                (
                    if b.0 < a.0 { b.0 } else { a.0 },
                    if b.1 > a.1 { b.1 } else { a.1 },
                )
            },
        ),
        None => {
            let owned: Vec<f32> = values.iter().copied().collect();
            slice_range(&owned)
        }
    };
    if lo > hi {
        (f64::NAN, f64::NAN)
    } else {
        (f64::from(lo), f64::from(hi))
    }
}

/// Clips and converts `src` into `dst` (through a slice when `dst` is contiguous, as the rows of a column
/// block are).
#[inline]
fn store_row<T: Store>(
    src: &[f64],
    range: Option<(f64, f64)>,
    dst: &mut ndarray::ArrayViewMut1<'_, T>,
) {
    match dst.as_slice_mut() {
        Some(d) => d
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = T::store(clip(s, range))),
        None => dst
            .iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = T::store(clip(s, range))),
    }
}

/// Resamples `input` (rows along axis 0, `plane` values per row, row-major) along axis 0 with `pz` into `out`
/// (`pz.n_out` rows), clipping to `range` and converting on the way. Parallel over blocks of columns.
pub(crate) fn resample_axis0<S: Sample, T: Store>(
    input: &[S],
    plane: usize,
    pz: &AxisPlan,
    range: Option<(f64, f64)>,
    out: &mut [T],
) {
    let n0 = pz.n_in;
    if plane == 0 || pz.n_out == 0 {
        return;
    }
    let Ok(mut out2) = ArrayViewMut2::from_shape((pz.n_out, plane), out) else {
        return;
    };
    let (cubic, pad) = if pz.order == Order::Cubic && !pz.is_identity() {
        (true, pz.pad())
    } else {
        (false, 0)
    };
    let scale = if cubic { GAIN } else { 1.0 };
    out2.axis_chunks_iter_mut(Axis(1), COLUMN_BLOCK)
        .into_par_iter()
        .enumerate()
        .for_each_init(Scratch::default, |scratch, (b, mut tile)| {
            let c0 = b * COLUMN_BLOCK;
            let width = tile.ncols();
            // gather the block (scaled by the prefilter gain) so that every row of `width` is contiguous
            let rows = &mut scratch.rows;
            if rows.len() != (n0 + 2 * pad) * width {
                rows.clear();
                rows.resize((n0 + 2 * pad) * width, 0.0);
            }
            for r in 0..n0 {
                let src = &input[r * plane + c0..r * plane + c0 + width];
                let dst = &mut rows[(r + pad) * width..(r + pad + 1) * width];
                dst.iter_mut()
                    .zip(src)
                    .for_each(|(d, &s)| *d = s.to_f64() * scale);
            }
            if pz.is_identity() {
                for (k, mut dst) in tile.rows_mut().into_iter().enumerate() {
                    store_row(&rows[k * width..(k + 1) * width], range, &mut dst);
                }
                return;
            }
            if cubic {
                pad_rows(rows, width, pad, n0);
                prefilter_rows(rows, width, &mut scratch.sum);
            }
            let mut acc = std::mem::take(&mut scratch.acc);
            acc.resize(width, 0.0);
            for (k, mut dst) in tile.rows_mut().into_iter().enumerate() {
                eval_rows(
                    &scratch.rows,
                    width,
                    &pz.index[k],
                    &pz.weight[k],
                    pz.taps,
                    &mut acc,
                );
                store_row(&acc, range, &mut dst);
            }
            scratch.acc = acc;
        });
}

/// Relative cost of the two pass orders: `(in-plane first, z first)`, in voxel-passes.
fn pass_costs(n: [usize; 3], m: [usize; 3]) -> (usize, usize) {
    let plane = |a: usize, b: usize| a * b;
    let in_plane = plane(n[1], n[2]) + plane(n[1], m[2]) + plane(m[1], m[2]);
    let xy_first = n[0] * in_plane + (n[0] + m[0]) * plane(m[1], m[2]);
    let z_first = (n[0] + m[0]) * plane(n[1], n[2]) + m[0] * in_plane;
    (xy_first, z_first)
}

/// Resamples a 3-D volume with one plan per axis into `out` (row-major, `[pz.n_out, py.n_out, px.n_out]`),
/// clipping to `range`. The in-plane passes run per z-plane (parallel over planes), the z pass per column
/// block (parallel over blocks); the z pass goes first when that touches fewer voxels (strong z
/// down-sampling, in-plane up-sampling — the export direction). `inter` is scratch space for the f64
/// intermediate, reused across calls.
pub(crate) fn resample_volume<T: Store>(
    input: ArrayView3<'_, f32>,
    plans: [&AxisPlan; 3],
    range: Option<(f64, f64)>,
    inter: &mut Vec<f64>,
    out: &mut [T],
) {
    let [pz, py, px] = plans;
    let plane = py.n_out * px.n_out;
    if plane == 0 || pz.n_out == 0 {
        return;
    }
    if pz.is_identity() {
        out.par_chunks_mut(plane)
            .zip(input.axis_iter(Axis(0)).into_par_iter())
            .for_each_init(
                || (Scratch::default(), vec![0.0f64; plane]),
                |(scratch, buf), (dst, src)| {
                    resize_plane(src, py, px, scratch, buf);
                    dst.iter_mut()
                        .zip(buf.iter())
                        .for_each(|(d, &s)| *d = T::store(clip(s, range)));
                },
            );
        return;
    }
    let (n, m) = ([pz.n_in, py.n_in, px.n_in], [pz.n_out, py.n_out, px.n_out]);
    let (xy_first, z_first) = pass_costs(n, m);
    if z_first < xy_first {
        let contiguous: Cow<'_, [f32]> = match input.as_slice() {
            Some(s) => Cow::Borrowed(s),
            None => Cow::Owned(input.iter().copied().collect()),
        };
        let in_plane = n[1] * n[2];
        // every element is overwritten: only (re)allocate when the size changes
        if inter.len() != m[0] * in_plane {
            inter.clear();
            inter.resize(m[0] * in_plane, 0.0);
        }
        resample_axis0(&contiguous, in_plane, pz, None, inter);
        out.par_chunks_mut(plane)
            .zip(inter.par_chunks(in_plane))
            .for_each_init(
                || (Scratch::default(), vec![0.0f64; plane]),
                |(scratch, buf), (dst, src)| {
                    if let Ok(src) = ArrayView2::from_shape((n[1], n[2]), src) {
                        resize_plane(src, py, px, scratch, buf);
                    }
                    dst.iter_mut()
                        .zip(buf.iter())
                        .for_each(|(d, &s)| *d = T::store(clip(s, range)));
                },
            );
        return;
    }
    if inter.len() != pz.n_in * plane {
        inter.clear();
        inter.resize(pz.n_in * plane, 0.0);
    }
    inter
        .par_chunks_mut(plane)
        .zip(input.axis_iter(Axis(0)).into_par_iter())
        .for_each_init(Scratch::default, |scratch, (dst, src)| {
            resize_plane(src, py, px, scratch, dst)
        });
    resample_axis0(inter, plane, pz, range, out);
}
