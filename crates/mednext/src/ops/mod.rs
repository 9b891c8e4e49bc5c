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
//! | [`block_tail`] | `conv3(GELU(conv2(GroupNorm(C, C)(a)))) [+ x]` of a MedNeXt block, fused |
//! | [`fused_block`] | the whole stride-1 block `x + conv3(GELU(conv2(GroupNorm(conv1(x)))))`, fused |
//! | [`fused_stage`] | a chain of such blocks (an encoder/decoder stage) as one op |
//!
//! All take f32 NCDHW tensors (non-contiguous inputs are copied), run on the CPU with rayon and
//! run-time-dispatched AVX-512/AVX2 inner loops, and are differentiable through candle's autograd
//! (first-order gradients). Other devices return an error for now; the kernels work on plain slices so that
//! `cuda_fwd` implementations can be added next to them.
//!
//! Performance notes: candle's element-wise ops are single-threaded and each one materialises a tensor, so
//! prefer the fused forms — the whole `norm → conv2 → GELU → conv3 (+ x)` of a MedNeXt block as
//! [`block_tail`] (tiled over voxels: the `r·C`-channel activations stay in L2 and are never allocated;
//! its backward recomputes them per tile), else `conv2 → GELU` as `bias_gelu(&conv1x1x1(x, w, None, 1)?, b)`
//! and the norm as [`channel_group_norm`] rather than `candle_nn::GroupNorm`. The depthwise kernels copy each
//! (n, c) plane into a zero-padded scratch plane and run register-blocked loops over it (see
//! `benches/compare_mednext_ops.py` and `docs/benchmarks.md` for timings against PyTorch).
//!
//! References: MedNeXt (Roy et al., MICCAI 2023; MIC-DKFZ/MedNeXt `mednextv1/blocks.py`),
//! `reference/mednext.md` §1–4 and 16, `reference/rust-notes.md` §1–4 and 6.

mod block_fused;
mod block_tail;
mod block_tail_kernel;
mod channel;
mod conv;
#[cfg(feature = "cuda")]
pub(crate) mod cuda;
mod depthwise;
mod gelu;
mod norm;
mod pointwise;
mod pointwise_kernel;
mod simd;
mod storage;
mod tile_gemm;

pub use block_fused::{fused_block, fused_stage, DepthwiseStage, FusedBlock};
pub use block_tail::{block_tail, BlockTail};
pub use conv::{depthwise_conv3d, depthwise_conv_transpose3d};
pub use gelu::{bias_gelu, gelu_erf};
pub use norm::channel_group_norm;
pub use pointwise::{conv1x1x1, conv_transpose1x1x1};
