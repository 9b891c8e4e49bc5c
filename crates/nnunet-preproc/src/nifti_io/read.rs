//! Reading a single-file NIfTI-1 (`.nii` / `.nii.gz`): the bytes (gunzipped), the header, its checks
//! (magic, sizes, dimensionality, datatype, vox_offset, data length) and the geometry.
//!
//! References: NIfTI-1 standard `nifti1.h`; nibabel 5.4.2 `nibabel/nifti1.py` (`Nifti1Header` checks,
//! `get_best_affine`), `nibabel/analyze.py` (`get_zooms`); nifti-rs 0.17 `src/header.rs` (header parser).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use flate2::bufread::MultiGzDecoder;
use nifti::{Endianness, NiftiHeader};

use super::affine::{best_affine, zooms_xyz};
use super::decode::DataType;
use crate::error::{Error, Result};
use crate::geometry::{check_spacing, Geometry};

/// Size of the NIfTI-1 header.
const HEADER_SIZE: usize = 348;
/// Header plus the 4-byte extender: the smallest vox_offset of a single-file NIfTI-1.
const MIN_VOX_OFFSET: usize = 352;
/// gzip's magic bytes.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

pub(super) fn invalid(path: &Path, reason: impl Into<String>) -> Error {
    Error::InvalidNifti {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Whether the file name ends in `.gz` (any case).
#[must_use]
pub(super) fn is_gz_name(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// The whole file, gunzipped when it is a gzip stream. A name ending in `.gz` must hold a gzip stream; a
/// gzip stream under another name is accepted.
pub(super) fn file_bytes(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    if raw.starts_with(&GZIP_MAGIC) {
        // ISIZE (the last 4 bytes) is the uncompressed size modulo 2³²: a capacity hint only.
        let hint = raw
            .len()
            .checked_sub(4)
            .and_then(|i| raw.get(i..))
            .map_or(0, |t| u32::from_le_bytes([t[0], t[1], t[2], t[3]]) as usize)
            .min(raw.len().saturating_mul(1032));
        let mut out = Vec::with_capacity(hint);
        MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| invalid(path, format!("corrupt or truncated gzip stream: {e}")))?;
        Ok(out)
    } else if is_gz_name(path) {
        Err(invalid(
            path,
            "the name ends in .gz but the file is not a gzip stream",
        ))
    } else {
        Ok(raw)
    }
}

/// The first [`MIN_VOX_OFFSET`] bytes of the (gunzipped) file, or fewer if the file is shorter.
pub(super) fn header_bytes(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::new(file);
    let gzip = reader
        .fill_buf()
        .map_err(|e| Error::io(path, e))?
        .starts_with(&GZIP_MAGIC);
    let mut out = Vec::with_capacity(MIN_VOX_OFFSET);
    if gzip {
        MultiGzDecoder::new(reader)
            .take(MIN_VOX_OFFSET as u64)
            .read_to_end(&mut out)
            .map_err(|e| invalid(path, format!("corrupt or truncated gzip stream: {e}")))?;
    } else if is_gz_name(path) {
        return Err(invalid(
            path,
            "the name ends in .gz but the file is not a gzip stream",
        ));
    } else {
        reader
            .take(MIN_VOX_OFFSET as u64)
            .read_to_end(&mut out)
            .map_err(|e| Error::io(path, e))?;
    }
    Ok(out)
}

/// What the header says about the voxel data.
#[derive(Debug, Clone)]
pub(super) struct Parsed {
    /// The raw header (nifti-rs parses byte order and fields).
    pub header: NiftiHeader,
    /// Spatial shape in NIfTI order `(nx, ny, nz)`.
    pub shape_xyz: [usize; 3],
    /// Stored datatype.
    pub dtype: DataType,
    /// Byte offset of the first voxel.
    pub offset: usize,
    /// Voxel count.
    pub n_voxels: usize,
    /// Whether the file is big-endian.
    pub big_endian: bool,
}

impl Parsed {
    /// Number of voxel-data bytes the header asks for.
    #[must_use]
    pub(super) fn data_len(&self) -> usize {
        self.n_voxels * self.dtype.size()
    }
}

/// Parses and checks the header at the start of `bytes` (see the module docs for the rules).
pub(super) fn parse_header(path: &Path, bytes: &[u8]) -> Result<Parsed> {
    if bytes.len() < HEADER_SIZE {
        return Err(invalid(
            path,
            format!(
                "truncated header: {} bytes, a NIfTI-1 header has {HEADER_SIZE}",
                bytes.len()
            ),
        ));
    }
    let sizeof_hdr = [bytes[0], bytes[1], bytes[2], bytes[3]];
    let (le, be) = (
        i32::from_le_bytes(sizeof_hdr),
        i32::from_be_bytes(sizeof_hdr),
    );
    if le == 540 || be == 540 {
        return Err(invalid(
            path,
            "NIfTI-2 files are not supported (sizeof_hdr = 540)",
        ));
    }
    match &bytes[344..348] {
        b"n+1\0" => {}
        b"ni1\0" => {
            return Err(invalid(
                path,
                "a .hdr/.img pair header; only single-file .nii/.nii.gz are supported",
            ))
        }
        m => {
            return Err(invalid(
                path,
                format!("wrong magic {m:?}, expected \"n+1\\0\""),
            ))
        }
    }
    if le != HEADER_SIZE as i32 && be != HEADER_SIZE as i32 {
        return Err(invalid(
            path,
            format!("sizeof_hdr is {le}, expected {HEADER_SIZE}"),
        ));
    }
    let header = NiftiHeader::from_reader(&bytes[..HEADER_SIZE])
        .map_err(|e| invalid(path, e.to_string()))?;

    let ndim = usize::from(header.dim[0]);
    if !(1..=7).contains(&ndim) {
        return Err(invalid(
            path,
            format!("dim[0] = {} is not in 1..=7", header.dim[0] as i16),
        ));
    }
    let dims: Vec<usize> = header.dim[1..=ndim]
        .iter()
        .map(|&d| usize::from(d))
        .collect();
    if let Some(i) = dims.iter().position(|&d| d == 0 || d > i16::MAX as usize) {
        return Err(invalid(
            path,
            format!(
                "dim[{}] = {} must be positive",
                i + 1,
                header.dim[i + 1] as i16
            ),
        ));
    }
    // dimensionality ignoring trailing singleton axes beyond the third
    let found = dims
        .iter()
        .rposition(|&d| d != 1)
        .map_or(1, |i| i + 1)
        .max(ndim.min(3));
    if ndim < 3 || found > 3 {
        return Err(Error::WrongDimensionality {
            path: path.to_path_buf(),
            expected: 3,
            found,
            shape: dims,
        });
    }
    let dtype = DataType::from_code(header.datatype).ok_or_else(|| {
        invalid(
            path,
            format!("unsupported datatype code {}", header.datatype),
        )
    })?;
    let n_voxels = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .filter(|n| n.checked_mul(dtype.size()).is_some())
        .ok_or_else(|| invalid(path, format!("volume of shape {dims:?} is too large")))?;
    let vox_offset = header.vox_offset;
    // nibabel raises vox_offset < 352 to 352 for single files; fractional offsets are truncated.
    let offset = if vox_offset.is_finite() && vox_offset > MIN_VOX_OFFSET as f32 {
        vox_offset as usize
    } else {
        MIN_VOX_OFFSET
    };
    Ok(Parsed {
        big_endian: header.endianness == Endianness::Big,
        shape_xyz: [dims[0], dims[1], dims[2]],
        header,
        dtype,
        offset,
        n_voxels,
    })
}

/// The voxel bytes of a parsed file; errors when the file holds fewer than the header asks for.
pub(super) fn data_bytes<'a>(path: &Path, parsed: &Parsed, bytes: &'a [u8]) -> Result<&'a [u8]> {
    let need = parsed.data_len();
    let have = bytes.len().saturating_sub(parsed.offset);
    if have < need {
        return Err(invalid(
            path,
            format!(
                "truncated data: the header asks for {need} bytes ({} voxels of {} bytes) after vox_offset {}, \
                 the file holds {have}",
                parsed.n_voxels,
                parsed.dtype.size(),
                parsed.offset
            ),
        ));
    }
    Ok(&bytes[parsed.offset..parsed.offset + need])
}

/// Spacing (abs of pixdim, array order) and nibabel's best affine.
pub(super) fn geometry(path: &Path, parsed: &Parsed) -> Result<Geometry> {
    let [dx, dy, dz] = zooms_xyz(&parsed.header);
    let spacing = [dz, dy, dx];
    check_spacing(spacing, path)?;
    let affine = best_affine(&parsed.header, parsed.shape_xyz);
    if !affine.iter().flatten().all(|v| v.is_finite()) {
        return Err(invalid(path, "the sform/qform holds non-finite values"));
    }
    Ok(Geometry { spacing, affine })
}
