//! Tumour segmentation with MedNeXt (one network or an ensemble) in the MAMA-MIA Task 1 format.
//!
//! ```text
//! predict --model <run dir | run/fold_k | weights file> [--model …] [--config cfg.json | --preset M --kernel 5]
//!         [--plans plans.json] [--checkpoint final-else-best|final|best|latest]
//!         (--data <MAMA-MIA root> [--split test|train|all] [--cases id,…] [--phases 0,1,2]
//!          | --image a.nii.gz --image b.nii.gz … --id NAME [--patient-json NAME.json])
//!         [--tta] [--breast-box] [--largest-component] [--probabilities] [--step 0.5] [--device cpu|cuda]
//!         --out-dir <dir>
//! ```
//!
//! Writes `<out-dir>/pred_segmentations/<patient_id>.nii.gz` (binary u8, the original grid and affine; the id
//! lower-case in dataset mode, as the challenge harness hands it out) and, with `--probabilities`,
//! `<out-dir>/probabilities/<patient_id>_class<k>.nii.gz` (float32). Every file is written atomically; a case
//! whose mask exists is skipped (resume); a failing case is recorded in `<out-dir>/failures.json` and the
//! others go on (the exit status is then 1). Preprocessing follows the run's `plans.json` (nnU-Net v1 or v2).
//!
//! References: nnU-Net v2 `nnUNetv2_predict` (`predict_from_raw_data.py`), nnU-Net v1 `nnUNet_predict`; the
//! MAMA-MIA sample submission (`predict_segmentation`, `apply_breast_mask`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::{Parser, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use mednext::infer::{
    self, load_model, predict_case, read_model_config, resolve_models, CheckpointChoice,
    EnsemblePredictor, InferenceConfig, Predictor, Probabilities, Tta,
};
use mednext::{MedNextConfig, Preset};
use nnunet_preproc::{
    load_case, write_json_atomically, BreastBox, BreastBoxMasking, CaseFiles, Connectivity,
    MamaMia, PatientInfo, Plans, PostprocessConfig, SegmentationRequirement,
};

#[derive(Debug, Parser)]
#[command(about = "MedNeXt segmentation of raw DCE-MRI cases into pred_segmentations/<id>.nii.gz")]
struct Args {
    /// A run directory (all folds), one fold folder, or a weights file; repeat for an ensemble.
    #[arg(long, required = true)]
    model: Vec<PathBuf>,
    /// Network configuration for bare weights files (or to override the runs' config.json).
    #[arg(long, conflicts_with = "preset")]
    config: Option<PathBuf>,
    /// Preset S, B, M or L for bare weights files (input channels from the plan).
    #[arg(long, value_parser = parse_preset)]
    preset: Option<Preset>,
    /// Kernel size of the preset.
    #[arg(long, default_value_t = 5)]
    kernel: usize,
    /// Classes of the preset.
    #[arg(long, default_value_t = 2)]
    classes: usize,
    /// Preprocessing plan (default: the runs' plans.json).
    #[arg(long)]
    plans: Option<PathBuf>,
    /// Which checkpoint of each fold.
    #[arg(long, value_enum, default_value_t = Choice::FinalElseBest)]
    checkpoint: Choice,
    /// MAMA-MIA root (dataset mode).
    #[arg(long, conflicts_with = "image")]
    data: Option<PathBuf>,
    /// Split of train_test_splits.csv to predict (dataset mode; ignored with --cases).
    #[arg(long, value_enum, default_value_t = Split::All)]
    split: Split,
    /// Case ids to predict (dataset mode).
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Phases used as channels (dataset mode; default 0..C with C the plan's channel count).
    #[arg(long, value_delimiter = ',')]
    phases: Vec<usize>,
    /// One channel image of a single case, in channel order (repeat).
    #[arg(long)]
    image: Vec<PathBuf>,
    /// Patient id of the single case (output file name).
    #[arg(long, requires = "image")]
    id: Option<String>,
    /// Patient JSON of the single case (for --breast-box).
    #[arg(long, requires = "image")]
    patient_json: Option<PathBuf>,
    /// Mirroring test-time augmentation (8 passes per tile).
    #[arg(long)]
    tta: bool,
    /// Zero the mask outside the breast box of the patient JSON.
    #[arg(long)]
    breast_box: bool,
    /// Keep the largest 26-connected component.
    #[arg(long)]
    largest_component: bool,
    /// Also write the class probabilities (float32 NIfTI, one per class).
    #[arg(long)]
    probabilities: bool,
    /// Tile step as a fraction of the patch.
    #[arg(long, default_value_t = 0.5)]
    step: f64,
    /// Device of the networks.
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    device: DeviceArg,
    /// Output folder.
    #[arg(long)]
    out_dir: PathBuf,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Choice {
    FinalElseBest,
    Final,
    Best,
    Latest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Split {
    Test,
    Train,
    All,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum DeviceArg {
    Cpu,
    Cuda,
}

fn parse_preset(s: &str) -> std::result::Result<Preset, String> {
    s.parse().map_err(|e: mednext::Error| e.to_string())
}

/// One case to predict: its output id, its files and where its breast box comes from.
struct Job {
    id: String,
    files: std::result::Result<CaseFiles, String>,
    patient_json: Option<BoxSource>,
}

enum BoxSource {
    Dataset(String),
    File(PathBuf),
}

/// The plan: `--plans`, else the `plans.json` of the first run found next to a `--model` path.
fn find_plans(args: &Args) -> Result<PathBuf> {
    if let Some(p) = &args.plans {
        return Ok(p.clone());
    }
    for m in &args.model {
        let candidates = [
            Some(m.as_path()),
            m.parent(),
            m.parent().and_then(Path::parent),
        ];
        for dir in candidates.into_iter().flatten() {
            let p = dir.join(infer::RUN_PLANS_FILE);
            if dir.is_dir() && p.is_file() {
                return Ok(p);
            }
        }
    }
    bail!("no plans.json next to any --model; give --plans")
}

fn load_ensemble(args: &Args, plans: &Plans, plans_path: &Path) -> Result<EnsemblePredictor> {
    let device = match args.device {
        DeviceArg::Cpu => Device::Cpu,
        DeviceArg::Cuda => {
            Device::new_cuda(0).context("--device cuda (build with --features cuda)")?
        }
    };
    let override_cfg: Option<MedNextConfig> = match (&args.config, args.preset) {
        (Some(p), _) => Some(read_model_config(p)?),
        (None, Some(preset)) => Some(MedNextConfig::preset(
            preset,
            plans.channel_names.len(),
            args.classes,
            args.kernel,
        )),
        (None, None) => None,
    };
    let choice = match args.checkpoint {
        Choice::FinalElseBest => CheckpointChoice::FinalElseBest,
        Choice::Final => CheckpointChoice::Final,
        Choice::Best => CheckpointChoice::Best,
        Choice::Latest => CheckpointChoice::Latest,
    };
    let mut members = Vec::new();
    for m in &args.model {
        for spec in resolve_models(m, choice, override_cfg.as_ref())? {
            if let Some(p) = spec.plans.as_ref().filter(|p| p.as_path() != plans_path) {
                if &Plans::load(p)? != plans {
                    bail!(
                        "{}: another plan than {}; an ensemble needs one preprocessing",
                        p.display(),
                        plans_path.display()
                    );
                }
            }
            let model = load_model(&spec, &device)?;
            eprintln!(
                "model {} ({} parameters)",
                spec.weights.display(),
                model.parameter_count()
            );
            members.push(Predictor::new(model, device.clone()));
        }
    }
    let ens = EnsemblePredictor::new(members)?;
    infer::check_plan(&ens, plans)?;
    Ok(ens)
}

fn jobs(args: &Args, n_channels: usize) -> Result<(Vec<Job>, Option<MamaMia>)> {
    if let Some(root) = &args.data {
        let mm = MamaMia::open(root)?;
        let ids: Vec<String> = if !args.cases.is_empty() {
            args.cases.iter().map(|c| c.trim().to_uppercase()).collect()
        } else {
            match args.split {
                Split::All => mm.case_ids().to_vec(),
                Split::Test => mm.splits()?.test,
                Split::Train => mm.splits()?.train,
            }
        };
        let phases: Vec<usize> = if args.phases.is_empty() {
            (0..n_channels).collect()
        } else {
            args.phases.clone()
        };
        let jobs = ids
            .into_iter()
            .map(|id| Job {
                files: mm.case_files(&id, &phases).map_err(|e| e.to_string()),
                patient_json: Some(BoxSource::Dataset(id.clone())),
                id: id.to_lowercase(),
            })
            .collect();
        return Ok((jobs, Some(mm)));
    }
    if args.image.is_empty() {
        bail!("give --data <MAMA-MIA root> or --image … --id NAME");
    }
    let id = args.id.clone().context("--image needs --id NAME")?;
    let files = CaseFiles {
        id: id.clone(),
        channels: args.image.clone(),
        segmentation: None,
    };
    let job = Job {
        id,
        files: Ok(files),
        patient_json: args.patient_json.clone().map(BoxSource::File),
    };
    Ok((vec![job], None))
}

fn breast_box(job: &Job, mm: Option<&MamaMia>) -> Result<BreastBox> {
    let info = match (&job.patient_json, mm) {
        (Some(BoxSource::Dataset(id)), Some(mm)) => mm.patient_info(id)?,
        (Some(BoxSource::File(p)), _) => PatientInfo::from_json_file(p)?,
        _ => bail!(
            "case {}: --breast-box needs a patient JSON (--patient-json)",
            job.id
        ),
    };
    info.breast_box.with_context(|| {
        format!(
            "case {}: the patient JSON has no primary_lesion.breast_coordinates",
            job.id
        )
    })
}

fn run_job(
    job: &Job,
    mm: Option<&MamaMia>,
    ens: &EnsemblePredictor,
    plans: &Plans,
    args: &Args,
    cfg: &InferenceConfig,
) -> Result<String> {
    let files = job.files.as_ref().map_err(|e| anyhow::anyhow!("{e}"))?;
    let case = load_case(files, SegmentationRequirement::Ignore)?;
    let bb = if args.breast_box {
        Some(breast_box(job, mm)?)
    } else {
        None
    };
    let pred = predict_case(ens, plans, &case, bb.as_ref(), cfg)?;
    infer::write_case_prediction(&args.out_dir, &job.id, &pred)?;
    let st = &pred.stats;
    Ok(format!(
        "preprocessed {:?}, {} tiles x {} passes x {} model(s) = {} forwards; preprocess {:.1} s, \
         sliding window {:.1} s ({:.2} s per forward), export {:.1} s",
        st.preprocessed_shape,
        st.tiles,
        st.passes_per_tile,
        st.models,
        st.forward_passes(),
        st.preprocess_s,
        st.predict_s,
        st.predict_s / st.forward_passes().max(1) as f64,
        st.export_s
    ))
}

/// A line above the progress bar, or on stderr when the bar is hidden.
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() {
        eprintln!("{line}");
    } else {
        bar.println(line);
    }
}

fn main() -> Result<()> {
    // Large tensors are reused instead of being mapped fresh from the kernel each time (mednext docs).
    mednext::retain_freed_memory();
    let args = Args::parse();
    let plans_path = find_plans(&args)?;
    let plans = Plans::load(&plans_path)?;
    let ens = load_ensemble(&args, &plans, &plans_path)?;
    let cfg = InferenceConfig {
        tta: if args.tta { Tta::Mirror } else { Tta::Off },
        step: args.step,
        postprocess: PostprocessConfig {
            breast_box: if args.breast_box {
                BreastBoxMasking::Apply
            } else {
                BreastBoxMasking::Skip
            },
            largest_component: args.largest_component.then_some(Connectivity::Full),
        },
        probabilities: if args.probabilities {
            Probabilities::Keep
        } else {
            Probabilities::Skip
        },
    };
    let (jobs, mm) = jobs(&args, plans.channel_names.len())?;
    std::fs::create_dir_all(&args.out_dir)
        .with_context(|| format!("creating {}", args.out_dir.display()))?;
    let failures_path = args.out_dir.join("failures.json");
    let mut failures: BTreeMap<String, String> = match std::fs::read(&failures_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("reading {}", failures_path.display()))?,
        Err(_) => BTreeMap::new(),
    };
    let todo: Vec<&Job> = jobs
        .iter()
        .filter(|j| !infer::mask_path(&args.out_dir, &j.id).is_file())
        .collect();
    eprintln!(
        "{} case(s), {} already done, {} model(s), TTA {:?}, plan {:?} patch {:?}",
        jobs.len(),
        jobs.len() - todo.len(),
        ens.members().len(),
        cfg.tta,
        plans.flavour,
        plans.patch_size
    );
    let bar = if args.quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(todo.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template("predict [{elapsed_precise}] {wide_bar} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut done, mut failed) = (0usize, 0usize);
    for job in todo {
        bar.set_message(job.id.clone());
        let start = Instant::now();
        match run_job(job, mm.as_ref(), &ens, &plans, &args, &cfg) {
            Ok(summary) => {
                done += 1;
                failures.remove(&job.id);
                let secs = start.elapsed().as_secs_f64();
                say(&bar, format!("{}: {secs:.1} s ({summary})", job.id));
            }
            Err(e) => {
                failed += 1;
                say(&bar, format!("{}: FAILED: {e:#}", job.id));
                failures.insert(job.id.clone(), format!("{e:#}"));
            }
        }
        write_json_atomically(&failures_path, &failures)?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    eprintln!(
        "{done} predicted, {failed} failed, written to {}",
        args.out_dir.join(infer::PRED_SEGMENTATIONS_DIR).display()
    );
    if failed > 0 {
        std::process::exit(1);
    }
    Ok(())
}
