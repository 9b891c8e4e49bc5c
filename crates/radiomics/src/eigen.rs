//! Eigenvalues of small dense symmetric matrices (Householder tridiagonalisation + implicit QL), for
//! GLCM's maximal correlation coefficient.
//!
//! Reference: Golub & Van Loan, "Matrix Computations", §8.3; PyRadiomics 3.1.0 `radiomics/glcm.py`
//! (`getMCCFeatureValue`, which calls `numpy.linalg.eigvals`).

/// Eigenvalues (unordered) of the symmetric row-major `a` (`n × n`; destroyed): Householder reduction to
/// tridiagonal form, then implicit QL iterations with Wilkinson-type shifts (Golub & Van Loan, "Matrix
/// Computations", §8.3; eigenvalues only). Used for GLCM's MCC.
///
/// ```text
/// A = Qᵀ·T·Q (T tridiagonal: diagonal d, off-diagonal e), then QL sweeps on T until every
/// |e_i| ≤ ε(|d_i| + |d_{i+1}|) + ε²‖T‖
/// ```
#[must_use]
pub(crate) fn symmetric_eigenvalues(a: &mut [f64], n: usize) -> Vec<f64> {
    let mut d = vec![0.0; n];
    let mut e = vec![0.0; n];
    let mut v = vec![0.0; n];
    let mut w = vec![0.0; n];
    for k in 0..n.saturating_sub(2) {
        // reflect x = A[k+1.., k] onto (alpha, 0, …)
        let norm = (k + 1..n).map(|r| a[r * n + k].powi(2)).sum::<f64>().sqrt();
        let x0 = a[(k + 1) * n + k];
        let alpha = if x0 > 0.0 { -norm } else { norm };
        d[k] = a[k * n + k];
        e[k] = alpha;
        for r in k + 1..n {
            v[r] = a[r * n + k];
        }
        v[k + 1] -= alpha;
        let vn = (k + 1..n).map(|r| v[r] * v[r]).sum::<f64>().sqrt();
        if vn == 0.0 {
            e[k] = x0;
            continue;
        }
        v[k + 1..n].iter_mut().for_each(|x| *x /= vn);
        // p = A_sub·v, w = p − (vᵀp)·v, A_sub −= 2(v·wᵀ + w·vᵀ)
        let vs = &v[k + 1..n];
        for r in k + 1..n {
            let row = &a[r * n + k + 1..(r + 1) * n];
            w[r] = row.iter().zip(vs).map(|(x, y)| x * y).sum();
        }
        let kk: f64 = (k + 1..n).map(|r| v[r] * w[r]).sum();
        for r in k + 1..n {
            w[r] -= kk * v[r];
        }
        let ws = &w[k + 1..n];
        for r in k + 1..n {
            let (vr, wr) = (2.0 * v[r], 2.0 * w[r]);
            let row = &mut a[r * n + k + 1..(r + 1) * n];
            for ((x, &vc), &wc) in row.iter_mut().zip(vs).zip(ws) {
                *x -= vr * wc + wr * vc;
            }
        }
    }
    if n >= 2 {
        d[n - 2] = a[(n - 2) * n + n - 2];
        e[n - 2] = a[(n - 1) * n + n - 2];
    }
    if n >= 1 {
        d[n - 1] = a[(n - 1) * n + n - 1];
    }
    tridiagonal_ql(&mut d, &mut e);
    d
}

/// Implicit QL on the symmetric tridiagonal (`d` diagonal, `e[i]` couples `i` and `i + 1`, `e[n−1]` unused);
/// leaves the eigenvalues in `d`.
fn tridiagonal_ql(d: &mut [f64], e: &mut [f64]) {
    let n = d.len();
    if n == 0 {
        return;
    }
    e[n - 1] = 0.0;
    // absolute floor: an off-diagonal below ε²·‖T‖ is negligible even next to a zero diagonal
    let norm = (0..n).fold(0.0f64, |m, i| m.max(d[i].abs() + e[i].abs()));
    let floor = f64::EPSILON * f64::EPSILON * norm;
    for l in 0..n {
        for _iter in 0..100 {
            let mut m = l;
            while m + 1 < n {
                let dd = d[m].abs() + d[m + 1].abs();
                if e[m].abs() <= f64::EPSILON * dd + floor {
                    break;
                }
                m += 1;
            }
            if m == l {
                break;
            }
            let mut g = (d[l + 1] - d[l]) / (2.0 * e[l]);
            let mut r = if g.abs() > 1e150 {
                g.abs()
            } else {
                (g * g + 1.0).sqrt()
            };
            g = d[m] - d[l] + e[l] / (g + if g >= 0.0 { r } else { -r });
            let (mut s, mut c, mut p) = (1.0, 1.0, 0.0);
            let mut deflated = false;
            for i in (l..m).rev() {
                let f = s * e[i];
                let b = c * e[i];
                r = (f * f + g * g).sqrt();
                e[i + 1] = r;
                if r == 0.0 {
                    d[i + 1] -= p;
                    e[m] = 0.0;
                    deflated = true;
                    break;
                }
                s = f / r;
                c = g / r;
                g = d[i + 1] - p;
                r = (d[i] - g) * s + 2.0 * c * b;
                p = s * r;
                d[i + 1] = g + p;
                g = c * r - b;
            }
            if deflated {
                continue;
            }
            d[l] -= p;
            e[l] = g;
            e[m] = 0.0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eigenvalues_of_a_symmetric_matrix() {
        // eigenvalues 1, 2, 4 rotated by a fixed orthogonal matrix
        let q = [
            [2.0 / 3.0, -2.0 / 3.0, 1.0 / 3.0],
            [2.0 / 3.0, 1.0 / 3.0, -2.0 / 3.0],
            [1.0 / 3.0, 2.0 / 3.0, 2.0 / 3.0],
        ];
        let l = [1.0, 2.0, 4.0];
        let mut a: Vec<f64> = (0..9)
            .map(|k| (0..3).map(|t| q[k / 3][t] * l[t] * q[k % 3][t]).sum())
            .collect();
        let mut ev = symmetric_eigenvalues(&mut a, 3);
        ev.sort_by(f64::total_cmp);
        for (x, y) in ev.iter().zip(l) {
            assert!((x - y).abs() < 1e-13, "{ev:?}");
        }
        let mut one = vec![5.0];
        assert_eq!(symmetric_eigenvalues(&mut one, 1), vec![5.0]);
        let mut diag = vec![3.0, 0.0, 0.0, -1.0];
        let mut ev = symmetric_eigenvalues(&mut diag, 2);
        ev.sort_by(f64::total_cmp);
        assert_eq!(ev, vec![-1.0, 3.0]);
    }
}
