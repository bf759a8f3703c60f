"""AutoNASRegressor against HistGradientBoostingRegressor and MLPRegressor at equal wall time.

Issue 12, benchmark (d). For each dataset and seed: a 25 % test split; every
method gets the same wall time on the training part and is scored by R² on
the test part. ``AutoNASRegressor(time_budget=...)`` searches MLPs; each
scikit-learn model runs a random search of its hyperparameters (3-fold
cross-validated R², one configuration at a time, until the time is spent),
then refits the best on the whole training part; its defaults are reported
too. Datasets: ``load_diabetes`` (442 rows, 10 features) and Friedman's
non-linear regression #1 (``make_friedman1``, 5,000 rows, 10 features of
which 5 matter, noise 1). Numbers are reported, never asserted.

    python benchmarks/bench_regressor.py                    # about 15 min on 2 cores
    python benchmarks/bench_regressor.py --scale 0.1 --seeds 0 --out /tmp/regressor.json   # smoke test
"""
import argparse
import time
import warnings

import numpy as np
from scipy.stats import loguniform, randint
from sklearn.datasets import load_diabetes, make_friedman1
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import ParameterSampler, cross_val_score, train_test_split
from sklearn.neural_network import MLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skautoml import AutoNASRegressor

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

BUDGETS = {"diabetes": 30.0, "friedman1": 60.0}
SPACES = {
    "hgb": {
        "learning_rate": loguniform(0.01, 0.3),
        "max_leaf_nodes": randint(4, 64),
        "min_samples_leaf": randint(5, 60),
        "l2_regularization": loguniform(1e-4, 10),
    },
    "mlp": {
        "mlpregressor__hidden_layer_sizes": [(32,), (64,), (128,), (64, 64), (128, 64), (256, 128)],
        "mlpregressor__alpha": loguniform(1e-5, 1e-1),
        "mlpregressor__learning_rate_init": loguniform(1e-4, 1e-2),
    },
}


def load(name, seed):
    if name == "diabetes":
        return load_diabetes(return_X_y=True)
    return make_friedman1(n_samples=5000, n_features=10, noise=1.0, random_state=seed)


def baseline(method, seed):
    if method == "hgb":
        return HistGradientBoostingRegressor(random_state=seed)
    # Scaled inputs and early stopping, as a user of MLPRegressor would set it up.
    return make_pipeline(StandardScaler(), MLPRegressor(max_iter=500, early_stopping=True, random_state=seed))


def tuned(method, X, y, budget, seed):
    """A random search of ``method`` that stops starting configurations once ``budget`` seconds are spent."""
    started = time.perf_counter()
    best, best_score, n_tried = {}, -np.inf, 0
    for params in ParameterSampler(SPACES[method], n_iter=10_000, random_state=seed):
        if time.perf_counter() - started >= budget:
            break
        model = baseline(method, seed).set_params(**params)
        score = cross_val_score(model, X, y, cv=3, scoring="r2").mean()
        n_tried += 1
        if score > best_score:
            best, best_score = params, score
    return baseline(method, seed).set_params(**best).fit(X, y), n_tried


def run(dataset, method, seed, scale):
    X, y = load(dataset, seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=seed)
    budget = BUDGETS[dataset] * scale
    started = time.perf_counter()
    details = {}
    if method == "nas":
        model = AutoNASRegressor(time_budget=budget, random_state=seed).fit(X_train, y_train)
        details = {"n_trials": model.n_trials_, "best": str(model.best_architecture_)}
    elif method.endswith("-default"):
        model = baseline(method.removesuffix("-default"), seed).fit(X_train, y_train)
    else:
        model, n_tried = tuned(method, X_train, y_train, budget, seed)
        details = {"n_trials": n_tried}
    fit_seconds = time.perf_counter() - started
    r2 = 1 - np.mean((model.predict(X_test) - y_test) ** 2) / np.var(y_test)
    return {"dataset": dataset, "method": method, "seed": seed, "budget": budget, "r2": float(r2),
            "fit_seconds": fit_seconds, **details}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="*", default=list(BUDGETS))
    parser.add_argument("--methods", nargs="*", default=["nas", "hgb", "mlp", "hgb-default", "mlp-default"])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every budget (smoke tests)")
    parser.add_argument("--out", default="benchmarks/results/regressor.json")
    args = parser.parse_args()
    # The random search's MLPRegressor fits stop at max_iter on some settings: expected, and not news per fit.
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    runs = []
    print(f"{'dataset':>10} {'method':>12} {'seed':>4} {'R2':>7} {'trials':>6} {'fit s':>6}")
    for dataset in args.datasets:
        for seed in args.seeds:
            for method in args.methods:
                row = run(dataset, method, seed, args.scale)
                runs.append(row)
                print(f"{dataset:>10} {method:>12} {seed:>4} {row['r2']:>7.4f} {row.get('n_trials', '-'):>6} "
                      f"{row['fit_seconds']:>6.1f}", flush=True)
                write_json({"runs": runs, "machine": machine_info()}, args.out)
    print(f"\n{'dataset':>10} {'method':>12} {'R2 (mean ± sd over seeds)':>26}")
    for dataset in args.datasets:
        for method in args.methods:
            scores = [r["r2"] for r in runs if r["dataset"] == dataset and r["method"] == method]
            print(f"{dataset:>10} {method:>12} {np.mean(scores):>18.4f} ± {np.std(scores):.4f}")


if __name__ == "__main__":
    main()
