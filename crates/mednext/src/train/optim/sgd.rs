//! SGD with momentum, Nesterov and coupled weight decay exactly as `torch.optim.SGD` (dampening 0), with
//! nnU-Net v2's settings as the default.
//!
//! Reference (read, not copied): pytorch/pytorch `torch/optim/sgd.py` (`_single_tensor_sgd`);
//! MIC-DKFZ/nnUNet `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py` (`configure_optimizers`: lr 1e-2,
//! momentum 0.99, Nesterov, weight decay 3e-5).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{bail, Result, Tensor, Var};

use super::{check_buffer, check_params, grad_of, read_step, Param, TrainOptimizer};

/// SGD hyper-parameters. `Default` is nnU-Net v2's trainer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SgdConfig {
    /// Learning rate (1e-2).
    pub lr: f64,
    /// Momentum μ (0.99); 0 disables the momentum buffer.
    pub momentum: f64,
    /// Nesterov momentum (true).
    pub nesterov: bool,
    /// Coupled (L2) weight decay λ (3e-5).
    pub weight_decay: f64,
}

impl Default for SgdConfig {
    fn default() -> Self {
        Self {
            lr: 1e-2,
            momentum: 0.99,
            nesterov: true,
            weight_decay: 3e-5,
        }
    }
}

/// SGD over named parameters.
///
/// Per parameter with gradient `g`:
///
/// ```text
/// g ← g + λ·p
/// b ← g                      on the parameter's first step
/// b ← μ·b + g                afterwards
/// g ← g + μ·b  (Nesterov)    or   g ← b  (plain momentum)
/// p ← p − lr·g
/// ```
///
/// State keys: `"<param>.momentum_buffer"` (when μ ≠ 0) and `"step"`.
#[derive(Debug)]
pub struct Sgd {
    params: Vec<Param>,
    buffers: Vec<Option<Tensor>>,
    cfg: SgdConfig,
    steps: u64,
}

impl Sgd {
    /// An SGD over `params` (state-dict key, variable), in the given order.
    ///
    /// # Errors
    /// A duplicate name, a non-float parameter, a negative or non-finite lr / momentum / weight decay, or
    /// Nesterov without momentum (torch's rule).
    pub fn new(params: Vec<(String, Var)>, cfg: SgdConfig) -> Result<Self> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(cfg.lr) || !ok(cfg.momentum) || !ok(cfg.weight_decay) {
            bail!("SGD: lr, momentum and weight_decay must be finite and >= 0, got {cfg:?}");
        }
        if cfg.nesterov && cfg.momentum == 0.0 {
            bail!("SGD: Nesterov momentum requires momentum > 0");
        }
        let params = check_params(params, "SGD")?;
        let buffers = vec![None; params.len()];
        Ok(Self {
            params,
            buffers,
            cfg,
            steps: 0,
        })
    }

    /// The hyper-parameters (with the current learning rate).
    #[must_use]
    pub fn config(&self) -> &SgdConfig {
        &self.cfg
    }

    /// Number of [`step`](TrainOptimizer::step) calls so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl TrainOptimizer for Sgd {
    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let SgdConfig {
            lr,
            momentum,
            nesterov,
            weight_decay,
        } = self.cfg;
        for (p, buf) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(mut g) = grad_of(p, grads, "SGD")? else {
                continue;
            };
            let theta = p.var.as_tensor();
            if weight_decay != 0.0 {
                g = (g + (theta * weight_decay)?)?;
            }
            if momentum != 0.0 {
                let b = match buf.take() {
                    None => g.clone(),
                    Some(b) => ((b * momentum)? + &g)?,
                };
                g = if nesterov {
                    (g + (&b * momentum)?)?
                } else {
                    b.clone()
                };
                *buf = Some(b);
            }
            let next = (theta - (g * lr)?)?;
            p.var.set(&next)?;
        }
        self.steps += 1;
        Ok(())
    }

    fn learning_rate(&self) -> f64 {
        self.cfg.lr
    }

    fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    fn state(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(self.params.len() + 1);
        for (p, b) in self.params.iter().zip(&self.buffers) {
            if let Some(b) = b {
                out.push((format!("{}.momentum_buffer", p.name), b.clone()));
            }
        }
        out.push((
            "step".to_string(),
            Tensor::new(self.steps as f64, &candle_core::Device::Cpu)?,
        ));
        Ok(out)
    }

    fn load_state(&mut self, state: &[(String, Tensor)]) -> Result<()> {
        let index: HashMap<&str, usize> = self
            .params
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        let mut buffers = vec![None; self.params.len()];
        let mut global = None;
        for (key, t) in state {
            if key == "step" {
                global = Some(read_step(key, t)?);
                continue;
            }
            let slot = key
                .strip_suffix(".momentum_buffer")
                .and_then(|name| index.get(name).copied());
            match slot {
                Some(i) => buffers[i] = Some(check_buffer(key, t, &self.params[i])?),
                None => bail!("SGD state: key `{key}` names no parameter buffer"),
            }
        }
        self.buffers = buffers;
        self.steps = global.unwrap_or(0);
        Ok(())
    }
}
