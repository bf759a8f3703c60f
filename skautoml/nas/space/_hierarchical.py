"""Hierarchical space of motifs built from motifs (Liu et al. 2018).

The survey's hierarchical family in its second shape ("Hierarchical
Representations for Efficient Architecture Search"): level-1 primitives are
assembled by small DAGs into level-2 motifs, those into level-3 motifs, and
so on; the top-level motif is the cell of the network. The first shape,
per-stage factorized choices, is :mod:`._factorized`.
"""
import functools
import math
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from torch import nn

from ...search import SearchSpace, choose, one_hot
from ._modules import _axis_strides, conv_bn
from ._options import _check_options, _image_shape, _index, _is_member, _is_positive_int

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
        return conv_bn(channels, channels, 1)
    if name == "conv3x3":
        return conv_bn(channels, channels, 3)
    if name == "sepconv3x3":
        return conv_bn(channels, channels, 3, separable=True)
    if name == "dwconv3x3":
        return conv_bn(channels, channels, 3, groups=channels)
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
        self.body = conv_bn(n_in, n_out, 3, stride, separable=True)

    def forward(self, x):
        return self.body(x)


class HierarchicalNet(nn.Module):
    """Stem, cells (the top motif) with reductions between them, global average pooling, ``head``."""

    def __init__(self, architecture, input_shape, n_outputs, channels, n_cells):
        super().__init__()
        n_channels, height, width = input_shape
        self.architecture = architecture
        self.stem = conv_bn(n_channels, channels, 3)
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

    # ------------------------------------------------------------------ decisions

    def _decision_layout(self):
        """The edge options per level and, per decision, (level, motif, edge, n_nodes, the motif's first decision)."""
        nodes, counts, options = self._structure()
        return options, _decision_layout(tuple(nodes), tuple(counts))

    def decisions(self):
        """The architecture as categorical decisions, for the REINFORCE controller.

        Returns
        -------
        decisions : list of (str, int)
            ``(name, n_options)`` for every adjacency entry of every motif
            of every level, in the order of the architecture value; see
            :meth:`allowed_decisions` for the options validity forbids.
        """
        options, layout = self._decision_layout()
        names = []
        for t, m, e, n, _ in layout:
            i, j = _edges(n)[e]
            names.append((f"L{t + 2}.m{m}.{i}>{j}", len(options[t])))
        return names

    def allowed_decisions(self, prefix):
        """The options of the decision after ``prefix`` that keep its motif valid, or None for all.

        Entries come row by row, so when an entry is the last chance for its
        source node to get an outgoing edge, or for its target node to get
        an incoming one, ``'none'`` is not allowed there. Every sequence
        that follows these rules is a valid architecture, and no valid
        architecture is excluded.

        Parameters
        ----------
        prefix : list of int
            The option indices of the decisions taken so far.

        Returns
        -------
        allowed : list of int or None
        """
        options, layout = self._decision_layout()
        k = len(prefix)
        t, _, e, n, start = layout[k]
        options = options[t]
        if NONE not in options:
            return None
        edges = _edges(n)
        i, j = edges[e]
        taken = [(edge, options[token] != NONE) for edge, token in zip(edges, prefix[start:k])]
        needs_out = j == n - 1 and not any(present and a == i for (a, _), present in taken)
        needs_in = i == j - 1 and not any(present and b == j for (_, b), present in taken)
        if needs_out or needs_in:
            return [position for position, option in enumerate(options) if option != NONE]
        return None

    def from_decisions(self, tokens):
        """The :class:`HierarchicalArchitecture` of one option index per entry of :meth:`decisions`."""
        options, layout = self._decision_layout()
        levels = defaultdict(lambda: defaultdict(list))  # level -> motif -> entries
        for (t, m, _, _, _), token in zip(layout, tokens):
            levels[t][m].append(options[t][token])
        return HierarchicalArchitecture(
            tuple(tuple(tuple(levels[t][m]) for m in sorted(levels[t])) for t in sorted(levels))
        )

    def to_decisions(self, architecture):
        """The option indices that :meth:`from_decisions` turns into ``architecture``."""
        _, _, options = self._structure()
        return [
            _index(options[t], entry)
            for t, level in enumerate(architecture.motifs)
            for entries in level
            for entry in entries
        ]


@functools.lru_cache(maxsize=64)
def _decision_layout(nodes, counts):
    """Per decision (level, motif, edge, n_nodes, the motif's first decision); cached, since the
    controller asks :meth:`HierarchicalSpace.allowed_decisions` once per decision it samples."""
    layout = []
    for t, (n, count) in enumerate(zip(nodes, counts)):
        for m in range(count):
            start = len(layout)
            layout += [(t, m, e, n, start) for e in range(len(_edges(n)))]
    return tuple(layout)
