//! Linear / bilinear / trilinear resizing of convolution kernels (the trailing spatial dims of a weight).
//!
//! Reproduces PyTorch `torch.nn.functional.interpolate(w, size=…, mode='trilinear' | 'bilinear',
//! align_corners=False)` (aten `upsample_trilinear3d`, `area_pixel_compute_source_index`), which MedNeXt's
//! UpKern (`nnunet_mednext/run/load_weights.py::upkern_load_weights`, MIC-DKFZ/MedNeXt; Roy et al., MICCAI
//! 2023, §2.3) applies to every kernel whose spatial size changes. The leading dims (PyTorch's batch and
//! channel dims, i.e. a conv weight's `C_out` and `C_in/groups`) are independent samples.
//!
//! The resize is separable: one 1-D linear map per spatial axis. Along an axis of `n_in → n_out` samples,
//!
//! ```text
//! s        = max(0, (o + 0.5)·n_in/n_out − 0.5)          half-pixel centres, clamped below at 0
//! i0       = floor(s),  i1 = min(i0 + 1, n_in − 1)       clamped above at the last sample
//! λ        = s − i0
//! y[o]     = (1 − λ)·x[i0] + λ·x[i1]
//! ```
//!
//! e.g. 3 → 5 gives the rows `[1,0,0] [.6,.4,0] [0,1,0] [0,.4,.6] [0,0,1]` (no renormalisation: the kernel
//! sum grows; UpKern is an initialisation, not a function-preserving map).
//!
//! Arithmetic follows PyTorch's CPU kernel (`aten/src/ATen/native/cpu/UpSampleKernel.cpp`,
//! `UpSample.h::compute_source_index_and_lambda`): scale, source index and weights in the "opmath" type
//! (f32 for f16/bf16/f32 weights, f64 for f64), `y = fma(x[i0], λ0, x[i1]·λ1)` with `λ0 = 1 − λ1` (the
//! fused multiply-add PyTorch's `output += t·w` compiles to; bit-exact on the fixtures), and the axes
//! nested with the last (W) axis innermost, i.e. resized first. The result is rounded to the weight's dtype.

use std::ops::{Add, Div, Mul, Sub};

use candle_core::{DType, Tensor};

use crate::error::{Error, Result};

/// The arithmetic type of the resize: PyTorch's `opmath` type (f32 for f16/bf16/f32 weights, f64 for f64).
trait Real:
    Copy
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
{
    const ZERO: Self;
    const ONE: Self;
    const HALF: Self;
    fn from_usize(n: usize) -> Self;
    fn floor_to_usize(self) -> usize;
    /// `self·a + b` with a single rounding (fused multiply-add).
    fn mul_add(self, a: Self, b: Self) -> Self;
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const HALF: Self = 0.5;
    fn from_usize(n: usize) -> Self {
        n as f32
    }
    fn floor_to_usize(self) -> usize {
        self.floor() as usize
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    const HALF: Self = 0.5;
    fn from_usize(n: usize) -> Self {
        n as f64
    }
    fn floor_to_usize(self) -> usize {
        self.floor() as usize
    }
    fn mul_add(self, a: Self, b: Self) -> Self {
        self.mul_add(a, b)
    }
}

/// One output sample of a 1-D linear resize: `y = fma(x[i0], λ0, x[i1]·λ1)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Tap<T> {
    i0: usize,
    i1: usize,
    lambda0: T,
    lambda1: T,
}

/// The taps of a `n_in → n_out` linear resize with half-pixel centres (`align_corners = False`), with
/// scale, source index and weights computed in `T` in PyTorch's order.
fn linear_taps<T: Real>(n_in: usize, n_out: usize) -> Vec<Tap<T>> {
    let scale = T::from_usize(n_in) / T::from_usize(n_out);
    (0..n_out)
        .map(|o| {
            let mut s = scale * (T::from_usize(o) + T::HALF) - T::HALF;
            if s < T::ZERO {
                s = T::ZERO;
            }
            let i0 = s.floor_to_usize().min(n_in - 1);
            let i1 = (i0 + 1).min(n_in - 1);
            let mut lambda1 = s - T::from_usize(i0);
            if lambda1 < T::ZERO {
                lambda1 = T::ZERO;
            } else if lambda1 > T::ONE {
                lambda1 = T::ONE;
            }
            Tap {
                i0,
                i1,
                lambda0: T::ONE - lambda1,
                lambda1,
            }
        })
        .collect()
}

/// Resizes `data` (C-order, `shape`) along `axis` to `n_out` samples.
fn resize_axis<T: Real>(data: &[T], shape: &[usize], axis: usize, n_out: usize) -> Vec<T> {
    let n_in = shape[axis];
    let outer: usize = shape[..axis].iter().product();
    let inner: usize = shape[axis + 1..].iter().product();
    let taps = linear_taps::<T>(n_in, n_out);
    let mut out = vec![T::ZERO; outer * n_out * inner];
    for b in 0..outer {
        let src = &data[b * n_in * inner..(b + 1) * n_in * inner];
        let dst = &mut out[b * n_out * inner..(b + 1) * n_out * inner];
        for (o, tap) in taps.iter().enumerate() {
            let (a, c) = (
                &src[tap.i0 * inner..][..inner],
                &src[tap.i1 * inner..][..inner],
            );
            for ((y, &x0), &x1) in dst[o * inner..][..inner].iter_mut().zip(a).zip(c) {
                *y = x0.mul_add(tap.lambda0, x1 * tap.lambda1);
            }
        }
    }
    out
}

/// Resizes the trailing axes to `new_spatial`, last axis first (PyTorch's nesting order).
fn resize_all<T: Real>(
    mut data: Vec<T>,
    shape: &[usize],
    new_spatial: &[usize],
) -> (Vec<T>, Vec<usize>) {
    let lead = shape.len() - new_spatial.len();
    let mut cur = shape.to_vec();
    for (k, &n_out) in new_spatial.iter().enumerate().rev() {
        let axis = lead + k;
        if cur[axis] != n_out {
            data = resize_axis(&data, &cur, axis, n_out);
            cur[axis] = n_out;
        }
    }
    (data, cur)
}

/// Resizes the trailing `new_spatial.len()` dims of `w` with (multi-)linear interpolation, half-pixel
/// centres, `align_corners = False`; the leading dims are independent samples.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if `w` has fewer dims than `new_spatial` names or a size is zero;
/// [`Error::InvalidParameter`] for a non-float dtype; [`Error::Candle`] from tensor conversion.
pub(crate) fn resize_trailing(w: &Tensor, new_spatial: &[usize]) -> Result<Tensor> {
    let shape = w.dims().to_vec();
    let n_sp = new_spatial.len();
    let mismatch = |reason: &str| Error::ShapeMismatch {
        key: "<tensor>".into(),
        source_shape: shape.clone(),
        target_shape: new_spatial.to_vec(),
        reason: reason.into(),
    };
    if shape.len() < n_sp {
        return Err(mismatch(
            "the weight has fewer dims than spatial sizes were given",
        ));
    }
    let lead = shape.len() - n_sp;
    if shape[lead..].contains(&0) || new_spatial.contains(&0) {
        return Err(mismatch("spatial sizes must be at least 1"));
    }
    let dtype = w.dtype();
    if !matches!(dtype, DType::F16 | DType::BF16 | DType::F32 | DType::F64) {
        return Err(Error::InvalidParameter {
            key: "w",
            reason: format!("kernel resizing needs a float tensor, got {dtype:?}"),
        });
    }
    let resized = if dtype == DType::F64 {
        let data = w.flatten_all()?.to_vec1::<f64>()?;
        let (data, cur) = resize_all(data, &shape, new_spatial);
        Tensor::from_vec(data, cur, w.device())?
    } else {
        let data = w.to_dtype(DType::F32)?.flatten_all()?.to_vec1::<f32>()?;
        let (data, cur) = resize_all(data, &shape, new_spatial);
        Tensor::from_vec(data, cur, w.device())?.to_dtype(dtype)?
    };
    Ok(resized)
}

/// Trilinear resize of the trailing three (spatial) dims of a convolution weight, like PyTorch
/// `F.interpolate(w, size=new_spatial, mode='trilinear', align_corners=False)`.
///
/// ```text
/// w: (…, kD, kH, kW) → (…, new_spatial[0], new_spatial[1], new_spatial[2])
/// out[…, a, b, c] = Σ_{i,j,k} A_D[a,i]·A_H[b,j]·A_W[c,k]·w[…, i, j, k]
/// A[o, ·] = linear taps at s = max(0, (o + ½)·n_in/n_out − ½), clamped to the last sample
/// ```
///
/// Works for up- and down-sizing (3 → 5, 3 → 7, 5 → 7, 7 → 5, …); the dtype is kept (computed in f64).
/// Reference: MIC-DKFZ/MedNeXt `upkern_load_weights`; aten `upsample_trilinear3d`.
///
/// # Examples
///
/// ```
/// # fn main() -> upkern::Result<()> {
/// use candle_core::{Device, Tensor};
/// let w3 = Tensor::new(&[0f32, 1.0, 2.0], &Device::Cpu)?.reshape((1, 1, 1, 1, 3))?;
/// let w5 = upkern::resize_kernel(&w3, [1, 1, 5])?;
/// let v: Vec<f32> = w5.flatten_all()?.to_vec1()?;
/// // The 3 → 5 rows [1,0,0] [.6,.4,0] [0,1,0] [0,.4,.6] [0,0,1]; f32 weights as in PyTorch (0.6f32 ≠ 0.6).
/// assert_eq!(v, [0.0, 0.40000004, 1.0, 1.6000001, 2.0]);
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// [`Error::ShapeMismatch`] if `w` has fewer than 3 dims or a spatial size is zero;
/// [`Error::InvalidParameter`] for a non-float dtype; [`Error::Candle`] from tensor conversion.
pub fn resize_kernel(w: &Tensor, new_spatial: [usize; 3]) -> Result<Tensor> {
    resize_trailing(w, &new_spatial)
}

/// Bilinear resize of the trailing two dims of a 2-D convolution weight (PyTorch `mode='bilinear'`,
/// `align_corners=False`; the 2-D path of MedNeXt's `load_pretrained_weights_resampling`). Same formula
/// as [`resize_kernel`] on two axes.
///
/// # Errors
///
/// As [`resize_kernel`] (fewer than 2 dims).
pub fn resize_kernel_2d(w: &Tensor, new_spatial: [usize; 2]) -> Result<Tensor> {
    resize_trailing(w, &new_spatial)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taps_three_to_five_match_the_upkern_matrix() {
        let a: Vec<[f64; 3]> = linear_taps::<f64>(3, 5)
            .iter()
            .map(|t| {
                let mut row = [0.0; 3];
                row[t.i0] += t.lambda0;
                row[t.i1] += t.lambda1;
                row
            })
            .collect();
        let expected = [
            [1.0, 0.0, 0.0],
            [0.6, 0.4, 0.0],
            [0.0, 1.0, 0.0],
            [0.0, 0.4, 0.6],
            [0.0, 0.0, 1.0],
        ];
        for (row, exp) in a.iter().zip(expected) {
            for (x, e) in row.iter().zip(exp) {
                assert!((x - e).abs() < 1e-12, "{row:?} vs {exp:?}");
            }
        }
    }

    #[test]
    fn identity_when_sizes_agree() {
        let taps = linear_taps::<f32>(5, 5);
        assert!(taps
            .iter()
            .enumerate()
            .all(|(o, t)| t.i0 == o && t.lambda1 == 0.0));
    }
}
