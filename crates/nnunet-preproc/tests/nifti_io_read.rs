//! NIfTI reading against nibabel and SimpleITK: every fixture's data and geometry, scaling, non-finite
//! policies, dimensionality/spacing checks and label maps.

/* Reference: nibabel 5.4.2 and SimpleITK 2.5.7, via tools/golden/make_nifti_fixtures.py, which wrote
 * crates/nnunet-preproc/tests/data/nifti/:
 *
 *   img = nib.load(path)
 *   img.get_fdata().transpose(2, 1, 0)            -> <name>.npy (float64, array order z, y, x)
 *   img.affine, img.header.get_zooms()[:3]        -> manifest.json nib_affine, nib_zooms_xyz
 *   im = sitk.ReadImage(path)
 *   im.GetSpacing(), GetOrigin(), GetDirection()  -> manifest.json sitk_*
 *
 * and write_reference.json: the header nibabel writes for WRITE_AFFINE with set_sform(aff, 1), set_qform(aff, 1).
 * Bad inputs are made here in a temporary folder from the good fixtures.
 *
 * Set NIFTI_WRITE_CHECK_DIR=<dir> to keep the files the writer test writes (plus written.json and the data as
 * .npy); `.venv/bin/python tools/golden/make_nifti_fixtures.py --check <dir>` then reopens them with nibabel and
 * SimpleITK.
 */

use nnunet_preproc::nifti_io::{
    read_geometry, read_label_map, read_volume, read_volume_with, NonFinitePolicy, ReadOptions,
};
use nnunet_preproc::Error;

#[allow(dead_code)]
mod nifti_io_common;
use nifti_io_common::*;

#[test]
fn fixtures_match_nibabel_and_simpleitk() {
    let mut checked = 0;
    let mut worst_rel: f64 = 0.0;
    let mut worst_geometry = [0.0f64; 3];
    for e in manifest().iter().filter(|e| e["expect"] == "ok") {
        let name = e["file"].as_str().unwrap();
        let path = data_dir().join(name);
        let vol = read_volume(&path).unwrap_or_else(|err| panic!("{name}: {err}"));
        let want = expected_data(e);
        assert_eq!(vol.data.shape(), want.shape(), "{name}: shape");
        assert!(vol.data.is_standard_layout(), "{name}: C order");
        let unscaled = e["nib_slope_inter"] == serde_json::json!([1.0, 0.0]);
        let dtype = e["nib_dtype"].as_str().unwrap();
        for (&got, &w) in vol.data.iter().zip(want.iter()) {
            if is_integer_dtype(dtype) && unscaled {
                // exact: nibabel's value rounded to f32
                assert_eq!(got, w as f32, "{name}");
            } else {
                let rel = (f64::from(got) - w).abs() / w.abs().max(1.0);
                worst_rel = worst_rel.max(rel);
                assert!(rel <= 1e-6, "{name}: {got} vs {w}");
            }
        }
        let diffs = check_geometry(name, e, &vol.geometry);
        for (w, d) in worst_geometry.iter_mut().zip(diffs) {
            *w = w.max(d);
        }

        let (g, shape) = read_geometry(&path).unwrap();
        assert_eq!(g, vol.geometry, "{name}: read_geometry");
        assert_eq!(
            shape.to_vec(),
            want.shape().to_vec(),
            "{name}: read_geometry shape"
        );
        checked += 1;
    }
    assert!(checked >= 28, "only {checked} fixtures checked");
    println!("max relative difference of scaled/float voxels vs nibabel: {worst_rel:e}");
    println!(
        "max |affine diff| vs nibabel {:e}; vs SimpleITK: origin {:e}, direction {:e}",
        worst_geometry[0], worst_geometry[1], worst_geometry[2]
    );
}

#[test]
fn nan_slope_means_no_scaling() {
    // nibabel: a NaN scl_slope means "no scaling"; the nifti crate would return an all-NaN volume.
    let vol = read_volume(data_dir().join("nan_slope.nii")).unwrap();
    let raw = read_volume(data_dir().join("int16_scaled.nii")).unwrap();
    assert!(vol.data.iter().all(|v| v.is_finite()));
    for (&a, &b) in vol.data.iter().zip(raw.data.iter()) {
        assert_eq!(a * 0.5 - 1024.0, b);
    }
}

#[test]
fn non_finite_policies() {
    let name = "float32_nonfinite.nii.gz";
    let path = data_dir().join(name);
    match read_volume(&path) {
        Err(Error::NonFiniteVoxels { path: p, count }) => {
            assert_eq!(count, 3);
            assert_eq!(p, path);
        }
        other => panic!("expected NonFiniteVoxels, got {other:?}"),
    }
    let want = expected_data(&entry(name));
    let keep = read_volume_with(
        &path,
        &ReadOptions {
            non_finite: NonFinitePolicy::Keep,
        },
    )
    .unwrap();
    let zero = read_volume_with(
        &path,
        &ReadOptions {
            non_finite: NonFinitePolicy::ReplaceWithZero,
        },
    )
    .unwrap();
    let mut n_non_finite = 0;
    for ((&k, &z), &w) in keep.data.iter().zip(zero.data.iter()).zip(want.iter()) {
        if w.is_finite() {
            assert_eq!(k, w as f32);
            assert_eq!(z, w as f32);
        } else {
            n_non_finite += 1;
            assert!(k.is_nan() == w.is_nan() && (k.is_infinite() == w.is_infinite()));
            assert_eq!(z, 0.0);
        }
    }
    assert_eq!(n_non_finite, 3);
    // the fixture put NaN at nibabel (x, y, z) = (1, 2, 3), which is array (z, y, x) = (3, 2, 1)
    assert!(keep.data[[3, 2, 1]].is_nan());
    let _ = check_geometry(name, &entry(name), &keep.geometry);
}

#[test]
fn dimensionality_and_spacing_errors() {
    for e in manifest() {
        let name = e["file"].as_str().unwrap();
        let path = data_dir().join(name);
        match e["expect"].as_str().unwrap() {
            "wrong_dimensionality" => {
                let want = e["found"].as_u64().unwrap() as usize;
                for r in [
                    read_volume(&path).map(|_| ()),
                    read_geometry(&path).map(|_| ()),
                ] {
                    match r {
                        Err(Error::WrongDimensionality {
                            path: p,
                            expected: 3,
                            found,
                            ..
                        }) => {
                            assert_eq!(found, want, "{name}");
                            assert_eq!(p, path);
                        }
                        other => panic!("{name}: expected WrongDimensionality, got {other:?}"),
                    }
                }
            }
            "invalid_spacing" => {
                for r in [
                    read_volume(&path).map(|_| ()),
                    read_geometry(&path).map(|_| ()),
                ] {
                    assert!(
                        matches!(r, Err(Error::InvalidSpacing { ref path, .. }) if path.ends_with(name)),
                        "{name}: {r:?}"
                    );
                }
            }
            _ => {}
        }
    }
    // 4-D with t = 1 and a single slice are 3-D volumes
    assert_eq!(
        read_volume(data_dir().join("four_d_t1.nii.gz"))
            .unwrap()
            .data
            .dim(),
        (4, 5, 7)
    );
    assert_eq!(
        read_volume(data_dir().join("single_slice.nii"))
            .unwrap()
            .data
            .dim(),
        (1, 5, 7)
    );
}

#[test]
fn label_maps() {
    for name in [
        "uint8_labels.nii",
        "uint8_labels.nii.gz",
        "int8.nii",
        "nan_slope.nii",
    ] {
        let e = entry(name);
        let (labels, g) = read_label_map(data_dir().join(name)).unwrap();
        let want = expected_data(&e);
        assert_eq!(labels.shape(), want.shape());
        assert!(
            labels
                .iter()
                .zip(want.iter())
                .all(|(&l, &w)| f64::from(l) == w),
            "{name}"
        );
        let _ = check_geometry(name, &e, &g);
    }
    assert!(read_label_map(data_dir().join("int8.nii"))
        .unwrap()
        .0
        .iter()
        .any(|&l| l < 0));
    for name in [
        "labels_fractional.nii",
        "labels_out_of_range.nii",
        "int16_scaled.nii",
    ] {
        match read_label_map(data_dir().join(name)) {
            Err(Error::InvalidNifti { path, reason }) => {
                assert!(path.ends_with(name));
                assert!(reason.contains("not integers"), "{reason}");
            }
            other => panic!("{name}: expected InvalidNifti, got {other:?}"),
        }
    }
}
