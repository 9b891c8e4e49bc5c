//! Settings and PyRadiomics params files: defaults (`_getDefaultSettings`), schema ranges
//! (`paramSchema.yaml`), unknown keys, unsupported image types.

use radiomics::{Binning, Error, FeatureClass, Selection, Settings, WeightingNorm};

#[test]
fn defaults_are_pyradiomics() {
    let s = Settings::default();
    assert_eq!(s.label, 1);
    assert_eq!(s.binning, Binning::Width(25.0));
    assert_eq!(s.minimum_roi_dimensions, 2);
    assert_eq!(s.texture.distances, vec![1]);
    assert!(s.texture.symmetrical_glcm);
    assert_eq!(s.enabled.len(), 7);
    s.check().unwrap();
}

#[test]
fn params_yaml_is_accepted_as_is() {
    let s = Settings::from_params_str(
        "imageType:\n  Original: {}\nfeatureClass:\n  glcm: [Autocorrelation, JointAverage]\n  firstorder: []\n\
         setting:\n  binCount: 32\n  weightingNorm: no_weighting\n  distances: [1, 2]\n  resampledPixelSpacing:\n\
         voxelSetting: {kernelRadius: 1}\n",
    )
    .unwrap();
    assert_eq!(s.binning, Binning::Count(32));
    assert_eq!(s.texture.weighting_norm, Some(WeightingNorm::No));
    assert_eq!(s.texture.distances, vec![1, 2]);
    assert_eq!(
        s.enabled,
        vec![
            (
                FeatureClass::Glcm,
                Selection::Only(vec!["Autocorrelation".into(), "JointAverage".into()])
            ),
            (FeatureClass::FirstOrder, Selection::All),
        ]
    );
}

#[test]
fn unknown_keys_are_named() {
    let e = Settings::from_params_str("setting: {binwidth: 5, label: 1}").unwrap_err();
    assert!(
        matches!(e, Error::UnknownKeys { ref keys, .. } if keys.len() == 1 && keys[0].contains("binwidth")),
        "{e}"
    );
    let e = Settings::from_params_str("featureClass: {glcmm: }").unwrap_err();
    assert!(matches!(e, Error::UnknownKeys { .. }));
    let e = Settings::from_params_str("featureClass: {glcm: [Autocorrelatio]}").unwrap_err();
    assert!(matches!(e, Error::UnknownFeature { .. }));
}

#[test]
fn other_image_types_are_not_supported_yet() {
    let e =
        Settings::from_params_str("imageType: {Original: {}, LoG: {sigma: [1.0]}}").unwrap_err();
    assert!(
        matches!(e, Error::UnsupportedImageType(ref n) if n.contains("LoG")),
        "{e}"
    );
}

#[test]
fn schema_ranges_are_checked() {
    for (yaml, key) in [
        ("setting: {binWidth: 0}", "binWidth"),
        ("setting: {binCount: 0}", "binCount"),
        ("setting: {minimumROIDimensions: 4}", "minimumROIDimensions"),
        ("setting: {distances: [0]}", "distances"),
        ("setting: {force2Ddimension: 3}", "force2Ddimension"),
        ("setting: {weightingNorm: l2}", "weightingNorm"),
        ("setting: {label: 0}", "label"),
    ] {
        match Settings::from_params_str(yaml) {
            Err(Error::InvalidParameter { key: k, .. }) => assert_eq!(k, key, "{yaml}"),
            other => panic!("{yaml}: {other:?}"),
        }
    }
}
