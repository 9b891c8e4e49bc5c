"""Side-by-side training data pipeline throughput: nnU-Net v2.8.1's `nnUNetDataLoader` with
`nnUNetTrainer.get_training_transforms` (batchgeneratorsv2) in a `NonDetMultiThreadedAugmenter` vs
nnunet-preproc's `Loader` (`AugmentFlavour::V2Default`, and the v1 moreDA flavour the paper trains with), on the
same two generated, preprocessed cases of 3×160×256×256 (written by the Rust bench), patch 128³ (loaded 205³),
batch 2, deep-supervision targets at [1, ½, ¼, ⅛, 1/16], the same number of workers.

Run from the repository root:
    .venv/bin/python benches/compare_loader.py [--workers 2] [--batches 12] [--cache DIR] [--skip-rust]
The Rust side is the criterion bench `cargo bench -p nnunet-preproc --bench loader` (medians parsed from its
output); it also writes the cache (`LOADER_BENCH_DIR`), which this script converts to nnU-Net's numpy dataset
format (`<id>.npy`, `<id>_seg.npy` with a channel axis, `<id>.pkl` with `class_locations` as (n, 4) arrays).
"""
import argparse
import json
import os
import pickle
import re
import subprocess
import tempfile
import time

import numpy as np

BATCH = 2
PATCH = (128, 128, 128)
DS_SCALES = [[1.0] * 3, [0.5] * 3, [0.25] * 3, [0.125] * 3, [0.0625] * 3]


def rust_times(cache):
    cmd = ["cargo", "bench", "-p", "nnunet-preproc", "--bench", "loader", "--", "--noplot"]
    env = dict(os.environ, LOADER_BENCH_DIR=cache)
    text = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    unit = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0}
    out = {}
    for name in ["v2_default_2_workers", "v1_moreDA_2_workers"]:
        m = re.search(name + r"\s*\n?\s*time:\s*\[\S+ \S+ (\S+) (\S+) \S+ \S+\]", text)
        out[name] = float(m.group(1)) * unit[m.group(2)]
    return out


def nnunet_dataset(cache, folder):
    """Converts the Rust cache to nnU-Net v2's numpy dataset layout; returns the identifiers."""
    ids = sorted(f[:-5] for f in os.listdir(cache) if f.endswith(".json") and f != "failures.json")
    for i in ids:
        data = np.load(os.path.join(cache, i + ".npy"))
        seg = np.load(os.path.join(cache, i + "_seg.npy"))[None]
        np.save(os.path.join(folder, i + ".npy"), data)
        np.save(os.path.join(folder, i + "_seg.npy"), seg)
        props = json.load(open(os.path.join(cache, i + ".json")))
        locs = {int(k): np.array([[0, *v] for v in vs], dtype=np.int64).reshape(-1, 4)
                for k, vs in props["class_locations"].items()}
        with open(os.path.join(folder, i + ".pkl"), "wb") as f:
            pickle.dump({"class_locations": locs}, f)
    return ids


def nnunet_samples_per_second(folder, ids, workers, batches):
    import torch
    from batchgenerators.dataloading.nondet_multi_threaded_augmenter import NonDetMultiThreadedAugmenter
    from nnunetv2.training.data_augmentation.compute_initial_patch_size import get_patch_size
    from nnunetv2.training.dataloading.data_loader import nnUNetDataLoader
    from nnunetv2.training.dataloading.nnunet_dataset import nnUNetDatasetNumpy
    from nnunetv2.training.nnUNetTrainer.nnUNetTrainer import nnUNetTrainer
    from nnunetv2.utilities.label_handling.label_handling import LabelManager

    torch.set_num_threads(1)
    rot = (-30.0 / 360 * 2 * np.pi, 30.0 / 360 * 2 * np.pi)
    initial = get_patch_size(PATCH, rot, rot, rot, (0.85, 1.25))
    transforms = nnUNetTrainer.get_training_transforms(
        PATCH, rot, DS_SCALES, (0, 1, 2), False, use_mask_for_norm=[False] * 3, is_cascaded=False,
        foreground_labels=[1], regions=None, ignore_label=None)
    lm = LabelManager({"background": 0, "tumour": 1}, None)
    dl = nnUNetDataLoader(nnUNetDatasetNumpy(folder, ids), BATCH, initial, PATCH, lm,
                          oversample_foreground_percent=0.33, transforms=transforms)
    mt = NonDetMultiThreadedAugmenter(dl, None, num_processes=workers, num_cached=max(6, workers // 2),
                                      seeds=None, pin_memory=False, wait_time=0.002)
    for _ in range(2 * workers):  # start-up: spawn the workers, fill their first batches
        next(mt)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(batches):
        next(mt)
    wall = time.perf_counter() - t0
    mt._finish()
    return BATCH * batches / wall, tuple(int(v) for v in initial)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--batches", type=int, default=12)
    ap.add_argument("--cache", default=None, help="Rust cache folder (default: a temporary one)")
    ap.add_argument("--skip-rust", action="store_true", help="use an existing --cache, no Rust run")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cache = a.cache or os.path.join(tmp, "cache")
        os.makedirs(cache, exist_ok=True)
        rs = None if a.skip_rust else rust_times(cache)
        folder = os.path.join(tmp, "nnunet")
        os.makedirs(folder)
        ids = nnunet_dataset(cache, folder)
        py, initial = nnunet_samples_per_second(folder, ids, a.workers, a.batches)
    print("load average (1, 5, 15 min): " + ", ".join(f"{v:.2f}" for v in os.getloadavg()))
    print(f"cases {ids}, loaded patch {initial}, patch {PATCH}, batch {BATCH}, {a.workers} workers")
    print(f"{'pipeline':32} {'samples/s':>10} {'ratio vs nnU-Net':>17}")
    print(f"{'nnU-Net v2 (batchgeneratorsv2)':32} {py:10.3f} {1.0:17.2f}")
    if rs:
        for name, label in [("v2_default_2_workers", "Rust V2Default"), ("v1_moreDA_2_workers", "Rust V1MoreDA")]:
            sps = BATCH / rs[name]
            print(f"{label:32} {sps:10.3f} {sps / py:17.2f}")
