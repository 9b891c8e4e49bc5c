/* Golden parity of the segmentation metrics.

Reference values: `tests/data/segmentation.json`, written by `tools/golden/make_metrics_fixtures.py` with
MONAI 1.6.1 (`compute_dice`, `compute_hausdorff_distance`, `compute_average_surface_distance`,
`compute_surface_dice`, CPU, float32), medpy 0.5.2 (`dc`, `hd`, `hd95`, `assd`), DeepMind surface-distance
0.1 (`compute_dice_coefficient`), scipy 1.17.1 / SimpleITK 2.5.7 (erosion border, `LabelContour`) and the
transcribed MAMA-MIA scorer (LabelContour + cKDTree, voxel units). Cases: anisotropic ellipsoids, objects
touching the image border, single voxels, empty/empty, empty/non-empty, identical, random blobs, two
components, a full image. Tolerance 1e-6 relative (MONAI computes in float32).
*/
mod common;

use common::{check, load, mask, spacing};
use medmetrics::{
    mamamia, surface_voxels, AssdRule, EmptyPolicy, EmptyRule, Hd95Rule, Overlap, Surface,
    SurfaceDistances, SurfaceOptions, Units,
};

const TOL: f64 = 1e-6;

#[test]
fn segmentation_cases_match_references() {
    let data = load("segmentation.json");
    let mut max_diff = 0.0f64;
    for case in data["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let p = mask(&case["shape"], &case["pred"]);
        let g = mask(&case["shape"], &case["gt"]);
        let sp = spacing(&case["spacing"]);
        let w = |k: &str| format!("{name}: {k}");

        // Overlap counts (numpy).
        let o = Overlap::new(p.view(), g.view()).unwrap();
        let n = &case["numpy"];
        assert_eq!(
            [o.tp, o.fp, o.fn_, o.tn],
            ["tp", "fp", "fn", "tn"].map(|k| n[k].as_u64().unwrap()),
            "{name}: counts"
        );
        // Dice conventions.
        let m = &case["monai"];
        let mp = &case["medpy"];
        max_diff = max_diff.max(check(
            &w("medpy dc"),
            &mp["dc"],
            o.dice(EmptyPolicy::Nan).unwrap(),
            1e-12,
        ));
        max_diff = max_diff.max(check(
            &w("deepmind dice"),
            &case["deepmind"]["dice"],
            o.dice(EmptyPolicy::Nan).unwrap(),
            1e-12,
        ));
        max_diff = max_diff.max(check(
            &w("monai dice ignore_empty=False"),
            &m["dice_not_ignore_empty"],
            o.dice(EmptyPolicy::One).unwrap(),
            TOL,
        ));
        // MONAI ignore_empty=True: NaN whenever the ground truth is empty.
        let monai_ie = if o.n_gt() == 0 {
            f64::NAN
        } else {
            o.dice(EmptyPolicy::Nan).unwrap()
        };
        max_diff = max_diff.max(check(
            &w("monai dice"),
            &m["dice_ignore_empty"],
            monai_ie,
            TOL,
        ));

        // Surface sizes: erosion border (scipy) and LabelContour (SimpleITK).
        for (key, arr) in [("pred", &p), ("gt", &g)] {
            let counts = &case["border_counts"][key];
            let er = surface_voxels(arr.view(), Surface::ErosionBorder)
                .iter()
                .filter(|&&v| v)
                .count();
            let lc = surface_voxels(arr.view(), Surface::LabelContour)
                .iter()
                .filter(|&&v| v)
                .count();
            assert_eq!(
                er as u64,
                counts[0].as_u64().unwrap(),
                "{name}: {key} erosion border"
            );
            assert_eq!(
                lc as u64,
                counts[1].as_u64().unwrap(),
                "{name}: {key} LabelContour"
            );
        }

        // MONAI distances (erosion border, mm).
        let sd = SurfaceDistances::new(p.view(), g.view(), sp, SurfaceOptions::default()).unwrap();
        let max_rule = EmptyRule::new(EmptyPolicy::Nan, EmptyPolicy::Inf);
        max_diff = max_diff.max(check(
            &w("monai hd"),
            &m["hd"],
            sd.hausdorff(max_rule).unwrap(),
            TOL,
        ));
        let hd95 = sd
            .percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MONAI)
            .unwrap();
        max_diff = max_diff.max(check(&w("monai hd95"), &m["hd95"], hd95, TOL));
        let hd95d = sd
            .percentile_hausdorff(95.0, Hd95Rule::PredToGt, EmptyRule::MONAI)
            .unwrap();
        max_diff = max_diff.max(check(
            &w("monai hd95 directed"),
            &m["hd95_directed"],
            hd95d,
            TOL,
        ));
        let assd = sd.assd(AssdRule::Pooled, max_rule).unwrap();
        max_diff = max_diff.max(check(&w("monai assd"), &m["assd"], assd, TOL));
        let nsd = sd
            .nsd(2.0, EmptyRule::new(EmptyPolicy::Nan, EmptyPolicy::Zero))
            .unwrap();
        max_diff = max_diff.max(check(&w("monai nsd"), &m["nsd_2mm"], nsd, TOL));
        let vox = SurfaceOptions {
            surface: Surface::ErosionBorder,
            units: Units::Voxel,
        };
        let sdv = SurfaceDistances::new(p.view(), g.view(), sp, vox).unwrap();
        let hd95v = sdv
            .percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::MONAI)
            .unwrap();
        max_diff = max_diff.max(check(&w("monai hd95 voxel"), &m["hd95_vox"], hd95v, TOL));

        // medpy (raises on empty masks → our Error policy).
        let medpy_hd = sd.hausdorff(EmptyRule::ERROR);
        let medpy_hd95 = sd.percentile_hausdorff(95.0, Hd95Rule::Union, EmptyRule::ERROR);
        let medpy_assd = sd.assd(AssdRule::Pooled, EmptyRule::ERROR);
        for (key, got) in [("hd", medpy_hd), ("hd95", medpy_hd95), ("assd", medpy_assd)] {
            match (&mp[key], got) {
                (serde_json::Value::Null, Err(medmetrics::Error::Undefined { .. })) => {}
                (e, Ok(v)) => {
                    max_diff = max_diff.max(check(&w(&format!("medpy {key}")), e, v, TOL))
                }
                (e, Err(err)) => panic!("{name}: medpy {key}: expected {e}, got error {err}"),
            }
        }

        // MAMA-MIA scorer.
        let s = mamamia::score_case(p.mapv(u8::from).view(), g.mapv(u8::from).view()).unwrap();
        let mm = &case["mamamia"];
        max_diff = max_diff.max(check(&w("mamamia dice"), &mm["dice"], s.dice, 1e-12));
        max_diff = max_diff.max(check(&w("mamamia hd95"), &mm["hd95_vox"], s.hd95_vox, 1e-9));
        max_diff = max_diff.max(check(&w("mamamia normhd"), &mm["norm_hd"], s.norm_hd, 1e-9));
    }
    println!("segmentation golden: max relative difference {max_diff:e}");
}

#[test]
fn edt_matches_scipy() {
    let data = load("edt.json");
    let mut max_diff = 0.0f64;
    for case in data["cases"].as_array().unwrap() {
        let m = mask(&case["shape"], &case["mask"]);
        let d = medmetrics::distance_transform_edt(m.view(), spacing(&case["spacing"])).unwrap();
        for (got, exp) in d.iter().zip(case["edt"].as_array().unwrap()) {
            max_diff = max_diff.max(check("edt", exp, *got, 1e-12));
        }
    }
    println!("EDT vs scipy: max relative difference {max_diff:e}");
}
