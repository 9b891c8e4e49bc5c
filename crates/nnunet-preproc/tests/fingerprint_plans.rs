//! Dataset fingerprint, target spacing, transposition, normalisation rules and plans against nnU-Net.
//!
//! Golden values: `tools/golden/make_crop_norm_fixtures.py` — nnunetv2 2.8.1 `crop_to_nonzero` + the
//! aggregation of `DatasetFingerprintExtractor.run` on all foreground voxels (v2), nnunet 1.7.1
//! `DatasetAnalyzer._compute_stats` on every 10th foreground voxel (v1), nnunetv2
//! `ExperimentPlanner.{determine_fullres_target_spacing, determine_transpose,
//! determine_normalization_scheme_and_whether_mask_is_used_for_norm}`, nnunet 1.7.1
//! `ExperimentPlanner3D_v21.{get_target_spacing, determine_normalization_scheme,
//! determine_whether_to_use_mask_for_norm}`; fixtures in `crates/nnunet-preproc/tests/data/crop_norm/`.

use std::path::PathBuf;

use ndarray::{Array3, Array4, Ix3, Ix4};
use ndarray_npy::read_npy;
use nnunet_preproc::{
    case_fingerprint, dataset_fingerprint, dataset_fingerprint_for, scheme_for_channel_name_in,
    target_spacing, transpose_backward, transpose_forward, use_mask_for_norm, use_mask_for_norm_v1,
    CaseFingerprint, DatasetFingerprint, Error, Flavour, NormalizationScheme, Plans, PlansParams,
    SchemeKind, TargetSpacing,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/crop_norm")
}

fn json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).unwrap()).unwrap()
}

fn fingerprint_json(name: &str) -> DatasetFingerprint {
    serde_json::from_value(json(name)).expect("nnU-Net's dataset_fingerprint.json layout")
}

fn cases() -> Vec<CaseFingerprint> {
    let meta = json("fp_cases");
    (0..4)
        .map(|i| {
            let data: Array4<f32> =
                read_npy::<_, ndarray::ArrayD<f32>>(dir().join(format!("fp_case{i}_data.npy")))
                    .unwrap()
                    .into_dimensionality::<Ix4>()
                    .unwrap();
            let seg: Array3<i16> =
                read_npy::<_, ndarray::ArrayD<i16>>(dir().join(format!("fp_case{i}_seg.npy")))
                    .unwrap()
                    .into_dimensionality::<Ix3>()
                    .unwrap();
            let sp = &meta[i]["spacing"];
            let spacing = std::array::from_fn(|a| sp[a].as_f64().unwrap());
            case_fingerprint(data.view(), Some(seg.view()), spacing).unwrap()
        })
        .collect()
}

#[test]
fn fingerprint_matches_nnunet_v2_and_v1() {
    let cases = cases();
    let rel = json("fp_relative_sizes");
    for (i, c) in cases.iter().enumerate() {
        assert_eq!(
            c.relative_size_after_cropping,
            rel[i].as_f64().unwrap(),
            "case {i}"
        );
    }
    // all statistics are bit-identical to NumPy's float32 arithmetic (same voxel sets)
    assert_eq!(
        dataset_fingerprint(&cases).unwrap(),
        fingerprint_json("fingerprint_v2")
    );
    assert_eq!(
        dataset_fingerprint_for(&cases, Flavour::V1).unwrap(),
        fingerprint_json("fingerprint_v1")
    );
}

#[test]
fn fingerprint_json_round_trip_and_errors() {
    let fp = dataset_fingerprint(&cases()).unwrap();
    let text = serde_json::to_string(&fp).unwrap();
    assert!(text.contains("\"foreground_intensity_properties_per_channel\":{\"0\":"));
    assert_eq!(
        serde_json::from_str::<DatasetFingerprint>(&text).unwrap(),
        fp
    );

    // no foreground: NaN statistics, written as null and read back as NaN
    let d = Array4::<f32>::ones((1, 3, 3, 3));
    let case = case_fingerprint(d.view(), None, [1.0, 1.0, 1.0]).unwrap();
    let empty = dataset_fingerprint(std::slice::from_ref(&case)).unwrap();
    assert!(empty.foreground_intensity_properties_per_channel[0]
        .mean
        .is_nan());
    let text = serde_json::to_string(&empty).unwrap();
    assert!(text.contains("\"mean\":null"));
    let back: DatasetFingerprint = serde_json::from_str(&text).unwrap();
    assert!(back.foreground_intensity_properties_per_channel[0]
        .std
        .is_nan());

    assert!(matches!(
        case_fingerprint(d.view(), None, [1.0, 0.0, 1.0]),
        Err(Error::InvalidSpacing { .. })
    ));
    let two = Array4::<f32>::ones((2, 3, 3, 3));
    let case2 = case_fingerprint(two.view(), None, [1.0, 1.0, 1.0]).unwrap();
    assert!(dataset_fingerprint(&[case, case2]).is_err());
}

#[test]
fn target_spacing_and_transpose_match_nnunet() {
    let scenarios = json("target_spacing");
    for (name, s) in scenarios.as_object().unwrap() {
        let spacings: Vec<[f64; 3]> = serde_json::from_value(s["spacings"].clone()).unwrap();
        let shapes: Vec<[usize; 3]> = serde_json::from_value(s["shapes"].clone()).unwrap();
        let fp = DatasetFingerprint {
            spacings,
            shapes_after_crop: shapes,
            median_relative_size_after_cropping: 1.0,
            foreground_intensity_properties_per_channel: vec![],
        };
        let v2: [f64; 3] = serde_json::from_value(s["v2_target"].clone()).unwrap();
        let v1: [f64; 3] = serde_json::from_value(s["v1_target"].clone()).unwrap();
        let got = target_spacing(&fp, Flavour::V2).unwrap();
        assert_eq!(got, v2, "{name} v2");
        assert_eq!(target_spacing(&fp, Flavour::V1).unwrap(), v1, "{name} v1");
        let fwd: [usize; 3] = serde_json::from_value(s["transpose_forward"].clone()).unwrap();
        let bwd: [usize; 3] = serde_json::from_value(s["transpose_backward"].clone()).unwrap();
        assert_eq!(transpose_forward(got), fwd, "{name}");
        assert_eq!(transpose_backward(fwd), bwd, "{name}");
    }
    let empty = DatasetFingerprint {
        spacings: vec![],
        shapes_after_crop: vec![],
        median_relative_size_after_cropping: f64::NAN,
        foreground_intensity_properties_per_channel: vec![],
    };
    assert!(matches!(
        target_spacing(&empty, Flavour::V2),
        Err(Error::InvalidParameter {
            key: "spacings",
            ..
        })
    ));
}

fn class_name(kind: SchemeKind) -> &'static str {
    match kind {
        SchemeKind::ZScore => "ZScoreNormalization",
        SchemeKind::Ct => "CTNormalization",
        SchemeKind::NoNormalization => "NoNormalization",
        SchemeKind::RescaleTo01 => "RescaleTo01Normalization",
        SchemeKind::RgbTo01 => "RGBTo01Normalization",
    }
}

fn scheme_of(kind: SchemeKind) -> NormalizationScheme {
    match kind {
        SchemeKind::ZScore => NormalizationScheme::ZScore,
        SchemeKind::Ct => {
            NormalizationScheme::Ct(nnunet_preproc::ForegroundIntensityProperties::EMPTY)
        }
        SchemeKind::NoNormalization => NormalizationScheme::NoNormalization,
        SchemeKind::RescaleTo01 => NormalizationScheme::RescaleTo01,
        SchemeKind::RgbTo01 => NormalizationScheme::RgbTo01,
    }
}

#[test]
fn normalisation_scheme_and_mask_rules_match_nnunet() {
    for (median, r) in json("norm_rules").as_object().unwrap() {
        let median: f64 = median.parse().unwrap();
        let names: Vec<String> = serde_json::from_value(r["names"].clone()).unwrap();
        for (i, name) in names.iter().enumerate() {
            let kind = scheme_for_channel_name_in(name, Flavour::V2).unwrap();
            assert_eq!(class_name(kind), r["v2_schemes"][i], "{name}");
            // the serialised name is nnU-Net's class name
            let scheme = scheme_of(kind);
            let text = serde_json::to_string(&scheme).unwrap();
            assert!(text.contains(class_name(kind)), "{text}");
            assert_eq!(
                use_mask_for_norm(median, &scheme),
                r["v2_mask"][i],
                "{name} at {median}"
            );
            assert_eq!(
                use_mask_for_norm_v1(median, name),
                r["v1_mask"][i],
                "{name} at {median} (v1)"
            );
            let v1 = r["v1_schemes"][i].as_str().unwrap();
            match scheme_for_channel_name_in(name, Flavour::V1) {
                Ok(SchemeKind::Ct) => assert_eq!(v1, "CT"),
                Ok(SchemeKind::NoNormalization) => assert_eq!(v1, "noNorm"),
                Ok(SchemeKind::ZScore) => assert_eq!(v1, "nonCT"),
                Ok(other) => panic!("v1 has no {other:?}"),
                // v2-only keys, which v1 would silently z-score, are refused
                Err(Error::InvalidParameter {
                    key: "channel_names",
                    ..
                }) => {
                    assert!(
                        name.starts_with("rescale") || name.starts_with("rgb"),
                        "{name}"
                    )
                }
                Err(e) => panic!("{e}"),
            }
        }
    }
}

#[test]
fn plans_from_fingerprint_and_json_round_trip() {
    let fp = fingerprint_json("fingerprint_v2");
    let plans = Plans::from_fingerprint(&fp, &["pre", "post1"], &PlansParams::default()).unwrap();
    assert_eq!(plans.flavour, Flavour::V2);
    assert_eq!(plans.spacing, [1.5, 0.725, 0.725]); // breast_mri scenario of target_spacing.json
    assert_eq!(plans.patch_size, [128, 128, 128]);
    assert_eq!(plans.normalization, vec![NormalizationScheme::ZScore; 2]);
    // these small cases have zero borders: cropping keeps about half of each image
    assert!(fp.median_relative_size_after_cropping < 0.75);
    assert_eq!(plans.use_mask_for_norm, vec![true, true]);
    assert_eq!(
        (plans.transpose_forward, plans.transpose_backward),
        ([0, 1, 2], [0, 1, 2])
    );
    assert_eq!(plans.anisotropy_threshold, 3.0);

    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("plans/nnUNetPlans.json");
    plans.save(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\"flavour\": \"v2\"") && text.contains("\"ZScoreNormalization\""));
    assert_eq!(Plans::load(&path).unwrap(), plans);

    // the paper's set-up: fixed 1 mm, v1, a CT channel carries the fingerprint statistics
    let params = PlansParams::new()
        .flavour(Flavour::V1)
        .target_spacing(TargetSpacing::Fixed([1.0, 1.0, 1.0]))
        .patch_size([128, 128, 128]);
    let p1 = Plans::from_fingerprint(&fp, &["CT", "post1"], &params).unwrap();
    assert_eq!(p1.spacing, [1.0, 1.0, 1.0]);
    assert_eq!(p1.use_mask_for_norm, vec![false, true]); // v1: no mask for a name containing "CT"
    assert_eq!(
        p1.normalization[0],
        NormalizationScheme::Ct(fp.foreground_intensity_properties_per_channel[0])
    );
    let path1 = tmp.path().join("v1.json");
    p1.save(&path1).unwrap();
    assert!(std::fs::read_to_string(&path1)
        .unwrap()
        .contains("\"flavour\": \"v1\""));
    assert_eq!(Plans::load(&path1).unwrap(), p1);

    // an anisotropic target is transposed (worst axis first) and stored in transposed order
    let aniso = PlansParams::new().target_spacing(TargetSpacing::Fixed([0.8, 0.8, 3.2]));
    let p2 = Plans::from_fingerprint(&fp, &["pre", "post1"], &aniso).unwrap();
    assert_eq!(p2.transpose_forward, [2, 0, 1]);
    assert_eq!(p2.spacing, [3.2, 0.8, 0.8]);
    assert_eq!(p2.spacing_untransposed(), [0.8, 0.8, 3.2]);
}

fn key_of(e: Error) -> &'static str {
    match e {
        Error::InvalidParameter { key, .. } => key,
        other => panic!("expected InvalidParameter, got {other}"),
    }
}

#[test]
fn invalid_params_and_plans_are_rejected_with_the_key() {
    let fp = fingerprint_json("fingerprint_v2");
    let names = ["pre", "post1"];
    let bad = [
        (
            PlansParams::new().target_spacing(TargetSpacing::Fixed([1.0, 0.0, 1.0])),
            "target_spacing",
        ),
        (
            PlansParams::new().target_spacing(TargetSpacing::Fixed([1.0, f64::NAN, 1.0])),
            "target_spacing",
        ),
        (PlansParams::new().patch_size([128, 0, 128]), "patch_size"),
        (
            PlansParams::new().anisotropy_threshold(1.0),
            "anisotropy_threshold",
        ),
        (
            PlansParams::new().anisotropy_threshold(f64::INFINITY),
            "anisotropy_threshold",
        ),
    ];
    for (params, key) in bad {
        assert_eq!(key_of(params.check().unwrap_err()), key);
        assert_eq!(
            key_of(Plans::from_fingerprint(&fp, &names, &params).unwrap_err()),
            key
        );
    }
    let p = PlansParams::default();
    assert_eq!(
        key_of(Plans::from_fingerprint(&fp, &["pre"], &p).unwrap_err()),
        "channel_names"
    );
    assert_eq!(
        key_of(Plans::from_fingerprint(&fp, &["pre", "no_norm"], &p).unwrap_err()),
        "channel_names"
    );
    let v1 = PlansParams::new().flavour(Flavour::V1);
    assert_eq!(
        key_of(Plans::from_fingerprint(&fp, &["pre", "rgb_to_0_1"], &v1).unwrap_err()),
        "channel_names"
    );

    let good = Plans::from_fingerprint(&fp, &names, &p).unwrap();
    let mut t = good.clone();
    t.transpose_forward = [0, 0, 1];
    assert_eq!(key_of(t.check().unwrap_err()), "transpose_forward");
    let mut t = good.clone();
    t.transpose_forward = [2, 0, 1];
    assert_eq!(key_of(t.check().unwrap_err()), "transpose_backward");
    let mut t = good.clone();
    t.use_mask_for_norm.pop();
    assert_eq!(key_of(t.check().unwrap_err()), "use_mask_for_norm");
    let mut t = good.clone();
    t.spacing[1] = -1.0;
    assert_eq!(key_of(t.check().unwrap_err()), "spacing");
    let mut t = good.clone();
    t.flavour = Flavour::V1;
    t.normalization[0] = NormalizationScheme::RescaleTo01;
    assert_eq!(key_of(t.check().unwrap_err()), "normalization");

    // load checks too, and names the file for JSON errors
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("p.json");
    std::fs::write(
        &path,
        serde_json::to_vec(&{
            let mut t = good.clone();
            t.patch_size = [0, 1, 1];
            t
        })
        .unwrap(),
    )
    .unwrap();
    assert_eq!(key_of(Plans::load(&path).unwrap_err()), "patch_size");
    std::fs::write(&path, b"{\"flavour\": \"v3\"}").unwrap();
    assert!(matches!(Plans::load(&path), Err(Error::Json { path: p, .. }) if p == path));
    assert!(matches!(
        Plans::load(tmp.path().join("missing.json")),
        Err(Error::Io { .. })
    ));
}
