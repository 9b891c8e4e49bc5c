//! Image operations before the feature classes: ROI bounding box and checks, cropping, normalisation,
//! resegmentation.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/imageoperations.py` (`getMask`, `checkMask`, `cropToTumorMask`,
//! `normalizeImage`, `resegmentMask`) and SimpleITK's `LabelStatisticsImageFilter` / `NormalizeImageFilter`
//! (ITK `StatisticsImageFilter`: sample standard deviation).

use ndarray::{s, Array3, ArrayView2, ArrayView3, Axis, Zip};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::settings::{Normalization, ResegmentMode};
use crate::voxel::{MaskVoxel, Voxel};

/// An inclusive-exclusive box `[lo, hi)` per array axis `(z, y, x)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BoundingBox {
    /// First index per axis.
    pub lo: [usize; 3],
    /// One past the last index per axis.
    pub hi: [usize; 3],
}

impl BoundingBox {
    /// Extent per axis (`hi − lo`).
    #[must_use]
    pub fn size(&self) -> [usize; 3] {
        [
            self.hi[0] - self.lo[0],
            self.hi[1] - self.lo[1],
            self.hi[2] - self.lo[2],
        ]
    }
}

/// The bounding box and voxel count of the ROI `mask == label` (no allocation beyond one box per plane).
///
/// The only pass over the whole mask: planes in parallel (rayon), each row counted with a vectorisable
/// filter and its first/last ROI voxel found only when it has one.
///
/// # Errors
///
/// [`Error::LabelNotPresent`] when no voxel carries `label`.
pub fn roi_bounds<M: MaskVoxel>(mask: ArrayView3<M>, label: u32) -> Result<(BoundingBox, usize)> {
    let (lo, hi, count) = (0..mask.dim().0)
        .into_par_iter()
        .map(|z| plane_bounds(mask.index_axis(Axis(0), z), z, label))
        .reduce(
            || ([usize::MAX; 3], [0usize; 3], 0usize),
            |(alo, ahi, ac), (blo, bhi, bc)| {
                (
                    [alo[0].min(blo[0]), alo[1].min(blo[1]), alo[2].min(blo[2])],
                    [ahi[0].max(bhi[0]), ahi[1].max(bhi[1]), ahi[2].max(bhi[2])],
                    ac + bc,
                )
            },
        );
    if count == 0 {
        return Err(Error::LabelNotPresent { label });
    }
    Ok((BoundingBox { lo, hi }, count))
}

/// [`roi_bounds`] of one `z` plane: `(lo, hi, count)`, `lo = usize::MAX` when the plane has no ROI voxel.
fn plane_bounds<M: MaskVoxel>(
    plane: ArrayView2<M>,
    z: usize,
    label: u32,
) -> ([usize; 3], [usize; 3], usize) {
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut count = 0usize;
    for (y, row) in plane.outer_iter().enumerate() {
        let (n, first, last) = if let Some(r) = row.as_slice() {
            // 16-bit lane counters per chunk (vectorise even on baseline x86-64).
            let n: usize = r
                .chunks(1 << 15)
                .map(|c| {
                    usize::from(
                        c.iter()
                            .fold(0u16, |a, m| a.wrapping_add(u16::from(m.is_label(label)))),
                    )
                })
                .sum();
            if n == 0 {
                continue;
            }
            let first = r.iter().position(|m| m.is_label(label)).unwrap_or(0);
            let last = r.iter().rposition(|m| m.is_label(label)).unwrap_or(0);
            (n, first, last)
        } else {
            let n = row.iter().filter(|m| m.is_label(label)).count();
            if n == 0 {
                continue;
            }
            let first = row.iter().position(|m| m.is_label(label)).unwrap_or(0);
            let last = row.len()
                - 1
                - row
                    .iter()
                    .rev()
                    .position(|m| m.is_label(label))
                    .unwrap_or(0);
            (n, first, last)
        };
        count += n;
        lo = [lo[0].min(z), lo[1].min(y), lo[2].min(first)];
        hi = [hi[0].max(z + 1), hi[1].max(y + 1), hi[2].max(last + 1)];
    }
    (lo, hi, count)
}

/// PyRadiomics' `checkMask` rules on a found ROI.
///
/// ```text
/// ndims = #axes with bbox size > 1;  ndims == 0 → single voxel → error;  ndims < minimumROIDimensions → error
/// minimumROISize m: error when count ≤ m (PyRadiomics compares with ≤)
/// ```
///
/// # Errors
///
/// [`Error::RoiTooFewDimensions`], [`Error::RoiTooSmall`].
pub fn check_roi(
    bbox: &BoundingBox,
    count: usize,
    minimum_dimensions: usize,
    minimum_size: Option<usize>,
) -> Result<()> {
    let ndims = bbox.size().iter().filter(|&&s| s > 1).count();
    if ndims == 0 || ndims < minimum_dimensions {
        return Err(Error::RoiTooFewDimensions {
            found: ndims,
            required: minimum_dimensions.max(1),
        });
    }
    if let Some(m) = minimum_size {
        if count <= m {
            return Err(Error::RoiTooSmall {
                found: count,
                required: m + 1,
            });
        }
    }
    Ok(())
}

/// Crops `a` to `bbox` (no padding), as `cropToTumorMask` does.
#[must_use]
pub fn crop<T: Clone>(a: ArrayView3<T>, bbox: &BoundingBox) -> Array3<T> {
    a.slice(s![
        bbox.lo[0]..bbox.hi[0],
        bbox.lo[1]..bbox.hi[1],
        bbox.lo[2]..bbox.hi[2]
    ])
    .to_owned()
}

/// The image as `f64`, checked to be finite inside the ROI.
///
/// # Errors
///
/// [`Error::NonFiniteInRoi`] naming the first non-finite ROI voxel.
pub fn to_f64_checked<T: Voxel>(
    image: ArrayView3<T>,
    roi: ArrayView3<bool>,
) -> Result<Array3<f64>> {
    let out = image.mapv(Voxel::to_f64);
    for ((z, y, x), &v) in out.indexed_iter() {
        if !v.is_finite() && roi[(z, y, x)] {
            return Err(Error::NonFiniteInRoi {
                value: v,
                index: [z, y, x],
            });
        }
    }
    Ok(out)
}

/// PyRadiomics' `normalizeImage` (SimpleITK `Normalize` over the **whole** `image`, then outliers, then
/// scale), applied to `target` (the cropped image).
///
/// ```text
/// x' = (x − mean) / s,  s = sqrt(Σ(x − mean)² / (N − 1))   (ITK: sample standard deviation)
/// removeOutliers k: x' = clamp(x', −k, k)
/// x'' = scale · x'
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] (`normalize`) when the image is constant or has a non-finite value.
pub fn normalize_image<T: Voxel>(
    image: ArrayView3<T>,
    target: &mut Array3<f64>,
    params: &Normalization,
) -> Result<()> {
    #[allow(clippy::cast_precision_loss)]
    let n = image.len() as f64;
    let mean = image.iter().map(|v| v.to_f64()).sum::<f64>() / n;
    let var = image
        .iter()
        .map(|v| (v.to_f64() - mean) * (v.to_f64() - mean))
        .sum::<f64>()
        / (n - 1.0);
    let sd = var.sqrt();
    if !(sd.is_finite() && sd > 0.0) {
        return Err(Error::InvalidParameter {
            key: "normalize",
            reason: format!("image standard deviation is {sd}"),
        });
    }
    let k = params.remove_outliers;
    target.mapv_inplace(|v| {
        let mut x = (v - mean) / sd;
        if let Some(k) = k {
            x = x.clamp(-k, k);
        }
        x * params.scale
    });
    Ok(())
}

/// PyRadiomics' `resegmentMask`: keeps the ROI voxels inside the range; returns the new voxel count.
///
/// ```text
/// absolute: thresholds = sorted(range);  relative: max(ROI) · sorted(range);
/// sigma: mean(ROI) + std(ROI) · sorted(range)   (population std)
/// keep x ≥ t0 (and x ≤ t1 when two values)
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] (`resegmentRange`) when ≤ 1 voxel remains (PyRadiomics raises too).
pub fn resegment(
    image: ArrayView3<f64>,
    roi: &mut Array3<bool>,
    range: &[f64],
    mode: ResegmentMode,
) -> Result<usize> {
    let mut sorted = range.to_vec();
    sorted.sort_by(f64::total_cmp);
    let values: Vec<f64> = Zip::from(&image)
        .and(&*roi)
        .fold(Vec::new(), |mut acc, &v, &m| {
            if m {
                acc.push(v);
            }
            acc
        });
    #[allow(clippy::cast_precision_loss)]
    let n = values.len() as f64;
    let thresholds: Vec<f64> = match mode {
        ResegmentMode::Absolute => sorted,
        ResegmentMode::Relative => {
            let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            sorted.iter().map(|t| max * t).collect()
        }
        ResegmentMode::Sigma => {
            let mean = values.iter().sum::<f64>() / n;
            let sd = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
            sorted.iter().map(|t| mean + sd * t).collect()
        }
    };
    let mut count = 0;
    Zip::from(roi).and(&image).for_each(|m, &v| {
        if *m {
            let keep = v >= thresholds[0] && (thresholds.len() < 2 || v <= thresholds[1]);
            *m = keep;
            count += usize::from(keep);
        }
    });
    if count <= 1 {
        return Err(Error::InvalidParameter {
            key: "resegmentRange",
            reason: format!("resegmentation kept {count} voxel(s)"),
        });
    }
    Ok(count)
}

/// Bounding box of a boolean ROI (None when empty).
#[must_use]
pub fn bounding_box(roi: ArrayView3<bool>) -> Option<BoundingBox> {
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    let mut any = false;
    for ((z, y, x), &v) in roi.indexed_iter() {
        if v {
            any = true;
            for (a, i) in [z, y, x].into_iter().enumerate() {
                lo[a] = lo[a].min(i);
                hi[a] = hi[a].max(i + 1);
            }
        }
    }
    any.then_some(BoundingBox { lo, hi })
}
