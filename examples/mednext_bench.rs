//! Timing of the candle MedNeXt (the Rust side of `benches/compare_mednext.py`), printed as one JSON line.
//!
//! ```text
//! mednext_bench --mode infer --preset M --kernel 5 [--in-channels 3 --classes 2] --size 128 [--repeats 1]
//! mednext_bench --mode train --preset M --kernel 3 --size 64 --checkpointing on|off [--repeats 1]
//! ... [--default-allocator]
//! ```
//!
//! `infer`: `forward_logits` (eval, no deep supervision: nnU-Net's `do_ds = False`) on a 1×C×S³ input with
//! plain (untracked) weights. `train`: one forward + backward of the deep-supervision network (as the nnU-Net
//! trainers build it) with the loss
//!
//! ```text
//! L = Σ_i w_i · mean_voxels( −Σ_c t_c · log_softmax(out_i)_c ),   w = [8, 4, 2, 1, 0] / 15
//! ```
//!
//! (the DS weights of a 5-pool plan, `reference/mednext.md` §13; the targets are a fixed checkerboard).
//! Weights come from `mednext::new_trainable` (seed 0), the input is a deterministic smooth pattern: timings
//! do not depend on values. Output: `{"mode", "preset", "kernel", "size", "checkpointing", "seconds": [...],
//! "median_s", "parameters"}`. Reference implementation timed by the script: the original MedNeXt
//! (`tools/golden/mednext_reference.py`, checked against the original's fixtures). The binary first calls
//! `mednext::retain_freed_memory()` (glibc keeps freed 32 MiB tensors for reuse instead of unmapping them), as
//! the `train`/`predict` examples do; `--default-allocator` skips that.

use std::time::Instant;

use anyhow::{bail, Result};
use candle_core::{DType, Device, Tensor};
use clap::{Parser, ValueEnum};
use mednext::{CheckpointStyle, KeyNaming, MedNext, MedNextConfig, Preset};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Forward only, out_0, no gradients.
    Infer,
    /// Forward + backward with deep supervision.
    Train,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Switch {
    On,
    Off,
}

#[derive(Debug, Parser)]
#[command(about = "Time the candle MedNeXt forward / training step; prints JSON")]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long, default_value = "M", value_parser = parse_preset)]
    preset: Preset,
    #[arg(long, default_value_t = 5)]
    kernel: usize,
    #[arg(long, default_value_t = 3)]
    in_channels: usize,
    #[arg(long, default_value_t = 2)]
    classes: usize,
    /// Edge length of the cubic input (multiple of 16).
    #[arg(long, default_value_t = 128)]
    size: usize,
    /// Block checkpointing (recomputation) in training; ignored for inference.
    #[arg(long, value_enum, default_value = "on")]
    checkpointing: Switch,
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// Keep glibc's default allocator settings (skip `mednext::retain_freed_memory`).
    #[arg(long)]
    default_allocator: bool,
    /// Inference only: weights (original key names) instead of a seeded initialisation, e.g. the PyTorch
    /// side's state dict, so that the outputs can be compared.
    #[arg(long)]
    weights: Option<std::path::PathBuf>,
    /// Inference only: write `out_0` of the last run to this safetensors file.
    #[arg(long)]
    output: Option<std::path::PathBuf>,
}

fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
    s.parse().map_err(|e: mednext::Error| e.to_string())
}

/// A deterministic smooth 1×C×S³ input.
fn input(c: usize, s: usize, dev: &Device) -> Result<Tensor> {
    let n = c * s * s * s;
    Ok(
        (Tensor::arange(0u32, n as u32, dev)?.to_dtype(DType::F32)? * 0.0137)?
            .sin()?
            .reshape((1, c, s, s, s))?,
    )
}

/// One-hot checkerboard targets (1, classes, s, s, s) (class = (z + y + x) mod classes).
fn target(classes: usize, s: usize, dev: &Device) -> Result<Tensor> {
    let idx = |axis: usize| -> Result<Tensor> {
        let mut shape = [1usize, 1, 1, 1, 1];
        shape[axis] = s;
        Ok(Tensor::arange(0u32, s as u32, dev)?.reshape(shape.to_vec())?)
    };
    let sum = idx(2)?.broadcast_add(&idx(3)?)?.broadcast_add(&idx(4)?)?;
    let label = (sum.to_dtype(DType::F32)? / classes as f64)?.floor()?;
    let label = (sum.to_dtype(DType::F32)? - (label * classes as f64)?)?;
    let planes = (0..classes)
        .map(|c| Ok(label.eq(c as f64)?.to_dtype(DType::F32)?))
        .collect::<Result<Vec<_>>>()?;
    Ok(Tensor::cat(&planes, 1)?)
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[s.len() / 2]
}

fn main() -> Result<()> {
    let args = Args::parse();
    if !args.default_allocator {
        mednext::retain_freed_memory();
    }
    if args.repeats == 0 || args.size % 16 != 0 {
        bail!("--repeats must be >= 1 and --size a multiple of 16");
    }
    let dev = Device::Cpu;
    let base = MedNextConfig::preset(args.preset, args.in_channels, args.classes, args.kernel);
    let x = input(args.in_channels, args.size, &dev)?;
    let mut seconds = Vec::with_capacity(args.repeats);
    let parameters;
    match args.mode {
        Mode::Infer => {
            let cfg = base
                .with_deep_supervision(false)
                .with_checkpoint_style(None);
            let model = match &args.weights {
                Some(path) => MedNext::from_file(&cfg, path, &dev)?,
                None => {
                    let (trainable, _vm) = mednext::new_trainable(&cfg, 0, &dev)?;
                    let sd = trainable.state_dict()?;
                    MedNext::from_named_tensors(&cfg, sd, KeyNaming::Original, &dev)?
                }
            };
            parameters = model.parameter_count();
            let mut last = None;
            for _ in 0..args.repeats {
                let t = Instant::now();
                let y = model.forward_logits(&x)?;
                let _ = y.sum_all()?.to_scalar::<f32>()?;
                seconds.push(t.elapsed().as_secs_f64());
                last = Some(y);
            }
            if let (Some(path), Some(y)) = (&args.output, last) {
                let named: upkern::NamedTensors = [("out_0".to_string(), y)].into_iter().collect();
                upkern::write_safetensors(path, &named)?;
            }
        }
        Mode::Train => {
            let style = match args.checkpointing {
                Switch::On => Some(CheckpointStyle::OutsideBlock),
                Switch::Off => None,
            };
            let cfg = base
                .with_deep_supervision(true)
                .with_checkpoint_style(style);
            let (model, _vm) = mednext::new_trainable(&cfg, 0, &dev)?;
            parameters = model.parameter_count();
            const W: [f64; 5] = [8.0 / 15.0, 4.0 / 15.0, 2.0 / 15.0, 1.0 / 15.0, 0.0];
            let targets = (0..5)
                .map(|i| target(args.classes, args.size >> i, &dev))
                .collect::<Result<Vec<_>>>()?;
            for _ in 0..args.repeats {
                let t = Instant::now();
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
                let grads = loss.backward()?;
                let _ = loss.to_scalar::<f32>()?;
                drop(grads);
                seconds.push(t.elapsed().as_secs_f64());
            }
        }
    }
    let json = serde_json::json!({
        "side": "candle",
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "preset": format!("{:?}", args.preset),
        "kernel": args.kernel,
        "size": args.size,
        "checkpointing": args.mode == Mode::Train && args.checkpointing == Switch::On,
        "seconds": seconds,
        "median_s": median(&seconds),
        "parameters": parameters,
    });
    println!("{json}");
    Ok(())
}
