//! Argument checks and raw-slice access shared by the custom ops (f32, CPU, contiguous).

use candle_core::{bail, CpuStorage, DType, Device, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

/// A zero-filled vector of `len` floats, zeroed by all rayon workers for large `len` (a single-threaded
/// `vec![0.0; len]` of a 32 MiB output tensor is a serial 3 ms memset when the allocator reuses memory).
pub(crate) fn zeroed(len: usize) -> Vec<f32> {
    const PAR_FROM: usize = 1 << 18;
    if len < PAR_FROM {
        return vec![0.0; len];
    }
    let mut v = Vec::with_capacity(len);
    v.spare_capacity_mut()
        .par_chunks_mut(PAR_FROM)
        .for_each(|c| c.iter_mut().for_each(|x| _ = x.write(0.0)));
    // SAFETY: the loop above initialised all `len` elements of the spare capacity.
    unsafe { v.set_len(len) };
    v
}

/// Shape of an NCDHW tensor: `[n, c, d, h, w]`.
pub(crate) type Dims5 = [usize; 5];

/// Checks that `t` is an f32 tensor on the CPU.
///
/// # Errors
/// When the dtype is not f32, or the device is not the CPU (the CUDA kernels are not written yet).
pub(crate) fn check_f32_cpu(op: &str, name: &str, t: &Tensor) -> Result<()> {
    if t.dtype() != DType::F32 {
        bail!(
            "{op}: `{name}` must be f32, got {:?} (shape {:?})",
            t.dtype(),
            t.dims()
        );
    }
    // CUDA tensors are accepted when the `cuda` feature provides the kernels (`ops/cuda/`).
    if !(matches!(t.device(), Device::Cpu) || (cfg!(feature = "cuda") && t.device().is_cuda())) {
        bail!(
            "{op}: `{name}` is on {:?}; only the CPU is implemented so far",
            t.device().location()
        );
    }
    Ok(())
}

/// The NCDHW dimensions of `shape`.
///
/// # Errors
/// When `shape` is not 5-D.
pub(crate) fn dims5(op: &str, name: &str, shape: &Shape) -> Result<Dims5> {
    match *shape.dims() {
        [n, c, d, h, w] => Ok([n, c, d, h, w]),
        ref other => bail!("{op}: `{name}` must be 5-D NCDHW, got shape {other:?}"),
    }
}

/// The contiguous f32 data of a storage/layout pair.
///
/// # Errors
/// When the storage is not f32 or the layout is not contiguous.
pub(crate) fn slice<'a>(op: &str, name: &str, s: &'a CpuStorage, l: &Layout) -> Result<&'a [f32]> {
    let data = s.as_slice::<f32>()?;
    match l.contiguous_offsets() {
        Some((a, b)) => Ok(&data[a..b]),
        None => bail!("{op}: `{name}` must be contiguous (layout {l:?})"),
    }
}

/// Checks that a per-channel parameter has `c` elements (shape `(C,)`, or any shape with `C` elements such as
/// `(1, C, 1, 1, 1)`).
///
/// # Errors
/// When the element count differs from `c`.
pub(crate) fn check_channels(op: &str, name: &str, t: &Tensor, c: usize) -> Result<()> {
    if t.elem_count() != c {
        bail!(
            "{op}: `{name}` must have {c} elements (one per channel), got shape {:?}",
            t.dims()
        );
    }
    Ok(())
}
