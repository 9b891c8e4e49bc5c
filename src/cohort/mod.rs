//! A seeded synthetic MAMA-MIA cohort: small three-phase breast DCE-MRI cases from several "centres" with
//! expert masks, patient-info JSONs, a clinical table with a pCR label that depends on the lesion, and the
//! train/test split — written in the MAMA-MIA layout that [`nnunet_preproc::mamamia::MamaMia`] reads.
//!
//! ```text
//! <root>/images/<ID>/<id>_000{0,1,2}.nii.gz        pre-contrast, 1st and 2nd post-contrast (float32)
//!        segmentations/expert/<id>.nii.gz         lesion mask (uint8, label 1)
//!        patient_info_files/<id>.json             breast box under primary_lesion.breast_coordinates
//!        clinical_and_imaging_info.csv            patient_id, dataset, age, menopause, breast_density, …, pcr
//!        train_test_splits.csv                    train_split, test_split (stratified by pCR)
//!        cohort.json                              the generator's settings and every case's true parameters
//! ```
//!
//! Ids are `<CENTRE>_<nnn>` (folders upper case, files lower case, as in the real download). Case `i` belongs
//! to centre `i mod n_centres` and draws everything from its own ChaCha8 stream seeded with
//! `splitmix64(seed ⊕ i)`, so the same seed gives byte-identical files and cases do not depend on each other.
//!
//! The anatomy is described in [`anatomy`], the lesion in [`lesion`], the clinical variables and the pCR
//! model in [`clinical`]. Per voxel (`p` the voxel centre in mm, `g` the centre gain, `B` the bias field,
//! `T` the tissue texture, `ε ~ N(0, σ²)` independent per phase):
//!
//! ```text
//! phase_k(p) = round(max(1, g · B(p) · T(p) · pre(p) · ratio_k(p) + ε))   in the body,  0 in air
//! ```
//!
//! Reference for the layout: `/work/shared/reference/mamamia.md` §1; LidiaGarrucho/MAMA-MIA README.

pub mod anatomy;
pub mod centre;
pub mod clinical;
pub mod field;
pub mod lesion;
mod write;

use anyhow::{bail, Result};
use ndarray::{Array3, Array4};
use nnunet_preproc::{Geometry, Spacing};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

pub use anatomy::{Anatomy, Density, Tissue};
pub use centre::{default_centres, Centre};
pub use clinical::{ClinicalRow, PcrModel, CLINICAL_COLUMNS};
pub use lesion::{Lesion, LesionParams, LesionRanges};
pub use write::{generate_cohort, read_manifest, Cohort, MANIFEST};

/// Settings of the generator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortConfig {
    /// Number of cases.
    pub cases: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// Field of view in mm, array order `(z, y, x)`; a case's shape is `round(fov / spacing)`.
    pub fov_mm: [f64; 3],
    /// The centres (case `i` belongs to centre `i mod len`).
    pub centres: Vec<Centre>,
    /// Fraction of each pCR class put in the test split.
    pub test_fraction: f64,
    /// Lesion parameter ranges.
    pub lesion: LesionRanges,
    /// The pCR model.
    pub pcr: PcrModel,
    /// Standard deviation σ of the additive noise.
    pub noise_sd: f64,
}

impl Default for CohortConfig {
    /// 48 cases, seed 2025, 64 × 56 × 64 mm, the three [`default_centres`], a third of each class for testing.
    fn default() -> Self {
        CohortConfig {
            cases: 48,
            seed: 2025,
            fov_mm: [64.0, 56.0, 64.0],
            centres: default_centres(),
            test_fraction: 1.0 / 3.0,
            lesion: LesionRanges::default(),
            pcr: PcrModel::default(),
            noise_sd: 8.0,
        }
    }
}

impl CohortConfig {
    /// Checks the settings.
    ///
    /// # Errors
    /// No case or centre, a non-positive or non-finite field of view, spacing, gain or noise, a test fraction
    /// outside `[0, 1)`, or a field of view that holds fewer than 8 voxels along an axis.
    pub fn check(&self) -> Result<()> {
        if self.cases == 0 || self.centres.is_empty() {
            bail!("cohort: at least one case and one centre are needed");
        }
        if !(0.0..1.0).contains(&self.test_fraction) {
            bail!(
                "cohort: test_fraction {} is not in [0, 1)",
                self.test_fraction
            );
        }
        if !(self.noise_sd.is_finite() && self.noise_sd >= 0.0) {
            bail!("cohort: noise_sd {} must be finite and ≥ 0", self.noise_sd);
        }
        for c in &self.centres {
            let ok = c.spacing.iter().all(|s| s.is_finite() && *s > 0.0)
                && c.gain.is_finite()
                && c.gain > 0.0;
            if !ok {
                bail!(
                    "cohort: centre {}: spacing {:?} and gain {} must be positive",
                    c.name,
                    c.spacing,
                    c.gain
                );
            }
            let shape = shape_of(self.fov_mm, c.spacing);
            if shape.iter().any(|&n| n < 8) || self.fov_mm.iter().any(|f| !f.is_finite()) {
                bail!(
                    "cohort: field of view {:?} mm at spacing {:?} gives shape {shape:?} (< 8 voxels)",
                    self.fov_mm,
                    c.spacing
                );
            }
        }
        Ok(())
    }
}

/// `round(fov / spacing)` per axis.
#[must_use]
pub fn shape_of(fov_mm: [f64; 3], spacing: Spacing) -> [usize; 3] {
    std::array::from_fn(|a| (fov_mm[a] / spacing[a]).round().max(0.0) as usize)
}

/// Train or test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Split {
    /// In `train_split`.
    Train,
    /// In `test_split`.
    Test,
}

/// A generated case's description (what `cohort.json` records).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CohortCase {
    /// Upper-case id.
    pub id: String,
    /// Centre name.
    pub centre: String,
    /// Spacing in mm `[sz, sy, sx]` (the centre's, rounded to float32 as NIfTI stores it).
    pub spacing: Spacing,
    /// Array shape `(z, y, x)`.
    pub shape: [usize; 3],
    /// Breast box, array order, half-open `[lo, hi)` per axis.
    pub breast_box: [[usize; 2]; 3],
    /// Lesion voxels of the expert mask.
    pub lesion_voxels: usize,
    /// True lesion parameters.
    pub lesion: LesionParams,
    /// The clinical row.
    pub clinical: ClinicalRow,
    /// The split.
    pub split: Split,
}

/// A generated case in memory.
#[derive(Debug, Clone)]
pub struct SyntheticCase {
    /// Description (split not yet assigned: [`Split::Train`]).
    pub case: CohortCase,
    /// Pre-contrast, 1st and 2nd post-contrast, `(3, z, y, x)`.
    pub phases: Array4<f32>,
    /// Expert mask (1 = lesion).
    pub mask: Array3<u8>,
    /// Geometry (spacing of the centre, origin 0).
    pub geometry: Geometry,
}

/// SplitMix64 of `seed ⊕ index` (the per-case seed).
#[must_use]
pub fn case_seed(seed: u64, index: usize) -> u64 {
    let mut z = (seed ^ (index as u64).wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Builds case `index` of the cohort in memory (deterministic in `(config, index)`).
///
/// # Errors
/// An invalid `config` (see [`CohortConfig::check`]).
pub fn synthesize_case(config: &CohortConfig, index: usize) -> Result<SyntheticCase> {
    config.check()?;
    let centre = &config.centres[index % config.centres.len()];
    let id = format!("{}_{:03}", centre.name, index / config.centres.len() + 1);
    let mut rng = ChaCha8Rng::seed_from_u64(case_seed(config.seed, index));
    let (age, menopause, density, subtype) =
        clinical::sample_demographics(&mut rng, centre.records_density);
    // The anatomy's density follows the recorded one (or is drawn when the centre does not record it).
    let anatomy_density = density.unwrap_or(Density::B);
    let anatomy = Anatomy::sample(&mut rng, config.fov_mm, anatomy_density);
    let lesion = Lesion::sample(&mut rng, &anatomy, &config.lesion);
    let p = config
        .pcr
        .probability(&lesion.params, &config.lesion, &subtype);
    let pcr = u8::from(rng.gen::<f64>() < p);
    let (hr, her2) = clinical::receptors(&subtype);

    // NIfTI stores float32 spacings: use exactly what the files will hold.
    let spacing: Spacing = centre.spacing.map(|s| f64::from(s as f32));
    let shape = shape_of(config.fov_mm, spacing);
    let [nz, ny, nx] = shape;
    let mut phases = Array4::<f32>::zeros((3, nz, ny, nx));
    let mut mask = Array3::<u8>::zeros((nz, ny, nx));
    let mut lo = [usize::MAX; 3];
    let mut hi = [0usize; 3];
    for z in 0..nz {
        for y in 0..ny {
            for x in 0..nx {
                let pos = [
                    z as f64 * spacing[0],
                    y as f64 * spacing[1],
                    x as f64 * spacing[2],
                ];
                let tissue = anatomy.tissue(pos);
                let Some((mut pre, mut ratios)) = anatomy.tissue_signal(tissue) else {
                    continue;
                };
                let breast = anatomy.in_breast(pos);
                if breast {
                    for (a, i) in [z, y, x].into_iter().enumerate() {
                        lo[a] = lo[a].min(i);
                        hi[a] = hi[a].max(i + 1);
                    }
                }
                let mut tex = anatomy.texture(pos);
                if breast && lesion.contains(pos) {
                    mask[[z, y, x]] = 1;
                    pre = lesion.params.pre_intensity;
                    ratios = lesion.ratios(pos);
                    tex = 1.0 + 0.5 * (tex - 1.0);
                }
                let base = centre.gain * anatomy.bias(pos) * tex * pre;
                for (k, ratio) in [1.0, ratios[0], ratios[1]].into_iter().enumerate() {
                    let v = base * ratio + config.noise_sd * field::normal(&mut rng);
                    phases[[k, z, y, x]] = v.max(1.0).round() as f32;
                }
            }
        }
    }
    let margin = 2;
    let breast_box: [[usize; 2]; 3] = std::array::from_fn(|a| {
        if lo[a] == usize::MAX {
            [0, shape[a]]
        } else {
            [lo[a].saturating_sub(margin), (hi[a] + margin).min(shape[a])]
        }
    });
    let lesion_voxels = mask.iter().filter(|&&m| m == 1).count();
    let case = CohortCase {
        id: id.clone(),
        centre: centre.name.clone(),
        spacing,
        shape,
        breast_box,
        lesion_voxels,
        lesion: lesion.params.clone(),
        clinical: ClinicalRow {
            patient_id: id,
            dataset: centre.name.clone(),
            age,
            menopause,
            breast_density: density,
            tumor_subtype: subtype,
            hr,
            her2,
            pcr_probability: p,
            pcr,
        },
        split: Split::Train,
    };
    Ok(SyntheticCase {
        case,
        phases,
        mask,
        geometry: Geometry::from_spacing(spacing),
    })
}
