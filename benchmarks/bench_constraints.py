"""Accuracy and size of the searched network under max_params at 25 %, 50 % and 100 % of the unconstrained best's size.

Issue 12, benchmark (a). For each seed: a 25 % stratified test split of
scikit-learn's 8x8 digits (passed as images, so the CNN space is searched);
``AutoNASClassifier(time_budget=...)`` first without a limit, then with
``max_params`` at each fraction of the parameters of that search's final
network. Reported per run: held-out accuracy, the final network's parameters,
trials, and architectures refused by the limit. Numbers are reported, never
asserted.

``--strategy darts`` (or gdas, pcdarts) searches ``GRADIENT_SPACE``, a cell
space small enough for several search epochs in the budget, with that
gradient strategy (one warm-up epoch) instead, once per ``--cost-weights``
value: the weight of the differentiable cost term (0 leaves only the
feasible discretisation).

    python benchmarks/bench_constraints.py                    # about 13 min on 2 cores
    python benchmarks/bench_constraints.py --strategy darts --fractions 0.25 0.5 --cost-weights 0 1 \
        --out benchmarks/results/constraints_darts.json        # about 15 min
    python benchmarks/bench_constraints.py --budget 10 --seeds 0 --out /tmp/constraints.json   # smoke test
"""
import argparse
import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skautoml import AutoNASClassifier
from skautoml.nas import NAS_STRATEGIES, CellSpace

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py


GRADIENT = ("darts", "gdas", "pcdarts")
GRADIENT_SPACE = CellSpace(
    n_blocks=3, n_cells=3, initial_channels=8, n_reductions=1,
    operations=("conv3x3", "conv5x5", "sepconv3x3", "maxpool", "identity"),
)


def run(X_train, X_test, y_train, y_test, budget, seed, max_params=None, strategy="auto", cost_weight=None):
    settings = {"strategy": strategy}
    if strategy in GRADIENT:
        searcher = NAS_STRATEGIES[strategy](cost_weight=cost_weight, warmup_epochs=1)
        settings = {"strategy": searcher, "search_space": GRADIENT_SPACE}
    started = time.perf_counter()
    clf = AutoNASClassifier(time_budget=budget, max_params=max_params, random_state=seed, **settings)
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    results = clf.search_results_
    return {
        "seed": seed,
        "max_params": max_params,
        "accuracy": float(np.mean(clf.predict(X_test) == y_test)),
        "n_params": int(sum(p.numel() for p in clf.best_estimator_.module_.parameters() if p.requires_grad)),
        "n_trials": clf.n_trials_,
        "n_refused": int((results["status"] == "infeasible").sum()),
        "fit_seconds": fit_seconds,
        "best_architecture": str(clf.best_architecture_),
        "strategy": strategy,
        "cost_weight": cost_weight,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--fractions", type=float, nargs="*", default=[0.25, 0.5, 1.0])
    parser.add_argument("--strategy", default="auto", choices=["auto", *GRADIENT])
    parser.add_argument("--cost-weights", type=float, nargs="*", default=[1.0], help="gradient strategies only")
    parser.add_argument("--out", default="benchmarks/results/constraints.json")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 8, 8)
    runs = []
    weights = args.cost_weights if args.strategy in GRADIENT else [None]
    print(
        f"{'seed':>4} {'limit':>10} {'weight':>6} {'accuracy':>8} {'params':>8} {'trials':>6} {'refused':>7} "
        f"{'fit s':>6}"
    )
    for seed in args.seeds:
        split = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
        free = run(*split, args.budget, seed, strategy=args.strategy, cost_weight=weights[0])
        rows = [{**free, "fraction": None}]
        for fraction in args.fractions:
            limit = max(1, int(fraction * free["n_params"]))
            for weight in weights:
                row = run(*split, args.budget, seed, max_params=limit, strategy=args.strategy, cost_weight=weight)
                rows.append({**row, "fraction": fraction})
        for row in rows:
            limit = "none" if row["max_params"] is None else f"{row['fraction']:.0%} {row['max_params']}"
            weight = "-" if row["cost_weight"] is None or row["max_params"] is None else f"{row['cost_weight']:g}"
            print(
                f"{seed:>4} {limit:>10} {weight:>6} {row['accuracy']:>8.4f} {row['n_params']:>8,} "
                f"{row['n_trials']:>6} {row['n_refused']:>7} {row['fit_seconds']:>6.0f}",
                flush=True,
            )
        runs += rows
        write_json({"budget": args.budget, "strategy": args.strategy, "runs": runs, "machine": machine_info()}, args.out)


if __name__ == "__main__":
    main()
