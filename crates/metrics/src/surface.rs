//! Surface distances: border voxels, directed distances, Hausdorff distance and its percentiles, ASSD and
//! normalised surface Dice — in millimetres or in voxel units.
//!
//! Surfaces ([`Surface`]) are face-connected (6-neighbourhood) border voxels, as the reference scorers take
//! them:
//!
//! ```text
//! ErosionBorder:  m ∧ ¬erode(m)   (6-cross, outside the image = background)   MONAI, medpy, scipy
//! LabelContour:   m ∧ (some in-image face neighbour is background)             SimpleITK LabelContour (MAMA-MIA)
//! ```
//!
//! Directed distances `d_PG(p) = min_{g ∈ ∂G} ‖s ⊙ (p − g)‖` for every `p ∈ ∂P` (and `d_GP` likewise) come from
//! an exact EDT ([`crate::distance_to_set`]) of the other surface — equal to the KD-tree nearest neighbour of
//! MONAI and MAMA-MIA. Both masks are first cropped to their union bounding box plus one voxel, which keeps
//! every surface voxel and leaves all distances unchanged (`metrics.md` §6).
//!
//! ```text
//! HD      = max(max d_PG, max d_GP)
//! HD_q    = max(P_q(d_PG), P_q(d_GP))      Hd95Rule::MaxOfDirected  (MONAI, MAMA-MIA)
//!         = P_q(d_PG ∪ d_GP)               Hd95Rule::Union          (medpy hd95)
//!         = P_q(d_PG)                      Hd95Rule::PredToGt       (MONAI directed=True)
//! ASSD    = mean(d_PG ∪ d_GP)              AssdRule::Pooled         (MONAI, medpy 0.5)
//!         = (mean d_PG + mean d_GP) / 2    AssdRule::MeanOfDirected
//! NSD_τ   = (#{d_PG ≤ τ} + #{d_GP ≤ τ}) / (|∂P| + |∂G|)   (MONAI compute_surface_dice, edge voxels)
//! ```
//!
//! `P_q` is numpy's linear percentile ([`crate::percentile`]). Empty surfaces follow an explicit
//! [`EmptyRule`].
//!
//! References: MONAI 1.6 `monai/metrics/{hausdorff_distance, surface_distance, surface_dice, utils}.py`;
//! medpy 0.5.2 `medpy/metric/binary.py` (`__surface_distances`, `hd95`, `assd`); SimpleITK `LabelContour`;
//! LidiaGarrucho/MAMA-MIA `src/challenge/metrics.py`; `/work/shared/reference/metrics.md` §2–§5.

use ndarray::{s, Array3, ArrayView3};

use crate::distance_transform::squared_edt_flat;
use crate::error::{Error, Result};
use crate::mask::{check_same_shape, check_spacing, grow_bbox, union_bbox, Spacing};
use crate::percentile::percentile_in_place;
use crate::policy::EmptyRule;

/// Which voxels make up the surface of a mask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Surface {
    /// `mask XOR binary_erosion(mask)` with the 6-connected cross and border value 0: object voxels on the
    /// image edge are surface voxels (MONAI default, medpy, scipy).
    #[default]
    ErosionBorder,
    /// SimpleITK `LabelContour` (face connectivity, background 0): only in-image neighbours count, so an
    /// object voxel on the image edge is a contour voxel only if it touches in-image background (MAMA-MIA).
    LabelContour,
}

/// The unit of distances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Units {
    /// Millimetres: index differences scaled by the spacing.
    #[default]
    Millimetre,
    /// Voxel index units: the spacing is ignored (MAMA-MIA's HD95).
    Voxel,
}

/// Which percentile of the directed distances a percentile Hausdorff distance takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Hd95Rule {
    /// `max(P_q(d_PG), P_q(d_GP))` (MONAI `compute_hausdorff_distance`, MAMA-MIA).
    #[default]
    MaxOfDirected,
    /// `P_q` of the concatenation `d_PG ∪ d_GP` (medpy `hd95`).
    Union,
    /// `P_q(d_PG)`, prediction to ground truth only (MONAI `directed=True`).
    PredToGt,
}

/// How the average surface distance combines the two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AssdRule {
    /// Mean of the concatenation `d_PG ∪ d_GP` (MONAI `symmetric=True`, medpy 0.5 `assd`).
    #[default]
    Pooled,
    /// `(mean d_PG + mean d_GP) / 2` (older medpy).
    MeanOfDirected,
}

/// Surface definition and units of a distance computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SurfaceOptions {
    /// Which voxels are surface voxels.
    pub surface: Surface,
    /// Millimetres or voxel units.
    pub units: Units,
}

/// The surface voxels of `mask` (see [`Surface`]).
///
/// # Examples
/// ```
/// use medmetrics::{surface_voxels, Surface};
/// let m = ndarray::Array3::from_elem((3, 3, 3), true);
/// assert_eq!(surface_voxels(m.view(), Surface::ErosionBorder).iter().filter(|&&v| v).count(), 26);
/// assert_eq!(surface_voxels(m.view(), Surface::LabelContour).iter().filter(|&&v| v).count(), 0);
/// ```
#[must_use]
pub fn surface_voxels(mask: ArrayView3<'_, bool>, surface: Surface) -> Array3<bool> {
    let (nz, ny, nx) = mask.dim();
    let outside_is_background = surface == Surface::ErosionBorder;
    let mut out = Array3::from_elem((nz, ny, nx), false);
    for ((z, y, x), &m) in mask.indexed_iter() {
        if !m {
            continue;
        }
        let neighbours = [
            (z.checked_sub(1), Some(y), Some(x)),
            ((z + 1 < nz).then_some(z + 1), Some(y), Some(x)),
            (Some(z), y.checked_sub(1), Some(x)),
            (Some(z), (y + 1 < ny).then_some(y + 1), Some(x)),
            (Some(z), Some(y), x.checked_sub(1)),
            (Some(z), Some(y), (x + 1 < nx).then_some(x + 1)),
        ];
        out[[z, y, x]] = neighbours.iter().any(|n| match n {
            (Some(a), Some(b), Some(c)) => !mask[[*a, *b, *c]],
            _ => outside_is_background,
        });
    }
    out
}

/// The elements of a freshly built (standard-layout) array.
fn standard_slice(a: &Array3<bool>) -> &[bool] {
    a.as_slice()
        .unwrap_or_else(|| unreachable!("arrays built by surface_voxels are in standard layout"))
}

/// The two directed surface-distance lists of a prediction `P` and a ground truth `G`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SurfaceDistances {
    n_pred: usize,
    n_gt: usize,
    pred_to_gt: Vec<f64>,
    gt_to_pred: Vec<f64>,
}

impl SurfaceDistances {
    /// Directed distances between the surfaces of `pred` and `gt` (shape `(z, y, x)`, spacing `[sz, sy, sx]`
    /// in mm, ignored for [`Units::Voxel`]). When either surface is empty both lists are empty and the metric
    /// methods apply their [`EmptyRule`].
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`]; [`Error::InvalidSpacing`].
    pub fn new(
        pred: ArrayView3<'_, bool>,
        gt: ArrayView3<'_, bool>,
        spacing: Spacing,
        options: SurfaceOptions,
    ) -> Result<Self> {
        check_same_shape("prediction vs ground truth", pred.shape(), gt.shape())?;
        check_spacing(spacing)?;
        let spacing = match options.units {
            Units::Millimetre => spacing,
            Units::Voxel => [1.0; 3],
        };
        let (nz, ny, nx) = pred.dim();
        let Some(bbox) = union_bbox(pred, gt) else {
            return Ok(Self::default());
        };
        let [(z0, z1), (y0, y1), (x0, x1)] = grow_bbox(bbox, 1, [nz, ny, nx]);
        // Inside the grown box, an out-of-box neighbour of an object voxel is out of the image.
        let bp = surface_voxels(pred.slice(s![z0..z1, y0..y1, x0..x1]), options.surface);
        let bg = surface_voxels(gt.slice(s![z0..z1, y0..y1, x0..x1]), options.surface);
        let n_p = bp.iter().filter(|&&v| v).count();
        let n_g = bg.iter().filter(|&&v| v).count();
        if n_p == 0 || n_g == 0 {
            return Ok(Self {
                n_pred: n_p,
                n_gt: n_g,
                ..Self::default()
            });
        }
        let dims = [z1 - z0, y1 - y0, x1 - x0];
        let (fp, fg) = (standard_slice(&bp), standard_slice(&bg));
        let dist_to_g = squared_edt_flat(fg, dims, spacing);
        let dist_to_p = squared_edt_flat(fp, dims, spacing);
        let sample = |surface: &[bool], dist: &[f64]| -> Vec<f64> {
            surface
                .iter()
                .zip(dist)
                .filter(|(&on, _)| on)
                .map(|(_, d)| d.sqrt())
                .collect()
        };
        Ok(Self {
            n_pred: n_p,
            n_gt: n_g,
            pred_to_gt: sample(fp, &dist_to_g),
            gt_to_pred: sample(fg, &dist_to_p),
        })
    }

    /// `d_PG`: for every prediction surface voxel, the distance to the nearest ground-truth surface voxel
    /// (empty when either surface is empty).
    #[must_use]
    pub fn pred_to_gt(&self) -> &[f64] {
        &self.pred_to_gt
    }

    /// `d_GP`: for every ground-truth surface voxel, the distance to the nearest prediction surface voxel
    /// (empty when either surface is empty).
    #[must_use]
    pub fn gt_to_pred(&self) -> &[f64] {
        &self.gt_to_pred
    }

    /// Surface sizes `(|∂P|, |∂G|)`.
    #[must_use]
    pub fn counts(&self) -> (usize, usize) {
        (self.n_pred, self.n_gt)
    }

    fn empty_value(&self, metric: &'static str, empty: EmptyRule) -> Result<Option<f64>> {
        empty.check(metric, self.n_pred, self.n_gt)
    }

    /// Hausdorff distance `max(max d_PG, max d_GP)`.
    ///
    /// # Errors
    /// [`Error::Undefined`] for an empty surface whose [`EmptyRule`] policy is `Error`.
    pub fn hausdorff(&self, empty: EmptyRule) -> Result<f64> {
        if let Some(v) = self.empty_value("Hausdorff distance", empty)? {
            return Ok(v);
        }
        Ok(self
            .pred_to_gt
            .iter()
            .chain(&self.gt_to_pred)
            .copied()
            .fold(0.0, f64::max))
    }

    /// The percentile Hausdorff distance at `q` (95 for HD95) under `rule`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `q` outside `[0, 100]`; [`Error::Undefined`] as
    /// [`SurfaceDistances::hausdorff`].
    pub fn percentile_hausdorff(&self, q: f64, rule: Hd95Rule, empty: EmptyRule) -> Result<f64> {
        if !(0.0..=100.0).contains(&q) {
            return Err(Error::InvalidParameter {
                key: "q",
                reason: format!("percentile {q} is outside [0, 100]"),
            });
        }
        if let Some(v) = self.empty_value("percentile Hausdorff distance", empty)? {
            return Ok(v);
        }
        match rule {
            Hd95Rule::MaxOfDirected => {
                let a = percentile_in_place(&mut self.pred_to_gt.clone(), q)?;
                let b = percentile_in_place(&mut self.gt_to_pred.clone(), q)?;
                Ok(a.max(b))
            }
            Hd95Rule::Union => {
                let mut all = [self.pred_to_gt.as_slice(), self.gt_to_pred.as_slice()].concat();
                percentile_in_place(&mut all, q)
            }
            Hd95Rule::PredToGt => percentile_in_place(&mut self.pred_to_gt.clone(), q),
        }
    }

    /// Average symmetric surface distance under `rule`.
    ///
    /// # Errors
    /// [`Error::Undefined`] as [`SurfaceDistances::hausdorff`].
    #[allow(clippy::cast_precision_loss)]
    pub fn assd(&self, rule: AssdRule, empty: EmptyRule) -> Result<f64> {
        if let Some(v) = self.empty_value("average surface distance", empty)? {
            return Ok(v);
        }
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        let (a, b) = (&self.pred_to_gt, &self.gt_to_pred);
        Ok(match rule {
            AssdRule::Pooled => (sum(a) + sum(b)) / (a.len() + b.len()) as f64,
            AssdRule::MeanOfDirected => 0.5 * (sum(a) / a.len() as f64 + sum(b) / b.len() as f64),
        })
    }

    /// Normalised surface Dice at tolerance `tau` (same unit as the distances), counting surface voxels:
    /// `(#{d_PG ≤ τ} + #{d_GP ≤ τ}) / (|∂P| + |∂G|)`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or NaN `tau`; [`Error::Undefined`] as
    /// [`SurfaceDistances::hausdorff`] (MONAI: NaN when both are empty, 0 when one is).
    #[allow(clippy::cast_precision_loss)]
    pub fn nsd(&self, tau: f64, empty: EmptyRule) -> Result<f64> {
        if tau.is_nan() || tau < 0.0 {
            return Err(Error::InvalidParameter {
                key: "tau",
                reason: format!("tolerance {tau} must be ≥ 0"),
            });
        }
        if let Some(v) = self.empty_value("normalised surface Dice", empty)? {
            return Ok(v);
        }
        let (a, b) = (&self.pred_to_gt, &self.gt_to_pred);
        let within = a.iter().chain(b).filter(|&&d| d <= tau).count();
        Ok(within as f64 / (a.len() + b.len()) as f64)
    }
}

/// Hausdorff distance between the surfaces of `pred` and `gt` (see [`SurfaceDistances::hausdorff`]).
///
/// # Errors
/// As [`SurfaceDistances::new`] and [`SurfaceDistances::hausdorff`].
pub fn hausdorff(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    spacing: Spacing,
    options: SurfaceOptions,
    empty: EmptyRule,
) -> Result<f64> {
    SurfaceDistances::new(pred, gt, spacing, options)?.hausdorff(empty)
}

/// 95th-percentile Hausdorff distance under `rule` (see [`SurfaceDistances::percentile_hausdorff`]).
///
/// # Errors
/// As [`SurfaceDistances::new`] and [`SurfaceDistances::percentile_hausdorff`].
///
/// # Examples
/// ```
/// use medmetrics::{hd95, EmptyRule, Hd95Rule, SurfaceOptions};
/// let mut p = ndarray::Array3::from_elem((1, 1, 8), false);
/// let mut g = p.clone();
/// p[[0, 0, 1]] = true;
/// g[[0, 0, 4]] = true;
/// let d = hd95(p.view(), g.view(), [1.0, 1.0, 0.5], SurfaceOptions::default(),
///              Hd95Rule::MaxOfDirected, EmptyRule::ERROR).unwrap();
/// assert!((d - 1.5).abs() < 1e-12);
/// ```
pub fn hd95(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    spacing: Spacing,
    options: SurfaceOptions,
    rule: Hd95Rule,
    empty: EmptyRule,
) -> Result<f64> {
    SurfaceDistances::new(pred, gt, spacing, options)?.percentile_hausdorff(95.0, rule, empty)
}

/// Average symmetric surface distance under `rule` (see [`SurfaceDistances::assd`]).
///
/// # Errors
/// As [`SurfaceDistances::new`] and [`SurfaceDistances::assd`].
pub fn assd(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    spacing: Spacing,
    options: SurfaceOptions,
    rule: AssdRule,
    empty: EmptyRule,
) -> Result<f64> {
    SurfaceDistances::new(pred, gt, spacing, options)?.assd(rule, empty)
}

/// Normalised surface Dice at tolerance `tau` (see [`SurfaceDistances::nsd`]).
///
/// # Errors
/// As [`SurfaceDistances::new`] and [`SurfaceDistances::nsd`].
pub fn nsd(
    pred: ArrayView3<'_, bool>,
    gt: ArrayView3<'_, bool>,
    spacing: Spacing,
    options: SurfaceOptions,
    tau: f64,
    empty: EmptyRule,
) -> Result<f64> {
    SurfaceDistances::new(pred, gt, spacing, options)?.nsd(tau, empty)
}
