//! Overlap metrics of two binary masks: Dice, IoU (Jaccard), precision, recall, volume similarity.
//!
//! ```text
//! TP = |P ∩ G|   FP = |P \ G|   FN = |G \ P|   TN = N − TP − FP − FN
//! Dice = 2TP / (2TP + FP + FN)          IoU = TP / (TP + FP + FN)
//! precision = TP / (TP + FP)            recall = TP / (TP + FN)
//! VS = 1 − |FP − FN| / (2TP + FP + FN)
//! ```
//!
//! A zero denominator (both masks empty; for precision an empty prediction, for recall an empty ground
//! truth) is resolved by an explicit [`EmptyPolicy`]: nnU-Net, MONAI, medpy and DeepMind give NaN
//! ([`EmptyPolicy::Nan`]), MONAI `ignore_empty=False` gives 1 ([`EmptyPolicy::One`]), the MAMA-MIA scorer 0
//! ([`EmptyPolicy::Zero`]).
//!
//! References: nnU-Net v2 `nnunetv2/evaluation/evaluate_predictions.py` (`compute_tp_fp_fn_tn`); MONAI
//! `monai/metrics/meandice.py`; LidiaGarrucho/MAMA-MIA `src/challenge/metrics.py`;
//! `/work/shared/reference/metrics.md` §1.

use ndarray::ArrayView3;

use crate::error::Result;
use crate::mask::check_same_shape;
use crate::policy::EmptyPolicy;

/// Voxel counts of a prediction against a ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Overlap {
    /// True positives `|P ∩ G|`.
    pub tp: u64,
    /// False positives `|P \ G|`.
    pub fp: u64,
    /// False negatives `|G \ P|`.
    pub fn_: u64,
    /// True negatives.
    pub tn: u64,
}

impl Overlap {
    /// Counts `pred` against `gt`.
    ///
    /// # Errors
    /// [`crate::Error::ShapeMismatch`] when the shapes differ.
    ///
    /// # Examples
    /// ```
    /// let p = ndarray::array![[[true, true, false, false]]];
    /// let g = ndarray::array![[[true, false, true, false]]];
    /// let o = medmetrics::Overlap::new(p.view(), g.view()).unwrap();
    /// assert_eq!((o.tp, o.fp, o.fn_, o.tn), (1, 1, 1, 1));
    /// ```
    pub fn new(pred: ArrayView3<'_, bool>, gt: ArrayView3<'_, bool>) -> Result<Self> {
        check_same_shape("prediction vs ground truth", pred.shape(), gt.shape())?;
        let (mut tp, mut n_pred, mut n_gt) = (0u64, 0u64, 0u64);
        // Chunks short enough for u16 partial sums, which the compiler vectorises.
        let mut count = |p: &[bool], g: &[bool]| {
            for (cp, cg) in p.chunks(1 << 15).zip(g.chunks(1 << 15)) {
                let t: u16 = cp.iter().zip(cg).map(|(&a, &b)| u16::from(a & b)).sum();
                let np: u16 = cp.iter().map(|&a| u16::from(a)).sum();
                let ng: u16 = cg.iter().map(|&b| u16::from(b)).sum();
                tp += u64::from(t);
                n_pred += u64::from(np);
                n_gt += u64::from(ng);
            }
        };
        match (pred.as_slice(), gt.as_slice()) {
            (Some(p), Some(g)) => count(p, g),
            _ => {
                for (rp, rg) in pred.rows().into_iter().zip(gt.rows()) {
                    let p: Vec<bool> = rp.to_vec();
                    let g: Vec<bool> = rg.to_vec();
                    count(&p, &g);
                }
            }
        }
        let n = pred.len() as u64;
        Ok(Overlap {
            tp,
            fp: n_pred - tp,
            fn_: n_gt - tp,
            tn: n - n_pred - n_gt + tp,
        })
    }

    /// Voxels in the prediction, `TP + FP`.
    #[must_use]
    pub fn n_pred(&self) -> u64 {
        self.tp + self.fp
    }

    /// Voxels in the ground truth, `TP + FN`.
    #[must_use]
    pub fn n_gt(&self) -> u64 {
        self.tp + self.fn_
    }

    /// `2TP / (2TP + FP + FN)`; `empty` when both masks are empty.
    ///
    /// # Errors
    /// [`crate::Error::Undefined`] when both masks are empty and `empty` is [`EmptyPolicy::Error`].
    pub fn dice(&self, empty: EmptyPolicy) -> Result<f64> {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_, empty, "Dice")
    }

    /// `TP / (TP + FP + FN)`; `empty` when both masks are empty.
    ///
    /// # Errors
    /// As [`Overlap::dice`].
    pub fn iou(&self, empty: EmptyPolicy) -> Result<f64> {
        ratio(self.tp, self.tp + self.fp + self.fn_, empty, "IoU")
    }

    /// `TP / (TP + FP)`; `empty` when the prediction is empty.
    ///
    /// # Errors
    /// As [`Overlap::dice`], for an empty prediction.
    pub fn precision(&self, empty: EmptyPolicy) -> Result<f64> {
        ratio(self.tp, self.tp + self.fp, empty, "precision")
    }

    /// `TP / (TP + FN)` (sensitivity); `empty` when the ground truth is empty.
    ///
    /// # Errors
    /// As [`Overlap::dice`], for an empty ground truth.
    pub fn recall(&self, empty: EmptyPolicy) -> Result<f64> {
        ratio(self.tp, self.tp + self.fn_, empty, "recall")
    }

    /// Volume similarity `1 − |FP − FN| / (2TP + FP + FN)`; `empty` when both masks are empty.
    ///
    /// # Errors
    /// As [`Overlap::dice`].
    #[allow(clippy::cast_precision_loss)]
    pub fn volume_similarity(&self, empty: EmptyPolicy) -> Result<f64> {
        let den = 2 * self.tp + self.fp + self.fn_;
        if den == 0 {
            return empty.resolve("volume similarity", "both masks are empty");
        }
        Ok(1.0 - self.fp.abs_diff(self.fn_) as f64 / den as f64)
    }
}

#[allow(clippy::cast_precision_loss)]
fn ratio(num: u64, den: u64, empty: EmptyPolicy, metric: &'static str) -> Result<f64> {
    if den == 0 {
        empty.resolve(metric, "zero denominator (empty masks)")
    } else {
        Ok(num as f64 / den as f64)
    }
}

/// Dice coefficient `2|P ∩ G| / (|P| + |G|)` of two masks; `empty` decides the both-empty case.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`]; [`crate::Error::Undefined`] for two empty masks with
/// [`EmptyPolicy::Error`].
///
/// # Examples
/// ```
/// use medmetrics::{dice, EmptyPolicy};
/// let p = ndarray::array![[[true, true, false]]];
/// let g = ndarray::array![[[true, false, false]]];
/// assert!((dice(p.view(), g.view(), EmptyPolicy::Error).unwrap() - 2.0 / 3.0).abs() < 1e-15);
/// let e = ndarray::Array3::from_elem((1, 1, 3), false);
/// assert_eq!(dice(e.view(), e.view(), EmptyPolicy::Zero).unwrap(), 0.0);
/// assert!(dice(e.view(), e.view(), EmptyPolicy::Error).is_err());
/// ```
pub fn dice(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    empty: EmptyPolicy,
) -> Result<f64> {
    Overlap::new(pred, gt)?.dice(empty)
}

/// Intersection over union (Jaccard) `|P ∩ G| / |P ∪ G|`; `empty` decides the both-empty case.
///
/// # Errors
/// As [`dice`].
pub fn iou(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    empty: EmptyPolicy,
) -> Result<f64> {
    Overlap::new(pred, gt)?.iou(empty)
}
