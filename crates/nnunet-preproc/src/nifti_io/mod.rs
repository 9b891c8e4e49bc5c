//! NIfTI-1 reading and writing (`.nii` and `.nii.gz`) into `(z, y, x)` arrays with their [`Geometry`].
//!
//! # Reading
//!
//! * Any stored integer or float type (u8, i8, i16, u16, i32, u32, i64, u64, f32, f64), either byte order,
//!   is read as `f32` with `scl_slope`/`scl_inter` applied as nibabel does (`v = raw · slope + inter` in f64;
//!   a zero or non-finite slope means no scaling, a non-finite intercept counts as 0 — nibabel raises there).
//! * The array is `(z, y, x)`, C-contiguous: NIfTI's Fortran `[x, y, z]` with its axes reversed.
//! * 4-D to 7-D files whose extra axes are all 1 are 3-D; 1-D/2-D files and real 4-D+ data give
//!   [`Error::WrongDimensionality`]. A 3-D file with one slice is fine.
//! * Spacing is `|pixdim[1..=3]|` reversed to array order; zero or non-finite gives
//!   [`Error::InvalidSpacing`] (nibabel would silently use 1 for a zero).
//! * The affine is nibabel's `img.affine` (`get_best_affine`): the sform if `sform_code` ∈ 1..=5, else the
//!   qform if `qform_code` ∈ 1..=5, else nibabel's base affine; see the `affine` sub-module for the formulas.
//!   This equals SimpleITK's origin/direction for ordinary files; they differ where ITK reads a header
//!   differently (qform and sform that disagree, negative pixdims with an sform, no transform at all).
//! * Bad files give typed errors naming the file: [`Error::Io`] (missing, unreadable),
//!   [`Error::InvalidNifti`] (truncated header, data or gzip stream; `.gz` name without gzip content; wrong
//!   magic; `.hdr/.img` pairs and NIfTI-2, which are not supported; unsupported datatype; bad `dim`).
//!   Bytes after the voxel data are ignored, as nibabel and ITK do.
//!
//! ## Non-finite voxels
//!
//! [`NonFinitePolicy::Reject`] (the default) refuses a volume holding NaN or ±Inf with
//! [`Error::NonFiniteVoxels`]: nnU-Net's z-score normalisation would propagate a single NaN into the mean
//! and standard deviation and silently turn the whole case into NaN. [`NonFinitePolicy::ReplaceWithZero`]
//! sets them to 0, [`NonFinitePolicy::Keep`] leaves them.
//!
//! # Writing
//!
//! [`write_volume`] (float32) and [`write_mask`] (uint8) write the header SimpleITK writes: sform and qform
//! both with code 1 (`NIFTI_XFORM_SCANNER_ANAT`), the sform = the affine, the qform = its rotation (qfac −1
//! for left-handed affines), pixdim = the spacing, slope 1 / intercept 0, units mm. A name ending in `.gz` is
//! gzip-compressed (level 1, like nibabel). The file is written to a temporary name in the same folder and
//! renamed, so a reader never sees half a file.
//!
//! # Examples
//!
//! ```
//! use nnunet_preproc::{nifti_io, Geometry};
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("case_0000.nii.gz");
//! let data = ndarray::Array3::from_shape_fn((2, 3, 4), |(z, y, x)| (z * 12 + y * 4 + x) as f32);
//! nifti_io::write_volume(&path, data.view(), &Geometry::from_spacing([2.5, 0.5, 0.5]))?;
//!
//! let back = nifti_io::read_volume(&path)?;
//! assert_eq!(back.data, data);
//! assert_eq!(back.geometry.spacing, [2.5, 0.5, 0.5]);
//! // NIfTI voxel (i, j, k) = (x, y, z) = (3, 2, 1) is array element (z, y, x) = (1, 2, 3)
//! assert_eq!(back.geometry.world_of_index([1.0, 2.0, 3.0]), [1.5, 1.0, 2.5]);
//! assert_eq!(nifti_io::read_geometry(&path)?.1, [2, 3, 4]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! References: nibabel 5.4.2 (`nibabel/nifti1.py`, `nibabel/arrayproxy.py`), SimpleITK 2.5.7 / ITK
//! `itkNiftiImageIO.cxx`, the NIfTI-1 standard (`nifti1.h`), nifti-rs 0.17 (header parser).

mod affine;
mod decode;
mod read;
mod write;

use std::path::Path;

use ndarray::{Array3, ArrayView3};

use crate::error::{Error, Result};
use crate::geometry::{Geometry, Volume};
use decode::{decode, Scaling};

/// What [`read_volume_with`] does with NaN and ±Inf voxels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NonFinitePolicy {
    /// Fail with [`Error::NonFiniteVoxels`] (default).
    #[default]
    Reject,
    /// Replace every non-finite voxel by 0.
    ReplaceWithZero,
    /// Keep them as they are.
    Keep,
}

/// Options of [`read_volume_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Handling of NaN / ±Inf voxels.
    pub non_finite: NonFinitePolicy,
}

/// Reads a 3-D NIfTI volume as `f32` with the default [`ReadOptions`] (non-finite voxels rejected).
///
/// # Errors
///
/// See [`read_volume_with`].
pub fn read_volume(path: impl AsRef<Path>) -> Result<Volume> {
    read_volume_with(path, &ReadOptions::default())
}

/// Reads a 3-D NIfTI volume as `f32`, `(z, y, x)`, scaled by `scl_slope`/`scl_inter` (see the module docs).
///
/// ```text
/// data[z, y, x] = raw(i = x, j = y, k = z) · slope + inter
/// ```
///
/// # Errors
///
/// [`Error::Io`], [`Error::InvalidNifti`], [`Error::WrongDimensionality`], [`Error::InvalidSpacing`], and
/// [`Error::NonFiniteVoxels`] under [`NonFinitePolicy::Reject`]; each names the file.
pub fn read_volume_with(path: impl AsRef<Path>, options: &ReadOptions) -> Result<Volume> {
    let path = path.as_ref();
    let bytes = read::file_bytes(path)?;
    let parsed = read::parse_header(path, &bytes)?;
    let geometry = read::geometry(path, &parsed)?;
    let src = read::data_bytes(path, &parsed, &bytes)?;
    let scaling = Scaling::from_header(parsed.header.scl_slope, parsed.header.scl_inter);
    let mut out = vec![0.0f32; parsed.n_voxels];
    let rejected = decode(
        src,
        parsed.dtype,
        parsed.big_endian,
        scaling,
        &mut out,
        |v, o| {
            *o = v as f32;
            o.is_finite()
        },
    );
    drop(bytes);
    if rejected.count > 0 {
        match options.non_finite {
            NonFinitePolicy::Reject => {
                return Err(Error::NonFiniteVoxels {
                    path: path.to_path_buf(),
                    count: rejected.count,
                })
            }
            NonFinitePolicy::ReplaceWithZero => out
                .iter_mut()
                .filter(|v| !v.is_finite())
                .for_each(|v| *v = 0.0),
            NonFinitePolicy::Keep => {}
        }
    }
    let [nx, ny, nz] = parsed.shape_xyz;
    let data = Array3::from_shape_vec((nz, ny, nx), out)?;
    Ok(Volume { data, geometry })
}

/// Reads only the header: the geometry and the shape in array order `(z, y, x)`.
///
/// The voxel data is neither read nor checked (a file with truncated data passes here).
///
/// # Errors
///
/// [`Error::Io`], [`Error::InvalidNifti`], [`Error::WrongDimensionality`], [`Error::InvalidSpacing`].
pub fn read_geometry(path: impl AsRef<Path>) -> Result<(Geometry, [usize; 3])> {
    let path = path.as_ref();
    let bytes = read::header_bytes(path)?;
    let parsed = read::parse_header(path, &bytes)?;
    let geometry = read::geometry(path, &parsed)?;
    let [nx, ny, nz] = parsed.shape_xyz;
    Ok((geometry, [nz, ny, nx]))
}

/// Reads a label map (segmentation) as `i16`, `(z, y, x)`, with its geometry.
///
/// Every voxel (after `scl_slope`/`scl_inter`) must be an integer in `i16`'s range; nnU-Net's −1 label
/// is kept.
///
/// # Errors
///
/// As [`read_volume_with`], and [`Error::InvalidNifti`] when a voxel is not an integer in −32768..=32767
/// (NaN included); the message gives their count and the first such value.
pub fn read_label_map(path: impl AsRef<Path>) -> Result<(Array3<i16>, Geometry)> {
    let path = path.as_ref();
    let bytes = read::file_bytes(path)?;
    let parsed = read::parse_header(path, &bytes)?;
    let geometry = read::geometry(path, &parsed)?;
    let src = read::data_bytes(path, &parsed, &bytes)?;
    let scaling = Scaling::from_header(parsed.header.scl_slope, parsed.header.scl_inter);
    let mut out = vec![0i16; parsed.n_voxels];
    let range = f64::from(i16::MIN)..=f64::from(i16::MAX);
    let rejected = decode(
        src,
        parsed.dtype,
        parsed.big_endian,
        scaling,
        &mut out,
        |v, o| {
            let ok = v.fract() == 0.0 && range.contains(&v);
            *o = if ok { v as i16 } else { 0 };
            ok
        },
    );
    if rejected.count > 0 {
        return Err(read::invalid(
            path,
            format!(
                "label map holds {} voxels that are not integers in the i16 range (first: {})",
                rejected.count, rejected.first
            ),
        ));
    }
    let [nx, ny, nz] = parsed.shape_xyz;
    Ok((Array3::from_shape_vec((nz, ny, nx), out)?, geometry))
}

/// Writes a `(z, y, x)` float32 volume with `geometry` (header as described in the module docs), gzip
/// when the name ends in `.gz`, atomically; the parent folder is created if missing.
///
/// # Errors
///
/// [`Error::InvalidSpacing`] for a non-positive or non-finite spacing, [`Error::InvalidNifti`] for an
/// affine that is not finite or singular or an axis longer than 32767, [`Error::Io`] when writing fails.
pub fn write_volume(
    path: impl AsRef<Path>,
    data: ArrayView3<f32>,
    geometry: &Geometry,
) -> Result<()> {
    write::write_nifti(path.as_ref(), data, geometry)
}

/// Writes a `(z, y, x)` uint8 mask or label map like [`write_volume`].
///
/// # Errors
///
/// As [`write_volume`].
pub fn write_mask(path: impl AsRef<Path>, mask: ArrayView3<u8>, geometry: &Geometry) -> Result<()> {
    write::write_nifti(path.as_ref(), mask, geometry)
}
