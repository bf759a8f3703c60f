"""REINFORCE: a recurrent controller that writes architectures decision by decision (Zoph and Le, 2017).

The controller needs more from a space than ``sample``/``mutate``/``encode``:
it needs the architecture as a sequence of categorical decisions. That is
the *decision protocol* of :class:`~skautoml.search.SearchSpace`, which a
space offers through its own methods,

* ``decisions()`` -> list of ``(name, n_options)``, in a fixed order;
* ``from_decisions(tokens)`` -> the architecture of a list of option indices;
* ``to_decisions(architecture)`` -> a list of option indices that decodes
  to ``architecture``;
* optionally ``allowed_decisions(prefix)`` -> the option indices allowed
  after ``prefix``, or None (for spaces whose validity ties decisions together).

This module knows no space: every space of skautoml offers the protocol itself.
"""
import math
import warnings
from collections import defaultdict, deque
from numbers import Real

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ._base import Strategy

# --------------------------------------------------------------------------- the decision protocol


class _Decisions:
    """The decisions of a space that offers the protocol (see the module docstring), for the controller."""

    def __init__(self, space):
        self.space = space
        self.decisions = [(str(name), int(n)) for name, n in space.decisions()]
        allowed = getattr(space, "allowed_decisions", None)
        # The controller masks options only for spaces whose rules tie decisions together.
        self.constrained = callable(allowed)
        self._allowed = allowed

    def allowed(self, prefix):
        return self._allowed(list(prefix)) if self.constrained else None

    def decode(self, tokens):
        return self.space.from_decisions([int(t) for t in tokens])

    def encode(self, architecture):
        return [int(t) for t in self.space.to_decisions(architecture)]


def decision_adapter(space):
    """The decision protocol of ``space``, as the controller uses it.

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
        When the space does not offer the decision protocol.

    Examples
    --------
    >>> from skautoml.nas import MLPSpace
    >>> from skautoml.search.strategy._reinforce import decision_adapter
    >>> adapter = decision_adapter(MLPSpace(max_layers=2, widths=(8, 16)))
    >>> adapter.decisions[:3]
    [('depth', 2), ('width0', 2), ('width1', 2)]
    >>> adapter.decode([1, 0, 1, 0, 0, 0, 0])
    MLPArchitecture(widths=(8, 16), activation='relu', dropout=0.0, batch_norm=False, skip=False)
    """
    if all(callable(getattr(space, name, None)) for name in ("decisions", "from_decisions", "to_decisions")):
        return _Decisions(space)
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

    The space must be writable as decisions, through the decision protocol
    of :class:`~skautoml.search.SearchSpace` (the methods ``decisions()``,
    ``from_decisions(tokens)``, ``to_decisions(architecture)`` and,
    optionally, ``allowed_decisions(prefix)``): skautoml's spaces
    (:class:`~skautoml.nas.MLPSpace`, :class:`~skautoml.nas.CNNSpace`,
    :class:`~skautoml.nas.CellSpace`, :class:`~skautoml.nas.FactorizedSpace`,
    :class:`~skautoml.nas.HierarchicalSpace`,
    :class:`~skautoml.prep.augment.PolicySpace`) offer it, and so may any
    other space; those that do not raise a ``TypeError`` at :meth:`reset`. Variable-depth spaces
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
    >>> from skautoml.search import ReinforceController
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
        self._check_positive_ints("hidden_size", "batch_size")
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
        if getattr(result, "status", None) == "infeasible":
            # Refused by the search's limits: rewarded as the worst trained candidate so far, so the policy
            # learns to avoid what it cannot train.
            finite = [score for _, score in self.history if math.isfinite(score)]
            reward = min(finite, default=0.0)
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
