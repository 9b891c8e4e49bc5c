//! nnU-Net-exact preprocessing from the command line.
//!
//! ```text
//! # a whole MAMA-MIA download into a memory-mappable cache (default flavour v1, as MedNeXt trained)
//! preprocess --data <MAMA-MIA root> --out-dir <dir> [--channels 0,1,2] [--spacing 1,1,1] [--cases N] [--flavour v1|v2]
//! # one case (default flavour v2): channel_0000.nii.gz …, seg.nii.gz, properties.json, plans.json
//! preprocess --image a.nii.gz [--image b.nii.gz …] [--seg s.nii.gz] [--spacing 1,1,1] [--flavour v1|v2] --out-dir <dir>
//! # a built-in synthetic three-phase case, no data needed
//! preprocess --demo --out-dir <dir>
//! ```
//!
//! Spacing is given in NIfTI/ITK order `x,y,z` on the command line (as a user reads it from a header) and
//! converted to the library's array order `[z, y, x]`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Parser;
use dce_pipeline::demo_case::demo_case;
use ndarray::{Array3, Axis};
use nnunet_preproc::batch::{fingerprint_cases, preprocess_cases, BatchOptions};
use nnunet_preproc::{
    case_fingerprint, dataset_fingerprint_for, load_case, preprocess_case, write_json_atomically,
    write_mask, write_volume, CaseFiles, Flavour, MamaMia, Plans, PlansParams, PreprocessedCache,
    SegmentationRequirement, Spacing, TargetSpacing,
};

#[derive(Debug, Parser)]
#[command(about = "nnU-Net (v1/v2) exact preprocessing of a MAMA-MIA dataset or of one case")]
struct Args {
    /// MAMA-MIA root (dataset mode).
    #[arg(long, conflicts_with_all = ["image", "demo"])]
    data: Option<PathBuf>,
    /// One channel image (single-case mode); repeat for several channels, in channel order.
    #[arg(long)]
    image: Vec<PathBuf>,
    /// Segmentation of the single case.
    #[arg(long, requires = "image")]
    seg: Option<PathBuf>,
    /// Preprocess a built-in synthetic three-phase case (single-case mode).
    #[arg(long, conflicts_with = "image")]
    demo: bool,
    /// Output folder.
    #[arg(long)]
    out_dir: PathBuf,
    /// Phases to use as channels in dataset mode (0 = pre-contrast, 1 = first post-contrast, …).
    #[arg(long, value_delimiter = ',', default_value = "0,1,2")]
    channels: Vec<usize>,
    /// Target spacing in mm, `x,y,z` (e.g. `1,1,1`). Dataset mode: nnU-Net's median rule when omitted;
    /// single-case mode: the case's own spacing when omitted.
    #[arg(long, value_delimiter = ',')]
    spacing: Option<Vec<f64>>,
    /// Only the first N cases (dataset mode).
    #[arg(long)]
    cases: Option<usize>,
    /// nnU-Net flavour: v1 (MedNeXt's; dataset-mode default) or v2 (single-case default).
    #[arg(long, value_parser = parse_flavour)]
    flavour: Option<Flavour>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

fn parse_flavour(s: &str) -> std::result::Result<Flavour, String> {
    match s.to_ascii_lowercase().as_str() {
        "v1" => Ok(Flavour::V1),
        "v2" => Ok(Flavour::V2),
        other => Err(format!("unknown flavour {other:?} (expected v1 or v2)")),
    }
}

/// `x,y,z` from the command line → array order `[z, y, x]`.
fn spacing_arg(s: &Option<Vec<f64>>) -> Result<Option<Spacing>> {
    match s.as_deref() {
        None => Ok(None),
        Some([x, y, z]) if [x, y, z].iter().all(|v| v.is_finite() && **v > 0.0) => {
            Ok(Some([*z, *y, *x]))
        }
        Some(other) => bail!("--spacing must be three positive numbers x,y,z, got {other:?}"),
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let spacing = spacing_arg(&args.spacing)?;
    if let Some(root) = &args.data {
        return run_dataset(root, &args, spacing);
    }
    let (images, seg) = if args.demo {
        write_demo_inputs(&args.out_dir.join("input"))?
    } else if !args.image.is_empty() {
        (args.image.clone(), args.seg.clone())
    } else {
        bail!("give --data <MAMA-MIA root>, --image <file> (repeatable) or --demo");
    };
    run_single(
        &images,
        seg,
        spacing,
        args.flavour.unwrap_or(Flavour::V2),
        &args.out_dir,
    )
}

fn write_demo_inputs(dir: &Path) -> Result<(Vec<PathBuf>, Option<PathBuf>)> {
    let case = demo_case(2025);
    let mut images = Vec::new();
    for (c, phase) in case.phases.axis_iter(Axis(0)).enumerate() {
        let path = dir.join(format!("demo_{c:04}.nii.gz"));
        write_volume(&path, phase, &case.geometry)?;
        images.push(path);
    }
    let seg = dir.join("demo_seg.nii.gz");
    write_mask(&seg, case.mask.view(), &case.geometry)?;
    println!("wrote the synthetic demo case to {}", dir.display());
    Ok((images, Some(seg)))
}

fn run_single(
    images: &[PathBuf],
    seg: Option<PathBuf>,
    spacing: Option<Spacing>,
    flavour: Flavour,
    out: &Path,
) -> Result<()> {
    let files = CaseFiles {
        id: images[0]
            .file_name()
            .map_or("case".into(), |n| n.to_string_lossy().into_owned()),
        channels: images.to_vec(),
        segmentation: seg,
    };
    let case = load_case(&files, SegmentationRequirement::Optional)?;
    for w in &case.warnings {
        eprintln!("warning: {w}");
    }
    // nnU-Net's planning rules applied to a one-case data set (masked normalisation iff the crop keeps < 75 %).
    let seg_view = case.segmentation.as_ref().map(|s| s.view());
    let fingerprint = case_fingerprint(case.data.view(), seg_view, case.geometry.spacing)?;
    let dataset = dataset_fingerprint_for(&[fingerprint], flavour)?;
    let names: Vec<String> = (0..case.data.len_of(Axis(0)))
        .map(|c| format!("channel_{c:04}"))
        .collect();
    let params = PlansParams::new()
        .flavour(flavour)
        .target_spacing(TargetSpacing::Fixed(
            spacing.unwrap_or(case.geometry.spacing),
        ));
    let plans = Plans::from_fingerprint(&dataset, &names, &params)?;
    let pre = preprocess_case(case.data.view(), seg_view, &case.geometry, &plans)?;

    // Back to the original axis order so the written files carry a correct affine.
    let tb = plans.transpose_backward;
    let props = &pre.properties;
    let lo: [usize; 3] = std::array::from_fn(|a| props.bbox_used_for_cropping[tb[a]][0]);
    let cropped: [usize; 3] = std::array::from_fn(|a| {
        let [l, h] = props.bbox_used_for_cropping[tb[a]];
        h - l
    });
    let new_shape: [usize; 3] = std::array::from_fn(|a| props.new_shape[tb[a]]);
    let geometry =
        case.geometry
            .cropped(lo)
            .resampled(cropped, new_shape, plans.spacing_untransposed());
    for (c, channel) in pre.data.axis_iter(Axis(0)).enumerate() {
        let path = out.join(format!("channel_{c:04}.nii.gz"));
        write_volume(&path, channel.permuted_axes(tb), &geometry)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let (Some(seg), true) = (&pre.seg, case.segmentation.is_some()) {
        // −1 (outside the nonzero region) is written as background 0; the crop box is in properties.json.
        let labels: Array3<u8> = seg.view().permuted_axes(tb).mapv(|l| l.clamp(0, 255) as u8);
        write_mask(out.join("seg.nii.gz"), labels.view(), &geometry)?;
    }
    write_json_atomically(&out.join("properties.json"), props)?;
    write_json_atomically(&out.join("plans.json"), &plans)?;
    let shape = pre.data.shape();
    println!(
        "{}: {:?} at {:?} mm -> {:?} at {:?} mm ({:?}); wrote {}",
        files.id,
        case.data.shape(),
        case.geometry.spacing,
        shape,
        plans.spacing_untransposed(),
        flavour,
        out.display()
    );
    Ok(())
}

fn run_dataset(root: &Path, args: &Args, spacing: Option<Spacing>) -> Result<()> {
    let flavour = args.flavour.unwrap_or(Flavour::V1);
    let dataset = MamaMia::open(root)?;
    for w in dataset.warnings() {
        eprintln!("warning: {w}");
    }
    let ids: Vec<&String> = dataset
        .case_ids()
        .iter()
        .take(args.cases.unwrap_or(usize::MAX))
        .collect();
    let cache = PreprocessedCache::create(&args.out_dir)?;
    let mut files = Vec::new();
    for id in ids {
        match dataset.case_files(id, &args.channels) {
            Ok(f) => files.push(f),
            Err(e) => {
                eprintln!("failed: {e}");
                cache.record_failure(id, &e.to_string())?;
            }
        }
    }
    let options = BatchOptions {
        segmentation: SegmentationRequirement::Optional,
        progress: !args.quiet,
    };
    let plans_path = args.out_dir.join("plans.json");
    let plans = if plans_path.is_file() {
        println!("reusing {} (delete it to re-plan)", plans_path.display());
        Plans::load(&plans_path)?
    } else {
        let (fingerprints, failed) = fingerprint_cases(&files, &options);
        for (id, message) in &failed {
            eprintln!("failed: {message}");
            cache.record_failure(id, message)?;
        }
        let fps: Vec<_> = fingerprints.into_iter().map(|(_, f)| f).collect();
        if fps.is_empty() {
            bail!("no readable case in {}", root.display());
        }
        let fingerprint = dataset_fingerprint_for(&fps, flavour)?;
        write_json_atomically(&args.out_dir.join("dataset_fingerprint.json"), &fingerprint)?;
        let names: Vec<String> = args
            .channels
            .iter()
            .map(|&p| {
                if p == 0 {
                    "pre".to_string()
                } else {
                    format!("post{p}")
                }
            })
            .collect();
        let target = spacing.map_or(TargetSpacing::Median, TargetSpacing::Fixed);
        let params = PlansParams::new().flavour(flavour).target_spacing(target);
        let plans = Plans::from_fingerprint(&fingerprint, &names, &params)?;
        plans.save(&plans_path)?;
        plans
    };
    let report = preprocess_cases(&files, &plans, &cache, &options)?;
    println!(
        "{} preprocessed, {} already done, {} failed (see {}/failures.json); target spacing {:?} mm",
        report.done.len(),
        report.skipped.len(),
        report.failed.len(),
        args.out_dir.display(),
        plans.spacing_untransposed()
    );
    for (id, message) in &report.failed {
        eprintln!("failed {id}: {message}");
    }
    Ok(())
}
