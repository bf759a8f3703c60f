"""AutoNASClassifier from the public API: fit, attributes, inputs, budgets, sklearn tools."""
import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetClassifier

from skautoml import AutoNASClassifier
from skautoml.nas import CNNSpace, MLPSpace, RegularizedEvolution
from skautoml.search import RefitReserve, TrialResult

TINY = dict(max_trials=2, max_epochs=4, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def small_digits():
    digits = load_digits()
    return digits.images[:300], digits.target[:300]


@pytest.fixture(scope="module")
def fitted_iris(iris):
    X, y = iris
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    return AutoNASClassifier(max_trials=3, max_epochs=20, random_state=0).fit(X, labels), X, labels


def test_fit_exposes_search_and_best_model(fitted_iris):
    clf, X, labels = fitted_iris
    assert list(clf.classes_) == ["setosa", "versicolor", "virginica"]
    assert set(clf.predict(X)) <= set(clf.classes_)
    assert clf.score(X, labels) > 0.8
    assert clf.n_features_in_ == 4 and clf.input_shape_ == (4,)
    assert isinstance(clf.search_space_, MLPSpace)
    assert isinstance(clf.best_estimator_, NeuralNetClassifier)
    assert clf.search_space_.contains(clf.best_architecture_)
    assert clf.best_params_["widths"] == clf.best_architecture_.widths
    results = clf.search_results_
    assert clf.n_trials_ == 3
    assert {len(column) for column in results.values()} == {3}
    assert clf.best_score_ == results["score"][clf.best_index_] == np.nanmax(results["score"])
    assert results["rank"][clf.best_index_] == 1
    assert (results["status"] == "ok").all()
    assert (results["n_params"] > 0).all() and (results["flops"] > 0).all()
    proba = clf.predict_proba(X)
    assert proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_search_results_load_into_pandas(fitted_iris):
    pd = pytest.importorskip("pandas")
    clf = fitted_iris[0]
    frame = pd.DataFrame(clf.search_results_)
    assert list(frame.columns)[:4] == ["trial", "rank", "score", "status"]
    assert len(frame) == clf.n_trials_
    board = clf.leaderboard(top=2)
    assert list(board["rank"]) == sorted(board["rank"]) and len(board["trial"]) == 2


def test_summary_and_progress_are_printed(iris, capsys):
    X, y = iris
    AutoNASClassifier(**TINY, verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert "NAS" in captured.err and "trial" in captured.err  # the progress bar
    assert "Best validation accuracy" in captured.out and "rank" in captured.out


def test_dataframe_input_keeps_feature_names_and_is_not_modified(iris):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["sepal_l", "sepal_w", "petal_l", "petal_w"])
    before = frame.copy()
    clf = AutoNASClassifier(**TINY).fit(frame, y)
    pd.testing.assert_frame_equal(frame, before)
    assert list(clf.feature_names_in_) == list(frame.columns)
    assert clf.predict(frame).shape == (150,)


def test_arrays_are_not_modified(small_digits):
    X, y = small_digits
    X_before, y_before = X.copy(), y.copy()
    AutoNASClassifier(**TINY).fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)


@pytest.mark.parametrize("layout", ["NHW", "NCHW", "flat+input_shape"])
def test_images_get_the_cnn_space(small_digits, layout):
    images, y = small_digits
    X, params = {
        "NHW": (images, {}),
        "NCHW": (images[:, None], {}),
        "flat+input_shape": (images.reshape(len(images), -1), {"input_shape": (8, 8)}),
    }[layout]
    clf = AutoNASClassifier(**TINY, **params).fit(X, y)
    assert isinstance(clf.search_space_, CNNSpace)
    assert clf.input_shape_ == (1, 8, 8)
    assert clf.predict(X[:5]).shape == (5,)


def test_flat_images_without_input_shape_get_the_mlp_space(small_digits):
    images, y = small_digits
    clf = AutoNASClassifier(**TINY).fit(images.reshape(len(images), -1), y)
    assert isinstance(clf.search_space_, MLPSpace)


def test_same_random_state_gives_the_same_search_and_model(iris):
    X, y = iris
    first = AutoNASClassifier(**TINY).fit(X, y)
    second = AutoNASClassifier(**TINY).fit(X, y)
    np.testing.assert_array_equal(first.search_results_["score"], second.search_results_["score"])
    assert list(first.search_results_["architecture"]) == list(second.search_results_["architecture"])
    np.testing.assert_allclose(first.predict_proba(X), second.predict_proba(X))


def test_parallel_trials_equal_sequential_ones(iris):
    X, y = iris
    params = dict(strategy="random", max_trials=4, max_epochs=3, random_state=1)
    sequential = AutoNASClassifier(**params, n_jobs=1).fit(X, y)
    parallel = AutoNASClassifier(**params, n_jobs=2).fit(X, y)
    assert list(sequential.search_results_["architecture"]) == list(parallel.search_results_["architecture"])
    np.testing.assert_allclose(sequential.search_results_["score"], parallel.search_results_["score"])
    # The trials really ran in other processes.
    assert set(parallel.search_results_["worker"]).isdisjoint(sequential.search_results_["worker"])


def test_a_spent_time_budget_runs_one_trial_cut_to_one_epoch(small_digits):
    # A budget that is spent before the first epoch ends: the first trial always starts, stops
    # at the end of its first epoch (its deadline has passed), and no second trial starts.
    # The refit repeats the trial's one epoch.
    X, y = small_digits
    clf = AutoNASClassifier(max_trials=None, time_budget=1e-9, max_epochs=10_000, patience=None, random_state=0)
    clf.fit(X, y)
    assert clf.n_trials_ == 1 and clf.search_results_["epochs"][0] == 1
    assert len(clf.best_estimator_.history) == 1


def test_the_refit_reserve_splits_the_budget_before_the_first_trial(iris, monkeypatch):
    # Before any trial the reserve splits the budget in proportion to batches per epoch:
    # the refit's ceil(150 / 64) = 3 against a trial's ceil(120 / 64) = 2.
    import skautoml._estimators as estimators

    reserves = []
    monkeypatch.setattr(estimators, "RefitReserve", lambda *args: reserves.append(RefitReserve(*args)) or reserves[-1])
    X, y = iris
    clf = AutoNASClassifier(max_trials=1, time_budget=50.0, max_epochs=2, random_state=0).fit(X, y)
    (reserve,) = reserves
    assert reserve([], time_budget=50.0) == pytest.approx(50.0 * 3 / 5)
    # From the first result on, it repeats the best trial's best epochs on all the data.
    best = {name: column[clf.best_index_] for name, column in clf.search_results_.items()}
    result = TrialResult(best["architecture"], best["score"], "ok", train_seconds=4.0, epochs=4, best_epoch=best["best_epoch"])
    assert reserve([result], time_budget=50.0) == pytest.approx(1.0 * 3 / 2 * best["best_epoch"])


def test_no_reserve_without_refit(iris, monkeypatch):
    import skautoml._estimators as estimators

    monkeypatch.setattr(estimators, "RefitReserve", lambda *args: pytest.fail("no refit, no reserve"))
    X, y = iris
    AutoNASClassifier(max_trials=1, time_budget=50.0, max_epochs=1, refit=False, random_state=0).fit(X, y)


class FlakySpace(MLPSpace):
    """Architectures with a 16-wide layer fail to build, as a broken candidate would."""

    def build(self, architecture, input_shape, n_outputs):
        if 16 in architecture.widths:
            raise RuntimeError("candidate exploded")
        return super().build(architecture, input_shape, n_outputs)


def test_failing_trials_are_recorded_and_the_search_goes_on(iris):
    X, y = iris
    space = FlakySpace(max_layers=1, widths=(16, 32), dropouts=(0.0, 0.1, 0.2))
    clf = AutoNASClassifier(search_space=space, strategy="random", max_trials=6, max_epochs=3, random_state=0)
    clf.fit(X, y)
    status = clf.search_results_["status"]
    assert (status == "failed").any() and (status == "ok").any()
    failed = status == "failed"
    assert all("candidate exploded" in error for error in clf.search_results_["error"][failed])
    assert np.isnan(clf.search_results_["score"][failed]).all()
    assert (clf.search_results_["rank"][failed] > clf.search_results_["rank"][~failed].max()).all()
    assert 16 not in clf.best_architecture_.widths


def test_all_trials_failing_is_a_clear_error(iris):
    X, y = iris
    space = FlakySpace(max_layers=1, widths=(16,))
    with pytest.raises(ValueError, match="All 2 trials failed.*candidate exploded"):
        AutoNASClassifier(search_space=space, max_trials=2, max_epochs=2).fit(*iris)


def test_strategy_instance_is_not_changed_by_fit(iris):
    strategy = RegularizedEvolution(population_size=2, sample_size=1)
    clf = AutoNASClassifier(strategy=strategy, max_trials=3, max_epochs=2, random_state=0).fit(*iris)
    assert clf.strategy is strategy
    assert not hasattr(strategy, "population")
    assert clf.n_trials_ == 3


def test_refit_false_keeps_results_but_cannot_predict(iris):
    X, y = iris
    clf = AutoNASClassifier(**TINY).fit(X, y)
    clf.set_params(refit=False).fit(X, y)
    assert clf.n_trials_ == 2 and not hasattr(clf, "best_estimator_")
    with pytest.raises(AttributeError, match="refit=False"):
        clf.predict(X)


def test_pickle_and_joblib_round_trips_predict_the_same(fitted_iris, tmp_path):
    clf, X, _ = fitted_iris
    expected = clf.predict_proba(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(clf)).predict_proba(X), expected)
    joblib.dump(clf, tmp_path / "model.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "model.joblib").predict_proba(X), expected)


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="needs a machine without a GPU")
def test_model_saved_for_cuda_loads_on_a_machine_without_gpu(fitted_iris):
    from skorch.exceptions import DeviceWarning

    clf, X, _ = fitted_iris
    expected = clf.predict_proba(X)
    gpu_model = pickle.loads(pickle.dumps(clf))
    # What a fit with device='cuda' leaves behind; skorch maps it back on load.
    gpu_model.set_params(device="cuda")
    gpu_model.device_ = gpu_model.best_estimator_.device = "cuda"
    with pytest.warns(DeviceWarning):
        loaded = pickle.loads(pickle.dumps(gpu_model))
    assert str(loaded.best_estimator_.device) == loaded.device_ == "cpu"
    np.testing.assert_allclose(loaded.predict_proba(X), expected, rtol=1e-6)


def test_clone_pipeline_grid_search_and_cross_val_score(iris):
    X, y = iris
    clf = AutoNASClassifier(max_trials=1, max_epochs=3, random_state=0)
    assert clone(clf).get_params() == clf.get_params()
    pipeline = make_pipeline(StandardScaler(), clf).fit(X, y)
    assert pipeline.predict(X).shape == (150,)
    grid = GridSearchCV(clf, {"max_epochs": [2, 4]}, cv=2).fit(X, y)
    assert grid.best_params_["max_epochs"] in (2, 4)
    assert set(grid.cv_results_["param_max_epochs"]) == {2, 4}
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.shape == (3,) and np.all((0 <= scores) & (scores <= 1))


def test_parameters_of_strategies_and_spaces_nest_the_scikit_learn_way(iris):
    from skopt.learning import RandomForestRegressor

    from skautoml.nas import SurrogateEvolution

    clf = AutoNASClassifier(strategy=SurrogateEvolution(surrogate=RandomForestRegressor()), search_space=MLPSpace())
    clf.set_params(strategy__surrogate__n_estimators=20, strategy__n_candidates=5, search_space__max_layers=2)
    assert clf.strategy.surrogate.n_estimators == 20 and clf.strategy.n_candidates == 5
    assert clf.search_space.max_layers == 2
    params = clf.get_params(deep=True)
    assert params["strategy__surrogate__n_estimators"] == 20 and params["search_space__max_layers"] == 2
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        clf.set_params(strategy__nope=1)

    # GridSearchCV tunes what the strategy holds; the instances given are never changed.
    strategy = RegularizedEvolution(population_size=2, sample_size=2)
    base = AutoNASClassifier(strategy=strategy, max_trials=2, max_epochs=2, random_state=0)
    grid = GridSearchCV(base, {"strategy__sample_size": [1, 2]}, cv=2).fit(*iris)
    assert set(grid.cv_results_["param_strategy__sample_size"]) == {1, 2}
    assert grid.best_estimator_.strategy.sample_size == grid.best_params_["strategy__sample_size"]
    assert strategy.sample_size == 2 and base.strategy is strategy


def test_device_auto_resolves_to_an_available_device(iris):
    clf = AutoNASClassifier(**TINY).fit(*iris)
    expected = "cuda" if __import__("torch").cuda.is_available() else "cpu"
    assert clf.device_ == expected == str(clf.best_estimator_.device)
