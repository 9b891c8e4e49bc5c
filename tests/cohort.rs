//! The synthetic cohort: it reads back through `nnunet_preproc::mamamia`, the same seed gives byte-identical
//! files, and its images and labels have the documented properties.

use std::collections::BTreeMap;
use std::path::Path;

use dce_pipeline::cohort::{generate_cohort, read_manifest, CohortConfig, Split};
use nnunet_preproc::{load_case, MamaMia, SegmentationRequirement};

fn small_config(seed: u64) -> CohortConfig {
    CohortConfig {
        cases: 9,
        seed,
        fov_mm: [44.0, 40.0, 44.0],
        ..CohortConfig::default()
    }
}

/// Every file under `root` with its bytes, by relative path.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_images() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    generate_cohort(a.path(), &small_config(5), None).unwrap();
    generate_cohort(b.path(), &small_config(5), None).unwrap();
    generate_cohort(c.path(), &small_config(6), None).unwrap();
    let (fa, fb, fc) = (files(a.path()), files(b.path()), files(c.path()));
    // 9 cases × (3 phases + mask + json) + clinical + splits + manifest
    assert_eq!(fa.len(), 9 * 5 + 3);
    assert_eq!(fa, fb);
    let phase = "images/SITEA_001/sitea_001_0001.nii.gz";
    assert!(fa.contains_key(phase));
    assert_ne!(fa[phase], fc[phase]);
    assert!(!fa.keys().any(|k| k.contains(".partial")));
}

#[test]
fn reads_back_through_the_mamamia_reader() {
    let dir = tempfile::tempdir().unwrap();
    let cohort = generate_cohort(dir.path(), &small_config(11), None).unwrap();
    assert_eq!(read_manifest(dir.path()).unwrap(), cohort);
    let ds = MamaMia::open(dir.path()).unwrap();
    assert!(ds.warnings().is_empty(), "{:?}", ds.warnings());
    let ids: Vec<String> = cohort.cases.iter().map(|c| c.id.clone()).collect();
    assert_eq!(ds.case_ids(), ids.as_slice());
    let clinical = ds.clinical().unwrap();
    assert_eq!(clinical.len(), 9);
    let splits = ds.splits().unwrap();
    assert_eq!(splits.train, cohort.ids(Split::Train));
    assert_eq!(splits.test, cohort.ids(Split::Test));
    assert_eq!(splits.train.len() + splits.test.len(), 9);
    assert!(!splits.test.is_empty());

    let mut spacings = Vec::new();
    for case in &cohort.cases {
        assert_eq!(ds.phases(&case.id).unwrap(), vec![0, 1, 2]);
        let files = ds.case_files(&case.id, &[0, 1, 2]).unwrap();
        let loaded = load_case(&files, SegmentationRequirement::Required).unwrap();
        assert_eq!(loaded.data.shape()[1..], case.shape);
        assert_eq!(loaded.geometry.spacing, case.spacing);
        spacings.push(case.spacing);
        let seg = loaded.segmentation.as_ref().unwrap();
        let n = seg.iter().filter(|&&v| v == 1).count();
        assert_eq!(n, case.lesion_voxels);
        assert!(n > 30, "{}: lesion of {n} voxels", case.id);

        // the breast box of the JSON holds the whole lesion
        let info = ds.patient_info(&case.id).unwrap();
        let bx = info.breast_box.unwrap();
        assert_eq!([bx.axis0, bx.axis1, bx.axis2], case.breast_box);
        for ((z, y, x), &v) in seg.indexed_iter() {
            if v == 1 {
                assert!(
                    bx.contains([z, y, x]),
                    "{}: lesion voxel outside the breast box",
                    case.id
                );
            }
        }
        // air is exactly 0 in every phase; the lesion washes in more than the rest of the body
        assert_eq!(loaded.data[[0, 0, 0, 0]], 0.0);
        let (mut les, mut body, mut nl, mut nb) = (0.0, 0.0, 0.0, 0.0);
        for ((z, y, x), &v) in seg.indexed_iter() {
            let pre = f64::from(loaded.data[[0, z, y, x]]);
            if pre == 0.0 {
                continue;
            }
            let r = f64::from(loaded.data[[1, z, y, x]]) / pre;
            if v == 1 {
                les += r;
                nl += 1.0;
            } else {
                body += r;
                nb += 1.0;
            }
        }
        assert!(
            les / nl > 1.3 && body / nb < 1.2,
            "{}: {} vs {}",
            case.id,
            les / nl,
            body / nb
        );

        let rec = clinical.get(&case.id).unwrap();
        assert_eq!(rec.pcr, Some(case.clinical.pcr));
        assert_eq!(rec.age, Some(case.clinical.age));
        assert_eq!(rec.dataset.as_deref(), Some(case.centre.as_str()));
        assert_eq!(
            rec.tumor_subtype.as_deref(),
            Some(case.clinical.tumor_subtype.as_str())
        );
    }
    spacings.sort_by(|a, b| a.partial_cmp(b).unwrap());
    spacings.dedup();
    assert_eq!(spacings.len(), 3, "three centres, three spacings");
}

#[test]
fn pcr_follows_the_documented_model() {
    // The labels of many cases (the volumes are not needed: the model is evaluated on the drawn lesions).
    let config = CohortConfig::default();
    let mut high = (0.0, 0.0);
    let mut low = (0.0, 0.0);
    for i in 0..200 {
        let s = dce_pipeline::cohort::synthesize_case(
            &CohortConfig {
                fov_mm: [24.0, 24.0, 24.0],
                ..config.clone()
            },
            i,
        )
        .unwrap();
        let c = &s.case;
        let bucket = if c.lesion.wash_in > 2.3 {
            &mut high
        } else {
            &mut low
        };
        bucket.0 += f64::from(c.clinical.pcr);
        bucket.1 += 1.0;
        assert!((0.0..=1.0).contains(&c.clinical.pcr_probability));
    }
    let (rate_high, rate_low) = (high.0 / high.1, low.0 / low.1);
    assert!(
        rate_high > rate_low + 0.3,
        "pCR rate {rate_high} (strong wash-in) vs {rate_low}"
    );
}
