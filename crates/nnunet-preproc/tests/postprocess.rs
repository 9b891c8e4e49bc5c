//! Connected components and largest-component post-processing against skimage `label` (26-connectivity),
//! scipy `ndimage.label` (6-connectivity) and nnU-Net v2's `remove_all_but_largest_component_from_segmentation`
//! on random smooth masks with two labels. Golden values: `tools/golden/make_pipeline_fixtures.py`
//! (section `postprocess`).

use std::path::PathBuf;

use ndarray::Array3;
use ndarray_npy::read_npy;
use nnunet_preproc::mamamia::BreastBox;
use nnunet_preproc::{
    keep_largest_component_mut, label_components, postprocess_mut, Connectivity, PostprocessConfig,
};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pipeline")
}

fn load<T: ndarray_npy::ReadableElement>(name: &Value) -> Array3<T> {
    read_npy(dir().join(name.as_str().unwrap())).unwrap()
}

#[test]
fn labels_match_skimage_and_scipy() {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    for case in m["postprocess"].as_array().unwrap() {
        let seg: Array3<u8> = load(&case["seg"]);
        let mask = seg.mapv(|v| v > 0);
        for (conn, key, n_key) in [
            (Connectivity::Full, "label_full", "n_full"),
            (Connectivity::Face, "label_face", "n_face"),
        ] {
            let expected: Array3<i32> = load(&case[key]);
            let (labels, sizes) = label_components(mask.view(), conn);
            assert_eq!(sizes.len() as u64, case[n_key].as_u64().unwrap());
            // Same numbering (raster order of the first voxel) → identical label volumes.
            assert!(
                labels
                    .iter()
                    .zip(expected.iter())
                    .all(|(&a, &b)| a as i32 == b),
                "{key}"
            );
        }
        let expected: Array3<u8> = load(&case["lcc"]);
        let mut out = seg.clone();
        let removed = keep_largest_component_mut(out.view_mut(), 0, Connectivity::Full);
        assert_eq!(out, expected);
        assert_eq!(
            removed,
            seg.iter().zip(out.iter()).filter(|(a, b)| a != b).count()
        );
    }
}

#[test]
fn ties_are_all_kept() {
    let mut seg = Array3::<u8>::zeros((5, 5, 5));
    seg[[0, 0, 0]] = 1;
    seg[[0, 0, 1]] = 1;
    seg[[4, 4, 4]] = 1;
    seg[[4, 4, 3]] = 1;
    seg[[2, 0, 4]] = 1;
    keep_largest_component_mut(seg.view_mut(), 0, Connectivity::Full);
    assert_eq!(seg.iter().filter(|&&v| v == 1).count(), 4);
    assert_eq!(seg[[2, 0, 4]], 0);
}

#[test]
fn breast_box_then_largest_component() {
    let mut seg = Array3::<u8>::zeros((6, 6, 6));
    // A large blob outside the box and a small one inside: masking first keeps the inside one.
    for i in 0..3 {
        seg[[5, 5, i]] = 1;
    }
    seg[[1, 1, 1]] = 1;
    let bb = BreastBox {
        axis0: [0, 3],
        axis1: [0, 3],
        axis2: [0, 3],
    };
    postprocess_mut(
        seg.view_mut(),
        Some(&bb),
        &PostprocessConfig {
            largest_component: Some(Connectivity::Full),
            ..Default::default()
        },
    );
    assert_eq!(seg.sum(), 1);
    assert_eq!(seg[[1, 1, 1]], 1);
}
