//! Register-blocked dense products on small, cache-resident tiles (the building blocks of the fused
//! MedNeXt block op, [`super::block_tail`]), over plain slices, single-threaded (callers parallelise over
//! tiles), run-time dispatched AVX-512/AVX2/baseline ([`super::simd`]).
//!
//! ```text
//! nn:  y[o, j] = b[o] + Σ_i W[o, i] · x[i, j]      W given transposed: wt[i·m + o] = W[o, i]
//! nt:  g[o, i] += Σ_j a[o, j] · x[i, j]            (accumulated in f64)
//! ```
//!
//! Tiles have a column count that is a multiple of [`TILE_ALIGN`] (callers zero-pad), so the inner loops
//! have no column tails. Design after `reference/rust-notes.md` §3 (register blocking, broadcast weights,
//! several independent accumulator chains to hide the FMA latency); the same scheme as the oneDNN/BLIS
//! micro-kernels, written for these shapes (m, k ≤ a few thousand, n a tile of a few hundred voxels).

use super::simd::{multiversion, MulAdd};

/// Column counts of tiles are multiples of this (the widest column block of [`nn`] and [`nt`]).
pub(crate) const TILE_ALIGN: usize = 32;

/// Output rows per register block of [`nn`].
const NN_ROWS: usize = 6;

/// Shape of an `nn` product: `y (m × n) = W (m × k) · x (k × n)`; row strides of `x` and `y` are `n`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nn {
    /// Output rows.
    pub(crate) m: usize,
    /// Inner dimension.
    pub(crate) k: usize,
    /// Columns (a multiple of [`TILE_ALIGN`]).
    pub(crate) n: usize,
}

#[inline(always)]
fn nn_block<M: MulAdd, const B: usize, const R: usize>(
    s: Nn,
    wt: &[f32],
    x: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
    o0: usize,
    j: usize,
) {
    let mut acc = [[0.0_f32; B]; R];
    if let Some(b) = bias {
        for (r, a) in acc.iter_mut().enumerate() {
            *a = [b[o0 + r]; B];
        }
    }
    for i in 0..s.k {
        let xv: &[f32; B] = x[i * s.n + j..][..B].try_into().unwrap();
        for (r, a) in acc.iter_mut().enumerate() {
            let w = wt[i * s.m + o0 + r];
            for l in 0..B {
                a[l] = M::mul_add(w, xv[l], a[l]);
            }
        }
    }
    for (r, a) in acc.iter().enumerate() {
        y[(o0 + r) * s.n + j..][..B].copy_from_slice(a);
    }
}

#[inline(always)]
fn nn_b<M: MulAdd, const B: usize>(
    s: Nn,
    wt: &[f32],
    x: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    let mut o = 0;
    while o < s.m {
        let rows = if o + NN_ROWS <= s.m {
            NN_ROWS
        } else if o + 4 <= s.m {
            4
        } else {
            1
        };
        for j in (0..s.n).step_by(B) {
            match rows {
                NN_ROWS => nn_block::<M, B, NN_ROWS>(s, wt, x, bias, y, o, j),
                4 => nn_block::<M, B, 4>(s, wt, x, bias, y, o, j),
                _ => nn_block::<M, B, 1>(s, wt, x, bias, y, o, j),
            }
        }
        o += rows;
    }
}

#[inline(always)]
fn nn_impl<M: MulAdd, const LANES: usize>(
    s: Nn,
    wt: &[f32],
    x: &[f32],
    bias: Option<&[f32]>,
    y: &mut [f32],
) {
    match LANES {
        16 => nn_b::<M, 32>(s, wt, x, bias, y),
        8 => nn_b::<M, 16>(s, wt, x, bias, y),
        _ => nn_b::<M, 8>(s, wt, x, bias, y),
    }
}

multiversion! {
    /// `y = W x + b` on a tile (see the module formula); `wt` is `W` transposed (`k × m`), `x` is `k × n`,
    /// `y` is `m × n`, `n` a multiple of [`TILE_ALIGN`].
    pub(crate) fn nn(s: Nn, wt: &[f32], x: &[f32], bias: Option<&[f32]>, y: &mut [f32]) => nn_impl;
}

/// Shape of an `nt` product: `g (m × k) += a (m × n) · xᵀ (n × k)`; row strides of `a` and `x` are `n`,
/// of `g` `k`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nt {
    /// Rows of `a` and `g`.
    pub(crate) m: usize,
    /// Rows of `x`, columns of `g`.
    pub(crate) k: usize,
    /// Columns of `a` and `x` (a multiple of [`TILE_ALIGN`]).
    pub(crate) n: usize,
}

#[inline(always)]
fn nt_block<M: MulAdd, const L: usize, const RA: usize, const RB: usize>(
    s: Nt,
    a: &[f32],
    x: &[f32],
    g: &mut [f64],
    o0: usize,
    i0: usize,
) {
    let mut acc = [[[0.0_f32; L]; RB]; RA];
    for j in (0..s.n).step_by(L) {
        let mut xs = [[0.0_f32; L]; RB];
        for (q, xv) in xs.iter_mut().enumerate() {
            *xv = x[(i0 + q) * s.n + j..][..L].try_into().unwrap();
        }
        for (p, accp) in acc.iter_mut().enumerate() {
            let av: &[f32; L] = a[(o0 + p) * s.n + j..][..L].try_into().unwrap();
            for (aq, xv) in accp.iter_mut().zip(&xs) {
                for l in 0..L {
                    aq[l] = M::mul_add(av[l], xv[l], aq[l]);
                }
            }
        }
    }
    for (p, accp) in acc.iter().enumerate() {
        for (q, aq) in accp.iter().enumerate() {
            g[(o0 + p) * s.k + i0 + q] += f64::from(aq.iter().sum::<f32>());
        }
    }
}

#[inline(always)]
fn nt_l<M: MulAdd, const L: usize>(s: Nt, a: &[f32], x: &[f32], g: &mut [f64]) {
    let mut o = 0;
    while o < s.m {
        let ra = if o + 4 <= s.m { 4 } else { 1 };
        let mut i = 0;
        while i < s.k {
            let rb = if i + 2 <= s.k { 2 } else { 1 };
            match (ra, rb) {
                (4, 2) => nt_block::<M, L, 4, 2>(s, a, x, g, o, i),
                (4, _) => nt_block::<M, L, 4, 1>(s, a, x, g, o, i),
                (_, 2) => nt_block::<M, L, 1, 2>(s, a, x, g, o, i),
                _ => nt_block::<M, L, 1, 1>(s, a, x, g, o, i),
            }
            i += rb;
        }
        o += ra;
    }
}

#[inline(always)]
fn nt_impl<M: MulAdd, const LANES: usize>(s: Nt, a: &[f32], x: &[f32], g: &mut [f64]) {
    match LANES {
        16 => nt_l::<M, 16>(s, a, x, g),
        8 => nt_l::<M, 8>(s, a, x, g),
        _ => nt_l::<M, 4>(s, a, x, g),
    }
}

multiversion! {
    /// `g += a xᵀ` on a tile (see the module formula).
    pub(crate) fn nt(s: Nt, a: &[f32], x: &[f32], g: &mut [f64]) => nt_impl;
}

/// `s[o] += Σ_j a[o, j]` for an `m × n` tile (f64 accumulation per row).
pub(crate) fn row_sums(a: &[f32], n: usize, s: &mut [f64]) {
    for (o, row) in s.iter_mut().zip(a.chunks_exact(n)) {
        *o += f64::from(row.iter().sum::<f32>());
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

    #[test]
    fn nn_matches_loops() {
        for (m, k, n) in [(19, 7, 32), (64, 32, 96), (3, 5, 64)] {
            let wt = data(k * m, 1);
            let x = data(k * n, 2);
            let b = data(m, 3);
            let mut y = vec![0.0; m * n];
            nn(Nn { m, k, n }, &wt, &x, Some(&b), &mut y);
            for o in 0..m {
                for j in 0..n {
                    let e: f64 = f64::from(b[o])
                        + (0..k)
                            .map(|i| f64::from(wt[i * m + o]) * f64::from(x[i * n + j]))
                            .sum::<f64>();
                    assert!((f64::from(y[o * n + j]) - e).abs() < 1e-5, "{m} {k} {n}");
                }
            }
        }
    }

    #[test]
    fn nt_matches_loops() {
        for (m, k, n) in [(9, 6, 32), (16, 8, 64), (1, 3, 32)] {
            let a = data(m * n, 4);
            let x = data(k * n, 5);
            let mut g = vec![0.5; m * k];
            nt(Nt { m, k, n }, &a, &x, &mut g);
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
}
