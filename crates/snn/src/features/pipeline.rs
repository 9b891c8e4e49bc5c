//! The feature pipeline without the network: standardise → correlation filter → sequential selection.
//!
//! Seed code toufiqmusah/caladan-mama-mia @ `06e60fb` `pcr-classification/pcr_classifier.py` (correlation
//! filter, then SFS); defaults follow the paper (|r| > 0.9, 40 features) with balanced-accuracy scoring and a
//! logistic-regression estimator instead of the seed's unseeded random forest.

use serde::{Deserialize, Serialize};

use crate::features::correlation::{
    correlation_filter, CorrelationRule, DEFAULT_CORRELATION_THRESHOLD,
};
use crate::features::scale::Standardizer;
use crate::features::sfs::{sequential_feature_selection, Estimator, SfsConfig};
use crate::features::table::FeatureTable;
use crate::train::check_training_data;
use crate::{Error, Result};

/// Settings of [`select_features`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// Drop a feature whose |Pearson r| with an earlier one exceeds this (the paper 0.9, the seed code 0.99).
    pub correlation_threshold: f64,
    /// Which earlier features count.
    pub correlation_rule: CorrelationRule,
    /// Sequential selection settings.
    pub sfs: SfsConfig,
}

impl Default for PipelineConfig {
    /// |r| > 0.9 against any earlier feature, then forward SFS to 40 features with 5-fold balanced accuracy.
    fn default() -> Self {
        Self {
            correlation_threshold: DEFAULT_CORRELATION_THRESHOLD,
            correlation_rule: CorrelationRule::AnyEarlier,
            sfs: SfsConfig::default(),
        }
    }
}

/// What [`select_features`] kept.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureSelection {
    /// Features surviving the correlation filter (table order).
    pub after_correlation: Vec<String>,
    /// Selected features (table order).
    pub selected: Vec<String>,
    /// Mean CV score after each selection step.
    pub step_scores: Vec<f64>,
}

/// Runs the pipeline on `table` with labels `y`: z-scores on all rows (the seed code's choice; the selection
/// only ranks features), the correlation filter, then [`sequential_feature_selection`].
///
/// # Errors
/// [`Error::NonFinite`] naming case and feature; [`Error::TooFewFeatures`] when fewer features than
/// `sfs.n_features` survive the filter; those of [`check_training_data`] and of the selection.
pub fn select_features<E: Estimator>(
    table: &FeatureTable,
    y: &[u8],
    estimator: &E,
    cfg: &PipelineConfig,
) -> Result<FeatureSelection> {
    table.check_finite()?;
    check_training_data(table.values.view(), y)?;
    if table.names.len() < cfg.sfs.n_features {
        return Err(Error::TooFewFeatures {
            available: table.names.len(),
            requested: cfg.sfs.n_features,
        });
    }
    let z = Standardizer::fit(table.values.view())?.transform(table.values.view())?;
    let kept = correlation_filter(z.view(), cfg.correlation_threshold, cfg.correlation_rule)?;
    if kept.len() < cfg.sfs.n_features {
        return Err(Error::TooFewFeatures {
            available: kept.len(),
            requested: cfg.sfs.n_features,
        });
    }
    let zk = z.select(ndarray::Axis(1), &kept);
    let sel = sequential_feature_selection(zk.view(), y, estimator, &cfg.sfs)?;
    Ok(FeatureSelection {
        after_correlation: kept.iter().map(|&j| table.names[j].clone()).collect(),
        selected: sel
            .selected
            .iter()
            .map(|&j| table.names[kept[j]].clone())
            .collect(),
        step_scores: sel.step_scores,
    })
}
