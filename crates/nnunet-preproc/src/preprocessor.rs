//! The per-case preprocessing pipeline of nnU-Net v2 and v1: transpose, crop to the nonzero region, normalise
//! and resample to the plan's spacing, and remember what the export needs to undo it.
//!
//! ```text
//! v2 (DefaultPreprocessor.run_case_npy):
//!   x = transpose(x, transpose_forward);  crop_to_nonzero → x, seg (−1 outside), bbox
//!   new_shape = round_half_even(spacing_t / plan_spacing · shape_cropped)
//!   x = normalise(x, seg)                  (before resampling, mask seg ≥ 0)
//!   x = resample(x, order 3);  seg = resample_seg(seg, order 1)
//!   class_locations(seg)                   (only when a segmentation was given)
//! v1 (GenericPreprocessor, preprocess_test_case → resample_and_normalize):
//!   crop_to_nonzero;  x = transpose(x);  x[isnan(x)] = 0
//!   x = resample(x, order 3);  seg = resample_seg(seg, order 1);  seg[seg < −1] = 0
//!   x = normalise_v1(x, seg_resampled)     (after resampling, σ + 1e-8, outside mask set to 0)
//! ```
//!
//! The −1 "outside the nonzero region" label is kept in the returned segmentation in both flavours; it is
//! resampled like any other label (v1 and v2 do the same).
//!
//! Deviations (documented, not bugs of the port):
//! * v2 reads images and does not check for NaN; a NaN would turn every normalised voxel of its channel into
//!   NaN. Here v2 input with a non-finite voxel is an [`Error::NonFiniteVoxels`]. v1 replaces NaN by 0 after
//!   cropping, as its reference does (so a NaN voxel still counts as nonzero for the crop box).
//! * v1's cropping fails on an all-zero image (`np.min` of an empty array); here both flavours keep the whole
//!   volume ([`crate::crop`]).
//! * Class locations are drawn with a seeded ChaCha generator instead of numpy's (see
//!   [`sample_class_locations`]) and stored as 3-D `[z, y, x]` coordinates (nnU-Net v2 prepends the channel 0).
//!
//! References: MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/preprocessing/preprocessors/default_preprocessor.py`
//! (`run_case_npy`, `_normalize`, `_sample_foreground_locations`); nnU-Net v1 1.7.1
//! `nnunet/preprocessing/preprocessing.py` (`GenericPreprocessor.preprocess_test_case`,
//! `resample_and_normalize`, `_run_internal`, `resample_patient`) and `nnunet/preprocessing/cropping.py`
//! (`ImageCropper.crop`). Paper: F. Isensee et al., Nature Methods 18 (2021).

mod class_locations;
mod properties;

pub use class_locations::{
    num_class_locations, sample_class_locations, CLASS_LOCATION_SEED, MIN_NUM_SAMPLES,
    MIN_PERCENT_COVERAGE,
};
pub use properties::{transpose_spacing, CaseProperties};

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::{Array3, Array4, ArrayView3, ArrayView4, Axis};

use crate::crop::crop_to_nonzero;
use crate::error::{Error, Result};
use crate::geometry::{check_spacing, Geometry};
use crate::normalize::normalize_channel_mut;
use crate::plans::{Flavour, Plans};
use crate::resample::{
    compute_new_shape, resample_data, resample_segmentation, ResampleConfig, SegResampleConfig,
};
use crate::target_spacing::is_permutation;

/// A preprocessed case: the network input, the resampled segmentation and the properties the export needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PreprocessedCase {
    /// Normalised, resampled image `(C, z', y', x')` in the transposed axis order.
    pub data: Array4<f32>,
    /// The resampled segmentation with −1 outside the nonzero region; without an input segmentation this is the
    /// resampled nonzero mask (0 inside, −1 outside) — nnU-Net returns it too. `None` never occurs today; it is
    /// kept optional for callers that drop it.
    pub seg: Option<Array3<i16>>,
    /// What the export needs to map a prediction back (and the class locations).
    pub properties: CaseProperties,
}

/// Preprocesses one case like nnU-Net `plans.flavour` (formulas in the module docs).
///
/// `data` is `(C, z, y, x)` in the original array order, `seg` the label map `(z, y, x)` (labels ≥ 0),
/// `geometry` the image's spacing and affine.
///
/// # Errors
///
/// * [`Error::ShapeMismatch`] when `seg` does not match `data` or the plan's per-channel lists do not have one
///   entry per channel;
/// * [`Error::InvalidSpacing`] for a non-positive or non-finite spacing (in the image or the plan);
/// * [`Error::InvalidParameter`] (key `transpose_forward`) when the plan's transposition is not a permutation;
/// * [`Error::NonFiniteVoxels`] for NaN/Inf input under v2 (see the module docs);
/// * errors of the normalisation (e.g. CT statistics missing).
pub fn preprocess_case(
    data: ArrayView4<f32>,
    seg: Option<ArrayView3<i16>>,
    geometry: &Geometry,
    plans: &Plans,
) -> Result<PreprocessedCase> {
    let n_channels = data.len_of(Axis(0));
    check_inputs(data, seg, geometry, plans, n_channels)?;
    let tf = plans.transpose_forward;
    let spacing_t = transpose_spacing(geometry.spacing, tf);

    let data_t = transpose4(data, tf);
    let seg_t = seg.map(|s| transpose3(s, tf));
    let cropped = crop_to_nonzero(data_t.view(), seg_t.as_ref().map(|s| s.view()))?;
    let shape_after_crop = spatial_shape(&cropped.data);
    let new_shape = compute_new_shape(shape_after_crop, spacing_t, plans.spacing);
    check_new_shape(new_shape, shape_after_crop)?;

    let mut x = cropped.data;
    let mut s = cropped.seg;
    let data_cfg = ResampleConfig {
        anisotropy_threshold: plans.anisotropy_threshold,
        ..ResampleConfig::data()
    };
    let seg_cfg = SegResampleConfig {
        anisotropy_threshold: plans.anisotropy_threshold,
        ..SegResampleConfig::default()
    };
    match plans.flavour {
        Flavour::V2 => {
            normalize_all(&mut x, s.view(), plans)?;
            x = resample_data(x.view(), new_shape, spacing_t, plans.spacing, &data_cfg);
            s = resample_segmentation(s.view(), new_shape, spacing_t, plans.spacing, &seg_cfg);
        }
        Flavour::V1 => {
            x.mapv_inplace(|v| if v.is_nan() { 0.0 } else { v });
            let v1_cfg = ResampleConfig {
                intermediate: crate::resample::Intermediate::F32,
                ..data_cfg
            };
            x = resample_data(x.view(), new_shape, spacing_t, plans.spacing, &v1_cfg);
            s = resample_segmentation(s.view(), new_shape, spacing_t, plans.spacing, &seg_cfg);
            s.mapv_inplace(|l| if l < -1 { 0 } else { l });
            normalize_all(&mut x, s.view(), plans)?;
        }
    }

    let class_locations = if seg.is_some() {
        sample_class_locations(s.view(), &foreground_labels(s.view()))
    } else {
        BTreeMap::new()
    };
    let properties = CaseProperties {
        flavour: plans.flavour,
        spacing: geometry.spacing,
        transpose_forward: tf,
        shape_before_cropping: cropped.shape_before,
        bbox_used_for_cropping: cropped.bbox,
        shape_after_cropping_and_before_resampling: shape_after_crop,
        new_shape,
        new_spacing: plans.spacing,
        geometry: geometry.clone(),
        class_locations,
    };
    Ok(PreprocessedCase {
        data: x,
        seg: Some(s),
        properties,
    })
}

/// The foreground labels whose locations are stored: every positive label present in `seg` (the plan does not
/// list the labels; nnU-Net also lists absent labels of `dataset.json`, with no location).
fn foreground_labels(seg: ArrayView3<i16>) -> Vec<i16> {
    let mut present = std::collections::BTreeSet::new();
    for &l in seg.iter() {
        if l > 0 {
            present.insert(l);
        }
    }
    present.into_iter().collect()
}

fn normalize_all(x: &mut Array4<f32>, seg: ArrayView3<i16>, plans: &Plans) -> Result<()> {
    for (c, channel) in x.axis_iter_mut(Axis(0)).enumerate() {
        normalize_channel_mut(
            channel,
            seg,
            &plans.normalization[c],
            plans.use_mask_for_norm[c],
            plans.flavour,
        )?;
    }
    Ok(())
}

fn check_inputs(
    data: ArrayView4<f32>,
    seg: Option<ArrayView3<i16>>,
    geometry: &Geometry,
    plans: &Plans,
    n_channels: usize,
) -> Result<()> {
    let shape = &data.shape()[1..];
    if let Some(seg) = seg {
        if seg.shape() != shape {
            return Err(Error::ShapeMismatch {
                context: "preprocess_case: segmentation vs image (z, y, x)".into(),
                found: seg.shape().to_vec(),
                expected: shape.to_vec(),
            });
        }
    }
    for (what, len) in [
        (
            "plans.normalization vs image channels",
            plans.normalization.len(),
        ),
        (
            "plans.use_mask_for_norm vs image channels",
            plans.use_mask_for_norm.len(),
        ),
    ] {
        if len != n_channels {
            return Err(Error::ShapeMismatch {
                context: format!("preprocess_case: {what}"),
                found: vec![len],
                expected: vec![n_channels],
            });
        }
    }
    if !is_permutation(plans.transpose_forward) {
        return Err(Error::InvalidParameter {
            key: "transpose_forward",
            reason: format!(
                "{:?} is not a permutation of [0, 1, 2]",
                plans.transpose_forward
            ),
        });
    }
    check_spacing(geometry.spacing, &PathBuf::from("<image geometry>"))?;
    check_spacing(plans.spacing, &PathBuf::from("<plans spacing>"))?;
    if plans.flavour == Flavour::V2 {
        let count = data.iter().filter(|v| !v.is_finite()).count();
        if count > 0 {
            return Err(Error::NonFiniteVoxels {
                path: PathBuf::from("<preprocess_case input>"),
                count,
            });
        }
    }
    Ok(())
}

fn check_new_shape(new_shape: [usize; 3], cropped: [usize; 3]) -> Result<()> {
    if new_shape.contains(&0) && !cropped.contains(&0) {
        return Err(Error::InvalidParameter {
            key: "spacing",
            reason: format!("resampling {cropped:?} gives the empty shape {new_shape:?}"),
        });
    }
    Ok(())
}

/// `(C, z, y, x)` → `(C, a₀, a₁, a₂)` with `aᵢ = axis tf[i]` (numpy `transpose([0, tf[0]+1, …])`), C-contiguous.
#[must_use]
pub(crate) fn transpose4<T: Clone>(x: ArrayView4<T>, tf: [usize; 3]) -> Array4<T> {
    x.permuted_axes([0, tf[0] + 1, tf[1] + 1, tf[2] + 1])
        .as_standard_layout()
        .into_owned()
}

/// `(z, y, x)` → `(a₀, a₁, a₂)` with `aᵢ = axis tf[i]`, C-contiguous.
#[must_use]
pub(crate) fn transpose3<T: Clone>(x: ArrayView3<T>, tf: [usize; 3]) -> Array3<T> {
    x.permuted_axes(tf).as_standard_layout().into_owned()
}

fn spatial_shape<T>(x: &Array4<T>) -> [usize; 3] {
    let s = x.shape();
    [s[1], s[2], s[3]]
}
