//! Texture matrices against PyRadiomics' own matrix baselines.
//!
//! Reference: PyRadiomics 3.1.0 `tests/test_matrices.py` baselines `data/baseline/<case>_<class>.npy`
//! (copied from `fixtures/radiomics/<case>_<class>.npy`), made with the plain `<case>` settings (binWidth 25,
//! distances [1], symmetrical GLCM, no weighting). Input: `<case>_default_levels.npy`, the discretised,
//! bbox-cropped image PyRadiomics' texture classes see (captured by `tools/golden/make_texture_fixtures.py`).
//! Upstream gate: max abs diff < 1e-3; here the counts must match exactly and the GLCM / s_i to 1e-12.

mod texture_support;

use ndarray::{Array3, ArrayD, Axis};
use radiomics::{
    glcm_matrix, gldm_matrix, glrlm_matrix, glszm_matrix, ngtdm_matrix, TextureParams,
};
use texture_support::{read_levels, read_npy};

fn max_abs_diff(a: &ArrayD<f64>, b: &ArrayD<f64>) -> f64 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

fn levels_and_ng(case: &str) -> anyhow::Result<(Array3<u32>, u32)> {
    let levels = read_levels(&format!("{case}_default_levels.npy"))?;
    let ng = levels.iter().copied().max().unwrap_or(0);
    Ok((levels, ng))
}

fn check_case(case: &str) -> anyhow::Result<()> {
    let (levels, ng) = levels_and_ng(case)?;
    let params = TextureParams::default();

    // GLCM: normalise each angle as PyRadiomics does before comparing
    let mut p = glcm_matrix(levels.view(), ng, &params)?;
    for mut angle in p.axis_iter_mut(Axis(2)) {
        let s = angle.sum();
        angle.mapv_inplace(|v| v / s);
    }
    let d = max_abs_diff(&p.into_dyn(), &read_npy(&format!("{case}_glcm.npy"))?);
    println!("{case} glcm max abs diff {d:e}");
    assert!(d < 1e-12, "{case} glcm: {d}");

    let d = max_abs_diff(
        &glrlm_matrix(levels.view(), ng, &params)?.into_dyn(),
        &read_npy(&format!("{case}_glrlm.npy"))?,
    );
    assert_eq!(d, 0.0, "{case} glrlm");
    let d = max_abs_diff(
        &glszm_matrix(levels.view(), ng, &params)?.into_dyn(),
        &read_npy(&format!("{case}_glszm.npy"))?,
    );
    assert_eq!(d, 0.0, "{case} glszm");
    let d = max_abs_diff(
        &gldm_matrix(levels.view(), ng, &params)?.into_dyn(),
        &read_npy(&format!("{case}_gldm.npy"))?,
    );
    assert_eq!(d, 0.0, "{case} gldm");

    let ours = ngtdm_matrix(levels.view(), ng, &params)?;
    let theirs = read_npy(&format!("{case}_ngtdm.npy"))?;
    assert_eq!(ours.shape(), theirs.shape());
    let mut worst_s = 0.0f64;
    for (r, row) in ours.outer_iter().enumerate() {
        assert_eq!(row[0], theirs[[r, 0]], "{case} ngtdm n_i row {r}");
        assert_eq!(row[2], theirs[[r, 2]], "{case} ngtdm level row {r}");
        worst_s = worst_s.max((row[1] - theirs[[r, 1]]).abs() / theirs[[r, 1]].abs().max(1.0));
    }
    println!("{case} ngtdm s_i max rel diff {worst_s:e}");
    assert!(worst_s < 1e-12, "{case} ngtdm s_i: {worst_s}");
    Ok(())
}

#[test]
fn brain1_matrices_equal_pyradiomics() -> anyhow::Result<()> {
    check_case("brain1")
}

#[test]
fn breast1_matrices_equal_pyradiomics() -> anyhow::Result<()> {
    check_case("breast1")
}

#[test]
fn glcm_keeps_thirteen_angles_in_pyradiomics_order() -> anyhow::Result<()> {
    // a 3×3×3 ROI of levels 1 (z = 0) and 2 (z > 0): only the 9 angles with dz = 1 see a 1→2 pair
    let levels = Array3::from_shape_fn((3, 3, 3), |(z, _, _)| if z == 0 { 1 } else { 2 });
    let p = glcm_matrix(levels.view(), 2, &TextureParams::default())?;
    assert_eq!(p.shape(), &[2, 2, 13]);
    for a in 0..13 {
        let expect = if a < 9 { 1.0 } else { 0.0 }; // symmetric: P(1,2) = P(2,1)
        let cross = [4.0, 6.0, 4.0, 6.0, 9.0, 6.0, 4.0, 6.0, 4.0][..]
            .get(a)
            .copied()
            .unwrap_or(0.0);
        assert_eq!(p[[0, 1, a]], cross * expect, "angle {a}");
        assert_eq!(p[[1, 0, a]], p[[0, 1, a]]);
    }
    Ok(())
}

#[test]
fn matrices_reject_bad_input() {
    let params = TextureParams::default();
    let levels = Array3::from_elem((2, 2, 2), 3u32);
    assert!(matches!(
        glcm_matrix(levels.view(), 2, &params),
        Err(radiomics::Error::GrayLevelOutOfRange {
            level: 3,
            ng: 2,
            ..
        })
    ));
    let empty = Array3::<u32>::zeros((2, 2, 2));
    assert!(matches!(
        glszm_matrix(empty.view(), 2, &params),
        Err(radiomics::Error::EmptyTextureRoi { .. })
    ));
    let single = Array3::from_elem((1, 1, 1), 1u32);
    assert!(matches!(
        ngtdm_matrix(single.view(), 1, &params),
        Err(radiomics::Error::NoAngles { .. })
    ));
    let zero_distance = TextureParams {
        distances: vec![0],
        ..TextureParams::default()
    };
    assert!(matches!(
        gldm_matrix(levels.view(), 3, &zero_distance),
        Err(radiomics::Error::InvalidParameter {
            key: "distances",
            ..
        })
    ));
}
