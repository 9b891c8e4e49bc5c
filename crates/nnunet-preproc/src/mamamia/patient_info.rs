//! The per-patient JSON of MAMA-MIA (`patient_info_files/<case>.json`) and its breast bounding box.
//!
//! `primary_lesion.breast_coordinates` holds `x_min, x_max, y_min, y_max, z_min, z_max`: the box of the breast
//! with the primary tumour, **half-open and 0-based in array order** — the organisers' sample code slices the
//! `sitk.GetArrayFromImage` array `(z, y, x)` as `[x_min:x_max, y_min:y_max, z_min:z_max]`, so
//!
//! ```text
//! JSON "x" ↔ array axis 0 (the ITK slice index),  "y" ↔ axis 1,  "z" ↔ axis 2
//! ```
//!
//! Masking keeps `volume[a0_min..a0_max, a1_min..a1_max, a2_min..a2_max]` and zeroes the rest; bounds beyond
//! the volume are clamped, as numpy slicing does.
//!
//! References: the organisers' sample submission `model.py` (`apply_breast_mask`, copied in
//! FraunhoferMEVIS/MAMA-MIA-Challange-FME); `/work/shared/reference/mamamia.md` §1.4.

use std::ops::Range;
use std::path::{Path, PathBuf};

use ndarray::{s, ArrayViewMut3, Axis};
use serde_json::Value;

use crate::error::{Error, Result};

/// The breast bounding box in array order, half-open `[min, max)` per axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BreastBox {
    /// Array axis 0 (`z`; JSON `x_min`, `x_max`).
    pub axis0: [usize; 2],
    /// Array axis 1 (`y`; JSON `y_min`, `y_max`).
    pub axis1: [usize; 2],
    /// Array axis 2 (`x`; JSON `z_min`, `z_max`).
    pub axis2: [usize; 2],
}

impl BreastBox {
    /// The box's index ranges on a volume of `shape` (array order), clamped to it:
    ///
    /// ```text
    /// range_a = min(lo_a, n_a) .. min(hi_a, n_a)
    /// ```
    #[must_use]
    pub fn clamped(&self, shape: [usize; 3]) -> [Range<usize>; 3] {
        let r = |[lo, hi]: [usize; 2], n: usize| lo.min(n)..hi.min(n);
        [
            r(self.axis0, shape[0]),
            r(self.axis1, shape[1]),
            r(self.axis2, shape[2]),
        ]
    }

    /// Whether array index `(z, y, x)` lies inside the box.
    #[must_use]
    pub fn contains(&self, index: [usize; 3]) -> bool {
        let inside = |[lo, hi]: [usize; 2], i: usize| lo <= i && i < hi;
        inside(self.axis0, index[0]) && inside(self.axis1, index[1]) && inside(self.axis2, index[2])
    }

    /// Sets every voxel outside the box to `T::default()` (zero), in place; the box is clamped to the volume
    /// (an empty clamped box zeroes everything).
    ///
    /// # Examples
    /// ```
    /// use ndarray::Array3;
    /// use nnunet_preproc::mamamia::BreastBox;
    /// let mut v = Array3::<u8>::ones((3, 3, 3));
    /// BreastBox { axis0: [1, 9], axis1: [0, 1], axis2: [1, 2] }.mask_outside_mut(v.view_mut());
    /// assert_eq!(v.sum(), 2); // voxels (1, 0, 1) and (2, 0, 1)
    /// ```
    pub fn mask_outside_mut<T: Copy + Default>(&self, mut volume: ArrayViewMut3<'_, T>) {
        let (n0, n1, n2) = volume.dim();
        let [r0, r1, r2] = self.clamped([n0, n1, n2]);
        let zero = T::default();
        for (i0, mut slab) in volume.axis_iter_mut(Axis(0)).enumerate() {
            if !r0.contains(&i0) || r1.is_empty() || r2.is_empty() {
                slab.fill(zero);
                continue;
            }
            for (i1, mut row) in slab.axis_iter_mut(Axis(0)).enumerate() {
                if r1.contains(&i1) {
                    row.slice_mut(s![..r2.start]).fill(zero);
                    row.slice_mut(s![r2.end..]).fill(zero);
                } else {
                    row.fill(zero);
                }
            }
        }
    }
}

/// A patient's JSON: its id, the breast box, and the whole document.
#[derive(Debug, Clone, PartialEq)]
pub struct PatientInfo {
    /// Canonical upper-case patient id: JSON `patient_id`, or the file stem when the JSON has none.
    pub patient_id: String,
    /// `primary_lesion.breast_coordinates`, if present (`null` counts as absent).
    pub breast_box: Option<BreastBox>,
    /// The parsed document (clinical data, imaging data, …).
    pub raw: Value,
}

impl PatientInfo {
    /// Reads and parses a patient JSON file.
    ///
    /// # Errors
    /// [`Error::Io`] when the file cannot be read; [`Error::Json`] naming the file when it is not valid JSON,
    /// not an object, its `patient_id` is neither a string nor a number, or `breast_coordinates` lacks a key,
    /// holds a value that is not a non-negative integer, or has `min > max`.
    pub fn from_json_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let raw: Value = serde_json::from_str(&text).map_err(|source| json_err(path, source))?;
        let stem = file_stem(path);
        Self::from_value(raw, path, &stem)
    }

    /// Builds the info from a parsed document; `path` names the source in errors and `fallback_id` is the id
    /// used when the document has no `patient_id`.
    ///
    /// # Errors
    /// As [`PatientInfo::from_json_file`], without the I/O and syntax errors.
    pub fn from_value(raw: Value, path: &Path, fallback_id: &str) -> Result<Self> {
        let custom = |msg: String| json_err(path, serde::de::Error::custom(msg));
        let obj = raw
            .as_object()
            .ok_or_else(|| custom("the document is not a JSON object".to_string()))?;
        let patient_id = match obj.get("patient_id") {
            None | Some(Value::Null) => fallback_id.to_string(),
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => return Err(custom(format!("`patient_id` is not a string: {other}"))),
        }
        .trim()
        .to_uppercase();
        let coords = obj
            .get("primary_lesion")
            .and_then(|l| l.get("breast_coordinates"));
        let breast_box = match coords {
            None | Some(Value::Null) => None,
            Some(c) => Some(parse_box(c).map_err(custom)?),
        };
        Ok(PatientInfo {
            patient_id,
            breast_box,
            raw,
        })
    }
}

/// `primary_lesion.breast_coordinates` → [`BreastBox`] (JSON x → axis 0, y → 1, z → 2).
fn parse_box(coords: &Value) -> std::result::Result<BreastBox, String> {
    let get = |key: &str| -> std::result::Result<usize, String> {
        let v = coords
            .get(key)
            .ok_or_else(|| format!("`breast_coordinates` has no `{key}`"))?;
        let bad = || format!("`breast_coordinates.{key}` = {v} is not a non-negative integer");
        if let Some(u) = v.as_u64() {
            return usize::try_from(u).map_err(|_| bad());
        }
        match v.as_f64() {
            // integral floats (e.g. 12.0) are accepted, as Python's int() would
            Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9.0e15 => Ok(f as usize),
            _ => Err(bad()),
        }
    };
    let pair = |axis: &str| -> std::result::Result<[usize; 2], String> {
        let (lo, hi) = (get(&format!("{axis}_min"))?, get(&format!("{axis}_max"))?);
        if lo > hi {
            return Err(format!(
                "`breast_coordinates`: {axis}_min {lo} > {axis}_max {hi}"
            ));
        }
        Ok([lo, hi])
    };
    Ok(BreastBox {
        axis0: pair("x")?,
        axis1: pair("y")?,
        axis2: pair("z")?,
    })
}

fn json_err(path: &Path, source: serde_json::Error) -> Error {
    Error::Json {
        path: PathBuf::from(path),
        source,
    }
}

/// The file name without `.json` (any case), upper-cased.
fn file_stem(path: &Path) -> String {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = if name.to_ascii_lowercase().ends_with(".json") {
        &name[..name.len() - 5]
    } else {
        name.as_str()
    };
    stem.to_uppercase()
}
