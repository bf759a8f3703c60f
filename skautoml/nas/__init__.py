"""Neural architecture search: spaces, strategies, evaluation and budgets.

The three parts are independent: a :class:`SearchSpace` says what an
architecture is, a :class:`Strategy` proposes architectures by ask/tell, and
the :class:`Evaluator` trains and scores one. :func:`run_search` (the loop
``AutoNASClassifier`` runs) joins them under a :class:`Budget`; a
:class:`TabularEvaluator` answers trials from a table of trained
architectures, so strategies can be compared over many seeds in seconds.
"""
from .._utils._budget import Budget
from ._search import run_search
from .evaluate import (
    CurveExtrapolation,
    Evaluator,
    Fidelity,
    MedianStopping,
    NASTable,
    TableEntry,
    TabularEvaluator,
    TabularSpace,
    TrialResult,
    TrialStoppingRule,
    canonical_architecture,
    enumerate_architectures,
    load_nas_table,
    tabulate_architecture,
)
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
    "NASTable",
    "TableEntry",
    "TabularEvaluator",
    "TabularSpace",
    "canonical_architecture",
    "enumerate_architectures",
    "load_nas_table",
    "run_search",
    "tabulate_architecture",
]
