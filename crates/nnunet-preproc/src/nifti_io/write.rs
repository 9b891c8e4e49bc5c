//! Writing a single-file NIfTI-1 (`.nii`, or gzip-compressed `.nii.gz`) atomically, with the header that
//! SimpleITK's writer produces for the same geometry.
//!
//! ```text
//! dim       = (3, nx, ny, nz, 1, 1, 1, 1)          shape (z, y, x) reversed
//! pixdim    = (qfac, sx, sy, sz, 1, 1, 1, 1)       spacing (z, y, x) reversed
//! srow      = affine rows 0..3,  sform_code = 1 (NIFTI_XFORM_SCANNER_ANAT)
//! quatern_* = rotation of the affine (qfac = −1 for a left-handed one), qform_code = 1
//! scl_slope = 1, scl_inter = 0, xyzt_units = 2 (mm), vox_offset = 352, little-endian
//! ```
//!
//! nifti-rs's own writer is not used: it derives its output file name from the given one
//! (`set_extension("")` + `with_extension("nii")`), which renames files whose stem holds a dot, such as the
//! temporary files of [`crate::atomic`].
//!
//! References: NIfTI-1 standard `nifti1.h` (header layout); ITK `Modules/IO/NIFTI/src/itkNiftiImageIO.cxx`
//! (sform and qform code 1 as written by SimpleITK 2.5.7); nibabel 5.4.2 `nibabel/nifti1.py` (`set_qform`).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;
use ndarray::ArrayView3;

use super::affine::qform_of_affine;
use super::read::{invalid, is_gz_name};
use crate::atomic::write_atomically;
use crate::error::{Error, Result};
use crate::geometry::{check_spacing, Geometry};

/// Elements written per buffered block.
const BLOCK: usize = 1 << 16;

/// A voxel type the writer stores.
pub(super) trait Element: Copy {
    /// NIfTI datatype code.
    const CODE: i16;
    /// Bytes per voxel.
    const SIZE: usize;
    /// Appends the little-endian bytes.
    fn put(self, out: &mut Vec<u8>);
}

impl Element for f32 {
    const CODE: i16 = 16;
    const SIZE: usize = 4;
    fn put(self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.to_le_bytes());
    }
}

impl Element for u8 {
    const CODE: i16 = 2;
    const SIZE: usize = 1;
    fn put(self, out: &mut Vec<u8>) {
        out.push(self);
    }
}

/// Little-endian field writer over the 352-byte header block.
struct Block([u8; 352]);

impl Block {
    fn i16(&mut self, at: usize, v: i16) {
        self.0[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }
    fn i32(&mut self, at: usize, v: i32) {
        self.0[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }
    fn f32(&mut self, at: usize, v: f64) {
        self.0[at..at + 4].copy_from_slice(&(v as f32).to_le_bytes());
    }
    fn bytes(&mut self, at: usize, v: &[u8]) {
        self.0[at..at + v.len()].copy_from_slice(v);
    }
}

/// The header block (348-byte header + empty extender) for a `(z, y, x)` volume.
fn header_block(
    path: &Path,
    shape_zyx: [usize; 3],
    code: i16,
    size: usize,
    geometry: &Geometry,
) -> Result<[u8; 352]> {
    check_spacing(geometry.spacing, path)?;
    if let Some(&n) = shape_zyx.iter().find(|&&n| n == 0 || n > i16::MAX as usize) {
        return Err(invalid(
            path,
            format!("cannot write shape {shape_zyx:?}: every axis must have 1..=32767 voxels, found {n}"),
        ));
    }
    let qform = qform_of_affine(&geometry.affine).ok_or_else(|| {
        invalid(
            path,
            format!(
                "cannot write affine {:?}: it must be finite and non-singular",
                geometry.affine
            ),
        )
    })?;
    let [sz, sy, sx] = geometry.spacing;
    let [nz, ny, nx] = shape_zyx;
    let mut h = Block([0; 352]);
    h.i32(0, 348);
    h.0[38] = b'r'; // regular
    for (i, d) in [3, nx, ny, nz, 1, 1, 1, 1].into_iter().enumerate() {
        h.i16(40 + 2 * i, d as i16);
    }
    h.i16(70, code);
    h.i16(72, (8 * size) as i16);
    for (i, p) in [qform.qfac, sx, sy, sz, 1.0, 1.0, 1.0, 1.0]
        .into_iter()
        .enumerate()
    {
        h.f32(76 + 4 * i, p);
    }
    h.f32(108, 352.0); // vox_offset
    h.f32(112, 1.0); // scl_slope
    h.f32(116, 0.0); // scl_inter
    h.0[123] = 2; // xyzt_units: NIFTI_UNITS_MM
    h.bytes(148, b"nnunet-preproc");
    h.i16(252, 1); // qform_code: NIFTI_XFORM_SCANNER_ANAT
    h.i16(254, 1); // sform_code: NIFTI_XFORM_SCANNER_ANAT
    for (i, v) in qform.quatern.into_iter().chain(qform.offset).enumerate() {
        h.f32(256 + 4 * i, v);
    }
    for (r, row) in geometry.affine.iter().take(3).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            h.f32(280 + 16 * r + 4 * c, v);
        }
    }
    h.bytes(344, b"n+1\0");
    // bytes 348..352: extender, all zero = no extensions
    Ok(h.0)
}

/// Writes `data` with `geometry` to `path` (gzip when the name ends in `.gz`), atomically.
pub(super) fn write_nifti<T: Element>(
    path: &Path,
    data: ArrayView3<'_, T>,
    geometry: &Geometry,
) -> Result<()> {
    let shape = data.dim();
    let header = header_block(
        path,
        [shape.0, shape.1, shape.2],
        T::CODE,
        T::SIZE,
        geometry,
    )?;
    write_atomically(path, |tmp| {
        let io = |e: std::io::Error| Error::io(path, e);
        let file = BufWriter::with_capacity(1 << 20, File::create(tmp).map_err(io)?);
        if is_gz_name(path) {
            let mut gz = GzEncoder::new(file, Compression::fast());
            write_body(&mut gz, &header, data).map_err(io)?;
            gz.finish()
                .map_err(io)?
                .into_inner()
                .map_err(|e| io(e.into_error()))?;
        } else {
            let mut file = file;
            write_body(&mut file, &header, data).map_err(io)?;
            file.into_inner().map_err(|e| io(e.into_error()))?;
        }
        Ok(())
    })
}

/// Header, then the voxels in `(z, y, x)` C order = NIfTI's Fortran `(x, y, z)` order.
fn write_body<W: Write, T: Element>(
    out: &mut W,
    header: &[u8; 352],
    data: ArrayView3<'_, T>,
) -> std::io::Result<()> {
    out.write_all(header)?;
    let mut buf = Vec::with_capacity(BLOCK * T::SIZE);
    for &v in data.iter() {
        v.put(&mut buf);
        if buf.len() >= BLOCK * T::SIZE {
            out.write_all(&buf)?;
            buf.clear();
        }
    }
    out.write_all(&buf)?;
    out.flush()
}
