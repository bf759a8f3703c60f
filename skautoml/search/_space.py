"""The search-space contract."""
from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator


class SearchSpace(BaseEstimator, ABC):
    """A set of neural architectures that strategies explore.

    An architecture is a plain, hashable and picklable value (a frozen
    dataclass), never a torch module; :meth:`build` turns one into an
    ``nn.Module``. Strategies use only ``sample``, ``mutate`` and ``encode``
    (and REINFORCE the decision protocol below), so a new space works with
    every strategy that needs no more than these.

    The contract is not tied to networks: a value only has to be hashable and
    encodable, so :class:`skautoml.prep.augment.PolicySpace` (augmentation
    policies, whose ``build`` returns a policy) is searched by the same
    strategies.

    **Decision protocol.** Strategies that write a value decision by
    decision (:class:`~skautoml.search.ReinforceController`) need more: the
    value as a fixed sequence of categorical decisions. A space offers it
    with three methods, which this base class does not define:

    * ``decisions()`` -> list of ``(name, n_options)``, in a fixed order;
    * ``from_decisions(tokens)`` -> the value of one option index per
      decision;
    * ``to_decisions(value)`` -> option indices that ``from_decisions``
      turns back into ``value``;

    and, only where validity ties decisions together, a fourth:
    ``allowed_decisions(prefix)`` -> the option indices allowed for the
    decision after the indices ``prefix``, or None for all. Every sequence
    that respects it should decode to a member of the space.

    Subclasses store their constructor arguments unchanged, as scikit-learn
    estimators do: ``get_params`` / ``set_params`` are scikit-learn's, so a
    space is a parameter of ``AutoNASClassifier`` that ``clone`` handles and
    ``set_params(search_space__n_cells=5)`` reaches.
    """

    #: True for spaces whose networks take images (N, C, H, W).
    takes_images = False

    @abstractmethod
    def sample(self, rng):
        """Draw one architecture uniformly at random per decision.

        Parameters
        ----------
        rng : numpy.random.Generator

        Returns
        -------
        architecture : hashable value of this space
        """

    @abstractmethod
    def mutate(self, architecture, rng):
        """Return a copy of ``architecture`` with one decision changed.

        The result differs from the input whenever the space has more than one
        architecture.
        """

    @abstractmethod
    def encode(self, architecture):
        """A fixed-length float vector describing ``architecture`` (for surrogates)."""

    @abstractmethod
    def build(self, architecture, input_shape, n_outputs):
        """The ``torch.nn.Module`` of ``architecture``.

        Parameters
        ----------
        architecture : value of this space
        input_shape : tuple of int
            Shape of one sample, without the batch axis: ``(n_features,)`` for
            tabular spaces, ``(channels, height, width)`` for image spaces.
        n_outputs : int
            Number of logits the module returns per sample.
        """

    @abstractmethod
    def size(self):
        """The number of distinct architectures in the space (a Python int)."""

    @abstractmethod
    def contains(self, architecture):
        """Whether ``architecture`` is a valid member of this space."""

    def sample_unseen(self, rng, seen, max_tries=100):
        """Sample an architecture not in ``seen`` when one can be found quickly.

        Falls back to a repeated architecture after ``max_tries`` draws, which
        happens only in nearly exhausted spaces.
        """
        architecture = self.sample(rng)
        for _ in range(max_tries):
            if architecture not in seen:
                break
            architecture = self.sample(rng)
        return architecture

    def __repr__(self):
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash((type(self).__name__, repr(self)))


def choose(rng, options):
    """One element of the sequence ``options``, drawn uniformly."""
    return options[int(rng.integers(len(options)))]


def choose_other(rng, options, current):
    """An element of ``options`` different from ``current`` (when there is one)."""
    others = [option for option in options if option != current]
    return choose(rng, others) if others else current


def one_hot(value, options):
    vector = np.zeros(len(options))
    vector[list(options).index(value)] = 1.0
    return vector
