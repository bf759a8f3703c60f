"""The data-cleaning transformers of skautoml.prep."""
import pickle

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_array_equal
from pandas.testing import assert_frame_equal
from sklearn import config_context
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from skautoml.prep import (
    AutoCleaner,
    DropUninformativeColumns,
    OutlierClipper,
    RareCategoryEncoder,
    TypedImputer,
    infer_column_types,
)

ALL = [DropUninformativeColumns, OutlierClipper, RareCategoryEncoder, TypedImputer]

def _mixed():
    return pd.DataFrame(
        {
            "age": [20.0, np.nan, 40.0, 30.0, 25.0, 35.0],
            "city": ["a", "a", None, "b", "a", "b"],
            "flag": [0, 1, 1, np.nan, 1, 0],
            "size": pd.Categorical(["s", "m", None, "m", "m", "s"]),
        }
    )


def test_infer_column_types():
    X = _mixed().assign(ok=[True, False] * 3, rating=[1, 2, 3, 1, 2, 3], empty=np.nan)
    assert infer_column_types(X) == {
        "age": "numeric",
        "city": "categorical",
        "flag": "boolean",
        "size": "categorical",
        "ok": "boolean",
        "rating": "numeric",
        "empty": "numeric",
    }
    assert infer_column_types(X, max_categories=3)["rating"] == "categorical"
    assert infer_column_types(np.array([[0.5, 1], [2, 0]])) == {0: "numeric", 1: "boolean"}
    assert infer_column_types(np.array([["a", 1]], dtype=object)) == {0: "categorical", 1: "categorical"}
    with pytest.raises(ValueError, match="2-D"):
        infer_column_types(np.arange(3))
    with pytest.raises(ValueError, match="max_categories"):
        infer_column_types(X, max_categories=0)


def test_drop_uninformative_columns_dataframe():
    X = pd.DataFrame(
        {
            "a": [1, 2, 3, 4],
            "const": ["x", "x", "x", None],
            "near": [5, 5, 5, 6],
            "dup": [1, 2, 3, 4],
            "cat": pd.Categorical(["u", "v", "u", "v"]),
            "cat_dup": pd.Categorical(["u", "v", "u", "v"]),
        }
    )
    original = X.copy()
    drop = DropUninformativeColumns().fit(X)
    assert drop.drop_reasons_ == {"const": "constant", "dup": "duplicate of a", "cat_dup": "duplicate of cat"}
    assert drop.dropped_columns_ == ["const", "dup", "cat_dup"]
    assert_frame_equal(drop.transform(X), X[["a", "near", "cat"]])
    assert_array_equal(drop.get_feature_names_out(), ["a", "near", "cat"])
    near = DropUninformativeColumns(near_constant_threshold=0.75, drop_duplicates=False).fit(X)
    assert near.drop_reasons_ == {"const": "constant", "near": "near-constant"}
    assert_frame_equal(X, original)
    # Unused categories of a categorical dtype do not count as values.
    unused = X.assign(cat=pd.Categorical(["u"] * 4, categories=["u", "v"]))
    assert DropUninformativeColumns().fit(unused).drop_reasons_["cat"] == "constant"


def test_drop_uninformative_columns_array():
    X = np.array([[1.0, 7.0, 1.0, np.nan], [2.0, 7.0, 2.0, 3.0], [3.0, 7.0, 3.0, 4.0]])
    drop = DropUninformativeColumns().fit(X)
    assert drop.drop_reasons_ == {1: "constant", 2: "duplicate of 0"}
    assert_array_equal(drop.transform(X), X[:, [0, 3]])
    assert_array_equal(drop.get_feature_names_out(), ["x0", "x3"])


def test_drop_uninformative_columns_refuses_to_drop_everything():
    with pytest.raises(ValueError, match="would drop every column"):
        DropUninformativeColumns().fit(pd.DataFrame({"a": [1, 1], "b": ["z", "z"]}))


def test_outlier_clipper():
    X = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 100.0], "b": [np.nan] * 5})
    original = X.copy()
    clipper = OutlierClipper().fit(X)
    assert_array_equal(clipper.lower_, [-1.0, -np.inf])
    assert_array_equal(clipper.upper_, [7.0, np.inf])
    assert_array_equal(clipper.transform(X), [[1, np.nan], [2, np.nan], [3, np.nan], [4, np.nan], [7, np.nan]])
    quantile = OutlierClipper(method="quantile", quantile_range=(0.25, 0.75)).fit(X[["a"]].to_numpy())
    assert_array_equal(quantile.transform(np.array([[0.0], [2.5], [9.0]])), [[2.0], [2.5], [4.0]])
    assert_frame_equal(X, original)


def test_outlier_clipper_bad_input():
    with pytest.raises(ValueError, match="numeric columns only"):
        OutlierClipper().fit(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    with pytest.raises(ValueError, match="quantile_range"):
        OutlierClipper(method="quantile", quantile_range=(0.9, 0.1)).fit([[1.0], [2.0]])
    with pytest.raises(ValueError, match="method"):
        OutlierClipper(method="zscore").fit([[1.0], [2.0]])


def test_typed_imputer_dataframe():
    X = _mixed()
    original = X.copy()
    imputer = TypedImputer(add_indicator=True).fit(X)
    assert imputer.column_types_ == {"age": "numeric", "city": "categorical", "flag": "boolean", "size": "categorical"}
    out = imputer.transform(X)
    assert_array_equal(out["age"], [20.0, 30.0, 40.0, 30.0, 25.0, 35.0])
    assert_array_equal(out["city"], ["a", "a", "a", "b", "a", "b"])
    assert_array_equal(out["flag"], [0, 1, 1, 1, 1, 0])
    assert_array_equal(out["size"].astype(str), ["s", "m", "m", "m", "m", "s"])
    assert_array_equal(out["age_missing"], [0, 1, 0, 0, 0, 0])
    assert list(out.columns) == list(imputer.get_feature_names_out())
    assert list(out.columns)[4:] == ["age_missing", "city_missing", "flag_missing", "size_missing"]
    assert_frame_equal(X, original)


def test_typed_imputer_unseen_and_empty_columns():
    X = pd.DataFrame({"num": [1.0, 2.0, 4.0], "cat": ["a", "b", "b"], "gone": [np.nan] * 3, "gone_cat": [None] * 3})
    for strategy in ["median", "mean", "iterative"]:
        imputer = TypedImputer(numeric_strategy=strategy).fit(X)
        new = pd.DataFrame({"num": [np.nan], "cat": [None], "gone": [np.nan], "gone_cat": [None]})
        out = imputer.transform(new)
        assert out["cat"].tolist() == ["b"] and out["gone"].tolist() == [0.0] and out["gone_cat"].tolist() == ["missing"]
        assert np.isfinite(out["num"]).all()
    assert TypedImputer().fit(X).transform(X.iloc[:1].assign(num=np.nan))["num"].tolist() == [2.0]
    constant = TypedImputer(categorical_strategy="constant").fit(X)
    assert constant.transform(pd.DataFrame({"num": [1.0], "cat": [None], "gone": [1.0], "gone_cat": [None]}))[
        "cat"
    ].tolist() == ["missing"]


def test_typed_imputer_array():
    X = np.array([[1.0, 0.0], [np.nan, 1.0], [3.0, np.nan], [5.0, 1.0]])
    original = X.copy()
    out = TypedImputer(add_indicator=True).fit_transform(X)
    assert_array_equal(out, [[1, 0, 0, 0], [3, 1, 1, 0], [3, 1, 0, 1], [5, 1, 0, 0]])
    assert out.dtype == np.float64
    assert_array_equal(X, original)


def test_rare_category_encoder_onehot():
    X = pd.DataFrame({"colour": ["red"] * 4 + ["blue", "green"], "size": [1.0, 2, 3, 4, 5, 6]})
    encoder = RareCategoryEncoder(min_frequency=2).fit(X)
    assert_array_equal(encoder.get_feature_names_out(), ["colour_red", "colour_infrequent_sklearn", "size"])
    new = pd.DataFrame({"colour": ["blue", "red", "never-seen"], "size": [7.0, 8, 9]})
    assert_array_equal(encoder.transform(new), [[0, 1, 7], [1, 0, 8], [0, 1, 9]])
    as_share = RareCategoryEncoder(min_frequency=0.3).fit(X)  # 1/6 < 0.3 <= 4/6
    assert_array_equal(as_share.get_feature_names_out(), encoder.get_feature_names_out())


def test_rare_category_encoder_ordinal_and_arrays():
    X = np.array([["a"], ["a"], ["a"], ["b"], ["b"], ["c"]], dtype=object)
    encoder = RareCategoryEncoder(min_frequency=2, encoding="ordinal").fit(X)
    assert_array_equal(encoder.transform(np.array([["a"], ["b"], ["c"], ["zzz"]], dtype=object)), [[0], [1], [2], [2]])
    assert_array_equal(encoder.get_feature_names_out(), ["x0"])
    # No rare category in the column: an unknown becomes -1 (ordinal) or all zeros (one-hot).
    frequent = np.array([["a"], ["b"]] * 3, dtype=object)
    unknown = np.array([["zzz"]], dtype=object)
    assert_array_equal(RareCategoryEncoder(min_frequency=2, encoding="ordinal").fit(frequent).transform(unknown), [[-1]])
    assert_array_equal(RareCategoryEncoder(min_frequency=2).fit(frequent).transform(unknown), [[0, 0]])
    with pytest.raises(ValueError, match="unknown categor"):
        RareCategoryEncoder(handle_unknown="error").fit(frequent).transform(unknown)


def test_ordinal_encoding_of_a_table_without_categorical_columns_passes_it_through():
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.25, 0.0]})
    encoder = RareCategoryEncoder(encoding="ordinal").fit(frame)
    assert encoder.categorical_features_.size == 0
    assert_array_equal(encoder.transform(frame), frame.to_numpy())
    assert AutoCleaner(encoding="ordinal").fit_transform(frame).shape == (3, 2)


def test_bad_parameters():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    for estimator, match in [
        (DropUninformativeColumns(near_constant_threshold=0), "near_constant_threshold"),
        (OutlierClipper(factor=-1), "factor"),
        (TypedImputer(numeric_strategy="mode"), "numeric_strategy"),
        (RareCategoryEncoder(min_frequency=1.5), "min_frequency"),
        (RareCategoryEncoder(encoding="target"), "encoding"),
    ]:
        with pytest.raises(ValueError, match=match):
            estimator.fit(X)


@pytest.mark.parametrize("cls", ALL)
def test_bad_input(cls):
    with pytest.raises(ValueError, match="2D array|2-D"):
        cls().fit(np.arange(4.0))
    with pytest.raises(ValueError, match="at least one row|0 sample"):
        cls().fit(pd.DataFrame({"a": []}))
    fitted = cls().fit(np.array([[1.0, 0.5], [2.0, 0.1], [3.0, 0.2]]))
    with pytest.raises(ValueError, match="features"):
        fitted.transform(np.ones((2, 3)))


@pytest.mark.parametrize(
    "estimator",
    [DropUninformativeColumns(), OutlierClipper(), RareCategoryEncoder(min_frequency=2), TypedImputer(add_indicator=True)],
    ids=lambda estimator: type(estimator).__name__,
)
def test_pandas_output_and_pickle(estimator):
    X = pd.DataFrame({"a": [1.0, 2.0, np.nan, 4.0, 2.0], "b": [3.0, 3.0, 3.0, 3.0, 3.0], "c": [1.0, 5.0, 1.0, 5.0, 5.0]})
    if isinstance(estimator, RareCategoryEncoder):
        X = X.assign(c=["x", "y", "x", "y", "z"])
    original = X.copy()
    out = estimator.set_output(transform="pandas").fit_transform(X)
    assert list(out.columns) == list(estimator.get_feature_names_out())
    expected = {
        "DropUninformativeColumns": ["a", "c"],
        "OutlierClipper": ["a", "b", "c"],
        "RareCategoryEncoder": ["c_x", "c_y", "c_infrequent_sklearn", "a", "b"],
        "TypedImputer": ["a", "b", "c", "a_missing"],
    }[type(estimator).__name__]
    assert list(out.columns) == expected
    with config_context(transform_output="pandas"):  # the global setting works the same way
        assert_frame_equal(type(estimator)(**estimator.get_params()).fit_transform(X), out)
    restored = pickle.loads(pickle.dumps(estimator))
    assert_frame_equal(restored.transform(X), out)
    assert_frame_equal(X, original)


def test_pipeline_grid_search():
    rng = np.random.RandomState(0)
    n = 80
    y = rng.randint(0, 2, n)
    X = pd.DataFrame(
        {
            "signal": y + rng.normal(0, 0.3, n),
            "noise": np.where(rng.rand(n) < 0.2, np.nan, rng.normal(size=n)),
            "const": 1.0,
            "colour": np.where(y == 1, "red", "blue").astype(object),
        }
    )
    X.loc[rng.rand(n) < 0.1, "colour"] = None
    X.loc[:3, "colour"] = "rare"
    pipe = make_pipeline(
        DropUninformativeColumns(), TypedImputer(), RareCategoryEncoder(min_frequency=5), LogisticRegression()
    )
    search = GridSearchCV(pipe, {"typedimputer__numeric_strategy": ["median", "mean"]}, cv=3).fit(X, y)
    assert search.best_score_ > 0.9
    assert search.best_estimator_[:-1].get_feature_names_out().tolist() == [
        "colour_blue",
        "colour_red",
        "colour_infrequent_sklearn",
        "signal",
        "noise",
    ]
