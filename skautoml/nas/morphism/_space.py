"""The morphism search space: plain chains that grow by function-preserving steps."""
import math
from dataclasses import dataclass

import numpy as np

from ...search import SearchSpace, choose
from ._modules import MorphNet

KINDS = ("mlp", "cnn")
OPERATIONS = ("wider", "deeper", "wider_kernel")


@dataclass(frozen=True)
class MorphArchitecture:
    """A chain of layers: batch-normalised linear (``'mlp'``) or convolution (``'cnn'``) layers.

    Attributes
    ----------
    kind : {'mlp', 'cnn'}
    widths : tuple of int
        Units (or output channels) of each layer.
    kernel_sizes : tuple of int
        Odd kernel size of each convolution; empty for ``'mlp'``.
    pools : tuple of bool
        Whether a 2x2 max pooling follows each convolution; empty for ``'mlp'``.
    """

    kind: str
    widths: tuple
    kernel_sizes: tuple = ()
    pools: tuple = ()

    def __str__(self):
        if self.kind == "mlp":
            return "morph-mlp " + "-".join(map(str, self.widths))
        layers = [
            f"{w}k{k}" + ("p" if p else "") for w, k, p in zip(self.widths, self.kernel_sizes, self.pools)
        ]
        return "morph-cnn " + "-".join(layers)


@dataclass(frozen=True)
class Morphism:
    """One function-preserving step.

    Attributes
    ----------
    operation : {'wider', 'deeper', 'wider_kernel'}
        Net2Wider (more units in a layer), Net2Deeper (an identity layer
        inserted after a layer) or a larger kernel (zero-padded).
    layer : int
        The layer widened, or the layer after which the new one is inserted.
    value : int or None
        The new width, the kernel size of the inserted convolution (None for
        an inserted linear layer), or the new kernel size.
    """

    operation: str
    layer: int
    value: int | None = None

    def __str__(self):
        if self.operation == "deeper":
            return f"deeper(after {self.layer}" + (f", k{self.value})" if self.value else ")")
        return f"{self.operation}({self.layer}->{self.value})"

    def apply_to(self, architecture):
        """The architecture this morphism turns ``architecture`` into (no weights involved)."""
        widths, sizes, pools = list(architecture.widths), list(architecture.kernel_sizes), list(architecture.pools)
        if not 0 <= self.layer < len(widths):
            raise ValueError(
                f"{self} needs layer in [0, {len(widths) - 1}]: the architecture {architecture} has "
                f"{len(widths)} layer(s)."
            )
        if self.operation == "wider":
            if self.value <= widths[self.layer]:
                raise ValueError(
                    f"{self}: Net2Wider needs a width larger than the current {widths[self.layer]}."
                )
            widths[self.layer] = self.value
        elif self.operation == "deeper":
            widths.insert(self.layer + 1, widths[self.layer])
            if architecture.kind == "cnn":
                if self.value is None or self.value % 2 == 0:
                    raise ValueError(f"{self}: an inserted convolution needs an odd kernel size.")
                sizes.insert(self.layer + 1, self.value)
                pools.insert(self.layer + 1, False)
        elif self.operation == "wider_kernel":
            if architecture.kind != "cnn":
                raise ValueError(f"{self}: only convolutions have kernels; {architecture} is an MLP.")
            if self.value <= sizes[self.layer] or self.value % 2 == 0:
                raise ValueError(
                    f"{self}: the new kernel size must be odd and larger than the current {sizes[self.layer]}."
                )
            sizes[self.layer] = self.value
        else:
            raise ValueError(f"unknown morphism operation {self.operation!r}; expected one of {OPERATIONS}.")
        return MorphArchitecture(architecture.kind, tuple(widths), tuple(sizes), tuple(pools))


class MorphismSpace(SearchSpace):
    """Plain chains of batch-normalised layers, searchable by network morphisms.

    A network is a chain of ``linear -> batch norm -> ReLU`` layers
    (``kind='mlp'``, for tabular data) or ``conv -> batch norm -> ReLU ->
    optional 2x2 max pooling`` layers (``kind='cnn'``, for images, 'same'
    padding, global average pooling before the ``head``). Each layer chooses
    its width among ``widths`` and, for convolutions, its kernel size among
    ``kernel_sizes``; at most ``max_pools`` layers pool.

    Besides the ordinary contract (so every ask/tell strategy can search it,
    training each network from scratch), the space lists the
    function-preserving steps out of an architecture (:meth:`morphisms`):
    widen a layer to a larger allowed width (Net2Wider), insert a copy-width
    identity layer after a layer (Net2Deeper; its kernel is the smallest of
    ``kernel_sizes``) and widen a kernel to a larger allowed size.
    :func:`~skautoml.nas.morphism.apply_morphism` performs them on a trained
    network, which is what :class:`MorphismHillClimbing` and
    :class:`MorphismBayesian` search with.

    :meth:`mutate` changes one decision either way (it may also narrow,
    remove a layer, shrink a kernel or move a pooling), so that evolution can
    walk the whole space; only the growing steps preserve the function.

    Parameters
    ----------
    kind : {'mlp', 'cnn'}, default='mlp'
    min_layers, max_layers : int, default=1, 6
        Range of the number of layers; ``min_layers`` is at least 1 (an
        identity layer is inserted after an existing one).
    widths : tuple of int, default=(8, 16, 32, 64, 128)
        Widths (units or channels) a layer may have.
    kernel_sizes : tuple of odd int, default=(3, 5, 7)
        Kernel sizes a convolution may have (ignored for ``'mlp'``).
    max_pools : int, default=2
        Most layers followed by pooling (ignored for ``'mlp'``).

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.nas.morphism import MorphismSpace
    >>> space = MorphismSpace(kind="cnn", max_layers=3, widths=(8, 16))
    >>> arch = space.smallest()
    >>> str(arch)
    'morph-cnn 8k3p'
    >>> [str(m) for m in space.morphisms(arch)]
    ['wider(0->16)', 'deeper(after 0, k3)', 'wider_kernel(0->5)', 'wider_kernel(0->7)']
    >>> module = space.build(arch, input_shape=(1, 8, 8), n_outputs=10)
    """

    def __init__(
        self, kind="mlp", min_layers=1, max_layers=6, widths=(8, 16, 32, 64, 128), kernel_sizes=(3, 5, 7), max_pools=2
    ):
        self.kind = kind
        self.min_layers = min_layers
        self.max_layers = max_layers
        self.widths = widths
        self.kernel_sizes = kernel_sizes
        self.max_pools = max_pools

    @property
    def takes_images(self):
        return self.kind == "cnn"

    def _check(self):
        if self.kind not in KINDS:
            raise ValueError(f"MorphismSpace kind must be one of {KINDS}, got {self.kind!r}.")
        if not 1 <= self.min_layers <= self.max_layers:
            raise ValueError(
                "MorphismSpace needs 1 <= min_layers <= max_layers (a new layer is inserted after an "
                f"existing one); got min_layers={self.min_layers}, max_layers={self.max_layers}."
            )
        if not self.widths or any(int(w) != w or w < 1 for w in self.widths):
            raise ValueError(f"MorphismSpace widths must be positive integers, got {self.widths!r}.")
        if self.kind == "cnn":
            if not self.kernel_sizes or any(int(k) != k or k < 1 or k % 2 == 0 for k in self.kernel_sizes):
                raise ValueError(
                    "MorphismSpace kernel_sizes must be odd positive integers ('same' padding), got "
                    f"{self.kernel_sizes!r}."
                )
            if self.max_pools < 0:
                raise ValueError(f"MorphismSpace max_pools must be >= 0, got {self.max_pools}.")

    # ---------------------------------------------------------------- contract

    def sample(self, rng):
        self._check()
        depth = int(rng.integers(self.min_layers, self.max_layers + 1))
        widths = tuple(choose(rng, self.widths) for _ in range(depth))
        if self.kind == "mlp":
            return MorphArchitecture("mlp", widths)
        sizes = tuple(choose(rng, self.kernel_sizes) for _ in range(depth))
        n_pools = int(rng.integers(min(self.max_pools, depth) + 1))
        pooled = set(rng.choice(depth, size=n_pools, replace=False).tolist())
        return MorphArchitecture("cnn", widths, sizes, tuple(i in pooled for i in range(depth)))

    def smallest(self):
        """The smallest architecture: fewest layers, narrowest, smallest kernels.

        Its first ``max_pools`` layers pool. Morphism searches start here.
        """
        self._check()
        depth = self.min_layers
        widths = (min(self.widths),) * depth
        if self.kind == "mlp":
            return MorphArchitecture("mlp", widths)
        pools = tuple(i < self.max_pools for i in range(depth))
        return MorphArchitecture("cnn", widths, (min(self.kernel_sizes),) * depth, pools)

    def mutate(self, architecture, rng):
        self._check()
        widths, sizes, pools = list(architecture.widths), list(architecture.kernel_sizes), list(architecture.pools)
        moves = {move: None for move in self._moves(architecture)}
        if not moves:
            return architecture
        move = choose(rng, list(moves))
        if move in ("wider", "narrower", "wider_kernel", "narrower_kernel"):
            values, current = (self.widths, widths) if move in ("wider", "narrower") else (self.kernel_sizes, sizes)
            grow = move.startswith("wider")
            candidates = [i for i in range(len(current)) if _others(values, current[i], grow)]
            index = choose(rng, candidates)
            current[index] = choose(rng, _others(values, current[index], grow))
        elif move == "deeper":
            # Net2Deeper's genotype: a copy-width layer with the smallest kernel, no pooling.
            morphism = choose(rng, [m for m in self.morphisms(architecture) if m.operation == "deeper"])
            return morphism.apply_to(architecture)
        elif move == "shallower":
            index = int(rng.integers(len(widths)))
            for values in (widths, sizes, pools):
                if values:
                    del values[index]
        else:  # toggle a pooling
            candidates = [i for i, p in enumerate(pools) if p or sum(pools) < self.max_pools]
            index = choose(rng, candidates)
            pools[index] = not pools[index]
        return MorphArchitecture(architecture.kind, tuple(widths), tuple(sizes), tuple(pools))

    def _moves(self, architecture):
        widths, sizes = architecture.widths, architecture.kernel_sizes
        moves = []
        if any(_others(self.widths, w, True) for w in widths):
            moves.append("wider")
        if any(_others(self.widths, w, False) for w in widths):
            moves.append("narrower")
        if len(widths) < self.max_layers:
            moves.append("deeper")
        if len(widths) > self.min_layers:
            moves.append("shallower")
        if self.kind == "cnn":
            if any(_others(self.kernel_sizes, k, True) for k in sizes):
                moves.append("wider_kernel")
            if any(_others(self.kernel_sizes, k, False) for k in sizes):
                moves.append("narrower_kernel")
            if self.max_pools > 0:
                moves.append("pool")
        return moves

    def encode(self, architecture):
        top = math.log2(max(self.widths)) or 1.0  # widths=(1,) would divide by zero
        depth = len(architecture.widths)
        widths = np.zeros(self.max_layers)
        widths[:depth] = [math.log2(w) / top for w in architecture.widths]
        # Absent layers are 0 and present ones > 0 even at the smallest width.
        widths[:depth] = 0.5 + 0.5 * widths[:depth]
        parts = [[depth / self.max_layers], widths]
        if self.kind == "cnn":
            sizes = np.zeros(self.max_layers)
            sizes[:depth] = np.array(architecture.kernel_sizes) / max(self.kernel_sizes)
            pools = np.zeros(self.max_layers)
            pools[:depth] = architecture.pools
            parts += [sizes, pools]
        return np.concatenate(parts).astype(float)

    def build(self, architecture, input_shape, n_outputs):
        if self.kind == "cnn" and len(input_shape) != 3:
            raise ValueError(
                "MorphismSpace(kind='cnn') builds networks for images of shape (channels, height, width); "
                f"got input_shape={tuple(input_shape)}."
            )
        return MorphNet(architecture, input_shape, n_outputs)

    def size(self):
        self._check()
        n_widths = len(set(self.widths))
        if self.kind == "mlp":
            return sum(n_widths**d for d in range(self.min_layers, self.max_layers + 1))
        per_layer = n_widths * len(set(self.kernel_sizes))
        return sum(
            per_layer**d * sum(math.comb(d, k) for k in range(min(self.max_pools, d) + 1))
            for d in range(self.min_layers, self.max_layers + 1)
        )

    def contains(self, architecture):
        if not isinstance(architecture, MorphArchitecture) or architecture.kind != self.kind:
            return False
        depth = len(architecture.widths)
        if not (self.min_layers <= depth <= self.max_layers and all(w in self.widths for w in architecture.widths)):
            return False
        if self.kind == "mlp":
            return architecture.kernel_sizes == () and architecture.pools == ()
        return (
            len(architecture.kernel_sizes) == len(architecture.pools) == depth
            and all(k in self.kernel_sizes for k in architecture.kernel_sizes)
            and all(isinstance(p, bool) for p in architecture.pools)
            and sum(architecture.pools) <= self.max_pools
        )

    # ---------------------------------------------------------------- morphisms

    def morphisms(self, architecture):
        """Every function-preserving step from ``architecture`` that stays in the space.

        Returns
        -------
        list of Morphism
            Wider layers (each larger allowed width), an identity layer after
            each layer while the depth is below ``max_layers``, and, for
            convolutions, each larger allowed kernel size.
        """
        steps = []
        for index, width in enumerate(architecture.widths):
            steps += [Morphism("wider", index, w) for w in _others(self.widths, width, True)]
        if len(architecture.widths) < self.max_layers:
            size = min(self.kernel_sizes) if self.kind == "cnn" else None
            steps += [Morphism("deeper", index, size) for index in range(len(architecture.widths))]
        if self.kind == "cnn":
            for index, size in enumerate(architecture.kernel_sizes):
                steps += [Morphism("wider_kernel", index, k) for k in _others(self.kernel_sizes, size, True)]
        return steps

    def random_morphism(self, architecture, rng, allowed=None):
        """A random step of :meth:`morphisms`: first the operation, then one of its steps.

        Drawing the operation first keeps deeper steps from being swamped by
        the many ways to widen. ``allowed(step) -> bool`` leaves steps out of
        the draw (a strategy's hard limits). Returns None when no step is left.
        """
        by_operation = {}
        for step in self.morphisms(architecture):
            if allowed is None or allowed(step):
                by_operation.setdefault(step.operation, []).append(step)
        if not by_operation:
            return None
        return choose(rng, by_operation[choose(rng, list(by_operation))])


def _others(values, current, larger):
    """The sorted distinct ``values`` larger (or smaller) than ``current``."""
    return sorted({v for v in values if (v > current if larger else v < current)})
