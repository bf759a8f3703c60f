"""Search spaces: how an architecture is sampled, mutated, encoded and built."""
from ._base import SearchSpace
from ._cell import CELL_OPERATIONS, Block, CellArchitecture, CellSpace
from ._chain import CNNArchitecture, CNNLayer, CNNSpace, MLPArchitecture, MLPSpace
from ._hierarchical import (
    FactorizedArchitecture,
    FactorizedSpace,
    HierarchicalArchitecture,
    HierarchicalSpace,
    StageChoice,
)

__all__ = [
    "CELL_OPERATIONS",
    "Block",
    "CNNArchitecture",
    "CNNLayer",
    "CNNSpace",
    "CellArchitecture",
    "CellSpace",
    "FactorizedArchitecture",
    "FactorizedSpace",
    "HierarchicalArchitecture",
    "HierarchicalSpace",
    "MLPArchitecture",
    "MLPSpace",
    "SearchSpace",
    "StageChoice",
]
