//! # radiomics
//!
//! Radiomic features identical to PyRadiomics 3.1 (van Griethuysen et al., "Computational Radiomics System to
//! Decode the Radiographic Phenotype", Cancer Research 77(21), 2017; AIM-Harvard/pyradiomics) on `ndarray`
//! views plus spacing: shape, first order, GLCM, GLRLM, GLSZM, GLDM and NGTDM, with the same names, order and
//! defaults, parallel over classes and directions.
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --
mod features;
mod settings;

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
pub use features::{FeatureClass, Features};
pub use settings::{
    Binning, Conventions, Interpolator, Normalization, ResegmentMode, Selection, Settings,
    TextureParams, WeightingNorm,
};
