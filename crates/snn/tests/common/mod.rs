//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snn::FeatureTable;

pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join(name)
}

/// The golden table: features `f00..f11` and labels.
pub fn tabular() -> (FeatureTable, Vec<u8>) {
    let t = FeatureTable::from_csv(&data_path("snn_tabular.csv")).unwrap();
    let names: Vec<String> = (0..12).map(|j| format!("f{j:02}")).collect();
    let y = t
        .select(&["label".to_string()])
        .unwrap()
        .values
        .column(0)
        .iter()
        .map(|&v| v as u8)
        .collect();
    (t.select(&names).unwrap(), y)
}

pub fn golden() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(data_path("snn_golden.json")).unwrap()).unwrap()
}

pub fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// `n × p` standard-normal features; `y = 1` when `Σ_{j∈informative} β_j x_j / √k + 0.3·ε > 0.6, β_j = 1 − 0.05·j` (~30 % positives).
pub fn synthetic(n: usize, p: usize, informative: &[usize], seed: u64) -> (Array2<f64>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let x = Array2::from_shape_fn((n, p), |_| normal(&mut rng));
    let y = (0..n)
        .map(|i| {
            let s: f64 = informative
                .iter()
                .enumerate()
                .map(|(k, &j)| (1.0 - 0.05 * k as f64) * x[[i, j]])
                .sum();
            u8::from(s / (informative.len() as f64).sqrt() + 0.3 * normal(&mut rng) > 0.6)
        })
        .collect();
    (x, y)
}
