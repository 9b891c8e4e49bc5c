/* Optimisers, gradient clipping and learning-rate schedules of `mednext::train` against PyTorch / nnU-Net.

Golden values: `tools/golden/make_train_fixtures.py` writes `tests/data/train/{optim,clip}.safetensors` and
`golden.json`:

    params = three tensors (4×3, 5, 2×1×3×3×3); grads = 5 fixed random sets
    opt = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-4, weight_decay=3e-5)   # MedNeXt
          torch.optim.AdamW(params, lr=5e-2, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.1)
          torch.optim.SGD(params, lr=1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)     # nnU-Net v2
          torch.optim.SGD(params, lr=1e-1, momentum=0.9, weight_decay=1e-2)
    for s in range(5):                      # lr × 0.5 from step 3 on; `enc.bias` has no grad at step 1
        p.grad = grads[s]; opt.step()       # params after every step and the final state are stored
    torch.nn.utils.clip_grad_norm_(params, 12.0)       # total norms 32.3 (clipped) and 3.35 (untouched)
    nnunet.training.learning_rate.poly_lr(e, 250, 1e-3, 0.9); nnunetv2 PolyLRScheduler(opt, 1e-2, 1000);
    torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=20, eta_min=1e-5)

Tolerances: parameters and state 1e-6 absolute, norms 1e-6 relative, learning rates 1e-12 relative.
*/

use std::collections::HashMap;
use std::path::PathBuf;

use candle_core::backprop::GradStore;
use candle_core::{Device, Tensor, Var};
use mednext::train::{
    clip_grad_norm, AdamW, AdamWConfig, LrSchedule, Sgd, SgdConfig, TrainOptimizer,
};
use serde_json::Value;

const PARAM_TOL: f32 = 1e-6;

fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/train")
}

fn golden() -> Value {
    let text = std::fs::read_to_string(data_dir().join("golden.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn load(file: &str) -> HashMap<String, Tensor> {
    candle_core::safetensors::load(data_dir().join(file), &Device::Cpu).unwrap()
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

fn names(g: &Value) -> Vec<String> {
    g["optim"]["names"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn fresh_params(t: &HashMap<String, Tensor>, names: &[String]) -> Vec<(String, Var)> {
    names
        .iter()
        .map(|n| {
            (
                n.clone(),
                Var::from_tensor(&t[&format!("init.{n}")]).unwrap(),
            )
        })
        .collect()
}

/// The fixture's gradients of step `s`, without the parameter skipped at that step.
fn grads_at(
    t: &HashMap<String, Tensor>,
    g: &Value,
    params: &[(String, Var)],
    s: usize,
) -> GradStore {
    let skip = &g["optim"]["skip"];
    let mut store = GradStore::default();
    for (n, v) in params {
        if s as u64 == skip["step"].as_u64().unwrap() && n == skip["param"].as_str().unwrap() {
            continue;
        }
        store.insert(v.as_tensor(), t[&format!("grad{s}.{n}")].clone());
    }
    store
}

/// Runs the fixture's schedule of steps `range` on `opt`, comparing the parameters after every step.
fn run_steps(
    opt: &mut dyn TrainOptimizer,
    cname: &str,
    params: &[(String, Var)],
    range: std::ops::Range<usize>,
    lr0: f64,
) -> f32 {
    let g = golden();
    let t = load("optim.safetensors");
    let change = &g["optim"]["lr_change"];
    let mut worst = 0f32;
    for s in range {
        if s as u64 == change["step"].as_u64().unwrap() {
            opt.set_learning_rate(lr0 * change["factor"].as_f64().unwrap());
        }
        opt.step(&grads_at(&t, &g, params, s)).unwrap();
        for (n, v) in params {
            let d = max_abs(v.as_tensor(), &t[&format!("{cname}.after{s}.{n}")]);
            assert!(d <= PARAM_TOL, "{cname} step {s}: `{n}` differs by {d:.2e}");
            worst = worst.max(d);
        }
    }
    worst
}

fn adamw_config(g: &Value, cname: &str) -> AdamWConfig {
    let c = &g["optim"][cname];
    AdamWConfig {
        lr: c["lr"].as_f64().unwrap(),
        beta1: c["betas"][0].as_f64().unwrap(),
        beta2: c["betas"][1].as_f64().unwrap(),
        eps: c["eps"].as_f64().unwrap(),
        weight_decay: c["weight_decay"].as_f64().unwrap(),
    }
}

fn sgd_config(g: &Value, cname: &str) -> SgdConfig {
    let c = &g["optim"][cname];
    SgdConfig {
        lr: c["lr"].as_f64().unwrap(),
        momentum: c["momentum"].as_f64().unwrap(),
        nesterov: c["nesterov"].as_bool().unwrap(),
        weight_decay: c["weight_decay"].as_f64().unwrap(),
    }
}

/// Compares the optimiser's named state with torch's `opt.state` (buffers and per-parameter steps).
fn check_state(state: &[(String, Tensor)], cname: &str, buffers: &[(&str, &str)], g: &Value) {
    let t = load("optim.safetensors");
    let map: HashMap<&str, &Tensor> = state.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for n in names(g) {
        for (ours, torch) in buffers {
            let d = max_abs(
                map[format!("{n}.{ours}").as_str()],
                &t[&format!("{cname}.state.{n}.{torch}")],
            );
            assert!(
                d <= PARAM_TOL,
                "{cname}: state {n}.{ours} differs by {d:.2e}"
            );
        }
        if let Some(steps) = g["optim"].get(format!("{cname}_state_step")) {
            let ours = map[format!("{n}.step").as_str()]
                .to_scalar::<f64>()
                .unwrap();
            assert_eq!(ours, steps[&n].as_f64().unwrap(), "{cname}: {n}.step");
        }
    }
    assert_eq!(map["step"].to_scalar::<f64>().unwrap(), 5.0);
}

#[test]
fn adamw_matches_torch() {
    let g = golden();
    let t = load("optim.safetensors");
    assert_eq!(AdamWConfig::default(), adamw_config(&g, "adamw_mednext"));
    for cname in ["adamw_mednext", "adamw_large"] {
        let cfg = adamw_config(&g, cname);
        let params = fresh_params(&t, &names(&g));
        let mut opt = AdamW::new(params.clone(), cfg).unwrap();
        let d = run_steps(&mut opt, cname, &params, 0..5, cfg.lr);
        check_state(
            &opt.state().unwrap(),
            cname,
            &[("exp_avg", "exp_avg"), ("exp_avg_sq", "exp_avg_sq")],
            &g,
        );
        eprintln!("{cname}: max parameter difference over 5 steps {d:.2e}");
    }
}

#[test]
fn sgd_matches_torch() {
    let g = golden();
    let t = load("optim.safetensors");
    assert_eq!(SgdConfig::default(), sgd_config(&g, "sgd_nnunet"));
    for cname in ["sgd_nnunet", "sgd_momentum"] {
        let cfg = sgd_config(&g, cname);
        let params = fresh_params(&t, &names(&g));
        let mut opt = Sgd::new(params.clone(), cfg).unwrap();
        let d = run_steps(&mut opt, cname, &params, 0..5, cfg.lr);
        check_state(
            &opt.state().unwrap(),
            cname,
            &[("momentum_buffer", "momentum_buffer")],
            &g,
        );
        eprintln!("{cname}: max parameter difference over 5 steps {d:.2e}");
    }
}

#[test]
fn resumed_optimisers_continue_exactly() {
    let g = golden();
    let t = load("optim.safetensors");
    type Make = dyn Fn(Vec<(String, Var)>) -> Box<dyn TrainOptimizer>;
    let makers: [(&str, f64, Box<Make>); 2] = [
        (
            "adamw_large",
            adamw_config(&g, "adamw_large").lr,
            Box::new(|p| Box::new(AdamW::new(p, adamw_config(&golden(), "adamw_large")).unwrap())),
        ),
        (
            "sgd_nnunet",
            sgd_config(&g, "sgd_nnunet").lr,
            Box::new(|p| Box::new(Sgd::new(p, sgd_config(&golden(), "sgd_nnunet")).unwrap())),
        ),
    ];
    for (cname, lr0, make) in &makers {
        let params = fresh_params(&t, &names(&g));
        let mut first = make(params.clone());
        run_steps(first.as_mut(), cname, &params, 0..3, *lr0);
        let state = first.state().unwrap();
        // a new optimiser over the same variables, restored from the state, takes steps 3 and 4
        let mut second = make(params.clone());
        second.load_state(&state).unwrap();
        second.set_learning_rate(first.learning_rate());
        let d = run_steps(second.as_mut(), cname, &params, 3..5, *lr0);
        assert!(d <= PARAM_TOL);
        // unknown keys and wrong shapes are errors and leave the state alone
        let mut bad = state.clone();
        bad.push((
            "nope.exp_avg".into(),
            Tensor::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap(),
        ));
        assert!(second.load_state(&bad).is_err());
        let mut bad = state.clone();
        let k = bad
            .iter()
            .position(|(k, _)| k.starts_with("enc.weight."))
            .unwrap();
        bad[k].1 = Tensor::zeros(7, candle_core::DType::F32, &Device::Cpu).unwrap();
        let e = second.load_state(&bad).unwrap_err().to_string();
        assert!(e.contains("enc.weight"), "{e}");
    }
}

#[test]
fn optimiser_arguments_are_checked() {
    let v = Var::zeros(3, candle_core::DType::F32, &Device::Cpu).unwrap();
    let twice = vec![("a".to_string(), v.clone()), ("a".to_string(), v.clone())];
    assert!(AdamW::new(twice.clone(), AdamWConfig::default()).is_err());
    assert!(Sgd::new(twice, SgdConfig::default()).is_err());
    let one = vec![("a".to_string(), v)];
    let cfg = AdamWConfig {
        beta1: 1.0,
        ..AdamWConfig::default()
    };
    assert!(AdamW::new(one.clone(), cfg).is_err());
    let cfg = SgdConfig {
        momentum: 0.0,
        ..SgdConfig::default()
    };
    assert!(Sgd::new(one, cfg).is_err(), "Nesterov without momentum");
}

#[test]
fn clip_grad_norm_matches_torch() {
    let g = golden();
    let t = load("clip.safetensors");
    for case in ["above", "below"] {
        let params: Vec<(String, Var)> = ["a", "b", "c"]
            .iter()
            .map(|n| {
                let shape = t[&format!("{case}.grad.{n}")].dims().to_vec();
                (
                    n.to_string(),
                    Var::zeros(shape, candle_core::DType::F32, &Device::Cpu).unwrap(),
                )
            })
            .collect();
        let mut grads = GradStore::default();
        for (n, v) in &params {
            grads.insert(v.as_tensor(), t[&format!("{case}.grad.{n}")].clone());
        }
        let vars: Vec<Var> = params.iter().map(|(_, v)| v.clone()).collect();
        let total = clip_grad_norm(&mut grads, &vars, 12.0).unwrap();
        let reference = g["clip"][case]["total_norm"].as_f64().unwrap();
        let rel = (total - reference).abs() / reference;
        assert!(rel <= 1e-6, "{case}: total norm {total} vs {reference}");
        let mut worst = 0f32;
        for (n, v) in &params {
            let d = max_abs(
                grads.get(v.as_tensor()).unwrap(),
                &t[&format!("{case}.clipped.{n}")],
            );
            assert!(d <= PARAM_TOL, "{case}: clipped `{n}` differs by {d:.2e}");
            worst = worst.max(d);
        }
        eprintln!("clip {case}: norm relative difference {rel:.2e}, gradients {worst:.2e}");
    }
}

#[test]
fn schedules_match_nnunet_and_torch() {
    let g = golden();
    let s = &g["schedule"];
    let check = |sched: LrSchedule, entry: &Value| {
        let initial = entry["initial"].as_f64().unwrap();
        let max = entry["max_epochs"].as_u64().unwrap() as usize;
        for (e, v) in entry["lr"].as_array().unwrap().iter().enumerate() {
            let (ours, reference) = (sched.lr(initial, e, max), v.as_f64().unwrap());
            assert!(
                (ours - reference).abs() <= 1e-12 * reference.abs().max(1e-300),
                "{sched:?} epoch {e}: {ours} vs {reference}"
            );
        }
    };
    check(LrSchedule::poly(), &s["poly_v1"]);
    check(LrSchedule::poly(), &s["poly_v2"]);
    let min_lr = s["cosine"]["min_lr"].as_f64().unwrap();
    check(LrSchedule::Cosine { min_lr }, &s["cosine"]);
    assert_eq!(LrSchedule::poly().lr(1e-2, 1000, 1000), 0.0);
    assert_eq!(LrSchedule::poly().lr(1e-2, 1200, 1000), 0.0);
    assert_eq!(LrSchedule::Constant.lr(3e-4, 7, 10), 3e-4);
}
