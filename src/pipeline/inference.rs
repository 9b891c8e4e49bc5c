//! Stage 4: ensemble inference on the test split through `mednext::infer`: the two fine-tuned k5 networks
//! (Dice+CE and focal) averaged over mirroring TTA, exported to the original grid, every voxel outside the
//! JSON breast box set to 0, largest connected component kept (26-connectivity) →
//! `pred_segmentations/<id>.nii.gz`. Cases already written are skipped (resume); a failed case is recorded
//! in `failures.json` and the rest go on.
//!
//! References: the MAMA-MIA organiser baseline (breast-box masking), FME's largest-component step
//! (`/work/shared/reference/mamamia.md` §2, §4); nnU-Net v1 `predict.py` (softmax averaging).

use std::path::Path;

use anyhow::{Context as _, Result};
use mednext::infer::{
    load_model, mask_path, predict_case, resolve_models, write_case_prediction, CheckpointChoice,
    EnsemblePredictor, InferenceConfig, Predictor, Tta,
};
use nnunet_preproc::{
    load_case, BreastBoxMasking, CaseFiles, Connectivity, MamaMia, Plans, PostprocessConfig,
    SegmentationRequirement,
};
use serde_json::json;

use super::context::Context;
use super::data::{CaseFailure, Inventory};
use super::files::write_json_atomically;
use super::stage::Stage;
use super::{preprocess, train};
use crate::cohort::Split;

/// The inference settings of the budget.
fn inference_config(ctx: &Context) -> InferenceConfig {
    InferenceConfig {
        tta: if ctx.settings.tta {
            Tta::Mirror
        } else {
            Tta::Off
        },
        postprocess: PostprocessConfig {
            breast_box: BreastBoxMasking::Apply,
            largest_component: Some(Connectivity::Full),
        },
        ..InferenceConfig::default()
    }
}

/// Settings of stage 4.
pub fn settings(ctx: &Context) -> serde_json::Value {
    json!({ "tta": ctx.settings.tta, "breast_box": true, "largest_component": "full", "step": 0.5 })
}

/// Runs stage 4 into `dir`.
///
/// # Errors
/// The models cannot be loaded, or a failed write; single cases fail into `failures.json`.
pub fn run(ctx: &Context, inv: &Inventory, dir: &Path) -> Result<()> {
    let mut members = Vec::new();
    for fold in train::k5_models(ctx) {
        for spec in resolve_models(&fold, CheckpointChoice::FinalElseBest, None)? {
            members.push(Predictor::new(
                load_model(&spec, &ctx.device)?,
                ctx.device.clone(),
            ));
        }
    }
    let ensemble = EnsemblePredictor::new(members)?;
    let plans = Plans::load(ctx.stage_dir(Stage::Preprocess).join(preprocess::PLANS))?;
    let ds = MamaMia::open(&inv.root)?;
    let config = inference_config(ctx);
    let cases: Vec<_> = inv.split(Split::Test).collect();
    let bar = ctx.progress(cases.len() as u64, "inference");
    let mut failures = Vec::new();
    for c in cases {
        bar.inc(1);
        if mask_path(dir, &c.id).is_file() {
            continue;
        }
        let result = (|| -> Result<()> {
            let files = CaseFiles {
                id: c.id.clone(),
                channels: c.phases.clone(),
                segmentation: None,
            };
            let case = load_case(&files, SegmentationRequirement::Optional)?;
            let breast_box = ds.patient_info(&c.id).ok().and_then(|i| i.breast_box);
            let pred = predict_case(&ensemble, &plans, &case, breast_box.as_ref(), &config)?;
            write_case_prediction(dir, &c.id, &pred)?;
            Ok(())
        })()
        .with_context(|| format!("case {}", c.id));
        if let Err(e) = result {
            ctx.log(&format!("inference failed: {e:#}"));
            failures.push(CaseFailure {
                patient_id: c.id.clone(),
                stage: "inference".into(),
                reason: format!("{e:#}"),
            });
        }
    }
    bar.finish_and_clear();
    write_json_atomically(&dir.join("failures.json"), &failures)
}
