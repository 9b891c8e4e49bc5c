//! Evaluate predicted segmentations (and pCR predictions) the MAMA-MIA way, plus mm-based reporting metrics.
//!
//! ```text
//! evaluate --pred <file or dir> --gt <file or dir> [--clinical clinical_and_imaging_info.(xlsx|csv)]
//!          [--pcr predictions.csv] --out report.json
//! ```
//!
//! A thin command line over [`dce_pipeline::evaluate`] (see there for the report's contents): MAMA-MIA Task 1
//! scores per case (`dice`, `hd95_vox`, `norm_hd`), mm-based `hd95_mm`/`assd_mm`/`nsd_2mm`, the means, and
//! with `--clinical` (and `--pcr`) the Task 1 (and Task 2) fairness and ranking. Per-case rows go to
//! `<out>.csv` beside the JSON.
//!
//! References: LidiaGarrucho/MAMA-MIA `src/challenge/{metrics, scoring_task1, scoring_task2}.py`;
//! `/work/shared/reference/mamamia.md` §2.

use std::path::PathBuf;

use anyhow::Result;
use clap::Parser;
use dce_pipeline::evaluate::{evaluate, EvaluateConfig};

#[derive(Debug, Parser)]
#[command(
    about = "MAMA-MIA Task 1/Task 2 scoring with subgroup fairness, plus mm-based surface metrics"
)]
struct Args {
    /// Predicted segmentation: a NIfTI file or a folder of `<case>.nii.gz`.
    #[arg(long)]
    pred: PathBuf,
    /// Ground-truth segmentation: a NIfTI file or a folder of `<case>.nii.gz`.
    #[arg(long)]
    gt: PathBuf,
    /// `clinical_and_imaging_info.xlsx` (sheet `dataset_info`) or a CSV export of it.
    #[arg(long)]
    clinical: Option<PathBuf>,
    /// Task 2 predictions CSV with columns `patient_id,pcr,score`.
    #[arg(long)]
    pcr: Option<PathBuf>,
    /// The JSON report; the per-case CSV is written beside it with extension `.csv`.
    #[arg(long)]
    out: PathBuf,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let config = EvaluateConfig {
        pred: args.pred,
        gt: args.gt,
        clinical: args.clinical,
        pcr: args.pcr,
        out: args.out,
    };
    let report = evaluate(&config)?;
    for f in report["failed"].as_array().into_iter().flatten() {
        eprintln!("failed: {}", f["error"].as_str().unwrap_or_default());
    }
    println!(
        "{} cases scored, {} failed; mean Dice {}, mean NormHD {}; report {} (+ {})",
        report["cases"].as_array().map_or(0, Vec::len),
        report["failed"].as_array().map_or(0, Vec::len),
        report["means"]["dice"]["mean"],
        report["means"]["norm_hd"]["mean"],
        config.out.display(),
        config.out.with_extension("csv").display()
    );
    Ok(())
}
