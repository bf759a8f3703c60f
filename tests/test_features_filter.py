"""Filter feature selection: FilterSelector."""
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from pandas.testing import assert_frame_equal
from scipy.stats import kruskal, spearmanr
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import Pipeline

from skautoml.features import FilterSelector

METHODS = ["variance", "correlation", "mrmr", "chi2", "anova", "mutual_info"]
INFORMATIVE = set(range(5))  # make_classification(shuffle=False) puts them first, then 2 redundant ones

# Small settings: the checks fit each instance many times.


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=500, n_features=30, n_informative=5, shuffle=False, random_state=0)


def _top(selector, n):
    return set(np.argsort(selector.ranking_)[:n].tolist())


@pytest.mark.parametrize("method", ["correlation", "mrmr", "chi2", "anova", "mutual_info"])
def test_recovers_informative_features(data, method):
    X, y = data
    if method == "chi2":
        X = X - X.min(axis=0)
    selector = FilterSelector(method=method, k=10, random_state=0).fit(X, y)
    # The informative features of make_classification are correlated with each other: mRMR
    # trades some of them for less relevant, unrelated features (see the next test).
    assert len(_top(selector, 10) & INFORMATIVE) >= (3 if method == "mrmr" else 4)
    assert selector.k_ == 10
    assert_array_equal(selector.get_support(), selector.ranking_ <= 10)
    assert sorted(selector.ranking_) == list(range(1, 31))
    assert selector.transform(X).shape == (500, 10)


def test_mrmr_picks_less_redundant_features_than_a_univariate_filter(data):
    X, y = data
    corr = np.abs(np.corrcoef(X, rowvar=False))

    def mean_redundancy(selector):
        chosen = selector.get_support(indices=True)
        return corr[np.ix_(chosen, chosen)][~np.eye(len(chosen), dtype=bool)].mean()

    mrmr = FilterSelector(method="mrmr", k=5).fit(X, y)
    anova = FilterSelector(method="anova", k=5).fit(X, y)
    assert mean_redundancy(mrmr) < 0.5 * mean_redundancy(anova)
    # Both start from the most relevant feature.
    assert np.argmin(mrmr.ranking_) == np.argmin(anova.ranking_)


def test_variance_needs_no_target(data):
    X = data[0].copy()
    X[:, 12] *= 10.0
    selector = FilterSelector(method="variance", k=1).fit(X)
    assert_allclose(selector.scores_, X.var(axis=0))
    assert_array_equal(selector.get_support(indices=True), [12])
    # A continuous target (a regression pipeline) is ignored, not rejected.
    assert_array_equal(FilterSelector(method="variance", k=1).fit(X, X[:, 0]).ranking_, selector.ranking_)
    with pytest.raises(ValueError, match="requires y"):
        FilterSelector(method="anova", k=1).fit(X)


def test_correlation_is_abs_spearman_for_two_classes_and_kruskal_wallis_for_more(data):
    X, y = data
    X = np.round(X, 1)  # ties: average ranks, as spearmanr
    expected = [abs(spearmanr(X[:, j], y).statistic) for j in range(X.shape[1])]
    assert_allclose(FilterSelector(method="correlation").fit(X, y).scores_, expected)
    X3, y3 = make_classification(n_samples=300, n_features=8, n_informative=4, n_classes=3, random_state=0)
    scores = FilterSelector(method="correlation", k=8).fit(X3, y3).scores_
    assert ((scores >= 0) & (scores <= 1)).all()
    # The correlation ratio of the ranks: eta**2 = H / (n - 1), whatever the order of the labels.
    h = [kruskal(*(X3[y3 == c, j] for c in range(3))).statistic for j in range(8)]
    assert_allclose(scores**2, np.asarray(h) / (len(y3) - 1))
    relabelled = FilterSelector(method="correlation", k=8).fit(X3, np.array([2, 0, 1])[y3]).scores_
    assert_allclose(relabelled, scores)


def test_correlation_ranks_a_monotone_feature_with_outliers_above_a_linear_one():
    rng = np.random.RandomState(0)
    y = np.arange(300) % 2
    monotone = np.exp(3 * (y + 0.6 * rng.normal(size=300)))  # monotone in y + noise, heavy-tailed
    monotone[:6:2] = 1e4  # three gross outliers in class 0
    linear = y + 1.5 * rng.normal(size=300)  # weaker, but linear and clean
    X = np.column_stack([monotone, linear])
    correlation = FilterSelector(method="correlation", k=1).fit(X, y)
    anova = FilterSelector(method="anova", k=1).fit(X, y)
    # Ranks ignore the scale and the outliers; the F statistic is dominated by them.
    assert_array_equal(correlation.get_support(indices=True), [0])
    assert_array_equal(anova.get_support(indices=True), [1])
    assert correlation.scores_[0] > 2 * correlation.scores_[1]


def test_mrmr_skips_a_duplicated_feature(data):
    X, y = data
    best = int(np.argmax(FilterSelector(method="anova").fit(X, y).scores_))  # mRMR's relevance order
    X_dup = np.column_stack([X, X[:, best]])  # column 30 copies the most relevant feature
    anova = FilterSelector(method="anova", k=5).fit(X_dup, y).get_support()
    assert anova[best] and anova[30]  # a univariate filter keeps both copies
    mrmr = FilterSelector(method="mrmr", k=30).fit(X_dup, y)
    assert mrmr.ranking_[best] == 1
    assert mrmr.ranking_[30] == 31 and not mrmr.get_support()[30]  # last, however many are chosen
    every = FilterSelector(method="mrmr", k=31).fit(X_dup, y)
    assert every.ranking_[30] == 31
    assert every.scores_[30] == -np.inf  # a copy has infinite redundancy under a Gaussian model


def test_mrmr_scores_only_the_features_it_reached(data):
    X, y = data
    selector = FilterSelector(method="mrmr", k=3).fit(X, y)
    reached = ~np.isnan(selector.scores_)
    assert reached.sum() == 3
    assert_array_equal(reached, selector.get_support())
    assert sorted(selector.ranking_) == list(range(1, 31))


@pytest.mark.parametrize("method", ["anova", "chi2"])
def test_undefined_scores_rank_last(method):
    X, y = make_classification(n_samples=100, n_features=5, n_informative=3, n_redundant=0, random_state=0)
    X = X - X.min(axis=0)
    X[:, 2] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        selector = FilterSelector(method=method, k=4).fit(X, y)
    assert np.isnan(selector.scores_[2])
    assert selector.ranking_[2] == 5


def test_auto_k_chooses_a_reasonable_number(data):
    X, y = data
    selector = FilterSelector(method="anova", k="auto").fit(X, y)
    assert list(selector.cv_scores_) == [1, 2, 4, 8, 16, 30]
    assert selector.k_ == max(selector.cv_scores_, key=selector.cv_scores_.get)
    assert 4 <= selector.k_ <= 8  # 5 informative features and 2 redundant ones
    assert selector.cv_scores_[selector.k_] > selector.cv_scores_[30]  # dropping noise helps
    assert selector.get_support().sum() == selector.k_


def test_auto_k_options_and_parallel_equals_sequential(data):
    X, y = data
    params = dict(method="mutual_info", k="auto", estimator=GaussianNB(), cv=3, scoring="balanced_accuracy")
    sequential = FilterSelector(**params, random_state=1).fit(X, y)
    with parallel_config(backend="threading"):
        parallel = FilterSelector(**params, n_jobs=2, random_state=1).fit(X, y)
    assert sequential.cv_scores_ == parallel.cv_scores_
    assert_array_equal(sequential.scores_, parallel.scores_)


def test_same_random_state_same_result(data):
    X, y = data
    first = FilterSelector(method="mutual_info", k=5, random_state=0).fit(X, y)
    second = FilterSelector(method="mutual_info", k=5, random_state=0).fit(X, y)
    assert_array_equal(first.scores_, second.scores_)
    params = dict(method="mutual_info", k="auto", estimator=GaussianNB(), cv=3)
    first = FilterSelector(**params, random_state=0).fit(X[:200, :10], y[:200])
    second = FilterSelector(**params, random_state=0).fit(X[:200, :10], y[:200])
    assert first.cv_scores_ == second.cv_scores_


def test_chi2_rejects_negative_values():
    X = pd.DataFrame({"count": [1.0, 2.0, 3.0, 4.0], "delta": [-1.0, 2.0, 0.5, 1.0]})
    with pytest.raises(ValueError, match=r"non-negative.*\['delta'\].*MinMaxScaler"):
        FilterSelector(method="chi2", k=1).fit(X, [0, 1, 0, 1])


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_X_points_to_imputation(data, bad):
    X, y = data
    X = X.copy()
    X[3, 4] = bad
    with pytest.raises(ValueError, match="(NaN|inf).*TypedImputer.*SimpleImputer"):
        FilterSelector().fit(X, y)


def test_bad_targets_and_k(data):
    X, y = data
    with pytest.raises(ValueError, match="at least 2 classes; y holds 1 class"):
        FilterSelector().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="continuous.*Regression targets are not supported"):
        FilterSelector().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="k=31 is larger than the number of features, n_features = 30"):
        FilterSelector(k=31).fit(X, y)
    with pytest.raises(ValueError, match="'method' parameter"):
        FilterSelector(method="gini").fit(X, y)


def test_inputs_are_not_modified(data):
    X, y = data
    frame = pd.DataFrame(X[:, :8], columns=[f"f{i}" for i in range(8)])
    X_before, y_before, frame_before = X.copy(), y.copy(), frame.copy()
    for method in METHODS:
        Xm = X - X.min(axis=0) if method == "chi2" else X
        Xm_before = Xm.copy()
        FilterSelector(method=method, k=3, random_state=0).fit(Xm, y).transform(Xm)
        assert_array_equal(Xm, Xm_before)
    FilterSelector(method="mrmr", k=3).fit(frame, y).transform(frame)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)
    assert_frame_equal(frame, frame_before)


def test_set_output_pandas_keeps_names(data):
    X, y = data
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(30)])
    selector = FilterSelector(method="anova", k=3).set_output(transform="pandas").fit(frame, y)
    out = selector.transform(frame)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(selector.get_feature_names_out())
    assert list(out.columns) == [f"f{i}" for i in selector.get_support(indices=True)]
    assert_array_equal(selector.inverse_transform(out.to_numpy())[:, selector.get_support()], out.to_numpy())


def test_pickle_round_trip(data):
    X, y = data
    selector = FilterSelector(method="mrmr", k=4).fit(X, y)
    loaded = pickle.loads(pickle.dumps(selector))
    assert_array_equal(loaded.transform(X), selector.transform(X))
    assert_array_equal(loaded.ranking_, selector.ranking_)


def test_in_pipeline_and_grid_search(data):
    X, y = data
    pipe = Pipeline([("select", FilterSelector()), ("model", LogisticRegression())])
    search = GridSearchCV(pipe, {"select__method": ["anova", "mrmr"], "select__k": [1, 5, 30]}, cv=3).fit(X, y)
    assert search.best_params_["select__k"] in (5, 30)
    assert search.best_estimator_.named_steps["select"].k_ == search.best_params_["select__k"]
    assert search.score(X, y) > 0.75
