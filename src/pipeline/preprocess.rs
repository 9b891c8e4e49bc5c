//! Stage 1: nnU-Net v1 preprocessing (MedNeXt trained with v1) of the training cases — channels pre,
//! post1, post2; nonzero crop; per-channel z-score; resampling to an isotropic target spacing — into a
//! memory-mappable cache, with the plan's patch size set to the budget's.
//!
//! Reference: `examples/preprocess.rs` (the same calls); nnU-Net v1 `nnUNetPlansv2.1_trgSp_1x1x1`.

use std::path::Path;

use anyhow::{bail, Result};
use nnunet_preproc::batch::{fingerprint_cases, preprocess_cases, BatchOptions};
use nnunet_preproc::{
    dataset_fingerprint_for, write_json_atomically, CaseFiles, Flavour, Plans, PlansParams,
    PreprocessedCache, SegmentationRequirement, TargetSpacing,
};
use serde_json::json;

use super::context::Context;
use super::data::{CaseFailure, Inventory};
use super::files::write_json_atomically as write_json;
use crate::cohort::Split;

/// The plan file in the stage folder.
pub const PLANS: &str = "plans.json";
/// The cache folder in the stage folder.
pub const CACHE: &str = "cache";
/// Channel names of the plan.
pub const CHANNELS: [&str; 3] = ["pre", "post1", "post2"];

/// The stage's settings.
pub fn settings(ctx: &Context) -> serde_json::Value {
    json!({
        "spacing": ctx.settings.target_spacing_mm,
        "patch": ctx.settings.patch_size,
        "channels": CHANNELS,
    })
}

/// Runs the stage into `dir` (`plans.json`, `cache/`, `failures.json`).
///
/// # Errors
/// No training case could be read, or a failed write.
pub fn run(ctx: &Context, inv: &Inventory, dir: &Path) -> Result<()> {
    let files: Vec<CaseFiles> = inv
        .split(Split::Train)
        .map(|c| CaseFiles {
            id: c.id.clone(),
            channels: c.phases.clone(),
            segmentation: Some(c.mask.clone()),
        })
        .collect();
    let options = BatchOptions {
        segmentation: SegmentationRequirement::Required,
        progress: ctx.config.progress,
    };
    let cache_dir = dir.join(CACHE);
    let cache = PreprocessedCache::create(&cache_dir)?;
    let plans_path = dir.join(PLANS);
    let mut failures = Vec::new();
    let plans = if plans_path.is_file() {
        Plans::load(&plans_path)?
    } else {
        ctx.log(&format!("fingerprinting {} training cases", files.len()));
        let (fps, failed) = fingerprint_cases(&files, &options);
        for (id, message) in failed {
            failures.push(CaseFailure {
                patient_id: id,
                stage: "preprocess".into(),
                reason: message,
            });
        }
        if fps.is_empty() {
            bail!("no readable training case");
        }
        let fps: Vec<_> = fps.into_iter().map(|(_, f)| f).collect();
        let fingerprint = dataset_fingerprint_for(&fps, Flavour::V1)?;
        write_json_atomically(&dir.join("dataset_fingerprint.json"), &fingerprint)?;
        let s = ctx.settings.target_spacing_mm;
        let params = PlansParams::new()
            .flavour(Flavour::V1)
            .target_spacing(TargetSpacing::Fixed([s, s, s]));
        let names: Vec<String> = CHANNELS.iter().map(|s| (*s).to_string()).collect();
        let mut plans = Plans::from_fingerprint(&fingerprint, &names, &params)?;
        plans.patch_size = ctx.settings.patch_size;
        plans.save(&plans_path)?;
        plans
    };
    ctx.log(&format!(
        "preprocessing to {:?} mm, patch {:?}",
        plans.spacing_untransposed(),
        plans.patch_size
    ));
    let report = preprocess_cases(&files, &plans, &cache, &options)?;
    for (id, message) in report.failed {
        failures.push(CaseFailure {
            patient_id: id,
            stage: "preprocess".into(),
            reason: message,
        });
    }
    ctx.log(&format!(
        "{} preprocessed, {} already done, {} failed",
        report.done.len(),
        report.skipped.len(),
        failures.len()
    ));
    write_json(&dir.join("failures.json"), &failures)
}

/// The ids present in the cache of a finished stage folder.
///
/// # Errors
/// The cache cannot be opened.
pub fn cached_ids(dir: &Path) -> Result<Vec<String>> {
    let cache = PreprocessedCache::open(dir.join(CACHE))?;
    Ok(cache.case_ids()?)
}
