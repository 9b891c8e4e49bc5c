//! Optimisers that update candle `Var`s in place exactly as `torch.optim` does, with
//! per-parameter state named by the parameters' state-dict keys so that checkpoints can store it.
//!
//! candle-nn's `SGD` has no momentum, Nesterov or weight decay, and its `AdamW` keeps anonymous state; these
//! replace both for training MedNeXt the way the reference trainers do (AdamW for the MedNeXt v1 trainers,
//! SGD + Nesterov for nnU-Net v2).
//!
//! References (read, not copied): pytorch/pytorch `torch/optim/adamw.py` / `adam.py` (`_single_tensor_adam`,
//! decoupled weight decay), `torch/optim/sgd.py` (`_single_tensor_sgd`); MIC-DKFZ/MedNeXt
//! `nnUNetTrainerV2_Optim_and_LR`; MIC-DKFZ/nnUNet `nnUNetTrainer.configure_optimizers`.

mod adamw;
mod sgd;

pub use adamw::{AdamW, AdamWConfig};
pub use sgd::{Sgd, SgdConfig};

use candle_core::backprop::GradStore;
use candle_core::{bail, DType, Result, Tensor, Var};

/// An optimiser over named parameters with resumable state.
pub trait TrainOptimizer {
    /// One update of every parameter that has a gradient in `grads`; parameters without one are left alone
    /// (and their state does not advance), as in `torch.optim` for `grad is None`.
    ///
    /// # Errors
    /// A gradient whose shape differs from its parameter's, or a candle error.
    fn step(&mut self, grads: &GradStore) -> Result<()>;

    /// The current learning rate.
    fn learning_rate(&self) -> f64;

    /// Sets the learning rate used by the next [`step`](Self::step) (a schedule calls this once per epoch).
    fn set_learning_rate(&mut self, lr: f64);

    /// The optimiser state as named tensors: `"<param key>.<buffer>"` per parameter that has state
    /// (see each optimiser for its buffers) and `"step"`, the number of `step` calls (a scalar f64 tensor).
    ///
    /// # Errors
    /// A candle error.
    fn state(&self) -> Result<Vec<(String, Tensor)>>;

    /// Restores a state written by [`state`](Self::state). Parameters absent from `state` start fresh.
    ///
    /// # Errors
    /// A key that names no parameter or buffer, a tensor of the wrong shape, or a candle error; the state
    /// is left unchanged on error.
    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()>;
}

/// One parameter: its state-dict key and its variable.
#[derive(Debug)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) var: Var,
}

/// Checks the parameter list (unique names, float dtype) and wraps it.
pub(crate) fn check_params(params: Vec<(String, Var)>, who: &str) -> Result<Vec<Param>> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::with_capacity(params.len());
    for (name, var) in params {
        if !var.dtype().is_float() {
            bail!(
                "{who}: parameter `{name}` has dtype {:?}, not a float type",
                var.dtype()
            );
        }
        if !seen.insert(name.clone()) {
            bail!("{who}: parameter name `{name}` appears twice");
        }
        out.push(Param { name, var });
    }
    Ok(out)
}

/// The gradient of `p` in `grads`, checked against the parameter's shape and cast to its dtype.
pub(crate) fn grad_of(p: &Param, grads: &GradStore, who: &str) -> Result<Option<Tensor>> {
    let Some(g) = grads.get(p.var.as_tensor()) else {
        return Ok(None);
    };
    if g.shape() != p.var.shape() {
        bail!(
            "{who}: gradient of `{}` has shape {:?}, the parameter {:?}",
            p.name,
            g.dims(),
            p.var.dims()
        );
    }
    Ok(Some(g.to_dtype(p.var.dtype())?.detach()))
}

/// A scalar f64 tensor holding a step count.
pub(crate) fn step_tensor(step: u64, like: &Tensor) -> Result<Tensor> {
    Tensor::new(step as f64, like.device())
}

/// Reads a step count written by [`step_tensor`].
pub(crate) fn read_step(key: &str, t: &Tensor) -> Result<u64> {
    let v = t
        .flatten_all()?
        .to_dtype(DType::F64)?
        .to_vec1::<f64>()
        .map_err(|e| e.context(format!("optimizer state `{key}`")))?;
    match v.as_slice() {
        [s] if *s >= 0.0 && s.fract() == 0.0 => Ok(*s as u64),
        _ => bail!("optimizer state `{key}`: expected one non-negative integer, found {v:?}"),
    }
}

/// Checks that a state buffer has its parameter's shape and moves it to the parameter's device and dtype.
pub(crate) fn check_buffer(key: &str, t: &Tensor, p: &Param) -> Result<Tensor> {
    if t.shape() != p.var.shape() {
        bail!(
            "optimizer state `{key}`: shape {:?}, parameter `{}` has {:?}",
            t.dims(),
            p.name,
            p.var.dims()
        );
    }
    t.to_device(p.var.device())?.to_dtype(p.var.dtype())
}
