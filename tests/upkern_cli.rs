//! End-to-end test of `examples/upkern.rs` on the small MedNeXt fixture.
//!
//! Reference: MIC-DKFZ/MedNeXt @ 0b78ed8 `upkern_load_weights(k5, k3)` on the small model
//! (`../shared/fixtures/mednext/`, copied to `crates/upkern/tests/data/` by
//! `tools/golden/make_upkern_fixtures.py`): the example, given the k3 weights and the model's
//! constructor arguments with `--kernel 5`, must write exactly `mednext_small_k5_upkern.safetensors`.

use std::path::{Path, PathBuf};
use std::process::Command;

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("crates/upkern/tests/data")
        .join(name)
}

/// The `upkern` example binary of this profile (`target/<profile>/examples/upkern`), built if missing.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>/deps");
    let bin = profile_dir
        .join("examples")
        .join(format!("upkern{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--example", "upkern", "-p", "dce-pipeline"]);
        if release {
            cmd.arg("--release");
        }
        assert!(
            cmd.status().expect("cargo build").success(),
            "building the upkern example failed"
        );
    }
    bin
}

#[test]
fn upkern_example_reproduces_the_original_k5_weights() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let out = dir.path().join("k5.safetensors");
    let output = Command::new(example_binary())
        .arg("--from")
        .arg(data("mednext_small_k3.safetensors"))
        .arg("--config")
        .arg(data("mednext_small_k3_config.json"))
        .args(["--kernel", "5", "--out"])
        .arg(&out)
        .output()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("UpKern: 165 tensors, 17 resized, 148 copied unchanged"),
        "{stdout}"
    );
    assert!(
        stdout.contains("up_3.conv1.weight: [128, 1, 3, 3, 3] -> [128, 1, 5, 5, 5]"),
        "{stdout}"
    );

    let ours = upkern::read_checkpoint(&out)?;
    let reference = upkern::read_checkpoint(data("mednext_small_k5_upkern.safetensors"))?;
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        reference.keys().collect::<Vec<_>>()
    );
    for (key, r) in &reference {
        let (a, b) = (
            ours[key].flatten_all()?.to_vec1::<f32>()?,
            r.flatten_all()?.to_vec1::<f32>()?,
        );
        assert_eq!(ours[key].dims(), r.dims(), "{key}");
        let worst = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-6, "{key}: {worst}");
    }

    // A source that does not fit the target configuration is reported, not a panic.
    let output = Command::new(example_binary())
        .arg("--from")
        .arg(data("mednext_small_k3.safetensors"))
        .args([
            "--preset",
            "S",
            "--kernel",
            "5",
            "--in-channels",
            "3",
            "--out",
        ])
        .arg(dir.path().join("bad.safetensors"))
        .output()?;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("does not fit the target configuration"),
        "{stderr}"
    );
    Ok(())
}
