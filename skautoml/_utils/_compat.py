"""The one place that imports scikit-learn's private helpers.

scikit-learn keeps its parameter-validation machinery private; a release that
moves it breaks this file only.
"""
from sklearn.base import _fit_context
from sklearn.utils import _safe_indexing
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import validate_data

__all__ = ["HasMethods", "Interval", "StrOptions", "_fit_context", "_safe_indexing", "validate_data"]
