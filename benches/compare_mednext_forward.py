"""Side-by-side inference timing: the original PyTorch MedNeXt vs the Rust `mednext` crate, same weights,
same input, same machine.

Reference: MIC-DKFZ/MedNeXt @ 0b78ed8 (`nnunet_mednext/network_architecture/mednextv1/`), imported from a
checkout (see tools/golden/make_mednext_variant_fixtures.py for the files needed). For each configuration the
script builds the original network (`create_mednextv1_*`-equivalent arguments, ds=False, seed 0), writes its
state dict and a seeded input to safetensors, times `net(x)` under `torch.no_grad()` (median of N runs, after
one warm-up), then runs `target/release/examples/mednext_forward` N times on the same files and takes the
median of the forward time it reports (weights loading excluded on both sides), and checks the outputs agree.

    cargo build --release --example mednext_forward
    .venv/bin/python benches/compare_mednext_forward.py --mednext-repo /path/to/MedNeXt [--sizes 64] [--runs 3] [--train]

(`benches/compare_mednext.py` is the maintainers' broader benchmark through `examples/mednext_bench.rs`;
`--train` uses that example for the Rust training step: `cargo build --release --example mednext_bench`.)
"""

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    "S": dict(exp_r=2, block_counts=[2] * 9, checkpoint_style=None),
    "B": dict(exp_r=[2, 3, 4, 4, 4, 4, 4, 3, 2], block_counts=[2] * 9, checkpoint_style=None),
    "M": dict(exp_r=[2, 3, 4, 4, 4, 4, 4, 3, 2], block_counts=[3, 4, 4, 4, 4, 4, 4, 4, 3],
              checkpoint_style="outside_block"),
    "L": dict(exp_r=[3, 4, 8, 8, 8, 8, 8, 4, 3], block_counts=[3, 4, 8, 8, 8, 8, 8, 4, 3],
              checkpoint_style="outside_block"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mednext-repo", required=True, type=Path)
    ap.add_argument("--presets", default="M")
    ap.add_argument("--kernels", default="3,5")
    ap.add_argument("--sizes", default="64")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train", action="store_true",
                    help="also time a training step (M k3, DS loss Σ 0.5^i·mean(out_i²), forward + backward) with "
                         "and without checkpointing against `examples/mednext_bench --mode train` (its DS cross-entropy)")
    ap.add_argument("--train-size", type=int, default=32)
    args = ap.parse_args()
    sys.path.insert(0, str(args.mednext_repo))
    from nnunet_mednext.network_architecture.mednextv1.MedNextV1 import MedNeXt

    torch.set_num_threads(args.threads)
    exe = ROOT / "target/release/examples/mednext_forward"
    if not exe.exists():
        sys.exit(f"{exe} missing: cargo build --release --example mednext_forward")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for preset in args.presets.split(","):
            for k in map(int, args.kernels.split(",")):
                torch.manual_seed(0)
                net = MedNeXt(in_channels=3, n_channels=32, n_classes=2, kernel_size=k, deep_supervision=False,
                              do_res=True, do_res_up_down=True, **PRESETS[preset]).eval()
                weights = tmp / f"{preset}{k}.safetensors"
                save_file({n: t.detach().contiguous() for n, t in net.state_dict().items()}, str(weights))
                for size in map(int, args.sizes.split(",")):
                    x = torch.randn((1, 3, size, size, size), generator=torch.Generator().manual_seed(1))
                    inp = tmp / f"in{size}.safetensors"
                    save_file({"input": x}, str(inp))
                    with torch.no_grad():
                        ref = net(x)
                        times = []
                        for _ in range(args.runs):
                            t0 = time.perf_counter()
                            net(x)
                            times.append(time.perf_counter() - t0)
                    t_torch = statistics.median(times)
                    out = tmp / "out.safetensors"
                    r_times = []
                    for _ in range(args.runs):
                        p = subprocess.run([str(exe), "--weights", str(weights), "--preset", preset,
                                            "--kernel", str(k), "--in-channels", "3", "--classes", "2",
                                            "--input", str(inp), "--output", str(out)],
                                           capture_output=True, text=True, check=True)
                        m = re.search(r"in ([0-9.]+) s", p.stderr)
                        r_times.append(float(m.group(1)))
                    t_rust = statistics.median(r_times)
                    diff = float((load_file(str(out))["out_0"] - ref).abs().max())
                    rows.append((f"{preset} k{k} infer {size}³", t_torch, t_rust, diff))
                    print(f"{rows[-1][0]}: torch {t_torch:.2f} s, rust {t_rust:.2f} s, "
                          f"ratio {t_rust / t_torch:.2f}, max|Δ out_0| {diff:.1e}", flush=True)
    if args.train:
        rows += train_rows(MedNeXt, args.runs, args.train_size)
    print()
    print(f"| config (batch 1, in 3, 2 classes, out_0 only) | PyTorch {torch.__version__} ({args.threads} threads) "
          f"| Rust mednext | Rust / PyTorch | max abs diff |")
    print("| --- | --- | --- | --- | --- |")
    for name, tt, tr, d in rows:
        print(f"| {name} | {tt:.2f} s | {tr:.2f} s | {tr / tt:.2f} | {d:.1e} |")
    print()
    print(subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip())


def train_rows(MedNeXt, runs, size):
    """PyTorch training-step medians (after a warm-up) vs `mednext_bench --mode train` medians."""
    import resource
    x = torch.randn((1, 3, size, size, size), generator=torch.Generator().manual_seed(1))
    torch_times = {}
    for name, style in [("off", None), ("on", "outside_block")]:
        torch.manual_seed(0)
        net = MedNeXt(in_channels=3, n_channels=32, n_classes=2, kernel_size=3, deep_supervision=True,
                      do_res=True, do_res_up_down=True, **{**PRESETS["M"], "checkpoint_style": style})
        times = []
        for i in range(runs + 1):
            t0 = time.perf_counter()
            outs = net(x)
            loss = sum(0.5 ** j * (o * o).mean() for j, o in enumerate(outs))
            loss.backward()
            if i > 0:  # first run = warm-up
                times.append(time.perf_counter() - t0)
            net.zero_grad(set_to_none=True)
        torch_times[name] = statistics.median(times)
    exe = ROOT / "target/release/examples/mednext_bench"
    if not exe.exists():
        sys.exit(f"{exe} missing: cargo build --release --example mednext_bench")
    rows = []
    for name in ["off", "on"]:
        p = subprocess.run([str(exe), "--mode", "train", "--preset", "M", "--kernel", "3", "--size", str(size),
                            "--checkpointing", name, "--repeats", str(runs)],
                           capture_output=True, text=True, check=True)
        rust = float(re.search(r'"median_s":([0-9.eE+-]+)', p.stdout).group(1))
        rows.append((f"M k3 train step {size}³ (checkpointing {name})", torch_times[name], rust, float("nan")))
        print(f"{rows[-1][0]}: torch {torch_times[name]:.2f} s, rust {rust:.2f} s", flush=True)
    return rows


if __name__ == "__main__":
    main()
