//! Stages, their `.done` markers and the runner that skips finished stages.
//!
//! ```text
//! hash(stage) = SHA-256( hash(previous stage) ‖ stage name ‖ JSON(settings of the stage) )
//! ```
//!
//! A stage is skipped when `<out>/<stage>/.done` holds the same hash. A marker with another hash means the
//! inputs or settings changed: the stage folder is removed and the stage runs from scratch (the following
//! stages' hashes change with it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context as _, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::context::Context;
use super::files::{read_json, write_json_atomically};

/// The pipeline's stages in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Data set check (and cohort generation).
    Data,
    /// 1: nnU-Net preprocessing.
    Preprocess,
    /// 2: MedNeXt k3 on folds.
    TrainK3,
    /// 3: UpKern k5 fine-tuning (Dice+CE and focal).
    TrainK5,
    /// 4: ensemble inference on the test split.
    Inference,
    /// 5: radiomics.
    Radiomics,
    /// 6: pCR model.
    Pcr,
    /// 7: evaluation.
    Evaluation,
    /// 8: report.
    Report,
}

/// Every stage in order.
pub const STAGES: [Stage; 9] = [
    Stage::Data,
    Stage::Preprocess,
    Stage::TrainK3,
    Stage::TrainK5,
    Stage::Inference,
    Stage::Radiomics,
    Stage::Pcr,
    Stage::Evaluation,
    Stage::Report,
];

impl Stage {
    /// The folder / marker name (`preprocess`, `train_k3`, …).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Data => "data",
            Stage::Preprocess => "preprocess",
            Stage::TrainK3 => "train_k3",
            Stage::TrainK5 => "train_k5",
            Stage::Inference => "inference",
            Stage::Radiomics => "radiomics",
            Stage::Pcr => "pcr",
            Stage::Evaluation => "evaluation",
            Stage::Report => "report",
        }
    }

    /// Parses a stage name (as [`Stage::name`]).
    ///
    /// # Errors
    /// An unknown name.
    pub fn parse(s: &str) -> Result<Self> {
        STAGES
            .into_iter()
            .find(|st| st.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown stage `{s}` (stages: {:?})",
                    STAGES.map(Stage::name)
                )
            })
    }
}

/// The content of a `.done` marker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageMarker {
    /// The stage.
    pub stage: Stage,
    /// Hex SHA-256 (module docs).
    pub hash: String,
    /// Wall time of the stage when it ran, seconds.
    pub seconds: f64,
}

/// The marker file of a stage folder.
#[must_use]
pub fn marker_path(dir: &Path) -> PathBuf {
    dir.join(".done")
}

/// Runs stages in order, skipping finished ones.
#[derive(Debug)]
pub struct Runner<'a> {
    ctx: &'a Context,
    previous: String,
    timings: Vec<(Stage, f64, bool)>,
}

impl<'a> Runner<'a> {
    /// A runner at the start of the chain.
    #[must_use]
    pub fn new(ctx: &'a Context) -> Self {
        Runner {
            ctx,
            previous: String::new(),
            timings: Vec::new(),
        }
    }

    /// `(stage, seconds, skipped)` of the stages run so far.
    #[must_use]
    pub fn timings(&self) -> &[(Stage, f64, bool)] {
        &self.timings
    }

    /// Runs `body(stage folder)` unless the stage's marker matches (module docs).
    ///
    /// # Errors
    /// The body's error (no marker is written then), or a failed marker write.
    pub fn run<S: Serialize>(
        &mut self,
        stage: Stage,
        settings: &S,
        body: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        let mut h = Sha256::new();
        h.update(self.previous.as_bytes());
        h.update(stage.name().as_bytes());
        h.update(serde_json::to_vec(settings)?);
        let hash: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        self.previous.clone_from(&hash);
        let dir = self.ctx.stage_dir(stage);
        let marker = marker_path(&dir);
        if marker.is_file() {
            match read_json::<StageMarker>(&marker) {
                Ok(m) if m.hash == hash => {
                    self.ctx.log(&format!(
                        "stage {}: done before ({:.1} s), skipped",
                        stage.name(),
                        m.seconds
                    ));
                    self.timings.push((stage, m.seconds, true));
                    return Ok(());
                }
                _ => {
                    self.ctx.log(&format!(
                        "stage {}: inputs or settings changed, running it again",
                        stage.name()
                    ));
                    std::fs::remove_dir_all(&dir)
                        .with_context(|| format!("removing {}", dir.display()))?;
                }
            }
        }
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        self.ctx.log(&format!("stage {}: running", stage.name()));
        let start = Instant::now();
        body(&dir).with_context(|| format!("stage {}", stage.name()))?;
        let seconds = start.elapsed().as_secs_f64();
        write_json_atomically(
            &marker,
            &StageMarker {
                stage,
                hash,
                seconds,
            },
        )?;
        self.ctx
            .log(&format!("stage {}: done in {seconds:.1} s", stage.name()));
        self.timings.push((stage, seconds, false));
        Ok(())
    }
}
