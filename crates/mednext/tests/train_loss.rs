/* Losses and deep supervision of `mednext::train` against the reference implementations.

Golden values: `tools/golden/make_train_fixtures.py` (PyTorch CPU, float32) writes
`tests/data/train/ds_{k2,k3}.safetensors` and `golden.json`:

    loss = nnUNetTrainer._build_loss(stub)          # nnU-Net v2.8.1: DeepSupervisionWrapper(DC_and_CE_loss(
                                                    #   {batch_dice, smooth 1e-5, do_bg False}, {}, 1, 1,
                                                    #   MemoryEfficientSoftDiceLoss), [0.5333, .., 0])
    total = loss([out_0, .., out_4], [target_0, .., target_4]); total.backward()   # grads wrt every out_i
    FocalLoss(to_onehot_y=True, use_softmax=True, gamma, alpha)(out_0, target_0)    # MONAI
    FocalLoss(.., 2, 0.75)(x, y) + 0.75 * DC_and_CE_loss({.., smooth 1e-4, ..})(x, y)  # seed focal trainer
    nnUNetTrainerV2.initialize(training=False).ds_loss_weights (stub plans, 5 and 6 pool ops)  # nnU-Net v1

Cases: B = 2, K = 2 and K = 3 (class 2 absent from sample 0), outputs (8, 12, 16) ... (1, 1, 1), targets
as float label maps (B, 1, ...). Tolerances: losses 1e-6 relative, gradients 1e-6 absolute and 1e-5 relative to the largest gradient.
*/

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::{DType, Device, Tensor, Var};
use mednext::train::{
    cross_entropy, deep_supervision_loss, deep_supervision_weights, deep_supervision_weights_v2,
    focal, soft_dice, DiceCeConfig, FocalConfig, SegLoss,
};
use serde_json::Value;

const LOSS_TOL: f64 = 1e-6;
const GRAD_TOL: f32 = 1e-6;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/train")
}

fn golden() -> Value {
    let text = std::fs::read_to_string(data_dir().join("golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load(case: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(
        data_dir().join(format!("ds_{case}.safetensors")),
        &Device::Cpu,
    )
    .unwrap()
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap()
}

fn scalar(t: &Tensor) -> f64 {
    f64::from(t.to_scalar::<f32>().unwrap())
}

fn assert_rel(ours: f64, reference: f64, what: &str) -> f64 {
    let d = (ours - reference).abs() / reference.abs().max(1e-12);
    assert!(
        d <= LOSS_TOL,
        "{what}: ours {ours} vs reference {reference} (relative {d:.2e})"
    );
    d
}

fn max_abs(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap()
}

/// `max |a − b|` asserted ≤ 1e-6, returned relative to `max |b|` (also asserted ≤ 1e-5).
fn check_grad(ours: &Tensor, reference: &Tensor, what: &str) -> f32 {
    let d = max_abs(ours, reference);
    let scale = max_abs(&reference.zeros_like().unwrap(), reference).max(f32::MIN_POSITIVE);
    assert!(
        d <= GRAD_TOL && d / scale <= 1e-5,
        "{what}: gradient differs by {d:.2e} (relative {:.2e})",
        d / scale
    );
    d / scale
}

/// Outputs as variables (for gradients) and targets of one case.
fn outputs(t: &HashMap<String, Tensor>) -> (Vec<Var>, Vec<Tensor>) {
    let outs = (0..5)
        .map(|i| Var::from_tensor(&t[&format!("out_{i}")]).unwrap())
        .collect();
    let targets = (0..5).map(|i| t[&format!("target_{i}")].clone()).collect();
    (outs, targets)
}

#[test]
fn deep_supervision_weights_match_nnunet_v1_and_v2() {
    let g = golden();
    for numpool in [5usize, 6] {
        let reference: Vec<f64> = g["ds_weights_v1"][numpool.to_string()]
            .as_array()
            .unwrap()
            .iter()
            .map(f)
            .collect();
        let ours = deep_supervision_weights(numpool, numpool);
        for (a, b) in ours.iter().zip(&reference) {
            assert!(
                (a - b).abs() < 1e-15,
                "{numpool} pool ops: {ours:?} vs {reference:?}"
            );
        }
        // MedNeXt has 5 outputs whatever the plan: the first five weights.
        assert_eq!(
            deep_supervision_weights(5, numpool),
            reference[..5].to_vec()
        );
    }
    let v2: Vec<f64> = g["ds_k2"]["weights"]
        .as_array()
        .unwrap()
        .iter()
        .map(f)
        .collect();
    assert_eq!(deep_supervision_weights_v2(5), v2);
    assert_eq!(deep_supervision_weights(1, 0), vec![1.0]);
    assert_eq!(deep_supervision_weights(3, 1), vec![1.0, 0.0, 0.0]);
}

#[test]
fn dice_ce_deep_supervision_matches_nnunet() {
    let g = golden();
    let mut worst = (0f64, 0f32);
    for case in ["k2", "k3"] {
        let t = load(case);
        let (outs, targets) = outputs(&t);
        let weights = deep_supervision_weights_v2(5);
        for (tag, batch_dice) in [("batch", true), ("sample", false)] {
            let r = &g[format!("ds_{case}")][format!("dice_ce_{tag}")];
            let cfg = DiceCeConfig {
                batch_dice,
                ..DiceCeConfig::default()
            };
            let loss = SegLoss::DiceCe(cfg);
            let xs: Vec<Tensor> = outs.iter().map(|v| v.as_tensor().clone()).collect();
            let total = deep_supervision_loss(&loss, &xs, &targets, &weights).unwrap();
            let what = format!("{case}/{tag}");
            worst.0 = worst
                .0
                .max(assert_rel(scalar(&total), f(&r["ds_loss"]), &what));
            for (i, rv) in r["per_output"].as_array().unwrap().iter().enumerate() {
                let v = scalar(&loss.loss(&xs[i], &targets[i]).unwrap());
                worst.0 = worst
                    .0
                    .max(assert_rel(v, f(rv), &format!("{what} out_{i}")));
            }
            let ce = scalar(&cross_entropy(&xs[0], &targets[0]).unwrap());
            worst.0 = worst
                .0
                .max(assert_rel(ce, f(&r["ce_out0"]), &format!("{what} CE")));
            let dc = scalar(&soft_dice(&xs[0], &targets[0], &cfg).unwrap());
            worst.0 = worst
                .0
                .max(assert_rel(dc, f(&r["dice_out0"]), &format!("{what} Dice")));

            let grads = total.backward().unwrap();
            for (i, v) in outs.iter().enumerate() {
                let reference = &t[&format!("grad_dice_ce_{tag}_{i}")];
                let d = match grads.get(v.as_tensor()) {
                    Some(gr) => check_grad(gr, reference, &format!("{what} out_{i}")),
                    // zero-weight outputs are skipped: no gradient, and the reference's is zero
                    None => max_abs(&reference.zeros_like().unwrap(), reference),
                };
                assert!(d == 0.0 || grads.get(v.as_tensor()).is_some());
                worst.1 = worst.1.max(d);
            }
        }
    }
    eprintln!(
        "Dice+CE / DS: max relative loss difference {:.2e}, max relative gradient difference {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn focal_matches_monai() {
    let g = golden();
    let mut worst = (0f64, 0f32);
    for case in ["k2", "k3"] {
        let t = load(case);
        let (outs, targets) = outputs(&t);
        for name in ["focal_g2", "focal_g2_a075", "focal_g1.5_a025"] {
            let r = &g[format!("ds_{case}")][name];
            let cfg = FocalConfig {
                gamma: f(&r["gamma"]),
                alpha: r["alpha"].as_f64(),
                ..FocalConfig::default()
            };
            let v = focal(outs[0].as_tensor(), &targets[0], &cfg).unwrap();
            let what = format!("{case}/{name}");
            worst.0 = worst.0.max(assert_rel(scalar(&v), f(&r["out0"]), &what));
            let grads = v.backward().unwrap();
            let d = check_grad(
                grads.get(outs[0].as_tensor()).unwrap(),
                &t[&format!("grad_{name}_0")],
                &what,
            );
            worst.1 = worst.1.max(d);
        }
    }
    eprintln!(
        "focal: max relative loss difference {:.2e}, max relative gradient difference {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn focal_combination_matches_reference() {
    let g = golden();
    let mut worst = (0f64, 0f32);
    for case in ["k2", "k3"] {
        let t = load(case);
        let (outs, targets) = outputs(&t);
        let xs: Vec<Tensor> = outs.iter().map(|v| v.as_tensor().clone()).collect();
        for (tag, batch_dice) in [("batch", true), ("sample", false)] {
            let r = &g[format!("ds_{case}")][format!("focal_combo_{tag}")];
            let loss = match SegLoss::dice_ce_focal() {
                SegLoss::DiceCeFocal {
                    dice_ce,
                    focal,
                    dice_ce_weight,
                } => SegLoss::DiceCeFocal {
                    dice_ce: DiceCeConfig {
                        batch_dice,
                        ..dice_ce
                    },
                    focal,
                    dice_ce_weight,
                },
                other => panic!("dice_ce_focal() gave {other:?}"),
            };
            let what = format!("{case}/{tag}");
            let v = loss.loss(&xs[0], &targets[0]).unwrap();
            worst.0 = worst.0.max(assert_rel(scalar(&v), f(&r["out0"]), &what));
            let grads = v.backward().unwrap();
            let d = check_grad(
                grads.get(outs[0].as_tensor()).unwrap(),
                &t[&format!("grad_focal_combo_{tag}_0")],
                &what,
            );
            worst.1 = worst.1.max(d);
            let ds = deep_supervision_loss(&loss, &xs, &targets, &deep_supervision_weights(5, 5));
            let ds = scalar(&ds.unwrap());
            worst.0 = worst
                .0
                .max(assert_rel(ds, f(&r["ds_loss"]), &format!("{what} DS")));
        }
    }
    eprintln!(
        "focal + 0.75 (Dice + CE): max relative loss difference {:.2e}, max relative gradient difference {:.2e}",
        worst.0, worst.1
    );
}

#[test]
fn target_layouts_and_dtypes_give_the_same_loss() {
    let t = load("k3");
    let x = &t["out_0"];
    let y = &t["target_0"];
    let reference = scalar(&SegLoss::dice_ce_focal().loss(x, y).unwrap());
    let squeezed = y.squeeze(1).unwrap();
    for target in [
        squeezed.clone(),
        y.to_dtype(DType::U32).unwrap(),
        squeezed.to_dtype(DType::I64).unwrap(),
        y.to_dtype(DType::U8).unwrap(),
        y.to_dtype(DType::F64).unwrap(),
    ] {
        let v = scalar(&SegLoss::dice_ce_focal().loss(x, &target).unwrap());
        assert_eq!(
            v,
            reference,
            "target {:?} {:?}",
            target.dtype(),
            target.dims()
        );
    }
}

#[test]
fn bad_inputs_are_errors() {
    let t = load("k2");
    let (x, y) = (&t["out_0"], &t["target_0"]);
    let loss = SegLoss::dice_ce();
    // label 2 with two classes
    let too_big = (y + 2.0).unwrap();
    let e = loss.loss(x, &too_big).unwrap_err().to_string();
    assert!(e.contains("0..2"), "{e}");
    let negative = (y - 1.0).unwrap();
    assert!(loss.loss(x, &negative).is_err());
    // spatial shape mismatch
    assert!(loss.loss(x, &t["target_1"]).is_err());
    assert!(loss.loss(x, &y.to_dtype(DType::BF16).unwrap()).is_err());
    // deep supervision: length mismatch, all-zero weights
    let xs = [x.clone(), t["out_1"].clone()];
    let ys = [y.clone(), t["target_1"].clone()];
    assert!(deep_supervision_loss(&loss, &xs, &ys[..1], &[0.5, 0.5]).is_err());
    assert!(deep_supervision_loss(&loss, &xs, &ys, &[0.5]).is_err());
    assert!(deep_supervision_loss(&loss, &xs, &ys, &[0.0, 0.0]).is_err());
    // an error names the output
    let bad = [x.clone(), too_big.narrow(2, 0, 4).unwrap()];
    let e = deep_supervision_loss(&loss, &xs, &[y.clone(), bad[1].clone()], &[0.5, 0.5]);
    assert!(format!("{:?}", e.unwrap_err()).contains("output 1"));
}

#[test]
fn perfect_prediction_gives_minus_one() {
    // nnU-Net's loss is CE − dc: a confident correct prediction approaches −1.
    let t = load("k3");
    let y = &t["target_0"];
    let classes = Tensor::arange(0f32, 3.0, &Device::Cpu)
        .unwrap()
        .reshape((1, 3, 1, 1, 1))
        .unwrap();
    let logits = (y
        .broadcast_eq(&classes)
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        * 40.0)
        .unwrap();
    let v = scalar(&SegLoss::dice_ce().loss(&logits, y).unwrap());
    // class 2 is absent from sample 0: its sample Dice is smooth / smooth = 1 as well
    assert!((v + 1.0).abs() < 1e-5, "{v}");
}
