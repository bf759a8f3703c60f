"""Entire-structured spaces: chains of layers with optional skip connections.

The survey's first family of search spaces (its Figure 6): a network is a
sequence of layers, each with its own operation and width, and skips may join
any earlier layer to a later one.
"""
import math
from dataclasses import dataclass, replace

import numpy as np

from ...search import SearchSpace, choose, choose_other, one_hot
from ._modules import CNNNet, MLPNet
from ._options import _index, _is_positive_int


@dataclass(frozen=True)
class MLPArchitecture:
    """A multilayer perceptron: hidden widths and the settings shared by its layers."""

    widths: tuple
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False
    skip: bool = False

    def __str__(self):
        parts = ["-".join(map(str, self.widths)) or "linear", self.activation]
        if self.dropout:
            parts.append(f"drop{self.dropout:g}")
        if self.batch_norm:
            parts.append("bn")
        if self.skip:
            parts.append("skip")
        return "mlp " + " ".join(parts)


class MLPSpace(SearchSpace):
    """Chains of fully connected layers for tabular data.

    Parameters
    ----------
    min_layers, max_layers : int
        Range of the number of hidden layers (``min_layers=0`` admits a
        linear model).
    widths : tuple of int
        Widths a hidden layer may have; each layer chooses its own.
    activations : tuple of str
        Among ``'relu'``, ``'gelu'``, ``'tanh'``, ``'elu'``.
    dropouts : tuple of float
        Dropout rates after each hidden layer.
    batch_norm : tuple of bool
        Whether hidden layers may / must use batch normalisation.
    skip : tuple of bool
        Whether hidden layers may / must be residual (a linear projection
        where the width changes).

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.nas import MLPSpace
    >>> space = MLPSpace(max_layers=2, widths=(16, 32))
    >>> arch = space.sample(np.random.default_rng(0))
    >>> module = space.build(arch, input_shape=(4,), n_outputs=3)
    >>> space.contains(space.mutate(arch, np.random.default_rng(1)))
    True
    """

    def __init__(
        self,
        min_layers=1,
        max_layers=4,
        widths=(32, 64, 128, 256, 512),
        activations=("relu", "gelu", "tanh", "elu"),
        dropouts=(0.0, 0.1, 0.2, 0.3, 0.5),
        batch_norm=(False, True),
        skip=(False, True),
    ):
        self.min_layers = min_layers
        self.max_layers = max_layers
        self.widths = widths
        self.activations = activations
        self.dropouts = dropouts
        self.batch_norm = batch_norm
        self.skip = skip

    def sample(self, rng):
        depth = int(rng.integers(self.min_layers, self.max_layers + 1))
        return MLPArchitecture(
            widths=tuple(choose(rng, self.widths) for _ in range(depth)),
            activation=choose(rng, self.activations),
            dropout=choose(rng, self.dropouts),
            batch_norm=choose(rng, self.batch_norm),
            skip=choose(rng, self.skip),
        )

    def mutate(self, architecture, rng):
        widths = list(architecture.widths)
        moves = []
        if len(widths) < self.max_layers:
            moves.append("add_layer")
        if len(widths) > self.min_layers:
            moves.append("remove_layer")
        if widths and len(self.widths) > 1:
            moves.append("width")
        for name, options in [
            ("activation", self.activations),
            ("dropout", self.dropouts),
            ("batch_norm", self.batch_norm),
            ("skip", self.skip),
        ]:
            if len(options) > 1:
                moves.append(name)
        if not moves:
            return architecture
        move = choose(rng, moves)
        if move == "add_layer":
            widths.insert(int(rng.integers(len(widths) + 1)), choose(rng, self.widths))
        elif move == "remove_layer":
            del widths[int(rng.integers(len(widths)))]
        elif move == "width":
            index = int(rng.integers(len(widths)))
            widths[index] = choose_other(rng, self.widths, widths[index])
        else:
            options = {
                "activation": self.activations,
                "dropout": self.dropouts,
                "batch_norm": self.batch_norm,
                "skip": self.skip,
            }[move]
            value = choose_other(rng, options, getattr(architecture, move))
            return replace(architecture, **{move: value})
        return replace(architecture, widths=tuple(widths))

    def encode(self, architecture):
        top = math.log2(max(self.widths)) or 1.0  # widths=(1,) would divide by zero
        widths = np.zeros(self.max_layers)
        widths[: len(architecture.widths)] = [math.log2(w) / top for w in architecture.widths]
        return np.concatenate(
            [
                [len(architecture.widths) / max(self.max_layers, 1)],
                widths,
                one_hot(architecture.activation, self.activations),
                [architecture.dropout, float(architecture.batch_norm), float(architecture.skip)],
            ]
        )

    def build(self, architecture, input_shape, n_outputs):
        return MLPNet(architecture, int(np.prod(input_shape)), n_outputs)

    def size(self):
        per_depth = sum(len(self.widths) ** d for d in range(self.min_layers, self.max_layers + 1))
        return per_depth * len(self.activations) * len(self.dropouts) * len(self.batch_norm) * len(self.skip)

    def contains(self, architecture):
        return (
            isinstance(architecture, MLPArchitecture)
            and self.min_layers <= len(architecture.widths) <= self.max_layers
            and all(w in self.widths for w in architecture.widths)
            and architecture.activation in self.activations
            and architecture.dropout in self.dropouts
            and architecture.batch_norm in self.batch_norm
            and architecture.skip in self.skip
        )

    # ------------------------------------------------------------------ decisions

    def decisions(self):
        """The architecture as categorical decisions, for the REINFORCE controller.

        Returns
        -------
        decisions : list of (str, int)
            ``(name, n_options)``: the depth first, then a width for each of
            ``max_layers`` layers (those past the depth are ignored), then
            the activation, dropout, batch norm and skip settings.
        """
        return (
            [("depth", self.max_layers - self.min_layers + 1)]
            + [(f"width{i}", len(self.widths)) for i in range(self.max_layers)]
            + [("activation", len(self.activations)), ("dropout", len(self.dropouts))]
            + [("batch_norm", len(self.batch_norm)), ("skip", len(self.skip))]
        )

    def from_decisions(self, tokens):
        """The :class:`MLPArchitecture` of one option index per entry of :meth:`decisions`."""
        depth = self.min_layers + tokens[0]
        widths = tuple(self.widths[t] for t in tokens[1 : 1 + depth])
        rest = tokens[1 + self.max_layers :]
        return MLPArchitecture(
            widths, self.activations[rest[0]], self.dropouts[rest[1]], self.batch_norm[rest[2]], self.skip[rest[3]]
        )

    def to_decisions(self, architecture):
        """The option indices that :meth:`from_decisions` turns into ``architecture`` (0 for unused layers)."""
        a = architecture
        widths = [_index(self.widths, w) for w in a.widths] + [0] * (self.max_layers - len(a.widths))
        return [len(a.widths) - self.min_layers, *widths] + [
            _index(self.activations, a.activation),
            _index(self.dropouts, a.dropout),
            _index(self.batch_norm, a.batch_norm),
            _index(self.skip, a.skip),
        ]


@dataclass(frozen=True)
class CNNLayer:
    """One layer of a CNN chain: an operation and, for convolutions, its output channels."""

    op: str
    channels: int | None = None

    def __str__(self):
        return self.op if self.channels is None else f"{self.op}({self.channels})"


@dataclass(frozen=True)
class CNNArchitecture:
    """A stem convolution, a chain of layers and the skip connections between them.

    ``skips`` holds sorted pairs ``(i, j)``: node ``i`` (0 is the stem, ``k``
    the output of layer ``k``) is added to the input of layer ``j``; ``j`` one
    past the last layer is the global-pooling head.
    """

    stem_channels: int
    layers: tuple
    skips: tuple = ()

    def __str__(self):
        text = f"stem({self.stem_channels}) > " + " > ".join(map(str, self.layers))
        if self.skips:
            text += " | skips " + ",".join(f"{i}->{j}" for i, j in self.skips)
        return text


CNN_OPERATIONS = ("conv3x3", "conv5x5", "sepconv3x3", "dilconv3x3", "maxpool", "avgpool", "identity")
_PARAMETER_FREE = ("maxpool", "avgpool", "identity")


class CNNSpace(SearchSpace):
    """Chains of convolution and pooling layers for images, with optional skips.

    Each layer picks an operation among ``operations`` (``'conv3x3'``,
    ``'conv5x5'``, ``'sepconv3x3'``, ``'sepconv5x5'``, ``'dilconv3x3'``,
    ``'maxpool'``, ``'avgpool'``, ``'identity'``) and, for convolutions, its
    output channels. Pooling halves the resolution; a skip from an earlier
    node is average-pooled and projected by a 1x1 convolution where resolution
    or channels differ. The head is global average pooling and a linear layer.

    Parameters
    ----------
    min_layers, max_layers : int
        Range of the number of layers after the stem.
    operations : tuple of str
    channels : tuple of int
        Output channels a convolution may have.
    stem_channels : tuple of int
        Output channels of the 3x3 stem convolution.
    skip_probability : float
        Probability that :meth:`sample` adds each possible skip connection;
        0 gives plain chains.
    stem_stride : int, default=1
        Stride of the stem convolution: 2 halves the resolution before the
        first layer, which makes every layer of a 28x28 or 32x32 image about
        four times cheaper (``AutoNASClassifier`` uses 2 for images of at
        least 16 pixels a side; see :func:`~skautoml.nas.plan_search`).

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.nas import CNNSpace
    >>> space = CNNSpace(max_layers=3)
    >>> arch = space.sample(np.random.default_rng(0))
    >>> net = space.build(arch, input_shape=(1, 8, 8), n_outputs=10)
    """

    takes_images = True

    def __init__(
        self,
        min_layers=2,
        max_layers=5,
        operations=CNN_OPERATIONS,
        channels=(16, 32, 64),
        stem_channels=(16, 32),
        skip_probability=0.15,
        stem_stride=1,
    ):
        self.min_layers = min_layers
        self.max_layers = max_layers
        self.operations = operations
        self.channels = channels
        self.stem_channels = stem_channels
        self.skip_probability = skip_probability
        self.stem_stride = stem_stride

    def _sample_layer(self, rng, op=None):
        op = choose(rng, self.operations) if op is None else op
        return CNNLayer(op, None if op in _PARAMETER_FREE else choose(rng, self.channels))

    def sample(self, rng):
        n_layers = int(rng.integers(self.min_layers, self.max_layers + 1))
        layers = tuple(self._sample_layer(rng) for _ in range(n_layers))
        skips = tuple(sorted(pair for pair in _skip_pairs(n_layers) if rng.random() < self.skip_probability))
        return CNNArchitecture(choose(rng, self.stem_channels), layers, skips)

    def mutate(self, architecture, rng):
        layers, skips = list(architecture.layers), set(architecture.skips)
        moves = []
        if len(layers) < self.max_layers:
            moves.append("add_layer")
        if len(layers) > self.min_layers:
            moves.append("remove_layer")
        if layers and len(self.operations) > 1:
            moves.append("operation")
        if any(layer.channels is not None for layer in layers) and len(self.channels) > 1:
            moves.append("channels")
        if len(self.stem_channels) > 1:
            moves.append("stem")
        if self.skip_probability > 0 and _skip_pairs(len(layers)):
            moves.append("skip")
        if not moves:
            return architecture
        move = choose(rng, moves)
        stem = architecture.stem_channels
        if move == "add_layer":
            position = int(rng.integers(1, len(layers) + 2))
            layers.insert(position - 1, self._sample_layer(rng))
            skips = {(s + (s >= position), d + (d >= position)) for s, d in skips}
        elif move == "remove_layer":
            position = int(rng.integers(1, len(layers) + 1))
            del layers[position - 1]
            shifted = {
                (s - (s > position), d - (d > position)) for s, d in skips if position not in (s, d)
            }
            skips = {(s, d) for s, d in shifted if d - s >= 2}
        elif move == "operation":
            index = int(rng.integers(len(layers)))
            op = choose_other(rng, self.operations, layers[index].op)
            layers[index] = self._sample_layer(rng, op)
        elif move == "channels":
            index = choose(rng, [i for i, layer in enumerate(layers) if layer.channels is not None])
            layers[index] = CNNLayer(layers[index].op, choose_other(rng, self.channels, layers[index].channels))
        elif move == "stem":
            stem = choose_other(rng, self.stem_channels, stem)
        else:
            skips ^= {choose(rng, _skip_pairs(len(layers)))}
        return CNNArchitecture(stem, tuple(layers), tuple(sorted(skips)))

    def encode(self, architecture):
        n_layers = len(architecture.layers)
        slot_options = (*self.operations, "absent")
        slots = []
        for index in range(self.max_layers):
            layer = architecture.layers[index] if index < n_layers else None
            slots.append(one_hot(layer.op if layer else "absent", slot_options))
            slots.append([layer.channels / max(self.channels) if layer and layer.channels else 0.0])
        # Skips into the head are encoded at the head of the deepest network so
        # that their position does not depend on the depth.
        head = self.max_layers + 1
        present = {(s, head if d == n_layers + 1 else d) for s, d in architecture.skips}
        skip_bits = [float(pair in present) for pair in _skip_pairs(self.max_layers)]
        return np.concatenate(
            [
                [architecture.stem_channels / max(self.stem_channels), n_layers / self.max_layers],
                *slots,
                skip_bits,
            ]
        )

    def build(self, architecture, input_shape, n_outputs):
        if len(input_shape) != 3:
            raise ValueError(
                f"CNNSpace builds networks for images of shape (channels, height, width); "
                f"got input_shape={tuple(input_shape)}."
            )
        if not _is_positive_int(self.stem_stride):
            raise ValueError(f"stem_stride must be a positive integer, got {self.stem_stride!r}.")
        return CNNNet(architecture, tuple(int(v) for v in input_shape), n_outputs, self.stem_stride)

    def supernet(self, input_shape, n_outputs, **options):
        """The weight-sharing supernet of this space (:class:`~skautoml.nas.oneshot.ChainSupernet`), for one-shot search.

        It offers paths only (no relaxation), so ``options`` must be empty.
        """
        from ..oneshot import ChainSupernet  # the supernet builds on this module

        return ChainSupernet(self, input_shape, n_outputs, **options)

    def size(self):
        n_conv = sum(op not in _PARAMETER_FREE for op in self.operations)
        per_layer = n_conv * len(self.channels) + len(self.operations) - n_conv
        skip_factor = (lambda n: 2 ** len(_skip_pairs(n))) if self.skip_probability > 0 else (lambda n: 1)
        total = sum(per_layer**n * skip_factor(n) for n in range(self.min_layers, self.max_layers + 1))
        return total * len(self.stem_channels)

    def contains(self, architecture):
        if not isinstance(architecture, CNNArchitecture):
            return False
        n_layers = len(architecture.layers)
        allowed_skips = set(_skip_pairs(n_layers)) if self.skip_probability > 0 else set()
        return (
            self.min_layers <= n_layers <= self.max_layers
            and architecture.stem_channels in self.stem_channels
            and all(
                layer.op in self.operations
                and (
                    layer.channels is None
                    if layer.op in _PARAMETER_FREE
                    else layer.channels in self.channels
                )
                for layer in architecture.layers
            )
            and set(architecture.skips) <= allowed_skips
            and list(architecture.skips) == sorted(set(architecture.skips))
        )

    # ------------------------------------------------------------------ decisions

    def _decision_skips(self):
        return _skip_pairs(self.max_layers) if self.skip_probability > 0 else []

    def decisions(self):
        """The architecture as categorical decisions, for the REINFORCE controller.

        Returns
        -------
        decisions : list of (str, int)
            ``(name, n_options)``: the stem channels, the depth, an operation
            and channels for each of ``max_layers`` layers, then one bit per
            skip of the deepest chain. Layers past the depth and the channels
            of parameter-free operations are ignored; for a shallower chain
            a skip into a missing layer is dropped and a skip into the
            deepest chain's head goes into this chain's head (where
            :meth:`encode` puts it too), so every sequence is a valid chain.
        """
        layers = []
        for i in range(self.max_layers):
            layers += [(f"op{i}", len(self.operations)), (f"channels{i}", len(self.channels))]
        skips = [(f"skip{i}-{j}", 2) for i, j in self._decision_skips()]
        return [("stem", len(self.stem_channels)), ("depth", self.max_layers - self.min_layers + 1), *layers, *skips]

    def from_decisions(self, tokens):
        """The :class:`CNNArchitecture` of one option index per entry of :meth:`decisions`."""
        n_layers = self.min_layers + tokens[1]
        layers = []
        for i in range(n_layers):
            op = self.operations[tokens[2 + 2 * i]]
            layers.append(CNNLayer(op, None if op in _PARAMETER_FREE else self.channels[tokens[3 + 2 * i]]))
        head = self.max_layers + 1
        skips = set()
        for (i, j), bit in zip(self._decision_skips(), tokens[2 + 2 * self.max_layers :]):
            if bit and j <= n_layers:
                skips.add((i, j))
            elif bit and j == head and i < n_layers:
                skips.add((i, n_layers + 1))
        return CNNArchitecture(self.stem_channels[tokens[0]], tuple(layers), tuple(sorted(skips)))

    def to_decisions(self, architecture):
        """The option indices that :meth:`from_decisions` turns into ``architecture`` (0 for what it ignores)."""
        a = architecture
        n_layers = len(a.layers)
        layers = []
        for i in range(self.max_layers):
            layer = a.layers[i] if i < n_layers else None
            layers += [
                _index(self.operations, layer.op) if layer else 0,
                _index(self.channels, layer.channels) if layer and layer.channels is not None else 0,
            ]
        head = self.max_layers + 1
        present = {(i, head if j == n_layers + 1 else j) for i, j in a.skips}
        bits = [int(pair in present) for pair in self._decision_skips()]
        return [_index(self.stem_channels, a.stem_channels), n_layers - self.min_layers, *layers, *bits]


def _skip_pairs(n_layers):
    """All skips ``(i, j)`` of a chain of ``n_layers``: ``j`` in 2..n+1, ``i`` < ``j - 1``."""
    return [(s, d) for d in range(2, n_layers + 2) for s in range(d - 1)]
