//! Where training and validation batches come from: a [`BatchSource`] returns batch `index` as candle tensors,
//! and must return the same batch for the same index (that is what makes a resumed run exact). With the crate
//! feature `nnunet`, [`NnunetBatches`] serves nnU-Net's patch sampler + augmentation through its background
//! loader.
//!
//! ```text
//! training batch i of epoch e     = source.batch(e · iters_per_epoch + i)
//! validation batch j of epoch e   = val_source.batch(e · val_iters + j)
//! TrainBatch.data                 (B, C, pz, py, px) f32
//! TrainBatch.targets[s]           (B, 1, pz/2^s, py/2^s, px/2^s) u8 labels, one per deep-supervision scale
//! ```
//!
//! Reference: nnU-Net v2.8.1 `nnUNetTrainer.get_dataloaders` / `train_step` (`data`, `target` list per DS
//! scale) and `nnunetv2/training/dataloading/data_loader.py`.

use candle_core::Tensor;

use crate::error::Result;

/// One batch ready for the network.
#[derive(Debug, Clone)]
pub struct TrainBatch {
    /// `(B, C, pz, py, px)` f32 input.
    pub data: Tensor,
    /// Label maps `(B, 1, …)` (u8), full resolution first, one per deep-supervision scale.
    pub targets: Vec<Tensor>,
}

/// A deterministic, indexable stream of batches.
pub trait BatchSource {
    /// Batch `index` (a pure function of the source's configuration and `index`).
    ///
    /// # Errors
    /// The source's own errors (reading, augmenting, converting).
    fn batch(&mut self, index: u64) -> Result<TrainBatch>;
}

/// A fixed list of batches served cyclically (`index mod len`); for tests and tiny experiments.
#[derive(Debug, Clone)]
pub struct FixedBatches {
    batches: Vec<TrainBatch>,
}

impl FixedBatches {
    /// Serves `batches` cyclically.
    ///
    /// # Errors
    /// [`crate::Error::InvalidParameter`] (`batches`) for an empty list.
    pub fn new(batches: Vec<TrainBatch>) -> Result<Self> {
        if batches.is_empty() {
            return Err(crate::Error::InvalidParameter {
                key: "batches",
                reason: "need at least one batch".into(),
            });
        }
        Ok(FixedBatches { batches })
    }
}

impl BatchSource for FixedBatches {
    fn batch(&mut self, index: u64) -> Result<TrainBatch> {
        Ok(self.batches[(index % self.batches.len() as u64) as usize].clone())
    }
}

#[cfg(feature = "nnunet")]
pub use nnunet_source::{batch_to_tensors, nnunet_sources, NnunetBatches};

#[cfg(feature = "nnunet")]
mod nnunet_source {
    use std::sync::Arc;

    use candle_core::{Device, Tensor};
    use nnunet_preproc::{
        loader_patch_size, make_batch, AugmentConfig, AugmentFlavour, Batch, Loader, LoaderConfig,
        LoaderMode, PatchSampler, SamplerConfig, TrainingCase,
    };

    use super::{BatchSource, TrainBatch};
    use crate::error::{Error, Result};
    use crate::train::config::{AugmentationKind, TrainerConfig};

    /// nnU-Net's sampler + augmentation as a [`BatchSource`]: batch `index` is
    /// `nnunet_preproc::make_batch(sampler, augment, seed, index, mode)`, produced by a background [`Loader`]
    /// (`workers` threads; 0 = inline) that is restarted when a non-consecutive index is asked for.
    pub struct NnunetBatches {
        sampler: Arc<PatchSampler>,
        augment: Arc<AugmentConfig>,
        config: LoaderConfig,
        loader: Option<Loader>,
    }

    impl std::fmt::Debug for NnunetBatches {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("NnunetBatches")
                .field("sampler", &self.sampler)
                .field("config", &self.config)
                .finish()
        }
    }

    impl NnunetBatches {
        /// A source over `sampler` with `augment`, seed, mode and worker count from `config`.
        #[must_use]
        pub fn new(sampler: PatchSampler, augment: AugmentConfig, config: LoaderConfig) -> Self {
            NnunetBatches {
                sampler: Arc::new(sampler),
                augment: Arc::new(augment),
                config,
                loader: None,
            }
        }
    }

    impl BatchSource for NnunetBatches {
        fn batch(&mut self, index: u64) -> Result<TrainBatch> {
            if self.config.workers == 0 {
                let b = make_batch(
                    &self.sampler,
                    &self.augment,
                    self.config.seed,
                    index,
                    self.config.mode,
                )?;
                return batch_to_tensors(&b);
            }
            if self.loader.as_ref().map(Loader::next_index) != Some(index) {
                self.loader = None; // stop the old workers first
                self.loader = Some(Loader::starting_at(
                    self.sampler.clone(),
                    self.augment.clone(),
                    self.config,
                    index,
                )?);
            }
            let loader = self
                .loader
                .as_mut()
                .ok_or_else(|| Error::InvalidParameter {
                    key: "workers",
                    reason: "loader not started".into(),
                })?;
            batch_to_tensors(&loader.next_batch()?)
        }
    }

    /// Converts a loader [`Batch`] to CPU tensors (`data` f32, targets u8).
    ///
    /// # Errors
    /// [`Error::InputShape`] for a label outside `0..=255`; [`Error::Candle`].
    pub fn batch_to_tensors(b: &Batch) -> Result<TrainBatch> {
        let data = Tensor::from_vec(
            b.data
                .as_standard_layout()
                .iter()
                .copied()
                .collect::<Vec<f32>>(),
            b.data.shape(),
            &Device::Cpu,
        )?;
        let targets = b
            .targets
            .iter()
            .map(|t| {
                let v = t
                    .as_standard_layout()
                    .iter()
                    .map(|&l| {
                        u8::try_from(l).map_err(|_| Error::InputShape {
                            shape: t.shape().to_vec(),
                            reason: format!("label {l} outside 0..=255 in batch {}", b.index),
                        })
                    })
                    .collect::<Result<Vec<u8>>>()?;
                Ok(Tensor::from_vec(v, t.shape(), &Device::Cpu)?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(TrainBatch { data, targets })
    }

    fn augment_config(cfg: &TrainerConfig) -> AugmentConfig {
        let flavour = match cfg.augmentation {
            AugmentationKind::V2Default => AugmentFlavour::V2Default,
            AugmentationKind::V1MoreDa | AugmentationKind::None => AugmentFlavour::V1MoreDA,
        };
        let mut a = AugmentConfig::new(flavour, cfg.patch_size);
        if cfg.augmentation == AugmentationKind::None {
            for p in [
                &mut a.p_rotation,
                &mut a.p_scale,
                &mut a.p_noise,
                &mut a.p_blur,
                &mut a.p_brightness,
                &mut a.p_contrast,
                &mut a.p_lowres,
                &mut a.p_gamma_inverted,
                &mut a.p_gamma,
            ] {
                *p = 0.0;
            }
            a.mirror_axes = [false; 3];
        }
        a
    }

    /// The training and validation sources of nnU-Net's trainer for `cfg`:
    ///
    /// ```text
    /// train: loader patch = get_patch_size(patch, ±30°, 0.85) with spatial augmentation (else patch),
    ///        cfg.augmentation, seed cfg.seed
    /// val:   loader patch = patch, validation transforms (targets only), seed cfg.seed + 1
    /// both:  batch cfg.batch_size, oversampling cfg.oversample_foreground (last sample of the batch)
    /// ```
    ///
    /// # Errors
    /// The sampler's errors (no cases, bad sizes).
    pub fn nnunet_sources(
        train_cases: Vec<Box<dyn TrainingCase>>,
        val_cases: Vec<Box<dyn TrainingCase>>,
        cfg: &TrainerConfig,
        workers: usize,
    ) -> Result<(NnunetBatches, NnunetBatches)> {
        let augment = augment_config(cfg);
        let spatial = cfg.augmentation != AugmentationKind::None;
        let train_sampler = SamplerConfig {
            patch_size: cfg.patch_size,
            loader_patch_size: if spatial {
                loader_patch_size(cfg.patch_size, augment.max_rotation, 0.85)
            } else {
                cfg.patch_size
            },
            batch_size: cfg.batch_size,
            oversample_foreground: cfg.oversample_foreground,
            ..SamplerConfig::default()
        };
        let val_sampler = SamplerConfig {
            loader_patch_size: cfg.patch_size,
            ..train_sampler
        };
        let loader = |seed, mode| LoaderConfig {
            workers,
            prefetch: 2,
            seed,
            mode,
        };
        let train = NnunetBatches::new(
            PatchSampler::new(train_cases, train_sampler)?,
            augment.clone(),
            loader(cfg.seed, LoaderMode::Train),
        );
        let val = NnunetBatches::new(
            PatchSampler::new(val_cases, val_sampler)?,
            augment,
            loader(cfg.seed.wrapping_add(1), LoaderMode::Validation),
        );
        Ok((train, val))
    }
}
