//! Property tests (proptest): Dice symmetric and in [0, 1]; Hausdorff symmetric, zero iff the surfaces
//! coincide, translation invariant; the EDT equals brute force on small random masks; DeepMind surfel metrics
//! symmetric, invariant to embedding in a larger image, positive areas.

use medmetrics::{
    dice, distance_to_set, surface_voxels, EmptyPolicy, EmptyRule, Hd95Rule, Surface,
    SurfaceDistances, SurfaceOptions,
};
use ndarray::Array3;
use proptest::prelude::*;

const SHAPE: (usize, usize, usize) = (5, 6, 7);

fn masks() -> impl Strategy<Value = Array3<bool>> {
    proptest::collection::vec(any::<bool>(), SHAPE.0 * SHAPE.1 * SHAPE.2)
        .prop_map(|v| Array3::from_shape_vec(SHAPE, v).unwrap())
}

fn spacings() -> impl Strategy<Value = [f64; 3]> {
    [0.3f64..3.0, 0.3f64..3.0, 0.3f64..3.0]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn dice_symmetric_in_unit_interval(a in masks(), b in masks()) {
        let ab = dice(a.view(), b.view(), EmptyPolicy::One).unwrap();
        let ba = dice(b.view(), a.view(), EmptyPolicy::One).unwrap();
        prop_assert_eq!(ab, ba);
        prop_assert!((0.0..=1.0).contains(&ab));
    }

    #[test]
    fn hausdorff_symmetric_and_zero_iff_same_surface(a in masks(), b in masks(), sp in spacings()) {
        let o = SurfaceOptions::default();
        let ab = SurfaceDistances::new(a.view(), b.view(), sp, o).unwrap();
        let ba = SurfaceDistances::new(b.view(), a.view(), sp, o).unwrap();
        let (hab, hba) = (ab.hausdorff(EmptyRule::DEEPMIND).unwrap(), ba.hausdorff(EmptyRule::DEEPMIND).unwrap());
        prop_assert_eq!(hab, hba);
        let p = |s: &SurfaceDistances| s.percentile_hausdorff(95.0, Hd95Rule::MaxOfDirected, EmptyRule::DEEPMIND).unwrap();
        prop_assert_eq!(p(&ab), p(&ba));
        let sa = surface_voxels(a.view(), Surface::ErosionBorder);
        let sb = surface_voxels(b.view(), Surface::ErosionBorder);
        let any = sa.iter().any(|&v| v);
        if any && sa == sb {
            prop_assert_eq!(hab, 0.0);
        } else if any || sb.iter().any(|&v| v) {
            prop_assert!(hab > 0.0);
        }
    }

    #[test]
    fn hausdorff_translation_invariant(a in masks(), b in masks(), sp in spacings(), dz in 0usize..3, dy in 0usize..3, dx in 0usize..3) {
        // Embed both masks in a larger grid at two offsets: distances must not change.
        let big = (SHAPE.0 + 4, SHAPE.1 + 4, SHAPE.2 + 4);
        let place = |m: &Array3<bool>, oz: usize, oy: usize, ox: usize| {
            let mut out = Array3::from_elem(big, false);
            for ((z, y, x), &v) in m.indexed_iter() { out[[z + oz, y + oy, x + ox]] = v; }
            out
        };
        let o = SurfaceOptions::default();
        let h = |p: &Array3<bool>, q: &Array3<bool>| {
            let s = SurfaceDistances::new(p.view(), q.view(), sp, o).unwrap();
            (s.hausdorff(EmptyRule::DEEPMIND).unwrap(), s.percentile_hausdorff(95.0, Hd95Rule::Union, EmptyRule::DEEPMIND).unwrap())
        };
        let (a1, b1) = (place(&a, 1, 1, 1), place(&b, 1, 1, 1));
        let (a2, b2) = (place(&a, 1 + dz, 1 + dy, 1 + dx), place(&b, 1 + dz, 1 + dy, 1 + dx));
        let (h1, h2) = (h(&a1, &b1), h(&a2, &b2));
        prop_assert!((h1.0 - h2.0).abs() <= 1e-12 * h1.0.max(1.0) || h1.0 == h2.0);
        prop_assert!((h1.1 - h2.1).abs() <= 1e-12 * h1.1.max(1.0) || h1.1 == h2.1);
    }

    #[test]
    fn edt_equals_brute_force(f in proptest::collection::vec(proptest::bool::weighted(0.15), SHAPE.0 * SHAPE.1 * SHAPE.2), sp in spacings()) {
        let f = Array3::from_shape_vec(SHAPE, f).unwrap();
        let d = distance_to_set(f.view(), sp).unwrap();
        let sites: Vec<(usize, usize, usize)> = f.indexed_iter().filter(|(_, &v)| v).map(|(i, _)| i).collect();
        for ((z, y, x), &got) in d.indexed_iter() {
            let want = sites.iter().map(|&(a, b, c)| {
                let dz = (z as f64 - a as f64) * sp[0];
                let dy = (y as f64 - b as f64) * sp[1];
                let dx = (x as f64 - c as f64) * sp[2];
                (dz * dz + dy * dy + dx * dx).sqrt()
            }).fold(f64::INFINITY, f64::min);
            prop_assert!(got == want || (got - want).abs() <= 1e-12 * want, "at {:?}: {} vs {}", (z, y, x), got, want);
        }
    }
}

#[test]
fn strided_views_match_owned_copies() {
    // Non-contiguous inputs take the fallback paths (row copies, element iteration).
    let (a, b) = {
        let mk = |c: [f64; 3], r: f64| {
            Array3::from_shape_fn((12, 14, 20), |(z, y, x)| {
                let d = |i: usize, c: f64| (i as f64 - c) / r;
                d(z, c[0]).powi(2) + d(y, c[1]).powi(2) + d(x, c[2]).powi(2) <= 1.0
            })
        };
        (mk([6.0, 7.0, 10.0], 4.0), mk([5.0, 8.0, 9.0], 4.5))
    };
    let (va, vb) = (
        a.slice(ndarray::s![.., .., ..;2]),
        b.slice(ndarray::s![.., .., ..;2]),
    );
    let (oa, ob) = (va.to_owned(), vb.to_owned());
    let sp = [1.5, 0.7, 0.9];
    assert_eq!(
        dice(va, vb, EmptyPolicy::Error).unwrap(),
        dice(oa.view(), ob.view(), EmptyPolicy::Error).unwrap()
    );
    let o = SurfaceOptions::default();
    let s1 = SurfaceDistances::new(va, vb, sp, o).unwrap();
    let s2 = SurfaceDistances::new(oa.view(), ob.view(), sp, o).unwrap();
    assert_eq!(s1, s2);
    assert_eq!(
        distance_to_set(va, sp).unwrap(),
        distance_to_set(oa.view(), sp).unwrap()
    );
}

fn surfels() -> SurfaceOptions {
    SurfaceOptions {
        surface: Surface::Surfels,
        units: medmetrics::Units::Millimetre,
    }
}

/// `m` placed at offset `(1, 2, 1)` inside a larger zero image.
fn embedded(m: &Array3<bool>) -> Array3<bool> {
    let mut big = Array3::from_elem((SHAPE.0 + 3, SHAPE.1 + 4, SHAPE.2 + 2), false);
    big.slice_mut(ndarray::s![1..1 + SHAPE.0, 2..2 + SHAPE.1, 1..1 + SHAPE.2])
        .assign(m);
    big
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// DeepMind surfels: swapping prediction and ground truth swaps the directed values (symmetric HD95, ASSD,
    /// NSD); embedding both masks in a larger image (the image edge is background on both sides) changes
    /// nothing; every surfel has a positive area and identical masks give HD 0 and NSD 1.
    #[test]
    fn surfel_metrics_symmetric_and_edge_invariant(a in masks(), b in masks(), sp in spacings()) {
        let ab = SurfaceDistances::new(a.view(), b.view(), sp, surfels()).unwrap();
        let ba = SurfaceDistances::new(b.view(), a.view(), sp, surfels()).unwrap();
        let hd = |s: &SurfaceDistances| s.percentile_hausdorff(95.0, Hd95Rule::AreaWeighted, EmptyRule::DEEPMIND).unwrap();
        let assd = |s: &SurfaceDistances| s.assd(medmetrics::AssdRule::MeanOfDirected, EmptyRule::DEEPMIND).unwrap();
        let nsd = |s: &SurfaceDistances| s.nsd(1.0, EmptyRule::new(EmptyPolicy::Zero, EmptyPolicy::Zero)).unwrap();
        prop_assert_eq!(hd(&ab), hd(&ba));
        prop_assert!((assd(&ab) - assd(&ba)).abs() <= 1e-12 * assd(&ab).abs().max(1.0) || assd(&ab) == assd(&ba));
        prop_assert!((nsd(&ab) - nsd(&ba)).abs() <= 1e-12);
        let (wa, wb) = ab.weights();
        prop_assert!(wa.iter().chain(&wb).all(|&w| w > 0.0));
        let big = SurfaceDistances::new(embedded(&a).view(), embedded(&b).view(), sp, surfels()).unwrap();
        prop_assert_eq!(big.counts(), ab.counts());
        prop_assert_eq!(hd(&big), hd(&ab));
        prop_assert!((nsd(&big) - nsd(&ab)).abs() <= 1e-12);
        if a.iter().any(|&v| v) {
            let same = SurfaceDistances::new(a.view(), a.view(), sp, surfels()).unwrap();
            prop_assert_eq!(same.hausdorff(EmptyRule::ERROR).unwrap(), 0.0);
            prop_assert_eq!(same.nsd(0.0, EmptyRule::ERROR).unwrap(), 1.0);
        }
    }
}
