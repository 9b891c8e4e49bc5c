//! The crate's error type.

use std::path::PathBuf;

/// Errors of this crate; every variant names the file, key or value it is about.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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
    /// A JSON configuration file could not be parsed.
    #[error("{path}: not a MedNeXt configuration: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The parser's error.
        #[source]
        source: serde_json::Error,
    },

    /// A checkpoint could not be read or written (format detection, decoding, writing).
    #[error(transparent)]
    Checkpoint(#[from] upkern::Error),
    /// A run-directory JSON file (configuration, history) could not be read or written.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// The parser's or writer's error.
        #[source]
        source: serde_json::Error,
    },
    /// A training checkpoint is not one this trainer wrote, or does not fit the run resumed from it.
    #[error("{path}: training checkpoint: {reason}")]
    CheckpointMetadata {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    // -- configuration and inputs --
    /// A configuration value is out of its valid range; the message names the key.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// The network input has the wrong rank, channel count or spatial size.
    #[error("input of shape {shape:?}: {reason}")]
    InputShape {
        /// The offending shape.
        shape: Vec<usize>,
        /// What the network expects.
        reason: String,
    },
    /// A feature of the original implementation that this port does not provide.
    #[error("unsupported: {0}")]
    Unsupported(String),

    // -- state dicts --
    /// A tensor the configuration needs is absent from the state dict.
    #[error("missing tensor `{key}` (expected shape {expected:?})")]
    MissingTensor {
        /// The original key name.
        key: String,
        /// The shape the configuration expects.
        expected: Vec<usize>,
    },
    /// The state dict holds a tensor the configuration does not have.
    #[error("unexpected tensor `{key}` of shape {shape:?} (not part of this configuration)")]
    UnexpectedTensor {
        /// The key name (after renaming).
        key: String,
        /// Its shape.
        shape: Vec<usize>,
    },
    /// A tensor has another shape than the configuration expects.
    #[error("tensor `{key}`: expected shape {expected:?}, found {found:?}")]
    ShapeMismatch {
        /// The key name (after renaming).
        key: String,
        /// The shape the configuration expects.
        expected: Vec<usize>,
        /// The shape in the state dict.
        found: Vec<usize>,
    },
    /// MONAI's MedNeXt and the original disagree for this configuration (down-block expansion ratio).
    #[error("MONAI key map: {0}")]
    MonaiIncompatible(String),

    // -- tensors --
    /// An error from candle.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// The training loss became NaN or infinite.
    #[error("non-finite training loss {value} at epoch {epoch}, iteration {iteration}")]
    NonFiniteLoss {
        /// The epoch (0-based).
        epoch: usize,
        /// The iteration within the epoch.
        iteration: usize,
        /// The loss value.
        value: f64,
    },
    /// An error of the nnU-Net data pipeline (loader, cache, sliding window).
    #[cfg(feature = "nnunet")]
    #[error(transparent)]
    Data(#[from] nnunet_preproc::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
