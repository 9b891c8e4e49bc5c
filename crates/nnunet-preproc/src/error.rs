//! The crate's error type.
//!
//! Every variant names the file, case or key it is about, so that a batch job can log the failure of one
//! case and go on with the next.

use std::path::PathBuf;

/// Errors of `nnunet-preproc`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- files -------------------------------------------------------------------------------------
    /// An operating-system I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a readable NIfTI-1 file (bad magic, truncated, not gzip although named `.gz`, …).
    #[error("{path}: not a valid NIfTI file: {reason}")]
    InvalidNifti {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The volume does not have the dimensionality the caller needs (e.g. 2-D or 5-D where 3-D is needed).
    #[error("{path}: expected a {expected}-D volume, found {found}-D data of shape {shape:?}")]
    WrongDimensionality {
        /// The file.
        path: PathBuf,
        /// The dimensionality needed.
        expected: usize,
        /// The dimensionality found.
        found: usize,
        /// The stored shape (NIfTI order x, y, z, …).
        shape: Vec<usize>,
    },
    /// Spacing must be finite and strictly positive on every axis.
    #[error(
        "{path}: invalid voxel spacing {spacing:?} (array order z, y, x; must be finite and > 0)"
    )]
    InvalidSpacing {
        /// The file (or a description of the source of the spacing).
        path: PathBuf,
        /// The offending spacing in array order (z, y, x).
        spacing: [f64; 3],
    },
    /// The volume holds NaN or ±Inf voxels (the policy is documented in [`crate::nifti_io`]).
    #[error("{path}: {count} non-finite voxels (NaN or Inf)")]
    NonFiniteVoxels {
        /// The file.
        path: PathBuf,
        /// How many voxels are not finite.
        count: usize,
    },
    /// A JSON file could not be read or parsed.
    #[error("{path}: invalid JSON: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A table (CSV or XLSX) could not be read or lacks a required column.
    #[error("{path}: {reason}")]
    Table {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A preprocessed-cache file is missing, truncated or of the wrong element type or rank.
    #[error("{path}: preprocessed cache: {reason}")]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    // ---- cases and data sets -------------------------------------------------------------------------
    /// A file that the case needs does not exist.
    #[error("case {case}: missing {what} (looked for {path})")]
    MissingFile {
        /// The case identifier.
        case: String,
        /// What was looked for (e.g. "phase 2 image", "expert segmentation").
        what: String,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// Channels (or a channel and the segmentation) of one case disagree in shape or spacing.
    #[error("case {case}: {file} has {what} {found}, but {reference} has {expected}")]
    GeometryMismatch {
        /// The case identifier.
        case: String,
        /// The disagreeing file.
        file: PathBuf,
        /// The file the others are compared with.
        reference: PathBuf,
        /// "shape" or "spacing".
        what: &'static str,
        /// The value in `file`.
        found: String,
        /// The value in `reference`.
        expected: String,
    },
    /// The segmentation holds no foreground voxel where one is required.
    #[error("case {case}: segmentation {path} is empty (no foreground voxel)")]
    EmptySegmentation {
        /// The case identifier.
        case: String,
        /// The segmentation file.
        path: PathBuf,
    },
    /// A case identifier that the data set does not hold.
    #[error("unknown case {case} in {root}")]
    UnknownCase {
        /// The case identifier.
        case: String,
        /// The data-set root.
        root: PathBuf,
    },

    // ---- parameters and arrays -----------------------------------------------------------------------
    /// A configuration value is out of its valid range; the message names the key.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// Arrays whose shapes must agree do not.
    #[error("shape mismatch: {context}: {found:?} vs {expected:?}")]
    ShapeMismatch {
        /// What was compared.
        context: String,
        /// The shape found.
        found: Vec<usize>,
        /// The shape expected.
        expected: Vec<usize>,
    },
    /// An ndarray shape error.
    #[error(transparent)]
    NdShape(#[from] ndarray::ShapeError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
