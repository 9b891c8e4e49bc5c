//! Shared helpers of the texture tests: a minimal `.npy` reader (little-endian `u2`/`f8`, C order), the
//! fixture paths, the parity tolerance and `TextureParams` from a fixture's JSON.
#![allow(dead_code)]

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};
use radiomics::{TextureParams, WeightingNorm};
use serde_json::Value;

/// `crates/radiomics/tests/data/texture/<name>`.
pub fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/texture")
        .join(name)
}

/// Reads a C- or Fortran-order `.npy` of dtype `<u2`, `<i4`, `<u4` or `<f8` as `f64`.
pub fn read_npy(name: &str) -> anyhow::Result<ArrayD<f64>> {
    let bytes = std::fs::read(data(name))?;
    anyhow::ensure!(bytes.starts_with(b"\x93NUMPY"), "{name}: not an npy file");
    let (hlen, start) = if bytes[6] == 1 {
        (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10)
    } else {
        (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        )
    };
    let header = std::str::from_utf8(&bytes[start..start + hlen])?;
    let fortran = header.contains("'fortran_order': True");
    let descr = header
        .split("'descr': '")
        .nth(1)
        .and_then(|s| s.split('\'').next())
        .unwrap_or("");
    let shape_txt = header
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .unwrap_or("");
    let mut shape: Vec<usize> = shape_txt
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let body = &bytes[start + hlen..];
    let values: Vec<f64> = match descr {
        "<u2" => body
            .chunks_exact(2)
            .map(|c| f64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        "<i4" => body
            .chunks_exact(4)
            .map(|c| f64::from(i32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        "<u4" => body
            .chunks_exact(4)
            .map(|c| f64::from(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
            .collect(),
        "<f8" => body
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        other => anyhow::bail!("{name}: dtype {other} not supported"),
    };
    if fortran {
        shape.reverse();
        let a = ArrayD::from_shape_vec(IxDyn(&shape), values)?.reversed_axes();
        return Ok(a.as_standard_layout().into_owned());
    }
    Ok(ArrayD::from_shape_vec(IxDyn(&shape), values)?)
}

/// Reads a `<...>_levels.npy` fixture as the `u32` volume the texture classes take.
pub fn read_levels(name: &str) -> anyhow::Result<ndarray::Array3<u32>> {
    let a = read_npy(name)?;
    Ok(a.mapv(|v| v as u32).into_dimensionality()?)
}

/// Reads a JSON fixture.
pub fn read_json(name: &str) -> anyhow::Result<Value> {
    Ok(serde_json::from_str(&std::fs::read_to_string(data(name))?)?)
}

/// `TextureParams` from a fixture's `params` object (written by `tools/golden/make_texture_fixtures.py`).
pub fn params(v: &Value) -> anyhow::Result<TextureParams> {
    let p = &v["params"];
    let spacing: Vec<f64> = serde_json::from_value(p["spacing"].clone())?;
    Ok(TextureParams {
        distances: serde_json::from_value(p["distances"].clone())?,
        symmetrical_glcm: p["symmetrical_glcm"].as_bool().unwrap_or(true),
        weighting_norm: match p["weighting_norm"].as_str() {
            None => None,
            Some(s) => Some(WeightingNorm::from_pyradiomics(s)?),
        },
        gldm_a: p["gldm_a"].as_f64().unwrap_or(0.0),
        spacing: [spacing[0], spacing[1], spacing[2]],
        force_2d: p["force_2d"].as_bool().unwrap_or(false),
        force_2d_dimension: p["force_2d_dimension"].as_u64().unwrap_or(0) as usize,
    })
}

/// The parity gate of `reference/radiomics.md` §8: `|rust − ref| ≤ 1e-6·|ref| + 1e-9` (NaN only matches NaN).
pub fn close(rust: f64, reference: f64) -> bool {
    if reference.is_nan() || rust.is_nan() {
        return reference.is_nan() && rust.is_nan();
    }
    (rust - reference).abs() <= 1e-6 * reference.abs() + 1e-9
}

/// Relative difference used in the reports (absolute when the reference is 0).
pub fn rel_diff(rust: f64, reference: f64) -> f64 {
    if rust.is_nan() && reference.is_nan() {
        0.0
    } else if reference == 0.0 {
        rust.abs()
    } else {
        ((rust - reference) / reference).abs()
    }
}
