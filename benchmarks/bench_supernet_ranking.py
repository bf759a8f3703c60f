"""How well a SPOS supernet ranks architectures, against stand-alone training, on the tabulated digits benchmark.

The shipped table holds all 441 architectures of a small ``CellSpace`` trained
stand-alone on a fixed digits split. This script trains SPOS's supernet over
the same space on the same training split (``--supernet-epochs`` trials of one
epoch each, a new uniform path per batch, through the one search loop), then
scores every table architecture with the inherited weights (batch-norm
statistics recalibrated on the same CALIBRATION_SAMPLES training images) on the table's
validation split, and measures with ``skautoml.nas.rank_correlation`` Kendall's
tau-b and top-5 overlap against the table's stand-alone validation accuracy,
beside the table's seed-noise ceiling. One thread; CPU seconds.

    python benchmarks/bench_supernet_ranking.py
"""
import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_digits

from _common import machine_info, write_json
from skautoml.nas import Budget, Evaluator, Fidelity, load_nas_table, rank_correlation, run_search
from skautoml.nas.oneshot import SPOS, SupernetTrial


def table_split(table):
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 1, 8, 8).astype(np.float32)
    index = table.info["split"]["indices"]
    return X[index["train"]], y[index["train"]], X[index["valid"]], y[index["valid"]]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--supernet-epochs", type=int, nargs="*", default=[5, 20, 60])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="benchmarks/results/supernet_ranking.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    table = load_nas_table()
    data = table_split(table)
    space = table.space
    evaluator = Evaluator(space, (1, 8, 8), 10, batch_size=64)
    rows = []
    for epochs in args.supernet_epochs:
        strategy = SPOS(supernet_epochs=epochs).reset(space, random_state=args.seed)
        started = time.process_time()
        run_search(strategy, evaluator, data, Fidelity(1), Budget(max_trials=epochs).start(), args.seed)
        training = time.process_time() - started
        started = time.process_time()
        scores = {}
        for architecture in table.architectures:
            trial = SupernetTrial(strategy.module, architecture, None, space, calibration_seed=strategy._calibration_seed)
            result = evaluator.evaluate(architecture, *data, Fidelity(0), args.seed, warm_start=trial)
            scores[architecture] = result.score
        scoring = time.process_time() - started
        measured = rank_correlation(scores.get, table=table, n_architectures=None, top_k=5)
        rows.append(
            {
                "supernet_epochs": epochs,
                "tau": measured.tau,
                "top_5": measured.top_k_overlap,
                "n": measured.n,
                "ceiling_tau": measured.ceiling_tau,
                "ceiling_top_5": measured.ceiling_top_k,
                "training_cpu_seconds": training,
                "scoring_cpu_seconds_per_architecture": scoring / len(scores),
                "best_scored_reference": float(table.entry(max(scores, key=scores.get)).score()),
                "table_best": float(table.best()[1]),
            }
        )
    print(f"{'epochs':>6} {'tau':>6} {'top-5':>6} {'ceiling tau':>11} {'train s':>8} {'score s/arch':>12} {'found':>6} {'best':>6}")
    for row in rows:
        print(
            f"{row['supernet_epochs']:>6} {row['tau']:>6.3f} {row['top_5']:>6.2f} {row['ceiling_tau']:>11.3f} "
            f"{row['training_cpu_seconds']:>8.1f} {row['scoring_cpu_seconds_per_architecture']:>12.3f} "
            f"{row['best_scored_reference']:>6.4f} {row['table_best']:>6.4f}"
        )
    print(f"wrote {write_json({'machine': machine_info(), 'args': vars(args), 'rows': rows}, args.out)}")


if __name__ == "__main__":
    main()
