//! Correlation filter: drop features highly correlated with an earlier one.
//!
//! Seed code toufiqmusah/caladan-mama-mia @ `06e60fb` `pcr-classification/pcr_classifier.py` (upper triangle
//! of pandas `DataFrame.corr().abs()`, drop a column whose |r| with any earlier column exceeds the threshold;
//! 0.99 in code, 0.9 in the paper). Pearson's r from ndarray-stats `CorrelationExt::pearson_correlation`.

use ndarray::ArrayView2;
use ndarray_stats::CorrelationExt;
use serde::{Deserialize, Serialize};

use crate::config::invalid;
use crate::Result;

/// Which earlier columns can cause a drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum CorrelationRule {
    /// The seed code's semantics: any earlier column, whether or not it is itself dropped.
    #[default]
    AnyEarlier,
    /// Greedy: only earlier columns that were kept.
    Greedy,
}

/// The paper's correlation threshold.
pub const DEFAULT_CORRELATION_THRESHOLD: f64 = 0.9;

/// |Pearson r| between the columns of `x` `(n_samples, n_features)`; a constant column gives NaN (as pandas).
///
/// ```text
/// r_jk = Σ_i (x_ij − x̄_j)(x_ik − x̄_k) / √( Σ_i (x_ij − x̄_j)² · Σ_i (x_ik − x̄_k)² )
/// ```
///
/// # Errors
/// [`crate::Error::InvalidParameter`] for fewer than 2 samples.
pub fn abs_correlation(x: ArrayView2<f64>) -> Result<ndarray::Array2<f64>> {
    if x.nrows() < 2 {
        return Err(invalid(
            "x",
            format!("{} samples; correlation needs at least 2", x.nrows()),
        ));
    }
    let r = x
        .t()
        .pearson_correlation()
        .map_err(|e| invalid("x", e.to_string()))?;
    Ok(r.mapv(f64::abs))
}

/// Indices (ascending) of the columns kept by the correlation filter.
///
/// ```text
/// AnyEarlier: keep j  ⇔  ∀ i < j: ¬(|r_ij| > threshold)
/// Greedy:     keep j  ⇔  ∀ kept i < j: ¬(|r_ij| > threshold)
/// ```
/// NaN correlations (constant columns) never exceed the threshold, so constant columns are kept, as pandas.
///
/// # Errors
/// [`crate::Error::InvalidParameter`] for a threshold outside `[0, 1]` or fewer than 2 samples.
pub fn correlation_filter(
    x: ArrayView2<f64>,
    threshold: f64,
    rule: CorrelationRule,
) -> Result<Vec<usize>> {
    if !(0.0..=1.0).contains(&threshold) {
        return Err(invalid(
            "threshold",
            format!("{threshold} is not in [0, 1]"),
        ));
    }
    let r = abs_correlation(x)?;
    let mut kept: Vec<usize> = Vec::new();
    for j in 0..x.ncols() {
        let drop = match rule {
            CorrelationRule::AnyEarlier => (0..j).any(|i| r[[i, j]] > threshold),
            CorrelationRule::Greedy => kept.iter().any(|&i| r[[i, j]] > threshold),
        };
        if !drop {
            kept.push(j);
        }
    }
    Ok(kept)
}
