//! NIfTI reading and writing at MAMA-MIA size (256×256×160, `.nii.gz`).
//!
//! `cargo bench -p nnunet-preproc --bench nifti`; nibabel's side of the comparison is in
//! `benches/compare_preproc.py`.

use criterion::{criterion_group, criterion_main, Criterion};
use ndarray::Array3;
use nnunet_preproc::{read_volume, write_volume, Geometry};

fn nifti(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("volume.nii.gz");
    let geometry = Geometry::from_spacing([1.5, 0.7, 0.7]);
    // integer-valued MR-like intensities (what a scanner's int16 stores), written as float32
    let volume = Array3::from_shape_fn((160, 256, 256), |(z, y, x)| {
        ((z * 7 + y * 3 + x * 5) % 1200) as f32
    });
    write_volume(&path, volume.view(), &geometry).expect("write");
    let mut group = c.benchmark_group("nifti 256x256x160");
    group.sample_size(10);
    group.bench_function("read_volume .nii.gz", |b| {
        b.iter(|| read_volume(&path).expect("read"))
    });
    group.bench_function("write_volume .nii.gz", |b| {
        b.iter(|| write_volume(&path, volume.view(), &geometry).expect("write"))
    });
    group.finish();
}

criterion_group!(benches, nifti);
criterion_main!(benches);
