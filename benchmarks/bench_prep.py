"""Data-preparation benchmarks: label-noise filtering and SMOTE on imbalanced data.

(a) digits with 20 % of the training labels flipped at random: test accuracy of a fixed
    classifier (scaled logistic regression, C=1 and the more regularised C=0.1) trained on
    the noisy labels, with and without ``LabelNoiseFilter`` (its default logistic model and
    a 15-NN model for the out-of-fold probabilities), next to the same classifier on the
    clean labels and with exactly the flipped rows removed (an oracle).
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
from sklearn.neighbors import KNeighborsClassifier
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from skautoml.prep import AutoSMOTE, LabelNoiseFilter


def classifier(C=1.0):
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=2000))


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
    filters = {
        "LabelNoiseFilter": LabelNoiseFilter(random_state=seed),
        "LabelNoiseFilter(kNN)": LabelNoiseFilter(KNeighborsClassifier(15), random_state=seed),
    }
    rows, extra = {}, {"flipped": int(flipped.sum())}
    # The filters do not depend on the downstream model: run each once.
    cleaned = {}
    for name, noise_filter in filters.items():
        started = time.perf_counter()
        X_kept, y_kept = noise_filter.fit_resample(X_train, y_noisy)
        seconds = time.perf_counter() - started
        cleaned[name] = (X_kept, y_kept, seconds)
        removed = np.setdiff1d(np.arange(len(y_train)), noise_filter.sample_indices_)
        extra[name] = {
            "removed": len(removed),
            "precision": float(flipped[removed].mean()) if len(removed) else float("nan"),
            "recall": float(flipped[removed].sum() / max(flipped.sum(), 1)),
        }
    for C in (1.0, 0.1):
        model = f"LR C={C:g}"
        rows[f"{model}: clean labels"] = timed_fit_score(classifier(C), X_train, y_train, X_test, y_test, accuracy)
        rows[f"{model}: noisy labels"] = timed_fit_score(classifier(C), X_train, y_noisy, X_test, y_test, accuracy)
        for name, (X_kept, y_kept, filter_seconds) in cleaned.items():
            score, seconds = timed_fit_score(classifier(C), X_kept, y_kept, X_test, y_test, accuracy)
            rows[f"{model}: noisy + {name}"] = (score, seconds + filter_seconds)
        rows[f"{model}: flipped rows removed (oracle)"] = timed_fit_score(
            classifier(C), X_train[~flipped], y_noisy[~flipped], X_test, y_test, accuracy
        )
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
    print(f"{'experiment':<50} {'method':<44} {'score (mean ± std)':>20} {'s':>6}")
    keys = dict.fromkeys((r["experiment"], r["method"]) for r in report["runs"])
    for experiment, method in keys:
        runs = [r for r in report["runs"] if r["experiment"] == experiment and r["method"] == method]
        scores = np.array([r["score"] for r in runs])
        seconds = np.mean([r["seconds"] for r in runs])
        print(f"{experiment:<50} {method:<44} {scores.mean():>11.4f} ± {scores.std():.4f} {seconds:>6.2f}")
    noisy_runs = [r for r in report["runs"] if r["method"] == "LR C=1: noisy labels"]
    for name in ("LabelNoiseFilter", "LabelNoiseFilter(kNN)"):
        print(
            "{} removed {:.0f} rows on average; precision {:.2f}, recall {:.2f} (of {:.0f} flipped)".format(
                name,
                *(np.mean([r[name][k] for r in noisy_runs]) for k in ("removed", "precision", "recall")),
                np.mean([r["flipped"] for r in noisy_runs]),
            )
        )
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
