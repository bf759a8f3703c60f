"""The search loop: strategy <-> evaluator under a budget, trials through joblib."""
import copy
import dataclasses
import math
import warnings

import numpy as np
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from tqdm.auto import tqdm

from .._utils._threads import torch_threads
from ._results import Fidelity, TrialResult, as_proposal

#: What the resource of a multi-fidelity strategy may scale (see :func:`fidelity_at`).
RESOURCES = ("epochs", "data", "both")
#: Refusals while filling one round after which a search under a constraint ends (see ``run_search``).
MAX_REFUSALS = 100


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
    >>> from skautoml.search import Fidelity
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


def _run_trial(evaluator, proposal, data, fidelity, seed, deadline, n_threads):
    """One trial in a worker: the evaluator at its share of the cores."""
    extra = {}
    if proposal.warm_start is not None:
        extra["warm_start"] = proposal.warm_start
    if proposal.keep_model:
        extra["keep_model"] = True
    # One of several parallel trials takes its share of the cores only (where the evaluator loaded torch).
    with torch_threads(n_threads):
        return evaluator.evaluate(proposal.architecture, *data, fidelity, seed, deadline, **extra)


def run_search(
    strategy,
    evaluator,
    data,
    fidelity,
    budget,
    base_seed,
    *,
    n_jobs=None,
    verbose=0,
    description="search",
    resource="epochs",
    constraint=None,
    objective=None,
    storage=None,
    expected_seconds=None,
):
    """Run trials until the budget is spent or the strategy has nothing left; return their results in trial order.

    This is the one loop of every search over a :class:`~skautoml.search.SearchSpace`
    (architectures of every strategy family, augmentation policies). Trials run in rounds of
    as many as there are joblib workers (``n_jobs``, or the workers of an
    active backend such as Dask's). Before each round the budget is asked
    whether one more round, plus the time ``budget.reserved_seconds``
    predicts for the final refit, still fits; trials get the deadline
    ``budget.trial_deadline`` and stop training there. ``max_trials`` counts
    trials at any fidelity.

    The strategy is asked ``ask(n)`` for the round and told
    ``tell(candidate, result)`` for every trial in trial order (so the k-th
    result told is trial k). A candidate is a value of the space or a
    :class:`~skautoml.search.Proposal`: its ``resource`` sets the trial's
    fidelity (``fidelity_at(fidelity, resource, resource_scales)``, whose
    epochs its ``epochs`` replace when set), its
    ``warm_start`` and ``keep_model`` reach the evaluator, and the recorded
    result carries its ``resource`` and ``parent`` and no ``model``. A
    strategy that returns fewer candidates than asked runs a smaller round;
    one that returns none ends the search.

    When the evaluator has a ``stopping_rule``, the curves of the ok trials
    of a round that ran at full fidelity from scratch and were not stopped by
    the rule are passed to ``stopping_rule.observe`` after the round. The
    evaluator, rule included, travels to the workers with every trial, so
    all trials of a round see the same rule: trials of one round do not learn
    from one another, which makes a parallel search with a rule differ from
    the sequential one (where every round is one trial). Trials at a lower
    fidelity or started from a parent's weights run without the rule: their
    curves are not comparable with full ones.

    Parameters
    ----------
    strategy : Strategy, already reset
    evaluator : object
        ``evaluate(architecture, *data, fidelity, seed, deadline)`` returning
        a :class:`~skautoml.search.TrialResult` (the loop sets its
        ``resource``, ``parent`` and ``model`` fields with
        ``dataclasses.replace``), never raising for a bad candidate; ``warm_start=`` and ``keep_model=`` keywords when the
        strategy's proposals use them; an optional ``stopping_rule``.
    data : tuple
        What the evaluator takes between the architecture and the fidelity,
        e.g. ``(X_train, y_train, X_valid, y_valid)``.
    fidelity : Fidelity
        The full fidelity.
    budget : Budget, started
    base_seed : int
    n_jobs : int or None
    verbose : int
        A progress bar over trials when > 0.
    description : str
        Label of the progress bar.
    resource : {'epochs', 'data', 'both'}, default='epochs'
        What a proposal's resource scales (see :func:`fidelity_at`).
    constraint : callable or None, default=None
        ``constraint(architecture) -> str or None``: why a candidate must not
        be trained, or None when it may (e.g. :class:`~skautoml.nas.CostLimits`,
        which also records the refusal). A refused candidate is neither
        trained nor counted as a trial: the strategy is told a result with
        status ``'infeasible'``, score NaN and the reason as its ``error``,
        and asked again, up to ``MAX_REFUSALS`` refusals for one round; a
        round left empty then ends the search with a warning.
    objective : callable or None, default=None
        ``objective(result) -> TrialResult``: each trial's result as the
        strategy is told of it and the search records it, e.g. with its
        price (``latency_ms``) and ``score`` replaced by a reward of score
        and cost (:class:`~skautoml.nas.MnasNetReward`, which keeps the
        evaluator's score in ``raw_score``). Called in this process, in
        trial order.
    expected_seconds : callable or None, default=None
        ``expected_seconds(results) -> float``: how long the next round is
        expected to take, which the budget must still hold before it starts.
        None: the longest trial so far, since a trial that cannot be stopped
        must not start unless it fits. An evaluator whose trials stop at their
        deadline may pass a typical length instead (the median), so that one
        slow trial does not end the search early.
    storage : SQLiteStorage or None, default=None
        Where each finished trial is committed before the strategy is told of
        it, opened for this search (see :meth:`SQLiteStorage.open`). Its
        trials are replayed: while the strategy proposes what the stored
        trials were, their results are told instead of running them, so a
        killed search goes on where it stopped; rounds keep the size of the
        run that started the file (whatever ``n_jobs`` is now), which makes
        the resumed search the same search. A candidate other than the stored
        one raises RuntimeError. Strategies that keep trained networks
        between trials (one-shot supernets, morphisms) cannot resume:
        NotImplementedError.
    """
    if resource not in RESOURCES:
        raise ValueError(f"resource must be one of {RESOURCES}; got {resource!r}.")
    rule = getattr(evaluator, "stopping_rule", None)
    evaluator_without_rule = evaluator
    if rule is not None:
        evaluator_without_rule = copy.copy(evaluator)
        evaluator_without_rule.stopping_rule = None
    if expected_seconds is None:
        expected_seconds = _longest_trial_seconds
    results = []
    n_workers = effective_n_jobs(n_jobs)
    stored, round_size = [], n_workers
    if storage is not None:
        if getattr(strategy, "shares_weights", False):
            raise NotImplementedError(_CANNOT_RESUME.format(name=type(strategy).__name__))
        stored, round_size = storage.load(), storage.round_size
    progress = tqdm(total=budget.max_trials, unit="trial", desc=description, disable=not verbose, leave=True)
    with Parallel(n_jobs=n_jobs) as parallel:
        while True:
            reserved = budget.reserved_seconds(results)
            if not budget.may_start(len(results), expected_seconds(results), reserved):
                break
            n_round = min(round_size, budget.remaining_trials(len(results)))
            candidates = list(strategy.ask(n_round))
            if constraint is not None:
                candidates = _allowed(strategy, candidates, n_round, constraint)
            if not candidates:
                break  # the strategy has nothing left to try
            if len(candidates) > n_round:
                raise RuntimeError(
                    f"{type(strategy).__name__}.ask({n_round}) returned {len(candidates)} candidates; "
                    f"a strategy proposes at most the {n_round} trials it is asked for."
                )
            proposals = [as_proposal(candidate) for candidate in candidates]
            if storage is not None and any(p.keep_model or p.warm_start is not None for p in proposals):
                raise NotImplementedError(_CANNOT_RESUME.format(name=type(strategy).__name__))
            first = len(results)
            seeds = [trial_seed(base_seed, first + i) for i in range(len(proposals))]
            replayed = {
                i: _replayed(stored[first + i], proposal, first + i, seeds[i])
                for i, proposal in enumerate(proposals)
                if first + i < len(stored)
            }
            to_run = [i for i in range(len(proposals)) if i not in replayed]
            # The trials of a round share the cores (a round of one, such as a supernet epoch, takes them all).
            n_threads = max(1, cpu_count() // len(to_run)) if n_workers > 1 and to_run else None
            deadline = budget.trial_deadline(results)
            ran = parallel(
                delayed(_run_trial)(
                    evaluator if _comparable(proposals[i]) else evaluator_without_rule,
                    proposals[i],
                    data,
                    _fidelity_of(proposals[i], fidelity, resource),
                    seeds[i],
                    deadline,
                    n_threads,
                )
                for i in to_run
            )
            round_results = dict(zip(to_run, ran))
            for i, (candidate, proposal) in enumerate(zip(candidates, proposals)):
                if i in replayed:
                    result = replayed[i]
                else:
                    result = dataclasses.replace(
                        round_results[i], resource=float(proposal.resource), parent=proposal.parent
                    )
                    if storage is not None:
                        storage.add(first + i, dataclasses.replace(result, model=None))
                if objective is not None:
                    result = objective(result)
                strategy.tell(candidate, result)
                results.append(dataclasses.replace(result, model=None))
                if rule is not None and _comparable(proposal) and result.ok and not result.stopped_early and result.curve:
                    rule.observe(result.curve)
            scores = [r.score for r in results if r.ok]
            progress.set_postfix(best=f"{max(scores):.4f}" if scores else "-", refresh=False)
            progress.update(len(proposals))
    progress.close()
    return results


def _longest_trial_seconds(results):
    """The default ``expected_seconds``: a trial that cannot be stopped must not start unless the longest fits."""
    return max((r.train_seconds for r in results), default=0.0)


_CANNOT_RESUME = (
    "{name} keeps trained networks between its trials (a supernet, or parents whose weights children start from), "
    "which a storage does not hold, so its searches cannot resume: leave storage=None, or use a strategy that "
    "trains each trial from scratch."
)


def _replayed(result, proposal, number, seed):
    """The stored result of trial ``number``, checked against what the resumed strategy proposes for it."""
    if result.architecture != proposal.architecture or result.resource != float(proposal.resource) or (
        result.seed != seed
    ):
        raise RuntimeError(
            f"Stored trial {number} ran {result.architecture} at resource {result.resource} with seed {result.seed}, "
            f"but the resumed search proposes {proposal.architecture} at {float(proposal.resource)} with seed {seed}: "
            "the storage belongs to a search whose strategy or seed differ. Give this search a new file."
        )
    return result


def _allowed(strategy, candidates, n_round, constraint):
    """The candidates ``constraint`` allows, asking ``strategy`` again for refused ones (up to MAX_REFUSALS)."""
    allowed, refused = [], 0
    while candidates and refused < MAX_REFUSALS:
        for candidate in candidates:
            architecture = as_proposal(candidate).architecture
            reason = constraint(architecture)
            if reason is None:
                allowed.append(candidate)
                continue
            refused += 1
            strategy.tell(candidate, TrialResult(architecture, math.nan, "infeasible", error=reason, worker=""))
        if len(allowed) == n_round:
            break
        candidates = list(strategy.ask(n_round - len(allowed))) if refused < MAX_REFUSALS else []
    if not allowed and refused >= MAX_REFUSALS:
        warnings.warn(
            f"The search ended: its strategy proposed {refused} candidates for one round, all refused by the limits. "
            "Raise the limits, or search a space of smaller networks.",
            UserWarning,
        )
    return allowed


def _fidelity_of(proposal, fidelity, resource):
    """A trial's fidelity: the search's at the proposal's resource, with the proposal's epochs if it sets them."""
    at = fidelity_at(fidelity, proposal.resource, resource)
    return at if proposal.epochs is None else dataclasses.replace(at, max_epochs=proposal.epochs)


def _comparable(proposal):
    """Whether a trial's curve compares with others: full fidelity, trained from scratch."""
    return proposal.resource == 1 and proposal.warm_start is None
