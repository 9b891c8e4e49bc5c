//! Output shape and the separate-z decision of nnU-Net's resampling.
//!
//! References (read, not copied): MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/preprocessing/resampling/default_resampling.py` (`compute_new_shape`, `get_do_separate_z`,
//! `get_lowres_axis`, `determine_do_sep_z_and_axis`) and nnU-Net v1 1.7.1
//! `nnunet/preprocessing/preprocessing.py` (`resample_patient`) /
//! `nnunet/inference/segmentation_export.py` (`save_segmentation_nifti_from_softmax`). Both versions make
//! the same decision; the golden table `tests/data/resample/manifest.json` (`separate_z`) checks v1 and v2.

use super::config::SeparateZ;
use crate::geometry::Spacing;

/// The array shape after resampling from `spacing` to `new_spacing` (nnU-Net's `compute_new_shape`).
///
/// ```text
/// new_shape[i] = round_half_even( (spacing[i] / new_spacing[i]) · shape[i] )
/// ```
///
/// Python's `round` (v2) and `np.round` (v1) both round ties to even, evaluated on the same f64 product, so
/// `[5, 3, 7]` at 1.5 mm → 1 mm gives `[8, 4, 10]` (7.5 → 8, 4.5 → 4, 10.5 → 10). A non-finite or negative
/// product gives 0 for that axis (nnU-Net would raise).
///
/// # Examples
/// ```
/// use nnunet_preproc::resample::compute_new_shape;
/// assert_eq!(compute_new_shape([160, 256, 256], [1.5, 0.7, 0.7], [1.0, 1.0, 1.0]), [240, 179, 179]);
/// assert_eq!(compute_new_shape([5, 3, 7], [1.5; 3], [1.0; 3]), [8, 4, 10]);
/// ```
#[must_use]
pub fn compute_new_shape(shape: [usize; 3], spacing: Spacing, new_spacing: Spacing) -> [usize; 3] {
    std::array::from_fn(|a| {
        let v = (spacing[a] / new_spacing[a] * shape[a] as f64).round_ties_even();
        if v.is_finite() && v > 0.0 {
            v as usize
        } else {
            0
        }
    })
}

/// nnU-Net's `get_do_separate_z`: `max(spacing) / min(spacing) > threshold`.
fn is_anisotropic(spacing: Spacing, threshold: f64) -> bool {
    let max = spacing.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = spacing.iter().copied().fold(f64::INFINITY, f64::min);
    max / min > threshold
}

/// nnU-Net's `get_lowres_axis` followed by its "exactly one axis" rule: the axis whose spacing is the maximum
/// (`max / spacing == 1` in f64, as the reference tests it), or `None` when two or three axes tie.
#[must_use]
fn lowres_axis(spacing: Spacing) -> Option<usize> {
    let max = spacing.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut found = None;
    for (a, s) in spacing.iter().enumerate() {
        if max / s == 1.0 {
            if found.is_some() {
                return None;
            }
            found = Some(a);
        }
    }
    found
}

/// nnU-Net's automatic separate-z decision (`force_separate_z = None`), identical in v1 and v2.
///
/// ```text
/// if max(current)/min(current) > threshold: axis = argmax(current)
/// elif max(new)/min(new) > threshold:       axis = argmax(new)
/// else:                                     None
/// None as well when two or three axes tie for the maximum spacing of the deciding spacing
/// ```
///
/// Returns the array axis (0 = z, 1 = y, 2 = x) that is resampled on its own (in-plane slices first, then
/// along that axis with `order_z`).
///
/// # Examples
/// ```
/// use nnunet_preproc::resample::separate_z_axis;
/// assert_eq!(separate_z_axis([3.5, 0.8, 0.8], [1.0; 3], 3.0), Some(0));
/// assert_eq!(separate_z_axis([1.5, 0.7, 0.7], [1.0; 3], 3.0), None); // ratio 2.14: plain 3-D
/// assert_eq!(separate_z_axis([0.5, 1.6, 1.6], [1.0; 3], 3.0), None); // two axes tie
/// assert_eq!(separate_z_axis([1.0; 3], [4.0, 1.0, 1.0], 3.0), Some(0)); // decided by the new spacing
/// ```
#[must_use]
pub fn separate_z_axis(current: Spacing, new: Spacing, threshold: f64) -> Option<usize> {
    if is_anisotropic(current, threshold) {
        lowres_axis(current)
    } else if is_anisotropic(new, threshold) {
        lowres_axis(new)
    } else {
        None
    }
}

/// Resolves a [`SeparateZ`] policy to the axis that is resampled separately, if any (nnU-Net's
/// `determine_do_sep_z_and_axis`).
#[must_use]
pub fn resolve_separate_z(
    policy: SeparateZ,
    current: Spacing,
    new: Spacing,
    threshold: f64,
) -> Option<usize> {
    match policy {
        SeparateZ::Auto => separate_z_axis(current, new, threshold),
        SeparateZ::Never => None,
        SeparateZ::Always => lowres_axis(current),
        SeparateZ::Axis(a) => (a < 3).then_some(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_round_to_even() {
        assert_eq!(
            compute_new_shape([9, 11, 13], [0.5; 3], [1.0; 3]),
            [4, 6, 6]
        );
        assert_eq!(compute_new_shape([4, 4, 4], [1.0; 3], [0.0; 3]), [0, 0, 0]);
    }

    #[test]
    fn policies() {
        let (c, n) = ([2.0, 1.0, 1.0], [1.0, 0.8, 0.8]);
        assert_eq!(resolve_separate_z(SeparateZ::Auto, c, n, 3.0), None);
        assert_eq!(resolve_separate_z(SeparateZ::Always, c, n, 3.0), Some(0));
        assert_eq!(
            resolve_separate_z(SeparateZ::Always, [1.0; 3], n, 3.0),
            None
        );
        assert_eq!(
            resolve_separate_z(SeparateZ::Never, [3.5, 0.8, 0.8], n, 3.0),
            None
        );
        assert_eq!(resolve_separate_z(SeparateZ::Axis(2), c, n, 3.0), Some(2));
        assert_eq!(resolve_separate_z(SeparateZ::Axis(7), c, n, 3.0), None);
        assert_eq!(separate_z_axis([3.0, 1.0, 1.0], [1.0; 3], 3.0), None);
    }
}
