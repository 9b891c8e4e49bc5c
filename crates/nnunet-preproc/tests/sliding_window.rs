//! Sliding-window inference against nnU-Net v2.8.1 (`predict_sliding_window_return_logits`, its own loop run
//! with float32 accumulators) and nnU-Net v1.7.1 (`SegmentationNetwork.predict_3D`, softmax TTA), on volumes
//! that are not multiples of the patch (one needs padding), with a position-dependent toy network.
//! Golden values: `tools/golden/make_pipeline_fixtures.py` (section `sliding`).
/* Equivalent PyTorch code (the toy network, z/y/x = indices inside the tile):
out[k] = x[k % C] * (1 + 0.5 k) + 0.01 z - 0.02 y + 0.005 k x */

use std::path::PathBuf;

use ndarray::{Array3, Array4, ArrayView4};
use ndarray_npy::read_npy;
use nnunet_preproc::{
    compute_gaussian, compute_steps_for_sliding_window, predict_sliding_window, Flavour,
    SlidingWindow, SlidingWindowConfig,
};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pipeline")
}

fn manifest() -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap()).unwrap()
}

fn toy_net(k: usize) -> impl FnMut(ArrayView4<f32>) -> nnunet_preproc::Result<Array4<f32>> {
    move |t: ArrayView4<f32>| {
        let (c, pz, py, px) = t.dim();
        Ok(Array4::from_shape_fn((k, pz, py, px), |(kk, z, y, x)| {
            t[[kk % c, z, y, x]] * (1.0 + 0.5 * kk as f32) + 0.01 * z as f32 - 0.02 * y as f32
                + 0.005 * kk as f32 * x as f32
        }))
    }
}

fn max_abs_diff(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b.iter())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn matches_nnunet_v2_and_v1() {
    let m = manifest();
    let mut worst = 0f32;
    for case in m["sliding_window"].as_array().unwrap() {
        let input: Array4<f32> = read_npy(dir().join(case["input"].as_str().unwrap())).unwrap();
        let expected: Array4<f32> = read_npy(dir().join(case["output"].as_str().unwrap())).unwrap();
        let p: Vec<usize> = serde_json::from_value(case["patch"].clone()).unwrap();
        let k = case["classes"].as_u64().unwrap() as usize;
        let flavour = if case["flavour"] == "v1" {
            Flavour::V1
        } else {
            Flavour::V2
        };
        let mut cfg = SlidingWindowConfig::for_flavour(flavour);
        if !case["mirror"].as_bool().unwrap() {
            cfg = cfg.without_tta();
        }
        let out =
            predict_sliding_window(input.view(), [p[0], p[1], p[2]], k, &cfg, toy_net(k)).unwrap();
        let d = max_abs_diff(&out, &expected);
        assert!(d < 1e-5, "{}: max |Δ| = {d}", case["output"]);
        worst = worst.max(d);
    }
    eprintln!("sliding window: worst max |Δ| vs nnU-Net = {worst:e}");
}

#[test]
fn gaussian_matches_compute_gaussian() {
    for case in manifest()["gaussian"].as_array().unwrap() {
        let expected: Array3<f32> = read_npy(dir().join(case["output"].as_str().unwrap())).unwrap();
        let p: Vec<usize> = serde_json::from_value(case["patch"].clone()).unwrap();
        let g = compute_gaussian(
            [p[0], p[1], p[2]],
            1.0 / 8.0,
            case["peak"].as_f64().unwrap(),
        )
        .unwrap();
        for (a, b) in g.iter().zip(expected.iter()) {
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1e-30), "{a} vs {b}");
        }
    }
}

#[test]
fn steps_match_nnunet() {
    for case in manifest()["steps"].as_array().unwrap() {
        let size = case["size"].as_u64().unwrap() as usize;
        let patch = case["patch"].as_u64().unwrap() as usize;
        let expected: Vec<usize> = serde_json::from_value(case["steps"].clone()).unwrap();
        assert_eq!(
            compute_steps_for_sliding_window(size, patch, 0.5).unwrap(),
            expected,
            "{size}/{patch}"
        );
    }
    // The table of /work/shared/reference/nnunet.md §7.1.
    assert_eq!(
        compute_steps_for_sliding_window(176, 96, 0.5).unwrap(),
        vec![0, 40, 80]
    );
    assert_eq!(
        compute_steps_for_sliding_window(352, 160, 0.5).unwrap(),
        vec![0, 64, 128, 192]
    );
    assert_eq!(
        compute_steps_for_sliding_window(256, 128, 0.5).unwrap(),
        vec![0, 64, 128]
    );
}

#[test]
fn identity_network_reconstructs_the_input_in_f32() {
    let data = Array4::from_shape_fn((2, 19, 23, 17), |(c, z, y, x)| {
        ((c * 7 + z * 3 + y * 5 + x) % 11) as f32 - 5.0
    });
    for cfg in [
        SlidingWindowConfig::default(),
        SlidingWindowConfig::default().without_tta(),
    ] {
        let out = predict_sliding_window(
            data.view(),
            [8, 8, 8],
            2,
            &cfg,
            |t: ArrayView4<f32>| -> nnunet_preproc::Result<_> { Ok(t.to_owned()) },
        )
        .unwrap();
        assert!(max_abs_diff(&out, &data) < 1e-5);
    }
}

type Member = Box<dyn FnMut(ArrayView4<f32>) -> nnunet_preproc::Result<Array4<f32>>>;

#[test]
fn ensemble_is_the_mean_of_members() {
    let data = Array4::from_shape_fn((1, 9, 10, 11), |(_, z, y, x)| {
        (z + 2 * y + 3 * x) as f32 * 0.1
    });
    let sw = SlidingWindow::new([6, 6, 6], SlidingWindowConfig::default()).unwrap();
    let mut members: Vec<Member> = vec![
        Box::new(|t: ArrayView4<f32>| Ok(t.to_owned())),
        Box::new(|t: ArrayView4<f32>| Ok(t.mapv(|v| 3.0 * v))),
    ];
    let out = sw.predict_ensemble(data.view(), 1, &mut members).unwrap();
    assert!(max_abs_diff(&out, &data.mapv(|v| 2.0 * v)) < 1e-5);
}

#[test]
fn wrong_predictor_shape_is_an_error() {
    let data = Array4::<f32>::zeros((1, 8, 8, 8));
    let r = predict_sliding_window(
        data.view(),
        [4, 4, 4],
        2,
        &SlidingWindowConfig::default(),
        |t: ArrayView4<f32>| -> nnunet_preproc::Result<_> { Ok(t.to_owned()) },
    );
    assert!(matches!(
        r,
        Err(nnunet_preproc::Error::ShapeMismatch { .. })
    ));
}
