"""Golden fixtures for the per-case preprocessing pipeline and the inverse export (nnU-Net v2 and v1).

Produces ``crates/nnunet-preproc/tests/data/preprocess/<case>/`` for a handful of small seeded synthetic cases:

* ``input_data.npy`` (C, z, y, x) float32, ``input_seg.npy`` (z, y, x) int16 (absent for "noseg" cases),
  ``meta.json`` (spacing, target spacing, transpose, normalisation, use_mask_for_norm, labels, SimpleITK geometry);
* ``v2_data.npy`` / ``v2_seg.npy`` / ``v2_props.json``: nnunetv2 2.8.1
  ``DefaultPreprocessor().run_case_npy`` with a minimal plans dict (PlansManager/ConfigurationManager);
* ``v1_data.npy`` / ``v1_seg.npy`` / ``v1_props.json``: nnU-Net v1 1.7.1 ``ImageCropper.crop`` then
  ``GenericPreprocessor(...).resample_and_normalize`` (what ``preprocess_test_case`` does after reading files);
* for the export cases, ``logits_k{K}.npy`` (K, z', y', x') float32 in preprocessed space and
  ``v2_export_k{K}.npy`` (nnunetv2 ``convert_predicted_logits_to_segmentation_with_correct_shape``),
  ``v1_export_k{K}.npy`` (nnU-Net v1 ``save_segmentation_nifti_from_softmax``, read back from the written NIfTI),
  ``softmax_k{K}.npy`` (the float32 softmax of the logits, preprocessed space: v1's export input) and
  ``v1_probs_k{K}.npy`` (v1's resampled softmax, the float32 array the export takes the argmax of, computed with the
  same ``resample_data_or_seg`` call the export makes, pasted into the full original shape with background 1 and
  other classes 0 outside the crop box, original axis order).

Re-run with ``.venv/bin/python tools/golden/make_preprocess_fixtures.py`` from the repository root.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import torch
from scipy.ndimage import gaussian_filter

from nnunetv2.inference.export_prediction import convert_predicted_logits_to_segmentation_with_correct_shape
from nnunetv2.preprocessing.preprocessors.default_preprocessor import DefaultPreprocessor
from nnunetv2.utilities.plans_handling.plans_handler import PlansManager

from nnunet.inference.segmentation_export import save_segmentation_nifti_from_softmax
from nnunet.preprocessing.cropping import ImageCropper
from nnunet.preprocessing.preprocessing import GenericPreprocessor, resample_data_or_seg as v1_resample
from nnunet.preprocessing.preprocessing import get_do_separate_z, get_lowres_axis

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "nnunet-preproc" / "tests" / "data" / "preprocess"


def smooth_field(rng, shape, sigma):
    f = gaussian_filter(rng.standard_normal(shape), sigma)
    return f / (np.abs(f).max() + 1e-12)


def make_case(seed, shape, n_channels, n_labels, border, corner_zero=False):
    """Smooth positive intensities, a zero border of per-side widths ``border`` ((lo, hi) per axis), interior holes
    (zero voxels enclosed by nonzero ones, filled by binary_fill_holes) and optionally a zero corner region connected
    to the border inside the bounding box (so the nonzero mask is smaller than the box)."""
    rng = np.random.default_rng(seed)
    data = np.zeros((n_channels, *shape), dtype=np.float32)
    for c in range(n_channels):
        data[c] = (100.0 + 40.0 * c + 60.0 * smooth_field(rng, shape, 2.0)).astype(np.float32)
    inside = np.zeros(shape, dtype=bool)
    sl = tuple(slice(lo, s - hi) for (lo, hi), s in zip(border, shape))
    inside[sl] = True
    if corner_zero:
        # a quarter block in one corner of the box, touching the box's border
        z0, y0, x0 = (b[0] for b in border)
        dz, dy, dx = ((s - lo - hi) // 2 for (lo, hi), s in zip(border, shape))
        inside[z0:z0 + dz, y0:y0 + dy, x0:x0 + dx] = False
    data[:, ~inside] = 0.0
    # interior holes: a few isolated zero voxels well inside
    idx = np.argwhere(inside)
    centre = idx[(np.abs(idx - idx.mean(0)) < 2).all(1)]
    for p in centre[:: max(1, len(centre) // 4)][:4]:
        data[(slice(None), *p)] = 0.0
    # segmentation from another smooth field, inside the nonzero region (plus a little spill outside)
    f = smooth_field(rng, shape, 2.5)
    seg = np.zeros(shape, dtype=np.int16)
    seg[f > 0.25] = 1
    if n_labels == 3:
        seg[f > 0.6] = 2
    seg[~inside] = 0
    return data, seg


CASES = [
    # name, seed, shape, C, labels, spacing, target, transpose_forward, use_mask, border, corner, seg?, export?
    dict(name="aniso", seed=1, shape=(14, 28, 26), C=2, K=2, spacing=[1.5, 0.7, 0.7], target=[1.0, 1.0, 1.0],
         tf=[0, 1, 2], mask=False, border=[(1, 2), (3, 1), (2, 2)], corner=False, seg=True, export=True),
    dict(name="aniso_noseg", seed=1, shape=(14, 28, 26), C=2, K=2, spacing=[1.5, 0.7, 0.7], target=[1.0, 1.0, 1.0],
         tf=[0, 1, 2], mask=False, border=[(1, 2), (3, 1), (2, 2)], corner=False, seg=False, export=False),
    dict(name="iso", seed=2, shape=(22, 24, 20), C=3, K=3, spacing=[0.8, 0.8, 0.8], target=[1.0, 1.0, 1.0],
         tf=[0, 1, 2], mask=False, border=[(2, 1), (1, 2), (2, 1)], corner=False, seg=True, export=False),
    dict(name="same", seed=3, shape=(16, 18, 20), C=2, K=2, spacing=[1.0, 1.0, 1.0], target=[1.0, 1.0, 1.0],
         tf=[0, 1, 2], mask=False, border=[(0, 0), (1, 1), (0, 2)], corner=False, seg=True, export=False),
    dict(name="sepz", seed=4, shape=(8, 30, 28), C=2, K=2, spacing=[3.5, 0.75, 0.75], target=[1.0, 1.0, 1.0],
         tf=[0, 1, 2], mask=False, border=[(1, 0), (2, 3), (1, 2)], corner=False, seg=True, export=True),
    dict(name="masked", seed=5, shape=(18, 26, 24), C=2, K=3, spacing=[1.2, 0.9, 0.9], target=[1.0, 1.0, 1.0],
         tf=[0, 1, 2], mask=True, border=[(2, 1), (1, 3), (2, 2)], corner=True, seg=True, export=False),
    dict(name="masked_noseg", seed=5, shape=(18, 26, 24), C=2, K=3, spacing=[1.2, 0.9, 0.9],
         target=[1.0, 1.0, 1.0], tf=[0, 1, 2], mask=True, border=[(2, 1), (1, 3), (2, 2)], corner=True, seg=False,
         export=False),
    dict(name="transposed", seed=6, shape=(26, 24, 8), C=2, K=2, spacing=[0.75, 0.75, 3.0], target=[1.0, 1.0, 1.0],
         tf=[2, 0, 1], mask=False, border=[(2, 1), (1, 2), (1, 0)], corner=False, seg=True, export=True),
]


def inverse_perm(p):
    inv = [0] * len(p)
    for i, j in enumerate(p):
        inv[j] = i
    return inv


def plans_dict(case):
    C = case["C"]
    return {
        "dataset_name": "Dataset999_Golden",
        "plans_name": "nnUNetPlans",
        "original_median_spacing_after_transp": [case["spacing"][i] for i in case["tf"]],
        "original_median_shape_after_transp": [case["shape"][i] for i in case["tf"]],
        "image_reader_writer": "SimpleITKIO",
        "transpose_forward": case["tf"],
        "transpose_backward": inverse_perm(case["tf"]),
        "experiment_planner_used": "ExperimentPlanner",
        "label_manager": "LabelManager",
        "foreground_intensity_properties_per_channel": {
            str(c): {"mean": 0.0, "median": 0.0, "std": 1.0, "min": 0.0, "max": 1.0, "percentile_99_5": 1.0,
                     "percentile_00_5": 0.0} for c in range(C)},
        "configurations": {
            "3d_fullres": {
                "data_identifier": "nnUNetPlans_3d_fullres",
                "preprocessor_name": "DefaultPreprocessor",
                "batch_size": 2,
                "patch_size": [16, 16, 16],
                "median_image_size_in_voxels": [16, 16, 16],
                "spacing": case["target"],
                "normalization_schemes": ["ZScoreNormalization"] * C,
                "use_mask_for_norm": [case["mask"]] * C,
                "resampling_fn_data": "resample_data_or_seg_to_shape",
                "resampling_fn_seg": "resample_data_or_seg_to_shape",
                "resampling_fn_data_kwargs": {"is_seg": False, "order": 3, "order_z": 0, "force_separate_z": None},
                "resampling_fn_seg_kwargs": {"is_seg": True, "order": 1, "order_z": 0, "force_separate_z": None},
                "resampling_fn_probabilities": "resample_data_or_seg_to_shape",
                "resampling_fn_probabilities_kwargs": {"is_seg": False, "order": 1, "order_z": 0,
                                                       "force_separate_z": None},
                "architecture": {"network_class_name": "dummy", "arch_kwargs": {}, "_kw_requires_import": []},
                "batch_dice": False,
            }
        },
    }


def labels_dict(k):
    d = {"background": 0}
    for i in range(1, k):
        d[f"class{i}"] = i
    return d


def to_list(x):
    return [int(i) for i in x]


def class_counts(seg, labels):
    return {str(l): int((seg == l).sum()) for l in labels}


def run_v2(case, data, seg, dataset_json):
    pm = PlansManager(plans_dict(case))
    cm = pm.get_configuration("3d_fullres")
    props = {"spacing": list(case["spacing"])}
    pre = DefaultPreprocessor(verbose=False)
    d, s, p = pre.run_case_npy(data.copy(), None if seg is None else seg[None].copy(), props, pm, cm, dataset_json)
    out = {
        "shape_before_cropping": to_list(p["shape_before_cropping"]),
        "bbox_used_for_cropping": [to_list(b) for b in p["bbox_used_for_cropping"]],
        "shape_after_cropping_and_before_resampling": to_list(p["shape_after_cropping_and_before_resampling"]),
        "new_shape": to_list(d.shape[1:]),
        "class_location_counts": {str(k): int(len(v)) for k, v in p.get("class_locations", {}).items()},
        "seg_counts": class_counts(s[0], range(-1, case["K"])),
    }
    return d.astype(np.float32), s[0].astype(np.int16), out, p, pm, cm


def run_v1(case, data, seg):
    props = {"original_spacing": np.array(case["spacing"])}
    seg_in = None if seg is None else seg[None].astype(np.float32)
    d, s, props = ImageCropper.crop(data.copy(), props, seg_in)
    shape_after_crop = d.shape[1:]
    tf = case["tf"]
    d = d.transpose((0, *[i + 1 for i in tf]))
    s = s.transpose((0, *[i + 1 for i in tf]))
    C = case["C"]
    pre = GenericPreprocessor({c: "MRI" for c in range(C)}, {c: case["mask"] for c in range(C)}, tf, None)
    old_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")
    try:
        d, s, props = pre.resample_and_normalize(d, np.array(case["target"]), props, s, force_separate_z=None)
    finally:
        sys.stdout.close()
        sys.stdout = old_stdout
    out = {
        "shape_before_cropping": to_list(data.shape[1:]),
        "bbox_used_for_cropping": [to_list(b) for b in props["crop_bbox"]],
        "shape_after_cropping_and_before_resampling": to_list(shape_after_crop),
        "new_shape": to_list(d.shape[1:]),
        "seg_counts": class_counts(s[-1], range(-1, case["K"])),
    }
    return d.astype(np.float32), s[-1].astype(np.int16), out, props


def softmax(x):
    e = np.exp(x - x.max(0, keepdims=True))
    return (e / e.sum(0, keepdims=True)).astype(np.float32)


def export_case(case, k, rng, v2_props, pm, cm, v1_props, data_shape, folder):
    new_shape = tuple(v2_props["new_shape"])
    logits = np.stack([3.0 * smooth_field(rng, new_shape, 1.5) for _ in range(k)]).astype(np.float32)
    np.save(folder / f"logits_k{k}.npy", logits)

    # v2
    lm = pm.get_label_manager({"labels": labels_dict(k)})
    props = dict(v2_props["_raw"])
    seg2 = convert_predicted_logits_to_segmentation_with_correct_shape(
        torch.from_numpy(logits.copy()), pm, cm, lm, props, return_probabilities=False, num_threads_torch=1)
    np.save(folder / f"v2_export_k{k}.npy", np.asarray(seg2).astype(np.uint8))

    # v1: the network output is transposed back before export, properties are un-transposed
    tb = inverse_perm(case["tf"])
    sm_pre = softmax(logits)
    np.save(folder / f"softmax_k{k}.npy", sm_pre)
    sm = np.ascontiguousarray(sm_pre.transpose([0] + [i + 1 for i in tb]))
    p1 = {
        "original_spacing": np.array(case["spacing"]),
        "spacing_after_resampling": np.array(case["target"]),
        "size_after_cropping": tuple(v1_props["shape_after_cropping_and_before_resampling"]),
        "original_size_of_raw_data": np.array(data_shape),
        "crop_bbox": [list(b) for b in v1_props["bbox_used_for_cropping"]],
        "itk_spacing": tuple(float(s) for s in case["spacing"][::-1]),
        "itk_origin": (0.0, 0.0, 0.0),
        "itk_direction": (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "seg.nii.gz")
        old_stdout = sys.stdout
        sys.stdout = open(os.devnull, "w")
        try:
            save_segmentation_nifti_from_softmax(sm.copy(), out, p1, order=1, force_separate_z=None,
                                                 interpolation_order_z=0, verbose=False)
        finally:
            sys.stdout.close()
            sys.stdout = old_stdout
        seg1 = sitk.GetArrayFromImage(sitk.ReadImage(out)).astype(np.uint8)
    np.save(folder / f"v1_export_k{k}.npy", seg1)

    # v1's resampled softmax in the cropped box (the same call the export makes)
    target_shape = p1["size_after_cropping"]
    if get_do_separate_z(p1["original_spacing"]):
        sep, axis = True, get_lowres_axis(p1["original_spacing"])
    elif get_do_separate_z(p1["spacing_after_resampling"]):
        sep, axis = True, get_lowres_axis(p1["spacing_after_resampling"])
    else:
        sep, axis = False, None
    if axis is not None and len(axis) != 1:
        sep = False
    old_stdout = sys.stdout
    sys.stdout = open(os.devnull, "w")
    try:
        probs = v1_resample(sm.copy(), target_shape, False, axis, 1, sep, 0)
    finally:
        sys.stdout.close()
        sys.stdout = old_stdout
    full = np.zeros((k, *data_shape), dtype=np.float32)
    full[0] = 1.0
    bb = p1["crop_bbox"]
    full[:, bb[0][0]:bb[0][1], bb[1][0]:bb[1][1], bb[2][0]:bb[2][1]] = probs.astype(np.float32)
    np.save(folder / f"v1_probs_k{k}.npy", full)
    return {"k": k, "v2_counts": class_counts(np.asarray(seg2), range(k)),
            "v1_counts": class_counts(seg1, range(k))}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {}
    for case in CASES:
        folder = OUT / case["name"]
        folder.mkdir(parents=True, exist_ok=True)
        for f in folder.glob("*"):
            f.unlink()
        data, seg = make_case(case["seed"], case["shape"], case["C"], case["K"], case["border"], case["corner"])
        if not case["seg"]:
            seg = None
        np.save(folder / "input_data.npy", data)
        if seg is not None:
            np.save(folder / "input_seg.npy", seg)
        dataset_json = {"labels": labels_dict(case["K"]), "channel_names": {str(c): f"ch{c}" for c in range(case["C"])},
                        "file_ending": ".nii.gz"}
        meta = {
            "spacing": case["spacing"],
            "target_spacing": case["target"],
            "transpose_forward": case["tf"],
            "transpose_backward": inverse_perm(case["tf"]),
            "use_mask_for_norm": case["mask"],
            "n_channels": case["C"],
            "n_labels": case["K"],
            "has_seg": case["seg"],
            "reference": "nnunetv2 2.8.1 DefaultPreprocessor.run_case_npy; nnunet 1.7.1 GenericPreprocessor",
        }
        (folder / "meta.json").write_text(json.dumps(meta, indent=1))

        d2, s2, p2, raw2, pm, cm = run_v2(case, data, seg, dataset_json)
        np.save(folder / "v2_data.npy", d2)
        np.save(folder / "v2_seg.npy", s2)
        (folder / "v2_props.json").write_text(json.dumps(p2, indent=1))

        d1, s1, p1, raw1 = run_v1(case, data, seg)
        np.save(folder / "v1_data.npy", d1)
        np.save(folder / "v1_seg.npy", s1)
        (folder / "v1_props.json").write_text(json.dumps(p1, indent=1))

        summary[case["name"]] = {"v2_new_shape": p2["new_shape"], "v1_new_shape": p1["new_shape"],
                                 "v2_bbox": p2["bbox_used_for_cropping"]}
        if case["export"]:
            rng = np.random.default_rng(1000 + case["seed"])
            p2["_raw"] = raw2
            ex = [export_case(case, k, rng, p2, pm, cm, p1, data.shape[1:], folder) for k in (2, 3)]
            summary[case["name"]]["export"] = ex
    print(json.dumps(summary, indent=1))
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"total fixture size: {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
