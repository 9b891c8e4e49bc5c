//! # medmetrics
//!
//! Segmentation, calibration and fairness metrics for medical imaging on `ndarray` views plus spacing: an
//! exact linear-time Euclidean distance transform, Dice/IoU with explicit empty-mask conventions, Hausdorff
//! distance and its percentiles, ASSD, normalised surface Dice, classification and calibration metrics, and the
//! MAMA-MIA challenge scoring (Task 1 and Task 2 ranking with fairness).
//!
//! Conventions: masks are `ArrayView3<bool>` in `(z, y, x)` order, spacing `[sz, sy, sx]` in mm; results are
//! `f64`; every value that can be undefined (empty masks, zero divisions, single-class labels) takes an
//! explicit [`EmptyPolicy`]/[`EmptyRule`], so a NaN is only returned when asked for. No file I/O, no
//! deep-learning framework.
//!
//! | module | reference |
//! | --- | --- |
//! | distance transform | Felzenszwalb & Huttenlocher 2012 (exact, O(N), anisotropic) = scipy `distance_transform_edt` |
//! | overlap | nnU-Net v2 `evaluate_predictions.py`, MONAI `meandice.py` |
//! | surfels | google-deepmind/surface-distance `metrics.py`, `lookup_tables.py` (table derived, not copied) |
//! | surface | MONAI `hausdorff_distance.py`/`surface_distance.py`/`surface_dice.py`, medpy `binary.py`, SimpleITK `LabelContour` |
//! | classification, calibration | scikit-learn 1.9 `metrics/_classification.py`, `_ranking.py`, `calibration.py` |
//! | mamamia, fairness | LidiaGarrucho/MAMA-MIA `src/challenge/{metrics, scoring_task1, scoring_task2}.py` |
//!
//! # Example
//!
//! ```rust
//! use medmetrics::{dice, hd95, EmptyPolicy, EmptyRule, Hd95Rule, SurfaceOptions};
//! use ndarray::Array3;
//!
//! let gt = Array3::from_shape_fn((20, 20, 20), |(z, y, x)| {
//!     (z as f64 - 10.0).powi(2) + (y as f64 - 10.0).powi(2) + (x as f64 - 10.0).powi(2) <= 25.0
//! });
//! let pred = Array3::from_shape_fn((20, 20, 20), |(z, y, x)| {
//!     (z as f64 - 10.0).powi(2) + (y as f64 - 11.0).powi(2) + (x as f64 - 10.0).powi(2) <= 25.0
//! });
//! let d = dice(pred.view(), gt.view(), EmptyPolicy::Error).unwrap();
//! let h = hd95(pred.view(), gt.view(), [1.5, 0.7, 0.7], SurfaceOptions::default(),
//!              Hd95Rule::MaxOfDirected, EmptyRule::MONAI).unwrap();
//! assert!(d > 0.8 && d < 1.0);
//! assert!((h - 0.7).abs() < 1e-12); // shifted by one voxel of 0.7 mm along y
//! let s = medmetrics::mamamia::score_case(pred.mapv(u8::from).view(), gt.mapv(u8::from).view()).unwrap();
//! assert_eq!(s.hd95_vox, 1.0);
//! ```
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --
mod calibration;
mod classification;
mod corner_surface;
mod distance_transform;
mod fairness;
pub mod mamamia;
mod mask;
mod overlap;
mod percentile;
mod policy;
mod surface;
mod surfels;
mod weighted;

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
pub use calibration::{
    expected_calibration_error, reliability_curve, ReliabilityBin, ReliabilityCurve, DEFAULT_BINS,
};
pub use classification::{
    average_precision, balanced_accuracy, brier_score, confusion_matrix, pr_auc,
    precision_recall_curve, roc_auc, roc_curve, Adjusted, BinaryConfusion, ConfusionMatrix,
    PrCurve, RocCurve,
};
pub use distance_transform::{distance_to_set, distance_transform_edt, squared_distance_to_set};
pub use fairness::{
    task1_score, task2_score, AgeGroup, BreastDensity, SubgroupVariable, Subgroups, Task1Case,
    Task1Group, Task1Score, Task1Variable, Task2Case, Task2Group, Task2Score, Task2Variable,
};
pub use mask::{binary_mask, label_mask, nonzero_mask, LabelValue, Spacing};
pub use overlap::{dice, iou, Overlap};
pub use percentile::percentile;
pub use policy::{EmptyPolicy, EmptyRule};
pub use surface::{
    assd, hausdorff, hd95, nsd, surface_voxels, AssdRule, Hd95Rule, Surface, SurfaceDistances,
    SurfaceOptions, Units,
};
pub use surfels::{surfel_area_table, surfel_normals};
