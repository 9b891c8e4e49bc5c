//! First-order (intensity histogram) features, with PyRadiomics' quirks.
//!
//! Reference: PyRadiomics 3.1.0 `radiomics/firstorder.py` (`RadiomicsFirstOrder`); NumPy 2.x `mean`
//! (pairwise summation), `percentile` (linear interpolation), `median`; `reference/radiomics.md` §4.1.
//!
//! ```text
//! X: ROI intensities (float64), N voxels, c = voxelArrayShift, p(i) = n_i/N over the discretised bins
//! Energy Σ(X+c)²   TotalEnergy Energy·Π spacing   RootMeanSquared sqrt(Energy/N)
//! Mean, Median, Minimum, Maximum, Range, 10/90Percentile, InterquartileRange P75 − P25 (linear)
//! Variance m2, StandardDeviation sqrt(m2), MeanAbsoluteDeviation mean|X − mean|
//! RobustMeanAbsoluteDeviation: the same on {x : P10 ≤ x ≤ P90}
//! Skewness m3/m2^1.5, Kurtosis m4/m2² (not excess; IBSI conventions: − 3); both 0 when m2 = 0
//! Entropy −Σ p log2(p + eps), Uniformity Σ p²,  eps = 2.220446049250313e-16
//! ```

use crate::error::Result;
use crate::settings::Conventions;

/// NumPy's `numpy.spacing(1)`.
pub(crate) const EPS: f64 = f64::EPSILON;

/// NumPy's pairwise summation (`pairwise_sum` in `loops_utils.h`), so means agree bit for bit.
#[must_use]
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = -0.0f64;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - (n % 8) {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

#[allow(clippy::cast_precision_loss)]
fn np_mean(a: &[f64]) -> f64 {
    pairwise_sum(a) / a.len() as f64
}

/// NumPy's linear percentile on sorted data (`_lerp` as NumPy computes it).
fn percentile_sorted(sorted: &[f64], q: f64) -> f64 {
    #[allow(clippy::cast_precision_loss)]
    let rank = q / 100.0 * (sorted.len() - 1) as f64;
    let lo = rank.floor();
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let i = lo as usize;
    let t = rank - lo;
    let a = sorted[i];
    let b = sorted[(i + 1).min(sorted.len() - 1)];
    let diff = b - a;
    let lerp = a + diff * t;
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        lerp
    }
}

fn central_moment(x: &[f64], mean: f64, k: i32) -> f64 {
    let d: Vec<f64> = x.iter().map(|&v| (v - mean).powi(k)).collect();
    np_mean(&d)
}

/// The 19 first-order features (PyRadiomics order, StandardDeviation included) for ROI intensities `x`
/// (C order of the cropped image) and their discretised bins.
///
/// # Errors
///
/// Never fails for a non-empty ROI; the `Result` keeps the class entry points uniform.
pub(crate) fn firstorder_all(
    x: &[f64],
    bins: &[u32],
    spacing: [f64; 3],
    voxel_array_shift: f64,
    conventions: Conventions,
) -> Result<Vec<(&'static str, f64)>> {
    #[allow(clippy::cast_precision_loss)]
    let n = x.len() as f64;
    let shifted_sq: Vec<f64> = x
        .iter()
        .map(|&v| (v + voxel_array_shift) * (v + voxel_array_shift))
        .collect();
    let energy = pairwise_sum(&shifted_sq);
    let total_energy = energy * (spacing[0] * spacing[1] * spacing[2]);
    let rms = (energy / n).sqrt();

    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    let min = sorted[0];
    let max = sorted[sorted.len() - 1];
    let p10 = percentile_sorted(&sorted, 10.0);
    let p90 = percentile_sorted(&sorted, 90.0);
    let iqr = percentile_sorted(&sorted, 75.0) - percentile_sorted(&sorted, 25.0);
    let median = {
        let m = sorted.len();
        if m % 2 == 1 {
            sorted[m / 2]
        } else {
            np_mean(&[sorted[m / 2 - 1], sorted[m / 2]])
        }
    };

    let mean = np_mean(x);
    let abs_dev: Vec<f64> = x.iter().map(|&v| (v - mean).abs()).collect();
    let mad = np_mean(&abs_dev);
    let robust: Vec<f64> = x
        .iter()
        .copied()
        .filter(|&v| v >= p10 && v <= p90)
        .collect();
    let rmean = np_mean(&robust);
    let rdev: Vec<f64> = robust.iter().map(|&v| (v - rmean).abs()).collect();
    let rmad = np_mean(&rdev);

    let m2 = central_moment(x, mean, 2);
    let m3 = central_moment(x, mean, 3);
    let m4 = central_moment(x, mean, 4);
    // numpy.std = sqrt(mean(|x − mean|²)); Variance = std².
    let std = m2.sqrt();
    let variance = std * std;
    let m2d = if m2 == 0.0 { 1.0 } else { m2 };
    let skewness = m3 / m2d.powf(1.5);
    let mut kurtosis = m4 / (m2d * m2d);
    if conventions == Conventions::Ibsi {
        kurtosis -= 3.0;
    }

    let mut sorted_bins = bins.to_vec();
    sorted_bins.sort_unstable();
    let mut entropy = 0.0;
    let mut uniformity = 0.0;
    let mut i = 0;
    while i < sorted_bins.len() {
        let mut j = i;
        while j < sorted_bins.len() && sorted_bins[j] == sorted_bins[i] {
            j += 1;
        }
        #[allow(clippy::cast_precision_loss)]
        let p = (j - i) as f64 / n;
        entropy -= p * (p + EPS).log2();
        uniformity += p * p;
        i = j;
    }

    Ok(vec![
        ("10Percentile", p10),
        ("90Percentile", p90),
        ("Energy", energy),
        ("Entropy", entropy),
        ("InterquartileRange", iqr),
        ("Kurtosis", kurtosis),
        ("Maximum", max),
        ("MeanAbsoluteDeviation", mad),
        ("Mean", mean),
        ("Median", median),
        ("Minimum", min),
        ("Range", max - min),
        ("RobustMeanAbsoluteDeviation", rmad),
        ("RootMeanSquared", rms),
        ("Skewness", skewness),
        ("StandardDeviation", std),
        ("TotalEnergy", total_energy),
        ("Uniformity", uniformity),
        ("Variance", variance),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_matches_plain_sum_on_integers() {
        let a: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&a), 499_500.0);
    }

    #[test]
    fn linear_percentile() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert!((percentile_sorted(&s, 10.0) - 1.3).abs() < 1e-15);
        assert!((percentile_sorted(&s, 90.0) - 3.7).abs() < 1e-15);
    }
}
