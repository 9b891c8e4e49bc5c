/* Classification and calibration metrics against scikit-learn 1.9.1 (`balanced_accuracy_score`
(adjusted or not), `confusion_matrix`, `roc_auc_score`, `roc_curve`, `precision_recall_curve`,
`average_precision_score`, `auc`, `brier_score_loss`, `calibration_curve(strategy="uniform")` + ECE over its
bins). Values: `tests/data/classification.json` from `tools/golden/make_metrics_fixtures.py`; cases with
tied scores, all-tied scores, probabilities on bin edges and single-class labels.
*/
mod common;

use common::{check, load, num};
use medmetrics::{
    average_precision, balanced_accuracy, brier_score, confusion_matrix, pr_auc,
    precision_recall_curve, reliability_curve, roc_auc, roc_curve, Adjusted, EmptyPolicy,
};
use serde_json::Value;

fn u8s(v: &Value) -> Vec<u8> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as u8)
        .collect()
}
fn f64s(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(num).collect()
}
fn check_all(what: &str, exp: &Value, got: &[f64]) -> f64 {
    let e = f64s(exp);
    assert_eq!(e.len(), got.len(), "{what}: length");
    e.iter()
        .zip(got)
        .map(|(&e, &g)| {
            let d = common::rel_diff(e, g);
            assert!(d <= 1e-12, "{what}: expected {e}, got {g}");
            d
        })
        .fold(0.0, f64::max)
}

#[test]
fn binary_metrics_match_sklearn() {
    let data = load("classification.json");
    let mut max_diff = 0.0f64;
    for case in data["binary"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let y = u8s(&case["y_true"]);
        let s = f64s(&case["y_score"]);
        let yp = u8s(&case["y_pred"]);
        let w = |k: &str| format!("{name}: {k}");
        let two_class = y.contains(&0) && y.contains(&1);
        max_diff = max_diff.max(check(
            &w("ba"),
            &case["balanced_accuracy"],
            balanced_accuracy(&y, &yp, Adjusted::No).unwrap(),
            1e-12,
        ));
        if two_class {
            max_diff = max_diff.max(check(
                &w("ba adjusted"),
                &case["balanced_accuracy_adjusted"],
                balanced_accuracy(&y, &yp, Adjusted::ForChance).unwrap(),
                1e-12,
            ));
        }
        max_diff = max_diff.max(check(
            &w("brier"),
            &case["brier"],
            brier_score(&y, &s).unwrap(),
            1e-12,
        ));
        max_diff = max_diff.max(check(
            &w("roc auc"),
            &case["roc_auc"],
            roc_auc(&y, &s, EmptyPolicy::Nan).unwrap(),
            1e-12,
        ));
        if two_class {
            let roc = roc_curve(&y, &s).unwrap();
            max_diff = max_diff.max(check_all(&w("fpr"), &case["roc_curve"]["fpr"], &roc.fpr));
            max_diff = max_diff.max(check_all(&w("tpr"), &case["roc_curve"]["tpr"], &roc.tpr));
            max_diff = max_diff.max(check_all(
                &w("thresholds"),
                &case["roc_curve"]["thresholds"],
                &roc.thresholds,
            ));
            let pr = precision_recall_curve(&y, &s).unwrap();
            max_diff = max_diff.max(check_all(
                &w("precision"),
                &case["pr_curve"]["precision"],
                &pr.precision,
            ));
            max_diff = max_diff.max(check_all(
                &w("recall"),
                &case["pr_curve"]["recall"],
                &pr.recall,
            ));
            max_diff = max_diff.max(check_all(
                &w("pr thresholds"),
                &case["pr_curve"]["thresholds"],
                &pr.thresholds,
            ));
            max_diff = max_diff.max(check(
                &w("ap"),
                &case["average_precision"],
                average_precision(&y, &s, EmptyPolicy::Error).unwrap(),
                1e-12,
            ));
            max_diff = max_diff.max(check(
                &w("pr auc"),
                &case["pr_auc"],
                pr_auc(&y, &s, EmptyPolicy::Error).unwrap(),
                1e-12,
            ));
        } else {
            assert!(
                roc_auc(&y, &s, EmptyPolicy::Error).is_err(),
                "{name}: single class must be undefined"
            );
        }
        let rc = reliability_curve(&y, &s, 10).unwrap();
        let cal = &case["calibration"];
        let pt: Vec<f64> = rc.bins.iter().map(|b| b.fraction_positive).collect();
        let pp: Vec<f64> = rc.bins.iter().map(|b| b.mean_predicted).collect();
        let cnt: Vec<f64> = rc.bins.iter().map(|b| b.count as f64).collect();
        max_diff = max_diff.max(check_all(&w("prob_true"), &cal["prob_true"], &pt));
        max_diff = max_diff.max(check_all(&w("prob_pred"), &cal["prob_pred"], &pp));
        max_diff = max_diff.max(check_all(&w("counts"), &cal["counts"], &cnt));
        max_diff = max_diff.max(check(&w("ece"), &cal["ece"], rc.ece(), 1e-12));
    }
    println!("classification golden: max relative difference {max_diff:e}");
}

#[test]
fn multiclass_balanced_accuracy_matches_sklearn() {
    let data = load("classification.json");
    for case in data["multiclass"].as_array().unwrap() {
        let yt: Vec<i64> = case["y_true"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let yp: Vec<i64> = case["y_pred"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        check(
            "ba",
            &case["balanced_accuracy"],
            balanced_accuracy(&yt, &yp, Adjusted::No).unwrap(),
            1e-12,
        );
        check(
            "ba adjusted",
            &case["adjusted"],
            balanced_accuracy(&yt, &yp, Adjusted::ForChance).unwrap(),
            1e-12,
        );
        let cm = confusion_matrix(&yt, &yp).unwrap();
        let exp: Vec<Vec<u64>> = case["confusion"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_u64().unwrap())
                    .collect()
            })
            .collect();
        assert_eq!(cm.counts, exp);
    }
}

#[test]
fn reference_document_examples() {
    // metrics.md §7.
    let auc = roc_auc(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8], EmptyPolicy::Error).unwrap();
    assert!((auc - 0.75).abs() < 1e-15);
    assert_eq!(
        roc_auc(&[0, 1, 0, 1], &[0.3; 4], EmptyPolicy::Error).unwrap(),
        0.5
    );
    let ba = balanced_accuracy(&[1, 1, 1], &[1, 0, 1], Adjusted::No).unwrap();
    assert!((ba - 2.0 / 3.0).abs() < 1e-15);
    let ece = medmetrics::expected_calibration_error(
        &[0, 0, 0, 1, 1, 1, 1, 0, 1, 0],
        &[0.05, 0.1, 0.3, 0.6, 0.7, 0.9, 0.95, 0.55, 0.45, 0.2],
        10,
    )
    .unwrap();
    assert!((ece - 0.18).abs() < 1e-12);
}
