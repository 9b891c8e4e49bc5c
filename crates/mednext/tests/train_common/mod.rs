//! Shared helpers of the trainer tests: a generated preprocessed data set (nnunet-preproc's synthetic cases
//! through the real preprocessing and cache), batch sources over `nnunet_preproc::make_batch`, tiny MedNeXt
//! configurations and a sliding-window Dice on held-out cases.
#![allow(dead_code)]

use std::path::Path;

use candle_core::{Device, Tensor};
use mednext::train::{BatchSource, TrainBatch, TrainerConfig};
use mednext::{ExpRatio, MedNext, MedNextConfig};
use ndarray::{Array4, Axis};
use nnunet_preproc::{
    loader_patch_size, make_batch, AugmentConfig, AugmentFlavour, Flavour, LoaderMode, MappedCase,
    PatchSampler, PreprocessedCache, SamplerConfig, SlidingWindow, SlidingWindowConfig,
    SyntheticConfig,
};

/// A MedNeXt with `c` channels, one block per stage, expansion 2, kernel 3, deep supervision, 3 inputs.
pub fn tiny_model(c: usize) -> MedNextConfig {
    MedNextConfig {
        in_channels: 3,
        n_channels: c,
        n_classes: 2,
        exp_r: ExpRatio::Uniform(2),
        kernel_size: Some(3),
        deep_supervision: true,
        do_res: true,
        do_res_up_down: true,
        block_counts: vec![1; 9],
        ..MedNextConfig::default()
    }
}

/// Writes `n` synthetic cases (raw `shape` at 2×1×1 mm, resampled to 1 mm) into `dir`; returns the ids.
pub fn synthetic_dataset(dir: &Path, n: usize, shape: [usize; 3], seed: u64) -> Vec<String> {
    let cfg = SyntheticConfig {
        shape,
        spacing: [2.0, 1.0, 1.0],
        seed,
        ..SyntheticConfig::default()
    };
    let (_, ids) =
        nnunet_preproc::write_synthetic_dataset(dir, n, &cfg, Flavour::V1, [1.0, 1.0, 1.0])
            .expect("synthetic data set");
    ids
}

/// `make_batch` over a cache as a [`BatchSource`] (inline, no worker threads).
pub struct CacheBatches {
    sampler: PatchSampler,
    augment: AugmentConfig,
    seed: u64,
    mode: LoaderMode,
}

impl BatchSource for CacheBatches {
    fn batch(&mut self, index: u64) -> mednext::Result<TrainBatch> {
        let b = make_batch(&self.sampler, &self.augment, self.seed, index, self.mode)
            .expect("make_batch");
        let data = Tensor::from_vec(
            b.data.iter().copied().collect::<Vec<f32>>(),
            b.data.shape(),
            &Device::Cpu,
        )?;
        let targets = b
            .targets
            .iter()
            .map(|t| {
                Tensor::from_vec(
                    t.iter().map(|&v| v as u8).collect::<Vec<u8>>(),
                    t.shape(),
                    &Device::Cpu,
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(TrainBatch { data, targets })
    }
}

/// Training (augmented when `augment`) and validation sources over the cases `train` / `val` of `dir`.
pub fn sources(
    dir: &Path,
    train: &[String],
    val: &[String],
    cfg: &TrainerConfig,
    augment: bool,
) -> (CacheBatches, CacheBatches) {
    let cache = PreprocessedCache::open(dir).unwrap();
    let mut aug = AugmentConfig::new(AugmentFlavour::V1MoreDA, cfg.patch_size);
    if !augment {
        aug.p_rotation = 0.0;
        aug.p_scale = 0.0;
    }
    let sampler_cfg = SamplerConfig {
        patch_size: cfg.patch_size,
        loader_patch_size: if augment {
            loader_patch_size(cfg.patch_size, aug.max_rotation, 0.85)
        } else {
            cfg.patch_size
        },
        batch_size: cfg.batch_size,
        oversample_foreground: cfg.oversample_foreground,
        ..SamplerConfig::default()
    };
    let train_sampler = PatchSampler::from_cache(&cache, train, sampler_cfg).unwrap();
    let val_sampler = PatchSampler::from_cache(
        &cache,
        val,
        SamplerConfig {
            loader_patch_size: cfg.patch_size,
            ..sampler_cfg
        },
    )
    .unwrap();
    (
        CacheBatches {
            sampler: train_sampler,
            augment: aug.clone(),
            seed: cfg.seed,
            mode: LoaderMode::Train,
        },
        CacheBatches {
            sampler: val_sampler,
            augment: aug,
            seed: cfg.seed + 1,
            mode: LoaderMode::Validation,
        },
    )
}

/// Dice of the argmax of a sliding-window prediction (step 0.5, Gaussian, no TTA) against the case's label,
/// in preprocessed space.
pub fn held_out_dice(model: &MedNext, dir: &Path, case: &str, patch: [usize; 3]) -> f64 {
    let cache = PreprocessedCache::open(dir).unwrap();
    let mapped: MappedCase = cache.map_case(case).unwrap();
    let sw = SlidingWindow::new(patch, SlidingWindowConfig::v1().without_tta()).unwrap();
    let probs = sw
        .predict(mapped.data(), 2, |tile| -> anyhow::Result<Array4<f32>> {
            let shape = tile.shape().to_vec();
            let x = Tensor::from_vec(
                tile.iter().copied().collect::<Vec<f32>>(),
                (1, shape[0], shape[1], shape[2], shape[3]),
                &Device::Cpu,
            )?;
            let y = model.forward_logits(&x)?.squeeze(0)?;
            let v = y.flatten_all()?.to_vec1::<f32>()?;
            Ok(Array4::from_shape_vec(
                (2, shape[1], shape[2], shape[3]),
                v,
            )?)
        })
        .unwrap();
    let seg = mapped.seg().unwrap();
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    let bg = probs.index_axis(Axis(0), 0);
    let fg = probs.index_axis(Axis(0), 1);
    for ((idx, &f), &b) in fg.indexed_iter().zip(bg.iter()) {
        let p = f > b;
        let t = seg[idx] > 0;
        match (p, t) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            _ => {}
        }
    }
    2.0 * tp as f64 / (2 * tp + fp + fn_).max(1) as f64
}
