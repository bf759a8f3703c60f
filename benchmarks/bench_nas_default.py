"""The default AutoNASClassifier under a time budget at realistic image sizes, against the strategies and baselines.

For each dataset and seed: a 25 % stratified test split; every method is fit
on the same training part under the same wall time and scored on the same
test part. Datasets: scikit-learn's 8x8 digits (120 s), digits upscaled to
28x28 (180 s), distorted 28x28 digits (180 s; three random affine warps of
each digit, split so that all copies of a test digit stay out of training),
and a generated 3x32x32 set of 10 shape classes (180 s; see ``_images.py``).
Methods:

* ``default``: ``AutoNASClassifier(time_budget=...)``, nothing else set;
* ``cnn``: the strong hand-written CNN of ``_images.py``, trained for the budget;
* ``svc``: an SVC tuned by a 3-fold grid search on pixels scaled to [0, 1];
* one run each of ``darts``, ``gdas``, ``pcdarts`` (``search_space='cell'``),
  ``spos``, ``enas`` and ``evolution`` (the CNN space), ``max_trials=None``.

Each run writes one JSON record (``--out`` directory), so an interrupted
benchmark resumes where it stopped; the summary table is printed and written
beside them. Numbers are reported, never asserted.

    python benchmarks/bench_nas_default.py                   # everything: about 75 min on 2 cores
    python benchmarks/bench_nas_default.py --datasets digits28 --methods default cnn --seeds 0
    python benchmarks/bench_nas_default.py --scale 0.05 --out /tmp/smoke   # smoke test: budgets of 6-9 s
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, train_test_split
from sklearn.svm import SVC

from skautoml import AutoNASClassifier

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from _images import HandWrittenCNN, digits_images, distorted_digits, shapes_images

BUDGETS = {"digits8": 120.0, "digits28": 180.0, "distorted28": 180.0, "shapes32": 180.0}
STRATEGIES = ("darts", "gdas", "pcdarts", "spos", "enas", "evolution")
CELL_STRATEGIES = ("darts", "gdas", "pcdarts")
SVC_GRID = {"C": [1, 10, 100], "gamma": ["scale", 0.01]}
_DATA = {}


def load(dataset):
    if dataset not in _DATA:
        if dataset == "shapes32":
            _DATA[dataset] = shapes_images(3000, 32, seed=0)
        elif dataset == "distorted28":
            _DATA[dataset] = distorted_digits(28, copies=3, seed=0)
        else:
            _DATA[dataset] = digits_images(8 if dataset == "digits8" else 28)
    return _DATA[dataset]


def fit_method(method, budget, seed, X_train, y_train):
    """The fitted model and what to record about its search."""
    if method == "cnn":
        model = HandWrittenCNN(budget, seed=seed).fit(X_train, y_train)
        return model, {"epochs": model.epochs_}
    if method == "svc":
        scale = X_train.max()
        flat = X_train.reshape(len(X_train), -1) / scale
        model = GridSearchCV(SVC(), SVC_GRID, cv=3, n_jobs=1).fit(flat, y_train)
        model.scale_ = scale
        return model, {"best_params": model.best_params_}
    settings = {} if method == "default" else {"strategy": method, "max_trials": None}
    if method in CELL_STRATEGIES:
        settings["search_space"] = "cell"
    model = AutoNASClassifier(time_budget=budget, random_state=seed, **settings).fit(X_train, y_train)
    results = model.search_results_
    ok = results["status"] == "ok"
    return model, {
        "plan": model.plan_.reason,
        "n_trials": int(len(results["score"])),
        "n_architectures": len({repr(a) for a in results["architecture"][ok]}),
        "trials_at_full_fidelity": int((results["resource"][ok] == 1).sum()),
        "search_seconds": model.search_seconds_,
        "refit_seconds": model.refit_seconds_,
        "refit_epochs": len(model.best_estimator_.history),
        "best_architecture": str(model.best_architecture_),
    }


def run_one(dataset, method, seed, scale=1.0):
    X, y, *groups = load(dataset)
    if groups:  # copies of one digit: all in training or all in the test part
        train, test = next(StratifiedGroupKFold(4, shuffle=True, random_state=seed).split(X, y, groups[0]))
        X_train, X_test, y_train, y_test = X[train], X[test], y[train], y[test]
    else:
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    budget = BUDGETS[dataset] * scale
    torch.manual_seed(seed)
    started = time.perf_counter()
    model, details = fit_method(method, budget, seed, X_train, y_train)
    fit_seconds = time.perf_counter() - started
    if method == "svc":
        predictions = model.predict(X_test.reshape(len(X_test), -1) / model.scale_)
    else:
        predictions = model.predict(X_test)
    return {
        "dataset": dataset,
        "method": method,
        "seed": seed,
        "budget": budget,
        "accuracy": float(np.mean(predictions == y_test)),
        "fit_seconds": fit_seconds,
        "n_train": len(X_train),
        "n_test": len(X_test),
        **details,
    }


def plan_runs(datasets, methods, seeds):
    """Three seeds for the default and the baselines, the first seed for the other strategies."""
    runs = []
    for dataset in datasets:
        for method in methods:
            for seed in seeds if method in ("default", "cnn", "svc") else seeds[:1]:
                runs.append((dataset, method, seed))
    return runs


def summarise(records):
    summary = {}
    for record in records:
        summary.setdefault((record["dataset"], record["method"]), []).append(record)
    rows = []
    for (dataset, method), group in summary.items():
        accuracy = [r["accuracy"] for r in group]
        rows.append(
            {
                "dataset": dataset,
                "method": method,
                "seeds": [r["seed"] for r in group],
                "accuracy_mean": float(np.mean(accuracy)),
                "accuracy_std": float(np.std(accuracy)),
                "accuracy_per_seed": accuracy,
                "fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in group])),
                "n_architectures_mean": float(np.mean([r.get("n_architectures", 1) for r in group])),
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(BUDGETS))
    parser.add_argument("--methods", nargs="*", default=["default", "cnn", "svc", *STRATEGIES])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--out", default="benchmarks/results/nas_default")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every time budget (smoke tests)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = []
    for dataset, method, seed in plan_runs(args.datasets, args.methods, args.seeds):
        path = out / f"{dataset}_{method}_{seed}.json"
        if path.exists():
            record = json.loads(path.read_text())
        else:
            record = {**run_one(dataset, method, seed, args.scale), "machine": machine_info()}
            write_json(record, path)
        records.append(record)
        print(
            f"{dataset:9} {method:10} seed {seed}: accuracy {record['accuracy']:.4f}, fit {record['fit_seconds']:.0f} s"
            + (f", {record['n_architectures']} architectures" if "n_architectures" in record else ""),
            flush=True,
        )
    rows = summarise(records)
    print(f"\n{'dataset':9} {'method':10} {'accuracy (mean ± sd)':>22} {'per seed':>26} {'fit s':>6} {'archs':>6}")
    for row in rows:
        per_seed = ", ".join(f"{a:.4f}" for a in row["accuracy_per_seed"])
        print(
            f"{row['dataset']:9} {row['method']:10} {row['accuracy_mean']:>13.4f} ± {row['accuracy_std']:.4f} "
            f"{per_seed:>26} {row['fit_seconds_mean']:>6.0f} {row['n_architectures_mean']:>6.0f}"
        )
    write_json({"rows": rows, "machine": machine_info()}, out / "summary.json")


if __name__ == "__main__":
    main()
