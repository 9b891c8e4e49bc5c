"""Golden values for cropping, normalisation, the dataset fingerprint, target spacing and plan rules.

Writes crates/nnunet-preproc/tests/data/crop_norm/ (read by tests/crop_normalize.rs and
tests/fingerprint_plans.rs). Re-run with

    .venv/bin/python tools/golden/make_crop_norm_fixtures.py

Reference functions called (nnunetv2 2.8.1, nnunet 1.7.1, numpy 2.4):
  * crop:      nnunetv2.preprocessing.cropping.cropping.{create_nonzero_mask, crop_to_nonzero}
               (cross-checked against nnunet.preprocessing.cropping.crop_to_nonzero, v1)
  * normalise: nnunetv2.preprocessing.normalization.default_normalization_schemes.{ZScoreNormalization,
               CTNormalization, RescaleTo01Normalization, RGBTo01Normalization}.run;
               v1: nnunet.preprocessing.preprocessing.GenericPreprocessor.resample_and_normalize with the
               target spacing equal to the image spacing (no resampling happens, only normalisation)
  * fingerprint: v2 = the aggregation lines of nnunetv2 DatasetFingerprintExtractor.run applied to ALL
               foreground voxels (the Rust port does not reproduce numpy's random sampling, by design);
               v1 = nnunet.experiment_planning.DatasetAnalyzer.DatasetAnalyzer._compute_stats on every
               10th foreground voxel per case (exactly what v1 does)
  * target spacing / transpose / schemes / mask rule: nnunetv2 ExperimentPlanner.
               {determine_fullres_target_spacing, determine_transpose,
               determine_normalization_scheme_and_whether_mask_is_used_for_norm};
               v1 ExperimentPlanner3D_v21.get_target_spacing,
               ExperimentPlanner.{determine_normalization_scheme, determine_whether_to_use_mask_for_norm}
"""
import contextlib
import io
import json
import os

import numpy as np

from nnunetv2.preprocessing.cropping.cropping import create_nonzero_mask, crop_to_nonzero
from nnunetv2.preprocessing.normalization.default_normalization_schemes import (
    ZScoreNormalization, CTNormalization, RescaleTo01Normalization, RGBTo01Normalization)
from nnunetv2.experiment_planning.experiment_planners.default_experiment_planner import ExperimentPlanner
from nnunet.preprocessing.cropping import crop_to_nonzero as crop_to_nonzero_v1
from nnunet.preprocessing.preprocessing import GenericPreprocessor
from nnunet.experiment_planning.DatasetAnalyzer import DatasetAnalyzer
from nnunet.experiment_planning.experiment_planner_baseline_3DUNet_v21 import ExperimentPlanner3D_v21

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "crates", "nnunet-preproc",
                   "tests", "data", "crop_norm")
OUT = os.path.normpath(OUT)


def save(name, arr):
    np.save(os.path.join(OUT, name + ".npy"), arr)


def save_json(name, obj):
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(obj, f, indent=1)


def quiet(fn, *a, **k):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*a, **k)


# ----------------------------------------------------------------------------------------------- volumes
def make_crop_cases(rng):
    shape = (24, 28, 32)
    cases = {}

    # a: zero border, an enclosed hole, a cavity open to the border, seg with a label outside the mask
    d = np.zeros((2,) + shape, np.float32)
    d[0, 3:20, 4:25, 5:28] = rng.normal(300, 80, (17, 21, 23)).astype(np.float32)
    d[0, 9:12, 10:13, 11:14] = 0            # hole -> filled
    d[0, 3:20, 12:14, 5:9] = 0               # groove on the x = 5 face (open to the zero border)
    d[0, 8:10, 15:17, 5:17] = 0              # tunnel from x = 5 (open to the zero border) -> stays background
    d[1, 5:18, 6:22, 7:26] = rng.normal(50, 20, (13, 16, 19)).astype(np.float32)
    d[1, 9:12, 10:13, 11:14] = 0
    d[1, 8:10, 15:17, 5:17] = 0
    s = np.zeros(shape, np.int16)
    s[8:14, 9:16, 10:18] = 1
    s[0, 0, 0] = 1                           # label outside the nonzero mask: kept
    cases["a"] = (d, s)

    # b: three channels, disjoint nonzero parts; the hole is enclosed only by their union
    d = np.zeros((3,) + shape, np.float32)
    shell = np.zeros(shape, bool)
    shell[4:16, 5:19, 6:22] = True
    shell[6:14, 7:17, 8:20] = False          # hollow inside
    half = np.zeros(shape, bool)
    half[:, :, :14] = True
    d[0][shell & half] = rng.uniform(1, 10, (shell & half).sum()).astype(np.float32)
    d[1][shell & ~half] = rng.uniform(-5, -1, (shell & ~half).sum()).astype(np.float32)
    d[0, 18:22, 20:26, 24:30] = 7.5          # a separate blob in channel 0
    s = np.zeros(shape, np.int16)
    s[7:12, 8:14, 9:18] = 2
    s[8:10, 9:11, 10:12] = 1
    cases["b"] = (d, s)

    # c: all zero
    d = np.zeros((1,) + shape, np.float32)
    s = np.zeros(shape, np.int16)
    s[2:4, 2:4, 2:4] = 1
    cases["c"] = (d, s)

    # d: no segmentation, zero border on y only
    d = np.zeros((1,) + shape, np.float32)
    d[0, :, 3:25, :] = rng.normal(10, 3, (24, 22, 32)).astype(np.float32)
    d[0, :, 3:25, :][d[0, :, 3:25, :] < 5] = 0   # scattered zeros inside (enclosed ones get filled)
    cases["d"] = (d, None)
    return cases


def crop_fixtures(rng):
    out = {}
    for name, (d, s) in make_crop_cases(rng).items():
        if d.any():  # the all-zero case is rebuilt in the test (np.zeros)
            save(f"crop_{name}_data", d)
        if s is not None:
            save(f"crop_{name}_seg", s)
        mask = create_nonzero_mask(d)
        seg_in = None if s is None else s[None].copy()
        cd, cs, bbox = crop_to_nonzero(d, seg_in)
        cs = np.asarray(cs)[0].astype(np.int16)
        save(f"crop_{name}_mask", mask.astype(np.uint8))
        if d.any():
            save(f"crop_{name}_cropped_data", np.ascontiguousarray(cd))
        save(f"crop_{name}_cropped_seg", cs)
        if d.any():  # v1 cannot crop an all-zero image (np.min of nothing)
            seg_v1 = None if s is None else s[None].astype(np.float32)
            d1, s1, b1 = crop_to_nonzero_v1(d.copy(), seg_v1)
            assert [list(map(int, b)) for b in b1] == [list(map(int, b)) for b in bbox]
            assert np.array_equal(d1, cd) and np.array_equal(np.asarray(s1)[0].astype(np.int16), cs)
        out[name] = {"bbox": [[int(a), int(b)] for a, b in bbox], "shape_before": list(d.shape[1:])}
    save_json("crop_bboxes", out)


# ---------------------------------------------------------------------------------------- normalisation
def fg_stats_v2(values):
    """Statistics as in DatasetFingerprintExtractor.run, on a float32 array of foreground values."""
    p005, med, p995 = np.percentile(values, np.array((0.5, 50.0, 99.5)))
    return {"mean": float(np.mean(values)), "median": float(med), "std": float(np.std(values)),
            "min": float(np.min(values)), "max": float(np.max(values)),
            "percentile_99_5": float(p995), "percentile_00_5": float(p005)}


def fg_stats_v1(values):
    median, mean, sd, mn, mx, p995, p005 = DatasetAnalyzer._compute_stats(list(values))
    return {"mean": float(mean), "median": float(median), "std": float(sd), "min": float(mn),
            "max": float(mx), "percentile_99_5": float(p995), "percentile_00_5": float(p005)}


def v1_normalize(data, seg, schemes, use_mask, props=None):
    """v1 GenericPreprocessor.resample_and_normalize with no resampling (spacing unchanged)."""
    pp = GenericPreprocessor({i: s for i, s in enumerate(schemes)}, {i: m for i, m in enumerate(use_mask)},
                             [0, 1, 2], props)
    spacing = np.array([1.0, 1.0, 1.0])
    d, s, _ = quiet(pp.resample_and_normalize, data.copy(), spacing, {"original_spacing": spacing},
                    seg.astype(np.float32)[None].copy())
    return d


def norm_fixtures():
    d = np.load(os.path.join(OUT, "crop_a_data.npy"))
    s = np.load(os.path.join(OUT, "crop_a_seg.npy"))
    cd, cs, bbox = crop_to_nonzero(d, s[None].copy())   # cd is a view of d, as in nnU-Net
    cs = cs[0]
    contig = np.ascontiguousarray(cd)
    n_ch = cd.shape[0]

    # v2 z-score, on the cropped *view* (nnU-Net's own memory layout) and on a contiguous copy
    for mask in (False, True):
        tag = "mask" if mask else "nomask"
        out_view = np.stack([_run_on_view(ZScoreNormalization(use_mask_for_norm=mask, intensityproperties={}),
                                          cd[c], cs) for c in range(n_ch)])
        out_contig = np.stack([ZScoreNormalization(use_mask_for_norm=mask, intensityproperties={})
                               .run(contig[c].copy(), cs) for c in range(n_ch)])
        save(f"norm_v2_zscore_{tag}_view", out_view)
        save(f"norm_v2_zscore_{tag}", out_contig)
        save(f"norm_v1_zscore_{tag}", v1_normalize(contig, cs, ["nonCT"] * n_ch, [mask] * n_ch))

    # CT: statistics from this case's foreground (seg > 0), v2 and v1 flavours
    fg = cs > 0
    props_v2 = [fg_stats_v2(contig[c][fg]) for c in range(n_ch)]
    props_v1 = [fg_stats_v1(contig[c][fg][::10]) for c in range(n_ch)]
    save_json("ct_props", {"v2": props_v2, "v1": props_v1})
    save("norm_v2_ct", np.stack([CTNormalization(False, props_v2[c]).run(contig[c].copy(), cs)
                                 for c in range(n_ch)]))
    v1props = {c: {"mean": np.float32(p["mean"]), "sd": np.float32(p["std"]),
                   "percentile_00_5": np.float32(p["percentile_00_5"]),
                   "percentile_99_5": np.float32(p["percentile_99_5"])} for c, p in enumerate(props_v1)}
    save("norm_v1_ct", v1_normalize(contig, cs, ["CT"] * n_ch, [False] * n_ch, v1props))
    save("norm_v1_ct_mask", v1_normalize(contig, cs, ["CT"] * n_ch, [True] * n_ch, v1props))

    # rescale / RGB (v2 only)
    save("norm_v2_rescale", np.stack([RescaleTo01Normalization(False, {}).run(contig[c].copy(), cs)
                                      for c in range(n_ch)]))
    rgb = np.clip(np.abs(contig[0]) * 0.5, 0, 255).astype(np.float32)
    save("norm_rgb_input", rgb)
    save("norm_v2_rgb", RGBTo01Normalization(False, {}).run(rgb.copy(), cs))


def _run_on_view(normalizer, view, seg):
    """Runs a normaliser on a non-contiguous view exactly as DefaultPreprocessor._normalize does
    (``data[c] = normalizer.run(data[c], seg[0])`` on the cropped view); returns the result."""
    work = view.base.copy() if view.base is not None else None
    # rebuild the same strided view over a private copy of the parent buffer
    if work is not None:
        offset = (view.__array_interface__["data"][0] - view.base.__array_interface__["data"][0])
        flat = work.reshape(-1)
        v = np.lib.stride_tricks.as_strided(flat[offset // 4:], shape=view.shape, strides=view.strides)
    else:
        v = view.copy()
    assert np.array_equal(v, view)
    return np.ascontiguousarray(normalizer.run(v, seg))


# ----------------------------------------------------------------------------------------- fingerprint
def fingerprint_fixtures(rng):
    specs = [((14, 18, 20), (1.5, 0.7, 0.7)), ((16, 16, 22), (1.2, 0.8, 0.8)),
             ((12, 20, 18), (2.0, 0.6, 0.6)), ((15, 17, 19), (1.5, 0.75, 0.75))]
    cases = []
    meta = []
    for i, (shape, spacing) in enumerate(specs):
        d = np.zeros((2,) + shape, np.float32)
        z, y, x = shape
        lo = (1 + i % 2, 2, 1 + i % 3)
        hi = (z - 1, y - 1 - i % 2, x - 2)
        box = tuple(slice(a, b) for a, b in zip(lo, hi))
        inner = tuple(b - a for a, b in zip(lo, hi))
        d[(0,) + box] = rng.gamma(4.0, 60.0 + 10 * i, inner).astype(np.float32)
        d[(1,) + box] = rng.normal(-20.0 + i, 15.0, inner).astype(np.float32)
        s = np.zeros(shape, np.int16)
        c = [v // 2 for v in shape]
        s[c[0] - 3:c[0] + 3, c[1] - 4:c[1] + 3 + i, c[2] - 3:c[2] + 4] = 1
        if i == 2:
            s[c[0], c[1], c[2]] = 2
        save(f"fp_case{i}_data", d)
        save(f"fp_case{i}_seg", s)
        cases.append((d, s, spacing))
        meta.append({"spacing": list(spacing)})
    save_json("fp_cases", meta)

    shapes_after, rel, fg_v2, fg_v1 = [], [], [[], []], [[], []]
    for d, s, spacing in cases:
        cd, cs, _ = crop_to_nonzero(d, s[None].copy())
        shapes_after.append([int(v) for v in cd.shape[1:]])
        rel.append(float(np.prod(cd.shape[1:]) / np.prod(d.shape[1:])))
        m = cs[0] > 0
        for c in range(2):
            fg_v2[c].append(cd[c][m])
            fg_v1[c].append(cd[c][m][::10])
    base = {"spacings": [list(c[2]) for c in cases], "shapes_after_crop": shapes_after,
            "median_relative_size_after_cropping": float(np.median(rel, 0))}
    fp_v2 = dict(base, foreground_intensity_properties_per_channel={
        str(c): fg_stats_v2(np.concatenate(fg_v2[c])) for c in range(2)})
    fp_v1 = dict(base, foreground_intensity_properties_per_channel={
        str(c): fg_stats_v1(np.concatenate(fg_v1[c])) for c in range(2)})
    save_json("fingerprint_v2", fp_v2)
    save_json("fingerprint_v1", fp_v1)
    save_json("fp_relative_sizes", rel)


# ------------------------------------------------------------------------------- target spacing / rules
def v2_planner(spacings, shapes, median_rel=1.0, channel_names=None):
    p = object.__new__(ExperimentPlanner)
    p.dataset_fingerprint = {"spacings": spacings, "shapes_after_crop": shapes,
                             "median_relative_size_after_cropping": median_rel}
    p.overwrite_target_spacing = None
    p.anisotropy_threshold = 3
    p.suppress_transpose = False
    p.dataset_json = {"channel_names": {str(i): n for i, n in enumerate(channel_names or ["a"])}}
    return p


def v1_target(spacings, shapes):
    p = object.__new__(ExperimentPlanner3D_v21)
    p.dataset_properties = {"all_spacings": [np.array(s) for s in spacings],
                            "all_sizes": [np.array(s) for s in shapes]}
    p.target_spacing_percentile = 50
    p.anisotropy_threshold = 3
    return p.get_target_spacing()


def spacing_fixtures():
    scenarios = {
        "breast_mri": ([[1.5, 0.7, 0.7], [1.2, 0.8, 0.8], [2.0, 0.6, 0.6], [1.5, 0.75, 0.75]],
                       [[160, 256, 256], [170, 300, 300], [100, 320, 320], [150, 250, 260]]),
        "acdc_like_override": ([[10.0, 1.5, 1.5], [5.0, 1.4, 1.4], [6.5, 1.6, 1.6], [10.0, 1.5, 1.5],
                                [8.0, 1.3, 1.3]],
                               [[9, 220, 220], [18, 230, 230], [12, 200, 210], [10, 240, 240], [11, 216, 216]]),
        "aniso_spacing_many_slices": ([[5.0, 1.0, 1.0], [6.0, 1.0, 1.0], [5.0, 0.9, 0.9]],
                                      [[200, 256, 256], [190, 256, 256], [210, 250, 250]]),
        "p10_below_others": ([[0.5, 1.5, 1.5], [0.5, 1.5, 1.5], [6.0, 1.5, 1.5], [6.0, 1.5, 1.5],
                              [6.0, 1.5, 1.5], [6.0, 1.5, 1.5], [6.0, 1.5, 1.5]],
                             [[10, 200, 200]] * 7),
        "worst_axis_last": ([[0.8, 0.8, 4.0], [0.9, 0.9, 5.0], [0.7, 0.7, 3.0]],
                            [[300, 300, 40], [280, 290, 30], [320, 310, 50]]),
        "tied_max_axes": ([[2.0, 2.0, 1.0], [2.0, 2.0, 1.0]], [[50, 60, 70], [50, 60, 70]]),
        "middle_axis_even": ([[1.0, 3.5, 1.0], [1.1, 4.5, 0.9], [0.9, 4.0, 1.1], [1.0, 3.0, 1.0]],
                             [[100, 20, 100], [110, 22, 90], [90, 18, 110], [100, 25, 100]]),
    }
    out = {}
    for name, (spacings, shapes) in scenarios.items():
        p = v2_planner(spacings, shapes)
        target = p.determine_fullres_target_spacing()
        fwd, bwd = p.determine_transpose()
        out[name] = {"spacings": spacings, "shapes": shapes,
                     "v2_target": [float(v) for v in target],
                     "v1_target": [float(v) for v in v1_target(spacings, shapes)],
                     "transpose_forward": [int(v) for v in fwd], "transpose_backward": [int(v) for v in bwd]}
    save_json("target_spacing", out)

    names = ["pre", "post1", "CT", "noNorm", "zscore", "rescale_to_0_1", "rgb_to_0_1", "ct"]
    rules = {}
    for median_rel in (0.5, 0.74, 0.75, 0.9):
        p = v2_planner([[1.0, 1.0, 1.0]], [[10, 10, 10]], median_rel, names)
        schemes, mask = p.determine_normalization_scheme_and_whether_mask_is_used_for_norm()
        v1p = object.__new__(ExperimentPlanner3D_v21)
        v1p.dataset_properties = {"modalities": {i: n for i, n in enumerate(names)},
                                  "size_reductions": {"case": median_rel}}
        v1p.list_of_cropped_npz_files = []
        v1_schemes = v1p.determine_normalization_scheme()
        v1_mask = quiet(v1p.determine_whether_to_use_mask_for_norm)
        rules[str(median_rel)] = {"names": names, "v2_schemes": list(schemes), "v2_mask": [bool(m) for m in mask],
                                  "v1_schemes": [v1_schemes[i] for i in range(len(names))],
                                  "v1_mask": [bool(v1_mask[i]) for i in range(len(names))]}
    save_json("norm_rules", rules)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    crop_fixtures(rng)
    norm_fixtures()
    fingerprint_fixtures(rng)
    spacing_fixtures()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    biggest = max(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"wrote {len(os.listdir(OUT))} files to {OUT}: {total / 1e6:.2f} MB, largest {biggest / 1e3:.0f} kB")


if __name__ == "__main__":
    main()
