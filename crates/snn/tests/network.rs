//! The network: SELU values and gradients, AlphaDropout statistics (Klambauer et al. 2017, eq. 13; values of
//! PyTorch `F.alpha_dropout` quoted in `/work/shared/reference/snn.md` §3), self-normalisation at
//! initialisation, BCE with logits against candle's own loss, deterministic training, calibration.

mod common;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::ModuleT;
use ndarray::Array2;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use snn::{
    alpha_dropout_affine, apply_temperature, bce_with_logits, fit_temperature, new_trainable,
    predict_logits, select_threshold, selu, train, AlphaDropout, EarlyStopping, PosWeight,
    SnnConfig, TrainConfig,
};

fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    (m, v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n)
}

#[test]
fn selu_values_and_finite_gradient() {
    let x = Var::new(&[1.0f64, -1.0, 100.0, -30.0], &Device::Cpu).unwrap();
    let y = selu(x.as_tensor()).unwrap();
    let v = y.to_vec1::<f64>().unwrap();
    assert!((v[0] - 1.050_700_987_355_480_5).abs() < 1e-12);
    assert!((v[1] + 1.111_330_737_812_562_8).abs() < 1e-12, "{}", v[1]);
    let g = y.sum_all().unwrap().backward().unwrap();
    let g = g.get(x.as_tensor()).unwrap().to_vec1::<f64>().unwrap();
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    assert!((g[2] - 1.050_700_987_355_480_5).abs() < 1e-12);
}

#[test]
fn alpha_dropout_constants_match_reference_table() {
    for (p, a, b, d) in [
        (0.05, 0.954_844_476_0, 0.083_935_572_2, -1.594_775_871_7),
        (0.10, 0.921_284_516_1, 0.161_970_970_1, -1.457_738_730_5),
        (0.20, 0.878_903_583_4, 0.309_039_962_1, -1.236_159_848_6),
    ] {
        let (ga, gb) = alpha_dropout_affine(p);
        assert!((ga - a).abs() < 1e-9 && (gb - b).abs() < 1e-9);
        assert!((ga * -1.758_099_340_847_376_6 + gb - d).abs() < 1e-9);
    }
}

#[test]
fn alpha_dropout_keeps_mean_and_variance() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let x: Vec<f64> = (0..1_000_000).map(|_| common::normal(&mut rng)).collect();
    let t = Tensor::from_vec(x.clone(), x.len(), &Device::Cpu).unwrap();
    let drop = AlphaDropout::new(0.1, 3);
    let y = drop.forward_t(&t, true).unwrap().to_vec1::<f64>().unwrap();
    let (m, v) = mean_var(&y);
    println!("AlphaDropout(0.1): mean {m:.4}, var {v:.4}");
    assert!(m.abs() < 0.01 && (v - 1.0).abs() < 0.01);
    let n_dropped = y
        .iter()
        .filter(|&&v| (v + 1.457_738_730_5).abs() < 1e-9)
        .count() as f64;
    assert!((n_dropped / y.len() as f64 - 0.1).abs() < 0.002);
    // A fresh mask per call; evaluation is the identity.
    assert_ne!(
        drop.forward_t(&t, true).unwrap().to_vec1::<f64>().unwrap(),
        y
    );
    assert_eq!(
        drop.forward_t(&t, false).unwrap().to_vec1::<f64>().unwrap(),
        x
    );
}

/// 8 SELU layers of width 256 at LeCun-normal initialisation on standardised inputs: every layer's
/// activations keep mean within 0.1 of 0 and variance within 0.2 of 1 (with and without AlphaDropout).
#[test]
fn self_normalisation_at_init() {
    let cfg = SnnConfig {
        input_dim: 64,
        hidden: vec![256; 8],
        dropout: 0.1,
        ..SnnConfig::default()
    };
    let (net, _) = new_trainable(&cfg, 11, DType::F64, &Device::Cpu).unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x = Tensor::from_vec(
        (0..4000 * 64)
            .map(|_| common::normal(&mut rng))
            .collect::<Vec<_>>(),
        (4000, 64),
        &Device::Cpu,
    )
    .unwrap();
    for train_mode in [false, true] {
        for (i, a) in net
            .hidden_activations(&x, train_mode)
            .unwrap()
            .iter()
            .enumerate()
        {
            let (m, v) = mean_var(&a.flatten_all().unwrap().to_vec1::<f64>().unwrap());
            println!(
                "train={train_mode} layer {}: mean {m:+.4} var {v:.4}",
                i + 1
            );
            assert!(
                m.abs() < 0.1 && (v - 1.0).abs() < 0.2,
                "layer {} mean {m} var {v}",
                i + 1
            );
        }
    }
}

#[test]
fn bce_with_logits_matches_candle_and_formula() {
    let z = Tensor::new(&[[-3.0f64], [0.5], [40.0], [-40.0]], &Device::Cpu).unwrap();
    let y = Tensor::new(&[[1.0f64], [0.0], [1.0], [0.0]], &Device::Cpu).unwrap();
    let ours = bce_with_logits(&z, &y, 1.0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let exact = ((1.0f64 + 3.0f64.exp()).ln()
        + (1.0f64 + 0.5f64.exp()).ln()
        + (-40.0f64).exp().ln_1p() * 2.0)
        / 4.0;
    assert!((ours - exact).abs() < 1e-12, "{ours} {exact}");
    // candle's `binary_cross_entropy_with_logit` agrees on moderate logits (it is NaN at |z| = 40).
    let (z2, y2) = (z.narrow(0, 0, 2).unwrap(), y.narrow(0, 0, 2).unwrap());
    let ours2 = bce_with_logits(&z2, &y2, 1.0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let candle = candle_nn::loss::binary_cross_entropy_with_logit(&z2, &y2)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!((ours2 - candle).abs() < 1e-6, "{ours2} {candle}");
    // pos_weight multiplies the positive terms only.
    let w = bce_with_logits(&z, &y, 3.0)
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    let exact_w = (3.0 * (1.0f64 + 3.0f64.exp()).ln()
        + (1.0f64 + 0.5f64.exp()).ln()
        + 4.0 * (-40.0f64).exp().ln_1p())
        / 4.0;
    assert!((w - exact_w).abs() < 1e-12);
}

#[test]
fn training_is_deterministic_and_learns() {
    let (x, y) = common::synthetic(300, 10, &[0, 1, 2], 1);
    let cfg = TrainConfig {
        epochs: 40,
        seed: 9,
        pos_weight: PosWeight::Balanced,
        ..TrainConfig::default()
    };
    let model = SnnConfig::seed_code(10);
    let a = train(x.view(), &y, &model, &cfg, &Device::Cpu).unwrap();
    let b = train(x.view(), &y, &model, &cfg, &Device::Cpu).unwrap();
    let za = predict_logits(&a.model, x.view(), &Device::Cpu).unwrap();
    let zb = predict_logits(&b.model, x.view(), &Device::Cpu).unwrap();
    assert_eq!(za, zb);
    assert_eq!(a.history, b.history);
    assert!(a.history.train_loss.last().unwrap() < &(0.8 * a.history.train_loss[0]));
    let c = train(
        x.view(),
        &y,
        &model,
        &TrainConfig {
            seed: 10,
            ..cfg.clone()
        },
        &Device::Cpu,
    )
    .unwrap();
    assert_ne!(
        predict_logits(&c.model, x.view(), &Device::Cpu).unwrap(),
        za
    );
    // Early stopping keeps the best validation epoch.
    let es = TrainConfig {
        epochs: 400,
        early_stopping: Some(EarlyStopping {
            validation_fraction: 0.2,
            patience: 10,
        }),
        ..cfg
    };
    let d = train(x.view(), &y, &model, &es, &Device::Cpu).unwrap();
    assert!(d.history.train_loss.len() < 400);
    let best = d
        .history
        .val_loss
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min);
    assert_eq!(d.history.val_loss[d.history.best_epoch], best);
}

/// Temperature scaling lowers the ECE (medmetrics, 10 bins) of an over-confident model without changing the
/// ranking; the threshold maximises out-of-fold balanced accuracy.
#[test]
fn temperature_scaling_lowers_ece() {
    let g = common::golden();
    let z: Vec<f64> = g["temperature"]["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let y: Vec<u8> = g["temperature"]["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    let t = fit_temperature(&z, &y).unwrap();
    let before = apply_temperature(&z, 1.0);
    let after = apply_temperature(&z, t);
    let ece_b = medmetrics::expected_calibration_error(&y, &before, 10).unwrap();
    let ece_a = medmetrics::expected_calibration_error(&y, &after, 10).unwrap();
    println!("T = {t:.4}: ECE {ece_b:.4} -> {ece_a:.4}");
    assert!(t > 1.0 && ece_a < ece_b);
    let auc_b = medmetrics::roc_auc(&y, &before, medmetrics::EmptyPolicy::Error).unwrap();
    let auc_a = medmetrics::roc_auc(&y, &after, medmetrics::EmptyPolicy::Error).unwrap();
    assert!((auc_a - auc_b).abs() < 1e-12);
    let th = select_threshold(&after, &y).unwrap();
    let pred: Vec<u8> = after.iter().map(|&p| u8::from(p > th.threshold)).collect();
    let ba = medmetrics::balanced_accuracy(&y, &pred, medmetrics::Adjusted::No).unwrap();
    assert!((ba - th.balanced_accuracy).abs() < 1e-12);
    // No other threshold does better (brute force over all cut points).
    for &c in &after {
        let p: Vec<u8> = after.iter().map(|&q| u8::from(q > c)).collect();
        assert!(
            medmetrics::balanced_accuracy(&y, &p, medmetrics::Adjusted::No).unwrap()
                <= th.balanced_accuracy + 1e-12
        );
    }
}

#[test]
fn threshold_ties_prefer_one_half() {
    // Any threshold in (0.2, 0.8) separates perfectly: 0.5 itself is kept.
    let th = select_threshold(&[0.1, 0.2, 0.8, 0.9], &[0, 0, 1, 1]).unwrap();
    assert_eq!((th.threshold, th.balanced_accuracy), (0.5, 1.0));
    let th = select_threshold(&[0.1, 0.2, 0.3, 0.4], &[0, 0, 1, 1]).unwrap();
    assert_eq!((th.threshold, th.balanced_accuracy), (0.25, 1.0));
    let _ = Array2::<f64>::zeros((1, 1));
}
