//! Criterion benches of the segmentation metrics on the ellipsoid fixture (`fixtures/metrics/README.md`:
//! two 256×256×160 masks of ~50k voxels at spacing [0.7, 0.7, 1.5], regenerated analytically).
//!
//! ```text
//! cargo bench -p medmetrics --bench metrics
//! ```
//! The side-by-side comparison with MONAI, DeepMind surface-distance and SimpleITK is
//! `benches/compare_metrics.py` (repository root).

use criterion::{criterion_group, criterion_main, Criterion};
use medmetrics::{
    distance_to_set, mamamia, EmptyPolicy, EmptyRule, Hd95Rule, Overlap, Surface, SurfaceDistances,
    SurfaceOptions, Units,
};
use ndarray::Array3;
use std::hint::black_box;

fn ellipsoid(c: [f64; 3], r: [f64; 3]) -> Array3<bool> {
    Array3::from_shape_fn((256, 256, 160), |(i, j, k)| {
        ((i as f64 - c[0]) / r[0]).powi(2)
            + ((j as f64 - c[1]) / r[1]).powi(2)
            + ((k as f64 - c[2]) / r[2]).powi(2)
            <= 1.0
    })
}

fn bench(c: &mut Criterion) {
    let a = ellipsoid([128.0, 120.0, 80.0], [25.0, 25.0, 19.0]);
    let b = ellipsoid([131.0, 122.0, 81.0], [26.0, 24.0, 20.0]);
    let sp = [0.7, 0.7, 1.5];
    let mut g = c.benchmark_group("ellipsoids_256x256x160");
    g.sample_size(10);
    g.bench_function("dice", |bch| {
        bch.iter(|| {
            Overlap::new(black_box(b.view()), a.view())
                .unwrap()
                .dice(EmptyPolicy::Nan)
        })
    });
    g.bench_function("dice_hd95_mm", |bch| {
        bch.iter(|| {
            let d = Overlap::new(black_box(b.view()), a.view())
                .unwrap()
                .dice(EmptyPolicy::Nan);
            let h = SurfaceDistances::new(b.view(), a.view(), sp, SurfaceOptions::default())
                .unwrap()
                .percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MONAI);
            (d, h)
        })
    });
    // DeepMind surfels (corner grid, marching-cubes areas), area-weighted HD95.
    let surfels = SurfaceOptions {
        surface: Surface::Surfels,
        units: Units::Millimetre,
    };
    g.bench_function("dice_hd95_surfels", |bch| {
        bch.iter(|| {
            let d = Overlap::new(black_box(b.view()), a.view())
                .unwrap()
                .dice(EmptyPolicy::Nan);
            let h = SurfaceDistances::new(b.view(), a.view(), sp, surfels)
                .unwrap()
                .percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::DEEPMIND);
            (d, h)
        })
    });
    g.bench_function("mamamia_case", |bch| {
        bch.iter(|| mamamia::score_masks(black_box(b.view()), a.view()).unwrap())
    });
    // One full-volume EDT (10.5 M voxels), for scale against scipy's ~1.4 s.
    g.bench_function("edt_full_volume", |bch| {
        bch.iter(|| distance_to_set(black_box(a.view()), sp).unwrap())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
