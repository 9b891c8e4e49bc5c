//! The enhancing lesion of a synthetic case: a lobulated blob whose size, shape irregularity, kinetics and
//! internal heterogeneity vary between cases (the properties that drive the synthetic pCR label, see
//! [`super::clinical`]).
//!
//! ```text
//! inside(p)  ⇔  |p − c| < r₀ · (1 + a · S(û)),   û = (p − c)/|p − c|,   S: smooth field on the sphere (unit var.)
//! ratio₁(p)  = 1 + (w − 1) · (1 − h · (0.35 + 0.35 · T(p) + 0.6 · core(p)))   clamped to ≥ 1.05
//! ratio₂(p)  = 1 + (ratio₁(p) − 1) · k                                      (k < 1 wash-out, > 1 persistent)
//! core(p)    = max(0, 1 − |p − c| / (0.55 r₀))                              (less-enhancing, necrotic-like centre)
//! ```
//!
//! with `r₀` the equivalent radius, `a` the irregularity, `w` the wash-in ratio post1/pre at a homogeneous
//! voxel, `h ∈ [0, 1]` the heterogeneity and `T` a fine texture field (unit variance).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::anatomy::Anatomy;
use super::field::SmoothField;

/// Sampling ranges of the lesion parameters (uniform).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LesionRanges {
    /// Equivalent radius `r₀` in mm.
    pub radius_mm: (f64, f64),
    /// Irregularity `a`.
    pub irregularity: (f64, f64),
    /// Heterogeneity `h`.
    pub heterogeneity: (f64, f64),
    /// Wash-in ratio `w` (post1/pre).
    pub wash_in: (f64, f64),
    /// Late kinetic factor `k`.
    pub late_factor: (f64, f64),
}

impl Default for LesionRanges {
    fn default() -> Self {
        LesionRanges {
            radius_mm: (4.5, 10.0),
            irregularity: (0.0, 0.3),
            heterogeneity: (0.0, 1.0),
            wash_in: (1.6, 3.0),
            late_factor: (0.8, 1.2),
        }
    }
}

impl LesionRanges {
    /// `(v − mean) / sd` of a value under the uniform range `(lo, hi)`: mean `(lo + hi)/2`, sd
    /// `(hi − lo)/√12`.
    #[must_use]
    pub fn z(v: f64, range: (f64, f64)) -> f64 {
        let sd = (range.1 - range.0) / 12f64.sqrt();
        if sd > 0.0 {
            (v - (range.0 + range.1) / 2.0) / sd
        } else {
            0.0
        }
    }
}

/// The parameters of one lesion.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionParams {
    /// Centre `c` in mm (array order).
    pub centre_mm: [f64; 3],
    /// Equivalent radius `r₀` in mm.
    pub radius_mm: f64,
    /// Irregularity `a`.
    pub irregularity: f64,
    /// Heterogeneity `h`.
    pub heterogeneity: f64,
    /// Wash-in ratio `w`.
    pub wash_in: f64,
    /// Late kinetic factor `k`.
    pub late_factor: f64,
    /// Pre-contrast intensity.
    pub pre_intensity: f64,
}

/// A lesion: its parameters plus its seeded shape and texture fields.
#[derive(Debug, Clone, PartialEq)]
pub struct Lesion {
    /// The parameters.
    pub params: LesionParams,
    shape: SmoothField,
    texture: SmoothField,
}

impl Lesion {
    /// Draws a lesion that fits inside the breast of `anatomy` (its maximal radius at least 2 mm from the
    /// breast surface and the chest wall where possible; after 200 tries it is placed at the breast's centre
    /// line).
    #[must_use]
    pub fn sample<R: Rng>(rng: &mut R, anatomy: &Anatomy, ranges: &LesionRanges) -> Self {
        let radius_mm = rng.gen_range(ranges.radius_mm.0..=ranges.radius_mm.1);
        let irregularity = rng.gen_range(ranges.irregularity.0..=ranges.irregularity.1);
        let r_max = radius_mm * (1.0 + 2.5 * irregularity) + 2.0;
        let [az, ay, ax] = anatomy.semi_axes_mm;
        let mut centre_mm = [
            anatomy.centre_zx_mm[0],
            anatomy.wall_mm + (r_max + 1.0).max(0.35 * ay),
            anatomy.centre_zx_mm[1],
        ];
        for _ in 0..200 {
            let c = [
                anatomy.centre_zx_mm[0] + rng.gen_range(-0.6..0.6) * az,
                anatomy.wall_mm + rng.gen_range(0.15..0.7) * ay,
                anatomy.centre_zx_mm[1] + rng.gen_range(-0.6..0.6) * ax,
            ];
            // distance to the ellipsoid surface, conservatively: (1 − ρ) · smallest semi-axis
            let margin = (1.0 - anatomy.breast_radius(c)) * az.min(ay).min(ax);
            if margin >= r_max && c[1] - anatomy.wall_mm >= r_max {
                centre_mm = c;
                break;
            }
        }
        let params = LesionParams {
            centre_mm,
            radius_mm,
            irregularity,
            heterogeneity: rng.gen_range(ranges.heterogeneity.0..=ranges.heterogeneity.1),
            wash_in: rng.gen_range(ranges.wash_in.0..=ranges.wash_in.1),
            late_factor: rng.gen_range(ranges.late_factor.0..=ranges.late_factor.1),
            pre_intensity: rng.gen_range(225.0..265.0),
        };
        Lesion {
            params,
            shape: SmoothField::random(rng, 8, (0.8, 2.5)),
            texture: SmoothField::random(rng, 16, (2.5, 6.0)),
        }
    }

    /// Whether `p` (mm) lies inside the lesion.
    #[must_use]
    pub fn contains(&self, p: [f64; 3]) -> bool {
        let c = self.params.centre_mm;
        let d = [p[0] - c[0], p[1] - c[1], p[2] - c[2]];
        let r = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
        if r < 1e-9 {
            return true;
        }
        let u = [d[0] / r, d[1] / r, d[2] / r];
        let bound = self.params.radius_mm * (1.0 + self.params.irregularity * self.shape.at(u));
        r < bound.max(0.3 * self.params.radius_mm)
    }

    /// `[post1/pre, post2/pre]` enhancement ratios at `p` (see the module docs).
    #[must_use]
    pub fn ratios(&self, p: [f64; 3]) -> [f64; 2] {
        let q = &self.params;
        let c = q.centre_mm;
        let r = ((p[0] - c[0]).powi(2) + (p[1] - c[1]).powi(2) + (p[2] - c[2]).powi(2)).sqrt();
        let core = (1.0 - r / (0.55 * q.radius_mm)).max(0.0);
        let t = self.texture.at(p);
        let damp = (q.heterogeneity * (0.35 + 0.35 * t + 0.6 * core)).clamp(0.0, 0.95);
        let r1 = (1.0 + (q.wash_in - 1.0) * (1.0 - damp)).max(1.05);
        [r1, 1.0 + (r1 - 1.0) * q.late_factor]
    }
}
