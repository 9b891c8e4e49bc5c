//! The synthetic acquisition centres: each has its own anisotropic voxel spacing and scanner gain, as the
//! four MAMA-MIA centres do (DUKE ~0.8 × 0.8 × 1.1 mm, ISPY1 ~0.8 × 0.8 × 2–3 mm, …; mamamia.md §1.2).

use nnunet_preproc::Spacing;
use serde::{Deserialize, Serialize};

/// One acquisition centre of the synthetic cohort.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Centre {
    /// Data-set name (the `dataset` column and the case-id prefix, e.g. `SITEA` → `SITEA_001`).
    pub name: String,
    /// Voxel spacing in mm, array order `[sz, sy, sx]`.
    pub spacing: Spacing,
    /// Multiplicative scanner gain applied to every intensity.
    pub gain: f64,
    /// Whether the centre records breast density (as only some MAMA-MIA centres do).
    pub records_density: bool,
}

impl Centre {
    /// A centre from its name, spacing and gain (density recorded).
    #[must_use]
    pub fn new(name: &str, spacing: Spacing, gain: f64) -> Self {
        Centre {
            name: name.to_string(),
            spacing,
            gain,
            records_density: true,
        }
    }
}

/// The default three centres:
///
/// ```text
/// SITEA  [2.0, 0.9, 0.9] mm  gain 1.00   thick slices (ISPY1/NACT-like)
/// SITEB  [1.2, 0.8, 0.8] mm  gain 1.10   fine slices (DUKE-like)
/// SITEC  [1.5, 1.1, 1.1] mm  gain 0.92   coarse in-plane (ISPY2-like)
/// ```
#[must_use]
pub fn default_centres() -> Vec<Centre> {
    vec![
        Centre::new("SITEA", [2.0, 0.9, 0.9], 1.0),
        Centre::new("SITEB", [1.2, 0.8, 0.8], 1.1),
        Centre::new("SITEC", [1.5, 1.1, 1.1], 0.92),
    ]
}
