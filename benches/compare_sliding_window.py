"""Side-by-side sliding-window overhead: nnU-Net v2.8.1 `predict_sliding_window_return_logits` (CPU, identity
nn.Module, its shipped fp16 accumulators) vs nnunet-preproc's `SlidingWindow::predict` (f32) on 3×256×256×160,
patch 128³, step 0.5 (18 tiles), without and with 8× mirroring TTA.

Run from the repository root:
    .venv/bin/python benches/compare_sliding_window.py [--repeats 3] [--skip-rust]
The Rust side is the criterion bench `cargo bench -p nnunet-preproc --bench pipeline -- sliding_window`
(its median is parsed from criterion's output). The Rust identity closure must return an owned array, i.e. copy
each 3×128³ tile (a torch identity returns its input for free); the bench times those copies alone
(`closure_only_18` / `closure_only_144`) and the table also shows the sliding window's own overhead without them.
"""
import argparse
import os
import re
import subprocess
import time
from types import SimpleNamespace

import numpy as np
import torch


class Identity(torch.nn.Module):
    def forward(self, x):
        return x


def nnunet_times(repeats):
    import nnunetv2.inference.predict_from_raw_data as P

    torch.set_num_threads(2)
    data = torch.from_numpy((np.arange(3 * 256 * 256 * 160) % 101).reshape(3, 256, 256, 160).astype(np.float32) * 0.01)
    out = {}
    for name, mirror in [("no_tta", False), ("tta8", True)]:
        pr = P.nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=mirror,
                               perform_everything_on_device=False, device=torch.device("cpu"), verbose=False,
                               allow_tqdm=False)
        pr.network = Identity()
        pr.configuration_manager = SimpleNamespace(patch_size=[128, 128, 128])
        pr.label_manager = SimpleNamespace(num_segmentation_heads=3)
        pr.allowed_mirroring_axes = (0, 1, 2)
        with torch.no_grad():
            pr.predict_sliding_window_return_logits(data)  # warm-up, builds the cached Gaussian
            walls, cpus = [], []
            for _ in range(repeats):
                t0, c0 = time.perf_counter(), time.process_time()
                pr.predict_sliding_window_return_logits(data)
                walls.append(time.perf_counter() - t0)
                cpus.append(time.process_time() - c0)
        out[name] = (float(np.median(walls)), float(np.median(cpus)))
    return out


def rust_times():
    cmd = ["cargo", "bench", "-p", "nnunet-preproc", "--bench", "pipeline", "--", "sliding_window", "--noplot"]
    text = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    out = {}
    unit = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    for name in ["no_tta", "tta8", "closure_only_18", "closure_only_144"]:
        m = re.search(name + r"\s*\n?\s*time:\s*\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", text)
        out[name] = float(m.group(1)) * unit[m.group(2)]
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-rust", action="store_true")
    a = ap.parse_args()
    py = nnunet_times(a.repeats)
    rs = None if a.skip_rust else rust_times()
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"{'case':8} {'nnU-Net wall':>13} {'nnU-Net cpu':>12} {'Rust median':>12} {'ratio':>6}"
          f" {'Rust − closure':>15} {'ratio':>6}")
    for k, closure in [("no_tta", "closure_only_18"), ("tta8", "closure_only_144")]:
        r = rs[k] if rs else float("nan")
        own = r - rs[closure] if rs else float("nan")
        print(f"{k:8} {py[k][0]:12.3f}s {py[k][1]:11.3f}s {r:11.3f}s {r / py[k][0]:6.2f}"
              f" {own:14.3f}s {own / py[k][0]:6.2f}")
