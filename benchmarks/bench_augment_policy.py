"""Augmentation policies on scarce images: digits with 10 % of the training images.

A fixed small CNN (stem, 3x3 convolution, max pooling, wider 3x3 convolution)
is trained on 10 % of the digits training split (stratified, about 135
images) with each augmentation applied on the fly to every training batch,
and scored on the full test split (25 % of digits): no augmentation,
RandAugment (2 ops, magnitude 0.5), mixup, cutmix, and the policy found by
``AugmentPolicySearch`` (Bayesian optimisation over ``PolicySpace``, 3-fold
proxy trainings of 40 epochs on the same 135 images only). All conditions
use the same split, seed and epochs (120: augmented training needs more
epochs than plain training to pay off); numbers are from one run.

    python benchmarks/bench_augment_policy.py [--seeds 0 1 2] [--trials 20]
"""
import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from skautoml.nas import CNNSpace, Evaluator
from skautoml.prep.augment import AugmentPolicySearch, BatchAugment, RandAugment
from skautoml.prep.augment._policy import PROXY_ARCHITECTURE


def train_and_score(augment, X_train, y_train, X_test, y_test, epochs, seed):
    evaluator = Evaluator(CNNSpace(), (1, 8, 8), 10, batch_size=32, patience=None, augment=augment)
    started = time.perf_counter()
    net = evaluator.fit_final(PROXY_ARCHITECTURE, X_train, y_train, epochs, epochs, seed)
    accuracy = float(np.mean(net.predict(X_test) == y_test))
    return accuracy, time.perf_counter() - started


def run(seed, epochs, proxy_epochs, trials):
    digits = load_digits()
    X = digits.images[:, None].astype(np.float32)
    X_train, X_test, y_train, y_test = train_test_split(
        X, digits.target, test_size=0.25, stratify=digits.target, random_state=seed
    )
    X_small, _, y_small, _ = train_test_split(X_train, y_train, train_size=0.1, stratify=y_train, random_state=seed)
    started = time.perf_counter()
    search = AugmentPolicySearch(max_trials=trials, proxy_epochs=proxy_epochs, random_state=seed).fit(X_small, y_small)
    search_seconds = time.perf_counter() - started
    conditions = {
        "none": None,
        "RandAugment(2, 0.5)": BatchAugment(RandAugment()),
        "mixup": BatchAugment(mix="mixup"),
        "cutmix": BatchAugment(mix="cutmix"),
        "searched policy": BatchAugment(search.best_policy_) if search.best_policy_.sub_policies else None,
    }
    rows = {
        name: train_and_score(augment, X_small, y_small, X_test, y_test, epochs, seed)
        for name, augment in conditions.items()
    }
    extra = {
        "n_train": len(y_small),
        "n_test": len(y_test),
        "search_seconds": search_seconds,
        "proxy_baseline": search.baseline_score_,
        "proxy_best": search.best_score_,
        "policy": repr(search.best_policy_),
    }
    return rows, extra


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=120)
    parser.add_argument("--proxy-epochs", type=int, default=40)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/augment_policy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    per_seed = {seed: run(seed, args.epochs, args.proxy_epochs, args.trials) for seed in args.seeds}
    names = list(next(iter(per_seed.values()))[0])
    print(f"digits, 10 % of the training images, fixed small CNN, {args.epochs} epochs (proxy {args.proxy_epochs}); seeds {args.seeds}")
    print(f"{'augmentation':<22} {'test accuracy':>17} {'vs none':>8} {'train s':>8}")
    summary = {}
    for name in names:
        acc = np.array([per_seed[s][0][name][0] for s in args.seeds])
        none = np.array([per_seed[s][0]["none"][0] for s in args.seeds])
        seconds = np.mean([per_seed[s][0][name][1] for s in args.seeds])
        summary[name] = {
            "accuracy_mean": acc.mean(), "accuracy_std": acc.std(), "per_seed": acc.tolist(),
            "gain_vs_none": float((acc - none).mean()), "train_seconds": seconds,
        }
        print(f"{name:<22} {acc.mean():.4f} +- {acc.std():.4f} {(acc - none).mean():>+8.4f} {seconds:>8.1f}")
    for seed in args.seeds:
        extra = per_seed[seed][1]
        print(
            f"seed {seed}: {extra['n_train']} training images; search {extra['search_seconds']:.0f} s, "
            f"proxy {extra['proxy_baseline']:.4f} -> {extra['proxy_best']:.4f}; {extra['policy']}"
        )
    report = {
        "settings": vars(args),
        "summary": summary,
        "per_seed": {s: {"rows": r, "extra": e} for s, (r, e) in per_seed.items()},
        "machine": machine_info(),
    }
    print("wrote", write_json(report, args.out))


if __name__ == "__main__":
    main()
