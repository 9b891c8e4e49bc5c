//! End-to-end test of `examples/predict.rs` on a tiny generated MAMA-MIA folder.
//!
//! Two synthetic three-phase cases (`dce_pipeline::demo_case`, 40×96×112 at 1.5×0.7×0.7 mm, air around the
//! breast so the crop matters) plus one broken case (a phase that is not a NIfTI file), a v1 plan at 1 mm with
//! a 32³ patch, and a run directory with one fold of a tiny random MedNeXt. The example must
//!
//! * write `pred_segmentations/<id>.nii.gz` with each input's shape and affine, equal to
//!   `mednext::infer::predict_case` called in-process with the same options (breast box + largest component);
//! * record the broken case in `failures.json` (naming its file), go on, and exit with status 1;
//! * on a re-run skip the finished cases (files untouched), retry the failed one, and clear it from
//!   `failures.json` once it is fixed;
//! * in single-case mode (`--image … --id`), with a bare checkpoint + `--config` + `--plans` and `--tta`,
//!   write the same mask as `predict_case` with mirroring.
//!
//! The ignored test `full_case_timing` measures a 3×160×256×256 case with MedNeXt-M k5 (see docs/benchmarks.md).
//!
//! References: the MAMA-MIA sample submission (`pred_segmentations/<patient_id>.nii.gz`); nnU-Net v1
//! `nnUNet_predict` (v1 plan, softmax TTA).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use candle_core::Device;
use dce_pipeline::demo_case::demo_case;
use mednext::infer::{self, EnsemblePredictor, InferenceConfig, Tta};
use mednext::{ExpRatio, KeyNaming, MedNextConfig};
use ndarray::{Array4, Axis};
use nnunet_preproc::{
    case_fingerprint, dataset_fingerprint_for, load_case, read_label_map, write_volume,
    BreastBoxMasking, CaseFiles, Connectivity, Flavour, Geometry, Plans, PlansParams,
    PostprocessConfig, SegmentationRequirement, TargetSpacing,
};

/// The `predict` example binary of this profile (`target/<profile>/examples/predict`, built by
/// `cargo test` with the examples; built here only if missing).
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("predict{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--example", "predict", "-p", "dce-pipeline"]);
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("cargo build").success(),
            "building the predict example failed"
        );
    }
    bin
}

fn tiny() -> MedNextConfig {
    MedNextConfig {
        in_channels: 3,
        n_channels: 4,
        n_classes: 2,
        exp_r: ExpRatio::Uniform(2),
        kernel_size: Some(3),
        do_res: true,
        do_res_up_down: true,
        block_counts: vec![1; 9],
        deep_supervision: true,
        ..MedNextConfig::default()
    }
}

fn write_phases(dir: &Path, stem: &str, phases: &Array4<f32>, g: &Geometry) -> Vec<PathBuf> {
    phases
        .axis_iter(Axis(0))
        .enumerate()
        .map(|(k, ch)| {
            let p = dir.join(format!("{stem}_{k:04}.nii.gz"));
            write_volume(&p, ch, g).unwrap();
            p
        })
        .collect()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    run: PathBuf,
    out: PathBuf,
}

/// MAMA-MIA root with CASE_A, CASE_B (demo cases, seeds 1 and 2) and CASE_C (phase 1 broken); a run dir.
fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("mamamia");
    let info = root.join("patient_info_files");
    std::fs::create_dir_all(&info).unwrap();
    let mut fps = Vec::new();
    for (i, id) in ["CASE_A", "CASE_B", "CASE_C"].iter().enumerate() {
        let d = demo_case(i as u64 + 1);
        let dir = root.join("images").join(id);
        std::fs::create_dir_all(&dir).unwrap();
        let paths = write_phases(&dir, &id.to_lowercase(), &d.phases, &d.geometry);
        if i == 2 {
            std::fs::write(&paths[1], b"not a nifti file").unwrap();
        } else {
            fps.push(case_fingerprint(d.phases.view(), None, d.geometry.spacing).unwrap());
        }
        let json = serde_json::json!({
            "patient_id": id,
            "primary_lesion": {"breast_coordinates": {
                "x_min": 5, "x_max": 35, "y_min": 30, "y_max": 90, "z_min": 20, "z_max": 100}},
        });
        std::fs::write(
            info.join(format!("{}.json", id.to_lowercase())),
            json.to_string(),
        )
        .unwrap();
    }
    let run = tmp.path().join("run");
    std::fs::create_dir_all(run.join("fold_0")).unwrap();
    let params = PlansParams::new()
        .flavour(Flavour::V1)
        .target_spacing(TargetSpacing::Fixed([1.0; 3]))
        .patch_size([32; 3]);
    let plans = Plans::from_fingerprint(
        &dataset_fingerprint_for(&fps, Flavour::V1).unwrap(),
        &["pre", "post1", "post2"],
        &params,
    )
    .unwrap();
    plans.save(run.join("plans.json")).unwrap();
    let cfg = serde_json::json!({"model": tiny(), "trainer": {}});
    std::fs::write(run.join("config.json"), cfg.to_string()).unwrap();
    let (model, _) = mednext::new_trainable(&tiny(), 3, &Device::Cpu).unwrap();
    model
        .save_safetensors(
            run.join("fold_0/checkpoint_final.safetensors"),
            KeyNaming::Original,
        )
        .unwrap();
    let out = tmp.path().join("out");
    Fixture {
        _tmp: tmp,
        root,
        run,
        out,
    }
}

fn run(args: &[&OsStr]) -> Output {
    let output = Command::new(example_binary())
        .args(args)
        .output()
        .expect("running the predict example");
    eprintln!(
        "--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// The in-process prediction with the same run and options.
fn expected(fx: &Fixture, files: &CaseFiles, tta: Tta, box_and_lcc: bool) -> ndarray::Array3<u8> {
    let specs = infer::resolve_models(&fx.run, infer::CheckpointChoice::default(), None).unwrap();
    let model = infer::load_model(&specs[0], &Device::Cpu).unwrap();
    let ens = EnsemblePredictor::single(model, Device::Cpu);
    let plans = Plans::load(fx.run.join("plans.json")).unwrap();
    let case = load_case(files, SegmentationRequirement::Ignore).unwrap();
    let bb = nnunet_preproc::MamaMia::open(&fx.root)
        .unwrap()
        .patient_info(&files.id)
        .unwrap()
        .breast_box
        .unwrap();
    let cfg = InferenceConfig {
        tta,
        postprocess: PostprocessConfig {
            breast_box: BreastBoxMasking::Apply,
            largest_component: box_and_lcc.then_some(Connectivity::Full),
        },
        ..InferenceConfig::default()
    };
    let bb = box_and_lcc.then_some(bb);
    infer::predict_case(&ens, &plans, &case, bb.as_ref(), &cfg)
        .unwrap()
        .mask
}

fn failures(out: &Path) -> serde_json::Map<String, serde_json::Value> {
    let text = std::fs::read_to_string(out.join("failures.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn predict_example_on_a_mamamia_folder_with_failure_and_resume() {
    let fx = fixture();
    let os = |s: &'static str| OsStr::new(s);
    let args = [
        os("--model"),
        fx.run.as_os_str(),
        os("--data"),
        fx.root.as_os_str(),
        os("--breast-box"),
        os("--largest-component"),
        os("--quiet"),
        os("--out-dir"),
        fx.out.as_os_str(),
    ];
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1), "one case fails");
    let mm = nnunet_preproc::MamaMia::open(&fx.root).unwrap();
    let seg_dir = fx.out.join("pred_segmentations");
    for id in ["CASE_A", "CASE_B"] {
        let path = seg_dir.join(format!("{}.nii.gz", id.to_lowercase()));
        let (mask, g) = read_label_map(&path).unwrap();
        let files = mm.case_files(id, &[0, 1, 2]).unwrap();
        let (g_in, shape_in) = nnunet_preproc::read_geometry(&files.channels[0]).unwrap();
        assert_eq!(mask.shape(), &shape_in[..], "{id}");
        assert_eq!(g.affine, g_in.affine, "{id}");
        let want = expected(&fx, &files, Tta::Off, true);
        assert_eq!(mask.mapv(|v| v as u8), want, "{id}");
        let fg = want.iter().filter(|&&v| v == 1).count();
        eprintln!("{id}: {fg} foreground voxels");
    }
    assert!(!seg_dir.join("case_c.nii.gz").exists());
    let f = failures(&fx.out);
    assert_eq!(f.len(), 1);
    let msg = f["case_c"].as_str().unwrap();
    assert!(msg.contains("case_c_0001.nii.gz"), "{msg}");

    // Resume: A untouched, B re-done after deletion, C retried and still failing.
    let a = seg_dir.join("case_a.nii.gz");
    let a_time = std::fs::metadata(&a).unwrap().modified().unwrap();
    std::fs::remove_file(seg_dir.join("case_b.nii.gz")).unwrap();
    let output = run(&args);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("3 case(s), 1 already done"));
    assert_eq!(
        std::fs::metadata(&a).unwrap().modified().unwrap(),
        a_time,
        "a finished case is not rewritten"
    );
    assert!(seg_dir.join("case_b.nii.gz").is_file());
    assert!(failures(&fx.out).contains_key("case_c"));

    // Fix case C: the re-run predicts it and clears failures.json.
    let d = demo_case(3);
    write_phases(
        &fx.root.join("images/CASE_C"),
        "case_c",
        &d.phases,
        &d.geometry,
    );
    let output = run(&args);
    assert!(output.status.success());
    assert!(seg_dir.join("case_c.nii.gz").is_file());
    assert!(failures(&fx.out).is_empty());
}

#[test]
fn predict_example_single_case_with_bare_checkpoint_and_tta() {
    let fx = fixture();
    let d = demo_case(1);
    let dir = fx.out.join("input");
    std::fs::create_dir_all(&dir).unwrap();
    let images = write_phases(&dir, "case_a", &d.phases, &d.geometry);
    let cfg_path = fx.out.join("cfg.json");
    std::fs::write(&cfg_path, serde_json::to_string(&tiny()).unwrap()).unwrap();
    // The bare checkpoint outside the run, so that config and plans must come from the flags.
    let weights = fx.out.join("w.safetensors");
    std::fs::copy(fx.run.join("fold_0/checkpoint_final.safetensors"), &weights).unwrap();
    let out = fx.out.join("single");
    let mut cmd: Vec<&OsStr> = vec![OsStr::new("--model"), weights.as_os_str()];
    cmd.extend([OsStr::new("--config"), cfg_path.as_os_str()]);
    let plans = fx.run.join("plans.json");
    cmd.extend([OsStr::new("--plans"), plans.as_os_str()]);
    for p in &images {
        cmd.extend([OsStr::new("--image"), p.as_os_str()]);
    }
    cmd.extend([
        OsStr::new("--id"),
        OsStr::new("MyCase"),
        OsStr::new("--tta"),
    ]);
    cmd.extend([
        OsStr::new("--quiet"),
        OsStr::new("--out-dir"),
        out.as_os_str(),
    ]);
    let start = Instant::now();
    let output = run(&cmd);
    eprintln!(
        "single case with TTA: {:.1} s",
        start.elapsed().as_secs_f64()
    );
    assert!(output.status.success());
    let (mask, _) = read_label_map(out.join("pred_segmentations/MyCase.nii.gz")).unwrap();
    let files = CaseFiles {
        id: "CASE_A".into(),
        channels: images,
        segmentation: None,
    };
    assert_eq!(
        mask.mapv(|v| v as u8),
        expected(&fx, &files, Tta::Mirror, false)
    );
    // Without --config or --preset a bare file outside a run is refused, naming the file.
    let output = run(&[
        OsStr::new("--model"),
        weights.as_os_str(),
        OsStr::new("--plans"),
        plans.as_os_str(),
        OsStr::new("--image"),
        fx.out.join("input/case_a_0000.nii.gz").as_os_str(),
        OsStr::new("--id"),
        OsStr::new("X"),
        OsStr::new("--out-dir"),
        out.as_os_str(),
    ]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("w.safetensors"));
}

/// Full-case timing (not run by CI): a 3×160×256×256 case at 1.5×0.7×0.7 mm → 1 mm v1 plan (240×179×179),
/// patch 128³, MedNeXt-M k5 with random weights, no TTA. Run with
/// `cargo test --release --test predict_cli -- --ignored --nocapture full_case_timing`
/// (`PREDICT_TIMING_PATCH=64` for the 64³-patch variant).
#[test]
#[ignore = "minutes of CPU time; a measurement, not a test"]
fn full_case_timing() {
    let patch: usize = std::env::var("PREDICT_TIMING_PATCH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(128);
    let tmp = tempfile::tempdir().unwrap();
    let g = Geometry::from_spacing([1.5, 0.7, 0.7]);
    let phases = Array4::from_shape_fn((3, 160, 256, 256), |(c, z, y, x)| {
        let r = ((z as f32 - 80.0) / 60.0).powi(2)
            + ((y as f32 - 128.0) / 100.0).powi(2)
            + ((x as f32 - 128.0) / 110.0).powi(2);
        if r > 1.0 {
            20.0 + c as f32 // dim but nonzero: nothing is cropped, the full 240×179×179 is predicted
        } else {
            300.0 + 50.0 * c as f32 + ((x * 7 + y * 13 + z * 3) % 17) as f32
        }
    });
    let images = write_phases(tmp.path(), "big", &phases, &g);
    let fp = case_fingerprint(phases.view(), None, g.spacing).unwrap();
    let plans = Plans::from_fingerprint(
        &dataset_fingerprint_for(&[fp], Flavour::V1).unwrap(),
        &["pre", "post1", "post2"],
        &PlansParams::new()
            .flavour(Flavour::V1)
            .target_spacing(TargetSpacing::Fixed([1.0; 3]))
            .patch_size([patch; 3]),
    )
    .unwrap();
    let plans_path = tmp.path().join("plans.json");
    plans.save(&plans_path).unwrap();
    let cfg = MedNextConfig::medium(3, 2, 5).with_deep_supervision(true);
    let (model, _) = mednext::new_trainable(&cfg, 0, &Device::Cpu).unwrap();
    let weights = tmp.path().join("m_k5.safetensors");
    model
        .save_safetensors(&weights, KeyNaming::Original)
        .unwrap();
    let out = tmp.path().join("out");
    let mut cmd: Vec<&OsStr> = vec![OsStr::new("--model"), weights.as_os_str()];
    cmd.extend([
        OsStr::new("--preset"),
        OsStr::new("M"),
        OsStr::new("--kernel"),
        OsStr::new("5"),
    ]);
    cmd.extend([OsStr::new("--plans"), plans_path.as_os_str()]);
    for p in &images {
        cmd.extend([OsStr::new("--image"), p.as_os_str()]);
    }
    cmd.extend([OsStr::new("--id"), OsStr::new("BIG"), OsStr::new("--quiet")]);
    cmd.extend([OsStr::new("--out-dir"), out.as_os_str()]);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let start = Instant::now();
    let output = run(&cmd);
    let wall = start.elapsed().as_secs_f64();
    let load_end = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    assert!(output.status.success());
    eprintln!(
        "full case 3x160x256x256, patch {patch}, no TTA: {wall:.1} s wall (load {} -> {})",
        load.trim(),
        load_end.trim()
    );
}
