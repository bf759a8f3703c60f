"""Hierarchical spaces: their own behaviour (the shared contracts run in test_spaces.py and test_strategies.py).

FactorizedSpace (MnasNet-like per-stage choices) and HierarchicalSpace (Liu et
al. 2018 motifs of motifs).
"""
import itertools
import math

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits


from skautoml import AutoNASClassifier
from skautoml.nas.space._factorized import (
    FactorizedArchitecture,
    FactorizedSpace,
    SqueezeExcite,
    StageBlock,
    StageChoice,
)
from skautoml.nas.space._hierarchical import (
    HierarchicalArchitecture,
    HierarchicalSpace,
    Motif,
    _count_valid_motifs,
)

TINY_FACTORIZED = FactorizedSpace(
    n_stages=2,
    block_types=("mbconv", "conv"),
    kernel_sizes=(3,),
    expansion_ratios=(1, 2),
    se=(True,),
    repeats=(1, 2),
    stage_channels=(4, 8),
    stage_strides=(2, 2),
    stem_channels=4,
)
# Level 2: two 2-node motifs, each one edge of 2 operations; level 3: one 3-node motif over them.
TINY_HIERARCHICAL = HierarchicalSpace(
    levels=3, n_motifs=2, n_nodes=(2, 3), primitives=("identity", "maxpool3x3", "none"), channels=4
)

SPACES = {
    "factorized": FactorizedSpace(),
    "factorized-tiny": TINY_FACTORIZED,
    "factorized-one-stage": FactorizedSpace(
        n_stages=1, block_types=("sepconv",), stage_channels=(8,), stage_strides=(2,), stem_channels=8
    ),
    "hierarchical": HierarchicalSpace(),
    "hierarchical-flat": HierarchicalSpace(levels=2, n_nodes=4),
    "hierarchical-tiny": TINY_HIERARCHICAL,
    # Four levels and no 'none': complete DAGs at every level.
    "hierarchical-deep-complete": HierarchicalSpace(
        levels=4, n_motifs=(2, 2), n_nodes=(3, 2, 3), primitives=("conv1x1", "identity", "avgpool3x3"), channels=4
    ),
}


@pytest.fixture(params=list(SPACES.values()), ids=list(SPACES))
def space(request):
    return request.param


def _samples(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def _n_params(module):
    return sum(p.numel() for p in module.parameters())


# =========================================================================== shared


@pytest.mark.parametrize("space", [FactorizedSpace(), HierarchicalSpace()], ids=["factorized", "hierarchical"])
@pytest.mark.parametrize("shape", [(64,), (8, 8), (2, 3, 8, 8)])
def test_build_rejects_non_image_input_shapes(space, shape):
    architecture = space.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"images of shape \(channels, height, width\).*search_space='mlp'"):
        space.build(architecture, shape, 10)


@pytest.mark.parametrize("space", [FactorizedSpace(), HierarchicalSpace()], ids=["factorized", "hierarchical"])
def test_build_rejects_architectures_of_other_settings(space):
    if isinstance(space, FactorizedSpace):
        other = FactorizedSpace(n_stages=2, stage_channels=(8, 8), stage_strides=(1, 2))
    else:
        other = HierarchicalSpace(levels=2)
    foreign = other.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="is not an architecture of"):
        space.build(foreign, (1, 8, 8), 3)


@pytest.mark.parametrize(
    "space, match",
    [
        (FactorizedSpace(n_stages=2), r"stage_channels must be a tuple of n_stages=2"),
        (FactorizedSpace(kernel_sizes=(3, 4)), "odd positive integers"),
        (FactorizedSpace(block_types=("mbconv", "transformer")), "names among"),
        (FactorizedSpace(repeats=()), "non-empty tuple"),
        (FactorizedSpace(se=(0, 1)), "booleans"),
        (HierarchicalSpace(levels=1), "levels must be an integer >= 2"),
        (HierarchicalSpace(levels=4, n_motifs=(2,)), "n_motifs must be .* tuple of 2"),
        (HierarchicalSpace(n_nodes=1), "at least 2 nodes"),
        (HierarchicalSpace(primitives=("none",)), "besides 'none'"),
        (HierarchicalSpace(primitives=("conv3x3", "conv3x3")), "without repeats"),
        (HierarchicalSpace(primitives=("conv7x7",)), "names among"),
        (HierarchicalSpace(channels=0), "channels must be a positive integer"),
    ],
)
def test_bad_settings_raise_clear_errors(space, match):
    with pytest.raises(ValueError, match=match):
        space.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match=match):
        space.size()


@pytest.mark.parametrize("space", [FactorizedSpace(), HierarchicalSpace()], ids=["factorized", "hierarchical"])
@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 5, 11), (2, 1, 6), (1, 1, 1)])
def test_networks_run_on_small_large_and_non_square_images(space, shape):
    torch.manual_seed(0)
    for architecture in _samples(space, 3, seed=sum(shape)):
        module = space.build(architecture, shape, 4).train()
        out = module(torch.randn(2, *shape))
        assert out.shape == (2, 4)
        out.sum().backward()
        assert isinstance(module.head, torch.nn.Linear) and module.head.out_features == 4


@pytest.mark.parametrize(
    "space, expected",
    [
        # 2 stages x (mbconv with 2 ratios + conv) x 1 kernel x 1 se x 2 repeats.
        (TINY_FACTORIZED, (3 * 2) ** 2),
        # Level 2: 2 motifs x 2 ops. Level 3, 3 nodes: (0,1), (1,2) needed (2 motifs each), (0,2) free (3).
        (TINY_HIERARCHICAL, 2**2 * (2 * 2 * 3)),
    ],
    ids=["factorized", "hierarchical"],
)
def test_tiny_spaces_are_reached_exactly_by_sampling_and_closed_under_mutation(space, expected):
    assert space.size() == expected
    reached = set(_samples(space, 2000))
    assert len(reached) == expected
    rng = np.random.default_rng(0)
    assert {space.mutate(a, rng) for a in reached} <= reached


@pytest.mark.parametrize(
    "space",
    [
        FactorizedSpace(stage_channels=(8, 12, 16), stem_channels=8, repeats=(1, 2)),
        HierarchicalSpace(n_motifs=2, n_nodes=3),
    ],
    ids=["factorized", "hierarchical"],
)
def test_autonas_classifier_fits_digits_with_the_space(space):
    digits = load_digits()
    X, y = digits.images[:200], digits.target[:200]
    X_before = X.copy()
    estimator = AutoNASClassifier(search_space=space, max_trials=2, max_epochs=2, random_state=0).fit(X, y)
    assert np.array_equal(X, X_before)
    assert space.contains(estimator.best_architecture_)
    assert len(estimator.search_results_["score"]) == 2
    assert np.isfinite(estimator.best_score_)
    assert estimator.predict(X[:5]).shape == (5,)


def test_autonas_classifier_rejects_tabular_data_for_image_spaces():
    X = np.random.default_rng(0).normal(size=(40, 5))
    y = np.arange(40) % 2
    for space in (FactorizedSpace(), HierarchicalSpace()):
        with pytest.raises(ValueError, match="needs images"):
            AutoNASClassifier(search_space=space, max_trials=1, max_epochs=1).fit(X, y)


# =========================================================================== factorized


def _stage(block="mbconv", kernel_size=3, expansion=3, se=False, repeats=1):
    return StageChoice(block, kernel_size, expansion if block == "mbconv" else None, se, repeats)


def _block_io_shapes(module, x):
    """(block, input shape, output shape) of every StageBlock in a forward pass."""
    records, hooks = [], []
    for block in module.modules():
        if isinstance(block, StageBlock):
            hooks.append(
                block.register_forward_hook(
                    lambda b, inputs, out: records.append((b, tuple(inputs[0].shape), tuple(out.shape)))
                )
            )
    module(x)
    for hook in hooks:
        hook.remove()
    return records


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 5, 7), (1, 1, 1), (2, 1, 6)])
def test_blocks_are_residual_exactly_when_shapes_match(shape):
    space = FactorizedSpace(stage_channels=(16, 16, 24), stem_channels=16)
    n_residual = n_plain = 0
    for architecture in _samples(space, 15, seed=1):
        module = space.build(architecture, shape, 3).eval()
        with torch.no_grad():
            for block, shape_in, shape_out in _block_io_shapes(module, torch.randn(2, *shape)):
                assert block.residual == (shape_in == shape_out), (architecture, shape_in, shape_out)
                n_residual += block.residual
                n_plain += not block.residual
    assert n_residual > 10 and n_plain > 10


def test_mbconv_residual_adds_the_input_to_the_block_body():
    space = FactorizedSpace(n_stages=2, stage_channels=(8, 16), stage_strides=(1, 2), stem_channels=8)
    architecture = FactorizedArchitecture((_stage("mbconv", repeats=2), _stage("mbconv", se=True, repeats=2)))
    module = space.build(architecture, (1, 8, 8), 3).eval()
    first, second = module.stages[0][0], module.stages[1][0]
    assert first.residual and module.stages[0][1].residual and module.stages[1][1].residual
    assert not second.residual  # stride 2 and 8 -> 16 channels
    x = torch.randn(2, 8, 8, 8)
    with torch.no_grad():
        assert torch.allclose(first(x), first.body(x) + x)
        assert torch.allclose(second(x), second.body(x))
    # On a 1x1 input a stride-2 block keeps the shape, so only the channel change breaks the residual.
    narrow = FactorizedSpace(n_stages=1, stage_channels=(8,), stage_strides=(2,), stem_channels=8)
    tiny = narrow.build(FactorizedArchitecture((_stage("mbconv"),)), (1, 1, 1), 3)
    assert tiny.stages[0][0].residual


@pytest.mark.parametrize("block", ["mbconv", "conv", "sepconv"])
def test_squeeze_excitation_adds_parameters(block):
    space = FactorizedSpace()
    without = FactorizedArchitecture(tuple(_stage(block, se=False, repeats=2) for _ in range(3)))
    with_se = FactorizedArchitecture(tuple(_stage(block, se=True, repeats=2) for _ in range(3)))
    plain, squeezed = space.build(without, (1, 8, 8), 10), space.build(with_se, (1, 8, 8), 10)
    assert _n_params(squeezed) > _n_params(plain)
    assert sum(isinstance(m, SqueezeExcite) for m in squeezed.modules()) == 6
    assert not any(isinstance(m, SqueezeExcite) for m in plain.modules())
    # SE on in one stage only.
    one = FactorizedArchitecture((without.stages[0], with_se.stages[1], without.stages[2]))
    assert _n_params(plain) < _n_params(space.build(one, (1, 8, 8), 10)) < _n_params(squeezed)


def test_repeats_set_the_depth_of_each_stage():
    space = FactorizedSpace()
    for repeats in itertools.product((1, 2, 3), repeat=3):
        architecture = FactorizedArchitecture(tuple(_stage("conv", repeats=r) for r in repeats))
        module = space.build(architecture, (1, 8, 8), 10)
        assert [len(stage) for stage in module.stages] == list(repeats)
        assert sum(isinstance(m, StageBlock) for m in module.modules()) == sum(repeats)


def test_expansion_ratio_sets_the_hidden_width_of_mbconv():
    space = FactorizedSpace(n_stages=1, stage_channels=(8,), stage_strides=(1,), stem_channels=8)
    counts = [
        _n_params(space.build(FactorizedArchitecture((_stage("mbconv", expansion=e),)), (1, 8, 8), 2))
        for e in (1, 3, 6)
    ]
    assert counts == sorted(counts) and len(set(counts)) == 3


@pytest.mark.parametrize(
    "strides, shape, expected",
    [
        ((1, 2, 2), (1, 8, 8), (2, 2)),
        ((1, 1, 1), (1, 8, 8), (8, 8)),
        ((2, 2, 2), (1, 8, 8), (1, 1)),
        ((1, 2, 2), (1, 28, 28), (7, 7)),
        ((1, 2, 2), (3, 5, 7), (2, 2)),
        ((2, 2, 2), (2, 1, 6), (1, 1)),
        ((2, 2, 2), (1, 1, 1), (1, 1)),
        ((1, 1, 2), (1, 3, 9), (2, 5)),
    ],
)
def test_stage_strides_set_the_resolution(strides, shape, expected):
    space = FactorizedSpace(stage_strides=strides)
    for architecture in _samples(space, 3, seed=2):
        module = space.build(architecture, shape, 3).eval()
        with torch.no_grad():
            features = module.features(torch.randn(2, *shape))
        assert tuple(features.shape[2:]) == expected == module.feature_shape[1:]
        assert features.shape[1] == space.stage_channels[-1]


def test_factorized_mutate_changes_one_decision_of_one_stage():
    space = FactorizedSpace()
    rng = np.random.default_rng(0)
    fields = ("block", "kernel_size", "expansion", "se", "repeats")
    seen = set()
    for architecture in _samples(space, 300, seed=3):
        mutant = space.mutate(architecture, rng)
        changed = [i for i, (a, b) in enumerate(zip(architecture.stages, mutant.stages)) if a != b]
        assert len(changed) == 1
        a, b = architecture.stages[changed[0]], mutant.stages[changed[0]]
        diff = {f for f in fields if getattr(a, f) != getattr(b, f)}
        # A block change drops or adds the expansion ratio with it.
        assert len(diff) == 1 or (diff == {"block", "expansion"} and "mbconv" in (a.block, b.block))
        seen |= diff
    assert seen == set(fields)


def test_factorized_contains_is_strict():
    space = FactorizedSpace()
    good = FactorizedArchitecture((_stage("mbconv"), _stage("conv"), _stage("sepconv", se=True)))
    assert space.contains(good)
    assert good.stages[1].expansion is None
    bad_stages = [
        StageChoice("conv", 3, 3, False, 1),  # expansion on a block without one
        StageChoice("mbconv", 3, None, False, 1),  # MBConv without a ratio
        StageChoice("mbconv", 3, 3, 0, 1),  # 0 is not False
        StageChoice("mbconv", 3.0, 3, False, 1),  # 3.0 is not 3
        StageChoice("mbconv", 7, 3, False, 1),
        StageChoice("mbconv", 3, 3, False, 4),
        StageChoice("resnet", 3, None, False, 1),
    ]
    for stage in bad_stages:
        assert not space.contains(FactorizedArchitecture((stage, *good.stages[1:]))), stage
    assert not space.contains(FactorizedArchitecture(good.stages[:2]))
    assert not space.contains(FactorizedArchitecture(list(good.stages)))
    assert not space.contains(FactorizedArchitecture((good.stages[0], good.stages[1], "conv")))
    assert not space.contains(TINY_HIERARCHICAL.sample(np.random.default_rng(0)))


def test_factorized_size_equals_enumeration():
    space = TINY_FACTORIZED
    stages = [
        StageChoice(*values)
        for values in itertools.product(
            ("mbconv", "conv", "sepconv"), (3, 5), (None, 1, 2, 3), (False, True), (1, 2, 3)
        )
    ]
    n_members = sum(space.contains(FactorizedArchitecture(pair)) for pair in itertools.product(stages, repeat=2))
    assert n_members == space.size() == 36
    assert FactorizedSpace().size() == 60**3


def test_factorized_encode_is_a_one_hot_per_decision():
    space = FactorizedSpace()
    vectors = np.array([space.encode(a) for a in _samples(space, 50)])
    per_stage = 3 + 2 + 4 + 2 + 3
    assert vectors.shape == (50, 3 * per_stage)
    assert set(np.unique(vectors)) == {0.0, 1.0}
    assert np.all(vectors.sum(axis=1) == 3 * 5)


# =========================================================================== hierarchical


def _independently_valid(entries, n_nodes):
    """Every node reachable from node 0 and reaching the last node (a BFS, apart from the module's check)."""
    pairs = [(i, j) for i in range(n_nodes) for j in range(i + 1, n_nodes)]
    edges = {pair for pair, entry in zip(pairs, entries) if entry != "none"}
    forward, backward = {0}, {n_nodes - 1}
    for i, j in sorted(edges):
        if i in forward:
            forward.add(j)
    for i, j in sorted(edges, key=lambda e: -e[1]):
        if j in backward:
            backward.add(i)
    return forward == backward == set(range(n_nodes))


def _assert_valid(space, architecture):
    for level in architecture.motifs:
        for entries in level:
            n = (1 + math.isqrt(1 + 8 * len(entries))) // 2
            assert _independently_valid(entries, n), entries


def test_level_structure_of_genotype_and_network():
    space = HierarchicalSpace(levels=4, n_motifs=(3, 2), n_nodes=(4, 3, 5))
    architecture = space.sample(np.random.default_rng(0))
    assert [len(level) for level in architecture.motifs] == [3, 2, 1]
    assert [len(level[0]) for level in architecture.motifs] == [6, 3, 10]
    assert all(isinstance(e, str) for motif in architecture.motifs[0] for e in motif)
    assert all(e == "none" or isinstance(e, int) for level in architecture.motifs[1:] for m in level for e in m)
    matrix = architecture.adjacency(4, 0)
    assert len(matrix) == 5 and all(len(row) == 5 for row in matrix)
    assert all(matrix[i][j] is None for i in range(5) for j in range(i + 1))
    assert [matrix[i][j] for i in range(5) for j in range(i + 1, 5)] == list(architecture.motifs[2][0])

    module = space.build(architecture, (1, 8, 8), 3)
    cells = [m for m in module.cells if isinstance(m, Motif)]
    assert len(cells) == 2 and all((c.level, c.index) == (4, 0) for c in cells)

    def check(motif):
        entries = architecture.motifs[motif.level - 2][motif.index]
        used = [(pair, e) for pair, e in zip(itertools.combinations(range(motif.n_nodes), 2), entries) if e != "none"]
        assert motif.pairs == [pair for pair, _ in used]
        for edge, (_, entry) in zip(motif.edges, used):
            if motif.level > 2:
                assert isinstance(edge, Motif) and (edge.level, edge.index) == (motif.level - 1, entry)
                check(edge)
            else:
                assert not isinstance(edge, Motif)

    check(cells[0])


def test_a_motif_is_reused_at_every_edge_that_names_it():
    space = HierarchicalSpace(levels=3, n_motifs=3, n_nodes=4)
    rng = np.random.default_rng(0)
    level2 = tuple(space.sample(rng).motifs[0])
    cell = (0, 0, "none", 0, 1, 0)  # motif 0 at four edges, motif 1 at one, motif 2 unused
    architecture = HierarchicalArchitecture((level2, (cell,)))
    assert space.contains(architecture)
    module = space.build(architecture, (1, 8, 8), 3)
    lower = [m for m in module.modules() if isinstance(m, Motif) and m.level == 2]
    by_index = {index: [m for m in lower if m.index == index] for index in range(3)}
    # Two cells (around one reduction), each with its copies.
    assert [len(by_index[i]) for i in range(3)] == [8, 2, 0]
    copies = by_index[0]
    structure = [(m.pairs, [type(e).__name__ for e in m.edges], [_n_params(e) for e in m.edges]) for m in copies[:4]]
    assert all(s == structure[0] for s in structure)
    # Same structure, own weights (the paper reuses motifs, not parameters).
    params = [id(p) for m in copies for p in m.parameters()]
    assert len(params) == len(set(params))
    # Changing a reused motif changes it at every edge.
    changed = HierarchicalArchitecture(((level2[1], level2[1], level2[2]), (cell,)))
    again = [
        m for m in space.build(changed, (1, 8, 8), 3).modules() if isinstance(m, Motif) and (m.level, m.index) == (2, 0)
    ]
    expected = [pair for pair, e in zip(itertools.combinations(range(4), 2), level2[1]) if e != "none"]
    assert len(again) == 8 and all(m.pairs == expected for m in again)


def test_nodes_sum_their_incoming_edges():
    space = HierarchicalSpace(levels=2, n_nodes=3, primitives=("identity", "none"))
    module = space.build(HierarchicalArchitecture(((("identity",) * 3,),)), (1, 4, 4), 2)
    cell = module.cells[0]
    x = torch.randn(2, 8, 4, 4)
    assert torch.equal(cell(x), 2 * x)  # node 2 = x (via node 1) + x (directly)
    skip = HierarchicalArchitecture(((("identity", "none", "identity"),),))
    assert torch.equal(space.build(skip, (1, 4, 4), 2).cells[0](x), x)


def test_hierarchical_mutate_changes_exactly_one_adjacency_entry():
    space = HierarchicalSpace(levels=4, n_motifs=(3, 2), n_nodes=(4, 3, 4))
    rng = np.random.default_rng(0)
    levels_hit = set()
    for architecture in _samples(space, 300, seed=1):
        mutant = space.mutate(architecture, rng)
        diffs = [
            (t, m, e)
            for t, (level_a, level_b) in enumerate(zip(architecture.motifs, mutant.motifs))
            for m, (a, b) in enumerate(zip(level_a, level_b))
            for e, (x, y) in enumerate(zip(a, b))
            if x != y
        ]
        assert len(diffs) == 1, (architecture, mutant)
        levels_hit.add(diffs[0][0])
        assert space.contains(mutant)
    assert levels_hit == {0, 1, 2}


@pytest.mark.parametrize(
    "space",
    [
        HierarchicalSpace(levels=3, n_motifs=1, n_nodes=5, primitives=("conv1x1", "none")),
        HierarchicalSpace(levels=3, n_motifs=2, n_nodes=(3, 6), primitives=("identity", "maxpool3x3", "none")),
        HierarchicalSpace(),
    ],
    ids=["sparse", "mixed", "default"],
)
def test_long_mutation_walks_keep_every_motif_valid(space):
    rng = np.random.default_rng(0)
    architecture = space.sample(rng)
    n_edges = []
    for _ in range(1500):
        child = space.mutate(architecture, rng)
        assert child != architecture
        _assert_valid(space, child)
        n_edges.append(sum(e != "none" for level in child.motifs for m in level for e in m))
        architecture = child
    # The walk both adds and removes edges.
    assert min(n_edges) < max(n_edges)
    module = space.build(architecture, (1, 8, 8), 3)
    module(torch.randn(2, 1, 8, 8)).sum().backward()
    assert all(p.grad is not None for p in module.parameters())


def test_samples_are_valid_and_use_none_edges():
    space = HierarchicalSpace(levels=3, n_motifs=2, n_nodes=5, primitives=("conv1x1", "none"))
    n_none = 0
    for architecture in _samples(space, 200):
        _assert_valid(space, architecture)
        n_none += sum(e == "none" for level in architecture.motifs for m in level for e in m)
    assert n_none > 0


@pytest.mark.parametrize("n_nodes, n_ops", [(2, 1), (2, 3), (3, 1), (3, 2), (4, 1), (4, 2), (4, 3), (5, 1)])
def test_valid_motif_count_equals_brute_force(n_nodes, n_ops):
    options = (*range(n_ops), "none")
    n_entries = n_nodes * (n_nodes - 1) // 2
    brute = sum(
        _independently_valid(entries, n_nodes) for entries in itertools.product(options, repeat=n_entries)
    )
    assert _count_valid_motifs(n_nodes, n_ops, True) == brute
    assert _count_valid_motifs(n_nodes, n_ops, False) == n_ops**n_entries


def test_hierarchical_size_equals_enumeration():
    space = TINY_HIERARCHICAL
    level2 = [("identity",), ("maxpool3x3",), ("none",)]
    level3 = list(itertools.product((0, 1, "none"), repeat=3))
    candidates = [
        HierarchicalArchitecture(((a, b), (c,))) for a in level2 for b in level2 for c in level3
    ]
    members = [a for a in candidates if space.contains(a)]
    assert len(members) == space.size() == 48
    assert all(
        _independently_valid(a.motifs[1][0], 3) and "none" not in (a.motifs[0][0] + a.motifs[0][1]) for a in members
    )
    assert set(_samples(space, 2000)) == set(members)


def test_hierarchical_size_is_exact_when_astronomical():
    space = HierarchicalSpace(levels=4, n_motifs=(20, 20), n_nodes=6)
    size = space.size()
    level2 = _count_valid_motifs(6, 6, True) ** 20
    level3 = _count_valid_motifs(6, 20, True) ** 20
    level4 = _count_valid_motifs(6, 20, True)
    assert type(size) is int and size == level2 * level3 * level4
    with pytest.raises(OverflowError):
        float(size)  # past float range: computed with ints
    assert HierarchicalSpace(levels=2, n_nodes=3, primitives=("conv1x1", "identity")).size() == 8


def test_hierarchical_contains_is_strict():
    space = HierarchicalSpace(levels=3, n_motifs=2, n_nodes=3)
    good = HierarchicalArchitecture(
        ((("conv3x3", "none", "identity"), ("maxpool3x3", "conv1x1", "avgpool3x3")), ((0, 1, 1),))
    )
    assert space.contains(good)
    (a, b), (cell,) = good.motifs
    bad = [
        ((("conv3x3", "conv3x3", "none"), b), (cell,)),  # node 1 leads nowhere
        ((("none", "conv3x3", "identity"), b), (cell,)),  # node 1 has no input
        (((a, b)), ((0, 2, 1),)),  # no motif 2 on level 2
        (((a, b)), ((0, True, 1),)),  # True is not 1
        (((a, b)), ((0, np.int64(1), 1),)),  # nor is numpy's 1
        (((a, b)), ((0, "identity", 1),)),  # a primitive above level 2
        (((a, b)), ((0, 1),)),  # wrong number of entries
        (((a, b)), (cell, cell)),  # one top motif only
        (((a,)), (cell,)),  # too few level-2 motifs
        (([a, b]), (cell,)),  # lists are not hashable values
        ((("conv5x5", "none", "identity"), b), (cell,)),
        ((a, b),),  # a level missing
    ]
    for motifs in bad:
        assert not space.contains(HierarchicalArchitecture(motifs)), motifs
    assert not space.contains(good.motifs)
    assert not space.contains(FactorizedSpace().sample(np.random.default_rng(0)))


def test_hierarchical_encode_is_a_one_hot_of_every_adjacency_entry():
    space = HierarchicalSpace(levels=3, n_motifs=3, n_nodes=(4, 5))
    architectures = _samples(space, 50)
    vectors = np.array([space.encode(a) for a in architectures])
    n_entries = 3 * 6 + 1 * 10
    assert vectors.shape == (50, 3 * 6 * 7 + 10 * 4)
    assert np.all(vectors.sum(axis=1) == n_entries)
    # One entry changes -> two bits flip.
    rng = np.random.default_rng(0)
    for architecture, vector in zip(architectures, vectors):
        assert np.abs(space.encode(space.mutate(architecture, rng)) - vector).sum() == 2


def test_flat_and_deep_hierarchies_build():
    torch.manual_seed(0)
    for space in (
        HierarchicalSpace(levels=2, n_nodes=5, n_cells=3),
        HierarchicalSpace(levels=5, n_motifs=2, n_nodes=3, channels=4, n_cells=1),
    ):
        for architecture in _samples(space, 3):
            module = space.build(architecture, (1, 28, 28), 10)
            depth = max(m.level for m in module.modules() if isinstance(m, Motif))
            assert depth == space.levels
            assert module(torch.randn(2, 1, 28, 28)).shape == (2, 10)
