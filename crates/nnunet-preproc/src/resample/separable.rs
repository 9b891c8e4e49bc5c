//! The separable resampling engine: 1-D passes along x, then y (per z-plane, fused), then z (per column
//! block), each "pad → prefilter → 1…4-tap evaluation", parallel with rayon, no per-voxel allocation.
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

use ndarray::parallel::prelude::*;
use ndarray::{ArrayView2, ArrayView3, ArrayViewMut2, Axis};
use rayon::prelude::*;

use super::axis::AxisPlan;
use super::config::Order;
use super::spline::{prefilter_lanes, prefilter_line, prefilter_rows, GAIN};

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

/// Reusable buffers of one worker.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    line: Vec<f64>,
    lanes: Vec<[f64; LANES]>,
    rows: Vec<f64>,
    sum: Vec<f64>,
}

/// Lines of the contiguous axis filtered side by side in the x pass.
const LANES: usize = 32;

/// The factor folded into samples written for a later cubic pass along `plan` (its prefilter gain).
#[inline]
fn gain_for(plan: &AxisPlan) -> f64 {
    if plan.order == Order::Cubic && !plan.is_identity() {
        GAIN
    } else {
        1.0
    }
}

/// Resamples one line `src` (any stride) along `plan` into `dst`, multiplying the results by `scale`.
fn resample_line<'a>(
    src: impl ExactSizeIterator<Item = &'a f32> + Clone,
    plan: &AxisPlan,
    line: &mut Vec<f64>,
    scale: f64,
    dst: &mut [f64],
) {
    line.clear();
    if plan.is_identity() {
        dst.iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = f64::from(s) * scale);
        return;
    }
    match plan.order {
        Order::Cubic => {
            let pad = plan.pad();
            let first = src.clone().next().map_or(0.0, |&v| f64::from(v) * GAIN);
            let last = src.clone().last().map_or(0.0, |&v| f64::from(v) * GAIN);
            line.extend(std::iter::repeat_n(first, pad));
            line.extend(src.map(|&v| f64::from(v) * GAIN));
            line.extend(std::iter::repeat_n(last, pad));
            prefilter_line(line);
        }
        Order::Linear | Order::Nearest => line.extend(src.map(|&v| f64::from(v))),
    }
    for (k, d) in dst.iter_mut().enumerate() {
        *d = plan.eval(line, k) * scale;
    }
}

/// `out_row = Σ_j w[j] · rows[idx[j]]` for row-interleaved lines of `width`.
#[inline(always)]
fn eval_rows_impl(
    rows: &[f64],
    width: usize,
    idx: &[usize; 4],
    w: &[f64; 4],
    taps: usize,
    out: &mut [f64],
) {
    let r0 = &rows[idx[0] * width..(idx[0] + 1) * width];
    match taps {
        1 => out.copy_from_slice(r0),
        2 => {
            let r1 = &rows[idx[1] * width..(idx[1] + 1) * width];
            for ((o, a), b) in out.iter_mut().zip(r0).zip(r1) {
                *o = w[0] * a + w[1] * b;
            }
        }
        _ => {
            let r1 = &rows[idx[1] * width..(idx[1] + 1) * width];
            let r2 = &rows[idx[2] * width..(idx[2] + 1) * width];
            let r3 = &rows[idx[3] * width..(idx[3] + 1) * width];
            for ((((o, a), b), c), d) in out.iter_mut().zip(r0).zip(r1).zip(r2).zip(r3) {
                *o = w[0] * a + w[1] * b + w[2] * c + w[3] * d;
            }
        }
    }
}

super::simd::multiversion! {
    /// [`eval_rows_impl`] for the best instruction set of the CPU.
    fn eval_rows(rows: &[f64], width: usize, idx: &[usize; 4], w: &[f64; 4], taps: usize, out: &mut [f64]) => eval_rows_impl;
}

/// Pads rows `[pad, pad + n)` of a `(n + 2·pad) × width` buffer with copies of its first and last row.
fn pad_rows(rows: &mut [f64], width: usize, pad: usize, n: usize) {
    if pad == 0 || n == 0 {
        return;
    }
    let (head, body) = rows.split_at_mut(pad * width);
    let first = &body[..width];
    for r in head.chunks_exact_mut(width) {
        r.copy_from_slice(first);
    }
    let (body, tail) = body.split_at_mut(n * width);
    let last = &body[(n - 1) * width..];
    for r in tail.chunks_exact_mut(width) {
        r.copy_from_slice(last);
    }
}

super::simd::multiversion! {
    /// [`x_pass_impl`] for the best instruction set of the CPU.
    fn x_pass(
        plane: ArrayView2<'_, f32>,
        px: &AxisPlan,
        scale: f64,
        line: &mut Vec<f64>,
        lanes: &mut Vec<[f64; LANES]>,
        dst: &mut [f64],
        first_row: usize,
    ) => x_pass_impl;
}

/// Resamples every row of `plane` along x with `px` into rows `first_row..` of `dst` (rows of `px.n_out`),
/// multiplied by `scale`. Cubic rows are filtered `LANES` at a time, lane-interleaved.
#[inline(always)]
#[allow(clippy::inline_always)]
fn x_pass_impl(
    plane: ArrayView2<'_, f32>,
    px: &AxisPlan,
    scale: f64,
    line: &mut Vec<f64>,
    lanes: &mut Vec<[f64; LANES]>,
    dst: &mut [f64],
    first_row: usize,
) {
    let (n1, n2, m2) = (plane.nrows(), plane.ncols(), px.n_out);
    if px.order != Order::Cubic || px.is_identity() || n2 == 0 {
        for (r, row) in plane.rows().into_iter().enumerate() {
            let d = &mut dst[(first_row + r) * m2..(first_row + r + 1) * m2];
            resample_line(row.iter(), px, line, scale, d);
        }
        return;
    }
    let pad = px.pad();
    for r0 in (0..n1).step_by(LANES) {
        // every element is written below: only resize when the length changes
        if lanes.len() != n2 + 2 * pad {
            lanes.clear();
            lanes.resize(n2 + 2 * pad, [0.0; LANES]);
        }
        let rows: [_; LANES] = std::array::from_fn(|l| plane.row((r0 + l).min(n1 - 1)));
        let body = &mut lanes[pad..pad + n2];
        if rows.iter().all(|r| r.as_slice().is_some()) {
            let slices: [&[f32]; LANES] =
                std::array::from_fn(|l| &rows[l].as_slice().unwrap_or_default()[..n2]);
            for (p, lane) in body.iter_mut().enumerate() {
                for l in 0..LANES {
                    lane[l] = f64::from(slices[l][p]) * GAIN;
                }
            }
        } else {
            for (l, row) in rows.iter().enumerate() {
                body.iter_mut()
                    .zip(row.iter())
                    .for_each(|(lane, &v)| lane[l] = f64::from(v) * GAIN);
            }
        }
        let (first, last) = (lanes[pad], lanes[pad + n2 - 1]);
        for p in 0..pad {
            lanes[p] = first;
            lanes[pad + n2 + p] = last;
        }
        prefilter_lanes(lanes);
        let live = LANES.min(n1 - r0);
        for k in 0..m2 {
            let (idx, w) = (&px.index[k], &px.weight[k]);
            let (a, b, c, d) = (
                &lanes[idx[0]],
                &lanes[idx[1]],
                &lanes[idx[2]],
                &lanes[idx[3]],
            );
            let mut v = [0.0f64; LANES];
            for l in 0..LANES {
                v[l] = (w[0] * a[l] + w[1] * b[l] + w[2] * c[l] + w[3] * d[l]) * scale;
            }
            for (l, &v) in v.iter().enumerate().take(live) {
                dst[(first_row + r0 + l) * m2 + k] = v;
            }
        }
    }
}

/// Resizes one plane `(n1, n2)` (any strides) to `(py.n_out, px.n_out)` f64 row-major in `out`.
pub(crate) fn resize_plane(
    plane: ArrayView2<'_, f32>,
    py: &AxisPlan,
    px: &AxisPlan,
    scratch: &mut Scratch,
    out: &mut [f64],
) {
    let (n1, m2) = (plane.nrows(), px.n_out);
    let Scratch {
        line,
        lanes,
        rows,
        sum,
    } = scratch;
    if py.is_identity() {
        x_pass(plane, px, 1.0, line, lanes, out, 0);
        return;
    }
    let pad = if py.order == Order::Cubic {
        py.pad()
    } else {
        0
    };
    // rows [pad, pad + n1) come from the x pass, the others from pad_rows: no zeroing needed
    if rows.len() != py.line_len() * m2 {
        rows.clear();
        rows.resize(py.line_len() * m2, 0.0);
    }
    x_pass(plane, px, gain_for(py), line, lanes, rows, pad);
    if py.order == Order::Cubic {
        pad_rows(rows, m2, pad, n1);
        prefilter_rows(rows, m2, sum);
    }
    for (k, dst) in out.chunks_exact_mut(m2).enumerate().take(py.n_out) {
        eval_rows(rows, m2, &py.index[k], &py.weight[k], py.taps, dst);
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
/// (`pz.n_out` rows), clipping to `range` and converting on the way.
pub(crate) fn resample_axis0<T: Store>(
    input: &[f64],
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
    let cubic = pz.order == Order::Cubic && !pz.is_identity();
    out2.axis_chunks_iter_mut(Axis(1), COLUMN_BLOCK)
        .into_par_iter()
        .enumerate()
        .for_each_init(Scratch::default, |scratch, (b, mut tile)| {
            let c0 = b * COLUMN_BLOCK;
            let width = tile.ncols();
            let mut acc = vec![0.0f64; width];
            if pz.is_identity() {
                for (k, mut dst) in tile.rows_mut().into_iter().enumerate() {
                    let src = &input[k * plane + c0..k * plane + c0 + width];
                    store_row(src, range, &mut dst);
                }
                return;
            }
            let rows: &[f64] = if cubic {
                let pad = pz.pad();
                let buf = &mut scratch.rows;
                if buf.len() != pz.line_len() * width {
                    buf.clear();
                    buf.resize(pz.line_len() * width, 0.0);
                }
                for r in 0..n0 {
                    let src = &input[r * plane + c0..r * plane + c0 + width];
                    let dst = &mut buf[(r + pad) * width..(r + pad + 1) * width];
                    dst.iter_mut().zip(src).for_each(|(d, &s)| *d = s * GAIN);
                }
                pad_rows(buf, width, pad, n0);
                prefilter_rows(buf, width, &mut scratch.sum);
                buf
            } else {
                // gather the block so that the evaluation reads contiguous rows of `width`
                let buf = &mut scratch.rows;
                buf.clear();
                for r in 0..n0 {
                    buf.extend_from_slice(&input[r * plane + c0..r * plane + c0 + width]);
                }
                buf
            };
            for (k, mut dst) in tile.rows_mut().into_iter().enumerate() {
                eval_rows(rows, width, &pz.index[k], &pz.weight[k], pz.taps, &mut acc);
                store_row(&acc, range, &mut dst);
            }
        });
}

/// Resamples a 3-D volume with one plan per axis into `out` (row-major, `[pz.n_out, py.n_out, px.n_out]`),
/// clipping to `range`: the x and y passes per z-plane (parallel over planes), then the z pass (parallel
/// over column blocks). `inter` is scratch space for the `(n_z, m_y, m_x)` f64 intermediate, reused across calls.
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
    // every element is overwritten: only (re)allocate when the size changes
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
