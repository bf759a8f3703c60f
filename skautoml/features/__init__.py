"""Feature engineering: selection, construction and extraction as scikit-learn transformers.

Selection in the survey's three families — filter (:class:`FilterSelector`),
wrapper (:class:`WrapperSelector` with pluggable subset strategies) and
embedded (:class:`EmbeddedSelector`, :class:`NeuralFeatureSelector`) —,
construction (:class:`FeatureConstructor`), extraction
(:class:`FeatureExtractor`, :class:`AutoencoderExtractor`,
:class:`NetworkFeatureExtractor`), and their automatic combination
(:class:`AutoFeatureEngineer`).
"""
from .._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._auto": ["AutoFeatureEngineer"],
        "._construction": ["Expression", "FeatureConstructor", "OPERATIONS"],
        "._embedded": ["EmbeddedSelector"],
        "._neural": ["NeuralFeatureSelector"],
        "._extraction": ["AutoencoderExtractor", "FeatureExtractor", "NetworkFeatureExtractor"],
        "._filter": ["FilterSelector"],
        "._wrapper": ["Beam", "Bidirectional", "Genetic", "SUBSET_STRATEGIES", "SequentialBackward", "SequentialForward", "SimulatedAnnealing", "SubsetStrategy", "WrapperSelector"],
    },
)
