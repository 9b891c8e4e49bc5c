//! Classification metrics with scikit-learn 1.9 semantics: confusion matrix, balanced accuracy, ROC curve
//! and AUC (ties grouped into one threshold), precision–recall curve, average precision, PR AUC, Brier score.
//!
//! ```text
//! balanced accuracy = mean over classes c present in y_true of TP_c / (TP_c + FN_c)
//!   adjusted:         (BA − 1/K) / (1 − 1/K),  K = number of classes in y_true
//! ROC: thresholds = distinct scores, descending; TP(t), FP(t) = cumulative counts at score ≥ t;
//!      points (0,0), (FP/N₋, TP/N₊) with collinear points dropped; AUC = trapezoid rule
//!      = Mann–Whitney U / (N₊ N₋), ties counted ½
//! AP  = Σ_k (R_k − R_{k−1}) P_k                (step-wise, sklearn average_precision_score)
//! PR AUC = trapezoid over (recall, precision)  (sklearn auc(recall, precision))
//! Brier = mean (p − y)²
//! ```
//!
//! References: scikit-learn 1.9.1 `sklearn/metrics/_classification.py` (`balanced_accuracy_score`,
//! `confusion_matrix`, `brier_score_loss`) and `_ranking.py` (`_binary_clf_curve`, `roc_curve`,
//! `roc_auc_score`, `precision_recall_curve`, `average_precision_score`, `auc`);
//! `/work/shared/reference/metrics.md` §7.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::policy::EmptyPolicy;

/// Binary confusion counts (label 1 = positive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BinaryConfusion {
    /// True negatives.
    pub tn: u64,
    /// False positives.
    pub fp: u64,
    /// False negatives.
    pub fn_: u64,
    /// True positives.
    pub tp: u64,
}

impl BinaryConfusion {
    /// Counts binary predictions against binary truths.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`]; [`Error::NonBinary`] for a label other than 0/1.
    pub fn new(y_true: &[u8], y_pred: &[u8]) -> Result<Self> {
        check_len("y_true vs y_pred", y_true.len(), y_pred.len())?;
        check_binary("y_true", y_true)?;
        check_binary("y_pred", y_pred)?;
        let mut c = BinaryConfusion::default();
        for (&t, &p) in y_true.iter().zip(y_pred) {
            match (t, p) {
                (0, 0) => c.tn += 1,
                (0, _) => c.fp += 1,
                (_, 0) => c.fn_ += 1,
                _ => c.tp += 1,
            }
        }
        Ok(c)
    }

    /// True-positive rate `TP / (TP + FN)`; `empty` without positives.
    ///
    /// # Errors
    /// [`Error::Undefined`] without positives and [`EmptyPolicy::Error`].
    #[allow(clippy::cast_precision_loss)]
    pub fn tpr(&self, empty: EmptyPolicy) -> Result<f64> {
        let den = self.tp + self.fn_;
        if den == 0 {
            return empty.resolve("true-positive rate", "no positive samples");
        }
        Ok(self.tp as f64 / den as f64)
    }

    /// False-positive rate `FP / (FP + TN)`; `empty` without negatives.
    ///
    /// # Errors
    /// [`Error::Undefined`] without negatives and [`EmptyPolicy::Error`].
    #[allow(clippy::cast_precision_loss)]
    pub fn fpr(&self, empty: EmptyPolicy) -> Result<f64> {
        let den = self.fp + self.tn;
        if den == 0 {
            return empty.resolve("false-positive rate", "no negative samples");
        }
        Ok(self.fp as f64 / den as f64)
    }
}

/// A multi-class confusion matrix over the sorted union of the labels (scikit-learn `confusion_matrix`):
/// `counts[i][j]` = samples of true class `labels[i]` predicted as `labels[j]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfusionMatrix<T> {
    /// The classes, sorted.
    pub labels: Vec<T>,
    /// Row = true class, column = predicted class.
    pub counts: Vec<Vec<u64>>,
}

/// The confusion matrix of `y_pred` against `y_true` over the sorted union of their labels.
///
/// # Errors
/// [`Error::LengthMismatch`].
pub fn confusion_matrix<T: Ord + Copy>(y_true: &[T], y_pred: &[T]) -> Result<ConfusionMatrix<T>> {
    check_len("y_true vs y_pred", y_true.len(), y_pred.len())?;
    let index: BTreeMap<T, usize> = {
        let mut set: Vec<T> = y_true.iter().chain(y_pred).copied().collect();
        set.sort_unstable();
        set.dedup();
        set.into_iter().enumerate().map(|(i, l)| (l, i)).collect()
    };
    let k = index.len();
    let mut counts = vec![vec![0u64; k]; k];
    for (t, p) in y_true.iter().zip(y_pred) {
        counts[index[t]][index[p]] += 1;
    }
    Ok(ConfusionMatrix {
        labels: index.into_keys().collect(),
        counts,
    })
}

/// Whether balanced accuracy is adjusted for chance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Adjusted {
    /// Plain mean recall (scikit-learn `adjusted=False`).
    #[default]
    No,
    /// `(BA − 1/K)/(1 − 1/K)`: 0 for chance, 1 for perfect (scikit-learn `adjusted=True`).
    ForChance,
}

/// Balanced accuracy with scikit-learn semantics: the mean recall over the classes **present in `y_true`**
/// (a class only in `y_pred` is ignored, as scikit-learn does with a warning).
///
/// # Errors
/// [`Error::LengthMismatch`]; [`Error::EmptyInput`] for no samples.
///
/// # Examples
/// ```
/// use medmetrics::{balanced_accuracy, Adjusted};
/// let ba = balanced_accuracy(&[0, 0, 0, 1], &[0, 0, 1, 1], Adjusted::No).unwrap();
/// assert!((ba - 5.0 / 6.0).abs() < 1e-15);
/// ```
#[allow(clippy::cast_precision_loss)]
pub fn balanced_accuracy<T: Ord + Copy>(
    y_true: &[T],
    y_pred: &[T],
    adjusted: Adjusted,
) -> Result<f64> {
    if y_true.is_empty() {
        return Err(Error::EmptyInput { what: "y_true" });
    }
    let cm = confusion_matrix(y_true, y_pred)?;
    let recalls: Vec<f64> = cm
        .counts
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let n: u64 = row.iter().sum();
            (n > 0).then(|| row[i] as f64 / n as f64)
        })
        .collect();
    let k = recalls.len() as f64;
    let ba = recalls.iter().sum::<f64>() / k;
    Ok(match adjusted {
        Adjusted::No => ba,
        // scikit-learn: chance = 1/K; K = 1 gives 0/0 → it returns the raw score minus chance over 1 − chance
        // = −inf/NaN territory; we follow its arithmetic.
        Adjusted::ForChance => {
            let chance = 1.0 / k;
            (ba - chance) / (1.0 - chance)
        }
    })
}

/// A ROC curve (scikit-learn `roc_curve`, `drop_intermediate=True`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RocCurve {
    /// False-positive rates, starting at 0.
    pub fpr: Vec<f64>,
    /// True-positive rates, starting at 0.
    pub tpr: Vec<f64>,
    /// Score thresholds, descending, starting at `+inf`.
    pub thresholds: Vec<f64>,
}

/// Cumulative `(fps, tps, thresholds)` at each distinct score, descending (scikit-learn
/// `_binary_clf_curve`).
#[allow(clippy::cast_precision_loss)]
fn binary_clf_curve(y_true: &[u8], y_score: &[f64]) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    check_len("y_true vs y_score", y_true.len(), y_score.len())?;
    if y_true.is_empty() {
        return Err(Error::EmptyInput { what: "y_true" });
    }
    check_binary("y_true", y_true)?;
    check_finite("y_score", y_score)?;
    let mut order: Vec<usize> = (0..y_score.len()).collect();
    order.sort_by(|&a, &b| y_score[b].total_cmp(&y_score[a]));
    let (mut fps, mut tps, mut thr) = (Vec::new(), Vec::new(), Vec::new());
    let (mut tp, mut n) = (0u64, 0u64);
    for (k, &i) in order.iter().enumerate() {
        tp += u64::from(y_true[i]);
        n += 1;
        let last_of_tie = order.get(k + 1).is_none_or(|&j| y_score[j] != y_score[i]);
        if last_of_tie {
            tps.push(tp as f64);
            fps.push((n - tp) as f64);
            thr.push(y_score[i]);
        }
    }
    Ok((fps, tps, thr))
}

/// The ROC curve of binary labels `y_true` against scores (higher = more positive).
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::EmptyInput`], [`Error::NonBinary`], [`Error::NonFinite`];
/// [`Error::Undefined`] when `y_true` holds a single class (the rates are 0/0).
pub fn roc_curve(y_true: &[u8], y_score: &[f64]) -> Result<RocCurve> {
    let (fps, tps, thr) = binary_clf_curve(y_true, y_score)?;
    let n = fps.len();
    // Drop points collinear with their neighbours (second differences of both fps and tps are 0).
    let keep: Vec<usize> = (0..n)
        .filter(|&i| {
            i == 0
                || i == n - 1
                || (fps[i + 1] - 2.0 * fps[i] + fps[i - 1]) != 0.0
                || (tps[i + 1] - 2.0 * tps[i] + tps[i - 1]) != 0.0
        })
        .collect();
    let (p, nn) = (tps[n - 1], fps[n - 1]);
    if p <= 0.0 || nn <= 0.0 {
        return Err(Error::Undefined {
            metric: "ROC curve",
            reason: "y_true holds a single class",
        });
    }
    let mut curve = RocCurve {
        fpr: vec![0.0],
        tpr: vec![0.0],
        thresholds: vec![f64::INFINITY],
    };
    for i in keep {
        curve.fpr.push(fps[i] / nn);
        curve.tpr.push(tps[i] / p);
        curve.thresholds.push(thr[i]);
    }
    Ok(curve)
}

/// Area under a curve by the trapezoid rule (scikit-learn `auc`; `x` monotone).
fn trapezoid(x: &[f64], y: &[f64]) -> f64 {
    let area: f64 = x
        .windows(2)
        .zip(y.windows(2))
        .map(|(xw, yw)| (xw[1] - xw[0]) * (yw[1] + yw[0]) / 2.0)
        .sum();
    area.abs()
}

/// ROC AUC of binary labels against scores (ties between a positive and a negative count ½);
/// `single_class` decides a `y_true` with one class only (scikit-learn 1.9: NaN with a warning).
///
/// # Errors
/// As [`roc_curve`], except that a single class gives `single_class` (an error only for
/// [`EmptyPolicy::Error`]).
///
/// # Examples
/// ```
/// use medmetrics::{roc_auc, EmptyPolicy};
/// let auc = roc_auc(&[0, 1, 0, 1, 1], &[0.2, 0.6, 0.6, 0.6, 0.9], EmptyPolicy::Nan).unwrap();
/// assert!((auc - 5.0 / 6.0).abs() < 1e-12);
/// assert!(roc_auc(&[1, 1], &[0.2, 0.3], EmptyPolicy::Nan).unwrap().is_nan());
/// ```
pub fn roc_auc(y_true: &[u8], y_score: &[f64], single_class: EmptyPolicy) -> Result<f64> {
    match roc_curve(y_true, y_score) {
        Ok(c) => Ok(trapezoid(&c.fpr, &c.tpr)),
        Err(Error::Undefined { .. }) => {
            single_class.resolve("ROC AUC", "y_true holds a single class")
        }
        Err(e) => Err(e),
    }
}

/// A precision–recall curve (scikit-learn `precision_recall_curve`): recall decreasing to 0, the last point
/// `(recall 0, precision 1)` has no threshold.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PrCurve {
    /// Precision per point.
    pub precision: Vec<f64>,
    /// Recall per point.
    pub recall: Vec<f64>,
    /// Score thresholds, ascending (one fewer than the points).
    pub thresholds: Vec<f64>,
}

/// The precision–recall curve of binary labels against scores.
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::EmptyInput`], [`Error::NonBinary`], [`Error::NonFinite`];
/// [`Error::Undefined`] without positive samples.
pub fn precision_recall_curve(y_true: &[u8], y_score: &[f64]) -> Result<PrCurve> {
    let (fps, tps, thr) = binary_clf_curve(y_true, y_score)?;
    let p = *tps.last().unwrap_or(&0.0);
    if p <= 0.0 {
        return Err(Error::Undefined {
            metric: "precision-recall curve",
            reason: "no positive samples",
        });
    }
    // scikit-learn 1.9 keeps every threshold (drop_intermediate=False), then reverses.
    let mut curve = PrCurve::default();
    for i in (0..tps.len()).rev() {
        curve.precision.push(tps[i] / (tps[i] + fps[i]));
        curve.recall.push(tps[i] / p);
        curve.thresholds.push(thr[i]);
    }
    curve.precision.push(1.0);
    curve.recall.push(0.0);
    Ok(curve)
}

/// Average precision `Σ_k (R_k − R_{k−1}) P_k` (scikit-learn `average_precision_score`, binary).
///
/// # Errors
/// As [`precision_recall_curve`]; without positives the value is `no_positives` (an error only for
/// [`EmptyPolicy::Error`]).
pub fn average_precision(y_true: &[u8], y_score: &[f64], no_positives: EmptyPolicy) -> Result<f64> {
    match precision_recall_curve(y_true, y_score) {
        Ok(c) => {
            let n = c.recall.len();
            Ok(-(0..n - 1)
                .map(|k| (c.recall[k + 1] - c.recall[k]) * c.precision[k])
                .sum::<f64>())
        }
        Err(Error::Undefined { .. }) => {
            no_positives.resolve("average precision", "no positive samples")
        }
        Err(e) => Err(e),
    }
}

/// PR AUC by the trapezoid rule over the precision–recall curve (scikit-learn
/// `auc(recall, precision)`); optimistic compared with [`average_precision`].
///
/// # Errors
/// As [`average_precision`].
pub fn pr_auc(y_true: &[u8], y_score: &[f64], no_positives: EmptyPolicy) -> Result<f64> {
    match precision_recall_curve(y_true, y_score) {
        Ok(c) => Ok(trapezoid(&c.recall, &c.precision)),
        Err(Error::Undefined { .. }) => no_positives.resolve("PR AUC", "no positive samples"),
        Err(e) => Err(e),
    }
}

/// Brier score `mean((p − y)²)` of probabilities against binary labels (scikit-learn
/// `brier_score_loss`).
///
/// # Errors
/// [`Error::LengthMismatch`], [`Error::EmptyInput`], [`Error::NonBinary`], [`Error::NonFinite`];
/// [`Error::OutOfRange`] for a probability outside `[0, 1]`.
///
/// # Examples
/// ```
/// let b = medmetrics::brier_score(&[0, 1, 1, 0], &[0.1, 0.9, 0.8, 0.3]).unwrap();
/// assert!((b - 0.0375).abs() < 1e-15);
/// ```
#[allow(clippy::cast_precision_loss)]
pub fn brier_score(y_true: &[u8], y_prob: &[f64]) -> Result<f64> {
    check_probabilities(y_true, y_prob)?;
    let s: f64 = y_true
        .iter()
        .zip(y_prob)
        .map(|(&y, &p)| (p - f64::from(y)).powi(2))
        .sum();
    Ok(s / y_true.len() as f64)
}

/// Checks labels and probabilities for the probability-based metrics.
pub(crate) fn check_probabilities(y_true: &[u8], y_prob: &[f64]) -> Result<()> {
    check_len("y_true vs y_prob", y_true.len(), y_prob.len())?;
    if y_true.is_empty() {
        return Err(Error::EmptyInput { what: "y_true" });
    }
    check_binary("y_true", y_true)?;
    check_finite("y_prob", y_prob)?;
    if let Some(i) = y_prob.iter().position(|p| !(0.0..=1.0).contains(p)) {
        return Err(Error::OutOfRange {
            what: "y_prob",
            index: i,
            value: y_prob[i],
            range: "[0, 1]",
        });
    }
    Ok(())
}

pub(crate) fn check_len(what: &'static str, left: usize, right: usize) -> Result<()> {
    if left == right {
        Ok(())
    } else {
        Err(Error::LengthMismatch { what, left, right })
    }
}

pub(crate) fn check_binary(what: &'static str, y: &[u8]) -> Result<()> {
    match y.iter().position(|&v| v > 1) {
        None => Ok(()),
        Some(i) => Err(Error::NonBinary {
            what,
            index: vec![i],
            value: f64::from(y[i]),
        }),
    }
}

pub(crate) fn check_finite(what: &'static str, x: &[f64]) -> Result<()> {
    match x.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::NonFinite {
            what,
            index: i,
            value: x[i],
        }),
    }
}
