"""Regularised evolution whose children are screened by a surrogate model (EA + SMBO)."""
import math

import numpy as np

from ..._utils._random import SEED_MAX
from ._bayesian import _SURROGATES, expected_improvement
from ._evolution import RegularizedEvolution


class SurrogateEvolution(RegularizedEvolution):
    """Regularised evolution that trains only the child a surrogate model likes best.

    Evolution and sequential model-based optimisation (SMBO) together: the
    first ``population_size`` proposals are random; after that each proposal
    breeds ``n_candidates`` children, each a mutation of the winner of its
    own tournament of ``sample_size`` population members, and returns the
    unseen child with the highest expected improvement under a surrogate
    fitted to ``space.encode(architecture) -> score`` of every finite result
    so far (not only of the population). Only that child is trained. The
    population ages as in :class:`RegularizedEvolution`: each finite result
    joins it and the oldest member leaves. Until two different finite scores
    exist, the surrogate cannot rank, and a proposal is a plain child.

    The proposals of one ``ask(n)`` share one surrogate and one brood (they
    change only with new results) and are its ``n`` best different children.

    Works with every space that has ``sample``, ``mutate`` and ``encode``;
    scikit-optimize is used behind this interface only.

    Parameters
    ----------
    population_size : int, default=10
    sample_size : int, default=3
        Tournament size.
    n_candidates : int, default=20
        Children bred per proposal, screened by the surrogate.
    surrogate : {'gp', 'rf'} or regressor, default='gp'
        scikit-optimize's Gaussian process (Matern kernel) or random forest,
        or a regressor whose ``predict`` takes ``return_std=True`` (such as
        the models of ``skopt.learning``), cloned and used as given.
    xi : float, default=0.01
        Exploration margin of expected improvement (in units of the score).

    See Also
    --------
    RegularizedEvolution : the same without the surrogate.
    BayesianOptimization : the surrogate over random samples and mutations of the best.

    Examples
    --------
    >>> from skautoml.nas import MLPSpace, SurrogateEvolution, TrialResult
    >>> space = MLPSpace()
    >>> strategy = SurrogateEvolution(population_size=3, surrogate="rf").reset(space, random_state=0)
    >>> for _ in range(5):
    ...     architecture = strategy.ask()
    ...     strategy.tell(architecture, TrialResult(architecture, score=len(architecture.widths), status="ok"))
    >>> space.contains(strategy.ask())
    True
    """

    def __init__(self, population_size=10, sample_size=3, n_candidates=20, surrogate="gp", xi=0.01):
        super().__init__(population_size=population_size, sample_size=sample_size)
        self.n_candidates = n_candidates
        self.surrogate = surrogate
        self.xi = xi

    def reset(self, space, random_state=None):
        named = isinstance(self.surrogate, str) and self.surrogate in _SURROGATES
        if not (named or hasattr(self.surrogate, "predict")):
            raise ValueError(
                f"surrogate must be one of {_SURROGATES} or a regressor whose predict takes "
                f"return_std=True, got {self.surrogate!r}."
            )
        self._check_positive_ints("n_candidates")
        super().reset(space, random_state)
        self._brood = (None, [])  # (history length, children by falling improvement)
        return self

    def _offspring(self):
        """The unseen child of most expected improvement; a plain child while the surrogate cannot rank."""
        scored = [(arch, score) for arch, score in self.history if math.isfinite(score)]
        if len({score for _, score in scored}) < 2:
            return self._child()
        if self._brood[0] != len(self.history):
            self._brood = (len(self.history), self._rank(scored))
        for child in self._brood[1]:
            if child not in self._seen:
                return child
        return self._child()  # a large batch used up the brood

    def _rank(self, scored):
        """Unseen children of ``n_candidates`` tournaments, best expected improvement first."""
        brood = list(dict.fromkeys(self._child() for _ in range(self.n_candidates)))
        brood = [child for child in brood if child not in self._seen]
        if not brood:
            return []
        seed = int(self._rng.integers(SEED_MAX))
        improvement = expected_improvement(self.space, scored, brood, self.surrogate, self.xi, seed)
        return [brood[i] for i in np.argsort(-improvement, kind="stable")]
