"""AutoMLClassifier / AutoMLRegressor against FLAML, AutoGluon and hand-built pipelines on the same splits.

For each table and seed: a 25 % hold-out (stratified for classification);
every method fits the same training part and is scored on the same test
part: accuracy and balanced accuracy (R² for regression), the wall time of
``fit`` and how far past its budget it ran. Tables (``_tables.py``):
scikit-learn's breast_cancer, wine, digits (as a table) and diabetes
(regression), and two generated dirty tables (mixed types, missing values,
string categories, class imbalance, duplicated rows, outliers).

Methods:

* ``skautoml``: ``AutoMLClassifier`` / ``AutoMLRegressor(time_budget=B, random_state=seed)``, nothing else set
  (``--strategy`` sets its strategy: the records are then ``skautoml_<strategy>``);
* ``flaml``: ``flaml.AutoML().fit(..., time_budget=B, n_jobs=2, seed=seed)`` (its defaults), when installed;
* ``autogluon``: ``TabularPredictor(...).fit(..., time_limit=B)``, when installed;
* ``lr`` and ``hgb``: a hand-built ``ColumnTransformer`` (median imputation and scaling for
  numbers, most-frequent imputation and one-hot for the rest) before ``LogisticRegression``
  / ``Ridge`` or ``HistGradientBoosting*``, no search.

Each run writes one JSON record (``--out``), so an interrupted benchmark
resumes where it stopped; the summary table is printed and written beside
them. Numbers are reported, never asserted. FLAML and AutoGluon are not
dependencies of skautoml: install them in the benchmark's environment
(``pip install "flaml[automl]" autogluon.tabular``).

    python benchmarks/bench_automl.py --budgets 60                 # about 50 min with FLAML
    python benchmarks/bench_automl.py --tables wine --methods skautoml lr --seeds 0 --budgets 10
    python benchmarks/bench_automl.py --methods skautoml --strategy halving --budgets 30   # another strategy
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
from sklearn.compose import ColumnTransformer, make_column_selector
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, balanced_accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from skautoml import AutoMLClassifier, AutoMLRegressor

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from _tables import TABLES, load_table

METHODS = ("skautoml", "flaml", "autogluon", "lr", "hgb")


def hand_built(model):
    """The ColumnTransformer a user writes by hand, then ``model``."""
    numbers = make_pipeline(SimpleImputer(strategy="median"), StandardScaler())
    others = make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore"))
    columns = ColumnTransformer(
        [
            ("numbers", numbers, make_column_selector(dtype_include="number")),
            ("others", others, make_column_selector(dtype_exclude="number")),
        ]
    )
    return make_pipeline(columns, model)


def fit_method(method, task, budget, seed, X, y, strategy="auto"):
    """The fitted model and what to record about it."""
    classify = task == "classification"
    if method == "skautoml":
        cls = AutoMLClassifier if classify else AutoMLRegressor
        model = cls(time_budget=budget, random_state=seed, strategy=_strategy(strategy)).fit(X, y)
        return model, {
            "n_trials": int(len(model.search_results_["trial"])),
            "n_failed": int((model.search_results_["status"] == "failed").sum()),
            "best": str(model.best_config_),
            "ensemble_size": 0 if model.ensemble_ is None else len(model.ensemble_indices_),
        }
    if method == "flaml":
        from flaml import AutoML

        model = AutoML()
        model.fit(X, y, task=task, time_budget=budget, n_jobs=2, seed=seed, verbose=0)
        return model, {"best": str(model.best_estimator), "best_config": str(model.best_config)}
    if method == "autogluon":
        import tempfile

        from autogluon.tabular import TabularPredictor

        frame = X.copy()
        frame["__target__"] = y
        path = tempfile.mkdtemp(prefix="autogluon_")
        model = TabularPredictor(label="__target__", path=path, verbosity=0).fit(
            frame, time_limit=budget, num_cpus=2
        )
        return model, {}
    if method in ("lr", "hgb"):
        if method == "lr":
            estimator = LogisticRegression(max_iter=1000) if classify else Ridge()
        else:
            estimator = (HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor)(random_state=seed)
        return hand_built(estimator).fit(X, y), {}
    raise ValueError(f"unknown method {method!r}; the methods are {METHODS}")


def _strategy(name):
    """``--strategy``: a name AutoMLClassifier takes, or ``halving`` (successive halving of random pipelines)."""
    if name != "halving":
        return name
    from skautoml.search import SuccessiveHalving

    return SuccessiveHalving(eta=3, min_resource=1 / 9)


def run_one(table, method, seed, budget, strategy="auto"):
    X, y = load_table(table)
    task = TABLES[table]
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=seed, stratify=y if task == "classification" else None
    )
    started = time.perf_counter()
    model, details = fit_method(method, task, budget, seed, X_train, y_train, strategy)
    fit_seconds = time.perf_counter() - started
    predictions = np.asarray(model.predict(X_test))
    record = {"table": table, "method": method if strategy == "auto" or method != "skautoml" else f"{method}_{strategy}",
              "strategy": strategy, "seed": seed, "budget": budget, "fit_seconds": fit_seconds,
              "overrun_seconds": max(0.0, fit_seconds - budget) if method in ("skautoml", "flaml", "autogluon") else 0.0,
              "n_train": len(y_train), "n_test": len(y_test), **details}
    if task == "classification":
        predictions = predictions.astype(y_test.dtype)  # FLAML and AutoGluon may give labels of another dtype
        record["accuracy"] = float(accuracy_score(y_test, predictions))
        record["balanced_accuracy"] = float(balanced_accuracy_score(y_test, predictions))
    else:
        record["r2"] = float(r2_score(y_test, predictions))
    return record


def available(method):
    try:
        if method == "flaml":
            import flaml  # noqa: F401
        elif method == "autogluon":
            import autogluon.tabular  # noqa: F401
    except ImportError:
        return False
    return True


def summarise(records):
    groups = {}
    for record in records:
        groups.setdefault((record["table"], record["budget"], record["method"]), []).append(record)
    rows = []
    for (table, budget, method), group in groups.items():
        main = "r2" if "r2" in group[0] else "balanced_accuracy"
        rows.append(
            {
                "table": table, "budget": budget, "method": method, "metric": main,
                "mean": float(np.mean([r[main] for r in group])), "std": float(np.std([r[main] for r in group])),
                "per_seed": [r[main] for r in group],
                "accuracy_mean": float(np.mean([r.get("accuracy", np.nan) for r in group])),
                "fit_seconds_mean": float(np.mean([r["fit_seconds"] for r in group])),
                "max_overrun_seconds": float(max(r["overrun_seconds"] for r in group)),
            }
        )
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", nargs="*", default=list(TABLES))
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--budgets", type=float, nargs="*", default=[30.0, 60.0])
    parser.add_argument("--out", default="benchmarks/results/automl")
    parser.add_argument("--strategy", default="auto", help="skautoml's strategy (default: its default)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    methods = [m for m in args.methods if available(m)]
    skipped = sorted(set(args.methods) - set(methods))
    if skipped:
        print(f"not installed, skipped: {skipped}")
    records = []
    for budget in args.budgets:
        for table in args.tables:
            for method in methods:
                if method in ("lr", "hgb") and budget != args.budgets[0]:
                    continue  # no budget: one run per seed is enough
                for seed in args.seeds:
                    tag = method if args.strategy == "auto" or method != "skautoml" else f"{method}_{args.strategy}"
                    path = out / f"{table}_{tag}_{budget:g}_{seed}.json"
                    if path.exists():
                        record = json.loads(path.read_text())
                    else:
                        record = {**run_one(table, method, seed, budget, args.strategy), "machine": machine_info()}
                        write_json(record, path)
                    records.append(record)
                    main_metric = record.get("balanced_accuracy", record.get("r2"))
                    print(f"{table:18} {method:9} {budget:4g} s seed {seed}: {main_metric:.4f}, "
                          f"fit {record['fit_seconds']:.1f} s", flush=True)
    rows = summarise(records)
    print(f"\n{'table':18} {'budget':>6} {'method':9} {'metric':17} {'mean ± sd':>16} {'fit s':>6} {'overrun':>7}")
    for row in sorted(rows, key=lambda r: (r["table"], r["budget"], -r["mean"])):
        print(f"{row['table']:18} {row['budget']:>6g} {row['method']:9} {row['metric']:17} "
              f"{row['mean']:>8.4f} ± {row['std']:.4f} {row['fit_seconds_mean']:>6.1f} {row['max_overrun_seconds']:>7.1f}")
    write_json({"rows": rows, "machine": machine_info()}, out / "summary.json")


if __name__ == "__main__":
    main()
