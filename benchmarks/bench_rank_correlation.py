"""Rank correlation of cheap estimators with stand-alone training, on the tabulated digits benchmark.

How well do low fidelity (the first 1, 2, 5, 10 of the table's 20 epochs)
and a surrogate model (scikit-optimize's GP and random forest over
``space.encode``, fitted on 50 or 100 architectures) rank architectures,
compared with training them alone to the end? ``skautoml.nas.rank_correlation``
measures Kendall's tau-b and the top-5 overlap (share of the estimator's 5
best that are among the reference's 5 best, ties shared out; see
``skautoml.nas.top_k_overlap``) on two sets:

* **all**: every architecture of the table (for a surrogate, every one it
  was not fitted on) against the table's stand-alone validation accuracy
  (seed 0). Low fidelity reads the start of that same run, so it shares
  its seed noise and this column flatters it.
* **noise 30**: the 30 architectures of the table's seed-noise sample
  against their retraining with seed 1: an independent stand-alone
  training, the comparison the ceiling makes. The surrogates never train
  on these 30.

The ceiling is tau and top-5 overlap between the two seeds on the noise
sample (the top-5 ceiling averaged over taking either seed as the
reference): how well stand-alone training agrees with itself, with the
bootstrap standard deviation of its tau over resamples of the 30
architectures (how far tau on 30 architectures moves by chance). Low fidelity
is deterministic (one table); a surrogate is fitted on a random draw of
training architectures, and reports mean ± std (ddof=0) over ``--seeds``
(draw and surrogate seeded alike). "cost" is what an estimator spends in
training epochs: low fidelity k epochs per architecture scored, a surrogate
20 epochs per training architecture, once.

    python benchmarks/bench_rank_correlation.py          # ~1 min
    python benchmarks/bench_rank_correlation.py --seeds 10 --epochs 1 2 3 5 10 15
"""
import argparse
import time

import numpy as np
from scipy.stats import kendalltau

from skautoml.nas import LowFidelity, SurrogateEstimator, load_nas_table, rank_correlation, seed_noise_sample

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py


def measure(estimator, table, noise, top_k, exclude=()):
    """tau and top-k overlap on every table architecture (less ``exclude``) and on the noise sample."""
    wide = rank_correlation(estimator, table=table, n_architectures=None, top_k=top_k, exclude=exclude)
    again = dict(zip(noise.architectures, noise.second))
    narrow = rank_correlation(estimator, noise.architectures, reference=again.get, table=table, top_k=top_k)
    return {
        "all": {"tau": wide.tau, "top_k": wide.top_k_overlap, "n": wide.n},
        "noise": {"tau": narrow.tau, "top_k": narrow.top_k_overlap, "n": narrow.n},
        "ceiling": {"tau": wide.ceiling_tau, "top_k": wide.ceiling_top_k, "n": wide.ceiling_n},
    }


def summarise(runs):
    """Mean and std over seeds of each measure."""
    out = {}
    for where in ("all", "noise"):
        out[where] = {"n": runs[0][where]["n"]}
        for key in ("tau", "top_k"):
            values = np.array([r[where][key] for r in runs], dtype=float)
            out[where][key] = {"mean": float(values.mean()), "std": float(values.std())}
    return out


def bootstrap_std(first, second, n_resamples=1000, seed=0):
    """Standard deviation of Kendall's tau over resamples of the architectures (how noisy tau on 30 is)."""
    rng = np.random.default_rng(seed)
    taus = []
    for _ in range(n_resamples):
        index = rng.integers(len(first), size=len(first))
        taus.append(kendalltau(first[index], second[index]).statistic)
    return float(np.nanstd(taus))


def _cell(stat, spread):
    return f"{stat['mean']:.3f} ± {stat['std']:.3f}" if spread else f"{stat['mean']:.3f}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=None, help="a table file; default: the one shipped with skautoml")
    parser.add_argument("--epochs", type=int, nargs="*", default=[1, 2, 5, 10])
    parser.add_argument("--train-sizes", type=int, nargs="*", default=[50, 100])
    parser.add_argument("--surrogates", nargs="*", default=["gp", "rf"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--out", default="benchmarks/results/rank_correlation.json")
    args = parser.parse_args()

    table = load_nas_table(args.table)
    noise = seed_noise_sample(table)
    if noise is None or noise.architectures is None:
        raise SystemExit("the table has no seed-noise sample with known architectures; build it with --noise-sample.")
    report = {
        "machine": machine_info(),
        "settings": vars(args) | {"seeds": list(range(args.seeds))},
        "table": {
            "file": args.table or "packaged (skautoml/nas/data/nas_table_digits.json.gz)",
            "n_architectures": len(table),
            "max_epochs": table.max_epochs,
            "noise_sample": len(noise.architectures),
            "noise_seeds": list(noise.seeds),
        },
        "estimators": {},
    }
    rows = []  # (label, cost, summary, has spread)
    started = time.perf_counter()
    for epochs in [*args.epochs, table.max_epochs]:
        result = measure(LowFidelity(table, epochs=epochs), table, noise, args.top_k)
        plural = "epoch" if epochs == 1 else "epochs"
        kind = "low fidelity" if epochs < table.max_epochs else f"stand-alone (seed {noise.seeds[0]})"
        label = f"{kind}, {epochs} {plural}"
        summary = summarise([result])
        report["estimators"][label] = {"cost_epochs_per_architecture": epochs, "summary": summary}
        rows.append((label, f"{epochs} / arch", summary, False))
        ceiling = result["ceiling"]
    ceiling["tau_bootstrap_std"] = bootstrap_std(noise.first, noise.second)
    report["ceiling"] = ceiling

    noise_set = set(noise.architectures)
    pool = [a for a in table.architectures if a not in noise_set]
    for surrogate in args.surrogates:
        for n_train in args.train_sizes:
            runs, seconds = [], []
            for seed in range(args.seeds):
                draw = np.random.default_rng(seed).choice(len(pool), size=n_train, replace=False)
                train = [pool[i] for i in draw]
                fit_started = time.perf_counter()
                estimator = SurrogateEstimator(table.space, surrogate, random_state=seed)
                estimator.fit(train, [table.entry(a).score() for a in train])
                seconds.append(time.perf_counter() - fit_started)
                runs.append(measure(estimator, table, noise, args.top_k, exclude=train))
            label = f"surrogate {surrogate.upper()}, {n_train} trained"
            summary = summarise(runs)
            report["estimators"][label] = {
                "cost_epochs_once": n_train * table.max_epochs,
                "summary": summary,
                "mean_fit_seconds": float(np.mean(seconds)),
                "per_seed": runs,
            }
            rows.append((label, f"{n_train * table.max_epochs} once", summary, True))
            print(f"{label}: {args.seeds} seeds, {np.mean(seconds):.2f} s per fit", flush=True)
            write_json(report, args.out)
    report["wall_seconds"] = round(time.perf_counter() - started, 1)

    k = args.top_k
    print(f"\nKendall tau-b and top-{k} overlap against stand-alone training")
    print(f"(surrogates: mean ± std over {args.seeds} seeds)")
    header = f"{'estimator':<34}{'cost (epochs)':>15}{'tau, all':>17}{f'top-{k}, all':>17}"
    header += f"{'tau, noise 30':>17}{f'top-{k}, noise 30':>19}"
    print(header)
    print("-" * len(header))
    for label, cost, s, spread in rows:
        print(
            f"{label:<34}{cost:>15}{_cell(s['all']['tau'], spread):>17}{_cell(s['all']['top_k'], spread):>17}"
            f"{_cell(s['noise']['tau'], spread):>17}{_cell(s['noise']['top_k'], spread):>19}"
        )
    print(
        f"{'ceiling: seed 0 vs seed 1':<34}{'':>49}{ceiling['tau']:>17.3f}{ceiling['top_k']:>19.3f}"
    )
    spread = ceiling["tau_bootstrap_std"]
    print(f"tau on the 30 architectures of the noise sample varies by ± {spread:.3f} (bootstrap std of the ceiling)")
    print(f"'all': {len(table)} architectures (surrogates: those not trained on) vs seed {noise.seeds[0]}; "
          f"'noise 30': the seed-noise sample vs its retraining with seed {noise.seeds[1]}")
    path = write_json(report, args.out)
    print(f"\nwrote {path} ({report['wall_seconds']} s)")


if __name__ == "__main__":
    main()
