"""Build the tabulated NAS benchmark: train every architecture of a small cell space on digits.

The space is ``CellSpace(n_blocks=1, operations=('conv3x3', 'maxpool',
'identity'), combine=('add',), n_cells=3, initial_channels=8)``: a normal
and a reduction cell of one block each, stacked normal-reduction-reduction.
It has 1296 ordered architectures; without the symmetric duplicates of
added branches (``op_a(a) + op_b(b)`` = ``op_b(b) + op_a(a)``) 441, and all
441 are trained, so the table answers every architecture a strategy can
propose (``TabularEvaluator`` maps both orders to the same entry).

Data: ``load_digits`` images ``(N, 1, 8, 8)``, split once, stratified, with
``--split-seed``: 20 % test, 20 % validation, 60 % training. Each
architecture is trained once with torch seed ``--seed``, through the
Evaluator's skorch setup without early stopping (AdamW, lr 3e-3, weight decay
1e-4, batch 64, cosine schedule over ``--epochs``), recording validation
loss/accuracy and test accuracy after every epoch, the processor time of
each epoch (one torch thread, so the time on an idle core; the wall time of
every run is kept too, but it depends on what else shares the machine), the
parameters and the FLOPs.

Architectures are trained in a fixed shuffled order (``--order-seed``), so
a run stopped early, or ``--limit N``, leaves a uniform random sample.
Every finished architecture is appended to a checkpoint file (JSON lines);
a rerun skips what the checkpoint, or a table already at ``--out`` made with
the same settings, holds: a table of a sample is completed by running the
script again. The table file is rewritten every
``--save-every`` architectures and at the end, from all finished ones; the
checkpoint is deleted once every architecture is in the table.

    python benchmarks/build_nas_table.py --noise-sample 30   # ~40 min of processor time

Two processes sharing the work (as the shipped table was built: 53 min of
wall time on a shared 2-core machine), then a run that writes the table:

    python benchmarks/build_nas_table.py --shard 0/2 &
    python benchmarks/build_nas_table.py --shard 1/2; wait
    python benchmarks/build_nas_table.py --noise-sample 30

Smoke test: ``python benchmarks/build_nas_table.py --limit 5 --epochs 2 --out /tmp/t.json.gz``.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skautoml.nas import (
    CellSpace,
    NASTable,
    TableEntry,
    canonical_architecture,
    enumerate_architectures,
    load_nas_table,
    tabulate_architecture,
)

from _common import machine_info  # sibling file: run as python benchmarks/<script>.py

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "skautoml" / "nas" / "data" / "nas_table_digits.json.gz"
SPACE = CellSpace(
    n_blocks=1,
    operations=("conv3x3", "maxpool", "identity"),
    combine=("add",),
    n_cells=3,
    initial_channels=8,
)
TRAINING = {"batch_size": 64, "lr": 3e-3, "weight_decay": 1e-4}


def digits_split(split_seed):
    """Digits images and a stratified 60/20/20 train/validation/test split; with the indices."""
    digits = load_digits()
    X, y = digits.images[:, np.newaxis].astype(np.float32), digits.target.astype(np.int64)
    index = np.arange(len(y))
    rest, test = train_test_split(index, test_size=0.2, stratify=y, random_state=split_seed)
    train, valid = train_test_split(rest, test_size=0.25, stratify=y[rest], random_state=split_seed)
    data = (X[train], y[train], X[valid], y[valid], X[test], y[test])
    return data, {"train": train.tolist(), "valid": valid.tolist(), "test": test.tolist()}


def read_checkpoint(path):
    """Entries already trained, by canonical architecture; a torn last line is ignored."""
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                entry = TableEntry.from_json(json.loads(line))
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue  # a line cut short by an interrupted run
            done[canonical_architecture(entry.architecture)] = entry
    return done


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: <out>.partial.jsonl")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="torch seed of every training run")
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--order-seed", type=int, default=0, help="seed of the training order")
    parser.add_argument("--limit", type=int, default=None, help="train at most this many architectures in total")
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="train only every N-th architecture still to do, starting at the I-th (0-based), so N processes "
        "sharing one checkpoint split the work; rerun without --shard afterwards to write the complete table",
    )
    parser.add_argument(
        "--no-train",
        action="store_true",
        help="train nothing new: write the table from what the checkpoint holds (a build stopped early)",
    )
    parser.add_argument(
        "--noise-sample",
        type=int,
        default=0,
        help="retrain the first N architectures with seed + 1 and record how much their scores move",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    checkpoint = args.checkpoint or args.out.with_name(args.out.name + ".partial.jsonl")

    architectures = enumerate_architectures(SPACE)
    order = np.random.default_rng(args.order_seed).permutation(len(architectures))
    architectures = [architectures[i] for i in order]
    if args.limit is not None:
        architectures = architectures[: args.limit]
    data, split = digits_split(args.split_seed)
    done = read_checkpoint(checkpoint)
    previous_noise = None
    if args.out.exists():
        # A table written by an earlier run (a sample) is resumed as well as a checkpoint.
        previous = load_nas_table(args.out)
        training = previous.info.get("training", {})
        if previous.space == SPACE and training.get("epochs") == args.epochs and training.get("seed") == args.seed:
            done.update({e.architecture: e for e in previous if e.architecture not in done})
            previous_noise = previous.info.get("seed_noise")
    stale = [e for e in done.values() if e.n_epochs != args.epochs or e.seed != args.seed]
    if stale:
        raise SystemExit(
            f"{checkpoint} holds runs with other settings (epochs/seed); delete it or pass another --checkpoint."
        )
    info = {
        "dataset": "sklearn.datasets.load_digits, images (N, 1, 8, 8), float32, raw pixel values",
        "split": {"seed": args.split_seed, "sizes": {k: len(v) for k, v in split.items()}, "indices": split},
        "training": {
            **TRAINING,
            "epochs": args.epochs,
            "seed": args.seed,
            "optimizer": "AdamW",
            "schedule": f"CosineAnnealingLR(T_max={args.epochs}), stepped per epoch",
            "early_stopping": None,
            "via": "skautoml.nas.tabulate_architecture (Evaluator.make_net, skorch)",
            "threads": args.threads,
        },
        "space_size_ordered": SPACE.size(),
        "n_architectures_canonical": len(enumerate_architectures(SPACE)),
        "machine": machine_info(),
    }

    def save():
        entries = [done[a] for a in architectures if a in done]
        info["cpu_seconds_total"] = round(sum(e.seconds() for e in entries), 1)
        info["wall_seconds_total"] = round(sum(e.wall_seconds for e in entries), 1)
        NASTable(SPACE, entries, info).save(args.out)
        return len(entries)

    todo = [] if args.no_train else [a for a in architectures if a not in done]
    print(f"{len(architectures)} architectures, {sum(a in done for a in architectures)} already done")
    if args.shard:
        shard, n_shards = (int(v) for v in args.shard.split("/"))
        todo = todo[shard::n_shards]
        print(f"shard {shard}/{n_shards}: {len(todo)} to train here")
    if todo:
        # Untimed warm-up: the first network built in a process pays torch's start-up costs.
        tabulate_architecture(SPACE, todo[0], data, 1, args.seed, **TRAINING)
    started = time.perf_counter()
    with open(checkpoint, "a") as stream:
        for i, architecture in enumerate(todo, 1):
            entry = tabulate_architecture(SPACE, architecture, data, args.epochs, args.seed, **TRAINING)
            done[architecture] = entry
            stream.write(json.dumps(entry.to_json()) + "\n")
            stream.flush()
            elapsed = time.perf_counter() - started
            eta = elapsed / i * (len(todo) - i)
            print(
                f"[{i}/{len(todo)}] {entry.seconds():5.1f} s cpu {entry.wall_seconds:5.1f} s wall  valid {entry.score():.4f}  test {entry.test_score():.4f}"
                f"  params {entry.n_params:6d}  {entry.architecture}   (elapsed {elapsed / 60:.1f} min, eta {eta / 60:.1f} min)",
                flush=True,
            )
            if i % args.save_every == 0 and not args.shard:
                save()
    if args.shard:
        print(f"shard done; rerun without --shard to write the table from {checkpoint}")
        return
    done.update(read_checkpoint(checkpoint))  # what other processes added
    if args.noise_sample:
        info["seed_noise"] = seed_noise(architectures[: args.noise_sample], done, data, args.seed + 1)
    elif previous_noise:
        info["seed_noise"] = previous_noise
    n_saved = save()
    table = NASTable(SPACE, [done[a] for a in architectures if a in done], info)
    if n_saved == len(enumerate_architectures(SPACE)) and checkpoint.exists():
        checkpoint.unlink()  # complete: the table holds everything
    scores = np.array([e.score() for e in table])
    tests = np.array([e.test_score() for e in table])
    best, best_score = table.best()
    print(f"\nwrote {args.out} ({args.out.stat().st_size / 1024:.1f} KiB): {len(table)} architectures, {table.max_epochs} epochs")
    print(
        f"training time of the table (sum of runs): {info['cpu_seconds_total'] / 60:.1f} min processor, "
        f"{info['wall_seconds_total'] / 60:.1f} min wall"
    )
    print(f"validation accuracy: min {scores.min():.4f}  median {np.median(scores):.4f}  max {scores.max():.4f}")
    print(f"test accuracy:       min {tests.min():.4f}  median {np.median(tests):.4f}  max {tests.max():.4f}")
    print(f"best by validation: {best}  valid {best_score:.4f}  test {table.entry(best).test_score():.4f}")
    if len(table) > 2:
        print(f"Spearman(valid, test) = {_spearman(scores, tests):.3f}")
    if "seed_noise" in info:
        noise = info["seed_noise"]
        print(
            f"seed noise over {noise['n']} architectures retrained with seed {noise['seed']}: "
            f"std of the validation-score change {noise['valid_diff_std']:.4f}, "
            f"mean |change| {noise['valid_diff_mean_abs']:.4f}"
        )


def seed_noise(architectures, done, data, seed):
    """How much a retraining with another seed moves the scores of ``architectures`` (recorded in the file)."""
    pairs = []
    for architecture in architectures:
        if architecture in done:
            again = tabulate_architecture(SPACE, architecture, data, done[architecture].n_epochs, seed, **TRAINING)
            pairs.append([done[architecture].score(), again.score(), done[architecture].test_score(), again.test_score()])
            print(f"  seed {seed}: valid {pairs[-1][0]:.4f} -> {pairs[-1][1]:.4f}  {architecture}", flush=True)
    pairs = np.array(pairs)
    diff = pairs[:, 1] - pairs[:, 0]
    return {
        "n": len(pairs),
        "seed": seed,
        "valid_diff_std": round(float(diff.std(ddof=1)), 5) if len(pairs) > 1 else None,
        "valid_diff_mean_abs": round(float(np.abs(diff).mean()), 5),
        "test_diff_mean_abs": round(float(np.abs(pairs[:, 3] - pairs[:, 2]).mean()), 5),
        "columns": ["valid_seed0", "valid_seed1", "test_seed0", "test_seed1"],
        "pairs": pairs.round(6).tolist(),
    }


def _spearman(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)


if __name__ == "__main__":
    main()
