"""The names ``AutoNASClassifier`` accepts for its search space and strategy."""
from ..search import STRATEGIES as SEARCH_STRATEGIES
from .morphism import MorphismBayesian, MorphismHillClimbing
from .oneshot import DARTS, ENAS, GDAS, PCDARTS, SPOS
from .space import CellSpace, CNNSpace, FactorizedSpace, HierarchicalSpace, MLPSpace

#: ``search_space=`` names (besides 'auto' and 'morphism', which depend on the input).
SPACES = {
    "mlp": MLPSpace,
    "cnn": CNNSpace,
    "cell": CellSpace,
    "factorized": FactorizedSpace,
    "hierarchical": HierarchicalSpace,
}

#: Strategies of this package, by name; the search core's names (``SEARCH_STRATEGIES``) come with them.
NAS_STRATEGIES = {
    "hill_climbing": MorphismHillClimbing,
    "morphism_bo": MorphismBayesian,
    "spos": SPOS,
    "enas": ENAS,
    "darts": DARTS,
    "gdas": GDAS,
    "pcdarts": PCDARTS,
}

#: Every ``strategy=`` name.
STRATEGIES = (*SEARCH_STRATEGIES, *NAS_STRATEGIES)
