//! The full-resolution target spacing (median + anisotropy rule) and the axis transposition derived from it.
//!
//! ```text
//! target      = per-axis median (linear 50th percentile) of the case spacings
//! median_size = per-axis median of the shapes after cropping
//! w = argmax(target) (first maximum), o = the other two axes
//! if target[w] > T·max(target[o])  and  median_size[w]·T < min(median_size[o]):      (T = 3)
//!     t = 10th percentile of spacings[:, w]
//!     target[w] = t < max(target[o]) ? max(target[o]) + 1e-5 : t
//! transpose_forward  = [w] + the remaining axes ascending;  transpose_backward = its inverse
//! ```
//!
//! nnU-Net v2 (`determine_fullres_target_spacing`) and v1's `ExperimentPlanner3D_v21.get_target_spacing`
//! (the planner family MedNeXt uses) implement the same rule; the older v1 `ExperimentPlanner`
//! (`get_target_spacing` of `experiment_planner_baseline_3DUNet.py`) used the plain median and is not
//! reproduced. Both flavours compute the transposition from the final target (override included).
//!
//! References: MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/experiment_planning/experiment_planners/
//! default_experiment_planner.py` (`determine_fullres_target_spacing`, `determine_transpose`); nnU-Net v1
//! `nnunet/experiment_planning/experiment_planner_baseline_3DUNet_v21.py` (`get_target_spacing`),
//! `experiment_planner_baseline_3DUNet.py` (`plan_experiment`: transpose).

use std::path::Path;

use crate::error::{Error, Result};
use crate::fingerprint::DatasetFingerprint;
use crate::geometry::{check_spacing, Spacing};
use crate::np_stats::percentile_sorted_f64;
use crate::plans::Flavour;

/// nnU-Net's `ANISO_THRESHOLD` (v2 `nnunetv2/configuration.py`; v1 `self.anisotropy_threshold = 3`).
pub const ANISOTROPY_THRESHOLD: f64 = 3.0;

fn column_percentile(rows: &[[f64; 3]], axis: usize, q: f64) -> f64 {
    let mut col: Vec<f64> = rows.iter().map(|r| r[axis]).collect();
    col.sort_by(f64::total_cmp);
    percentile_sorted_f64(&col, q)
}

/// The index of the first maximum (`np.argmax`).
fn argmax(v: [f64; 3]) -> usize {
    let mut best = 0;
    for a in 1..3 {
        if v[a] > v[best] {
            best = a;
        }
    }
    best
}

/// The target spacing of `flavour` with nnU-Net's threshold [`ANISOTROPY_THRESHOLD`]; both flavours
/// follow the same rule (module docs).
///
/// # Errors
///
/// As [`target_spacing_with`].
pub fn target_spacing(fp: &DatasetFingerprint, flavour: Flavour) -> Result<Spacing> {
    // v1 (ExperimentPlanner3D_v21) and v2 share the rule; the flavour is kept for API symmetry
    let _ = flavour;
    target_spacing_with(fp, ANISOTROPY_THRESHOLD)
}

/// The median target spacing with the anisotropy override at `anisotropy_threshold` (module docs).
///
/// # Errors
///
/// [`Error::InvalidParameter`] (key `spacings`) when the fingerprint holds no case or its `spacings` and
/// `shapes_after_crop` differ in length, (key `anisotropy_threshold`) for a threshold that is not finite
/// and positive; [`Error::InvalidSpacing`] for a non-finite or non-positive case spacing.
pub fn target_spacing_with(fp: &DatasetFingerprint, anisotropy_threshold: f64) -> Result<Spacing> {
    if !(anisotropy_threshold.is_finite() && anisotropy_threshold > 0.0) {
        return Err(Error::InvalidParameter {
            key: "anisotropy_threshold",
            reason: format!("must be finite and > 0, got {anisotropy_threshold}"),
        });
    }
    if fp.spacings.is_empty() || fp.spacings.len() != fp.shapes_after_crop.len() {
        return Err(Error::InvalidParameter {
            key: "spacings",
            reason: format!(
                "the fingerprint needs at least one case and as many shapes as spacings ({} spacings, {} shapes)",
                fp.spacings.len(),
                fp.shapes_after_crop.len()
            ),
        });
    }
    for s in &fp.spacings {
        check_spacing(*s, Path::new("<dataset fingerprint>"))?;
    }
    let sizes: Vec<[f64; 3]> = fp
        .shapes_after_crop
        .iter()
        .map(|s| s.map(|v| v as f64))
        .collect();
    let mut target: Spacing = std::array::from_fn(|a| column_percentile(&fp.spacings, a, 50.0));
    let target_size: [f64; 3] = std::array::from_fn(|a| column_percentile(&sizes, a, 50.0));
    let worst = argmax(target);
    let others: Vec<usize> = (0..3).filter(|&a| a != worst).collect();
    let max_other_spacing = others
        .iter()
        .map(|&a| target[a])
        .fold(f64::NEG_INFINITY, f64::max);
    let min_other_size = others
        .iter()
        .map(|&a| target_size[a])
        .fold(f64::INFINITY, f64::min);
    let aniso_spacing = target[worst] > anisotropy_threshold * max_other_spacing;
    let aniso_voxels = target_size[worst] * anisotropy_threshold < min_other_size;
    if aniso_spacing && aniso_voxels {
        let mut t = column_percentile(&fp.spacings, worst, 10.0);
        if t < max_other_spacing {
            t = max_other_spacing.max(t) + 1e-5;
        }
        target[worst] = t;
    }
    Ok(target)
}

/// `transpose_forward`: the axis with the largest target spacing first (first maximum), then the others
/// in ascending order. The identity for isotropic targets.
#[must_use]
pub fn transpose_forward(target: Spacing) -> [usize; 3] {
    let w = argmax(target);
    let mut out = [w, 0, 0];
    let mut k = 1;
    for a in 0..3 {
        if a != w {
            out[k] = a;
            k += 1;
        }
    }
    out
}

/// `transpose_backward`: the inverse permutation of `forward` (`backward[forward[i]] = i`).
#[must_use]
pub fn transpose_backward(forward: [usize; 3]) -> [usize; 3] {
    let mut out = [0; 3];
    for (i, &f) in forward.iter().enumerate() {
        if f < 3 {
            out[f] = i;
        }
    }
    out
}

/// Whether `p` is a permutation of `[0, 1, 2]`.
#[must_use]
pub fn is_permutation(p: [usize; 3]) -> bool {
    let mut seen = [false; 3];
    p.iter()
        .all(|&a| a < 3 && !std::mem::replace(&mut seen[a], true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes() {
        assert_eq!(transpose_forward([1.0, 1.0, 1.0]), [0, 1, 2]);
        assert_eq!(transpose_forward([0.7, 3.0, 0.7]), [1, 0, 2]);
        assert_eq!(transpose_forward([0.7, 0.7, 5.0]), [2, 0, 1]);
        assert_eq!(transpose_backward([2, 0, 1]), [1, 2, 0]);
        assert!(
            is_permutation([2, 0, 1]) && !is_permutation([0, 0, 1]) && !is_permutation([0, 1, 3])
        );
    }
}
