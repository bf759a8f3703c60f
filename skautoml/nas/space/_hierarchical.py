"""Hierarchical search spaces: factorized per-stage blocks and motifs built from motifs.

The survey's hierarchical family has two shapes, both here:

* :class:`FactorizedSpace` (MnasNet, Tan et al. 2019): the network is a
  sequence of stages, and each stage makes its own choices (block type,
  kernel size, expansion ratio, squeeze-and-excitation, number of blocks), so
  layers of different stages may differ while the space stays small.
* :class:`HierarchicalSpace` (Liu et al. 2018, "Hierarchical Representations
  for Efficient Architecture Search"): level-1 primitives are assembled by
  small DAGs into level-2 motifs, those into level-3 motifs, and so on; the
  top-level motif is the cell of the network.
"""
import math
from dataclasses import dataclass, replace
from numbers import Integral

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._base import SearchSpace, choose, choose_other, one_hot
from ._modules import conv_bn_relu, separable_conv

BLOCK_TYPES = ("mbconv", "conv", "sepconv")


def _is_member(value, options):
    """``value in options``, but strict about type: ``True`` is not ``1`` and ``3.0`` is not ``3``."""
    return any(type(value) is type(option) and value == option for option in options)


def _check_options(space, name, valid, what):
    values = getattr(space, name)
    if not isinstance(values, tuple) or not values or any(values.count(v) > 1 for v in values):
        raise ValueError(f"{name} must be a non-empty tuple without repeats, got {values!r}.")
    bad = [value for value in values if not valid(value)]
    if bad:
        raise ValueError(f"{name} must hold {what}; {bad!r} is not.")


def _is_positive_int(value):
    return isinstance(value, Integral) and not isinstance(value, bool) and value >= 1


def _image_shape(space, input_shape):
    if len(input_shape) != 3:
        raise ValueError(
            f"{type(space).__name__} builds networks for images of shape (channels, height, width); "
            f"got input_shape={tuple(input_shape)}. Pass image arrays (N, H, W) or (N, C, H, W), "
            "or use an MLP space (search_space='mlp') for tabular data."
        )
    return tuple(int(v) for v in input_shape)


def _axis_strides(stride, height, width):
    """Per-axis stride that leaves an axis of length 1 alone, so feature maps never shrink below 1x1."""
    return (stride if height > 1 else 1, stride if width > 1 else 1)


# =========================================================================== factorized


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
        k, pad = choice.kernel_size, choice.kernel_size // 2
        if choice.block == "mbconv":
            hidden = n_in * choice.expansion
            layers = []
            if choice.expansion != 1:
                layers += [nn.Conv2d(n_in, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU()]
            layers += [
                nn.Conv2d(hidden, hidden, k, stride, pad, groups=hidden, bias=False),
                nn.BatchNorm2d(hidden),
                nn.ReLU(),
            ]
            if choice.se:
                layers.append(SqueezeExcite(hidden, max(1, n_in // 4)))
            layers += [nn.Conv2d(hidden, n_out, 1, bias=False), nn.BatchNorm2d(n_out)]
        else:
            if choice.block == "conv":
                layers = [nn.Conv2d(n_in, n_out, k, stride, pad, bias=False), nn.BatchNorm2d(n_out), nn.ReLU()]
            else:
                layers = [
                    nn.Conv2d(n_in, n_in, k, stride, pad, groups=n_in, bias=False),
                    nn.BatchNorm2d(n_in),
                    nn.ReLU(),
                    nn.Conv2d(n_in, n_out, 1, bias=False),
                    nn.BatchNorm2d(n_out),
                    nn.ReLU(),
                ]
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
        self.stem = conv_bn_relu(n_channels, stem_channels, 3)
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


# =========================================================================== hierarchical

#: Level-1 operations of :class:`HierarchicalSpace`; each maps C channels to C at the same resolution.
PRIMITIVES = (
    "conv1x1",
    "conv3x3",
    "sepconv3x3",
    "dwconv3x3",
    "maxpool3x3",
    "avgpool3x3",
    "identity",
    "none",
)
NONE = "none"


def _edges(n_nodes):
    """The upper-triangular adjacency entries ``(i, j)``, ``i < j``, in row-major order."""
    return [(i, j) for i in range(n_nodes) for j in range(i + 1, n_nodes)]


def _n_nodes(n_entries):
    return (1 + math.isqrt(1 + 8 * n_entries)) // 2


def _is_valid_motif(entries, n_nodes):
    """Every node but the input has an incoming edge and every node but the output an outgoing one.

    Together these put every node on a path from the input (node 0) to the
    output (node ``n_nodes - 1``): nothing is computed and thrown away, and
    nothing is missing an input.
    """
    has_in, has_out = [False] * n_nodes, [False] * n_nodes
    for (i, j), entry in zip(_edges(n_nodes), entries):
        if entry != NONE:
            has_out[i] = has_in[j] = True
    return all(has_in[1:]) and all(has_out[:-1])


def _count_valid_motifs(n_nodes, n_ops, has_none):
    """Exact number of valid motifs: adjacency entries labelled with one of ``n_ops`` operations or none.

    Inclusion-exclusion over the set ``S`` of non-output nodes forced to have
    no outgoing edge; given ``S``, each node ``j >= 1`` independently needs
    at least one incoming edge from the ``a_j`` allowed sources, in
    ``(n_ops + 1) ** a_j - 1`` ways.
    """
    if not has_none:
        return n_ops ** (n_nodes * (n_nodes - 1) // 2)
    total = 0
    for subset in range(2 ** (n_nodes - 1)):
        term = 1
        for j in range(1, n_nodes):
            sources = sum(1 for i in range(j) if not subset >> i & 1)
            term *= (n_ops + 1) ** sources - 1
            if not term:
                break
        total += -term if bin(subset).count("1") % 2 else term
    return total


@dataclass(frozen=True)
class HierarchicalArchitecture:
    """The motifs of every level, as nested tuples.

    ``motifs[t][m]`` is motif ``m`` of level ``t + 2`` (level 1 being the
    primitives): the tuple of its upper-triangular adjacency entries
    ``(i, j)``, ``i < j``, in row-major order (``(0, 1), (0, 2), ...,
    (1, 2), ...``). An entry of a level-2 motif names a primitive; an entry of
    a higher level is the index of a motif one level down; ``'none'`` is no
    edge. The last level holds one motif, the cell.
    """

    motifs: tuple

    def adjacency(self, level, index):
        """The ``n_nodes x n_nodes`` adjacency matrix of motif ``index`` of ``level`` (``None`` below the diagonal)."""
        entries = self.motifs[level - 2][index]
        n_nodes = _n_nodes(len(entries))
        matrix = [[None] * n_nodes for _ in range(n_nodes)]
        for (i, j), entry in zip(_edges(n_nodes), entries):
            matrix[i][j] = entry
        return matrix

    def __str__(self):
        parts = []
        for t, level in enumerate(self.motifs):
            for m, entries in enumerate(level):
                edges = _edges(_n_nodes(len(entries)))
                text = " ".join(
                    f"{i}>{j}:{entry if t == 0 else f'm{entry}'}"
                    for (i, j), entry in zip(edges, entries)
                    if entry != NONE
                )
                parts.append(f"L{t + 2}.{m}[{text}]")
        return " ".join(parts)


def _primitive(name, channels):
    if name == "conv1x1":
        return conv_bn_relu(channels, channels, 1)
    if name == "conv3x3":
        return conv_bn_relu(channels, channels, 3)
    if name == "sepconv3x3":
        return separable_conv(channels, channels, 3)
    if name == "dwconv3x3":
        return conv_bn_relu(channels, channels, 3, groups=channels)
    if name == "maxpool3x3":
        return nn.MaxPool2d(3, stride=1, padding=1)
    if name == "avgpool3x3":
        return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
    if name == "identity":
        return nn.Identity()
    raise ValueError(f"unknown primitive {name!r}")


class Motif(nn.Module):
    """A built motif: node 0 is the input; node ``j`` sums its incoming edges; the last node is the output.

    ``level`` and ``index`` name the genotype motif it was built from, so the
    copies of one motif at different edges can be recognised (they share the
    structure, not the weights, as in Liu et al. 2018).
    """

    def __init__(self, level, index, n_nodes, edges):
        super().__init__()
        self.level, self.index, self.n_nodes = level, index, n_nodes
        self.pairs = list(edges)
        self.edges = nn.ModuleList(edges.values())

    def forward(self, x):
        nodes = [x] + [None] * (self.n_nodes - 1)
        for (i, j), edge in zip(self.pairs, self.edges):  # row-major: node i is complete before it is read
            out = edge(nodes[i])
            nodes[j] = out if nodes[j] is None else nodes[j] + out
        return nodes[-1]


class Reduction(nn.Module):
    """Separable 3x3 convolution with stride 2 (per axis, see :func:`_axis_strides`) that doubles channels."""

    def __init__(self, n_in, n_out, stride):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(n_in, n_in, 3, stride, 1, groups=n_in, bias=False),
            nn.Conv2d(n_in, n_out, 1, bias=False),
            nn.BatchNorm2d(n_out),
            nn.ReLU(),
        )

    def forward(self, x):
        return self.body(x)


class HierarchicalNet(nn.Module):
    """Stem, cells (the top motif) with reductions between them, global average pooling, ``head``."""

    def __init__(self, architecture, input_shape, n_outputs, channels, n_cells):
        super().__init__()
        n_channels, height, width = input_shape
        self.architecture = architecture
        self.stem = conv_bn_relu(n_channels, channels, 3)
        top = len(architecture.motifs) + 1
        layers = []
        for cell in range(n_cells):
            if cell:
                strides = _axis_strides(2, height, width)
                layers.append(Reduction(channels, 2 * channels, strides))
                channels *= 2
                height, width = math.ceil(height / strides[0]), math.ceil(width / strides[1])
            layers.append(self._build_motif(top, 0, channels))
        self.cells = nn.Sequential(*layers)
        self.head = nn.Linear(channels, n_outputs)

    def _build_motif(self, level, index, channels):
        entries = self.architecture.motifs[level - 2][index]
        edges = {}
        for pair, entry in zip(_edges(_n_nodes(len(entries))), entries):
            if entry == NONE:
                continue
            if level == 2:
                edges[pair] = _primitive(entry, channels)
            else:
                edges[pair] = self._build_motif(level - 1, entry, channels)
        return Motif(level, index, _n_nodes(len(entries)), edges)

    def forward(self, x):
        return self.head(self.cells(self.stem(x)).mean(dim=(2, 3)))


class HierarchicalSpace(SearchSpace):
    """Motifs of motifs, after Liu et al. 2018 ("Hierarchical Representations for Efficient Architecture Search").

    Level 1 is the ``primitives``. A level-``k`` motif is a DAG over its
    nodes (node 0 the input, the last node the output) whose upper-triangular
    adjacency entry ``(i, j)`` names a level-``(k - 1)`` motif (a primitive at
    level 2) applied on the edge from node ``i`` to node ``j``, or ``'none'``
    for no edge. Each node sums its incoming edges: every primitive maps
    ``C`` channels to ``C`` at the same resolution, so any motif fits on any
    edge without the 1x1 projections that concatenation would need. Each use
    of a motif gets its own weights; what repeats is the structure. Every
    convolution is followed by batch normalisation and ReLU.

    Levels 2 to ``levels - 1`` hold ``n_motifs`` motifs each; level
    ``levels`` holds one, the cell. The network is a 3x3 stem convolution
    with ``channels`` channels, ``n_cells`` cells with a reduction (a
    separable 3x3 convolution of stride 2 that doubles the channels) between
    consecutive cells, global average pooling and a linear ``head``. A stride
    never reduces an axis of length 1.

    **Validity.** A motif is valid when every node except the input has an
    incoming edge and every node except the output an outgoing one, which
    puts every node on an input-to-output path. :meth:`sample` draws
    uniformly among valid motifs (rejection sampling) and :meth:`mutate`
    never removes an edge that validity needs. As in the paper a genotype
    may hold motifs that no higher motif uses; they count as different
    architectures.

    Parameters
    ----------
    levels : int, default=3
        Number of levels, the primitives included: 2 gives a flat cell over
        the primitives, 3 the paper's hierarchy.
    n_motifs : int or tuple of int, default=3
        Motifs at each of levels 2 to ``levels - 1`` (one int for all).
    n_nodes : int or tuple of int, default=4
        Nodes of the motifs at each of levels 2 to ``levels`` (one int for
        all); at least 2.
    primitives : tuple of str
        Level-1 operations among ``'conv1x1'``, ``'conv3x3'``,
        ``'sepconv3x3'``, ``'dwconv3x3'`` (depthwise), ``'maxpool3x3'``,
        ``'avgpool3x3'``, ``'identity'`` and ``'none'``. With ``'none'``,
        motifs of every level may leave out edges; without it, they are
        complete DAGs.
    channels : int, default=8
        Channels of the stem and of the first cell.
    n_cells : int, default=2

    See Also
    --------
    FactorizedSpace : MnasNet-like per-stage choices.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautoml.nas import HierarchicalSpace
    >>> space = HierarchicalSpace(levels=3, n_motifs=2, n_nodes=3)
    >>> arch = space.sample(np.random.default_rng(0))
    >>> net = space.build(arch, input_shape=(1, 8, 8), n_outputs=10)
    >>> net(torch.zeros(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> child = space.mutate(arch, np.random.default_rng(1))
    >>> space.contains(child), child != arch
    (True, True)
    >>> space.size()
    762048
    """

    takes_images = True

    def __init__(
        self,
        levels=3,
        n_motifs=3,
        n_nodes=4,
        primitives=("conv1x1", "conv3x3", "sepconv3x3", "maxpool3x3", "avgpool3x3", "identity", "none"),
        channels=8,
        n_cells=2,
    ):
        self.levels = levels
        self.n_motifs = n_motifs
        self.n_nodes = n_nodes
        self.primitives = primitives
        self.channels = channels
        self.n_cells = n_cells

    def _per_level(self, name, length):
        value = getattr(self, name)
        values = (value,) * length if _is_positive_int(value) else value
        if not (isinstance(values, tuple) and len(values) == length and all(map(_is_positive_int, values))):
            raise ValueError(
                f"{name} must be a positive integer or a tuple of {length} positive integers "
                f"(levels={self.levels}), got {value!r}."
            )
        return values

    def _structure(self):
        """(nodes, motif counts, edge options) per level 2..levels, after checking the settings."""
        if not (_is_positive_int(self.levels) and self.levels >= 2):
            raise ValueError(f"levels must be an integer >= 2 (level 1 is the primitives), got {self.levels!r}.")
        counts = (*self._per_level("n_motifs", self.levels - 2), 1)
        nodes = self._per_level("n_nodes", self.levels - 1)
        if min(nodes) < 2:
            raise ValueError(f"a motif needs at least 2 nodes (input and output); n_nodes={self.n_nodes!r}.")
        _check_options(self, "primitives", lambda v: v in PRIMITIVES, f"names among {PRIMITIVES}")
        if set(self.primitives) == {NONE}:
            raise ValueError("primitives must hold at least one operation besides 'none'.")
        for name in ("channels", "n_cells"):
            if not _is_positive_int(getattr(self, name)):
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}.")
        tail = (NONE,) if NONE in self.primitives else ()
        options = [tuple(self.primitives)] + [(*range(count), *tail) for count in counts[:-1]]
        return nodes, counts, options

    def _sample_motif(self, rng, n_nodes, options, max_tries=1000):
        n_entries = n_nodes * (n_nodes - 1) // 2
        for _ in range(max_tries):
            entries = tuple(options[k] for k in rng.integers(len(options), size=n_entries))
            if _is_valid_motif(entries, n_nodes):
                return entries
        # Rare with the usual settings: repair the last draw with chain edges (j - 1, j).
        ops = [option for option in options if option != NONE]
        entries, edges = list(entries), _edges(n_nodes)
        for j in range(1, n_nodes):
            if all(entries[edges.index((i, j))] == NONE for i in range(j)):
                entries[edges.index((j - 1, j))] = choose(rng, ops)
        for i in range(n_nodes - 1):
            if all(entries[edges.index((i, j))] == NONE for j in range(i + 1, n_nodes)):
                entries[edges.index((i, i + 1))] = choose(rng, ops)
        return tuple(entries)

    def sample(self, rng):
        nodes, counts, options = self._structure()
        return HierarchicalArchitecture(
            tuple(
                tuple(self._sample_motif(rng, n, opts) for _ in range(count))
                for n, count, opts in zip(nodes, counts, options)
            )
        )

    def _alternatives(self, entries, n_nodes, edge, options):
        """Values entry ``edge`` may take instead of its own, keeping the motif valid."""
        current = entries[edge]
        others = [option for option in options if option != current]
        if current != NONE and NONE in others:
            removed = entries[:edge] + (NONE,) + entries[edge + 1 :]
            if not _is_valid_motif(removed, n_nodes):
                others.remove(NONE)
        return others

    def mutate(self, architecture, rng):
        """Change one adjacency entry: a level, a motif of it, an edge of that, a new operation (as the paper)."""
        nodes, _, options = self._structure()
        candidates = {}  # level -> motif -> edges that can change
        for t, level in enumerate(architecture.motifs):
            for m, entries in enumerate(level):
                edges = [e for e in range(len(entries)) if self._alternatives(entries, nodes[t], e, options[t])]
                if edges:
                    candidates.setdefault(t, {})[m] = edges
        if not candidates:
            return architecture
        t = choose(rng, sorted(candidates))
        m = choose(rng, sorted(candidates[t]))
        edge = choose(rng, candidates[t][m])
        entries = architecture.motifs[t][m]
        new = choose(rng, self._alternatives(entries, nodes[t], edge, options[t]))
        motif = entries[:edge] + (new,) + entries[edge + 1 :]
        level = architecture.motifs[t][:m] + (motif,) + architecture.motifs[t][m + 1 :]
        return HierarchicalArchitecture(architecture.motifs[:t] + (level,) + architecture.motifs[t + 1 :])

    def encode(self, architecture):
        """One-hot of every adjacency entry of every motif of every level."""
        _, _, options = self._structure()
        return np.concatenate(
            [
                one_hot(entry, options[t])
                for t, level in enumerate(architecture.motifs)
                for entries in level
                for entry in entries
            ]
        )

    def build(self, architecture, input_shape, n_outputs):
        self._structure()
        input_shape = _image_shape(self, input_shape)
        if not self.contains(architecture):
            raise ValueError(f"{architecture!r} is not an architecture of {self!r}.")
        return HierarchicalNet(architecture, input_shape, n_outputs, self.channels, self.n_cells)

    def size(self):
        nodes, counts, options = self._structure()
        total = 1
        for n, count, opts in zip(nodes, counts, options):
            n_ops = sum(option != NONE for option in opts)
            total *= _count_valid_motifs(n, n_ops, NONE in opts) ** count
        return total

    def contains(self, architecture):
        nodes, counts, options = self._structure()
        if not (
            isinstance(architecture, HierarchicalArchitecture)
            and isinstance(architecture.motifs, tuple)
            and len(architecture.motifs) == len(counts)
        ):
            return False
        for level, n, count, opts in zip(architecture.motifs, nodes, counts, options):
            if not (isinstance(level, tuple) and len(level) == count):
                return False
            for entries in level:
                if not (
                    isinstance(entries, tuple)
                    and len(entries) == n * (n - 1) // 2
                    and all(_is_member(entry, opts) for entry in entries)
                    and _is_valid_motif(entries, n)
                ):
                    return False
        return True
