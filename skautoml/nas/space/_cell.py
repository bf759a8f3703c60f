"""Cell-based spaces (NASNet, DARTS): a stack of searched normal and reduction cells.

The survey's second family of search spaces: instead of a whole network, the
search picks two small graphs, a *normal* cell that keeps the resolution and
a *reduction* cell that halves it and doubles the channels, and the network
stacks copies of them. The architecture value holds only the two cells (a
genotype, as in DARTS), so a cell found on a shallow, narrow stack can be
built into a deeper, wider network for the final model
(:meth:`CellSpace.deeper`).
"""
import math
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...search import SearchSpace, choose, choose_other, one_hot
from ._modules import _axis_strides, conv_bn, stem_resolution
from ._options import _index

#: Operations a block may apply to each of its inputs.
CELL_OPERATIONS = (
    "conv3x3",
    "conv5x5",
    "sepconv3x3",
    "sepconv5x5",
    "dilconv3x3",
    "dilconv5x5",
    "maxpool",
    "avgpool",
    "identity",
    "zero",
)
#: Ways a block joins its two branches.
COMBINE_METHODS = ("add", "concat")


def _input_name(index):
    return ("c[k-2]", "c[k-1]")[index] if index < 2 else f"b{index - 2}"


@dataclass(frozen=True)
class Block:
    """One block of a cell: two inputs, an operation on each, and how to combine them.

    Inputs are indices into the cell's states: 0 is the output of the cell
    two back (``k-2``), 1 the output of the previous cell (``k-1``) and
    ``2 + i`` the output of block ``i`` of the same cell (only earlier
    blocks).
    """

    input1: int
    input2: int
    op1: str
    op2: str
    combine: str = "add"

    def __str__(self):
        sign = " + " if self.combine == "add" else " | "
        return f"{self.op1}({_input_name(self.input1)}){sign}{self.op2}({_input_name(self.input2)})"


@dataclass(frozen=True)
class CellArchitecture:
    """A genotype: the blocks of the normal cell and of the reduction cell.

    It holds no depth or width: those are settings of the :class:`CellSpace`
    that builds it, so the same value builds a shallow search network and a
    deep final one.
    """

    normal: tuple
    reduction: tuple

    def __str__(self):
        def cell(blocks):
            return ", ".join(f"b{i}={block}" for i, block in enumerate(blocks))

        return f"normal[{cell(self.normal)}] reduction[{cell(self.reduction)}]"


class CellSpace(SearchSpace):
    """Stacks of a searched normal cell and a searched reduction cell, for images.

    A cell has ``n_blocks`` blocks; block ``i`` picks two inputs among the
    outputs of the two previous cells and of blocks ``0..i-1``, an operation
    for each input and how to combine the two results: ``'add'`` (sum) or
    ``'concat'`` (concatenation, then a 1x1 convolution back to the cell's
    width, so every block has the same width). The cell's output is the
    concatenation of the blocks that no other block reads (NASNet's loose
    ends), brought back to the cell's width by a 1x1 convolution when there
    are several of them; so every cell outputs exactly its channel count.

    The network is a 3x3 stem convolution with ``initial_channels`` outputs
    (of stride ``stem_stride``), ``n_cells`` cells, global average pooling
    and a linear layer ``head``.
    ``n_reductions`` of the cells are reduction cells, evenly spread (at 1/3
    and 2/3 of the depth by default, as in DARTS); a reduction cell applies
    its operations with stride 2 to the cell inputs, halving the resolution
    (rounding up, so images smaller than the reductions allow still work),
    and has twice the channels of the cell before it.

    Cell inputs are calibrated where they do not fit: a 1x1 convolution where
    the channel count differs, a factorized reduction (two offset strided 1x1
    convolutions) where the cell two back has twice the resolution. Inputs
    that no block reads, and cells whose output never reaches the head, are
    left out of the built network (they could not learn).

    Operations (``ReLU -> conv -> batch norm``, as in DARTS):
    ``'conv3x3'``, ``'conv5x5'``; ``'sepconv3x3'``, ``'sepconv5x5'``
    (depthwise then pointwise); ``'dilconv3x3'``, ``'dilconv5x5'``
    (depthwise-separable with dilation 2); ``'maxpool'``, ``'avgpool'``
    (3x3); ``'identity'`` (a factorized reduction at stride 2) and
    ``'zero'`` (no connection: zeros of the output's shape).

    Architecture values are :class:`CellArchitecture` genotypes of
    :class:`Block`. Blocks are ordered: ``(a, b, op_a, op_b)`` and
    ``(b, a, op_b, op_a)`` are distinct values (counted apart by
    :meth:`size`) that build equivalent networks.

    Parameters
    ----------
    n_blocks : int, default=4
        Blocks per cell (DARTS uses 4, NASNet 5).
    operations : tuple of str, default=CELL_OPERATIONS
        Operations a block may apply, among those above.
    combine : tuple of str, default=('add', 'concat')
        Ways a block may combine its two branches.
    n_cells : int, default=5
        Cells in the network, reduction cells included; at least
        ``n_reductions + 1``.
    initial_channels : int, default=8
        Channels of the stem and of the cells before the first reduction.
        The defaults make a search network that trains on small images on a
        CPU; build the cell found into a bigger one with :meth:`deeper`
        (DARTS searches with 8 cells of 16 channels and trains its final
        CIFAR-10 model with 20 cells of 36).
    n_reductions : int, default=2
        Reduction cells; cell ``floor(j * n_cells / (n_reductions + 1))`` is
        the ``j``-th (for ``n_cells=8``: cells 2 and 5, as in DARTS).
    stem_stride : int, default=1
        Stride of the stem convolution: 2 halves the resolution before the
        first cell, which makes every cell of a 28x28 or 32x32 image about
        four times cheaper (``AutoNASClassifier`` uses 2 for images of at
        least 16 pixels a side, as for :class:`CNNSpace`).

    See Also
    --------
    CNNSpace : chains of layers, the entire-structured family.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautoml.nas import CellSpace
    >>> space = CellSpace(n_blocks=2, n_cells=3, initial_channels=8)
    >>> space.layout()
    ('normal', 'reduction', 'reduction')
    >>> arch = space.sample(np.random.default_rng(0))
    >>> net = space.build(arch, input_shape=(1, 8, 8), n_outputs=10)
    >>> net(torch.randn(2, 1, 8, 8)).shape
    torch.Size([2, 10])
    >>> space.contains(space.mutate(arch, np.random.default_rng(1)))
    True

    The same cells, stacked deeper and wider for the final model:

    >>> final = space.deeper(n_cells=8, initial_channels=16)
    >>> final.layout().count("normal"), final.contains(arch)
    (6, True)
    >>> big = final.build(arch, input_shape=(1, 8, 8), n_outputs=10)
    >>> sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in net.parameters())
    True
    """

    takes_images = True
    #: The continuous relaxations its supernet offers (DARTS, GDAS), a protocol of gradient strategies.
    supernet_relaxations = ("softmax", "gumbel")

    def __init__(
        self,
        n_blocks=4,
        operations=CELL_OPERATIONS,
        combine=COMBINE_METHODS,
        n_cells=5,
        initial_channels=8,
        n_reductions=2,
        stem_stride=1,
    ):
        self.n_blocks = n_blocks
        self.operations = operations
        self.combine = combine
        self.n_cells = n_cells
        self.initial_channels = initial_channels
        self.n_reductions = n_reductions
        self.stem_stride = stem_stride

    # ------------------------------------------------------------------ settings

    def _check_params(self):
        for name, minimum in (
            ("n_blocks", 1), ("n_cells", 1), ("initial_channels", 1), ("n_reductions", 0), ("stem_stride", 1)
        ):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
                raise ValueError(f"CellSpace needs an integer {name} >= {minimum}; got {name}={value!r}.")
        if self.n_cells < self.n_reductions + 1:
            raise ValueError(
                f"CellSpace needs n_cells >= n_reductions + 1 so that there is a normal cell; got "
                f"n_cells={self.n_cells} and n_reductions={self.n_reductions}."
            )
        for name, known in (("operations", CELL_OPERATIONS), ("combine", COMBINE_METHODS)):
            options = getattr(self, name)
            unknown = [option for option in options if option not in known]
            if not options or unknown or len(set(options)) != len(options):
                raise ValueError(
                    f"CellSpace {name} must be a non-empty tuple of distinct values among {known}; "
                    f"got {name}={options!r}."
                )

    def layout(self):
        """The type of each cell of the stack, ``'normal'`` or ``'reduction'``, in order."""
        self._check_params()
        positions = {j * self.n_cells // (self.n_reductions + 1) for j in range(1, self.n_reductions + 1)}
        return tuple("reduction" if k in positions else "normal" for k in range(self.n_cells))

    def deeper(self, n_cells=None, initial_channels=None):
        """This space with another depth or width: the same cells, stacked differently.

        Architecture values do not hold the depth or the width, so an
        architecture found in this space is a member of the new one and
        :meth:`build` makes it a network of ``n_cells`` cells starting at
        ``initial_channels`` channels (unchanged when None). The number of
        reduction cells stays the same.
        """
        params = dict(vars(self))
        if n_cells is not None:
            params["n_cells"] = n_cells
        if initial_channels is not None:
            params["initial_channels"] = initial_channels
        space = type(self)(**params)
        space._check_params()
        return space

    # ------------------------------------------------------------------ contract

    def _sample_cell(self, rng):
        return tuple(
            Block(
                input1=int(rng.integers(2 + i)),
                input2=int(rng.integers(2 + i)),
                op1=choose(rng, self.operations),
                op2=choose(rng, self.operations),
                combine=choose(rng, self.combine),
            )
            for i in range(self.n_blocks)
        )

    def sample(self, rng):
        self._check_params()
        return CellArchitecture(normal=self._sample_cell(rng), reduction=self._sample_cell(rng))

    def mutate(self, architecture, rng):
        """Change one input, operation or combination of one block of one of the two cells."""
        self._check_params()
        fields = ["input1", "input2"]  # a block always has at least two possible inputs
        if len(self.operations) > 1:
            fields += ["op1", "op2"]
        if len(self.combine) > 1:
            fields.append("combine")
        cell_name = choose(rng, ("normal", "reduction"))
        index = int(rng.integers(self.n_blocks))
        field = choose(rng, fields)
        blocks = list(getattr(architecture, cell_name))
        block = blocks[index]
        options = {
            "input1": range(2 + index),
            "input2": range(2 + index),
            "op1": self.operations,
            "op2": self.operations,
            "combine": self.combine,
        }[field]
        value = choose_other(rng, list(options), getattr(block, field))
        blocks[index] = replace(block, **{field: value})
        return replace(architecture, **{cell_name: tuple(blocks)})

    def encode(self, architecture):
        """One-hot codes of every decision: per cell, per block, both inputs, both operations, the combination."""
        self._check_params()
        parts = []
        for blocks in (architecture.normal, architecture.reduction):
            for i, block in enumerate(blocks):
                inputs = range(2 + i)
                parts += [
                    one_hot(block.input1, inputs),
                    one_hot(block.input2, inputs),
                    one_hot(block.op1, self.operations),
                    one_hot(block.op2, self.operations),
                    one_hot(block.combine, self.combine),
                ]
        return np.concatenate(parts)

    def build(self, architecture, input_shape, n_outputs):
        self._check_params()
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or any(int(v) < 1 for v in input_shape):
            raise ValueError(
                f"CellSpace builds networks for images of shape (channels, height, width); "
                f"got input_shape={input_shape}."
            )
        if not self.contains(architecture):
            raise ValueError(f"{architecture!r} is not an architecture of {self!r}.")
        return CellNet(
            architecture,
            tuple(int(v) for v in input_shape),
            int(n_outputs),
            self.layout(),
            self.initial_channels,
            self.stem_stride,
        )

    def supernet(self, input_shape, n_outputs, **options):
        """The weight-sharing supernet of this space (:class:`~skautoml.nas.oneshot.CellSupernet`), for one-shot search.

        ``options`` go to the supernet (``partial_channels``, ``tau``).
        """
        from ..oneshot import CellSupernet  # the supernet builds on this module

        return CellSupernet(self, input_shape, n_outputs, **options)

    def size(self):
        self._check_params()
        per_cell = 1
        for i in range(self.n_blocks):
            per_cell *= (2 + i) ** 2 * len(self.operations) ** 2 * len(self.combine)
        return per_cell**2

    def contains(self, architecture):
        if not isinstance(architecture, CellArchitecture):
            return False
        return self._contains_cell(architecture.normal) and self._contains_cell(architecture.reduction)

    def _contains_cell(self, blocks):
        if not isinstance(blocks, tuple) or len(blocks) != self.n_blocks:
            return False
        for i, block in enumerate(blocks):
            if not isinstance(block, Block):
                return False
            for index in (block.input1, block.input2):
                if type(index) is not int or not 0 <= index < 2 + i:
                    return False
            if block.op1 not in self.operations or block.op2 not in self.operations:
                return False
            if block.combine not in self.combine:
                return False
        return True

    # ------------------------------------------------------------------ decisions

    _BLOCK_FIELDS = ("input1", "input2", "op1", "op2", "combine")

    def decisions(self):
        """The architecture as categorical decisions, for the REINFORCE controller.

        Returns
        -------
        decisions : list of (str, int)
            ``(name, n_options)`` per cell (normal, then reduction), per
            block ``i``: its two inputs (among the ``2 + i`` states it may
            read), its two operations and the combination.
        """
        self._check_params()
        return [
            (f"{cell}.b{i}.{field}", n)
            for cell in ("normal", "reduction")
            for i in range(self.n_blocks)
            for field, n in zip(
                self._BLOCK_FIELDS, (2 + i, 2 + i, len(self.operations), len(self.operations), len(self.combine))
            )
        ]

    def from_decisions(self, tokens):
        """The :class:`CellArchitecture` of one option index per entry of :meth:`decisions`."""
        cells, position = [], 0
        for _ in range(2):
            blocks = []
            for _ in range(self.n_blocks):
                in1, in2, op1, op2, combine = tokens[position : position + 5]
                blocks.append(
                    Block(int(in1), int(in2), self.operations[op1], self.operations[op2], self.combine[combine])
                )
                position += 5
            cells.append(tuple(blocks))
        return CellArchitecture(*cells)

    def to_decisions(self, architecture):
        """The option indices that :meth:`from_decisions` turns into ``architecture``."""
        return [
            value
            for blocks in (architecture.normal, architecture.reduction)
            for b in blocks
            for value in (
                b.input1,
                b.input2,
                _index(self.operations, b.op1),
                _index(self.operations, b.op2),
                _index(self.combine, b.combine),
            )
        ]


# --------------------------------------------------------------------------- modules


class FactorizedReduce(nn.Module):
    """Halves the resolution (rounding up) and sets the channels with two strided 1x1 convolutions.

    The second convolution sees the input shifted by one pixel diagonally,
    so the two read different pixels (half of them, where one strided 1x1
    convolution reads a quarter). Along a side of length 1 there is nothing
    to shift.
    """

    def __init__(self, n_in, n_out):
        super().__init__()
        n_first = max(n_out // 2, 1)
        self.relu = nn.ReLU(inplace=False)
        self.first = nn.Conv2d(n_in, n_first, 1, bias=False)
        self.second = nn.Conv2d(n_in, n_out - n_first, 1, bias=False) if n_out > n_first else None
        self.bn = nn.BatchNorm2d(n_out)

    def forward(self, x):
        # Subsampling, then a 1x1 convolution, is a strided 1x1 convolution:
        # torch 2.13's CPU kernel for the latter was seen to corrupt the heap
        # in backward with one intra-op thread.
        x = self.relu(x)
        out = self.first(x[:, :, ::2, ::2])
        if self.second is not None:
            dy, dx = int(x.shape[2] > 1), int(x.shape[3] > 1)
            # Padding keeps odd sides at ceil(side / 2), like the first branch.
            shifted = F.pad(x, (0, dx, 0, dy))[:, :, dy::2, dx::2]
            out = torch.cat([out, self.second(shifted)], dim=1)
        return self.bn(out)


class Zero(nn.Module):
    """The absent connection: zeros with the shape the operation's output would have."""

    def __init__(self, stride):
        super().__init__()
        self.stride = stride

    def forward(self, x):
        # A product rather than new zeros keeps the input in the graph, so
        # whatever feeds only zero operations still receives (zero) gradients.
        return x[:, :, :: self.stride, :: self.stride].mul(0.0)

    def extra_repr(self):
        return f"stride={self.stride}"


def cell_operation(op, channels, stride):
    """The module of ``op`` from ``channels`` to ``channels`` channels at ``stride`` (1 or 2)."""
    if op in ("conv3x3", "conv5x5"):
        return conv_bn(channels, channels, int(op[-1]), stride, relu="before")
    if op in ("sepconv3x3", "sepconv5x5"):
        return conv_bn(channels, channels, int(op[-1]), stride, separable=True, relu="before")
    if op in ("dilconv3x3", "dilconv5x5"):
        return conv_bn(channels, channels, int(op[-1]), stride, dilation=2, separable=True, relu="before")
    if op == "maxpool":
        return nn.MaxPool2d(3, stride, padding=1)
    if op == "avgpool":
        return nn.AvgPool2d(3, stride, padding=1, count_include_pad=False)
    if op == "identity":
        return nn.Identity() if stride == 1 else FactorizedReduce(channels, channels)
    if op == "zero":
        return Zero(stride)
    raise ValueError(f"unknown cell operation {op!r}; known: {CELL_OPERATIONS}.")


def _calibration(shape, channels, size):
    """What brings a cell input of ``shape`` to ``channels`` channels at resolution ``size``."""
    n_in, height, width = shape
    if (height, width) != size:
        return FactorizedReduce(n_in, channels)
    if n_in != channels:
        return conv_bn(n_in, channels, relu="before")
    return nn.Identity()


class BlockModule(nn.Module):
    """The two operations of a :class:`Block` and their combination."""

    def __init__(self, block, channels, reduction):
        super().__init__()
        self.inputs = (block.input1, block.input2)
        # In a reduction cell the operations on the cell inputs halve the
        # resolution; block outputs are already reduced.
        strides = [2 if reduction and index < 2 else 1 for index in self.inputs]
        self.op1 = cell_operation(block.op1, channels, strides[0])
        self.op2 = cell_operation(block.op2, channels, strides[1])
        self.concat = conv_bn(2 * channels, channels, relu="before") if block.combine == "concat" else None

    def forward(self, states):
        a = self.op1(states[self.inputs[0]])
        b = self.op2(states[self.inputs[1]])
        return a + b if self.concat is None else self.concat(torch.cat([a, b], dim=1))


class Cell(nn.Module):
    """A normal or reduction cell with ``channels`` output channels.

    ``shape0`` and ``shape1`` are the shapes of the outputs of the cells two
    back and one back.
    """

    def __init__(self, blocks, channels, reduction, shape0, shape1):
        super().__init__()
        self.reduction = reduction
        self.channels = channels
        read = {index for block in blocks for index in (block.input1, block.input2)}
        size = tuple(shape1[1:])
        # Only the inputs some block reads: an unread calibration could not learn.
        self.calibrate = nn.ModuleDict(
            {
                str(index): _calibration(shape, channels, size)
                for index, shape in ((0, shape0), (1, shape1))
                if index in read
            }
        )
        self.blocks = nn.ModuleList(BlockModule(block, channels, reduction) for block in blocks)
        self.loose_ends = [i for i in range(len(blocks)) if 2 + i not in read]
        n_loose = len(self.loose_ends)
        self.output = conv_bn(n_loose * channels, channels, relu="before") if n_loose > 1 else None

    def forward(self, s0, s1):
        states = [
            self.calibrate["0"](s0) if "0" in self.calibrate else None,
            self.calibrate["1"](s1) if "1" in self.calibrate else None,
        ]
        for block in self.blocks:
            states.append(block(states))
        loose = [states[2 + i] for i in self.loose_ends]
        return loose[0] if self.output is None else self.output(torch.cat(loose, dim=1))

    def extra_repr(self):
        return f"{'reduction' if self.reduction else 'normal'}, channels={self.channels}"


class PrunedCell(nn.Module):
    """Stands for a cell whose output reaches neither the head nor a later cell."""

    def extra_repr(self):
        return "pruned: its output is never read"


class CellNet(nn.Module):
    """Stem, a stack of cells, global average pooling and the linear ``head``.

    ``layout`` gives the type of each cell. States ``0`` and ``1`` are the
    stem's output (the two inputs of the first cell); cell ``k`` reads states
    ``k`` and ``k + 1`` and writes state ``k + 2``.
    """

    def __init__(self, architecture, input_shape, n_outputs, layout, initial_channels, stem_stride=1):
        super().__init__()
        n_channels, height, width = input_shape
        channels = initial_channels
        self.stem = conv_bn(n_channels, channels, 3, stride=_axis_strides(stem_stride, height, width), relu=None)
        height, width = stem_resolution(stem_stride, height, width)
        cells = [architecture.reduction if kind == "reduction" else architecture.normal for kind in layout]
        # Shapes are fixed by position in the stack, whether or not a cell is pruned.
        shapes = [(channels, height, width)] * 2
        for kind in layout:
            if kind == "reduction":
                channels *= 2
                height, width = math.ceil(height / 2), math.ceil(width / 2)
            shapes.append((channels, height, width))
        # Walk back from the head: a cell is live when a live cell (or the head) reads it.
        live_states = {len(layout) + 1}
        for k in range(len(layout) - 1, -1, -1):
            if k + 2 in live_states:
                read = {index for block in cells[k] for index in (block.input1, block.input2)}
                live_states |= {k + index for index in read}
        self.live = [k + 2 in live_states for k in range(len(layout))]
        self.cells = nn.ModuleList(
            Cell(blocks, shapes[k + 2][0], kind == "reduction", shapes[k], shapes[k + 1])
            if self.live[k]
            else PrunedCell()
            for k, (kind, blocks) in enumerate(zip(layout, cells))
        )
        self.head = nn.Linear(shapes[-1][0], n_outputs)

    def forward(self, x):
        stem = self.stem(x)
        states = [stem, stem]
        for k, cell in enumerate(self.cells):
            states.append(cell(states[k], states[k + 1]) if self.live[k] else None)
        return self.head(states[-1].mean(dim=(2, 3)))
