//! Resampling (`resampledPixelSpacing` with sitkBSpline / sitkLinear / sitkNearestNeighbor), image types
//! (Square, SquareRoot, Logarithm, Exponential, Gradient), force2D texture and shape2D against PyRadiomics 3.1
//! (`tools/golden/make_radiomics_resample_fixtures.py` → `tests/data/resample/cases.json`), and the resampled
//! image and mask voxel by voxel against `imageoperations.resampleImage` (SimpleITK `ResampleImageFilter`).

mod frame_support;

use std::collections::BTreeMap;

use frame_support::{json, load, number_map};
use ndarray::Array3;
use radiomics::{
    extract, resample_grid, resample_image, resample_mask, BoundingBox, Features, Interpolator,
    Settings,
};

fn cases() -> serde_json::Value {
    json("resample/cases.json")["cases"].clone()
}

fn volume(name: &str) -> (Array3<f32>, Array3<i16>, [f64; 3]) {
    load(
        &format!("resample/{name}_image.nii.gz"),
        &format!("resample/{name}_mask.nii.gz"),
    )
}

fn run(volume_name: &str, settings: &Settings) -> radiomics::Result<Features> {
    let (img, m, spacing) = volume(volume_name);
    if volume_name == "float32" {
        extract(img.view(), m.view(), spacing, settings)
    } else {
        let i = img.mapv(|v| v as i16);
        extract(i.view(), m.view(), spacing, settings)
    }
}

/// Worst relative difference per `<imagetype>_<class>` and the failures beyond `|Δ| ≤ tol·|ref| + 1e-9`.
fn compare(
    got: &Features,
    reference: &BTreeMap<String, f64>,
    tol: f64,
) -> (BTreeMap<String, f64>, Vec<String>) {
    let mut worst = BTreeMap::new();
    let mut failures = Vec::new();
    for (name, &r) in reference {
        let Some(g) = got.get(name) else {
            failures.push(format!("missing {name}"));
            continue;
        };
        let class = name
            .rsplit_once('_')
            .map_or(name.as_str(), |p| p.0)
            .to_string();
        let rel = if r == 0.0 {
            (g - r).abs()
        } else {
            ((g - r) / r).abs()
        };
        let w = worst.entry(class).or_insert(0.0f64);
        if rel.is_finite() {
            *w = w.max(rel);
        }
        let ok = (g - r).abs() <= tol * r.abs() + 1e-9 || (g.is_nan() && r.is_nan());
        if !ok {
            failures.push(format!("{name}: got {g}, reference {r}"));
        }
    }
    (worst, failures)
}

fn bbox_of(m: &Array3<i16>) -> BoundingBox {
    let mut lo = [usize::MAX; 3];
    let mut hi = [0; 3];
    for ((z, y, x), &v) in m.indexed_iter() {
        if v == 1 {
            for (a, i) in [z, y, x].into_iter().enumerate() {
                lo[a] = lo[a].min(i);
                hi[a] = hi[a].max(i + 1);
            }
        }
    }
    BoundingBox { lo, hi }
}

/// The resampled image and mask equal SimpleITK's voxel for voxel (grid size, spacing, origin included).
#[test]
fn resampled_images_match_simpleitk() {
    let cases = cases();
    let mut checked = 0;
    for (name, case) in cases.as_object().unwrap() {
        let Some(info) = case.get("resampled") else {
            continue;
        };
        let settings = Settings::from_params_str(case["params"].as_str().unwrap()).unwrap();
        let vol = case["volume"].as_str().unwrap();
        let (img, m, spacing) = volume(vol);
        let bbox = bbox_of(&m);
        let dims = [img.dim().0, img.dim().1, img.dim().2];
        let grid = resample_grid(
            &bbox,
            dims,
            spacing,
            settings.resampled_spacing.unwrap(),
            settings.pad_distance,
        )
        .unwrap();
        let rev = |v: &serde_json::Value| -> Vec<f64> {
            let mut x: Vec<f64> = v
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_f64().unwrap())
                .collect();
            x.reverse();
            x
        };
        let size: Vec<usize> = rev(&info["size_xyz"]).iter().map(|&v| v as usize).collect();
        assert_eq!(grid.shape.to_vec(), size, "{name}: size");
        assert_eq!(grid.spacing.to_vec(), rev(&info["spacing_xyz"]), "{name}");
        for (a, o) in rev(&info["origin_xyz"]).iter().enumerate() {
            assert!((grid.origin[a] - o).abs() < 1e-12, "{name}: origin");
        }
        let (ref_img, ref_mask, _) = load(
            &format!("resample/resampled_{name}_image.nii.gz"),
            &format!("resample/resampled_{name}_mask.nii.gz"),
        );
        let mask_got = resample_mask(m.view(), spacing, &grid);
        assert_eq!(mask_got, ref_mask, "{name}: mask");
        let (mismatch, worst) = if vol == "float32" {
            let got = resample_image(img.view(), spacing, &grid, settings.interpolator).unwrap();
            let n = got
                .iter()
                .zip(ref_img.iter())
                .filter(|(a, b)| a != b)
                .count();
            let w = got
                .iter()
                .zip(ref_img.iter())
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            (n, f64::from(w))
        } else {
            let i = img.mapv(|v| v as i16);
            let got = resample_image(i.view(), spacing, &grid, settings.interpolator).unwrap();
            let n = got
                .iter()
                .zip(ref_img.iter())
                .filter(|(a, b)| f32::from(**a) != **b)
                .count();
            let w = got
                .iter()
                .zip(ref_img.iter())
                .map(|(a, b)| (f32::from(*a) - b).abs())
                .fold(0.0f32, f32::max);
            (n, f64::from(w))
        };
        eprintln!(
            "{name}: {} voxels, {mismatch} differ from SimpleITK (max |Δ| {worst:e})",
            ref_img.len()
        );
        assert_eq!(
            mismatch, 0,
            "{name}: resampled image differs in {mismatch} voxels"
        );
        checked += 1;
    }
    assert!(checked >= 7, "{checked}");
}

/// Every golden case: features within relative 1e-6 of PyRadiomics (or PyRadiomics' error). Exception: the
/// float32 Wavelet bands, which PyWavelets computes in float32 with a summation order not reproduced here
/// (band values differ by 1 f32 ulp, up to 47 of 64 values in a 1-D probe); there features of near-zero bands
/// (Mean, Median, Skewness, percentiles) differ up to relative 3.4e-4, so that case is held to 1e-3.
#[test]
fn features_match_pyradiomics() {
    let cases = cases();
    let mut checked = 0;
    for (name, case) in cases.as_object().unwrap() {
        let settings = Settings::from_params_str(case["params"].as_str().unwrap())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let got = run(case["volume"].as_str().unwrap(), &settings);
        if let Some(err) = case.get("error") {
            assert!(
                got.is_err(),
                "{name}: PyRadiomics fails ({err}), got {got:?}"
            );
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{name}: {e}"));
        let reference = number_map(&case["features"]);
        let tol = if name == "float32_wavelet" {
            1e-3
        } else {
            1e-6
        };
        let (worst, failures) = compare(&got, &reference, tol);
        let names: Vec<&str> = got.names().collect();
        let ref_names: Vec<&String> = reference.keys().collect();
        assert_eq!(names.len(), ref_names.len(), "{name}: feature count");
        let max = worst.values().copied().fold(0.0f64, f64::max);
        eprintln!(
            "{name}: {} features, worst relative difference {max:.3e}",
            got.len()
        );
        assert!(
            failures.is_empty(),
            "{name}: {} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
        checked += 1;
    }
    assert!(checked >= 15, "{checked}");
}

/// Output order: shape first, then image types in params order, each with the classes in order.
#[test]
fn image_type_order_is_pyradiomics() {
    let case = &cases()["int16_filters"];
    let settings = Settings::from_params_str(case["params"].as_str().unwrap()).unwrap();
    let got = run("int16", &settings).unwrap();
    let prefixes: Vec<&str> = got.names().map(|n| n.split('_').next().unwrap()).collect();
    let mut order: Vec<&str> = Vec::new();
    for p in &prefixes {
        if order.last() != Some(p) {
            order.push(p);
        }
    }
    assert_eq!(
        order,
        [
            "original",
            "square",
            "squareroot",
            "logarithm",
            "exponential",
            "gradient"
        ]
    );
    assert!(got.names().next().unwrap().starts_with("original_shape_"));
    assert_eq!(got.len(), 14 + 6 * 93);
    let _ = Interpolator::BSpline;
}
