"""Search strategies: ask/tell optimisers over a search space.

Morphism strategies (``hill_climbing``, ``morphism_bo``) train children from
their parents' weights, so they own their search loop (``search``) instead of
ask/tell; they live in :mod:`skautoml.nas.morphism`.
"""
import copy

from ..morphism import MorphismBayesian, MorphismHillClimbing
from ._base import Strategy
from ._bayesian import BayesianOptimization
from ._evolution import RegularizedEvolution
from ._hybrid import SurrogateEvolution
from ._hyperband import BOHB, Hyperband, Proposal, SuccessiveHalving
from ._random import RandomSearch
from ._reinforce import ReinforceController

#: Names accepted by ``AutoNASClassifier(strategy=...)``.
STRATEGIES = {
    "random": RandomSearch,
    "evolution": RegularizedEvolution,
    "bayesian": BayesianOptimization,
    "reinforce": ReinforceController,
    "evolution+smbo": SurrogateEvolution,
    "successive_halving": SuccessiveHalving,
    "hyperband": Hyperband,
    "bohb": BOHB,
    "hill_climbing": MorphismHillClimbing,
    "morphism_bo": MorphismBayesian,
}


def resolve_strategy(strategy):
    """A fresh strategy: a new one for a name, a copy of an instance (which stays unchanged)."""
    return STRATEGIES[strategy]() if isinstance(strategy, str) else copy.deepcopy(strategy)


__all__ = [
    "BOHB",
    "STRATEGIES",
    "BayesianOptimization",
    "Hyperband",
    "Proposal",
    "RandomSearch",
    "RegularizedEvolution",
    "ReinforceController",
    "Strategy",
    "SuccessiveHalving",
    "SurrogateEvolution",
]
