//! # upkern
//!
//! UpKern (Roy et al., MedNeXt, MICCAI 2023, §2.3; MIC-DKFZ/MedNeXt `nnunet_mednext/run/load_weights.py`):
//! initialise a large-kernel network from a trained small-kernel one by trilinearly resampling every
//! convolution kernel whose spatial size differs and copying everything else bit-exactly. Works on named
//! tensors (safetensors or PyTorch checkpoints) and does not depend on any model crate.
#![deny(missing_docs)]

mod error;
// -- modules (keep one `mod`/`pub mod` per line) --

pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
