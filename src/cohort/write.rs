//! Writing a synthetic cohort in the MAMA-MIA layout (see the parent module for the layout).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use ndarray::Axis;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{case_seed, synthesize_case, CohortCase, CohortConfig, Split, CLINICAL_COLUMNS};
use crate::pipeline::files::{read_json, write_json_atomically, write_text_atomically};

/// File name of the generator's manifest in the cohort root.
pub const MANIFEST: &str = "cohort.json";

/// A generated cohort: where it is, how it was made, and its cases (id order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cohort {
    /// The cohort root (not serialised into the manifest; set when reading).
    #[serde(skip)]
    pub root: PathBuf,
    /// The settings.
    pub config: CohortConfig,
    /// Every case with its true parameters and split.
    pub cases: Vec<CohortCase>,
}

impl Cohort {
    /// Ids of the cases in `split`.
    #[must_use]
    pub fn ids(&self, split: Split) -> Vec<String> {
        self.cases
            .iter()
            .filter(|c| c.split == split)
            .map(|c| c.id.clone())
            .collect()
    }
}

/// Reads `<root>/cohort.json`.
///
/// # Errors
/// The file is missing or malformed.
pub fn read_manifest(root: &Path) -> Result<Cohort> {
    let mut c: Cohort = read_json(&root.join(MANIFEST))?;
    c.root = root.to_path_buf();
    Ok(c)
}

/// Assigns `round(n_c · test_fraction)` cases of each pCR class `c` (at least one when the class has two or
/// more cases and the fraction is positive) to the test split, chosen by a seeded shuffle.
fn assign_splits(cases: &mut [CohortCase], config: &CohortConfig) {
    let mut rng = ChaCha8Rng::seed_from_u64(case_seed(config.seed, usize::MAX));
    for class in [0u8, 1] {
        let mut idx: Vec<usize> = (0..cases.len())
            .filter(|&i| cases[i].clinical.pcr == class)
            .collect();
        idx.shuffle(&mut rng);
        let mut n_test = (idx.len() as f64 * config.test_fraction).round() as usize;
        if n_test == 0 && idx.len() >= 2 && config.test_fraction > 0.0 {
            n_test = 1;
        }
        for &i in idx.iter().take(n_test) {
            cases[i].split = Split::Test;
        }
    }
}

/// The patient JSON of a case (MAMA-MIA §1.4 structure; JSON "x" = array axis 0).
fn patient_json(c: &CohortCase) -> serde_json::Value {
    let [b0, b1, b2] = c.breast_box;
    json!({
        "patient_id": c.id,
        "clinical_data": {
            "age": c.clinical.age,
            "menopausal_status": c.clinical.menopause,
        },
        "primary_lesion": {
            "breast_coordinates": {
                "x_min": b0[0], "x_max": b0[1], "y_min": b1[0], "y_max": b1[1], "z_min": b2[0], "z_max": b2[1],
            },
            "pcr": c.clinical.pcr,
            "tumor_subtype": c.clinical.tumor_subtype,
        },
        "imaging_data": {
            "bilateral": false,
            "dataset": c.centre,
            "site": null,
            "scanner_manufacturer": "SYNTHETIC",
            "scanner_model": "dce-pipeline cohort",
            "field_strength": 1.5,
            "pixel_spacing": [c.spacing[2], c.spacing[1]],
            "slice_thickness": c.spacing[0],
            "num_phases": 3,
        },
    })
}

fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n']) {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

/// Generates the cohort of `config` into `root` (created if missing; existing files are overwritten), in
/// parallel over cases; `progress` (if any) is ticked once per case written.
///
/// # Errors
/// An invalid `config` or a failed write (naming the file).
pub fn generate_cohort(
    root: &Path,
    config: &CohortConfig,
    progress: Option<&indicatif::ProgressBar>,
) -> Result<Cohort> {
    config.check()?;
    std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
    let mut cases: Vec<CohortCase> = (0..config.cases)
        .into_par_iter()
        .map(|i| -> Result<CohortCase> {
            let s = synthesize_case(config, i)?;
            let lower = s.case.id.to_lowercase();
            let dir = root.join("images").join(&s.case.id);
            for (k, phase) in s.phases.axis_iter(Axis(0)).enumerate() {
                let path = dir.join(format!("{lower}_{k:04}.nii.gz"));
                nnunet_preproc::write_volume(&path, phase, &s.geometry)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            let seg = root
                .join("segmentations")
                .join("expert")
                .join(format!("{lower}.nii.gz"));
            nnunet_preproc::write_mask(&seg, s.mask.view(), &s.geometry)
                .with_context(|| format!("writing {}", seg.display()))?;
            if let Some(p) = progress {
                p.inc(1);
            }
            Ok(s.case)
        })
        .collect::<Result<_>>()?;
    assign_splits(&mut cases, config);
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    for c in &cases {
        let path = root
            .join("patient_info_files")
            .join(format!("{}.json", c.id.to_lowercase()));
        write_json_atomically(&path, &patient_json(c))?;
    }
    let mut clinical = csv_line(&CLINICAL_COLUMNS.map(String::from));
    for c in &cases {
        clinical.push_str(&csv_line(&c.clinical.cells(c.spacing)));
    }
    write_text_atomically(&root.join(nnunet_preproc::mamamia::CLINICAL_CSV), &clinical)?;
    let (train, test): (Vec<&CohortCase>, Vec<&CohortCase>) =
        cases.iter().partition(|c| c.split == Split::Train);
    let mut splits = String::from("train_split,test_split\n");
    for i in 0..train.len().max(test.len()) {
        let cell = |v: &[&CohortCase]| v.get(i).map_or(String::new(), |c| c.id.clone());
        splits.push_str(&format!("{},{}\n", cell(&train), cell(&test)));
    }
    write_text_atomically(&root.join(nnunet_preproc::mamamia::SPLITS_CSV), &splits)?;
    let cohort = Cohort {
        root: root.to_path_buf(),
        config: config.clone(),
        cases,
    };
    write_json_atomically(&root.join(MANIFEST), &cohort)?;
    Ok(cohort)
}
