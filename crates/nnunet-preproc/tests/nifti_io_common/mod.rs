//! Helpers shared by the NIfTI I/O tests (`nifti_io_read.rs`, `nifti_io_bad_input.rs`, `nifti_io_write.rs`):
//! the fixture folder written by `tools/golden/make_nifti_fixtures.py` and its manifest.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use nnunet_preproc::Geometry;
use serde_json::Value;

pub fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nifti")
}

pub fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir().join("manifest.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

pub fn entry(file: &str) -> Value {
    manifest().into_iter().find(|e| e["file"] == file).unwrap()
}

pub fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

pub fn affine_of(v: &Value) -> [[f64; 4]; 4] {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(f64s).collect();
    std::array::from_fn(|r| std::array::from_fn(|c| rows[r][c]))
}

pub fn expected_data(e: &Value) -> Array3<f64> {
    ndarray_npy::read_npy(data_dir().join(e["data"].as_str().unwrap())).unwrap()
}

pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Compares a read geometry with nibabel's (affine ≤ 1e-6, spacing exact) and, where comparable, SimpleITK's;
/// returns the largest differences (affine vs nibabel, origin and direction vs SimpleITK).
pub fn check_geometry(name: &str, e: &Value, g: &Geometry) -> [f64; 3] {
    let want = affine_of(&e["nib_affine"]);
    let d = max_abs_diff(&g.affine.concat(), &want.concat());
    assert!(
        d <= 1e-6,
        "{name}: affine differs by {d}: {:?} vs {want:?}",
        g.affine
    );
    let mut zooms = f64s(&e["nib_zooms_xyz"]);
    zooms.reverse();
    assert_eq!(g.spacing.to_vec(), zooms, "{name}: spacing");
    if e["sitk_comparable"].as_bool().unwrap() {
        let d_origin = max_abs_diff(&g.origin_lps(), &f64s(&e["sitk_origin"]));
        let d_dir = max_abs_diff(&g.direction_lps().concat(), &f64s(&e["sitk_direction"]));
        let mut sp = f64s(&e["sitk_spacing"]);
        sp.reverse();
        let d_sp = max_abs_diff(&g.spacing, &sp);
        assert!(
            d_origin <= 1e-5 && d_dir <= 1e-5 && d_sp <= 1e-6,
            "{name}: SimpleITK origin {d_origin}, direction {d_dir}, spacing {d_sp}"
        );
        return [d, d_origin, d_dir];
    }
    [d, 0.0, 0.0]
}

pub fn is_integer_dtype(dtype: &str) -> bool {
    dtype.starts_with("int") || dtype.starts_with("uint")
}

/// Decompresses gzip bytes.
pub fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}
