#!/usr/bin/env python3
"""Golden values for `medmetrics`' DeepMind surfels (crates/metrics/tests/data/deepmind.json).

Re-run from the repository root (after make_metrics_fixtures.py, whose segmentation.json masks it reuses):

    .venv/bin/pip install surface-distance==0.1
    .venv/bin/python tools/golden/make_deepmind_fixtures.py [--deepmind-repo PATH]

Reference: DeepMind surface-distance, the PyPI wheel 0.1 (its `surface_distance/{metrics,lookup_tables}.py`
equal google-deepmind/surface-distance @ 1f805cea; with `--deepmind-repo` pointing at a checkout, its table is
checked to be identical). The wheel still uses np.Inf/np.NaN, removed in numpy 2, so the aliases are restored
before the import. Values stored:

* `table`: for every neighbour code, DeepMind's `_NEIGHBOUR_CODE_TO_NORMALS` entry as component-wise absolute
  values sorted lexicographically (signs and order carry no area), and
  `create_table_neighbour_code_to_surface_area(spacing)` for a few spacings.
* `cases`: the masks of segmentation.json (by name) and a few surfel-specific ones: `compute_surface_distances`
  (sizes, area sums, full sorted lists for small surfaces), `compute_robust_hausdorff` at 50/95/100 (and at
  q ± 1e-9, which differ only at a knife edge where a cumulative area fraction equals q/100),
  `compute_average_surface_distance`, `compute_surface_overlap_at_tolerance` and
  `compute_surface_dice_at_tolerance` at 1 and 2 (mm).
* `ellipsoid`: the 256x256x160 ellipsoid fixture of /work/shared/reference/metrics.md §8 (regenerated from
  its analytic definition and cropped; DeepMind crops to the union bounding box itself).
"""
import argparse
import importlib.util
import json
import os
import warnings

import numpy as np

np.Inf = np.inf  # surface-distance 0.1 on numpy 2
np.NaN = np.nan

import surface_distance as sd  # noqa: E402
from surface_distance import lookup_tables as lt  # noqa: E402

warnings.filterwarnings("ignore")
DATA = "crates/metrics/tests/data"
SPACINGS = [[1.0, 1.0, 1.0], [0.7, 0.7, 1.5], [2.0, 0.6, 0.9], [1.5, 0.7, 0.8], [3.0, 0.25, 1.1]]


def f(x):
    x = float(x)
    if np.isnan(x):
        return None
    if np.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


def abs_sorted(normals):
    return sorted([abs(float(v)) + 0.0 for v in n] for n in normals if any(v != 0 for v in n))


def table():
    return {
        "normals": [abs_sorted(lt._NEIGHBOUR_CODE_TO_NORMALS[c]) for c in range(256)],
        "areas": [{"spacing": s, "area": lt.create_table_neighbour_code_to_surface_area(s).tolist()}
                  for s in SPACINGS],
    }


def values(g, p, spacing, lists_max=400):
    d = sd.compute_surface_distances(g, p, spacing)
    out = {
        "n_gt": len(d["distances_gt_to_pred"]), "n_pred": len(d["distances_pred_to_gt"]),
        "area_gt": f(np.sum(d["surfel_areas_gt"])), "area_pred": f(np.sum(d["surfel_areas_pred"])),
        "robust_hd": {str(q): f(sd.compute_robust_hausdorff(d, q)) for q in (50, 95, 100)},
        # Where a cumulative area fraction equals q/100 to rounding, the step percentile depends on the last bit
        # of the surfel areas (their summation order): the values just below and above such a knife edge.
        "robust_hd_edge": {str(q): [f(sd.compute_robust_hausdorff(d, q - 1e-9)),
                                    f(sd.compute_robust_hausdorff(d, q + 1e-9))] for q in (50, 95, 100)},
        "asd_gt_pred": [f(v) for v in sd.compute_average_surface_distance(d)],
        "overlap_gt_pred": {str(t): [f(v) for v in sd.compute_surface_overlap_at_tolerance(d, t)] for t in (1, 2)},
        "nsd": {str(t): f(sd.compute_surface_dice_at_tolerance(d, t)) for t in (1, 2)},
    }
    if 0 < len(d["distances_gt_to_pred"]) <= lists_max and 0 < len(d["distances_pred_to_gt"]) <= lists_max:
        out["lists"] = {k: [f(v) for v in d[k]] for k in ("distances_gt_to_pred", "distances_pred_to_gt",
                                                          "surfel_areas_gt", "surfel_areas_pred")}
    return out


def mask(shape, idx):
    m = np.zeros(int(np.prod(shape)), bool)
    m[idx] = True
    return m.reshape(shape)


def cases():
    with open(os.path.join(DATA, "segmentation.json")) as fh:
        seg = json.load(fh)["cases"]
    out = []
    for c in seg:
        p, g = mask(c["shape"], c["pred"]), mask(c["shape"], c["gt"])
        out.append({"name": c["name"], "source": "segmentation.json", "spacing": c["spacing"],
                    "deepmind": values(g, p, c["spacing"])})
    # surfel-specific extras, stored with their masks
    shape = (6, 7, 5)
    extra = []
    p = np.zeros(shape, bool); p[0:6, 0:3, 0:5] = True  # a slab touching five image faces
    g = np.zeros(shape, bool); g[0:4, 0:7, 0:2] = True
    extra.append(("slabs_touching_faces", p, g, [2.0, 0.6, 0.9]))
    p = np.zeros(shape, bool); p[1, 1, 1] = p[2, 2, 2] = p[3, 3, 3] = True  # corner-connected diagonal
    g = np.zeros(shape, bool); g[1, 1, 1] = g[1, 2, 1] = g[4, 5, 3] = True
    extra.append(("diagonal_voxels", p, g, [3.0, 0.25, 1.1]))
    rng = np.random.default_rng(5)
    extra.append(("random_dense", rng.random(shape) < 0.5, rng.random(shape) < 0.6, [0.7, 0.7, 1.5]))
    for name, p, g, s in extra:
        out.append({"name": name, "source": "self", "shape": list(shape), "spacing": s,
                    "pred": np.flatnonzero(p).tolist(), "gt": np.flatnonzero(g).tolist(),
                    "deepmind": values(g, p, s)})
    return out


def ellipsoid():
    shape = (256, 256, 160)
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    a = ((i - 128) / 25) ** 2 + ((j - 120) / 25) ** 2 + ((k - 80) / 19) ** 2 <= 1
    b = ((i - 131) / 26) ** 2 + ((j - 122) / 24) ** 2 + ((k - 81) / 20) ** 2 <= 1
    sl = tuple(slice(lo - 3, hi + 3) for lo, hi in zip(np.argwhere(a | b).min(0), np.argwhere(a | b).max(0) + 1))
    a, b = a[sl], b[sl]
    return {"aniso": values(a, b, [0.7, 0.7, 1.5], lists_max=0), "iso": values(a, b, [1.0, 1.0, 1.0], lists_max=0)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--deepmind-repo", help="a google-deepmind/surface-distance checkout to compare tables with")
    args = ap.parse_args()
    if args.deepmind_repo:
        spec = importlib.util.spec_from_file_location(
            "lt_repo", os.path.join(args.deepmind_repo, "surface_distance/lookup_tables.py"))
        repo = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(repo)
        assert repo._NEIGHBOUR_CODE_TO_NORMALS == lt._NEIGHBOUR_CODE_TO_NORMALS, "wheel and repo tables differ"
    obj = {"versions": {"surface-distance": "0.1 (PyPI)", "numpy": np.__version__},
           "table": table(), "cases": cases(), "ellipsoid": ellipsoid()}
    path = os.path.join(DATA, "deepmind.json")
    with open(path, "w") as fh:
        json.dump(obj, fh, indent=None, separators=(",", ":"))
    print(path, os.path.getsize(path), "bytes")
    e = obj["ellipsoid"]["aniso"]
    print("ellipsoid hd95", e["robust_hd"]["95"], "asd", e["asd_gt_pred"], "nsd2", e["nsd"]["2"],
          "n", e["n_gt"], e["n_pred"])


if __name__ == "__main__":
    main()
