"""Early stopping of trials: MedianStopping, CurveExtrapolation and the StopTrialEarly callback."""
import copy
import math
import pickle
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from skorch.history import History
from sklearn.datasets import make_classification

from skautoml.nas import MLPArchitecture, MLPSpace
from skautoml.nas import Evaluator, Fidelity
from skautoml.nas.evaluate._stopping import CurveExtrapolation, MedianStopping, StopTrialEarly

EPOCHS = np.arange(1, 21, dtype=float)
# Finished trials of a search: saturating curves; the best ends at 0.896.
STRONG = [0.93 - 0.50 * EPOCHS**-0.9, 0.91 - 0.45 * EPOCHS**-1.1, 0.90 - 0.55 * EPOCHS**-0.8]


def loaded(rule, curves=STRONG):
    for curve in curves:
        rule.observe(curve)
    return rule


def stop_epoch(rule, curve, max_epochs=20):
    """The first epoch after which ``rule`` stops ``curve``; None if it never does."""
    for t in range(1, len(curve) + 1):
        if rule.should_stop(curve[:t], max_epochs=max_epochs):
            return t
    return None


# ---------------------------------------------------------------- median rule


def test_median_stops_a_clearly_worse_curve_right_after_the_grace_period():
    rule = loaded(MedianStopping(grace_epochs=3, min_trials=3))
    worse = 0.55 - 0.30 * EPOCHS**-0.5
    for t in (1, 2):
        assert not rule.should_stop(worse[:t])
    assert rule.should_stop(worse[:3])
    assert stop_epoch(rule, worse) == 3


def test_median_does_not_stop_a_better_curve():
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=3))
    better = 0.97 - 0.40 * EPOCHS**-1.0
    assert stop_epoch(rule, better) is None


def test_median_does_nothing_before_min_trials_are_finished():
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=3), STRONG[:2])
    worse = 0.3 * np.ones(20)
    assert rule.n_observed == 2
    assert stop_epoch(rule, worse) is None
    rule.observe(STRONG[2])
    assert stop_epoch(rule, worse) == 1


def test_median_compares_with_finished_trials_at_the_same_epoch():
    # Finished trials were at 0.5 after epoch 3 and reached 0.9 later; a trial
    # at 0.55 after epoch 3 is ahead of them, though below their final accuracy.
    slow_then_good = np.array([0.3, 0.4, 0.5, 0.7, 0.9])
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=1), [slow_then_good] * 3)
    assert rule.median_at(3) == pytest.approx(0.5)
    assert not rule.should_stop([0.35, 0.45, 0.55])
    assert rule.should_stop([0.35, 0.45, 0.55, 0.60])  # behind 0.7 at epoch 4


def test_median_uses_best_so_far_and_is_strict():
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=1), [[0.2, 0.6, 0.4]] * 3)
    # A dip of the running trial does not count against it: its best is what matters.
    assert not rule.should_stop([0.6, 0.1])
    assert not rule.should_stop([0.2, 0.6])  # equal to the median: not strictly below
    assert rule.should_stop([0.2, 0.59])


def test_median_carries_a_short_finished_curve_forward_and_skips_nans():
    # A trial stopped by patience after 2 epochs counts with its best afterwards.
    finished = [[0.8, 0.9], [0.5, 0.6, 0.7, 0.8], [0.4, 0.5, 0.6, 0.7]]
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=1), finished)
    assert rule.median_at(4) == pytest.approx(0.8)
    assert rule.should_stop([0.5, 0.6, 0.7, 0.75])
    assert not rule.should_stop([math.nan, math.nan, math.nan, math.nan])  # no evidence
    assert rule.should_stop([math.nan, 0.2, math.nan, 0.3])


# ---------------------------------------------------------- extrapolation rule


@pytest.mark.parametrize("n_epochs", [4, 6, 10])
@pytest.mark.parametrize(
    "curve",
    [0.95 - 0.5 * EPOCHS**-1.0, 0.9 - 0.6 * np.exp(-0.3 * (EPOCHS - 1)), 0.8 - 0.5 * EPOCHS**-0.3],
    ids=["power", "exponential", "slow-power"],
)
def test_extrapolation_predicts_the_final_value_of_a_noiseless_curve(curve, n_epochs):
    estimate, upper = CurveExtrapolation(min_trials=1).extrapolate(curve[:n_epochs], 20)
    assert estimate == pytest.approx(curve[-1], abs=2e-3)
    assert curve[-1] - 1e-3 <= upper <= curve[-1] + 5e-3  # no noise: a tight bound


def test_extrapolation_stops_a_curve_heading_below_the_best_and_keeps_a_promising_one():
    rule = loaded(CurveExtrapolation(grace_epochs=4, min_trials=3))
    rng = np.random.default_rng(0)
    noise = rng.normal(0, 0.005, size=20)
    heading_low = 0.80 - 0.45 * EPOCHS**-0.7 + noise  # ends near 0.75
    promising = 1.0 - 0.9 * EPOCHS**-0.8 + noise  # below the best until epoch 15, ends near 0.92
    assert promising[:14].max() < max(map(max, STRONG)) < promising[-1]
    assert stop_epoch(rule, heading_low) == 4
    assert stop_epoch(rule, promising) is None


def test_extrapolation_never_stops_before_grace_or_min_trials_nor_a_trial_that_is_already_best():
    hopeless = 0.3 * np.ones(20)
    assert stop_epoch(loaded(CurveExtrapolation(grace_epochs=6)), hopeless) == 6
    assert stop_epoch(loaded(CurveExtrapolation(min_trials=4)), hopeless) is None
    best = max(map(max, STRONG))
    falling_from_best = best + 0.01 - 0.1 * np.log(EPOCHS)  # predicted to fall, but already the best
    assert stop_epoch(loaded(CurveExtrapolation()), falling_from_best) is None


@pytest.mark.parametrize(
    "curve, expected",
    [
        ([0.3] * 8, True),  # flat far below the best: stopped without a crash
        ([math.nan] * 8, False),  # nothing to fit
        ([0.2, math.nan, math.nan, math.nan, math.nan, 0.3, math.nan, math.nan], False),  # 2 points
        ([0.5, math.nan, 0.6, 0.62, math.nan, 0.63, 0.635, 0.64], True),  # gaps are skipped
        ([0.0] * 8, True),
        ([1e-300, 0.0, 1e-300, 0.0, 1e-300, 0.0], True),
    ],
)
def test_extrapolation_survives_degenerate_curves(curve, expected):
    rule = loaded(CurveExtrapolation())
    with np.errstate(all="raise"):  # no hidden floating-point trouble either
        assert rule.should_stop(curve, max_epochs=20) is expected


def test_extrapolation_gives_nan_when_nothing_can_be_fitted():
    estimate, upper = CurveExtrapolation().extrapolate([0.5, math.nan, 0.6], 20)
    assert math.isnan(estimate) and math.isnan(upper)


def test_higher_confidence_widens_the_bound_and_stops_later():
    rng = np.random.default_rng(1)
    curve = 0.85 - 0.5 * EPOCHS**-0.6 + rng.normal(0, 0.02, size=20)
    uppers = [CurveExtrapolation(confidence=c).extrapolate(curve[:6], 20)[1] for c in (0.5, 0.8, 0.95, 0.99)]
    assert np.all(np.diff(uppers) > 0)
    stops = [stop_epoch(loaded(CurveExtrapolation(confidence=c)), curve) for c in (0.5, 0.99)]
    assert stops[0] is not None and (stops[1] is None or stops[1] >= stops[0])


def test_extrapolation_horizon_defaults_to_the_trials_max_epochs():
    rule = loaded(CurveExtrapolation())
    # Far below the best at epoch 20, but would reach it by epoch 2000.
    curve = 0.99 - 0.9 * EPOCHS[:6] ** -0.4
    assert rule.should_stop(curve, max_epochs=20)
    assert not rule.should_stop(curve, max_epochs=2000)
    assert not loaded(CurveExtrapolation(horizon=2000)).should_stop(curve, max_epochs=20)
    assert loaded(CurveExtrapolation()).should_stop(curve)  # longest finished curve: 20 epochs


# ----------------------------------------------------- settings and pickling


@pytest.mark.parametrize(
    "rule, message",
    [
        (MedianStopping(grace_epochs=0), "grace_epochs >= 1"),
        (MedianStopping(grace_epochs=2.5), "grace_epochs >= 1"),
        (MedianStopping(min_trials=0), "min_trials >= 1"),
        (MedianStopping(min_trials=True), "min_trials >= 1"),
        (CurveExtrapolation(grace_epochs=3), "grace_epochs >= 4"),
        (CurveExtrapolation(min_trials=-1), "min_trials >= 1"),
        (CurveExtrapolation(horizon=0), "horizon >= 1"),
        (CurveExtrapolation(confidence=1.0), "0.5 <= confidence < 1"),
        (CurveExtrapolation(confidence=0.3), "0.5 <= confidence < 1"),
        (CurveExtrapolation(confidence="high"), "0.5 <= confidence < 1"),
    ],
)
def test_bad_settings_raise_a_clear_error(rule, message):
    with pytest.raises(ValueError, match=message):
        rule.reset()
    with pytest.raises(ValueError, match=message):  # also when used without reset
        rule.should_stop([0.5] * 5)


@pytest.mark.parametrize("curve", [[], [[0.1, 0.2]], "abc", [0.1, "x"]])
def test_observe_rejects_something_that_is_not_a_curve(curve):
    with pytest.raises(ValueError, match="learning curve"):
        MedianStopping().observe(curve)


def test_reset_forgets_curves_and_params_round_trip():
    rule = loaded(MedianStopping(grace_epochs=2))
    assert rule.n_observed == 3
    assert rule.reset() is rule and rule.n_observed == 0
    assert repr(rule) == "MedianStopping(grace_epochs=2)"  # scikit-learn shows the settings that differ from the defaults
    expected = {"grace_epochs": 4, "min_trials": 3, "horizon": None, "confidence": 0.95}
    assert CurveExtrapolation().get_params() == expected
    rule.set_params(min_trials=5)
    assert rule.get_params() == {"grace_epochs": 2, "min_trials": 5}
    with pytest.raises(ValueError, match="Invalid parameter 'patience'"):
        rule.set_params(patience=3)


def test_observe_copies_the_curve():
    curve = [0.5, 0.6, 0.7]
    rule = MedianStopping().observe(curve)
    curve[0] = 0.0
    assert rule.completed_curves == [(0.5, 0.6, 0.7)]


@pytest.mark.parametrize("rule", [MedianStopping(grace_epochs=2), CurveExtrapolation()], ids=repr)
def test_rules_pickle_with_their_curves_and_decide_the_same(rule):
    rule = loaded(rule)
    probes = [0.7 - 0.3 * EPOCHS[:t] ** -0.5 for t in range(1, 12)] + [0.95 - 0.5 * EPOCHS[:t] ** -1.0 for t in (4, 8)]
    for twin in (pickle.loads(pickle.dumps(rule)), copy.deepcopy(rule)):
        assert twin.completed_curves == rule.completed_curves
        assert [twin.should_stop(p, 20) for p in probes] == [rule.should_stop(p, 20) for p in probes]
    callback = pickle.loads(pickle.dumps(StopTrialEarly(rule)))
    assert callback.rule.completed_curves == rule.completed_curves


# ------------------------------------------------------- callback integration


@pytest.fixture(scope="module")
def data():
    X, y = make_classification(
        n_samples=200, n_features=10, n_informative=5, n_classes=3, flip_y=0.1, random_state=0
    )
    X = X.astype(np.float32)
    return X[:150], y[:150], X[150:], y[150:]


ARCH = MLPArchitecture(widths=(16,))
PERFECT = [[1.0] * 8] * 3  # finished trials no real trial on noisy labels can match


def evaluator(**kwargs):
    kwargs.setdefault("patience", None)
    return Evaluator(MLPSpace(max_layers=2, widths=(8, 16)), (10,), 3, batch_size=32, **kwargs)


def test_the_callback_reads_valid_acc_and_ignores_epochs_without_it():
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=3), PERFECT)
    callback = StopTrialEarly(rule)
    net = SimpleNamespace(history=History(), max_epochs=8)
    net.history.new_epoch()
    net.history.record("train_loss", 1.0)
    callback.on_epoch_end(net)  # no validation data: nothing to judge
    assert "stopped_early" not in net.history[-1]
    net.history.record("valid_acc", 0.5)
    with pytest.raises(KeyboardInterrupt):
        callback.on_epoch_end(net)
    assert net.history[-1, "stopped_early"] is True


def test_a_trial_stopped_by_the_median_rule_is_still_an_ok_result(data):
    rule = loaded(MedianStopping(grace_epochs=2, min_trials=3), PERFECT)
    result = evaluator(stopping_rule=rule).evaluate(ARCH, *data, Fidelity(max_epochs=8), seed=0)
    assert result.ok, result.error
    assert result.epochs == 2
    assert 1 <= result.best_epoch <= 2
    assert 0.0 <= result.score < 1.0


def test_without_a_rule_or_with_weak_finished_trials_the_trial_runs_to_the_end(data):
    assert evaluator().evaluate(ARCH, *data, Fidelity(max_epochs=8), seed=0).epochs == 8
    weak = loaded(MedianStopping(grace_epochs=2), [[0.0] * 8] * 3)
    assert evaluator(stopping_rule=weak).evaluate(ARCH, *data, Fidelity(max_epochs=8), seed=0).epochs == 8


def test_a_flat_trial_is_stopped_by_curve_extrapolation_after_its_grace_period(data):
    # A zero learning rate keeps the validation accuracy flat.
    rule = loaded(CurveExtrapolation(grace_epochs=4, min_trials=1), PERFECT)
    result = evaluator(lr=0.0, stopping_rule=rule).evaluate(ARCH, *data, Fidelity(max_epochs=8), seed=0)
    assert result.ok, result.error
    assert result.epochs == 4


def test_the_callback_records_the_stop_and_early_stopping_still_restores_the_best_weights(data):
    X_train, y_train, X_valid, y_valid = data
    rule = loaded(MedianStopping(grace_epochs=4, min_trials=3), PERFECT)
    # A high learning rate makes the validation loss bounce, so the best epoch is not the last.
    ev = evaluator(stopping_rule=rule, patience=5, lr=0.1)
    torch.manual_seed(0)
    net = ev.make_net(ev.build_module(ARCH, X_train), 8, ev._to_device(X_valid, y_valid))
    assert isinstance(dict(net.callbacks)["trial_stopping"], StopTrialEarly)
    net.fit(*ev._to_device(X_train, y_train))
    assert len(net.history) == 4
    assert net.history[-1, "stopped_early"] is True
    assert "stopped_early" not in net.history[0]
    valid_loss = net.history[:, "valid_loss"]
    assert np.argmin(valid_loss) < len(valid_loss) - 1
    proba = net.predict_proba(X_valid)  # the net stays usable, with the best epoch's weights
    loss = -np.mean(np.log(proba[np.arange(len(y_valid)), y_valid]))
    assert loss == pytest.approx(min(valid_loss), rel=1e-4)


def test_the_refit_of_the_final_model_is_never_stopped(data):
    rule = loaded(MedianStopping(grace_epochs=1, min_trials=3), PERFECT)
    ev = evaluator(stopping_rule=rule)
    net = ev.make_net(ev.build_module(ARCH, data[0]), 4, valid_data=None)
    assert "trial_stopping" not in dict(net.callbacks)
