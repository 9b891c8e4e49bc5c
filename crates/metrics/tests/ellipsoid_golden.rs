/* The ellipsoid fixture of `fixtures/metrics/README.md` (`/work/shared/fixtures/metrics/
ellipsoids_256x256x160.npz`, regenerated here from its analytic definition; the golden script checks that
the regeneration equals the npz). Reference values: the README table (MONAI 1.6.1, medpy 0.5.2, scipy
1.17.1, SimpleITK, the MAMA-MIA scorer) and `tests/data/ellipsoids.json` (MONAI float32 / medpy recomputed by
`tools/golden/make_metrics_fixtures.py`). Spacing [0.7, 0.7, 1.5]; b = prediction, a = ground truth.
*/
mod common;

use common::{check, ellipsoids, load};
use medmetrics::{
    mamamia, AssdRule, EmptyPolicy, EmptyRule, Hd95Rule, Overlap, Surface, SurfaceDistances,
    SurfaceOptions,
};

const SPACING: [f64; 3] = [0.7, 0.7, 1.5];

fn close(what: &str, expected: f64, got: f64, tol: f64) {
    let d = common::rel_diff(expected, got);
    assert!(
        d <= tol,
        "{what}: expected {expected}, got {got} (rel {d:e})"
    );
    println!("{what}: {got} (rel diff {d:e})");
}

#[test]
fn ellipsoid_reference_values() {
    let (a, b) = ellipsoids();
    assert_eq!(a.iter().filter(|&&v| v).count(), 49_639);
    assert_eq!(b.iter().filter(|&&v| v).count(), 52_229);
    let o = Overlap::new(b.view(), a.view()).unwrap();
    close(
        "dice",
        0.882_004_162_249_185_2,
        o.dice(EmptyPolicy::Error).unwrap(),
        1e-12,
    );

    let sd = SurfaceDistances::new(b.view(), a.view(), SPACING, SurfaceOptions::default()).unwrap();
    assert_eq!(sd.counts(), (5546, 5390));
    close(
        "hd max",
        4.103_656_905_7,
        sd.hausdorff(EmptyRule::ERROR).unwrap(),
        1e-6,
    );
    let hd95 = sd
        .percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::ERROR)
        .unwrap();
    close("hd95 max of directed", 3.252_691_193_5, hd95, 1e-6);
    let hd95u = sd
        .percentile_hausdorff(95.0, Hd95Rule::Union, EmptyRule::ERROR)
        .unwrap();
    close("hd95 union (medpy)", 3.176_476_034_9, hd95u, 1e-6);
    close(
        "assd pooled",
        1.509_444_047_9,
        sd.assd(AssdRule::Pooled, EmptyRule::ERROR).unwrap(),
        1e-6,
    );
    let mom = sd.assd(AssdRule::MeanOfDirected, EmptyRule::ERROR).unwrap();
    close("assd mean of directed", 1.508_818_112_7, mom, 1e-6);
    close(
        "nsd 2mm (edge voxels)",
        0.668_525_993_8,
        sd.nsd(2.0, EmptyRule::ERROR).unwrap(),
        1e-6,
    );

    let iso =
        SurfaceDistances::new(b.view(), a.view(), [1.0; 3], SurfaceOptions::default()).unwrap();
    close(
        "iso hd95",
        3.741_657_386_8,
        iso.percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::ERROR)
            .unwrap(),
        1e-6,
    );
    close(
        "iso hd max",
        4.582_575_695_0,
        iso.hausdorff(EmptyRule::ERROR).unwrap(),
        1e-6,
    );
    close(
        "iso assd pooled",
        1.742_067_385_1,
        iso.assd(AssdRule::Pooled, EmptyRule::ERROR).unwrap(),
        1e-6,
    );
    close(
        "iso assd mean of means",
        1.741_642_001_9,
        iso.assd(AssdRule::MeanOfDirected, EmptyRule::ERROR)
            .unwrap(),
        1e-6,
    );

    let s = mamamia::score_masks(b.view(), a.view()).unwrap();
    close("mamamia hd95 (voxels)", 14f64.sqrt(), s.hd95_vox, 1e-12);
    close("mamamia normhd", 0.024_944_382_6, s.norm_hd, 1e-6);

    // Recomputed golden values (MONAI float32, medpy).
    let g = load("ellipsoids.json");
    check("monai hd95", &g["monai"]["hd95"], hd95, 1e-6);
    check(
        "monai hd",
        &g["monai"]["hd"],
        sd.hausdorff(EmptyRule::ERROR).unwrap(),
        1e-6,
    );
    check(
        "monai nsd",
        &g["monai"]["nsd_2mm"],
        sd.nsd(2.0, EmptyRule::ERROR).unwrap(),
        1e-6,
    );
    check("medpy hd95", &g["medpy"]["hd95"], hd95u, 1e-9);
    check("mamamia", &g["mamamia"]["hd95_vox"], s.hd95_vox, 1e-12);
    let lc = SurfaceOptions {
        surface: Surface::LabelContour,
        ..Default::default()
    };
    let c = SurfaceDistances::new(b.view(), a.view(), SPACING, lc).unwrap();
    assert_eq!(c.counts(), (5546, 5390)); // no object touches the image edge
}
