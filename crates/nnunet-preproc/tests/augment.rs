//! Augmentation: single transforms with fixed parameters against scipy (`gaussian_filter`,
//! `map_coordinates` order 3 / 1), torch `interpolate(nearest-exact)` and nnU-Net's `get_patch_size`
//! (golden values: `tools/golden/make_pipeline_fixtures.py`, section `augment`), plus pipeline invariants.

use std::path::PathBuf;

use ndarray::{Array3, Array4, Axis};
use ndarray_npy::read_npy;
use nnunet_preproc::augment::{
    contrast_mut, downsample_seg, gamma_mut, gaussian_blur_mut, mirror, spatial_transform,
    GammaInversion, SpatialParams,
};
use nnunet_preproc::{
    augment_sample, loader_patch_size, sample_rng, AugmentConfig, AugmentFlavour,
};
use serde_json::Value;

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/pipeline")
}

fn aug() -> Value {
    let m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir().join("manifest.json")).unwrap())
            .unwrap();
    m["augment"].clone()
}

fn load<T: ndarray_npy::ReadableElement>(name: &Value) -> Array3<T> {
    read_npy(dir().join(name.as_str().unwrap())).unwrap()
}

fn arr3(v: &Value) -> [f64; 3] {
    let v: Vec<f64> = serde_json::from_value(v.clone()).unwrap();
    [v[0], v[1], v[2]]
}

#[test]
fn blur_matches_scipy_gaussian_filter() {
    let a = aug();
    let input: Array3<f32> = load(&a["blur"]["input"]);
    for case in a["blur"]["cases"].as_array().unwrap() {
        let mut x = input.clone();
        gaussian_blur_mut(x.view_mut(), arr3(&case["sigma"]));
        let expected: Array3<f32> = load(&case["output"]);
        let d = x
            .iter()
            .zip(expected.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(d < 1e-6, "blur σ {:?}: max |Δ| {d}", case["sigma"]);
    }
}

#[test]
fn spatial_matches_scipy_map_coordinates() {
    let a = aug();
    let vol: Array3<f32> = load(&a["spatial"]["input"]);
    let p = arr3(&a["spatial"]["patch"]).map(|v| v as usize);
    let data = vol.clone().insert_axis(Axis(0));
    let seg = Array3::<i16>::zeros(vol.raw_dim());
    let src_ok = |params: &SpatialParams, o: [usize; 3]| {
        // Voxels whose source lies at least 1 voxel inside (trilinear zero padding vs scipy constant mode agree).
        let m = nnunet_preproc::augment::affine_matrix(params);
        let sh = vol.shape();
        (0..3).all(|i| {
            let s: f64 = (sh[i] as f64 - 1.0) / 2.0
                + (0..3)
                    .map(|j| m[i][j] * (o[j] as f64 - (p[j] as f64 - 1.0) / 2.0))
                    .sum::<f64>();
            s >= 0.0 && s <= (sh[i] - 1) as f64
        })
    };
    let mut worst = [0f32; 2];
    for case in a["spatial"]["cases"].as_array().unwrap() {
        let params = SpatialParams {
            rotation: arr3(&case["rotation"]),
            scale: case["scale"].as_f64().unwrap(),
        };
        for (k, (flavour, key)) in [
            (AugmentFlavour::V1MoreDA, "cubic"),
            (AugmentFlavour::V2Default, "linear"),
        ]
        .into_iter()
        .enumerate()
        {
            let (out, _) = spatial_transform(data.view(), seg.view(), p, Some(&params), flavour);
            let expected: Array3<f32> = load(&case[key]);
            for ((o, &e), &v) in expected
                .indexed_iter()
                .zip(out.index_axis(Axis(0), 0).iter())
            {
                if k == 0 || src_ok(&params, [o.0, o.1, o.2]) {
                    worst[k] = worst[k].max((v - e).abs());
                }
            }
        }
    }
    eprintln!(
        "spatial: max |Δ| cubic {:e}, linear {:e}",
        worst[0], worst[1]
    );
    assert!(worst[0] < 1e-5 && worst[1] < 1e-5, "{worst:?}");
}

#[test]
fn ds_downsampling_matches_torch_nearest_exact() {
    let a = aug();
    let seg: Array3<i16> = load(&a["ds"]["input"]);
    for case in a["ds"]["cases"].as_array().unwrap() {
        let expected: Array3<i16> = load(&case["output"]);
        assert_eq!(downsample_seg(seg.view(), arr3(&case["scale"])), expected);
    }
}

#[test]
fn loader_patch_matches_get_patch_size() {
    for case in aug()["loader_patch"].as_array().unwrap() {
        let f = arr3(&case["final"]).map(|v| v as usize);
        let l = arr3(&case["loader"]).map(|v| v as usize);
        assert_eq!(loader_patch_size(f, [30f64.to_radians(); 3], 0.85), l);
    }
}

fn sample(shape: [usize; 3]) -> (Array4<f32>, Array3<i16>) {
    let data = Array4::from_shape_fn((2, shape[0], shape[1], shape[2]), |(c, z, y, x)| {
        ((c * 31 + z * 7 + y * 3 + x) % 17) as f32 * 0.3 - 2.0
    });
    let seg = Array3::from_shape_fn((shape[0], shape[1], shape[2]), |(z, y, x)| {
        if z < 2 {
            -1
        } else {
            (((z / 3) + (y / 4) + x / 5) % 3) as i16
        }
    });
    (data, seg)
}

#[test]
fn mirroring_twice_is_identity() {
    let (d, s) = sample([7, 8, 9]);
    for axes in [
        [true, false, false],
        [false, true, true],
        [true, true, true],
    ] {
        let (mut d2, mut s2) = (d.clone(), s.clone());
        mirror(&mut d2, &mut s2, axes);
        assert_ne!(d2, d);
        mirror(&mut d2, &mut s2, axes);
        assert_eq!(d2, d);
        assert_eq!(s2, s);
    }
}

#[test]
fn identity_transform_is_the_centre_crop() {
    let (d, s) = sample([15, 16, 13]);
    let p = [9, 10, 7];
    let id = SpatialParams {
        rotation: [0.0; 3],
        scale: 1.0,
    };
    for fl in [AugmentFlavour::V1MoreDA, AugmentFlavour::V2Default] {
        let (x, sg) = spatial_transform(d.view(), s.view(), p, Some(&id), fl);
        // (S − 1)/2 − (P − 1)/2 is an integer on every axis here: a pure crop.
        let lb = [3, 3, 3];
        let crop = d.slice(ndarray::s![
            ..,
            lb[0]..lb[0] + p[0],
            lb[1]..lb[1] + p[1],
            lb[2]..lb[2] + p[2]
        ]);
        let diff = x
            .iter()
            .zip(crop.iter())
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(diff < 1e-5, "{fl:?}: {diff}");
        assert_eq!(
            sg,
            s.slice(ndarray::s![
                lb[0]..lb[0] + p[0],
                lb[1]..lb[1] + p[1],
                lb[2]..lb[2] + p[2]
            ])
        );
        let (x0, s0) = spatial_transform(d.view(), s.view(), p, None, fl);
        assert_eq!(x0, crop);
        assert_eq!(s0, sg);
    }
}

#[test]
fn intensity_transforms_keep_range_and_stats() {
    let (d, _) = sample([6, 7, 8]);
    let ch = d.index_axis(Axis(0), 0).to_owned();
    let (lo, hi) = ch
        .iter()
        .fold((f32::MAX, f32::MIN), |(a, b), &v| (a.min(v), b.max(v)));
    let mut c = ch.clone();
    contrast_mut(c.view_mut(), 1.3);
    assert!(c.iter().all(|&v| v >= lo && v <= hi));
    for inv in [GammaInversion::Plain, GammaInversion::Inverted] {
        let mut g = ch.clone();
        gamma_mut(g.view_mut(), 1.4, inv, AugmentFlavour::V1MoreDA);
        let m0 = ch.mean().unwrap();
        let m1 = g.mean().unwrap();
        assert!((m0 - m1).abs() < 1e-4, "{m0} vs {m1}");
        assert!((ch.std(0.0) - g.std(0.0)).abs() < 1e-3);
    }
}

#[test]
fn pipeline_shapes_labels_and_determinism() {
    let (d, s) = sample([20, 22, 18]);
    for fl in [AugmentFlavour::V1MoreDA, AugmentFlavour::V2Default] {
        let mut cfg = AugmentConfig::new(fl, [12, 12, 12]);
        cfg.ds_scales = vec![[1.0; 3], [0.5; 3], [0.25; 3]];
        // Intensity transforms only: the label map must be the centre crop (maybe mirrored).
        let mut intensity_only = cfg.clone();
        intensity_only.p_rotation = 0.0;
        intensity_only.p_scale = 0.0;
        intensity_only.mirror_axes = [false; 3];
        for seed in 0..20u64 {
            let a = augment_sample(&d, &s, &cfg, &mut sample_rng(seed, 0, 0)).unwrap();
            let b = augment_sample(&d, &s, &cfg, &mut sample_rng(seed, 0, 0)).unwrap();
            assert_eq!(a, b, "determinism");
            assert_eq!(a.data.shape(), &[2, 12, 12, 12]);
            let shapes: Vec<_> = a.targets.iter().map(|t| t.shape().to_vec()).collect();
            assert_eq!(shapes, vec![vec![12, 12, 12], vec![6, 6, 6], vec![3, 3, 3]]);
            assert!(
                a.targets
                    .iter()
                    .all(|t| t.iter().all(|&v| (0..3).contains(&v))),
                "−1 removed"
            );
            let i = augment_sample(&d, &s, &intensity_only, &mut sample_rng(seed, 0, 0)).unwrap();
            let (_, mut crop) =
                nnunet_preproc::augment::centre_crop(d.view(), s.view(), [12; 3], fl);
            crop.mapv_inplace(|v| v.max(0));
            assert_eq!(i.targets[0], crop);
        }
    }
}
