//! Configuration of the resampling functions: interpolation orders, the separate-z policy, the segmentation
//! rule and the one place where nnU-Net v1 and v2 compute differently.
//!
//! References (read, not copied): MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/experiment_planning/experiment_planners/default_experiment_planner.py` (`determine_resampling`,
//! `determine_segmentation_softmax_export_fn`: the kwargs below), nnU-Net v1 1.7.1
//! `nnunet/preprocessing/preprocessing.py` (`resample_patient`, `resample_data_or_seg`), batchgenerators
//! 0.25.5 `batchgenerators/augmentations/utils.py` (`resize_segmentation`, `_resample_seg_by_argmax`).

use crate::error::{Error, Result};

/// Spline order of the interpolation (scipy/skimage `order`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Order 0: the nearest sample, `index = floor(src + 0.5)` clamped to the volume.
    Nearest,
    /// Order 1: linear interpolation between the two neighbouring samples, edge values beyond the border.
    Linear,
    /// Order 3: cubic B-spline with the recursive prefilter on the 12-voxel edge-padded line.
    Cubic,
}

impl Order {
    /// The spline order as scipy/skimage number it (0, 1 or 3).
    #[must_use]
    pub fn spline_order(self) -> u32 {
        match self {
            Order::Nearest => 0,
            Order::Linear => 1,
            Order::Cubic => 3,
        }
    }

    /// The order for a scipy/skimage spline order.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (key `order`) for anything but 0, 1 or 3 (orders 2, 4 and 5 are never used
    /// by nnU-Net and are not implemented).
    pub fn from_spline_order(order: u32) -> Result<Order> {
        match order {
            0 => Ok(Order::Nearest),
            1 => Ok(Order::Linear),
            3 => Ok(Order::Cubic),
            _ => Err(Error::InvalidParameter {
                key: "order",
                reason: format!("spline order {order} is not supported (use 0, 1 or 3)"),
            }),
        }
    }
}

/// Whether one low-resolution axis is resampled on its own (nnU-Net's `force_separate_z`).
///
/// With separate-z every slice across that axis is resized in 2-D with `order`, then the slices are
/// interpolated along the axis with `order_z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SeparateZ {
    /// `force_separate_z = None` (nnU-Net's default): decided by [`super::separate_z_axis`].
    #[default]
    Auto,
    /// `force_separate_z = False`: always plain 3-D resampling.
    Never,
    /// `force_separate_z = True`: the axis of the largest *current* spacing; off when two or three axes tie.
    Always,
    /// This array axis (0 = z, 1 = y, 2 = x), whatever the spacings say; an axis ≥ 3 means no separate-z.
    Axis(usize),
}

/// Floating-point type of the in-plane slices between the 2-D pass and the `order_z` pass of separate-z.
///
/// The only numerical difference between nnU-Net v1 and v2 resampling: v2 keeps the 2-D results in float64
/// (`reshaped_here = np.zeros(...)`), v1 casts every slice to the input dtype (float32) before interpolating
/// along z. With `order_z = Nearest` (every default) both give identical output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Intermediate {
    /// nnU-Net v2: float64 slices.
    #[default]
    F64,
    /// nnU-Net v1: slices rounded to float32.
    F32,
}

/// How a label map is resized (batchgenerators `resize_segmentation`).
///
/// For orders ≥ 1 every label (including nnU-Net's −1) is turned into a 0/1 indicator, the indicator is
/// resized with the given order (edge mode, clipped to [0, 1]) and the scores are combined per voxel.
/// Order 0 simply takes the nearest label for every rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SegmentationRule {
    /// batchgenerators 0.25.5 default (`seg_tiebreak='nearest'`), what nnU-Net v1 and v2 run with the
    /// installed batchgenerators: the label with the largest score; on an exact tie the nearest-neighbour
    /// label if it is among the tied labels (and scores > 0), otherwise the smallest tied label.
    #[default]
    ArgmaxNearestTie,
    /// `seg_tiebreak='lowest'`: the largest score, ties to the smallest label.
    ArgmaxLowestTie,
    /// `seg_tiebreak='highest'`: the largest score, ties to the largest label.
    ArgmaxHighestTie,
    /// batchgenerators ≤ 0.25 before the argmax rewrite: labels ascending, `out[score >= 0.5] = label`
    /// (the last label wins, voxels that no label reaches stay 0).
    Threshold,
}

/// Parameters of [`super::resample_data`] (nnU-Net's `resample_data_or_seg_to_shape` with `is_seg=False`).
///
/// `Default` is the preprocessing of image data: `order = Cubic`, `order_z = Nearest`,
/// `separate_z = Auto`, `anisotropy_threshold = 3.0`, `intermediate = F64` (v2).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResampleConfig {
    /// In-plane (or 3-D) interpolation order. nnU-Net: 3 for image data, 1 for logits/probabilities.
    pub order: Order,
    /// Order along the separately resampled axis. nnU-Net: 0 everywhere.
    pub order_z: Order,
    /// Separate-z policy (`force_separate_z`).
    pub separate_z: SeparateZ,
    /// `separate_z_anisotropy_threshold` (nnU-Net's `ANISO_THRESHOLD` = 3).
    pub anisotropy_threshold: f64,
    /// v1 vs v2 intermediate precision of separate-z (matters only when `order_z` is not `Nearest`).
    pub intermediate: Intermediate,
}

impl Default for ResampleConfig {
    fn default() -> Self {
        ResampleConfig {
            order: Order::Cubic,
            order_z: Order::Nearest,
            separate_z: SeparateZ::Auto,
            anisotropy_threshold: 3.0,
            intermediate: Intermediate::F64,
        }
    }
}

impl ResampleConfig {
    /// Image data in preprocessing (v1 and v2): order 3, order_z 0, automatic separate-z.
    #[must_use]
    pub fn data() -> Self {
        Self::default()
    }

    /// Export of per-class maps back to the original geometry (v2 logits, v1 softmax probabilities):
    /// order 1, order_z 0, automatic separate-z (`resampling_fn_probabilities` kwargs).
    #[must_use]
    pub fn probabilities() -> Self {
        ResampleConfig {
            order: Order::Linear,
            ..Self::default()
        }
    }
}

/// Parameters of [`super::resample_segmentation`] (nnU-Net's `resample_data_or_seg_to_shape` with
/// `is_seg=True`).
///
/// `Default` is nnU-Net's segmentation resampling (v1 and v2): `order = Linear`, `order_z = Nearest`,
/// `separate_z = Auto`, `anisotropy_threshold = 3.0`, `rule = ArgmaxNearestTie`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SegResampleConfig {
    /// In-plane (or 3-D) order of the label indicators.
    pub order: Order,
    /// Order along the separately resampled axis. 0 (nnU-Net's default) copies the nearest slice; higher
    /// orders use nnU-Net's per-label `round(interpolated) > 0.5`, labels ascending, rule.
    pub order_z: Order,
    /// Separate-z policy (`force_separate_z`).
    pub separate_z: SeparateZ,
    /// `separate_z_anisotropy_threshold`.
    pub anisotropy_threshold: f64,
    /// How the per-label scores decide a voxel.
    pub rule: SegmentationRule,
}

impl Default for SegResampleConfig {
    fn default() -> Self {
        SegResampleConfig {
            order: Order::Linear,
            order_z: Order::Nearest,
            separate_z: SeparateZ::Auto,
            anisotropy_threshold: 3.0,
            rule: SegmentationRule::ArgmaxNearestTie,
        }
    }
}
