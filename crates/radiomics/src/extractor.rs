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
use crate::filters::{
    exponential_image, gradient_magnitude, logarithm_image, square_image, square_root_image,
    ImageType,
};
use crate::firstorder::firstorder_all;
use crate::imageops::{
    bounding_box, check_roi, crop, normalize_image, resegment, roi_bounds, to_f64_checked,
    BoundingBox,
};
use crate::resample::{resample_grid, resample_image, resample_mask};
use crate::settings::{Selection, Settings, TextureParams};
use crate::shape::shape_all;
use crate::shape2d::shape2d_all;
use crate::texture::texture_features;
use crate::voxel::{MaskVoxel, PixelKind, Voxel};
use crate::wavelet::wavelet_images;

/// The ROI after checks and resegmentation, cropped to its bounding box: what every image type uses.
struct Roi {
    /// The bounding box in the working image (resegmentation included).
    bbox: BoundingBox,
    /// The ROI used by shape, cropped to `bbox`.
    shape_roi: Array3<bool>,
    /// The ROI of the other classes, cropped to `bbox`.
    roi: Array3<bool>,
}

/// One image type's discretised ROI.
struct Prepared {
    /// ROI intensities in C order of the cropped image.
    values: Vec<f64>,
    /// Their bins (1-based).
    bins: Vec<u32>,
    /// Discretised cropped image, 0 outside the ROI.
    levels: Array3<u32>,
    /// The largest bin.
    ng: u32,
}

/// ROI checks and resegmentation on the working image; `img_box` is the image cropped to `bbox`, the ROI
/// box with `count` voxels.
fn prepare_roi<M: MaskVoxel>(
    img_box: ArrayView3<f64>,
    mask: ArrayView3<M>,
    bbox: BoundingBox,
    count: usize,
    settings: &Settings,
) -> Result<Roi> {
    let label = settings.label;
    check_roi(
        &bbox,
        count,
        settings.minimum_roi_dimensions,
        settings.minimum_roi_size,
    )?;
    let mut roi = crop(mask, &bbox).mapv(|m| m.is_label(label));
    let original_roi = settings.resegment_range.as_ref().map(|_| roi.clone());
    // The (possibly resegmented) bounding box, relative to the crop.
    let mut sub = BoundingBox {
        lo: [0; 3],
        hi: bbox.size(),
    };
    if let Some(range) = &settings.resegment_range {
        let n = resegment(img_box, &mut roi, range, settings.resegment_mode)?;
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
    let full = BoundingBox {
        lo: [
            bbox.lo[0] + sub.lo[0],
            bbox.lo[1] + sub.lo[1],
            bbox.lo[2] + sub.lo[2],
        ],
        hi: [
            bbox.lo[0] + sub.hi[0],
            bbox.lo[1] + sub.hi[1],
            bbox.lo[2] + sub.hi[2],
        ],
    };
    Ok(Roi {
        bbox: full,
        shape_roi,
        roi: roi_c,
    })
}

/// Discretises the ROI of one (filtered) image, `img_c` already cropped to the ROI box.
fn discretise_roi(
    img_c: ArrayView3<f64>,
    roi: &Roi,
    kind: PixelKind,
    settings: &Settings,
) -> Result<Prepared> {
    let values: Vec<f64> = img_c
        .iter()
        .zip(roi.roi.iter())
        .filter_map(|(&v, &m)| m.then_some(v))
        .collect();
    let (bins, ng) = discretize(&values, kind, settings.binning)?;
    let mut levels = Array3::<u32>::zeros(roi.roi.dim());
    let mut next = bins.iter();
    Zip::from(&mut levels).and(&roi.roi).for_each(|l, &m| {
        if m {
            *l = *next.next().unwrap_or(&0);
        }
    });
    Ok(Prepared {
        values,
        bins,
        levels,
        ng,
    })
}

/// All features of a non-shape `class` on prepared data, as `(name, value)` in PyRadiomics' order
/// (deprecated included where they produce a value), restricted to `wanted`.
fn class_features(
    class: FeatureClass,
    p: &Prepared,
    spacing: [f64; 3],
    settings: &Settings,
    wanted: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    match class {
        FeatureClass::FirstOrder => firstorder_all(
            &p.values,
            &p.bins,
            spacing,
            settings.voxel_array_shift,
            settings.conventions,
        ),
        FeatureClass::Shape | FeatureClass::Shape2D => Err(Error::FeatureClass {
            class: class.name(),
            reason: "a shape class is computed from the mask only".into(),
        }),
        texture => {
            let params = TextureParams {
                spacing,
                ..settings.texture.clone()
            };
            texture_features(texture, p.levels.view(), p.ng, &params, wanted)
        }
    }
}

/// Shape features of `class` (3-D or 2-D) on the ROI.
fn shape_features(
    class: FeatureClass,
    roi: &Roi,
    spacing: [f64; 3],
    settings: &Settings,
) -> Result<Vec<(&'static str, f64)>> {
    match class {
        FeatureClass::Shape2D => shape2d_all(
            roi.shape_roi.view(),
            spacing,
            settings.texture.force_2d_dimension,
        ),
        _ => shape_all(roi.shape_roi.view(), spacing, settings.conventions),
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
/// order. Equivalent to PyRadiomics' `RadiomicsFeatureExtractor(**settings).execute(image, mask)` without
/// the `diagnostics_*` entries: `normalize` on the whole image, then `resampledPixelSpacing` (image with
/// `interpolator`, mask nearest-neighbour, on PyRadiomics' cropped grid) or `preCrop`, ROI checks, shape
/// (and shape2D with force2D), then every enabled image type (`Original`, `Square`, `SquareRoot`,
/// `Logarithm`, `Exponential`, `Gradient`) with the other classes. Origin 0 and identity direction are
/// assumed for the resampling grid.
///
/// ```text
/// Features = [("original_shape_Elongation", …), …, ("original_ngtdm_Strength", …)]   (107 by default)
/// ```
///
/// # Errors
///
/// Settings errors ([`Settings::check`]), [`Error::GeometryMismatch`], [`Error::InvalidSpacing`],
/// [`Error::LabelNotPresent`], [`Error::RoiTooFewDimensions`] (a single voxel always),
/// [`Error::RoiTooSmall`], [`Error::NonFiniteInRoi`], [`Error::TooManyBins`], [`Error::Unsupported`]
/// (interpolators other than nearest neighbour, linear and B-spline).
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
    let label = settings.label;
    // 1. normalize (whole image, float64 result), before any resampling.
    if let Some(norm) = &settings.normalization {
        let (bbox, _) = roi_bounds(mask, label)?;
        check_finite(image, mask, &bbox, label)?;
        let mut full = image.mapv(Voxel::to_f64);
        normalize_image(image, &mut full, norm)?;
        let rest = Settings {
            normalization: None,
            ..settings.clone()
        };
        return extract(full.view(), mask, spacing, &rest);
    }
    // 2. resample (or only crop when the spacing does not change), or preCrop.
    if let Some(target) = settings.resampled_spacing {
        let (bbox, _) = roi_bounds(mask, label)?;
        let rest = Settings {
            resampled_spacing: None,
            pre_crop: false,
            ..settings.clone()
        };
        let dims = [id.0, id.1, id.2];
        return match resample_grid(&bbox, dims, spacing, target, settings.pad_distance) {
            None => {
                let b = padded(&bbox, settings.pad_distance, dims);
                extract(
                    crop(image, &b).view(),
                    crop(mask, &b).view(),
                    spacing,
                    &rest,
                )
            }
            Some(grid) => {
                let img = resample_image(image, spacing, &grid, settings.interpolator).ok_or(
                    Error::Unsupported(
                        "interpolator other than sitkNearestNeighbor, sitkLinear, sitkBSpline",
                    ),
                )?;
                let m = resample_mask(mask, spacing, &grid);
                extract(img.view(), m.view(), grid.spacing, &rest)
            }
        };
    }
    if settings.pre_crop {
        let (bbox, _) = roi_bounds(mask, label)?;
        let rest = Settings {
            pre_crop: false,
            ..settings.clone()
        };
        let dims = [id.0, id.1, id.2];
        let b = padded(&bbox, settings.pad_distance, dims);
        if b.lo != [0; 3] || b.hi != dims {
            return extract(
                crop(image, &b).view(),
                crop(mask, &b).view(),
                spacing,
                &rest,
            );
        }
    }
    extract_working(image, mask, spacing, settings)
}

/// The ROI box grown by `pad` voxels, clipped to the image (`cropToTumorMask` with `padDistance`).
fn padded(bbox: &BoundingBox, pad: usize, dims: [usize; 3]) -> BoundingBox {
    let mut b = *bbox;
    for (a, &d) in dims.iter().enumerate() {
        b.lo[a] = bbox.lo[a].saturating_sub(pad);
        b.hi[a] = (bbox.hi[a] + pad).min(d);
    }
    b
}

/// [`Error::NonFiniteInRoi`] for the first non-finite ROI voxel (index in the caller's array).
fn check_finite<T: Voxel, M: MaskVoxel>(
    image: ArrayView3<T>,
    mask: ArrayView3<M>,
    bbox: &BoundingBox,
    label: u32,
) -> Result<Array3<f64>> {
    let roi = crop(mask, bbox).mapv(|m| m.is_label(label));
    to_f64_checked(crop(image, bbox).view(), roi.view()).map_err(|e| match e {
        Error::NonFiniteInRoi { value, index } => Error::NonFiniteInRoi {
            value,
            index: [
                index[0] + bbox.lo[0],
                index[1] + bbox.lo[1],
                index[2] + bbox.lo[2],
            ],
        },
        other => other,
    })
}

/// The derived images of one image type, each cropped to the ROI box `roi_box` as `f64`, with its feature
/// prefix and pixel kind, in PyRadiomics' yield order; filters run on the whole working image (`img_box` is
/// the Original image cropped to `bbox`, which contains `roi_box`).
fn derived_images<T: Voxel>(
    image: ArrayView3<T>,
    image_type: ImageType,
    spacing: [f64; 3],
    settings: &Settings,
    (img_box, bbox, roi_box): (&Array3<f64>, &BoundingBox, &BoundingBox),
) -> Vec<(String, Array3<f64>, PixelKind)> {
    if image_type == ImageType::Original {
        let rel = BoundingBox {
            lo: [
                roi_box.lo[0] - bbox.lo[0],
                roi_box.lo[1] - bbox.lo[1],
                roi_box.lo[2] - bbox.lo[2],
            ],
            hi: [
                roi_box.hi[0] - bbox.lo[0],
                roi_box.hi[1] - bbox.lo[1],
                roi_box.hi[2] - bbox.lo[2],
            ],
        };
        return vec![(
            image_type.prefix().to_string(),
            crop(img_box.view(), &rel),
            T::KIND,
        )];
    }
    let full = image.mapv(Voxel::to_f64);
    let one = |img: Array3<f64>, kind| vec![(image_type.prefix().to_string(), img, kind)];
    let images = match image_type {
        ImageType::Original => one(full, T::KIND),
        ImageType::Square => one(square_image(&full), PixelKind::Float64),
        ImageType::SquareRoot => one(square_root_image(&full), PixelKind::Float64),
        ImageType::Logarithm => one(logarithm_image(&full), PixelKind::Float64),
        ImageType::Exponential => one(exponential_image(&full), PixelKind::Float64),
        ImageType::Gradient => one(
            gradient_magnitude(full.view(), spacing, settings.gradient_use_spacing).mapv(f64::from),
            PixelKind::Float32,
        ),
        ImageType::Wavelet => {
            let force = settings
                .texture
                .force_2d
                .then_some(settings.texture.force_2d_dimension);
            let (start, level) = (settings.wavelet_start_level, settings.wavelet_level);
            if T::KIND == PixelKind::Float32 {
                #[allow(clippy::cast_possible_truncation)]
                let f = full.mapv(|v| v as f32);
                wavelet_images(f.view(), force, start, level)
                    .into_iter()
                    .map(|(n, b)| (n, b, PixelKind::Float32))
                    .collect()
            } else {
                wavelet_images(full.view(), force, start, level)
                    .into_iter()
                    .map(|(n, b)| (n, b, PixelKind::Float64))
                    .collect()
            }
        }
    };
    images
        .into_iter()
        .map(|(n, img, kind)| (n, crop(img.view(), roi_box), kind))
        .collect()
}

/// Extraction on the working image (after normalisation, resampling and pre-cropping).
fn extract_working<T: Voxel, M: MaskVoxel>(
    image: ArrayView3<T>,
    mask: ArrayView3<M>,
    spacing: [f64; 3],
    settings: &Settings,
) -> Result<Features> {
    let label = settings.label;
    let (bbox, count) = roi_bounds(mask, label)?;
    let img_box = check_finite(image, mask, &bbox, label)?;
    let roi = prepare_roi(img_box.view(), mask, bbox, count, settings)?;
    // Shape classes first (PyRadiomics `computeShape`: shape, then shape2D with force2D), then per image type
    // the other classes in their enabled order.
    let find = |c: FeatureClass| settings.enabled.iter().find(|(e, _)| *e == c);
    let mut shape_jobs: Vec<(FeatureClass, Selection)> = Vec::new();
    if let Some((_, sel)) = find(FeatureClass::Shape) {
        shape_jobs.push((FeatureClass::Shape, sel.clone()));
    }
    if let Some((_, sel)) = find(FeatureClass::Shape2D) {
        // PyRadiomics tests the bounding box in SimpleITK's (x, y, z) order with force2Ddimension as index
        // (so it looks at array axis 2 − d); shape2D itself then requires one slice along array axis d.
        let d = settings.texture.force_2d_dimension;
        if settings.texture.force_2d && roi.bbox.size()[2 - d] > 1 {
            shape_jobs.push((FeatureClass::Shape2D, sel.clone()));
        }
    }
    let mut classes: Vec<(FeatureClass, Selection)> = Vec::new();
    for (c, sel) in &settings.enabled {
        if !matches!(c, FeatureClass::Shape | FeatureClass::Shape2D)
            && !classes.iter().any(|(k, _)| k == c)
        {
            classes.push((*c, sel.clone()));
        }
    }
    // Derived images in image-type order (one per type, eight per wavelet level), each discretised once.
    let mut types: Vec<ImageType> = Vec::new();
    if !classes.is_empty() {
        for &t in &settings.image_types {
            if !types.contains(&t) {
                types.push(t);
            }
        }
    }
    let prepared: Vec<(String, Prepared)> = types
        .par_iter()
        .map(|&t| {
            derived_images(image, t, spacing, settings, (&img_box, &bbox, &roi.bbox))
                .into_iter()
                .map(|(name, img_c, kind)| {
                    discretise_roi(img_c.view(), &roi, kind, settings).map(|p| (name, p))
                })
                .collect::<Result<Vec<_>>>()
        })
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect();
    // Jobs: shape classes first, then per derived image the classes in their enabled order.
    let mut jobs: Vec<(Option<usize>, FeatureClass, &Selection)> =
        shape_jobs.iter().map(|(c, s)| (None, *c, s)).collect();
    for i in 0..prepared.len() {
        jobs.extend(classes.iter().map(|(c, s)| (Some(i), *c, s)));
    }
    let results: Vec<Result<Vec<(String, f64)>>> = jobs
        .par_iter()
        .map(|&(image_index, class, selection)| {
            let wanted = wanted_names(class, selection);
            let (prefix, all) = match image_index {
                None => ("original", shape_features(class, &roi, spacing, settings)?),
                Some(i) => {
                    let (name, p) = &prepared[i];
                    (
                        name.as_str(),
                        class_features(class, p, spacing, settings, &wanted)?,
                    )
                }
            };
            Ok(wanted
                .iter()
                .filter_map(|w| {
                    all.iter()
                        .find(|(n, _)| n == w)
                        .map(|&(n, v)| (format!("{prefix}_{}_{}", class.name(), n), v))
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
