//! L2-regularised logistic regression fitted by Newton's method (IRLS) on a small dense problem.
//!
//! Same objective and optimum as scikit-learn 1.x `LogisticRegression(penalty="l2", C=1.0)`
//! (`sklearn/linear_model/_logistic.py`; unpenalised intercept), solved exactly with a Cholesky factorisation
//! of the `(p+1)×(p+1)` Hessian instead of L-BFGS. Columns are passed feature-major (`&[&[f64]]`, one
//! contiguous slice per feature) so sequential selection can assemble subsets without copying.

use serde::{Deserialize, Serialize};

use crate::calibrate::sigmoid;
use crate::config::invalid;
use crate::{Error, Result};

/// Hyperparameters of [`LogisticRegression`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Inverse regularisation strength `C > 0` (scikit-learn's `C`; default 1).
    pub c: f64,
    /// Newton iterations at most (default 100).
    pub max_iter: usize,
    /// Stop after a full Newton step whose largest component is at most `tol` (default 1e-4); by Newton's
    /// quadratic convergence the coefficients are then within about `tol²` of the optimum.
    pub tol: f64,
}

impl Default for LogisticRegression {
    /// `C = 1` (scikit-learn's default), 100 iterations, step tolerance 1e-4.
    fn default() -> Self {
        Self {
            c: 1.0,
            max_iter: 100,
            tol: 1e-8,
        }
    }
}

/// A fitted logistic model: `P(y = 1 | x) = σ(b + wᵀx)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticModel {
    /// Coefficients `w`, one per column.
    pub coef: Vec<f64>,
    /// Intercept `b`.
    pub intercept: f64,
}

impl LogisticModel {
    /// Decision values `b + wᵀx_i` of feature-major columns.
    #[must_use]
    pub fn decision_function(&self, cols: &[&[f64]]) -> Vec<f64> {
        let n = cols.first().map_or(0, |c| c.len());
        let mut z = vec![self.intercept; n];
        for (col, &w) in cols.iter().zip(&self.coef) {
            for (zi, &xi) in z.iter_mut().zip(col.iter()) {
                *zi += w * xi;
            }
        }
        z
    }

    /// Probabilities `σ(b + wᵀx_i)`.
    #[must_use]
    pub fn predict_proba(&self, cols: &[&[f64]]) -> Vec<f64> {
        self.decision_function(cols)
            .into_iter()
            .map(sigmoid)
            .collect()
    }

    /// Labels `b + wᵀx_i > 0` (scikit-learn's `predict`).
    #[must_use]
    pub fn predict(&self, cols: &[&[f64]]) -> Vec<u8> {
        self.decision_function(cols)
            .into_iter()
            .map(|z| u8::from(z > 0.0))
            .collect()
    }
}

impl LogisticModel {
    /// `self = from − t·step` (coefficients, then the intercept as the last entry of `step`).
    fn step_into(&mut self, from: &LogisticModel, step: &[f64], t: f64) {
        for ((c, &f), &s) in self.coef.iter_mut().zip(&from.coef).zip(step) {
            *c = f - t * s;
        }
        self.intercept = from.intercept - t * step[from.coef.len()];
    }
}

impl LogisticRegression {
    /// Minimises the penalised log-loss by damped Newton steps.
    ///
    /// ```text
    /// f(w, b) = Σ_i [ log(1 + exp(z_i)) − y_i·z_i ] + ½·‖w‖²/C,      z_i = b + wᵀx_i
    /// ∇_w f   = Xᵀ(p − y) + w/C,    ∂_b f = Σ (p − y),    p = σ(z)
    /// H       = [X 1]ᵀ diag(p(1 − p)) [X 1] + diag(1/C, …, 1/C, 0)
    /// (w, b) ← (w, b) − H⁻¹∇f   (halved while f does not decrease)
    /// ```
    ///
    /// `warm`, when given, starts from its coefficients; it may have fewer coefficients than columns (the
    /// missing trailing ones start at 0), which is how forward selection reuses the previous step's model.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for `C ≤ 0`; [`Error::Shape`] for columns of different lengths or labels of
    /// another length; [`Error::SingleClass`].
    pub fn fit(
        &self,
        cols: &[&[f64]],
        y: &[u8],
        warm: Option<&LogisticModel>,
    ) -> Result<LogisticModel> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(invalid("c", format!("{} is not positive", self.c)));
        }
        let n = y.len();
        if let Some(c) = cols.iter().find(|c| c.len() != n) {
            return Err(Error::Shape {
                what: "logistic regression columns",
                expected: vec![n],
                got: vec![c.len()],
            });
        }
        let n_pos = y.iter().filter(|&&v| v == 1).count();
        if n_pos == 0 || n_pos == n {
            return Err(Error::SingleClass {
                class: u8::from(n_pos > 0),
                n,
            });
        }
        let p = cols.len();
        let lambda = 1.0 / self.c;
        let yf: Vec<f64> = y.iter().map(|&v| f64::from(v)).collect();
        let mut model = LogisticModel {
            coef: vec![0.0; p],
            intercept: 0.0,
        };
        if let Some(w) = warm {
            let k = w.coef.len().min(p);
            model.coef[..k].copy_from_slice(&w.coef[..k]);
            model.intercept = w.intercept;
        }
        let dim = p + 1;
        let mut z = model.decision_function(cols);
        let mut f: Option<f64> = None;
        let mut h = vec![0.0; dim * dim];
        let mut g = vec![0.0; dim];
        let mut sx: Vec<Vec<f64>> = vec![vec![0.0; n]; p];
        let mut s = vec![0.0; n];
        let mut r = vec![0.0; n];
        for _ in 0..self.max_iter {
            for i in 0..n {
                let pi = sigmoid(z[i]);
                r[i] = pi - yf[i];
                s[i] = pi * (1.0 - pi);
            }
            for j in 0..p {
                let col = cols[j];
                let sxj = &mut sx[j];
                for i in 0..n {
                    sxj[i] = s[i] * col[i];
                }
                g[j] = dot(col, &r) + lambda * model.coef[j];
                for k in 0..=j {
                    let v = dot(sxj, cols[k]);
                    h[j * dim + k] = v;
                    h[k * dim + j] = v;
                }
                h[j * dim + j] += lambda;
                let hb: f64 = sxj.iter().sum();
                h[j * dim + p] = hb;
                h[p * dim + j] = hb;
            }
            g[p] = r.iter().sum();
            h[p * dim + p] = s.iter().sum::<f64>().max(1e-300);
            let step = cholesky_solve(&mut h, &g, dim);
            let largest = step.iter().fold(0.0f64, |m, &v| m.max(v.abs()));
            if largest <= self.tol {
                // Converged: apply the (tiny) step without a line search; the error left is O(step²).
                model.step_into(&model.clone(), &step, 1.0);
                break;
            }
            let mut t = 1.0;
            let mut candidate = model.clone();
            if largest <= TRUST_FULL_STEP {
                // Close to the optimum Newton's full step is safe (the loss is smooth and strongly convex).
                candidate.step_into(&model, &step, 1.0);
                z = candidate.decision_function(cols);
                f = None;
                std::mem::swap(&mut model, &mut candidate);
                continue;
            }
            let f0 = *f.get_or_insert_with(|| objective(&z, &yf, &model.coef, lambda));
            let mut accepted = false;
            for _ in 0..20 {
                candidate.step_into(&model, &step, t);
                let zc = candidate.decision_function(cols);
                let fc = objective(&zc, &yf, &candidate.coef, lambda);
                if fc <= f0 {
                    z = zc;
                    f = Some(fc);
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            if !accepted {
                break;
            }
            std::mem::swap(&mut model, &mut candidate);
        }
        Ok(model)
    }
}

/// Largest Newton step taken without a line search.
const TRUST_FULL_STEP: f64 = 0.1;

fn objective(z: &[f64], y: &[f64], w: &[f64], lambda: f64) -> f64 {
    let loss: f64 = z
        .iter()
        .zip(y)
        .map(|(&zi, &yi)| zi.max(0.0) + (-zi.abs()).exp().ln_1p() - yi * zi)
        .sum();
    loss + 0.5 * lambda * w.iter().map(|v| v * v).sum::<f64>()
}

/// Dot product; on x86-64 with AVX2+FMA (detected at run time) an FMA kernel, else a portable one with
/// eight independent accumulators. Both are deterministic on a given machine.
#[inline]
fn dot(a: &[f64], b: &[f64]) -> f64 {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features `dot_fma` is compiled for (checked just above).
            return unsafe { dot_fma(a, b) };
        }
    }
    dot_portable(a, b)
}

#[inline(always)]
fn dot_portable(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_fma(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 16];
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for k in 0..16 {
            acc[k] = x[k].mul_add(y[k], acc[k]);
        }
    }
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    let mut s = 0.0;
    for v in acc {
        s += v;
    }
    s + tail
}

/// Solves `H x = g` for a symmetric positive-definite `H` (row-major `dim × dim`, overwritten by its
/// Cholesky factor); a tiny diagonal jitter keeps near-singular systems solvable.
fn cholesky_solve(h: &mut [f64], g: &[f64], dim: usize) -> Vec<f64> {
    for j in 0..dim {
        let mut d = h[j * dim + j];
        for k in 0..j {
            d -= h[j * dim + k] * h[j * dim + k];
        }
        let d = d.max(1e-12).sqrt();
        h[j * dim + j] = d;
        for i in j + 1..dim {
            let mut v = h[i * dim + j];
            for k in 0..j {
                v -= h[i * dim + k] * h[j * dim + k];
            }
            h[i * dim + j] = v / d;
        }
    }
    let mut x = g.to_vec();
    for i in 0..dim {
        for k in 0..i {
            x[i] -= h[i * dim + k] * x[k];
        }
        x[i] /= h[i * dim + i];
    }
    for i in (0..dim).rev() {
        for k in i + 1..dim {
            x[i] -= h[k * dim + i] * x[k];
        }
        x[i] /= h[i * dim + i];
    }
    x
}
