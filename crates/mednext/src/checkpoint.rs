//! Block-level recomputation (gradient checkpointing, `checkpoint_style = "outside_block"`).
//!
//! The original wraps every block, down, up and output block in `torch.utils.checkpoint`: the forward pass
//! keeps only each block's input, the backward pass re-runs the block to get its internal activations.
//! candle has no such feature (candle issue #1423), so it is a custom op here:
//!
//! ```text
//! y = op(x, θ_flat)            θ_flat = cat(flatten(θ_1), …, flatten(θ_m))   (only a graph hook)
//! forward:  y = block(x.detach(); θ.detach())        nothing inside the block is recorded
//! backward: re-run block on fresh variables x', θ' and back-propagate Σ(y' · ∂L/∂y):
//!           ∂L/∂x = ∂/∂x',   ∂L/∂θ_flat = cat(flatten(∂/∂θ'_i))   → routed to each θ_i by `cat`'s backward
//! ```
//!
//! Numerics are those of the plain forward pass; only memory and time change. Blocks whose tail runs as the
//! fused [`crate::ops::block_tail`] already keep only tensors of their input's size (the op recomputes the
//! expanded activations in its backward), so the network runs them without this wrapper
//! ([`Recompute::recomputes_internally`]); it remains for GRN / LayerNorm blocks and for callers. CPU only for now (the forward
//! runs inside `cpu_fwd`); on other devices [`recompute`] falls back to the plain forward pass.
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`, `MedNextV1.py` (`iterative_checkpoint`,
//! `checkpoint.checkpoint(self.down_0, x, self.dummy_tensor)` …); PyTorch `torch/utils/checkpoint.py`
//! (reentrant variant); `reference/rust-notes.md` §4.

use candle_core::{CpuStorage, CustomOp2, Device, Layout, Module, Shape, Storage, Tensor, Var};

use crate::block::{DownBlock, MedNextBlock, OutBlock, UpBlock};

/// A module that can be re-run with substituted parameters, as [`recompute`] needs.
pub trait Recompute: Module + Clone + Send + Sync + 'static {
    /// The same module with every parameter replaced by `f(parameter)`, visiting the parameters in a
    /// fixed order.
    ///
    /// # Errors
    /// Whatever `f` returns.
    fn map_params(
        &self,
        f: &mut dyn FnMut(&Tensor) -> candle_core::Result<Tensor>,
    ) -> candle_core::Result<Self>;

    /// `true` when the module's own backward pass already recomputes its large intermediates (it keeps
    /// only tensors of its input's size), so that [`recompute`] would only add time; the network then runs
    /// it directly even with checkpointing on. Default `false`.
    fn recomputes_internally(&self) -> bool {
        false
    }
}

macro_rules! impl_recompute {
    ($($t:ty => $fused:expr),*) => {$(
        impl Recompute for $t {
            fn map_params(
                &self,
                f: &mut dyn FnMut(&Tensor) -> candle_core::Result<Tensor>,
            ) -> candle_core::Result<Self> {
                self.map_tensors(&mut |t| f(t))
            }

            fn recomputes_internally(&self) -> bool {
                let fused: fn(&Self) -> bool = $fused;
                fused(self)
            }
        }
    )*};
}
impl_recompute!(
    MedNextBlock => MedNextBlock::is_fused,
    DownBlock => DownBlock::is_fused,
    UpBlock => UpBlock::is_fused,
    // a 1×1×1 head keeps only its input either way
    OutBlock => |_| true
);

/// The parameters of `m` in [`Recompute::map_params`] order.
fn params_of<M: Recompute>(m: &M) -> candle_core::Result<Vec<Tensor>> {
    let mut out = Vec::new();
    m.map_params(&mut |t| {
        out.push(t.clone());
        Ok(t.clone())
    })?;
    Ok(out)
}

/// Runs `m` on `x`, keeping only `x` (and a flat copy of `m`'s parameters) for the backward pass, which
/// recomputes `m`. Without gradient tracking (inference), or off the CPU, this is `m.forward(x)`.
///
/// ```text
/// recompute(m, x) = m(x)        gradients w.r.t. x and every parameter of m are those of m(x)
/// ```
///
/// # Errors
/// Any error of `m`'s forward pass.
pub fn recompute<M: Recompute>(m: &M, x: &Tensor) -> candle_core::Result<Tensor> {
    let params = params_of(m)?;
    let tracked = x.track_op() || params.iter().any(|p| p.track_op());
    if !tracked || !matches!(x.device(), Device::Cpu) {
        return m.forward(x);
    }
    let flat: Vec<Tensor> = params
        .iter()
        .map(|p| p.flatten_all())
        .collect::<candle_core::Result<_>>()?;
    let hook = Tensor::cat(&flat, 0)?;
    let detached = m.map_params(&mut |t| Ok(t.detach()))?;
    x.contiguous()?
        .apply_op2(&hook, RecomputeOp { module: detached })
}

/// The custom op behind [`recompute`]; `module` holds detached parameters.
struct RecomputeOp<M> {
    module: M,
}

/// Copies a CPU storage region into a standalone tensor.
fn tensor_from_cpu(s: &CpuStorage, l: &Layout) -> candle_core::Result<Tensor> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((start, end)) => Tensor::from_slice(&data[start..end], l.shape(), &Device::Cpu),
        // `recompute` passes a contiguous input.
        None => candle_core::bail!("mednext-recompute: non-contiguous input"),
    }
}

impl<M: Recompute> CustomOp2 for RecomputeOp<M> {
    fn name(&self) -> &'static str {
        "mednext-recompute"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        _s2: &CpuStorage,
        _l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let x = tensor_from_cpu(s1, l1)?;
        let y = self.module.forward(&x)?.contiguous()?;
        let shape = y.shape().clone();
        let (storage, layout) = y.storage_and_layout();
        let out = match &*storage {
            Storage::Cpu(c) => match layout.contiguous_offsets() {
                Some((0, end)) if end == c.as_slice::<f32>()?.len() => c.clone(),
                _ => CpuStorage::F32(y.flatten_all()?.to_vec1::<f32>()?),
            },
            _ => candle_core::bail!("mednext-recompute: the block ran off the CPU"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        _hook: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let xv = Var::from_tensor(&x.detach().copy()?)?;
        let mut vars = Vec::new();
        let module = self.module.map_params(&mut |t| {
            let v = Var::from_tensor(&t.copy()?)?;
            let out = v.as_tensor().clone();
            vars.push(v);
            Ok(out)
        })?;
        let y = module.forward(xv.as_tensor())?;
        let grads = (y * grad_res.detach())?.sum_all()?.backward()?;
        let gx = match grads.get(xv.as_tensor()) {
            Some(g) => g.clone(),
            None => xv.as_tensor().zeros_like()?,
        };
        let flat = vars
            .iter()
            .map(|v| match grads.get(v.as_tensor()) {
                Some(g) => g.flatten_all(),
                None => v.as_tensor().zeros_like()?.flatten_all(),
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok((Some(gx), Some(Tensor::cat(&flat, 0)?)))
    }
}
