"""Whole pipelines searched from a raw table: the pipeline space, its evaluator and ensemble selection.

:class:`PipelineSpace` writes cleaning, an optional row sampler, features and
a model family with its conditional knobs as one space of the search core
(:mod:`skautoml.search`), so its strategies search it;
:class:`PipelineEvaluator` cross-validates a pipeline on fixed folds and keeps
its out-of-fold predictions; :func:`ensemble_selection` picks an ensemble
from them, and :func:`check_ensemble_selection` tells whether it beats the
best pipeline alone on rows it did not see. ``skautoml.AutoMLClassifier``
and ``skautoml.AutoMLRegressor`` join them (with the NAS estimators of the
root, which this package does not import).
Importing this package loads no torch.
"""
from .._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._space": [
            "CLASSIFIER_FAMILIES", "Categorical", "Integer", "ModelFamily", "PipelineConfig", "PipelineSpace",
            "REGRESSOR_FAMILIES", "Real",
        ],
        "._evaluator": ["PipelineEvaluator", "TrialTimeout", "forget_cleaned", "prediction_score"],
        "._strategy": ["PipelineHalving"],
        "._ensemble": ["WeightedEnsemble", "check_ensemble_selection", "ensemble_selection"],
    },
)
