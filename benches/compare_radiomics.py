#!/usr/bin/env python3
"""PyRadiomics 3.1 vs the Rust `radiomics` crate on the same inputs, same machine.

Cases: breast1 and brain1 (shared fixtures; brain1 as the committed bbox crop) and a synthetic 256x256x160
volume at 1 mm with a ~40 cm^3 ellipsoid ROI (seeded), default 107 features (Original image). Two
comparisons per case:

* end to end (a process / call reading the NIfTI files): PyRadiomics `execute(path, path)` vs a fresh
  `extract_features` process (start-up, gzip decoding, extraction, JSON);
* in process (file reading excluded on both sides): PyRadiomics `execute(sitk_image, sitk_mask)` on images
  already read vs `crates/radiomics/examples/time_extract` (reads first, untimed, then times
  `radiomics::extract` on the arrays in memory; min and median of N runs).

PyRadiomics runs with additionalInfo=False (no diagnostics) and with the default (diagnostics on). Prints
median wall times, the ratios and how many features agree (|rust - ref| <= 1e-6*|ref| + 1e-9).

Run:
    cargo build --release --example extract_features && cargo build --release -p radiomics --example time_extract
    /work/main/.venv/bin/python benches/compare_radiomics.py [--repeats 5]
"""
import argparse
import json
import logging
import os
import subprocess
import tempfile
import time

import numpy as np
import SimpleITK as sitk
from radiomics import featureextractor

logging.getLogger("radiomics").setLevel(logging.ERROR)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "crates", "radiomics", "tests", "data")
BIN = os.path.join(ROOT, "target", "release", "examples", "extract_features")
TIMER = os.path.join(ROOT, "target", "release", "examples", "time_extract")


def synthetic(tmp):
    rng = np.random.default_rng(7)
    shape = (160, 256, 256)
    z, y, x = np.ogrid[:shape[0], :shape[1], :shape[2]]
    roi = ((z - 80) / 18.0) ** 2 + ((y - 128) / 22.0) ** 2 + ((x - 128) / 24.1) ** 2 < 1
    img = (rng.normal(300, 80, shape) + 2.0 * y).astype(np.int16)
    paths = []
    for arr, name in ((img, "synthetic_image.nii.gz"), (roi.astype(np.uint8), "synthetic_mask.nii.gz")):
        im = sitk.GetImageFromArray(arr)
        im.SetSpacing((1.0, 1.0, 1.0))
        p = os.path.join(tmp, name)
        sitk.WriteImage(im, p, useCompression=True)
        paths.append(p)
    print("synthetic: 256x256x160, ROI %d voxels (%.1f cm^3)" % (roi.sum(), roi.sum() / 1000))
    return paths


def median_time(fn, repeats):
    times = []
    out = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times)), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    cases = [
        ("breast1", os.path.join(DATA, "breast1_image.nii.gz"), os.path.join(DATA, "breast1_label.nii.gz")),
        ("brain1 (crop)", os.path.join(DATA, "brain1_crop_image.nii.gz"), os.path.join(DATA, "brain1_crop_label.nii.gz")),
    ]
    cases.append(("synthetic 256x256x160", *synthetic(tmp)))
    rows = []
    for name, img, msk in cases:
        ex_plain = featureextractor.RadiomicsFeatureExtractor(additionalInfo=False)
        ex_diag = featureextractor.RadiomicsFeatureExtractor()
        # End to end: file paths on both sides.
        t_py, ref = median_time(lambda: ex_plain.execute(img, msk), args.repeats)
        t_py_diag, _ = median_time(lambda: ex_diag.execute(img, msk), args.repeats)
        out = os.path.join(tmp, "f.json")
        t_rs, _ = median_time(lambda: subprocess.run([BIN, "--image", img, "--mask", msk, "--out", out],
                                                     check=True, capture_output=True), args.repeats)
        got = json.load(open(out))
        # In process: images already in memory on both sides.
        sitk_img, sitk_msk = sitk.ReadImage(img), sitk.ReadImage(msk)
        t_py_mem, ref_mem = median_time(lambda: ex_plain.execute(sitk_img, sitk_msk), args.repeats)
        t_py_mem_diag, _ = median_time(lambda: ex_diag.execute(sitk_img, sitk_msk), args.repeats)
        out_mem = os.path.join(tmp, "g.json")
        timed = json.loads(subprocess.run([TIMER, "--image", img, "--mask", msk, "--runs", str(max(args.repeats, 10)),
                                           "--out", out_mem], check=True, capture_output=True, text=True).stdout)
        got_mem = json.load(open(out_mem))
        t_rs_mem, t_rs_min = timed["median_s"], timed["min_s"]
        ref = {k: float(v) for k, v in ref.items() if not k.startswith("diagnostics_")}
        ref_mem = {k: float(v) for k, v in ref_mem.items() if not k.startswith("diagnostics_")}

        def agreeing(got, ref):
            return sum(1 for k, v in ref.items() if k in got and got[k] is not None and
                       abs(got[k] - v) <= 1e-6 * abs(v) + 1e-9)
        agree, agree_mem = agreeing(got, ref), agreeing(got_mem, ref_mem)
        rows.append((name, t_py, t_py_diag, t_rs, agree, len(ref),
                     t_py_mem, t_py_mem_diag, t_rs_mem, t_rs_min, agree_mem, len(ref_mem)))
        print("%-22s end to end: PyRadiomics %.3f s (diagnostics on: %.3f s)  Rust process %.3f s  speed-up %.1fx "
              "(%.1fx)  agree %d/%d" % (name, t_py, t_py_diag, t_rs, t_py / t_rs, t_py_diag / t_rs, agree, len(ref)))
        print("%-22s in process: PyRadiomics %.3f s (diagnostics on: %.3f s)  Rust extract median %.4f s "
              "(min %.4f s)  speed-up %.1fx (%.1fx)  agree %d/%d"
              % ("", t_py_mem, t_py_mem_diag, t_rs_mem, t_rs_min, t_py_mem / t_rs_mem, t_py_mem_diag / t_rs_mem,
                 agree_mem, len(ref_mem)))
    print("\nEnd to end (file paths; Rust: a fresh `extract_features` process)\n")
    print("| case | PyRadiomics (additionalInfo off) | PyRadiomics (default) | Rust (`extract_features`) | "
          "speed-up | features agreeing |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, a, b, c, agree, n, *_ in rows:
        print("| %s | %.3f s | %.3f s | %.3f s | %.1f× (%.1f×) | %d/%d |" % (name, a, b, c, a / c, b / c, agree, n))
    print("\nIn process (images already in memory on both sides)\n")
    print("| case | PyRadiomics `execute(sitk, sitk)` (additionalInfo off) | PyRadiomics (default) | "
          "Rust `extract` median (min) | speed-up off (default) | features agreeing |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, *_, a, b, c, cmin, agree, n in rows:
        print("| %s | %.3f s | %.3f s | %.4f s (%.4f s) | %.1f× (%.1f×) | %d/%d |"
              % (name, a, b, c, cmin, a / c, b / c, agree, n))

if __name__ == "__main__":
    main()
