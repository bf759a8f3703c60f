"""Greedy ensemble selection and the weighted ensemble (skautoml.automl._ensemble)."""
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_iris, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import log_loss
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from skautoml.automl._ensemble import WeightedEnsemble, check_ensemble_selection, ensemble_selection


def neg_mse(y, pred, sample_weight):
    return -np.average((y - pred) ** 2, weights=sample_weight)


def neg_log_loss(y, proba, sample_weight):
    return -log_loss(y, proba, sample_weight=sample_weight, labels=range(proba.shape[1]))


class Constant:
    """A fitted classifier without predict_proba that always predicts one label."""

    def __init__(self, label, classes):
        self.label, self.classes_ = label, np.asarray(classes)

    def predict(self, X):
        return np.full(len(X), self.label)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def target():
    return np.linspace(0.0, 10.0, 50)


# ensemble_selection


def test_perfect_model_takes_all_weight(target):
    rng = np.random.default_rng(0)
    noisy = [target + rng.normal(0, 1, target.shape) for _ in range(3)]
    weights = ensemble_selection([noisy[0], noisy[1], target.copy(), noisy[2]], target, neg_mse, size=10)
    np.testing.assert_array_equal(weights, [0, 0, 1, 0])


def test_complementary_models_beat_best_single(target):
    predictions = [target + 1.0, target - 1.0, target + 0.9]
    weights = ensemble_selection(predictions, target, neg_mse, size=10)
    best_single = max(neg_mse(target, p, None) for p in predictions)
    ensemble = neg_mse(target, sum(w * p for w, p in zip(weights, predictions)), None)
    assert ensemble > best_single + 0.5
    assert weights[1] > 0 and weights[2] > 0  # the best single model plus its opposite


def test_weights_are_multiples_of_one_over_size_and_sum_to_one():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 40)
    predictions = [rng.dirichlet(np.ones(3), size=40) for _ in range(6)]
    weights = ensemble_selection(predictions, y, neg_log_loss, size=7)
    assert weights.shape == (6,) and weights.dtype == float
    assert weights.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(weights * 7, np.round(weights * 7), atol=1e-12)


def test_model_can_be_chosen_more_than_once(target):
    # the best mix of biases +1 and -3 is 3:1, which size 4 reaches only by choosing the first model 3 times
    weights = ensemble_selection([target + 1.0, target - 3.0], target, neg_mse, size=4)
    np.testing.assert_allclose(weights, [0.75, 0.25])


def test_ties_go_to_lower_index():
    target = np.arange(10.0)  # integers, so both biases give exactly the same error
    np.testing.assert_array_equal(ensemble_selection([target + 1, target + 1], target, neg_mse, size=3), [1, 0])
    np.testing.assert_array_equal(ensemble_selection([target - 1, target + 1], target, neg_mse, size=1), [1, 0])


def test_non_finite_models_get_zero_weight(target):
    with_nan, with_inf = target.copy(), target.copy()
    with_nan[3], with_inf[7] = np.nan, np.inf
    weights = ensemble_selection([with_nan, target + 2.0, with_inf, target - 2.0], target, neg_mse, size=6)
    assert weights[0] == 0 and weights[2] == 0
    assert weights.sum() == pytest.approx(1.0)


def test_sample_weight_reaches_score(target):
    seen = []

    def score(y, pred, sample_weight):
        seen.append(sample_weight)
        return neg_mse(y, pred, sample_weight)

    sample_weight = np.arange(1.0, len(target) + 1)
    ensemble_selection([target + 1, target - 1], target, score, size=2, sample_weight=sample_weight)
    assert len(seen) == 4 and all(s is sample_weight for s in seen)


def test_sample_weight_changes_choice():
    y = np.zeros(4)
    good_early, good_late = np.array([0, 0, 9, 9.0]), np.array([9, 9, 0, 0.0])
    late = np.array([0, 0, 1, 1.0])
    assert ensemble_selection([good_early, good_late], y, neg_mse, 1).tolist() == [1, 0]
    assert ensemble_selection([good_early, good_late], y, neg_mse, 1, sample_weight=late).tolist() == [0, 1]


@pytest.mark.parametrize(
    "predictions, y, size, message",
    [
        ([np.zeros(3)], np.zeros(3), 0, "size must be an integer of at least 1"),
        ([np.zeros(3)], np.zeros(3), -2, "size must be an integer of at least 1"),
        ([np.zeros(3)], np.zeros(3), 2.5, "size must be an integer of at least 1"),
        ([], np.zeros(3), 5, "predictions is empty"),
        ([np.zeros(3), np.zeros(4)], np.zeros(3), 5, "must have one shape.*model 1 has \\(4,\\)"),
        ([np.zeros((3, 2)), np.zeros((3, 3))], np.zeros(3), 5, "must have one shape"),
        ([np.zeros(4), np.zeros(4)], np.zeros(3), 5, "y has 3 samples"),
        ([np.full(3, np.nan), np.array([0, np.inf, 0])], np.zeros(3), 5, "all 2 models have NaN or infinite"),
    ],
)
def test_bad_input_raises(predictions, y, size, message):
    with pytest.raises(ValueError, match=message):
        ensemble_selection(predictions, y, neg_mse, size)


def test_bad_sample_weight_length_raises():
    with pytest.raises(ValueError, match="sample_weight has 2 entries"):
        ensemble_selection([np.zeros(3)], np.zeros(3), neg_mse, 1, sample_weight=np.ones(2))


# check_ensemble_selection


def halves(n):
    """Two parts whose held rows are the first and the second half."""
    first, second = np.arange(n // 2), np.arange(n // 2, n)
    return [(second, first), (first, second)]


def test_the_check_finds_an_ensemble_that_beats_every_model(target):
    predictions = [target + 1.0, target - 1.0, target + 3.0]
    single_best, ensemble = check_ensemble_selection(predictions, target, neg_mse, 4, halves(len(target)))
    assert single_best == pytest.approx(-1.0) and ensemble == pytest.approx(0.0)


def test_the_check_makes_both_choices_on_the_fit_rows_only(target):
    # Model 0 is exact on the first half and far off on the second; model 1 is off by 1 everywhere.
    half = len(target) // 2
    lucky = target.copy()
    lucky[half:] += 5.0
    predictions = [lucky, target + 1.0]
    single_best, ensemble = check_ensemble_selection(predictions, target, neg_mse, 1, halves(len(target)))
    # Fitted on the second half, both choices take model 1 (-1 on the first half); fitted on the first,
    # they take model 0, which scores -25 on the second half.
    assert single_best == pytest.approx((-1.0 - 25.0) / 2) and ensemble == pytest.approx(single_best)


def test_the_check_passes_the_rows_weights_on():
    y = np.array([0.0, 0.0, 1.0, 1.0])
    seen = []

    def score(targets, pred, sample_weight):
        seen.append(None if sample_weight is None else sample_weight.tolist())
        return neg_mse(targets, pred, sample_weight)

    parts = [(np.array([0, 2]), np.array([1, 3]))]
    check_ensemble_selection([y, y + 1], y, score, 1, parts, sample_weight=np.array([1.0, 2.0, 3.0, 4.0]))
    assert [1.0, 3.0] in seen and [2.0, 4.0] in seen and None not in seen


def test_the_check_skips_models_with_non_finite_predictions(target):
    broken = target.copy()
    broken[3] = np.nan
    single_best, ensemble = check_ensemble_selection([broken, target + 1.0], target, neg_mse, 2, halves(len(target)))
    assert single_best == pytest.approx(-1.0) and ensemble == pytest.approx(-1.0)


def test_the_check_needs_parts_and_a_finite_model(target):
    with pytest.raises(ValueError, match="parts is empty"):
        check_ensemble_selection([target], target, neg_mse, 1, [])
    with pytest.raises(ValueError, match="nothing to check"):
        check_ensemble_selection([np.full_like(target, np.nan)], target, neg_mse, 1, halves(len(target)))


# WeightedEnsemble, classification


@pytest.fixture(scope="module")
def members(iris):
    X, y = iris
    logistic = LogisticRegression(max_iter=500).fit(X, y)
    partial = y != 0  # the tree never sees class 0
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X[partial], y[partial])
    return logistic, tree


def test_classification_averages_aligned_probabilities(iris, members):
    X, _ = iris
    logistic, tree = members
    classes = np.array([2, 0, 1])  # not the members' sorted order
    ensemble = WeightedEnsemble([logistic, tree], [0.7, 0.3], "classification", classes=classes)
    proba = ensemble.predict_proba(X)
    tree_aligned = np.zeros((len(X), 3))
    tree_aligned[:, [2, 0]] = tree.predict_proba(X)  # tree columns are classes 1, 2
    np.testing.assert_allclose(proba, 0.7 * logistic.predict_proba(X)[:, [2, 0, 1]] + 0.3 * tree_aligned)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(ensemble.predict(X), classes[np.argmax(proba, axis=1)])
    np.testing.assert_array_equal(ensemble.classes_, classes)


def test_single_member_reproduces_it(iris, members):
    X, _ = iris
    logistic, tree = members
    ensemble = WeightedEnsemble([logistic, tree], [1.0, 0.0], "classification", classes=[0, 1, 2])
    assert len(ensemble.estimators_) == 1 and ensemble.estimators_[0] is logistic
    np.testing.assert_allclose(ensemble.predict_proba(X), logistic.predict_proba(X))
    np.testing.assert_array_equal(ensemble.predict(X), logistic.predict(X))


def test_string_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    member = LogisticRegression(max_iter=500).fit(X, names)
    ensemble = WeightedEnsemble([member], [1], "classification", classes=["virginica", "setosa", "versicolor"])
    np.testing.assert_array_equal(ensemble.predict(X), member.predict(X))


@pytest.mark.parametrize("no_proba", [LinearSVC(), SVC(), make_pipeline(StandardScaler(), SVC())])
def test_member_without_proba_falls_back_to_vote(iris, members, no_proba):
    X, y = iris
    no_proba = no_proba.fit(X, y)
    logistic, _ = members
    ensemble = WeightedEnsemble([no_proba, logistic], [0.6, 0.4], "classification", classes=[0, 1, 2])
    assert not hasattr(ensemble, "predict_proba")
    with pytest.raises(AttributeError) as raised:
        ensemble.predict_proba(X)
    assert "does not" in str(raised.value.__cause__)  # available_if keeps the reason as the cause
    np.testing.assert_array_equal(ensemble.predict(X), no_proba.predict(X))  # the heavier member wins every vote


def test_weighted_vote_adds_up_weights():
    X = np.zeros((5, 1))
    classes = ["a", "b", "c"]
    outvoted = WeightedEnsemble([Constant("a", classes), Constant("c", classes), Constant("c", classes)],
                                [0.4, 0.3, 0.3], "classification", classes=classes)
    assert outvoted.predict(X).tolist() == ["c"] * 5
    tied = WeightedEnsemble([Constant("c", classes), Constant("b", classes)], [1, 1], "classification", classes=classes)
    assert tied.predict(X).tolist() == ["b"] * 5  # the earlier class in classes_ wins a tie


# WeightedEnsemble, regression


def test_regression_is_weighted_mean():
    X, y = make_regression(n_samples=60, n_features=4, noise=5.0, random_state=0)
    linear, tree = LinearRegression().fit(X, y), DecisionTreeRegressor(max_depth=3, random_state=0).fit(X, y)
    ensemble = WeightedEnsemble([linear, tree, LinearRegression().fit(X[:5], y[:5])], [3, 1, 0], "regression")
    np.testing.assert_allclose(ensemble.weights_, [0.75, 0.25])
    assert ensemble.classes_ is None and len(ensemble.estimators_) == 2
    np.testing.assert_allclose(ensemble.predict(X), 0.75 * linear.predict(X) + 0.25 * tree.predict(X))
    assert not hasattr(ensemble, "predict_proba")


def test_selection_weights_drive_ensemble(iris, members):
    X, y = iris
    logistic, tree = members
    y_index = y  # iris labels are already the column indices 0..2
    proba = [logistic.predict_proba(X), np.zeros((len(X), 3))]
    proba[1][:, 1:] = tree.predict_proba(X)
    weights = ensemble_selection(proba, y_index, neg_log_loss, size=5)
    ensemble = WeightedEnsemble([logistic, tree], weights, "classification", classes=[0, 1, 2])
    assert neg_log_loss(y, ensemble.predict_proba(X), None) >= max(neg_log_loss(y, p, None) for p in proba) - 1e-12


# WeightedEnsemble, pickling, repr and bad input


def test_pickle_round_trip(iris, members):
    X, _ = iris
    classification = WeightedEnsemble(members, [0.5, 0.5], "classification", classes=[0, 1, 2])
    regression = WeightedEnsemble([LinearRegression().fit(X[:, :3], X[:, 3])], [1], "regression")
    for ensemble, features in [(classification, X), (regression, X[:, :3])]:
        restored = pickle.loads(pickle.dumps(ensemble))
        np.testing.assert_array_equal(restored.predict(features), ensemble.predict(features))
    restored = pickle.loads(pickle.dumps(classification))
    np.testing.assert_array_equal(restored.predict_proba(X), classification.predict_proba(X))


def test_repr_lists_members_and_weights(members):
    text = repr(WeightedEnsemble(members, [0.75, 0.25], "classification", classes=[0, 1, 2]))
    assert text == "WeightedEnsemble(classification: LogisticRegression 0.75, DecisionTreeClassifier 0.25)"
    pipeline = make_pipeline(StandardScaler(), LinearRegression()).fit(np.eye(3), [0.0, 1.0, 2.0])
    assert "Pipeline(LinearRegression) 1" in repr(WeightedEnsemble([pipeline], [2], "regression"))


@pytest.mark.parametrize(
    "weights, task, classes, message",
    [
        ([1.0], "classification", [0, 1, 2], "one number per estimator"),
        ([1.0, -0.5], "classification", [0, 1, 2], "finite and non-negative"),
        ([1.0, np.nan], "classification", [0, 1, 2], "finite and non-negative"),
        ([0.0, 0.0], "classification", [0, 1, 2], "at least one weight must be positive"),
        ([1.0, 1.0], "clustering", [0, 1, 2], "task must be 'classification' or 'regression'"),
        ([1.0, 1.0], "classification", None, "classes is required"),
        ([1.0, 1.0], "regression", [0, 1, 2], "classes is only for classification"),
        ([1.0, 1.0], "classification", [0, 1, 1, 2], "distinct labels"),
        ([1.0, 1.0], "classification", [1, 2], "label 0 is not one of the ensemble's classes"),
    ],
)
def test_constructor_bad_input_raises(members, weights, task, classes, message):
    with pytest.raises(ValueError, match=message):
        WeightedEnsemble(members, weights, task, classes=classes)
