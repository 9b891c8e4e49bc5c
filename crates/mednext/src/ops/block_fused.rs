//! A whole stride-1 MedNeXt block as one candle custom op: depthwise `k³` convolution → the fused tail of
//! [`super::block_tail`] (GroupNorm → 1×1×1 expansion → exact GELU → 1×1×1 compression) → `+ x`.
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`, `nnunet_mednext/network_architecture/mednextv1/blocks.py`
//! (`MedNeXtBlock.forward`: `x1 = conv1(x); x1 = act(conv2(norm(x1))); x1 = conv3(x1); x1 = x + x1`);
//! `reference/mednext.md` §2. The numbers are those of `block_tail(depthwise_conv3d(x, w1, b1, 1), …, x)`.
//!
//! ```text
//! forward:   a = dwconv_k(x; w1) + b1        y = tail(a) [+ x]
//! backward:  ā, θ̄_tail = tail'(a, ȳ)         x̄ = dwconv_kᵀ(ā; w1) [+ ȳ]
//!            w̄1[c, t] = Σ_{n,v} ā[n,c,v] · x[n,c,v + t − k/2]      b̄1[c] = Σ_{n,v} ā[n,c,v]
//! ```
//!
//! Why one op: candle's autograd adds every gradient contribution into a freshly allocated tensor (a zero
//! tensor per node plus one sum per contribution). Two nodes per block (the depthwise conv and the tail)
//! and the residual's second contribution cost three such full-size tensors per block in the backward
//! pass — at 64³ and 32 channels each is 32 MiB, which glibc maps fresh from the kernel every time (page
//! faults were ≈ 15 % of a training step). Here `x̄` is produced in place. The op keeps the depthwise
//! output `a` from its forward pass for the backward (as the two-node graph kept the tensor `a`) and frees
//! it as soon as the backward has used it; a second backward pass through the same graph recomputes it.

use std::sync::{Mutex, PoisonError};

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::block_tail::{flat_params, tail_dims, BlockTail};
use super::block_tail_kernel::{self as kernel, TailDims, TailWeights};
use super::depthwise;
use super::storage::{check_channels, check_f32_cpu, dims5, slice, Dims5};

/// The depthwise convolution that starts a MedNeXt block (`conv1`), PyTorch shapes.
#[derive(Debug, Clone, Copy)]
pub struct DepthwiseStage<'a> {
    /// `conv1.weight`, `(C, 1, k, k, k)`, `k` odd.
    pub weight: &'a Tensor,
    /// `conv1.bias`, `C` elements.
    pub bias: &'a Tensor,
}

/// A stride-1 MedNeXt block fused into one op: exactly
/// `x + conv3(gelu(conv2(GroupNorm(C, C)(conv1(x)))))` of the original (without `+ x` when `residual` is
/// false).
///
/// ```text
/// a = b1[c] + Σ_t w1[c, t] · x[n, c, v + t − k/2]        (zero padding k/2, stride 1)
/// y = block_tail(a; γ, β, W2, b2, W3, b3) [+ x]
/// ```
///
/// `x`: `(N, C, D, H, W)` f32 on the CPU. Differentiable in `x` and every parameter (first order). Memory:
/// keeps the depthwise output for its backward pass (freed there); the `r·C`-channel activations are never
/// allocated (see [`super::block_tail`]).
///
/// # Errors
/// When a shape or dtype is invalid (the message names the argument and its shape), `residual` is asked
/// for with `C_out ≠ C`, `eps` is negative or not finite, or a tensor is not on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{DType, Device, Tensor};
/// use mednext::ops::{fused_block, BlockTail, DepthwiseStage};
/// let dev = Device::Cpu;
/// let x = Tensor::arange(0f32, 16.0, &dev)?.reshape((1, 2, 2, 2, 2))?;
/// let (w1, b1) = (Tensor::zeros((2, 1, 3, 3, 3), DType::F32, &dev)?, Tensor::zeros(2, DType::F32, &dev)?);
/// let (g, b) = (Tensor::ones(2, DType::F32, &dev)?, Tensor::zeros(2, DType::F32, &dev)?);
/// let w2 = Tensor::ones((4, 2, 1, 1, 1), DType::F32, &dev)?;
/// let b2 = Tensor::zeros(4, DType::F32, &dev)?;
/// let w3 = Tensor::zeros((2, 4, 1, 1, 1), DType::F32, &dev)?;
/// let b3 = Tensor::new(&[1f32, -1.0], &dev)?;
/// let tail = BlockTail { gamma: &g, beta: &b, conv2_weight: &w2, conv2_bias: &b2, conv3_weight: &w3,
///                        conv3_bias: &b3, eps: 1e-5 };
/// let y = fused_block(&x, &DepthwiseStage { weight: &w1, bias: &b1 }, &tail, true)?; // W3 = 0: x + b3
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?[..2], [1.0, 2.0]);
/// # Ok(())
/// # }
/// ```
pub fn fused_block(
    x: &Tensor,
    dw: &DepthwiseStage,
    tail: &BlockTail,
    residual: bool,
) -> Result<Tensor> {
    const OP: &str = "fused_block";
    check_f32_cpu(OP, "x", x)?;
    check_f32_cpu(OP, "conv1_weight", dw.weight)?;
    check_f32_cpu(OP, "conv1_bias", dw.bias)?;
    let xd = dims5(OP, "x", x.shape())?;
    let wd = dims5(OP, "conv1_weight", dw.weight.shape())?;
    let k = wd[2];
    if wd != [xd[1], 1, k, k, k] || k % 2 == 0 {
        bail!(
            "{OP}: `conv1_weight` must be (C, 1, k, k, k) with C = {} and k odd, got {wd:?}",
            xd[1]
        );
    }
    check_channels(OP, "conv1_bias", dw.bias, xd[1])?;
    if xd[2..].contains(&0) {
        bail!("{OP}: `x` has an empty spatial axis, shape {xd:?}");
    }
    let dims = tail_dims(OP, xd, tail)?;
    if residual && dims.co != dims.c {
        bail!(
            "{OP}: the residual needs C_out = C, got C = {} and C_out = {}",
            dims.c,
            dims.co
        );
    }
    let mut parts = vec![dw.weight.flatten_all()?, dw.bias.flatten_all()?];
    parts.extend(flat_params(tail)?);
    let hook = Tensor::cat(&parts, 0)?;
    let node = BlockOp {
        k,
        xd,
        dims,
        residual,
        eps: tail.eps,
        saved: Mutex::new(None),
    };
    x.contiguous()?.apply_op2(&hook, node)
}

/// The autograd node `(x, hook)`, hook = `[w1, b1, γ, β, W2, b2, W3, b3]` flat.
#[derive(Debug)]
struct BlockOp {
    k: usize,
    xd: Dims5,
    dims: TailDims,
    residual: bool,
    eps: f64,
    /// The depthwise output of the forward pass, until the backward pass takes it.
    saved: Mutex<Option<Vec<f32>>>,
}

/// The parameters split out of the hook.
struct Params<'a> {
    w1: &'a [f32],
    b1: &'a [f32],
    tail: TailWeights<'a>,
}

impl BlockOp {
    const NAME: &'static str = "mednext-block";

    fn params<'a>(&self, hook: &'a [f32]) -> Result<Params<'a>> {
        let c = self.xd[1];
        let k3 = self.k * self.k * self.k;
        let expect = c * k3 + c + kernel::param_len(self.dims);
        if hook.len() != expect {
            bail!(
                "{}: parameter vector has {} values, expected {expect}",
                Self::NAME,
                hook.len()
            );
        }
        let (w1, rest) = hook.split_at(c * k3);
        let (b1, rest) = rest.split_at(c);
        let Some(tail) = TailWeights::split(rest, self.dims, self.eps) else {
            bail!("{}: tail parameter vector has the wrong length", Self::NAME);
        };
        Ok(Params { w1, b1, tail })
    }

    fn depthwise(&self, x: &[f32], p: &Params) -> Vec<f32> {
        depthwise::forward(x, self.xd, p.w1, self.k, Some(p.b1), 1).0
    }

    /// `(x̄, hook̄)`.
    fn grads(&self, x: &Tensor, hook: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor)> {
        let grad = grad.contiguous()?;
        let (sx, lx) = x.storage_and_layout();
        let (sh, lh) = hook.storage_and_layout();
        let (sg, lg) = grad.storage_and_layout();
        let (Storage::Cpu(sx), Storage::Cpu(sh), Storage::Cpu(sg)) = (&*sx, &*sh, &*sg) else {
            bail!("{}: only the CPU is implemented", Self::NAME);
        };
        let xs = slice(Self::NAME, "x", sx, lx)?;
        let gy = slice(Self::NAME, "grad", sg, lg)?;
        let p = self.params(slice(Self::NAME, "parameters", sh, lh)?)?;
        let saved = self
            .saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let a = saved.unwrap_or_else(|| self.depthwise(xs, &p));
        let tail = kernel::backward(&a, self.dims, &p.tail, gy);
        drop(a);
        let spatial = [self.xd[2], self.xd[3], self.xd[4]];
        let (mut gx, _) = depthwise::input_grad(&tail.a, self.xd, p.w1, self.k, 1, spatial, None);
        let gw1 = depthwise::weight_grad(xs, self.xd, &tail.a, spatial, self.k, 1);
        let gb1 = channel_sums(&tail.a, self.xd);
        if self.residual {
            gx.par_chunks_mut(1 << 15)
                .zip(gy.par_chunks(1 << 15))
                .for_each(|(g, y)| g.iter_mut().zip(y).for_each(|(g, y)| *g += y));
        }
        let mut gh = gw1;
        gh.extend(gb1);
        gh.extend(tail.params);
        Ok((
            Tensor::from_vec(gx, x.shape(), x.device())?,
            Tensor::from_vec(gh, hook.shape(), hook.device())?,
        ))
    }
}

/// `s[c] = Σ_{n,v} g[n, c, v]` (f64 per plane, then over the batch).
fn channel_sums(g: &[f32], d: Dims5) -> Vec<f32> {
    let plane: usize = d[2..].iter().product();
    let per: Vec<f64> = g
        .par_chunks(plane.max(1))
        .map(|p| p.iter().map(|&v| f64::from(v)).sum())
        .collect();
    (0..d[1])
        .map(|c| (0..d[0]).map(|n| per[n * d[1] + c]).sum::<f64>() as f32)
        .collect()
}

impl CustomOp2 for BlockOp {
    fn name(&self) -> &'static str {
        Self::NAME
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = slice(Self::NAME, "x", s1, l1)?;
        let p = self.params(slice(Self::NAME, "parameters", s2, l2)?)?;
        let a = self.depthwise(x, &p);
        let y = kernel::forward(&a, self.dims, &p.tail, self.residual.then_some(x));
        *self.saved.lock().unwrap_or_else(PoisonError::into_inner) = Some(a);
        let [n, _, d, h, w] = self.xd;
        Ok((CpuStorage::F32(y), Shape::from(vec![n, self.dims.co, d, h, w])))
    }

    fn bwd(
        &self,
        x: &Tensor,
        hook: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gh) = self.grads(x, hook, grad)?;
        Ok((Some(gx), Some(gh)))
    }
}
