//! Atomic file writing: write to a temporary file in the destination folder, then rename it onto the
//! destination, so that a reader (or a crashed batch job) never sees a half-written file.
//!
//! ```text
//! <dir>/<name>  ←rename←  <dir>/.<stem>.tmp-<pid>-<counter><ext>
//! ```
//!
//! The temporary name keeps the destination's extension(s) at its end (`.nii.gz`, `.npy`, `.json`), so
//! writers that choose a format from the extension (e.g. gzip for `.gz`) behave exactly as for the real
//! path. `rename` within one folder is atomic on POSIX file systems.
//!
//! Reference: the write-then-rename pattern of e.g. the `tempfile` crate's `NamedTempFile::persist`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Process-wide counter that makes temporary names unique across threads.
static COUNTER: AtomicU64 = AtomicU64::new(0);

/// The temporary path used for `path`: same folder, hidden name, same extension(s) at the end.
///
/// ```text
/// /a/b/case.nii.gz -> /a/b/.case.tmp-<pid>-<n>.nii.gz
/// ```
fn temporary_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".to_owned());
    // split at the first dot that is not the leading one: "case.nii.gz" -> ("case", ".nii.gz")
    let (stem, ext) = match name.char_indices().skip(1).find(|&(_, c)| c == '.') {
        Some((i, _)) => name.split_at(i),
        None => (name.as_str(), ""),
    };
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut tmp = OsString::from(".");
    tmp.push(stem);
    tmp.push(format!(".tmp-{}-{n}", std::process::id()));
    tmp.push(ext);
    path.with_file_name(tmp)
}

/// Writes `path` atomically: `write` is called with a temporary path in the same folder and must create
/// the complete file there; on success the temporary file is renamed onto `path`.
///
/// The parent folder is created if missing. If `write` fails (or the rename fails) the temporary file is
/// removed and the error is returned; an existing file at `path` is left untouched.
///
/// # Errors
///
/// [`Error::Io`] naming the folder or file when the folder cannot be created or the rename fails; any
/// error returned by `write`.
pub(crate) fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    let tmp = temporary_path(path);
    let outcome =
        write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if outcome.is_err() {
        // Best effort: the temporary file may not exist if `write` failed before creating it.
        let _ = std::fs::remove_file(&tmp);
    }
    outcome
}

/// Writes `bytes` to `path` atomically (see [`write_atomically`]).
///
/// # Errors
///
/// [`Error::Io`] naming the file when the folder cannot be created, or writing or renaming fails.
pub(crate) fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |tmp| {
        std::fs::write(tmp, bytes).map_err(|e| Error::io(path, e))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_path_keeps_extensions_and_folder() {
        let t = temporary_path(Path::new("/a/b/case.nii.gz"));
        assert_eq!(t.parent(), Some(Path::new("/a/b")));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".case.tmp-"), "{name}");
        assert!(name.ends_with(".nii.gz"), "{name}");
        let t = temporary_path(Path::new("plain"));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name.starts_with(".plain.tmp-"), "{name}");
        let t = temporary_path(Path::new(".hidden.json"));
        let name = t.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("..hidden.tmp-") && name.ends_with(".json"),
            "{name}"
        );
    }

    #[test]
    fn writes_creates_folder_and_replaces() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/dir/x.json");
        write_bytes_atomically(&p, b"one").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"one");
        write_bytes_atomically(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let entries: Vec<_> = std::fs::read_dir(p.parent().unwrap()).unwrap().collect();
        assert_eq!(entries.len(), 1, "no temporary file left behind");
    }

    #[test]
    fn failed_write_leaves_no_temporary_and_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.npy");
        write_bytes_atomically(&p, b"old").unwrap();
        let r = write_atomically(&p, |tmp| {
            std::fs::write(tmp, b"partial").map_err(|e| Error::io(tmp, e))?;
            Err(Error::InvalidParameter {
                key: "test",
                reason: "fails on purpose".into(),
            })
        });
        assert!(matches!(r, Err(Error::InvalidParameter { .. })));
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
        let entries: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(entries.len(), 1, "temporary file removed");
    }
}
