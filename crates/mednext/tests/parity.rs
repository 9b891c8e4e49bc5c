/* Parity with the original PyTorch MedNeXt.

Reference: MIC-DKFZ/MedNeXt @ 0b78ed8 (`nnunet_mednext/network_architecture/mednextv1/`), PyTorch 2.15.0 CPU,
2 threads, float32; fixtures copied from `fixtures/mednext/` of the shared folder (see its README):

    MedNeXt(in_channels=3, n_channels=8, n_classes=2, exp_r=2, kernel_size=3 (k5: UpKern'd weights),
            deep_supervision=True, do_res=True, do_res_up_down=True, block_counts=[1]*9,
            checkpoint_style=None, norm_type='group', dim='3d', grn=False)
    torch.manual_seed(1234); GroupNorm affine perturbed (seed 99); input randn(1,3,32,32,32) (seed 0)
    outputs = model.eval()(input)   # [out_0 .. out_4]; output_f64.* = the same model in float64

Gates (fixtures README): |ours − output.i| ≤ 1e-4 + 1e-4·|output.i|, |ours − output_f64.i| ≤ 2e-5.
*/

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor};
use mednext::{Error, ExpRatio, MedNext, MedNextConfig};

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn small_config(kernel_size: usize) -> MedNextConfig {
    MedNextConfig {
        in_channels: 3,
        n_channels: 8,
        n_classes: 2,
        exp_r: ExpRatio::Uniform(2),
        kernel_size: Some(kernel_size),
        deep_supervision: true,
        do_res: true,
        do_res_up_down: true,
        block_counts: vec![1; 9],
        ..MedNextConfig::default()
    }
}

fn load_io(name: &str) -> anyhow::Result<HashMap<String, Tensor>> {
    Ok(candle_core::safetensors::load(data(name), &Device::Cpu)?)
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> anyhow::Result<f64> {
    let a = a.to_dtype(DType::F64)?;
    let b = b.to_dtype(DType::F64)?;
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f64>()?)
}

/// Runs the fixture model and checks all five outputs; returns the max differences (f32 ref, f64 ref).
fn check_parity(kernel: usize, weights: &str, io: &str) -> anyhow::Result<(f64, f64)> {
    let cfg = small_config(kernel);
    let model = MedNext::from_file(&cfg, data(weights), &Device::Cpu)?;
    let io = load_io(io)?;
    let outs = model.forward(&io["input"])?;
    assert_eq!(outs.len(), 5);
    let (mut worst32, mut worst64) = (0f64, 0f64);
    for (i, out) in outs.iter().enumerate() {
        let r32 = &io[&format!("output.{i}")];
        let r64 = &io[&format!("output_f64.{i}")];
        assert_eq!(out.dims(), r32.dims(), "output {i} shape");
        let d32 = max_abs_diff(out, r32)?;
        let d64 = max_abs_diff(out, r64)?;
        let scale = r32.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()? as f64;
        eprintln!("k{kernel} output.{i} {:?}: max|Δ| vs f32 {d32:.3e}, vs f64 {d64:.3e} (max|ref| {scale:.2})", out.dims());
        // Elementwise gate atol + rtol·|ref| is implied by the max-abs gate with atol alone.
        assert!(d32 <= 1e-4, "k{kernel} output.{i}: {d32} > 1e-4");
        assert!(
            d64 <= 2e-5,
            "k{kernel} output.{i}: {d64} > 2e-5 vs the f64 reference"
        );
        worst32 = worst32.max(d32);
        worst64 = worst64.max(d64);
    }
    Ok((worst32, worst64))
}

#[test]
fn small_k3_matches_pytorch() -> anyhow::Result<()> {
    let (d32, d64) = check_parity(
        3,
        "mednext_small_k3.safetensors",
        "mednext_small_k3_io.safetensors",
    )?;
    eprintln!("k3: worst {d32:.3e} (f32 ref), {d64:.3e} (f64 ref)");
    Ok(())
}

#[test]
fn small_k5_upkern_matches_pytorch() -> anyhow::Result<()> {
    let (d32, d64) = check_parity(
        5,
        "mednext_small_k5_upkern.safetensors",
        "mednext_small_k5_upkern_io.safetensors",
    )?;
    eprintln!("k5: worst {d32:.3e} (f32 ref), {d64:.3e} (f64 ref)");
    Ok(())
}

#[test]
fn forward_logits_equals_first_output_and_plain_config_returns_one_output() -> anyhow::Result<()> {
    let cfg = small_config(3);
    let model = MedNext::from_file(&cfg, data("mednext_small_k3.safetensors"), &Device::Cpu)?;
    let io = load_io("mednext_small_k3_io.safetensors")?;
    let logits = model.forward_logits(&io["input"])?;
    assert!(max_abs_diff(&logits, &io["output.0"])? <= 1e-4);
    // Without deep supervision the heads out_1..4 are not part of the network: the DS checkpoint has
    // unexpected keys, the strict loader says which.
    let plain = small_config(3).with_deep_supervision(false);
    match MedNext::from_file(&plain, data("mednext_small_k3.safetensors"), &Device::Cpu) {
        Err(Error::UnexpectedTensor { key, .. }) => assert!(key.starts_with("out_"), "{key}"),
        other => panic!("expected UnexpectedTensor, got {other:?}"),
    }
    let mut sd = model.state_dict()?;
    sd.retain(|k, _| !k.starts_with("out_") || k.starts_with("out_0"));
    let plain_model =
        MedNext::from_named_tensors(&plain, sd, mednext::KeyNaming::Original, &Device::Cpu)?;
    let outs = plain_model.forward(&io["input"])?;
    assert_eq!(outs.len(), 1);
    assert_eq!(max_abs_diff(&outs[0], &logits)?, 0.0);
    Ok(())
}

#[test]
fn batch_of_two_equals_two_single_runs() -> anyhow::Result<()> {
    let cfg = small_config(3);
    let model = MedNext::from_file(&cfg, data("mednext_small_k3.safetensors"), &Device::Cpu)?;
    let io = load_io("mednext_small_k3_io.safetensors")?;
    let x = &io["input"];
    let x2 = Tensor::cat(&[x, &x.flip(&[2])?], 0)?;
    let outs = model.forward(&x2)?;
    for (i, out) in outs.iter().enumerate() {
        assert!(max_abs_diff(&out.narrow(0, 0, 1)?, &io[&format!("output.{i}")])? <= 1e-4);
    }
    let second = model.forward(&x.flip(&[2])?)?;
    for (a, b) in outs.iter().zip(&second) {
        assert!(max_abs_diff(&a.narrow(0, 1, 1)?, b)? <= 1e-5);
    }
    Ok(())
}

#[test]
fn bad_inputs_are_typed_errors() -> anyhow::Result<()> {
    let cfg = small_config(3);
    let model = MedNext::from_file(&cfg, data("mednext_small_k3.safetensors"), &Device::Cpu)?;
    let cases: [(&[usize], &str); 4] = [
        (&[1, 3, 32, 32, 24], "multiple of 16"),
        (&[1, 3, 32, 8, 32], "multiple of 16"),
        (&[1, 2, 32, 32, 32], "input channels"),
        (&[3, 32, 32, 32], "5-D"),
    ];
    for (shape, needle) in cases {
        let x = Tensor::zeros(shape, DType::F32, &Device::Cpu)?;
        match model.forward(&x) {
            Err(e @ Error::InputShape { .. }) => assert!(e.to_string().contains(needle), "{e}"),
            other => panic!("{shape:?}: expected InputShape, got {other:?}"),
        }
    }
    Ok(())
}

/* Variants: tiny original-MedNeXt networks written as nnU-Net v1 `.model` checkpoints (DDP `module.`
prefix) by `tools/golden/make_mednext_variant_fixtures.py` (MIC-DKFZ/MedNeXt @ 0b78ed8, PyTorch 2.15 CPU,
1 thread, f32; every parameter perturbed by N(0, 0.1); input (1, in, 32, 16, 16)). They cover a per-stage
exp_r (down_s uses exp_r[s+1]), several blocks per stage, GRN, the channels-first LayerNorm, residuals off and
separate encoder/decoder kernels; `variants.json` holds the constructor arguments. PyTorch's own f32 vs f64
max differences on these inputs: layernorm_k5 9.4e-5 (output 0), perstage_grn 3.2e-5. */

#[test]
fn variants_match_pytorch() -> anyhow::Result<()> {
    let text = std::fs::read_to_string(data("variants.json"))?;
    let variants: std::collections::BTreeMap<String, MedNextConfig> = serde_json::from_str(&text)?;
    assert_eq!(variants.len(), 3);
    for (name, cfg) in &variants {
        let model = MedNext::from_file(cfg, data(&format!("variant_{name}.model")), &Device::Cpu)?;
        let io = load_io(&format!("variant_{name}_io.safetensors"))?;
        let outs = model.forward(&io["input"])?;
        let expected = if cfg.deep_supervision { 5 } else { 1 };
        assert_eq!(outs.len(), expected, "{name}");
        for (i, out) in outs.iter().enumerate() {
            let r = &io[&format!("output.{i}")];
            assert_eq!(out.dims(), r.dims(), "{name} output {i}");
            let d = max_abs_diff(out, r)?;
            // Elementwise gate |Δ| ≤ 1e-4 + 1e-4·|ref| (fixtures README): the LayerNorm variant normalises over
            // only 2 channels, so it is ill-conditioned (PyTorch's own f32 vs f64: 9.4e-5 on output 0).
            let excess = ((out - r)?.abs()? - (r.abs()? * 1e-4)?)?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            eprintln!("{name} output.{i} {:?}: max|Δ| {d:.3e}", out.dims());
            assert!(
                excess <= 1e-4,
                "{name} output.{i}: max|Δ| {d}, gate exceeded by {excess}"
            );
        }
    }
    Ok(())
}

/* Structure of the up block (reference/mednext.md §4, checked numerically there on the original): the
transposed depthwise conv gives 2D−1, the (1,0) pad prepends one zero plane per spatial axis, so before the skip
is added the plane at index 0 of every spatial axis is exactly 0 — with and without the residual conv. */
#[test]
fn up_block_output_has_zero_leading_planes() -> anyhow::Result<()> {
    use candle_nn::{VarBuilder, VarMap};
    use mednext::{BlockConfig, Resample};
    for residual in [false, true] {
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let cfg = BlockConfig {
            in_channels: 4,
            out_channels: 2,
            exp_r: 2,
            kernel_size: 3,
            residual,
            resample: Resample::Up,
            ..BlockConfig::default()
        };
        let up = mednext::up_block(cfg, vb)?;
        let x = Tensor::randn(0f32, 1.0, (1, 4, 3, 5, 4), &Device::Cpu)?;
        let y = candle_core::Module::forward(&up, &x)?;
        assert_eq!(y.dims(), [1, 2, 6, 10, 8]);
        for axis in 2..5 {
            let plane = y
                .narrow(axis, 0, 1)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert_eq!(plane, 0.0, "axis {axis}, residual {residual}");
            let next = y
                .narrow(axis, 1, 1)?
                .abs()?
                .flatten_all()?
                .max(0)?
                .to_scalar::<f32>()?;
            assert!(next > 0.0);
        }
    }
    Ok(())
}
