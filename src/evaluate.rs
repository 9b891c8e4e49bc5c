//! Evaluation of predicted segmentations (and pCR predictions) the MAMA-MIA way, plus mm-based reporting
//! metrics: the core of the `evaluate` example, callable from tests.
//!
//! ```text
//! evaluate(&EvaluateConfig { pred, gt, clinical, pcr, out }) → report JSON (also written to `out`, rows to
//! `out` with extension `.csv`)
//! ```
//!
//! * Cases are matched by file name (`<case>.nii.gz` / `.nii`, case-insensitively). Each case is scored in
//!   parallel: `dice`, `hd95_vox`, `norm_hd` exactly as the challenge's Task 1 scorer (label 1, LabelContour,
//!   voxel units on the native grid, [`medmetrics::mamamia::score_case`]), and for reporting `hd95_mm`,
//!   `assd_mm` (pooled) and `nsd_2mm` on erosion-border surfaces in mm (MONAI conventions; `null` when a mask
//!   is empty).
//! * A prediction whose grid (shape or affine) differs from the ground truth's is an error naming the case;
//!   a failed case is reported under `failed` and the run goes on.
//! * The JSON holds the rows (`cases`), `failed`, the `means` (over finite values, with their count) and —
//!   with a clinical table — `task1` (subgroup tables, fairness, ranking); with pCR predictions
//!   (`patient_id,pcr,score`) too, `task2` (balanced accuracy, equalised-odds fairness, ranking with per-group
//!   TPR/FPR/AUC); `warnings` lists unknown subgroup values and ids missing from the clinical table.
//!
//! References: LidiaGarrucho/MAMA-MIA `src/challenge/{metrics, scoring_task1, scoring_task2}.py`;
//! `/work/shared/reference/mamamia.md` §2; `crates/metrics` for the formulas.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use medmetrics::{
    mamamia, task1_score, task2_score, AgeGroup, AssdRule, BreastDensity, EmptyPolicy, EmptyRule,
    Hd95Rule, Subgroups, SurfaceDistances, SurfaceOptions, Task1Case, Task2Case,
};
use ndarray::parallel::prelude::*;
use nnunet_preproc::mamamia::{ClinicalTable, MenopauseRule};
use serde_json::{json, Value};

/// Inputs and output of an evaluation run.
#[derive(Debug, Clone, Default)]
pub struct EvaluateConfig {
    /// Predicted segmentation: a NIfTI file or a folder of `<case>.nii.gz`.
    pub pred: PathBuf,
    /// Ground-truth segmentation: a NIfTI file or a folder of `<case>.nii.gz`.
    pub gt: PathBuf,
    /// `clinical_and_imaging_info.xlsx` (sheet `dataset_info`) or a CSV export of it (by extension).
    pub clinical: Option<PathBuf>,
    /// Task 2 predictions CSV with columns `patient_id,pcr[,score]` (needs `clinical`).
    pub pcr: Option<PathBuf>,
    /// The JSON report; the per-case CSV is written beside it with extension `.csv`.
    pub out: PathBuf,
}

/// The scores of one case (`NaN` where a reporting metric is undefined).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Case id (upper case).
    pub id: String,
    /// Dice of label 1 (MAMA-MIA: 0 when both masks are empty).
    pub dice: f64,
    /// MAMA-MIA HD95 in voxel units (0 both empty, inf one empty).
    pub hd95_vox: f64,
    /// `min(hd95_vox / 150, 1)`-style normalised HD of the challenge (inf → 1).
    pub norm_hd: f64,
    /// HD95 in mm, max of the directed 95th percentiles on erosion-border surfaces (MONAI).
    pub hd95_mm: f64,
    /// Pooled ASSD in mm (MONAI).
    pub assd_mm: f64,
    /// Normalised surface Dice at 2 mm on edge voxels (MONAI; NaN both empty, 0 one empty).
    pub nsd_2mm: f64,
}

/// The per-case columns of the report, in [`Row::values`] order.
pub const COLUMNS: [&str; 6] = [
    "dice", "hd95_vox", "norm_hd", "hd95_mm", "assd_mm", "nsd_2mm",
];

impl Row {
    /// The values in [`COLUMNS`] order.
    #[must_use]
    pub fn values(&self) -> [f64; 6] {
        [
            self.dice,
            self.hd95_vox,
            self.norm_hd,
            self.hd95_mm,
            self.assd_mm,
            self.nsd_2mm,
        ]
    }
}

/// JSON number, `"inf"` for +inf, `null` for NaN.
fn num(v: f64) -> Value {
    if v.is_finite() {
        json!(v)
    } else if v == f64::INFINITY {
        json!("inf")
    } else if v == f64::NEG_INFINITY {
        json!("-inf")
    } else {
        Value::Null
    }
}

fn strip_nifti_ext(name: &str) -> Option<&str> {
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
}

/// `(case id, path)` for a file or every NIfTI file of a folder; ids upper-cased.
fn list_cases(path: &Path) -> Result<BTreeMap<String, PathBuf>> {
    let mut out = BTreeMap::new();
    let mut add = |p: PathBuf| {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if let Some(stem) = strip_nifti_ext(&name) {
            out.insert(stem.to_uppercase(), p);
        }
    };
    if path.is_dir() {
        for entry in
            std::fs::read_dir(path).with_context(|| format!("listing {}", path.display()))?
        {
            add(entry?.path());
        }
    } else if path.is_file() {
        add(path.to_path_buf());
    } else {
        bail!("{}: no such file or folder", path.display());
    }
    Ok(out)
}

/// Scores one case from its prediction and ground-truth files.
///
/// # Errors
/// A read error, a grid (shape or affine) mismatch or a non-binary label map, each naming the case.
pub fn score(id: &str, pred: &Path, gt: &Path) -> Result<Row> {
    let (p, pg) =
        nnunet_preproc::read_label_map(pred).with_context(|| format!("case {id}: prediction"))?;
    let (g, gg) =
        nnunet_preproc::read_label_map(gt).with_context(|| format!("case {id}: ground truth"))?;
    if p.shape() != g.shape() {
        bail!(
            "case {id}: prediction grid {:?} differs from the ground truth's {:?}",
            p.shape(),
            g.shape()
        );
    }
    let affine_diff = pg
        .affine
        .iter()
        .flatten()
        .zip(gg.affine.iter().flatten())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    if affine_diff > 1e-3 {
        bail!(
            "case {id}: prediction grid differs from the ground truth's (affine differs by up to {affine_diff} mm; \
             spacing {:?} vs {:?})",
            pg.spacing,
            gg.spacing
        );
    }
    let s = mamamia::score_case(p.view(), g.view()).with_context(|| format!("case {id}"))?;
    let pm = p.mapv(|v| v == 1);
    let gm = g.mapv(|v| v == 1);
    let sd = SurfaceDistances::new(pm.view(), gm.view(), gg.spacing, SurfaceOptions::default())
        .with_context(|| format!("case {id}"))?;
    Ok(Row {
        id: id.to_string(),
        dice: s.dice,
        hd95_vox: s.hd95_vox,
        norm_hd: s.norm_hd,
        hd95_mm: sd.percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MONAI)?,
        assd_mm: sd.assd(AssdRule::Pooled, EmptyRule::MONAI)?,
        nsd_2mm: sd.nsd(2.0, EmptyRule::new(EmptyPolicy::Nan, EmptyPolicy::Zero))?,
    })
}

fn write_csv(path: &Path, rows: &[Row]) -> Result<()> {
    let mut text = format!("patient_id,{}\n", COLUMNS.join(","));
    for r in rows {
        let vals: Vec<String> = r
            .values()
            .iter()
            .map(|v| {
                if v.is_nan() {
                    String::new()
                } else {
                    v.to_string()
                }
            })
            .collect();
        text.push_str(&format!("{},{}\n", r.id.replace(',', "_"), vals.join(",")));
    }
    write_atomically(path, &text)
}

fn write_atomically(path: &Path, text: &str) -> Result<()> {
    let tmp = path.with_extension("tmp~");
    std::fs::write(&tmp, text).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Subgroup labels of a patient under a task's menopause rule; unknown values become warnings.
fn subgroups(
    table: &ClinicalTable,
    id: &str,
    rule: MenopauseRule,
    warnings: &mut Vec<String>,
) -> Subgroups {
    let Some(rec) = table.get(id) else {
        warnings.push(format!(
            "case {id}: not in the clinical table (no subgroups)"
        ));
        return Subgroups::default();
    };
    let age = rec.age.and_then(|a| match AgeGroup::from_age(a) {
        Ok(g) => Some(g.label().to_string()),
        Err(e) => {
            warnings.push(e.for_case(id).to_string());
            None
        }
    });
    let breast_density =
        rec.breast_density
            .as_deref()
            .and_then(|d| match BreastDensity::parse(d) {
                Ok(b) => Some(b.label().to_string()),
                Err(e) => {
                    warnings.push(e.for_case(id).to_string());
                    None
                }
            });
    Subgroups {
        age,
        menopausal_status: Some(rec.menopause_group(rule).as_str().to_string()),
        breast_density,
    }
}

/// `patient_id → (pcr, score)` from the predictions CSV.
fn read_predictions(path: &Path) -> Result<BTreeMap<String, (u8, Option<f64>)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<String> = lines
        .next()
        .with_context(|| format!("{}: empty file", path.display()))?
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(ci), Some(cp)) = (col("patient_id"), col("pcr")) else {
        bail!(
            "{}: needs the columns patient_id and pcr (found {header:?})",
            path.display()
        );
    };
    let cs = col("score");
    let mut out = BTreeMap::new();
    for (n, line) in lines.enumerate() {
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"'))
            .collect();
        let row = n + 2;
        let id = cells
            .get(ci)
            .with_context(|| format!("{}: row {row}: no patient_id", path.display()))?;
        let pcr: f64 = cells
            .get(cp)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("{}: row {row}: pcr is not a number", path.display()))?;
        if pcr != 0.0 && pcr != 1.0 {
            bail!(
                "{}: row {row} ({id}): pcr {pcr} is not 0 or 1",
                path.display()
            );
        }
        let score = match cs.and_then(|c| cells.get(c)).filter(|s| !s.is_empty()) {
            Some(s) => Some(
                s.parse::<f64>()
                    .with_context(|| format!("{}: row {row}: bad score", path.display()))?,
            ),
            None => None,
        };
        out.insert(id.to_uppercase(), (pcr as u8, score));
    }
    Ok(out)
}

/// Scores every case of `config`, writes the JSON report and the per-case CSV, and returns the report.
///
/// # Errors
/// Unreadable inputs (folders, clinical table, predictions CSV), `pcr` without `clinical`, invalid Task 1/2
/// inputs, or a failed write. A case that cannot be scored is not an error: it is listed under `failed`.
pub fn evaluate(config: &EvaluateConfig) -> Result<Value> {
    let preds = list_cases(&config.pred)?;
    let gts = list_cases(&config.gt)?;
    let single = config.pred.is_file() && config.gt.is_file();
    let pairs: Vec<(String, PathBuf, PathBuf)> = if single {
        let (id, p) = preds.into_iter().next().context("no prediction")?;
        let g = gts.into_values().next().context("no ground truth")?;
        vec![(id, p, g)]
    } else {
        gts.iter()
            .map(|(id, g)| {
                (
                    id.clone(),
                    preds.get(id).cloned().unwrap_or_default(),
                    g.clone(),
                )
            })
            .collect()
    };
    let results: Vec<std::result::Result<Row, (String, String)>> = pairs
        .par_iter()
        .map(|(id, p, g)| {
            if p.as_os_str().is_empty() {
                return Err((id.clone(), format!("case {id}: no prediction file")));
            }
            score(id, p, g).map_err(|e| (id.clone(), format!("{e:#}")))
        })
        .collect();
    let mut rows = Vec::new();
    let mut failed = Vec::new();
    for r in results {
        match r {
            Ok(row) => rows.push(row),
            Err((id, msg)) => {
                failed.push(json!({"patient_id": id, "error": msg}));
            }
        }
    }
    let mut means = serde_json::Map::new();
    for (k, name) in COLUMNS.iter().enumerate() {
        let vals: Vec<f64> = rows
            .iter()
            .map(|r| r.values()[k])
            .filter(|v| v.is_finite())
            .collect();
        let mean = vals.iter().sum::<f64>() / vals.len() as f64;
        means.insert(
            (*name).to_string(),
            json!({"mean": num(mean), "n": vals.len()}),
        );
    }
    let mut report = json!({
        "cases": rows.iter().map(|r| {
            let mut m = serde_json::Map::new();
            m.insert("patient_id".into(), json!(r.id));
            for (k, v) in COLUMNS.iter().zip(r.values()) { m.insert((*k).into(), num(v)); }
            Value::Object(m)
        }).collect::<Vec<_>>(),
        "failed": failed,
        "means": means,
    });
    let mut warnings = Vec::new();
    if let Some(path) = &config.clinical {
        let is_csv = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
        let table = if is_csv {
            ClinicalTable::from_csv(path)
        } else {
            ClinicalTable::from_xlsx(path)
        }
        .with_context(|| format!("reading {}", path.display()))?;
        if !rows.is_empty() {
            let cases: Vec<Task1Case> = rows
                .iter()
                .map(|r| Task1Case {
                    dice: r.dice,
                    norm_hd: r.norm_hd,
                    subgroups: subgroups(&table, &r.id, MenopauseRule::Task1, &mut warnings),
                })
                .collect();
            report["task1"] = task1_json(&task1_score(&cases)?);
        }
        if let Some(pcr_path) = &config.pcr {
            let preds = read_predictions(pcr_path)?;
            let mut cases = Vec::new();
            for (id, (pred, score)) in &preds {
                let Some(rec) = table.get(id) else {
                    warnings.push(format!(
                        "pCR prediction for {id}: not in the clinical table (skipped)"
                    ));
                    continue;
                };
                cases.push(Task2Case {
                    pcr: rec.pcr,
                    prediction: *pred,
                    score: *score,
                    subgroups: subgroups(&table, id, MenopauseRule::Task2, &mut warnings),
                });
            }
            report["task2"] = task2_json(&task2_score(&cases)?);
        }
    } else if config.pcr.is_some() {
        bail!("--pcr needs --clinical (the ground-truth pCR and the subgroups come from the clinical table)");
    }
    warnings.sort();
    warnings.dedup();
    report["warnings"] = json!(warnings);
    let csv_path = config.out.with_extension("csv");
    write_csv(&csv_path, &rows)?;
    write_atomically(&config.out, &serde_json::to_string_pretty(&report)?)?;
    Ok(report)
}

fn task1_json(s: &medmetrics::Task1Score) -> Value {
    json!({
        "mean_dice": num(s.mean_dice), "mean_norm_hd": num(s.mean_norm_hd),
        "performance": num(s.performance), "fairness": num(s.fairness), "ranking": num(s.ranking),
        "variables": s.variables.iter().map(|v| json!({
            "variable": v.variable.name(), "dice_gap": num(v.dice_gap), "norm_hd_gap": num(v.norm_hd_gap),
            "fairness": num(v.fairness),
            "groups": v.groups.iter().map(|g| json!({"group": g.label, "n": g.n,
                "mean_dice": num(g.mean_dice), "mean_norm_hd": num(g.mean_norm_hd)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn task2_json(s: &medmetrics::Task2Score) -> Value {
    json!({
        "balanced_accuracy": num(s.balanced_accuracy), "disparity": num(s.disparity),
        "fairness": num(s.fairness), "ranking": num(s.ranking),
        "variables": s.variables.iter().map(|v| json!({
            "variable": v.variable.name(), "tpr_gap": num(v.tpr_gap), "fpr_gap": num(v.fpr_gap),
            "disparity": num(v.disparity),
            "groups": v.groups.iter().map(|g| json!({"group": g.label, "n": g.n,
                "tn": g.confusion.tn, "fp": g.confusion.fp, "fn": g.confusion.fn_, "tp": g.confusion.tp,
                "tpr": num(g.tpr), "fpr": num(g.fpr), "balanced_accuracy": num(g.balanced_accuracy),
                "auc": g.auc.map_or(Value::Null, num)})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}
