"""REINFORCE controller and surrogate-screened evolution: the strategy contract and their behaviour.

No network is trained: results come from synthetic objectives.
"""
import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator, RegressorMixin
from skopt.learning import GaussianProcessRegressor

import test_strategies as contract
from skautoml.nas import (
    CNNArchitecture,
    CNNLayer,
    CNNSpace,
    FactorizedSpace,
    HierarchicalSpace,
    MLPSpace,
    RandomSearch,
    RegularizedEvolution,
    SearchSpace,
)
from skautoml.search import expected_improvement
from skautoml.search import SurrogateEvolution
from skautoml.search import ReinforceController
from skautoml.search.strategy._reinforce import decision_adapter
from test_strategies import (  # noqa: F401  (the contract tests, run here on the strategies below)
    _best_after,
    _one_edit_apart,
    distance_objective,
    failed,
    ok,
    test_all_trials_failing_does_not_break_later_asks,
    test_an_estimator_holding_a_strategy_can_be_cloned,
    test_ask_before_reset_raises_a_clear_error,
    test_ask_needs_a_positive_n,
    test_ask_returns_architectures_of_the_space,
    test_different_seeds_give_different_sequences,
    test_failed_results_do_not_break_later_asks,
    test_get_params_round_trips,
    test_is_a_strategy,
    test_random_state_may_be_none_or_a_random_state,
    test_reset_starts_a_fresh_search,
    test_same_seed_and_tells_give_the_same_sequence,
)

STRATEGIES = {
    "reinforce": lambda: ReinforceController(hidden_size=16, batch_size=3),
    # A GP without restarts keeps the contract fast; the default 'gp' is tested below.
    "evolution+smbo": lambda: SurrogateEvolution(
        population_size=4, sample_size=2, n_candidates=8, surrogate=GaussianProcessRegressor(normalize_y=True)
    ),
}


@pytest.fixture(params=list(STRATEGIES), ids=list(STRATEGIES))
def make_strategy(request):
    return STRATEGIES[request.param]


@pytest.fixture(params=list(contract.SPACES.values()), ids=list(contract.SPACES))
def space(request):
    return request.param


def small_gp():
    return GaussianProcessRegressor(normalize_y=True)


# --------------------------------------------------------------------------- decision protocol


def _sample_tokens(adapter, rng):
    """Uniform random tokens that respect the adapter's constraints."""
    tokens = []
    for _, n in adapter.decisions:
        options = adapter.allowed(tokens)
        tokens.append(int(rng.choice(range(n) if options is None else options)))
    return tokens


def test_decisions_round_trip_every_space(space):
    adapter = decision_adapter(space)
    assert adapter.decisions and all(n >= 1 for _, n in adapter.decisions)
    rng = np.random.default_rng(0)
    for _ in range(100):
        architecture = space.sample(rng)
        tokens = adapter.encode(architecture)
        assert len(tokens) == len(adapter.decisions)
        assert all(0 <= t < n for t, (_, n) in zip(tokens, adapter.decisions))
        assert adapter.decode(tokens) == architecture
        # A member's own sequence is never forbidden by the constraints.
        for k, token in enumerate(tokens):
            options = adapter.allowed(tokens[:k])
            assert options is None or token in options


def test_every_allowed_sequence_decodes_to_a_member(space):
    adapter = decision_adapter(space)
    rng = np.random.default_rng(1)
    decoded = [adapter.decode(_sample_tokens(adapter, rng)) for _ in range(200)]
    assert all(space.contains(a) for a in decoded)
    assert len(set(decoded)) > 100


def test_hierarchical_constraints_are_what_keeps_motifs_valid():
    space = HierarchicalSpace()
    adapter = decision_adapter(space)
    rng = np.random.default_rng(0)
    unconstrained = [adapter.decode([int(rng.integers(n)) for _, n in adapter.decisions]) for _ in range(200)]
    assert not all(space.contains(a) for a in unconstrained)
    # Without 'none' every motif is a complete DAG and nothing is constrained.
    complete = HierarchicalSpace(primitives=("conv1x1", "identity"))
    adapter = decision_adapter(complete)
    assert all(adapter.allowed(_sample_tokens(adapter, rng)[:k]) is None for k in range(len(adapter.decisions)))


def test_cnn_decisions_drop_missing_layers_and_move_head_skips_to_the_head():
    space = CNNSpace(
        min_layers=1, max_layers=3, operations=("conv3x3", "maxpool"), channels=(8, 16), stem_channels=(8,)
    )
    adapter = decision_adapter(space)
    names = [name for name, _ in adapter.decisions]
    assert names[:4] == ["stem", "depth", "op0", "channels0"]
    bits = {name: 0 for name in names if name.startswith("skip")}
    # Depth 2: skip 0->2 exists, 1->3 would enter a missing layer, 0->4 is the deepest chain's head.
    bits.update({"skip0-2": 1, "skip1-3": 1, "skip0-4": 1})
    layers = [0, 1, 1, 0, 0, 0]  # conv3x3(16), maxpool (its channels ignored), unused third layer
    tokens = [0, 1, *layers, *bits.values()]
    architecture = adapter.decode(tokens)
    assert architecture == CNNArchitecture(8, (CNNLayer("conv3x3", 16), CNNLayer("maxpool")), ((0, 2), (0, 3)))
    assert space.contains(architecture)
    assert adapter.decode(adapter.encode(architecture)) == architecture


def test_mlp_decisions_put_the_depth_first_and_ignore_unused_layers():
    space = MLPSpace(min_layers=1, max_layers=3, widths=(8, 16))
    adapter = decision_adapter(space)
    assert [name for name, _ in adapter.decisions][:4] == ["depth", "width0", "width1", "width2"]
    shallow = adapter.decode([0, 1, 0, 0, 0, 0, 0, 0])
    assert shallow.widths == (16,)
    assert adapter.decode([0, 1, 1, 1, 0, 0, 0, 0]) == shallow


class Opaque(SearchSpace):
    """A space with only the basic contract."""

    def sample(self, rng):
        return int(rng.integers(10))

    def mutate(self, architecture, rng):
        return (architecture + 1) % 10

    def encode(self, architecture):
        return np.array([architecture / 9])

    def build(self, architecture, input_shape, n_outputs):
        raise NotImplementedError

    def size(self):
        return 10

    def contains(self, architecture):
        return architecture in range(10)


class Bits(Opaque):
    """Bit strings of length 8 that offer the decision protocol themselves."""

    def __init__(self, broken=False):
        self.broken = broken

    def sample(self, rng):
        return tuple(int(b) for b in rng.integers(2, size=8))

    def mutate(self, architecture, rng):
        i = int(rng.integers(8))
        return architecture[:i] + (1 - architecture[i],) + architecture[i + 1 :]

    def encode(self, architecture):
        return np.array(architecture, dtype=float)

    def size(self):
        return 2**8

    def contains(self, architecture):
        return isinstance(architecture, tuple) and len(architecture) == 8 and set(architecture) <= {0, 1}

    def decisions(self):
        return [(f"bit{i}", 2) for i in range(8)]

    def from_decisions(self, tokens):
        return tuple(tokens) + ((2,) if self.broken else ())

    def to_decisions(self, architecture):
        return list(architecture)


def test_a_space_without_decisions_gets_a_clear_type_error():
    with pytest.raises(TypeError, match="sequence of categorical decisions; Opaque does not offer it"):
        ReinforceController().reset(Opaque(), random_state=0)
    with pytest.raises(TypeError, match=r"decisions\(\).*from_decisions.*to_decisions"):
        decision_adapter(Opaque())
    # Strategies that need only sample/mutate/encode take it.
    assert Opaque().contains(SurrogateEvolution(surrogate=small_gp()).reset(Opaque(), 0).ask())


def test_a_space_offering_the_protocol_is_learned_on():
    space = Bits()
    strategy = ReinforceController(batch_size=4).reset(space, random_state=0)
    proposals = []
    for _ in range(100):
        architecture = strategy.ask()
        proposals.append(architecture)
        strategy.tell(architecture, ok(architecture, sum(architecture)))
    assert all(space.contains(a) for a in proposals)
    assert np.mean([sum(a) for a in proposals[-20:]]) > np.mean([sum(a) for a in proposals[:20]]) + 1.5


def test_decoded_non_members_fall_back_to_random_architectures_with_a_warning():
    space = Bits(broken=True)
    strategy = ReinforceController().reset(space, random_state=0)
    with pytest.warns(UserWarning, match="not members of Bits"):
        batch = strategy.ask(3)
    assert all(space.contains(a) for a in batch)
    for architecture in batch:
        strategy.tell(architecture, ok(architecture, 1.0))


class Staircase(SearchSpace):
    """Non-decreasing tuples of 5 levels in 0..4: a new space whose validity ties its decisions together.

    It has the basic contract and the decision protocol, nothing else; the
    controller knows nothing of it.
    """

    length, levels = 5, 5

    def sample(self, rng):
        return tuple(sorted(int(v) for v in rng.integers(self.levels, size=self.length)))

    def mutate(self, architecture, rng):
        i = int(rng.integers(self.length))
        values = list(architecture)
        values[i] = (values[i] + 1 + int(rng.integers(self.levels - 1))) % self.levels
        child = tuple(sorted(values))
        return child if child != architecture else self.sample(rng)

    def encode(self, architecture):
        return np.array(architecture, dtype=float) / (self.levels - 1)

    def build(self, architecture, input_shape, n_outputs):
        raise NotImplementedError

    def size(self):
        return math.comb(self.length + self.levels - 1, self.length)

    def contains(self, architecture):
        return (
            isinstance(architecture, tuple)
            and len(architecture) == self.length
            and all(type(v) is int and 0 <= v < self.levels for v in architecture)
            and list(architecture) == sorted(architecture)
        )

    def decisions(self):
        return [(f"step{i}", self.levels) for i in range(self.length)]

    def allowed_decisions(self, prefix):
        return list(range(prefix[-1], self.levels)) if prefix else None

    def from_decisions(self, tokens):
        return tuple(tokens)

    def to_decisions(self, architecture):
        return list(architecture)


def test_a_new_space_with_its_own_protocol_and_constraints_works_unchanged():
    space = Staircase()
    strategy = ReinforceController(batch_size=4).reset(space, random_state=0)
    # An unconstrained sequence would often decrease; the mask alone keeps every proposal valid.
    assert not space.contains(space.from_decisions([4, 3, 2, 1, 0]))
    foreign = (0, 0, 0, 0, 0)
    strategy.tell(foreign, ok(foreign, 0.0))  # not proposed: learned from through to_decisions
    proposals = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to random architectures
        for _ in range(80):
            architecture = strategy.ask()
            proposals.append(architecture)
            strategy.tell(architecture, ok(architecture, sum(architecture)))
    assert all(space.contains(a) for a in proposals)
    assert len(strategy.entropies) == 20
    assert np.mean([sum(a) for a in proposals[-20:]]) > np.mean([sum(a) for a in proposals[:20]]) + 2


# --------------------------------------------------------------------------- REINFORCE


def test_reinforce_beats_random_search_on_a_synthetic_objective():
    space = FactorizedSpace()
    objective = distance_objective(space)
    seeds = range(8)
    random_best = [_best_after(RandomSearch(), space, s, objective, 40) for s in seeds]
    reinforce_best = [_best_after(ReinforceController(), space, s, objective, 40) for s in seeds]
    assert np.mean(reinforce_best) > np.mean(random_best) + 0.5, (reinforce_best, random_best)


def test_reinforce_sharpens_its_distribution_on_a_fixed_reward():
    space = MLPSpace()

    def objective(architecture):
        return float(sum(math.log2(w) for w in architecture.widths))

    strategy = ReinforceController(batch_size=4).reset(space, random_state=0)
    scores = []
    for _ in range(160):
        architecture = strategy.ask()
        scores.append(objective(architecture))
        strategy.tell(architecture, ok(architecture, scores[-1]))
    assert len(strategy.entropies) == 40
    assert np.mean(strategy.entropies[-5:]) < 0.7 * np.mean(strategy.entropies[:5])
    assert np.mean(scores[-20:]) > np.mean(scores[:20]) + 5


def test_a_constant_reward_teaches_the_controller_nothing():
    strategy = ReinforceController(batch_size=4).reset(MLPSpace(), random_state=0)
    for _ in range(80):
        architecture = strategy.ask()
        strategy.tell(architecture, ok(architecture, 0.5))
    # No advantage: only the entropy bonus acts, which keeps the distribution spread.
    assert min(strategy.entropies) > 0.97 * strategy.entropies[0]


def test_failed_trials_are_left_out_of_the_updates():
    space = MLPSpace()
    strategy = ReinforceController(batch_size=3).reset(space, random_state=0)
    for score in (0.1, math.nan, 0.2, -math.inf, math.nan):
        architecture = strategy.ask()
        strategy.tell(architecture, ok(architecture, score) if math.isfinite(score) else failed(architecture))
    assert strategy.entropies == []
    architecture = strategy.ask()
    strategy.tell(architecture, ok(architecture, 0.3))
    assert len(strategy.entropies) == 1
    assert len(strategy.history) == 6


def test_results_of_architectures_it_did_not_propose_are_learned_from():
    space = MLPSpace()
    strategy = ReinforceController(batch_size=2).reset(space, random_state=0)
    rng = np.random.default_rng(0)
    for score in (0.2, 0.8):
        architecture = space.sample(rng)
        strategy.tell(architecture, ok(architecture, score))
    assert len(strategy.entropies) == 1
    assert space.contains(strategy.ask())


def test_reinforce_leaves_torch_global_random_state_alone():
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    strategy = ReinforceController(batch_size=2).reset(MLPSpace(), random_state=0)
    contract.drive(strategy, distance_objective(MLPSpace()), 6)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_reinforce_seeds_its_controller_weights():
    first = ReinforceController().reset(MLPSpace(), random_state=0).controller.state_dict()
    again = ReinforceController().reset(MLPSpace(), random_state=0).controller.state_dict()
    other = ReinforceController().reset(MLPSpace(), random_state=1).controller.state_dict()
    assert all(torch.equal(first[k], again[k]) for k in first)
    assert not all(torch.equal(first[k], other[k]) for k in first)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"hidden_size": 0}, "hidden_size must be a positive integer"),
        ({"batch_size": 2.5}, "batch_size must be a positive integer"),
        ({"lr": 0.0}, "lr must be a positive number"),
        ({"baseline_decay": 1.0}, r"baseline_decay must be a number in \[0, 1\)"),
        ({"entropy_weight": -1.0}, "entropy_weight must be a number >= 0"),
        ({"lr": math.nan}, "lr must be"),
    ],
)
def test_reinforce_rejects_bad_settings(params, message):
    with pytest.raises(ValueError, match=message):
        ReinforceController(**params).reset(MLPSpace(), random_state=0)


# --------------------------------------------------------------------------- EA + SMBO


def test_surrogate_evolution_beats_random_search_and_plain_evolution():
    space = MLPSpace()
    objective = distance_objective(space)
    seeds = range(8)
    random_best = [_best_after(RandomSearch(), space, s, objective, 40) for s in seeds]
    evolution_best = [_best_after(RegularizedEvolution(5, 2), space, s, objective, 40) for s in seeds]
    hybrid_best = [
        _best_after(SurrogateEvolution(5, 2, surrogate=small_gp()), space, s, objective, 40) for s in seeds
    ]
    assert np.mean(hybrid_best) > np.mean(random_best) + 0.2, (hybrid_best, random_best)
    assert np.mean(hybrid_best) > np.mean(evolution_best) + 0.1, (hybrid_best, evolution_best)


class PrefersDepth(RegressorMixin, BaseEstimator):
    """A fixed 'surrogate' that predicts a lower loss for deeper MLPs (encode[0] is the depth)."""

    def fit(self, X, y):
        return self

    def predict(self, X, return_std=False):
        mean = -np.asarray(X)[:, 0]
        return (mean, np.full(len(mean), 1e-3)) if return_std else mean


def test_surrogate_evolution_trains_the_child_the_surrogate_likes_best():
    space = MLPSpace()
    rng = np.random.default_rng(0)

    def run(strategy):
        strategy.reset(space, random_state=0)
        depths = []
        for _ in range(60):
            architecture = strategy.ask()
            depths.append(len(architecture.widths))
            strategy.tell(architecture, ok(architecture, float(rng.random())))  # uninformative scores
        return np.mean(depths[-30:])

    assert run(SurrogateEvolution(5, 2, surrogate=PrefersDepth())) > 3.5
    assert run(RegularizedEvolution(5, 2)) < 3.2


def test_surrogate_evolution_mutates_tournament_winners():
    space = MLPSpace()
    objective = distance_objective(space)
    # The tournament is the whole population, so every child's parent is its best member.
    strategy = SurrogateEvolution(population_size=4, sample_size=4, surrogate=small_gp()).reset(space, 5)
    for step in range(40):
        population = list(strategy.population)
        architecture = strategy.ask()
        if step >= 4:
            best = max(score for _, score in population)
            parents = [member for member, score in population if score == best]
            assert any(_one_edit_apart(parent, architecture) for parent in parents), (parents, architecture)
        strategy.tell(architecture, ok(architecture, objective(architecture)))
    assert len(strategy.population) == 4


def test_surrogate_evolution_batches_are_different_unseen_children():
    space = MLPSpace()
    strategy = SurrogateEvolution(population_size=4, surrogate=small_gp()).reset(space, random_state=0)
    contract.drive(strategy, distance_objective(space), 6)
    seen = {architecture for architecture, _ in strategy.history}
    batch = strategy.ask(4)
    assert len(set(batch)) == 4 and not set(batch) & seen


@pytest.mark.parametrize("surrogate", ["gp", "rf"])
def test_surrogate_evolution_takes_the_named_surrogates(surrogate):
    space = MLPSpace(max_layers=2)
    strategy = SurrogateEvolution(population_size=3, n_candidates=5, surrogate=surrogate).reset(space, 0)
    proposals = contract.drive(strategy, distance_objective(space), 4)
    assert all(space.contains(a) for a in proposals)


def test_expected_improvement_prefers_candidates_near_the_best():
    space = MLPSpace()
    objective = distance_objective(space)
    rng = np.random.default_rng(0)
    scored = [(a, objective(a)) for a in (space.sample(rng) for _ in range(30))]
    target = space.sample(np.random.default_rng(12345))
    far = min(scored, key=lambda item: item[1])[0]
    improvement = expected_improvement(space, scored, [target, far], small_gp(), random_state=0)
    assert improvement.shape == (2,) and improvement[0] > improvement[1]


def test_surrogate_evolution_breeds_as_regularized_evolution_until_the_surrogate_can_rank():
    # Equal scores give the surrogate nothing to rank: every proposal is a plain tournament child,
    # drawn exactly as RegularizedEvolution draws it.
    def proposals(strategy):
        strategy.reset(MLPSpace(), random_state=3)
        asked = []
        for _ in range(30):
            asked.append(strategy.ask())
            strategy.tell(asked[-1], ok(asked[-1], 0.5))
        return asked

    assert proposals(SurrogateEvolution(4, 2, surrogate=small_gp())) == proposals(RegularizedEvolution(4, 2))


@pytest.mark.parametrize(
    "params, message",
    [
        ({"surrogate": "tree"}, "surrogate must be one of"),
        ({"n_candidates": 0}, "n_candidates must be a positive integer"),
        ({"population_size": 0}, "population_size >= 1"),
    ],
)
def test_surrogate_evolution_rejects_bad_settings(params, message):
    with pytest.raises(ValueError, match=message):
        SurrogateEvolution(**params).reset(MLPSpace(), random_state=0)


def test_no_warnings_from_a_normal_run(make_strategy):
    space = MLPSpace()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        contract.drive(make_strategy().reset(space, random_state=0), distance_objective(space), 10)
