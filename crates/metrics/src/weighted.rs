//! Area-weighted statistics of surface distances, with numpy's summation order.
//!
//! ```text
//! (d_i, a_i) sorted ascending by (distance, area)
//! c_k = (Σ_{i ≤ k} a_i) / Σ_i a_i                       (np.cumsum / np.sum)
//! P^w_q = d_k  for the first k with c_k ≥ q/100, k clamped to n − 1    (np.searchsorted, side='left')
//! mean^w = Σ d_i a_i / Σ a_i
//! ```
//!
//! Totals use numpy's pairwise summation (blocks of 8 partial sums below 128 values, halves above), so the
//! cumulative fractions compare with `q/100` exactly as in the reference.
//!
//! References: google-deepmind/surface-distance `surface_distance/metrics.py` (`compute_robust_hausdorff`,
//! `compute_average_surface_distance`, `_sort_distances_surfels`); numpy `numpy/_core/src/umath/loops_utils.h.src`
//! (`pairwise_sum`).

/// numpy's `pairwise_sum` of a contiguous `f64` slice.
pub(crate) fn pairwise_sum(a: &[f64]) -> f64 {
    const BLOCK: usize = 128;
    let n = a.len();
    if n < 8 {
        a.iter().fold(0.0, |s, &x| s + x)
    } else if n <= BLOCK {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let full = n - n % 8;
        for chunk in a[8..full].chunks_exact(8) {
            for (acc, &x) in r.iter_mut().zip(chunk) {
                *acc += x;
            }
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for &x in &a[full..] {
            res += x;
        }
        res
    } else {
        let mut half = n / 2;
        half -= half % 8;
        pairwise_sum(&a[..half]) + pairwise_sum(&a[half..])
    }
}

/// `(distances, weights)` sorted ascending by `(distance, weight)` (DeepMind's `_sort_distances_surfels`).
pub(crate) fn sort_pairs(distances: &[f64], weights: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let mut pairs: Vec<(f64, f64)> = distances
        .iter()
        .copied()
        .zip(weights.iter().copied())
        .collect();
    pairs.sort_unstable_by(|x, y| x.0.total_cmp(&y.0).then(x.1.total_cmp(&y.1)));
    pairs.into_iter().unzip()
}

/// The area-weighted step percentile `P^w_q` of non-empty `distances` with `weights` (DeepMind's robust
/// Hausdorff of one direction).
pub(crate) fn weighted_percentile(distances: &[f64], weights: &[f64], q: f64) -> f64 {
    let (d, w) = sort_pairs(distances, weights);
    let total = pairwise_sum(&w);
    let target = q / 100.0;
    let mut cum = 0.0;
    for (&dk, &wk) in d.iter().zip(&w) {
        cum += wk;
        if cum / total >= target {
            return dk;
        }
    }
    d[d.len() - 1]
}

/// The area-weighted mean `Σ d_i a_i / Σ a_i` (DeepMind's `compute_average_surface_distance`, one
/// direction); the products are summed in the sorted order, as in the reference.
pub(crate) fn weighted_mean(distances: &[f64], weights: &[f64]) -> f64 {
    let (d, w) = sort_pairs(distances, weights);
    let products: Vec<f64> = d.iter().zip(&w).map(|(x, y)| x * y).collect();
    pairwise_sum(&products) / pairwise_sum(&w)
}

/// `(Σ a_i [d_i ≤ τ], Σ a_i)` in the sorted order (DeepMind's surface overlap / surface Dice terms).
pub(crate) fn weight_within(distances: &[f64], weights: &[f64], tau: f64) -> (f64, f64) {
    let (d, w) = sort_pairs(distances, weights);
    let within: Vec<f64> = d
        .iter()
        .zip(&w)
        .filter(|(x, _)| **x <= tau)
        .map(|(_, y)| *y)
        .collect();
    (pairwise_sum(&within), pairwise_sum(&w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairwise_sum_matches_plain_sum_on_integers() {
        let v: Vec<f64> = (0..1000).map(f64::from).collect();
        assert_eq!(pairwise_sum(&v), 499_500.0);
        assert_eq!(pairwise_sum(&v[..5]), 10.0);
        assert_eq!(pairwise_sum(&v[..100]), 4950.0);
    }

    #[test]
    fn weighted_percentile_is_a_step_function() {
        let d = [3.0, 1.0, 2.0, 4.0];
        let w = [1.0, 1.0, 1.0, 1.0];
        assert_eq!(weighted_percentile(&d, &w, 50.0), 2.0);
        assert_eq!(weighted_percentile(&d, &w, 50.1), 3.0);
        assert_eq!(weighted_percentile(&d, &w, 100.0), 4.0);
        assert_eq!(weighted_percentile(&d, &[1.0, 1.0, 1.0, 7.0], 30.0), 3.0);
        assert_eq!(weighted_percentile(&d, &[1.0, 1.0, 1.0, 7.0], 31.0), 4.0);
        assert_eq!(weighted_mean(&d, &[1.0, 1.0, 1.0, 7.0]), 34.0 / 10.0);
    }
}
