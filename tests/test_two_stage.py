"""Two-stage search: cells searched on a shallow network, stacked deeper for the final model."""
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from fakes import FakeClock, TickingEvaluator
from skautoml import AutoNASClassifier
from skautoml._estimators import _StepCostRatio
from skautoml.nas import CellSpace, RandomSearch
from skautoml.search import Budget, Fidelity, RefitReserve, TrialResult, run_search

SHALLOW = CellSpace(n_blocks=1, operations=("conv3x3", "maxpool"), combine=("add",), n_cells=3, initial_channels=4)
SEARCH = dict(search_space=SHALLOW, strategy="random", max_trials=2, max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def images():
    digits = load_digits()
    return digits.images[:300], digits.target[:300]


def n_params(net):
    return sum(p.numel() for p in net.module_.parameters())


@pytest.fixture(scope="module")
def two_stage(images):
    X, y = images
    return AutoNASClassifier(**SEARCH, final_cells=5, final_channels=8, final_epochs=3).fit(X, y)


def test_final_network_stacks_the_best_cell_deeper_and_wider(two_stage, images):
    clf = two_stage
    assert clf.search_space_.n_cells == 3
    assert (clf.final_space_.n_cells, clf.final_space_.initial_channels) == (5, 8)
    assert clf.final_space_.n_reductions == SHALLOW.n_reductions  # depth added between reductions
    network = clf.best_estimator_.module_[1]  # after the input standardisation
    assert len(network.cells) == 5
    # The final network has the architecture found, not another one.
    assert clf.final_space_.contains(clf.best_architecture_)
    shallow_params = clf.search_results_["n_params"][clf.best_index_]
    assert n_params(clf.best_estimator_) > shallow_params
    # Trained at the fidelity asked for, on its own cosine schedule.
    assert len(clf.best_estimator_.history) == 3
    assert dict(clf.best_estimator_.callbacks_)["lr_schedule"].T_max == 3
    assert "Final network" in clf.summary()
    X, y = images
    assert clf.predict(X).shape == (300,)
    assert clf.score(X, y) > 0.2  # 10 classes: it learned something in 3 epochs
    clone = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(clone.predict(X[:20]), clf.predict(X[:20]))


def test_search_is_the_same_with_or_without_stacking(two_stage, images):
    X, y = images
    one_stage = AutoNASClassifier(**SEARCH).fit(X, y)
    assert one_stage.final_space_ is one_stage.search_space_
    assert one_stage.best_architecture_ == two_stage.best_architecture_
    np.testing.assert_array_equal(one_stage.search_results_["score"], two_stage.search_results_["score"])
    assert len(one_stage.best_estimator_.module_[1].cells) == 3
    assert "Final network" not in one_stage.summary()


def test_final_channels_alone_keeps_the_depth(images):
    X, y = images
    clf = AutoNASClassifier(**SEARCH, final_channels=6, refit=False).fit(X, y)
    assert (clf.final_space_.n_cells, clf.final_space_.initial_channels) == (3, 6)
    assert not hasattr(clf, "best_estimator_")


def test_final_epochs_alone_sets_the_refit_length(images):
    X, y = images
    clf = AutoNASClassifier(**SEARCH, final_epochs=4).fit(X, y)
    assert clf.final_space_ is clf.search_space_
    assert len(clf.best_estimator_.history) == 4


def fake_step_seconds(space, architecture, *args):
    """Fake timings of a training step: 1 ms per cell and channel of the first cell."""
    return 1e-3 * space.n_cells * space.initial_channels


def test_time_is_kept_back_for_the_deeper_final_network(images):
    # The reserve repeats the best trial (1 s per epoch, 16 batches) on 20 batches for
    # 2 epochs (2.5 s), scaled by the step time of the final network over the searched one's.
    deeper = SHALLOW.deeper(n_cells=8, initial_channels=16)
    ratio = _StepCostRatio(SHALLOW, deeper, (1, 8, 8), 10, 32, "cpu", step_seconds=fake_step_seconds)
    trial = TrialResult(SHALLOW.sample(np.random.default_rng(0)), 0.9, "ok", train_seconds=2.0, epochs=2, best_epoch=2)
    same = RefitReserve(20, lambda resource: 16, lambda result: 2)
    stacked = RefitReserve(20, lambda resource: 16, lambda result: 2, cost_ratio=ratio)
    assert same([trial], time_budget=100) == 2.5
    assert stacked([trial], time_budget=100) == pytest.approx(2.5 * (8 * 16) / (3 * 4))

    # Under a 100 s budget of 4 s trials of 2 epochs, the search stops when one more trial and
    # the reserve (5 s for the same network, 53.3 s for the deeper one) no longer fit.
    def n_trials(reserve):
        clock = FakeClock()
        evaluator = TickingEvaluator(TabularEvaluatorLike(), clock, seconds=4.0)
        budget = Budget(time_budget=100, clock=clock, refit_reserve=reserve).start()
        strategy = RandomSearch().reset(SHALLOW, random_state=0)
        return len(run_search(strategy, evaluator, (None,) * 4, Fidelity(2), budget, base_seed=0))

    assert n_trials(same) == 23  # the last starts at 88 s: 88 + 4 + 5 <= 100 < 92 + 4 + 5
    assert n_trials(stacked) == 11  # the last starts at 40 s: 40 + 4 + 53.3 <= 100 < 44 + 4 + 53.3


class TabularEvaluatorLike:
    """An instant evaluator: every architecture scores 0.5 after two 'epochs'."""

    def evaluate(self, architecture, *args, **kwargs):
        return TrialResult(architecture, 0.5, "ok", epochs=2, best_epoch=2)


def test_the_estimator_scales_the_reserve_by_the_measured_step_times(images, monkeypatch):
    import skautoml._estimators as estimators

    reserves = []
    monkeypatch.setattr(estimators, "_step_seconds", fake_step_seconds)
    monkeypatch.setattr(estimators, "RefitReserve", lambda *args: reserves.append(RefitReserve(*args)) or reserves[-1])
    X, y = images
    clf = AutoNASClassifier(**{**SEARCH, "max_trials": 1}, time_budget=600, final_cells=6, final_channels=8).fit(X, y)
    (reserve,) = reserves
    best = TrialResult(clf.best_architecture_, 0.9, "ok", train_seconds=1.0, epochs=2, best_epoch=2)
    assert reserve.cost_ratio(best) == pytest.approx((6 * 8) / (3 * 4))
    assert reserve.refit_batches == int(np.ceil(len(X) / 64))


def test_space_without_deeper_says_what_to_use(images):
    X, y = images
    with pytest.raises(ValueError, match="no deeper method.*search_space='cell'"):
        AutoNASClassifier(search_space="cnn", max_trials=1, final_cells=6).fit(X, y)


def test_impossible_final_depth_fails_before_the_search(images):
    X, y = images
    # Two reduction cells need at least three cells.
    with pytest.raises(ValueError, match="n_cells"):
        AutoNASClassifier(**SEARCH, final_cells=2).fit(X, y)


class OwnNetworkStrategy(RandomSearch):
    """A strategy that refits its own trained network, as the morphism strategies do."""

    refits_trained_model = True

    def ask(self, n=None):
        raise AssertionError("the search must not start")


def test_strategies_that_refit_their_own_network_cannot_stack(images):
    X, y = images
    with pytest.raises(ValueError, match="cannot stack"):
        AutoNASClassifier(search_space=SHALLOW, strategy=OwnNetworkStrategy(), max_trials=1, final_cells=5).fit(X, y)


@pytest.mark.parametrize("name", ["final_cells", "final_channels", "final_epochs"])
def test_non_positive_values_are_rejected(name, images):
    X, y = images
    with pytest.raises(ValueError, match=name):
        AutoNASClassifier(**SEARCH, **{name: 0}).fit(X, y)
