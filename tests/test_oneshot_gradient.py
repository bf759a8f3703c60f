"""Gradient one-shot strategies (DARTS, GDAS, PC-DARTS) through the one search loop, on a tiny cell space."""
import copy
import math

import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from torch.func import functional_call
from torch.nn import functional as F

from skautoml.nas import Budget, CellSpace, CNNSpace, Evaluator, Fidelity, MLPSpace, run_search
from skautoml.nas.oneshot import (
    DARTS,
    GDAS,
    PARAMETER_FREE_OPERATIONS,
    PCDARTS,
    architecture_gradient,
    search_state,
)

SPACE = CellSpace(
    n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool", "identity")
)
SHAPE = (1, 8, 8)
BATCH = 64  # 200 training images: 4 batches, so 4 architecture steps per epoch


@pytest.fixture(scope="module")
def data():
    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, *SHAPE).astype("float32")
    return X[:200], y[:200], X[200:300], y[200:300]


def _search(strategy, data, n_trials, space=SPACE, seed=0):
    """Run ``strategy`` for ``n_trials``; returns the results and, per trial, what the kept supernet was after it."""
    strategy.reset(space, random_state=seed)
    log = []
    tell = strategy.tell

    def recording_tell(candidate, result):
        tell(candidate, result)
        supernet = None if strategy.module is None else strategy.module[-1]
        log.append(
            {
                "proposal": candidate,
                "alphas": None if supernet is None else [p.detach().clone() for p in supernet.arch_parameters()],
                "weights": None if supernet is None else supernet.stem[0].weight.detach().clone(),
                "state": None if supernet is None else copy.deepcopy(search_state(supernet)),
                "derived": None if supernet is None else supernet.derive(strategy.max_parameter_free),
                "supernet": supernet,
            }
        )

    strategy.tell = recording_tell
    evaluator = Evaluator(space, SHAPE, 10, batch_size=BATCH)
    results = run_search(strategy, evaluator, data, Fidelity(1), Budget(max_trials=n_trials).start(), seed)
    return results, log


def _equal(first, second):
    return all(torch.equal(a, b) for a, b in zip(first, second))


# --------------------------------------------------------------------------- DARTS


def test_darts_trials_derive_warm_up_then_step_the_alphas(data):
    results, log = _search(DARTS(warmup_epochs=1), data, 3)
    assert [r.status for r in results] == ["ok"] * 3
    assert [r.epochs for r in results] == [1, 1, 1]
    assert all(math.isfinite(r.score) and r.n_params > 0 for r in results)
    # Every trial's architecture is the space's, derived from the alphas after its epoch.
    initial = log[0]["proposal"].warm_start.initial
    assert all(SPACE.contains(r.architecture) for r in results)
    assert [r.architecture for r in results] == [entry["derived"] for entry in log]
    # Warm-up: the alphas stay as drawn (the weights' AdamW leaves them alone); afterwards they step.
    assert _equal(log[0]["alphas"], initial.values())
    assert not _equal(log[1]["alphas"], log[0]["alphas"])
    assert not _equal(log[2]["alphas"], log[1]["alphas"])
    # The weights train in every trial.
    assert not torch.equal(log[1]["weights"], log[0]["weights"])
    assert not torch.equal(log[2]["weights"], log[1]["weights"])
    # The architecture optimiser's state carries over: one step per training batch after the warm-up.
    states = [entry["state"] for entry in log]
    assert [s["epochs"] for s in states] == [1, 2, 3]
    assert states[0]["optimizer"]["state"] == {}
    assert [int(s["optimizer"]["state"][0]["step"]) for s in states[1:]] == [4, 8]
    # The supernet stays relaxed; the refit starts from the subnet with its weights.
    assert log[-1]["supernet"].relaxation == "softmax"
    assert DARTS().reset(SPACE).final_warm_start(results[0].architecture) is None


def _smooth(module):
    """``module`` with SiLU for every ReLU: the finite differences of a ReLU network cross its kinks."""
    for parent in module.modules():
        for name, child in parent.named_children():
            if isinstance(child, torch.nn.ReLU):
                setattr(parent, name, torch.nn.SiLU())
    return module


def _exact_unrolled_gradient(supernet, train, valid, lr):
    """DARTS eq. 7 by autograd through the virtual step (no finite differences)."""
    params = dict(supernet.named_parameters())
    arch = {id(p) for p in supernet.arch_parameters()}
    names = [name for name, p in params.items() if id(p) not in arch]
    train_loss = F.cross_entropy(supernet(train[0]), train[1])
    grads = torch.autograd.grad(train_loss, [params[n] for n in names], create_graph=True, allow_unused=True)
    unrolled = dict(params)
    for name, grad in zip(names, grads):
        if grad is not None:
            unrolled[name] = params[name] - lr * grad
    valid_loss = F.cross_entropy(functional_call(supernet, unrolled, (valid[0],)), valid[1])
    return torch.autograd.grad(valid_loss, supernet.arch_parameters())


def _relative_error(approximate, reference):
    return max(float((a - b).norm() / b.norm()) for a, b in zip(approximate, reference))


def test_second_order_gradient_differs_from_first_order_on_the_same_batch():
    torch.manual_seed(0)
    supernet = SPACE.supernet(SHAPE, 10).relax("softmax").train()
    train = (torch.randn(16, *SHAPE), torch.arange(16) % 10)
    valid = (torch.randn(16, *SHAPE), torch.arange(16) % 10)
    weights = [p.detach().clone() for p in supernet.weight_parameters()]
    first = architecture_gradient(supernet, supernet, train, valid)
    second = architecture_gradient(supernet, supernet, train, valid, order=2, lr=0.05)
    assert [g.shape for g in second] == [p.shape for p in supernet.arch_parameters()]
    assert _relative_error(first, second) > 1e-2
    assert _equal(supernet.weight_parameters(), weights)  # the virtual and shifted weights are undone
    assert all(p.grad is None for p in supernet.parameters())
    # lr 0: no virtual step, the first-order gradient.
    assert _equal(architecture_gradient(supernet, supernet, train, valid, order=2, lr=0.0), first)


def test_second_order_gradient_matches_the_exact_unrolled_one_on_a_smooth_network():
    torch.manual_seed(0)
    space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "avgpool"))
    supernet = _smooth(space.supernet(SHAPE, 10)).relax("softmax").train()
    train = (torch.randn(16, *SHAPE), torch.arange(16) % 10)
    valid = (torch.randn(16, *SHAPE), torch.arange(16) % 10)
    exact = _exact_unrolled_gradient(supernet, train, valid, lr=0.05)
    second = architecture_gradient(supernet, supernet, train, valid, order=2, lr=0.05)
    first = architecture_gradient(supernet, supernet, train, valid)
    assert _relative_error(second, exact) < 2e-3
    assert _relative_error(first, exact) > 2e-2


def test_second_order_search_runs(data):
    results, log = _search(DARTS(order=2, warmup_epochs=0), data, 1)
    assert results[0].ok
    assert int(log[0]["state"]["optimizer"]["state"][0]["step"]) == 4


def test_collapse_rule_keeps_parameter_free_operations_out(data):
    results, _ = _search(DARTS(warmup_epochs=0, max_parameter_free=0), data, 2)
    for r in results:
        ops = [op for cell in (r.architecture.normal, r.architecture.reduction) for b in cell for op in (b.op1, b.op2)]
        assert not set(ops) & set(PARAMETER_FREE_OPERATIONS)


def test_same_seed_same_trials(data):
    first, _ = _search(GDAS(), data, 2, seed=3)
    second, _ = _search(GDAS(), data, 2, seed=3)
    assert [(r.architecture, r.score, r.valid_loss) for r in first] == [
        (r.architecture, r.score, r.valid_loss) for r in second
    ]


# --------------------------------------------------------------------------- GDAS and PC-DARTS


def test_gdas_anneals_the_temperature_per_trial(data):
    results, log = _search(GDAS(tau_max=10.0, tau_min=0.1, anneal_epochs=3), data, 4)
    assert all(r.ok for r in results)
    assert [entry["supernet"].tau for entry in log] == pytest.approx([10.0, 5.05, 0.1, 0.1])
    assert log[0]["supernet"].relaxation == "gumbel"
    # No warm-up: the alphas step from the first trial on.
    assert not _equal(log[0]["alphas"], log[0]["proposal"].warm_start.initial.values())


def test_pcdarts_searches_on_partial_channels_with_edge_weights(data):
    results, log = _search(PCDARTS(partial_channels=2, warmup_epochs=0), data, 2)
    assert all(r.ok for r in results)
    supernet = log[-1]["supernet"]
    assert supernet.partial_channels == 2
    betas = supernet.arch_parameters()[2:]
    assert len(betas) == 2
    assert not _equal(log[1]["alphas"][2:], log[0]["alphas"][2:])  # the betas learn with the alphas
    with pytest.raises(ValueError, match="dividing the space's initial_channels=4"):
        PCDARTS(partial_channels=3).reset(SPACE)


# --------------------------------------------------------------------------- memory


def _estimate(space, partial_channels=None):
    return space.supernet(SHAPE, 10, partial_channels=partial_channels).estimate_memory(BATCH, "softmax")


def test_memory_fallback_to_partial_channels(data):
    full, halved = _estimate(SPACE), _estimate(SPACE, 2)
    assert halved < full
    with pytest.warns(UserWarning, match=r"searching with partial_channels=2 \(about"):
        results, log = _search(DARTS(memory_limit=(full + halved) / 2, warmup_epochs=0), data, 2)
    assert all(r.ok for r in results)
    assert log[-1]["supernet"].partial_channels == 2
    assert log[-1]["supernet"].space.n_cells == SPACE.n_cells


def test_memory_fallback_to_fewer_cells(data):
    space = SPACE.deeper(n_cells=3)
    shallow = SPACE  # two cells
    limit = _estimate(shallow, 4) + 1
    assert all(_estimate(space, k) > limit for k in (None, 2, 4))
    strategy = DARTS(memory_limit=limit, warmup_epochs=0)
    with pytest.warns(UserWarning, match="2 cells instead of 3 and partial_channels=4"):
        results, log = _search(strategy, data, 2, space=space)
    assert all(r.ok and space.contains(r.architecture) for r in results)
    assert log[-1]["supernet"].space.n_cells == 2
    # The trials searched a shallower network; the refit builds the user's space from scratch.
    assert strategy.final_warm_start(results[-1].architecture) is None


def test_no_supernet_fits_ends_the_search_with_a_clear_error(data):
    results, _ = _search(DARTS(memory_limit=1000), data, 3)
    assert len(results) == 1
    assert results[0].status == "failed"
    assert results[0].error.startswith("SupernetMemoryError: DARTS: no search network fits the memory limit")


# --------------------------------------------------------------------------- settings


def test_spaces_without_a_relaxed_supernet_are_refused():
    with pytest.raises(ValueError, match="has no supernet method"):  # OneShotStrategy.reset's error
        DARTS().reset(MLPSpace())
    with pytest.raises(ValueError, match="'gumbel' relaxation, which CNNSpace's does not offer"):
        GDAS().reset(CNNSpace())


@pytest.mark.parametrize(
    "strategy",
    [
        DARTS(order=3),
        DARTS(order=True),
        DARTS(epochs_per_trial=0),
        DARTS(warmup_epochs=-1),
        DARTS(warmup_epochs=None),
        DARTS(arch_lr=0),
        DARTS(arch_weight_decay=-1.0),
        DARTS(max_parameter_free=-1),
        DARTS(memory_limit=0),
        GDAS(tau_min=0.0),
        GDAS(tau_max=0.05),
        GDAS(anneal_epochs=0),
    ],
)
def test_bad_settings_fail_at_reset(strategy):
    with pytest.raises(ValueError):
        strategy.reset(SPACE)


def test_parameters_are_scikit_learn_parameters():
    strategy = clone(GDAS(anneal_epochs=5, order=2))
    assert strategy.get_params()["anneal_epochs"] == 5 and strategy.order == 2
    assert PCDARTS().get_params()["arch_lr"] == 6e-4
    strategy = DARTS().reset(SPACE, random_state=0)
    assert len(strategy.ask(4)) == 1  # one epoch per round
