//! Training targets: `RemoveLabel(−1 → 0)` and deep-supervision down-sampling of the label map.
//!
//! ```text
//! seg[seg == −1] ← 0
//! scales_i = 1 / Π_{j ≤ i} strides_j   (i = 0 … n − 2, scales_0 = 1)   e.g. [1, ½, ¼, ⅛, 1/16]
//! target_i = seg resized to round(shape · scale_i) with nearest-exact: src = min(⌊(o + ½) · in/out⌋, in − 1)
//! ```
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py`
//! (`_get_deep_supervision_scales`), batchgeneratorsv2 0.3 `transforms/utils/deep_supervision_downsampling.py`
//! (`DownsampleSegForDSTransform`), `transforms/utils/remove_label.py`; nnU-Net v1 `downsample_seg_for_ds_transform2`
//! (order 0).

use ndarray::{Array3, ArrayView3};

/// `seg[seg == from] = to` in place (nnU-Net: −1 → 0).
pub fn remove_label_mut(seg: &mut Array3<i16>, from: i16, to: i16) {
    seg.mapv_inplace(|v| if v == from { to } else { v });
}

/// Deep-supervision scales from the per-stage pooling strides (the first stride is the stem's, 1): cumulative
/// products inverted, the last stage dropped.
#[must_use]
pub fn deep_supervision_scales(strides: &[[usize; 3]]) -> Vec<[f64; 3]> {
    let mut acc = [1.0f64; 3];
    let mut out = Vec::with_capacity(strides.len());
    for s in strides {
        for a in 0..3 {
            acc[a] *= s[a] as f64;
        }
        out.push(acc.map(|v| 1.0 / v));
    }
    out.pop();
    out
}

/// Nearest-exact down-sampling of a label map to `round(shape · scale)` (module docs).
#[must_use]
pub fn downsample_seg(seg: ArrayView3<'_, i16>, scale: [f64; 3]) -> Array3<i16> {
    let sh = [seg.shape()[0], seg.shape()[1], seg.shape()[2]];
    let out: [usize; 3] =
        std::array::from_fn(|a| ((sh[a] as f64 * scale[a]).round() as usize).max(1));
    if out == sh {
        return seg.to_owned();
    }
    let idx: Vec<Vec<usize>> = (0..3)
        .map(|a| {
            let r = sh[a] as f64 / out[a] as f64;
            (0..out[a])
                .map(|o| (((o as f64 + 0.5) * r).floor() as usize).min(sh[a] - 1))
                .collect()
        })
        .collect();
    Array3::from_shape_fn((out[0], out[1], out[2]), |(z, y, x)| {
        seg[[idx[0][z], idx[1][y], idx[2][x]]]
    })
}
