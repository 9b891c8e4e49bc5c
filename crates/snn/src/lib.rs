//! # snn
//!
//! Self-normalizing network (Klambauer et al., "Self-Normalizing Neural Networks", NeurIPS 2017) on candle,
//! with the feature pipeline, calibration and model bundle used for pCR classification in Musah, "Large
//! Kernel MedNeXt for Breast Tumor Segmentation and Self-Normalizing Network for pCR Classification in MRI".
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
