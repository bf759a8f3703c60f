"""The NAS families of AutoMLClassifier at realistic sizes: skautoml's NAS MLP on a large table, and images.

Two questions, one seed each (the runs are long):

* **table** (``dirty_interactions`` of ``--rows`` rows, 25 % stratified hold-out, ``--budget``
  seconds): ``AutoMLClassifier()`` with its default families, which from 1,000 rows and 300 s
  include the NAS MLP, against the same search without it (``families`` = the seven others).
  Per family: trials, failures and median trial seconds; the hold-out balanced accuracy, the
  fit's wall time and how far it ran past its budget.
* **images** (digits upscaled to 28x28, 25 % hold-out, ``--image-budget`` seconds):
  ``AutoMLClassifier`` on ``(n, 28, 28)`` arrays, which hands them to the architecture search,
  against the same digits as a flat table of 784 columns (pipelines of classic models).

Each run writes one JSON record (``--out``); numbers are reported, never asserted.

    python benchmarks/bench_automl_nas.py                  # about 13 min on 2 cores
    python benchmarks/bench_automl_nas.py --rows 3000 --budget 300 --runs table_default
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from skautoml import AutoMLClassifier
from skautoml.automl import CLASSIFIER_FAMILIES

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from _images import digits_images
from _tables import dirty_interactions

RUNS = ("table_default", "table_without_nas", "images", "images_as_table")


def run_one(name, rows, budget, image_budget, seed):
    if name.startswith("table"):
        X, y = dirty_interactions(n=rows, seed=seed)
        families = None if name == "table_default" else list(CLASSIFIER_FAMILIES)
        budget_here = budget
    else:
        X, y = digits_images(28)
        X = X.reshape(len(X), 28, 28) if name == "images" else X.reshape(len(X), -1)
        families, budget_here = None, image_budget
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)
    clf = AutoMLClassifier(time_budget=budget_here, families=families, random_state=seed)
    started = time.perf_counter()
    clf.fit(X_train, y_train)
    fit_seconds = time.perf_counter() - started
    results = clf.search_results_
    per_family = {}
    for family in sorted(set(results["family"])):
        rows_of = results["family"] == family
        per_family[family] = {
            "trials": int(rows_of.sum()),
            "failed": int((results["status"][rows_of] == "failed").sum()),
            "median_seconds": float(np.median(results["fit_seconds"][rows_of])),
        }
    return {
        "run": name, "seed": seed, "budget": budget_here, "n_train": len(y_train), "n_test": len(y_test),
        "input_kind": clf.input_kind_,
        "families": sorted(clf.space_.model_families()) if clf.input_kind_ == "table" else [],
        "balanced_accuracy": float(balanced_accuracy_score(y_test, clf.predict(X_test))),
        "fit_seconds": fit_seconds, "overrun_seconds": max(0.0, fit_seconds - budget_here),
        "n_trials": int(len(results["trial"])), "per_family": per_family, "best": str(clf.best_config_),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="*", default=list(RUNS))
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--budget", type=float, default=300.0)
    parser.add_argument("--image-budget", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/automl_nas")
    args = parser.parse_args()
    out = Path(args.out)
    records = []
    for name in args.runs:
        path = out / f"{name}_{args.rows}_{args.seed}.json"
        if path.exists():
            record = json.loads(path.read_text())
        else:
            record = {**run_one(name, args.rows, args.budget, args.image_budget, args.seed), "machine": machine_info()}
            write_json(record, path)
        records.append(record)
    print(f"{'run':18} {'rows':>6} {'budget':>6} {'bal. acc':>8} {'fit s':>7} {'over s':>6} {'trials':>6}  "
          "families (trials/failed/median s)")
    for r in records:
        families = ", ".join(
            f"{f} {v['trials']}/{v['failed']}/{v['median_seconds']:.1f}" for f, v in r["per_family"].items()
        )
        print(f"{r['run']:18} {r['n_train']:6d} {r['budget']:6g} {r['balanced_accuracy']:8.4f} {r['fit_seconds']:7.1f} "
              f"{r['overrun_seconds']:6.1f} {r['n_trials']:6d}  {families}")
    write_json(records, out / "summary.json")


if __name__ == "__main__":
    main()
