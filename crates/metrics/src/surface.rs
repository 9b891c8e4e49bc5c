//! Surface distances: border voxels, directed distances, Hausdorff distance and its percentiles, ASSD and
//! normalised surface Dice — in millimetres or in voxel units.
//!
//! Surfaces ([`Surface`]) are face-connected (6-neighbourhood) border voxels, as the reference scorers take
//! them, or DeepMind's area-weighted surfels on the voxel-corner grid:
//!
//! ```text
//! ErosionBorder:  m ∧ ¬erode(m)   (6-cross, outside the image = background)   MONAI, medpy, scipy
//! LabelContour:   m ∧ (some in-image face neighbour is background)             SimpleITK LabelContour (MAMA-MIA)
//! Surfels:        voxel corners whose 2×2×2 neighbourhood is mixed, each with a marching-cubes area a_i
//!                 (crate::surfel_area_table)                                   DeepMind surface-distance
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
//! With weights `a_i` (surfel areas for [`Surface::Surfels`], 1 for voxel surfaces) DeepMind's area-weighted
//! forms are
//!
//! ```text
//! HD_q    = max(P^w_q(d_PG), P^w_q(d_GP))      Hd95Rule::AreaWeighted (compute_robust_hausdorff)
//! P^w_q(d) = d_k, first k (ascending (d, a)) with Σ_{i≤k} a_i / Σ a_i ≥ q/100   (step, no interpolation)
//! ASD_PG  = Σ d_PG·a / Σ a   (compute_average_surface_distance; ASSD MeanOfDirected averages the two)
//! NSD_τ   = (Σ a[d_PG ≤ τ] + Σ a[d_GP ≤ τ]) / (Σ a_P + Σ a_G)   (compute_surface_dice_at_tolerance)
//! ```
//!
//! `P_q` is numpy's linear percentile ([`crate::percentile`]). Empty surfaces follow an explicit
//! [`EmptyRule`] (DeepMind: [`EmptyRule::DEEPMIND`] for distances, [`EmptyRule::DEEPMIND_NSD`] for NSD).
//!
//! References: google-deepmind/surface-distance `surface_distance/metrics.py`; MONAI 1.6 `monai/metrics/{hausdorff_distance, surface_distance, surface_dice, utils}.py`;
//! medpy 0.5.2 `medpy/metric/binary.py` (`__surface_distances`, `hd95`, `assd`); SimpleITK `LabelContour`;
//! LidiaGarrucho/MAMA-MIA `src/challenge/metrics.py`; `/work/shared/reference/metrics.md` §2–§5.

use ndarray::{s, Array3, ArrayView3};

use crate::corner_surface::corner_surfaces;
use crate::distance_transform::squared_edt_flat;
use crate::error::{Error, Result};
use crate::mask::{check_same_shape, check_spacing, grow_bbox, union_bbox, Spacing};
use crate::percentile::percentile_in_place;
use crate::policy::EmptyRule;
use crate::weighted::{pairwise_sum, weight_within, weighted_mean, weighted_percentile};

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
    /// DeepMind surfels: the voxel corners whose 2×2×2 neighbourhood holds both object and background
    /// (outside the image = background), each weighted by its marching-cubes area
    /// ([`crate::surfel_area_table`]). [`surface_voxels`] gives the object voxels owning such a corner.
    Surfels,
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
    /// `max(P^w_q(d_PG), P^w_q(d_GP))`: the area-weighted step percentiles of DeepMind's
    /// `compute_robust_hausdorff` (unit weights for voxel surfaces).
    AreaWeighted,
}

/// How the average surface distance combines the two directions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AssdRule {
    /// Mean of the concatenation `d_PG ∪ d_GP` (MONAI `symmetric=True`, medpy 0.5 `assd`).
    #[default]
    Pooled,
    /// `(mean d_PG + mean d_GP) / 2` (older medpy; with surfels the mean of DeepMind's two directed
    /// area-weighted averages).
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

/// The surface voxels of `mask` (see [`Surface`]). For [`Surface::Surfels`], whose surface points are voxel
/// corners, these are the object voxels owning a surfel corner: those with a background voxel (or the outside of
/// the image) among their 26 neighbours.
///
/// # Examples
/// ```
/// use medmetrics::{surface_voxels, Surface};
/// let m = ndarray::Array3::from_elem((3, 3, 3), true);
/// assert_eq!(surface_voxels(m.view(), Surface::ErosionBorder).iter().filter(|&&v| v).count(), 26);
/// assert_eq!(surface_voxels(m.view(), Surface::LabelContour).iter().filter(|&&v| v).count(), 0);
/// assert_eq!(surface_voxels(m.view(), Surface::Surfels).iter().filter(|&&v| v).count(), 26);
/// ```
#[must_use]
pub fn surface_voxels(mask: ArrayView3<'_, bool>, surface: Surface) -> Array3<bool> {
    if surface == Surface::Surfels {
        return corner_owners(mask);
    }
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

/// Object voxels with a background voxel or the image's outside among their 26 neighbours.
fn corner_owners(mask: ArrayView3<'_, bool>) -> Array3<bool> {
    let dim = mask.dim();
    let n = [dim.0, dim.1, dim.2];
    Array3::from_shape_fn(dim, |(z, y, x)| {
        if !mask[[z, y, x]] {
            return false;
        }
        let p = [z, y, x];
        (0..27usize).any(|k| {
            let off = [k / 9, (k / 3) % 3, k % 3];
            let mut q = [0usize; 3];
            for a in 0..3 {
                match (p[a] + off[a]).checked_sub(1) {
                    Some(v) if v < n[a] => q[a] = v,
                    _ => return true,
                }
            }
            !mask[q]
        })
    })
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
    /// Surfel areas (same order as the distances); empty for voxel surfaces (unit weights).
    pred_areas: Vec<f64>,
    gt_areas: Vec<f64>,
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
        if options.surface == Surface::Surfels {
            let c = corner_surfaces(pred, gt, spacing);
            return Ok(Self {
                n_pred: c.n_pred,
                n_gt: c.n_gt,
                pred_to_gt: c.pred_to_gt,
                gt_to_pred: c.gt_to_pred,
                pred_areas: c.pred_areas,
                gt_areas: c.gt_areas,
            });
        }
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
            ..Self::default()
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

    /// The weights of `(d_PG, d_GP)`: surfel areas (mm², or voxel-face units for [`Units::Voxel`]) for
    /// [`Surface::Surfels`], 1 for voxel surfaces.
    #[must_use]
    pub fn weights(&self) -> (Vec<f64>, Vec<f64>) {
        let w = |areas: &[f64], d: &[f64]| {
            if areas.is_empty() {
                vec![1.0; d.len()]
            } else {
                areas.to_vec()
            }
        };
        (
            w(&self.pred_areas, &self.pred_to_gt),
            w(&self.gt_areas, &self.gt_to_pred),
        )
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
            Hd95Rule::AreaWeighted => {
                let (wp, wg) = self.weights();
                Ok(
                    weighted_percentile(&self.pred_to_gt, &wp, q).max(weighted_percentile(
                        &self.gt_to_pred,
                        &wg,
                        q,
                    )),
                )
            }
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
        if !self.pred_areas.is_empty() {
            let (wp, wg) = self.weights();
            let (a, b) = (&self.pred_to_gt, &self.gt_to_pred);
            return Ok(match rule {
                AssdRule::Pooled => {
                    let prod: Vec<f64> = a
                        .iter()
                        .zip(&wp)
                        .chain(b.iter().zip(&wg))
                        .map(|(d, w)| d * w)
                        .collect();
                    pairwise_sum(&prod) / pairwise_sum(&[wp, wg].concat())
                }
                AssdRule::MeanOfDirected => 0.5 * (weighted_mean(a, &wp) + weighted_mean(b, &wg)),
            });
        }
        let sum = |v: &[f64]| v.iter().sum::<f64>();
        let (a, b) = (&self.pred_to_gt, &self.gt_to_pred);
        Ok(match rule {
            AssdRule::Pooled => (sum(a) + sum(b)) / (a.len() + b.len()) as f64,
            AssdRule::MeanOfDirected => 0.5 * (sum(a) / a.len() as f64 + sum(b) / b.len() as f64),
        })
    }

    /// The two directed mean distances `[mean^w d_PG, mean^w d_GP]` (area-weighted for surfels: DeepMind's
    /// `compute_average_surface_distance`, which returns them in the order gt→pred, pred→gt).
    ///
    /// # Errors
    /// [`Error::Undefined`] as [`SurfaceDistances::hausdorff`].
    pub fn mean_distances(&self, empty: EmptyRule) -> Result<[f64; 2]> {
        if let Some(v) = self.empty_value("mean surface distance", empty)? {
            return Ok([v, v]);
        }
        let (wp, wg) = self.weights();
        Ok([
            weighted_mean(&self.pred_to_gt, &wp),
            weighted_mean(&self.gt_to_pred, &wg),
        ])
    }

    /// The directed surface overlaps at tolerance `tau`, `[Σ a[d_PG ≤ τ] / Σ a_P, Σ a[d_GP ≤ τ] / Σ a_G]`
    /// (DeepMind's `compute_surface_overlap_at_tolerance`, which returns them gt first).
    ///
    /// # Errors
    /// As [`SurfaceDistances::nsd`].
    pub fn surface_overlap(&self, tau: f64, empty: EmptyRule) -> Result<[f64; 2]> {
        check_tau(tau)?;
        if let Some(v) = self.empty_value("surface overlap", empty)? {
            return Ok([v, v]);
        }
        let (wp, wg) = self.weights();
        let (ip, tp) = weight_within(&self.pred_to_gt, &wp, tau);
        let (ig, tg) = weight_within(&self.gt_to_pred, &wg, tau);
        Ok([ip / tp, ig / tg])
    }

    /// Normalised surface Dice at tolerance `tau` (same unit as the distances), counting surface voxels:
    /// `(#{d_PG ≤ τ} + #{d_GP ≤ τ}) / (|∂P| + |∂G|)`, or weighting surfels by area (DeepMind's
    /// `compute_surface_dice_at_tolerance`, = MONAI `use_subvoxels=True`).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for a negative or NaN `tau`; [`Error::Undefined`] as
    /// [`SurfaceDistances::hausdorff`] (MONAI: NaN when both are empty, 0 when one is).
    #[allow(clippy::cast_precision_loss)]
    pub fn nsd(&self, tau: f64, empty: EmptyRule) -> Result<f64> {
        check_tau(tau)?;
        if let Some(v) = self.empty_value("normalised surface Dice", empty)? {
            return Ok(v);
        }
        if !self.pred_areas.is_empty() {
            let (wp, wg) = self.weights();
            let (ip, tp) = weight_within(&self.pred_to_gt, &wp, tau);
            let (ig, tg) = weight_within(&self.gt_to_pred, &wg, tau);
            return Ok((ig + ip) / (tg + tp));
        }
        let (a, b) = (&self.pred_to_gt, &self.gt_to_pred);
        let within = a.iter().chain(b).filter(|&&d| d <= tau).count();
        Ok(within as f64 / (a.len() + b.len()) as f64)
    }
}

fn check_tau(tau: f64) -> Result<()> {
    if tau.is_nan() || tau < 0.0 {
        return Err(Error::InvalidParameter {
            key: "tau",
            reason: format!("tolerance {tau} must be ≥ 0"),
        });
    }
    Ok(())
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
