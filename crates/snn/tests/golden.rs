//! Parity with scikit-learn 1.9.1 / pandas / scipy (golden values from `tools/golden/make_snn_fixtures.py`;
//! data: `make_classification(n_samples=400, n_features=12, n_informative=4, weights=[0.7], shuffle=False,
//! random_state=0)`, fixtures `tests/data/snn_tabular.csv` and `tests/data/snn_golden.json`).

mod common;

use candle_core::Device;
use common::{golden, tabular};
use ndarray::{Array2, Axis};
use snn::{
    correlation_filter, fit_temperature, nll, predict_logits, sequential_feature_selection,
    stratified_fold_ids, stratified_kfold, train, CorrelationRule, Direction, LogisticRegression,
    Scoring, SfsConfig, Shuffle, SnnConfig, Standardizer, TrainConfig,
};

fn vec_f64(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn vec_usize(v: &serde_json::Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn cols(x: &Array2<f64>) -> Vec<Vec<f64>> {
    x.columns().into_iter().map(|c| c.to_vec()).collect()
}

#[test]
fn stratified_folds_equal_sklearn() {
    let (_, y) = tabular();
    let ids = stratified_fold_ids(&y, 5, Shuffle::None).unwrap();
    assert_eq!(ids, vec_usize(&golden()["fold_ids"]));
}

#[test]
fn standardizer_equals_standard_scaler() {
    let (t, _) = tabular();
    let g = golden();
    let s = Standardizer::fit(t.values.view()).unwrap();
    let d = max_diff(&s.offsets, &vec_f64(&g["scaler"]["offsets"]))
        .max(max_diff(&s.scales, &vec_f64(&g["scaler"]["scales"])));
    println!("scaler max diff {d:e}");
    assert!(d < 1e-12);
}

#[test]
fn logistic_regression_equals_sklearn() {
    let (t, y) = tabular();
    let g = golden();
    let z = Standardizer::fit(t.values.view())
        .unwrap()
        .transform(t.values.view())
        .unwrap();
    let c = cols(&z);
    let refs: Vec<&[f64]> = c.iter().map(Vec::as_slice).collect();
    let m = LogisticRegression::default().fit(&refs, &y, None).unwrap();
    let d = max_diff(&m.coef, &vec_f64(&g["logreg_full"]["coef"]))
        .max((m.intercept - g["logreg_full"]["intercept"].as_f64().unwrap()).abs());
    println!("logistic regression max coefficient diff {d:e}");
    assert!(d < 1e-6);
}

/// Per fold (scaler fit on the training fold): our logistic regression's test balanced accuracy equals
/// sklearn's, and the SNN's mean balanced accuracy is within 0.03 of sklearn's MLPClassifier(64, 128, 128).
#[test]
fn cross_validated_balanced_accuracy_matches_sklearn() {
    let (t, y) = tabular();
    let g = golden();
    let folds = stratified_kfold(&y, 5, Shuffle::None).unwrap();
    let (mut lr_ours, mut lr_ref, mut snn_ours, mut mlp_ref) = (0.0, 0.0, 0.0, 0.0);
    for (k, f) in folds.iter().enumerate() {
        let gk = &g["cv"][k];
        let xtr = t.values.select(Axis(0), &f.train);
        let xte = t.values.select(Axis(0), &f.test);
        let ytr: Vec<u8> = f.train.iter().map(|&i| y[i]).collect();
        let yte: Vec<u8> = f.test.iter().map(|&i| y[i]).collect();
        let s = Standardizer::fit(xtr.view()).unwrap();
        let (a, b) = (
            s.transform(xtr.view()).unwrap(),
            s.transform(xte.view()).unwrap(),
        );
        let (ca, cb) = (cols(&a), cols(&b));
        let ra: Vec<&[f64]> = ca.iter().map(Vec::as_slice).collect();
        let rb: Vec<&[f64]> = cb.iter().map(Vec::as_slice).collect();
        let m = LogisticRegression::default().fit(&ra, &ytr, None).unwrap();
        let coef_diff = max_diff(&m.coef, &vec_f64(&gk["logreg_coef"]));
        assert!(coef_diff < 1e-6, "fold {k}: coefficient diff {coef_diff:e}");
        let ba = Scoring::BalancedAccuracy.score(&yte, &m.predict(&rb));
        lr_ours += ba / 5.0;
        lr_ref += gk["logreg_ba"].as_f64().unwrap() / 5.0;
        let cfg = TrainConfig {
            epochs: 60,
            seed: k as u64,
            ..TrainConfig::default()
        };
        let trained = train(
            a.view(),
            &ytr,
            &SnnConfig::seed_code(12),
            &cfg,
            &Device::Cpu,
        )
        .unwrap();
        let z = predict_logits(&trained.model, b.view(), &Device::Cpu).unwrap();
        let pred: Vec<u8> = z.iter().map(|&v| u8::from(v > 0.0)).collect();
        snn_ours += Scoring::BalancedAccuracy.score(&yte, &pred) / 5.0;
        mlp_ref += gk["mlp_ba"].as_f64().unwrap() / 5.0;
    }
    println!("mean BA: logistic ours {lr_ours:.4} sklearn {lr_ref:.4}; SNN {snn_ours:.4} vs MLPClassifier {mlp_ref:.4}");
    assert!((lr_ours - lr_ref).abs() < 1e-12);
    assert!(
        (snn_ours - mlp_ref).abs() <= 0.03,
        "SNN {snn_ours} vs MLP {mlp_ref}"
    );
    assert!(
        (snn_ours - lr_ref).abs() <= 0.03,
        "SNN {snn_ours} vs LR {lr_ref}"
    );
}

#[test]
fn sequential_selection_equals_sklearn() {
    let (t, y) = tabular();
    let g = golden();
    let z = Standardizer::fit(t.values.view())
        .unwrap()
        .transform(t.values.view())
        .unwrap();
    for (direction, key) in [
        (Direction::Forward, "sfs_forward"),
        (Direction::Backward, "sfs_backward"),
    ] {
        let cfg = SfsConfig {
            n_features: 4,
            direction,
            ..SfsConfig::default()
        };
        let sel = sequential_feature_selection(z.view(), &y, &LogisticRegression::default(), &cfg)
            .unwrap();
        assert_eq!(sel.selected, vec_usize(&g[key]), "{direction:?}");
    }
}

#[test]
fn correlation_filter_equals_pandas_rule() {
    let (t, _) = tabular();
    let g = &golden()["correlation"];
    let extra: Vec<Vec<f64>> = g["extra_columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(vec_f64)
        .collect();
    let e = Array2::from_shape_fn((extra.len(), extra[0].len()), |(i, j)| extra[i][j]);
    let x = ndarray::concatenate![Axis(1), t.values, e];
    let kept = correlation_filter(
        x.view(),
        g["threshold"].as_f64().unwrap(),
        CorrelationRule::AnyEarlier,
    )
    .unwrap();
    assert_eq!(kept, vec_usize(&g["kept"]));
}

#[test]
fn temperature_equals_scipy() {
    let g = &golden()["temperature"];
    let z = vec_f64(&g["logits"]);
    let y: Vec<u8> = vec_usize(&g["labels"])
        .into_iter()
        .map(|v| v as u8)
        .collect();
    let t = fit_temperature(&z, &y).unwrap();
    let t_ref = g["temperature"].as_f64().unwrap();
    println!("temperature {t} vs scipy {t_ref}: {:e}", (t - t_ref).abs());
    assert!((t - t_ref).abs() < 1e-6);
    assert!((nll(&z, &y, 1.0 / t) - g["nll"].as_f64().unwrap()).abs() < 1e-10);
}
