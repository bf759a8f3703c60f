"""Seconds per epoch of skautoml's skorch Evaluator against a plain torch loop.

Two fixed architectures (a CNN on digits images, an MLP on breast_cancer) are
trained for a fixed number of epochs (no early stopping) on a fixed
train/validation split, once through ``Evaluator.make_net(...).fit`` and once
through a hand-written loop doing the same work per epoch: AdamW, a cosine
schedule stepped per epoch, shuffled mini-batches cut by indexing tensors, and
a validation pass computing loss and accuracy. Runs alternate so that drift in
machine load hits both sides; the median over repetitions is reported.

    python benchmarks/bench_evaluator_overhead.py
"""
import argparse
import statistics
import time

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split
from torch import nn

from skautoml.nas import CNNArchitecture, CNNLayer, CNNSpace, Evaluator, MLPArchitecture, MLPSpace

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

CASES = ("digits_cnn", "breast_cancer_mlp")


def load_case(name, seed):
    """Space, fixed architecture and a fixed stratified train/validation split."""
    if name == "digits_cnn":
        digits = load_digits()
        X, y = digits.images[:, np.newaxis], digits.target  # (N, 1, 8, 8)
        space = CNNSpace()
        architecture = CNNArchitecture(
            stem_channels=32,
            layers=(CNNLayer("conv3x3", 64), CNNLayer("maxpool"), CNNLayer("conv3x3", 64)),
        )
    else:
        X, y = load_breast_cancer(return_X_y=True)
        space = MLPSpace()
        architecture = MLPArchitecture(widths=(256, 128), activation="relu", dropout=0.1, batch_norm=True)
    X, y = X.astype(np.float32), y.astype(np.int64)
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    return space, architecture, X_train, y_train, X_valid, y_valid


class Clock:
    """Wall and process-CPU seconds; CPU time is steadier when other jobs share the cores."""

    def __init__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def stop(self):
        return time.perf_counter() - self.wall, time.process_time() - self.cpu


def run_evaluator(evaluator, architecture, data, epochs, seed):
    """Train through the Evaluator; returns ((wall s, cpu s), final valid loss, final valid accuracy)."""
    X_train, y_train, X_valid, y_valid = data
    torch.manual_seed(seed)
    module = evaluator.build_module(architecture, X_train)
    train = evaluator._to_device(X_train, y_train)
    valid = evaluator._to_device(X_valid, y_valid)
    clock = Clock()
    net = evaluator.make_net(module, epochs, valid_data=valid)
    net.fit(*train)
    return clock.stop(), net.history[-1, "valid_loss"], net.history[-1, "valid_acc"]


def run_plain(evaluator, architecture, data, epochs, seed):
    """The same work as ``run_evaluator``, written as a plain torch loop."""
    X_train, y_train, X_valid, y_valid = data
    torch.manual_seed(seed)
    module = evaluator.build_module(architecture, X_train)  # same weights as the evaluator run
    X_train, y_train = torch.as_tensor(X_train), torch.as_tensor(y_train)
    X_valid, y_valid = torch.as_tensor(X_valid), torch.as_tensor(y_valid)
    batch = evaluator.batch_size
    clock = Clock()
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.AdamW(module.parameters(), lr=evaluator.lr, weight_decay=evaluator.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(epochs, 1))
    for _ in range(epochs):
        module.train()
        order = torch.randperm(len(X_train))
        # Like TensorBatchIterator: a last training batch of one sample is left out (batch norm).
        stop = len(X_train) - 1 if len(X_train) % batch == 1 else len(X_train)
        for start in range(0, stop, batch):
            index = order[start : start + batch]
            optimizer.zero_grad()
            loss = criterion(module(X_train[index]), y_train[index])
            loss.backward()
            optimizer.step()
        schedule.step()
        module.eval()
        total_loss, correct = 0.0, 0
        with torch.no_grad():
            for start in range(0, len(X_valid), batch):
                logits = module(X_valid[start : start + batch])
                target = y_valid[start : start + batch]
                # Weighted by batch size, like skorch's valid_loss.
                total_loss += criterion(logits, target).item() * len(target)
                correct += (logits.argmax(1) == target).sum().item()
    return clock.stop(), total_loss / len(X_valid), correct / len(X_valid)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64, help="AutoNASClassifier's default")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps timings steady)")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/evaluator_overhead.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    machine = machine_info()  # load average at the start, before our own work adds to it
    runners = {"evaluator": run_evaluator, "plain": run_plain}

    rows = []
    for case in args.cases:
        space, architecture, *data = load_case(case, args.seed)
        evaluator = Evaluator(
            space, data[0].shape[1:], len(np.unique(data[1])), batch_size=args.batch_size, lr=args.lr, patience=None
        )
        for runner in runners.values():  # untimed warm-up: first-call allocations, lazy imports
            runner(evaluator, architecture, data, 1, args.seed)
        runs = {name: {"wall": [], "cpu": []} for name in runners}
        final = {}
        for repeat in range(args.repeats):
            # Alternate the order so neither side always runs on a warmer machine.
            names = list(runners) if repeat % 2 == 0 else list(runners)[::-1]
            for name in names:
                (wall, cpu), valid_loss, valid_acc = runners[name](evaluator, architecture, data, args.epochs, args.seed)
                runs[name]["wall"].append(wall / args.epochs)
                runs[name]["cpu"].append(cpu / args.epochs)
                final[name] = {"valid_loss": float(valid_loss), "valid_acc": float(valid_acc)}
        summary = {
            name: {
                "median_wall": statistics.median(r["wall"]),
                "min_wall": min(r["wall"]),
                "median_cpu": statistics.median(r["cpu"]),
                **r,
            }
            for name, r in runs.items()
        }
        rows.append(
            {
                "case": case,
                "architecture": str(architecture),
                "n_train": len(data[0]),
                "n_valid": len(data[2]),
                "seconds_per_epoch": summary,
                "ratio_evaluator_over_plain": {
                    key: summary["evaluator"][key] / summary["plain"][key]
                    for key in ("median_wall", "min_wall", "median_cpu")
                },
                # Same seed and the same random draws on both sides: these should match.
                "final_epoch": final,
            }
        )

    print(f"seconds per epoch, {args.epochs} epochs, median of {args.repeats} runs, {args.threads} torch thread(s)")
    print(
        f"{'case':<18} {'evaluator':>9} {'plain':>7} {'ratio':>6} {'ratio(min)':>10} {'ratio(cpu)':>10}"
        "  final valid acc (evaluator / plain)"
    )
    for row in rows:
        sec, ratio, fin = row["seconds_per_epoch"], row["ratio_evaluator_over_plain"], row["final_epoch"]
        print(
            f"{row['case']:<18} {sec['evaluator']['median_wall']:>9.4f} {sec['plain']['median_wall']:>7.4f} "
            f"{ratio['median_wall']:>6.3f} {ratio['min_wall']:>10.3f} {ratio['median_cpu']:>10.3f}  "
            f"{fin['evaluator']['valid_acc']:.4f} / {fin['plain']['valid_acc']:.4f}"
        )
    print("target: ratio evaluator/plain <= 1.15 (reported, not asserted)")
    report = {
        "benchmark": "evaluator_overhead",
        "config": vars(args),
        "machine": machine,
        "target_ratio": 1.15,
        "results": rows,
    }
    print(f"wrote {write_json(report, args.out)}")


if __name__ == "__main__":
    main()
