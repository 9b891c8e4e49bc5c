//! Criterion benches of the feature pipeline: one logistic-regression fit (960 × 20, the size of a 5-fold
//! training split of 1200 cases half-way through a 40-feature selection) and sequential forward selection
//! 107 → 10 features with 5-fold stratified CV on 1200 samples. The full 107 → 40 comparison against
//! scikit-learn is `benches/compare_snn.py` at the repository root.

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use snn::{sequential_feature_selection, LogisticRegression, SfsConfig};

fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>();
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// 1200 × 107 standard-normal features; 15 informative columns (every 7th), ~30 % positives.
fn data() -> (Array2<f64>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let x = Array2::from_shape_fn((1200, 107), |_| normal(&mut rng));
    let y = (0..1200)
        .map(|i| {
            let s: f64 = (0..15)
                .map(|k| x[[i, 7 * k]] * (1.0 - 0.04 * k as f64))
                .sum::<f64>()
                / 15f64.sqrt();
            u8::from(s + normal(&mut rng) > 0.8)
        })
        .collect();
    (x, y)
}

fn bench(c: &mut Criterion) {
    let (x, y) = data();
    let cols: Vec<Vec<f64>> = (0..20)
        .map(|j| x.column(j).iter().take(960).copied().collect())
        .collect();
    let refs: Vec<&[f64]> = cols.iter().map(Vec::as_slice).collect();
    let lr = LogisticRegression::default();
    let mut g = c.benchmark_group("snn");
    g.sample_size(10);
    g.bench_function("logistic_fit_960x20", |b| {
        b.iter(|| lr.fit(&refs, &y[..960], None).unwrap())
    });
    let cfg = SfsConfig {
        n_features: 10,
        ..SfsConfig::default()
    };
    g.bench_function("sfs_forward_107_to_10_5fold_1200", |b| {
        b.iter(|| sequential_feature_selection(x.view(), &y, &lr, &cfg).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
