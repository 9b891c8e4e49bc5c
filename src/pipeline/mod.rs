//! The paper's whole method as eight resumable stages: the library behind `examples/pipeline.rs`.
//!
//! ```text
//! data        --data <MAMA-MIA root>, or the synthetic cohort generated into <out>/cohort; every case checked
//!             (3 phases, expert mask, patient JSON, clinical row) → inventory.json, failures.json
//! 1 preprocess   nnU-Net v1 preprocessing of the training cases, channels 0,1,2, isotropic target spacing
//! 2 train_k3     MedNeXt k3 on cross-validation folds (Dice+CE), best fold by final EMA pseudo Dice
//! 3 train_k5     UpKern k3 → k5 from the best fold, fine-tuned on all training cases (fold "all"), Dice+CE and
//!                the focal variant
//! 4 inference    ensemble (k5 Dice+CE + k5 focal) with mirroring TTA on the test split, original grid,
//!                breast-box masking, largest component → pred_segmentations/<id>.nii.gz
//! 5 radiomics    PyRadiomics default features on the first post-contrast phase: training cases from the expert
//!                masks, test cases from the PREDICTED masks
//! 6 pcr          correlation filter, forward selection, SNN, out-of-fold temperature scaling and threshold
//!                → model bundle, predictions.csv (patient_id, pcr, score)
//! 7 evaluation   Dice, HD95, NormHD per case and per centre, Task 1; balanced accuracy, AUC, ECE, subgroups,
//!                Task 2 (src/evaluate.rs)
//! 8 report       summary.json, report.md, figures, pred_segmentations/, predictions.csv, models/
//! ```
//!
//! Each stage writes into `<out>/<stage>/` and, once its outputs are in place (every file written
//! atomically), a marker `<out>/<stage>/.done` holding the SHA-256 of its settings chained with the
//! previous stage's hash. A re-run skips a stage whose marker matches; a stage without a marker (interrupted)
//! resumes from what it finished (training from `checkpoint_latest`, inference and radiomics per case); a
//! marker with another hash (changed settings or inputs) makes the stage and everything after it run again
//! from scratch.
//!
//! References: Musah, arXiv 2508.01831 and toufiqmusah/caladan-mama-mia (`segmentation/run-mia.sh`,
//! `pcr-classification/pcr_classifier.py`); `/work/shared/reference/mamamia.md` §2–4.

mod budget;
mod context;
mod data;
mod evaluation;
mod features;
pub mod files;
mod inference;
mod pcr;
mod preprocess;
mod report;
mod stage;
mod train;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

pub use budget::{Budget, BudgetSettings};
pub use context::{Context, DeviceKind};
pub use data::{CaseFailure, Inventory};
pub use stage::{Stage, StageMarker, STAGES};

/// Settings of a pipeline run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineConfig {
    /// A MAMA-MIA root; `None` generates the synthetic cohort into `<out>/cohort`.
    pub data: Option<PathBuf>,
    /// Output folder.
    pub out: PathBuf,
    /// Compute device of the networks.
    pub device: DeviceKind,
    /// Compute budget.
    pub budget: Budget,
    /// Synthetic cohort size (without `data`), or the first `N` cases of `data`; `None`: the budget's default
    /// (synthetic) or every case (MAMA-MIA).
    pub cases: Option<usize>,
    /// Seed of the cohort, the training runs and the pCR model.
    pub seed: u64,
    /// Stop after this stage (an interruption on purpose; the next run resumes).
    pub stop_after: Option<Stage>,
    /// Draw progress bars.
    pub progress: bool,
    /// Override of the budget's settings (tests use smaller ones).
    pub settings: Option<BudgetSettings>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            data: None,
            out: PathBuf::from("out/pipeline"),
            device: DeviceKind::Cpu,
            budget: Budget::Quick,
            cases: None,
            seed: 2025,
            stop_after: None,
            progress: true,
            settings: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PipelineOutcome {
    /// `(stage, seconds it took when it ran, whether this run skipped it)` in order.
    pub stages: Vec<(Stage, f64, bool)>,
    /// The report folder (`<out>/report`), when the run got that far.
    pub report: Option<PathBuf>,
    /// `summary.json` of the report, when written.
    pub summary: Option<serde_json::Value>,
}

/// Runs the pipeline (module docs).
///
/// # Errors
/// A `data` path that is not a MAMA-MIA root (one line naming it), no usable case, or a stage's error.
pub fn run(config: &PipelineConfig) -> Result<PipelineOutcome> {
    if let Some(d) = &config.data {
        if !d.join("images").is_dir() && !d.join("IMAGES").is_dir() {
            bail!(
                "--data {}: not a MAMA-MIA root (no images/ folder there)",
                d.display()
            );
        }
    }
    let settings = config
        .settings
        .clone()
        .unwrap_or_else(|| config.budget.settings());
    settings.check()?;
    let ctx = Context::new(config, settings)?;
    let start = Instant::now();
    let mut runner = stage::Runner::new(&ctx);
    let inventory = data::prepare(&ctx, &mut runner)?;
    let mut report = None;
    let mut summary = None;
    'stages: {
        if config.stop_after == Some(Stage::Data) {
            ctx.log("stopping after stage data as asked");
            break 'stages;
        }
        macro_rules! step {
            ($stage:expr, $settings:expr, $body:expr) => {
                runner.run($stage, &$settings, $body)?;
                if config.stop_after == Some($stage) {
                    ctx.log(&format!("stopping after stage {} as asked", $stage.name()));
                    break 'stages;
                }
            };
        }
        step!(Stage::Preprocess, preprocess::settings(&ctx), |dir| {
            preprocess::run(&ctx, &inventory, dir)
        });
        step!(Stage::TrainK3, train::k3_settings(&ctx), |dir| {
            train::run_k3(&ctx, &inventory, dir)
        });
        step!(Stage::TrainK5, train::k5_settings(&ctx), |dir| {
            train::run_k5(&ctx, &inventory, dir)
        });
        step!(Stage::Inference, inference::settings(&ctx), |dir| {
            inference::run(&ctx, &inventory, dir)
        });
        step!(Stage::Radiomics, features::settings(&ctx), |dir| {
            features::run(&ctx, &inventory, dir)
        });
        step!(Stage::Pcr, pcr::settings(&ctx), |dir| pcr::run(
            &ctx, &inventory, dir
        ));
        step!(Stage::Evaluation, evaluation::settings(&ctx), |dir| {
            evaluation::run(&ctx, &inventory, dir)
        });
        let timings = runner.timings().to_vec();
        step!(Stage::Report, report::settings(&ctx), |dir| report::run(
            &ctx, &inventory, &timings, dir
        ));
        let dir = ctx.stage_dir(Stage::Report);
        summary = Some(files::read_json(&dir.join(report::SUMMARY))?);
        report = Some(dir);
    }
    ctx.log(&format!(
        "finished in {:.1} s ({})",
        start.elapsed().as_secs_f64(),
        ctx.out.display()
    ));
    Ok(PipelineOutcome {
        stages: runner.timings().to_vec(),
        report,
        summary,
    })
}
