//! 1×1×1 convolutions (plain and transposed, stride 1 or 2) as candle matrix products on `(N, C, D·H·W)`
//! views, differentiable through candle's own autograd.
//!
//! Reference: PyTorch `Conv3d(C_in, C_out, 1, stride)` and `ConvTranspose3d(C_in, C_out, 1, stride)` as used by
//! MedNeXt's `conv2`/`conv3`, `res_conv` and `OutBlock` (MIC-DKFZ/MedNeXt `mednextv1/blocks.py`;
//! `reference/mednext.md` §2–5, 16; the plain 1×1×1 conv is a fused product + bias kernel
//! ([`super::pointwise_kernel`]); measured design in `reference/rust-notes.md` §3: matmul on
//! `(N, C, D·H·W)` views, stride 2 = subsample then matmul, transposed stride 2 = matmul then zero insertion).

use candle_core::{bail, Result, Tensor};

use super::channel::{subsample2, zero_insert2};
use super::conv::maybe_bias;
use super::pointwise_kernel::Pointwise;
use super::storage::{check_channels, check_f32_cpu, dims5};

/// 1×1×1 convolution, exactly PyTorch `Conv3d(C_in, C_out, kernel_size = 1, stride)`.
///
/// ```text
/// y[n,o,v] = b[o] + Σ_i W[o,i] · x[n,i,s·v]        out = ⌈D/s⌉ per axis
/// ```
///
/// `x`: `(N, C_in, D, H, W)` f32; `weight`: `(C_out, C_in, 1, 1, 1)`; `bias`: `C_out` elements; `stride` 1
/// or 2 (stride 2 keeps voxels 0, 2, 4, … on each axis). Differentiable in all arguments.
///
/// # Errors
/// When a shape, dtype or the stride is invalid, or a tensor is not on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{DType, Device, Tensor};
/// let x = Tensor::ones((1, 2, 5, 5, 5), DType::F32, &Device::Cpu)?;
/// let w = Tensor::new(&[[1f32, 2.0]], &Device::Cpu)?.reshape((1, 2, 1, 1, 1))?;
/// let y = mednext::ops::conv1x1x1(&x, &w, None, 2)?;
/// assert_eq!(y.dims(), &[1, 1, 3, 3, 3]);
/// assert_eq!(y.flatten_all()?.max(0)?.to_scalar::<f32>()?, 3.0);
/// # Ok(())
/// # }
/// ```
pub fn conv1x1x1(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> Result<Tensor> {
    const OP: &str = "conv1x1x1";
    let (xd, wd) = check(OP, x, weight, stride)?;
    if wd[1] != xd[1] || wd[2..] != [1, 1, 1] {
        bail!(
            "{OP}: `weight` must be (C_out, C_in = {}, 1, 1, 1), got {wd:?}",
            xd[1]
        );
    }
    let xs = if stride == 2 {
        subsample2(x)?
    } else {
        x.contiguous()?
    };
    let w = weight.reshape((wd[0], wd[1]))?.contiguous()?;
    match bias {
        Some(b) => {
            check_f32_cpu(OP, "bias", b)?;
            check_channels(OP, "bias", b, wd[0])?;
            xs.apply_op3(&w, &b.flatten_all()?.contiguous()?, Pointwise)
        }
        None => xs.apply_op2(&w, Pointwise),
    }
}

/// 1×1×1 transposed convolution, exactly PyTorch `ConvTranspose3d(C_in, C_out, kernel_size = 1, stride)`.
///
/// ```text
/// stride 1: y[n,o,v] = b[o] + Σ_i W[i,o] · x[n,i,v]
/// stride 2: y[n,o,2v] = b[o] + Σ_i W[i,o] · x[n,i,v],  y[n,o,odd] = b[o];  out = 2D − 1 per axis
/// ```
///
/// `weight` has PyTorch's transposed layout `(C_in, C_out, 1, 1, 1)`. Differentiable in all arguments.
///
/// # Errors
/// When a shape, dtype or the stride is invalid, or a tensor is not on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{DType, Device, Tensor};
/// let x = Tensor::ones((1, 1, 2, 2, 2), DType::F32, &Device::Cpu)?;
/// let w = Tensor::new(&[[2f32]], &Device::Cpu)?.reshape((1, 1, 1, 1, 1))?;
/// let b = Tensor::new(&[0.5f32], &Device::Cpu)?;
/// let y = mednext::ops::conv_transpose1x1x1(&x, &w, Some(&b), 2)?;
/// assert_eq!(y.dims(), &[1, 1, 3, 3, 3]);
/// let v = y.flatten_all()?.to_vec1::<f32>()?;
/// assert_eq!((v[0], v[1]), (2.5, 0.5)); // even position: W·x + b; odd: b
/// # Ok(())
/// # }
/// ```
pub fn conv_transpose1x1x1(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> Result<Tensor> {
    const OP: &str = "conv_transpose1x1x1";
    let (xd, wd) = check(OP, x, weight, stride)?;
    if wd[0] != xd[1] || wd[2..] != [1, 1, 1] {
        bail!(
            "{OP}: `weight` must be (C_in = {}, C_out, 1, 1, 1), got {wd:?}",
            xd[1]
        );
    }
    let w = weight.reshape((wd[0], wd[1]))?.t()?;
    let y = matmul_channels(&w, &x.contiguous()?)?;
    let y = if stride == 2 { zero_insert2(&y)? } else { y };
    maybe_bias(OP, y, bias)
}

fn check(op: &str, x: &Tensor, weight: &Tensor, stride: usize) -> Result<([usize; 5], [usize; 5])> {
    check_f32_cpu(op, "x", x)?;
    check_f32_cpu(op, "weight", weight)?;
    if stride != 1 && stride != 2 {
        bail!("{op}: stride must be 1 or 2, got {stride}");
    }
    Ok((
        dims5(op, "x", x.shape())?,
        dims5(op, "weight", weight.shape())?,
    ))
}

/// `y[n] = W · x[n]` on `(N, C, D·H·W)` views; `w` is `(C_out, C_in)`, `x` contiguous NCDHW.
fn matmul_channels(w: &Tensor, x: &Tensor) -> Result<Tensor> {
    let (n, c, d, h, wd) = x.dims5()?;
    let cout = w.dim(0)?;
    let v = x.reshape((n, c, d * h * wd))?;
    let y = if n == 1 {
        w.matmul(&v.squeeze(0)?)?.unsqueeze(0)?
    } else {
        w.broadcast_matmul(&v)?
    };
    y.reshape((n, cout, d, h, wd))
}
