"""Feature-construction benchmark (c): a target that depends on a product or a ratio of two features.

Two synthetic classification sets, 12 standard-normal features each (2 informative, 10 noise):

- product: y = 1 where x3*x7 exceeds its 70th percentile (a threshold above 0, so the ratio
  x3/x7, which has the sign of the product, does not solve it as well);
- ratio:   y = 1 where x2/x9 > 0.5.

A fixed model is trained on the raw features, after ``FeatureConstructor`` (which scores its
candidates with that same model) and, for reference, after all degree-2 products
(``PolynomialFeatures``). The constructor is fitted on the training split only (it is the first
step of a Pipeline); accuracy is measured on a held-out split. ``search CV`` is the
constructor's own cross-validated accuracy before and after construction, on the training split.

    python benchmarks/bench_construction.py
"""
import argparse
import time

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import PolynomialFeatures, RobustScaler
from sklearn.tree import DecisionTreeClassifier

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from skautoml.features._construction import FeatureConstructor

DATASETS = {
    "product: x3*x7 > q70": lambda X: X[:, 3] * X[:, 7] > np.quantile(X[:, 3] * X[:, 7], 0.7),
    "ratio: x2/x9 > 0.5": lambda X: np.divide(X[:, 2], X[:, 9]) > 0.5,
}
MODELS = {
    "logistic": lambda seed: make_pipeline(RobustScaler(), LogisticRegression(max_iter=1000)),
    "tree(depth 4)": lambda seed: DecisionTreeClassifier(max_depth=4, random_state=seed),
}


def make_data(name, n_samples, seed):
    X = np.random.default_rng(seed).normal(size=(n_samples, 12))
    return X, DATASETS[name](X).astype(int)


def run(dataset, model_name, seed, n_samples):
    X, y = make_data(dataset, n_samples, seed)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, stratify=y, random_state=seed)
    model = MODELS[model_name]
    pipelines = {
        "raw": model(seed),
        "+ FeatureConstructor": make_pipeline(FeatureConstructor(model(seed), random_state=seed), model(seed)),
        "+ all degree-2 products": make_pipeline(PolynomialFeatures(2, include_bias=False), model(seed)),
    }
    rows = []
    for method, pipe in pipelines.items():
        started = time.perf_counter()
        pipe.fit(X_train, y_train)
        seconds = time.perf_counter() - started
        row = {
            "dataset": dataset,
            "model": model_name,
            "seed": seed,
            "method": method,
            "test_accuracy": float(np.mean(pipe.predict(X_test) == y_test)),
            "n_features": int(pipe[:-1].transform(X_test[:1]).shape[1]) if method != "raw" else X.shape[1],
            "fit_seconds": seconds,
        }
        if method == "+ FeatureConstructor":
            constructor = pipe[0]
            row.update(
                constructed=constructor.constructed_features_,
                search_cv_before=constructor.base_score_,
                search_cv_after=constructor.best_score_,
                candidates_generated=constructor.n_candidates_,
                candidates_cross_validated=len(constructor.construction_path_["step"]),
            )
        rows.append(row)
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--n-samples", type=int, default=2000)
    parser.add_argument("--out", default="benchmarks/results/construction.json")
    args = parser.parse_args(argv)
    report = {"benchmark": "construction", "config": vars(args), "machine": machine_info(), "runs": []}
    for dataset in DATASETS:
        for model_name in MODELS:
            for seed in args.seeds:
                report["runs"].extend(run(dataset, model_name, seed, args.n_samples))
    runs = report["runs"]
    print(f"{'dataset':<22} {'model':<14} {'method':<24} {'test accuracy':>17} {'gain':>7} {'features':>8} {'fit s':>7}")
    keys = dict.fromkeys((r["dataset"], r["model"], r["method"]) for r in runs)
    for dataset, model, method in keys:
        rows = [r for r in runs if (r["dataset"], r["model"], r["method"]) == (dataset, model, method)]
        raw = [r for r in runs if (r["dataset"], r["model"], r["method"]) == (dataset, model, "raw")]
        acc = np.array([r["test_accuracy"] for r in rows])
        gain = acc.mean() - np.mean([r["test_accuracy"] for r in raw])
        print(
            f"{dataset:<22} {model:<14} {method:<24} {acc.mean():>8.4f} ± {acc.std():.4f} {gain:>+7.4f} "
            f"{np.mean([r['n_features'] for r in rows]):>8.1f} {np.mean([r['fit_seconds'] for r in rows]):>7.2f}"
        )
    print("\nFeatures constructed (search CV accuracy before -> after, on the training split):")
    for r in runs:
        if r["method"] == "+ FeatureConstructor":
            print(
                f"  {r['dataset']:<22} {r['model']:<14} seed {r['seed']}: {', '.join(r['constructed']) or '(none)':<40} "
                f"{r['search_cv_before']:.3f} -> {r['search_cv_after']:.3f} "
                f"({r['candidates_cross_validated']} of {r['candidates_generated']} candidates cross-validated)"
            )
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
