//! The cubic B-spline prefilter (scipy `spline_filter1d(order=3, mode='nearest')`) on one line or on a block
//! of lines that are interleaved row by row.
//!
//! References (read, not copied): scipy 1.17.1 `scipy/ndimage/src/ni_splines.c` (`get_filter_poles`,
//! `_apply_filter_gain`, `_init_causal_reflect`, `_init_anticausal_reflect`, `_apply_filter`; mode 'nearest'
//! filters with the *reflect* initial conditions), `scipy/ndimage/_interpolation.py`
//! (`_prepad_for_spline_filter`: the line is first padded with 12 copies of each edge value). M. Unser,
//! "Splines: a perfect fit for signal and image processing", IEEE Signal Processing Magazine 16(6), 1999.
//!
//! ```text
//! z = √3 − 2,  c ← c · (1 − z)(1 − 1/z)
//! causal:      c[0] ← c[0] + z/(1 − zⁿ·zⁿ) · Σ_{i<n} zⁱ (c[i] + zⁿ c[n−1−i])      (reflect init)
//!              c[i] ← c[i] + z · c[i−1]
//! anticausal:  c[n−1] ← c[n−1] · z/(z − 1)
//!              c[i] ← z · (c[i+1] − c[i])
//! ```
//! The init sum is cut where `|z|ⁱ < 1e−23` (40 terms; the rest changes no digit that survives the final
//! float32 cast).

/// The pole of the cubic B-spline prefilter, `√3 − 2` (scipy's `-0.267949192431122706472553658494127633`
/// rounded to the nearest f64).
pub(crate) const POLE: f64 = -0.267_949_192_431_122_7;

/// The prefilter gain `(1 − z)(1 − 1/z)` (= 6), applied to the samples before the recursions.
pub(crate) const GAIN: f64 = (1.0 - POLE) * (1.0 - 1.0 / POLE);

/// Terms of the causal initial sum that are evaluated (`|z|^40 ≈ 1.3e−23`).
const HORIZON: usize = 40;

/// Prefilters one line in place; the samples must already be multiplied by [`GAIN`].
pub(crate) fn prefilter_line(c: &mut [f64]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = POLE;
    let z_n = z.powf(n as f64);
    let mut sum = c[0] + z_n * c[n - 1];
    let mut z_i = z;
    for i in 1..n.min(HORIZON) {
        sum += z_i * (c[i] + z_n * c[n - 1 - i]);
        z_i *= z;
    }
    c[0] += sum * z / (1.0 - z_n * z_n);
    for i in 1..n {
        c[i] += z * c[i - 1];
    }
    c[n - 1] *= z / (z - 1.0);
    for i in (0..n - 1).rev() {
        c[i] = z * (c[i + 1] - c[i]);
    }
}

/// Prefilters `c.len() / width` rows of `width` interleaved lines in place (the recursion runs over rows,
/// every column is an independent line); the samples must already be multiplied by [`GAIN`]. `sum` is
/// scratch space.
#[inline(always)]
fn prefilter_rows_impl(c: &mut [f64], width: usize, sum: &mut Vec<f64>) {
    if width == 0 {
        return;
    }
    let n = c.len() / width;
    if n < 2 {
        return;
    }
    let z = POLE;
    let z_n = z.powf(n as f64);
    sum.clear();
    sum.extend(
        c[..width]
            .iter()
            .zip(&c[(n - 1) * width..n * width])
            .map(|(a, b)| a + z_n * b),
    );
    let mut z_i = z;
    for i in 1..n.min(HORIZON) {
        let row = &c[i * width..(i + 1) * width];
        let mirror = &c[(n - 1 - i) * width..(n - i) * width];
        for ((s, a), b) in sum.iter_mut().zip(row).zip(mirror) {
            *s += z_i * (a + z_n * b);
        }
        z_i *= z;
    }
    let scale = 1.0 - z_n * z_n;
    for (c0, s) in c[..width].iter_mut().zip(sum.iter()) {
        *c0 += s * z / scale;
    }
    for i in 1..n {
        let (done, rest) = c.split_at_mut(i * width);
        let prev = &done[(i - 1) * width..];
        for (x, p) in rest[..width].iter_mut().zip(prev) {
            *x += z * p;
        }
    }
    let anti = z / (z - 1.0);
    for x in &mut c[(n - 1) * width..] {
        *x *= anti;
    }
    for i in (0..n - 1).rev() {
        let (head, tail) = c.split_at_mut((i + 1) * width);
        let next = &tail[..width];
        for (x, nx) in head[i * width..].iter_mut().zip(next) {
            *x = z * (nx - *x);
        }
    }
}

super::simd::multiversion! {
    /// [`prefilter_rows_impl`] for the best instruction set of the CPU.
    pub(crate) fn prefilter_rows(c: &mut [f64], width: usize, sum: &mut Vec<f64>) => prefilter_rows_impl;
}

/// Prefilters `W` lines held lane-wise (`c[i][l]` is sample `i` of line `l`) in place; the samples must already
/// be multiplied by [`GAIN`]. The recursions of the `W` lines run side by side (vectorised), which is what
/// makes the pass along the contiguous axis fast.
#[inline(always)]
pub(crate) fn prefilter_lanes<const W: usize>(c: &mut [[f64; W]]) {
    let n = c.len();
    if n < 2 {
        return;
    }
    let z = POLE;
    let z_n = z.powf(n as f64);
    let mut sum: [f64; W] = std::array::from_fn(|l| c[0][l] + z_n * c[n - 1][l]);
    let mut z_i = z;
    for i in 1..n.min(HORIZON) {
        let (row, mirror) = (c[i], c[n - 1 - i]);
        for l in 0..W {
            sum[l] += z_i * (row[l] + z_n * mirror[l]);
        }
        z_i *= z;
    }
    let scale = 1.0 - z_n * z_n;
    for l in 0..W {
        c[0][l] += sum[l] * z / scale;
    }
    for i in 1..n {
        let prev = c[i - 1];
        for l in 0..W {
            c[i][l] += z * prev[l];
        }
    }
    let anti = z / (z - 1.0);
    for v in &mut c[n - 1] {
        *v *= anti;
    }
    for i in (0..n - 1).rev() {
        let next = c[i + 1];
        for l in 0..W {
            c[i][l] = z * (next[l] - c[i][l]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The filtered coefficients interpolate: (c[i−1] + 4c[i] + c[i+1]) / 6 = x[i] away from the ends.
    #[test]
    fn coefficients_interpolate() {
        let x: Vec<f64> = (0..40)
            .map(|i| ((i as f64) * 0.37).sin() * 3.0 + 1.0)
            .collect();
        let mut c: Vec<f64> = x.iter().map(|v| v * GAIN).collect();
        prefilter_line(&mut c);
        for i in 1..39 {
            let y = (c[i - 1] + 4.0 * c[i] + c[i + 1]) / 6.0;
            assert!((y - x[i]).abs() < 1e-12, "{i}: {y} vs {}", x[i]);
        }
        // rows version agrees with the line version column by column
        let width = 3;
        let mut rows: Vec<f64> = (0..40)
            .flat_map(|i| [x[i], -x[i], 2.0 * x[i]])
            .map(|v| v * GAIN)
            .collect();
        let mut sum = Vec::new();
        prefilter_rows(&mut rows, width, &mut sum);
        for i in 0..40 {
            assert!((rows[i * width] - c[i]).abs() < 1e-12);
            assert!((rows[i * width + 1] + c[i]).abs() < 1e-12);
        }
        let mut lanes: Vec<[f64; 2]> = x.iter().map(|v| [v * GAIN, -v * GAIN]).collect();
        prefilter_lanes(&mut lanes);
        for i in 0..40 {
            assert_eq!(lanes[i][0], c[i]);
            assert_eq!(lanes[i][1], -c[i]);
        }
    }

    #[test]
    fn gain_is_six() {
        assert!((GAIN - 6.0).abs() < 1e-14);
    }
}
