//! The trainer's configuration: the MedNeXt nnU-Net v1 trainer settings as a checked serde struct, and the
//! run configuration stored as `<out>/config.json`.
//!
//! ```text
//! Default (nnUNetTrainerV2_Optim_and_LR, as the MedNeXt trainers and the paper use it):
//!   AdamW(lr 1e-3, betas (0.9, 0.999), eps 1e-4, weight_decay 3e-5)
//!   lr(epoch) = 1e-3 · (1 − epoch / max_epochs)^0.9        set at the start of every epoch
//!   250 epochs × 250 iterations, 50 validation iterations, batch 2, patch 128³
//!   clip_grad_norm 12, EMA of the online pseudo Dice: ema = 0.9·ema + 0.1·dice
//!   loss per output = CE + soft Dice (−dc), deep supervision over net_numpool = 5 pool ops
//! ```
//!
//! References: MIC-DKFZ/MedNeXt @ `0b78ed8`
//! `nnunet_mednext/training/network_training/nnUNet_variants/optimizer_and_lr/nnUNetTrainerV2_Optim_and_LR.py`,
//! `nnUNetTrainerV2.py` (`maybe_update_lr`, `initialize_optimizer_and_scheduler`, `max_num_epochs`,
//! `num_batches_per_epoch`), `network_trainer.py` (`val_eval_criterion_alpha = 0.9`); nnU-Net v2.8.1
//! `nnUNetTrainer.py` (SGD Nesterov, momentum 0.99, lr 1e-2); `/work/shared/reference/mednext.md` §13.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::MedNextConfig;
use crate::error::{Error, Result};
use crate::train::run_dir::FoldId;

/// Which optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptimizerKind {
    /// AdamW (decoupled weight decay), the MedNeXt trainers' choice.
    #[default]
    AdamW,
    /// SGD with Nesterov momentum and coupled L2 weight decay (nnU-Net v2's default).
    SgdNesterov,
}

/// Which segmentation loss per deep-supervision output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// nnU-Net's `DC_and_CE_loss`: CE − soft Dice.
    #[default]
    DiceCe,
    /// Dice + CE + focal.
    DiceCeFocal,
}

/// How the soft Dice of the loss is reduced over the batch (nnU-Net's `batch_dice`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiceReduction {
    /// One Dice per sample, averaged (`batch_dice = False`; v1 3d_fullres without a lowres stage).
    #[default]
    Sample,
    /// I, P and G summed over the batch first (`batch_dice = True`).
    Batch,
}

/// The learning-rate schedule, evaluated at the start of every epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// `lr = initial`.
    Constant,
    /// `lr = initial · (1 − epoch/max_epochs)^exponent` (nnU-Net's `poly_lr`, exponent 0.9).
    Poly {
        /// The exponent (0.9).
        exponent: f64,
    },
    /// `lr = min_lr + (initial − min_lr)·(1 + cos(π·epoch/max_epochs))/2`.
    Cosine {
        /// The final learning rate.
        min_lr: f64,
    },
}

impl ScheduleKind {
    /// The schedule object ([`crate::train::schedule::LrSchedule`]).
    #[must_use]
    pub fn to_schedule(self) -> crate::train::schedule::LrSchedule {
        use crate::train::schedule::LrSchedule;
        match self {
            ScheduleKind::Constant => LrSchedule::Constant,
            ScheduleKind::Poly { exponent } => LrSchedule::Poly { exponent },
            ScheduleKind::Cosine { min_lr } => LrSchedule::Cosine { min_lr },
        }
    }
}

impl Default for ScheduleKind {
    fn default() -> Self {
        ScheduleKind::Poly { exponent: 0.9 }
    }
}

/// Which data augmentation the nnU-Net batch source applies to training batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AugmentationKind {
    /// nnU-Net v1 "moreDA" (the MedNeXt trainers).
    #[default]
    V1MoreDa,
    /// nnU-Net v2's default transforms.
    V2Default,
    /// Centre crop, mirroring off, targets only (like validation; for tests and smoke runs).
    None,
}

/// The trainer's settings (`Default`: the MedNeXt trainer, module docs). Check with [`TrainerConfig::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainerConfig {
    /// Epochs (250 in the paper; 1000 in the MedNeXt repository).
    pub max_epochs: usize,
    /// Training iterations (batches) per epoch (250).
    pub iters_per_epoch: usize,
    /// Validation batches per epoch (50).
    pub val_iters: usize,
    /// Samples per batch (2).
    pub batch_size: usize,
    /// Network patch `[pz, py, px]` (128³; every entry a multiple of 16).
    pub patch_size: [usize; 3],
    /// Optimiser.
    pub optimizer: OptimizerKind,
    /// Initial learning rate (AdamW 1e-3; SGD 1e-2).
    pub initial_lr: f64,
    /// Weight decay (3e-5).
    pub weight_decay: f64,
    /// AdamW `(β1, β2)` (0.9, 0.999).
    pub betas: (f64, f64),
    /// AdamW ε (1e-4).
    pub eps: f64,
    /// SGD momentum (0.99).
    pub momentum: f64,
    /// The learning-rate schedule (poly 0.9).
    pub schedule: ScheduleKind,
    /// Maximum global gradient norm (12); `None` disables clipping.
    pub grad_clip: Option<f64>,
    /// Weight of the previous value in the EMA of the online pseudo Dice (0.9).
    pub ema_alpha: f64,
    /// The loss.
    pub loss: LossKind,
    /// Soft-Dice reduction over the batch.
    pub dice: DiceReduction,
    /// Pool operations of the plan (`net_numpool`, 5): deep-supervision weights `1/2^i`, last set to 0.
    pub net_numpool: usize,
    /// `checkpoint_latest` every this many epochs (1: an interruption loses at most one epoch).
    pub save_every: usize,
    /// Seed of the weight initialisation and of the batch streams.
    pub seed: u64,
    /// Fraction of each batch forced to contain foreground (0.33).
    pub oversample_foreground: f64,
    /// Training augmentation.
    pub augmentation: AugmentationKind,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        TrainerConfig {
            max_epochs: 250,
            iters_per_epoch: 250,
            val_iters: 50,
            batch_size: 2,
            patch_size: [128; 3],
            optimizer: OptimizerKind::AdamW,
            initial_lr: 1e-3,
            weight_decay: 3e-5,
            betas: (0.9, 0.999),
            eps: 1e-4,
            momentum: 0.99,
            schedule: ScheduleKind::Poly { exponent: 0.9 },
            grad_clip: Some(12.0),
            ema_alpha: 0.9,
            loss: LossKind::DiceCe,
            dice: DiceReduction::Sample,
            net_numpool: 5,
            save_every: 1,
            seed: 12345,
            oversample_foreground: 0.33,
            augmentation: AugmentationKind::V1MoreDa,
        }
    }
}

impl TrainerConfig {
    /// nnU-Net v2's optimiser instead of AdamW: SGD Nesterov, momentum 0.99, lr 1e-2.
    #[must_use]
    pub fn with_sgd(mut self) -> Self {
        self.optimizer = OptimizerKind::SgdNesterov;
        self.initial_lr = 1e-2;
        self
    }

    /// The learning rate at the start of `epoch` (module docs).
    #[must_use]
    pub fn learning_rate(&self, epoch: usize) -> f64 {
        self.schedule
            .to_schedule()
            .lr(self.initial_lr, epoch, self.max_epochs)
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the first offending key.
    pub fn check(&self) -> Result<()> {
        let bad = |key: &'static str, reason: String| Err(Error::InvalidParameter { key, reason });
        let positive = |v: usize| v >= 1;
        if !positive(self.max_epochs) {
            return bad("max_epochs", "must be ≥ 1".into());
        }
        if !positive(self.iters_per_epoch) {
            return bad("iters_per_epoch", "must be ≥ 1".into());
        }
        if !positive(self.batch_size) {
            return bad("batch_size", "must be ≥ 1".into());
        }
        if !positive(self.save_every) {
            return bad("save_every", "must be ≥ 1".into());
        }
        if self
            .patch_size
            .iter()
            .any(|&p| p == 0 || !p.is_multiple_of(crate::config::SIZE_DIVISOR))
        {
            return bad(
                "patch_size",
                format!(
                    "{:?}: every entry must be a positive multiple of 16",
                    self.patch_size
                ),
            );
        }
        let finite_pos = |v: f64| v.is_finite() && v > 0.0;
        if !finite_pos(self.initial_lr) {
            return bad(
                "initial_lr",
                format!("{} must be finite and > 0", self.initial_lr),
            );
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return bad("weight_decay", format!("{} must be ≥ 0", self.weight_decay));
        }
        let (b1, b2) = self.betas;
        if !((0.0..1.0).contains(&b1) && (0.0..1.0).contains(&b2)) {
            return bad("betas", format!("({b1}, {b2}) must lie in [0, 1)"));
        }
        if !finite_pos(self.eps) {
            return bad("eps", format!("{} must be finite and > 0", self.eps));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", format!("{} must lie in [0, 1)", self.momentum));
        }
        match self.schedule {
            ScheduleKind::Poly { exponent } if !finite_pos(exponent) => {
                return bad("schedule", format!("poly exponent {exponent} must be > 0"));
            }
            ScheduleKind::Cosine { min_lr }
                if !(min_lr.is_finite() && (0.0..=self.initial_lr).contains(&min_lr)) =>
            {
                return bad(
                    "schedule",
                    format!("cosine min_lr {min_lr} ∉ [0, initial_lr]"),
                );
            }
            _ => {}
        }
        if let Some(c) = self.grad_clip {
            if !finite_pos(c) {
                return bad("grad_clip", format!("{c} must be finite and > 0"));
            }
        }
        if !(0.0..1.0).contains(&self.ema_alpha) {
            return bad(
                "ema_alpha",
                format!("{} must lie in [0, 1)", self.ema_alpha),
            );
        }
        if self.net_numpool == 0 {
            return bad("net_numpool", "must be ≥ 1".into());
        }
        if !(0.0..=1.0).contains(&self.oversample_foreground) {
            return bad(
                "oversample_foreground",
                format!("{} ∉ [0, 1]", self.oversample_foreground),
            );
        }
        Ok(())
    }
}

/// `<out>/config.json`: everything needed to rebuild the network and re-run the training.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The network.
    pub model: MedNextConfig,
    /// The trainer.
    pub trainer: TrainerConfig,
    /// The preprocessed dataset folder (the cache with `plans.json`), if the data came from one.
    #[serde(default)]
    pub preprocessed: Option<PathBuf>,
    /// The fold trained by the run that wrote the file last.
    #[serde(default)]
    pub fold: Option<FoldId>,
}

impl RunConfig {
    /// Reads `config.json`.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Json`] naming the file.
    pub fn read(path: impl AsRef<std::path::Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        serde_json::from_slice(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Writes `config.json` atomically.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Json`] naming the file.
    pub fn write(&self, path: impl AsRef<std::path::Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        crate::train::checkpoint_io::write_bytes_atomically(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_mednext_trainer() {
        let c = TrainerConfig::default();
        c.check().unwrap();
        assert_eq!(c.learning_rate(0), 1e-3);
        // poly_lr(1, 250, 1e-3, 0.9)
        assert!((c.learning_rate(1) - 1e-3 * (249.0f64 / 250.0).powf(0.9)).abs() < 1e-18);
        assert_eq!(c.learning_rate(250), 0.0);
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<TrainerConfig>(&json).unwrap(), c);
        let partial: TrainerConfig = serde_json::from_str(r#"{"max_epochs": 3}"#).unwrap();
        assert_eq!(partial.max_epochs, 3);
        assert_eq!(partial.iters_per_epoch, 250);
    }

    #[test]
    fn check_names_the_key() {
        let c = TrainerConfig {
            patch_size: [128, 100, 128],
            ..TrainerConfig::default()
        };
        match c.check() {
            Err(Error::InvalidParameter { key, .. }) => assert_eq!(key, "patch_size"),
            other => panic!("{other:?}"),
        }
    }
}
