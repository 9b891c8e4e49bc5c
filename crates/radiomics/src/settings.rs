//! Extraction settings with PyRadiomics' defaults, checked before use.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/featureextractor.py` (`_getDefaultSettings`), the setting
//! descriptions of `docs/customization.rst` and the ranges of `radiomics/schemas/paramSchema.yaml`
//! (AIM-Harvard/pyradiomics). PyRadiomics reads settings from `**kwargs`; here they are typed fields, enums
//! instead of strings, and [`Settings::check`] turns the schema's ranges into [`Error::InvalidParameter`].

use crate::error::{Error, Result};
use crate::features::FeatureClass;
use crate::filters::ImageType;

/// How GLCM/GLRLM matrices of several angles are combined (PyRadiomics `weightingNorm`).
///
/// ```text
/// None (the setting absent): features per angle, then the mean over angles
/// Manhattan ('manhattan'), Euclidean ('euclidean'), Infinity ('infinity'): matrices summed over angles with
///   weights from the angle's length in mm under that norm (GLCM: exp(-d²), GLRLM: d)
/// No ('no_weighting'): matrices summed with weight 1
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WeightingNorm {
    /// `'manhattan'`: d = Σ |a_k · spacing_k|.
    Manhattan,
    /// `'euclidean'`: d = sqrt(Σ (a_k · spacing_k)²).
    Euclidean,
    /// `'infinity'`: d = max |a_k · spacing_k|.
    Infinity,
    /// `'no_weighting'`: weight 1.
    No,
}

impl WeightingNorm {
    /// Parses PyRadiomics' string (`'manhattan'`, `'euclidean'`, `'infinity'`, `'no_weighting'`).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `weightingNorm` for any other string.
    pub fn from_pyradiomics(name: &str) -> Result<Self> {
        match name {
            "manhattan" => Ok(Self::Manhattan),
            "euclidean" => Ok(Self::Euclidean),
            "infinity" => Ok(Self::Infinity),
            "no_weighting" => Ok(Self::No),
            other => Err(Error::InvalidParameter {
                key: "weightingNorm",
                reason: format!(
                    "`{other}` (expected manhattan, euclidean, infinity or no_weighting)"
                ),
            }),
        }
    }
}

/// Parameters of the texture classes (GLCM, GLRLM, GLSZM, GLDM, NGTDM), PyRadiomics' names in brackets.
///
/// Defaults: `distances` `[1]`, `symmetrical_glcm` true, `weighting_norm` None, `gldm_a` 0, `spacing`
/// [1, 1, 1] (set by the extractor to the image's spacing), `force_2d` false, `force_2d_dimension` 0 (= z).
#[derive(Debug, Clone, PartialEq)]
pub struct TextureParams {
    /// Chebyshev distances of the neighbours (`distances`); GLRLM/GLSZM ignore it.
    pub distances: Vec<usize>,
    /// Count each GLCM pair in both directions (`symmetricalGLCM`).
    pub symmetrical_glcm: bool,
    /// Angle weighting for GLCM/GLRLM (`weightingNorm`).
    pub weighting_norm: Option<WeightingNorm>,
    /// GLDM dependence threshold α (`gldm_a`).
    pub gldm_a: f64,
    /// Voxel size in mm, array order `[sz, sy, sx]` (used by `weighting_norm`).
    pub spacing: [f64; 3],
    /// Compute texture in 2-D slices (`force2D`).
    pub force_2d: bool,
    /// The array axis normal to the slices when `force_2d` (`force2Ddimension`, 0 = z).
    pub force_2d_dimension: usize,
}

impl Default for TextureParams {
    fn default() -> Self {
        Self {
            distances: vec![1],
            symmetrical_glcm: true,
            weighting_norm: None,
            gldm_a: 0.0,
            spacing: [1.0; 3],
            force_2d: false,
            force_2d_dimension: 0,
        }
    }
}

/// Discretisation of the ROI intensities (PyRadiomics `binWidth` / `binCount`).
///
/// ```text
/// Width(W): bin(x) = digitize(x, arange(min − (min mod W), max + 2W, W))   (bins anchored at multiples of W)
/// Count(N): bin(x) = digitize(x, histogram_edges(ROI, N) with the last edge + 1)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Binning {
    /// Fixed bin width (default 25).
    Width(f64),
    /// Fixed bin count (overrides the width when given).
    Count(usize),
}

impl Default for Binning {
    fn default() -> Self {
        Self::Width(25.0)
    }
}

/// Whole-image normalisation before extraction (PyRadiomics `normalize`, `normalizeScale`, `removeOutliers`).
///
/// ```text
/// x' = scale · (x − mean(image)) / std(image)        (population std over the whole image)
/// removeOutliers k: x' clipped to ±k · scale before… (applied to the normalised values, see `normalize_image`)
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Normalization {
    /// `normalizeScale` (default 1).
    pub scale: f64,
    /// `removeOutliers` in standard deviations (default None).
    pub remove_outliers: Option<f64>,
}

impl Default for Normalization {
    fn default() -> Self {
        Self {
            scale: 1.0,
            remove_outliers: None,
        }
    }
}

/// Resampling interpolators (SimpleITK names of PyRadiomics' `interpolator`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Interpolator {
    /// `sitkNearestNeighbor`.
    NearestNeighbor,
    /// `sitkLinear`.
    Linear,
    /// `sitkBSpline` (the default).
    #[default]
    BSpline,
    /// `sitkGaussian`.
    Gaussian,
    /// `sitkLabelGaussian`.
    LabelGaussian,
    /// `sitkHammingWindowedSinc`.
    HammingWindowedSinc,
    /// `sitkCosineWindowedSinc`.
    CosineWindowedSinc,
    /// `sitkWelchWindowedSinc`.
    WelchWindowedSinc,
    /// `sitkLanczosWindowedSinc`.
    LanczosWindowedSinc,
    /// `sitkBlackmanWindowedSinc`.
    BlackmanWindowedSinc,
}

impl Interpolator {
    /// Parses `sitkBSpline` … or SimpleITK's integer codes (1 nearest, 2 linear, 3 BSpline, …).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming `interpolator`.
    pub fn from_pyradiomics(name: &str) -> Result<Self> {
        Ok(match name {
            "sitkNearestNeighbor" | "1" => Self::NearestNeighbor,
            "sitkLinear" | "2" => Self::Linear,
            "sitkBSpline" | "3" => Self::BSpline,
            "sitkGaussian" | "4" => Self::Gaussian,
            "sitkLabelGaussian" | "5" => Self::LabelGaussian,
            "sitkHammingWindowedSinc" | "6" => Self::HammingWindowedSinc,
            "sitkCosineWindowedSinc" | "7" => Self::CosineWindowedSinc,
            "sitkWelchWindowedSinc" | "8" => Self::WelchWindowedSinc,
            "sitkLanczosWindowedSinc" | "9" => Self::LanczosWindowedSinc,
            "sitkBlackmanWindowedSinc" | "10" => Self::BlackmanWindowedSinc,
            other => {
                return Err(Error::InvalidParameter {
                    key: "interpolator",
                    reason: format!("unknown interpolator `{other}`"),
                })
            }
        })
    }
}

/// How `resegmentRange` is interpreted (PyRadiomics `resegmentMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ResegmentMode {
    /// `'absolute'`: the range is in image intensities (default).
    #[default]
    Absolute,
    /// `'relative'`: fractions of the ROI maximum.
    Relative,
    /// `'sigma'`: multiples of the ROI standard deviation around the ROI mean.
    Sigma,
}

/// The IBSI switch (off by default: PyRadiomics' conventions).
///
/// ```text
/// PyRadiomics: Kurtosis = m4/m2²,     PCA covariance XᵀX/N
/// Ibsi:        Kurtosis = m4/m2² − 3, PCA covariance XᵀX/(N − 1)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Conventions {
    /// PyRadiomics 3.1.0 exactly (default).
    #[default]
    PyRadiomics,
    /// IBSI-1 conformant kurtosis and axis lengths.
    Ibsi,
}

/// Which features of a class are computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// All non-deprecated features of the class (a params file's empty list / null).
    All,
    /// Exactly these features (PyRadiomics names without prefix, e.g. `"Autocorrelation"`); naming a
    /// deprecated feature enables it.
    Only(Vec<String>),
}

/// The settings of one extraction, with PyRadiomics' names and defaults.
///
/// `Settings::default()` is `RadiomicsFeatureExtractor()`: label 1, binWidth 25, no resampling or
/// normalisation, voxelArrayShift 0, distances `[1]`, symmetrical GLCM, no weighting, gldm_a 0,
/// minimumROIDimensions 2, image type Original, classes shape, firstorder, glcm, gldm, glrlm, glszm,
/// ngtdm (107 features). Call [`Settings::check`] (the extractor does) before use.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// ROI label in the mask (`label`, default 1).
    pub label: u32,
    /// Discretisation (`binWidth` 25 / `binCount`).
    pub binning: Binning,
    /// Added to intensities in Energy, TotalEnergy, RootMeanSquared (`voxelArrayShift`, default 0).
    pub voxel_array_shift: f64,
    /// Whole-image normalisation (`normalize`), None by default.
    pub normalization: Option<Normalization>,
    /// Target spacing in mm, array order `[sz, sy, sx]` (`resampledPixelSpacing`, which PyRadiomics gives
    /// in x, y, z order; a 0 keeps that axis). Image and mask are resampled as PyRadiomics'
    /// `resampleImage` does (see the `resample` functions); `interpolator` NearestNeighbor, Linear or
    /// BSpline.
    pub resampled_spacing: Option<[f64; 3]>,
    /// Resampling interpolator (`interpolator`, default `sitkBSpline`).
    pub interpolator: Interpolator,
    /// Padding in voxels around the ROI when resampling or pre-cropping (`padDistance`, default 5).
    pub pad_distance: usize,
    /// Crop image and mask to the ROI + `pad_distance` before filtering (`preCrop`); features unchanged for
    /// the Original image type.
    pub pre_crop: bool,
    /// Resegmentation range (`resegmentRange`, 1 or 2 values), None by default.
    pub resegment_range: Option<Vec<f64>>,
    /// How the range is read (`resegmentMode`).
    pub resegment_mode: ResegmentMode,
    /// Apply the resegmented mask to shape too (`resegmentShape`, default false).
    pub resegment_shape: bool,
    /// Minimum number of axes with ROI extent > 1 (`minimumROIDimensions`, default 2, 1..=3).
    pub minimum_roi_dimensions: usize,
    /// Minimum ROI voxel count (`minimumROISize`), None by default.
    pub minimum_roi_size: Option<usize>,
    /// Texture parameters (`distances`, `symmetricalGLCM`, `weightingNorm`, `gldm_a`, `force2D`,
    /// `force2Ddimension`).
    pub texture: TextureParams,
    /// PyRadiomics or IBSI conventions for Kurtosis and PCA axes (default PyRadiomics).
    pub conventions: Conventions,
    /// Enabled classes in PyRadiomics' output order, each with its feature selection.
    pub enabled: Vec<(FeatureClass, Selection)>,
    /// Enabled image types in output order (`imageType`, default `[Original]`); shape is computed once on
    /// the mask (`original_shape_*`), the other classes per image type (`<type>_<class>_<Feature>`).
    pub image_types: Vec<ImageType>,
    /// Gradient image with the voxel spacing (`gradientUseSpacing`, default true).
    pub gradient_use_spacing: bool,
    /// Wavelet levels skipped before the yielded ones (`start_level`, default 0).
    pub wavelet_start_level: usize,
    /// Wavelet levels yielded (`level`, default 1, ≥ 1).
    pub wavelet_level: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            label: 1,
            binning: Binning::default(),
            voxel_array_shift: 0.0,
            normalization: None,
            resampled_spacing: None,
            interpolator: Interpolator::default(),
            pad_distance: 5,
            pre_crop: false,
            resegment_range: None,
            resegment_mode: ResegmentMode::default(),
            resegment_shape: false,
            minimum_roi_dimensions: 2,
            minimum_roi_size: None,
            texture: TextureParams::default(),
            conventions: Conventions::default(),
            enabled: FeatureClass::DEFAULT_CLASSES
                .iter()
                .map(|&c| (c, Selection::All))
                .collect(),
            image_types: vec![ImageType::Original],
            gradient_use_spacing: true,
            wavelet_start_level: 0,
            wavelet_level: 1,
        }
    }
}

impl Settings {
    /// Checks every value against PyRadiomics' params schema (`paramSchema.yaml`) and the feature lists.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidParameter`] naming the key (binWidth ≤ 0, binCount 0, label 0, minimumROIDimensions
    /// outside 1..=3, minimumROISize 0, distances empty or containing 0, gldm_a < 0, force2Ddimension > 2,
    /// normalizeScale/removeOutliers ≤ 0, resegmentRange not 1–2 values), [`Error::UnknownFeature`] for a
    /// selected name the class does not have, [`Error::Unsupported`] for resampling with an interpolator other
    /// than NearestNeighbor, Linear or BSpline.
    pub fn check(&self) -> Result<()> {
        fn bad(key: &'static str, reason: impl Into<String>) -> Result<()> {
            Err(Error::InvalidParameter {
                key,
                reason: reason.into(),
            })
        }
        if self.label == 0 {
            return bad("label", "must be > 0");
        }
        match self.binning {
            Binning::Width(w) if !(w.is_finite() && w > 0.0) => {
                return bad("binWidth", format!("{w} (must be finite and > 0)"))
            }
            Binning::Count(0) => return bad("binCount", "must be > 0"),
            _ => {}
        }
        if !self.voxel_array_shift.is_finite() {
            return bad("voxelArrayShift", "must be finite");
        }
        if let Some(n) = &self.normalization {
            if !(n.scale.is_finite() && n.scale > 0.0) {
                return bad("normalizeScale", format!("{} (must be > 0)", n.scale));
            }
            if let Some(k) = n.remove_outliers {
                if !(k.is_finite() && k > 0.0) {
                    return bad("removeOutliers", format!("{k} (must be > 0)"));
                }
            }
        }
        if let Some(t) = self.resampled_spacing {
            if t.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad(
                    "resampledPixelSpacing",
                    format!("{t:?} (each finite and ≥ 0)"),
                );
            }
            if !matches!(
                self.interpolator,
                Interpolator::NearestNeighbor | Interpolator::Linear | Interpolator::BSpline
            ) {
                return Err(Error::Unsupported(
                    "interpolator other than sitkNearestNeighbor, sitkLinear, sitkBSpline",
                ));
            }
        }
        if let Some(r) = &self.resegment_range {
            if r.is_empty() || r.len() > 2 || r.iter().any(|v| v.is_nan()) {
                return bad("resegmentRange", format!("{r:?} (1 or 2 numbers)"));
            }
        }
        if self.wavelet_level == 0 {
            return bad("level", "must be ≥ 1");
        }
        if !(1..=3).contains(&self.minimum_roi_dimensions) {
            return bad(
                "minimumROIDimensions",
                format!("{} (must be 1, 2 or 3)", self.minimum_roi_dimensions),
            );
        }
        if self.minimum_roi_size == Some(0) {
            return bad("minimumROISize", "must be > 0");
        }
        let t = &self.texture;
        if t.distances.is_empty() || t.distances.contains(&0) {
            return bad(
                "distances",
                format!("{:?} (non-empty, each > 0)", t.distances),
            );
        }
        if !(t.gldm_a.is_finite() && t.gldm_a >= 0.0) {
            return bad("gldm_a", format!("{} (must be ≥ 0)", t.gldm_a));
        }
        if t.force_2d_dimension > 2 {
            return bad(
                "force2Ddimension",
                format!("{} (must be 0, 1 or 2)", t.force_2d_dimension),
            );
        }
        for (class, selection) in &self.enabled {
            if let Selection::Only(names) = selection {
                for name in names {
                    if !class.all_features().contains(&name.as_str()) {
                        return Err(Error::UnknownFeature {
                            class: class.name().to_string(),
                            feature: name.clone(),
                        });
                    }
                }
            }
        }
        Ok(())
    }
}
