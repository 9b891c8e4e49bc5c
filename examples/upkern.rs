//! UpKern from the command line: initialise a large-kernel MedNeXt from a trained small-kernel checkpoint.
//!
//! ```text
//! upkern --from k3.(safetensors|pth|model) \
//!     (--preset M [--in-channels 3 --classes 2 --deep-supervision] | --config cfg.json) --kernel 5 \
//!     --out k5.safetensors
//! ```
//!
//! The target shapes are those of the MedNeXt configuration of the *target* model (`--preset` with
//! `--kernel`, or `--config` — the original constructor's keyword arguments — whose `kernel_size` is
//! replaced by `--kernel` when given), listed by `mednext::state_dict_shapes`. Every tensor whose spatial
//! kernel dims differ (the depthwise `conv1.weight` of every block, down and up block) is resized
//! trilinearly like PyTorch `F.interpolate(..., mode='trilinear', align_corners=False)`; everything else is
//! copied bit-exactly. MONAI-named sources are renamed to the original keys first. The output uses the
//! original key names. Reference: MIC-DKFZ/MedNeXt `nnunet_mednext/run/load_weights.py::upkern_load_weights`;
//! Roy et al., MedNeXt, MICCAI 2023 (UpKern).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use mednext::{KeyNaming, MedNextConfig, Preset};

#[derive(Debug, Parser)]
#[command(about = "UpKern: resample the kernels of a trained MedNeXt to a larger kernel size")]
struct Args {
    /// Trained source weights: safetensors, PyTorch state dict, nnU-Net v1 `.model` or v2 `checkpoint_*.pth`.
    #[arg(long)]
    from: PathBuf,
    /// Target preset S, B, M or L (with --kernel, --in-channels, --classes, --deep-supervision).
    #[arg(long, conflicts_with = "config", value_parser = parse_preset)]
    preset: Option<Preset>,
    /// Target configuration JSON (the original constructor's keyword arguments) instead of a preset.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Target depthwise kernel size (required with --preset; overrides `kernel_size` of --config).
    #[arg(long)]
    kernel: Option<usize>,
    /// Input channels of the preset.
    #[arg(long, default_value_t = 1)]
    in_channels: usize,
    /// Classes of the preset.
    #[arg(long, default_value_t = 2)]
    classes: usize,
    /// Target preset with the deep-supervision heads (as the nnU-Net trainers build it).
    #[arg(long)]
    deep_supervision: bool,
    /// Output safetensors file (original key names).
    #[arg(long)]
    out: PathBuf,
}

fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
    s.parse().map_err(|e: mednext::Error| e.to_string())
}

fn target_config(args: &Args) -> Result<MedNextConfig> {
    let mut cfg = match (&args.config, args.preset) {
        (Some(path), _) => MedNextConfig::from_json_file(path)
            .with_context(|| format!("reading {}", path.display()))?,
        (None, Some(p)) => {
            let Some(k) = args.kernel else {
                bail!("--preset needs --kernel");
            };
            MedNextConfig::preset(p, args.in_channels, args.classes, k)
                .with_deep_supervision(args.deep_supervision)
        }
        (None, None) => bail!("give either --preset or --config"),
    };
    if let (Some(_), Some(k)) = (&args.config, args.kernel) {
        cfg.kernel_size = Some(k);
    }
    cfg.check()?;
    Ok(cfg)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let cfg = target_config(&args)?;
    let (source, format) = upkern::read_checkpoint_with_format(&args.from)
        .with_context(|| format!("reading {}", args.from.display()))?;
    let source = match KeyNaming::detect(&source) {
        KeyNaming::Monai => mednext::monai_to_original(source)?,
        _ => source,
    };
    let target: BTreeMap<String, Vec<usize>> =
        mednext::state_dict_shapes(&cfg)?.into_iter().collect();
    let (weights, report) = upkern::upkern(&source, &target).with_context(|| {
        format!(
            "{} does not fit the target configuration (kernel {:?}, {} tensors)",
            args.from.display(),
            cfg.kernel_size,
            target.len()
        )
    })?;
    upkern::write_safetensors(&args.out, &weights)
        .with_context(|| format!("writing {}", args.out.display()))?;
    println!(
        "source: {} ({format}, {} tensors)",
        args.from.display(),
        source.len()
    );
    print!("{report}");
    println!("wrote {}", args.out.display());
    Ok(())
}
