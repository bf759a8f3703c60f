"""Embedded feature selection: EmbeddedSelector (L1, trees) and NeuralFeatureSelector (gated network)."""
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.datasets import make_classification
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.feature_selection import SelectFromModel
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

from skautoml.features import EmbeddedSelector, NeuralFeatureSelector
from skautoml.features._neural import GatePenaltyNet

INFORMATIVE = set(range(5))  # make_classification(shuffle=False) puts them first, then 2 redundant ones
USEFUL = set(range(7))  # informative and redundant (linear combinations of informative ones)
FAST_NET = dict(max_epochs=30, random_state=0)

# Small settings: the checks fit each instance many times. threshold=0 keeps the briefly
# trained network from closing every gate on the checks' tiny data sets.


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=500, n_features=30, n_informative=5, shuffle=False, random_state=0)


@pytest.fixture(scope="module")
def fitted_net(data):
    return NeuralFeatureSelector(random_state=0).fit(*data)


def _top(importances, n):
    return set(np.argsort(-importances, kind="stable")[:n].tolist())


def test_tree_importances_find_the_informative_features(data):
    X, y = data
    selector = EmbeddedSelector(method="tree", random_state=0).fit(X, y)
    assert len(_top(selector.importances_, 7) & INFORMATIVE) >= 4
    chosen = set(selector.get_support(indices=True).tolist())
    assert len(chosen & INFORMATIVE) >= 4 and chosen <= USEFUL  # threshold 'mean' drops all noise here
    assert isinstance(selector.estimator_, ExtraTreesClassifier)
    assert selector.threshold_ == pytest.approx(selector.importances_.mean())


def test_l1_keeps_few_features_and_delegates_to_select_from_model(data):
    X, y = data
    selector = EmbeddedSelector(method="l1", random_state=0).fit(X, y)
    # A linear model on clustered classes: it keeps one of correlated useful features and some noise.
    assert len(_top(selector.importances_, 10) & INFORMATIVE) >= 4
    assert isinstance(selector.selector_, SelectFromModel)
    coef = selector.estimator_[-1].coef_
    assert_array_equal(selector.get_support(), np.abs(coef).sum(axis=0) > 1e-5)
    assert selector.get_support().sum() < 15
    weaker = EmbeddedSelector(method="l1", C=10.0, random_state=0).fit(X, y)
    assert weaker.get_support().sum() > selector.get_support().sum()


def test_max_features_and_threshold(data):
    X, y = data
    exactly = EmbeddedSelector(method="l1", max_features=12, threshold=-np.inf, random_state=0).fit(X, y)
    assert exactly.get_support().sum() == 12
    capped = EmbeddedSelector(method="tree", max_features=2, random_state=0).fit(X, y)
    assert_array_equal(capped.get_support(indices=True), sorted(_top(capped.importances_, 2)))
    median = EmbeddedSelector(method="tree", threshold="median", random_state=0).fit(X, y)
    assert median.get_support().sum() == 15


def test_neural_gates_find_the_informative_features(data, fitted_net):
    X, y = data
    gates = fitted_net.gates_
    assert gates.shape == (30,) and ((gates >= 0) & (gates <= 1)).all()
    chosen = set(fitted_net.get_support(indices=True).tolist())
    # No noise feature; the redundant features (combinations of informative ones) may stand in
    # for one or two informative ones, depending on the seed.
    assert chosen <= USEFUL and len(chosen & INFORMATIVE) >= 3
    assert gates[sorted(set(range(7, 30)))].max() < 0.5  # the noise gates closed
    assert isinstance(fitted_net.net_, GatePenaltyNet)
    assert fitted_net.net_.score(X.astype(np.float32), np.searchsorted(fitted_net.classes_, y)) > 0.8


def test_neural_alpha_controls_sparsity(data):
    X, y = data
    weak = NeuralFeatureSelector(alpha=0.05, **FAST_NET).fit(X, y)
    strong = NeuralFeatureSelector(alpha=2.0, threshold=0.0, max_features=30, **FAST_NET).fit(X, y)
    assert (weak.gates_ > 0.5).sum() > (strong.gates_ > 0.5).sum()
    capped = NeuralFeatureSelector(max_features=2, threshold=0.0, **FAST_NET).fit(X, y)
    assert capped.get_support().sum() == 2


def test_neural_standardizes_inside(data):
    X, y = data
    scaled = X * np.linspace(1, 1000, 30)
    selector = NeuralFeatureSelector(**FAST_NET).fit(scaled, y)
    assert_allclose(selector.mean_, scaled.mean(axis=0))
    assert_allclose(selector.scale_, scaled.std(axis=0))
    same = NeuralFeatureSelector(**FAST_NET).fit(X, y)
    assert_allclose(selector.gates_, same.gates_, atol=0.05)  # scale-free up to float32 rounding


def test_neural_is_deterministic_and_leaves_torch_rng_alone(data):
    X, y = data
    state = torch.get_rng_state()
    first = NeuralFeatureSelector(**FAST_NET).fit(X, y)
    assert torch.equal(torch.get_rng_state(), state)
    second = NeuralFeatureSelector(**FAST_NET).fit(X, y)
    other = NeuralFeatureSelector(max_epochs=30, random_state=1).fit(X, y)
    assert_array_equal(first.gates_, second.gates_)
    assert not np.array_equal(first.gates_, other.gates_)


def test_neural_multiclass_and_string_labels():
    X, y = make_classification(n_samples=300, n_features=12, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, shuffle=False, random_state=0)
    labels = np.array(["a", "b", "c"])[y]
    selector = NeuralFeatureSelector(max_epochs=50, random_state=0).fit(X, labels)
    assert_array_equal(selector.classes_, ["a", "b", "c"])
    assert len(set(selector.get_support(indices=True).tolist()) & {0, 1, 2}) >= 2


def test_device_auto_and_unavailable_cuda(data):
    X, y = data
    selector = NeuralFeatureSelector(max_epochs=2, threshold=0.0, device="auto", random_state=0).fit(X, y)
    assert selector.net_.device == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            NeuralFeatureSelector(device="cuda").fit(X, y)


@pytest.mark.parametrize("make", [EmbeddedSelector, NeuralFeatureSelector])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_points_to_imputation(data, make, bad):
    X, y = data
    X = X.copy()
    X[3, 4] = bad
    with pytest.raises(ValueError, match="(NaN|inf).*TypedImputer.*SimpleImputer"):
        make().fit(X, y)


@pytest.mark.parametrize("make", [EmbeddedSelector, NeuralFeatureSelector])
def test_bad_targets_and_max_features(data, make):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 classes; y holds 1 class"):
        make().fit(X, np.ones(len(y)))
    with pytest.raises(ValueError, match="continuous.*Regression targets are not supported"):
        make().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="max_features=31 is larger than the number of features"):
        make(max_features=31).fit(X, y)


def test_nothing_selected_is_an_error(data):
    X, y = data
    with pytest.raises(ValueError, match="selected no feature.*raise C"):
        EmbeddedSelector(method="l1", C=1e-4).fit(X, y)
    with pytest.raises(ValueError, match="selected no feature.*lower alpha"):
        NeuralFeatureSelector(threshold=1.0, max_epochs=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="hidden_units must hold positive ints"):
        NeuralFeatureSelector(hidden_units=(0,)).fit(X, y)


def test_inputs_are_not_modified(data):
    X, y = data
    frame = pd.DataFrame(X[:, :8], columns=[f"f{i}" for i in range(8)])
    X_before, y_before, frame_before = X.copy(), y.copy(), frame.copy()
    for selector in [
        EmbeddedSelector(method="l1"),
        EmbeddedSelector(method="tree", n_estimators=10),
        NeuralFeatureSelector(max_epochs=2, threshold=0.0),
    ]:
        selector.fit(X, y).transform(X)
        selector.fit(frame, y).transform(frame)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)
    assert_frame_equal(frame, frame_before)


@pytest.mark.parametrize(
    "selector",
    [EmbeddedSelector(method="tree", n_estimators=20, random_state=0), NeuralFeatureSelector(**FAST_NET)],
)
def test_set_output_pandas_and_pickle(data, selector):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)])
    selector.set_output(transform="pandas").fit(frame, y)
    out = selector.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(selector.get_feature_names_out())
    assert list(out.columns) == [f"f{i}" for i in selector.get_support(indices=True)]
    loaded = pickle.loads(pickle.dumps(selector))
    assert_frame_equal(loaded.transform(frame), out)


def test_fitted_net_pickles(data, fitted_net):
    X = data[0].astype(np.float32)
    loaded = pickle.loads(pickle.dumps(fitted_net))
    assert_array_equal(loaded.gates_, fitted_net.gates_)
    assert_allclose(loaded.net_.predict_proba(X), fitted_net.net_.predict_proba(X))


def test_in_pipeline_and_grid_search(data):
    X, y = data
    pipe = Pipeline([("select", EmbeddedSelector(n_estimators=20, random_state=0)), ("model", LogisticRegression())])
    grid = {"select__method": ["tree", "l1"], "select__max_features": [1, 5]}
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_["select__max_features"] == 5
    pipe = Pipeline([("select", NeuralFeatureSelector(max_epochs=20, random_state=0)), ("model", LogisticRegression())])
    search = GridSearchCV(pipe, {"select__alpha": [0.5, 1.0]}, cv=2).fit(X, y)
    # The classes are clustered, so a linear model scores about 0.66 with every feature;
    # dropping the noise features must not make it worse.
    assert search.best_score_ >= cross_val_score(LogisticRegression(), X, y, cv=2).mean() - 0.01
    assert search.best_estimator_.named_steps["select"].get_support().sum() < 10
