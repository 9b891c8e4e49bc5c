//! Per-channel GroupNorm (`num_groups = C`) as a fused, parallel custom op with a fused backward pass.
//!
//! Reference: PyTorch `torch.nn.GroupNorm(C, C, eps, affine=True)` = `F.group_norm(x, C, γ, β, eps)`, the
//! MedNeXt block norm (`reference/mednext.md` §2: per (n, c) mean and **biased** variance over D·H·W); candle's
//! `candle_nn::GroupNorm` builds it from ~8 single-threaded tensor ops (`reference/rust-notes.md` §3–4).
//!
//! ```text
//! μ = mean_v x[n,c,v],  σ² = mean_v (x − μ)²,  r = 1/√(σ² + ε),  x̂ = (x − μ)·r
//! y = γ[c]·x̂ + β[c]
//! x̄ = γ r (ȳ − mean_v ȳ − x̂ · mean_v(ȳ x̂)),   γ̄[c] = Σ_{n,v} ȳ x̂,   β̄[c] = Σ_{n,v} ȳ
//! ```
//!
//! Statistics are accumulated in f64, one pass over the data.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor, D};
use rayon::prelude::*;

use super::storage::{check_channels, check_f32_cpu, slice};
#[cfg(feature = "cuda")]
use candle_core::CudaStorage;

/// GroupNorm with one group per channel, exactly PyTorch `GroupNorm(num_groups = C, num_channels = C, eps)`.
///
/// ```text
/// y[n,c,v] = γ[c] · (x[n,c,v] − μ[n,c]) / √(σ²[n,c] + ε) + β[c]
/// μ, σ² = mean and biased variance of x[n,c,·] over all spatial positions v
/// ```
///
/// `x`: `(N, C, …)` (rank ≥ 3, any number of spatial axes) f32; `gamma`, `beta`: `C` elements each.
/// Differentiable in all three (first order).
///
/// # Errors
/// When `x` has rank < 3, `gamma`/`beta` do not have `C` elements, `eps` is negative or not finite, or a
/// tensor is not f32 on the CPU.
///
/// # Examples
/// ```
/// # fn main() -> candle_core::Result<()> {
/// use candle_core::{Device, Tensor};
/// let x = Tensor::new(&[1f32, 3.0], &Device::Cpu)?.reshape((1, 1, 2))?;
/// let g = Tensor::new(&[2f32], &Device::Cpu)?;
/// let b = Tensor::new(&[0.5f32], &Device::Cpu)?;
/// let y = mednext::ops::channel_group_norm(&x, &g, &b, 0.0)?.flatten_all()?.to_vec1::<f32>()?;
/// assert_eq!(y, [-1.5, 2.5]); // (x − 2)/1 · 2 + 0.5
/// # Ok(())
/// # }
/// ```
pub fn channel_group_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor, eps: f64) -> Result<Tensor> {
    const OP: &str = "channel_group_norm";
    check_f32_cpu(OP, "x", x)?;
    check_f32_cpu(OP, "gamma", gamma)?;
    check_f32_cpu(OP, "beta", beta)?;
    if x.rank() < 3 {
        bail!(
            "{OP}: `x` must be (N, C, spatial…), got shape {:?}",
            x.dims()
        );
    }
    if !(eps >= 0.0 && eps.is_finite()) {
        bail!("{OP}: eps must be finite and ≥ 0, got {eps}");
    }
    let c = x.dim(1)?;
    check_channels(OP, "gamma", gamma, c)?;
    check_channels(OP, "beta", beta, c)?;
    let (g, b) = (
        gamma.flatten_all()?.contiguous()?,
        beta.flatten_all()?.contiguous()?,
    );
    x.contiguous()?.apply_op3(&g, &b, GroupNorm { eps })
}

/// `(n·c, plane, c)` of an `(N, C, …)` layout.
fn planes(l: &Layout) -> (usize, usize, usize) {
    let dims = l.shape().dims();
    (dims[0] * dims[1], dims[2..].iter().product(), dims[1])
}

/// `(Σx, Σx²)` of one plane in f64.
fn moments(x: &[f32]) -> (f64, f64) {
    let mut s = [0.0_f64; 4];
    let mut q = [0.0_f64; 4];
    let chunks = x.chunks_exact(4);
    let rest = chunks.remainder();
    for ch in chunks {
        for l in 0..4 {
            let v = f64::from(ch[l]);
            s[l] += v;
            q[l] += v * v;
        }
    }
    let (mut s1, mut q1) = (s.iter().sum::<f64>(), q.iter().sum::<f64>());
    for &v in rest {
        s1 += f64::from(v);
        q1 += f64::from(v) * f64::from(v);
    }
    (s1, q1)
}

/// `(μ, r = 1/√(σ² + ε))` of one plane.
pub(crate) fn mean_rstd(x: &[f32], eps: f64) -> (f64, f64) {
    let m = x.len().max(1) as f64;
    let (s, q) = moments(x);
    let mean = s / m;
    let var = (q / m - mean * mean).max(0.0);
    (mean, 1.0 / (var + eps).sqrt())
}

#[derive(Debug, Clone, Copy)]
struct GroupNorm {
    eps: f64,
}

impl CustomOp3 for GroupNorm {
    fn name(&self) -> &'static str {
        "channel-group-norm"
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
        super::cuda::group_norm((s1, l1), (s2, l2), (s3, l3), self.eps)
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
        let g = slice(self.name(), "gamma", s2, l2)?;
        let b = slice(self.name(), "beta", s3, l3)?;
        let (_, plane, c) = planes(l1);
        let mut y = vec![0.0_f32; x.len()];
        if plane > 0 {
            y.par_chunks_mut(plane)
                .zip(x.par_chunks(plane))
                .enumerate()
                .for_each(|(nc, (o, xi))| {
                    let ch = nc % c;
                    let (mean, rstd) = mean_rstd(xi, self.eps);
                    let scale = rstd * f64::from(g[ch]);
                    let shift = f64::from(b[ch]) - mean * scale;
                    let (scale, shift) = (scale as f32, shift as f32);
                    for (o, &v) in o.iter_mut().zip(xi) {
                        *o = v * scale + shift;
                    }
                });
        }
        Ok((CpuStorage::F32(y), l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        _beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = grad.contiguous()?;
        let coef = x.apply_op3_no_bwd(&grad, gamma, &Coefficients { eps: self.eps })?;
        let dx = x.apply_op3_no_bwd(&grad, &coef, &InputGrad)?;
        let c = x.dim(1)?;
        let dgamma = coef
            .narrow(D::Minus1, 5, 1)?
            .sum(0)?
            .reshape(gamma.shape())?;
        let dbeta = coef.narrow(D::Minus1, 4, 1)?.sum(0)?.reshape(c)?;
        Ok((Some(dx), Some(dgamma), Some(dbeta.reshape(gamma.shape())?)))
    }
}

/// Number of per-(n, c) coefficients written by [`Coefficients`].
const NCOEF: usize = 6;

/// `(x, ȳ, γ)` → `(N, C, 6)`: `[A, B, μ, C', Σȳ, Σȳx̂]` with `x̄ = A·ȳ + B·(x − μ) + C'`.
///
/// ```text
/// A = γ r,   B = −γ r² mean(ȳ x̂),   C' = −γ r mean(ȳ)
/// ```
struct Coefficients {
    eps: f64,
}

impl CustomOp3 for Coefficients {
    fn name(&self) -> &'static str {
        "channel-group-norm-bwd-coefficients"
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
        super::cuda::group_norm_coefficients((s1, l1), (s2, l2), (s3, l3), self.eps)
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
        let dy = slice(self.name(), "grad", s2, l2)?;
        let g = slice(self.name(), "gamma", s3, l3)?;
        let (nc_count, plane, c) = planes(l1);
        let mut coef = vec![0.0_f32; nc_count * NCOEF];
        if plane > 0 {
            coef.par_chunks_mut(NCOEF)
                .enumerate()
                .for_each(|(nc, out)| {
                    let xi = &x[nc * plane..][..plane];
                    let gi = &dy[nc * plane..][..plane];
                    let (mean, rstd) = mean_rstd(xi, self.eps);
                    let (mut sdy, mut sdyx) = (0.0_f64, 0.0_f64);
                    for (&v, &d) in xi.iter().zip(gi) {
                        sdy += f64::from(d);
                        sdyx += f64::from(d) * (f64::from(v) - mean);
                    }
                    let m = plane as f64;
                    let sdy_xhat = sdyx * rstd;
                    let gamma = f64::from(g[nc % c]);
                    let a = gamma * rstd;
                    out.copy_from_slice(&[
                        a as f32,
                        (-a * rstd * sdy_xhat / m) as f32,
                        mean as f32,
                        (-a * sdy / m) as f32,
                        sdy as f32,
                        sdy_xhat as f32,
                    ]);
                });
        }
        let dims = l1.shape().dims();
        Ok((
            CpuStorage::F32(coef),
            Shape::from((dims[0], dims[1], NCOEF)),
        ))
    }
}

/// `(x, ȳ, coef)` → `x̄ = A·ȳ + B·(x − μ) + C'` per (n, c).
struct InputGrad;

impl CustomOp3 for InputGrad {
    fn name(&self) -> &'static str {
        "channel-group-norm-bwd-input"
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
        super::cuda::group_norm_input_grad((s1, l1), (s2, l2), (s3, l3))
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
        let dy = slice(self.name(), "grad", s2, l2)?;
        let coef = slice(self.name(), "coef", s3, l3)?;
        let (_, plane, _) = planes(l1);
        let mut dx = vec![0.0_f32; x.len()];
        if plane > 0 {
            dx.par_chunks_mut(plane).enumerate().for_each(|(nc, o)| {
                let [a, b, mean, c0, ..] = coef[nc * NCOEF..][..NCOEF] else {
                    return;
                };
                let xi = &x[nc * plane..][..plane];
                let gi = &dy[nc * plane..][..plane];
                for ((o, &v), &d) in o.iter_mut().zip(xi).zip(gi) {
                    *o = a * d + b * (v - mean) + c0;
                }
            });
        }
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
