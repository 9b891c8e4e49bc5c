//! Sequential forward/backward feature selection with stratified k-fold cross-validation and a pluggable
//! estimator.
//!
//! Semantics of scikit-learn 1.x `SequentialFeatureSelector(estimator, n_features_to_select=k,
//! direction=…, scoring=…, cv=StratifiedKFold(n))` (`sklearn/feature_selection/_sequential.py`): at every
//! step each remaining candidate (ascending column order) is scored by the mean of its per-fold scores and
//! the first maximum wins; mlxtend's `SequentialFeatureSelector` (the seed code) behaves the same for
//! `floating=False`. Candidates × folds run in parallel with rayon; estimators can warm-start from the
//! previous step's per-fold models.

use ndarray::{Array2, ArrayView2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::invalid;
use crate::features::kfold::{stratified_kfold, Shuffle};
use crate::features::logistic::{LogisticModel, LogisticRegression};
use crate::train::check_training_data;
use crate::{Error, Result};

/// A classifier usable inside [`sequential_feature_selection`]; columns are feature-major slices.
pub trait Estimator: Sync {
    /// The fitted model.
    type Model: Send + Sync + Clone;

    /// Fits on `cols` (one slice per feature, all of length `y.len()`), optionally starting from `warm`.
    ///
    /// # Errors
    /// Estimator-specific (e.g. a single-class fold).
    fn fit(&self, cols: &[&[f64]], y: &[u8], warm: Option<&Self::Model>) -> Result<Self::Model>;

    /// Predicted labels of `cols`.
    ///
    /// # Errors
    /// Estimator-specific.
    fn predict(&self, model: &Self::Model, cols: &[&[f64]]) -> Result<Vec<u8>>;

    /// A starting point for a fit on a new column set: `columns[j]` is the index in `model`'s columns of new
    /// column `j`, or `None` for a column `model` did not see. `None` (the default) means a cold start.
    fn adapt(&self, _model: &Self::Model, _columns: &[Option<usize>]) -> Option<Self::Model> {
        None
    }
}

impl Estimator for LogisticRegression {
    type Model = LogisticModel;

    fn fit(
        &self,
        cols: &[&[f64]],
        y: &[u8],
        warm: Option<&LogisticModel>,
    ) -> Result<LogisticModel> {
        LogisticRegression::fit(self, cols, y, warm)
    }

    fn predict(&self, model: &LogisticModel, cols: &[&[f64]]) -> Result<Vec<u8>> {
        Ok(model.predict(cols))
    }

    fn adapt(&self, model: &LogisticModel, columns: &[Option<usize>]) -> Option<LogisticModel> {
        let coef = columns
            .iter()
            .map(|c| c.and_then(|i| model.coef.get(i).copied()).unwrap_or(0.0))
            .collect();
        Some(LogisticModel {
            coef,
            intercept: model.intercept,
        })
    }
}

/// Direction of the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Direction {
    /// Start empty, add the best feature per step.
    #[default]
    Forward,
    /// Start full, remove the feature whose removal scores best per step.
    Backward,
}

/// Cross-validation score of a fold's predictions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Scoring {
    /// `½·(TN/N + TP/P)` (scikit-learn `balanced_accuracy`; what MAMA-MIA Task 2 scores).
    #[default]
    BalancedAccuracy,
    /// Fraction correct (the seed code's `accuracy`).
    Accuracy,
}

impl Scoring {
    /// The score of predictions `pred` against `truth` (scikit-learn's arithmetic order).
    #[must_use]
    pub fn score(self, truth: &[u8], pred: &[u8]) -> f64 {
        let mut c = [[0usize; 2]; 2];
        for (&t, &p) in truth.iter().zip(pred) {
            c[usize::from(t.min(1))][usize::from(p.min(1))] += 1;
        }
        match self {
            Scoring::Accuracy => (c[0][0] + c[1][1]) as f64 / truth.len().max(1) as f64,
            Scoring::BalancedAccuracy => {
                let recalls: Vec<f64> = (0..2)
                    .filter(|&k| c[k][0] + c[k][1] > 0)
                    .map(|k| c[k][k] as f64 / (c[k][0] + c[k][1]) as f64)
                    .collect();
                recalls.iter().sum::<f64>() / recalls.len().max(1) as f64
            }
        }
    }
}

/// Settings of [`sequential_feature_selection`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SfsConfig {
    /// Number of features to keep (the paper: 40).
    pub n_features: usize,
    /// Search direction.
    pub direction: Direction,
    /// Number of stratified folds.
    pub n_splits: usize,
    /// Fold shuffling.
    pub shuffle: Shuffle,
    /// Fold score.
    pub scoring: Scoring,
}

impl Default for SfsConfig {
    /// 40 features, forward, 5 stratified folds without shuffling, balanced accuracy.
    fn default() -> Self {
        Self {
            n_features: 40,
            direction: Direction::Forward,
            n_splits: 5,
            shuffle: Shuffle::None,
            scoring: Scoring::BalancedAccuracy,
        }
    }
}

/// The result of a sequential selection.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// Selected column indices, ascending (scikit-learn's `get_support(indices=True)`).
    pub selected: Vec<usize>,
    /// Columns in the order they were added (forward) or removed (backward).
    pub order: Vec<usize>,
    /// Mean CV score after each step.
    pub step_scores: Vec<f64>,
}

struct FoldData {
    train: Array2<f64>,
    test: Array2<f64>,
    y_train: Vec<u8>,
    y_test: Vec<u8>,
}

/// Sequential feature selection of `cfg.n_features` columns of `x` `(n_samples, n_features)`.
///
/// ```text
/// forward:  S ← ∅;  repeat k times:  S ← S ∪ {argmax_{j∉S} mean_f score_f(S ∪ {j})}
/// backward: S ← all; repeat p − k times: S ← S \ {argmax_{j∈S} mean_f score_f(S \ {j})}
/// ties: the smallest column index
/// ```
///
/// # Errors
/// [`Error::TooFewFeatures`] when `x` has fewer columns than `n_features`; [`Error::InvalidParameter`] for
/// `n_features == 0`; those of [`check_training_data`] and [`stratified_kfold`]; estimator errors.
pub fn sequential_feature_selection<E: Estimator>(
    x: ArrayView2<f64>,
    y: &[u8],
    estimator: &E,
    cfg: &SfsConfig,
) -> Result<Selection> {
    check_training_data(x, y)?;
    let p = x.ncols();
    if cfg.n_features == 0 {
        return Err(invalid("n_features", "must be positive".into()));
    }
    if cfg.n_features > p {
        return Err(Error::TooFewFeatures {
            available: p,
            requested: cfg.n_features,
        });
    }
    let folds: Vec<FoldData> = stratified_kfold(y, cfg.n_splits, cfg.shuffle)?
        .into_iter()
        .map(|f| FoldData {
            train: x
                .select(Axis(0), &f.train)
                .reversed_axes()
                .as_standard_layout()
                .into_owned(),
            test: x
                .select(Axis(0), &f.test)
                .reversed_axes()
                .as_standard_layout()
                .into_owned(),
            y_train: f.train.iter().map(|&i| y[i]).collect(),
            y_test: f.test.iter().map(|&i| y[i]).collect(),
        })
        .collect();
    let (mut current, steps) = match cfg.direction {
        Direction::Forward => (Vec::new(), cfg.n_features),
        Direction::Backward => ((0..p).collect::<Vec<_>>(), p - cfg.n_features),
    };
    let mut warm: Vec<Option<E::Model>> = vec![None; folds.len()];
    let mut order = Vec::with_capacity(steps);
    let mut step_scores = Vec::with_capacity(steps);
    for _ in 0..steps {
        let candidates: Vec<usize> = match cfg.direction {
            Direction::Forward => (0..p).filter(|j| !current.contains(j)).collect(),
            Direction::Backward => {
                let mut c = current.clone();
                c.sort_unstable();
                c
            }
        };
        let tasks: Vec<(usize, usize)> = (0..candidates.len())
            .flat_map(|c| (0..folds.len()).map(move |f| (c, f)))
            .collect();
        let results: Vec<(f64, E::Model)> = tasks
            .par_iter()
            .map(|&(c, f)| {
                let cand = candidates[c];
                let (cols_idx, map): (Vec<usize>, Vec<Option<usize>>) = match cfg.direction {
                    Direction::Forward => {
                        let mut cols = current.clone();
                        cols.push(cand);
                        let map = (0..cols.len())
                            .map(|i| (i < current.len()).then_some(i))
                            .collect();
                        (cols, map)
                    }
                    Direction::Backward => {
                        let pos = current
                            .iter()
                            .position(|&j| j == cand)
                            .unwrap_or(usize::MAX);
                        let cols: Vec<usize> =
                            current.iter().copied().filter(|&j| j != cand).collect();
                        let map = (0..cols.len())
                            .map(|i| Some(if i < pos { i } else { i + 1 }))
                            .collect();
                        (cols, map)
                    }
                };
                let fd = &folds[f];
                let train: Vec<&[f64]> =
                    cols_idx.iter().map(|&j| row_slice(&fd.train, j)).collect();
                let test: Vec<&[f64]> = cols_idx.iter().map(|&j| row_slice(&fd.test, j)).collect();
                let start = warm[f].as_ref().and_then(|m| estimator.adapt(m, &map));
                let model = estimator.fit(&train, &fd.y_train, start.as_ref())?;
                let pred = estimator.predict(&model, &test)?;
                Ok((cfg.scoring.score(&fd.y_test, &pred), model))
            })
            .collect::<Result<_>>()?;
        let nf = folds.len();
        let mut best = (0usize, f64::NEG_INFINITY);
        for c in 0..candidates.len() {
            let mean = results[c * nf..(c + 1) * nf]
                .iter()
                .map(|r| r.0)
                .sum::<f64>()
                / nf as f64;
            if mean > best.1 {
                best = (c, mean);
            }
        }
        let chosen = candidates[best.0];
        match cfg.direction {
            Direction::Forward => current.push(chosen),
            Direction::Backward => current.retain(|&j| j != chosen),
        }
        warm = results[best.0 * nf..(best.0 + 1) * nf]
            .iter()
            .map(|r| Some(r.1.clone()))
            .collect();
        order.push(chosen);
        step_scores.push(best.1);
    }
    let mut selected = current;
    selected.sort_unstable();
    Ok(Selection {
        selected,
        order,
        step_scores,
    })
}

fn row_slice(a: &Array2<f64>, j: usize) -> &[f64] {
    let start = j * a.ncols();
    &a.as_slice().expect("standard layout")[start..start + a.ncols()]
}
