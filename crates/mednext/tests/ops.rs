//! Forward passes of `mednext::ops` against the slow f64 loop references in `ops_common` (written from the
//! PyTorch definitions of `Conv3d(groups=C)`, `ConvTranspose3d(groups=C)`, 1×1×1 convs, `GroupNorm(C, C)` and
//! exact `GELU`), for k = 3, 5, 7, stride 1 and 2, odd/even and non-cubic sizes, batch 2, and argument errors.

mod ops_common;

use candle_core::{DType, Device, Tensor};
use mednext::ops;
use ops_common::{rel_diff, tensor, values, wide, Rng};

const TOL: f64 = 1e-5;

/// (spatial, k, stride) cases: odd, even, non-cubic, tiny (smaller than the kernel), and wider than one
/// output block (W > 64).
const CONV_CASES: &[([usize; 3], usize, usize)] = &[
    ([5, 6, 7], 3, 1),
    ([5, 6, 7], 3, 2),
    ([6, 4, 9], 5, 1),
    ([7, 8, 6], 5, 2),
    ([4, 5, 11], 7, 1),
    ([9, 7, 8], 7, 2),
    ([2, 1, 3], 5, 1),
    ([1, 2, 3], 3, 2),
    ([3, 2, 70], 3, 1),
    ([3, 3, 67], 5, 2),
];

#[test]
fn depthwise_conv3d_matches_loops() {
    let mut rng = Rng::new(1);
    for &(sp, k, s) in CONV_CASES {
        for bias in [false, true] {
            let d = [2, 3, sp[0], sp[1], sp[2]];
            let x = rng.vec(d.iter().product(), 1.0);
            let w = rng.vec(3 * k * k * k, 0.5);
            let b = rng.vec(3, 0.5);
            let bt = tensor(&b, &[3]);
            let y = ops::depthwise_conv3d(
                &tensor(&x, &d),
                &tensor(&w, &[3, 1, k, k, k]),
                bias.then_some(&bt),
                s,
            )
            .unwrap();
            let (r, rd) =
                ops_common::dw_conv(&wide(&x), d, &wide(&w), k, bias.then_some(&wide(&b)[..]), s);
            assert_eq!(y.dims(), &rd, "shape for {sp:?} k {k} s {s}");
            let diff = rel_diff(&values(&y), &r);
            assert!(diff < TOL, "{sp:?} k {k} s {s} bias {bias}: {diff}");
        }
    }
}

#[test]
fn depthwise_conv_transpose3d_matches_loops() {
    let mut rng = Rng::new(2);
    for &(sp, k, s) in CONV_CASES {
        let d = [2, 3, sp[0], sp[1], sp[2]];
        let x = rng.vec(d.iter().product(), 1.0);
        let w = rng.vec(3 * k * k * k, 0.5);
        let b = rng.vec(3, 0.5);
        let y = ops::depthwise_conv_transpose3d(
            &tensor(&x, &d),
            &tensor(&w, &[3, 1, k, k, k]),
            Some(&tensor(&b, &[3])),
            s,
        )
        .unwrap();
        let (r, rd) = ops_common::dw_conv_t(&wide(&x), d, &wide(&w), k, Some(&wide(&b)), s);
        assert_eq!(y.dims(), &rd, "shape for {sp:?} k {k} s {s}");
        let diff = rel_diff(&values(&y), &r);
        assert!(diff < TOL, "{sp:?} k {k} s {s}: {diff}");
    }
}

#[test]
fn pointwise_convs_match_loops() {
    let mut rng = Rng::new(3);
    for (sp, s) in [
        ([5, 6, 7], 1),
        ([5, 6, 7], 2),
        ([4, 4, 4], 2),
        ([3, 1, 2], 2),
    ] {
        for n in [1, 2] {
            let d = [n, 4, sp[0], sp[1], sp[2]];
            let x = rng.vec(d.iter().product(), 1.0);
            let w = rng.vec(4 * 6, 0.5);
            let b = rng.vec(6, 0.5);
            let bt = tensor(&b, &[6]);
            let y = ops::conv1x1x1(&tensor(&x, &d), &tensor(&w, &[6, 4, 1, 1, 1]), Some(&bt), s)
                .unwrap();
            let (r, rd) = ops_common::conv1(&wide(&x), d, &wide(&w), 6, Some(&wide(&b)), s);
            assert_eq!(y.dims(), &rd);
            assert!(
                rel_diff(&values(&y), &r) < TOL,
                "conv1x1x1 {sp:?} s {s} n {n}"
            );

            let y = ops::conv_transpose1x1x1(
                &tensor(&x, &d),
                &tensor(&w, &[4, 6, 1, 1, 1]),
                Some(&bt),
                s,
            )
            .unwrap();
            let (r, rd) = ops_common::conv1_t(&wide(&x), d, &wide(&w), 6, Some(&wide(&b)), s);
            assert_eq!(y.dims(), &rd);
            assert!(
                rel_diff(&values(&y), &r) < TOL,
                "conv_transpose1x1x1 {sp:?} s {s} n {n}"
            );
        }
    }
}

#[test]
fn channel_group_norm_matches_loops() {
    let mut rng = Rng::new(4);
    for d in [[2usize, 3, 5, 6, 7], [1, 4, 1, 1, 9], [2, 2, 8, 8, 8]] {
        let x: Vec<f32> = rng
            .vec(d.iter().product(), 2.0)
            .iter()
            .map(|v| v + 3.0)
            .collect();
        let g = rng.vec(d[1], 1.0);
        let b = rng.vec(d[1], 1.0);
        let y = ops::channel_group_norm(
            &tensor(&x, &d),
            &tensor(&g, &[d[1]]),
            &tensor(&b, &[d[1]]),
            1e-5,
        )
        .unwrap();
        let r = ops_common::group_norm(&wide(&x), d[0], d[1], &wide(&g), &wide(&b), 1e-5);
        let diff = rel_diff(&values(&y), &r);
        assert!(diff < TOL, "{d:?}: {diff}");
    }
}

#[test]
fn gelu_and_bias_gelu_match_erf() {
    let mut rng = Rng::new(5);
    let d = [2, 3, 17, 9, 40];
    let x = rng.vec(d.iter().product(), 6.0);
    let b = rng.vec(3, 1.0);
    let y = values(&ops::gelu_erf(&tensor(&x, &d)).unwrap());
    let r: Vec<f64> = x.iter().map(|&v| ops_common::gelu(f64::from(v))).collect();
    assert!(rel_diff(&y, &r) < TOL);
    let y = values(&ops::bias_gelu(&tensor(&x, &d), &tensor(&b, &[3])).unwrap());
    let v = d[2] * d[3] * d[4];
    let r: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, &a)| ops_common::gelu(f64::from(a) + f64::from(b[(i / v) % 3])))
        .collect();
    assert!(rel_diff(&y, &r) < TOL);
}

#[test]
fn non_contiguous_inputs_are_accepted() {
    let mut rng = Rng::new(6);
    let d = [1, 2, 5, 4, 6];
    let x = rng.vec(d.iter().product(), 1.0);
    let w = rng.vec(2 * 27, 0.5);
    // a transposed view of the same data (H and W swapped), then compared with its contiguous copy
    let xt = tensor(&x, &[1, 2, 5, 6, 4]).transpose(3, 4).unwrap();
    assert!(!xt.is_contiguous());
    let wt = tensor(&w, &[2, 1, 3, 3, 3]);
    let a = values(&ops::depthwise_conv3d(&xt, &wt, None, 1).unwrap());
    let b = values(&ops::depthwise_conv3d(&xt.contiguous().unwrap(), &wt, None, 1).unwrap());
    assert_eq!(a, b);
}

#[test]
fn invalid_arguments_are_errors() {
    let x = Tensor::zeros((1, 2, 4, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let w_even = Tensor::zeros((2, 1, 4, 4, 4), DType::F32, &Device::Cpu).unwrap();
    let w3 = Tensor::zeros((2, 1, 3, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let w_wrong_c = Tensor::zeros((3, 1, 3, 3, 3), DType::F32, &Device::Cpu).unwrap();
    let b3 = Tensor::zeros(3, DType::F32, &Device::Cpu).unwrap();
    let err = |r: candle_core::Result<Tensor>| r.unwrap_err().to_string();
    assert!(err(ops::depthwise_conv3d(&x, &w_even, None, 1)).contains("k odd"));
    assert!(err(ops::depthwise_conv3d(&x, &w_wrong_c, None, 1)).contains("weight"));
    assert!(err(ops::depthwise_conv3d(&x, &w3, None, 3)).contains("stride"));
    assert!(err(ops::depthwise_conv3d(&x, &w3, Some(&b3), 1)).contains("bias"));
    assert!(err(ops::depthwise_conv3d(
        &x.to_dtype(DType::F64).unwrap(),
        &w3,
        None,
        1
    ))
    .contains("f32"));
    assert!(err(ops::depthwise_conv3d(
        &x.flatten_all().unwrap(),
        &w3,
        None,
        1
    ))
    .contains("5-D"));
    let w1 = Tensor::zeros((5, 3, 1, 1, 1), DType::F32, &Device::Cpu).unwrap();
    assert!(err(ops::conv1x1x1(&x, &w1, None, 1)).contains("C_in = 2"));
    assert!(err(ops::conv_transpose1x1x1(&x, &w1, None, 1)).contains("C_in = 2"));
    assert!(err(ops::channel_group_norm(&x, &b3, &b3, 1e-5)).contains("gamma"));
    assert!(err(ops::bias_gelu(&x, &b3)).contains("bias"));
}

#[test]
fn conv1x1x1_spanning_several_voxel_chunks() {
    // 17·16·19 = 5168 voxels: more than one 4096-voxel task, with a voxel tail and an output-channel tail
    let mut rng = Rng::new(7);
    let d = [2, 3, 17, 16, 19];
    let x = rng.vec(d.iter().product(), 1.0);
    let w = rng.vec(5 * 3, 0.5);
    let b = rng.vec(5, 0.5);
    for bias in [false, true] {
        let bt = tensor(&b, &[5]);
        let y = ops::conv1x1x1(
            &tensor(&x, &d),
            &tensor(&w, &[5, 3, 1, 1, 1]),
            bias.then_some(&bt),
            1,
        )
        .unwrap();
        let (r, _) =
            ops_common::conv1(&wide(&x), d, &wide(&w), 5, bias.then_some(&wide(&b)[..]), 1);
        assert!(rel_diff(&values(&y), &r) < TOL, "bias {bias}");
    }
}
