//! Intensity normalisation schemes (z-score, CT, none, rescale, RGB) for nnU-Net v2 and v1.
//!
//! | scheme | v2 (`default_normalization_schemes.py`) | v1 (`GenericPreprocessor.resample_and_normalize`) |
//! | --- | --- | --- |
//! | z-score | `(x − μ) / max(σ, 1e-8)`; masked: only `seg ≥ 0` changes | `(x − μ) / (σ + 1e-8)`; masked: outside set to 0 |
//! | CT | `(clip(x, p00.5, p99.5) − μ_fg) / max(σ_fg, 1e-8)` | `(clip(…) − μ_fg) / σ_fg`; masked: outside 0 |
//! | none | unchanged | unchanged |
//! | rescale to [0, 1] | `x' = x − min; x' / max(max x', 1e-8)` | — (not in v1) |
//! | RGB to [0, 1] | `x / 255`, values must lie in [0, 255] | — (not in v1) |
//!
//! μ and σ of z-score are `image.mean()` / `image.std()` (ddof 0) in **`float32`** with NumPy's pairwise
//! summation ([`crate::np_stats`]), over the whole channel or over `seg ≥ 0`; every elementwise step is
//! `f32`. This is bit-identical to NumPy for contiguous arrays and for the masked case. (For the unmasked
//! mean of a *non-contiguous* cropped view NumPy's buffered iterator sums in another order; the mean then
//! differs by a few ulp, see `tests/crop_normalize.rs`.) v2 normalises the cropped image before
//! resampling; v1 normalises after resampling, with the mask from the resampled segmentation.
//!
//! References: MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/preprocessing/normalization/{default_normalization_schemes.py,
//! map_channel_name_to_normalization.py}`, `nnunetv2/experiment_planning/experiment_planners/
//! default_experiment_planner.py` (`determine_normalization_scheme_and_whether_mask_is_used_for_norm`);
//! nnU-Net v1 `nnunet/preprocessing/preprocessing.py` (`GenericPreprocessor.resample_and_normalize`),
//! `nnunet/experiment_planning/experiment_planner_baseline_3DUNet.py` (`determine_normalization_scheme`,
//! `determine_whether_to_use_mask_for_norm`).

use ndarray::{ArrayView3, ArrayViewMut3, Zip};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fingerprint::ForegroundIntensityProperties;
use crate::np_stats::mean_std_f32;
use crate::plans::Flavour;

/// The normalisation of one channel, with the dataset statistics CT needs. Serialised with nnU-Net's
/// class names (`"ZScoreNormalization"`, `{"CTNormalization": {…}}`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum NormalizationScheme {
    /// Per image and channel z-score (the default for MRI).
    #[serde(rename = "ZScoreNormalization")]
    ZScore,
    /// Clip to the dataset foreground [p00.5, p99.5], subtract the foreground mean, divide by its std.
    #[serde(rename = "CTNormalization")]
    Ct(ForegroundIntensityProperties),
    /// Leave the values unchanged.
    #[serde(rename = "NoNormalization")]
    NoNormalization,
    /// `(x − min) / max(max − min, 1e-8)` per image (v2 only).
    #[serde(rename = "RescaleTo01Normalization")]
    RescaleTo01,
    /// `x / 255` (v2 only).
    #[serde(rename = "RGBTo01Normalization")]
    RgbTo01,
}

/// The kind of a [`NormalizationScheme`], as chosen from a channel name (CT still needs statistics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SchemeKind {
    /// [`NormalizationScheme::ZScore`].
    ZScore,
    /// [`NormalizationScheme::Ct`].
    Ct,
    /// [`NormalizationScheme::NoNormalization`].
    NoNormalization,
    /// [`NormalizationScheme::RescaleTo01`].
    RescaleTo01,
    /// [`NormalizationScheme::RgbTo01`].
    RgbTo01,
}

impl NormalizationScheme {
    /// The scheme's kind.
    #[must_use]
    pub fn kind(&self) -> SchemeKind {
        match self {
            Self::ZScore => SchemeKind::ZScore,
            Self::Ct(_) => SchemeKind::Ct,
            Self::NoNormalization => SchemeKind::NoNormalization,
            Self::RescaleTo01 => SchemeKind::RescaleTo01,
            Self::RgbTo01 => SchemeKind::RgbTo01,
        }
    }

    /// Whether the scheme leaves voxels outside the mask at zero when the mask is used (nnU-Net's
    /// `leaves_pixels_outside_mask_at_zero_if_use_mask_for_norm_is_true`): z-score only.
    #[must_use]
    pub fn keeps_outside_at_zero(&self) -> bool {
        matches!(self, Self::ZScore)
    }
}

/// nnU-Net's rule for using the nonzero mask in normalisation: only when cropping removed more than a
/// quarter of the median image, and only for z-score.
///
/// ```text
/// use_mask = median_relative_size_after_cropping < 0.75  ∧  scheme = ZScore
/// ```
///
/// This is v2's rule; v1 decides from the channel name, see [`use_mask_for_norm_v1`] (the two differ only
/// for a v1 channel named `"ct"`, and for `noNorm` channels where the flag has no effect).
#[must_use]
pub fn use_mask_for_norm(
    median_relative_size_after_cropping: f64,
    scheme: &NormalizationScheme,
) -> bool {
    median_relative_size_after_cropping < 0.75 && scheme.keeps_outside_at_zero()
}

/// nnU-Net v1's rule (`determine_whether_to_use_mask_for_norm`), which looks at the channel **name**:
///
/// ```text
/// use_mask = median_relative_size_after_cropping < 0.75  ∧  "CT" is not a substring of the name
/// ```
///
/// (case-sensitive: a channel named `"ct"` gets CT normalisation *and* the mask in v1, which then zeroes
/// the outside; a `"noNorm"` channel gets `true`, without effect).
#[must_use]
pub fn use_mask_for_norm_v1(median_relative_size_after_cropping: f64, channel_name: &str) -> bool {
    median_relative_size_after_cropping < 0.75 && !channel_name.contains("CT")
}

/// Canonical keys (lower case, without `_`, `-`, `.` and spaces) and the scheme they name.
const KEYS: [(&str, SchemeKind); 5] = [
    ("ct", SchemeKind::Ct),
    ("nonorm", SchemeKind::NoNormalization),
    ("zscore", SchemeKind::ZScore),
    ("rescaleto01", SchemeKind::RescaleTo01),
    ("rgbto01", SchemeKind::RgbTo01),
];

fn canonical(name: &str) -> String {
    name.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' ' | '\t'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, v) in d[0].iter_mut().enumerate() {
        *v = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// A key the name is a near miss of (separators/case variant, or a small typo), if any.
fn near_miss(name: &str) -> Option<&'static str> {
    let c = canonical(name);
    KEYS.iter().find_map(|&(key, _)| {
        // "ct" is matched only by its canonical form: PT, T1, … are legitimate names one edit away
        let tolerance = match key.len() {
            0..=2 => 0,
            3..=7 => 1,
            _ => 2,
        };
        (edit_distance(&c, key) <= tolerance).then_some(key)
    })
}

fn typo_error(name: &str, key: &str, rule: &str) -> Error {
    Error::InvalidParameter {
        key: "channel_names",
        reason: format!(
            "channel name {name:?} looks like a misspelling of the normalisation key {key:?} but does \
             not match {rule}; nnU-Net would silently use z-score. Rename the channel (e.g. \"zscore\" \
             or an MRI name such as \"pre\") or spell the key exactly"
        ),
    }
}

/// nnU-Net v2's scheme for a channel name: case-insensitive `"CT"`, `"noNorm"`, `"zscore"`,
/// `"rescale_to_0_1"`, `"rgb_to_0_1"`; any other name is z-score.
///
/// Unlike nnU-Net, a name that **looks like a typo** of one of those keys is rejected instead of silently
/// normalised with z-score: after lower-casing and dropping `_ - .` and blanks it equals a key, or lies
/// within 1 edit (keys of 3–7 letters) or 2 edits (longer keys) of it — e.g. `"no_norm"`, `"CT "`, `"c_t"`,
/// `"rescale_to_01"`, `"nonrom"`. `"ct"` tolerates no edit, so `"PT"` or `"T1"` stay z-score. Near misses
/// of `"zscore"` (`"z-score"`, `"zscroe"`) get z-score, which is what they ask for.
///
/// # Errors
///
/// [`Error::InvalidParameter`] (key `channel_names`) for a near miss.
pub fn scheme_for_channel_name(name: &str) -> Result<SchemeKind> {
    scheme_for_channel_name_in(name, Flavour::V2)
}

/// The scheme for a channel name under nnU-Net `flavour`. v2: see [`scheme_for_channel_name`]. v1
/// (`determine_normalization_scheme`, case-sensitive): exactly `"CT"` or `"ct"` → CT, exactly `"noNorm"`
/// → none, anything else z-score; near misses of those (e.g. `"Ct"`, `"nonorm"`) and of v2-only keys
/// such as `"rescale_to_0_1"` (which v1 would silently z-score) are rejected.
///
/// # Errors
///
/// [`Error::InvalidParameter`] (key `channel_names`) for a near miss.
pub fn scheme_for_channel_name_in(name: &str, flavour: Flavour) -> Result<SchemeKind> {
    match flavour {
        Flavour::V2 => {
            let folded = name.to_lowercase();
            let exact = KEYS.iter().find(|(key, _)| {
                let spelled = match *key {
                    "rescaleto01" => "rescale_to_0_1",
                    "rgbto01" => "rgb_to_0_1",
                    k => k,
                };
                folded == spelled
            });
            match (exact, near_miss(name)) {
                (Some(&(_, kind)), _) => Ok(kind),
                // a misspelt "zscore" gets z-score, which is what it asks for
                (None, Some("zscore")) | (None, None) => Ok(SchemeKind::ZScore),
                (None, Some(key)) => {
                    Err(typo_error(name, key, "nnU-Net v2's case-insensitive keys"))
                }
            }
        }
        Flavour::V1 => match name {
            "CT" | "ct" => Ok(SchemeKind::Ct),
            "noNorm" => Ok(SchemeKind::NoNormalization),
            _ => match near_miss(name) {
                Some("zscore") | None => Ok(SchemeKind::ZScore),
                Some(key) => Err(typo_error(
                    name,
                    key,
                    "nnU-Net v1's exact keys \"CT\", \"ct\", \"noNorm\"",
                )),
            },
        },
    }
}

fn check_shape(channel: &ArrayViewMut3<f32>, seg: &ArrayView3<i16>) -> Result<()> {
    if channel.shape() == seg.shape() {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            context: "normalize_channel_mut: channel vs segmentation (z, y, x)".into(),
            found: channel.shape().to_vec(),
            expected: seg.shape().to_vec(),
        })
    }
}

/// The values of a 3-D view in C order as a slice (borrowed when contiguous).
fn values_of<'a>(view: &'a ArrayViewMut3<'_, f32>) -> std::borrow::Cow<'a, [f32]> {
    match view.as_slice() {
        Some(s) => std::borrow::Cow::Borrowed(s),
        None => std::borrow::Cow::Owned(view.iter().copied().collect()),
    }
}

fn zscore(mut channel: ArrayViewMut3<f32>, seg: ArrayView3<i16>, use_mask: bool, flavour: Flavour) {
    let divisor = |std: f32| match flavour {
        // max(std, eps) with eps a (weak) Python float: compared and used as f32
        Flavour::V2 => {
            if 1e-8f32 > std {
                1e-8f32
            } else {
                std
            }
        }
        Flavour::V1 => std + 1e-8f32,
    };
    if use_mask {
        let mut masked = Vec::new();
        Zip::from(&channel).and(&seg).for_each(|&v, &l| {
            if l >= 0 {
                masked.push(v);
            }
        });
        if masked.is_empty() {
            // NumPy: the mean of nothing is nan, but nothing is assigned; v1 still zeroes the outside
            if flavour == Flavour::V1 {
                channel.fill(0.0);
            }
            return;
        }
        let (mean, std) = mean_std_f32(&masked);
        let d = divisor(std);
        Zip::from(&mut channel).and(&seg).for_each(|v, &l| {
            if l >= 0 {
                *v = (*v - mean) / d;
            } else if flavour == Flavour::V1 {
                *v = 0.0;
            }
        });
    } else {
        let (mean, std) = {
            let values = values_of(&channel);
            mean_std_f32(&values)
        };
        let d = divisor(std);
        channel.mapv_inplace(|v| (v - mean) / d);
    }
}

fn ct(
    mut channel: ArrayViewMut3<f32>,
    seg: ArrayView3<i16>,
    props: &ForegroundIntensityProperties,
    use_mask: bool,
    flavour: Flavour,
) -> Result<()> {
    if !props.is_finite() {
        return Err(Error::InvalidParameter {
            key: "foreground_intensity_properties_per_channel",
            reason: format!("CT normalisation needs finite foreground statistics, got {props:?}"),
        });
    }
    // NumPy casts the (weak) Python-float statistics to float32
    let (lo, hi) = (props.percentile_00_5 as f32, props.percentile_99_5 as f32);
    let mean = props.mean as f32;
    let std = props.std as f32;
    let d = match flavour {
        Flavour::V2 => {
            if 1e-8f32 > std {
                1e-8f32
            } else {
                std
            }
        }
        Flavour::V1 => std,
    };
    channel.mapv_inplace(|v| (v.max(lo).min(hi) - mean) / d);
    if use_mask && flavour == Flavour::V1 {
        Zip::from(&mut channel).and(&seg).for_each(|v, &l| {
            if l < 0 {
                *v = 0.0;
            }
        });
    }
    Ok(())
}

/// Normalises one channel in place with `scheme`, as nnU-Net `flavour` does (table in the module docs).
/// `seg` is the case's segmentation with −1 outside the nonzero region (the mask is `seg ≥ 0`); it must
/// have the channel's shape even when the mask is not used. `use_mask` only affects z-score (and v1 CT,
/// which zeroes the outside).
///
/// ```text
/// z-score v2: x ← (x − μ) / max(σ, 1e-8)        on seg ≥ 0 if use_mask, else everywhere
/// z-score v1: x ← (x − μ) / (σ + 1e-8);  use_mask: x ← 0 where seg < 0
/// ```
///
/// An empty mask leaves the channel unchanged in v2 and zeroes it in v1 (as NumPy does).
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when `seg` does not match the channel; [`Error::InvalidParameter`] for CT with
/// non-finite statistics, for RGB values outside [0, 255], and for rescale/RGB under v1 (v1 has no such
/// schemes).
pub fn normalize_channel_mut(
    mut channel: ArrayViewMut3<f32>,
    seg: ArrayView3<i16>,
    scheme: &NormalizationScheme,
    use_mask: bool,
    flavour: Flavour,
) -> Result<()> {
    check_shape(&channel, &seg)?;
    if flavour == Flavour::V1
        && matches!(
            scheme,
            NormalizationScheme::RescaleTo01 | NormalizationScheme::RgbTo01
        )
    {
        return Err(Error::InvalidParameter {
            key: "normalization",
            reason: format!("{:?} does not exist in nnU-Net v1", scheme.kind()),
        });
    }
    match scheme {
        NormalizationScheme::ZScore => zscore(channel, seg, use_mask, flavour),
        NormalizationScheme::Ct(props) => ct(channel, seg, props, use_mask, flavour)?,
        NormalizationScheme::NoNormalization => {}
        NormalizationScheme::RescaleTo01 => {
            let min = channel.iter().copied().fold(f32::INFINITY, f32::min);
            channel.mapv_inplace(|v| v - min);
            let max = channel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let d = if max < 1e-8f32 { 1e-8f32 } else { max };
            channel.mapv_inplace(|v| v / d);
        }
        NormalizationScheme::RgbTo01 => {
            let min = channel.iter().copied().fold(f32::INFINITY, f32::min);
            let max = channel.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if min < 0.0 || max > 255.0 {
                return Err(Error::InvalidParameter {
                    key: "normalization",
                    reason: format!(
                        "RGBTo01Normalization needs values in [0, 255], found [{min}, {max}]"
                    ),
                });
            }
            channel.mapv_inplace(|v| v / 255.0);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_names() {
        let v2 = |n| scheme_for_channel_name(n);
        assert_eq!(v2("CT").unwrap(), SchemeKind::Ct);
        assert_eq!(v2("ct").unwrap(), SchemeKind::Ct);
        assert_eq!(v2("NONORM").unwrap(), SchemeKind::NoNormalization);
        assert_eq!(v2("Rescale_To_0_1").unwrap(), SchemeKind::RescaleTo01);
        assert_eq!(v2("rgb_to_0_1").unwrap(), SchemeKind::RgbTo01);
        for name in [
            "pre", "post1", "post2", "T1", "T2", "PT", "FLAIR", "ADC", "DWI", "T1w", "sub",
        ] {
            assert_eq!(v2(name).unwrap(), SchemeKind::ZScore, "{name}");
        }
        assert_eq!(v2("z-score").unwrap(), SchemeKind::ZScore);
        assert_eq!(v2("zscroe").unwrap(), SchemeKind::ZScore);
        for typo in [
            "no_norm",
            "CT ",
            "rescale_to_01",
            "rgb-to-0-1",
            "nonrom",
            "c_t",
            "rescale to 0 1",
        ] {
            assert!(
                matches!(
                    v2(typo),
                    Err(Error::InvalidParameter {
                        key: "channel_names",
                        ..
                    })
                ),
                "{typo}"
            );
        }
        let v1 = |n| scheme_for_channel_name_in(n, Flavour::V1);
        assert_eq!(v1("CT").unwrap(), SchemeKind::Ct);
        assert_eq!(v1("noNorm").unwrap(), SchemeKind::NoNormalization);
        assert!(v1("Ct").is_err() && v1("nonorm").is_err() && v1("rescale_to_0_1").is_err());
        assert_eq!(v1("post1").unwrap(), SchemeKind::ZScore);
        assert_eq!(v1("zscore").unwrap(), SchemeKind::ZScore);
    }

    #[test]
    fn mask_rule() {
        assert!(use_mask_for_norm(0.5, &NormalizationScheme::ZScore));
        assert!(!use_mask_for_norm(0.75, &NormalizationScheme::ZScore));
        assert!(!use_mask_for_norm(
            0.5,
            &NormalizationScheme::NoNormalization
        ));
        assert!(!use_mask_for_norm(f64::NAN, &NormalizationScheme::ZScore));
    }
}
