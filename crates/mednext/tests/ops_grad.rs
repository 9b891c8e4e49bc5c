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
use ops_common::{tensor, values, wide, Dims5, Rng};

/// Relative tolerance: `max |ours − reference| / max(1, max |reference|)`.
const TOL: f32 = 1e-5;

fn max_rel(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (values(a), values(b));
    let scale = b.iter().fold(1.0_f32, |m, v| m.max(v.abs()));
    a.iter()
        .zip(&b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
        / scale
}

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

/// The fused block tail against the composition of the separate (PyTorch- and FD-checked) ops, forward and
/// every gradient, with and without the residual; shapes that give one tile, several tiles with a partial
/// last one, batch 2, and channel counts that are not multiples of the register blocks.
#[test]
fn block_tail_matches_composition() {
    let mut rng = Rng::new(11);
    // (n, c, rc, co, spatial)
    for (n, c, rc, co, sp, res) in [
        (1, 4, 8, 4, [12, 12, 12], true),
        (2, 6, 12, 3, [3, 5, 7], false),
        (1, 8, 520, 8, [9, 10, 11], true),
        (2, 3, 5, 2, [1, 1, 1], false),
        (1, 32, 96, 64, [12, 12, 12], true),
    ] {
        let v: usize = sp.iter().product();
        let shape = |ch: usize| vec![n, ch, sp[0], sp[1], sp[2]];
        let var = |d: Vec<f32>, s: Vec<usize>| Var::from_tensor(&tensor(&d, &s)).unwrap();
        // an offset and a scale per channel, as the depthwise conv output has
        let a: Vec<f32> = rng
            .vec(n * c * v, 2.0)
            .iter()
            .enumerate()
            .map(|(i, x)| x + ((i / v) % c) as f32 * 0.7)
            .collect();
        let vars = [
            var(a, shape(c)),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(rc * c, 0.5), vec![rc, c, 1, 1, 1]),
            var(rng.vec(rc, 0.5), vec![rc]),
            var(rng.vec(co * rc, 0.3), vec![co, rc, 1, 1, 1]),
            var(rng.vec(co, 0.5), vec![co]),
            var(rng.vec(n * co * v, 1.0), shape(co)),
        ];
        let t: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let x = res.then_some(&t[7]);
        let fused = ops::block_tail(
            &t[0],
            &ops::BlockTail {
                gamma: &t[1],
                beta: &t[2],
                conv2_weight: &t[3],
                conv2_bias: &t[4],
                conv3_weight: &t[5],
                conv3_bias: &t[6],
                eps: 1e-5,
            },
            x,
        )
        .unwrap();
        let y = ops::channel_group_norm(&t[0], &t[1], &t[2], 1e-5).unwrap();
        let y = ops::conv1x1x1(&y, &t[3], None, 1).unwrap();
        let y = ops::bias_gelu(&y, &t[4]).unwrap();
        let mut reference = ops::conv1x1x1(&y, &t[5], Some(&t[6]), 1).unwrap();
        if res {
            reference = (reference + &t[7]).unwrap();
        }
        let case = format!("n {n} c {c} rc {rc} co {co} {sp:?} res {res}");
        let d = max_rel(&fused, &reference);
        let mut report = format!("{case}: y {d:.1e}");
        assert!(d < TOL, "{case}: forward differs by {d}");
        let gy = tensor(&rng.vec(n * co * v, 1.0), &shape(co));
        let g1 = (&fused * &gy)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let g2 = (&reference * &gy)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let names = ["a", "gamma", "beta", "w2", "b2", "w3", "b3", "x"];
        for (v, name) in vars.iter().zip(names).take(if res { 8 } else { 7 }) {
            let (a, b) = (g1.get(v.as_tensor()), g2.get(v.as_tensor()));
            let (a, b) = (
                a.unwrap_or_else(|| panic!("{case}: no fused gradient for {name}")),
                b.unwrap(),
            );
            let d = max_rel(a, b);
            report += &format!(", g{name} {d:.1e}");
            assert!(d < 2.0 * TOL, "{case}: gradient wrt {name} differs by {d}");
        }
        eprintln!("{report}");
    }
}

/// The whole fused stride-1 block (`ops::fused_block`) against `depthwise_conv3d` followed by
/// `block_tail`, forward and every gradient, k = 3 and 5, with and without the residual; a second backward
/// pass through the same graph (the op's saved depthwise output is gone then and is recomputed) gives the
/// same gradients.
#[test]
fn fused_block_matches_composition() {
    let mut rng = Rng::new(12);
    // (n, c, rc, co, spatial, k, residual)
    for (n, c, rc, co, sp, k, res) in [
        (1, 4, 8, 4, [6, 7, 8], 3, true),
        (2, 6, 12, 6, [5, 5, 5], 5, true),
        (1, 32, 64, 32, [12, 12, 12], 3, true),
        (1, 3, 6, 5, [4, 4, 4], 3, false),
    ] {
        let v: usize = sp.iter().product();
        let shape = |ch: usize| vec![n, ch, sp[0], sp[1], sp[2]];
        let var = |d: Vec<f32>, s: Vec<usize>| Var::from_tensor(&tensor(&d, &s)).unwrap();
        let vars = [
            var(rng.vec(n * c * v, 2.0), shape(c)),
            var(rng.vec(c * k * k * k, 0.5), vec![c, 1, k, k, k]),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(rc * c, 0.5), vec![rc, c, 1, 1, 1]),
            var(rng.vec(rc, 0.5), vec![rc]),
            var(rng.vec(co * rc, 0.3), vec![co, rc, 1, 1, 1]),
            var(rng.vec(co, 0.5), vec![co]),
        ];
        let t: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
        let tail = ops::BlockTail {
            gamma: &t[3],
            beta: &t[4],
            conv2_weight: &t[5],
            conv2_bias: &t[6],
            conv3_weight: &t[7],
            conv3_bias: &t[8],
            eps: 1e-5,
        };
        let dw = ops::DepthwiseStage {
            weight: &t[1],
            bias: &t[2],
        };
        let fused = ops::fused_block(&t[0], &dw, &tail, res).unwrap();
        let a = ops::depthwise_conv3d(&t[0], &t[1], Some(&t[2]), 1).unwrap();
        let reference = ops::block_tail(&a, &tail, res.then_some(&t[0])).unwrap();
        let case = format!("n {n} c {c} rc {rc} co {co} {sp:?} k {k} res {res}");
        let d = max_rel(&fused, &reference);
        let mut report = format!("{case}: y {d:.1e}");
        assert!(d < TOL, "{case}: forward differs by {d}");
        let gy = tensor(&rng.vec(n * co * v, 1.0), &shape(co));
        let loss = (&fused * &gy).unwrap().sum_all().unwrap();
        let g1 = loss.backward().unwrap();
        let g1_again = loss.backward().unwrap();
        let g2 = (&reference * &gy)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let names = ["x", "w1", "b1", "gamma", "beta", "w2", "b2", "w3", "b3"];
        for (v, name) in vars.iter().zip(names) {
            let (a, b) = (g1.get(v.as_tensor()), g2.get(v.as_tensor()));
            let (a, b) = (
                a.unwrap_or_else(|| panic!("{case}: no fused gradient for {name}")),
                b.unwrap(),
            );
            let d = max_rel(a, b);
            report += &format!(", g{name} {d:.1e}");
            assert!(d < 2.0 * TOL, "{case}: gradient wrt {name} differs by {d}");
            let again = max_rel(g1_again.get(v.as_tensor()).unwrap(), a);
            assert!(
                again == 0.0,
                "{case}: second backward differs for {name} by {again}"
            );
        }
        eprintln!("{report}");
    }
}

/// A fused stage (`ops::fused_stage`, three blocks, k 3 and 5 mixed, the last without residual and with
/// C_out ≠ C) against the same blocks applied one by one with `ops::fused_block`: forward and every
/// gradient equal, and a second backward pass (saved tensors gone, recomputed) gives the same gradients.
#[test]
fn fused_stage_matches_blocks() {
    let mut rng = Rng::new(13);
    let (n, c, sp) = (2, 6, [5, 6, 7]);
    let v: usize = sp.iter().product();
    let var = |d: Vec<f32>, s: Vec<usize>| Var::from_tensor(&tensor(&d, &s)).unwrap();
    let x = var(rng.vec(n * c * v, 2.0), vec![n, c, sp[0], sp[1], sp[2]]);
    // per block: k, rc, co, residual
    let spec = [(3, 12, c, true), (5, 18, c, true), (3, 12, 4, false)];
    let mut params: Vec<Vec<Var>> = Vec::new();
    for &(k, rc, co, _) in &spec {
        params.push(vec![
            var(rng.vec(c * k * k * k, 0.4), vec![c, 1, k, k, k]),
            var(rng.vec(c, 0.5), vec![c]),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(c, 1.0), vec![c]),
            var(rng.vec(rc * c, 0.5), vec![rc, c, 1, 1, 1]),
            var(rng.vec(rc, 0.5), vec![rc]),
            var(rng.vec(co * rc, 0.3), vec![co, rc, 1, 1, 1]),
            var(rng.vec(co, 0.5), vec![co]),
        ]);
    }
    let blocks: Vec<ops::FusedBlock> = params
        .iter()
        .zip(&spec)
        .map(|(p, &(.., res))| ops::FusedBlock {
            dw: ops::DepthwiseStage {
                weight: p[0].as_tensor(),
                bias: p[1].as_tensor(),
            },
            tail: ops::BlockTail {
                gamma: p[2].as_tensor(),
                beta: p[3].as_tensor(),
                conv2_weight: p[4].as_tensor(),
                conv2_bias: p[5].as_tensor(),
                conv3_weight: p[6].as_tensor(),
                conv3_bias: p[7].as_tensor(),
                eps: 1e-5,
            },
            residual: res,
        })
        .collect();
    let stage = ops::fused_stage(x.as_tensor(), &blocks).unwrap();
    let mut one_by_one = x.as_tensor().clone();
    for b in &blocks {
        one_by_one = ops::fused_block(&one_by_one, &b.dw, &b.tail, b.residual).unwrap();
    }
    assert_eq!(stage.dims(), &[n, 4, sp[0], sp[1], sp[2]]);
    assert_eq!(max_rel(&stage, &one_by_one), 0.0, "forward");
    let gy = tensor(&rng.vec(n * 4 * v, 1.0), stage.dims());
    let loss = (&stage * &gy).unwrap().sum_all().unwrap();
    let g1 = loss.backward().unwrap();
    let g1_again = loss.backward().unwrap();
    let g2 = (&one_by_one * &gy)
        .unwrap()
        .sum_all()
        .unwrap()
        .backward()
        .unwrap();
    let all: Vec<&Var> = std::iter::once(&x).chain(params.iter().flatten()).collect();
    for (i, v) in all.iter().enumerate() {
        let (a, b) = (
            g1.get(v.as_tensor()).expect("stage gradient"),
            g2.get(v.as_tensor()).expect("block gradient"),
        );
        let d = max_rel(a, b);
        assert!(d < 2.0 * TOL, "gradient {i} differs by {d}");
        assert_eq!(
            max_rel(g1_again.get(v.as_tensor()).unwrap(), a),
            0.0,
            "second backward, gradient {i}"
        );
    }
    // a stage with a block that does not fit the running channel count names the block
    let bad = [blocks[2], blocks[0]];
    let err = ops::fused_stage(x.as_tensor(), &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("block 1"), "{err}");
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
