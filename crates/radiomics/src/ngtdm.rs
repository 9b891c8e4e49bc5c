//! Neighbouring Gray Tone Difference Matrix (NGTDM) features, identical to PyRadiomics 3.1.0.
//!
//! Reference: Amadasun & King, "Textural features corresponding to textural properties", IEEE SMC 19(5),
//! 1989. Behaviour: AIM-Harvard/pyradiomics `radiomics/ngtdm.py` and `radiomics/src/cmatrices.c`
//! (`calculate_ngtdm`). Specification: `reference/radiomics.md` §4.6.
//!
//! Quirks kept: voxels without any ROI neighbour are counted in `n_i` (adding 0 to `s_i`); Coarseness is
//! 1e6 when `Σ p_i s_i = 0`; Contrast, Busyness and Strength are 0 when their denominators are 0.

use ndarray::{Array2, ArrayView3};
use rayon::prelude::*;

use crate::error::Result;
use crate::settings::TextureParams;
use crate::texture_common::{
    angles, at, checked_distances, select_features, FeatureDef, LevelVolume,
};

const CLASS: &str = "ngtdm";

const fn f(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

/// NGTDM features in PyRadiomics' order.
const FEATURES: [FeatureDef; 5] = [
    f("Busyness"),
    f("Coarseness"),
    f("Complexity"),
    f("Contrast"),
    f("Strength"),
];

/// Rows `(n_i, s_i, i)` of the present gray levels.
fn build(levels: ArrayView3<u32>, ng: u32, params: &TextureParams) -> Result<Vec<[f64; 3]>> {
    let pad = checked_distances(&params.distances)?
        .last()
        .copied()
        .unwrap_or(1);
    let vol = LevelVolume::new(CLASS, levels, ng, pad)?;
    let force = params.force_2d.then_some(params.force_2d_dimension);
    let offsets = angles(CLASS, vol.shape, &params.distances, true, force)?;
    let deltas = vol.deltas(&offsets);
    let ngu = ng as usize;
    let full = (0..vol.shape[0])
        .into_par_iter()
        .fold(
            || vec![[0.0f64; 2]; ngu],
            |mut m, z| {
                vol.for_each_in_slice(z, |idx, i| {
                    let (mut count, mut sum) = (0u32, 0u64);
                    for &d in &deltas {
                        let l = at(&vol.data, idx, d);
                        if l > 0 {
                            count += 1;
                            sum += u64::from(l);
                        }
                    }
                    let diff = if count == 0 {
                        0.0
                    } else {
                        (f64::from(i) - sum as f64 / f64::from(count)).abs()
                    };
                    let row = &mut m[i as usize - 1];
                    row[0] += 1.0;
                    row[1] += diff;
                });
                m
            },
        )
        .reduce(
            || vec![[0.0f64; 2]; ngu],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    x[0] += y[0];
                    x[1] += y[1];
                }
                a
            },
        );
    Ok(full
        .iter()
        .enumerate()
        .filter(|(_, r)| r[0] != 0.0)
        .map(|(k, r)| [r[0], r[1], (k + 1) as f64])
        .collect())
}

/// The NGTDM as PyRadiomics holds it (`P_ngtdm`), shape `(Ng', 3)` with columns `n_i`, `s_i`, `i`.
///
/// ```text
/// for each ROI voxel of level i: A = mean level of its neighbours (offsets of Chebyshev norm in
///   `distances`, both directions) that are inside the array and ROI;  n_i += 1;  s_i += |i − A| (0 if none)
/// rows with n_i = 0 removed
/// ```
///
/// # Errors
///
/// [`crate::Error::GrayLevelOutOfRange`], [`crate::Error::EmptyTextureRoi`], [`crate::Error::NoAngles`],
/// [`crate::Error::InvalidParameter`].
pub fn ngtdm_matrix(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
) -> Result<Array2<f64>> {
    let rows = build(levels, ng, params)?;
    Ok(Array2::from_shape_fn((rows.len(), 3), |(r, c)| rows[r][c]))
}

/// NGTDM features of the discretised, bbox-cropped `levels` (PyRadiomics `RadiomicsNGTDM`).
///
/// ```text
/// Nvp = Σ n_i (= ROI voxels), p_i = n_i/Nvp, Ngp = number of present levels; sums over present i, j
/// Coarseness 1/Σ p_i·s_i                       (1e6 if the sum is 0)
/// Contrast   [Σ p_i·p_j·(i−j)² / (Ngp(Ngp−1))]·[Σ s_i / Nvp]   (0 if Ngp = 1)
/// Busyness   Σ p_i·s_i / Σ |i·p_i − j·p_j|     (0 if the denominator is 0)
/// Complexity Σ |i−j|·(p_i·s_i + p_j·s_j)/(p_i + p_j) / Nvp
/// Strength   Σ (p_i + p_j)·(i−j)² / Σ s_i      (0 if Σ s_i = 0)
/// ```
///
/// # Errors
///
/// As [`ngtdm_matrix`], plus [`crate::Error::UnknownFeature`].
pub(crate) fn ngtdm_features(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    let selected = select_features(CLASS, &FEATURES, enabled)?;
    let rows = build(levels, ng, params)?;
    let nvp: f64 = rows.iter().map(|r| r[0]).sum();
    let p: Vec<f64> = rows.iter().map(|r| r[0] / nvp).collect();
    let s: Vec<f64> = rows.iter().map(|r| r[1]).collect();
    let iv: Vec<f64> = rows.iter().map(|r| r[2]).collect();
    let ngp = rows.len() as f64;
    let sum_ps: f64 = p.iter().zip(&s).map(|(a, b)| a * b).sum();
    let sum_s: f64 = s.iter().sum();
    let (mut con, mut busy_den, mut complexity, mut strength) = (0.0, 0.0, 0.0, 0.0);
    for a in 0..rows.len() {
        for b in 0..rows.len() {
            let d = iv[a] - iv[b];
            con += p[a] * p[b] * d * d;
            busy_den += (iv[a] * p[a] - iv[b] * p[b]).abs();
            complexity += d.abs() * (p[a] * s[a] + p[b] * s[b]) / (p[a] + p[b]);
            strength += (p[a] + p[b]) * d * d;
        }
    }
    let coarseness = if sum_ps != 0.0 { 1.0 / sum_ps } else { 1e6 };
    let div = ngp * (ngp - 1.0);
    let contrast = if div != 0.0 {
        con * sum_s / nvp / div
    } else {
        0.0
    };
    let busyness = if busy_den != 0.0 {
        sum_ps / busy_den
    } else {
        0.0
    };
    let strength = if sum_s != 0.0 { strength / sum_s } else { 0.0 };
    let values = [busyness, coarseness, complexity / nvp, contrast, strength];
    Ok(selected
        .into_iter()
        .map(|k| (FEATURES[k].name, values[k]))
        .collect())
}
