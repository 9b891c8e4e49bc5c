//! AdamW exactly as `torch.optim.AdamW` (no amsgrad, not maximising), with the MedNeXt trainer's settings as
//! the default.
//!
//! Reference (read, not copied): pytorch/pytorch `torch/optim/adamw.py` / `torch/optim/adam.py`
//! (`_single_tensor_adam` with `decoupled_weight_decay`); MIC-DKFZ/MedNeXt
//! `nnunet_mednext/training/network_training/MedNeXt/nnUNetTrainerV2_MedNeXt.py`
//! (`nnUNetTrainerV2_Optim_and_LR`: lr 1e-3, weight decay 3e-5, eps 1e-4, betas 0.9/0.999).

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{bail, Result, Tensor, Var};

use super::{check_buffer, check_params, grad_of, read_step, step_tensor, Param, TrainOptimizer};

/// AdamW hyper-parameters. `Default` is the MedNeXt trainers' (`nnUNetTrainerV2_Optim_and_LR`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWConfig {
    /// Learning rate (1e-3).
    pub lr: f64,
    /// First-moment decay β1 (0.9).
    pub beta1: f64,
    /// Second-moment decay β2 (0.999).
    pub beta2: f64,
    /// Denominator epsilon (1e-4; MedNeXt: "1e-8 might cause nans in fp16").
    pub eps: f64,
    /// Decoupled weight decay λ (3e-5).
    pub weight_decay: f64,
}

impl Default for AdamWConfig {
    fn default() -> Self {
        Self {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-4,
            weight_decay: 3e-5,
        }
    }
}

/// Per-parameter buffers (torch's `state[p]`).
#[derive(Debug, Clone)]
struct AdamState {
    exp_avg: Tensor,
    exp_avg_sq: Tensor,
    step: u64,
}

/// AdamW over named parameters.
///
/// Per parameter with gradient `g`, at its step `t` (counted per parameter, from 1):
///
/// ```text
/// p ← p · (1 − lr·λ)
/// m ← m + (1 − β1)·(g − m)              (torch: exp_avg.lerp_(g, 1 − β1))
/// v ← β2·v + (1 − β2)·g²
/// denom = sqrt(v) / sqrt(1 − β2^t) + eps
/// p ← p − (lr / (1 − β1^t)) · m / denom
/// ```
///
/// State keys: `"<param>.exp_avg"`, `"<param>.exp_avg_sq"`, `"<param>.step"` (scalar f64) and `"step"`.
#[derive(Debug)]
pub struct AdamW {
    params: Vec<Param>,
    states: Vec<Option<AdamState>>,
    cfg: AdamWConfig,
    steps: u64,
}

impl AdamW {
    /// An AdamW over `params` (state-dict key, variable), in the given order.
    ///
    /// # Errors
    /// A duplicate name, a non-float parameter, or an out-of-range hyper-parameter (negative lr, eps or
    /// weight decay, betas outside `[0, 1)`).
    pub fn new(params: Vec<(String, Var)>, cfg: AdamWConfig) -> Result<Self> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        if !ok(cfg.lr) || !ok(cfg.eps) || !ok(cfg.weight_decay) {
            bail!("AdamW: lr, eps and weight_decay must be finite and >= 0, got {cfg:?}");
        }
        if !(0.0..1.0).contains(&cfg.beta1) || !(0.0..1.0).contains(&cfg.beta2) {
            bail!("AdamW: betas must lie in [0, 1), got {cfg:?}");
        }
        let params = check_params(params, "AdamW")?;
        let states = vec![None; params.len()];
        Ok(Self {
            params,
            states,
            cfg,
            steps: 0,
        })
    }

    /// The hyper-parameters (with the current learning rate).
    #[must_use]
    pub fn config(&self) -> &AdamWConfig {
        &self.cfg
    }

    /// Number of [`step`](TrainOptimizer::step) calls so far.
    #[must_use]
    pub fn steps(&self) -> u64 {
        self.steps
    }
}

impl TrainOptimizer for AdamW {
    fn step(&mut self, grads: &GradStore) -> Result<()> {
        let AdamWConfig {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } = self.cfg;
        for (p, state) in self.params.iter().zip(self.states.iter_mut()) {
            let Some(g) = grad_of(p, grads, "AdamW")? else {
                continue;
            };
            let st = match state.take() {
                Some(s) => s,
                None => AdamState {
                    exp_avg: g.zeros_like()?,
                    exp_avg_sq: g.zeros_like()?,
                    step: 0,
                },
            };
            let t = st.step + 1;
            let theta = p.var.as_tensor();
            let theta = if weight_decay != 0.0 {
                (theta * (1.0 - lr * weight_decay))?
            } else {
                theta.detach()
            };
            let exp_avg = (&st.exp_avg + ((&g - &st.exp_avg)? * (1.0 - beta1))?)?;
            let exp_avg_sq = ((&st.exp_avg_sq * beta2)? + (g.sqr()? * (1.0 - beta2))?)?;
            let bc1 = 1.0 - beta1.powf(t as f64);
            let bc2_sqrt = (1.0 - beta2.powf(t as f64)).sqrt();
            let denom = ((exp_avg_sq.sqrt()? / bc2_sqrt)? + eps)?;
            let next = (theta - ((&exp_avg / denom)? * (lr / bc1))?)?;
            p.var.set(&next)?;
            *state = Some(AdamState {
                exp_avg,
                exp_avg_sq,
                step: t,
            });
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
        let mut out = Vec::with_capacity(3 * self.params.len() + 1);
        for (p, st) in self.params.iter().zip(&self.states) {
            if let Some(st) = st {
                out.push((format!("{}.exp_avg", p.name), st.exp_avg.clone()));
                out.push((format!("{}.exp_avg_sq", p.name), st.exp_avg_sq.clone()));
                out.push((
                    format!("{}.step", p.name),
                    step_tensor(st.step, &st.exp_avg)?,
                ));
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
        let mut parts: Vec<[Option<Tensor>; 2]> = vec![[None, None]; self.params.len()];
        let mut steps: Vec<Option<u64>> = vec![None; self.params.len()];
        let mut global = None;
        for (key, t) in state {
            if key == "step" {
                global = Some(read_step(key, t)?);
                continue;
            }
            let found = [".exp_avg_sq", ".exp_avg", ".step"]
                .iter()
                .enumerate()
                .find_map(|(slot, suffix)| {
                    let name = key.strip_suffix(suffix)?;
                    index.get(name).map(|&i| (slot, i))
                });
            match found {
                Some((2, i)) => steps[i] = Some(read_step(key, t)?),
                Some((slot, i)) => {
                    parts[i][1 - slot] = Some(check_buffer(key, t, &self.params[i])?)
                }
                None => bail!("AdamW state: key `{key}` names no parameter buffer"),
            }
        }
        let mut states = vec![None; self.params.len()];
        for (i, ([m, v], s)) in parts.into_iter().zip(steps).enumerate() {
            states[i] = match (m, v, s) {
                (Some(exp_avg), Some(exp_avg_sq), Some(step)) => Some(AdamState {
                    exp_avg,
                    exp_avg_sq,
                    step,
                }),
                (None, None, None) => None,
                _ => bail!(
                    "AdamW state: parameter `{}` needs exp_avg, exp_avg_sq and step together",
                    self.params[i].name
                ),
            };
        }
        self.states = states;
        self.steps = global.unwrap_or(0);
        Ok(())
    }
}
