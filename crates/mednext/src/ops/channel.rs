//! Small parallel helpers on NCDHW tensors: per-channel bias add, per-channel sum, stride-2 subsampling and
//! its adjoint (zero insertion), all as custom ops with backward passes.
//!
//! ```text
//! add_bias:     y[n,c,v] = x[n,c,v] + b[c]                 x̄ = ȳ,  b̄[c] = Σ_{n,v} ȳ[n,c,v]
//! subsample2:   y[n,c,i,j,l] = x[n,c,2i,2j,2l]             (PyTorch Conv3d kernel 1, stride 2)
//! zero_insert2: y[n,c,2i,2j,2l] = x[n,c,i,j,l], 0 elsewhere; output 2D−1 per axis
//!                                                            (PyTorch ConvTranspose3d kernel 1, stride 2)
//! ```
//!
//! `subsample2` and `zero_insert2` are each other's adjoint, so each one's backward is the other.

use candle_core::{CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::storage::{check_channels, check_f32_cpu, dims5, slice, Dims5};
#[cfg(feature = "cuda")]
use candle_core::CudaStorage;

/// Elements per rayon task for flat element-wise loops.
pub(crate) const GRAIN: usize = 1 << 15;

/// Per-channel sums `s[c] = Σ_{n, v} x[n, c, v]` (f64 accumulation), shape `(C,)`; no backward.
///
/// # Errors
/// When `x` is not a 5-D f32 CPU tensor.
pub(crate) fn channel_sum(x: &Tensor) -> Result<Tensor> {
    check_f32_cpu("channel_sum", "x", x)?;
    x.contiguous()?.apply_op1_no_bwd(&ChannelSum)
}

struct ChannelSum;

impl CustomOp1 for ChannelSum {
    fn name(&self) -> &'static str {
        "channel-sum"
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout) -> Result<(CudaStorage, Shape)> {
        super::cuda::channel_sum((s1, l1))
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let dims = dims5(self.name(), "x", l.shape())?;
        let x = slice(self.name(), "x", s, l)?;
        Ok((CpuStorage::F32(channel_sums(x, dims)), Shape::from(dims[1])))
    }
}

/// `s[c] = Σ_{n,v} x[n, c, v]` over an NCDHW slice (f64 per (n, c) plane in parallel, then over the batch).
pub(crate) fn channel_sums(x: &[f32], dims: Dims5) -> Vec<f32> {
    let [n, c, d, h, w] = dims;
    let v = d * h * w;
    let sums: Vec<f64> = (0..n * c)
        .into_par_iter()
        .map(|nc| x[nc * v..][..v].iter().map(|&a| f64::from(a)).sum::<f64>())
        .collect();
    (0..c)
        .map(|ch| (0..n).map(|b| sums[b * c + ch]).sum::<f64>() as f32)
        .collect()
}

/// `y[n,c,v] = x[n,c,v] + b[c]` with autograd; on a non-CPU device it falls back to `broadcast_add`.
///
/// # Errors
/// When `b` does not have one element per channel of `x`.
pub(crate) fn add_bias(op: &str, x: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dims = dims5(op, "x", x.shape())?;
    check_channels(op, "bias", b, dims[1])?;
    if !x.device().is_cpu() {
        return x.broadcast_add(&b.reshape((1, dims[1], 1, 1, 1))?);
    }
    check_f32_cpu(op, "bias", b)?;
    x.contiguous()?
        .apply_op2(&b.flatten_all()?.contiguous()?, AddBias)
}

struct AddBias;

impl CustomOp2 for AddBias {
    fn name(&self) -> &'static str {
        "add-channel-bias"
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        super::cuda::add_bias((s1, l1), (s2, l2))
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let [_, c, d, h, w] = dims5(self.name(), "x", l1.shape())?;
        let x = slice(self.name(), "x", s1, l1)?;
        let b = slice(self.name(), "bias", s2, l2)?;
        let v = (d * h * w).max(1);
        let mut out = x.to_vec();
        out.par_chunks_mut(v).enumerate().for_each(|(nc, o)| {
            let bc = b[nc % c];
            o.iter_mut().for_each(|a| *a += bc);
        });
        Ok((CpuStorage::F32(out), l1.shape().clone()))
    }

    fn bwd(
        &self,
        _x: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        Ok((Some(grad.clone()), Some(channel_sum(grad)?)))
    }
}

/// Stride-2 subsampling `x[:, :, ::2, ::2, ::2]` with autograd.
///
/// # Errors
/// When `x` is not a 5-D f32 CPU tensor.
pub(crate) fn subsample2(x: &Tensor) -> Result<Tensor> {
    check_f32_cpu("subsample2", "x", x)?;
    let dims = dims5("subsample2", "x", x.shape())?;
    x.contiguous()?.apply_op1(Resample2 {
        up: false,
        src: dims,
        dst: resampled(dims, false),
    })
}

/// Zero insertion (output `2D − 1` per axis, input at even positions) with autograd.
///
/// # Errors
/// When `x` is not a 5-D f32 CPU tensor.
pub(crate) fn zero_insert2(x: &Tensor) -> Result<Tensor> {
    check_f32_cpu("zero_insert2", "x", x)?;
    let dims = dims5("zero_insert2", "x", x.shape())?;
    x.contiguous()?.apply_op1(Resample2 {
        up: true,
        src: dims,
        dst: resampled(dims, true),
    })
}

/// Subsampling (`up = false`) or zero insertion (`up = true`) by 2 along D, H, W.
struct Resample2 {
    up: bool,
    /// Input shape of the forward op.
    src: Dims5,
    /// Output shape (the zero-inserted shape may be one larger than `2l − 1`: backward of `subsample2`).
    dst: Dims5,
}

/// Subsampled shape `⌈l/2⌉` or zero-inserted shape `2l − 1` of a 5-D shape.
fn resampled(dims: Dims5, up: bool) -> Dims5 {
    let f = |l: usize| {
        if up {
            (2 * l).saturating_sub(1)
        } else {
            l.div_ceil(2)
        }
    };
    [dims[0], dims[1], f(dims[2]), f(dims[3]), f(dims[4])]
}

/// Copies between a coarse (`small`) and a fine (`big`, `2l−1` or `2l`) volume: `big[2i] ↔ small[i]`.
fn scatter_even(small: &[f32], sd: Dims5, big: &mut [f32], bd: Dims5) {
    let sv = sd[2] * sd[3] * sd[4];
    let bv = bd[2] * bd[3] * bd[4];
    if sv == 0 || bv == 0 {
        return;
    }
    big.par_chunks_mut(bv)
        .zip(small.par_chunks(sv))
        .for_each(|(b, s)| {
            for d in 0..sd[2] {
                for h in 0..sd[3] {
                    let srow = &s[(d * sd[3] + h) * sd[4]..][..sd[4]];
                    let brow = &mut b[(2 * d * bd[3] + 2 * h) * bd[4]..][..bd[4]];
                    for (w, &v) in srow.iter().enumerate() {
                        brow[2 * w] = v;
                    }
                }
            }
        });
}

fn gather_even(big: &[f32], bd: Dims5, sd: Dims5) -> Vec<f32> {
    let sv = sd[2] * sd[3] * sd[4];
    let bv = bd[2] * bd[3] * bd[4];
    let mut out = vec![0.0_f32; sd[0] * sd[1] * sv];
    if sv == 0 || bv == 0 {
        return out;
    }
    out.par_chunks_mut(sv)
        .zip(big.par_chunks(bv))
        .for_each(|(s, b)| {
            for d in 0..sd[2] {
                for h in 0..sd[3] {
                    let srow = &mut s[(d * sd[3] + h) * sd[4]..][..sd[4]];
                    let brow = &b[(2 * d * bd[3] + 2 * h) * bd[4]..][..bd[4]];
                    for (w, v) in srow.iter_mut().enumerate() {
                        *v = brow[2 * w];
                    }
                }
            }
        });
    out
}

impl CustomOp1 for Resample2 {
    fn name(&self) -> &'static str {
        if self.up {
            "zero-insert2"
        } else {
            "subsample2"
        }
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout) -> Result<(CudaStorage, Shape)> {
        super::cuda::resample2((s1, l1), self.up, self.src, self.dst)
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(self.name(), "x", s, l)?;
        let src = dims5(self.name(), "x", l.shape())?;
        if src != self.src {
            candle_core::bail!(
                "{}: input shape {src:?}, expected {:?}",
                self.name(),
                self.src
            );
        }
        let dst = self.dst;
        let out = if self.up {
            let mut big = vec![0.0_f32; dst.iter().product()];
            scatter_even(x, src, &mut big, dst);
            big
        } else {
            gather_even(x, src, dst)
        };
        Ok((CpuStorage::F32(out), Shape::from(dst.to_vec())))
    }

    fn bwd(&self, _x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let adjoint = Resample2 {
            up: !self.up,
            src: self.dst,
            dst: self.src,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&adjoint)?))
    }
}
