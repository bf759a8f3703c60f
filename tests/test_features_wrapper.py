"""Wrapper feature selection: the strategies, the search loop, budgets, and the common checks."""
import pickle

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import make_classification
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import FitFailedWarning
from sklearn.feature_selection import SequentialFeatureSelector
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from skautoml.features import (
    SUBSET_STRATEGIES,
    Beam,
    Bidirectional,
    Genetic,
    SequentialBackward,
    SequentialForward,
    SimulatedAnnealing,
    SubsetStrategy,
    WrapperSelector,
)

# Informative features are the first three columns (shuffle=False).
X, Y = make_classification(
    n_samples=120,
    n_features=10,
    n_informative=3,
    n_redundant=0,
    n_clusters_per_class=1,
    flip_y=0.05,
    class_sep=1.5,
    shuffle=False,
    random_state=1,
)
CV = 3
K = 3

# Small settings for the stochastic strategies: enough to search 120 subsets of size 3 well.
FAST = {
    "forward": SequentialForward(),
    "backward": SequentialBackward(),
    "bidirectional": Bidirectional(),
    "beam": Beam(width=2),
    "genetic": Genetic(population_size=10, n_generations=8),
    "annealing": SimulatedAnnealing(n_iterations=40, n_neighbours=2),
}


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """LogisticRegression on 120 rows gains nothing from BLAS threads, and on a busy machine they cost 10x."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture(scope="module")
def sfs_reference():
    """scikit-learn's forward selection of K features and its CV score."""
    sfs = SequentialFeatureSelector(GaussianNB(), n_features_to_select=K, cv=CV).fit(X, Y)
    return sfs.get_support(), cross_val_score(GaussianNB(), X[:, sfs.get_support()], Y, cv=CV).mean()


# ----------------------------------------------------------------------------- against scikit-learn


@pytest.mark.parametrize("direction, k", [("forward", 3), ("backward", 7)])
def test_sequential_selects_what_sklearn_selects(direction, k):
    estimator = LogisticRegression()
    ours = WrapperSelector(estimator, search=direction, n_features_to_select=k, cv=CV).fit(X, Y)
    theirs = SequentialFeatureSelector(estimator, n_features_to_select=k, direction=direction, cv=CV).fit(X, Y)
    np.testing.assert_array_equal(ours.get_support(), theirs.get_support())
    assert ours.best_score_ == pytest.approx(cross_val_score(estimator, X[:, ours.support_], Y, cv=CV).mean())
    steps = k if direction == "forward" else X.shape[1] - k
    n_tried = sum(X.shape[1] - i for i in range(steps))  # same candidates as scikit-learn, none twice
    assert ours.n_evaluations_ == n_tried


@pytest.mark.parametrize("name", list(FAST))
def test_every_strategy_at_least_as_good_as_sklearn_forward(name, sfs_reference):
    # Deterministic here (fixed seed). Only forward is bound to match SFS; the others search other
    # subsets and are not guaranteed to beat it (backward is worse on some data sets), but on this
    # one every strategy reaches at least the SFS subset's score.
    _, reference_score = sfs_reference
    selector = WrapperSelector(GaussianNB(), search=FAST[name], n_features_to_select=K, cv=CV, random_state=0)
    selector.fit(X, Y)
    assert selector.n_features_to_select_ == K == selector.transform(X).shape[1]
    assert selector.stopped_by_ is None
    assert selector.best_score_ >= reference_score - 1e-12
    expected = cross_val_score(GaussianNB(), X[:, selector.support_], Y, cv=CV).mean()
    assert selector.best_score_ == pytest.approx(expected)
    assert 0 in selector.get_support(indices=True)  # the strongest informative column


def test_float_n_features_to_select_is_a_share():
    selector = WrapperSelector(GaussianNB(), n_features_to_select=0.25, cv=CV).fit(X, Y)
    assert selector.n_features_to_select_ == 2  # int(10 * 0.25)


# ----------------------------------------------------------------------------- 'auto' and tol


def test_forward_auto_stops_at_first_step_without_gain():
    selector = WrapperSelector(GaussianNB(), search="forward", cv=CV).fit(X, Y)
    path = selector.search_path_
    steps = np.unique(path["step"])
    bests = [path["mean_score"][path["step"] == s].max() for s in steps]
    # Every kept step gained, the last step tried did not, and nothing was tried after it.
    assert all(b > a for a, b in zip(bests[:-2], bests[1:-1]))
    assert bests[-1] <= bests[-2]
    assert selector.n_features_to_select_ == len(steps) - 1
    assert selector.best_score_ == bests[-2]


def test_tol_sets_the_gain_a_step_needs():
    strict = WrapperSelector(GaussianNB(), cv=CV, tol=0.2).fit(X, Y)
    assert strict.n_features_to_select_ == 1  # the first step always counts: nothing to compare with
    lenient = WrapperSelector(GaussianNB(), cv=CV, tol=-1.0).fit(X, Y)  # any loss under 1 is accepted
    assert lenient.n_features_to_select_ == X.shape[1]


def test_backward_auto_drops_features_that_do_not_help():
    selector = WrapperSelector(GaussianNB(), search="backward", cv=CV).fit(X, Y)
    full = selector.search_path_["mean_score"][0]
    assert selector.search_path_["n_features"][0] == X.shape[1]  # the baseline
    assert selector.n_features_to_select_ < X.shape[1]
    assert selector.best_score_ >= full


@pytest.mark.parametrize("name", list(FAST))
def test_auto_size_result_is_a_scored_subset(name):
    small = {"genetic": Genetic(population_size=6, n_generations=4), "annealing": SimulatedAnnealing(20)}
    selector = WrapperSelector(GaussianNB(), search=small.get(name, FAST[name]), cv=CV, random_state=0).fit(X, Y)
    assert selector.stopped_by_ is None
    assert 1 <= selector.n_features_to_select_ <= X.shape[1]
    assert selector.best_score_ == selector.search_path_["mean_score"][_row_of(selector)]
    if name in ("genetic", "annealing"):  # they return the best subset scored
        assert selector.best_score_ == np.nanmax(selector.search_path_["mean_score"])


def test_bidirectional_searches_meet_at_the_selected_size():
    selector = WrapperSelector(GaussianNB(), search="bidirectional", n_features_to_select=K, cv=CV).fit(X, Y)
    strategy = selector.strategy_
    np.testing.assert_array_equal(strategy.forward_, strategy.backward_)
    np.testing.assert_array_equal(strategy.forward_, selector.support_)
    sizes = selector.search_path_["n_features"]
    assert sizes.min() == 1 and sizes.max() == X.shape[1] - 1  # both directions ran


# ----------------------------------------------------------------------------- budgets and the path


def _row_of(selector):
    """Index of ``support_`` in ``search_path_``."""
    selected = tuple(selector.get_support(indices=True).tolist())
    rows = [i for i, f in enumerate(selector.search_path_["feature_indices"]) if f == selected]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize("name", ["forward", "beam", "genetic", "annealing"])
def test_max_evaluations_is_exact(name):
    selector = WrapperSelector(
        GaussianNB(), search=FAST[name], n_features_to_select=K, cv=CV, max_evaluations=7, random_state=0
    ).fit(X, Y)
    assert selector.n_evaluations_ == 7 == len(selector.search_path_["mean_score"])
    assert selector.stopped_by_ == "max_evaluations"
    # Stopped early: the best subset scored, of K features when one was scored.
    path = selector.search_path_
    sized = path["n_features"] == K
    pool = sized if sized.any() else np.ones_like(sized)
    assert selector.best_score_ == np.nanmax(path["mean_score"][pool])


def test_time_budget_stops_the_search_early():
    full = WrapperSelector(GaussianNB(), search="backward", n_features_to_select=K, cv=CV).fit(X, Y)
    tiny = WrapperSelector(GaussianNB(), search="backward", n_features_to_select=K, cv=CV, time_budget=1e-6)
    tiny.fit(X, Y)
    assert tiny.stopped_by_ == "time_budget"
    assert 1 <= tiny.n_evaluations_ < full.n_evaluations_
    assert full.stopped_by_ is None


@pytest.mark.parametrize("name", ["genetic", "annealing", "beam"])
def test_no_subset_is_evaluated_twice(name):
    # Four features: 15 subsets in all, far fewer than the strategies ask for.
    strategy = {"genetic": Genetic(population_size=8, n_generations=10), "annealing": SimulatedAnnealing(30)}.get(
        name, Beam(width=4)
    )
    selector = WrapperSelector(GaussianNB(), search=strategy, cv=CV, random_state=0).fit(X[:, :4], Y)
    subsets = list(selector.search_path_["feature_indices"])
    assert len(subsets) == len(set(subsets)) == selector.n_evaluations_ <= 15
    asked = len(selector.strategy_.told_)
    assert asked == len(subsets)  # every subset told was scored exactly once


def test_search_path_is_consistent():
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(X.shape[1])])
    genetic = Genetic(population_size=6, n_generations=4)
    selector = WrapperSelector(GaussianNB(), search=genetic, n_features_to_select=K, cv=CV, random_state=0)
    selector.fit(frame, Y)
    path = selector.search_path_
    assert {len(values) for values in path.values()} == {selector.n_evaluations_}
    np.testing.assert_array_equal(path["evaluation"], np.arange(selector.n_evaluations_))
    assert (np.diff(path["step"]) >= 0).all()
    assert all(len(f) == n for f, n in zip(path["features"], path["n_features"]))
    assert all(f == tuple(f"f{j}" for j in idx) for f, idx in zip(path["features"], path["feature_indices"]))
    assert set(path["status"]) == {"ok"} and set(path["error"]) == {""}
    assert (path["fit_time"] > 0).all() and (path["std_score"] >= 0).all()
    row = _row_of(selector)
    assert selector.best_score_ == path["mean_score"][row] == np.nanmax(path["mean_score"])
    assert pd.DataFrame(path).shape == (selector.n_evaluations_, 10)


# ----------------------------------------------------------------------------- failures


class FailsOnFeature(ClassifierMixin, BaseEstimator):
    """GaussianNB that refuses to fit when column ``bad`` of the full data is among its inputs.

    The subset's columns arrive without their indices, so the column is spotted by its values.
    """

    def __init__(self, bad_column=None):
        self.bad_column = bad_column

    def fit(self, X, y):
        if self.bad_column is None or any(np.isin(X, self.bad_column).all(axis=0)):
            raise RuntimeError("cannot fit with this feature")
        self.model_ = GaussianNB().fit(X, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, X):
        return self.model_.predict(X)


def test_failed_subsets_score_minus_inf_with_a_warning():
    estimator = FailsOnFeature(bad_column=X[:, 0].copy())
    with pytest.warns(FitFailedWarning, match="subsets failed to cross-validate.*cannot fit"):
        selector = WrapperSelector(estimator, n_features_to_select=2, cv=CV).fit(X, Y)
    path = selector.search_path_
    failed = path["status"] == "failed"
    assert failed.any() and np.isnan(path["mean_score"][failed]).all()
    assert all(0 in idx for idx in path["feature_indices"][failed])
    assert all("RuntimeError: cannot fit" in e for e in path["error"][failed])
    assert 0 not in selector.get_support(indices=True)
    assert np.isfinite(selector.best_score_)


def test_every_subset_failing_raises():
    with pytest.raises(ValueError, match="Every one of the .* subsets tried failed.*cannot fit"):
        WrapperSelector(FailsOnFeature(), n_features_to_select=2, cv=CV).fit(X, Y)


# ----------------------------------------------------------------------------- parallel and random


@pytest.mark.parametrize("name", ["forward", "genetic"])
def test_n_jobs_does_not_change_the_result(name):
    # Threads: the selector's batching, caching and ordering are what is tested; process workers
    # (joblib's default) would each spend seconds importing skautoml, and torch with it.
    kwargs = dict(search=FAST[name], n_features_to_select=K, cv=CV, max_evaluations=30, random_state=0)
    one = WrapperSelector(GaussianNB(), n_jobs=1, **kwargs).fit(X, Y)
    with parallel_config(backend="threading"):
        two = WrapperSelector(GaussianNB(), n_jobs=2, **kwargs).fit(X, Y)
    np.testing.assert_array_equal(one.support_, two.support_)
    assert list(one.search_path_["feature_indices"]) == list(two.search_path_["feature_indices"])
    np.testing.assert_array_equal(one.search_path_["mean_score"], two.search_path_["mean_score"])


@pytest.mark.parametrize("name", ["genetic", "annealing"])
def test_random_state_fixes_the_path(name):
    def path(seed):
        selector = WrapperSelector(GaussianNB(), search=FAST[name], cv=CV, max_evaluations=15, random_state=seed)
        return list(selector.fit(X, Y).search_path_["feature_indices"])

    assert path(0) == path(0)
    assert path(0) != path(1)


# ----------------------------------------------------------------------------- strategies on their own


def _synthetic_score(mask):
    """Features 0-2 are worth 1 each, the others cost 0.1: the best subsets hold 0, 1 and 2."""
    weights = np.r_[np.ones(3), -0.1 * np.ones(mask.size - 3)]
    return float(weights[mask].sum())


def _run(strategy, n_features, n_select, seed=0, max_batches=1000):
    strategy.start(n_features, n_select, None, np.random.default_rng(seed))
    for _ in range(max_batches):
        if strategy.done:
            break
        masks = strategy.ask()
        assert masks and all(m.dtype == bool and m.shape == (n_features,) and m.any() for m in masks)
        if n_select is not None and type(strategy) in (Genetic, SimulatedAnnealing):
            assert all(m.sum() == n_select for m in masks)
        strategy.tell(masks, [_synthetic_score(m) for m in masks])
    assert strategy.done and strategy.ask() == []
    return strategy.result()


@pytest.mark.parametrize("name", list(FAST))
@pytest.mark.parametrize("n_select", [None, 3, 1, 8])
def test_strategy_contract(name, n_select):
    strategy = SUBSET_STRATEGIES[name]()  # default settings: no cross-validation here, so they are cheap
    settings = strategy.get_params()
    result = _run(strategy, 8, n_select)
    assert result.dtype == bool and result.shape == (8,)
    if n_select is not None:
        assert result.sum() == n_select
    if n_select in (None, 3):
        assert result.nonzero()[0].tolist() == [0, 1, 2]
    assert strategy.get_params() == settings  # state lives in attributes, not in the settings


def test_strategy_asked_before_start():
    with pytest.raises(RuntimeError, match="start"):
        Beam().ask()


@pytest.mark.parametrize(
    "strategy, match",
    [
        (Beam(width=0), "width >= 1"),
        (Genetic(population_size=0), "population_size >= 1"),
        (Genetic(n_elite=30), "n_elite"),
        (Genetic(mutation_rate=2.0), "mutation_rate in"),
        (SimulatedAnnealing(cooling=1.5), "cooling"),
        (SimulatedAnnealing(initial_temperature=0), "initial_temperature"),
    ],
)
def test_bad_strategy_settings(strategy, match):
    with pytest.raises(ValueError, match=match):
        WrapperSelector(GaussianNB(), search=strategy, cv=CV).fit(X, Y)


class FirstFeatures(SubsetStrategy):
    """A user's strategy: try the first 1, 2, ... ``n`` features, in one batch."""

    def __init__(self, n=3):
        self.n = n

    def _start(self):
        pass

    def _ask(self):
        return [np.arange(self.n_features_) < size for size in range(1, self.n + 1)]

    def _tell(self, masks, scores):
        self.done = True


def test_a_user_strategy_plugs_in():
    selector = WrapperSelector(GaussianNB(), search=FirstFeatures(n=4), cv=CV).fit(X, Y)
    assert selector.search_path_["n_features"].tolist() == [1, 2, 3, 4]
    assert selector.best_score_ == np.nanmax(selector.search_path_["mean_score"])


def test_nested_strategy_parameters():
    selector = WrapperSelector(GaussianNB(), search=Beam(width=2), n_features_to_select=2, cv=CV)
    assert selector.get_params()["search__width"] == 2
    selector.set_params(search__width=5)
    assert selector.search.width == 5
    fitted = clone(selector).fit(X, Y)
    assert fitted.search is not selector.search and fitted.strategy_ is not fitted.search
    assert not hasattr(fitted.search, "told_")  # the instance given is not changed by fit


# ----------------------------------------------------------------------------- bad input


def test_nan_points_to_imputation():
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN.*TypedImputer.*AutoCleaner.*SimpleImputer"):
        WrapperSelector(GaussianNB()).fit(Xn, Y)
    # An estimator that takes NaN gets them.
    assert WrapperSelector(HistGradientBoostingClassifier()).__sklearn_tags__().input_tags.allow_nan


def test_too_many_features_to_select():
    with pytest.raises(ValueError, match="n_features_to_select=11 is more than .* n_features=10"):
        WrapperSelector(GaussianNB(), n_features_to_select=11).fit(X, Y)


def test_unknown_search_lists_the_valid_ones():
    with pytest.raises(ValueError, match="'search' parameter") as error:
        WrapperSelector(GaussianNB(), search="greedy").fit(X, Y)
    assert all(repr(name) in str(error.value) for name in SUBSET_STRATEGIES)
    assert "SubsetStrategy" in str(error.value)


def test_constant_target():
    with pytest.raises(ValueError, match="one class.*nothing to select"):
        WrapperSelector(GaussianNB()).fit(X, np.zeros(len(Y)))


def test_target_required():
    with pytest.raises(ValueError, match="requires y"):
        WrapperSelector(GaussianNB()).fit(X, None)


def test_text_columns_are_refused_with_advice():
    frame = pd.DataFrame({"a": X[:, 0], "b": ["x"] * len(X)})
    with pytest.raises(ValueError, match="numeric.*OneHotEncoder"):
        WrapperSelector(GaussianNB()).fit(frame, Y)


# ----------------------------------------------------------------------------- sklearn integration


def test_inputs_are_not_modified():
    Xc, Yc = X.copy(), Y.copy()
    frame = pd.DataFrame(Xc, columns=[f"f{j}" for j in range(10)])
    frame_copy = frame.copy()
    genetic = Genetic(population_size=4, n_generations=2)
    WrapperSelector(GaussianNB(), search=genetic, n_features_to_select=K, cv=CV, random_state=0).fit(Xc, Yc)
    WrapperSelector(GaussianNB(), n_features_to_select=K, cv=CV).fit(frame, Yc)
    np.testing.assert_array_equal(Xc, X)
    np.testing.assert_array_equal(Yc, Y)
    pd.testing.assert_frame_equal(frame, frame_copy)


def test_set_output_pandas_keeps_the_selected_names():
    frame = pd.DataFrame(X, columns=[f"f{j}" for j in range(10)])
    selector = WrapperSelector(GaussianNB(), n_features_to_select=K, cv=CV).set_output(transform="pandas")
    out = selector.fit(frame, Y).transform(frame)
    assert isinstance(out, pd.DataFrame)
    names = [f"f{j}" for j in selector.get_support(indices=True)]
    assert list(out.columns) == names == list(selector.get_feature_names_out())
    np.testing.assert_array_equal(out.to_numpy(), X[:, selector.support_])


def test_sparse_input_when_the_estimator_takes_it():
    dense = WrapperSelector(LogisticRegression(), n_features_to_select=2, cv=CV).fit(X, Y)
    sparse_fit = WrapperSelector(LogisticRegression(), n_features_to_select=2, cv=CV).fit(sparse.csr_matrix(X), Y)
    np.testing.assert_array_equal(dense.support_, sparse_fit.support_)
    with pytest.raises(TypeError, match="[Ss]parse"):
        WrapperSelector(GaussianNB(), cv=CV).fit(sparse.csr_matrix(X), Y)


def test_groups_reach_the_splitter():
    groups = np.arange(len(Y)) % 4
    selector = WrapperSelector(GaussianNB(), n_features_to_select=2, cv=GroupKFold(n_splits=4)).fit(X, Y, groups=groups)
    scores = cross_val_score(GaussianNB(), X[:, selector.support_], Y, cv=GroupKFold(n_splits=4), groups=groups)
    assert selector.best_score_ == pytest.approx(scores.mean())


def test_pickle_round_trip():
    annealing = SimulatedAnnealing(n_iterations=10)
    selector = WrapperSelector(GaussianNB(), search=annealing, n_features_to_select=K, cv=CV, random_state=0)
    selector.fit(X, Y)
    loaded = pickle.loads(pickle.dumps(selector))
    np.testing.assert_array_equal(loaded.transform(X), selector.transform(X))
    assert loaded.search_path_["features"].tolist() == selector.search_path_["features"].tolist()


def test_in_a_pipeline_under_grid_search():
    pipeline = Pipeline(
        [
            ("select", WrapperSelector(GaussianNB(), search=Beam(), n_features_to_select=2, cv=2)),
            ("model", LogisticRegression()),
        ]
    )
    search = GridSearchCV(pipeline, {"select__search__width": [1, 2], "select__n_features_to_select": [1, 3]}, cv=2)
    search.fit(X, Y)
    assert len(search.cv_results_["params"]) == 4 and not np.isnan(search.cv_results_["mean_test_score"]).any()
    best = search.best_estimator_["select"]
    assert best.search.width == search.best_params_["select__search__width"]
    assert best.n_features_to_select_ == search.best_params_["select__n_features_to_select"]
    assert search.score(X, Y) > 0.8


def test_verbose_prints_one_line_per_step(capsys):
    WrapperSelector(GaussianNB(), n_features_to_select=2, cv=CV, verbose=1).fit(X, Y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[WrapperSelector] step 0: 10 new subsets")


def test_every_name_builds_its_strategy():
    assert {name: type(cls()) for name, cls in SUBSET_STRATEGIES.items()} == {
        name: type(strategy) for name, strategy in FAST.items()
    }
