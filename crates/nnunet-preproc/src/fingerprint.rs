//! The dataset fingerprint: spacings, shapes after cropping, the relative size after cropping and the
//! foreground intensity statistics per channel (nnU-Net's `dataset_fingerprint.json`).
//!
//! ```text
//! per case:  crop_to_nonzero → spacing, shape_after_crop,
//!            relative_size = Π shape_after / Π shape_before,
//!            foreground intensities of channel c = data[c][seg > 0]        (−1 excluded)
//! dataset:   median_relative_size_after_cropping = median over cases
//!            per channel: mean, std (ddof 0), min, max, median, p00.5, p99.5 of the pooled intensities
//! ```
//!
//! **Deliberate deviation (v2).** nnU-Net v2 pools `int(1e8 // n_cases)` intensities per case and channel
//! drawn *with replacement* by `numpy.random.RandomState(1234)`, which cannot be reproduced without
//! NumPy's generator. Here the v2 statistics use **all** foreground voxels (exact and deterministic). The
//! v1 rule (every 10th foreground voxel per case, `modality[mask][::10]`) is deterministic and reproduced
//! exactly with [`Flavour::V1`]. Only CT normalisation uses these statistics. Arithmetic follows NumPy on
//! `float32` arrays ([`crate::np_stats`]): mean/std in `f32` with pairwise sums, v2 percentiles (also the
//! median) with an `f64` interpolation step, v1 percentiles in `f32`, v1 median by `np.median`.
//!
//! Memory: a [`CaseFingerprint`] keeps its foreground intensities, 4 bytes × foreground voxels × channels.
//!
//! References: MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/experiment_planning/dataset_fingerprint/fingerprint_extractor.py` (`analyze_case`, `run`);
//! nnU-Net v1 `nnunet/experiment_planning/DatasetAnalyzer.py` (`_get_voxels_in_foreground`,
//! `_compute_stats`, `get_size_reduction_by_cropping`).

use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{ArrayView3, ArrayView4, Axis, Zip};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::crop::crop_to_nonzero;
use crate::error::{Error, Result};
use crate::geometry::{check_spacing, Spacing};
use crate::np_stats::{
    mean_std_f32, median_f64, median_sorted_f32, percentile_sorted_f32, LerpPrecision,
};
use crate::plans::Flavour;

/// Every how-many-th foreground voxel nnU-Net v1 keeps per case for the intensity statistics.
pub const V1_FOREGROUND_STRIDE: usize = 10;

/// Foreground intensity statistics of one channel (`foreground_intensity_properties_per_channel["c"]`);
/// `NaN` (JSON `null`) where no foreground voxel exists.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ForegroundIntensityProperties {
    /// Mean.
    #[serde(with = "nan_as_null")]
    pub mean: f64,
    /// Median (v2: the linear 50th percentile; v1: `np.median`).
    #[serde(with = "nan_as_null")]
    pub median: f64,
    /// Population standard deviation (ddof 0); v1 calls it `sd`.
    #[serde(with = "nan_as_null")]
    pub std: f64,
    /// Minimum.
    #[serde(with = "nan_as_null")]
    pub min: f64,
    /// Maximum.
    #[serde(with = "nan_as_null")]
    pub max: f64,
    /// Linear-interpolated 99.5th percentile (upper CT clip bound).
    #[serde(with = "nan_as_null")]
    pub percentile_99_5: f64,
    /// Linear-interpolated 0.5th percentile (lower CT clip bound).
    #[serde(with = "nan_as_null")]
    pub percentile_00_5: f64,
}

impl ForegroundIntensityProperties {
    /// All statistics `NaN` (no foreground voxel).
    pub const EMPTY: Self = Self {
        mean: f64::NAN,
        median: f64::NAN,
        std: f64::NAN,
        min: f64::NAN,
        max: f64::NAN,
        percentile_99_5: f64::NAN,
        percentile_00_5: f64::NAN,
    };

    /// Whether every statistic is finite (required by CT normalisation).
    #[must_use]
    pub fn is_finite(&self) -> bool {
        [
            self.mean,
            self.median,
            self.std,
            self.min,
            self.max,
            self.percentile_99_5,
            self.percentile_00_5,
        ]
        .iter()
        .all(|v| v.is_finite())
    }

    /// The statistics of pooled `float32` intensities computed as nnU-Net `flavour` does
    /// (see the module docs); [`Self::EMPTY`] for no values.
    #[must_use]
    pub fn from_intensities(values: &[f32], flavour: Flavour) -> Self {
        if values.is_empty() {
            return Self::EMPTY;
        }
        let (mean, std) = mean_std_f32(values);
        let mut sorted = values.to_vec();
        sorted.sort_by(f32::total_cmp);
        let (precision, median) = match flavour {
            Flavour::V2 => (
                LerpPrecision::F64,
                percentile_sorted_f32(&sorted, 50.0, LerpPrecision::F64),
            ),
            Flavour::V1 => (LerpPrecision::F32, median_sorted_f32(&sorted)),
        };
        Self {
            mean: f64::from(mean),
            median,
            std: f64::from(std),
            min: f64::from(sorted[0]),
            max: f64::from(sorted[sorted.len() - 1]),
            percentile_99_5: percentile_sorted_f32(&sorted, 99.5, precision),
            percentile_00_5: percentile_sorted_f32(&sorted, 0.5, precision),
        }
    }
}

/// What one case contributes to the dataset fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseFingerprint {
    /// Voxel spacing in array order `[sz, sy, sx]` (not transposed).
    pub spacing: Spacing,
    /// Spatial shape before cropping.
    pub shape_before_crop: [usize; 3],
    /// Spatial shape after [`crop_to_nonzero`].
    pub shape_after_crop: [usize; 3],
    /// `Π shape_after_crop / Π shape_before_crop`.
    pub relative_size_after_cropping: f64,
    /// Per channel: all voxel values where the cropped segmentation is `> 0`, in C order.
    pub foreground_intensities: Vec<Vec<f32>>,
}

/// Crops one case and collects what the dataset fingerprint needs (nnU-Net `analyze_case`). Without a
/// segmentation no voxel is foreground.
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when `seg` does not match the image's spatial shape or the image has no
/// voxel; [`Error::InvalidSpacing`] for a non-finite or non-positive spacing.
pub fn case_fingerprint(
    data: ArrayView4<f32>,
    seg: Option<ArrayView3<i16>>,
    spacing: Spacing,
) -> Result<CaseFingerprint> {
    check_spacing(spacing, Path::new("<case fingerprint>"))?;
    let (_, nz, ny, nx) = data.dim();
    if nz * ny * nx == 0 {
        return Err(Error::ShapeMismatch {
            context: "case_fingerprint: the image has no voxel".into(),
            found: data.shape().to_vec(),
            expected: vec![data.shape()[0], 1, 1, 1],
        });
    }
    let has_seg = seg.is_some();
    let cropped = crop_to_nonzero(data, seg)?;
    let shape_after_crop = crate::crop::bbox_shape(&cropped.bbox);
    let foreground_intensities = cropped
        .data
        .axis_iter(Axis(0))
        .map(|channel| {
            let mut out = Vec::new();
            if has_seg {
                Zip::from(&channel).and(&cropped.seg).for_each(|&v, &l| {
                    if l > 0 {
                        out.push(v);
                    }
                });
            }
            out
        })
        .collect();
    let prod = |s: [usize; 3]| s.iter().map(|&v| v as f64).product::<f64>();
    Ok(CaseFingerprint {
        spacing,
        shape_before_crop: cropped.shape_before,
        shape_after_crop,
        relative_size_after_cropping: prod(shape_after_crop) / prod(cropped.shape_before),
        foreground_intensities,
    })
}

/// The dataset fingerprint (`dataset_fingerprint.json`; the JSON layout is nnU-Net's, channels keyed
/// `"0"`, `"1"`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetFingerprint {
    /// Per case, array order, not transposed.
    pub spacings: Vec<Spacing>,
    /// Per case, spatial shape after cropping.
    pub shapes_after_crop: Vec<[usize; 3]>,
    /// Median over cases of the relative size after cropping (`NaN`/`null` without cases).
    #[serde(with = "nan_as_null")]
    pub median_relative_size_after_cropping: f64,
    /// Foreground intensity statistics per channel.
    #[serde(with = "per_channel_map")]
    pub foreground_intensity_properties_per_channel: Vec<ForegroundIntensityProperties>,
}

/// [`dataset_fingerprint_for`] with the v2 aggregation (all foreground voxels, see the module docs).
///
/// # Errors
///
/// As [`dataset_fingerprint_for`].
pub fn dataset_fingerprint(cases: &[CaseFingerprint]) -> Result<DatasetFingerprint> {
    dataset_fingerprint_for(cases, Flavour::V2)
}

/// Aggregates case fingerprints: v2 pools all foreground voxels, v1 every
/// [`V1_FOREGROUND_STRIDE`]-th of each case (`[::10]`), in case order.
///
/// ```text
/// median_relative_size_after_cropping = median_i relative_size_i
/// props[c] = ForegroundIntensityProperties::from_intensities(concat_i pool_i[c], flavour)
/// ```
///
/// # Errors
///
/// [`Error::ShapeMismatch`] when the cases do not all have the same number of channels.
pub fn dataset_fingerprint_for(
    cases: &[CaseFingerprint],
    flavour: Flavour,
) -> Result<DatasetFingerprint> {
    let n_channels = cases.first().map_or(0, |c| c.foreground_intensities.len());
    for (i, case) in cases.iter().enumerate() {
        if case.foreground_intensities.len() != n_channels {
            return Err(Error::ShapeMismatch {
                context: format!("dataset_fingerprint: channel count of case #{i} vs case #0"),
                found: vec![case.foreground_intensities.len()],
                expected: vec![n_channels],
            });
        }
    }
    let stride = match flavour {
        Flavour::V2 => 1,
        Flavour::V1 => V1_FOREGROUND_STRIDE,
    };
    let props = (0..n_channels)
        .map(|c| {
            let pooled: Vec<f32> = cases
                .iter()
                .flat_map(|case| {
                    case.foreground_intensities[c]
                        .iter()
                        .step_by(stride)
                        .copied()
                })
                .collect();
            ForegroundIntensityProperties::from_intensities(&pooled, flavour)
        })
        .collect();
    let rel: Vec<f64> = cases
        .iter()
        .map(|c| c.relative_size_after_cropping)
        .collect();
    Ok(DatasetFingerprint {
        spacings: cases.iter().map(|c| c.spacing).collect(),
        shapes_after_crop: cases.iter().map(|c| c.shape_after_crop).collect(),
        median_relative_size_after_cropping: median_f64(&rel),
        foreground_intensity_properties_per_channel: props,
    })
}

/// Serde helper: non-finite `f64` ↔ JSON `null`.
mod nan_as_null {
    use super::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> std::result::Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Serde helper: `Vec<T>` ↔ nnU-Net's `{"0": …, "1": …}` map.
mod per_channel_map {
    use super::{
        BTreeMap, Deserialize, Deserializer, ForegroundIntensityProperties, Serialize, Serializer,
    };

    pub fn serialize<S: Serializer>(
        v: &[ForegroundIntensityProperties],
        s: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        let map: BTreeMap<String, &ForegroundIntensityProperties> = v
            .iter()
            .enumerate()
            .map(|(i, p)| (i.to_string(), p))
            .collect();
        // BTreeMap orders "10" before "2"; nnU-Net readers index by key, so order does not matter.
        map.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> std::result::Result<Vec<ForegroundIntensityProperties>, D::Error> {
        use serde::de::Error as _;
        let map = BTreeMap::<String, ForegroundIntensityProperties>::deserialize(d)?;
        let mut indexed: Vec<(usize, ForegroundIntensityProperties)> = map
            .into_iter()
            .map(|(k, v)| {
                k.parse::<usize>()
                    .map(|i| (i, v))
                    .map_err(|_| D::Error::custom(format!("channel key {k:?} is not an integer")))
            })
            .collect::<std::result::Result<_, _>>()?;
        indexed.sort_by_key(|(i, _)| *i);
        for (expected, (i, _)) in indexed.iter().enumerate() {
            if *i != expected {
                return Err(D::Error::custom(format!(
                    "channel keys must be 0..n without gaps; missing {expected}"
                )));
            }
        }
        Ok(indexed.into_iter().map(|(_, v)| v).collect())
    }
}
