//! # mednext
//!
//! MedNeXt v1 (Roy et al., "MedNeXt: Transformer-driven Scaling of ConvNets for Medical Image Segmentation",
//! MICCAI 2023; MIC-DKFZ/MedNeXt) on candle, numerically equal to the original PyTorch implementation, with
//! the 3-D operations candle lacks (depthwise 3-D convolution and its transpose, fused per-channel GroupNorm
//! and exact GELU) as custom ops with backward passes.
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --
pub mod ops;

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
