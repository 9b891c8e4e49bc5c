//! Times the `mednext::ops` kernels at MedNeXt-M sizes and prints one line per case:
//! `<case> <best ms over runs>`, read by `benches/compare_mednext_ops.py` (which times PyTorch on the same
//! shapes). Usage: `cargo run --release -p mednext --example ops_timing [runs]`.

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use mednext::ops;

fn rand(shape: &[usize]) -> anyhow::Result<Tensor> {
    // deterministic pseudo-random data without an RNG dependency
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) % 1000) as f32 / 500.0 - 1.0)
        .collect();
    Ok(Tensor::from_vec(v, shape, &Device::Cpu)?)
}

fn time(runs: usize, name: &str, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<()> {
    f()?; // warm-up
    let mut best = f64::INFINITY;
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        best = best.min(t.elapsed().as_secs_f64() * 1e3);
    }
    println!("{name} {best:.2}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let runs: usize = std::env::args().nth(1).map_or(Ok(5), |s| s.parse())?;
    let s = 64;
    for (c, k) in [(32, 5), (64, 5), (32, 3)] {
        let x = Var::from_tensor(&rand(&[1, c, s, s, s])?)?;
        let w = Var::from_tensor(&(rand(&[c, 1, k, k, k])? * 0.1)?)?;
        let b = Var::from_tensor(&Tensor::zeros(c, DType::F32, &Device::Cpu)?)?;
        time(runs, &format!("dwconv_c{c}_k{k}_s1_fwd"), || {
            ops::depthwise_conv3d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), 1)?;
            Ok(())
        })?;
        time(runs, &format!("dwconv_c{c}_k{k}_s1_fwdbwd"), || {
            let y = ops::depthwise_conv3d(x.as_tensor(), w.as_tensor(), Some(b.as_tensor()), 1)?;
            y.backward()?;
            Ok(())
        })?;
    }
    let x = Var::from_tensor(&rand(&[1, 32, s, s, s])?)?;
    let w = Var::from_tensor(&(rand(&[32, 1, 5, 5, 5])? * 0.1)?)?;
    time(runs, "dwconv_c32_k5_s2_fwd", || {
        ops::depthwise_conv3d(x.as_tensor(), w.as_tensor(), None, 2)?;
        Ok(())
    })?;
    time(runs, "dwconv_c32_k5_s2_fwdbwd", || {
        ops::depthwise_conv3d(x.as_tensor(), w.as_tensor(), None, 2)?
            .sum_all()?
            .backward()?;
        Ok(())
    })?;
    let xt = Var::from_tensor(&rand(&[1, 32, 32, 32, 32])?)?;
    time(runs, "dwconvT_c32_k5_s2_fwd", || {
        ops::depthwise_conv_transpose3d(xt.as_tensor(), w.as_tensor(), None, 2)?;
        Ok(())
    })?;
    time(runs, "dwconvT_c32_k5_s2_fwdbwd", || {
        ops::depthwise_conv_transpose3d(xt.as_tensor(), w.as_tensor(), None, 2)?
            .sum_all()?
            .backward()?;
        Ok(())
    })?;

    let w1 = Var::from_tensor(&(rand(&[128, 32, 1, 1, 1])? * 0.1)?)?;
    let b1 = Var::from_tensor(&Tensor::zeros(128, DType::F32, &Device::Cpu)?)?;
    time(runs, "conv1x1x1_32to128_fwd", || {
        ops::conv1x1x1(x.as_tensor(), w1.as_tensor(), Some(b1.as_tensor()), 1)?;
        Ok(())
    })?;
    time(runs, "conv1x1x1_32to128_fwdbwd", || {
        ops::conv1x1x1(x.as_tensor(), w1.as_tensor(), Some(b1.as_tensor()), 1)?
            .sum_all()?
            .backward()?;
        Ok(())
    })?;

    let g = Var::from_tensor(&Tensor::ones(32, DType::F32, &Device::Cpu)?)?;
    let be = Var::from_tensor(&Tensor::zeros(32, DType::F32, &Device::Cpu)?)?;
    time(runs, "group_norm_c32_fwd", || {
        ops::channel_group_norm(x.as_tensor(), g.as_tensor(), be.as_tensor(), 1e-5)?;
        Ok(())
    })?;
    time(runs, "group_norm_c32_fwdbwd", || {
        ops::channel_group_norm(x.as_tensor(), g.as_tensor(), be.as_tensor(), 1e-5)?
            .sum_all()?
            .backward()?;
        Ok(())
    })?;

    let xg = Var::from_tensor(&(rand(&[1, 128, s, s, s])? * 3.0)?)?;
    time(runs, "gelu_c128_fwd", || {
        ops::gelu_erf(xg.as_tensor())?;
        Ok(())
    })?;
    time(runs, "gelu_c128_fwdbwd", || {
        ops::gelu_erf(xg.as_tensor())?.backward()?;
        Ok(())
    })?;
    time(runs, "bias_gelu_c128_fwd", || {
        ops::bias_gelu(xg.as_tensor(), b1.as_tensor())?;
        Ok(())
    })?;
    time(runs, "candle_gelu_erf_c128_fwd", || {
        xg.as_tensor().gelu_erf()?;
        Ok(())
    })?;
    Ok(())
}
