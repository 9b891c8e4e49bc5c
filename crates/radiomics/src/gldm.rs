//! Gray Level Dependence Matrix (GLDM) features, identical to PyRadiomics 3.1.0.
//!
//! Reference: Sun & Wee, "Neighboring gray level dependence matrix for texture classification", CVGIP 23(3),
//! 1983 (IBSI NGLDM). Behaviour: AIM-Harvard/pyradiomics `radiomics/gldm.py` and `radiomics/src/cmatrices.c`
//! (`calculate_gldm`). Specification: `reference/radiomics.md` §4.5.
//!
//! Deprecated (named → no value): DependencePercentage (always 1), GrayLevelNonUniformityNormalized
//! (= firstorder Uniformity).

use ndarray::{Array2, ArrayView3};
use rayon::prelude::*;

use crate::error::Result;
use crate::settings::TextureParams;
use crate::texture_common::{
    angles, at, checked_distances, drop_empty_columns, select_features, FeatureDef, LevelVolume,
    SizeStats,
};

const CLASS: &str = "gldm";

const fn f(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}
const fn dep(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: true,
    }
}

/// GLDM features in PyRadiomics' order.
const FEATURES: [FeatureDef; 16] = [
    f("DependenceEntropy"),
    f("DependenceNonUniformity"),
    f("DependenceNonUniformityNormalized"),
    dep("DependencePercentage"),
    f("DependenceVariance"),
    f("GrayLevelNonUniformity"),
    dep("GrayLevelNonUniformityNormalized"),
    f("GrayLevelVariance"),
    f("HighGrayLevelEmphasis"),
    f("LargeDependenceEmphasis"),
    f("LargeDependenceHighGrayLevelEmphasis"),
    f("LargeDependenceLowGrayLevelEmphasis"),
    f("LowGrayLevelEmphasis"),
    f("SmallDependenceEmphasis"),
    f("SmallDependenceHighGrayLevelEmphasis"),
    f("SmallDependenceLowGrayLevelEmphasis"),
];

/// The post-processed GLDM.
struct Gldm {
    /// Row-major `levels.len() × sizes.len()` voxel counts.
    p: Vec<f64>,
    levels: Vec<f64>,
    /// Kept dependence sizes (dependent neighbours + 1) as `f64`.
    sizes: Vec<f64>,
}

fn build(levels: ArrayView3<u32>, ng: u32, params: &TextureParams) -> Result<Gldm> {
    let pad = checked_distances(&params.distances)?
        .last()
        .copied()
        .unwrap_or(1);
    let vol = LevelVolume::new(CLASS, levels, ng, pad)?;
    let force = params.force_2d.then_some(params.force_2d_dimension);
    let offsets = angles(CLASS, vol.shape, &params.distances, true, force)?;
    let deltas = vol.deltas(&offsets);
    let nd = offsets.len() + 1;
    let ngu = ng as usize;
    let alpha = params.gldm_a;
    let full = (0..vol.shape[0])
        .into_par_iter()
        .fold(
            || vec![0.0f64; ngu * nd],
            |mut m, z| {
                vol.for_each_in_slice(z, |idx, i| {
                    let dep = deltas
                        .iter()
                        .filter(|&&d| {
                            let l = at(&vol.data, idx, d);
                            l > 0 && f64::from(i.abs_diff(l)) <= alpha
                        })
                        .count();
                    m[(i as usize - 1) * nd + dep] += 1.0;
                });
                m
            },
        )
        .reduce(
            || vec![0.0f64; ngu * nd],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    let gl = vol.gray_levels();
    let mut rows = Vec::with_capacity(gl.len() * nd);
    for &l in &gl {
        let r = (l as usize - 1) * nd;
        rows.extend_from_slice(&full[r..r + nd]);
    }
    let (p, kept) = drop_empty_columns(&rows, gl.len(), nd);
    Ok(Gldm {
        p,
        levels: gl.iter().map(|&l| f64::from(l)).collect(),
        sizes: kept.iter().map(|&s| (s + 1) as f64).collect(),
    })
}

/// The GLDM as PyRadiomics holds it after post-processing (`P_gldm`), shape `(Ng', Nd')`.
///
/// ```text
/// for each ROI voxel of level i: dep = #{neighbours at the offsets of Chebyshev norm in `distances`
///   (both directions; 26 for distance 1) inside the array and ROI with |i − j| ≤ gldm_a}
/// P(i, dep + 1) += 1;  levels absent from the ROI and dependence sizes no voxel has are removed
/// ```
///
/// # Errors
///
/// [`crate::Error::GrayLevelOutOfRange`], [`crate::Error::EmptyTextureRoi`], [`crate::Error::NoAngles`],
/// [`crate::Error::InvalidParameter`].
pub fn gldm_matrix(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
) -> Result<Array2<f64>> {
    let g = build(levels, ng, params)?;
    let ns = g.sizes.len();
    Ok(Array2::from_shape_fn((g.levels.len(), ns), |(i, s)| {
        g.p[i * ns + s]
    }))
}

/// GLDM features of the discretised, bbox-cropped `levels` (PyRadiomics `RadiomicsGLDM`).
///
/// ```text
/// Nz = Σ P = ROI voxels (1 if 0), pd(j) = Σ_i P, pg(i) = Σ_j P
/// SmallDependenceEmphasis Σ pd/j²/Nz      LargeDependenceEmphasis Σ pd·j²/Nz
/// GrayLevelNonUniformity Σ pg²/Nz         DependenceNonUniformity Σ pd²/Nz
/// DependenceNonUniformityNormalized Σ pd²/Nz²
/// GrayLevelVariance, DependenceVariance: variance of i, j under P/Nz
/// DependenceEntropy −Σ (P/Nz)·log2(P/Nz + eps)
/// LowGrayLevelEmphasis Σ pg/i²/Nz         HighGrayLevelEmphasis Σ pg·i²/Nz
/// SmallDependenceLow/HighGrayLevelEmphasis Σ P/(i²j²)/Nz, Σ P·i²/j²/Nz
/// LargeDependenceLow/HighGrayLevelEmphasis Σ P·j²/i²/Nz,  Σ P·i²j²/Nz
/// ```
///
/// # Errors
///
/// As [`gldm_matrix`], plus [`crate::Error::UnknownFeature`].
pub(crate) fn gldm_features(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    let selected = select_features(CLASS, &FEATURES, enabled)?;
    let g = build(levels, ng, params)?;
    let nz: f64 = g.p.iter().sum();
    let nz = if nz == 0.0 { 1.0 } else { nz };
    let s = SizeStats::compute(&g.p, &g.levels, &g.sizes, nz);
    let nan = f64::NAN;
    let values = [
        s.entropy,
        s.sn,
        s.snn,
        nan,
        s.sv,
        s.gln,
        nan,
        s.glv,
        s.high_gl,
        s.large,
        s.large_high,
        s.large_low,
        s.low_gl,
        s.small,
        s.small_high,
        s.small_low,
    ];
    Ok(selected
        .into_iter()
        .map(|k| (FEATURES[k].name, values[k]))
        .collect())
}
