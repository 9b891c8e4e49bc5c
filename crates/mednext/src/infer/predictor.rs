//! MedNeXt networks as the tile predictors of `nnunet_preproc`'s sliding window: one network
//! ([`Predictor`]) or an ensemble of networks with possibly different configurations ([`EnsemblePredictor`]).
//!
//! ```text
//! tile (C, pz, py, px) f32  →  x = tile as (1, C, pz, py, px) on the device
//!                           →  out_0 = forward_logits(x)          (eval mode, no deep-supervision heads)
//!                           →  (K, pz, py, px) f32 logits on the CPU
//! volume:   P_m   = SlidingWindow::predict(data, K, tile_m)     (Gaussian-weighted tiles, mirroring TTA:
//!                                                                 v2 mean of logits, v1 mean of softmax)
//! ensemble: P     = (1/M) Σ_m P_m                                 (SlidingWindow::predict_ensemble, f32)
//! ```
//!
//! MedNeXt has no dropout and no batch statistics (group / layer norm only), so the forward pass is already
//! the evaluation-mode pass; block recomputation (`checkpoint_style`) only matters for training and is
//! switched off here (it does not change the numbers). Tiles are passed one at a time: the sliding window
//! visits the TTA passes of a tile sequentially and the CPU convolutions gain nothing from a batch axis.
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`
//! (`predict_logits_from_preprocessed_data`: per-fold sliding window, logits summed then divided by the
//! number of folds), nnU-Net v1 1.7.1 `nnunet/inference/predict.py` (`predict_cases`: softmax averaged over
//! the folds' `predict_preprocessed_data_return_seg_and_softmax`); MIC-DKFZ/MedNeXt `MedNextV1.py`
//! (`forward` with `do_ds = False`).

use candle_core::{DType, Device, Tensor};
use ndarray::{Array4, ArrayView4};
use nnunet_preproc::SlidingWindow;

use crate::error::{Error, Result};
use crate::model::MedNext;

/// One network on one device, predicting tiles.
#[derive(Debug, Clone)]
pub struct Predictor {
    model: MedNext,
    device: Device,
}

impl Predictor {
    /// Wraps a network; `device` is where its weights live (tiles are copied there, logits back to the CPU).
    #[must_use]
    pub fn new(model: MedNext, device: Device) -> Self {
        Predictor { model, device }
    }

    /// The network.
    #[must_use]
    pub fn model(&self) -> &MedNext {
        &self.model
    }

    /// The device the network runs on.
    #[must_use]
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Input channels the network expects.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.model.config().in_channels
    }

    /// Classes (logit channels) the network returns.
    #[must_use]
    pub fn n_classes(&self) -> usize {
        self.model.config().n_classes
    }

    /// The logits of one tile: `(C, pz, py, px)` → `(K, pz, py, px)` (`forward_logits`, formula in the
    /// module docs).
    ///
    /// # Errors
    /// [`Error::InputShape`] when the tile's channels differ from the network's or a spatial size is not a
    /// positive multiple of 16; [`Error::Candle`] from the tensor operations.
    pub fn predict_tile(&self, tile: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
        let (c, pz, py, px) = tile.dim();
        let owned;
        let values: &[f32] = match tile.as_slice() {
            Some(s) => s,
            None => {
                owned = tile.as_standard_layout().into_owned();
                owned.as_slice().unwrap_or_default()
            }
        };
        let x = Tensor::from_slice(values, (1, c, pz, py, px), &Device::Cpu)?
            .to_device(&self.device)?;
        let y = self.model.forward_logits(&x)?;
        let k = y.dim(1)?;
        let data = y
            .to_dtype(DType::F32)?
            .to_device(&Device::Cpu)?
            .flatten_all()?
            .to_vec1::<f32>()?;
        Array4::from_shape_vec((k, pz, py, px), data).map_err(|e| Error::InputShape {
            shape: vec![k, pz, py, px],
            reason: format!("network output does not fit the tile: {e}"),
        })
    }

    /// The closure `SlidingWindow::predict` takes (one tile in, its logits out).
    pub fn tile_fn(&self) -> impl FnMut(ArrayView4<'_, f32>) -> Result<Array4<f32>> + '_ {
        move |tile| self.predict_tile(tile)
    }

    /// The whole volume `data (C, z, y, x)` through `window` → `(K, z, y, x)` (averaged logits for
    /// nnU-Net v2 settings, averaged probabilities for v1).
    ///
    /// # Errors
    /// As [`Predictor::predict_tile`]; [`Error::Data`] for invalid sliding-window inputs.
    pub fn predict_volume(
        &self,
        data: ArrayView4<'_, f32>,
        window: &SlidingWindow,
    ) -> Result<Array4<f32>> {
        window.predict(data, self.n_classes(), self.tile_fn())
    }
}

/// Several networks whose predictions are averaged (folds of one run, or runs with other kernels/losses).
#[derive(Debug, Clone)]
pub struct EnsemblePredictor {
    members: Vec<Predictor>,
}

impl EnsemblePredictor {
    /// Checks that the members agree on input channels and classes.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (key `models`) for an empty list or members that disagree.
    pub fn new(members: Vec<Predictor>) -> Result<Self> {
        let first = members.first().ok_or_else(|| Error::InvalidParameter {
            key: "models",
            reason: "an ensemble needs at least one network".into(),
        })?;
        let (c, k) = (first.in_channels(), first.n_classes());
        if let Some((i, m)) = members
            .iter()
            .enumerate()
            .find(|(_, m)| m.in_channels() != c || m.n_classes() != k)
        {
            return Err(Error::InvalidParameter {
                key: "models",
                reason: format!(
                    "member {i} has {} input channels and {} classes, member 0 has {c} and {k}",
                    m.in_channels(),
                    m.n_classes()
                ),
            });
        }
        Ok(EnsemblePredictor { members })
    }

    /// One network on `device`.
    #[must_use]
    pub fn single(model: MedNext, device: Device) -> Self {
        EnsemblePredictor {
            members: vec![Predictor::new(model, device)],
        }
    }

    /// The members.
    #[must_use]
    pub fn members(&self) -> &[Predictor] {
        &self.members
    }

    /// Input channels of every member.
    #[must_use]
    pub fn in_channels(&self) -> usize {
        self.members[0].in_channels()
    }

    /// Classes of every member.
    #[must_use]
    pub fn n_classes(&self) -> usize {
        self.members[0].n_classes()
    }

    /// The mean of the members' sliding-window predictions (`SlidingWindow::predict_ensemble`).
    ///
    /// # Errors
    /// As [`Predictor::predict_volume`].
    pub fn predict_volume(
        &self,
        data: ArrayView4<'_, f32>,
        window: &SlidingWindow,
    ) -> Result<Array4<f32>> {
        let mut fns: Vec<_> = self.members.iter().map(Predictor::tile_fn).collect();
        window.predict_ensemble(data, self.n_classes(), &mut fns)
    }
}
