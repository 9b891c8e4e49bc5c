//! Calibration: the reliability curve (scikit-learn `calibration_curve(strategy="uniform")`) and the
//! expected calibration error (ECE) over equal-width bins.
//!
//! ```text
//! edges_i = i · (1/M), i = 0..M (numpy linspace), bin(p) = #{inner edges < p}
//!   → bins [0, 1/M], (1/M, 2/M], …, ((M−1)/M, 1]
//! ECE = Σ_b (n_b / N) · | mean(y in b) − mean(p in b) |       (empty bins skipped)
//! ```
//!
//! This is the binary "positive-class" ECE consistent with `calibration_curve`, not the top-label variant
//! (confidence `max(p, 1 − p)` against the accuracy of the predicted label), which gives other numbers.
//!
//! References: scikit-learn 1.9.1 `sklearn/calibration.py` (`calibration_curve`); Naeini, Cooper & Hauskrecht,
//! "Obtaining Well Calibrated Probabilities Using Bayesian Binning", AAAI 2015;
//! `/work/shared/reference/metrics.md` §7.

use crate::classification::check_probabilities;
use crate::error::{Error, Result};

/// Default number of equal-width bins.
pub const DEFAULT_BINS: usize = 10;

/// One non-empty bin of a reliability curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReliabilityBin {
    /// Lower edge (exclusive, except 0 for the first bin).
    pub lower: f64,
    /// Upper edge (inclusive).
    pub upper: f64,
    /// Samples in the bin.
    pub count: usize,
    /// Mean predicted probability (`prob_pred`).
    pub mean_predicted: f64,
    /// Fraction of positives (`prob_true`).
    pub fraction_positive: f64,
}

/// A reliability curve: the non-empty bins in increasing order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReliabilityCurve {
    /// The non-empty bins.
    pub bins: Vec<ReliabilityBin>,
    /// Total number of samples.
    pub n: usize,
}

impl ReliabilityCurve {
    /// Expected calibration error `Σ_b (n_b/N)·|fraction_positive_b − mean_predicted_b|`.
    #[must_use]
    #[allow(clippy::cast_precision_loss)]
    pub fn ece(&self) -> f64 {
        self.bins
            .iter()
            .map(|b| {
                b.count as f64 / self.n as f64 * (b.fraction_positive - b.mean_predicted).abs()
            })
            .sum()
    }

    /// Maximum calibration error `max_b |fraction_positive_b − mean_predicted_b|`.
    #[must_use]
    pub fn mce(&self) -> f64 {
        self.bins
            .iter()
            .map(|b| (b.fraction_positive - b.mean_predicted).abs())
            .fold(0.0, f64::max)
    }
}

/// The reliability curve of probabilities `y_prob` against binary labels over `n_bins` equal-width bins.
///
/// # Errors
/// [`Error::InvalidParameter`] for `n_bins == 0`; [`Error::LengthMismatch`], [`Error::EmptyInput`],
/// [`Error::NonBinary`], [`Error::NonFinite`], [`Error::OutOfRange`] (probability outside `[0, 1]`).
#[allow(clippy::cast_precision_loss)]
pub fn reliability_curve(y_true: &[u8], y_prob: &[f64], n_bins: usize) -> Result<ReliabilityCurve> {
    if n_bins == 0 {
        return Err(Error::InvalidParameter {
            key: "n_bins",
            reason: "at least one bin is required".into(),
        });
    }
    check_probabilities(y_true, y_prob)?;
    let step = 1.0 / n_bins as f64;
    let edges: Vec<f64> = (0..=n_bins)
        .map(|i| if i == n_bins { 1.0 } else { i as f64 * step })
        .collect();
    let inner = &edges[1..n_bins];
    let mut count = vec![0usize; n_bins];
    let mut sum_p = vec![0.0f64; n_bins];
    let mut sum_y = vec![0.0f64; n_bins];
    for (&y, &p) in y_true.iter().zip(y_prob) {
        let b = inner.partition_point(|&e| e < p);
        count[b] += 1;
        sum_p[b] += p;
        sum_y[b] += f64::from(y);
    }
    let bins = (0..n_bins)
        .filter(|&b| count[b] > 0)
        .map(|b| ReliabilityBin {
            lower: edges[b],
            upper: edges[b + 1],
            count: count[b],
            mean_predicted: sum_p[b] / count[b] as f64,
            fraction_positive: sum_y[b] / count[b] as f64,
        })
        .collect();
    Ok(ReliabilityCurve {
        bins,
        n: y_true.len(),
    })
}

/// Expected calibration error over `n_bins` equal-width bins (see the module docs).
///
/// # Errors
/// As [`reliability_curve`].
///
/// # Examples
/// ```
/// let y = [0, 0, 0, 1, 1, 1, 1, 0, 1, 0];
/// let p = [0.05, 0.1, 0.3, 0.6, 0.7, 0.9, 0.95, 0.55, 0.45, 0.2];
/// let ece = medmetrics::expected_calibration_error(&y, &p, 10).unwrap();
/// assert!((ece - 0.18).abs() < 1e-12);
/// ```
pub fn expected_calibration_error(y_true: &[u8], y_prob: &[f64], n_bins: usize) -> Result<f64> {
    Ok(reliability_curve(y_true, y_prob, n_bins)?.ece())
}
