//! Splits, oversampling rule, bounds and crop/pad of the patch sampler (nnU-Net v2.8.1 `data_loader.py`
//! rules; `get_patch_size` values are checked in `tests/augment.rs`).

use std::collections::BTreeMap;

use ndarray::{Array3, Array4};
use nnunet_preproc::{
    crop_and_pad_seg, fold_cases, generate_crossval_split, patch_lower_bound, read_splits_json,
    sample_rng, write_splits_json, Fold, InMemoryCase, PatchSampler, SamplerConfig, TrainingCase,
};

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("case_{i:03}")).collect()
}

#[test]
fn kfold_chunks_partition_and_roundtrip() {
    let all = ids(23);
    let splits = generate_crossval_split(&all, 5, 12345).unwrap();
    let sizes: Vec<usize> = splits.iter().map(|s| s.val.len()).collect();
    assert_eq!(sizes, vec![5, 5, 5, 4, 4]); // sklearn KFold: the first n % k folds hold one more
    let mut union: Vec<String> = splits.iter().flat_map(|s| s.val.clone()).collect();
    union.sort();
    assert_eq!(union, all);
    for s in &splits {
        assert_eq!(s.train.len() + s.val.len(), 23);
        assert!(s.train.windows(2).all(|w| w[0] < w[1]) && s.val.windows(2).all(|w| w[0] < w[1]));
    }
    assert_eq!(splits, generate_crossval_split(&all, 5, 12345).unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("splits_final.json");
    write_splits_json(&path, &splits).unwrap();
    assert_eq!(read_splits_json(&path).unwrap(), splits);
    // nnU-Net's own file format.
    std::fs::write(&path, r#"[{"train": ["a", "b"], "val": ["c"]}]"#).unwrap();
    let s = read_splits_json(&path).unwrap();
    assert_eq!(
        fold_cases(&s, Fold::Index(0), &ids(3), 12345).val,
        vec!["c".to_string()]
    );
    assert_eq!(fold_cases(&s, Fold::All, &ids(3), 12345).train.len(), 3);
    let r = fold_cases(&s, Fold::Index(7), &ids(10), 12345);
    assert_eq!((r.train.len(), r.val.len()), (8, 2));
}

#[test]
fn oversampling_rule() {
    let cfg = |b| SamplerConfig {
        batch_size: b,
        ..Default::default()
    };
    // round(bs · 0.67): bs 2 → 1 (the 2nd sample), bs 3 → 2, bs 4 → 3, bs 1 → 1 (never)
    assert_eq!(
        (0..2)
            .map(|j| cfg(2).forced_foreground(j))
            .collect::<Vec<_>>(),
        vec![false, true]
    );
    assert_eq!(
        (0..3)
            .map(|j| cfg(3).forced_foreground(j))
            .collect::<Vec<_>>(),
        vec![false, false, true]
    );
    assert_eq!(
        (0..4)
            .map(|j| cfg(4).forced_foreground(j))
            .collect::<Vec<_>>(),
        vec![false, false, false, true]
    );
    assert!(!cfg(1).forced_foreground(0));
}

#[test]
fn bounds_follow_nnunet() {
    let none = BTreeMap::new();
    let mut rng = sample_rng(1, 2, 3);
    // shape 50, loader patch 40, final 30: need 10 → lb ∈ [−5, 50 + 5 − 40 = 15]
    for _ in 0..500 {
        let lb = patch_lower_bound(
            [50, 50, 50],
            [40, 40, 40],
            [30, 30, 30],
            false,
            &none,
            &mut rng,
        );
        assert!(lb.iter().all(|&v| (-5..=15).contains(&v)), "{lb:?}");
    }
    // Small case: shape 20 < patch 40 → need = 20 → lb ∈ [−10, −10]
    let lb = patch_lower_bound(
        [20, 20, 20],
        [40, 40, 40],
        [30, 30, 30],
        false,
        &none,
        &mut rng,
    );
    assert_eq!(lb, [-10, -10, -10]);
    // Forced foreground near the end: no upper clamp.
    let mut loc = BTreeMap::new();
    loc.insert(1i16, vec![[49usize, 49, 49]]);
    let lb = patch_lower_bound(
        [50, 50, 50],
        [40, 40, 40],
        [30, 30, 30],
        true,
        &loc,
        &mut rng,
    );
    assert_eq!(lb, [29, 29, 29]); // 49 − 20, beyond the random range's 15
    let lb = patch_lower_bound(
        [50, 50, 50],
        [40, 40, 40],
        [30, 30, 30],
        true,
        &{
            let mut l = BTreeMap::new();
            l.insert(1i16, vec![[0usize, 3, 10]]);
            l
        },
        &mut rng,
    );
    assert_eq!(lb, [-5, -5, -5]); // clamped below to lb_min
}

#[test]
fn crop_pads_seg_with_minus_one() {
    let seg = Array3::from_elem((4, 4, 4), 1i16);
    let c = crop_and_pad_seg(seg.view(), [-2, 1, 3], [4, 4, 4], -1);
    assert_eq!(c[[0, 0, 0]], -1);
    assert_eq!(c[[2, 0, 0]], 1);
    assert_eq!(c[[2, 3, 0]], -1);
    assert_eq!(c[[2, 2, 1]], -1);
}

#[test]
fn forced_samples_contain_foreground() {
    let mut seg = Array3::<i16>::zeros((40, 40, 40));
    seg[[35, 3, 20]] = 1;
    let case = InMemoryCase {
        id: "a".into(),
        data: Array4::zeros((1, 40, 40, 40)),
        seg,
        class_locations: BTreeMap::from([(1i16, vec![[35usize, 3, 20]])]),
    };
    assert_eq!(case.id(), "a");
    let cfg = SamplerConfig {
        patch_size: [16; 3],
        loader_patch_size: [24; 3],
        batch_size: 2,
        ..Default::default()
    };
    let s = PatchSampler::new(vec![Box::new(case)], cfg).unwrap();
    for b in 0..20 {
        let mut rng = sample_rng(9, b, 1);
        let p = s.sample(0, 1, &mut rng);
        assert!(p.forced_foreground);
        assert!(p.seg.iter().any(|&v| v == 1));
        assert_eq!(p.data.shape(), &[1, 24, 24, 24]);
    }
}
