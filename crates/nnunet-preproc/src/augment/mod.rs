//! nnU-Net's training augmentation pipeline, per sample, in nnU-Net's order; v2 default and v1 "moreDA" (the
//! variant the MedNeXt trainers use) selected by [`AugmentFlavour`].
//!
//! ```text
//! #  transform                    p      per-channel p   parameters
//! 1  spatial (rotation, scale)    0.2/0.2  —             3 angles U(−30°, 30°), one scale U(0.7, 1.4); else centre crop
//! 2  Gaussian noise               0.1      —             σ ~ U(0, 0.1), shared by channels
//! 3  Gaussian blur                0.2      0.5           σ ~ U(0.5, 1): v2 per axis, v1 one per channel
//! 4  multiplicative brightness    0.15     1             v2 BGContrast(0.75, 1.25), v1 U(0.75, 1.25)
//! 5  contrast (range preserved)   0.15     1             BGContrast(0.75, 1.25)
//! 6  simulate low resolution      0.25     0.5           zoom U(0.5, 1)
//! 7  gamma, inverted              0.1      1             γ ~ BGContrast(0.7, 1.5), stats retained
//! 8  gamma                        0.3      1             idem
//! 9  mirror                       1        —             each axis with p 0.5
//! 10 RemoveLabel(−1 → 0), then the deep-supervision targets (nearest) per scale
//! ```
//! Validation samples get only the centre crop, step 10 and the targets ([`validation_sample`]).
//!
//! Every random draw comes from the caller's RNG in a fixed order (sample-level draws first, then the
//! per-channel draws), so a sample is a pure function of the RNG state; per-channel work (blur, low resolution)
//! and the spatial resampling run in parallel with rayon.
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py`
//! (`get_training_transforms`, `get_validation_transforms`); MIC-DKFZ/MedNeXt
//! `nnunet_mednext/training/data_augmentation/data_augmentation_moreDA.py` (`get_moreDA_augmentation`) and
//! `default_data_augmentation.py` (`default_3D_augmentation_params`); `/work/shared/reference/nnunet.md` §5.

mod blur_noise;
mod gamma;
mod intensity;
mod lowres;
mod mirror;
mod spatial;
mod targets;

use ndarray::{Array3, Array4, Axis};
use rand::Rng;
use rayon::prelude::*;

pub use blur_noise::{gaussian_blur_mut, gaussian_noise_mut};
pub use gamma::{gamma_mut, GammaInversion};
pub use intensity::{bg_contrast_factor, brightness_mut, contrast_mut};
pub use lowres::simulate_low_resolution_mut;
pub use mirror::mirror;
pub use spatial::{affine_matrix, centre_crop, spatial_transform, SpatialParams};
pub use targets::{deep_supervision_scales, downsample_seg, remove_label_mut};

use crate::error::{Error, Result};

/// Which nnU-Net's augmentation (interpolation, parameter draws, epsilons) to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AugmentFlavour {
    /// nnU-Net v2 `get_training_transforms` (batchgeneratorsv2).
    V2Default,
    /// nnU-Net v1 `get_moreDA_augmentation` (batchgenerators), used by MedNeXt and the paper.
    #[default]
    V1MoreDA,
}

/// A `(low, high)` range of a uniform draw.
pub type Range = (f64, f64);

/// Probabilities and ranges of the pipeline (`Default` = the table in the module docs, v1 moreDA, patch 128³,
/// deep-supervision scales of a 6-stage MedNeXt/nnU-Net `[1, ½, ¼, ⅛, 1/16]`).
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentConfig {
    /// Flavour.
    pub flavour: AugmentFlavour,
    /// The final (network) patch.
    pub patch_size: [usize; 3],
    /// Probability of a rotation.
    pub p_rotation: f64,
    /// Maximum |angle| per axis (radians).
    pub max_rotation: [f64; 3],
    /// Probability of a scaling.
    pub p_scale: f64,
    /// Scale range.
    pub scale: Range,
    /// Noise probability and σ range.
    pub p_noise: f64,
    /// Noise σ range.
    pub noise_sigma: Range,
    /// Blur probability (per sample) and per channel.
    pub p_blur: f64,
    /// Per-channel blur probability.
    pub p_blur_channel: f64,
    /// Blur σ range.
    pub blur_sigma: Range,
    /// Brightness probability.
    pub p_brightness: f64,
    /// Brightness factor range.
    pub brightness: Range,
    /// Contrast probability.
    pub p_contrast: f64,
    /// Contrast factor range.
    pub contrast: Range,
    /// Low-resolution probability (per sample).
    pub p_lowres: f64,
    /// Per-channel low-resolution probability.
    pub p_lowres_channel: f64,
    /// Zoom range.
    pub lowres_zoom: Range,
    /// Inverted-gamma probability.
    pub p_gamma_inverted: f64,
    /// Gamma probability.
    pub p_gamma: f64,
    /// γ range.
    pub gamma: Range,
    /// Axes that may be mirrored (each with p 0.5).
    pub mirror_axes: [bool; 3],
    /// Deep-supervision target scales (empty = one full-resolution target).
    pub ds_scales: Vec<[f64; 3]>,
}

impl AugmentConfig {
    /// The table's values for `flavour` and `patch_size`, DS scales `[1, ½, ¼, ⅛, 1/16]`.
    #[must_use]
    pub fn new(flavour: AugmentFlavour, patch_size: [usize; 3]) -> Self {
        AugmentConfig {
            flavour,
            patch_size,
            p_rotation: 0.2,
            max_rotation: [30f64.to_radians(); 3],
            p_scale: 0.2,
            scale: (0.7, 1.4),
            p_noise: 0.1,
            noise_sigma: (0.0, 0.1),
            p_blur: 0.2,
            p_blur_channel: 0.5,
            blur_sigma: (0.5, 1.0),
            p_brightness: 0.15,
            brightness: (0.75, 1.25),
            p_contrast: 0.15,
            contrast: (0.75, 1.25),
            p_lowres: 0.25,
            p_lowres_channel: 0.5,
            lowres_zoom: (0.5, 1.0),
            p_gamma_inverted: 0.1,
            p_gamma: 0.3,
            gamma: (0.7, 1.5),
            mirror_axes: [true; 3],
            ds_scales: deep_supervision_scales(&[
                [1, 1, 1],
                [2, 2, 2],
                [2, 2, 2],
                [2, 2, 2],
                [2, 2, 2],
                [2, 2, 2],
            ]),
        }
    }

    fn check(&self) -> Result<()> {
        let probs = [
            self.p_rotation,
            self.p_scale,
            self.p_noise,
            self.p_blur,
            self.p_blur_channel,
            self.p_brightness,
            self.p_contrast,
            self.p_lowres,
            self.p_lowres_channel,
            self.p_gamma_inverted,
            self.p_gamma,
        ];
        if probs.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return Err(Error::InvalidParameter {
                key: "augment probabilities",
                reason: format!("{probs:?} must lie in [0, 1]"),
            });
        }
        let ranges = [
            self.scale,
            self.noise_sigma,
            self.blur_sigma,
            self.brightness,
            self.contrast,
            self.lowres_zoom,
            self.gamma,
        ];
        if ranges
            .iter()
            .any(|r| r.0 > r.1 || !r.0.is_finite() || !r.1.is_finite())
        {
            return Err(Error::InvalidParameter {
                key: "augment ranges",
                reason: format!("{ranges:?}: need finite low ≤ high"),
            });
        }
        if self.patch_size.contains(&0) {
            return Err(Error::InvalidParameter {
                key: "patch_size",
                reason: format!("{:?}", self.patch_size),
            });
        }
        Ok(())
    }
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self::new(AugmentFlavour::V1MoreDA, [128; 3])
    }
}

/// An augmented training sample: data `(C, patch)` and one label map per deep-supervision scale (−1 removed).
#[derive(Debug, Clone, PartialEq)]
pub struct AugmentedSample {
    /// `(C, pz, py, px)`.
    pub data: Array4<f32>,
    /// Targets, highest resolution first.
    pub targets: Vec<Array3<i16>>,
}

fn uniform<R: Rng + ?Sized>(r: Range, rng: &mut R) -> f64 {
    if r.0 >= r.1 {
        r.0
    } else {
        rng.gen_range(r.0..r.1)
    }
}

/// Runs the training pipeline on a loaded (loader-patch) sample.
///
/// # Errors
/// [`Error::InvalidParameter`] for a bad configuration; [`Error::ShapeMismatch`] if data and seg disagree.
pub fn augment_sample<R: Rng + ?Sized>(
    data: &Array4<f32>,
    seg: &Array3<i16>,
    config: &AugmentConfig,
    rng: &mut R,
) -> Result<AugmentedSample> {
    config.check()?;
    check_shapes(data, seg)?;
    let fl = config.flavour;
    let c = data.shape()[0];
    // 1. spatial
    let do_rot = rng.gen::<f64>() < config.p_rotation;
    let do_scale = rng.gen::<f64>() < config.p_scale;
    let params = (do_rot || do_scale).then(|| SpatialParams {
        rotation: if do_rot {
            config.max_rotation.map(|m| uniform((-m, m), rng))
        } else {
            [0.0; 3]
        },
        scale: if do_scale {
            uniform(config.scale, rng)
        } else {
            1.0
        },
    });
    let (mut x, mut s) = spatial_transform(
        data.view(),
        seg.view(),
        config.patch_size,
        params.as_ref(),
        fl,
    );
    // 2. noise
    if rng.gen::<f64>() < config.p_noise {
        let sigma = uniform(config.noise_sigma, rng);
        for ch in x.outer_iter_mut() {
            gaussian_noise_mut(ch, sigma, rng);
        }
    }
    // 3. blur
    if rng.gen::<f64>() < config.p_blur {
        let sigmas: Vec<Option<[f64; 3]>> = (0..c)
            .map(|_| {
                (rng.gen::<f64>() < config.p_blur_channel).then(|| match fl {
                    AugmentFlavour::V2Default => [0; 3].map(|_| uniform(config.blur_sigma, rng)),
                    AugmentFlavour::V1MoreDA => [uniform(config.blur_sigma, rng); 3],
                })
            })
            .collect();
        x.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(sigmas)
            .for_each(|(ch, sg)| {
                if let Some(sg) = sg {
                    gaussian_blur_mut(ch, sg);
                }
            });
    }
    // 4. brightness
    if rng.gen::<f64>() < config.p_brightness {
        for ch in x.outer_iter_mut() {
            let f = match fl {
                AugmentFlavour::V2Default => bg_contrast_factor(config.brightness, rng),
                AugmentFlavour::V1MoreDA => uniform(config.brightness, rng),
            };
            brightness_mut(ch, f);
        }
    }
    // 5. contrast
    if rng.gen::<f64>() < config.p_contrast {
        for ch in x.outer_iter_mut() {
            let f = bg_contrast_factor(config.contrast, rng);
            contrast_mut(ch, f);
        }
    }
    // 6. low resolution
    if rng.gen::<f64>() < config.p_lowres {
        let zooms: Vec<Option<f64>> = (0..c)
            .map(|_| {
                (rng.gen::<f64>() < config.p_lowres_channel)
                    .then(|| uniform(config.lowres_zoom, rng))
            })
            .collect();
        x.axis_iter_mut(Axis(0))
            .into_par_iter()
            .zip(zooms)
            .for_each(|(ch, z)| {
                if let Some(z) = z {
                    simulate_low_resolution_mut(ch, z, fl);
                }
            });
    }
    // 7, 8. gamma (inverted, then plain)
    for (p, inv) in [
        (config.p_gamma_inverted, GammaInversion::Inverted),
        (config.p_gamma, GammaInversion::Plain),
    ] {
        if rng.gen::<f64>() < p {
            for ch in x.outer_iter_mut() {
                let g = bg_contrast_factor(config.gamma, rng);
                gamma_mut(ch, g, inv, fl);
            }
        }
    }
    // 9. mirror
    let axes = config
        .mirror_axes
        .map(|allowed| allowed && rng.gen::<f64>() < 0.5);
    mirror(&mut x, &mut s, axes);
    // 10. targets
    remove_label_mut(&mut s, -1, 0);
    Ok(AugmentedSample {
        data: x,
        targets: make_targets(s, &config.ds_scales),
    })
}

/// The validation pipeline: centre crop to the patch, RemoveLabel(−1 → 0), deep-supervision targets.
///
/// # Errors
/// As [`augment_sample`].
pub fn validation_sample(
    data: &Array4<f32>,
    seg: &Array3<i16>,
    config: &AugmentConfig,
) -> Result<AugmentedSample> {
    config.check()?;
    check_shapes(data, seg)?;
    let (x, mut s) = centre_crop(data.view(), seg.view(), config.patch_size, config.flavour);
    remove_label_mut(&mut s, -1, 0);
    Ok(AugmentedSample {
        data: x,
        targets: make_targets(s, &config.ds_scales),
    })
}

fn make_targets(s: Array3<i16>, scales: &[[f64; 3]]) -> Vec<Array3<i16>> {
    if scales.is_empty() {
        return vec![s];
    }
    scales
        .iter()
        .map(|&sc| downsample_seg(s.view(), sc))
        .collect()
}

fn check_shapes(data: &Array4<f32>, seg: &Array3<i16>) -> Result<()> {
    if data.shape()[1..] != *seg.shape() || data.shape()[0] == 0 {
        return Err(Error::ShapeMismatch {
            context: "augmentation: data (C, z, y, x) vs seg (z, y, x)".into(),
            found: seg.shape().to_vec(),
            expected: data.shape()[1..].to_vec(),
        });
    }
    Ok(())
}
