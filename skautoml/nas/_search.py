"""The search loop: strategy <-> evaluator under a budget, trials through joblib."""
import copy
import dataclasses
import math

import numpy as np
import torch
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from tqdm.auto import tqdm

from .evaluate import Fidelity

#: What the resource of a multi-fidelity strategy may scale (see :func:`fidelity_at`).
RESOURCES = ("epochs", "data", "both")


def trial_seed(base_seed, trial_index):
    """The seed of trial ``trial_index``: independent of scheduling and of n_jobs."""
    return int(np.random.SeedSequence([base_seed, trial_index]).generate_state(1)[0] >> 1)


def fidelity_at(full, resource, scales="epochs"):
    """The :class:`Fidelity` of a trial given ``resource``, a share in (0, 1] of ``full``.

    ``scales='epochs'``: ``max_epochs * resource`` rounded up, at least 1;
    ``'data'``: ``data_fraction * resource``; ``'both'``: both. A resource of
    1 gives ``full``.

    Examples
    --------
    >>> from skautoml.nas import Fidelity
    >>> fidelity_at(Fidelity(max_epochs=30, data_fraction=0.5), 1 / 9, "both")
    Fidelity(max_epochs=4, data_fraction=0.05555555555555555)
    """
    if scales not in RESOURCES:
        raise ValueError(f"resource must be one of {RESOURCES}; got {scales!r}.")
    if not 0 < resource <= 1:
        raise ValueError(f"a trial's resource is a share of the full fidelity in (0, 1]; got {resource!r}.")
    if resource == 1:
        return full
    max_epochs, data_fraction = full.max_epochs, full.data_fraction
    if scales in ("epochs", "both"):
        # The tolerance keeps 9 * (1/3) from rounding up to 4.
        max_epochs = max(1, math.ceil(full.max_epochs * resource - 1e-9))
    if scales in ("data", "both"):
        data_fraction = full.data_fraction * resource
    return Fidelity(max_epochs, data_fraction)


def _run_trial(evaluator, architecture, data, fidelity, seed, deadline, n_threads):
    previous = torch.get_num_threads()
    if n_threads is not None:
        # One of several parallel trials takes its share of the cores only.
        torch.set_num_threads(n_threads)
    try:
        return evaluator.evaluate(architecture, *data, fidelity, seed, deadline)
    finally:
        torch.set_num_threads(previous)


def run_search(
    strategy,
    evaluator,
    data,
    fidelity,
    budget,
    base_seed,
    *,
    n_jobs=None,
    refit_seconds=None,
    verbose=0,
    description="NAS",
    resource="epochs",
):
    """Run trials until the budget is spent; return their results in trial order.

    Trials run in rounds of as many as there are joblib workers (``n_jobs``,
    or the workers of an active backend such as Dask's). Before each round the
    budget is asked whether one more round, plus the time ``refit_seconds``
    predicts for the final refit, still fits; trials also stop training at the
    time reserved for the refit. ``max_trials`` counts trials at any fidelity.

    A strategy whose ``multi_fidelity`` attribute is true (successive halving,
    Hyperband, BOHB) is asked through ``ask_proposals(n)``, which returns
    ``Proposal(architecture, share)`` values; each trial runs at
    ``fidelity_at(fidelity, share, resource)`` and the strategy is told
    ``tell(proposal, result)``, with ``result.resource`` set to the share.
    Any other strategy is asked ``ask(n)`` and every trial runs at
    ``fidelity``.

    When the evaluator has a ``stopping_rule``, the curves of the ok trials
    of a round that ran at full fidelity and were not stopped by the rule are
    passed to ``stopping_rule.observe`` after the round. The evaluator, rule
    included, travels to the workers with every trial, so all trials of a
    round see the same rule: trials of one round do not learn from one
    another, which makes a parallel search with a rule differ from the
    sequential one (where every round is one trial). Low-fidelity trials run
    without the rule: multi-fidelity strategies stop poor candidates
    themselves, and a shorter schedule or less data makes their curves
    incomparable with full ones.

    Parameters
    ----------
    strategy : Strategy, already reset
    evaluator : Evaluator
        Any object with ``evaluate(architecture, *data, fidelity, seed,
        deadline)``; an optional ``stopping_rule`` attribute.
    data : tuple
        ``(X_train, y_train, X_valid, y_valid)``.
    fidelity : Fidelity
        The full fidelity.
    budget : Budget, started
    base_seed : int
    n_jobs : int or None
    refit_seconds : callable or None
        ``refit_seconds(results) -> float``; None keeps nothing back.
    verbose : int
        A progress bar over trials when > 0.
    description : str
        Label of the progress bar.
    resource : {'epochs', 'data', 'both'}, default='epochs'
        What a multi-fidelity strategy's resource scales (see :func:`fidelity_at`).
    """
    if resource not in RESOURCES:
        raise ValueError(f"resource must be one of {RESOURCES}; got {resource!r}.")
    multi_fidelity = bool(getattr(strategy, "multi_fidelity", False))
    rule = getattr(evaluator, "stopping_rule", None)
    low_fidelity_evaluator = evaluator
    if rule is not None:
        low_fidelity_evaluator = copy.copy(evaluator)
        low_fidelity_evaluator.stopping_rule = None
    results = []
    n_workers = effective_n_jobs(n_jobs)
    n_threads = max(1, cpu_count() // n_workers) if n_workers > 1 else None
    progress = tqdm(total=budget.max_trials, unit="trial", desc=description, disable=not verbose, leave=True)
    with Parallel(n_jobs=n_jobs) as parallel:
        while True:
            reserved = refit_seconds(results) if refit_seconds is not None else 0.0
            longest = max((r.train_seconds for r in results), default=0.0)
            if not budget.may_start(len(results), longest, reserved):
                break
            n_round = min(n_workers, budget.remaining_trials(len(results)))
            if multi_fidelity:
                proposals = strategy.ask_proposals(n_round)
                trials = [(p.architecture, float(p.resource)) for p in proposals]
            else:
                proposals = strategy.ask(n_round)
                trials = [(architecture, 1.0) for architecture in proposals]
            seeds = [trial_seed(base_seed, len(results) + i) for i in range(n_round)]
            deadline = None if budget.deadline is None else budget.deadline - reserved
            round_results = parallel(
                delayed(_run_trial)(
                    evaluator if share == 1 else low_fidelity_evaluator,
                    architecture,
                    data,
                    fidelity_at(fidelity, share, resource),
                    seed,
                    deadline,
                    n_threads,
                )
                for (architecture, share), seed in zip(trials, seeds)
            )
            for proposal, (_, share), result in zip(proposals, trials, round_results):
                if multi_fidelity:
                    result = dataclasses.replace(result, resource=share)
                strategy.tell(proposal, result)
                results.append(result)
            if rule is not None:
                for result in results[-n_round:]:
                    if result.ok and result.resource == 1 and not result.stopped_early and result.curve:
                        rule.observe(result.curve)
            scores = [r.score for r in results if r.ok]
            progress.set_postfix(best=f"{max(scores):.4f}" if scores else "-", refresh=False)
            progress.update(n_round)
    progress.close()
    return results
