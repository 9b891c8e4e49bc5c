//! Depthwise 3-D convolution and depthwise 3-D transposed convolution as candle custom ops with backward
//! passes (candle 0.11 has no conv3d; `reference/rust-notes.md` §1–3).
//!
//! Reference semantics: PyTorch `torch.nn.Conv3d(C, C, k, stride, padding=k//2, groups=C)` and
//! `torch.nn.ConvTranspose3d(C, C, k, stride=2, padding=k//2, groups=C)` as used by MedNeXt
//! (MIC-DKFZ/MedNeXt `nnunet_mednext/network_architecture/mednextv1/blocks.py`; `reference/mednext.md` §2–4).
//! The three kernels of [`super::depthwise`] (strided forward, input gradient, weight gradient) cover both
//! ops and all their gradients: the transposed forward is the strided conv's input gradient and vice versa.

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::channel::{add_bias, channel_sum};
use super::depthwise::{self, conv_out_len, conv_transpose_out_len};
use super::storage::{check_channels, check_f32_cpu, dims5, slice, Dims5};
#[cfg(feature = "cuda")]
use candle_core::CudaStorage;

/// Which of the two public ops a [`Depthwise`] node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// `Conv3d(groups = C)`.
    Conv,
    /// `ConvTranspose3d(groups = C)`.
    Transposed,
}

/// Depthwise 3-D convolution, exactly PyTorch `Conv3d(C, C, k, stride, padding = k/2, groups = C)`.
///
/// ```text
/// y[n,c,o] = b[c] + Σ_{t ∈ [0,k)³} w[c,0,t] · x[n,c,o·s + t − k/2]     (zero outside x; o, t ∈ ℕ³)
/// out = ⌊(D + 2·(k/2) − k)/s⌋ + 1 = ⌈D/s⌉ per axis (k odd)
/// ```
///
/// `x`: `(N, C, D, H, W)` f32; `weight`: `(C, 1, k, k, k)` with `k` odd; `bias`: `C` elements; `stride` 1 or 2.
/// Differentiable in `x`, `weight` and `bias` (first order). Non-contiguous inputs are copied.
///
/// # Errors
/// When a shape, dtype or the stride is invalid, or a tensor is not on the CPU (the message names the
/// argument and its shape).
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{Device, Tensor};
/// let x = Tensor::ones((1, 2, 3, 3, 3), candle_core::DType::F32, &Device::Cpu)?;
/// let w = Tensor::ones((2, 1, 3, 3, 3), candle_core::DType::F32, &Device::Cpu)?;
/// let y = mednext::ops::depthwise_conv3d(&x, &w, None, 1)?;
/// // the centre voxel sees all 27 taps, a corner 8
/// assert_eq!(y.get(0)?.get(1)?.get(1)?.get(1)?.get(1)?.to_scalar::<f32>()?, 27.0);
/// assert_eq!(y.get(0)?.get(0)?.get(0)?.get(0)?.get(0)?.to_scalar::<f32>()?, 8.0);
/// # Ok(())
/// # }
/// ```
pub fn depthwise_conv3d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> Result<Tensor> {
    apply("depthwise_conv3d", Direction::Conv, x, weight, bias, stride)
}

/// Depthwise 3-D transposed convolution, exactly PyTorch
/// `ConvTranspose3d(C, C, k, stride, padding = k/2, output_padding = 0, groups = C)`.
///
/// ```text
/// y[n,c,i] = b[c] + Σ_{o, t : i = o·s + t − k/2} w[c,0,t] · x[n,c,o]
/// out = (D − 1)·s − 2·(k/2) + k  (= 2D − 1 for s = 2, k odd)
/// ```
///
/// It is the input gradient of [`depthwise_conv3d`] with the same weight and stride. `x`: `(N, C, D, H, W)`;
/// `weight`: `(C, 1, k, k, k)` (PyTorch `ConvTranspose3d` layout with groups = C), `k` odd; `stride` 1 or 2
/// (MedNeXt uses 2). Differentiable in all arguments.
///
/// # Errors
/// As [`depthwise_conv3d`].
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{DType, Device, Tensor};
/// let x = Tensor::ones((1, 1, 4, 4, 4), DType::F32, &Device::Cpu)?;
/// let w = Tensor::ones((1, 1, 3, 3, 3), DType::F32, &Device::Cpu)?;
/// let y = mednext::ops::depthwise_conv_transpose3d(&x, &w, None, 2)?;
/// assert_eq!(y.dims(), &[1, 1, 7, 7, 7]);
/// # Ok(())
/// # }
/// ```
pub fn depthwise_conv_transpose3d(
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> Result<Tensor> {
    apply(
        "depthwise_conv_transpose3d",
        Direction::Transposed,
        x,
        weight,
        bias,
        stride,
    )
}

fn apply(
    op: &str,
    dir: Direction,
    x: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    stride: usize,
) -> Result<Tensor> {
    check_f32_cpu(op, "x", x)?;
    check_f32_cpu(op, "weight", weight)?;
    let xd = dims5(op, "x", x.shape())?;
    let wd = dims5(op, "weight", weight.shape())?;
    let k = wd[2];
    if wd != [xd[1], 1, k, k, k] || k % 2 == 0 {
        bail!(
            "{op}: `weight` must be (C, 1, k, k, k) with C = {} and k odd, got {:?}",
            xd[1],
            wd
        );
    }
    if stride != 1 && stride != 2 {
        bail!("{op}: stride must be 1 or 2, got {stride}");
    }
    if xd[2..].contains(&0) {
        bail!("{op}: `x` has an empty spatial axis, shape {xd:?}");
    }
    if let Some(b) = bias {
        check_f32_cpu(op, "bias", b)?;
        check_channels(op, "bias", b, xd[1])?;
    }
    let node = Depthwise { k, stride, dir };
    let (x, w) = (x.contiguous()?, weight.contiguous()?);
    match bias {
        Some(b) => x.apply_op3(&w, &b.flatten_all()?.contiguous()?, node),
        None => x.apply_op2(&w, node),
    }
}

/// The autograd node of both public ops: `(x, w[, b])`.
#[derive(Debug, Clone, Copy)]
struct Depthwise {
    k: usize,
    stride: usize,
    dir: Direction,
}

impl Depthwise {
    fn fwd(&self, x: &[f32], xd: Dims5, w: &[f32], b: Option<&[f32]>) -> (Vec<f32>, Dims5) {
        match self.dir {
            Direction::Conv => depthwise::forward(x, xd, w, self.k, b, self.stride),
            Direction::Transposed => {
                let out =
                    [xd[2], xd[3], xd[4]].map(|l| conv_transpose_out_len(l, self.k, self.stride));
                depthwise::input_grad(x, xd, w, self.k, self.stride, out, b)
            }
        }
    }

    fn grads(&self, x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let g = grad.contiguous()?;
        let xd = dims5(self.name(), "x", x.shape())?;
        let (k, stride) = (self.k, self.stride);
        let (gx, gw) = match self.dir {
            Direction::Conv => {
                let gx = g.apply_op2_no_bwd(
                    w,
                    &Kernel {
                        k,
                        stride,
                        pass: Pass::InputGrad([xd[2], xd[3], xd[4]]),
                    },
                )?;
                let gw = x.apply_op2_no_bwd(
                    &g,
                    &Kernel {
                        k,
                        stride,
                        pass: Pass::WeightGrad,
                    },
                )?;
                (gx, gw)
            }
            Direction::Transposed => {
                let gx = g.apply_op2_no_bwd(
                    w,
                    &Kernel {
                        k,
                        stride,
                        pass: Pass::Forward,
                    },
                )?;
                let gw = g.apply_op2_no_bwd(
                    x,
                    &Kernel {
                        k,
                        stride,
                        pass: Pass::WeightGrad,
                    },
                )?;
                (gx, gw)
            }
        };
        Ok((gx, gw.reshape(w.shape())?, channel_sum(&g)?))
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda(
        &self,
        x: super::cuda::Arg,
        w: super::cuda::Arg,
        b: Option<super::cuda::Arg>,
    ) -> Result<(CudaStorage, Shape)> {
        match self.dir {
            Direction::Conv => super::cuda::depthwise_forward(x, w, b, self.k, self.stride),
            Direction::Transposed => {
                let xd = dims5(self.name(), "x", x.1.shape())?;
                let out =
                    [xd[2], xd[3], xd[4]].map(|l| conv_transpose_out_len(l, self.k, self.stride));
                super::cuda::depthwise_input_grad(x, w, b, self.k, self.stride, out)
            }
        }
    }

    fn name(&self) -> &'static str {
        match self.dir {
            Direction::Conv => "depthwise-conv3d",
            Direction::Transposed => "depthwise-conv-transpose3d",
        }
    }
}

impl CustomOp2 for Depthwise {
    fn name(&self) -> &'static str {
        Depthwise::name(self)
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.cuda((s1, l1), (s2, l2), None)
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xd = dims5(self.name(), "x", l1.shape())?;
        let x = slice(self.name(), "x", s1, l1)?;
        let w = slice(self.name(), "weight", s2, l2)?;
        let (y, yd) = self.fwd(x, xd, w, None);
        Ok((CpuStorage::F32(y), Shape::from(yd.to_vec())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, _) = self.grads(x, w, grad)?;
        Ok((Some(gx), Some(gw)))
    }
}

impl CustomOp3 for Depthwise {
    fn name(&self) -> &'static str {
        Depthwise::name(self)
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        self.cuda((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xd = dims5(self.name(), "x", l1.shape())?;
        let x = slice(self.name(), "x", s1, l1)?;
        let w = slice(self.name(), "weight", s2, l2)?;
        let b = slice(self.name(), "bias", s3, l3)?;
        let (y, yd) = self.fwd(x, xd, w, Some(b));
        Ok((CpuStorage::F32(y), Shape::from(yd.to_vec())))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, gb) = self.grads(x, w, grad)?;
        Ok((Some(gx), Some(gw), Some(gb)))
    }
}

/// One pass of the depthwise kernels, without autograd (used by the backward passes).
#[derive(Debug, Clone, Copy)]
enum Pass {
    /// `(x, w)` → strided correlation.
    Forward,
    /// `(ȳ, w)` → input gradient of that spatial size (= transposed convolution).
    InputGrad([usize; 3]),
    /// `(x, ȳ)` → weight gradient `(C, k³)`; `x` is the larger operand.
    WeightGrad,
}

#[derive(Debug, Clone, Copy)]
struct Kernel {
    k: usize,
    stride: usize,
    pass: Pass,
}

impl CustomOp2 for Kernel {
    fn name(&self) -> &'static str {
        "depthwise-conv3d-kernel"
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        let (a, b, k, s) = ((s1, l1), (s2, l2), self.k, self.stride);
        match self.pass {
            Pass::Forward => super::cuda::depthwise_forward(a, b, None, k, s),
            Pass::InputGrad(out) => super::cuda::depthwise_input_grad(a, b, None, k, s, out),
            Pass::WeightGrad => super::cuda::depthwise_weight_grad(a, b, k, s),
        }
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let ad = dims5(name, "lhs", l1.shape())?;
        let a = slice(name, "lhs", s1, l1)?;
        let b = slice(name, "rhs", s2, l2)?;
        let (k, s) = (self.k, self.stride);
        let (y, yd): (Vec<f32>, Vec<usize>) = match self.pass {
            Pass::Forward => {
                let (y, yd) = depthwise::forward(a, ad, b, k, None, s);
                (y, yd.to_vec())
            }
            Pass::InputGrad(out) => {
                let (y, yd) = depthwise::input_grad(a, ad, b, k, s, out, None);
                (y, yd.to_vec())
            }
            Pass::WeightGrad => {
                let bd = dims5(name, "rhs", l2.shape())?;
                let expect = [ad[2], ad[3], ad[4]].map(|l| conv_out_len(l, k, s));
                if bd[..2] != ad[..2] || bd[2..] != expect {
                    bail!("{name}: gradient shape {bd:?} does not match input {ad:?} (k {k}, stride {s})");
                }
                let gw = depthwise::weight_grad(a, ad, b, [bd[2], bd[3], bd[4]], k, s);
                (gw, vec![ad[1], k * k * k])
            }
        };
        Ok((CpuStorage::F32(y), Shape::from(yd)))
    }
}

/// Adds an optional bias through [`add_bias`] (used by the 1×1×1 ops).
pub(crate) fn maybe_bias(op: &str, y: Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match bias {
        Some(b) => add_bias(op, &y, b),
        None => Ok(y),
    }
}
