"""Search strategies: ask/tell optimisers over a search space."""
from ._base import Strategy
from ._evolution import RegularizedEvolution
from ._random import RandomSearch

#: Names accepted by ``AutoNASClassifier(strategy=...)``.
STRATEGIES = {"random": RandomSearch, "evolution": RegularizedEvolution}

__all__ = ["STRATEGIES", "RandomSearch", "RegularizedEvolution", "Strategy"]
