//! Per-axis sampling plans: for every output index along one axis, which input samples are read and with which
//! weights, computed exactly as scipy's `zoom(..., grid_mode=True, mode='nearest')` computes them.
//!
//! References (read, not copied): scipy 1.17.1 `scipy/ndimage/src/ni_interpolation.c` (`NI_ZoomShift`: the
//! half-pixel mapping and the filter start), `scipy/ndimage/src/ni_splines.c`
//! (`get_spline_interpolation_weights`), `scipy/ndimage/_interpolation.py` (`zoom`: `zoom = in/out`,
//! `_prepad_for_spline_filter`: 12 edge voxels before the order-3 prefilter).
//!
//! ```text
//! zoom = n_in / n_out                      (float64)
//! src  = ((k + 0.5) · zoom) − 0.5          (+ 12 for order 3: index into the padded line)
//! order 0: i = floor(src + 0.5)                               weights [1]
//! order 1: i = floor(src), t = src − i                        weights [1 − t, 1 − (1 − t)]
//! order 3: i = floor(src) − 1, t = src − floor(src), u = 1 − t
//!          w1 = (t²(t − 2)·3 + 4)/6, w2 = (u²(u − 2)·3 + 4)/6, w0 = u³/6, w3 = 1 − w0 − w1 − w2
//! taps outside the (padded) line are clamped to its ends (mode 'nearest')
//! ```

use super::config::Order;

/// Edge voxels that scipy pads on each side before the order-3 prefilter (`_prepad_for_spline_filter`).
pub(crate) const SPLINE_PAD: usize = 12;

/// The sampling plan of one axis.
#[derive(Debug, Clone)]
pub(crate) struct AxisPlan {
    /// Input length along the axis.
    pub n_in: usize,
    /// Output length along the axis.
    pub n_out: usize,
    /// Interpolation order.
    pub order: Order,
    /// Number of taps per output sample (1, 2 or 4).
    pub taps: usize,
    /// Per output index: tap indices into the line (the padded line for `Cubic`).
    pub index: Vec<[usize; 4]>,
    /// Per output index: tap weights (unused taps have weight 0).
    pub weight: Vec<[f64; 4]>,
}

/// scipy's source coordinate of output index `k` with `grid_mode=True`.
#[inline]
pub(crate) fn source_coordinate(k: usize, zoom: f64) -> f64 {
    let mut cc = k as f64;
    cc += 0.5;
    cc *= zoom;
    cc -= 0.5;
    cc
}

/// scipy's zoom factor along one axis (`np.divide(in, out)`, 1 where `out == 0`).
#[inline]
pub(crate) fn zoom_factor(n_in: usize, n_out: usize) -> f64 {
    if n_out == 0 {
        1.0
    } else {
        n_in as f64 / n_out as f64
    }
}

/// Clamps a (possibly negative) index to `[0, len − 1]`.
#[inline]
fn clamp_index(i: i64, len: usize) -> usize {
    i.clamp(0, len as i64 - 1) as usize
}

/// The linear weights of scipy for the fractional position `cc`: `[1 − t, 1 − (1 − t)]`.
#[inline]
pub(crate) fn linear_weights(cc: f64) -> [f64; 2] {
    let t = cc - cc.floor();
    let w0 = 1.0 - t;
    [w0, 1.0 - w0]
}

/// The cubic B-spline weights of scipy for the position `cc` (taps `floor(cc) − 1 ..= floor(cc) + 2`).
#[inline]
pub(crate) fn cubic_weights(cc: f64) -> [f64; 4] {
    let y = cc - cc.floor();
    let z = 1.0 - y;
    let w1 = (y * y * (y - 2.0) * 3.0 + 4.0) / 6.0;
    let w2 = (z * z * (z - 2.0) * 3.0 + 4.0) / 6.0;
    let w0 = z * z * z / 6.0;
    let mut w3 = 1.0;
    w3 -= w0;
    w3 -= w1;
    w3 -= w2;
    [w0, w1, w2, w3]
}

/// The nearest input index of output index `k` (scipy order 0, mode 'nearest').
#[inline]
pub(crate) fn nearest_index(k: usize, zoom: f64, n_in: usize) -> usize {
    let cc = source_coordinate(k, zoom);
    clamp_index((cc + 0.5).floor() as i64, n_in)
}

impl AxisPlan {
    /// The plan for resizing `n_in` samples to `n_out` with `order`. `n_in` must be ≥ 1.
    #[must_use]
    pub(crate) fn new(n_in: usize, n_out: usize, order: Order) -> Self {
        let zoom = zoom_factor(n_in, n_out);
        let mut index = Vec::with_capacity(n_out);
        let mut weight = Vec::with_capacity(n_out);
        let taps = match order {
            Order::Nearest => 1,
            Order::Linear => 2,
            Order::Cubic => 4,
        };
        for k in 0..n_out {
            let cc = source_coordinate(k, zoom);
            match order {
                Order::Nearest => {
                    index.push([nearest_index(k, zoom, n_in), 0, 0, 0]);
                    weight.push([1.0, 0.0, 0.0, 0.0]);
                }
                Order::Linear => {
                    let start = cc.floor() as i64;
                    let w = linear_weights(cc);
                    index.push([clamp_index(start, n_in), clamp_index(start + 1, n_in), 0, 0]);
                    weight.push([w[0], w[1], 0.0, 0.0]);
                }
                Order::Cubic => {
                    let padded_len = n_in + 2 * SPLINE_PAD;
                    let cc = cc + SPLINE_PAD as f64;
                    let start = cc.floor() as i64 - 1;
                    index.push(std::array::from_fn(|j| {
                        clamp_index(start + j as i64, padded_len)
                    }));
                    weight.push(cubic_weights(cc));
                }
            }
        }
        AxisPlan {
            n_in,
            n_out,
            order,
            taps,
            index,
            weight,
        }
    }

    /// `true` when the axis keeps its length: resampling along it is the identity (exactly for orders 0
    /// and 1, within rounding for order 3, which interpolates its samples) and is skipped.
    #[must_use]
    pub(crate) fn is_identity(&self) -> bool {
        self.n_in == self.n_out
    }

    /// Length of the line the taps index into (padded for `Cubic`).
    #[must_use]
    pub(crate) fn line_len(&self) -> usize {
        match self.order {
            Order::Cubic => self.n_in + 2 * SPLINE_PAD,
            _ => self.n_in,
        }
    }

    /// Leading padding of the line (12 for `Cubic`, else 0).
    #[must_use]
    pub(crate) fn pad(&self) -> usize {
        match self.order {
            Order::Cubic => SPLINE_PAD,
            _ => 0,
        }
    }

    /// Evaluates output sample `k` from `line` (scalar line, the taps' layout).
    #[inline]
    pub(crate) fn eval(&self, line: &[f64], k: usize) -> f64 {
        let idx = &self.index[k];
        let w = &self.weight[k];
        let mut t = 0.0;
        for j in 0..self.taps {
            t += w[j] * line[idx[j]];
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_pixel_mapping() {
        // 4 -> 2: sources at 0.5 and 2.5
        let p = AxisPlan::new(4, 2, Order::Linear);
        assert_eq!(p.index, vec![[0, 1, 0, 0], [2, 3, 0, 0]]);
        assert_eq!(p.weight[0][..2], [0.5, 0.5]);
        // 2 -> 4: sources at -0.25, 0.25, 0.75, 1.25; edges clamp
        let p = AxisPlan::new(2, 4, Order::Linear);
        assert_eq!(p.index[0][..2], [0, 0]);
        assert_eq!(p.index[3][..2], [1, 1]);
        let p = AxisPlan::new(2, 4, Order::Nearest);
        let idx: Vec<usize> = p.index.iter().map(|i| i[0]).collect();
        assert_eq!(idx, vec![0, 0, 1, 1]);
    }

    #[test]
    fn cubic_weights_sum_to_one() {
        for cc in [0.0, 0.25, 0.5, 0.9, 3.3] {
            let w = cubic_weights(cc);
            assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        }
        assert_eq!(cubic_weights(2.0)[0], 1.0 / 6.0);
    }
}
