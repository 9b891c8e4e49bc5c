//! One small synthetic three-phase breast DCE-MRI case, so that the examples run on a fresh machine
//! without data.
//!
//! Anatomy (array order `(z, y, x)`, spacing `[1.5, 0.7, 0.7]` mm — the anisotropic in-plane/slice ratio
//! typical of DUKE/ISPY2): air (exactly 0, so nnU-Net's crop has something to remove) around a half-ellipsoid
//! "breast" of fat (bright, textured) with fibroglandular strands (darker), and one enhancing lesion.
//! Phases: pre-contrast, 1st and 2nd post-contrast; the lesion washes in (×1.9 then ×2.2 of its
//! pre-contrast value) while fat and fibroglandular tissue barely change. The mask is the lesion.
//!
//! The texture is a deterministic function of the voxel index and `seed` (a 64-bit integer hash), so the
//! same seed gives the same case on every machine.

use ndarray::{Array3, Array4};
use nnunet_preproc::Geometry;

/// A synthetic case: `(3, z, y, x)` phases, the lesion mask and the geometry.
#[derive(Debug, Clone)]
pub struct DemoCase {
    /// Pre-contrast, 1st and 2nd post-contrast, `(3, z, y, x)`.
    pub phases: Array4<f32>,
    /// Lesion mask (1 = tumour), `(z, y, x)`.
    pub mask: Array3<u8>,
    /// Spacing `[1.5, 0.7, 0.7]` mm, LPS-like axes.
    pub geometry: Geometry,
}

/// A uniform number in `[0, 1)` from a voxel index and a seed (SplitMix64 finaliser).
fn hash01(seed: u64, z: usize, y: usize, x: usize) -> f32 {
    let mut h = seed
        ^ (z as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ (y as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
        ^ (x as u64).wrapping_mul(0x1656_67B1_9E37_79F9);
    h ^= h >> 30;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    (h >> 40) as f32 / (1u64 << 24) as f32
}

/// Builds the demo case of shape `(40, 96, 112)` (z, y, x).
#[must_use]
pub fn demo_case(seed: u64) -> DemoCase {
    let (nz, ny, nx) = (40usize, 96usize, 112usize);
    let mut phases = Array4::<f32>::zeros((3, nz, ny, nx));
    let mut mask = Array3::<u8>::zeros((nz, ny, nx));
    let lesion_centre = [20.0f32, 58.0, 64.0];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                // breast: half-ellipsoid attached to the chest wall at y = 20
                let bz = (z as f32 - 20.0) / 17.0;
                let by = (y as f32 - 20.0) / 70.0;
                let bx = (x as f32 - 56.0) / 50.0;
                if y < 20 || bz * bz + by * by + bx * bx > 1.0 {
                    continue; // air stays exactly 0
                }
                let noise = hash01(seed, z, y, x);
                let strand =
                    ((x as f32 * 0.21 + y as f32 * 0.13).sin() + (z as f32 * 0.4).cos()) > 1.2;
                let base = if strand { 180.0 } else { 420.0 } + 40.0 * noise;
                let d = [z as f32 * 1.5, y as f32 * 0.7, x as f32 * 0.7];
                let c = [
                    lesion_centre[0] * 1.5,
                    lesion_centre[1] * 0.7,
                    lesion_centre[2] * 0.7,
                ];
                let r2: f32 = d.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
                let irregular = 1.0 + 0.25 * (x as f32 * 0.9).sin() * (y as f32 * 0.7).cos();
                let in_lesion = r2 < (7.0 * irregular) * (7.0 * irregular);
                let (pre, w1, w2) = if in_lesion {
                    mask[[z, y, x]] = 1;
                    (250.0 + 30.0 * noise, 1.9, 2.2)
                } else {
                    (base, 1.03, 1.05)
                };
                phases[[0, z, y, x]] = pre;
                phases[[1, z, y, x]] = pre * w1;
                phases[[2, z, y, x]] = pre * w2;
            }
        }
    }
    DemoCase {
        phases,
        mask,
        geometry: Geometry::from_spacing([1.5, 0.7, 0.7]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_case_is_deterministic_and_has_a_washing_in_lesion() {
        let a = demo_case(7);
        let b = demo_case(7);
        assert_eq!(a.phases, b.phases);
        assert_ne!(a.phases, demo_case(8).phases);
        let lesion = a.mask.iter().filter(|&&m| m == 1).count();
        assert!(lesion > 500, "lesion voxels: {lesion}");
        // air is exactly zero in every phase (so cropping removes it)
        assert_eq!(a.phases[[0, 0, 0, 0]], 0.0);
        // the lesion enhances more than the surroundings between pre and post1
        let (mut les, mut bg, mut nl, mut nb) = (0.0f64, 0.0f64, 0usize, 0usize);
        for ((z, y, x), &m) in a.mask.indexed_iter() {
            let pre = a.phases[[0, z, y, x]] as f64;
            if pre == 0.0 {
                continue;
            }
            let ratio = a.phases[[1, z, y, x]] as f64 / pre;
            if m == 1 {
                les += ratio;
                nl += 1;
            } else {
                bg += ratio;
                nb += 1;
            }
        }
        assert!((les / nl as f64) > 1.8 && (bg / nb as f64) < 1.1);
    }
}
