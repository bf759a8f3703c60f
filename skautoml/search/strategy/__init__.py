"""Search strategies: ask/tell optimisers over any :class:`~skautoml.search.SearchSpace`.

Strategies that need more than a space's ``sample``, ``mutate`` and
``encode`` use a protocol the space offers (REINFORCE: the space's sequence
of decisions); none names a space type. The morphism strategies, which grow
trained networks, live in :mod:`skautoml.nas.morphism`.
"""
import copy
import importlib

from ..._utils._lazy import lazy_exports

#: Names of the strategies of this package, for ``strategy=`` parameters: name -> (module, class).
_NAMED = {
    "random": ("._random", "RandomSearch"),
    "evolution": ("._evolution", "RegularizedEvolution"),
    "bayesian": ("._bayesian", "BayesianOptimization"),
    "reinforce": ("._reinforce", "ReinforceController"),
    "evolution+smbo": ("._hybrid", "SurrogateEvolution"),
    "successive_halving": ("._hyperband", "SuccessiveHalving"),
    "hyperband": ("._hyperband", "Hyperband"),
    "bohb": ("._hyperband", "BOHB"),
    "nsga2": ("._nsga", "NSGA2"),
}

#: The names accepted by ``strategy=`` parameters of the generic searches.
STRATEGIES = tuple(_NAMED)


def resolve_strategy(strategy, named=None):
    """A fresh strategy: a new one for a name, a copy of an instance (which stays unchanged).

    ``named`` maps further names to classes (``AutoNASClassifier`` adds the
    morphism strategies).
    """
    if not isinstance(strategy, str):
        return copy.deepcopy(strategy)
    if named is not None and strategy in named:
        return named[strategy]()
    module, name = _NAMED[strategy]
    return getattr(importlib.import_module(module, __name__), name)()


__getattr__, _dir, __all__ = lazy_exports(
    __name__,
    {
        "._base": ["Strategy"],
        "._bayesian": ["BayesianOptimization", "expected_improvement", "fit_surrogate"],
        "._evolution": ["RegularizedEvolution"],
        "._hybrid": ["SurrogateEvolution"],
        "._hyperband": ["BOHB", "Hyperband", "SuccessiveHalving"],
        "._nsga": ["NSGA2"],
        "._random": ["RandomSearch"],
        "._reinforce": ["ReinforceController"],
    },
)
__all__ = [*__all__, "STRATEGIES", "resolve_strategy"]


def __dir__():
    return sorted(__all__)
