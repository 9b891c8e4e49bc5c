//! The extraction pipeline: checks, bounding-box crop, discretisation, the feature classes in parallel, the
//! output names and order.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/featureextractor.py` (`RadiomicsFeatureExtractor.execute`,
//! `computeShape`, `computeFeatures`) and `radiomics/base.py` (feature enabling order);
//! `reference/radiomics.md` §1–§2.
//!
//! ```text
//! ROI = mask == label → bbox (checkMask: minimumROIDimensions, minimumROISize) → [normalize whole image]
//! → [resegment: new ROI and bbox] → shape on the bbox-cropped mask → crop image/ROI to the bbox
//! → discretise the ROI (binWidth/binCount) → firstorder, glcm, gldm, glrlm, glszm, ngtdm (in parallel)
//! keys: original_<class>_<Feature>; shape first, then the enabled classes in their order; within a class the
//! PyRadiomics order (all features) or the listed order (a selection)
//! ```

use ndarray::{Array3, ArrayView3, Zip};
use rayon::prelude::*;

use crate::discretize::discretize;
use crate::error::{Error, Result};
use crate::features::{FeatureClass, Features};
use crate::firstorder::firstorder_all;
use crate::imageops::{
    bounding_box, check_roi, crop, normalize_image, resegment, roi_bounds, to_f64_checked,
    BoundingBox,
};
use crate::settings::{Selection, Settings, TextureParams};
use crate::shape::shape_all;
use crate::texture::texture_features;
use crate::voxel::{MaskVoxel, PixelKind, Voxel};

/// Image and ROI after checks, preprocessing and cropping: what every class works on.
struct Prepared {
    /// The ROI used by shape, cropped to the bounding box.
    shape_roi: Array3<bool>,
    /// ROI intensities in C order of the cropped image.
    values: Vec<f64>,
    /// Their bins (1-based).
    bins: Vec<u32>,
    /// Discretised cropped image, 0 outside the ROI.
    levels: Array3<u32>,
    /// The largest bin.
    ng: u32,
}

fn prepare<T: Voxel, M: MaskVoxel>(
    image: ArrayView3<T>,
    mask: ArrayView3<M>,
    spacing: [f64; 3],
    settings: &Settings,
) -> Result<Prepared> {
    settings.check()?;
    let (id, md) = (image.dim(), mask.dim());
    if id != md {
        return Err(Error::GeometryMismatch {
            image: [id.0, id.1, id.2],
            mask: [md.0, md.1, md.2],
        });
    }
    if spacing.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return Err(Error::InvalidSpacing(spacing));
    }
    let (bbox, count) = roi_bounds(mask, settings.label)?;
    check_roi(
        &bbox,
        count,
        settings.minimum_roi_dimensions,
        settings.minimum_roi_size,
    )?;
    // Everything below works on the bounding-box crop (normalisation statistics excepted).
    let label = settings.label;
    let mut roi = crop(mask, &bbox).mapv(|m| m.is_label(label));
    let mut img = to_f64_checked(crop(image, &bbox).view(), roi.view()).map_err(|e| match e {
        // Report the index in the caller's array.
        Error::NonFiniteInRoi { value, index } => Error::NonFiniteInRoi {
            value,
            index: [
                index[0] + bbox.lo[0],
                index[1] + bbox.lo[1],
                index[2] + bbox.lo[2],
            ],
        },
        other => other,
    })?;
    let mut kind = T::KIND;
    if let Some(norm) = &settings.normalization {
        normalize_image(image, &mut img, norm)?;
        kind = PixelKind::Float64;
    }
    let original_roi = settings.resegment_range.as_ref().map(|_| roi.clone());
    // The (possibly resegmented) bounding box, relative to the crop.
    let mut sub = BoundingBox {
        lo: [0; 3],
        hi: [bbox.size()[0], bbox.size()[1], bbox.size()[2]],
    };
    if let Some(range) = &settings.resegment_range {
        let n = resegment(img.view(), &mut roi, range, settings.resegment_mode)?;
        sub = bounding_box(roi.view()).ok_or(Error::LabelNotPresent { label })?;
        check_roi(
            &sub,
            n,
            settings.minimum_roi_dimensions,
            settings.minimum_roi_size,
        )?;
    }
    // PyRadiomics crops the shape mask with the (possibly resegmented) bounding box.
    let shape_source = match (&original_roi, settings.resegment_shape) {
        (Some(orig), false) => orig.view(),
        _ => roi.view(),
    };
    let shape_roi = crop(shape_source, &sub);
    let roi_c = crop(roi.view(), &sub);
    let img_c = crop(img.view(), &sub);
    let values: Vec<f64> = img_c
        .iter()
        .zip(roi_c.iter())
        .filter_map(|(&v, &m)| m.then_some(v))
        .collect();
    let (bins, ng) = discretize(&values, kind, settings.binning)?;
    let mut levels = Array3::<u32>::zeros(roi_c.dim());
    let mut next = bins.iter();
    Zip::from(&mut levels).and(&roi_c).for_each(|l, &m| {
        if m {
            *l = *next.next().unwrap_or(&0);
        }
    });
    Ok(Prepared {
        shape_roi,
        values,
        bins,
        levels,
        ng,
    })
}

/// All features of `class` on prepared data, as `(name, value)` in PyRadiomics' order (deprecated included
/// where they produce a value), restricted to `wanted`.
fn class_features(
    class: FeatureClass,
    p: &Prepared,
    spacing: [f64; 3],
    settings: &Settings,
    wanted: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    match class {
        FeatureClass::Shape => shape_all(p.shape_roi.view(), spacing, settings.conventions),
        FeatureClass::FirstOrder => firstorder_all(
            &p.values,
            &p.bins,
            spacing,
            settings.voxel_array_shift,
            settings.conventions,
        ),
        FeatureClass::Shape2D => Err(Error::Unsupported("shape2D (force2D shape features)")),
        texture => {
            let params = TextureParams {
                spacing,
                ..settings.texture.clone()
            };
            texture_features(texture, p.levels.view(), p.ng, &params, wanted)
        }
    }
}

/// The names a selection enables, in output order (deprecated ones that never produce a value dropped).
fn wanted_names(class: FeatureClass, selection: &Selection) -> Vec<&'static str> {
    match selection {
        Selection::All => class.default_features(),
        Selection::Only(names) => {
            let mut out: Vec<&'static str> = Vec::new();
            for n in names {
                if let Some(&s) = class.all_features().iter().find(|&&f| f == n) {
                    if !out.contains(&s) && !class.never_has_value(s) {
                        out.push(s);
                    }
                }
            }
            out
        }
    }
}

/// Extracts the enabled features of `settings` from `image` within the ROI `mask == settings.label`.
///
/// `image` and `mask` are `(z, y, x)` arrays of the same shape; `spacing` is the voxel size in mm in the same
/// order. Equivalent to PyRadiomics' `RadiomicsFeatureExtractor(**settings).execute(image, mask)` for the
/// Original image type, without the `diagnostics_*` entries.
///
/// ```text
/// Features = [("original_shape_Elongation", …), …, ("original_ngtdm_Strength", …)]   (107 by default)
/// ```
///
/// # Errors
///
/// Settings errors ([`Settings::check`]), [`Error::GeometryMismatch`], [`Error::InvalidSpacing`],
/// [`Error::LabelNotPresent`], [`Error::RoiTooFewDimensions`] (a single voxel always),
/// [`Error::RoiTooSmall`], [`Error::NonFiniteInRoi`], [`Error::TooManyBins`], [`Error::Unsupported`].
///
/// # Examples
///
/// ```
/// use ndarray::Array3;
/// use radiomics::{extract, Settings};
///
/// let image = Array3::from_shape_fn((4, 5, 6), |(z, y, x)| (z * 30 + y * 7 + x) as i16);
/// let mask = Array3::from_shape_fn((4, 5, 6), |(z, y, x)| u8::from(z > 0 && y > 0 && x > 0));
/// let f = extract(image.view(), mask.view(), [2.0, 1.0, 1.0], &Settings::default()).unwrap();
/// assert_eq!(f.get("original_shape_VoxelVolume"), Some(3.0 * 4.0 * 5.0 * 2.0));
/// assert_eq!(f.get("original_firstorder_Minimum"), Some(38.0));
/// ```
pub fn extract<T: Voxel, M: MaskVoxel>(
    image: ArrayView3<T>,
    mask: ArrayView3<M>,
    spacing: [f64; 3],
    settings: &Settings,
) -> Result<Features> {
    let prepared = prepare(image, mask, spacing, settings)?;
    // Shape classes first (PyRadiomics `computeShape`), then the others in their enabled order.
    let mut order: Vec<&(FeatureClass, Selection)> = settings
        .enabled
        .iter()
        .filter(|(c, _)| *c == FeatureClass::Shape)
        .collect();
    for entry in &settings.enabled {
        match entry.0 {
            FeatureClass::Shape => {}
            // shape2D needs force2D; without it PyRadiomics skips the class with a warning.
            FeatureClass::Shape2D if !settings.texture.force_2d => {}
            _ => order.push(entry),
        }
    }
    let mut seen = Vec::new();
    order.retain(|(c, _)| {
        let first = !seen.contains(c);
        seen.push(*c);
        first
    });
    let results: Vec<Result<Vec<(String, f64)>>> = order
        .par_iter()
        .map(|(class, selection)| {
            let wanted = wanted_names(*class, selection);
            let all = class_features(*class, &prepared, spacing, settings, &wanted)?;
            Ok(wanted
                .iter()
                .filter_map(|w| {
                    all.iter()
                        .find(|(n, _)| n == w)
                        .map(|&(n, v)| (format!("original_{}_{}", class.name(), n), v))
                })
                .collect())
        })
        .collect();
    let mut features = Features::new();
    for r in results {
        features.extend(r?);
    }
    Ok(features)
}

fn single_class<T: Voxel, M: MaskVoxel>(
    class: FeatureClass,
    image: ArrayView3<T>,
    mask: ArrayView3<M>,
    spacing: [f64; 3],
    settings: &Settings,
) -> Result<Features> {
    let selection = settings
        .enabled
        .iter()
        .find(|(c, _)| *c == class)
        .map_or(Selection::All, |(_, s)| s.clone());
    let s = Settings {
        enabled: vec![(class, selection)],
        ..settings.clone()
    };
    extract(image, mask, spacing, &s)
}

macro_rules! class_entry {
    ($(#[$doc:meta])* $name:ident => $class:expr) => {
        $(#[$doc])*
        ///
        /// Runs the same checks, cropping and discretisation as [`extract`] and only this class (its selection
        /// in `settings.enabled` if present, else all its non-deprecated features).
        ///
        /// # Errors
        ///
        /// As [`extract`].
        pub fn $name<T: Voxel, M: MaskVoxel>(
            image: ArrayView3<T>,
            mask: ArrayView3<M>,
            spacing: [f64; 3],
            settings: &Settings,
        ) -> Result<Features> {
            single_class($class, image, mask, spacing, settings)
        }
    };
}

class_entry!(
    /// 3-D shape features (`original_shape_*`).
    shape => FeatureClass::Shape
);
class_entry!(
    /// First-order features (`original_firstorder_*`).
    firstorder => FeatureClass::FirstOrder
);
class_entry!(
    /// GLCM features (`original_glcm_*`).
    glcm => FeatureClass::Glcm
);
class_entry!(
    /// GLDM features (`original_gldm_*`).
    gldm => FeatureClass::Gldm
);
class_entry!(
    /// GLRLM features (`original_glrlm_*`).
    glrlm => FeatureClass::Glrlm
);
class_entry!(
    /// GLSZM features (`original_glszm_*`).
    glszm => FeatureClass::Glszm
);
class_entry!(
    /// NGTDM features (`original_ngtdm_*`).
    ngtdm => FeatureClass::Ngtdm
);
