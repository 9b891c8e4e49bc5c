//! Whole-dataset preprocessing: failures are recorded and the batch goes on; a re-run resumes.

use std::path::Path;

use ndarray::Array3;
use nnunet_preproc::batch::{fingerprint_cases, preprocess_cases, BatchOptions};
use nnunet_preproc::{
    write_mask, write_volume, CaseFiles, Flavour, Geometry, Plans, PlansParams, PreprocessedCache,
    PreprocessedCase, SegmentationRequirement, TargetSpacing,
};

fn write_case(dir: &Path, id: &str, shape: (usize, usize, usize), spacing: [f64; 3]) -> CaseFiles {
    let geometry = Geometry::from_spacing(spacing);
    let mut channels = Vec::new();
    for c in 0..2 {
        let img = Array3::from_shape_fn(shape, |(z, y, x)| {
            if z == 0 {
                0.0 // a zero slab: cropped away
            } else {
                (10 * c + z * 3 + y * 2 + x) as f32 + ((x * y) % 5) as f32
            }
        });
        let path = dir.join(format!("{id}_{c:04}.nii.gz"));
        write_volume(&path, img.view(), &geometry).unwrap();
        channels.push(path);
    }
    let seg = Array3::from_shape_fn(shape, |(z, y, x)| {
        u8::from(z > 1 && (2..5).contains(&y) && x < 4)
    });
    let seg_path = dir.join(format!("{id}.nii.gz"));
    write_mask(&seg_path, seg.view(), &geometry).unwrap();
    CaseFiles {
        id: id.to_string(),
        channels,
        segmentation: Some(seg_path),
    }
}

#[test]
fn failed_case_is_recorded_and_rerun_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let raw = dir.path().join("raw");
    std::fs::create_dir_all(&raw).unwrap();
    let a = write_case(&raw, "CASE_A", (6, 9, 8), [2.0, 1.0, 1.0]);
    let b = write_case(&raw, "CASE_B", (7, 8, 9), [2.0, 1.0, 1.0]);
    // CASE_C: second channel has another shape -> GeometryMismatch, recorded, batch goes on
    let mut c = write_case(&raw, "CASE_C", (6, 8, 8), [2.0, 1.0, 1.0]);
    let odd = write_case(&raw, "ODD", (6, 8, 7), [2.0, 1.0, 1.0]);
    c.channels[1] = odd.channels[1].clone();
    let cases = vec![a, b, c];
    let options = BatchOptions {
        segmentation: SegmentationRequirement::Required,
        progress: false,
    };

    let (fingerprints, failed) = fingerprint_cases(&cases, &options);
    assert_eq!(fingerprints.len(), 2);
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].0, "CASE_C");
    assert!(failed[0].1.contains("CASE_C"), "{}", failed[0].1);

    let fps: Vec<_> = fingerprints.into_iter().map(|(_, f)| f).collect();
    let fp = nnunet_preproc::dataset_fingerprint(&fps).unwrap();
    let params = PlansParams::new()
        .flavour(Flavour::V1)
        .target_spacing(TargetSpacing::Fixed([1.0, 1.0, 1.0]));
    let plans = Plans::from_fingerprint(&fp, &["pre", "post1"], &params).unwrap();

    let cache = PreprocessedCache::create(dir.path().join("cache")).unwrap();
    let report = preprocess_cases(&cases, &plans, &cache, &options).unwrap();
    assert_eq!(
        report.done,
        vec!["CASE_A".to_string(), "CASE_B".to_string()]
    );
    assert!(report.skipped.is_empty());
    assert_eq!(report.failed.len(), 1);
    assert!(cache.failures().unwrap().contains_key("CASE_C"));

    // the cached case equals a direct preprocessing of the same files
    let case = nnunet_preproc::load_case(&cases[0], SegmentationRequirement::Required).unwrap();
    let direct: PreprocessedCase = nnunet_preproc::preprocess_case(
        case.data.view(),
        case.segmentation.as_ref().map(|s| s.view()),
        &case.geometry,
        &plans,
    )
    .unwrap();
    let mapped = cache.map_case("CASE_A").unwrap();
    assert_eq!(mapped.data(), direct.data.view());
    assert_eq!(mapped.seg(), direct.seg.as_ref().map(|s| s.view()));
    // z spacing 2 mm -> 1 mm doubles the (cropped) depth: 5 -> 10
    assert_eq!(mapped.data().shape(), &[2, 10, 9, 8]);

    // re-run: finished cases are skipped; a case whose marker is gone is redone
    std::fs::remove_file(cache.properties_path("CASE_B")).unwrap();
    let again = preprocess_cases(&cases, &plans, &cache, &options).unwrap();
    assert_eq!(again.skipped, vec!["CASE_A".to_string()]);
    assert_eq!(again.done, vec!["CASE_B".to_string()]);
    assert_eq!(again.failed.len(), 1);
    assert_eq!(
        cache.case_ids().unwrap(),
        vec!["CASE_A".to_string(), "CASE_B".to_string()]
    );
}
