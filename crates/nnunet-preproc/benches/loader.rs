//! Criterion bench of the training data pipeline: the background [`Loader`] (patch sampling from the
//! memory-mapped cache + augmentation + deep-supervision targets) drawing batches of 2 patches of 128³ from
//! two generated, preprocessed cases of 3×160×256×256, with 2 worker threads, for both augmentation flavours.
//! The time per iteration is the steady-state time per batch (samples/s = 2 / time).
//!
//! Run: `cargo bench -p nnunet-preproc --bench loader`. Set `LOADER_BENCH_DIR=<dir>` to write (and keep) the
//! cache there — `benches/compare_loader.py` feeds the same cases to nnU-Net v2's `nnUNetDataLoader`.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::{Array3, Array4};
use nnunet_preproc::{
    case_fingerprint, dataset_fingerprint_for, preprocess_case, AugmentConfig, AugmentFlavour,
    Flavour, Geometry, Loader, LoaderConfig, LoaderMode, PatchSampler, Plans, PlansParams,
    PreprocessedCache, SamplerConfig, TargetSpacing,
};

/// Case shape `[z, y, x]` (spacing 1 mm, so the preprocessing does not resample).
const SHAPE: [usize; 3] = [160, 256, 256];
/// Loader worker threads (the compare script gives nnU-Net the same number).
const WORKERS: usize = 2;

/// Raw case `i`: a textured 3-channel volume with an enhancing ellipsoid (label 1).
fn raw_case(i: usize) -> (Array4<f32>, Array3<i16>) {
    let [nz, ny, nx] = SHAPE;
    let (cz, cy, cx) = (60.0 + 20.0 * i as f32, 120.0, 100.0 + 30.0 * i as f32);
    let inside = |z: usize, y: usize, x: usize| {
        let d = ((z as f32 - cz) / 14.0).powi(2)
            + ((y as f32 - cy) / 18.0).powi(2)
            + ((x as f32 - cx) / 11.0).powi(2);
        d <= 1.0
    };
    let data = Array4::from_shape_fn((3, nz, ny, nx), |(c, z, y, x)| {
        let t = ((z * 7 + y * 3 + x * 5 + c * 11 + i * 13) % 97) as f32 / 97.0;
        let lesion = if inside(z, y, x) {
            1.0 + c as f32 * 0.5
        } else {
            0.0
        };
        1.0 + 0.3 * t + lesion
    });
    let seg = Array3::from_shape_fn((nz, ny, nx), |(z, y, x)| i16::from(inside(z, y, x)));
    (data, seg)
}

/// Preprocesses two cases (nnU-Net v1 plans, 1 mm) into a cache at `dir`; returns the case ids.
fn write_cache(dir: &std::path::Path) -> Vec<String> {
    let geometry = Geometry::from_spacing([1.0; 3]);
    let raws: Vec<_> = (0..2).map(raw_case).collect();
    let fps: Vec<_> = raws
        .iter()
        .map(|(d, s)| case_fingerprint(d.view(), Some(s.view()), geometry.spacing).unwrap())
        .collect();
    let params = PlansParams::new()
        .flavour(Flavour::V1)
        .target_spacing(TargetSpacing::Fixed([1.0; 3]));
    let fp = dataset_fingerprint_for(&fps, Flavour::V1).unwrap();
    let plans = Plans::from_fingerprint(&fp, &["pre", "post1", "post2"], &params).unwrap();
    let cache = PreprocessedCache::create(dir).unwrap();
    let mut ids = Vec::new();
    for (i, (d, s)) in raws.iter().enumerate() {
        let id = format!("bench_{i:03}");
        if !cache.contains(&id) {
            let pre = preprocess_case(d.view(), Some(s.view()), &geometry, &plans).unwrap();
            cache
                .write_case(
                    &id,
                    pre.data.view(),
                    pre.seg.as_ref().map(|s| s.view()),
                    &pre.properties,
                )
                .unwrap();
        }
        ids.push(id);
    }
    ids
}

fn loader(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var_os("LOADER_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| tmp.path().to_path_buf());
    let ids = write_cache(&dir);
    let cache = PreprocessedCache::open(&dir).unwrap();
    let mut g = c.benchmark_group("loader_batch2_128_3x160x256x256");
    g.sample_size(10);
    for (name, flavour) in [
        ("v2_default_2_workers", AugmentFlavour::V2Default),
        ("v1_moreDA_2_workers", AugmentFlavour::V1MoreDA),
    ] {
        let sampler = PatchSampler::from_cache(&cache, &ids, SamplerConfig::default()).unwrap();
        let augment = AugmentConfig::new(flavour, [128; 3]);
        let config = LoaderConfig {
            workers: WORKERS,
            prefetch: 2,
            seed: 12345,
            mode: LoaderMode::Train,
        };
        let mut l = Loader::new(sampler, augment, config).unwrap();
        g.bench_function(name, |b| b.iter(|| l.next_batch().unwrap()));
    }
    g.finish();
}

criterion_group!(benches, loader);
criterion_main!(benches);
