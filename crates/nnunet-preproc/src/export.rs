//! The inverse of preprocessing: a prediction in preprocessed space back to the original image grid.
//!
//! ```text
//! v2 (convert_predicted_logits_to_segmentation_with_correct_shape):
//!   r_k  = resample(logits_k → shape_after_cropping, order 1, order_z 0,
//!                   separate-z decided on (current = plan spacing, new = original spacing transposed))
//!   seg  = argmax_k r_k                       (ties: the smallest k, as numpy/torch argmax)
//!   out  = zeros(shape_before_cropping);  out[bbox] = seg;  out = transpose(out, transpose_backward)
//! v1 (save_segmentation_nifti_from_softmax):
//!   r_k  = resample(softmax_k → shape_after_cropping, order 1, order_z 0,
//!                   separate-z decided on (current = original spacing, new = plan spacing))
//!   seg  = argmax_k r_k;  un-crop (outside 0);  transpose back
//!   probabilities (nnU-Net v2's revert_cropping_on_probabilities layout): r_k in the box,
//!   background 1 and the other classes 0 outside it
//! ```
//!
//! Every channel is resampled on its own in `f64` and rounded to `f32` before the argmax, exactly as the
//! references do (skimage `resize` on a float64 copy, stored into a float32 array). The segmentation is built
//! with a running maximum, so only one resampled channel is alive at a time. The shortcut of resampling
//! `logit₁ − logit₀` once for two classes is *not* used: it is equal in exact arithmetic but not after the
//! float32 rounding of each channel, so it could flip voxels whose two logits nearly tie.
//!
//! v1 transposes the softmax back before resampling it in the original axis order; this module resamples in the
//! transposed order and transposes afterwards. Both are the same per-axis interpolation (up to the order of
//! floating-point additions), and v1 decides the separate-z axis on the untransposed `original_spacing` but the
//! *transposed* `spacing_after_resampling` (a quirk that matters only when the image is isotropic and the plan
//! is not); here both spacings are taken in the transposed order.
//!
//! References: MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/inference/export_prediction.py`
//! (`convert_predicted_logits_to_segmentation_with_correct_shape`, `export_prediction_from_logits`),
//! `nnunetv2/utilities/label_handling/label_handling.py` (`convert_probabilities_to_segmentation`,
//! `revert_cropping_on_probabilities`); nnU-Net v1 1.7.1 `nnunet/inference/segmentation_export.py`
//! (`save_segmentation_nifti_from_softmax`).

use std::path::Path;

use ndarray::{s, Array3, Array4, ArrayView3, ArrayView4, Axis, Zip};

use crate::crop::{bbox_shape, uncrop};
use crate::error::{Error, Result};
use crate::plans::Plans;
use crate::preprocessor::{transpose3, transpose4, CaseProperties};
use crate::resample::{resample_data, ResampleConfig};
use crate::target_spacing::is_permutation;

/// The export of class probabilities (v1 / `--save_probabilities` style).
#[derive(Debug, Clone, PartialEq)]
pub struct OriginalProbabilities {
    /// The label map in the original image's array order and shape.
    pub segmentation: Array3<u8>,
    /// The resampled probabilities `(K, z, y, x)` in the original array order and shape; outside the crop box
    /// the background (class 0) is 1 and every other class 0.
    pub probabilities: Array4<f32>,
}

/// Which reference's separate-z decision the export follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// v2: current = plan spacing, new = original spacing.
    PlanFirst,
    /// v1: current = original spacing, new = plan spacing.
    OriginalFirst,
}

/// Maps network logits in preprocessed space back to a label map of the original image (nnU-Net v2's export,
/// formula in the module docs).
///
/// `logits` is `(K, z', y', x')` with `(z', y', x') = properties.new_shape` (the transposed, resampled
/// space). The result has the original image's array shape and order.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when the logits do not have `properties.new_shape` or the properties are
/// inconsistent (box outside the shape); [`Error::InvalidParameter`] (key `logits`) for no channel or more than
/// 256 classes, (key `transpose_forward`) for properties whose transposition is not a permutation; [`Error::NonFiniteVoxels`] for NaN/Inf logits.
pub fn logits_to_original_segmentation(
    logits: ArrayView4<f32>,
    properties: &CaseProperties,
    plans: &Plans,
) -> Result<Array3<u8>> {
    check_prediction(logits, properties, "logits")?;
    let cropped = streaming_argmax(logits, properties, plans, Decision::PlanFirst)?;
    uncrop_and_transpose_back(cropped.view(), properties)
}

/// Maps class probabilities (e.g. the mirrored-TTA average of softmax outputs) in preprocessed space back to
/// the original image, as nnU-Net v1's `save_segmentation_nifti_from_softmax`: the label map and the full-size
/// probabilities (formula in the module docs).
///
/// # Errors
///
/// As [`logits_to_original_segmentation`] (key `probabilities`).
pub fn probabilities_to_original(
    probabilities: ArrayView4<f32>,
    properties: &CaseProperties,
    plans: &Plans,
) -> Result<OriginalProbabilities> {
    check_prediction(probabilities, properties, "probabilities")?;
    let (current, new) = spacings(properties, Decision::OriginalFirst);
    let target = properties.shape_after_cropping_and_before_resampling;
    let cfg = export_config(plans);
    let resampled = resample_data(probabilities, target, current, new, &cfg);
    let seg = argmax_first(resampled.view());
    let segmentation = uncrop_and_transpose_back(seg.view(), properties)?;

    let k = probabilities.len_of(Axis(0));
    let [z, y, x] = properties.shape_before_cropping;
    let mut full = Array4::<f32>::zeros((k, z, y, x));
    full.index_axis_mut(Axis(0), 0).fill(1.0);
    let [bz, by, bx] = properties.bbox_used_for_cropping;
    full.slice_mut(s![.., bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]])
        .assign(&resampled);
    let probabilities = transpose4(full.view(), properties.transpose_backward());
    Ok(OriginalProbabilities {
        segmentation,
        probabilities,
    })
}

/// Like [`probabilities_to_original`] but returns only the label map, with one resampled channel alive at a
/// time.
///
/// # Errors
///
/// As [`probabilities_to_original`].
pub fn probabilities_to_original_segmentation(
    probabilities: ArrayView4<f32>,
    properties: &CaseProperties,
    plans: &Plans,
) -> Result<Array3<u8>> {
    check_prediction(probabilities, properties, "probabilities")?;
    let cropped = streaming_argmax(probabilities, properties, plans, Decision::OriginalFirst)?;
    uncrop_and_transpose_back(cropped.view(), properties)
}

/// Writes an exported label map as a NIfTI mask with the original image's geometry
/// (`properties.geometry`), atomically.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when `seg` does not have the original shape; I/O errors of the writer.
pub fn write_segmentation(
    path: &Path,
    seg: ArrayView3<u8>,
    properties: &CaseProperties,
) -> Result<()> {
    let expected: [usize; 3] = original_shape(properties);
    if seg.shape() != &expected[..] {
        return Err(Error::ShapeMismatch {
            context: format!(
                "write_segmentation {}: label map vs original image",
                path.display()
            ),
            found: seg.shape().to_vec(),
            expected: expected.to_vec(),
        });
    }
    crate::nifti_io::write_mask(path, seg, &properties.geometry)
}

/// The original image's array shape (`shape_before_cropping` permuted back).
#[must_use]
pub fn original_shape(properties: &CaseProperties) -> [usize; 3] {
    let tb = properties.transpose_backward();
    let s = properties.shape_before_cropping;
    [s[tb[0]], s[tb[1]], s[tb[2]]]
}

fn export_config(plans: &Plans) -> ResampleConfig {
    ResampleConfig {
        anisotropy_threshold: plans.anisotropy_threshold,
        ..ResampleConfig::probabilities()
    }
}

fn spacings(properties: &CaseProperties, decision: Decision) -> ([f64; 3], [f64; 3]) {
    let original = properties.spacing_transposed();
    match decision {
        Decision::PlanFirst => (properties.new_spacing, original),
        Decision::OriginalFirst => (original, properties.new_spacing),
    }
}

/// Resamples channel by channel and keeps the running maximum; ties keep the earlier channel.
fn streaming_argmax(
    pred: ArrayView4<f32>,
    properties: &CaseProperties,
    plans: &Plans,
    decision: Decision,
) -> Result<Array3<u8>> {
    let (current, new) = spacings(properties, decision);
    let target = properties.shape_after_cropping_and_before_resampling;
    let cfg = export_config(plans);
    let mut best = Array3::<f32>::from_elem(target, f32::NEG_INFINITY);
    let mut label = Array3::<u8>::zeros(target);
    for k in 0..pred.len_of(Axis(0)) {
        let r = resample_data(
            pred.slice(s![k..k + 1, .., .., ..]),
            target,
            current,
            new,
            &cfg,
        );
        let class = k as u8; // k < 256 is checked by check_prediction
        Zip::from(&mut best)
            .and(&mut label)
            .and(r.index_axis(Axis(0), 0))
            .for_each(|b, l, &v| {
                if k == 0 || v > *b {
                    *b = v;
                    *l = class;
                }
            });
    }
    Ok(label)
}

/// numpy `argmax(0)`: the first channel holding the maximum.
fn argmax_first(x: ArrayView4<f32>) -> Array3<u8> {
    let (_, z, y, w) = x.dim();
    let mut best = x.index_axis(Axis(0), 0).to_owned();
    let mut label = Array3::<u8>::zeros((z, y, w));
    for (k, ch) in x.axis_iter(Axis(0)).enumerate().skip(1) {
        let class = k as u8;
        Zip::from(&mut best)
            .and(&mut label)
            .and(ch)
            .for_each(|b, l, &v| {
                if v > *b {
                    *b = v;
                    *l = class;
                }
            });
    }
    label
}

fn uncrop_and_transpose_back(
    cropped: ArrayView3<u8>,
    properties: &CaseProperties,
) -> Result<Array3<u8>> {
    let full = uncrop(
        cropped,
        &properties.bbox_used_for_cropping,
        properties.shape_before_cropping,
        0u8,
    )?;
    Ok(transpose3(full.view(), properties.transpose_backward()))
}

fn check_prediction(
    pred: ArrayView4<f32>,
    properties: &CaseProperties,
    key: &'static str,
) -> Result<()> {
    let k = pred.len_of(Axis(0));
    if k == 0 || k > 256 {
        return Err(Error::InvalidParameter {
            key,
            reason: format!("{k} classes (need 1 to 256 for a u8 label map)"),
        });
    }
    if !is_permutation(properties.transpose_forward) {
        return Err(Error::InvalidParameter {
            key: "transpose_forward",
            reason: format!(
                "case properties hold {:?}, not a permutation of [0, 1, 2]",
                properties.transpose_forward
            ),
        });
    }
    let spatial = &pred.shape()[1..];
    if spatial != &properties.new_shape[..] {
        return Err(Error::ShapeMismatch {
            context: format!("export: {key} vs the preprocessed shape (new_shape)"),
            found: spatial.to_vec(),
            expected: properties.new_shape.to_vec(),
        });
    }
    if bbox_shape(&properties.bbox_used_for_cropping)
        != properties.shape_after_cropping_and_before_resampling
    {
        return Err(Error::ShapeMismatch {
            context: "export: properties bbox_used_for_cropping vs shape_after_cropping_and_before_resampling".into(),
            found: bbox_shape(&properties.bbox_used_for_cropping).to_vec(),
            expected: properties.shape_after_cropping_and_before_resampling.to_vec(),
        });
    }
    let count = pred.iter().filter(|v| !v.is_finite()).count();
    if count > 0 {
        return Err(Error::NonFiniteVoxels {
            path: std::path::PathBuf::from(format!("<{key}>")),
            count,
        });
    }
    Ok(())
}
