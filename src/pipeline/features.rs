//! Stage 5: PyRadiomics default features (`radiomics::extract` with `Settings::default()`: original image,
//! bin width 25, label 1) of the first post-contrast phase (`_0001`). Training cases use their expert masks
//! (what the classifier learns from); test cases use the PREDICTED masks of stage 4 (what the challenge
//! sees). Writes `features_train.csv` and `features_test.csv` (`case_id,<feature names>`), and
//! `failures.json` (e.g. an empty predicted mask).
//!
//! Reference: toufiqmusah/caladan-mama-mia `pcr-classification/pcr_classifier.py` (extractor defaults,
//! image `*_0001.nii.gz`).

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use mednext::infer::mask_path;
use radiomics::{extract, Settings};
use rayon::prelude::*;
use serde_json::json;

use super::context::Context;
use super::data::{CaseFailure, Inventory};
use super::files::{write_json_atomically, write_text_atomically};
use super::stage::Stage;

/// Feature name → value, in PyRadiomics' order.
type NamedValues = Vec<(String, f64)>;
use crate::cohort::Split;

/// Training features file.
pub const TRAIN_CSV: &str = "features_train.csv";
/// Test features file.
pub const TEST_CSV: &str = "features_test.csv";

/// Settings of stage 5.
pub fn settings(_ctx: &Context) -> serde_json::Value {
    json!({ "phase": 1, "settings": "pyradiomics defaults", "train_masks": "expert", "test_masks": "predicted" })
}

fn features_of(image: &Path, mask: &Path) -> Result<Vec<(String, f64)>> {
    let img = nnunet_preproc::read_volume(image)
        .with_context(|| format!("reading {}", image.display()))?;
    let (m, mg) = nnunet_preproc::read_label_map(mask)
        .with_context(|| format!("reading {}", mask.display()))?;
    if m.shape() != img.data.shape() {
        bail!(
            "mask grid {:?} differs from the image's {:?}",
            m.shape(),
            img.data.shape()
        );
    }
    if !m.iter().any(|&v| v == 1) {
        bail!("empty mask {}", mask.display());
    }
    let _ = mg;
    let f = extract(
        img.data.view(),
        m.view(),
        img.geometry.spacing,
        &Settings::default(),
    )?;
    Ok(f.iter().map(|(n, v)| (n.to_string(), v)).collect())
}

fn table(rows: &[(String, Vec<(String, f64)>)]) -> String {
    let Some((_, first)) = rows.first() else {
        return "case_id\n".into();
    };
    let mut text = format!(
        "case_id,{}\n",
        first
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(",")
    );
    for (id, f) in rows {
        let vals: Vec<String> = f
            .iter()
            .map(|(_, v)| {
                if v.is_nan() {
                    "nan".into()
                } else {
                    format!("{v:?}")
                }
            })
            .collect();
        text.push_str(&format!("{id},{}\n", vals.join(",")));
    }
    text
}

/// Runs stage 5 into `dir`.
///
/// # Errors
/// No training case has features, or a failed write.
pub fn run(ctx: &Context, inv: &Inventory, dir: &Path) -> Result<()> {
    let pred_dir = ctx.stage_dir(Stage::Inference);
    let jobs: Vec<(Split, String, PathBuf, PathBuf)> = inv
        .cases
        .iter()
        .map(|c| {
            let mask = match c.split {
                Split::Train => c.mask.clone(),
                Split::Test => mask_path(&pred_dir, &c.id),
            };
            (c.split, c.id.clone(), c.phases[1].clone(), mask)
        })
        .collect();
    let bar = ctx.progress(jobs.len() as u64, "radiomics");
    let results: Vec<(Split, String, Result<NamedValues>)> = jobs
        .par_iter()
        .map(|(s, id, image, mask)| {
            let r = features_of(image, mask);
            bar.inc(1);
            (*s, id.clone(), r)
        })
        .collect();
    bar.finish_and_clear();
    let mut failures = Vec::new();
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (split, id, r) in results {
        match r {
            Ok(f) => match split {
                Split::Train => train.push((id, f)),
                Split::Test => test.push((id, f)),
            },
            Err(e) => failures.push(CaseFailure {
                patient_id: id,
                stage: "radiomics".into(),
                reason: format!("{e:#}"),
            }),
        }
    }
    if train.is_empty() {
        bail!("no training case has radiomic features");
    }
    ctx.log(&format!(
        "{} features of {} training and {} test cases ({} failed)",
        train[0].1.len(),
        train.len(),
        test.len(),
        failures.len()
    ));
    write_text_atomically(&dir.join(TRAIN_CSV), &table(&train))?;
    write_text_atomically(&dir.join(TEST_CSV), &table(&test))?;
    write_json_atomically(&dir.join("failures.json"), &failures)
}
