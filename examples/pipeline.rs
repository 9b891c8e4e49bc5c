//! The paper's whole method end to end (see `dce_pipeline::pipeline` for the stages).
//!
//! ```text
//! pipeline [--data <MAMA-MIA root>] [--out out/pipeline] [--device cpu|cuda] [--budget quick|paper]
//!          [--cases N] [--seed S] [--stop-after <stage>] [--quiet]
//! ```
//!
//! Without `--data` it generates the synthetic cohort into `<out>/cohort`. Re-running skips finished stages.

use std::path::PathBuf;

use clap::Parser;
use dce_pipeline::pipeline::{run, Budget, DeviceKind, PipelineConfig, Stage};

#[derive(Debug, Parser)]
#[command(
    about = "MedNeXt segmentation + radiomics/SNN pCR on MAMA-MIA or a synthetic cohort, end to end"
)]
struct Args {
    /// MAMA-MIA root (default: generate the synthetic cohort into <out>/cohort).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Output folder.
    #[arg(long, default_value = "out/pipeline")]
    out: PathBuf,
    /// cpu or cuda (needs `--features cuda`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// quick (CPU-sized) or paper (250 epochs per stage, 128³ patches, 5 folds).
    #[arg(long, default_value = "quick")]
    budget: String,
    /// Synthetic cohort size, or the first N cases of --data.
    #[arg(long)]
    cases: Option<usize>,
    /// Seed of the cohort, the training runs and the pCR model.
    #[arg(long, default_value_t = 2025)]
    seed: u64,
    /// Stop after this stage (data, preprocess, train_k3, train_k5, inference, radiomics, pcr, evaluation).
    #[arg(long)]
    stop_after: Option<String>,
    /// No progress bars.
    #[arg(long)]
    quiet: bool,
}

fn main() {
    // Large tensors are reused instead of being mapped fresh from the kernel each time (mednext docs).
    mednext::retain_freed_memory();
    let args = Args::parse();
    let result = (|| -> anyhow::Result<()> {
        let config = PipelineConfig {
            data: args.data.clone(),
            out: args.out.clone(),
            device: DeviceKind::parse(&args.device)?,
            budget: Budget::parse(&args.budget)?,
            cases: args.cases,
            seed: args.seed,
            stop_after: args.stop_after.as_deref().map(Stage::parse).transpose()?,
            progress: !args.quiet,
            settings: None,
        };
        let outcome = run(&config)?;
        if let Some(s) = outcome.summary {
            println!("{}", serde_json::to_string_pretty(&s)?);
        }
        if let Some(r) = outcome.report {
            println!("report: {}", r.join("report.md").display());
        }
        Ok(())
    })();
    if let Err(e) = result {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}
