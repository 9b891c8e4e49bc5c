//! The training loop: epochs × iterations of forward (deep supervision), loss, backward, gradient clipping and
//! an optimiser step; online validation per epoch; the schedule stepped per epoch; atomic checkpoints; exact
//! resume.
//!
//! ```text
//! for epoch e in epochs_done .. max_epochs:
//!     lr = schedule(initial_lr, e, max_epochs);  optimiser.set_learning_rate(lr)
//!     for i in 0 .. iters_per_epoch:                        batch = train.batch(e·iters + i)
//!         L = Σ_s w_s · loss(out_s, target_s)               (w = deep_supervision_weights(n_out, net_numpool))
//!         g = ∇L;  clip_grad_norm(g, 12);  optimiser.step(g)
//!     for j in 0 .. val_iters:                              batch = val.batch(e·val_iters + j)
//!         val loss; TP/FP/FN of argmax(out_0) vs target_0   (validation::OnlineDice)
//!     ema = 0.9·ema + 0.1·mean_fg_dice
//!     write training_log.csv; checkpoint_best if ema > best; checkpoint_latest every save_every epochs
//! checkpoint_final (and checkpoint_latest) after the last epoch
//! ```
//! Every batch is a pure function of its index and the model state is saved with the optimiser state, so a run
//! resumed from `checkpoint_latest` continues bit for bit (on the same device and build) like the
//! uninterrupted run.
//!
//! References: nnU-Net v2.8.1 `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py` (`run_training`,
//! `train_step`, `validation_step`, `on_epoch_end`, `save_checkpoint`, `load_checkpoint`); MedNeXt's nnU-Net v1
//! `network_trainer.py` / `nnUNetTrainerV2.py` (`run_iteration`, `maybe_update_lr`, `on_epoch_end`); see
//! `/work/shared/reference/nnunet.md` §4–6 and `mednext.md` §13.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use crate::config::MedNextConfig;
use crate::error::{Error, Result};
use crate::model::MedNext;
use crate::train::batch_source::{BatchSource, TrainBatch};
use crate::train::checkpoint_io::{
    read_checkpoint, write_checkpoint, TrainingState, FORMAT_VERSION,
};
use crate::train::clip::clip_grad_norm;
use crate::train::config::{DiceReduction, LossKind, OptimizerKind, TrainerConfig};
use crate::train::deep_supervision::{deep_supervision_loss, deep_supervision_weights};
use crate::train::history::{write_history_csv, EpochRecord};
use crate::train::init::load_into_varmap;
use crate::train::loss::{DiceCeConfig, SegLoss};
use crate::train::optim::{AdamW, AdamWConfig, Sgd, SgdConfig, TrainOptimizer};
use crate::train::run_dir::{CheckpointKind, FoldId};
use crate::train::validation::{ema_update, OnlineDice};
use crate::weights::{new_trainable, NamedTensors};

/// Progress callbacks (the library draws nothing; the example shows a progress bar).
pub trait TrainObserver {
    /// An epoch starts with learning rate `lr`.
    fn on_epoch_start(&mut self, _epoch: usize, _lr: f64) {}
    /// Training iteration `iteration` of `epoch` finished with `loss`.
    fn on_iteration(&mut self, _epoch: usize, _iteration: usize, _loss: f64) {}
    /// Validation batch `iteration` of `epoch` finished.
    fn on_validation(&mut self, _epoch: usize, _iteration: usize) {}
    /// An epoch finished (its checkpoints are written); [`ControlFlow::Break`] stops the run here (as an
    /// interruption would, after `checkpoint_latest` is written).
    fn on_epoch_end(&mut self, _record: &EpochRecord) -> ControlFlow<()> {
        ControlFlow::Continue(())
    }
}

/// An observer that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl TrainObserver for Silent {}

/// How [`Trainer::fit`] ended.
#[derive(Debug, Clone, PartialEq)]
pub struct FitOutcome {
    /// Finished epochs.
    pub epochs_done: usize,
    /// Whether the observer stopped the run before `max_epochs`.
    pub stopped: bool,
    /// The best EMA pseudo Dice.
    pub best_ema: Option<f64>,
}

/// A MedNeXt under training (module docs).
pub struct Trainer {
    model: MedNext,
    model_config: MedNextConfig,
    varmap: VarMap,
    vars: Vec<Var>,
    optimizer: Box<dyn TrainOptimizer>,
    loss: SegLoss,
    config: TrainerConfig,
    device: Device,
    fold_dir: Option<PathBuf>,
    fold: Option<FoldId>,
    epochs_done: usize,
    steps: u64,
    ema: Option<f64>,
    best_ema: Option<f64>,
    history: Vec<EpochRecord>,
}

impl std::fmt::Debug for Trainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trainer")
            .field("config", &self.config)
            .field("fold_dir", &self.fold_dir)
            .field("epochs_done", &self.epochs_done)
            .field("steps", &self.steps)
            .field("ema", &self.ema)
            .finish()
    }
}

fn seg_loss(cfg: &TrainerConfig) -> SegLoss {
    let batch_dice = cfg.dice == DiceReduction::Batch;
    match (cfg.loss, SegLoss::dice_ce_focal()) {
        (LossKind::DiceCe, _) => SegLoss::DiceCe(DiceCeConfig {
            batch_dice,
            ..DiceCeConfig::default()
        }),
        (
            LossKind::DiceCeFocal,
            SegLoss::DiceCeFocal {
                dice_ce,
                focal,
                dice_ce_weight,
            },
        ) => SegLoss::DiceCeFocal {
            dice_ce: DiceCeConfig {
                batch_dice,
                ..dice_ce
            },
            focal,
            dice_ce_weight,
        },
        (LossKind::DiceCeFocal, other) => other,
    }
}

fn named_vars(varmap: &VarMap) -> Result<Vec<(String, Var)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| Error::Unsupported("VarMap lock poisoned".into()))?;
    let mut v: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(v)
}

fn optimizer(cfg: &TrainerConfig, params: Vec<(String, Var)>) -> Result<Box<dyn TrainOptimizer>> {
    Ok(match cfg.optimizer {
        OptimizerKind::AdamW => Box::new(AdamW::new(
            params,
            AdamWConfig {
                lr: cfg.initial_lr,
                beta1: cfg.betas.0,
                beta2: cfg.betas.1,
                eps: cfg.eps,
                weight_decay: cfg.weight_decay,
            },
        )?),
        OptimizerKind::SgdNesterov => Box::new(Sgd::new(
            params,
            SgdConfig {
                lr: cfg.initial_lr,
                momentum: cfg.momentum,
                nesterov: true,
                weight_decay: cfg.weight_decay,
            },
        )?),
    })
}

impl Trainer {
    /// A fresh network of `model_config` (seeded by `config.seed`) and a fresh optimiser.
    ///
    /// # Errors
    /// [`Error::InvalidParameter`] from the two configurations' checks; [`Error::Candle`].
    pub fn new(
        model_config: &MedNextConfig,
        config: &TrainerConfig,
        device: &Device,
    ) -> Result<Self> {
        config.check()?;
        let (model, varmap) = new_trainable(model_config, config.seed, device)?;
        let params = named_vars(&varmap)?;
        let vars = params.iter().map(|(_, v)| v.clone()).collect();
        let optimizer = optimizer(config, params)?;
        Ok(Trainer {
            model,
            model_config: model_config.clone(),
            varmap,
            vars,
            optimizer,
            loss: seg_loss(config),
            config: config.clone(),
            device: device.clone(),
            fold_dir: None,
            fold: None,
            epochs_done: 0,
            steps: 0,
            ema: None,
            best_ema: None,
            history: Vec::new(),
        })
    }

    /// Like [`Trainer::new`], with the network's weights set to `weights` (original keys; see
    /// [`crate::train::init::initial_weights`]).
    ///
    /// # Errors
    /// As [`Trainer::new`] and [`load_into_varmap`].
    pub fn with_weights(
        model_config: &MedNextConfig,
        config: &TrainerConfig,
        weights: &NamedTensors,
        device: &Device,
    ) -> Result<Self> {
        let t = Self::new(model_config, config, device)?;
        load_into_varmap(&t.varmap, weights)?;
        Ok(t)
    }

    /// Resumes from a checkpoint written by [`Trainer::fit`]: weights, optimiser state, epoch, EMA, best and
    /// history; the model and trainer configuration come from the checkpoint.
    ///
    /// # Errors
    /// As [`read_checkpoint`], [`Trainer::new`]; [`Error::CheckpointMetadata`] if the optimiser state does not
    /// fit.
    pub fn resume(path: impl AsRef<Path>, device: &Device) -> Result<Self> {
        let path = path.as_ref();
        let ckpt = read_checkpoint(path)?;
        let st = ckpt.state;
        let mut t = Self::with_weights(&st.model, &st.trainer, &ckpt.model, device)?;
        let opt_state = ckpt
            .optimizer
            .iter()
            .map(|(k, v)| Ok((k.clone(), v.to_device(device)?)))
            .collect::<Result<Vec<_>>>()?;
        t.optimizer
            .load_state(&opt_state)
            .map_err(|e| Error::CheckpointMetadata {
                path: path.to_path_buf(),
                reason: format!("optimiser state: {e}"),
            })?;
        t.epochs_done = st.epochs_done;
        t.steps = st.steps;
        t.ema = st.ema_dice;
        t.best_ema = st.best_ema;
        t.history = st.history;
        t.fold = st.fold;
        Ok(t)
    }

    /// Writes checkpoints and the log to `fold_dir` (created if needed) during [`Trainer::fit`].
    #[must_use]
    pub fn with_output(mut self, fold_dir: impl AsRef<Path>, fold: Option<FoldId>) -> Self {
        self.fold_dir = Some(fold_dir.as_ref().to_path_buf());
        self.fold = fold.or(self.fold);
        self
    }

    /// The network.
    #[must_use]
    pub fn model(&self) -> &MedNext {
        &self.model
    }

    /// The trainer configuration.
    #[must_use]
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// Finished epochs.
    #[must_use]
    pub fn epochs_done(&self) -> usize {
        self.epochs_done
    }

    /// One record per finished epoch.
    #[must_use]
    pub fn history(&self) -> &[EpochRecord] {
        &self.history
    }

    /// The state dict (original keys, CPU).
    ///
    /// # Errors
    /// [`Error::Candle`].
    pub fn state_dict(&self) -> Result<NamedTensors> {
        self.model.state_dict()
    }

    fn ds_weights(&self, n_outputs: usize) -> Vec<f64> {
        if n_outputs == 1 {
            vec![1.0]
        } else {
            deep_supervision_weights(n_outputs, self.config.net_numpool)
        }
    }

    /// Network outputs, the targets they are compared with, and the deep-supervision loss.
    fn loss_of(&self, batch: &TrainBatch) -> Result<(Vec<Tensor>, Vec<Tensor>, Tensor)> {
        let data = batch.data.to_device(&self.device)?;
        let outs = self.model.forward(&data)?;
        if batch.targets.len() < outs.len() {
            return Err(Error::InputShape {
                shape: batch.data.dims().to_vec(),
                reason: format!(
                    "{} targets for {} network outputs (deep-supervision scales)",
                    batch.targets.len(),
                    outs.len()
                ),
            });
        }
        let targets = batch.targets[..outs.len()]
            .iter()
            .map(|t| t.to_device(&self.device))
            .collect::<candle_core::Result<Vec<_>>>()?;
        let w = self.ds_weights(outs.len());
        let loss = deep_supervision_loss(&self.loss, &outs, &targets, &w)?;
        Ok((outs, targets, loss))
    }

    /// One optimisation step on `batch`; returns the loss before the step.
    ///
    /// # Errors
    /// [`Error::NonFiniteLoss`]; shape and candle errors.
    pub fn train_step(
        &mut self,
        batch: &TrainBatch,
        epoch: usize,
        iteration: usize,
    ) -> Result<f64> {
        let (_, _, loss) = self.loss_of(batch)?;
        let value = f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
        if !value.is_finite() {
            return Err(Error::NonFiniteLoss {
                epoch,
                iteration,
                value,
            });
        }
        let mut grads = loss.backward()?;
        if let Some(max) = self.config.grad_clip {
            let total = clip_grad_norm(&mut grads, &self.vars, max)?;
            if !total.is_finite() {
                return Ok(value); // skip the step, like a GradScaler on overflow
            }
        }
        self.optimizer.step(&grads)?;
        self.steps += 1;
        Ok(value)
    }

    /// Validation loss and online Dice over `val_iters` batches of `epoch`.
    fn validate(
        &self,
        val: &mut dyn BatchSource,
        epoch: usize,
        observer: &mut dyn TrainObserver,
    ) -> Result<(Option<f64>, OnlineDice)> {
        let mut dice = OnlineDice::new(self.model_config.n_classes);
        let n = self.config.val_iters;
        let mut sum = 0.0;
        for j in 0..n {
            let b = val.batch((epoch * n + j) as u64)?;
            let (outs, targets, loss) = self.loss_of(&b)?;
            sum += f64::from(loss.to_dtype(candle_core::DType::F32)?.to_scalar::<f32>()?);
            dice.add_batch(&outs[0], &targets[0])?;
            observer.on_validation(epoch, j);
        }
        Ok(((n > 0).then(|| sum / n as f64), dice))
    }

    fn training_state(&self, kind: CheckpointKind, lr: f64) -> TrainingState {
        TrainingState {
            format_version: FORMAT_VERSION,
            kind,
            fold: self.fold,
            epochs_done: self.epochs_done,
            next_batch: (self.epochs_done * self.config.iters_per_epoch) as u64,
            next_val_batch: (self.epochs_done * self.config.val_iters) as u64,
            learning_rate: lr,
            ema_dice: self.ema,
            best_ema: self.best_ema,
            steps: self.steps,
            seed: self.config.seed,
            history: self.history.clone(),
            trainer: self.config.clone(),
            model: self.model_config.clone(),
        }
    }

    /// Writes checkpoint `kind` into the output folder (created if needed; no-op without one).
    ///
    /// # Errors
    /// As [`write_checkpoint`].
    pub fn save(&self, kind: CheckpointKind) -> Result<()> {
        let Some(dir) = &self.fold_dir else {
            return Ok(());
        };
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.clone(),
            source,
        })?;
        let lr = self.optimizer.learning_rate();
        write_checkpoint(
            dir.join(kind.file_name()),
            &self.state_dict()?,
            &self.optimizer.state()?,
            &self.training_state(kind, lr),
        )
    }

    /// Trains from the current epoch to `max_epochs` (module docs). `val = None` skips validation (no EMA,
    /// no `checkpoint_best`).
    ///
    /// # Errors
    /// The batch sources' errors, [`Error::NonFiniteLoss`], tensor and file errors.
    pub fn fit(
        &mut self,
        train: &mut dyn BatchSource,
        mut val: Option<&mut dyn BatchSource>,
        observer: &mut dyn TrainObserver,
    ) -> Result<FitOutcome> {
        if let Some(dir) = &self.fold_dir {
            std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let n_fg = self.model_config.n_classes.saturating_sub(1);
        let mut stopped = false;
        while self.epochs_done < self.config.max_epochs {
            let epoch = self.epochs_done;
            let start = Instant::now();
            let lr = self.config.learning_rate(epoch);
            self.optimizer.set_learning_rate(lr);
            observer.on_epoch_start(epoch, lr);
            let mut train_sum = 0.0;
            for i in 0..self.config.iters_per_epoch {
                let b = train.batch((epoch * self.config.iters_per_epoch + i) as u64)?;
                let l = self.train_step(&b, epoch, i)?;
                train_sum += l;
                observer.on_iteration(epoch, i, l);
            }
            let (val_loss, dice) = match val.as_deref_mut() {
                Some(v) if self.config.val_iters > 0 => self.validate(v, epoch, observer)?,
                _ => (None, OnlineDice::new(self.model_config.n_classes)),
            };
            let mean = if val_loss.is_some() {
                dice.mean_fg_dice()
            } else {
                None
            };
            self.ema = ema_update(self.ema, mean, self.config.ema_alpha);
            self.epochs_done += 1;
            let record = EpochRecord {
                epoch,
                train_loss: train_sum / self.config.iters_per_epoch as f64,
                val_loss,
                pseudo_dice: if val_loss.is_some() {
                    dice.pseudo_dice()
                } else {
                    vec![None; n_fg]
                },
                mean_fg_dice: mean,
                ema_dice: self.ema,
                lr,
                seconds: start.elapsed().as_secs_f64(),
            };
            self.history.push(record.clone());
            let improved = matches!((self.ema, self.best_ema), (Some(e), None) if e.is_finite())
                || matches!((self.ema, self.best_ema), (Some(e), Some(b)) if e > b);
            if improved {
                self.best_ema = self.ema;
                self.save(CheckpointKind::Best)?;
            }
            let last = self.epochs_done == self.config.max_epochs;
            if let Some(dir) = &self.fold_dir {
                write_history_csv(
                    dir.join(crate::train::run_dir::TRAINING_LOG),
                    &self.history,
                    n_fg,
                )?;
            }
            let periodic = last || self.epochs_done.is_multiple_of(self.config.save_every);
            if periodic {
                self.save(CheckpointKind::Latest)?;
            }
            if last {
                self.save(CheckpointKind::Final)?;
            }
            if observer.on_epoch_end(&record).is_break() && !last {
                if !periodic {
                    self.save(CheckpointKind::Latest)?;
                }
                stopped = true;
                break;
            }
        }
        Ok(FitOutcome {
            epochs_done: self.epochs_done,
            stopped,
            best_ema: self.best_ema,
        })
    }
}
