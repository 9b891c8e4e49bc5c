//! # nnunet-preproc
//!
//! NIfTI I/O, the MAMA-MIA dataset layout, and preprocessing that reproduces nnU-Net's numbers — both
//! **v2** (`nnunetv2` `DefaultPreprocessor`) and **v1** (the nnU-Net that the original MedNeXt trained
//! with) — on `ndarray`, without a deep-learning framework.
//!
//! Conventions (see [`geometry`]): arrays are `(z, y, x)` (multi-channel `(C, z, y, x)`), spacing is in mm in
//! the same order, NIfTI's Fortran `[x, y, z]` array is read with its axes reversed.
//!
//! References: F. Isensee et al., "nnU-Net: a self-configuring method for deep learning-based biomedical
//! image segmentation", Nature Methods 18 (2021); MIC-DKFZ/nnUNet (v2.8.1, `nnunetv2/preprocessing/…`) and
//! the v1 copy inside MIC-DKFZ/MedNeXt (`nnunet_mednext/preprocessing/…`).
#![deny(missing_docs)]

mod error;
pub mod geometry;
// -- modules (keep one `pub mod` per line) --
pub mod preprocessor;
pub mod export;
pub mod resample;
mod atomic;
pub mod cache;

pub use error::{Error, Result};
pub use geometry::{Geometry, Spacing, Volume};
// -- re-exports (keep one `pub use` per line) --
pub use preprocessor::{preprocess_case, CaseProperties, PreprocessedCase};
pub use export::{logits_to_original_segmentation, probabilities_to_original, probabilities_to_original_segmentation, write_segmentation, OriginalProbabilities};
pub use resample::{compute_new_shape, resample_data, resample_segmentation, separate_z_axis, Order, ResampleConfig, SegResampleConfig, SegmentationRule, SeparateZ};
pub use cache::{MappedCase, PreprocessedCache};
