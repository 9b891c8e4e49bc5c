//! Gamma augmentation (and its "inverted" variant), per channel, statistics retained.
//!
//! ```text
//! inverted:  x ← −x first and last
//! μ, σ       = mean, std of x (kept)
//! x ← ((x − min)/(range + ε))^γ · range + min        v1: ε = 1e−7 added;  v2: range clamped to ≥ 1e−7
//! x ← (x − mean(x)) / (std(x) + ε_s) · σ + μ          v1: ε_s = 1e−8 added;  v2: std clamped to ≥ 1e−7
//! γ  v2: BGContrast((0.7, 1.5));  v1: p ½ → U(0.7, 1), else U(1, 1.5)   (the same draw)
//! ```
//!
//! References (read, not copied): batchgeneratorsv2 0.3 `transforms/intensity/gamma.py` (`GammaTransform`);
//! batchgenerators 0.25 `augmentations/color_augmentations.py` (`augment_gamma`).

use ndarray::ArrayViewMut3;

use super::AugmentFlavour;

/// Whether the image is negated around the gamma curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GammaInversion {
    /// Plain gamma.
    Plain,
    /// `x ← −x` before and after (nnU-Net's first gamma transform, p 0.1).
    Inverted,
}

/// Applies gamma `gamma` to one channel in place (module docs).
pub fn gamma_mut(
    mut channel: ArrayViewMut3<'_, f32>,
    gamma: f64,
    inversion: GammaInversion,
    flavour: AugmentFlavour,
) {
    let n = channel.len();
    if n == 0 {
        return;
    }
    let sign = if inversion == GammaInversion::Inverted {
        -1.0
    } else {
        1.0
    };
    let stats = |c: &ArrayViewMut3<'_, f32>| {
        let (mut s, mut lo, mut hi) = (0f64, f64::INFINITY, f64::NEG_INFINITY);
        for &v in c.iter() {
            let v = sign * f64::from(v);
            s += v;
            lo = lo.min(v);
            hi = hi.max(v);
        }
        let mean = s / n as f64;
        let var = c
            .iter()
            .map(|&v| (sign * f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        (mean, var.sqrt(), lo, hi)
    };
    let (mu, sd, lo, hi) = stats(&channel);
    let range = hi - lo;
    let denom = match flavour {
        AugmentFlavour::V1MoreDA => range + 1e-7,
        AugmentFlavour::V2Default => range.max(1e-7),
    };
    channel.mapv_inplace(|v| {
        let x = sign * f64::from(v);
        (((x - lo) / denom).max(0.0).powf(gamma) * range + lo) as f32
    });
    // The values now hold the (sign-applied) curve output; retain the statistics.
    let (m2, s2, _, _) = {
        let mut s = 0f64;
        for &v in channel.iter() {
            s += f64::from(v);
        }
        let m = s / n as f64;
        let var = channel
            .iter()
            .map(|&v| (f64::from(v) - m).powi(2))
            .sum::<f64>()
            / n as f64;
        (m, var.sqrt(), 0.0, 0.0)
    };
    let div = match flavour {
        AugmentFlavour::V1MoreDA => s2 + 1e-8,
        AugmentFlavour::V2Default => s2.max(1e-7),
    };
    channel.mapv_inplace(|v| (sign * ((f64::from(v) - m2) / div * sd + mu)) as f32);
}
