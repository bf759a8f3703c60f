"""Filter feature selection: rank features by a statistic, keep the best ``k``.

A filter scores each feature against the target without training the final
model, which makes it cheap; ``k='auto'`` then spends a little training (a
cross-validated downstream model) on choosing how many features to keep.
"""
import warnings
from functools import partial
from numbers import Integral

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, clone
from sklearn.feature_selection import SelectorMixin, chi2, f_classif, mutual_info_classif
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import check_scoring
from sklearn.model_selection import check_cv, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._utils._random import SEED_MAX
from .._utils._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from .._utils._validation import check_finite

__all__ = ["FilterSelector"]



def _validate_classification(estimator, X, y):
    """Validate ``X`` (finite float64) and ``y`` (class labels, at least 2 classes).

    Sets ``n_features_in_`` / ``feature_names_in_``; returns X, y and the
    integer codes of ``y``.
    """
    name = type(estimator).__name__
    X, y = validate_data(estimator, X, y, dtype=np.float64, ensure_all_finite=False)
    check_finite(X, name)
    kind = type_of_target(y, input_name="y", raise_unknown=True)
    if kind not in ("binary", "multiclass"):
        raise ValueError(
            f"{name} selects features for classification: y must hold class labels, but it looks "
            f"{kind!r}. Regression targets are not supported; encode or bin the target first."
        )
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{name} needs at least 2 classes; y holds 1 class ({classes[0]!r}). There is nothing to "
            "tell apart: check the target."
        )
    return X, y, codes


def _check_k(k, n_features, what="k"):
    if k > n_features:
        raise ValueError(
            f"{what}={k} is larger than the number of features, n_features = {n_features}; "
            f"use {what} <= {n_features}."
        )


def _correlation_ratio(X, y):
    """Correlation ratio eta of each column of ``X`` with the classes ``y``, in [0, 1].

    ``eta**2`` is the share of a feature's variance explained by the class
    means. For two classes eta equals the absolute Pearson correlation with
    the 0/1-coded target. A constant feature scores 0.
    """
    _, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    grand = X.mean(axis=0)
    sums = np.zeros((len(counts), X.shape[1]))
    np.add.at(sums, codes, X)
    means = sums / counts[:, None]
    between = counts @ (means - grand) ** 2
    total = ((X - grand) ** 2).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        eta2 = np.where(np.ptp(X, axis=0) > 0, between / total, 0.0)
    return np.sqrt(np.clip(eta2, 0.0, 1.0))


def _rank_correlation(X, y):
    """Spearman-type relevance of each column of ``X`` to the classes ``y``, in [0, 1].

    The correlation ratio of the columns' ranks (average ranks for ties, as in
    :func:`scipy.stats.spearmanr`). For two classes it equals ``|rho|``, the
    absolute Spearman correlation with the target; for more classes it is
    ``sqrt(H / (n - 1))`` with H the Kruskal-Wallis statistic, so it does not
    depend on the order of the class labels. A constant feature scores 0.
    """
    return _correlation_ratio(rankdata(X, axis=0), y)


def _unit_columns(X):
    """Centered columns of unit norm (constant columns are zero), so ``U.T @ U`` is the
    Pearson correlation matrix."""
    centered = X - X.mean(axis=0)
    norms = np.sqrt((centered**2).sum(axis=0))
    norms[np.ptp(X, axis=0) == 0] = np.inf  # rounding leaves a constant column slightly off its mean
    return centered / norms


def _gaussian_mutual_information(r, copies_infinite=False):
    """Mutual information (nats) of two jointly Gaussian variables with correlation ``r``.

    ``|r| = 1`` means infinite information: with ``copies_infinite`` it is
    (an exact or affine copy tells nothing new), otherwise it is capped at a
    large finite value (a perfectly separating feature stays comparable).
    """
    r2 = np.square(r)
    close = r2 >= 1.0 - 1e-10  # rounding keeps the correlation of a copy a hair below 1
    info = -0.5 * np.log1p(-np.where(close, 1.0 - 1e-10, r2))
    return np.where(close, np.inf, info) if copies_infinite else info


def _mrmr(X, y, n_select):
    """Greedy minimum-redundancy maximum-relevance order of the features.

    Peng et al.'s MID criterion, relevance minus mean redundancy, with both
    mutual informations computed under a Gaussian model from correlations:
    relevance from the correlation ratio with the classes, redundancy from
    the Pearson correlation with each chosen feature. Returns (criterion,
    order): ``order`` lists ``n_select`` feature indices in the order picked;
    ``criterion[j]`` is the value at which feature j was picked (NaN for
    features not picked).
    """
    relevance = _gaussian_mutual_information(_correlation_ratio(X, y))  # finite: no inf - inf
    unit = _unit_columns(X)
    n_features = X.shape[1]
    redundancy_sum = np.zeros(n_features)
    available = np.ones(n_features, dtype=bool)
    criterion = np.full(n_features, np.nan)
    order = []
    for step in range(n_select):
        candidates = np.flatnonzero(available)
        value = relevance[candidates] - redundancy_sum[candidates] / max(step, 1)
        best = int(np.argmax(value))  # ties (copies all at -inf too): the lowest index
        j = int(candidates[best])
        order.append(j)
        criterion[j] = value[best]
        available[j] = False
        redundancy_sum += _gaussian_mutual_information(unit.T @ unit[:, j], copies_infinite=True)
    return criterion, np.array(order, dtype=np.intp)


def _order_by(scores):
    """Feature indices from best to worst score; NaN scores last, ties by index."""
    key = np.where(np.isnan(scores), -np.inf, scores)
    return np.argsort(-key, kind="stable")


def _rank_features(method, X, y, n_select, seed):
    """(scores, order) of all features: ``order`` lists every feature, best first."""
    if method == "mrmr":
        criterion, order = _mrmr(X, y, n_select)
        if len(order) < X.shape[1]:  # features not reached by the greedy search follow, by relevance
            rest = _order_by(np.where(np.isnan(criterion), _correlation_ratio(X, y), np.nan))
            order = np.concatenate([order, rest[: X.shape[1] - len(order)]])
        return criterion, order
    if method == "variance":
        scores = X.var(axis=0)
    elif method == "correlation":
        scores = _rank_correlation(X, y)
    elif method in ("chi2", "anova"):
        with warnings.catch_warnings():
            # Constant (anova) or all-zero (chi2) features give NaN and a warning; they rank last anyway.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", RuntimeWarning)
            scores = (chi2 if method == "chi2" else f_classif)(X, y)[0]
    else:  # mutual_info
        scores = mutual_info_classif(X, y, random_state=seed)
    return scores, _order_by(scores)


def _candidate_ks(n_features):
    """1, 2, 4, 8, ... below ``n_features``, then ``n_features``."""
    ks = [1 << i for i in range(int(n_features).bit_length()) if (1 << i) < n_features]
    return ks + [int(n_features)]


class _TopKFits(BaseEstimator):
    """The fold model of ``k='auto'``: one clone of ``estimator`` per k in ``ks``, on the top k features.

    The features are ranked once on the training fold, and one
    :func:`~sklearn.model_selection.cross_validate` call scores every k (one scorer per
    k, :func:`_score_top_k`): a pipeline per k would rank each fold once per k, which
    costs ``len(ks)`` times as much for ``'mutual_info'``.
    """

    def __init__(self, method, ks, estimator, random_state):
        self.method = method
        self.ks = ks
        self.estimator = estimator
        self.random_state = random_state

    def fit(self, X, y):
        order = _rank_features(self.method, X, y, self.ks[-1], self.random_state)[1]
        self.fits_ = {k: (order[:k], clone(self.estimator).fit(X[:, order[:k]], y)) for k in self.ks}
        return self


def _score_top_k(scorer, k, fits, X, y):
    """``scorer`` of the model that ``fits`` (a fitted ``_TopKFits``) holds for ``k``."""
    columns, model = fits.fits_[k]
    return scorer(model, X[:, columns], y)


class FilterSelector(SelectorMixin, BaseEstimator):
    """Keep the ``k`` features that score best against a classification target.

    Scores (``method``; the parameter is not called ``score``, which would
    hide the ``score`` method that scikit-learn looks for on estimators):

    - ``'variance'``: the variance of each feature; ``y`` is not needed
      (unless ``k='auto'``).
    - ``'correlation'``: rank correlation, in [0, 1]: relevance for monotone
      relations (a feature that rises or falls with the target, however
      non-linearly), insensitive to outliers and to any increasing
      transformation of a feature. For a binary target it is the absolute
      Spearman correlation ``|rho|`` with the target
      (:func:`scipy.stats.spearmanr`). For more classes, whose labels need not
      be ordered, it is the correlation ratio of the feature's ranks,
      ``sqrt(H / (n_samples - 1))`` with ``H`` the Kruskal-Wallis statistic
      (:func:`scipy.stats.kruskal`): it does not depend on the order of the
      labels, so an ordinal target with more than two classes is treated as
      nominal. Ties get average ranks; a constant feature scores 0. Unlike
      ``'anova'``, which compares class means, it can rank a heavy-tailed or
      outlier-ridden feature first.
    - ``'mrmr'``: greedy minimum-redundancy maximum-relevance (Peng et al.'s
      difference criterion). The next feature maximises its relevance minus
      its mean redundancy with the features already chosen, both mutual
      informations under a Gaussian model: relevance ``-log(1 - eta**2) / 2``
      from the correlation ratio eta (the square root of the share of the
      feature's variance explained by the class means; the absolute Pearson
      correlation with a 0/1 target), redundancy ``-log(1 - r**2) / 2``
      from the Pearson correlation r with each chosen feature. Unlike a
      mean absolute correlation, this penalty grows without bound as r
      approaches 1: an exact (or affine) copy of a chosen feature has
      infinite redundancy and comes last however many features are chosen.
      On data whose useful features are correlated with each other it
      prefers less relevant but unrelated features: that is the trade it
      makes. Costs one pass over the data per chosen feature.
    - ``'chi2'``: :func:`sklearn.feature_selection.chi2`; needs non-negative
      features (counts, frequencies, one-hot or min-max scaled data).
    - ``'anova'``: the ANOVA F-statistic,
      :func:`sklearn.feature_selection.f_classif`.
    - ``'mutual_info'``: :func:`sklearn.feature_selection.mutual_info_classif`,
      seeded by ``random_state``.

    Features whose score is undefined (NaN, e.g. a constant feature under
    ``'anova'``) rank last. Only classification targets are supported.

    Parameters
    ----------
    method : {'variance', 'correlation', 'mrmr', 'chi2', 'anova', 'mutual_info'}, default='anova'
    k : int or 'auto', default=10
        Number of features to keep, at most the number of features of ``X``.
        ``'auto'`` chooses it by cross-validation: for each candidate k in
        1, 2, 4, 8, ... (powers of two below ``n_features``) and
        ``n_features``, the features are ranked on the training part of each
        fold, ``estimator`` is fitted on the top k and scored on the held-out
        part; the k with the best mean score wins (ties: the smaller k).
    estimator : estimator or None, default=None
        The downstream model of ``k='auto'``; None means
        ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``.
    cv : int, cross-validation generator or iterable, default=5
        Folds of ``k='auto'``, as in :func:`sklearn.model_selection.cross_val_score`
        (an int means stratified folds without shuffling).
    scoring : str, callable or None, default=None
        Score of ``k='auto'``; None uses the estimator's ``score`` (accuracy).
    n_jobs : int or None, default=None
        Parallel jobs (joblib) over the folds of ``k='auto'``.
    random_state : int, RandomState instance or None, default=None
        Seeds ``'mutual_info'`` (its jitter and neighbour search).

    Attributes
    ----------
    scores_ : ndarray of shape (n_features_in_,)
        Score of each feature. For ``'mrmr'``: relevance minus redundancy (in
        nats) at the step the feature was chosen (-inf for copies of chosen
        features), NaN for features the greedy search did not reach (it
        stops after ``k`` features when ``k`` is an int).
    ranking_ : ndarray of int of shape (n_features_in_,)
        Rank of each feature, 1 for the best; the kept features are those
        with ``ranking_ <= k_``. Under ``'mrmr'`` the features the greedy
        search did not reach follow, ordered by relevance.
    k_ : int
        Number of features kept.
    cv_scores_ : dict
        Only for ``k='auto'``: candidate k -> mean cross-validated score.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    sklearn.feature_selection.SelectKBest : the same for a fixed k and any score function.
    skautoml.features.EmbeddedSelector : selection by L1 or tree importances.

    Examples
    --------
    Feature 4 copies feature 0; the classes depend on features 0 and 1.

    >>> import numpy as np
    >>> from skautoml.features import FilterSelector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> y = (2 * X[:, 0] + X[:, 1] > 0).astype(int)
    >>> X = np.column_stack([X, X[:, 0]])
    >>> FilterSelector(method="anova", k=2).fit(X, y).get_support(indices=True)
    array([0, 4])
    >>> selector = FilterSelector(method="mrmr", k=2).fit(X, y)
    >>> selector.get_support(indices=True)
    array([0, 1])
    >>> selector.transform(X).shape
    (200, 2)
    """

    _parameter_constraints = {
        "method": [StrOptions({"variance", "correlation", "mrmr", "chi2", "anova", "mutual_info"})],
        "k": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "estimator": [HasMethods(["fit"]), None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="anova",
        k=10,
        *,
        estimator=None,
        cv=5,
        scoring=None,
        n_jobs=None,
        random_state=None,
    ):
        self.method = method
        self.k = k
        self.estimator = estimator
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _needs_y(self):
        return self.method != "variance" or self.k == "auto"

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator of k='auto' validates its own
    def fit(self, X, y=None):
        """Score the features and choose which to keep.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None
            Class labels; ignored (and may be None) for ``method='variance'``
            with an int ``k``.

        Returns
        -------
        self : FilterSelector
        """
        if not self._needs_y():  # variance with a fixed k: y is ignored, whatever it holds
            X = validate_data(self, X, dtype=np.float64, ensure_all_finite=False)
            y = None
            check_finite(X, type(self).__name__)
        else:
            X, y, _ = _validate_classification(self, X, y)
        n_features = X.shape[1]
        if self.k != "auto":
            _check_k(self.k, n_features)
        if self.method == "chi2" and (X < 0).any():
            negative = np.flatnonzero((X < 0).any(axis=0))
            names = self.feature_names_in_[negative] if hasattr(self, "feature_names_in_") else negative
            raise ValueError(
                "Negative values in data passed to FilterSelector: method='chi2' needs non-negative "
                "features (counts, frequencies, one-hot data); "
                f"{len(negative)} column(s) hold negative values, e.g. {names[:5].tolist()}. Rescale "
                "them (e.g. sklearn.preprocessing.MinMaxScaler) or use method='anova' or 'mutual_info'."
            )
        rng = check_random_state(self.random_state)
        seed = int(rng.randint(SEED_MAX))
        if self.k == "auto":
            self.k_, self.cv_scores_ = self._choose_k(X, y, rng)
            n_select = n_features
        else:
            self.k_ = int(self.k)
            if hasattr(self, "cv_scores_"):
                del self.cv_scores_  # from an earlier fit with k='auto'
            n_select = self.k_
        self.scores_, order = _rank_features(self.method, X, y, n_select, seed)
        ranking = np.empty(n_features, dtype=np.intp)
        ranking[order] = np.arange(1, n_features + 1)
        self.ranking_ = ranking
        return self

    def _choose_k(self, X, y, rng):
        """Cross-validate the downstream estimator on the top k features for each candidate k."""
        estimator = self.estimator
        if estimator is None:
            estimator = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        scorer = check_scoring(estimator, scoring=self.scoring)
        ks = _candidate_ks(X.shape[1])
        folds = _TopKFits(self.method, ks, estimator, int(rng.randint(SEED_MAX)))
        result = cross_validate(
            folds,
            X,
            y,
            cv=check_cv(self.cv, y, classifier=True),  # _TopKFits is no classifier: resolve an int here
            scoring={str(k): partial(_score_top_k, scorer, k) for k in ks},
            n_jobs=self.n_jobs,
            error_score="raise",
        )
        means = np.array([np.mean(result[f"test_{k}"]) for k in ks], dtype=float)
        if np.isnan(means).all():
            raise ValueError(
                "Every cross-validation score of k='auto' is NaN; check the estimator and scoring, "
                "or pass an int k."
            )
        best = int(np.nanargmax(means))  # the first, smallest k among ties
        return ks[best], {k: float(mean) for k, mean in zip(ks, means)}

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.ranking_ <= self.k_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = self._needs_y()
        tags.input_tags.positive_only = self.method == "chi2"
        return tags
