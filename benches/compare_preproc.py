"""Compare nnU-Net v2's resampling with `nnunet_preproc::resample` on the issue's benchmark volume.

The volume: 3 channels, NIfTI 256 x 256 x 160 at (0.7, 0.7, 1.5) mm, i.e. the array (C, z, y, x) =
(3, 160, 256, 256) with spacing [1.5, 0.7, 0.7], resampled to 1 mm -> (3, 240, 179, 179) (no separate-z:
ratio 2.14), plus a label map with labels {-1, 0, 1} (-1 = outside the nonzero region). Seeded, smooth random
intensities (z-scored like nnU-Net's normalised data).

Reference: nnunetv2 2.8.1 `resample_data_or_seg_to_shape` with the planner's kwargs (data: is_seg=False,
order=3, order_z=0, force_separate_z=None; seg: is_seg=True, order=1, order_z=0, force_separate_z=None).
Ours: `cargo run --release -p nnunet-preproc --example resample_volume` (built first, not timed), which reports
the in-process wall time of `resample_data` and `resample_segmentation` (file I/O excluded; nnU-Net's time
excludes it as well).

Usage (from the repository root):

    .venv/bin/python benches/compare_preproc.py [--repeat 3] [--keep DIR]

Prints a table of wall and CPU times (medians of --repeat runs for both; ours in-process) and the agreement: max |ours - nnU-Net| of the data (relative to the data range) and the number of
differing label voxels.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter

ROOT = Path(__file__).resolve().parents[1]
SHAPE = (160, 256, 256)
SPACING = [1.5, 0.7, 0.7]
NEW_SPACING = [1.0, 1.0, 1.0]


def make_volume(seed=2024):
    rng = np.random.default_rng(seed)
    data = np.empty((3, *SHAPE), dtype=np.float32)
    for c in range(3):
        f = gaussian_filter(rng.standard_normal(SHAPE, dtype=np.float32), 3.0)
        data[c] = (f - f.mean()) / f.std()
    seg = np.zeros(SHAPE, dtype=np.int16)
    blob = gaussian_filter(rng.standard_normal(SHAPE, dtype=np.float32), 6.0)
    seg[blob > 1.0 * blob.std()] = 1
    seg[:, :12] = -1
    seg[:, -12:] = -1
    return data, seg


def cpu_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def run_nnunet(data, seg, new_shape, repeat):
    from nnunetv2.preprocessing.resampling.default_resampling import resample_data_or_seg_to_shape

    times = {"data": [], "seg": []}
    out = {}
    for _ in range(repeat):
        for key, arr, kwargs in (
            ("data", data, dict(is_seg=False, order=3, order_z=0, force_separate_z=None)),
            ("seg", seg[None], dict(is_seg=True, order=1, order_z=0, force_separate_z=None)),
        ):
            w, c = time.perf_counter(), cpu_seconds()
            out[key] = resample_data_or_seg_to_shape(arr, new_shape, SPACING, NEW_SPACING, **kwargs)
            times[key].append((time.perf_counter() - w, cpu_seconds() - c))
    med = {k: (statistics.median(t[0] for t in v), statistics.median(t[1] for t in v)) for k, v in times.items()}
    return out["data"], out["seg"][0], med


def run_ours(tmp, repeat):
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "nnunet-preproc", "--example", "resample_volume"],
                   cwd=ROOT, check=True)
    exe = ROOT / "target" / "release" / "examples" / "resample_volume"
    cmd = [str(exe), "--input", str(tmp / "data.npy"), "--seg", str(tmp / "seg.npy"),
           "--spacing", ",".join(map(str, SPACING)), "--new-spacing", ",".join(map(str, NEW_SPACING)),
           "--output", str(tmp / "ours_data.npy"), "--seg-output", str(tmp / "ours_seg.npy"),
           "--repeat", str(repeat)]
    c0 = cpu_seconds()
    w0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
    total_wall, total_cpu = time.perf_counter() - w0, cpu_seconds() - c0
    print(proc.stdout.strip())
    timings = json.loads(proc.stdout.strip().splitlines()[-1])
    return timings, total_wall, total_cpu


def cpu_model():
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="folder to keep the volumes and outputs in")
    args = ap.parse_args()

    from nnunetv2.preprocessing.resampling.default_resampling import compute_new_shape

    new_shape = [int(v) for v in compute_new_shape(SHAPE, SPACING, NEW_SPACING)]
    data, seg = make_volume()
    with tempfile.TemporaryDirectory() as t:
        tmp = args.keep or Path(t)
        tmp.mkdir(parents=True, exist_ok=True)
        np.save(tmp / "data.npy", data)
        np.save(tmp / "seg.npy", seg)

        timings, ours_total_wall, ours_total_cpu = run_ours(tmp, args.repeat)
        ours_data = np.load(tmp / "ours_data.npy")
        ours_seg = np.load(tmp / "ours_seg.npy")
        ref_data, ref_seg, med = run_nnunet(data, seg, new_shape, args.repeat)

    rng = float(data.max() - data.min())
    max_diff = float(np.abs(ours_data.astype(np.float64) - ref_data.astype(np.float64)).max())
    seg_wrong = int((ours_seg != ref_seg).sum())
    print()
    print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs, rayon threads {timings['threads']}, "
          f"load average at the end {os.getloadavg()[0]:.2f} (other jobs share the cores)")
    print(f"volume (C, z, y, x) = (3, {SHAPE[0]}, {SHAPE[1]}, {SHAPE[2]}), spacing {SPACING} -> {NEW_SPACING}, "
          f"new shape {new_shape}")
    print()
    print("| step | nnU-Net v2 wall (s) | nnU-Net v2 cpu (s) | ours wall (s) | speed-up (wall) |")
    print("| --- | --- | --- | --- | --- |")
    rows = [("data, order 3 (3 channels)", med["data"], timings["data_s"]),
            ("seg, order 1, labels {-1, 0, 1}", med["seg"], timings["seg_s"])]
    for name, (w, c), ours in rows:
        print(f"| {name} | {w:.2f} | {c:.2f} | {ours:.3f} | {w / ours:.0f}x |")
    tw, tc = med["data"][0] + med["seg"][0], med["data"][1] + med["seg"][1]
    to = timings["data_s"] + timings["seg_s"]
    print(f"| total | {tw:.2f} | {tc:.2f} | {to:.3f} | {tw / to:.0f}x |")
    print()
    print(f"ours, fastest of {args.repeat}: data {timings['data_min_s']:.3f} s, seg {timings['seg_min_s']:.3f} s; "
          f"whole process (read + {args.repeat}x resample + write): wall {ours_total_wall:.2f} s, "
          f"cpu {ours_total_cpu:.2f} s")
    print(f"agreement: data max |diff| = {max_diff:.3e} ({max_diff / rng:.2e} of the range {rng:.2f}); "
          f"seg: {seg_wrong} of {ref_seg.size} voxels differ")
    ok = max_diff <= 1e-4 * rng and seg_wrong == 0 and list(ours_data.shape[1:]) == new_shape
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
