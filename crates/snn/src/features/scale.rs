//! Standardisation (z-scores) fitted with linfa-preprocessing and persisted as plain offsets and scales.
//!
//! linfa-preprocessing 0.8 `LinearScaler::standard()` = scikit-learn `StandardScaler` (population standard
//! deviation, a constant feature keeps scale 1).

use linfa::traits::Fit;
use linfa::DatasetBase;
use linfa_preprocessing::linear_scaling::LinearScaler;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::train::check_finite;
use crate::{Error, Result};

/// A fitted standardiser: `x' = (x − offset)·scale` per feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardizer {
    /// Feature means.
    pub offsets: Vec<f64>,
    /// Inverse population standard deviations (1 for constant features).
    pub scales: Vec<f64>,
}

impl Standardizer {
    /// Fits on `x` `(n_samples, n_features)`.
    ///
    /// ```text
    /// offset_j = mean_i x_ij,   scale_j = 1 / √(mean_i (x_ij − offset_j)²)   (1 if that is 0)
    /// ```
    ///
    /// # Errors
    /// [`Error::NonFinite`] for NaN/Inf values; linfa's error for zero samples.
    pub fn fit(x: ArrayView2<f64>) -> Result<Self> {
        check_finite(x)?;
        let ds = DatasetBase::new(x.to_owned(), Array1::<usize>::zeros(x.nrows()));
        let scaler: LinearScaler<f64> = LinearScaler::standard().fit(&ds)?;
        Ok(Self {
            offsets: scaler.offsets().to_vec(),
            scales: scaler.scales().to_vec(),
        })
    }

    /// Number of features.
    #[must_use]
    pub fn n_features(&self) -> usize {
        self.offsets.len()
    }

    /// Standardises `x`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the column count differs from the fitted one.
    pub fn transform(&self, x: ArrayView2<f64>) -> Result<Array2<f64>> {
        if x.ncols() != self.n_features() {
            return Err(Error::Shape {
                what: "standardiser columns",
                expected: vec![self.n_features()],
                got: vec![x.ncols()],
            });
        }
        let mut out = x.to_owned();
        for (mut col, (&o, &s)) in out
            .columns_mut()
            .into_iter()
            .zip(self.offsets.iter().zip(&self.scales))
        {
            col.mapv_inplace(|v| (v - o) * s);
        }
        Ok(out)
    }
}
