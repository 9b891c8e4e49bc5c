//! Preprocessing plans: target spacing, patch size, per-channel normalisation and axis transposition,
//! derived from a [`DatasetFingerprint`] with checked [`PlansParams`] and stored as JSON.
//!
//! ```text
//! kind[c]      = scheme_for_channel_name_in(channel_names[c], flavour)     (CT takes fingerprint stats)
//! use_mask[c]  = median_relative_size_after_cropping < 0.75 ∧ kind[c] = ZScore     (v2)
//!              = median_relative_size_after_cropping < 0.75 ∧ "CT" ∉ name[c]      (v1)
//! target       = Fixed(s) | median + anisotropy rule          (crate::target_spacing)
//! transpose_forward = [argmax target] + rest ascending;  spacing = target[transpose_forward]
//! ```
//!
//! The plan is a small typed subset of nnU-Net's `nnUNetPlans.json` configuration `3d_fullres`
//! (`spacing`, `patch_size`, `normalization_schemes`, `use_mask_for_norm`, `transpose_forward/backward`)
//! plus the fingerprint; **`spacing` and `patch_size` are in the transposed axis order**, as in nnU-Net
//! (identical to the array order whenever `transpose_forward` is the identity, e.g. for 1 mm isotropic).
//! The network topology and batch size are not planned here.
//!
//! References: MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/experiment_planning/experiment_planners/
//! default_experiment_planner.py` (`plan_experiment`, `get_plans_for_configuration`); nnU-Net v1
//! `nnunet/experiment_planning/experiment_planner_baseline_3DUNet_v21.py`; the MedNeXt 1 mm planner
//! (fixed 1×1×1 mm spacing, patch 128³).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::atomic::write_bytes_atomically;
use crate::error::{Error, Result};
use crate::fingerprint::DatasetFingerprint;
use crate::geometry::Spacing;
use crate::normalize::{
    scheme_for_channel_name_in, use_mask_for_norm, use_mask_for_norm_v1, NormalizationScheme,
    SchemeKind,
};
use crate::target_spacing::{
    is_permutation, target_spacing_with, transpose_backward, transpose_forward,
    ANISOTROPY_THRESHOLD,
};

/// Which nnU-Net the numbers must reproduce. Serialised as `"v1"` / `"v2"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// nnU-Net v1 (the copy inside MedNeXt): crop → resample → normalise, z-score `σ + 1e-8`.
    V1,
    /// nnU-Net v2.8.1: crop → normalise → resample, z-score `max(σ, 1e-8)`.
    #[default]
    V2,
}

/// How the target spacing is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub enum TargetSpacing {
    /// nnU-Net's rule: per-axis median with the anisotropy override.
    #[default]
    Median,
    /// A fixed spacing in array order `[sz, sy, sx]` (`-overwrite_target_spacing`; the paper: 1×1×1 mm).
    Fixed(Spacing),
}

/// Checked parameters of [`Plans::from_fingerprint`] (consuming builder).
///
/// Defaults (`PlansParams::new()` = `Default`): flavour [`Flavour::V2`], [`TargetSpacing::Median`],
/// patch size `[128, 128, 128]`, anisotropy threshold 3.
#[derive(Debug, Clone, PartialEq)]
pub struct PlansParams {
    flavour: Flavour,
    target_spacing: TargetSpacing,
    patch_size: [usize; 3],
    anisotropy_threshold: f64,
}

impl Default for PlansParams {
    fn default() -> Self {
        Self {
            flavour: Flavour::V2,
            target_spacing: TargetSpacing::Median,
            patch_size: [128, 128, 128],
            anisotropy_threshold: ANISOTROPY_THRESHOLD,
        }
    }
}

impl PlansParams {
    /// The defaults (see the type docs).
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the nnU-Net flavour.
    #[must_use]
    pub fn flavour(mut self, flavour: Flavour) -> Self {
        self.flavour = flavour;
        self
    }

    /// Sets how the target spacing is chosen.
    #[must_use]
    pub fn target_spacing(mut self, target: TargetSpacing) -> Self {
        self.target_spacing = target;
        self
    }

    /// Sets the patch size (transposed axis order).
    #[must_use]
    pub fn patch_size(mut self, patch_size: [usize; 3]) -> Self {
        self.patch_size = patch_size;
        self
    }

    /// Sets the anisotropy threshold of the target-spacing rule.
    #[must_use]
    pub fn anisotropy_threshold(mut self, threshold: f64) -> Self {
        self.anisotropy_threshold = threshold;
        self
    }

    /// Checks every rule.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming the key: `target_spacing` (a fixed spacing must be finite and
    /// > 0 on every axis), `patch_size` (every axis ≥ 1), `anisotropy_threshold` (finite and > 1).
    pub fn check(&self) -> Result<()> {
        if let TargetSpacing::Fixed(s) = self.target_spacing {
            check_positive_spacing(s, "target_spacing")?;
        }
        check_patch(self.patch_size)?;
        check_threshold(self.anisotropy_threshold)
    }
}

fn check_positive_spacing(s: Spacing, key: &'static str) -> Result<()> {
    if s.iter().all(|v| v.is_finite() && *v > 0.0) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            key,
            reason: format!("every axis must be finite and > 0 mm, got {s:?}"),
        })
    }
}

fn check_patch(p: [usize; 3]) -> Result<()> {
    if p.iter().all(|&v| v >= 1) {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            key: "patch_size",
            reason: format!("every axis must be ≥ 1 voxel, got {p:?}"),
        })
    }
}

fn check_threshold(t: f64) -> Result<()> {
    if t.is_finite() && t > 1.0 {
        Ok(())
    } else {
        Err(Error::InvalidParameter {
            key: "anisotropy_threshold",
            reason: format!("must be finite and > 1, got {t}"),
        })
    }
}

/// A preprocessing plan (JSON via serde; see the module docs for the axis order of `spacing` and
/// `patch_size`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plans {
    /// Which nnU-Net the preprocessing reproduces.
    pub flavour: Flavour,
    /// Target spacing in mm, **transposed** order (`target[transpose_forward]`).
    pub spacing: Spacing,
    /// Patch size in voxels, transposed order.
    pub patch_size: [usize; 3],
    /// Channel names (`dataset.json` `channel_names`, in channel order).
    pub channel_names: Vec<String>,
    /// Normalisation per channel.
    pub normalization: Vec<NormalizationScheme>,
    /// Whether z-score uses the nonzero mask (`seg ≥ 0`), per channel.
    pub use_mask_for_norm: Vec<bool>,
    /// Array axes in the order the network sees them.
    pub transpose_forward: [usize; 3],
    /// The inverse of `transpose_forward`.
    pub transpose_backward: [usize; 3],
    /// Anisotropy threshold used for the target spacing.
    pub anisotropy_threshold: f64,
    /// The fingerprint the plan was derived from, if kept.
    #[serde(default)]
    pub fingerprint: Option<DatasetFingerprint>,
}

impl Plans {
    /// Plans a dataset from its fingerprint (module docs).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`]: from [`PlansParams::check`]; key `channel_names` when there is no
    /// channel, the fingerprint has statistics for a different number of channels, or a name is a near
    /// miss of a normalisation key; key `foreground_intensity_properties_per_channel` for a CT channel
    /// without finite statistics; errors of [`target_spacing_with`] for [`TargetSpacing::Median`].
    pub fn from_fingerprint<S: AsRef<str>>(
        fp: &DatasetFingerprint,
        channel_names: &[S],
        params: &PlansParams,
    ) -> Result<Plans> {
        params.check()?;
        let n = channel_names.len();
        let n_props = fp.foreground_intensity_properties_per_channel.len();
        if n == 0 || n != n_props {
            return Err(Error::InvalidParameter {
                key: "channel_names",
                reason: format!(
                    "{n} channel names for a fingerprint with {n_props} channels (need ≥ 1, equal)"
                ),
            });
        }
        let mut normalization = Vec::with_capacity(n);
        for (c, name) in channel_names.iter().enumerate() {
            let scheme = match scheme_for_channel_name_in(name.as_ref(), params.flavour)? {
                SchemeKind::ZScore => NormalizationScheme::ZScore,
                SchemeKind::NoNormalization => NormalizationScheme::NoNormalization,
                SchemeKind::RescaleTo01 => NormalizationScheme::RescaleTo01,
                SchemeKind::RgbTo01 => NormalizationScheme::RgbTo01,
                SchemeKind::Ct => {
                    let props = fp.foreground_intensity_properties_per_channel[c];
                    if !props.is_finite() {
                        return Err(Error::InvalidParameter {
                            key: "foreground_intensity_properties_per_channel",
                            reason: format!(
                                "CT channel {c} ({:?}) has no finite foreground statistics",
                                name.as_ref()
                            ),
                        });
                    }
                    NormalizationScheme::Ct(props)
                }
            };
            normalization.push(scheme);
        }
        let median_rel = fp.median_relative_size_after_cropping;
        let use_mask = normalization
            .iter()
            .zip(channel_names)
            .map(|(s, name)| match params.flavour {
                Flavour::V2 => use_mask_for_norm(median_rel, s),
                Flavour::V1 => use_mask_for_norm_v1(median_rel, name.as_ref()),
            })
            .collect();
        let target = match params.target_spacing {
            TargetSpacing::Fixed(s) => s,
            TargetSpacing::Median => target_spacing_with(fp, params.anisotropy_threshold)?,
        };
        let forward = transpose_forward(target);
        let plans = Plans {
            flavour: params.flavour,
            spacing: forward.map(|a| target[a]),
            patch_size: params.patch_size,
            channel_names: channel_names
                .iter()
                .map(|s| s.as_ref().to_owned())
                .collect(),
            normalization,
            use_mask_for_norm: use_mask,
            transpose_forward: forward,
            transpose_backward: transpose_backward(forward),
            anisotropy_threshold: params.anisotropy_threshold,
            fingerprint: Some(fp.clone()),
        };
        plans.check()?;
        Ok(plans)
    }

    /// The target spacing in the original (untransposed) array order `[sz, sy, sx]`.
    #[must_use]
    pub fn spacing_untransposed(&self) -> Spacing {
        let mut out = [0.0; 3];
        for (i, &a) in self.transpose_forward.iter().enumerate() {
            if a < 3 {
                out[a] = self.spacing[i];
            }
        }
        out
    }

    /// Checks the plan's consistency.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming the key: `channel_names` (none), `normalization` /
    /// `use_mask_for_norm` (length differs from `channel_names`; v1 with a rescale/RGB scheme; CT with
    /// non-finite statistics), `spacing`, `patch_size`, `anisotropy_threshold`, `transpose_forward` (not a
    /// permutation of 0, 1, 2), `transpose_backward` (not its inverse).
    pub fn check(&self) -> Result<()> {
        let n = self.channel_names.len();
        if n == 0 {
            return Err(Error::InvalidParameter {
                key: "channel_names",
                reason: "a plan needs at least one channel".into(),
            });
        }
        for (key, len) in [
            ("normalization", self.normalization.len()),
            ("use_mask_for_norm", self.use_mask_for_norm.len()),
        ] {
            if len != n {
                return Err(Error::InvalidParameter {
                    key,
                    reason: format!("{len} entries for {n} channels"),
                });
            }
        }
        for (c, scheme) in self.normalization.iter().enumerate() {
            let v1_missing = self.flavour == Flavour::V1
                && matches!(
                    scheme,
                    NormalizationScheme::RescaleTo01 | NormalizationScheme::RgbTo01
                );
            let bad_ct = matches!(scheme, NormalizationScheme::Ct(p) if !p.is_finite());
            if v1_missing || bad_ct {
                return Err(Error::InvalidParameter {
                    key: "normalization",
                    reason: format!(
                        "channel {c}: {scheme:?} is not usable ({})",
                        if v1_missing {
                            "absent from nnU-Net v1"
                        } else {
                            "non-finite CT statistics"
                        }
                    ),
                });
            }
        }
        check_positive_spacing(self.spacing, "spacing")?;
        check_patch(self.patch_size)?;
        check_threshold(self.anisotropy_threshold)?;
        if !is_permutation(self.transpose_forward) {
            return Err(Error::InvalidParameter {
                key: "transpose_forward",
                reason: format!(
                    "{:?} is not a permutation of [0, 1, 2]",
                    self.transpose_forward
                ),
            });
        }
        if transpose_backward(self.transpose_forward) != self.transpose_backward {
            return Err(Error::InvalidParameter {
                key: "transpose_backward",
                reason: format!(
                    "{:?} is not the inverse of transpose_forward {:?}",
                    self.transpose_backward, self.transpose_forward
                ),
            });
        }
        Ok(())
    }

    /// Reads and checks a plan written by [`Plans::save`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the file cannot be read, [`Error::Json`] when it is not a valid plan, errors of
    /// [`Plans::check`].
    pub fn load(path: impl AsRef<Path>) -> Result<Plans> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let plans: Plans = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        plans.check()?;
        Ok(plans)
    }

    /// Writes the plan as pretty JSON, atomically (temporary file + rename).
    ///
    /// # Errors
    ///
    /// [`Error::Json`] if serialisation fails, [`Error::Io`] when the file cannot be written.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        write_bytes_atomically(path, &bytes)
    }
}
