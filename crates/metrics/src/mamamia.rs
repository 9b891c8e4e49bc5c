//! The MAMA-MIA challenge's Task 1 per-case scoring (`metrics.compute_segmentation_metrics`, `hd_max = 150`).
//!
//! ```text
//! Dice   = 2TP / (2TP + FP + FN) on label 1;  TP + FP + FN = 0 → 0
//! HD95   = max(P95(d_GP), P95(d_PG)) between sitk.LabelContour surfaces (face connectivity),
//!          in voxel index units on the native grid (spacing ignored), numpy linear percentile;
//!          GT contour empty → 0 if the prediction contour is empty too, else ∞;  prediction contour empty → ∞
//! NormHD = HD95 / 150 if finite (not clipped: it can exceed 1);  1 if HD95 = ∞
//! ```
//!
//! Inputs must be binary (0/1) label maps: the official scorer counts label 1 for Dice but every non-zero
//! label for the contours, so other labels would make the two disagree; they are rejected with
//! [`crate::Error::NonBinary`] (binarise first). The Task 1/Task 2 rankings are in [`crate::task1_score`] and
//! [`crate::task2_score`].
//!
//! Reference: LidiaGarrucho/MAMA-MIA `src/challenge/metrics.py` (commit `3b40cf6`);
//! `/work/shared/reference/mamamia.md` §2.1.

use ndarray::ArrayView3;

use crate::error::Result;
use crate::mask::{binary_mask, check_same_shape, LabelValue};
use crate::overlap::Overlap;
use crate::policy::{EmptyPolicy, EmptyRule};
use crate::surface::{Hd95Rule, Surface, SurfaceDistances, SurfaceOptions, Units};

/// The normalising distance of NormHD (`hd_max = 150` voxels).
pub const HD_MAX: f64 = 150.0;

/// The surface options of the challenge's HD95: `sitk.LabelContour` surfaces in voxel units.
pub const MAMA_MIA_SURFACE: SurfaceOptions = SurfaceOptions {
    surface: Surface::LabelContour,
    units: Units::Voxel,
};

/// One case's Task 1 scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CaseScore {
    /// Dice on label 1 (0 when both masks are empty).
    pub dice: f64,
    /// HD95 in voxel units (`+inf` when exactly one contour is empty, 0 when both are).
    pub hd95_vox: f64,
    /// `HD95 / 150`, or 1 when HD95 is infinite.
    pub norm_hd: f64,
}

/// NormHD of an HD95 in voxels: `hd95 / 150`, 1 for `+inf`.
#[must_use]
pub fn norm_hd(hd95_vox: f64) -> f64 {
    if hd95_vox == f64::INFINITY {
        1.0
    } else {
        hd95_vox / HD_MAX
    }
}

/// Scores a binary prediction against a binary ground truth exactly as the challenge's Task 1 scorer.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`] when the grids differ; [`crate::Error::NonBinary`] for a label other than
/// 0/1 (naming `"prediction"` or `"ground truth"`).
///
/// # Examples
/// ```
/// let mut gt = ndarray::Array3::<u8>::zeros((4, 4, 4));
/// gt[[1, 1, 1]] = 1;
/// let empty = ndarray::Array3::<u8>::zeros((4, 4, 4));
/// let s = medmetrics::mamamia::score_case(empty.view(), gt.view()).unwrap();
/// assert_eq!((s.dice, s.norm_hd), (0.0, 1.0));
/// let s = medmetrics::mamamia::score_case(empty.view(), empty.view()).unwrap();
/// assert_eq!((s.dice, s.hd95_vox, s.norm_hd), (0.0, 0.0, 0.0));
/// ```
pub fn score_case<T: LabelValue>(
    pred: ArrayView3<'_, T>,
    gt: ArrayView3<'_, T>,
) -> Result<CaseScore> {
    check_same_shape("prediction vs ground truth", pred.shape(), gt.shape())?;
    let p = binary_mask(pred, "prediction")?;
    let g = binary_mask(gt, "ground truth")?;
    score_masks(p.view(), g.view())
}

/// [`score_case`] on boolean masks.
///
/// # Errors
/// [`crate::Error::ShapeMismatch`].
pub fn score_masks(pred: ArrayView3<'_, bool>, gt: ArrayView3<'_, bool>) -> Result<CaseScore> {
    let dice = Overlap::new(pred, gt)?.dice(EmptyPolicy::Zero)?;
    let hd95_vox = SurfaceDistances::new(pred, gt, [1.0; 3], MAMA_MIA_SURFACE)?
        .percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MAMA_MIA)?;
    Ok(CaseScore {
        dice,
        hd95_vox,
        norm_hd: norm_hd(hd95_vox),
    })
}

/// Collects per-case Task 1 scores with their subgroups and summarises them with [`crate::task1_score`]
/// (an accumulator on top of the pure functions, MONAI-style).
///
/// # Examples
/// ```
/// use medmetrics::{mamamia::{CaseScore, Task1Accumulator}, Subgroups};
/// let mut acc = Task1Accumulator::new();
/// acc.push(CaseScore { dice: 0.8, hd95_vox: 3.0, norm_hd: 0.02 }, Subgroups::default());
/// acc.push(CaseScore { dice: 0.6, hd95_vox: 15.0, norm_hd: 0.1 }, Subgroups::default());
/// let s = acc.score().unwrap();
/// assert!((s.performance - 0.5 * (0.7 + 1.0 - 0.06)).abs() < 1e-12);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Task1Accumulator {
    cases: Vec<crate::Task1Case>,
}

impl Task1Accumulator {
    /// An empty accumulator.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one case.
    pub fn push(&mut self, score: CaseScore, subgroups: crate::Subgroups) {
        self.cases.push(crate::Task1Case {
            dice: score.dice,
            norm_hd: score.norm_hd,
            subgroups,
        });
    }

    /// The number of cases.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cases.len()
    }

    /// Whether no case was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cases.is_empty()
    }

    /// The cases added so far.
    #[must_use]
    pub fn cases(&self) -> &[crate::Task1Case] {
        &self.cases
    }

    /// Performance, fairness and ranking of the cases so far.
    ///
    /// # Errors
    /// As [`crate::task1_score`].
    pub fn score(&self) -> Result<crate::Task1Score> {
        crate::task1_score(&self.cases)
    }
}
