//! nnU-Net's online validation metric: the "pseudo Dice" of the argmax of the full-resolution output, with
//! true/false positives and false negatives summed over all validation batches of an epoch, and its EMA.
//!
//! ```text
//! pred = argmax_k out_0[b, k, …]                        (per voxel)
//! per foreground class c ≥ 1, summed over batches, samples and voxels:
//!   TP_c = #(pred = c ∧ y = c),  FP_c = #(pred = c ∧ y ≠ c),  FN_c = #(pred ≠ c ∧ y = c)
//! pseudo_dice_c = 2·TP_c / (2·TP_c + FP_c + FN_c)       (NaN → None when the denominator is 0)
//! mean_fg_dice  = nanmean_c pseudo_dice_c
//! ema           = mean_fg_dice                          for the first value
//!                 α·ema + (1 − α)·mean_fg_dice          afterwards (α = 0.9)
//! ```
//! Deviation: an epoch whose `mean_fg_dice` is NaN (no foreground anywhere) leaves the EMA unchanged instead of
//! turning it into NaN for the rest of the run.
//!
//! References: nnU-Net v2.8.1 `nnUNetTrainer.validation_step` / `on_validation_epoch_end` (tp/fp/fn of the
//! one-hot argmax, `global_dc_per_class`, `mean_fg_dice = nanmean`), `nnunet_logger.py` (`ema_fg_dice`);
//! nnU-Net v1 `network_trainer.update_eval_criterion_MA` (`val_eval_criterion_alpha = 0.9`).

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};

/// Sums of TP, FP and FN per foreground class over the validation batches of an epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnlineDice {
    tp: Vec<u64>,
    fp: Vec<u64>,
    fn_: Vec<u64>,
}

impl OnlineDice {
    /// An empty accumulator for `n_classes` classes (background included, so `n_classes − 1` foreground).
    #[must_use]
    pub fn new(n_classes: usize) -> Self {
        let n = n_classes.saturating_sub(1);
        OnlineDice {
            tp: vec![0; n],
            fp: vec![0; n],
            fn_: vec![0; n],
        }
    }

    /// Adds one batch: `logits` `(B, K, z, y, x)` and the label map `target` `(B, 1, z, y, x)` or
    /// `(B, z, y, x)` (any integer or float dtype holding labels).
    ///
    /// # Errors
    /// [`Error::InputShape`] when the shapes disagree or `K` differs from the accumulator's classes;
    /// [`Error::Candle`] from the tensor ops.
    pub fn add_batch(&mut self, logits: &Tensor, target: &Tensor) -> Result<()> {
        let k = logits.dim(1)?;
        if k != self.tp.len() + 1 {
            return Err(Error::InputShape {
                shape: logits.dims().to_vec(),
                reason: format!("online Dice expects {} classes", self.tp.len() + 1),
            });
        }
        let pred = logits
            .argmax(1)?
            .flatten_all()?
            .to_dtype(DType::U32)?
            .to_vec1::<u32>()?;
        let labels = target
            .to_dtype(DType::F32)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        if labels.len() != pred.len() {
            return Err(Error::InputShape {
                shape: target.dims().to_vec(),
                reason: format!(
                    "target has {} voxels, the prediction {:?} has {}",
                    labels.len(),
                    logits.dims(),
                    pred.len()
                ),
            });
        }
        self.add_labels(&pred, &labels);
        Ok(())
    }

    /// Adds flat predicted labels and target labels (same length).
    pub fn add_labels(&mut self, pred: &[u32], target: &[f32]) {
        for (&p, &t) in pred.iter().zip(target) {
            let t = t as i64;
            let p = i64::from(p);
            if p == t {
                if p >= 1 && ((p - 1) as usize) < self.tp.len() {
                    self.tp[(p - 1) as usize] += 1;
                }
                continue;
            }
            if p >= 1 && ((p - 1) as usize) < self.fp.len() {
                self.fp[(p - 1) as usize] += 1;
            }
            if t >= 1 && ((t - 1) as usize) < self.fn_.len() {
                self.fn_[(t - 1) as usize] += 1;
            }
        }
    }

    /// Pseudo Dice per foreground class (`None` when the class is absent from prediction and target).
    #[must_use]
    pub fn pseudo_dice(&self) -> Vec<Option<f64>> {
        (0..self.tp.len())
            .map(|c| {
                let den = 2 * self.tp[c] + self.fp[c] + self.fn_[c];
                (den > 0).then(|| 2.0 * self.tp[c] as f64 / den as f64)
            })
            .collect()
    }

    /// nanmean of [`Self::pseudo_dice`] (`None` when every class is NaN).
    #[must_use]
    pub fn mean_fg_dice(&self) -> Option<f64> {
        let v: Vec<f64> = self.pseudo_dice().into_iter().flatten().collect();
        (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
    }
}

/// The EMA update of the module docs.
#[must_use]
pub fn ema_update(previous: Option<f64>, value: Option<f64>, alpha: f64) -> Option<f64> {
    match (previous, value) {
        (Some(p), Some(v)) => Some(alpha * p + (1.0 - alpha) * v),
        (None, v) => v,
        (p, None) => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn pseudo_dice_counts() {
        let mut d = OnlineDice::new(3);
        // pred:   1 1 0 2 2 0
        // target: 1 0 1 2 0 0
        d.add_labels(&[1, 1, 0, 2, 2, 0], &[1.0, 0.0, 1.0, 2.0, 0.0, 0.0]);
        // class 1: tp 1, fp 1, fn 1 -> 2/4; class 2: tp 1, fp 1, fn 0 -> 2/3
        assert_eq!(d.pseudo_dice(), vec![Some(0.5), Some(2.0 / 3.0)]);
        assert_eq!(d.mean_fg_dice(), Some((0.5 + 2.0 / 3.0) / 2.0));
        let empty = OnlineDice::new(2);
        assert_eq!(empty.pseudo_dice(), vec![None]);
        assert_eq!(empty.mean_fg_dice(), None);
    }

    #[test]
    fn from_logits() -> Result<()> {
        // (B=1, K=2, 1, 1, 3): argmax = [1, 0, 1]; target [1, 1, 0].
        let logits = Tensor::from_vec(
            vec![0.0f32, 1.0, 0.0, 1.0, 0.0, 2.0],
            (1, 2, 1, 1, 3),
            &Device::Cpu,
        )?;
        let target = Tensor::from_vec(vec![1u8, 1, 0], (1, 1, 1, 1, 3), &Device::Cpu)?;
        let mut d = OnlineDice::new(2);
        d.add_batch(&logits, &target)?;
        assert_eq!(d.pseudo_dice(), vec![Some(2.0 / 4.0)]);
        assert_eq!(ema_update(None, Some(0.5), 0.9), Some(0.5));
        assert_eq!(ema_update(Some(0.5), Some(1.0), 0.9), Some(0.9 * 0.5 + 0.1));
        assert_eq!(ema_update(Some(0.5), None, 0.9), Some(0.5));
        Ok(())
    }
}
