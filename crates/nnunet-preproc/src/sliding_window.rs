//! Sliding-window inference, model-independent: padding to the patch, tile positions, Gaussian-weighted
//! accumulation in **f32**, mirroring test-time augmentation and fold ensembles.
//!
//! ```text
//! pad:    data → max(shape, patch) per axis, constant 0, centred (the odd voxel goes to the high side)
//! steps:  n_a = ⌈(size_a − patch_a) / (patch_a · step)⌉ + 1,   t_a[i] = round_half_even(i · (size_a − patch_a)/(n_a − 1))
//! tile:   P = (1/|M|) Σ_{m ∈ M} flip_m( net( flip_m(x_tile) ) )          v2: logits averaged
//!         P = (1/|M|) Σ_{m ∈ M} softmax( flip_m( net( flip_m(x_tile) ) ) ) v1: probabilities averaged
//!         M = {∅} ∪ every non-empty subset of the mirror axes (8 passes for 3 axes)
//! acc:    A[:, tile] += P · g,   W[tile] += g          (g: `compute_gaussian`, or 1 without Gaussian)
//! output: A / W, the padding removed  → (K, z, y, x)   (v2: logits, v1: probabilities)
//! ```
//!
//! nnU-Net v2 accumulates in fp16 (reconstruction errors up to 0.5 with an identity network,
//! `/work/shared/reference/nnunet.md` §7.2); both accumulators here are f32. Tiles are visited in nnU-Net's
//! order (axis 0 outermost), so sums are formed in the same order.
//!
//! The predictor is any `FnMut(ArrayView4<f32>) -> Result<Array4<f32>, E>` taking one tile `(C, pz, py, px)`
//! (standard layout) and returning `(K, pz, py, px)` logits; `E: From<nnunet_preproc::Error>` so that a model
//! crate's error type (or `anyhow::Error`) flows through unchanged.
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`
//! (`predict_sliding_window_return_logits`, `_internal_predict_sliding_window_return_logits`,
//! `_internal_get_sliding_window_slicers`, `_internal_maybe_mirror_and_predict`),
//! `nnunetv2/inference/sliding_window_prediction.py` (`compute_steps_for_sliding_window`, `compute_gaussian`),
//! `acvl_utils` `pad_nd_image`; nnU-Net v1 `nnunet/network_architecture/neural_network.py`
//! (`_internal_predict_3D_3Dconv_tiled`, `_internal_maybe_mirror_and_pred_3D`).

use ndarray::{s, Array3, Array4, ArrayView4, Zip};

use crate::error::{Error, Result};
use crate::gaussian::{compute_gaussian, gaussian_peak};
use crate::plans::Flavour;

/// How one tile's TTA passes are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TtaAveraging {
    /// Mean of the raw logits (nnU-Net v2); the output is averaged logits.
    #[default]
    Logits,
    /// Mean of the softmax probabilities over the class axis (nnU-Net v1, MedNeXt); the output is probabilities.
    Softmax,
}

/// How tiles are weighted where they overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TileWeighting {
    /// The Gaussian importance map ([`compute_gaussian`], σ = patch/8).
    #[default]
    Gaussian,
    /// Every voxel of a tile weighs 1 (plain mean of overlapping tiles).
    Constant,
}

/// Sliding-window settings. `Default` = nnU-Net v2 (step 0.5, Gaussian peak 10, mirroring over all three axes,
/// logits averaged); [`SlidingWindowConfig::v1`] = nnU-Net v1 / MedNeXt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlidingWindowConfig {
    /// Tile step as a fraction of the patch (nnU-Net `tile_step_size`, 0.5); in `(0, 1]`.
    pub step: f64,
    /// Mirror axes of the TTA, spatial `[z, y, x]`; all `false` disables TTA (one pass).
    pub mirror_axes: [bool; 3],
    /// Tile weighting.
    pub weighting: TileWeighting,
    /// Peak of the Gaussian map (v2: 10, v1: 1); only the ratio matters in f32.
    pub gaussian_peak: f64,
    /// How the TTA passes are combined.
    pub averaging: TtaAveraging,
}

impl Default for SlidingWindowConfig {
    fn default() -> Self {
        Self::for_flavour(Flavour::V2)
    }
}

impl SlidingWindowConfig {
    /// The defaults of a flavour: step 0.5, Gaussian, all mirror axes; v2 averages logits with peak 10, v1
    /// averages softmax probabilities with peak 1.
    #[must_use]
    pub fn for_flavour(flavour: Flavour) -> Self {
        SlidingWindowConfig {
            step: 0.5,
            mirror_axes: [true; 3],
            weighting: TileWeighting::Gaussian,
            gaussian_peak: gaussian_peak(flavour),
            averaging: match flavour {
                Flavour::V1 => TtaAveraging::Softmax,
                Flavour::V2 => TtaAveraging::Logits,
            },
        }
    }

    /// [`SlidingWindowConfig::for_flavour`]`(Flavour::V1)`.
    #[must_use]
    pub fn v1() -> Self {
        Self::for_flavour(Flavour::V1)
    }

    /// The same settings without mirroring (`--disable_tta`).
    #[must_use]
    pub fn without_tta(mut self) -> Self {
        self.mirror_axes = [false; 3];
        self
    }

    /// The mirror-axis combinations visited, in nnU-Net v2's order: `[]`, then
    /// `itertools.combinations(axes, 1)`, `(…, 2)`, `(…, 3)`.
    #[must_use]
    pub fn mirror_combinations(&self) -> Vec<Vec<usize>> {
        let axes: Vec<usize> = (0..3).filter(|&a| self.mirror_axes[a]).collect();
        let mut out = vec![vec![]];
        for size in 1..=axes.len() {
            // Lexicographic combinations of `size` elements (itertools.combinations order).
            let n = axes.len();
            let mut idx: Vec<usize> = (0..size).collect();
            loop {
                out.push(idx.iter().map(|&i| axes[i]).collect());
                let Some(i) = (0..size).rev().find(|&i| idx[i] != i + n - size) else {
                    break;
                };
                idx[i] += 1;
                for j in i + 1..size {
                    idx[j] = idx[j - 1] + 1;
                }
            }
        }
        out
    }
}

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

/// A sliding-window predictor for one patch size and configuration; caches the Gaussian map.
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    patch: [usize; 3],
    config: SlidingWindowConfig,
    weights: Option<Array3<f32>>,
}

impl SlidingWindow {
    /// Validates the configuration and builds the importance map.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty patch axis, a step outside `(0, 1]` or a bad Gaussian peak.
    pub fn new(patch: [usize; 3], config: SlidingWindowConfig) -> Result<Self> {
        compute_steps_for_sliding_window(patch[0].max(1), patch[0].max(1), config.step)?;
        let weights = match config.weighting {
            TileWeighting::Gaussian => {
                Some(compute_gaussian(patch, 1.0 / 8.0, config.gaussian_peak)?)
            }
            TileWeighting::Constant => {
                if patch.contains(&0) {
                    return Err(Error::InvalidParameter {
                        key: "patch",
                        reason: format!("every axis must be ≥ 1, got {patch:?}"),
                    });
                }
                None
            }
        };
        Ok(SlidingWindow {
            patch,
            config,
            weights,
        })
    }

    /// The patch size.
    #[must_use]
    pub fn patch(&self) -> [usize; 3] {
        self.patch
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &SlidingWindowConfig {
        &self.config
    }

    /// The importance map (`None` for [`TileWeighting::Constant`]).
    #[must_use]
    pub fn weights(&self) -> Option<&Array3<f32>> {
        self.weights.as_ref()
    }

    /// Predicts a whole volume `data (C, z, y, x)` → `(n_classes, z, y, x)` (module docs for the formula).
    ///
    /// # Errors
    /// [`Error::ShapeMismatch`] (converted into `E`) if the predictor returns a shape other than
    /// `(n_classes, pz, py, px)`, [`Error::InvalidParameter`] for `n_classes == 0` or an empty volume; the
    /// predictor's own errors are passed through.
    pub fn predict<E, F>(
        &self,
        data: ArrayView4<'_, f32>,
        n_classes: usize,
        mut predictor: F,
    ) -> std::result::Result<Array4<f32>, E>
    where
        E: From<Error>,
        F: FnMut(ArrayView4<'_, f32>) -> std::result::Result<Array4<f32>, E>,
    {
        let (c, d0, d1, d2) = data.dim();
        if n_classes == 0 || c == 0 || d0 * d1 * d2 == 0 {
            return Err(Error::InvalidParameter {
                key: "data",
                reason: format!("need ≥ 1 class, ≥ 1 channel and a non-empty volume, got {n_classes} classes and data {:?}", data.shape()),
            }
            .into());
        }
        let p = self.patch;
        let pad = padding_for_patch([d0, d1, d2], p);
        let padded_shape: [usize; 3] =
            std::array::from_fn(|a| [d0, d1, d2][a] + pad[a].0 + pad[a].1);
        let padded_owned;
        let padded: ArrayView4<'_, f32> = if pad.iter().any(|&(lo, hi)| lo + hi > 0) {
            let mut a =
                Array4::<f32>::zeros((c, padded_shape[0], padded_shape[1], padded_shape[2]));
            a.slice_mut(s![
                ..,
                pad[0].0..pad[0].0 + d0,
                pad[1].0..pad[1].0 + d1,
                pad[2].0..pad[2].0 + d2
            ])
            .assign(&data);
            padded_owned = a;
            padded_owned.view()
        } else {
            data.reborrow()
        };
        let tiles = sliding_window_tiles(padded_shape, p, self.config.step)?;
        let combos = self.config.mirror_combinations();
        let inv_passes = 1.0 / combos.len() as f32;
        let mut acc =
            Array4::<f32>::zeros((n_classes, padded_shape[0], padded_shape[1], padded_shape[2]));
        let mut wsum = Array3::<f32>::zeros(padded_shape);
        let expected = [n_classes, p[0], p[1], p[2]];
        // Reused across tiles: the contiguous input tile and (with TTA) its flipped copy.
        let mut tile = Array4::<f32>::zeros((c, p[0], p[1], p[2]));
        let mut flipped: Option<Array4<f32>> = None;
        for t in &tiles {
            let region = s![.., t[0]..t[0] + p[0], t[1]..t[1] + p[1], t[2]..t[2] + p[2]];
            Zip::from(&mut tile)
                .and(&padded.slice(region))
                .par_for_each(|a, &b| *a = b);
            let mut sum: Option<Array4<f32>> = None;
            for axes in &combos {
                let mut out = if axes.is_empty() {
                    predictor(tile.view())?
                } else {
                    let buf = flipped.get_or_insert_with(|| Array4::zeros(tile.raw_dim()));
                    flip_rows(&tile, buf, axes, RowOp::Assign);
                    predictor(buf.view())?
                };
                if out.shape() != expected {
                    return Err(Error::ShapeMismatch {
                        context: format!("predictor output for the tile at {t:?}"),
                        found: out.shape().to_vec(),
                        expected: expected.to_vec(),
                    }
                    .into());
                }
                if !out.is_standard_layout() {
                    out = out.as_standard_layout().into_owned();
                }
                if self.config.averaging == TtaAveraging::Softmax {
                    softmax_classes_mut(&mut out);
                }
                match sum.as_mut() {
                    None if axes.is_empty() => sum = Some(out),
                    None => {
                        let mut s = Array4::<f32>::zeros(out.raw_dim());
                        flip_rows(&out, &mut s, axes, RowOp::Assign);
                        sum = Some(s);
                    }
                    Some(s) => flip_rows(&out, s, axes, RowOp::Add),
                }
            }
            let sum = sum.expect("at least the identity pass");
            accumulate_tile(
                &mut acc,
                &mut wsum,
                &sum,
                self.weights.as_ref(),
                *t,
                inv_passes,
            );
        }
        Ok(normalise_and_crop(
            acc,
            &wsum,
            [d0, d1, d2],
            pad.map(|(lo, _)| lo),
        ))
    }

    /// A fold ensemble: the mean of [`SlidingWindow::predict`] over `predictors` (v2: mean of logits, v1: mean
    /// of probabilities — whichever the configuration's averaging yields).
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty ensemble; otherwise as [`SlidingWindow::predict`].
    pub fn predict_ensemble<E, F>(
        &self,
        data: ArrayView4<'_, f32>,
        n_classes: usize,
        predictors: &mut [F],
    ) -> std::result::Result<Array4<f32>, E>
    where
        E: From<Error>,
        F: FnMut(ArrayView4<'_, f32>) -> std::result::Result<Array4<f32>, E>,
    {
        let n = predictors.len();
        let mut total: Option<Array4<f32>> = None;
        for p in predictors.iter_mut() {
            let out = self.predict(data, n_classes, p)?;
            match total.as_mut() {
                None => total = Some(out),
                Some(t) => Zip::from(t).and(&out).par_for_each(|a, &b| *a += b),
            }
        }
        let mut total = total.ok_or_else(|| Error::InvalidParameter {
            key: "predictors",
            reason: "an ensemble needs at least one predictor".into(),
        })?;
        let inv = 1.0 / n as f32;
        total.par_mapv_inplace(|v| v * inv);
        Ok(total)
    }
}

/// One-call sliding-window prediction: [`SlidingWindow::new`] then [`SlidingWindow::predict`].
///
/// # Errors
/// As [`SlidingWindow::new`] and [`SlidingWindow::predict`].
///
/// # Examples
/// ```
/// use ndarray::{Array4, ArrayView4};
/// use nnunet_preproc::{predict_sliding_window, SlidingWindowConfig};
/// let data = Array4::from_shape_fn((2, 5, 9, 7), |(c, z, y, x)| (c + z * y + x) as f32);
/// let identity = |t: ArrayView4<f32>| -> nnunet_preproc::Result<Array4<f32>> { Ok(t.to_owned()) };
/// let out = predict_sliding_window(data.view(), [4, 4, 4], 2, &SlidingWindowConfig::default(), identity).unwrap();
/// assert!(out.iter().zip(data.iter()).all(|(a, b)| (a - b).abs() < 1e-4));
/// ```
pub fn predict_sliding_window<E, F>(
    data: ArrayView4<'_, f32>,
    patch: [usize; 3],
    n_classes: usize,
    config: &SlidingWindowConfig,
    predictor: F,
) -> std::result::Result<Array4<f32>, E>
where
    E: From<Error>,
    F: FnMut(ArrayView4<'_, f32>) -> std::result::Result<Array4<f32>, E>,
{
    SlidingWindow::new(patch, *config)?.predict(data, n_classes, predictor)
}

/// `A[:, tile] += P · inv · g` and `W[tile] += g` (`g ≡ 1` without a map) in one pass, parallel over the
/// tile's z-planes; `acc (K, Z, Y, X)`, `wsum (Z, Y, X)` and `sum (K, pz, py, px)` in standard layout.
fn accumulate_tile(
    acc: &mut Array4<f32>,
    wsum: &mut Array3<f32>,
    sum: &Array4<f32>,
    weights: Option<&Array3<f32>>,
    origin: [usize; 3],
    inv: f32,
) {
    use rayon::prelude::*;
    let (k, pz, py, px) = sum.dim();
    let (_, nz, ny, nx) = acc.dim();
    let s = sum.as_slice().expect("standard layout");
    let g = weights.map(|g| g.as_slice().expect("standard layout"));
    let a = acc.as_slice_mut().expect("standard layout");
    let w = wsum.as_slice_mut().expect("standard layout");
    let plane = ny * nx;
    let tplane = py * px;
    // One task per padded z-plane inside the tile: its K class planes and its weight plane.
    let mut a_planes: Vec<Vec<&mut [f32]>> = (0..pz).map(|_| Vec::with_capacity(k)).collect();
    for (i, chunk) in a.chunks_mut(plane).enumerate() {
        let z = i % nz;
        if (origin[0]..origin[0] + pz).contains(&z) {
            a_planes[z - origin[0]].push(chunk);
        }
    }
    let w_planes = w[origin[0] * plane..(origin[0] + pz) * plane].par_chunks_mut(plane);
    a_planes
        .into_par_iter()
        .zip(w_planes)
        .enumerate()
        .for_each(|(z, (mut a_cls, w_plane))| {
            for y in 0..py {
                let off = (origin[1] + y) * nx + origin[2];
                let t_off = z * tplane + y * px;
                let w_row = &mut w_plane[off..off + px];
                match g {
                    Some(g) => {
                        let g_row = &g[t_off..t_off + px];
                        for (kk, a_plane) in a_cls.iter_mut().enumerate() {
                            let s_row = &s[kk * pz * tplane + t_off..][..px];
                            for ((a, &s), &g) in
                                a_plane[off..off + px].iter_mut().zip(s_row).zip(g_row)
                            {
                                *a += s * inv * g;
                            }
                        }
                        w_row.iter_mut().zip(g_row).for_each(|(w, &g)| *w += g);
                    }
                    None => {
                        for (kk, a_plane) in a_cls.iter_mut().enumerate() {
                            let s_row = &s[kk * pz * tplane + t_off..][..px];
                            for (a, &s) in a_plane[off..off + px].iter_mut().zip(s_row) {
                                *a += s * inv;
                            }
                        }
                        w_row.iter_mut().for_each(|w| *w += 1.0);
                    }
                }
            }
        });
}

/// `out = (A / W)[:, crop]`: the normalisation fused with the removal of the padding (`lo` per axis), in
/// place when there is no padding; parallel over output `(k, z)` planes.
fn normalise_and_crop(
    mut acc: Array4<f32>,
    wsum: &Array3<f32>,
    shape: [usize; 3],
    lo: [usize; 3],
) -> Array4<f32> {
    use rayon::prelude::*;
    let (k, nz, ny, nx) = acc.dim();
    let w = wsum.as_slice().expect("standard layout");
    let plane = ny * nx;
    if [nz, ny, nx] == shape {
        acc.as_slice_mut()
            .expect("standard layout")
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(i, a)| {
                let w = &w[(i % nz) * plane..][..plane];
                a.iter_mut().zip(w).for_each(|(a, &w)| *a /= w);
            });
        return acc;
    }
    let [d0, d1, d2] = shape;
    let mut out = Array4::<f32>::zeros((k, d0, d1, d2));
    let a = acc.as_slice().expect("standard layout");
    out.as_slice_mut()
        .expect("standard layout")
        .par_chunks_mut(d1 * d2)
        .enumerate()
        .for_each(|(i, o)| {
            let (kk, z) = (i / d0, i % d0);
            let zz = z + lo[0];
            for (y, o_row) in o.chunks_mut(d2).enumerate() {
                let off = zz * plane + (y + lo[1]) * nx + lo[2];
                let a_row = &a[kk * nz * plane + off..][..d2];
                let w_row = &w[off..off + d2];
                for ((o, &a), &w) in o_row.iter_mut().zip(a_row).zip(w_row) {
                    *o = a / w;
                }
            }
        });
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum RowOp {
    Assign,
    Add,
}

/// `dst = flip(src)` or `dst += flip(src)` over the spatial `axes` (0, 1, 2 = z, y, x), both `(C, z, y, x)` in
/// standard layout; row by row (contiguous x rows, reversed when x is flipped), parallel over `(c, z)` planes.
fn flip_rows(src: &Array4<f32>, dst: &mut Array4<f32>, axes: &[usize], op: RowOp) {
    use rayon::prelude::*;
    let (c, nz, ny, nx) = src.dim();
    let fz = axes.contains(&0);
    let fy = axes.contains(&1);
    let fx = axes.contains(&2);
    let s = src.as_slice().expect("standard layout");
    let d = dst.as_slice_mut().expect("standard layout");
    let plane = ny * nx;
    d.par_chunks_mut(plane)
        .enumerate()
        .for_each(|(cz, dplane)| {
            let (ch, z) = (cz / nz, cz % nz);
            let sz = if fz { nz - 1 - z } else { z };
            let sbase = (ch * nz + sz) * plane;
            for y in 0..ny {
                let sy = if fy { ny - 1 - y } else { y };
                let srow = &s[sbase + sy * nx..sbase + (sy + 1) * nx];
                let drow = &mut dplane[y * nx..(y + 1) * nx];
                match (op, fx) {
                    (RowOp::Assign, false) => drow.copy_from_slice(srow),
                    (RowOp::Assign, true) => drow
                        .iter_mut()
                        .zip(srow.iter().rev())
                        .for_each(|(a, &b)| *a = b),
                    (RowOp::Add, false) => drow.iter_mut().zip(srow).for_each(|(a, &b)| *a += b),
                    (RowOp::Add, true) => drow
                        .iter_mut()
                        .zip(srow.iter().rev())
                        .for_each(|(a, &b)| *a += b),
                }
            }
        });
    let _ = c;
}

/// Softmax over axis 0 (classes) in place, max-subtracted; parallel over chunks of voxels.
fn softmax_classes_mut(x: &mut Array4<f32>) {
    use rayon::prelude::*;
    const CHUNK: usize = 4096;
    if !x.is_standard_layout() {
        *x = x.as_standard_layout().into_owned();
    }
    let k = x.shape()[0];
    let n: usize = x.shape()[1..].iter().product();
    let flat = x
        .as_slice_mut()
        .expect("predictor output is owned and standard layout");
    // Chunk i of every class plane goes to task i.
    let mut tasks: Vec<Vec<&mut [f32]>> = (0..n.div_ceil(CHUNK))
        .map(|_| Vec::with_capacity(k))
        .collect();
    for class in flat.chunks_mut(n) {
        for (task, chunk) in tasks.iter_mut().zip(class.chunks_mut(CHUNK)) {
            task.push(chunk);
        }
    }
    tasks.into_par_iter().for_each(|mut cls| {
        let mut tmp = vec![0f32; k];
        for i in 0..cls[0].len() {
            let m = cls.iter().map(|c| c[i]).fold(f32::NEG_INFINITY, f32::max);
            let mut s = 0.0;
            for (t, c) in tmp.iter_mut().zip(&cls) {
                *t = (c[i] - m).exp();
                s += *t;
            }
            for (t, c) in tmp.iter().zip(cls.iter_mut()) {
                c[i] = t / s;
            }
        }
    });
}
