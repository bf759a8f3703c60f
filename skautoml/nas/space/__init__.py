"""Network search spaces: how an architecture is sampled, mutated, encoded and built into a torch module.

The contract (:class:`~skautoml.search.SearchSpace`) lives in the search
core; the building blocks the spaces share (:class:`Standardize`,
``ACTIVATIONS``) are public here for the other packages that build networks.
"""
from ..._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "...search": ["SearchSpace"],
        "._cell": ["CELL_OPERATIONS", "Block", "CellArchitecture", "CellSpace"],
        "._chain": ["CNNArchitecture", "CNNLayer", "CNNSpace", "MLPArchitecture", "MLPSpace"],
        "._factorized": ["FactorizedArchitecture", "FactorizedSpace", "StageChoice"],
        "._hierarchical": ["HierarchicalArchitecture", "HierarchicalSpace"],
        "._joint": ["HeadDropout", "JointArchitecture", "JointSpace", "TrainingChoice", "TrainingSpace"],
        "._modules": ["ACTIVATIONS", "Standardize"],
    },
)
