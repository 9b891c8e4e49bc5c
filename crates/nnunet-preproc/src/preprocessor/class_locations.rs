//! Foreground voxel locations per label, stored with each preprocessed case for foreground oversampling.
//!
//! Reference: nnU-Net v2 2.8.1 `nnunetv2/preprocessing/preprocessors/default_preprocessor.py`
//! (`DefaultPreprocessor._sample_foreground_locations`) and nnU-Net v1
//! `nnunet/preprocessing/preprocessing.py` (`GenericPreprocessor._run_internal`).
//!
//! # Deviation from the reference
//!
//! nnU-Net draws the subset with numpy's `RandomState(1234).choice(N, n, replace=False)`, a stream this crate
//! cannot reproduce. The **count rule** and the "without replacement" property are the same; the subset itself is
//! drawn with a [`ChaCha8Rng`] seeded with [`CLASS_LOCATION_SEED`] (one generator for all labels, labels in
//! ascending order), so it is deterministic but differs voxel by voxel from nnU-Net's.

use std::collections::BTreeMap;

use ndarray::ArrayView3;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The seed of the generator that picks the stored locations (nnU-Net also seeds with 1234).
pub const CLASS_LOCATION_SEED: u64 = 1234;

/// At most this many locations are kept per label unless 1 % of the label's voxels is more.
pub const MIN_NUM_SAMPLES: usize = 10_000;

/// The minimum fraction of a label's voxels that is kept.
pub const MIN_PERCENT_COVERAGE: f64 = 0.01;

/// How many locations are stored for a label with `n_voxels` voxels.
///
/// ```text
/// n = max(min(10000, N), ceil(0.01 · N))
/// ```
///
/// # Examples
///
/// ```
/// use nnunet_preproc::preprocessor::num_class_locations;
/// assert_eq!(num_class_locations(0), 0);
/// assert_eq!(num_class_locations(230), 230);
/// assert_eq!(num_class_locations(50_000), 10_000);
/// assert_eq!(num_class_locations(2_000_001), 20_001);
/// ```
#[must_use]
pub fn num_class_locations(n_voxels: usize) -> usize {
    let coverage = (n_voxels as f64 * MIN_PERCENT_COVERAGE).ceil() as usize;
    MIN_NUM_SAMPLES.min(n_voxels).max(coverage)
}

/// Samples up to [`num_class_locations`]`(N)` voxel coordinates `[z, y, x]` of each label in `labels` (without
/// replacement; an absent label gets an empty list).
///
/// The labels are visited in ascending order and share one generator seeded with [`CLASS_LOCATION_SEED`]; within
/// a label the coordinates are kept in the order they were drawn. See the module docs for the deviation from
/// nnU-Net's numpy stream.
#[must_use]
pub fn sample_class_locations(
    seg: ArrayView3<i16>,
    labels: &[i16],
) -> BTreeMap<i16, Vec<[usize; 3]>> {
    let mut wanted: Vec<i16> = labels.to_vec();
    wanted.sort_unstable();
    wanted.dedup();
    let mut all: BTreeMap<i16, Vec<[usize; 3]>> = wanted.iter().map(|&l| (l, Vec::new())).collect();
    for ((z, y, x), v) in seg.indexed_iter() {
        if let Some(list) = all.get_mut(v) {
            list.push([z, y, x]);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(CLASS_LOCATION_SEED);
    let mut out = BTreeMap::new();
    for (label, coords) in all {
        let n = num_class_locations(coords.len());
        let picked = if n >= coords.len() {
            // every voxel is kept; draw a permutation anyway so the order does not depend on the scan
            rand::seq::index::sample(&mut rng, coords.len(), coords.len())
        } else {
            rand::seq::index::sample(&mut rng, coords.len(), n)
        };
        out.insert(label, picked.into_iter().map(|i| coords[i]).collect());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array3;

    #[test]
    fn counts_membership_and_determinism() {
        let mut seg = Array3::<i16>::zeros((10, 30, 40));
        seg.slice_mut(ndarray::s![2..8, 5..25, 10..30]).fill(1); // 2400 voxels
        seg[[0, 0, 0]] = 2;
        seg[[9, 29, 39]] = -1;
        let a = sample_class_locations(seg.view(), &[1, 2, 3]);
        let b = sample_class_locations(seg.view(), &[3, 2, 1]);
        assert_eq!(a, b);
        assert_eq!(a[&1].len(), 2400);
        assert_eq!(a[&2], vec![[0, 0, 0]]);
        assert!(a[&3].is_empty());
        let mut uniq = a[&1].clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), 2400);
        assert!(a[&1].iter().all(|&[z, y, x]| seg[[z, y, x]] == 1));
    }

    #[test]
    fn large_labels_are_subsampled_without_replacement() {
        let seg = Array3::<i16>::ones((30, 40, 50)); // 60 000 voxels
        let a = sample_class_locations(seg.view(), &[1]);
        assert_eq!(a[&1].len(), 10_000);
        let mut uniq = a[&1].clone();
        uniq.sort_unstable();
        uniq.dedup();
        assert_eq!(uniq.len(), 10_000);
    }
}
