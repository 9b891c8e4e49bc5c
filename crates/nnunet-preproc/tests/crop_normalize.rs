//! Cropping and normalisation against nnU-Net.
//!
//! Golden values: `tools/golden/make_crop_norm_fixtures.py` (nnunetv2 2.8.1 `crop_to_nonzero`,
//! `create_nonzero_mask`, `ZScoreNormalization`, `CTNormalization`, `RescaleTo01Normalization`,
//! `RGBTo01Normalization`; nnunet 1.7.1 `crop_to_nonzero` and `GenericPreprocessor.resample_and_normalize`
//! without resampling; NumPy 2.4), fixtures in `crates/nnunet-preproc/tests/data/crop_norm/`.

use std::path::PathBuf;

use ndarray::{s, Array3, Array4, ArrayD, Axis, Ix3, Ix4};
use ndarray_npy::read_npy;
use nnunet_preproc::fingerprint::ForegroundIntensityProperties;
use nnunet_preproc::{
    bounding_box, crop_to_nonzero, nonzero_mask, normalize_channel_mut, uncrop, BoundingBox,
    Flavour, NormalizationScheme,
};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/crop_norm")
}

fn npy<T: ndarray_npy::ReadableElement>(name: &str) -> ArrayD<T> {
    read_npy(dir().join(format!("{name}.npy"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn f4(name: &str) -> Array4<f32> {
    npy::<f32>(name).into_dimensionality::<Ix4>().unwrap()
}

fn f3(name: &str) -> Array3<f32> {
    npy::<f32>(name).into_dimensionality::<Ix3>().unwrap()
}

fn i3(name: &str) -> Array3<i16> {
    npy::<i16>(name).into_dimensionality::<Ix3>().unwrap()
}

fn json(name: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.json"))).unwrap()).unwrap()
}

fn bbox_of(v: &serde_json::Value) -> BoundingBox {
    std::array::from_fn(|a| std::array::from_fn(|k| v[a][k].as_u64().unwrap() as usize))
}

/// max |a − b| and the reference's value range.
fn max_diff(a: &Array4<f32>, b: &Array4<f32>) -> (f32, f32) {
    assert_eq!(a.shape(), b.shape());
    let d = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0f32, f32::max);
    let lo = b.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = b.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    (d, hi - lo)
}

#[test]
fn crop_matches_nnunet() {
    let bboxes = json("crop_bboxes");
    for case in ["a", "b", "c", "d"] {
        let shape_before: [usize; 3] =
            std::array::from_fn(|a| bboxes[case]["shape_before"][a].as_u64().unwrap() as usize);
        let data = if case == "c" {
            Array4::zeros((1, shape_before[0], shape_before[1], shape_before[2]))
        } else {
            f4(&format!("crop_{case}_data"))
        };
        let seg = (case != "d").then(|| i3(&format!("crop_{case}_seg")));
        let expected_mask = npy::<u8>(&format!("crop_{case}_mask"))
            .into_dimensionality::<Ix3>()
            .unwrap();
        let mask = nonzero_mask(data.view());
        assert_eq!(
            mask.map(|&m| u8::from(m)),
            expected_mask,
            "case {case}: filled nonzero mask"
        );
        let bbox = bbox_of(&bboxes[case]["bbox"]);
        assert_eq!(bounding_box(mask.view()), bbox, "case {case}: bbox");

        let cropped = crop_to_nonzero(data.view(), seg.as_ref().map(|s| s.view())).unwrap();
        assert_eq!(cropped.bbox, bbox, "case {case}");
        assert_eq!(cropped.shape_before, shape_before);
        assert_eq!(
            cropped.seg,
            i3(&format!("crop_{case}_cropped_seg")),
            "case {case}: seg with −1"
        );
        if case != "c" {
            assert_eq!(
                cropped.data,
                f4(&format!("crop_{case}_cropped_data")),
                "case {case}: data"
            );
        } else {
            assert_eq!(
                cropped.data.dim(),
                (1, shape_before[0], shape_before[1], shape_before[2])
            );
        }

        // export: paste the cropped seg back; inside the box it is the cropped seg, outside the fill
        let back = uncrop(cropped.seg.view(), &bbox, shape_before, 9i16).unwrap();
        let [bz, by, bx] = bbox;
        assert_eq!(
            back.slice(s![bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]]),
            cropped.seg
        );
        let outside = back.len() - cropped.seg.len();
        assert_eq!(back.iter().filter(|&&v| v == 9).count(), outside);
    }
}

#[test]
fn crop_rejects_mismatched_seg() {
    let data = Array4::<f32>::ones((1, 4, 5, 6));
    let seg = Array3::<i16>::zeros((4, 5, 7));
    assert!(crop_to_nonzero(data.view(), Some(seg.view())).is_err());
}

/// The cropped case `a` (contiguous) and its seg with −1.
fn case_a() -> (Array4<f32>, Array3<i16>, BoundingBox) {
    let c = crop_to_nonzero(f4("crop_a_data").view(), Some(i3("crop_a_seg").view())).unwrap();
    (c.data, c.seg, c.bbox)
}

fn normalized(
    data: &Array4<f32>,
    seg: &Array3<i16>,
    schemes: &[NormalizationScheme],
    use_mask: bool,
    flavour: Flavour,
) -> Array4<f32> {
    let mut out = data.clone();
    for (c, ch) in out.axis_iter_mut(Axis(0)).enumerate() {
        normalize_channel_mut(ch, seg.view(), &schemes[c], use_mask, flavour).unwrap();
    }
    out
}

fn check(name: &str, got: &Array4<f32>, rel_tol: f32) -> f32 {
    let (d, range) = max_diff(got, &f4(name));
    eprintln!(
        "{name}: max |Δ| = {d:e} (range {range}, relative {:e})",
        d / range
    );
    assert!(
        d <= rel_tol * range,
        "{name}: max |Δ| {d} > {rel_tol} × range {range}"
    );
    d
}

#[test]
fn zscore_v2_and_v1_match_nnunet() {
    let (data, seg, _) = case_a();
    let z = [NormalizationScheme::ZScore, NormalizationScheme::ZScore];
    for (use_mask, tag) in [(false, "nomask"), (true, "mask")] {
        // contiguous input: NumPy's float32 pairwise sums are reproduced bit for bit
        let d = check(
            &format!("norm_v2_zscore_{tag}"),
            &normalized(&data, &seg, &z, use_mask, Flavour::V2),
            0.0,
        );
        assert_eq!(d, 0.0);
        let d = check(
            &format!("norm_v1_zscore_{tag}"),
            &normalized(&data, &seg, &z, use_mask, Flavour::V1),
            0.0,
        );
        assert_eq!(d, 0.0);
    }
}

#[test]
fn zscore_v2_on_a_cropped_view_matches_nnunet() {
    // nnU-Net normalises a non-contiguous view of the uncropped array; do the same here
    let full = f4("crop_a_data");
    let seg = i3("crop_a_seg");
    let cropped = crop_to_nonzero(full.view(), Some(seg.view())).unwrap();
    let [bz, by, bx] = cropped.bbox;
    let z = NormalizationScheme::ZScore;
    for (use_mask, tag) in [(false, "nomask"), (true, "mask")] {
        let mut work = full.clone();
        for c in 0..work.shape()[0] {
            let view = work.slice_mut(s![c, bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]]);
            assert!(view.as_slice().is_none());
            normalize_channel_mut(view, cropped.seg.view(), &z, use_mask, Flavour::V2).unwrap();
        }
        let got = work
            .slice(s![.., bz[0]..bz[1], by[0]..by[1], bx[0]..bx[1]])
            .to_owned();
        check(&format!("norm_v2_zscore_{tag}_view"), &got, 1e-5);
    }
}

fn ct_props(flavour: &str) -> Vec<ForegroundIntensityProperties> {
    serde_json::from_value(json("ct_props")[flavour].clone()).unwrap()
}

#[test]
fn ct_rescale_rgb_match_nnunet() {
    let (data, seg, _) = case_a();
    let ct = |p: Vec<ForegroundIntensityProperties>| -> Vec<NormalizationScheme> {
        p.into_iter().map(NormalizationScheme::Ct).collect()
    };
    let d = check(
        "norm_v2_ct",
        &normalized(&data, &seg, &ct(ct_props("v2")), false, Flavour::V2),
        1e-6,
    );
    assert_eq!(d, 0.0);
    let v1 = ct(ct_props("v1"));
    assert_eq!(
        check(
            "norm_v1_ct",
            &normalized(&data, &seg, &v1, false, Flavour::V1),
            1e-6
        ),
        0.0
    );
    assert_eq!(
        check(
            "norm_v1_ct_mask",
            &normalized(&data, &seg, &v1, true, Flavour::V1),
            1e-6
        ),
        0.0
    );
    let r = [
        NormalizationScheme::RescaleTo01,
        NormalizationScheme::RescaleTo01,
    ];
    assert_eq!(
        check(
            "norm_v2_rescale",
            &normalized(&data, &seg, &r, false, Flavour::V2),
            1e-6
        ),
        0.0
    );

    let mut rgb = f3("norm_rgb_input");
    normalize_channel_mut(
        rgb.view_mut(),
        seg.view(),
        &NormalizationScheme::RgbTo01,
        false,
        Flavour::V2,
    )
    .unwrap();
    assert_eq!(rgb, f3("norm_v2_rgb"));

    // the CT statistics themselves: this case's foreground (seg > 0), all voxels (v2) / every 10th (v1)
    for (flavour, tag, stride) in [(Flavour::V2, "v2", 1), (Flavour::V1, "v1", 10)] {
        for (c, expected) in ct_props(tag).iter().enumerate() {
            let fg: Vec<f32> = data
                .index_axis(Axis(0), c)
                .iter()
                .zip(&seg)
                .filter(|(_, &l)| l > 0)
                .map(|(&v, _)| v)
                .step_by(stride)
                .collect();
            let got = ForegroundIntensityProperties::from_intensities(&fg, flavour);
            assert_eq!(&got, expected, "{tag} channel {c}");
        }
    }
}

#[test]
fn normalisation_errors_are_typed() {
    let (data, seg, _) = case_a();
    let mut ch = data.index_axis(Axis(0), 0).to_owned();
    let small = Array3::<i16>::zeros((2, 2, 2));
    let z = NormalizationScheme::ZScore;
    assert!(normalize_channel_mut(ch.view_mut(), small.view(), &z, false, Flavour::V2).is_err());
    let bad = NormalizationScheme::Ct(ForegroundIntensityProperties::EMPTY);
    assert!(normalize_channel_mut(ch.view_mut(), seg.view(), &bad, false, Flavour::V2).is_err());
    // case a has values above 255: not an RGB image
    let rgb = NormalizationScheme::RgbTo01;
    assert!(normalize_channel_mut(ch.view_mut(), seg.view(), &rgb, false, Flavour::V2).is_err());
    let r = NormalizationScheme::RescaleTo01;
    assert!(normalize_channel_mut(ch.view_mut(), seg.view(), &r, false, Flavour::V1).is_err());
    // an all-outside mask: v2 leaves the channel, v1 zeroes it
    let outside = Array3::from_elem(seg.dim(), -1i16);
    let before = ch.clone();
    normalize_channel_mut(ch.view_mut(), outside.view(), &z, true, Flavour::V2).unwrap();
    assert_eq!(ch, before);
    normalize_channel_mut(ch.view_mut(), outside.view(), &z, true, Flavour::V1).unwrap();
    assert!(ch.iter().all(|&v| v == 0.0));
}
