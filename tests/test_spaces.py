"""The search-space contract, checked on every space, plus chain-space specifics.

A new space joins the contract suite by being added to ``SPACES`` (and, when
it is small enough to enumerate by sampling, to ``TINY_SPACES``).
"""
import pickle

import numpy as np
import pytest
import torch
from torch import nn

from skautoml.nas import (
    CellSpace,
    CNNArchitecture,
    CNNLayer,
    CNNSpace,
    FactorizedSpace,
    HierarchicalSpace,
    MLPArchitecture,
    MLPSpace,
    SearchSpace,
)

TINY_MLP = MLPSpace(
    min_layers=1,
    max_layers=2,
    widths=(8, 16),
    activations=("relu",),
    dropouts=(0.0,),
    batch_norm=(False,),
    skip=(False, True),
)
TINY_CNN = CNNSpace(
    min_layers=1,
    max_layers=2,
    operations=("conv3x3", "maxpool"),
    channels=(8,),
    stem_channels=(8,),
    skip_probability=0.5,
)
# A linear model is part of the space (zero hidden layers).
TINY_MLP_WITH_LINEAR = MLPSpace(
    min_layers=0, max_layers=2, widths=(4,), activations=("tanh",), dropouts=(0.0,), batch_norm=(False,), skip=(False,)
)

# (space, number of distinct architectures) for spaces small enough to enumerate by sampling.
TINY_SPACES = {
    "tiny-mlp": (TINY_MLP, 2 * (2 + 4)),
    # depth 1: 2 layer choices x 2 skip subsets of {(0,2)}; depth 2: 2*2 layers x 2**3 skip subsets.
    "tiny-cnn": (TINY_CNN, 2 * 2 + 4 * 8),
    "tiny-mlp-linear": (TINY_MLP_WITH_LINEAR, 1 + 1 + 1),
    # Width 1 only (log2(1) = 0 must not break encode): 2 depths x 2 activations.
    "tiny-mlp-width-1": (
        MLPSpace(
            min_layers=1,
            max_layers=2,
            widths=(1,),
            activations=("relu", "tanh"),
            dropouts=(0.0,),
            batch_norm=(False,),
            skip=(False,),
        ),
        2 * 2,
    ),
    # No skips: (2 ops * 1 channel)**1 + (2)**2, times 2 stems.
    "tiny-cnn-noskip": (
        CNNSpace(
            min_layers=1,
            max_layers=2,
            operations=("avgpool", "conv5x5"),
            channels=(4,),
            stem_channels=(4, 8),
            skip_probability=0.0,
        ),
        (2 + 4) * 2,
    ),
}

SPACES = {
    "mlp": MLPSpace(),
    "mlp-small": MLPSpace(min_layers=1, max_layers=3, widths=(8, 16, 32), batch_norm=(True,), skip=(True,)),
    "cnn": CNNSpace(),
    "cnn-noskip-1-2": CNNSpace(min_layers=1, max_layers=2, channels=(4, 8), stem_channels=(4,), skip_probability=0.0),
    "cnn-skips-0-3": CNNSpace(min_layers=0, max_layers=3, channels=(4, 8), stem_channels=(4, 8), skip_probability=0.5),
    "cell": CellSpace(n_blocks=2, n_cells=3, initial_channels=4),
    "cell-concat-1-reduction": CellSpace(
        n_blocks=3,
        operations=("sepconv3x3", "identity", "zero", "maxpool"),
        combine=("concat",),
        n_cells=4,
        initial_channels=6,
        n_reductions=1,
    ),
    "factorized": FactorizedSpace(),
    "factorized-one-stage": FactorizedSpace(
        n_stages=1, block_types=("sepconv",), stage_channels=(8,), stage_strides=(2,), stem_channels=8
    ),
    "hierarchical": HierarchicalSpace(),
    "hierarchical-flat": HierarchicalSpace(levels=2, n_nodes=4),
    # Four levels and no 'none': complete DAGs at every level.
    "hierarchical-deep-complete": HierarchicalSpace(
        levels=4, n_motifs=(2, 2), n_nodes=(3, 2, 3), primitives=("conv1x1", "identity", "avgpool3x3"), channels=4
    ),
    **{name: space for name, (space, _) in TINY_SPACES.items()},
}

IMAGE_SHAPES = [(1, 8, 8), (3, 5, 7), (1, 1, 1), (3, 28, 28)]
TABULAR_SHAPES = [(4,), (2, 3, 3)]


@pytest.fixture(params=list(SPACES.values()), ids=list(SPACES))
def space(request):
    return request.param


def _samples(space, n, seed=0):
    rng = np.random.default_rng(seed)
    return [space.sample(rng) for _ in range(n)]


def _is_big(space):
    return space.size() > 1000


# --------------------------------------------------------------------------- contract


def test_is_a_search_space(space):
    assert isinstance(space, SearchSpace)
    assert isinstance(space.takes_images, bool)


def test_sampling_is_deterministic_for_a_seeded_generator(space):
    first = _samples(space, 30, seed=7)
    again = _samples(space, 30, seed=7)
    assert first == again
    other = _samples(space, 30, seed=8)
    assert other != first


def test_samples_are_hashable_picklable_and_contained(space):
    for architecture in _samples(space, 100):
        assert space.contains(architecture), architecture
        copy = pickle.loads(pickle.dumps(architecture))
        assert copy == architecture
        assert hash(copy) == hash(architecture)
        assert {architecture: 1}[copy] == 1
        assert isinstance(str(architecture), str)


def test_space_itself_survives_pickling_and_compares_by_settings(space):
    copy = pickle.loads(pickle.dumps(space))
    assert copy == space
    assert hash(copy) == hash(space)
    arch = space.sample(np.random.default_rng(0))
    assert copy.contains(arch)


def test_mutate_changes_the_architecture_and_stays_in_the_space(space):
    rng = np.random.default_rng(1)
    for architecture in _samples(space, 200, seed=2):
        mutant = space.mutate(architecture, rng)
        assert mutant != architecture, architecture
        assert space.contains(mutant), (architecture, mutant)
        assert hash(mutant) == hash(pickle.loads(pickle.dumps(mutant)))


def test_long_mutation_walk_stays_in_the_space(space):
    rng = np.random.default_rng(3)
    architecture = space.sample(rng)
    for _ in range(300):
        child = space.mutate(architecture, rng)
        assert child != architecture
        assert space.contains(child), (architecture, child)
        architecture = child


def test_mutate_is_deterministic_for_a_seeded_generator(space):
    parents = _samples(space, 20, seed=4)
    first = [space.mutate(a, np.random.default_rng(5)) for a in parents]
    again = [space.mutate(a, np.random.default_rng(5)) for a in parents]
    assert first == again


def test_contains_rejects_foreign_values(space):
    assert not space.contains(None)
    assert not space.contains("conv3x3")
    other = CNNSpace() if isinstance(space, MLPSpace) else MLPSpace()
    assert not space.contains(other.sample(np.random.default_rng(0)))


def test_encode_is_a_fixed_length_finite_float_vector(space):
    rng = np.random.default_rng(5)
    architectures = _samples(space, 300, seed=6)
    architectures += [space.mutate(a, rng) for a in architectures[:100]]
    vectors = [np.asarray(space.encode(a)) for a in architectures]
    lengths = {v.shape for v in vectors}
    assert len(lengths) == 1, lengths
    (shape,) = lengths
    assert len(shape) == 1 and shape[0] > 0
    for vector in vectors:
        assert np.issubdtype(vector.dtype, np.floating)
        assert np.all(np.isfinite(vector))
    # Distinct architectures are not all encoded alike (surrogates need a signal).
    assert len({v.tobytes() for v in vectors}) > 1


def _build_shapes(space):
    return IMAGE_SHAPES if space.takes_images else TABULAR_SHAPES


def test_build_gives_a_module_with_one_logit_vector_per_sample(space):
    torch.manual_seed(0)
    n_per_shape = 2 if _is_big(space) else 4
    for index, shape in enumerate(_build_shapes(space)):
        for architecture in _samples(space, n_per_shape, seed=10 + index):
            module = space.build(architecture, shape, 3)
            assert isinstance(module, nn.Module)
            module.eval()
            with torch.no_grad():
                out = module(torch.randn(2, *shape))
            assert out.shape == (2, 3), (architecture, shape)
            assert torch.all(torch.isfinite(out))


def test_built_module_trains(space):
    """A forward and backward pass in training mode reaches every parameter."""
    torch.manual_seed(0)
    shape = (3, 6, 6) if space.takes_images else (5,)
    for architecture in _samples(space, 2 if _is_big(space) else 3, seed=11):
        module = space.build(architecture, shape, 4)
        module.train()
        out = module(torch.randn(4, *shape))
        assert out.shape == (4, 4)
        out.sum().backward()
        params = [p for p in module.parameters() if p.requires_grad]
        assert params, architecture
        assert all(p.grad is not None for p in params), architecture


def test_size_is_a_positive_int(space):
    size = space.size()
    assert type(size) is int
    assert size > 0
    # Never fewer architectures than sampling reaches.
    assert size >= len(set(_samples(space, 500)))


@pytest.mark.parametrize("name", list(TINY_SPACES))
def test_size_of_tiny_spaces_matches_the_architectures_sampling_reaches(name):
    space, expected = TINY_SPACES[name]
    assert space.size() == expected
    reached = set(_samples(space, 4000))
    assert len(reached) == expected
    # Mutation reaches nothing outside the enumerated set either.
    rng = np.random.default_rng(0)
    assert {space.mutate(a, rng) for a in reached} <= reached


# --------------------------------------------------------------------------- MLP specifics


def test_mlp_encode_has_the_same_length_for_every_depth():
    space = MLPSpace(min_layers=0, max_layers=4)
    vectors = [space.encode(MLPArchitecture(widths=(64,) * depth)) for depth in range(5)]
    assert len({v.shape for v in vectors}) == 1
    assert len({v.tobytes() for v in vectors}) == 5


def test_mlp_residual_blocks_project_when_the_width_changes():
    space = MLPSpace(widths=(8, 16))
    module = space.build(MLPArchitecture(widths=(8, 16, 16), skip=True, batch_norm=True, dropout=0.1), (2, 3, 3), 5)
    module.train()
    assert module(torch.randn(3, 2, 3, 3)).shape == (3, 5)


# --------------------------------------------------------------------------- CNN specifics


def _assert_valid_skips(architecture):
    n_layers = len(architecture.layers)
    skips = list(architecture.skips)
    assert skips == sorted(set(skips)), skips
    for i, j in skips:
        assert 0 <= i < j - 1, (i, j)
        assert j <= n_layers + 1, (i, j, n_layers)


def test_cnn_samples_have_valid_sorted_skips():
    space = CNNSpace(min_layers=1, max_layers=5, skip_probability=0.5)
    for architecture in _samples(space, 300):
        _assert_valid_skips(architecture)
        assert space.contains(architecture)


def test_cnn_mutation_keeps_skips_valid_after_adding_and_removing_layers():
    space = CNNSpace(min_layers=1, max_layers=5, channels=(8,), stem_channels=(8,), skip_probability=0.5)
    rng = np.random.default_rng(0)
    added = removed = 0
    for architecture in _samples(space, 600, seed=1):
        mutant = space.mutate(architecture, rng)
        _assert_valid_skips(mutant)
        assert space.contains(mutant)
        if len(mutant.layers) == len(architecture.layers) + 1:
            added += 1
            assert len(mutant.skips) == len(architecture.skips)
            assert _skips_follow_an_inserted_layer(architecture, mutant), (architecture, mutant)
        elif len(mutant.layers) == len(architecture.layers) - 1:
            removed += 1
            assert _skips_follow_a_removed_layer(architecture, mutant), (architecture, mutant)
    assert added > 20 and removed > 20


def _skips_follow_an_inserted_layer(parent, child):
    """Whether ``child`` is ``parent`` with one layer inserted and every skip joining the same nodes.

    A new layer at position ``p`` shifts nodes ``>= p`` by one; a skip that fed
    the old layer ``p`` may feed either the new layer or the old one.
    """
    for p in range(1, len(child.layers) + 1):
        if child.layers[: p - 1] + child.layers[p:] != parent.layers:
            continue
        options = [
            {(s + (s >= p), d + (d > p))} | ({(s + (s >= p), d + 1)} if d == p else set())
            for s, d in parent.skips
        ]
        if all(len(set(child.skips) & option) == 1 for option in options):
            return True
    return False


def _skips_follow_a_removed_layer(parent, child):
    """Whether ``child`` is ``parent`` with one layer removed and no skip invented or moved.

    Skips that do not touch the removed layer ``p`` survive, re-indexed, unless
    they now join adjacent nodes; a skip from or to ``p`` is dropped or
    re-attached to the neighbouring node.
    """
    for p in range(1, len(parent.layers) + 1):
        if parent.layers[: p - 1] + parent.layers[p:] != child.layers:
            continue
        shift = lambda node: node - (node > p)  # noqa: E731
        kept = {(shift(s), shift(d)) for s, d in parent.skips if p not in (s, d)}
        required = {(s, d) for s, d in kept if d - s >= 2}
        allowed = kept | {(p - 1 if s == p else shift(s), p if d == p else shift(d)) for s, d in parent.skips}
        if required <= set(child.skips) <= allowed:
            return True
    return False


def test_cnn_skip_into_the_head_is_encoded_at_the_same_position_for_every_depth():
    space = CNNSpace(min_layers=1, max_layers=4, channels=(8,), stem_channels=(8,))
    conv = CNNLayer("conv3x3", 8)
    shallow = CNNArchitecture(8, (conv, conv), skips=((0, 3),))  # stem -> head of a 2-layer chain
    deep = CNNArchitecture(8, (conv,) * 4, skips=((0, 5),))  # stem -> head of a 4-layer chain
    plain = CNNArchitecture(8, (conv, conv))
    assert space.contains(shallow) and space.contains(deep)
    e_shallow, e_deep, e_plain = space.encode(shallow), space.encode(deep), space.encode(plain)
    assert e_shallow.shape == e_deep.shape == e_plain.shape
    assert np.all(np.isfinite(e_shallow))
    changed_by_skip = np.flatnonzero(e_shallow != e_plain)
    assert len(changed_by_skip) == 1
    # The deep network's head skip sets the same bit.
    assert e_deep[changed_by_skip[0]] == e_shallow[changed_by_skip[0]] == 1.0
    # And a skip into an inner layer sets a different one.
    inner = CNNArchitecture(8, (conv, conv), skips=((0, 2),))
    assert np.flatnonzero(space.encode(inner) != e_plain).tolist() != changed_by_skip.tolist()
    module = space.build(shallow, (1, 8, 8), 3)
    assert module(torch.randn(2, 1, 8, 8)).shape == (2, 3)


@pytest.mark.parametrize("shape", [(3, 5, 7), (1, 1, 1), (1, 9, 9), (2, 1, 6)])
def test_cnn_skips_across_pooling_layers_work(shape):
    space = CNNSpace(min_layers=1, max_layers=4, skip_probability=0.5)
    layers = (CNNLayer("maxpool"), CNNLayer("conv3x3", 16), CNNLayer("avgpool"), CNNLayer("sepconv3x3", 32))
    all_skips = tuple(sorted((i, j) for j in range(2, 6) for i in range(j - 1)))
    architecture = CNNArchitecture(16, layers, all_skips)
    assert space.contains(architecture)
    torch.manual_seed(0)
    module = space.build(architecture, shape, 4)
    module.train()
    out = module(torch.randn(2, *shape))
    assert out.shape == (2, 4)
    out.sum().backward()
    assert all(p.grad is not None for p in module.parameters())
    module.eval()
    with torch.no_grad():
        assert module(torch.randn(1, *shape)).shape == (1, 4)


def test_cnn_build_rejects_tabular_input_shapes():
    space = CNNSpace()
    architecture = space.sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(channels, height, width\).*\(64,\)"):
        space.build(architecture, (64,), 10)


def test_cnn_contains_rejects_invalid_architectures():
    space = CNNSpace(min_layers=1, max_layers=3, channels=(8, 16), stem_channels=(8,))
    conv = CNNLayer("conv3x3", 8)
    assert space.contains(CNNArchitecture(8, (conv, conv), ((0, 2),)))
    assert not space.contains(CNNArchitecture(8, (conv, conv), ((1, 2),)))  # adjacent nodes
    assert not space.contains(CNNArchitecture(8, (conv, conv), ((0, 4),)))  # past the head
    assert not space.contains(CNNArchitecture(8, (conv, conv, conv), ((1, 3), (0, 2))))  # unsorted
    assert not space.contains(CNNArchitecture(8, (CNNLayer("conv3x3", 12),)))  # channels
    assert not space.contains(CNNArchitecture(8, (CNNLayer("maxpool", 8),)))  # pool with channels
    assert not space.contains(CNNArchitecture(16, (conv,)))  # stem
    assert not space.contains(CNNArchitecture(8, ()))  # too shallow
    no_skips = CNNSpace(min_layers=1, max_layers=3, channels=(8,), stem_channels=(8,), skip_probability=0.0)
    assert not no_skips.contains(CNNArchitecture(8, (conv, conv), ((0, 2),)))
