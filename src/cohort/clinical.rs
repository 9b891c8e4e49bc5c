//! Clinical variables of the synthetic cohort and the documented pCR model.
//!
//! Age, menopausal status, breast density and tumour subtype are drawn independently of the image; the pCR
//! label depends on the lesion (so that radiomics of the first post-contrast phase carry real signal) and,
//! mildly, on the subtype (as in real cohorts, where triple-negative and HER2+ tumours respond more often):
//!
//! ```text
//! s   = β₀ + β_w · z(w) + β_h · z(h) + β_r · z(r₀) + β_t · [subtype ∈ {triple_negative, her2_*}]
//! pCR ~ Bernoulli(σ(s))
//! defaults: β₀ = −1.0, β_w = 2.5, β_h = −1.5, β_r = −1.0, β_t = 0.5
//! ```
//!
//! `z(v)` standardises a lesion parameter by its sampling range ([`LesionRanges::z`]): strong wash-in raises
//! the odds of response, heterogeneity (necrotic-like centre) and size lower them. With the default ranges
//! about 35–40 % of the cases respond.
//!
//! Other columns (`hr`, `er`, `pr`, `her2`) follow from the subtype; `menopause` from the age (with an
//! ISPY2-style free text for some cases and a few unknown).

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::anatomy::Density;
use super::field::{normal, sigmoid};
use super::lesion::{LesionParams, LesionRanges};

/// Coefficients of the pCR model (module docs).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PcrModel {
    /// Intercept β₀.
    pub intercept: f64,
    /// β_w (wash-in).
    pub wash_in: f64,
    /// β_h (heterogeneity).
    pub heterogeneity: f64,
    /// β_r (radius).
    pub radius: f64,
    /// β_t (triple-negative or HER2 subtype).
    pub subtype: f64,
}

impl Default for PcrModel {
    fn default() -> Self {
        PcrModel {
            intercept: -1.0,
            wash_in: 2.5,
            heterogeneity: -1.5,
            radius: -1.0,
            subtype: 0.5,
        }
    }
}

impl PcrModel {
    /// The response probability `σ(s)` of a lesion and subtype.
    #[must_use]
    pub fn probability(&self, lesion: &LesionParams, ranges: &LesionRanges, subtype: &str) -> f64 {
        let responsive_subtype = subtype == "triple_negative" || subtype.starts_with("her2");
        let s = self.intercept
            + self.wash_in * LesionRanges::z(lesion.wash_in, ranges.wash_in)
            + self.heterogeneity * LesionRanges::z(lesion.heterogeneity, ranges.heterogeneity)
            + self.radius * LesionRanges::z(lesion.radius_mm, ranges.radius_mm)
            + self.subtype * f64::from(u8::from(responsive_subtype));
        sigmoid(s)
    }
}

/// One row of the synthetic clinical table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicalRow {
    /// Upper-case patient id (`SITEA_001`).
    pub patient_id: String,
    /// Centre name.
    pub dataset: String,
    /// Age in whole years.
    pub age: f64,
    /// Free-text menopausal status (`None` = unknown).
    pub menopause: Option<String>,
    /// ACR density (`None` where the centre does not record it).
    pub breast_density: Option<Density>,
    /// `luminal_a`, `luminal_b`, `her2_enriched`, `her2_pure` or `triple_negative`.
    pub tumor_subtype: String,
    /// Hormone receptor status.
    pub hr: u8,
    /// HER2 status.
    pub her2: u8,
    /// The response probability of the pCR model.
    pub pcr_probability: f64,
    /// Pathological complete response (0/1).
    pub pcr: u8,
}

/// The draws that do not depend on the lesion: `(age, menopause, density, subtype)`.
pub fn sample_demographics<R: Rng>(
    rng: &mut R,
    records_density: bool,
) -> (f64, Option<String>, Option<Density>, String) {
    let age = (51.0 + 10.0 * normal(rng)).clamp(26.0, 82.0).round();
    let u: f64 = rng.gen();
    let menopause = if u < 0.08 {
        None
    } else if (46.0..=54.0).contains(&age) && u < 0.25 {
        Some("peri (6-12 months since LMP)".to_string())
    } else if age < 50.0 {
        Some("pre".to_string())
    } else {
        Some("post".to_string())
    };
    let d: f64 = rng.gen();
    let density = records_density.then_some(match d {
        d if d < 0.12 => Density::A,
        d if d < 0.50 => Density::B,
        d if d < 0.88 => Density::C,
        _ => Density::D,
    });
    let s: f64 = rng.gen();
    let subtype = match s {
        s if s < 0.28 => "luminal_a",
        s if s < 0.45 => "luminal_b",
        s if s < 0.60 => "her2_enriched",
        s if s < 0.70 => "her2_pure",
        _ => "triple_negative",
    };
    (age, menopause, density, subtype.to_string())
}

/// `(hr, her2)` implied by a subtype.
#[must_use]
pub fn receptors(subtype: &str) -> (u8, u8) {
    match subtype {
        "luminal_a" => (1, 0),
        "luminal_b" | "her2_enriched" => (1, 1),
        "her2_pure" => (0, 1),
        _ => (0, 0),
    }
}

/// The CSV header of the clinical table (a subset of `clinical_and_imaging_info.xlsx`'s columns).
pub const CLINICAL_COLUMNS: [&str; 14] = [
    "patient_id",
    "dataset",
    "age",
    "menopause",
    "breast_density",
    "tumor_subtype",
    "hr",
    "er",
    "pr",
    "her2",
    "pcr",
    "num_phases",
    "pixel_spacing",
    "slice_thickness",
];

impl ClinicalRow {
    /// The row's cells in [`CLINICAL_COLUMNS`] order (`spacing` in array order `[sz, sy, sx]`).
    #[must_use]
    pub fn cells(&self, spacing: [f64; 3]) -> Vec<String> {
        vec![
            self.patient_id.clone(),
            self.dataset.clone(),
            format!("{}", self.age),
            self.menopause.clone().unwrap_or_default(),
            self.breast_density
                .map(|d| d.label().to_string())
                .unwrap_or_default(),
            self.tumor_subtype.clone(),
            self.hr.to_string(),
            self.hr.to_string(),
            self.hr.to_string(),
            self.her2.to_string(),
            self.pcr.to_string(),
            "3".to_string(),
            format!("[{}, {}]", spacing[2], spacing[1]),
            format!("{}", spacing[0]),
        ]
    }
}
