//! The self-normalising network as an [`Estimator`] for sequential selection (slow but allowed: every
//! candidate × fold trains a network).
//!
//! Musah 2025 / seed code toufiqmusah/caladan-mama-mia @ `06e60fb` select with a random forest and classify
//! with the SNN; this adapter lets the selection score subsets with the classifier itself.

use std::sync::Arc;

use candle_core::Device;
use ndarray::Array2;

use crate::config::{SnnConfig, TrainConfig};
use crate::features::sfs::Estimator;
use crate::model::Snn;
use crate::train::{predict_logits, train};
use crate::Result;

/// Trains an SNN of `template`'s hidden widths, dropout and init (its `input_dim` is replaced by the subset
/// size) with `train` on the CPU; predicts `logit > 0`. Inputs should already be standardised.
#[derive(Debug, Clone, PartialEq)]
pub struct SnnEstimator {
    /// Architecture template.
    pub template: SnnConfig,
    /// Training settings (keep `epochs` small: thousands of networks are trained).
    pub train: TrainConfig,
}

impl Default for SnnEstimator {
    /// The seed-code architecture trained for 50 epochs.
    fn default() -> Self {
        Self {
            template: SnnConfig::default(),
            train: TrainConfig {
                epochs: 50,
                ..TrainConfig::default()
            },
        }
    }
}

fn rows(cols: &[&[f64]]) -> Array2<f64> {
    let n = cols.first().map_or(0, |c| c.len());
    Array2::from_shape_fn((n, cols.len()), |(i, j)| cols[j][i])
}

impl Estimator for SnnEstimator {
    type Model = Arc<Snn>;

    fn fit(&self, cols: &[&[f64]], y: &[u8], _warm: Option<&Arc<Snn>>) -> Result<Arc<Snn>> {
        let arch = SnnConfig {
            input_dim: cols.len(),
            ..self.template.clone()
        };
        Ok(Arc::new(
            train(rows(cols).view(), y, &arch, &self.train, &Device::Cpu)?.model,
        ))
    }

    fn predict(&self, model: &Arc<Snn>, cols: &[&[f64]]) -> Result<Vec<u8>> {
        let z = predict_logits(model, rows(cols).view(), &Device::Cpu)?;
        Ok(z.into_iter().map(|v| u8::from(v > 0.0)).collect())
    }
}
