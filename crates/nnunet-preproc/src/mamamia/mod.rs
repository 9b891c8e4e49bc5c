//! The MAMA-MIA data set on disk: layout discovery, clinical table, splits and patient JSONs.
//!
//! ```text
//! <root>/images/<CASE>/<case>_0000.nii.gz       pre-contrast, _0001 first post-contrast, … (3–6 phases)
//!        segmentations/expert/<case>.nii.gz     ground truth
//!        segmentations/automatic/<case>.nii.gz  organiser nnU-Net masks
//!        patient_info_files/<case>.json
//!        clinical_and_imaging_info.xlsx         (sheet dataset_info; or a .csv export)
//!        train_test_splits.csv
//! ```
//!
//! The real download mixes upper- and lower-case names (`images/DUKE_001/duke_001_0000.nii.gz`,
//! `expert/duke_001.nii.gz`, upper-case ids in the xlsx), so **every file and folder name is matched
//! case-insensitively** and ids are canonical upper case (`DUKE_001`). Images may be `.nii.gz` or `.nii`.
//! When two files claim the same slot (e.g. `x.nii` and `x.nii.gz`), `.nii.gz` wins, then the
//! lexicographically smallest name, and [`MamaMia::warnings`] records it.
//!
//! References: LidiaGarrucho/MAMA-MIA README (layout) and `src/challenge/scoring_task1.py`;
//! `/work/shared/reference/mamamia.md` §1.

mod clinical;
mod menopause;
mod patient_info;
mod splits;

pub use clinical::{ClinicalRecord, ClinicalTable, CLINICAL_SHEET, NA_VALUES};
pub use menopause::{menopause_group, MenopauseGroup, MenopauseRule};
pub use patient_info::{BreastBox, PatientInfo};
pub use splits::{Splits, TEST_COLUMN, TRAIN_COLUMN};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::case::CaseFiles;
use crate::error::{Error, Result};

/// Name of the clinical workbook in the root.
pub const CLINICAL_XLSX: &str = "clinical_and_imaging_info.xlsx";
/// Name of the CSV export of the clinical table, used when the workbook is absent.
pub const CLINICAL_CSV: &str = "clinical_and_imaging_info.csv";
/// Name of the split file in the root.
pub const SPLITS_CSV: &str = "train_test_splits.csv";

/// A discovered MAMA-MIA data set.
#[derive(Debug, Clone)]
pub struct MamaMia {
    root: PathBuf,
    case_ids: Vec<String>,
    images: BTreeMap<String, CaseImages>,
    expert: BTreeMap<String, PathBuf>,
    automatic: BTreeMap<String, PathBuf>,
    patient_info: BTreeMap<String, PathBuf>,
    warnings: Vec<String>,
}

/// The image folder of one case.
#[derive(Debug, Clone)]
struct CaseImages {
    dir: PathBuf,
    /// The file-name prefix as spelled on disk (for the path of a missing phase).
    stem: String,
    phases: BTreeMap<usize, PathBuf>,
}

impl MamaMia {
    /// Scans `root/images/*/`, `root/segmentations/{expert,automatic}/` and `root/patient_info_files/`.
    /// Only `images/` is required; the case ids are its sub-folders. Files whose names do not follow the
    /// layout are ignored and listed in [`MamaMia::warnings`].
    ///
    /// # Errors
    /// [`Error::Io`] when `root` or `root/images` does not exist or a folder cannot be listed.
    pub fn open(root: impl AsRef<Path>) -> Result<Self> {
        let root = root.as_ref().to_path_buf();
        let mut warnings = Vec::new();
        let images_dir = find_child(&root, "images", true)?.ok_or_else(|| {
            Error::io(
                root.join("images"),
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "MAMA-MIA root has no images/ folder",
                ),
            )
        })?;
        let mut images = BTreeMap::new();
        for dir in list(&images_dir)?.into_iter().filter(|p| p.is_dir()) {
            let folder = name_of(&dir);
            let id = folder.to_uppercase();
            let case = scan_case(&dir, &folder, &mut warnings)?;
            if images.contains_key(&id) {
                warnings.push(format!(
                    "case {id}: folder {} ignored, another folder has the same id",
                    dir.display()
                ));
                continue;
            }
            images.insert(id, case);
        }
        let segmentations = find_child(&root, "segmentations", true)?;
        let scan_seg =
            |sub: &str, warnings: &mut Vec<String>| -> Result<BTreeMap<String, PathBuf>> {
                match segmentations
                    .as_ref()
                    .map(|s| find_child(s, sub, true))
                    .transpose()?
                    .flatten()
                {
                    Some(dir) => scan_flat(&dir, strip_nifti, warnings),
                    None => Ok(BTreeMap::new()),
                }
            };
        let expert = scan_seg("expert", &mut warnings)?;
        let automatic = scan_seg("automatic", &mut warnings)?;
        let patient_info = match find_child(&root, "patient_info_files", true)? {
            Some(dir) => scan_flat(&dir, strip_json, &mut warnings)?,
            None => BTreeMap::new(),
        };
        Ok(MamaMia {
            root,
            case_ids: images.keys().cloned().collect(),
            images,
            expert,
            automatic,
            patient_info,
            warnings,
        })
    }

    /// The data-set root.
    #[must_use]
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Canonical upper-case case ids (`DUKE_001`), sorted.
    #[must_use]
    pub fn case_ids(&self) -> &[String] {
        &self.case_ids
    }

    /// Notes from discovery: ignored files, duplicate names.
    #[must_use]
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The phase numbers present for case `id` (any case), ascending (`[0, 1, 2]`).
    ///
    /// # Errors
    /// [`Error::UnknownCase`] when `images/` has no folder for `id`.
    pub fn phases(&self, id: &str) -> Result<Vec<usize>> {
        Ok(self.case(id)?.1.phases.keys().copied().collect())
    }

    /// The files of case `id` (matched case-insensitively): the images of `phases` in the given order as
    /// channels (`images/<CASE>/<case>_{k:04}.nii.gz`), plus the expert segmentation if there is one.
    ///
    /// # Errors
    /// [`Error::UnknownCase`] for an id without an image folder; [`Error::InvalidParameter`] (`phases`) for an
    /// empty phase list; [`Error::MissingFile`] naming the case and `phase k image` when a requested phase is
    /// absent.
    pub fn case_files(&self, id: &str, phases: &[usize]) -> Result<CaseFiles> {
        let (id, case) = self.case(id)?;
        if phases.is_empty() {
            return Err(Error::InvalidParameter {
                key: "phases",
                reason: format!("case {id}: at least one phase must be requested"),
            });
        }
        let channels = phases
            .iter()
            .map(|&k| {
                case.phases
                    .get(&k)
                    .cloned()
                    .ok_or_else(|| Error::MissingFile {
                        case: id.to_string(),
                        what: format!("phase {k} image"),
                        path: case.dir.join(format!("{}_{k:04}.nii.gz", case.stem)),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(CaseFiles {
            id: id.to_string(),
            channels,
            segmentation: self.expert.get(id).cloned(),
        })
    }

    /// The expert segmentation of case `id`, if present.
    ///
    /// # Errors
    /// [`Error::UnknownCase`] when `images/` has no folder for `id`.
    pub fn expert_segmentation(&self, id: &str) -> Result<Option<&Path>> {
        let (id, _) = self.case(id)?;
        Ok(self.expert.get(id).map(PathBuf::as_path))
    }

    /// The organisers' automatic segmentation of case `id`, if present.
    ///
    /// # Errors
    /// [`Error::UnknownCase`] when `images/` has no folder for `id`.
    pub fn automatic_segmentation(&self, id: &str) -> Result<Option<&Path>> {
        let (id, _) = self.case(id)?;
        Ok(self.automatic.get(id).map(PathBuf::as_path))
    }

    /// Reads `patient_info_files/<id>.json` (also for ids without images, e.g. hidden test cases).
    ///
    /// # Errors
    /// [`Error::UnknownCase`] when neither an image folder nor a JSON exists for `id`;
    /// [`Error::MissingFile`] (`patient info JSON`) for a case without JSON; otherwise the errors of
    /// [`PatientInfo::from_json_file`] ([`Error::Json`] naming the file when it is malformed).
    pub fn patient_info(&self, id: &str) -> Result<PatientInfo> {
        let key = canonical(id);
        if let Some(path) = self.patient_info.get(&key) {
            return PatientInfo::from_json_file(path);
        }
        let (id, _) = self.case(id)?;
        Err(Error::MissingFile {
            case: id.to_string(),
            what: "patient info JSON".to_string(),
            path: self
                .root
                .join("patient_info_files")
                .join(format!("{}.json", id.to_lowercase())),
        })
    }

    /// The clinical table: `clinical_and_imaging_info.xlsx` (sheet `dataset_info`) if present, else
    /// `clinical_and_imaging_info.csv`.
    ///
    /// # Errors
    /// [`Error::Io`] (not found) when neither file exists; the errors of [`ClinicalTable::from_xlsx`] /
    /// [`ClinicalTable::from_csv`].
    pub fn clinical(&self) -> Result<ClinicalTable> {
        if let Some(xlsx) = find_child(&self.root, CLINICAL_XLSX, false)? {
            return ClinicalTable::from_xlsx(xlsx);
        }
        if let Some(csv) = find_child(&self.root, CLINICAL_CSV, false)? {
            return ClinicalTable::from_csv(csv);
        }
        Err(Error::io(
            self.root.join(CLINICAL_XLSX),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("neither {CLINICAL_XLSX} nor {CLINICAL_CSV} exists"),
            ),
        ))
    }

    /// The official split, `train_test_splits.csv`.
    ///
    /// # Errors
    /// [`Error::Io`] when the file does not exist; the errors of [`Splits::from_csv`].
    pub fn splits(&self) -> Result<Splits> {
        let path = find_child(&self.root, SPLITS_CSV, false)?
            .unwrap_or_else(|| self.root.join(SPLITS_CSV));
        Splits::from_csv(path)
    }

    /// `(canonical id, images)` of a case with an image folder.
    fn case(&self, id: &str) -> Result<(&str, &CaseImages)> {
        self.images
            .get_key_value(&canonical(id))
            .map(|(k, v)| (k.as_str(), v))
            .ok_or_else(|| Error::UnknownCase {
                case: id.to_string(),
                root: self.root.clone(),
            })
    }
}

/// Canonical id: trimmed, upper case.
fn canonical(id: &str) -> String {
    id.trim().to_uppercase()
}

/// The last path component as text.
fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The entries of `dir`, sorted by name.
fn list(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        out.push(entry.map_err(|e| Error::io(dir, e))?.path());
    }
    out.sort();
    Ok(out)
}

/// The child of `dir` named `name`: the exact spelling first, else the first case-insensitive match
/// (in sorted order). `Ok(None)` when `dir` does not exist or has no such child.
fn find_child(dir: &Path, name: &str, want_dir: bool) -> Result<Option<PathBuf>> {
    let kind_ok = |p: &Path| if want_dir { p.is_dir() } else { p.is_file() };
    let exact = dir.join(name);
    if kind_ok(&exact) {
        return Ok(Some(exact));
    }
    if !dir.is_dir() {
        return Ok(None);
    }
    Ok(list(dir)?
        .into_iter()
        .find(|p| kind_ok(p) && name_of(p).eq_ignore_ascii_case(name)))
}

/// `(stem, rank)` of a NIfTI name: `.nii.gz` ranks 0, `.nii` ranks 1; `None` for other names.
fn strip_nifti(name: &str) -> Option<(&str, u8)> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".nii.gz") {
        Some((&name[..name.len() - 7], 0))
    } else if lower.ends_with(".nii") {
        Some((&name[..name.len() - 4], 1))
    } else {
        None
    }
}

/// `(stem, 0)` of a `.json` name.
fn strip_json(name: &str) -> Option<(&str, u8)> {
    name.to_ascii_lowercase()
        .ends_with(".json")
        .then(|| (&name[..name.len() - 5], 0))
}

/// Inserts `path` under `key` unless a better-ranked (lower rank, then smaller name) file holds it.
fn insert_ranked<K: Ord>(
    map: &mut BTreeMap<K, (PathBuf, u8)>,
    key: K,
    path: PathBuf,
    rank: u8,
    what: &str,
    warnings: &mut Vec<String>,
) {
    match map.get(&key) {
        Some((old, old_rank)) if *old_rank <= rank => {
            warnings.push(format!(
                "{what}: {} ignored, {} is used",
                path.display(),
                old.display()
            ));
        }
        Some((old, _)) => {
            warnings.push(format!(
                "{what}: {} ignored, {} is used",
                old.display(),
                path.display()
            ));
            map.insert(key, (path, rank));
        }
        None => {
            map.insert(key, (path, rank));
        }
    }
}

/// Files of a flat folder keyed by upper-case stem.
fn scan_flat(
    dir: &Path,
    strip: fn(&str) -> Option<(&str, u8)>,
    warnings: &mut Vec<String>,
) -> Result<BTreeMap<String, PathBuf>> {
    let mut map = BTreeMap::new();
    for path in list(dir)?.into_iter().filter(|p| p.is_file()) {
        let name = name_of(&path);
        match strip(&name) {
            Some((stem, rank)) => {
                let id = stem.to_uppercase();
                let what = format!("case {id}");
                insert_ranked(&mut map, id, path, rank, &what, warnings);
            }
            None => warnings.push(format!("{} ignored (unexpected name)", path.display())),
        }
    }
    Ok(map.into_iter().map(|(k, (p, _))| (k, p)).collect())
}

/// The phase images of one case folder: `<folder>_<kkkk>.nii[.gz]`, the prefix matched case-insensitively.
fn scan_case(dir: &Path, folder: &str, warnings: &mut Vec<String>) -> Result<CaseImages> {
    let id = folder.to_uppercase();
    let mut phases = BTreeMap::new();
    let mut stem_on_disk = None;
    for path in list(dir)?.into_iter().filter(|p| p.is_file()) {
        let name = name_of(&path);
        let parsed = strip_nifti(&name).and_then(|(stem, rank)| {
            let (prefix, digits) = stem.rsplit_once('_')?;
            let phase_ok = digits.len() == 4 && digits.bytes().all(|b| b.is_ascii_digit());
            (phase_ok && prefix.eq_ignore_ascii_case(folder))
                .then(|| (prefix, digits.parse::<usize>().ok(), rank))
        });
        match parsed {
            Some((prefix, Some(k), rank)) => {
                stem_on_disk.get_or_insert_with(|| prefix.to_string());
                let what = format!("case {id} phase {k}");
                insert_ranked(&mut phases, k, path, rank, &what, warnings);
            }
            _ => warnings.push(format!(
                "case {id}: {} ignored (not <case>_<kkkk>.nii[.gz])",
                path.display()
            )),
        }
    }
    Ok(CaseImages {
        dir: dir.to_path_buf(),
        stem: stem_on_disk.unwrap_or_else(|| folder.to_string()),
        phases: phases.into_iter().map(|(k, (p, _))| (k, p)).collect(),
    })
}
