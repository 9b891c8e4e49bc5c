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
    read_geometry, read_label_map, read_volume, read_volume_with, write_mask, write_volume,
    NonFinitePolicy, ReadOptions,
};
use nnunet_preproc::{Error, Geometry};
use serde_json::Value;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/nifti")
}

fn manifest() -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir().join("manifest.json")).unwrap();
    serde_json::from_str::<Value>(&text)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

fn entry(file: &str) -> Value {
    manifest().into_iter().find(|e| e["file"] == file).unwrap()
}

fn f64s(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn affine_of(v: &Value) -> [[f64; 4]; 4] {
    let rows: Vec<Vec<f64>> = v.as_array().unwrap().iter().map(f64s).collect();
    std::array::from_fn(|r| std::array::from_fn(|c| rows[r][c]))
}

fn expected_data(e: &Value) -> Array3<f64> {
    ndarray_npy::read_npy(data_dir().join(e["data"].as_str().unwrap())).unwrap()
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

/// Compares a read geometry with nibabel's (affine ≤ 1e-6, spacing exact) and, where comparable, SimpleITK's;
/// returns the largest differences (affine vs nibabel, origin and direction vs SimpleITK).
fn check_geometry(name: &str, e: &Value, g: &Geometry) -> [f64; 3] {
    let want = affine_of(&e["nib_affine"]);
    let d = max_abs_diff(&g.affine.concat(), &want.concat());
    assert!(
        d <= 1e-6,
        "{name}: affine differs by {d}: {:?} vs {want:?}",
        g.affine
    );
    let mut zooms = f64s(&e["nib_zooms_xyz"]);
    zooms.reverse();
    assert_eq!(g.spacing.to_vec(), zooms, "{name}: spacing");
    if e["sitk_comparable"].as_bool().unwrap() {
        let d_origin = max_abs_diff(&g.origin_lps(), &f64s(&e["sitk_origin"]));
        let d_dir = max_abs_diff(&g.direction_lps().concat(), &f64s(&e["sitk_direction"]));
        let mut sp = f64s(&e["sitk_spacing"]);
        sp.reverse();
        let d_sp = max_abs_diff(&g.spacing, &sp);
        assert!(
            d_origin <= 1e-5 && d_dir <= 1e-5 && d_sp <= 1e-6,
            "{name}: SimpleITK origin {d_origin}, direction {d_dir}, spacing {d_sp}"
        );
        return [d, d_origin, d_dir];
    }
    [d, 0.0, 0.0]
}

fn is_integer_dtype(dtype: &str) -> bool {
    dtype.starts_with("int") || dtype.starts_with("uint")
}

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

// ---- bad input ----------------------------------------------------------------------------------------------

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn expect_invalid(path: &Path, needle: &str) {
    for r in [
        read_volume(path).map(|_| ()),
        read_label_map(path).map(|_| ()),
    ] {
        match r {
            Err(Error::InvalidNifti { path: p, reason }) => {
                assert_eq!(p, path);
                assert!(
                    reason.contains(needle),
                    "{}: reason {reason:?} lacks {needle:?}",
                    path.display()
                );
            }
            other => panic!(
                "{}: expected InvalidNifti({needle}), got {other:?}",
                path.display()
            ),
        }
    }
}

#[test]
fn bad_inputs_give_typed_errors() {
    let dir = tempfile::tempdir().unwrap();
    let nii = std::fs::read(data_dir().join("int16_scaled.nii")).unwrap();
    let gz = std::fs::read(data_dir().join("int16_scaled.nii.gz")).unwrap();
    let put = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    };
    let patched = |edits: &[(usize, &[u8])]| {
        let mut b = nii.clone();
        for (at, v) in edits {
            b[*at..*at + v.len()].copy_from_slice(v);
        }
        b
    };

    // missing file
    let missing = dir.path().join("missing.nii.gz");
    for r in [
        read_volume(&missing).map(|_| ()),
        read_geometry(&missing).map(|_| ()),
    ] {
        assert!(
            matches!(r, Err(Error::Io { ref path, .. }) if *path == missing),
            "{r:?}"
        );
    }
    // truncated data (header intact): read_geometry still works, reading the data does not
    let p = put("truncated_data.nii", &nii[..nii.len() - 10]);
    expect_invalid(&p, "truncated data");
    assert!(read_geometry(&p).is_ok());
    // truncated header
    let p = put("truncated_header.nii", &nii[..200]);
    expect_invalid(&p, "truncated header");
    assert!(matches!(read_geometry(&p), Err(Error::InvalidNifti { .. })));
    // empty file
    expect_invalid(&put("empty.nii", &[]), "truncated header");
    // truncated gzip stream
    let p = put("truncated.nii.gz", &gz[..gz.len() / 2]);
    expect_invalid(&p, "gzip");
    // a .nii.gz that is not gzip: garbage, and a plain NIfTI
    expect_invalid(
        &put("garbage.nii.gz", b"this is not a gzip stream at all"),
        "not a gzip stream",
    );
    let p = put("plain_named_gz.nii.gz", &nii);
    expect_invalid(&p, "not a gzip stream");
    assert!(matches!(read_geometry(&p), Err(Error::InvalidNifti { .. })));
    // gzip content under a .nii name is accepted
    let v = read_volume(put("gzip_named_plain.nii", &gz)).unwrap();
    assert_eq!(v, read_volume(data_dir().join("int16_scaled.nii")).unwrap());
    // wrong magic, also inside a valid gzip stream
    let bad_magic = patched(&[(344, b"xyz\0")]);
    expect_invalid(&put("bad_magic.nii", &bad_magic), "magic");
    expect_invalid(&put("bad_magic.nii.gz", &gzip(&bad_magic)), "magic");
    assert!(matches!(
        read_geometry(put("bad_magic2.nii.gz", &gzip(&bad_magic))),
        Err(Error::InvalidNifti { .. })
    ));
    // header of a .hdr/.img pair
    expect_invalid(&put("pair.nii", &patched(&[(344, b"ni1\0")])), ".hdr/.img");
    // garbage of header size
    expect_invalid(&put("garbage.nii", &[7u8; 400]), "magic");
    // header/data size mismatch: dim[1] = 8 instead of 7
    expect_invalid(
        &put("bigger_dim.nii", &patched(&[(42, &8i16.to_le_bytes())])),
        "truncated data",
    );
    // dim[0] out of range, zero and negative dims
    expect_invalid(
        &put("dim0.nii", &patched(&[(40, &0i16.to_le_bytes())])),
        "dim[0]",
    );
    expect_invalid(
        &put("dim_zero.nii", &patched(&[(44, &0i16.to_le_bytes())])),
        "must be positive",
    );
    expect_invalid(
        &put("dim_neg.nii", &patched(&[(46, &(-4i16).to_le_bytes())])),
        "must be positive",
    );
    // unsupported datatype (complex64)
    expect_invalid(
        &put("complex.nii", &patched(&[(70, &32i16.to_le_bytes())])),
        "datatype",
    );
    // sizeof_hdr wrong
    expect_invalid(
        &put("sizeof.nii", &patched(&[(0, &300i32.to_le_bytes())])),
        "sizeof_hdr",
    );
    // non-finite sform
    expect_invalid(
        &put("nan_sform.nii", &patched(&[(280, &f32::NAN.to_le_bytes())])),
        "non-finite",
    );
    // NaN pixdim -> InvalidSpacing
    let r = read_volume(put(
        "nan_pixdim.nii",
        &patched(&[(80, &f32::NAN.to_le_bytes())]),
    ));
    assert!(matches!(r, Err(Error::InvalidSpacing { .. })), "{r:?}");

    // a non-finite intercept counts as 0 (nibabel raises here): values = raw · 0.5
    let v = read_volume(put(
        "inf_inter.nii",
        &patched(&[(116, &f32::INFINITY.to_le_bytes())]),
    ))
    .unwrap();
    let want = expected_data(&entry("int16_scaled.nii"));
    for (&got, &w) in v.data.iter().zip(want.iter()) {
        assert_eq!(f64::from(got), w + 1024.0);
    }
    // trailing bytes after the data are ignored
    let mut longer = nii.clone();
    longer.extend_from_slice(&[1, 2, 3, 4, 5]);
    assert_eq!(
        read_volume(put("longer.nii", &longer)).unwrap(),
        read_volume(data_dir().join("int16_scaled.nii")).unwrap()
    );
    // gunzip of the fixture equals the plain fixture (sanity of the fixtures themselves)
    assert_eq!(gunzip(&gz), nii);
}

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
