//! Whole-dataset preprocessing: fingerprint pass, plan, then every case into the [`PreprocessedCache`] —
//! in parallel over cases, with a progress bar, recording failed cases and going on, resuming finished ones.
//!
//! ```text
//! fingerprint_cases   load + crop every case (rayon)            → CaseFingerprint per readable case
//! Plans::from_fingerprint                                       → plans.json (kept: a re-run reuses it)
//! preprocess_cases    load → preprocess_case → cache.write_case  (cases already in the cache are skipped)
//! ```
//!
//! A failed case (unreadable file, mismatched channel geometry, missing phase, …) is recorded with its error
//! message in the cache's `failures.json` and in the returned [`BatchReport`]; the other cases go on.
//!
//! Reference: nnU-Net v2 2.8.1 `nnunetv2/experiment_planning/plan_and_preprocess_api.py`
//! (`extract_fingerprints`, `plan_experiments`, `preprocess`) and `DefaultPreprocessor.run` (a process pool
//! over cases, skipping nothing; here finished cases are skipped instead).

use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::cache::PreprocessedCache;
use crate::case::{load_case, CaseFiles, SegmentationRequirement};
use crate::error::Result;
use crate::fingerprint::{case_fingerprint, CaseFingerprint};
use crate::plans::Plans;
use crate::preprocessor::preprocess_case;

/// Options of [`fingerprint_cases`] and [`preprocess_cases`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchOptions {
    /// What to do with the segmentations (training data: [`SegmentationRequirement::Optional`] or stricter).
    pub segmentation: SegmentationRequirement,
    /// Draw a progress bar on stderr (hidden automatically when stderr is not a terminal).
    pub progress: bool,
}

impl Default for BatchOptions {
    /// Segmentation optional, progress bar on.
    fn default() -> Self {
        BatchOptions {
            segmentation: SegmentationRequirement::Optional,
            progress: true,
        }
    }
}

/// What a batch did, case by case.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    /// Cases processed in this run.
    pub done: Vec<String>,
    /// Cases skipped because a previous run had finished them.
    pub skipped: Vec<String>,
    /// Cases that failed, with the error message (also in the cache's `failures.json`).
    pub failed: Vec<CaseFailure>,
}

/// `(case id, error message)` of a case that failed.
pub type CaseFailure = (String, String);

/// The fingerprints of every readable case (in input order) and the failures.
#[must_use]
pub fn fingerprint_cases(
    cases: &[CaseFiles],
    options: &BatchOptions,
) -> (Vec<(String, CaseFingerprint)>, Vec<CaseFailure>) {
    let bar = progress_bar(cases.len(), "fingerprint", options.progress);
    let results: Vec<(String, Result<CaseFingerprint>)> = cases
        .par_iter()
        .progress_with(bar)
        .map(|files| {
            let result = load_case(files, options.segmentation).and_then(|case| {
                case_fingerprint(
                    case.data.view(),
                    case.segmentation.as_ref().map(|s| s.view()),
                    case.geometry.spacing,
                )
            });
            (files.id.clone(), result)
        })
        .collect();
    let mut ok = Vec::new();
    let mut failed = Vec::new();
    for (id, result) in results {
        match result {
            Ok(fp) => ok.push((id, fp)),
            Err(e) => failed.push((id, e.to_string())),
        }
    }
    (ok, failed)
}

/// Preprocesses every case that the cache does not hold yet with `plans` and writes it to `cache`
/// (data, segmentation, properties). Failures are recorded in the cache and the report; the batch goes on.
///
/// # Errors
/// Only when a failure cannot be *recorded* (the cache folder is not writable); errors of single cases are
/// reported in [`BatchReport::failed`].
pub fn preprocess_cases(
    cases: &[CaseFiles],
    plans: &Plans,
    cache: &PreprocessedCache,
    options: &BatchOptions,
) -> Result<BatchReport> {
    let mut report = BatchReport::default();
    let todo: Vec<&CaseFiles> = cases
        .iter()
        .filter(|files| {
            let finished = cache.contains(&files.id);
            if finished {
                report.skipped.push(files.id.clone());
            }
            !finished
        })
        .collect();
    let bar = progress_bar(todo.len(), "preprocess", options.progress);
    let results: Vec<(String, Result<()>)> = todo
        .par_iter()
        .progress_with(bar)
        .map(|files| {
            (
                files.id.clone(),
                preprocess_one(files, plans, cache, options),
            )
        })
        .collect();
    for (id, result) in results {
        match result {
            Ok(()) => report.done.push(id),
            Err(e) => {
                let message = e.to_string();
                cache.record_failure(&id, &message)?;
                report.failed.push((id, message));
            }
        }
    }
    Ok(report)
}

fn preprocess_one(
    files: &CaseFiles,
    plans: &Plans,
    cache: &PreprocessedCache,
    options: &BatchOptions,
) -> Result<()> {
    let case = load_case(files, options.segmentation)?;
    let pre = preprocess_case(
        case.data.view(),
        case.segmentation.as_ref().map(|s| s.view()),
        &case.geometry,
        plans,
    )?;
    cache.write_case(
        &files.id,
        pre.data.view(),
        pre.seg.as_ref().map(|s| s.view()),
        &pre.properties,
    )
}

fn progress_bar(len: usize, what: &'static str, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{prefix:>11} [{bar:40}] {pos}/{len} cases ({elapsed}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_prefix(what);
    bar
}
