//! brain1 and breast1 against PyRadiomics 3.1.0 with default settings
//! (`RadiomicsFeatureExtractor().execute(image, label)`, 107 features; fixture
//! `fixtures/radiomics/<case>.json` → `tests/data/<case>_features.json`; brain1 cropped to its ROI bounding box
//! + 3 voxels by `tools/golden/make_radiomics_fixtures.py`, which checks the crop gives the same 107 values),
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
    eprintln!("{image}: {} features, worst relative difference {worst:.3e}", got.len());
}

#[test]
fn breast1_default_settings() {
    check_case("breast1_image.nii.gz", "breast1_label.nii.gz", "breast1_features.json");
}

#[test]
fn brain1_default_settings() {
    check_case("brain1_crop_image.nii.gz", "brain1_crop_label.nii.gz", "brain1_features.json");
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
