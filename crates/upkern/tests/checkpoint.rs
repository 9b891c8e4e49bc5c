/* Reference: checkpoints written by `torch.save` (PyTorch 2.15.0) in
tools/golden/make_upkern_fixtures.py::checkpoints():

    sd = OrderedDict(dummy_tensor, stem.weight (4,3,1,1,1), stem.bias, enc_block_0.0.conv1.weight (4,1,3,3,3),
                     enc_block_0.0.conv1.bias, enc_block_0.0.norm.weight, bn.num_batches_tracked (int64 scalar),
                     head.weight_f64 (2,3) float64)
    torch.save(sd, "plain.pth")
    torch.save({"epoch": 3, "state_dict": sd, "optimizer_state_dict": ..., "plans": {...}}, "v1.model")
    torch.save({"network_weights": {"_orig_mod." + k: v}, "init_args": {..., torch.device}, ...}, "v2.pth")
    torch.save({"module." + k: v}, "ddp.pth")
    safetensors.torch.save_file(sd, "expected.safetensors")

Fixtures: crates/upkern/tests/data/ckpt/ (regenerate with the script). */

use std::path::PathBuf;

use candle_core::{DType, Tensor};
use upkern::{
    read_checkpoint, read_checkpoint_with_format, write_safetensors, CheckpointFormat, Error,
    NamedTensors,
};

fn ckpt(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/ckpt")
        .join(name)
}

/// Bit-exact equality of two tensors (dtype, shape and every value).
fn assert_same(a: &Tensor, b: &Tensor, key: &str) {
    assert_eq!(a.dtype(), b.dtype(), "{key}: dtype");
    assert_eq!(a.dims(), b.dims(), "{key}: shape");
    let (a, b) = (a.flatten_all().unwrap(), b.flatten_all().unwrap());
    match a.dtype() {
        DType::I64 => assert_eq!(
            a.to_vec1::<i64>().unwrap(),
            b.to_vec1::<i64>().unwrap(),
            "{key}"
        ),
        DType::F64 => assert_eq!(
            a.to_vec1::<f64>().unwrap(),
            b.to_vec1::<f64>().unwrap(),
            "{key}"
        ),
        _ => {
            let (a, b) = (a.to_vec1::<f32>().unwrap(), b.to_vec1::<f32>().unwrap());
            assert!(
                a.iter().zip(&b).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{key}"
            );
        }
    }
}

fn assert_same_dict(a: &NamedTensors, b: &NamedTensors) {
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (k, t) in a {
        assert_same(t, &b[k], k);
    }
}

#[test]
fn every_layout_decodes_to_the_reference_tensors() -> anyhow::Result<()> {
    let (expected, format) = read_checkpoint_with_format(ckpt("expected.safetensors"))?;
    assert_eq!(format, CheckpointFormat::Safetensors);
    assert_eq!(expected.len(), 8);
    assert_eq!(expected["bn.num_batches_tracked"].to_vec0::<i64>()?, 7);
    assert_eq!(expected["head.weight_f64"].dtype(), DType::F64);
    for (file, want) in [
        ("plain.pth", CheckpointFormat::StateDict),
        ("v1.model", CheckpointFormat::NnUnetV1),
        ("v2.pth", CheckpointFormat::NnUnetV2),
        ("ddp.pth", CheckpointFormat::StateDict),
    ] {
        let (tensors, format) = read_checkpoint_with_format(ckpt(file))?;
        assert_eq!(format, want, "{file}");
        assert_same_dict(&tensors, &expected);
    }
    Ok(())
}

#[test]
fn safetensors_round_trip_is_bit_exact_and_atomic() -> anyhow::Result<()> {
    let tensors = read_checkpoint(ckpt("v1.model"))?;
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("w.safetensors");
    write_safetensors(&out, &tensors)?;
    assert_same_dict(&read_checkpoint(&out)?, &tensors);
    // Only the destination remains (the temporary sibling was renamed into place).
    let names: Vec<_> = std::fs::read_dir(dir.path())?
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, [std::ffi::OsString::from("w.safetensors")]);
    // Non-contiguous input is written in logical (C) order.
    let mut t = NamedTensors::new();
    let m = Tensor::arange(0f32, 6.0, &candle_core::Device::Cpu)?.reshape((2, 3))?;
    t.insert("m_t".into(), m.t()?);
    write_safetensors(&out, &t)?;
    let back = read_checkpoint(&out)?;
    assert_eq!(
        back["m_t"].to_vec2::<f32>()?,
        [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    );
    Ok(())
}

#[test]
fn failures_are_typed_errors() {
    let err = read_checkpoint(ckpt("not_a_checkpoint.txt")).unwrap_err();
    assert!(matches!(err, Error::NotACheckpoint { .. }), "{err}");
    let err = read_checkpoint(ckpt("truncated.pth")).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let err = read_checkpoint(ckpt("legacy.pth")).unwrap_err();
    assert!(matches!(err, Error::LegacyTorchFormat { .. }), "{err}");
    let err = read_checkpoint(ckpt("missing.pth")).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    match read_checkpoint(ckpt("nested_only.pth")).unwrap_err() {
        Error::NoTensors {
            path,
            tried,
            top_level_keys,
        } => {
            assert!(path.ends_with("nested_only.pth"));
            assert_eq!(tried, ["<top level>", "state_dict", "network_weights"]);
            assert_eq!(top_level_keys, ["epoch", "model"]);
        }
        other => panic!("unexpected {other}"),
    }
}

#[test]
fn truncated_safetensors_and_empty_files_are_typed_errors() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = std::fs::read(ckpt("expected.safetensors"))?;
    let cut = dir.path().join("cut.safetensors");
    std::fs::write(&cut, &data[..data.len() - 10])?;
    let err = read_checkpoint(&cut).unwrap_err();
    assert!(matches!(err, Error::Corrupt { .. }), "{err}");
    let empty = dir.path().join("empty.pth");
    std::fs::write(&empty, b"")?;
    let err = read_checkpoint(&empty).unwrap_err();
    assert!(matches!(err, Error::NotACheckpoint { .. }), "{err}");
    let none = dir.path().join("none.safetensors");
    write_safetensors(&none, &NamedTensors::new())?;
    let err = read_checkpoint(&none).unwrap_err();
    assert!(matches!(err, Error::NoTensors { .. }), "{err}");
    Ok(())
}

#[test]
fn colliding_keys_after_prefix_stripping_are_an_error() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let dev = candle_core::Device::Cpu;
    let mut t = NamedTensors::new();
    t.insert("module.w".into(), Tensor::zeros(2, DType::F32, &dev)?);
    t.insert("w".into(), Tensor::ones(2, DType::F32, &dev)?);
    let p = dir.path().join("dup.safetensors");
    write_safetensors(&p, &t)?;
    let err = read_checkpoint(&p).unwrap_err();
    assert!(
        matches!(err, Error::DuplicateKey { ref key, .. } if key == "w"),
        "{err}"
    );
    Ok(())
}
