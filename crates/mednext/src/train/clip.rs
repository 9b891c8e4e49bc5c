//! Gradient-norm clipping with `torch.nn.utils.clip_grad_norm_` semantics (2-norm, `foreach` not relevant).
//!
//! Reference (read, not copied): pytorch/pytorch `torch/nn/utils/clip_grad.py` (`clip_grad_norm_`,
//! `_get_total_norm`, `_clip_grads_with_norm_`); nnU-Net's and MedNeXt's trainers clip at 12.

use candle_core::backprop::GradStore;
use candle_core::{bail, DType, Result, Var};

/// Scales the gradients of `params` in `grads` so that their total 2-norm is at most `max_norm`, and
/// returns the total norm before clipping.
///
/// ```text
/// total = sqrt(Σ_params Σ g²)           (over the parameters that have a gradient)
/// coef  = max_norm / (total + 1e-6)
/// g ← g · coef                          only if coef < 1
/// ```
///
/// Per-tensor sums of squares are taken in the gradients' dtype (f32, as torch), combined in f64. If the
/// total is not finite the gradients are left untouched and the non-finite total is returned, so the caller
/// can skip the step (torch would multiply every gradient by NaN or 0).
///
/// # Errors
/// A negative or NaN `max_norm`, or a candle error.
pub fn clip_grad_norm(grads: &mut GradStore, params: &[Var], max_norm: f64) -> Result<f64> {
    if max_norm.is_nan() || max_norm < 0.0 {
        bail!("clip_grad_norm: max_norm must be >= 0, got {max_norm}");
    }
    let mut sum_sq = 0f64;
    for p in params {
        if let Some(g) = grads.get(p.as_tensor()) {
            let norm = g
                .sqr()?
                .sum_all()?
                .to_dtype(DType::F64)?
                .to_scalar::<f64>()?;
            sum_sq += norm;
        }
    }
    let total = sum_sq.sqrt();
    if !total.is_finite() {
        return Ok(total);
    }
    let coef = max_norm / (total + 1e-6);
    if coef < 1.0 {
        for p in params {
            if let Some(g) = grads.get(p.as_tensor()) {
                let scaled = (g * coef)?;
                grads.insert(p.as_tensor(), scaled);
            }
        }
    }
    Ok(total)
}
