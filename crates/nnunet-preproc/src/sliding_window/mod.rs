//! Sliding-window inference, model-independent: tile positions, virtual padding to the patch, Gaussian-weighted
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
//! How it is computed (same values up to f32 rounding): the padding is virtual (tiles read zeros outside the
//! volume and their predictions outside it are dropped, [`tiles`]); each pass's input tile is gathered from the
//! volume already mirrored ([`tta`]) into one reused buffer; each pass's prediction is added into `A` with the
//! mirroring undone by index arithmetic and `g/|M|` applied on the fly ([`accumulate`]); `W` is the outer
//! product of three 1-D sums (the map is an outer product and the tiles a grid), so no weight volume is
//! accumulated, and `A / W` is one parallel pass in place.
//!
//! nnU-Net v2 accumulates in fp16 (reconstruction errors up to 0.5 with an identity network,
//! `/work/shared/reference/nnunet.md` §7.2); here everything is f32. Tiles are visited in nnU-Net's order
//! (axis 0 outermost), and mirroring passes in its order.
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

mod accumulate;
mod tiles;
mod tta;

use std::sync::Arc;

use ndarray::{Array3, Array4, ArrayView4, Zip};

use crate::error::{Error, Result};
use crate::gaussian::{cached_gaussian, gaussian_lines, gaussian_peak};
use crate::plans::Flavour;

pub use tiles::{compute_steps_for_sliding_window, padding_for_patch, sliding_window_tiles};

use tiles::{Frame, WeightSum};

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
    /// The Gaussian importance map ([`compute_gaussian`](crate::compute_gaussian), σ = patch/8).
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

/// A sliding-window predictor for one patch size and configuration; holds the Gaussian map (computed once per
/// patch size and peak in the process, shared between predictors).
#[derive(Debug, Clone)]
pub struct SlidingWindow {
    patch: [usize; 3],
    config: SlidingWindowConfig,
    weights: Option<Arc<Array3<f32>>>,
    /// `g = l_0 ⊗ l_1 ⊗ l_2 / div` when that product is exactly what `weights` holds (no underflow).
    factors: Option<([Vec<f64>; 3], f64)>,
}

impl SlidingWindow {
    /// Validates the configuration and builds the importance map.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] for an empty patch axis, a step outside `(0, 1]` or a bad Gaussian peak.
    pub fn new(patch: [usize; 3], config: SlidingWindowConfig) -> Result<Self> {
        compute_steps_for_sliding_window(patch[0].max(1), patch[0].max(1), config.step)?;
        if patch.contains(&0) {
            return Err(Error::InvalidParameter {
                key: "patch",
                reason: format!("every axis must be ≥ 1, got {patch:?}"),
            });
        }
        let (weights, factors) = match config.weighting {
            TileWeighting::Gaussian => {
                let g = cached_gaussian(patch, config.gaussian_peak)?;
                let lines = gaussian_lines(patch, 1.0 / 8.0);
                let c = patch.map(|p| p / 2);
                let div = lines[0][c[0]] * lines[1][c[1]] * lines[2][c[2]] / config.gaussian_peak;
                // Separable iff no product underflowed to 0 (then `compute_gaussian` replaced it).
                let min = lines
                    .iter()
                    .map(|l| l.iter().copied().fold(f64::INFINITY, f64::min));
                let corner = min.product::<f64>() / div;
                let separable = (corner as f32).is_normal();
                (Some(g), separable.then_some((lines, div)))
            }
            TileWeighting::Constant => (None, Some((patch.map(|p| vec![1.0; p]), 1.0))),
        };
        Ok(SlidingWindow {
            patch,
            config,
            weights,
            factors,
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
        self.weights.as_deref()
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
        let frame = Frame::new([d0, d1, d2], p, self.config.step)?;
        let data = data.as_standard_layout();
        let data = data.as_slice().expect("standard layout");
        let flips = tta::mirror_flags(&self.config.mirror_combinations());
        let scale = 1.0 / flips.len() as f32;
        let g = self
            .weights
            .as_ref()
            .map(|g| g.as_slice().expect("built in standard layout"));
        let wsum = match (&self.factors, &self.weights) {
            (Some((lines, div)), _) => WeightSum::separable(&frame, lines, *div),
            (None, Some(g)) => WeightSum::dense(&frame, g),
            (None, None) => unreachable!("constant weighting is always separable"),
        };
        let mut acc = Array4::from_shape_vec(
            (n_classes, d0, d1, d2),
            accumulate::zeroed_output(n_classes * d0 * d1 * d2),
        )
        .expect("length matches the shape");
        let acc_flat = acc.as_slice_mut().expect("standard layout");
        let expected = [n_classes, p[0], p[1], p[2]];
        // Reused across tiles and passes: the contiguous (mirrored) input tile.
        let mut tile = Array4::<f32>::zeros((c, p[0], p[1], p[2]));
        for t in frame.tiles() {
            let mut sum: Option<Array4<f32>> = None;
            for &flip in &flips {
                tta::gather_tile(data, &frame, tile.as_slice_mut().expect("owned"), t, flip);
                let mut out = predictor(tile.view())?;
                if out.shape() != expected {
                    return Err(Error::ShapeMismatch {
                        context: format!("predictor output for the tile at {t:?}"),
                        found: out.shape().to_vec(),
                        expected: expected.to_vec(),
                    }
                    .into());
                }
                if self.config.averaging == TtaAveraging::Softmax {
                    tta::softmax_classes_mut(&mut out);
                }
                if !out.is_standard_layout() {
                    out = out.as_standard_layout().into_owned();
                }
                match sum.as_mut() {
                    // The first combination is always the identity (`mirror_combinations`).
                    None => sum = Some(out),
                    Some(s) => {
                        let s = s.as_slice_mut().expect("standard layout");
                        tta::add_mirrored(s, out.as_slice().expect("standard layout"), p, flip);
                    }
                }
            }
            let sum = sum.expect("at least the identity pass");
            let sum = sum.as_slice().expect("standard layout");
            accumulate::accumulate_tile(acc_flat, &frame, sum, n_classes, g, scale, t);
        }
        accumulate::normalise(acc_flat, &frame, &wsum);
        Ok(acc)
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
