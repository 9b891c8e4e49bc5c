//! Whole stride-1 MedNeXt blocks as one candle custom op: depthwise `k³` convolution → the fused tail of
//! [`super::block_tail`] (GroupNorm → 1×1×1 expansion → exact GELU → 1×1×1 compression) → `+ x`, for one
//! block ([`fused_block`]) or a chain of blocks such as a whole encoder/decoder stage ([`fused_stage`]).
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
//! faults were ≈ 15 % of a training step). Here `x̄` is produced in place, and in a stage the gradient flows
//! from block to block without a graph node in between. When autograd tracks the op, it keeps each block's
//! input and depthwise output from the forward pass (the two tensors the per-op graph kept) and frees them
//! as the backward pass consumes them; a second backward pass through the same graph recomputes them.

use std::sync::{Mutex, PoisonError};

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Storage, Tensor};
use rayon::prelude::*;

use super::block_tail::{flat_params, tail_dims, BlockTail};
use super::block_tail_kernel::{self as kernel, TailDims, TailWeights};
use super::channel::channel_sums;
use super::depthwise;
use super::storage::{check_channels, check_f32_cpu, dims5, slice, Dims5};

/// One block of a [`fused_stage`]: its depthwise convolution, its tail and whether it adds its input.
#[derive(Debug, Clone, Copy)]
pub struct FusedBlock<'a> {
    /// `conv1` (depthwise, stride 1).
    pub dw: DepthwiseStage<'a>,
    /// Norm, expansion, GELU, compression.
    pub tail: BlockTail<'a>,
    /// `x + …` (`do_res`); needs `C_out = C`.
    pub residual: bool,
}

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
    fused_stage(
        x,
        &[FusedBlock {
            dw: *dw,
            tail: *tail,
            residual,
        }],
    )
}

/// A chain of stride-1 MedNeXt blocks (e.g. one encoder or decoder stage) as one op: exactly
/// `blocks[n−1](… blocks[0](x))` with every block as in [`fused_block`].
///
/// Gradients flow from block to block inside the op (no intermediate graph node, no intermediate gradient
/// tensor); otherwise the same numbers as calling [`fused_block`] per block.
///
/// # Errors
/// As [`fused_block`], naming the block (`block i`) whose parameters do not fit; an empty `blocks` is an
/// error.
pub fn fused_stage(x: &Tensor, blocks: &[FusedBlock]) -> Result<Tensor> {
    const OP: &str = "fused_stage";
    if blocks.is_empty() {
        bail!("{OP}: no blocks");
    }
    check_f32_cpu(OP, "x", x)?;
    let mut xd = dims5(OP, "x", x.shape())?;
    if xd[2..].contains(&0) {
        bail!("{OP}: `x` has an empty spatial axis, shape {xd:?}");
    }
    let mut geoms = Vec::with_capacity(blocks.len());
    let mut parts = Vec::new();
    for (i, b) in blocks.iter().enumerate() {
        let op = format!("{OP}: block {i}");
        check_f32_cpu(&op, "conv1_weight", b.dw.weight)?;
        check_f32_cpu(&op, "conv1_bias", b.dw.bias)?;
        let wd = dims5(&op, "conv1_weight", b.dw.weight.shape())?;
        let k = wd[2];
        if wd != [xd[1], 1, k, k, k] || k % 2 == 0 {
            bail!(
                "{op}: `conv1_weight` must be (C, 1, k, k, k) with C = {} and k odd, got {wd:?}",
                xd[1]
            );
        }
        check_channels(&op, "conv1_bias", b.dw.bias, xd[1])?;
        let dims = tail_dims(&op, xd, &b.tail)?;
        if b.residual && dims.co != dims.c {
            bail!(
                "{op}: the residual needs C_out = C, got C = {} and C_out = {}",
                dims.c,
                dims.co
            );
        }
        parts.push(b.dw.weight.flatten_all()?);
        parts.push(b.dw.bias.flatten_all()?);
        parts.extend(flat_params(&b.tail)?);
        geoms.push(Geom {
            k,
            xd,
            dims,
            residual: b.residual,
            eps: b.tail.eps,
        });
        xd[1] = dims.co;
    }
    let hook = Tensor::cat(&parts, 0)?;
    let node = StageOp {
        blocks: geoms,
        // candle records the op for backward exactly when one of its inputs is tracked
        keep: x.track_op() || hook.track_op(),
        saved: Mutex::new(None),
    };
    x.contiguous()?.apply_op2(&hook, node)
}

/// Sizes of one block of the stage.
#[derive(Debug, Clone, Copy)]
struct Geom {
    k: usize,
    /// Input shape.
    xd: Dims5,
    dims: TailDims,
    residual: bool,
    eps: f64,
}

impl Geom {
    fn param_len(&self) -> usize {
        let c = self.xd[1];
        c * self.k * self.k * self.k + c + kernel::param_len(self.dims)
    }

    fn output_dims(&self) -> Dims5 {
        let [n, _, d, h, w] = self.xd;
        [n, self.dims.co, d, h, w]
    }
}

/// What the forward pass keeps per block for the backward pass: the block's input (none for the first,
/// which is the op's input) and its depthwise output.
type Saved = Vec<(Option<Vec<f32>>, Vec<f32>)>;

/// The autograd node `(x, hook)`, hook = per block `[w1, b1, γ, β, W2, b2, W3, b3]` flat.
#[derive(Debug)]
struct StageOp {
    blocks: Vec<Geom>,
    /// Whether to keep the intermediate tensors for a backward pass.
    keep: bool,
    saved: Mutex<Option<Saved>>,
}

/// The parameters of one block, split out of the hook.
struct Params<'a> {
    w1: &'a [f32],
    b1: &'a [f32],
    tail: TailWeights<'a>,
}

impl StageOp {
    const NAME: &'static str = "mednext-fused-stage";

    fn params<'a>(&self, hook: &'a [f32]) -> Result<Vec<Params<'a>>> {
        let expect: usize = self.blocks.iter().map(Geom::param_len).sum();
        if hook.len() != expect {
            bail!(
                "{}: parameter vector has {} values, expected {expect}",
                Self::NAME,
                hook.len()
            );
        }
        let mut rest = hook;
        let mut out = Vec::with_capacity(self.blocks.len());
        for g in &self.blocks {
            let c = g.xd[1];
            let (w1, r) = rest.split_at(c * g.k * g.k * g.k);
            let (b1, r) = r.split_at(c);
            let (tail, r) = r.split_at(kernel::param_len(g.dims));
            let Some(tail) = TailWeights::split(tail, g.dims, g.eps) else {
                bail!("{}: tail parameter vector has the wrong length", Self::NAME);
            };
            out.push(Params { w1, b1, tail });
            rest = r;
        }
        Ok(out)
    }

    fn depthwise(g: &Geom, x: &[f32], p: &Params) -> Vec<f32> {
        depthwise::forward(x, g.xd, p.w1, g.k, Some(p.b1), 1).0
    }

    /// Runs the blocks on `x`; with `keep`, also returns what the backward pass needs.
    fn run(&self, x: &[f32], params: &[Params], keep: bool) -> (Vec<f32>, Saved) {
        let mut saved = Saved::new();
        let mut cur: Option<Vec<f32>> = None;
        for (g, p) in self.blocks.iter().zip(params) {
            let input = cur.as_deref().unwrap_or(x);
            let a = Self::depthwise(g, input, p);
            let y = kernel::forward(&a, g.dims, &p.tail, g.residual.then_some(input));
            if keep {
                saved.push((cur.take(), a));
            }
            cur = Some(y);
        }
        (cur.unwrap_or_default(), saved)
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
        let params = self.params(slice(Self::NAME, "parameters", sh, lh)?)?;
        let taken = self
            .saved
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let mut saved = match taken {
            Some(s) if s.len() == self.blocks.len() => s,
            _ => self.run(xs, &params, true).1,
        };
        let grad_in = slice(Self::NAME, "grad", sg, lg)?;
        let mut gy_owned: Option<Vec<f32>> = None;
        let mut hook_grads: Vec<Vec<f32>> = Vec::with_capacity(self.blocks.len());
        for (g, p) in self.blocks.iter().zip(&params).rev() {
            let gy = gy_owned.as_deref().unwrap_or(grad_in);
            let (input, a) = saved.pop().unwrap_or_default();
            let input = input.as_deref().unwrap_or(xs);
            let tail = kernel::backward(&a, g.dims, &p.tail, gy);
            drop(a);
            let spatial = [g.xd[2], g.xd[3], g.xd[4]];
            let (mut gx, _) = depthwise::input_grad(&tail.a, g.xd, p.w1, g.k, 1, spatial, None);
            let mut gh = depthwise::weight_grad(input, g.xd, &tail.a, spatial, g.k, 1);
            gh.extend(channel_sums(&tail.a, g.xd));
            gh.extend(tail.params);
            hook_grads.push(gh);
            if g.residual {
                gx.par_chunks_mut(1 << 15)
                    .zip(gy.par_chunks(1 << 15))
                    .for_each(|(g, y)| g.iter_mut().zip(y).for_each(|(g, y)| *g += y));
            }
            gy_owned = Some(gx);
        }
        let gx = gy_owned.unwrap_or_else(|| grad_in.to_vec());
        let gh: Vec<f32> = hook_grads.into_iter().rev().flatten().collect();
        Ok((
            Tensor::from_vec(gx, x.shape(), x.device())?,
            Tensor::from_vec(gh, hook.shape(), hook.device())?,
        ))
    }
}

impl CustomOp2 for StageOp {
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
        let params = self.params(slice(Self::NAME, "parameters", s2, l2)?)?;
        let (y, saved) = self.run(x, &params, self.keep);
        if self.keep {
            *self.saved.lock().unwrap_or_else(PoisonError::into_inner) = Some(saved);
        }
        let out = self
            .blocks
            .last()
            .map_or(vec![0; 5], |g| g.output_dims().to_vec());
        Ok((CpuStorage::F32(y), Shape::from(out)))
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
