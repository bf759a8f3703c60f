"""Neural architecture search: spaces, strategies, evaluation and budgets.

The three parts are independent: a :class:`SearchSpace` says what an
architecture is, a :class:`Strategy` proposes architectures by ask/tell, and
the :class:`Evaluator` trains and scores one. ``AutoNASClassifier`` runs them
under a :class:`Budget`.
"""
from .._utils._budget import Budget
from .evaluate import Evaluator, Fidelity, TrialResult
from .space import CNNArchitecture, CNNLayer, CNNSpace, MLPArchitecture, MLPSpace, SearchSpace
from .strategy import RandomSearch, RegularizedEvolution, Strategy

__all__ = [
    "Budget",
    "CNNArchitecture",
    "CNNLayer",
    "CNNSpace",
    "Evaluator",
    "Fidelity",
    "MLPArchitecture",
    "MLPSpace",
    "RandomSearch",
    "RegularizedEvolution",
    "SearchSpace",
    "Strategy",
    "TrialResult",
]
