"""Tabular over-samplers: exact counts, placement of new rows, pipelines, common checks."""
import doctest
import pickle
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from imblearn.over_sampling import SMOTE, SMOTEN, SMOTENC, RandomOverSampler
from imblearn.pipeline import Pipeline
from scipy import sparse
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV

from skautoml.prep import AutoSMOTE, GaussianNoiseOversampler, MixupOversampler



def _data(n=(60, 20, 10), n_features=4, seed=0):
    rng = np.random.RandomState(seed)
    y = np.repeat(np.arange(len(n)), n)
    X = rng.normal(size=(len(y), n_features)) + y[:, None] * 3.0
    return X, y


ALL = [AutoSMOTE, GaussianNoiseOversampler, MixupOversampler]


@pytest.mark.parametrize("cls", ALL)
@pytest.mark.parametrize(
    "strategy, expected",
    [("auto", {0: 60, 1: 60, 2: 60}), ({1: 25, 2: 40}, {0: 60, 1: 25, 2: 40}),
     ("minority", {0: 60, 1: 20, 2: 60})],
)
def test_exact_counts_and_originals_first(cls, strategy, expected):
    X, y = _data()
    X_orig, y_orig = X.copy(), y.copy()
    X_res, y_res = cls(sampling_strategy=strategy, random_state=0).fit_resample(X, y)
    assert dict(Counter(y_res.tolist())) == expected
    np.testing.assert_array_equal(X_res[: len(y)], X_orig)  # originals first, unchanged
    np.testing.assert_array_equal(y_res[: len(y)], y_orig)
    np.testing.assert_array_equal(X, X_orig)  # caller data never modified
    np.testing.assert_array_equal(y, y_orig)
    assert X_res.dtype == X.dtype


@pytest.mark.parametrize("cls", [GaussianNoiseOversampler, MixupOversampler])
def test_float32_kept_and_int_becomes_float(cls):
    X, y = _data()
    X_res, _ = cls(random_state=0).fit_resample(X.astype(np.float32), y)
    assert X_res.dtype == np.float32
    X_res, _ = cls(random_state=0).fit_resample(np.round(X * 10).astype(int), y)
    assert X_res.dtype == np.float64


def test_mixup_rows_inside_class_bounding_box():
    X, y = _data()
    X_res, y_res = MixupOversampler(alpha=1.0, random_state=0).fit_resample(X, y)
    new_X, new_y = X_res[len(y):], y_res[len(y):]
    for label in (1, 2):
        lo, hi = X[y == label].min(axis=0), X[y == label].max(axis=0)
        rows = new_X[new_y == label]
        assert len(rows) > 0
        assert np.all(rows >= lo - 1e-12) and np.all(rows <= hi + 1e-12)


def test_mixup_sparse_matches_dense():
    X, y = _data()
    X[X < 1] = 0.0
    dense, y_dense = MixupOversampler(random_state=0).fit_resample(X, y)
    X_sp, y_sp = MixupOversampler(random_state=0).fit_resample(sparse.csr_matrix(X), y)
    assert sparse.issparse(X_sp) and X_sp.format == "csr"
    np.testing.assert_allclose(X_sp.toarray(), dense)
    np.testing.assert_array_equal(y_sp, y_dense)


@pytest.mark.parametrize("noise_scale", [0.05, 0.2])
def test_noise_scale_respected(noise_scale):
    # Minority rows (+-1, +-100): per-feature std 1 and 100. Each new row's source
    # is recovered from the signs (noise is at most 0.2 std, far below the gap).
    X_min = np.array([[-1.0, -100.0], [-1.0, 100.0], [1.0, -100.0], [1.0, 100.0]])
    X = np.vstack([np.random.RandomState(0).normal(size=(2000, 2)), X_min])
    y = np.array([0] * 2000 + [1] * 4)
    X_res, _ = GaussianNoiseOversampler(noise_scale=noise_scale, random_state=0).fit_resample(X, y)
    new = X_res[len(y):]
    noise = new - np.sign(new) * [1.0, 100.0]
    np.testing.assert_allclose(noise.std(axis=0), [noise_scale, 100 * noise_scale], rtol=0.1)
    np.testing.assert_allclose(noise.mean(axis=0), [0, 0], atol=0.01 * 100 * noise_scale * 5)


def test_noise_zero_duplicates_rows():
    X, y = _data()
    X_res, y_res = GaussianNoiseOversampler(noise_scale=0.0, random_state=0).fit_resample(X, y)
    originals = {row.tobytes() for row in X}
    assert all(row.tobytes() in originals for row in X_res[len(y):])


@pytest.mark.parametrize("sizes", [(60, 20, 10), (600, 200, 100)])
def test_gaussian_noise_is_random_over_sampler_with_shrinkage_over_bandwidth(sizes):
    X, y = _data(n=sizes)
    bandwidth = (4 / ((X.shape[1] + 2) * len(y))) ** (1 / (X.shape[1] + 4))
    ours = GaussianNoiseOversampler(noise_scale=0.3, random_state=0).fit_resample(X, y)
    theirs = RandomOverSampler(shrinkage=0.3 / bandwidth, random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[1], theirs[1])


@pytest.mark.parametrize("cls", ALL)
def test_deterministic_with_random_state(cls):
    X, y = _data()
    a = cls(random_state=3).fit_resample(X, y)[0]
    b = cls(random_state=3).fit_resample(X, y)[0]
    c = cls(random_state=4).fit_resample(X, y)[0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_autosmote_picks_smotenc_for_string_column_and_smote_otherwise():
    X, y = _data(n=(30, 12))
    df = pd.DataFrame(X, columns=list("abcd"))
    df["color"] = np.where(np.arange(len(y)) % 3, "red", "blue")
    sampler = AutoSMOTE(random_state=0)
    X_res, y_res = sampler.fit_resample(df, y)
    assert sampler.method_ == "smotenc" and isinstance(sampler.sampler_, SMOTENC)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(df.columns)
    assert set(X_res["color"]) == {"red", "blue"}
    assert Counter(y_res.tolist()) == {0: 30, 1: 30}
    pd.testing.assert_frame_equal(X_res.iloc[: len(y)], df)

    sampler = AutoSMOTE(random_state=0).fit(df, y)  # fit accepts strings too
    sampler.fit_resample(df[list("abcd")], y)
    assert sampler.method_ == "smote" and type(sampler.sampler_) is SMOTE

    # category dtype: imblearn's own 'auto' detection is used
    df["color"] = df["color"].astype("category")
    sampler = AutoSMOTE(random_state=0)
    sampler.fit_resample(df, y)
    assert sampler.method_ == "smotenc" and sampler.sampler_.categorical_features == "auto"

    # explicit categorical_features on a numeric array
    Xc = X.copy()
    Xc[:, 0] = np.arange(len(y)) % 2
    sampler = AutoSMOTE(categorical_features=[0], random_state=0)
    X_res, _ = sampler.fit_resample(Xc, y)
    assert sampler.method_ == "smotenc"
    assert set(np.unique(X_res[:, 0])) <= {0.0, 1.0}

    # all columns categorical: SMOTE-NC cannot, SMOTEN can
    sampler = AutoSMOTE(random_state=0)
    sampler.fit_resample(df[["color"]].astype(str), y)
    assert sampler.method_ == "smoten" and isinstance(sampler.sampler_, SMOTEN)


@pytest.mark.parametrize("method", ["smote", "borderline", "adasyn"])
def test_autosmote_caps_k_neighbors_with_warning(method):
    X, y = _data(n=(40, 3), seed=1)
    if method == "adasyn":
        X[40:] = X[:3] + 0.01  # minority inside majority, so ADASYN has work to do
    sampler = AutoSMOTE(method=method, k_neighbors=5, random_state=0)
    with pytest.warns(UserWarning, match="k_neighbors=5 is too large.*using k_neighbors=2"):
        X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.k_neighbors_ == 2 and sampler.method_ == method
    assert Counter(y_res.tolist())[1] > 3


def test_autosmote_no_warning_when_classes_big_enough():
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sampler = AutoSMOTE(random_state=0)
        sampler.fit_resample(X, y)
    assert sampler.k_neighbors_ == 5


@pytest.mark.parametrize("cls", ALL)
def test_pipeline_grid_search_and_pickle(cls):
    X, y = make_classification(
        n_samples=120, weights=[0.85], n_features=5, random_state=0
    )
    pipe = Pipeline([("over", cls(random_state=0)), ("clf", LogisticRegression())])
    grid = GridSearchCV(
        pipe, {"over__sampling_strategy": ["auto", 0.5]}, cv=2, scoring="balanced_accuracy"
    ).fit(X, y)
    assert grid.best_score_ > 0.5
    restored = pickle.loads(pickle.dumps(grid.best_estimator_))
    np.testing.assert_array_equal(restored.predict(X), grid.predict(X))
    sampler = cls(random_state=0)
    sampler.fit_resample(X, y)
    again = pickle.loads(pickle.dumps(sampler))
    np.testing.assert_array_equal(again.fit_resample(X, y)[0], sampler.fit_resample(X, y)[0])


@pytest.mark.parametrize(
    "sampler, match",
    [
        (GaussianNoiseOversampler(noise_scale=-1), "noise_scale"),
        (MixupOversampler(alpha=0), "alpha"),
        (AutoSMOTE(method="tomek"), "method"),
        (AutoSMOTE(k_neighbors=0), "k_neighbors"),
        (MixupOversampler(sampling_strategy="bogus"), "sampling_strategy"),
    ],
)
def test_bad_parameters(sampler, match):
    X, y = _data()
    with pytest.raises(ValueError, match=match):
        sampler.fit_resample(X, y)


@pytest.mark.parametrize("cls", [GaussianNoiseOversampler, MixupOversampler])
def test_non_numeric_input_rejected(cls):
    X, y = _data(n=(10, 5))
    df = pd.DataFrame(X, columns=list("abcd"))
    df["s"] = "x"
    with pytest.raises(ValueError, match="needs numeric input"):
        cls().fit_resample(df, y)
    with pytest.raises(ValueError, match="NaN"):
        cls().fit_resample(np.where(X > 2, np.nan, X), y)


def test_gaussian_rejects_sparse():
    X, y = _data()
    with pytest.raises(TypeError, match="[Ss]parse"):
        GaussianNoiseOversampler().fit_resample(sparse.csr_matrix(X), y)


def test_autosmote_bad_input():
    X, y = _data(n=(10, 1))
    with pytest.raises(ValueError, match="at least 2 samples"):
        AutoSMOTE().fit_resample(X, y)
    X, y = _data(n=(10, 5))
    with pytest.raises(ValueError, match="needs categorical columns"):
        AutoSMOTE(method="smotenc").fit_resample(X, y)
    df = pd.DataFrame(X, columns=list("abcd"))
    df["s"] = "x"
    with pytest.raises(ValueError, match="needs numeric input"):
        AutoSMOTE(method="smote").fit_resample(df, y)


def test_docstring_examples_run():
    from skautoml.prep.augment import _tabular

    assert doctest.testmod(_tabular).failed == 0
