//! Evaluation of pCR predictions: balanced accuracy at the chosen threshold, ROC AUC, ECE before and after
//! temperature scaling, and the MAMA-MIA Task 2 subgroup analysis with its fairness score.
//!
//! Metrics from `medmetrics` (scikit-learn `balanced_accuracy_score`, `roc_auc_score`; ECE with 10 uniform
//! bins; LidiaGarrucho/MAMA-MIA `src/challenge/scoring_task2.py` for the ranking).

use std::fmt;

use medmetrics::{EmptyPolicy, Subgroups, Task2Case, Task2Score};

use crate::calibrate::apply_temperature;
use crate::{Error, Result};

/// Number of uniform bins of the reported ECE.
pub const ECE_BINS: usize = 10;

/// Metrics of one set of labelled predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct PcrReport {
    /// Number of cases.
    pub n: usize,
    /// Number of pCR-positive cases.
    pub n_positive: usize,
    /// Balanced accuracy of `σ(z/T) > threshold`.
    pub balanced_accuracy: f64,
    /// ROC AUC of the scores (unchanged by the temperature).
    pub auc: f64,
    /// ECE of `σ(z)` (before temperature scaling).
    pub ece_uncalibrated: f64,
    /// ECE of `σ(z/T)`.
    pub ece_calibrated: f64,
    /// Brier score of `σ(z/T)`.
    pub brier_calibrated: f64,
    /// Task 2 ranking with per-subgroup metrics, when subgroups were given.
    pub task2: Option<Task2Score>,
}

/// Evaluates logits `z` against labels `y` with temperature `T` and a probability threshold.
///
/// ```text
/// p = σ(z/T),  ŷ = [p > threshold]
/// BA = ½(TPR + TNR),  ECE = Σ_b (n_b/n)·|mean p_b − mean y_b|  (10 uniform bins)
/// ranking = ½·BA + ½·(1 − clip(mean_v D_v, 0, 1))   (Task 2, when `subgroups` is given)
/// ```
///
/// # Errors
/// [`Error::Shape`] for different lengths; [`Error::SingleClass`]; metric errors.
pub fn pcr_report(
    y: &[u8],
    logits: &[f64],
    temperature: f64,
    threshold: f64,
    subgroups: Option<&[Subgroups]>,
) -> Result<PcrReport> {
    if y.len() != logits.len() || subgroups.is_some_and(|s| s.len() != y.len()) {
        return Err(Error::Shape {
            what: "labels vs logits vs subgroups",
            expected: vec![y.len()],
            got: vec![logits.len()],
        });
    }
    let n_positive = y.iter().filter(|&&v| v == 1).count();
    if n_positive == 0 || n_positive == y.len() {
        return Err(Error::SingleClass {
            class: u8::from(n_positive > 0),
            n: y.len(),
        });
    }
    let raw = apply_temperature(logits, 1.0);
    let cal = apply_temperature(logits, temperature);
    let pred: Vec<u8> = cal.iter().map(|&p| u8::from(p > threshold)).collect();
    let task2 = subgroups
        .map(|s| {
            let cases: Vec<Task2Case> = (0..y.len())
                .map(|i| Task2Case {
                    pcr: Some(y[i]),
                    prediction: pred[i],
                    score: Some(cal[i]),
                    subgroups: s[i].clone(),
                })
                .collect();
            medmetrics::task2_score(&cases)
        })
        .transpose()?;
    Ok(PcrReport {
        n: y.len(),
        n_positive,
        balanced_accuracy: medmetrics::balanced_accuracy(y, &pred, medmetrics::Adjusted::No)?,
        auc: medmetrics::roc_auc(y, &cal, EmptyPolicy::Error)?,
        ece_uncalibrated: medmetrics::expected_calibration_error(y, &raw, ECE_BINS)?,
        ece_calibrated: medmetrics::expected_calibration_error(y, &cal, ECE_BINS)?,
        brier_calibrated: medmetrics::brier_score(y, &cal)?,
        task2,
    })
}

impl fmt::Display for PcrReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "cases {} (pCR {})", self.n, self.n_positive)?;
        writeln!(
            f,
            "balanced accuracy {:.4}   ROC AUC {:.4}",
            self.balanced_accuracy, self.auc
        )?;
        writeln!(
            f,
            "ECE ({ECE_BINS} bins) {:.4} before -> {:.4} after temperature scaling   Brier {:.4}",
            self.ece_uncalibrated, self.ece_calibrated, self.brier_calibrated
        )?;
        if let Some(t) = &self.task2 {
            for v in &t.variables {
                writeln!(f, "  {} (disparity {:.4}):", v.variable.name(), v.disparity)?;
                for g in &v.groups {
                    let auc = g.auc.map_or_else(|| "-".to_string(), |a| format!("{a:.3}"));
                    writeln!(
                        f,
                        "    {:<10} n {:>4}  BA {:.3}  TPR {:.3}  FPR {:.3}  AUC {auc}",
                        g.label, g.n, g.balanced_accuracy, g.tpr, g.fpr
                    )?;
                }
            }
            writeln!(
                f,
                "Task 2: fairness {:.4}, ranking score {:.4}",
                t.fairness, t.ranking
            )?;
        }
        Ok(())
    }
}
