//! # medmetrics
//!
//! Segmentation, calibration and fairness metrics for medical imaging on `ndarray` views plus spacing: an
//! exact linear-time Euclidean distance transform, Dice/IoU with explicit empty-mask conventions, Hausdorff
//! distance and its percentiles, ASSD, normalised surface Dice, classification and calibration metrics, and the
//! MAMA-MIA challenge scoring (Task 1 and Task 2 ranking with fairness).
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
