"""AutoNASRegressor from the public API: the classifier's search for numeric targets."""
import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.metrics import r2_score
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch import NeuralNetRegressor

from skautoml import AutoNASClassifier, AutoNASRegressor
from skautoml.nas import (
    CellSpace, CNNSpace, Evaluator, Fidelity, MLPArchitecture, MLPSpace, SuccessiveHalving, known_good_architecture,
)
from skautoml.nas._plan import TRIAL_OVERHEAD
from skautoml.nas.evaluate import random_subsample
from skautoml.nas.oneshot import DARTS, SPOS
from skautoml.prep.augment import BatchAugment, RandAugment
from skautoml.search import TrialResult

TINY = dict(max_trials=2, max_epochs=4, random_state=0)


def linear_problem(n=300, n_features=5, seed=0):
    """y = 50 + 10 (x0 + x1 - x2) on standard normal features: far from standardised targets."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_features))
    return X, 50 + 10 * (X[:, 0] + X[:, 1] - X[:, 2])


@pytest.fixture(scope="module")
def easy():
    X, y = linear_problem()
    reg = AutoNASRegressor(max_trials=2, max_epochs=10, random_state=0).fit(X[:240], y[:240])
    return reg, X, y


@pytest.fixture(scope="module")
def images():
    """8x8 digits with their mean brightness as the target (the global-pooling head can read it)."""
    digits = load_digits()
    return digits.images[:200], digits.images[:200].mean(axis=(1, 2))


SMALL_CNN = CNNSpace(max_layers=2, channels=(8,), stem_channels=(8,))


def test_an_easy_problem_is_learned_and_predictions_are_in_the_units_of_y(easy):
    reg, X, y = easy
    # Held-out rows: the search generalises, in the units of y.
    assert reg.score(X[240:], y[240:]) > 0.9
    prediction = reg.predict(X[240:])
    assert prediction.shape == (60,) and prediction.dtype == np.float64
    assert abs(prediction.mean() - y[240:].mean()) < 2.0  # y's mean is 50; standardised outputs would be near 0
    # The network learned standardised targets; predict de-standardises them.
    assert reg.n_outputs_ == 1
    np.testing.assert_allclose(reg.target_mean_, [y[:240].mean()])
    np.testing.assert_allclose(reg.target_scale_, [y[:240].std()])
    assert isinstance(reg.best_estimator_, NeuralNetRegressor)
    standardised = reg.best_estimator_.predict(X[240:].astype(np.float32))
    assert standardised.shape == (60, 1) and abs(standardised.mean()) < 0.5
    np.testing.assert_allclose(prediction, standardised[:, 0] * reg.target_scale_[0] + reg.target_mean_[0], rtol=1e-6)


def test_search_results_score_trials_by_validation_r2(easy):
    reg = easy[0]
    results = reg.search_results_
    assert reg.n_trials_ == 2 and {len(column) for column in results.values()} == {2}
    assert (results["status"] == "ok").all()
    assert reg.best_score_ == results["score"][reg.best_index_] == np.nanmax(results["score"])
    assert 0.8 < reg.best_score_ <= 1.0
    for curve, score, best_epoch in zip(results["curve"], results["score"], results["best_epoch"]):
        assert len(curve) == 10 and all(value <= 1.0 for value in curve)
        assert curve[best_epoch - 1] == score  # the score is the R² of the epoch kept
    summary = reg.summary()
    assert "Best validation R² " in summary and "accuracy" not in summary
    assert "AutoNASRegressor: 2 trials" in summary


def test_the_trial_score_is_the_r2_of_the_validation_data_in_any_units():
    X, y = linear_problem(n=200)
    X, y = X.astype(np.float32), ((y - y.mean()) / y.std()).astype(np.float32)
    evaluator = Evaluator(MLPSpace(), (5,), batch_size=32, task="regression")
    result = evaluator.evaluate(MLPArchitecture((16,)), X[:150], y[:150], X[150:], y[150:], Fidelity(5), 0, keep_model=True)
    import torch

    with torch.no_grad():
        predicted = result.model.eval()(torch.as_tensor(X[150:])).numpy()[:, 0]
    assert result.score == pytest.approx(r2_score(y[150:], predicted), abs=1e-6)
    assert result.valid_loss == pytest.approx(np.mean((predicted - y[150:]) ** 2), rel=1e-5)
    # An R² does not change with the units: 3 + 7 y scores the same predictions the same.
    assert r2_score(3 + 7 * y[150:], 3 + 7 * predicted) == pytest.approx(result.score, abs=1e-6)


def test_the_regression_evaluator_checks_its_settings_and_targets():
    with pytest.raises(ValueError, match="task must be one of"):
        Evaluator(MLPSpace(), (5,), task="regresion")
    with pytest.raises(ValueError, match="A regression Evaluator has no classes.*Set n_outputs"):
        Evaluator(MLPSpace(), (5,), 3, task="regression")
    with pytest.raises(ValueError, match="A classification Evaluator needs n_classes"):
        Evaluator(MLPSpace(), (5,))
    X, y = linear_problem(n=60)
    X, Y = X.astype(np.float32), np.c_[y, y].astype(np.float32)
    result = Evaluator(MLPSpace(), (5,), task="regression").evaluate(
        MLPArchitecture((8,)), X[:40], Y[:40], X[40:], Y[40:], Fidelity(1), 0
    )
    assert result.status == "failed" and "targets have 2 columns, but this Evaluator's networks have n_outputs=1" in result.error


def test_a_data_fraction_trains_on_a_random_share_of_the_rows(monkeypatch):
    import skautoml.nas.evaluate._evaluator as evaluator_module

    X, y = linear_problem(n=100)
    rows, y_kept = random_subsample(np.arange(100), y, 0.25, seed=0)
    assert len(rows) == 25 and (np.diff(rows) > 0).all() and np.array_equal(y_kept, y[rows])
    assert np.array_equal(random_subsample(np.arange(100), y, 0.25, seed=0)[0], rows)
    assert not np.array_equal(random_subsample(np.arange(100), y, 0.25, seed=1)[0], rows)
    assert len(random_subsample(np.arange(100), y, 0.001, seed=0)[0]) == 2  # never fewer than two rows
    sizes = []
    monkeypatch.setattr(evaluator_module, "random_subsample", lambda X, y, f, s: sizes.append(f) or (X[:30], y[:30]))
    reg = AutoNASRegressor(max_trials=1, max_epochs=1, data_fraction=0.5, random_state=0).fit(X, y)
    assert sizes == [0.5] and reg.search_results_["status"].tolist() == ["ok"]


def test_several_targets_are_predicted_together(easy):
    _, X, y = easy
    Y = np.c_[y, -0.5 * y + 3 * X[:, 3]]
    reg = AutoNASRegressor(max_trials=1, max_epochs=10, random_state=0).fit(X[:240], Y[:240])
    assert reg.n_outputs_ == 2 and reg.target_mean_.shape == reg.target_scale_.shape == (2,)
    assert reg.predict(X[240:]).shape == (60, 2)
    assert reg.score(X[240:], Y[240:]) > 0.8
    assert r2_score(Y[240:, 1], reg.predict(X[240:])[:, 1]) > 0.8  # both targets, not just the first


def test_a_column_of_targets_predicts_a_column_and_the_same_values(easy):
    _, X, y = easy
    flat = AutoNASRegressor(**TINY).fit(X, y)
    column = AutoNASRegressor(**TINY).fit(X, y[:, None])
    assert column.predict(X[:5]).shape == (5, 1)
    np.testing.assert_allclose(column.predict(X), flat.predict(X)[:, None])


def test_a_constant_target_fits_and_predicts_the_constant():
    X, y = linear_problem(n=100)
    Y = np.c_[np.full(100, 0.1), y]  # 0.1 summed 100 times is not 10.0: the mean is the constant itself
    reg = AutoNASRegressor(max_trials=2, max_epochs=4, random_state=0).fit(X, Y)
    assert reg.target_scale_[0] == 0.0 and reg.target_mean_[0] == 0.1 and reg.target_scale_[1] > 0
    np.testing.assert_array_equal(reg.predict(X)[:, 0], 0.1)
    constant = AutoNASRegressor(max_trials=2, max_epochs=4, random_state=0).fit(X, np.full(100, 7.0))
    np.testing.assert_array_equal(constant.predict(X), 7.0)
    # R² is undefined for a constant target: scikit-learn's 0 for predictions that are not exact.
    assert (constant.search_results_["score"] == 0.0).all()


@pytest.mark.parametrize("layout", ["NHW", "NCHW", "flat+input_shape"])
def test_images_get_the_cnn_space(images, layout):
    pictures, y = images
    X, params = {
        "NHW": (pictures, {}),
        "NCHW": (pictures[:, None], {}),
        "flat+input_shape": (pictures.reshape(len(pictures), -1), {"input_shape": (8, 8)}),
    }[layout]
    reg = AutoNASRegressor(max_trials=1, max_epochs=2, random_state=0, **params).fit(X, y)
    assert isinstance(reg.search_space_, CNNSpace) and reg.input_shape_ == (1, 8, 8)
    assert reg.predict(X[:5]).shape == (5,) and np.isfinite(reg.predict(X[:5])).all()


def test_image_policies_augment_the_images_and_leave_the_targets(images):
    pictures, y = images
    reg = AutoNASRegressor(search_space=SMALL_CNN, augment="randaugment", max_trials=1, max_epochs=2, random_state=0)
    reg.fit(pictures, y)
    assert isinstance(reg.augment_, BatchAugment) and isinstance(reg.augment_.policy, RandAugment)
    assert reg.search_results_["status"].tolist() == ["ok"]


@pytest.mark.parametrize(
    "augment, reason",
    [
        ("mixup", "mixes the labels"),
        ("cutmix", "mixes the labels"),
        ("auto", "needs class labels"),
        (BatchAugment(mix="mixup"), "mixes the labels"),
    ],
)
def test_label_mixing_augmentations_are_refused_with_what_to_use(images, augment, reason):
    with pytest.raises(ValueError, match=f"{reason}.*numeric targets. Use augment='light'"):
        AutoNASRegressor(augment=augment, **TINY).fit(*images)


@pytest.mark.parametrize(
    "y, message",
    [
        (np.r_[np.nan, np.ones(29)], r"1 NaN or infinite value\(s\), in rows \[0\].*Drop those rows or impute"),
        (np.r_[np.ones(29), np.inf], r"in rows \[29\]"),
        (np.array(["a", "b", "c"] * 10), "needs numeric targets.*'a'.*AutoNASClassifier"),
        (np.array([1.0, "x"] * 15, dtype=object), "needs numeric targets.*'x'"),
        (np.ones((30, 2, 2)), r"1-D of shape \(n_samples,\) or 2-D .* got shape \(30, 2, 2\)"),
        (np.ones((30, 0)), r"got shape \(30, 0\)"),
        (np.ones(30) + 1j, "Complex data not supported"),
    ],
    ids=["nan", "inf", "strings", "object strings", "3-d", "no columns", "complex"],
)
def test_bad_targets_are_refused_with_what_to_do(y, message):
    X = np.random.default_rng(0).normal(size=(30, 3))
    with pytest.raises(ValueError, match=message):
        AutoNASRegressor(**TINY).fit(X, y)


def test_bad_shapes_and_sizes_are_refused_with_what_to_do(easy):
    reg, X, y = easy
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        AutoNASRegressor(**TINY).fit(X, y[:-1])
    with pytest.raises(ValueError, match=r"y holds 2 sample\(s\).*leaving 1 to train on.*at least 2"):
        AutoNASRegressor(**TINY).fit(X[:2], y[:2])
    with pytest.raises(ValueError, match="X has 3 features, but AutoNASRegressor is expecting 5"):
        reg.predict(X[:, :3])
    with pytest.raises(ValueError, match="augments images, but X is tabular"):
        AutoNASRegressor(augment="randaugment", **TINY).fit(X, y)


def test_inputs_are_not_modified(images):
    pictures, y = images
    y2 = np.c_[y, 2 * y]
    before = pictures.copy(), y.copy(), y2.copy()
    AutoNASRegressor(search_space=SMALL_CNN, max_trials=1, max_epochs=1, random_state=0).fit(pictures, y)
    AutoNASRegressor(search_space=SMALL_CNN, max_trials=1, max_epochs=1, random_state=0).fit(pictures, y2)
    for array, copy in zip((pictures, y, y2), before):
        np.testing.assert_array_equal(array, copy)


def test_dataframes_and_series_work_and_are_not_modified(easy):
    pd = pytest.importorskip("pandas")
    _, X, y = easy
    frame, target = pd.DataFrame(X, columns=list("abcde")), pd.Series(y, name="y")
    before = frame.copy(), target.copy()
    reg = AutoNASRegressor(**TINY).fit(frame, target)
    pd.testing.assert_frame_equal(frame, before[0])
    pd.testing.assert_series_equal(target, before[1])
    assert list(reg.feature_names_in_) == list("abcde")
    assert reg.predict(frame).shape == (300,)


def test_same_random_state_gives_the_same_search_and_model(easy):
    _, X, y = easy
    params = dict(strategy="random", max_trials=3, max_epochs=3, random_state=3)
    first, second = AutoNASRegressor(**params).fit(X, y), AutoNASRegressor(**params).fit(X, y)
    np.testing.assert_array_equal(first.search_results_["score"], second.search_results_["score"])
    assert list(first.search_results_["architecture"]) == list(second.search_results_["architecture"])
    np.testing.assert_array_equal(first.predict(X), second.predict(X))
    other = AutoNASRegressor(**{**params, "random_state": 4}).fit(X, y)
    assert list(other.search_results_["architecture"]) != list(first.search_results_["architecture"])


def test_clone_pipeline_cross_val_score_and_pickle(easy):
    reg, X, y = easy
    base = AutoNASRegressor(max_trials=1, max_epochs=3, random_state=0)
    assert clone(base).get_params() == base.get_params()
    pipeline = make_pipeline(StandardScaler(), base).fit(X, y)
    assert pipeline.predict(X).shape == (300,)
    scores = cross_val_score(base, X, y, cv=3)  # R², the regressor's score
    assert scores.shape == (3,) and (scores > 0).all()
    loaded = pickle.loads(pickle.dumps(reg))
    np.testing.assert_array_equal(loaded.predict(X), reg.predict(X))
    np.testing.assert_array_equal(loaded.target_mean_, reg.target_mean_)


@pytest.mark.parametrize("strategy", ["random", "evolution", "hyperband"])
def test_strategies_that_train_from_scratch_search_regression(easy, strategy):
    _, X, y = easy
    reg = AutoNASRegressor(strategy=strategy, max_trials=4, max_epochs=6, resource="both", random_state=0).fit(X, y)
    results = reg.search_results_
    assert reg.n_trials_ == 4 and (results["status"] == "ok").all()
    assert np.isfinite(results["score"]).all() and (results["score"] <= 1).all()
    assert reg.score(X, y) > 0.5


def test_the_auto_plan_runs_successive_halving_from_the_baseline(easy, monkeypatch):
    import skautoml._estimators as estimators

    calls = []

    def step_seconds(space, architecture, *args):
        calls.append(args)
        return 0.2 / TRIAL_OVERHEAD

    monkeypatch.setattr(estimators, "_step_seconds", step_seconds)
    _, X, y = easy
    reg = AutoNASRegressor(time_budget=40, max_trials=2, max_epochs=20, random_state=0, refit=False).fit(X, y)
    # Steps timed for regression (the squared error on float targets), of a network with one output.
    assert calls and all(args[1] == 1 and args[-1] == "regression" for args in calls)
    assert isinstance(reg.plan_.strategy, SuccessiveHalving)
    assert reg.search_results_["architecture"][0] == known_good_architecture(reg.search_space_)
    assert np.isfinite(reg.search_results_["score"]).all()
    assert "successive halving" in reg.summary()


@pytest.mark.parametrize(
    "other_score, chosen",
    # The standard error of an R² of 0.815 on 450 samples: 0.185 * sqrt(2 / 450) = 0.0123.
    [(0.81, "baseline"), (0.815, "other")],
)
def test_the_baseline_is_kept_unless_beaten_by_more_than_one_standard_error_of_r2(other_score, chosen):
    space = MLPSpace()
    baseline, other = known_good_architecture(space), space.sample(np.random.default_rng(0))
    results = [TrialResult(baseline, 0.80, "ok"), TrialResult(other, other_score, "ok")]
    reg = AutoNASRegressor()
    reg._record(results, baselines=(baseline,), n_valid=450)
    assert reg.best_index_ == (0 if chosen == "baseline" else 1)
    # The classifier's binomial standard error of 0.815 on 450 (0.018) keeps the baseline either way.
    clf = AutoNASClassifier()
    clf._record(results, baselines=(baseline,), n_valid=450)
    assert clf.best_index_ == 0


def test_a_one_shot_strategy_trains_its_supernet_on_the_squared_error(images):
    pictures, y = images
    strategy = SPOS(supernet_epochs=3, epochs_per_trial=2)
    reg = AutoNASRegressor(
        search_space=SMALL_CNN, strategy=strategy, max_trials=5, max_epochs=5, final="inherit", random_state=0
    ).fit(pictures, y)
    results = reg.search_results_
    assert results["epochs"].tolist() == [2, 2, 2, 0, 0]  # three supernet trials, then scored subnets
    assert (results["status"] == "ok").all() and np.isfinite(results["score"]).all()
    assert reg.score(pictures, y) > 0.5  # the inherited subnet, fine-tuned


def test_a_gradient_strategy_steps_the_architecture_on_the_squared_error(images):
    pictures, y = images
    space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    reg = AutoNASRegressor(
        search_space=space, strategy=DARTS(warmup_epochs=1), max_trials=2, max_epochs=2, random_state=0
    ).fit(pictures, y)
    assert (reg.search_results_["status"] == "ok").all() and np.isfinite(reg.search_results_["score"]).all()
    assert all(space.contains(a) for a in reg.search_results_["architecture"])
    assert np.isfinite(reg.predict(pictures)).all()


def test_trial_stopping_reads_the_r2_curves(easy):
    _, X, y = easy
    reg = AutoNASRegressor(strategy="random", trial_stopping="median", max_trials=4, max_epochs=4, random_state=0)
    reg.fit(X, y)
    finished = [tuple(c) for c, stopped in zip(reg.search_results_["curve"], reg.search_results_["stopped_early"])
                if not stopped]
    assert reg.trial_stopping_.completed_curves and set(reg.trial_stopping_.completed_curves) <= set(finished)


def test_plot_search_labels_the_score_of_each_estimator(easy):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skautoml.plotting import plot_search

    reg, X, _ = easy
    left, right = plot_search(reg)
    assert left.get_ylabel() == right.get_ylabel() == "validation R²"
    clf = AutoNASClassifier(max_trials=1, max_epochs=1, random_state=0).fit(X, (X[:, 0] > 0).astype(int))
    assert plot_search(clf)[0].get_ylabel() == "validation accuracy"
    plt.close("all")
