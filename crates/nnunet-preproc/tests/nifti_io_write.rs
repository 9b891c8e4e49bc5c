//! NIfTI writing: headers as nibabel writes them, round trips, non-contiguous views, gzip by extension and
//! rejected geometries.

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

use std::path::{Path, PathBuf};

use ndarray::{Array3, ArrayView3};
use nnunet_preproc::nifti_io::{
    read_geometry, read_label_map, read_volume, write_mask, write_volume,
};
use nnunet_preproc::{Error, Geometry};
use serde_json::Value;

#[allow(dead_code)]
mod nifti_io_common;
use nifti_io_common::*;

// ---- writing ------------------------------------------------------------------------------------------------

fn write_reference() -> Value {
    let text = std::fs::read_to_string(data_dir().join("write_reference.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn reference_geometry(r: &Value) -> Geometry {
    let s = f64s(&r["spacing_zyx"]);
    Geometry {
        spacing: [s[0], s[1], s[2]],
        affine: affine_of(&r["affine"]),
    }
}

fn check_header(name: &str, path: &Path, r: &Value, shape_zyx: [usize; 3]) {
    let h = nifti::NiftiHeader::from_file(path).unwrap();
    let close = |got: &[f64], want: &[f64], what: &str| {
        let d = max_abs_diff(got, want);
        assert!(
            d <= 1e-6,
            "{name}: {what} differs by {d}: {got:?} vs {want:?}"
        );
    };
    assert_eq!(
        i64::from(h.datatype),
        r["datatype"].as_i64().unwrap(),
        "{name}: datatype"
    );
    assert_eq!(
        i64::from(h.bitpix),
        r["bitpix"].as_i64().unwrap(),
        "{name}: bitpix"
    );
    assert_eq!(
        i64::from(h.sform_code),
        r["sform_code"].as_i64().unwrap(),
        "{name}: sform_code"
    );
    assert_eq!(
        i64::from(h.qform_code),
        r["qform_code"].as_i64().unwrap(),
        "{name}: qform_code"
    );
    assert_eq!(
        i64::from(h.xyzt_units),
        r["xyzt_units"].as_i64().unwrap(),
        "{name}: xyzt_units"
    );
    assert_eq!(
        f64::from(h.vox_offset),
        r["vox_offset"].as_f64().unwrap(),
        "{name}: vox_offset"
    );
    assert_eq!((h.scl_slope, h.scl_inter), (1.0, 0.0));
    let dims: Vec<usize> = h.dim[..4].iter().map(|&d| usize::from(d)).collect();
    assert_eq!(
        dims,
        vec![3, shape_zyx[2], shape_zyx[1], shape_zyx[0]],
        "{name}: dim"
    );
    let to64 = |v: &[f32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
    close(
        &to64(&h.pixdim[..4]),
        &f64s(&r["pixdim"]),
        "pixdim (qfac, sx, sy, sz)",
    );
    close(
        &to64(&[h.quatern_b, h.quatern_c, h.quatern_d]),
        &f64s(&r["quatern"]),
        "quatern_b/c/d",
    );
    close(
        &to64(&[h.quatern_x, h.quatern_y, h.quatern_z]),
        &f64s(&r["qoffset"]),
        "qoffset",
    );
    let srow: Vec<f64> = to64(&[h.srow_x, h.srow_y, h.srow_z].concat());
    let want: Vec<f64> = r["srow"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(f64s)
        .collect();
    close(&srow, &want, "srow");
}

fn test_volume(shape: (usize, usize, usize)) -> Array3<f32> {
    Array3::from_shape_fn(shape, |(z, y, x)| {
        (z * 100 + y * 10 + x) as f32 * 0.37 - 5.5
    })
}

fn test_mask(shape: (usize, usize, usize)) -> Array3<u8> {
    Array3::from_shape_fn(shape, |(z, y, x)| ((z * 7 + y * 3 + x) % 5) as u8)
}

#[test]
fn write_read_round_trips() {
    let r = write_reference();
    let geometry = reference_geometry(&r);
    let keep = std::env::var_os("NIFTI_WRITE_CHECK_DIR").map(PathBuf::from);
    let tmp = tempfile::tempdir().unwrap();
    let dir = keep
        .clone()
        .unwrap_or_else(|| tmp.path().join("nested/out"));
    let shape = (4, 5, 3); // (z, y, x) = nibabel reference (x, y, z) = (3, 4, 5)
    let vol = test_volume(shape);
    let mask = test_mask(shape);
    // a right-handed oblique geometry too (re-uses the fixture's oblique sform)
    let oblique = read_volume(data_dir().join("float32.nii"))
        .unwrap()
        .geometry;
    let plain = Geometry::from_spacing([2.5, 0.8, 0.7]);
    let mut written = Vec::new();
    let mut worst_affine: f64 = 0.0;
    let mut worst_spacing: f64 = 0.0;
    for (gname, g) in [
        ("left", &geometry),
        ("oblique", &oblique),
        ("plain", &plain),
    ] {
        for ext in ["nii", "nii.gz"] {
            for kind in ["f32", "u8"] {
                let name = format!("written_{gname}_{kind}.{ext}");
                let path = dir.join(&name);
                if kind == "f32" {
                    write_volume(&path, vol.view(), g).unwrap();
                    let back = read_volume(&path).unwrap();
                    assert_eq!(back.data, vol, "{name}: data");
                    worst_affine = worst_affine.max(max_abs_diff(
                        &back.geometry.affine.concat(),
                        &g.affine.concat(),
                    ));
                    worst_spacing =
                        worst_spacing.max(max_abs_diff(&back.geometry.spacing, &g.spacing));
                } else {
                    write_mask(&path, mask.view(), g).unwrap();
                    let (back, bg) = read_label_map(&path).unwrap();
                    assert_eq!(back, mask.mapv(i16::from), "{name}: data");
                    assert_eq!(read_volume(&path).unwrap().data, mask.mapv(f32::from));
                    worst_affine =
                        worst_affine.max(max_abs_diff(&bg.affine.concat(), &g.affine.concat()));
                    worst_spacing = worst_spacing.max(max_abs_diff(&bg.spacing, &g.spacing));
                }
                // the qform alone (sform_code patched to 0) gives the same affine
                let mut bytes = std::fs::read(&path).unwrap();
                if ext == "nii.gz" {
                    bytes = gunzip(&bytes);
                }
                bytes[254..256].copy_from_slice(&0i16.to_le_bytes());
                let qpath = tmp.path().join(format!("qform_{name}.nii"));
                std::fs::write(&qpath, &bytes).unwrap();
                let (qg, _) = read_geometry(&qpath).unwrap();
                let d = max_abs_diff(&qg.affine.concat(), &g.affine.concat());
                assert!(d <= 1e-5, "{name}: qform affine differs by {d}");
                if gname == "left" {
                    check_header(&name, &path, &r["files"][kind], [4, 5, 3]);
                }
                if keep.is_some() {
                    let npy = format!("{name}.npy");
                    if kind == "f32" {
                        ndarray_npy::write_npy(dir.join(&npy), &vol).unwrap();
                    } else {
                        ndarray_npy::write_npy(dir.join(&npy), &mask).unwrap();
                    }
                    written.push(serde_json::json!({
                        "file": name, "data": npy, "affine": g.affine, "spacing_zyx": g.spacing,
                    }));
                }
            }
        }
    }
    assert!(worst_affine <= 1e-6, "affine round trip {worst_affine}");
    assert!(worst_spacing <= 1e-6, "spacing round trip {worst_spacing}");
    println!(
        "round trip: max |affine diff| {worst_affine:e}, max |spacing diff| {worst_spacing:e}"
    );
    // no temporary files left behind
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    if let Some(dir) = keep {
        let json = serde_json::to_string_pretty(&written).unwrap();
        std::fs::write(dir.join("written.json"), json).unwrap();
    }
}

#[test]
fn writing_non_contiguous_views_and_gzip_by_extension() {
    let dir = tempfile::tempdir().unwrap();
    let g = Geometry::from_spacing([3.0, 1.0, 0.5]);
    let base = test_volume((6, 5, 4));
    // a strided view is written in its logical (z, y, x) order
    let view: ArrayView3<f32> = base.slice(ndarray::s![..;2, .., 1..]);
    let path = dir.path().join("a.b.c.NII.GZ");
    write_volume(&path, view, &g).unwrap();
    assert!(
        std::fs::read(&path).unwrap().starts_with(&[0x1f, 0x8b]),
        "gzip by extension (any case)"
    );
    assert_eq!(read_volume(&path).unwrap().data, view);
    let path = dir.path().join("plain.nii");
    write_volume(&path, view, &g).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 352 + view.len() * 4);
    assert_eq!(&bytes[344..348], b"n+1\0");
    // so is a view with permuted axes
    let permuted = base.view().permuted_axes([0, 2, 1]);
    write_volume(&path, permuted, &g).unwrap();
    assert_eq!(read_volume(&path).unwrap().data, permuted);
}

#[test]
fn writing_rejects_bad_geometry() {
    let dir = tempfile::tempdir().unwrap();
    let data = test_volume((2, 3, 4));
    let path = dir.path().join("x.nii.gz");
    let r = write_volume(&path, data.view(), &Geometry::from_spacing([1.0, 0.0, 1.0]));
    assert!(matches!(r, Err(Error::InvalidSpacing { .. })), "{r:?}");
    let mut g = Geometry::from_spacing([1.0, 1.0, 1.0]);
    g.affine[0][0] = f64::NAN;
    let r = write_volume(&path, data.view(), &g);
    assert!(matches!(r, Err(Error::InvalidNifti { .. })), "{r:?}");
    g.affine[0][0] = 0.0;
    let r = write_mask(&path, test_mask((2, 3, 4)).view(), &g);
    assert!(matches!(r, Err(Error::InvalidNifti { .. })), "{r:?}");
    let empty = Array3::<f32>::zeros((0, 3, 4));
    let r = write_volume(
        &path,
        empty.view(),
        &Geometry::from_spacing([1.0, 1.0, 1.0]),
    );
    assert!(matches!(r, Err(Error::InvalidNifti { .. })), "{r:?}");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
}
