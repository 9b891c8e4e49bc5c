//! Shared machinery of the texture classes (GLCM, GLRLM, GLSZM, GLDM, NGTDM): the discretised volume, the
//! neighbour offsets ("angles") exactly as PyRadiomics generates them, the feature-name selection, `nanmean`
//! and the 16 "size-zone" statistics that GLRLM, GLSZM and GLDM share.
//!
//! Reference: PyRadiomics 3.1.0 (AIM-Harvard/pyradiomics), `radiomics/src/cmatrices.c`
//! (`get_angle_count`, `build_angles`), `radiomics/src/_cmatrices.c` (`build_angles_arr`: the angle set is built
//! from the size of the bbox-cropped array, `force2D` removes one axis), `radiomics/base.py` (feature
//! enabling, deprecated features), `radiomics/{glrlm,glszm,gldm}.py` (the shared formulas). Specification:
//! `reference/radiomics.md` §4.

use ndarray::ArrayView3;

use crate::error::{Error, Result};
use crate::features::FeatureClass;
use crate::settings::TextureParams;

/// `numpy.spacing(1)`, added inside every `log2(p + eps)` and to the MCC / Correlation denominators.
pub(crate) const EPS: f64 = f64::EPSILON;

/// A neighbour offset `(dz, dy, dx)` in voxels.
pub(crate) type Offset = [isize; 3];

/// One feature of a class: its name and whether PyRadiomics marks it deprecated (computed only when named,
/// and then it raises `DeprecationWarning`, i.e. it yields no value).
pub(crate) struct FeatureDef {
    /// Feature name without prefix, as PyRadiomics spells it.
    pub name: &'static str,
    /// Deprecated: never produces a value.
    pub deprecated: bool,
}

/// Resolves `enabled` against a class's feature table (sorted in PyRadiomics' output order).
///
/// ```text
/// enabled = []      → every non-deprecated feature, in table order (PyRadiomics' enableAllFeatures)
/// enabled = [names] → those names in the given order, duplicates dropped; deprecated ones are skipped
///                     (PyRadiomics logs their DeprecationWarning and stores no value)
/// ```
///
/// Returns the indices into `table` of the features to compute.
///
/// # Errors
///
/// [`Error::UnknownFeature`] for a name that is not in `table`.
pub(crate) fn select_features(
    class: &'static str,
    table: &[FeatureDef],
    enabled: &[&str],
) -> Result<Vec<usize>> {
    if enabled.is_empty() {
        return Ok((0..table.len()).filter(|&k| !table[k].deprecated).collect());
    }
    let mut out: Vec<usize> = Vec::with_capacity(enabled.len());
    for name in enabled {
        let k =
            table
                .iter()
                .position(|f| f.name == *name)
                .ok_or_else(|| Error::UnknownFeature {
                    class: class.to_string(),
                    feature: (*name).to_string(),
                })?;
        if !table[k].deprecated && !out.contains(&k) {
            out.push(k);
        }
    }
    Ok(out)
}

/// The bbox-cropped discretised volume in a contiguous C-order buffer with a border of `pad` zero voxels on
/// every side, so that a neighbour at any offset of Chebyshev norm ≤ `pad` is read without bounds checks
/// (the border reads as "outside the ROI", exactly what an out-of-array neighbour is to PyRadiomics).
#[derive(Debug, Clone)]
pub(crate) struct LevelVolume {
    /// Gray levels `1..=ng` inside the ROI, 0 outside and in the border.
    pub data: Vec<u32>,
    /// `(nz, ny, nx)` of the cropped array (without the border).
    pub shape: [usize; 3],
    /// Border width.
    pub pad: usize,
    /// Element strides of the padded buffer: `((ny+2p)·(nx+2p), nx+2p, 1)`.
    pub strides: [usize; 3],
    /// The maximum gray level `Ng` passed by the caller.
    pub ng: u32,
    /// `present[l]` is true when level `l` (1-based) occurs in the ROI; index 0 unused.
    pub present: Vec<bool>,
}

impl LevelVolume {
    /// Copies `levels` into a zero-bordered buffer and checks every ROI level against `ng`.
    ///
    /// # Errors
    ///
    /// [`Error::GrayLevelOutOfRange`] for a level above `ng`; [`Error::EmptyTextureRoi`] when no voxel is > 0.
    pub(crate) fn new(
        class: &'static str,
        levels: ArrayView3<u32>,
        ng: u32,
        pad: usize,
    ) -> Result<Self> {
        let (nz, ny, nx) = levels.dim();
        let (py, px) = (ny + 2 * pad, nx + 2 * pad);
        let strides = [py * px, px, 1];
        let mut data = vec![0u32; (nz + 2 * pad) * py * px];
        let mut present = vec![false; ng as usize + 1];
        let mut any = false;
        for ((z, y, x), &v) in levels.indexed_iter() {
            if v > ng {
                return Err(Error::GrayLevelOutOfRange {
                    class,
                    level: v,
                    ng,
                    index: [z, y, x],
                });
            }
            if v > 0 {
                present[v as usize] = true;
                any = true;
                data[(z + pad) * strides[0] + (y + pad) * strides[1] + x + pad] = v;
            }
        }
        if !any {
            return Err(Error::EmptyTextureRoi { class });
        }
        Ok(Self {
            data,
            shape: [nz, ny, nx],
            pad,
            strides,
            ng,
            present,
        })
    }

    /// The present gray levels in increasing order (PyRadiomics' `coefficients['grayLevels']`).
    #[must_use]
    pub(crate) fn gray_levels(&self) -> Vec<u32> {
        (1..=self.ng)
            .filter(|&l| self.present[l as usize])
            .collect()
    }

    /// Buffer index of the cropped array's voxel `(z, y, x)`.
    #[inline]
    pub(crate) fn index(&self, z: usize, y: usize, x: usize) -> usize {
        (z + self.pad) * self.strides[0] + (y + self.pad) * self.strides[1] + x + self.pad
    }

    /// Buffer offsets of `offsets` (each of Chebyshev norm ≤ `pad`).
    #[must_use]
    pub(crate) fn deltas(&self, offsets: &[Offset]) -> Vec<isize> {
        offsets
            .iter()
            .map(|o| {
                debug_assert!(o.iter().all(|c| c.unsigned_abs() <= self.pad));
                o[0] * self.strides[0] as isize + o[1] * self.strides[1] as isize + o[2]
            })
            .collect()
    }

    /// Calls `f(index, level)` for every ROI voxel of z-slice `z`, in scan order.
    #[inline]
    pub(crate) fn for_each_in_slice(&self, z: usize, mut f: impl FnMut(usize, u32)) {
        let [_, ny, nx] = self.shape;
        for y in 0..ny {
            let row = self.index(z, y, 0);
            for (k, &v) in self.data[row..row + nx].iter().enumerate() {
                if v > 0 {
                    f(row + k, v);
                }
            }
        }
    }
}

/// The level at buffer index `i + delta` (the border makes it always in range for valid deltas).
#[inline]
pub(crate) fn at(data: &[u32], i: usize, delta: isize) -> u32 {
    data[i.wrapping_add_signed(delta)]
}

/// Checks `distances` (PyRadiomics: each ≥ 1, at least one) and returns them sorted and deduplicated.
///
/// # Errors
///
/// [`Error::InvalidParameter`] naming `distances`.
pub(crate) fn checked_distances(distances: &[usize]) -> Result<Vec<usize>> {
    if distances.is_empty() || distances.contains(&0) {
        return Err(Error::InvalidParameter {
            key: "distances",
            reason: format!("{distances:?}: need at least one distance, each >= 1"),
        });
    }
    let mut d = distances.to_vec();
    d.sort_unstable();
    d.dedup();
    Ok(d)
}

/// The neighbour offsets PyRadiomics' C extension generates for an array of `shape`.
///
/// ```text
/// candidates: every (o0, o1, o2) with o_k from +max(distances) down to −max(distances), o0 slowest
/// keep:       max|o_k| ∈ distances, |o_k| < shape[k], o_k = 0 along the force2D axis, o ≠ 0
/// one-directional (GLCM, GLRLM): the first half of that list = the offsets whose first non-zero
///   component is positive; for distance 1 in 3-D: (1,1,1), (1,1,0), (1,1,−1), (1,0,1), (1,0,0),
///   (1,0,−1), (1,−1,1), (1,−1,0), (1,−1,−1), (0,1,1), (0,1,0), (0,1,−1), (0,0,1)
/// bidirectional (GLSZM, GLDM, NGTDM): the whole list (26 for distance 1)
/// ```
///
/// # Errors
///
/// [`Error::InvalidParameter`] for an invalid distance or `force_2d_axis > 2`; [`Error::NoAngles`] when no
/// offset fits (PyRadiomics raises "Error getting angle count", e.g. for a 1×1×1 ROI).
pub(crate) fn angles(
    class: &'static str,
    shape: [usize; 3],
    distances: &[usize],
    bidirectional: bool,
    force_2d_axis: Option<usize>,
) -> Result<Vec<Offset>> {
    let distances = checked_distances(distances)?;
    if let Some(axis) = force_2d_axis {
        if axis > 2 {
            return Err(Error::InvalidParameter {
                key: "force2Ddimension",
                reason: format!("{axis} (must be 0, 1 or 2)"),
            });
        }
    }
    let max_d = *distances.last().unwrap_or(&1) as isize;
    let mut out = Vec::new();
    for o0 in (-max_d..=max_d).rev() {
        for o1 in (-max_d..=max_d).rev() {
            for o2 in (-max_d..=max_d).rev() {
                let off = [o0, o1, o2];
                let valid = (0..3).all(|k| {
                    let o = off[k];
                    (force_2d_axis != Some(k) || o == 0)
                        && o < shape[k] as isize
                        && o > -(shape[k] as isize)
                });
                let norm = off.iter().map(|o| o.unsigned_abs()).max().unwrap_or(0);
                if valid && norm > 0 && distances.binary_search(&norm).is_ok() {
                    out.push(off);
                }
            }
        }
    }
    if !bidirectional {
        out.truncate(out.len() / 2);
    }
    if out.is_empty() {
        return Err(Error::NoAngles {
            class,
            shape,
            distances,
            force_2d_axis,
        });
    }
    Ok(out)
}

/// Features of one texture class on the discretised, bbox-cropped `levels` (0 outside the ROI, `1..=ng`
/// inside), as PyRadiomics' `Radiomics<Class>(image, mask, **settings).execute()` returns them.
///
/// `enabled`: feature names without prefix; empty = all non-deprecated features of the class in PyRadiomics'
/// order; a named deprecated feature yields no value. The extractor calls the same per-class functions.
///
/// # Examples
///
/// ```
/// use ndarray::Array3;
/// use radiomics::{texture_features, FeatureClass, TextureParams};
///
/// // two slices of a 2×2 checkerboard of levels 1 and 2
/// let levels = Array3::from_shape_fn((2, 2, 2), |(z, y, x)| 1 + ((z + y + x) % 2) as u32);
/// let f = texture_features(FeatureClass::Ngtdm, levels.view(), 2, &TextureParams::default(), &["Coarseness"])?;
/// assert_eq!(f[0].0, "Coarseness");
/// assert!((f[0].1 - 7.0 / 16.0).abs() < 1e-12); // Σ p_i·s_i = 16/7
/// # Ok::<(), radiomics::Error>(())
/// ```
///
/// # Errors
///
/// [`Error::FeatureClass`] for a class that is not a texture class; otherwise the class's own errors
/// ([`Error::GrayLevelOutOfRange`], [`Error::EmptyTextureRoi`], [`Error::NoAngles`],
/// [`Error::InvalidParameter`], [`Error::UnknownFeature`]).
pub fn texture_features(
    class: FeatureClass,
    levels: ArrayView3<u32>,
    ng: u32,
    params: &TextureParams,
    enabled: &[&str],
) -> Result<Vec<(&'static str, f64)>> {
    match class {
        FeatureClass::Glcm => crate::glcm::glcm_features(levels, ng, params, enabled),
        FeatureClass::Gldm => crate::gldm::gldm_features(levels, ng, params, enabled),
        FeatureClass::Glrlm => crate::glrlm::glrlm_features(levels, ng, params, enabled),
        FeatureClass::Glszm => crate::glszm::glszm_features(levels, ng, params, enabled),
        FeatureClass::Ngtdm => crate::ngtdm::ngtdm_features(levels, ng, params, enabled),
        other => Err(Error::FeatureClass {
            class: other.name(),
            reason: "not a texture class".to_string(),
        }),
    }
}

/// `numpy.nanmean`: the mean of the non-NaN values, NaN when there are none.
#[must_use]
pub(crate) fn nanmean(values: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for v in values {
        if !v.is_nan() {
            s += v;
            n += 1;
        }
    }
    if n == 0 {
        f64::NAN
    } else {
        s / n as f64
    }
}

/// `numpy.mean`: NaN when empty or when any value is NaN.
#[must_use]
pub(crate) fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// The 16 statistics of a "size" matrix `P(i, j)` (runs, zones or dependences of size `j` and level `i`),
/// shared by GLRLM (per angle), GLSZM and GLDM.
///
/// ```text
/// N = normaliser (runs Nr, zones Nz, voxels Nz);   pg(i) = Σ_j P(i,j);   pj(j) = Σ_i P(i,j)
/// small    = Σ pj/j² / N            large    = Σ pj·j² / N
/// gln      = Σ pg² / N              glnn     = Σ pg² / N²
/// sn       = Σ pj² / N              snn      = Σ pj² / N²
/// glv      = Σ (pg/N)(i − μi)²,  μi = Σ (pg/N) i
/// sv       = Σ (pj/N)(j − μj)²,  μj = Σ (pj/N) j
/// entropy  = −Σ (P/N) log2(P/N + eps)
/// low_gl   = Σ pg/i² / N            high_gl  = Σ pg·i² / N
/// small_low  = Σ P/(i²j²) / N       small_high = Σ P·i²/j² / N
/// large_low  = Σ P·j²/i² / N        large_high = Σ P·i²j² / N
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SizeStats {
    pub small: f64,
    pub large: f64,
    pub gln: f64,
    pub glnn: f64,
    pub sn: f64,
    pub snn: f64,
    pub glv: f64,
    pub sv: f64,
    pub entropy: f64,
    pub low_gl: f64,
    pub high_gl: f64,
    pub small_low: f64,
    pub small_high: f64,
    pub large_low: f64,
    pub large_high: f64,
}

impl SizeStats {
    /// Computes the statistics of the row-major `p` (`iv.len()` rows, `jv.len()` columns) with normaliser `n`.
    #[must_use]
    pub(crate) fn compute(p: &[f64], iv: &[f64], jv: &[f64], n: f64) -> Self {
        let (ni, nj) = (iv.len(), jv.len());
        let mut pg = vec![0.0; ni];
        let mut pj = vec![0.0; nj];
        let mut s = Self::default();
        let mut ent = 0.0;
        for (a, &i) in iv.iter().enumerate() {
            let i2 = i * i;
            for (b, &j) in jv.iter().enumerate() {
                let v = p[a * nj + b];
                pg[a] += v;
                pj[b] += v;
                let j2 = j * j;
                s.small_low += v / (i2 * j2);
                s.small_high += v * i2 / j2;
                s.large_low += v * j2 / i2;
                s.large_high += v * j2 * i2;
                let q = v / n;
                ent += q * (q + EPS).log2();
            }
        }
        s.entropy = -ent;
        for v in [
            &mut s.small_low,
            &mut s.small_high,
            &mut s.large_low,
            &mut s.large_high,
        ] {
            *v /= n;
        }
        let mut mu_i = 0.0;
        for (a, &i) in iv.iter().enumerate() {
            s.gln += pg[a] * pg[a];
            s.low_gl += pg[a] / (i * i);
            s.high_gl += pg[a] * i * i;
            mu_i += pg[a] / n * i;
        }
        s.glv = iv
            .iter()
            .enumerate()
            .map(|(a, &i)| pg[a] / n * (i - mu_i) * (i - mu_i))
            .sum();
        let mut mu_j = 0.0;
        for (b, &j) in jv.iter().enumerate() {
            s.sn += pj[b] * pj[b];
            s.small += pj[b] / (j * j);
            s.large += pj[b] * j * j;
            mu_j += pj[b] / n * j;
        }
        s.sv = jv
            .iter()
            .enumerate()
            .map(|(b, &j)| pj[b] / n * (j - mu_j) * (j - mu_j))
            .sum();
        s.glnn = s.gln / (n * n);
        s.snn = s.sn / (n * n);
        s.gln /= n;
        s.sn /= n;
        s.small /= n;
        s.large /= n;
        s.low_gl /= n;
        s.high_gl /= n;
        s
    }
}

/// Removes the columns of the row-major `p` (`rows` × `cols`) whose sum is zero; returns the new matrix and
/// the kept column indices.
#[must_use]
pub(crate) fn drop_empty_columns(p: &[f64], rows: usize, cols: usize) -> (Vec<f64>, Vec<usize>) {
    let kept: Vec<usize> = (0..cols)
        .filter(|&c| (0..rows).any(|r| p[r * cols + c] != 0.0))
        .collect();
    let mut out = Vec::with_capacity(rows * kept.len());
    for r in 0..rows {
        out.extend(kept.iter().map(|&c| p[r * cols + c]));
    }
    (out, kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirteen_angles_in_pyradiomics_order() {
        let a = angles("glcm", [3, 3, 3], &[1], false, None).unwrap();
        assert_eq!(a.len(), 13);
        assert_eq!(a[0], [1, 1, 1]);
        assert_eq!(a[4], [1, 0, 0]);
        assert_eq!(a[12], [0, 0, 1]);
        assert_eq!(
            angles("ngtdm", [3, 3, 3], &[1], true, None).unwrap().len(),
            26
        );
        // a single slice keeps the 4 in-plane angles; force2D along z likewise
        assert_eq!(
            angles("glcm", [1, 4, 4], &[1], false, None).unwrap().len(),
            4
        );
        assert_eq!(
            angles("glcm", [4, 4, 4], &[1], false, Some(0))
                .unwrap()
                .len(),
            4
        );
        // distance 2 in 3-D: 5³ − 3³ = 98 offsets, 49 one-directional
        assert_eq!(
            angles("glcm", [5, 5, 5], &[2], false, None).unwrap().len(),
            49
        );
        assert!(matches!(
            angles("glcm", [1, 1, 1], &[1], false, None),
            Err(Error::NoAngles { .. })
        ));
    }

    #[test]
    fn nanmean_skips_nan() {
        assert_eq!(nanmean([1.0, f64::NAN, 3.0]), 2.0);
        assert!(nanmean([f64::NAN]).is_nan());
        assert!(nanmean(std::iter::empty()).is_nan());
    }
}
