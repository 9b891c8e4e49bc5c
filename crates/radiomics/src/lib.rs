//! # radiomics
//!
//! Radiomic features identical to PyRadiomics 3.1 (van Griethuysen et al., "Computational Radiomics System to
//! Decode the Radiographic Phenotype", Cancer Research 77(21), 2017; AIM-Harvard/pyradiomics) on `ndarray`
//! views plus spacing: shape, first order, GLCM, GLRLM, GLSZM, GLDM and NGTDM, with the same names, order and
//! defaults, parallel over classes and directions.
//!
//! ```
//! use ndarray::Array3;
//! use radiomics::{extract, Settings};
//!
//! let image = Array3::from_shape_fn((6, 6, 6), |(z, y, x)| ((z * 36 + y * 6 + x) % 50) as f32);
//! let mask = Array3::from_shape_fn((6, 6, 6), |(z, y, x)| u8::from((1..5).contains(&z) && (1..5).contains(&y) && (1..5).contains(&x)));
//! let features = extract(image.view(), mask.view(), [1.0, 1.0, 1.0], &Settings::default()).unwrap();
//! assert_eq!(features.get("original_shape_VoxelVolume"), Some(64.0));
//! ```
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --
mod discretize;
mod eigen;
mod extractor;
mod features;
mod filters;
mod firstorder;
mod glcm;
mod gldm;
mod glrlm;
mod glszm;
mod imageops;
mod marching_cubes;
mod ngtdm;
mod params;
mod resample;
mod settings;
mod shape;
mod shape2d;
mod texture;
mod texture_common;
mod voxel;
mod wavelet;

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
pub use discretize::{bin_edges, digitize, discretize};
pub use extractor::{extract, firstorder, glcm, gldm, glrlm, glszm, ngtdm, shape};
pub use features::{FeatureClass, Features};
pub use filters::{
    exponential_image, gradient_magnitude, logarithm_image, square_image, square_root_image,
    ImageType,
};
pub use glcm::glcm_matrix;
pub use gldm::gldm_matrix;
pub use glrlm::glrlm_matrix;
pub use glszm::glszm_matrix;
pub use imageops::BoundingBox;
pub use ngtdm::ngtdm_matrix;
pub use resample::{resample_grid, resample_image, resample_mask, ResampleGrid};
pub use settings::{
    Binning, Conventions, Interpolator, Normalization, ResegmentMode, Selection, Settings,
    TextureParams, WeightingNorm,
};
pub use texture_common::texture_features;
pub use voxel::{MaskVoxel, PixelKind, Voxel};
