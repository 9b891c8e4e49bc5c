//! Segmentation inference (`mednext::infer`, feature `nnunet`) with tiny seeded MedNeXts.
//!
//! * On one tile-aligned volume (32³ = the patch) the sliding-window output equals the average computed by
//!   hand from `Predictor::predict_tile`: no TTA = one pass; mirroring TTA = the mean of the 8
//!   flip → net → flip-back passes (v2: logits; v1: softmax probabilities); a 2-model ensemble with different
//!   configurations = the mean of the two. The exported mask equals the hand-made argmax.
//! * `predict_case` on a 48×40×36 volume (spacing 1.5×0.7×0.7 mm → 1 mm plan, padding, a rotated affine) writes
//!   a binary mask with the input's shape and affine; probabilities sum to 1 and agree with the mask.
//! * Post-processing options take effect: breast-box masking zeroes outside the box, the largest component
//!   leaves one 26-connected component.
//! * Run-directory resolution: folds in order, final-else-best, optimiser entries dropped, errors name the file.
//!
//! References: nnU-Net v2.8.1 `nnunetv2/inference/predict_from_raw_data.py`
//! (`_internal_maybe_mirror_and_predict`, per-fold logits averaged), nnU-Net v1 `neural_network.py`
//! (`_internal_maybe_mirror_and_pred_3D`: softmax averaged). No golden file: the expected values are built
//! from the same networks by hand.

#![cfg(feature = "nnunet")]

use std::path::Path;

use candle_core::Device;
use mednext::infer::{
    self, predict_case, predict_preprocessed, CheckpointChoice, EnsemblePredictor, InferenceConfig,
    Predictor, Probabilities, Tta,
};
use mednext::{ExpRatio, KeyNaming, MedNext, MedNextConfig};
use ndarray::{Array3, Array4, ArrayView4, Axis};
use nnunet_preproc::{
    case_fingerprint, dataset_fingerprint_for, keep_largest_component_mut, label_components,
    load_case, preprocess_case, read_label_map, write_volume, BreastBox, BreastBoxMasking, Case,
    CaseFiles, Connectivity, Flavour, Geometry, Plans, PlansParams, PostprocessConfig,
    SegmentationRequirement, TargetSpacing,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn tiny(kernel: usize, n_channels: usize) -> MedNextConfig {
    MedNextConfig {
        in_channels: 2,
        n_channels,
        n_classes: 2,
        exp_r: ExpRatio::Uniform(2),
        kernel_size: Some(kernel),
        do_res: true,
        do_res_up_down: true,
        block_counts: vec![1; 9],
        ..MedNextConfig::default()
    }
}

fn model(cfg: &MedNextConfig, seed: u64) -> MedNext {
    mednext::new_trainable(cfg, seed, &Device::Cpu).unwrap().0
}

/// Two channels: noise plus a bright ball (different contrast per channel), all voxels nonzero.
fn image(shape: (usize, usize, usize), seed: u64) -> Array4<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let c = [
        shape.0 as f32 / 2.0,
        shape.1 as f32 / 3.0,
        shape.2 as f32 / 2.0,
    ];
    Array4::from_shape_fn((2, shape.0, shape.1, shape.2), |(ch, z, y, x)| {
        let r2 = (z as f32 - c[0]).powi(2) + (y as f32 - c[1]).powi(2) + (x as f32 - c[2]).powi(2);
        let ball = if r2 < 64.0 {
            50.0 * (ch + 1) as f32
        } else {
            0.0
        };
        100.0 + ball + 20.0 * rng.gen_range(-1.0f32..1.0)
    })
}

fn plans_for(case: &Case, spacing: [f64; 3], patch: [usize; 3], flavour: Flavour) -> Plans {
    let fp = case_fingerprint(case.data.view(), None, case.geometry.spacing).unwrap();
    let params = PlansParams::new()
        .flavour(flavour)
        .target_spacing(TargetSpacing::Fixed(spacing))
        .patch_size(patch);
    Plans::from_fingerprint(
        &dataset_fingerprint_for(&[fp], flavour).unwrap(),
        &["pre", "post1"],
        &params,
    )
    .unwrap()
}

/// Writes the channels as NIfTI files and loads them back as a case.
fn write_case(dir: &Path, id: &str, data: &Array4<f32>, geometry: &Geometry) -> Case {
    let mut channels = Vec::new();
    for (c, ch) in data.axis_iter(Axis(0)).enumerate() {
        let p = dir.join(format!("{id}_{c:04}.nii.gz"));
        write_volume(&p, ch, geometry).unwrap();
        channels.push(p);
    }
    let files = CaseFiles {
        id: id.into(),
        channels,
        segmentation: None,
    };
    load_case(&files, SegmentationRequirement::Ignore).unwrap()
}

/// `flip` over the spatial axes in `axes` (1, 2, 3 of a `(C, z, y, x)` array).
fn flip(x: ArrayView4<f32>, axes: &[usize]) -> Array4<f32> {
    let mut v = x.to_owned();
    for &a in axes {
        v.invert_axis(Axis(a + 1));
    }
    v.as_standard_layout().into_owned()
}

fn softmax(x: &Array4<f32>) -> Array4<f32> {
    let mut out = x.clone();
    for mut lane in out.lanes_mut(Axis(0)) {
        let m = lane.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        lane.mapv_inplace(|v| (v - m).exp());
        let s = lane.sum();
        lane.mapv_inplace(|v| v / s);
    }
    out
}

/// The TTA average by hand: mean over the 8 flip combinations of flip(net(flip(x))) (or of its softmax).
fn by_hand(p: &Predictor, x: ArrayView4<f32>, tta: Tta, flavour: Flavour) -> Array4<f32> {
    let combos: Vec<Vec<usize>> = match tta {
        Tta::Off => vec![vec![]],
        Tta::Mirror => vec![
            vec![],
            vec![0],
            vec![1],
            vec![2],
            vec![0, 1],
            vec![0, 2],
            vec![1, 2],
            vec![0, 1, 2],
        ],
    };
    let mut sum: Option<Array4<f32>> = None;
    for axes in &combos {
        let out = p.predict_tile(flip(x, axes).view()).unwrap();
        let mut back = flip(out.view(), axes);
        if flavour == Flavour::V1 {
            back = softmax(&back);
        }
        sum = Some(match sum {
            None => back,
            Some(s) => s + back,
        });
    }
    sum.unwrap() / combos.len() as f32
}

fn max_abs_diff(a: &Array4<f32>, b: &Array4<f32>) -> f32 {
    assert_eq!(a.shape(), b.shape());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// The tile-aligned case: 32³ at 1 mm, plan 1 mm, patch 32³ (one tile, no resampling, no crop).
fn aligned_case(dir: &Path, flavour: Flavour) -> (Case, Plans) {
    let case = write_case(
        dir,
        "ALIGNED",
        &image((32, 32, 32), 7),
        &Geometry::from_spacing([1.0; 3]),
    );
    let plans = plans_for(&case, [1.0; 3], [32; 3], flavour);
    (case, plans)
}

#[test]
fn tta_and_ensemble_equal_the_average_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    for flavour in [Flavour::V2, Flavour::V1] {
        let (case, plans) = aligned_case(dir.path(), flavour);
        let pre = preprocess_case(case.data.view(), None, &case.geometry, &plans).unwrap();
        assert_eq!(pre.data.shape(), &[2, 32, 32, 32]);
        let a = Predictor::new(model(&tiny(3, 4), 1), Device::Cpu);
        let b = Predictor::new(model(&tiny(5, 2), 2), Device::Cpu); // another configuration
        for tta in [Tta::Off, Tta::Mirror] {
            let cfg = InferenceConfig {
                tta,
                ..InferenceConfig::default()
            };
            let x = pre.data.view();
            let ha = by_hand(&a, x, tta, flavour);
            let hb = by_hand(&b, x, tta, flavour);
            let single = EnsemblePredictor::new(vec![a.clone()]).unwrap();
            let got = predict_preprocessed(&single, &plans, x, &cfg).unwrap();
            let d1 = max_abs_diff(&got, &ha);
            let pair = EnsemblePredictor::new(vec![a.clone(), b.clone()]).unwrap();
            let got2 = predict_preprocessed(&pair, &plans, x, &cfg).unwrap();
            let hand2 = (&ha + &hb) / 2.0;
            let d2 = max_abs_diff(&got2, &hand2);
            eprintln!("{flavour:?} {tta:?}: single max |diff| {d1:.2e}, ensemble {d2:.2e}");
            assert!(d1 < 2e-5, "{flavour:?} {tta:?} single: {d1}");
            assert!(d2 < 2e-5, "{flavour:?} {tta:?} ensemble: {d2}");
            // TTA changes the numbers (the networks are not flip-equivariant).
            if tta == Tta::Mirror {
                let plain = by_hand(&a, x, Tta::Off, flavour);
                assert!(max_abs_diff(&plain, &ha) > 1e-4);
            }

            // The exported mask is the argmax of the hand-made average (no resampling on this grid).
            let pred = predict_case(&pair, &plans, &case, None, &cfg).unwrap();
            let mut checked = 0;
            for ((z, y, xx), &m) in pred.mask.indexed_iter() {
                let (l0, l1) = (hand2[[0, z, y, xx]], hand2[[1, z, y, xx]]);
                if (l1 - l0).abs() > 1e-4 {
                    assert_eq!(m, u8::from(l1 > l0), "voxel {z},{y},{xx}");
                    checked += 1;
                }
            }
            let fg = pred.mask.iter().filter(|&&m| m == 1).count();
            eprintln!("  mask: {fg} foreground voxels, {checked} compared");
            assert!(checked > 30_000);
        }
    }
}

fn rotated_geometry() -> Geometry {
    // x and y axes swapped and flipped, z along S, with an offset: spacing [1.5, 0.7, 0.7].
    Geometry {
        spacing: [1.5, 0.7, 0.7],
        affine: [
            [0.0, -0.7, 0.0, 40.0],
            [-0.7, 0.0, 0.0, 25.5],
            [0.0, 0.0, 1.5, -60.25],
            [0.0, 0.0, 0.0, 1.0],
        ],
    }
}

#[test]
fn predict_case_keeps_the_original_grid_and_writes_a_binary_mask() {
    let dir = tempfile::tempdir().unwrap();
    let geometry = rotated_geometry();
    let case = write_case(dir.path(), "GRID", &image((48, 40, 36), 3), &geometry);
    for flavour in [Flavour::V2, Flavour::V1] {
        let plans = plans_for(&case, [1.0; 3], [32; 3], flavour);
        let ens = EnsemblePredictor::new(vec![
            Predictor::new(model(&tiny(3, 4), 11), Device::Cpu),
            Predictor::new(model(&tiny(3, 4), 12), Device::Cpu),
        ])
        .unwrap();
        let cfg = InferenceConfig {
            tta: Tta::Mirror,
            probabilities: Probabilities::Keep,
            ..InferenceConfig::default()
        };
        let pred = predict_case(&ens, &plans, &case, None, &cfg).unwrap();
        assert_eq!(pred.mask.shape(), &[48, 40, 36]);
        assert!(pred.mask.iter().all(|&m| m <= 1));
        let fg = pred.mask.iter().filter(|&&m| m == 1).count();
        assert!(fg > 0 && fg < pred.mask.len(), "{flavour:?}: {fg}");
        let probs = pred.probabilities.as_ref().unwrap();
        assert_eq!(probs.shape(), &[2, 48, 40, 36]);
        let mut disagree = 0;
        for ((z, y, x), &m) in pred.mask.indexed_iter() {
            let (p0, p1) = (probs[[0, z, y, x]], probs[[1, z, y, x]]);
            assert!((p0 + p1 - 1.0).abs() < 1e-5);
            if (p1 - p0).abs() > 1e-4 && m != u8::from(p1 > p0) {
                disagree += 1;
            }
        }
        assert_eq!(disagree, 0, "{flavour:?}");

        let out = dir.path().join(format!("out_{flavour:?}"));
        let path = infer::write_case_prediction(&out, "GRID", &pred).unwrap();
        assert_eq!(path, out.join("pred_segmentations/GRID.nii.gz"));
        let (back, g) = read_label_map(&path).unwrap();
        assert_eq!(back.shape(), &[48, 40, 36]);
        assert_eq!(back.mapv(|v| v as u8), pred.mask);
        for (r, e) in g
            .affine
            .iter()
            .flatten()
            .zip(geometry.affine.iter().flatten())
        {
            assert!(
                (r - e).abs() < 1e-5,
                "{:?} vs {:?}",
                g.affine,
                geometry.affine
            );
        }
        assert!(infer::probability_path(&out, "GRID", 1).is_file());
    }
}

/// The same network with the two output classes swapped (`out_0` class channels exchanged): its foreground is the
/// former background, which is split into several components on this case.
fn swapped_classes(m: &MedNext) -> MedNext {
    let mut sd = m.state_dict().unwrap();
    let idx = candle_core::Tensor::new(&[1u32, 0], &Device::Cpu).unwrap();
    // conv_out is a transposed 1×1×1 convolution: weight (C, K, 1, 1, 1), bias (K).
    for (key, dim) in [("out_0.conv_out.weight", 1), ("out_0.conv_out.bias", 0)] {
        let t = sd[key].index_select(&idx, dim).unwrap();
        sd.insert(key.to_string(), t);
    }
    MedNext::from_named_tensors(m.config(), sd, KeyNaming::Original, &Device::Cpu).unwrap()
}

#[test]
fn postprocessing_options_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let case = write_case(
        dir.path(),
        "POST",
        &image((48, 40, 36), 5),
        &rotated_geometry(),
    );
    let plans = plans_for(&case, [1.0; 3], [32; 3], Flavour::V2);
    let ens = EnsemblePredictor::single(swapped_classes(&model(&tiny(3, 4), 21)), Device::Cpu);
    let none = InferenceConfig::default();
    let raw = predict_case(&ens, &plans, &case, None, &none).unwrap().mask;
    let (_, sizes) = label_components(raw.mapv(|v| v == 1).view(), Connectivity::Full);
    eprintln!(
        "raw: {} components, sizes {:?}",
        sizes.len(),
        &sizes[..sizes.len().min(8)]
    );
    assert!(
        sizes.len() >= 2,
        "the raw mask must have several components"
    );

    // Breast box: everything outside is zeroed, the inside unchanged.
    let bb = BreastBox {
        axis0: [10, 40],
        axis1: [5, 30],
        axis2: [0, 20],
    };
    let boxed = predict_case(&ens, &plans, &case, Some(&bb), &none)
        .unwrap()
        .mask;
    let mut outside_ones = 0;
    for ((z, y, x), &m) in boxed.indexed_iter() {
        if bb.contains([z, y, x]) {
            assert_eq!(m, raw[[z, y, x]]);
        } else {
            assert_eq!(m, 0);
            outside_ones += usize::from(raw[[z, y, x]] == 1);
        }
    }
    assert!(outside_ones > 0, "the box must remove something");
    // Skip: the box is ignored.
    let skip = InferenceConfig {
        postprocess: PostprocessConfig {
            breast_box: BreastBoxMasking::Skip,
            largest_component: None,
        },
        ..none
    };
    assert_eq!(
        predict_case(&ens, &plans, &case, Some(&bb), &skip)
            .unwrap()
            .mask,
        raw
    );

    // Largest component (26-connected).
    let lcc = InferenceConfig {
        postprocess: PostprocessConfig {
            breast_box: BreastBoxMasking::Apply,
            largest_component: Some(Connectivity::Full),
        },
        ..none
    };
    let kept = predict_case(&ens, &plans, &case, None, &lcc).unwrap().mask;
    let mut expected: Array3<u8> = raw.clone();
    keep_largest_component_mut(expected.view_mut(), 0, Connectivity::Full);
    assert_eq!(kept, expected);
    let (_, kept_sizes) = label_components(kept.mapv(|v| v == 1).view(), Connectivity::Full);
    assert_eq!(kept_sizes.len(), 1);
    assert_eq!(kept_sizes[0], *sizes.iter().max().unwrap());
}

#[test]
fn run_directories_resolve_and_load() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    let cfg = tiny(3, 4).with_deep_supervision(true);
    std::fs::create_dir_all(run.join("fold_0")).unwrap();
    std::fs::create_dir_all(run.join("fold_1")).unwrap();
    std::fs::create_dir_all(run.join("fold_10")).unwrap();
    let cfg_json = serde_json::json!({"model": cfg, "trainer": {"epochs": 1}});
    std::fs::write(run.join("config.json"), cfg_json.to_string()).unwrap();
    let m0 = model(&cfg, 1);
    let m1 = model(&cfg, 2);
    m0.save_safetensors(
        run.join("fold_0/checkpoint_best.safetensors"),
        KeyNaming::Original,
    )
    .unwrap();
    m1.save_safetensors(
        run.join("fold_0/checkpoint_final.safetensors"),
        KeyNaming::Original,
    )
    .unwrap();
    // fold_1 has only a "best" checkpoint, with optimiser state in it.
    let mut sd = m0.state_dict().unwrap();
    sd.insert(
        "optimizer.state.0.exp_avg".into(),
        candle_core::Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap(),
    );
    upkern::write_safetensors(run.join("fold_1/checkpoint_best.safetensors"), &sd).unwrap();
    m1.save_safetensors(
        run.join("fold_10/checkpoint_final.safetensors"),
        KeyNaming::Original,
    )
    .unwrap();

    let specs = infer::resolve_models(&run, CheckpointChoice::default(), None).unwrap();
    let names: Vec<_> = specs
        .iter()
        .map(|s| s.weights.strip_prefix(&run).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "fold_0/checkpoint_final.safetensors",
            "fold_1/checkpoint_best.safetensors",
            "fold_10/checkpoint_final.safetensors"
        ]
    );
    assert_eq!(specs[0].config, cfg);
    // A single fold, and the weights actually loaded (fold_1 = m0 despite the optimiser entry).
    let one = infer::resolve_models(run.join("fold_1"), CheckpointChoice::default(), None).unwrap();
    assert_eq!(one.len(), 1);
    let loaded = infer::load_model(&one[0], &Device::Cpu).unwrap();
    let x = candle_core::Tensor::randn(0f32, 1.0, (1, 2, 16, 16, 16), &Device::Cpu).unwrap();
    let d = (loaded.forward_logits(&x).unwrap() - m0.forward_logits(&x).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(d, 0.0);
    // Deep-supervision heads are optional: a config without them still loads the file.
    let bare = run.join("fold_0/checkpoint_final.safetensors");
    let plain = tiny(3, 4);
    let spec = &infer::resolve_models(&bare, CheckpointChoice::default(), Some(&plain)).unwrap()[0];
    assert!(infer::load_model(spec, &Device::Cpu).is_ok());

    // Errors name the file.
    let err = infer::resolve_models(run.join("fold_1"), CheckpointChoice::Final, None).unwrap_err();
    assert!(err.to_string().contains("fold_1/checkpoint_final"), "{err}");
    let wrong = infer::ModelSpec {
        config: tiny(5, 4),
        ..spec.clone()
    };
    let err = infer::load_model(&wrong, &Device::Cpu).unwrap_err();
    assert!(
        err.to_string().contains("checkpoint_final.safetensors"),
        "{err}"
    );
    let lonely = dir.path().join("w.safetensors");
    m0.save_safetensors(&lonely, KeyNaming::Original).unwrap();
    let err = infer::resolve_models(&lonely, CheckpointChoice::default(), None).unwrap_err();
    assert!(err.to_string().contains("w.safetensors"), "{err}");
}

#[test]
fn a_bare_training_checkpoint_carries_its_configuration() {
    use mednext::train::checkpoint_io::{write_checkpoint, TrainingState, FORMAT_VERSION};
    use mednext::train::{CheckpointKind, TrainerConfig};
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny(3, 4).with_deep_supervision(true);
    let m = model(&cfg, 5);
    let state = TrainingState {
        format_version: FORMAT_VERSION,
        kind: CheckpointKind::Final,
        fold: None,
        epochs_done: 1,
        next_batch: 0,
        next_val_batch: 0,
        learning_rate: 0.0,
        ema_dice: None,
        best_ema: None,
        steps: 0,
        seed: 0,
        history: vec![],
        trainer: TrainerConfig::default(),
        model: cfg.clone(),
    };
    let opt = vec![(
        "exp_avg.0".to_string(),
        candle_core::Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap(),
    )];
    let path = dir.path().join("trained.safetensors");
    write_checkpoint(&path, &m.state_dict().unwrap(), &opt, &state).unwrap();
    let specs = infer::resolve_models(&path, CheckpointChoice::default(), None).unwrap();
    assert_eq!(specs[0].config, cfg);
    let loaded = infer::load_model(&specs[0], &Device::Cpu).unwrap();
    let x = candle_core::Tensor::randn(0f32, 1.0, (1, 2, 16, 16, 16), &Device::Cpu).unwrap();
    let d = (loaded.forward_logits(&x).unwrap() - m.forward_logits(&x).unwrap())
        .unwrap()
        .abs()
        .unwrap()
        .max_all()
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    assert_eq!(d, 0.0);
}
