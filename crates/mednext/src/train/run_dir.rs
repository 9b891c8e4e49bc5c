//! The layout of a training run directory (what the trainer writes and inference reads).
//!
//! ```text
//! <out>/config.json                       RunConfig: model MedNextConfig + TrainerConfig + preprocessed dir
//! <out>/plans.json                        copied from the preprocessed dir
//! <out>/dataset_fingerprint.json          copied from the preprocessed dir (when present)
//! <out>/splits_final.json                 nnU-Net style [{"train": [...], "val": [...]}, ...], seeded 5 folds
//! <out>/fold_<k>/checkpoint_latest.safetensors   the resume point (every `save_every` epochs)
//! <out>/fold_<k>/checkpoint_best.safetensors     new best EMA pseudo Dice
//! <out>/fold_<k>/checkpoint_final.safetensors    after the last epoch
//! <out>/fold_<k>/training_log.csv         one row per epoch (see `history`)
//! <out>/fold_<k>/training_curves.png      optional plot of the log
//! <out>/fold_all/…                        the same for nnU-Net's fold "all"
//! ```
//!
//! Reference: nnU-Net v2.8.1 `nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py` (output folder
//! `fold_{fold}`, `checkpoint_{latest,best,final}.pth`, `plans.json`, `dataset_fingerprint.json` next to the
//! folds, `splits_final.json` in the preprocessed folder); here the checkpoints are safetensors files
//! (`checkpoint_io`).

use std::path::{Path, PathBuf};

/// `<out>/config.json`.
pub const CONFIG_FILE: &str = "config.json";
/// `<out>/plans.json`.
pub const PLANS_FILE: &str = "plans.json";
/// `<out>/dataset_fingerprint.json`.
pub const FINGERPRINT_FILE: &str = "dataset_fingerprint.json";
/// `<out>/splits_final.json`.
pub const SPLITS_FILE: &str = "splits_final.json";
/// The resume point.
pub const CHECKPOINT_LATEST: &str = "checkpoint_latest.safetensors";
/// The checkpoint with the best EMA pseudo Dice.
pub const CHECKPOINT_BEST: &str = "checkpoint_best.safetensors";
/// The checkpoint after the last epoch.
pub const CHECKPOINT_FINAL: &str = "checkpoint_final.safetensors";
/// The per-epoch log.
pub const TRAINING_LOG: &str = "training_log.csv";
/// The training-curve plot (written by the example when a plotter is available).
pub const TRAINING_CURVES: &str = "training_curves.png";
/// Number of cross-validation folds of `splits_final.json` (nnU-Net: 5).
pub const N_FOLDS: usize = 5;
/// Seed of the cross-validation split (nnU-Net: 12345).
pub const SPLIT_SEED: u64 = 12345;

/// Which fold a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FoldId {
    /// Fold `k` of `splits_final.json`.
    Index(usize),
    /// nnU-Net's fold "all" (train and validate on every case).
    All,
}

impl FoldId {
    /// The folder name: `fold_<k>` or `fold_all`.
    #[must_use]
    pub fn dir_name(self) -> String {
        match self {
            FoldId::Index(k) => format!("fold_{k}"),
            FoldId::All => "fold_all".to_string(),
        }
    }
}

impl std::fmt::Display for FoldId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FoldId::Index(k) => write!(f, "{k}"),
            FoldId::All => f.write_str("all"),
        }
    }
}

impl std::str::FromStr for FoldId {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(FoldId::All);
        }
        s.parse::<usize>()
            .map(FoldId::Index)
            .map_err(|_| format!("fold `{s}`: expected a non-negative integer or `all`"))
    }
}

/// Which of the three checkpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckpointKind {
    /// `checkpoint_latest` (resume point).
    Latest,
    /// `checkpoint_best` (best EMA pseudo Dice).
    Best,
    /// `checkpoint_final` (end of training).
    Final,
}

impl CheckpointKind {
    /// The file name inside a fold folder.
    #[must_use]
    pub fn file_name(self) -> &'static str {
        match self {
            CheckpointKind::Latest => CHECKPOINT_LATEST,
            CheckpointKind::Best => CHECKPOINT_BEST,
            CheckpointKind::Final => CHECKPOINT_FINAL,
        }
    }
}

/// Paths of a run directory (module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    root: PathBuf,
}

impl RunDir {
    /// A run directory rooted at `root` (nothing is created).
    #[must_use]
    pub fn new(root: impl AsRef<Path>) -> Self {
        RunDir {
            root: root.as_ref().to_path_buf(),
        }
    }

    /// The root folder.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<out>/config.json`.
    #[must_use]
    pub fn config(&self) -> PathBuf {
        self.root.join(CONFIG_FILE)
    }

    /// `<out>/plans.json`.
    #[must_use]
    pub fn plans(&self) -> PathBuf {
        self.root.join(PLANS_FILE)
    }

    /// `<out>/dataset_fingerprint.json`.
    #[must_use]
    pub fn fingerprint(&self) -> PathBuf {
        self.root.join(FINGERPRINT_FILE)
    }

    /// `<out>/splits_final.json`.
    #[must_use]
    pub fn splits(&self) -> PathBuf {
        self.root.join(SPLITS_FILE)
    }

    /// `<out>/fold_<k>` or `<out>/fold_all`.
    #[must_use]
    pub fn fold_dir(&self, fold: FoldId) -> PathBuf {
        self.root.join(fold.dir_name())
    }

    /// A checkpoint of a fold.
    #[must_use]
    pub fn checkpoint(&self, fold: FoldId, kind: CheckpointKind) -> PathBuf {
        self.fold_dir(fold).join(kind.file_name())
    }

    /// `<out>/fold_<k>/training_log.csv`.
    #[must_use]
    pub fn training_log(&self, fold: FoldId) -> PathBuf {
        self.fold_dir(fold).join(TRAINING_LOG)
    }

    /// `<out>/fold_<k>/training_curves.png`.
    #[must_use]
    pub fn training_curves(&self, fold: FoldId) -> PathBuf {
        self.fold_dir(fold).join(TRAINING_CURVES)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_names() {
        let r = RunDir::new("/runs/a");
        assert_eq!(
            r.checkpoint(FoldId::Index(3), CheckpointKind::Best),
            Path::new("/runs/a/fold_3/checkpoint_best.safetensors")
        );
        assert_eq!(
            r.training_log(FoldId::All),
            Path::new("/runs/a/fold_all/training_log.csv")
        );
        assert_eq!("all".parse::<FoldId>(), Ok(FoldId::All));
        assert_eq!("2".parse::<FoldId>(), Ok(FoldId::Index(2)));
        assert!("x".parse::<FoldId>().is_err());
        assert_eq!(FoldId::Index(0).to_string(), "0");
    }
}
