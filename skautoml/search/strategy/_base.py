"""The strategy contract: ask for architectures, tell their results."""
from abc import ABC, abstractmethod
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from ..._utils._random import SEED_MAX
from .._results import as_proposal


class Strategy(BaseEstimator, ABC):
    """An architecture optimiser that speaks ask/tell.

    A strategy instance holds only its settings until :meth:`reset` binds it
    to a search space and a random state; ``AutoNASClassifier`` works on a
    copy, so the instance a user passes is never changed by ``fit``.

    Subclasses implement :meth:`_ask_one` and may extend :meth:`tell` and
    :meth:`reset`; they use only the space's ``sample``, ``mutate`` and
    ``encode``, or a protocol the space offers. ``ask`` may return
    :class:`~skautoml.search.Proposal` values to ask for a fidelity or a warm
    start, and fewer candidates than asked (none ends the search); results
    are told in trial order.

    Settings are constructor arguments, so ``get_params`` / ``set_params``
    are scikit-learn's (nested ones included: an estimator's
    ``set_params(strategy__surrogate__n_estimators=20)`` reaches a strategy's
    surrogate).
    """

    #: Whether :meth:`final_warm_start` hands the refit a trained model (which then cannot change shape).
    refits_trained_model = False
    #: Whether the strategy searches under hard cost limits: it proposes through the space it is reset with (a
    #: ``FeasibleSpace`` under limits) and takes ``'infeasible'`` results (see ``run_search``'s ``constraint``).
    takes_limits = True

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
        self._check_reset(n)
        if n is None:
            return self._propose()
        return [self._propose() for _ in range(n)]

    def _check_positive_ints(self, *names):
        """A clear ``ValueError`` for the first of the settings ``names`` that is not an integer >= 1."""
        for name in names:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {value!r}.")

    def _check_reset(self, n=None):
        """The errors of an ``ask(n)`` before :meth:`reset` or with ``n < 1``."""
        if not hasattr(self, "_rng"):
            raise RuntimeError(f"call {type(self).__name__}.reset(space, random_state) before ask().")
        if n is not None and n < 1:
            raise ValueError(f"ask(n) needs n >= 1; got n={n}.")

    def _propose(self):
        architecture = self._ask_one()
        self._seen.add(architecture)
        return architecture

    def _mutated(self, parent):
        """A mutation of ``parent``, one not tried yet if ten tries find one."""
        child = self.space.mutate(parent, self._rng)
        for _ in range(10):
            if child not in self._seen:
                break
            child = self.space.mutate(parent, self._rng)
        return child

    @abstractmethod
    def _ask_one(self):
        """One architecture to try next (may read ``self.history``)."""

    def tell(self, candidate, result):
        """Report the result of a trial (an object with ``score``; NaN for a failed trial).

        ``candidate`` is what :meth:`ask` returned: an architecture or a
        :class:`~skautoml.search.Proposal` of one.
        """
        self.history.append((as_proposal(candidate).architecture, float(result.score)))

    def final_warm_start(self, architecture):
        """What the final refit of ``architecture`` starts from, or None to train it from scratch.

        Strategies that keep trained models (network morphisms) return the
        warm start of the best one, so the refit trains it further.
        """
        return None
