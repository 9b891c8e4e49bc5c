//! The custom ops of `mednext::ops` on CUDA against the same ops on the CPU (forward and every gradient
//! through candle autograd), and the MedNeXt fixture parity on CUDA.
//!
//! Gate: `max |cuda − cpu| / max(1, max |cpu|) ≤ 1e-4` in f32 for every output and gradient; the model
//! outputs on CUDA against the PyTorch fixtures (`tests/data/mednext_small_*_io.safetensors`, see
//! `tests/parity.rs`) within the CPU parity gate, `max |Δ| ≤ 1e-4`.
//!
//! Skipped, with a printed notice, when built without the `cuda` feature (the default, and CI) or when no
//! CUDA device can be opened. Build and run recipe: `docs/gpu.md` (`tools/cuda/build.sh`,
//! `tools/cuda/run-on-gpu.sh`).

#[cfg(not(feature = "cuda"))]
#[test]
fn cuda_ops_skipped() {
    eprintln!("ops_cuda: built without the `cuda` feature — CUDA checks skipped (see docs/gpu.md)");
}

#[cfg(feature = "cuda")]
mod on_cuda {
    use std::path::PathBuf;

    use candle_core::{DType, Device, Tensor, Var};
    use mednext::{ops, ExpRatio, MedNext, MedNextConfig};

    /// Relative gate of every comparison.
    const TOL: f32 = 1e-4;

    /// The first CUDA device, or `None` (with a notice) when none can be opened; with
    /// `MEDNEXT_REQUIRE_CUDA=1` (set by `tools/cuda/run-on-gpu.sh`) a missing device is a failure.
    fn gpu() -> Option<Device> {
        match Device::new_cuda(0) {
            Ok(d) => Some(d),
            Err(e) if std::env::var_os("MEDNEXT_REQUIRE_CUDA").is_some() => {
                panic!("ops_cuda: MEDNEXT_REQUIRE_CUDA is set but no CUDA device opens: {e}")
            }
            Err(e) => {
                eprintln!("ops_cuda: no CUDA device ({e}) — CUDA checks skipped");
                None
            }
        }
    }

    /// Deterministic uniform values in `[-scale, scale)` (64-bit LCG).
    fn rand_vec(seed: u64, n: usize, scale: f32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                ((s >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
            })
            .collect()
    }

    fn rand_tensor(seed: u64, shape: &[usize], scale: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec(rand_vec(seed, n, scale), shape, &Device::Cpu).unwrap()
    }

    fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
        assert_eq!(a.dims(), b.dims());
        let a = a.to_device(&Device::Cpu).unwrap().flatten_all().unwrap();
        let b = b.to_device(&Device::Cpu).unwrap().flatten_all().unwrap();
        let (a, b) = (a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());
        let scale = b.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
            / scale
    }

    /// Forward of `op` on `inputs` (all differentiable) on `dev`; returns `y` and the gradients of
    /// `Σ y · gy` with respect to every input.
    fn run(
        dev: &Device,
        inputs: &[Tensor],
        gy_seed: u64,
        op: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    ) -> (Tensor, Vec<Tensor>) {
        let vars: Vec<Var> = inputs
            .iter()
            .map(|t| Var::from_tensor(&t.to_device(dev).unwrap()).unwrap())
            .collect();
        let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let y = op(&ts).unwrap();
        let gy = rand_tensor(gy_seed, y.dims(), 1.0).to_device(dev).unwrap();
        let grads = (&y * &gy).unwrap().sum_all().unwrap().backward().unwrap();
        let g = vars
            .iter()
            .map(|v| grads.get(v.as_tensor()).expect("gradient").clone())
            .collect();
        (y, g)
    }

    /// Compares `op` on the CPU and on CUDA (forward and all gradients); returns the worst difference.
    fn check(
        gpu: &Device,
        what: &str,
        inputs: &[Tensor],
        op: &dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    ) -> f32 {
        let (yc, gc) = run(&Device::Cpu, inputs, 77, op);
        let (yg, gg) = run(gpu, inputs, 77, op);
        assert!(yg.device().is_cuda(), "{what}: result not on the GPU");
        let mut worst = max_rel(&yg, &yc);
        let mut line = format!("{what}: y {worst:.1e}");
        for (i, (a, b)) in gg.iter().zip(&gc).enumerate() {
            let d = max_rel(a, b);
            line += &format!(", grad{i} {d:.1e}");
            worst = worst.max(d);
        }
        eprintln!("{line}");
        assert!(worst <= TOL, "{line}: above {TOL}");
        worst
    }

    #[test]
    fn depthwise_conv3d_matches_cpu() {
        let Some(gpu) = gpu() else { return };
        // small odd sizes (partial tiles everywhere) and one size spanning several tiles per axis
        for (shape, seed) in [([2, 3, 7, 9, 11], 1_u64), ([1, 2, 13, 20, 70], 2)] {
            for k in [3, 5, 7] {
                for stride in [1, 2] {
                    let x = rand_tensor(seed, &shape, 1.0);
                    let w = rand_tensor(seed + 10, &[shape[1], 1, k, k, k], 0.3);
                    let b = rand_tensor(seed + 20, &[shape[1]], 0.5);
                    check(
                        &gpu,
                        &format!("dwconv {shape:?} k{k} s{stride} +b"),
                        &[x.clone(), w.clone(), b],
                        &|t| ops::depthwise_conv3d(&t[0], &t[1], Some(&t[2]), stride),
                    );
                    check(
                        &gpu,
                        &format!("dwconv {shape:?} k{k} s{stride}"),
                        &[x, w],
                        &|t| ops::depthwise_conv3d(&t[0], &t[1], None, stride),
                    );
                }
            }
        }
    }

    #[test]
    fn depthwise_conv_transpose3d_matches_cpu() {
        let Some(gpu) = gpu() else { return };
        for (shape, seed) in [([2, 3, 4, 5, 6], 3_u64), ([1, 2, 9, 12, 35], 4)] {
            for k in [3, 5, 7] {
                let x = rand_tensor(seed, &shape, 1.0);
                let w = rand_tensor(seed + 10, &[shape[1], 1, k, k, k], 0.3);
                let b = rand_tensor(seed + 20, &[shape[1]], 0.5);
                check(
                    &gpu,
                    &format!("dwconvT {shape:?} k{k} +b"),
                    &[x.clone(), w.clone(), b],
                    &|t| ops::depthwise_conv_transpose3d(&t[0], &t[1], Some(&t[2]), 2),
                );
                check(&gpu, &format!("dwconvT {shape:?} k{k}"), &[x, w], &|t| {
                    ops::depthwise_conv_transpose3d(&t[0], &t[1], None, 2)
                });
            }
        }
    }

    #[test]
    fn pointwise_convs_match_cpu() {
        let Some(gpu) = gpu() else { return };
        let x = rand_tensor(5, &[2, 6, 5, 6, 7], 1.0);
        let w = rand_tensor(6, &[4, 6, 1, 1, 1], 0.4);
        let wt = rand_tensor(7, &[6, 4, 1, 1, 1], 0.4);
        let b = rand_tensor(8, &[4], 0.5);
        for stride in [1, 2] {
            check(
                &gpu,
                &format!("conv1x1x1 s{stride}"),
                &[x.clone(), w.clone(), b.clone()],
                &|t| ops::conv1x1x1(&t[0], &t[1], Some(&t[2]), stride),
            );
            check(
                &gpu,
                &format!("convT1x1x1 s{stride}"),
                &[x.clone(), wt.clone(), b.clone()],
                &|t| ops::conv_transpose1x1x1(&t[0], &t[1], Some(&t[2]), stride),
            );
        }
    }

    #[test]
    fn group_norm_and_gelu_match_cpu() {
        let Some(gpu) = gpu() else { return };
        // one plane far above the reduction chunk (8192) so that the chunked f64 sums are exercised
        for (shape, seed) in [([2, 4, 7, 6, 5], 9_u64), ([1, 2, 24, 32, 40], 10)] {
            let x = (rand_tensor(seed, &shape, 2.0) + 0.7).unwrap();
            let g = rand_tensor(seed + 1, &[shape[1]], 1.0);
            let b = rand_tensor(seed + 2, &[shape[1]], 1.0);
            check(
                &gpu,
                &format!("group_norm {shape:?}"),
                &[x.clone(), g, b.clone()],
                &|t| ops::channel_group_norm(&t[0], &t[1], &t[2], 1e-5),
            );
            check(
                &gpu,
                &format!("gelu {shape:?}"),
                std::slice::from_ref(&x),
                &|t| ops::gelu_erf(&t[0]),
            );
            check(&gpu, &format!("bias_gelu {shape:?}"), &[x, b], &|t| {
                ops::bias_gelu(&t[0], &t[1])
            });
        }
    }

    fn small_config(kernel_size: usize) -> MedNextConfig {
        MedNextConfig {
            in_channels: 3,
            n_channels: 8,
            n_classes: 2,
            exp_r: ExpRatio::Uniform(2),
            kernel_size: Some(kernel_size),
            deep_supervision: true,
            do_res: true,
            do_res_up_down: true,
            block_counts: vec![1; 9],
            ..MedNextConfig::default()
        }
    }

    /// The fixture models of `tests/parity.rs`, run on CUDA, against the PyTorch outputs.
    #[test]
    fn fixture_parity_on_cuda() {
        let Some(gpu) = gpu() else { return };
        let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
        for (k, weights, io) in [
            (
                3,
                "mednext_small_k3.safetensors",
                "mednext_small_k3_io.safetensors",
            ),
            (
                5,
                "mednext_small_k5_upkern.safetensors",
                "mednext_small_k5_upkern_io.safetensors",
            ),
        ] {
            let model = MedNext::from_file(&small_config(k), data.join(weights), &gpu).unwrap();
            let io = candle_core::safetensors::load(data.join(io), &Device::Cpu).unwrap();
            let outs = model
                .forward(&io["input"].to_device(&gpu).unwrap())
                .unwrap();
            assert_eq!(outs.len(), 5);
            for (i, out) in outs.iter().enumerate() {
                let r = &io[&format!("output.{i}")];
                let o = out
                    .to_device(&Device::Cpu)
                    .unwrap()
                    .to_dtype(DType::F64)
                    .unwrap();
                let d = (o - r.to_dtype(DType::F64).unwrap())
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap();
                eprintln!(
                    "cuda k{k} output.{i} {:?}: max|Δ| vs PyTorch f32 {d:.3e}",
                    out.dims()
                );
                assert!(d <= 1e-4, "cuda k{k} output.{i}: {d} > 1e-4");
            }
        }
    }
}
