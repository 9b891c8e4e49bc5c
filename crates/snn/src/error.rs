//! The crate's error type.
//!
//! One `#[non_exhaustive]` enum grouped by topic (as candle's and linfa's), every variant naming the file, key,
//! feature or value it is about.

use std::path::PathBuf;

/// Errors of this crate; every variant names the file, key, feature or value it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // -- configuration --
    /// A configuration value is out of its valid range; the message names the key.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },

    // -- data --
    /// A feature the model or the caller asks for is absent from the table.
    #[error("feature column `{name}` is missing from {source_name}")]
    MissingFeature {
        /// The feature's name.
        name: String,
        /// The table (file name or description) it was looked up in.
        source_name: String,
    },
    /// A feature value is NaN or infinite (policy: rejected, never imputed silently).
    #[error("non-finite value {value} for feature `{feature}` of case `{case}`")]
    NonFinite {
        /// The case identifier (or row number).
        case: String,
        /// The feature's name.
        feature: String,
        /// The offending value.
        value: f64,
    },
    /// The training labels hold a single class.
    #[error(
        "training labels hold a single class ({class}) in {n} samples; both 0 and 1 are needed"
    )]
    SingleClass {
        /// The only class present.
        class: u8,
        /// The number of samples.
        n: usize,
    },
    /// A label is not 0 or 1.
    #[error("label {value} at row {row} is not 0 or 1")]
    InvalidLabel {
        /// The row.
        row: usize,
        /// The offending value.
        value: f64,
    },
    /// Fewer features are available than the selection should keep.
    #[error("{available} features available but {requested} requested")]
    TooFewFeatures {
        /// Features available.
        available: usize,
        /// Features requested.
        requested: usize,
    },
    /// Array shapes do not agree.
    #[error("shape mismatch: {what}: expected {expected:?}, got {got:?}")]
    Shape {
        /// What was compared.
        what: &'static str,
        /// The expected shape.
        expected: Vec<usize>,
        /// The actual shape.
        got: Vec<usize>,
    },
    /// Too few samples of a class for the requested number of folds.
    #[error("{n_splits}-fold stratification needs at least {n_splits} samples of class {class}, found {count}")]
    TooFewSamples {
        /// The class.
        class: u8,
        /// Its sample count.
        count: usize,
        /// The requested number of folds.
        n_splits: usize,
    },
    /// A feature table could not be parsed.
    #[error("{path}: line {line}: {reason}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The 1-based line number.
        line: usize,
        /// What went wrong.
        reason: String,
    },

    // -- files --
    /// An operating-system I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A bundle's JSON could not be parsed or written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },
    /// A model bundle written by an incompatible format version.
    #[error("{path}: bundle format version {found}, this build reads version {supported}")]
    IncompatibleBundle {
        /// The bundle's JSON file.
        path: PathBuf,
        /// The version in the file.
        found: u32,
        /// The version this build reads and writes.
        supported: u32,
    },
    /// A bundle's weights do not match its architecture.
    #[error("{path}: {reason}")]
    BundleWeights {
        /// The weights file.
        path: PathBuf,
        /// What does not match.
        reason: String,
    },

    // -- upstream --
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error from a metric (`medmetrics`).
    #[error(transparent)]
    Metrics(#[from] medmetrics::Error),
    /// An error from linfa-preprocessing.
    #[error(transparent)]
    Preprocessing(#[from] linfa_preprocessing::PreprocessingError),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
