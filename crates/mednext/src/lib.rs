//! # mednext
//!
//! MedNeXt v1 (Roy et al., "MedNeXt: Transformer-driven Scaling of ConvNets for Medical Image Segmentation",
//! MICCAI 2023; MIC-DKFZ/MedNeXt) on candle, numerically equal to the original PyTorch implementation, with
//! the 3-D operations candle lacks (depthwise 3-D convolution and its transpose, fused per-channel GroupNorm
//! and exact GELU, whole fused blocks) as custom ops with backward passes. Programs that train or run the
//! network on the CPU should call [`retain_freed_memory`] at the start of `main` (see its documentation).
//!
//! ```
//! use candle_core::{Device, Tensor};
//! use mednext::{new_trainable, ExpRatio, MedNextConfig};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A tiny MedNeXt (C = 4, one block per stage), seeded PyTorch-style initialisation.
//! let cfg = MedNextConfig {
//!     in_channels: 3,
//!     n_channels: 4,
//!     n_classes: 2,
//!     exp_r: ExpRatio::Uniform(2),
//!     kernel_size: Some(3),
//!     block_counts: vec![1; 9],
//!     ..MedNextConfig::default()
//! };
//! let (model, _varmap) = new_trainable(&cfg, 42, &Device::Cpu)?;
//! // Inputs are N×C×D×H×W with every spatial size divisible by 16.
//! let x = Tensor::randn(0f32, 1.0, (1, 3, 16, 16, 16), &Device::Cpu)?;
//! let logits = model.forward_logits(&x)?;
//! assert_eq!(logits.dims(), &[1, 2, 16, 16, 16]);
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod allocator;
mod error;
// -- modules (keep one `mod`/`pub mod` per line) --
mod block;
mod checkpoint;
mod config;
pub mod infer;
mod model;
pub mod ops;
pub mod train;
mod weights;

pub use allocator::retain_freed_memory;
pub use error::{Error, Result};
// -- re-exports (keep one `pub use` per line) --
pub use block::{down_block, mednext_block, out_block, up_block};
pub use block::{BlockConfig, DownBlock, MedNextBlock, OutBlock, Resample, UpBlock};
pub use checkpoint::{recompute, Recompute};
pub use config::{CheckpointStyle, ExpRatio, MedNextConfig, NormType, Preset, SpatialDims};
pub use config::{NUM_STAGES, SIZE_DIVISOR};
pub use model::{mednext, MedNext};
pub use weights::{check_monai_compatible, check_state_dict, monai_to_original, original_to_monai};
pub use weights::{monai_key_to_original, original_key_to_monai, read_weights};
pub use weights::{new_trainable, parameter_count, sorted_vars, state_dict_shapes};
pub use weights::{KeyNaming, NamedTensors, DUMMY_TENSOR};
