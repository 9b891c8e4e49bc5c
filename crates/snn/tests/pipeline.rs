//! Feature pipeline on generated data with known informative features, the model bundle round trip, and the
//! typed errors of the issue (missing feature column, NaN/Inf, single class, too few features, bundle version).

mod common;

use candle_core::Device;
use ndarray::Array2;
use snn::{
    fit_temperature, predict_logits, select_features, sequential_feature_selection, train, Error,
    FeatureTable, LogisticRegression, ModelBundle, PipelineConfig, SfsConfig, SnnConfig,
    Standardizer, TrainConfig, BUNDLE_FORMAT_VERSION, METADATA_FILE,
};

fn names(p: usize) -> Vec<String> {
    (0..p).map(|j| format!("feat_{j}")).collect()
}

fn table(x: Array2<f64>) -> FeatureTable {
    let ids = (0..x.nrows()).map(|i| format!("CASE_{i:03}")).collect();
    FeatureTable::new(ids, names(x.ncols()), x).unwrap()
}

/// 6 informative columns among 30 (600 samples): forward and backward selection to 6 recover exactly them.
#[test]
fn selection_recovers_informative_features() {
    let informative = [3, 7, 11, 18, 22, 27];
    let (x, y) = common::synthetic(600, 30, &informative, 2);
    for direction in [snn::Direction::Forward, snn::Direction::Backward] {
        let cfg = SfsConfig {
            n_features: 6,
            direction,
            ..SfsConfig::default()
        };
        let sel = sequential_feature_selection(x.view(), &y, &LogisticRegression::default(), &cfg)
            .unwrap();
        assert_eq!(sel.selected, informative, "{direction:?}");
    }
    // The whole pipeline (with a redundant copy of column 3 appended, removed by the correlation filter).
    let copy = x.column(3).mapv(|v| 2.0 * v + 1.0);
    let x2 = ndarray::concatenate![ndarray::Axis(1), x, copy.insert_axis(ndarray::Axis(1))];
    let cfg = PipelineConfig {
        sfs: SfsConfig {
            n_features: 6,
            ..SfsConfig::default()
        },
        ..PipelineConfig::default()
    };
    let sel = select_features(&table(x2), &y, &LogisticRegression::default(), &cfg).unwrap();
    assert_eq!(sel.after_correlation.len(), 30);
    assert_eq!(
        sel.selected,
        informative
            .iter()
            .map(|j| format!("feat_{j}"))
            .collect::<Vec<_>>()
    );
}

/// The network itself as the selection estimator (small: 2 of 8 columns, few epochs).
#[test]
fn snn_as_selection_estimator() {
    let (x, y) = common::synthetic(200, 8, &[2, 5], 4);
    let est = snn::SnnEstimator {
        template: SnnConfig {
            hidden: vec![16, 16],
            ..SnnConfig::default()
        },
        train: TrainConfig {
            epochs: 15,
            ..TrainConfig::default()
        },
    };
    let cfg = SfsConfig {
        n_features: 2,
        n_splits: 3,
        ..SfsConfig::default()
    };
    let sel = sequential_feature_selection(x.view(), &y, &est, &cfg).unwrap();
    assert_eq!(sel.selected, vec![2, 5]);
}

/// The report's numbers equal medmetrics' on the same predictions; the PNG is a valid 480×480 RGB image.
#[test]
fn report_and_reliability_png() {
    let g = common::golden();
    let z: Vec<f64> = g["temperature"]["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let y: Vec<u8> = g["temperature"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    let groups: Vec<medmetrics::Subgroups> = (0..y.len())
        .map(|i| medmetrics::Subgroups {
            age: Some(["0-40", "41-50"][i % 2].into()),
            ..Default::default()
        })
        .collect();
    let r = snn::pcr_report(&y, &z, 2.0, 0.4, Some(&groups)).unwrap();
    let p = snn::apply_temperature(&z, 2.0);
    let pred: Vec<u8> = p.iter().map(|&v| u8::from(v > 0.4)).collect();
    assert_eq!(
        r.balanced_accuracy,
        medmetrics::balanced_accuracy(&y, &pred, medmetrics::Adjusted::No).unwrap()
    );
    assert_eq!(
        r.ece_calibrated,
        medmetrics::expected_calibration_error(&y, &p, 10).unwrap()
    );
    let t2 = r.task2.as_ref().unwrap();
    assert_eq!(
        t2.variables
            .iter()
            .find(|v| v.variable == medmetrics::SubgroupVariable::Age)
            .unwrap()
            .groups
            .len(),
        2
    );
    assert!(r.to_string().contains("Task 2: fairness"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rel.png");
    let curve = medmetrics::reliability_curve(&y, &p, 10).unwrap();
    snn::write_reliability_png(&path, &[&curve]).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(u32::from_be_bytes(bytes[16..20].try_into().unwrap()), 480);
}

fn fitted_bundle(dir: &std::path::Path) -> (FeatureTable, ModelBundle) {
    let (x, y) = common::synthetic(200, 5, &[0, 1], 3);
    let t = table(x);
    let scaler = Standardizer::fit(t.values.view()).unwrap();
    let z = scaler.transform(t.values.view()).unwrap();
    let arch = SnnConfig {
        hidden: vec![16, 8],
        ..SnnConfig::seed_code(5)
    };
    let trained = train(
        z.view(),
        &y,
        &arch,
        &TrainConfig {
            epochs: 5,
            ..TrainConfig::default()
        },
        &Device::Cpu,
    )
    .unwrap();
    let logits = predict_logits(&trained.model, z.view(), &Device::Cpu).unwrap();
    let bundle = ModelBundle {
        format_version: BUNDLE_FORMAT_VERSION,
        architecture: arch,
        feature_names: t.names.clone(),
        scaler,
        temperature: fit_temperature(&logits, &y).unwrap(),
        threshold: 0.4,
        clinical_covariates: vec![],
        training_summary: serde_json::json!({"note": "test"}),
    };
    bundle.save(dir, &trained.varmap).unwrap();
    (t, bundle)
}

#[test]
fn bundle_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (t, bundle) = fitted_bundle(dir.path());
    let (loaded, net) = ModelBundle::load(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(loaded, bundle);
    // Column order of the table does not matter: features are looked up by name.
    let mut reversed_names = t.names.clone();
    reversed_names.reverse();
    let shuffled = t.select(&reversed_names).unwrap();
    let a = loaded.predict(&net, &t, &Device::Cpu).unwrap();
    let b = loaded.predict(&net, &shuffled, &Device::Cpu).unwrap();
    assert_eq!(a, b);
    assert!(a
        .probabilities
        .iter()
        .zip(&a.labels)
        .all(|(&p, &l)| (p > 0.4) == (l == 1)));
}

#[test]
fn typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (t, bundle) = fitted_bundle(dir.path());
    let (_, net) = ModelBundle::load(dir.path(), &Device::Cpu).unwrap();

    // Missing feature column, named.
    let partial = t.select(&t.names[..4]).unwrap();
    match bundle.predict(&net, &partial, &Device::Cpu) {
        Err(Error::MissingFeature { name, .. }) => assert_eq!(name, "feat_4"),
        other => panic!("{other:?}"),
    }
    // NaN / Inf features: rejected, naming case and feature.
    let mut bad = t.clone();
    bad.values[[7, 2]] = f64::NAN;
    match bundle.predict(&net, &bad, &Device::Cpu) {
        Err(Error::NonFinite { case, feature, .. }) => {
            assert_eq!((case.as_str(), feature.as_str()), ("CASE_007", "feat_2"))
        }
        other => panic!("{other:?}"),
    }
    bad.values[[7, 2]] = f64::INFINITY;
    let y = vec![0u8; t.values.nrows()];
    assert!(matches!(
        select_features(
            &bad,
            &y,
            &LogisticRegression::default(),
            &PipelineConfig::default()
        ),
        Err(Error::NonFinite { .. })
    ));
    // Single-class training set.
    let arch = SnnConfig::seed_code(5);
    assert!(matches!(
        train(
            t.values.view(),
            &y,
            &arch,
            &TrainConfig::default(),
            &Device::Cpu
        ),
        Err(Error::SingleClass { class: 0, n: 200 })
    ));
    // Fewer features than the selection size.
    let (_, y2) = common::synthetic(200, 5, &[0, 1], 3);
    match select_features(
        &t,
        &y2,
        &LogisticRegression::default(),
        &PipelineConfig::default(),
    ) {
        Err(Error::TooFewFeatures {
            available: 5,
            requested: 40,
        }) => {}
        other => panic!("{other:?}"),
    }
    // A bundle from an incompatible format version.
    let meta = dir.path().join(METADATA_FILE);
    let text = std::fs::read_to_string(&meta)
        .unwrap()
        .replace("\"format_version\": 1", "\"format_version\": 99");
    std::fs::write(&meta, text).unwrap();
    match ModelBundle::load(dir.path(), &Device::Cpu) {
        Err(Error::IncompatibleBundle {
            found: 99,
            supported: 1,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // A CSV with a non-numeric cell names the line and column.
    let csv = dir.path().join("f.csv");
    std::fs::write(&csv, "case_id,a,b\nX,1,2\nY,3,oops\n").unwrap();
    match FeatureTable::from_csv(&csv) {
        Err(Error::Parse {
            line: 3, reason, ..
        }) => assert!(reason.contains("`b`"), "{reason}"),
        other => panic!("{other:?}"),
    }
}
