//! CUDA launch wrappers of the custom ops (feature `cuda`): each takes candle `CudaStorage`/`Layout` pairs of
//! contiguous f32 data, launches the kernels of `kernels/*.cu` (compiled to PTX by `build.rs`, loaded once
//! per device through `CudaDevice::get_or_load_custom_func`) and returns a new `CudaStorage` plus its shape,
//! exactly as the CPU kernels of the parent module compute them (within f32 rounding: the GPU kernels sum in
//! another order and use CUDA's `erff`/`expf`).
//!
//! | wrapper | CPU counterpart |
//! | --- | --- |
//! | [`depthwise_forward`], [`depthwise_input_grad`], [`depthwise_weight_grad`] | `depthwise::{forward, input_grad, weight_grad}` |
//! | [`group_norm`], [`group_norm_coefficients`], [`group_norm_input_grad`] | `norm.rs` (`GroupNorm`, `Coefficients`, `InputGrad`) |
//! | [`gelu`], [`gelu_grad`], [`bias_gelu`], [`bias_gelu_grad`] | `gelu.rs` |
//! | [`add_bias`], [`channel_sum`], [`resample2`] | `channel.rs` |
//! | [`pointwise`] | `pointwise_kernel.rs` (`Pointwise`), here cuBLAS through candle's own matmul |
//!
//! References: `/work/shared/tools/cuda-build.md` §3 (custom PTX ops on candle 0.11), candle-core 0.11
//! `src/cuda_backend/mod.rs` (launch pattern), PyTorch `aten/src/ATen/native/cuda/DepthwiseConv3d.cu`,
//! `group_norm_kernel.cu` (design, read only).

mod depthwise;
mod elementwise;
mod norm;

pub(crate) use depthwise::{depthwise_forward, depthwise_input_grad, depthwise_weight_grad};
pub(crate) use elementwise::{
    add_bias, bias_gelu, bias_gelu_grad, gelu, gelu_grad, pointwise, resample2,
};
pub(crate) use norm::{channel_sum, group_norm, group_norm_coefficients, group_norm_input_grad};

use std::sync::Arc;

use candle_core::backend::BackendStorage;
use candle_core::cuda_backend::cudarc::driver::{
    CudaFunction, CudaStream, CudaView, LaunchArgs, LaunchConfig,
};
use candle_core::{bail, CudaDevice, CudaStorage, Layout, Result};

/// One operand: storage and layout, as candle passes them to `cuda_fwd`.
pub(crate) type Arg<'a> = (&'a CudaStorage, &'a Layout);

/// A kernel module: its name in the device's module cache and its PTX text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Module {
    name: &'static str,
    ptx: &'static str,
}

/// `kernels/depthwise.cu`.
pub(crate) const DEPTHWISE: Module = Module {
    name: "mednext_depthwise",
    ptx: include_str!(concat!(env!("OUT_DIR"), "/depthwise.ptx")),
};
/// `kernels/norm.cu`.
pub(crate) const NORM: Module = Module {
    name: "mednext_norm",
    ptx: include_str!(concat!(env!("OUT_DIR"), "/norm.ptx")),
};
/// `kernels/elementwise.cu`.
pub(crate) const ELEMENTWISE: Module = Module {
    name: "mednext_elementwise",
    ptx: include_str!(concat!(env!("OUT_DIR"), "/elementwise.ptx")),
};

/// Threads per block of the element-wise and reduction kernels.
pub(crate) const THREADS: u32 = 256;

/// A loaded kernel and the device's stream it is launched on.
pub(crate) struct Kernel {
    func: CudaFunction,
    stream: Arc<CudaStream>,
}

impl Kernel {
    /// A launch builder on the device's stream (candle's own `CudaFunc::builder`).
    pub(crate) fn builder(&self) -> LaunchArgs<'_> {
        self.stream.launch_builder(&self.func)
    }
}

/// Loads (once per device) and returns kernel `name` of `module`.
///
/// # Errors
/// When the driver rejects the PTX (e.g. `CUDA_ERROR_UNSUPPORTED_PTX_VERSION` from a too-new nvcc) or the
/// kernel is missing.
pub(crate) fn func(dev: &CudaDevice, module: Module, name: &str) -> Result<Kernel> {
    let f = dev.get_or_load_custom_func(name, module.name, module.ptx)?;
    Ok(Kernel {
        func: f.into_cuda_function(),
        stream: dev.cuda_stream(),
    })
}

/// The contiguous f32 data of an operand.
///
/// # Errors
/// When the storage is not f32 or the layout is not contiguous (the message names `op` and `name`).
pub(crate) fn view<'a>(op: &str, name: &str, a: Arg<'a>) -> Result<CudaView<'a, f32>> {
    let (s, l) = a;
    let Ok(data) = s.as_cuda_slice::<f32>() else {
        bail!("{op}: `{name}` must be f32, got {:?}", s.dtype());
    };
    match l.contiguous_offsets() {
        Some((lo, hi)) => Ok(data.slice(lo..hi)),
        None => bail!("{op}: `{name}` must be contiguous (layout {l:?})"),
    }
}

/// A 1-D grid-stride launch over `n` elements: `⌈n / THREADS⌉` blocks, at most 2¹⁶ (the kernels loop).
#[must_use]
pub(crate) fn grid_1d(n: usize) -> LaunchConfig {
    let blocks = n.div_ceil(THREADS as usize).clamp(1, 1 << 16);
    LaunchConfig {
        grid_dim: (blocks as u32, 1, 1),
        block_dim: (THREADS, 1, 1),
        shared_mem_bytes: 0,
    }
}

/// `v` as an `i32` kernel argument.
///
/// # Errors
/// When `v` does not fit (the message names `op` and `what`).
pub(crate) fn int(op: &str, what: &str, v: usize) -> Result<i32> {
    match i32::try_from(v) {
        Ok(i) => Ok(i),
        Err(_) => bail!("{op}: {what} = {v} is too large for the CUDA kernels"),
    }
}

/// Checks that a grid dimension fits CUDA's 65 535 limit on y and z.
///
/// # Errors
/// When `v` is 0 or above 65 535.
pub(crate) fn grid_yz(op: &str, what: &str, v: usize) -> Result<u32> {
    if v == 0 || v > 65_535 {
        bail!("{op}: {what} = {v} is outside the CUDA grid limit 1..=65535");
    }
    Ok(v as u32)
}

/// The storage's device (a clone of the handle).
#[must_use]
pub(crate) fn device(s: &CudaStorage) -> CudaDevice {
    s.device.clone()
}
