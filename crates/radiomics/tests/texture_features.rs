//! Texture features (GLCM, GLDM, GLRLM, GLSZM, NGTDM) against PyRadiomics.
//!
//! Reference: PyRadiomics 3.1.0 values of `fixtures/radiomics/<case>.json` (`features` for the default
//! settings, `baseline_configurations["<class>/<case>_<suffix>"]` for 2d, FBN, combined, flatRegion,
//! normalization, resampling, resegmentation), copied with the discretised bbox-cropped input each
//! configuration gives PyRadiomics' texture classes into `tests/data/texture/<case>_<config>{.json,_levels.npy}`
//! by `tools/golden/make_texture_fixtures.py`; synthetic edge cases `edge_*.json` (PyRadiomics classes run
//! directly on the cropped image: single voxel, constant ROI, two voxels, force2D, distances, weighting
//! norms, asymmetric GLCM, gldm_a, sparse ROI, single slice, line, the bench's 48-level ellipsoid); upstream baseline tables
//! `baseline_<class>.csv` (3 % rule of `tests/testUtils.py`). Gate: `|rust − ref| ≤ 1e-6·|ref| + 1e-9`.

mod texture_support;

use radiomics::{texture_features, FeatureClass, TextureParams};
use serde_json::Value;
use texture_support::{close, params, read_json, read_levels, rel_diff};

const CLASSES: [FeatureClass; 5] = [
    FeatureClass::Glcm,
    FeatureClass::Gldm,
    FeatureClass::Glrlm,
    FeatureClass::Glszm,
    FeatureClass::Ngtdm,
];

/// Checks every class of fixture `name`; returns the worst relative difference.
fn check_fixture(name: &str) -> anyhow::Result<f64> {
    let doc = read_json(&format!("{name}.json"))?;
    let levels = read_levels(&format!("{name}_levels.npy"))?;
    let ng = u32::try_from(doc["ng"].as_u64().unwrap_or(0))?;
    let p = params(&doc)?;
    let mut worst = 0.0f64;
    for class in CLASSES {
        let Some(reference) = doc["reference"].get(class.name()) else {
            continue;
        };
        let result = texture_features(class, levels.view(), ng, &p, &[]);
        if let Value::String(msg) = reference {
            assert!(
                result.is_err(),
                "{name} {}: PyRadiomics failed ({msg}), Rust gave {result:?}",
                class.name()
            );
            continue;
        }
        let ours = result?;
        let reference = reference.as_object().expect("object");
        let names: Vec<&str> = ours.iter().map(|(n, _)| *n).collect();
        let expected: Vec<&str> = reference.keys().map(String::as_str).collect(); // sorted = PyRadiomics order
        assert_eq!(
            names,
            expected,
            "{name} {}: feature names/order",
            class.name()
        );
        for (feature, value) in ours {
            let r = reference[feature].as_f64().unwrap_or(f64::NAN);
            let d = rel_diff(value, r);
            worst = worst.max(d);
            assert!(
                close(value, r),
                "{name} {} {feature}: rust {value} vs PyRadiomics {r}",
                class.name()
            );
        }
    }
    println!("{name}: max rel diff {worst:e}");
    Ok(worst)
}

#[test]
fn brain1_all_configurations_match_pyradiomics() -> anyhow::Result<()> {
    for config in [
        "default",
        "2d",
        "FBN",
        "combined",
        "flatRegion",
        "normalization",
        "resampling",
        "resegmentation",
    ] {
        check_fixture(&format!("brain1_{config}"))?;
    }
    Ok(())
}

#[test]
fn breast1_all_configurations_match_pyradiomics() -> anyhow::Result<()> {
    for config in [
        "default",
        "2d",
        "FBN",
        "combined",
        "flatRegion",
        "normalization",
        "resampling",
        "resegmentation",
    ] {
        check_fixture(&format!("breast1_{config}"))?;
    }
    Ok(())
}

#[test]
fn edge_cases_match_pyradiomics() -> anyhow::Result<()> {
    for case in [
        "single_voxel",
        "constant",
        "two_voxels",
        "two_voxels_diagonal",
        "random",
        "force2d_z",
        "force2d_y",
        "d12_manhattan_asym_a1",
        "euclidean",
        "infinity",
        "no_weighting",
        "distance3",
        "sparse",
        "single_slice",
        "line",
        "synthetic48",
    ] {
        check_fixture(&format!("edge_{case}"))?;
    }
    Ok(())
}

/// Minimal CSV row splitter with double-quote support (the diagnostics rows quote tuples).
fn split_csv(line: &str) -> Vec<String> {
    let (mut out, mut cur, mut quoted) = (Vec::new(), String::new(), false);
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

#[test]
fn upstream_baseline_csv_columns_within_three_percent() -> anyhow::Result<()> {
    let mut checked = 0usize;
    for class in CLASSES {
        let path = texture_support::data(&format!("baseline_{}.csv", class.name()));
        let text = std::fs::read_to_string(path)?;
        let mut lines = text.lines();
        let header = split_csv(lines.next().unwrap_or_default());
        let rows: Vec<Vec<String>> = lines.map(split_csv).collect();
        for (col, column) in header.iter().enumerate().skip(1) {
            let (case, suffix) = column
                .split_once('_')
                .unwrap_or((column.as_str(), "default"));
            let fixture = format!("{case}_{suffix}");
            if !texture_support::data(&format!("{fixture}.json")).exists() {
                continue; // shape2D etc.
            }
            let doc = read_json(&format!("{fixture}.json"))?;
            let levels = read_levels(&format!("{fixture}_levels.npy"))?;
            let ng = u32::try_from(doc["ng"].as_u64().unwrap_or(0))?;
            let ours = texture_features(class, levels.view(), ng, &params(&doc)?, &[])?;
            let prefix = format!("original_{}_", class.name());
            for row in &rows {
                let Some(feature) = row[0].strip_prefix(&prefix) else {
                    continue;
                };
                let Ok(baseline) = row[col].parse::<f64>() else {
                    continue;
                };
                let value = ours
                    .iter()
                    .find(|(n, _)| *n == feature)
                    .map(|(_, v)| *v)
                    .unwrap_or(f64::NAN);
                if baseline == 0.0 {
                    assert!(
                        value.abs() < 1e-12,
                        "{column} {feature}: {value} vs baseline 0"
                    );
                } else {
                    assert!(
                        (1.0 - value / baseline).abs() < 0.03,
                        "{column} {feature}: {value} vs {baseline}"
                    );
                }
                checked += 1;
            }
        }
    }
    println!("{checked} baseline CSV values within 3 %");
    assert!(checked > 1000, "only {checked} values checked");
    Ok(())
}

#[test]
fn deprecated_and_unknown_names() -> anyhow::Result<()> {
    let levels = read_levels("breast1_default_levels.npy")?;
    let p = TextureParams::default();
    let glcm = texture_features(
        FeatureClass::Glcm,
        levels.view(),
        3,
        &p,
        &["Dissimilarity", "Idn", "Id", "Idn"],
    )?;
    let names: Vec<&str> = glcm.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, ["Idn", "Id"]); // deprecated: no value; order as given; duplicates dropped
    let gldm = texture_features(
        FeatureClass::Gldm,
        levels.view(),
        3,
        &p,
        &["DependencePercentage"],
    )?;
    assert!(gldm.is_empty());
    assert!(matches!(
        texture_features(FeatureClass::Glrlm, levels.view(), 3, &p, &["Nope"]),
        Err(radiomics::Error::UnknownFeature { .. })
    ));
    assert!(matches!(
        texture_features(FeatureClass::Shape, levels.view(), 3, &p, &[]),
        Err(radiomics::Error::FeatureClass { .. })
    ));
    Ok(())
}
