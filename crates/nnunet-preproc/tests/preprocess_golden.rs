/* Golden parity of the per-case preprocessing pipeline (`preprocessor::preprocess_case`).

Reference outputs: `tools/golden/make_preprocess_fixtures.py` (re-run with
`.venv/bin/python tools/golden/make_preprocess_fixtures.py`), fixtures in `tests/data/preprocess/<case>/`:
  v2: nnunetv2 2.8.1 `DefaultPreprocessor().run_case_npy(data, seg, {'spacing': …}, PlansManager(plans),
      ConfigurationManager, dataset_json)` with ZScoreNormalization per channel, resampling
      `resample_data_or_seg_to_shape` (data order 3, seg order 1, order_z 0, force_separate_z None);
  v1: nnU-Net 1.7.1 `ImageCropper.crop` + transpose + `GenericPreprocessor({c: 'MRI'}, {c: use_mask},
      transpose_forward).resample_and_normalize(data, target, props, seg, force_separate_z=None)`.
Cases: aniso ([1.5, 0.7, 0.7] → 1 mm, no separate-z), iso ([0.8]³ → 1 mm, 3 channels, labels {0, 1, 2}),
same (1 mm → 1 mm, no resampling), sepz ([3.5, 0.75, 0.75] → 1 mm, separate-z), masked (use_mask_for_norm,
zero corner inside the box), transposed ([0.75, 0.75, 3] with transpose_forward [2, 0, 1]), and the
segmentation-free aniso_noseg / masked_noseg.
Tolerances: data max |diff| ≤ 1e-4 · (reference range); segmentations, shapes and boxes identical. */

use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4};
use ndarray_npy::read_npy;
use nnunet_preproc::normalize::NormalizationScheme;
use nnunet_preproc::plans::{Flavour, Plans};
use nnunet_preproc::preprocessor::{num_class_locations, preprocess_case, CaseProperties};
use nnunet_preproc::Geometry;
use serde_json::Value;

const CASES: [&str; 8] = [
    "aniso",
    "aniso_noseg",
    "iso",
    "same",
    "sepz",
    "masked",
    "masked_noseg",
    "transposed",
];

fn dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/preprocess")
        .join(case)
}

fn json(path: PathBuf) -> Value {
    serde_json::from_str(
        &fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

fn arr3(v: &Value) -> [usize; 3] {
    std::array::from_fn(|i| v[i].as_u64().unwrap() as usize)
}

fn f3(v: &Value) -> [f64; 3] {
    std::array::from_fn(|i| v[i].as_f64().unwrap())
}

fn plans_for(meta: &Value, flavour: Flavour) -> Plans {
    let c = meta["n_channels"].as_u64().unwrap() as usize;
    let mask = meta["use_mask_for_norm"].as_bool().unwrap();
    Plans {
        flavour,
        spacing: f3(&meta["target_spacing"]),
        patch_size: [16, 16, 16],
        channel_names: (0..c).map(|i| format!("ch{i}")).collect(),
        normalization: vec![NormalizationScheme::ZScore; c],
        use_mask_for_norm: vec![mask; c],
        transpose_forward: arr3(&meta["transpose_forward"]),
        transpose_backward: arr3(&meta["transpose_backward"]),
        anisotropy_threshold: 3.0,
        fingerprint: None,
    }
}

struct Input {
    meta: Value,
    data: Array4<f32>,
    seg: Option<Array3<i16>>,
    geometry: Geometry,
}

fn input(case: &str) -> Input {
    let d = dir(case);
    let meta = json(d.join("meta.json"));
    let data: Array4<f32> = read_npy(d.join("input_data.npy")).unwrap();
    let seg: Option<Array3<i16>> = if meta["has_seg"].as_bool().unwrap() {
        Some(read_npy(d.join("input_seg.npy")).unwrap())
    } else {
        None
    };
    let geometry = Geometry::from_spacing(f3(&meta["spacing"]));
    Input {
        meta,
        data,
        seg,
        geometry,
    }
}

/// Compares one case and flavour; returns (max |diff|, reference range).
fn check(case: &str, flavour: Flavour) -> (f32, f32) {
    let inp = input(case);
    let plans = plans_for(&inp.meta, flavour);
    let out = preprocess_case(
        inp.data.view(),
        inp.seg.as_ref().map(|s| s.view()),
        &inp.geometry,
        &plans,
    )
    .unwrap_or_else(|e| panic!("{case} {flavour:?}: {e}"));
    let tag = if flavour == Flavour::V2 { "v2" } else { "v1" };
    let d = dir(case);
    let props = json(d.join(format!("{tag}_props.json")));
    let ref_data: Array4<f32> = read_npy(d.join(format!("{tag}_data.npy"))).unwrap();
    let ref_seg: Array3<i16> = read_npy(d.join(format!("{tag}_seg.npy"))).unwrap();
    let p = &out.properties;

    assert_eq!(
        p.new_shape,
        arr3(&props["new_shape"]),
        "{case} {tag}: new shape"
    );
    // v2 stores shapes and the box transposed; v1 un-transposed (its crop runs before the transpose)
    let tf = plans.transpose_forward;
    let perm = |s: [usize; 3]| {
        if flavour == Flavour::V1 {
            [s[tf[0]], s[tf[1]], s[tf[2]]]
        } else {
            s
        }
    };
    assert_eq!(
        p.shape_before_cropping,
        perm(arr3(&props["shape_before_cropping"])),
        "{case} {tag}"
    );
    assert_eq!(
        p.shape_after_cropping_and_before_resampling,
        perm(arr3(&props["shape_after_cropping_and_before_resampling"])),
        "{case} {tag}"
    );
    let bbox_ref: Vec<[usize; 2]> = props["bbox_used_for_cropping"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            [
                b[0].as_u64().unwrap() as usize,
                b[1].as_u64().unwrap() as usize,
            ]
        })
        .collect();
    let bbox_ref = if flavour == Flavour::V1 {
        [bbox_ref[tf[0]], bbox_ref[tf[1]], bbox_ref[tf[2]]]
    } else {
        [bbox_ref[0], bbox_ref[1], bbox_ref[2]]
    };
    assert_eq!(p.bbox_used_for_cropping, bbox_ref, "{case} {tag}: bbox");

    assert_eq!(
        out.data.shape(),
        ref_data.shape(),
        "{case} {tag}: data shape"
    );
    let seg = out.seg.as_ref().unwrap();
    assert_eq!(seg.shape(), ref_seg.shape(), "{case} {tag}: seg shape");
    let seg_diff = seg
        .iter()
        .zip(ref_seg.iter())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(
        seg_diff, 0,
        "{case} {tag}: {seg_diff} segmentation voxels differ"
    );

    let range = ref_data.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v))
        - ref_data.iter().fold(f32::INFINITY, |m, &v| m.min(v));
    let max_diff = out
        .data
        .iter()
        .zip(ref_data.iter())
        .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
    eprintln!(
        "{case:>13} {tag}: max |diff| {max_diff:.3e}, range {range:.3}, relative {:.3e}",
        max_diff / range
    );
    assert!(
        max_diff <= 1e-4 * range,
        "{case} {tag}: max |diff| {max_diff} > 1e-4 · {range}"
    );

    check_class_locations(case, tag, &inp, p, seg, &props);
    (max_diff, range)
}

fn check_class_locations(
    case: &str,
    tag: &str,
    inp: &Input,
    p: &CaseProperties,
    seg: &Array3<i16>,
    props: &Value,
) {
    if inp.seg.is_none() {
        assert!(p.class_locations.is_empty(), "{case} {tag}");
        return;
    }
    for (label, locs) in &p.class_locations {
        let n = seg.iter().filter(|&&l| l == *label).count();
        assert_eq!(
            locs.len(),
            num_class_locations(n),
            "{case} {tag}: label {label}"
        );
        assert!(
            locs.iter().all(|&[z, y, x]| seg[[z, y, x]] == *label),
            "{case} {tag}: label {label}"
        );
        if tag == "v2" {
            // nnU-Net draws a different subset (numpy RNG), but the count rule is the same
            let n_ref = props["class_location_counts"][label.to_string()]
                .as_u64()
                .unwrap() as usize;
            assert_eq!(
                locs.len(),
                n_ref,
                "{case} {tag}: class location count of label {label}"
            );
        }
    }
}

#[test]
fn v2_matches_nnunetv2_default_preprocessor() {
    for case in CASES {
        check(case, Flavour::V2);
    }
}

#[test]
fn v1_matches_nnunet_v1_generic_preprocessor() {
    for case in CASES {
        check(case, Flavour::V1);
    }
}

#[test]
fn properties_round_trip_through_json() {
    let inp = input("transposed");
    let plans = plans_for(&inp.meta, Flavour::V2);
    let out = preprocess_case(
        inp.data.view(),
        inp.seg.as_ref().map(|s| s.view()),
        &inp.geometry,
        &plans,
    )
    .unwrap();
    let text = serde_json::to_string(&out.properties).unwrap();
    let back: CaseProperties = serde_json::from_str(&text).unwrap();
    assert_eq!(back, out.properties);
    assert_eq!(back.transpose_backward(), [1, 2, 0]);
    assert_eq!(back.spacing_transposed(), [3.0, 0.75, 0.75]);
}

#[test]
fn bad_inputs_are_typed_errors() {
    let inp = input("aniso");
    let plans = plans_for(&inp.meta, Flavour::V2);
    let seg = inp.seg.unwrap();
    let wrong = seg.slice(ndarray::s![1.., .., ..]);
    assert!(matches!(
        preprocess_case(inp.data.view(), Some(wrong), &inp.geometry, &plans),
        Err(nnunet_preproc::Error::ShapeMismatch { .. })
    ));
    let mut nan = inp.data.clone();
    nan[[0, 5, 10, 10]] = f32::NAN;
    assert!(matches!(
        preprocess_case(nan.view(), Some(seg.view()), &inp.geometry, &plans),
        Err(nnunet_preproc::Error::NonFiniteVoxels { count: 1, .. })
    ));
    // v1 replaces NaN by 0 (after cropping) instead
    let v1 = plans_for(&inp.meta, Flavour::V1);
    let out = preprocess_case(nan.view(), Some(seg.view()), &inp.geometry, &v1).unwrap();
    assert!(out.data.iter().all(|v| v.is_finite()));
    let mut bad_plan = plans.clone();
    bad_plan.transpose_forward = [0, 0, 1];
    assert!(preprocess_case(inp.data.view(), Some(seg.view()), &inp.geometry, &bad_plan).is_err());
    let mut bad_plan = plans.clone();
    bad_plan.normalization.pop();
    assert!(preprocess_case(inp.data.view(), Some(seg.view()), &inp.geometry, &bad_plan).is_err());
    let bad_geom = Geometry::from_spacing([0.0, 1.0, 1.0]);
    assert!(matches!(
        preprocess_case(inp.data.view(), Some(seg.view()), &bad_geom, &plans),
        Err(nnunet_preproc::Error::InvalidSpacing { .. })
    ));
}
