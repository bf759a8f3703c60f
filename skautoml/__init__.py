"""skautoml: scikit-learn compatible AutoML.

Neural architecture search as an estimator (:class:`AutoNASClassifier`); the
building blocks live in :mod:`skautoml.nas`.
"""
from ._estimators import AutoNASClassifier

__version__ = "0.1.0"
__all__ = ["AutoNASClassifier", "__version__"]
