//! Stratified k-fold cross-validation splits.
//!
//! Without shuffling the assignment is identical to scikit-learn 1.x `StratifiedKFold(n_splits)`
//! (`sklearn/model_selection/_split.py`, `_make_test_folds`): the sorted labels are dealt round-robin to
//! the folds to get per-fold class counts, then each class's samples are given fold numbers in sample order.
//! With shuffling the per-class fold numbers are permuted by `ChaCha8(seed)` (not numpy's stream).

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::invalid;
use crate::{Error, Result};

/// Whether fold numbers are permuted within each class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Shuffle {
    /// scikit-learn's default (`shuffle=False`): deterministic, sample order.
    #[default]
    None,
    /// Permuted with `ChaCha8(seed)`.
    Seeded(u64),
}

/// One split: sorted training and test indices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// Training indices (ascending).
    pub train: Vec<usize>,
    /// Test indices (ascending).
    pub test: Vec<usize>,
}

/// The test-fold number of every sample.
///
/// ```text
/// allocation[f][c] = #{ i ≡ f (mod k) : sort(y)[i] = c }
/// class c's samples, in order, get folds 0…0 1…1 … (allocation[f][c] times f), optionally permuted
/// ```
///
/// # Errors
/// [`Error::InvalidParameter`] for `n_splits < 2`; [`Error::InvalidLabel`]; [`Error::TooFewSamples`] when a
/// class has fewer than `n_splits` samples.
pub fn stratified_fold_ids(y: &[u8], n_splits: usize, shuffle: Shuffle) -> Result<Vec<usize>> {
    if n_splits < 2 {
        return Err(invalid("n_splits", format!("{n_splits} is below 2")));
    }
    if let Some(row) = y.iter().position(|&v| v > 1) {
        return Err(Error::InvalidLabel {
            row,
            value: f64::from(y[row]),
        });
    }
    let counts = [
        y.iter().filter(|&&v| v == 0).count(),
        y.iter().filter(|&&v| v == 1).count(),
    ];
    for (class, &count) in counts.iter().enumerate() {
        if count < n_splits {
            return Err(Error::TooFewSamples {
                class: class as u8,
                count,
                n_splits,
            });
        }
    }
    let mut rng = match shuffle {
        Shuffle::None => None,
        Shuffle::Seeded(seed) => Some(ChaCha8Rng::seed_from_u64(seed)),
    };
    let mut ids = vec![0; y.len()];
    let mut offset = 0;
    for (class, &count) in counts.iter().enumerate() {
        // Sorted labels: class 0 occupies positions [0, counts[0]), class 1 the rest.
        let mut folds: Vec<usize> = Vec::with_capacity(count);
        for f in 0..n_splits {
            let in_fold = (offset..offset + count)
                .filter(|i| i % n_splits == f)
                .count();
            folds.extend(std::iter::repeat_n(f, in_fold));
        }
        if let Some(rng) = rng.as_mut() {
            folds.shuffle(rng);
        }
        let members = (0..y.len()).filter(|&i| usize::from(y[i]) == class);
        for (i, f) in members.zip(folds) {
            ids[i] = f;
        }
        offset += count;
    }
    Ok(ids)
}

/// Stratified k-fold splits ([`stratified_fold_ids`]) as index lists, fold 0 first.
///
/// # Errors
/// Those of [`stratified_fold_ids`].
pub fn stratified_kfold(y: &[u8], n_splits: usize, shuffle: Shuffle) -> Result<Vec<Fold>> {
    let ids = stratified_fold_ids(y, n_splits, shuffle)?;
    Ok((0..n_splits)
        .map(|f| Fold {
            train: (0..y.len()).filter(|&i| ids[i] != f).collect(),
            test: (0..y.len()).filter(|&i| ids[i] == f).collect(),
        })
        .collect())
}
