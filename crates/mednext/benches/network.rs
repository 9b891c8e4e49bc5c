//! Whole-network timings of MedNeXt v1 (seeded random weights, batch 1, f32, CPU).
//!
//! Reference timings of the original PyTorch implementation on the same configurations:
//! `benches/compare_mednext_forward.py` (prints the Rust/PyTorch ratio). Configurations follow
//! `reference/mednext.md` §15: MedNeXt-M, in 3, 2 classes, deep supervision on.
//!
//! ```text
//! cargo bench -p mednext --bench network
//! ```

use candle_core::{DType, Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion};
use mednext::{CheckpointStyle, MedNextConfig};

fn input(size: usize) -> Tensor {
    let n = 3 * size * size * size;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i * 7919) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Tensor::from_vec(v, (1, 3, size, size, size), &Device::Cpu).expect("input")
}

fn network(c: &mut Criterion) {
    let mut group = c.benchmark_group("mednext");
    group.sample_size(10);
    for k in [3, 5] {
        let cfg = MedNextConfig::medium(3, 2, k).with_deep_supervision(true);
        let (model, _) = mednext::new_trainable(&cfg, 0, &Device::Cpu).expect("model");
        // Inference: plain tensors (no variables), the nnU-Net `do_ds = False` path.
        let frozen = mednext::MedNext::from_named_tensors(
            &cfg,
            model.state_dict().expect("state dict"),
            mednext::KeyNaming::Original,
            &Device::Cpu,
        )
        .expect("frozen model");
        let x = input(64);
        group.bench_function(format!("M_k{k}_infer_64"), |b| {
            b.iter(|| frozen.forward_logits(&x).expect("forward"))
        });
    }
    // Training step (forward + backward of a DS-weighted sum), with and without block recomputation.
    for style in [None, Some(CheckpointStyle::OutsideBlock)] {
        let cfg = MedNextConfig::medium(3, 2, 3)
            .with_deep_supervision(true)
            .with_checkpoint_style(style);
        let (model, _) = mednext::new_trainable(&cfg, 0, &Device::Cpu).expect("model");
        let x = input(32);
        let name = if style.is_some() {
            "recompute"
        } else {
            "plain"
        };
        group.bench_function(format!("M_k3_train_32_{name}"), |b| {
            b.iter(|| {
                let outs = model.forward(&x).expect("forward");
                let mut loss = Tensor::zeros((), DType::F32, &Device::Cpu).expect("zero");
                for (i, o) in outs.iter().enumerate() {
                    let w = 0.5f64.powi(i as i32);
                    loss = (loss
                        + (o.sqr().expect("sqr").mean_all().expect("mean") * w).expect("w"))
                    .expect("sum");
                }
                loss.backward().expect("backward")
            })
        });
    }
    group.finish();
}

criterion_group!(benches, network);
criterion_main!(benches);
