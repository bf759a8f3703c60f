"""Architectures evaluated per CPU-second: one-shot (SPOS) against training each from scratch.

Both sides run through the one search loop on one thread (``run_search``, the
skorch ``Evaluator``): stand-alone trials train random ``CNNSpace``
architectures as ``AutoNASClassifier`` does by default (up to ``--epochs``
30 epochs, early stopping with patience 8); SPOS trains its supernet for
``--supernet-epochs`` trials, then scores ``--scored`` architectures (1,000:
about what a SPOS search under bench_nas_default's budgets scores) with
inherited weights (batch-norm statistics recalibrated). Reported: CPU seconds per evaluated
architecture for each, and their ratio with the supernet's training counted
(amortised over the architectures scored) and without it.

    python benchmarks/bench_oneshot.py            # 8x8 digits and digits upscaled to 28x28
"""
import argparse
import time

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from _common import machine_info, write_json
from _images import digits_images
from skautoml.nas import Budget, CNNSpace, Evaluator, Fidelity, RandomSearch, run_search
from skautoml.nas.oneshot import SPOS


def digits(size):
    X, y = digits_images(size)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    return X_train, y_train, X_valid, y_valid


def timed_search(strategy, space, data, max_trials, epochs):
    # AutoNASClassifier's defaults: batch size 64, early stopping after 8 epochs without progress.
    evaluator = Evaluator(space, data[0].shape[1:], 10, batch_size=64, patience=8)
    strategy.reset(space, random_state=0)
    started = time.process_time()
    results = run_search(strategy, evaluator, data, Fidelity(epochs), Budget(max_trials=max_trials).start(), 0)
    return results, time.process_time() - started


def run(size, args):
    data = digits(size)
    space = CNNSpace(max_layers=4, channels=(16, 32))
    scratch, scratch_seconds = timed_search(RandomSearch(), space, data, args.scratch, args.epochs)
    spos = SPOS(supernet_epochs=args.supernet_epochs)
    shared, shared_seconds = timed_search(spos, space, data, args.supernet_epochs + args.scored, args.epochs)
    training = sum(r.train_seconds for r in shared[: args.supernet_epochs])  # wall, for the split only
    searching = sum(r.train_seconds for r in shared[args.supernet_epochs :])
    supernet_cpu = shared_seconds * training / (training + searching)
    scoring_cpu = shared_seconds - supernet_cpu
    per_scratch = scratch_seconds / len(scratch)
    per_scored = scoring_cpu / args.scored
    per_amortised = shared_seconds / args.scored
    return {
        "image_size": size,
        "stand_alone_cpu_seconds_per_architecture": per_scratch,
        "stand_alone_epochs": args.epochs,
        "stand_alone_mean_score": float(np.mean([r.score for r in scratch])),
        "supernet_epochs": args.supernet_epochs,
        "supernet_cpu_seconds": supernet_cpu,
        "scored_architectures": args.scored,
        "one_shot_cpu_seconds_per_architecture": per_scored,
        "one_shot_cpu_seconds_per_architecture_amortised": per_amortised,
        "ratio": per_scratch / per_scored,
        "ratio_amortised": per_scratch / per_amortised,
        "best_scored": float(max(r.score for r in shared[args.supernet_epochs :])),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[8, 28])
    parser.add_argument("--epochs", type=int, default=30, help="epochs of a stand-alone trial (AutoNASClassifier's max_epochs)")
    parser.add_argument("--scratch", type=int, default=4, help="stand-alone architectures to time")
    parser.add_argument("--supernet-epochs", type=int, default=10)
    # About what SPOS scored in bench_nas_default's searches: 1,518 architectures in 120 s at 8x8, 785 in 180 s at 28x28.
    parser.add_argument("--scored", type=int, default=1000, help="architectures SPOS scores with inherited weights")
    parser.add_argument("--out", default="benchmarks/results/oneshot.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [run(size, args) for size in args.sizes]
    print(f"{'size':>4} {'scratch s/arch':>14} {'one-shot s/arch':>15} {'ratio':>7} {'supernet s':>10} {'amortised ratio':>15}")
    for row in rows:
        print(
            f"{row['image_size']:>4} {row['stand_alone_cpu_seconds_per_architecture']:>14.2f} "
            f"{row['one_shot_cpu_seconds_per_architecture']:>15.4f} {row['ratio']:>7.0f} "
            f"{row['supernet_cpu_seconds']:>10.1f} {row['ratio_amortised']:>15.1f}"
        )
    path = write_json({"machine": machine_info(), "args": vars(args), "rows": rows}, args.out)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
