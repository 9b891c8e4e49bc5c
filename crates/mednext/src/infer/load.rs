//! Finding and loading the networks of an inference run: a training run directory (all folds or one fold), or
//! a bare weights file with a configuration given separately.
//!
//! ```text
//! <run>/config.json                          {"model": MedNextConfig, "trainer": …}  (or a bare MedNextConfig)
//! <run>/plans.json                           the preprocessing plan the run was trained with
//! <run>/fold_<k>/checkpoint_final.safetensors   preferred
//! <run>/fold_<k>/checkpoint_best.safetensors    when there is no final checkpoint
//!
//! --model <run>            → one network per fold_<k>, k ascending (a fold ensemble)
//! --model <run>/fold_<k>   → that fold only (config and plans from <run>)
//! --model <file>           → safetensors / .pth / nnU-Net .model weights; the configuration comes from the
//!                            caller (--config, --preset) or from a config.json next to the file or one level up
//! ```
//!
//! Weights are read with [`crate::read_weights`] (format detected from the content, MONAI names renamed);
//! entries of a training checkpoint that are not model weights (optimiser state under [`OPTIMIZER_PREFIX`])
//! are dropped before the strict key check. A bare training checkpoint (`crate::train::checkpoint_io`) needs
//! no separate configuration: the one in its metadata is used. A run without numbered folds falls back to
//! `fold_all`. The deep-supervision heads are optional
//! (inference uses `out_0` only): the configuration is adjusted to the heads the file holds, and block
//! recomputation is switched off.
//!
//! References: nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`
//! (`initialize_from_trained_model_folder`: `plans.json` + `fold_<k>/checkpoint_final.pth` per fold), nnU-Net
//! v1 `nnunet/training/model_restore.py` (`load_model_and_checkpoint_files`: `model_final_checkpoint` or
//! `model_best`).

use std::path::{Path, PathBuf};

use candle_core::Device;

use crate::config::MedNextConfig;
use crate::error::{Error, Result};
use crate::model::MedNext;
use crate::weights::{read_weights, KeyNaming, NamedTensors};

/// The run's configuration file (the trainer's `RunConfig`, [`crate::train::run_dir::CONFIG_FILE`]).
pub const RUN_CONFIG_FILE: &str = crate::train::run_dir::CONFIG_FILE;
/// The run's preprocessing plan ([`crate::train::run_dir::PLANS_FILE`]).
pub const RUN_PLANS_FILE: &str = crate::train::run_dir::PLANS_FILE;
/// Prefix of the fold folders (`fold_0`, `fold_1`, …, `fold_all`).
pub const FOLD_PREFIX: &str = "fold_";
/// Key prefix of the optimiser entries in a training checkpoint
/// ([`crate::train::checkpoint_io::OPTIMIZER_PREFIX`]).
pub const OPTIMIZER_PREFIX: &str = crate::train::checkpoint_io::OPTIMIZER_PREFIX;

/// Which checkpoint of a fold is loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CheckpointChoice {
    /// `checkpoint_final`, else `checkpoint_best` (nnU-Net's default is the final one).
    #[default]
    FinalElseBest,
    /// `checkpoint_best` only.
    Best,
    /// `checkpoint_final` only.
    Final,
    /// `checkpoint_latest` only.
    Latest,
}

impl CheckpointChoice {
    /// The checkpoint stems tried, in order.
    #[must_use]
    pub fn stems(self) -> &'static [&'static str] {
        match self {
            CheckpointChoice::FinalElseBest => &["checkpoint_final", "checkpoint_best"],
            CheckpointChoice::Best => &["checkpoint_best"],
            CheckpointChoice::Final => &["checkpoint_final"],
            CheckpointChoice::Latest => &["checkpoint_latest"],
        }
    }
}

/// Extensions tried for a checkpoint stem, in order.
const CHECKPOINT_EXTENSIONS: [&str; 3] = ["safetensors", "pth", "model"];

/// One network to load: its weights, its configuration and the plan of its run (if known).
#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    /// The weights file.
    pub weights: PathBuf,
    /// The network configuration.
    pub config: MedNextConfig,
    /// The run's `plans.json`, when the weights belong to a run directory.
    pub plans: Option<PathBuf>,
}

/// Reads a configuration file: a run's `config.json` (the `model` object is taken) or a bare
/// [`MedNextConfig`] JSON.
///
/// # Errors
/// [`Error::Io`] when the file cannot be read; [`Error::Config`] naming it when neither form parses;
/// [`Error::InvalidParameter`] from [`MedNextConfig::check`].
pub fn read_model_config(path: impl AsRef<Path>) -> Result<MedNextConfig> {
    let path = path.as_ref();
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let config_err = |source| Error::Config {
        path: path.to_path_buf(),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(config_err)?;
    let model = match value.get("model") {
        Some(m) if m.is_object() => m.clone(),
        _ => value,
    };
    let cfg: MedNextConfig = serde_json::from_value(model).map_err(config_err)?;
    cfg.check()?;
    Ok(cfg)
}

/// The networks named by `path` (see the module docs), with `config` overriding the run's configuration
/// when given.
///
/// # Errors
/// [`Error::Io`] (not found) naming the path when it does not exist, a run has no fold, a fold has no
/// checkpoint of `choice`, or a bare weights file has no configuration; errors of [`read_model_config`].
pub fn resolve_models(
    path: impl AsRef<Path>,
    choice: CheckpointChoice,
    config: Option<&MedNextConfig>,
) -> Result<Vec<ModelSpec>> {
    let path = path.as_ref();
    if path.is_file() {
        let run = [path.parent(), path.parent().and_then(Path::parent)]
            .into_iter()
            .flatten()
            .find(|d| d.join(RUN_CONFIG_FILE).is_file());
        let config = match (config, run) {
            (Some(c), _) => c.clone(),
            (None, Some(run)) => read_model_config(run.join(RUN_CONFIG_FILE))?,
            (None, None) => match crate::train::checkpoint_io::read_training_state(path) {
                Ok(state) => state.model,
                Err(_) => {
                    return Err(not_found(
                        path,
                        "a bare weights file needs a configuration (--config or --preset)",
                    ))
                }
            },
        };
        return Ok(vec![ModelSpec {
            weights: path.to_path_buf(),
            config,
            plans: run.map(|r| r.join(RUN_PLANS_FILE)).filter(|p| p.is_file()),
        }]);
    }
    if !path.is_dir() {
        return Err(not_found(path, "no such model file or run directory"));
    }
    let (run, folds) = if path.join(RUN_CONFIG_FILE).is_file() {
        (path.to_path_buf(), fold_dirs(path)?)
    } else {
        match path.parent().filter(|p| p.join(RUN_CONFIG_FILE).is_file()) {
            Some(run) => (run.to_path_buf(), vec![path.to_path_buf()]),
            None => {
                return Err(not_found(
                    &path.join(RUN_CONFIG_FILE),
                    "neither this folder nor its parent is a run directory",
                ))
            }
        }
    };
    if folds.is_empty() {
        return Err(not_found(
            &run.join(format!("{FOLD_PREFIX}0")),
            "the run directory has no fold_<k> folder",
        ));
    }
    let config = match config {
        Some(c) => c.clone(),
        None => read_model_config(run.join(RUN_CONFIG_FILE))?,
    };
    let plans = Some(run.join(RUN_PLANS_FILE)).filter(|p| p.is_file());
    folds
        .iter()
        .map(|fold| {
            Ok(ModelSpec {
                weights: pick_checkpoint(fold, choice)?,
                config: config.clone(),
                plans: plans.clone(),
            })
        })
        .collect()
}

/// The checkpoint of one fold folder according to `choice`.
///
/// # Errors
/// [`Error::Io`] (not found) naming the first candidate when none exists.
pub fn pick_checkpoint(fold: &Path, choice: CheckpointChoice) -> Result<PathBuf> {
    for stem in choice.stems() {
        for ext in CHECKPOINT_EXTENSIONS {
            let p = fold.join(format!("{stem}.{ext}"));
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(not_found(
        &fold.join(format!("{}.safetensors", choice.stems()[0])),
        &format!("no checkpoint {:?} in this fold", choice.stems()),
    ))
}

/// `fold_<k>` sub-folders of a run, `k` ascending; `fold_all` when there is none.
fn fold_dirs(run: &Path) -> Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(run).map_err(|source| Error::Io {
        path: run.to_path_buf(),
        source,
    })?;
    let mut folds = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| Error::Io {
            path: run.to_path_buf(),
            source,
        })?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let k = name
            .strip_prefix(FOLD_PREFIX)
            .and_then(|k| k.parse::<usize>().ok());
        if let (Some(k), true) = (k, entry.path().is_dir()) {
            folds.push((k, entry.path()));
        }
    }
    folds.sort();
    let all = run.join(format!("{FOLD_PREFIX}all"));
    if folds.is_empty() && all.is_dir() {
        return Ok(vec![all]);
    }
    Ok(folds.into_iter().map(|(_, p)| p).collect())
}

fn not_found(path: &Path, what: &str) -> Error {
    Error::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::NotFound, what.to_string()),
    }
}

/// The model weights of a (training) checkpoint: entries under [`OPTIMIZER_PREFIX`] removed.
#[must_use]
pub fn model_weights(tensors: NamedTensors) -> NamedTensors {
    tensors
        .into_iter()
        .filter(|(k, _)| !k.starts_with(OPTIMIZER_PREFIX))
        .collect()
}

/// Loads one network for inference on `device`: the weights of `spec` ([`model_weights`]), the
/// configuration with `deep_supervision` set to whether the file holds the `out_1 … out_4` heads and block
/// recomputation off.
///
/// # Errors
/// [`Error::Checkpoint`] naming the file when it cannot be read; the strict key errors of
/// [`MedNext::from_named_tensors`] ([`Error::MissingTensor`], [`Error::UnexpectedTensor`],
/// [`Error::ShapeMismatch`]) wrapped with the file name in [`Error::InvalidParameter`] (key `weights`).
pub fn load_model(spec: &ModelSpec, device: &Device) -> Result<MedNext> {
    let tensors = model_weights(read_weights(&spec.weights)?);
    let naming = KeyNaming::detect(&tensors);
    let has_ds = tensors
        .keys()
        .any(|k| k.starts_with("out_1.") || k.starts_with("out_blocks.1."));
    let cfg = spec
        .config
        .clone()
        .with_deep_supervision(has_ds)
        .with_checkpoint_style(None);
    MedNext::from_named_tensors(&cfg, tensors, naming, device).map_err(|e| match e {
        Error::MissingTensor { .. }
        | Error::UnexpectedTensor { .. }
        | Error::ShapeMismatch { .. }
        | Error::MonaiIncompatible(_) => Error::InvalidParameter {
            key: "weights",
            reason: format!(
                "{}: does not fit the configuration: {e}",
                spec.weights.display()
            ),
        },
        other => other,
    })
}
