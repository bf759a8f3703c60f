"""Successive halving, Hyperband and BOHB: the strategy contract, brackets, promotions, end to end.

The contract suite of test_strategies runs here on the multi-fidelity
strategies: their ``ask`` returns :class:`~skautoml.search.Proposal` values,
each an architecture of the space and the resource to evaluate it at, and
``tell`` takes the proposal back, as the search loop does.
"""
import math
import zlib
from collections import Counter

import numpy as np
import pytest
from sklearn.datasets import load_digits

import test_strategies as contract
from test_strategies import (  # noqa: F401 - the contract tests, run on the fixtures below
    distance_objective,
    failed,
    ok,
    test_all_trials_failing_does_not_break_later_asks,
    test_an_estimator_holding_a_strategy_can_be_cloned,
    test_ask_before_reset_raises_a_clear_error,
    test_ask_needs_a_positive_n,
    test_ask_returns_architectures_of_the_space,
    test_different_seeds_give_different_sequences,
    test_failed_results_do_not_break_later_asks,
    test_get_params_round_trips,
    test_is_a_strategy,
    test_random_state_may_be_none_or_a_random_state,
    test_reset_starts_a_fresh_search,
    test_same_seed_and_tells_give_the_same_sequence,
)
from skautoml import AutoNASClassifier
from skautoml.nas import CNNSpace, MLPSpace
from skautoml.search.strategy._hyperband import (
    BOHB,
    Hyperband,
    Proposal,
    SuccessiveHalving,
    hyperband_brackets,
)

STRATEGIES = {
    "successive_halving": lambda: SuccessiveHalving(eta=2, min_resource=1 / 4),
    "hyperband": lambda: Hyperband(eta=3, min_resource=1 / 9),
    # A model after 3 results at a resource, so the contract's short drives reach it.
    "bohb": lambda: BOHB(eta=2, min_resource=1 / 4, n_min_points=3, n_candidates=16),
}


@pytest.fixture(params=list(STRATEGIES), ids=list(STRATEGIES))
def make_strategy(request):
    return STRATEGIES[request.param]


@pytest.fixture(params=list(contract.SPACES.values()), ids=list(contract.SPACES))
def space(request):
    return request.param


def noisy(objective, space, noise=0.3):
    """``objective`` plus noise that shrinks to none at full resource, fixed per (architecture, resource).

    The score function takes a :class:`Proposal`.
    """

    def score(proposal):
        architecture, resource = proposal.architecture, proposal.resource
        key = zlib.crc32(np.asarray(space.encode(architecture), dtype=float).tobytes() + repr(resource).encode())
        return objective(architecture) + np.random.default_rng(key).normal(0, noise * (1 - resource))

    return score


def drive_proposals(strategy, score, n_rounds, batch=1):
    """Ask ``batch`` proposals per round and tell each with its score; returns the proposals."""
    proposals = []
    for _ in range(n_rounds):
        for proposal in strategy.ask(batch):
            proposals.append(proposal)
            strategy.tell(proposal, ok(proposal.architecture, score(proposal)))
    return proposals


# ------------------------------------------------------------- proposals


def test_proposals_carry_a_resource_and_a_plain_tell_finds_its_proposal(make_strategy, space):
    score = noisy(distance_objective(space), space)
    strategy = make_strategy().reset(space, random_state=0)
    assert strategy.multi_fidelity is True
    single = strategy.ask()
    assert isinstance(single, Proposal) and space.contains(single.architecture)
    strategy.tell(single, ok(single.architecture, score(single)))
    batch = strategy.ask(2)
    assert isinstance(batch, list) and all(isinstance(p, Proposal) for p in batch)
    for proposal in batch:
        strategy.tell(proposal, ok(proposal.architecture, score(proposal)))
    proposals = drive_proposals(strategy, score, 12, batch=2)
    assert all(space.contains(p.architecture) and 0 < p.resource <= 1 for p in proposals)
    assert 1.0 in {p.resource for p in proposals} and min(p.resource for p in proposals) < 1
    assert all(p.parent is None and not p.keep_model for p in proposals)  # every trial trains from scratch
    # Telling the bare architecture is telling its oldest unanswered proposal.
    a = make_strategy().reset(space, random_state=5)
    b = make_strategy().reset(space, random_state=5)
    for _ in range(6):
        proposals = a.ask(2)
        assert b.ask(2) == proposals
        for proposal in proposals:
            result = ok(proposal.architecture, score(proposal))
            a.tell(proposal, result)
            b.tell(proposal.architecture, result)
    assert a.observations == b.observations
    assert len({r for _, r, _ in a.observations}) > 1  # promotions happened: resources differ


def test_same_seed_and_tells_give_the_same_proposals(make_strategy):
    space = MLPSpace()
    score = noisy(distance_objective(space), space)
    first = drive_proposals(make_strategy().reset(space, random_state=7), score, 15, batch=3)
    again = drive_proposals(make_strategy().reset(space, random_state=7), score, 15, batch=3)
    assert first == again


def test_an_architecture_told_without_being_asked_starts_nothing():
    strategy = SuccessiveHalving(eta=2, min_resource=1 / 2).reset(MLPSpace(), random_state=0)
    stranger = MLPSpace().sample(np.random.default_rng(99))
    strategy.tell(stranger, ok(stranger, 0.9))
    assert strategy.observations == [(stranger, 1.0, 0.9)]
    assert [p.resource for p in strategy.ask(2)] == [0.5, 0.5]


@pytest.mark.parametrize(
    "strategy, message",
    [
        (Hyperband(eta=1), "integer eta >= 2"),
        (Hyperband(eta=2.5), "integer eta >= 2"),
        (Hyperband(min_resource=0), "0 < min_resource <= 1"),
        (Hyperband(min_resource=1.5), "0 < min_resource <= 1"),
        (SuccessiveHalving(n_configs=0), "n_configs must be a positive integer"),
        (BOHB(n_min_points=1), "n_min_points must be an integer >= 2"),
        (BOHB(top_fraction=1.0), "top_fraction must be in"),
        (BOHB(random_fraction=-0.1), "random_fraction must be in"),
        (BOHB(n_candidates=0), "n_candidates must be a positive integer"),
    ],
)
def test_bad_settings_raise_a_clear_error_at_reset(strategy, message):
    with pytest.raises(ValueError, match=message):
        strategy.reset(MLPSpace(), random_state=0)


# ----------------------------------------------------- successive halving


def test_successive_halving_promotes_the_best_third_with_three_times_the_resource():
    space = MLPSpace()
    objective = distance_objective(space)
    strategy = SuccessiveHalving(eta=3, min_resource=1 / 9).reset(space, random_state=0)
    first = strategy.ask(9)
    assert [p.resource for p in first] == [1 / 9] * 9
    assert len({p.architecture for p in first}) == 9
    scores = {p.architecture: objective(p.architecture) for p in first}
    for proposal in first:
        strategy.tell(proposal, ok(proposal.architecture, scores[proposal.architecture]))
    second = strategy.ask(3)
    best_three = sorted(scores, key=scores.get, reverse=True)[:3]
    assert [p.architecture for p in second] == best_three
    assert all(p.resource == pytest.approx(1 / 3) for p in second)
    # At rung 2 the order is reversed: the promotion follows the new scores, not the old ones.
    for rank, proposal in enumerate(second):
        strategy.tell(proposal, ok(proposal.architecture, float(rank)))
    top = strategy.ask()
    assert top == Proposal(best_three[2], 1.0)
    strategy.tell(top, ok(top.architecture, 0.5))
    # The bracket is done: the next one starts 9 new architectures at the lowest resource.
    nxt = strategy.ask(9)
    assert all(p.resource == 1 / 9 for p in nxt)
    assert not {p.architecture for p in nxt} & set(scores)


def test_a_rung_waiting_for_results_lets_parallel_asks_start_the_next_bracket():
    strategy = SuccessiveHalving(eta=2, min_resource=1 / 2, n_configs=4).reset(MLPSpace(), random_state=0)
    batch = strategy.ask(6)  # one bracket has 4 to give; 2 come from the next one
    assert [p.resource for p in batch] == [0.5] * 6
    for proposal in batch[:4]:
        strategy.tell(proposal, ok(proposal.architecture, 0.1))
    # The first bracket's promotions come before the next bracket's remaining new ones.
    assert [p.resource for p in strategy.ask(3)] == [1.0, 1.0, 0.5]


def test_failed_trials_rank_last_and_are_never_promoted():
    space = MLPSpace()
    strategy = SuccessiveHalving(eta=2, min_resource=1 / 4, n_configs=8).reset(space, random_state=1)
    first = strategy.ask(8)
    for i, proposal in enumerate(first):
        # Six failures, one of them with an infinite score; two ok trials.
        result = ok(proposal.architecture, 0.2 + i / 100) if i in (1, 6) else failed(proposal.architecture)
        if i == 3:
            result = ok(proposal.architecture, math.inf)
        strategy.tell(proposal, result)
    promoted = strategy.ask(2)
    assert [p.architecture for p in promoted] == [first[6].architecture, first[1].architecture]
    assert all(p.resource == 0.5 for p in promoted)
    # Only 2 of 4 planned reached rung 1; once they are in, the best goes to full resource.
    for proposal, score in zip(promoted, (0.3, math.nan)):
        strategy.tell(proposal, ok(proposal.architecture, score))
    assert strategy.ask() == Proposal(first[6].architecture, 1.0)


def test_a_bracket_whose_trials_all_fail_ends_and_the_next_starts():
    strategy = SuccessiveHalving(eta=2, min_resource=1 / 2, n_configs=2).reset(MLPSpace(), random_state=0)
    for proposal in strategy.ask(2):
        strategy.tell(proposal, failed(proposal.architecture))
    assert [p.resource for p in strategy.ask(2)] == [0.5, 0.5]


# ------------------------------------------------------------------ hyperband


def test_hyperband_brackets_are_those_of_the_paper():
    # Li et al. (2017), Table 1: R = 81, eta = 3; (n_i, r_i) per rung, r_i in units of R / 81.
    paper = [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    brackets = hyperband_brackets(eta=3, min_resource=1 / 81)
    assert [[(n, round(r * 81, 6)) for n, r in rungs] for rungs in brackets] == paper
    # R = 10, no power of eta = 2: s_max = floor(log_2(10)) = 3, n = ceil(4 / (s + 1) * 2**s).
    assert [rungs[0] for rungs in hyperband_brackets(2, 0.1)] == [(8, 1 / 8), (6, 1 / 4), (4, 1 / 2), (4, 1.0)]
    assert hyperband_brackets(3, 1.0) == [((1, 1.0),)]


def test_hyperband_runs_its_brackets_in_order_and_repeats_them():
    space = MLPSpace()
    score = noisy(distance_objective(space), space)
    strategy = Hyperband(eta=3, min_resource=1 / 9).reset(space, random_state=0)
    resources = [round(p.resource, 4) for p in drive_proposals(strategy, score, 44)]
    third, one = round(1 / 3, 4), 1.0
    iteration = [round(1 / 9, 4)] * 9 + [third] * 3 + [one] + [third] * 5 + [one] + [one] * 3
    assert len(iteration) == 22
    assert resources == iteration * 2
    full = Counter(resources)[one]
    assert full == 10


# ----------------------------------------------------------------------- bohb


def _best_full_fidelity(strategy, space, seed, score, objective, n_evaluations):
    strategy.reset(space, random_state=seed)
    best = -math.inf
    for _ in range(n_evaluations):
        proposal = strategy.ask()
        if proposal.resource == 1:
            best = max(best, objective(proposal.architecture))
        strategy.tell(proposal, ok(proposal.architecture, score(proposal)))
    return best


def test_bohb_model_sampling_beats_random_sampling_in_hyperband():
    space = MLPSpace()
    objective = distance_objective(space)
    score = noisy(objective, space)
    seeds = range(8)
    n = 66  # three Hyperband iterations
    hyperband = [_best_full_fidelity(Hyperband(), space, s, score, objective, n) for s in seeds]
    bohb = [_best_full_fidelity(BOHB(), space, s, score, objective, n) for s in seeds]
    assert np.mean(bohb) > np.mean(hyperband) + 0.03, (bohb, hyperband)


def test_bohb_models_the_largest_resource_with_enough_results():
    space = MLPSpace()
    score = noisy(distance_objective(space), space)
    strategy = BOHB(eta=3, min_resource=1 / 9, n_min_points=5, random_fraction=0.0).reset(space, random_state=0)
    drive_proposals(strategy, score, 5)
    assert strategy.n_model_proposals == 0  # random until 5 results at one resource
    drive_proposals(strategy, score, 4)  # the rest of the first rung comes from the model
    assert strategy.n_model_proposals == 4
    assert strategy._model()[0] == 1 / 9
    drive_proposals(strategy, score, 6)  # 3 at 1/3, 1 at full, 2 new ones at 1/3: 5 results at 1/3
    resource, good = strategy._model()[:2]
    assert resource == pytest.approx(1 / 3)
    at_third = {a: s for a, r, s in strategy.observations if r == resource}
    assert len(at_third) == 5 and good == [max(at_third, key=at_third.get)]  # top 15 %: one of five


def test_bohb_with_random_fraction_one_never_uses_the_model():
    space = MLPSpace()
    score = noisy(distance_objective(space), space)
    strategy = BOHB(min_resource=1 / 3, n_min_points=2, random_fraction=1.0).reset(space, random_state=0)
    drive_proposals(strategy, score, 20)
    assert strategy.n_model_proposals == 0


# ----------------------------------------------------------------- end to end

SMALL_CNN = CNNSpace(min_layers=1, max_layers=2, channels=(8, 16), stem_channels=(8,))


def test_hyperband_search_end_to_end_ranks_full_fidelity_first():
    digits = load_digits()
    X, y = digits.images[:300], digits.target[:300]
    clf = AutoNASClassifier(
        search_space=SMALL_CNN,
        strategy=Hyperband(eta=2, min_resource=1 / 4),
        max_trials=12,
        max_epochs=4,
        patience=None,
        batch_size=16,
        random_state=0,
    ).fit(X, y)
    results = clf.search_results_
    assert clf.n_trials_ == 12
    # Brackets of eta=2, R=4: 4 at 1/4, 2 at 1/2, 1 at 1; then 3 at 1/2, 1 at 1; then 1 of 3 at 1.
    assert list(results["resource"]) == [0.25] * 4 + [0.5] * 2 + [1.0] + [0.5] * 3 + [1.0, 1.0]
    assert list(results["epochs"]) == [1] * 4 + [2] * 2 + [4] + [2] * 3 + [4, 4]
    assert all(len(curve) == epochs for curve, epochs in zip(results["curve"], results["epochs"]))
    full = results["resource"] == 1
    assert results["resource"][clf.best_index_] == 1.0
    assert clf.best_score_ == np.nanmax(results["score"][full])
    assert (results["rank"][full] < results["rank"][~full].min()).all()
    # The refit trains the winner at full fidelity, up to its best epoch.
    assert len(clf.best_estimator_.history) == results["best_epoch"][clf.best_index_]
    assert clf.score(X, y) > 0.4  # 10 classes
    assert "trials at full fidelity" in clf.summary()
