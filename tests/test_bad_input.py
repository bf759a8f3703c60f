"""Clear errors for bad input and bad parameters."""
import numpy as np
import pytest
from sklearn.datasets import load_iris

from skautoml import AutoNASClassifier

FAST = dict(max_trials=1, max_epochs=2, random_state=0)


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def fitted(iris):
    return AutoNASClassifier(**FAST).fit(*iris)


@pytest.mark.parametrize("bad_value, reported", [(np.nan, "NaN"), (np.inf, "inf")])
def test_non_finite_X_points_to_imputation(iris, bad_value, reported):
    X, y = iris
    X = X.copy()
    X[3, 1] = bad_value
    with pytest.raises(ValueError, match=f"{reported}.*SimpleImputer"):
        AutoNASClassifier(**FAST).fit(X, y)


def test_non_finite_X_at_predict(fitted, iris):
    X = iris[0].copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="SimpleImputer"):
        fitted.predict(X)


def test_single_class(iris):
    X, y = iris
    with pytest.raises(ValueError, match="at least 2 classes; y holds 1 class"):
        AutoNASClassifier(**FAST).fit(X[:50], y[:50])


def test_mismatched_lengths(iris):
    X, y = iris
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        AutoNASClassifier(**FAST).fit(X, y[:-1])


def test_mismatched_lengths_for_images():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        AutoNASClassifier(**FAST).fit(np.zeros((10, 8, 8)), np.arange(9) % 2)


def test_too_few_samples_per_class_for_the_validation_split(iris):
    X, y = iris
    X, y = np.vstack([X, X[:1]]), np.append(y, 3)  # class 3 has a single sample
    with pytest.raises(ValueError, match="class 3 has 1 sample.*validation_fraction"):
        AutoNASClassifier(**FAST).fit(X, y)


def test_validation_split_too_small_for_the_classes(iris):
    X, y = iris
    with pytest.raises(ValueError, match="holds out 2 of 150 samples for 3 classes"):
        AutoNASClassifier(**FAST, validation_fraction=0.01).fit(X, y)


def test_wrong_image_dimensions():
    with pytest.raises(ValueError, match="5 dimensions"):
        AutoNASClassifier(**FAST).fit(np.zeros((10, 1, 1, 8, 8)), np.arange(10) % 2)


def test_1d_X_asks_for_a_reshape():
    with pytest.raises(ValueError, match="Reshape your data"):
        AutoNASClassifier(**FAST).fit(np.arange(10.0), np.arange(10) % 2)


def test_wrong_number_of_features_at_predict(fitted, iris):
    with pytest.raises(ValueError, match="X has 3 features, but AutoNASClassifier is expecting 4"):
        fitted.predict(iris[0][:, :3])


def test_wrong_image_shape_at_predict():
    rng = np.random.default_rng(0)
    X, y = rng.random((40, 8, 8)), np.arange(40) % 2
    clf = AutoNASClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"shape \(1, 10, 10\).*fitted on samples of shape \(1, 8, 8\)"):
        clf.predict(rng.random((3, 10, 10)))
    # The same images with an explicit channel axis are fine.
    assert clf.predict(X[:3, None]).shape == (3,)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_trials": 0}, "'max_trials' parameter"),
        ({"time_budget": 0}, "'time_budget' parameter"),
        ({"time_budget": -5.0}, "'time_budget' parameter"),
        ({"max_epochs": 0}, "'max_epochs' parameter"),
        ({"strategy": "annealing"}, "'strategy' parameter .*'evolution'.*Got 'annealing'"),
        ({"search_space": "transformer"}, "'search_space' parameter .*'cnn'.*Got 'transformer'"),
        ({"max_trials": None, "time_budget": None}, "set at least one"),
        ({"device": "tpu"}, "device='tpu'"),
        ({"final": "finetune"}, "'final' parameter .*'inherit'.*Got 'finetune'"),
        ({"strategy": "darts"}, "DARTS trains a weight-sharing supernet, which MLPSpace does not offer"),
    ],
)
def test_bad_parameters(iris, params, message):
    with pytest.raises(ValueError, match=message):
        AutoNASClassifier(**{**FAST, **params}).fit(*iris)


def test_non_numeric_dataframe_column(iris):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(iris[0][:, :2], columns=["a", "b"]).assign(colour="red")
    with pytest.raises(ValueError, match=r"numeric columns; \['colour'\] is not numeric.*OneHotEncoder"):
        AutoNASClassifier(**FAST).fit(frame, iris[1])


def test_input_shape_that_does_not_fit_the_features(iris):
    with pytest.raises(ValueError, match=r"input_shape=\(3, 3\).*4 features"):
        AutoNASClassifier(**FAST, input_shape=(3, 3)).fit(*iris)


def test_cnn_space_needs_images(iris):
    with pytest.raises(ValueError, match="CNNSpace needs images"):
        AutoNASClassifier(**FAST, search_space="cnn").fit(*iris)


def test_continuous_target(iris):
    with pytest.raises(ValueError, match="Unknown label type"):
        AutoNASClassifier(**FAST).fit(iris[0], np.linspace(0, 1, 150))
