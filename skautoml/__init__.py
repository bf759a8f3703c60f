"""skautoml: scikit-learn compatible AutoML.

Whole pipelines searched from a raw table (:class:`AutoMLClassifier`,
:class:`AutoMLRegressor`, from the parts in :mod:`skautoml.automl`) and neural
architecture search as estimators (:class:`AutoNASClassifier`,
:class:`AutoNASRegressor`); the search core lives in :mod:`skautoml.search`,
the network parts in :mod:`skautoml.nas`, data preparation in
:mod:`skautoml.prep` and feature engineering in :mod:`skautoml.features`;
:func:`export` and :func:`save_weights` deploy a fitted network. Names are exported lazily, so
``import skautoml.prep`` does not load torch.
"""
from ._utils._lazy import lazy_exports

__version__ = "0.1.0"
__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._estimators": ["AutoNASClassifier", "AutoNASRegressor"],
        "._automl": ["AutoMLClassifier", "AutoMLRegressor"],
        "._export": ["export", "load_weights", "save_weights"],
    },
)
__all__ = [*__all__, "__version__"]
