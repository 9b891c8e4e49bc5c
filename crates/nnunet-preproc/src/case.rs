//! A case: its channel images and optional segmentation, loaded and checked for a common grid.
//!
//! Generic (not MAMA-MIA specific): [`CaseFiles`] names the files, [`load_case`] reads them (channels in
//! parallel) into a `(C, z, y, x)` array and checks them as nnU-Net's reader does:
//!
//! * all channels and the segmentation must share the **shape** (exactly) and the **spacing**, compared with
//!   numpy's `allclose` tolerances against the first channel (the reference):
//!
//!   ```text
//!   |s_file − s_ref| ≤ SPACING_ATOL + SPACING_RTOL · |s_ref|     on every axis,  SPACING_RTOL = 1e-5, SPACING_ATOL = 1e-8
//!   ```
//!
//!   otherwise [`Error::GeometryMismatch`] names the case, the file and the reference file;
//! * origin or direction differences (same tolerance, on the ITK/LPS origin and direction) are only warnings,
//!   returned in [`Case::warnings`] (nnU-Net prints them and goes on).
//!
//! References: MIC-DKFZ/nnUNet v2.8.1 `nnunetv2/imageio/simpleitk_reader_writer.py` (`SimpleITKIO.read_images`,
//! `_check_all_same` in `imageio/base_reader_writer.py`) and `nnunetv2/experiment_planning/
//! verify_dataset_integrity.py` (`check_cases`: image/segmentation shape and spacing errors, origin and
//! direction warnings).

use std::path::{Path, PathBuf};

use ndarray::{Array3, Array4, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::geometry::{Geometry, Volume};
use crate::nifti_io;

/// Relative tolerance of the spacing (and origin/direction) comparison, numpy's `allclose` default.
pub const SPACING_RTOL: f64 = 1e-5;
/// Absolute tolerance of the spacing (and origin/direction) comparison, numpy's `allclose` default.
pub const SPACING_ATOL: f64 = 1e-8;

/// The files of one case.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaseFiles {
    /// The case identifier (used in errors and warnings).
    pub id: String,
    /// One NIfTI file per input channel, in channel order.
    pub channels: Vec<PathBuf>,
    /// The segmentation (label map), if the case has one.
    pub segmentation: Option<PathBuf>,
}

/// What [`load_case`] does with the segmentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SegmentationRequirement {
    /// Never read it (inference).
    Ignore,
    /// Read it when [`CaseFiles::segmentation`] names one; a named file must exist.
    #[default]
    Optional,
    /// It must be named and exist.
    Required,
    /// It must be named, exist and hold at least one foreground voxel (label > 0).
    RequiredNonEmpty,
}

/// A loaded case.
#[derive(Debug, Clone)]
pub struct Case {
    /// The case identifier.
    pub id: String,
    /// Channel data, `(C, z, y, x)`.
    pub data: Array4<f32>,
    /// The geometry of the first channel (the reference).
    pub geometry: Geometry,
    /// The label map `(z, y, x)`, when read.
    pub segmentation: Option<Array3<i16>>,
    /// The files it was read from.
    pub files: CaseFiles,
    /// Origin/direction disagreements between the files (not errors, as in nnU-Net).
    pub warnings: Vec<String>,
}

/// numpy's `allclose(a, b)`: every `|a_i − b_i| ≤ SPACING_ATOL + SPACING_RTOL · |b_i|`.
#[must_use]
pub fn all_close(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| (x - y).abs() <= SPACING_ATOL + SPACING_RTOL * y.abs())
}

/// Reads the channels (in parallel when there are several) and, per `requirement`, the segmentation, and
/// checks that they share one grid (see the module docs).
///
/// # Errors
/// * [`Error::InvalidParameter`] (`channels`) when `files.channels` is empty;
/// * [`Error::MissingFile`] naming the case and `channel i` (0-based) or `segmentation` when a file does not
///   exist, or when a required segmentation is not named (its `path` is then `(no segmentation file given)`);
/// * [`Error::GeometryMismatch`] naming the case, the offending file and the first channel when shapes differ
///   or spacings differ beyond the tolerance;
/// * [`Error::EmptySegmentation`] for [`SegmentationRequirement::RequiredNonEmpty`] without a voxel > 0;
/// * the errors of [`nifti_io::read_volume`] and [`nifti_io::read_label_map`] (invalid files, non-finite
///   voxels, …), which name the file.
pub fn load_case(files: &CaseFiles, requirement: SegmentationRequirement) -> Result<Case> {
    let case = files.id.as_str();
    if files.channels.is_empty() {
        return Err(Error::InvalidParameter {
            key: "channels",
            reason: format!("case {case}: no channel file given"),
        });
    }
    let missing = |what: String, path: &Path| Error::MissingFile {
        case: case.to_string(),
        what,
        path: path.to_path_buf(),
    };
    for (i, path) in files.channels.iter().enumerate() {
        if !path.is_file() {
            return Err(missing(format!("channel {i}"), path));
        }
    }
    let seg_path = match (requirement, &files.segmentation) {
        (SegmentationRequirement::Ignore, _) | (SegmentationRequirement::Optional, None) => None,
        (_, Some(path)) if !path.is_file() => return Err(missing("segmentation".into(), path)),
        (_, Some(path)) => Some(path.as_path()),
        (_, None) => {
            return Err(missing(
                "segmentation".into(),
                Path::new("(no segmentation file given)"),
            ))
        }
    };

    let (volumes, segmentation) = rayon::join(
        || read_channels(&files.channels),
        || seg_path.map(nifti_io::read_label_map).transpose(),
    );
    let volumes = volumes?;
    let segmentation = segmentation?;

    let reference = &volumes[0];
    let ref_path = files.channels[0].as_path();
    let mut warnings = Vec::new();
    for (volume, path) in volumes.iter().zip(&files.channels).skip(1) {
        check_grid(
            case,
            (volume.data.dim(), &volume.geometry, path),
            (reference, ref_path),
            &mut warnings,
        )?;
    }
    if let (Some((labels, geometry)), Some(path)) = (&segmentation, seg_path) {
        check_grid(
            case,
            (labels.dim(), geometry, path),
            (reference, ref_path),
            &mut warnings,
        )?;
        if requirement == SegmentationRequirement::RequiredNonEmpty
            && !labels.iter().any(|&l| l > 0)
        {
            return Err(Error::EmptySegmentation {
                case: case.to_string(),
                path: path.to_path_buf(),
            });
        }
    }

    let views: Vec<_> = volumes.iter().map(|v| v.data.view()).collect();
    let data = ndarray::stack(Axis(0), &views)?;
    Ok(Case {
        id: files.id.clone(),
        data,
        geometry: reference.geometry.clone(),
        segmentation: segmentation.map(|(labels, _)| labels),
        files: files.clone(),
        warnings,
    })
}

/// Reads all channels, in parallel when there are several; the first failing channel (in channel order)
/// gives the error.
fn read_channels(paths: &[PathBuf]) -> Result<Vec<Volume>> {
    if paths.len() == 1 {
        return Ok(vec![nifti_io::read_volume(&paths[0])?]);
    }
    let results: Vec<Result<Volume>> = paths.par_iter().map(nifti_io::read_volume).collect();
    results.into_iter().collect()
}

type Dim3 = (usize, usize, usize);

/// Shape and spacing must match the reference (errors); origin and direction should (warnings).
fn check_grid(
    case: &str,
    (dim, geometry, path): (Dim3, &Geometry, &Path),
    (reference, ref_path): (&Volume, &Path),
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mismatch = |what: &'static str, found: String, expected: String| Error::GeometryMismatch {
        case: case.to_string(),
        file: path.to_path_buf(),
        reference: ref_path.to_path_buf(),
        what,
        found,
        expected,
    };
    let ref_dim = reference.data.dim();
    if dim != ref_dim {
        let fmt = |(z, y, x): Dim3| format!("[{z}, {y}, {x}] (z, y, x)");
        return Err(mismatch("shape", fmt(dim), fmt(ref_dim)));
    }
    let ref_geometry = &reference.geometry;
    if !all_close(&geometry.spacing, &ref_geometry.spacing) {
        let fmt = |s: [f64; 3]| format!("{s:?} mm (z, y, x)");
        return Err(mismatch(
            "spacing",
            fmt(geometry.spacing),
            fmt(ref_geometry.spacing),
        ));
    }
    if !all_close(&geometry.origin_lps(), &ref_geometry.origin_lps()) {
        warnings.push(format!(
            "case {case}: origin {:?} (LPS) of {} differs from origin {:?} of {}",
            geometry.origin_lps(),
            path.display(),
            ref_geometry.origin_lps(),
            ref_path.display()
        ));
    }
    let flat = |d: [[f64; 3]; 3]| d.concat();
    if !all_close(
        &flat(geometry.direction_lps()),
        &flat(ref_geometry.direction_lps()),
    ) {
        warnings.push(format!(
            "case {case}: direction {:?} (LPS) of {} differs from direction {:?} of {}",
            geometry.direction_lps(),
            path.display(),
            ref_geometry.direction_lps(),
            ref_path.display()
        ));
    }
    Ok(())
}
