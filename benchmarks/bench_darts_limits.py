"""What DARTS's differentiable cost term does to the cells it derives under max_params, per cost weight.

Issue 12 point 2. One first-order DARTS search (one warm-up epoch) on 8x8
digits (75 % training, 25 % validation split, seed 0) over
``bench_constraints.GRADIENT_SPACE``, first without a limit; then, with
``max_params`` at ``--fraction`` of the cells that search derives at its
end, once per ``--cost-weights`` value. After every trial the cells the
alphas derive *without* the feasible discretisation are priced: how far the
cost term alone keeps them within the limit, and how many of the scored
architectures had to be repaired (operations or inputs replaced). Numbers
are reported, never asserted.

    python benchmarks/bench_darts_limits.py        # about 5 min on 2 cores
"""
import argparse

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from _common import machine_info, write_json  # sibling file: run as python benchmarks/<script>.py
from bench_constraints import GRADIENT_SPACE
from skautoml.nas import Budget, CostLimits, Evaluator, FeasibleSpace, Fidelity, architecture_cost, run_search
from skautoml.nas.oneshot import DARTS

SHAPE = (1, 8, 8)


def search(data, n_trials, cost_weight=1.0, limits=None):
    """DARTS for ``n_trials``; returns, per trial, the params of the unrepaired derived cells and the scored ones."""
    space = GRADIENT_SPACE if limits is None else FeasibleSpace(GRADIENT_SPACE, limits)
    strategy = DARTS(warmup_epochs=1, cost_weight=cost_weight).reset(space, random_state=0)
    derived, tell = [], strategy.tell

    def recording_tell(candidate, result):
        tell(candidate, result)
        derived.append(architecture_cost(GRADIENT_SPACE, strategy.module[-1].derive(), SHAPE, 10).n_params)

    strategy.tell = recording_tell
    evaluator = Evaluator(GRADIENT_SPACE, SHAPE, 10)
    results = run_search(strategy, evaluator, data, Fidelity(1), Budget(max_trials=n_trials).start(), 0, constraint=limits)
    return derived, [r.n_params for r in results]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--fraction", type=float, default=0.25)
    parser.add_argument("--cost-weights", type=float, nargs="*", default=[0.0, 0.1, 1.0, 10.0])
    parser.add_argument("--out", default="benchmarks/results/darts_limits.json")
    args = parser.parse_args()
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, *SHAPE).astype("float32")
    X_train, X_valid, y_train, y_valid = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    data = (X_train, y_train, X_valid, y_valid)
    free, _ = search(data, args.trials)
    limit = int(args.fraction * free[-1])
    print(f"unconstrained derived cells after {args.trials} trials: {free[-1]:,} parameters; max_params={limit:,}")
    print(f"{'weight':>6} {'derived within':>14} {'repaired':>8} {'derived params per trial (unrepaired)'}")
    runs = []
    for weight in args.cost_weights:
        limits = CostLimits(GRADIENT_SPACE, SHAPE, 10, max_params=limit)
        derived, scored = search(data, args.trials, weight, limits)
        within = sum(d <= limit for d in derived)
        repaired = sum(d != s for d, s in zip(derived, scored))
        print(f"{weight:>6g} {within:>8} of {len(derived):<3} {repaired:>8}  {', '.join(f'{d:,}' for d in derived)}")
        runs.append({"cost_weight": weight, "derived": derived, "scored": scored, "within": within, "repaired": repaired})
        write_json({"limit": limit, "unconstrained": free, "runs": runs, "machine": machine_info()}, args.out)


if __name__ == "__main__":
    main()
