//! Stage 6: the pCR classifier as `examples/train_pcr.rs` builds it — features that are non-finite or
//! constant on the training cases dropped; |r| > 0.9 correlation filter and forward selection (logistic
//! regression, 5-fold balanced accuracy) to `min(40, available)` features; SNN trained on standardised
//! features; out-of-fold logits → temperature scaling and decision threshold; the final SNN on all training
//! cases saved as a model bundle (`model/`). Test cases are predicted into `predictions.csv`
//! (`patient_id,pcr,score`, the challenge's Task 2 format); a test case without features (failed
//! segmentation) is predicted non-pCR with score 0.
//!
//! References: toufiqmusah/caladan-mama-mia `pcr-classification/pcr_classifier.py`; `snn` crate;
//! `/work/shared/reference/snn.md`.

use std::path::Path;

use anyhow::{bail, Result};
use candle_core::Device;
use ndarray::Axis;
use serde_json::json;
use snn::{
    apply_temperature, correlation_filter, fit_temperature, pcr_report, predict_logits,
    select_features, select_threshold, stratified_kfold, train, CorrelationRule, FeatureTable,
    LogisticRegression, ModelBundle, PipelineConfig, SfsConfig, Shuffle, SnnConfig, Standardizer,
    TrainConfig, BUNDLE_FORMAT_VERSION,
};

use super::context::Context;
use super::data::Inventory;
use super::features;
use super::files::{write_json_atomically, write_text_atomically};
use super::stage::Stage;
use crate::cohort::Split;

/// The predictions file.
pub const PREDICTIONS: &str = "predictions.csv";
/// The model bundle folder.
pub const MODEL: &str = "model";
/// Out-of-fold summary.
pub const OOF: &str = "oof.json";

/// Settings of stage 6.
pub fn settings(ctx: &Context) -> serde_json::Value {
    let s = &ctx.settings;
    json!({ "features": s.pcr_features, "corr": s.pcr_correlation, "hidden": s.snn_hidden,
            "epochs": s.snn_epochs, "folds": s.pcr_folds, "seed": ctx.config.seed })
}

/// Runs stage 6 into `dir`.
///
/// # Errors
/// Too few labelled training cases (or only one class), or the `snn` crate's errors.
pub fn run(ctx: &Context, inv: &Inventory, dir: &Path) -> Result<()> {
    let fdir = ctx.stage_dir(Stage::Radiomics);
    let all = FeatureTable::from_csv(&fdir.join(features::TRAIN_CSV))?;
    let labels: std::collections::BTreeMap<&str, u8> = inv
        .split(Split::Train)
        .filter_map(|c| c.pcr.map(|p| (c.id.as_str(), p)))
        .collect();
    let rows: Vec<usize> = (0..all.ids.len())
        .filter(|&i| labels.contains_key(all.ids[i].as_str()))
        .collect();
    let table = all.select_rows(&rows);
    let y: Vec<u8> = table.ids.iter().map(|id| labels[id.as_str()]).collect();
    let n_pos = y.iter().filter(|&&v| v == 1).count();
    if y.len() < 2 * ctx.settings.pcr_folds
        || n_pos < ctx.settings.pcr_folds
        || y.len() - n_pos < ctx.settings.pcr_folds
    {
        bail!(
            "{} labelled training cases ({n_pos} pCR): too few for {}-fold training",
            y.len(),
            ctx.settings.pcr_folds
        );
    }
    // Usable columns: finite everywhere and not constant.
    let keep: Vec<String> = table
        .names
        .iter()
        .enumerate()
        .filter(|(j, _)| {
            let col = table.values.column(*j);
            col.iter().all(|v| v.is_finite()) && col.iter().any(|&v| v != col[0])
        })
        .map(|(_, n)| n.clone())
        .collect();
    let table = table.select(&keep)?;
    let z = Standardizer::fit(table.values.view())?.transform(table.values.view())?;
    let after = correlation_filter(
        z.view(),
        ctx.settings.pcr_correlation,
        CorrelationRule::AnyEarlier,
    )?
    .len();
    let n_select = ctx.settings.pcr_features.min(after).max(1);
    let pipeline = PipelineConfig {
        correlation_threshold: ctx.settings.pcr_correlation,
        sfs: SfsConfig {
            n_features: n_select,
            ..SfsConfig::default()
        },
        ..PipelineConfig::default()
    };
    let sel = select_features(&table, &y, &LogisticRegression::default(), &pipeline)?;
    ctx.log(&format!(
        "{} usable features -> {} after |r| > {} -> {} selected",
        keep.len(),
        sel.after_correlation.len(),
        ctx.settings.pcr_correlation,
        sel.selected.len()
    ));
    let x = table.select(&sel.selected)?.values;
    let arch = SnnConfig {
        hidden: ctx.settings.snn_hidden.clone(),
        ..SnnConfig::seed_code(x.ncols())
    };
    let cfg = TrainConfig {
        epochs: ctx.settings.snn_epochs,
        seed: ctx.config.seed,
        ..TrainConfig::default()
    };
    let folds = stratified_kfold(&y, ctx.settings.pcr_folds, Shuffle::Seeded(cfg.seed))?;
    let bar = ctx.progress(folds.len() as u64 + 1, "pCR SNN");
    let mut oof = vec![0.0; y.len()];
    for (k, f) in folds.iter().enumerate() {
        let xtr = x.select(Axis(0), &f.train);
        let ytr: Vec<u8> = f.train.iter().map(|&i| y[i]).collect();
        let s = Standardizer::fit(xtr.view())?;
        let fold_cfg = TrainConfig {
            seed: cfg.seed.wrapping_add(100 * (k as u64 + 1)),
            ..cfg.clone()
        };
        let t = train(
            s.transform(xtr.view())?.view(),
            &ytr,
            &arch,
            &fold_cfg,
            &Device::Cpu,
        )?;
        let zt = predict_logits(
            &t.model,
            s.transform(x.select(Axis(0), &f.test).view())?.view(),
            &Device::Cpu,
        )?;
        for (&i, v) in f.test.iter().zip(zt) {
            oof[i] = v;
        }
        bar.inc(1);
    }
    let temperature = fit_temperature(&oof, &y)?;
    let th = select_threshold(&apply_temperature(&oof, temperature), &y)?;
    let report = pcr_report(&y, &oof, temperature, th.threshold, None)?;
    ctx.log(&format!(
        "out-of-fold: balanced accuracy {:.3}, AUC {:.3}, T = {temperature:.3}, threshold {:.3}",
        report.balanced_accuracy, report.auc, th.threshold
    ));
    let scaler = Standardizer::fit(x.view())?;
    let trained = train(
        scaler.transform(x.view())?.view(),
        &y,
        &arch,
        &cfg,
        &Device::Cpu,
    )?;
    bar.inc(1);
    bar.finish_and_clear();
    let bundle = ModelBundle {
        format_version: BUNDLE_FORMAT_VERSION,
        architecture: arch,
        feature_names: sel.selected.clone(),
        scaler,
        temperature,
        threshold: th.threshold,
        clinical_covariates: Vec::new(),
        training_summary: json!({ "cases": y.len(), "after_correlation": sel.after_correlation.len(),
            "selection_scores": sel.step_scores, "oof_balanced_accuracy": report.balanced_accuracy,
            "oof_auc": report.auc }),
    };
    let model_dir = dir.join(MODEL);
    std::fs::create_dir_all(&model_dir)?;
    bundle.save(&model_dir, &trained.varmap)?;
    write_json_atomically(
        &dir.join(OOF),
        &json!({
            "balanced_accuracy": report.balanced_accuracy, "auc": report.auc,
            "ece_before": report.ece_uncalibrated, "ece_after": report.ece_calibrated,
            "temperature": temperature, "threshold": th.threshold, "selected": sel.selected,
        }),
    )?;

    // Test predictions (cases without features: non-pCR, score 0).
    let test = FeatureTable::from_csv(&fdir.join(features::TEST_CSV));
    let mut lines = String::from("patient_id,pcr,score\n");
    let mut predicted = std::collections::BTreeMap::new();
    if let Ok(test) = test {
        if !test.ids.is_empty() {
            let p = bundle.predict(&trained.model, &test, &Device::Cpu)?;
            for i in 0..p.ids.len() {
                predicted.insert(p.ids[i].clone(), (p.labels[i], p.probabilities[i]));
            }
        }
    }
    for c in inv.split(Split::Test) {
        let (label, score) = predicted.get(&c.id).copied().unwrap_or((0, 0.0));
        lines.push_str(&format!("{},{label},{score}\n", c.id));
    }
    write_text_atomically(&dir.join(PREDICTIONS), &lines)
}
