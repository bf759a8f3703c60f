"""Two-stage search: cells searched on a shallow network, stacked deeper for the final model."""
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_digits

from skautoml import AutoNASClassifier
from skautoml.nas import CellSpace, RandomSearch

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


def test_time_is_kept_back_for_the_deeper_final_network(images):
    X, y = images
    common = dict(search_space=SHALLOW, max_trials=None, time_budget=10, max_epochs=2, patience=None, random_state=0)
    AutoNASClassifier(**{**common, "max_trials": 1, "time_budget": None}).fit(X, y)  # pays torch's warm-up
    same = AutoNASClassifier(**common, final_epochs=2).fit(X, y)
    deeper = AutoNASClassifier(**common, final_epochs=2, final_cells=8, final_channels=64).fit(X, y)
    # The time kept back for the refit scales with the measured cost of a training
    # step of the final network (tens of times the searched one's here), so the
    # search leaves it far more time.
    assert deeper.n_trials_ < same.n_trials_ / 2
    assert len(deeper.best_estimator_.history) == 2
    longest_trial = deeper.search_results_["train_seconds"].max()
    assert deeper.search_seconds_ + deeper.refit_seconds_ <= 10 + longest_trial + 2


def test_space_without_deeper_says_what_to_use(images):
    X, y = images
    with pytest.raises(ValueError, match="no deeper method.*search_space='cell'"):
        AutoNASClassifier(search_space="cnn", max_trials=1, final_cells=6).fit(X, y)


def test_impossible_final_depth_fails_before_the_search(images):
    X, y = images
    # Two reduction cells need at least three cells.
    with pytest.raises(ValueError, match="n_cells"):
        AutoNASClassifier(**SEARCH, final_cells=2).fit(X, y)


class OwnLoopStrategy(RandomSearch):
    """A strategy that runs its own loop and refit, as the morphism strategies do."""

    def search(self, *args, **kwargs):
        raise AssertionError("the search must not start")

    def fit_final(self, *args, **kwargs):
        raise AssertionError("the refit must not start")


def test_strategies_that_refit_their_own_network_cannot_stack(images):
    X, y = images
    with pytest.raises(ValueError, match="cannot stack"):
        AutoNASClassifier(search_space=SHALLOW, strategy=OwnLoopStrategy(), max_trials=1, final_cells=5).fit(X, y)


@pytest.mark.parametrize("name", ["final_cells", "final_channels", "final_epochs"])
def test_non_positive_values_are_rejected(name, images):
    X, y = images
    with pytest.raises(ValueError, match=name):
        AutoNASClassifier(**SEARCH, **{name: 0}).fit(X, y)
