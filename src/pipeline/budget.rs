//! Compute budgets: the paper's settings and CPU-sized defaults.
//!
//! ```text
//!                 quick (CPU, ~10 min)                   paper (run-mia.sh / mednext.md §13)
//! cohort          48 synthetic cases                     —
//! spacing         1.5 mm isotropic                       1 mm isotropic
//! network         MedNeXt C = 8, 1 block/stage, exp 2    MedNeXt-M (C 32, blocks 3-4, exp 2-4)
//! k3 folds        0 and 1 of 5                           0–4
//! epochs          k3 8, k5 6 (× 24 iterations)           250 per stage (× 250 iterations)
//! patch, batch    32³, 2                                 128³, 2
//! augmentation    none                                   nnU-Net v1 moreDA
//! pCR             40 features, SNN 64-128-128, 300 ep.   the same
//! ```

use anyhow::{bail, Result};
use mednext::train::AugmentationKind;
use serde::{Deserialize, Serialize};

/// A named compute budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// CPU-sized defaults.
    Quick,
    /// The paper's settings.
    Paper,
}

impl Budget {
    /// The settings of the budget (module docs).
    #[must_use]
    pub fn settings(self) -> BudgetSettings {
        match self {
            Budget::Quick => BudgetSettings::default(),
            Budget::Paper => BudgetSettings {
                cohort_cases: 48,
                target_spacing_mm: 1.0,
                model: ModelSize::Medium,
                folds: vec![0, 1, 2, 3, 4],
                epochs_k3: 250,
                epochs_k5: 250,
                iters_per_epoch: 250,
                val_iters: 50,
                batch_size: 2,
                patch_size: [128; 3],
                augmentation: AugmentationKind::V1MoreDa,
                ..BudgetSettings::default()
            },
        }
    }

    /// Parses `quick` or `paper`.
    ///
    /// # Errors
    /// Any other text.
    pub fn parse(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "quick" => Ok(Budget::Quick),
            "paper" => Ok(Budget::Paper),
            other => bail!("budget `{other}`: expected quick or paper"),
        }
    }
}

/// The network size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSize {
    /// `C` channels, one block per stage, expansion 2 (CPU-sized).
    Tiny {
        /// Channels of the first stage.
        channels: usize,
    },
    /// MedNeXt-M.
    Medium,
}

/// Every setting a budget fixes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BudgetSettings {
    /// Synthetic cohort size.
    pub cohort_cases: usize,
    /// Isotropic target spacing of the preprocessing, mm.
    pub target_spacing_mm: f64,
    /// Network size.
    pub model: ModelSize,
    /// Cross-validation folds (of 5) trained with the k3 network.
    pub folds: Vec<usize>,
    /// Epochs of the k3 stage.
    pub epochs_k3: usize,
    /// Epochs of each k5 fine-tuning run.
    pub epochs_k5: usize,
    /// Training iterations per epoch.
    pub iters_per_epoch: usize,
    /// Validation iterations per epoch.
    pub val_iters: usize,
    /// Batch size.
    pub batch_size: usize,
    /// Patch size `[pz, py, px]` (multiples of 16).
    pub patch_size: [usize; 3],
    /// Training augmentation.
    pub augmentation: AugmentationKind,
    /// Mirroring test-time augmentation.
    pub tta: bool,
    /// Features kept by forward selection.
    pub pcr_features: usize,
    /// |r| threshold of the correlation filter.
    pub pcr_correlation: f64,
    /// SNN hidden widths.
    pub snn_hidden: Vec<usize>,
    /// SNN epochs.
    pub snn_epochs: usize,
    /// Folds of the pCR cross-validation (selection, calibration).
    pub pcr_folds: usize,
    /// Loader worker threads.
    pub workers: usize,
}

impl Default for BudgetSettings {
    /// The quick budget.
    fn default() -> Self {
        BudgetSettings {
            cohort_cases: 48,
            target_spacing_mm: 1.5,
            model: ModelSize::Tiny { channels: 8 },
            folds: vec![0, 1],
            epochs_k3: 8,
            epochs_k5: 6,
            iters_per_epoch: 24,
            val_iters: 4,
            batch_size: 2,
            patch_size: [32; 3],
            augmentation: AugmentationKind::None,
            tta: true,
            pcr_features: 40,
            pcr_correlation: 0.9,
            snn_hidden: vec![64, 128, 128],
            snn_epochs: 300,
            pcr_folds: 5,
            workers: 0,
        }
    }
}

impl BudgetSettings {
    /// Checks the settings.
    ///
    /// # Errors
    /// Zero sizes, no fold, a fold ≥ 5, a patch that is not a multiple of 16, or a non-positive spacing.
    pub fn check(&self) -> Result<()> {
        if self.folds.is_empty() || self.folds.iter().any(|&f| f >= 5) {
            bail!(
                "settings: folds {:?} must be a non-empty subset of 0..5",
                self.folds
            );
        }
        if self.patch_size.iter().any(|&p| p == 0 || p % 16 != 0) {
            bail!(
                "settings: patch {:?} must be multiples of 16",
                self.patch_size
            );
        }
        if !(self.target_spacing_mm.is_finite() && self.target_spacing_mm > 0.0) {
            bail!("settings: target spacing {} mm", self.target_spacing_mm);
        }
        if self.epochs_k3 == 0
            || self.epochs_k5 == 0
            || self.iters_per_epoch == 0
            || self.batch_size == 0
        {
            bail!("settings: epochs, iterations and batch size must be ≥ 1");
        }
        if self.cohort_cases < 6
            || self.pcr_features == 0
            || self.snn_epochs == 0
            || self.pcr_folds < 2
        {
            bail!("settings: at least 6 cases, 1 feature, 1 SNN epoch and 2 pCR folds");
        }
        Ok(())
    }

    /// The MedNeXt configuration with depthwise kernel `kernel` (3 inputs, 2 classes, deep supervision).
    #[must_use]
    pub fn model_config(&self, kernel: usize) -> mednext::MedNextConfig {
        match self.model {
            ModelSize::Medium => {
                mednext::MedNextConfig::medium(3, 2, kernel).with_deep_supervision(true)
            }
            ModelSize::Tiny { channels } => mednext::MedNextConfig {
                in_channels: 3,
                n_channels: channels,
                n_classes: 2,
                exp_r: mednext::ExpRatio::Uniform(2),
                kernel_size: Some(kernel),
                deep_supervision: true,
                do_res: true,
                do_res_up_down: true,
                block_counts: vec![1; 9],
                ..mednext::MedNextConfig::default()
            },
        }
    }
}
