"""ChainSupernet: one set of weights for every chain of a CNNSpace, each path equal to its built network."""
import numpy as np
import pytest
import torch
from torch import nn

from skautoml.nas import CNNArchitecture, CNNLayer, CNNSpace
from skautoml.nas.oneshot import ChainSupernet, Supernet

ALL_OPS = ("conv3x3", "conv5x5", "sepconv3x3", "sepconv5x5", "dilconv3x3", "maxpool", "avgpool", "identity")

# (space, input shape): widths that differ between stem and layers, depths down to 1x1 maps,
# dense and absent skips, single and several widths.
SETTINGS = [
    (CNNSpace(min_layers=1, max_layers=4, operations=ALL_OPS, channels=(4, 8, 12), stem_channels=(4, 8)), (1, 8, 8)),
    (CNNSpace(min_layers=2, max_layers=5, channels=(6, 10), stem_channels=(12,), skip_probability=0.6), (3, 16, 16)),
    (CNNSpace(min_layers=0, max_layers=3, channels=(8,), stem_channels=(8,), skip_probability=0.0), (1, 16, 16)),
    (
        CNNSpace(
            min_layers=3,
            max_layers=6,
            operations=("maxpool", "avgpool", "sepconv3x3", "identity"),
            channels=(4, 6),
            stem_channels=(6, 4),
            skip_probability=0.5,
        ),
        (1, 16, 16),
    ),
    # A downsampling stem, also on an odd side (15 -> 8) and a side of one that it leaves alone.
    (CNNSpace(min_layers=1, max_layers=3, channels=(4, 8), stem_channels=(4, 8), stem_stride=2), (1, 15, 16)),
    (CNNSpace(min_layers=1, max_layers=3, channels=(4,), stem_channels=(4,), stem_stride=2), (2, 1, 12)),
]


def randomized(supernet, seed=0):
    """Batch-norm statistics and affine weights away from their initial values, so slicing mistakes show."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in supernet.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.copy_(torch.randn(module.num_features, generator=generator) * 0.3)
                module.running_var.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(module.num_features, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.num_features, generator=generator) * 0.3)
    return supernet


@pytest.mark.parametrize("space, input_shape", SETTINGS)
def test_every_path_equals_its_subnet_in_eval_mode(space, input_shape):
    torch.manual_seed(0)
    supernet = randomized(ChainSupernet(space, input_shape, n_outputs=3)).eval()
    rng = np.random.default_rng(0)
    x = torch.randn(3, *input_shape)
    seen = set()
    for _ in range(40):
        arch = space.sample(rng)
        seen.add(arch)
        net = supernet.subnet(arch).eval()
        assert type(net) is type(space.build(arch, input_shape, 3))
        with torch.no_grad():
            torch.testing.assert_close(supernet.set_path(arch)(x), net(x), rtol=1e-4, atol=1e-5)
    assert len(seen) > 20  # many distinct architectures, not one repeated


@pytest.mark.parametrize("space, input_shape", SETTINGS)
def test_training_paths_equal_their_subnets_too(space, input_shape):
    # In training mode both normalise by the batch: equal outputs, and equal updated statistics.
    supernet = randomized(ChainSupernet(space, input_shape, n_outputs=3)).train()
    rng = np.random.default_rng(1)
    x = torch.randn(4, *input_shape)
    for _ in range(8):
        arch = space.sample(rng)
        net = supernet.subnet(arch).train()
        torch.testing.assert_close(supernet.set_path(arch)(x), net(x), rtol=1e-4, atol=1e-5)
        for key, tensor in supernet.subnet(arch).state_dict().items():
            torch.testing.assert_close(tensor, net.state_dict()[key])


def test_hand_written_paths_cover_pooling_to_1x1_projections_and_head_skips():
    space = SETTINGS[3][0]
    supernet = randomized(ChainSupernet(space, (1, 16, 16), n_outputs=2)).eval()
    pool, conv = CNNLayer("maxpool"), CNNLayer("sepconv3x3", 4)
    archs = [
        # 16 -> 8 -> 4 -> 2 -> 1 -> 1 (the last pool is the identity), skips pooled and projected.
        CNNArchitecture(6, (pool, pool, conv, pool, pool, CNNLayer("avgpool")), ((0, 3), (0, 7), (2, 5), (3, 7))),
        # A skip from the stem straight into the head of a 3-layer chain, at a new width.
        CNNArchitecture(4, (CNNLayer("sepconv3x3", 6), CNNLayer("identity"), conv), ((0, 4), (1, 3))),
    ]
    x = torch.randn(2, 1, 16, 16)
    for arch in archs:
        assert space.contains(arch)
        with torch.no_grad():
            expected = supernet.subnet(arch).eval()(x)
            torch.testing.assert_close(supernet.set_path(arch)(x), expected, rtol=1e-4, atol=1e-5)


def test_training_forward_matches_the_subnet_and_updates_only_the_slices():
    space = SETTINGS[0][0]
    supernet = randomized(ChainSupernet(space, (1, 8, 8), n_outputs=3)).train()
    arch = CNNArchitecture(4, (CNNLayer("conv3x3", 8), CNNLayer("maxpool"), CNNLayer("sepconv5x5", 4)), ((0, 2),))
    net = supernet.subnet(arch).train()
    before = supernet.ops[0]["conv3x3"][1].running_mean.clone()
    x = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(supernet.set_path(arch)(x), net(x), rtol=1e-4, atol=1e-5)
    # Both updated their batch-norm statistics the same way, the supernet only in its first channels.
    after = supernet.ops[0]["conv3x3"][1].running_mean
    torch.testing.assert_close(after[:8], net.layers[0][1].running_mean)
    torch.testing.assert_close(after[8:], before[8:])
    assert not torch.equal(after[:8], before[:8])


def owner(name):
    """The supernet module a parameter belongs to: ``ops.<position>.<op>``, ``skips.<pair>``, ``stem`` or ``head``."""
    parts = name.split(".")
    return ".".join(parts[:3] if parts[0] == "ops" else parts[:2] if parts[0] == "skips" else parts[:1])


def test_gradients_reach_only_the_path():
    space = SETTINGS[0][0]
    supernet = ChainSupernet(space, (1, 8, 8), n_outputs=3).train()
    arch = CNNArchitecture(4, (CNNLayer("conv3x3", 8), CNNLayer("sepconv3x3", 4)), ((1, 3),))
    supernet.set_path(arch)(torch.randn(4, 1, 8, 8)).pow(2).sum().backward()
    grads = {name: p.grad for name, p in supernet.named_parameters()}
    on_path = {"stem", "ops.0.conv3x3", "ops.1.sepconv3x3", "skips.1_3", "head"}
    assert {owner(name) for name, grad in grads.items() if grad is not None} == on_path

    def only_in(grad, *index):
        """Nonzero inside the path's slice of the wide weight, zero outside it."""
        outside = grad.clone()
        outside[index] = 0
        return grad[index].abs().sum() > 0 and outside.abs().sum() == 0

    assert only_in(grads["stem.0.weight"], slice(0, 4))  # stem at 8, path at 4
    assert only_in(grads["stem.1.weight"], slice(0, 4))
    assert only_in(grads["ops.0.conv3x3.0.weight"], slice(0, 8), slice(0, 4))  # 12 x 8 wide
    assert only_in(grads["ops.0.conv3x3.1.bias"], slice(0, 8))
    assert only_in(grads["ops.1.sepconv3x3.0.weight"], slice(0, 8))  # depthwise, 12 wide
    assert only_in(grads["ops.1.sepconv3x3.1.weight"], slice(0, 4), slice(0, 8))  # pointwise 12 x 12
    assert only_in(grads["skips.1_3.0.weight"], slice(0, 4), slice(0, 8))  # node 1 (8) into the head (4)
    assert only_in(grads["head.weight"], slice(None), slice(0, 4))


def conv_bn_parameters(n_in, n_out, kernel, separable=False):
    convs = n_in * kernel * kernel + n_in * n_out if separable else n_in * n_out * kernel * kernel
    return convs + 2 * n_out


def test_weights_are_held_once_at_the_largest_widths():
    space = CNNSpace(
        min_layers=1,
        max_layers=3,
        operations=("conv3x3", "sepconv5x5", "maxpool"),
        channels=(4, 8),
        stem_channels=(2, 12),
        skip_probability=0.5,
    )
    supernet = ChainSupernet(space, (3, 8, 8), n_outputs=5)
    # Node 0 (the stem) is up to 12 wide, and a pool passes it on: every node can be 12 wide.
    positions = 3 * (conv_bn_parameters(12, 8, 3) + conv_bn_parameters(12, 8, 5, separable=True))
    # (0, 2), (0, 3), (1, 3) and the three into the head of three layers: (0, 4), (1, 4), (2, 4).
    skips = 6 * conv_bn_parameters(12, 12, 1)
    expected = conv_bn_parameters(3, 12, 3) + positions + skips + 12 * 5 + 5
    count = sum(p.numel() for p in supernet.parameters())
    assert count == expected
    rng = np.random.default_rng(0)
    x = torch.randn(2, 3, 8, 8)
    for _ in range(20):
        arch = space.sample(rng)
        supernet.set_path(arch)(x)
        assert sum(p.numel() for p in supernet.subnet(arch).parameters()) <= count
    # No path adds weights: the count does not depend on how many architectures ran.
    assert sum(p.numel() for p in supernet.parameters()) == count
    assert sorted(supernet.skips) == ["0_2", "0_3", "0_4", "1_3", "1_4", "2_4"]


def test_width_sets_decide_what_is_held():
    # One width everywhere: positions see 8 channels in, skips never need a projection.
    space = CNNSpace(max_layers=2, operations=("conv3x3", "identity"), channels=(8,), stem_channels=(8,))
    supernet = ChainSupernet(space, (1, 8, 8), n_outputs=2)
    assert len(supernet.skips) == 0
    assert [block["conv3x3"][0].weight.shape for block in supernet.ops] == [(8, 8, 3, 3)] * 2
    # Without parameter-free operations a position after the first only sees the layer widths.
    space = CNNSpace(max_layers=2, operations=("conv3x3",), channels=(4, 6), stem_channels=(16,))
    supernet = ChainSupernet(space, (1, 8, 8), n_outputs=2)
    assert [block["conv3x3"][0].weight.shape[:2] for block in supernet.ops] == [(6, 16), (6, 6)]
    assert supernet.head.in_features == 6


def test_sampling_draws_a_path_per_training_forward_and_keeps_the_last_in_eval():
    space = SETTINGS[0][0]
    x = torch.randn(2, 1, 8, 8)

    def run(seed):
        supernet = ChainSupernet(space, (1, 8, 8), n_outputs=3).sample_paths(np.random.default_rng(seed))
        paths = []
        for _ in range(6):
            supernet(x)
            paths.append(supernet.path)
        return supernet, paths

    supernet, paths = run(3)
    rng = np.random.default_rng(3)
    assert paths == [space.sample(rng) for _ in range(6)]
    assert len(set(paths)) > 1
    assert run(3)[1] == paths  # reproducible from the seed
    supernet.eval()
    with torch.no_grad():
        out = supernet(x)
        assert supernet.path == paths[-1] and torch.equal(supernet(x), out)
    torch.testing.assert_close(out, supernet.subnet(paths[-1]).eval()(x), rtol=1e-4, atol=1e-5)


def test_bad_input_gives_clear_errors():
    space = SETTINGS[0][0]
    supernet = ChainSupernet(space, (1, 8, 8), n_outputs=3)
    too_deep = CNNArchitecture(4, tuple(CNNLayer("identity") for _ in range(5)))
    wrong_width = CNNArchitecture(4, (CNNLayer("conv3x3", 16),))
    for arch in (too_deep, wrong_width, "conv3x3"):
        with pytest.raises(ValueError, match="is not an architecture of"):
            supernet.set_path(arch)
        with pytest.raises(ValueError, match="is not an architecture of"):
            supernet.subnet(arch)
    with pytest.raises(RuntimeError, match="no path"):
        supernet(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="inputs of shape"):
        supernet.set_path(space.sample(np.random.default_rng(0)))(torch.randn(1, 1, 16, 16))
    with pytest.raises(ValueError, match="channels, height, width"):
        ChainSupernet(space, (64,), n_outputs=3)
    with pytest.raises(TypeError, match="CNNSpace"):
        ChainSupernet(object(), (1, 8, 8), n_outputs=3)
    assert isinstance(supernet, Supernet)
