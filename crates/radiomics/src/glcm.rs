//! Gray Level Co-occurrence Matrix (GLCM) features, identical to PyRadiomics 3.1.0.
//!
//! Reference: van Griethuysen et al., Cancer Research 77(21), 2017; Haralick et al., "Textural Features for
//! Image Classification", IEEE SMC 3(6), 1973. Behaviour: AIM-Harvard/pyradiomics `radiomics/glcm.py`
//! (`_calculateMatrix`, `_calculateCoefficients`, `get*FeatureValue`) and `radiomics/src/cmatrices.c`
//! (`calculate_glcm`). Specification: `reference/radiomics.md` §4.2.
//!
//! Quirks kept: absent gray levels removed but `i`, `j` keep their bin values and `Ng` (not the number of
//! present levels) is used in Idmn/Idn; symmetric matrix per angle; empty angles dropped; features per angle
//! then `nanmean` (Imc2 yields NaN for an angle where HXY > HXY2 and that angle is skipped); Correlation = 1
//! where σx·σy = 0; Imc1 = 0 where max(HX, HY) = 0; MCC = 1 for a 1×1 matrix.

use ndarray::{Array3, ArrayView3};
use rayon::prelude::*;

use crate::eigen::symmetric_eigenvalues;
use crate::error::Result;
use crate::settings::{TextureParams, WeightingNorm};
use crate::texture_common::{
    angles, at, checked_distances, mean, nanmean, select_features, FeatureDef, LevelVolume, Offset,
    EPS,
};

const CLASS: &str = "glcm";

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

/// GLCM features in PyRadiomics' order (`get<Name>FeatureValue` sorted by name); deprecated ones yield nothing.
const FEATURES: [FeatureDef; 28] = [
    f("Autocorrelation"),
    f("ClusterProminence"),
    f("ClusterShade"),
    f("ClusterTendency"),
    f("Contrast"),
    f("Correlation"),
    f("DifferenceAverage"),
    f("DifferenceEntropy"),
    f("DifferenceVariance"),
    dep("Dissimilarity"),
    dep("Homogeneity1"),
    dep("Homogeneity2"),
    f("Id"),
    f("Idm"),
    f("Idmn"),
    f("Idn"),
    f("Imc1"),
    f("Imc2"),
    f("InverseVariance"),
    f("JointAverage"),
    f("JointEnergy"),
    f("JointEntropy"),
    f("MCC"),
    f("MaximumProbability"),
    f("SumAverage"),
    f("SumEntropy"),
    f("SumSquares"),
    dep("SumVariance"),
];
const JOINT_AVERAGE: usize = 19;
const MCC: usize = 22;

/// The post-processed GLCM: per kept angle a row-major `n × n` matrix (not normalised).
struct Glcm {
    /// One `n × n` matrix per kept angle.
    per_angle: Vec<Vec<f64>>,
    /// Present gray levels (bin values) as `f64`.
    levels: Vec<f64>,
}

/// Counts `P(i, j, a)` for each offset (PyRadiomics' `calculate_glcm`): row-major `Ng × Ng` per angle.
fn raw_counts(vol: &LevelVolume, offsets: &[Offset]) -> Vec<Vec<f64>> {
    let ng = vol.ng as usize;
    let deltas = vol.deltas(offsets);
    deltas
        .par_iter()
        .map(|&delta| {
            let mut m = vec![0.0f64; ng * ng];
            for z in 0..vol.shape[0] {
                vol.for_each_in_slice(z, |idx, i| {
                    let j = at(&vol.data, idx, delta);
                    if j != 0 {
                        m[(i as usize - 1) * ng + j as usize - 1] += 1.0;
                    }
                });
            }
            m
        })
        .collect()
}

/// PyRadiomics' GLCM after `_calculateMatrix` minus the normalisation: absent levels removed, symmetrised
/// (if asked), weighted and summed over angles (if `weighting_norm`), empty angles dropped (if > 1 angle).
fn build(levels: ArrayView3<u32>, ng: u32, params: &TextureParams) -> Result<Glcm> {
    let pad = checked_distances(&params.distances)?
        .last()
        .copied()
        .unwrap_or(1);
    let vol = LevelVolume::new(CLASS, levels, ng, pad)?;
    let force = params.force_2d.then_some(params.force_2d_dimension);
    let offsets = angles(CLASS, vol.shape, &params.distances, false, force)?;
    let raw = raw_counts(&vol, &offsets);
    let gl = vol.gray_levels();
    let n = gl.len();
    let ngu = ng as usize;
    let mut per_angle: Vec<Vec<f64>> = raw
        .iter()
        .map(|m| {
            let mut p = vec![0.0; n * n];
            for (a, &li) in gl.iter().enumerate() {
                for (b, &lj) in gl.iter().enumerate() {
                    p[a * n + b] = m[(li as usize - 1) * ngu + lj as usize - 1];
                }
            }
            if params.symmetrical_glcm {
                for a in 0..n {
                    for b in a..n {
                        let s = p[a * n + b] + p[b * n + a];
                        p[a * n + b] = s;
                        p[b * n + a] = s;
                    }
                }
            }
            p
        })
        .collect();
    if let Some(norm) = params.weighting_norm {
        let mut sum = vec![0.0; n * n];
        for (p, off) in per_angle.iter().zip(&offsets) {
            let w = angle_weight(norm, *off, params.spacing);
            for (s, v) in sum.iter_mut().zip(p) {
                *s += v * w;
            }
        }
        per_angle = vec![sum];
    }
    if per_angle.len() > 1 {
        per_angle.retain(|p| p.iter().sum::<f64>() != 0.0);
    }
    Ok(Glcm {
        per_angle,
        levels: gl.iter().map(|&l| f64::from(l)).collect(),
    })
}

/// GLCM angle weight (PyRadiomics `glcm.py`): `exp(−d²)` with `d` the offset length in mm under the norm.
///
/// ```text
/// infinity:  exp(−max_k(|a_k|·s_k)²)    euclidean: exp(−Σ_k (|a_k|·s_k)²)
/// manhattan: exp(−(Σ_k |a_k|·s_k)²)     no_weighting: 1
/// ```
fn angle_weight(norm: WeightingNorm, off: Offset, spacing: [f64; 3]) -> f64 {
    let d: Vec<f64> = (0..3)
        .map(|k| off[k].unsigned_abs() as f64 * spacing[k])
        .collect();
    match norm {
        WeightingNorm::Infinity => (-d.iter().fold(f64::MIN, |m, &v| m.max(v)).powi(2)).exp(),
        WeightingNorm::Euclidean => (-d.iter().map(|v| v * v).sum::<f64>()).exp(),
        WeightingNorm::Manhattan => (-d.iter().sum::<f64>().powi(2)).exp(),
        WeightingNorm::No => 1.0,
    }
}

/// The GLCM exactly as PyRadiomics holds it before normalising (`P_glcm` in `glcm.py`), shape
/// `(Ng', Ng', Na')`.
///
/// ```text
/// P(i, j, a) = #{ROI voxels v of level i whose neighbour v + a (inside the array and ROI) has level j}
/// then: rows/columns of levels absent from the ROI removed (Ng' = present levels, increasing),
///       P += Pᵀ per angle (symmetrical_glcm), Σ_a w_a·P(·,·,a) if weighting_norm (Na' = 1),
///       angles with no pair removed when there are several; divide each angle by its sum to get p.
/// ```
///
/// `levels` is the discretised image cropped to the ROI bounding box (0 outside the ROI, `1..=ng` inside);
/// angles are generated from its shape as PyRadiomics does (13 for distance 1 in 3-D).
///
/// # Errors
///
/// [`crate::Error::GrayLevelOutOfRange`], [`crate::Error::EmptyTextureRoi`], [`crate::Error::NoAngles`],
/// [`crate::Error::InvalidParameter`] (distances, force2D dimension).
pub fn glcm_matrix(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
) -> Result<Array3<f64>> {
    let g = build(levels, ng, params)?;
    let n = g.levels.len();
    let na = g.per_angle.len();
    Ok(Array3::from_shape_fn((n, n, na), |(i, j, a)| {
        g.per_angle[a][i * n + j]
    }))
}

/// Per-angle values of all 28 table entries (deprecated entries stay NaN) from the normalised `p`.
fn angle_features(p: &[f64], gl: &[f64], ng: f64) -> [f64; 28] {
    let n = gl.len();
    let ngi = ng as usize;
    let mut px = vec![0.0; n];
    let mut py = vec![0.0; n];
    let mut sum_p = vec![0.0; 2 * ngi.max(1) - 1];
    let mut diff_p = vec![0.0; ngi.max(1)];
    let (mut ux, mut uy, mut hxy, mut auto, mut contrast, mut energy) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    let mut maxp = f64::NEG_INFINITY;
    for a in 0..n {
        for b in 0..n {
            let v = p[a * n + b];
            let (i, j) = (gl[a], gl[b]);
            px[a] += v;
            py[b] += v;
            ux += i * v;
            uy += j * v;
            hxy -= v * (v + EPS).log2();
            auto += v * i * j;
            contrast += v * (i - j) * (i - j);
            energy += v * v;
            maxp = maxp.max(v);
            sum_p[(i + j) as usize - 2] += v;
            diff_p[(i - j).abs() as usize] += v;
        }
    }
    if p.iter().any(|v| v.is_nan()) {
        maxp = f64::NAN;
    }
    let (mut cp, mut cs, mut ct, mut sx2, mut sy2, mut corm, mut hxy1, mut hxy2) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for a in 0..n {
        for b in 0..n {
            let v = p[a * n + b];
            let (i, j) = (gl[a], gl[b]);
            let t = i + j - ux - uy;
            let t2 = t * t;
            ct += v * t2;
            cs += v * t2 * t;
            cp += v * t2 * t2;
            sx2 += v * (i - ux) * (i - ux);
            sy2 += v * (j - uy) * (j - uy);
            corm += v * (i - ux) * (j - uy);
            let pxy = px[a] * py[b];
            let l = (pxy + EPS).log2();
            hxy1 -= v * l;
            hxy2 -= pxy * l;
        }
    }
    let (sx, sy) = (sx2.sqrt(), sy2.sqrt());
    let correlation = if sx * sy == 0.0 {
        1.0
    } else {
        corm / (sx * sy + EPS)
    };
    let hx: f64 = -px.iter().map(|&v| v * (v + EPS).log2()).sum::<f64>();
    let hy: f64 = -py.iter().map(|&v| v * (v + EPS).log2()).sum::<f64>();
    let div = if hx.is_nan() {
        hy
    } else if hy.is_nan() {
        hx
    } else {
        hx.max(hy)
    };
    let imc1 = if div != 0.0 { (hxy - hxy1) / div } else { 0.0 };
    let imc2 = if hxy2 == hxy {
        0.0
    } else {
        (1.0 - std::f64::consts::E.powf(-2.0 * (hxy2 - hxy))).sqrt()
    };
    let (mut da, mut de, mut idm, mut idmn, mut id, mut idn, mut inv) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (k, &v) in diff_p.iter().enumerate() {
        let kf = k as f64;
        da += kf * v;
        de -= v * (v + EPS).log2();
        idm += v / (1.0 + kf * kf);
        idmn += v / (1.0 + kf * kf / (ng * ng));
        id += v / (1.0 + kf);
        idn += v / (1.0 + kf / ng);
        if k > 0 {
            inv += v / (kf * kf);
        }
    }
    let dv: f64 = diff_p
        .iter()
        .enumerate()
        .map(|(k, &v)| v * (k as f64 - da) * (k as f64 - da))
        .sum();
    let (mut sa, mut se) = (0.0, 0.0);
    for (k, &v) in sum_p.iter().enumerate() {
        sa += (k + 2) as f64 * v;
        se -= v * (v + EPS).log2();
    }
    let nan = f64::NAN;
    [
        auto,
        cp,
        cs,
        ct,
        contrast,
        correlation,
        da,
        de,
        dv,
        nan,
        nan,
        nan,
        id,
        idm,
        idmn,
        idn,
        imc1,
        imc2,
        inv,
        ux,
        energy,
        hxy,
        nan,
        maxp,
        sa,
        se,
        sx2,
        nan,
    ]
}

/// MCC of one normalised angle matrix: `sqrt` of the second-largest eigenvalue of
/// `Q(i, j) = Σ_k p(i,k)·p(j,k) / (px(i)·py(k))`.
///
/// `Q = Dx⁻¹·P·Dy⁻¹·Pᵀ` has the eigenvalues of the symmetric PSD `W·Wᵀ`, `W(i,k) = p(i,k)/sqrt(px(i)·py(k))`
/// (rows with px = 0 add zero eigenvalues). PyRadiomics adds `eps` to `px·py` and uses a general solver; the
/// difference is below 1e-11 for the probabilities a GLCM holds.
fn mcc_angle(p: &[f64], n: usize) -> f64 {
    let px: Vec<f64> = (0..n).map(|a| p[a * n..(a + 1) * n].iter().sum()).collect();
    let py: Vec<f64> = (0..n).map(|b| (0..n).map(|a| p[a * n + b]).sum()).collect();
    let rows: Vec<usize> = (0..n).filter(|&a| px[a] > 0.0).collect();
    let cols: Vec<usize> = (0..n).filter(|&b| py[b] > 0.0).collect();
    let m = rows.len();
    let mut eig = vec![0.0; n - m];
    if m > 0 {
        let w: Vec<Vec<f64>> = rows
            .iter()
            .map(|&a| {
                cols.iter()
                    .map(|&b| p[a * n + b] / (px[a] * py[b]).sqrt())
                    .collect()
            })
            .collect();
        let mut s = vec![0.0; m * m];
        for r in 0..m {
            for c in r..m {
                let v: f64 = w[r].iter().zip(&w[c]).map(|(x, y)| x * y).sum();
                s[r * m + c] = v;
                s[c * m + r] = v;
            }
        }
        eig.extend(symmetric_eigenvalues(&mut s, m));
    }
    eig.sort_by(f64::total_cmp);
    eig[n - 2].max(0.0).sqrt()
}

/// GLCM features of the discretised, bbox-cropped `levels` (PyRadiomics `RadiomicsGLCM`).
///
/// ```text
/// per angle, p = P/ΣP over present levels i, j (bin values); px, py marginals; ux = Σ i·p, uy = Σ j·p
/// p_{x+y}(k) = Σ_{i+j=k} p (k = 2..2Ng),  p_{x−y}(k) = Σ_{|i−j|=k} p (k = 0..Ng−1)
/// HX, HY, HXY = −Σ q·log2(q + eps);  HXY1 = −Σ p·log2(px·py + eps);  HXY2 = −Σ px·py·log2(px·py + eps)
/// Autocorrelation Σ p·i·j                    ClusterProminence/Shade/Tendency Σ p·(i+j−ux−uy)^{4,3,2}
/// Contrast Σ p·(i−j)²                        Correlation Σ p(i−ux)(j−uy)/(σx·σy + eps), 1 if σx·σy = 0
/// DifferenceAverage DA = Σ k·p_{x−y}         DifferenceEntropy −Σ p_{x−y}·log2(p_{x−y} + eps)
/// DifferenceVariance Σ (k − DA)²·p_{x−y}     Id Σ p_{x−y}/(1+k)      Idn Σ p_{x−y}/(1 + k/Ng)
/// Idm Σ p_{x−y}/(1+k²)                       Idmn Σ p_{x−y}/(1 + k²/Ng²)
/// Imc1 (HXY − HXY1)/max(HX, HY) (0 if the max is 0)
/// Imc2 sqrt(1 − e^{−2(HXY2 − HXY)}) (0 if HXY2 = HXY, NaN → skipped if negative)
/// InverseVariance Σ_{k≥1} p_{x−y}/k²         JointAverage ux            JointEnergy Σ p²
/// JointEntropy HXY                           MCC sqrt(λ₂(Q)), Q(i,j) = Σ_k p(i,k)p(j,k)/(px(i)py(k) + eps)
/// MaximumProbability max p                   SumAverage Σ k·p_{x+y}     SumEntropy −Σ p_{x+y}·log2(p_{x+y} + eps)
/// SumSquares Σ (i − ux)²·p
/// result = nanmean over angles (JointAverage: mean); MCC = 1 when only one gray level is present
/// ```
///
/// `enabled`: feature names (empty = all non-deprecated); naming a deprecated one (Dissimilarity,
/// Homogeneity1, Homogeneity2, SumVariance) yields no value, as in PyRadiomics. Output order: PyRadiomics'
/// (sorted names when `enabled` is empty, else the order given).
///
/// # Errors
///
/// As [`glcm_matrix`], plus [`crate::Error::UnknownFeature`].
pub(crate) fn glcm_features(
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    let selected = select_features(CLASS, &FEATURES, enabled)?;
    let g = build(levels, ng, params)?;
    let n = g.levels.len();
    let ngf = f64::from(ng);
    let normalised: Vec<Vec<f64>> = g
        .per_angle
        .iter()
        .map(|p| {
            let s: f64 = p.iter().sum();
            let s = if s == 0.0 { f64::NAN } else { s };
            p.iter().map(|v| v / s).collect()
        })
        .collect();
    let per_angle: Vec<[f64; 28]> = normalised
        .par_iter()
        .map(|p| angle_features(p, &g.levels, ngf))
        .collect();
    let want_mcc = selected.contains(&MCC);
    let mcc = if n < 2 {
        1.0
    } else if !want_mcc || normalised.iter().any(|p| p.iter().any(|v| !v.is_finite())) {
        // numpy.linalg.eigvals raises on NaN → PyRadiomics stores NaN for the feature
        f64::NAN
    } else {
        nanmean(
            normalised
                .par_iter()
                .map(|p| mcc_angle(p, n))
                .collect::<Vec<_>>(),
        )
    };
    Ok(selected
        .into_iter()
        .map(|k| {
            let v = match k {
                MCC => mcc,
                JOINT_AVERAGE => mean(&per_angle.iter().map(|f| f[k]).collect::<Vec<_>>()),
                _ => nanmean(per_angle.iter().map(|f| f[k])),
            };
            (FEATURES[k].name, v)
        })
        .collect())
}
