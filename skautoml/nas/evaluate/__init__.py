"""Model evaluation: training candidates through skorch at a given fidelity."""
from ._evaluator import (
    CheckFiniteLoss,
    Evaluator,
    Fidelity,
    NonFiniteLossError,
    StopAtDeadline,
    TrialResult,
    count_flops,
)
from ._iterator import TensorBatchIterator
from ._stopping import CurveExtrapolation, MedianStopping, StopTrialEarly, TrialStoppingRule
from ._tabular import (
    NASTable,
    TableEntry,
    TabularEvaluator,
    TabularSpace,
    canonical_architecture,
    enumerate_architectures,
    load_nas_table,
    tabulate_architecture,
)

__all__ = [
    "CurveExtrapolation",
    "MedianStopping",
    "StopTrialEarly",
    "TrialStoppingRule",
    "CheckFiniteLoss",
    "Evaluator",
    "Fidelity",
    "NonFiniteLossError",
    "StopAtDeadline",
    "TensorBatchIterator",
    "TrialResult",
    "count_flops",
    "NASTable",
    "TableEntry",
    "TabularEvaluator",
    "TabularSpace",
    "canonical_architecture",
    "enumerate_architectures",
    "load_nas_table",
    "tabulate_architecture",
]
