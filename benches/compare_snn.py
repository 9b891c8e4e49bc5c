"""Sequential forward selection 107 -> 40 features, 5-fold stratified CV, balanced accuracy, on 1200 samples:
`snn` (Newton logistic regression, warm starts, rayon over candidates x folds) vs scikit-learn's
`SequentialFeatureSelector(LogisticRegression(), n_features_to_select=40, direction="forward",
scoring="balanced_accuracy", cv=StratifiedKFold(5))`, on the same standardised data on the same machine.

Data: `make_classification(n_samples=1200, n_features=107, n_informative=20, n_redundant=30, weights=[0.7],
random_state=0)`, z-scored (StandardScaler), rounded to 12 significant digits, written to
target/snn_bench/sfs_1200x107.csv (`case_id,<features>,label`), read by both sides.

scikit-learn is timed in-process (n_jobs=1 by default, see --sklearn-jobs); ours with
`cargo run --release -p snn --example time_sfs` (built first, not timed; in-process median of --repeat runs,
all cores via rayon, and with RAYON_NUM_THREADS=1). Both selections are printed and compared.

Usage (from the repository root):

    .venv/bin/python benches/compare_snn.py [--repeat 3] [--sklearn-repeat 1]
"""

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import make_classification
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--sklearn-repeat", type=int, default=1)
    ap.add_argument("--n-features", type=int, default=40)
    ap.add_argument("--sklearn-jobs", type=int, nargs="+", default=[1],
                    help="n_jobs values for scikit-learn (1 = the library default)")
    args = ap.parse_args()
    X, y = make_classification(n_samples=1200, n_features=107, n_informative=20, n_redundant=30, weights=[0.7],
                               random_state=0)
    X = StandardScaler().fit_transform(X)
    X = np.array([[float(f"{v:.12g}") for v in row] for row in X])
    out = Path(tempfile.mkdtemp(prefix="snn_bench_"))
    csv = out / "sfs_1200x107.csv"
    with open(csv, "w") as f:
        f.write("case_id," + ",".join(f"f{j:03d}" for j in range(X.shape[1])) + ",label\n")
        for i in range(len(y)):
            f.write(f"c{i}," + ",".join(repr(float(v)) for v in X[i]) + f",{int(y[i])}\n")

    subprocess.run(["cargo", "build", "--release", "-p", "snn", "--example", "time_sfs"], cwd=ROOT, check=True)
    exe = ROOT / "target" / "release" / "examples" / "time_sfs"
    ours = {}
    for threads in ["0", "1"]:  # 0 = rayon's default (all cores)
        env = dict(os.environ, RAYON_NUM_THREADS=threads)
        res = subprocess.run([str(exe), str(csv), str(args.n_features), "5", str(args.repeat)], check=True,
                             capture_output=True, text=True, env=env)
        ours[threads] = json.loads(res.stdout.strip().splitlines()[-1])
        print("ours", threads, ours[threads]["median_s"], flush=True)

    results = {}
    for n_jobs in args.sklearn_jobs:
        times, sel = [], None
        for _ in range(args.sklearn_repeat):
            t = time.perf_counter()
            sfs = SequentialFeatureSelector(LogisticRegression(), n_features_to_select=args.n_features,
                                            direction="forward", scoring="balanced_accuracy",
                                            cv=StratifiedKFold(5), n_jobs=n_jobs).fit(X, y)
            times.append(time.perf_counter() - t)
            sel = sfs.get_support(indices=True).tolist()
        results[n_jobs] = (statistics.median(times), sel)
        print("sklearn", n_jobs, results[n_jobs][0], flush=True)

    base = ours["0"]["median_s"]
    print(f"machine: {os.cpu_count()} logical CPUs; load {os.getloadavg()}")
    print("| implementation | median wall (s) | time / ours (all threads) |")
    print("| --- | --- | --- |")
    print(f"| snn, rayon {ours['0']['threads']} threads | {base:.3f} | 1.0 |")
    print(f"| snn, 1 thread | {ours['1']['median_s']:.3f} | {ours['1']['median_s'] / base:.2f} |")
    for n_jobs, (t, _) in results.items():
        print(f"| scikit-learn SFS(LogisticRegression()), n_jobs={n_jobs} | {t:.3f} | {t / base:.1f} |")
    sk = next(iter(results.values()))[1]
    common = len(set(sk) & set(ours["0"]["selected"]))
    print(f"selections: {common}/{args.n_features} features in common")
    print(f"  ours    {ours['0']['selected']}")
    print(f"  sklearn {sk}")

if __name__ == "__main__":
    main()
