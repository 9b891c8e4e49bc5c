//! The preprocessed-dataset cache on disk: one folder, three files per case, memory-mappable.
//!
//! ```text
//! <dir>/<case>.npy          data, float32, (C, z, y, x), C order        (nnU-Net: <case>.b2nd)
//! <dir>/<case>_seg.npy      segmentation, int16, (z, y, x), −1 outside  (nnU-Net: <case>_seg.b2nd)
//! <dir>/<case>.json         the case's properties (JSON)                (nnU-Net: <case>.pkl)
//! <dir>/failures.json       cases that failed, with the error message
//! ```
//!
//! nnU-Net v2 stores blosc2-compressed chunks; the requirement for training is only cheap random patch reads,
//! which plain `.npy` files give through a memory map (the `.npy` header is padded to 64 bytes, so the data
//! of a page-aligned mapping is aligned for `f32`). Every file is written to a temporary name and renamed
//! into place; the properties JSON is written **last** and is the marker of a finished case, so an
//! interrupted run leaves no half-written case behind and a re-run skips the finished ones.
//!
//! Reference: nnU-Net v2 `preprocessing/preprocessors/default_preprocessor.py` (`run`, storage) and
//! `training/dataloading/nnunet_dataset.py` (the readers).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::Mmap;
use ndarray::{ArrayView3, ArrayView4};
use ndarray_npy::{ViewNpyExt, WriteNpyExt};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::atomic::{write_atomically, write_bytes_atomically};
use crate::error::{Error, Result};

const FAILURES_FILE: &str = "failures.json";

/// A folder of preprocessed cases (see the module docs for the layout).
#[derive(Debug, Clone)]
pub struct PreprocessedCache {
    dir: PathBuf,
}

impl PreprocessedCache {
    /// Opens the cache folder, creating it if needed.
    ///
    /// # Errors
    /// [`Error::Io`] if the folder cannot be created.
    pub fn create(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        Ok(PreprocessedCache { dir })
    }

    /// Opens an existing cache folder.
    ///
    /// # Errors
    /// [`Error::Io`] (not found) if the folder does not exist.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref().to_path_buf();
        if !dir.is_dir() {
            return Err(Error::io(
                &dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "cache folder not found"),
            ));
        }
        Ok(PreprocessedCache { dir })
    }

    /// The cache folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Path of the data file of `case`.
    #[must_use]
    pub fn data_path(&self, case: &str) -> PathBuf {
        self.dir.join(format!("{case}.npy"))
    }

    /// Path of the segmentation file of `case`.
    #[must_use]
    pub fn seg_path(&self, case: &str) -> PathBuf {
        self.dir.join(format!("{case}_seg.npy"))
    }

    /// Path of the properties file of `case` (the completion marker).
    #[must_use]
    pub fn properties_path(&self, case: &str) -> PathBuf {
        self.dir.join(format!("{case}.json"))
    }

    /// Whether `case` was written completely (its properties file, written last, exists).
    #[must_use]
    pub fn contains(&self, case: &str) -> bool {
        self.properties_path(case).is_file() && self.data_path(case).is_file()
    }

    /// The finished cases, sorted.
    ///
    /// # Errors
    /// [`Error::Io`] if the folder cannot be listed.
    pub fn case_ids(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for entry in std::fs::read_dir(&self.dir).map_err(|e| Error::io(&self.dir, e))? {
            let entry = entry.map_err(|e| Error::io(&self.dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(id) = name.strip_suffix(".json") {
                if name != FAILURES_FILE && !name.starts_with('.') && self.contains(id) {
                    ids.push(id.to_string());
                }
            }
        }
        ids.sort();
        Ok(ids)
    }

    /// Writes one case: data, optional segmentation, then the properties (the completion marker), each
    /// atomically. A previous failure record of the case is cleared.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Cache`] if a file cannot be written.
    pub fn write_case<P: Serialize>(
        &self,
        case: &str,
        data: ArrayView4<f32>,
        seg: Option<ArrayView3<i16>>,
        properties: &P,
    ) -> Result<()> {
        write_npy_atomically(&self.data_path(case), |w| data.write_npy(w))?;
        match seg {
            Some(seg) => write_npy_atomically(&self.seg_path(case), |w| seg.write_npy(w))?,
            None => remove_if_exists(&self.seg_path(case))?,
        }
        let json = serde_json::to_vec_pretty(properties).map_err(|e| Error::Json {
            path: self.properties_path(case),
            source: e,
        })?;
        write_bytes_atomically(&self.properties_path(case), &json)?;
        self.clear_failure(case)
    }

    /// Reads the properties of `case`.
    ///
    /// # Errors
    /// [`Error::Io`] if missing, [`Error::Json`] if they do not parse as `P`.
    pub fn read_properties<P: DeserializeOwned>(&self, case: &str) -> Result<P> {
        read_json(&self.properties_path(case))
    }

    /// Memory-maps the data (and segmentation, if stored) of `case`.
    ///
    /// # Errors
    /// [`Error::Io`] if a file cannot be opened, [`Error::Cache`] if it is not a valid `.npy` of the
    /// expected type and rank.
    pub fn map_case(&self, case: &str) -> Result<MappedCase> {
        let data = map_file(&self.data_path(case))?;
        let seg_path = self.seg_path(case);
        let seg = if seg_path.is_file() {
            Some(map_file(&seg_path)?)
        } else {
            None
        };
        let mapped = MappedCase {
            data,
            seg,
            data_path: self.data_path(case),
            seg_path,
        };
        // Validate once so that the accessors cannot fail later.
        mapped.try_data()?;
        mapped.try_seg()?;
        Ok(mapped)
    }

    /// Records that `case` failed with `message` (kept in `failures.json`, atomically).
    ///
    /// # Errors
    /// [`Error::Io`] / [`Error::Json`] if the record cannot be written.
    pub fn record_failure(&self, case: &str, message: &str) -> Result<()> {
        let mut failures = self.failures()?;
        failures.insert(case.to_string(), message.to_string());
        self.write_failures(&failures)
    }

    /// The recorded failures: case → error message.
    ///
    /// # Errors
    /// [`Error::Json`] if `failures.json` exists but does not parse.
    pub fn failures(&self) -> Result<BTreeMap<String, String>> {
        let path = self.dir.join(FAILURES_FILE);
        if path.is_file() {
            read_json(&path)
        } else {
            Ok(BTreeMap::new())
        }
    }

    fn clear_failure(&self, case: &str) -> Result<()> {
        let mut failures = self.failures()?;
        if failures.remove(case).is_some() {
            self.write_failures(&failures)?;
        }
        Ok(())
    }

    fn write_failures(&self, failures: &BTreeMap<String, String>) -> Result<()> {
        let path = self.dir.join(FAILURES_FILE);
        let json = serde_json::to_vec_pretty(failures).map_err(|e| Error::Json {
            path: path.clone(),
            source: e,
        })?;
        write_bytes_atomically(&path, &json)
    }
}

/// A case of the cache mapped into memory; views are borrowed from the mapping (no copy).
#[derive(Debug)]
pub struct MappedCase {
    data: Mmap,
    seg: Option<Mmap>,
    data_path: PathBuf,
    seg_path: PathBuf,
}

impl MappedCase {
    /// The data, `(C, z, y, x)`.
    #[must_use]
    pub fn data(&self) -> ArrayView4<'_, f32> {
        self.try_data()
            .expect("validated in PreprocessedCache::map_case")
    }

    /// The segmentation, `(z, y, x)`, if the case has one.
    #[must_use]
    pub fn seg(&self) -> Option<ArrayView3<'_, i16>> {
        self.try_seg()
            .expect("validated in PreprocessedCache::map_case")
    }

    fn try_data(&self) -> Result<ArrayView4<'_, f32>> {
        ArrayView4::<f32>::view_npy(&self.data).map_err(|e| Error::Cache {
            path: self.data_path.clone(),
            reason: e.to_string(),
        })
    }

    fn try_seg(&self) -> Result<Option<ArrayView3<'_, i16>>> {
        self.seg
            .as_ref()
            .map(|m| {
                ArrayView3::<i16>::view_npy(m).map_err(|e| Error::Cache {
                    path: self.seg_path.clone(),
                    reason: e.to_string(),
                })
            })
            .transpose()
    }
}

/// Writes `value` as pretty JSON to `path` atomically (temporary file in the same folder, then rename).
///
/// # Errors
/// [`Error::Json`] if `value` cannot be serialised, [`Error::Io`] if the file cannot be written.
pub fn write_json_atomically<T: Serialize + ?Sized>(path: &Path, value: &T) -> Result<()> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })?;
    write_bytes_atomically(path, &json)
}

fn write_npy_atomically(
    path: &Path,
    write: impl FnOnce(std::io::BufWriter<File>) -> std::result::Result<(), ndarray_npy::WriteNpyError>,
) -> Result<()> {
    write_atomically(path, |tmp| {
        let file = File::create(tmp).map_err(|e| Error::io(tmp, e))?;
        write(std::io::BufWriter::new(file)).map_err(|e| Error::Cache {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
    })
}

fn map_file(path: &Path) -> Result<Mmap> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: the cache files are written once (temp + rename) and never modified in place; a file
    // replaced by a later run is a new inode, so this mapping stays valid.
    unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, e))
}

fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

fn read_json<P: DeserializeOwned>(path: &Path) -> Result<P> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Json {
        path: path.to_path_buf(),
        source: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array3, Array4};

    #[test]
    fn write_map_and_resume() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PreprocessedCache::create(dir.path().join("cache")).unwrap();
        let data = Array4::from_shape_fn((2, 3, 4, 5), |(c, z, y, x)| {
            (c * 1000 + z * 100 + y * 10 + x) as f32
        });
        let seg = Array3::from_shape_fn((3, 4, 5), |(z, y, x)| ((z + y + x) % 3) as i16 - 1);
        assert!(!cache.contains("A_1"));
        cache.record_failure("A_1", "boom").unwrap();
        assert_eq!(
            cache.failures().unwrap().get("A_1").map(String::as_str),
            Some("boom")
        );
        cache
            .write_case(
                "A_1",
                data.view(),
                Some(seg.view()),
                &serde_json::json!({"spacing": [1.0, 2.0, 3.0]}),
            )
            .unwrap();
        assert!(cache.contains("A_1"));
        assert!(
            cache.failures().unwrap().is_empty(),
            "success clears the failure record"
        );
        assert_eq!(cache.case_ids().unwrap(), vec!["A_1".to_string()]);
        let mapped = cache.map_case("A_1").unwrap();
        assert_eq!(mapped.data(), data.view());
        assert_eq!(mapped.seg().unwrap(), seg.view());
        let props: serde_json::Value = cache.read_properties("A_1").unwrap();
        assert_eq!(props["spacing"][2], 3.0);
        // no temporary files are left behind
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn wrong_element_type_is_a_cache_error() {
        let dir = tempfile::tempdir().unwrap();
        let cache = PreprocessedCache::create(dir.path()).unwrap();
        let wrong = Array4::<f64>::zeros((1, 2, 2, 2));
        ndarray_npy::write_npy(cache.data_path("B"), &wrong).unwrap();
        std::fs::write(cache.properties_path("B"), b"{}").unwrap();
        match cache.map_case("B") {
            Err(Error::Cache { path, .. }) => assert!(path.ends_with("B.npy")),
            other => panic!("expected a cache error, got {other:?}"),
        }
    }
}
