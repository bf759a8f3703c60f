"""The search loop: strategy <-> evaluator under a budget, trials through joblib."""
import numpy as np
import torch
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from tqdm.auto import tqdm


def trial_seed(base_seed, trial_index):
    """The seed of trial ``trial_index``: independent of scheduling and of n_jobs."""
    return int(np.random.SeedSequence([base_seed, trial_index]).generate_state(1)[0] >> 1)


def _run_trial(evaluator, architecture, data, fidelity, seed, deadline, n_threads):
    previous = torch.get_num_threads()
    if n_threads is not None:
        # One of several parallel trials takes its share of the cores only.
        torch.set_num_threads(n_threads)
    try:
        return evaluator.evaluate(architecture, *data, fidelity, seed, deadline)
    finally:
        torch.set_num_threads(previous)


def run_search(strategy, evaluator, data, fidelity, budget, base_seed, *, n_jobs=None, refit_seconds=None, verbose=0):
    """Run trials until the budget is spent; return their results in trial order.

    Trials run in rounds of as many as there are joblib workers (``n_jobs``,
    or the workers of an active backend such as Dask's). Before each round the
    budget is asked whether one more round, plus the time ``refit_seconds``
    predicts for the final refit, still fits; trials also stop training at the
    time reserved for the refit.

    Parameters
    ----------
    strategy : Strategy, already reset
    evaluator : Evaluator
    data : tuple
        ``(X_train, y_train, X_valid, y_valid)``.
    fidelity : Fidelity
    budget : Budget, started
    base_seed : int
    n_jobs : int or None
    refit_seconds : callable or None
        ``refit_seconds(results) -> float``; None keeps nothing back.
    verbose : int
        A progress bar over trials when > 0.
    """
    results = []
    n_workers = effective_n_jobs(n_jobs)
    n_threads = max(1, cpu_count() // n_workers) if n_workers > 1 else None
    progress = tqdm(total=budget.max_trials, unit="trial", desc="NAS", disable=not verbose, leave=True)
    with Parallel(n_jobs=n_jobs) as parallel:
        while True:
            reserved = refit_seconds(results) if refit_seconds is not None else 0.0
            longest = max((r.train_seconds for r in results), default=0.0)
            if not budget.may_start(len(results), longest, reserved):
                break
            n_round = min(n_workers, budget.remaining_trials(len(results)))
            architectures = strategy.ask(n_round)
            seeds = [trial_seed(base_seed, len(results) + i) for i in range(n_round)]
            deadline = None if budget.deadline is None else budget.deadline - reserved
            round_results = parallel(
                delayed(_run_trial)(evaluator, arch, data, fidelity, seed, deadline, n_threads)
                for arch, seed in zip(architectures, seeds)
            )
            for architecture, result in zip(architectures, round_results):
                strategy.tell(architecture, result)
                results.append(result)
            scores = [r.score for r in results if r.ok]
            progress.set_postfix(best=f"{max(scores):.4f}" if scores else "-", refresh=False)
            progress.update(n_round)
    progress.close()
    return results
