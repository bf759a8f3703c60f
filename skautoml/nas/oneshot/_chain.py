"""A weight-sharing supernet over :class:`~skautoml.nas.CNNSpace`: every chain is a path through one set of weights."""
from torch import nn
from torch.nn import functional as F

from ..space._chain import _PARAMETER_FREE, CNNSpace, _skip_pairs
from ..space._modules import _axis_strides, _build_operation, conv_bn, stem_resolution
from ._base import Supernet


class ChainSupernet(Supernet):
    """The chains of a :class:`~skautoml.nas.CNNSpace` as paths through one set of weights.

    Weight sharing here means slimmable, once-for-all style sharing:

    * a layer position holds each convolution of ``space.operations`` once,
      at the largest width the position can see (output channels
      ``max(space.channels)``, input channels the widest node that can
      precede it, the stem's ``max(space.stem_channels)`` included); a
      narrower layer uses the first channels of that weight
      (``weight[:c_out, :c_in]``);
    * depth is shared by position: a chain of ``d`` layers uses positions
      ``0 .. d-1``, then the head;
    * the stem, a 1x1 projection per skip ``(source, target)`` and the
      head's linear layer are held once, at their largest widths, and
      sliced the same way. A skip into layer ``j`` and a skip into the head
      of a chain of ``j - 1`` layers add to the same node, so they share
      the projection;
    * batch norms are sliced like the convolutions: the statistics of a
      narrower path are the first channels of the wide layer's running
      mean and variance, which every path through that layer updates.

    No operation is mixed with another: a path runs one operation per
    layer. The DARTS-style relaxations of :class:`Supernet` (softmax,
    Gumbel, partial channels) are for the cell supernet, not this one; here
    the modes are :meth:`set_path` and :meth:`sample_paths` (single-path
    one-shot).

    Parameters
    ----------
    space : CNNSpace
        The space whose architectures are the paths.
    input_shape : tuple of int
        Shape of one image, ``(channels, height, width)``; the paths pool
        and project as ``space.build`` does for this shape.
    n_outputs : int
        Logits per sample.

    Attributes
    ----------
    stem : nn.Sequential
        The 3x3 stem convolution block at ``max(space.stem_channels)``.
    ops : nn.ModuleList of nn.ModuleDict
        Per layer position, operation name -> its convolution block at the
        position's largest widths (parameter-free operations hold nothing).
    skips : nn.ModuleDict
        ``'source_target'`` -> the 1x1 projection block of that skip, for
        the pairs whose widths can differ.
    head : nn.Linear
        The classifier at the widest final node.

    See Also
    --------
    Supernet : the contract (modes, :meth:`subnet`).
    skautoml.nas.CNNSpace : the space; ``space.build`` is what a path computes.

    Notes
    -----
    ``subnet(architecture)`` is ``space.build(architecture, input_shape,
    n_outputs)`` with the sliced weights and batch-norm statistics copied
    in; in eval mode its output equals the supernet's on that path (in
    training mode too, as both use the batch's statistics).

    Examples
    --------
    >>> import numpy as np
    >>> import torch
    >>> from skautoml.nas import CNNSpace
    >>> from skautoml.nas.oneshot import ChainSupernet
    >>> space = CNNSpace(max_layers=3, channels=(8, 16), stem_channels=(8,))
    >>> supernet = ChainSupernet(space, input_shape=(1, 8, 8), n_outputs=3)
    >>> arch = space.sample(np.random.default_rng(0))
    >>> x = torch.randn(4, 1, 8, 8)
    >>> net = supernet.subnet(arch).eval()
    >>> out = supernet.set_path(arch).eval()(x)
    >>> torch.allclose(out, net(x), atol=1e-5)
    True
    >>> supernet.sample_paths(np.random.default_rng(1)).train()(x).shape
    torch.Size([4, 3])
    """

    def __init__(self, space, input_shape, n_outputs):
        if not isinstance(space, CNNSpace):
            raise TypeError(f"ChainSupernet shares the weights of a CNNSpace; got {type(space).__name__}.")
        if len(input_shape) != 3:
            raise ValueError(
                f"ChainSupernet takes images of shape (channels, height, width); got input_shape={tuple(input_shape)}."
            )
        super().__init__(space, tuple(int(v) for v in input_shape), n_outputs)
        widths = self._node_widths()
        n_in, height, width = self.input_shape
        self.stem = conv_bn(n_in, max(space.stem_channels), 3, stride=_axis_strides(space.stem_stride, height, width))
        height, width = stem_resolution(space.stem_stride, height, width)
        self.ops = nn.ModuleList()
        for position in range(space.max_layers):
            blocks = nn.ModuleDict()
            for op in space.operations:
                if op not in _PARAMETER_FREE:
                    # The builder `build` uses, at the widest shapes: the paths slice exactly its modules.
                    blocks[op] = _build_operation(op, max(widths[position]), max(space.channels), height, width)[0]
            self.ops.append(blocks)
        self.skips = nn.ModuleDict()
        pairs = _skip_pairs(space.max_layers) if space.skip_probability > 0 else []
        for source, target in pairs:
            # `build` projects only where the channels differ: an identity-only pair holds nothing.
            if not (len(widths[source]) == 1 and widths[source] == widths[target - 1]):
                self.skips[f"{source}_{target}"] = conv_bn(
                    max(widths[source]), max(widths[target - 1]), 1, relu=None
                )
        final = set().union(*(widths[d] for d in range(space.min_layers, space.max_layers + 1)))
        self.head = nn.Linear(max(final), n_outputs)

    def _node_widths(self):
        """The channels node ``k`` (0 the stem, ``k`` layer ``k``'s output) can have, for ``k`` up to ``max_layers``."""
        space = self.space
        convolves = any(op not in _PARAMETER_FREE for op in space.operations)
        passes_through = any(op in _PARAMETER_FREE for op in space.operations)
        widths = [set(space.stem_channels)]
        for _ in range(space.max_layers):
            widths.append((set(space.channels) if convolves else set()) | (widths[-1] if passes_through else set()))
        return widths

    def _plan(self, architecture):
        """Node shapes, and the module of each parameter-free layer, as ``CNNNet`` builds them for ``input_shape``."""
        _, height, width = self.input_shape
        shapes, pools = [(architecture.stem_channels, *stem_resolution(self.space.stem_stride, height, width))], {}
        for position, layer in enumerate(architecture.layers):
            channels, h, w = shapes[-1]
            if layer.op in _PARAMETER_FREE:
                # Same call as `build`: it also decides where a pool has nothing left to pool.
                pools[position], *shape = _build_operation(layer.op, channels, None, h, w)
                shapes.append(tuple(shape))
            else:
                shapes.append((layer.channels, h, w))
        return shapes, pools

    def forward(self, x):
        architecture = self.current_path()
        if architecture is None:
            raise RuntimeError("ChainSupernet has no path: call set_path(architecture) or sample_paths(rng) first.")
        if tuple(x.shape[1:]) != self.input_shape:
            raise ValueError(
                f"ChainSupernet was made for inputs of shape {self.input_shape}; got {tuple(x.shape[1:])}."
            )
        shapes, pools = self._plan(architecture)
        n_layers = len(architecture.layers)
        nodes = [_sliced_block(self.stem, x, architecture.stem_channels)]
        for target in range(1, n_layers + 2):
            features = nodes[-1]
            for source in (s for s, d in architecture.skips if d == target):
                features = features + self._project(nodes[source], source, target, shapes[target - 1])
            if target == n_layers + 1:
                break
            layer = architecture.layers[target - 1]
            if layer.op in _PARAMETER_FREE:
                nodes.append(pools[target - 1](features))
            else:
                nodes.append(_sliced_block(self.ops[target - 1][layer.op], features, layer.channels))
        pooled = features.mean(dim=(2, 3))
        return F.linear(pooled, self.head.weight[:, : pooled.shape[1]], self.head.bias)

    def _project(self, x, source, target, shape):
        """``SkipProjection``: pool to the target's resolution, 1x1 conv-BN where the channels differ."""
        channels, height, width = shape
        if x.shape[-2:] != (height, width):
            x = F.adaptive_avg_pool2d(x, (height, width))
        if x.shape[1] == channels:
            return x
        return _sliced_block(self.skips[f"{source}_{target}"], x, channels)

    def subnet(self, architecture):
        """``space.build(architecture, ...)`` with the path's sliced weights and batch-norm statistics copied in.

        Parameters
        ----------
        architecture : CNNArchitecture
            An architecture of the space.

        Returns
        -------
        net : nn.Module
            A network of the space's own structure (on the supernet's device
            and floating-point type, in training mode like any built
            network) that shares no storage with the supernet.
        """
        self._check(architecture)
        net = self.space.build(architecture, self.input_shape, self.n_outputs)
        net.to(device=self.head.weight.device, dtype=self.head.weight.dtype)
        wide = self.state_dict()
        narrow = {
            key: wide[_wide_key(key, architecture)][tuple(slice(0, n) for n in tensor.shape)]
            for key, tensor in net.state_dict().items()
        }
        net.load_state_dict(narrow)  # strict: every tensor of the subnet has a source
        return net


def _wide_key(key, architecture):
    """The supernet's name for a tensor of ``CNNNet``: ``layers.i.*`` is ``ops.i.<op>.*``; skips drop ``project.``."""
    kind, rest = key.split(".", 1)
    if kind == "layers":
        position, rest = rest.split(".", 1)
        return f"ops.{position}.{architecture.layers[int(position)].op}.{rest}"
    if kind == "skips":
        pair, rest = rest.split(".", 1)
        return f"skips.{pair}.{rest.removeprefix('project.')}"
    return key


def _sliced_block(block, x, n_out):
    """Run a wide ``conv_bn`` block on its first ``x.shape[1]`` input and ``n_out`` output channels."""
    for module in block:
        n_in = x.shape[1]
        if isinstance(module, nn.Conv2d):
            if module.groups > 1:
                # Depthwise (the separable convolutions' first step): one filter per input channel.
                weight, groups = module.weight[:n_in], n_in
            else:
                weight, groups = module.weight[:n_out, :n_in], 1
            x = F.conv2d(x, weight, None, module.stride, module.padding, module.dilation, groups)
        elif isinstance(module, nn.BatchNorm2d):
            x = _sliced_batch_norm(module, x)
        else:
            x = module(x)
    return x


def _sliced_batch_norm(norm, x):
    """``norm`` on the first ``x.shape[1]`` channels; its running statistics update in place through the slices."""
    n = x.shape[1]
    momentum = norm.momentum
    if norm.training:
        norm.num_batches_tracked.add_(1)
        if momentum is None:  # a cumulative average, as nn.BatchNorm2d does
            momentum = 1.0 / float(norm.num_batches_tracked)
    return F.batch_norm(
        x,
        norm.running_mean[:n],
        norm.running_var[:n],
        norm.weight[:n],
        norm.bias[:n],
        norm.training,
        momentum,
        norm.eps,
    )
