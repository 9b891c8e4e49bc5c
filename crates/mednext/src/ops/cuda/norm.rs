//! Launch wrappers of the per-channel GroupNorm and channel-sum kernels (`kernels/norm.cu`).
//!
//! ```text
//! μ = mean_v x,  σ² = mean_v x² − μ²,  r = 1/√(σ² + ε),  y = γ r (x − μ) + β
//! coefficients (N, C, 6) = [A, B, μ, C', Σȳ, Σȳx̂]:  A = γ r,  B = −A r Σȳx̂/M,  C' = −A Σȳ/M
//! x̄ = A ȳ + B (x − μ) + C';   channel_sum: s[c] = Σ_{n,v} x[n,c,v]
//! ```
//!
//! Statistics are f64 partial sums per (plane, chunk) (block tree reductions), added in a fixed order:
//! deterministic, no atomics. Reference: PyTorch `GroupNorm(C, C, eps)`; the CPU ops of `ops/norm.rs` and
//! `ops/channel.rs`; design after PyTorch `aten/src/ATen/native/cuda/group_norm_kernel.cu` (read only).

use candle_core::cuda_backend::cudarc::driver::{CudaSlice, CudaView, LaunchConfig, PushKernelArg};
use candle_core::cuda_backend::WrapErr;
use candle_core::{bail, CudaDevice, CudaStorage, Result, Shape};

use super::super::storage::dims5;
use super::{device, func, grid_yz, int, view, Arg, NORM, THREADS};

/// Elements per reduction chunk (one block of [`THREADS`] threads each).
const CHUNK: usize = 8192;
/// Largest number of chunks per plane.
const MAX_CHUNKS: usize = 256;

/// `(planes = N·C, plane = Π spatial, C)` of an `(N, C, …)` shape (rank ≥ 3).
fn planes(op: &str, shape: &Shape) -> Result<(usize, usize, usize)> {
    let dims = shape.dims();
    if dims.len() < 3 {
        bail!("{op}: `x` must be (N, C, spatial…), got shape {dims:?}");
    }
    Ok((dims[0] * dims[1], dims[2..].iter().product(), dims[1]))
}

/// Pass 1: per-(plane, chunk) sums `[Σx, Σx², Σȳ, Σȳx]` (the last two 0 without `dy`); returns them and
/// the chunk count.
fn plane_sums(
    op: &str,
    dev: &CudaDevice,
    x: &CudaView<f32>,
    dy: Option<&CudaView<f32>>,
    planes: usize,
    plane: usize,
) -> Result<(CudaSlice<f64>, usize)> {
    let chunks = plane.div_ceil(CHUNK).clamp(1, MAX_CHUNKS);
    let part = unsafe { dev.alloc::<f64>(planes * chunks * 4)? };
    let f = func(dev, NORM, "mednext_plane_sums")?;
    let has_dy = i32::from(dy.is_some());
    let chunks_i = int(op, "chunks", chunks)?;
    let mut bld = f.builder();
    bld.arg(x);
    bld.arg(dy.unwrap_or(x));
    bld.arg(&has_dy);
    bld.arg(&plane);
    bld.arg(&chunks_i);
    bld.arg(&part);
    let cfg = LaunchConfig {
        grid_dim: (chunks as u32, grid_yz(op, "N·C", planes)?, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    };
    // SAFETY: argument list matches `mednext_plane_sums` (RED_THREADS = 256 = THREADS); it writes
    // part[(pl·chunks + ch)·4 + j], j < 4, inside the allocation.
    unsafe { bld.launch(cfg) }.w()?;
    Ok((part, chunks))
}

/// One thread per plane.
fn per_plane(planes: usize) -> LaunchConfig {
    LaunchConfig {
        grid_dim: (planes.div_ceil(THREADS as usize).max(1) as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// Blocks over one plane × planes, for the apply kernels.
fn per_element(op: &str, planes: usize, plane: usize) -> Result<LaunchConfig> {
    Ok(LaunchConfig {
        grid_dim: (
            plane.div_ceil(THREADS as usize * 4).clamp(1, 65_535) as u32,
            grid_yz(op, "N·C", planes)?,
            1,
        ),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    })
}

/// `GroupNorm(C, C, eps)` forward of `x` `(N, C, …)` with `gamma`, `beta` of `C` elements.
///
/// # Errors
/// On a non-f32 or non-contiguous operand, a rank < 3 input, `N·C > 65535`, or a CUDA error.
pub(crate) fn group_norm(x: Arg, gamma: Arg, beta: Arg, eps: f64) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "channel_group_norm (cuda)";
    let (np, plane, c) = planes(OP, x.1.shape())?;
    let (xv, gv, bv) = (
        view(OP, "x", x)?,
        view(OP, "gamma", gamma)?,
        view(OP, "beta", beta)?,
    );
    let dev = device(x.0);
    let y = unsafe { dev.alloc::<f32>((np * plane).max(1))? };
    let shape = x.1.shape().clone();
    if np * plane == 0 {
        return Ok((CudaStorage::wrap_cuda_slice(y, dev), shape));
    }
    let (part, chunks) = plane_sums(OP, &dev, &xv, None, np, plane)?;
    let stats = unsafe { dev.alloc::<f64>(np * 2)? };
    let f = func(&dev, NORM, "mednext_gn_stats")?;
    let (chunks_i, np_i) = (int(OP, "chunks", chunks)?, int(OP, "N·C", np)?);
    let mut bld = f.builder();
    bld.arg(&part);
    bld.arg(&chunks_i);
    bld.arg(&np_i);
    bld.arg(&plane);
    bld.arg(&eps);
    bld.arg(&stats);
    // SAFETY: argument list matches `mednext_gn_stats`; it writes stats[2·pl + {0, 1}], pl < N·C.
    unsafe { bld.launch(per_plane(np)) }.w()?;
    let f = func(&dev, NORM, "mednext_gn_apply")?;
    let c_i = int(OP, "C", c)?;
    let mut bld = f.builder();
    bld.arg(&xv);
    bld.arg(&stats);
    bld.arg(&gv);
    bld.arg(&bv);
    bld.arg(&y);
    bld.arg(&c_i);
    bld.arg(&plane);
    // SAFETY: argument list matches `mednext_gn_apply`; block row `pl` writes y[pl·plane ..][..plane].
    unsafe { bld.launch(per_element(OP, np, plane)?) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(y, dev), shape))
}

/// Backward coefficients `(N, C, 6)` = `[A, B, μ, C', Σȳ, Σȳx̂]` per (n, c) from `x`, `ȳ` and `gamma`.
///
/// # Errors
/// As [`group_norm`], and when `x` and `dy` differ in shape.
pub(crate) fn group_norm_coefficients(
    x: Arg,
    dy: Arg,
    gamma: Arg,
    eps: f64,
) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "channel_group_norm coefficients (cuda)";
    let (np, plane, c) = planes(OP, x.1.shape())?;
    if x.1.shape() != dy.1.shape() {
        bail!(
            "{OP}: grad shape {:?} differs from x {:?}",
            dy.1.shape(),
            x.1.shape()
        );
    }
    let (xv, dv, gv) = (
        view(OP, "x", x)?,
        view(OP, "grad", dy)?,
        view(OP, "gamma", gamma)?,
    );
    let dev = device(x.0);
    let dims = x.1.shape().dims();
    let shape = Shape::from((dims[0], dims[1], 6));
    if np == 0 {
        let coef = dev.alloc_zeros::<f32>(1)?;
        return Ok((CudaStorage::wrap_cuda_slice(coef, dev), shape));
    }
    let (part, chunks) = plane_sums(OP, &dev, &xv, Some(&dv), np, plane)?;
    let coef = unsafe { dev.alloc::<f32>(np * 6)? };
    let f = func(&dev, NORM, "mednext_gn_bwd_coef")?;
    let (chunks_i, np_i, c_i) = (
        int(OP, "chunks", chunks)?,
        int(OP, "N·C", np)?,
        int(OP, "C", c)?,
    );
    let mut bld = f.builder();
    bld.arg(&part);
    bld.arg(&chunks_i);
    bld.arg(&np_i);
    bld.arg(&plane);
    bld.arg(&eps);
    bld.arg(&gv);
    bld.arg(&c_i);
    bld.arg(&coef);
    // SAFETY: argument list matches `mednext_gn_bwd_coef`; it writes coef[pl·6 ..][..6], pl < N·C.
    unsafe { bld.launch(per_plane(np)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(coef, dev), shape))
}

/// `x̄ = A ȳ + B (x − μ) + C'` with the coefficients of [`group_norm_coefficients`].
///
/// # Errors
/// As [`group_norm`], and when the coefficient tensor does not have `N·C·6` elements.
pub(crate) fn group_norm_input_grad(x: Arg, dy: Arg, coef: Arg) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "channel_group_norm input grad (cuda)";
    let (np, plane, _) = planes(OP, x.1.shape())?;
    if x.1.shape() != dy.1.shape() || coef.1.shape().elem_count() != np * 6 {
        bail!(
            "{OP}: shapes x {:?}, grad {:?}, coef {:?} do not fit",
            x.1.shape(),
            dy.1.shape(),
            coef.1.shape()
        );
    }
    let (xv, dv, cv) = (
        view(OP, "x", x)?,
        view(OP, "grad", dy)?,
        view(OP, "coef", coef)?,
    );
    let dev = device(x.0);
    let dx = unsafe { dev.alloc::<f32>((np * plane).max(1))? };
    let shape = x.1.shape().clone();
    if np * plane == 0 {
        return Ok((CudaStorage::wrap_cuda_slice(dx, dev), shape));
    }
    let f = func(&dev, NORM, "mednext_gn_bwd_input")?;
    let mut bld = f.builder();
    bld.arg(&xv);
    bld.arg(&dv);
    bld.arg(&cv);
    bld.arg(&dx);
    bld.arg(&plane);
    // SAFETY: argument list matches `mednext_gn_bwd_input`; block row `pl` writes dx[pl·plane ..][..plane].
    unsafe { bld.launch(per_element(OP, np, plane)?) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(dx, dev), shape))
}

/// Per-channel sums `s[c] = Σ_{n,v} x[n,c,v]` of a 5-D tensor, shape `(C,)`.
///
/// # Errors
/// On a non-f32, non-contiguous or non-5-D input, `N·C > 65535`, or a CUDA error.
pub(crate) fn channel_sum(x: Arg) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "channel_sum (cuda)";
    let [n, c, d, h, w] = dims5(OP, "x", x.1.shape())?;
    let xv = view(OP, "x", x)?;
    let dev = device(x.0);
    let plane = d * h * w;
    if n * c == 0 || plane == 0 {
        let out = dev.alloc_zeros::<f32>(c.max(1))?;
        return Ok((CudaStorage::wrap_cuda_slice(out, dev), Shape::from(c)));
    }
    let (part, chunks) = plane_sums(OP, &dev, &xv, None, n * c, plane)?;
    let out = unsafe { dev.alloc::<f32>(c)? };
    let f = func(&dev, NORM, "mednext_channel_sum_final")?;
    let (chunks_i, n_i, c_i) = (
        int(OP, "chunks", chunks)?,
        int(OP, "N", n)?,
        int(OP, "C", c)?,
    );
    let mut bld = f.builder();
    bld.arg(&part);
    bld.arg(&chunks_i);
    bld.arg(&n_i);
    bld.arg(&c_i);
    bld.arg(&out);
    // SAFETY: argument list matches `mednext_channel_sum_final`; it writes out[c], c < C.
    unsafe { bld.launch(per_plane(c)) }.w()?;
    Ok((CudaStorage::wrap_cuda_slice(out, dev), Shape::from(c)))
}
