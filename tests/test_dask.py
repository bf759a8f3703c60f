"""The same search scales out: trials run on the workers of a real Dask cluster, or of Ray (started on this machine)."""
import os

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.datasets import load_iris

from skautoml import AutoNASClassifier

distributed = pytest.importorskip("distributed")

# One pytest-xdist worker runs this module (with --dist loadgroup), so that one cluster serves its tests.
pytestmark = pytest.mark.xdist_group("cluster")


@pytest.fixture(scope="module")
def dask_client():
    import dask

    # Non-daemonic workers may start processes: a time-limited pipeline trial runs in one it can kill.
    with dask.config.set({"distributed.worker.daemon": False}), distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_trials_run_on_dask_workers(dask_client):
    X, y = load_iris(return_X_y=True)
    params = dict(strategy="random", max_trials=4, max_epochs=3, random_state=0)
    with parallel_backend("dask"):
        clf = AutoNASClassifier(**params).fit(X, y)
    worker_pids = set(dask_client.run(os.getpid).values())
    trial_pids = {int(worker.rsplit(":", 1)[1]) for worker in clf.search_results_["worker"]}
    assert clf.n_trials_ == 4
    assert trial_pids <= worker_pids and os.getpid() not in trial_pids
    # Scheduling does not change the search: each trial is seeded by its index.
    local = AutoNASClassifier(**params).fit(X, y)
    np.testing.assert_allclose(clf.search_results_["score"], local.search_results_["score"])
    assert clf.score(X, y) > 0.5


def test_pipeline_trials_run_on_dask_workers_also_under_a_time_limit(dask_client):
    from skautoml import AutoMLClassifier

    X, y = load_iris(return_X_y=True)
    params = dict(time_budget=None, max_trials=4, families=["linear", "knn"], cv=3, random_state=0)
    worker_pids = set(dask_client.run(os.getpid).values())
    for limit in (None, 60.0):  # with a limit, each trial runs in a process its Dask worker starts and can kill
        with parallel_backend("dask"):
            clf = AutoMLClassifier(**params, trial_time_limit=limit).fit(X, y)
        trial_pids = {int(worker.rsplit(":", 1)[1]) for worker in clf.search_results_["worker"]}
        assert trial_pids <= worker_pids and os.getpid() not in trial_pids
        assert list(clf.search_results_["status"]) == ["ok"] * 4
    local = AutoMLClassifier(**params, n_jobs=2).fit(X, y)  # rounds of two trials, as on the two Dask workers
    assert list(clf.search_results_["pipeline"]) == list(local.search_results_["pipeline"])
    np.testing.assert_allclose(clf.search_results_["score"], local.search_results_["score"])


def test_pipeline_trials_run_on_ray_workers():
    ray = pytest.importorskip("ray")
    from ray.util.joblib import register_ray

    from skautoml import AutoMLClassifier

    X, y = load_iris(return_X_y=True)
    params = dict(time_budget=None, max_trials=4, families=["linear", "knn"], cv=3, random_state=0)
    ray.init(num_cpus=2, include_dashboard=False, address="local", log_to_driver=False)
    try:
        register_ray()
        with parallel_backend("ray"):
            clf = AutoMLClassifier(**params, n_jobs=2).fit(X, y)
    finally:
        ray.shutdown()
    trial_pids = {int(worker.rsplit(":", 1)[1]) for worker in clf.search_results_["worker"]}
    assert os.getpid() not in trial_pids  # the trials ran in Ray's worker processes
    local = AutoMLClassifier(**params, n_jobs=2).fit(X, y)
    np.testing.assert_allclose(clf.search_results_["score"], local.search_results_["score"])
