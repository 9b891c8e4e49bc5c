#!/usr/bin/env python3
"""Golden fixtures for the texture classes of the `radiomics` crate (GLCM, GLRLM, GLSZM, GLDM, NGTDM).

Reference: PyRadiomics 3.1 (AIM-Harvard/pyradiomics; installed here as the `pyradiomics-bhklab` wheel,
which carries the same C kernels), settings as recorded per fixture.

Writes into crates/radiomics/tests/data/texture/:

* `<case>_<config>_levels.npy` (uint16, (z, y, x)) -- the discretised image exactly as PyRadiomics' texture
  classes see it (bbox-cropped, `_applyBinning` output, 0 outside the ROI), captured by wrapping
  `RadiomicsFeaturesBase._applyBinning`, for brain1/breast1 and every baseline configuration of
  `fixtures/radiomics/<case>.json` whose discretisation or texture settings differ.
* `<case>_<config>.json` -- texture params, Ng, and the expected features: `reference` = the values of
  the shared fixture JSON (PyRadiomics 3.1.0), `rerun` = this script's PyRadiomics on the same files.
* `edge_<name>_levels.npy` / `edge_<name>.json` -- small synthetic cases (single voxel, constant ROI, two
  voxels, force2D, distances [1, 2], weighting norms, asymmetric GLCM, gldm_a 1, sparse ROI, single slice,
  line, the bench's 48-level ellipsoid), each class run directly on the bbox-cropped image (errors recorded as strings).
* copies of `<case>_<class>.npy` matrix baselines and `baseline_<class>.csv` from the shared fixtures.

Usage: `.venv/bin/python tools/golden/make_texture_fixtures.py [--shared ../shared]` from the repo root.
"""
import argparse
import json
import logging
import math
import shutil
from pathlib import Path

import numpy as np
import SimpleITK as sitk

import radiomics
from radiomics import base, featureextractor, glcm, gldm, glrlm, glszm, ngtdm

radiomics.setVerbosity(logging.CRITICAL)
CLASSES = {"glcm": glcm.RadiomicsGLCM, "gldm": gldm.RadiomicsGLDM, "glrlm": glrlm.RadiomicsGLRLM,
           "glszm": glszm.RadiomicsGLSZM, "ngtdm": ngtdm.RadiomicsNGTDM}
OUT = Path(__file__).resolve().parents[2] / "crates/radiomics/tests/data/texture"

captured = {}
_orig_apply = base.RadiomicsFeaturesBase._applyBinning


def _capturing_apply(self, matrix):
    out = _orig_apply(self, matrix)
    captured.setdefault("levels", np.where(self.maskArray, out, 0).astype(np.uint16))
    captured.setdefault("ng", int(self.coefficients["Ng"]))
    captured.setdefault("spacing", list(self.inputImage.GetSpacing())[::-1])
    return out


base.RadiomicsFeaturesBase._applyBinning = _capturing_apply


def clean(v):
    v = float(v)
    return None if math.isnan(v) else v


def params_of(settings, spacing):
    return {
        "distances": [int(d) for d in (settings.get("distances") or [1])],
        "symmetrical_glcm": bool(settings.get("symmetricalGLCM", True)),
        "weighting_norm": settings.get("weightingNorm"),
        "gldm_a": float(settings.get("gldm_a", 0) or 0),
        "spacing": [float(s) for s in spacing],
        "force_2d": bool(settings.get("force2D", False)),
        "force_2d_dimension": int(settings.get("force2Ddimension", 0) or 0),
    }


def case_fixtures(shared):
    fx = shared / "fixtures/radiomics"
    for case in ["brain1", "breast1"]:
        ref = json.loads((fx / f"{case}.json").read_text())
        configs = {"default": ({}, {c: {k.split("_", 2)[2]: v for k, v in ref["features"].items()
                                         if k.startswith(f"original_{c}_")} for c in CLASSES})}
        for key, conf in ref["baseline_configurations"].items():
            cls, col = key.split("/")
            if cls not in CLASSES or col == case:
                continue
            suffix = col[len(case) + 1:]
            settings = {k: v for k, v in conf["settings"].items() if v is not None}
            entry = configs.setdefault(suffix, (settings, {}))
            entry[1][cls] = {k.split("_", 2)[2]: v["computed"] for k, v in conf["features"].items()}
        for suffix, (settings, expected) in configs.items():
            captured.clear()
            ext = featureextractor.RadiomicsFeatureExtractor(**settings)
            ext.disableAllFeatures()
            for c in expected:
                ext.enableFeatureClassByName(c)
            res = ext.execute(str(fx / f"{case}_image.nii.gz"), str(fx / f"{case}_label.nii.gz"))
            rerun = {c: {k.split("_", 2)[2]: clean(v) for k, v in res.items() if k.startswith(f"original_{c}_")}
                     for c in expected}
            worst = 0.0
            for c in expected:
                for k, v in expected[c].items():
                    r = rerun[c][k]
                    worst = max(worst, abs(r - v) / max(abs(v), 1e-300) if v != 0 else abs(r))
            name = f"{case}_{suffix}"
            np.save(OUT / f"{name}_levels.npy", captured["levels"])
            doc = {"source": f"fixtures/radiomics/{case}.json ({'features' if suffix == 'default' else suffix})",
                   "settings": settings, "ng": captured["ng"],
                   "params": params_of(settings, captured["spacing"]),
                   "reference": {c: {k: clean(v) for k, v in d.items()} for c, d in expected.items()},
                   "rerun": rerun, "max_rel_diff_rerun_vs_reference": worst}
            (OUT / f"{name}.json").write_text(json.dumps(doc, indent=1))
            print(f"{name}: shape {captured['levels'].shape} Ng {captured['ng']} rerun-vs-ref {worst:.2e}")
        for cls in CLASSES:
            shutil.copy(fx / f"{case}_{cls}.npy", OUT / f"{case}_{cls}.npy")
    for cls in CLASSES:
        shutil.copy(fx / f"baseline_{cls}.csv", OUT / f"baseline_{cls}.csv")


def run_classes(image, mask, settings, spacing_xyz):
    """Crops to the mask's bbox (as the extractor does) and runs each class directly."""
    zz, yy, xx = np.nonzero(mask)
    sl = tuple(slice(a.min(), a.max() + 1) for a in (zz, yy, xx))
    im = sitk.GetImageFromArray(image[sl].astype(np.float64))
    ma = sitk.GetImageFromArray(mask[sl].astype(np.uint8))
    for o in (im, ma):
        o.SetSpacing(spacing_xyz)
    out = {}
    captured.clear()
    for name, cls in CLASSES.items():
        try:
            inst = cls(im, ma, **settings)
            inst.enableAllFeatures()
            out[name] = {k: clean(v) for k, v in inst.execute().items()}
        except Exception as e:  # PyRadiomics raises for e.g. a 1x1x1 bbox
            out[name] = f"error: {type(e).__name__}: {e}"
    return out


def edge_fixtures():
    rng = np.random.default_rng(20240611)
    sp = (0.7, 0.8, 1.9)  # sitk (x, y, z)
    cases = {}
    img = rng.integers(0, 200, size=(3, 3, 3))
    m = np.zeros((3, 3, 3), bool)
    m[1, 1, 1] = True
    cases["single_voxel"] = (img, m, {})
    cases["constant"] = (np.full((3, 4, 5), 60), np.ones((3, 4, 5), bool), {})
    img = np.zeros((3, 3, 3))
    img[1, 1, 1], img[1, 1, 2] = 10, 40
    m = np.zeros((3, 3, 3), bool)
    m[1, 1, 1] = m[1, 1, 2] = True
    cases["two_voxels"] = (img, m, {})
    img = np.zeros((3, 3, 3))
    img[1, 0, 0], img[1, 1, 1] = 10, 90
    m = np.zeros((3, 3, 3), bool)
    m[1, 0, 0] = m[1, 1, 1] = True
    cases["two_voxels_diagonal"] = (img, m, {})
    img = rng.integers(0, 200, size=(6, 7, 8))
    m = rng.random((6, 7, 8)) < 0.6
    cases["random"] = (img, m, {})
    cases["force2d_z"] = (img, m, {"force2D": True, "force2Ddimension": 0})
    cases["force2d_y"] = (img, m, {"force2D": True, "force2Ddimension": 1})
    cases["d12_manhattan_asym_a1"] = (img, m, {"distances": [1, 2], "weightingNorm": "manhattan",
                                               "symmetricalGLCM": False, "gldm_a": 1})
    cases["euclidean"] = (img, m, {"weightingNorm": "euclidean"})
    cases["infinity"] = (img, m, {"weightingNorm": "infinity"})
    cases["no_weighting"] = (img, m, {"weightingNorm": "no_weighting"})
    cases["distance3"] = (img, m, {"distances": [3]})
    ms = rng.random((6, 7, 8)) < 0.12
    cases["sparse"] = (img, ms, {})
    m1 = np.zeros((6, 7, 8), bool)
    m1[2, 1:7, 2:8] = rng.random((6, 6)) < 0.8
    cases["single_slice"] = (img, m1, {})
    ml = np.zeros((6, 7, 8), bool)
    ml[2, 3, 1:7] = True
    cases["line"] = (img, ml, {})
    # the synthetic input of crates/radiomics/benches/texture.rs (48 levels, ~55k voxels): larger matrices
    z, y, x = np.meshgrid(np.arange(40), np.arange(50), np.arange(60), indexing="ij")
    d = ((z - 19.5) / 19.0) ** 2 + ((y - 24.5) / 24.0) ** 2 + ((x - 29.5) / 29.0) ** 2
    lv = 1 + (3 * z + 5 * y + 7 * x + (z * y * x) % 11 + (x // 4) * (y // 4)) % 48
    cases["synthetic48"] = (lv * 25.0, d < 1.0, {})
    for name, (image, mask, settings) in cases.items():
        res = run_classes(image, mask, settings, sp)
        levels = captured.get("levels")
        if levels is None:  # every class failed before binning: bin by hand (single voxel → level 1)
            zz, yy, xx = np.nonzero(mask)
            levels = np.ones((zz.ptp() + 1, yy.ptp() + 1, xx.ptp() + 1), np.uint16)
        ng = int(levels.max())
        np.save(OUT / f"edge_{name}_levels.npy", levels)
        doc = {"settings": settings, "ng": ng, "params": params_of(settings, sp[::-1]), "reference": res}
        (OUT / f"edge_{name}.json").write_text(json.dumps(doc, indent=1))
        print(f"edge_{name}: shape {levels.shape} Ng {ng}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "../shared"))
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    print("pyradiomics", radiomics.__version__)
    case_fixtures(Path(a.shared).resolve())
    edge_fixtures()
