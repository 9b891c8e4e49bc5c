/* DeepMind surface-distance parity of `Surface::Surfels`: the derived marching-cubes table against DeepMind's
`_NEIGHBOUR_CODE_TO_NORMALS` and `create_table_neighbour_code_to_surface_area`, and the surfel metrics
(`compute_surface_distances`, `compute_robust_hausdorff`, `compute_average_surface_distance`,
`compute_surface_overlap_at_tolerance`, `compute_surface_dice_at_tolerance`) on the golden masks and the
ellipsoid fixture. Golden values: `tests/data/deepmind.json` from `tools/golden/make_deepmind_fixtures.py`
(surface-distance 0.1 = google-deepmind/surface-distance @ 1f805cea). DeepMind's argument order is
(gt, pred); ours is (pred, gt).
*/
mod common;

use common::{check, load, mask, num, rel_diff, spacing};
use medmetrics::{
    surfel_area_table, surfel_normals, AssdRule, EmptyPolicy, EmptyRule, Hd95Rule, Surface,
    SurfaceDistances, SurfaceOptions,
};
use serde_json::Value;

const SURFELS: SurfaceOptions = SurfaceOptions {
    surface: Surface::Surfels,
    units: medmetrics::Units::Millimetre,
};
const TOL: f64 = 1e-6;

#[test]
fn derived_table_equals_deepminds_entry_by_entry() {
    let data = load("deepmind.json");
    let normals = data["table"]["normals"].as_array().unwrap();
    assert_eq!(normals.len(), 256);
    let (mut n_vectors, mut max_diff) = (0usize, 0.0f64);
    for (code, expected) in normals.iter().enumerate() {
        let got = surfel_normals(u8::try_from(code).unwrap());
        let exp = expected.as_array().unwrap();
        assert_eq!(got.len(), exp.len(), "code {code}: triangle count");
        for (g, e) in got.iter().zip(exp) {
            for (k, gv) in g.iter().enumerate() {
                let d = (gv - num(&e[k])).abs();
                max_diff = max_diff.max(d);
                assert!(d == 0.0, "code {code}: {got:?} vs {exp:?}");
            }
            n_vectors += 1;
        }
    }
    assert_eq!(n_vectors, 732); // DeepMind's 734 entries less the zero vectors of codes 0 and 255
    let mut max_rel = 0.0f64;
    for t in data["table"]["areas"].as_array().unwrap() {
        let s = spacing(&t["spacing"]);
        let got = surfel_area_table(s).unwrap();
        for (code, e) in t["area"].as_array().unwrap().iter().enumerate() {
            max_rel = max_rel.max(check(
                &format!("area[{code}] at {s:?}"),
                e,
                got[code],
                1e-14,
            ));
        }
    }
    println!(
        "normals: {n_vectors} vectors, max |diff| {max_diff:e}; areas max rel diff {max_rel:e}"
    );
}

/// The masks of a golden case (from segmentation.json or stored with the case).
fn case_masks(c: &Value, seg: &Value) -> (ndarray::Array3<bool>, ndarray::Array3<bool>) {
    let src = if c["source"] == "self" {
        c
    } else {
        seg["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == c["name"])
            .unwrap()
    };
    (
        mask(&src["shape"], &src["pred"]),
        mask(&src["shape"], &src["gt"]),
    )
}

/// `(distance, weight)` pairs sorted by (distance to 1e-9, weight): DeepMind sorts by (distance, weight), and
/// equal distances may differ in the last bit between the two EDTs.
fn sorted(d: &[f64], w: &[f64]) -> Vec<(f64, f64)> {
    let mut v: Vec<(f64, f64)> = d.iter().copied().zip(w.iter().copied()).collect();
    let key = |x: f64| (x * 1e9).round();
    v.sort_by(|a, b| key(a.0).total_cmp(&key(b.0)).then(a.1.total_cmp(&b.1)));
    v
}

/// Checks every DeepMind value of one case; returns the max relative difference.
fn check_values(name: &str, sd: &SurfaceDistances, dm: &Value) -> f64 {
    let mut worst = 0.0f64;
    let (n_pred, n_gt) = sd.counts();
    let (n_dm_pred, n_dm_gt) = (dm["n_pred"].as_u64().unwrap(), dm["n_gt"].as_u64().unwrap());
    let (wp, wg) = sd.weights();
    let empty = n_pred == 0 || n_gt == 0;
    // DeepMind lists every surfel of a non-empty mask (distance inf when the other is empty).
    if !empty {
        assert_eq!(
            (n_pred as u64, n_gt as u64),
            (n_dm_pred, n_dm_gt),
            "{name}: surfel counts"
        );
        let sum = |w: &[f64]| w.iter().sum::<f64>();
        worst = worst.max(check(
            &format!("{name} area pred"),
            &dm["area_pred"],
            sum(&wp),
            1e-12,
        ));
        worst = worst.max(check(
            &format!("{name} area gt"),
            &dm["area_gt"],
            sum(&wg),
            1e-12,
        ));
    } else {
        assert_eq!(
            (n_pred == 0, n_gt == 0),
            (n_dm_pred == 0, n_dm_gt == 0),
            "{name}"
        );
    }
    for q in ["50", "95", "100"] {
        let got = sd
            .percentile_hausdorff(
                q.parse().unwrap(),
                Hd95Rule::AreaWeighted,
                EmptyRule::DEEPMIND,
            )
            .unwrap();
        let exact = rel_diff(num(&dm["robust_hd"][q]), got);
        if exact > TOL {
            // A knife edge (a cumulative area fraction = q/100 to rounding): our surfel areas may differ from
            // DeepMind's in the last bit (another summation order of the same triangle areas), so either side
            // of the edge is DeepMind's value for an area table one ulp away.
            let edge = &dm["robust_hd_edge"][q];
            let (lo, hi) = (num(&edge[0]), num(&edge[1]));
            assert!(
                lo != hi,
                "{name} robust hd {q}: expected {}, got {got}",
                dm["robust_hd"][q]
            );
            assert!(
                rel_diff(lo, got) <= TOL || rel_diff(hi, got) <= TOL,
                "{name} robust hd {q}: {got}"
            );
            println!(
                "{name} robust hd {q}: knife edge, DeepMind {} vs ours {got}",
                dm["robust_hd"][q]
            );
            continue;
        }
        worst = worst.max(exact);
    }
    let hd = sd.hausdorff(EmptyRule::DEEPMIND).unwrap();
    worst = worst.max(check(
        &format!("{name} hd"),
        &dm["robust_hd"]["100"],
        hd,
        TOL,
    ));
    for t in ["1", "2"] {
        let tau: f64 = t.parse().unwrap();
        let nsd = sd.nsd(tau, EmptyRule::DEEPMIND_NSD).unwrap();
        worst = worst.max(check(&format!("{name} nsd {t}"), &dm["nsd"][t], nsd, TOL));
        if !empty {
            let [p, g] = sd.surface_overlap(tau, EmptyRule::ERROR).unwrap();
            let e = &dm["overlap_gt_pred"][t];
            worst = worst.max(check(&format!("{name} overlap gt {t}"), &e[0], g, TOL));
            worst = worst.max(check(&format!("{name} overlap pred {t}"), &e[1], p, TOL));
        }
    }
    let asd = &dm["asd_gt_pred"];
    if empty {
        // DeepMind: both empty → (NaN, NaN); one empty → inf for the non-empty side, NaN (0/0) for the other.
        let (a, b) = (num(&asd[0]), num(&asd[1]));
        match (n_dm_gt == 0, n_dm_pred == 0) {
            (true, true) => assert!(a.is_nan() && b.is_nan(), "{name}"),
            (false, true) => assert!(a == f64::INFINITY && b.is_nan(), "{name}"),
            (true, false) => assert!(a.is_nan() && b == f64::INFINITY, "{name}"),
            (false, false) => unreachable!(),
        }
        let r = EmptyRule::new(EmptyPolicy::Nan, EmptyPolicy::Inf);
        let [p, g] = sd.mean_distances(r).unwrap();
        assert!(
            p.is_nan() == (n_gt == 0 && n_pred == 0) && g.is_nan() == p.is_nan(),
            "{name}"
        );
    } else {
        let [p, g] = sd.mean_distances(EmptyRule::ERROR).unwrap();
        worst = worst.max(check(&format!("{name} asd gt→pred"), &asd[0], g, TOL));
        worst = worst.max(check(&format!("{name} asd pred→gt"), &asd[1], p, TOL));
        let mean = 0.5 * (num(&asd[0]) + num(&asd[1]));
        let got = sd.assd(AssdRule::MeanOfDirected, EmptyRule::ERROR).unwrap();
        worst = worst.max(rel_diff(mean, got));
        assert!(rel_diff(mean, got) <= TOL, "{name}: assd {got} vs {mean}");
    }
    if let Some(lists) = dm.get("lists") {
        let mine = [
            (
                "distances_pred_to_gt",
                "surfel_areas_pred",
                sorted(sd.pred_to_gt(), &wp),
            ),
            (
                "distances_gt_to_pred",
                "surfel_areas_gt",
                sorted(sd.gt_to_pred(), &wg),
            ),
        ];
        for (dk, ak, got) in mine {
            let (ed, ea) = (lists[dk].as_array().unwrap(), lists[ak].as_array().unwrap());
            assert_eq!(got.len(), ed.len(), "{name} {dk}");
            let ed: Vec<f64> = ed.iter().map(num).collect();
            let ea: Vec<f64> = ea.iter().map(num).collect();
            let expected = sorted(&ed, &ea);
            for (i, ((d, a), (e_d, e_a))) in got.iter().zip(&expected).enumerate() {
                let (rd, ra) = (rel_diff(*e_d, *d), rel_diff(*e_a, *a));
                assert!(
                    rd <= 1e-12 && ra <= 1e-12,
                    "{name} {dk}[{i}]: ({d}, {a}) vs ({e_d}, {e_a})"
                );
                worst = worst.max(rd).max(ra);
            }
        }
    }
    worst
}

#[test]
fn surfel_metrics_match_deepmind_on_the_golden_masks() {
    let data = load("deepmind.json");
    let seg = load("segmentation.json");
    let mut worst = 0.0f64;
    let cases = data["cases"].as_array().unwrap();
    assert!(cases.len() >= 14);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let (p, g) = case_masks(c, &seg);
        let sd =
            SurfaceDistances::new(p.view(), g.view(), spacing(&c["spacing"]), SURFELS).unwrap();
        let w = check_values(name, &sd, &c["deepmind"]);
        println!("{name}: max rel diff {w:e}");
        worst = worst.max(w);
    }
    println!("all cases: max rel diff {worst:e}");
}

#[test]
fn surfel_metrics_match_deepmind_on_the_ellipsoids() {
    let data = load("deepmind.json");
    let (a, b) = common::ellipsoids();
    for (key, s) in [("aniso", [0.7, 0.7, 1.5]), ("iso", [1.0, 1.0, 1.0])] {
        let sd = SurfaceDistances::new(b.view(), a.view(), s, SURFELS).unwrap();
        let w = check_values(key, &sd, &data["ellipsoid"][key]);
        println!("ellipsoid {key}: max rel diff {w:e}");
    }
    // /work/shared/reference/metrics.md §8.
    let sd = SurfaceDistances::new(b.view(), a.view(), [0.7, 0.7, 1.5], SURFELS).unwrap();
    assert_eq!(sd.counts(), (10168, 9896));
    let hd95 = sd
        .percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::ERROR)
        .unwrap();
    assert!(rel_diff(2.935_983_651_2, hd95) < TOL, "{hd95}");
    let assd = sd.assd(AssdRule::MeanOfDirected, EmptyRule::ERROR).unwrap();
    assert!((assd - 1.2644).abs() < 5e-5, "{assd}");
    let nsd = sd.nsd(2.0, EmptyRule::ERROR).unwrap();
    assert!((nsd - 0.75408).abs() < 5e-6, "{nsd}");
    let iso = SurfaceDistances::new(b.view(), a.view(), [1.0; 3], SURFELS).unwrap();
    let hd95 = iso
        .percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::ERROR)
        .unwrap();
    assert!((hd95 - 3.6056).abs() < 5e-5, "{hd95}");
}

#[test]
fn surfel_owner_voxels_and_voxel_units() {
    // A 3×3×3 cube in a 5×5×5 image: every voxel but the centre owns a surfel corner.
    let mut m = ndarray::Array3::from_elem((5, 5, 5), false);
    m.slice_mut(ndarray::s![1..4, 1..4, 1..4]).fill(true);
    let owners = medmetrics::surface_voxels(m.view(), Surface::Surfels);
    assert_eq!(owners.iter().filter(|&&v| v).count(), 26);
    // A 1×1×1 voxel: 8 corner surfels; for a voxel shifted by one along x the 95th percentile is 1 voxel.
    let mut p = ndarray::Array3::from_elem((3, 3, 4), false);
    let mut g = p.clone();
    p[[1, 1, 1]] = true;
    g[[1, 1, 2]] = true;
    let opts = SurfaceOptions {
        surface: Surface::Surfels,
        units: medmetrics::Units::Voxel,
    };
    let sd = SurfaceDistances::new(p.view(), g.view(), [9.0, 9.0, 9.0], opts).unwrap();
    assert_eq!(sd.counts(), (8, 8));
    let hd = sd
        .percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::ERROR)
        .unwrap();
    assert_eq!(hd, 1.0);
    assert_eq!(sd.nsd(0.5, EmptyRule::ERROR).unwrap(), 0.5);
}
