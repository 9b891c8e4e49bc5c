//! Build script of `mednext`: with the `cuda` feature, compiles `kernels/*.cu` to PTX with nvcc into
//! `OUT_DIR` (embedded by `src/ops/cuda/mod.rs` through `include_str!`); without it, does nothing and needs
//! no CUDA toolkit.
//!
//! ```text
//! nvcc --ptx -arch=compute_<CUDA_COMPUTE_CAP> -O3 -o $OUT_DIR/<name>.ptx kernels/<name>.cu
//! ```
//!
//! nvcc is `$NVCC`, else `$CUDA_HOME/bin/nvcc` (also `CUDA_PATH`, `CUDA_ROOT`), else `nvcc` on `PATH` — the
//! same search as candle-kernels' build helper. `CUDA_COMPUTE_CAP` defaults to 90 (H100/H200); the PTX is
//! JIT-compiled by the driver on first use, so it also runs on newer GPUs. Keep nvcc at 13.0.x for driver
//! 580 (newer nvcc writes a PTX ISA that driver refuses; see `docs/gpu.md` and
//! `/work/shared/tools/cuda-build.md` §4).

use std::path::{Path, PathBuf};
use std::process::Command;

/// The kernel sources, one PTX module each.
const KERNELS: [&str; 3] = ["depthwise", "norm", "elementwise"];

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_CUDA").is_none() {
        return;
    }
    for var in [
        "NVCC",
        "CUDA_HOME",
        "CUDA_PATH",
        "CUDA_ROOT",
        "CUDA_COMPUTE_CAP",
    ] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let nvcc = find_nvcc();
    let cap = std::env::var("CUDA_COMPUTE_CAP").unwrap_or_else(|_| "90".to_owned());
    let cap: String = cap.chars().filter(char::is_ascii_digit).collect();
    for name in KERNELS {
        let src = Path::new("kernels").join(format!("{name}.cu"));
        println!("cargo:rerun-if-changed={}", src.display());
        let dst = out.join(format!("{name}.ptx"));
        let status = Command::new(&nvcc)
            .args(["--ptx", &format!("-arch=compute_{cap}"), "-O3", "-o"])
            .arg(&dst)
            .arg(&src)
            .status()
            .unwrap_or_else(|e| {
                panic!(
                    "mednext build.rs: cannot run nvcc `{}` ({e}); set NVCC or CUDA_HOME (docs/gpu.md)",
                    nvcc.display()
                )
            });
        assert!(
            status.success(),
            "mednext build.rs: nvcc failed on {} ({status})",
            src.display()
        );
    }
}

/// `$NVCC`, else `<CUDA root>/bin/nvcc`, else `nvcc` (from `PATH`).
fn find_nvcc() -> PathBuf {
    if let Some(p) = std::env::var_os("NVCC") {
        return PathBuf::from(p);
    }
    for var in ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"] {
        if let Some(root) = std::env::var_os(var) {
            let p = Path::new(&root).join("bin").join("nvcc");
            if p.exists() {
                return p;
            }
        }
    }
    PathBuf::from("nvcc")
}
