//! Shared helpers of the frame tests (extractor, first order, shape, settings, errors, IBSI): fixture loading
//! and the tolerance rule of `reference/radiomics.md` §8.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;

use ndarray::Array3;
use radiomics::Features;

/// `crates/radiomics/tests/data/<name>`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// Image (as read by `nnunet_preproc::read_volume`, f32), label map and spacing `[sz, sy, sx]`.
pub fn load(image: &str, mask: &str) -> (Array3<f32>, Array3<i16>, [f64; 3]) {
    let v = nnunet_preproc::read_volume(data(image)).expect("image");
    let (m, _) = nnunet_preproc::read_label_map(data(mask)).expect("mask");
    (v.data, m, v.geometry.spacing)
}

/// A JSON object `name → number` (NaN/inf written by Python as NaN/Infinity are not expected here).
pub fn json(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(data(path)).expect("json");
    serde_json::from_str(&text.replace("NaN", "null")).expect("parse")
}

pub fn number_map(v: &serde_json::Value) -> BTreeMap<String, f64> {
    v.as_object()
        .expect("object")
        .iter()
        .map(|(k, x)| (k.clone(), x.as_f64().unwrap_or(f64::NAN)))
        .collect()
}

/// `|got − ref| ≤ 1e-6·|ref| + 1e-9` (reference/radiomics.md §8); returns the worst relative difference.
pub fn assert_close(
    got: &Features,
    reference: &BTreeMap<String, f64>,
    filter: impl Fn(&str) -> bool,
) -> f64 {
    let mut worst = 0.0f64;
    let mut failures = Vec::new();
    for (name, &r) in reference.iter().filter(|(n, _)| filter(n)) {
        let g = got
            .get(name)
            .unwrap_or_else(|| panic!("missing feature {name}"));
        let ok = (g - r).abs() <= 1e-6 * r.abs() + 1e-9 || (g.is_nan() && r.is_nan());
        if !ok {
            failures.push(format!("{name}: got {g}, reference {r}"));
        }
        if r != 0.0 && g.is_finite() {
            worst = worst.max(((g - r) / r).abs());
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    worst
}
