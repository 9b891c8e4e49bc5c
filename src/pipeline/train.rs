//! Stages 2 and 3: MedNeXt training through `mednext::train` in its run-directory layout.
//!
//! ```text
//! train_k3/          run dir: config.json, plans.json, splits_final.json (5 seeded folds)
//!   fold_<k>/        k in the budget's folds: checkpoint_{latest,best,final}.safetensors, training_log.csv,
//!                    training_curves.png;   best_fold.json = argmax_k final EMA pseudo Dice
//! train_k5/dice_ce/  run dir, fold_all: k5 network initialised by UpKern from train_k3/fold_<best>
//!                    (checkpoint_best, as run-mia.sh uses model_best), fine-tuned with Dice+CE on all cases
//! train_k5/focal/    the same with the focal loss variant (Dice + CE + focal)
//! ```
//!
//! An interrupted run resumes each fold from its `checkpoint_latest` (exact resume in `mednext::train`); a
//! fold with `checkpoint_final` is not trained again.
//!
//! References: toufiqmusah/caladan-mama-mia `segmentation/run-mia.sh`; `/work/shared/reference/mednext.md`
//! §12–13.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use indicatif::ProgressBar;
use mednext::train::run_dir::{
    CHECKPOINT_BEST, CHECKPOINT_FINAL, CHECKPOINT_LATEST, CONFIG_FILE, N_FOLDS, PLANS_FILE,
    SPLITS_FILE, SPLIT_SEED, TRAINING_CURVES, TRAINING_LOG,
};
use mednext::train::{
    initial_weights, nnunet_sources, read_model_tensors, EpochRecord, FoldId, InitMode, LossKind,
    RunConfig, TrainObserver, Trainer, TrainerConfig,
};
use mednext::MedNextConfig;
use nnunet_preproc::{
    fold_cases, generate_crossval_split, write_splits_json, CachedCase, Fold, PreprocessedCache,
    TrainingCase,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::context::Context;
use super::data::Inventory;
use super::files::{read_json, write_json_atomically};
use super::preprocess;
use super::stage::Stage;

/// The best k3 fold (`train_k3/best_fold.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BestFold {
    /// The fold index.
    pub fold: usize,
    /// Its final EMA pseudo Dice.
    pub ema_dice: f64,
    /// Final EMA pseudo Dice of every trained fold.
    pub folds: Vec<(usize, Option<f64>)>,
}

/// The two k5 variants: `(folder, loss)`.
pub const K5_VARIANTS: [(&str, LossKind); 2] = [
    ("dice_ce", LossKind::DiceCe),
    ("focal", LossKind::DiceCeFocal),
];

fn trainer_config(ctx: &Context, epochs: usize, loss: LossKind) -> TrainerConfig {
    let s = &ctx.settings;
    TrainerConfig {
        max_epochs: epochs,
        iters_per_epoch: s.iters_per_epoch,
        val_iters: s.val_iters,
        batch_size: s.batch_size,
        patch_size: s.patch_size,
        augmentation: s.augmentation,
        loss,
        seed: ctx.config.seed,
        ..TrainerConfig::default()
    }
}

/// Settings of stage 2.
pub fn k3_settings(ctx: &Context) -> serde_json::Value {
    json!({
        "model": ctx.settings.model_config(3),
        "trainer": trainer_config(ctx, ctx.settings.epochs_k3, LossKind::DiceCe),
        "folds": ctx.settings.folds,
        "device": ctx.config.device,
    })
}

/// Settings of stage 3.
pub fn k5_settings(ctx: &Context) -> serde_json::Value {
    json!({
        "model": ctx.settings.model_config(5),
        "trainer": K5_VARIANTS.map(|(_, l)| trainer_config(ctx, ctx.settings.epochs_k5, l)),
    })
}

/// A progress bar over the iterations of one run, with the epoch's numbers as message.
struct BarObserver<'a> {
    ctx: &'a Context,
    bar: ProgressBar,
    label: String,
}

impl TrainObserver for BarObserver<'_> {
    fn on_iteration(&mut self, _epoch: usize, _iteration: usize, _loss: f64) {
        self.bar.inc(1);
    }
    fn on_epoch_end(&mut self, r: &EpochRecord) -> ControlFlow<()> {
        let msg = format!(
            "{} epoch {}: train loss {:.4}, val loss {}, EMA Dice {}, lr {:.2e}, {:.1} s",
            self.label,
            r.epoch,
            r.train_loss,
            r.val_loss.map_or("-".into(), |v| format!("{v:.4}")),
            r.ema_dice.map_or("-".into(), |v| format!("{v:.4}")),
            r.lr,
            r.seconds
        );
        if self.ctx.config.progress {
            self.bar.println(format!("[pipeline] {msg}"));
        } else {
            self.ctx.log(&msg);
        }
        ControlFlow::Continue(())
    }
}

fn open_cases(cache: &PreprocessedCache, ids: &[String]) -> Result<Vec<Box<dyn TrainingCase>>> {
    ids.iter()
        .map(|id| -> Result<Box<dyn TrainingCase>> {
            Ok(Box::new(
                CachedCase::open(cache, id).with_context(|| format!("case {id}"))?,
            ))
        })
        .collect()
}

/// Trains (or resumes) one fold of a run dir; returns the final EMA pseudo Dice.
#[allow(clippy::too_many_arguments)]
fn train_fold(
    ctx: &Context,
    run: &Path,
    fold: FoldId,
    model: &MedNextConfig,
    cfg: &TrainerConfig,
    init: Option<&Path>,
    cache: &PreprocessedCache,
    split: &nnunet_preproc::FoldSplit,
    label: &str,
) -> Result<Option<f64>> {
    let fold_dir = run.join(fold.dir_name());
    let final_ckpt = fold_dir.join(CHECKPOINT_FINAL);
    let latest = fold_dir.join(CHECKPOINT_LATEST);
    if final_ckpt.is_file() {
        ctx.log(&format!("{label}: finished before, skipped"));
        let state = mednext::train::read_training_state(&final_ckpt)?;
        return Ok(state.ema_dice);
    }
    let mut trainer = if latest.is_file() {
        ctx.log(&format!("{label}: resuming from {}", latest.display()));
        Trainer::resume(&latest, &ctx.device)?
    } else if let Some(src) = init {
        ctx.log(&format!(
            "{label}: UpKern initialisation from {}",
            src.display()
        ));
        let weights = initial_weights(&read_model_tensors(src)?, model, InitMode::UpKern)?;
        Trainer::with_weights(model, cfg, &weights, &ctx.device)?
    } else {
        Trainer::new(model, cfg, &ctx.device)?
    }
    .with_output(&fold_dir, Some(fold));
    let (mut train, mut val) = nnunet_sources(
        open_cases(cache, &split.train)?,
        open_cases(cache, &split.val)?,
        cfg,
        ctx.settings.workers,
    )?;
    let remaining = (cfg.max_epochs - trainer.epochs_done()) * cfg.iters_per_epoch;
    let mut observer = BarObserver {
        ctx,
        bar: ctx.progress(remaining as u64, label),
        label: label.to_string(),
    };
    let outcome = trainer.fit(&mut train, Some(&mut val), &mut observer)?;
    observer.bar.finish_and_clear();
    let log = fold_dir.join(TRAINING_LOG);
    if log.is_file() {
        crate::plots::training_curves(&log, &fold_dir.join(TRAINING_CURVES))?;
    }
    Ok(trainer
        .history()
        .last()
        .and_then(|r| r.ema_dice)
        .or(outcome.best_ema))
}

fn write_run_files(
    ctx: &Context,
    run: &Path,
    model: &MedNextConfig,
    cfg: &TrainerConfig,
    fold: FoldId,
) -> Result<PathBuf> {
    std::fs::create_dir_all(run)?;
    let pre = ctx.stage_dir(Stage::Preprocess);
    let rc = RunConfig {
        model: model.clone(),
        trainer: cfg.clone(),
        preprocessed: Some(pre.join(preprocess::CACHE)),
        fold: Some(fold),
    };
    write_json_atomically(&run.join(CONFIG_FILE), &rc)?;
    let plans = std::fs::read(pre.join(preprocess::PLANS))?;
    super::files::write_bytes_atomically(&run.join(PLANS_FILE), &plans)?;
    Ok(pre.join(preprocess::CACHE))
}

/// Runs stage 2 into `dir`.
///
/// # Errors
/// Training errors.
pub fn run_k3(ctx: &Context, _inv: &Inventory, dir: &Path) -> Result<()> {
    let model = ctx.settings.model_config(3);
    let cfg = trainer_config(ctx, ctx.settings.epochs_k3, LossKind::DiceCe);
    let cache_dir = write_run_files(ctx, dir, &model, &cfg, FoldId::Index(ctx.settings.folds[0]))?;
    let cache = PreprocessedCache::open(&cache_dir)?;
    let mut ids = preprocess::cached_ids(&ctx.stage_dir(Stage::Preprocess))?;
    ids.sort();
    let splits = generate_crossval_split(&ids, N_FOLDS, SPLIT_SEED)?;
    write_splits_json(dir.join(SPLITS_FILE), &splits)?;
    let mut results = Vec::new();
    for &k in &ctx.settings.folds {
        let split = fold_cases(&splits, Fold::Index(k), &ids, SPLIT_SEED);
        let label = format!("k3 fold {k}");
        let ema = train_fold(
            ctx,
            dir,
            FoldId::Index(k),
            &model,
            &cfg,
            None,
            &cache,
            &split,
            &label,
        )?;
        ctx.log(&format!(
            "{label}: final EMA pseudo Dice {}",
            ema.map_or("-".into(), |v| format!("{v:.4}"))
        ));
        results.push((k, ema));
    }
    let (fold, ema_dice) = results
        .iter()
        .map(|&(k, e)| (k, e.unwrap_or(f64::NEG_INFINITY)))
        .fold((results[0].0, f64::NEG_INFINITY), |best, cur| {
            if cur.1 > best.1 {
                cur
            } else {
                best
            }
        });
    ctx.log(&format!(
        "best k3 fold: {fold} (EMA pseudo Dice {ema_dice:.4})"
    ));
    write_json_atomically(
        &dir.join("best_fold.json"),
        &BestFold {
            fold,
            ema_dice,
            folds: results,
        },
    )
}

/// The k3 checkpoint UpKern starts from: `checkpoint_best` of the best fold (else its `checkpoint_final`).
///
/// # Errors
/// `best_fold.json` cannot be read.
pub fn best_k3_checkpoint(ctx: &Context) -> Result<PathBuf> {
    let k3 = ctx.stage_dir(Stage::TrainK3);
    let best: BestFold = read_json(&k3.join("best_fold.json"))?;
    let fold = k3.join(FoldId::Index(best.fold).dir_name());
    let b = fold.join(CHECKPOINT_BEST);
    Ok(if b.is_file() {
        b
    } else {
        fold.join(CHECKPOINT_FINAL)
    })
}

/// Runs stage 3 into `dir`.
///
/// # Errors
/// Training or UpKern errors.
pub fn run_k5(ctx: &Context, _inv: &Inventory, dir: &Path) -> Result<()> {
    let model = ctx.settings.model_config(5);
    let source = best_k3_checkpoint(ctx)?;
    let mut ids = preprocess::cached_ids(&ctx.stage_dir(Stage::Preprocess))?;
    ids.sort();
    let split = fold_cases(&[], Fold::All, &ids, SPLIT_SEED);
    for (name, loss) in K5_VARIANTS {
        let run = dir.join(name);
        let cfg = trainer_config(ctx, ctx.settings.epochs_k5, loss);
        let cache_dir = write_run_files(ctx, &run, &model, &cfg, FoldId::All)?;
        let cache = PreprocessedCache::open(&cache_dir)?;
        let label = format!("k5 {name}");
        let ema = train_fold(
            ctx,
            &run,
            FoldId::All,
            &model,
            &cfg,
            Some(&source),
            &cache,
            &split,
            &label,
        )?;
        ctx.log(&format!(
            "{label}: final EMA pseudo Dice {}",
            ema.map_or("-".into(), |v| format!("{v:.4}"))
        ));
    }
    Ok(())
}

/// The k5 fold folders of the ensemble.
#[must_use]
pub fn k5_models(ctx: &Context) -> Vec<PathBuf> {
    K5_VARIANTS
        .iter()
        .map(|(name, _)| {
            ctx.stage_dir(Stage::TrainK5)
                .join(name)
                .join(FoldId::All.dir_name())
        })
        .collect()
}
