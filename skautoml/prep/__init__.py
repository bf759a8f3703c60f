"""Data preparation: transformers and samplers that clean data before a model."""
from ._cleaning import (
    DropUninformativeColumns,
    OutlierClipper,
    RareCategoryEncoder,
    TypedImputer,
    infer_column_types,
)
from ._samplers import DuplicateRowRemover, LabelNoiseFilter, OutlierRowRemover

__all__ = [
    "DropUninformativeColumns",
    "OutlierClipper",
    "RareCategoryEncoder",
    "TypedImputer",
    "DuplicateRowRemover",
    "LabelNoiseFilter",
    "OutlierRowRemover",
    "infer_column_types",
]
