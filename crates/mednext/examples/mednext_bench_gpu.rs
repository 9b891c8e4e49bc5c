//! Timing of the candle MedNeXt on a chosen device (the Rust side of `benches/compare_mednext_gpu.py`),
//! printed as one JSON line.
//!
//! ```text
//! mednext_bench_gpu --device cuda --mode infer --preset M --kernel 5 --size 128 --batch 1 [--repeats 5 --warmup 2]
//! mednext_bench_gpu --device cuda --mode train --preset M --kernel 5 --size 128 --batch 2 [--checkpointing off]
//! ```
//!
//! `infer`: `forward_logits` (eval, no deep supervision) on a B×3×S³ input with plain weights. `train`: one
//! optimisation step of the deep-supervision network — forward, the loss below, backward, AdamW
//! (`candle_nn::AdamW`, lr 1e-3, weight decay 3e-5) — as in `examples/mednext_bench.rs`:
//!
//! ```text
//! L = Σ_i w_i · mean_voxels( −Σ_c t_c · log_softmax(out_i)_c ),   w = [8, 4, 2, 1, 0] / 15
//! ```
//!
//! Each timed step ends with a device synchronisation (a scalar read back). With the `cuda` feature a
//! sampler thread polls `cuMemGetInfo` every 2 ms; `peak_used_mb` is the largest `total − free` seen during
//! the timed steps and `baseline_used_mb` the value before the model was built (whole-device figures: other
//! processes count too). Output: `{"side": "candle", "device", "mode", "preset", "kernel", "size", "batch",
//! "seconds": [...], "median_s", "parameters", "peak_used_mb", "baseline_used_mb"}`.
//! Reference: the PyTorch side of `benches/compare_mednext_gpu.py` (`tools/golden/mednext_reference.py`).

use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use mednext::{CheckpointStyle, KeyNaming, MedNext, MedNextConfig, Preset};

#[derive(Debug)]
struct Args {
    device: String,
    train: bool,
    preset: Preset,
    kernel: usize,
    size: usize,
    batch: usize,
    repeats: usize,
    warmup: usize,
    checkpointing: bool,
}

fn parse() -> Result<Args> {
    let mut a = Args {
        device: "cuda".into(),
        train: false,
        preset: Preset::M,
        kernel: 5,
        size: 128,
        batch: 1,
        repeats: 5,
        warmup: 2,
        checkpointing: false,
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    for pair in argv.chunks(2) {
        let [key, val] = pair else {
            bail!("arguments come in `--key value` pairs, got {pair:?}");
        };
        match key.as_str() {
            "--device" => a.device = val.clone(),
            "--mode" => a.train = val == "train",
            "--preset" => a.preset = val.parse()?,
            "--kernel" => a.kernel = val.parse()?,
            "--size" => a.size = val.parse()?,
            "--batch" => a.batch = val.parse()?,
            "--repeats" => a.repeats = val.parse()?,
            "--warmup" => a.warmup = val.parse()?,
            "--checkpointing" => a.checkpointing = val == "on",
            _ => bail!("unknown argument {key}"),
        }
    }
    if a.repeats == 0 || !a.size.is_multiple_of(16) || a.batch == 0 {
        bail!("--repeats and --batch must be >= 1 and --size a multiple of 16");
    }
    Ok(a)
}

/// A deterministic smooth B×C×S³ input.
fn input(b: usize, c: usize, s: usize, dev: &Device) -> Result<Tensor> {
    let n = b * c * s * s * s;
    Ok(
        (Tensor::arange(0u32, n as u32, dev)?.to_dtype(DType::F32)? * 0.0137)?
            .sin()?
            .reshape((b, c, s, s, s))?,
    )
}

/// One-hot checkerboard targets (B, classes, s, s, s), class = (z + y + x) mod classes.
fn target(b: usize, classes: usize, s: usize, dev: &Device) -> Result<Tensor> {
    let idx = |axis: usize| -> Result<Tensor> {
        let mut shape = [1usize, 1, 1, 1, 1];
        shape[axis] = s;
        Ok(Tensor::arange(0u32, s as u32, dev)?.reshape(shape.to_vec())?)
    };
    let sum = idx(2)?
        .broadcast_add(&idx(3)?)?
        .broadcast_add(&idx(4)?)?
        .to_dtype(DType::F32)?;
    let label = (&sum - ((&sum / classes as f64)?.floor()? * classes as f64)?)?;
    let planes = (0..classes)
        .map(|c| Ok(label.eq(c as f64)?.to_dtype(DType::F32)?))
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(&planes, 1)?.repeat((b, 1, 1, 1, 1))?)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

/// Device-memory sampler (`cuMemGetInfo` every 2 ms) with the `cuda` feature; a no-op otherwise.
struct MemSampler {
    #[cfg(feature = "cuda")]
    inner: Option<(
        std::sync::Arc<std::sync::atomic::AtomicBool>,
        std::thread::JoinHandle<usize>,
    )>,
}

impl MemSampler {
    /// Bytes in use on the device now (`total − free`), if known.
    fn used_now(dev: &Device) -> Option<usize> {
        #[cfg(feature = "cuda")]
        if let Ok(d) = dev.as_cuda_device() {
            return d
                .cuda_stream()
                .context()
                .mem_get_info()
                .ok()
                .map(|(free, total)| total - free);
        }
        let _ = dev;
        None
    }

    fn start(dev: &Device) -> Self {
        #[cfg(feature = "cuda")]
        {
            use std::sync::atomic::{AtomicBool, Ordering};
            use std::sync::Arc;
            let Ok(d) = dev.as_cuda_device() else {
                return Self { inner: None };
            };
            let ctx = d.cuda_stream().context().clone();
            let stop = Arc::new(AtomicBool::new(false));
            let flag = stop.clone();
            let h = std::thread::spawn(move || {
                let mut peak = 0usize;
                while !flag.load(Ordering::Relaxed) {
                    if let Ok((free, total)) = ctx.mem_get_info() {
                        peak = peak.max(total - free);
                    }
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                peak
            });
            Self {
                inner: Some((stop, h)),
            }
        }
        #[cfg(not(feature = "cuda"))]
        {
            let _ = dev;
            Self {}
        }
    }

    /// Stops the sampler; the peak in bytes, if sampled.
    fn stop(self) -> Option<usize> {
        #[cfg(feature = "cuda")]
        if let Some((stop, h)) = self.inner {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            return h.join().ok();
        }
        None
    }
}

fn main() -> Result<()> {
    let a = parse()?;
    let dev = match a.device.as_str() {
        "cpu" => Device::Cpu,
        "cuda" => Device::new_cuda(0)
            .context("--device cuda: no CUDA device (built with --features cuda?)")?,
        other => bail!("--device must be cpu or cuda, got {other}"),
    };
    let baseline = MemSampler::used_now(&dev);
    let (in_ch, classes) = (3, 2);
    let base = MedNextConfig::preset(a.preset, in_ch, classes, a.kernel);
    let x = input(a.batch, in_ch, a.size, &dev)?;
    let mut seconds = Vec::with_capacity(a.repeats);
    let parameters;
    let peak;
    if a.train {
        let style = a.checkpointing.then_some(CheckpointStyle::OutsideBlock);
        let cfg = base
            .with_deep_supervision(true)
            .with_checkpoint_style(style);
        let (model, varmap) = mednext::new_trainable(&cfg, 0, &dev)?;
        parameters = model.parameter_count();
        let mut opt = AdamW::new(
            mednext::sorted_vars(&varmap),
            ParamsAdamW {
                lr: 1e-3,
                weight_decay: 3e-5,
                ..ParamsAdamW::default()
            },
        )?;
        const W: [f64; 5] = [8.0 / 15.0, 4.0 / 15.0, 2.0 / 15.0, 1.0 / 15.0, 0.0];
        let targets = (0..5)
            .map(|i| target(a.batch, classes, a.size >> i, &dev))
            .collect::<Result<Vec<_>>>()?;
        let step = |opt: &mut AdamW| -> Result<f32> {
            let outs = model.forward(&x)?;
            let mut loss = Tensor::zeros((), DType::F32, &dev)?;
            for ((o, tg), w) in outs.iter().zip(&targets).zip(W) {
                if w == 0.0 {
                    continue;
                }
                let logp = candle_nn::ops::log_softmax(o, 1)?;
                let ce = (logp * tg)?.sum(1)?.neg()?.mean_all()?;
                loss = (loss + (ce * w)?)?;
            }
            opt.backward_step(&loss)?;
            Ok(loss.to_scalar::<f32>()?)
        };
        for _ in 0..a.warmup {
            step(&mut opt)?;
        }
        let sampler = MemSampler::start(&dev);
        for _ in 0..a.repeats {
            let t = Instant::now();
            step(&mut opt)?;
            dev.synchronize()?;
            seconds.push(t.elapsed().as_secs_f64());
        }
        peak = sampler.stop();
    } else {
        let cfg = base
            .with_deep_supervision(false)
            .with_checkpoint_style(None);
        let (trainable, _vm) = mednext::new_trainable(&cfg, 0, &dev)?;
        let model =
            MedNext::from_named_tensors(&cfg, trainable.state_dict()?, KeyNaming::Original, &dev)?;
        drop(trainable);
        parameters = model.parameter_count();
        for _ in 0..a.warmup {
            model.forward_logits(&x)?.sum_all()?.to_scalar::<f32>()?;
        }
        let sampler = MemSampler::start(&dev);
        for _ in 0..a.repeats {
            let t = Instant::now();
            let y = model.forward_logits(&x)?;
            let _ = y.sum_all()?.to_scalar::<f32>()?;
            dev.synchronize()?;
            seconds.push(t.elapsed().as_secs_f64());
        }
        peak = sampler.stop();
    }
    let mb = |b: Option<usize>| b.map(|v| v as f64 / (1024.0 * 1024.0));
    let json = serde_json::json!({
        "side": "candle",
        "device": a.device,
        "mode": if a.train { "train" } else { "infer" },
        "preset": format!("{:?}", a.preset),
        "kernel": a.kernel,
        "size": a.size,
        "batch": a.batch,
        "checkpointing": a.train && a.checkpointing,
        "seconds": seconds,
        "median_s": median(&seconds),
        "parameters": parameters,
        "peak_used_mb": mb(peak),
        "baseline_used_mb": mb(baseline),
    });
    println!("{json}");
    Ok(())
}
