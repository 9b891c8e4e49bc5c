//! Train MedNeXt on a preprocessed data set the way the MedNeXt nnU-Net trainers do (resumable).
//!
//! ```text
//! train --preprocessed <dir> (--preset M --kernel 3 | --config cfg.json) [--fold 0|all] [--epochs N]
//!       [--iters-per-epoch N] [--val-iters N] [--batch-size 2] [--patch 128,128,128] [--lr 1e-3]
//!       [--loss dice_ce|dice_ce_focal] [--optimizer adamw|sgd] [--augmentation v1|v2|none]
//!       [--init-from ckpt [--upkern]] [--resume] [--workers N] [--seed S] [--device cpu|cuda] --out <run dir>
//! ```
//!
//! `<dir>` is what `preprocess` writes (`plans.json`, `dataset_fingerprint.json`, the cache). The run directory
//! gets `config.json`, `plans.json`, `splits_final.json` (seeded 5 folds unless one exists) and
//! `fold_<k>/{checkpoint_latest,checkpoint_best,checkpoint_final}.safetensors`, `training_log.csv`,
//! `training_curves.png` (layout: `mednext::train::run_dir`). `--resume` continues `fold_<k>` from
//! `checkpoint_latest` exactly; stage 2 of the paper is `--preset M --kernel 5 --init-from
//! <k3 run>/fold_all/checkpoint_best.safetensors --upkern --fold all`.
//!
//! Reference: nnU-Net v2.8.1 `nnunetv2/run/run_training.py` and MedNeXt's `nnUNet_train` (v1) with
//! `nnUNetTrainerV2_MedNeXt_*`; `/work/shared/reference/mednext.md` §12–13.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mednext::train::run_dir::{N_FOLDS, SPLIT_SEED};
use mednext::train::{
    initial_weights, nnunet_sources, read_model_tensors, AugmentationKind, CheckpointKind,
    EpochRecord, FoldId, InitMode, LossKind, OptimizerKind, RunConfig, RunDir, TrainObserver,
    Trainer, TrainerConfig,
};
use mednext::{MedNextConfig, Preset};
use nnunet_preproc::{
    fold_cases, generate_crossval_split, read_splits_json, write_splits_json, CachedCase, Fold,
    Plans, PreprocessedCache, TrainingCase,
};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LossArg {
    DiceCe,
    DiceCeFocal,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum OptimizerArg {
    Adamw,
    Sgd,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum AugmentArg {
    V1,
    V2,
    None,
}

#[derive(Debug, Parser)]
#[command(about = "Train MedNeXt (nnU-Net v1 MedNeXt trainer settings), resumable")]
struct Args {
    /// Preprocessed data set folder (plans.json + cache); read from <out>/config.json with --resume.
    #[arg(long)]
    preprocessed: Option<PathBuf>,
    /// Preset S, B, M or L (with --kernel, --classes); deep supervision is always on.
    #[arg(long, conflicts_with = "config", value_parser = parse_preset)]
    preset: Option<Preset>,
    /// Depthwise kernel size of the preset.
    #[arg(long, default_value_t = 3)]
    kernel: usize,
    /// Classes (background included) of the preset.
    #[arg(long, default_value_t = 2)]
    classes: usize,
    /// A MedNeXt configuration JSON instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A trainer configuration JSON (`TrainerConfig`; missing keys take the defaults) applied before the
    /// flags below.
    #[arg(long)]
    trainer_config: Option<PathBuf>,
    /// Fold: 0–4 or `all`.
    #[arg(long, default_value = "0")]
    fold: FoldId,
    /// Epochs (default 250).
    #[arg(long)]
    epochs: Option<usize>,
    /// Training iterations per epoch (default 250).
    #[arg(long)]
    iters_per_epoch: Option<usize>,
    /// Validation iterations per epoch (default 50).
    #[arg(long)]
    val_iters: Option<usize>,
    /// Batch size (default 2).
    #[arg(long)]
    batch_size: Option<usize>,
    /// Patch size z,y,x (default: the plans' patch).
    #[arg(long, value_delimiter = ',')]
    patch: Option<Vec<usize>>,
    /// Initial learning rate (default 1e-3 for AdamW, 1e-2 for SGD).
    #[arg(long)]
    lr: Option<f64>,
    /// Loss.
    #[arg(long, value_enum)]
    loss: Option<LossArg>,
    /// Optimiser.
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerArg>,
    /// Training augmentation.
    #[arg(long, value_enum)]
    augmentation: Option<AugmentArg>,
    /// Initial weights (a trainer checkpoint or any weights file).
    #[arg(long)]
    init_from: Option<PathBuf>,
    /// Resample the kernels of --init-from to this model's kernel size (UpKern).
    #[arg(long, requires = "init_from")]
    upkern: bool,
    /// Continue fold_<k> from its checkpoint_latest.
    #[arg(long, conflicts_with = "init_from")]
    resume: bool,
    /// Loader worker threads (0 = inline).
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Seed of the initialisation and the batch streams (default 12345).
    #[arg(long)]
    seed: Option<u64>,
    /// Device.
    #[arg(long, value_enum, default_value = "cpu")]
    device: DeviceArg,
    /// Generate this many synthetic cases (`nnunet_preproc::synthetic`, 3 phases, 2×1×1 mm resampled to
    /// 1 mm) into --preprocessed first, unless it already holds a plans.json (demos and timing runs).
    #[arg(long)]
    synthetic: Option<usize>,
    /// Run directory.
    #[arg(long)]
    out: PathBuf,
}

fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
    s.parse().map_err(|e: mednext::Error| e.to_string())
}

fn device(arg: DeviceArg) -> Result<Device> {
    match arg {
        DeviceArg::Cpu => Ok(Device::Cpu),
        DeviceArg::Cuda if cfg!(feature = "cuda") => {
            Device::new_cuda(0).context("--device cuda: no usable CUDA device 0")
        }
        DeviceArg::Cuda => bail!(
            "--device cuda: this binary was built without CUDA support; rebuild with \
             `cargo run --release --features cuda --example train -- …`"
        ),
    }
}

fn trainer_config(args: &Args) -> Result<TrainerConfig> {
    let mut c = match &args.trainer_config {
        Some(p) => serde_json::from_slice(
            &std::fs::read(p).with_context(|| format!("reading {}", p.display()))?,
        )
        .with_context(|| format!("{}: not a trainer configuration", p.display()))?,
        None => TrainerConfig::default(),
    };
    if let Some(o) = args.optimizer {
        c = match o {
            OptimizerArg::Adamw => TrainerConfig {
                optimizer: OptimizerKind::AdamW,
                ..c
            },
            OptimizerArg::Sgd => c.with_sgd(),
        };
    }
    let set = |v: Option<usize>, slot: &mut usize| {
        if let Some(v) = v {
            *slot = v;
        }
    };
    set(args.epochs, &mut c.max_epochs);
    set(args.iters_per_epoch, &mut c.iters_per_epoch);
    set(args.val_iters, &mut c.val_iters);
    set(args.batch_size, &mut c.batch_size);
    if let Some(p) = &args.patch {
        let [z, y, x] = p[..] else {
            bail!("--patch: give three sizes z,y,x, got {p:?}");
        };
        c.patch_size = [z, y, x];
    }
    if let Some(lr) = args.lr {
        c.initial_lr = lr;
    }
    if let Some(l) = args.loss {
        c.loss = match l {
            LossArg::DiceCe => LossKind::DiceCe,
            LossArg::DiceCeFocal => LossKind::DiceCeFocal,
        };
    }
    if let Some(a) = args.augmentation {
        c.augmentation = match a {
            AugmentArg::V1 => AugmentationKind::V1MoreDa,
            AugmentArg::V2 => AugmentationKind::V2Default,
            AugmentArg::None => AugmentationKind::None,
        };
    }
    if let Some(s) = args.seed {
        c.seed = s;
    }
    Ok(c)
}

/// Copies `name` from the preprocessed folder into the run folder (if present there and not here).
fn copy_if_present(from: &Path, to: &Path) -> Result<()> {
    if from.is_file() && !to.is_file() {
        std::fs::copy(from, to)
            .with_context(|| format!("copying {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}

struct Progress {
    bar: Option<ProgressBar>,
    /// Start of the epoch and end of its last training iteration.
    clock: (Option<std::time::Instant>, Option<std::time::Instant>),
    iters: usize,
    val_iters: usize,
    max_epochs: usize,
}

impl TrainObserver for Progress {
    fn on_epoch_start(&mut self, epoch: usize, lr: f64) {
        let bar = ProgressBar::new((self.iters + self.val_iters) as u64);
        if let Ok(style) = ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("epoch {}/{}", epoch + 1, self.max_epochs));
        bar.set_message(format!("lr {lr:.2e}"));
        self.bar = Some(bar);
        self.clock = (Some(std::time::Instant::now()), None);
    }
    fn on_iteration(&mut self, _epoch: usize, _iteration: usize, loss: f64) {
        self.clock.1 = Some(std::time::Instant::now());
        if let Some(b) = &self.bar {
            b.set_message(format!("loss {loss:+.4}"));
            b.inc(1);
        }
    }
    fn on_validation(&mut self, _epoch: usize, _iteration: usize) {
        if let Some(b) = &self.bar {
            b.set_message("validation".to_string());
            b.inc(1);
        }
    }
    fn on_epoch_end(&mut self, r: &EpochRecord) -> ControlFlow<()> {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
        let fmt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.4}"));
        let per_iter = match self.clock {
            (Some(a), Some(b)) => (b - a).as_secs_f64() / self.iters.max(1) as f64,
            _ => f64::NAN,
        };
        println!(
            "epoch {:>4}  train_loss {:+.4}  val_loss {}  pseudo_dice [{}]  ema {}  lr {:.3e}  {:.1} s \
             ({per_iter:.3} s/training iteration)",
            r.epoch,
            r.train_loss,
            fmt(r.val_loss),
            r.pseudo_dice.iter().map(|d| fmt(*d)).collect::<Vec<_>>().join(", "),
            fmt(r.ema_dice),
            r.lr,
            r.seconds
        );
        ControlFlow::Continue(())
    }
}

fn open_cases(cache: &PreprocessedCache, ids: &[String]) -> Result<Vec<Box<dyn TrainingCase>>> {
    ids.iter()
        .map(|id| {
            CachedCase::open(cache, id)
                .map(|c| Box::new(c) as Box<dyn TrainingCase>)
                .with_context(|| format!("opening case {id}"))
        })
        .collect()
}

/// `--synthetic N`: a generated data set big enough for the requested patch.
fn write_synthetic(dir: &Path, n: usize, patch: Option<&Vec<usize>>) -> Result<()> {
    if dir.join("plans.json").is_file() {
        return Ok(());
    }
    let p = match patch.map(|p| &p[..]) {
        Some(&[z, y, x]) => [z, y, x],
        _ => [32, 48, 48],
    };
    let cfg = nnunet_preproc::SyntheticConfig {
        shape: [p[0].div_ceil(2).max(20), p[1].max(48), p[2].max(48)],
        ..Default::default()
    };
    let (_, ids) = nnunet_preproc::write_synthetic_dataset(
        dir,
        n,
        &cfg,
        nnunet_preproc::Flavour::V1,
        [1.0, 1.0, 1.0],
    )?;
    println!("wrote {} synthetic cases to {}", ids.len(), dir.display());
    Ok(())
}

fn main() -> Result<()> {
    // Large tensors are reused instead of being mapped fresh from the kernel each time (mednext docs).
    mednext::retain_freed_memory();
    let args = Args::parse();
    let device = device(args.device)?;
    if let (Some(n), Some(dir)) = (args.synthetic, &args.preprocessed) {
        write_synthetic(dir, n, args.patch.as_ref())?;
    }
    let run = RunDir::new(&args.out);
    let fold_dir = run.fold_dir(args.fold);
    let latest = run.checkpoint(args.fold, CheckpointKind::Latest);

    let (mut trainer, run_cfg) = if args.resume {
        if !latest.is_file() {
            bail!("--resume: {} does not exist", latest.display());
        }
        let t = Trainer::resume(&latest, &device)
            .with_context(|| format!("resuming from {}", latest.display()))?;
        let previous = RunConfig::read(run.config()).ok();
        let preprocessed = args
            .preprocessed
            .clone()
            .or_else(|| previous.and_then(|p| p.preprocessed));
        let cfg = RunConfig {
            model: t.model().config().clone(),
            trainer: t.config().clone(),
            preprocessed,
            fold: Some(args.fold),
        };
        println!(
            "resuming fold {} at epoch {} of {}",
            args.fold,
            t.epochs_done(),
            t.config().max_epochs
        );
        (t, cfg)
    } else {
        if latest.is_file() {
            bail!(
                "{} exists: pass --resume to continue that run, or choose another --out",
                latest.display()
            );
        }
        let pre = args
            .preprocessed
            .clone()
            .context("--preprocessed is required for a new run")?;
        let plans = Plans::load(pre.join("plans.json"))
            .with_context(|| format!("{}: no plans.json", pre.display()))?;
        let n_in = plans.channel_names.len();
        let model = match (&args.config, args.preset) {
            (Some(p), _) => MedNextConfig::from_json_file(p)?,
            (None, Some(p)) => MedNextConfig::preset(p, n_in, args.classes, args.kernel),
            (None, None) => bail!("give --preset (with --kernel) or --config"),
        }
        .with_deep_supervision(true);
        if model.in_channels != n_in {
            bail!(
                "the model takes {} input channels, the plans have {n_in}",
                model.in_channels
            );
        }
        let mut tc = trainer_config(&args)?;
        if args.patch.is_none() && args.trainer_config.is_none() {
            tc.patch_size = plans.patch_size;
        }
        tc.check()?;
        let t = match &args.init_from {
            Some(src) => {
                let mode = if args.upkern {
                    InitMode::UpKern
                } else {
                    InitMode::Exact
                };
                let source = read_model_tensors(src)
                    .with_context(|| format!("reading {}", src.display()))?;
                let w = initial_weights(&source, &model, mode)
                    .with_context(|| format!("initialising from {} ({mode:?})", src.display()))?;
                println!("initialised from {} ({mode:?})", src.display());
                Trainer::with_weights(&model, &tc, &w, &device)?
            }
            None => Trainer::new(&model, &tc, &device)?,
        };
        let cfg = RunConfig {
            model,
            trainer: tc,
            preprocessed: Some(pre),
            fold: Some(args.fold),
        };
        (t, cfg)
    };

    let pre = run_cfg
        .preprocessed
        .clone()
        .context("no preprocessed folder (give --preprocessed)")?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    run_cfg.write(run.config())?;
    copy_if_present(&pre.join("plans.json"), &run.plans())?;
    copy_if_present(&pre.join("dataset_fingerprint.json"), &run.fingerprint())?;

    let cache = PreprocessedCache::open(&pre)?;
    let ids = cache.case_ids()?;
    let splits = if run.splits().is_file() {
        read_splits_json(run.splits())?
    } else if pre.join("splits_final.json").is_file() {
        let s = read_splits_json(pre.join("splits_final.json"))?;
        write_splits_json(run.splits(), &s)?;
        s
    } else {
        let s = generate_crossval_split(&ids, N_FOLDS.min(ids.len()), SPLIT_SEED)?;
        write_splits_json(run.splits(), &s)?;
        s
    };
    let fold = match args.fold {
        FoldId::Index(k) => Fold::Index(k),
        FoldId::All => Fold::All,
    };
    let split = fold_cases(&splits, fold, &ids, SPLIT_SEED);
    println!(
        "fold {}: {} training and {} validation cases, {} epochs × {} iterations, batch {}, patch {:?}",
        args.fold,
        split.train.len(),
        split.val.len(),
        run_cfg.trainer.max_epochs,
        run_cfg.trainer.iters_per_epoch,
        run_cfg.trainer.batch_size,
        run_cfg.trainer.patch_size
    );
    let (mut train, mut val) = nnunet_sources(
        open_cases(&cache, &split.train)?,
        open_cases(&cache, &split.val)?,
        &run_cfg.trainer,
        args.workers,
    )?;
    trainer = trainer.with_output(&fold_dir, Some(args.fold));
    let mut progress = Progress {
        bar: None,
        clock: (None, None),
        iters: run_cfg.trainer.iters_per_epoch,
        val_iters: run_cfg.trainer.val_iters,
        max_epochs: run_cfg.trainer.max_epochs,
    };
    let outcome = trainer.fit(&mut train, Some(&mut val), &mut progress)?;
    println!(
        "done: {} epochs, best EMA pseudo Dice {}; checkpoints in {}",
        outcome.epochs_done,
        outcome.best_ema.map_or("-".into(), |v| format!("{v:.4}")),
        fold_dir.display()
    );
    let png = run.training_curves(args.fold);
    match dce_pipeline::plots::training_curves(&run.training_log(args.fold), &png) {
        Ok(()) => println!("training curves: {}", png.display()),
        Err(e) => eprintln!("warning: no training-curve plot: {e:#}"),
    }
    Ok(())
}
