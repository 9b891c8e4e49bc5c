//! Criterion benches of the `mednext::ops` kernels at MedNeXt-M sizes (64³ patches): depthwise conv k5
//! (C = 32) forward and forward + backward, the stride-2 and transposed variants, the 1×1×1 expansion
//! (32 → 128), GroupNorm (C = 32), GELU on the expanded tensor (C = 128), and the fused stride-1 block
//! (`ops::fused_block`, k3) at the sizes of MedNeXt-M's levels 0 and 2 for a 64³ patch (its 1×1×1 tile
//! products dominate a training step). Side-by-side PyTorch timings:
//! `benches/compare_mednext_ops.py` at the repository root.

use candle_core::{DType, Device, Tensor, Var};
use criterion::{criterion_group, criterion_main, Criterion};
use mednext::ops;

fn data(shape: &[usize], scale: f32) -> Var {
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| (((i as u64).wrapping_mul(2_654_435_761) % 1000) as f32 / 500.0 - 1.0) * scale)
        .collect();
    Var::from_tensor(&Tensor::from_vec(v, shape, &Device::Cpu).unwrap()).unwrap()
}

fn zeros(c: usize) -> Var {
    Var::from_tensor(&Tensor::zeros(c, DType::F32, &Device::Cpu).unwrap()).unwrap()
}

fn depthwise(c: &mut Criterion) {
    let x = data(&[1, 32, 64, 64, 64], 1.0);
    let w = data(&[32, 1, 5, 5, 5], 0.1);
    let b = zeros(32);
    let (x, w, b) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
    c.bench_function("depthwise_conv3d (1,32,64³) k5 s1 fwd", |bench| {
        bench.iter(|| ops::depthwise_conv3d(x, w, Some(b), 1).unwrap())
    });
    c.bench_function("depthwise_conv3d (1,32,64³) k5 s1 fwd+bwd", |bench| {
        bench.iter(|| {
            ops::depthwise_conv3d(x, w, Some(b), 1)
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    c.bench_function("depthwise_conv3d (1,32,64³) k5 s2 fwd+bwd", |bench| {
        bench.iter(|| {
            ops::depthwise_conv3d(x, w, Some(b), 2)
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    let xs = data(&[1, 32, 32, 32, 32], 1.0);
    let xs = xs.as_tensor();
    c.bench_function("depthwise_conv_transpose3d (1,32,32³) k5 s2 fwd", |bench| {
        bench.iter(|| ops::depthwise_conv_transpose3d(xs, w, Some(b), 2).unwrap())
    });
    c.bench_function(
        "depthwise_conv_transpose3d (1,32,32³) k5 s2 fwd+bwd",
        |bench| {
            bench.iter(|| {
                ops::depthwise_conv_transpose3d(xs, w, Some(b), 2)
                    .unwrap()
                    .backward()
                    .unwrap()
            })
        },
    );
}

fn pointwise_norm_gelu(c: &mut Criterion) {
    let x = data(&[1, 32, 64, 64, 64], 1.0);
    let w = data(&[128, 32, 1, 1, 1], 0.1);
    let b = zeros(128);
    let (x, w, b) = (x.as_tensor(), w.as_tensor(), b.as_tensor());
    c.bench_function("conv1x1x1 32→128 (1,32,64³) fwd", |bench| {
        bench.iter(|| ops::conv1x1x1(x, w, Some(b), 1).unwrap())
    });
    c.bench_function("conv1x1x1 32→128 (1,32,64³) fwd+bwd", |bench| {
        bench.iter(|| {
            ops::conv1x1x1(x, w, Some(b), 1)
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    let g = data(&[32], 1.0);
    let be = zeros(32);
    let (g, be) = (g.as_tensor(), be.as_tensor());
    c.bench_function("channel_group_norm (1,32,64³) fwd", |bench| {
        bench.iter(|| ops::channel_group_norm(x, g, be, 1e-5).unwrap())
    });
    c.bench_function("channel_group_norm (1,32,64³) fwd+bwd", |bench| {
        bench.iter(|| {
            ops::channel_group_norm(x, g, be, 1e-5)
                .unwrap()
                .backward()
                .unwrap()
        })
    });
    let xg = data(&[1, 128, 64, 64, 64], 3.0);
    let xg = xg.as_tensor();
    c.bench_function("gelu_erf (1,128,64³) fwd", |bench| {
        bench.iter(|| ops::gelu_erf(xg).unwrap())
    });
    c.bench_function("gelu_erf (1,128,64³) fwd+bwd", |bench| {
        bench.iter(|| ops::gelu_erf(xg).unwrap().backward().unwrap())
    });
    c.bench_function("bias_gelu (1,128,64³) fwd", |bench| {
        bench.iter(|| ops::bias_gelu(xg, b).unwrap())
    });
}

fn fused_block(c: &mut Criterion) {
    // (channels, expansion ratio, edge): MedNeXt-M level 0 and level 2 of a 64³ patch.
    for (ch, r, s) in [(32, 2, 64), (128, 4, 16)] {
        let x = data(&[1, ch, s, s, s], 1.0);
        let w1 = data(&[ch, 1, 3, 3, 3], 0.2);
        let (b1, beta) = (zeros(ch), zeros(ch));
        let gamma = Var::from_tensor(&Tensor::ones(ch, DType::F32, &Device::Cpu).unwrap()).unwrap();
        let w2 = data(&[r * ch, ch, 1, 1, 1], 0.1);
        let b2 = zeros(r * ch);
        let w3 = data(&[ch, r * ch, 1, 1, 1], 0.1);
        let b3 = zeros(ch);
        let tail = ops::BlockTail {
            gamma: gamma.as_tensor(),
            beta: beta.as_tensor(),
            conv2_weight: w2.as_tensor(),
            conv2_bias: b2.as_tensor(),
            conv3_weight: w3.as_tensor(),
            conv3_bias: b3.as_tensor(),
            eps: 1e-5,
        };
        let dw = ops::DepthwiseStage {
            weight: w1.as_tensor(),
            bias: b1.as_tensor(),
        };
        let x = x.as_tensor();
        c.bench_function(&format!("fused_block (1,{ch},{s}³) r{r} k3 fwd"), |bench| {
            bench.iter(|| ops::fused_block(x, &dw, &tail, true).unwrap())
        });
        c.bench_function(
            &format!("fused_block (1,{ch},{s}³) r{r} k3 fwd+bwd"),
            |bench| {
                bench.iter(|| {
                    ops::fused_block(x, &dw, &tail, true)
                        .unwrap()
                        .sum_all()
                        .unwrap()
                        .backward()
                        .unwrap()
                })
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = depthwise, pointwise_norm_gelu, fused_block
}
criterion_main!(benches);
