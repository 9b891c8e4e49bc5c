//! First-order entry point against PyRadiomics 3.1.0 (breast1 defaults: `tests/data/breast1_features.json`;
//! the voxelArrayShift-2000 baseline column `baseline_configurations["firstorder/breast1"]`) and hand-computed
//! values (linear percentiles, non-excess kurtosis).

mod frame_support;

use frame_support::{assert_close, json, load, number_map};
use ndarray::Array3;
use radiomics::{firstorder, Settings};

#[test]
fn breast1_firstorder_entry_point() {
    let (img, m, spacing) = load("breast1_image.nii.gz", "breast1_label.nii.gz");
    let f = firstorder(img.view(), m.view(), spacing, &Settings::default()).unwrap();
    assert_eq!(f.len(), 18);
    let r = number_map(&json("breast1_features.json")["features"]);
    assert_close(&f, &r, |n| n.starts_with("original_firstorder_"));
    let shifted = Settings {
        voxel_array_shift: 2000.0,
        ..Settings::default()
    };
    let f = firstorder(img.view(), m.view(), spacing, &shifted).unwrap();
    let r = number_map(
        &json("breast1_features.json")["baseline_configurations"]["firstorder/breast1"]["features"],
    );
    assert_close(&f, &r, |_| true);
}

#[test]
fn hand_computed_values() {
    // ROI values 1, 2, 3, 4 (one voxel each), spacing 1 mm.
    let img = Array3::from_shape_vec((1, 2, 2), vec![1i16, 2, 3, 4]).unwrap();
    let mask = Array3::<u8>::ones((1, 2, 2));
    let f = firstorder(img.view(), mask.view(), [1.0; 3], &Settings::default()).unwrap();
    let g = |n: &str| f.get(&format!("original_firstorder_{n}")).unwrap();
    assert!((g("10Percentile") - 1.3).abs() < 1e-12);
    assert!((g("90Percentile") - 3.7).abs() < 1e-12);
    assert_eq!(g("Median"), 2.5);
    assert!((g("Variance") - 1.25).abs() < 1e-15); // numpy.std(x)**2, as PyRadiomics
    assert!((g("Kurtosis") - 1.64).abs() < 1e-12); // m4/m2² = 2.5625/1.5625, not excess
    assert_eq!(g("Energy"), 30.0);
    assert!(g("Entropy").abs() < 1e-15); // one bin of width 25: −log2(1 + eps)
}
