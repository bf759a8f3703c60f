"""REINFORCE: a recurrent controller that writes architectures decision by decision (Zoph and Le, 2017).

The controller needs more from a space than ``sample``/``mutate``/``encode``:
it needs the architecture as a sequence of categorical decisions. That is
the *decision protocol*, offered by a space through three methods,

* ``decisions()`` -> list of ``(name, n_options)``, in a fixed order;
* ``from_decisions(tokens)`` -> the architecture of a list of option indices;
* ``to_decisions(architecture)`` -> a list of option indices that decodes
  to ``architecture``,

or, for the spaces of skautoml, by an adapter of this module
(:func:`decision_adapter`), so that the spaces themselves stay unchanged.
"""
import math
import warnings
from collections import defaultdict, deque
from numbers import Integral, Real

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..space._cell import Block, CellArchitecture, CellSpace
from ..space._chain import _PARAMETER_FREE, CNNArchitecture, CNNLayer, CNNSpace, MLPArchitecture, MLPSpace, _skip_pairs
from ..space._hierarchical import (
    NONE,
    FactorizedArchitecture,
    FactorizedSpace,
    HierarchicalArchitecture,
    HierarchicalSpace,
    StageChoice,
    _edges,
)
from ._base import Strategy

# --------------------------------------------------------------------------- the decision protocol


class _Decisions:
    """An architecture of ``space`` as a sequence of categorical decisions.

    ``decisions`` lists ``(name, n_options)``; :meth:`decode` turns one option
    index per decision into an architecture of the space, :meth:`encode`
    does the reverse, and :meth:`allowed` may forbid options given the
    decisions already taken (``None``: every option is allowed), for spaces
    whose validity rules tie decisions together.
    """

    #: Whether :meth:`allowed` ever forbids an option (the controller skips it otherwise).
    constrained = False

    def __init__(self, space):
        self.space = space
        self.decisions = self._decisions()

    def allowed(self, prefix):
        return None


class _OwnDecisions(_Decisions):
    """A space that offers the protocol itself."""

    def _decisions(self):
        return [(str(name), int(n)) for name, n in self.space.decisions()]

    def decode(self, tokens):
        return self.space.from_decisions(list(tokens))

    def encode(self, architecture):
        return [int(t) for t in self.space.to_decisions(architecture)]


def _index(options, value):
    """Position of ``value`` in ``options``, strict about type (``True`` is not ``1``)."""
    for position, option in enumerate(options):
        if type(option) is type(value) and option == value:
            return position
    return list(options).index(value)


class _MLPDecisions(_Decisions):
    """Depth first, then a width for each of ``max_layers`` layers (those past the depth are ignored),
    then the activation, dropout, batch norm and skip settings."""

    def _decisions(self):
        s = self.space
        return (
            [("depth", s.max_layers - s.min_layers + 1)]
            + [(f"width{i}", len(s.widths)) for i in range(s.max_layers)]
            + [("activation", len(s.activations)), ("dropout", len(s.dropouts))]
            + [("batch_norm", len(s.batch_norm)), ("skip", len(s.skip))]
        )

    def decode(self, tokens):
        s = self.space
        depth = s.min_layers + tokens[0]
        widths = tuple(s.widths[t] for t in tokens[1 : 1 + depth])
        rest = tokens[1 + s.max_layers :]
        return MLPArchitecture(
            widths, s.activations[rest[0]], s.dropouts[rest[1]], s.batch_norm[rest[2]], s.skip[rest[3]]
        )

    def encode(self, architecture):
        s, a = self.space, architecture
        widths = [_index(s.widths, w) for w in a.widths] + [0] * (s.max_layers - len(a.widths))
        return [len(a.widths) - s.min_layers, *widths] + [
            _index(s.activations, a.activation),
            _index(s.dropouts, a.dropout),
            _index(s.batch_norm, a.batch_norm),
            _index(s.skip, a.skip),
        ]


class _CNNDecisions(_Decisions):
    """Stem channels, depth, an operation and channels for each of ``max_layers`` layers, one bit per skip.

    Layers past the depth and the channels of parameter-free operations are
    ignored. The skip bits are those of the deepest chain; for a shallower
    one a skip into a missing layer is dropped and a skip into the deepest
    chain's head goes into this chain's head (as :meth:`CNNSpace.encode`
    places it), so every sequence is a valid chain.
    """

    def _decisions(self):
        s = self.space
        layers = []
        for i in range(s.max_layers):
            layers += [(f"op{i}", len(s.operations)), (f"channels{i}", len(s.channels))]
        skips = [(f"skip{i}-{j}", 2) for i, j in self._pairs()]
        return [("stem", len(s.stem_channels)), ("depth", s.max_layers - s.min_layers + 1), *layers, *skips]

    def _pairs(self):
        return _skip_pairs(self.space.max_layers) if self.space.skip_probability > 0 else []

    def decode(self, tokens):
        s = self.space
        n_layers = s.min_layers + tokens[1]
        layers = []
        for i in range(n_layers):
            op = s.operations[tokens[2 + 2 * i]]
            layers.append(CNNLayer(op, None if op in _PARAMETER_FREE else s.channels[tokens[3 + 2 * i]]))
        head = s.max_layers + 1
        skips = set()
        for (i, j), bit in zip(self._pairs(), tokens[2 + 2 * s.max_layers :]):
            if bit and j <= n_layers:
                skips.add((i, j))
            elif bit and j == head and i < n_layers:
                skips.add((i, n_layers + 1))
        return CNNArchitecture(s.stem_channels[tokens[0]], tuple(layers), tuple(sorted(skips)))

    def encode(self, architecture):
        s, a = self.space, architecture
        n_layers = len(a.layers)
        layers = []
        for i in range(s.max_layers):
            layer = a.layers[i] if i < n_layers else None
            layers += [
                _index(s.operations, layer.op) if layer else 0,
                _index(s.channels, layer.channels) if layer and layer.channels is not None else 0,
            ]
        head = s.max_layers + 1
        present = {(i, head if j == n_layers + 1 else j) for i, j in a.skips}
        bits = [int(pair in present) for pair in self._pairs()]
        return [_index(s.stem_channels, a.stem_channels), n_layers - s.min_layers, *layers, *bits]


class _CellDecisions(_Decisions):
    """Per cell (normal, then reduction), per block: two inputs (among the ``2 + i`` states
    block ``i`` may read), two operations, the combination."""

    _FIELDS = ("input1", "input2", "op1", "op2", "combine")

    def _decisions(self):
        s = self.space
        s._check_params()
        return [
            (f"{cell}.b{i}.{field}", n)
            for cell in ("normal", "reduction")
            for i in range(s.n_blocks)
            for field, n in zip(self._FIELDS, (2 + i, 2 + i, len(s.operations), len(s.operations), len(s.combine)))
        ]

    def decode(self, tokens):
        s = self.space
        cells, position = [], 0
        for _ in range(2):
            blocks = []
            for _ in range(s.n_blocks):
                in1, in2, op1, op2, combine = tokens[position : position + 5]
                blocks.append(Block(int(in1), int(in2), s.operations[op1], s.operations[op2], s.combine[combine]))
                position += 5
            cells.append(tuple(blocks))
        return CellArchitecture(*cells)

    def encode(self, architecture):
        s = self.space
        return [
            value
            for blocks in (architecture.normal, architecture.reduction)
            for b in blocks
            for value in (
                b.input1,
                b.input2,
                _index(s.operations, b.op1),
                _index(s.operations, b.op2),
                _index(s.combine, b.combine),
            )
        ]


class _FactorizedDecisions(_Decisions):
    """Per stage: block type, kernel size, expansion ratio (ignored unless MBConv), SE, repeats."""

    def _decisions(self):
        s = self.space
        s._check()
        sizes = (len(s.block_types), len(s.kernel_sizes), len(s.expansion_ratios), len(s.se), len(s.repeats))
        names = ("block", "kernel_size", "expansion", "se", "repeats")
        return [(f"stage{k}.{name}", n) for k in range(s.n_stages) for name, n in zip(names, sizes)]

    def decode(self, tokens):
        s = self.space
        stages = []
        for k in range(s.n_stages):
            block, kernel, expansion, se, repeats = tokens[5 * k : 5 * k + 5]
            block = s.block_types[block]
            stages.append(
                StageChoice(
                    block,
                    s.kernel_sizes[kernel],
                    s.expansion_ratios[expansion] if block == "mbconv" else None,
                    s.se[se],
                    s.repeats[repeats],
                )
            )
        return FactorizedArchitecture(tuple(stages))

    def encode(self, architecture):
        s = self.space
        return [
            value
            for stage in architecture.stages
            for value in (
                _index(s.block_types, stage.block),
                _index(s.kernel_sizes, stage.kernel_size),
                _index(s.expansion_ratios, stage.expansion) if stage.expansion is not None else 0,
                _index(s.se, stage.se),
                _index(s.repeats, stage.repeats),
            )
        ]


class _HierarchicalDecisions(_Decisions):
    """Every adjacency entry of every motif of every level, in the order of the architecture value.

    Validity (every node on an input-to-output path) is kept while decoding:
    entries come row by row, so when an entry is the last chance for its
    source node to get an outgoing edge, or for its target node to get an
    incoming one, ``'none'`` is not allowed there. Every sequence is then a
    valid architecture, and no valid architecture is excluded.
    """

    constrained = True

    def _decisions(self):
        nodes, counts, options = self.space._structure()
        self._options = options
        # Per decision: (level, motif, edge, n_nodes, index of the motif's first decision).
        self._layout = []
        names = []
        for t, (n, count) in enumerate(zip(nodes, counts)):
            for m in range(count):
                start = len(self._layout)
                for e, (i, j) in enumerate(_edges(n)):
                    self._layout.append((t, m, e, n, start))
                    names.append((f"L{t + 2}.m{m}.{i}>{j}", len(options[t])))
        return names

    def allowed(self, prefix):
        k = len(prefix)
        t, _, e, n, start = self._layout[k]
        options = self._options[t]
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

    def decode(self, tokens):
        levels = defaultdict(lambda: defaultdict(list))  # level -> motif -> entries
        for (t, m, _, _, _), token in zip(self._layout, tokens):
            levels[t][m].append(self._options[t][token])
        return HierarchicalArchitecture(
            tuple(tuple(tuple(levels[t][m]) for m in sorted(levels[t])) for t in sorted(levels))
        )

    def encode(self, architecture):
        return [
            _index(self._options[t], entry)
            for t, level in enumerate(architecture.motifs)
            for entries in level
            for entry in entries
        ]


class _PolicyDecisions(_Decisions):
    """Per sub-policy, per op: which op, its magnitude level, its probability level."""

    def _decisions(self):
        s = self.space
        self._names, self._values = tuple(s._op_classes()), s._values()
        fields = (("op", len(self._names)), ("magnitude", len(self._values)), ("probability", len(self._values)))
        return [
            (f"sub{i}.op{j}.{field}", n)
            for i in range(s.n_sub_policies)
            for j in range(s.ops_per_sub_policy)
            for field, n in fields
        ]

    def decode(self, tokens):
        from ...prep.augment._policy import PolicyOp

        s = self.space
        ops = [
            PolicyOp(self._names[tokens[k]], self._values[tokens[k + 1]], self._values[tokens[k + 2]])
            for k in range(0, len(tokens), 3)
        ]
        n = s.ops_per_sub_policy
        return tuple(tuple(ops[i * n : (i + 1) * n]) for i in range(s.n_sub_policies))

    def encode(self, policy):
        names, values = self._names, self._values
        return [
            value
            for sub in policy
            for op in sub
            for value in (names.index(op.op), values.index(op.magnitude), values.index(op.probability))
        ]


_ADAPTERS = {
    MLPSpace: _MLPDecisions,
    CNNSpace: _CNNDecisions,
    CellSpace: _CellDecisions,
    FactorizedSpace: _FactorizedDecisions,
    HierarchicalSpace: _HierarchicalDecisions,
}


def decision_adapter(space):
    """The decisions of ``space``: its own protocol methods, or skautoml's adapter for its type.

    Parameters
    ----------
    space : SearchSpace

    Returns
    -------
    adapter : object
        With ``decisions`` (list of ``(name, n_options)``), ``decode(tokens)``,
        ``encode(architecture)`` and ``allowed(prefix)``.

    Raises
    ------
    TypeError
        When the space offers no decision protocol and skautoml has no
        adapter for it.

    Examples
    --------
    >>> from skautoml.nas import MLPSpace
    >>> from skautoml.nas.strategy._reinforce import decision_adapter
    >>> adapter = decision_adapter(MLPSpace(max_layers=2, widths=(8, 16)))
    >>> adapter.decisions[:3]
    [('depth', 2), ('width0', 2), ('width1', 2)]
    >>> adapter.decode([1, 0, 1, 0, 0, 0, 0])
    MLPArchitecture(widths=(8, 16), activation='relu', dropout=0.0, batch_norm=False, skip=False)
    """
    if all(callable(getattr(space, name, None)) for name in ("decisions", "from_decisions", "to_decisions")):
        return _OwnDecisions(space)
    # Imported here: the augmentation package imports the strategies.
    from ...prep.augment._policy import PolicySpace

    adapters = {**_ADAPTERS, PolicySpace: _PolicyDecisions}
    for cls in type(space).__mro__:
        if cls in adapters:
            return adapters[cls](space)
    raise TypeError(
        "REINFORCE needs a space that can be written as a sequence of categorical decisions; "
        f"{type(space).__name__} does not offer it: give it the methods decisions() -> [(name, n_options), ...], "
        "from_decisions(tokens) -> architecture and to_decisions(architecture) -> tokens, or use a strategy "
        "that needs only sample, mutate and encode ('random', 'evolution', 'bayesian')."
    )


# --------------------------------------------------------------------------- the controller


class _ControllerNet(nn.Module):
    """An LSTM that emits one token per decision, each from its own softmax head.

    The input of a step is a learned embedding of the previous decision's
    option (a start embedding for the first), so later decisions depend on
    earlier ones.
    """

    def __init__(self, sizes, hidden_size):
        super().__init__()
        self.sizes = tuple(sizes)
        # Row of option 0 of decision k in the embedding table; row 0 is the start token.
        self.offsets = [1 + int(sum(self.sizes[:k])) for k in range(len(self.sizes))]
        self.embedding = nn.Embedding(1 + sum(self.sizes), hidden_size)
        self.cell = nn.LSTMCell(hidden_size, hidden_size)
        self.heads = nn.ModuleList(nn.Linear(hidden_size, n) for n in self.sizes)
        for parameter in self.parameters():
            # Small weights make the first policy close to uniform per decision (as in ENAS).
            nn.init.uniform_(parameter, -0.1, 0.1)

    def forward(self, n, tokens=None, generator=None, allowed=None):
        """Sample ``n`` sequences (``tokens`` None) or score the given ``(n, T)`` tokens.

        ``allowed(k, prefixes)`` gives the boolean ``(n, n_options)`` mask of
        the allowed options of decision ``k`` after the ``(n, k)`` tokens
        ``prefixes``, or None. Returns the tokens and, when scoring, their
        log-probabilities and the entropies of the step distributions (each
        summed over the sequence; zeros when sampling).
        """
        hidden = self.cell.hidden_size
        h = torch.zeros(n, hidden)
        c = torch.zeros(n, hidden)
        x = self.embedding(torch.zeros(n, dtype=torch.long))
        chosen, log_prob, entropy = [], torch.zeros(n), torch.zeros(n)
        for k, head in enumerate(self.heads):
            h, c = self.cell(x, (h, c))
            logits = head(h)
            mask = None
            if allowed is not None:
                mask = allowed(k, torch.stack(chosen, dim=1) if chosen else torch.zeros(n, 0, dtype=torch.long))
            if mask is not None:
                logits = logits.masked_fill(~mask, -math.inf)
            if tokens is None:  # sampling: no log-probabilities or entropies needed
                choice = torch.multinomial(F.softmax(logits, dim=1), 1, generator=generator).squeeze(1)
            else:
                choice = tokens[:, k]
                log_probs = F.log_softmax(logits, dim=1)
                log_prob = log_prob + log_probs.gather(1, choice[:, None]).squeeze(1)
                # Forbidden options have probability 0 and add nothing (0 * -inf would be NaN).
                finite = log_probs if mask is None else log_probs.masked_fill(~mask, 0.0)
                entropy = entropy - (log_probs.exp() * finite).sum(1)
            chosen.append(choice)
            x = self.embedding(choice + self.offsets[k])
        return torch.stack(chosen, dim=1), log_prob, entropy


class ReinforceController(Strategy):
    """A recurrent controller trained by REINFORCE to write good architectures (Zoph and Le, 2017).

    The controller, an LSTM cell with ``hidden_size`` units, emits an
    architecture as a sequence of categorical decisions, one softmax per
    decision, each conditioned on the decisions before it. After every
    ``batch_size`` finite results it takes one Adam step on the policy gradient
    ``(reward - baseline) * grad log p(sequence)`` plus an entropy bonus
    (weight ``entropy_weight``) that keeps it exploring. The baseline is an
    exponential moving average of the rewards (decay ``baseline_decay``);
    advantages are divided by the moving standard deviation of the rewards
    (same decay), so that ``lr`` and ``entropy_weight`` mean the same for
    accuracies in [0, 1] and for any other score scale.

    The space must be writable as decisions: skautoml's spaces
    (:class:`~skautoml.nas.MLPSpace`, :class:`~skautoml.nas.CNNSpace`,
    :class:`~skautoml.nas.CellSpace`, :class:`~skautoml.nas.FactorizedSpace`,
    :class:`~skautoml.nas.HierarchicalSpace`,
    :class:`~skautoml.prep.augment.PolicySpace`) are, through adapters of this
    module, and so is any space with the methods ``decisions()``,
    ``from_decisions(tokens)`` and ``to_decisions(architecture)``; other
    spaces raise a ``TypeError`` at :meth:`reset`. Variable-depth spaces
    emit the depth first, then the decisions of the deepest network; those
    of layers past the depth are ignored (they still are part of the
    sampled sequence whose probability is trained). Every sequence decodes
    to a member of the space; a decoded value that is not (possible only
    with a space's own protocol) is drawn again, up to ten times, after
    which a random unseen architecture is used with a warning.

    A proposal the search has already seen is drawn again, up to ten times,
    so that parallel and late trials are not spent on repeats. Failed trials
    (non-finite score) take no part in the updates. Results of
    architectures this controller did not propose are learned from too,
    through the space's ``to_decisions``.

    The controller's weights and sampling are seeded from ``random_state``
    without touching torch's global random state.

    Parameters
    ----------
    hidden_size : int, default=32
        Units of the LSTM cell and size of the decision embeddings.
    lr : float, default=0.02
        Adam learning rate of the controller. Zoph and Le's 6e-4 suits tens
        of thousands of trials; a NAS budget here is tens to hundreds.
    baseline_decay : float, default=0.9
        Decay of the moving averages of the reward and its variance, in [0, 1).
    entropy_weight : float, default=1e-3
        Weight of the entropy bonus (in units of the reward's standard deviation).
    batch_size : int, default=4
        Finite results per policy-gradient step.

    Attributes
    ----------
    controller : torch.nn.Module
        The LSTM controller, after :meth:`reset`.
    entropies : list of float
        Mean entropy per decision of the controller's distribution on each
        update's batch, one entry per update: it falls as the policy sharpens.

    Examples
    --------
    >>> from skautoml.nas import MLPSpace, TrialResult
    >>> from skautoml.nas.strategy._reinforce import ReinforceController
    >>> space = MLPSpace(max_layers=2)
    >>> strategy = ReinforceController(batch_size=2).reset(space, random_state=0)
    >>> for architecture in strategy.ask(4):
    ...     strategy.tell(architecture, TrialResult(architecture, score=len(architecture.widths), status="ok"))
    >>> len(strategy.entropies)
    2
    >>> space.contains(strategy.ask())
    True
    """

    def __init__(self, hidden_size=32, lr=0.02, baseline_decay=0.9, entropy_weight=1e-3, batch_size=4):
        self.hidden_size = hidden_size
        self.lr = lr
        self.baseline_decay = baseline_decay
        self.entropy_weight = entropy_weight
        self.batch_size = batch_size

    def _check_params(self):
        for name in ("hidden_size", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        checks = (
            ("lr", lambda v: v > 0, "a positive number"),
            ("baseline_decay", lambda v: 0 <= v < 1, "a number in [0, 1)"),
            ("entropy_weight", lambda v: v >= 0, "a number >= 0"),
        )
        for name, valid, what in checks:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or not valid(value):
                raise ValueError(f"{name} must be {what}, got {value!r}.")

    def reset(self, space, random_state=None):
        self._check_params()
        self._decisions = decision_adapter(space)
        if not self._decisions.decisions:
            raise ValueError(f"{type(space).__name__} gives no decisions to make; nothing to learn.")
        super().reset(space, random_state)
        weights_seed, sampling_seed = (int(s) for s in self._rng.integers(2**62, size=2))
        # The controller's initial weights come from the search's seed, not from torch's global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(weights_seed)
            self.controller = _ControllerNet([n for _, n in self._decisions.decisions], int(self.hidden_size))
        self._generator = torch.Generator().manual_seed(sampling_seed)
        self._optimizer = torch.optim.Adam(self.controller.parameters(), lr=float(self.lr))
        self._proposed = defaultdict(deque)  # architecture -> token sequences proposed for it
        self._batch = []  # (tokens, reward) awaiting the next update
        self._baseline = self._variance = None
        self._warned = False
        self.entropies = []
        return self

    # ------------------------------------------------------------------ sampling

    def _mask(self):
        """``allowed(k, prefixes)`` for the controller, or None when the space constrains nothing."""
        if not self._decisions.constrained:
            return None
        sizes = [n for _, n in self._decisions.decisions]

        def allowed(k, prefixes):
            mask = torch.ones(len(prefixes), sizes[k], dtype=torch.bool)
            for row, prefix in enumerate(prefixes.tolist()):
                options = self._decisions.allowed(prefix)
                if options is not None:
                    mask[row] = False
                    mask[row, options] = True
            return mask

        return allowed

    def _sample(self):
        with torch.inference_mode():
            tokens, _, _ = self.controller(1, generator=self._generator, allowed=self._mask())
        tokens = tokens[0].tolist()
        return self._decisions.decode(tokens), tokens

    def _ask_one(self):
        for _ in range(10):
            architecture, tokens = self._sample()
            if self.space.contains(architecture):
                break
        else:
            if not self._warned:
                warnings.warn(
                    f"decisions sampled by the REINFORCE controller decoded to values that are not members of "
                    f"{type(self.space).__name__} ten times in a row; using random architectures instead. "
                    "Check the space's from_decisions.",
                    UserWarning,
                    stacklevel=3,
                )
                self._warned = True
            architecture = self.space.sample_unseen(self._rng, self._seen)
            tokens = self._decisions.encode(architecture)
        for _ in range(10):  # a repeat wastes a trial: draw again
            if architecture not in self._seen:
                break
            candidate, candidate_tokens = self._sample()
            if self.space.contains(candidate):
                architecture, tokens = candidate, candidate_tokens
        self._proposed[architecture].append(tokens)
        return architecture

    # ------------------------------------------------------------------ learning

    def tell(self, architecture, result):
        super().tell(architecture, result)
        pending = self._proposed.get(architecture)
        tokens = pending.popleft() if pending else None
        if pending is not None and not pending:
            del self._proposed[architecture]
        reward = float(result.score)
        if not math.isfinite(reward):
            return
        if tokens is None:  # not proposed by this controller: learn from it all the same
            tokens = self._decisions.encode(architecture)
        self._batch.append((tokens, reward))
        if len(self._batch) >= self.batch_size:
            self._update()

    def _advantages(self, rewards):
        decay = float(self.baseline_decay)
        if self._baseline is None:
            self._baseline, self._variance = float(np.mean(rewards)), float(np.var(rewards))
        advantages = []
        for reward in rewards:
            std = math.sqrt(self._variance)
            advantages.append((reward - self._baseline) / std if std > 1e-12 else reward - self._baseline)
            self._variance = decay * self._variance + (1 - decay) * (reward - self._baseline) ** 2
            self._baseline = decay * self._baseline + (1 - decay) * reward
        return torch.tensor(advantages, dtype=torch.float32)

    def _update(self):
        batch, self._batch = self._batch, []
        tokens = torch.tensor([t for t, _ in batch], dtype=torch.long)
        advantages = self._advantages([r for _, r in batch])
        _, log_prob, entropy = self.controller(len(batch), tokens=tokens, allowed=self._mask())
        loss = -(advantages * log_prob).mean() - float(self.entropy_weight) * entropy.mean()
        self._optimizer.zero_grad()
        loss.backward()
        self._optimizer.step()
        self.entropies.append(float(entropy.detach().mean()) / len(self._decisions.decisions))
