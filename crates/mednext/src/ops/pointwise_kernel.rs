//! CPU kernel and autograd node of the 1×1×1 convolution `y[n] = W · x[n] + b` on `(N, C, V)` data, with the
//! bias fused into the product (one pass over the output instead of a product plus a bias pass).
//!
//! Reference: PyTorch `Conv3d(C_in, C_out, 1)` (MedNeXt `conv2`/`conv3`/`res_conv`, `reference/mednext.md`
//! §2–3). Design: rayon over `(n, voxel chunk)`; per block of `B` voxels and 4 output channels the
//! accumulators stay in registers; output-channel blocks are the outer loop so that output rows are written
//! as sequential streams while the `C_in × CHUNK` input block stays in L2 (run-time dispatched
//! AVX-512/AVX2, [`super::simd`]). Backward: `x̄ = Wᵀ ȳ` (the same kernel), `W̄ = Σ_n ȳ[n] x[n]ᵀ` (candle
//! `matmul`, long inner dimension), `b̄ = Σ_{n,v} ȳ`.
//!
//! ```text
//! y[n,o,v] = b[o] + Σ_i W[o,i] · x[n,i,v]
//! ```

use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::channel::channel_sum;
use super::simd::{multiversion, MulAdd};
use super::storage::{dims5, slice};
#[cfg(feature = "cuda")]
use candle_core::CudaStorage;

/// Voxels per rayon task.
const CHUNK: usize = 4096;
/// Output channels per register block.
const OB: usize = 4;

/// Output pointer shared by tasks that write disjoint ranges.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: every task writes a disjoint set of elements (its own voxel range of every output row), and the
// buffer outlives the parallel loop.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

/// Geometry of one product: `x` is `(n, cin, v)`, `w` is `(cout, cin)`.
#[derive(Debug, Clone, Copy)]
struct Gemm {
    cin: usize,
    cout: usize,
    v: usize,
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<M: MulAdd, const B: usize, const R: usize>(
    g: Gemm,
    ys: usize,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: OutPtr,
    ybase: usize,
    o0: usize,
    j: usize,
) {
    let mut acc = [[0.0_f32; B]; R];
    for (r, a) in acc.iter_mut().enumerate() {
        *a = [b.map_or(0.0, |b| b[o0 + r]); B];
    }
    for i in 0..g.cin {
        let xv: &[f32; B] = x[i * g.v + j..][..B].try_into().unwrap();
        for (r, a) in acc.iter_mut().enumerate() {
            let wv = w[(o0 + r) * g.cin + i];
            for l in 0..B {
                a[l] = M::mul_add(wv, xv[l], a[l]);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        // SAFETY: `ybase + (o0 + r)·v + j .. + B` lies inside this batch item's output rows (j + B ≤ v,
        // o0 + r < cout) and inside this task's voxel range, which no other task writes.
        unsafe { std::ptr::copy_nonoverlapping(a.as_ptr(), y.0.add(ybase + (o0 + r) * ys + j), B) };
    }
}

/// `y[·, j0..j1] = W x[·, j0..j1] + b` for one batch item (`x`: that item's `(cin, v)` data).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn range_impl<M: MulAdd, const L: usize>(
    g: Gemm,
    x: &[f32],
    w: &[f32],
    b: Option<&[f32]>,
    y: OutPtr,
    ybase: usize,
    j0: usize,
    j1: usize,
    ys: usize,
) {
    const B: usize = 32;
    // output-channel blocks outer: each block streams its rows sequentially while the `cin × CHUNK` input
    // block stays in L2
    let jb = j0 + (j1 - j0) / B * B;
    let mut o = 0;
    while o < g.cout {
        let r = if o + OB <= g.cout { OB } else { 1 };
        for j in (j0..jb).step_by(B) {
            if r == OB {
                block::<M, B, OB>(g, ys, x, w, b, y, ybase, o, j);
            } else {
                block::<M, B, 1>(g, ys, x, w, b, y, ybase, o, j);
            }
        }
        o += r;
    }
    let j = jb;
    // voxel tail: scalar
    for jj in j..j1 {
        for o in 0..g.cout {
            let mut acc = b.map_or(0.0, |b| b[o]);
            for i in 0..g.cin {
                acc = M::mul_add(w[o * g.cin + i], x[i * g.v + jj], acc);
            }
            // SAFETY: as in `block`: inside the output, inside this task's voxel range.
            unsafe { *y.0.add(ybase + o * ys + jj) = acc };
        }
    }
}

multiversion! {
    #[allow(clippy::too_many_arguments)]
    fn gemm_range(g: Gemm, x: &[f32], w: &[f32], b: Option<&[f32]>, y: OutPtr, ybase: usize, j0: usize, j1: usize, ys: usize) => range_impl;
}

/// `y[n] = W x[n] + b` for `x` of shape `(n, cin, v)` and `w` `(cout, cin)`; returns `(n, cout, v)` data.
#[must_use]
fn product(x: &[f32], n: usize, g: Gemm, w: &[f32], b: Option<&[f32]>) -> Vec<f32> {
    let mut y = vec![0.0_f32; n * g.cout * g.v];
    let ptr = OutPtr(y.as_mut_ptr());
    let chunks = g.v.div_ceil(CHUNK);
    (0..n * chunks)
        .into_par_iter()
        .for_each_init(Vec::new, |packed, t| {
            let (bn, c) = (t / chunks, t % chunks);
            let (j0, j1) = (c * CHUNK, ((c + 1) * CHUNK).min(g.v));
            // pack this task's input columns contiguously: `(cin, j1 − j0)`
            let len = j1 - j0;
            packed.clear();
            for i in 0..g.cin {
                packed.extend_from_slice(&x[(bn * g.cin + i) * g.v + j0..][..len]);
            }
            let gp = Gemm { v: len, ..g };
            gemm_range(gp, packed, w, b, ptr, bn * g.cout * g.v + j0, 0, len, g.v);
        });
    y
}

/// The autograd node `(x, W[, b])` of the stride-1 1×1×1 convolution; `x` is contiguous NCDHW, `W` is
/// `(C_out, C_in)` contiguous, `b` has `C_out` elements.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pointwise;

impl Pointwise {
    fn run(
        x: (&CpuStorage, &Layout),
        w: (&CpuStorage, &Layout),
        b: Option<(&CpuStorage, &Layout)>,
    ) -> Result<(CpuStorage, Shape)> {
        const OP: &str = "conv1x1x1";
        let [n, cin, d, h, wd] = dims5(OP, "x", x.1.shape())?;
        let (cout, wcin) = w.1.shape().dims2()?;
        if wcin != cin {
            candle_core::bail!("{OP}: weight has {wcin} input channels, x has {cin}");
        }
        let xs = slice(OP, "x", x.0, x.1)?;
        let ws = slice(OP, "weight", w.0, w.1)?;
        let bs = match b {
            Some((s, l)) => Some(slice(OP, "bias", s, l)?),
            None => None,
        };
        let y = product(
            xs,
            n,
            Gemm {
                cin,
                cout,
                v: d * h * wd,
            },
            ws,
            bs,
        );
        Ok((CpuStorage::F32(y), Shape::from((n, cout, d, h, wd))))
    }

    fn grads(x: &Tensor, w: &Tensor, grad: &Tensor) -> Result<(Tensor, Tensor, Tensor)> {
        let g = grad.contiguous()?;
        let (n, cin, d, h, wd) = x.dims5()?;
        let cout = w.dim(0)?;
        let wt = w.t()?.contiguous()?;
        let gx = g.apply_op2_no_bwd(&wt, &Pointwise)?;
        let v = d * h * wd;
        let gw = g
            .reshape((n, cout, v))?
            .matmul(&x.reshape((n, cin, v))?.t()?)?
            .sum(0)?;
        Ok((gx, gw, channel_sum(&g)?))
    }
}

impl CustomOp2 for Pointwise {
    fn name(&self) -> &'static str {
        "conv1x1x1"
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
        super::cuda::pointwise((s1, l1), (s2, l2), None)
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        Self::run((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, _) = Self::grads(x, w, grad)?;
        Ok((Some(gx), Some(gw)))
    }
}

impl CustomOp3 for Pointwise {
    fn name(&self) -> &'static str {
        "conv1x1x1"
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
        super::cuda::pointwise((s1, l1), (s2, l2), Some((s3, l3)))
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
        Self::run((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (gx, gw, gb) = Self::grads(x, w, grad)?;
        Ok((Some(gx), Some(gw), Some(gb)))
    }
}
