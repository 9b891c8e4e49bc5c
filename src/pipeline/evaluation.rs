//! Stage 7: evaluation with the challenge's rules through [`crate::evaluate`] — per case Dice, HD95 (voxels),
//! NormHD (and mm-based HD95/ASSD/NSD for reporting), Task 1 ranking with fairness; balanced accuracy and
//! Task 2 ranking of `predictions.csv` — plus per-centre means, the pCR ROC AUC and the ECE of the test
//! predictions with their reliability curve (`medmetrics`, 10 bins).
//!
//! Writes `evaluation.json` (+ `.csv` per case), `centres.json`, `pcr.json`.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context as _, Result};
use medmetrics::{reliability_curve, roc_auc, EmptyPolicy, DEFAULT_BINS};
use serde_json::{json, Value};

use super::context::Context;
use super::data::Inventory;
use super::files::write_json_atomically;
use super::pcr;
use super::stage::Stage;

/// Per-centre columns of per-case values: Dice, HD95 (voxels), NormHD.
type CentreColumns = (Vec<f64>, Vec<f64>, Vec<f64>);
use crate::cohort::Split;
use crate::evaluate::{evaluate, EvaluateConfig};

/// Settings of stage 7.
pub fn settings(_ctx: &Context) -> Value {
    json!({ "hd_max": 150, "ece_bins": DEFAULT_BINS })
}

fn mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

/// Runs stage 7 into `dir`.
///
/// # Errors
/// Evaluation errors or a failed write.
pub fn run(ctx: &Context, inv: &Inventory, dir: &Path) -> Result<()> {
    // The ground truth of the test cases only (the scorer pairs every GT file with a prediction).
    let gt = dir.join("gt");
    std::fs::create_dir_all(&gt)?;
    for c in inv.split(Split::Test) {
        let to = gt.join(format!("{}.nii.gz", c.id));
        if !to.is_file() {
            let bytes =
                std::fs::read(&c.mask).with_context(|| format!("reading {}", c.mask.display()))?;
            super::files::write_bytes_atomically(&to, &bytes)?;
        }
    }
    let pred = ctx
        .stage_dir(Stage::Inference)
        .join(mednext::infer::PRED_SEGMENTATIONS_DIR);
    std::fs::create_dir_all(&pred)?;
    let predictions = ctx.stage_dir(Stage::Pcr).join(pcr::PREDICTIONS);
    let report = evaluate(&EvaluateConfig {
        pred,
        gt,
        clinical: Some(inv.clinical.clone()),
        pcr: Some(predictions.clone()),
        out: dir.join("evaluation.json"),
    })?;

    // Per centre.
    let centre_of: BTreeMap<&str, &str> = inv
        .cases
        .iter()
        .map(|c| (c.id.as_str(), c.centre.as_str()))
        .collect();
    let mut by_centre: BTreeMap<String, CentreColumns> = BTreeMap::new();
    for row in report["cases"].as_array().into_iter().flatten() {
        let id = row["patient_id"].as_str().unwrap_or_default();
        let centre = centre_of.get(id).copied().unwrap_or("unknown").to_string();
        let e = by_centre.entry(centre).or_default();
        let num = |k: &str| row[k].as_f64().unwrap_or(f64::NAN);
        e.0.push(num("dice"));
        e.1.push(num("hd95_vox"));
        e.2.push(num("norm_hd"));
    }
    let centres: Vec<Value> = by_centre
        .iter()
        .map(|(c, (d, h, n))| json!({ "centre": c, "n": d.len(), "dice": mean(d), "hd95_vox": mean(h), "norm_hd": mean(n) }))
        .collect();
    write_json_atomically(&dir.join("centres.json"), &centres)?;

    // pCR: AUC, ECE and the reliability curve of the test predictions with a label.
    let text = std::fs::read_to_string(&predictions)?;
    let labels: BTreeMap<&str, Option<u8>> = inv
        .split(Split::Test)
        .map(|c| (c.id.as_str(), c.pcr))
        .collect();
    let (mut y, mut p) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        if let (Some(id), Some(score)) = (
            cells.first(),
            cells.get(2).and_then(|s| s.parse::<f64>().ok()),
        ) {
            if let Some(Some(l)) = labels.get(id) {
                y.push(*l);
                p.push(score);
            }
        }
    }
    let auc = roc_auc(&y, &p, EmptyPolicy::Nan).unwrap_or(f64::NAN);
    let curve = reliability_curve(&y, &p, DEFAULT_BINS).ok();
    let pcr_json = json!({
        "n": y.len(), "n_positive": y.iter().filter(|&&v| v == 1).count(), "auc": auc,
        "ece": curve.as_ref().map(medmetrics::ReliabilityCurve::ece),
        "bins": curve.as_ref().map(|c| c.bins.iter().map(|b| json!({"lower": b.lower, "upper": b.upper,
            "count": b.count, "mean_predicted": b.mean_predicted, "fraction_positive": b.fraction_positive})).collect::<Vec<_>>()),
    });
    write_json_atomically(&dir.join("pcr.json"), &pcr_json)?;
    ctx.log(&format!(
        "test: Dice {:.3}, NormHD {:.3}, Task 1 {:.3}; pCR balanced accuracy {:.3}, AUC {auc:.3}, Task 2 {:.3}",
        report["task1"]["mean_dice"].as_f64().unwrap_or(f64::NAN),
        report["task1"]["mean_norm_hd"].as_f64().unwrap_or(f64::NAN),
        report["task1"]["ranking"].as_f64().unwrap_or(f64::NAN),
        report["task2"]["balanced_accuracy"].as_f64().unwrap_or(f64::NAN),
        report["task2"]["ranking"].as_f64().unwrap_or(f64::NAN),
    ));
    Ok(())
}
