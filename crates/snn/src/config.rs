//! Network and training configuration with presets and checked ranges.
//!
//! Presets follow the seed code (toufiqmusah/caladan-mama-mia @ `06e60fb`, `pcr-classification/pcr_classifier.py`:
//! 64-128-128, AlphaDropout 0.1) and the paper's figure (Musah 2025: 128-256-512-256-128); training defaults
//! follow the same code (AdamW lr 1e-3, weight decay 1e-5, batch 32). Ranges: Klambauer et al. 2017.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Weight initialisation of the linear layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Init {
    /// LeCun normal (the SNN requirement), bias 0.
    ///
    /// ```text
    /// W ~ N(0, 1/fan_in),  b = 0
    /// ```
    #[default]
    LecunNormal,
    /// PyTorch's `nn.Linear` default (what the seed code used).
    ///
    /// ```text
    /// W ~ U(−1/√fan_in, 1/√fan_in),  b ~ U(−1/√fan_in, 1/√fan_in)
    /// ```
    PytorchDefault,
}

/// Architecture of a self-normalising network: `input_dim → hidden[0] → … → hidden[k−1] → 1` with
/// `Linear → SELU → AlphaDropout(dropout)` per hidden layer and one output logit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnnConfig {
    /// Number of input features.
    pub input_dim: usize,
    /// Widths of the hidden layers.
    pub hidden: Vec<usize>,
    /// AlphaDropout drop probability in `[0, 1)`.
    pub dropout: f64,
    /// Weight initialisation.
    pub init: Init,
}

impl SnnConfig {
    /// The seed code's network: hidden 64-128-128, AlphaDropout 0.1, with LeCun-normal init.
    #[must_use]
    pub fn seed_code(input_dim: usize) -> Self {
        Self {
            input_dim,
            hidden: vec![64, 128, 128],
            dropout: 0.1,
            init: Init::LecunNormal,
        }
    }

    /// The paper figure's network: hidden 128-256-512-256-128, AlphaDropout 0.1, LeCun-normal init.
    #[must_use]
    pub fn paper_figure(input_dim: usize) -> Self {
        Self {
            input_dim,
            hidden: vec![128, 256, 512, 256, 128],
            dropout: 0.1,
            init: Init::LecunNormal,
        }
    }

    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `input_dim == 0`, a zero width or `dropout ∉ [0, 1)`.
    pub fn check(&self) -> Result<()> {
        if self.input_dim == 0 {
            return Err(invalid("input_dim", "must be positive".into()));
        }
        if let Some(i) = self.hidden.iter().position(|&w| w == 0) {
            return Err(invalid("hidden", format!("width {i} is zero")));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(invalid(
                "dropout",
                format!("{} is not in [0, 1)", self.dropout),
            ));
        }
        Ok(())
    }
}

impl Default for SnnConfig {
    /// [`SnnConfig::seed_code`] with 40 inputs (the paper's selection size).
    fn default() -> Self {
        Self::seed_code(40)
    }
}

/// Positive-class weight of the binary cross-entropy.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub enum PosWeight {
    /// No weighting (`w = 1`, the seed code).
    #[default]
    None,
    /// `w = n_neg / n_pos` of the training labels.
    Balanced,
    /// A fixed weight `w > 0`.
    Value(f64),
}

/// Early stopping on a held-out, stratified validation split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EarlyStopping {
    /// Fraction of the training samples held out for validation, in `(0, 0.5]`.
    pub validation_fraction: f64,
    /// Epochs without improvement of the validation loss before stopping.
    pub patience: usize,
}

impl Default for EarlyStopping {
    /// 20 % held out, patience 50 epochs.
    fn default() -> Self {
        Self {
            validation_fraction: 0.2,
            patience: 50,
        }
    }
}

/// Training hyperparameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Epochs (upper bound with early stopping).
    pub epochs: usize,
    /// Mini-batch size.
    pub batch_size: usize,
    /// AdamW learning rate.
    pub learning_rate: f64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Positive-class weight of the loss.
    pub pos_weight: PosWeight,
    /// Optional validation split with early stopping (the best epoch's weights are kept).
    pub early_stopping: Option<EarlyStopping>,
    /// Seed of the initialisation, the shuffling, the dropout masks and the validation split.
    pub seed: u64,
}

impl Default for TrainConfig {
    /// 300 epochs, batch 32, AdamW lr 1e-3, weight decay 1e-5, no positive weight, no early stopping, seed 0.
    fn default() -> Self {
        Self {
            epochs: 300,
            batch_size: 32,
            learning_rate: 1e-3,
            weight_decay: 1e-5,
            pos_weight: PosWeight::None,
            early_stopping: None,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] naming the key.
    pub fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(invalid("epochs", "must be positive".into()));
        }
        if self.batch_size == 0 {
            return Err(invalid("batch_size", "must be positive".into()));
        }
        if !(self.learning_rate > 0.0 && self.learning_rate.is_finite()) {
            return Err(invalid(
                "learning_rate",
                format!("{} is not positive", self.learning_rate),
            ));
        }
        if !(self.weight_decay >= 0.0 && self.weight_decay.is_finite()) {
            return Err(invalid(
                "weight_decay",
                format!("{} is negative", self.weight_decay),
            ));
        }
        if let PosWeight::Value(w) = self.pos_weight {
            if !(w > 0.0 && w.is_finite()) {
                return Err(invalid("pos_weight", format!("{w} is not positive")));
            }
        }
        if let Some(es) = self.early_stopping {
            if !(es.validation_fraction > 0.0 && es.validation_fraction <= 0.5) {
                return Err(invalid(
                    "early_stopping.validation_fraction",
                    format!("{} is not in (0, 0.5]", es.validation_fraction),
                ));
            }
            if es.patience == 0 {
                return Err(invalid(
                    "early_stopping.patience",
                    "must be positive".into(),
                ));
            }
        }
        Ok(())
    }
}

pub(crate) fn invalid(key: &'static str, reason: String) -> Error {
    Error::InvalidParameter { key, reason }
}
