//! PyRadiomics params files (YAML or JSON) → [`Settings`].
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/featureextractor.py` (`loadParams`, `_applyParams`) and the schema
//! `radiomics/schemas/paramSchema.yaml` (sections `setting`, `imageType`, `featureClass`, `voxelSetting`).
//!
//! ```text
//! setting:       any §2 setting; an empty value means None (the default)
//! imageType:     Original, Square, SquareRoot, Logarithm, Exponential, Gradient, Wavelet in file order (Original's own
//!                settings override `setting`; other types' custom settings are not supported); absent → Original
//! featureClass:  class → null / [] (all non-deprecated) or a list of names; absent → all classes
//! voxelSetting:  accepted and ignored (voxel-based extraction is out of scope)
//! ```

use std::path::Path;

use serde_yaml::{Mapping, Value};

use crate::error::{Error, Result};
use crate::features::FeatureClass;
use crate::filters::ImageType;
use crate::settings::{
    Binning, Interpolator, Normalization, ResegmentMode, Selection, Settings, WeightingNorm,
};

/// Settings that only filters use; accepted, ignored with the Original image type.
const FILTER_KEYS: [&str; 13] = [
    "sigma",
    "start_level",
    "level",
    "wavelet",
    "gradientUseSpacing",
    "lbp2DRadius",
    "lbp2DSamples",
    "lbp2DMethod",
    "lbp3DLevels",
    "lbp3DIcosphereRadius",
    "lbp3DIcosphereSubdivision",
    "additionalInfo",
    "geometryTolerance",
];

fn invalid(key: &'static str, value: &Value, what: &str) -> Error {
    Error::InvalidParameter {
        key,
        reason: format!("{value:?} is not {what}"),
    }
}

fn as_f64(key: &'static str, v: &Value) -> Result<f64> {
    v.as_f64().ok_or_else(|| invalid(key, v, "a number"))
}

fn as_int(key: &'static str, v: &Value) -> Result<i64> {
    match v.as_i64() {
        Some(i) => Ok(i),
        None => match v.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 =>
            {
                #[allow(clippy::cast_possible_truncation)]
                Ok(f as i64)
            }
            _ => Err(invalid(key, v, "an integer")),
        },
    }
}

fn as_usize(key: &'static str, v: &Value) -> Result<usize> {
    usize::try_from(as_int(key, v)?).map_err(|_| invalid(key, v, "a non-negative integer"))
}

fn as_bool(key: &'static str, v: &Value) -> Result<bool> {
    v.as_bool().ok_or_else(|| invalid(key, v, "a boolean"))
}

fn as_f64_list(key: &'static str, v: &Value) -> Result<Vec<f64>> {
    match v {
        Value::Sequence(s) => s.iter().map(|x| as_f64(key, x)).collect(),
        other => Ok(vec![as_f64(key, other)?]),
    }
}

/// Applies one `setting` entry.
fn apply_setting(s: &mut Settings, key: &str, v: &Value) -> Result<()> {
    if v.is_null() {
        // An empty value means None: the default.
        let d = Settings::default();
        match key {
            "binCount" | "binWidth" => s.binning = d.binning,
            "resampledPixelSpacing" => s.resampled_spacing = None,
            "resegmentRange" => s.resegment_range = None,
            "minimumROISize" => s.minimum_roi_size = None,
            "weightingNorm" => s.texture.weighting_norm = None,
            "removeOutliers" => {
                if let Some(n) = &mut s.normalization {
                    n.remove_outliers = None;
                }
            }
            _ => {}
        }
        return Ok(());
    }
    match key {
        "label" => {
            s.label = u32::try_from(as_int("label", v)?).map_err(|_| invalid("label", v, "> 0"))?;
        }
        "label_channel" if as_int("label_channel", v)? != 0 => {
            return Err(Error::Unsupported("label_channel other than 0"));
        }
        // binCount overrides binWidth whatever their order.
        "binWidth" if !matches!(s.binning, Binning::Count(_)) => {
            s.binning = Binning::Width(as_f64("binWidth", v)?);
        }
        "binCount" => s.binning = Binning::Count(as_usize("binCount", v)?),
        "voxelArrayShift" => s.voxel_array_shift = as_f64("voxelArrayShift", v)?,
        "normalize" => {
            if as_bool("normalize", v)? {
                s.normalization.get_or_insert_with(Normalization::default);
            } else {
                s.normalization = None;
            }
        }
        "normalizeScale" => {
            let scale = as_f64("normalizeScale", v)?;
            pending_norm(s).scale = scale;
        }
        "removeOutliers" => {
            let k = as_f64("removeOutliers", v)?;
            pending_norm(s).remove_outliers = Some(k);
        }
        "resampledPixelSpacing" => {
            let l = as_f64_list("resampledPixelSpacing", v)?;
            if l.len() != 3 {
                return Err(invalid("resampledPixelSpacing", v, "3 numbers (x, y, z)"));
            }
            s.resampled_spacing = Some([l[2], l[1], l[0]]);
        }
        "interpolator" => {
            let name = match v {
                Value::String(t) => t.clone(),
                other => as_int("interpolator", other)?.to_string(),
            };
            s.interpolator = Interpolator::from_pyradiomics(&name)?;
        }
        "padDistance" => s.pad_distance = as_usize("padDistance", v)?,
        "preCrop" => s.pre_crop = as_bool("preCrop", v)?,
        "resegmentRange" => s.resegment_range = Some(as_f64_list("resegmentRange", v)?),
        "resegmentMode" => {
            s.resegment_mode = match v.as_str() {
                Some("absolute") => ResegmentMode::Absolute,
                Some("relative") => ResegmentMode::Relative,
                Some("sigma") => ResegmentMode::Sigma,
                _ => return Err(invalid("resegmentMode", v, "absolute, relative or sigma")),
            }
        }
        "resegmentShape" => s.resegment_shape = as_bool("resegmentShape", v)?,
        "minimumROIDimensions" => s.minimum_roi_dimensions = as_usize("minimumROIDimensions", v)?,
        "minimumROISize" => s.minimum_roi_size = Some(as_usize("minimumROISize", v)?),
        "distances" => {
            let l = match v {
                Value::Sequence(q) => q
                    .iter()
                    .map(|x| as_usize("distances", x))
                    .collect::<Result<Vec<_>>>()?,
                other => vec![as_usize("distances", other)?],
            };
            s.texture.distances = l;
        }
        "symmetricalGLCM" => s.texture.symmetrical_glcm = as_bool("symmetricalGLCM", v)?,
        "weightingNorm" => {
            let name = v
                .as_str()
                .ok_or_else(|| invalid("weightingNorm", v, "a string"))?;
            s.texture.weighting_norm = Some(WeightingNorm::from_pyradiomics(name)?);
        }
        "gldm_a" => s.texture.gldm_a = as_f64("gldm_a", v)?,
        "force2D" => s.texture.force_2d = as_bool("force2D", v)?,
        "force2Ddimension" => s.texture.force_2d_dimension = as_usize("force2Ddimension", v)?,
        "gradientUseSpacing" => s.gradient_use_spacing = as_bool("gradientUseSpacing", v)?,
        "start_level" => s.wavelet_start_level = as_usize("start_level", v)?,
        "level" => s.wavelet_level = as_usize("level", v)?,
        "wavelet" if v.as_str() != Some("coif1") => {
            return Err(Error::Unsupported("wavelet other than coif1"));
        }
        "correctMask" if as_bool("correctMask", v)? => {
            return Err(Error::Unsupported("correctMask"));
        }
        // Filter-only keys (and keys already rejected by `apply_settings_map`).
        _ => {}
    }
    Ok(())
}

/// `normalizeScale`/`removeOutliers` may come before `normalize: true`; they are kept until then.
fn pending_norm(s: &mut Settings) -> &mut Normalization {
    s.normalization.get_or_insert_with(Normalization::default)
}

const SETTING_KEYS: [&str; 24] = [
    "label",
    "label_channel",
    "binWidth",
    "binCount",
    "voxelArrayShift",
    "normalize",
    "normalizeScale",
    "removeOutliers",
    "resampledPixelSpacing",
    "interpolator",
    "padDistance",
    "preCrop",
    "resegmentRange",
    "resegmentMode",
    "resegmentShape",
    "minimumROIDimensions",
    "minimumROISize",
    "distances",
    "symmetricalGLCM",
    "weightingNorm",
    "gldm_a",
    "force2D",
    "force2Ddimension",
    "correctMask",
];

fn apply_settings_map(s: &mut Settings, section: &str, map: &Mapping) -> Result<()> {
    let mut unknown = Vec::new();
    for k in map.keys() {
        let key = k.as_str().unwrap_or_default();
        if !(SETTING_KEYS.contains(&key) || FILTER_KEYS.contains(&key)) {
            unknown.push(format!("{k:?}"));
        }
    }
    if !unknown.is_empty() {
        return Err(Error::UnknownKeys {
            section: section.to_string(),
            keys: unknown,
        });
    }
    // normalize first so that normalizeScale/removeOutliers without normalize stay off.
    let normalize_on = map
        .get("normalize")
        .and_then(Value::as_bool)
        .unwrap_or(s.normalization.is_some());
    for (k, v) in map {
        apply_setting(s, k.as_str().unwrap_or_default(), v)?;
    }
    if !normalize_on {
        s.normalization = None;
    }
    Ok(())
}

impl Settings {
    /// Parses a PyRadiomics params file given as YAML (or JSON, a subset of YAML) text.
    ///
    /// # Errors
    ///
    /// [`Error::ParamsFile`] for unparsable text, [`Error::UnknownKeys`] naming unknown keys per section,
    /// [`Error::UnsupportedImageType`] for image types other than `Original`, `Square`, `SquareRoot`,
    /// `Logarithm`, `Exponential`, `Gradient` and `Wavelet`, [`Error::UnknownFeature`],
    /// [`Error::InvalidParameter`] for values of the wrong type or range (after [`Settings::check`]).
    pub fn from_params_str(text: &str) -> Result<Self> {
        Self::parse(text, "<string>")
    }

    /// Reads and parses a PyRadiomics params file (`.yaml`, `.yml` or `.json`).
    ///
    /// # Errors
    ///
    /// [`Error::Io`] naming the file, then as [`Settings::from_params_str`] with the file's name.
    pub fn from_params_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, source_name: &str) -> Result<Self> {
        let root: Value = serde_yaml::from_str(text).map_err(|e| Error::ParamsFile {
            source_name: source_name.to_string(),
            reason: e.to_string(),
        })?;
        let root = match root {
            Value::Null => Mapping::new(),
            Value::Mapping(m) => m,
            _ => {
                return Err(Error::ParamsFile {
                    source_name: source_name.to_string(),
                    reason: "the top level is not a mapping".into(),
                })
            }
        };
        let mut unknown = Vec::new();
        for k in root.keys() {
            let key = k.as_str().unwrap_or_default();
            if !["setting", "imageType", "featureClass", "voxelSetting"].contains(&key) {
                unknown.push(format!("{k:?}"));
            }
        }
        if !unknown.is_empty() {
            return Err(Error::UnknownKeys {
                section: "<top level>".into(),
                keys: unknown,
            });
        }
        let mut s = Settings::default();
        if let Some(v) = root.get("setting") {
            match v {
                Value::Null => {}
                Value::Mapping(m) => apply_settings_map(&mut s, "setting", m)?,
                other => return Err(invalid_section("setting", other)),
            }
        }
        if let Some(v) = root.get("imageType") {
            match v {
                Value::Null => {}
                Value::Mapping(m) => {
                    let mut types = Vec::new();
                    for (k, custom) in m {
                        let name = k.as_str().unwrap_or_default();
                        let t = ImageType::from_name(name)
                            .map_err(|_| Error::UnsupportedImageType(format!("{k:?}")))?;
                        if let Value::Mapping(cm) = custom {
                            if t == ImageType::Original {
                                apply_settings_map(&mut s, "imageType.Original", cm)?;
                            } else if !cm.is_empty() {
                                return Err(Error::Unsupported(
                                    "custom settings for an image type other than Original",
                                ));
                            }
                        }
                        if !types.contains(&t) {
                            types.push(t);
                        }
                    }
                    s.image_types = types;
                }
                other => return Err(invalid_section("imageType", other)),
            }
        }
        s.enabled = match root.get("featureClass") {
            None | Some(Value::Null) => [
                FeatureClass::Shape,
                FeatureClass::FirstOrder,
                FeatureClass::Glcm,
                FeatureClass::Gldm,
                FeatureClass::Glrlm,
                FeatureClass::Glszm,
                FeatureClass::Ngtdm,
                FeatureClass::Shape2D,
            ]
            .into_iter()
            .map(|c| (c, Selection::All))
            .collect(),
            Some(Value::Mapping(m)) => parse_feature_classes(m)?,
            Some(other) => return Err(invalid_section("featureClass", other)),
        };
        s.check()?;
        Ok(s)
    }
}

fn invalid_section(section: &str, v: &Value) -> Error {
    Error::ParamsFile {
        source_name: section.to_string(),
        reason: format!("section `{section}` must be a mapping, found {v:?}"),
    }
}

fn parse_feature_classes(m: &Mapping) -> Result<Vec<(FeatureClass, Selection)>> {
    let mut out = Vec::new();
    let mut unknown = Vec::new();
    for (k, v) in m {
        let name = k.as_str().unwrap_or_default();
        let Some(class) = FeatureClass::from_name(name) else {
            unknown.push(format!("{k:?}"));
            continue;
        };
        let selection = match v {
            Value::Null => Selection::All,
            Value::Sequence(q) if q.is_empty() => Selection::All,
            Value::Sequence(q) => Selection::Only(
                q.iter()
                    .map(|x| {
                        x.as_str()
                            .map(str::to_string)
                            .ok_or_else(|| Error::UnknownFeature {
                                class: name.to_string(),
                                feature: format!("{x:?}"),
                            })
                    })
                    .collect::<Result<Vec<_>>>()?,
            ),
            Value::String(one) => Selection::Only(vec![one.clone()]),
            other => {
                return Err(Error::UnknownFeature {
                    class: name.to_string(),
                    feature: format!("{other:?}"),
                })
            }
        };
        out.push((class, selection));
    }
    if !unknown.is_empty() {
        return Err(Error::UnknownKeys {
            section: "featureClass".into(),
            keys: unknown,
        });
    }
    Ok(out)
}
