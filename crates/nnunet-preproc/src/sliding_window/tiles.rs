//! Tile geometry of the sliding window: step positions, the virtual padding to the patch, and the sum of the
//! tile weights (`W`), which is separable for the Gaussian map and for constant weights.
//!
//! ```text
//! steps:  n_a = ⌈(size_a − patch_a) / (patch_a · step)⌉ + 1,   t_a[i] = round_half_even(i · (size_a − patch_a)/(n_a − 1))
//! pad:    d_a = max(patch_a − size_a, 0),   below_a = d_a // 2,   above_a = d_a − below_a
//! W:      W(z, y, x) = Σ_tiles g(z − t_z, y − t_y, x − t_x)
//!                    = (Σ_{t_z} l_0(z − t_z)) · (Σ_{t_y} l_1(y − t_y)) · (Σ_{t_x} l_2(x − t_x)) / div
//!         (g = l_0 ⊗ l_1 ⊗ l_2 / div, the tiles the Cartesian product of the per-axis steps)
//! ```
//!
//! The padding is never materialised: tiles are placed in the padded frame and read from / written to the
//! unpadded volume, voxels outside it reading as 0 and their predictions being dropped (nnU-Net crops them
//! afterwards).
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/inference/sliding_window_prediction.py`
//! (`compute_steps_for_sliding_window`), `nnunetv2/inference/predict_from_raw_data.py`
//! (`_internal_get_sliding_window_slicers`), acvl_utils 0.2.6 `acvl_utils/cropping_and_padding/padding.py`
//! (`pad_nd_image`).

use ndarray::Array3;

use crate::error::{Error, Result};

/// Tile start positions along one axis (nnU-Net's `compute_steps_for_sliding_window`, formula in the module
/// docs; `np.round` is round-half-to-even).
///
/// # Errors
/// [`Error::InvalidParameter`] if `size < patch`, `patch == 0` or `step ∉ (0, 1]`.
///
/// # Examples
/// ```
/// use nnunet_preproc::compute_steps_for_sliding_window;
/// assert_eq!(compute_steps_for_sliding_window(110, 64, 0.5).unwrap(), vec![0, 23, 46]);
/// assert_eq!(compute_steps_for_sliding_window(160, 128, 0.5).unwrap(), vec![0, 32]);
/// ```
pub fn compute_steps_for_sliding_window(
    size: usize,
    patch: usize,
    step: f64,
) -> Result<Vec<usize>> {
    if !(step > 0.0 && step <= 1.0) {
        return Err(Error::InvalidParameter {
            key: "step",
            reason: format!("tile step must lie in (0, 1], got {step}"),
        });
    }
    if patch == 0 || size < patch {
        return Err(Error::InvalidParameter {
            key: "patch",
            reason: format!("patch {patch} must be ≥ 1 and ≤ the (padded) size {size}"),
        });
    }
    let target = patch as f64 * step;
    let n = ((size - patch) as f64 / target).ceil() as usize + 1;
    if n == 1 {
        return Ok(vec![0]);
    }
    let actual = (size - patch) as f64 / (n - 1) as f64;
    Ok((0..n)
        .map(|i| (actual * i as f64).round_ties_even() as usize)
        .collect())
}

/// The tile origins `[z, y, x]` of a (padded) volume, axis 0 outermost (nnU-Net's slicer order).
///
/// # Errors
/// As [`compute_steps_for_sliding_window`].
pub fn sliding_window_tiles(
    shape: [usize; 3],
    patch: [usize; 3],
    step: f64,
) -> Result<Vec<[usize; 3]>> {
    let s0 = compute_steps_for_sliding_window(shape[0], patch[0], step)?;
    let s1 = compute_steps_for_sliding_window(shape[1], patch[1], step)?;
    let s2 = compute_steps_for_sliding_window(shape[2], patch[2], step)?;
    let mut out = Vec::with_capacity(s0.len() * s1.len() * s2.len());
    for &a in &s0 {
        for &b in &s1 {
            for &c in &s2 {
                out.push([a, b, c]);
            }
        }
    }
    Ok(out)
}

/// The padding `(below, above)` per spatial axis that brings `shape` to at least `patch` (`pad_nd_image`):
/// `d = max(patch − shape, 0)`, `below = d // 2`, `above = d − below`.
#[must_use]
pub fn padding_for_patch(shape: [usize; 3], patch: [usize; 3]) -> [(usize, usize); 3] {
    std::array::from_fn(|a| {
        let d = patch[a].saturating_sub(shape[a]);
        (d / 2, d - d / 2)
    })
}

/// The volume, its virtual padding and the tile steps of one prediction.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    /// Unpadded volume shape `[z, y, x]`.
    pub shape: [usize; 3],
    /// Patch shape.
    pub patch: [usize; 3],
    /// Padding below, per axis (the padded frame's coordinate of voxel 0).
    pub lo: [usize; 3],
    /// Padded shape.
    pub padded: [usize; 3],
    /// Tile starts per axis, in the padded frame.
    pub steps: [Vec<usize>; 3],
}

impl Frame {
    /// The frame of a `shape` volume predicted with `patch` tiles at `step`.
    pub fn new(shape: [usize; 3], patch: [usize; 3], step: f64) -> Result<Self> {
        let pad = padding_for_patch(shape, patch);
        let padded: [usize; 3] = std::array::from_fn(|a| shape[a] + pad[a].0 + pad[a].1);
        let steps = [
            compute_steps_for_sliding_window(padded[0], patch[0], step)?,
            compute_steps_for_sliding_window(padded[1], patch[1], step)?,
            compute_steps_for_sliding_window(padded[2], patch[2], step)?,
        ];
        Ok(Frame {
            shape,
            patch,
            lo: pad.map(|(lo, _)| lo),
            padded,
            steps,
        })
    }

    /// Tile origins in the padded frame, axis 0 outermost.
    pub fn tiles(&self) -> impl Iterator<Item = [usize; 3]> + '_ {
        self.steps[0].iter().flat_map(move |&a| {
            self.steps[1]
                .iter()
                .flat_map(move |&b| self.steps[2].iter().map(move |&c| [a, b, c]))
        })
    }

    /// The tile-local range `[v0, v1)` along `axis` of the tile starting at `t` that lies inside the volume;
    /// tile-local `i` is volume voxel `t + i − lo`.
    pub fn valid(&self, axis: usize, t: usize) -> (usize, usize) {
        let lo = self.lo[axis];
        let v0 = lo.saturating_sub(t).min(self.patch[axis]);
        let v1 = (lo + self.shape[axis])
            .saturating_sub(t)
            .min(self.patch[axis]);
        (v0, v1.max(v0))
    }
}

/// The sum of the tile weights over the padded frame.
#[derive(Debug, Clone)]
pub(super) enum WeightSum {
    /// `1 / W = inv[0][z] · inv[1][y] · inv[2][x]` over the *unpadded* volume.
    Separable([Vec<f64>; 3]),
    /// `W` over the unpadded volume, accumulated tile by tile (maps that are not an exact outer product).
    Dense(Array3<f32>),
}

impl WeightSum {
    /// Separable sum from per-axis factors `lines` (`g = l_0 ⊗ l_1 ⊗ l_2 / div`).
    pub fn separable(frame: &Frame, lines: &[Vec<f64>; 3], div: f64) -> Self {
        let inv = std::array::from_fn(|a| {
            let mut w = vec![0f64; frame.padded[a]];
            for &t in &frame.steps[a] {
                for (wi, &l) in w[t..t + frame.patch[a]].iter_mut().zip(&lines[a]) {
                    *wi += l;
                }
            }
            let lo = frame.lo[a];
            let scale = if a == 0 { div } else { 1.0 };
            w[lo..lo + frame.shape[a]]
                .iter()
                .map(|&v| scale / v)
                .collect()
        });
        WeightSum::Separable(inv)
    }

    /// Dense sum of the map `g` over every tile, restricted to the unpadded volume.
    pub fn dense(frame: &Frame, g: &Array3<f32>) -> Self {
        let mut w = Array3::<f32>::zeros(frame.shape);
        for t in frame.tiles() {
            let r: [(usize, usize); 3] = std::array::from_fn(|a| frame.valid(a, t[a]));
            let o: [usize; 3] = std::array::from_fn(|a| t[a] + r[a].0 - frame.lo[a]);
            let mut dst = w.slice_mut(ndarray::s![
                o[0]..o[0] + r[0].1 - r[0].0,
                o[1]..o[1] + r[1].1 - r[1].0,
                o[2]..o[2] + r[2].1 - r[2].0
            ]);
            dst += &g.slice(ndarray::s![r[0].0..r[0].1, r[1].0..r[1].1, r[2].0..r[2].1]);
        }
        WeightSum::Dense(w)
    }
}
