"""The strategy contract: ask for architectures, tell their results."""
from abc import ABC, abstractmethod

import numpy as np
from sklearn.utils import check_random_state

from ..._utils._random import SEED_MAX
from ..._utils._params import ParamsMixin


class Strategy(ParamsMixin, ABC):
    """An architecture optimiser that speaks ask/tell.

    A strategy instance holds only its settings until :meth:`reset` binds it
    to a search space and a random state; ``AutoNASClassifier`` works on a
    copy, so the instance a user passes is never changed by ``fit``.

    Subclasses implement :meth:`_ask_one` and may extend :meth:`tell` and
    :meth:`reset`; they use only the space's ``sample``, ``mutate`` and
    ``encode``.
    """

    def reset(self, space, random_state=None):
        """Bind to ``space`` and start a fresh search; returns ``self``."""
        self.space = space
        # A numpy Generator seeded from random_state: None, int or RandomState.
        seed = check_random_state(random_state).randint(SEED_MAX)
        self._rng = np.random.default_rng(seed)
        self._seen = set()
        self.history = []
        return self

    def ask(self, n=None):
        """Propose one architecture, or a list of ``n`` to evaluate in parallel."""
        if not hasattr(self, "_rng"):
            raise RuntimeError(f"call {type(self).__name__}.reset(space, random_state) before ask().")
        if n is None:
            return self._propose()
        if n < 1:
            raise ValueError(f"ask(n) needs n >= 1; got n={n}.")
        return [self._propose() for _ in range(n)]

    def _propose(self):
        architecture = self._ask_one()
        self._seen.add(architecture)
        return architecture

    @abstractmethod
    def _ask_one(self):
        """One architecture to try next (may read ``self.history``)."""

    def tell(self, architecture, result):
        """Report the result of a trial (an object with ``score``; NaN for a failed trial)."""
        self.history.append((architecture, float(result.score)))
