//! Criterion benches of the data pipeline: sliding-window overhead with an identity network on
//! 3×256×256×160 (patch 128³, step 0.5, with and without mirroring TTA) and the v1 moreDA augmentation of one
//! 205³ → 128³ sample. Run: `cargo bench -p nnunet-preproc --bench pipeline`.
//!
//! The identity "network" must return an owned array (`t.to_owned()`, a 25 MB copy per pass) where a torch
//! identity returns its input; `closure_only_*` times those copies alone (18 and 144 calls), so that the
//! sliding window's own overhead is the difference.

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{Array3, Array4, ArrayView4};
use nnunet_preproc::{
    augment_sample, sample_rng, AugmentConfig, AugmentFlavour, SlidingWindow, SlidingWindowConfig,
};

fn sliding(c: &mut Criterion) {
    let data = Array4::from_shape_fn((3, 256, 256, 160), |(ch, z, y, x)| {
        ((ch + z * 3 + y * 5 + x * 7) % 101) as f32 * 0.01
    });
    let mut g = c.benchmark_group("sliding_window_identity_3x256x256x160");
    g.sample_size(10);
    for (name, cfg) in [
        ("no_tta", SlidingWindowConfig::default().without_tta()),
        ("tta8", SlidingWindowConfig::default()),
    ] {
        let sw = SlidingWindow::new([128; 3], cfg).unwrap();
        g.bench_function(name, |b| {
            b.iter(|| {
                sw.predict(
                    data.view(),
                    3,
                    |t: ArrayView4<f32>| -> nnunet_preproc::Result<Array4<f32>> {
                        Ok(t.to_owned())
                    },
                )
                .unwrap()
            })
        });
    }
    let tile = Array4::from_shape_fn((3, 128, 128, 128), |(ch, z, y, x)| (ch + z + y + x) as f32);
    for (name, calls) in [("closure_only_18", 18), ("closure_only_144", 144)] {
        g.bench_function(name, |b| {
            b.iter(|| {
                for _ in 0..calls {
                    std::hint::black_box(tile.view().to_owned());
                }
            })
        });
    }
    g.finish();
}

fn augmentation(c: &mut Criterion) {
    let data = Array4::from_shape_fn((3, 205, 205, 205), |(ch, z, y, x)| {
        ((ch + z * 3 + y * 5 + x * 7) % 101) as f32 * 0.01
    });
    let seg = Array3::from_shape_fn((205, 205, 205), |(z, y, x)| i16::from((z + y + x) % 50 < 5));
    let mut g = c.benchmark_group("augment_v1_moreDA_205_to_128");
    g.sample_size(10);
    let cfg = AugmentConfig::new(AugmentFlavour::V1MoreDA, [128; 3]);
    let mut i = 0u64;
    g.bench_function("random_params", |b| {
        b.iter(|| {
            i += 1;
            augment_sample(&data, &seg, &cfg, &mut sample_rng(0, i, 0)).unwrap()
        })
    });
    let mut always = cfg.clone();
    always.p_rotation = 1.0;
    g.bench_function("always_rotate_cubic", |b| {
        b.iter(|| augment_sample(&data, &seg, &always, &mut sample_rng(0, 0, 0)).unwrap())
    });
    g.finish();
}

criterion_group!(benches, sliding, augmentation);
criterion_main!(benches);
