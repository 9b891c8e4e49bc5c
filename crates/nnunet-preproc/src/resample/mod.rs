//! Resampling exactly as nnU-Net (v2 2.8.1 and v1 1.7.1) resamples — image data with cubic B-splines,
//! per-class maps linearly, label maps by per-label argmax — computed separably and in parallel.
//!
//! | nnU-Net call | here |
//! | --- | --- |
//! | `compute_new_shape(shape, spacing, new_spacing)` | [`compute_new_shape`] |
//! | `determine_do_sep_z_and_axis(None, cur, new)` | [`separate_z_axis`] |
//! | `resample_data_or_seg_to_shape(data, ..., is_seg=False, order=3, order_z=0, force_separate_z=None)` | [`resample_data`] with [`ResampleConfig::data`] |
//! | export: same with `order=1` (v2 logits, v1 softmax) | [`resample_data`] with [`ResampleConfig::probabilities`] |
//! | `resample_data_or_seg_to_shape(seg, ..., is_seg=True, order=1, order_z=0, force_separate_z=None)` | [`resample_segmentation`] with [`SegResampleConfig::default`] |
//!
//! Numerics: order 3 is scipy's `zoom(grid_mode=True, mode='nearest')` (what skimage `resize(order=3,
//! mode='edge', anti_aliasing=False)` calls) followed by skimage's clip to the input range; it is evaluated in
//! f64 as three 1-D passes (pad 12 edge voxels → recursive prefilter → 4 taps), which equals scipy's 3-D
//! tensor-product evaluation up to rounding: after the f32 cast the outputs were bit-identical to nnU-Net on
//! every golden fixture and on the 3 × 160 × 256 × 256 benchmark volume (the tests allow 2e−6 of the data
//! range). Segmentations at order 1 reproduce scipy's arithmetic term by term and are identical, ties
//! included. v1 and v2 make the same decisions; their one numerical difference is selectable with
//! [`Intermediate`]. Speed: ~50× nnU-Net on 2 cores (`docs/benchmarks.md`).
//!
//! References (read, not copied): MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/preprocessing/resampling/default_resampling.py`; nnU-Net v1 1.7.1
//! `nnunet/preprocessing/preprocessing.py`; batchgenerators 0.25.5 `augmentations/utils.py`
//! (`resize_segmentation`); skimage 0.26 `transform/_warps.py` (`resize`); scipy 1.17.1
//! `ndimage/_interpolation.py`, `ndimage/src/ni_interpolation.c`, `ndimage/src/ni_splines.c`.

mod axis;
mod config;
mod data;
mod plane;
mod segmentation;
mod separable;
mod shape;
mod simd;
mod spline;

pub use config::{
    Intermediate, Order, ResampleConfig, SegResampleConfig, SegmentationRule, SeparateZ,
};
pub use data::resample_data;
pub use segmentation::resample_segmentation;
pub use shape::{compute_new_shape, resolve_separate_z, separate_z_axis};
