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

`--packages SITE` adds the other radiomics packages from PyPI on the synthetic 256x256x160 case, each in its own
process with PYTHONPATH=SITE/<package>:SITE/deps (installed with
`pip install --no-deps --target SITE/<package> <package>`; their missing dependencies, e.g. itk for mirp, with
`--no-deps --target SITE/deps`), in memory (images already read, file reading untimed), default settings
mapped to PyRadiomics' (binWidth 25, Original image, all 7 classes), CPU only. Agreement with PyRadiomics'
107 values: "by name" (an output key ending in `<class>_<Feature>`, case and separators ignored) and "by value" (any
output value within 1e-6, an upper bound for packages with other names).

Run:
    cargo build --release --example extract_features && cargo build --release -p radiomics --example time_extract
    /work/main/.venv/bin/python benches/compare_radiomics.py [--repeats 5] [--packages /tmp/radiomics-site]
"""
import argparse
import json
import logging
import os
import subprocess
import sys
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


CLASSES = ["shape", "firstorder", "glcm", "gldm", "glrlm", "glszm", "ngtdm"]
PACKAGES = ["pyradiomics-cuda", "pytorchradiomics", "flash-radiomics", "fastrad", "numpyradiomics", "mirp"]


def _flat(d, prefix=""):
    out = {}
    for k, v in d.items():
        key = "%s%s" % (prefix, k)
        if isinstance(v, dict):
            out.update(_flat(v, key + "_"))
        else:
            try:
                out[key] = float(v)
            except (TypeError, ValueError):
                pass
    return out


def worker(name, img_path, msk_path, repeats):
    """Runs one package in this process; prints JSON {median_s, min_s, features}."""
    img, msk = sitk.ReadImage(img_path), sitk.ReadImage(msk_path)
    arr, marr = sitk.GetArrayFromImage(img), sitk.GetArrayFromImage(msk)
    spacing_zyx = tuple(img.GetSpacing()[::-1])
    if name == "pyradiomics-cuda":
        from radiomics import featureextractor as fe  # the fork's `radiomics`, first on PYTHONPATH
        ex = fe.RadiomicsFeatureExtractor(additionalInfo=False)
        run = lambda: ex.execute(img, msk)  # noqa: E731
    elif name == "pytorchradiomics":
        import torchradiomics
        torchradiomics.inject_torch_radiomics()
        ex = featureextractor.RadiomicsFeatureExtractor(additionalInfo=False, device="cpu")
        run = lambda: ex.execute(img, msk)  # noqa: E731
    elif name == "flash-radiomics":
        from flash_radiomics import featureextractor as fe
        ex = fe.RadiomicsFeatureExtractor(additionalInfo=False, backend="cpu")
        out = tempfile.mkdtemp()
        run = lambda: ex.execute(img, msk, output_hdf5_path=os.path.join(out, "f.h5"))  # noqa: E731
    elif name == "fastrad":
        import torch
        from fastrad import FeatureExtractor, FeatureSettings, Mask, MedicalImage
        ex = FeatureExtractor(FeatureSettings(feature_classes=CLASSES, bin_width=25.0, device="cpu",
                                              spacing=spacing_zyx))
        im = MedicalImage(torch.from_numpy(arr.astype(np.float64)), spacing=spacing_zyx)
        mk = Mask(torch.from_numpy(marr.astype(np.float64)), spacing=spacing_zyx)
        run = lambda: ex.extract(im, mk)  # noqa: E731
    elif name == "numpyradiomics":
        import numpyradiomics as npr
        a, m = arr.astype(np.float64), marr.astype(bool)

        def run():
            f = {}
            f.update({"shape_" + k: v for k, v in npr.shape(m, spacing=spacing_zyx).items()})
            f.update({"firstorder_" + k: v for k, v in
                      npr.firstorder(a, m, voxelVolume=float(np.prod(spacing_zyx)), binWidth=25).items()})
            f.update(npr.texture(a, m, binWidth=25))
            return f
    elif name == "mirp":
        import mirp

        def run():
            res = mirp.extract_features(image=arr.astype(np.float32), mask=marr.astype(np.uint8),
                                        image_voxel_spacing=spacing_zyx, base_discretisation_method="fixed_bin_size_pyradiomics",
                                        base_discretisation_bin_width=25.0, base_feature_families="all",
                                        ibsi_compliant=False, num_cpus=None)
            return res[0].iloc[0].to_dict()
    else:
        raise SystemExit("unknown package " + name)
    times, feats = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        feats = run()
        times.append(time.perf_counter() - t)
    print(json.dumps({"median_s": float(np.median(times)), "min_s": float(np.min(times)),
                      "features": _flat(dict(feats))}))


def agreement(got, ref):
    """(by name, by value): PyRadiomics features matched within 1e-6*|ref| + 1e-9."""
    close = lambda g, v: abs(g - v) <= 1e-6 * abs(v) + 1e-9  # noqa: E731
    norm = lambda n: "".join(c for c in n.lower() if c.isalnum())  # noqa: E731
    lower = {norm(k): v for k, v in got.items()}
    by_name = by_value = 0
    values = [v for v in got.values() if v == v]
    for k, v in ref.items():
        suffix = norm(k.split("_", 1)[1])  # <class><feature>
        cands = [g for n, g in lower.items() if n.endswith(suffix)]
        by_name += any(close(g, v) for g in cands)
        by_value += any(close(g, v) for g in values)
    return by_name, by_value


def compare_packages(site, img, msk, ref, t_ref, repeats, names=PACKAGES):
    rows = []
    for name in names:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join([os.path.join(site, name), os.path.join(site, "deps")])
        env["CUDA_VISIBLE_DEVICES"] = ""
        proc = subprocess.run([sys.executable, os.path.abspath(__file__), "--worker", name, "--image", img,
                               "--mask", msk, "--repeats", str(repeats)], env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            err = (proc.stderr.strip().splitlines() or ["?"])[-1][:160]
            print("%-18s failed: %s" % (name, err))
            rows.append((name, None, None, err))
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        by_name, by_value = agreement(res["features"], ref)
        print("%-18s median %.3f s (min %.3f s)  %d outputs  agree by name %d/107, by value %d/107"
              % (name, res["median_s"], res["min_s"], len(res["features"]), by_name, by_value))
        rows.append((name, res["median_s"], (by_name, by_value), len(res["features"])))
    print("\nOther PyPI radiomics packages, synthetic 256x256x160 / 40 cm^3, in process, CPU (load %s)\n"
          % open("/proc/loadavg").read().split()[:3])
    print("| package | median time | vs PyRadiomics %.3f s | outputs | agree with PyRadiomics (by name / by value) |"
          % t_ref)
    print("| --- | --- | --- | --- | --- |")
    for name, t, agree, n in rows:
        if t is None:
            print("| %s | — | — | — | fails: %s |" % (name, n))
        else:
            print("| %s | %.3f s | %.2f× | %d | %d / %d |" % (name, t, t / t_ref, n, agree[0], agree[1]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--packages", metavar="SITE", help="also time the other PyPI packages installed under SITE")
    ap.add_argument("--only-packages", action="store_true", help="with --packages: skip the Rust comparison")
    ap.add_argument("--package-list", default=",".join(PACKAGES), help="comma-separated subset of the packages")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--image", help=argparse.SUPPRESS)
    ap.add_argument("--mask", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.image, args.mask, args.repeats)
        return
    if args.only_packages:
        tmp = tempfile.mkdtemp()
        img, msk = synthetic(tmp)
        ex = featureextractor.RadiomicsFeatureExtractor(additionalInfo=False)
        si, sm = sitk.ReadImage(img), sitk.ReadImage(msk)
        t_ref, ref = median_time(lambda: ex.execute(si, sm), args.repeats)
        ref = {k: float(v) for k, v in ref.items() if not k.startswith("diagnostics_")}
        print("pyradiomics-bhklab (reference) median %.3f s" % t_ref)
        if os.path.exists(TIMER):
            out = os.path.join(tmp, "rust.json")
            timed = json.loads(subprocess.run([TIMER, "--image", img, "--mask", msk, "--runs",
                                               str(max(args.repeats, 10)), "--out", out],
                                              check=True, capture_output=True, text=True).stdout)
            by_name, by_value = agreement(json.load(open(out)), ref)
            print("Rust radiomics extract median %.4f s (min %.4f s): %.1fx faster than PyRadiomics, agree %d/107"
                  % (timed["median_s"], timed["min_s"], t_ref / timed["median_s"], by_name))
        compare_packages(args.packages, img, msk, ref, t_ref, args.repeats, args.package_list.split(","))
        return
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
