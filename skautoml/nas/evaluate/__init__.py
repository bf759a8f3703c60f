"""Model evaluation: training candidates through skorch at a given fidelity."""
from ..._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._evaluator": [
            "CheckFiniteLoss",
            "Evaluator",
            "FitToTime",
            "NonFiniteLossError",
            "StopAtDeadline",
            "count_flops",
            "random_subsample",
            "stratified_subsample",
        ],
        "._iterator": ["TensorBatchIterator"],
        "...search": ["Fidelity", "TrialResult"],
        "._stopping": ["CurveExtrapolation", "MedianStopping", "StopTrialEarly", "TrialStoppingRule"],
        "._tabular": [
            "NASTable",
            "TableEntry",
            "TabularEvaluator",
            "TabularSpace",
            "canonical_architecture",
            "enumerate_architectures",
            "load_nas_table",
            "tabulate_architecture",
        ],
    },
)
