"""The cell-based search space: cell specifics (the shared contracts run in test_spaces.py and test_strategies.py)."""
import itertools
import math
import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skautoml.nas import BayesianOptimization, RandomSearch, RegularizedEvolution, TrialResult
from skautoml.nas.space._cell import (
    CELL_OPERATIONS,
    Block,
    BlockModule,
    CellArchitecture,
    CellSpace,
    FactorizedReduce,
    PrunedCell,
    Zero,
)

CELL_SPACES = {
    "all-ops": CellSpace(n_blocks=2, n_cells=3, initial_channels=4),
    "concat-one-reduction": CellSpace(
        n_blocks=3,
        operations=("sepconv3x3", "identity", "zero", "maxpool"),
        combine=("concat",),
        n_cells=4,
        initial_channels=6,
        n_reductions=1,
    ),
    # 256 architectures: small enough that sampling reaches them all.
    "tiny": CellSpace(
        n_blocks=1, operations=("identity", "avgpool"), combine=("add",), n_cells=2, initial_channels=4, n_reductions=1
    ),
}


@pytest.fixture(params=list(CELL_SPACES.values()), ids=list(CELL_SPACES))
def space(request):
    return request.param


def _cell(*blocks):
    return tuple(Block(*b) for b in blocks)


def _param_count(module):
    return sum(p.numel() for p in module.parameters())


def _cell_output_shapes(net, x):
    shapes = {}
    hooks = [
        cell.register_forward_hook(lambda m, i, o, k=k: shapes.__setitem__(k, tuple(o.shape[1:])))
        for k, cell in enumerate(net.cells)
    ]
    net.eval()
    with torch.no_grad():
        net(x)
    for hook in hooks:
        hook.remove()
    return shapes


# Every block reads the previous cell, so every cell is live.
CHAIN = CellArchitecture(
    normal=_cell((1, 0, "sepconv3x3", "identity", "add"), (2, 1, "conv3x3", "maxpool", "concat")),
    reduction=_cell((1, 0, "avgpool", "conv5x5", "add"), (2, 1, "dilconv3x3", "identity", "concat")),
)


# --------------------------------------------------------------------------- layout and shapes


def test_layout_spreads_reductions_like_darts():
    assert CellSpace(n_cells=8).layout() == ("normal",) * 2 + ("reduction",) + ("normal",) * 2 + (
        "reduction",
    ) + ("normal",) * 2
    assert CellSpace(n_cells=5).layout() == ("normal", "reduction", "normal", "reduction", "normal")
    assert CellSpace(n_cells=3).layout() == ("normal", "reduction", "reduction")
    assert CellSpace(n_cells=2, n_reductions=0).layout() == ("normal", "normal")
    assert CellSpace(n_cells=20).layout().index("reduction") == 6


@pytest.mark.parametrize(
    "shape, reduced",
    [
        ((1, 8, 8), [(8, 8), (4, 4), (4, 4), (2, 2), (2, 2)]),
        ((3, 5, 7), [(5, 7), (3, 4), (3, 4), (2, 2), (2, 2)]),
        ((1, 28, 28), [(28, 28), (14, 14), (14, 14), (7, 7), (7, 7)]),
    ],
)
def test_reduction_cells_halve_the_resolution_and_double_the_channels(shape, reduced):
    space = CellSpace(n_blocks=2, n_cells=5, initial_channels=4)
    net = space.build(CHAIN, shape, 3)
    assert not any(isinstance(cell, PrunedCell) for cell in net.cells)
    shapes = _cell_output_shapes(net, torch.randn(2, *shape))
    assert [s[0] for _, s in sorted(shapes.items())] == [4, 8, 8, 16, 16]
    assert [s[1:] for _, s in sorted(shapes.items())] == reduced
    assert [cell.reduction for cell in net.cells] == [False, True, False, True, False]
    assert net.head.in_features == 16


@pytest.mark.parametrize("shape", [(1, 4, 4), (1, 1, 1), (2, 1, 6), (3, 10, 20), (3, 28, 28)])
def test_images_smaller_than_the_reductions_allow_still_work(shape):
    space = CellSpace(n_blocks=2, n_cells=4, initial_channels=4, n_reductions=3)
    torch.manual_seed(0)
    net = space.build(CHAIN, shape, 5)
    net.train()
    out = net(torch.randn(3, *shape))
    assert out.shape == (3, 5)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    final = _cell_output_shapes(net, torch.randn(1, *shape))[3]
    expected = tuple(math.ceil(side / 8) for side in shape[1:])
    assert final == (32, *expected)


@pytest.mark.parametrize("size", [(1, 1), (1, 6), (5, 7), (8, 8)])
def test_factorized_reduce_halves_odd_and_even_sizes_reading_offset_pixels(size):
    torch.manual_seed(0)
    module = FactorizedReduce(3, 6).eval()
    x = (torch.rand(2, 3, *size) + 0.1).requires_grad_()  # positive: the ReLU passes every gradient
    out = module(x)
    assert out.shape == (2, 6, *(math.ceil(s / 2) for s in size))
    out.sum().backward()
    touched = (x.grad.abs().sum(dim=(0, 1)) > 0).numpy()
    # The first convolution reads even rows and columns; the second the odd
    # ones (or row / column 0 along a side of length 1).
    height, width = size
    rows = np.arange(height)[:, None]
    cols = np.arange(width)[None, :]
    odd_rows = rows % 2 == 1 if height > 1 else rows == 0
    odd_cols = cols % 2 == 1 if width > 1 else cols == 0
    expected = ((rows % 2 == 0) & (cols % 2 == 0)) | (odd_rows & odd_cols)
    assert np.array_equal(touched, expected)
    # The calibration after a reduction uses it on the cell two back.
    net = CellSpace(n_blocks=2, n_cells=3, initial_channels=4).build(CHAIN, (1, 8, 8), 2)
    assert isinstance(net.cells[2].calibrate["0"], FactorizedReduce)


def test_build_rejects_tabular_shapes_unknown_architectures_and_bad_settings():
    space = CellSpace(n_blocks=2)
    with pytest.raises(ValueError, match=r"\(channels, height, width\).*\(64,\)"):
        space.build(CHAIN, (64,), 10)
    with pytest.raises(ValueError, match="not an architecture"):
        CellSpace(n_blocks=3).build(CHAIN, (1, 8, 8), 10)
    with pytest.raises(ValueError, match="n_cells >= n_reductions"):
        CellSpace(n_cells=2).sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="operations"):
        CellSpace(operations=("conv3x3", "conv7x7")).size()
    with pytest.raises(ValueError, match="combine"):
        CellSpace(combine=()).sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_blocks >= 1"):
        CellSpace(n_blocks=0).size()
    with pytest.raises(ValueError, match="stem_stride >= 1"):
        CellSpace(stem_stride=0).build(CHAIN, (1, 8, 8), 10)


@pytest.mark.parametrize("shape, first_cell", [((1, 28, 28), (8, 14, 14)), ((3, 15, 1), (8, 8, 1))])
def test_a_strided_stem_halves_the_resolution_before_the_first_cell(shape, first_cell):
    space = CellSpace(n_blocks=2, stem_stride=2)
    arch = space.sample(np.random.default_rng(0))
    net = space.build(arch, shape, 10)
    assert _cell_output_shapes(net, torch.randn(2, *shape))[0] == first_cell
    # deeper keeps the stem
    assert space.deeper(n_cells=8).stem_stride == 2


# --------------------------------------------------------------------------- operations and combinations


def test_zero_operations_output_zeros_of_the_right_shape():
    x = torch.randn(2, 4, 5, 7, requires_grad=True)
    assert torch.equal(Zero(1)(x), torch.zeros(2, 4, 5, 7))
    assert Zero(2)(x).shape == (2, 4, 3, 4)
    Zero(2)(x).sum().backward()
    assert x.grad is not None
    # A cell whose only loose end is zero + zero outputs zeros: logits are the head's bias.
    space = CellSpace(n_blocks=1, n_cells=1, n_reductions=0, initial_channels=4)
    zero = CellArchitecture(_cell((0, 1, "zero", "zero", "add")), _cell((0, 1, "conv3x3", "zero", "add")))
    net = space.build(zero, (1, 8, 8), 3).eval()
    with torch.no_grad():
        out = net(torch.randn(5, 1, 8, 8))
    assert torch.allclose(out, net.head.bias.expand(5, 3))
    # In a reduction cell zero has stride 2.
    reduced = CellSpace(n_blocks=1, n_cells=2, n_reductions=1, initial_channels=4)
    swapped = CellArchitecture(zero.reduction, zero.normal)
    shapes = _cell_output_shapes(reduced.build(swapped, (1, 8, 8), 3), torch.randn(2, 1, 8, 8))
    assert shapes[1] == (8, 4, 4)


def test_identity_passes_the_calibrated_input_and_reduces_in_reduction_cells():
    space = CellSpace(n_blocks=1, n_cells=2, n_reductions=1, initial_channels=4)
    arch = CellArchitecture(_cell((1, 1, "identity", "zero", "add")), _cell((1, 0, "identity", "zero", "add")))
    net = space.build(arch, (1, 8, 8), 3).eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        stem = net.stem(x)
        first = net.cells[0](stem, stem)
    # Same width and resolution: no calibration, the cell returns the stem's output.
    assert isinstance(net.cells[0].calibrate["1"], torch.nn.Identity)
    assert torch.equal(first, stem)
    assert isinstance(net.cells[1].blocks[0].op1, FactorizedReduce)
    assert _cell_output_shapes(net, x)[1] == (8, 4, 4)


def test_every_operation_keeps_the_width_and_halves_the_resolution_at_stride_2():
    x = torch.randn(2, 6, 5, 8)
    for op in CELL_OPERATIONS:
        normal = BlockModule(Block(0, 1, op, op, "add"), 6, reduction=False)
        reduction = BlockModule(Block(0, 1, op, op, "add"), 6, reduction=True)
        after_reduction = BlockModule(Block(2, 2, op, op, "add"), 6, reduction=True)
        states = [x, x, x]
        assert normal(states).shape == (2, 6, 5, 8), op
        assert reduction(states).shape == (2, 6, 3, 4), op
        assert after_reduction(states).shape == (2, 6, 5, 8), op  # block outputs are already reduced


def test_add_sums_the_branches_and_concat_projects_them_back_to_the_block_width():
    torch.manual_seed(0)
    x, y = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    add = BlockModule(Block(0, 1, "conv3x3", "avgpool", "add"), 4, reduction=False).eval()
    concat = BlockModule(Block(0, 1, "conv3x3", "avgpool", "concat"), 4, reduction=False).eval()
    with torch.no_grad():
        assert torch.allclose(add([x, y]), add.op1(x) + add.op2(y))
        assert concat([x, y]).shape == (2, 4, 6, 6)
    assert add.concat is None
    # The 1x1 projection from 2 * 4 to 4 channels and its batch norm.
    assert _param_count(concat) - _param_count(add) == 8 * 4 + 2 * 4


def test_cell_output_concatenates_the_loose_ends():
    space = CellSpace(n_blocks=3, n_cells=1, n_reductions=0, initial_channels=4)
    # Block 0 feeds block 2; blocks 1 and 2 are loose ends.
    two_loose = _cell(
        (0, 1, "conv3x3", "identity", "add"), (1, 1, "maxpool", "zero", "add"), (2, 0, "identity", "avgpool", "add")
    )
    chain = _cell(
        (0, 1, "conv3x3", "identity", "add"), (2, 1, "maxpool", "zero", "add"), (3, 2, "identity", "avgpool", "add")
    )
    loose_net = space.build(CellArchitecture(two_loose, chain), (1, 6, 6), 2)
    chain_net = space.build(CellArchitecture(chain, chain), (1, 6, 6), 2)
    assert loose_net.cells[0].loose_ends == [1, 2]
    assert loose_net.cells[0].output[1].in_channels == 8
    assert chain_net.cells[0].loose_ends == [2] and chain_net.cells[0].output is None


def test_cells_and_inputs_that_never_reach_the_head_are_pruned():
    space = CellSpace(n_blocks=2, n_cells=3, n_reductions=0, initial_channels=4)
    # Only the cell two back is read: cell 2 reads cell 0, which reads the stem; cell 1 is dead.
    skip_one = _cell((0, 0, "conv3x3", "identity", "add"), (2, 0, "sepconv3x3", "zero", "concat"))
    net = space.build(CellArchitecture(skip_one, skip_one), (1, 8, 8), 3)
    assert net.live == [True, False, True]
    assert isinstance(net.cells[1], PrunedCell)
    assert set(net.cells[0].calibrate) == {"0"}
    net.train()
    net(torch.randn(4, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())


# --------------------------------------------------------------------------- stacking deeper


def test_the_same_genotype_stacks_deeper_and_wider_and_trains():
    shallow = CellSpace(n_blocks=2, n_cells=3, initial_channels=4)
    arch = shallow.sample(np.random.default_rng(3))
    deep = shallow.deeper(n_cells=8, initial_channels=8)
    assert shallow.n_cells == 3 and shallow.initial_channels == 4  # unchanged
    assert deep.n_cells == 8 and deep.initial_channels == 8 and deep.n_blocks == 2
    assert deep.contains(arch) and deep.layout().count("reduction") == 2
    assert shallow.deeper() == shallow
    assert shallow.deeper(n_cells=6).initial_channels == 4
    torch.manual_seed(0)
    small, big = shallow.build(arch, (1, 8, 8), 10), deep.build(arch, (1, 8, 8), 10)
    assert len(big.cells) == 8 and _param_count(big) > 2 * _param_count(small)
    # A few steps on a fixed batch lower the loss of the deep network.
    x, y = torch.randn(16, 1, 8, 8), torch.arange(16) % 10
    optimizer = torch.optim.Adam(big.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(big(x), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    with pytest.raises(ValueError, match="n_cells >= n_reductions"):
        shallow.deeper(n_cells=2)


# --------------------------------------------------------------------------- sample, mutate, encode, size, contains


def _decisions(arch):
    return [
        (name, i, field, getattr(block, field))
        for name in ("normal", "reduction")
        for i, block in enumerate(getattr(arch, name))
        for field in ("input1", "input2", "op1", "op2", "combine")
    ]


def test_mutation_changes_exactly_one_decision_over_a_long_walk():
    space = CellSpace()
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    changed = set()
    for _ in range(1000):
        child = space.mutate(arch, rng)
        assert space.contains(child)
        diff = [(a, b) for a, b in zip(_decisions(arch), _decisions(child)) if a != b]
        assert len(diff) == 1, diff
        changed.add(diff[0][0][0::2])  # (cell, field)
        arch = child
    assert changed == {(c, f) for c in ("normal", "reduction") for f in ("input1", "input2", "op1", "op2", "combine")}


def test_samples_use_inputs_from_earlier_blocks_only_and_reach_every_option():
    space = CellSpace(n_blocks=4)
    rng = np.random.default_rng(0)
    seen_inputs, seen_ops, seen_combine = set(), set(), set()
    for _ in range(300):
        arch = space.sample(rng)
        for blocks in (arch.normal, arch.reduction):
            for i, block in enumerate(blocks):
                assert 0 <= block.input1 < 2 + i and 0 <= block.input2 < 2 + i
                seen_inputs.add((i, block.input1))
                seen_ops |= {block.op1, block.op2}
                seen_combine.add(block.combine)
    assert seen_inputs == {(i, j) for i in range(4) for j in range(2 + i)}
    assert seen_ops == set(CELL_OPERATIONS) and seen_combine == {"add", "concat"}


def test_size_matches_the_enumeration_of_a_tiny_space():
    space = CellSpace(n_blocks=2, operations=("zero", "maxpool"), combine=("add", "concat"), n_cells=3)
    candidates = [
        Block(i1, i2, op1, op2, c)
        for i1, i2 in itertools.product(range(4), repeat=2)
        for op1, op2 in itertools.product(("zero", "maxpool", "conv3x3"), repeat=2)
        for c in ("add", "concat")
    ]
    cells = [cell for cell in itertools.product(candidates, repeat=2) if space._contains_cell(cell)]
    # Block 0: 2 * 2 inputs, block 1: 3 * 3, each with 2 * 2 operations and 2 combinations.
    assert len(cells) == (4 * 4 * 2) * (9 * 4 * 2)
    assert space.size() == len(cells) ** 2
    assert type(space.size()) is int
    tiny = CELL_SPACES["tiny"]
    rng = np.random.default_rng(0)
    reached = {tiny.sample(rng) for _ in range(4000)}
    assert tiny.size() == len(reached) == (2 * 2 * 2 * 2) ** 2
    assert {tiny.mutate(a, rng) for a in reached} <= reached
    assert CellSpace().size() == ((2 * 2 * 3 * 3 * 4 * 4 * 5 * 5) * 100**4 * 2**4) ** 2


def test_encode_is_one_hot_per_decision_with_a_fixed_length():
    space = CellSpace(n_blocks=3)
    per_cell = sum(2 * (2 + i) + 2 * len(CELL_OPERATIONS) + 2 for i in range(3))
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(200)]
    vectors = np.array([space.encode(a) for a in archs])
    assert vectors.shape == (200, 2 * per_cell)
    assert set(np.unique(vectors)) == {0.0, 1.0}
    assert np.all(vectors.sum(axis=1) == 2 * 3 * 5)  # one 1 per decision
    assert len({v.tobytes() for v in vectors}) == len(set(archs))
    mutant = space.mutate(archs[0], rng)
    assert np.abs(space.encode(mutant) - vectors[0]).sum() == 2  # one decision moved


def test_contains_is_strict():
    space = CellSpace(n_blocks=2, operations=("conv3x3", "zero"), combine=("add",))
    good = CellArchitecture(
        _cell((0, 1, "conv3x3", "zero", "add"), (2, 0, "zero", "zero", "add")),
        _cell((1, 1, "zero", "zero", "add"), (1, 2, "conv3x3", "conv3x3", "add")),
    )
    assert space.contains(good)
    bad_blocks = [
        (2, 0, "zero", "zero", "add"),  # block 0 reads block 0
        (0, -1, "zero", "zero", "add"),
        (0, 1, "maxpool", "zero", "add"),  # operation not in the space
        (0, 1, "zero", "zero", "concat"),  # combination not in the space
        (np.int64(0), 1, "zero", "zero", "add"),
        (True, 1, "zero", "zero", "add"),
        (0.0, 1, "zero", "zero", "add"),
    ]
    for values in bad_blocks:
        block = Block(*values)
        assert not space.contains(CellArchitecture((block, good.normal[1]), good.reduction)), values
    assert not space.contains(CellArchitecture(good.normal, (good.reduction[0], Block(0, 3, "zero", "zero", "add"))))
    assert not space.contains(CellArchitecture(good.normal[:1], good.reduction))  # too few blocks
    assert not space.contains(CellArchitecture(good.normal * 2, good.reduction))  # too many
    assert not space.contains(CellArchitecture(list(good.normal), good.reduction))  # not a tuple
    assert not space.contains(CellArchitecture(good.normal, (good.reduction[0], (1, 2, "zero", "zero", "add"))))
    assert not space.contains((good.normal, good.reduction))


def test_architectures_and_built_networks_pickle():
    space = CellSpace(n_blocks=2, n_cells=3, initial_channels=4)
    arch = space.sample(np.random.default_rng(0))
    assert pickle.loads(pickle.dumps(arch)) == arch
    assert str(arch).startswith("normal[b0=") and "reduction[" in str(arch)
    net = space.build(arch, (1, 8, 8), 3).eval()
    copy = pickle.loads(pickle.dumps(net)).eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(net(x), copy(x))
    assert pickle.loads(pickle.dumps(space)) == space


# --------------------------------------------------------------------------- strategies and the estimator


@pytest.mark.parametrize(
    "strategy",
    [
        RandomSearch(),
        RegularizedEvolution(population_size=4, sample_size=2),
        BayesianOptimization(n_initial=3, n_candidates=30),
    ],
    ids=["random", "evolution", "bayesian"],
)
def test_strategies_search_the_cell_space(strategy):
    space = CellSpace(n_blocks=3)
    target = space.encode(space.sample(np.random.default_rng(99)))

    def objective(arch):
        return -float(np.abs(space.encode(arch) - target).sum())

    strategy.reset(space, random_state=0)
    proposals = []
    for round_ in range(6):
        batch = strategy.ask(2) if round_ % 2 else [strategy.ask()]
        for arch in batch:
            assert space.contains(arch)
            strategy.tell(arch, TrialResult(arch, score=objective(arch), status="ok"))
            proposals.append(arch)
    assert len(proposals) == len(strategy.history) == 9
    assert len(set(proposals)) > 1
    # The strategy holds the distance scores told, which rank its proposals (none is the target).
    scores = [objective(arch) for arch in proposals]
    assert strategy.history == list(zip(proposals, scores))
    assert max(scores) < 0 and len(set(scores)) > 1


def test_auto_nas_classifier_searches_cells_on_digits():
    from skautoml import AutoNASClassifier

    digits = load_digits()
    X, y = digits.images[:200], digits.target[:200]
    space = CellSpace(n_blocks=2, n_cells=3, initial_channels=4)
    model = AutoNASClassifier(search_space=space, max_trials=2, max_epochs=2, random_state=0)
    model.fit(X, y)
    assert space.contains(model.best_architecture_)
    assert model.search_results_["status"].tolist() == ["ok", "ok"]
    assert model.predict(X[:10]).shape == (10,)
    assert 0.0 <= model.score(X, y) <= 1.0
    assert model.best_params_["normal"][0].keys() == {"input1", "input2", "op1", "op2", "combine"}
    # The found cells build a deeper network for the final model.
    final = space.deeper(n_cells=5, initial_channels=8).build(model.best_architecture_, (1, 8, 8), 10)
    assert final(torch.as_tensor(X[:2, None], dtype=torch.float32)).shape == (2, 10)
