//! Stage 8: the report folder.
//!
//! ```text
//! report/summary.json            dice_mean, norm_hd_mean, hd95_vox_mean, task1_score, pcr_balanced_accuracy,
//!                                pcr_auc, pcr_ece, task2_score, n_test, n_failures, stage_seconds, …
//! report/report.md               the tables (per case, per centre, subgroups, pCR, timings, failures) and,
//!                                beside them, the seed paper's numbers (mamamia.md §4)
//! report/figures/*.png           training curves, overlays (3 test cases), reliability diagram, subgroup bars
//! report/pred_segmentations/     Task 1 submission (<id>.nii.gz, original grid)
//! report/predictions.csv         Task 2 submission (patient_id, pcr, score)
//! report/models/                 k3 best fold, k5 Dice+CE, k5 focal (checkpoint + config.json + plans.json),
//!                                pcr/ (SNN bundle)
//! report/failures.json           every skipped case with the stage and the reason
//! ```

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context as _, Result};
use medmetrics::{ReliabilityBin, ReliabilityCurve};
use ndarray::Axis;
use serde_json::{json, Value};

use super::context::Context;
use super::data::{CaseFailure, Inventory, FAILURES};
use super::files::{
    read_json, write_bytes_atomically, write_json_atomically, write_text_atomically,
};
use super::stage::Stage;
use super::{pcr, train};
use crate::cohort::Split;
use crate::plots::{
    overlay_case, reliability_diagram, subgroup_bars, training_curves, SubgroupBar,
};

/// The summary file.
pub const SUMMARY: &str = "summary.json";

/// Settings of stage 8.
pub fn settings(_ctx: &Context) -> Value {
    json!({ "overlays": 3 })
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    let bytes = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    write_bytes_atomically(to, &bytes)
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    for e in std::fs::read_dir(from)? {
        let p = e?.path();
        if p.is_file() {
            let name = p.file_name().unwrap_or_default();
            if !name.to_string_lossy().starts_with('.') {
                copy(&p, &to.join(name))?;
            }
        }
    }
    Ok(())
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(f64::NAN)
}

fn fmt(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "n/a".into()
    }
}

/// Runs stage 8 into `dir`.
///
/// # Errors
/// Missing inputs of earlier stages or a failed write.
pub fn run(
    ctx: &Context,
    inv: &Inventory,
    timings: &[(Stage, f64, bool)],
    dir: &Path,
) -> Result<()> {
    let eval_dir = ctx.stage_dir(Stage::Evaluation);
    let ev: Value = read_json(&eval_dir.join("evaluation.json"))?;
    let centres: Value = read_json(&eval_dir.join("centres.json"))?;
    let pcr_eval: Value = read_json(&eval_dir.join("pcr.json"))?;
    let oof: Value = read_json(&ctx.stage_dir(Stage::Pcr).join(pcr::OOF))?;
    let figures = dir.join("figures");

    // Failures of every stage.
    let mut failures: Vec<CaseFailure> = inv.failures.clone();
    for st in [Stage::Preprocess, Stage::Inference, Stage::Radiomics] {
        let p = ctx.stage_dir(st).join(FAILURES);
        if p.is_file() {
            failures.extend(read_json::<Vec<CaseFailure>>(&p)?);
        }
    }
    write_json_atomically(&dir.join(FAILURES), &failures)?;

    // Submissions and models.
    let pred_src = ctx
        .stage_dir(Stage::Inference)
        .join(mednext::infer::PRED_SEGMENTATIONS_DIR);
    copy_dir(&pred_src, &dir.join("pred_segmentations"))?;
    copy(
        &ctx.stage_dir(Stage::Pcr).join(pcr::PREDICTIONS),
        &dir.join("predictions.csv"),
    )?;
    let models = dir.join("models");
    let best = train::best_k3_checkpoint(ctx)?;
    let k3_run = ctx.stage_dir(Stage::TrainK3);
    copy(
        &best,
        &models
            .join("k3_best_fold")
            .join(best.file_name().unwrap_or_default()),
    )?;
    for file in ["config.json", "plans.json"] {
        copy(&k3_run.join(file), &models.join("k3_best_fold").join(file))?;
    }
    for ((name, _), fold) in train::K5_VARIANTS.iter().zip(train::k5_models(ctx)) {
        let target = models.join(format!("k5_{name}"));
        copy(
            &fold.join("checkpoint_final.safetensors"),
            &target.join("checkpoint_final.safetensors"),
        )?;
        let run = fold.parent().unwrap_or(&fold);
        for file in ["config.json", "plans.json"] {
            copy(&run.join(file), &target.join(file))?;
        }
    }
    copy_dir(
        &ctx.stage_dir(Stage::Pcr).join(pcr::MODEL),
        &models.join("pcr"),
    )?;

    // Figures: training curves.
    let mut curve_pngs = Vec::new();
    let mut logs: Vec<(String, std::path::PathBuf)> = ctx
        .settings
        .folds
        .iter()
        .map(|k| {
            (
                format!("k3_fold_{k}"),
                k3_run.join(format!("fold_{k}")).join("training_log.csv"),
            )
        })
        .collect();
    for ((name, _), fold) in train::K5_VARIANTS.iter().zip(train::k5_models(ctx)) {
        logs.push((format!("k5_{name}"), fold.join("training_log.csv")));
    }
    for (name, log) in logs {
        if log.is_file() {
            let png = figures.join(format!("training_curves_{name}.png"));
            training_curves(&log, &png)?;
            curve_pngs.push(png);
        }
    }
    // Overlays of the first three test cases.
    let mut overlays = Vec::new();
    for c in inv.split(Split::Test).take(3) {
        let pred = pred_src.join(format!("{}.nii.gz", c.id));
        if !pred.is_file() {
            continue;
        }
        let img = nnunet_preproc::read_volume(&c.phases[1])?;
        let (gt, _) = nnunet_preproc::read_label_map(&c.mask)?;
        let (pm, _) = nnunet_preproc::read_label_map(&pred)?;
        let to_u8 = |a: ndarray::Array3<i16>| a.mapv(|v| u8::from(v == 1));
        let png = figures.join(format!("overlay_{}.png", c.id));
        overlay_case(
            img.data.view(),
            to_u8(gt).view(),
            Some(to_u8(pm).view()),
            img.geometry.spacing,
            &c.id,
            &png,
        )?;
        overlays.push(png);
    }
    let _ = Axis(0);
    // Reliability diagram of the test predictions.
    if let Some(bins) = pcr_eval["bins"].as_array() {
        let curve = ReliabilityCurve {
            bins: bins
                .iter()
                .map(|b| ReliabilityBin {
                    lower: f(&b["lower"]),
                    upper: f(&b["upper"]),
                    count: b["count"].as_u64().unwrap_or(0) as usize,
                    mean_predicted: f(&b["mean_predicted"]),
                    fraction_positive: f(&b["fraction_positive"]),
                })
                .collect(),
            n: pcr_eval["n"].as_u64().unwrap_or(0) as usize,
        };
        reliability_diagram(
            &[("SNN (temperature-scaled), test", &curve)],
            &figures.join("reliability.png"),
        )?;
    }
    // Subgroup bars.
    let mut seg_bars = Vec::new();
    for c in centres.as_array().into_iter().flatten() {
        seg_bars.push(SubgroupBar {
            variable: "centre".into(),
            group: c["centre"].as_str().unwrap_or("").into(),
            value: f(&c["dice"]),
            n: c["n"].as_u64().unwrap_or(0) as usize,
        });
    }
    for v in ev["task1"]["variables"].as_array().into_iter().flatten() {
        for g in v["groups"].as_array().into_iter().flatten() {
            seg_bars.push(SubgroupBar {
                variable: v["variable"].as_str().unwrap_or("").into(),
                group: g["group"].as_str().unwrap_or("").into(),
                value: f(&g["mean_dice"]),
                n: g["n"].as_u64().unwrap_or(0) as usize,
            });
        }
    }
    subgroup_bars(
        "Segmentation: mean Dice by subgroup (test)",
        "mean Dice",
        &seg_bars,
        &figures.join("subgroups_dice.png"),
    )?;
    let mut pcr_bars = Vec::new();
    for v in ev["task2"]["variables"].as_array().into_iter().flatten() {
        for g in v["groups"].as_array().into_iter().flatten() {
            pcr_bars.push(SubgroupBar {
                variable: v["variable"].as_str().unwrap_or("").into(),
                group: g["group"].as_str().unwrap_or("").into(),
                value: f(&g["balanced_accuracy"]),
                n: g["n"].as_u64().unwrap_or(0) as usize,
            });
        }
    }
    subgroup_bars(
        "pCR: balanced accuracy by subgroup (test)",
        "balanced accuracy",
        &pcr_bars,
        &figures.join("subgroups_pcr.png"),
    )?;

    // Summary.
    let stage_seconds: serde_json::Map<String, Value> = timings
        .iter()
        .map(|(s, t, _)| (s.name().to_string(), json!(t)))
        .collect();
    let t1 = &ev["task1"];
    let t2 = &ev["task2"];
    let summary = json!({
        "data": if ctx.synthetic { "synthetic cohort" } else { "MAMA-MIA" },
        "budget": ctx.config.budget,
        "n_test": inv.split(Split::Test).count(),
        "n_train": inv.split(Split::Train).count(),
        "n_failures": failures.len(),
        "dice_mean": t1["mean_dice"],
        "norm_hd_mean": t1["mean_norm_hd"],
        "hd95_vox_mean": ev["means"]["hd95_vox"]["mean"],
        "task1_score": t1["ranking"],
        "pcr_balanced_accuracy": t2["balanced_accuracy"],
        "pcr_auc": pcr_eval["auc"],
        "pcr_ece": pcr_eval["ece"],
        "pcr_oof_balanced_accuracy": oof["balanced_accuracy"],
        "task2_score": t2["ranking"],
        "stage_seconds": stage_seconds,
    });
    write_json_atomically(&dir.join(SUMMARY), &summary)?;

    // report.md
    let mut md = String::new();
    let _ = writeln!(md, "# Pipeline report\n\nData: {} ({} training, {} test cases, {} skipped); budget {:?}; device {:?}.\n",
        summary["data"].as_str().unwrap_or(""), summary["n_train"], summary["n_test"], failures.len(), ctx.config.budget, ctx.config.device);
    let _ = writeln!(md, "## Headline numbers (test split)\n\n| metric | this run | seed paper (MAMA-MIA validation, 58 cases) |\n| --- | --- | --- |");
    let _ = writeln!(
        md,
        "| Dice (mean) | {} | 0.67 |",
        fmt(f(&summary["dice_mean"]))
    );
    let _ = writeln!(
        md,
        "| NormHD (mean) | {} | 0.24 |",
        fmt(f(&summary["norm_hd_mean"]))
    );
    let _ = writeln!(
        md,
        "| Task 1 ranking score | {} | – |",
        fmt(f(&summary["task1_score"]))
    );
    let _ = writeln!(
        md,
        "| pCR balanced accuracy | {} | 0.57 |",
        fmt(f(&summary["pcr_balanced_accuracy"]))
    );
    let _ = writeln!(md, "| pCR ROC AUC | {} | – |", fmt(f(&summary["pcr_auc"])));
    let _ = writeln!(
        md,
        "| pCR ECE (10 bins) | {} | – |",
        fmt(f(&summary["pcr_ece"]))
    );
    let _ = writeln!(
        md,
        "| Task 2 ranking score | {} | – |\n",
        fmt(f(&summary["task2_score"]))
    );
    if ctx.synthetic {
        let _ = writeln!(md, "The paper's numbers come from real MAMA-MIA data; on the synthetic cohort they are shown only for orientation.\n");
    }
    let _ = writeln!(md, "## Segmentation per case\n\n| case | centre | Dice | HD95 (vox) | NormHD | HD95 (mm) |\n| --- | --- | --- | --- | --- | --- |");
    for r in ev["cases"].as_array().into_iter().flatten() {
        let id = r["patient_id"].as_str().unwrap_or("");
        let centre = inv
            .cases
            .iter()
            .find(|c| c.id == id)
            .map_or("", |c| c.centre.as_str());
        let _ = writeln!(
            md,
            "| {id} | {centre} | {} | {} | {} | {} |",
            fmt(f(&r["dice"])),
            fmt(f(&r["hd95_vox"])),
            fmt(f(&r["norm_hd"])),
            fmt(f(&r["hd95_mm"]))
        );
    }
    let _ = writeln!(md, "\n## Segmentation per centre\n\n| centre | n | Dice | HD95 (vox) | NormHD |\n| --- | --- | --- | --- | --- |");
    for c in centres.as_array().into_iter().flatten() {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} |",
            c["centre"].as_str().unwrap_or(""),
            c["n"],
            fmt(f(&c["dice"])),
            fmt(f(&c["hd95_vox"])),
            fmt(f(&c["norm_hd"]))
        );
    }
    let _ = writeln!(md, "\n## Task 1 subgroups (fairness {})\n\n| variable | group | n | Dice | NormHD |\n| --- | --- | --- | --- | --- |", fmt(f(&t1["fairness"])));
    for v in t1["variables"].as_array().into_iter().flatten() {
        for g in v["groups"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                v["variable"].as_str().unwrap_or(""),
                g["group"].as_str().unwrap_or(""),
                g["n"],
                fmt(f(&g["mean_dice"])),
                fmt(f(&g["mean_norm_hd"]))
            );
        }
    }
    let _ = writeln!(md, "\n## Task 2 subgroups (fairness {})\n\n| variable | group | n | TPR | FPR | balanced accuracy | AUC |\n| --- | --- | --- | --- | --- | --- | --- |", fmt(f(&t2["fairness"])));
    for v in t2["variables"].as_array().into_iter().flatten() {
        for g in v["groups"].as_array().into_iter().flatten() {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                v["variable"].as_str().unwrap_or(""),
                g["group"].as_str().unwrap_or(""),
                g["n"],
                fmt(f(&g["tpr"])),
                fmt(f(&g["fpr"])),
                fmt(f(&g["balanced_accuracy"])),
                fmt(f(&g["auc"]))
            );
        }
    }
    let _ = writeln!(md, "\n## pCR model\n\nOut-of-fold on the training cases: balanced accuracy {}, AUC {}, ECE {} → {} after temperature scaling (T = {}); {} features selected.\n",
        fmt(f(&oof["balanced_accuracy"])), fmt(f(&oof["auc"])), fmt(f(&oof["ece_before"])), fmt(f(&oof["ece_after"])), fmt(f(&oof["temperature"])), oof["selected"].as_array().map_or(0, Vec::len));
    let _ = writeln!(
        md,
        "## Stage timings\n\n| stage | seconds | this run |\n| --- | --- | --- |"
    );
    for (s, t, skipped) in timings {
        let _ = writeln!(
            md,
            "| {} | {t:.1} | {} |",
            s.name(),
            if *skipped {
                "skipped (done before)"
            } else {
                "ran"
            }
        );
    }
    let _ = writeln!(md, "\n## Skipped cases\n");
    if failures.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for fl in &failures {
        let _ = writeln!(md, "- {} ({}): {}", fl.patient_id, fl.stage, fl.reason);
    }
    let _ = writeln!(md, "\n## Figures\n");
    for p in curve_pngs.iter().chain(&overlays).chain(
        [
            figures.join("reliability.png"),
            figures.join("subgroups_dice.png"),
            figures.join("subgroups_pcr.png"),
        ]
        .iter(),
    ) {
        if let Ok(rel) = p.strip_prefix(dir) {
            let _ = writeln!(md, "![{}]({})\n", rel.display(), rel.display());
        }
    }
    write_text_atomically(&dir.join("report.md"), &md)
}
