#!/usr/bin/env python3
"""Golden values for the `medmetrics` crate (crates/metrics/tests/data/*.json).

Re-run from the repository root:

    .venv/bin/pip install monai==1.6.1 medpy==0.5.2 scikit-learn==1.9.1 surface-distance==0.1
    .venv/bin/python tools/golden/make_metrics_fixtures.py [--shared ../shared]

Reference implementations (each value's key names its source):

* MONAI 1.6.1 `monai.metrics`: compute_dice (ignore_empty True/False), compute_hausdorff_distance
  (percentile None/95, directed), compute_average_surface_distance (symmetric), compute_surface_dice
  (edge voxels, tolerance 2 mm).
* medpy 0.5.2 `medpy.metric.binary`: dc, hd, hd95, assd (raise on empty masks -> stored as null).
* DeepMind surface-distance (PyPI wheel 0.1 = google-deepmind/surface-distance; it still uses np.Inf/np.NaN,
  which numpy 2 removed, so the two aliases are restored before the import): compute_dice_coefficient.
* scipy 1.17.1 `ndimage.distance_transform_edt(..., sampling=spacing)` for the EDT.
* The MAMA-MIA Task 1 formulas, transcribed here from /work/shared/reference/mamamia.md §2.1-2.4 (the
  official scorer LidiaGarrucho/MAMA-MIA `src/challenge/{metrics,scoring_task1,scoring_task2}.py`): Dice with
  both-empty = 0; HD95 from sitk.LabelContour + scipy cKDTree in voxel units; NormHD; the Task 1 and Task 2
  fairness/ranking formulas with pandas groupby (observed groups only).
* scikit-learn 1.9.1: balanced_accuracy_score, roc_auc_score, roc_curve, precision_recall_curve,
  average_precision_score, auc, brier_score_loss, calibration_curve(strategy="uniform").

Masks are stored as the flat C-order indices of their `true` voxels, shape (z, y, x), spacing [sz, sy, sx].
"""
import argparse
import json
import os
import warnings

import numpy as np

np.Inf = np.inf  # DeepMind surface-distance 0.1 on numpy 2
np.NaN = np.nan

import pandas as pd  # noqa: E402
import scipy  # noqa: E402
import SimpleITK as sitk  # noqa: E402
import torch  # noqa: E402
from scipy import ndimage  # noqa: E402
from scipy.spatial import cKDTree  # noqa: E402

import monai  # noqa: E402
from monai.metrics import (  # noqa: E402
    compute_average_surface_distance,
    compute_dice,
    compute_hausdorff_distance,
    compute_surface_dice,
)
import medpy  # noqa: E402
from medpy.metric import binary as mb  # noqa: E402
import surface_distance as sd  # noqa: E402
import sklearn  # noqa: E402
from sklearn import metrics as skm  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402

warnings.filterwarnings("ignore")
OUT = "crates/metrics/tests/data"


def f(x):
    """JSON-safe float: None for NaN, strings for infinities."""
    if x is None:
        return None
    x = float(x)
    if np.isnan(x):
        return None
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


# ---------------------------------------------------------------------------------------------------------
# MAMA-MIA Task 1 per-case scoring (transcription of mamamia.md §2.1)
# ---------------------------------------------------------------------------------------------------------
def mamamia_case(gt, pred, hd_max=150):
    gt1, pr1 = gt == 1, pred == 1
    tp = np.sum(gt1 & pr1)
    fp = np.sum(~gt1 & pr1)
    fn = np.sum(gt1 & ~pr1)
    dice = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn > 0 else 0.0
    # spacing 1, origin 0: GetImageFromArray on the raw arrays
    ca = sitk.GetArrayFromImage(sitk.LabelContour(sitk.GetImageFromArray(gt.astype(np.uint8))))
    cb = sitk.GetArrayFromImage(sitk.LabelContour(sitk.GetImageFromArray(pred.astype(np.uint8))))
    a, b = np.argwhere(ca > 0), np.argwhere(cb > 0)
    if len(a) == 0:
        hd = 0.0 if len(b) == 0 else np.inf
    elif len(b) == 0:
        hd = np.inf
    else:
        d_ba = cKDTree(a).query(b, k=1)[0]
        d_ab = cKDTree(b).query(a, k=1)[0]
        hd = max(np.percentile(d_ba, 95), np.percentile(d_ab, 95))
    norm = hd / hd_max if hd != np.inf else 1.0
    return dice, hd, norm, int((ca > 0).sum()), int((cb > 0).sum())


# ---------------------------------------------------------------------------------------------------------
# Segmentation cases
# ---------------------------------------------------------------------------------------------------------
def ellipsoid(shape, c, r):
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return ((i - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((k - c[2]) / r[2]) ** 2 <= 1


def seg_cases():
    rng = np.random.default_rng(20250901)
    shape = (18, 22, 20)
    cases = []
    cases.append(("ellipsoids_aniso", ellipsoid(shape, (9, 11, 10), (5, 6, 7)),
                  ellipsoid(shape, (10, 10, 11), (6, 5, 6)), [1.5, 0.7, 0.8]))
    # objects touching the image borders (erosion border vs LabelContour differ)
    p = np.zeros(shape, bool); p[0:6, 0:9, 3:12] = True
    g = np.zeros(shape, bool); g[0:5, 2:10, 0:10] = True; g[12:18, 15:22, 14:20] = True
    cases.append(("touching_borders", p, g, [2.0, 0.6, 0.9]))
    p = np.zeros(shape, bool); p[4, 5, 6] = True
    g = np.zeros(shape, bool); g[13, 2, 17] = True
    cases.append(("single_voxels", p, g, [1.2, 0.8, 0.5]))
    p = np.zeros(shape, bool); p[4, 5, 6] = True
    cases.append(("single_voxel_identical", p, p.copy(), [1.2, 0.8, 0.5]))
    z = np.zeros(shape, bool)
    cases.append(("empty_empty", z, z.copy(), [1.0, 1.0, 1.0]))
    e = ellipsoid(shape, (9, 11, 10), (4, 4, 4))
    cases.append(("empty_pred", z.copy(), e, [1.5, 0.7, 0.8]))
    cases.append(("empty_gt", e, z.copy(), [1.5, 0.7, 0.8]))
    cases.append(("identical", e, e.copy(), [1.5, 0.7, 0.8]))
    noise_p = ndimage.binary_opening(rng.random(shape) < 0.35)
    noise_g = ndimage.binary_opening(rng.random(shape) < 0.35)
    cases.append(("random_blobs", noise_p, noise_g, [2.5, 0.55, 0.75]))
    far = np.zeros(shape, bool); far[1:3, 1:3, 1:3] = True; far[15:17, 19:21, 16:19] = True
    cases.append(("two_components_vs_ellipsoid", far, e, [1.1, 0.9, 0.7]))
    full = np.ones(shape, bool)
    cases.append(("full_vs_ellipsoid", full, e, [1.0, 1.0, 1.0]))
    return cases


def monai_values(p, g, spacing):
    yp = torch.from_numpy(p[None, None].astype(np.float32))
    yg = torch.from_numpy(g[None, None].astype(np.float32))
    out = {}
    out["dice_ignore_empty"] = f(compute_dice(yp, yg, include_background=True, ignore_empty=True)[0, 0])
    out["dice_not_ignore_empty"] = f(compute_dice(yp, yg, include_background=True, ignore_empty=False)[0, 0])
    sp = list(spacing)
    out["hd"] = f(compute_hausdorff_distance(yp, yg, include_background=True, spacing=sp)[0, 0])
    out["hd95"] = f(compute_hausdorff_distance(yp, yg, include_background=True, percentile=95, spacing=sp)[0, 0])
    out["hd95_directed"] = f(compute_hausdorff_distance(yp, yg, include_background=True, percentile=95,
                                                        directed=True, spacing=sp)[0, 0])
    out["hd95_vox"] = f(compute_hausdorff_distance(yp, yg, include_background=True, percentile=95)[0, 0])
    out["assd"] = f(compute_average_surface_distance(yp, yg, include_background=True, symmetric=True,
                                                     spacing=sp)[0, 0])
    out["nsd_2mm"] = f(compute_surface_dice(yp, yg, class_thresholds=[2.0], include_background=True,
                                            spacing=sp)[0, 0])
    return out


def medpy_values(p, g, spacing):
    out = {"dc": f(mb.dc(p, g))}
    for name, fn in (("hd", mb.hd), ("hd95", mb.hd95), ("assd", mb.assd)):
        try:
            out[name] = f(fn(p, g, voxelspacing=spacing))
        except RuntimeError:
            out[name] = None
    return out


def border_counts(m):
    er = m & ~ndimage.binary_erosion(m, structure=ndimage.generate_binary_structure(3, 1), border_value=0)
    lc = sitk.GetArrayFromImage(sitk.LabelContour(sitk.GetImageFromArray(m.astype(np.uint8)))) > 0
    return int(er.sum()), int(lc.sum())


def make_segmentation():
    out = []
    for name, p, g, spacing in seg_cases():
        dm, hd, norm, n_lc_g, n_lc_p = mamamia_case(g.astype(np.uint8), p.astype(np.uint8))
        rec = {
            "name": name,
            "shape": list(p.shape),
            "spacing": spacing,
            "pred": np.flatnonzero(p).tolist(),
            "gt": np.flatnonzero(g).tolist(),
            "numpy": {"tp": int((p & g).sum()), "fp": int((p & ~g).sum()), "fn": int((~p & g).sum()),
                      "tn": int((~p & ~g).sum())},
            "border_counts": {"pred": border_counts(p), "gt": border_counts(g)},
            "monai": monai_values(p, g, spacing),
            "medpy": medpy_values(p, g, spacing),
            "deepmind": {"dice": f(sd.compute_dice_coefficient(g, p))},
            "mamamia": {"dice": f(dm), "hd95_vox": f(hd), "norm_hd": f(norm)},
        }
        out.append(rec)
    return out


def make_edt():
    rng = np.random.default_rng(7)
    out = []
    for shape, spacing, frac in (((7, 9, 8), [1.7, 0.6, 0.9], 0.85), ((5, 6, 11), [0.5, 2.0, 1.0], 0.97),
                                 ((1, 12, 10), [3.0, 0.7, 0.7], 0.7)):
        m = rng.random(shape) < frac
        m.flat[0] = False  # at least one background voxel
        d = ndimage.distance_transform_edt(m, sampling=spacing)
        out.append({"shape": list(shape), "spacing": spacing, "mask": np.flatnonzero(m).tolist(),
                    "edt": d.ravel().tolist()})
    return out


def make_ellipsoids(shared):
    """Recompute the ellipsoid fixture's values with the reference libraries (arrays regenerated from the
    analytic definition, checked against the npz)."""
    shape = (256, 256, 160)
    a = ellipsoid(shape, (128, 120, 80), (25, 25, 19))
    b = ellipsoid(shape, (131, 122, 81), (26, 24, 20))
    npz = os.path.join(shared, "fixtures/metrics/ellipsoids_256x256x160.npz")
    if os.path.exists(npz):
        z = np.load(npz)
        assert (z["a"] == a).all() and (z["b"] == b).all(), "analytic ellipsoids differ from the npz"
    sp = [0.7, 0.7, 1.5]
    # crop (all libraries are crop-invariant here) to keep this fast
    sl = tuple(slice(lo - 3, hi + 3) for lo, hi in zip(*[(np.argwhere(a | b).min(0)), np.argwhere(a | b).max(0) + 1]))
    ac, bc = a[sl], b[sl]
    dm, hd, norm, _, _ = mamamia_case(a.astype(np.uint8), b.astype(np.uint8))
    return {
        "n_a": int(a.sum()), "n_b": int(b.sum()),
        "monai": monai_values(bc, ac, sp),
        "monai_iso": monai_values(bc, ac, [1.0, 1.0, 1.0]),
        "medpy": medpy_values(bc, ac, sp),
        "medpy_iso": medpy_values(bc, ac, [1.0, 1.0, 1.0]),
        "mamamia": {"dice": f(dm), "hd95_vox": f(hd), "norm_hd": f(norm)},
        "border_counts": {"a": border_counts(ac), "b": border_counts(bc)},
    }


# ---------------------------------------------------------------------------------------------------------
# Classification and calibration
# ---------------------------------------------------------------------------------------------------------
def make_classification():
    rng = np.random.default_rng(11)
    sets = [
        ("doc_example", [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]),
        ("ties", [0, 1, 0, 1, 1], [0.2, 0.6, 0.6, 0.6, 0.9]),
        ("all_tied", [0, 1, 0, 1], [0.5, 0.5, 0.5, 0.5]),
        ("ece_fixture", [0, 0, 0, 1, 1, 1, 1, 0, 1, 0], [.05, .1, .3, .6, .7, .9, .95, .55, .45, .2]),
        ("bin_edges", [0, 1, 1, 0, 1, 0, 1, 1], [0.0, 0.1, 0.2, 0.3, 0.5, 0.5, 0.9, 1.0]),
        ("single_class_pos", [1, 1, 1], [0.2, 0.7, 0.9]),
        ("single_class_neg", [0, 0, 0, 0], [0.2, 0.7, 0.9, 0.4]),
    ]
    y = rng.integers(0, 2, 60)
    s = np.round(np.clip(0.3 * y + rng.random(60) * 0.7, 0, 1), 2)  # rounded -> many ties
    sets.append(("random_rounded", y.tolist(), s.tolist()))
    out = []
    for name, y, p in sets:
        y = np.asarray(y)
        p = np.asarray(p, float)
        yp = (p > 0.5).astype(int)
        rec = {"name": name, "y_true": y.tolist(), "y_score": p.tolist(), "y_pred": yp.tolist(),
               "balanced_accuracy": f(skm.balanced_accuracy_score(y, yp)),
               "balanced_accuracy_adjusted": f(skm.balanced_accuracy_score(y, yp, adjusted=True)),
               "brier": f(skm.brier_score_loss(y, p)) if len(np.unique(y)) > 1 else
               f(np.mean((p - y) ** 2))}
        if len(np.unique(y)) == 2:
            fpr, tpr, thr = skm.roc_curve(y, p)
            prec, rec_, thr2 = skm.precision_recall_curve(y, p)
            rec.update({
                "roc_auc": f(skm.roc_auc_score(y, p)),
                "roc_curve": {"fpr": fpr.tolist(), "tpr": tpr.tolist(), "thresholds": [f(t) for t in thr]},
                "average_precision": f(skm.average_precision_score(y, p)),
                "pr_auc": f(skm.auc(rec_, prec)),
                "pr_curve": {"precision": prec.tolist(), "recall": rec_.tolist(), "thresholds": thr2.tolist()},
            })
        else:
            rec["roc_auc"] = f(skm.roc_auc_score(y, p))  # NaN (with a warning) in sklearn 1.9
        ptrue, ppred = calibration_curve(y, p, n_bins=10, strategy="uniform")
        bins = np.linspace(0.0, 1.0, 11)
        ids = np.searchsorted(bins[1:-1], p)
        counts = np.bincount(ids, minlength=10)
        nz = counts > 0
        ece = float(np.sum(counts[nz] / len(p) * np.abs(ptrue - ppred)))
        rec["calibration"] = {"prob_true": ptrue.tolist(), "prob_pred": ppred.tolist(),
                              "counts": counts[nz].tolist(), "ece": ece}
        out.append(rec)
    # multi-class balanced accuracy, including a class only in y_pred
    mc = []
    for yt, yp in (([0, 1, 2, 2, 1, 0, 2], [0, 2, 2, 2, 1, 1, 0]), ([1, 1, 1], [1, 0, 1]),
                   ([3, 3, 5, 7, 7, 7], [3, 5, 5, 7, 9, 7])):
        mc.append({"y_true": yt, "y_pred": yp, "balanced_accuracy": f(skm.balanced_accuracy_score(yt, yp)),
                   "adjusted": f(skm.balanced_accuracy_score(yt, yp, adjusted=True)),
                   "confusion": skm.confusion_matrix(yt, yp).tolist()})
    return {"binary": out, "multiclass": mc}


# ---------------------------------------------------------------------------------------------------------
# Fairness / ranking (transcription of mamamia.md §2.2-2.4 with pandas)
# ---------------------------------------------------------------------------------------------------------
def menopause_task1(x):
    x = "unknown" if x is None or (isinstance(x, float) and np.isnan(x)) else x
    x = "pre" if "peri" in x else x
    x = "post" if "post" in x else x
    return "pre" if "pre" in x else x


def menopause_task2(x):
    x = ("unknown" if x is None or (isinstance(x, float) and np.isnan(x)) else x).lower()
    return "pre" if ("peri" in x or "pre" in x) else ("post" if "post" in x else x)


def make_fairness():
    rng = np.random.default_rng(5)
    n = 48
    ages = rng.integers(28, 80, n).astype(float)
    ages[[3, 17]] = np.nan
    ages[5], ages[6], ages[7] = 40.0, 50.0, 70.0  # bin edges (right-closed)
    meno_choices = ["pre", "post", None, "peri (6-12 months since LMP)", "Post", "pre (<6 months since LMP)",
                    "postmenopausal", "unknown"]
    meno = [meno_choices[i] for i in rng.integers(0, len(meno_choices), n)]
    dens = [[None, "a", "b", "c", "d"][i] for i in rng.integers(0, 5, n)]
    dice = np.round(rng.random(n), 4)
    dice[[0, 9]] = 0.0
    norm_hd = np.round(rng.random(n) * 0.6, 4)
    norm_hd[[0, 20]] = 1.0
    norm_hd[21] = 1.37  # not clipped
    pcr = rng.integers(0, 2, n).astype(float)
    pcr[[4, 30]] = np.nan
    score = np.round(rng.random(n), 3)
    pred = (score > 0.5).astype(int)
    df = pd.DataFrame({"patient_id": [f"CASE_{i:03d}" for i in range(n)], "age": ages,
                       "menopausal_status": meno, "breast_density": dens, "DSC": dice, "NormHD": norm_hd,
                       "pcr": pcr, "pcr_pred": pred, "score": score})
    age_bins = pd.cut(df["age"], bins=[0, 40, 50, 60, 70, 100], labels=["0-40", "41-50", "51-60", "61-70", "71+"])
    vars_ = ["age", "menopausal_status", "breast_density"]

    # Task 1
    t1 = df.copy()
    t1["age"] = age_bins
    t1["menopausal_status"] = t1["menopausal_status"].apply(menopause_task1)
    perf = 0.5 * (t1["DSC"].mean() + (1 - t1["NormHD"].mean()))
    fair = {}
    groups1 = {}
    for v in vars_:
        g = t1.groupby(v, observed=True)
        md, mh = g["DSC"].mean(), g["NormHD"].mean()
        fair[v] = 1 - 0.5 * ((md.max() - md.min()) + (mh.max() - mh.min()))
        groups1[v] = {str(k): {"n": int(g.size()[k]), "dice": float(md[k]), "norm_hd": float(mh[k])} for k in md.index}
    fairness1 = sum(fair.values()) / 3
    task1 = {"performance": perf, "fairness": fairness1, "ranking": 0.5 * perf + 0.5 * fairness1,
             "per_variable": fair, "groups": groups1}

    # Task 2
    t2 = df.copy()
    t2["age"] = age_bins
    t2["menopausal_status"] = t2["menopausal_status"].apply(menopause_task2)
    t2["pcr"] = t2["pcr"].fillna(0).astype(int)  # intended semantics: missing truth = 0 everywhere
    ba = skm.balanced_accuracy_score(t2["pcr"], t2["pcr_pred"])
    disp, groups2 = {}, {}
    for v in vars_:
        tpr, fpr, gg = [], [], {}
        for k, grp in t2.groupby(v, observed=True):
            yt, yp = grp["pcr"].astype(int), grp["pcr_pred"].astype(int)
            try:
                tn, fp_, fn, tp = skm.confusion_matrix(yt, yp).ravel()
                a = tp / (tp + fn) if (tp + fn) else 0
                b = fp_ / (fp_ + tn) if (fp_ + tn) else 0
            except ValueError:
                a, b = 0, 0
            tpr.append(a)
            fpr.append(b)
            auc = skm.roc_auc_score(yt, grp["score"]) if yt.nunique() == 2 else None
            gg[str(k)] = {"n": len(grp), "tpr": float(a), "fpr": float(b),
                          "balanced_accuracy": float(skm.balanced_accuracy_score(yt, yp)), "auc": f(auc)}
        disp[v] = max(tpr) - min(tpr) + max(fpr) - min(fpr)
        groups2[v] = gg
    D = float(np.clip(np.mean(list(disp.values())), 0, 1))
    task2 = {"balanced_accuracy": ba, "disparity": D, "ranking": 0.5 * ba + 0.5 * (1 - D),
             "per_variable": disp, "groups": groups2}

    cases = []
    for i in range(n):
        cases.append({
            "age_group": None if pd.isna(age_bins[i]) else str(age_bins[i]),
            "age": f(ages[i]),
            "menopause_text": meno[i],
            "menopause_task1": menopause_task1(meno[i]),
            "menopause_task2": menopause_task2(meno[i]),
            "breast_density": dens[i],
            "dice": float(dice[i]), "norm_hd": float(norm_hd[i]),
            "pcr": None if np.isnan(pcr[i]) else int(pcr[i]), "pred": int(pred[i]), "score": float(score[i]),
        })
    return {"cases": cases, "task1": task1, "task2": task2}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default="../shared")
    args = ap.parse_args()
    os.makedirs(OUT, exist_ok=True)
    versions = {"monai": monai.__version__, "medpy": "0.5.2", "scikit-learn": sklearn.__version__,
                "numpy": np.__version__, "scipy": scipy.__version__, "SimpleITK": sitk.Version_VersionString(),
                "pandas": pd.__version__, "surface-distance": "0.1 (PyPI)"}
    data = {
        "segmentation.json": {"versions": versions, "cases": make_segmentation()},
        "edt.json": {"versions": versions, "cases": make_edt()},
        "ellipsoids.json": {"versions": versions, **make_ellipsoids(args.shared)},
        "classification.json": {"versions": versions, **make_classification()},
        "fairness.json": {"versions": versions, **make_fairness()},
    }
    for name, obj in data.items():
        path = os.path.join(OUT, name)
        with open(path, "w") as fh:
            json.dump(obj, fh, indent=None, separators=(",", ":"))
        print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
