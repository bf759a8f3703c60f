"""Regret of every registered NAS strategy on the tabulated digits benchmark.

Each strategy of ``skautoml.search.STRATEGIES`` (with its default
settings) searches the table's space through the real search loop
(``run_search`` under ``Budget(max_trials=100)``, full fidelity, one trial at
a time), with ``TabularEvaluator`` answering every trial from the table, for
20 seeds (``reset(space, random_state=seed)`` and ``base_seed=seed``).
Regret after k queries = the best validation accuracy in the table minus the
best validation accuracy among the full-fidelity trials of the first k (a
multi-fidelity strategy's low-fidelity trials use up queries but find
nothing until an architecture is promoted to full fidelity; the ``epochs``
column shows what its searches spent); the table reports its mean
± standard deviation (ddof=0) over seeds at 10, 30 and 100 queries, the
fraction of seeds that found the table's best, and the test accuracy of the
incumbent (the trial with the best validation accuracy so far) after 100.

A query is a trial: repeated or symmetric-duplicate proposals count, as they
would cost training time in a real search. When the table does not cover its
whole space (a build stopped early), strategies search ``TabularSpace(table)``
so that every proposal is in the table. Strategies that cannot run this way
(no ask/tell, or a constructor that needs arguments, or an error in the
loop) are listed as skipped with the reason.

    python benchmarks/bench_nas_regret.py            # the shipped table
    python benchmarks/bench_nas_regret.py --table /tmp/table.json.gz --seeds 5
"""
import argparse
import math
import time

import numpy as np
from joblib import Parallel, delayed

from skautoml.nas import Budget, Fidelity, Strategy, TabularEvaluator, load_nas_table, run_search
from skautoml.search import STRATEGIES, resolve_strategy

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py

NO_DATA = (None, None, None, None)


def run_one(name, table, space, seed, n_queries, n_jobs):
    """One search; returns per-trial validation scores, test accuracy of the incumbent, simulated seconds."""
    strategy = resolve_strategy(name).reset(space, random_state=seed)
    budget = Budget(max_trials=n_queries, max_epochs=table.max_epochs).start()
    evaluator = TabularEvaluator(table)
    results = run_search(strategy, evaluator, NO_DATA, Fidelity(table.max_epochs), budget, base_seed=seed, n_jobs=n_jobs)
    full = [r.ok and r.epochs == table.max_epochs for r in results]
    scores = np.array([r.score if f else np.nan for r, f in zip(results, full)], dtype=float)
    incumbent_test, best, test = [], -np.inf, np.nan
    for result, is_full in zip(results, full):
        if is_full and result.score > best:
            best, test = result.score, table.entry(result.architecture).test_score(table.max_epochs)
        incumbent_test.append(test)
    distinct = len({table.entry(r.architecture).architecture for r in results if r.ok})
    return {
        "scores": scores,
        "incumbent_test": np.array(incumbent_test),
        "train_seconds": float(sum(r.train_seconds for r in results)),
        "epochs": int(sum(r.epochs for r in results)),
        "n_full": int(sum(full)),
        "n_failed": int(sum(not r.ok for r in results)),
        "n_distinct": distinct,
    }


def _cell(stat):
    if stat["mean"] is None:
        return f"{'n/a':>18}"
    missing = stat.get("seeds_without_full_trial", 0)
    text = f"{stat['mean']:.4f} ± {stat['std']:.4f}" + (f" ({missing})" if missing else "")
    return f"{text:>18}"


def skip_reason(name):
    """Why ``name`` cannot run through the ask/tell loop, or None."""
    try:
        strategy = resolve_strategy(name)
    except Exception as exc:  # noqa: BLE001 - report and go on with the others
        return f"cannot be built with default settings ({type(exc).__name__}: {exc})"
    if not isinstance(strategy, Strategy):
        return f"{type(strategy).__name__} does not speak ask/tell (its own search loop is not supported here)"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default=None, help="a table file; default: the one shipped with skautoml")
    parser.add_argument("--strategies", nargs="*", default=None, help="default: every registered strategy")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--at", type=int, nargs="*", default=[10, 30, 100])
    parser.add_argument("--n-jobs", type=int, default=None, help="joblib workers of run_search (default: sequential)")
    parser.add_argument(
        "--seed-jobs", type=int, default=1, help="processes running seeds side by side (results do not change)"
    )
    parser.add_argument("--out", default="benchmarks/results/nas_regret.json")
    args = parser.parse_args()
    at = [k for k in args.at if k <= args.queries]

    table = load_nas_table(args.table)
    complete = table.complete
    space = TabularEvaluator(table).space  # TabularSpace(table) when the table is a sample
    best_arch, best_valid = table.best()
    best_test_arch, best_test = table.best(key="test_score")
    print(
        f"table: {len(table)} architectures ({'the whole space' if complete else 'a sample; searching TabularSpace'}), "
        f"{table.max_epochs} epochs; best validation accuracy {best_valid:.4f} "
        f"(test {table.entry(best_arch).test_score():.4f}); best test accuracy {best_test:.4f}"
    )
    scores = np.array([e.score() for e in table])
    n_best = int(np.sum(scores == best_valid))
    print(f"{n_best} architecture(s) reach the best validation accuracy; median {np.median(scores):.4f}\n")

    names = args.strategies or list(STRATEGIES)
    report = {
        "machine": machine_info(),
        "settings": {
            "seeds": list(range(args.seeds)),
            "queries": args.queries,
            "at": at,
            "n_jobs": args.n_jobs,
            "seed_jobs": args.seed_jobs,
        },
        "table": {
            "file": args.table or "packaged (skautoml/nas/data/nas_table_digits.json.gz)",
            "n_architectures": len(table),
            "complete": complete,
            "max_epochs": table.max_epochs,
            "best_valid": best_valid,
            "best_valid_architecture": str(best_arch),
            "best_valid_test": table.entry(best_arch).test_score(),
            "best_test": best_test,
            "n_at_best_valid": n_best,
        },
        "strategies": {},
        "skipped": {},
    }
    rows = []
    for name in names:
        reason = skip_reason(name) if name in STRATEGIES else f"not registered in STRATEGIES ({sorted(STRATEGIES)})"
        if reason:
            print(f"skipping {name!r}: {reason}")
            report["skipped"][name] = reason
            continue
        started = time.perf_counter()
        try:
            runs = Parallel(n_jobs=args.seed_jobs)(
                delayed(run_one)(name, table, space, seed, args.queries, args.n_jobs) for seed in range(args.seeds)
            )
        except Exception as exc:  # noqa: BLE001 - one strategy's failure must not stop the comparison
            reason = f"failed in the search loop: {type(exc).__name__}: {exc}"
            print(f"skipping {name!r}: {reason}")
            report["skipped"][name] = reason
            continue
        seconds = time.perf_counter() - started
        best_so_far = np.array([np.fmax.accumulate(np.nan_to_num(r["scores"], nan=-np.inf)) for r in runs])
        regret = best_valid - best_so_far  # inf until a full-fidelity trial
        summary = {"wall_seconds": round(seconds, 2)}
        for k in at:
            values = regret[:, k - 1]
            found = np.isfinite(values)
            # Seeds without a full-fidelity trial yet have no incumbent: left out, and counted.
            summary[f"regret_{k}"] = {
                "mean": float(values[found].mean()) if found.any() else None,
                "std": float(values[found].std()) if found.any() else None,
                "seeds_without_full_trial": int(np.sum(~found)),
            }
            summary[f"found_best_{k}"] = float(np.mean(values <= 0))
            tests = np.array([r["incumbent_test"][k - 1] for r in runs])[found]
            summary[f"incumbent_test_{k}"] = {
                "mean": float(tests.mean()) if found.any() else None,
                "std": float(tests.std()) if found.any() else None,
            }
        summary["mean_distinct_architectures"] = float(np.mean([r["n_distinct"] for r in runs]))
        summary["mean_failed_trials"] = float(np.mean([r["n_failed"] for r in runs]))
        summary["mean_simulated_train_minutes"] = float(np.mean([r["train_seconds"] for r in runs]) / 60)
        summary["mean_epochs_trained"] = float(np.mean([r["epochs"] for r in runs]))
        summary["mean_full_fidelity_trials"] = float(np.mean([r["n_full"] for r in runs]))
        report["strategies"][name] = {
            "strategy": repr(resolve_strategy(name)),
            "summary": summary,
            "per_seed": [
                {
                    "seed": seed,
                    "best_so_far": [None if not math.isfinite(v) else round(float(v), 6) for v in best_so_far[seed]],
                    "n_distinct": r["n_distinct"],
                    "n_failed": r["n_failed"],
                }
                for seed, r in enumerate(runs)
            ],
        }
        rows.append((name, summary))
        print(f"{name}: {args.seeds} seeds x {args.queries} queries in {seconds:.1f} s", flush=True)
        write_json(report, args.out)  # rewritten after every strategy, so a stopped run keeps what it measured

    print(f"\nregret = best validation accuracy in the table ({best_valid:.4f}) - best found; mean ± std over {args.seeds} seeds")
    header = f"{'strategy':<20}" + "".join(f"{'@' + str(k):>18}" for k in at)
    header += f"{'found best @' + str(at[-1]):>17}{'test @' + str(at[-1]):>18}{'distinct':>10}{'epochs':>8}{'seconds':>9}"
    print(header)
    print("-" * len(header))
    for name, s in rows:
        line = f"{name:<20}" + "".join(_cell(s[f"regret_{k}"]) for k in at)
        line += f"{s[f'found_best_{at[-1]}']:>17.2f}" + _cell(s[f"incumbent_test_{at[-1]}"])
        line += f"{s['mean_distinct_architectures']:>10.1f}{s['mean_epochs_trained']:>8.0f}{s['wall_seconds']:>9.1f}"
        print(line)
    if any(s[f"regret_{k}"]["seeds_without_full_trial"] for _, s in rows for k in at):
        print("n/a: no full-fidelity trial yet; (m) = mean over the seeds that had one, m seeds left out")
    for name, reason in report["skipped"].items():
        print(f"(skipped {name}: {reason})")
    path = write_json(report, args.out)
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
