//! Breast-like anatomy of a synthetic case: air, chest-wall muscle, fat and fibroglandular tissue.
//!
//! Geometry in world mm, array order `(z, y, x)`, `y` pointing anteriorly:
//!
//! ```text
//! chest wall   2 ≤ y < w,  3 ≤ x ≤ X − 3                           (muscle)
//! breast       y ≥ w  and  ((z − z_c)/a_z)² + ((y − w)/a_y)² + ((x − x_c)/a_x)² ≤ 1
//! fibroglandular where  F(p) − 0.6 · d(p) > q(density)             (F: smooth field, unit variance;
//!                                                                   d: normalised depth from the wall)
//! air          everything else (intensity exactly 0, so nnU-Net's nonzero crop has something to remove)
//! ```
//!
//! `q` is the normal quantile that makes the fibroglandular fraction grow with the ACR density:
//! a → ~10 %, b → ~30 %, c → ~50 %, d → ~70 % of the breast (before the depth term).
//!
//! Pre-contrast intensities mimic a fat-suppressed T1 DCE series (fat dark, parenchyma intermediate);
//! enhancement ratios post/pre per tissue are in [`TissueKinetics`].

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::field::SmoothField;

/// ACR breast density category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Density {
    /// Almost entirely fatty.
    A,
    /// Scattered fibroglandular density.
    B,
    /// Heterogeneously dense.
    C,
    /// Extremely dense.
    D,
}

impl Density {
    /// The clinical-table label (`a`–`d`).
    #[must_use]
    pub fn label(self) -> &'static str {
        match self {
            Density::A => "a",
            Density::B => "b",
            Density::C => "c",
            Density::D => "d",
        }
    }

    /// The field threshold `q` (standard normal quantile of `1 − fraction`).
    #[must_use]
    pub fn threshold(self) -> f64 {
        match self {
            Density::A => 1.2816,
            Density::B => 0.5244,
            Density::C => 0.0,
            Density::D => -0.5244,
        }
    }
}

/// A voxel's tissue class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tissue {
    /// Outside the body (intensity 0).
    Air,
    /// Chest-wall muscle.
    Muscle,
    /// Breast fat.
    Fat,
    /// Fibroglandular tissue.
    Fibroglandular,
}

/// Pre-contrast intensity and enhancement ratios (post1/pre, post2/pre) of the background tissues.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TissueKinetics {
    /// Pre-contrast intensity of muscle, fat, fibroglandular tissue.
    pub pre: [f64; 3],
    /// Enhancement ratios `[post1/pre, post2/pre]` of muscle, fat, fibroglandular tissue (background
    /// parenchymal enhancement for the last).
    pub ratios: [[f64; 2]; 3],
}

/// The anatomy of one case.
#[derive(Debug, Clone, PartialEq)]
pub struct Anatomy {
    /// Field of view in mm `(z, y, x)`.
    pub fov_mm: [f64; 3],
    /// Chest-wall position `w` (mm along y).
    pub wall_mm: f64,
    /// Breast centre `(z_c, x_c)` in mm.
    pub centre_zx_mm: [f64; 2],
    /// Breast semi-axes `(a_z, a_y, a_x)` in mm.
    pub semi_axes_mm: [f64; 3],
    /// Breast density.
    pub density: Density,
    /// Tissue intensities and kinetics.
    pub kinetics: TissueKinetics,
    fgt: SmoothField,
    texture: SmoothField,
    bias: SmoothField,
}

impl Anatomy {
    /// Draws an anatomy filling a field of view of `fov_mm`.
    #[must_use]
    pub fn sample<R: Rng>(rng: &mut R, fov_mm: [f64; 3], density: Density) -> Self {
        let wall_mm = rng.gen_range(7.0..11.0);
        let semi_axes_mm = [
            fov_mm[0] * rng.gen_range(0.40..0.46),
            (fov_mm[1] - wall_mm) * rng.gen_range(0.82..0.92),
            fov_mm[2] * rng.gen_range(0.40..0.46),
        ];
        let centre_zx_mm = [
            fov_mm[0] / 2.0 + rng.gen_range(-2.0..2.0),
            fov_mm[2] / 2.0 + rng.gen_range(-2.0..2.0),
        ];
        let bpe1 = rng.gen_range(1.04..1.22);
        let kinetics = TissueKinetics {
            pre: [
                rng.gen_range(170.0..200.0),
                rng.gen_range(95.0..125.0),
                rng.gen_range(240.0..280.0),
            ],
            ratios: [[1.22, 1.30], [1.03, 1.05], [bpe1, bpe1 + 0.05]],
        };
        Anatomy {
            fov_mm,
            wall_mm,
            centre_zx_mm,
            semi_axes_mm,
            density,
            kinetics,
            fgt: SmoothField::random(rng, 16, (7.0, 22.0)),
            texture: SmoothField::random(rng, 24, (2.0, 5.0)),
            bias: SmoothField::random(rng, 4, (80.0, 160.0)),
        }
    }

    /// The normalised breast ellipsoid radius at `p` (≤ 1 inside), ignoring the `y ≥ w` half-space.
    #[must_use]
    pub fn breast_radius(&self, p: [f64; 3]) -> f64 {
        let [az, ay, ax] = self.semi_axes_mm;
        let dz = (p[0] - self.centre_zx_mm[0]) / az;
        let dy = (p[1] - self.wall_mm) / ay;
        let dx = (p[2] - self.centre_zx_mm[1]) / ax;
        (dz * dz + dy * dy + dx * dx).sqrt()
    }

    /// Whether `p` lies in the breast (half-ellipsoid in front of the chest wall).
    #[must_use]
    pub fn in_breast(&self, p: [f64; 3]) -> bool {
        p[1] >= self.wall_mm && self.breast_radius(p) <= 1.0
    }

    /// The tissue at `p` (mm, array order).
    #[must_use]
    pub fn tissue(&self, p: [f64; 3]) -> Tissue {
        if self.in_breast(p) {
            let depth = ((p[1] - self.wall_mm) / self.semi_axes_mm[1]).clamp(0.0, 1.0);
            if self.fgt.at(p) - 0.6 * depth > self.density.threshold() - 0.3 {
                Tissue::Fibroglandular
            } else {
                Tissue::Fat
            }
        } else if p[1] >= 2.0 && p[1] < self.wall_mm && p[2] >= 3.0 && p[2] <= self.fov_mm[2] - 3.0
        {
            Tissue::Muscle
        } else {
            Tissue::Air
        }
    }

    /// Fine multiplicative texture `1 + 0.08 · T(p)` of the background tissue.
    #[must_use]
    pub fn texture(&self, p: [f64; 3]) -> f64 {
        1.0 + 0.08 * self.texture.at(p)
    }

    /// Smooth coil-sensitivity bias `1 + 0.08 · B(p)` shared by all phases.
    #[must_use]
    pub fn bias(&self, p: [f64; 3]) -> f64 {
        1.0 + 0.08 * self.bias.at(p)
    }

    /// Pre-contrast intensity and `[post1, post2]` ratios of a background tissue (`None` for air).
    #[must_use]
    pub fn tissue_signal(&self, t: Tissue) -> Option<(f64, [f64; 2])> {
        let k = &self.kinetics;
        match t {
            Tissue::Air => None,
            Tissue::Muscle => Some((k.pre[0], k.ratios[0])),
            Tissue::Fat => Some((k.pre[1], k.ratios[1])),
            Tissue::Fibroglandular => Some((k.pre[2], k.ratios[2])),
        }
    }
}
