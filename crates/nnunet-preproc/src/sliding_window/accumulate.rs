//! Gaussian-weighted accumulation of a tile's pass sum into the output, and the final division by the weight
//! sum — each one parallel sweep in f32.
//!
//! ```text
//! A[k, t + i − lo] += (S[k, i] · s) · g[i]     i ∈ tile ∩ volume,  S = Σ_m flip_m(P_m),  s = 1/|M|
//! out = A · (1 / W)                            (W from `tiles::WeightSum`)
//! ```
//!
//! The operation order is nnU-Net v2's (`prediction /= n; prediction *= gaussian; logits[sl] += prediction`),
//! without materialising `prediction / n` or `prediction · g`.
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`
//! (`_internal_predict_sliding_window_return_logits`, `_internal_maybe_mirror_and_predict`); nnU-Net v1
//! `nnunet/network_architecture/neural_network.py` (`_internal_predict_3D_3Dconv_tiled`).

use rayon::prelude::*;

use super::tiles::{Frame, WeightSum};

/// The pass sum `pred (K, pz, py, px)` (standard layout, flat) of the tile at `origin` (padded frame) added
/// into `acc (K, z, y, x)` (flat, unpadded) with weight `scale · g` (`g ≡ 1` without a map). Parallel over the
/// volume's z-planes inside the tile.
pub(super) fn accumulate_tile(
    acc: &mut [f32],
    frame: &Frame,
    pred: &[f32],
    k: usize,
    g: Option<&[f32]>,
    scale: f32,
    origin: [usize; 3],
) {
    let [nz, ny, nx] = frame.shape;
    let [pz, py, px] = frame.patch;
    let (z0, z1) = frame.valid(0, origin[0]);
    let (y0, y1) = frame.valid(1, origin[1]);
    let (x0, x1) = frame.valid(2, origin[2]);
    if z0 == z1 || y0 == y1 || x0 == x1 {
        return;
    }
    let plane = ny * nx;
    let tplane = py * px;
    // Volume z of tile-local z0: every tile-local z in [z0, z1) maps to vz0 + (z − z0).
    let vz0 = origin[0] + z0 - frame.lo[0];
    let mut tasks: Vec<Vec<&mut [f32]>> = (z0..z1).map(|_| Vec::with_capacity(k)).collect();
    for (i, chunk) in acc.chunks_mut(plane).enumerate() {
        let vz = i % nz;
        if (vz0..vz0 + (z1 - z0)).contains(&vz) {
            tasks[vz - vz0].push(chunk);
        }
    }
    let len = x1 - x0;
    let vx0 = origin[2] + x0 - frame.lo[2];
    tasks
        .into_par_iter()
        .enumerate()
        .for_each(|(dz, mut planes)| {
            let z = z0 + dz;
            for y in y0..y1 {
                let vy = origin[1] + y - frame.lo[1];
                let dst = vy * nx + vx0;
                let t_off = z * tplane + y * px + x0;
                for (kk, plane) in planes.iter_mut().enumerate() {
                    let a = &mut plane[dst..dst + len];
                    let s = &pred[kk * pz * tplane + t_off..][..len];
                    match g {
                        Some(g) => add_weighted(a, s, &g[t_off..t_off + len], scale),
                        None => add_scaled(a, s, scale),
                    }
                }
            }
        });
}

/// `a[i] += (s[i] · scale) · g[i]` (nnU-Net's order: average the passes, then weight).
#[inline(always)]
fn add_weighted(a: &mut [f32], s: &[f32], g: &[f32], scale: f32) {
    for ((a, &s), &g) in a.iter_mut().zip(s).zip(g) {
        *a += s * scale * g;
    }
}

/// `a[i] += s[i] · scale`.
#[inline(always)]
fn add_scaled(a: &mut [f32], s: &[f32], scale: f32) {
    for (a, &s) in a.iter_mut().zip(s) {
        *a += s * scale;
    }
}

/// `acc (K, z, y, x) ← acc / W` in place, parallel over `(k, z)` planes.
pub(super) fn normalise(acc: &mut [f32], frame: &Frame, w: &WeightSum) {
    let [nz, ny, nx] = frame.shape;
    let plane = ny * nx;
    match w {
        WeightSum::Separable([iz, iy, ix]) => {
            acc.par_chunks_mut(plane).enumerate().for_each(|(i, a)| {
                let fz = iz[i % nz];
                for (row, &fy) in a.chunks_mut(nx).zip(iy) {
                    let f = fz * fy;
                    for (v, &fx) in row.iter_mut().zip(ix) {
                        *v *= (f * fx) as f32;
                    }
                }
            });
        }
        WeightSum::Dense(w) => {
            let w = w.as_slice().expect("built in standard layout");
            acc.par_chunks_mut(plane).enumerate().for_each(|(i, a)| {
                let w = &w[(i % nz) * plane..][..plane];
                a.iter_mut().zip(w).for_each(|(a, &w)| *a /= w);
            });
        }
    }
}

/// A zeroed buffer of `len` values for the output. On Linux its pages are advised for transparent huge pages
/// (`madvise(MADV_HUGEPAGE)`) before the first touch: faulting in a fresh 126 MB output 4 kB at a time cost about
/// a third of a whole no-TTA prediction on the development VM; 2 MB pages cut that about threefold.
pub(super) fn zeroed_output(len: usize) -> Vec<f32> {
    let v = vec![0f32; len];
    #[cfg(target_os = "linux")]
    advise_huge_pages(&v);
    v
}

/// `madvise(MADV_HUGEPAGE)` on the whole 2 MB pages inside `v` (a hint; failures are ignored).
#[cfg(target_os = "linux")]
fn advise_huge_pages(v: &[f32]) {
    const HUGE: usize = 2 << 20;
    let start = v.as_ptr() as usize;
    let end = start + std::mem::size_of_val(v);
    let first = start.next_multiple_of(HUGE);
    if end >= first + HUGE {
        let len = (end - first) / HUGE * HUGE;
        // SAFETY: `[first, first + len)` lies inside `v`'s allocation; MADV_HUGEPAGE changes only how the
        // kernel backs those pages, never their contents, so no Rust-visible memory is modified.
        unsafe {
            libc::madvise(first as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
}
