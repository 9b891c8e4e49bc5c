//! The crate's error type.
//!
//! Every variant names the file or the state-dict key it is about (and, for shape problems, both shapes),
//! so that a failed conversion says exactly which tensor of which checkpoint is at fault.

use std::path::PathBuf;

/// Errors of `upkern`.
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
    /// The file is neither a safetensors file nor a PyTorch zip checkpoint.
    #[error("{path}: not a checkpoint (expected safetensors or a PyTorch zip file written by torch.save): {reason}")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// A PyTorch file in the legacy (pre-1.6, non-zip) `torch.save` format.
    #[error("{path}: legacy (non-zip) torch.save format; re-save it with torch >= 1.6 (`torch.save(obj, f)`) or convert it to safetensors")]
    LegacyTorchFormat {
        /// The file.
        path: PathBuf,
    },
    /// The file has a recognised format but cannot be decoded (truncated, bad header, unsupported layout).
    #[error("{path}: corrupt or unsupported checkpoint: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The checkpoint decoded but yielded no tensor under any of the tried locations.
    #[error("{path}: no tensors found (tried {tried:?}; top-level keys of the file: {top_level_keys:?})")]
    NoTensors {
        /// The file.
        path: PathBuf,
        /// The locations tried (`<top level>` or a top-level dictionary key).
        tried: Vec<String>,
        /// The string keys found at the top level of the pickled object, sorted (empty for safetensors).
        top_level_keys: Vec<String>,
    },
    /// Two keys of one checkpoint map to the same name once `module.`/`_orig_mod.` are stripped.
    #[error(
        "{path}: key `{key}` occurs twice once the `module.`/`_orig_mod.` prefixes are stripped"
    )]
    DuplicateKey {
        /// The file.
        path: PathBuf,
        /// The key after prefix stripping.
        key: String,
    },
    /// A safetensors file could not be written.
    #[error("{path}: cannot write safetensors: {reason}")]
    Write {
        /// The destination file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },

    // ---- state-dict transfer -----------------------------------------------------------------------
    /// A key of the target model is absent from the source state dict.
    #[error("key `{key}` (target shape {target_shape:?}) is missing from the source state dict")]
    MissingKey {
        /// The key.
        key: String,
        /// Its shape in the target model.
        target_shape: Vec<usize>,
    },
    /// A key of the source state dict does not exist in the target model.
    #[error("key `{key}` (source shape {source_shape:?}) does not exist in the target model")]
    UnexpectedKey {
        /// The key.
        key: String,
        /// Its shape in the source state dict.
        source_shape: Vec<usize>,
    },
    /// Source and target shapes of one key cannot be reconciled by kernel resizing.
    #[error(
        "key `{key}`: source shape {source_shape:?} vs target shape {target_shape:?}: {reason}"
    )]
    ShapeMismatch {
        /// The key (or `<tensor>` for a bare [`crate::resize_kernel`] call).
        key: String,
        /// The shape in the source state dict.
        source_shape: Vec<usize>,
        /// The shape requested by the target model.
        target_shape: Vec<usize>,
        /// Why they do not match (rank, channel dims, non-resizable tensor).
        reason: String,
    },

    // ---- parameters and tensor maths ---------------------------------------------------------------
    /// A configuration value is out of its valid range; the message names the key.
    #[error("invalid parameter `{key}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        key: &'static str,
        /// Why it is invalid.
        reason: String,
    },
    /// An error from candle's tensor operations.
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
