"""Weight sharing: supernets over the cell and chain spaces, for one-shot and gradient search."""
from ..._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._base": ["Supernet"],
        "._cell": ["CellSupernet", "PARAMETER_FREE_OPERATIONS"],
        "._chain": ["ChainSupernet"],
        "._costs": ["CellCosts"],
        "._gradient": [
            "DARTS",
            "GDAS",
            "PCDARTS",
            "ArchitectureStep",
            "GradientTrial",
            "SupernetMemoryError",
            "architecture_gradient",
            "search_state",
        ],
        "._strategies": [
            "ENAS",
            "SPOS",
            "OneShotStrategy",
            "SubnetWarmStart",
            "SupernetTrial",
            "recalibrate_batch_norm",
        ],
    },
)
