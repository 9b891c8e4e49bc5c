//! Exact (erf) GELU and the fused bias + GELU, parallel and vectorised, as custom ops with backward passes.
//!
//! Reference: PyTorch `torch.nn.GELU()` (`approximate='none'`), the activation of every MedNeXt block
//! (`reference/mednext.md` §2); candle's own `gelu_erf` is single-threaded (`reference/rust-notes.md` §3).
//! `erf` uses the Abramowitz & Stegun 7.1.26 rational approximation (|error| ≤ 1.5e-7), the same form as
//! PyTorch's vectorised CPU `erf`, with a Cephes-style polynomial `exp`.
//!
//! ```text
//! gelu(x)  = x · Φ(x),   Φ(x) = ½ (1 + erf(x/√2))
//! gelu'(x) = Φ(x) + x · φ(x),   φ(x) = exp(−x²/2) / √(2π)
//! bias_gelu(x, b)[n,c,…] = gelu(x[n,c,…] + b[c])
//! ```

use candle_core::{
    bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor,
};
use rayon::prelude::*;

use super::channel::{channel_sum, GRAIN};
use super::simd::{multiversion, MulAdd};
use super::storage::{check_channels, check_f32_cpu, slice};
#[cfg(feature = "cuda")]
use candle_core::CudaStorage;

/// `exp(x)` for `x ≤ 0` (inputs below −87 give ≈ 0), branch-free so that it vectorises; relative error
/// ≈ 2e-7.
#[inline(always)]
fn exp_neg(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5·2²³: adding and subtracting it rounds to the nearest integer
    let x = x.max(-87.0);
    let t = x * LOG2E + ROUND; // = ROUND + n exactly, n = round(x·log2 e) ∈ [−126, 0]
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.987_569_1e-4_f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2ⁿ from the bits of t (its mantissa holds 0x40_0000 + n): integer lanes only, no float→int
    // conversion (Rust's saturating `as i32` would be scalarised).
    let scale = f32::from_bits(t.to_bits().wrapping_sub(0x4B40_0000).wrapping_add(127) << 23);
    e * scale
}

/// `(Φ(x), φ(x))` with `Φ` through the A&S 7.1.26 `erf`.
#[inline(always)]
fn cdf_pdf(x: f32) -> (f32, f32) {
    const P: f32 = 0.327_591_1;
    const A1: f32 = 0.254_829_6;
    const A2: f32 = -0.284_496_74;
    const A3: f32 = 1.421_413_8;
    const A4: f32 = -1.453_152_1;
    const A5: f32 = 1.061_405_4;
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    let z = x * std::f32::consts::FRAC_1_SQRT_2;
    let az = z.abs();
    let t = 1.0 / (1.0 + P * az);
    let e = exp_neg(-az * az); // = exp(−x²/2)
    let poly = ((((A5 * t + A4) * t + A3) * t + A2) * t + A1) * t;
    let erf_abs = 1.0 - poly * e;
    let erf = erf_abs.copysign(z);
    (0.5 * (1.0 + erf), e * INV_SQRT_2PI)
}

/// `gelu(x)` for one value.
#[inline(always)]
fn gelu_one(x: f32) -> f32 {
    x * cdf_pdf(x).0
}

/// `gelu'(x)` for one value.
#[inline(always)]
fn gelu_grad_one(x: f32) -> f32 {
    let (cdf, pdf) = cdf_pdf(x);
    x * pdf + cdf
}

#[inline(always)]
fn gelu_slice_impl<M: MulAdd, const L: usize>(x: &[f32], bias: f32, y: &mut [f32]) {
    for (o, &v) in y.iter_mut().zip(x) {
        *o = gelu_one(v + bias);
    }
}

multiversion! {
    fn gelu_slice(x: &[f32], bias: f32, y: &mut [f32]) => gelu_slice_impl;
}

#[inline(always)]
fn gelu_grad_slice_impl<M: MulAdd, const L: usize>(
    x: &[f32],
    bias: f32,
    dy: &[f32],
    dx: &mut [f32],
) {
    for ((o, &v), &g) in dx.iter_mut().zip(x).zip(dy) {
        *o = g * gelu_grad_one(v + bias);
    }
}

multiversion! {
    fn gelu_grad_slice(x: &[f32], bias: f32, dy: &[f32], dx: &mut [f32]) => gelu_grad_slice_impl;
}

#[inline(always)]
fn gelu_inplace_impl<M: MulAdd, const L: usize>(y: &mut [f32]) {
    for v in y.iter_mut() {
        *v = gelu_one(*v);
    }
}

multiversion! {
    /// `y ← gelu(y)` in place (the fused block op's forward tiles).
    pub(crate) fn gelu_inplace(y: &mut [f32]) => gelu_inplace_impl;
}

#[inline(always)]
fn gelu_with_grad_impl<M: MulAdd, const L: usize>(h: &mut [f32], d: &mut [f32]) {
    for (v, g) in h.iter_mut().zip(d.iter_mut()) {
        let (cdf, pdf) = cdf_pdf(*v);
        *g = *v * pdf + cdf;
        *v *= cdf;
    }
}

multiversion! {
    /// `d ← gelu'(h)`, then `h ← gelu(h)` (one erf evaluation for both; the fused block op's backward tiles).
    pub(crate) fn gelu_with_grad(h: &mut [f32], d: &mut [f32]) => gelu_with_grad_impl;
}

/// Splits `len` elements into per-channel runs of `plane` elements (channel `(i / plane) % c`), then into
/// rayon tasks of about [`GRAIN`] elements, calling `f(channel, range)`.
fn for_channel_runs(
    out: &mut [f32],
    plane: usize,
    c: usize,
    f: impl Fn(usize, usize, &mut [f32]) + Sync,
) {
    if plane == 0 {
        return;
    }
    let chunk = if plane >= GRAIN {
        plane.div_ceil(plane.div_ceil(GRAIN))
    } else {
        plane
    };
    out.par_chunks_mut(plane).enumerate().for_each(|(nc, o)| {
        let ch = nc % c;
        let base = nc * plane;
        o.par_chunks_mut(chunk)
            .enumerate()
            .for_each(|(i, part)| f(ch, base + i * chunk, part));
    });
}

/// Exact GELU, `y = x · ½(1 + erf(x/√2))` — PyTorch `nn.GELU()` (`approximate='none'`), parallel over
/// chunks.
///
/// ```text
/// gelu(x) = x · Φ(x),  Φ(x) = ½ (1 + erf(x/√2));   d/dx = Φ(x) + x·exp(−x²/2)/√(2π)
/// ```
///
/// Any shape; f32 on the CPU; differentiable. Matches PyTorch to ≈ 2e-7 absolute per unit of `|x|`.
///
/// # Errors
/// When `x` is not f32 or not on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[-1f32, 0.0, 1.0], &Device::Cpu)?;
/// let y = mednext::ops::gelu_erf(&x)?.to_vec1::<f32>()?;
/// assert!((y[2] - 0.841_344_7).abs() < 1e-6 && (y[0] + 0.158_655_3).abs() < 1e-6);
/// # Ok(())
/// # }
/// ```
pub fn gelu_erf(x: &Tensor) -> Result<Tensor> {
    check_f32_cpu("gelu_erf", "x", x)?;
    x.contiguous()?.apply_op1(Gelu)
}

/// Fused bias + exact GELU: `y[n,c,…] = gelu_erf(x[n,c,…] + b[c])`, one pass, parallel.
///
/// ```text
/// y = gelu(x + b[c]);   x̄ = ȳ · gelu'(x + b[c]);   b̄[c] = Σ_{n,…} x̄[n,c,…]
/// ```
///
/// `x`: `(N, C, …)` (rank ≥ 2); `bias`: `C` elements; f32 on the CPU; differentiable in both.
///
/// # Errors
/// When `x` has rank < 2, `bias` does not have `C` elements, or a tensor is not f32 on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[[0f32, 0.0], [0.0, 0.0]], &Device::Cpu)?; // (N = 1·2 rows, C = 2)
/// let b = Tensor::new(&[1f32, -1.0], &Device::Cpu)?;
/// let y = mednext::ops::bias_gelu(&x.reshape((1, 2, 2))?, &b)?.flatten_all()?.to_vec1::<f32>()?;
/// assert!((y[0] - 0.841_344_7).abs() < 1e-6 && (y[3] + 0.158_655_3).abs() < 1e-6);
/// # Ok(())
/// # }
/// ```
pub fn bias_gelu(x: &Tensor, bias: &Tensor) -> Result<Tensor> {
    const OP: &str = "bias_gelu";
    check_f32_cpu(OP, "x", x)?;
    check_f32_cpu(OP, "bias", bias)?;
    if x.rank() < 2 {
        bail!("{OP}: `x` must be (N, C, …), got shape {:?}", x.dims());
    }
    check_channels(OP, "bias", bias, x.dim(1)?)?;
    x.contiguous()?
        .apply_op2(&bias.flatten_all()?.contiguous()?, BiasGelu)
}

/// `(C, plane)` of an `(N, C, …)` layout.
fn channel_plane(l: &Layout) -> (usize, usize) {
    let dims = l.shape().dims();
    (dims[1], dims[2..].iter().product())
}

struct Gelu;

impl CustomOp1 for Gelu {
    fn name(&self) -> &'static str {
        "gelu-erf"
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s1: &CudaStorage, l1: &Layout) -> Result<(CudaStorage, Shape)> {
        super::cuda::gelu((s1, l1))
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = slice(self.name(), "x", s, l)?;
        let mut y = vec![0.0_f32; x.len()];
        y.par_chunks_mut(GRAIN)
            .zip(x.par_chunks(GRAIN))
            .for_each(|(o, i)| gelu_slice(i, 0.0, o));
        Ok((CpuStorage::F32(y), l.shape().clone()))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &GeluGrad)?))
    }
}

/// `(x, ȳ)` → `ȳ · gelu'(x)`.
struct GeluGrad;

impl CustomOp2 for GeluGrad {
    fn name(&self) -> &'static str {
        "gelu-erf-grad"
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
        super::cuda::gelu_grad((s1, l1), (s2, l2))
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = slice(self.name(), "x", s1, l1)?;
        let dy = slice(self.name(), "grad", s2, l2)?;
        let mut dx = vec![0.0_f32; x.len()];
        dx.par_chunks_mut(GRAIN)
            .zip(x.par_chunks(GRAIN).zip(dy.par_chunks(GRAIN)))
            .for_each(|(o, (i, g))| gelu_grad_slice(i, 0.0, g, o));
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

struct BiasGelu;

impl CustomOp2 for BiasGelu {
    fn name(&self) -> &'static str {
        "bias-gelu-erf"
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
        super::cuda::bias_gelu((s1, l1), (s2, l2))
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = slice(self.name(), "x", s1, l1)?;
        let b = slice(self.name(), "bias", s2, l2)?;
        let (c, plane) = channel_plane(l1);
        let mut y = vec![0.0_f32; x.len()];
        for_channel_runs(&mut y, plane, c, |ch, start, o| {
            gelu_slice(&x[start..][..o.len()], b[ch], o)
        });
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let dx = x.apply_op3_no_bwd(b, &grad.contiguous()?, &BiasGeluGrad)?;
        let (n, c) = (dx.dim(0)?, dx.dim(1)?);
        let gb = channel_sum(&dx.reshape((n, c, dx.elem_count() / (n * c).max(1), 1, 1))?)?;
        Ok((Some(dx), Some(gb)))
    }
}

/// `(x, b, ȳ)` → `ȳ · gelu'(x + b[c])`.
struct BiasGeluGrad;

impl CustomOp3 for BiasGeluGrad {
    fn name(&self) -> &'static str {
        "bias-gelu-erf-grad"
    }

    // -- cuda hook (feature `cuda`, kernels in `ops/cuda/`) --
    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &CudaStorage,
        l1: &Layout,
        s2: &CudaStorage,
        l2: &Layout,
        s3: &CudaStorage,
        l3: &Layout,
    ) -> Result<(CudaStorage, Shape)> {
        super::cuda::bias_gelu_grad((s1, l1), (s2, l2), (s3, l3))
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = slice(self.name(), "x", s1, l1)?;
        let b = slice(self.name(), "bias", s2, l2)?;
        let dy = slice(self.name(), "grad", s3, l3)?;
        let (c, plane) = channel_plane(l1);
        let mut dx = vec![0.0_f32; x.len()];
        for_channel_runs(&mut dx, plane, c, |ch, start, o| {
            gelu_grad_slice(&x[start..][..o.len()], b[ch], &dy[start..][..o.len()], o);
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_libm_erf() {
        let mut worst = 0.0_f64;
        for i in -4000..=4000 {
            let x = i as f32 * 0.002;
            let (cdf, pdf) = cdf_pdf(x);
            let exact = 0.5
                * (1.0 + candle_core::cpu::erf::erf_f64(f64::from(x) / std::f64::consts::SQRT_2));
            let exact_pdf =
                (-0.5 * f64::from(x) * f64::from(x)).exp() / (2.0 * std::f64::consts::PI).sqrt();
            worst = worst
                .max((f64::from(cdf) - exact).abs())
                .max((f64::from(pdf) - exact_pdf).abs());
        }
        assert!(worst < 3e-7, "worst {worst}");
    }

    #[test]
    fn exp_is_accurate() {
        for i in 0..2000 {
            let x = -(i as f32) * 0.04;
            let rel = (f64::from(exp_neg(x)) / f64::from(x).exp() - 1.0).abs();
            assert!(rel < 5e-7 || x < -86.0, "x {x} rel {rel}");
        }
    }
}
