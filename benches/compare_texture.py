#!/usr/bin/env python3
"""Side-by-side timing of the `radiomics` crate's texture classes and PyRadiomics on the same inputs.

Inputs (identical in both): brain1's discretised bbox-cropped levels
(`crates/radiomics/tests/data/texture/brain1_default_levels.npy`) and the synthetic 40x50x60 ellipsoid of
`crates/radiomics/benches/texture.rs` (`synthetic_levels`, rebuilt here with the same formula).
PyRadiomics gets image = 25 * level and mask = level > 0, so its binWidth-25 discretisation gives back the
same levels; timed: `Radiomics<Class>.execute()` (matrix + all default features, binning excluded), median of
`--runs`. Rust: `cargo bench -p radiomics --bench texture` (criterion, `--output-format bencher`).

Usage (repo root): .venv/bin/python benches/compare_texture.py [--runs 15] [--skip-rust]
"""
import argparse
import logging
import re
import subprocess
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

import radiomics
from radiomics import glcm, gldm, glrlm, glszm, ngtdm

radiomics.setVerbosity(logging.CRITICAL)
ROOT = Path(__file__).resolve().parents[1]
CLASSES = {"glcm": glcm.RadiomicsGLCM, "gldm": gldm.RadiomicsGLDM, "glrlm": glrlm.RadiomicsGLRLM,
           "glszm": glszm.RadiomicsGLSZM, "ngtdm": ngtdm.RadiomicsNGTDM}


def synthetic_levels():
    z, y, x = np.meshgrid(np.arange(40), np.arange(50), np.arange(60), indexing="ij")
    d = ((z - 19.5) / 19.0) ** 2 + ((y - 24.5) / 24.0) ** 2 + ((x - 29.5) / 29.0) ** 2
    lv = 1 + (3 * z + 5 * y + 7 * x + (z * y * x) % 11 + (x // 4) * (y // 4)) % 48
    return np.where(d < 1.0, lv, 0).astype(np.int64)


def time_pyradiomics(levels, runs):
    assert levels[levels > 0].min() == 1
    im = sitk.GetImageFromArray(levels.astype(np.float64) * 25.0)
    ma = sitk.GetImageFromArray((levels > 0).astype(np.uint8))
    out = {}
    for name, cls in CLASSES.items():
        inst = cls(im, ma)
        assert np.array_equal(np.where(inst.maskArray, inst.imageArray, 0), levels), "binning changed levels"
        ts = []
        for _ in range(runs):
            t = time.perf_counter()
            inst.execute()
            ts.append(time.perf_counter() - t)
        out[name] = float(np.median(ts))
    return out


def time_rust():
    cmd = ["cargo", "bench", "-p", "radiomics", "--bench", "texture", "--", "--output-format", "bencher"]
    text = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    out = {}
    for m in re.finditer(r"test texture_(\w+)/(\w+)\s+\.\.\. bench:\s+([\d,]+) ns/iter", text):
        out[(m.group(1), m.group(2))] = int(m.group(3).replace(",", "")) * 1e-9
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--skip-rust", action="store_true")
    a = ap.parse_args()
    inputs = {"brain1": np.load(ROOT / "crates/radiomics/tests/data/texture/brain1_default_levels.npy").astype(np.int64),
              "synthetic": synthetic_levels()}
    rust = {} if a.skip_rust else time_rust()
    print(f"pyradiomics {radiomics.__version__}")
    print("| input | ROI voxels | class | PyRadiomics (ms) | Rust (ms) | speed-up |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, levels in inputs.items():
        py = time_pyradiomics(levels, a.runs)
        for cls, t in py.items():
            r = rust.get((name, cls))
            rs = f"{r * 1e3:.3f}" if r else "-"
            ratio = f"{t / r:.1f}x" if r else "-"
            print(f"| {name} {levels.shape} | {int((levels > 0).sum())} | {cls} | {t * 1e3:.2f} | {rs} | {ratio} |")
        tot_py = sum(py.values())
        tot_r = sum(rust.get((name, c), float("nan")) for c in CLASSES)
        print(f"| {name} | | **all 5** | {tot_py * 1e3:.2f} | {tot_r * 1e3:.3f} | {tot_py / tot_r:.1f}x |")


if __name__ == "__main__":
    main()
