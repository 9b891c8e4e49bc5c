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
//!
//! # Example
//!
//! ```rust
//! use nnunet_preproc::{load_case, preprocess_case, CaseFiles, SegmentationRequirement};
//! use nnunet_preproc::{case_fingerprint, dataset_fingerprint_for, Flavour, Plans, PlansParams, TargetSpacing};
//!
//! # fn main() -> nnunet_preproc::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! # let g = nnunet_preproc::Geometry::from_spacing([1.5, 0.7, 0.7]);
//! # let img = ndarray::Array3::from_shape_fn((6, 8, 8), |(z, y, x)| (z + y * x) as f32 + 1.0);
//! # nnunet_preproc::write_volume(dir.path().join("pre.nii.gz"), img.view(), &g)?;
//! let files = CaseFiles {
//!     id: "DUKE_001".into(),
//!     channels: vec![dir.path().join("pre.nii.gz")],
//!     segmentation: None,
//! };
//! let case = load_case(&files, SegmentationRequirement::Optional)?;
//! let fp = case_fingerprint(case.data.view(), None, case.geometry.spacing)?;
//! let params = PlansParams::new()
//!     .flavour(Flavour::V1)
//!     .target_spacing(TargetSpacing::Fixed([1.0, 1.0, 1.0]));
//! let plans = Plans::from_fingerprint(&dataset_fingerprint_for(&[fp], Flavour::V1)?, &["pre"], &params)?;
//! let pre = preprocess_case(case.data.view(), None, &case.geometry, &plans)?;
//! assert_eq!(pre.data.shape(), &[1, 9, 6, 6]); // 6×1.5 mm → 9 slices, 8×0.7 mm → 6 voxels
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod error;
pub mod geometry;
// -- modules (keep one `pub mod` per line) --
mod atomic;
pub mod augment;
pub mod batch;
pub mod cache;
pub mod case;
pub mod crop;
pub mod export;
pub mod fingerprint;
mod gaussian;
mod loader;
pub mod mamamia;
pub mod nifti_io;
pub mod normalize;
pub mod np_stats;
pub mod plans;
mod postprocess;
pub mod preprocessor;
pub mod resample;
mod sampling;
mod sliding_window;
pub mod synthetic;
pub mod target_spacing;

pub use error::{Error, Result};
pub use geometry::{Geometry, Spacing, Volume};
// -- re-exports (keep one `pub use` per line) --
pub use augment::{
    augment_sample, validation_sample, AugmentConfig, AugmentFlavour, AugmentedSample,
};
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
pub use gaussian::{compute_gaussian, gaussian_kernel_1d, gaussian_peak};
pub use loader::{make_batch, split_batch, Batch, Loader, LoaderConfig, LoaderMode};
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
pub use postprocess::{
    keep_largest_component_mask_mut, keep_largest_component_mut, label_components, postprocess_mut,
    BreastBoxMasking, Connectivity, PostprocessConfig,
};
pub use preprocessor::{preprocess_case, CaseProperties, PreprocessedCase};
pub use resample::{
    compute_new_shape, resample_data, resample_segmentation, separate_z_axis, Order,
    ResampleConfig, SegResampleConfig, SegmentationRule, SeparateZ,
};
pub use sampling::{
    crop_and_pad_data, crop_and_pad_seg, fold_cases, generate_crossval_split, loader_patch_size,
    patch_lower_bound, read_splits_json, sample_rng, write_splits_json, CachedCase, Fold,
    FoldSplit, InMemoryCase, Oversampling, PatchSampler, SampledPatch, SamplerConfig, TrainingCase,
};
pub use sliding_window::{
    compute_steps_for_sliding_window, padding_for_patch, predict_sliding_window,
    sliding_window_tiles, SlidingWindow, SlidingWindowConfig, TileWeighting, TtaAveraging,
};
pub use synthetic::{synthetic_case, write_synthetic_dataset, SyntheticCase, SyntheticConfig};
pub use target_spacing::{
    target_spacing, target_spacing_with, transpose_backward, transpose_forward,
};
