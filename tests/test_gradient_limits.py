"""Hard cost limits inside the gradient strategies (CellCosts: expected cost, feasible discretisation) and the
morphism strategies."""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits, load_iris

from skautoml import AutoNASClassifier
from skautoml.nas import (
    Budget,
    CellSpace,
    CostLimits,
    Evaluator,
    FeasibleSpace,
    Fidelity,
    LatencyTable,
    architecture_cost,
    run_search,
)
from skautoml.nas.morphism import MorphismHillClimbing, MorphismSpace
from skautoml.nas.oneshot import DARTS, GDAS, PARAMETER_FREE_OPERATIONS, PCDARTS, CellCosts

SHAPE = (1, 8, 8)
# Every kind of operation, two reductions (stride-2 edges at two resolutions).
SPACE = CellSpace(n_blocks=3, n_cells=4, initial_channels=8, n_reductions=2)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300].reshape(-1, *SHAPE).astype("float32"), y[:300]


def _decided_supernet(seed):
    """``SPACE``'s supernet with alphas drawn from N(0, 1): decided, not DARTS's almost uniform start."""
    torch.manual_seed(seed)
    supernet = SPACE.supernet(SHAPE, 10)
    with torch.no_grad():
        for alpha in supernet.arch_parameters():
            alpha.normal_()
    return supernet


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_relaxed_cost_is_the_exact_cost_of_the_derived_cells(seed):
    supernet = _decided_supernet(seed)
    costs = CellCosts(CostLimits(SPACE, SHAPE, 10, max_params=10**9, max_flops=10**12))
    derived = supernet.derive()
    exact = architecture_cost(SPACE, derived, SHAPE, 10)
    relaxed = costs.relaxed_cost(supernet, derived)
    assert relaxed["n_params"].item() == pytest.approx(exact.n_params, rel=1e-6)
    assert relaxed["flops"].item() == pytest.approx(exact.flops, rel=1e-6)
    assert relaxed["n_params"].requires_grad


def test_the_tables_price_each_operation_as_the_built_network_holds_it():
    # An architecture and the same one with a single operation changed differ by that operation's price.
    costs = CellCosts(CostLimits(SPACE, SHAPE, 10, max_params=10**9))
    architecture = SPACE.sample(np.random.default_rng(3))
    block = architecture.reduction[0]
    new_op = "sepconv5x5" if block.op1 != "sepconv5x5" else "conv3x3"
    changed = type(architecture)(
        normal=architecture.normal,
        reduction=(type(block)(block.input1, block.input2, new_op, block.op2, block.combine), *architecture.reduction[1:]),
    )
    difference = architecture_cost(SPACE, changed, SHAPE, 10).n_params - architecture_cost(SPACE, architecture, SHAPE, 10).n_params
    operations, table = SPACE.operations, costs.tables["n_params"]
    layout = SPACE.layout()
    live = [k for k in costs._live_positions(architecture) if layout[k] == "reduction"]
    row = block.input1
    price = table[live, row, operations.index(new_op)].sum() - table[live, row, operations.index(block.op1)].sum()
    assert difference == price != 0


def test_latency_is_priced_by_the_limits_table():
    class OpCount(LatencyTable):
        def __init__(self):
            super().__init__(cache_dir=False)

        def _measure(self, module, shape):
            return 1.0  # every operation 1 ms: a price counts the operations

    space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    supernet = space.supernet(SHAPE, 10)
    limits = CostLimits(space, SHAPE, 10, max_latency_ms=1.0, latency_table=OpCount())
    costs = CellCosts(limits)
    conv, pool = costs.tables["latency_ms"][0, 0]
    assert (conv, pool) == (3.0, 1.0)  # ReLU, convolution, batch norm; one pooling
    architecture = supernet.derive()
    relaxed = costs.relaxed_cost(supernet, architecture)["latency_ms"].item()
    assert relaxed == pytest.approx(limits.cost(architecture).latency_ms)


def test_the_penalty_is_silent_within_the_limits_and_pushes_towards_cheaper_operations():
    torch.manual_seed(0)
    supernet = SPACE.supernet(SHAPE, 10)
    architecture = supernet.derive()
    exact = architecture_cost(SPACE, architecture, SHAPE, 10).n_params
    loose = CellCosts(CostLimits(SPACE, SHAPE, 10, max_params=10 * exact))
    assert loose.penalty(loose.relaxed_cost(supernet, architecture)).item() == 0
    tight = CellCosts(CostLimits(SPACE, SHAPE, 10, max_params=exact // 4))
    penalty = tight.penalty(tight.relaxed_cost(supernet, architecture))
    assert penalty.item() > 0
    gradient = torch.autograd.grad(penalty, supernet.alpha_normal)[0]
    operations = SPACE.operations
    row = architecture.normal[0].input1  # a chosen edge of block 0
    # Descent raises the alphas of cheap operations and lowers those of expensive ones; 'zero' is never priced.
    assert gradient[row, operations.index("conv5x5")] > 0 > gradient[row, operations.index("maxpool")]
    assert gradient[row, operations.index("zero")] == 0


def _strengths_favouring(operation):
    strengths = {kind: np.full((9, len(SPACE.operations)), 0.01) for kind in ("normal", "reduction")}
    for strength in strengths.values():
        strength[:, SPACE.operations.index(operation)] = 0.9
    return strengths


def test_feasible_discretisation_changes_operations_only_until_within_the_limits():
    supernet = SPACE.supernet(SHAPE, 10)
    strengths = _strengths_favouring("conv5x5")
    heavy = supernet.derive()
    heavy = type(heavy)(
        normal=tuple(type(b)(b.input1, b.input2, "conv5x5", "conv5x5", b.combine) for b in heavy.normal),
        reduction=tuple(type(b)(b.input1, b.input2, "conv5x5", "conv5x5", b.combine) for b in heavy.reduction),
    )
    unconstrained = architecture_cost(SPACE, heavy, SHAPE, 10).n_params
    limits = CostLimits(SPACE, SHAPE, 10, max_params=unconstrained // 3)
    costs = CellCosts(limits)
    feasible = costs.within(heavy, strengths)
    assert limits.reason(feasible) is None and SPACE.contains(feasible)
    for before, after in zip(heavy.normal + heavy.reduction, feasible.normal + feasible.reduction):
        assert (before.input1, before.input2, before.combine) == (after.input1, after.input2, after.combine)
        assert "zero" not in (after.op1, after.op2)
    changed = sum(
        (a.op1 != b.op1) + (a.op2 != b.op2) for a, b in zip(heavy.normal + heavy.reduction, feasible.normal + feasible.reduction)
    )
    assert 0 < changed < 2 * 2 * SPACE.n_blocks  # not every operation was given up
    assert costs.within(feasible, strengths) == feasible  # already within: unchanged


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_feasible_discretisation_meets_two_limits_at_once(seed):
    supernet = _decided_supernet(seed)
    derived = supernet.derive()
    params_only = CostLimits(SPACE, SHAPE, 10, max_params=architecture_cost(SPACE, derived, SHAPE, 10).n_params // 4)
    reachable = params_only.cost(CellCosts(params_only).within(derived, supernet.strengths()))
    # Both costs of a reachable architecture as limits: the repair must meet them together.
    both = CostLimits(SPACE, SHAPE, 10, max_params=reachable.n_params, max_flops=reachable.flops)
    assert both.reason(derived) is not None
    assert both.reason(CellCosts(both).within(derived, supernet.strengths())) is None


def test_feasible_discretisation_keeps_the_collapse_rule_or_says_why_it_cannot():
    space = CellSpace(n_blocks=2, n_cells=2, initial_channels=8, n_reductions=1, operations=("conv5x5", "maxpool"))
    supernet = space.supernet(SHAPE, 10)
    architecture = supernet.derive()
    heavy = type(architecture)(
        normal=tuple(type(b)(b.input1, b.input2, "conv5x5", "conv5x5", b.combine) for b in architecture.normal),
        reduction=tuple(type(b)(b.input1, b.input2, "conv5x5", "conv5x5", b.combine) for b in architecture.reduction),
    )
    strengths = {kind: np.array([[0.9, 0.1]] * 5) for kind in ("normal", "reduction")}
    # Only pooling is cheaper; a limit reachable only with pooling everywhere cannot keep one per cell.
    smallest = architecture_cost(
        space, type(heavy)(
            normal=tuple(type(b)(b.input1, b.input2, "maxpool", "maxpool", b.combine) for b in heavy.normal),
            reduction=tuple(type(b)(b.input1, b.input2, "maxpool", "maxpool", b.combine) for b in heavy.reduction),
        ), SHAPE, 10,
    ).n_params
    costs = CellCosts(CostLimits(space, SHAPE, 10, max_params=smallest))
    feasible = costs.within(heavy, strengths)
    assert all(op in PARAMETER_FREE_OPERATIONS for b in feasible.normal + feasible.reduction for op in (b.op1, b.op2))
    with pytest.raises(ValueError, match="the greedy repair found no change of an operation or a block input"):
        costs.within(heavy, strengths, max_parameter_free=1)


def test_cell_costs_need_limits_on_a_cell_space():
    from skautoml.nas import CNNSpace

    with pytest.raises(TypeError, match="CellCosts prices the cells of a CellSpace"):
        CellCosts(CostLimits(CNNSpace(), SHAPE, 10, max_params=100))


def _searched(strategy, digits, limit, cost_weight=1.0, n_trials=3):
    X, y = digits
    data = (X[:200], y[:200], X[200:], y[200:])
    space = CellSpace(n_blocks=2, n_cells=3, initial_channels=8, operations=("conv5x5", "sepconv3x3", "maxpool"))
    limits = CostLimits(space, SHAPE, 10, max_params=limit) if limit else None
    strategy.set_params(warmup_epochs=0, cost_weight=cost_weight)
    strategy.reset(space if limits is None else FeasibleSpace(space, limits), random_state=0)
    evaluator = Evaluator(space, SHAPE, 10, batch_size=50)
    results = run_search(strategy, evaluator, data, Fidelity(1), Budget(max_trials=n_trials).start(), 0, constraint=limits)
    return space, results


def test_the_cost_term_steers_the_alphas_towards_cheaper_cells(digits):
    free, steered = DARTS(), DARTS()
    space, _ = _searched(free, digits, None)
    reference = free.module[-1].derive()
    limit = architecture_cost(space, reference, SHAPE, 10).n_params // 2
    _searched(steered, digits, limit, cost_weight=10.0)
    # The same seeds and data: only the cost term differs, and the steered alphas price the same cells lower.
    costs = CellCosts(CostLimits(space, SHAPE, 10, max_params=limit))
    free_cost, steered_cost = (
        costs.relaxed_cost(strategy.module[-1], reference)["n_params"].item() for strategy in (free, steered)
    )
    assert steered_cost < free_cost


@pytest.mark.parametrize("strategy", [DARTS(), GDAS(), PCDARTS(partial_channels=2)], ids=lambda s: type(s).__name__)
def test_gradient_strategies_score_only_architectures_within_the_limits(digits, strategy):
    # Unconstrained, these searches derive cells of 8,000 (GDAS) to 136,000 (DARTS) parameters.
    limit = 4_000
    space, results = _searched(strategy, digits, limit)
    assert [r.status for r in results] == ["ok"] * 3
    assert all(r.n_params <= limit for r in results)
    assert all(architecture_cost(space, r.architecture, SHAPE, 10).n_params <= limit for r in results)


def test_darts_in_the_estimator_refits_a_network_within_the_limit(digits):
    X, y = digits
    space = CellSpace(n_blocks=2, n_cells=3, initial_channels=8, operations=("conv5x5", "sepconv3x3", "maxpool"))
    clf = AutoNASClassifier(
        search_space=space, strategy="darts", max_trials=2, final_epochs=1, max_params=8_000, random_state=0
    ).fit(X, y)
    trained = clf.search_results_["trial"] >= 0
    assert trained.sum() == 2 and (clf.search_results_["n_params"][trained] <= 8_000).all()
    assert sum(p.numel() for p in clf.best_estimator_.module_.parameters()) <= 8_000


# --------------------------------------------------------------------------- morphisms


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


def test_morphism_children_stay_within_the_limits(iris):
    space = MorphismSpace(kind="mlp", widths=(4, 8, 16, 32, 64))
    limit = 400
    clf = AutoNASClassifier(
        search_space=space, strategy=MorphismHillClimbing(n_neighbours=3, max_morphisms=3), max_trials=7,
        max_epochs=2, max_params=limit, random_state=0,
    ).fit(*iris)
    results = clf.search_results_
    assert (results["trial"] >= 0).all() and len(results["trial"]) == clf.n_trials_ == 7
    assert (results["n_params"] <= limit).all() and results["n_params"].max() > 100  # it grew, within the limit
    assert sum(p.numel() for p in clf.best_estimator_.module_.parameters()) <= limit


def test_a_morphism_strategy_grows_while_any_morphism_stays_within_the_limits():
    # From the root, few of the many ways to grow stay within a tight limit; the child draws among those only.
    space = MorphismSpace(kind="mlp", widths=tuple(range(4, 65, 4)), max_layers=4)
    root = space.smallest()
    limits = CostLimits(space, (4,), 3, max_params=architecture_cost(space, root, (4,), 3).n_params + 30)
    strategy = MorphismHillClimbing(n_neighbours=1, max_morphisms=1)
    for seed in range(20):
        strategy.reset(FeasibleSpace(space, limits), random_state=seed)
        strategy.modules[0] = None  # stands for the trained root: a child only carries it
        child = strategy._random_child(0, root)
        assert child is not None and limits.reason(child.architecture) is None


def test_a_morphism_root_over_the_limits_fails_at_reset():
    from skautoml.nas.morphism import MorphArchitecture

    space = MorphismSpace(kind="mlp", widths=(4, 8, 16))
    root = space.smallest()
    limits = CostLimits(space, (4,), 3, max_params=architecture_cost(space, root, (4,), 3).n_params - 1)
    with pytest.raises(ValueError, match="grows every network from .* over the limits .*max_params"):
        MorphismHillClimbing().reset(FeasibleSpace(space, limits), random_state=0)
    # Within them, it starts.
    loose = CostLimits(space, (4,), 3, max_params=10**6)
    assert MorphismHillClimbing().reset(FeasibleSpace(space, loose), random_state=0).ask() is not None
    assert isinstance(root, MorphArchitecture)


def test_a_strategy_that_does_not_take_limits_says_so(iris):
    from skautoml.search import RandomSearch

    class Unlimited(RandomSearch):
        takes_limits = False

    with pytest.raises(NotImplementedError, match="Unlimited does not take max_params"):
        AutoNASClassifier(search_space="mlp", strategy=Unlimited(), max_trials=2, max_params=10_000).fit(*iris)
