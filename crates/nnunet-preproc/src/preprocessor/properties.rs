//! What preprocessing remembers about a case so that a prediction can be mapped back to the original image.
//!
//! Reference: nnU-Net v2 2.8.1 `nnunetv2/preprocessing/preprocessors/default_preprocessor.py` (`run_case_npy`:
//! `shape_before_cropping`, `bbox_used_for_cropping`, `shape_after_cropping_and_before_resampling`,
//! `class_locations`) and nnU-Net v1 `nnunet/preprocessing/{cropping,preprocessing}.py` (`crop_bbox`,
//! `size_after_cropping`, `size_after_resampling`, `spacing_after_resampling`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::crop::BoundingBox;
use crate::geometry::{Geometry, Spacing};
use crate::plans::Flavour;
use crate::target_spacing::transpose_backward;

/// Per-case properties written next to a preprocessed case (serde JSON) and needed by the export.
///
/// Shapes, the bounding box and `new_spacing` are in the **transposed** axis order (after the plan's
/// `transpose_forward`), as nnU-Net v2 stores them; `spacing` and `geometry` are those of the original image in
/// its own array order `(z, y, x)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseProperties {
    /// Which nnU-Net the case was preprocessed like.
    pub flavour: Flavour,
    /// The original voxel spacing (mm), original array order `[sz, sy, sx]` (nnU-Net's `spacing`).
    pub spacing: Spacing,
    /// The plan's `transpose_forward` that was applied (original axis `transpose_forward[i]` became axis `i`).
    pub transpose_forward: [usize; 3],
    /// The transposed shape before cropping.
    pub shape_before_cropping: [usize; 3],
    /// The crop box `[lo, hi)` per transposed axis.
    pub bbox_used_for_cropping: BoundingBox,
    /// The transposed shape after cropping, before resampling (the shape the export resamples back to).
    pub shape_after_cropping_and_before_resampling: [usize; 3],
    /// The shape after resampling (the preprocessed array's spatial shape).
    pub new_shape: [usize; 3],
    /// The spacing after resampling (the plan's spacing, transposed order).
    pub new_spacing: Spacing,
    /// The original image's geometry (spacing and NIfTI affine), used to write the exported segmentation.
    pub geometry: Geometry,
    /// Sampled voxel coordinates `[z, y, x]` (preprocessed space) per foreground label; empty when the case had
    /// no segmentation. See [`crate::preprocessor::sample_class_locations`].
    pub class_locations: BTreeMap<i16, Vec<[usize; 3]>>,
}

impl CaseProperties {
    /// The original spacing permuted by `transpose_forward` (nnU-Net's `original_spacing` inside
    /// `run_case_npy`).
    #[must_use]
    pub fn spacing_transposed(&self) -> Spacing {
        transpose_spacing(self.spacing, self.transpose_forward)
    }

    /// The inverse of `transpose_forward` (the plan's `transpose_backward`).
    #[must_use]
    pub fn transpose_backward(&self) -> [usize; 3] {
        transpose_backward(self.transpose_forward)
    }
}

/// `[s[t[0]], s[t[1]], s[t[2]]]`: a per-axis quantity after the axis permutation `t`.
#[must_use]
pub fn transpose_spacing(s: Spacing, t: [usize; 3]) -> Spacing {
    [s[t[0]], s[t[1]], s[t[2]]]
}
