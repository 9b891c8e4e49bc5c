/* Golden parity of the export back to the original geometry (`export::*`).

Reference outputs: `tools/golden/make_preprocess_fixtures.py` (re-run with
`.venv/bin/python tools/golden/make_preprocess_fixtures.py`), fixtures in `tests/data/preprocess/<case>/` for the
cases aniso ([1.5, 0.7, 0.7] → 1 mm), sepz ([3.5, 0.75, 0.75] → 1 mm, separate-z) and transposed
([0.75, 0.75, 3] → 1 mm, transpose_forward [2, 0, 1], separate-z), with seeded smooth random logits
`logits_k{2,3}.npy` in preprocessed space:
  v2: nnunetv2 2.8.1 `convert_predicted_logits_to_segmentation_with_correct_shape(logits, PlansManager,
      ConfigurationManager, LabelManager, properties)` (resampling_fn_probabilities =
      resample_data_or_seg_to_shape, order 1, order_z 0, force_separate_z None) → `v2_export_k{K}.npy`;
  v1: nnU-Net 1.7.1 `save_segmentation_nifti_from_softmax(softmax, …, order=1, force_separate_z=None,
      interpolation_order_z=0)` on `softmax_k{K}.npy`, read back from the written NIfTI → `v1_export_k{K}.npy`;
      its resampled softmax pasted into the original shape (background 1 outside the box) → `v1_probs_k{K}.npy`.
The properties come from our own preprocessing of the case (whose shapes and boxes `preprocess_golden.rs`
checks against the references). Segmentations must be identical; probabilities within 1e-6. */

use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4};
use ndarray_npy::read_npy;
use nnunet_preproc::export::{
    logits_to_original_segmentation, original_shape, probabilities_to_original,
    probabilities_to_original_segmentation, write_segmentation,
};
use nnunet_preproc::normalize::NormalizationScheme;
use nnunet_preproc::plans::{Flavour, Plans};
use nnunet_preproc::preprocessor::{preprocess_case, CaseProperties};
use nnunet_preproc::Geometry;
use serde_json::Value;

const CASES: [&str; 3] = ["aniso", "sepz", "transposed"];

fn dir(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/preprocess")
        .join(case)
}

fn arr3(v: &Value) -> [usize; 3] {
    std::array::from_fn(|i| v[i].as_u64().unwrap() as usize)
}

fn f3(v: &Value) -> [f64; 3] {
    std::array::from_fn(|i| v[i].as_f64().unwrap())
}

fn plans_and_properties(case: &str, flavour: Flavour) -> (Plans, CaseProperties) {
    let d = dir(case);
    let meta: Value =
        serde_json::from_str(&fs::read_to_string(d.join("meta.json")).unwrap()).unwrap();
    let c = meta["n_channels"].as_u64().unwrap() as usize;
    let plans = Plans {
        flavour,
        spacing: f3(&meta["target_spacing"]),
        patch_size: [16, 16, 16],
        channel_names: (0..c).map(|i| format!("ch{i}")).collect(),
        normalization: vec![NormalizationScheme::ZScore; c],
        use_mask_for_norm: vec![meta["use_mask_for_norm"].as_bool().unwrap(); c],
        transpose_forward: arr3(&meta["transpose_forward"]),
        transpose_backward: arr3(&meta["transpose_backward"]),
        anisotropy_threshold: 3.0,
        fingerprint: None,
    };
    let data: Array4<f32> = read_npy(d.join("input_data.npy")).unwrap();
    let seg: Array3<i16> = read_npy(d.join("input_seg.npy")).unwrap();
    let geometry = Geometry::from_spacing(f3(&meta["spacing"]));
    let out = preprocess_case(data.view(), Some(seg.view()), &geometry, &plans).unwrap();
    (plans, out.properties)
}

fn count_diff(a: &Array3<u8>, b: &Array3<u8>) -> usize {
    assert_eq!(a.shape(), b.shape());
    a.iter().zip(b.iter()).filter(|(x, y)| x != y).count()
}

#[test]
fn v2_logit_export_matches_nnunetv2() {
    for case in CASES {
        let (plans, props) = plans_and_properties(case, Flavour::V2);
        for k in [2, 3] {
            let logits: Array4<f32> = read_npy(dir(case).join(format!("logits_k{k}.npy"))).unwrap();
            let reference: Array3<u8> =
                read_npy(dir(case).join(format!("v2_export_k{k}.npy"))).unwrap();
            let ours = logits_to_original_segmentation(logits.view(), &props, &plans).unwrap();
            assert_eq!(ours.shape(), &original_shape(&props)[..]);
            let n = count_diff(&ours, &reference);
            eprintln!("{case:>10} v2 K={k}: {n} of {} voxels differ", ours.len());
            assert_eq!(n, 0, "{case} K={k}");
        }
    }
}

#[test]
fn v1_softmax_export_matches_nnunet_v1() {
    for case in CASES {
        let (plans, props) = plans_and_properties(case, Flavour::V1);
        for k in [2, 3] {
            let sm: Array4<f32> = read_npy(dir(case).join(format!("softmax_k{k}.npy"))).unwrap();
            let reference: Array3<u8> =
                read_npy(dir(case).join(format!("v1_export_k{k}.npy"))).unwrap();
            let ref_probs: Array4<f32> =
                read_npy(dir(case).join(format!("v1_probs_k{k}.npy"))).unwrap();
            let ours = probabilities_to_original(sm.view(), &props, &plans).unwrap();
            let n = count_diff(&ours.segmentation, &reference);
            assert_eq!(
                ours.probabilities.shape(),
                ref_probs.shape(),
                "{case} K={k}"
            );
            let max_diff = ours
                .probabilities
                .iter()
                .zip(ref_probs.iter())
                .fold(0.0f32, |m, (a, b)| m.max((a - b).abs()));
            eprintln!(
                "{case:>10} v1 K={k}: {n} voxels differ, probabilities max |diff| {max_diff:.3e}"
            );
            assert_eq!(n, 0, "{case} K={k}");
            assert!(max_diff <= 1e-6, "{case} K={k}: {max_diff}");
            let seg_only =
                probabilities_to_original_segmentation(sm.view(), &props, &plans).unwrap();
            assert_eq!(count_diff(&seg_only, &reference), 0, "{case} K={k}");
        }
    }
}

#[test]
fn wrong_shapes_and_non_finite_logits_are_errors() {
    let (plans, props) = plans_and_properties("aniso", Flavour::V2);
    let [z, y, x] = props.new_shape;
    let small = Array4::<f32>::zeros((2, z, y, x - 1));
    assert!(matches!(
        logits_to_original_segmentation(small.view(), &props, &plans),
        Err(nnunet_preproc::Error::ShapeMismatch { .. })
    ));
    let none = Array4::<f32>::zeros((0, z, y, x));
    assert!(logits_to_original_segmentation(none.view(), &props, &plans).is_err());
    let mut nan = Array4::<f32>::zeros((2, z, y, x));
    nan[[1, 0, 0, 0]] = f32::NAN;
    assert!(matches!(
        logits_to_original_segmentation(nan.view(), &props, &plans),
        Err(nnunet_preproc::Error::NonFiniteVoxels { .. })
    ));
    // exact ties go to the first class, as numpy's argmax
    let tie = Array4::<f32>::zeros((3, z, y, x));
    let seg = logits_to_original_segmentation(tie.view(), &props, &plans).unwrap();
    assert!(seg.iter().all(|&v| v == 0));
}

#[test]
fn written_segmentation_has_the_original_geometry() {
    let (plans, props) = plans_and_properties("transposed", Flavour::V2);
    let logits: Array4<f32> = read_npy(dir("transposed").join("logits_k3.npy")).unwrap();
    let seg = logits_to_original_segmentation(logits.view(), &props, &plans).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("case.nii.gz");
    write_segmentation(&path, seg.view(), &props).unwrap();
    let (back, geometry) = nnunet_preproc::nifti_io::read_label_map(&path).unwrap();
    assert_eq!(back.mapv(|v| v as u8), seg);
    for a in 0..3 {
        assert!((geometry.spacing[a] - props.geometry.spacing[a]).abs() < 1e-6);
    }
    let wrong = Array3::<u8>::zeros((2, 2, 2));
    assert!(write_segmentation(&path, wrong.view(), &props).is_err());
}
