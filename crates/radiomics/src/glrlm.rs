//! Gray Level Run Length Matrix (GLRLM) features, identical to PyRadiomics 3.1.0.
//!
//! Reference: Galloway, "Texture analysis using gray level run lengths", CGIP 4(2), 1975; Chu et al. 1990;
//! Dasarathy & Holder 1991. Behaviour: AIM-Harvard/pyradiomics `radiomics/glrlm.py` and
//! `radiomics/src/cmatrices.c` (`calculate_glrlm`). Specification: `reference/radiomics.md` §4.3.
//!
//! Quirks kept: a direction in which no line holds more than one ROI voxel is zeroed (then dropped); absent
//! gray levels, empty directions and run lengths absent in every direction are removed (kept lengths keep
//! their true value j); features per direction, then `nanmean`; `weighting_norm` weights by the offset
//! length in mm itself (not exp(−d²) as GLCM).

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::error::Result;
use crate::settings::{TextureParams, WeightingNorm};
use crate::texture_common::{
    angles, drop_empty_columns, nanmean, select_features, FeatureDef, LevelVolume, Offset,
    SizeStats,
};

const CLASS: &str = "glrlm";

const fn f(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

/// GLRLM features in PyRadiomics' order.
const FEATURES: [FeatureDef; 16] = [
    f("GrayLevelNonUniformity"),
    f("GrayLevelNonUniformityNormalized"),
    f("GrayLevelVariance"),
    f("HighGrayLevelRunEmphasis"),
    f("LongRunEmphasis"),
    f("LongRunHighGrayLevelEmphasis"),
    f("LongRunLowGrayLevelEmphasis"),
    f("LowGrayLevelRunEmphasis"),
    f("RunEntropy"),
    f("RunLengthNonUniformity"),
    f("RunLengthNonUniformityNormalized"),
    f("RunPercentage"),
    f("RunVariance"),
    f("ShortRunEmphasis"),
    f("ShortRunHighGrayLevelEmphasis"),
    f("ShortRunLowGrayLevelEmphasis"),
];

/// The post-processed GLRLM.
struct Glrlm {
    /// Per kept direction a row-major `n_levels × lengths.len()` count matrix.
    per_angle: Vec<Vec<f64>>,
    /// Present gray levels as `f64`.
    levels: Vec<f64>,
    /// Kept run lengths j (1-based) as `f64`.
    lengths: Vec<f64>,
}

/// Run-length counts of one direction (row-major `Ng × nr`, index `(level − 1, length − 1)`), zeroed when no
/// line holds more than one ROI voxel (PyRadiomics' `multiElement` check).
fn direction_counts(vol: &LevelVolume, off: Offset, nr: usize) -> Vec<f64> {
    let ng = vol.ng as usize;
    let mut m = vec![0.0f64; ng * nr];
    let [nz, ny, nx] = vol.shape;
    let mut multi = false;
    let delta = vol.deltas(&[off])[0];
    let record = |m: &mut Vec<f64>, gl: u32, rl: usize| m[(gl as usize - 1) * nr + rl] += 1.0;
    // a line starts where the previous voxel along −off is outside the array: at index 0 of a dimension
    // moving forward, at its last index when moving backward
    let start = |d: usize, c: usize| match off[d].signum() {
        1 => c == 0,
        -1 => c + 1 == vol.shape[d],
        _ => false,
    };
    let steps = |d: usize, c: usize| match off[d].signum() {
        1 => vol.shape[d] - c,
        -1 => c + 1,
        _ => usize::MAX,
    };
    let x_start = if off[2] < 0 { nx - 1 } else { 0 };
    for z in 0..nz {
        for y in 0..ny {
            let row_starts = start(0, z) || start(1, y);
            let xs = if row_starts {
                0..nx
            } else if off[2] != 0 {
                x_start..x_start + 1
            } else {
                0..0
            };
            let len_zy = steps(0, z).min(steps(1, y));
            for x in xs {
                let len = len_zy.min(steps(2, x));
                let (mut gl, mut rl, mut elements) = (0u32, 0usize, 0usize);
                let mut idx = vol.index(z, y, x);
                for _ in 0..len {
                    let v = vol.data[idx];
                    if v > 0 {
                        elements += 1;
                        if gl == 0 {
                            gl = v;
                            rl = 0;
                        } else if v == gl {
                            rl += 1;
                        } else {
                            record(&mut m, gl, rl);
                            gl = v;
                            rl = 0;
                        }
                    } else if gl > 0 {
                        record(&mut m, gl, rl);
                        gl = 0;
                    }
                    idx = idx.wrapping_add_signed(delta);
                }
                if gl > 0 {
                    record(&mut m, gl, rl);
                }
                multi |= elements > 1;
            }
        }
    }
    if !multi {
        m.iter_mut().for_each(|v| *v = 0.0);
    }
    m
}

/// GLRLM direction weight (PyRadiomics `glrlm.py`): the offset length in mm under the norm.
fn direction_weight(norm: WeightingNorm, off: Offset, spacing: [f64; 3]) -> f64 {
    let d: Vec<f64> = (0..3)
        .map(|k| off[k].unsigned_abs() as f64 * spacing[k])
        .collect();
    match norm {
        WeightingNorm::Infinity => d.iter().fold(f64::MIN, |m, &v| m.max(v)),
        WeightingNorm::Euclidean => d.iter().map(|v| v * v).sum::<f64>().sqrt(),
        WeightingNorm::Manhattan => d.iter().sum(),
        WeightingNorm::No => 1.0,
    }
}

fn build(levels: ArrayView3<u32>, ng: u32, params: &TextureParams) -> Result<Glrlm> {
    let vol = LevelVolume::new(CLASS, levels, ng, 1)?;
    let force = params.force_2d.then_some(params.force_2d_dimension);
    let offsets = angles(CLASS, vol.shape, &[1], false, force)?;
    let nr = vol.shape.iter().copied().max().unwrap_or(1);
    let raw: Vec<Vec<f64>> = offsets
        .par_iter()
        .map(|&off| direction_counts(&vol, off, nr))
        .collect();
    let gl = vol.gray_levels();
    let n = gl.len();
    let mut per_angle: Vec<Vec<f64>> = raw
        .iter()
        .map(|m| {
            let mut p = Vec::with_capacity(n * nr);
            for &l in &gl {
                let r = (l as usize - 1) * nr;
                p.extend_from_slice(&m[r..r + nr]);
            }
            p
        })
        .collect();
    if let Some(norm) = params.weighting_norm {
        let mut sum = vec![0.0; n * nr];
        for (p, off) in per_angle.iter().zip(&offsets) {
            let w = direction_weight(norm, *off, params.spacing);
            for (s, v) in sum.iter_mut().zip(p) {
                *s += v * w;
            }
        }
        per_angle = vec![sum];
    }
    if per_angle.len() > 1 {
        per_angle.retain(|p| p.iter().sum::<f64>() != 0.0);
    }
    // run lengths absent in every direction
    let na = per_angle.len();
    let mut stacked = vec![0.0; na * nr];
    for (a, p) in per_angle.iter().enumerate() {
        for r in 0..n {
            for j in 0..nr {
                stacked[a * nr + j] += p[r * nr + j];
            }
        }
    }
    let (_, kept) = drop_empty_columns(&stacked, na, nr);
    let per_angle = per_angle
        .iter()
        .map(|p| drop_columns(p, n, nr, &kept))
        .collect();
    Ok(Glrlm {
        per_angle,
        levels: gl.iter().map(|&l| f64::from(l)).collect(),
        lengths: kept.iter().map(|&j| (j + 1) as f64).collect(),
    })
}

fn drop_columns(p: &[f64], rows: usize, cols: usize, kept: &[usize]) -> Vec<f64> {
    let mut out = Vec::with_capacity(rows * kept.len());
    for r in 0..rows {
        out.extend(kept.iter().map(|&c| p[r * cols + c]));
    }
    out
}

/// The GLRLM as PyRadiomics holds it after post-processing (`P_glrlm`), shape `(Ng', Nr', Na')`.
///
/// ```text
/// P(i, j, θ) = number of runs (maximal stretches of equal level among consecutive ROI voxels along a line
///              of direction θ; a non-ROI voxel ends a run) of level i and length j
/// 13 directions for 3-D (those fitting the array; force2D drops the out-of-plane ones); a direction whose
/// lines never hold more than one ROI voxel is zeroed; then: absent levels removed, Σ_θ w_θ·P if
/// weighting_norm (Na' = 1), empty directions removed (when several), run lengths absent everywhere removed
/// ```
///
/// # Errors
///
/// [`crate::Error::GrayLevelOutOfRange`], [`crate::Error::EmptyTextureRoi`], [`crate::Error::NoAngles`],
/// [`crate::Error::InvalidParameter`].
pub fn glrlm_matrix(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
) -> Result<Array3<f64>> {
    let g = build(levels, ng, params)?;
    let (n, nj, na) = (g.levels.len(), g.lengths.len(), g.per_angle.len());
    Ok(Array3::from_shape_fn((n, nj, na), |(i, j, a)| {
        g.per_angle[a][i * nj + j]
    }))
}

/// GLRLM features of the discretised, bbox-cropped `levels` (PyRadiomics `RadiomicsGLRLM`).
///
/// ```text
/// per direction θ: Nr = Σ P (NaN if 0), pr(j) = Σ_i P, pg(i) = Σ_j P, Np = Σ_j j·pr(j)
/// ShortRunEmphasis Σ pr/j²/Nr        LongRunEmphasis Σ pr·j²/Nr
/// GrayLevelNonUniformity Σ pg²/Nr    GrayLevelNonUniformityNormalized Σ pg²/Nr²
/// RunLengthNonUniformity Σ pr²/Nr    RunLengthNonUniformityNormalized Σ pr²/Nr²
/// RunPercentage Nr/Np                GrayLevelVariance, RunVariance: variance of i, j under P/Nr
/// RunEntropy −Σ (P/Nr)·log2(P/Nr + eps)
/// LowGrayLevelRunEmphasis Σ pg/i²/Nr HighGrayLevelRunEmphasis Σ pg·i²/Nr
/// ShortRunLow/HighGrayLevelEmphasis Σ P/(i²j²)/Nr, Σ P·i²/j²/Nr
/// LongRunLow/HighGrayLevelEmphasis  Σ P·j²/i²/Nr, Σ P·i²j²/Nr
/// result = nanmean over directions
/// ```
///
/// # Errors
///
/// As [`glrlm_matrix`], plus [`crate::Error::UnknownFeature`].
pub(crate) fn glrlm_features(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    let selected = select_features(CLASS, &FEATURES, enabled)?;
    let g = build(levels, ng, params)?;
    let per_angle: Vec<[f64; 16]> = g
        .per_angle
        .iter()
        .map(|p| {
            let nr: f64 = p.iter().sum();
            let nr = if nr == 0.0 { f64::NAN } else { nr };
            let s = SizeStats::compute(p, &g.levels, &g.lengths, nr);
            let nj = g.lengths.len();
            let np: f64 = (0..nj)
                .map(|j| (0..g.levels.len()).map(|i| p[i * nj + j]).sum::<f64>() * g.lengths[j])
                .sum();
            [
                s.gln,
                s.glnn,
                s.glv,
                s.high_gl,
                s.large,
                s.large_high,
                s.large_low,
                s.low_gl,
                s.entropy,
                s.sn,
                s.snn,
                nr / np,
                s.sv,
                s.small,
                s.small_high,
                s.small_low,
            ]
        })
        .collect();
    Ok(selected
        .into_iter()
        .map(|k| (FEATURES[k].name, nanmean(per_angle.iter().map(|f| f[k]))))
        .collect())
}
