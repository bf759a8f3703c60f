"""Resumable searches: the SQLite storage, its replay in the search loop, and a fit killed and resumed."""
import os
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from skautoml import AutoMLClassifier
from skautoml.nas import MLPSpace
from skautoml.search import (
    Budget, Fidelity, Proposal, RandomSearch, RegularizedEvolution, SQLiteStorage, SuccessiveHalving, TrialResult,
    run_search,
)

SPACE = MLPSpace(max_layers=2, widths=(8, 16, 32))


class CountingEvaluator:
    """A score from the architecture and the seed, no training; counts its calls."""

    def __init__(self):
        self.calls = 0

    def evaluate(self, architecture, fidelity, seed, deadline=None):
        self.calls += 1
        score = sum(architecture.widths) / 64 + (seed % 1000) / 1e5 + fidelity.max_epochs / 100
        return TrialResult(architecture, score, "ok", seed=seed, epochs=fidelity.max_epochs)


def search(strategy, storage, max_trials, evaluator=None, seed=0, n_jobs=None):
    evaluator = evaluator or CountingEvaluator()
    strategy.reset(SPACE, seed)
    results = run_search(
        strategy, evaluator, (), Fidelity(9), Budget(max_trials=max_trials).start(), seed, n_jobs=n_jobs,
        storage=storage,
    )
    return results, evaluator


def _essence(results):
    """What a search found, without where each trial ran (and without NaN fields, which never compare equal)."""
    return [(r.architecture, r.score, r.seed, r.resource, r.epochs) for r in results]


def fresh(tmp_path, name="search.sqlite", round_size=1, fingerprint="the search"):
    return SQLiteStorage(tmp_path / name).open(fingerprint, round_size=round_size)


def test_storage_keeps_trials_in_order_and_refuses_another_search(tmp_path):
    storage = fresh(tmp_path)
    storage.add(0, TrialResult("a", 0.5, "ok"))
    storage.add(1, TrialResult("b", float("nan"), "failed", error="ValueError: no"))
    again = SQLiteStorage(tmp_path / "search.sqlite").open("the search", round_size=4)
    assert [r.architecture for r in again.load()] == ["a", "b"] and again.load()[1].error == "ValueError: no"
    assert again.round_size == 1  # the first search's
    with pytest.raises(ValueError, match="holds the trials of another search"):
        SQLiteStorage(tmp_path / "search.sqlite").open("another search", round_size=1)
    # A second fit writing to the file at the same time would store trial 1 again: refused, not overwritten.
    with pytest.raises(RuntimeError, match="Trial 1 is already stored .* another fit is writing to this file"):
        again.add(1, TrialResult("c", 0.9, "ok"))
    assert [r.architecture for r in again.load()] == ["a", "b"]


@pytest.mark.parametrize("make", [lambda: RegularizedEvolution(population_size=4, sample_size=2),
                                  lambda: SuccessiveHalving(eta=3, min_resource=1 / 9)])
def test_a_stopped_search_resumes_without_rerunning_and_ends_as_one_run(tmp_path, make):
    whole, _ = search(make(), None, 12)
    storage = fresh(tmp_path)
    first, evaluator = search(make(), storage, 5)
    assert evaluator.calls == 5 and len(storage.load()) == 5
    resumed, evaluator = search(make(), SQLiteStorage(tmp_path / "search.sqlite").open("the search", 1), 12)
    assert evaluator.calls == 7  # only the trials not stored
    assert _essence(resumed) == _essence(whole)
    assert _essence(resumed[:5]) == _essence(first)


def test_rounds_keep_the_first_runs_size_whatever_n_jobs_is_now(tmp_path):
    whole, _ = search(SuccessiveHalving(eta=3, min_resource=1 / 9), None, 12)
    search(SuccessiveHalving(eta=3, min_resource=1 / 9), fresh(tmp_path), 5)
    storage = SQLiteStorage(tmp_path / "search.sqlite").open("the search", round_size=2)
    assert storage.round_size == 1
    resumed, _ = search(SuccessiveHalving(eta=3, min_resource=1 / 9), storage, 12, n_jobs=2)
    assert _essence(resumed) == _essence(whole) and len(storage.load()) == 12


def test_a_storage_of_another_seed_is_refused_at_the_first_difference(tmp_path):
    search(RandomSearch(), fresh(tmp_path), 3, seed=0)
    with pytest.raises(RuntimeError, match="Stored trial 0 ran"):
        search(RandomSearch(), SQLiteStorage(tmp_path / "search.sqlite").open("the search", 1), 3, seed=1)


class _Keeping(RandomSearch):
    """Asks for the trained model, as morphism strategies do."""

    def _propose(self):
        return Proposal(super()._propose(), keep_model=True)


class _Sharing(RandomSearch):
    shares_weights = True


@pytest.mark.parametrize("strategy", [_Keeping(), _Sharing()])
def test_strategies_that_keep_trained_networks_say_they_cannot_resume(tmp_path, strategy):
    with pytest.raises(NotImplementedError, match="cannot resume"):
        search(strategy, fresh(tmp_path), 2)


# --- a fit killed in a subprocess, resumed

PARAMS = dict(time_budget=None, max_trials=10, families=["linear", "knn", "extra_trees"], cv=3, random_state=0)


def _stored(path):
    if not os.path.exists(path):
        return 0
    try:
        with sqlite3.connect(path) as connection:
            return connection.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
    except sqlite3.OperationalError:  # the tables are not there yet
        return 0


def test_a_killed_fit_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one(tmp_path):
    path = str(tmp_path / "fit.sqlite")
    code = (
        "from sklearn.datasets import load_breast_cancer; from skautoml import AutoMLClassifier; "
        f"X, y = load_breast_cancer(return_X_y=True); AutoMLClassifier(**{PARAMS!r}, storage={path!r}).fit(X, y)"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    try:
        while _stored(path) < 3 and process.poll() is None:  # poll the file, not the clock
            time.sleep(0.02)
        process.kill()
    finally:
        process.wait()
    done = _stored(path)
    assert 3 <= done < PARAMS["max_trials"], "the fit finished before it could be killed"
    X, y = load_breast_cancer(return_X_y=True)
    resumed = AutoMLClassifier(**PARAMS, storage=path, n_jobs=1, verbose=0).fit(X, y)
    uninterrupted = AutoMLClassifier(**PARAMS).fit(X, y)
    for name in ("pipeline", "status", "resource"):
        assert list(resumed.search_results_[name]) == list(uninterrupted.search_results_[name])
    np.testing.assert_array_equal(resumed.search_results_["score"], uninterrupted.search_results_["score"])
    assert resumed.best_config_ == uninterrupted.best_config_
    np.testing.assert_array_equal(resumed.predict(X), uninterrupted.predict(X))
    # The stored trials were not run again: they carry the killed process's id.
    stored = SQLiteStorage(path).load()
    assert all(r.worker.endswith(f":{process.pid}") for r in stored[:done])
    assert not any(r.worker.endswith(f":{process.pid}") for r in stored[done:])


def test_a_fit_with_other_parameters_or_data_refuses_the_file(tmp_path):
    path = str(tmp_path / "fit.sqlite")
    X, y = load_breast_cancer(return_X_y=True)
    AutoMLClassifier(**{**PARAMS, "max_trials": 2}, storage=path).fit(X, y)
    with pytest.raises(ValueError, match="another search: other parameters or other data"):
        AutoMLClassifier(**{**PARAMS, "max_trials": 2, "cv": 4}, storage=path).fit(X, y)
    with pytest.raises(ValueError, match="another search"):
        AutoMLClassifier(**{**PARAMS, "max_trials": 2}, storage=path).fit(X[:300], y[:300])


def test_an_architecture_search_resumes_from_its_storage(tmp_path):
    from sklearn.datasets import load_iris

    from skautoml import AutoNASClassifier

    X, y = load_iris(return_X_y=True)
    path = str(tmp_path / "nas.sqlite")
    settings = dict(max_epochs=3, random_state=0, strategy="evolution")
    AutoNASClassifier(max_trials=2, storage=path, **settings).fit(X, y)
    stored = SQLiteStorage(path).load()
    with pytest.raises(ValueError, match="another search"):  # max_trials is part of the search
        AutoNASClassifier(max_trials=4, storage=path, **settings).fit(X, y)
    path = str(tmp_path / "nas4.sqlite")
    first = AutoNASClassifier(max_trials=4, storage=path, **settings)
    SQLiteStorage(path).open(first._storage_fingerprint(X, y), round_size=1)
    for number, result in enumerate(stored):  # the first two trials of the same search, as if it had been killed
        SQLiteStorage(path).add(number, result)
    resumed = first.fit(X, y)
    whole = AutoNASClassifier(max_trials=4, **settings).fit(X, y)
    assert list(map(str, resumed.search_results_["architecture"])) == list(map(str, whole.search_results_["architecture"]))
    np.testing.assert_array_equal(resumed.search_results_["score"], whole.search_results_["score"])
    assert [r.worker for r in SQLiteStorage(path).load()[:2]] == [r.worker for r in stored]
    images = np.random.default_rng(0).random((40, 8, 8), dtype=np.float32)
    with pytest.raises(NotImplementedError, match="SPOS keeps trained networks.*cannot resume"):
        AutoNASClassifier(
            strategy="spos", max_trials=2, max_epochs=1, random_state=0, storage=str(tmp_path / "spos.sqlite")
        ).fit(
            images, np.arange(40) % 2
        )
