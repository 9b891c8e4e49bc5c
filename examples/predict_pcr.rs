//! Predicts pCR with a model bundle written by `train_pcr` and writes the MAMA-MIA Task 2 file
//! (`patient_id,pcr,score`; only `pcr` is scored).
//!
//! ```text
//! predict_pcr --model <model dir> --features features.csv --out predictions.csv [--clinical clinical.xlsx|csv]
//! ```
//!
//! With `--clinical` holding `pcr` labels for (some of) the cases, it also reports balanced accuracy, ROC AUC,
//! ECE before/after temperature scaling, per-subgroup balanced accuracy with the Task 2 fairness score, and
//! writes `<out stem>_reliability.png` (blue: σ(z), orange: σ(z/T)). Bundles trained with clinical
//! covariates need `--clinical` to build those columns.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::Parser;
use dce_pipeline::nnunet_preproc::mamamia::{ClinicalTable, MenopauseGroup, MenopauseRule};
use medmetrics::{AgeGroup, BreastDensity, Subgroups};
use ndarray::{Array2, Axis};
use snn::{apply_temperature, pcr_report, write_reliability_png, FeatureTable, ModelBundle};

#[derive(Debug, Parser)]
#[command(about = "Predict pCR with a trained self-normalising-network bundle")]
struct Args {
    /// Model bundle folder (`model.json` + `model.safetensors`).
    #[arg(long)]
    model: PathBuf,
    /// Radiomics CSV (`case_id,<features…>`).
    #[arg(long)]
    features: PathBuf,
    /// Output CSV `patient_id,pcr,score`.
    #[arg(long)]
    out: PathBuf,
    /// Optional clinical table (labels for evaluation, subgroups, clinical covariates).
    #[arg(long)]
    clinical: Option<PathBuf>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let device = Device::Cpu;
    let (bundle, net) = ModelBundle::load(&args.model, &device)?;
    let mut table = FeatureTable::from_csv(&args.features)?;
    let clinical = match &args.clinical {
        None => None,
        Some(p) if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) => {
            Some(ClinicalTable::from_csv(p)?)
        }
        Some(p) => Some(ClinicalTable::from_xlsx(p)?),
    };
    if !bundle.clinical_covariates.is_empty() {
        let Some(c) = &clinical else {
            bail!("this model uses clinical covariates: pass --clinical")
        };
        let fill = bundle.scaler.offsets[bundle
            .feature_names
            .iter()
            .position(|n| n == "clinical:age")
            .unwrap_or(0)];
        let cov = Array2::from_shape_fn((table.ids.len(), 7), |(i, j)| {
            let r = c.get(&table.ids[i]);
            let st = r
                .and_then(|r| r.tumor_subtype.clone())
                .unwrap_or_default()
                .to_ascii_lowercase();
            let bin = |v: Option<u8>| v.map_or(0.5, f64::from);
            match j {
                0 => r.and_then(|r| r.age).unwrap_or(fill),
                1 => match r.map(|r| r.menopause_group(MenopauseRule::Task2)) {
                    Some(MenopauseGroup::Post) => 1.0,
                    Some(MenopauseGroup::Pre) => 0.0,
                    _ => 0.5,
                },
                2 => f64::from(u8::from(st.starts_with("luminal"))),
                3 => f64::from(u8::from(st.starts_with("her2"))),
                4 => f64::from(u8::from(st == "triple_negative")),
                5 => bin(r.and_then(|r| r.hr)),
                _ => bin(r.and_then(|r| r.her2)),
            }
        });
        let names = [table.names.clone(), bundle.clinical_covariates.clone()].concat();
        let values = ndarray::concatenate![Axis(1), table.values, cov];
        table = FeatureTable::new(table.ids.clone(), names, values)?;
    }
    let pred = bundle
        .predict(&net, &table, &device)
        .with_context(|| format!("predicting {}", args.features.display()))?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(&args.out)?);
    writeln!(f, "patient_id,pcr,score")?;
    for i in 0..pred.ids.len() {
        writeln!(
            f,
            "{},{},{}",
            pred.ids[i], pred.labels[i], pred.probabilities[i]
        )?;
    }
    f.flush()?;
    eprintln!(
        "{} predictions ({} pCR at threshold {:.4}, T = {:.4}) written to {}",
        pred.ids.len(),
        pred.labels.iter().filter(|&&v| v == 1).count(),
        bundle.threshold,
        bundle.temperature,
        args.out.display()
    );

    // Evaluation where labels are known.
    let Some(c) = &clinical else { return Ok(()) };
    let (mut y, mut z, mut groups) = (Vec::new(), Vec::new(), Vec::new());
    for (i, id) in pred.ids.iter().enumerate() {
        if let Some(r) = c.get(id) {
            if let Some(p) = r.pcr {
                y.push(p);
                z.push(pred.logits[i]);
                groups.push(Subgroups {
                    age: r
                        .age
                        .and_then(|a| AgeGroup::from_age(a).ok())
                        .map(|g| g.label().to_string()),
                    menopausal_status: Some(
                        r.menopause_group(MenopauseRule::Task2).as_str().to_string(),
                    ),
                    breast_density: r
                        .breast_density
                        .as_deref()
                        .and_then(|d| BreastDensity::parse(d).ok())
                        .map(|d| d.label().to_string()),
                });
            }
        }
    }
    if y.iter().all(|&v| v == 1) || y.iter().all(|&v| v == 0) {
        eprintln!(
            "{} labelled cases, fewer than two classes: no evaluation",
            y.len()
        );
        return Ok(());
    }
    println!(
        "{}",
        pcr_report(&y, &z, bundle.temperature, bundle.threshold, Some(&groups))?
    );
    let curves = [
        medmetrics::reliability_curve(&y, &apply_temperature(&z, 1.0), snn::ECE_BINS)?,
        medmetrics::reliability_curve(
            &y,
            &apply_temperature(&z, bundle.temperature),
            snn::ECE_BINS,
        )?,
    ];
    let stem = args
        .out
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("predictions");
    let png = args.out.with_file_name(format!("{stem}_reliability.png"));
    write_reliability_png(&png, &[&curves[0], &curves[1]])?;
    eprintln!(
        "reliability diagram (blue: before, orange: after temperature scaling): {}",
        png.display()
    );
    Ok(())
}
