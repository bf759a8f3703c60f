"""Data-preparation benchmarks: label-noise filtering and SMOTE on imbalanced data.

(a) digits with 20 % of the training labels flipped at random: test accuracy of a fixed
    classifier trained on the noisy labels, with and without ``LabelNoiseFilter``, next to
    the same classifier on the clean labels.
(b) breast_cancer with the minority class cut down to 5 % of the training data: balanced
    accuracy of a fixed classifier with and without ``AutoSMOTE``.

Every number is from one run, with each method on the same splits.

    python benchmarks/bench_prep.py
"""
import argparse
import time

import numpy as np
from imblearn.pipeline import make_pipeline as make_imblearn_pipeline
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from skautoml.prep import AutoSMOTE, LabelNoiseFilter


def classifier():
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


def timed_fit_score(model, X_train, y_train, X_test, y_test, metric):
    started = time.perf_counter()
    model.fit(X_train, y_train)
    return metric(y_test, model.predict(X_test)), time.perf_counter() - started


def label_noise(seed, flip_rate):
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    flipped = rng.random(len(y_train)) < flip_rate
    # A flipped label is another class, drawn uniformly.
    y_noisy = np.where(flipped, (y_train + rng.integers(1, 10, len(y_train))) % 10, y_train)
    accuracy = lambda t, p: float(np.mean(t == p))  # noqa: E731
    rows = {}
    rows["clean labels"] = timed_fit_score(classifier(), X_train, y_train, X_test, y_test, accuracy)
    rows["noisy labels"] = timed_fit_score(classifier(), X_train, y_noisy, X_test, y_test, accuracy)
    filtered = make_imblearn_pipeline(LabelNoiseFilter(random_state=seed), classifier())
    rows["noisy + LabelNoiseFilter"] = timed_fit_score(filtered, X_train, y_noisy, X_test, y_test, accuracy)
    kept = filtered[0].sample_indices_
    removed = np.setdiff1d(np.arange(len(y_train)), kept)
    extra = {
        "flipped": int(flipped.sum()),
        "removed": len(removed),
        "precision": float(flipped[removed].mean()) if len(removed) else float("nan"),
        "recall": float(flipped[removed].sum() / max(flipped.sum(), 1)),
    }
    return rows, extra


def imbalance(seed, minority_share):
    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    minority = np.flatnonzero(y_train == 0)  # malignant
    majority = np.flatnonzero(y_train == 1)
    n_minority = int(round(minority_share / (1 - minority_share) * len(majority)))
    keep = np.concatenate([rng.choice(minority, n_minority, replace=False), majority])
    X_train, y_train = X_train[keep], y_train[keep]
    rows = {}
    rows["imbalanced"] = timed_fit_score(classifier(), X_train, y_train, X_test, y_test, balanced_accuracy_score)
    smote = make_imblearn_pipeline(AutoSMOTE(random_state=seed), classifier())
    rows["imbalanced + AutoSMOTE"] = timed_fit_score(smote, X_train, y_train, X_test, y_test, balanced_accuracy_score)
    return rows, {"n_minority": n_minority, "n_majority": len(majority)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--flip-rate", type=float, default=0.2)
    parser.add_argument("--minority-share", type=float, default=0.05)
    parser.add_argument("--out", default="benchmarks/results/prep.json")
    args = parser.parse_args(argv)
    report = {"benchmark": "prep", "config": vars(args), "machine": machine_info(), "runs": []}
    for seed in args.seeds:
        for name, experiment, param in [
            ("digits, 20 % labels flipped (accuracy)", label_noise, args.flip_rate),
            ("breast_cancer, minority 5 % (balanced accuracy)", imbalance, args.minority_share),
        ]:
            rows, extra = experiment(seed, param)
            for method, (score, seconds) in rows.items():
                report["runs"].append({"experiment": name, "seed": seed, "method": method, "score": score, "seconds": seconds, **extra})
    print(f"{'experiment':<50} {'method':<28} {'score (mean ± std)':>20} {'s':>6}")
    keys = dict.fromkeys((r["experiment"], r["method"]) for r in report["runs"])
    for experiment, method in keys:
        runs = [r for r in report["runs"] if r["experiment"] == experiment and r["method"] == method]
        scores = np.array([r["score"] for r in runs])
        seconds = np.mean([r["seconds"] for r in runs])
        print(f"{experiment:<50} {method:<28} {scores.mean():>11.4f} ± {scores.std():.4f} {seconds:>6.2f}")
    filtered = [r for r in report["runs"] if r["method"] == "noisy + LabelNoiseFilter"]
    print(
        "LabelNoiseFilter removed {:.0f} rows on average; precision {:.2f}, recall {:.2f} (of {:.0f} flipped)".format(
            *(np.mean([r[k] for r in filtered]) for k in ("removed", "precision", "recall", "flipped"))
        )
    )
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
