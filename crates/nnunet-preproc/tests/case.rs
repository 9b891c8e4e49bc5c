/* Case loading (`load_case`) and a MAMA-MIA tree loaded end to end.

Golden values: `tools/golden/make_mamamia_fixtures.py` writes tiny NIfTI files with SimpleITK 2.5.7 into
`crates/nnunet-preproc/tests/data/mamamia/case/` and records, per scenario, what nnunetv2 2.8.1 does with them:
`SimpleITKIO().read_images(channels)` (RuntimeError on a shape or spacing mismatch under numpy `allclose`, printed
warnings on origin/direction differences) and `verify_dataset_integrity.check_cases` with the segmentation
(`case_expected.json`), plus the arrays it reads for scenario `a` (`case_a_data.npy`, `case_a_seg.npy`).
*/

use std::fs;
use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4};
use nnunet_preproc::nifti_io::{write_mask, write_volume};
use nnunet_preproc::{load_case, CaseFiles, Error, Geometry, MamaMia, SegmentationRequirement};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/mamamia")
}

fn case_file(name: &str) -> PathBuf {
    data_dir().join("case").join(format!("{name}.nii.gz"))
}

fn files_of(name: &str, scenario: &Value) -> CaseFiles {
    CaseFiles {
        id: name.to_uppercase(),
        channels: scenario["channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| case_file(c.as_str().unwrap()))
            .collect(),
        segmentation: scenario["segmentation"].as_str().map(case_file),
    }
}

#[test]
fn load_case_agrees_with_nnunetv2() {
    let text = fs::read_to_string(data_dir().join("case_expected.json")).unwrap();
    let expected: Value = serde_json::from_str(&text).unwrap();
    let scenarios = expected.as_object().unwrap();
    assert_eq!(scenarios.len(), 9);
    for (name, want) in scenarios {
        let files = files_of(name, want);
        let result = load_case(&files, SegmentationRequirement::Optional);
        let nnunet_fails = !want["images_error"].is_null() || want["seg_ok"] == Value::Bool(false);
        if nnunet_fails {
            let kind = want["error_kind"].as_str().unwrap();
            match result {
                Err(Error::GeometryMismatch {
                    case,
                    file,
                    reference,
                    what,
                    ..
                }) => {
                    assert_eq!(case, name.to_uppercase());
                    assert_eq!(what, kind, "{name}");
                    assert_eq!(reference, files.channels[0], "{name}");
                    let offending = files
                        .segmentation
                        .clone()
                        .unwrap_or_else(|| files.channels[1].clone());
                    assert_eq!(file, offending, "{name}");
                }
                other => panic!("{name}: expected a {kind} mismatch, got {other:?}"),
            }
            continue;
        }
        let case = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let shape: Vec<usize> = want["data_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(case.data.shape(), shape.as_slice(), "{name}");
        for (a, s) in want["spacing_zyx"].as_array().unwrap().iter().enumerate() {
            assert!(
                (case.geometry.spacing[a] - s.as_f64().unwrap()).abs() < 1e-12,
                "{name}"
            );
        }
        let kinds: Vec<&str> = want["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            case.warnings.len(),
            kinds.len(),
            "{name}: {:?}",
            case.warnings
        );
        for (warning, kind) in case.warnings.iter().zip(&kinds) {
            assert!(
                warning.starts_with(&format!("case {}: {kind}", name.to_uppercase())),
                "{warning}"
            );
            assert!(
                warning.contains(&files.channels[1].display().to_string()),
                "{warning}"
            );
        }
        match &case.segmentation {
            Some(seg) => {
                let fg = want["seg_foreground_voxels"].as_u64().unwrap() as usize;
                assert_eq!(seg.iter().filter(|&&l| l > 0).count(), fg, "{name}");
            }
            None => assert!(files.segmentation.is_none()),
        }
        if name == "a" {
            let data: Array4<f32> =
                ndarray_npy::read_npy(data_dir().join("case_a_data.npy")).unwrap();
            let seg: Array3<i16> =
                ndarray_npy::read_npy(data_dir().join("case_a_seg.npy")).unwrap();
            assert_eq!(case.data, data);
            assert_eq!(case.segmentation.as_ref(), Some(&seg));
            assert_eq!(case.files, files);
        }
    }
}

#[test]
fn segmentation_requirements() {
    let files = CaseFiles {
        id: "DUKE_001".into(),
        channels: vec![case_file("c0"), case_file("c1")],
        segmentation: Some(case_file("seg_empty")),
    };
    let case = load_case(&files, SegmentationRequirement::Required).unwrap();
    assert_eq!(case.segmentation.unwrap().sum(), 0);
    let case = load_case(&files, SegmentationRequirement::Ignore).unwrap();
    assert!(case.segmentation.is_none());
    match load_case(&files, SegmentationRequirement::RequiredNonEmpty) {
        Err(Error::EmptySegmentation { case, path }) => {
            assert_eq!((case.as_str(), path), ("DUKE_001", case_file("seg_empty")));
        }
        other => panic!("expected EmptySegmentation, got {other:?}"),
    }
    let filled = CaseFiles {
        segmentation: Some(case_file("seg")),
        ..files.clone()
    };
    let case = load_case(&filled, SegmentationRequirement::RequiredNonEmpty).unwrap();
    assert_eq!(case.segmentation.unwrap().sum(), 12);

    let none = CaseFiles {
        segmentation: None,
        ..files.clone()
    };
    assert!(load_case(&none, SegmentationRequirement::Optional)
        .unwrap()
        .segmentation
        .is_none());
    let err = load_case(&none, SegmentationRequirement::Required).unwrap_err();
    assert!(
        matches!(&err, Error::MissingFile { case, what, .. } if case == "DUKE_001" && what == "segmentation"),
        "{err:?}"
    );
}

#[test]
fn missing_files_and_no_channels() {
    let gone = data_dir().join("case/c9.nii.gz");
    let files = CaseFiles {
        id: "NACT_01".into(),
        channels: vec![case_file("c0"), case_file("c1"), gone.clone()],
        segmentation: None,
    };
    let err = load_case(&files, SegmentationRequirement::Optional).unwrap_err();
    let msg = err.to_string();
    match err {
        Error::MissingFile { case, what, path } => {
            assert_eq!(
                (case.as_str(), what.as_str(), path),
                ("NACT_01", "channel 2", gone)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        msg.contains("NACT_01") && msg.contains("channel 2") && msg.contains("c9.nii.gz"),
        "{msg}"
    );

    let seg_gone = CaseFiles {
        channels: vec![case_file("c0")],
        segmentation: Some(data_dir().join("case/nothing.nii.gz")),
        ..files.clone()
    };
    let err = load_case(&seg_gone, SegmentationRequirement::Optional).unwrap_err();
    assert!(
        matches!(err, Error::MissingFile { ref what, .. } if what == "segmentation"),
        "{err:?}"
    );

    let empty = CaseFiles {
        channels: vec![],
        ..files
    };
    assert!(matches!(
        load_case(&empty, SegmentationRequirement::Optional),
        Err(Error::InvalidParameter {
            key: "channels",
            ..
        })
    ));
}

// ---- a MAMA-MIA tree with real (tiny) volumes ----------------------------------------------------------

/// Phase `k` of a case: value `100·k + linear index`, so channel order is visible in the data.
fn phase_volume(k: usize, shape: (usize, usize, usize)) -> Array3<f32> {
    let (_, ny, nx) = shape;
    Array3::from_shape_fn(shape, |(z, y, x)| (100 * k + (z * ny + y) * nx + x) as f32)
}

/// DUKE_001 (3 phases, lower-case files, expert seg), duke_002 (phase 2 missing), Ispy1_1001 (phase 1 has a
/// different shape), NACT_01 (phase 2 has a different spacing).
fn build_tree(root: &Path) -> Geometry {
    let geometry = Geometry::from_spacing([1.1, 0.8, 0.8]);
    let shape = (4, 5, 6);
    let write = |rel: &str, k: usize, shape, g: &Geometry| {
        write_volume(root.join(rel), phase_volume(k, shape).view(), g).unwrap();
    };
    for k in 0..3 {
        write(
            &format!("images/DUKE_001/duke_001_000{k}.nii.gz"),
            k,
            shape,
            &geometry,
        );
        let ispy_shape = if k == 1 { (4, 5, 7) } else { shape };
        write(
            &format!("images/Ispy1_1001/ISPY1_1001_000{k}.nii.gz"),
            k,
            ispy_shape,
            &geometry,
        );
        let nact = if k == 2 {
            Geometry::from_spacing([1.1, 0.8, 0.9])
        } else {
            geometry.clone()
        };
        write(
            &format!("images/nact_01/NACT_01_000{k}.nii"),
            k,
            shape,
            &nact,
        );
    }
    for k in 0..2 {
        write(
            &format!("images/duke_002/DUKE_002_000{k}.nii.gz"),
            k,
            shape,
            &geometry,
        );
    }
    let mut seg = Array3::<u8>::zeros(shape);
    seg[[1, 2, 3]] = 1;
    seg[[2, 2, 3]] = 1;
    write_mask(
        root.join("segmentations/expert/duke_001.nii.gz"),
        seg.view(),
        &geometry,
    )
    .unwrap();
    write_mask(
        root.join("segmentations/expert/DUKE_002.nii.gz"),
        Array3::zeros(shape).view(),
        &geometry,
    )
    .unwrap();
    geometry
}

#[test]
fn mamamia_tree_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let geometry = build_tree(root);
    let ds = MamaMia::open(root).unwrap();
    assert_eq!(
        ds.case_ids(),
        ["DUKE_001", "DUKE_002", "ISPY1_1001", "NACT_01"]
    );

    // channels in the requested order, with the expert segmentation
    let files = ds.case_files("duke_001", &[1, 0, 2]).unwrap();
    let case = load_case(&files, SegmentationRequirement::RequiredNonEmpty).unwrap();
    assert_eq!(case.id, "DUKE_001");
    assert_eq!(case.data.shape(), [3, 4, 5, 6]);
    for (c, k) in [1, 0, 2].into_iter().enumerate() {
        assert_eq!(
            case.data.index_axis(ndarray::Axis(0), c),
            phase_volume(k, (4, 5, 6))
        );
    }
    assert!(
        (case.geometry.spacing[0] - 1.1).abs() < 1e-6
            && (case.geometry.spacing[2] - 0.8).abs() < 1e-6
    );
    assert_eq!(case.geometry.origin_lps(), geometry.origin_lps());
    assert_eq!(case.segmentation.as_ref().unwrap().sum(), 2);
    assert!(case.warnings.is_empty(), "{:?}", case.warnings);

    // phase 2 missing
    let err = ds.case_files("DUKE_002", &[0, 1, 2]).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("case DUKE_002") && msg.contains("phase 2 image"),
        "{msg}"
    );
    // phases 0 and 1 load; the empty expert mask fails only where foreground is required
    let files = ds.case_files("DUKE_002", &[0, 1]).unwrap();
    assert!(load_case(&files, SegmentationRequirement::Required).is_ok());
    assert!(matches!(
        load_case(&files, SegmentationRequirement::RequiredNonEmpty),
        Err(Error::EmptySegmentation { case, .. }) if case == "DUKE_002"
    ));

    // a channel with another shape
    let files = ds.case_files("ispy1_1001", &[0, 1, 2]).unwrap();
    let err = load_case(&files, SegmentationRequirement::Optional).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(&err, Error::GeometryMismatch { case, what: "shape", file, reference, .. }
            if case == "ISPY1_1001" && file == &files.channels[1] && reference == &files.channels[0]),
        "{err:?}"
    );
    assert!(
        msg.contains("ISPY1_1001_0001.nii.gz") && msg.contains("ISPY1_1001_0000.nii.gz"),
        "{msg}"
    );
    assert!(
        msg.contains("[4, 5, 7]") && msg.contains("[4, 5, 6]"),
        "{msg}"
    );

    // a channel with another spacing (.nii files)
    let files = ds.case_files("NACT_01", &[0, 1, 2]).unwrap();
    let err = load_case(&files, SegmentationRequirement::Ignore).unwrap_err();
    assert!(
        matches!(&err, Error::GeometryMismatch { case, what: "spacing", file, .. }
            if case == "NACT_01" && file == &root.join("images/nact_01/NACT_01_0002.nii")),
        "{err:?}"
    );
    assert!(err.to_string().contains("NACT_01_0002.nii"), "{err}");
    // without the odd phase the case loads
    assert!(load_case(
        &ds.case_files("NACT_01", &[0, 1]).unwrap(),
        SegmentationRequirement::Optional
    )
    .is_ok());
}
