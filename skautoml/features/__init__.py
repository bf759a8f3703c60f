"""Feature engineering: selection, construction and extraction as scikit-learn transformers.

Selection in the survey's three families — filter (:class:`FilterSelector`),
wrapper (:class:`WrapperSelector` with pluggable subset strategies) and
embedded (:class:`EmbeddedSelector`, :class:`NeuralFeatureSelector`) —,
construction (:class:`FeatureConstructor`), extraction
(:class:`FeatureExtractor`, :class:`AutoencoderExtractor`,
:class:`NetworkFeatureExtractor`), and their automatic combination
(:class:`AutoFeatureEngineer`).
"""
from ._auto import AutoFeatureEngineer
from ._construction import OPERATIONS, Expression, FeatureConstructor
from ._embedded import EmbeddedSelector, NeuralFeatureSelector
from ._extraction import AutoencoderExtractor, FeatureExtractor, NetworkFeatureExtractor
from ._filter import FilterSelector
from ._wrapper import (
    SUBSET_STRATEGIES,
    Beam,
    Bidirectional,
    Genetic,
    SequentialBackward,
    SequentialForward,
    SimulatedAnnealing,
    SubsetStrategy,
    WrapperSelector,
)

__all__ = [
    "OPERATIONS",
    "SUBSET_STRATEGIES",
    "AutoFeatureEngineer",
    "AutoencoderExtractor",
    "Beam",
    "Bidirectional",
    "EmbeddedSelector",
    "Expression",
    "FeatureConstructor",
    "FeatureExtractor",
    "FilterSelector",
    "Genetic",
    "NetworkFeatureExtractor",
    "NeuralFeatureSelector",
    "SequentialBackward",
    "SequentialForward",
    "SimulatedAnnealing",
    "SubsetStrategy",
    "WrapperSelector",
]
