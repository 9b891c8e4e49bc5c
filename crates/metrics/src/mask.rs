//! Mask inputs: label values, binarisation with validation, spacing checks and bounding boxes.
//!
//! Segmentation metrics take binary masks as `ArrayView3<bool>` in `(z, y, x)` order with spacing
//! `[sz, sy, sx]` in mm (`docs/architecture.md`). Label maps of any integer or float type are turned into
//! masks with [`binary_mask`] (values must be 0 or 1) or [`label_mask`] (`value == label`).

use ndarray::ArrayView3;

use crate::error::{Error, Result};

/// Voxel spacing in mm along array axes `(z, y, x)`.
pub type Spacing = [f64; 3];

mod sealed {
    pub trait Sealed {}
}

/// Element types accepted as label values (`bool`, integers, floats).
pub trait LabelValue: Copy + Send + Sync + sealed::Sealed {
    /// The value as `f64` (booleans as 0/1).
    fn to_f64(self) -> f64;
}

macro_rules! impl_label {
    ($($t:ty),*) => {$(
        impl sealed::Sealed for $t {}
        impl LabelValue for $t {
            #[inline]
            #[allow(clippy::cast_lossless, clippy::cast_precision_loss)]
            fn to_f64(self) -> f64 { self as f64 }
        }
    )*};
}
impl_label!(u8, i8, u16, i16, u32, i32, u64, i64, f32, f64);
impl sealed::Sealed for bool {}
impl LabelValue for bool {
    #[inline]
    fn to_f64(self) -> f64 {
        f64::from(u8::from(self))
    }
}

/// A binary mask from a 0/1 label map (`true` where the value is 1).
///
/// # Errors
/// [`Error::NonBinary`] naming `what` and the first voxel whose value is neither 0 nor 1 (NaN included).
///
/// # Examples
/// ```
/// let labels = ndarray::array![[[0u8, 1], [1, 0]]];
/// let mask = medmetrics::binary_mask(labels.view(), "prediction").unwrap();
/// assert_eq!(mask.iter().filter(|&&v| v).count(), 2);
/// assert!(medmetrics::binary_mask(ndarray::array![[[0u8, 2]]].view(), "prediction").is_err());
/// ```
pub fn binary_mask<T: LabelValue>(
    labels: ArrayView3<'_, T>,
    what: &'static str,
) -> Result<ndarray::Array3<bool>> {
    let bad = |v: f64| v != 0.0 && v != 1.0;
    let first_bad = match labels.as_slice() {
        // Fast path: one linear scan of the contiguous data.
        Some(s) => s.iter().position(|&v| bad(v.to_f64())).map(|i| {
            let (_, ny, nx) = labels.dim();
            ((i / (ny * nx), (i / nx) % ny, i % nx), s[i].to_f64())
        }),
        None => labels
            .indexed_iter()
            .map(|(i, &v)| (i, v.to_f64()))
            .find(|&(_, v)| bad(v)),
    };
    if let Some((index, value)) = first_bad {
        return Err(Error::NonBinary {
            what,
            index: vec![index.0, index.1, index.2],
            value,
        });
    }
    Ok(labels.mapv(|v| v.to_f64() == 1.0))
}

/// The mask `labels == label`.
#[must_use]
pub fn label_mask<T: LabelValue>(labels: ArrayView3<'_, T>, label: f64) -> ndarray::Array3<bool> {
    labels.mapv(|v| v.to_f64() == label)
}

/// The mask `labels != 0` (every non-zero label; NaN counts as non-zero).
#[must_use]
pub fn nonzero_mask<T: LabelValue>(labels: ArrayView3<'_, T>) -> ndarray::Array3<bool> {
    labels.mapv(|v| v.to_f64() != 0.0)
}

/// Checks that every spacing entry is finite and positive.
pub(crate) fn check_spacing(spacing: Spacing) -> Result<()> {
    if spacing.iter().all(|s| s.is_finite() && *s > 0.0) {
        Ok(())
    } else {
        Err(Error::InvalidSpacing { spacing })
    }
}

/// Checks that two arrays have the same shape.
pub(crate) fn check_same_shape(what: &'static str, a: &[usize], b: &[usize]) -> Result<()> {
    if a == b {
        Ok(())
    } else {
        Err(Error::ShapeMismatch {
            what,
            left: a.to_vec(),
            right: b.to_vec(),
        })
    }
}

/// Half-open index ranges `[lo, hi)` per axis.
pub(crate) type BoxRanges = [(usize, usize); 3];

/// Whether any element of `row` is `true` (an OR reduction that the compiler vectorises).
#[inline]
fn any_true(row: &[bool]) -> bool {
    row.iter().fold(0u8, |acc, &v| acc | u8::from(v)) != 0
}

/// The bounding box of the `true` voxels of `a | b`, or `None` when both are empty.
pub(crate) fn union_bbox(a: ArrayView3<'_, bool>, b: ArrayView3<'_, bool>) -> Option<BoxRanges> {
    let (nz, ny, nx) = a.dim();
    let mut lo = [nz, ny, nx];
    let mut hi = [0usize; 3];
    let mut visit = |r: usize, ra: &[bool], rb: &[bool]| {
        if !any_true(ra) && !any_true(rb) {
            return;
        }
        let first = |v: &[bool]| v.iter().position(|&x| x).unwrap_or(usize::MAX);
        let last = |v: &[bool]| v.iter().rposition(|&x| x).map_or(0, |i| i + 1);
        let (z, y) = (r / ny, r % ny);
        lo[0] = lo[0].min(z);
        hi[0] = hi[0].max(z + 1);
        lo[1] = lo[1].min(y);
        hi[1] = hi[1].max(y + 1);
        lo[2] = lo[2].min(first(ra).min(first(rb)));
        hi[2] = hi[2].max(last(ra).max(last(rb)));
    };
    match (a.as_slice(), b.as_slice()) {
        (Some(sa), Some(sb)) if nx > 0 => {
            for (r, (ra, rb)) in sa.chunks_exact(nx).zip(sb.chunks_exact(nx)).enumerate() {
                visit(r, ra, rb);
            }
        }
        _ => {
            for (r, (ra, rb)) in a.rows().into_iter().zip(b.rows()).enumerate() {
                visit(r, &ra.to_vec(), &rb.to_vec());
            }
        }
    }
    (hi[0] > 0).then_some([(lo[0], hi[0]), (lo[1], hi[1]), (lo[2], hi[2])])
}

/// `bbox` grown by `margin` voxels on every side, clamped to `shape`.
pub(crate) fn grow_bbox(bbox: BoxRanges, margin: usize, shape: [usize; 3]) -> BoxRanges {
    let mut out = bbox;
    for (k, r) in out.iter_mut().enumerate() {
        r.0 = r.0.saturating_sub(margin);
        r.1 = (r.1 + margin).min(shape[k]);
    }
    out
}
