"""The cell-space supernet: paths equal their subnets, weights held once, DARTS/GDAS/PC-DARTS relaxations, derive."""
import numpy as np
import pytest
import torch
from torch.nn import functional as F

from skautoml.nas import Block, CellArchitecture, CellSpace, CNNSpace
from skautoml.nas.oneshot import PARAMETER_FREE_OPERATIONS, CellSupernet
from skautoml.nas.oneshot._cell import _narrow
from skautoml.nas.space._cell import FactorizedReduce, cell_operation

# Tiny spaces: every block count from 1 to 3, both combines, 'zero' and 'identity', 0 to 2 reductions.
SPACES = {
    "one-block-all-ops": (CellSpace(n_blocks=1, n_cells=2, initial_channels=4, n_reductions=1), (3, 8, 8)),
    "two-blocks-concat-no-reduction": (
        CellSpace(
            n_blocks=2,
            operations=("conv3x3", "identity", "zero", "maxpool"),
            combine=("concat",),
            n_cells=2,
            initial_channels=4,
            n_reductions=0,
        ),
        (2, 8, 8),
    ),
    "three-blocks-odd-image": (
        CellSpace(
            n_blocks=3,
            operations=("sepconv3x3", "dilconv5x5", "identity", "zero", "avgpool"),
            n_cells=3,
            initial_channels=4,
        ),
        (1, 7, 7),
    ),
    "strided-stem-odd-image": (
        CellSpace(n_blocks=2, n_cells=3, initial_channels=4, stem_stride=2), (3, 15, 16)
    ),
    "strided-stem-side-of-one": (
        CellSpace(n_blocks=1, n_cells=2, initial_channels=4, n_reductions=1, stem_stride=2), (2, 1, 12)
    ),
}


@pytest.fixture(params=list(SPACES), ids=list(SPACES))
def setting(request):
    return SPACES[request.param]


def _randomise(module, seed=0):
    """Weights and batch-norm statistics away from their initial values, so that a wrong copy shows."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(0.5 * torch.randn(p.shape, generator=generator) + (p.dim() == 1 and name.endswith("weight")))
        for name, buffer in module.named_buffers():
            if name.endswith("running_var"):
                buffer.copy_(torch.rand(buffer.shape, generator=generator) + 0.5)
            elif name.endswith("running_mean"):
                buffer.copy_(0.1 * torch.randn(buffer.shape, generator=generator))
    return module


def _count(module):
    return sum(p.numel() for p in module.parameters())


def _loss(out):
    # Not out.sum(): through a final batch norm its gradient is zero.
    return F.cross_entropy(out, torch.arange(len(out)) % out.shape[1])


def _cell(*blocks):
    return tuple(Block(*b) for b in blocks)


# --------------------------------------------------------------------------- paths


def test_every_path_equals_its_subnet_in_eval_mode(setting):
    space, shape = setting
    torch.manual_seed(0)
    supernet = _randomise(CellSupernet(space, shape, n_outputs=3))
    x = torch.randn(4, *shape)
    rng = np.random.default_rng(0)
    for _ in range(12):
        arch = space.sample(rng)
        supernet.set_path(arch).eval()
        subnet = supernet.subnet(arch)
        assert not subnet.training
        with torch.no_grad():
            torch.testing.assert_close(supernet(x), subnet(x))


def test_a_path_equals_its_subnet_in_train_mode_and_updates_the_same_statistics(setting):
    space, shape = setting
    torch.manual_seed(1)
    supernet = _randomise(CellSupernet(space, shape, n_outputs=3), seed=1)
    x = torch.randn(4, *shape)
    for arch in (space.sample(np.random.default_rng(seed)) for seed in range(4)):
        supernet.set_path(arch).train()
        subnet = supernet.subnet(arch)
        assert subnet.training
        torch.manual_seed(2)
        out = supernet(x)
        torch.manual_seed(2)
        torch.testing.assert_close(out, subnet(x))
        # Both updated their running statistics alike: eval still agrees.
        supernet.eval(), subnet.eval()
        with torch.no_grad():
            torch.testing.assert_close(supernet(x), subnet(x))


def test_sampled_paths_change_while_training_and_eval_uses_the_last():
    space, shape = SPACES["three-blocks-odd-image"]
    supernet = CellSupernet(space, shape, n_outputs=3).sample_paths(np.random.default_rng(0))
    x = torch.randn(2, *shape)
    paths = set()
    for _ in range(3):
        supernet(x)
        paths.add(supernet.path)  # the path that forward drew
    assert len(paths) == 3
    last = supernet.path
    supernet.eval()
    with torch.no_grad():
        torch.testing.assert_close(supernet(x), supernet.subnet(last)(x))
    assert supernet.path == last


def test_a_path_skips_what_the_built_network_prunes():
    space = CellSpace(n_blocks=1, operations=("conv3x3", "identity"), n_cells=3, initial_channels=4, n_reductions=0)
    # Every block reads only c[k-2]: cell 2 reads cell 0, so cell 1 is pruned, and no input 1 is calibrated.
    cell = _cell((0, 0, "conv3x3", "identity", "add"))
    arch = CellArchitecture(normal=cell, reduction=cell)
    supernet = CellSupernet(space, (1, 6, 6), n_outputs=2).set_path(arch)
    assert supernet.subnet(arch).live == [True, False, True]
    ran = []
    for k, module in enumerate(supernet.cells):
        for name, sub in module.named_modules():
            sub.register_forward_hook(lambda m, i, o, where=(k, name): ran.append(where))
    supernet(torch.randn(2, 1, 6, 6))
    assert {k for k, _ in ran} == {0, 2}
    assert not any(name.startswith("calibrate.1") for _, name in ran)


def test_identical_branches_use_one_module_and_match_the_subnet():
    space, shape = SPACES["one-block-all-ops"]
    cell = _cell((1, 1, "sepconv5x5", "sepconv5x5", "concat"))
    arch = CellArchitecture(normal=cell, reduction=cell)
    supernet = _randomise(CellSupernet(space, shape, n_outputs=3)).set_path(arch)
    subnet = supernet.subnet(arch)
    x = torch.randn(3, *shape)
    torch.testing.assert_close(supernet(x), subnet(x))
    supernet.eval(), subnet.eval()
    with torch.no_grad():
        torch.testing.assert_close(supernet(x), subnet(x))


def test_a_path_projects_its_loose_ends_with_their_columns_of_the_shared_projection():
    space, shape = SPACES["three-blocks-odd-image"]
    # Blocks 0 and 2 are loose ends (block 2 reads only block 1).
    cell = _cell(
        (0, 1, "identity", "zero", "add"), (1, 0, "avgpool", "identity", "add"), (3, 3, "zero", "avgpool", "add")
    )
    arch = CellArchitecture(normal=cell, reduction=cell)
    supernet = _randomise(CellSupernet(space, shape, n_outputs=3))
    subnet = supernet.subnet(arch)
    for built, held in zip(subnet.cells, supernet.cells):
        c = held.channels
        assert built.loose_ends == [0, 2]
        columns = torch.cat([held.output[1].weight[:, :c], held.output[1].weight[:, 2 * c :]], dim=1)
        assert torch.equal(built.output[1].weight, columns)
    supernet.set_path(arch).eval()
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(supernet(x), subnet.eval()(x))


def test_the_subnet_holds_copies():
    space, shape = SPACES["two-blocks-concat-no-reduction"]
    supernet = CellSupernet(space, shape, n_outputs=3)
    arch = space.sample(np.random.default_rng(3))
    subnet = supernet.subnet(arch)
    before = [p.clone() for p in supernet.parameters()]
    with torch.no_grad():
        for p in subnet.parameters():
            p.add_(1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, supernet.parameters()))


# --------------------------------------------------------------------------- weights held once


def test_parameters_are_held_once_per_edge_and_operation():
    def expected(space, shape):
        """Stem, head, alphas, and per cell: calibrations, every operation on every edge, concat, projection."""
        supernet = CellSupernet(space, shape, n_outputs=3)
        total = _count(supernet.stem) + _count(supernet.head) + sum(a.numel() for a in supernet.arch_parameters())
        for cell in supernet.cells:
            total += sum(_count(c) for c in cell.calibrate)
            c = cell.channels
            for i in range(space.n_blocks):
                for j in range(2 + i):
                    stride = 2 if cell.reduction and j < 2 else 1
                    total += sum(_count(cell_operation(op, c, stride)) for op in space.operations)
                total += 2 * c * c + 2 * c  # the block's 'concat' 1x1 convolution and batch norm
            if space.n_blocks > 1:
                total += space.n_blocks * c * c + 2 * c  # the projection of every block
        return supernet, total

    counts = []
    for n_blocks in (1, 2, 3):
        space = CellSpace(n_blocks=n_blocks, n_cells=3, initial_channels=4)
        supernet, total = expected(space, (1, 8, 8))
        assert _count(supernet) == total
        n_ops = sum(len(edge.ops) for cell in supernet.cells for block in cell.blocks for edge in block.edges)
        assert n_ops == 3 * (n_blocks * (n_blocks + 3) // 2) * len(space.operations)
        counts.append(_count(supernet))
        # Every subnet is a part of it.
        arch = space.sample(np.random.default_rng(n_blocks))
        assert _count(supernet.subnet(arch)) < _count(supernet)
    # A block adds edges: far less than the architectures it multiplies.
    sizes = [CellSpace(n_blocks=n).size() for n in (1, 2, 3)]
    assert counts[2] / counts[0] < 6 and sizes[2] / sizes[0] > 1e6


def test_arch_and_weight_parameters_partition_the_parameters():
    space, shape = SPACES["three-blocks-odd-image"]
    supernet = CellSupernet(space, shape, n_outputs=3, partial_channels=2)
    arch, weights = supernet.arch_parameters(), supernet.weight_parameters()
    assert [tuple(a.shape) for a in arch] == [(9, 5), (9, 5), (9,), (9,)]
    assert all(isinstance(a, torch.nn.Parameter) for a in arch)
    assert {id(p) for p in arch}.isdisjoint(id(p) for p in weights)
    assert len(arch) + len(weights) == len(list(supernet.parameters()))


# --------------------------------------------------------------------------- relaxations


@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
def test_relaxed_backward_reaches_the_alphas_and_the_weights(mode):
    space, shape = SPACES["three-blocks-odd-image"]
    torch.manual_seed(0)
    supernet = CellSupernet(space, shape, n_outputs=3).relax(mode)
    _loss(supernet(torch.randn(4, *shape))).backward()
    for alpha in supernet.arch_parameters():
        assert alpha.grad is not None and (alpha.grad != 0).all()
    assert supernet.stem[0].weight.grad.abs().sum() > 0
    if mode == "softmax":
        # Every operation with weights on every edge is trained (the concat convolutions are not: blocks sum).
        for name, p in supernet.named_parameters():
            if ".ops." in name:
                assert p.grad is not None, name


def test_darts_edge_is_the_softmax_mixture_and_a_block_sums_every_earlier_state():
    space, shape = SPACES["two-blocks-concat-no-reduction"]
    supernet = _randomise(CellSupernet(space, shape, n_outputs=3)).relax("softmax").eval()
    cell = supernet.cells[0]
    states = [torch.randn(2, 4, 8, 8) for _ in range(3)]
    block = cell.blocks[1]
    weights = F.softmax(supernet.alpha_normal, dim=-1)[2:5]
    with torch.no_grad():
        # DARTS normalises the pooling outputs in the mixture.
        expected = sum(
            w * (edge.pool_norms[name](op(state)) if name in edge.pool_norms else op(state))
            for row, edge, state in zip(weights, block.edges, states)
            for w, (name, op) in zip(row, edge.ops.items())
        )
        torch.testing.assert_close(block(states, weights, None, None, None), expected)


def test_gdas_runs_one_operation_per_edge_with_a_hard_forward():
    space, shape = SPACES["three-blocks-odd-image"]
    torch.manual_seed(0)
    supernet = CellSupernet(space, shape, n_outputs=3).relax("gumbel")
    supernet.tau = 0.5
    calls = {}
    for k, cell in enumerate(supernet.cells):
        for i, block in enumerate(cell.blocks):
            for j, edge in enumerate(block.edges):
                for module in edge.ops.values():
                    module.register_forward_hook(
                        lambda m, a, o, where=(k, i, j): calls.__setitem__(where, calls.get(where, 0) + 1)
                    )
    _loss(supernet(torch.randn(2, *shape))).backward()
    n_edges = sum(len(block.edges) for cell in supernet.cells for block in cell.blocks)
    assert len(calls) == n_edges and set(calls.values()) == {1}
    weights, indices = supernet._operation_weights(supernet.alpha_normal)
    assert len(indices) == 9
    torch.testing.assert_close(weights.detach(), F.one_hot(torch.tensor(indices), 5).float())
    assert (supernet.alpha_normal.grad != 0).all()  # straight through: every alpha learns
    # The samples come from torch's generator: a seed repeats them.
    x = torch.randn(2, *shape)
    outputs = []
    for _ in range(2):
        torch.manual_seed(5)
        outputs.append(supernet(x))
    torch.testing.assert_close(*outputs)


def test_gdas_temperature_must_be_positive():
    space, shape = SPACES["one-block-all-ops"]
    supernet = CellSupernet(space, shape, n_outputs=2, tau=0.0).relax("gumbel")
    with pytest.raises(ValueError, match="tau must be positive"):
        supernet(torch.randn(2, *shape))


@pytest.mark.parametrize("mode", ["softmax", "gumbel"])
@pytest.mark.parametrize("k", [2, 4])
def test_partial_channels_forward_shape_and_gradients(mode, k):
    space, shape = SPACES["three-blocks-odd-image"]
    torch.manual_seed(0)
    supernet = CellSupernet(space, shape, n_outputs=3, partial_channels=k).relax(mode)
    out = supernet(torch.randn(3, *shape))
    assert out.shape == (3, 3)
    _loss(out).backward()
    for p in supernet.arch_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0
    # Only the first 1/k of an operation's channels are trained.
    conv = supernet.cells[0].blocks[0].edges[0].ops["sepconv3x3"][2]  # the pointwise convolution
    if mode == "softmax":
        width = 4 // k
        assert conv.weight.grad[:width, :width].abs().sum() > 0
        assert (conv.weight.grad[width:] == 0).all() and (conv.weight.grad[:, width:] == 0).all()


def test_partial_channels_equal_a_narrow_operation_with_the_sliced_weights():
    x = torch.randn(3, 6, 7, 7)
    for op in CellSpace().operations:
        for stride in (1, 2):
            full = _randomise(cell_operation(op, 6, stride)).train()
            narrow = cell_operation(op, 3, stride).train()
            state = full.state_dict()
            small = {}
            for key, value in narrow.state_dict().items():
                if isinstance(full, FactorizedReduce) and key.startswith("bn."):
                    index = [0, 3, 4] if value.dim() else ()  # 1 of `first`, 2 of `second` (which starts at 3)
                    small[key] = state[key][index]
                else:
                    small[key] = state[key][tuple(slice(0, n) for n in value.shape)]
            narrow.load_state_dict(small)
            torch.testing.assert_close(_narrow(full, x[:, :3], 3), narrow(x[:, :3]), msg=f"{op} at stride {stride}")
            # And the running statistics of those channels were updated as the narrow module's were.
            for key, value in narrow.state_dict().items():
                if key.endswith("running_mean") and not isinstance(full, FactorizedReduce):
                    torch.testing.assert_close(full.state_dict()[key][: len(value)], value)


def test_partial_channels_must_divide_the_channels():
    space, shape = SPACES["one-block-all-ops"]
    for k in (3, 0, 2.0, True):
        with pytest.raises(ValueError, match="partial_channels"):
            CellSupernet(space, shape, n_outputs=2, partial_channels=k)


# --------------------------------------------------------------------------- derive and the collapse rule

DERIVE_SPACE = CellSpace(
    n_blocks=3,
    operations=("conv3x3", "sepconv3x3", "maxpool", "identity", "zero"),
    combine=("concat", "add"),
    n_cells=3,
    initial_channels=4,
)
OPS = {op: o for o, op in enumerate(DERIVE_SPACE.operations)}


def _alphas(favourites):
    """An alpha table: ``favourites[row] = {op: logit}``, every other logit 0."""
    table = torch.zeros(9, len(OPS))
    for row, logits in favourites.items():
        for op, value in logits.items():
            table[row, OPS[op]] = value
    return table


def test_derive_takes_the_two_strongest_edges_and_their_strongest_operation_but_zero():
    supernet = CellSupernet(DERIVE_SPACE, (1, 8, 8), n_outputs=2)
    normal = _alphas(
        {
            # block 0: rows 0, 1; 'zero' is ignored however strong
            0: {"zero": 9.0, "conv3x3": 2.0},
            1: {"sepconv3x3": 3.0},
            # block 1: rows 2..4; edges 2 (b0) then 0
            2: {"maxpool": 2.0},
            4: {"identity": 4.0},
            # block 2: rows 5..8; edges 3 (b1) then 1
            6: {"conv3x3": 3.0},
            8: {"sepconv3x3": 5.0},
        }
    )
    with torch.no_grad():
        supernet.alpha_normal.copy_(normal)
        supernet.alpha_reduction.zero_()
    arch = supernet.derive()
    # The relaxation sums a block's inputs, so the derived combine is 'add' though 'concat' comes first.
    assert arch.normal == _cell(
        (1, 0, "sepconv3x3", "conv3x3", "add"),
        (2, 0, "identity", "maxpool", "add"),
        (3, 1, "sepconv3x3", "conv3x3", "add"),
    )
    # Equal alphas: the first edges and the first operation, deterministically.
    assert arch.reduction == _cell(*[(0, 1, "conv3x3", "conv3x3", "add")] * 3)
    assert DERIVE_SPACE.contains(arch)
    # With only 'concat' in the space, its one option.
    concat_space = CellSpace(**{**vars(DERIVE_SPACE), "combine": ("concat",)})
    assert {b.combine for b in CellSupernet(concat_space, (1, 8, 8), n_outputs=2).derive().normal} == {"concat"}


def test_derive_weights_edges_by_the_betas_with_partial_channels():
    supernet = CellSupernet(DERIVE_SPACE, (1, 8, 8), n_outputs=2, partial_channels=2)
    with torch.no_grad():
        supernet.alpha_normal.copy_(_alphas({0: {"conv3x3": 1.0}, 1: {"sepconv3x3": 2.0}}))
        supernet.beta_normal.zero_()
        block = supernet.derive().normal[0]
        assert (block.input1, block.input2) == (1, 0)
        supernet.beta_normal[0] = 5.0  # edge normalisation makes edge 0 the strongest
        block = supernet.derive().normal[0]
        assert (block.input1, block.input2) == (0, 1)


def test_the_collapse_rule_replaces_the_weakest_parameter_free_operations():
    supernet = CellSupernet(DERIVE_SPACE, (1, 8, 8), n_outputs=2)
    # Every edge favours a parameter-free operation (DARTS's collapse), with distinct strengths;
    # the second favourite of each edge has parameters.
    favourites = {
        0: {"identity": 6.0, "conv3x3": 1.0},
        1: {"maxpool": 5.0, "sepconv3x3": 1.0},
        2: {"identity": 3.0, "sepconv3x3": 1.0},
        4: {"maxpool": 4.0, "conv3x3": 1.0},
        5: {"identity": 2.0, "conv3x3": 1.0},
        8: {"maxpool": 7.0, "sepconv3x3": 1.0},
    }
    with torch.no_grad():
        supernet.alpha_normal.copy_(_alphas(favourites))
        supernet.alpha_reduction.copy_(_alphas(favourites))
    collapsed = supernet.derive()
    assert all(op in PARAMETER_FREE_OPERATIONS for b in collapsed.normal for op in (b.op1, b.op2))
    assert collapsed.normal == supernet.derive(max_parameter_free=6).normal

    limited = supernet.derive(max_parameter_free=2)
    for blocks in (limited.normal, limited.reduction):
        # The same edges; only the two strongest parameter-free operations stay (rows 8 and 0).
        assert [(b.input1, b.input2) for b in blocks] == [(b.input1, b.input2) for b in collapsed.normal]
        assert blocks == _cell(
            (0, 1, "identity", "sepconv3x3", "add"),
            (2, 0, "conv3x3", "sepconv3x3", "add"),
            (3, 0, "maxpool", "conv3x3", "add"),
        )
    none = supernet.derive(max_parameter_free=0)
    assert not any(op in PARAMETER_FREE_OPERATIONS for b in none.normal for op in (b.op1, b.op2))
    assert DERIVE_SPACE.contains(limited) and DERIVE_SPACE.contains(none)


def test_the_collapse_rule_needs_an_operation_with_parameters():
    space = CellSpace(n_blocks=1, operations=("identity", "maxpool"), n_cells=2, initial_channels=4, n_reductions=1)
    supernet = CellSupernet(space, (1, 8, 8), n_outputs=2)
    assert space.contains(supernet.derive(max_parameter_free=2))
    with pytest.raises(ValueError, match="none with parameters"):
        supernet.derive(max_parameter_free=1)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="max_parameter_free"):
            supernet.derive(max_parameter_free=bad)


# --------------------------------------------------------------------------- memory


def _measured_bytes(supernet, batch_size):
    """Parameters and gradients, plus the storage of every tensor autograd saves for the backward."""
    saved = {}

    def pack(tensor):
        saved[tensor.untyped_storage().data_ptr()] = tensor.untyped_storage().nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        supernet(torch.randn(batch_size, *supernet.input_shape))
    return 2 * 4 * _count(supernet) + sum(saved.values())


def test_the_memory_estimate_grows_with_the_operations_and_shrinks_with_partial_channels():
    few = CellSpace(n_blocks=2, operations=("conv3x3", "identity"), n_cells=3, initial_channels=8)
    many = CellSpace(
        n_blocks=2, operations=("conv3x3", "identity", "sepconv5x5", "maxpool"), n_cells=3, initial_channels=8
    )
    shape = (3, 8, 8)

    def estimate(space, **kwargs):
        return CellSupernet(space, shape, n_outputs=2, **kwargs).estimate_memory(16)

    assert estimate(many) > estimate(few)
    assert estimate(many, partial_channels=4) < estimate(many, partial_channels=2) < estimate(many)
    supernet = CellSupernet(many, shape, n_outputs=2)
    assert supernet.estimate_memory(16, mode="gumbel") < supernet.estimate_memory(16)
    # Affine in the batch size, starting from the parameters and their gradients.
    b1, b2, b3 = (supernet.estimate_memory(n) for n in (1, 2, 3))
    assert b3 - b2 == b2 - b1 > 0 and b1 - (b2 - b1) == 2 * 4 * _count(supernet)
    # Near what autograd really keeps.
    for mode in ("softmax", "gumbel"):
        for k in (None, 2):
            supernet = CellSupernet(many, shape, n_outputs=2, partial_channels=k).relax(mode)
            ratio = supernet.estimate_memory(8) / _measured_bytes(supernet, 8)
            assert 0.75 < ratio < 2.0, (mode, k, ratio)


# --------------------------------------------------------------------------- bad input


def test_bad_input_is_refused_clearly():
    space, shape = SPACES["one-block-all-ops"]
    supernet = CellSupernet(space, shape, n_outputs=2)
    with pytest.raises(RuntimeError, match="set_path"):
        supernet(torch.randn(2, *shape))
    other = CellSpace(n_blocks=2).sample(np.random.default_rng(0))  # two blocks: not of this space
    with pytest.raises(ValueError, match="not an architecture"):
        supernet.set_path(other)
    with pytest.raises(ValueError, match="not an architecture"):
        supernet.subnet(other)
    with pytest.raises(ValueError, match="unknown relaxation 'darts'"):
        supernet.relax("darts")
    with pytest.raises(ValueError, match="unknown relaxation"):
        supernet.estimate_memory(4, mode="enas")
    with pytest.raises(ValueError, match="batch_size"):
        supernet.estimate_memory(0)
    with pytest.raises(TypeError, match="needs a CellSpace"):
        CellSupernet(CNNSpace(), shape, n_outputs=2)
    with pytest.raises(ValueError, match="input_shape"):
        CellSupernet(space, (8, 8), n_outputs=2)
    with pytest.raises(ValueError, match="n_blocks"):
        CellSupernet(CellSpace(n_blocks=0), shape, n_outputs=2)
    # relax drops the path; set_path takes precedence over a relaxation.
    arch = space.sample(np.random.default_rng(1))
    supernet.relax("softmax").set_path(arch)
    assert supernet.relaxation == "softmax" and supernet.current_path() == arch
    assert supernet.relax("gumbel").path is None
