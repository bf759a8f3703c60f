"""Data-cleaning samplers: drop duplicate, outlying and mislabelled rows.

They change the number of rows, so they follow imbalanced-learn's sampler API
(``fit_resample``) and belong in an :class:`imblearn.pipeline.Pipeline`, where
they clean the training folds only and are skipped at predict time.
"""
import warnings
from collections import Counter, defaultdict
from numbers import Integral, Real

import numpy as np
from imblearn.base import BaseSampler
from scipy import sparse
from sklearn.base import clone
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .._utils._compat import HasMethods, Interval, StrOptions, _safe_indexing

_SAMPLING_STRATEGY_DOC = """sampling_strategy : {'all', 'auto', 'majority', 'not minority', \
'not majority'}, list or callable, default='all'
        Classes whose rows may be removed, as in imbalanced-learn's cleaning
        samplers: a string names a group of classes (``'auto'`` is
        ``'not minority'``), a list names the classes, a callable takes ``y``
        and returns a dict whose keys are the classes. Rows of other classes
        are always kept."""


class _BaseCleaner(BaseSampler):
    """Shared logic: subclasses say which rows to drop, this class applies
    ``sampling_strategy``, keeps every class alive and records the indices."""

    _sampling_type = "clean-sampling"

    # No float: a ratio means nothing for a sampler that removes bad rows.
    _parameter_constraints: dict = {
        "sampling_strategy": [
            StrOptions({"auto", "majority", "not minority", "not majority", "all"}),
            list,
            callable,
        ],
    }

    def _rows_to_drop(self, X, y):
        """Boolean mask of shape (n_samples,): True where the row should go."""
        raise NotImplementedError

    def _fit_resample(self, X, y):
        drop = np.asarray(self._rows_to_drop(X, y), dtype=bool)
        drop &= np.isin(y, list(self.sampling_strategy_))
        for label in np.unique(y[drop]).tolist():  # tolist: plain labels in the message
            in_class = y == label
            if drop[in_class].all():
                # An empty class would silently change the classification task.
                warnings.warn(
                    f"{type(self).__name__} would remove every sample of class "
                    f"{label!r}; keeping all {in_class.sum()} samples of that class.",
                    UserWarning,
                )
                drop[in_class] = False
        self.sample_indices_ = np.flatnonzero(~drop)
        return _safe_indexing(X, self.sample_indices_), _safe_indexing(y, self.sample_indices_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        return tags


def _row_keys(X):
    """One hashable key per row, equal exactly when the rows are equal."""
    if sparse.issparse(X):
        X = sparse.csr_matrix(X, copy=True)
        X.sum_duplicates()  # canonical form: sorted, unique column indices
        X.data += 0.0  # -0.0 and 0.0 are equal but have different bytes
        X.eliminate_zeros()
        bounds = zip(X.indptr[:-1], X.indptr[1:])
        return [(X.indices[a:b].tobytes(), X.data[a:b].tobytes()) for a, b in bounds]
    X = np.ascontiguousarray(X + 0)  # + 0 turns -0.0 into 0.0, and copies
    return [row.tobytes() for row in X]


class DuplicateRowRemover(_BaseCleaner):
    """Remove rows that exactly repeat another row.

    Rows are grouped by their exact feature values (and label, when
    ``consider_label=True``). Each group of two or more rows keeps one row.
    With ``consider_label=False`` a group may hold several labels: it keeps
    one row of its most frequent label (ties go to the label met first in the
    order given by ``keep``), so conflicting copies are resolved by majority.

    Parameters
    ----------
    keep : {'first', 'last'}, default='first'
        Which row of a group to keep: the earliest or the latest.
    consider_label : bool, default=True
        Whether two rows must also share their label to count as duplicates.
    {sampling_strategy}

    Attributes
    ----------
    sampling_strategy_ : dict
        Keys are the classes whose rows may be removed.
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the kept rows, in their original order.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.prep import DuplicateRowRemover
    >>> X = np.array([[0, 1], [0, 1], [2, 3], [0, 1]])
    >>> y = np.array([0, 0, 1, 1])
    >>> DuplicateRowRemover().fit_resample(X, y)[1]
    array([0, 1, 1])
    >>> DuplicateRowRemover(consider_label=False).fit_resample(X, y)[1]
    array([0, 1])
    """

    _parameter_constraints: dict = {
        **_BaseCleaner._parameter_constraints,
        "keep": [StrOptions({"first", "last"})],
        "consider_label": ["boolean"],
    }

    def __init__(self, keep="first", consider_label=True, sampling_strategy="all"):
        super().__init__(sampling_strategy=sampling_strategy)
        self.keep = keep
        self.consider_label = consider_label

    def _rows_to_drop(self, X, y):
        groups = defaultdict(list)
        for i, key in enumerate(_row_keys(X)):
            groups[(key, y[i]) if self.consider_label else key].append(i)
        drop = np.zeros(len(y), dtype=bool)
        for rows in groups.values():
            if len(rows) > 1:
                rows = rows if self.keep == "first" else rows[::-1]
                # most_common is stable: ties go to the label met first.
                label = Counter(y[rows]).most_common(1)[0][0]
                drop[rows] = True
                drop[next(i for i in rows if y[i] == label)] = False
        return drop


DuplicateRowRemover.__doc__ = DuplicateRowRemover.__doc__.replace(
    "{sampling_strategy}", _SAMPLING_STRATEGY_DOC
)


class OutlierRowRemover(_BaseCleaner):
    """Remove rows that an outlier detector flags, ignoring the labels.

    Parameters
    ----------
    method : {'isolation_forest', 'lof'}, default='isolation_forest'
        Detector fitted on ``X``: :class:`~sklearn.ensemble.IsolationForest`
        or :class:`~sklearn.neighbors.LocalOutlierFactor`.
    contamination : 'auto' or float in (0, 0.5], default='auto'
        Expected share of outliers, passed to the detector.
    n_neighbors : int, default=20
        Neighbours used by ``'lof'`` (capped at ``n_samples - 1``); ignored
        by ``'isolation_forest'``.
    random_state : int, RandomState instance or None, default=None
        Seeds the isolation forest.
    {sampling_strategy}

    Attributes
    ----------
    detector_ : IsolationForest or LocalOutlierFactor
        The fitted detector.
    sampling_strategy_ : dict
        Keys are the classes whose rows may be removed.
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the kept rows, in their original order.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.prep import OutlierRowRemover
    >>> rng = np.random.RandomState(0)
    >>> X = np.vstack([rng.normal(size=(40, 2)), [[25.0, 25.0]]])
    >>> y = np.arange(41) % 2
    >>> remover = OutlierRowRemover(method="lof", contamination=0.02)
    >>> X_res, y_res = remover.fit_resample(X, y)
    >>> X_res.shape, 40 in remover.sample_indices_
    ((40, 2), False)
    """

    _parameter_constraints: dict = {
        **_BaseCleaner._parameter_constraints,
        "method": [StrOptions({"isolation_forest", "lof"})],
        "contamination": [StrOptions({"auto"}), Interval(Real, 0, 0.5, closed="right")],
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="isolation_forest",
        contamination="auto",
        n_neighbors=20,
        random_state=None,
        sampling_strategy="all",
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.method = method
        self.contamination = contamination
        self.n_neighbors = n_neighbors
        self.random_state = random_state

    def _rows_to_drop(self, X, y):
        if self.method == "lof":
            n_neighbors = min(self.n_neighbors, max(X.shape[0] - 1, 1))
            self.detector_ = LocalOutlierFactor(
                n_neighbors=n_neighbors, contamination=self.contamination
            )
        else:
            self.detector_ = IsolationForest(
                contamination=self.contamination, random_state=self.random_state
            )
        return self.detector_.fit_predict(X) == -1


OutlierRowRemover.__doc__ = OutlierRowRemover.__doc__.replace(
    "{sampling_strategy}", _SAMPLING_STRATEGY_DOC
)


class LabelNoiseFilter(_BaseCleaner):
    """Remove rows whose label is probably wrong (confident learning).

    Out-of-fold class probabilities come from
    :func:`~sklearn.model_selection.cross_val_predict`. Each class ``k`` gets
    a threshold ``t_k``: the mean probability of ``k`` over the rows labelled
    ``k`` (``threshold='auto'``), or the given float. A row labelled ``k`` is
    noisy when ``p_k < t_k`` and some other class ``j`` has ``p_j >= t_j``
    (the off-diagonal of Northcutt et al.'s confident joint). Noisy rows are
    removed.

    Parameters
    ----------
    estimator : classifier with ``predict_proba`` or None, default=None
        Model giving the probabilities; cloned. ``None`` means
        ``LogisticRegression(max_iter=1000)`` after ``StandardScaler(with_mean=False)``
        (no centring, so sparse input works; the intercept absorbs it).
    cv : int, cross-validation generator or iterable, default=5
        An int gives stratified folds, shuffled with ``random_state``, at most
        as many as the smallest class has rows (and at least 2).
    threshold : 'auto' or float in [0, 1], default='auto'
        Per-class thresholds as above, or one threshold for every class.
    random_state : int, RandomState instance or None, default=None
        Shuffles the folds when ``cv`` is an int.
    {sampling_strategy}

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, in the order of the probability columns.
    thresholds_ : ndarray of shape (n_classes,)
        Threshold of each class.
    noise_scores_ : ndarray of shape (n_samples,)
        One minus the out-of-fold probability of each row's given label:
        higher means more likely mislabelled.
    sampling_strategy_ : dict
        Keys are the classes whose rows may be removed.
    sample_indices_ : ndarray of shape (n_kept,)
        Indices of the kept rows, in their original order.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_classification
    >>> from skautoml.prep import LabelNoiseFilter
    >>> X, y = make_classification(n_samples=300, class_sep=2.0, random_state=0)
    >>> flipped = np.arange(0, 300, 10)
    >>> y_noisy = y.copy()
    >>> y_noisy[flipped] = 1 - y_noisy[flipped]
    >>> noise_filter = LabelNoiseFilter(random_state=0)
    >>> X_res, y_res = noise_filter.fit_resample(X, y_noisy)
    >>> removed = np.setdiff1d(np.arange(300), noise_filter.sample_indices_)
    >>> bool(np.isin(removed, flipped).mean() > 0.5)
    True
    """

    _parameter_constraints: dict = {
        **_BaseCleaner._parameter_constraints,
        "estimator": [HasMethods(["fit", "predict_proba"]), None],
        "cv": ["cv_object"],
        "threshold": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="both")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, estimator=None, cv=5, threshold="auto", random_state=None, sampling_strategy="all"
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.estimator = estimator
        self.cv = cv
        self.threshold = threshold
        self.random_state = random_state

    def _rows_to_drop(self, X, y):
        if self.estimator is None:
            estimator = make_pipeline(
                StandardScaler(with_mean=False), LogisticRegression(max_iter=1000)
            )
        else:
            estimator = clone(self.estimator)
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        cv = self.cv
        if isinstance(cv, Integral):
            # More folds than rows in a class would leave it out of some training folds.
            n_splits = max(2, min(cv, np.bincount(y_idx).min()))
            cv = StratifiedKFold(n_splits, shuffle=True, random_state=self.random_state)
        proba = cross_val_predict(estimator, X, y_idx, cv=cv, method="predict_proba")

        rows = np.arange(len(y_idx))
        given = proba[rows, y_idx]
        if self.threshold == "auto":
            self.thresholds_ = np.array(
                [proba[y_idx == k, k].mean() for k in range(len(self.classes_))]
            )
        else:
            self.thresholds_ = np.full(len(self.classes_), float(self.threshold))
        confident = proba >= self.thresholds_
        confident[rows, y_idx] = False  # only *other* classes count
        self.noise_scores_ = 1.0 - given
        return (given < self.thresholds_[y_idx]) & confident.any(axis=1)


LabelNoiseFilter.__doc__ = LabelNoiseFilter.__doc__.replace(
    "{sampling_strategy}", _SAMPLING_STRATEGY_DOC
)
