"""DARTS's collapse to parameter-free operations, and its cure at discretisation (``max_parameter_free``).

One first-order DARTS search (``DARTS()`` defaults: 2 warm-up epochs,
architecture Adam at 3e-4) over ``CellSpace()`` on 8x8 digits, one epoch per
trial, for ``--epochs`` epochs. After every epoch the cells are derived from
the architecture parameters twice: without a limit (DARTS) and with at most
``--limit`` parameter-free operations per cell (the rule of
:meth:`CellSupernet.derive`). The table shows how many of the operations of
the derived normal and reduction cells are parameter-free, and the softmax
mass of the parameter-free operations averaged over the edges. At the end
both derived architectures are trained stand-alone on the training split
(30 epochs, the evaluator's AdamW and cosine schedule, no early stopping)
and scored once on a held-out split. Numbers are reported, never asserted.

    python benchmarks/bench_darts_collapse.py              # 40 epochs: about 27 min on 2 cores
    python benchmarks/bench_darts_collapse.py --arch-lr 3e-3   # 10x DARTS's architecture learning rate
    python benchmarks/bench_darts_collapse.py --epochs 4   # smoke test
"""
import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _common import machine_info, write_json
from skautoml.nas import Budget, CellSpace, Evaluator, Fidelity, run_search
from skautoml.nas.oneshot import DARTS, PARAMETER_FREE_OPERATIONS


def parameter_free(architecture):
    """Parameter-free operations of the derived normal and reduction cells."""
    return [
        sum(op in PARAMETER_FREE_OPERATIONS for block in cell for op in (block.op1, block.op2))
        for cell in (architecture.normal, architecture.reduction)
    ]


def free_mass(supernet, space):
    """Softmax weight of the parameter-free operations, averaged over the edges of each cell."""
    free = [o for o, op in enumerate(space.operations) if op in PARAMETER_FREE_OPERATIONS]
    with torch.no_grad():
        return [
            float(torch.softmax(getattr(supernet, f"alpha_{kind}"), dim=-1)[:, free].sum(dim=-1).mean())
            for kind in ("normal", "reduction")
        ]


def held_out_accuracy(space, architecture, data, epochs, seed):
    X_train, y_train, X_test, y_test = data
    evaluator = Evaluator(space, X_train.shape[1:], 10, batch_size=64, patience=None)
    net = evaluator.fit_final(architecture, X_train, y_train, epochs=epochs, schedule_epochs=epochs, seed=seed)
    return float(np.mean(net.predict(torch.as_tensor(X_test)) == y_test))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--limit", type=int, default=2, help="max_parameter_free of the cure")
    parser.add_argument("--retrain-epochs", type=int, default=30)
    parser.add_argument("--arch-lr", type=float, default=3e-4, help="DARTS's architecture learning rate")
    parser.add_argument("--out", default="benchmarks/results/darts_collapse.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8).astype("float32")
    X_rest, X_test, y_rest, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    X_train, X_valid, y_train, y_valid = train_test_split(X_rest, y_rest, test_size=0.2, stratify=y_rest, random_state=0)
    space = CellSpace()
    strategy = DARTS(arch_lr=args.arch_lr).reset(space, random_state=0)
    rows = []
    told = strategy.tell

    def tell(candidate, result):  # read the architecture parameters after every epoch
        told(candidate, result)
        supernet = strategy.module[1]
        free, limited = supernet.derive(), supernet.derive(max_parameter_free=args.limit)
        rows.append(
            {
                "epoch": len(rows) + 1,
                "valid_accuracy_inherited": result.score,
                "parameter_free_unlimited": parameter_free(free),
                "parameter_free_limited": parameter_free(limited),
                "parameter_free_softmax_mass": free_mass(supernet, space),
                "derived_unlimited": str(free),
                "derived_limited": str(limited),
            }
        )
        row = rows[-1]
        print(
            f"{row['epoch']:>5} {row['valid_accuracy_inherited']:>8.4f} {str(row['parameter_free_unlimited']):>12} "
            f"{str(row['parameter_free_limited']):>12} {row['parameter_free_softmax_mass'][0]:>10.3f} "
            f"{row['parameter_free_softmax_mass'][1]:>10.3f}",
            flush=True,
        )

    strategy.tell = tell
    n_ops = 2 * space.n_blocks
    print(f"parameter-free operations of {n_ops} per derived cell [normal, reduction]; softmax mass per edge")
    print(f"{'epoch':>5} {'valid':>8} {'DARTS':>12} {f'limit {args.limit}':>12} {'mass norm':>10} {'mass red':>10}")
    evaluator = Evaluator(space, (1, 8, 8), 10, batch_size=64)
    started = time.perf_counter()
    run_search(strategy, evaluator, (X_train, y_train, X_valid, y_valid), Fidelity(1), Budget(args.epochs).start(), 0)
    search_seconds = time.perf_counter() - started
    supernet = strategy.module[1]
    final = {"unlimited": supernet.derive(), "limited": supernet.derive(max_parameter_free=args.limit)}
    data = (X_rest, y_rest, X_test, y_test)
    accuracy = {name: held_out_accuracy(space, arch, data, args.retrain_epochs, seed=0) for name, arch in final.items()}
    for name, arch in final.items():
        print(f"{name:>9}: {parameter_free(arch)} parameter-free; held-out accuracy {accuracy[name]:.4f}  {arch}")
    report = {
        "machine": machine_info(),
        "args": vars(args),
        "search_seconds": search_seconds,
        "epochs": rows,
        "final": {name: {"architecture": str(arch), "parameter_free": parameter_free(arch), "accuracy": accuracy[name]}
                  for name, arch in final.items()},
    }
    print("wrote", write_json(report, args.out))


if __name__ == "__main__":
    main()
