"""Factorized hierarchical space (MnasNet, Tan et al. 2019): every stage makes its own choices.

The survey's hierarchical family in its first shape: the network is a
sequence of stages, and each stage makes its own choices (block type, kernel
size, expansion ratio, squeeze-and-excitation, number of blocks), so layers
of different stages may differ while the space stays small. The other shape,
motifs built from motifs, is :mod:`._hierarchical`.
"""
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...search import SearchSpace, choose, choose_other, one_hot
from ._modules import _axis_strides, conv_bn
from ._options import _check_options, _image_shape, _index, _is_member, _is_positive_int

BLOCK_TYPES = ("mbconv", "conv", "sepconv")


@dataclass(frozen=True)
class StageChoice:
    """The decisions of one stage: ``repeats`` blocks of one type.

    ``expansion`` is the MBConv expansion ratio and ``None`` for the other
    block types, which have none.
    """

    block: str
    kernel_size: int
    expansion: int | None
    se: bool
    repeats: int

    def __str__(self):
        name = f"{self.block}{self.expansion}" if self.block == "mbconv" else self.block
        return f"{name} k{self.kernel_size}{' se' if self.se else ''} x{self.repeats}"


@dataclass(frozen=True)
class FactorizedArchitecture:
    """A network of stages, one :class:`StageChoice` per stage."""

    stages: tuple

    def __str__(self):
        return " | ".join(map(str, self.stages))


class SqueezeExcite(nn.Module):
    """Channel attention (Hu et al. 2018): scale each channel by a gate computed from its mean."""

    def __init__(self, channels, reduced):
        super().__init__()
        self.reduce = nn.Conv2d(channels, reduced, 1)
        self.expand = nn.Conv2d(reduced, channels, 1)

    def forward(self, x):
        gate = self.expand(F.relu(self.reduce(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class StageBlock(nn.Module):
    """One block of a factorized network; adds its input back when the shapes match.

    ``'mbconv'`` is MobileNetV2's inverted bottleneck: 1x1 expansion (skipped
    for ratio 1), depthwise kxk, optional SE, linear 1x1 projection.
    ``'conv'`` is a kxk convolution and ``'sepconv'`` a depthwise kxk then a
    pointwise convolution; SE follows them when chosen. Every convolution is
    followed by batch normalisation, and by ReLU except MBConv's projection.
    ``stride`` is per axis (see :func:`_axis_strides`).
    """

    def __init__(self, choice, n_in, n_out, stride):
        super().__init__()
        k = choice.kernel_size
        if choice.block == "mbconv":
            hidden = n_in * choice.expansion
            layers = []
            if choice.expansion != 1:
                layers += conv_bn(n_in, hidden, 1)
            layers += conv_bn(hidden, hidden, k, stride, groups=hidden)
            if choice.se:
                layers.append(SqueezeExcite(hidden, max(1, n_in // 4)))
            layers += conv_bn(hidden, n_out, 1, relu=None)
        else:
            if choice.block == "conv":
                layers = [*conv_bn(n_in, n_out, k, stride)]
            else:
                layers = [*conv_bn(n_in, n_in, k, stride, groups=n_in), *conv_bn(n_in, n_out, 1)]
            if choice.se:
                layers.append(SqueezeExcite(n_out, max(1, n_out // 4)))
        self.body = nn.Sequential(*layers)
        #: Whether the block is residual: stride 1 on both axes and as many channels out as in.
        self.residual = tuple(stride) == (1, 1) and n_in == n_out

    def forward(self, x):
        out = self.body(x)
        return out + x if self.residual else out


class FactorizedNet(nn.Module):
    """Stem convolution, the stages' blocks, global average pooling and a linear ``head``."""

    def __init__(self, architecture, input_shape, n_outputs, stem_channels, stage_channels, stage_strides):
        super().__init__()
        n_channels, height, width = input_shape
        self.stem = conv_bn(n_channels, stem_channels, 3)
        stages, n_in = [], stem_channels
        for choice, n_out, stride in zip(architecture.stages, stage_channels, stage_strides):
            blocks = []
            for index in range(choice.repeats):
                strides = _axis_strides(stride, height, width) if index == 0 else (1, 1)
                blocks.append(StageBlock(choice, n_in, n_out, strides))
                height, width = math.ceil(height / strides[0]), math.ceil(width / strides[1])
                n_in = n_out
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        #: (channels, height, width) of the feature map before global pooling.
        self.feature_shape = (n_in, height, width)
        self.head = nn.Linear(n_in, n_outputs)

    def features(self, x):
        """The feature map before global pooling."""
        return self.stages(self.stem(x))

    def forward(self, x):
        return self.head(self.features(x).mean(dim=(2, 3)))


class FactorizedSpace(SearchSpace):
    """MnasNet-like factorized space: every stage chooses its own block.

    The network is a 3x3 stem convolution, then ``n_stages`` stages, then
    global average pooling and a linear layer named ``head``. Stage ``s`` is
    ``repeats`` blocks of its chosen type (see :class:`StageBlock`) with
    ``stage_channels[s]`` output channels; its first block has stride
    ``stage_strides[s]`` and makes the channel change, the others keep the
    shape. A block adds its input back (a residual) exactly when its output
    has the input's shape. A stride never reduces an axis of length 1, so
    small and non-square images work.

    Choices per stage: ``block_types`` x ``kernel_sizes`` x
    ``expansion_ratios`` (MBConv only) x ``se`` x ``repeats``; stages choose
    independently, so the space has ``per_stage ** n_stages`` architectures.

    Parameters
    ----------
    n_stages : int, default=3
    block_types : tuple of str, default=('mbconv', 'conv', 'sepconv')
        Among ``'mbconv'`` (inverted bottleneck), ``'conv'`` and ``'sepconv'``.
    kernel_sizes : tuple of int, default=(3, 5)
        Odd kernel sizes of the spatial (depthwise for MBConv) convolution.
    expansion_ratios : tuple of int, default=(1, 3, 6)
        MBConv expansion ratios.
    se : tuple of bool, default=(False, True)
        Whether a stage's blocks may / must use squeeze-and-excitation.
    repeats : tuple of int, default=(1, 2, 3)
        Numbers of blocks a stage may have.
    stage_channels : tuple of int, default=(16, 24, 40)
        Output channels of each stage (fixed, not searched); ``n_stages`` long.
    stage_strides : tuple of int, default=(1, 2, 2)
        Stride of each stage's first block (fixed); ``n_stages`` long.
    stem_channels : int, default=16
        Output channels of the stem convolution.

    See Also
    --------
    HierarchicalSpace : motifs of motifs (Liu et al. 2018).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautoml.nas import FactorizedSpace
    >>> space = FactorizedSpace()
    >>> arch = space.sample(np.random.default_rng(0))
    >>> net = space.build(arch, input_shape=(1, 8, 8), n_outputs=10)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> space.size()
    216000
    """

    takes_images = True

    def __init__(
        self,
        n_stages=3,
        block_types=BLOCK_TYPES,
        kernel_sizes=(3, 5),
        expansion_ratios=(1, 3, 6),
        se=(False, True),
        repeats=(1, 2, 3),
        stage_channels=(16, 24, 40),
        stage_strides=(1, 2, 2),
        stem_channels=16,
    ):
        self.n_stages = n_stages
        self.block_types = block_types
        self.kernel_sizes = kernel_sizes
        self.expansion_ratios = expansion_ratios
        self.se = se
        self.repeats = repeats
        self.stage_channels = stage_channels
        self.stage_strides = stage_strides
        self.stem_channels = stem_channels

    def _check(self):
        if not _is_positive_int(self.n_stages):
            raise ValueError(f"n_stages must be a positive integer, got {self.n_stages!r}.")
        _check_options(self, "block_types", lambda v: v in BLOCK_TYPES, f"names among {BLOCK_TYPES}")
        _check_options(
            self, "kernel_sizes", lambda v: _is_positive_int(v) and v % 2 == 1, "odd positive integers"
        )
        _check_options(self, "expansion_ratios", _is_positive_int, "positive integers")
        _check_options(self, "se", lambda v: isinstance(v, bool), "booleans")
        _check_options(self, "repeats", _is_positive_int, "positive integers")
        for name in ("stage_channels", "stage_strides"):
            values = getattr(self, name)
            if not (isinstance(values, tuple) and len(values) == self.n_stages and all(map(_is_positive_int, values))):
                raise ValueError(
                    f"{name} must be a tuple of n_stages={self.n_stages} positive integers, got {values!r}."
                )
        if not _is_positive_int(self.stem_channels):
            raise ValueError(f"stem_channels must be a positive integer, got {self.stem_channels!r}.")

    def _sample_stage(self, rng, block=None):
        block = choose(rng, self.block_types) if block is None else block
        return StageChoice(
            block=block,
            kernel_size=choose(rng, self.kernel_sizes),
            expansion=choose(rng, self.expansion_ratios) if block == "mbconv" else None,
            se=choose(rng, self.se),
            repeats=choose(rng, self.repeats),
        )

    def sample(self, rng):
        self._check()
        return FactorizedArchitecture(tuple(self._sample_stage(rng) for _ in range(self.n_stages)))

    def _moves(self, architecture):
        moves = []
        for index, stage in enumerate(architecture.stages):
            for field, options in [
                ("block", self.block_types),
                ("kernel_size", self.kernel_sizes),
                ("expansion", self.expansion_ratios if stage.block == "mbconv" else ()),
                ("se", self.se),
                ("repeats", self.repeats),
            ]:
                if len(options) > 1:
                    moves.append((index, field))
        return moves

    def mutate(self, architecture, rng):
        self._check()
        moves = self._moves(architecture)
        if not moves:
            return architecture
        index, field = choose(rng, moves)
        stage = architecture.stages[index]
        if field == "block":
            block = choose_other(rng, self.block_types, stage.block)
            expansion = choose(rng, self.expansion_ratios) if block == "mbconv" else None
            changes = {"block": block, "expansion": expansion}
        else:
            options = {
                "kernel_size": self.kernel_sizes,
                "expansion": self.expansion_ratios,
                "se": self.se,
                "repeats": self.repeats,
            }[field]
            changes = {field: choose_other(rng, options, getattr(stage, field))}
        stages = list(architecture.stages)
        stages[index] = replace(stage, **changes)
        return FactorizedArchitecture(tuple(stages))

    def encode(self, architecture):
        self._check()
        parts = []
        for stage in architecture.stages:
            parts += [
                one_hot(stage.block, self.block_types),
                one_hot(stage.kernel_size, self.kernel_sizes),
                one_hot(stage.expansion, (*self.expansion_ratios, None)),
                one_hot(stage.se, self.se),
                one_hot(stage.repeats, self.repeats),
            ]
        return np.concatenate(parts)

    def build(self, architecture, input_shape, n_outputs):
        self._check()
        input_shape = _image_shape(self, input_shape)
        if not self.contains(architecture):
            raise ValueError(f"{architecture!r} is not an architecture of {self!r}.")
        return FactorizedNet(
            architecture, input_shape, n_outputs, self.stem_channels, self.stage_channels, self.stage_strides
        )

    def size(self):
        self._check()
        n_mbconv = int("mbconv" in self.block_types)
        blocks = n_mbconv * len(self.expansion_ratios) + len(self.block_types) - n_mbconv
        per_stage = blocks * len(self.kernel_sizes) * len(self.se) * len(self.repeats)
        return per_stage**self.n_stages

    def contains(self, architecture):
        self._check()
        if not (
            isinstance(architecture, FactorizedArchitecture)
            and isinstance(architecture.stages, tuple)
            and len(architecture.stages) == self.n_stages
        ):
            return False
        return all(
            isinstance(stage, StageChoice)
            and _is_member(stage.block, self.block_types)
            and _is_member(stage.kernel_size, self.kernel_sizes)
            and (
                _is_member(stage.expansion, self.expansion_ratios)
                if stage.block == "mbconv"
                else stage.expansion is None
            )
            and _is_member(stage.se, self.se)
            and _is_member(stage.repeats, self.repeats)
            for stage in architecture.stages
        )

    # ------------------------------------------------------------------ decisions

    _STAGE_FIELDS = ("block", "kernel_size", "expansion", "se", "repeats")

    def decisions(self):
        """The architecture as categorical decisions, for the REINFORCE controller.

        Returns
        -------
        decisions : list of (str, int)
            ``(name, n_options)`` per stage: block type, kernel size,
            expansion ratio (ignored unless the block is MBConv), SE, repeats.
        """
        self._check()
        options = (self.block_types, self.kernel_sizes, self.expansion_ratios, self.se, self.repeats)
        sizes = [len(values) for values in options]
        return [(f"stage{k}.{name}", n) for k in range(self.n_stages) for name, n in zip(self._STAGE_FIELDS, sizes)]

    def from_decisions(self, tokens):
        """The :class:`FactorizedArchitecture` of one option index per entry of :meth:`decisions`."""
        stages = []
        for k in range(self.n_stages):
            block, kernel, expansion, se, repeats = tokens[5 * k : 5 * k + 5]
            block = self.block_types[block]
            stages.append(
                StageChoice(
                    block,
                    self.kernel_sizes[kernel],
                    self.expansion_ratios[expansion] if block == "mbconv" else None,
                    self.se[se],
                    self.repeats[repeats],
                )
            )
        return FactorizedArchitecture(tuple(stages))

    def to_decisions(self, architecture):
        """The option indices that :meth:`from_decisions` turns into ``architecture`` (expansion 0 unless MBConv)."""
        return [
            value
            for stage in architecture.stages
            for value in (
                _index(self.block_types, stage.block),
                _index(self.kernel_sizes, stage.kernel_size),
                _index(self.expansion_ratios, stage.expansion) if stage.expansion is not None else 0,
                _index(self.se, stage.se),
                _index(self.repeats, stage.repeats),
            )
        ]
