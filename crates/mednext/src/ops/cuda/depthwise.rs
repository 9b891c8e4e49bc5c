//! Launch wrappers of the depthwise 3-D convolution kernels (`kernels/depthwise.cu`).
//!
//! ```text
//! forward:      y[n,c,o] = b[c] + Σ_t w[c,t] · x[n,c,o·s + t − p]                  out ⌈D/s⌉ per axis
//! input grad:   x̄[n,c,i] = b[c] + Σ_{t : s | i+p−t} w[c,t] · ȳ[n,c,(i + p − t)/s]   (= ConvTranspose3d)
//! weight grad:  w̄[c,t]   = Σ_{n,o} ȳ[n,c,o] · x[n,c,o·s + t − p]                     shape (C, k³)
//! ```
//!
//! Reference: PyTorch `Conv3d`/`ConvTranspose3d` with `groups = C`, `padding = k/2` (MIC-DKFZ/MedNeXt
//! `mednextv1/blocks.py`); the CPU kernels of `ops/depthwise.rs`; design after PyTorch
//! `aten/src/ATen/native/cuda/DepthwiseConv3d.cu` (read only).

use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{bail, CudaStorage, Result, Shape};

use super::super::depthwise::conv_out_len;
use super::super::storage::dims5;
use super::{device, func, grid_1d, grid_yz, int, view, Arg, DEPTHWISE, THREADS};

/// Largest supported kernel size (the weight-gradient kernel keeps ≤ 3 taps per thread × 256 threads).
const MAX_K: usize = 9;
/// Shared memory one block may use without an opt-in (bytes).
const MAX_SHARED: usize = 48 * 1024;

/// Checks `k` (odd, ≤ [`MAX_K`]) and `s` (1 or 2).
fn check_ks(op: &str, k: usize, s: usize) -> Result<()> {
    if k.is_multiple_of(2) || k > MAX_K {
        bail!("{op}: the CUDA kernels support odd k ≤ {MAX_K}, got {k}");
    }
    if s != 1 && s != 2 {
        bail!("{op}: stride must be 1 or 2, got {s}");
    }
    Ok(())
}

/// Halo extent `(T − 1)·s + k` of an output tile of `t` along one axis.
fn halo(t: usize, k: usize, s: usize) -> usize {
    (t - 1) * s + k
}

/// Depthwise convolution forward: `x` `(N, C, D, H, W)`, `w` `(C, 1, k, k, k)` (any shape with `C·k³`
/// elements), optional bias `C`; returns `y` `(N, C, ⌈D/s⌉, ⌈H/s⌉, ⌈W/s⌉)`.
///
/// # Errors
/// On a non-f32 or non-contiguous operand, unsupported `k`/stride, `N·C > 65535`, or a CUDA error.
pub(crate) fn depthwise_forward(
    x: Arg,
    w: Arg,
    b: Option<Arg>,
    k: usize,
    s: usize,
) -> Result<(CudaStorage, Shape)> {
    tiled("depthwise_conv3d (cuda)", x, w, b, k, s, false)
}

/// The shared-memory tiled kernel `mednext_dw_fwd`: the strided correlation, or with `flip` (stride 1) the
/// correlation with the reversed kernel = the input gradient.
fn tiled(
    op: &str,
    x: Arg,
    w: Arg,
    b: Option<Arg>,
    k: usize,
    s: usize,
    flip: bool,
) -> Result<(CudaStorage, Shape)> {
    check_ks(op, k, s)?;
    let [n, c, d, h, wd] = dims5(op, "x", x.1.shape())?;
    let out = [d, h, wd].map(|l| conv_out_len(l, k, s));
    let (xv, wv) = (view(op, "x", x)?, view(op, "weight", w)?);
    let bv = b.map(|b| view(op, "bias", b)).transpose()?;
    let dev = device(x.0);
    let total = n * c * out.iter().product::<usize>();
    let y = unsafe { dev.alloc::<f32>(total.max(1))? };
    let shape = Shape::from(vec![n, c, out[0], out[1], out[2]]);
    if total == 0 {
        return Ok((CudaStorage::wrap_cuda_slice(y, dev), shape));
    }
    // tile (TD, TH, TW): 4·8·32 outputs at stride 1, 2·8·16 at stride 2
    let (td, th, tw) = if s == 1 { (4, 8, 32) } else { (2, 8, 16) };
    let shared = 4 * (k * k * k + halo(td, k, s) * halo(th, k, s) * halo(tw, k, s));
    if shared > MAX_SHARED {
        bail!("{op}: k = {k} needs {shared} bytes of shared memory (max {MAX_SHARED})");
    }
    let (tiles_d, tiles_h, tiles_w) = (
        out[0].div_ceil(td),
        out[1].div_ceil(th),
        out[2].div_ceil(tw),
    );
    let cfg = LaunchConfig {
        grid_dim: (
            int(op, "tiles", tiles_w * tiles_h)? as u32,
            grid_yz(op, "depth tiles", tiles_d)?,
            grid_yz(op, "N·C", n * c)?,
        ),
        block_dim: (tw as u32, th as u32, 1),
        shared_mem_bytes: shared as u32,
    };
    let f = func(&dev, DEPTHWISE, "mednext_dw_fwd")?;
    let has_bias = i32::from(bv.is_some());
    let dims = [
        c,
        d,
        h,
        wd,
        out[0],
        out[1],
        out[2],
        k,
        s,
        td,
        tiles_w,
        usize::from(flip),
    ]
    .iter()
    .map(|&v| int(op, "size", v))
    .collect::<Result<Vec<i32>>>()?;
    let mut bld = f.builder();
    bld.arg(&xv);
    bld.arg(&wv);
    bld.arg(bv.as_ref().unwrap_or(&wv));
    bld.arg(&has_bias);
    bld.arg(&y);
    for v in &dims {
        bld.arg(v);
    }
    // SAFETY: argument list matches `mednext_dw_fwd`; every index the kernel writes is < total.
    unsafe { bld.launch(cfg) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(y, dev), shape))
}

/// Input gradient of [`depthwise_forward`] (= transposed convolution): `gy` `(N, C, Dy, Hy, Wy)`, result
/// `(N, C, out)` with an optional bias added (the transposed convolution's bias).
///
/// # Errors
/// As [`depthwise_forward`].
pub(crate) fn depthwise_input_grad(
    gy: Arg,
    w: Arg,
    b: Option<Arg>,
    k: usize,
    s: usize,
    out: [usize; 3],
) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "depthwise_conv3d input grad (cuda)";
    check_ks(OP, k, s)?;
    let [n, c, dy, hy, wy] = dims5(OP, "grad", gy.1.shape())?;
    if s == 1 && out == [dy, hy, wy] {
        return tiled(OP, gy, w, b, k, 1, true);
    }
    let (gv, wv) = (view(OP, "grad", gy)?, view(OP, "weight", w)?);
    let bv = b.map(|b| view(OP, "bias", b)).transpose()?;
    let dev = device(gy.0);
    let total = n * c * out.iter().product::<usize>();
    let gx = unsafe { dev.alloc::<f32>(total.max(1))? };
    let shape = Shape::from(vec![n, c, out[0], out[1], out[2]]);
    if total == 0 {
        return Ok((CudaStorage::wrap_cuda_slice(gx, dev), shape));
    }
    let f = func(&dev, DEPTHWISE, "mednext_dw_input_grad")?;
    let has_bias = i32::from(bv.is_some());
    let dims = [c, dy, hy, wy, out[0], out[1], out[2], k, s]
        .iter()
        .map(|&v| int(OP, "size", v))
        .collect::<Result<Vec<i32>>>()?;
    let mut bld = f.builder();
    bld.arg(&gv);
    bld.arg(&wv);
    bld.arg(bv.as_ref().unwrap_or(&wv));
    bld.arg(&has_bias);
    bld.arg(&gx);
    for v in &dims {
        bld.arg(v);
    }
    bld.arg(&total);
    // SAFETY: argument list matches `mednext_dw_input_grad`; writes stay below `total`.
    unsafe { bld.launch(grid_1d(total)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(gx, dev), shape))
}

/// Weight gradient of [`depthwise_forward`]: `x` `(N, C, D, H, W)` and `gy` `(N, C, ⌈D/s⌉, …)`; returns
/// `(C, k³)`. Two deterministic passes (per-block f64 partial sums, then a fixed-order sum).
///
/// # Errors
/// As [`depthwise_forward`], and when the shapes of `x` and `gy` do not match.
pub(crate) fn depthwise_weight_grad(
    x: Arg,
    gy: Arg,
    k: usize,
    s: usize,
) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "depthwise_conv3d weight grad (cuda)";
    check_ks(OP, k, s)?;
    let [n, c, d, h, wd] = dims5(OP, "x", x.1.shape())?;
    let gd = dims5(OP, "grad", gy.1.shape())?;
    let expect = [d, h, wd].map(|l| conv_out_len(l, k, s));
    if gd[..2] != [n, c] || gd[2..] != expect {
        bail!(
            "{OP}: gradient shape {gd:?} does not match input {:?} (k {k}, stride {s})",
            [n, c, d, h, wd]
        );
    }
    let (xv, gv) = (view(OP, "x", x)?, view(OP, "grad", gy)?);
    let dev = device(x.0);
    let k3 = k * k * k;
    let shape = Shape::from((c, k3));
    // tile (TD, TH, TW) of ȳ: 4·8·16 at stride 1, 2·4·16 at stride 2
    let (td, th, tw) = if s == 1 { (4, 8, 16) } else { (2, 4, 16) };
    let shared = 4 * (td * th * tw + halo(td, k, s) * halo(th, k, s) * halo(tw, k, s));
    if shared > MAX_SHARED {
        bail!("{OP}: k = {k} needs {shared} bytes of shared memory (max {MAX_SHARED})");
    }
    let ntiles = n * expect[0].div_ceil(td) * expect[1].div_ceil(th) * expect[2].div_ceil(tw);
    if ntiles == 0 || c == 0 {
        let gw = dev.alloc_zeros::<f32>((c * k3).max(1))?;
        return Ok((CudaStorage::wrap_cuda_slice(gw, dev), shape));
    }
    // enough blocks to fill the GPU (~2048 in all), at most one per tile
    let bpc = 2048_usize.div_ceil(c).clamp(1, ntiles);
    let part = unsafe { dev.alloc::<f64>(c * bpc * k3)? };
    let f = func(&dev, DEPTHWISE, "mednext_dw_weight_grad_partial")?;
    let dims = [
        n, c, d, h, wd, expect[0], expect[1], expect[2], k, s, td, th, tw, bpc,
    ]
    .iter()
    .map(|&v| int(OP, "size", v))
    .collect::<Result<Vec<i32>>>()?;
    let mut bld = f.builder();
    bld.arg(&xv);
    bld.arg(&gv);
    bld.arg(&part);
    for v in &dims {
        bld.arg(v);
    }
    let cfg = LaunchConfig {
        grid_dim: (bpc as u32, grid_yz(OP, "C", c)?, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: shared as u32,
    };
    // SAFETY: argument list matches `mednext_dw_weight_grad_partial` (256 threads = WG_THREADS); it writes
    // part[(c·bpc + bx)·k³ + t] for t < k³ only.
    unsafe { bld.launch(cfg) }.w()?;
    let gw = unsafe { dev.alloc::<f32>(c * k3)? };
    let f = func(&dev, DEPTHWISE, "mednext_dw_weight_grad_reduce")?;
    let (ci, k3i, bpci) = (
        int(OP, "C", c)?,
        int(OP, "k³", k3)?,
        int(OP, "blocks", bpc)?,
    );
    let mut bld = f.builder();
    bld.arg(&part);
    bld.arg(&gw);
    bld.arg(&ci);
    bld.arg(&k3i);
    bld.arg(&bpci);
    let cfg = LaunchConfig {
        grid_dim: ((c * k3).div_ceil(THREADS as usize) as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: argument list matches `mednext_dw_weight_grad_reduce`; it writes gw[i] for i < C·k³.
    unsafe { bld.launch(cfg) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(gw, dev), shape))
}
