//! Mirroring test-time augmentation: the mirrored input tile is gathered straight from the (virtually padded)
//! volume, a pass's prediction is added to the tile's pass sum with the mirroring undone by index arithmetic,
//! and the v1 softmax of a pass's logits.
//!
//! ```text
//! T[c, j] = x[c, t + flip_m(j) − lo]   (0 outside the volume),   flip_m(j)_a = p_a − 1 − j_a if a ∈ m else j_a
//! S[k, i] += P_m[k, flip_m(i)]         (the first pass, m = ∅, is S itself: no copy)
//! softmax: P[k, v] = exp(L[k, v] − max_k L) / Σ_k exp(L[k, v] − max_k L)
//! ```
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`
//! (`_internal_maybe_mirror_and_predict`: `torch.flip(net(torch.flip(x, axes)), axes)`); nnU-Net v1
//! `nnunet/network_architecture/neural_network.py` (`_internal_maybe_mirror_and_pred_3D`, softmax per pass).

use ndarray::Array4;
use rayon::prelude::*;

use super::tiles::Frame;

/// Fills `tile (C, pz, py, px)` (flat, standard layout) with the tile at `origin` (padded frame) of
/// `data (C, z, y, x)` (flat, standard layout), mirrored over `flip`; voxels of the padding read 0.
/// Parallel over the tile's `(c, z)` planes.
pub(super) fn gather_tile(
    data: &[f32],
    frame: &Frame,
    tile: &mut [f32],
    origin: [usize; 3],
    flip: [bool; 3],
) {
    let [nz, ny, nx] = frame.shape;
    let [pz, py, px] = frame.patch;
    let (y0, y1) = frame.valid(1, origin[1]);
    let (x0, x1) = frame.valid(2, origin[2]);
    let (z0, z1) = frame.valid(0, origin[0]);
    // Destination x range of the valid source columns.
    let (d0, d1) = if flip[2] {
        (px - x1, px - x0)
    } else {
        (x0, x1)
    };
    let vx0 = (origin[2] + x0).wrapping_sub(frame.lo[2]);
    tile.par_chunks_mut(py * px)
        .enumerate()
        .for_each(|(cz, plane)| {
            let (c, j) = (cz / pz, cz % pz);
            let z = if flip[0] { pz - 1 - j } else { j };
            if !(z0..z1).contains(&z) || x0 == x1 {
                plane.fill(0.0);
                return;
            }
            let vz = origin[0] + z - frame.lo[0];
            for (jy, row) in plane.chunks_mut(px).enumerate() {
                let y = if flip[1] { py - 1 - jy } else { jy };
                if !(y0..y1).contains(&y) {
                    row.fill(0.0);
                    continue;
                }
                let vy = origin[1] + y - frame.lo[1];
                let src = &data[((c * nz + vz) * ny + vy) * nx + vx0..][..x1 - x0];
                row[..d0].fill(0.0);
                row[d1..].fill(0.0);
                let dst = &mut row[d0..d1];
                if flip[2] {
                    dst.iter_mut()
                        .zip(src.iter().rev())
                        .for_each(|(a, &b)| *a = b);
                } else {
                    dst.copy_from_slice(src);
                }
            }
        });
}

/// `sum += flip(pred)` over the spatial axes flagged in `flip`, both `(K, pz, py, px)` flat in standard
/// layout; row by row (an x-row read reversed when x is flipped), parallel over `(k, z)` planes.
pub(super) fn add_mirrored(sum: &mut [f32], pred: &[f32], patch: [usize; 3], flip: [bool; 3]) {
    let [pz, py, px] = patch;
    let plane = py * px;
    sum.par_chunks_mut(plane).enumerate().for_each(|(kz, dst)| {
        let (k, z) = (kz / pz, kz % pz);
        let sz = if flip[0] { pz - 1 - z } else { z };
        let base = (k * pz + sz) * plane;
        for (y, row) in dst.chunks_mut(px).enumerate() {
            let sy = if flip[1] { py - 1 - y } else { y };
            let src = &pred[base + sy * px..][..px];
            if flip[2] {
                row.iter_mut()
                    .zip(src.iter().rev())
                    .for_each(|(a, &b)| *a += b);
            } else {
                row.iter_mut().zip(src).for_each(|(a, &b)| *a += b);
            }
        }
    });
}

/// The mirror-axis combinations as flags, in nnU-Net v2's order (`[]`, then the 1-, 2- and 3-axis
/// combinations, each in `itertools.combinations` order).
pub(super) fn mirror_flags(combos: &[Vec<usize>]) -> Vec<[bool; 3]> {
    combos
        .iter()
        .map(|axes| std::array::from_fn(|a| axes.contains(&a)))
        .collect()
}

/// Softmax over axis 0 (classes) in place, max-subtracted; parallel over chunks of voxels.
pub(super) fn softmax_classes_mut(x: &mut Array4<f32>) {
    const CHUNK: usize = 4096;
    if !x.is_standard_layout() {
        *x = x.as_standard_layout().into_owned();
    }
    let k = x.shape()[0];
    let n: usize = x.shape()[1..].iter().product();
    let Some(flat) = x.as_slice_mut() else {
        return;
    };
    // Chunk i of every class plane goes to task i.
    let mut tasks: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(CHUNK))
        .map(|_| Vec::with_capacity(k))
        .collect();
    for class in flat.chunks_mut(n) {
        for (task, chunk) in tasks.iter_mut().zip(class.chunks_mut(CHUNK)) {
            task.push(chunk);
        }
    }
    tasks.into_par_iter().for_each(|mut cls| {
        let mut tmp = vec![0f32; k];
        for i in 0..cls[0].len() {
            let m = cls.iter().map(|c| c[i]).fold(f32::NEG_INFINITY, f32::max);
            let mut s = 0.0;
            for (t, c) in tmp.iter_mut().zip(&cls) {
                *t = (c[i] - m).exp();
                s += *t;
            }
            for (t, c) in tmp.iter().zip(cls.iter_mut()) {
                c[i] = t / s;
            }
        }
    });
}
