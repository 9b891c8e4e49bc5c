//! Mirroring of image and label map along any subset of the spatial axes.
//!
//! ```text
//! x[c, i₀, i₁, i₂] ← x[c, f₀(i₀), f₁(i₁), f₂(i₂)],   f_a(i) = n_a − 1 − i if axis a is flipped, else i
//! ```
//! Each axis is flipped independently with probability ½ (both flavours).
//!
//! References (read, not copied): batchgeneratorsv2 0.3 `transforms/spatial/mirroring.py`
//! (`MirrorTransform`); batchgenerators 0.25 `augmentations/spatial_transformations.py` (`augment_mirroring`).

use ndarray::{Array3, Array4, Axis};

/// Flips `data (C, z, y, x)` and `seg (z, y, x)` along the spatial axes marked `true`; the arrays stay in
/// standard layout.
pub fn mirror(data: &mut Array4<f32>, seg: &mut Array3<i16>, axes: [bool; 3]) {
    if !axes.iter().any(|&a| a) {
        return;
    }
    let mut d = data.view();
    let mut s = seg.view();
    for (a, &flip) in axes.iter().enumerate() {
        if flip {
            d.invert_axis(Axis(a + 1));
            s.invert_axis(Axis(a));
        }
    }
    let (d, s) = (
        d.as_standard_layout().into_owned(),
        s.as_standard_layout().into_owned(),
    );
    *data = d;
    *seg = s;
}
