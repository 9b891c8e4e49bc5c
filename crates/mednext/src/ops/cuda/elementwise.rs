//! Launch wrappers of the element-wise kernels (`kernels/elementwise.cu`) and the 1×1×1 convolution (cuBLAS
//! through candle's own `matmul`, plus the bias kernel).
//!
//! ```text
//! gelu(x) = x Φ(x),  Φ(x) = ½ (1 + erf(x/√2));   gelu'(x) = Φ(x) + x exp(−x²/2)/√(2π)
//! bias_gelu(x, b)[n,c,v] = gelu(x + b[c]);   add_bias(x, b)[n,c,v] = x + b[c]
//! resample2: subsampling x[:, :, ::2, ::2, ::2] (up = false) or zero insertion (up = true)
//! pointwise: y[n] = W · x[n] + b    (x (N, C_in, V), W (C_out, C_in))
//! ```
//!
//! Reference: PyTorch `nn.GELU()` (erf form), `Conv3d`/`ConvTranspose3d` with kernel 1 (MIC-DKFZ/MedNeXt
//! `mednextv1/blocks.py`); the CPU kernels of `ops/gelu.rs`, `ops/channel.rs`, `ops/pointwise_kernel.rs`.

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::PushKernelArg;
use candle_core::cuda_backend::WrapErr;
use candle_core::{bail, CudaStorage, Layout, Result, Shape};

use super::super::storage::{dims5, Dims5};
use super::{device, func, grid_1d, int, view, Arg, ELEMENTWISE};

/// `(C, plane)` of an `(N, C, …)` shape (rank ≥ 2).
fn channel_plane(op: &str, shape: &Shape) -> Result<(usize, usize)> {
    let dims = shape.dims();
    if dims.len() < 2 {
        bail!("{op}: `x` must be (N, C, …), got shape {dims:?}");
    }
    Ok((dims[1], dims[2..].iter().product()))
}

/// Runs a unary/binary element-wise kernel `name(inputs…, out, extra…, n)` over `shape`.
fn launch(
    op: &str,
    name: &str,
    inputs: &[(&str, Arg)],
    extra: &[i32],
    extra_sizes: &[usize],
    shape: &Shape,
) -> Result<(CudaStorage, Shape)> {
    let views = inputs
        .iter()
        .map(|(nm, a)| view(op, nm, *a))
        .collect::<Result<Vec<_>>>()?;
    let dev = device(inputs[0].1 .0);
    let n = shape.elem_count();
    let out = unsafe { dev.alloc::<f32>(n.max(1))? };
    if n > 0 {
        let f = func(&dev, ELEMENTWISE, name)?;
        let mut bld = f.builder();
        for v in &views {
            bld.arg(v);
        }
        bld.arg(&out);
        for v in extra {
            bld.arg(v);
        }
        for v in extra_sizes {
            bld.arg(v);
        }
        bld.arg(&n);
        // SAFETY: the callers pass exactly the arguments of kernel `name`, whose writes stay below `n`.
        unsafe { bld.launch(grid_1d(n)) }.w()?;
    }
    Ok((CudaStorage::wrap_cuda_slice(out, dev), shape.clone()))
}

/// Exact GELU of any shape.
///
/// # Errors
/// On a non-f32 or non-contiguous input, or a CUDA error.
pub(crate) fn gelu(x: Arg) -> Result<(CudaStorage, Shape)> {
    launch(
        "gelu_erf (cuda)",
        "mednext_gelu_fwd",
        &[("x", x)],
        &[],
        &[],
        x.1.shape(),
    )
}

/// `ȳ · gelu'(x)`.
///
/// # Errors
/// As [`gelu`], and when the shapes differ.
pub(crate) fn gelu_grad(x: Arg, dy: Arg) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "gelu_erf grad (cuda)";
    same_shape(OP, x.1, dy.1)?;
    launch(
        OP,
        "mednext_gelu_bwd",
        &[("x", x), ("grad", dy)],
        &[],
        &[],
        x.1.shape(),
    )
}

/// `gelu(x + b[c])` for `x` `(N, C, …)` and `b` with `C` elements.
///
/// # Errors
/// As [`gelu`], and when `x` has rank < 2.
pub(crate) fn bias_gelu(x: Arg, b: Arg) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "bias_gelu (cuda)";
    let (c, plane) = channel_plane(OP, x.1.shape())?;
    check_bias(OP, b.1, c)?;
    let ci = int(OP, "C", c)?;
    launch(
        OP,
        "mednext_bias_gelu_fwd",
        &[("x", x), ("bias", b)],
        &[ci],
        &[plane],
        x.1.shape(),
    )
}

/// `ȳ · gelu'(x + b[c])`.
///
/// # Errors
/// As [`bias_gelu`], and when `x` and `dy` differ in shape.
pub(crate) fn bias_gelu_grad(x: Arg, b: Arg, dy: Arg) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "bias_gelu grad (cuda)";
    let (c, plane) = channel_plane(OP, x.1.shape())?;
    check_bias(OP, b.1, c)?;
    same_shape(OP, x.1, dy.1)?;
    let ci = int(OP, "C", c)?;
    launch(
        OP,
        "mednext_bias_gelu_bwd",
        &[("x", x), ("bias", b), ("grad", dy)],
        &[ci],
        &[plane],
        x.1.shape(),
    )
}

/// `x[n,c,…] + b[c]`.
///
/// # Errors
/// As [`bias_gelu`].
pub(crate) fn add_bias(x: Arg, b: Arg) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "add_bias (cuda)";
    let (c, plane) = channel_plane(OP, x.1.shape())?;
    check_bias(OP, b.1, c)?;
    let ci = int(OP, "C", c)?;
    launch(
        OP,
        "mednext_add_bias",
        &[("x", x), ("bias", b)],
        &[ci],
        &[plane],
        x.1.shape(),
    )
}

/// Subsampling by 2 (`up = false`, `dst` = `⌈src/2⌉`) or zero insertion (`up = true`, `dst` = `2·src − 1`
/// or `2·src`) of a 5-D tensor of shape `src`.
///
/// # Errors
/// As [`gelu`], and when the input is not of shape `src`.
pub(crate) fn resample2(x: Arg, up: bool, src: Dims5, dst: Dims5) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "resample2 (cuda)";
    let got = dims5(OP, "x", x.1.shape())?;
    if got != src {
        bail!("{OP}: input shape {got:?}, expected {src:?}");
    }
    let dims = [src[2], src[3], src[4], dst[2], dst[3], dst[4]]
        .iter()
        .map(|&v| int(OP, "size", v))
        .collect::<Result<Vec<i32>>>()?;
    let name = if up {
        "mednext_zero_insert2"
    } else {
        "mednext_subsample2"
    };
    launch(
        OP,
        name,
        &[("x", x)],
        &dims,
        &[],
        &Shape::from(dst.to_vec()),
    )
}

/// 1×1×1 convolution `y[n] = W · x[n] (+ b)`: `x` `(N, C_in, D, H, W)`, `w` `(C_out, C_in)`, optional
/// bias `C_out`; one strided-batched cuBLAS product (`W` broadcast over the batch with batch stride 0) and
/// the bias kernel.
///
/// # Errors
/// On a non-f32 or non-contiguous operand, mismatched channels, or a CUDA/cuBLAS error.
pub(crate) fn pointwise(x: Arg, w: Arg, b: Option<Arg>) -> Result<(CudaStorage, Shape)> {
    const OP: &str = "conv1x1x1 (cuda)";
    let [n, cin, d, h, wd] = dims5(OP, "x", x.1.shape())?;
    let (cout, wcin) = w.1.shape().dims2()?;
    if wcin != cin {
        bail!("{OP}: weight has {wcin} input channels, x has {cin}");
    }
    let (Some(_), Some(_)) = (x.1.contiguous_offsets(), w.1.contiguous_offsets()) else {
        bail!("{OP}: `x` and `weight` must be contiguous");
    };
    let v = d * h * wd;
    let lhs = Layout::new(
        Shape::from((n, cout, cin)),
        vec![0, cin, 1],
        w.1.start_offset(),
    );
    let rhs = Layout::new(
        Shape::from((n, cin, v)),
        vec![cin * v, v, 1],
        x.1.start_offset(),
    );
    let y = w.0.matmul(x.0, (n, cout, v, cin), &lhs, &rhs)?;
    let shape = Shape::from(vec![n, cout, d, h, wd]);
    match b {
        Some(b) => add_bias((&y, &Layout::contiguous(shape.clone())), b),
        None => Ok((y, shape)),
    }
}

fn same_shape(op: &str, a: &Layout, b: &Layout) -> Result<()> {
    if a.shape() != b.shape() {
        bail!(
            "{op}: `grad` of shape {:?} does not match `x` of shape {:?}",
            b.shape().dims(),
            a.shape().dims()
        );
    }
    Ok(())
}

fn check_bias(op: &str, b: &Layout, c: usize) -> Result<()> {
    if b.shape().elem_count() != c {
        bail!(
            "{op}: `bias` must have {c} elements (one per channel), got shape {:?}",
            b.shape().dims()
        );
    }
    Ok(())
}
