//! Atomic file writes (temporary name in the target folder, then rename) and small text helpers shared by
//! the cohort generator, the plots and the pipeline stages.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// The temporary name `path` is written under before the rename: `.<name>.partial` in the same folder.
#[must_use]
pub fn partial_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.partial"))
}

/// Writes `bytes` to `path` atomically, creating the parent folder.
///
/// # Errors
/// The folder cannot be created, the temporary file cannot be written or renamed (the message names the file).
pub fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = partial_path(path);
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}

/// Writes `text` to `path` atomically (see [`write_bytes_atomically`]).
///
/// # Errors
/// As [`write_bytes_atomically`].
pub fn write_text_atomically(path: &Path, text: &str) -> Result<()> {
    write_bytes_atomically(path, text.as_bytes())
}

/// Writes `value` as pretty JSON (with a final newline) to `path` atomically.
///
/// # Errors
/// Serialisation fails or as [`write_bytes_atomically`].
pub fn write_json_atomically<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .with_context(|| format!("serialising {}", path.display()))?;
    text.push('\n');
    write_text_atomically(path, &text)
}

/// Reads and parses a JSON file.
///
/// # Errors
/// The file cannot be read or is not valid JSON for `T` (the message names the file).
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

/// A CSV cell: empty for `None`, the shortest round-trip text otherwise.
#[must_use]
pub fn csv_cell(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}
