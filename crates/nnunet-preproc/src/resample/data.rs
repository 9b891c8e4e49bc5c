//! Resampling of image data and of per-class float maps (nnU-Net's `resample_data_or_seg_to_shape` with
//! `is_seg=False`).
//!
//! References (read, not copied): MIC-DKFZ/nnUNet v2.8.1
//! `nnunetv2/preprocessing/resampling/default_resampling.py` (`resample_data_or_seg`), nnU-Net v1 1.7.1
//! `nnunet/preprocessing/preprocessing.py` (`resample_data_or_seg`), skimage 0.26
//! `skimage/transform/_warps.py` (`resize(..., mode='edge', anti_aliasing=False)`: scipy `zoom` with
//! `grid_mode=True`, then a clip to the input's [min, max]).
//!
//! ```text
//! no separate-z:  out[c] = clip( zoom₃(data[c], order), min data[c], max data[c] )
//! separate-z (axis a, here a = 0):
//!   slice[c, s] = clip( zoom₂(data[c, s], order), min data[c, s], max data[c, s] )     for every s
//!   out[c]      = zoom_along_a(slice[c], order_z)   (order_z = 0: the slice floor(src + 0.5))
//! ```

use ndarray::{Array4, ArrayView3, ArrayView4, ArrayViewMut3, Axis};
use rayon::prelude::*;

use super::axis::{nearest_index, zoom_factor, AxisPlan};
use super::config::{Intermediate, Order, ResampleConfig};
use super::plane::{resize_plane, Scratch};
use super::separable::{clip, resample_axis0, resample_volume, value_range};
use super::shape::resolve_separate_z;
use crate::geometry::Spacing;

/// Axis permutation that brings `axis` to the front and keeps the other two in ascending order.
pub(crate) fn front_permutation(axis: usize) -> [usize; 3] {
    match axis {
        1 => [1, 0, 2],
        2 => [2, 0, 1],
        _ => [0, 1, 2],
    }
}

/// Resamples multi-channel data `(C, z, y, x)` to `new_shape` exactly as nnU-Net does (v2
/// `resample_data_or_seg_to_shape(data, new_shape, current_spacing, new_spacing, is_seg=False, order,
/// order_z, force_separate_z)`; v1 `resample_data_or_seg`).
///
/// * Shapes equal → the data unchanged (nnU-Net returns its input).
/// * Separate-z axis from `config.separate_z` ([`super::separate_z_axis`] for `Auto`): every slice across that
///   axis is resized in 2-D with `config.order` and clipped to the slice's [min, max]; then the axis is
///   resampled with `config.order_z` (half-pixel mapping, edge mode, no clip).
/// * Otherwise every channel is resized in 3-D with `config.order` and clipped to the channel's [min, max].
///
/// Order 3 is the cubic B-spline of scipy's `zoom(grid_mode=True, mode='nearest')` (prefilter on the
/// 12-voxel edge-padded lines), computed in f64 as three separable passes; the result is cast to f32.
/// `ResampleConfig::probabilities()` gives the export resampling of logits (v2) or probabilities (v1).
///
/// Degenerate shapes never panic: an empty input or output axis gives a zero-filled `new_shape` array.
/// NaN voxels propagate to the outputs that read them.
///
/// # Examples
/// ```
/// use ndarray::Array4;
/// use nnunet_preproc::resample::{compute_new_shape, resample_data, ResampleConfig};
/// let data = Array4::from_shape_fn((1, 4, 6, 6), |(_, z, y, x)| (z + y + x) as f32);
/// let new_shape = compute_new_shape([4, 6, 6], [1.5, 0.7, 0.7], [1.0; 3]);
/// let out = resample_data(data.view(), new_shape, [1.5, 0.7, 0.7], [1.0; 3], &ResampleConfig::default());
/// assert_eq!(out.dim(), (1, 6, 4, 4));
/// assert!(out.iter().all(|v| (0.0..=13.0).contains(v)));
/// ```
#[must_use]
pub fn resample_data(
    data: ArrayView4<'_, f32>,
    new_shape: [usize; 3],
    current_spacing: Spacing,
    new_spacing: Spacing,
    config: &ResampleConfig,
) -> Array4<f32> {
    let (n_channels, n0, n1, n2) = data.dim();
    let shape = [n0, n1, n2];
    if shape == new_shape {
        return data.to_owned();
    }
    let [m0, m1, m2] = new_shape;
    let mut out = Array4::<f32>::zeros((n_channels, m0, m1, m2));
    if shape.contains(&0) || new_shape.contains(&0) {
        return out;
    }
    let axis = resolve_separate_z(
        config.separate_z,
        current_spacing,
        new_spacing,
        config.anisotropy_threshold,
    );
    let mut inter = Vec::new();
    for (channel, mut dst) in data.outer_iter().zip(out.outer_iter_mut()) {
        match axis {
            None => resample_channel_3d(channel, new_shape, config.order, &mut inter, &mut dst),
            Some(a) => resample_channel_separate(channel, new_shape, a, config, &mut dst),
        }
    }
    out
}

/// Writes `values` (row-major in `shape`) into `dst`.
fn write_back(values: &[f32], shape: [usize; 3], dst: &mut ArrayViewMut3<'_, f32>) {
    if let Ok(src) = ArrayView3::from_shape(shape, values) {
        dst.assign(&src);
    }
}

/// One channel, plain 3-D resampling.
fn resample_channel_3d(
    channel: ArrayView3<'_, f32>,
    new_shape: [usize; 3],
    order: Order,
    inter: &mut Vec<f64>,
    dst: &mut ArrayViewMut3<'_, f32>,
) {
    let shape = [channel.dim().0, channel.dim().1, channel.dim().2];
    let plans: [AxisPlan; 3] =
        std::array::from_fn(|a| AxisPlan::new(shape[a], new_shape[a], order));
    let range = value_range(channel);
    let plans = [&plans[0], &plans[1], &plans[2]];
    match dst.as_slice_mut() {
        Some(out) => resample_volume(channel, plans, Some(range), inter, out),
        None => {
            let mut buf = vec![0.0f32; new_shape.iter().product()];
            resample_volume(channel, plans, Some(range), inter, &mut buf);
            write_back(&buf, new_shape, dst);
        }
    }
}

/// Resizes slice `s` of `v` (separate axis first) in 2-D and clips it to the slice's range, into `out` (f64).
fn resize_slice(
    v: &ArrayView3<'_, f32>,
    s: usize,
    plans: (&AxisPlan, &AxisPlan),
    scratch: &mut Scratch,
    out: &mut [f64],
    round_f32: bool,
) {
    let slice = v.index_axis(Axis(0), s);
    let range = Some(value_range(slice));
    resize_plane(slice, plans.0, plans.1, scratch, out);
    for o in out.iter_mut() {
        *o = clip(*o, range);
        if round_f32 {
            *o = f64::from(*o as f32);
        }
    }
}

/// One channel with separate-z along `axis`.
fn resample_channel_separate(
    channel: ArrayView3<'_, f32>,
    new_shape: [usize; 3],
    axis: usize,
    config: &ResampleConfig,
    dst: &mut ArrayViewMut3<'_, f32>,
) {
    let perm = front_permutation(axis);
    let v = channel.permuted_axes(perm);
    let (na, n1, n2) = v.dim();
    let [ma, m1, m2] = perm.map(|p| new_shape[p]);
    let py = AxisPlan::new(n1, m1, config.order);
    let px = AxisPlan::new(n2, m2, config.order);
    let plane = m1 * m2;
    let mut buf = vec![0.0f32; ma * plane];

    if na == ma || config.order_z == Order::Nearest {
        // each output slice is one resized input slice: compute the needed ones once
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
        let slices: Vec<Option<Vec<f32>>> = (0..na)
            .into_par_iter()
            .map_init(
                || (Scratch::default(), vec![0.0f64; plane]),
                |(scratch, tmp), s| {
                    needed[s].then(|| {
                        resize_slice(&v, s, (&py, &px), scratch, tmp, false);
                        tmp.iter().map(|&x| x as f32).collect()
                    })
                },
            )
            .collect();
        buf.par_chunks_mut(plane)
            .zip(source.par_iter())
            .for_each(|(out, &s)| {
                if let Some(src) = &slices[s] {
                    out.copy_from_slice(src);
                }
            });
    } else {
        let round_f32 = config.intermediate == Intermediate::F32;
        let mut inter = vec![0.0f64; na * plane];
        inter.par_chunks_mut(plane).enumerate().for_each_init(
            Scratch::default,
            |scratch, (s, out)| {
                resize_slice(&v, s, (&py, &px), scratch, out, round_f32);
            },
        );
        let pz = AxisPlan::new(na, ma, config.order_z);
        resample_axis0(&inter, plane, &pz, None, &mut buf);
    }
    let mut dst_p = dst.view_mut().permuted_axes(perm);
    write_back(&buf, [ma, m1, m2], &mut dst_p);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resample::config::SeparateZ;
    use ndarray::Array4;

    #[test]
    fn identity_and_empty() {
        let d = Array4::from_shape_fn((2, 3, 4, 5), |(c, z, y, x)| (c + z * y + x) as f32);
        let cfg = ResampleConfig::default();
        assert_eq!(
            resample_data(d.view(), [3, 4, 5], [1.0; 3], [2.0; 3], &cfg),
            d
        );
        let e = resample_data(d.view(), [0, 4, 5], [1.0; 3], [2.0; 3], &cfg);
        assert_eq!(e.dim(), (2, 0, 4, 5));
    }

    #[test]
    fn constant_stays_constant() {
        let d = Array4::from_elem((1, 5, 6, 7), 2.5f32);
        for order in [Order::Nearest, Order::Linear, Order::Cubic] {
            for sep in [
                SeparateZ::Never,
                SeparateZ::Axis(0),
                SeparateZ::Axis(1),
                SeparateZ::Axis(2),
            ] {
                let cfg = ResampleConfig {
                    order,
                    order_z: Order::Linear,
                    separate_z: sep,
                    ..ResampleConfig::default()
                };
                let out = resample_data(d.view(), [9, 4, 11], [1.0; 3], [1.0; 3], &cfg);
                assert!(
                    out.iter().all(|&v| (v - 2.5).abs() < 1e-6),
                    "{order:?} {sep:?}"
                );
            }
        }
    }

    #[test]
    fn separate_axes_agree_with_permuted_input() {
        // resampling with separate axis 2 equals separate axis 0 on the permuted volume
        let d = Array4::from_shape_fn((1, 6, 5, 4), |(_, z, y, x)| {
            ((z * 7 + y * 3 + x * x) % 5) as f32
        });
        let cfg = ResampleConfig {
            separate_z: SeparateZ::Axis(2),
            ..ResampleConfig::default()
        };
        let a = resample_data(d.view(), [9, 7, 6], [1.0; 3], [1.0; 3], &cfg);
        let p = d
            .view()
            .permuted_axes([0, 3, 1, 2])
            .as_standard_layout()
            .to_owned();
        let cfg0 = ResampleConfig {
            separate_z: SeparateZ::Axis(0),
            ..ResampleConfig::default()
        };
        let b = resample_data(p.view(), [6, 9, 7], [1.0; 3], [1.0; 3], &cfg0);
        let b = b.view().permuted_axes([0, 2, 3, 1]);
        assert_eq!(a.view(), b);
    }
}
