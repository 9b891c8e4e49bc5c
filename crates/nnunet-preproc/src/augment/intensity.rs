//! Multiplicative brightness and contrast, per channel.
//!
//! ```text
//! brightness:  x ← x · f
//! contrast:    μ = mean(x), [lo, hi] = [min x, max x];  x ← clamp((x − μ)·f + μ, lo, hi)
//! factor f     v2 (BGContrast): p ½ → U(r₀, 1), else U(max(r₀, 1), r₁);   v1 brightness: U(r₀, r₁)
//! ```
//!
//! References (read, not copied): batchgeneratorsv2 0.3 `transforms/intensity/brightness.py`
//! (`MultiplicativeBrightnessTransform`), `transforms/intensity/contrast.py` (`ContrastTransform`, `BGContrast`);
//! batchgenerators 0.25 `augmentations/color_augmentations.py` (`augment_brightness_multiplicative`,
//! `augment_contrast`).

use ndarray::ArrayViewMut3;
use rand::Rng;

/// Draws a BGContrast factor: with probability ½ from `U(range.0, 1)` (if `range.0 < 1`), else from
/// `U(max(range.0, 1), range.1)`.
pub fn bg_contrast_factor<R: Rng + ?Sized>(range: (f64, f64), rng: &mut R) -> f64 {
    if rng.gen::<f64>() < 0.5 && range.0 < 1.0 {
        rng.gen_range(range.0..=1.0)
    } else {
        let lo = range.0.max(1.0);
        if lo >= range.1 {
            lo
        } else {
            rng.gen_range(lo..=range.1)
        }
    }
}

/// `x ← x · factor` on one channel.
pub fn brightness_mut(mut channel: ArrayViewMut3<'_, f32>, factor: f64) {
    let f = factor as f32;
    channel.mapv_inplace(|v| v * f);
}

/// Contrast change of one channel with its value range preserved (module docs). The mean is accumulated in f64.
pub fn contrast_mut(mut channel: ArrayViewMut3<'_, f32>, factor: f64) {
    let n = channel.len();
    if n == 0 {
        return;
    }
    let (mut lo, mut hi, mut sum) = (f32::INFINITY, f32::NEG_INFINITY, 0f64);
    for &v in channel.iter() {
        lo = lo.min(v);
        hi = hi.max(v);
        sum += f64::from(v);
    }
    let mean = (sum / n as f64) as f32;
    let f = factor as f32;
    channel.mapv_inplace(|v| ((v - mean) * f + mean).clamp(lo, hi));
}
