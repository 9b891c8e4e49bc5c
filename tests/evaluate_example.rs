//! End-to-end test of the `evaluate` example (`examples/evaluate.rs` over `src/evaluate.rs`).
//!
//! A tiny prediction / ground-truth folder pair is written with `nnunet_preproc::write_mask`: a shifted ball,
//! an empty prediction, two boxes and a prediction on another grid. The report's per-case values must equal
//! `medmetrics` called directly on the same arrays (MAMA-MIA `score_case`; MONAI-convention HD95/ASSD/NSD in
//! mm), the grid mismatch must be a `failed` entry naming its case, the means must be the means of the finite
//! per-case values, and the Task 1 / Task 2 blocks must equal `task1_score` / `task2_score` on the subgroups
//! written into the clinical CSV (Task 2 balanced accuracy also by hand: 0.75).
//!
//! References: LidiaGarrucho/MAMA-MIA `src/challenge/{metrics, scoring_task1, scoring_task2}.py`;
//! `/work/shared/reference/mamamia.md` §2.

use std::path::{Path, PathBuf};
use std::process::Command;

use dce_pipeline::evaluate::{evaluate, EvaluateConfig};
use medmetrics::{
    mamamia, task1_score, task2_score, AssdRule, EmptyPolicy, EmptyRule, Hd95Rule, Subgroups,
    SurfaceDistances, SurfaceOptions, Task1Case, Task2Case,
};
use ndarray::Array3;
use nnunet_preproc::{write_mask, Geometry};
use serde_json::Value;

const SHAPE: (usize, usize, usize) = (10, 12, 14);
const SPACING: [f64; 3] = [2.0, 0.8, 0.7];

fn ball(c: [f64; 3], r: f64) -> Array3<u8> {
    Array3::from_shape_fn(SHAPE, |(z, y, x)| {
        let d = (z as f64 - c[0]).powi(2) + (y as f64 - c[1]).powi(2) + (x as f64 - c[2]).powi(2);
        u8::from(d <= r * r)
    })
}

fn cuboid(lo: [usize; 3], hi: [usize; 3]) -> Array3<u8> {
    Array3::from_shape_fn(SHAPE, |(z, y, x)| {
        u8::from(
            (lo[0]..hi[0]).contains(&z)
                && (lo[1]..hi[1]).contains(&y)
                && (lo[2]..hi[2]).contains(&x),
        )
    })
}

/// The scored cases: `(id, prediction, ground truth)`.
fn scored_cases() -> Vec<(&'static str, Array3<u8>, Array3<u8>)> {
    vec![
        (
            "CASE_001",
            ball([5.0, 6.0, 8.0], 3.0),
            ball([5.0, 6.0, 7.0], 3.0),
        ),
        (
            "CASE_002",
            Array3::zeros(SHAPE),
            cuboid([3, 4, 5], [7, 9, 10]),
        ),
        (
            "CASE_003",
            cuboid([2, 3, 4], [8, 9, 9]),
            cuboid([3, 4, 5], [7, 9, 10]),
        ),
    ]
}

/// Writes `pred/`, `gt/`, `clinical.csv` and `predictions.csv` under `dir`.
fn write_inputs(dir: &Path) -> EvaluateConfig {
    let (pred, gt) = (dir.join("pred"), dir.join("gt"));
    std::fs::create_dir_all(&pred).unwrap();
    std::fs::create_dir_all(&gt).unwrap();
    let geom = Geometry::from_spacing(SPACING);
    for (id, p, g) in scored_cases() {
        // Lower-case prediction names: matching is case-insensitive.
        write_mask(
            pred.join(format!("{}.nii.gz", id.to_lowercase())),
            p.view(),
            &geom,
        )
        .unwrap();
        write_mask(gt.join(format!("{id}.nii.gz")), g.view(), &geom).unwrap();
    }
    // CASE_004: the prediction is one voxel shorter along x.
    let small = Array3::<u8>::zeros((SHAPE.0, SHAPE.1, SHAPE.2 - 1));
    write_mask(pred.join("CASE_004.nii.gz"), small.view(), &geom).unwrap();
    write_mask(
        gt.join("CASE_004.nii.gz"),
        ball([5.0, 6.0, 7.0], 2.0).view(),
        &geom,
    )
    .unwrap();
    let clinical = dir.join("clinical.csv");
    std::fs::write(
        &clinical,
        "patient_id,dataset,age,menopause,breast_density,pcr\n\
         CASE_001,DUKE,38,pre,a,1\n\
         CASE_002,DUKE,45,post,b,0\n\
         CASE_003,ISPY1,55,peri,b,1\n\
         CASE_004,ISPY1,67,post,c,0\n",
    )
    .unwrap();
    let pcr = dir.join("predictions.csv");
    std::fs::write(
        &pcr,
        "patient_id,pcr,score\ncase_001,1,0.9\nCASE_002,0,0.2\nCASE_003,0,0.4\nCASE_004,0,0.3\n",
    )
    .unwrap();
    EvaluateConfig {
        pred,
        gt,
        clinical: Some(clinical),
        pcr: Some(pcr),
        out: dir.join("report.json"),
    }
}

/// A report number: `null` = NaN, `"inf"` = +inf.
fn num(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

#[track_caller]
fn same(what: &str, expected: f64, got: &Value) {
    let g = num(got);
    let ok = (expected.is_nan() && g.is_nan())
        || expected == g
        || (expected - g).abs() <= 1e-12 * expected.abs();
    assert!(ok, "{what}: expected {expected}, report has {got}");
}

fn sub(age: &str, menopause: &str, density: &str) -> Subgroups {
    Subgroups {
        age: Some(age.into()),
        menopausal_status: Some(menopause.into()),
        breast_density: Some(density.into()),
    }
}

/// Checks a report against `medmetrics` called directly.
fn check_report(report: &Value) {
    // Per-case values.
    let rows = report["cases"].as_array().unwrap();
    let cases = scored_cases();
    assert_eq!(rows.len(), cases.len());
    let mut expected_rows = Vec::new();
    for ((id, p, g), row) in cases.iter().zip(rows) {
        assert_eq!(row["patient_id"], *id);
        let s = mamamia::score_case(p.view(), g.view()).unwrap();
        let (pm, gm) = (p.mapv(|v| v == 1), g.mapv(|v| v == 1));
        // NIfTI stores the spacing as f32: the report sees the rounded values.
        let spacing = SPACING.map(|v| f64::from(v as f32));
        let sd = SurfaceDistances::new(pm.view(), gm.view(), spacing, SurfaceOptions::default())
            .unwrap();
        let vals = [
            s.dice,
            s.hd95_vox,
            s.norm_hd,
            sd.percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MONAI)
                .unwrap(),
            sd.assd(AssdRule::Pooled, EmptyRule::MONAI).unwrap(),
            sd.nsd(2.0, EmptyRule::new(EmptyPolicy::Nan, EmptyPolicy::Zero))
                .unwrap(),
        ];
        for (k, v) in dce_pipeline::evaluate::COLUMNS.iter().zip(vals) {
            same(&format!("{id} {k}"), v, &row[*k]);
        }
        expected_rows.push(vals);
    }
    // Hand-checked anchors: a one-voxel shift along x is 1 voxel / 0.7 mm; an empty prediction scores 0/inf/1.
    same("CASE_001 hd95_vox", 1.0, &rows[0]["hd95_vox"]);
    same("CASE_001 hd95_mm", f64::from(0.7f32), &rows[0]["hd95_mm"]);
    assert_eq!(
        (num(&rows[1]["dice"]), num(&rows[1]["norm_hd"])),
        (0.0, 1.0)
    );
    assert_eq!(rows[1]["hd95_vox"], "inf");
    assert!(rows[1]["hd95_mm"].is_null() && rows[1]["assd_mm"].is_null());
    same("CASE_002 nsd", 0.0, &rows[1]["nsd_2mm"]);

    // The grid mismatch.
    let failed = report["failed"].as_array().unwrap();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0]["patient_id"], "CASE_004");
    let msg = failed[0]["error"].as_str().unwrap();
    assert!(msg.contains("CASE_004") && msg.contains("grid"), "{msg}");

    // Means over the finite values.
    for (k, name) in dce_pipeline::evaluate::COLUMNS.iter().enumerate() {
        let finite: Vec<f64> = expected_rows
            .iter()
            .map(|r| r[k])
            .filter(|v| v.is_finite())
            .collect();
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        same(
            &format!("mean {name}"),
            mean,
            &report["means"][name]["mean"],
        );
        assert_eq!(report["means"][name]["n"], finite.len(), "{name}");
    }
    assert_eq!(report["means"]["hd95_vox"]["n"], 2);

    // Task 1 on the three scored cases (Task 1 menopause rule: "peri" → pre).
    let subs = [
        sub("0-40", "pre", "a"),
        sub("41-50", "post", "b"),
        sub("51-60", "pre", "b"),
    ];
    let t1: Vec<Task1Case> = expected_rows
        .iter()
        .zip(subs)
        .map(|(r, subgroups)| Task1Case {
            dice: r[0],
            norm_hd: r[2],
            subgroups,
        })
        .collect();
    let t1 = task1_score(&t1).unwrap();
    let r1 = &report["task1"];
    same("task1 mean_dice", t1.mean_dice, &r1["mean_dice"]);
    same("task1 mean_norm_hd", t1.mean_norm_hd, &r1["mean_norm_hd"]);
    same("task1 performance", t1.performance, &r1["performance"]);
    same("task1 fairness", t1.fairness, &r1["fairness"]);
    same("task1 ranking", t1.ranking, &r1["ranking"]);
    assert_eq!(
        r1["variables"].as_array().unwrap().len(),
        t1.variables.len()
    );

    // Task 2 on the four predictions (all in the clinical table; Task 2 rule: peri/pre → pre).
    let t2 = [
        (1, 1, 0.9, sub("0-40", "pre", "a")),
        (0, 0, 0.2, sub("41-50", "post", "b")),
        (1, 0, 0.4, sub("51-60", "pre", "b")),
        (0, 0, 0.3, sub("61-70", "post", "c")),
    ]
    .into_iter()
    .map(|(pcr, prediction, score, subgroups)| Task2Case {
        pcr: Some(pcr),
        prediction,
        score: Some(score),
        subgroups,
    })
    .collect::<Vec<_>>();
    let t2 = task2_score(&t2).unwrap();
    let r2 = &report["task2"];
    same(
        "task2 balanced accuracy (by hand)",
        0.75,
        &r2["balanced_accuracy"],
    );
    same(
        "task2 balanced_accuracy",
        t2.balanced_accuracy,
        &r2["balanced_accuracy"],
    );
    same("task2 disparity", t2.disparity, &r2["disparity"]);
    same("task2 fairness", t2.fairness, &r2["fairness"]);
    same("task2 ranking", t2.ranking, &r2["ranking"]);
    assert!(
        report["warnings"].as_array().unwrap().is_empty(),
        "{}",
        report["warnings"]
    );
}

#[test]
fn evaluate_reports_cases_failures_means_and_task_scores() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_inputs(dir.path());
    let report = evaluate(&config).unwrap();
    check_report(&report);
    // The files: the JSON equals the returned report; the CSV has a header and one row per scored case.
    let text = std::fs::read_to_string(&config.out).unwrap();
    assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), report);
    let csv = std::fs::read_to_string(config.out.with_extension("csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "patient_id,dice,hd95_vox,norm_hd,hd95_mm,assd_mm,nsd_2mm"
    );
    assert_eq!(lines.len(), 4);
    assert!(lines[2].starts_with("CASE_002,0,inf,1,,,0"), "{}", lines[2]);
}

#[test]
fn evaluate_rejects_pcr_without_clinical_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = write_inputs(dir.path());
    config.clinical = None;
    let err = evaluate(&config).unwrap_err();
    assert!(
        format!("{err:#}").contains("--pcr needs --clinical"),
        "{err:#}"
    );
}

/// The `evaluate` example binary of this profile (`target/<profile>/examples/evaluate`, built by
/// `cargo test` with the examples; built here only if missing).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("evaluate{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--example", "evaluate", "-p", "dce-pipeline"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("cargo build").success(),
            "building the evaluate example failed"
        );
    }
    bin
}

/// The example binary itself (`evaluate --pred … --gt … --clinical … --pcr … --out …`): same report.
#[test]
fn evaluate_example_binary_writes_the_same_report() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_inputs(dir.path());
    let arg = |p: &PathBuf| p.to_str().unwrap().to_string();
    let out = Command::new(example_binary())
        .args(["--pred", &arg(&config.pred), "--gt", &arg(&config.gt)])
        .args(["--clinical", &arg(config.clinical.as_ref().unwrap())])
        .args([
            "--pcr",
            &arg(config.pcr.as_ref().unwrap()),
            "--out",
            &arg(&config.out),
        ])
        .output()
        .expect("running the evaluate example");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("failed: case CASE_004"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("3 cases scored, 1 failed"), "{stdout}");
    let report: Value =
        serde_json::from_str(&std::fs::read_to_string(&config.out).unwrap()).unwrap();
    check_report(&report);
}
