//! The 3-D operations MedNeXt needs and candle 0.11 lacks, as candle custom ops with backward passes.
//!
//! | op | PyTorch equivalent |
//! | --- | --- |
//! | [`depthwise_conv3d`] | `Conv3d(C, C, k, stride, padding=k//2, groups=C)` |
//! | [`depthwise_conv_transpose3d`] | `ConvTranspose3d(C, C, k, stride=2, padding=k//2, groups=C)` |
//! | [`conv1x1x1`] | `Conv3d(C_in, C_out, 1, stride)` |
//! | [`conv_transpose1x1x1`] | `ConvTranspose3d(C_in, C_out, 1, stride)` |
//! | [`channel_group_norm`] | `GroupNorm(C, C, eps)` |
//! | [`gelu_erf`] | `GELU()` (exact erf form) |
//! | [`bias_gelu`] | `GELU()(x + b[c])` |
//!
//! All take f32 NCDHW tensors (non-contiguous inputs are copied), run on the CPU with rayon and
//! run-time-dispatched AVX-512/AVX2 inner loops, and are differentiable through candle's autograd
//! (first-order gradients). Other devices return an error for now; the kernels work on plain slices so that
//! `cuda_fwd` implementations can be added next to them.
//!
//! References: MedNeXt (Roy et al., MICCAI 2023; MIC-DKFZ/MedNeXt `mednextv1/blocks.py`),
//! `reference/mednext.md` §1–4 and 16, `reference/rust-notes.md` §1–4 and 6.

mod channel;
mod conv;
mod depthwise;
mod gelu;
mod norm;
mod pointwise;
mod pointwise_kernel;
mod simd;
mod storage;

pub use conv::{depthwise_conv3d, depthwise_conv_transpose3d};
pub use gelu::{bias_gelu, gelu_erf};
pub use norm::channel_group_norm;
pub use pointwise::{conv1x1x1, conv_transpose1x1x1};
