"""The same search scales out: trials run on the workers of a real Dask cluster."""
import os

import numpy as np
import pytest
from joblib import parallel_backend
from sklearn.datasets import load_iris

from skautoml import AutoNASClassifier

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client():
    with distributed.LocalCluster(
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
