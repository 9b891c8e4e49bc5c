//! Register-blocked dense products on small, cache-resident tiles (the building blocks of the fused
//! MedNeXt block op, [`super::block_tail`]), over plain slices, single-threaded (callers parallelise over
//! tiles), run-time dispatched AVX-512/AVX2/baseline ([`super::simd`]).
//!
//! Layouts. A *tile* of `rows × n` values (`n` a multiple of [`PANEL`]) is stored **panel-major**: columns
//! in panels of [`PANEL`], each panel `rows × PANEL` contiguous, `t[(p·rows + r)·PANEL + l]` = value
//! `(r, p·PANEL + l)`. A weight matrix `W` (`m × k`) used as the left factor is packed once per op call in
//! blocks of [`MR`] rows ([`PackedRows`], `w[(b·k + i)·MR + r] = W[b·MR + r, i]`). Both make every inner
//! loop read consecutive memory: the plain row-major form read `k` rows `n` floats apart, which for
//! `n = 1024` all fall into one L1 set and made each load an L2 access.
//!
//! ```text
//! nn:  y[o, j] = b[o] + Σ_i W[o, i] · x[i, j]       (x, y panel-major; W packed)
//! nt:  g[o, i] += Σ_j a[o, j] · x[i, j]             (a panel-major; x given as xᵀ panels; g in f64)
//! ```
//!
//! The micro-kernels keep an `R × B` block of the result in registers (AVX-512: 8 rows × 32 columns =
//! 16 zmm accumulators) and per reduction step load `B` consecutive floats and broadcast `R` consecutive
//! weights — the BLIS/oneDNN scheme (`reference/rust-notes.md` §3; Goto & van de Geijn, "Anatomy of
//! high-performance matrix multiplication", ACM TOMS 34(3), 2008), written for these shapes (m, k ≤ a few
//! thousand, n a tile of a few hundred voxels).

use rayon::prelude::*;

use super::simd::{multiversion, MulAdd};

/// Columns per panel of a tile (two AVX-512 vectors); tile widths are multiples of it.
pub(crate) const PANEL: usize = 32;
/// Alias kept for callers that size tiles.
pub(crate) const TILE_ALIGN: usize = PANEL;
/// Rows per packed weight block.
pub(crate) const MR: usize = 8;

/// A weight matrix `W` (`m × k`) packed in blocks of [`MR`] rows (rows past `m` are zero).
#[derive(Debug, Clone, Default)]
pub(crate) struct PackedRows {
    /// Rows of `W`.
    pub(crate) m: usize,
    /// Columns of `W`.
    pub(crate) k: usize,
    data: Vec<f32>,
}

impl PackedRows {
    fn pack(m: usize, k: usize, at: impl Fn(usize, usize) -> f32 + Sync) -> Self {
        let blocks = m.div_ceil(MR);
        let mut data = vec![0.0_f32; blocks * k * MR];
        if k > 0 {
            data.par_chunks_exact_mut(k * MR)
                .enumerate()
                .for_each(|(b, block)| {
                    for (i, row) in block.chunks_exact_mut(MR).enumerate() {
                        for (r, v) in row.iter_mut().enumerate().take(m - b * MR) {
                            *v = at(b * MR + r, i);
                        }
                    }
                });
        }
        Self { m, k, data }
    }

    /// Packs `W` given row-major (`w[o·k + i] = W[o, i]`).
    pub(crate) fn from_rows(w: &[f32], m: usize, k: usize) -> Self {
        assert_eq!(w.len(), m * k, "weight size");
        Self::pack(m, k, |o, i| w[o * k + i])
    }

    /// Packs `W` given as its transpose, row-major (`w[i·m + o] = W[o, i]`).
    pub(crate) fn from_columns(w: &[f32], m: usize, k: usize) -> Self {
        assert_eq!(w.len(), m * k, "weight size");
        Self::pack(m, k, |o, i| w[i * m + o])
    }

    fn block(&self, b: usize) -> &[f32] {
        &self.data[b * self.k * MR..][..self.k * MR]
    }
}

/// Columns per register block of the micro-kernels for a lane count.
const fn cols_for(lanes: usize) -> usize {
    if lanes >= 16 {
        32
    } else {
        16
    }
}

/// Rows per register block of the micro-kernels for a lane count (AVX2 has 16 vector registers).
const fn rows_for(lanes: usize) -> usize {
    if lanes >= 16 {
        8
    } else {
        4
    }
}

/// Shape of an `nn` product: `y (m × n) = W (m × k) · x (k × n)`, `x` and `y` panel-major.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nn {
    /// Output rows.
    pub(crate) m: usize,
    /// Inner dimension.
    pub(crate) k: usize,
    /// Columns (a multiple of [`PANEL`]).
    pub(crate) n: usize,
}

/// Rows `r0..r0+R` of weight block `w` (`k × MR`) times columns `c0..c0+B` of panel `x` (`k × PANEL`),
/// stored into panel `y` (rows `o0 + r0 ..`, at most `valid` rows of the block).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn nn_micro<M: MulAdd, const R: usize, const B: usize>(
    w: &[f32],
    r0: usize,
    x: &[f32],
    c0: usize,
    bias: &[f32; MR],
    valid: usize,
    y: &mut [f32],
) {
    let mut acc = [[0.0_f32; B]; R];
    for (r, a) in acc.iter_mut().enumerate() {
        *a = [bias[r0 + r]; B];
    }
    for (xr, wr) in x.chunks_exact(PANEL).zip(w.chunks_exact(MR)) {
        let xv: &[f32; B] = xr[c0..c0 + B].try_into().unwrap();
        let wv: &[f32; R] = wr[r0..r0 + R].try_into().unwrap();
        for (a, &wk) in acc.iter_mut().zip(wv) {
            for l in 0..B {
                a[l] = M::mul_add(wk, xv[l], a[l]);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        if r0 + r < valid {
            y[(r0 + r) * PANEL + c0..][..B].copy_from_slice(a);
        }
    }
}

#[inline(always)]
fn nn_impl<M: MulAdd, const LANES: usize>(
    s: Nn,
    w: &PackedRows,
    x: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    debug_assert!(w.m == s.m && w.k == s.k && s.n.is_multiple_of(PANEL));
    let (rows, cols) = (rows_for(LANES), cols_for(LANES));
    for (xp, yp) in x
        .chunks_exact(s.k * PANEL)
        .zip(y.chunks_exact_mut(s.m * PANEL))
        .take(s.n / PANEL)
    {
        for b in 0..s.m.div_ceil(MR) {
            let mut bb = [0.0_f32; MR];
            let valid = (s.m - b * MR).min(MR);
            if let Some(bias) = bias {
                bb[..valid].copy_from_slice(&bias[b * MR..][..valid]);
            }
            let yb = &mut yp[b * MR * PANEL..];
            let wb = w.block(b);
            for r0 in (0..valid).step_by(rows) {
                for c0 in (0..PANEL).step_by(cols) {
                    match LANES {
                        16 => nn_micro::<M, 8, 32>(wb, r0, xp, c0, &bb, valid, yb),
                        8 => nn_micro::<M, 4, 16>(wb, r0, xp, c0, &bb, valid, yb),
                        _ => nn_micro::<M, 4, 16>(wb, r0, xp, c0, &bb, valid, yb),
                    }
                }
            }
        }
    }
}

multiversion! {
    /// `y = W x + b` on panel-major tiles (see the module formula); `y` has `m·n` elements.
    pub(crate) fn nn(s: Nn, w: &PackedRows, x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) => nn_impl;
}

/// Shape of an `nt` product: `g (m × k) += a (m × n) · xᵀ (n × k)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nt {
    /// Rows of `a` and `g`.
    pub(crate) m: usize,
    /// Rows of `x`, columns of `g`.
    pub(crate) k: usize,
    /// Columns of `a` and `x` (a multiple of [`PANEL`]).
    pub(crate) n: usize,
}

/// Transposes a panel-major tile `x` (`k × n`) into `xt`: `k.div_ceil(PANEL)` blocks of `n × PANEL`,
/// `xt[(b·n + j)·PANEL + q] = x(b·PANEL + q, j)`, zero past row `k`.
pub(crate) fn transpose_tile(x: &[f32], k: usize, n: usize, xt: &mut Vec<f32>) {
    let blocks = k.div_ceil(PANEL);
    xt.resize(blocks * n * PANEL, 0.0);
    let valid_last = k - (blocks.max(1) - 1) * PANEL;
    if blocks > 0 && valid_last < PANEL {
        // rows past `k` of the last block: zero (every other element is overwritten below)
        for row in xt[(blocks - 1) * n * PANEL..].chunks_exact_mut(PANEL) {
            row[valid_last..].fill(0.0);
        }
    }
    for (p, xp) in x.chunks_exact(k * PANEL).take(n / PANEL).enumerate() {
        for b in 0..blocks {
            let dst = &mut xt[(b * n + p * PANEL) * PANEL..][..PANEL * PANEL];
            for q in 0..(k - b * PANEL).min(PANEL) {
                let src = &xp[(b * PANEL + q) * PANEL..][..PANEL];
                for (l, &v) in src.iter().enumerate() {
                    dst[l * PANEL + q] = v;
                }
            }
        }
    }
}

/// Rows `o0..o0+R` of `a` times column block `xb` of `xᵀ` (`n × PANEL`), added to `g`.
#[inline(always)]
fn nt_micro<M: MulAdd, const R: usize, const B: usize>(
    s: Nt,
    a: &[f32],
    o0: usize,
    xb: &[f32],
    c0: usize,
    acc_out: &mut [[f32; PANEL]; MR],
) {
    let mut acc = [[0.0_f32; B]; R];
    for (p, ap) in a.chunks_exact(s.m * PANEL).take(s.n / PANEL).enumerate() {
        let rows: [&[f32; PANEL]; R] =
            std::array::from_fn(|r| ap[(o0 + r) * PANEL..][..PANEL].try_into().unwrap());
        let xs: &[f32; PANEL * PANEL] =
            xb[p * PANEL * PANEL..][..PANEL * PANEL].try_into().unwrap();
        for l in 0..PANEL {
            let xv: &[f32; B] = xs[l * PANEL + c0..][..B].try_into().unwrap();
            for (ac, row) in acc.iter_mut().zip(&rows) {
                let av = row[l];
                for q in 0..B {
                    ac[q] = M::mul_add(av, xv[q], ac[q]);
                }
            }
        }
    }
    for (r, ac) in acc.iter().enumerate() {
        acc_out[r][c0..c0 + B].copy_from_slice(ac);
    }
}

#[inline(always)]
fn nt_rows<M: MulAdd, const R: usize, const LANES: usize>(
    s: Nt,
    a: &[f32],
    o0: usize,
    xt: &[f32],
    g: &mut [f64],
) {
    let cols = cols_for(LANES);
    let mut out = [[0.0_f32; PANEL]; MR];
    for b in 0..s.k.div_ceil(PANEL) {
        let xb = &xt[b * s.n * PANEL..][..s.n * PANEL];
        for c0 in (0..PANEL).step_by(cols) {
            match LANES {
                16 => nt_micro::<M, R, 32>(s, a, o0, xb, c0, &mut out),
                _ => nt_micro::<M, R, 16>(s, a, o0, xb, c0, &mut out),
            }
        }
        let valid = (s.k - b * PANEL).min(PANEL);
        for (r, row) in out.iter().enumerate().take(R) {
            let dst = &mut g[(o0 + r) * s.k + b * PANEL..][..valid];
            for (d, &v) in dst.iter_mut().zip(row) {
                *d += f64::from(v);
            }
        }
    }
}

#[inline(always)]
fn nt_impl<M: MulAdd, const LANES: usize>(s: Nt, a: &[f32], xt: &[f32], g: &mut [f64]) {
    debug_assert!(s.n.is_multiple_of(PANEL));
    let full = rows_for(LANES);
    let mut o = 0;
    while o < s.m {
        if o + full <= s.m {
            match LANES {
                16 => nt_rows::<M, 8, LANES>(s, a, o, xt, g),
                _ => nt_rows::<M, 4, LANES>(s, a, o, xt, g),
            }
            o += full;
        } else {
            nt_rows::<M, 1, LANES>(s, a, o, xt, g);
            o += 1;
        }
    }
}

multiversion! {
    /// `g += a xᵀ` (see the module formula): `a` panel-major `m × n`, `xt` from [`transpose_tile`] of `x`
    /// (`k × n`), `g` row-major `m × k`.
    pub(crate) fn nt(s: Nt, a: &[f32], xt: &[f32], g: &mut [f64]) => nt_impl;
}

/// `s[o] += Σ_j a[o, j]` for a panel-major `m × n` tile (f64 accumulation per row).
pub(crate) fn row_sums(a: &[f32], m: usize, s: &mut [f64]) {
    for panel in a.chunks_exact(m * PANEL) {
        for (o, row) in s.iter_mut().zip(panel.chunks_exact(PANEL)) {
            *o += f64::from(row.iter().sum::<f32>());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(len: usize, seed: u32) -> Vec<f32> {
        (0..len)
            .map(|i| (((i as u32).wrapping_mul(2_654_435_761) ^ seed) % 1000) as f32 / 500.0 - 1.0)
            .collect()
    }

    /// Row-major `rows × n` → panel-major.
    fn to_panels(x: &[f32], rows: usize, n: usize) -> Vec<f32> {
        let mut t = vec![0.0; rows * n];
        for r in 0..rows {
            for j in 0..n {
                t[((j / PANEL) * rows + r) * PANEL + j % PANEL] = x[r * n + j];
            }
        }
        t
    }

    #[test]
    fn nn_matches_loops() {
        for (m, k, n) in [(19, 7, 32), (64, 32, 96), (3, 5, 64), (13, 40, 32)] {
            let w = data(m * k, 1);
            let x = data(k * n, 2);
            let b = data(m, 3);
            for transposed in [false, true] {
                // W[o, i] is w[o·k + i], or w[i·m + o] for the column form.
                let at = |o: usize, i: usize| {
                    if transposed {
                        w[i * m + o]
                    } else {
                        w[o * k + i]
                    }
                };
                let packed = if transposed {
                    PackedRows::from_columns(&w, m, k)
                } else {
                    PackedRows::from_rows(&w, m, k)
                };
                let mut y = vec![f32::NAN; m * n];
                nn(
                    Nn { m, k, n },
                    &packed,
                    &to_panels(&x, k, n),
                    Some(&b),
                    &mut y,
                );
                let mut y0 = vec![f32::NAN; m * n];
                nn(Nn { m, k, n }, &packed, &to_panels(&x, k, n), None, &mut y0);
                for (o, &bo) in b.iter().enumerate() {
                    for j in 0..n {
                        let e: f64 = (0..k)
                            .map(|i| f64::from(at(o, i)) * f64::from(x[i * n + j]))
                            .sum::<f64>();
                        let idx = ((j / PANEL) * m + o) * PANEL + j % PANEL;
                        assert!((f64::from(y0[idx]) - e).abs() < 1e-5, "{m} {k} {n}");
                        assert!((f64::from(y[idx]) - e - f64::from(bo)).abs() < 1e-5);
                    }
                }
            }
        }
    }

    #[test]
    fn nt_matches_loops() {
        for (m, k, n) in [(9, 6, 32), (16, 8, 64), (1, 3, 32), (17, 40, 96)] {
            let a = data(m * n, 4);
            let x = data(k * n, 5);
            let mut xt = Vec::new();
            transpose_tile(&to_panels(&x, k, n), k, n, &mut xt);
            let mut g = vec![0.5; m * k];
            nt(Nt { m, k, n }, &to_panels(&a, m, n), &xt, &mut g);
            for o in 0..m {
                for i in 0..k {
                    let e: f64 = 0.5
                        + (0..n)
                            .map(|j| f64::from(a[o * n + j]) * f64::from(x[i * n + j]))
                            .sum::<f64>();
                    assert!((g[o * k + i] - e).abs() < 1e-4, "{m} {k} {n}");
                }
            }
        }
    }

    #[test]
    fn row_sums_of_panels() {
        let (m, n) = (5, 64);
        let a = data(m * n, 6);
        let mut s = vec![1.0; m];
        row_sums(&to_panels(&a, m, n), m, &mut s);
        for o in 0..m {
            let e = 1.0 + a[o * n..][..n].iter().map(|&v| f64::from(v)).sum::<f64>();
            assert!((s[o] - e).abs() < 1e-5);
        }
    }
}
