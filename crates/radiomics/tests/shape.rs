//! Shape entry point against PyRadiomics 3.1.0 (brain1 crop and breast1 defaults, `tests/data/*_features.json`)
//! and closed-form meshes.

mod frame_support;

use frame_support::{assert_close, json, load, number_map};
use ndarray::Array3;
use radiomics::{shape, Settings};

#[test]
fn pyradiomics_shape_values() {
    for (img, lab, refs) in [
        (
            "breast1_image.nii.gz",
            "breast1_label.nii.gz",
            "breast1_features.json",
        ),
        (
            "brain1_crop_image.nii.gz",
            "brain1_crop_label.nii.gz",
            "brain1_features.json",
        ),
    ] {
        let (i, m, spacing) = load(img, lab);
        let f = shape(i.view(), m.view(), spacing, &Settings::default()).unwrap();
        assert_eq!(f.len(), 14);
        let r = number_map(&json(refs)["features"]);
        let worst = assert_close(&f, &r, |n| n.starts_with("original_shape_"));
        eprintln!("{img}: shape worst relative difference {worst:.3e}");
    }
}

#[test]
fn box_roi_closed_form() {
    // A 2×3×4 box of 1 mm voxels: voxel volume 24, bounding box diagonals from the midpoint mesh.
    let mut mask = Array3::<u8>::zeros((4, 5, 6));
    mask.slice_mut(ndarray::s![1..3, 1..4, 1..5]).fill(1);
    let img = Array3::<i16>::zeros((4, 5, 6));
    let f = shape(img.view(), mask.view(), [1.0; 3], &Settings::default()).unwrap();
    assert_eq!(f.get("original_shape_VoxelVolume"), Some(24.0));
    // Mesh vertices lie on the box's faces (corners cut): the 3-D diameter joins opposite mesh vertices.
    let d3 = f.get("original_shape_Maximum3DDiameter").unwrap();
    assert!(d3 > 4.0 && d3 < (4.0f64 * 4.0 + 9.0 + 4.0).sqrt());
    // Elongation/Flatness from the population covariance of the voxel grid: var = (n² − 1)/12 per axis.
    let var = |n: f64| (n * n - 1.0) / 12.0;
    let e = f.get("original_shape_Elongation").unwrap();
    assert!((e - (var(3.0) / var(4.0)).sqrt()).abs() < 1e-12);
    let fl = f.get("original_shape_Flatness").unwrap();
    assert!((fl - (var(2.0) / var(4.0)).sqrt()).abs() < 1e-12);
}
