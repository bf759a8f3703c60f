"""The tabulated NAS benchmark: tables, their files, TabularEvaluator and searches against it."""
import gzip
import itertools
import json
import math
import pickle
import zlib

import numpy as np
import pytest
from sklearn.datasets import load_digits
from skopt.learning import RandomForestRegressor

# The search-space contract suite, run here on TabularSpace through the `space` fixture below.
from test_spaces import (  # noqa: F401
    test_build_gives_a_module_with_one_logit_vector_per_sample,
    test_built_module_trains,
    test_contains_rejects_foreign_values,
    test_encode_is_a_fixed_length_finite_float_vector,
    test_is_a_search_space,
    test_long_mutation_walk_stays_in_the_space,
    test_mutate_changes_the_architecture_and_stays_in_the_space,
    test_mutate_is_deterministic_for_a_seeded_generator,
    test_samples_are_hashable_picklable_and_contained,
    test_sampling_is_deterministic_for_a_seeded_generator,
    test_size_is_a_positive_int,
    test_space_itself_survives_pickling_and_compares_by_settings,
)

from skautoml.nas import (
    BayesianOptimization,
    Block,
    Budget,
    CellArchitecture,
    CellSpace,
    Fidelity,
    RandomSearch,
    RegularizedEvolution,
    Strategy,
    NASTable,
    TableEntry,
    TabularEvaluator,
    TabularSpace,
    canonical_architecture,
    enumerate_architectures,
    load_nas_table,
    run_search,
    tabulate_architecture,
)
from skautoml.search import STRATEGIES, resolve_strategy

SPACE = CellSpace(n_blocks=1, operations=("conv3x3", "maxpool"), combine=("add",), n_cells=3, initial_channels=4)
NO_DATA = (None, None, None, None)


def synthetic_entry(architecture, n_epochs=5):
    """A made-up run whose curves depend on the architecture (no training)."""
    rng = np.random.default_rng(zlib.crc32(str(architecture).encode()))
    final = 0.5 + 0.45 * rng.random()
    valid_acc = tuple(np.round(final * (1 - 0.5 ** np.arange(1, n_epochs + 1)), 6))
    valid_loss = tuple(np.round(2.0 * 0.6 ** np.arange(n_epochs) + 0.1 * rng.random(n_epochs), 5))
    return TableEntry(
        architecture=architecture,
        valid_loss=valid_loss,
        valid_acc=valid_acc,
        test_acc=tuple(v - 0.01 for v in valid_acc),
        epoch_seconds=tuple(0.1 + 0.01 * k for k in range(n_epochs)),
        build_seconds=0.05,
        n_params=int(rng.integers(1000, 5000)),
        flops=int(rng.integers(10**5, 10**6)),
    )


@pytest.fixture(scope="module")
def table():
    """A synthetic table of the whole of SPACE (100 architectures without symmetric duplicates)."""
    return NASTable(SPACE, [synthetic_entry(a) for a in enumerate_architectures(SPACE)], {"made": "by a test"})


def test_table_equality_and_pickling(table):
    assert pickle.loads(pickle.dumps(table)) == table
    assert table != PARTIAL_TABLE and table == NASTable(SPACE, list(table), {"made": "by a test"})


@pytest.fixture(scope="module")
def digits_data():
    digits = load_digits()
    X, y = digits.images[:, np.newaxis].astype(np.float32), digits.target.astype(np.int64)
    rng = np.random.default_rng(0)
    index = rng.permutation(len(y))[:500]
    train, valid, test = index[:300], index[300:400], index[400:]
    return X[train], y[train], X[valid], y[valid], X[test], y[test]


ALL = enumerate_architectures(SPACE)
FULL_TABLE = NASTable(SPACE, [synthetic_entry(a) for a in ALL])
# Every third architecture: a sample, as a build stopped early leaves.
PARTIAL_TABLE = NASTable(SPACE, [synthetic_entry(a) for a in ALL[::3]])


@pytest.fixture(params=[FULL_TABLE, PARTIAL_TABLE], ids=["complete", "partial"])
def space(request):
    return TabularSpace(request.param)


def arch(normal, reduction):
    return CellArchitecture(normal=(Block(*normal),), reduction=(Block(*reduction),))


# ----------------------------------------------------------------------------- canonical forms


def test_canonical_form_merges_exactly_the_swapped_branches_of_added_blocks():
    a = arch((1, 0, "maxpool", "conv3x3"), (0, 0, "conv3x3", "maxpool"))
    b = arch((0, 1, "conv3x3", "maxpool"), (0, 0, "maxpool", "conv3x3"))
    assert canonical_architecture(a) == canonical_architecture(b)
    assert canonical_architecture(canonical_architecture(a)) == canonical_architecture(a)
    # Different branches stay different.
    c = arch((0, 1, "maxpool", "conv3x3"), (0, 0, "conv3x3", "maxpool"))
    assert canonical_architecture(a) != canonical_architecture(c)
    # Concatenation is ordered: swapping its branches is another network.
    d = arch((1, 0, "maxpool", "conv3x3", "concat"), (0, 0, "conv3x3", "maxpool"))
    assert canonical_architecture(d).normal == d.normal


@pytest.mark.parametrize(
    "space",
    [
        # Operations out of alphabetical order: enumeration must still give canonical forms.
        CellSpace(n_blocks=1, operations=("maxpool", "conv3x3", "identity"), combine=("add", "concat")),
        CellSpace(n_blocks=2, operations=("identity",), combine=("add",)),
    ],
)
def test_enumeration_is_the_set_of_canonical_forms_of_every_ordered_architecture(space):
    def ordered_cells():
        per_block = [
            [
                Block(i1, i2, o1, o2, c)
                for i1, i2 in itertools.product(range(2 + i), repeat=2)
                for o1, o2 in itertools.product(space.operations, repeat=2)
                for c in space.combine
            ]
            for i in range(space.n_blocks)
        ]
        return list(itertools.product(*per_block))

    cells = ordered_cells()
    everything = [CellArchitecture(n, r) for n, r in itertools.product(cells, cells)]
    assert len(everything) == space.size()
    enumerated = enumerate_architectures(space)
    assert len(set(enumerated)) == len(enumerated)
    assert set(enumerated) == {canonical_architecture(a) for a in everything}
    assert all(canonical_architecture(a) == a for a in enumerated)
    assert all(space.contains(a) for a in enumerated)


def test_enumeration_refuses_large_spaces():
    with pytest.raises(ValueError, match="max_count"):
        enumerate_architectures(CellSpace(n_blocks=2), max_count=1000)
    with pytest.raises(TypeError, match="CellSpace"):
        enumerate_architectures(object())


# ----------------------------------------------------------------------------- lookups


def test_evaluator_answers_from_the_table_at_the_fidelity(table):
    evaluator = TabularEvaluator(table)
    for architecture in table.architectures[:10]:
        entry = table.entry(architecture)
        for epochs in (1, 3, 5):
            result = evaluator.evaluate(architecture, *NO_DATA, Fidelity(epochs), seed=7)
            best = int(np.argmin(entry.valid_loss[:epochs]))
            assert result.ok and result.error is None
            assert result.score == entry.valid_acc[best]
            assert result.best_epoch == best + 1 and result.epochs == epochs
            assert result.train_seconds == pytest.approx(0.05 + sum(entry.epoch_seconds[:epochs]))
            assert (result.n_params, result.flops, result.seed) == (entry.n_params, entry.flops, 7)
            assert entry.test_score(epochs) == entry.test_acc[best]


def test_results_carry_the_validation_curve_of_the_epochs_run(table):
    evaluator = TabularEvaluator(table)
    architecture = table.architectures[5]
    entry = table.entry(architecture)
    assert evaluator.evaluate(architecture, *NO_DATA, Fidelity(3), 0).curve == entry.valid_acc[:3]
    assert evaluator.evaluate(architecture, *NO_DATA, Fidelity(9), 0).curve == entry.valid_acc


def test_the_evaluator_space_keeps_proposals_in_the_table():
    assert TabularEvaluator(FULL_TABLE).space == SPACE
    assert TabularEvaluator(PARTIAL_TABLE).space == TabularSpace(PARTIAL_TABLE)


def test_fidelity_beyond_the_table_is_capped(table):
    evaluator = TabularEvaluator(table)
    architecture = table.architectures[0]
    full = evaluator.evaluate(architecture, *NO_DATA, Fidelity(5), seed=0)
    more = evaluator.evaluate(architecture, *NO_DATA, Fidelity(50), seed=0)
    assert more.epochs == 5 and more.score == full.score and more.train_seconds == full.train_seconds


def test_a_swapped_architecture_gets_the_answer_of_its_canonical_form(table):
    evaluator = TabularEvaluator(table)
    canonical = next(a for a in table.architectures if a.normal[0].input1 != a.normal[0].input2)
    b = canonical.normal[0]
    swapped = CellArchitecture(normal=(Block(b.input2, b.input1, b.op2, b.op1),), reduction=canonical.reduction)
    assert swapped != canonical and swapped in table
    assert evaluator.evaluate(swapped, *NO_DATA, Fidelity(5), 0).score == table.entry(canonical).score()
    # The result names the architecture that was asked for.
    assert evaluator.evaluate(swapped, *NO_DATA, Fidelity(5), 0).architecture == swapped


def test_every_architecture_a_strategy_can_propose_is_answered(table):
    rng = np.random.default_rng(0)
    evaluator = TabularEvaluator(table)
    for _ in range(200):
        assert evaluator.evaluate(SPACE.sample(rng), *NO_DATA, Fidelity(5), 0).ok


def test_unknown_architecture_is_a_failed_trial(table):
    evaluator = TabularEvaluator(table)
    other = arch((0, 1, "sepconv3x3", "maxpool"), (0, 0, "conv3x3", "maxpool"))
    result = evaluator.evaluate(other, *NO_DATA, Fidelity(5), seed=3)
    assert result.status == "failed" and math.isnan(result.score)
    assert "not in the table" in result.error and result.seed == 3
    assert evaluator.evaluate("not an architecture", *NO_DATA, Fidelity(5), 0).status == "failed"
    with pytest.raises(KeyError, match="not in the table"):
        table.entry(other)


def test_partial_table_fails_only_the_missing_architectures():
    architectures = enumerate_architectures(SPACE)
    partial = NASTable(SPACE, [synthetic_entry(a) for a in architectures[:10]])
    evaluator = TabularEvaluator(partial)
    assert evaluator.evaluate(architectures[3], *NO_DATA, Fidelity(5), 0).ok
    assert not evaluator.evaluate(architectures[10], *NO_DATA, Fidelity(5), 0).ok


def test_bad_fidelities_raise(table):
    evaluator = TabularEvaluator(table)
    with pytest.raises(ValueError, match="data_fraction"):
        evaluator.evaluate(table.architectures[0], *NO_DATA, Fidelity(5, data_fraction=0.5), 0)
    with pytest.raises(ValueError, match="max_epochs"):
        evaluator.evaluate(table.architectures[0], *NO_DATA, Fidelity(0), 0)


def test_best_is_the_highest_score(table):
    architecture, score = table.best()
    assert score == max(e.score() for e in table) == table.entry(architecture).score()
    architecture, test = table.best(key="test_score")
    assert test == max(e.test_score() for e in table)
    with pytest.raises(ValueError, match="key"):
        table.best(key="params")


def test_table_rejects_inconsistent_entries():
    a, b = enumerate_architectures(SPACE)[:2]
    with pytest.raises(ValueError, match="two entries"):
        NASTable(SPACE, [synthetic_entry(a), synthetic_entry(a)])
    swapped = CellArchitecture(
        normal=(Block(a.normal[0].input2, a.normal[0].input1, a.normal[0].op2, a.normal[0].op1),), reduction=a.reduction
    )
    with pytest.raises(ValueError, match="two entries"):
        NASTable(SPACE, [synthetic_entry(a), synthetic_entry(swapped)])
    with pytest.raises(ValueError, match="same, positive, number of epochs"):
        NASTable(SPACE, [synthetic_entry(a, 5), synthetic_entry(b, 4)])
    outside = arch((0, 1, "identity", "maxpool"), (0, 0, "conv3x3", "maxpool"))
    with pytest.raises(ValueError, match="not an architecture"):
        NASTable(SPACE, [synthetic_entry(outside)])
    with pytest.raises(TypeError, match="CellSpace"):
        NASTable(object(), [])


def test_tabular_space_stays_in_a_partial_table():
    space = TabularSpace(PARTIAL_TABLE)
    assert not PARTIAL_TABLE.complete and FULL_TABLE.complete
    assert space.size() == len(PARTIAL_TABLE) == 34
    rng = np.random.default_rng(0)
    samples = [space.sample(rng) for _ in range(300)]
    assert all(a in PARTIAL_TABLE and a == canonical_architecture(a) for a in samples)
    assert len(set(samples)) > 25  # reaches most of the table
    architecture = samples[0]
    for _ in range(200):
        child = space.mutate(architecture, rng)
        assert child in PARTIAL_TABLE and child != canonical_architecture(architecture)
        architecture = child
    assert not space.contains(ALL[1]) and SPACE.contains(ALL[1])
    with pytest.raises(ValueError, match="not in the table"):
        space.build(ALL[1], (1, 8, 8), 10)


def test_tabular_space_mutation_falls_back_to_the_nearest_tabulated_architecture():
    # Two architectures far apart: no single mutation links them.
    a = arch((0, 0, "conv3x3", "conv3x3"), (0, 0, "conv3x3", "conv3x3"))
    b = arch((1, 1, "maxpool", "maxpool"), (1, 1, "maxpool", "maxpool"))
    space = TabularSpace(NASTable(SPACE, [synthetic_entry(a), synthetic_entry(b)]))
    rng = np.random.default_rng(0)
    assert space.mutate(a, rng) == b and space.mutate(b, rng) == a
    with pytest.raises(ValueError, match="non-empty NASTable"):
        TabularSpace(NASTable(SPACE, [])).sample(rng)


def test_searches_over_a_partial_table_never_fail():
    results = search(PARTIAL_TABLE, SEARCH_STRATEGIES["evolution"], seed=0, n_trials=30, space=TabularSpace(PARTIAL_TABLE))
    assert all(r.ok for r in results)
    # Over the plain space, proposals outside the table fail (and say so).
    results = search(PARTIAL_TABLE, SEARCH_STRATEGIES["random"], seed=0, n_trials=30)
    failed = [r for r in results if not r.ok]
    assert failed and all("not in the table" in r.error for r in failed)


# ----------------------------------------------------------------------------- training and files


def test_tabulated_training_records_curves_and_round_trips_through_a_file(digits_data, tmp_path):
    architectures = enumerate_architectures(SPACE)[::40]  # 3 architectures
    entries = [tabulate_architecture(SPACE, a, digits_data, max_epochs=3, seed=0, batch_size=32) for a in architectures]
    for entry in entries:
        assert entry.n_epochs == 3 and entry.seed == 0
        assert all(0.0 <= v <= 1.0 for v in entry.valid_acc + entry.test_acc)
        assert all(v > 0 for v in entry.valid_loss + entry.epoch_seconds) and entry.build_seconds > 0
        assert entry.n_params > 0 and entry.flops > 0
    # Trained networks learn something: better than chance (0.1) on validation data after 3 epochs.
    assert max(e.valid_acc[-1] for e in entries) > 0.5
    # Same seed, same run.
    again = tabulate_architecture(SPACE, architectures[0], digits_data, max_epochs=3, seed=0, batch_size=32)
    assert again.valid_loss == entries[0].valid_loss and again.test_acc == entries[0].test_acc

    path = NASTable(SPACE, entries, {"note": "tiny"}).save(tmp_path / "tiny.json.gz")
    loaded = load_nas_table(path)
    assert loaded.space == SPACE and len(loaded) == 3 and loaded.max_epochs == 3
    assert loaded.info == {"note": "tiny"}
    for entry in entries:
        stored = loaded.entry(entry.architecture)
        np.testing.assert_allclose(stored.valid_loss, entry.valid_loss, atol=1e-5)
        np.testing.assert_allclose(stored.valid_acc, entry.valid_acc, atol=1e-6)
        assert (stored.n_params, stored.flops) == (entry.n_params, entry.flops)
    evaluator = TabularEvaluator.from_file(str(path))
    assert evaluator.evaluate(architectures[1], *NO_DATA, Fidelity(3), 0).score == loaded.entry(architectures[1]).score()
    # Same table, same bytes (no timestamps in the file).
    assert NASTable(SPACE, entries, {"note": "tiny"}).save(tmp_path / "again.json.gz").read_bytes() == path.read_bytes()


def test_loading_something_else_fails_clearly(tmp_path):
    (tmp_path / "plain.json.gz").write_bytes(gzip.compress(json.dumps({"a": 1}).encode()))
    with pytest.raises(ValueError, match="not a skautoml NAS table"):
        load_nas_table(tmp_path / "plain.json.gz")
    (tmp_path / "text.json.gz").write_text("hello")
    with pytest.raises(ValueError, match="cannot read a NAS table"):
        load_nas_table(tmp_path / "text.json.gz")
    with pytest.raises(FileNotFoundError):
        load_nas_table(tmp_path / "missing.json.gz")


def test_the_packaged_table_covers_its_whole_space():
    table = load_nas_table()  # shipped as package data
    assert len(table) == len(enumerate_architectures(table.space))
    assert table.max_epochs >= 10
    rng = np.random.default_rng(0)
    evaluator = TabularEvaluator.load_default()
    for _ in range(100):
        assert evaluator.evaluate(table.space.sample(rng), *NO_DATA, Fidelity(table.max_epochs), 0).ok
    scores = np.array([e.score() for e in table])
    assert 0.1 < scores.min() < scores.max() <= 1.0  # architectures differ
    assert {"dataset", "split", "training"} <= set(table.info)


# ----------------------------------------------------------------------------- searches against a table


SEARCH_STRATEGIES = {
    "random": lambda: RandomSearch(),
    "evolution": lambda: RegularizedEvolution(population_size=5, sample_size=2),
    # A small forest: the test is about determinism, not about the surrogate's quality.
    "bayesian": lambda: BayesianOptimization(RandomForestRegressor(n_estimators=10), n_initial=3, n_candidates=30),
}


def search(table, make_strategy, seed, n_trials=25, space=None):
    strategy = make_strategy().reset(space or table.space, random_state=seed)
    budget = Budget(max_trials=n_trials, max_epochs=table.max_epochs).start()
    return run_search(strategy, TabularEvaluator(table), NO_DATA, Fidelity(table.max_epochs), budget, base_seed=seed)


@pytest.mark.parametrize("name", list(SEARCH_STRATEGIES))
def test_searches_against_the_table_are_deterministic_per_seed(table, name):
    first = search(table, SEARCH_STRATEGIES[name], seed=1)
    second = search(table, SEARCH_STRATEGIES[name], seed=1)
    other = search(table, SEARCH_STRATEGIES[name], seed=2)
    assert len(first) == 25 and all(r.ok for r in first)
    assert [(r.architecture, r.score, r.seed) for r in first] == [(r.architecture, r.score, r.seed) for r in second]
    assert [r.architecture for r in first] != [r.architecture for r in other]
    # The regret the benchmark reports, against the same quantity read from the entries themselves.
    regret = table.best()[1] - max(r.score for r in first)
    found = max(table.entry(r.architecture).score() for r in first)
    assert regret == pytest.approx(max(entry.score() for entry in table) - found)
    best = table.best()[0]
    assert (regret == 0) == (best in {canonical_architecture(r.architecture) for r in first})


class Replay(Strategy):
    """Proposes the given architectures in order."""

    def __init__(self, architectures=()):
        self.architectures = architectures

    def reset(self, space, random_state=None):
        super().reset(space, random_state)
        self._next = 0
        return self

    def _ask_one(self):
        self._next += 1
        return self.architectures[self._next - 1]


def test_regret_is_zero_exactly_when_the_search_visits_the_best(table):
    best, best_score = table.best()
    others = [a for a in table.architectures if a != best]
    second = max(table.entry(a).score() for a in others)
    for visited, expected in [(others[:50] + [best], 0.0), (others, best_score - second)]:
        results = search(table, lambda: Replay(visited), seed=0, n_trials=len(visited))
        assert [r.architecture for r in results] == visited
        assert table.best()[1] - max(r.score for r in results) == pytest.approx(expected)
    assert best_score - second > 0


def test_every_search_strategy_runs_against_the_table(table):
    # The regret benchmark runs every name of skautoml.search.STRATEGIES with its defaults.
    assert set(STRATEGIES) >= {"random", "evolution", "bayesian", "reinforce", "evolution+smbo", "bohb"}
    ran = []
    for name in STRATEGIES:
        strategy = resolve_strategy(name)
        assert isinstance(strategy, Strategy), name
        results = search(table, lambda s=strategy: s, seed=0, n_trials=8)
        assert len(results) == 8 and all(r.ok for r in results), name
        # Low-fidelity trials of multi-fidelity strategies are answered from the start of the curves.
        for result in results:
            assert result.score == table.entry(result.architecture).score(result.epochs)
        ran.append(name)
    assert ran == list(STRATEGIES)
