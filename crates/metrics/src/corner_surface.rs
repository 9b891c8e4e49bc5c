//! DeepMind surfel surfaces: surface points on the voxel-corner grid, their areas and the directed distances.
//!
//! Both masks are cropped to their union bounding box `[lo, hi]` (inclusive, `e = hi − lo + 1` voxels per
//! axis); corner `(i, j, k)`, `0 ≤ i ≤ e0` (likewise j, k), sits between voxels `lo + i − 1` and `lo + i` on
//! each axis, and its neighbour code is
//!
//! ```text
//! code(i, j, k) = Σ_{a,b,c ∈ {0,1}} m[lo0 + i − 1 + a, lo1 + j − 1 + b, lo2 + k − 1 + c] · 2^(7 − (4a + 2b + c))
//!                 (voxels outside the box or the image count as 0)
//! surface corners: code ∉ {0, 255};  area = surfel_area_table(spacing)[code]
//! d_PG(c) = min_{c' ∈ ∂G} ‖s ⊙ (c − c')‖  by an exact EDT on the corner grid (likewise d_GP)
//! ```
//!
//! which is DeepMind's zero-padded crop + `ndimage.correlate` with the 2×2×2 kernel + `distance_transform_edt`
//! of the other surface. An empty mask has no surface corner.
//!
//! Reference: google-deepmind/surface-distance `surface_distance/metrics.py` (`compute_surface_distances`,
//! `_compute_bounding_box`, `_crop_to_bounding_box`); `/work/shared/reference/metrics.md` §2.

use ndarray::ArrayView3;

use crate::distance_transform::squared_edt_flat;
use crate::mask::{union_bbox, Spacing};
use crate::surfels::area_table;

/// The surfels of one mask: distances to the other surface and areas, in corner-grid order.
#[derive(Debug, Default)]
pub(crate) struct CornerSurfaces {
    /// Surface corners of the prediction.
    pub n_pred: usize,
    /// Surface corners of the ground truth.
    pub n_gt: usize,
    /// `d_PG` per prediction surfel (empty when either surface is empty).
    pub pred_to_gt: Vec<f64>,
    /// `d_GP` per ground-truth surfel (empty when either surface is empty).
    pub gt_to_pred: Vec<f64>,
    /// Areas of the prediction surfels (same order as `pred_to_gt`).
    pub pred_areas: Vec<f64>,
    /// Areas of the ground-truth surfels.
    pub gt_areas: Vec<f64>,
}

/// Neighbour codes of `mask` on the corner grid of the box `lo..lo + e` (dims `e + 1`), C order.
fn corner_codes(mask: ArrayView3<'_, bool>, lo: [usize; 3], e: [usize; 3]) -> Vec<u8> {
    // The cropped mask with one zero voxel before and after the box on every axis.
    let p = [e[0] + 2, e[1] + 2, e[2] + 2];
    let mut padded = vec![0u8; p[0] * p[1] * p[2]];
    for z in 0..e[0] {
        for y in 0..e[1] {
            let row = ((z + 1) * p[1] + y + 1) * p[2] + 1;
            for x in 0..e[2] {
                padded[row + x] = u8::from(mask[[lo[0] + z, lo[1] + y, lo[2] + x]]);
            }
        }
    }
    // Corner (i, j, k) reads padded voxels (i + a, j + b, k + c).
    let d = [e[0] + 1, e[1] + 1, e[2] + 1];
    let mut codes = vec![0u8; d[0] * d[1] * d[2]];
    let at = |z: usize, y: usize| (z * p[1] + y) * p[2];
    for i in 0..d[0] {
        for j in 0..d[1] {
            let rows = [at(i, j), at(i, j + 1), at(i + 1, j), at(i + 1, j + 1)];
            let out = &mut codes[(i * d[1] + j) * d[2]..(i * d[1] + j + 1) * d[2]];
            for (k, c) in out.iter_mut().enumerate() {
                // (a, b) = (0, 0) → bits 7, 6; (0, 1) → 5, 4; (1, 0) → 3, 2; (1, 1) → 1, 0; c = 0 is the high bit.
                let mut code = 0u8;
                for (r, &base) in rows.iter().enumerate() {
                    let shift = 6 - 2 * r;
                    code |= (padded[base + k] << (shift + 1)) | (padded[base + k + 1] << shift);
                }
                *c = code;
            }
        }
    }
    codes
}

/// DeepMind's surfels of `pred` and `gt` (same shape, checked spacing) with directed distances and areas.
pub(crate) fn corner_surfaces(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    spacing: Spacing,
) -> CornerSurfaces {
    let Some(bbox) = union_bbox(pred, gt) else {
        return CornerSurfaces::default();
    };
    let lo = [bbox[0].0, bbox[1].0, bbox[2].0];
    let e = [bbox[0].1 - lo[0], bbox[1].1 - lo[1], bbox[2].1 - lo[2]];
    let dims = [e[0] + 1, e[1] + 1, e[2] + 1];
    let (cp, cg) = rayon::join(|| corner_codes(pred, lo, e), || corner_codes(gt, lo, e));
    let on = |c: &u8| *c != 0 && *c != 255;
    let sp: Vec<bool> = cp.iter().map(on).collect();
    let sg: Vec<bool> = cg.iter().map(on).collect();
    let n_pred = sp.iter().filter(|&&v| v).count();
    let n_gt = sg.iter().filter(|&&v| v).count();
    if n_pred == 0 || n_gt == 0 {
        return CornerSurfaces {
            n_pred,
            n_gt,
            ..CornerSurfaces::default()
        };
    }
    let areas = area_table(spacing);
    // The two transforms are independent: one per core.
    let (dist_to_g, dist_to_p) = rayon::join(
        || squared_edt_flat(&sg, dims, spacing),
        || squared_edt_flat(&sp, dims, spacing),
    );
    let sample = |codes: &[u8], dist: &[f64]| -> (Vec<f64>, Vec<f64>) {
        codes
            .iter()
            .zip(dist)
            .filter(|(c, _)| on(c))
            .map(|(&c, d)| (d.sqrt(), areas[usize::from(c)]))
            .unzip()
    };
    let (pred_to_gt, pred_areas) = sample(&cp, &dist_to_g);
    let (gt_to_pred, gt_areas) = sample(&cg, &dist_to_p);
    CornerSurfaces {
        n_pred,
        n_gt,
        pred_to_gt,
        gt_to_pred,
        pred_areas,
        gt_areas,
    }
}
