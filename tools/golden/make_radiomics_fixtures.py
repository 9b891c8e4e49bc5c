#!/usr/bin/env python3
"""Golden fixtures for the `radiomics` crate, computed by PyRadiomics.

Reference: PyRadiomics 3.1 (`pip install pyradiomics-bhklab` into /work/main/.venv; the same feature maths as
AIM-Harvard/pyradiomics 3.1.0), SimpleITK, numpy.

Writes small NIfTI images/masks and JSON feature values into crates/radiomics/tests/data/:

- brain1_crop_{image,label}.nii.gz: the shared brain1 case cropped to its ROI bounding box + 3 voxels (the
  Original-image features depend only on the bounding-box crop); the JSON check below proves that
  PyRadiomics gives the shared reference values on the crop.
- golden_<case>_{image,mask}.nii.gz + golden_cases.json: generated volumes (seeded) — an irregular ROI with
  anisotropic spacing (int16), a float32 image, a tiny ROI (minimumROIDimensions 1), binCount, a
  non-default params YAML (written as golden_params.yaml), a constant ROI, label 2, a two-voxel ROI.

Re-run:  /work/main/.venv/bin/python tools/golden/make_radiomics_fixtures.py
"""
import json
import logging
import os
import sys

import numpy as np
import SimpleITK as sitk
import radiomics
from radiomics import featureextractor

logging.getLogger("radiomics").setLevel(logging.ERROR)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "crates", "radiomics", "tests", "data")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "fixtures", "radiomics")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/fixtures/radiomics"


def write(arr, spacing_zyx, path, origin=(0.0, 0.0, 0.0)):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(tuple(float(s) for s in spacing_zyx[::-1]))
    img.SetOrigin(origin)
    sitk.WriteImage(img, path, useCompression=True)


def features(image_path, mask_path, params=None, **kwargs):
    ex = featureextractor.RadiomicsFeatureExtractor(params, **kwargs) if params else \
        featureextractor.RadiomicsFeatureExtractor(**kwargs)
    if not params:
        ex.enableFeaturesByName(shape=["Compactness1", "Compactness2", "SphericalDisproportion"] +
                                list(k for k, v in radiomics.getFeatureClasses()["shape"].getFeatureNames().items()
                                     if not v),
                                firstorder=[], glcm=[], gldm=[], glrlm=[], glszm=[], ngtdm=[])
    try:
        res = ex.execute(image_path, mask_path)
    except Exception as e:  # noqa: BLE001 - the error message is the golden value
        return {"error": str(e).splitlines()[0]}
    return {"features": {k: float(v) for k, v in res.items() if not k.startswith("diagnostics_")}}


def crop_brain1():
    img = sitk.ReadImage(os.path.join(SHARED, "brain1_image.nii.gz"))
    lab = sitk.ReadImage(os.path.join(SHARED, "brain1_label.nii.gz"))
    m = sitk.GetArrayFromImage(lab)
    idx = np.argwhere(m == 1)
    lo = np.maximum(idx.min(0) - 3, 0)
    hi = np.minimum(idx.max(0) + 4, m.shape)
    # Crop with SimpleITK (keeps pixel types and float32 geometry); index order x, y, z.
    start = [int(v) for v in lo[::-1]]
    size = [int(v) for v in (hi - lo)[::-1]]
    ci = sitk.RegionOfInterest(img, size, start)
    cl = sitk.RegionOfInterest(lab, size, start)
    ip = os.path.join(OUT, "brain1_crop_image.nii.gz")
    lp = os.path.join(OUT, "brain1_crop_label.nii.gz")
    sitk.WriteImage(ci, ip, useCompression=True)
    sitk.WriteImage(cl, lp, useCompression=True)
    ref = json.load(open(os.path.join(SHARED, "brain1.json")))["features"]
    got = featureextractor.RadiomicsFeatureExtractor().execute(ip, lp)
    worst = max(abs(float(got[k]) - v) / max(abs(v), 1e-300) for k, v in ref.items())
    print("brain1 crop vs shared reference: max rel diff %.3g" % worst)
    assert worst < 1e-9


def generated():
    rng = np.random.default_rng(20240611)
    cases = {}

    def case(name, image, mask, spacing, params=None, **kwargs):
        ip = os.path.join(OUT, "golden_%s_image.nii.gz" % name)
        mp = os.path.join(OUT, "golden_%s_mask.nii.gz" % name)
        write(image, spacing, ip)
        write(mask, spacing, mp)
        # Spacing as read back (float32 in NIfTI), array order.
        sp = list(sitk.ReadImage(mp).GetSpacing())[::-1]
        entry = {"spacing_zyx": sp, "settings": kwargs, "params": params, "dtype": str(image.dtype)}
        entry.update(features(ip, mp, os.path.join(OUT, params) if params else None, **kwargs))
        cases[name] = entry
        print(name, "error: " + entry["error"] if "error" in entry else "%d features" % len(entry["features"]))

    # Irregular ROI (union of two blobs with holes), anisotropic spacing, int16 with negatives.
    z, y, x = np.mgrid[0:14, 0:20, 0:18]
    blob = (((z - 6) / 4.5) ** 2 + ((y - 8) / 6.0) ** 2 + ((x - 8) / 5.0) ** 2 < 1) | \
           (((z - 9) / 3.0) ** 2 + ((y - 13) / 3.5) ** 2 + ((x - 12) / 4.0) ** 2 < 1)
    blob &= rng.random(blob.shape) > 0.15
    img = (rng.normal(40, 60, blob.shape) + 3 * y).astype(np.int16)
    case("irregular", img, blob.astype(np.uint8), (3.0, 0.7, 0.9))
    # Float32 image, fractional bin width.
    fimg = (rng.normal(0.5, 0.2, blob.shape)).astype(np.float32)
    case("float32", fimg, blob.astype(np.uint8), (1.2, 1.0, 1.1), binWidth=0.05)
    # binCount.
    case("bincount", img, blob.astype(np.uint8), (2.0, 1.0, 1.0), binCount=16)
    # Non-default params file.
    params = os.path.join(OUT, "golden_params.yaml")
    with open(params, "w") as f:
        f.write("""# PyRadiomics params file used by tools/golden/make_radiomics_fixtures.py
imageType:
  Original: {}
featureClass:
  shape: [VoxelVolume, Maximum3DDiameter, Compactness2]
  firstorder: [Median, StandardDeviation, Energy, Entropy]
  glcm:
setting:
  binWidth: 10
  label: 2
  voxelArrayShift: 100
  minimumROIDimensions: 2
""")
    case("params", img, (2 * blob).astype(np.uint8), (2.5, 0.8, 0.8), params="golden_params.yaml")
    # Tiny ROI: three voxels in a row (needs minimumROIDimensions 1).
    small = np.zeros((5, 6, 7), np.uint8)
    small[2, 3, 2:5] = 1
    simg = rng.integers(0, 200, small.shape).astype(np.int16)
    case("line", simg, small, (1.0, 1.0, 1.0), minimumROIDimensions=1)
    # The same ROI with the default minimumROIDimensions 2 → error.
    case("line_default", simg, small, (1.0, 1.0, 1.0))
    # Constant ROI (flat region).
    flat = np.zeros((6, 6, 6), np.uint8)
    flat[1:5, 2:5, 1:4] = 1
    case("constant", np.full(flat.shape, 77, np.int16), flat, (1.0, 2.0, 1.0))
    # Single voxel → error; label absent → error.
    one = np.zeros((4, 4, 4), np.uint8)
    one[1, 2, 1] = 1
    case("single_voxel", simg[:4, :4, :4].copy(), one, (1.0, 1.0, 1.0))
    case("label_absent", simg[:4, :4, :4].copy(), one, (1.0, 1.0, 1.0), label=3)
    # Single-slice ROI (2-D in 3-D).
    sl = np.zeros((3, 8, 8), np.uint8)
    sl[1, 2:6, 1:7] = 1
    sl[1, 3, 3] = 0
    case("single_slice", rng.integers(-50, 300, sl.shape).astype(np.int16), sl, (5.0, 0.5, 0.5))
    with open(os.path.join(OUT, "golden_cases.json"), "w") as f:
        json.dump({"producer": "tools/golden/make_radiomics_fixtures.py",
                   "pyradiomics": radiomics.__version__, "numpy": np.__version__,
                   "SimpleITK": sitk.Version_VersionString(), "cases": cases}, f, indent=1)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    crop_brain1()
    generated()
    sys.exit(0)
