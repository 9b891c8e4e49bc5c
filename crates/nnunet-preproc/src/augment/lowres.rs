//! Simulated low resolution: down-sample one channel by a zoom factor, then back up to its shape.
//!
//! ```text
//! target_a = round(shape_a · zoom),  zoom ~ U(0.5, 1)  (v2: shared by the axes, drawn per channel)
//! x ← up( down(x, target), shape )   down: nearest (order 0); up v2: linear (order 1), v1: cubic (order 3)
//! ```
//! Both resizes use this crate's skimage-exact `resample_data` (half-pixel mapping, edge mode, order-3 output
//! clipped to the input range). Deviation: v2 down-samples with torch `nearest-exact`, which differs from
//! skimage order 0 only on exact ties.
//!
//! References (read, not copied): batchgeneratorsv2 0.3 `transforms/spatial/low_resolution.py`
//! (`SimulateLowResolutionTransform`); batchgenerators 0.25 `augmentations/resample_augmentations.py`
//! (`augment_linear_downsampling_scipy`).

use ndarray::{ArrayViewMut3, Axis};

use super::AugmentFlavour;
use crate::resample::{resample_data, Order, ResampleConfig, SeparateZ};

/// Simulates low resolution on one channel in place.
pub fn simulate_low_resolution_mut(
    mut channel: ArrayViewMut3<'_, f32>,
    zoom: f64,
    flavour: AugmentFlavour,
) {
    let sh = [channel.shape()[0], channel.shape()[1], channel.shape()[2]];
    let target = sh.map(|s| ((s as f64 * zoom).round() as usize).max(1));
    if target == sh {
        return;
    }
    let cfg = |order| ResampleConfig {
        order,
        separate_z: SeparateZ::Never,
        ..ResampleConfig::default()
    };
    let x = channel.view().insert_axis(Axis(0)).to_owned();
    let down = resample_data(x.view(), target, [1.0; 3], [1.0; 3], &cfg(Order::Nearest));
    let up_order = match flavour {
        AugmentFlavour::V2Default => Order::Linear,
        AugmentFlavour::V1MoreDA => Order::Cubic,
    };
    let up = resample_data(down.view(), sh, [1.0; 3], [1.0; 3], &cfg(up_order));
    channel.assign(&up.index_axis(Axis(0), 0));
}
