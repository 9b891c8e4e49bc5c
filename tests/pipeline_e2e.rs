//! The pipeline end to end on a small synthetic cohort with few iterations (the same library entry point
//! as `examples/pipeline.rs`): the report files exist, the numbers are finite and in range, a re-run
//! redoes nothing, an interrupted run (stages 1..k, then the full run) gives the same results, and bad
//! inputs are reported.

use std::collections::BTreeMap;
use std::path::Path;

use dce_pipeline::pipeline::{run, BudgetSettings, PipelineConfig, Stage};

fn settings() -> BudgetSettings {
    BudgetSettings {
        cohort_cases: 30,
        folds: vec![0],
        epochs_k3: 2,
        epochs_k5: 1,
        iters_per_epoch: 4,
        val_iters: 1,
        tta: false,
        pcr_features: 5,
        snn_hidden: vec![16, 16],
        snn_epochs: 20,
        pcr_folds: 2,
        ..BudgetSettings::default()
    }
}

fn config(out: &Path) -> PipelineConfig {
    PipelineConfig {
        out: out.to_path_buf(),
        progress: false,
        seed: 7,
        settings: Some(settings()),
        ..PipelineConfig::default()
    }
}

/// Every file of the report folder with its bytes (figures excluded: they embed nothing random, but
/// they are not results).
fn results(report: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![report.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if !p.to_string_lossy().contains("figures") && !is_trainer_checkpoint(&p) {
                out.insert(
                    p.strip_prefix(report).unwrap().display().to_string(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

fn number(s: &serde_json::Value, key: &str) -> f64 {
    s[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number: {}", s[key]))
}

#[test]
fn whole_pipeline_then_rerun_then_interrupted_run() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a");
    let first = run(&config(&a)).unwrap();
    assert!(first.stages.iter().all(|(_, _, skipped)| !skipped));
    let report = first.report.clone().unwrap();
    for f in [
        "summary.json",
        "report.md",
        "predictions.csv",
        "failures.json",
        "figures/reliability.png",
        "figures/subgroups_dice.png",
        "figures/subgroups_pcr.png",
        "figures/training_curves_k3_fold_0.png",
        "models/k5_dice_ce/checkpoint_final.safetensors",
        "models/k5_focal/config.json",
        "models/pcr/model.json",
    ] {
        assert!(report.join(f).is_file(), "missing {f}");
    }
    let s = first.summary.clone().unwrap();
    let n_test = s["n_test"].as_u64().unwrap() as usize;
    let preds = std::fs::read_dir(report.join("pred_segmentations"))
        .unwrap()
        .count();
    assert_eq!(preds, n_test);
    assert!(std::fs::read_dir(report.join("figures")).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with("overlay_")));
    let csv = std::fs::read_to_string(report.join("predictions.csv")).unwrap();
    assert!(csv.starts_with("patient_id,pcr,score\n"));
    assert_eq!(csv.lines().count(), n_test + 1);
    for (key, lo, hi) in [
        ("dice_mean", 0.0, 1.0),
        ("norm_hd_mean", 0.0, 10.0),
        ("task1_score", -5.0, 1.0),
        ("pcr_balanced_accuracy", 0.0, 1.0),
        ("task2_score", 0.0, 1.0),
    ] {
        let v = number(&s, key);
        assert!(v.is_finite() && (lo..=hi).contains(&v), "{key} = {v}");
    }
    for st in [
        "preprocess",
        "train_k3",
        "train_k5",
        "inference",
        "radiomics",
        "pcr",
        "evaluation",
    ] {
        assert!(s["stage_seconds"][st].as_f64().is_some(), "timing of {st}");
    }
    let before = results(&report);

    // A second run redoes nothing and changes nothing.
    let second = run(&config(&a)).unwrap();
    assert!(
        second.stages.iter().all(|(_, _, skipped)| *skipped),
        "{:?}",
        second.stages
    );
    assert_eq!(results(&report), before);

    // Interrupted after training: the resumed run finishes with the same results.
    let b = dir.path().join("b");
    let partial = run(&PipelineConfig {
        stop_after: Some(Stage::TrainK3),
        ..config(&b)
    })
    .unwrap();
    assert!(partial.report.is_none());
    assert!(b.join("train_k3/.done").is_file() && !b.join("train_k5/.done").exists());
    let resumed = run(&config(&b)).unwrap();
    let skipped: Vec<bool> = resumed.stages.iter().map(|s| s.2).collect();
    assert_eq!(&skipped[..3], &[true, true, true], "{:?}", resumed.stages);
    assert!(skipped[3..].iter().all(|s| !s));
    let after = results(&resumed.report.unwrap());
    let strip_timings = |m: &BTreeMap<String, Vec<u8>>| {
        let mut m = m.clone();
        // timings, and run configs that name their own output folder
        m.retain(|k, _| !k.ends_with(".done") && !k.ends_with("config.json"));
        for k in ["summary.json", "report.md"] {
            m.remove(k);
        }
        m
    };
    assert_eq!(strip_timings(&after), strip_timings(&before));
    let sb: serde_json::Value = serde_json::from_slice(&after["summary.json"]).unwrap();
    for key in [
        "dice_mean",
        "norm_hd_mean",
        "pcr_balanced_accuracy",
        "task2_score",
    ] {
        assert_eq!(sb[key], s[key], "{key}");
    }
}

#[test]
fn a_wrong_data_path_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let e = run(&PipelineConfig {
        data: Some(dir.path().join("nowhere")),
        ..config(dir.path())
    })
    .unwrap_err();
    let msg = format!("{e:#}");
    assert!(
        msg.contains("nowhere") && msg.contains("not a MAMA-MIA root") && !msg.contains('\n'),
        "{msg}"
    );
}

#[test]
fn broken_cases_are_reported_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let cfg = dce_pipeline::cohort::CohortConfig {
        cases: 12,
        seed: 3,
        ..Default::default()
    };
    let cohort = dce_pipeline::cohort::generate_cohort(&data, &cfg, None).unwrap();
    // one case without its 2nd post-contrast phase, one without a mask, one without a clinical row
    let ids: Vec<&str> = cohort.cases.iter().map(|c| c.id.as_str()).collect();
    let lower = |i: usize| ids[i].to_lowercase();
    std::fs::remove_file(
        data.join("images")
            .join(ids[0])
            .join(format!("{}_0002.nii.gz", lower(0))),
    )
    .unwrap();
    std::fs::remove_file(
        data.join("segmentations/expert")
            .join(format!("{}.nii.gz", lower(1))),
    )
    .unwrap();
    let clinical = data.join("clinical_and_imaging_info.csv");
    let text = std::fs::read_to_string(&clinical).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(ids[2])).collect();
    std::fs::write(&clinical, kept.join("\n") + "\n").unwrap();
    let out = dir.path().join("out");
    let partial = run(&PipelineConfig {
        data: Some(data),
        stop_after: Some(Stage::Data),
        ..config(&out)
    })
    .unwrap();
    assert!(partial.report.is_none());
    let failures: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("data/failures.json")).unwrap())
            .unwrap();
    let failed: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["patient_id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec![ids[0], ids[1], ids[2]]);
    let reasons: Vec<&str> = failures
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["reason"].as_str().unwrap())
        .collect();
    assert!(
        reasons[0].contains("phase") && reasons[1].contains("mask") && reasons[2].contains("row"),
        "{reasons:?}"
    );
    let inv: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("data/inventory.json")).unwrap())
            .unwrap();
    assert_eq!(inv["cases"].as_array().unwrap().len(), 9);
}

/// Trainer checkpoints record wall times in their metadata, so they differ between otherwise equal runs.
fn is_trainer_checkpoint(p: &std::path::Path) -> bool {
    p.to_string_lossy().contains("models/k") && p.extension().is_some_and(|e| e == "safetensors")
}
