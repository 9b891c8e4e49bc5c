//! The background training loader: worker threads draw, crop and augment batches into a bounded queue.
//!
//! ```text
//! batch b (b = 0, 1, 2, …) is produced by worker b mod N and delivered in order b
//! cases_b     = choice(n_cases, B, replace) from sample_rng(seed, b, MAX)
//! sample_b,j  = augment( crop( case, bbox ), sample_rng(seed, b, j) )      j = 0 … B − 1
//! ```
//! A batch depends only on `(seed, b)`: its content is identical for any worker count (0 = inline in the
//! consumer's thread) and any scheduling. Samples of a batch are augmented in parallel with rayon. The queue
//! holds at most `prefetch` finished batches per worker; dropping the loader stops and joins the workers.
//!
//! References (read, not copied): nnU-Net v2.8.1 `nnunetv2/training/dataloading/data_loader.py`
//! (`nnUNetDataLoader.generate_train_batch`), batchgenerators `dataloading/nondet_multi_threaded_augmenter.py`
//! (workers, queue size), `nnunetv2/utilities/default_n_proc_DA.py`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use ndarray::{Array4, Array5, Axis};
use rayon::prelude::*;

use crate::augment::{augment_sample, validation_sample, AugmentConfig};
use crate::error::{Error, Result};
use crate::sampling::{sample_rng, PatchSampler};

/// Training or validation pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LoaderMode {
    /// Full augmentation.
    #[default]
    Train,
    /// Centre crop + targets only (nnU-Net's validation loader).
    Validation,
}

/// Loader settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoaderConfig {
    /// Worker threads; 0 produces batches inline on `next_batch`.
    pub workers: usize,
    /// Finished batches buffered per worker.
    pub prefetch: usize,
    /// Base seed.
    pub seed: u64,
    /// Train or validation.
    pub mode: LoaderMode,
}

impl Default for LoaderConfig {
    fn default() -> Self {
        LoaderConfig {
            workers: 2,
            prefetch: 2,
            seed: 12345,
            mode: LoaderMode::Train,
        }
    }
}

/// One batch: data `(B, C, pz, py, px)`, one target `(B, 1, z_s, y_s, x_s)` per deep-supervision scale, and the
/// case indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The batch index.
    pub index: u64,
    /// `(B, C, pz, py, px)` f32.
    pub data: Array5<f32>,
    /// Per DS scale, `(B, 1, …)` i16 labels (−1 already mapped to 0).
    pub targets: Vec<Array5<i16>>,
    /// Case index (in the sampler) of each sample.
    pub cases: Vec<usize>,
}

/// Produces batch `index` (pure function of the sampler, config, seed and index).
///
/// # Errors
/// The augmentation's errors (bad configuration).
pub fn make_batch(
    sampler: &PatchSampler,
    augment: &AugmentConfig,
    seed: u64,
    index: u64,
    mode: LoaderMode,
) -> Result<Batch> {
    let cases = sampler.batch_cases(seed, index);
    let samples = cases
        .par_iter()
        .enumerate()
        .map(|(j, &case)| {
            let mut rng = sample_rng(seed, index, j as u64);
            let p = sampler.sample(case, j, &mut rng);
            match mode {
                LoaderMode::Train => augment_sample(&p.data, &p.seg, augment, &mut rng),
                LoaderMode::Validation => validation_sample(&p.data, &p.seg, augment),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let data_views: Vec<_> = samples.iter().map(|s| s.data.view()).collect();
    let data = ndarray::stack(Axis(0), &data_views)?;
    let n_t = samples[0].targets.len();
    let targets = (0..n_t)
        .map(|t| {
            let v: Vec<_> = samples
                .iter()
                .map(|s| s.targets[t].view().insert_axis(Axis(0)))
                .collect();
            ndarray::stack(Axis(0), &v)
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Batch {
        index,
        data,
        targets,
        cases,
    })
}

/// A running loader (see the module docs). Iterate with [`Loader::next_batch`]; dropping it stops the workers.
pub struct Loader {
    sampler: Arc<PatchSampler>,
    augment: Arc<AugmentConfig>,
    config: LoaderConfig,
    next: u64,
    first: u64,
    receivers: Vec<Receiver<Result<Batch>>>,
    stop: Arc<AtomicBool>,
    handles: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Loader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loader")
            .field("config", &self.config)
            .field("next", &self.next)
            .finish()
    }
}

impl Loader {
    /// Starts `config.workers` threads producing batches `0, 1, 2, …`.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] (`prefetch`) if `prefetch == 0` with workers; [`Error::Io`] if a thread
    /// cannot be spawned.
    pub fn new(
        sampler: PatchSampler,
        augment: AugmentConfig,
        config: LoaderConfig,
    ) -> Result<Self> {
        Self::starting_at(Arc::new(sampler), Arc::new(augment), config, 0)
    }

    /// Starts `config.workers` threads producing batches `first_batch, first_batch + 1, …` from a shared
    /// sampler and augmentation (a resumed training run continues its batch stream at `first_batch`; the
    /// batches equal those of a loader started at 0 and advanced `first_batch` times).
    ///
    /// # Errors
    /// As [`Loader::new`].
    pub fn starting_at(
        sampler: Arc<PatchSampler>,
        augment: Arc<AugmentConfig>,
        config: LoaderConfig,
        first_batch: u64,
    ) -> Result<Self> {
        if config.workers > 0 && config.prefetch == 0 {
            return Err(Error::InvalidParameter {
                key: "prefetch",
                reason: "must be ≥ 1 with worker threads".into(),
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let mut receivers = Vec::new();
        let mut handles = Vec::new();
        for w in 0..config.workers {
            let (tx, rx): (SyncSender<Result<Batch>>, _) = sync_channel(config.prefetch);
            let (s, a, st) = (sampler.clone(), augment.clone(), stop.clone());
            let n = config.workers as u64;
            let h = std::thread::Builder::new()
                .name(format!("nnunet-loader-{w}"))
                .spawn(move || {
                    let mut b = first_batch + w as u64;
                    while !st.load(Ordering::Relaxed) {
                        let batch = make_batch(&s, &a, config.seed, b, config.mode);
                        if tx.send(batch).is_err() {
                            break;
                        }
                        b += n;
                    }
                })
                .map_err(|e| Error::io("<loader thread>", e))?;
            receivers.push(rx);
            handles.push(h);
        }
        Ok(Loader {
            sampler,
            augment,
            config,
            next: first_batch,
            first: first_batch,
            receivers,
            stop,
            handles,
        })
    }

    /// The index of the batch [`Loader::next_batch`] returns next.
    #[must_use]
    pub fn next_index(&self) -> u64 {
        self.next
    }

    /// The next batch, in index order.
    ///
    /// # Errors
    /// The batch's own error, or [`Error::InvalidParameter`] (`workers`) if a worker died.
    pub fn next_batch(&mut self) -> Result<Batch> {
        let b = self.next;
        self.next += 1;
        if self.receivers.is_empty() {
            return make_batch(
                &self.sampler,
                &self.augment,
                self.config.seed,
                b,
                self.config.mode,
            );
        }
        let w = ((b - self.first) % self.receivers.len() as u64) as usize;
        self.receivers[w]
            .recv()
            .map_err(|_| Error::InvalidParameter {
                key: "workers",
                reason: format!("loader worker {w} stopped unexpectedly"),
            })?
    }
}

impl Iterator for Loader {
    type Item = Result<Batch>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.next_batch())
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Dropping the receivers unblocks workers waiting on a full queue.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// `(B, C, …)` data as `Array4` per sample (convenience for trainers that feed samples one by one).
#[must_use]
pub fn split_batch(data: &Array5<f32>) -> Vec<Array4<f32>> {
    data.outer_iter().map(|v| v.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ndarray::{Array3, Array4};

    use super::*;
    use crate::augment::AugmentFlavour;
    use crate::sampling::{InMemoryCase, SamplerConfig, TrainingCase};

    fn shared() -> (Arc<PatchSampler>, Arc<AugmentConfig>) {
        let case = InMemoryCase {
            id: "c".into(),
            data: Array4::from_shape_fn((1, 10, 12, 9), |(_, z, y, x)| (z * y + x) as f32),
            seg: Array3::from_shape_fn((10, 12, 9), |(z, _, _)| i16::from(z > 5)),
            class_locations: BTreeMap::from([(1i16, vec![[7, 3, 3]])]),
        };
        let cfg = SamplerConfig {
            patch_size: [8; 3],
            loader_patch_size: [10; 3],
            batch_size: 2,
            ..Default::default()
        };
        let sampler =
            PatchSampler::new(vec![Box::new(case) as Box<dyn TrainingCase>], cfg).unwrap();
        let mut aug = AugmentConfig::new(AugmentFlavour::V1MoreDA, [8; 3]);
        aug.ds_scales = vec![[1.0; 3]];
        (Arc::new(sampler), Arc::new(aug))
    }

    #[test]
    fn starting_at_continues_the_stream() {
        let (s, a) = shared();
        for workers in [0, 2] {
            let config = LoaderConfig {
                workers,
                seed: 3,
                ..Default::default()
            };
            let mut from0 = Loader::starting_at(s.clone(), a.clone(), config, 0).unwrap();
            let all: Vec<Batch> = (0..5).map(|_| from0.next_batch().unwrap()).collect();
            let mut from3 = Loader::starting_at(s.clone(), a.clone(), config, 3).unwrap();
            assert_eq!(from3.next_index(), 3);
            assert_eq!(from3.next_batch().unwrap(), all[3]);
            assert_eq!(from3.next_batch().unwrap(), all[4]);
            assert_eq!(from3.next_index(), 5);
        }
    }
}
