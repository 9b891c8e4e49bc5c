//! The official MAMA-MIA train/test split, `train_test_splits.csv`.
//!
//! Two columns, `train_split` and `test_split`, one patient id per cell. The file is a pandas export of two
//! columns of unequal length, so the shorter (`test_split`) is padded with empty or `NaN` cells; missing cells
//! (pandas' default `na_values`, see [`NA_VALUES`](crate::mamamia::NA_VALUES)) are skipped in both columns.
//!
//! Reference: LidiaGarrucho/MAMA-MIA README (dataset layout); `/work/shared/reference/mamamia.md` §1 and §1.1
//! (1200 train / 306 test in the official file).

use std::path::Path;

use crate::error::{Error, Result};
use crate::mamamia::clinical::na_to_none;

/// The column of the training ids.
pub const TRAIN_COLUMN: &str = "train_split";
/// The column of the test ids.
pub const TEST_COLUMN: &str = "test_split";

/// Training and test patient ids, canonical upper case, in file order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Splits {
    /// Ids of column `train_split`.
    pub train: Vec<String>,
    /// Ids of column `test_split` (padding dropped).
    pub test: Vec<String>,
}

impl Splits {
    /// Reads `train_test_splits.csv`. Ids are trimmed and upper-cased; header names are matched
    /// case-insensitively; other columns (e.g. a pandas index column) are ignored.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Table`] naming the file when it is not valid CSV or
    /// lacks the `train_split` or `test_split` column.
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
            .clone();
        let find = |name: &str| {
            headers
                .iter()
                .position(|h| {
                    h.trim_start_matches('\u{feff}')
                        .trim()
                        .eq_ignore_ascii_case(name)
                })
                .ok_or_else(|| {
                    table_err(format!(
                        "no column `{name}` (columns: {:?})",
                        headers.iter().collect::<Vec<_>>()
                    ))
                })
        };
        let (train_col, test_col) = (find(TRAIN_COLUMN)?, find(TEST_COLUMN)?);
        let mut splits = Splits::default();
        for record in reader.records() {
            let record = record.map_err(|e| table_err(format!("invalid CSV: {e}")))?;
            let id = |c: usize| {
                record
                    .get(c)
                    .and_then(na_to_none)
                    .map(|s| s.trim().to_uppercase())
            };
            splits.train.extend(id(train_col));
            splits.test.extend(id(test_col));
        }
        Ok(splits)
    }
}
