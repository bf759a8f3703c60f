"""Bayesian optimisation over the encodings of a search space, on scikit-optimize's surrogates."""
import math
import warnings
from numbers import Real

import numpy as np
from threadpoolctl import threadpool_limits
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from skopt.acquisition import gaussian_ei
from skopt.utils import cook_estimator

from ..._utils._random import SEED_MAX
from ._base import Strategy

_SURROGATES = ("gp", "rf")


def expected_improvement(space, scored, candidates, surrogate="gp", xi=0.01, random_state=None):
    """Expected improvement of each candidate under a surrogate fitted to the scored architectures.

    The surrogate models ``space.encode(architecture) -> score``; encodings
    are scaled to [0, 1] per decision (the domain scikit-optimize's Gaussian
    process kernel is set up for).

    Parameters
    ----------
    space : SearchSpace
    scored : list of (architecture, float)
        Results so far, all with finite scores; at least two distinct scores.
    candidates : list of architectures
    surrogate : {'gp', 'rf'} or regressor, default='gp'
        scikit-optimize's default Gaussian process or random forest, or a
        regressor whose ``predict`` takes ``return_std=True`` (cloned).
    xi : float, default=0.01
        Exploration margin, in units of the score.
    random_state : int or None
        Seed of the surrogate.

    Returns
    -------
    improvement : ndarray of shape (len(candidates),)
    """
    encoded = np.array([space.encode(arch) for arch, _ in scored], dtype=float)
    pool = np.array([space.encode(arch) for arch in candidates], dtype=float)
    low = np.minimum(encoded.min(0), pool.min(0))
    span = np.maximum(encoded.max(0), pool.max(0)) - low
    span[span == 0] = 1.0
    encoded, pool = (encoded - low) / span, (pool - low) / span
    # scikit-optimize minimises: the surrogate models minus the score.
    losses = -np.array([score for _, score in scored], dtype=float)
    model = fit_surrogate(surrogate, encoded, losses, random_state)
    with threadpool_limits(1):
        return gaussian_ei(pool, model, y_opt=losses.min(), xi=xi)


def fit_surrogate(surrogate, X, y, random_state=None):
    """A surrogate model fitted to ``X -> y``, features scaled to [0, 1].

    Parameters
    ----------
    surrogate : {'gp', 'rf'} or regressor
        scikit-optimize's default Gaussian process (over the unit cube) or
        random forest, or a regressor, cloned (its ``random_state`` set).
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    random_state : int or None

    Returns
    -------
    model : the fitted regressor
    """
    if isinstance(surrogate, str):
        model = cook_estimator(surrogate.upper(), space=[(0.0, 1.0)] * X.shape[1], random_state=random_state)
    else:
        model = clone(surrogate)
        if "random_state" in model.get_params():
            model.set_params(random_state=random_state)
    # BLAS threads cost more than they save on matrices this small.
    with threadpool_limits(1), warnings.catch_warnings():
        # Few, noisy points often put a length scale at its bound; that is expected.
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    return model


def candidate_pool(space, parents, n_candidates, rng, seen=()):
    """Unseen, distinct random samples and mutations of ``parents``, in the order drawn.

    Of ``n_candidates`` draws, the even ones are samples of ``space`` and the
    odd ones mutations of a parent chosen uniformly at random; draws in
    ``seen`` and repeats are dropped, so fewer may come back.

    Parameters
    ----------
    space : SearchSpace
    parents : sequence of architectures
        Non-empty.
    n_candidates : int
    rng : numpy.random.Generator
    seen : container of architectures, default=()

    Returns
    -------
    candidates : list of architectures
    """
    candidates = {}
    for i in range(n_candidates):
        if i % 2:
            architecture = space.mutate(parents[int(rng.integers(len(parents)))], rng)
        else:
            architecture = space.sample(rng)
        if architecture not in seen:
            candidates.setdefault(architecture, None)
    return list(candidates)


class BayesianOptimization(Strategy):
    """Propose the candidate with the highest expected improvement under a surrogate model.

    The surrogate (scikit-optimize's Gaussian process with a Matern kernel, or
    its random forest whose trees give the uncertainty) is fitted to
    ``space.encode(architecture) -> score`` of the trials so far. Each
    proposal scores ``n_candidates`` unseen candidates — random samples and
    mutations of the best architectures so far — by expected improvement and
    returns the best. The first ``n_initial`` proposals are random. A batch
    ``ask(n)`` returns ``n`` different candidates (each excluded from the
    next proposal), so parallel trials do not repeat one another.

    Works with every space that has ``sample``, ``mutate`` and ``encode``.
    scikit-optimize is used behind this interface only.

    Parameters
    ----------
    surrogate : {'gp', 'rf'} or regressor, default='gp'
        ``'gp'`` and ``'rf'`` are scikit-optimize's default Gaussian process
        and random forest; a regressor whose ``predict`` takes
        ``return_std=True`` (such as the models of ``skopt.learning``) is
        cloned and used as given.
    n_initial : int, default=5
        Random proposals before the surrogate is used.
    n_candidates : int, default=200
        Candidates scored by expected improvement per proposal.
    xi : float, default=0.01
        Exploration margin of expected improvement (in units of the score).

    Examples
    --------
    >>> from skautoml.nas import BayesianOptimization, MLPSpace
    >>> strategy = BayesianOptimization(n_initial=2).reset(MLPSpace(), random_state=0)
    >>> len(strategy.ask(2))
    2
    """

    def __init__(self, surrogate="gp", n_initial=5, n_candidates=200, xi=0.01):
        self.surrogate = surrogate
        self.n_initial = n_initial
        self.n_candidates = n_candidates
        self.xi = xi

    def reset(self, space, random_state=None):
        if not (self.surrogate in _SURROGATES or hasattr(self.surrogate, "predict")):
            raise ValueError(
                f"surrogate must be one of {_SURROGATES} or a regressor whose predict takes "
                f"return_std=True, got {self.surrogate!r}."
            )
        self._check_positive_ints("n_initial", "n_candidates")
        if isinstance(self.xi, bool) or not isinstance(self.xi, Real) or self.xi < 0:
            raise ValueError(f"xi must be a non-negative number, got {self.xi!r}.")
        super().reset(space, random_state)
        self._ranked = (None, [])  # (history length, candidates by falling improvement)
        return self

    def _ask_one(self):
        scored = [(arch, score) for arch, score in self.history if not math.isnan(score)]
        if len(scored) < self.n_initial or len({score for _, score in scored}) < 2:
            return self.space.sample_unseen(self._rng, self._seen)
        # The proposals of one batch share a surrogate: it changes only with new results.
        if self._ranked[0] != len(self.history):
            self._ranked = (len(self.history), self._rank(scored))
        for arch in self._ranked[1]:
            if arch not in self._seen:
                return arch
        return self.space.sample_unseen(self._rng, self._seen)

    def _rank(self, scored):
        """Unseen candidates, best expected improvement first."""
        candidates = self._candidates(scored)
        if not candidates:
            return []
        seed = int(self._rng.integers(SEED_MAX))
        improvement = expected_improvement(self.space, scored, candidates, self.surrogate, self.xi, seed)
        order = np.argsort(-improvement, kind="stable")
        return [candidates[i] for i in order]

    def _candidates(self, scored):
        """Unseen random samples and mutations of the five best architectures so far."""
        best = [arch for arch, _ in sorted(scored, key=lambda item: -item[1])[:5]]
        return candidate_pool(self.space, best, self.n_candidates, self._rng, self._seen)
