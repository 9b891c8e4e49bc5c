//! Generated DCE-MRI-like cases for tests, examples and benchmarks: textured background, one or two
//! enhancing ellipsoidal lesions, several phases, anisotropic spacing; and a whole preprocessed data set
//! written through the real pipeline (fingerprint → plans → [`preprocess_case`] → [`PreprocessedCache`]).
//!
//! ```text
//! position p = (z·sz, y·sy, x·sx) mm;  lesion ℓ: centre c_ℓ, radii r_ℓ (mm), inside ⇔ Σ_a ((p_a − c_ℓa)/r_ℓa)² ≤ 1
//! texture(p)   = Σ_{k=1..3} a_k · sin(ω_k·p + φ_k)        (random unit directions ω_k/|ω_k|, |ω_k| ∈ [0.15, 0.6]/mm)
//! channel c    = 1 + 0.3·texture_c(p) + enhancement_c·[inside] + σ·N(0, 1)
//! enhancement  = [0.3, 1.6, 1.1, 0.8, …]  (pre-contrast barely visible, first post-contrast strongest)
//! label        = 1 inside any lesion, else 0
//! ```
//! Everything is drawn from ChaCha8 seeded with `(seed, case index)`, so a case is reproducible on its own.
//!
//! No reference implementation: the shapes mimic the MAMA-MIA task (breast DCE-MRI, 3 phases, one tumour) in
//! miniature; spacing is anisotropic so that the preprocessing resamples.

use std::path::Path;

use ndarray::{Array3, Array4, Axis};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::cache::{write_json_atomically, PreprocessedCache};
use crate::error::{Error, Result};
use crate::fingerprint::{case_fingerprint, dataset_fingerprint_for};
use crate::geometry::{Geometry, Spacing};
use crate::plans::{Flavour, Plans, PlansParams, TargetSpacing};
use crate::preprocessor::preprocess_case;

/// Settings of the generator (`Default`: 3 phases, 20×48×48 voxels at 2×1×1 mm, lesion radii 5–11 mm).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticConfig {
    /// Raw image shape `[z, y, x]`.
    pub shape: [usize; 3],
    /// Raw spacing in mm `[sz, sy, sx]`.
    pub spacing: Spacing,
    /// Number of phases (channels).
    pub channels: usize,
    /// Lesion radius range in mm (each axis drawn independently).
    pub radius_mm: (f64, f64),
    /// Probability of a second lesion.
    pub p_second_lesion: f64,
    /// Standard deviation of the voxel noise.
    pub noise: f64,
    /// Base seed.
    pub seed: u64,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        SyntheticConfig {
            shape: [20, 48, 48],
            spacing: [2.0, 1.0, 1.0],
            channels: 3,
            radius_mm: (5.0, 11.0),
            p_second_lesion: 0.3,
            noise: 0.15,
            seed: 0,
        }
    }
}

/// One generated raw case.
#[derive(Debug, Clone)]
pub struct SyntheticCase {
    /// The case id (`synth_<index>`, zero-padded to 4 digits).
    pub id: String,
    /// `(C, z, y, x)` image.
    pub data: Array4<f32>,
    /// `(z, y, x)` labels (0/1).
    pub seg: Array3<i16>,
    /// Geometry (spacing; identity-direction affine).
    pub geometry: Geometry,
}

fn enhancement(c: usize) -> f64 {
    const E: [f64; 4] = [0.3, 1.6, 1.1, 0.8];
    E.get(c).copied().unwrap_or(0.8)
}

fn normal<R: Rng>(rng: &mut R) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.gen_range(f64::EPSILON..1.0);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Generates case `index` (module docs).
///
/// # Errors
/// [`Error::InvalidParameter`] for an empty shape, no channel, a non-positive spacing or radius.
pub fn synthetic_case(cfg: &SyntheticConfig, index: usize) -> Result<SyntheticCase> {
    let bad = |key, reason: String| Err(Error::InvalidParameter { key, reason });
    if cfg.shape.contains(&0) || cfg.channels == 0 {
        return bad(
            "shape",
            format!("{:?} × {} channels", cfg.shape, cfg.channels),
        );
    }
    if cfg.spacing.iter().any(|&s| !(s.is_finite() && s > 0.0)) {
        return bad("spacing", format!("{:?}", cfg.spacing));
    }
    let (rlo, rhi) = cfg.radius_mm;
    if !(rlo.is_finite() && rhi.is_finite() && rlo > 0.0 && rlo <= rhi) {
        return bad("radius_mm", format!("{:?}", cfg.radius_mm));
    }
    let mut rng =
        ChaCha8Rng::seed_from_u64(cfg.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let extent: [f64; 3] = std::array::from_fn(|a| cfg.shape[a] as f64 * cfg.spacing[a]);
    let n_lesions = 1 + usize::from(rng.gen::<f64>() < cfg.p_second_lesion);
    let lesions: Vec<([f64; 3], [f64; 3])> = (0..n_lesions)
        .map(|_| {
            let r: [f64; 3] = std::array::from_fn(|_| rng.gen_range(rlo..=rhi));
            let c: [f64; 3] = std::array::from_fn(|a| {
                let margin = r[a].min(extent[a] / 2.0 - 1e-3).max(0.0);
                rng.gen_range(margin..=(extent[a] - margin).max(margin))
            });
            (c, r)
        })
        .collect();
    // Texture waves per channel: (amplitude, direction·frequency, phase).
    let waves: Vec<Vec<(f64, [f64; 3], f64)>> = (0..cfg.channels)
        .map(|_| {
            (0..3)
                .map(|_| {
                    let d: [f64; 3] = std::array::from_fn(|_| normal(&mut rng));
                    let n = d.iter().map(|v| v * v).sum::<f64>().sqrt().max(1e-9);
                    let f = rng.gen_range(0.15..0.6);
                    (
                        rng.gen_range(0.3..1.0),
                        d.map(|v| v / n * f),
                        rng.gen_range(0.0..std::f64::consts::TAU),
                    )
                })
                .collect()
        })
        .collect();
    let [nz, ny, nx] = cfg.shape;
    let seg = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| {
        let p = [
            (z as f64 + 0.5) * cfg.spacing[0],
            (y as f64 + 0.5) * cfg.spacing[1],
            (x as f64 + 0.5) * cfg.spacing[2],
        ];
        let inside = lesions
            .iter()
            .any(|(c, r)| (0..3).map(|a| ((p[a] - c[a]) / r[a]).powi(2)).sum::<f64>() <= 1.0);
        i16::from(inside)
    });
    let mut data = Array4::<f32>::zeros((cfg.channels, nz, ny, nx));
    for (c, mut ch) in data.axis_iter_mut(Axis(0)).enumerate() {
        for ((z, y, x), v) in ch.indexed_iter_mut() {
            let p = [
                z as f64 * cfg.spacing[0],
                y as f64 * cfg.spacing[1],
                x as f64 * cfg.spacing[2],
            ];
            let tex: f64 = waves[c]
                .iter()
                .map(|(a, w, phi)| a * (w[0] * p[0] + w[1] * p[1] + w[2] * p[2] + phi).sin())
                .sum();
            let lesion = if seg[[z, y, x]] == 1 {
                enhancement(c)
            } else {
                0.0
            };
            *v = (1.0 + 0.3 * tex + lesion + cfg.noise * normal(&mut rng)) as f32;
        }
    }
    Ok(SyntheticCase {
        id: format!("synth_{index:04}"),
        data,
        seg,
        geometry: Geometry::from_spacing(cfg.spacing),
    })
}

/// Generates `n_cases` cases and writes them as a preprocessed data set into `dir`: the cache files, `plans.json`
/// (flavour `flavour`, fixed target spacing `target_spacing`, channel names `pre`, `post1`, …) and
/// `dataset_fingerprint.json`. Returns the plans and the case ids.
///
/// # Errors
/// The generator's, the fingerprint's, the planner's, the preprocessing's and the cache's errors.
pub fn write_synthetic_dataset(
    dir: impl AsRef<Path>,
    n_cases: usize,
    cfg: &SyntheticConfig,
    flavour: Flavour,
    target_spacing: Spacing,
) -> Result<(Plans, Vec<String>)> {
    let dir = dir.as_ref();
    let cases = (0..n_cases)
        .map(|i| synthetic_case(cfg, i))
        .collect::<Result<Vec<_>>>()?;
    let fps = cases
        .iter()
        .map(|c| case_fingerprint(c.data.view(), Some(c.seg.view()), c.geometry.spacing))
        .collect::<Result<Vec<_>>>()?;
    let fingerprint = dataset_fingerprint_for(&fps, flavour)?;
    let names: Vec<String> = (0..cfg.channels)
        .map(|c| {
            if c == 0 {
                "pre".into()
            } else {
                format!("post{c}")
            }
        })
        .collect();
    let params = PlansParams::new()
        .flavour(flavour)
        .target_spacing(TargetSpacing::Fixed(target_spacing));
    let plans = Plans::from_fingerprint(&fingerprint, &names, &params)?;
    let cache = PreprocessedCache::create(dir)?;
    write_json_atomically(&dir.join("dataset_fingerprint.json"), &fingerprint)?;
    plans.save(dir.join("plans.json"))?;
    for c in &cases {
        let pre = preprocess_case(c.data.view(), Some(c.seg.view()), &c.geometry, &plans)?;
        cache.write_case(
            &c.id,
            pre.data.view(),
            pre.seg.as_ref().map(|s| s.view()),
            &pre.properties,
        )?;
    }
    Ok((plans, cases.into_iter().map(|c| c.id).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_are_reproducible_and_contain_a_lesion() {
        let cfg = SyntheticConfig::default();
        let a = synthetic_case(&cfg, 3).unwrap();
        let b = synthetic_case(&cfg, 3).unwrap();
        let c = synthetic_case(&cfg, 4).unwrap();
        assert_eq!(a.data, b.data);
        assert_ne!(a.data, c.data);
        assert_eq!(a.data.shape(), &[3, 20, 48, 48]);
        let fg = a.seg.iter().filter(|&&v| v == 1).count();
        assert!(fg > 100 && fg < a.seg.len() / 2, "{fg}");
        // The first post-contrast phase is brighter inside the lesion.
        let (mut inside, mut outside) = ((0.0, 0), (0.0, 0));
        for ((z, y, x), &v) in a.data.index_axis(Axis(0), 1).indexed_iter() {
            let s = if a.seg[[z, y, x]] == 1 {
                &mut inside
            } else {
                &mut outside
            };
            s.0 += f64::from(v);
            s.1 += 1;
        }
        assert!(inside.0 / inside.1 as f64 > outside.0 / outside.1 as f64 + 1.0);
    }
}
