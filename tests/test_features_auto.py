"""AutoFeatureEngineer: a cross-validated search over construction, selection and extraction."""
import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn.exceptions import FitFailedWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from skautoml.features import AutoFeatureEngineer
from skautoml.features import FeatureConstructor
from skautoml.features import EmbeddedSelector
from skautoml.features import FeatureExtractor
from skautoml.features import FilterSelector

# Two or three configurations and two folds: the checks fit each instance many times. (A
# FeatureConstructor candidate passes too, but triples the time; its own checks are in its file.)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread():
    # BLAS threads competing for a few shared cores make the many small fits here much slower.
    with threadpool_limits(1):
        yield


def _product_data(n=300, p=5, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    return X, (X[:, 0] * X[:, 1] > 0).astype(int)


def _noise_data(n=120, n_noise=60, seed=0):
    rng = np.random.RandomState(seed)
    informative = rng.normal(size=(n, 3))
    y = (informative @ [1.5, -1.0, 1.0] + 0.5 * rng.normal(size=n) > 0).astype(int)
    return np.column_stack([informative, rng.normal(size=(n, n_noise))]), y


def _small_space():
    return {
        "select": ["passthrough", FilterSelector(k=2)],
        "extract": ["passthrough", FeatureExtractor("pca", n_components=2)],
    }


def test_default_space_picks_construction_for_a_product():
    X, y = _product_data(n=200)
    original = X.copy()
    fe = AutoFeatureEngineer(cv=3, random_state=0).fit(X, y)
    assert isinstance(fe.best_steps_["construct"], FeatureConstructor)
    assert "x0*x1" in fe.best_steps_["construct"].constructed_features_
    assert fe.best_config_.startswith("construct=FeatureConstructor(")
    assert fe.baseline_score_ < 0.65 and fe.best_score_ > 0.9
    assert fe.best_score_ >= fe.baseline_score_
    # The default space: raw features, then 9 configurations of one or two steps, each named once.
    configs = list(fe.cv_results_["config"])
    assert len(configs) == 10 == len(set(configs)) == len(fe.cv_results_["params"])
    assert configs[0] == "raw features" and fe.cv_results_["n_steps"][0] == 0
    assert list(fe.cv_results_["n_steps"]) == sorted(fe.cv_results_["n_steps"])
    assert fe.baseline_score_ == fe.cv_results_["mean_test_score"][0]
    means = fe.cv_results_["mean_test_score"]
    assert fe.best_score_ == np.max(means) == means[fe.best_index_]
    assert "x0*x1" in fe.get_feature_names_out()
    Xt = fe.transform(X)
    assert Xt.shape == (200, len(fe.get_feature_names_out()))
    assert_array_equal(X, original)


def test_picks_a_selector_among_many_noise_features():
    X, y = _noise_data()
    space = {
        "select": ["passthrough", FilterSelector(k=3), EmbeddedSelector("l1", C=0.1)],
        "extract": ["passthrough", FeatureExtractor("pca", n_components=3)],
    }
    fe = AutoFeatureEngineer(LogisticRegression(C=10, max_iter=1000), search_space=space, random_state=0).fit(X, y)
    assert len(fe.cv_results_["config"]) == 6
    assert fe.best_steps_["select"] != "passthrough" and fe.best_steps_["extract"] == "passthrough"
    assert fe.best_score_ > fe.baseline_score_ + 0.05
    kept = set(fe.best_steps_["select"].get_support(indices=True))
    assert {0, 1, 2} <= kept and len(kept) <= 6
    assert fe.transform(X).shape == (len(X), len(kept))


def test_best_is_never_below_raw_features_and_ties_go_to_fewer_steps():
    # Informative features only: no step helps, so the raw features win or tie.
    rng = np.random.RandomState(1)
    X = rng.normal(size=(150, 4))
    y = (X.sum(axis=1) > 0).astype(int)
    fe = AutoFeatureEngineer(search_space=_small_space(), cv=3, random_state=0).fit(X, y)
    assert fe.best_score_ >= fe.baseline_score_
    means = fe.cv_results_["mean_test_score"]
    first_best = int(np.flatnonzero(means == means.max())[0])
    assert fe.best_index_ == first_best
    if fe.best_index_ == 0:
        assert fe.best_config_ == "raw features" and set(fe.best_steps_.values()) == {"passthrough"}
        out = fe.transform(X)
        assert_array_equal(out, X) and out is not X  # the raw features, as a copy
        assert list(fe.get_feature_names_out()) == ["x0", "x1", "x2", "x3"]


def test_feature_names_set_output_and_dataframe_input():
    X, y = _product_data(n=200, p=3)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    original = frame.copy()
    space = {
        "construct": [FeatureConstructor(operations=["product"], max_features_added=1, max_candidates=3, cv=3)],
        "select": [FilterSelector(k=2)],
    }
    fe = AutoFeatureEngineer(search_space=space, cv=3, random_state=0).set_output(transform="pandas")
    out = fe.fit_transform(frame, y)
    assert isinstance(out, pd.DataFrame)
    assert "a*b" in out.columns and out.shape[1] == 2
    assert list(out.columns) == list(fe.get_feature_names_out())
    assert_array_equal(fe.feature_names_in_, ["a", "b", "c"])
    assert_frame_equal(frame, original)
    with pytest.raises(ValueError, match="input_features is not equal to feature_names_in_"):
        fe.get_feature_names_out(["u", "v", "w"])
    # Fitted on an array: the given names go through the steps.
    plain = AutoFeatureEngineer(search_space=space, cv=3, random_state=0).fit(X, y)
    assert isinstance(plain.transform(X), np.ndarray)
    assert_allclose(plain.transform(X), out.to_numpy())
    assert list(plain.get_feature_names_out(["a", "b", "c"])) == list(out.columns)
    assert "x0*x1" in plain.get_feature_names_out()
    with pytest.raises(ValueError, match="input_features should have length"):
        plain.get_feature_names_out(["u", "v"])


def test_pickle_determinism_and_refit_on_all_data():
    X, y = _product_data(n=150, p=4, seed=2)
    fe = AutoFeatureEngineer(search_space=_small_space(), cv=3, random_state=0).fit(X, y)
    again = AutoFeatureEngineer(search_space=_small_space(), cv=3, random_state=0).fit(X, y)
    assert_array_equal(fe.cv_results_["mean_test_score"], again.cv_results_["mean_test_score"])
    assert list(fe.cv_results_["config"]) == list(again.cv_results_["config"])
    assert_array_equal(fe.transform(X), again.transform(X))
    loaded = pickle.loads(pickle.dumps(fe))
    assert_array_equal(loaded.transform(X), fe.transform(X))
    assert loaded.best_config_ == fe.best_config_
    # Caching changes nothing but time.
    uncached = AutoFeatureEngineer(search_space=_small_space(), cv=3, random_state=0, cache=False).fit(X, y)
    assert_array_equal(uncached.cv_results_["mean_test_score"], fe.cv_results_["mean_test_score"])
    # The refit pipeline holds the feature steps only, fitted on all the rows.
    assert [name for name, _ in fe.pipeline_.steps] == ["construct", "select", "extract"]
    for step in fe.best_steps_.values():
        if step != "passthrough":
            assert step.n_features_in_ >= 1


def test_random_search_samples_n_iter_configurations_plus_raw():
    X, y = _product_data(n=120, p=4, seed=3)
    space = {
        "select": ["passthrough", FilterSelector(k=1), FilterSelector(k=2), FilterSelector(k=3)],
        "extract": ["passthrough", FeatureExtractor("pca", n_components=1)],
    }
    fe = AutoFeatureEngineer(search_space=space, search="random", n_iter=3, cv=2, random_state=0).fit(X, y)
    again = AutoFeatureEngineer(search_space=space, search="random", n_iter=3, cv=2, random_state=0).fit(X, y)
    configs = list(fe.cv_results_["config"])
    assert configs[0] == "raw features" and len(configs) in (3, 4)  # raw may be among the 3 drawn
    assert configs == list(again.cv_results_["config"])
    other = AutoFeatureEngineer(search_space=space, search="random", n_iter=3, cv=2, random_state=5).fit(X, y)
    assert other.cv_results_["config"][0] == "raw features"
    # n_iter at least the size of the space: every configuration, once.
    full = AutoFeatureEngineer(search_space=space, search="random", n_iter=50, cv=2, random_state=0).fit(X, y)
    assert len(full.cv_results_["config"]) == 8 == len(set(full.cv_results_["config"]))
    # A distribution for a step parameter.
    from scipy.stats import randint

    sampled = AutoFeatureEngineer(
        search_space={"select": [FilterSelector()], "select__k": randint(1, 5)},
        search="random", n_iter=2, cv=2, random_state=0,
    ).fit(X, y)
    assert all(c.startswith("select=FilterSelector(method='anova', k=") for c in sampled.cv_results_["config"][1:])


def test_inside_pipeline_and_grid_search():
    X, y = _product_data(n=120, p=4, seed=4)
    space = {"select": ["passthrough", FilterSelector(k=2)]}
    fe = AutoFeatureEngineer(search_space=space, cv=2, random_state=0)
    pipe = Pipeline([("fe", fe), ("clf", LogisticRegression())])
    search = GridSearchCV(pipe, {"clf__C": [0.1, 1.0]}, cv=2).fit(X, y)
    assert search.best_estimator_.predict(X).shape == (120,)
    assert isinstance(search.best_estimator_["fe"].best_config_, str)


def test_failed_configuration_scores_nan_and_search_goes_on():
    X, y = _product_data(n=100, p=4, seed=5)
    space = {"select": ["passthrough", FilterSelector(k=2), FilterSelector(k=50)]}
    with pytest.warns(FitFailedWarning, match=r"1 of 3 configurations failed.*k=50.*larger than the number"):
        fe = AutoFeatureEngineer(search_space=space, cv=2, random_state=0).fit(X, y)
    means = fe.cv_results_["mean_test_score"]
    assert np.isnan(means[2]) and not np.isnan(means[:2]).any()
    assert fe.best_index_ in (0, 1) and fe.best_score_ >= fe.baseline_score_


class _OneFeatureOnly(LogisticRegression):
    def fit(self, X, y):
        if np.shape(X)[1] > 1:
            raise ValueError("this model takes one feature")
        return super().fit(X, y)


def test_estimator_failing_on_raw_features_is_an_error():
    X, y = _product_data(n=60, p=3, seed=6)
    with pytest.raises(ValueError, match="failed on the raw features.*this model takes one feature"):
        AutoFeatureEngineer(_OneFeatureOnly(), search_space={"select": [FilterSelector(k=1)]}, cv=2).fit(X, y)
    # Every configuration failing: scikit-learn's own error.
    with pytest.raises(ValueError, match="fits failed"):
        AutoFeatureEngineer(_OneFeatureOnly(), search_space={"select": [FilterSelector(k=2)]}, cv=2).fit(X, y)


def test_regression_default_space():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(90, 3))
    y = X[:, 0] * X[:, 1] + 0.1 * rng.normal(size=90)
    fe = AutoFeatureEngineer(cv=3, random_state=0).fit(X, y)
    assert len(fe.cv_results_["config"]) == 8
    assert fe.best_score_ >= fe.baseline_score_
    assert "x0*x1" in fe.get_feature_names_out()


def test_verbose_summary(capsys):
    X, y = _product_data(n=80, p=3, seed=7)
    AutoFeatureEngineer(search_space={"select": [FilterSelector(k=1)]}, cv=2, verbose=1).fit(X, y)
    assert "[AutoFeatureEngineer] 2 configurations" in capsys.readouterr().out


def test_bad_input_and_parameters():
    X, y = _product_data(n=60, p=3, seed=8)
    fe = AutoFeatureEngineer(search_space={"select": [FilterSelector(k=1)]}, cv=2)
    X_nan = X.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match=r"NaN \(1 values\).*skautoml.prep.TypedImputer.*SimpleImputer"):
        fe.fit(X_nan, y)
    with pytest.raises(ValueError, match="y has 1 class"):
        fe.fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="y is constant"):
        AutoFeatureEngineer(search_space={"extract": [FeatureExtractor(n_components=1)]}, cv=2).fit(
            X, np.full(len(y), 0.5)
        )
    frame = pd.DataFrame({"a": X[:, 0], "b": ["u", "v"] * 30})
    with pytest.raises(ValueError, match=r"numeric columns.*'b'"):
        fe.fit(frame, y)
    with pytest.raises(ValueError, match="names no step"):
        AutoFeatureEngineer(search_space={"selection": [FilterSelector(k=1)]}).fit(X, y)
    with pytest.raises(ValueError, match="downstream model"):
        AutoFeatureEngineer(search_space={"model__C": [1.0]}).fit(X, y)
    with pytest.raises(ValueError, match="neither a transformer"):
        AutoFeatureEngineer(search_space={"select": [LogisticRegression()]}).fit(X, y)
    with pytest.raises(ValueError, match="non-empty list"):
        AutoFeatureEngineer(search_space={"select": []}).fit(X, y)
    with pytest.raises(ValueError, match="non-empty list"):
        AutoFeatureEngineer(search_space=[]).fit(X, y)
    with pytest.raises(ValueError, match="does not fit the pipeline's steps.*bogus"):
        AutoFeatureEngineer(search_space={"select": [FilterSelector()], "select__bogus": [1]}).fit(X, y)
    with pytest.raises(ValueError, match="search"):
        AutoFeatureEngineer(search="bayes").fit(X, y)
    fe.fit(X, y)
    with pytest.raises(ValueError, match="X has 2 features"):
        fe.transform(X[:, :2])
    with pytest.raises(ValueError, match="TypedImputer"):
        fe.transform(X_nan)


def test_any_transformer_is_a_candidate():
    from sklearn.decomposition import PCA

    from skautoml.features import WrapperSelector

    X, y = _noise_data(n=80, n_noise=3, seed=9)
    space = {
        "select": ["passthrough", WrapperSelector(LogisticRegression(), n_features_to_select=3, cv=2)],
        "extract": ["passthrough", PCA(n_components=2)],
    }
    fe = AutoFeatureEngineer(search_space=space, cv=2, random_state=0).fit(X, y)
    assert len(fe.cv_results_["config"]) == 4
    wrapper = "select=WrapperSelector(estimator=LogisticRegression, n_features_to_select=3, cv=2)"
    assert wrapper in fe.cv_results_["config"]
    assert fe.transform(X).shape[1] == len(fe.get_feature_names_out())
