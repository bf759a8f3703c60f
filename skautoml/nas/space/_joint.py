"""Joint search of training hyperparameters and architectures: one space whose values are both.

:class:`TrainingSpace` puts the training settings on grids (log grids for the
learning rate and the weight decay), so every discrete strategy takes them;
:class:`JointSpace` joins it to a network space, and a value of the joint
space is a :class:`JointArchitecture`: the network and how to train it. The
evaluator trains a joint value with its own settings
(see :class:`~skautoml.nas.Evaluator`).
"""
import math
from dataclasses import dataclass

import numpy as np
from torch import nn
from torch.nn import functional as F

from ...search import SearchSpace, choose, choose_other, one_hot
from ._options import _index, _is_member

#: Optimisers a :class:`TrainingSpace` may offer.
OPTIMIZERS = ("adamw", "sgd")
#: SGD's learning rate over the grid's (which is centred on an AdamW step): plain SGD needs a larger step.
SGD_LR_SCALE = 10.0


@dataclass(frozen=True)
class TrainingChoice:
    """How a network is trained: AdamW or SGD (Nesterov momentum 0.9) settings, head dropout, augmentation."""

    lr: float
    weight_decay: float
    batch_size: int
    optimizer: str = "adamw"
    dropout: float = 0.0
    augment: str = "none"

    def __str__(self):
        parts = [f"lr={self.lr:g}", f"wd={self.weight_decay:g}", f"batch={self.batch_size}", self.optimizer]
        if self.dropout:
            parts.append(f"drop={self.dropout:g}")
        if self.augment != "none":
            parts.append(f"aug={self.augment}")
        return " ".join(parts)


_FIELDS = ("lr", "weight_decay", "batch_size", "optimizer", "dropout", "augment")
_GRIDS = ("lrs", "weight_decays", "batch_sizes", "optimizers", "dropouts", "augments")


class TrainingSpace(SearchSpace):
    """Training hyperparameters on grids: learning rate, weight decay, batch size, optimiser, dropout, augmentation.

    Every setting is one categorical decision over its grid, so random
    search, evolution, Bayesian optimisation (on :meth:`encode`: logarithms
    of the learning rate, the weight decay and the batch size), REINFORCE
    and the multi-fidelity strategies all search it. It trains nothing
    itself: :meth:`build` returns the :class:`TrainingChoice`, and a
    :class:`JointSpace` joins it to a network space.

    ``dropout`` is applied to the input of the network's classifier head
    (its ``head`` layer) in training; an MLP's own per-layer dropout stays
    an architecture decision. ``'sgd'`` is SGD with Nesterov momentum 0.9 at
    ``SGD_LR_SCALE`` times the grid's learning rate (the grid is centred on
    an AdamW step). ``augments`` are names the estimator resolves (``'none'``,
    ``'light'``, ``'randaugment'``, ...).

    Parameters
    ----------
    lrs, weight_decays, dropouts : tuple of float
    batch_sizes : tuple of int
    optimizers : tuple of {'adamw', 'sgd'}
    augments : tuple of str

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.nas import TrainingSpace
    >>> space = TrainingSpace.centred(lr=3e-3, batch_size=64, augment="light")
    >>> space.lrs
    (0.00075, 0.0015, 0.003, 0.006, 0.012)
    >>> print(space.default())
    lr=0.003 wd=0.0001 batch=64 adamw aug=light
    """

    def __init__(
        self,
        lrs=(7.5e-4, 1.5e-3, 3e-3, 6e-3, 1.2e-2),
        weight_decays=(0.0, 1e-5, 1e-4, 1e-3, 1e-2),
        batch_sizes=(32, 64, 128),
        optimizers=OPTIMIZERS,
        dropouts=(0.0, 0.1, 0.25, 0.5),
        augments=("none",),
    ):
        self.lrs = lrs
        self.weight_decays = weight_decays
        self.batch_sizes = batch_sizes
        self.optimizers = optimizers
        self.dropouts = dropouts
        self.augments = augments

    @classmethod
    def centred(cls, lr, batch_size, augment="none", weight_decay=1e-4, augments=None):
        """The space around an estimator's settings: ``lr`` times 4^-1 ... 4 on a factor-2 grid, ``batch_size``
        halved and doubled, the weight decay from 0 to 100 times ``weight_decay``, ``augment`` first among
        ``augments`` (default ``(augment, 'none')``)."""
        augments = (augment, "none") if augments is None else (augment, *augments)
        return cls(
            lrs=tuple(float(lr * 2.0**k) for k in range(-2, 3)),
            weight_decays=(0.0, weight_decay / 10, weight_decay, weight_decay * 10, weight_decay * 100),
            batch_sizes=tuple(sorted({max(1, batch_size // 2), batch_size, batch_size * 2})),
            augments=tuple(dict.fromkeys(augments)),
        )

    def _check(self):
        for name in _GRIDS:
            values = getattr(self, name)
            if not isinstance(values, tuple) or not values or len(set(values)) != len(values):
                raise ValueError(f"TrainingSpace: {name} must be a non-empty tuple without repeats; got {values!r}.")
        bad = [
            f"{name}={values!r} ({why})"
            for name, values, ok, why in (
                ("lrs", self.lrs, lambda v: v > 0, "positive"),
                ("weight_decays", self.weight_decays, lambda v: v >= 0, ">= 0"),
                ("batch_sizes", self.batch_sizes, lambda v: isinstance(v, int) and v >= 1, "positive ints"),
                ("optimizers", self.optimizers, lambda v: v in OPTIMIZERS, f"among {OPTIMIZERS}"),
                ("dropouts", self.dropouts, lambda v: 0 <= v < 1, "in [0, 1)"),
            )
            if not all(ok(v) for v in values)
        ]
        if bad:
            raise ValueError(f"TrainingSpace: {'; '.join(bad)}.")

    def _grids(self):
        self._check()
        return [getattr(self, name) for name in _GRIDS]

    def default(self):
        """The median of each numeric grid and the first of each other (for a :meth:`centred` space: its centre)."""
        grids = self._grids()
        return TrainingChoice(*(sorted(g)[(len(g) - 1) // 2] for g in grids[:3]), *(g[0] for g in grids[3:]))

    def sample(self, rng):
        return TrainingChoice(*(choose(rng, grid) for grid in self._grids()))

    def mutate(self, architecture, rng):
        grids = self._grids()
        movable = [i for i, grid in enumerate(grids) if len(grid) > 1]
        if not movable:
            return architecture
        i = choose(rng, movable)
        values = [getattr(architecture, name) for name in _FIELDS]
        values[i] = choose_other(rng, grids[i], values[i])
        return TrainingChoice(*values)

    def encode(self, architecture):
        a = architecture
        return np.concatenate(
            [
                [math.log10(a.lr), math.log10(a.weight_decay + 1e-6), math.log2(a.batch_size) / 10, a.dropout],
                one_hot(a.optimizer, self.optimizers),
                one_hot(a.augment, self.augments),
            ]
        )

    def build(self, architecture, input_shape=None, n_outputs=None):
        """The :class:`TrainingChoice` itself: training settings have nothing to build."""
        return architecture

    def size(self):
        return math.prod(len(grid) for grid in self._grids())

    def contains(self, architecture):
        return isinstance(architecture, TrainingChoice) and all(
            _is_member(getattr(architecture, name), grid) for name, grid in zip(_FIELDS, self._grids())
        )

    def decisions(self):
        """One decision per setting, over its grid (for the REINFORCE controller)."""
        return [(name, len(grid)) for name, grid in zip(_FIELDS, self._grids())]

    def from_decisions(self, tokens):
        return TrainingChoice(*(grid[t] for grid, t in zip(self._grids(), tokens)))

    def to_decisions(self, architecture):
        return [_index(grid, getattr(architecture, name)) for name, grid in zip(_FIELDS, self._grids())]


@dataclass(frozen=True)
class JointArchitecture:
    """A value of a :class:`JointSpace`: a network of the network space and how to train it."""

    architecture: object
    training: TrainingChoice

    def __str__(self):
        return f"{self.architecture} | {self.training}"


class HeadDropout(nn.Linear):
    """A linear classifier head with dropout on its input: the state of an ``nn.Linear`` (same keys), so
    weights saved without it load into it and back."""

    def __init__(self, in_features, out_features, p, bias=True):
        super().__init__(in_features, out_features, bias=bias)
        self.p = float(p)

    def forward(self, x):
        return F.linear(F.dropout(x, self.p, self.training), self.weight, self.bias)


class JointSpace(SearchSpace):
    """Architectures and their training hyperparameters as one space (``search_hyperparameters=True``).

    A value is a :class:`JointArchitecture`. Sampling draws both parts;
    a mutation changes one decision of one part, the part drawn in
    proportion to its decisions (so a network of many layers is not
    starved of changes by six settings); :meth:`encode` and the decision
    protocol are the two parts' joined; :meth:`build` builds the network
    and puts the training choice's dropout in front of its ``head``.

    Parameters
    ----------
    network : SearchSpace
        The architectures (any space of skautoml whose networks end in a
        linear ``head``; a decision protocol of its own is needed for
        REINFORCE).
    training : TrainingSpace or None, default=None
        None is ``TrainingSpace()``.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.nas import JointSpace, MLPSpace, TrainingSpace
    >>> space = JointSpace(MLPSpace(max_layers=2), TrainingSpace.centred(lr=3e-3, batch_size=64))
    >>> value = space.sample(np.random.default_rng(0))
    >>> module = space.build(value, input_shape=(4,), n_outputs=3)
    >>> space.contains(space.mutate(value, np.random.default_rng(1)))
    True
    """

    def __init__(self, network, training=None):
        self.network = network
        self.training = training

    @property
    def takes_images(self):
        return self.network.takes_images

    def training_space(self):
        """The training space: ``training``, or ``TrainingSpace()`` when it is None."""
        return TrainingSpace() if self.training is None else self.training

    def sample(self, rng):
        return JointArchitecture(self.network.sample(rng), self.training_space().sample(rng))

    def _n_decisions(self, space):
        return len(space.decisions()) if hasattr(space, "decisions") else len(_FIELDS)

    def mutate(self, architecture, rng):
        training = self.training_space()
        n_network, n_training = self._n_decisions(self.network), self._n_decisions(training)
        if rng.random() < n_network / (n_network + n_training):
            return JointArchitecture(self.network.mutate(architecture.architecture, rng), architecture.training)
        return JointArchitecture(architecture.architecture, training.mutate(architecture.training, rng))

    def encode(self, architecture):
        return np.concatenate(
            [self.network.encode(architecture.architecture), self.training_space().encode(architecture.training)]
        )

    def build(self, architecture, input_shape, n_outputs):
        module = self.network.build(architecture.architecture, input_shape, n_outputs)
        p = architecture.training.dropout
        if p > 0:
            head = getattr(module, "head", None)
            if type(head) is not nn.Linear:
                raise ValueError(
                    f"dropout={p} goes before the network's linear `head`, which networks of "
                    f"{type(self.network).__name__} do not have; use a TrainingSpace with dropouts=(0.0,)."
                )
            module.head = HeadDropout(head.in_features, head.out_features, p, bias=head.bias is not None)
            module.head.load_state_dict(head.state_dict())
        return module

    def size(self):
        return self.network.size() * self.training_space().size()

    def contains(self, architecture):
        return (
            isinstance(architecture, JointArchitecture)
            and self.network.contains(architecture.architecture)
            and self.training_space().contains(architecture.training)
        )

    # ---------------------------------------------------------------- decisions (when the network space has them)

    def decisions(self):
        """The network's decisions, then the training settings' (needs a network space with the protocol)."""
        if not hasattr(self.network, "decisions"):
            raise AttributeError(f"{type(self.network).__name__} offers no decision protocol to join.")
        return [*self.network.decisions(), *self.training_space().decisions()]

    def from_decisions(self, tokens):
        n = len(self.network.decisions())
        return JointArchitecture(
            self.network.from_decisions(list(tokens[:n])), self.training_space().from_decisions(list(tokens[n:]))
        )

    def to_decisions(self, architecture):
        return [
            *self.network.to_decisions(architecture.architecture),
            *self.training_space().to_decisions(architecture.training),
        ]

    def allowed_decisions(self, prefix):
        n = len(self.network.decisions())
        if len(prefix) < n and hasattr(self.network, "allowed_decisions"):
            return self.network.allowed_decisions(list(prefix))
        return None
