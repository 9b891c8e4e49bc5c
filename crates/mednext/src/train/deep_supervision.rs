//! Deep-supervision weights and the weighted sum of per-output losses.
//!
//! References (read, not copied): MIC-DKFZ/nnUNet v1.7.1 `nnunet/training/network_training/nnUNetTrainerV2.py`
//! (`initialize`: weights from `net_num_pool_op_kernel_sizes`) and `nnunet/training/loss_functions/
//! deep_supervision.py` (`MultipleOutputLoss2`), the trainers MedNeXt inherits; nnU-Net v2.8.1
//! `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py` (`_build_loss`) and `nnunetv2/training/loss/
//! deep_supervision.py` (`DeepSupervisionWrapper`). See `/work/shared/reference/mednext.md` §13 and
//! `nnunet.md` §6.2.

use candle_core::{bail, Result, Tensor};

use super::loss::SegLoss;

/// Deep-supervision weights of the nnU-Net v1 trainers that MedNeXt uses, for a network with `n_outputs`
/// outputs (highest resolution first) trained on a plan with `net_numpool` pooling operations.
///
/// ```text
/// w_i = 1 / 2^i                 for i < net_numpool
/// w_{net_numpool − 1} = 0       (if net_numpool > 1)
/// w   = w / Σ w
/// ```
///
/// Output `i` gets `w_i`; outputs beyond `net_numpool` get 0 (v1 would fail with an index error), and
/// `net_numpool = 0` is treated as 1 (one supervised output). The normalisation runs over all
/// `net_numpool` entries, so with more pool ops than outputs the returned weights sum to less than 1:
///
/// ```text
/// 5 pool ops, 5 outputs: [0.5333, 0.2667, 0.1333, 0.0667, 0]
/// 6 pool ops, 5 outputs: [0.5161, 0.2581, 0.1290, 0.0645, 0.0323]   (the 6th weight, 0, has no output)
/// ```
///
/// nnU-Net v2 derives the weights from the number of outputs instead: [`deep_supervision_weights_v2`].
#[must_use]
pub fn deep_supervision_weights(n_outputs: usize, net_numpool: usize) -> Vec<f64> {
    let numpool = net_numpool.max(1);
    let mut w: Vec<f64> = (0..numpool).map(|i| 0.5f64.powi(i as i32)).collect();
    if numpool > 1 {
        w[numpool - 1] = 0.0;
    }
    let sum: f64 = w.iter().sum();
    (0..n_outputs)
        .map(|i| w.get(i).map_or(0.0, |v| v / sum))
        .collect()
}

/// Deep-supervision weights of nnU-Net v2 (`nnUNetTrainer._build_loss`): one weight per output.
///
/// ```text
/// w_i = 1 / 2^i  for i < n_outputs,   w_{n_outputs − 1} = 0 (if n_outputs > 1),   w = w / Σ w
/// ```
///
/// (v2 uses 1e-6 instead of 0 for the last weight under DDP without `torch.compile`; not reproduced.)
/// For 5 outputs: `[0.5333, 0.2667, 0.1333, 0.0667, 0]`.
#[must_use]
pub fn deep_supervision_weights_v2(n_outputs: usize) -> Vec<f64> {
    if n_outputs == 0 {
        return Vec::new();
    }
    deep_supervision_weights(n_outputs, n_outputs)
}

/// The weighted sum of `loss` over the outputs and their targets (same order, highest resolution first),
/// skipping zero weights:
///
/// ```text
/// L = Σ_{i : w_i ≠ 0} w_i · loss(outputs[i], targets[i])
/// ```
///
/// # Errors
/// `outputs`, `targets` and `weights` of different lengths, no non-zero weight, or an error of `loss`.
pub fn deep_supervision_loss(
    loss: &SegLoss,
    outputs: &[Tensor],
    targets: &[Tensor],
    weights: &[f64],
) -> Result<Tensor> {
    if outputs.len() != targets.len() || outputs.len() != weights.len() {
        bail!(
            "deep supervision: {} outputs, {} targets and {} weights (must be equal)",
            outputs.len(),
            targets.len(),
            weights.len()
        );
    }
    let mut total: Option<Tensor> = None;
    for (i, ((out, target), &w)) in outputs.iter().zip(targets).zip(weights).enumerate() {
        if w == 0.0 {
            continue;
        }
        let term = (loss
            .loss(out, target)
            .map_err(|e| e.context(format!("deep supervision output {i}")))?
            * w)?;
        total = Some(match total {
            Some(t) => (t + term)?,
            None => term,
        });
    }
    match total {
        Some(t) => Ok(t),
        None => bail!("deep supervision: all {} weights are zero", weights.len()),
    }
}
