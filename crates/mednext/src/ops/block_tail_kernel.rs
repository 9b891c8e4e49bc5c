//! CPU kernels of the fused MedNeXt block tail (per-channel GroupNorm → 1×1×1 expansion → exact GELU →
//! 1×1×1 compression [→ + residual]) over plain slices, forward and backward, processing the volume in
//! voxel tiles so that the `r·C`-channel expanded activations never exist as whole tensors.
//!
//! Reference: MIC-DKFZ/MedNeXt @ `0b78ed8`, `nnunet_mednext/network_architecture/mednextv1/blocks.py`
//! (`MedNeXtBlock.forward`: `norm → conv2 → act → conv3`), PyTorch `GroupNorm(C, C)`, `GELU()`, `Conv3d(·,·,1)`
//! semantics; `reference/mednext.md` §2. Per tile of `T` voxels (`n` = normalised input, all `C × T`):
//!
//! ```text
//! forward:   n = γ·(a − μ)·r + β     h = W2 n + b2      g = gelu(h)       y = W3 g + b3 [+ x]
//! backward:  recompute n, h, g and g' = gelu'(h) for the tile, then
//!            b̄3 += Σ_T ȳ     W̄3 += ȳ gᵀ     h̄ = (W3ᵀ ȳ) ⊙ g'     b̄2 += Σ_T h̄     W̄2 += h̄ nᵀ     n̄ = W2ᵀ h̄
//!            after all tiles (per (n, c) plane, as GroupNorm's backward):
//!            γ̄ += Σ n̄ x̂,  β̄ += Σ n̄,  ā = γ r (n̄ − mean n̄ − x̂ · mean(n̄ x̂)),  x̂ = (a − μ)·r
//! ```
//!
//! The backward recomputes `W2 n` (one product) instead of keeping `h` and `g` (2·r·C values per voxel):
//! the op keeps only its input `a`, like the original's `outside_block` checkpointing keeps block inputs.
//! Statistics `μ, r = 1/√(σ² + ε)` are those of [`super::norm`] (f64, biased variance).

use rayon::prelude::*;

use super::gelu::{gelu_inplace, gelu_with_grad};
use super::norm::mean_rstd;
use super::storage::zeroed;
use super::tile_gemm::{nn, nt, row_sums, transpose_tile, Nn, Nt, PackedRows, PANEL, TILE_ALIGN};

/// Target size (floats) of the largest tile (`max(r·C, C_out) × T`): ≈ 256 KB, so that the 4–5 tiles of a
/// backward step stay in a 2 MB L2.
const TILE_FLOATS: usize = 1 << 16;
/// Upper bound of the tile width `T`.
const MAX_COLS: usize = 1024;

/// Sizes of one fused block tail: input `a` `(n, c, v)`, expansion `rc`, output `(n, co, v)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TailDims {
    /// Batch.
    pub(crate) n: usize,
    /// Input channels.
    pub(crate) c: usize,
    /// Expanded channels `r·C`.
    pub(crate) rc: usize,
    /// Output channels.
    pub(crate) co: usize,
    /// Voxels per channel.
    pub(crate) v: usize,
}

/// Parameters of one fused block tail, PyTorch layouts: `w2` `(rc, c)`, `w3` `(co, rc)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TailWeights<'a> {
    /// Norm scale `γ` (`c`).
    pub(crate) gamma: &'a [f32],
    /// Norm shift `β` (`c`).
    pub(crate) beta: &'a [f32],
    /// Expansion weight (`rc × c`).
    pub(crate) w2: &'a [f32],
    /// Expansion bias (`rc`).
    pub(crate) b2: &'a [f32],
    /// Compression weight (`co × rc`).
    pub(crate) w3: &'a [f32],
    /// Compression bias (`co`).
    pub(crate) b3: &'a [f32],
    /// Norm epsilon.
    pub(crate) eps: f64,
}

impl<'a> TailWeights<'a> {
    /// Splits a flat parameter vector `[γ, β, W2, b2, W3, b3]` (the op's hook layout).
    pub(crate) fn split(flat: &'a [f32], d: TailDims, eps: f64) -> Option<Self> {
        if flat.len() != param_len(d) {
            return None;
        }
        let (gamma, rest) = flat.split_at(d.c);
        let (beta, rest) = rest.split_at(d.c);
        let (w2, rest) = rest.split_at(d.rc * d.c);
        let (b2, rest) = rest.split_at(d.rc);
        let (w3, b3) = rest.split_at(d.co * d.rc);
        Some(Self {
            gamma,
            beta,
            w2,
            b2,
            w3,
            b3,
            eps,
        })
    }
}

/// Number of parameters `2c + rc·c + rc + co·rc + co`.
#[must_use]
pub(crate) fn param_len(d: TailDims) -> usize {
    2 * d.c + d.rc * d.c + d.rc + d.co * d.rc + d.co
}

/// Gradients of one fused block tail (same layouts as [`TailWeights`]; `a` like the input).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TailGrads {
    /// `∂L/∂a`.
    pub(crate) a: Vec<f32>,
    /// `[γ̄, β̄, W̄2, b̄2, W̄3, b̄3]` flat, the hook layout of [`TailWeights::split`].
    pub(crate) params: Vec<f32>,
}

/// Output pointer shared by tasks that write disjoint ranges.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: every task writes a disjoint set of elements (its own voxel range of every row), and the buffer
// outlives the parallel loop.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// Writes the valid columns of row `r` of a panel-major tile (`rows × w`) — `len` values, plus `add`
    /// element-wise when given — to the buffer at `offset`, through the raw pointer (the buffer may be
    /// uninitialised there).
    ///
    /// # Safety
    /// `offset + len` must lie inside the buffer's allocation, `len` must not exceed the tile's width, and no
    /// other task may access the range.
    unsafe fn write_row(
        &self,
        offset: usize,
        len: usize,
        tile: &[f32],
        rows: usize,
        r: usize,
        add: Option<&[f32]>,
    ) {
        for p in 0..len.div_ceil(PANEL) {
            let n = PANEL.min(len - p * PANEL);
            let src = &tile[(p * rows + r) * PANEL..][..n];
            // SAFETY: inside `offset..offset + len` (caller's guarantee).
            let dst = unsafe { self.0.add(offset + p * PANEL) };
            match add {
                Some(x) => {
                    for (i, (&v, &x)) in src.iter().zip(&x[p * PANEL..][..n]).enumerate() {
                        // SAFETY: as above.
                        unsafe { dst.add(i).write(v + x) };
                    }
                }
                // SAFETY: as above; `src` is a different allocation (the worker's tile).
                None => unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, n) },
            }
        }
    }
}

/// Per-call preparation: packed weights and the per-(n, c) norm statistics.
struct Prepared {
    /// `W2` (`rc × c`) and `W3` (`co × rc`), packed for the forward products.
    w2: PackedRows,
    w3: PackedRows,
    /// `W3ᵀ` (`rc × co`) and `W2ᵀ` (`c × rc`), packed for the backward products (empty in the forward).
    w3t: PackedRows,
    w2t: PackedRows,
    /// Per (n, c): `(μ, r)`.
    stats: Vec<(f64, f64)>,
    /// Per (n, c): `γ r` and `β − μ γ r` (f32, as in [`super::norm`]'s forward).
    scale: Vec<f32>,
    shift: Vec<f32>,
}

fn prepare(a: &[f32], d: TailDims, p: &TailWeights, backward: bool) -> Prepared {
    let stats: Vec<(f64, f64)> = a
        .par_chunks(d.v.max(1))
        .map(|plane| mean_rstd(plane, p.eps))
        .collect();
    let (scale, shift) = stats
        .iter()
        .enumerate()
        .map(|(nc, &(mean, rstd))| {
            let s = rstd * f64::from(p.gamma[nc % d.c]);
            (s as f32, (f64::from(p.beta[nc % d.c]) - mean * s) as f32)
        })
        .unzip();
    let (w3t, w2t) = if backward {
        (
            PackedRows::from_columns(p.w3, d.rc, d.co),
            PackedRows::from_columns(p.w2, d.c, d.rc),
        )
    } else {
        Default::default()
    };
    Prepared {
        w2: PackedRows::from_rows(p.w2, d.rc, d.c),
        w3: PackedRows::from_rows(p.w3, d.co, d.rc),
        w3t,
        w2t,
        stats,
        scale,
        shift,
    }
}

/// Tile width `T` for these sizes (a multiple of [`TILE_ALIGN`]).
fn tile_cols(d: TailDims) -> usize {
    let widest = d.rc.max(d.c).max(d.co).max(1);
    let t = (TILE_FLOATS / widest).clamp(TILE_ALIGN, MAX_COLS) / TILE_ALIGN * TILE_ALIGN;
    t.min(d.v.div_ceil(TILE_ALIGN) * TILE_ALIGN)
}

/// One tile: batch item, first voxel, valid voxels, padded width.
#[derive(Debug, Clone, Copy)]
struct Tile {
    bn: usize,
    j0: usize,
    len: usize,
    w: usize,
}

fn tile(d: TailDims, cols: usize, t: usize) -> Tile {
    let per = d.v.div_ceil(cols);
    let (bn, j0) = (t / per, (t % per) * cols);
    let len = cols.min(d.v - j0);
    Tile {
        bn,
        j0,
        len,
        w: len.div_ceil(TILE_ALIGN) * TILE_ALIGN,
    }
}

/// Copies rows `ch` of a `(n, ch, v)` tensor's tile into `dst` (`ch × w`, panel-major, zero-padded),
/// applying `x·scale[c] + shift[c]` when given.
fn pack(
    src: &[f32],
    ch: usize,
    v: usize,
    t: Tile,
    affine: Option<(&[f32], &[f32])>,
    dst: &mut Vec<f32>,
) {
    dst.resize(ch * t.w, 0.0);
    for c in 0..ch {
        let s = &src[(t.bn * ch + c) * v + t.j0..][..t.len];
        let (k, b) = affine.map_or((1.0, 0.0), |(scale, shift)| {
            (scale[t.bn * ch + c], shift[t.bn * ch + c])
        });
        for p in 0..t.w / PANEL {
            let row = &mut dst[(p * ch + c) * PANEL..][..PANEL];
            let from = (p * PANEL).min(t.len);
            let part = &s[from..(from + PANEL).min(t.len)];
            if affine.is_some() {
                for (o, &x) in row.iter_mut().zip(part) {
                    *o = x * k + b;
                }
            } else {
                row[..part.len()].copy_from_slice(part);
            }
            row[part.len()..].fill(0.0);
        }
    }
}

/// Tile buffers of one worker.
#[derive(Default)]
struct Scratch {
    n: Vec<f32>,
    xt: Vec<f32>,
    h: Vec<f32>,
    d: Vec<f32>,
    y: Vec<f32>,
}

/// Forward pass: `y = W3 gelu(W2 norm(a) + b2) + b3 [+ residual]`, `a` `(n, c, v)`, `residual` and the result
/// `(n, co, v)`.
#[must_use]
pub(crate) fn forward(
    a: &[f32],
    d: TailDims,
    p: &TailWeights,
    residual: Option<&[f32]>,
) -> Vec<f32> {
    let len = d.n * d.co * d.v;
    // Every element is written exactly once by the tiles below (they cover every voxel of every row).
    let mut y: Vec<f32> = Vec::with_capacity(len);
    if len == 0 {
        return y;
    }
    let prep = prepare(a, d, p, false);
    let cols = tile_cols(d);
    let ptr = OutPtr(y.as_mut_ptr());
    (0..d.n * d.v.div_ceil(cols))
        .into_par_iter()
        .for_each_init(Scratch::default, |s, ti| {
            let t = tile(d, cols, ti);
            pack(a, d.c, d.v, t, Some((&prep.scale, &prep.shift)), &mut s.n);
            s.h.resize(d.rc * t.w, 0.0);
            nn(
                Nn {
                    m: d.rc,
                    k: d.c,
                    n: t.w,
                },
                &prep.w2,
                &s.n,
                Some(p.b2),
                &mut s.h,
            );
            gelu_inplace(&mut s.h);
            s.y.resize(d.co * t.w, 0.0);
            nn(
                Nn {
                    m: d.co,
                    k: d.rc,
                    n: t.w,
                },
                &prep.w3,
                &s.h,
                Some(p.b3),
                &mut s.y,
            );
            for o in 0..d.co {
                let off = (t.bn * d.co + o) * d.v + t.j0;
                let add = residual.map(|r| &r[off..][..t.len]);
                // SAFETY: `off + len` is inside row `o` of batch item `bn` of the output (capacity `len`);
                // tiles cover disjoint voxel ranges, so no other task touches these elements.
                unsafe { ptr.write_row(off, t.len, &s.y, d.co, o, add) };
            }
        });
    // SAFETY: the tiles `0..n·⌈v/cols⌉` cover every voxel of every batch item, and each wrote all `co` rows
    // of its voxel range: all `len` elements are initialised.
    unsafe { y.set_len(len) };
    y
}

/// Per-worker gradient sums (f64).
struct Acc {
    w2: Vec<f64>,
    b2: Vec<f64>,
    /// `W̄3ᵀ` (`rc × co`), transposed once at the end.
    w3t: Vec<f64>,
    b3: Vec<f64>,
}

impl Acc {
    fn new(d: TailDims) -> Self {
        Self {
            w2: vec![0.0; d.rc * d.c],
            b2: vec![0.0; d.rc],
            w3t: vec![0.0; d.rc * d.co],
            b3: vec![0.0; d.co],
        }
    }

    fn add(mut self, o: &Self) -> Self {
        for (a, b) in [(&mut self.w2, &o.w2), (&mut self.w3t, &o.w3t)] {
            a.par_iter_mut()
                .zip(b.par_iter())
                .for_each(|(x, y)| *x += y);
        }
        for (a, b) in [(&mut self.b2, &o.b2), (&mut self.b3, &o.b3)] {
            a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
        }
        self
    }
}

/// Backward pass of [`forward`] for the upstream gradient `gy` `(n, co, v)`: returns `∂L/∂a` and the flat
/// parameter gradients (the residual's gradient is `gy` itself).
#[must_use]
pub(crate) fn backward(a: &[f32], d: TailDims, p: &TailWeights, gy: &[f32]) -> TailGrads {
    let len = d.n * d.c * d.v;
    // Every element is written exactly once by the tiles below before `set_len`.
    let mut ga: Vec<f32> = Vec::with_capacity(len);
    let mut acc: Option<Acc> = None;
    let (mut ggamma, mut gbeta) = (vec![0.0_f64; d.c], vec![0.0_f64; d.c]);
    if d.v > 0 && d.n > 0 {
        let prep = prepare(a, d, p, true);
        let cols = tile_cols(d);
        let tasks = d.n * d.v.div_ceil(cols);
        let chunks = tasks.min(2 * rayon::current_num_threads()).max(1);
        let ptr = OutPtr(ga.as_mut_ptr());
        let partial: Vec<Acc> = (0..chunks)
            .into_par_iter()
            .map(|ci| {
                let mut acc = Acc::new(d);
                let mut s = Scratch::default();
                for ti in ci * tasks / chunks..(ci + 1) * tasks / chunks {
                    backward_tile(a, d, p, &prep, gy, tile(d, cols, ti), &mut s, &mut acc, ptr);
                }
                acc
            })
            .collect();
        // SAFETY: the tiles `0..n·⌈v/cols⌉` (all processed above) cover every voxel of every batch item, and
        // each wrote all `c` rows of its voxel range: all `len` elements are initialised.
        unsafe { ga.set_len(len) };
        for part in partial {
            acc = Some(match acc {
                None => part,
                Some(a) => a.add(&part),
            });
        }
        // GroupNorm backward per (n, c) plane, in place: ga holds n̄ on entry.
        let sums: Vec<(f64, f64)> = ga
            .par_chunks_mut(d.v)
            .enumerate()
            .map(|(nc, g)| {
                let (mean, rstd) = prep.stats[nc];
                let x = &a[nc * d.v..][..d.v];
                let (mut sdy, mut sdyx) = (0.0_f64, 0.0_f64);
                for (&gv, &xv) in g.iter().zip(x) {
                    sdy += f64::from(gv);
                    sdyx += f64::from(gv) * (f64::from(xv) - mean);
                }
                let sdy_xhat = sdyx * rstd;
                let m = d.v as f64;
                let ka = f64::from(p.gamma[nc % d.c]) * rstd;
                let (ka, kb, kc, mu) = (
                    ka as f32,
                    (-ka * rstd * sdy_xhat / m) as f32,
                    (-ka * sdy / m) as f32,
                    mean as f32,
                );
                for (gv, &xv) in g.iter_mut().zip(x) {
                    *gv = ka * *gv + kb * (xv - mu) + kc;
                }
                (sdy, sdy_xhat)
            })
            .collect();
        for (nc, (sdy, sdyx)) in sums.into_iter().enumerate() {
            gbeta[nc % d.c] += sdy;
            ggamma[nc % d.c] += sdyx;
        }
    }
    let acc = acc.unwrap_or_else(|| Acc::new(d));
    // Flat `[γ̄, β̄, W̄2, b̄2, W̄3, b̄3]` in f32; the large blocks converted (and W̄3 transposed) in parallel.
    let mut params = zeroed(param_len(d));
    let (g_gamma, rest) = params.split_at_mut(d.c);
    let (g_beta, rest) = rest.split_at_mut(d.c);
    let (g_w2, rest) = rest.split_at_mut(d.rc * d.c);
    let (g_b2, rest) = rest.split_at_mut(d.rc);
    let (g_w3, g_b3) = rest.split_at_mut(d.co * d.rc);
    for (dst, src) in [
        (g_gamma, &ggamma),
        (g_beta, &gbeta),
        (g_b2, &acc.b2),
        (g_b3, &acc.b3),
    ] {
        dst.iter_mut().zip(src).for_each(|(o, &v)| *o = v as f32);
    }
    g_w2.par_iter_mut()
        .zip(acc.w2.par_iter())
        .for_each(|(o, &v)| *o = v as f32);
    if d.rc > 0 {
        g_w3.par_chunks_mut(d.rc).enumerate().for_each(|(o, row)| {
            for (j, v) in row.iter_mut().enumerate() {
                *v = acc.w3t[j * d.co + o] as f32;
            }
        });
    }
    TailGrads { a: ga, params }
}

/// One tile of [`backward`]: accumulates the parameter gradients into `acc` and writes `n̄` of the tile.
#[allow(clippy::too_many_arguments)]
fn backward_tile(
    a: &[f32],
    d: TailDims,
    p: &TailWeights,
    prep: &Prepared,
    gy: &[f32],
    t: Tile,
    s: &mut Scratch,
    acc: &mut Acc,
    gn: OutPtr,
) {
    let w = t.w;
    pack(a, d.c, d.v, t, Some((&prep.scale, &prep.shift)), &mut s.n);
    s.h.resize(d.rc * w, 0.0);
    let expand = Nn {
        m: d.rc,
        k: d.c,
        n: w,
    };
    nn(expand, &prep.w2, &s.n, Some(p.b2), &mut s.h);
    s.d.resize(d.rc * w, 0.0);
    gelu_with_grad(&mut s.h, &mut s.d); // h ← g, d ← g'
    pack(gy, d.co, d.v, t, None, &mut s.y);
    row_sums(&s.y, d.co, &mut acc.b3);
    // W̄3ᵀ (rc × co) += g ȳᵀ: the transposed operand is the narrower ȳ.
    transpose_tile(&s.y, d.co, w, &mut s.xt);
    let wgrad3 = Nt {
        m: d.rc,
        k: d.co,
        n: w,
    };
    nt(wgrad3, &s.h, &s.xt, &mut acc.w3t);
    // h ← W3ᵀ ȳ, then ⊙ g'
    let back3 = Nn {
        m: d.rc,
        k: d.co,
        n: w,
    };
    nn(back3, &prep.w3t, &s.y, None, &mut s.h);
    s.h.iter_mut().zip(&s.d).for_each(|(h, g)| *h *= g);
    row_sums(&s.h, d.rc, &mut acc.b2);
    // W̄2 (rc × c) += h̄ nᵀ
    transpose_tile(&s.n, d.c, w, &mut s.xt);
    let wgrad2 = Nt {
        m: d.rc,
        k: d.c,
        n: w,
    };
    nt(wgrad2, &s.h, &s.xt, &mut acc.w2);
    // n̄ = W2ᵀ h̄
    let back2 = Nn {
        m: d.c,
        k: d.rc,
        n: w,
    };
    nn(back2, &prep.w2t, &s.h, None, &mut s.n);
    for c in 0..d.c {
        let off = (t.bn * d.c + c) * d.v + t.j0;
        // SAFETY: inside row `c` of batch item `bn` of `ga` (capacity n·c·v); tiles are disjoint voxel ranges
        // and each tile is processed by exactly one worker.
        unsafe { gn.write_row(off, t.len, &s.n, d.c, c, None) };
    }
}
