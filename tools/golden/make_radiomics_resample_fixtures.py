#!/usr/bin/env python3
"""Golden fixtures for the `radiomics` crate's resampling, image types (filters), shape2D and force2D.

Reference: PyRadiomics 3.1 (`pyradiomics-bhklab` 3.1.4: `radiomics/imageoperations.py` `resampleImage`,
`get{Square,SquareRoot,Logarithm,Exponential,Gradient}Image`, `radiomics/shape2D.py`), SimpleITK
(`ResampleImageFilter` with sitkBSpline / sitkLinear / sitkNearestNeighbor, `GradientMagnitude`), numpy.

Writes into crates/radiomics/tests/data/resample/:
- <volume>_{image,mask}.nii.gz: generated (seeded) anisotropic volumes (int16 with negatives, float32);
- resampled_<case>_{image,mask}.nii.gz: what `imageoperations.resampleImage` returns (voxel-wise check);
- cases.json: per case the settings (as a params YAML text), the volume, and PyRadiomics' feature values
  (or the first line of its error).

Re-run:  /work/main/.venv/bin/python tools/golden/make_radiomics_resample_fixtures.py
"""
import json
import logging
import os

import numpy as np
import SimpleITK as sitk
import yaml
import radiomics
from radiomics import featureextractor, imageoperations

logging.getLogger("radiomics").setLevel(logging.ERROR)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "crates", "radiomics", "tests", "data", "resample")
os.makedirs(OUT, exist_ok=True)


def write(arr, spacing_zyx, name):
    img = sitk.GetImageFromArray(arr)
    img.SetSpacing(tuple(float(s) for s in spacing_zyx[::-1]))
    path = os.path.join(OUT, name)
    sitk.WriteImage(img, path, useCompression=True)
    return path


def volumes():
    rng = np.random.default_rng(20261127)
    z, y, x = np.mgrid[0:12, 0:22, 0:20]
    blob = (((z - 5.5) / 4.0) ** 2 + ((y - 10) / 7.0) ** 2 + ((x - 9) / 6.0) ** 2 < 1) | \
           (((z - 7) / 3.0) ** 2 + ((y - 15) / 3.5) ** 2 + ((x - 13) / 4.0) ** 2 < 1)
    blob &= rng.random(blob.shape) > 0.1
    smooth = 200 * np.sin(x / 3.0) + 150 * np.cos(y / 4.0) + 40 * z
    img = (smooth + rng.normal(0, 60, blob.shape)).astype(np.int16)
    fimg = (0.5 + 0.3 * np.sin(x / 2.5) * np.cos(y / 3.0) + rng.normal(0, 0.05, blob.shape)).astype(np.float32)
    vols = {"int16": (img, blob.astype(np.uint8), (3.0, 0.7, 0.9)),
            "float32": (fimg, blob.astype(np.uint8), (2.5, 0.8, 0.75))}
    # A single-slice ROI (z) and a single-column ROI (x) for shape2D.
    sl = np.zeros((5, 16, 14), np.uint8)
    sl[2, 3:12, 2:11] = 1
    sl[2, 5:7, 4:6] = 0
    sl[2, 11, 2:5] = 0
    vols["slice"] = ((rng.normal(100, 40, sl.shape)).astype(np.int16), sl, (4.0, 0.6, 0.7))
    col = np.zeros((12, 14, 5), np.uint8)
    col[2:10, 3:11, 2] = 1
    col[4:6, 5:8, 2] = 0
    vols["column"] = ((rng.normal(100, 40, col.shape)).astype(np.int16), col, (1.5, 0.6, 3.0))
    paths = {}
    for k, (a, m, sp) in vols.items():
        paths[k] = (write(a, sp, "%s_image.nii.gz" % k), write(m, sp, "%s_mask.nii.gz" % k))
    return paths


def run(paths, params_text):
    params = yaml.safe_load(params_text)
    ex = featureextractor.RadiomicsFeatureExtractor(params)
    try:
        res = ex.execute(*paths)
    except Exception as e:  # noqa: BLE001 - the error message is the golden value
        return {"error": str(e).splitlines()[0]}
    return {"features": {k: float(v) for k, v in res.items() if not k.startswith("diagnostics_")}}


def main():
    paths = volumes()
    all_classes = "featureClass:\n  shape:\n  firstorder:\n  glcm:\n  gldm:\n  glrlm:\n  glszm:\n  ngtdm:\n"
    cases = {}

    def case(name, volume, text, dump=False):
        entry = {"volume": volume, "params": text}
        entry.update(run(paths[volume], text))
        if dump:
            settings = yaml.safe_load(text)["setting"]
            img = sitk.ReadImage(paths[volume][0])
            msk = imageoperations.getMask(sitk.ReadImage(paths[volume][1]), **settings)
            ri, rm = imageoperations.resampleImage(img, msk, **settings)
            sitk.WriteImage(ri, os.path.join(OUT, "resampled_%s_image.nii.gz" % name), useCompression=True)
            sitk.WriteImage(sitk.Cast(rm, sitk.sitkUInt8), os.path.join(OUT, "resampled_%s_mask.nii.gz" % name),
                            useCompression=True)
            entry["resampled"] = {"size_xyz": list(ri.GetSize()), "spacing_xyz": list(ri.GetSpacing()),
                                  "origin_xyz": list(ri.GetOrigin())}
        cases[name] = entry
        print(name, entry.get("error") or "%d features" % len(entry["features"]))

    for interp in ("sitkBSpline", "sitkLinear", "sitkNearestNeighbor"):
        case("int16_1mm_%s" % interp[4:], "int16",
             "setting:\n  resampledPixelSpacing: [1, 1, 1]\n  interpolator: %s\n" % interp + all_classes, dump=True)
    case("int16_2mm_BSpline", "int16", "setting:\n  resampledPixelSpacing: [2, 2, 2]\n" + all_classes, dump=True)
    case("int16_inplane_BSpline", "int16",
         "setting:\n  resampledPixelSpacing: [0.5, 0.5, 0]\n  padDistance: 2\n" + all_classes, dump=True)
    case("float32_1mm_BSpline", "float32",
         "setting:\n  resampledPixelSpacing: [1, 1, 1]\n  binWidth: 0.05\n" + all_classes, dump=True)
    case("float32_1mm_Linear", "float32",
         "setting:\n  resampledPixelSpacing: [1, 1, 1]\n  interpolator: sitkLinear\n  binWidth: 0.05\n"
         + all_classes, dump=True)
    # Resampling + normalisation (normalised whole image first).
    case("int16_norm_2mm_Linear", "int16",
         "setting:\n  normalize: true\n  normalizeScale: 100\n  resampledPixelSpacing: [2, 2, 2]\n"
         "  interpolator: sitkLinear\n  binWidth: 5\n" + all_classes)
    # Image types (filters) on the int16 volume, the float32 volume and after resampling.
    filters = "imageType:\n  Original: {}\n  Square: {}\n  SquareRoot: {}\n  Logarithm: {}\n  Exponential: {}\n" \
              "  Gradient: {}\n"
    case("int16_filters", "int16", "setting:\n  binWidth: 25\n" + filters + all_classes)
    case("float32_filters", "float32", "setting:\n  binWidth: 0.05\n" + filters + all_classes)
    case("int16_gradient_nospacing_precrop", "int16",
         "setting:\n  gradientUseSpacing: false\n  preCrop: true\n  padDistance: 1\n"
         "imageType:\n  Gradient: {}\n  Square: {}\n" + all_classes)
    case("int16_filters_resampled", "int16",
         "setting:\n  resampledPixelSpacing: [2, 2, 2]\n  interpolator: sitkLinear\n" + filters + all_classes)
    # Wavelet (coif1, PyWavelets swtn via PyRadiomics _swt3): int16 (float64 transform), float32 (float32
    # transform), force2D (2-D bands), start_level 1 + level 2.
    case("int16_wavelet", "int16", "imageType:\n  Wavelet: {}\n" + all_classes)
    case("float32_wavelet", "float32", "setting:\n  binWidth: 0.05\nimageType:\n  Wavelet: {}\n" + all_classes)
    case("int16_wavelet_force2D", "int16", "setting:\n  force2D: true\n  force2Ddimension: 0\n"
         "imageType:\n  Original: {}\n  Wavelet: {}\nfeatureClass:\n  firstorder:\n  glszm:\n")
    case("int16_wavelet_levels", "int16", "setting:\n  start_level: 1\n  level: 2\n  wavelet: coif1\n  binWidth: 10\n"
         "imageType:\n  Wavelet: {}\nfeatureClass:\n  firstorder:\n  glcm:\n")
    # force2D texture and shape2D.
    for d in (0, 1, 2):
        case("int16_force2D_dim%d" % d, "int16",
             "setting:\n  force2D: true\n  force2Ddimension: %d\n" % d + all_classes)
    shape2d = "featureClass:\n  shape2D:\n  firstorder:\n  glcm:\n  glrlm:\n  glszm:\n  gldm:\n  ngtdm:\n"
    case("slice_shape2D", "slice", "setting:\n  force2D: true\n  force2Ddimension: 0\n" + shape2d)
    case("slice_shape2D_all", "slice",
         "setting:\n  force2D: true\n  force2Ddimension: 0\nfeatureClass:\n  shape2D: [SphericalDisproportion,"
         " Perimeter, MeshSurface, MaximumDiameter]\n  shape: [VoxelVolume]\n")
    case("column_shape2D", "column", "setting:\n  force2D: true\n  force2Ddimension: 2\n" + shape2d)
    case("int16_shape2D_multislice", "int16", "setting:\n  force2D: true\n  force2Ddimension: 0\n" + shape2d)
    with open(os.path.join(OUT, "cases.json"), "w") as f:
        json.dump({"producer": "tools/golden/make_radiomics_resample_fixtures.py",
                   "pyradiomics": radiomics.__version__, "numpy": np.__version__,
                   "SimpleITK": sitk.Version_VersionString(), "cases": cases}, f, indent=1)


if __name__ == "__main__":
    main()
