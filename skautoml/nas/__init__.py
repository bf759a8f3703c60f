"""Neural architecture search: spaces, strategies, evaluation and budgets.

The three parts are independent: a :class:`SearchSpace` says what an
architecture is, a :class:`Strategy` proposes architectures by ask/tell, and
the :class:`Evaluator` trains and scores one. ``AutoNASClassifier`` runs them
under a :class:`Budget`.
"""
from .._utils._budget import Budget
from .evaluate import CurveExtrapolation, Evaluator, Fidelity, MedianStopping, TrialResult, TrialStoppingRule
from .space import (
    Block,
    CellArchitecture,
    CellSpace,
    CNNArchitecture,
    CNNLayer,
    CNNSpace,
    FactorizedArchitecture,
    FactorizedSpace,
    HierarchicalArchitecture,
    HierarchicalSpace,
    MLPArchitecture,
    MLPSpace,
    SearchSpace,
    StageChoice,
)
# .strategy first: it registers the morphism strategies, which build on its Strategy base.
from .strategy import (
    BOHB,
    BayesianOptimization,
    Hyperband,
    Proposal,
    RandomSearch,
    RegularizedEvolution,
    ReinforceController,
    Strategy,
    SuccessiveHalving,
    SurrogateEvolution,
)
from .morphism import (
    Morphism,
    MorphArchitecture,
    MorphismBayesian,
    MorphismHillClimbing,
    MorphismSpace,
    apply_morphism,
    net2deeper,
    net2wider,
    widen_kernel,
)

__all__ = [
    "ReinforceController",
    "SurrogateEvolution",
    "BOHB",
    "Hyperband",
    "MorphArchitecture",
    "Morphism",
    "MorphismBayesian",
    "MorphismHillClimbing",
    "MorphismSpace",
    "Proposal",
    "SuccessiveHalving",
    "apply_morphism",
    "net2deeper",
    "net2wider",
    "widen_kernel",
    "Block",
    "CellArchitecture",
    "CellSpace",
    "CurveExtrapolation",
    "FactorizedArchitecture",
    "FactorizedSpace",
    "HierarchicalArchitecture",
    "HierarchicalSpace",
    "MedianStopping",
    "StageChoice",
    "TrialStoppingRule",
    "BayesianOptimization",
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
