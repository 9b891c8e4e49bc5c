//! A named feature table: case identifiers × feature columns, read from the CSV that
//! `examples/extract_features.rs` writes (header `case_id,<PyRadiomics feature names…>`).
//!
//! NaN/Inf policy: values are read as given (an empty cell or `nan` becomes NaN) and
//! [`FeatureTable::check_finite`] rejects any non-finite value with [`Error::NonFinite`] naming the case and
//! feature; nothing is imputed silently. Training and prediction call it before use.

use std::path::Path;

use ndarray::{Array2, Axis};

use crate::{Error, Result};

/// Feature values with their case identifiers and feature names.
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureTable {
    /// Case identifiers, one per row.
    pub ids: Vec<String>,
    /// Feature names, one per column.
    pub names: Vec<String>,
    /// Values `(n_cases, n_features)`.
    pub values: Array2<f64>,
}

impl FeatureTable {
    /// A table from parts.
    ///
    /// # Errors
    /// [`Error::Shape`] when `ids`/`names` do not match the array's shape.
    pub fn new(ids: Vec<String>, names: Vec<String>, values: Array2<f64>) -> Result<Self> {
        if values.dim() != (ids.len(), names.len()) {
            return Err(Error::Shape {
                what: "feature table (ids × names)",
                expected: vec![ids.len(), names.len()],
                got: values.shape().to_vec(),
            });
        }
        Ok(Self { ids, names, values })
    }

    /// Reads a CSV whose first column is the case identifier and the others numeric features.
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Parse`] (naming the line) for a ragged row or a non-numeric cell.
    pub fn from_csv(path: &Path) -> Result<Self> {
        let parse_err = |line: usize, reason: String| Error::Parse {
            path: path.to_path_buf(),
            line,
            reason,
        };
        let mut rdr = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_path(path)
            .map_err(|e| csv_error(path, e))?;
        let header = rdr.headers().map_err(|e| csv_error(path, e))?.clone();
        if header.len() < 2 {
            return Err(parse_err(
                1,
                "expected `case_id` and at least one feature column".into(),
            ));
        }
        let names: Vec<String> = header.iter().skip(1).map(str::to_string).collect();
        let mut ids = Vec::new();
        let mut data = Vec::new();
        for (r, rec) in rdr.records().enumerate() {
            let line = r + 2;
            let rec = rec.map_err(|e| parse_err(line, e.to_string()))?;
            if rec.len() != header.len() {
                return Err(parse_err(
                    line,
                    format!("{} cells, header has {}", rec.len(), header.len()),
                ));
            }
            ids.push(rec[0].to_string());
            for (j, cell) in rec.iter().skip(1).enumerate() {
                let t = cell.trim();
                let v = if t.is_empty() {
                    f64::NAN
                } else {
                    t.parse::<f64>().map_err(|_| {
                        parse_err(
                            line,
                            format!("`{t}` in column `{}` is not a number", names[j]),
                        )
                    })?
                };
                data.push(v);
            }
        }
        let values = Array2::from_shape_vec((ids.len(), names.len()), data)
            .map_err(|e| parse_err(1, e.to_string()))?;
        Self::new(ids, names, values)
    }

    /// The columns `names`, in that order.
    ///
    /// # Errors
    /// [`Error::MissingFeature`] naming the first absent feature.
    pub fn select(&self, names: &[String]) -> Result<Self> {
        let idx = names
            .iter()
            .map(|n| {
                self.names
                    .iter()
                    .position(|m| m == n)
                    .ok_or_else(|| Error::MissingFeature {
                        name: n.clone(),
                        source_name: "the feature table".into(),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            ids: self.ids.clone(),
            names: names.to_vec(),
            values: self.values.select(Axis(1), &idx),
        })
    }

    /// The rows `rows`, in that order.
    #[must_use]
    pub fn select_rows(&self, rows: &[usize]) -> Self {
        Self {
            ids: rows.iter().map(|&r| self.ids[r].clone()).collect(),
            names: self.names.clone(),
            values: self.values.select(Axis(0), rows),
        }
    }

    /// Rejects NaN/Inf values.
    ///
    /// # Errors
    /// [`Error::NonFinite`] naming the case and the feature.
    pub fn check_finite(&self) -> Result<()> {
        for ((r, c), &v) in self.values.indexed_iter() {
            if !v.is_finite() {
                return Err(Error::NonFinite {
                    case: self.ids[r].clone(),
                    feature: self.names[c].clone(),
                    value: v,
                });
            }
        }
        Ok(())
    }
}

fn csv_error(path: &Path, e: csv::Error) -> Error {
    match e.into_kind() {
        csv::ErrorKind::Io(source) => Error::Io {
            path: path.to_path_buf(),
            source,
        },
        other => Error::Parse {
            path: path.to_path_buf(),
            line: 0,
            reason: format!("{other:?}"),
        },
    }
}
