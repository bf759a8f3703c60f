"""Torch modules that the chain spaces build from an architecture value, and the conv block every space builds."""
import math

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "elu": nn.ELU}


class MLPBlock(nn.Module):
    """Linear -> (batch norm) -> activation -> (dropout), optionally residual."""

    def __init__(self, n_in, n_out, activation, dropout, batch_norm, skip):
        super().__init__()
        layers = [nn.Linear(n_in, n_out)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        if not skip:
            self.shortcut = None
        elif n_in == n_out:
            self.shortcut = nn.Identity()
        else:
            self.shortcut = nn.Linear(n_in, n_out, bias=False)

    def forward(self, x):
        out = self.body(x)
        return out if self.shortcut is None else out + self.shortcut(x)


class MLPNet(nn.Module):
    """A chain of :class:`MLPBlock` and a linear head; flattens its input."""

    def __init__(self, architecture, n_features, n_outputs):
        super().__init__()
        blocks, n_in = [], n_features
        for width in architecture.widths:
            blocks.append(
                MLPBlock(
                    n_in,
                    width,
                    architecture.activation,
                    architecture.dropout,
                    architecture.batch_norm,
                    architecture.skip,
                )
            )
            n_in = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(n_in, n_outputs)

    def forward(self, x):
        return self.head(self.blocks(x.flatten(1)))


def conv_bn(n_in, n_out, kernel_size=1, stride=1, dilation=1, groups=1, separable=False, relu="after"):
    """A convolution without bias and a batch norm, with or without a ReLU: the conv block of every space.

    The padding keeps the resolution at stride 1 (kernel sizes are odd).

    Parameters
    ----------
    n_in, n_out : int
        Input and output channels.
    kernel_size, stride, dilation, groups : int
        Those of the convolution; ``stride`` may be a pair (one per axis).
    separable : bool, default=False
        A depthwise ``kernel_size`` convolution (with the stride and the
        dilation) then a pointwise 1x1 convolution, no batch norm between
        them; ``groups`` is not used.
    relu : {'after', 'before', None}, default='after'
        ``conv -> BN -> ReLU``; DARTS's ``ReLU -> conv -> BN`` (the cells'
        operations); or no ReLU (projections, MBConv's last convolution).

    Returns
    -------
    block : nn.Sequential
        Its modules in that order, parameters created in that order: unpack
        it (``conv, norm = conv_bn(...)``) or splice it into another
        ``nn.Sequential`` where a network wants the modules flat.
    """
    if relu not in ("after", "before", None):
        raise ValueError(f"relu must be 'after', 'before' or None, got {relu!r}.")
    padding = dilation * (kernel_size - 1) // 2
    if separable:
        convs = [
            nn.Conv2d(n_in, n_in, kernel_size, stride, padding, dilation=dilation, groups=n_in, bias=False),
            nn.Conv2d(n_in, n_out, 1, bias=False),
        ]
    else:
        convs = [nn.Conv2d(n_in, n_out, kernel_size, stride, padding, dilation=dilation, groups=groups, bias=False)]
    before = [nn.ReLU(inplace=False)] if relu == "before" else []
    after = [nn.ReLU(inplace=False)] if relu == "after" else []
    return nn.Sequential(*before, *convs, nn.BatchNorm2d(n_out), *after)


def stem_resolution(stride, height, width):
    """Height and width after a 3x3 stem convolution of ``stride`` (padding 1; an axis of length 1 is left alone)."""
    stride_h, stride_w = _axis_strides(stride, height, width)
    return math.ceil(height / stride_h), math.ceil(width / stride_w)


def _axis_strides(stride, height, width):
    """Per-axis stride that leaves an axis of length 1 alone, so feature maps never shrink below 1x1."""
    return (stride if height > 1 else 1, stride if width > 1 else 1)


# Each builder returns (module, output channels, output height, output width).
def _build_operation(op, n_in, n_out, height, width):
    if op == "conv3x3":
        return conv_bn(n_in, n_out, 3), n_out, height, width
    if op == "conv5x5":
        return conv_bn(n_in, n_out, 5), n_out, height, width
    if op == "sepconv3x3":
        return conv_bn(n_in, n_out, 3, separable=True), n_out, height, width
    if op == "sepconv5x5":
        return conv_bn(n_in, n_out, 5, separable=True), n_out, height, width
    if op == "dilconv3x3":
        return conv_bn(n_in, n_out, 3, dilation=2), n_out, height, width
    if op in ("maxpool", "avgpool"):
        if height == 1 and width == 1:
            # Nothing left to pool: the layer becomes the identity.
            return nn.Identity(), n_in, height, width
        pool = nn.MaxPool2d if op == "maxpool" else nn.AvgPool2d
        return pool(2, 2, ceil_mode=True), n_in, math.ceil(height / 2), math.ceil(width / 2)
    if op == "identity":
        return nn.Identity(), n_in, height, width
    raise ValueError(f"unknown operation {op!r}")


class SkipProjection(nn.Module):
    """Brings an earlier feature map to the resolution and channels of a later one."""

    def __init__(self, n_in, n_out, size):
        super().__init__()
        self.size = size
        self.project = nn.Identity() if n_in == n_out else conv_bn(n_in, n_out, 1, relu=None)

    def forward(self, x):
        if x.shape[-2:] != self.size:
            x = F.adaptive_avg_pool2d(x, self.size)
        return self.project(x)


class CNNNet(nn.Module):
    """Stem convolution (of ``stem_stride``), a chain of layers with optional skips, global-pooling head.

    Node 0 is the stem's output and node ``k`` the output of layer ``k``; a
    skip ``(i, j)`` adds node ``i`` to the input of layer ``j`` (``j = L + 1``
    is the head).
    """

    def __init__(self, architecture, input_shape, n_outputs, stem_stride=1):
        super().__init__()
        n_channels, height, width = input_shape
        strides = _axis_strides(stem_stride, height, width)
        self.stem = conv_bn(n_channels, architecture.stem_channels, 3, stride=strides)
        shapes = [(architecture.stem_channels, *stem_resolution(stem_stride, height, width))]
        self.layers = nn.ModuleList()
        self.skips = nn.ModuleDict()
        self.skip_sources = {}
        n_layers = len(architecture.layers)
        for target in range(1, n_layers + 2):
            sources = [s for s, d in architecture.skips if d == target]
            channels, h, w = shapes[-1]
            for source in sources:
                c_src = shapes[source][0]
                self.skips[f"{source}_{target}"] = SkipProjection(c_src, channels, (h, w))
            self.skip_sources[target] = sources
            if target == n_layers + 1:
                break
            layer = architecture.layers[target - 1]
            module, c_out, h_out, w_out = _build_operation(layer.op, channels, layer.channels, h, w)
            self.layers.append(module)
            shapes.append((c_out, h_out, w_out))
        self.head = nn.Linear(shapes[-1][0], n_outputs)

    def _with_skips(self, x, target, nodes):
        for source in self.skip_sources[target]:
            x = x + self.skips[f"{source}_{target}"](nodes[source])
        return x

    def forward(self, x):
        nodes = [self.stem(x)]
        for index, layer in enumerate(self.layers, start=1):
            nodes.append(layer(self._with_skips(nodes[-1], index, nodes)))
        features = self._with_skips(nodes[-1], len(self.layers) + 1, nodes)
        return self.head(features.mean(dim=(2, 3)))


class Standardize(nn.Module):
    """Fixed ``(x - mean) / scale``, learned from the training data, not by gradient."""

    def __init__(self, mean, scale):
        super().__init__()
        self.register_buffer("mean", torch.as_tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, x):
        return (x - self.mean) / self.scale
