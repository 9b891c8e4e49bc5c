//! One MedNeXt v1 forward pass from the command line.
//!
//! ```text
//! mednext_forward --weights W.(safetensors|pth|model) \
//!     (--preset M --kernel 5 --in-channels 3 --classes 2 [--deep-supervision] | --config cfg.json) \
//!     --input in.safetensors --output out.safetensors
//! ```
//!
//! The input file holds one tensor named `input` (N×C×D×H×W, D/H/W multiples of 16); the output file holds
//! `out_0 … out_4` (deep supervision, full resolution first) or `out_0` (logits, no softmax). Weights use the
//! original MedNeXt key names (MONAI names are detected and renamed); `.pth`/`.model` checkpoints of
//! nnU-Net v1/v2 are read directly. The configuration JSON holds the original constructor's keyword
//! arguments (`MedNextConfig`). Reference: MIC-DKFZ/MedNeXt `mednextv1/MedNextV1.py`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device};
use clap::Parser;
use mednext::{MedNext, MedNextConfig, NamedTensors, Preset};

#[derive(Debug, Parser)]
#[command(about = "Run MedNeXt v1 on a safetensors input and write the logits")]
struct Args {
    /// Weights: safetensors, PyTorch state dict, nnU-Net v1 `.model` or v2 `checkpoint_*.pth`.
    #[arg(long)]
    weights: PathBuf,
    /// Preset S, B, M or L (with --kernel, --in-channels, --classes).
    #[arg(long, conflicts_with = "config", value_parser = parse_preset)]
    preset: Option<Preset>,
    /// Depthwise kernel size of the preset.
    #[arg(long, default_value_t = 3)]
    kernel: usize,
    /// Input channels of the preset.
    #[arg(long, default_value_t = 1)]
    in_channels: usize,
    /// Classes of the preset.
    #[arg(long, default_value_t = 2)]
    classes: usize,
    /// Build the preset with the deep-supervision heads and return all five outputs.
    #[arg(long)]
    deep_supervision: bool,
    /// A JSON configuration (the original constructor's keyword arguments) instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Input safetensors file with a tensor named `input`.
    #[arg(long)]
    input: PathBuf,
    /// Output safetensors file (`out_0` … `out_4`).
    #[arg(long)]
    output: PathBuf,
}

fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
    s.parse().map_err(|e: mednext::Error| e.to_string())
}

fn main() -> Result<()> {
    // Large tensors are reused instead of being mapped fresh from the kernel each time (mednext docs).
    mednext::retain_freed_memory();
    let args = Args::parse();
    let cfg = match (&args.config, args.preset) {
        (Some(path), _) => MedNextConfig::from_json_file(path)?,
        (None, Some(p)) => MedNextConfig::preset(p, args.in_channels, args.classes, args.kernel)
            .with_deep_supervision(args.deep_supervision),
        (None, None) => bail!("give either --preset or --config"),
    };
    cfg.check()?;
    let device = Device::Cpu;
    let model = match MedNext::from_file(&cfg, &args.weights, &device) {
        Err(mednext::Error::UnexpectedTensor { key, .. })
            if key.starts_with("out_") && !cfg.deep_supervision =>
        {
            bail!(
                "{}: holds the deep-supervision head `{key}`; pass --deep-supervision (or \"deep_supervision\": true)",
                args.weights.display()
            )
        }
        other => other.with_context(|| format!("loading {}", args.weights.display()))?,
    };
    let inputs = candle_core::safetensors::load(&args.input, &device)
        .with_context(|| format!("reading {}", args.input.display()))?;
    let x = inputs
        .get("input")
        .with_context(|| format!("{}: no tensor named `input`", args.input.display()))?
        .to_dtype(DType::F32)?;
    let start = Instant::now();
    let outs = model.forward(&x)?;
    eprintln!(
        "forward {:?} -> {} output(s) in {:.2} s ({} parameters)",
        x.dims(),
        outs.len(),
        start.elapsed().as_secs_f64(),
        model.parameter_count()
    );
    let named: NamedTensors = outs
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("out_{i}"), t))
        .collect();
    upkern::write_safetensors(&args.output, &named)
        .with_context(|| format!("writing {}", args.output.display()))?;
    Ok(())
}
