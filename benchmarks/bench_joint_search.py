"""Joint search of training hyperparameters and architectures against architecture-only search, same budget.

Issue 12, benchmark (c). For each dataset and seed: a 25 % stratified test
split; ``AutoNASClassifier(time_budget=...)`` fit on the training part with
``search_hyperparameters`` off (architectures only, trained with the
estimator's ``lr``, ``batch_size`` and ``augment``) and on (the joint space:
learning rate, weight decay, batch size, optimiser, head dropout and
augmentation searched with the architecture). Datasets: scikit-learn's 8x8
digits (as images: the CNN space) and breast_cancer (a table: the MLP space).
Numbers are reported, never asserted.

    python benchmarks/bench_joint_search.py                   # about 13 min on 2 cores
    python benchmarks/bench_joint_search.py --budget 8 --seeds 0 --out /tmp/joint.json   # smoke test
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from skautoml import AutoNASClassifier

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py


def load(name):
    if name == "digits":
        X, y = load_digits(return_X_y=True)
        return X.reshape(-1, 8, 8), y
    return load_breast_cancer(return_X_y=True)


def run(dataset, joint, budget, seed):
    X, y = load(dataset)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    started = time.perf_counter()
    clf = AutoNASClassifier(time_budget=budget, search_hyperparameters=joint, random_state=seed)
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    ok = clf.search_results_["status"] == "ok"
    return {
        "dataset": dataset,
        "search": "joint" if joint else "architecture",
        "seed": seed,
        "accuracy": float(np.mean(clf.predict(X_test) == y_test)),
        "n_trials": clf.n_trials_,
        "n_ok": int(ok.sum()),
        "fit_seconds": fit_seconds,
        "plan": clf.plan_.reason,
        "best": str(clf.best_architecture_),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--datasets", nargs="*", default=["digits", "breast_cancer"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--out", default="benchmarks/results/joint_search.json")
    args = parser.parse_args()
    runs = []
    print(f"{'dataset':>13} {'search':>12} {'seed':>4} {'accuracy':>8} {'trials':>6} {'fit s':>6}  best")
    for dataset in args.datasets:
        for seed in args.seeds:
            for joint in (False, True):
                row = run(dataset, joint, args.budget, seed)
                runs.append(row)
                print(
                    f"{dataset:>13} {row['search']:>12} {seed:>4} {row['accuracy']:>8.4f} {row['n_trials']:>6} "
                    f"{row['fit_seconds']:>6.0f}  {row['best']}",
                    flush=True,
                )
                write_json({"budget": args.budget, "runs": runs, "machine": machine_info()}, args.out)
    print(f"\n{'dataset':>13} {'search':>12} {'accuracy (mean ± sd over seeds)':>32}")
    for dataset in args.datasets:
        for search in ("architecture", "joint"):
            scores = [r["accuracy"] for r in runs if r["dataset"] == dataset and r["search"] == search]
            print(f"{dataset:>13} {search:>12} {np.mean(scores):>24.4f} ± {np.std(scores):.4f}")


if __name__ == "__main__":
    main()
