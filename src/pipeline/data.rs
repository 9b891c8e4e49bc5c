//! The data stage: generate the synthetic cohort (without `--data`), then check every case of the MAMA-MIA
//! root — phases 0, 1, 2, the expert mask, the clinical row — and record the usable cases with their split
//! (`inventory.json`) and the skipped ones with the reason (`failures.json`).

use std::path::{Path, PathBuf};

use anyhow::{Context as _, Result};
use nnunet_preproc::MamaMia;
use serde::{Deserialize, Serialize};

use super::context::Context;
use super::files::{read_json, write_json_atomically};
use super::stage::{Runner, Stage};
use crate::cohort::{generate_cohort, CohortConfig, Split};

/// The DCE phases the method uses as channels (pre-contrast, 1st and 2nd post-contrast).
pub const PHASES: [usize; 3] = [0, 1, 2];

/// A case that was skipped and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseFailure {
    /// Case id.
    pub patient_id: String,
    /// The stage that skipped it.
    pub stage: String,
    /// What is wrong.
    pub reason: String,
}

/// A usable case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InventoryCase {
    /// Upper-case id.
    pub id: String,
    /// Train or test.
    pub split: Split,
    /// Centre (`dataset` column, or the id prefix).
    pub centre: String,
    /// Phase images 0, 1, 2.
    pub phases: Vec<PathBuf>,
    /// The expert mask.
    pub mask: PathBuf,
    /// The pCR label, if the clinical table has one.
    pub pcr: Option<u8>,
}

/// The checked data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// The MAMA-MIA root.
    pub root: PathBuf,
    /// The clinical table file.
    pub clinical: PathBuf,
    /// Usable cases, id order.
    pub cases: Vec<InventoryCase>,
    /// Skipped cases.
    pub failures: Vec<CaseFailure>,
}

impl Inventory {
    /// The usable cases of `split`.
    pub fn split(&self, split: Split) -> impl Iterator<Item = &InventoryCase> {
        self.cases.iter().filter(move |c| c.split == split)
    }

    /// Ids of the usable cases of `split`.
    #[must_use]
    pub fn ids(&self, split: Split) -> Vec<String> {
        self.split(split).map(|c| c.id.clone()).collect()
    }
}

/// File name of the inventory in `<out>/data`.
pub const INVENTORY: &str = "inventory.json";
/// File name of the failure list.
pub const FAILURES: &str = "failures.json";

/// The data stage's settings: the cohort configuration, or the root's file listing (names and sizes).
fn data_settings(ctx: &Context) -> Result<serde_json::Value> {
    if ctx.synthetic {
        return Ok(serde_json::json!({ "cohort": cohort_config(ctx), "cases": ctx.config.cases }));
    }
    let mut listing = Vec::new();
    let mut stack = vec![ctx.data_root.clone()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .with_context(|| format!("listing {}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else {
                let size = p.metadata().map(|m| m.len()).unwrap_or(0);
                listing.push((p.to_string_lossy().into_owned(), size));
            }
        }
    }
    listing.sort();
    Ok(serde_json::json!({ "root": ctx.data_root, "files": listing, "cases": ctx.config.cases }))
}

/// The cohort configuration of a synthetic run.
#[must_use]
pub fn cohort_config(ctx: &Context) -> CohortConfig {
    CohortConfig {
        cases: ctx.config.cases.unwrap_or(ctx.settings.cohort_cases),
        seed: ctx.config.seed,
        ..CohortConfig::default()
    }
}

/// Runs the data stage and returns the inventory.
///
/// # Errors
/// Cohort generation fails, the root cannot be read, or no case is usable for training and testing.
pub fn prepare(ctx: &Context, runner: &mut Runner<'_>) -> Result<Inventory> {
    let settings = data_settings(ctx)?;
    runner.run(Stage::Data, &settings, |dir| {
        if ctx.synthetic {
            let cfg = cohort_config(ctx);
            ctx.log(&format!(
                "generating the synthetic cohort ({} cases, seed {}) into {}",
                cfg.cases,
                cfg.seed,
                ctx.data_root.display()
            ));
            let bar = ctx.progress(cfg.cases as u64, "cohort");
            generate_cohort(&ctx.data_root, &cfg, Some(&bar))?;
            bar.finish_and_clear();
        }
        let inv = check(ctx)?;
        ctx.log(&format!(
            "{} usable cases ({} train, {} test), {} skipped (see {})",
            inv.cases.len(),
            inv.split(Split::Train).count(),
            inv.split(Split::Test).count(),
            inv.failures.len(),
            dir.join(FAILURES).display()
        ));
        for f in &inv.failures {
            ctx.log(&format!("  skipped {}: {}", f.patient_id, f.reason));
        }
        write_json_atomically(&dir.join(FAILURES), &inv.failures)?;
        write_json_atomically(&dir.join(INVENTORY), &inv)
    })?;
    read_json(&ctx.stage_dir(Stage::Data).join(INVENTORY))
}

fn failure(id: &str, reason: String) -> CaseFailure {
    CaseFailure {
        patient_id: id.to_string(),
        stage: "data".into(),
        reason,
    }
}

/// Checks every case of the root (module docs).
fn check(ctx: &Context) -> Result<Inventory> {
    let root: &Path = &ctx.data_root;
    let ds = MamaMia::open(root).with_context(|| format!("opening {}", root.display()))?;
    let clinical = ds
        .clinical()
        .with_context(|| format!("{}: clinical table", root.display()))?;
    let splits = ds.splits().ok();
    let mut cases = Vec::new();
    let mut failures = Vec::new();
    let ids: Vec<&String> = ds
        .case_ids()
        .iter()
        .take(if ctx.synthetic {
            usize::MAX
        } else {
            ctx.config.cases.unwrap_or(usize::MAX)
        })
        .collect();
    for id in ids {
        let files = match ds.case_files(id, &PHASES) {
            Ok(f) => f,
            Err(e) => {
                failures.push(failure(id, format!("missing phase: {e}")));
                continue;
            }
        };
        let Some(mask) = files.segmentation.clone() else {
            failures.push(failure(id, "no expert mask in segmentations/expert".into()));
            continue;
        };
        let Some(record) = clinical.get(id) else {
            failures.push(failure(
                id,
                format!("no row in {}", clinical.path().display()),
            ));
            continue;
        };
        let split = match &splits {
            Some(s) if s.test.iter().any(|t| t == id) => Split::Test,
            Some(s) if s.train.iter().any(|t| t == id) => Split::Train,
            Some(_) => {
                failures.push(failure(
                    id,
                    "in neither column of train_test_splits.csv".into(),
                ));
                continue;
            }
            // Without a split file: every fifth case is a test case.
            None => {
                if cases.len() % 5 == 4 {
                    Split::Test
                } else {
                    Split::Train
                }
            }
        };
        let centre = record
            .dataset
            .clone()
            .unwrap_or_else(|| id.split('_').next().unwrap_or(id).to_string());
        cases.push(InventoryCase {
            id: id.clone(),
            split,
            centre,
            phases: files.channels,
            mask,
            pcr: record.pcr,
        });
    }
    let n_train = cases.iter().filter(|c| c.split == Split::Train).count();
    let n_test = cases.len() - n_train;
    if n_train < 2 || n_test == 0 {
        anyhow::bail!(
            "{}: {n_train} usable training and {n_test} test cases; at least 2 and 1 are needed ({} skipped)",
            root.display(),
            failures.len()
        );
    }
    Ok(Inventory {
        root: root.to_path_buf(),
        clinical: clinical.path().to_path_buf(),
        cases,
        failures,
    })
}
