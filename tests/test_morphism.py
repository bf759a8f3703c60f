"""Morphism-based search: function-preserving transforms, the morphism space and the two searches."""
import copy
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from torch import nn

import skautoml.nas.morphism._strategies as strategies_module
from fakes import FakeClock, TickingEvaluator
from skautoml.nas import Budget, Evaluator, Fidelity, MLPSpace, RegularizedEvolution
from skautoml.search import run_search
from skautoml.nas.morphism import (
    MorphArchitecture,
    Morphism,
    MorphismBayesian,
    MorphismHillClimbing,
    MorphismSpace,
    MorphNet,
    apply_morphism,
    find_morph_net,
    net2deeper,
    net2wider,
    widen_kernel,
)
from skautoml.nas.space import Standardize

# The shared contracts, run on the morphism spaces through the `space` fixture below.
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
import test_strategies
from test_strategies import (  # noqa: F401
    test_all_trials_failing_does_not_break_later_asks,
    test_ask_returns_architectures_of_the_space,
    test_failed_results_do_not_break_later_asks,
    test_same_seed_and_tells_give_the_same_sequence,
)

SPACES = {
    "mlp": MorphismSpace(kind="mlp"),
    "cnn": MorphismSpace(kind="cnn", max_layers=4, widths=(4, 8, 16)),
    "cnn-one-kernel-no-pool": MorphismSpace(
        kind="cnn", min_layers=2, max_layers=3, widths=(4, 8), kernel_sizes=(3,), max_pools=0
    ),
    "mlp-width-1": MorphismSpace(kind="mlp", min_layers=1, max_layers=2, widths=(1,)),
}


@pytest.fixture(params=list(SPACES.values()), ids=list(SPACES))
def space(request):
    return request.param


# The ask/tell contract with one surrogate: the space, not the strategies, is under test here.
@pytest.fixture(params=["random", "evolution", "bayesian-gp"])
def make_strategy(request):
    return test_strategies.STRATEGIES[request.param]


# --------------------------------------------------------------------------- helpers

MLP_PARENT = MorphArchitecture("mlp", (6, 10, 4))
CNN_PARENT = MorphArchitecture("cnn", (4, 6, 5), (3, 5, 1), (True, False, True))
INPUT_SHAPES = {"mlp": (7,), "cnn": (2, 9, 7)}
TRANSFORMS = {
    "wider-first": lambda m, rng, X: net2wider(m, 0, 13, rng),
    "wider-last-with-noise": lambda m, rng, X: net2wider(m, 2, 9, rng, noise=0.1),
    "deeper-after-pool": lambda m, rng, X: net2deeper(m, 0, 3),
    "deeper-last-with-data": lambda m, rng, X: net2deeper(m, 2, 5, X=X),
    "widen-kernel": lambda m, rng, X: widen_kernel(m, 2, 5),
}


def _parent(kind, trained, seed=0):
    """A network behind a standardisation, as the evaluator builds it; optionally trained a few steps."""
    torch.manual_seed(seed)
    shape = INPUT_SHAPES[kind]
    architecture = MLP_PARENT if kind == "mlp" else CNN_PARENT
    X = torch.randn(64, *shape) * 3 + 1
    y = torch.randint(3, (64,))
    module = nn.Sequential(Standardize(X.mean(0), X.std(0)), MorphNet(architecture, shape, 3))
    if trained:
        optimizer = torch.optim.Adam(module.parameters(), lr=0.05)
        module.train()
        for _ in range(15):
            optimizer.zero_grad()
            nn.functional.cross_entropy(module(X), y).backward()
            optimizer.step()
    return module.eval(), X


def _assert_same_function(child, parent, X):
    child.eval()
    with torch.no_grad():
        torch.testing.assert_close(child(X), parent(X), rtol=0, atol=1e-5)


def _n_params(module):
    return sum(p.numel() for p in module.parameters())


def _assert_built_like_the_space(module, architecture, shape):
    """The morphed network has exactly the layers a fresh build of its architecture has."""
    fresh = MorphNet(architecture, shape, 3).state_dict()
    morphed = find_morph_net(module).state_dict()
    assert list(morphed) == list(fresh)
    assert {k: v.shape for k, v in morphed.items()} == {k: v.shape for k, v in fresh.items()}


# --------------------------------------------------------------------------- transforms


@pytest.mark.parametrize("trained", [False, True], ids=["fresh", "trained"])
@pytest.mark.parametrize("kind", ["mlp", "cnn"])
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_each_transform_preserves_the_function(name, kind, trained):
    if name == "widen-kernel" and kind == "mlp":
        pytest.skip("an MLP has no kernels")
    parent, X = _parent(kind, trained)
    before = copy.deepcopy(parent.state_dict())
    child, architecture = TRANSFORMS[name](parent, np.random.default_rng(0), X)
    _assert_same_function(child, parent, X)
    _assert_same_function(child, parent, torch.randn(16, *INPUT_SHAPES[kind]) * 5)
    assert find_morph_net(child).architecture == architecture
    _assert_built_like_the_space(child, architecture, INPUT_SHAPES[kind])
    # The parent is left as it was.
    assert all(torch.equal(before[k], v) for k, v in parent.state_dict().items())
    assert find_morph_net(parent).architecture == (MLP_PARENT if kind == "mlp" else CNN_PARENT)
    assert _n_params(child) > _n_params(parent)


def test_a_trained_parent_is_not_trivially_preserved():
    """The trained parents have batch-norm statistics and weights far from their initial values."""
    fresh, _ = _parent("cnn", trained=False)
    trained, X = _parent("cnn", trained=True)
    norm = find_morph_net(trained).layers[1].norm
    assert norm.num_batches_tracked > 0
    assert not torch.allclose(norm.running_mean, torch.zeros_like(norm.running_mean), atol=1e-2)
    with torch.no_grad():
        assert (fresh(X) - trained(X)).abs().max() > 0.1


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_chains_of_random_morphisms_preserve_the_function(kind):
    space = MorphismSpace(kind=kind, max_layers=8, widths=(4, 5, 6, 8, 13, 16), kernel_sizes=(1, 3, 5, 7))
    parent, X = _parent(kind, trained=True)
    rng = np.random.default_rng(1)
    architecture = find_morph_net(parent).architecture
    steps = []
    for _ in range(8):
        steps.append(space.random_morphism(architecture, rng))
        architecture = steps[-1].apply_to(architecture)
    assert {s.operation for s in steps} >= {"wider", "deeper"}
    child, reached = apply_morphism(parent, steps, rng, noise=0.05, X=X)
    assert reached == architecture
    _assert_same_function(child, parent, X)
    _assert_built_like_the_space(child, architecture, INPUT_SHAPES[kind])


def test_children_are_really_wider_deeper_and_have_wider_kernels():
    parent, _ = _parent("cnn", trained=True)
    wide, _ = net2wider(parent, 1, 11, rng=0)
    layers = find_morph_net(wide).layers
    assert layers[1].transform.weight.shape == (11, 4, 5, 5)
    assert layers[1].norm.running_mean.shape == (11,)
    assert layers[2].transform.weight.shape == (5, 11, 1, 1)
    deep, _ = net2deeper(parent, 1, 3)
    assert len(find_morph_net(deep).layers) == 4
    assert _n_params(deep) == _n_params(parent) + 6 * 6 * 9 + 2 * 6
    kernel, _ = widen_kernel(parent, 0, 7)
    conv = find_morph_net(kernel).layers[0].transform
    assert conv.weight.shape == (4, 2, 7, 7) and conv.padding == (3, 3)


def test_net2wider_replicates_units_and_splits_their_outgoing_weights():
    parent, _ = _parent("mlp", trained=True)
    child, _ = net2wider(parent, 0, 9, rng=3)
    old, new = find_morph_net(parent).layers, find_morph_net(child).layers
    w_in, w_out = new[0].transform.weight, new[1].transform.weight
    assert torch.equal(w_in[:6], old[0].transform.weight)
    for j in range(6, 9):
        source = int(torch.nonzero((old[0].transform.weight == w_in[j]).all(dim=1))[0])
        copies = [i for i in range(9) if torch.equal(w_in[i], w_in[source])]
        assert torch.equal(new[0].norm.running_var[j], old[0].norm.running_var[source])
        torch.testing.assert_close(w_out[:, copies].sum(dim=1), old[1].transform.weight[:, source])


def test_net2wider_noise_breaks_the_symmetry_of_the_copies():
    parent, X = _parent("mlp", trained=True)
    quiet, _ = net2wider(parent, 1, 20, rng=0)
    noisy, _ = net2wider(parent, 1, 20, rng=0, noise=0.5)
    w_quiet = find_morph_net(quiet).layers[2].transform.weight
    w_noisy = find_morph_net(noisy).layers[2].transform.weight
    copies = [j for j in range(20) if torch.equal(w_quiet[:, j], w_quiet[:, 10])]
    assert len(copies) >= 2
    assert not torch.equal(w_noisy[:, copies[0]], w_noisy[:, copies[1]])
    _assert_same_function(noisy, parent, X)


def test_widened_units_keep_the_function_in_training_mode_too():
    """Copies have the batch statistics of their source, so training-mode batch norm agrees as well."""
    parent, X = _parent("cnn", trained=True)
    child, _ = net2wider(parent, 0, 9, rng=0)
    with torch.no_grad():
        torch.testing.assert_close(copy.deepcopy(child).train()(X), copy.deepcopy(parent).train()(X), rtol=0, atol=1e-4)


def test_net2deeper_with_data_is_nearly_the_identity_in_training_mode():
    """With X, the inserted batch norm starts at the statistics of X: training starts where the parent was."""
    parent, X = _parent("mlp", trained=True)
    with torch.no_grad():
        expected = copy.deepcopy(parent).train()(X)
        with_data = copy.deepcopy(net2deeper(parent, 1, X=X)[0]).train()(X)
        without = copy.deepcopy(net2deeper(parent, 1)[0]).train()(X)
    torch.testing.assert_close(with_data, expected, rtol=0, atol=1e-3)
    assert (without - expected).abs().max() > 1e-2


def test_transforms_reject_impossible_steps():
    mlp, _ = _parent("mlp", trained=False)
    cnn, _ = _parent("cnn", trained=False)
    with pytest.raises(ValueError, match="new_width > 10"):
        net2wider(mlp, 1, 10)
    with pytest.raises(ValueError, match=r"layer must be an int in \[0, 2\]"):
        net2wider(mlp, 3, 20)
    with pytest.raises(ValueError, match="has no kernels"):
        widen_kernel(mlp, 0, 5)
    with pytest.raises(ValueError, match="odd new_size > 5"):
        widen_kernel(cnn, 1, 6)
    with pytest.raises(ValueError, match="odd kernel_size"):
        net2deeper(cnn, 0)
    with pytest.raises(ValueError, match="MorphNet"):
        net2deeper(nn.Linear(3, 3), 0)
    with pytest.raises(ValueError, match="unknown morphism"):
        apply_morphism(mlp, Morphism("shallower", 0))


# --------------------------------------------------------------------------- the space


def test_morphisms_stay_in_the_space_and_run_out_at_the_largest_network():
    space = MorphismSpace(kind="cnn", min_layers=1, max_layers=2, widths=(4, 8), kernel_sizes=(3, 5), max_pools=1)
    architecture = space.smallest()
    assert architecture == MorphArchitecture("cnn", (4,), (3,), (True,))
    rng = np.random.default_rng(0)
    n_steps = 0
    while (step := space.random_morphism(architecture, rng)) is not None:
        child = step.apply_to(architecture)
        assert space.contains(child) and child != architecture
        architecture, n_steps = child, n_steps + 1
    assert architecture == MorphArchitecture("cnn", (8, 8), (5, 5), (True, False))
    assert space.morphisms(architecture) == []
    assert n_steps >= 4


@pytest.mark.parametrize(
    "space, expected",
    [
        (MorphismSpace(kind="mlp", max_layers=3, widths=(4, 8)), 2 + 4 + 8),
        # depth 1: 4 layer choices x {pool, no pool}; depth 2: 16 x (1 + 2) pooling choices.
        (MorphismSpace(kind="cnn", max_layers=2, widths=(4, 8), kernel_sizes=(3, 5), max_pools=1), 4 * 2 + 16 * 3),
    ],
    ids=["mlp", "cnn"],
)
def test_size_matches_the_architectures_sampling_reaches(space, expected):
    assert space.size() == expected
    rng = np.random.default_rng(0)
    reached = {space.sample(rng) for _ in range(3000)}
    assert len(reached) == expected
    assert {space.mutate(a, rng) for a in reached} <= reached


def test_contains_rejects_the_other_kind_and_invalid_values():
    mlp, cnn = MorphismSpace(kind="mlp", widths=(4, 8)), MorphismSpace(kind="cnn", widths=(4, 8), max_pools=1)
    assert not mlp.contains(cnn.smallest()) and not cnn.contains(mlp.smallest())
    assert not mlp.contains(MorphArchitecture("mlp", (4, 5)))
    assert not mlp.contains(MorphArchitecture("mlp", ()))
    assert not cnn.contains(MorphArchitecture("cnn", (4,), (4,), (False,)))
    assert not cnn.contains(MorphArchitecture("cnn", (4, 4), (3, 3), (True, True)))
    assert not cnn.contains(MorphArchitecture("cnn", (4,), (3,), ()))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"kind": "rnn"}, "kind must be one of"),
        ({"min_layers": 0}, "1 <= min_layers <= max_layers"),
        ({"widths": (8, 0)}, "positive integers"),
        ({"kind": "cnn", "kernel_sizes": (3, 4)}, "odd positive"),
    ],
)
def test_invalid_space_settings_give_clear_errors(params, message):
    with pytest.raises(ValueError, match=message):
        MorphismSpace(**params).sample(np.random.default_rng(0))


def test_cnn_space_rejects_tabular_input():
    with pytest.raises(ValueError, match=r"\(channels, height, width\)"):
        MorphismSpace(kind="cnn").build(MorphismSpace(kind="cnn").smallest(), (64,), 3)


# --------------------------------------------------------------------------- searches


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = X.astype(np.float32)[:600]
    y = y[:600].astype(np.int64)
    return X[:400], y[:400], X[400:], y[400:]


def _images(data):
    X_train, y_train, X_valid, y_valid = data
    return X_train.reshape(-1, 1, 8, 8), y_train, X_valid.reshape(-1, 1, 8, 8), y_valid


def _search(strategy, space, data, max_trials=None, epochs=2, seed=0, **kwargs):
    shape = data[0].shape[1:]
    evaluator = Evaluator(space, shape, 10, batch_size=32, lr=1e-2, patience=None)
    strategy.reset(space, random_state=seed)
    budget = Budget(max_trials=max_trials).start()
    return run_search(strategy, evaluator, data, Fidelity(epochs), budget, base_seed=seed, **kwargs)


def _best_network(strategy, results):
    """The index of the best trial and the trained network the strategy hands the refit."""
    best = max(range(len(results)), key=lambda i: (results[i].score, -i))
    return best, strategy.final_warm_start(results[best].architecture).module


def _check_lineage(space, strategy, results):
    """Every child is its parent's architecture morphed, and starts where its parent stopped."""
    assert results[0].parent is None and strategy.steps[0] == ()
    assert strategy.results == results
    # Neither the loop's results nor the strategy's hold trained networks; only ``modules`` does.
    assert all(r.model is None for r in results) and all(r.model is None for r in strategy.results)
    for index, result in enumerate(results):
        assert space.contains(result.architecture)
        assert len(result.curve) == result.epochs
        if result.parent is None:
            continue
        parent = results[result.parent]
        assert result.parent < index and parent.ok
        architecture = parent.architecture
        for step in strategy.steps[index]:
            architecture = step.apply_to(architecture)
        assert architecture == result.architecture
        assert 1 <= len(strategy.steps[index]) <= 2
        # Training continues from the parent: the child's loss before training is the parent's after.
        assert result.initial_valid_loss == pytest.approx(parent.valid_loss, rel=1e-4)


@pytest.mark.parametrize("kind", ["mlp", "cnn"])
def test_hill_climbing_grows_the_best_network_and_never_moves_to_a_worse_one(kind, digits):
    space = MorphismSpace(kind=kind, max_layers=3, widths=(8, 16, 32), kernel_sizes=(3, 5))
    data = digits if kind == "mlp" else _images(digits)
    strategy = MorphismHillClimbing(n_neighbours=2, max_morphisms=2)
    results = _search(strategy, space, data, max_trials=5)
    assert len(results) == 5 and all(r.ok for r in results)
    _check_lineage(space, strategy, results)
    # Generations of 2 children: trials 1-2 come from the root, 3-4 from the better of root, 1, 2.
    assert [r.parent for r in results[:3]] == [None, 0, 0]
    second = results[3].parent
    assert results[4].parent == second
    assert results[second].score == max(r.score for r in results[:3])
    assert all(r.n_params > results[0].n_params for r in results[1:])
    best, network = _best_network(strategy, results)
    assert find_morph_net(network).architecture == results[best].architecture
    # Children train on from the root, so the best of them beats it.
    assert max(r.score for r in results[1:]) > results[0].score > 0.15


def test_hill_climbing_is_seeded(digits):
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))

    def run(seed):
        strategy = MorphismHillClimbing(n_neighbours=2, max_morphisms=2)
        results = _search(strategy, space, digits, max_trials=3, epochs=1, seed=seed)
        return [(r.architecture, r.parent, strategy.steps[i], r.score) for i, r in enumerate(results)]

    first = run(0)
    assert run(0) == first
    assert run(1) != first


def test_morphism_bayesian_runs_is_seeded_and_keeps_its_best_network(digits):
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))

    def run(seed):
        strategy = MorphismBayesian(n_initial=2, n_candidates=20, n_parents=2, max_morphisms=2)
        return strategy, _search(strategy, space, digits, max_trials=5, epochs=1, seed=seed)

    def summary(strategy, results):
        return [(r.architecture, r.parent, strategy.steps[i], r.score) for i, r in enumerate(results)]

    strategy, results = run(0)
    assert len(results) == 5 and all(r.ok for r in results)
    _check_lineage(space, strategy, results)
    # Every child's architecture is new: the surrogate never spends a trial twice.
    assert len({r.architecture for r in results}) == 5
    best, network = _best_network(strategy, results)
    assert best == int(np.argmax([r.score for r in results]))
    assert find_morph_net(network).architecture == results[best].architecture
    assert summary(*run(0)) == summary(strategy, results)
    assert [s[:3] for s in summary(*run(3))] != [s[:3] for s in summary(strategy, results)]


def test_morphism_bayesian_uses_the_surrogate_after_the_initial_trials(digits, monkeypatch):
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    calls = []
    original = MorphismBayesian._expected_improvement

    def spy(self, scored, architectures):
        improvement = original(self, scored, architectures)
        calls.append((len(scored), improvement))
        return improvement

    monkeypatch.setattr(MorphismBayesian, "_expected_improvement", spy)
    results = _search(MorphismBayesian(n_initial=2, n_candidates=20), space, digits, max_trials=5, epochs=1)
    assert len(results) == 5
    assert [n for n, _ in calls] == [2, 3, 4]
    assert all(np.all(np.isfinite(ei)) and np.all(ei >= 0) for _, ei in calls)


def test_trial_budget_and_time_budget_are_honoured(digits):
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    assert len(_search(MorphismHillClimbing(n_neighbours=3), space, digits, max_trials=2, epochs=1)) == 2
    # Trials of 1 s on a fake clock: after 3 of them, 3 s + the longest trial (1 s) exceed 3.5 s.
    clock = FakeClock()
    evaluator = TickingEvaluator(Evaluator(space, (64,), 10, batch_size=32, patience=None), clock, seconds=1.0)
    budget = Budget(time_budget=3.5, clock=clock).start()
    strategy = MorphismBayesian(n_initial=2).reset(space, random_state=0)
    results = run_search(strategy, evaluator, digits, Fidelity(1), budget, base_seed=0)
    assert len(results) == 3 and budget.elapsed == 3.0
    assert [d.at for d in evaluator.deadlines] == [budget.deadline.at] * 3


def test_search_stops_when_the_network_cannot_grow_any_more(digits):
    space = MorphismSpace(kind="mlp", min_layers=1, max_layers=1, widths=(8, 16))
    results = _search(MorphismHillClimbing(n_neighbours=3), space, digits, max_trials=10, epochs=1)
    # The root (8) and its only possible child (16), three times in one generation.
    assert [r.architecture.widths for r in results] == [(8,), (16,), (16,), (16,)]
    results = _search(MorphismBayesian(), space, digits, max_trials=10, epochs=1)
    assert [r.architecture.widths for r in results] == [(8,), (16,)]


def test_a_failing_child_is_recorded_and_the_search_goes_on(digits, monkeypatch):
    original = strategies_module.apply_morphism
    calls = []

    def flaky(module, morphisms, *args, **kwargs):
        calls.append(morphisms)
        if len(calls) == 2:
            raise RuntimeError("out of memory (simulated)")
        return original(module, morphisms, *args, **kwargs)

    monkeypatch.setattr(strategies_module, "apply_morphism", flaky)
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    results = _search(MorphismHillClimbing(n_neighbours=2), space, digits, max_trials=5, epochs=1)
    assert len(results) == 5
    assert [r.status for r in results] == ["ok", "ok", "failed", "ok", "ok"]
    assert "RuntimeError: out of memory (simulated)" in results[2].error and math.isnan(results[2].score)
    assert results[2].parent == 0 and results[3].parent in (0, 1)


def test_a_failing_root_is_trained_again(digits, monkeypatch):
    evaluate = Evaluator.make_net
    calls = []

    def failing_first(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ValueError("broken root")
        return evaluate(self, *args, **kwargs)

    monkeypatch.setattr(Evaluator, "make_net", failing_first)
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    results = _search(MorphismHillClimbing(n_neighbours=2), space, digits, max_trials=3, epochs=1)
    assert [(r.status, r.parent) for r in results] == [("failed", None), ("ok", None), ("ok", 1)]


def test_the_refit_continues_from_the_best_network(digits):
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    strategy = MorphismHillClimbing(n_neighbours=2)
    results = _search(strategy, space, digits, max_trials=3, epochs=2)
    best, network = _best_network(strategy, results)
    X = np.concatenate([digits[0], digits[2]])
    y = np.concatenate([digits[1], digits[3]])
    evaluator = Evaluator(space, (64,), 10, batch_size=32, lr=1e-2, patience=None)
    warm_start = strategy.final_warm_start(results[best].architecture)
    net = evaluator.fit_final(results[best].architecture, X, y, epochs=1, schedule_epochs=2, seed=0, warm_start=warm_start)
    assert len(net.history) == 1
    # Warm: after one epoch on all data it is at least as good as the searched network was.
    assert (net.predict(digits[2]) == digits[3]).mean() >= results[best].score - 0.05
    assert find_morph_net(network) is not find_morph_net(net.module_)
    # An architecture the strategy holds no network of is trained from scratch.
    assert strategy.final_warm_start(MorphArchitecture("mlp", (32, 32, 32))) is None


def test_search_and_refit_leave_the_callers_torch_random_state_alone(digits):
    space = MorphismSpace(kind="mlp", max_layers=2, widths=(8, 16))
    strategy = MorphismHillClimbing(n_neighbours=2)
    torch.manual_seed(123)
    state = torch.get_rng_state()
    results = _search(strategy, space, digits, max_trials=2, epochs=1)
    best, _ = _best_network(strategy, results)
    warm_start = strategy.final_warm_start(results[best].architecture)
    evaluator = Evaluator(space, (64,), 10, batch_size=32, patience=None)
    evaluator.fit_final(results[best].architecture, *digits[:2], epochs=1, schedule_epochs=1, seed=0, warm_start=warm_start)
    assert torch.equal(torch.get_rng_state(), state)


def test_strategies_reject_other_spaces_and_bad_settings():
    with pytest.raises(ValueError, match="needs a MorphismSpace"):
        MorphismHillClimbing().reset(MLPSpace())
    with pytest.raises(ValueError, match="n_neighbours must be a positive integer"):
        MorphismHillClimbing(n_neighbours=0).reset(MorphismSpace())
    with pytest.raises(ValueError, match="noise must be"):
        MorphismBayesian(noise=-1.0).reset(MorphismSpace())
    with pytest.raises(ValueError, match="is not an architecture of"):
        MorphismBayesian(initial=MorphArchitecture("mlp", (7,))).reset(MorphismSpace())
    with pytest.raises(RuntimeError, match=r"reset\(space, random_state\)"):
        MorphismHillClimbing().ask(1)
    with pytest.raises(RuntimeError, match=r"reset\(space, random_state\)"):
        MorphismBayesian().ask(1)
    strategy = MorphismBayesian(n_initial=3)
    assert strategy.get_params()["n_initial"] == 3
    assert strategy.set_params(n_initial=5).n_initial == 5
    assert repr(strategy).startswith("MorphismBayesian(n_initial=5")


def test_ask_tell_strategies_search_the_space_from_scratch(digits):
    """The space is an ordinary space too: run_search trains its networks from scratch."""
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    evaluator = Evaluator(space, (64,), 10, batch_size=64, patience=None)
    strategy = RegularizedEvolution(population_size=2, sample_size=2).reset(space, random_state=0)
    results = run_search(strategy, evaluator, digits, Fidelity(1), Budget(max_trials=3).start(), base_seed=0)
    assert len(results) == 3 and all(r.ok and space.contains(r.architecture) for r in results)


def test_children_run_without_the_trial_stopping_rule(digits):
    """Children's curves start at their parents' level, so a rule fitted to other curves would mislead.

    The root is trained from scratch: the rule sees its epochs and learns its curve, nothing else.
    """

    class Recording:
        def __init__(self):
            self.asked, self.observed = 0, []

        def should_stop(self, curve, max_epochs):
            self.asked += 1
            return False

        def observe(self, curve):
            self.observed.append(tuple(curve))

    space = MorphismSpace(kind="mlp", max_layers=2, widths=(8, 16))
    rule = Recording()
    evaluator = Evaluator(space, (64,), 10, batch_size=32, patience=None, stopping_rule=rule)
    strategy = MorphismHillClimbing(n_neighbours=1).reset(space, random_state=0)
    results = run_search(strategy, evaluator, digits, Fidelity(2), Budget(max_trials=2).start(), base_seed=0)
    assert [(r.status, r.parent) for r in results] == [("ok", None), ("ok", 0)]
    assert rule.asked == 2 and rule.observed == [results[0].curve]


@pytest.mark.parametrize("strategy", [MorphismHillClimbing(n_neighbours=2), MorphismBayesian(n_initial=2)])
def test_with_early_stopping_a_child_starts_from_the_weights_its_parent_was_scored_on(strategy, digits):
    # Early stopping restores the last epoch that improved by its threshold, not always the
    # lowest loss: the score, loss and best epoch of a kept network are those of the weights kept.
    space = MorphismSpace(kind="mlp", max_layers=3, widths=(8, 16, 32))
    evaluator = Evaluator(space, (64,), 10, batch_size=32, lr=1e-2, patience=2)
    strategy.reset(space, random_state=0)
    results = run_search(strategy, evaluator, digits, Fidelity(8), Budget(max_trials=5).start(), base_seed=0)
    assert all(r.ok for r in results)
    for result in results[1:]:
        parent = results[result.parent]
        assert result.initial_valid_loss == pytest.approx(parent.valid_loss, rel=1e-6)
