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
mod atomic;
pub mod batch;
pub mod cache;
pub mod case;
pub mod crop;
pub mod export;
pub mod fingerprint;
pub mod mamamia;
pub mod nifti_io;
pub mod normalize;
pub mod np_stats;
pub mod plans;
pub mod preprocessor;
pub mod resample;
pub mod target_spacing;

pub use error::{Error, Result};
pub use geometry::{Geometry, Spacing, Volume};
// -- re-exports (keep one `pub use` per line) --
pub use cache::{write_json_atomically, MappedCase, PreprocessedCache};
pub use case::{load_case, Case, CaseFiles, SegmentationRequirement};
pub use crop::{
    bounding_box, crop_to_nonzero, fill_holes, nonzero_mask, uncrop, BoundingBox, Cropped,
};
pub use export::{
    logits_to_original_segmentation, probabilities_to_original,
    probabilities_to_original_segmentation, write_segmentation, OriginalProbabilities,
};
pub use fingerprint::{
    case_fingerprint, dataset_fingerprint, dataset_fingerprint_for, CaseFingerprint,
    DatasetFingerprint, ForegroundIntensityProperties,
};
pub use mamamia::{BreastBox, ClinicalRecord, ClinicalTable, MamaMia, PatientInfo, Splits};
pub use nifti_io::{
    read_geometry, read_label_map, read_volume, read_volume_with, write_mask, write_volume,
    NonFinitePolicy, ReadOptions,
};
pub use normalize::{
    normalize_channel_mut, scheme_for_channel_name, scheme_for_channel_name_in, use_mask_for_norm,
    use_mask_for_norm_v1, NormalizationScheme, SchemeKind,
};
pub use plans::{Flavour, Plans, PlansParams, TargetSpacing};
pub use preprocessor::{preprocess_case, CaseProperties, PreprocessedCase};
pub use resample::{
    compute_new_shape, resample_data, resample_segmentation, separate_z_axis, Order,
    ResampleConfig, SegResampleConfig, SegmentationRule, SeparateZ,
};
pub use target_spacing::{
    target_spacing, target_spacing_with, transpose_backward, transpose_forward,
};
