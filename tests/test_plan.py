"""Budget-aware defaults: the plan is a function of the data shape, the sample count, the budget and step times."""

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skautoml import AutoNASClassifier
from skautoml.nas import (
    CellSpace,
    CNNSpace,
    MLPSpace,
    SuccessiveHalving,
    default_image_space,
    known_good_architecture,
    plan_search,
    stem_stride_for,
)
from skautoml.nas._plan import (
    FINAL_SHARE, MIN_ARCHITECTURES, MIN_DATA_FRACTION, NO_SIGNAL_STANDARD_ERRORS, STEP_SAMPLES, TRIAL_OVERHEAD,
)

from fakes import FakeClock, Tick


def plan(step, n_train=1000, n_samples=1250, time_budget=180, max_epochs=30, **kwargs):
    """The plan when a trial's step (the measured pass times the overhead) takes ``step`` seconds."""
    measured = step / TRIAL_OVERHEAD
    return plan_search(CNNSpace(), n_train, n_samples, time_budget, max_epochs, 64, lambda a: measured, **kwargs)


def test_without_a_time_budget_evolution_runs_full_trials():
    result = plan(step=10.0, time_budget=None)
    assert (result.strategy, result.max_epochs, result.data_fraction) == ("evolution", 30, 1.0)
    assert result.final_epochs is None


def test_a_budget_that_holds_enough_full_trials_keeps_full_fidelity():
    # 16 batches of 1 ms: 16 ms an epoch, 0.48 s a trial; 180 s hold far more than 2 x 20 of them.
    result = plan(step=1e-3)
    assert (result.strategy, result.max_epochs, result.data_fraction) == ("evolution", 30, 1.0)
    assert result.trial_seconds == pytest.approx(30 * 16 * 1e-3)


def test_a_tight_budget_halves_27_architectures_over_epochs():
    # 0.8 s an epoch of 16 batches, 1 s a refit epoch of 20: 24 s a full trial, about 6 in 180 s.
    result = plan(step=0.05)
    strategy = result.strategy
    assert isinstance(strategy, SuccessiveHalving)
    assert strategy.n_configs >= MIN_ARCHITECTURES and strategy.eta == 3
    assert strategy.initial_architectures == (known_good_architecture(CNNSpace()),)
    assert strategy.promote_initial
    # The refit trains for the last half of the budget; a bracket costs nine full trials and the
    # baseline's runs at a third and at all of the epochs, so its full fidelity is the epochs that
    # let 9 + 4/3 trials fit the first 90 s.
    assert FINAL_SHARE * 180 == 90
    assert (result.final_epochs, result.final_seconds) == (None, 90)
    assert result.max_epochs == int(90 / ((9 + 4 / 3) * 0.8)) == 10
    assert result.data_fraction == 1.0


def test_full_fidelity_needs_a_margin_over_the_minimum_of_architectures():
    # 0.2 s trials of 30 epochs and a 0.25 s refit: the budget holds n_full = (T - 0.25) / 0.2 trials.
    step = 0.2 / (30 * 16)
    assert plan(step, time_budget=0.25 + 0.2 * 39.9).strategy != "evolution"
    assert plan(step, time_budget=0.25 + 0.2 * 40.1).strategy == "evolution"


def test_more_samples_or_slower_steps_mean_fewer_epochs_and_a_longer_budget_more():
    base = plan(step=0.05).max_epochs
    assert plan(step=0.05, n_train=2000, n_samples=2500).max_epochs < base
    assert plan(step=0.1).max_epochs < base
    assert plan(step=0.05, time_budget=360).max_epochs > base


def test_the_epochs_never_exceed_max_epochs():
    assert plan(step=0.02, max_epochs=10).max_epochs == 10


def test_when_nine_epochs_do_not_fit_trials_train_on_a_share_of_the_data():
    result = plan(step=0.5)  # 8 s an epoch: a bracket of 9 epochs would take 648 s
    assert result.max_epochs == 9
    assert result.data_fraction == pytest.approx(90 / (9 * (9 + 4 / 3) * 8.0))
    assert plan(step=50.0).data_fraction == MIN_DATA_FRACTION


@pytest.mark.parametrize("slow", ["baseline", "sample"])
def test_the_rungs_above_the_lowest_are_priced_at_the_slowest_step_measured(slow):
    first = known_good_architecture(CNNSpace())
    timed = []

    def steps(architecture):
        timed.append(architecture)
        slowest = architecture == first if slow == "baseline" else len(timed) == 4
        return 0.1 if slowest else 0.05

    result = plan_search(CNNSpace(), 1000, 1250, 180, 30, 64, steps)
    mean = (0.1 + STEP_SAMPLES * 0.05) / (1 + STEP_SAMPLES)
    # 16 batches an epoch: the lowest rung's 3 full trials at the mean, the 6 above and the baseline's 4/3 at 0.1 s.
    bracket = 3 * 16 * TRIAL_OVERHEAD * mean + (6 + 4 / 3) * 16 * TRIAL_OVERHEAD * 0.1
    assert result.max_epochs == 9
    assert result.data_fraction == pytest.approx(90 / (9 * bracket))


def test_the_user_final_epochs_and_data_fraction_are_kept():
    result = plan(step=0.05, final_epochs=5, data_fraction=0.5)
    assert (result.final_epochs, result.final_seconds) == (5, None)
    assert result.data_fraction == 0.5
    # 8 batches of 0.05 s an epoch; the search has 180 s less the refit's 5 epochs of 1 s.
    assert result.max_epochs == min(30, int((180 - 5 * 1.0) / ((9 + 4 / 3) * 0.4))) == 30


def test_step_times_of_the_known_good_architecture_and_samples_are_measured():
    timed = []
    plan_search(CNNSpace(), 1000, 1250, 180, 30, 64, lambda a: timed.append(a) or 0.05, random_state=3)
    assert timed[0] == known_good_architecture(CNNSpace())
    assert len(timed) == 1 + STEP_SAMPLES and all(CNNSpace().contains(a) for a in timed)


@pytest.mark.parametrize(
    "shape, stride", [((30,), 1), ((1, 8, 8), 1), ((1, 15, 15), 1), ((1, 16, 16), 2), ((1, 28, 28), 2), ((3, 32, 32), 2)]
)
def test_images_from_16_pixels_get_a_downsampling_stem(shape, stride):
    assert stem_stride_for(shape) == stride


@pytest.mark.parametrize(
    "space",
    [
        CNNSpace(),
        CNNSpace(max_layers=2, operations=("sepconv3x3", "avgpool"), channels=(8,)),
        CNNSpace(min_layers=6, max_layers=7),
        MLPSpace(),
        MLPSpace(min_layers=3, widths=(16,), activations=("tanh",), dropouts=(0.0,), batch_norm=(False,)),
    ],
)
def test_the_known_good_architecture_is_in_its_space(space):
    assert space.contains(known_good_architecture(space))


@pytest.mark.parametrize("shape, layers, widest, stride", [((1, 8, 8), 5, 64, 1), ((3, 32, 32), 7, 128, 2)])
def test_the_default_image_space_holds_two_convs_a_stage_from_16_pixels(shape, layers, widest, stride):
    space = default_image_space(shape)
    first = known_good_architecture(space)
    assert (space.max_layers, max(space.channels), space.stem_stride) == (layers, widest, stride)
    assert len(first.layers) == layers and first.layers[-1].channels == widest and space.contains(first)
    X = np.zeros((40, *shape))
    clf = AutoNASClassifier(max_trials=1, max_epochs=1, refit=False).fit(X, np.arange(40) % 2)
    assert vars(clf.search_space_) == vars(space)


def test_spaces_it_knows_nothing_about_have_no_known_good_architecture():
    assert known_good_architecture(CellSpace()) is None
    assert known_good_architecture(CNNSpace(operations=("maxpool", "identity"))) is None


def test_successive_halving_starts_with_the_initial_architectures():
    space = CNNSpace()
    first = known_good_architecture(space)
    strategy = SuccessiveHalving(n_configs=9, initial_architectures=(first,)).reset(space, random_state=0)
    proposals = strategy.ask(3)
    assert proposals[0].architecture == first
    assert first not in [p.architecture for p in proposals[1:]]


def run_halving(strategy, scores):
    """The proposals of the first bracket, asked and told one at a time, scored by ``scores(architecture, resource)``."""
    proposals = []
    while len(proposals) < 200:
        proposal = strategy.ask(1)[0]
        proposals.append(proposal)
        strategy.tell(proposal, SimpleNamespace(score=scores(proposal.architecture, proposal.resource)))
        if strategy._n_brackets > 1:
            return proposals[:-1]  # the first bracket
    raise AssertionError("the first bracket never ended")


@pytest.mark.parametrize("baseline_score", [0.1, float("nan")])
def test_promoted_initial_architectures_go_up_every_rung_unless_they_fail(baseline_score):
    space = CNNSpace()
    first = known_good_architecture(space)
    strategy = SuccessiveHalving(n_configs=27, initial_architectures=(first,), promote_initial=True)
    strategy.reset(space, random_state=0)
    # The baseline scores worst (or fails) at every rung; the others by a hash of their name.
    scores = lambda a, r: baseline_score if a == first else 0.2 + hash(repr(a)) % 1000 / 2000  # noqa: E731
    proposals = run_halving(strategy, scores)
    runs_of_first = [p.resource for p in proposals if p.architecture == first]
    per_rung = {r: sum(p.resource == r for p in proposals) for r in (1 / 9, 1 / 3, 1.0)}
    if baseline_score == baseline_score:
        assert runs_of_first == [pytest.approx(1 / 9), pytest.approx(1 / 3), 1.0]
        assert list(per_rung.values()) == [27, 9 + 1, 3 + 1]
        # It runs first in each rung above the lowest, so a search cut short has it at the highest rung reached.
        for resource in (1 / 3, 1.0):
            assert next(p for p in proposals if p.resource == pytest.approx(resource)).architecture == first
    else:
        assert runs_of_first == [pytest.approx(1 / 9)]
        assert list(per_rung.values()) == [27, 9, 3]
    # The best of each rung go up all the same.
    lowest = [p for p in proposals if p.resource == pytest.approx(1 / 9) and p.architecture != first]
    best = sorted(lowest, key=lambda p: -scores(p.architecture, 0))[:9]
    promoted = {p.architecture for p in proposals if p.resource == pytest.approx(1 / 3)}
    assert {p.architecture for p in best} <= promoted


def test_without_promote_initial_the_initial_architectures_compete_by_score():
    space = CNNSpace()
    first = known_good_architecture(space)
    strategy = SuccessiveHalving(n_configs=27, initial_architectures=(first,)).reset(space, random_state=0)
    proposals = run_halving(strategy, lambda a, r: 0.1 if a == first else 0.5)
    assert [p.resource for p in proposals if p.architecture == first] == [pytest.approx(1 / 9)]


def test_an_initial_architecture_outside_the_space_is_refused():
    with pytest.raises(ValueError, match="initial architecture .* is not in CNNSpace"):
        SuccessiveHalving(initial_architectures=("conv",)).reset(CNNSpace(), random_state=0)


@pytest.mark.parametrize(
    "scores, ends",
    [
        ([0.10] * 8 + [0.14], True),  # all at or below 0.142
        ([0.10] * 8 + [0.15], False),
        ([0.10] * 8 + [float("nan")], True),  # a failure says nothing about learning
        ([float("nan")] * 9, False),  # nor do failures alone
    ],
)
def test_a_rung_with_no_score_above_the_signal_threshold_ends_the_search(scores, ends):
    strategy = SuccessiveHalving(n_configs=9, signal_threshold=0.142).reset(CNNSpace(), random_state=0)
    for proposal, score in zip(strategy.ask(9), scores):
        strategy.tell(proposal, SimpleNamespace(score=score))
    if ends:
        assert strategy.no_signal_ == (9, pytest.approx(1 / 9))
        assert strategy.ask(3) == [] and strategy.ask() is None
    else:
        assert strategy.no_signal_ is None
        assert len(strategy.ask(3)) == 3


def test_without_a_signal_threshold_a_rung_at_chance_goes_on():
    strategy = SuccessiveHalving(n_configs=9).reset(CNNSpace(), random_state=0)
    for proposal in strategy.ask(9):
        strategy.tell(proposal, SimpleNamespace(score=0.1))
    assert strategy.no_signal_ is None and len(strategy.ask(3)) == 3


@pytest.mark.parametrize("threshold", [float("nan"), "0.1", True])
def test_a_bad_signal_threshold_is_refused(threshold):
    with pytest.raises(ValueError, match="signal_threshold must be a finite score or None"):
        SuccessiveHalving(signal_threshold=threshold).reset(CNNSpace(), random_state=0)


def test_the_plan_passes_its_signal_threshold_to_successive_halving():
    result = plan(step=0.05, chance=(0.1, 0.014))
    assert result.strategy.signal_threshold == pytest.approx(0.1 + NO_SIGNAL_STANDARD_ERRORS * 0.014) == 0.142
    assert "ending after any rung whose scores are all 0.142 or less" in result.reason
    assert plan(step=0.05).strategy.signal_threshold is None


@pytest.fixture
def digits16():
    X, y = load_digits(return_X_y=True)
    X = np.kron(X.reshape(-1, 8, 8), np.ones((2, 2)))[:300]  # 16x16 images
    return X, y[:300]


def test_the_estimator_plans_from_measured_step_times(digits16, monkeypatch):
    import skautoml._estimators as estimators

    monkeypatch.setattr(estimators, "_step_seconds", lambda space, architecture, *args: 0.2 / TRIAL_OVERHEAD)
    X, y = digits16
    clf = AutoNASClassifier(time_budget=40, max_trials=2, max_epochs=20, random_state=0, refit=False).fit(X, y)
    assert clf.search_space_.stem_stride == 2
    # 240 training images: 4 batches of 0.2 s an epoch (16 s a full trial). Under 40 s the refit
    # has the last 20 s, and a bracket of 9 epochs trains on the share that fits the first 20 s.
    plan = clf.plan_
    assert isinstance(plan.strategy, SuccessiveHalving)
    assert (plan.max_epochs, plan.final_epochs) == (9, None)
    assert plan.final_seconds == pytest.approx(20, rel=1e-3)
    assert plan.data_fraction == pytest.approx(20 / (9 * (9 + 4 / 3) * 0.8), rel=1e-3)
    results = clf.search_results_
    assert results["architecture"][0] == known_good_architecture(clf.search_space_)
    assert list(results["epochs"]) == [1, 1]
    assert "successive halving" in clf.summary()


def test_a_search_whose_first_rung_scores_at_chance_ends_there(monkeypatch):
    import dataclasses
    import functools

    import skautoml._estimators as estimators

    # Time stands still, so only the rule can end the search before max_trials; every trial scores chance.
    monkeypatch.setattr(estimators, "_step_seconds", lambda space, architecture, *args: 0.2 / TRIAL_OVERHEAD)
    monkeypatch.setattr(estimators, "Budget", functools.partial(estimators.Budget, clock=FakeClock()))
    real = estimators.Evaluator.evaluate
    monkeypatch.setattr(
        estimators.Evaluator, "evaluate", lambda self, *a, **k: dataclasses.replace(real(self, *a, **k), score=0.1)
    )
    X, y = load_digits(return_X_y=True)
    clf = AutoNASClassifier(time_budget=40, max_trials=60, max_epochs=9, refit=False, random_state=0)
    clf.fit(X[:300], y[:300])
    # 60 stratified validation images of 10 classes: chance (the most frequent class's share) is 6 or 7 of 60,
    # and the threshold 3 binomial standard errors above it.
    thresholds = [c + NO_SIGNAL_STANDARD_ERRORS * np.sqrt(c * (1 - c) / 60) for c in (6 / 60, 7 / 60)]
    assert any(clf.plan_.strategy.signal_threshold == pytest.approx(t) for t in thresholds)
    assert clf.n_trials_ == 27 and np.allclose(clf.search_results_["resource"], 1 / 9)
    assert clf.search_ended_.startswith("none of the 27 trials of a rung at resource 0.111 scored a validation")
    assert f"Search ended early: {clf.search_ended_}." in clf.summary()


def test_a_planned_refit_trains_the_epochs_the_time_left_holds(digits16, monkeypatch):
    import functools

    import skautoml._estimators as estimators

    # Steps of 0.02 s; the clock stands still through the search, so the whole 3 s budget is left for the refit,
    # whose epochs then take 0.125 s each.
    clock = FakeClock(100.0)
    monkeypatch.setattr(estimators, "_step_seconds", lambda space, architecture, *args: 0.02)
    monkeypatch.setattr(estimators, "Budget", functools.partial(estimators.Budget, clock=clock))
    fits = []
    real = estimators.Evaluator.fit_final

    def fit_final(self, *args, **kwargs):
        fits.append(kwargs)
        return real(self, *args, **{**kwargs, "callbacks": [("tick", Tick(clock, 0.125)), *kwargs["callbacks"]]})

    monkeypatch.setattr(estimators.Evaluator, "fit_final", fit_final)
    X, y = digits16
    clf = AutoNASClassifier(time_budget=3, max_trials=2, max_epochs=20, random_state=0).fit(X, y)
    assert clf.plan_.final_seconds == pytest.approx(1.5)
    # 300 images are 5 batches of 64: an epoch of the refit is priced at REFIT_OVERHEAD x 5 x 0.02 s.
    (kwargs,) = fits
    priced = int(3 / (estimators.REFIT_OVERHEAD * 5 * 0.02))
    assert kwargs["schedule_epochs"] == priced == 25
    assert kwargs["epochs"] == estimators.REFIT_REPLAN_LIMIT * priced
    # The first epoch took 0.125 s, and the 2.875 s left hold 23 more: the cosine schedule is cut to those
    # 24 and ends with the refit.
    assert dict(clf.best_estimator_.callbacks_)["fit_to_time"].epochs_ == 24
    assert len(clf.best_estimator_.history) == 24
    assert clf.best_estimator_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)


def test_a_given_strategy_runs_as_given(digits16):
    X, y = digits16
    clf = AutoNASClassifier(strategy="random", max_trials=1, max_epochs=2, time_budget=600, random_state=0).fit(X, y)
    assert (clf.plan_.strategy, clf.plan_.max_epochs, clf.plan_.final_epochs) == ("random", 2, None)
    assert "as given" in clf.summary()


class _Stop(Exception):
    pass


@pytest.mark.parametrize("time_budget, max_trials", [(None, 20), (30.0, None)])
def test_max_trials_auto_is_20_without_a_time_budget_and_unbounded_with_one(time_budget, max_trials, monkeypatch):
    import skautoml._estimators as estimators

    budgets = []

    def capture(strategy, evaluator, data, fidelity, budget, *args, **kwargs):
        budgets.append(budget)
        raise _Stop

    monkeypatch.setattr(estimators, "run_search", capture)
    X, y = load_digits(return_X_y=True)
    with pytest.raises(_Stop):
        AutoNASClassifier(time_budget=time_budget, strategy="random").fit(X[:100], y[:100])
    assert budgets[0].max_trials == max_trials


def test_light_augmentation_shifts_images_from_16_pixels_only():
    from skautoml._estimators import light_augment

    assert light_augment((1, 8, 8)) is None and light_augment((30,)) is None
    augment = light_augment((1, 28, 28))
    assert augment.policy.magnitude == 0.3 and round(0.25 * 0.3 * 28) == 2  # +-2 pixels of 28


def test_a_downsampling_stem_halves_the_resolution_and_a_bad_stride_is_refused():
    import torch

    space = CNNSpace(stem_stride=2)
    arch = known_good_architecture(space)
    net = space.build(arch, (3, 32, 32), 10)
    assert net.stem(torch.zeros(1, 3, 32, 32)).shape[-2:] == (16, 16)
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="stem_stride must be a positive integer"):
        CNNSpace(stem_stride=0).build(arch, (3, 32, 32), 10)


def _trial(architecture, score, resource):
    from skautoml.search import TrialResult

    return TrialResult(architecture, score=score, status="ok", resource=resource)


@pytest.mark.parametrize(
    "baseline_score, baseline_resource, best_resource, chosen",
    [
        (0.30, 1.0, 1.0, "baseline"),  # beaten by 0.02: less than the standard error of 0.32 on 450 (0.022)
        (0.25, 1.0, 1.0, "other"),  # beaten by 0.07
        (0.30, 1 / 3, 1.0, "other"),  # not at the best's fidelity
        (0.25, 1 / 3, 1 / 3, "baseline"),  # beaten by 0.07, but the search never reached full fidelity
        (0.25, 1.0, 1.0, "proxy"),  # beaten by 0.07, but full fidelity trained on a share of the data the plan cut
    ],
)
def test_the_baseline_is_kept_unless_beaten_by_more_than_one_standard_error(
    baseline_score, baseline_resource, best_resource, chosen
):
    space = CNNSpace()
    baseline, other = known_good_architecture(space), space.sample(np.random.default_rng(0))
    results = [
        _trial(baseline, baseline_score, baseline_resource), _trial(other, 0.32, best_resource),
        _trial(other, 0.9, 1 / 9),
    ]
    clf = AutoNASClassifier()
    clf._record(results, baselines=(baseline,), n_valid=450, proxy=chosen == "proxy")
    kept = chosen in ("baseline", "proxy")
    assert clf.search_results_["rank"][1] == 1  # the ranking is by score all the same
    assert clf.best_index_ == (0 if kept else 1)
    assert clf.best_architecture_ == (baseline if kept else other)
    # Without baselines, the best score is chosen.
    clf._record(results)
    assert clf.best_index_ == 1


def test_summary_says_when_the_baseline_was_kept(digits16, monkeypatch):
    import skautoml._estimators as estimators

    real = estimators.AutoNASClassifier._record
    space = CNNSpace(stem_stride=2)
    baseline = known_good_architecture(space)

    def record(self, results, baselines=(), n_valid=None, rejected=(), proxy=False):
        # The first trial stands for the baseline, a point behind the second at the same fidelity.
        results = [_trial(baseline, 0.30, 1.0), _trial(space.sample(np.random.default_rng(0)), 0.31, 1.0)]
        real(self, results, (baseline,), 450)

    monkeypatch.setattr(estimators.AutoNASClassifier, "_record", record)
    X, y = digits16
    clf = AutoNASClassifier(strategy="random", max_trials=1, max_epochs=1, refit=False, random_state=0).fit(X, y)
    assert clf.best_index_ == 0
    assert "Kept the baseline: the best score at its fidelity (0.3100, trial 1)" in clf.summary()
