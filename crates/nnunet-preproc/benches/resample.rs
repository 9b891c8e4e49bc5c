//! Criterion benchmarks of `nnunet_preproc::resample` on the issue's volume: 3 channels, NIfTI 256 × 256 × 160
//! at (0.7, 0.7, 1.5) mm, i.e. the array `(C, z, y, x) = (3, 160, 256, 256)` with spacing `[1.5, 0.7, 0.7]`,
//! resampled to 1 mm (`(3, 240, 179, 179)`, no separate-z), plus its label map and the export direction.
//!
//! ```text
//! cargo bench -p nnunet-preproc --bench resample
//! ```
//! nnU-Net v2 takes ~15 s (wall, 2 cores) for the data and ~2.6 s for the labels on this volume
//! (`/work/shared/reference/nnunet.md` §8; `benches/compare_preproc.py` re-measures both).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{Array3, Array4};
use nnunet_preproc::resample::{
    compute_new_shape, resample_data, resample_segmentation, ResampleConfig, SegResampleConfig,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const SHAPE: [usize; 3] = [160, 256, 256];
const SPACING: [f64; 3] = [1.5, 0.7, 0.7];
const TARGET: [f64; 3] = [1.0, 1.0, 1.0];

/// Smooth seeded intensities (sums of sines plus a little noise), z-score-like range.
fn volume(channels: usize) -> Array4<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(2024);
    let phase: Vec<f32> = (0..channels * 3)
        .map(|_| rng.gen_range(0.0..std::f32::consts::TAU))
        .collect();
    Array4::from_shape_fn((channels, SHAPE[0], SHAPE[1], SHAPE[2]), |(c, z, y, x)| {
        let (z, y, x) = (z as f32, y as f32, x as f32);
        (0.11 * z + phase[3 * c]).sin()
            + (0.07 * y + phase[3 * c + 1]).sin() * (0.05 * x + phase[3 * c + 2]).cos()
            + 0.05 * rng.gen::<f32>()
    })
}

/// Labels {−1, 0, 1}: −1 outside the central box, an ellipsoid of 1.
fn labels() -> Array3<i16> {
    Array3::from_shape_fn((SHAPE[0], SHAPE[1], SHAPE[2]), |(z, y, x)| {
        if !(12..SHAPE[1] - 12).contains(&y) {
            return -1;
        }
        let (dz, dy, dx) = (
            z as f64 / 80.0 - 1.0,
            y as f64 / 128.0 - 1.0,
            x as f64 / 128.0 - 1.0,
        );
        i16::from(dz * dz + 2.0 * dy * dy + 3.0 * dx * dx < 0.5)
    })
}

fn bench(c: &mut Criterion) {
    let data = volume(3);
    let seg = labels();
    let new_shape = compute_new_shape(SHAPE, SPACING, TARGET);
    let mut group = c.benchmark_group("resample_3x160x256x256_to_1mm");
    group.sample_size(10);
    group.bench_function("data_order3", |b| {
        b.iter(|| {
            resample_data(
                black_box(data.view()),
                new_shape,
                SPACING,
                TARGET,
                &ResampleConfig::data(),
            )
        });
    });
    group.bench_function("seg_order1", |b| {
        b.iter(|| {
            resample_segmentation(
                black_box(seg.view()),
                new_shape,
                SPACING,
                TARGET,
                &SegResampleConfig::default(),
            )
        });
    });
    let logits = resample_data(
        data.view(),
        new_shape,
        SPACING,
        TARGET,
        &ResampleConfig::probabilities(),
    );
    let logits = logits.slice_move(ndarray::s![..2, .., .., ..]);
    group.bench_function("export_logits2_order1_back", |b| {
        b.iter(|| {
            resample_data(
                black_box(logits.view()),
                SHAPE,
                TARGET,
                SPACING,
                &ResampleConfig::probabilities(),
            )
        });
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
