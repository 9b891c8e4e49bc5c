/* State dicts, key names, parameter counts and MONAI renaming.

Reference: MIC-DKFZ/MedNeXt @ 0b78ed8 (`MedNextV1.py`, `create_mednext_v1.py`, nnU-Net trainers with
deep_supervision=True) and Project-MONAI/MONAI 1.6.1 (`monai/networks/nets/mednext.py`), PyTorch 2.15:
- parameter counts `sum(p.numel() for p in model.parameters())` (incl. dummy_tensor) from
  `reference/mednext.md` §8 (in_channels 1 and 3, n_classes 2, DS on);
- key listings `fixtures/mednext/keys_M_k3_in3_nc2_{original,monai}.txt` (state_dict order, shapes) of
  MedNeXt-M k3, in 3, nc 2, DS on (original) and MONAI's `create_mednext("medium", …, deep_supervision=True)`.
*/

use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use mednext::{
    original_key_to_monai, parameter_count, state_dict_shapes, Error, ExpRatio, KeyNaming, MedNext,
    MedNextConfig, NamedTensors, Preset,
};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// `key<TAB>(a, b, c)` lines → (key, shape).
fn read_listing(name: &str) -> anyhow::Result<Vec<(String, Vec<usize>)>> {
    let text = std::fs::read_to_string(data(name))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, s) = l
                .split_once('\t')
                .ok_or_else(|| anyhow::anyhow!("bad line {l}"))?;
            let dims = s
                .trim_matches(|c| c == '(' || c == ')')
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(|d| d.parse::<usize>())
                .collect::<Result<Vec<_>, _>>()?;
            Ok((k.to_string(), dims))
        })
        .collect()
}

#[test]
fn parameter_counts_match_the_reference_table() -> anyhow::Result<()> {
    // (preset, kernel, params in=1, params in=3), n_classes 2, deep supervision on.
    let table = [
        (Preset::S, 3, 5_552_843, 5_552_907),
        (Preset::S, 5, 5_982_475, 5_982_539),
        (Preset::B, 3, 10_528_235, 10_528_299),
        (Preset::B, 5, 10_957_867, 10_957_931),
        (Preset::M, 3, 17_550_891, 17_550_955),
        (Preset::M, 5, 18_262_763, 18_262_827),
        (Preset::L, 3, 61_781_195, 61_781_259),
        (Preset::L, 5, 62_994_827, 62_994_891),
    ];
    for (preset, k, in1, in3) in table {
        for (inc, expected) in [(1, in1), (3, in3)] {
            let cfg = MedNextConfig::preset(preset, inc, 2, k).with_deep_supervision(true);
            assert_eq!(parameter_count(&cfg)?, expected, "{preset:?} k{k} in{inc}");
        }
    }
    Ok(())
}

#[test]
fn medium_keys_and_shapes_equal_the_original_listing_in_order() -> anyhow::Result<()> {
    let reference = read_listing("keys_M_k3_in3_nc2_original.txt")?;
    assert_eq!(reference.len(), 365);
    let cfg = MedNextConfig::medium(3, 2, 3).with_deep_supervision(true);
    let ours = state_dict_shapes(&cfg)?;
    assert_eq!(ours, reference);
    Ok(())
}

#[test]
fn monai_names_map_onto_monai_listing_and_medium_is_refused() -> anyhow::Result<()> {
    let original = read_listing("keys_M_k3_in3_nc2_original.txt")?;
    let monai = read_listing("keys_M_k3_in3_nc2_monai.txt")?;
    assert_eq!(monai.len(), 364);
    let monai_map: std::collections::BTreeMap<_, _> = monai.into_iter().collect();
    let mut differing = Vec::new();
    for (key, shape) in &original {
        let Some(m) = original_key_to_monai(key) else {
            assert_eq!(key, "dummy_tensor");
            continue;
        };
        let monai_shape = monai_map
            .get(&m)
            .unwrap_or_else(|| panic!("{key} -> {m} not in MONAI listing"));
        assert_eq!(mednext::monai_key_to_original(&m), *key);
        if monai_shape != shape {
            differing.push(key.clone());
        }
    }
    differing.sort();
    assert_eq!(
        differing,
        [
            "down_0.conv2.bias",
            "down_0.conv2.weight",
            "down_0.conv3.weight",
            "down_1.conv2.bias",
            "down_1.conv2.weight",
            "down_1.conv3.weight"
        ]
    );
    // The original M cannot be expressed with MONAI's M; S can.
    let m = MedNextConfig::medium(3, 2, 3).with_deep_supervision(true);
    assert!(matches!(
        mednext::check_monai_compatible(&m),
        Err(Error::MonaiIncompatible(_))
    ));
    mednext::check_monai_compatible(&MedNextConfig::small(3, 2, 3))?;
    Ok(())
}

fn small_config() -> MedNextConfig {
    MedNextConfig {
        in_channels: 3,
        n_channels: 8,
        n_classes: 2,
        exp_r: ExpRatio::Uniform(2),
        kernel_size: Some(3),
        deep_supervision: true,
        do_res: true,
        do_res_up_down: true,
        block_counts: vec![1; 9],
        ..MedNextConfig::default()
    }
}

fn fixture() -> anyhow::Result<NamedTensors> {
    Ok(mednext::read_weights(data("mednext_small_k3.safetensors"))?)
}

fn same(a: &NamedTensors, b: &NamedTensors) -> anyhow::Result<()> {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, t) in a {
        let d = (t - &b[k])?
            .abs()?
            .flatten_all()?
            .max(0)?
            .to_scalar::<f32>()?;
        assert_eq!(d, 0.0, "{k}");
    }
    Ok(())
}

#[test]
fn safetensors_round_trip_in_both_namings() -> anyhow::Result<()> {
    let cfg = small_config();
    let sd = fixture()?;
    assert_eq!(sd.len(), 165);
    let model = MedNext::from_named_tensors(&cfg, sd.clone(), KeyNaming::Original, &Device::Cpu)?;
    assert_eq!(model.parameter_count(), parameter_count(&cfg)?);
    let dir = tempfile::tempdir()?;

    let p = dir.path().join("orig.safetensors");
    model.save_safetensors(&p, KeyNaming::Original)?;
    let back = mednext::read_weights(&p)?;
    same(&sd, &back)?; // dummy_tensor included

    let p = dir.path().join("monai.safetensors");
    model.save_safetensors(&p, KeyNaming::Monai)?;
    let monai = mednext::read_weights(&p)?;
    assert_eq!(monai.len(), 164);
    assert!(monai.contains_key("out_blocks.3.conv_out.weight")); // out_1
    assert!(monai.contains_key("up_blocks.0.res_conv.weight")); // up_3
    assert!(!monai.contains_key("dummy_tensor"));
    assert_eq!(KeyNaming::detect(&monai), KeyNaming::Monai);
    let reloaded = MedNext::from_file(&cfg, &p, &Device::Cpu)?;
    same(&sd, &reloaded.state_dict()?)?;
    Ok(())
}

#[test]
fn monai_export_of_an_original_medium_is_refused() -> anyhow::Result<()> {
    // A small B-like network (exp_r of down_0 differs between the two implementations).
    let cfg = MedNextConfig {
        n_channels: 2,
        exp_r: ExpRatio::PerStage(vec![2, 3, 4, 4, 4, 4, 4, 3, 2]),
        ..small_config()
    };
    let (model, _vars) = mednext::new_trainable(&cfg, 0, &Device::Cpu)?;
    let dir = tempfile::tempdir()?;
    let err = model
        .save_safetensors(dir.path().join("m.safetensors"), KeyNaming::Monai)
        .unwrap_err();
    assert!(matches!(err, Error::MonaiIncompatible(_)), "{err}");
    assert!(err.to_string().contains("down_0"), "{err}");

    // MONAI-shaped weights (down_0 built with exp_r[0] = 2) into the original config: refused, explained.
    let mut monai = mednext::original_to_monai(
        &MedNextConfig {
            exp_r: ExpRatio::Uniform(2),
            ..cfg.clone()
        },
        &model.state_dict()?,
    )
    .map(|m| {
        m.into_iter()
            .filter(|(k, _)| !k.starts_with("down_blocks.0."))
            .collect::<NamedTensors>()
    })?;
    for (k, shape) in [
        ("down_blocks.0.conv1.weight", vec![2, 1, 3, 3, 3]),
        ("down_blocks.0.conv1.bias", vec![2]),
        ("down_blocks.0.norm.weight", vec![2]),
        ("down_blocks.0.norm.bias", vec![2]),
        ("down_blocks.0.conv2.weight", vec![4, 2, 1, 1, 1]),
        ("down_blocks.0.conv2.bias", vec![4]),
        ("down_blocks.0.conv3.weight", vec![4, 4, 1, 1, 1]),
        ("down_blocks.0.conv3.bias", vec![4]),
        ("down_blocks.0.res_conv.weight", vec![4, 2, 1, 1, 1]),
        ("down_blocks.0.res_conv.bias", vec![4]),
    ] {
        monai.insert(
            k.to_string(),
            Tensor::zeros(shape, DType::F32, &Device::Cpu)?,
        );
    }
    let err = MedNext::from_named_tensors(&cfg, monai, KeyNaming::Monai, &Device::Cpu).unwrap_err();
    assert!(matches!(err, Error::MonaiIncompatible(_)), "{err}");
    assert!(err.to_string().contains("down_0.conv2.weight"), "{err}");
    Ok(())
}

#[test]
fn missing_unexpected_and_misshaped_tensors_are_named() -> anyhow::Result<()> {
    let cfg = small_config();
    let dev = Device::Cpu;

    let mut sd = fixture()?;
    sd.remove("up_2.res_conv.weight");
    match MedNext::from_named_tensors(&cfg, sd, KeyNaming::Original, &dev) {
        Err(Error::MissingTensor { key, expected }) => {
            assert_eq!(key, "up_2.res_conv.weight");
            assert_eq!(expected, [64, 32, 1, 1, 1]);
        }
        other => panic!("expected MissingTensor, got {other:?}"),
    }

    let mut sd = fixture()?;
    sd.insert(
        "enc_block_0.7.conv1.weight".into(),
        Tensor::zeros((8, 1, 3, 3, 3), DType::F32, &dev)?,
    );
    match MedNext::from_named_tensors(&cfg, sd, KeyNaming::Original, &dev) {
        Err(Error::UnexpectedTensor { key, shape }) => {
            assert_eq!(key, "enc_block_0.7.conv1.weight");
            assert_eq!(shape, [8, 1, 3, 3, 3]);
        }
        other => panic!("expected UnexpectedTensor, got {other:?}"),
    }

    // k3 weights into a k5 configuration.
    let k5 = MedNextConfig {
        kernel_size: Some(5),
        ..cfg.clone()
    };
    match MedNext::from_named_tensors(&k5, fixture()?, KeyNaming::Original, &dev) {
        Err(e @ Error::ShapeMismatch { .. }) => {
            let Error::ShapeMismatch {
                key,
                expected,
                found,
            } = &e
            else {
                unreachable!()
            };
            assert_eq!(key, "enc_block_0.0.conv1.weight");
            assert_eq!(expected, &[8, 1, 5, 5, 5]);
            assert_eq!(found, &[8, 1, 3, 3, 3]);
            assert!(
                e.to_string().contains("[8, 1, 5, 5, 5]")
                    && e.to_string().contains("[8, 1, 3, 3, 3]")
            );
        }
        other => panic!("expected ShapeMismatch, got {other:?}"),
    }

    // dummy_tensor is optional.
    let mut sd = fixture()?;
    sd.remove("dummy_tensor");
    let model = MedNext::from_named_tensors(&cfg, sd, KeyNaming::Original, &dev)?;
    assert_eq!(model.state_dict()?["dummy_tensor"].to_vec1::<f32>()?, [1.0]);
    Ok(())
}

#[test]
fn config_json_round_trip_and_checks() -> anyhow::Result<()> {
    // The original constructor's keyword arguments (as in fixtures_meta.json).
    let json = r#"{"in_channels": 3, "n_channels": 8, "n_classes": 2, "exp_r": 2, "kernel_size": 3,
        "deep_supervision": true, "do_res": true, "do_res_up_down": true,
        "block_counts": [1,1,1,1,1,1,1,1,1], "checkpoint_style": null, "norm_type": "group",
        "dim": "3d", "grn": false}"#;
    let cfg: MedNextConfig = serde_json::from_str(json)?;
    assert_eq!(cfg, small_config());
    let m: MedNextConfig =
        serde_json::from_str(&serde_json::to_string(&MedNextConfig::medium(3, 2, 5))?)?;
    assert_eq!(m, MedNextConfig::medium(3, 2, 5));
    assert!(serde_json::to_string(&m)?.contains(r#""checkpoint_style":"outside_block""#));
    assert!(serde_json::to_string(&m)?.contains(r#""exp_r":[2,3,4,4,4,4,4,3,2]"#));

    let bad = |cfg: MedNextConfig, key: &str| match cfg.check() {
        Err(Error::InvalidParameter { key: k, .. }) => assert_eq!(k, key),
        other => panic!("{key}: expected InvalidParameter, got {other:?}"),
    };
    bad(
        MedNextConfig {
            exp_r: ExpRatio::PerStage(vec![2; 8]),
            ..small_config()
        },
        "exp_r",
    );
    bad(
        MedNextConfig {
            block_counts: vec![1; 4],
            ..small_config()
        },
        "block_counts",
    );
    bad(
        MedNextConfig {
            kernel_size: Some(4),
            ..small_config()
        },
        "kernel_size",
    );
    bad(
        MedNextConfig {
            kernel_size: None,
            ..small_config()
        },
        "enc_kernel_size",
    );
    bad(
        MedNextConfig {
            n_classes: 0,
            ..small_config()
        },
        "n_classes",
    );
    // kernel_size null with explicit encoder/decoder kernels is valid.
    let split = MedNextConfig {
        kernel_size: None,
        enc_kernel_size: Some(3),
        dec_kernel_size: Some(5),
        ..small_config()
    };
    split.check()?;
    let shapes = state_dict_shapes(&split)?;
    let shape_of = |k: &str| shapes.iter().find(|(n, _)| n == k).map(|(_, s)| s.clone());
    assert_eq!(shape_of("down_3.conv1.weight"), Some(vec![64, 1, 3, 3, 3]));
    assert_eq!(
        shape_of("bottleneck.0.conv1.weight"),
        Some(vec![128, 1, 5, 5, 5])
    );
    assert_eq!(shape_of("up_3.conv1.weight"), Some(vec![128, 1, 5, 5, 5]));
    // Unknown keys and 2-D networks are rejected when parsing.
    assert!(serde_json::from_str::<MedNextConfig>(
        r#"{"in_channels":1,"n_channels":8,"n_classes":2,"kernel":3}"#
    )
    .is_err());
    assert!(serde_json::from_str::<MedNextConfig>(
        r#"{"in_channels":1,"n_channels":8,"n_classes":2,"dim":"2d"}"#
    )
    .is_err());
    Ok(())
}

#[test]
fn grn_and_layer_norm_configurations_build() -> anyhow::Result<()> {
    let cfg = MedNextConfig {
        grn: true,
        n_channels: 2,
        ..small_config()
    };
    let shapes = state_dict_shapes(&cfg)?;
    let has = |k: &str| shapes.iter().any(|(n, _)| n == k);
    assert!(has("enc_block_0.0.grn_gamma") && has("down_1.grn_beta") && has("up_0.grn_gamma"));
    assert!(
        !has("down_0.grn_gamma"),
        "the original passes no grn to down_0"
    );
    let (model, _) = mednext::new_trainable(&cfg, 3, &Device::Cpu)?;
    let x = Tensor::ones((1, 3, 16, 16, 16), DType::F32, &Device::Cpu)?;
    assert_eq!(model.forward(&x)?.len(), 5);
    let ln = MedNextConfig {
        norm_type: mednext::NormType::Layer,
        n_channels: 2,
        ..small_config()
    };
    let (model, _) = mednext::new_trainable(&ln, 3, &Device::Cpu)?;
    assert_eq!(model.forward(&x)?[0].dims(), [1, 2, 16, 16, 16]);
    Ok(())
}
