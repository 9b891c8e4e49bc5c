//! One raw case through the whole inference: preprocessing with the run's plan, sliding window over the
//! (ensemble of) networks, export to the original grid, post-processing, the binary challenge mask.
//!
//! ```text
//! x        = preprocess_case(case, plans)                           (C, z', y', x'), transposed, resampled
//! P        = sliding window over the ensemble (patch = plans.patch_size, step, TTA; v2 logits / v1 softmax)
//! label    = v2: logits_to_original_segmentation(P)                 (order-1 resample, argmax, un-crop)
//!            v1: probabilities_to_original_segmentation(P)
//! mask     = 1[label > 0]                                           u8, original shape, original affine
//! mask     = postprocess(mask): breast box (zero outside), then the largest connected component (26-conn.)
//! probs    = v2: softmax_k(resample(P_k → cropped shape)), un-cropped with background 1, others 0 outside
//!            v1: resample(P_k → cropped shape), un-cropped the same way         (only when requested)
//! written  = <out>/pred_segmentations/<patient_id>.nii.gz           (MAMA-MIA Task 1 layout, atomically)
//!            <out>/probabilities/<patient_id>_class<k>.nii.gz       (float32, one per class, optional)
//! ```
//!
//! References: nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py` (`predict_from_files`),
//! `nnunetv2/inference/export_prediction.py` (`convert_predicted_logits_to_segmentation_with_correct_shape`
//! with `return_probabilities`), nnU-Net v1 1.7.1 `nnunet/inference/predict.py` (`predict_cases`); the
//! MAMA-MIA sample submission (`pred_segmentations/<patient_id>.nii.gz`, `apply_breast_mask`);
//! `/work/shared/reference/mamamia.md` §2, `/work/shared/reference/nnunet.md` §7.

use std::path::{Path, PathBuf};
use std::time::Instant;

use ndarray::{s, Array3, Array4, ArrayView4, Axis, Zip};
use nnunet_preproc::{
    logits_to_original_segmentation, postprocess_mut, preprocess_case, probabilities_to_original,
    probabilities_to_original_segmentation, resample_data, sliding_window_tiles, uncrop,
    write_mask, write_volume, BreastBox, Case, CaseProperties, Flavour, Geometry, Plans,
    PostprocessConfig, ResampleConfig, SlidingWindow, SlidingWindowConfig,
};

use super::predictor::EnsemblePredictor;
use crate::config::SIZE_DIVISOR;
use crate::error::{Error, Result};

/// The folder of the challenge masks inside an output folder.
pub const PRED_SEGMENTATIONS_DIR: &str = "pred_segmentations";
/// The folder of the optional probability maps inside an output folder.
pub const PROBABILITIES_DIR: &str = "probabilities";

/// Mirroring test-time augmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tta {
    /// One pass per tile.
    #[default]
    Off,
    /// Identity plus every flip combination of the three spatial axes (8 passes per tile).
    Mirror,
}

/// Whether the class probabilities are returned (and written) besides the mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Probabilities {
    /// Only the mask.
    #[default]
    Skip,
    /// The mask and the probabilities on the original grid.
    Keep,
}

/// Settings of [`predict_case`]. `Default`: no TTA, step 0.5, no post-processing (the breast box is applied
/// only when one is passed), no probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceConfig {
    /// Mirroring TTA.
    pub tta: Tta,
    /// Tile step as a fraction of the patch, in `(0, 1]` (nnU-Net 0.5).
    pub step: f64,
    /// Post-processing of the exported mask.
    pub postprocess: PostprocessConfig,
    /// Probability output.
    pub probabilities: Probabilities,
}

impl Default for InferenceConfig {
    fn default() -> Self {
        InferenceConfig {
            tta: Tta::Off,
            step: 0.5,
            postprocess: PostprocessConfig::default(),
            probabilities: Probabilities::Skip,
        }
    }
}

impl InferenceConfig {
    /// The sliding-window settings for a plan's flavour (v2: logits averaged, Gaussian peak 10; v1: softmax
    /// averaged, peak 1), with this step and TTA.
    #[must_use]
    pub fn sliding_window(&self, flavour: Flavour) -> SlidingWindowConfig {
        let cfg = SlidingWindowConfig {
            step: self.step,
            ..SlidingWindowConfig::for_flavour(flavour)
        };
        match self.tta {
            Tta::Off => cfg.without_tta(),
            Tta::Mirror => cfg,
        }
    }
}

/// The prediction of one case on its original grid.
#[derive(Debug, Clone, PartialEq)]
pub struct CasePrediction {
    /// Binary mask (0/1) in the original array order and shape, post-processed.
    pub mask: Array3<u8>,
    /// The original image's geometry (spacing and affine), written with the mask.
    pub geometry: Geometry,
    /// Class probabilities `(K, z, y, x)` on the original grid, when requested.
    pub probabilities: Option<Array4<f32>>,
    /// Sizes and stage timings.
    pub stats: PredictionStats,
}

/// What a case prediction did and how long each stage took (wall-clock seconds).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PredictionStats {
    /// The preprocessed (transposed, resampled) shape the network saw.
    pub preprocessed_shape: [usize; 3],
    /// Sliding-window tiles per network.
    pub tiles: usize,
    /// Network passes per tile (8 with mirroring TTA, else 1).
    pub passes_per_tile: usize,
    /// Networks in the ensemble.
    pub models: usize,
    /// Preprocessing (crop, normalisation, resampling).
    pub preprocess_s: f64,
    /// Sliding window over every network (forward passes, accumulation).
    pub predict_s: f64,
    /// Export to the original grid and post-processing.
    pub export_s: f64,
}

impl PredictionStats {
    /// Network forward passes in total: `tiles · passes_per_tile · models`.
    #[must_use]
    pub fn forward_passes(&self) -> usize {
        self.tiles * self.passes_per_tile * self.models
    }
}

/// Checks that the ensemble fits the plan: input channels = plan channels, patch axes multiples of 16.
///
/// # Errors
/// [`Error::InvalidParameter`] (keys `plans`, `patch_size`).
pub fn check_plan(ensemble: &EnsemblePredictor, plans: &Plans) -> Result<()> {
    let c = plans.channel_names.len();
    if ensemble.in_channels() != c {
        return Err(Error::InvalidParameter {
            key: "plans",
            reason: format!(
                "the plan has {c} channels ({:?}) but the network takes {}",
                plans.channel_names,
                ensemble.in_channels()
            ),
        });
    }
    if plans
        .patch_size
        .iter()
        .any(|&p| p == 0 || !p.is_multiple_of(SIZE_DIVISOR))
    {
        return Err(Error::InvalidParameter {
            key: "patch_size",
            reason: format!(
                "plan patch {:?}: every axis must be a positive multiple of {SIZE_DIVISOR} for MedNeXt",
                plans.patch_size
            ),
        });
    }
    Ok(())
}

/// The sliding-window prediction of a preprocessed volume `(C, z', y', x')`: averaged logits (v2) or
/// probabilities (v1), `(K, z', y', x')`.
///
/// # Errors
/// As [`check_plan`] and [`EnsemblePredictor::predict_volume`].
pub fn predict_preprocessed(
    ensemble: &EnsemblePredictor,
    plans: &Plans,
    data: ArrayView4<'_, f32>,
    config: &InferenceConfig,
) -> Result<Array4<f32>> {
    check_plan(ensemble, plans)?;
    let window = SlidingWindow::new(plans.patch_size, config.sliding_window(plans.flavour))?;
    ensemble.predict_volume(data, &window)
}

/// Predicts one loaded case (`nnunet_preproc::load_case`, channels in the plan's order) — formula in the
/// module docs. `breast_box` is applied when given and `config.postprocess.breast_box` says so.
///
/// # Errors
/// [`Error::InvalidParameter`] (key `case`) when the case has another channel count than the plan, naming
/// the case; the errors of preprocessing, prediction and export ([`Error::Data`]) and of [`check_plan`].
pub fn predict_case(
    ensemble: &EnsemblePredictor,
    plans: &Plans,
    case: &Case,
    breast_box: Option<&BreastBox>,
    config: &InferenceConfig,
) -> Result<CasePrediction> {
    let c = case.data.len_of(Axis(0));
    if c != plans.channel_names.len() {
        return Err(Error::InvalidParameter {
            key: "case",
            reason: format!(
                "case {}: {c} channels, the plan expects {}",
                case.id,
                plans.channel_names.len()
            ),
        });
    }
    let t0 = Instant::now();
    let pre = preprocess_case(case.data.view(), None, &case.geometry, plans)?;
    let t1 = Instant::now();
    let pred = predict_preprocessed(ensemble, plans, pre.data.view(), config)?;
    let t2 = Instant::now();
    let (_, z, y, x) = pre.data.dim();
    let shape = [z, y, x];
    drop(pre.data);
    let props = &pre.properties;
    let (label, probabilities) = match (plans.flavour, config.probabilities) {
        (Flavour::V2, Probabilities::Skip) => (
            logits_to_original_segmentation(pred.view(), props, plans)?,
            None,
        ),
        (Flavour::V2, Probabilities::Keep) => {
            let label = logits_to_original_segmentation(pred.view(), props, plans)?;
            (label, Some(v2_probabilities(pred.view(), props, plans)?))
        }
        (Flavour::V1, Probabilities::Skip) => (
            probabilities_to_original_segmentation(pred.view(), props, plans)?,
            None,
        ),
        (Flavour::V1, Probabilities::Keep) => {
            let out = probabilities_to_original(pred.view(), props, plans)?;
            (out.segmentation, Some(out.probabilities))
        }
    };
    let mut mask = label.mapv(|l| u8::from(l > 0));
    postprocess_mut(mask.view_mut(), breast_box, &config.postprocess);
    let padded = std::array::from_fn(|a| shape[a].max(plans.patch_size[a]));
    let stats = PredictionStats {
        preprocessed_shape: shape,
        tiles: sliding_window_tiles(padded, plans.patch_size, config.step)?.len(),
        passes_per_tile: config
            .sliding_window(plans.flavour)
            .mirror_combinations()
            .len(),
        models: ensemble.members().len(),
        preprocess_s: (t1 - t0).as_secs_f64(),
        predict_s: (t2 - t1).as_secs_f64(),
        export_s: t2.elapsed().as_secs_f64(),
    };
    Ok(CasePrediction {
        mask,
        geometry: case.geometry.clone(),
        probabilities,
        stats,
    })
}

/// nnU-Net v2's `return_probabilities` export: each logit channel resampled (order 1, separate-z rule with
/// current = plan spacing) to the cropped shape, softmax over classes, un-cropped (background 1, others 0),
/// transposed back.
fn v2_probabilities(
    logits: ArrayView4<'_, f32>,
    props: &CaseProperties,
    plans: &Plans,
) -> Result<Array4<f32>> {
    let cfg = ResampleConfig {
        anisotropy_threshold: plans.anisotropy_threshold,
        ..ResampleConfig::probabilities()
    };
    let mut r = resample_data(
        logits,
        props.shape_after_cropping_and_before_resampling,
        props.new_spacing,
        props.spacing_transposed(),
        &cfg,
    );
    softmax_classes(&mut r);
    let k = r.len_of(Axis(0));
    let [z, y, x] = props.shape_before_cropping;
    let mut full = Array4::<f32>::zeros((k, z, y, x));
    for (ch, (mut dst, src)) in full
        .axis_iter_mut(Axis(0))
        .zip(r.axis_iter(Axis(0)))
        .enumerate()
    {
        let fill = if ch == 0 { 1.0 } else { 0.0 };
        let u = uncrop(
            src,
            &props.bbox_used_for_cropping,
            props.shape_before_cropping,
            fill,
        )?;
        dst.assign(&u);
    }
    let tb = props.transpose_backward();
    Ok(full
        .permuted_axes([0, tb[0] + 1, tb[1] + 1, tb[2] + 1])
        .as_standard_layout()
        .into_owned())
}

/// Softmax over axis 0, max-subtracted, per voxel.
fn softmax_classes(x: &mut Array4<f32>) {
    let k = x.len_of(Axis(0));
    let (_, z, y, w) = x.dim();
    let mut max = Array3::<f32>::from_elem((z, y, w), f32::NEG_INFINITY);
    for ch in x.axis_iter(Axis(0)) {
        Zip::from(&mut max).and(ch).for_each(|m, &v| *m = m.max(v));
    }
    let mut sum = Array3::<f32>::zeros((z, y, w));
    for mut ch in x.axis_iter_mut(Axis(0)) {
        Zip::from(&mut ch)
            .and(&max)
            .and(&mut sum)
            .for_each(|v, &m, s| {
                *v = (*v - m).exp();
                *s += *v;
            });
    }
    for i in 0..k {
        Zip::from(x.slice_mut(s![i, .., .., ..]))
            .and(&sum)
            .for_each(|v, &s| *v /= s);
    }
}

/// `<out_dir>/pred_segmentations/<patient_id>.nii.gz`.
#[must_use]
pub fn mask_path(out_dir: &Path, patient_id: &str) -> PathBuf {
    out_dir
        .join(PRED_SEGMENTATIONS_DIR)
        .join(format!("{patient_id}.nii.gz"))
}

/// `<out_dir>/probabilities/<patient_id>_class<k>.nii.gz`.
#[must_use]
pub fn probability_path(out_dir: &Path, patient_id: &str, class: usize) -> PathBuf {
    out_dir
        .join(PROBABILITIES_DIR)
        .join(format!("{patient_id}_class{class}.nii.gz"))
}

/// Writes a case's outputs atomically: the probability maps first (when present), the mask last, so that
/// an existing mask means a finished case. Returns the mask's path.
///
/// # Errors
/// [`Error::Data`] naming the file when writing fails.
pub fn write_case_prediction(
    out_dir: &Path,
    patient_id: &str,
    prediction: &CasePrediction,
) -> Result<PathBuf> {
    if let Some(p) = &prediction.probabilities {
        for (k, ch) in p.axis_iter(Axis(0)).enumerate() {
            write_volume(
                probability_path(out_dir, patient_id, k),
                ch,
                &prediction.geometry,
            )?;
        }
    }
    let path = mask_path(out_dir, patient_id);
    write_mask(&path, prediction.mask.view(), &prediction.geometry)?;
    Ok(path)
}
