//! Gray Level Size Zone Matrix (GLSZM) features, identical to PyRadiomics 3.1.0.
//!
//! Reference: Thibault et al., "Texture Indexes and Gray Level Size Zone Matrix: Application to Cell Nuclei
//! Classification", PRIP 2009. Behaviour: AIM-Harvard/pyradiomics `radiomics/glszm.py` and
//! `radiomics/src/cmatrices.c` (`calculate_glszm`, `fill_glszm`). Specification: `reference/radiomics.md` §4.4.
//!
//! Zones are the connected components of equal gray level inside the ROI under the neighbour offsets of
//! distance 1 that fit the cropped array (26-connectivity in 3-D, 8 in a slice / with force2D), found here by
//! an explicit-stack flood fill (each voxel pushed once).

use ndarray::{Array2, ArrayView3};

use crate::error::Result;
use crate::settings::TextureParams;
use crate::texture_common::{
    angles, drop_empty_columns, select_features, FeatureDef, LevelVolume, SizeStats,
};

const CLASS: &str = "glszm";

const fn f(name: &'static str) -> FeatureDef {
    FeatureDef {
        name,
        deprecated: false,
    }
}

/// GLSZM features in PyRadiomics' order.
const FEATURES: [FeatureDef; 16] = [
    f("GrayLevelNonUniformity"),
    f("GrayLevelNonUniformityNormalized"),
    f("GrayLevelVariance"),
    f("HighGrayLevelZoneEmphasis"),
    f("LargeAreaEmphasis"),
    f("LargeAreaHighGrayLevelEmphasis"),
    f("LargeAreaLowGrayLevelEmphasis"),
    f("LowGrayLevelZoneEmphasis"),
    f("SizeZoneNonUniformity"),
    f("SizeZoneNonUniformityNormalized"),
    f("SmallAreaEmphasis"),
    f("SmallAreaHighGrayLevelEmphasis"),
    f("SmallAreaLowGrayLevelEmphasis"),
    f("ZoneEntropy"),
    f("ZonePercentage"),
    f("ZoneVariance"),
];

/// The post-processed GLSZM.
struct Glszm {
    /// Row-major `levels.len() × sizes.len()` zone counts.
    p: Vec<f64>,
    levels: Vec<f64>,
    sizes: Vec<f64>,
}

/// The zones `(level, size)` of the ROI, in scan order of their first voxel.
fn zones(vol: &LevelVolume, params: &TextureParams) -> Result<Vec<(u32, usize)>> {
    let force = params.force_2d.then_some(params.force_2d_dimension);
    let offsets = angles(CLASS, vol.shape, &[1], true, force)?;
    let deltas = vol.deltas(&offsets);
    let mut todo = vol.data.clone();
    let mut stack: Vec<usize> = Vec::new();
    let mut out = Vec::new();
    for z in 0..vol.shape[0] {
        vol.for_each_in_slice(z, |start, gl| {
            if todo[start] != gl {
                return; // already in an earlier zone
            }
            todo[start] = 0;
            stack.push(start);
            let mut size = 0usize;
            while let Some(k) = stack.pop() {
                size += 1;
                for &d in &deltas {
                    let j = k.wrapping_add_signed(d);
                    if todo[j] == gl {
                        todo[j] = 0;
                        stack.push(j);
                    }
                }
            }
            out.push((gl, size));
        });
    }
    Ok(out)
}

fn build(levels: ArrayView3<u32>, ng: u32, params: &TextureParams) -> Result<Glszm> {
    let vol = LevelVolume::new(CLASS, levels, ng, 1)?;
    let zs = zones(&vol, params)?;
    let max_size = zs.iter().map(|z| z.1).max().unwrap_or(1);
    let gl = vol.gray_levels();
    let mut row_of = vec![usize::MAX; ng as usize + 1];
    for (r, &l) in gl.iter().enumerate() {
        row_of[l as usize] = r;
    }
    let mut full = vec![0.0; gl.len() * max_size];
    for (l, s) in zs {
        full[row_of[l as usize] * max_size + s - 1] += 1.0;
    }
    let (p, kept) = drop_empty_columns(&full, gl.len(), max_size);
    Ok(Glszm {
        p,
        levels: gl.iter().map(|&l| f64::from(l)).collect(),
        sizes: kept.iter().map(|&s| (s + 1) as f64).collect(),
    })
}

/// The GLSZM as PyRadiomics holds it after post-processing (`P_glszm`), shape `(Ng', Ns')`.
///
/// ```text
/// P(i, s) = number of connected zones (26-connected in 3-D, 8 with force2D) of level i and size s voxels
/// levels absent from the ROI and sizes that no zone has are removed
/// ```
///
/// # Errors
///
/// [`crate::Error::GrayLevelOutOfRange`], [`crate::Error::EmptyTextureRoi`], [`crate::Error::NoAngles`],
/// [`crate::Error::InvalidParameter`].
pub fn glszm_matrix(
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

/// GLSZM features of the discretised, bbox-cropped `levels` (PyRadiomics `RadiomicsGLSZM`).
///
/// ```text
/// Nz = Σ P (1 if 0), Np = Σ_s s·ps(s) = ROI voxels (1 if 0), ps(s) = Σ_i P, pg(i) = Σ_s P
/// SmallAreaEmphasis Σ ps/s²/Nz       LargeAreaEmphasis Σ ps·s²/Nz
/// GrayLevelNonUniformity Σ pg²/Nz    GrayLevelNonUniformityNormalized Σ pg²/Nz²
/// SizeZoneNonUniformity Σ ps²/Nz     SizeZoneNonUniformityNormalized Σ ps²/Nz²
/// ZonePercentage Nz/Np               GrayLevelVariance, ZoneVariance: variance of i, s under P/Nz
/// ZoneEntropy −Σ (P/Nz)·log2(P/Nz + eps)
/// LowGrayLevelZoneEmphasis Σ pg/i²/Nz        HighGrayLevelZoneEmphasis Σ pg·i²/Nz
/// SmallAreaLow/HighGrayLevelEmphasis Σ P/(i²s²)/Nz, Σ P·i²/s²/Nz
/// LargeAreaLow/HighGrayLevelEmphasis Σ P·s²/i²/Nz,  Σ P·i²s²/Nz
/// ```
///
/// # Errors
///
/// As [`glszm_matrix`], plus [`crate::Error::UnknownFeature`].
pub(crate) fn glszm_features(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    let selected = select_features(CLASS, &FEATURES, enabled)?;
    let g = build(levels, ng, params)?;
    let nz: f64 = g.p.iter().sum();
    let nz = if nz == 0.0 { 1.0 } else { nz };
    let ns = g.sizes.len();
    let np: f64 = (0..ns)
        .map(|s| (0..g.levels.len()).map(|i| g.p[i * ns + s]).sum::<f64>() * g.sizes[s])
        .sum();
    let np = if np == 0.0 { 1.0 } else { np };
    let s = SizeStats::compute(&g.p, &g.levels, &g.sizes, nz);
    let values = [
        s.gln,
        s.glnn,
        s.glv,
        s.high_gl,
        s.large,
        s.large_high,
        s.large_low,
        s.low_gl,
        s.sn,
        s.snn,
        s.small,
        s.small_high,
        s.small_low,
        s.entropy,
        nz / np,
        s.sv,
    ];
    Ok(selected
        .into_iter()
        .map(|k| (FEATURES[k].name, values[k]))
        .collect())
}
