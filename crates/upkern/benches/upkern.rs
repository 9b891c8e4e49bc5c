//! UpKern and checkpoint I/O at MedNeXt-M size (k3 → k5, in 3, 2 classes, deep supervision: 365 tensors,
//! 17.55 M values; key listing `tests/data/keys_M_k3_in3_nc2_original.txt` from the original repository).
//!
//! ```text
//! cargo bench -p upkern --bench upkern
//! ```
//!
//! The PyTorch counterpart (`upkern_load_weights` on the same model) takes well under a second on the same
//! machine; this bench is about keeping the Rust side in that range.

use std::collections::BTreeMap;
use std::hint::black_box;

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use upkern::{read_checkpoint, upkern, write_safetensors, NamedTensors};

/// The MedNeXt-M k3 state dict (deterministic values) and the k5 target shapes.
fn medium() -> (NamedTensors, BTreeMap<String, Vec<usize>>) {
    let listing = include_str!("../tests/data/keys_M_k3_in3_nc2_original.txt");
    let mut source = NamedTensors::new();
    let mut target = BTreeMap::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let mut parts = line.split('\t');
        let (Some(key), Some(shape)) = (parts.next(), parts.next()) else {
            continue;
        };
        let shape: Vec<usize> = shape
            .trim_matches(|c| c == '(' || c == ')' || c == '[' || c == ']')
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect();
        let n: usize = shape.iter().product();
        let t = (Tensor::arange(0u32, n as u32, &Device::Cpu)
            .and_then(|t| t.to_dtype(DType::F32))
            .and_then(|t| (t * 1e-3)?.sin())
            .and_then(|t| t.reshape(shape.clone())))
        .expect("tensor");
        let mut k5 = shape.clone();
        if key.ends_with("conv1.weight") {
            k5[2..].iter_mut().for_each(|d| *d = 5);
        }
        source.insert(key.to_owned(), t);
        target.insert(key.to_owned(), k5);
    }
    assert_eq!(source.len(), 365, "listing parsed");
    (source, target)
}

fn bench(c: &mut Criterion) {
    let (source, target) = medium();
    let dir = tempfile::tempdir().expect("temporary folder");
    let path = dir.path().join("m_k5.safetensors");
    let (k5, _) = upkern(&source, &target).expect("upkern");
    write_safetensors(&path, &k5).expect("write");

    let mut group = c.benchmark_group("MedNeXt-M k3 -> k5");
    group.sample_size(10);
    group.bench_function("upkern (42 kernels resized, 323 copied)", |b| {
        b.iter(|| upkern(black_box(&source), black_box(&target)).expect("upkern"))
    });
    group.bench_function("write_safetensors (73 MB)", |b| {
        b.iter(|| write_safetensors(&path, black_box(&k5)).expect("write"))
    });
    group.bench_function("read_checkpoint safetensors (73 MB)", |b| {
        b.iter(|| read_checkpoint(black_box(&path)).expect("read"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
