//! Criterion benches of the radiomics extractor: breast1 (45×120×21, 143 ROI voxels) and a synthetic
//! 96×96×64 volume with a ~20 cm³ ellipsoid ROI, and the size: 256×256×160 with a ~40 cm³ ellipsoid ROI
//! (radii 18, 22, 24.1 voxels at 1 mm), default settings (107 features).
//!
//! Reference timings: PyRadiomics 3.1.0 (`benches/compare_radiomics.py` at the repository root runs both).

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array3;
use radiomics::{extract, Settings};

fn synthetic(n: (usize, usize, usize), radii: [f64; 3]) -> (Array3<i16>, Array3<u8>) {
    let (nz, ny, nx) = n;
    let image = Array3::from_shape_fn(n, |(z, y, x)| {
        let h = (z * 7919 + y * 104_729 + x * 1_299_709) % 997;
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)]
        let v = (h as i16) + (y as i16) * 3;
        v
    });
    let c = (nz as f64 / 2.0, ny as f64 / 2.0, nx as f64 / 2.0);
    let mask = Array3::from_shape_fn(n, |(z, y, x)| {
        let d = ((z as f64 - c.0) / radii[0]).powi(2)
            + ((y as f64 - c.1) / radii[1]).powi(2)
            + ((x as f64 - c.2) / radii[2]).powi(2);
        u8::from(d < 1.0)
    });
    (image, mask)
}

fn bench(c: &mut Criterion) {
    let (image, mask) = synthetic((64, 96, 96), [14.0, 18.0, 19.0]);
    let (big_image, big_mask) = synthetic((160, 256, 256), [18.0, 22.0, 24.1]);
    let settings = Settings::default();
    let mut g = c.benchmark_group("extract");
    g.sample_size(10);
    g.bench_function("synthetic_96x96x64_default", |b| {
        b.iter(|| extract(image.view(), mask.view(), [1.0, 1.0, 1.0], &settings))
    });
    g.bench_function("synthetic_256x256x160_40cm3_default", |b| {
        b.iter(|| {
            extract(
                big_image.view(),
                big_mask.view(),
                [1.0, 1.0, 1.0],
                &settings,
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
