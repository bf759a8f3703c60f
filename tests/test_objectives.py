"""Soft objectives and the Pareto front: dominance sorting, NSGA-II, MnasNet's reward and the loop's objective hook.

NSGA-II is driven on a toy space whose score and cost are known functions of
the architecture, so its front can be compared with random search's at equal
evaluations; the estimator tests train tiny networks.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from skautoml.nas import MLPArchitecture, MLPSpace, MnasNetReward, TrialPricer, LatencyTable
from skautoml.search import (
    NSGA2, Budget, Fidelity, RandomSearch, SearchSpace, TrialResult, crowding_distance, non_dominated_fronts,
    pareto_mask, run_search,
)


def dominates(a, b):
    return bool(np.all(a <= b) and np.any(a < b))


@pytest.mark.parametrize("seed", range(5))
def test_fronts_match_the_definition_of_dominance(seed):
    points = np.random.default_rng(seed).integers(0, 6, size=(40, 3)).astype(float)  # ties included
    fronts = non_dominated_fronts(points)
    assert sorted(np.concatenate(fronts).tolist()) == list(range(40))
    earlier = []
    for front in fronts:
        rest = [i for i in range(40) if i not in earlier]
        for i in front:  # nothing left dominates a member of the front ...
            assert not any(dominates(points[j], points[i]) for j in rest)
        for i in set(rest) - set(front):  # ... and everything left out of it is dominated by something left
            assert any(dominates(points[j], points[i]) for j in rest)
        earlier += front.tolist()


def test_fronts_refuse_points_that_are_not_a_table():
    with pytest.raises(ValueError, match="2-d"):
        non_dominated_fronts([1.0, 2.0])


def test_crowding_distance_keeps_the_ends_and_measures_the_gaps():
    distance = crowding_distance([[0, 10], [1, 9], [5, 5], [10, 0]])
    assert np.isinf(distance[[0, 3]]).all()
    # Gaps between neighbours over each objective's range: (5 - 0) / 10 twice, (10 - 1) / 10 twice.
    np.testing.assert_allclose(distance[[1, 2]], [1.0, 1.8])
    assert np.isinf(crowding_distance([[0, 1], [1, 0]])).all()


def test_pareto_mask_leaves_out_nan_and_dominated_points():
    mask = pareto_mask([0.9, np.nan, 0.95, 0.8, 0.95], [10, 1, 20, 30, 25])
    assert mask.tolist() == [True, False, True, False, False]
    assert not pareto_mask([np.nan], [1.0]).any()


class Levels(SearchSpace):
    """Tuples of 6 levels in 0..7: the cost is their sum, the score grows with it with diminishing returns
    and drops with their spread, so the front is the tuples of (nearly) equal levels."""

    length, levels = 6, 8

    def sample(self, rng):
        return tuple(int(v) for v in rng.integers(self.levels, size=self.length))

    def mutate(self, architecture, rng):
        values = list(architecture)
        i = int(rng.integers(self.length))
        values[i] = int(np.clip(values[i] + rng.choice([-1, 1]), 0, self.levels - 1))
        return tuple(values) if tuple(values) != architecture else self.sample(rng)

    def encode(self, architecture):
        return np.array(architecture, dtype=float)

    def build(self, architecture, input_shape, n_outputs):
        raise NotImplementedError

    def size(self):
        return self.levels**self.length

    def contains(self, architecture):
        return len(architecture) == self.length


def toy_result(architecture):
    values = np.array(architecture, dtype=float)
    score = math.sqrt(values.sum() / 42) - 0.05 * values.std()
    return TrialResult(architecture, score, "ok", flops=int(values.sum()))


def hypervolume(points):
    """Area dominated by (score, cost) points over the reference (score 0, cost 43)."""
    front = sorted((cost, score) for score, cost in points if score > 0)
    area, best = 0.0, 0.0
    for (cost, score), (next_cost, _) in zip(front, [*front[1:], (43.0, 0.0)]):
        best = max(best, score)
        area += best * (next_cost - cost)
    return area


def searched(strategy, seed, n_trials=160):
    strategy.reset(Levels(), random_state=seed)
    seen = []
    for _ in range(n_trials // 4):  # rounds of four, as four workers would ask
        batch = strategy.ask(4)
        for architecture in batch:
            result = toy_result(architecture)
            strategy.tell(architecture, result)
            seen.append((result.score, result.flops))
    return seen


def test_nsga2_finds_a_better_front_than_random_search_with_the_same_trials():
    nsga, random = [], []
    for seed in range(5):
        nsga.append(hypervolume(searched(NSGA2(population_size=16), seed)))
        random.append(hypervolume(searched(RandomSearch(), seed)))
    assert np.mean(nsga) > np.mean(random)
    assert sum(a > b for a, b in zip(nsga, random)) >= 4


def test_nsga2_population_is_the_front_of_what_it_kept_and_generations_advance():
    strategy = NSGA2(population_size=8)
    searched(strategy, seed=0, n_trials=80)
    assert strategy.generation == (80 - 8) // 8
    assert len(strategy.population) == 8
    objectives = np.array([(-score, cost) for _, score, cost in strategy.population])
    # Survivors are sorted best first: a later survivor never dominates an earlier front's member.
    first = non_dominated_fronts(objectives)[0]
    assert len(first) >= 2  # a spread of costs, not one point


def test_nsga2_leaves_failed_and_refused_candidates_out():
    strategy = NSGA2(population_size=3, cost="params").reset(Levels(), random_state=0)
    batch = strategy.ask(5)
    strategy.tell(batch[0], TrialResult(batch[0], math.nan, "failed", error="boom"))
    strategy.tell(batch[1], TrialResult(batch[1], math.nan, "infeasible", error="over the limit"))
    for architecture in batch[2:]:
        strategy.tell(architecture, TrialResult(architecture, 0.5, "ok", n_params=sum(architecture)))
    assert {member[0] for member in strategy.population} == set(batch[2:])
    assert all(math.isfinite(score) for _, score, _ in strategy.population)


def test_nsga2_bad_settings_and_an_unpriced_latency():
    with pytest.raises(ValueError, match="cost must be one of"):
        NSGA2(cost="energy").reset(Levels(), random_state=0)
    with pytest.raises(ValueError, match="population_size"):
        NSGA2(population_size=0).reset(Levels(), random_state=0)
    strategy = NSGA2(cost="latency").reset(Levels(), random_state=0)
    architecture = strategy.ask()
    with pytest.raises(ValueError, match="did not price"):
        strategy.tell(architecture, TrialResult(architecture, 0.5, "ok"))


def test_nsga2_is_reproducible_from_its_seed():
    assert searched(NSGA2(population_size=8), seed=3, n_trials=48) == searched(NSGA2(population_size=8), 3, 48)


def test_mnasnet_reward_matches_the_formula_and_keeps_what_it_cannot_scale():
    reward = MnasNetReward(target_ms=2.0, w=-0.07)
    assert reward(0.9, 2.0) == pytest.approx(0.9)
    assert reward(0.9, 4.0) == pytest.approx(0.9 * 2**-0.07)
    assert reward(0.9, 1.0) == pytest.approx(0.9 * 0.5**-0.07)
    hard = MnasNetReward(target_ms=2.0, w=0.0, w_above=-1.0)
    assert hard(0.9, 1.0) == pytest.approx(0.9) and hard(0.9, 4.0) == pytest.approx(0.45)
    assert math.isnan(reward(math.nan, 1.0)) and reward(-0.3, 1.0) == -0.3
    with pytest.raises(ValueError, match="positive latency"):
        reward(0.9, 0.0)


@pytest.mark.parametrize(
    "settings, match",
    [({"target_ms": 0}, "target_ms"), ({"target_ms": "5"}, "target_ms"), ({"target_ms": 5, "w": 0.1}, "reward slower"),
     ({"target_ms": 5, "w_above": 1}, "w_above")],
)
def test_mnasnet_reward_bad_settings(settings, match):
    with pytest.raises(ValueError, match=match):
        MnasNetReward(**settings)


def fixed_table():
    """A table with every operation of the small MLPs below priced: a linear layer 1 ms, anything else 0.1 ms."""

    class Table(LatencyTable):
        def _measure(self, module, shape):
            return 1.0 if type(module).__name__ == "Linear" else 0.1

    return Table(cache_dir=False, calibration=(1.0, 0.0))


def test_trial_pricer_prices_rewards_and_keeps_the_evaluators_score():
    space = MLPSpace(max_layers=2, widths=(8, 16))
    small, large = MLPArchitecture(widths=(8,)), MLPArchitecture(widths=(16, 16))
    pricer = TrialPricer(space, (5,), 3, fixed_table(), reward=MnasNetReward(target_ms=2.0))
    fast = pricer(TrialResult(small, 0.9, "ok"))
    slow = pricer(TrialResult(large, 0.9, "ok"))
    assert fast.latency_ms < slow.latency_ms
    assert fast.raw_score == slow.raw_score == 0.9
    assert fast.score == pytest.approx(0.9 * (fast.latency_ms / 2.0) ** -0.07) and fast.score > slow.score
    failed = pricer(TrialResult(small, math.nan, "failed", error="boom"))
    assert math.isnan(failed.score) and math.isnan(failed.raw_score) and failed.latency_ms == fast.latency_ms
    plain = TrialPricer(space, (5,), 3, fixed_table())(TrialResult(small, 0.9, "ok"))
    assert plain.score == 0.9 and math.isnan(plain.raw_score) and plain.latency_ms == fast.latency_ms


class ScoreByWidth:
    """Trains nothing: an MLP's score is its first width over 32."""

    def evaluate(self, architecture, X_train, y_train, X_valid, y_valid, fidelity, seed, deadline=None):
        return TrialResult(architecture, architecture.widths[0] / 32, "ok")


def test_the_loop_tells_the_strategy_and_records_what_the_objective_returns():
    space = MLPSpace(max_layers=1, widths=(8, 16, 32))
    told = []

    class Recording(RandomSearch):
        def tell(self, candidate, result):
            told.append(result)
            super().tell(candidate, result)

    pricer = TrialPricer(space, (5,), 3, fixed_table(), reward=MnasNetReward(target_ms=1.0, w=-0.5))
    strategy = Recording().reset(space, random_state=0)
    data = (np.zeros((4, 5)), np.zeros(4), np.zeros((2, 5)), np.zeros(2))
    results = run_search(strategy, ScoreByWidth(), data, Fidelity(1), Budget(6).start(), 0, objective=pricer)
    assert told == results and len(results) == 6
    for result in results:
        assert result.raw_score == result.architecture.widths[0] / 32
        assert result.score == pytest.approx(result.raw_score * (result.latency_ms / 1.0) ** -0.5)


def test_tell_accepts_any_result_like_object():
    strategy = NSGA2(population_size=2, cost="params").reset(Levels(), random_state=0)
    architecture = strategy.ask()
    strategy.tell(architecture, SimpleNamespace(score=0.5, n_params=3, status="ok"))
    assert strategy.population == [(architecture, 0.5, 3.0)]


# ------------------------------------------------------------------ through the estimators

from sklearn.datasets import load_breast_cancer, load_iris  # noqa: E402

from skautoml import AutoNASClassifier, AutoNASRegressor, export, load_weights, save_weights  # noqa: E402
from skautoml.nas import Evaluator, JointSpace, TrainingChoice, TrainingSpace  # noqa: E402

IRIS = load_iris(return_X_y=True)
TINY = {"search_space": MLPSpace(max_layers=2, widths=(8, 16, 32)), "max_epochs": 2, "random_state": 0}


def test_an_objective_rescores_every_trial_and_the_best_reward_wins():
    X, y = IRIS
    reward = MnasNetReward(target_ms=1.0, w=-0.5)
    clf = AutoNASClassifier(max_trials=6, objective=reward, latency_table=fixed_table(), **TINY).fit(X, y)
    results = clf.search_results_
    assert np.isfinite(results["latency_ms"]).all()
    np.testing.assert_allclose(results["score"], results["valid_score"] * (results["latency_ms"] / 1.0) ** -0.5)
    assert clf.best_score_ == np.nanmax(results["score"])
    assert clf.pareto_cost_ == "latency_ms"
    assert "Best reward" in clf.summary() and "MnasNetReward(target_ms=1.0" in clf.summary()
    plain = AutoNASClassifier(max_trials=6, **TINY).fit(X, y)
    np.testing.assert_array_equal(plain.search_results_["score"], plain.search_results_["valid_score"])
    assert np.isnan(plain.search_results_["latency_ms"]).all() and plain.pareto_cost_ == "flops"


def test_nsga2_in_the_estimator_keeps_a_front_of_accuracy_and_latency():
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(
        max_trials=10, strategy=NSGA2(population_size=4, cost="latency"), latency_table=fixed_table(), **TINY
    ).fit(X, y)
    front, results = clf.pareto_front_, clf.search_results_
    assert clf.pareto_cost_ == "latency_ms" and len(front["trial"]) >= 1
    assert np.all(np.diff(front["latency_ms"]) >= 0)  # cheapest first
    ok = results["status"] == "ok"
    for trial in front["trial"]:  # nothing beats a member of the front in both
        score, cost = results["valid_score"][trial], results["latency_ms"][trial]
        beaten = ok & (results["valid_score"] >= score) & (results["latency_ms"] <= cost)
        beaten &= (results["valid_score"] > score) | (results["latency_ms"] < cost)
        assert not beaten.any()
    off = np.setdiff1d(np.flatnonzero(ok), front["trial"])
    assert len(off) == 0 or all(
        ((results["valid_score"][front["trial"]] >= results["valid_score"][i])
         & (results["latency_ms"][front["trial"]] <= results["latency_ms"][i])).any() for i in off
    )


def test_nsga2_and_an_objective_do_not_mix():
    with pytest.raises(ValueError, match="use one of them"):
        AutoNASClassifier(max_trials=2, strategy="nsga2", objective=MnasNetReward(1.0), **TINY).fit(*IRIS)


def test_joint_search_trains_each_candidate_with_its_own_settings_and_reports_both_parts():
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(max_trials=5, search_hyperparameters=True, **TINY).fit(X, y)
    assert set(clf.best_params_) == {"architecture", "training"}
    assert set(clf.best_params_["training"]) == {"lr", "weight_decay", "batch_size", "optimizer", "dropout", "augment"}
    assert clf.search_space_.training.lrs == TrainingSpace.centred(3e-3, 64).lrs
    assert clf.augment_choices_ == {"none": None}  # a table: nothing to augment
    best = clf.best_architecture_
    assert clf.best_estimator_.batch_size == best.training.batch_size
    assert clf.predict(X[:5]).shape == (5,)


def test_joint_search_of_images_offers_the_augmentations_that_apply():
    X = np.random.default_rng(0).random((60, 1, 16, 16)).astype(np.float32)
    y = np.repeat([0, 1, 2], 20)
    clf = AutoNASClassifier(max_trials=1, max_epochs=1, search_hyperparameters=True, random_state=0).fit(X, y)
    assert list(clf.augment_choices_) == ["light", "none", "randaugment"]
    assert clf.search_space_.training.augments == ("light", "none", "randaugment")


@pytest.mark.parametrize("strategy", ["spos", "darts"])
def test_joint_search_refuses_strategies_that_share_weights(strategy):
    X = np.random.default_rng(0).random((40, 1, 8, 8)).astype(np.float32)
    y = np.repeat([0, 1], 20)
    with pytest.raises(NotImplementedError, match="search_hyperparameters"):
        AutoNASClassifier(max_trials=1, strategy=strategy, search_hyperparameters=True, random_state=0).fit(X, y)


def test_joint_search_refuses_an_augmentation_search():
    with pytest.raises(ValueError, match="augment='auto'"):
        AutoNASClassifier(max_trials=1, augment="auto", search_hyperparameters=True, **TINY).fit(*IRIS)


def test_evaluator_trains_a_joint_value_with_its_settings():
    evaluator = Evaluator(MLPSpace(), (4,), 3, augmentations={"none": None, "flip": lambda *a: a})
    module = torch.nn.Linear(4, 3)
    sgd = evaluator.make_net(module, 3, training=TrainingChoice(1e-3, 1e-4, 16, "sgd", augment="flip"))
    assert sgd.optimizer is torch.optim.SGD and sgd.lr == pytest.approx(1e-2) and sgd.batch_size == 16
    assert sgd.optimizer__momentum == 0.9 and sgd.optimizer__nesterov and sgd.augment is not None
    adamw = evaluator.make_net(module, 3)
    assert adamw.optimizer is torch.optim.AdamW and adamw.lr == evaluator.lr and adamw.batch_size == 128
    with pytest.raises(ValueError, match="names no augmentation"):
        evaluator.make_net(module, 3, training=TrainingChoice(1e-3, 1e-4, 16, augment="light"))


def test_classifier_trains_with_label_smoothing_and_the_regressor_without():
    clf = AutoNASClassifier(max_trials=1, **TINY).fit(*IRIS)
    assert clf.best_estimator_.criterion_.label_smoothing == 0.05
    X, y = IRIS[0][:, :3], IRIS[0][:, 3]
    reg = AutoNASRegressor(max_trials=1, **TINY).fit(X, y)
    assert not hasattr(reg.best_estimator_.criterion_, "label_smoothing")
    with pytest.raises(ValueError, match="label_smoothing"):
        Evaluator(MLPSpace(), (4,), task="regression", label_smoothing=0.1)


def test_weights_of_a_joint_search_with_head_dropout_load_without_it(tmp_path):
    X, y = load_breast_cancer(return_X_y=True)
    training = TrainingSpace(lrs=(3e-3,), weight_decays=(1e-4,), batch_sizes=(32,), optimizers=("sgd",),
                             dropouts=(0.5,))
    space = JointSpace(MLPSpace(max_layers=1, widths=(16,)), training)  # a joint space given as the search space
    clf = AutoNASClassifier(search_space=space, max_trials=1, max_epochs=2, random_state=0).fit(X, y)
    assert type(clf.best_estimator_.module_[1].head).__name__ == "HeadDropout"
    assert clf.best_estimator_.optimizer is torch.optim.SGD and clf.best_estimator_.batch_size == 32
    loaded = load_weights(save_weights(clf, tmp_path / "joint.weights"))
    np.testing.assert_allclose(loaded.predict_proba(X), clf.predict_proba(X), atol=1e-5)
    scripted = torch.jit.load(str(export(clf, tmp_path / "joint.pt")))
    with torch.no_grad():
        proba = scripted(torch.as_tensor(X, dtype=torch.float32)).numpy()
    np.testing.assert_allclose(proba, clf.predict_proba(X), atol=1e-5)
