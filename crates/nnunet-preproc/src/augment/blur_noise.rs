//! Additive Gaussian noise and separable Gaussian blur.
//!
//! ```text
//! noise:  x ← x + N(0, σ²) per voxel,  σ ~ U(0, 0.1) shared by the channels
//! blur:   x ← k_0 ⊛₀ k_1 ⊛₁ k_2 ⊛₂ x,  k_a = normalised Gaussian of σ_a, radius ⌊4σ_a + ½⌋ (scipy
//!         `gaussian_filter(mode='reflect', truncate=4)`: the border sample is repeated, … c b a | a b c …)
//!         v2: σ per axis and channel U(0.5, 1);  v1: one σ per channel for all axes
//! ```
//!
//! Deviation: batchgeneratorsv2 blurs with a torch conv whose kernel has `nearest odd(6σ + ½)` taps; the
//! scipy radius ⌊4σ + ½⌋ used here for both flavours keeps taps beyond 3σ (weights < 1.2 %).
//!
//! References (read, not copied): batchgeneratorsv2 0.3 `transforms/noise/gaussian_noise.py`,
//! `transforms/noise/gaussian_blur.py`; batchgenerators 0.25 `augmentations/noise_augmentations.py`
//! (`augment_gaussian_noise`, `augment_gaussian_blur`); scipy `ndimage/_filters.py` (`gaussian_filter1d`).

use ndarray::{ArrayViewMut3, Axis};
use rand::Rng;
use rand_distr_free::standard_normal;

use crate::gaussian::gaussian_kernel_1d;

/// Adds `N(0, sigma²)` noise to every voxel of one channel.
pub fn gaussian_noise_mut<R: Rng + ?Sized>(
    mut channel: ArrayViewMut3<'_, f32>,
    sigma: f64,
    rng: &mut R,
) {
    if sigma <= 0.0 {
        return;
    }
    channel
        .iter_mut()
        .for_each(|v| *v += (sigma * standard_normal(rng)) as f32);
}

/// Separable Gaussian blur of one channel in place with per-axis `sigma` (≤ 0 skips the axis), scipy's
/// `gaussian_filter(…, mode='reflect', truncate=4.0)` computed in f64 per line.
pub fn gaussian_blur_mut(mut channel: ArrayViewMut3<'_, f32>, sigma: [f64; 3]) {
    for (axis, &s) in sigma.iter().enumerate() {
        if s <= 0.0 {
            continue;
        }
        let k = gaussian_kernel_1d(s, 4.0);
        let r = (k.len() / 2) as isize;
        let mut buf: Vec<f64> = Vec::new();
        for mut lane in channel.lanes_mut(Axis(axis)) {
            let n = lane.len() as isize;
            buf.clear();
            buf.extend(lane.iter().map(|&v| f64::from(v)));
            for (i, out) in lane.iter_mut().enumerate() {
                let mut acc = 0.0;
                for (t, &w) in k.iter().enumerate() {
                    let j = reflect(i as isize + t as isize - r, n);
                    acc += w * buf[j];
                }
                *out = acc as f32;
            }
        }
    }
}

/// scipy 'reflect' (half-sample symmetric) index.
fn reflect(i: isize, n: isize) -> usize {
    if n == 1 {
        return 0;
    }
    let period = 2 * n;
    let mut j = i.rem_euclid(period);
    if j >= n {
        j = period - 1 - j;
    }
    j as usize
}

/// A standard-normal sampler (Box–Muller) so that no extra distribution crate is needed.
mod rand_distr_free {
    use rand::Rng;

    /// One N(0, 1) draw.
    pub fn standard_normal<R: Rng + ?Sized>(rng: &mut R) -> f64 {
        let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]
        let u2: f64 = rng.gen();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
