"""Every NAS strategy of AutoNASClassifier under the same time budget on digits.

For each strategy and seed: digits as 8x8 images, a 25 % stratified test split
(the same for every strategy of a seed), ``AutoNASClassifier(strategy=name,
time_budget=..., max_trials=None)`` on the CNN space (the morphism strategies
on ``search_space='morphism'``, the space they need), then the held-out
accuracy of the final model and the wall time of fit + predict. Runs go
through joblib processes, one torch/BLAS thread each, so ``--jobs 2`` on a
2-core machine runs two budgets side by side without the threads fighting.
Numbers are reported, never asserted.

``--cell`` adds two runs of regularised evolution on ``CellSpace``: searching
and training the final network in the same space (5 cells, 8 channels,
trials of 30 epochs), and the two-stage flow (search 3 cells of 8 channels,
trials of 10 epochs; final network of 6 cells of 16 channels, 30 epochs).

    python benchmarks/bench_nas_strategies.py --jobs 2          # 10 strategies x 3 seeds x 300 s: ~80 min
    python benchmarks/bench_nas_strategies.py --jobs 2 --strategies --cell --out benchmarks/results/nas_strategies_cell.json
    python benchmarks/bench_nas_strategies.py --budget 20 --seeds 0 --strategies random bohb  # smoke test
"""
import argparse
import time

import numpy as np
import torch
from joblib import Parallel, delayed
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skautoml import AutoNASClassifier
from skautoml.nas import CellSpace
from skautoml.nas import STRATEGIES

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

MORPHISM_STRATEGIES = ("hill_climbing", "morphism_bo")
CELL_RUNS = {
    "evolution, cell": dict(search_space=CellSpace(n_cells=5, initial_channels=8)),
    "evolution, cell two-stage": dict(
        search_space=CellSpace(n_cells=3, initial_channels=8),
        max_epochs=10,
        final_cells=6,
        final_channels=16,
        final_epochs=30,
    ),
}


def configuration(label):
    """Keyword arguments of AutoNASClassifier for a row of the table."""
    if label in CELL_RUNS:
        return dict(strategy="evolution", **CELL_RUNS[label])
    return dict(strategy=label, search_space="morphism" if label in MORPHISM_STRATEGIES else "auto")


def run_one(label, seed, budget):
    """Fit one strategy on one seed's split; the row of the report."""
    torch.set_num_threads(1)
    with threadpool_limits(1):
        digits = load_digits()
        X_train, X_test, y_train, y_test = train_test_split(
            digits.images, digits.target, test_size=0.25, stratify=digits.target, random_state=seed
        )
        settings = configuration(label)
        model = AutoNASClassifier(max_trials=None, time_budget=budget, random_state=seed, **settings)
        started = time.perf_counter()
        model.fit(X_train, y_train)
        accuracy = float(np.mean(model.predict(X_test) == y_test))
        results = model.search_results_
        return {
            "strategy": label,
            "seed": seed,
            "settings": {name: repr(value) for name, value in settings.items()},
            "accuracy": accuracy,
            "wall_seconds": time.perf_counter() - started,
            "search_seconds": model.search_seconds_,
            "refit_seconds": model.refit_seconds_,
            "n_trials": int(len(results["score"])),
            "n_failed": int((results["status"] == "failed").sum()),
            "epochs_trained": int(np.sum(results["epochs"])),
            "best_validation_score": float(model.best_score_),
            "best_architecture": str(model.best_architecture_),
        }


def summarise(runs, strategies):
    summary = []
    for strategy in strategies:
        rows = [r for r in runs if r["strategy"] == strategy]
        if not rows:
            continue
        accuracies = [r["accuracy"] for r in rows]
        summary.append(
            {
                "strategy": strategy,
                "mean_accuracy": float(np.mean(accuracies)),
                "std_accuracy": float(np.std(accuracies)),
                "accuracy_per_seed": {str(r["seed"]): r["accuracy"] for r in rows},
                "mean_wall_seconds": float(np.mean([r["wall_seconds"] for r in rows])),
                "max_wall_seconds": float(np.max([r["wall_seconds"] for r in rows])),
                "mean_trials": float(np.mean([r["n_trials"] for r in rows])),
                "mean_epochs_trained": float(np.mean([r["epochs_trained"] for r in rows])),
            }
        )
    return summary


def print_table(summary):
    print(f"\n{'strategy':<26} {'accuracy':>17} {'wall s (max)':>14} {'trials':>7} {'epochs':>7}")
    for s in summary:
        accuracy = f"{s['mean_accuracy']:.4f} ± {s['std_accuracy']:.4f}"
        wall = f"{s['mean_wall_seconds']:.0f} ({s['max_wall_seconds']:.0f})"
        print(f"{s['strategy']:<26} {accuracy:>17} {wall:>14} {s['mean_trials']:>7.1f} {s['mean_epochs_trained']:>7.0f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=300.0, help="time_budget of each fit (s)")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--strategies", nargs="*", default=list(STRATEGIES), choices=list(STRATEGIES))
    parser.add_argument(
        "--cell", nargs="*", choices=list(CELL_RUNS), default=None, help="add runs on CellSpace (see above); no value: both"
    )
    parser.add_argument("--jobs", type=int, default=1, help="fits run side by side (one thread each)")
    parser.add_argument("--out", default="benchmarks/results/nas_strategies.json")
    args = parser.parse_args(argv)

    report = {"benchmark": "nas_strategies", "config": vars(args), "machine": machine_info()}
    labels = args.strategies + ([] if args.cell is None else args.cell or list(CELL_RUNS))
    configs = [(label, seed) for seed in args.seeds for label in labels]
    runs = []
    outputs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")(
        delayed(run_one)(strategy, seed, args.budget) for strategy, seed in configs
    )
    for row in outputs:
        runs.append(row)
        print(
            f"{row['strategy']} seed {row['seed']}: {row['accuracy']:.4f} in {row['wall_seconds']:.0f} s, "
            f"{row['n_trials']} trials ({row['n_failed']} failed)",
            flush=True,
        )
        # Saved after every run, so a long run that is stopped keeps what it measured.
        write_json({**report, "runs": runs, "summary": summarise(runs, labels)}, args.out)

    summary = summarise(runs, labels)
    print_table(summary)
    report.update(runs=runs, summary=summary, machine_after=machine_info())
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
