//! CPU kernels of the depthwise (groups = C) 3-D convolution, its input gradient (= the transposed
//! convolution) and its weight gradient, over plain slices (NCDHW, C-order), parallel over (n, c) planes.
//!
//! Reference: PyTorch `torch.nn.functional.conv3d(groups=C)` / `conv_transpose3d(groups=C)` semantics
//! (padding `p = k/2`); design after `reference/rust-notes.md` §3: every (n, c) plane is copied once into a
//! zero-padded scratch plane, then each output row is a register-blocked sum of `k²` shifted source rows
//! with `k` taps each (no bounds tests in the inner loop). One correlation kernel covers all passes:
//!
//! ```text
//! strided correlation (forward, stride s):  y[o] = b + Σ_t w[t] · x[o·s + t − p]          (per axis, t < k)
//! input gradient / transposed forward:      x̄[i] = Σ_{o,t : i = o·s + t − p} w[t] · ȳ[o]
//!                                                = Σ_t' w[k−1−t'] · u[i + t' − (k−1−p)],  u = ȳ with s−1 zeros
//!                                                  inserted between samples (a stride-1 correlation)
//! weight gradient:                           w̄[t] = Σ_o ȳ[o] · x[o·s + t − p]
//! ```
//!
//! For stride 2 the forward and weight-gradient planes store each padded row de-interleaved (even columns,
//! then odd columns), so that `x[2·o + t]` is a contiguous run in `o` for every tap `t`.

use rayon::prelude::*;

use super::simd::{multiversion, MulAdd};
use super::storage::{zeroed, Dims5};

/// Output rows are computed in chunks of at most this many columns; scratch rows are rounded up to it.
const MAX_BLOCK: usize = 64;

/// Output length of a strided correlation along one axis: `⌊(len + 2p − k)/s⌋ + 1` (PyTorch `Conv3d`).
#[must_use]
pub(crate) fn conv_out_len(len: usize, k: usize, stride: usize) -> usize {
    (len + 2 * (k / 2) - k) / stride + 1
}

/// Output length of the transposed convolution along one axis: `(len − 1)·s − 2p + k` (PyTorch
/// `ConvTranspose3d` with `output_padding = 0`).
#[must_use]
pub(crate) fn conv_transpose_out_len(len: usize, k: usize, stride: usize) -> usize {
    (len - 1) * stride + k - 2 * (k / 2)
}

fn round_up(v: usize, m: usize) -> usize {
    v.div_ceil(m) * m
}

/// Where the voxels of a source plane go in the zero-padded scratch plane, and how the scratch plane is
/// traversed to produce one output plane.
#[derive(Debug, Clone)]
struct Corr {
    /// Kernel size (odd).
    k: usize,
    /// Row selection stride along D and H (1 or 2); along W it is folded into `offs`.
    stride: usize,
    /// Output plane extent `(D, H, W)`.
    out: [usize; 3],
    /// Source plane extent `(D, H, W)`.
    src: [usize; 3],
    /// Padded rows along D and H.
    dp: usize,
    hp: usize,
    /// Floats per padded row.
    row: usize,
    /// `Some(half)` when rows are stored de-interleaved (even columns at `0..half`, odd at `half..`).
    half: Option<usize>,
    /// Source index `i` lands at padded index `off + up·i` on every axis.
    off: usize,
    up: usize,
    /// Column offset of tap `t` inside a padded row.
    offs: Vec<usize>,
}

impl Corr {
    /// Geometry of the strided correlation `y[o] = Σ_t w[t] x[o·s + t − p]` of a `src` plane.
    fn gather(src: [usize; 3], out: [usize; 3], k: usize, stride: usize) -> Self {
        Self::build(src, out, k, stride, k / 2, 1)
    }

    /// Geometry of the stride-1 correlation of `src` with `up − 1` zeros inserted between samples and
    /// `k − 1 − p` zeros in front (input gradient of a stride-`up` convolution).
    fn scatter(src: [usize; 3], out: [usize; 3], k: usize, up: usize) -> Self {
        Self::build(src, out, k, 1, k - 1 - k / 2, up)
    }

    fn build(
        src: [usize; 3],
        out: [usize; 3],
        k: usize,
        stride: usize,
        off: usize,
        up: usize,
    ) -> Self {
        let extent = |axis: usize| {
            let need_out = (out[axis] - 1) * stride + k;
            let need_src = off + up * (src[axis] - 1) + 1;
            need_out.max(need_src)
        };
        let wout_r = round_up(out[2], MAX_BLOCK);
        let (row, half, offs) = if stride == 1 {
            let row = (wout_r + k - 1).max(extent(2));
            (row, None, (0..k).collect())
        } else {
            let half = (wout_r + (k - 1) / 2).max(extent(2).div_ceil(2));
            let offs = (0..k).map(|t| (t % 2) * half + t / 2).collect();
            (2 * half, Some(half), offs)
        };
        Self {
            k,
            stride,
            out,
            src,
            dp: extent(0),
            hp: extent(1),
            row,
            half,
            off,
            up,
            offs,
        }
    }

    fn plane_len(&self) -> usize {
        self.dp * self.hp * self.row
    }

    /// Copies the source plane into `plane`, zero-padded. `plane` must be empty or have been filled with
    /// this same geometry before: the positions written depend only on the geometry, so the padding is
    /// still zero then and only the source positions are rewritten.
    fn fill(&self, src: &[f32], plane: &mut Vec<f32>) {
        if plane.len() != self.plane_len() {
            plane.clear();
            plane.resize(self.plane_len(), 0.0);
        }
        let [sd, sh, sw] = self.src;
        for d in 0..sd {
            for h in 0..sh {
                let pd = self.off + self.up * d;
                let ph = self.off + self.up * h;
                let base = (pd * self.hp + ph) * self.row;
                let srow = &src[(d * sh + h) * sw..][..sw];
                match (self.half, self.up) {
                    (None, 1) => plane[base + self.off..][..sw].copy_from_slice(srow),
                    (None, up) => {
                        for (w, &v) in srow.iter().enumerate() {
                            plane[base + self.off + up * w] = v;
                        }
                    }
                    (Some(half), up) => {
                        for (w, &v) in srow.iter().enumerate() {
                            let pw = self.off + up * w;
                            plane[base + (pw % 2) * half + pw / 2] = v;
                        }
                    }
                }
            }
        }
    }
}

/// Chunk width for an output row of `wout` columns on a CPU with `lanes`-wide vectors: the smallest of
/// `lanes·{1, 2, 4}` covering the row (at most four vector accumulators).
fn block_for(wout: usize, lanes: usize) -> usize {
    let mut b = lanes;
    while b < wout && b < 4 * lanes {
        b *= 2;
    }
    b.min(MAX_BLOCK)
}

/// `out = bias + Σ_{td,th,t} w[td,th,t] · plane[row(od·s+td, oh·s+th) + offs[t] + ow]` for one plane.
///
/// `R` output rows (consecutive `oh`) are computed together: `R·B/lanes` independent accumulator chains hide
/// the FMA latency, and the weight broadcast is shared.
#[inline(always)]
fn corr_rows<M: MulAdd, const B: usize, const R: usize>(
    g: &Corr,
    plane: &[f32],
    w: &[f32],
    bias: f32,
    out: &mut [f32],
) {
    let k = g.k;
    let [dout, hout, wout] = g.out;
    let s = g.stride;
    let rstep = s * g.row;
    if g.up == 2 {
        // zero-inserted source: only every other padded row along D and H holds data
        for od in 0..dout {
            for oh in 0..hout {
                corr_row_sparse::<M, B>(g, plane, w, bias, out, od, oh);
            }
        }
        return;
    }
    for od in 0..dout {
        let mut oh = 0;
        while oh < hout {
            if oh + R > hout {
                // tail rows one at a time
                corr_row_block::<M, B, 1>(g, plane, w, bias, out, od, oh, wout, k, s, rstep);
                oh += 1;
                continue;
            }
            corr_row_block::<M, B, R>(g, plane, w, bias, out, od, oh, wout, k, s, rstep);
            oh += R;
        }
    }
}

/// One output row of a stride-1 correlation over a zero-inserted plane (`g.up == 2`): padded rows `pd` with
/// `pd − off` odd are all zeros and are skipped (4× fewer taps than the dense loop).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn corr_row_sparse<M: MulAdd, const B: usize>(
    g: &Corr,
    plane: &[f32],
    w: &[f32],
    bias: f32,
    out: &mut [f32],
    od: usize,
    oh: usize,
) {
    let k = g.k;
    let [_, hout, wout] = g.out;
    let mut j0 = 0;
    while j0 < wout {
        let mut acc = [bias; B];
        // padded rows pd = od + td and ph = oh + th that hold data
        for pd in ((od + data_parity(od, g.off))..od + k).step_by(2) {
            for ph in ((oh + data_parity(oh, g.off))..oh + k).step_by(2) {
                let base = (pd * g.hp + ph) * g.row + j0;
                let wrow = &w[((pd - od) * k + ph - oh) * k..][..k];
                for (&wv, &off) in wrow.iter().zip(&g.offs) {
                    let src: &[f32; B] = plane[base + off..][..B].try_into().unwrap();
                    for l in 0..B {
                        acc[l] = M::mul_add(wv, src[l], acc[l]);
                    }
                }
            }
        }
        let n = (wout - j0).min(B);
        out[(od * hout + oh) * wout + j0..][..n].copy_from_slice(&acc[..n]);
        j0 += B;
    }
}

/// The first tap `t ∈ {0, 1}` for which padded row `o + t` has the parity of `off` (a data row).
fn data_parity(o: usize, off: usize) -> usize {
    (o + off) % 2
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn corr_row_block<M: MulAdd, const B: usize, const R: usize>(
    g: &Corr,
    plane: &[f32],
    w: &[f32],
    bias: f32,
    out: &mut [f32],
    od: usize,
    oh: usize,
    wout: usize,
    k: usize,
    s: usize,
    rstep: usize,
) {
    let hout = g.out[1];
    let mut j0 = 0;
    while j0 < wout {
        let mut acc = [[bias; B]; R];
        for td in 0..k {
            for th in 0..k {
                let base = ((od * s + td) * g.hp + oh * s + th) * g.row + j0;
                let wrow = &w[(td * k + th) * k..][..k];
                for (&wv, &off) in wrow.iter().zip(&g.offs) {
                    for (r, a) in acc.iter_mut().enumerate() {
                        let src: &[f32; B] =
                            plane[base + r * rstep + off..][..B].try_into().unwrap();
                        for l in 0..B {
                            a[l] = M::mul_add(wv, src[l], a[l]);
                        }
                    }
                }
            }
        }
        let n = (wout - j0).min(B);
        for (r, a) in acc.iter().enumerate() {
            out[(od * hout + oh + r) * wout + j0..][..n].copy_from_slice(&a[..n]);
        }
        j0 += B;
    }
}

#[inline(always)]
fn corr_plane_impl<M: MulAdd, const LANES: usize>(
    g: &Corr,
    plane: &[f32],
    w: &[f32],
    bias: f32,
    out: &mut [f32],
) {
    match block_for(g.out[2], LANES) {
        4 => corr_rows::<M, 4, 2>(g, plane, w, bias, out),
        8 => corr_rows::<M, 8, 2>(g, plane, w, bias, out),
        16 => corr_rows::<M, 16, 2>(g, plane, w, bias, out),
        32 => corr_rows::<M, 32, 2>(g, plane, w, bias, out),
        _ => corr_rows::<M, 64, 2>(g, plane, w, bias, out),
    }
}

multiversion! {
    fn corr_plane(g: &Corr, plane: &[f32], w: &[f32], bias: f32, out: &mut [f32]) => corr_plane_impl;
}

/// `gw[td,th,t] += Σ_{od,oh,ow} gy[od,oh,ow] · plane[row(od·s+td, oh·s+th) + offs[t] + ow]`; `gy` rows are
/// zero-padded to a multiple of [`MAX_BLOCK`].
///
/// The output depth `od` is the outer loop, so that the `k` padded depth slices it reads and its `gy`
/// slice stay in cache while all `k²` row pairs are accumulated; taps are accumulated in registers
/// (`G` at a time) and flushed to f64 once per `(od, td, th)`.
#[inline(always)]
fn wgrad_rows<M: MulAdd, const B: usize, const G: usize>(
    g: &Corr,
    plane: &[f32],
    gy: &[f32],
    gw: &mut [f64],
) {
    let k = g.k;
    let [dout, hout, wout] = g.out;
    let grow = round_up(wout, MAX_BLOCK);
    let s = g.stride;
    for od in 0..dout {
        for td in 0..k {
            for th in 0..k {
                for t0 in (0..k).step_by(G) {
                    let taps: &[usize; G] = g.offs[t0..t0 + G].try_into().unwrap();
                    let mut acc = [[0.0_f32; B]; G];
                    for oh in 0..hout {
                        let gbase = (od * hout + oh) * grow;
                        let base = ((od * s + td) * g.hp + oh * s + th) * g.row;
                        let mut j0 = 0;
                        while j0 < wout {
                            let gch: &[f32; B] = gy[gbase + j0..][..B].try_into().unwrap();
                            for t in 0..G {
                                let src: &[f32; B] =
                                    plane[base + taps[t] + j0..][..B].try_into().unwrap();
                                for l in 0..B {
                                    acc[t][l] = M::mul_add(gch[l], src[l], acc[t][l]);
                                }
                            }
                            j0 += B;
                        }
                    }
                    let out = &mut gw[(td * k + th) * k + t0..][..G];
                    for (o, a) in out.iter_mut().zip(&acc) {
                        *o += a.iter().map(|&v| f64::from(v)).sum::<f64>();
                    }
                }
            }
        }
    }
}

/// `wgrad_rows` with the tap-group size `G` a compile-time constant dividing `k` (so that the `G`
/// accumulators live in registers).
#[inline(always)]
fn wgrad_rows_k<M: MulAdd, const B: usize>(g: &Corr, plane: &[f32], gy: &[f32], gw: &mut [f64]) {
    match g.k {
        3 => wgrad_rows::<M, B, 3>(g, plane, gy, gw),
        5 => wgrad_rows::<M, B, 5>(g, plane, gy, gw),
        7 => wgrad_rows::<M, B, 7>(g, plane, gy, gw),
        k if k % 4 == 0 => wgrad_rows::<M, B, 4>(g, plane, gy, gw),
        k if k % 3 == 0 => wgrad_rows::<M, B, 3>(g, plane, gy, gw),
        _ => wgrad_rows::<M, B, 1>(g, plane, gy, gw),
    }
}

#[inline(always)]
fn wgrad_plane_impl<M: MulAdd, const LANES: usize>(
    g: &Corr,
    plane: &[f32],
    gy: &[f32],
    gw: &mut [f64],
) {
    match LANES {
        4 => wgrad_rows_k::<M, 8>(g, plane, gy, gw),
        8 => wgrad_rows_k::<M, 16>(g, plane, gy, gw),
        _ => wgrad_rows_k::<M, 16>(g, plane, gy, gw),
    }
}

multiversion! {
    fn wgrad_plane(g: &Corr, plane: &[f32], gy: &[f32], gw: &mut [f64]) => wgrad_plane_impl;
}

fn spatial(d: Dims5) -> [usize; 3] {
    [d[2], d[3], d[4]]
}

/// Runs `g` over every (n, c) plane of `src` (shape `src_dims`) with the per-channel kernels `w` (`C·k³`,
/// already flipped if needed) and per-channel `bias`, writing planes of `g.out`.
fn correlate(src: &[f32], src_dims: Dims5, g: &Corr, w: &[f32], bias: Option<&[f32]>) -> Vec<f32> {
    let [n, c, ..] = src_dims;
    let src_plane: usize = src_dims[2..].iter().product();
    let out_plane: usize = g.out.iter().product();
    let k3 = g.k * g.k * g.k;
    let mut out = zeroed(n * c * out_plane);
    if out_plane == 0 {
        return out;
    }
    out.par_chunks_mut(out_plane)
        .enumerate()
        .for_each_init(Vec::new, |plane, (nc, o)| {
            let ch = nc % c;
            g.fill(&src[nc * src_plane..][..src_plane], plane);
            let b = bias.map_or(0.0, |b| b[ch]);
            corr_plane(g, plane, &w[ch * k3..][..k3], b, o);
        });
    out
}

/// Depthwise 3-D convolution (PyTorch `conv3d(x, w, b, stride, padding = k/2, groups = C)`).
///
/// `x`: `dims` (NCDHW); `w`: `C·k³`; `bias`: `C`. Returns the output and its shape.
#[must_use]
pub(crate) fn forward(
    x: &[f32],
    dims: Dims5,
    w: &[f32],
    k: usize,
    bias: Option<&[f32]>,
    stride: usize,
) -> (Vec<f32>, Dims5) {
    let out = spatial(dims).map(|l| conv_out_len(l, k, stride));
    let g = Corr::gather(spatial(dims), out, k, stride);
    let y = correlate(x, dims, &g, w, bias);
    (y, [dims[0], dims[1], out[0], out[1], out[2]])
}

/// Input gradient of [`forward`] (= the depthwise transposed convolution of `gy` when `in_spatial` is the
/// transposed output size): `gy` of shape `gy_dims`, result of shape `(N, C, in_spatial)`.
#[must_use]
pub(crate) fn input_grad(
    gy: &[f32],
    gy_dims: Dims5,
    w: &[f32],
    k: usize,
    stride: usize,
    in_spatial: [usize; 3],
    bias: Option<&[f32]>,
) -> (Vec<f32>, Dims5) {
    let k3 = k * k * k;
    let flipped: Vec<f32> = w
        .chunks_exact(k3)
        .flat_map(|wc| wc.iter().rev().copied())
        .collect();
    let g = Corr::scatter(spatial(gy_dims), in_spatial, k, stride);
    let y = correlate(gy, gy_dims, &g, &flipped, bias);
    (
        y,
        [
            gy_dims[0],
            gy_dims[1],
            in_spatial[0],
            in_spatial[1],
            in_spatial[2],
        ],
    )
}

/// Weight gradient of [`forward`]: `w̄[c, t] = Σ_{n,o} ȳ[n,c,o] · x[n,c,o·s + t − p]`; returns `C·k³` values.
#[must_use]
pub(crate) fn weight_grad(
    x: &[f32],
    dims: Dims5,
    gy: &[f32],
    gy_spatial: [usize; 3],
    k: usize,
    stride: usize,
) -> Vec<f32> {
    let [n, c, ..] = dims;
    let k3 = k * k * k;
    let g = Corr::gather(spatial(dims), gy_spatial, k, stride);
    let x_plane: usize = dims[2..].iter().product();
    let gy_plane: usize = gy_spatial.iter().product();
    let grow = round_up(gy_spatial[2], MAX_BLOCK);
    let per_plane: Vec<Vec<f64>> = (0..n * c)
        .into_par_iter()
        .map_init(
            || (Vec::new(), Vec::new()),
            |(plane, gpad), nc| {
                let mut gw = vec![0.0_f64; k3];
                if gy_plane == 0 {
                    return gw;
                }
                g.fill(&x[nc * x_plane..][..x_plane], plane);
                gpad.clear();
                gpad.resize(gy_spatial[0] * gy_spatial[1] * grow, 0.0);
                let src = &gy[nc * gy_plane..][..gy_plane];
                for (dst, row) in gpad
                    .chunks_exact_mut(grow)
                    .zip(src.chunks_exact(gy_spatial[2]))
                {
                    dst[..row.len()].copy_from_slice(row);
                }
                wgrad_plane(&g, plane, gpad, &mut gw);
                gw
            },
        )
        .collect();
    let mut out = vec![0.0_f32; c * k3];
    for ch in 0..c {
        for t in 0..k3 {
            let s: f64 = (0..n).map(|b| per_plane[b * c + ch][t]).sum();
            out[ch * k3 + t] = s as f32;
        }
    }
    out
}
