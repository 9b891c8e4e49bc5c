//! The fused MedNeXt ops (`ops::block_tail`, `ops::fused_block`, `ops::fused_stage`) against compositions of
//! the separate ops, which `tests/ops_grad.rs` checks against PyTorch and finite differences: forward and
//! every gradient, on shapes with tails (channel counts off the register blocks, several tiles with a
//! partial last one, batch 2) and a second backward pass through the same graph.

mod ops_common;

use candle_core::{Tensor, Var};
use mednext::ops;
use ops_common::{max_rel, tensor, Rng, TOL};

/// A variable of the given shape with values from `rng` in `[-scale, scale)`.
fn var(rng: &mut Rng, shape: &[usize], scale: f32) -> Var {
    let n: usize = shape.iter().product();
    Var::from_tensor(&tensor(&rng.vec(n, scale), shape)).unwrap()
}

/// The parameters of one block as variables, `[w1, b1, γ, β, W2, b2, W3, b3]` (input channels `c`,
/// kernel `k`, expansion `rc`, output channels `co`).
fn block_vars(rng: &mut Rng, c: usize, k: usize, rc: usize, co: usize) -> Vec<Var> {
    vec![
        var(rng, &[c, 1, k, k, k], 0.4),
        var(rng, &[c], 0.5),
        var(rng, &[c], 1.0),
        var(rng, &[c], 1.0),
        var(rng, &[rc, c, 1, 1, 1], 0.5),
        var(rng, &[rc], 0.5),
        var(rng, &[co, rc, 1, 1, 1], 0.3),
        var(rng, &[co], 0.5),
    ]
}

/// The op arguments over [`block_vars`].
fn fused(p: &[Var], residual: bool) -> ops::FusedBlock<'_> {
    ops::FusedBlock {
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
        residual,
    }
}

/// Compares the gradients of `Σ gy·y1` and `Σ gy·y2` wrt `vars` (bound `2·TOL`); the first output's
/// backward is run twice and must give identical gradients (the fused ops' saved tensors are gone the
/// second time and are recomputed). Returns the per-variable differences for the report.
fn check_grads(case: &str, y1: &Tensor, y2: &Tensor, gy: &Tensor, vars: &[&Var]) -> String {
    let loss = (y1 * gy).unwrap().sum_all().unwrap();
    let g1 = loss.backward().unwrap();
    let g1_again = loss.backward().unwrap();
    let g2 = (y2 * gy).unwrap().sum_all().unwrap().backward().unwrap();
    let mut report = String::new();
    for (i, v) in vars.iter().enumerate() {
        let a = g1
            .get(v.as_tensor())
            .unwrap_or_else(|| panic!("{case}: no fused gradient for variable {i}"));
        let d = max_rel(a, g2.get(v.as_tensor()).unwrap());
        report += &format!(" {d:.1e}");
        assert!(
            d < 2.0 * TOL,
            "{case}: gradient wrt variable {i} differs by {d}"
        );
        let again = max_rel(g1_again.get(v.as_tensor()).unwrap(), a);
        assert!(
            again == 0.0,
            "{case}: second backward differs for variable {i} by {again}"
        );
    }
    report
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
/// `block_tail`, forward and every gradient, k = 3 and 5, with and without the residual.
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
        let x = var(&mut rng, &[n, c, sp[0], sp[1], sp[2]], 2.0);
        let p = block_vars(&mut rng, c, k, rc, co);
        let f = fused(&p, res);
        let y = ops::fused_block(x.as_tensor(), &f.dw, &f.tail, res).unwrap();
        let a = ops::depthwise_conv3d(x.as_tensor(), f.dw.weight, Some(f.dw.bias), 1).unwrap();
        let reference = ops::block_tail(&a, &f.tail, res.then_some(x.as_tensor())).unwrap();
        let case = format!("n {n} c {c} rc {rc} co {co} {sp:?} k {k} res {res}");
        let d = max_rel(&y, &reference);
        assert!(d < TOL, "{case}: forward differs by {d}");
        let gy = tensor(&rng.vec(y.elem_count(), 1.0), y.dims());
        let vars: Vec<&Var> = std::iter::once(&x).chain(&p).collect();
        let report = check_grads(&case, &y, &reference, &gy, &vars);
        eprintln!("{case}: y {d:.1e}, gradients (x, w1, b1, γ, β, W2, b2, W3, b3){report}");
    }
}

/// A fused stage (`ops::fused_stage`, three blocks, k 3 and 5 mixed, the last without residual and with
/// C_out ≠ C) against the same blocks applied one by one with `ops::fused_block`.
#[test]
fn fused_stage_matches_blocks() {
    let mut rng = Rng::new(13);
    let (n, c, sp) = (2, 6, [5, 6, 7]);
    let x = var(&mut rng, &[n, c, sp[0], sp[1], sp[2]], 2.0);
    // per block: k, rc, co, residual
    let spec = [(3, 12, c, true), (5, 18, c, true), (3, 12, 4, false)];
    let params: Vec<Vec<Var>> = spec
        .iter()
        .map(|&(k, rc, co, _)| block_vars(&mut rng, c, k, rc, co))
        .collect();
    let blocks: Vec<ops::FusedBlock> = params
        .iter()
        .zip(&spec)
        .map(|(p, &(.., res))| fused(p, res))
        .collect();
    let stage = ops::fused_stage(x.as_tensor(), &blocks).unwrap();
    let mut one_by_one = x.as_tensor().clone();
    for b in &blocks {
        one_by_one = ops::fused_block(&one_by_one, &b.dw, &b.tail, b.residual).unwrap();
    }
    assert_eq!(stage.dims(), &[n, 4, sp[0], sp[1], sp[2]]);
    assert_eq!(max_rel(&stage, &one_by_one), 0.0, "forward");
    let gy = tensor(&rng.vec(stage.elem_count(), 1.0), stage.dims());
    let vars: Vec<&Var> = std::iter::once(&x).chain(params.iter().flatten()).collect();
    let report = check_grads("stage", &stage, &one_by_one, &gy, &vars);
    eprintln!("stage: gradients{report}");
    // a stage with a block that does not fit the running channel count names the block
    let bad = [blocks[2], blocks[0]];
    let err = ops::fused_stage(x.as_tensor(), &bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("block 1"), "{err}");
}
