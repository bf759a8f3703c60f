"""Data preparation: transformers and samplers that clean data before a model."""
from .._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._cleaning": ["DropUninformativeColumns", "OutlierClipper", "RareCategoryEncoder", "TypedImputer", "infer_column_types"],
        ".augment": ["AugmentPolicySearch", "AutoSMOTE", "GaussianNoiseOversampler", "ImageAugmenter", "MixupOversampler", "RandAugment", "UniformAugment"],
        "._samplers": ["DuplicateRowRemover", "LabelNoiseFilter", "OutlierRowRemover"],
        "._clean_search": ["AutoCleaner", "CleaningSearch"],
        "._dates": ["DatetimeEncoder"],
    },
)
