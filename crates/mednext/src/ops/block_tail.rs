//! The fused MedNeXt block tail as one candle custom op with a backward pass: per-channel GroupNorm →
//! 1×1×1 expansion → exact GELU → 1×1×1 compression → (+ residual), computed tile by tile
//! ([`super::block_tail_kernel`]) so that the `r·C`-channel activations are never materialised (forward) or
//! kept (backward recomputes them per tile).
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`, `nnunet_mednext/network_architecture/mednextv1/blocks.py`
//! (`MedNeXtBlock.forward` after `conv1`); the same numbers as the composition
//! `conv1x1x1(bias_gelu(conv1x1x1(channel_group_norm(a, γ, β, ε), W2), b2), W3, b3) [+ x]` of this module's
//! separate ops, up to summation order. Gradients reach the parameters through one flat "hook" tensor
//! `cat(flatten(γ), flatten(β), flatten(W2), b2, flatten(W3), b3)` whose backward (`cat`/`reshape`) routes
//! them to each parameter — the technique of [`crate::recompute`].

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Storage, Tensor};

use super::block_tail_kernel::{self as kernel, TailDims, TailWeights};
use super::storage::{check_channels, check_f32_cpu, dims5, slice, Dims5};

/// The parameters of a fused block tail ([`block_tail`]), PyTorch shapes.
#[derive(Debug, Clone, Copy)]
pub struct BlockTail<'a> {
    /// GroupNorm scale `γ`, `C` elements.
    pub gamma: &'a Tensor,
    /// GroupNorm shift `β`, `C` elements.
    pub beta: &'a Tensor,
    /// Expansion `conv2.weight`, `(r·C, C, 1, 1, 1)`.
    pub conv2_weight: &'a Tensor,
    /// Expansion `conv2.bias`, `r·C` elements.
    pub conv2_bias: &'a Tensor,
    /// Compression `conv3.weight`, `(C_out, r·C, 1, 1, 1)`.
    pub conv3_weight: &'a Tensor,
    /// Compression `conv3.bias`, `C_out` elements.
    pub conv3_bias: &'a Tensor,
    /// GroupNorm epsilon (MedNeXt: 1e-5).
    pub eps: f64,
}

/// The tail of a MedNeXt block after its depthwise convolution, fused: exactly
/// `conv3(gelu(conv2(GroupNorm(C, C)(a)))) [+ residual]` of the original.
///
/// ```text
/// n = γ[c]·(a[n,c,v] − μ[n,c]) / √(σ²[n,c] + ε) + β[c]              (per-channel GroupNorm, biased σ²)
/// y[n,o,v] = b3[o] + Σ_j W3[o,j] · gelu_erf(b2[j] + Σ_c W2[j,c] · n[n,c,v])  [+ residual[n,o,v]]
/// ```
///
/// `a`: `(N, C, D, H, W)` f32; `residual`: `(N, C_out, D, H, W)`. Differentiable in `a`, every parameter and
/// `residual` (first order). Memory: the op keeps only `a` (and the flat parameter copy) for its backward
/// pass, which recomputes the expanded activations tile by tile; no `r·C`-channel tensor is ever allocated.
///
/// # Errors
/// When a shape or dtype is invalid (the message names the argument and its shape), `eps` is negative or not
/// finite, or a tensor is not on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{DType, Device, Tensor};
/// use mednext::ops::{block_tail, BlockTail};
/// let dev = Device::Cpu;
/// let a = Tensor::arange(0f32, 16.0, &dev)?.reshape((1, 2, 2, 2, 2))?;
/// let (g, b) = (Tensor::ones(2, DType::F32, &dev)?, Tensor::zeros(2, DType::F32, &dev)?);
/// let w2 = Tensor::ones((4, 2, 1, 1, 1), DType::F32, &dev)?;
/// let b2 = Tensor::zeros(4, DType::F32, &dev)?;
/// let w3 = Tensor::zeros((2, 4, 1, 1, 1), DType::F32, &dev)?;
/// let b3 = Tensor::new(&[1f32, -1.0], &dev)?;
/// let p = BlockTail { gamma: &g, beta: &b, conv2_weight: &w2, conv2_bias: &b2, conv3_weight: &w3,
///                     conv3_bias: &b3, eps: 1e-5 };
/// let y = block_tail(&a, &p, None)?; // W3 = 0: y = b3
/// assert_eq!(y.flatten_all()?.to_vec1::<f32>()?[..2], [1.0, 1.0]);
/// # Ok(())
/// # }
/// ```
pub fn block_tail(a: &Tensor, p: &BlockTail, residual: Option<&Tensor>) -> Result<Tensor> {
    const OP: &str = "block_tail";
    check_f32_cpu(OP, "a", a)?;
    let [n, c, d, h, w] = dims5(OP, "a", a.shape())?;
    let dims = tail_dims(OP, [n, c, d, h, w], p)?;
    let hook = Tensor::cat(&flat_params(p)?, 0)?;
    let co = dims.co;
    let node = TailOp {
        dims,
        out_shape: [n, co, d, h, w],
        eps: p.eps,
    };
    let a = a.contiguous()?;
    match residual {
        Some(x) => {
            check_f32_cpu(OP, "residual", x)?;
            if x.dims() != node.out_shape {
                bail!(
                    "{OP}: `residual` must have shape {:?}, got {:?}",
                    node.out_shape,
                    x.dims()
                );
            }
            a.apply_op3(&hook, &x.contiguous()?, node)
        }
        None => a.apply_op2(&hook, node),
    }
}

/// Checks the tail parameters against the depthwise output's shape `a` and returns the kernel sizes.
///
/// # Errors
/// When a parameter is not f32 on the CPU, has the wrong shape, or `eps` is negative or not finite.
pub(crate) fn tail_dims(op: &str, a: Dims5, p: &BlockTail) -> Result<TailDims> {
    for (name, t) in [
        ("gamma", p.gamma),
        ("beta", p.beta),
        ("conv2_weight", p.conv2_weight),
        ("conv2_bias", p.conv2_bias),
        ("conv3_weight", p.conv3_weight),
        ("conv3_bias", p.conv3_bias),
    ] {
        check_f32_cpu(op, name, t)?;
    }
    let [n, c, d, h, w] = a;
    let w2 = dims5(op, "conv2_weight", p.conv2_weight.shape())?;
    let w3 = dims5(op, "conv3_weight", p.conv3_weight.shape())?;
    let (rc, co) = (w2[0], w3[0]);
    if w2[1..] != [c, 1, 1, 1] {
        bail!("{op}: `conv2_weight` must be (rC, C = {c}, 1, 1, 1), got {w2:?}");
    }
    if w3[1..] != [rc, 1, 1, 1] {
        bail!("{op}: `conv3_weight` must be (C_out, rC = {rc}, 1, 1, 1), got {w3:?}");
    }
    check_channels(op, "gamma", p.gamma, c)?;
    check_channels(op, "beta", p.beta, c)?;
    check_channels(op, "conv2_bias", p.conv2_bias, rc)?;
    check_channels(op, "conv3_bias", p.conv3_bias, co)?;
    if !(p.eps >= 0.0 && p.eps.is_finite()) {
        bail!("{op}: eps must be finite and ≥ 0, got {}", p.eps);
    }
    Ok(TailDims {
        n,
        c,
        rc,
        co,
        v: d * h * w,
    })
}

/// The tail parameters flattened in the hook order `[γ, β, W2, b2, W3, b3]`.
pub(crate) fn flat_params(p: &BlockTail) -> Result<Vec<Tensor>> {
    [
        p.gamma,
        p.beta,
        p.conv2_weight,
        p.conv2_bias,
        p.conv3_weight,
        p.conv3_bias,
    ]
    .map(|t| t.flatten_all())
    .into_iter()
    .collect()
}

/// The autograd node `(a, hook[, residual])`.
#[derive(Debug, Clone, Copy)]
struct TailOp {
    dims: TailDims,
    out_shape: [usize; 5],
    eps: f64,
}

impl TailOp {
    fn weights<'a>(&self, hook: &'a [f32]) -> Result<TailWeights<'a>> {
        match TailWeights::split(hook, self.dims, self.eps) {
            Some(w) => Ok(w),
            None => bail!(
                "block_tail: parameter vector has {} values, expected {}",
                hook.len(),
                kernel::param_len(self.dims)
            ),
        }
    }

    fn fwd(
        &self,
        a: (&CpuStorage, &Layout),
        hook: (&CpuStorage, &Layout),
        res: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        const OP: &str = "block-tail";
        let xa = slice(OP, "a", a.0, a.1)?;
        let params = self.weights(slice(OP, "parameters", hook.0, hook.1)?)?;
        let r = match res {
            Some((s, l)) => Some(slice(OP, "residual", s, l)?),
            None => None,
        };
        let y = kernel::forward(xa, self.dims, &params, r);
        Ok((CpuStorage::F32(y), Shape::from(self.out_shape.to_vec())))
    }

    /// `(∂L/∂a, ∂L/∂hook)`.
    fn grads(&self, a: &Tensor, hook: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor)> {
        const OP: &str = "block-tail-bwd";
        let grad = grad.contiguous()?;
        let (sa, la) = a.storage_and_layout();
        let (sh, lh) = hook.storage_and_layout();
        let (sg, lg) = grad.storage_and_layout();
        let (Storage::Cpu(sa), Storage::Cpu(sh), Storage::Cpu(sg)) = (&*sa, &*sh, &*sg) else {
            bail!("{OP}: only the CPU is implemented so far");
        };
        let params = self.weights(slice(OP, "parameters", sh, lh)?)?;
        let g = kernel::backward(
            slice(OP, "a", sa, la)?,
            self.dims,
            &params,
            slice(OP, "grad", sg, lg)?,
        );
        Ok((
            Tensor::from_vec(g.a, a.shape(), a.device())?,
            Tensor::from_vec(g.params, hook.shape(), hook.device())?,
        ))
    }
}

impl CustomOp2 for TailOp {
    fn name(&self) -> &'static str {
        "mednext-block-tail"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        self.fwd((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        a: &Tensor,
        hook: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (ga, gh) = self.grads(a, hook, grad)?;
        Ok((Some(ga), Some(gh)))
    }
}

impl CustomOp3 for TailOp {
    fn name(&self) -> &'static str {
        "mednext-block-tail"
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
        self.fwd((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        a: &Tensor,
        hook: &Tensor,
        _x: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (ga, gh) = self.grads(a, hook, grad)?;
        Ok((Some(ga), Some(gh), Some(grad.clone())))
    }
}
