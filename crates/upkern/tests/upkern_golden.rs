/* Reference: MIC-DKFZ/MedNeXt @ 0b78ed8, `nnunet_mednext/run/load_weights.py::upkern_load_weights`, PyTorch
2.15.0 CPU float32 (fixtures from ../shared/fixtures/mednext/, copied by
tools/golden/make_upkern_fixtures.py):

    k3 = MedNeXt(in_channels=3, n_channels=8, n_classes=2, exp_r=2, kernel_size=3, deep_supervision=True,
                 do_res=True, do_res_up_down=True, block_counts=[1]*9)        # + perturbed GroupNorm affine
    k5 = MedNeXt(..., kernel_size=5, ...)
    upkern_load_weights(k5, k3)            # -> mednext_small_k5_upkern.safetensors (165 tensors)
    w5 = F.interpolate(w3, size=(5,5,5), mode='trilinear', align_corners=False)   # upkern_unit.safetensors

and tools/golden/make_upkern_fixtures.py::resize_cases() (F.interpolate trilinear / bilinear,
align_corners=False, seed 11) -> resize_cases.safetensors.  Gate (mednext.md §14): atol 1e-6. */

use std::collections::BTreeMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use upkern::{read_checkpoint, resize_kernel, resize_kernel_2d, shapes_of, upkern, Error};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let d = (a.to_dtype(DType::F32).unwrap() - b.to_dtype(DType::F32).unwrap()).unwrap();
    d.abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

#[test]
fn resize_kernel_matches_pytorch_trilinear_3_to_5() -> anyhow::Result<()> {
    let unit = read_checkpoint(data("upkern_unit.safetensors"))?;
    let w5 = resize_kernel(&unit["w3"], [5, 5, 5])?;
    let diff = max_abs_diff(&w5, &unit["w5"]);
    println!("w3 -> w5 max |diff| = {diff:e}");
    // Same f32 operation order and FMA as aten's CPU kernel: bit-exact (gate 1e-6).
    assert_eq!(diff, 0.0);
    Ok(())
}

#[test]
fn resize_kernel_matches_pytorch_for_other_sizes() -> anyhow::Result<()> {
    let cases = read_checkpoint(data("resize_cases.safetensors"))?;
    for (name, size) in [
        ("k3_to_k7", [7, 7, 7]),
        ("k5_to_k7", [7, 7, 7]),
        ("k7_to_k5", [5, 5, 5]),
        ("aniso", [3, 5, 7]),
    ] {
        let out = resize_kernel(&cases[&format!("{name}.in")], size)?;
        let diff = max_abs_diff(&out, &cases[&format!("{name}.out")]);
        println!("{name}: max |diff| = {diff:e}");
        assert_eq!(diff, 0.0, "{name}");
    }
    let out = resize_kernel_2d(&cases["k3_to_k5_2d.in"], [5, 5])?;
    let diff = max_abs_diff(&out, &cases["k3_to_k5_2d.out"]);
    println!("k3_to_k5_2d: max |diff| = {diff:e}");
    // aten's bilinear kernel rounds differently (1 ulp): gate 1e-6.
    assert!(diff <= 1e-6, "2d: {diff}");
    Ok(())
}

#[test]
fn small_mednext_k3_to_k5_equals_the_original_upkern() -> anyhow::Result<()> {
    let k3 = read_checkpoint(data("mednext_small_k3.safetensors"))?;
    let k5_ref = read_checkpoint(data("mednext_small_k5_upkern.safetensors"))?;
    assert_eq!((k3.len(), k5_ref.len()), (165, 165));
    let (k5, report) = upkern(&k3, &shapes_of(&k5_ref))?;

    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("upkern_meta.json"))?)?;
    let mut expected: Vec<String> = meta["upkern_interpolated_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    expected.sort();
    assert_eq!(report.resized_keys(), expected);
    assert_eq!((report.resized.len(), report.copied.len()), (17, 148));
    for (key, from, to) in &report.resized {
        assert_eq!(from[2..], [3, 3, 3], "{key}");
        assert_eq!(to[2..], [5, 5, 5], "{key}");
    }

    let mut worst = 0f32;
    for (key, reference) in &k5_ref {
        let ours = &k5[key];
        let diff = max_abs_diff(ours, reference);
        if report.copied.contains(key) {
            // Copied tensors are bit-identical to the source and to the reference.
            let bits = |t: &Tensor| -> Vec<u32> {
                t.flatten_all()
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
                    .iter()
                    .map(|x| x.to_bits())
                    .collect()
            };
            assert_eq!(bits(ours), bits(reference), "{key}");
            assert_eq!(bits(ours), bits(&k3[key]), "{key}");
        }
        worst = worst.max(diff);
    }
    println!("k3 -> k5 state dict: max |diff| over 165 tensors = {worst:e}");
    assert_eq!(worst, 0.0, "gate 1e-6; bit-exact expected");
    Ok(())
}

#[test]
fn mismatches_are_typed_errors_naming_key_and_shapes() -> anyhow::Result<()> {
    let dev = Device::Cpu;
    let mut src = upkern::NamedTensors::new();
    src.insert(
        "a.conv1.weight".into(),
        Tensor::zeros((4, 1, 3, 3, 3), DType::F32, &dev)?,
    );
    src.insert("a.conv1.bias".into(), Tensor::zeros(4, DType::F32, &dev)?);
    let mut tgt: BTreeMap<String, Vec<usize>> = shapes_of(&src);

    tgt.insert("a.conv1.weight".into(), vec![8, 1, 5, 5, 5]);
    match upkern(&src, &tgt).unwrap_err() {
        Error::ShapeMismatch {
            key,
            source_shape,
            target_shape,
            ..
        } => {
            assert_eq!(key, "a.conv1.weight");
            assert_eq!(source_shape, [4, 1, 3, 3, 3]);
            assert_eq!(target_shape, [8, 1, 5, 5, 5]);
        }
        other => panic!("{other}"),
    }
    tgt.insert("a.conv1.weight".into(), vec![4, 1, 5, 5]);
    assert!(matches!(
        upkern(&src, &tgt),
        Err(Error::ShapeMismatch { .. })
    ));
    tgt.insert("a.conv1.weight".into(), vec![4, 1, 5, 5, 5]);
    tgt.insert("a.conv1.bias".into(), vec![5]);
    assert!(
        matches!(upkern(&src, &tgt), Err(Error::ShapeMismatch { ref key, .. }) if key == "a.conv1.bias")
    );
    tgt.insert("a.conv1.bias".into(), vec![4]);
    assert!(upkern(&src, &tgt).is_ok());

    tgt.insert("b.weight".into(), vec![2]);
    assert!(
        matches!(upkern(&src, &tgt), Err(Error::MissingKey { ref key, .. }) if key == "b.weight")
    );
    tgt.remove("b.weight");
    tgt.remove("a.conv1.bias");
    match upkern(&src, &tgt).unwrap_err() {
        Error::UnexpectedKey { key, source_shape } => {
            assert_eq!((key.as_str(), source_shape), ("a.conv1.bias", vec![4]));
        }
        other => panic!("{other}"),
    }
    // A 1-D / integer tensor cannot be resized.
    let ints = Tensor::zeros((1, 1, 3, 3, 3), DType::I64, &dev)?;
    assert!(matches!(
        resize_kernel(&ints, [5, 5, 5]),
        Err(Error::InvalidParameter { .. })
    ));
    let flat = Tensor::zeros(3, DType::F32, &dev)?;
    assert!(matches!(
        resize_kernel(&flat, [5, 5, 5]),
        Err(Error::ShapeMismatch { .. })
    ));
    Ok(())
}

#[test]
fn resizing_keeps_dtype_and_is_identity_for_equal_sizes() -> anyhow::Result<()> {
    let unit = read_checkpoint(data("upkern_unit.safetensors"))?;
    let w3 = &unit["w3"];
    assert_eq!(max_abs_diff(&resize_kernel(w3, [3, 3, 3])?, w3), 0.0);
    let w5_f64 = resize_kernel(&w3.to_dtype(DType::F64)?, [5, 5, 5])?;
    assert_eq!(w5_f64.dtype(), DType::F64);
    assert!(max_abs_diff(&w5_f64, &unit["w5"]) <= 1e-6);
    Ok(())
}

/// MedNeXt-M k3 (in 3, nc 2, DS; key listing of the original repository, `keys_M_k3_in3_nc2_original.txt`)
/// → k5: exactly the 42 depthwise `conv1.weight` tensors are resized, the other 323 copied (mednext.md §12).
#[test]
fn medium_k3_to_k5_resizes_exactly_the_42_depthwise_kernels() -> anyhow::Result<()> {
    let listing = std::fs::read_to_string(data("keys_M_k3_in3_nc2_original.txt"))?;
    let mut source = upkern::NamedTensors::new();
    let mut target = BTreeMap::new();
    for line in listing.lines().filter(|l| !l.trim().is_empty()) {
        let (key, shape) = line.split_once('\t').expect("key<TAB>shape");
        let shape: Vec<usize> = shape
            .trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .filter_map(|d| d.trim().parse().ok())
            .collect();
        let mut k5 = shape.clone();
        if k5.len() == 5 && k5[2..] == [3, 3, 3] {
            k5[2..].iter_mut().for_each(|d| *d = 5);
        }
        source.insert(
            key.to_owned(),
            Tensor::zeros(shape, DType::F32, &Device::Cpu)?,
        );
        target.insert(key.to_owned(), k5);
    }
    let (out, report) = upkern(&source, &target)?;
    assert_eq!(
        (out.len(), report.resized.len(), report.copied.len()),
        (365, 42, 323)
    );
    assert!(report
        .resized_keys()
        .iter()
        .all(|k| k.ends_with(".conv1.weight")));
    let values: usize = out.values().map(|t| t.elem_count()).sum();
    assert_eq!(
        values, 18_262_827,
        "MedNeXt-M k5 parameter count (mednext.md §8)"
    );
    Ok(())
}
