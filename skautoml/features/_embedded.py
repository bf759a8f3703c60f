"""Embedded feature selection: the model that learns the task also rates the features.

``EmbeddedSelector`` builds a suitable model (an L1-penalised logistic
regression on standardised features, or extremely randomised trees) and
hands it to :class:`sklearn.feature_selection.SelectFromModel`.
``NeuralFeatureSelector`` (in :mod:`._neural`, which loads torch) trains a
small network through skorch with a learned, penalised gate on every input
feature.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.feature_selection import SelectFromModel, SelectorMixin
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from .._utils._compat import Interval, StrOptions, _fit_context
from ._filter import _check_k, _validate_classification

__all__ = ["EmbeddedSelector"]


def _check_selected(support, estimator_name, advice):
    if not support.any():
        raise ValueError(f"{estimator_name} selected no feature: {advice}")


class EmbeddedSelector(SelectorMixin, BaseEstimator):
    """Select features by the importances of an L1-penalised or tree model.

    A thin front end to :class:`sklearn.feature_selection.SelectFromModel`
    that picks the model:

    - ``method='l1'``: ``make_pipeline(StandardScaler(),
      LogisticRegression(l1_ratio=1.0, solver='saga', C=C))``. Standardising
      first makes coefficient sizes comparable across features. The
      importance of a feature is the sum over classes of its absolute
      coefficients; the L1 penalty sets the coefficients of unhelpful
      features to exactly zero (a smaller ``C`` keeps fewer features). Among
      strongly correlated features it tends to keep one.
    - ``method='tree'``: ``ExtraTreesClassifier(n_estimators)``; the
      importance is the mean decrease in impurity. Scale-free and sees
      interactions, but spreads importance over correlated features.

    Parameters
    ----------
    method : {'tree', 'l1'}, default='tree'
    max_features : int or None, default=None
        Keep at most this many features (those of largest importance).
    threshold : float, str or None, default=None
        Importance a feature needs, as in ``SelectFromModel``: a number, or a
        string such as ``'mean'``, ``'median'`` or ``'1.25*mean'``. None means
        ``1e-5`` for ``'l1'`` (every non-zero coefficient) and ``'mean'`` for
        ``'tree'``. With ``threshold=-np.inf`` and ``max_features=k`` exactly
        k features are kept.
    C : float > 0, default=0.1
        Inverse L1 penalty strength of ``'l1'``.
    n_estimators : int, default=100
        Number of trees of ``'tree'``.
    random_state : int, RandomState instance or None, default=None
        Seeds the trees and the shuffling of the ``saga`` solver.
    n_jobs : int or None, default=None
        Parallel jobs of the trees.

    Attributes
    ----------
    selector_ : SelectFromModel
        The fitted ``SelectFromModel``.
    estimator_ : estimator
        The fitted model (``selector_.estimator_``).
    importances_ : ndarray of shape (n_features_in_,)
        The importance of each feature that ``threshold`` was applied to.
    threshold_ : float
        The threshold used.
    support_ : ndarray of bool of shape (n_features_in_,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    sklearn.feature_selection.SelectFromModel : the same with any model.
    NeuralFeatureSelector : importances from learned input gates of a network.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.features import EmbeddedSelector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (2 * X[:, 0] + X[:, 1] > 0).astype(int)
    >>> selector = EmbeddedSelector(method="l1").fit(X, y)
    >>> selector.get_support(indices=True)
    array([0, 1])
    >>> EmbeddedSelector(method="tree", max_features=1, random_state=0).fit(X, y).get_support(indices=True)
    array([0])
    """

    _parameter_constraints = {
        "method": [StrOptions({"tree", "l1"})],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "threshold": [Real, str, None],
        "C": [Interval(Real, 0, None, closed="neither")],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        method="tree",
        *,
        max_features=None,
        threshold=None,
        C=0.1,
        n_estimators=100,
        random_state=None,
        n_jobs=None,
    ):
        self.method = method
        self.max_features = max_features
        self.threshold = threshold
        self.C = C
        self.n_estimators = n_estimators
        self.random_state = random_state
        self.n_jobs = n_jobs

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Fit the model and keep the features whose importance passes the threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : EmbeddedSelector
        """
        X, y, _ = _validate_classification(self, X, y)
        if self.max_features is not None:
            _check_k(self.max_features, X.shape[1], what="max_features")
        if self.method == "l1":
            model = make_pipeline(
                StandardScaler(),
                LogisticRegression(
                    l1_ratio=1.0, solver="saga", C=self.C, max_iter=1000, random_state=self.random_state
                ),
            )
            getter, default_threshold = "named_steps.logisticregression.coef_", 1e-5
        else:
            model = ExtraTreesClassifier(
                n_estimators=self.n_estimators, random_state=self.random_state, n_jobs=self.n_jobs
            )
            getter, default_threshold = "feature_importances_", "mean"
        threshold = default_threshold if self.threshold is None else self.threshold
        self.selector_ = SelectFromModel(
            model, threshold=threshold, max_features=self.max_features, importance_getter=getter
        ).fit(X, y)
        self.estimator_ = self.selector_.estimator_
        if self.method == "l1":
            # What SelectFromModel thresholds: the L1 norm of the coefficients over the classes.
            self.importances_ = np.abs(self.estimator_[-1].coef_).sum(axis=0)
        else:
            self.importances_ = self.estimator_.feature_importances_
        self.threshold_ = self.selector_.threshold_
        self.support_ = self.selector_.get_support()
        advice = "raise C (a weaker L1 penalty) or lower threshold." if self.method == "l1" else "lower threshold."
        _check_selected(self.support_, type(self).__name__, f"no importance reached {self.threshold_:.3g}; {advice}")
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_
