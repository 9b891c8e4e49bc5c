//! Training checkpoints: one safetensors file holding the model, the optimiser state and the training state,
//! written atomically.
//!
//! ```text
//! <key>                      model tensor under its ORIGINAL MedNeXt state-dict key (enc_block_0.0.conv1.weight …)
//! optimizer.<state key>      optimiser state tensor (e.g. optimizer.<param>.exp_avg)
//! __metadata__["format"]          "pt"
//! __metadata__["mednext_trainer"] JSON TrainingState: epochs done, next batch index, lr, EMA/best, seed,
//!                                 history, trainer + model configuration, checkpoint kind, fold
//! ```
//! A file is serialised in memory, written to a hidden temporary sibling, flushed to disk and renamed over the
//! target, so a crash leaves either the previous checkpoint or the new one, never a partial file.
//! [`Checkpoint::model`] holds exactly the network's state dict: [`crate::MedNext::from_named_tensors`]
//! (and, after [`export_model_weights`], `MedNext::from_file` / `mednext_forward --weights`) accept it.
//!
//! Reference: nnU-Net v2.8.1 `nnUNetTrainer.save_checkpoint` / `load_checkpoint` (`network_weights`,
//! `optimizer_state`, `logging`, `_best_ema`, `current_epoch`, `init_args`); MedNeXt v1 checkpoints
//! (`/work/shared/reference/mednext.md` §11); the safetensors format (huggingface/safetensors, `__metadata__`
//! string map).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use candle_core::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::config::MedNextConfig;
use crate::error::{Error, Result};
use crate::model::MedNext;
use crate::train::config::TrainerConfig;
use crate::train::history::EpochRecord;
use crate::train::run_dir::{CheckpointKind, FoldId};
use crate::weights::{KeyNaming, NamedTensors};

/// Prefix of optimiser-state tensors.
pub const OPTIMIZER_PREFIX: &str = "optimizer.";
/// The `__metadata__` key holding the [`TrainingState`] JSON.
pub const METADATA_KEY: &str = "mednext_trainer";
/// Version of the [`TrainingState`] layout.
pub const FORMAT_VERSION: u32 = 1;

/// Everything but tensors that a resumed run needs (stored as JSON in the safetensors metadata).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingState {
    /// [`FORMAT_VERSION`].
    pub format_version: u32,
    /// Which checkpoint this is.
    pub kind: CheckpointKind,
    /// The fold trained (if the run had one).
    pub fold: Option<FoldId>,
    /// Finished epochs (the resumed run starts at this epoch).
    pub epochs_done: usize,
    /// Index of the next training batch (`epochs_done · iters_per_epoch`).
    pub next_batch: u64,
    /// Index of the next validation batch.
    pub next_val_batch: u64,
    /// Learning rate of the last finished epoch.
    pub learning_rate: f64,
    /// Current EMA of the online pseudo Dice.
    pub ema_dice: Option<f64>,
    /// Best EMA so far (what `checkpoint_best` holds).
    pub best_ema: Option<f64>,
    /// Optimisation steps taken.
    pub steps: u64,
    /// Seed of the initialisation and the batch streams.
    pub seed: u64,
    /// One record per finished epoch.
    pub history: Vec<EpochRecord>,
    /// The trainer configuration.
    pub trainer: TrainerConfig,
    /// The network configuration.
    pub model: MedNextConfig,
}

/// A checkpoint read back: model tensors (original keys), optimiser state (keys without the prefix) and the
/// training state.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The network's state dict (original MedNeXt keys, CPU).
    pub model: NamedTensors,
    /// Optimiser state tensors, key order, without [`OPTIMIZER_PREFIX`].
    pub optimizer: Vec<(String, Tensor)>,
    /// The training state.
    pub state: TrainingState,
}

impl Checkpoint {
    /// Builds the network of the stored model configuration from the stored weights on `device`.
    ///
    /// # Errors
    /// As [`MedNext::from_named_tensors`].
    pub fn build_model(&self, device: &Device) -> Result<MedNext> {
        MedNext::from_named_tensors(
            &self.state.model,
            self.model.clone(),
            KeyNaming::Original,
            device,
        )
    }
}

/// Writes `bytes` to `path` atomically: a hidden temporary sibling, `fsync`, rename.
///
/// # Errors
/// [`Error::Io`] naming `path`; the temporary file is removed on failure.
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |f| f.write_all(bytes))
}

/// Writes a file atomically through `fill`, which writes the content into the temporary file. If `fill`
/// (or the flush, or the rename) fails, the temporary file is removed and `path` keeps its old content.
///
/// # Errors
/// [`Error::Io`] naming `path`.
pub fn write_atomically<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut std::fs::File) -> std::io::Result<()>,
{
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let tmp = temporary_sibling(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(io(e));
    }
    Ok(())
}

fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp{}", std::process::id()))
}

/// Serialises a checkpoint (module docs) to bytes.
///
/// # Errors
/// [`Error::CheckpointMetadata`] (naming `path`) when a key collides or safetensors refuses a tensor;
/// [`Error::Candle`] when a tensor cannot be copied to the CPU.
pub fn checkpoint_bytes(
    path: &Path,
    model: &NamedTensors,
    optimizer: &[(String, Tensor)],
    state: &TrainingState,
) -> Result<Vec<u8>> {
    let bad = |reason: String| Error::CheckpointMetadata {
        path: path.to_path_buf(),
        reason,
    };
    let mut all: Vec<(String, Tensor)> = Vec::with_capacity(model.len() + optimizer.len());
    for (k, t) in model {
        if k.starts_with(OPTIMIZER_PREFIX) {
            return Err(bad(format!("model key `{k}` uses the optimiser prefix")));
        }
        all.push((k.clone(), t.to_device(&Device::Cpu)?.contiguous()?));
    }
    for (k, t) in optimizer {
        all.push((
            format!("{OPTIMIZER_PREFIX}{k}"),
            t.to_device(&Device::Cpu)?.contiguous()?,
        ));
    }
    let json = serde_json::to_string(state).map_err(|e| bad(format!("state: {e}")))?;
    let meta = HashMap::from([
        ("format".to_string(), "pt".to_string()),
        (METADATA_KEY.to_string(), json),
    ]);
    safetensors::serialize(all.iter().map(|(k, t)| (k.as_str(), t)), Some(meta))
        .map_err(|e| bad(e.to_string()))
}

/// Writes a checkpoint atomically (module docs).
///
/// # Errors
/// As [`checkpoint_bytes`] and [`write_bytes_atomically`].
pub fn write_checkpoint(
    path: impl AsRef<Path>,
    model: &NamedTensors,
    optimizer: &[(String, Tensor)],
    state: &TrainingState,
) -> Result<()> {
    let path = path.as_ref();
    let bytes = checkpoint_bytes(path, model, optimizer, state)?;
    write_bytes_atomically(path, &bytes)
}

fn read_state_from(path: &Path, buffer: &[u8]) -> Result<TrainingState> {
    let bad = |reason: String| Error::CheckpointMetadata {
        path: path.to_path_buf(),
        reason,
    };
    let (_, meta) = safetensors::SafeTensors::read_metadata(buffer)
        .map_err(|e| bad(format!("not a safetensors file: {e}")))?;
    let json = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or_else(|| {
            bad(format!(
                "no `{METADATA_KEY}` metadata (weights only, not a trainer checkpoint)"
            ))
        })?;
    let state: TrainingState =
        serde_json::from_str(json).map_err(|e| bad(format!("metadata: {e}")))?;
    if state.format_version != FORMAT_VERSION {
        return Err(bad(format!(
            "format version {} (this build reads {FORMAT_VERSION})",
            state.format_version
        )));
    }
    Ok(state)
}

/// Reads only the [`TrainingState`] of a checkpoint.
///
/// # Errors
/// [`Error::Io`]; [`Error::CheckpointMetadata`] for a file without (valid) trainer metadata.
pub fn read_training_state(path: impl AsRef<Path>) -> Result<TrainingState> {
    let path = path.as_ref();
    let buffer = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    read_state_from(path, &buffer)
}

/// Reads a checkpoint onto the CPU: model tensors, optimiser state and training state.
///
/// # Errors
/// [`Error::Io`]; [`Error::CheckpointMetadata`] for a file without (valid) trainer metadata or with
/// undecodable tensors.
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<Checkpoint> {
    let path = path.as_ref();
    let buffer = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let state = read_state_from(path, &buffer)?;
    let tensors = candle_core::safetensors::load_buffer(&buffer, &Device::Cpu).map_err(|e| {
        Error::CheckpointMetadata {
            path: path.to_path_buf(),
            reason: format!("tensors: {e}"),
        }
    })?;
    let mut model = NamedTensors::new();
    let mut optimizer = Vec::new();
    for (k, t) in tensors {
        match k.strip_prefix(OPTIMIZER_PREFIX) {
            Some(o) => optimizer.push((o.to_string(), t)),
            None => {
                model.insert(k, t);
            }
        }
    }
    optimizer.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Checkpoint {
        model,
        optimizer,
        state,
    })
}

/// Writes only the model weights of a checkpoint (original keys) as a plain safetensors file, readable by
/// [`crate::read_weights`] / `MedNext::from_file`.
///
/// # Errors
/// As [`read_checkpoint`]; [`Error::Checkpoint`] when writing fails.
pub fn export_model_weights(checkpoint: impl AsRef<Path>, out: impl AsRef<Path>) -> Result<()> {
    let ckpt = read_checkpoint(checkpoint)?;
    Ok(upkern::write_safetensors(out, &ckpt.model)?)
}
