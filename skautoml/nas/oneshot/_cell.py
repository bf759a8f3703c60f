"""The supernet of the cell space: every cell architecture a path, and the DARTS, GDAS and PC-DARTS relaxations.

Every edge of a cell (an earlier state into a block) holds every operation of
the space once; a path (one :class:`~skautoml.nas.CellArchitecture`) uses two
of them per block, a relaxation mixes them all. The stem, the cell input
calibrations, the head and the per-block and per-cell 1x1 projections are
held once at their largest size and used (or sliced) by every path, so a
subnet built from the space inherits its weights exactly.
"""
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..space._cell import Block, CellArchitecture, CellSpace, FactorizedReduce, _calibration, cell_operation
from ..space._modules import _axis_strides, conv_bn, stem_resolution
from ._base import Supernet

#: Operations without weights (at stride 1): the collapse rule of :meth:`CellSupernet.derive` limits them.
PARAMETER_FREE_OPERATIONS = ("identity", "maxpool", "avgpool", "zero")
#: Relaxations of :meth:`CellSupernet.relax`: DARTS's softmax and GDAS's hard Gumbel-softmax.
RELAXATIONS = CellSpace.supernet_relaxations


def _block_offsets(n_blocks):
    """The first row of each block's edges in an alpha table: block ``i`` has ``2 + i`` edges."""
    return [i * (i + 3) // 2 for i in range(n_blocks)]


def state_shapes(space, input_shape):
    """``(channels, height, width)`` of every state of a cell network: the stem twice, then each cell's output."""
    _, height, width = (int(v) for v in input_shape)
    channels = space.initial_channels
    height, width = stem_resolution(space.stem_stride, height, width)
    shapes = [(channels, height, width)] * 2
    for kind in space.layout():
        if kind == "reduction":
            channels, height, width = 2 * channels, -(-height // 2), -(-width // 2)
        shapes.append((channels, height, width))
    return shapes


def edge_input_shape(shapes, position, edge, reduction):
    """The input shape and stride of the mixed edge from state ``edge`` into a block of cell ``position``.

    Edges from the two (calibrated) cell inputs take the second input's
    resolution and, in a reduction cell, halve it; edges from earlier
    blocks are at the cell's output resolution.
    """
    channels, height, width = shapes[position + 2]
    if edge < 2:
        return (channels, *shapes[position + 1][1:]), 2 if reduction else 1
    return (channels, height, width), 1


def cells_at_positions(layout, architecture):
    """The blocks of each cell position of ``layout``: the architecture's normal or reduction cell."""
    return [architecture.reduction if kind == "reduction" else architecture.normal for kind in layout]


def derivable_operations(operations):
    """Indices of the operations a derivation may pick on an edge: every one but ``'zero'`` (all, if only
    ``'zero'`` is offered)."""
    return [o for o, op in enumerate(operations) if op != "zero"] or list(range(len(operations)))


def _live_cells(cells):
    """Which cells reach the head, walking back from it: ``space.build`` prunes the others."""
    live, needed = [False] * len(cells), {len(cells) + 1}
    for k in range(len(cells) - 1, -1, -1):
        if k + 2 in needed:
            live[k] = True
            needed |= {k + index for block in cells[k] for index in (block.input1, block.input2) if index < 2}
    return live


def _batch_norm(norm, x, index):
    """``norm`` on ``x``, whose channels are ``norm``'s channels ``index`` (a slice or an index tensor)."""
    tracking = norm.track_running_stats and norm.running_mean is not None
    if norm.training and tracking:
        norm.num_batches_tracked.add_(1)
    momentum = norm.momentum
    if momentum is None and tracking:  # cumulative average, as nn.BatchNorm2d does
        momentum = 1.0 / float(norm.num_batches_tracked)
    mean = norm.running_mean[index].clone() if tracking else None
    var = norm.running_var[index].clone() if tracking else None
    out = F.batch_norm(
        x,
        mean,
        var,
        norm.weight[index] if norm.affine else None,
        norm.bias[index] if norm.affine else None,
        norm.training or not tracking,
        0.0 if momentum is None else momentum,
        norm.eps,
    )
    if norm.training and tracking:
        # F.batch_norm updated the copies; an index tensor would not write through to the buffers.
        with torch.no_grad():
            norm.running_mean[index] = mean
            norm.running_var[index] = var
    return out


def _narrow(module, x, width):
    """A full-width cell operation on ``width`` channels, with the weights of its first ``width`` channels.

    PC-DARTS runs its operations on a fraction of the channels; slicing the
    full-width weights keeps one set of weights for the paths and the
    relaxation.
    """
    if isinstance(module, nn.Sequential):
        for layer in module:
            x = _narrow(layer, x, width)
        return x
    if isinstance(module, nn.Conv2d):
        if module.groups == 1:
            weight, groups = module.weight[:width, :width], 1
        elif module.groups == module.in_channels:  # depthwise
            weight, groups = module.weight[:width], width
        else:
            raise ValueError(f"cannot narrow a grouped convolution {module}.")
        return F.conv2d(x, weight, None, module.stride, module.padding, module.dilation, groups)
    if isinstance(module, nn.BatchNorm2d):
        return _batch_norm(module, x, slice(0, width))
    if isinstance(module, FactorizedReduce):
        # FactorizedReduce(width, width): its first half from `first`, its second from `second`.
        x = module.relu(x)
        n_first = max(width // 2, 1)
        out = F.conv2d(x[:, :, ::2, ::2], module.first.weight[:n_first, :width])
        index = list(range(n_first))
        if width > n_first:
            dy, dx = int(x.shape[2] > 1), int(x.shape[3] > 1)
            shifted = F.pad(x, (0, dx, 0, dy))[:, :, dy::2, dx::2]
            out = torch.cat([out, F.conv2d(shifted, module.second.weight[: width - n_first, :width])], dim=1)
            start = module.first.out_channels
            index += range(start, start + width - n_first)
        return _batch_norm(module.bn, out, torch.tensor(index, device=x.device))
    return module(x)  # ReLU, pooling, identity, zero: the same on any number of channels


def _channel_shuffle(x, groups):
    """Interleaves ``groups`` groups of channels (PC-DARTS: the next edge samples other channels)."""
    n, channels, height, width = x.shape
    return x.view(n, groups, channels // groups, height, width).transpose(1, 2).reshape(n, channels, height, width)


def _operation_elements(op, channels, stride, pixels_in, pixels_out):
    """Elements of the intermediate tensors of one cell operation, per sample (see ``estimate_memory``)."""
    if op in ("conv3x3", "conv5x5"):  # ReLU, convolution, batch norm
        return channels * pixels_in + 2 * channels * pixels_out
    if op[:3] in ("sep", "dil"):  # ReLU, depthwise, pointwise, batch norm
        return channels * pixels_in + 3 * channels * pixels_out
    if op in ("maxpool", "avgpool"):  # pooling, DARTS's normalisation of it
        return 2 * channels * pixels_out
    if op == "identity":  # factorized reduction at stride 2: ReLU, convolutions, concatenation, batch norm
        return 0 if stride == 1 else channels * pixels_in + 3 * channels * pixels_out
    return channels * pixels_out  # zero


def _module_elements(module, channels_in, pixels_in, channels_out, pixels_out):
    """Elements of the intermediate tensors of a calibration or projection, per sample."""
    if isinstance(module, FactorizedReduce):
        return channels_in * pixels_in + 3 * channels_out * pixels_out
    if isinstance(module, nn.Sequential):  # ReLU, 1x1 convolution, batch norm
        return channels_in * pixels_in + 2 * channels_out * pixels_out
    return 0  # identity


class MixedEdge(nn.Module):
    """Every operation of the space on one edge of a cell (one earlier state into one block), at full width."""

    def __init__(self, operations, channels, stride):
        super().__init__()
        self.channels = channels
        self.stride = stride
        self.ops = nn.ModuleDict({op: cell_operation(op, channels, stride) for op in operations})
        # DARTS normalises pooling outputs (no affine parameters) in its search network only, so they are
        # on the scale of the batch-normed convolutions they are mixed with; paths do not use these.
        self.pool_norms = nn.ModuleDict(
            {op: nn.BatchNorm2d(channels, affine=False) for op in operations if op in ("maxpool", "avgpool")}
        )

    def _run(self, op, x, width):
        out = self.ops[op](x) if width is None else _narrow(self.ops[op], x, width)
        if op in self.pool_norms:
            out = _batch_norm(self.pool_norms[op], out, slice(0, out.shape[1]))
        return out

    def forward(self, x, weights, index=None, partial=None):
        """The relaxed edge: every operation weighted by ``weights`` (DARTS), or only ``index`` (GDAS).

        With ``partial=k`` (PC-DARTS) the operations see the first ``1/k`` of
        the channels; the others bypass them (max-pooled where the edge
        halves the resolution) and the channels are shuffled.
        """
        width = None if partial is None else self.channels // partial
        inputs = x if width is None else x[:, :width]
        if index is None:
            out = sum(w * self._run(op, inputs, width) for w, op in zip(weights, self.ops))
        else:
            # Only the sampled operation runs; the other weights are zero in value but stay in the sum,
            # so their gradients flow (GDAS's straight-through estimator).
            pairs = enumerate(zip(weights, self.ops))
            out = sum(w * self._run(op, inputs, width) if o == index else w for o, (w, op) in pairs)
        if width is None:
            return out
        bypass = x[:, width:]
        if bypass.shape[2:] != out.shape[2:]:
            bypass = F.max_pool2d(bypass, 2, 2, ceil_mode=True)
        return _channel_shuffle(torch.cat([out, bypass], dim=1), partial)


class MixedBlock(nn.Module):
    """The edges into block ``index`` of a cell, and its ``'concat'`` 1x1 convolution when the space has one."""

    def __init__(self, index, space, channels, reduction):
        super().__init__()
        # In a reduction cell the operations on the two cell inputs halve the resolution.
        self.edges = nn.ModuleList(
            MixedEdge(space.operations, channels, 2 if reduction and j < 2 else 1) for j in range(2 + index)
        )
        self.concat = conv_bn(2 * channels, channels, relu="before") if "concat" in space.combine else None

    def forward_path(self, states, block):
        a = self.edges[block.input1].ops[block.op1](states[block.input1])
        if (block.input2, block.op2) == (block.input1, block.op1):
            b = a  # one module per (input, operation): the built block's two copies compute the same
        else:
            b = self.edges[block.input2].ops[block.op2](states[block.input2])
        return a + b if block.combine == "add" else self.concat(torch.cat([a, b], dim=1))

    def forward(self, states, weights, indices, edge_weights, partial):
        """DARTS's node: the sum of its mixed edges from every earlier state (each weighted by PC-DARTS's betas)."""
        total = 0
        for j, (edge, state) in enumerate(zip(self.edges, states)):
            out = edge(state, weights[j], None if indices is None else indices[j], partial)
            total = total + (out if edge_weights is None else edge_weights[j] * out)
        return total


class SupernetCell(nn.Module):
    """One cell position of the supernet: its calibrations, its mixed blocks and the projection of all blocks."""

    def __init__(self, space, channels, reduction, shape0, shape1):
        super().__init__()
        self.channels = channels
        self.reduction = reduction
        # Calibrations depend on the position only; a path computes the ones its blocks read.
        self.calibrate = nn.ModuleList(_calibration(shape, channels, tuple(shape1[1:])) for shape in (shape0, shape1))
        self.blocks = nn.ModuleList(MixedBlock(i, space, channels, reduction) for i in range(space.n_blocks))
        # The built cell projects its loose ends; held for every block, a path uses its loose ends' columns.
        self.output = conv_bn(space.n_blocks * channels, channels, relu="before") if space.n_blocks > 1 else None

    def columns(self, loose_ends):
        """The input columns of the output projection that the blocks ``loose_ends`` feed."""
        device = self.output[1].weight.device
        return torch.cat([torch.arange(i * self.channels, (i + 1) * self.channels, device=device) for i in loose_ends])

    def forward_path(self, s0, s1, blocks):
        read = {index for block in blocks for index in (block.input1, block.input2)}
        states = [self.calibrate[j](s) if j in read else None for j, s in enumerate((s0, s1))]
        for block, module in zip(blocks, self.blocks):
            states.append(module.forward_path(states, block))
        loose_ends = [i for i in range(len(blocks)) if 2 + i not in read]
        if len(loose_ends) == 1:
            return states[2 + loose_ends[0]]
        relu, conv, norm = self.output
        x = torch.cat([states[2 + i] for i in loose_ends], dim=1)
        return norm(F.conv2d(relu(x), conv.weight[:, self.columns(loose_ends)]))

    def forward(self, s0, s1, weights, indices, edge_weights, partial):
        states = [self.calibrate[0](s0), self.calibrate[1](s1)]
        for start, block in zip(_block_offsets(len(self.blocks)), self.blocks):
            stop = start + len(block.edges)
            states.append(
                block(
                    states,
                    weights[start:stop],
                    None if indices is None else indices[start:stop],
                    None if edge_weights is None else edge_weights[start:stop],
                    partial,
                )
            )
        # DARTS's cell output: every block, concatenated (here projected back to the cell's width).
        return states[2] if self.output is None else self.output(torch.cat(states[2:], dim=1))


class CellSupernet(Supernet):
    """The weight-sharing supernet of a :class:`~skautoml.nas.CellSpace`, with DARTS, GDAS and PC-DARTS relaxations.

    Every cell position holds, for each block, one mixed edge from each
    earlier state (the two cell inputs and the earlier blocks), and each
    edge every operation of ``space.operations``: one module per (cell,
    block, input state, operation). The stem, the calibrations of the two
    cell inputs, the head, each block's ``'concat'`` 1x1 convolution and
    each cell's output projection (over all its blocks) are held once.

    **Paths.** ``set_path(architecture)`` (or ``sample_paths(rng)``) makes
    ``forward`` compute exactly that architecture: each block applies its
    two operations and combines them as the path says (every combine option
    of the space works: ``'add'`` sums, ``'concat'`` uses the block's 1x1
    convolution); the cell output projects the loose-end blocks with the
    projection's columns of those blocks; inputs and cells the head never
    reads are skipped, as ``space.build`` prunes them. :meth:`subnet` builds
    the architecture with the space and copies these weights in, so in eval
    mode (and in train mode, where batch norm uses batch statistics) its
    output equals the supernet's on the path. A block that applies the same
    operation to the same input twice uses that one module (its copies in the
    subnet start equal).

    **Relaxations** (:meth:`relax`). Architecture parameters (alphas), one
    table per cell type, ``alpha_normal`` and ``alpha_reduction``, of shape
    ``(n_edges, n_operations)``: the row of block ``i``'s edge from state
    ``j`` is ``i * (i + 3) // 2 + j`` (DARTS's layout; 14 rows for 4
    blocks), the columns follow ``space.operations``. Every cell of a type
    shares its table.

    * ``'softmax'`` (DARTS): each edge is the softmax-weighted sum of its
      operations, each block the sum of its edges from all earlier states,
      each cell the projection of all its blocks concatenated.
    * ``'gumbel'`` (GDAS): per forward and cell type, a Gumbel-softmax
      sample at temperature :attr:`tau` of ``log_softmax(alpha)``; forward
      uses its one-hot argmax (only that operation runs on each edge), the
      backward the soft sample's gradient (straight through).
    * ``partial_channels=k`` (PC-DARTS, with either relaxation): each mixed
      edge runs its operations on the first ``1/k`` of the channels, the
      others bypass it, then the channels are shuffled; edge normalisation
      weights each block's edges by ``softmax(beta)`` (``beta_normal``,
      ``beta_reduction``: one per edge).

    ``combine`` is not relaxed: a relaxed block sums its edges, as DARTS's
    nodes do, and :meth:`derive` returns ``'add'`` (or, if the space has no
    ``'add'``, its first option, whose 1x1 convolution the relaxation then
    does not train).

    Parameters
    ----------
    space : CellSpace
        The space whose architectures are the paths.
    input_shape : tuple of int
        Shape of one image, ``(channels, height, width)``.
    n_outputs : int
        Logits per sample.
    partial_channels : int, default=None
        PC-DARTS's ``k`` (it uses 4): the fraction ``1/k`` of the channels
        the relaxed mixed edges compute, plus edge normalisation. It must
        divide ``space.initial_channels``. None: every channel, no betas.
    tau : float, default=10.0
        GDAS's Gumbel-softmax temperature; a strategy anneals the attribute
        (GDAS goes from 10 to 0.1).

    Attributes
    ----------
    relaxation : {'softmax', 'gumbel'} or None
        The relaxation set by :meth:`relax`; a path set or sampled takes
        precedence.
    layout : tuple of str
        ``space.layout()``: the type of each cell position.
    stem, cells, head : nn.Module
        The shared weights; ``cells[k].blocks[i].edges[j].ops[op]`` is the
        module of ``op`` on block ``i``'s edge from state ``j`` of cell ``k``.

    Notes
    -----
    What differs from the reference implementations, and why:

    * the operations keep their affine batch norms in the relaxed modes
      (DARTS's search network has none): the weights are the paths' ones;
      pooling outputs do get DARTS's affine-free batch norm when relaxed;
    * PC-DARTS's operations on ``C/k`` channels are the first ``C/k``
      channels of the full-width operations (their weights sliced), so that
      the paths and the relaxation share one set of weights;
    * GDAS searches both cell types here, as GDAS does (its FRC variant fixes
      the reduction cell);
    * the first-order or second-order (unrolled) update of the alphas is the
      strategy's business, not the supernet's.

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautoml.nas import CellSpace
    >>> from skautoml.nas.oneshot import CellSupernet
    >>> space = CellSpace(n_blocks=2, n_cells=3, initial_channels=4)
    >>> supernet = CellSupernet(space, input_shape=(1, 8, 8), n_outputs=10)
    >>> x = torch.randn(2, 1, 8, 8)

    Any architecture of the space is a path, and its subnet inherits the
    weights:

    >>> arch = space.sample(np.random.default_rng(0))
    >>> supernet = supernet.set_path(arch).eval()
    >>> subnet = supernet.subnet(arch)
    >>> torch.allclose(supernet(x), subnet(x), atol=1e-6)
    True

    DARTS: a softmax over the operations of every edge, alphas learned by
    gradient, then the discrete cells:

    >>> supernet = supernet.relax("softmax").train()
    >>> supernet(x).shape
    torch.Size([2, 10])
    >>> [tuple(a.shape) for a in supernet.arch_parameters()]
    [(5, 10), (5, 10)]
    >>> space.contains(supernet.derive(max_parameter_free=2))
    True
    """

    def __init__(self, space, input_shape, n_outputs, partial_channels=None, tau=10.0):
        super().__init__(space, input_shape, n_outputs)
        if not isinstance(space, CellSpace):
            raise TypeError(f"CellSupernet needs a CellSpace; got {type(space).__name__}.")
        self.layout = space.layout()  # checks the space's settings
        if len(self.input_shape) != 3 or any(int(v) < 1 for v in self.input_shape):
            raise ValueError(
                f"CellSupernet takes images of shape (channels, height, width); got input_shape={input_shape}."
            )
        k = partial_channels
        if k is not None and (
            isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1 or space.initial_channels % k
        ):
            raise ValueError(
                f"partial_channels must be None or a positive integer dividing initial_channels="
                f"{space.initial_channels}; got partial_channels={k!r}."
            )
        self.partial_channels = partial_channels
        self.tau = tau
        self.relaxation = None

        n_channels, height, width = (int(v) for v in self.input_shape)
        stride = _axis_strides(space.stem_stride, height, width)
        self.stem = conv_bn(n_channels, space.initial_channels, 3, stride=stride, relu=None)
        self._shapes = state_shapes(space, self.input_shape)
        self.cells = nn.ModuleList(
            SupernetCell(space, self._shapes[k + 2][0], kind == "reduction", self._shapes[k], self._shapes[k + 1])
            for k, kind in enumerate(self.layout)
        )
        self.head = nn.Linear(self._shapes[-1][0], n_outputs)

        self._offsets = _block_offsets(space.n_blocks)
        n_edges = self._offsets[-1] + space.n_blocks + 1
        # DARTS's initialisation: almost uniform mixtures.
        self.alpha_normal = nn.Parameter(1e-3 * torch.randn(n_edges, len(space.operations)))
        self.alpha_reduction = nn.Parameter(1e-3 * torch.randn(n_edges, len(space.operations)))
        if partial_channels is not None:
            self.beta_normal = nn.Parameter(1e-3 * torch.randn(n_edges))
            self.beta_reduction = nn.Parameter(1e-3 * torch.randn(n_edges))

    # ------------------------------------------------------------------ parameters

    def arch_parameters(self):
        """The architecture parameters: the alphas (normal, reduction), then PC-DARTS's betas."""
        names = ["alpha_normal", "alpha_reduction"]
        if self.partial_channels is not None:
            names += ["beta_normal", "beta_reduction"]
        return [getattr(self, name) for name in names]

    def weight_parameters(self):
        """Every other parameter: the operations' weights, which a strategy trains on the training split."""
        arch = {id(p) for p in self.arch_parameters()}
        return [p for p in self.parameters() if id(p) not in arch]

    # ------------------------------------------------------------------ modes

    def relax(self, mode):
        """Use the relaxation ``mode`` (``'softmax'``: DARTS, ``'gumbel'``: GDAS; None: none); returns ``self``.

        It drops the path set or sampled, since a path takes precedence.
        """
        if mode is not None and mode not in RELAXATIONS:
            raise ValueError(f"unknown relaxation {mode!r}; CellSupernet offers {RELAXATIONS} (or None).")
        self.set_path(None)
        self.relaxation = mode
        return self

    def forward(self, x):
        path = self.current_path()
        if path is not None:
            return self._path_forward(x, path)
        if self.relaxation is None:
            raise RuntimeError(
                "CellSupernet has nothing to compute: call set_path(architecture), sample_paths(rng) or relax(mode) "
                "first."
            )
        return self._relaxed_forward(x)

    def _path_forward(self, x, architecture):
        cells = cells_at_positions(self.layout, architecture)
        stem = self.stem(x)
        states = [stem, stem]
        for k, (cell, live) in enumerate(zip(self.cells, _live_cells(cells))):
            states.append(cell.forward_path(states[k], states[k + 1], cells[k]) if live else None)
        return self.head(states[-1].mean(dim=(2, 3)))

    def _operation_weights(self, alpha):
        """Per edge, the operations' weights and (GDAS) the index of the one to run."""
        if self.relaxation == "softmax":
            return F.softmax(alpha, dim=-1), None
        if not self.tau > 0:
            raise ValueError(f"the Gumbel-softmax temperature tau must be positive; got tau={self.tau!r}.")
        for _ in range(100):
            gumbels = -torch.empty_like(alpha).exponential_().log()
            probs = F.softmax((alpha.log_softmax(dim=-1) + gumbels) / self.tau, dim=-1)
            # GDAS's reference draws again in the rare case of an infinite sample.
            if torch.isfinite(gumbels).all() and torch.isfinite(probs).all():
                break
        else:
            raise FloatingPointError("the Gumbel-softmax sample is not finite: are the alphas finite?")
        index = probs.argmax(dim=-1)
        hard = torch.zeros_like(probs).scatter_(-1, index[:, None], 1.0)
        return hard - probs.detach() + probs, index.tolist()

    def _edge_weights(self, beta):
        """PC-DARTS's edge normalisation: a softmax over the edges into each block."""
        return torch.cat([F.softmax(beta[start : start + 2 + i], dim=-1) for i, start in enumerate(self._offsets)])

    def _relaxed_forward(self, x):
        partial = self.partial_channels if self.partial_channels not in (None, 1) else None
        mixing = {}
        for kind in dict.fromkeys(self.layout):  # in a fixed order, so a seed fixes GDAS's samples
            weights, indices = self._operation_weights(getattr(self, f"alpha_{kind}"))
            betas = None if self.partial_channels is None else self._edge_weights(getattr(self, f"beta_{kind}"))
            mixing[kind] = (weights, indices, betas)
        stem = self.stem(x)
        states = [stem, stem]
        for k, cell in enumerate(self.cells):
            states.append(cell(states[k], states[k + 1], *mixing[self.layout[k]], partial))
        return self.head(states[-1].mean(dim=(2, 3)))

    # ------------------------------------------------------------------ paths

    def subnet(self, architecture):
        """``space.build(architecture, ...)`` with the weights (and batch-norm statistics) of its path copied in.

        The network is on the supernet's device and in its train or eval mode.
        """
        net = self.space.build(architecture, self.input_shape, self.n_outputs).to(self.head.weight.device)
        net.stem.load_state_dict(self.stem.state_dict())
        net.head.load_state_dict(self.head.state_dict())
        for k, (blocks, built, source) in enumerate(zip(cells_at_positions(self.layout, architecture), net.cells, self.cells)):
            if not net.live[k]:
                continue
            for key, module in built.calibrate.items():
                module.load_state_dict(source.calibrate[int(key)].state_dict())
            for block, module, mixed in zip(blocks, built.blocks, source.blocks):
                module.op1.load_state_dict(mixed.edges[block.input1].ops[block.op1].state_dict())
                module.op2.load_state_dict(mixed.edges[block.input2].ops[block.op2].state_dict())
                if module.concat is not None:
                    module.concat.load_state_dict(mixed.concat.state_dict())
            if built.output is not None:
                _, conv, norm = source.output
                with torch.no_grad():
                    built.output[1].weight.copy_(conv.weight[:, source.columns(built.loose_ends)])
                built.output[2].load_state_dict(norm.state_dict())
        return net.train(self.training)

    def strengths(self):
        """Per cell type, the strength of every operation on every edge: ``softmax(alpha)`` per edge, times the
        edge's normalised beta with partial channels (as PC-DARTS derives); ``{'normal': ndarray, 'reduction':
        ndarray}`` of the alpha tables' shape."""
        strengths = {}
        for kind in ("normal", "reduction"):
            with torch.no_grad():
                strength = F.softmax(getattr(self, f"alpha_{kind}"), dim=-1)
                if self.partial_channels is not None:
                    strength = strength * self._edge_weights(getattr(self, f"beta_{kind}"))[:, None]
            strengths[kind] = strength.cpu().numpy()
        return strengths

    def derive(self, max_parameter_free=None, costs=None):
        """The discrete architecture of the alphas, as DARTS derives its genotype.

        Per block, the two input edges whose strongest operation other than
        ``'zero'`` is strongest, each with that operation (strengths:
        :meth:`strengths`). Combine: ``'add'`` (what the relaxation
        computes) when the space has it, else its first option.

        Parameters
        ----------
        max_parameter_free : int, default=None
            DARTS collapses to parameter-free operations
            (``PARAMETER_FREE_OPERATIONS``); at most this many per cell are
            kept, the strongest: each weaker one is replaced by its edge's
            strongest operation with parameters. None: no limit.
        costs : CellCosts or None, default=None
            Hard limits: the derived architecture's operations (then, if
            need be, inputs) are then replaced by cheaper ones until it is
            within them (:meth:`CellCosts.within`).

        Returns
        -------
        architecture : CellArchitecture
        """
        limit = max_parameter_free
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, np.integer)) or limit < 0):
            raise ValueError(f"max_parameter_free must be None or an integer >= 0; got {max_parameter_free!r}.")
        strengths = self.strengths()
        architecture = CellArchitecture(
            normal=self._discretise(strengths["normal"], max_parameter_free),
            reduction=self._discretise(strengths["reduction"], max_parameter_free),
        )
        return architecture if costs is None else costs.within(architecture, strengths, max_parameter_free)

    def _discretise(self, strength, max_parameter_free):
        operations = self.space.operations
        candidates = derivable_operations(operations)
        parametric = [o for o, op in enumerate(operations) if op not in PARAMETER_FREE_OPERATIONS]
        choices = []  # per block, [input, operation index] of its two inputs
        for i, start in enumerate(self._offsets):
            rows = strength[start : start + 2 + i]
            best = [max(candidates, key=row.__getitem__) for row in rows]
            inputs = sorted(range(2 + i), key=lambda j: -rows[j][best[j]])[:2]
            choices.append([[j, best[j]] for j in inputs])
        if max_parameter_free is not None:
            free = [
                (strength[self._offsets[i] + j][o], i, slot)
                for i, pair in enumerate(choices)
                for slot, (j, o) in enumerate(pair)
                if operations[o] in PARAMETER_FREE_OPERATIONS
            ]
            excess = len(free) - max_parameter_free
            if excess > 0 and not parametric:
                raise ValueError(
                    f"cannot keep at most {max_parameter_free} parameter-free operations per cell: the space's "
                    f"operations {operations} have none with parameters."
                )
            for _, i, slot in sorted(free)[: max(excess, 0)]:
                row = strength[self._offsets[i] + choices[i][slot][0]]
                choices[i][slot][1] = max(parametric, key=row.__getitem__)
        combine = "add" if "add" in self.space.combine else self.space.combine[0]
        return tuple(
            Block(int(a), int(b), operations[op_a], operations[op_b], combine) for (a, op_a), (b, op_b) in choices
        )

    # ------------------------------------------------------------------ memory

    def estimate_memory(self, batch_size, mode=None):
        """Bytes of one relaxed forward and backward: parameters and their gradients, plus activations.

        An analytic estimate from the shapes, without running the network.
        Parameters (all held, alphas included) count twice, for the weights
        and their gradients (no optimiser state). Activations count every
        intermediate tensor of the forward once, as autograd keeps (most of)
        them for the backward: per mixed edge, each operation's layers
        (ReLU, convolutions, batch norm) at the channels it computes
        (``C/k`` with partial channels) and its weighted output, plus, with
        partial channels, the bypass, concatenation and shuffle at ``C``;
        with ``'gumbel'`` only one operation runs, so an edge counts its
        largest. Then the calibrations, block sums, the cell projections and
        the stem. Left out: the kernels' workspaces, the allocator's rounding
        and tensors that autograd frees before the backward.

        Parameters
        ----------
        batch_size : int
            Images per forward.
        mode : {'softmax', 'gumbel'}, default=None
            The relaxation; None: the one set, else ``'softmax'``.

        Returns
        -------
        n_bytes : int
        """
        mode = mode or self.relaxation or "softmax"
        if mode not in RELAXATIONS:
            raise ValueError(f"unknown relaxation {mode!r}; CellSupernet offers {RELAXATIONS}.")
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}.")
        itemsize = self.head.weight.element_size()
        k = self.partial_channels or 1
        n_parameters = sum(p.numel() for p in self.parameters())
        channels, height, width = self._shapes[0]
        elements = 2 * channels * height * width  # stem: convolution and batch norm
        for position, cell in enumerate(self.cells):
            inputs = self._shapes[position : position + 2]
            channels, height, width = self._shapes[position + 2]
            pixels, calibrated_pixels = height * width, inputs[1][1] * inputs[1][2]
            for module, (n_in, h_in, w_in) in zip(cell.calibrate, inputs):
                elements += _module_elements(module, n_in, h_in * w_in, channels, calibrated_pixels)
            for block in cell.blocks:
                for edge in block.edges:
                    pixels_in = calibrated_pixels if edge.stride == 2 else pixels
                    per_op = [
                        _operation_elements(op, channels // k, edge.stride, pixels_in, pixels) + channels // k * pixels
                        for op in edge.ops
                    ]
                    elements += max(per_op) if mode == "gumbel" else sum(per_op)
                    if k > 1:  # bypass (pooled at stride 2), concatenation, shuffle
                        elements += (edge.stride == 2) * (channels - channels // k) * pixels + 2 * channels * pixels
                elements += channels * pixels  # the block's sum
            if cell.output is not None:  # concatenation, then ReLU, convolution, batch norm
                n_in = len(cell.blocks) * channels
                elements += n_in * pixels + _module_elements(cell.output, n_in, pixels, channels, pixels)
        elements += self._shapes[-1][0]  # pooled features
        return int(2 * n_parameters * itemsize + batch_size * elements * itemsize)
