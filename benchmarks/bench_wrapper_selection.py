"""Wrapper feature selection: WrapperSelector's strategies next to scikit-learn's SequentialFeatureSelector.

make_classification with 500 rows and 100 features of which the first 10 are informative
(shuffle=False), split 75 % / 25 % (stratified). Each method selects 10 features for a
LogisticRegression (features standardised on the training part) by 5-fold cross-validation on
the training part. Reported per method: precision and recall of the informative features, the
CV score of the subset, the test accuracy of the estimator refitted on the training part with
those features, wall time, and the number of subsets cross-validated. Forward selection runs to
the end; the other strategies get the number of evaluations forward selection needs (955 here) as
``max_evaluations``, so every method scores as many subsets and the selections do not depend on
the machine; the table says when that budget stopped a search. "precision (relevant)" also
counts the two redundant columns (linear combinations of the informative ones, columns 10-11).
Every number is from one run; wall time on a shared machine moves with the load, so CPU time of
the main process is reported too (not for n_jobs=2, whose work runs in other processes). BLAS
threads are set to 1 so that both libraries fit the same way; the n_jobs=2 rows use a joblib
process pool started before the timing.

    python benchmarks/bench_wrapper_selection.py
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from sklearn.datasets import make_classification  # noqa: E402
from sklearn.feature_selection import SequentialFeatureSelector  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import cross_val_score, train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from _common import machine_info, write_json  # noqa: E402  sibling file: run as python benchmarks/<script>.py
from skautoml.features._wrapper import (  # noqa: E402
    Beam,
    Bidirectional,
    Genetic,
    SequentialBackward,
    SequentialForward,
    SimulatedAnnealing,
    WrapperSelector,
)


def estimator():
    return LogisticRegression(max_iter=1000)


def run(name, make, data, args, informative):
    X_train, X_test, y_train, y_test = data
    started, cpu_started = time.perf_counter(), time.process_time()
    selector = make().fit(X_train, y_train)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    parallel = getattr(selector, "n_jobs", None) not in (None, 1)
    support = selector.get_support()
    if isinstance(selector, WrapperSelector):
        cv_score, n_evaluations, stopped_by = selector.best_score_, selector.n_evaluations_, selector.stopped_by_
    else:  # scikit-learn scores nothing it keeps: score the subset the same way, outside the timing
        cv_score = cross_val_score(estimator(), X_train[:, support], y_train, cv=args.cv).mean()
        n_evaluations = sum(X_train.shape[1] - i for i in range(args.k))  # every candidate of every step
        stopped_by = None
    hits = int(support[informative].sum())
    relevant = int(support[: len(informative) + 2].sum())  # make_classification's 2 redundant columns follow
    test = estimator().fit(X_train[:, support], y_train).score(X_test[:, support], y_test)
    return {
        "method": name,
        "n_selected": int(support.sum()),
        "selected": np.flatnonzero(support).tolist(),
        "precision": hits / max(int(support.sum()), 1),
        "recall": hits / len(informative),
        "precision_relevant": relevant / max(int(support.sum()), 1),
        "cv_score": float(cv_score),
        "test_accuracy": float(test),
        "seconds": seconds,
        # CPU time of this process: steadier than wall time on a shared machine; workers not counted.
        "cpu_seconds": None if parallel else cpu_seconds,
        "n_evaluations": int(n_evaluations),
        "stopped_by": stopped_by,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=500)
    parser.add_argument("--n-features", type=int, default=100)
    parser.add_argument("--n-informative", type=int, default=10)
    parser.add_argument("--k", type=int, default=10, help="features to select")
    parser.add_argument("--cv", type=int, default=5)
    parser.add_argument(
        "--max-evaluations", type=int, default=None, help="budget of the other strategies (default: what SFS needs)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-parallel", action="store_true", help="skip the n_jobs=2 rows")
    parser.add_argument("--out", default="benchmarks/results/wrapper_selection.json")
    args = parser.parse_args(argv)

    X, y = make_classification(
        n_samples=args.n_samples,
        n_features=args.n_features,
        n_informative=args.n_informative,
        shuffle=False,
        random_state=args.seed,
    )
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=args.seed)
    scaler = StandardScaler().fit(X_train)
    data = (scaler.transform(X_train), scaler.transform(X_test), y_train, y_test)
    informative = np.arange(args.n_informative)
    n_sfs = sum(args.n_features - i for i in range(args.k))

    common = dict(n_features_to_select=args.k, cv=args.cv, random_state=args.seed)
    budgeted = dict(common, max_evaluations=args.max_evaluations or n_sfs)
    methods = [
        (
            "sklearn SFS forward",
            lambda: SequentialFeatureSelector(estimator(), n_features_to_select=args.k, cv=args.cv),
        ),
        ("forward", lambda: WrapperSelector(estimator(), search=SequentialForward(), **common)),
    ]
    if not args.no_parallel:
        methods += [
            (
                "sklearn SFS forward, n_jobs=2",
                lambda: SequentialFeatureSelector(estimator(), n_features_to_select=args.k, cv=args.cv, n_jobs=2),
            ),
            ("forward, n_jobs=2", lambda: WrapperSelector(estimator(), search=SequentialForward(), n_jobs=2, **common)),
        ]
    methods += [
        ("backward", lambda: WrapperSelector(estimator(), search=SequentialBackward(), **budgeted)),
        ("bidirectional", lambda: WrapperSelector(estimator(), search=Bidirectional(), **budgeted)),
        ("beam width=2", lambda: WrapperSelector(estimator(), search=Beam(width=2), **budgeted)),
        (
            "genetic pop=30",
            lambda: WrapperSelector(estimator(), search=Genetic(population_size=30, n_generations=1000), **budgeted),
        ),
        (
            "annealing",
            lambda: WrapperSelector(estimator(), search=SimulatedAnnealing(n_iterations=100000), **budgeted),
        ),
    ]

    report = {"benchmark": "wrapper_selection", "config": vars(args), "machine": machine_info(), "runs": []}
    # Warm up before anything is timed: first-call costs (lazy imports) would fall on the first method.
    tiny = data[0][:60, :4], data[2][:60]
    SequentialFeatureSelector(estimator(), n_features_to_select=1, cv=2).fit(*tiny)
    WrapperSelector(estimator(), n_features_to_select=1, cv=2).fit(*tiny)
    if not args.no_parallel:  # start the process pool: its workers import skautoml, and torch with it
        WrapperSelector(estimator(), n_features_to_select=1, cv=2, n_jobs=2).fit(*tiny)
    for name, make in methods:
        report["runs"].append(run(name, make, data, args, informative))
        row = report["runs"][-1]
        print(f"done: {name} ({row['seconds']:.1f} s)", flush=True)

    print()
    header = (
        f"{'method':<30} {'n':>3} {'prec':>5} {'recall':>6} {'prec (relevant)':>15} {'cv score':>8} {'test acc':>8} "
        f"{'s':>6} {'cpu s':>6} {'evals':>6}  stopped by"
    )
    print(header)
    print("-" * len(header))
    for r in report["runs"]:
        print(
            f"{r['method']:<30} {r['n_selected']:>3} {r['precision']:>5.2f} {r['recall']:>6.2f} "
            f"{r['precision_relevant']:>15.2f} {r['cv_score']:>8.4f} {r['test_accuracy']:>8.4f} {r['seconds']:>6.1f} "
            f"{'' if r['cpu_seconds'] is None else format(r['cpu_seconds'], '.1f'):>6} {r['n_evaluations']:>6}  "
            f"{r['stopped_by'] or ''}"
        )
    by_name = {r["method"]: r for r in report["runs"]}
    ratios = {
        "forward / sklearn SFS": by_name["forward"]["seconds"] / by_name["sklearn SFS forward"]["seconds"],
        "forward / sklearn SFS (CPU)": (
            by_name["forward"]["cpu_seconds"] / by_name["sklearn SFS forward"]["cpu_seconds"]
        ),
    }
    if not args.no_parallel:
        ratios["forward n_jobs=2 / sklearn SFS n_jobs=2"] = (
            by_name["forward, n_jobs=2"]["seconds"] / by_name["sklearn SFS forward, n_jobs=2"]["seconds"]
        )
    report["time_ratios"] = ratios
    report["same_support_as_sklearn"] = by_name["forward"]["selected"] == by_name["sklearn SFS forward"]["selected"]
    for label, ratio in ratios.items():
        print(f"time ratio {label}: {ratio:.2f}")
    print(f"forward selects the same features as sklearn SFS: {report['same_support_as_sklearn']}")
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
