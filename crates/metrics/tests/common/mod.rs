//! Shared helpers of the golden tests: fixture loading and tolerant comparisons.
#![allow(dead_code)]

use ndarray::Array3;
use serde_json::Value;

/// Loads `tests/data/<name>`.
pub fn load(name: &str) -> Value {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The golden value: `null` = NaN, `"inf"` = +inf.
pub fn num(v: &Value) -> f64 {
    match v {
        Value::Null => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

/// Relative difference (0 for equal infinities/NaNs, +inf for a kind mismatch).
pub fn rel_diff(expected: f64, got: f64) -> f64 {
    if expected.is_nan() || got.is_nan() {
        return if expected.is_nan() && got.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    if expected.is_infinite() || got.is_infinite() {
        return if expected == got { 0.0 } else { f64::INFINITY };
    }
    let scale = expected.abs().max(got.abs());
    if scale < 1e-12 {
        (expected - got).abs()
    } else {
        (expected - got).abs() / scale
    }
}

/// Asserts `got` matches the golden `expected` to `tol` relative; returns the difference.
#[track_caller]
pub fn check(what: &str, expected: &Value, got: f64, tol: f64) -> f64 {
    let e = num(expected);
    let d = rel_diff(e, got);
    assert!(d <= tol, "{what}: expected {e}, got {got} (rel diff {d:e})");
    d
}

/// A mask of `shape` with `true` at the flat C-order indices `idx`.
pub fn mask(shape: &Value, idx: &Value) -> Array3<bool> {
    let s: Vec<usize> = shape
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut m = Array3::from_elem((s[0], s[1], s[2]), false);
    let flat = m.as_slice_mut().unwrap();
    for i in idx.as_array().unwrap() {
        flat[i.as_u64().unwrap() as usize] = true;
    }
    m
}

/// A `[f64; 3]` from a JSON array.
pub fn spacing(v: &Value) -> [f64; 3] {
    let a = v.as_array().unwrap();
    [num(&a[0]), num(&a[1]), num(&a[2])]
}

/// The ellipsoid fixture's arrays, regenerated from the analytic definition of
/// `fixtures/metrics/README.md`: `(a, b)`.
pub fn ellipsoids() -> (Array3<bool>, Array3<bool>) {
    let e = |c: [f64; 3], r: [f64; 3]| {
        Array3::from_shape_fn((256, 256, 160), |(i, j, k)| {
            ((i as f64 - c[0]) / r[0]).powi(2)
                + ((j as f64 - c[1]) / r[1]).powi(2)
                + ((k as f64 - c[2]) / r[2]).powi(2)
                <= 1.0
        })
    };
    (
        e([128.0, 120.0, 80.0], [25.0, 25.0, 19.0]),
        e([131.0, 122.0, 81.0], [26.0, 24.0, 20.0]),
    )
}
