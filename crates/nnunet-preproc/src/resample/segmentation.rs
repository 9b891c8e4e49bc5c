//! Resampling of label maps (nnU-Net's `resample_data_or_seg_to_shape` with `is_seg=True`, batchgenerators'
//! `resize_segmentation`), labels `i16` including nnU-Net's −1.
//!
//! References (read, not copied): batchgenerators 0.25.5 `batchgenerators/augmentations/utils.py`
//! (`resize_segmentation`, `_resample_seg_by_argmax`, `unique_labels`); MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/preprocessing/resampling/default_resampling.py` (`resample_data_or_seg`: separate-z with
//! `order_z`); nnU-Net v1 1.7.1 `nnunet/preprocessing/preprocessing.py` (same rules); scipy 1.17.1
//! `scipy/ndimage/src/ni_interpolation.c` (`NI_ZoomShift`: the order of the products and sums below).
//!
//! ```text
//! score_l(v) = clip( Σ_{taps t in scipy order} [seg(t) = l] · ((w_z(t) · w_y(t)) · w_x(t)), 0, 1 )   (order 1)
//! nearest tie:  nn(v) if score_nn(v) = max_l score_l(v) > 0, else the smallest l with the maximum score
//! lowest/highest tie: the smallest/largest l with the maximum score
//! threshold (legacy): the largest l with score_l(v) ≥ 0.5, else 0
//! separate-z with order_z ≥ 1: the largest l with round(zoom_z([slice = l])) > 0.5, else 0
//! ```
//! Order 1 reproduces scipy's float64 arithmetic term by term, so exact ties (0.5/0.5, 0.25×4, …) are decided
//! exactly as the reference decides them and the output is identical. Order 3 (used by no default) computes
//! the scores separably: equal to ~1e−16, so an exact tie may be broken differently.

use std::borrow::Cow;

use ndarray::{s, Array3, ArrayView3};
use rayon::prelude::*;

use super::axis::{nearest_index, zoom_factor, AxisPlan};
use super::config::{Order, SegResampleConfig, SegmentationRule};
use super::data::front_permutation;
use super::separable::resample_volume;
use super::shape::resolve_separate_z;
use crate::geometry::Spacing;

/// Resamples a label map `(z, y, x)` to `new_shape` exactly as nnU-Net does (v2
/// `resample_data_or_seg_to_shape(seg[None], new_shape, current_spacing, new_spacing, is_seg=True, order=1,
/// order_z=0, force_separate_z=None)`, v1 `resample_patient(..., order_seg=1, order_z_seg=0)`), with the
/// label rule of the installed batchgenerators 0.25.5 (argmax, nearest-neighbour tie-break) by default.
///
/// * Shapes equal → the labels unchanged.
/// * Separate-z (same decision as [`super::resample_data`]): every slice is resized in 2-D with
///   `config.order`; along the separate axis `order_z = Nearest` copies the nearest slice, higher orders
///   interpolate each label's indicator and keep `round(score) > 0.5`, labels ascending (0 where none does).
/// * Otherwise a 3-D resize of every label's indicator with `config.order`, decided by `config.rule`.
///
/// An empty input or output axis gives a zero-filled `new_shape` array.
///
/// # Examples
/// ```
/// use ndarray::Array3;
/// use nnunet_preproc::resample::{resample_segmentation, SegResampleConfig};
/// let mut seg = Array3::<i16>::zeros((4, 4, 4));
/// seg.slice_mut(ndarray::s![.., .., 2..]).fill(1);
/// seg[[0, 0, 0]] = -1;
/// let out = resample_segmentation(seg.view(), [2, 2, 2], [1.0; 3], [2.0; 3], &SegResampleConfig::default());
/// assert_eq!(out, ndarray::array![[[0, 1], [0, 1]], [[0, 1], [0, 1]]]);
/// ```
#[must_use]
pub fn resample_segmentation(
    seg: ArrayView3<'_, i16>,
    new_shape: [usize; 3],
    current_spacing: Spacing,
    new_spacing: Spacing,
    config: &SegResampleConfig,
) -> Array3<i16> {
    let (n0, n1, n2) = seg.dim();
    if [n0, n1, n2] == new_shape {
        return seg.to_owned();
    }
    if [n0, n1, n2].contains(&0) || new_shape.contains(&0) {
        return Array3::zeros(new_shape);
    }
    let axis = resolve_separate_z(
        config.separate_z,
        current_spacing,
        new_spacing,
        config.anisotropy_threshold,
    );
    match axis {
        None => to_array(
            resize_labels(seg, new_shape, config.order, config.rule),
            new_shape,
        ),
        Some(a) => resample_separate(seg, new_shape, a, config),
    }
}

/// Wraps a row-major buffer of `shape`.
fn to_array(values: Vec<i16>, shape: [usize; 3]) -> Array3<i16> {
    Array3::from_shape_vec(shape, values).unwrap_or_else(|_| Array3::zeros(shape))
}

/// The distinct labels, ascending (`unique_labels`).
fn sorted_labels<'a>(values: impl IntoIterator<Item = &'a i16>) -> Vec<i16> {
    let mut seen = vec![false; 1 << 16];
    for &v in values {
        seen[(i32::from(v) + 32768) as usize] = true;
    }
    seen.iter()
        .enumerate()
        .filter(|(_, &s)| s)
        .map(|(i, _)| (i as i32 - 32768) as i16)
        .collect()
}

/// The view's values in row-major order, borrowed when already contiguous.
fn contiguous<'a>(view: &'a ArrayView3<'_, i16>) -> Cow<'a, [i16]> {
    match view.as_slice() {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(view.iter().copied().collect()),
    }
}

/// batchgenerators `resize_segmentation(seg, new_shape, order)` in 3-D, row-major output.
fn resize_labels(
    seg: ArrayView3<'_, i16>,
    new_shape: [usize; 3],
    order: Order,
    rule: SegmentationRule,
) -> Vec<i16> {
    let labels = sorted_labels(seg.iter());
    let len: usize = new_shape.iter().product();
    if labels.len() == 1 {
        return vec![labels[0]; len];
    }
    match order {
        Order::Nearest => resize_nearest(seg, new_shape),
        Order::Linear => resize_linear_exact(seg, new_shape, rule),
        Order::Cubic => resize_streaming(seg, new_shape, &labels, rule),
    }
}

/// Order 0: the nearest label.
fn resize_nearest(seg: ArrayView3<'_, i16>, new_shape: [usize; 3]) -> Vec<i16> {
    let (n0, n1, n2) = seg.dim();
    let data = contiguous(&seg);
    let near = nearest_indices([n0, n1, n2], new_shape);
    let (s0, s1) = (n1 * n2, n2);
    let mut out = vec![0i16; new_shape.iter().product()];
    out.par_chunks_mut(new_shape[1] * new_shape[2])
        .enumerate()
        .for_each(|(k0, plane)| {
            for (k1, row) in plane.chunks_exact_mut(new_shape[2]).enumerate() {
                let base = near[0][k0] * s0 + near[1][k1] * s1;
                for (o, &k2) in row.iter_mut().zip(&near[2]) {
                    *o = data[base + k2];
                }
            }
        });
    out
}

/// The nearest-neighbour input index of every output index, per axis.
fn nearest_indices(shape: [usize; 3], new_shape: [usize; 3]) -> [Vec<usize>; 3] {
    std::array::from_fn(|a| {
        let zoom = zoom_factor(shape[a], new_shape[a]);
        (0..new_shape[a])
            .map(|k| nearest_index(k, zoom, shape[a]))
            .collect()
    })
}

/// Decides one voxel from its 8 tap labels (scipy order: z tap, y tap, x tap, x fastest) and tap products.
#[inline]
fn decide(tap_labels: &[i16; 8], products: &[f64; 8], nn: i16, rule: SegmentationRule) -> i16 {
    let mut uniq = [0i16; 8];
    let mut score = [0.0f64; 8];
    let mut n = 0;
    for (&l, &p) in tap_labels.iter().zip(products) {
        match uniq[..n].iter().position(|&u| u == l) {
            Some(j) => score[j] += p,
            None => {
                uniq[n] = l;
                score[n] = p;
                n += 1;
            }
        }
    }
    for s in &mut score[..n] {
        *s = s.clamp(0.0, 1.0);
    }
    let (uniq, score) = (&uniq[..n], &score[..n]);
    if rule == SegmentationRule::Threshold {
        return uniq
            .iter()
            .zip(score)
            .filter(|(_, &s)| s >= 0.5)
            .map(|(&l, _)| l)
            .max()
            .unwrap_or(0);
    }
    let max = score.iter().copied().fold(0.0f64, f64::max);
    if rule == SegmentationRule::ArgmaxNearestTie {
        if let Some(j) = uniq.iter().position(|&u| u == nn) {
            if score[j] == max && score[j] > 0.0 {
                return nn;
            }
        }
    }
    let tied = uniq
        .iter()
        .zip(score)
        .filter(|(_, &s)| s == max)
        .map(|(&l, _)| l);
    let best = if rule == SegmentationRule::ArgmaxHighestTie {
        tied.max()
    } else {
        tied.min()
    };
    best.unwrap_or(nn)
}

/// Order 1 with scipy's exact arithmetic, all labels at once, one pass over the output.
fn resize_linear_exact(
    seg: ArrayView3<'_, i16>,
    new_shape: [usize; 3],
    rule: SegmentationRule,
) -> Vec<i16> {
    let (n0, n1, n2) = seg.dim();
    let data = contiguous(&seg);
    let plans: [AxisPlan; 3] =
        std::array::from_fn(|a| AxisPlan::new([n0, n1, n2][a], new_shape[a], Order::Linear));
    let near = nearest_indices([n0, n1, n2], new_shape);
    let (s0, s1) = (n1 * n2, n2);
    let [_, m1, m2] = new_shape;
    let mut out = vec![0i16; new_shape.iter().product()];
    out.par_chunks_mut(m1 * m2)
        .enumerate()
        .for_each(|(k0, plane)| {
            let (iz, wz) = (plans[0].index[k0], plans[0].weight[k0]);
            for (k1, row) in plane.chunks_exact_mut(m2).enumerate() {
                let (iy, wy) = (plans[1].index[k1], plans[1].weight[k1]);
                let rows = [
                    iz[0] * s0 + iy[0] * s1,
                    iz[0] * s0 + iy[1] * s1,
                    iz[1] * s0 + iy[0] * s1,
                    iz[1] * s0 + iy[1] * s1,
                ];
                let wzy = [wz[0] * wy[0], wz[0] * wy[1], wz[1] * wy[0], wz[1] * wy[1]];
                let nn_row = near[0][k0] * s0 + near[1][k1] * s1;
                for (k2, o) in row.iter_mut().enumerate() {
                    let (ix, wx) = (plans[2].index[k2], plans[2].weight[k2]);
                    let mut taps = [0i16; 8];
                    for (r, &base) in rows.iter().enumerate() {
                        taps[2 * r] = data[base + ix[0]];
                        taps[2 * r + 1] = data[base + ix[1]];
                    }
                    if taps.iter().all(|&t| t == taps[0]) {
                        *o = taps[0];
                        continue;
                    }
                    let products: [f64; 8] = std::array::from_fn(|t| wzy[t / 2] * wx[t % 2]);
                    *o = decide(&taps, &products, data[nn_row + near[2][k2]], rule);
                }
            }
        });
    out
}

/// Any order: every label's indicator resized on its own (f64, clipped to [0, 1]) and combined as
/// `_resample_seg_by_argmax` combines them (or by the legacy threshold).
fn resize_streaming(
    seg: ArrayView3<'_, i16>,
    new_shape: [usize; 3],
    labels: &[i16],
    rule: SegmentationRule,
) -> Vec<i16> {
    let (n0, n1, n2) = seg.dim();
    let len: usize = new_shape.iter().product();
    let plans: [AxisPlan; 3] =
        std::array::from_fn(|a| AxisPlan::new([n0, n1, n2][a], new_shape[a], Order::Cubic));
    let plans = [&plans[0], &plans[1], &plans[2]];
    let nn = resize_nearest(seg, new_shape);
    let nn_index: Vec<usize> = nn
        .iter()
        .map(|l| labels.partition_point(|x| x < l))
        .collect();
    let mut score = vec![0.0f64; len];
    let mut best = vec![0.0f64; len];
    let mut win = vec![0usize; len];
    let mut nn_top = vec![false; len];
    let mut thresholded = vec![0i16; len];
    let mut inter = Vec::new();
    for (i, &label) in labels.iter().enumerate() {
        let indicator = seg.mapv(|v| f32::from(u8::from(v == label)));
        resample_volume(
            indicator.view(),
            plans,
            Some((0.0, 1.0)),
            &mut inter,
            &mut score,
        );
        if rule == SegmentationRule::Threshold {
            thresholded
                .iter_mut()
                .zip(&score)
                .filter(|(_, &s)| s >= 0.5)
                .for_each(|(o, _)| *o = label);
            continue;
        }
        for v in 0..len {
            let (s, is_nn) = (score[v], nn_index[v] == i);
            if i == 0 {
                best[v] = s;
                nn_top[v] = is_nn && s > 0.0;
                continue;
            }
            if s == best[v] && s > 0.0 && is_nn {
                nn_top[v] = true;
            }
            let better = if rule == SegmentationRule::ArgmaxHighestTie {
                s >= best[v]
            } else {
                s > best[v]
            };
            if better {
                nn_top[v] = is_nn;
                win[v] = i;
            }
            best[v] = best[v].max(s);
        }
    }
    if rule == SegmentationRule::Threshold {
        return thresholded;
    }
    (0..len)
        .map(|v| {
            if rule == SegmentationRule::ArgmaxNearestTie && nn_top[v] {
                nn[v]
            } else {
                labels[win[v]]
            }
        })
        .collect()
}

/// Separate-z: 2-D per slice across `axis`, then `order_z` along it.
fn resample_separate(
    seg: ArrayView3<'_, i16>,
    new_shape: [usize; 3],
    axis: usize,
    config: &SegResampleConfig,
) -> Array3<i16> {
    let perm = front_permutation(axis);
    let v = seg.permuted_axes(perm);
    let na = v.dim().0;
    let [ma, m1, m2] = perm.map(|p| new_shape[p]);
    let plane = m1 * m2;
    let resize_slice = |s: usize| {
        resize_labels(
            v.slice(s![s..s + 1, .., ..]),
            [1, m1, m2],
            config.order,
            config.rule,
        )
    };
    let mut buf = vec![0i16; ma * plane];
    if na == ma || config.order_z == Order::Nearest {
        let zoom = zoom_factor(na, ma);
        let source: Vec<usize> = (0..ma)
            .map(|k| {
                if na == ma {
                    k
                } else {
                    nearest_index(k, zoom, na)
                }
            })
            .collect();
        let mut needed = vec![false; na];
        source.iter().for_each(|&s| needed[s] = true);
        let slices: Vec<Option<Vec<i16>>> = (0..na)
            .into_par_iter()
            .map(|s| needed[s].then(|| resize_slice(s)))
            .collect();
        buf.par_chunks_mut(plane)
            .zip(source.par_iter())
            .for_each(|(out, &s)| {
                if let Some(src) = &slices[s] {
                    out.copy_from_slice(src);
                }
            });
    } else {
        let stack: Vec<i16> = (0..na)
            .into_par_iter()
            .flat_map_iter(resize_slice)
            .collect();
        along_axis_thresholded(&stack, na, plane, ma, config.order_z, &mut buf);
    }
    let mut out = Array3::<i16>::zeros(new_shape);
    if let Ok(src) = ArrayView3::from_shape([ma, m1, m2], &buf[..]) {
        out.view_mut().permuted_axes(perm).assign(&src);
    }
    out
}

/// nnU-Net's `order_z ≥ 1` label rule along axis 0 of `stack` (`na` slices of `plane`): labels ascending,
/// `out[round(zoom_z([stack = l])) > 0.5] = l`, starting from 0.
fn along_axis_thresholded(
    stack: &[i16],
    na: usize,
    plane: usize,
    ma: usize,
    order_z: Order,
    out: &mut [i16],
) {
    let pz = AxisPlan::new(na, ma, order_z);
    if order_z == Order::Linear {
        // exact: the in-plane weights are (1, 0), so scipy's score is w0·[l0 = l] + w1·[l1 = l]
        out.par_chunks_mut(plane).enumerate().for_each(|(k, dst)| {
            let (i, w) = (pz.index[k], pz.weight[k]);
            let (a, b) = (
                &stack[i[0] * plane..(i[0] + 1) * plane],
                &stack[i[1] * plane..(i[1] + 1) * plane],
            );
            for ((o, &l0), &l1) in dst.iter_mut().zip(a).zip(b) {
                let pass = |score: f64| score.round_ties_even() > 0.5;
                *o = if l0 == l1 {
                    if pass(w[0] + w[1]) {
                        l0
                    } else {
                        0
                    }
                } else {
                    let (lo, hi, s_lo, s_hi) = if l0 < l1 {
                        (l0, l1, w[0], w[1])
                    } else {
                        (l1, l0, w[1], w[0])
                    };
                    if pass(s_hi) {
                        hi
                    } else if pass(s_lo) {
                        lo
                    } else {
                        0
                    }
                };
            }
        });
        return;
    }
    let labels = sorted_labels(stack.iter());
    let mut score = vec![0.0f64; ma * plane];
    let mut inter = Vec::new();
    out.iter_mut().for_each(|o| *o = 0);
    for &label in &labels {
        let indicator: Vec<f32> = stack
            .iter()
            .map(|&v| f32::from(u8::from(v == label)))
            .collect();
        let Ok(view) = ArrayView3::from_shape([na, 1, plane], &indicator[..]) else {
            return;
        };
        let identity = AxisPlan::new(1, 1, Order::Linear);
        let flat = AxisPlan::new(plane, plane, Order::Linear);
        resample_volume(view, [&pz, &identity, &flat], None, &mut inter, &mut score);
        out.iter_mut()
            .zip(&score)
            .filter(|(_, s)| s.round_ties_even() > 0.5)
            .for_each(|(o, _)| *o = label);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_sorted_with_negatives() {
        assert_eq!(sorted_labels([2i16, -1, 0, 2, 1].iter()), vec![-1, 0, 1, 2]);
    }

    #[test]
    fn exact_half_ties() {
        // 2 -> 1 along x: both labels score 0.5; nearest-neighbour index floor(0.5 + 0.5) = 1 -> label of x = 1
        let seg = ndarray::array![[[3i16, 5]]];
        let cfg = |rule| SegResampleConfig {
            rule,
            separate_z: crate::resample::SeparateZ::Never,
            ..SegResampleConfig::default()
        };
        let run = |rule| {
            resample_segmentation(seg.view(), [1, 1, 1], [1.0; 3], [1.0; 3], &cfg(rule))[[0, 0, 0]]
        };
        assert_eq!(run(SegmentationRule::ArgmaxNearestTie), 5);
        assert_eq!(run(SegmentationRule::ArgmaxLowestTie), 3);
        assert_eq!(run(SegmentationRule::ArgmaxHighestTie), 5);
        assert_eq!(run(SegmentationRule::Threshold), 5);
    }
}
