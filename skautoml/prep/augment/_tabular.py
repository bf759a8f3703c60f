"""Over-samplers for imbalanced tabular data: SMOTE family, Gaussian noise (smoothed bootstrap), mixup.

They add rows, so they follow imbalanced-learn's sampler API (``fit_resample``,
``sampling_strategy`` as in :class:`~imblearn.over_sampling.RandomOverSampler`)
and belong in an :class:`imblearn.pipeline.Pipeline`, where they augment the
training folds only and are skipped at predict time. The original rows come
first, in their order; the new rows are appended, class by class.
"""
import warnings
from collections import Counter
from numbers import Integral, Real

import numpy as np
from imblearn.over_sampling import ADASYN, SMOTE, SMOTEN, SMOTENC, BorderlineSMOTE, RandomOverSampler
from imblearn.over_sampling.base import BaseOverSampler
from imblearn.utils import check_target_type
from scipy import sparse
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_consistent_length

from ..._utils._compat import Interval, StrOptions, validate_data

_SAMPLING_STRATEGY_DOC = """sampling_strategy : float, str, dict or callable, default='auto'
        Which classes get new rows and how many, as in imbalanced-learn's
        over-samplers: a float (binary only) is the wanted ratio minority /
        majority; a string names the classes brought up to the majority's
        size (``'auto'`` is ``'not majority'``; also ``'minority'``,
        ``'not minority'``, ``'all'``); a dict maps a class to its wanted
        number of rows; a callable takes ``y`` and returns such a dict."""

_METHODS = {
    "smote": SMOTE,
    "borderline": BorderlineSMOTE,
    "adasyn": ADASYN,
    "smotenc": SMOTENC,
    "smoten": SMOTEN,
}


def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def _categorical_columns(X):
    """Indices of the non-numeric columns of a DataFrame or object array, else None.

    ``None`` means plain numeric input (lists, numeric arrays, sparse matrices).
    """
    if _is_dataframe(X):
        from pandas.api.types import is_numeric_dtype

        return np.flatnonzero([not is_numeric_dtype(dtype) for dtype in X.dtypes])
    if sparse.issparse(X):
        return None
    X = np.asarray(X)
    if X.dtype.kind in "OUS" and X.ndim == 2:
        if X.dtype.kind in "US":
            return np.arange(X.shape[1])
        return np.flatnonzero(
            [any(isinstance(v, (str, bytes)) for v in X[:, j]) for j in range(X.shape[1])]
        )
    return None


class AutoSMOTE(BaseOverSampler):
    """SMOTE, Borderline-SMOTE, ADASYN or SMOTE-NC, chosen from the data.

    A thin wrapper around imbalanced-learn's samplers (not a reimplementation)
    that picks the variant for mixed data and keeps small classes from
    crashing the neighbour search.

    Parameters
    ----------
    method : {'auto', 'smote', 'borderline', 'adasyn', 'smotenc', 'smoten'}, \
default='auto'
        Sampler to use. ``'auto'`` picks :class:`~imblearn.over_sampling.SMOTENC`
        when ``categorical_features`` is given or ``X`` has non-numeric columns
        (object, string or category dtype, or strings in an object array),
        :class:`~imblearn.over_sampling.SMOTEN` when every column is
        categorical, and :class:`~imblearn.over_sampling.SMOTE` otherwise.
        ``'borderline'`` is :class:`~imblearn.over_sampling.BorderlineSMOTE`
        and ``'adasyn'`` :class:`~imblearn.over_sampling.ADASYN` (which
        reaches the wanted counts only approximately).
    k_neighbors : int, default=5
        Neighbours used to make the new rows (``n_neighbors`` for ADASYN).
        Capped, with a warning, at the size of the smallest class to
        over-sample minus one.
    categorical_features : array-like of int, str or bool, or None, default=None
        Categorical columns (indices, names or a mask) for SMOTE-NC. ``None``
        detects them: the DataFrame's non-numeric columns (imbalanced-learn's
        own ``'auto'`` detection when they all have category dtype).
    {sampling_strategy}
    random_state : int, RandomState instance or None, default=None
        Seeds the wrapped sampler.

    Attributes
    ----------
    sampler_ : imblearn sampler
        The fitted wrapped sampler.
    method_ : str
        Name of the chosen sampler, one of the ``method`` options other than
        ``'auto'``.
    k_neighbors_ : int
        The number of neighbours actually used.
    sampling_strategy_ : dict
        Number of rows to add to each class.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skautoml.prep import AutoSMOTE
    >>> rng = np.random.RandomState(0)
    >>> X = pd.DataFrame({"size": rng.normal(size=30),
    ...                   "color": rng.choice(["red", "blue"], size=30)})
    >>> y = np.array([0] * 24 + [1] * 6)
    >>> sampler = AutoSMOTE(random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> sampler.method_, np.bincount(y_res).tolist()
    ('smotenc', [24, 24])
    >>> AutoSMOTE(random_state=0).fit_resample(X[["size"]], y)[0].shape
    (48, 1)
    """

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "method": [StrOptions({"auto", *_METHODS})],
        "k_neighbors": [Interval(Integral, 1, None, closed="left")],
        "categorical_features": ["array-like", None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="auto",
        k_neighbors=5,
        categorical_features=None,
        sampling_strategy="auto",
        random_state=None,
    ):
        super().__init__(sampling_strategy=sampling_strategy)
        self.method = method
        self.k_neighbors = k_neighbors
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _keeps_raw_X(self, X):
        cats = _categorical_columns(X)
        return self.categorical_features is not None or (cats is not None and cats.size > 0)

    def _check_X_y(self, X, y):
        if not self._keeps_raw_X(X):
            return super()._check_X_y(X, y)
        # Mixed data: keep strings (and DataFrames) for SMOTE-NC, as imblearn does.
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if not _is_dataframe(X):
            X = check_array(X, dtype=None, accept_sparse=["csr", "csc"], ensure_all_finite=False)
        elif X.ndim != 2 or X.shape[0] < 1:
            raise ValueError(f"Expected a non-empty 2-D DataFrame, got shape {X.shape}.")
        validate_data(self, X=X, y=y, reset=True, skip_check_array=True)
        check_consistent_length(X, y)
        return X, y, binarize_y

    def _choose(self, X):
        """Chosen method and the ``categorical_features`` to give SMOTE-NC."""
        cats = _categorical_columns(X)
        detected = cats if cats is not None else np.array([], dtype=int)
        categorical = self.categorical_features
        if categorical is None and detected.size:
            categorical = detected
            if _is_dataframe(X):
                import pandas as pd

                if all(isinstance(X.dtypes.iloc[j], pd.CategoricalDtype) for j in detected):
                    categorical = "auto"  # imblearn's own detection
        method = self.method
        if method == "auto":
            if categorical is None:
                method = "smote"
            elif self.categorical_features is None and detected.size == X.shape[1]:
                method = "smoten"  # SMOTE-NC needs at least one numeric column
            else:
                method = "smotenc"
        elif method == "smotenc" and categorical is None:
            raise ValueError(
                "method='smotenc' needs categorical columns: pass categorical_features "
                "or a DataFrame with non-numeric columns."
            )
        elif method in {"smote", "borderline", "adasyn"} and detected.size:
            raise ValueError(
                f"method={method!r} needs numeric input but columns {detected.tolist()} "
                "are not numeric; use method='auto' or 'smotenc'."
            )
        return method, categorical

    def _fit_resample(self, X, y):
        self.method_, categorical = self._choose(X)
        counts = Counter(y.tolist())
        targets = [c for c, n in self.sampling_strategy_.items() if n > 0]
        k = self.k_neighbors
        if targets:
            smallest = min(counts[c] for c in targets)
            if smallest < 2:
                raise ValueError(
                    f"{type(self).__name__} needs at least 2 samples in each class to "
                    f"over-sample; a class to over-sample has {smallest}."
                )
            if k > smallest - 1:
                warnings.warn(
                    f"k_neighbors={k} is too large for the smallest class to over-sample "
                    f"({smallest} samples); using k_neighbors={smallest - 1}.",
                    UserWarning,
                )
                k = smallest - 1
        self.k_neighbors_ = k
        params = {"sampling_strategy": self.sampling_strategy, "random_state": self.random_state}
        if self.method_ == "adasyn":
            params["n_neighbors"] = k
        else:
            params["k_neighbors"] = k
        if self.method_ == "borderline":
            params["m_neighbors"] = min(10, len(y) - 1)
        if self.method_ == "smotenc":
            params["categorical_features"] = categorical
        self.sampler_ = _METHODS[self.method_](**params)
        return self.sampler_.fit_resample(X, y)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        return tags


AutoSMOTE.__doc__ = AutoSMOTE.__doc__.replace("{sampling_strategy}", _SAMPLING_STRATEGY_DOC)


class _BaseNumericOverSampler(BaseOverSampler):
    """Shared logic: validate numeric input, then ask subclasses for new rows."""

    _parameter_constraints: dict = {
        **BaseOverSampler._parameter_constraints,
        "random_state": ["random_state"],
    }

    _accept_sparse = False

    def _check_X_y(self, X, y):
        y, binarize_y = check_target_type(y, indicate_one_vs_all=True)
        if not self._accept_sparse and _is_dataframe(X) and hasattr(X, "sparse"):
            # A sparse-dtype DataFrame: work densely (the output is dense anyway);
            # fit_resample gives back a DataFrame with the input's dtypes.
            try:
                X = X.sparse.to_dense()
            except AttributeError:  # not every column is sparse
                pass
        try:
            X, y = validate_data(
                self,
                X=X,
                y=y,
                reset=True,
                accept_sparse=["csr", "csc"] if self._accept_sparse else False,
                dtype=[np.float64, np.float32],
            )
        except ValueError as exc:
            if "could not convert" in str(exc) or "convert" in str(exc).lower():
                raise ValueError(
                    f"{type(self).__name__} needs numeric input; encode categorical "
                    f"columns first (or use AutoSMOTE). {exc}"
                ) from exc
            raise
        return X, y, binarize_y

    def _new_rows(self, X_class, n_samples, rng):
        """Array (or sparse matrix) of shape (n_samples, n_features)."""
        raise NotImplementedError

    def _fit_resample(self, X, y):
        rng = check_random_state(self.random_state)
        X_parts, y_parts = [X], [y]
        for label, n_samples in self.sampling_strategy_.items():
            if n_samples == 0:
                continue
            X_class = X[np.flatnonzero(y == label)]
            X_parts.append(self._new_rows(X_class, n_samples, rng))
            y_parts.append(np.full(n_samples, label, dtype=y.dtype))
        if sparse.issparse(X):
            X_res = sparse.vstack(X_parts, format=X.format).astype(X.dtype)
        else:
            X_res = np.vstack(X_parts).astype(X.dtype, copy=False)
        return X_res, np.hstack(y_parts)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accept_sparse
        return tags


class GaussianNoiseOversampler(_BaseNumericOverSampler):
    """Over-sample by jittering random rows of a class with Gaussian noise (a smoothed bootstrap).

    Each new row of class ``k`` is a row of ``k`` drawn at random (with
    replacement) plus Gaussian noise whose standard deviation, per feature,
    is ``noise_scale`` times that feature's standard deviation within ``k``.
    A constant feature (or a class of one row) gets no noise.

    This is imbalanced-learn's
    :class:`~imblearn.over_sampling.RandomOverSampler` with
    ``shrinkage=noise_scale / h``, which it runs (``sampler_``).
    ``RandomOverSampler`` multiplies its noise by the bandwidth
    ``h = (4 / ((n_features + 2) * n_samples)) ** (1 / (n_features + 4))``,
    so a fixed ``shrinkage`` adds less noise to more rows (under
    cross-validation it depends on the size of the training fold).
    What this class adds is only that parametrisation: ``noise_scale`` is the
    noise in units of the class's spread whatever the number of rows and
    features; and float32 input stays float32. For a given data set,
    ``RandomOverSampler(shrinkage=noise_scale / h)`` gives the same rows.

    Parameters
    ----------
    noise_scale : float >= 0, default=0.1
        Noise standard deviation relative to the class's feature spread;
        ``0`` duplicates rows like random over-sampling.
    {sampling_strategy}
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of rows and the noise.

    Attributes
    ----------
    sampler_ : imblearn.over_sampling.RandomOverSampler
        The fitted sampler that made the rows, with ``shrinkage=noise_scale / h``.
    sampling_strategy_ : dict
        Number of rows to add to each class.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    Notes
    -----
    Numeric input only (integers come back as float64; float32 stays
    float32); no sparse matrices, since noise makes every entry non-zero.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.prep import GaussianNoiseOversampler
    >>> rng = np.random.RandomState(0)
    >>> X, y = rng.normal(size=(20, 3)), np.array([0] * 15 + [1] * 5)
    >>> X_res, y_res = GaussianNoiseOversampler(random_state=0).fit_resample(X, y)
    >>> X_res.shape, np.bincount(y_res).tolist(), bool((X_res[:20] == X).all())
    ((30, 3), [15, 15], True)
    """

    _parameter_constraints: dict = {
        **_BaseNumericOverSampler._parameter_constraints,
        "noise_scale": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, noise_scale=0.1, sampling_strategy="auto", random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.noise_scale = noise_scale
        self.random_state = random_state

    def _fit_resample(self, X, y):
        n_samples, n_features = X.shape
        # RandomOverSampler's noise is shrinkage * bandwidth * class std: undo the bandwidth.
        bandwidth = (4 / ((n_features + 2) * n_samples)) ** (1 / (n_features + 4))
        self.sampler_ = RandomOverSampler(
            sampling_strategy=self.sampling_strategy,
            shrinkage=self.noise_scale / bandwidth,
            random_state=self.random_state,
        )
        X_res, y_res = self.sampler_.fit_resample(X, y)
        return X_res.astype(X.dtype, copy=False), y_res  # it computes in float64


class MixupOversampler(_BaseNumericOverSampler):
    """Over-sample with mixup: convex combinations of two rows of a class.

    Each new row of class ``k`` is ``lam * x_i + (1 - lam) * x_j`` for two
    rows ``x_i``, ``x_j`` of ``k`` drawn at random (with replacement) and
    ``lam ~ Beta(alpha, alpha)``, so it lies on the segment between them and
    inside the class's bounding box.

    Parameters
    ----------
    alpha : float > 0, default=0.4
        Parameter of the Beta distribution: small values keep new rows near
        one of the two, ``1`` is uniform along the segment, large values
        concentrate near the middle.
    {sampling_strategy}
    random_state : int, RandomState instance or None, default=None
        Seeds the choice of rows and of ``lam``.

    Attributes
    ----------
    sampling_strategy_ : dict
        Number of rows to add to each class.
    n_features_in_ : int
        Number of features seen in ``fit_resample``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features, when ``X`` had string column names.

    Notes
    -----
    Numeric input only (integers come back as float64; float32 stays
    float32); CSR and CSC matrices stay sparse.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.prep import MixupOversampler
    >>> X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 0.0], [4.0, 4.0]])
    >>> y = np.array([0, 0, 0, 1, 1])
    >>> X_res, y_res = MixupOversampler(random_state=0).fit_resample(X, y)
    >>> y_res.tolist()
    [0, 0, 0, 1, 1, 1]
    >>> bool(3.0 <= X_res[5, 0] <= 4.0)
    True
    """

    _parameter_constraints: dict = {
        **_BaseNumericOverSampler._parameter_constraints,
        "alpha": [Interval(Real, 0, None, closed="neither")],
    }

    _accept_sparse = True

    def __init__(self, alpha=0.4, sampling_strategy="auto", random_state=None):
        super().__init__(sampling_strategy=sampling_strategy)
        self.alpha = alpha
        self.random_state = random_state

    def _new_rows(self, X_class, n_samples, rng):
        first = rng.randint(0, X_class.shape[0], size=n_samples)
        second = rng.randint(0, X_class.shape[0], size=n_samples)
        lam = rng.beta(self.alpha, self.alpha, size=n_samples)[:, np.newaxis]
        if sparse.issparse(X_class):
            X_class = X_class.tocsr()
            return X_class[first].multiply(lam) + X_class[second].multiply(1.0 - lam)
        return lam * X_class[first] + (1.0 - lam) * X_class[second]


for _cls in (GaussianNoiseOversampler, MixupOversampler):
    _cls.__doc__ = _cls.__doc__.replace("{sampling_strategy}", _SAMPLING_STRATEGY_DOC)
