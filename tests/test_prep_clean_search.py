"""AutoCleaner and CleaningSearch."""
import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn import config_context
from sklearn.linear_model import LogisticRegression, Ridge

from skautoml.prep import AutoCleaner, CleaningSearch, DuplicateRowRemover

def _mixed():
    return pd.DataFrame(
        {
            "age": [20.0, np.nan, 40.0, 30.0, 25.0, 35.0, 28.0, 33.0, 31.0, 1000.0],
            "city": ["a", "b", "a", None, "a", "b", "a", "b", "a", "rare"],
            "country": ["fr"] * 10,
            "flag": [0, 1, 1, 0, 1, 0, 0, 1, 0, 1],
        }
    )


def test_auto_cleaner_mixed_dataframe():
    X = _mixed()
    original = X.copy()
    cleaner = AutoCleaner(add_indicator=True, rare_min_frequency=0.15).set_output(transform="pandas")
    out = cleaner.fit_transform(X)
    # 'country' is constant; 'rare' joins the infrequent group; 'flag' (0/1) and indicators pass unclipped.
    assert list(out.columns) == [
        "city_a", "city_b", "city_infrequent_sklearn", "age", "flag", "age_missing", "city_missing"
    ]
    assert list(cleaner.get_feature_names_out()) == list(out.columns)
    assert not out.isna().any().any()
    assert out["age"].max() < 100  # the outlier is clipped to the upper fence
    assert out["age"].max() == cleaner.pipeline_["clipper"].upper_[3]
    assert_array_equal(out["flag"], X["flag"])
    assert_array_equal(out["age_missing"], X["age"].isna())
    assert cleaner.pipeline_["dropper"].drop_reasons_ == {"country": "constant"}
    assert_frame_equal(X, original)

    plain = AutoCleaner(add_indicator=True, rare_min_frequency=0.15).fit(X)
    assert isinstance(plain.transform(X), np.ndarray)
    assert_allclose(plain.transform(X), out.to_numpy())
    no_clip = AutoCleaner(clip_outliers=False, rare_min_frequency=0.15).fit(X)
    assert "clipper" not in no_clip.pipeline_.named_steps
    assert no_clip.transform(X)[:, 3].max() == 1000.0


def test_auto_cleaner_unknown_and_unseen_missing_and_pickle():
    X = _mixed().assign(age=lambda d: d["age"].fillna(30.0))  # no missing age at fit
    cleaner = AutoCleaner(rare_min_frequency=0.15).fit(X)
    new = pd.DataFrame(
        {"age": [np.nan, 5000.0], "city": ["unseen", None], "country": ["fr", "de"], "flag": [1, np.nan]}
    )
    original = new.copy()
    out = cleaner.transform(new)
    assert out.shape == (2, 5) and not np.isnan(out).any()
    assert_array_equal(out[:, 2], [1.0, 0.0])  # the unknown city goes to the rare group
    assert out[1, 3] == cleaner.pipeline_["clipper"].upper_[3]
    assert_frame_equal(new, original)
    restored = pickle.loads(pickle.dumps(cleaner))
    assert_array_equal(restored.transform(new), out)


def test_auto_cleaner_numeric_array():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 3))
    X[:, 1] = 7.0  # constant
    X[0, 0], X[3, 2] = np.nan, 50.0
    original = X.copy()
    cleaner = AutoCleaner().fit(X)
    out = cleaner.transform(X)
    assert out.shape == (30, 2) and not np.isnan(out).any() and out[3, 1] < 50.0
    assert list(cleaner.get_feature_names_out()) == ["x0", "x2"]
    assert list(cleaner.get_feature_names_out(["a", "b", "c"])) == ["a", "c"]
    assert_array_equal(X, original)


def test_auto_cleaner_bad_parameters_and_input():
    X = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 1.0]])
    for estimator, match in [
        (AutoCleaner(numeric_strategy="mode"), "numeric_strategy"),
        (AutoCleaner(rare_min_frequency=0), "rare_min_frequency"),
        (AutoCleaner(encoding="target"), "encoding"),
        (AutoCleaner(near_constant_threshold=2), "near_constant_threshold"),
        (AutoCleaner(clip_outliers="yes"), "clip_outliers"),
    ]:
        with pytest.raises(ValueError, match=match):
            estimator.fit(X)
    with pytest.raises(ValueError, match="2D array"):
        AutoCleaner().fit(np.arange(4.0))
    with pytest.raises(ValueError, match="features"):
        AutoCleaner().fit(X).transform(np.ones((2, 3)))


def _dirty_data():
    """A signal feature with injected huge outliers and missing values, plus noise."""
    rng = np.random.RandomState(0)
    n = 120
    y = rng.randint(0, 2, n)
    signal = y + rng.normal(0, 0.5, n)
    signal[rng.rand(n) < 0.1] = 1e6 * rng.choice([-1, 1])
    signal[rng.rand(n) < 0.1] = np.nan
    return pd.DataFrame({"signal": signal, "noise": rng.normal(size=n)}), y


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # unclipped 1e6 values
def test_cleaning_search_default_grid():
    X, y = _dirty_data()
    original = X.copy()
    search = CleaningSearch(LogisticRegression(), cv=2, random_state=0).fit(X, y)
    results = pd.DataFrame(search.cv_results_)
    assert len(results) == 2 * 2 * 2 * 3
    assert results["mean_test_score"].notna().all()
    assert search.best_score_ == results["mean_test_score"].max() >= results["mean_test_score"].min()
    assert search.best_params_ == results.loc[results["rank_test_score"].idxmin(), "params"]
    # Cleaning matters: the best beats imputing alone (no clipping, no sampler) by a margin.
    plain = results["params"].apply(
        lambda p: not p["cleaner__clip_outliers"] and p["sampler"] == "passthrough"
    )
    assert search.best_score_ > results.loc[plain, "mean_test_score"].max() + 0.1
    best = search.best_pipeline_
    assert best.named_steps["cleaner"].clip_outliers == search.best_params_["cleaner__clip_outliers"]
    assert_array_equal(search.predict(X), search.best_pipeline_.predict(X))
    assert search.predict_proba(X).shape == (len(y), 2)
    assert search.score(X, y) > 0.7
    assert list(search.classes_) == [0, 1] and search.n_features_in_ == 2
    assert list(search.feature_names_in_) == ["signal", "noise"]
    assert_frame_equal(X, original)
    assert pickle.loads(pickle.dumps(search)).score(X, y) == search.score(X, y)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # unclipped 1e6 values
def test_cleaning_search_user_grid_with_sampler():
    X, y = _dirty_data()
    X, y = pd.concat([X, X.iloc[:30]], ignore_index=True), np.r_[y, y[:30]]  # duplicated rows
    grid = [
        {"sampler": ["passthrough", DuplicateRowRemover()], "cleaner__numeric_strategy": ["median", "mean"]},
        {"cleaner__clip_outliers": [False], "estimator__C": [0.1]},
    ]
    search = CleaningSearch(LogisticRegression(), param_grid=grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 5
    assert search.best_score_ >= np.nanmin(search.cv_results_["mean_test_score"])


def test_cleaning_search_errors():
    X, y = _dirty_data()
    with pytest.raises(ValueError, match="names no step"):
        CleaningSearch(LogisticRegression(), param_grid={"imputer__x": [1]}).fit(X, y)
    with pytest.raises(ValueError, match="Invalid parameter"):
        CleaningSearch(LogisticRegression(), param_grid={"cleaner__bogus": [1]}).fit(X, y)
    with pytest.raises(ValueError, match="non-empty list"):
        CleaningSearch(LogisticRegression(), param_grid={"cleaner__add_indicator": []}).fit(X, y)
    with pytest.raises(ValueError, match="estimator"):
        CleaningSearch("not a model").fit(X, y)
    with pytest.raises(ValueError, match="target y is None"):
        CleaningSearch(LogisticRegression()).fit(X, None)
    assert not hasattr(CleaningSearch(Ridge()), "predict_proba")


@pytest.mark.filterwarnings("error")  # e.g. no feature-name warnings between the inner steps
def test_auto_cleaner_set_output_reaches_the_pipeline():
    X = _mixed()
    cleaner = AutoCleaner(add_indicator=True, rare_min_frequency=0.15).fit(X)
    expected = cleaner.transform(X)
    cleaner.set_output(transform="pandas")  # after fit: passed on to pipeline_
    assert isinstance(cleaner.pipeline_.transform(X), pd.DataFrame)
    out = cleaner.transform(X)
    assert list(out.columns) == list(cleaner.get_feature_names_out())
    assert_allclose(out.to_numpy(), expected)
    with config_context(transform_output="pandas"):
        assert_frame_equal(AutoCleaner(add_indicator=True, rare_min_frequency=0.15).fit_transform(X), out)
    unnamed = pd.DataFrame(np.c_[X[["age", "flag"]].to_numpy(), np.ones(10)])  # integer column labels
    out = AutoCleaner(add_indicator=True).set_output(transform="pandas").fit_transform(unnamed)
    assert list(out.columns) == ["x0", "x1", "x0_missing"]
