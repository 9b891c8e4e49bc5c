"""Golden fixtures for `nnunet_preproc::resample` (nnU-Net v2 and v1 resampling).

Produces ``crates/nnunet-preproc/tests/data/resample/``:

* ``manifest.json``: one entry per resampling case (input/output file names, spacings, new shape, orders,
  ``force_separate_z``, segmentation tie rule, reference function) plus the ``new_shape`` and ``separate_z``
  decision tables;
* ``<case>_in.npy`` / ``<case>_out.npy``: small seeded inputs ((C, z, y, x) float32 data or (z, y, x) int16
  segmentations with labels {-1, 0, 1, 2}) and the reference outputs.

Reference functions (called, not re-implemented), installed versions pinned in ``requirements.txt``:

* nnunetv2 2.8.1 ``nnunetv2/preprocessing/resampling/default_resampling.py``: ``compute_new_shape``,
  ``determine_do_sep_z_and_axis``, ``resample_data_or_seg_to_shape`` with the planner's kwargs
  (data ``order=3, order_z=0``; seg ``is_seg=True, order=1, order_z=0``; export ``order=1, order_z=0``);
* nnU-Net v1 1.7.1 ``nnunet/preprocessing/preprocessing.py``: ``resample_patient`` (data order 3, seg order 1,
  ``order_z`` 0) and ``resample_data_or_seg`` (the export's order-1 softmax resampling);
* batchgenerators 0.25.5 ``augmentations/utils.py``: ``resize_segmentation`` with ``seg_tiebreak`` 'nearest'
  (default), 'lowest', 'highest'.  The *legacy* rule (batchgenerators <= 0.25 before the argmax rewrite:
  ``for c in np.unique(seg): out[resize(seg == c, order=1) >= 0.5] = c``) no longer exists in the installed
  package; ``legacy_resize_segmentation`` below restates it on top of skimage ``resize`` so that the old
  behaviour stays testable.

Re-run with ``.venv/bin/python tools/golden/make_resample_fixtures.py`` from the repository root.
"""

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from scipy.ndimage import gaussian_filter
from skimage.transform import resize

from batchgenerators.augmentations.utils import resize_segmentation
from nnunetv2.preprocessing.resampling.default_resampling import (
    compute_new_shape,
    determine_do_sep_z_and_axis,
    resample_data_or_seg_to_shape,
)
from nnunet.preprocessing.preprocessing import resample_patient, resample_data_or_seg as v1_resample_data_or_seg
from nnunet.preprocessing.preprocessing import get_do_separate_z, get_lowres_axis

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "crates" / "nnunet-preproc" / "tests" / "data" / "resample"


def smooth_data(seed, n_channels, shape):
    """Smooth random channels in about [-3, 5], the last channel with a sharp step (spline overshoot → clip)."""
    rng = np.random.default_rng(seed)
    data = np.zeros((n_channels, *shape), dtype=np.float32)
    for c in range(n_channels):
        f = gaussian_filter(rng.standard_normal(shape), 1.5)
        f = f / (np.abs(f).max() + 1e-12)
        data[c] = (1.0 + 4.0 * f).astype(np.float32)
    step = np.zeros(shape, dtype=np.float32)
    step[..., shape[-1] // 2:] = 2.5
    data[-1] += step
    return data


def label_map(seed, shape):
    """Labels {-1, 0, 1, 2}: -1 outside a box, a smooth blob of 1, a one-voxel-thick plane and line of 2, and a
    checkerboard patch (many exact ties after even-factor resizing)."""
    rng = np.random.default_rng(seed)
    seg = np.zeros(shape, dtype=np.int16)
    z, y, x = shape
    seg[: max(1, z // 6)] = -1
    seg[:, : max(1, y // 7)] = -1
    f = gaussian_filter(rng.standard_normal(shape), 2.0)
    seg[(f > 0.15 * np.abs(f).max()) & (seg == 0)] = 1
    seg[:, y // 2, :] = 2
    seg[z // 2, :, x // 3] = 2
    cz, cy, cx = z // 2, (3 * y) // 4, (3 * x) // 4
    sl = (slice(max(0, cz - 2), cz + 2), slice(max(0, cy - 2), cy + 2), slice(max(0, cx - 2), cx + 2))
    patch = np.indices(seg[sl].shape).sum(axis=0) % 3 - 1
    seg[sl] = patch.astype(np.int16)
    return seg


def legacy_resize_segmentation(segmentation, new_shape, order=1):
    """batchgenerators' resize_segmentation before the argmax rewrite (ascending labels, last >= 0.5 wins)."""
    reshaped = np.zeros(new_shape, dtype=segmentation.dtype)
    for c in np.unique(segmentation):
        mask = segmentation == c
        multihot = resize(mask.astype(float), new_shape, order, mode="edge", clip=True, anti_aliasing=False)
        reshaped[multihot >= 0.5] = c
    return reshaped


def quiet(fn, *args, **kwargs):
    """v1 prints progress lines; keep the fixture run readable."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kwargs)


def v1_axis(current, new):
    """The separate-z decision exactly as v1's resample_patient / save_segmentation_nifti_from_softmax make it."""
    if get_do_separate_z(current):
        axis = get_lowres_axis(current)
    elif get_do_separate_z(new):
        axis = get_lowres_axis(new)
    else:
        return None
    return int(axis[0]) if len(axis) == 1 else None


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.glob("*.npy"):
        old.unlink()
    cases = []

    def save(name, arr):
        np.save(OUT / name, arr)
        return name

    def add(name, kind, version, inp, out, cur, new, order, order_z, force, rule=None, reference=""):
        entry = {
            "name": name,
            "kind": kind,
            "version": version,
            "input": save(f"{name}_in.npy", inp),
            "output": save(f"{name}_out.npy", out),
            "current_spacing": [float(s) for s in cur],
            "new_spacing": [float(s) for s in new],
            "new_shape": [int(s) for s in out.shape[-3:]],
            "order": order,
            "order_z": order_z,
            "force_separate_z": force,
            "rule": rule,
            "reference": reference,
        }
        cases.append(entry)

    ref_v2 = "nnunetv2 2.8.1 resample_data_or_seg_to_shape"

    # ---- v2 data, order 3 (the planner's resampling_fn_data kwargs) ---------------------------------------
    data_cases = [
        ("iso_up", 11, (2, 12, 20, 18), [1.0, 1.0, 1.0], [0.7, 0.7, 0.7], None),
        ("iso_down", 12, (2, 12, 20, 18), [1.0, 1.0, 1.0], [1.6, 1.6, 1.6], None),
        ("aniso_3d", 13, (2, 12, 20, 18), [1.5, 0.7, 0.7], [1.0, 1.0, 1.0], None),
        ("sepz_axis0", 14, (2, 8, 20, 18), [3.5, 0.8, 0.8], [1.0, 1.0, 1.0], None),
        ("sepz_axis2", 15, (2, 18, 16, 7), [0.8, 0.9, 3.2], [1.0, 1.0, 1.0], None),
        ("sepz_axis1_from_new", 16, (2, 14, 12, 16), [1.0, 1.0, 1.0], [1.1, 3.6, 0.9], None),
        ("slab", 17, (2, 1, 24, 22), [2.0, 0.6, 0.6], [2.0, 1.0, 1.0], None),
        ("tie_no_sepz", 18, (2, 20, 9, 8), [0.5, 1.6, 1.6], [1.0, 1.0, 1.0], None),
        ("forced_sepz", 19, (2, 10, 16, 14), [2.0, 1.0, 1.0], [1.0, 0.8, 0.8], True),
        ("never_sepz", 20, (2, 8, 20, 18), [3.5, 0.8, 0.8], [1.0, 1.0, 1.0], False),
        ("downsample_z_sepz", 21, (2, 12, 16, 14), [1.0, 1.0, 1.0], [3.4, 0.9, 0.9], None),
        ("z_down_inplane_up", 25, (2, 18, 12, 12), [0.6, 1.4, 1.4], [1.0, 1.0, 1.0], None),  # z pass first
    ]
    for name, seed, shape, cur, new, force in data_cases:
        data = smooth_data(seed, shape[0], shape[1:])
        new_shape = compute_new_shape(shape[1:], cur, new)
        out = resample_data_or_seg_to_shape(data, new_shape, cur, new, is_seg=False, order=3, order_z=0,
                                            force_separate_z=force)
        add(name, "data", "v2", data, np.asarray(out, dtype=np.float32), cur, new, 3, 0, force,
            reference=ref_v2 + " (is_seg=False, order=3, order_z=0)")

    # ---- v2 export: order-1 logits (planner's resampling_fn_probabilities kwargs) ------------------------
    export_cases = [
        ("export_3d", 22, (3, 14, 12, 12), [1.0, 1.0, 1.0], [1.5, 0.7, 0.7]),
        ("export_sepz", 23, (3, 16, 12, 12), [1.0, 1.0, 1.0], [3.5, 0.8, 0.8]),
        ("export_sepz_up", 24, (2, 4, 12, 12), [3.0, 0.9, 0.9], [1.0, 1.0, 1.0]),
    ]
    for name, seed, shape, cur, new in export_cases:
        logits = smooth_data(seed, shape[0], shape[1:]) * 3.0
        new_shape = compute_new_shape(shape[1:], cur, new)
        out = resample_data_or_seg_to_shape(logits, new_shape, cur, new, is_seg=False, order=1, order_z=0,
                                            force_separate_z=None)
        add(name, "data", "v2", logits, np.asarray(out, dtype=np.float32), cur, new, 1, 0, None,
            reference=ref_v2 + " (is_seg=False, order=1, order_z=0)")

    # ---- v2 segmentation, order 1 (argmax, nearest tie-break) ---------------------------------------------
    seg_cases = [
        ("seg_half", 31, (12, 20, 18), [1.0, 1.0, 1.0], [2.0, 2.0, 2.0], None),
        ("seg_double", 32, (8, 10, 9), [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], None),
        ("seg_aniso_3d", 33, (12, 20, 18), [1.5, 0.7, 0.7], [1.0, 1.0, 1.0], None),
        ("seg_odd", 34, (12, 20, 18), [1.0, 1.0, 1.0], [1.5, 0.75, 1.25], None),
        ("seg_sepz_axis0", 35, (8, 20, 18), [3.5, 0.8, 0.8], [1.0, 1.0, 1.0], None),
        ("seg_sepz_axis2", 36, (18, 16, 7), [0.8, 0.9, 3.2], [1.0, 1.0, 1.0], None),
        ("seg_slab", 37, (1, 24, 22), [2.0, 0.5, 0.5], [2.0, 1.0, 1.0], None),
        ("seg_sepz_down", 38, (12, 16, 14), [1.0, 1.0, 1.0], [3.4, 0.5, 0.5], None),
    ]
    for name, seed, shape, cur, new, force in seg_cases:
        seg = label_map(seed, shape)
        new_shape = compute_new_shape(shape, cur, new)
        out = resample_data_or_seg_to_shape(seg[None], new_shape, cur, new, is_seg=True, order=1, order_z=0,
                                            force_separate_z=force)[0]
        add(name, "seg", "v2", seg, np.asarray(out, dtype=np.int16), cur, new, 1, 0, force, rule="nearest",
            reference=ref_v2 + " (is_seg=True, order=1, order_z=0) -> batchgenerators 0.25.5 resize_segmentation")

    # ---- batchgenerators 0.25.5 tie rules and the legacy threshold rule (3-D, no separate-z) -------------
    for rule in ("lowest", "highest", "legacy"):
        for name, seed, shape, cur, new in [("half", 41, (12, 20, 18), [1.0] * 3, [2.0] * 3),
                                            ("odd", 42, (12, 20, 18), [1.0] * 3, [1.5, 0.75, 1.25])]:
            seg = label_map(seed, shape)
            new_shape = compute_new_shape(shape, cur, new)
            if rule == "legacy":
                out = legacy_resize_segmentation(seg, new_shape, 1)
                ref = "batchgenerators <= 0.25 resize_segmentation (restated in legacy_resize_segmentation)"
            else:
                out = resize_segmentation(seg, new_shape, 1, seg_tiebreak=rule)
                ref = f"batchgenerators 0.25.5 resize_segmentation(order=1, seg_tiebreak='{rule}')"
            add(f"seg_{rule}_{name}", "seg", "v2", seg, np.asarray(out, dtype=np.int16), cur, new, 1, 0, False,
                rule=rule, reference=ref)

    # ---- v1: resample_patient (data order 3 + seg order 1, order_z 0) and export resampling -----------------
    for name, seed, shape, cur, new in [("v1_aniso_3d", 51, (2, 12, 20, 18), [1.5, 0.7, 0.7], [1.0, 1.0, 1.0]),
                                        ("v1_sepz_axis0", 52, (2, 8, 20, 18), [3.5, 0.8, 0.8], [1.0, 1.0, 1.0])]:
        data = smooth_data(seed, shape[0], shape[1:])
        seg = label_map(seed + 100, shape[1:]).astype(np.float32)[None]  # v1 carries seg as a float32 channel
        d_out, s_out = quiet(resample_patient, data, seg, np.array(cur), np.array(new), 3, 1,
                             force_separate_z=None, order_z_data=0, order_z_seg=0)
        add(name + "_data", "data", "v1", data, np.asarray(d_out, dtype=np.float32), cur, new, 3, 0, None,
            reference="nnU-Net v1 1.7.1 resample_patient(order_data=3, order_z_data=0, force_separate_z=None)")
        add(name + "_seg", "seg", "v1", seg[0].astype(np.int16), np.asarray(s_out[0]).astype(np.int16), cur, new,
            1, 0, None, rule="nearest",
            reference="nnU-Net v1 1.7.1 resample_patient(order_seg=1, order_z_seg=0, force_separate_z=None)")
    for name, seed, shape, cur, new in [("v1_export_sepz", 53, (3, 16, 12, 12), [1.0, 1.0, 1.0], [3.5, 0.8, 0.8]),
                                        ("v1_export_3d", 54, (3, 14, 12, 12), [1.0, 1.0, 1.0], [1.5, 0.7, 0.7])]:
        logits = smooth_data(seed, shape[0], shape[1:]) * 3.0
        probs = np.exp(logits - logits.max(0, keepdims=True))
        probs = (probs / probs.sum(0, keepdims=True)).astype(np.float32)
        new_shape = compute_new_shape(shape[1:], cur, new)
        axis = v1_axis(cur, new)
        out = quiet(v1_resample_data_or_seg, probs, new_shape, False, axis=None if axis is None else [axis],
                    order=1, do_separate_z=axis is not None, order_z=0)
        add(name, "data", "v1", probs, np.asarray(out, dtype=np.float32), cur, new, 1, 0, None,
            reference="nnU-Net v1 1.7.1 resample_data_or_seg(is_seg=False, order=1, order_z=0) as in "
                      "save_segmentation_nifti_from_softmax")

    # ---- order_z > 0 along the separate axis (v2 kwargs changed; v1 preprocessor variant with order_z 3 / 1) ----
    data = smooth_data(61, 2, (8, 20, 18))
    cur, new = [3.5, 0.8, 0.8], [1.0, 1.0, 1.0]
    new_shape = compute_new_shape(data.shape[1:], cur, new)
    out = resample_data_or_seg_to_shape(data, new_shape, cur, new, is_seg=False, order=3, order_z=1,
                                        force_separate_z=None)
    add("v2_sepz_orderz1", "data", "v2", data, np.asarray(out, dtype=np.float32), cur, new, 3, 1, None,
        reference=ref_v2 + " (is_seg=False, order=3, order_z=1)")
    seg = label_map(62, (8, 20, 18))
    out = resample_data_or_seg_to_shape(seg[None], new_shape, cur, new, is_seg=True, order=1, order_z=1,
                                        force_separate_z=None)[0]
    add("v2_seg_sepz_orderz1", "seg", "v2", seg, np.asarray(out, dtype=np.int16), cur, new, 1, 1, None,
        rule="nearest", reference=ref_v2 + " (is_seg=True, order=1, order_z=1)")
    data = smooth_data(63, 2, (6, 20, 18))
    seg = label_map(64, (6, 20, 18)).astype(np.float32)[None]
    cur = [4.0, 0.8, 0.8]
    new_shape = compute_new_shape(data.shape[1:], cur, new)
    d_out, s_out = quiet(resample_patient, data, seg, np.array(cur), np.array(new), 3, 1,
                         force_separate_z=None, order_z_data=3, order_z_seg=1)
    add("v1_sepz_orderz3_data", "data", "v1", data, np.asarray(d_out, dtype=np.float32), cur, new, 3, 3, None,
        reference="nnU-Net v1 1.7.1 resample_patient(order_data=3, order_z_data=3, force_separate_z=None)")
    add("v1_sepz_orderz1_seg", "seg", "v1", seg[0].astype(np.int16), np.asarray(s_out[0]).astype(np.int16), cur,
        new, 1, 1, None, rule="nearest",
        reference="nnU-Net v1 1.7.1 resample_patient(order_seg=1, order_z_seg=1, force_separate_z=None)")
    d_out1, _ = quiet(resample_patient, data, None, np.array(cur), np.array(new), 3, 1,
                      force_separate_z=None, order_z_data=1, order_z_seg=0)
    add("v1_sepz_orderz1_data", "data", "v1", data, np.asarray(d_out1, dtype=np.float32), cur, new, 3, 1, None,
        reference="nnU-Net v1 1.7.1 resample_patient(order_data=3, order_z_data=1): slices rounded to float32")

    # ---- new-shape table (Python round: ties to even) ----------------------------------------------------------
    shape_cases = [
        ([5, 3, 7], [1.5, 1.5, 1.5], [1.0, 1.0, 1.0]),  # 7.5 -> 8, 4.5 -> 4, 10.5 -> 10
        ([160, 256, 256], [1.5, 0.7, 0.7], [1.0, 1.0, 1.0]),
        ([9, 11, 13], [0.5, 0.5, 0.5], [1.0, 1.0, 1.0]),  # 4.5 -> 4, 5.5 -> 6, 6.5 -> 6
        ([10, 10, 10], [0.3, 0.7, 0.1], [0.2, 0.2, 0.2]),  # float products near .5
        ([33, 45, 17], [2.5, 0.9, 3.0], [1.0, 0.6, 2.0]),
        ([1, 24, 22], [2.0, 0.6, 0.6], [2.0, 1.0, 1.0]),
        ([7, 7, 7], [0.35, 0.45, 0.55], [0.1, 0.1, 0.1]),
    ]
    new_shape_table = [
        {"shape": s, "spacing": a, "new_spacing": b, "new_shape": [int(v) for v in compute_new_shape(s, a, b)]}
        for s, a, b in shape_cases
    ]

    # ---- separate-z decision table (v2 determine_do_sep_z_and_axis with force None / True; v1 rule) -----------
    sep_cases = [
        ([3.5, 0.8, 0.8], [1.0, 1.0, 1.0]),
        ([0.8, 0.8, 3.5], [1.0, 1.0, 1.0]),
        ([1.5, 0.7, 0.7], [1.0, 1.0, 1.0]),
        ([0.5, 1.6, 1.6], [1.0, 1.0, 1.0]),  # two axes tie for the max -> off
        ([1.0, 1.0, 1.0], [4.0, 1.0, 1.0]),  # decided by the new spacing
        ([1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
        ([3.0, 1.0, 1.0], [1.0, 1.0, 1.0]),  # ratio exactly 3 is not > 3
        ([3.0000001, 1.0, 1.0], [1.0, 1.0, 1.0]),
        ([0.7, 2.2, 0.7], [2.5, 0.5, 0.5]),  # current decides (ratio 3.14, axis 1)
        ([2.0, 1.0, 1.0], [1.0, 0.8, 0.8]),
    ]
    sep_table = []
    for cur, new in sep_cases:
        row = {"current": cur, "new": new}
        for label, force in (("auto", None), ("always", True), ("never", False)):
            do, axis = determine_do_sep_z_and_axis(force, cur, new, 3)
            row[label] = int(axis) if do else None
        row["v1_auto"] = v1_axis(cur, new)
        sep_table.append(row)

    manifest = {
        "generator": "tools/golden/make_resample_fixtures.py",
        "cases": cases,
        "new_shape": new_shape_table,
        "separate_z": sep_table,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    total = sum(p.stat().st_size for p in OUT.iterdir())
    print(f"{len(cases)} cases, {total / 1e6:.2f} MB in {OUT}")


if __name__ == "__main__":
    main()
