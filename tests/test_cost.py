"""Costs of an architecture before training: architecture_cost, LatencyTable, measure_latency."""
import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from skautoml.nas import (
    ArchitectureCost,
    CellSpace,
    CNNSpace,
    CostLimits,
    FeasibleSpace,
    LatencyTable,
    MLPArchitecture,
    MLPSpace,
    architecture_cost,
    measure_latency,
)
from skautoml.nas.evaluate import count_flops

SPACES = [
    (MLPSpace(), (12,)),
    (CNNSpace(max_layers=4), (1, 8, 8)),
    (CNNSpace(stem_stride=2), (3, 16, 16)),
    (CellSpace(n_cells=3, n_blocks=2, initial_channels=8), (1, 8, 8)),
]


@pytest.mark.parametrize("space, shape", SPACES, ids=lambda v: type(v).__name__ if not isinstance(v, tuple) else "")
def test_parameters_and_flops_equal_those_of_the_built_network(space, shape):
    rng = np.random.default_rng(0)
    for _ in range(3):
        architecture = space.sample(rng)
        network = space.build(architecture, shape, 5)
        cost = architecture_cost(space, architecture, shape, 5)
        assert cost == ArchitectureCost(sum(p.numel() for p in network.parameters()), count_flops(network, shape))


def test_an_mlp_has_the_parameters_and_flops_of_its_layers():
    cost = architecture_cost(MLPSpace(), MLPArchitecture(widths=(16,)), (10,), 3)
    assert cost.n_params == 10 * 16 + 16 + 16 * 3 + 3
    assert cost.flops == 2 * (10 * 16 + 16 * 3)
    assert cost.latency_ms is None


def _measured_table(space, architecture, shape, n_outputs, tmp_path):
    """A real table that priced ``architecture`` once (kept in ``tmp_path``): its keys are those of its operations."""
    table = LatencyTable(cache_dir=tmp_path, repeats=1)
    architecture_cost(space, architecture, shape, n_outputs, latency_table=table)
    return table


def test_a_supplied_table_prices_without_measuring(tmp_path):
    space, shape = CNNSpace(max_layers=3), (1, 8, 8)
    architecture = space.sample(np.random.default_rng(1))
    keys = _measured_table(space, architecture, shape, 10, tmp_path).entries
    # Every operation costs 0.5 ms in the supplied table: the price counts the operations.
    table = LatencyTable(cache_dir=False, entries={key: 0.5 for key in keys})
    cost = architecture_cost(space, architecture, shape, 10, latency_table=table)
    leaves = [m for m in space.build(architecture, shape, 10).modules() if next(m.children(), None) is None]
    assert cost.latency_ms == pytest.approx(0.5 * len(leaves))
    assert table.n_measured_ == 0


def test_the_table_is_measured_once_per_machine_and_read_back_from_the_cache(tmp_path):
    space, shape = MLPSpace(), (12,)
    rng = np.random.default_rng(0)
    architectures = [space.sample(rng) for _ in range(4)]
    first = LatencyTable(cache_dir=tmp_path, repeats=2)
    prices = [architecture_cost(space, a, shape, 3, latency_table=first).latency_ms for a in architectures]
    assert first.n_measured_ == len(first.entries) > 0
    assert all(p > 0 for p in prices)
    (path,) = tmp_path.iterdir()
    assert path == first.path and json.loads(path.read_text())["entries"] == first.entries
    second = LatencyTable(cache_dir=tmp_path, repeats=2)
    again = [architecture_cost(space, a, shape, 3, latency_table=second).latency_ms for a in architectures]
    assert second.n_measured_ == 0
    assert again == prices


def test_a_calibration_scales_the_sum_and_adds_an_overhead_per_operation(tmp_path):
    space, shape = MLPSpace(), (12,)
    architecture = MLPArchitecture(widths=(16,))
    keys = _measured_table(space, architecture, shape, 3, tmp_path).entries
    supplied = LatencyTable(cache_dir=False, entries={key: 0.5 for key in keys}, calibration=(2.0, 0.25))
    n_calls = len([m for m in space.build(architecture, shape, 3).modules() if next(m.children(), None) is None])
    assert architecture_cost(space, architecture, shape, 3, latency_table=supplied).latency_ms == pytest.approx(
        2.0 * 0.5 * n_calls + 0.25 * n_calls
    )
    # A fitted calibration is non-negative and read back from the cache with the table.
    table = LatencyTable(cache_dir=tmp_path, repeats=2).calibrate(space, shape, 3, n_networks=4)
    scale, per_call = table.calibration
    assert scale > 0 and per_call >= 0
    assert LatencyTable(cache_dir=tmp_path).calibration == table.calibration


def test_tables_of_other_settings_are_other_files(tmp_path):
    paths = {
        LatencyTable(cache_dir=tmp_path).path,
        LatencyTable(batch_size=64, cache_dir=tmp_path).path,
        LatencyTable(n_threads=2, cache_dir=tmp_path).path,
        LatencyTable(n_threads=None, cache_dir=tmp_path).path,
    }
    assert len(paths) == 4
    assert LatencyTable(cache_dir=False).path is None


@pytest.mark.parametrize("text", [json.dumps({"version": -1, "entries": {"Linear()|(3,)": 1.0}}), '{"vers'])
def test_a_cache_file_of_another_version_or_cut_short_is_ignored(tmp_path, text):
    table = LatencyTable(cache_dir=tmp_path)
    table.path.parent.mkdir(parents=True, exist_ok=True)
    table.path.write_text(text)
    assert LatencyTable(cache_dir=tmp_path).entries == {}


def test_the_default_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SKAUTOML_CACHE", str(tmp_path / "cache"))
    assert LatencyTable().path.parent == tmp_path / "cache"
    monkeypatch.delenv("SKAUTOML_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert LatencyTable().path.parent == tmp_path / "xdg" / "skautoml"


def test_measure_latency_restores_the_thread_count_and_the_module():
    threads = torch.get_num_threads()
    module = nn.Sequential(nn.Linear(10, 8), nn.ReLU(), nn.Linear(8, 3)).train()
    assert measure_latency(module, (10,), batch_size=4, n_threads=1, repeats=3) > 0
    assert torch.get_num_threads() == threads
    assert module.training


def test_pricing_leaves_torch_s_random_stream_alone():
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    architecture_cost(MLPSpace(), MLPArchitecture(widths=(16,)), (10,), 3)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"batch_size": 0}, "batch_size"), ({"n_threads": 0}, "n_threads"), ({"repeats": 0}, "repeats")],
)
def test_a_table_with_bad_settings_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LatencyTable(cache_dir=False, **kwargs)


def test_a_sample_shape_the_space_cannot_take_says_so():
    with pytest.raises(ValueError, match="input_shape"):
        architecture_cost(CNNSpace(), CNNSpace().sample(np.random.default_rng(0)), (64,), 10)


# --- Hard limits: CostLimits, FeasibleSpace, the loop's constraint, AutoNASClassifier(max_params=...) ---

MLP = MLPSpace(max_layers=2, widths=(8, 64, 256))


class OpCountTable:
    """A latency table a test supplies: 1 ms per operation, nothing measured."""

    def price(self, calls):
        return float(len(calls))


def test_cost_limits_give_the_reason_and_record_refusals():
    limits = CostLimits(MLP, (10,), 3, max_params=100, max_flops=10_000)
    small, big = MLPArchitecture(widths=(4,)), MLPArchitecture(widths=(256, 256))
    assert limits(small) is None
    reason = limits(big)
    assert "parameters > max_params=100" in reason and "FLOPs > max_flops=10,000" in reason
    assert limits.rejected_ == [(big, limits.cost(big), reason)]
    assert not CostLimits(MLP, (10,), 3).active


def test_a_latency_limit_reads_the_table_given():
    limits = CostLimits(MLP, (10,), 3, max_latency_ms=2.5, latency_table=OpCountTable())
    one_layer = MLPArchitecture(widths=(8,))  # Linear, ReLU, Linear: 3 operations at least
    assert limits.cost(one_layer).latency_ms == len(
        [m for m in MLP.build(one_layer, (10,), 3).modules() if next(m.children(), None) is None]
    )
    assert "ms predicted latency > max_latency_ms=2.5" in limits(one_layer)


@pytest.mark.parametrize("name", ["max_params", "max_flops", "max_latency_ms"])
@pytest.mark.parametrize("value", [0, -1, "10", True])
def test_cost_limits_refuse_bad_values(name, value):
    with pytest.raises(ValueError, match=name):
        CostLimits(MLP, (10,), 3, **{name: value})


def test_a_limit_nothing_meets_is_refused_with_the_least_costs():
    limits = CostLimits(MLP, (10,), 3, max_params=5)
    drawn = [MLP.sample(np.random.default_rng(i)) for i in range(20)]
    with pytest.raises(ValueError, match=r"No architecture of 20 drawn from MLPSpace.*parameters \d+ \(max_params=5\)"):
        limits.check_reachable(drawn)


def test_a_feasible_space_draws_again_until_within_the_limits():
    limits = CostLimits(MLP, (10,), 3, max_params=1_000)
    space = FeasibleSpace(MLP, limits)
    rng = np.random.default_rng(0)
    drawn = [space.sample(rng) for _ in range(10)]
    assert all(limits.reason(a) is None for a in drawn)
    assert limits.rejected_  # some draws were over and drawn again
    assert all(limits.reason(a) is None for a in (space.mutate(drawn[0], rng) for _ in range(5)))
    assert space.size() == MLP.size() and space.contains(drawn[0])  # the rest is the space's
    # Nothing is within: after max_tries draws the last one comes back, for the loop to refuse.
    hopeless = FeasibleSpace(MLP, CostLimits(MLP, (10,), 3, max_params=5), max_tries=4)
    assert hopeless.sample(rng) is not None and len(hopeless.limits.rejected_) == 3


def test_the_loop_never_trains_a_refused_candidate_and_does_not_count_it():
    from test_search_loop import FakeEvaluator

    from skautoml.search import Budget, Fidelity, RandomSearch, run_search

    limits = CostLimits(MLP, (10,), 3, max_params=1_000)
    strategy = RandomSearch().reset(MLP, 0)  # draws from the space itself: the loop refuses
    told = []
    tell = strategy.tell
    strategy.tell = lambda candidate, result: told.append(result) or tell(candidate, result)
    evaluator = FakeEvaluator()
    data = (np.zeros((4, 10)), np.zeros(4), np.zeros((2, 10)), np.zeros(2))
    results = run_search(strategy, evaluator, data, Fidelity(2), Budget(max_trials=6).start(), 0, constraint=limits)
    assert len(results) == 6 and all(r.ok for r in results)
    assert all(limits.reason(r.architecture) is None for r in results)
    assert len(evaluator.calls) == 6
    infeasible = [r for r in told if r.status == "infeasible"]
    assert infeasible and len(infeasible) == len(limits.rejected_)
    assert all(math.isnan(r.score) and "max_params" in r.error for r in infeasible)


def test_the_loop_ends_when_every_candidate_is_refused():
    from test_search_loop import FakeEvaluator

    from skautoml.search import Budget, Fidelity, RandomSearch, run_search

    limits = CostLimits(MLP, (10,), 3, max_params=5)
    data = (np.zeros((4, 10)), np.zeros(4), np.zeros((2, 10)), np.zeros(2))
    with pytest.warns(UserWarning, match="all refused by the limits"):
        results = run_search(
            RandomSearch().reset(MLP, 0), FakeEvaluator(), data, Fidelity(2), Budget(max_trials=3).start(), 0,
            constraint=limits,
        )
    assert results == []


@pytest.fixture(scope="module")
def iris():
    from sklearn.datasets import load_iris

    return load_iris(return_X_y=True)


def test_a_search_with_max_params_trains_only_networks_within_it(iris):
    from skautoml import AutoNASClassifier
    from skautoml.search import SuccessiveHalving

    big = MLPArchitecture(widths=(256, 256))
    strategy = SuccessiveHalving(eta=2, min_resource=1 / 2, n_configs=2, initial_architectures=(big,))
    clf = AutoNASClassifier(
        search_space=MLP, strategy=strategy, max_trials=3, max_epochs=2, max_params=2_000, random_state=0
    ).fit(*iris)
    results = clf.search_results_
    trained = results["trial"] >= 0
    assert clf.n_trials_ == trained.sum() == 3
    assert (results["n_params"][trained] <= 2_000).all()
    # The initial architecture, proposed by the strategy itself, was refused by the loop and recorded.
    refused = list(results["architecture"][~trained])
    assert big in refused
    row = refused.index(big)
    assert results["status"][~trained][row] == "infeasible"
    assert "max_params=2,000" in results["error"][~trained][row]
    assert np.isnan(results["score"][~trained]).all()
    assert sum(p.numel() for p in clf.best_estimator_.module_.parameters()) <= 2_000
    assert f"(0 failed, {(~trained).sum()} architectures refused by the limits)" in clf.summary()
    assert np.isnan(results["resource"][~trained]).all()  # never run at any fidelity


def test_a_search_with_a_latency_limit_uses_the_table_given(iris):
    from skautoml import AutoNASClassifier

    clf = AutoNASClassifier(
        search_space=MLP, strategy="random", max_trials=2, max_epochs=1, max_latency_ms=4,
        latency_table=OpCountTable(), random_state=0,
    ).fit(*iris)
    limits = CostLimits(MLP, (4,), 3, max_latency_ms=4, latency_table=OpCountTable())
    assert all(limits.reason(a) is None for a in clf.search_results_["architecture"][clf.search_results_["trial"] >= 0])


def test_a_limit_no_architecture_meets_fails_before_training(iris, monkeypatch):
    from skautoml import AutoNASClassifier
    from skautoml.nas import Evaluator

    monkeypatch.setattr(Evaluator, "evaluate", lambda *a, **k: pytest.fail("a network was trained"))
    with pytest.raises(ValueError, match="No architecture of 200 drawn from MLPSpace is within the limits"):
        AutoNASClassifier(search_space=MLP, strategy="random", max_trials=2, max_params=5).fit(*iris)


@pytest.mark.parametrize("strategy", ["spos", "enas"])
def test_one_shot_strategies_score_and_train_only_paths_within_the_limits(strategy):
    from sklearn.datasets import load_digits

    from skautoml import AutoNASClassifier
    from skautoml.nas import CNNSpace

    X, y = load_digits(return_X_y=True)
    X, y = X[:300].reshape(-1, 8, 8), y[:300]
    space = CNNSpace(max_layers=3, channels=(8, 16, 32))
    limit = 3_000
    clf = AutoNASClassifier(
        search_space=space, strategy=strategy, max_trials=8, max_epochs=1, max_params=limit, final_epochs=1,
        random_state=0,
    ).fit(X, y)
    results = clf.search_results_
    trained = results["trial"] >= 0
    assert trained.sum() == clf.n_trials_ == 8
    # Every path a trial scored (and, for ENAS, trained) is within the limit; the final network too.
    assert (results["n_params"][trained & (results["status"] == "ok")] <= limit).all()
    assert sum(p.numel() for p in clf.best_estimator_.module_.parameters()) <= limit
    assert all(sum(p.numel() for p in space.build(a, (1, 8, 8), 10).parameters()) <= limit
               for a in results["architecture"][trained])


def test_reinforce_learns_from_a_refused_candidate_as_from_the_worst_trained_one():
    from skautoml.search import ReinforceController, TrialResult

    strategy = ReinforceController(batch_size=10).reset(MLP, 0)
    first, second = strategy.ask(2)
    strategy.tell(first, TrialResult(first, 0.7, "ok"))
    strategy.tell(second, TrialResult(second, math.nan, "infeasible", error="over max_params"))
    assert [reward for _, reward in strategy._batch] == [0.7, 0.7]
    (third,) = strategy.ask(1)
    strategy.tell(third, TrialResult(third, math.nan, "failed"))  # a failed trial teaches nothing
    assert len(strategy._batch) == 2


def test_a_latency_limit_without_a_table_builds_and_calibrates_one_in_the_cache(iris, tmp_path, monkeypatch):
    from skautoml import AutoNASClassifier

    monkeypatch.setenv("SKAUTOML_CACHE", str(tmp_path))
    clf = AutoNASClassifier(
        search_space=MLP, strategy="random", max_trials=1, max_epochs=1, max_latency_ms=1e3, random_state=0
    ).fit(*iris)
    (path,) = tmp_path.iterdir()
    stored = json.loads(path.read_text())
    assert stored["entries"] and stored["calibration"] != [1.0, 0.0]
    assert clf.n_trials_ == 1
