"""Feature-engineering benchmark (b): a fixed model on raw features vs after ``AutoFeatureEngineer``.

On wine, breast_cancer and digits, for each seed, a stratified 75/25 train/test split
(``train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)``). Two fixed models:

- ``logistic``: ``StandardScaler`` + ``LogisticRegression(max_iter=1000)``;
- ``knn``: ``StandardScaler`` + ``KNeighborsClassifier(n_neighbors=5)``, a model whose accuracy
  depends more on which features it sees.

``raw`` fits the model on the training part. ``AutoFeatureEngineer`` is
``make_pipeline(AutoFeatureEngineer(estimator=model, random_state=seed), model)``: the search
(default space, 5-fold CV, on the training part only) chooses the feature steps by the model's
own cross-validated accuracy, then the model is fitted on the engineered training features.
Both are scored on the same test part. Reported: test accuracy, fit seconds, the configuration
chosen, and the search's CV accuracy of that configuration and of the raw features.

    python benchmarks/bench_feature_engineering.py
"""
import argparse
import os
import time
from collections import Counter

import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer, load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from skautoml.features._auto import AutoFeatureEngineer

DATASETS = {"wine": load_wine, "breast_cancer": load_breast_cancer, "digits": load_digits}
MODELS = {
    "logistic": lambda: make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
    "knn": lambda: make_pipeline(StandardScaler(), KNeighborsClassifier(n_neighbors=5)),
}


def timed_fit_accuracy(model, X_train, y_train, X_test, y_test):
    started = time.perf_counter()
    model.fit(X_train, y_train)
    seconds = time.perf_counter() - started
    return float(np.mean(model.predict(X_test) == y_test)), seconds


def run(dataset, model_name, seed, cv):
    X, y = DATASETS[dataset](return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    model = MODELS[model_name]()
    base = {"dataset": dataset, "model": model_name, "seed": seed, "n_train": len(y_train), "n_features": X.shape[1]}
    accuracy, seconds = timed_fit_accuracy(clone(model), X_train, y_train, X_test, y_test)
    rows = [{**base, "method": "raw", "test_accuracy": accuracy, "fit_seconds": seconds, "n_features_out": X.shape[1]}]
    engineered = make_pipeline(AutoFeatureEngineer(estimator=clone(model), cv=cv, random_state=seed), clone(model))
    accuracy, seconds = timed_fit_accuracy(engineered, X_train, y_train, X_test, y_test)
    fe = engineered[0]
    rows.append(
        {
            **base,
            "method": "AutoFeatureEngineer",
            "test_accuracy": accuracy,
            "fit_seconds": seconds,
            "n_features_out": len(fe.get_feature_names_out()),
            "chosen": fe.best_config_,
            "chosen_steps": {
                step: t if isinstance(t, str) else type(t).__name__ for step, t in fe.best_steps_.items()
            },
            "search_cv_chosen": fe.best_score_,
            "search_cv_raw": fe.baseline_score_,
            "n_configurations": len(fe.cv_results_["config"]),
            "configurations": {
                config: float(score)
                for config, score in zip(fe.cv_results_["config"], fe.cv_results_["mean_test_score"])
            },
        }
    )
    return rows


def short(config):
    """``construct=FeatureConstructor(...) | select=...`` -> ``FeatureConstructor+...``, with the method."""
    if config == "raw features":
        return "raw"
    parts = []
    for part in config.split(" | "):
        _, label = part.split("=", 1)
        name = label.split("(", 1)[0]
        method = label.split("method='", 1)[1].split("'", 1)[0] if "method='" in label else None
        parts.append(f"{name}[{method}]" if method else name)
    return "+".join(parts)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    parser.add_argument("--models", nargs="+", choices=list(MODELS), default=list(MODELS))
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP and torch threads")
    parser.add_argument("--out", default="benchmarks/results/feature_engineering.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report = {"benchmark": "feature_engineering", "config": vars(args), "machine": machine_info(), "runs": []}
    with threadpool_limits(args.threads):
        for dataset in args.datasets:
            for model_name in args.models:
                for seed in args.seeds:
                    report["runs"].extend(run(dataset, model_name, seed, args.cv))
                    report["load_average_at_end"] = os.getloadavg()
                    write_json(report, args.out)  # a stopped run keeps what it measured

    print(
        f"{'dataset':<14} {'model':<9} {'raw acc':>15} {'AFE acc':>15} {'AFE CV (raw CV)':>17} "
        f"{'raw s':>6} {'AFE s':>6}  chosen"
    )
    summary = []
    keys = dict.fromkeys((r["dataset"], r["model"]) for r in report["runs"])
    for dataset, model_name in keys:
        runs = [r for r in report["runs"] if r["dataset"] == dataset and r["model"] == model_name]
        raw = [r for r in runs if r["method"] == "raw"]
        afe = [r for r in runs if r["method"] == "AutoFeatureEngineer"]
        raw_acc = np.array([r["test_accuracy"] for r in raw])
        afe_acc = np.array([r["test_accuracy"] for r in afe])
        chosen = Counter(short(r["chosen"]) for r in afe)
        row = {
            "dataset": dataset,
            "model": model_name,
            "raw_accuracy_mean": float(raw_acc.mean()),
            "raw_accuracy_std": float(raw_acc.std()),
            "afe_accuracy_mean": float(afe_acc.mean()),
            "afe_accuracy_std": float(afe_acc.std()),
            "afe_search_cv_mean": float(np.mean([r["search_cv_chosen"] for r in afe])),
            "raw_search_cv_mean": float(np.mean([r["search_cv_raw"] for r in afe])),
            "raw_fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in raw])),
            "afe_fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in afe])),
            "chosen": dict(chosen),
        }
        summary.append(row)
        print(
            f"{dataset:<14} {model_name:<9} {row['raw_accuracy_mean']:.4f} ± {row['raw_accuracy_std']:.4f} "
            f"{row['afe_accuracy_mean']:.4f} ± {row['afe_accuracy_std']:.4f} "
            f"{row['afe_search_cv_mean']:>8.4f} ({row['raw_search_cv_mean']:.4f}) "
            f"{row['raw_fit_seconds_mean']:>6.2f} {row['afe_fit_seconds_mean']:>6.1f}  "
            + ", ".join(f"{name} x{count}" for name, count in chosen.items())
        )
    report["summary"] = summary
    report["load_average_at_end"] = os.getloadavg()
    start, end = report["machine"]["load_average_1_5_15"], report["load_average_at_end"]
    print(f"load average (1, 5, 15 min) at start {start}, at end {end}")
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
