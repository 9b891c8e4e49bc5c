//! NIfTI reading of corrupt or unsupported files: every bad input gives a typed error naming the file.

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

use std::path::Path;

use nnunet_preproc::nifti_io::{read_geometry, read_label_map, read_volume};
use nnunet_preproc::Error;

#[allow(dead_code)]
mod nifti_io_common;
use nifti_io_common::*;

// ---- bad input ----------------------------------------------------------------------------------------------

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
