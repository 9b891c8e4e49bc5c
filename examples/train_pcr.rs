//! Trains the pCR classifier of Musah (MAMA-MIA 2025): feature selection (standardise → |r| filter →
//! sequential forward selection with a logistic regression, 5-fold balanced accuracy), a self-normalising
//! network, out-of-fold temperature scaling and decision threshold, then a final model on all cases saved
//! as one bundle (`snn::ModelBundle`).
//!
//! ```text
//! train_pcr --features features.csv --clinical clinical_and_imaging_info.xlsx [--select 40] [--corr 0.9]
//!           [--hidden 64,128,128] [--epochs 300] [--folds 5] [--seed 0] [--pos-weight none|balanced]
//!           [--clinical-covariates] --out <model dir>
//! ```
//!
//! `features.csv` is what `examples/extract_features.rs` writes (`case_id,<PyRadiomics feature names…>`).
//! Cases without a pCR label (or absent from the clinical table) are skipped and counted. Reports (on the
//! out-of-fold predictions): balanced accuracy, ROC AUC, ECE before/after temperature scaling, per-subgroup
//! balanced accuracy with the Task 2 fairness score, and `<out>/reliability_oof.png` (blue: σ(z), orange:
//! σ(z/T)). With `--clinical-covariates`, age, menopausal status, tumour subtype, HR and HER2 are appended
//! after the selection; the out-of-fold metrics are then reported with and without them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use clap::Parser;
use dce_pipeline::nnunet_preproc::mamamia::{
    ClinicalRecord, ClinicalTable, MenopauseGroup, MenopauseRule,
};
use medmetrics::{AgeGroup, BreastDensity, Subgroups};
use ndarray::{Array2, Axis};
use snn::{
    fit_temperature, pcr_report, predict_logits, select_features, select_threshold,
    stratified_kfold, train, write_reliability_png, FeatureTable, LogisticRegression, ModelBundle,
    PipelineConfig, PosWeight, SfsConfig, Shuffle, SnnConfig, Standardizer, TrainConfig,
    BUNDLE_FORMAT_VERSION,
};

#[derive(Debug, Parser)]
#[command(
    about = "Train the pCR self-normalising network (feature selection, calibration, model bundle)"
)]
struct Args {
    /// Radiomics CSV (`case_id,<features…>`).
    #[arg(long)]
    features: PathBuf,
    /// `clinical_and_imaging_info.xlsx` or a CSV export of it.
    #[arg(long)]
    clinical: PathBuf,
    /// Number of features to select.
    #[arg(long, default_value_t = 40)]
    select: usize,
    /// Correlation threshold (|Pearson r| above it to an earlier feature drops a feature).
    #[arg(long, default_value_t = 0.9)]
    corr: f64,
    /// Hidden widths, comma separated.
    #[arg(long, default_value = "64,128,128", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// Training epochs.
    #[arg(long, default_value_t = 300)]
    epochs: usize,
    /// Cross-validation folds (selection and out-of-fold calibration).
    #[arg(long, default_value_t = 5)]
    folds: usize,
    /// Seed of folds, initialisation, shuffling and dropout.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Positive-class weight of the loss.
    #[arg(long, default_value = "none")]
    pos_weight: String,
    /// Append clinical covariates (age, menopause, subtype, HR, HER2) after the selection.
    #[arg(long)]
    clinical_covariates: bool,
    /// Output folder of the model bundle.
    #[arg(long)]
    out: PathBuf,
}

fn read_clinical(path: &PathBuf) -> Result<ClinicalTable> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(if ext == "csv" {
        ClinicalTable::from_csv(path)?
    } else {
        ClinicalTable::from_xlsx(path)?
    })
}

/// The challenge's subgroup labels of one patient (Task 2 menopause rule).
fn subgroups(r: &ClinicalRecord) -> Subgroups {
    Subgroups {
        age: r
            .age
            .and_then(|a| AgeGroup::from_age(a).ok())
            .map(|g| g.label().to_string()),
        menopausal_status: Some(r.menopause_group(MenopauseRule::Task2).as_str().to_string()),
        breast_density: r
            .breast_density
            .as_deref()
            .and_then(|d| BreastDensity::parse(d).ok())
            .map(|d| d.label().to_string()),
    }
}

/// Covariate columns: age (missing → `age_fill`), post-menopausal (1/0, unknown 0.5), subtype one-hot
/// (luminal*, her2*, triple_negative), HR and HER2 (missing 0.5).
const COVARIATES: [&str; 7] = [
    "clinical:age",
    "clinical:postmenopausal",
    "clinical:subtype_luminal",
    "clinical:subtype_her2",
    "clinical:subtype_triple_negative",
    "clinical:hr",
    "clinical:her2",
];

fn covariates(r: &ClinicalRecord, age_fill: f64) -> [f64; 7] {
    let st = r
        .tumor_subtype
        .as_deref()
        .unwrap_or("")
        .to_ascii_lowercase();
    let meno = match r.menopause_group(MenopauseRule::Task2) {
        MenopauseGroup::Post => 1.0,
        MenopauseGroup::Pre => 0.0,
        _ => 0.5,
    };
    let bin = |v: Option<u8>| v.map_or(0.5, f64::from);
    [
        r.age.unwrap_or(age_fill),
        meno,
        f64::from(u8::from(st.starts_with("luminal"))),
        f64::from(u8::from(st.starts_with("her2"))),
        f64::from(u8::from(st == "triple_negative")),
        bin(r.hr),
        bin(r.her2),
    ]
}

/// Out-of-fold logits of the SNN (standardiser fit on each training fold).
fn oof_logits(
    x: &Array2<f64>,
    y: &[u8],
    arch: &SnnConfig,
    cfg: &TrainConfig,
    folds: usize,
) -> Result<Vec<f64>> {
    let mut z = vec![0.0; y.len()];
    for (k, f) in stratified_kfold(y, folds, Shuffle::Seeded(cfg.seed))?
        .iter()
        .enumerate()
    {
        let xtr = x.select(Axis(0), &f.train);
        let ytr: Vec<u8> = f.train.iter().map(|&i| y[i]).collect();
        let s = Standardizer::fit(xtr.view())?;
        let fold_cfg = TrainConfig {
            seed: cfg.seed.wrapping_add(100 * (k as u64 + 1)),
            ..cfg.clone()
        };
        let t = train(
            s.transform(xtr.view())?.view(),
            &ytr,
            arch,
            &fold_cfg,
            &Device::Cpu,
        )?;
        let zt = predict_logits(
            &t.model,
            s.transform(x.select(Axis(0), &f.test).view())?.view(),
            &Device::Cpu,
        )?;
        for (&i, v) in f.test.iter().zip(zt) {
            z[i] = v;
        }
        eprintln!(
            "  fold {}/{folds} done ({} epochs)",
            k + 1,
            t.history.train_loss.len()
        );
    }
    Ok(z)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let table = FeatureTable::from_csv(&args.features)?;
    let clinical = read_clinical(&args.clinical)?;
    let (mut rows, mut y, mut records) = (Vec::new(), Vec::new(), Vec::new());
    let (mut no_label, mut not_in_table) = (0, 0);
    for (i, id) in table.ids.iter().enumerate() {
        match clinical.get(id) {
            None => not_in_table += 1,
            Some(r) => match r.pcr {
                None => no_label += 1,
                Some(p) => {
                    rows.push(i);
                    y.push(p);
                    records.push(r.clone());
                }
            },
        }
    }
    eprintln!(
        "{} cases with a pCR label ({} positive); skipped {no_label} without a label, {not_in_table} not in {}",
        y.len(),
        y.iter().filter(|&&v| v == 1).count(),
        args.clinical.display()
    );
    if y.is_empty() {
        bail!("no labelled case");
    }
    let table = table.select_rows(&rows);
    table
        .check_finite()
        .context("NaN/Inf features are rejected; drop or fix those cases")?;

    // 1. Feature selection (the network is not involved).
    let pipeline = PipelineConfig {
        correlation_threshold: args.corr,
        sfs: SfsConfig {
            n_features: args.select,
            ..SfsConfig::default()
        },
        ..PipelineConfig::default()
    };
    let sel = select_features(&table, &y, &LogisticRegression::default(), &pipeline)?;
    eprintln!(
        "{} features -> {} after |r| > {} -> {} selected (5-fold balanced accuracy of the logistic regression {:.4})",
        table.names.len(),
        sel.after_correlation.len(),
        args.corr,
        sel.selected.len(),
        sel.step_scores.last().copied().unwrap_or(f64::NAN)
    );
    let radiomics = table.select(&sel.selected)?;
    let mut names = sel.selected.clone();
    let mut x = radiomics.values.clone();
    let subgroups: Vec<Subgroups> = records.iter().map(subgroups).collect();

    // 2. Out-of-fold logits → temperature and threshold.
    let pos_weight = match args.pos_weight.as_str() {
        "none" => PosWeight::None,
        "balanced" => PosWeight::Balanced,
        other => bail!("--pos-weight {other}: expected none or balanced"),
    };
    let cfg = TrainConfig {
        epochs: args.epochs,
        seed: args.seed,
        pos_weight,
        ..TrainConfig::default()
    };
    let arch = |d: usize| SnnConfig {
        hidden: args.hidden.clone(),
        ..SnnConfig::seed_code(d)
    };
    let mut covariate_names = Vec::new();
    if args.clinical_covariates {
        eprintln!("out-of-fold run without clinical covariates:");
        let z0 = oof_logits(&x, &y, &arch(x.ncols()), &cfg, args.folds)?;
        let t0 = fit_temperature(&z0, &y)?;
        let th0 = select_threshold(&snn::apply_temperature(&z0, t0), &y)?;
        println!(
            "== out-of-fold, radiomics only ==\n{}",
            pcr_report(&y, &z0, t0, th0.threshold, Some(&subgroups))?
        );
        let ages: Vec<f64> = records.iter().filter_map(|r| r.age).collect();
        let age_fill = if ages.is_empty() {
            50.0
        } else {
            ages.iter().sum::<f64>() / ages.len() as f64
        };
        let cov = Array2::from_shape_fn((records.len(), COVARIATES.len()), |(i, j)| {
            covariates(&records[i], age_fill)[j]
        });
        x = ndarray::concatenate![Axis(1), x, cov];
        covariate_names = COVARIATES.iter().map(|s| (*s).to_string()).collect();
        names.extend(covariate_names.clone());
    }
    let z = oof_logits(&x, &y, &arch(x.ncols()), &cfg, args.folds)?;
    let temperature = fit_temperature(&z, &y)?;
    let th = select_threshold(&snn::apply_temperature(&z, temperature), &y)?;
    let report = pcr_report(&y, &z, temperature, th.threshold, Some(&subgroups))?;
    let label = if args.clinical_covariates {
        "radiomics + clinical covariates"
    } else {
        "radiomics"
    };
    println!(
        "== out-of-fold, {label} (T = {temperature:.4}, threshold {:.4}) ==\n{report}",
        th.threshold
    );
    std::fs::create_dir_all(&args.out)?;
    let curves = [
        medmetrics::reliability_curve(&y, &snn::apply_temperature(&z, 1.0), snn::ECE_BINS)?,
        medmetrics::reliability_curve(&y, &snn::apply_temperature(&z, temperature), snn::ECE_BINS)?,
    ];
    let png = args.out.join("reliability_oof.png");
    write_reliability_png(&png, &[&curves[0], &curves[1]])?;
    eprintln!(
        "reliability diagram (blue: before, orange: after temperature scaling): {}",
        png.display()
    );

    // 3. Final model on all cases.
    let scaler = Standardizer::fit(x.view())?;
    let final_arch = arch(x.ncols());
    let trained = train(
        scaler.transform(x.view())?.view(),
        &y,
        &final_arch,
        &cfg,
        &Device::Cpu,
    )?;
    let bundle = ModelBundle {
        format_version: BUNDLE_FORMAT_VERSION,
        architecture: final_arch,
        feature_names: names,
        scaler,
        temperature,
        threshold: th.threshold,
        clinical_covariates: covariate_names,
        training_summary: serde_json::json!({
            "cases": y.len(), "skipped_no_label": no_label, "skipped_not_in_clinical": not_in_table,
            "features_in": table.names.len(), "after_correlation": sel.after_correlation.len(),
            "correlation_threshold": args.corr, "selection_scores": sel.step_scores,
            "train_config": cfg, "oof": {
                "balanced_accuracy": report.balanced_accuracy, "auc": report.auc,
                "ece_before": report.ece_uncalibrated, "ece_after": report.ece_calibrated,
                "task2_ranking": report.task2.as_ref().map(|t| t.ranking),
                "task2_fairness": report.task2.as_ref().map(|t| t.fairness),
            }
        }),
    };
    bundle.save(&args.out, &trained.varmap)?;
    eprintln!("model bundle written to {}", args.out.display());
    Ok(())
}
