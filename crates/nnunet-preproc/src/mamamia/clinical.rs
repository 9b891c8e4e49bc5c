//! The MAMA-MIA clinical table (`clinical_and_imaging_info.xlsx`, sheet `dataset_info`, or a CSV export of
//! it): one row per patient, keyed by the upper-case `patient_id`.
//!
//! Both readers produce the same [`ClinicalTable`]: the typed columns of [`ClinicalRecord`] are parsed, every
//! other column is kept as text in [`ClinicalRecord::extra`].
//!
//! Missing values follow pandas' default `na_values` (what the organisers' scoring scripts see through
//! `pd.read_excel`/`pd.read_csv`): after trimming surrounding white space, a cell is missing when it is empty or
//! one of
//!
//! ```text
//! #N/A  #N/A N/A  #NA  -1.#IND  -1.#QNAN  -NaN  -nan  1.#IND  1.#QNAN  <NA>  N/A  NA  NULL  NaN  None  n/a  nan  null
//! ```
//!
//! (pandas does not trim; trimming is this crate's choice.) Excel error cells (`#N/A`, `#DIV/0!`, …) are
//! missing too.
//!
//! References: LidiaGarrucho/MAMA-MIA `src/clinical_data.py` and `src/challenge/scoring_task{1,2}.py`
//! (`pd.read_excel(path, sheet_name='dataset_info')`); pandas `_libs/parsers.pyx` (`STR_NA_VALUES`); the column
//! list in `/work/shared/reference/mamamia.md` §1.3.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use calamine::{Data, Reader};

use crate::error::{Error, Result};
use crate::mamamia::menopause::{menopause_group, MenopauseGroup, MenopauseRule};

/// The sheet of `clinical_and_imaging_info.xlsx` that holds the table.
pub const CLINICAL_SHEET: &str = "dataset_info";

/// Cell texts read as missing (pandas' default `na_values`), compared after trimming.
pub const NA_VALUES: [&str; 19] = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
];

/// One patient's row of the clinical table.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClinicalRecord {
    /// Canonical upper-case patient id (`DUKE_001`).
    pub patient_id: String,
    /// Column `dataset` (`DUKE`, `ISPY1`, `ISPY2`, `NACT`).
    pub dataset: Option<String>,
    /// Column `age` in years.
    pub age: Option<f64>,
    /// Column `menopause` (free text; `menopausal_status` is accepted as its alias). See [`menopause_group`].
    pub menopause: Option<String>,
    /// Column `breast_density` (ACR `a`–`d`).
    pub breast_density: Option<String>,
    /// Column `pcr`: pathological complete response, 0 or 1.
    pub pcr: Option<u8>,
    /// Column `tumor_subtype` (`luminal`, `triple_negative`, …).
    pub tumor_subtype: Option<String>,
    /// Column `hr` (hormone receptor), 0 or 1.
    pub hr: Option<u8>,
    /// Column `er` (oestrogen receptor), 0 or 1.
    pub er: Option<u8>,
    /// Column `pr` (progesterone receptor), 0 or 1.
    pub pr: Option<u8>,
    /// Column `her2`, 0 or 1.
    pub her2: Option<u8>,
    /// Every other column, by its header, as text; missing cells are absent. Spreadsheet numbers are written
    /// with Rust's shortest round-trip formatting (`160`, `0.804`), booleans as `True`/`False`, dates as
    /// `YYYY-MM-DD HH:MM:SS`.
    pub extra: BTreeMap<String, String>,
}

impl ClinicalRecord {
    /// The subgroup label of this patient's menopause text under the challenge's `rule`
    /// (see [`menopause_group`]).
    #[must_use]
    pub fn menopause_group(&self, rule: MenopauseRule) -> MenopauseGroup {
        menopause_group(self.menopause.as_deref(), rule)
    }
}

/// The clinical table: records keyed by upper-case patient id.
#[derive(Debug, Clone, PartialEq)]
pub struct ClinicalTable {
    path: PathBuf,
    columns: Vec<String>,
    records: BTreeMap<String, ClinicalRecord>,
}

/// A table as rows of optional cell texts, before typing.
#[derive(Debug)]
struct RawTable {
    path: PathBuf,
    headers: Vec<String>,
    /// `(row number in the file, 1-based with the header as row 1, cells)`.
    rows: Vec<(u64, Vec<Option<String>>)>,
}

impl ClinicalTable {
    /// Reads sheet `dataset_info` of an `.xlsx` workbook (first row = headers). A workbook without that sheet
    /// name is searched case-insensitively.
    ///
    /// # Errors
    /// [`Error::Table`] naming the file when it cannot be opened as a workbook, has no `dataset_info` sheet,
    /// lacks `patient_id`, or holds a bad value (see [`ClinicalTable::from_csv`]).
    pub fn from_xlsx(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let table_err = |reason: String| Error::Table {
            path: path.to_path_buf(),
            reason,
        };
        if !path.is_file() {
            return Err(Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            ));
        }
        let mut book: calamine::Xlsx<_> = calamine::open_workbook(path)
            .map_err(|e| table_err(format!("cannot open workbook: {e}")))?;
        let names = book.sheet_names();
        let sheet = names
            .iter()
            .find(|n| n.as_str() == CLINICAL_SHEET)
            .or_else(|| {
                names
                    .iter()
                    .find(|n| n.eq_ignore_ascii_case(CLINICAL_SHEET))
            })
            .cloned()
            .ok_or_else(|| table_err(format!("no sheet `{CLINICAL_SHEET}` (sheets: {names:?})")))?;
        let range = book
            .worksheet_range(&sheet)
            .map_err(|e| table_err(format!("cannot read sheet `{sheet}`: {e}")))?;
        let first_row = u64::from(range.start().map_or(0, |(r, _)| r)) + 1;
        let mut rows = range.rows();
        let headers = rows
            .next()
            .map(|r| r.iter().map(cell_text).collect::<Vec<_>>())
            .unwrap_or_default();
        let raw = RawTable {
            path: path.to_path_buf(),
            headers: header_names(headers),
            rows: rows
                .enumerate()
                .map(|(i, r)| (first_row + 1 + i as u64, r.iter().map(cell_text).collect()))
                .collect(),
        };
        Self::from_raw(raw)
    }

    /// Reads a comma-separated export of the table (first line = headers).
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Table`] naming the file when it is not valid CSV,
    /// has a row longer than the header, lacks the `patient_id` column, has a row without a patient id, holds
    /// the same patient twice, or holds a value in `age` (not a finite number) or `pcr`/`hr`/`er`/`pr`/`her2`
    /// (not 0 or 1) that cannot be parsed; the message names the column, the row and the patient.
    pub fn from_csv(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let table_err = |reason: String| Error::Table {
            path: path.to_path_buf(),
            reason,
        };
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(std::io::BufReader::new(file));
        let headers = reader
            .headers()
            .map_err(|e| table_err(format!("invalid CSV header: {e}")))?
            .iter()
            .map(|h| {
                let h = h.trim_start_matches('\u{feff}').trim();
                (!h.is_empty()).then(|| h.to_string())
            })
            .collect::<Vec<_>>();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| table_err(format!("invalid CSV: {e}")))?;
            let line = record.position().map_or(0, csv::Position::line);
            rows.push((line, record.iter().map(na_to_none).collect()));
        }
        Self::from_raw(RawTable {
            path: path.to_path_buf(),
            headers: header_names(headers),
            rows,
        })
    }

    fn from_raw(raw: RawTable) -> Result<Self> {
        let RawTable {
            path,
            headers,
            rows,
        } = raw;
        let table_err = |reason: String| Error::Table {
            path: path.clone(),
            reason,
        };
        for (i, h) in headers.iter().enumerate() {
            if headers[..i].contains(h) {
                return Err(table_err(format!("duplicate column `{h}`")));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| h.trim().eq_ignore_ascii_case(name))
        };
        let id_col =
            find("patient_id").ok_or_else(|| table_err("no column `patient_id`".to_string()))?;
        let typed = TypedColumns {
            dataset: find("dataset"),
            age: find("age"),
            menopause: find("menopause").or_else(|| find("menopausal_status")),
            breast_density: find("breast_density"),
            pcr: find("pcr"),
            tumor_subtype: find("tumor_subtype"),
            hr: find("hr"),
            er: find("er"),
            pr: find("pr"),
            her2: find("her2"),
        };
        let typed_set = typed.indices();
        let mut records = BTreeMap::new();
        for (row, cells) in rows {
            if cells.iter().all(Option::is_none) {
                continue; // blank line, as pandas' skip_blank_lines
            }
            if cells.len() > headers.len() {
                return Err(table_err(format!(
                    "row {row} has {} cells but the header has {} columns",
                    cells.len(),
                    headers.len()
                )));
            }
            let cell = |col: Option<usize>| col.and_then(|c| cells.get(c).cloned().flatten());
            let id = cell(Some(id_col))
                .map(|s| s.trim().to_uppercase())
                .ok_or_else(|| table_err(format!("row {row}: empty `patient_id`")))?;
            let ctx = |column: &str| format!("column `{column}`, row {row} (patient {id})");
            let mut extra = BTreeMap::new();
            for (c, h) in headers.iter().enumerate() {
                if c != id_col && !typed_set.contains(&c) {
                    if let Some(v) = cell(Some(c)) {
                        extra.insert(h.clone(), v);
                    }
                }
            }
            let record = ClinicalRecord {
                dataset: cell(typed.dataset),
                age: parse_age(cell(typed.age))
                    .map_err(|v| table_err(format!("{}: `{v}` is not a number", ctx("age"))))?,
                menopause: cell(typed.menopause),
                breast_density: cell(typed.breast_density),
                pcr: parse_binary(cell(typed.pcr))
                    .map_err(|v| table_err(format!("{}: `{v}` is not 0 or 1", ctx("pcr"))))?,
                tumor_subtype: cell(typed.tumor_subtype),
                hr: parse_binary(cell(typed.hr))
                    .map_err(|v| table_err(format!("{}: `{v}` is not 0 or 1", ctx("hr"))))?,
                er: parse_binary(cell(typed.er))
                    .map_err(|v| table_err(format!("{}: `{v}` is not 0 or 1", ctx("er"))))?,
                pr: parse_binary(cell(typed.pr))
                    .map_err(|v| table_err(format!("{}: `{v}` is not 0 or 1", ctx("pr"))))?,
                her2: parse_binary(cell(typed.her2))
                    .map_err(|v| table_err(format!("{}: `{v}` is not 0 or 1", ctx("her2"))))?,
                extra,
                patient_id: id.clone(),
            };
            if records.insert(id.clone(), record).is_some() {
                return Err(table_err(format!("row {row}: patient {id} appears twice")));
            }
        }
        Ok(ClinicalTable {
            path,
            columns: headers,
            records,
        })
    }

    /// The record of patient `id` (matched case-insensitively), if the table holds it.
    #[must_use]
    pub fn get(&self, id: &str) -> Option<&ClinicalRecord> {
        self.records.get(&id.trim().to_uppercase())
    }

    /// All records in ascending id order.
    pub fn iter(&self) -> impl Iterator<Item = &ClinicalRecord> {
        self.records.values()
    }

    /// The number of patients.
    #[must_use]
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the table holds no patient.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The column headers in file order (empty headers are named `Unnamed: <index>`, as pandas does).
    #[must_use]
    pub fn columns(&self) -> &[String] {
        &self.columns
    }

    /// The file the table was read from.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Column indices of the typed fields.
struct TypedColumns {
    dataset: Option<usize>,
    age: Option<usize>,
    menopause: Option<usize>,
    breast_density: Option<usize>,
    pcr: Option<usize>,
    tumor_subtype: Option<usize>,
    hr: Option<usize>,
    er: Option<usize>,
    pr: Option<usize>,
    her2: Option<usize>,
}

impl TypedColumns {
    fn indices(&self) -> Vec<usize> {
        [
            self.dataset,
            self.age,
            self.menopause,
            self.breast_density,
            self.pcr,
            self.tumor_subtype,
            self.hr,
            self.er,
            self.pr,
            self.her2,
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// Header texts; a missing header becomes `Unnamed: <index>` (pandas' name).
fn header_names(headers: Vec<Option<String>>) -> Vec<String> {
    headers
        .into_iter()
        .enumerate()
        .map(|(i, h)| h.map_or_else(|| format!("Unnamed: {i}"), |s| s.trim().to_string()))
        .collect()
}

/// `None` for pandas' missing-value texts, else the text unchanged.
pub(crate) fn na_to_none(text: &str) -> Option<String> {
    if NA_VALUES.contains(&text.trim()) {
        None
    } else {
        Some(text.to_string())
    }
}

/// The text of a spreadsheet cell (see [`ClinicalRecord::extra`] for the formatting).
fn cell_text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty | Data::Error(_) => None,
        Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => na_to_none(s),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) => Some(format_float(*f)),
        Data::Bool(b) => Some(if *b { "True" } else { "False" }.to_string()),
        Data::DateTime(d) => {
            let (y, mo, da, h, mi, s, _) = d.to_ymd_hms_milli();
            Some(format!("{y:04}-{mo:02}-{da:02} {h:02}:{mi:02}:{s:02}"))
        }
    }
}

/// Shortest round-trip text of a float; NaN is missing in the callers' eyes, so it is written as `NaN`.
fn format_float(f: f64) -> String {
    if f.is_nan() {
        "NaN".to_string()
    } else {
        format!("{f}")
    }
}

/// Parses a finite number; `Err(text)` for junk.
fn parse_age(cell: Option<String>) -> std::result::Result<Option<f64>, String> {
    match cell {
        None => Ok(None),
        Some(t) => match t.trim().parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(t),
        },
    }
}

/// Parses 0 or 1 (also written `0.0`/`1.0`, as pandas writes a float column); `Err(text)` otherwise.
fn parse_binary(cell: Option<String>) -> std::result::Result<Option<u8>, String> {
    match cell {
        None => Ok(None),
        Some(t) => match t.trim().parse::<f64>() {
            Ok(v) if v == 0.0 || v == 1.0 => Ok(Some(u8::from(v == 1.0))),
            _ => Err(t),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn na_values_are_missing() {
        for t in NA_VALUES {
            assert_eq!(na_to_none(t), None, "{t}");
        }
        assert_eq!(na_to_none(" NaN "), None);
        assert_eq!(na_to_none("pre"), Some("pre".to_string()));
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_binary(Some("1.0".into())), Ok(Some(1)));
        assert_eq!(parse_binary(Some("0".into())), Ok(Some(0)));
        assert_eq!(parse_binary(Some("2".into())), Err("2".into()));
        assert_eq!(parse_age(Some(" 41.5".into())), Ok(Some(41.5)));
        assert_eq!(parse_age(Some("inf".into())), Err("inf".into()));
        assert_eq!(format_float(160.0), "160");
        assert_eq!(format_float(0.804), "0.804");
    }
}
