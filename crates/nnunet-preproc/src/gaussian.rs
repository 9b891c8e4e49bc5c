//! The Gaussian importance map of sliding-window inference and scipy's 1-D Gaussian kernel.
//!
//! ```text
//! k_a[j]  = exp(−½ j² / σ_a²) / Σ_j' exp(−½ j'² / σ_a²),   j ∈ [−r_a, r_a],  r_a = ⌊4σ_a + ½⌋,  σ_a = patch_a / 8
//! g[i]    = k_0[i_0 − c_0] · k_1[i_1 − c_1] · k_2[i_2 − c_2]   (0 where |i_a − c_a| > r_a),   c_a = patch_a // 2
//! g      ← g / max(g) · s          s = 10 (v2 `value_scaling_factor`), 1 (v1)
//! g[i]   ← min_{g > 0} g           where g[i] == 0 after the cast to f32
//! ```
//!
//! `gaussian_filter(delta, σ, mode='constant', truncate=4)` of a unit impulse is exactly this separable product
//! (each 1-D pass multiplies the impulse by one kernel tap and adds exact zeros), so the map is computed as an
//! outer product in f64 and cast to **f32** once (nnU-Net v2 casts to fp16, v1 keeps float32; see
//! `/work/shared/reference/nnunet.md` §7.2 for why f32 is used here for both).
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/inference/sliding_window_prediction.py`
//! (`compute_gaussian`); nnU-Net v1 `nnunet/network_architecture/neural_network.py` (`_get_gaussian`);
//! scipy 1.17 `scipy/ndimage/_filters.py` (`_gaussian_kernel1d`, `gaussian_filter1d`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::Array3;

use crate::error::{Error, Result};
use crate::plans::Flavour;

/// scipy's normalised 1-D Gaussian kernel (`_gaussian_kernel1d(σ, order 0, radius)`) with
/// `radius = ⌊truncate·σ + ½⌋`; returns `2·radius + 1` taps.
///
/// ```text
/// k[j] = exp(−½ (j − r)² / σ²) / Σ,   j = 0 … 2r
/// ```
#[must_use]
pub fn gaussian_kernel_1d(sigma: f64, truncate: f64) -> Vec<f64> {
    let radius = (truncate * sigma + 0.5) as usize;
    let s2 = sigma * sigma;
    let mut k: Vec<f64> = (0..=2 * radius)
        .map(|j| {
            let x = j as f64 - radius as f64;
            (-0.5 / s2 * x * x).exp()
        })
        .collect();
    let sum: f64 = k.iter().sum();
    k.iter_mut().for_each(|v| *v /= sum);
    k
}

/// The peak value of the importance map: 10 for nnU-Net v2 (`value_scaling_factor`), 1 for v1.
#[must_use]
pub fn gaussian_peak(flavour: Flavour) -> f64 {
    match flavour {
        Flavour::V1 => 1.0,
        Flavour::V2 => 10.0,
    }
}

/// The sliding-window importance map of a `patch` (formula in the module docs): σ = `patch · sigma_scale`
/// (nnU-Net: 1/8), peak `peak` ([`gaussian_peak`]), exact zeros replaced by the smallest nonzero value.
///
/// # Errors
/// [`Error::InvalidParameter`] (`patch`, `sigma_scale`, `peak`) for an empty patch axis or a non-positive scale.
///
/// # Examples
/// ```
/// use nnunet_preproc::compute_gaussian;
/// let g = compute_gaussian([8, 8, 8], 1.0 / 8.0, 10.0).unwrap();
/// assert!((g[[4, 4, 4]] - 10.0).abs() < 1e-6);
/// assert!(g.iter().all(|&v| v > 0.0));
/// ```
pub fn compute_gaussian(patch: [usize; 3], sigma_scale: f64, peak: f64) -> Result<Array3<f32>> {
    if patch.contains(&0) {
        return Err(Error::InvalidParameter {
            key: "patch",
            reason: format!("every axis must be ≥ 1, got {patch:?}"),
        });
    }
    if !(sigma_scale > 0.0 && sigma_scale.is_finite() && peak > 0.0 && peak.is_finite()) {
        return Err(Error::InvalidParameter {
            key: "sigma_scale",
            reason: format!("sigma_scale {sigma_scale} and peak {peak} must be finite and > 0"),
        });
    }
    let lines = gaussian_lines(patch, sigma_scale);
    let c = patch.map(|p| p / 2);
    let max = lines[0][c[0]] * lines[1][c[1]] * lines[2][c[2]];
    let div = max / peak;
    let mut g = Array3::from_shape_fn((patch[0], patch[1], patch[2]), |(z, y, x)| {
        ((lines[0][z] * lines[1][y] * lines[2][x]) / div) as f32
    });
    let min_nonzero = g
        .iter()
        .copied()
        .filter(|&v| v != 0.0)
        .fold(f32::INFINITY, f32::min);
    g.mapv_inplace(|v| if v == 0.0 { min_nonzero } else { v });
    Ok(g)
}

/// The 1-D factors of the map before normalisation: per axis, scipy's kernel sampled at every patch index
/// (`line_a[i] = k_a[i − c_a]`, 0 beyond the radius), so that `g ∝ line_0 ⊗ line_1 ⊗ line_2`.
#[must_use]
pub(crate) fn gaussian_lines(patch: [usize; 3], sigma_scale: f64) -> [Vec<f64>; 3] {
    patch.map(|p| {
        let k = gaussian_kernel_1d(p as f64 * sigma_scale, 4.0);
        let r = (k.len() / 2) as isize;
        let c = (p / 2) as isize;
        (0..p as isize)
            .map(|i| {
                let d = i - c;
                if d.abs() <= r {
                    k[(d + r) as usize]
                } else {
                    0.0
                }
            })
            .collect()
    })
}

/// Maps kept by [`cached_gaussian`]; cleared when it holds this many.
const CACHE_LIMIT: usize = 8;

/// [`compute_gaussian`]`(patch, 1/8, peak)`, computed once per `(patch, peak)` in the process and shared.
///
/// # Errors
/// As [`compute_gaussian`].
pub(crate) fn cached_gaussian(patch: [usize; 3], peak: f64) -> Result<Arc<Array3<f32>>> {
    type Cache = Mutex<HashMap<([usize; 3], u64), Arc<Array3<f32>>>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (patch, peak.to_bits());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(g) = cache.lock().ok().and_then(|c| c.get(&key).cloned()) {
        return Ok(g);
    }
    let g = Arc::new(compute_gaussian(patch, 1.0 / 8.0, peak)?);
    if let Ok(mut c) = cache.lock() {
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(key, Arc::clone(&g));
    }
    Ok(g)
}
