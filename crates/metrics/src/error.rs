//! The crate's error type.
//!
//! Every variant names what it is about (the argument, metric, case or subgroup variable) so that a batch
//! evaluation can report a failing case and go on.

/// Errors of this crate; every variant names the file, key or value it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // -- I/O ------------------------------------------------------------------------------------------------
    /// An operating-system I/O error on `path`.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    // -- parameters -----------------------------------------------------------------------------------------
    /// A configuration value is out of its valid range; the message names the key.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// A voxel spacing that is not finite and positive.
    #[error("invalid spacing {spacing:?}: every entry must be finite and > 0")]
    InvalidSpacing {
        /// The spacing as given.
        spacing: [f64; 3],
    },

    // -- input data -----------------------------------------------------------------------------------------
    /// Two arrays that must have the same shape do not.
    #[error("shape mismatch in {what}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// What was compared (e.g. `"prediction vs ground truth"`).
        what: &'static str,
        /// The first shape.
        left: Vec<usize>,
        /// The second shape.
        right: Vec<usize>,
    },
    /// Two sequences that must have the same length do not.
    #[error("length mismatch in {what}: {left} vs {right}")]
    LengthMismatch {
        /// What was compared (e.g. `"y_true vs y_score"`).
        what: &'static str,
        /// The first length.
        left: usize,
        /// The second length.
        right: usize,
    },
    /// A value other than 0/1 where a binary mask or label is required.
    #[error("{what}: non-binary value {value} at index {index:?} (only 0 and 1 are allowed)")]
    NonBinary {
        /// The argument (e.g. `"prediction"`, `"y_true"`).
        what: &'static str,
        /// The index of the first offending element.
        index: Vec<usize>,
        /// The offending value.
        value: f64,
    },
    /// A NaN or infinite value where a finite number is required.
    #[error("{what}: non-finite value {value} at index {index}")]
    NonFinite {
        /// The argument (e.g. `"y_score"`).
        what: &'static str,
        /// The index of the first offending element.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// A value outside the allowed range (e.g. a probability outside `[0, 1]`).
    #[error("{what}: value {value} at index {index} is outside {range}")]
    OutOfRange {
        /// The argument.
        what: &'static str,
        /// The index of the first offending element.
        index: usize,
        /// The offending value.
        value: f64,
        /// The allowed range, in words.
        range: &'static str,
    },
    /// An empty input where at least one element is required.
    #[error("{what}: empty input")]
    EmptyInput {
        /// The argument.
        what: &'static str,
    },
    /// A metric is undefined for this input and the caller asked for an error in that case
    /// ([`crate::EmptyPolicy::Error`]).
    #[error("{metric} is undefined: {reason}")]
    Undefined {
        /// The metric.
        metric: &'static str,
        /// Why (e.g. `"both masks are empty"`).
        reason: &'static str,
    },

    // -- subgroups ------------------------------------------------------------------------------------------
    /// A subgroup value that no binning rule knows (reported, never silently dropped).
    #[error("unknown {variable} value {value:?}{}", case.as_deref().map(|c| format!(" for case {c}")).unwrap_or_default())]
    UnknownSubgroup {
        /// The subgroup variable (`age`, `breast_density`, …).
        variable: &'static str,
        /// The value as given.
        value: String,
        /// The case it belongs to, where known.
        case: Option<String>,
    },
}

impl Error {
    /// Attaches a case id to an [`Error::UnknownSubgroup`]; other variants are returned unchanged.
    #[must_use]
    pub fn for_case(self, id: &str) -> Self {
        match self {
            Error::UnknownSubgroup {
                variable, value, ..
            } => Error::UnknownSubgroup {
                variable,
                value,
                case: Some(id.to_string()),
            },
            other => other,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
