//! Post-hoc calibration: temperature scaling and decision-threshold selection.
//!
//! Guo et al., "On Calibration of Modern Neural Networks", ICML 2017 (temperature scaling); the threshold
//! maximises the balanced accuracy that MAMA-MIA Task 2 scores on the binary `pcr` column
//! (LidiaGarrucho/MAMA-MIA `src/challenge/scoring_task2.py`).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Logistic sigmoid, computed without overflow.
///
/// ```text
/// σ(z) = 1 / (1 + exp(−z))
/// ```
#[must_use]
pub fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Calibrated probabilities `σ(z / T)`.
#[must_use]
pub fn apply_temperature(logits: &[f64], temperature: f64) -> Vec<f64> {
    logits.iter().map(|&z| sigmoid(z / temperature)).collect()
}

/// Mean negative log-likelihood of labels `y` under `σ(s·z)`.
///
/// ```text
/// NLL(s) = mean_i [ log(1 + exp(s·z_i)) − y_i·s·z_i ]
/// ```
#[must_use]
pub fn nll(logits: &[f64], y: &[u8], s: f64) -> f64 {
    let n = logits.len().max(1) as f64;
    logits
        .iter()
        .zip(y)
        .map(|(&z, &t)| {
            let u = s * z;
            u.max(0.0) + (-u.abs()).exp().ln_1p() - f64::from(t) * u
        })
        .sum::<f64>()
        / n
}

/// Smallest and largest temperatures [`fit_temperature`] returns (separable data drive `T → 0`).
pub const TEMPERATURE_RANGE: (f64, f64) = (0.01, 100.0);

/// Fits the temperature `T > 0` minimising the NLL of held-out logits (convex in `s = 1/T`: damped Newton
/// on `s`, then clamped to [`TEMPERATURE_RANGE`]).
///
/// ```text
/// T* = 1 / argmin_s NLL(s),   NLL'(s) = mean (σ(s·z) − y)·z,   NLL''(s) = mean σ(s·z)(1 − σ(s·z))·z²
/// ```
///
/// # Errors
/// [`Error::Shape`] for different lengths, [`Error::NonFinite`] for a NaN/Inf logit, [`Error::SingleClass`]
/// when `y` holds one class (the optimum is at the boundary).
pub fn fit_temperature(logits: &[f64], y: &[u8]) -> Result<f64> {
    check_scores(logits, y, "logit")?;
    let mut s = 1.0f64;
    let (s_min, s_max) = (1.0 / TEMPERATURE_RANGE.1, 1.0 / TEMPERATURE_RANGE.0);
    for _ in 0..100 {
        let (mut g, mut h) = (0.0, 0.0);
        for (&z, &t) in logits.iter().zip(y) {
            let p = sigmoid(s * z);
            g += (p - f64::from(t)) * z;
            h += p * (1.0 - p) * z * z;
        }
        if h <= 0.0 {
            break;
        }
        let f0 = nll(logits, y, s);
        let mut step = g / h;
        // Backtracking keeps the damped Newton step a descent step and s inside its range.
        let mut next = (s - step).clamp(s_min, s_max);
        while nll(logits, y, next) > f0 && step.abs() > 1e-12 {
            step *= 0.5;
            next = (s - step).clamp(s_min, s_max);
        }
        let done = (next - s).abs() <= 1e-10 * s.max(1.0);
        s = next;
        if done {
            break;
        }
    }
    Ok(1.0 / s)
}

/// A decision threshold on probabilities and the balanced accuracy it reaches on the data it was chosen on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Threshold {
    /// Predict 1 when `p > threshold`.
    pub threshold: f64,
    /// Balanced accuracy at that threshold.
    pub balanced_accuracy: f64,
}

/// Chooses the threshold maximising balanced accuracy of `p > t` on (out-of-fold) probabilities.
///
/// ```text
/// candidates = {0.5} ∪ midpoints of consecutive sorted unique scores
/// BA(t)      = ½·(TP/P + TN/N)
/// t*         = argmax BA, ties towards |t − 0.5| smallest
/// ```
///
/// # Errors
/// [`Error::Shape`], [`Error::NonFinite`], [`Error::SingleClass`] (balanced accuracy needs both classes).
pub fn select_threshold(probs: &[f64], y: &[u8]) -> Result<Threshold> {
    check_scores(probs, y, "probability")?;
    let n_pos = y.iter().filter(|&&v| v == 1).count() as f64;
    let n_neg = y.len() as f64 - n_pos;
    let mut order: Vec<usize> = (0..probs.len()).collect();
    order.sort_by(|&a, &b| probs[a].total_cmp(&probs[b]));
    let ba = |tp: f64, tn: f64| 0.5 * (tp / n_pos + tn / n_neg);
    // Sweep ascending: below the candidate all are predicted 0.
    let mut best = {
        let tp = probs
            .iter()
            .zip(y)
            .filter(|(&p, &t)| p > 0.5 && t == 1)
            .count() as f64;
        let tn = probs
            .iter()
            .zip(y)
            .filter(|(&p, &t)| p <= 0.5 && t == 0)
            .count() as f64;
        Threshold {
            threshold: 0.5,
            balanced_accuracy: ba(tp, tn),
        }
    };
    let (mut tp, mut tn) = (n_pos, 0.0);
    let mut i = 0;
    while i < order.len() {
        let v = probs[order[i]];
        while i < order.len() && probs[order[i]] == v {
            if y[order[i]] == 1 {
                tp -= 1.0;
            } else {
                tn += 1.0;
            }
            i += 1;
        }
        if i == order.len() {
            break;
        }
        let t = 0.5 * (v + probs[order[i]]);
        let b = ba(tp, tn);
        let better = b > best.balanced_accuracy + 1e-12
            || ((b - best.balanced_accuracy).abs() <= 1e-12
                && (t - 0.5).abs() < (best.threshold - 0.5).abs());
        if better {
            best = Threshold {
                threshold: t,
                balanced_accuracy: b,
            };
        }
    }
    Ok(best)
}

fn check_scores(scores: &[f64], y: &[u8], what: &str) -> Result<()> {
    if scores.len() != y.len() {
        return Err(Error::Shape {
            what: "scores vs labels",
            expected: vec![y.len()],
            got: vec![scores.len()],
        });
    }
    if let Some(i) = scores.iter().position(|v| !v.is_finite()) {
        return Err(Error::NonFinite {
            case: format!("row {i}"),
            feature: what.to_string(),
            value: scores[i],
        });
    }
    let n_pos = y.iter().filter(|&&v| v == 1).count();
    if n_pos == 0 || n_pos == y.len() {
        return Err(Error::SingleClass {
            class: u8::from(n_pos > 0),
            n: y.len(),
        });
    }
    Ok(())
}
