"""AutoMLClassifier / AutoMLRegressor, the pipeline space and its evaluator."""
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest
from imblearn.pipeline import Pipeline
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score

from fakes import FakeClock
from skautoml import AutoMLClassifier, AutoMLRegressor
from skautoml._automl import AUTO_FOLDS
from skautoml.automl import Categorical, Integer, ModelFamily, PipelineConfig, PipelineEvaluator, PipelineSpace, Real
from skautoml.search import Deadline, Fidelity

pd = pytest.importorskip("pandas")

TINY = dict(time_budget=None, cv=2, random_state=0)


class SleepingClassifier(ClassifierMixin, BaseEstimator):
    """Sleeps ``seconds`` in fit: a configuration too slow for its trial's time limit."""

    def __init__(self, seconds=60.0):
        self.seconds = seconds

    def fit(self, X, y):
        time.sleep(self.seconds)
        self.classes_ = np.unique(y)
        return self

    def predict(self, X):
        return np.full(len(X), self.classes_[0])


class BrokenClassifier(ClassifierMixin, BaseEstimator):
    """Fails in fit, as a bad candidate does."""

    def __init__(self, depth=1):
        self.depth = depth

    def fit(self, X, y):
        raise ArithmeticError("this candidate cannot be fitted")


SLEEPING = ModelFamily("sleeping", SleepingClassifier, (Categorical("seconds", (60.0,), 60.0),))
BROKEN = ModelFamily("broken", BrokenClassifier, (Integer("depth", 1, 4, 1),))


def mixed_table(n=240, seed=0):
    """A dirty table: numbers with gaps, strings with gaps, booleans, a pandas category, and an imbalanced target."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "amount": signal + rng.normal(scale=0.3, size=n),
            "noise": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n).astype(object),
            "flag": rng.random(n) < 0.5,
            "grade": pd.Categorical(rng.choice(["a", "b"], n)),
            "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        }
    )
    frame.loc[::9, "amount"] = np.nan
    frame.loc[::7, "colour"] = None
    y = np.where(signal > 0.6, "yes", "no")
    return frame, y


# --- the space


def test_space_values_are_members_and_mutation_changes_one_decision():
    space = PipelineSpace(families=("linear", "random_forest", "hist_gradient_boosting"))
    rng = np.random.default_rng(0)
    lengths = set()
    for _ in range(50):
        config = space.sample(rng)
        child = space.mutate(config, rng)
        assert space.contains(config) and space.contains(child) and child != config
        steps = [config.model != child.model, config.sampler != child.sampler, config.features != child.features]
        changed = sum(steps) + sum(a != b for a, b in zip(config.cleaning, child.cleaning))
        if config.model == child.model:
            changed += sum(a != b for a, b in zip(config.params, child.params))
        else:
            # A new family starts at its defaults.
            assert child == PipelineConfig(child.model, space.default_config(child.model).params, config.cleaning,
                                           config.sampler, config.features)
        assert changed == 1
        lengths.add(len(space.encode(config)))
    assert len(lengths) == 1  # one encoding length for every family
    assert isinstance(space.size(), int) and space.size() > 1000


def test_encode_puts_an_inactive_family_at_its_defaults():
    space = PipelineSpace(families=("linear", "knn"))
    linear = space.default_config("linear")
    tuned = PipelineConfig("linear", (("C", 100.0),), linear.cleaning)
    # The knn knobs of both are at their defaults; only C differs.
    assert np.count_nonzero(space.encode(linear) != space.encode(tuned)) == 1


def test_numeric_knobs_are_on_log_and_linear_levels():
    c = Real("C", 1e-3, 1e3, 1.0, log=True, levels=7)
    assert [c.from_unit(i / 6) for i in range(7)] == [0.001, 0.01, 0.1, 1.0, 10.0, 100.0, 1000.0]
    assert c.to_unit(1.0) == pytest.approx(0.5)
    n = Integer("n", 1, 64, 5, log=True)
    rng = np.random.default_rng(0)
    values = {n.sample(rng) for _ in range(200)}
    assert all(isinstance(v, int) and 1 <= v <= 64 for v in values) and {1, 64} <= values
    assert n.contains(5) and not n.contains(5.5) and not n.contains(100)
    with pytest.raises(ValueError, match="0 < low < high"):
        Real("bad", 0.0, 1.0, 0.5, log=True)


def test_low_cost_configs_come_cheapest_family_first():
    space = PipelineSpace()
    starts = space.low_cost_configs()
    assert [c.model for c in starts] == list(space.model_families())
    assert starts[0].model == "linear" and starts[-1].model == "mlp"
    forest = next(c for c in starts if c.model == "random_forest")
    assert dict(forest.params)["n_estimators"] == 8  # the low-cost value, not the default 100
    assert {c.sampler for c in starts} == {"none"}


def test_with_smote_among_the_samplers_the_cheapest_family_also_starts_rebalanced():
    space = PipelineSpace(samplers=("none", "smote"))
    starts = space.low_cost_configs()
    plain = PipelineSpace().low_cost_configs()
    assert starts[0] == plain[0] and starts[2:] == plain[1:]
    assert starts[1].sampler == "smote" and (starts[1].model, starts[1].params) == (plain[0].model, plain[0].params)
    assert "smote" in str(starts[1]) and space.contains(starts[1])


def test_build_gives_an_unfitted_imblearn_pipeline_of_the_steps():
    space = PipelineSpace(samplers=("none", "smote"))
    config = PipelineConfig("svc", (("C", 10.0), ("gamma", 0.1)), space.default_config("svc").cleaning, "smote", "pca")
    pipeline = space.build(config, random_state=3)
    assert isinstance(pipeline, Pipeline)
    assert [name for name, _ in pipeline.steps] == ["dates", "cleaner", "sampler", "scaler", "features", "model"]
    assert pipeline["model"].get_params()["C"] == 10.0 and pipeline["sampler"].random_state == 3
    assert not hasattr(pipeline["model"], "support_")  # unfitted
    assert str(config) == "smote > pca > svc(C=10.0, gamma=0.1)"


def test_regression_space_has_no_samplers_and_no_classification_only_steps():
    space = PipelineSpace("regression")
    assert space.sampler_options() == ("none",)
    assert "embedded" not in space.feature_options()
    assert set(space.model_families()) == {"linear", "knn", "random_forest", "extra_trees", "hist_gradient_boosting",
                                           "svr", "mlp"}


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"families": ("linear", "boosted_unicorns")}, "Unknown model family 'boosted_unicorns'"),
        ({"families": ()}, "families is empty"),
        ({"families": ("linear", ModelFamily("linear", LogisticRegression))}, "must be unique"),
        ({"samplers": ("none", "magic")}, "samplers must be"),
        ({"features": ("passthrough", "wavelets")}, "features must be"),
        ({"task": "ranking"}, "task must be"),
    ],
)
def test_space_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        space = PipelineSpace(**kwargs)
        space.model_families(), space.sampler_options(), space.feature_options()


# --- the evaluator


def _iris_evaluator(families, time_limit=None):
    X, y = load_iris(return_X_y=True)
    space = PipelineSpace(families=families, cleaning=False, samplers=("none",), features=("passthrough",))
    folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    return space, PipelineEvaluator(space, "accuracy", folds, classes=np.arange(3), time_limit=time_limit), X, y


def test_evaluator_keeps_out_of_fold_probabilities_at_full_fidelity_only():
    space, evaluator, X, y = _iris_evaluator(("linear",))
    config = space.low_cost_configs()[0]
    full = evaluator.evaluate(config, X, y, Fidelity(1), seed=0)
    assert full.ok and full.predictions.shape == (150, 3)
    np.testing.assert_allclose(full.predictions.sum(axis=1), 1.0, rtol=1e-5)
    # The score is the mean fold accuracy of those very predictions.
    hits = [np.mean(np.argmax(full.predictions[valid], 1) == y[valid]) for _, valid in evaluator.folds]
    assert full.score == pytest.approx(np.mean(hits))
    low = evaluator.evaluate(config, X, y, Fidelity(1, data_fraction=0.3), seed=0)
    assert low.ok and low.predictions is None and low.score != full.score


def test_repeated_folds_average_each_rows_out_of_fold_predictions():
    X, y = load_iris(return_X_y=True)
    space = PipelineSpace(families=("linear",), cleaning=False, samplers=("none",), features=("passthrough",))
    first, second = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y)), list(
        StratifiedKFold(3, shuffle=True, random_state=1).split(X, y)
    )
    evaluator = PipelineEvaluator(space, "accuracy", first + second, classes=np.arange(3))
    config = space.low_cost_configs()[0]
    result = evaluator.evaluate(config, X, y, Fidelity(1), seed=0)
    expected = np.zeros((150, 3))
    for train, valid in first + second:
        expected[valid] += space.build(config, random_state=0).fit(X[train], y[train]).predict_proba(X[valid]) / 2
    np.testing.assert_allclose(result.predictions, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("n_rows, cv, n_folds", [(300, "auto", AUTO_FOLDS), (300, 4, 4)])
def test_auto_folds_are_stratified_and_hold_out_every_row_once(n_rows, cv, n_folds):
    X, y = make_classification(n_rows, n_features=4, weights=[0.7], random_state=0)
    folds = AutoMLClassifier(cv=cv)._folds(X, y, None, seed=0)
    assert len(folds) == n_folds
    held = np.bincount(np.concatenate([valid for _, valid in folds]), minlength=n_rows)
    assert np.all(held == 1)
    assert all(abs(np.mean(y[valid]) - np.mean(y)) < 0.05 for _, valid in folds)


def test_a_failing_candidate_is_recorded_with_its_error():
    space, evaluator, X, y = _iris_evaluator(("linear", BROKEN))
    result = evaluator.evaluate(space.default_config("broken"), X, y, Fidelity(1), seed=0)
    assert result.status == "failed" and np.isnan(result.score)
    assert "ArithmeticError: this candidate cannot be fitted" in result.error


def test_a_slow_trial_is_stopped_at_its_time_limit_and_the_next_one_runs():
    # A limit far above what the linear trial needs, also on a loaded machine, and far below the sleep.
    space, evaluator, X, y = _iris_evaluator(("linear", SLEEPING), time_limit=10.0)
    slow = evaluator.evaluate(space.default_config("sleeping"), X, y, Fidelity(1), seed=0)
    assert slow.status == "failed" and "TrialTimeout" in slow.error and "10.0 s" in slow.error
    after = evaluator.evaluate(space.default_config("linear"), X, y, Fidelity(1), seed=0)  # in a new worker
    assert after.ok and after.score > 0.9


def test_the_search_deadline_also_stops_a_trial():
    space, evaluator, X, y = _iris_evaluator((SLEEPING,))
    clock = FakeClock()
    deadline = Deadline(clock() + 1.0, clock)  # one second left, whatever the machine's speed
    result = evaluator.evaluate(space.default_config("sleeping"), X, y, Fidelity(1), seed=0, deadline=deadline)
    assert result.status == "failed" and "TrialTimeout" in result.error


# --- the estimators


def test_classifier_on_a_dirty_table_predicts_labels_and_leaves_the_input_alone():
    X, y = mixed_table()
    before = X.copy()
    clf = AutoMLClassifier(max_trials=6, families=["linear", "random_forest"], ensemble_size=5, **TINY).fit(X, y)
    pd.testing.assert_frame_equal(X, before)
    assert list(clf.classes_) == ["no", "yes"] and isinstance(clf.classes_, np.ndarray)
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert clf.score(X, y) > 0.8
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(clf.feature_names_in_) == list(X.columns) and clf.n_features_in_ == 6
    # The date became numbers before the cleaner saw it.
    dates = clf.best_pipeline_["dates"]
    assert dates.datetime_columns_ == ["when"] and "when_month" in dates.get_feature_names_out()
    # The best pipeline is plain imbalanced-learn and predicts the raw table alone, after pickling.
    pipeline = pickle.loads(pickle.dumps(clf.best_pipeline_))
    assert isinstance(pipeline, Pipeline)
    np.testing.assert_array_equal(pipeline.predict(X), clf.best_pipeline_.predict(X))
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))


def test_search_results_leaderboard_and_summary():
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoMLClassifier(max_trials=5, families=["linear", "knn"], ensemble_size=3, **TINY).fit(X, y)
    results = clf.search_results_
    assert len(results["trial"]) == 5 and set(results["family"]) <= {"linear", "knn"}
    board = clf.leaderboard()
    assert list(board) == ["rank", "trial", "score", "fit_seconds", "predict_seconds", "family", "pipeline",
                           "ensemble_weight"]
    assert np.all(np.diff(board["score"]) <= 0) and board["trial"][0] == clf.best_index_
    assert board["ensemble_weight"].sum() == pytest.approx(1.0)
    text = clf.summary()
    assert "AutoMLClassifier: 5 trials" in text and str(clf.best_config_) in text and "Ensemble of" in text


def test_the_ensemble_is_greedy_selection_over_out_of_fold_predictions():
    X, y = make_classification(300, n_features=12, n_informative=6, random_state=0)
    clf = AutoMLClassifier(max_trials=8, families=["linear", "knn", "extra_trees"], ensemble_size=10, **TINY).fit(X, y)
    assert clf.ensemble_ is not None
    assert clf.ensemble_weights_.sum() == pytest.approx(1.0)
    assert set(clf.ensemble_indices_) <= set(np.flatnonzero(clf.search_results_["status"] == "ok"))
    # predict is the ensemble's, not the best pipeline's alone.
    np.testing.assert_array_equal(clf.predict(X), clf.ensemble_.predict(X))
    # Kept because it won the check on held-out out-of-fold rows (or chose a single pipeline, unchecked).
    check = clf.ensemble_check_
    assert check is None or check["ensemble"] > check["single_best"]
    no_ensemble = clone(clf).set_params(ensemble_size=0).fit(X, y)
    assert no_ensemble.ensemble_ is None and no_ensemble.ensemble_check_ is None
    np.testing.assert_array_equal(no_ensemble.predict(X), no_ensemble.best_pipeline_.predict(X))


def test_an_ensemble_that_loses_the_check_to_the_best_pipeline_is_dropped(monkeypatch):
    import skautoml._automl as automl_module

    calls = []

    def single_best_wins(predictions, y, score, size, parts, sample_weight=None):
        calls.append((len(predictions), len(y), [len(held) for _, held in parts]))
        return 0.9, 0.8

    monkeypatch.setattr(automl_module, "check_ensemble_selection", single_best_wins)
    X, y = make_classification(300, n_features=12, n_informative=6, random_state=0)
    clf = AutoMLClassifier(max_trials=8, families=["linear", "knn", "extra_trees"], ensemble_size=10, **TINY).fit(X, y)
    # The check saw the library's out-of-fold predictions of every row, in three parts.
    [(n_models, n_rows, held)] = calls
    assert 1 < n_models <= 8 and n_rows == 300 and sum(held) == 300 and len(held) == 3
    assert clf.ensemble_ is None and clf.ensemble_check_ == {"single_best": 0.9, "ensemble": 0.8}
    np.testing.assert_array_equal(clf.predict(X), clf.best_pipeline_.predict(X))
    assert "No ensemble" in clf.summary() and clf.leaderboard()["ensemble_weight"].sum() == 0


def test_the_refit_reserve_counts_the_score_calls_of_ensemble_selection_and_its_check():
    from skautoml._automl import ENSEMBLE_CHECK_PARTS, _RefitReserve
    from skautoml.search import TrialResult

    config = PipelineSpace().low_cost_configs()[0]
    full = [TrialResult(config, 0.9, "ok", train_seconds=1.0, resource=1.0, predictions=np.zeros(4)) for _ in range(3)]
    low = TrialResult(config, 0.8, "ok", train_seconds=1.0, resource=0.5)
    plain = _RefitReserve(n_folds=2, n_rows=10, fold_rows=5, n_refits=1)
    with_ensemble = _RefitReserve(n_folds=2, n_rows=10, fold_rows=5, n_refits=1, ensemble_size=10, score_seconds=0.01)
    refit = plain(full + [low], time_budget=1000)
    assert refit == pytest.approx(1.0)  # one fold's fit (0.5 s) on twice the rows
    # Three models in the library (the low-fidelity trial has no predictions), ten steps, the selection and the check.
    assert with_ensemble(full + [low], time_budget=1000) == pytest.approx(refit + 0.01 * 10 * 3 * (1 + ENSEMBLE_CHECK_PARTS))


def test_predict_proba_exists_only_where_the_final_model_has_it():
    X, y = load_iris(return_X_y=True)
    clf = AutoMLClassifier(max_trials=2, families=["svc"], ensemble_size=0, **TINY)
    assert hasattr(clf, "predict_proba")  # unfitted: calling it says it is not fitted
    clf.fit(X, y)
    assert not hasattr(clf, "predict_proba") and clf.score(X, y) > 0.8


def test_failing_families_are_recorded_and_the_search_goes_on():
    X, y = load_iris(return_X_y=True)
    clf = AutoMLClassifier(max_trials=4, families=[BROKEN, "linear"], **TINY).fit(X, y)
    status = clf.search_results_["status"]
    assert "failed" in status and clf.best_config_.model == "linear"
    assert any("ArithmeticError" in str(e) for e in clf.search_results_["error"])
    with pytest.raises(RuntimeError, match="Every one of the 2 trials failed.*ArithmeticError"):
        AutoMLClassifier(max_trials=2, families=[BROKEN], **TINY).fit(X, y)


def test_a_slow_configuration_cannot_eat_the_budget():
    X, y = load_iris(return_X_y=True)
    clf = AutoMLClassifier(
        max_trials=3, families=[SLEEPING, "linear"], trial_time_limit=10.0, time_budget=None, cv=2, random_state=0,
        ensemble_size=0,
    ).fit(X, y)
    errors = clf.search_results_["error"][clf.search_results_["family"] == "sleeping"]
    assert len(errors) and all("TrialTimeout" in e for e in errors)
    assert clf.best_config_.model == "linear"


def test_sample_weight_and_groups():
    X, y = load_breast_cancer(return_X_y=True)
    groups = np.arange(len(y)) % 7
    weights = np.where(y == 1, 1.0, 3.0)
    clf = AutoMLClassifier(max_trials=3, ensemble_size=0, **TINY).fit(X, y, sample_weight=weights, groups=groups)
    # Only families that take weights, and no row sampler (its rows would lose their weights).
    assert "knn" not in clf.space_.model_families() and "mlp" in clf.space_.model_families()
    assert clf.space_.sampler_options() == ("none",)
    with pytest.raises(ValueError, match=r"families \['knn'\] do not take it"):
        AutoMLClassifier(max_trials=1, families=["knn"], **TINY).fit(X, y, sample_weight=weights)
    with pytest.raises(ValueError, match="finite, non-negative"):
        AutoMLClassifier(max_trials=1, **TINY).fit(X, y, sample_weight=-weights)
    with pytest.raises(ValueError, match="one label per row of X"):
        AutoMLClassifier(max_trials=1, **TINY).fit(X, y, groups=groups[:10])


@pytest.mark.parametrize(
    "params, fit_args, error, match",
    [
        ({"max_trials": None}, None, ValueError, "both None"),
        ({"families": ["deep_forest"]}, None, ValueError, "Unknown model family 'deep_forest'"),
        ({}, "one_class", ValueError, "at least 2 classes"),
        ({}, "short_y", ValueError, "has 150 rows but y has 10"),
        ({"initial_configs": [PipelineConfig("nope")]}, None, ValueError, "initial config"),
    ],
)
def test_bad_input_gets_a_clear_error(params, fit_args, error, match):
    X, y = load_iris(return_X_y=True)
    if fit_args == "one_class":
        y = np.zeros_like(y)
    elif fit_args == "short_y":
        y = y[:10]
    with pytest.raises(error, match=match):
        AutoMLClassifier(**{**TINY, "max_trials": 1, **params}).fit(X, y)


def test_initial_configs_run_first():
    X, y = load_iris(return_X_y=True)
    space = PipelineSpace(families=("linear", "knn"))
    start = PipelineConfig("knn", (("n_neighbors", 3), ("weights", "distance")), space.default_config("knn").cleaning)
    clf = AutoMLClassifier(max_trials=2, families=["linear", "knn"], initial_configs=[start], **TINY).fit(X, y)
    assert clf.search_results_["config"][0] == start


def test_same_seed_same_search():
    X, y = load_breast_cancer(return_X_y=True)
    first = AutoMLClassifier(max_trials=6, families=["linear", "extra_trees"], **TINY).fit(X, y)
    second = AutoMLClassifier(max_trials=6, families=["linear", "extra_trees"], **TINY).fit(X, y)
    assert list(first.search_results_["pipeline"]) == list(second.search_results_["pipeline"])
    np.testing.assert_array_equal(first.search_results_["score"], second.search_results_["score"])


def test_works_inside_cross_val_score_and_grid_search():
    X, y = load_iris(return_X_y=True)
    clf = AutoMLClassifier(max_trials=2, families=["linear"], ensemble_size=0, **TINY)
    assert cross_val_score(clf, X, y, cv=2).mean() > 0.8
    grid = GridSearchCV(clf, {"families": [["linear"], ["knn"]]}, cv=2).fit(X, y)
    assert grid.best_params_["families"] in (["linear"], ["knn"])


def test_regressor_searches_scores_r2_and_ensembles():
    X, y = load_diabetes(return_X_y=True)
    reg = AutoMLRegressor(max_trials=5, families=["linear", "knn"], ensemble_size=5, **TINY).fit(X, y)
    assert 0.3 < reg.best_score_ < 0.7  # R² of the folds
    weighted = sum(w * m.predict(X) for w, m in zip(reg.ensemble_.weights_, reg.ensemble_.estimators_))
    np.testing.assert_allclose(reg.predict(X), weighted)
    with pytest.raises(ValueError, match="missing or infinite"):
        AutoMLRegressor(max_trials=1, **TINY).fit(X, np.r_[y[:-1], np.nan])
    with pytest.raises(ValueError, match="numeric targets"):
        AutoMLRegressor(max_trials=1, **TINY).fit(X, np.array(["a"] * len(y)))


def test_a_time_budgeted_fit_ends_with_a_result_and_loads_no_torch():
    code = (
        "import sys, numpy as np; from sklearn.datasets import load_breast_cancer; "
        "from skautoml import AutoMLClassifier; X, y = load_breast_cancer(return_X_y=True); "
        # A budget that three cheap trials fit on a loaded machine (each may take a quarter of it).
        "clf = AutoMLClassifier(time_budget=60, max_trials=3, families=['linear', 'hist_gradient_boosting'], "
        "random_state=0)"
        ".fit(X, y); print(len(clf.search_results_['trial']) >= 1, clf.score(X, y) > 0.9, 'torch' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.split() == ["True", "True", "False"]


# --- the default strategy


class _QuadraticEvaluator:
    """No fitting: a linear pipeline scores best at C = 13.3352 (a level of C), the forest a constant below."""

    def evaluate(self, config, fidelity, seed, deadline=None):
        from skautoml.search import TrialResult

        params = dict(config.params)
        score = -(np.log10(params["C"]) - np.log10(13.3352)) ** 2 if config.model == "linear" else -2.0
        return TrialResult(config, score, "ok", seed=seed)


def test_pipeline_halving_proposes_within_the_best_family_from_its_gaussian_process():
    from skautoml.automl import PipelineHalving
    from skautoml.search import Budget, run_search

    space = PipelineSpace(families=("linear", "random_forest"), cleaning=False, samplers=("none",),
                          features=("passthrough",))
    strategy = PipelineHalving(min_resource=1.0, initial_architectures=tuple(space.low_cost_configs()),
                               random_fraction=0.0).reset(space, 0)
    results = run_search(strategy, _QuadraticEvaluator(), (), Fidelity(1), Budget(max_trials=30).start(), 0)
    assert [r.architecture for r in results[:2]] == space.low_cost_configs()
    assert len(set(r.architecture for r in results)) == len(results)  # no pipeline twice
    assert all(space.contains(r.architecture) for r in results)
    # After four random values of C (n_min_points), the model's third proposal is the best level of C;
    # it then proposes seen levels, and the strategy draws unseen ones at random instead.
    linear = [dict(r.architecture.params)["C"] for r in results if r.architecture.model == "linear"]
    assert linear.index(13.3352) <= 7 and strategy.n_model_proposals >= 3
    again = PipelineHalving(min_resource=1.0, initial_architectures=tuple(space.low_cost_configs()),
                            random_fraction=0.0).reset(space, 0)
    rerun = run_search(again, _QuadraticEvaluator(), (), Fidelity(1), Budget(max_trials=30).start(), 0)
    assert [r.architecture for r in rerun] == [r.architecture for r in results]  # one seed, one search


@pytest.mark.parametrize("kwargs, match", [({"random_fraction": 1.5}, "random_fraction"),
                                           ({"n_min_points": 0}, "n_min_points")])
def test_pipeline_halving_rejects_bad_settings(kwargs, match):
    from skautoml.automl import PipelineHalving

    with pytest.raises(ValueError, match=match):
        PipelineHalving(**kwargs).reset(PipelineSpace(), 0)


def test_a_scorer_of_the_labels_as_given_scores_every_trial():
    from sklearn.metrics import f1_score, make_scorer

    X, y = mixed_table()
    scorer = make_scorer(f1_score, pos_label="yes")
    clf = AutoMLClassifier(max_trials=3, families=["linear"], scoring=scorer, ensemble_size=3, **TINY).fit(X, y)
    assert list(clf.search_results_["status"]) == ["ok"] * 3
    assert clf.best_score_ > 0.5


def test_storage_needs_an_int_random_state(tmp_path):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="set random_state to an int"):
        AutoMLClassifier(max_trials=1, time_budget=None, storage=str(tmp_path / "s.sqlite")).fit(X, y)


# --- the NAS families: skautoml's NAS MLP in the space, images to the architecture search


def test_the_nas_mlp_family_runs_an_architecture_search_in_each_fit_and_its_pipeline_pickles():
    X, y = make_classification(120, 6, random_state=0)
    clf = AutoMLClassifier(max_trials=1, families=["nas_mlp"], ensemble_size=0, **TINY).fit(X, y)
    assert clf.search_results_["status"].tolist() == ["ok"]
    assert clf.best_config_.model == "nas_mlp"
    assert dict(clf.best_config_.params) == {"max_trials": 2, "max_epochs": 8, "lr": 3e-3}  # its low-cost start
    nas = clf.best_pipeline_.named_steps["model"]
    assert type(nas).__name__ == "AutoNASClassifier" and len(nas.search_results_["trial"]) == 2
    assert type(nas.best_architecture_).__name__ == "MLPArchitecture"
    restored = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(restored.predict(X), clf.predict(X))
    assert clf.score(X, y) > 0.7


def test_the_nas_mlp_joins_the_default_families_only_when_rows_and_budget_justify_it():
    from skautoml._automl import NAS_MIN_BUDGET, NAS_MIN_ROWS, NAS_TRIAL_SHARE

    X, y = make_classification(NAS_MIN_ROWS, 4, random_state=0)
    # One trial: the cheapest family's low-cost start, so no network trains.
    big = AutoMLClassifier(time_budget=NAS_MIN_BUDGET, max_trials=1, ensemble_size=0, cv=2, random_state=0).fit(X, y)
    families = big.space_.model_families()
    assert "nas_mlp" in families and list(families)[-1] == "nas_mlp"  # the dearest, so its low-cost start runs last
    # Its architecture searches share a trial's time limit (a quarter of the budget) over the folds.
    assert families["nas_mlp"].fixed["time_budget"] == pytest.approx(NAS_TRIAL_SHARE * NAS_MIN_BUDGET / 4 / 2)
    small_budget = AutoMLClassifier(time_budget=NAS_MIN_BUDGET / 2, max_trials=1, ensemble_size=0, cv=2, random_state=0)
    assert "nas_mlp" not in small_budget.fit(X, y).space_.model_families()
    few_rows = AutoMLClassifier(time_budget=NAS_MIN_BUDGET, max_trials=1, ensemble_size=0, cv=2, random_state=0)
    assert "nas_mlp" not in few_rows.fit(X[:-1], y[:-1]).space_.model_families()
    # Weighted rows: the families that take no weights (k-NN, the NAS) leave quietly, as they were not named.
    weighted = clone(big).fit(X, y, sample_weight=np.ones(len(y)))
    assert not {"knn", "nas_mlp"} & set(weighted.space_.model_families())
    regressor = AutoMLRegressor(max_trials=1, families=["nas_mlp", "linear"], ensemble_size=0, **TINY)
    assert regressor.fit(X, y.astype(float)).space_.model_families()["nas_mlp"].estimator == "skautoml:AutoNASRegressor"


def test_a_family_given_by_import_path_is_imported_only_when_built():
    family = ModelFamily("ridge", "sklearn.linear_model:RidgeClassifier", (Real("alpha", 1e-2, 1e2, 1.0, log=True),))
    assert family.make({"alpha": 2.0}).get_params()["alpha"] == 2.0
    with pytest.raises(ModuleNotFoundError):
        ModelFamily("missing", "no_such_module:Model").make({})


def test_images_go_to_the_architecture_search():
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, y = digits.images[:200] / 16.0, digits.target[:200]
    clf = AutoMLClassifier(max_trials=1, random_state=0, time_budget=None).fit(images, y)
    nas = clf.best_pipeline_.named_steps["model"]
    assert type(nas).__name__ == "AutoNASClassifier" and nas.input_shape_ == (1, 8, 8)
    assert clf.search_results_["family"].tolist() == ["nas_cnn"] and clf.ensemble_ is None
    assert clf.predict(images[:5]).shape == (5,) and clf.predict_proba(images[:5]).shape == (5, 10)
    np.testing.assert_array_equal(clf.classes_, np.arange(10))
    assert "architecture search's validation score" in clf.summary()
    assert clf.leaderboard()["pipeline"][0] == str(clf.best_config_)
    with pytest.raises(ValueError, match="X has 64 features|expected|shape"):
        clf.predict(images[:5, :4])


def test_images_refuse_what_applies_to_tables_only():
    images, y = np.zeros((20, 8, 8)), np.arange(20) % 2
    with pytest.raises(ValueError, match="scoring='accuracy' applies to tables"):
        AutoMLClassifier(scoring="accuracy", **TINY, max_trials=1).fit(images, y)
    with pytest.raises(ValueError, match="sample_weight and groups apply to tables"):
        AutoMLClassifier(max_trials=1, **TINY).fit(images, y, sample_weight=np.ones(20))
