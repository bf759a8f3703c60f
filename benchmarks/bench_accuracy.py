"""Held-out accuracy of AutoNASClassifier against scikit-learn baselines.

For each dataset and seed: a 25 % stratified test split; every method is fit
on the same training part and scored on the same test part, and its wall time
(fit + predict) is measured in the same run. Numbers are reported, never
asserted.

    python benchmarks/bench_accuracy.py                      # full run, ~25 min on 2 cores
    python benchmarks/bench_accuracy.py --budgets 5 --seeds 0  # smoke test
"""
import argparse
import time
from contextlib import nullcontext

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import SVC
from threadpoolctl import threadpool_limits

from skautoml import AutoNASClassifier

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

DATASETS = ("digits", "breast_cancer")
METHODS = ("autonas", "logreg", "svc_grid", "random_forest", "hist_gb", "mlp")
# Goals the package is measured against: dataset -> (method label, minimum mean accuracy).
TARGETS = {"digits": ("autonas_120s", 0.990)}
SVC_GRID = {"C": [0.1, 1, 10, 100], "gamma": ["scale", 0.001, 0.01, 0.1]}


def load(dataset):
    """Digits as (N, 8, 8) images, so AutoNAS searches its CNN space; breast_cancer as a table."""
    if dataset == "digits":
        digits = load_digits()
        return digits.images, digits.target
    return load_breast_cancer(return_X_y=True)


def scale_pixels(X):
    return X / 16.0  # digits pixels are 0..16


def flatten(X):
    return X.reshape(len(X), -1)


def make_baseline(method, dataset, seed):
    """A scikit-learn baseline; images are flattened first."""
    if method == "logreg":
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000))
    elif method == "svc_grid":
        if dataset == "digits":
            # The classic SVC setup for digits: pixels in [0, 1], not standardised.
            model = GridSearchCV(make_pipeline(FunctionTransformer(scale_pixels), SVC()), prefix(SVC_GRID), cv=5)
        else:
            # Scaler inside the grid search, so each CV fold is scaled on its own training part.
            model = GridSearchCV(make_pipeline(StandardScaler(), SVC()), prefix(SVC_GRID), cv=5)
    elif method == "random_forest":
        model = RandomForestClassifier(n_estimators=500, random_state=seed)
    elif method == "hist_gb":
        model = HistGradientBoostingClassifier(random_state=seed)
    elif method == "mlp":
        model = make_pipeline(StandardScaler(), MLPClassifier(max_iter=1000, random_state=seed))
    else:
        raise ValueError(method)
    return make_pipeline(FunctionTransformer(flatten), model)


def prefix(grid):
    return {f"svc__{name}": values for name, values in grid.items()}


def candidates(methods, dataset, seed, budgets):
    """(label, estimator) pairs for one dataset and seed."""
    for method in methods:
        if method == "autonas":
            for budget in budgets:
                # Only the time budget ends the search (the default max_trials=20 would not).
                yield f"autonas_{budget:g}s", AutoNASClassifier(max_trials=None, time_budget=budget, random_state=seed)
        else:
            yield method, make_baseline(method, dataset, seed)


def run_one(estimator, X_train, y_train, X_test, y_test):
    started = time.perf_counter()
    estimator.fit(X_train, y_train)
    accuracy = float(np.mean(estimator.predict(X_test) == y_test))
    row = {"accuracy": accuracy, "wall_seconds": time.perf_counter() - started}
    if isinstance(estimator, AutoNASClassifier):
        row.update(
            n_trials=estimator.n_trials_,
            n_failed=int((estimator.search_results_["status"] == "failed").sum()),
            best_validation_score=estimator.best_score_,
            best_architecture=str(estimator.best_architecture_),
            search_seconds=estimator.search_seconds_,
            refit_seconds=estimator.refit_seconds_,
        )
    return row


def summarise(runs):
    """One row per (dataset, method): mean/std over seeds (std with ddof=0) and per-seed values."""
    summary = []
    for key in dict.fromkeys((r["dataset"], r["method"]) for r in runs):
        rows = [r for r in runs if (r["dataset"], r["method"]) == key]
        accuracies = [r["accuracy"] for r in rows]
        entry = {
            "dataset": key[0],
            "method": key[1],
            "mean_accuracy": float(np.mean(accuracies)),
            "std_accuracy": float(np.std(accuracies)),
            "accuracy_per_seed": {str(r["seed"]): r["accuracy"] for r in rows},
            "mean_wall_seconds": float(np.mean([r["wall_seconds"] for r in rows])),
        }
        if "n_trials" in rows[0]:
            entry["mean_trials"] = float(np.mean([r["n_trials"] for r in rows]))
        summary.append(entry)
    return summary


def target_lines(summary, datasets):
    lines = []
    for dataset in datasets:
        if dataset not in TARGETS:
            lines.append(f"target {dataset}: none set")
            continue
        method, goal = TARGETS[dataset]
        found = [s for s in summary if (s["dataset"], s["method"]) == (dataset, method)]
        if found:
            mean = found[0]["mean_accuracy"]
            verdict = f"measured {mean:.4f} ({'met' if mean >= goal else 'not met'})"
        else:
            verdict = "not run"
        lines.append(f"target {dataset}: {method} mean accuracy >= {goal:.3f}; {verdict}")
    return lines


def print_table(summary):
    print(f"\n{'dataset':<14} {'method':<16} {'accuracy':>17} {'wall s':>8} {'trials':>7}")
    for s in summary:
        trials = f"{s['mean_trials']:.1f}" if "mean_trials" in s else ""
        accuracy = f"{s['mean_accuracy']:.4f} ± {s['std_accuracy']:.4f}"
        print(f"{s['dataset']:<14} {s['method']:<16} {accuracy:>17} {s['mean_wall_seconds']:>8.1f} {trials:>7}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", nargs="+", type=float, default=[60, 120], help="AutoNAS time budgets (s)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument(
        "--threads", type=int, default=None, help="cap torch and BLAS/OpenMP threads (default: no cap)"
    )
    parser.add_argument("--out", default="benchmarks/results/accuracy.json")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    report = {"benchmark": "accuracy", "config": vars(args), "machine": machine_info(), "targets": TARGETS}
    runs = []
    with threadpool_limits(args.threads) if args.threads else nullcontext():
        for dataset in args.datasets:
            X, y = load(dataset)
            for seed in args.seeds:
                X_train, X_test, y_train, y_test = train_test_split(
                    X, y, test_size=0.25, stratify=y, random_state=seed
                )
                for method, estimator in candidates(args.methods, dataset, seed, args.budgets):
                    row = {"dataset": dataset, "method": method, "seed": seed}
                    row.update(run_one(estimator, X_train, y_train, X_test, y_test))
                    runs.append(row)
                    extra = f", {row['n_trials']} trials" if "n_trials" in row else ""
                    print(f"{dataset} seed {seed} {method}: {row['accuracy']:.4f} in {row['wall_seconds']:.1f} s{extra}")
                    # Saved after every run, so a long run that is stopped keeps what it measured.
                    write_json({**report, "runs": runs, "summary": summarise(runs)}, args.out)

    summary = summarise(runs)
    print_table(summary)
    for line in target_lines(summary, args.datasets):
        print(line)
    report.update(runs=runs, summary=summary, target_lines=target_lines(summary, args.datasets))
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
