//! Seeded random building blocks of the synthetic cohort: smooth random fields (sums of plane waves) for
//! tissue texture and bias fields, and normal deviates.
//!
//! ```text
//! f(p) = Σ_k a_k · cos(ω_k · p + φ_k) / sqrt(Σ_k a_k² / 2)      p in mm, |ω_k| = 2π / λ_k
//! ```
//!
//! so `f` has (over random phases) zero mean and unit variance; λ_k is drawn uniformly from the wavelength
//! range. Everything is drawn from a ChaCha RNG: the same seed gives the same field on every machine.

use rand::Rng;

/// A smooth random field in world millimetres (see the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SmoothField {
    /// `(ω (rad/mm, array order z, y, x), φ, a)` of each wave.
    waves: Vec<([f64; 3], f64, f64)>,
    norm: f64,
}

impl SmoothField {
    /// Draws `n` plane waves with wavelengths uniform in `wavelength_mm` (min, max) and isotropic directions.
    #[must_use]
    pub fn random<R: Rng>(rng: &mut R, n: usize, wavelength_mm: (f64, f64)) -> Self {
        let mut waves = Vec::with_capacity(n);
        for _ in 0..n {
            let dir = unit_vector(rng);
            let lambda = rng.gen_range(wavelength_mm.0..=wavelength_mm.1);
            let k = 2.0 * std::f64::consts::PI / lambda;
            let phase = rng.gen_range(0.0..2.0 * std::f64::consts::PI);
            let amp = rng.gen_range(0.5..1.0);
            waves.push(([dir[0] * k, dir[1] * k, dir[2] * k], phase, amp));
        }
        let power: f64 = waves.iter().map(|w| w.2 * w.2 / 2.0).sum();
        SmoothField {
            waves,
            norm: power.sqrt().max(f64::MIN_POSITIVE),
        }
    }

    /// The field's value at `p` (mm, array order), approximately standard normal over positions.
    #[must_use]
    pub fn at(&self, p: [f64; 3]) -> f64 {
        self.waves
            .iter()
            .map(|(w, phase, a)| a * (w[0] * p[0] + w[1] * p[1] + w[2] * p[2] + phase).cos())
            .sum::<f64>()
            / self.norm
    }
}

/// A uniformly distributed unit vector (normalised standard normal triple).
#[must_use]
pub fn unit_vector<R: Rng>(rng: &mut R) -> [f64; 3] {
    loop {
        let v = [normal(rng), normal(rng), normal(rng)];
        let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
        if n > 1e-9 {
            return [v[0] / n, v[1] / n, v[2] / n];
        }
    }
}

/// A standard normal deviate (Box–Muller, one of the pair).
///
/// ```text
/// z = sqrt(−2 ln u₁) · cos(2π u₂),   u₁ ∈ (0, 1], u₂ ∈ [0, 1)
/// ```
#[must_use]
pub fn normal<R: Rng>(rng: &mut R) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

/// Logistic function `1 / (1 + e^(−s))`.
#[must_use]
pub fn sigmoid(s: f64) -> f64 {
    1.0 / (1.0 + (-s).exp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn field_has_unit_variance_and_is_reproducible() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let f = SmoothField::random(&mut rng, 24, (6.0, 20.0));
        let g = SmoothField::random(&mut ChaCha8Rng::seed_from_u64(3), 24, (6.0, 20.0));
        assert_eq!(f, g);
        let vals: Vec<f64> = (0..4000)
            .map(|i| {
                f.at([
                    (i % 20) as f64 * 3.1,
                    (i / 20 % 20) as f64 * 2.7,
                    (i / 400) as f64 * 5.3,
                ])
            })
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        let var = vals.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / vals.len() as f64;
        assert!(mean.abs() < 0.2, "mean {mean}");
        assert!((0.6..1.4).contains(&var), "variance {var}");
    }

    #[test]
    fn normal_deviates_have_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let v: Vec<f64> = (0..20000).map(|_| normal(&mut rng)).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let var = v.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / v.len() as f64;
        assert!(
            mean.abs() < 0.03 && (var - 1.0).abs() < 0.05,
            "{mean} {var}"
        );
    }
}
