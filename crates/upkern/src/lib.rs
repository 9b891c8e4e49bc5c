//! # upkern
//!
//! UpKern (Roy et al., MedNeXt, MICCAI 2023, §2.3; MIC-DKFZ/MedNeXt `nnunet_mednext/run/load_weights.py`):
//! initialise a large-kernel network from a trained small-kernel one by trilinearly resampling every
//! convolution kernel whose spatial size differs and copying everything else bit-exactly. Works on named
//! tensors (safetensors or PyTorch checkpoints) and does not depend on any model crate.
//!
//! See the crate README (included below) for the API overview.
#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod checkpoint;
mod error;
mod report;
mod resample;
mod transfer;
// -- modules (keep one `mod`/`pub mod` per line) --

pub use checkpoint::{read_checkpoint, read_checkpoint_with_format, write_safetensors};
pub use checkpoint::{CheckpointFormat, NamedTensors};
pub use error::{Error, Result};
pub use report::UpKernReport;
pub use resample::{resize_kernel, resize_kernel_2d};
pub use transfer::{shapes_of, upkern};
// -- re-exports (keep one `pub use` per line) --
