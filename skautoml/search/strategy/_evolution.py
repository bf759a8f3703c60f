"""Regularised (ageing) evolution."""
import math
from collections import deque

from ._base import Strategy


class RegularizedEvolution(Strategy):
    """Tournament selection, mutation and an ageing population (Real et al., 2019).

    The first ``population_size`` architectures are random. After that each
    proposal samples ``sample_size`` members of the population, mutates the
    best of them, and the oldest member leaves the population when a result
    arrives, so that good but lucky architectures do not stay forever. Failed
    trials never join the population.

    Parameters
    ----------
    population_size : int
    sample_size : int
        Tournament size; larger values exploit more.

    Examples
    --------
    >>> from skautoml.nas import MLPSpace, RegularizedEvolution
    >>> strategy = RegularizedEvolution(population_size=4).reset(MLPSpace(), random_state=0)
    >>> arch = strategy.ask()
    """

    def __init__(self, population_size=10, sample_size=3):
        self.population_size = population_size
        self.sample_size = sample_size

    def reset(self, space, random_state=None):
        if self.population_size < 1 or self.sample_size < 1:
            raise ValueError(
                "RegularizedEvolution needs population_size >= 1 and sample_size >= 1; got "
                f"population_size={self.population_size}, sample_size={self.sample_size}."
            )
        super().reset(space, random_state)
        self.population = deque()
        self._n_asked = 0
        return self

    def _ask_one(self):
        self._n_asked += 1
        if self._n_asked <= self.population_size or not self.population:
            return self.space.sample_unseen(self._rng, self._seen)
        return self._offspring()

    def _offspring(self):
        """The proposal once the population has formed: a tournament child (subclasses screen children)."""
        return self._child()

    def _child(self):
        """A mutation of the winner of a tournament of ``sample_size``, unseen if ten tries find one."""
        size = min(self.sample_size, len(self.population))
        picks = self._rng.choice(len(self.population), size=size, replace=False)
        parent = max((self.population[i] for i in picks), key=lambda member: member[1])[0]
        return self._mutated(parent)

    def tell(self, architecture, result):
        super().tell(architecture, result)
        score = float(result.score)
        if math.isfinite(score):
            self.population.append((architecture, score))
            if len(self.population) > self.population_size:
                self.population.popleft()
