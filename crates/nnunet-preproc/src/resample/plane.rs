//! The in-plane passes of the separable engine: x (the contiguous axis, `LANES` lines filtered side by side)
//! then y (rows of a plane filtered and evaluated as vectors), each "pad 12 → prefilter → 1…4 taps".
//!
//! References (read, not copied): scipy 1.17.1 `scipy/ndimage/_interpolation.py` (`zoom`,
//! `_prepad_for_spline_filter`), `scipy/ndimage/src/ni_interpolation.c` (`NI_ZoomShift`).
//!
//! ```text
//! plane_out[k1, k2] = Σ_b wy[k1][b] · Σ_c wx[k2][c] · C[iy[k1][b], ix[k2][c]]
//! ```

use ndarray::ArrayView2;

use super::axis::AxisPlan;
use super::config::Order;
use super::spline::{prefilter_lanes, prefilter_line, prefilter_rows, GAIN};

/// Lines of the contiguous axis filtered side by side in the x pass (4 independent AVX-512 chains).
pub(crate) const LANES: usize = 32;

/// Input sample types of the engine (`f32` volumes, `f64` intermediates).
pub(crate) trait Sample: Copy + Send + Sync + 'static {
    /// The value as f64.
    fn to_f64(self) -> f64;
    /// The x pass of [`resize_plane`] for this type (multiversioned).
    fn x_pass(
        plane: ArrayView2<'_, Self>,
        px: &AxisPlan,
        scale: f64,
        bufs: &mut Scratch,
        dst: &mut [f64],
        first_row: usize,
    );
}

impl Sample for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    fn x_pass(
        plane: ArrayView2<'_, f32>,
        px: &AxisPlan,
        scale: f64,
        bufs: &mut Scratch,
        dst: &mut [f64],
        first_row: usize,
    ) {
        x_pass_f32(plane, px, scale, bufs, dst, first_row);
    }
}

impl Sample for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    fn x_pass(
        plane: ArrayView2<'_, f64>,
        px: &AxisPlan,
        scale: f64,
        bufs: &mut Scratch,
        dst: &mut [f64],
        first_row: usize,
    ) {
        x_pass_f64(plane, px, scale, bufs, dst, first_row);
    }
}

/// Reusable buffers of one worker.
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    line: Vec<f64>,
    lanes: Vec<[f64; LANES]>,
    /// Row buffer of the y pass and the column blocks of the z pass.
    pub(crate) rows: Vec<f64>,
    /// Causal-init sums of the row prefilter.
    pub(crate) sum: Vec<f64>,
    /// One evaluated row of the z pass.
    pub(crate) acc: Vec<f64>,
}

/// The factor folded into samples written for a later cubic pass along `plan` (its prefilter gain).
#[inline]
pub(crate) fn gain_for(plan: &AxisPlan) -> f64 {
    if plan.order == Order::Cubic && !plan.is_identity() {
        GAIN
    } else {
        1.0
    }
}

/// Resamples one line `src` (any stride) along `plan` into `dst`, multiplying the results by `scale`.
#[inline(always)]
fn resample_line<'a, E: Sample>(
    src: impl ExactSizeIterator<Item = &'a E> + Clone,
    plan: &AxisPlan,
    line: &mut Vec<f64>,
    scale: f64,
    dst: &mut [f64],
) {
    line.clear();
    if plan.is_identity() {
        dst.iter_mut()
            .zip(src)
            .for_each(|(d, &s)| *d = s.to_f64() * scale);
        return;
    }
    match plan.order {
        Order::Cubic => {
            let pad = plan.pad();
            let first = src.clone().next().map_or(0.0, |&v| v.to_f64() * GAIN);
            let last = src.clone().last().map_or(0.0, |&v| v.to_f64() * GAIN);
            line.extend(std::iter::repeat_n(first, pad));
            line.extend(src.map(|&v| v.to_f64() * GAIN));
            line.extend(std::iter::repeat_n(last, pad));
            prefilter_line(line);
        }
        Order::Linear | Order::Nearest => line.extend(src.map(|&v| v.to_f64())),
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
    pub(crate) fn eval_rows(rows: &[f64], width: usize, idx: &[usize; 4], w: &[f64; 4], taps: usize, out: &mut [f64]) => eval_rows_impl;
}

/// Pads rows `[pad, pad + n)` of a `(n + 2·pad) × width` buffer with copies of its first and last row.
pub(crate) fn pad_rows(rows: &mut [f64], width: usize, pad: usize, n: usize) {
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
    /// [`x_pass_impl`] on `f32` planes for the best instruction set of the CPU.
    fn x_pass_f32(plane: ArrayView2<'_, f32>, px: &AxisPlan, scale: f64, bufs: &mut Scratch, dst: &mut [f64], first_row: usize) => x_pass_impl::<f32>;
}

super::simd::multiversion! {
    /// [`x_pass_impl`] on `f64` planes for the best instruction set of the CPU.
    fn x_pass_f64(plane: ArrayView2<'_, f64>, px: &AxisPlan, scale: f64, bufs: &mut Scratch, dst: &mut [f64], first_row: usize) => x_pass_impl::<f64>;
}

/// Resamples every row of `plane` along x with `px` into rows `first_row..` of `dst` (rows of `px.n_out`),
/// multiplied by `scale`. Cubic rows are filtered `LANES` at a time, lane-interleaved, so that the
/// recursions of different rows run in parallel vector lanes.
#[inline(always)]
fn x_pass_impl<E: Sample>(
    plane: ArrayView2<'_, E>,
    px: &AxisPlan,
    scale: f64,
    bufs: &mut Scratch,
    dst: &mut [f64],
    first_row: usize,
) {
    let (n1, n2, m2) = (plane.nrows(), plane.ncols(), px.n_out);
    if px.order != Order::Cubic || px.is_identity() || n2 == 0 {
        for (r, row) in plane.rows().into_iter().enumerate() {
            let d = &mut dst[(first_row + r) * m2..(first_row + r + 1) * m2];
            resample_line(row.iter(), px, &mut bufs.line, scale, d);
        }
        return;
    }
    let pad = px.pad();
    let lanes = &mut bufs.lanes;
    for r0 in (0..n1).step_by(LANES) {
        // every element is written below: only resize when the length changes
        if lanes.len() != n2 + 2 * pad {
            lanes.clear();
            lanes.resize(n2 + 2 * pad, [0.0; LANES]);
        }
        let rows: [_; LANES] = std::array::from_fn(|l| plane.row((r0 + l).min(n1 - 1)));
        let body = &mut lanes[pad..pad + n2];
        if rows.iter().all(|r| r.as_slice().is_some()) {
            let slices: [&[E]; LANES] =
                std::array::from_fn(|l| &rows[l].as_slice().unwrap_or_default()[..n2]);
            for (p, lane) in body.iter_mut().enumerate() {
                for l in 0..LANES {
                    lane[l] = slices[l][p].to_f64() * GAIN;
                }
            }
        } else {
            for (l, row) in rows.iter().enumerate() {
                body.iter_mut()
                    .zip(row.iter())
                    .for_each(|(lane, &v)| lane[l] = v.to_f64() * GAIN);
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
pub(crate) fn resize_plane<E: Sample>(
    plane: ArrayView2<'_, E>,
    py: &AxisPlan,
    px: &AxisPlan,
    scratch: &mut Scratch,
    out: &mut [f64],
) {
    let (n1, m2) = (plane.nrows(), px.n_out);
    if py.is_identity() {
        E::x_pass(plane, px, 1.0, scratch, out, 0);
        return;
    }
    let pad = if py.order == Order::Cubic {
        py.pad()
    } else {
        0
    };
    // rows [pad, pad + n1) come from the x pass, the others from pad_rows: no zeroing needed
    let mut rows = std::mem::take(&mut scratch.rows);
    if rows.len() != py.line_len() * m2 {
        rows.clear();
        rows.resize(py.line_len() * m2, 0.0);
    }
    E::x_pass(plane, px, gain_for(py), scratch, &mut rows, pad);
    if py.order == Order::Cubic {
        pad_rows(&mut rows, m2, pad, n1);
        prefilter_rows(&mut rows, m2, &mut scratch.sum);
    }
    for (k, dst) in out.chunks_exact_mut(m2).enumerate().take(py.n_out) {
        eval_rows(&rows, m2, &py.index[k], &py.weight[k], py.taps, dst);
    }
    scratch.rows = rows;
}
