"""Data preparation: transformers and samplers that clean data before a model."""
from ._cleaning import (
    DropUninformativeColumns,
    OutlierClipper,
    RareCategoryEncoder,
    TypedImputer,
    infer_column_types,
)
from .augment import (
    AugmentPolicySearch,
    AutoSMOTE,
    GaussianNoiseOversampler,
    ImageAugmenter,
    MixupOversampler,
    RandAugment,
    UniformAugment,
)
from ._samplers import DuplicateRowRemover, LabelNoiseFilter, OutlierRowRemover
from ._clean_search import AutoCleaner, CleaningSearch

__all__ = [
    "AugmentPolicySearch",
    "ImageAugmenter",
    "RandAugment",
    "UniformAugment",
    "AutoSMOTE",
    "GaussianNoiseOversampler",
    "MixupOversampler",
    "DropUninformativeColumns",
    "OutlierClipper",
    "RareCategoryEncoder",
    "TypedImputer",
    "DuplicateRowRemover",
    "LabelNoiseFilter",
    "OutlierRowRemover",
    "infer_column_types",
    "AutoCleaner",
    "CleaningSearch",
]
