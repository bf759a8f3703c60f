"""NSGA-II: a multi-objective evolution that keeps a Pareto population of score against cost."""
import math

import numpy as np

from .._pareto import crowding_distance, non_dominated_fronts
from .._results import as_proposal
from ._base import Strategy

#: ``cost`` names -> the :class:`~skautoml.search.TrialResult` field that holds the cost.
COSTS = {"flops": "flops", "params": "n_params", "latency": "latency_ms"}


class NSGA2(Strategy):
    """Non-dominated sorting evolution (NSGA-II, Deb et al., 2002) of validation score against a cost.

    Two objectives: the trial's score (maximised) and its cost (minimised),
    read from each result: FLOPs of one forward pass, trainable parameters,
    or the predicted latency (``result.latency_ms``, which the search sets
    when it prices latency; ``AutoNASClassifier`` does for this strategy
    with ``cost='latency'``). The first ``population_size`` architectures
    are random. Every later one mutates the winner of a binary tournament
    among the parents (lower front first, then the larger crowding distance).
    When ``population_size`` children have reported, parents and children
    are sorted into non-dominated fronts and the best ``population_size``
    survive, the last front admitted cut by crowding distance, so the
    population spreads along the front (as LEMONADE keeps a Pareto front of
    networks, Elsken et al., 2019).

    Simplifications: no crossover (the spaces offer mutation only), and
    failed or refused candidates never join the population (the standard
    constrained dominance would rank them last; here they are simply left
    out). Children are asked from the parents of the current generation,
    so trials run in parallel within a generation.

    Parameters
    ----------
    population_size : int, default=16
    cost : {'flops', 'params', 'latency'}, default='flops'

    Attributes
    ----------
    population : list of (architecture, score, cost)
        The parents of the current generation.
    generation : int
        Generations completed (environmental selections done).

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from skautoml.nas import MLPSpace
    >>> from skautoml.search import NSGA2
    >>> strategy = NSGA2(population_size=4, cost="params").reset(MLPSpace(), random_state=0)
    >>> arch = strategy.ask()
    >>> strategy.tell(arch, SimpleNamespace(score=0.9, n_params=1200, status="ok"))
    """

    def __init__(self, population_size=16, cost="flops"):
        self.population_size = population_size
        self.cost = cost

    def reset(self, space, random_state=None):
        self._check_positive_ints("population_size")
        if self.cost not in COSTS:
            raise ValueError(f"NSGA2: cost must be one of {sorted(COSTS)}; got {self.cost!r}.")
        super().reset(space, random_state)
        self.population = []
        self.generation = 0
        self._children = []
        self._n_asked = 0
        return self

    @property
    def cost_field(self):
        """The :class:`~skautoml.search.TrialResult` field (and ``search_results_`` column) of the cost."""
        return COSTS[self.cost]

    def _ask_one(self):
        self._n_asked += 1
        if self._n_asked <= self.population_size or not self.population:
            return self.space.sample_unseen(self._rng, self._seen)
        return self._mutated(self.population[self._tournament()][0])

    def _tournament(self):
        """The better of two random parents: lower front, then larger crowding distance."""
        picks = self._rng.choice(len(self.population), size=min(2, len(self.population)), replace=False)
        return min(picks, key=lambda i: (self._front[i], -self._crowding[i]))

    def tell(self, candidate, result):
        super().tell(candidate, result)
        score = float(result.score)
        cost = float(getattr(result, self.cost_field, math.nan))
        if getattr(result, "status", "ok") == "infeasible":
            return  # refused before training: not a child of this generation
        if math.isfinite(score) and self.cost == "latency" and not math.isfinite(cost):
            raise ValueError(
                "NSGA2(cost='latency') reads the predicted latency of each trial (result.latency_ms), which this "
                "search did not price. Use cost='flops' or 'params', or a search that prices latency "
                "(AutoNASClassifier does with a latency table)."
            )
        member = (as_proposal(candidate).architecture, score, cost)
        if self.generation == 0 and len(self.population) < self.population_size and not self._children:
            # The first population fills with the ok results, failed ones leaving their place to the next.
            if math.isfinite(score):
                self.population.append(member)
            self._select(len(self.population))
            return
        self._children.append(member)  # failed children count towards the generation but never survive
        if len(self._children) >= self.population_size:
            pool = self.population + [m for m in self._children if math.isfinite(m[1])]
            self._children = []
            self.population = pool
            self._select(self.population_size)
            self.generation += 1

    def _select(self, size):
        """Keep the best ``size`` of the population by front and crowding; store both for tournaments."""
        if not self.population:
            self._front, self._crowding = np.zeros(0), np.zeros(0)
            return
        objectives = np.array([(-score, cost) for _, score, cost in self.population])
        kept = []
        for front in non_dominated_fronts(objectives):
            if len(kept) + len(front) > size:
                crowding = crowding_distance(objectives[front])
                front = front[np.argsort(-crowding, kind="stable")[: size - len(kept)]]
            kept.extend(front.tolist())
            if len(kept) >= size:
                break
        self.population = [self.population[i] for i in kept]
        objectives = objectives[kept]
        self._front = np.empty(len(kept))
        self._crowding = np.empty(len(kept))
        for rank, front in enumerate(non_dominated_fronts(objectives)):
            self._front[front] = rank
            self._crowding[front] = crowding_distance(objectives[front])
