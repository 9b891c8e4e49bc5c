"""Golden values for the `snn` crate (crates/snn/tests/data/).

Produces, from data it generates with scikit-learn's `make_classification` (seeded):
  * snn_tabular.csv   400 samples x 12 features (+ label), informative features are columns 0..3
                      (`shuffle=False`), 70/30 class balance; values rounded to 9 significant digits and
                      the rounded values used for every reference computation below.
  * snn_golden.json   with scikit-learn 1.9 / pandas / scipy on that table:
      - `fold_ids`: StratifiedKFold(5) (no shuffle) test-fold number of every sample
      - `scaler`: StandardScaler().fit(X) mean_ and 1/scale_
      - `logreg_full`: LogisticRegression(C=1, lbfgs, tol 1e-10, max_iter 10000) on StandardScaler(X): coef_, intercept_
      - `cv`: per fold, scaler fit on the training fold; LogisticRegression (as above) and
              MLPClassifier(hidden_layer_sizes=(64, 128, 128), random_state=0, max_iter=300) test-fold
              balanced accuracy (sklearn.metrics.balanced_accuracy_score)
      - `sfs_forward` / `sfs_backward`: SequentialFeatureSelector(LogisticRegression(), n_features_to_select=4,
              direction=..., scoring="balanced_accuracy", cv=StratifiedKFold(5)) on StandardScaler(X):
              get_support(indices=True)
      - `correlation`: pandas DataFrame(Xc).corr().abs(), upper triangle k=1, columns with any value > 0.9
              dropped (the seed code's rule) on Xc = X plus 4 derived columns (near copies / constant)
      - `temperature`: the T minimising mean BCE of sigmoid(z/T) (scipy.optimize.minimize_scalar, bounded on
              log T) for the over-confident logits z = 4 * (LR decision function) of fold-0 test rows

Run from the repository root:  .venv/bin/python tools/golden/make_snn_fixtures.py
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from sklearn.datasets import make_classification
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler

OUT = Path(__file__).resolve().parents[2] / "crates" / "snn" / "tests" / "data"


def lr():
    return LogisticRegression(C=1.0, tol=1e-10, max_iter=10000)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    X, y = make_classification(
        n_samples=400, n_features=12, n_informative=4, n_redundant=0, n_repeated=0,
        n_clusters_per_class=1, weights=[0.7], class_sep=1.0, flip_y=0.02, shuffle=False, random_state=0,
    )
    X = np.array([[float(f"{v:.9g}") for v in row] for row in X])
    y = y.astype(int)
    names = [f"f{j:02d}" for j in range(X.shape[1])]
    with open(OUT / "snn_tabular.csv", "w") as f:
        f.write("case_id," + ",".join(names) + ",label\n")
        for i in range(len(y)):
            f.write(f"c{i:03d}," + ",".join(repr(float(v)) for v in X[i]) + f",{y[i]}\n")

    skf = StratifiedKFold(5)
    fold_ids = np.zeros(len(y), dtype=int)
    for k, (_, te) in enumerate(skf.split(X, y)):
        fold_ids[te] = k

    sc = StandardScaler().fit(X)
    Z = sc.transform(X)
    full = lr().fit(Z, y)

    cv = []
    for k, (tr, te) in enumerate(skf.split(X, y)):
        s = StandardScaler().fit(X[tr])
        a, b = s.transform(X[tr]), s.transform(X[te])
        m = lr().fit(a, y[tr])
        mlp = MLPClassifier(hidden_layer_sizes=(64, 128, 128), random_state=0, max_iter=300).fit(a, y[tr])
        cv.append({
            "fold": k,
            "logreg_ba": balanced_accuracy_score(y[te], m.predict(b)),
            "logreg_coef": m.coef_[0].tolist(),
            "logreg_intercept": float(m.intercept_[0]),
            "mlp_ba": balanced_accuracy_score(y[te], mlp.predict(b)),
        })

    sfs = {}
    for direction in ["forward", "backward"]:
        sel = SequentialFeatureSelector(LogisticRegression(), n_features_to_select=4, direction=direction,
                                        scoring="balanced_accuracy", cv=StratifiedKFold(5)).fit(Z, y)
        sfs[direction] = sel.get_support(indices=True).tolist()

    rng = np.random.default_rng(0)
    extra = np.column_stack([
        X[:, 0] * 2.0 + 0.01 * rng.standard_normal(len(y)),   # |r| ~ 1 with column 0 -> dropped
        X[:, 5] + 0.8 * rng.standard_normal(len(y)),          # moderately correlated -> kept
        np.full(len(y), 3.5),                                 # constant -> NaN correlation -> kept
        X[:, 0] * -1.0 + 0.05 * rng.standard_normal(len(y)),  # |r| > 0.9 with 0 and with column 12
    ])
    extra = np.array([[float(f"{v:.9g}") for v in row] for row in extra])
    Xc = np.column_stack([X, extra])
    corr = pd.DataFrame(Xc).corr().abs()
    upper = corr.where(np.triu(np.ones(corr.shape), k=1).astype(bool))
    drop = [c for c in upper.columns if any(upper[c] > 0.9)]
    kept = [c for c in range(Xc.shape[1]) if c not in drop]

    tr, te = next(iter(skf.split(X, y)))
    s = StandardScaler().fit(X[tr])
    m = lr().fit(s.transform(X[tr]), y[tr])
    z = 4.0 * m.decision_function(s.transform(X[te]))
    yt = y[te]

    def nll(logt):
        u = z / np.exp(logt)
        return float(np.mean(np.logaddexp(0.0, u) - yt * u))

    res = minimize_scalar(nll, bounds=(-5, 5), method="bounded", options={"xatol": 1e-10})

    golden = {
        "fold_ids": fold_ids.tolist(),
        "scaler": {"offsets": sc.mean_.tolist(), "scales": (1.0 / sc.scale_).tolist()},
        "logreg_full": {"coef": full.coef_[0].tolist(), "intercept": float(full.intercept_[0])},
        "cv": cv,
        "sfs_forward": sfs["forward"],
        "sfs_backward": sfs["backward"],
        "correlation": {"extra_columns": extra.tolist(), "threshold": 0.9, "kept": kept},
        "temperature": {"logits": z.tolist(), "labels": yt.tolist(), "temperature": float(np.exp(res.x)),
                        "nll": float(res.fun)},
    }
    with open(OUT / "snn_golden.json", "w") as f:
        json.dump(golden, f, indent=1)
    print("logreg BA", np.mean([c["logreg_ba"] for c in cv]), "mlp BA", np.mean([c["mlp_ba"] for c in cv]))
    print("sfs", sfs, "kept", kept, "T", np.exp(res.x))


if __name__ == "__main__":
    main()
