"""Feature construction: FeatureConstructor and Expression."""
import pickle

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.tree import DecisionTreeClassifier

from skautoml.features import OPERATIONS, Expression, FeatureConstructor

# The smallest settings that still search: one candidate per step, one step, two folds.


def _product_data(n=300, p=6, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, p))
    return X, (X[:, 0] * X[:, 1] > 0.3).astype(int)  # not at 0, where x0/x1 has the same sign


def _fast(**params):
    return FeatureConstructor(**{"max_candidates": 4, "max_features_added": 2, "cv": 3, "random_state": 0, **params})


@pytest.fixture(scope="module")
def product_fit():
    X, y = _product_data()
    return X, y, _fast().fit(X, y)


def test_finds_product_and_accuracy_jumps(product_fit):
    X, y, constructor = product_fit
    assert constructor.constructed_features_[0] == "x0*x1"
    assert constructor.base_score_ < 0.8
    assert constructor.best_score_ > 0.9
    assert constructor.scores_[0] == constructor.base_score_
    assert constructor.scores_[-1] == constructor.best_score_
    assert constructor.expressions_[0] == Expression("product", (0, 1))
    names = constructor.get_feature_names_out()
    assert list(names[:6]) == [f"x{j}" for j in range(6)]
    assert list(names[6:]) == constructor.constructed_features_


def test_path_records_candidates_and_kept_only_improve(product_fit):
    _, _, constructor = product_fit
    path = pd.DataFrame(constructor.construction_path_)
    assert len(path) >= 4 and set(path.columns) >= {"step", "feature", "cv_score", "improvement", "kept"}
    kept = path[path["kept"]]
    assert list(kept["feature"]) == constructor.constructed_features_
    assert (kept["improvement"] >= constructor.min_improvement).all()
    # a step that kept nothing ended the search: its best candidate did not improve enough
    last = path[path["step"] == path["step"].max()]
    if not last["kept"].any():
        assert last["improvement"].max() < constructor.min_improvement
    assert constructor.n_candidates_ > len(path[path["step"] == 1])


def test_ratio_found_by_name_with_dataframe_names():
    rng = np.random.RandomState(1)
    X = pd.DataFrame(rng.normal(size=(300, 5)), columns=["price", "area", "age", "rooms", "floor"])
    y = (X["price"] / X["area"] > 0.5).astype(int)
    constructor = _fast(operations=["ratio", "product"], max_features_added=1).fit(X, y)
    assert constructor.constructed_features_ == ["price/area"]
    assert constructor.best_score_ - constructor.base_score_ > 0.2
    out = constructor.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["price", "area", "age", "rooms", "floor", "price/area"]


def test_cap_on_added_features():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    # two interactions: a second feature would help
    y = (X[:, 0] * X[:, 1] + X[:, 2] * X[:, 3] > 0).astype(int)
    one = _fast(operations=["product"], max_features_added=1).fit(X, y)
    assert len(one.constructed_features_) == 1 and len(one.scores_) == 2
    assert one.transform(X).shape == (300, 6)
    two = _fast(operations=["product"], max_features_added=2).fit(X, y)
    assert sorted(two.constructed_features_) == ["x0*x1", "x2*x3"]
    assert two.best_score_ > one.best_score_


def test_nothing_kept_when_nothing_improves():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 4))
    y = rng.randint(0, 2, 200)  # noise: no feature can help
    constructor = _fast(min_improvement=0.05).fit(X, y)
    assert constructor.constructed_features_ == [] and constructor.expressions_ == []
    assert not constructor.construction_path_["kept"].any()
    assert (constructor.construction_path_["improvement"] < 0.05).all()
    assert constructor.best_score_ == constructor.base_score_
    assert_array_equal(constructor.transform(X), X)


def test_transform_recomputes_on_new_data(product_fit):
    _, _, constructor = product_fit
    X_new = np.array([[2.0, -3.0, 0, 0, 0, 0], [0.5, 4.0, 1, 1, 1, 1]])
    out = constructor.transform(X_new)
    assert_array_equal(out[:, :6], X_new)
    assert_allclose(out[:, 6], [-6.0, 2.0])  # x0*x1, by hand


def test_fit_transform_equals_fit_then_transform(product_fit):
    X, y, constructor = product_fit
    assert_allclose(_fast().fit_transform(X, y), constructor.transform(X))


def test_arithmetic_is_finite_and_by_hand():
    a = np.array([1.0, -2.0, 3.0, 0.0, 1e300, -5.0])
    b = np.array([0.0, 4.0, -0.5, 0.0, 1e-300, -2.0])
    X = np.column_stack([a, b])
    for op in ["sum", "difference", "product", "ratio", "min", "max", "mean"]:
        assert np.isfinite(Expression(op, (0, 1)).evaluate(X)).all(), op
    for op in ["log", "square"]:
        assert np.isfinite(Expression(op, (0,)).evaluate(X)).all(), op
    ratio = Expression("ratio", (0, 1)).evaluate(X).ravel()
    assert_allclose(ratio[[0, 1, 2, 3, 5]], [0.0, -0.5, -6.0, 0.0, 2.5])  # 0 where b == 0
    assert ratio[4] == 1e150  # overflow is clipped
    log = Expression("log", (0,)).evaluate(X).ravel()
    assert_allclose(log[[0, 1, 3, 5]], [np.log(2), -np.log(3), 0.0, -np.log(6)])  # signed log(1 + |a|)
    assert_allclose(Expression("mean", (0, 1)).evaluate(X).ravel()[[1, 5]], [1.0, -3.5])
    assert_allclose(Expression("square", (1,)).evaluate(X).ravel()[[1, 2]], [16.0, 0.25])


def test_boolean_operations_by_hand():
    X = np.array([[0, 0, 1], [0, 1, 1], [1, 0, 0], [1, 1, 1]], dtype=float)
    evaluate = lambda *args, **kw: Expression(*args, **kw).evaluate(X).ravel().tolist()  # noqa: E731
    assert evaluate("and", (0, 1)) == [0, 0, 0, 1]
    assert evaluate("or", (0, 1)) == [0, 1, 1, 1]
    assert evaluate("not", (0,)) == [1, 1, 0, 0]
    assert evaluate("and", (0, 1), negated=(False, True)) == [0, 0, 1, 0]
    assert evaluate("m_of_n", (0, 1, 2), m=2) == [0, 1, 0, 1]
    assert evaluate("m_of_n", (0, 1, 2), m=3) == [0, 0, 0, 1]
    assert evaluate("m_of_n", (0, 1, 2), m=1, negated=(True, False, False)) == [1, 1, 0, 1]
    names = ["smoker", "sport", "x 2"]
    assert Expression("and", (0, 1), negated=(False, True)).names(names) == ["smoker & ~sport"]
    assert Expression("or", (0, 2)).names(names) == ["smoker | (x 2)"]
    two_of = Expression("m_of_n", (0, 1, 2), m=2, negated=(False, True, False))
    assert two_of.names(names) == ["2-of(smoker,~sport,x 2)"]
    assert Expression("product", (0, 2)).names(names) == ["smoker*(x 2)"]
    assert Expression("square", (2,)).names(names) == ["(x 2)^2"]
    assert Expression("min", (0, 1)).names(names) == ["min(smoker,sport)"]


def test_boolean_construction_solves_xor():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 2, size=(300, 5)).astype(float)
    y = (X[:, 0] != X[:, 1]).astype(int)
    constructor = _fast(operations=["and", "or", "not"], max_features_added=1).fit(X, y)
    assert list(constructor.feature_kinds_) == ["boolean"] * 5
    assert constructor.base_score_ < 0.65 and constructor.best_score_ == 1.0
    assert constructor.expressions_[0].operation in ("and", "or")
    assert constructor.expressions_[0].inputs == (0, 1)


def test_m_of_n_found_for_a_stump():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 2, size=(300, 6)).astype(float)
    y = (X[:, [0, 2, 4]].sum(axis=1) >= 2).astype(int)
    stump = DecisionTreeClassifier(max_depth=1)
    constructor = _fast(estimator=stump, operations=["m_of_n"], max_features_added=1).fit(X, y)
    assert constructor.constructed_features_ == ["2-of(x0,x2,x4)"]
    assert constructor.base_score_ < 0.85 and constructor.best_score_ == 1.0


def _categorical_data(n=300, seed=0):
    rng = np.random.RandomState(seed)
    colour = rng.choice(["red", "green", "blue"], n)
    size = rng.choice(["s", "m", "l"], n)
    X = pd.DataFrame({"colour": colour, "size": size, "weight": rng.normal(size=n)})
    # the label depends on the pair only: no single category predicts it
    good = {("red", "s"), ("green", "m"), ("blue", "l"), ("red", "m")}
    y = np.array([(c, s) in good for c, s in zip(colour, size)], dtype=int)
    y[rng.rand(n) < 0.05] ^= 1  # some label noise
    return X, y


def test_cartesian_product_and_unseen_combinations():
    X, y = _categorical_data()
    constructor = _fast(operations=["cartesian", "product"], max_features_added=1).fit(X, y)
    assert list(constructor.feature_kinds_) == ["categorical", "categorical", "numeric"]
    assert constructor.constructed_features_ == ["cross(colour,size)"]
    assert constructor.best_score_ - constructor.base_score_ > 0.1
    new = pd.DataFrame({"colour": ["red", "purple", "green"], "size": ["s", "s", "xl"], "weight": [0.0, 1.0, 2.0]})
    out = constructor.transform(new)
    assert list(out.columns) == ["colour", "size", "weight", "cross(colour,size)"]
    assert list(out["colour"]) == ["red", "purple", "green"]  # original columns pass through
    encoder = constructor.expressions_[0].encoder
    assert out["cross(colour,size)"].iloc[0] > 0.8  # (red, s) is nearly always positive
    # unseen pairs get the target mean
    assert_allclose(out["cross(colour,size)"].iloc[1:], [encoder.target_mean_] * 2)
    # fit_transform cross-fits the encoding, so it differs from transform on the training rows
    train = _fast(operations=["cartesian", "product"], max_features_added=1).fit_transform(X, y)
    assert not np.allclose(train["cross(colour,size)"], constructor.transform(X)["cross(colour,size)"])


def test_categorical_features_parameter():
    X, y = _categorical_data(n=120)
    codes = np.column_stack([pd.factorize(X["colour"])[0], pd.factorize(X["size"])[0], X["weight"]])
    for spec in ([0, 1], [True, True, False]):
        constructor = _fast(operations=["cartesian"], categorical_features=spec, max_features_added=1).fit(codes, y)
        assert list(constructor.feature_kinds_) == ["categorical", "categorical", "numeric"]
        assert constructor.constructed_features_ == ["cross(x0,x1)"]
        assert constructor.transform(codes).dtype == np.float64
    named = _fast(operations=["cartesian"], categorical_features=["colour", "size"], max_features_added=1).fit(X, y)
    assert list(named.feature_kinds_) == ["categorical", "categorical", "numeric"]
    with pytest.raises(ValueError, match="not columns of X"):
        _fast(categorical_features=["shape"]).fit(X, y)
    with pytest.raises(ValueError, match="positions"):
        _fast(categorical_features=["colour"]).fit(codes, y)
    with pytest.raises(ValueError, match="not numeric.*categorical_features"):
        _fast(categorical_features=None).fit(X, y)


def test_regression_target():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5))
    y = X[:, 1] * X[:, 3] + 0.1 * rng.normal(size=300)
    constructor = _fast(operations=["product", "sum"], max_features_added=1).fit(X, y)
    assert constructor.constructed_features_ == ["x1*x3"]
    assert constructor.base_score_ < 0.1 and constructor.best_score_ > 0.9  # R²
    custom = _fast(estimator=Ridge(), operations=["product"], max_features_added=1, scoring="r2").fit(X, y)
    assert custom.constructed_features_ == ["x1*x3"]


def test_set_output_pandas(product_fit):
    X, y, _ = product_fit
    constructor = _fast().set_output(transform="pandas").fit(X, y)
    out = constructor.transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(constructor.get_feature_names_out())
    assert "x0*x1" in out.columns
    assert_allclose(out["x0*x1"], X[:, 0] * X[:, 1])


def test_dataframe_without_string_names_gets_string_columns():
    X, y = _product_data(n=150, p=3)
    out = _fast(operations=["product"], max_features_added=1).fit(pd.DataFrame(X), y).transform(pd.DataFrame(X))
    assert list(out.columns) == ["x0", "x1", "x2", "x0*x1"]


def test_bad_input_errors():
    X, y = _product_data(n=60, p=3)
    X_nan = X.copy()
    X_nan[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN.*TypedImputer.*SimpleImputer"):
        _fast().fit(X_nan, y)
    X_inf = X.copy()
    X_inf[0, 0] = np.inf
    with pytest.raises(ValueError, match="inf"):
        _fast().fit(X_inf, y)
    frame = pd.DataFrame({"c": ["a", None] * 30, "v": X[:, 0]})
    with pytest.raises(ValueError, match="NaN.*column 'c'.*TypedImputer"):
        _fast().fit(frame, y)
    with pytest.raises(ValueError, match="1 class.*constant target"):
        _fast().fit(X, np.zeros(60))
    with pytest.raises(ValueError, match="constant"):
        _fast(estimator=Ridge()).fit(X, np.full(60, 2.5))
    with pytest.raises(ValueError, match="Unknown operations \\['cube'\\].*valid operations are.*'product'"):
        _fast(operations=["product", "cube"]).fit(X, y)
    with pytest.raises(ValueError, match="operations is empty"):
        _fast(operations=[]).fit(X, y)
    with pytest.raises(ValueError, match="requires y"):
        _fast().fit(X, None)
    with pytest.raises(ValueError, match="needs at least 3 samples; got n_samples=2"):
        _fast().fit(X[:2], y[:2])
    fitted = _fast().fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        fitted.transform(X_nan)
    with pytest.raises(ValueError, match="Unknown operation 'cube'"):
        Expression("cube", (0,))
    with pytest.raises(ValueError, match="cannot take inputs"):
        Expression("product", (0,))


def test_inputs_unchanged():
    X, y = _product_data(n=120, p=4)
    X_before, y_before = X.copy(), y.copy()
    frame = pd.DataFrame(X, columns=list("abcd")).assign(c1=["u", "v", "w"] * 40, c2=["p", "q"] * 60)
    frame_before = frame.copy()
    _fast(max_features_added=1).fit(X, y).transform(X)
    _fast(max_features_added=1).fit_transform(frame, y)
    assert_array_equal(X, X_before)
    assert_array_equal(y, y_before)
    pd.testing.assert_frame_equal(frame, frame_before)


def test_pickle_roundtrip(product_fit):
    X, _, constructor = product_fit
    X_cat, y_cat = _categorical_data(n=120)
    with_encoder = _fast(operations=["cartesian"], max_features_added=1, min_improvement=0).fit(X_cat, y_cat)
    for fitted, data in [(constructor, X), (with_encoder, X_cat)]:
        loaded = pickle.loads(pickle.dumps(fitted))
        assert_array_equal(np.asarray(loaded.transform(data)), np.asarray(fitted.transform(data)))
        assert list(loaded.get_feature_names_out()) == list(fitted.get_feature_names_out())


def test_pipeline_and_grid_search():
    X, y = _product_data(n=240, p=4)
    pipe = make_pipeline(_fast(max_candidates=2), LogisticRegression())
    search = GridSearchCV(pipe, {"featureconstructor__operations": [["sum"], ["product"]]}, cv=3).fit(X, y)
    assert search.best_params_["featureconstructor__operations"] == ["product"]
    assert search.best_score_ > 0.85
    assert "x0*x1" in search.best_estimator_[0].constructed_features_


def test_deterministic_and_parallel_equal_sequential():
    X, y = _product_data(n=150, p=4)
    first = _fast().fit(X, y)
    second = _fast().fit(X, y)
    with parallel_config(backend="threading"):  # threads: no process start-up in the test
        parallel = _fast(n_jobs=2).fit(X, y)
    for other in (second, parallel):
        assert other.constructed_features_ == first.constructed_features_
        assert_array_equal(other.construction_path_["cv_score"], first.construction_path_["cv_score"])
        assert_array_equal(other.transform(X), first.transform(X))


def test_operations_table():
    assert {"sum", "difference", "product", "ratio", "min", "max", "mean", "log", "square"} < set(OPERATIONS)
    assert {"and", "or", "not", "cartesian", "m_of_n"} < set(OPERATIONS)
