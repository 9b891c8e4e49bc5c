//! Gradients of `mednext::ops` through candle autograd:
//!
//! 1. against PyTorch 2.15 (CPU, float32): forward `y` and the gradients of `sum(y · gy)` wrt every input for
//!    `F.conv3d(groups=C)`, `F.conv_transpose3d(groups=C, stride=2)`, 1×1×1 convs (stride 1/2, plain and
//!    transposed), `F.group_norm(num_groups=C)`, `F.gelu` and `F.gelu(x + b)`; fixtures
//!    `tests/data/ops/*.safetensors` written by `tools/golden/make_mednext_ops_fixtures.py`;
//! 2. against f64 central finite differences of the slow loop references in `ops_common`, at random
//!    coordinates of every input.

mod ops_common;

use std::path::PathBuf;

use candle_core::{Device, Tensor, Var};
use mednext::ops;
use ops_common::{max_rel, tensor, values, wide, Dims5, Rng, TOL};

/// Runs `op` on the fixture's inputs (`x` and then `names`), compares `y` and the gradients.
fn check_fixture(
    file: &str,
    names: &[&str],
    op: impl Fn(&[Tensor]) -> candle_core::Result<Tensor>,
) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ops")
        .join(file);
    let t = candle_core::safetensors::load(&path, &Device::Cpu).unwrap();
    let vars: Vec<Var> = std::iter::once("x")
        .chain(names.iter().copied())
        .map(|n| Var::from_tensor(&t[n]).unwrap())
        .collect();
    let inputs: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = op(&inputs).unwrap();
    let d = max_rel(&y, &t["y"]);
    assert!(d < TOL, "{file}: forward differs by {d}");
    let grads = (y * &t["gy"])
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let mut report = format!("{file}: y {d:.1e}");
    for (v, n) in vars
        .iter()
        .zip(std::iter::once("x").chain(names.iter().copied()))
    {
        let g = grads
            .get(v.as_tensor())
            .unwrap_or_else(|| panic!("{file}: no gradient for {n}"));
        let d = max_rel(g, &t[&format!("g{n}")]);
        report += &format!(", g{n} {d:.1e}");
        assert!(d < TOL, "{file}: gradient wrt {n} differs by {d}");
    }
    eprintln!("{report}");
}

#[test]
fn depthwise_conv3d_matches_pytorch() {
    for (file, s) in [
        ("dwconv_k3_s1", 1),
        ("dwconv_k5_s2", 2),
        ("dwconv_k7_s1", 1),
        ("dwconv_k7_s2", 2),
    ] {
        check_fixture(&format!("{file}.safetensors"), &["w", "b"], |a| {
            ops::depthwise_conv3d(&a[0], &a[1], Some(&a[2]), s)
        });
    }
}

#[test]
fn depthwise_conv_transpose3d_matches_pytorch() {
    for file in ["dwconvT_k3_s2", "dwconvT_k5_s2", "dwconvT_k7_s2"] {
        check_fixture(&format!("{file}.safetensors"), &["w", "b"], |a| {
            ops::depthwise_conv_transpose3d(&a[0], &a[1], Some(&a[2]), 2)
        });
    }
}

#[test]
fn pointwise_convs_match_pytorch() {
    for s in [1, 2] {
        check_fixture(&format!("conv1x1x1_s{s}.safetensors"), &["w", "b"], |a| {
            ops::conv1x1x1(&a[0], &a[1], Some(&a[2]), s)
        });
        check_fixture(&format!("convT1x1x1_s{s}.safetensors"), &["w", "b"], |a| {
            ops::conv_transpose1x1x1(&a[0], &a[1], Some(&a[2]), s)
        });
    }
}

#[test]
fn channel_group_norm_matches_pytorch() {
    check_fixture("group_norm.safetensors", &["w", "b"], |a| {
        ops::channel_group_norm(&a[0], &a[1], &a[2], 1e-5)
    });
}

#[test]
fn gelu_matches_pytorch() {
    check_fixture("gelu.safetensors", &[], |a| ops::gelu_erf(&a[0]));
    check_fixture("bias_gelu.safetensors", &["b"], |a| {
        ops::bias_gelu(&a[0], &a[1])
    });
}

/// One finite-difference case: inputs (data, shape), our op, and the f64 reference.
struct FdCase<'a> {
    name: &'a str,
    inputs: Vec<(Vec<f32>, Vec<usize>)>,
    ours: &'a dyn Fn(&[Tensor]) -> candle_core::Result<Tensor>,
    reference: &'a dyn Fn(&[Vec<f64>]) -> Vec<f64>,
}

/// Compares autograd gradients of `Σ y·G` with f64 central differences of the reference at 6 random
/// coordinates of every input.
fn check_fd(case: &FdCase<'_>, rng: &mut Rng) {
    let vars: Vec<Var> = case
        .inputs
        .iter()
        .map(|(d, s)| Var::from_tensor(&tensor(d, s)).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let y = (case.ours)(&ts).unwrap();
    let g = rng.vec(y.elem_count(), 1.0);
    let grads = (&y * tensor(&g, y.dims()))
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let g64 = wide(&g);
    let base: Vec<Vec<f64>> = case.inputs.iter().map(|(d, _)| wide(d)).collect();
    let loss = |p: &[Vec<f64>]| -> f64 {
        (case.reference)(p)
            .iter()
            .zip(&g64)
            .map(|(a, b)| a * b)
            .sum()
    };
    let h = 1e-4;
    for (i, v) in vars.iter().enumerate() {
        let ours = values(grads.get(v.as_tensor()).unwrap());
        let scale = ours.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
        for _ in 0..6 {
            let j = rng.index(ours.len());
            let mut p = base.clone();
            p[i][j] += h;
            let up = loss(&p);
            p[i][j] -= 2.0 * h;
            let down = loss(&p);
            let fd = (up - down) / (2.0 * h);
            let err = (f64::from(ours[j]) - fd).abs() / f64::from(scale);
            assert!(
                err < 2e-5,
                "{}: input {i} coordinate {j}: autograd {} vs fd {fd} ({err})",
                case.name,
                ours[j]
            );
        }
    }
}

fn dims5(s: &[usize]) -> Dims5 {
    [s[0], s[1], s[2], s[3], s[4]]
}

#[test]
fn finite_differences_depthwise() {
    let mut rng = Rng::new(11);
    for (sp, k, s) in [
        ([5, 4, 6], 3, 1),
        ([5, 6, 7], 3, 2),
        ([4, 5, 3], 5, 2),
        ([3, 4, 5], 7, 1),
    ] {
        let xs = vec![2, 2, sp[0], sp[1], sp[2]];
        let ws = vec![2, 1, k, k, k];
        let inputs = vec![
            (rng.vec(xs.iter().product(), 1.0), xs.clone()),
            (rng.vec(2 * k * k * k, 0.5), ws),
            (rng.vec(2, 0.5), vec![2]),
        ];
        let d = dims5(&xs);
        let conv = move |a: &[Tensor]| ops::depthwise_conv3d(&a[0], &a[1], Some(&a[2]), s);
        let conv_ref =
            move |p: &[Vec<f64>]| ops_common::dw_conv(&p[0], d, &p[1], k, Some(&p[2]), s).0;
        check_fd(
            &FdCase {
                name: "depthwise_conv3d",
                inputs: inputs.clone(),
                ours: &conv,
                reference: &conv_ref,
            },
            &mut rng,
        );
        let convt =
            move |a: &[Tensor]| ops::depthwise_conv_transpose3d(&a[0], &a[1], Some(&a[2]), s);
        let convt_ref =
            move |p: &[Vec<f64>]| ops_common::dw_conv_t(&p[0], d, &p[1], k, Some(&p[2]), s).0;
        check_fd(
            &FdCase {
                name: "depthwise_conv_transpose3d",
                inputs,
                ours: &convt,
                reference: &convt_ref,
            },
            &mut rng,
        );
    }
}

#[test]
fn finite_differences_pointwise() {
    let mut rng = Rng::new(12);
    for s in [1, 2] {
        let xs = vec![2, 3, 5, 4, 3];
        let d = dims5(&xs);
        let inputs = |rng: &mut Rng, ws: Vec<usize>| {
            vec![
                (rng.vec(xs.iter().product(), 1.0), xs.clone()),
                (rng.vec(15, 0.5), ws),
                (rng.vec(5, 0.5), vec![5]),
            ]
        };
        let c1 = move |a: &[Tensor]| ops::conv1x1x1(&a[0], &a[1], Some(&a[2]), s);
        let c1_ref = move |p: &[Vec<f64>]| ops_common::conv1(&p[0], d, &p[1], 5, Some(&p[2]), s).0;
        let i1 = inputs(&mut rng, vec![5, 3, 1, 1, 1]);
        check_fd(
            &FdCase {
                name: "conv1x1x1",
                inputs: i1,
                ours: &c1,
                reference: &c1_ref,
            },
            &mut rng,
        );
        let ct = move |a: &[Tensor]| ops::conv_transpose1x1x1(&a[0], &a[1], Some(&a[2]), s);
        let ct_ref =
            move |p: &[Vec<f64>]| ops_common::conv1_t(&p[0], d, &p[1], 5, Some(&p[2]), s).0;
        let i2 = inputs(&mut rng, vec![3, 5, 1, 1, 1]);
        check_fd(
            &FdCase {
                name: "conv_transpose1x1x1",
                inputs: i2,
                ours: &ct,
                reference: &ct_ref,
            },
            &mut rng,
        );
    }
}

#[test]
fn finite_differences_norm_and_gelu() {
    let mut rng = Rng::new(13);
    let xs = vec![2, 3, 4, 5, 3];
    let n = xs.iter().product();
    let gn_inputs = vec![
        (rng.vec(n, 2.0), xs.clone()),
        (rng.vec(3, 1.0), vec![3]),
        (rng.vec(3, 1.0), vec![3]),
    ];
    let gn = |a: &[Tensor]| ops::channel_group_norm(&a[0], &a[1], &a[2], 1e-5);
    let gn_ref = |p: &[Vec<f64>]| ops_common::group_norm(&p[0], 2, 3, &p[1], &p[2], 1e-5);
    check_fd(
        &FdCase {
            name: "channel_group_norm",
            inputs: gn_inputs,
            ours: &gn,
            reference: &gn_ref,
        },
        &mut rng,
    );

    let gelu = |a: &[Tensor]| ops::gelu_erf(&a[0]);
    let gelu_ref = |p: &[Vec<f64>]| p[0].iter().map(|&v| ops_common::gelu(v)).collect();
    let gi = vec![(rng.vec(n, 4.0), xs.clone())];
    check_fd(
        &FdCase {
            name: "gelu_erf",
            inputs: gi,
            ours: &gelu,
            reference: &gelu_ref,
        },
        &mut rng,
    );

    let v = 4 * 5 * 3;
    let bg = |a: &[Tensor]| ops::bias_gelu(&a[0], &a[1]);
    let bg_ref = move |p: &[Vec<f64>]| -> Vec<f64> {
        p[0].iter()
            .enumerate()
            .map(|(i, &x)| ops_common::gelu(x + p[1][(i / v) % 3]))
            .collect()
    };
    let bi = vec![(rng.vec(n, 4.0), xs.clone()), (rng.vec(3, 1.0), vec![3])];
    check_fd(
        &FdCase {
            name: "bias_gelu",
            inputs: bi,
            ours: &bg,
            reference: &bg_ref,
        },
        &mut rng,
    );
}

/// `mednext::recompute` on a (fused) MedNeXt block and a down block gives the gradients of the plain
/// forward pass (the network skips it for fused blocks, so it is checked here directly).
#[test]
fn recompute_matches_plain_block() {
    use candle_core::{DType, Module};
    use candle_nn::{VarBuilder, VarMap};
    let dev = Device::Cpu;
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let cfg = mednext::BlockConfig {
        in_channels: 4,
        out_channels: 4,
        exp_r: 3,
        kernel_size: 3,
        residual: true,
        ..mednext::BlockConfig::default()
    };
    let block = mednext::mednext_block(cfg, vb.pp("b")).unwrap();
    let down = mednext::down_block(
        mednext::BlockConfig {
            out_channels: 8,
            ..cfg
        },
        vb.pp("d"),
    )
    .unwrap();
    assert!(block.is_fused() && down.is_fused());
    let mut rng = Rng::new(5);
    let x = Var::from_tensor(&tensor(&rng.vec(2 * 4 * 6 * 5 * 4, 1.0), &[2, 4, 6, 5, 4])).unwrap();
    let run = |ckpt: bool| -> Vec<Vec<f32>> {
        let y = if ckpt {
            mednext::recompute(&block, x.as_tensor()).unwrap()
        } else {
            block.forward(x.as_tensor()).unwrap()
        };
        let z = if ckpt {
            mednext::recompute(&down, &y).unwrap()
        } else {
            down.forward(&y).unwrap()
        };
        let loss = (z.sqr().unwrap().sum_all().unwrap() + y.sum_all().unwrap()).unwrap();
        let grads = loss.backward().unwrap();
        let mut out = vec![values(grads.get(x.as_tensor()).unwrap())];
        for v in varmap.all_vars() {
            out.push(values(grads.get(v.as_tensor()).unwrap()));
        }
        out
    };
    let (plain, ckpt) = (run(false), run(true));
    for (a, b) in plain.iter().zip(&ckpt) {
        let scale = a.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
        let d = a
            .iter()
            .zip(b)
            .map(|(p, q)| (p - q).abs())
            .fold(0.0, f32::max);
        assert!(d <= 1e-5 * scale, "recomputed gradient differs by {d}");
    }
}
