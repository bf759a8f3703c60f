"""The search loop: budgets and deadlines on a fake clock, fidelities of multi-fidelity strategies, the trial-stopping rule between rounds, proposals that start from a parent.

run_search is driven with a fake evaluator (synthetic curves, no training)
to check what reaches the evaluator, the strategy and the rule; the
estimator tests train tiny networks to check the wiring end to end.
"""
import copy
import dataclasses
import math
import threading

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.datasets import make_classification

from fakes import FakeClock, TickingEvaluator
from skautoml import AutoNASClassifier
from skautoml.nas import MLPSpace, RandomSearch
from skautoml.nas.evaluate import CurveExtrapolation, MedianStopping
from skautoml.search import (
    Budget,
    Deadline,
    Fidelity,
    Hyperband,
    Proposal,
    RefitReserve,
    SuccessiveHalving,
    TrialResult,
    fidelity_at,
    run_search,
    trial_seed,
)

SPACE = MLPSpace(max_layers=2, widths=(8, 16, 32))


@pytest.fixture(scope="module")
def tiny():
    X, y = make_classification(n_samples=200, n_features=10, n_informative=5, n_classes=3, flip_y=0.05, random_state=0)
    return X, y


class FakeEvaluator:
    """Returns a synthetic curve per trial and records what each call saw.

    The curve's level comes from the architecture's width; a trial whose
    rule says stop is cut there, as StopTrialEarly would.
    """

    def __init__(self, stopping_rule=None):
        self.stopping_rule = stopping_rule
        self.calls = []  # shared by shallow copies
        self.lock = threading.Lock()

    def evaluate(self, architecture, X_train, y_train, X_valid, y_valid, fidelity, seed, deadline=None):
        level = 0.5 + 0.4 * sum(architecture.widths) / 64
        curve = []
        stopped = False
        for epoch in range(1, fidelity.max_epochs + 1):
            curve.append(level * (1 - 0.5 / epoch))
            if self.stopping_rule is not None and self.stopping_rule.should_stop(curve, fidelity.max_epochs):
                stopped = epoch < fidelity.max_epochs
                break
        with self.lock:
            self.calls.append(
                {
                    "fidelity": fidelity,
                    "rule": self.stopping_rule,
                    "n_observed": None if self.stopping_rule is None else self.stopping_rule.n_observed,
                }
            )
        return TrialResult(
            architecture,
            score=max(curve),
            status="ok",
            epochs=len(curve),
            best_epoch=len(curve),
            seed=seed,
            curve=tuple(curve),
            stopped_early=stopped,
        )


def search(strategy, evaluator, max_trials, max_epochs=9, data_fraction=1.0, resource="epochs", n_jobs=None):
    strategy.reset(SPACE, random_state=0)
    budget = Budget(max_trials=max_trials, max_epochs=max_epochs).start()
    data = (None, None, None, None)
    return run_search(
        strategy, evaluator, data, Fidelity(max_epochs, data_fraction), budget, 0, n_jobs=n_jobs, resource=resource
    )


# ------------------------------------------------------------ fidelities


@pytest.mark.parametrize(
    "resource, scales, expected",
    [
        (1.0, "both", Fidelity(9, 0.8)),
        (1 / 3, "epochs", Fidelity(3, 0.8)),  # 9 / 3 is 3 even in floating point
        (1 / 9, "epochs", Fidelity(1, 0.8)),
        (0.01, "epochs", Fidelity(1, 0.8)),  # at least one epoch
        (0.5, "epochs", Fidelity(5, 0.8)),  # rounded up
        (0.5, "data", Fidelity(9, 0.4)),
        (0.5, "both", Fidelity(5, 0.4)),
    ],
)
def test_a_resource_maps_to_epochs_data_or_both(resource, scales, expected):
    fidelity = fidelity_at(Fidelity(9, 0.8), resource, scales)
    assert fidelity.max_epochs == expected.max_epochs
    assert fidelity.data_fraction == pytest.approx(expected.data_fraction)


def test_bad_resources_raise_a_clear_error():
    with pytest.raises(ValueError, match="resource must be one of"):
        fidelity_at(Fidelity(9), 0.5, "width")
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        fidelity_at(Fidelity(9), 0.0)
    with pytest.raises(ValueError, match="resource must be one of"):
        search(RandomSearch(), FakeEvaluator(), 2, resource="width")


@pytest.mark.parametrize("scales", ["epochs", "data", "both"])
def test_multi_fidelity_trials_run_at_their_resource_and_count_in_max_trials(scales):
    evaluator = FakeEvaluator()
    strategy = SuccessiveHalving(eta=3, min_resource=1 / 9)
    results = search(strategy, evaluator, max_trials=14, data_fraction=0.9, resource=scales)
    assert len(results) == 14  # 9 + 3 + 1, and the first of the next bracket
    resources = [r.resource for r in results]
    assert resources == pytest.approx([1 / 9] * 9 + [1 / 3] * 3 + [1.0] + [1 / 9])
    for result, call in zip(results, evaluator.calls):
        assert call["fidelity"] == fidelity_at(Fidelity(9, 0.9), result.resource, scales)
    # The strategy was told with the resources it asked for.
    assert [r for _, r, _ in strategy.observations] == resources


def test_parallel_rounds_of_a_multi_fidelity_search_are_repeatable():
    def run():
        with parallel_backend("threading", n_jobs=3):
            return search(Hyperband(eta=3, min_resource=1 / 9), FakeEvaluator(), max_trials=22, n_jobs=3)

    first, again = run(), run()
    assert [(r.architecture, r.resource) for r in first] == [(r.architecture, r.resource) for r in again]
    # Rounds of 3 start the next bracket while a rung waits, so the order differs from the
    # sequential one, but every bracket still ends at full fidelity.
    assert sum(r.resource == 1 for r in first) >= 3
    assert sorted({round(r.resource, 4) for r in first}) == [round(1 / 9, 4), round(1 / 3, 4), 1.0]


def test_a_plain_strategy_runs_every_trial_at_full_fidelity():
    evaluator = FakeEvaluator()
    results = search(RandomSearch(), evaluator, max_trials=4, data_fraction=0.5, resource="both")
    assert [r.resource for r in results] == [1.0] * 4
    assert all(call["fidelity"] == Fidelity(9, 0.5) for call in evaluator.calls)


# ------------------------------------------------------ trial stopping


def test_the_rule_learns_between_rounds_from_full_trials_that_ran_to_the_end():
    rule = MedianStopping(grace_epochs=2, min_trials=2).reset()
    evaluator = FakeEvaluator(rule)
    results = search(RandomSearch(), evaluator, max_trials=10)
    assert any(r.stopped_early for r in results) and not all(r.stopped_early for r in results)
    finished = [r.curve for r in results if not r.stopped_early]
    assert rule.completed_curves == [tuple(c) for c in finished]
    # Sequentially every trial is a round: each saw the curves of all earlier finished trials.
    seen = [sum(not r.stopped_early for r in results[:i]) for i in range(len(results))]
    assert [call["n_observed"] for call in evaluator.calls] == seen


def test_parallel_rounds_see_only_the_curves_of_earlier_rounds():
    rule = MedianStopping(grace_epochs=2, min_trials=1).reset()
    evaluator = FakeEvaluator(rule)
    with parallel_backend("threading", n_jobs=2):
        results = search(RandomSearch(), evaluator, max_trials=6, n_jobs=2)
    n_observed = sorted(call["n_observed"] for call in evaluator.calls)
    finished_before = [sum(not r.stopped_early for r in results[: 2 * (i // 2)]) for i in range(6)]
    assert n_observed == sorted(finished_before)
    assert n_observed[:2] == [0, 0]  # the first round had nothing to compare with


def test_low_fidelity_trials_run_without_the_rule_and_do_not_feed_it():
    rule = MedianStopping(grace_epochs=1, min_trials=1).reset()
    evaluator = FakeEvaluator(rule)
    results = search(Hyperband(eta=3, min_resource=1 / 9), evaluator, max_trials=22)
    for result, call in zip(results, evaluator.calls):
        assert (call["rule"] is rule) == (result.resource == 1)
        assert call["rule"] is None or result.resource == 1
    full = [r for r in results if r.resource == 1 and not r.stopped_early]
    assert rule.completed_curves == [tuple(r.curve) for r in full]
    assert evaluator.stopping_rule is rule  # the search works on a copy of the evaluator, not on it


# ------------------------------------------------------------ estimator


def _replay_stop_epoch(curves_before, curve):
    rule = MedianStopping()  # the settings of trial_stopping='median'
    for finished in curves_before:
        rule.observe(finished)
    for t in range(1, len(curve) + 1):
        if rule.should_stop(curve[:t], max_epochs=6):
            return t
    return None


def test_median_stopping_end_to_end(tiny):
    X, y = tiny
    clf = AutoNASClassifier(
        search_space=SPACE,
        strategy="random",
        trial_stopping="median",
        max_trials=6,
        max_epochs=6,
        patience=None,
        batch_size=32,
        random_state=0,
    ).fit(X, y)
    results = clf.search_results_
    stopped = results["stopped_early"]
    assert stopped.dtype == bool and stopped.any() and not stopped[:3].any()  # min_trials=3
    assert (results["epochs"][stopped] < 6).all() and (results["epochs"][~stopped] == 6).all()
    assert [len(c) for c in results["curve"]] == list(results["epochs"])
    assert all(0 <= a <= 1 for curve in results["curve"] for a in curve)
    # Every decision is the one the rule makes from the curves of the earlier finished trials.
    curves = list(results["curve"])
    for i, curve in enumerate(curves):
        before = [c for c, s in zip(curves[:i], stopped[:i]) if not s]
        expected = len(curve) if stopped[i] else None
        assert _replay_stop_epoch(before, curve) == expected, i
    assert isinstance(clf.trial_stopping_, MedianStopping)
    assert clf.trial_stopping_.completed_curves == [c for c, s in zip(curves, stopped) if not s]
    assert "stopped_early" in clf.leaderboard()


def test_the_users_rule_is_copied_and_never_changed(tiny):
    X, y = tiny
    rule = CurveExtrapolation(min_trials=1)
    rule.observe([0.2, 0.3, 0.4, 0.5])
    before = (copy.deepcopy(rule.completed_curves), rule.get_params())
    clf = AutoNASClassifier(search_space=SPACE, trial_stopping=rule, max_trials=2, max_epochs=4, random_state=0)
    clf.fit(X, y)
    assert (rule.completed_curves, rule.get_params()) == before
    assert clf.trial_stopping_ is not rule and isinstance(clf.trial_stopping_, CurveExtrapolation)
    # reset() in fit: the copy forgot the user's curve and learned the search's.
    assert (0.2, 0.3, 0.4, 0.5) not in clf.trial_stopping_.completed_curves
    assert clf.get_params()["trial_stopping"] is rule


def test_without_a_rule_nothing_is_stopped(tiny):
    X, y = tiny
    clf = AutoNASClassifier(search_space=SPACE, max_trials=2, max_epochs=3, patience=None, random_state=0).fit(X, y)
    assert clf.trial_stopping_ is None
    assert not clf.search_results_["stopped_early"].any()
    assert list(clf.search_results_["resource"]) == [1.0, 1.0]


@pytest.mark.parametrize(
    "params, message",
    [
        ({"trial_stopping": "median-ish"}, "trial_stopping"),
        ({"trial_stopping": 3}, "trial_stopping"),
        ({"resource": "width"}, "resource"),
    ],
)
def test_bad_values_raise_a_clear_error(tiny, params, message):
    X, y = tiny
    with pytest.raises(ValueError, match=message):
        AutoNASClassifier(max_trials=1, **params).fit(X, y)


def test_a_best_trial_below_full_fidelity_is_refitted_at_full_fidelity(tiny):
    X, y = tiny
    # max_trials=3 ends inside the first rung of eta=2, R=4: every trial ran 1 epoch of 4.
    clf = AutoNASClassifier(
        search_space=SPACE,
        strategy=Hyperband(eta=2, min_resource=1 / 4),
        max_trials=3,
        max_epochs=4,
        patience=None,
        random_state=0,
    ).fit(X, y)
    assert list(clf.search_results_["resource"]) == [0.25] * 3
    assert list(clf.search_results_["epochs"]) == [1] * 3
    assert len(clf.best_estimator_.history) == 4


def _result(score, resource, status="ok"):
    return TrialResult(MLPSpace().sample(np.random.default_rng(0)), score=score, status=status, resource=resource)


def test_trials_rank_by_resource_then_score():
    results = [
        _result(0.99, 0.25),
        _result(0.80, 1.0),
        _result(math.nan, 1.0, "failed"),
        _result(0.85, 1.0),
        _result(0.90, 0.5),
        _result(0.85, 1.0),
        _result(math.nan, 0.25, "failed"),
    ]
    clf = AutoNASClassifier()
    clf._record(results)
    # Full fidelity first (ties share a rank, the earlier trial is best), then 0.5, then 0.25, failures last.
    assert list(clf.search_results_["rank"]) == [5, 3, 6, 1, 4, 1, 6]
    assert clf.best_index_ == 3 and clf.best_score_ == 0.85
    assert list(clf.search_results_["resource"]) == [0.25, 1.0, 1.0, 1.0, 0.5, 1.0, 0.25]


# ----------------------------------------------------------------------------- budgets on a fake clock


def timed_search(seconds, time_budget, reserve=None, max_trials=None, strategy=None):
    """A search whose trials take ``seconds`` on a fake clock; returns the results, the budget and the evaluator."""
    clock = FakeClock()
    evaluator = TickingEvaluator(FakeEvaluator(), clock, seconds)
    budget = Budget(max_trials=max_trials, time_budget=time_budget, clock=clock, refit_reserve=reserve).start()
    strategy = (strategy or RandomSearch()).reset(SPACE, random_state=0)
    results = run_search(strategy, evaluator, (None,) * 4, Fidelity(3), budget, base_seed=0)
    return results, budget, evaluator


def test_no_trial_starts_that_the_budget_would_not_hold():
    # 3 s trials under 10 s: after 3 trials, 9 s + 3 s exceed the budget.
    results, budget, _ = timed_search(3.0, time_budget=10)
    assert len(results) == 3 and budget.elapsed == 9.0
    # The longest trial so far is the expected length of the next one: after trials of
    # 1, 4 and 1 s, 6 s + 4 s still fit in 10 s, 7 s + 4 s do not.
    lengths = iter([1.0, 4.0, 1.0, 1.0, 1.0, 1.0])
    results, budget, _ = timed_search(lambda result: next(lengths), time_budget=10)
    assert [r.train_seconds for r in results] == [1.0, 4.0, 1.0, 1.0] and budget.elapsed == 7.0


def test_the_first_trial_always_starts_and_the_overshoot_is_one_trial():
    results, budget, _ = timed_search(25.0, time_budget=10)
    assert len(results) == 1 and budget.elapsed == 25.0
    # The refit may run until the budget's end plus the longest trial.
    assert budget.refit_deadline(results).at == budget.deadline.at + 25.0


def test_trials_get_the_budget_end_less_the_refit_reserve_as_deadline():
    # Before any result the reserve splits the budget 10 : 30 between refit and trial.
    reserve = RefitReserve(refit_batches=10, trial_batches=lambda resource: 30, refit_epochs=lambda result: 2)
    results, budget, evaluator = timed_search(6.0, time_budget=100, reserve=reserve, max_trials=3)
    start = budget.started_at
    first, later = evaluator.deadlines[0], evaluator.deadlines[1:]
    assert isinstance(first, Deadline) and first.at == pytest.approx(start + 100 - 25.0)
    # Then it repeats the best trial's 2 epochs (6 s for 3 epochs) on a third of the batches.
    assert [d.at for d in later] == pytest.approx([start + 100 - 2.0 * 10 / 30 * 2] * 2)


def test_the_refit_reserve_stops_the_search_early():
    reserve = RefitReserve(refit_batches=30, trial_batches=lambda resource: 10, refit_epochs=lambda result: 3)
    # 3 s trials of 3 epochs: the refit is 3 epochs of 3 s each, 9 s; 3 s + 9 s fit after 0, 3 s... up to 8 s.
    results, budget, _ = timed_search(3.0, time_budget=20, reserve=reserve)
    assert len(results) == 3 and budget.elapsed == 9.0
    assert budget.reserved_seconds(results) == 9.0


def test_no_time_budget_keeps_nothing_back():
    reserve = RefitReserve(refit_batches=30, trial_batches=lambda resource: 10, refit_epochs=lambda result: 3)
    results, budget, evaluator = timed_search(3.0, time_budget=None, reserve=reserve, max_trials=4)
    assert len(results) == 4 and budget.reserved_seconds(results) == 0.0
    assert evaluator.deadlines == [None] * 4 and budget.refit_deadline(results) is None


class ParentEvaluator(FakeEvaluator):
    """Records the warm starts it was handed and returns a model when asked to."""

    def evaluate(self, architecture, *args, warm_start=None, keep_model=False, **kwargs):
        result = super().evaluate(architecture, *args, **kwargs)
        self.calls[-1]["warm_start"] = warm_start
        return dataclasses.replace(result, model=("trained", architecture) if keep_model else None)


class ChildOfTheLast(RandomSearch):
    """Each trial after the first starts from the previous one, and keeps the models it is told."""

    def reset(self, space, random_state=None):
        self.models = []
        return super().reset(space, random_state)

    def ask(self, n=None):
        architectures = super().ask(n)
        if not self.models:
            return [Proposal(a, keep_model=True) for a in architectures]
        parent = len(self.models) - 1
        return [Proposal(a, parent=parent, warm_start=self.models[-1], keep_model=True) for a in architectures]

    def tell(self, candidate, result):
        super().tell(candidate, result)
        self.models.append(result.model)


def test_proposals_carry_a_parent_to_the_evaluator_and_its_model_back_to_the_strategy():
    evaluator = ParentEvaluator()
    strategy = ChildOfTheLast().reset(SPACE, random_state=0)
    results = run_search(strategy, evaluator, (None,) * 4, Fidelity(2), Budget(max_trials=3).start(), base_seed=0)
    assert [r.parent for r in results] == [None, 0, 1]
    assert [c["warm_start"] for c in evaluator.calls] == [None] + [("trained", r.architecture) for r in results[:2]]
    assert strategy.models == [("trained", r.architecture) for r in results]
    # The recorded results do not hold the models.
    assert all(r.model is None for r in results)


class Exhausted(RandomSearch):
    def ask(self, n=None):
        return super().ask(n) if len(self.history) < 2 else []


def test_a_strategy_with_nothing_left_ends_the_search():
    results, _, _ = timed_search(1.0, time_budget=None, max_trials=10, strategy=Exhausted())
    assert len(results) == 2


class ShortRounds(RandomSearch):
    """Asked for 3, proposes 2 in every round; records the sizes asked for."""

    def reset(self, space, random_state=None):
        self.asked = []
        return super().reset(space, random_state)

    def ask(self, n=None):
        self.asked.append(n)
        return super().ask(min(n, 2))


def test_a_short_round_runs_what_the_strategy_proposed_with_the_next_seeds():
    with parallel_backend("threading", n_jobs=3):
        strategy = ShortRounds().reset(SPACE, random_state=0)
        budget = Budget(max_trials=5).start()
        results = run_search(strategy, FakeEvaluator(), (None,) * 4, Fidelity(2), budget, base_seed=7, n_jobs=3)
    # Rounds of 2, 2 and the last trial: the limit is counted in trials run, seeds by trial index.
    assert strategy.asked == [3, 3, 1] and len(results) == 5
    assert [r.seed for r in results] == [trial_seed(7, i) for i in range(5)]


class Greedy(RandomSearch):
    def ask(self, n=None):
        return super().ask(n + 1)


def test_a_strategy_that_proposes_more_than_asked_is_stopped_with_a_clear_error():
    strategy = Greedy().reset(SPACE, random_state=0)
    with pytest.raises(RuntimeError, match=r"ask\(1\) returned 2 candidates"):
        run_search(strategy, FakeEvaluator(), (None,) * 4, Fidelity(2), Budget(max_trials=3).start(), base_seed=0)


def test_a_strategy_may_propose_through_a_generator():
    class Lazy(RandomSearch):
        def ask(self, n=None):
            return (architecture for architecture in super().ask(n))

    strategy = Lazy().reset(SPACE, random_state=0)
    results = run_search(strategy, FakeEvaluator(), (None,) * 4, Fidelity(2), Budget(max_trials=3).start(), base_seed=0)
    assert len(results) == 3 and len(strategy.history) == 3
