//! brain1 and breast1 against PyRadiomics 3.1.0 with default settings
//! (`RadiomicsFeatureExtractor().execute(image, label)`, 107 features; fixture
//! `fixtures/radiomics/<case>.json` → `tests/data/<case>_features.json`; brain1 cropped to its ROI bounding box
//! plus 3 voxels by `tools/golden/make_radiomics_fixtures.py`, which checks the crop gives the same 107 values),
//! and the generated golden cases of that script.

mod frame_support;

use frame_support::{assert_close, json, load, number_map};
use radiomics::{extract, FeatureClass, Settings};

/// All 107 default features.
fn asserted(name: &str) -> bool {
    name.starts_with("original_")
}

fn check_case(image: &str, label: &str, features: &str) {
    let (img, mask, spacing) = load(image, label);
    let reference = number_map(&json(features)["features"]);
    let settings = Settings::default();
    let got = extract(img.view(), mask.view(), spacing, &settings).unwrap();
    let worst = assert_close(&got, &reference, asserted);
    // Names and order: exactly PyRadiomics' for the asserted classes.
    assert_eq!(got.len(), 107);
    assert_eq!(reference.len(), 107);
    eprintln!(
        "{image}: {} features, worst relative difference {worst:.3e}",
        got.len()
    );
}

#[test]
fn breast1_default_settings() {
    check_case(
        "breast1_image.nii.gz",
        "breast1_label.nii.gz",
        "breast1_features.json",
    );
}

#[test]
fn brain1_default_settings() {
    check_case(
        "brain1_crop_image.nii.gz",
        "brain1_crop_label.nii.gz",
        "brain1_features.json",
    );
}

#[test]
fn default_output_order_is_pyradiomics() {
    let reference = json("breast1_features.json");
    // serde_json keeps keys sorted; the order comes from the extractor's class and feature lists.
    let names: Vec<String> = FeatureClass::DEFAULT_CLASSES
        .iter()
        .flat_map(|c| {
            c.default_features()
                .into_iter()
                .map(move |f| format!("original_{}_{}", c.name(), f))
        })
        .collect();
    assert_eq!(names.len(), 107);
    let reference = number_map(&reference["features"]);
    for n in &names {
        assert!(reference.contains_key(n), "{n} not in the reference");
    }
    assert_eq!(names[0], "original_shape_Elongation");
    assert_eq!(names[14 + 7], "original_firstorder_MeanAbsoluteDeviation");
    assert_eq!(names[106], "original_ngtdm_Strength");
}

/// The generated cases of `tools/golden/make_radiomics_fixtures.py` (PyRadiomics 3.1, `golden_cases.json`):
/// irregular ROI with anisotropic spacing, float32 image with binWidth 0.05, binCount 16, a params YAML,
/// a 3-voxel line (minimumROIDimensions 1), a constant ROI, a single-slice ROI; all classes, deprecated shape
/// features included.
#[test]
fn generated_golden_cases() {
    let golden = json("golden_cases.json");
    let mut checked = 0;
    for (name, case) in golden["cases"].as_object().unwrap() {
        if case.get("error").is_some() {
            continue; // errors.rs
        }
        let image = format!("golden_{name}_image.nii.gz");
        let mask = format!("golden_{name}_mask.nii.gz");
        let (img, m, spacing) = load(&image, &mask);
        let settings = if let Some(p) = case["params"].as_str() {
            Settings::from_params_file(frame_support::data(p)).unwrap()
        } else {
            let yaml = format!("setting: {}", case["settings"]);
            let mut s = Settings::from_params_str(&yaml).unwrap();
            let mut shape: Vec<String> = vec![
                "Compactness1".into(),
                "Compactness2".into(),
                "SphericalDisproportion".into(),
            ];
            shape.extend(
                FeatureClass::Shape
                    .default_features()
                    .iter()
                    .map(|s| s.to_string()),
            );
            s.enabled[0] = (FeatureClass::Shape, radiomics::Selection::Only(shape));
            s
        };
        let reference = number_map(&case["features"]);
        let got = if case["dtype"] == "float32" {
            extract(img.view(), m.view(), spacing, &settings)
        } else {
            let int_img = img.mapv(|v| v as i32);
            extract(int_img.view(), m.view(), spacing, &settings)
        }
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let worst = assert_close(&got, &reference, |_| true);
        assert_eq!(got.len(), reference.len(), "{name}: feature count");
        eprintln!(
            "{name}: {} features, worst relative difference {worst:.3e}",
            got.len()
        );
        checked += 1;
    }
    assert_eq!(checked, 7);
}

/// The params case keeps the params file's class and feature order.
#[test]
fn params_file_order() {
    let s = Settings::from_params_file(frame_support::data("golden_params.yaml")).unwrap();
    let (img, m, spacing) = load("golden_params_image.nii.gz", "golden_params_mask.nii.gz");
    let got = extract(img.view(), m.view(), spacing, &s).unwrap();
    let names: Vec<&str> = got.names().take(7).collect();
    assert_eq!(
        names,
        [
            "original_shape_VoxelVolume",
            "original_shape_Maximum3DDiameter",
            "original_shape_Compactness2",
            "original_firstorder_Median",
            "original_firstorder_StandardDeviation",
            "original_firstorder_Energy",
            "original_firstorder_Entropy",
        ]
    );
}

/// Every upstream baseline configuration of breast1 re-run by PyRadiomics 3.1.0 on the NIfTI files
/// (`<case>.json` `baseline_configurations[*].features[*].computed`): plain (voxelArrayShift 2000), 2d
/// (force2D), FBN (binCount 64), combined (weightingNorm no_weighting), flatRegion (binWidth 5000 +
/// resegmentRange [0]), normalization (scale 100, binWidth 5), resegmentation (sigma ±3), resampling
/// (sitkBSpline to 2×2×2 mm, padDistance 5).
#[test]
fn breast1_baseline_configurations() {
    let (img, m, spacing) = load("breast1_image.nii.gz", "breast1_label.nii.gz");
    let img = img.mapv(|v| v as i16);
    let configs = json("breast1_features.json")["baseline_configurations"].clone();
    let mut checked = 0;
    for (key, config) in configs.as_object().unwrap() {
        let class = key.split('/').next().unwrap();
        let yaml = format!(
            "setting: {}\nfeatureClass: {{{class}: }}",
            config["settings"]
        );
        let settings = Settings::from_params_str(&yaml).unwrap_or_else(|e| panic!("{key}: {e}"));
        let got = extract(img.view(), m.view(), spacing, &settings)
            .unwrap_or_else(|e| panic!("{key}: {e}"));
        let reference = number_map(&config["features"]);
        let worst = assert_close(&got, &reference, |_| true);
        eprintln!("{key}: worst relative difference {worst:.3e}");
        checked += 1;
    }
    assert!(checked >= 42, "{checked}");
}
