"""Compare Dice + HD95 of `medmetrics` with MONAI, DeepMind surface-distance and SimpleITK on the issue's
benchmark masks, on the same machine.

The masks: the ellipsoid fixture of `/work/shared/fixtures/metrics/README.md` (regenerated from its analytic
definition): two bool arrays (256, 256, 160), 49,639 and 52,229 voxels, spacing (0.7, 0.7, 1.5) mm per array
axis; b = prediction, a = ground truth.

References (timed in-process, masks already in memory, medians of --repeat runs):
  * MONAI 1.6.1 CPU: `compute_dice` + `compute_hausdorff_distance(percentile=95, spacing=...)`
  * DeepMind surface-distance 0.1 (PyPI): `compute_dice_coefficient` + `compute_surface_distances` +
    `compute_robust_hausdorff(·, 95)` (surfels, area-weighted: a different HD95 definition)
  * SimpleITK: `LabelOverlapMeasuresImageFilter` (Dice) + `HausdorffDistanceImageFilter` (max HD only; no HD95)
  * MAMA-MIA scorer method: Dice + LabelContour + cKDTree HD95 in voxels (transcribed, as in
    tools/golden/make_metrics_fixtures.py)
  * DeepMind, all surfel metrics: `compute_surface_distances` + `compute_robust_hausdorff` 95 and 100 +
    `compute_average_surface_distance` + `compute_surface_dice_at_tolerance(·, 2)`; compared with our
    `Surface::Surfels` variant (same definitions: `Hd95Rule::AreaWeighted`, ASSD `MeanOfDirected`, NSD 2 mm)
Ours: `cargo run --release -p medmetrics --example time_metrics` (built first, not timed), which reports the
in-process median of Dice + HD95 (erosion border, mm, MONAI conventions), of the MAMA-MIA case score, of
Dice + surfel HD95 (DeepMind's definition) and of all surfel metrics from one distance set.

Usage (from the repository root):

    .venv/bin/python benches/compare_metrics.py [--repeat 7]
"""

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

np.Inf = np.inf  # DeepMind surface-distance 0.1 on numpy 2
np.NaN = np.nan

ROOT = Path(__file__).resolve().parents[1]


def ellipsoid(shape, c, r):
    i, j, k = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    return ((i - c[0]) / r[0]) ** 2 + ((j - c[1]) / r[1]) ** 2 + ((k - c[2]) / r[2]) ** 2 <= 1


def timed(fn, repeat):
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    shape = (256, 256, 160)
    a = ellipsoid(shape, (128, 120, 80), (25, 25, 19))
    b = ellipsoid(shape, (131, 122, 81), (26, 24, 20))
    sp = (0.7, 0.7, 1.5)

    import torch
    import SimpleITK as sitk
    from scipy.spatial import cKDTree
    from monai.metrics import compute_dice, compute_hausdorff_distance
    import surface_distance as sd

    torch.set_num_threads(os.cpu_count() or 1)
    yp = torch.from_numpy(b[None, None].astype(np.float32))
    yg = torch.from_numpy(a[None, None].astype(np.float32))

    def monai():
        d = compute_dice(yp, yg, include_background=True)
        h = compute_hausdorff_distance(yp, yg, include_background=True, percentile=95, spacing=list(sp))
        return float(d), float(h)

    def deepmind():
        d = sd.compute_dice_coefficient(a, b)
        s = sd.compute_surface_distances(a, b, sp)
        return d, sd.compute_robust_hausdorff(s, 95)

    def deepmind_all():
        s = sd.compute_surface_distances(a, b, sp)
        h = sd.compute_robust_hausdorff(s, 95)
        sd.compute_robust_hausdorff(s, 100)
        asd = sd.compute_average_surface_distance(s)
        return h, 0.5 * (asd[0] + asd[1]), sd.compute_surface_dice_at_tolerance(s, 2.0)

    ia = sitk.GetImageFromArray(a.astype(np.uint8))
    ib = sitk.GetImageFromArray(b.astype(np.uint8))
    for im in (ia, ib):
        im.SetSpacing(sp[::-1])

    def simpleitk():
        lo = sitk.LabelOverlapMeasuresImageFilter()
        lo.Execute(ia, ib)
        hd = sitk.HausdorffDistanceImageFilter()
        hd.Execute(ia, ib)
        return lo.GetDiceCoefficient(), hd.GetHausdorffDistance()

    def mamamia():
        tp = np.sum(a & b)
        d = 2 * tp / (a.sum() + b.sum())
        ca = np.argwhere(sitk.GetArrayFromImage(sitk.LabelContour(sitk.GetImageFromArray(a.astype(np.uint8)))))
        cb = np.argwhere(sitk.GetArrayFromImage(sitk.LabelContour(sitk.GetImageFromArray(b.astype(np.uint8)))))
        f = cKDTree(ca).query(cb, k=1)[0]
        g = cKDTree(cb).query(ca, k=1)[0]
        return d, max(np.percentile(f, 95), np.percentile(g, 95))

    rows = []
    for name, fn in (("MONAI 1.6 (CPU KD-tree)", monai), ("DeepMind surface-distance", deepmind),
                     ("SimpleITK (Dice + max HD)", simpleitk), ("MAMA-MIA scorer method (voxels)", mamamia)):
        w, c, out = timed(fn, args.repeat)
        rows.append((name, w, c, out))

    dm_all = timed(deepmind_all, args.repeat)

    subprocess.run(["cargo", "build", "--release", "-p", "medmetrics", "--example", "time_metrics"], cwd=ROOT,
                   check=True, capture_output=True)
    exe = ROOT / "target" / "release" / "examples" / "time_metrics"
    ours = json.loads(subprocess.run([str(exe), str(max(args.repeat, 9))], capture_output=True, text=True,
                                     check=True).stdout.strip().splitlines()[-1])

    print(f"load: {os.getloadavg()}  cores: {os.cpu_count()}")
    print(f"{'method':36s} {'wall s':>9s} {'cpu s':>9s}  {'Dice':>12s} {'HD95/HD':>12s}")
    for name, w, c, out in rows:
        print(f"{name:36s} {w:9.4f} {c:9.4f}  {out[0]:12.10f} {out[1]:12.7f}")
    print(f"{'medmetrics Dice + HD95 (mm)':36s} {ours['dice_hd95_mm_s']:9.4f} {'-':>9s}  {ours['dice']:12.10f} "
          f"{ours['hd95_mm']:12.7f}")
    print(f"{'medmetrics MAMA-MIA case (voxels)':36s} {ours['mamamia_case_s']:9.4f} {'-':>9s}  {'':12s} "
          f"{ours['hd95_vox']:12.7f}")
    fastest = min(rows[:3], key=lambda r: r[1])
    print(f"\nspeed-up of medmetrics Dice + HD95 vs the fastest reference ({fastest[0]}): "
          f"{fastest[1] / ours['dice_hd95_mm_s']:.1f}x")
    for name, w, _, _ in rows:
        print(f"  vs {name}: {w / ours['dice_hd95_mm_s']:.1f}x")
    print(f"  MAMA-MIA case vs the scorer's method: {rows[3][1] / ours['mamamia_case_s']:.1f}x")

    dm = rows[1]
    print("\nDeepMind surfels (same definition on both sides):")
    print(f"{'method':36s} {'wall s':>9s} {'cpu s':>9s}  {'HD95':>12s} {'ASSD':>12s} {'NSD 2mm':>12s}")
    print(f"{'DeepMind Dice + HD95':36s} {dm[1]:9.4f} {dm[2]:9.4f}  {dm[3][1]:12.10f}")
    print(f"{'medmetrics Dice + HD95 (surfels)':36s} {ours['dice_hd95_surfels_s']:9.4f} {'-':>9s}  "
          f"{ours['hd95_surfels']:12.10f}")
    o = dm_all[2]
    print(f"{'DeepMind HD95+HD+ASSD+NSD':36s} {dm_all[0]:9.4f} {dm_all[1]:9.4f}  {o[0]:12.10f} {o[1]:12.10f} "
          f"{o[2]:12.10f}")
    print(f"{'medmetrics HD95+HD+ASSD+NSD (surfels)':36s} {ours['surfels_all_s']:9.4f} {'-':>9s}  "
          f"{ours['hd95_surfels']:12.10f} {ours['assd_surfels']:12.10f} {ours['nsd_surfels']:12.10f}")
    print(f"  speed-up Dice + HD95: {dm[1] / ours['dice_hd95_surfels_s']:.1f}x; "
          f"all surfel metrics: {dm_all[0] / ours['surfels_all_s']:.1f}x")


if __name__ == "__main__":
    main()
