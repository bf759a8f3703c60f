"""Data-cleaning transformers: each maps rows to rows with rules learnt in ``fit``.

``DropUninformativeColumns`` and ``TypedImputer`` return a DataFrame for a
DataFrame so that column dtypes survive (a later step still sees which columns
are categorical) and an array for an array; ``OutlierClipper`` and
``RareCategoryEncoder`` return arrays like scikit-learn's transformers. All of
them support ``set_output(transform="pandas")``.

pandas is imported only where a function needs it (it is needed for
``DropUninformativeColumns``, ``TypedImputer`` and ``infer_column_types``,
also on arrays).
"""
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.feature_selection import SelectorMixin
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder
from sklearn.utils.validation import check_is_fitted

from .._utils._compat import Interval, StrOptions, _fit_context, validate_data
from .._utils._validation import is_dataframe, validate_table

__all__ = [
    "DropUninformativeColumns",
    "OutlierClipper",
    "RareCategoryEncoder",
    "TypedImputer",
    "infer_column_types",
]


def _pandas():
    try:
        import pandas
    except ImportError as exc:  # pandas is not a hard dependency of skautoml
        raise ImportError(
            "DropUninformativeColumns, TypedImputer and infer_column_types need pandas: "
            "pip install 'skautoml[pandas]'."
        ) from exc
    return pandas


def _as_frame(X):
    """``X`` as a DataFrame (a DataFrame as it is); labels of an array are its column indices."""
    if is_dataframe(X):
        return X
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError(f"Expected a 2-D array or a DataFrame, got an array of shape {X.shape}; reshape it.")
    return _pandas().DataFrame(X)


def _keys(estimator):
    """How columns are named in fitted attributes: DataFrame names, else indices."""
    return list(getattr(estimator, "feature_names_in_", range(estimator.n_features_in_)))


def _input_names(estimator, input_features):
    """Input feature names, validated as every scikit-learn transformer does."""
    return OneToOneFeatureMixin.get_feature_names_out(estimator, input_features)


def _check_cells(frame):
    """Cells of object columns must be hashable (strings, numbers) to be counted."""
    for j in np.flatnonzero((frame.dtypes == object).to_numpy()):
        for value in frame.iloc[:, j]:
            try:
                hash(value)
            except TypeError:
                raise TypeError(
                    f"Column {frame.columns[j]!r} holds a {type(value).__name__}, but the argument must be a "
                    "string or a number in every cell: convert or drop such cells first."
                ) from None


def _counts(column):
    """Counts of the values present in ``column``, most frequent first (ties: first seen)."""
    counts = column.value_counts(dropna=True, sort=True)
    return counts[counts > 0]  # a categorical dtype also lists its unused categories


def _numeric_block(frame, positions):
    """The columns at ``positions`` as a float array, missing as NaN.

    A writable copy: IterativeImputer writes into its input, and pandas hands out read-only views.
    """
    return frame.iloc[:, positions].to_numpy(dtype=float, na_value=np.nan, copy=True)


def _set_allow_nan(tags):
    tags.input_tags.allow_nan = True
    return tags


def infer_column_types(X, max_categories=None):
    """Infer whether each column is numeric, boolean or categorical.

    Rules, on the non-missing values: a bool dtype is ``'boolean'``; a numeric
    dtype is ``'boolean'`` when it holds only 0 and 1, otherwise
    ``'numeric'``; every other dtype (object, string, category, dates) is
    ``'categorical'``.

    Parameters
    ----------
    X : DataFrame or array-like of shape (n_samples, n_features)
    max_categories : int, default=None
        When set, a numeric column holding only whole numbers with at most
        this many distinct values (codes such as ratings) is ``'categorical'``.

    Returns
    -------
    dict
        Column name (a DataFrame's labels, an array's column indices) ->
        ``'numeric'``, ``'boolean'`` or ``'categorical'``.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoml.prep import infer_column_types
    >>> X = pd.DataFrame({"age": [30.5, 41, None], "smoker": [0, 1, 1], "city": ["a", "b", "a"]})
    >>> infer_column_types(X)
    {'age': 'numeric', 'smoker': 'boolean', 'city': 'categorical'}
    """
    if max_categories is not None and (not isinstance(max_categories, Integral) or max_categories < 1):
        raise ValueError(f"max_categories must be a positive int or None, got {max_categories!r}.")
    pd = _pandas()
    frame = _as_frame(X)
    types = {}
    for j, name in enumerate(frame.columns):
        column = frame.iloc[:, j]
        if pd.api.types.is_bool_dtype(column.dtype):
            types[name] = "boolean"
            continue
        if not pd.api.types.is_numeric_dtype(column.dtype):
            types[name] = "categorical"
            continue
        values = column.dropna().to_numpy(dtype=float)
        uniques = np.unique(values)
        if len(uniques) and np.isin(uniques, [0, 1]).all():
            types[name] = "boolean"
        elif max_categories is not None and len(uniques) <= max_categories and (uniques % 1 == 0).all():
            types[name] = "categorical"
        else:
            types[name] = "numeric"
    return types


class DropUninformativeColumns(SelectorMixin, BaseEstimator):
    """Drop constant, near-constant and duplicated columns.

    A column is constant when its non-missing values hold at most one
    distinct value (an all-missing column is constant), near-constant when
    its most frequent value covers at least ``near_constant_threshold`` of
    its non-missing rows, and a duplicate when it equals an earlier kept
    column exactly (same dtype, same values, missing values in the same rows).
    Works on numeric, object, string and categorical columns.

    Parameters
    ----------
    near_constant_threshold : float in (0, 1], default=1.0
        Share of the most frequent value at which a column is dropped; 1.0
        drops constant columns only.
    drop_duplicates : bool, default=True
        Also drop columns equal to an earlier kept column.

    Attributes
    ----------
    support_ : ndarray of bool of shape (n_features_in_,)
        True for the columns kept.
    dropped_columns_ : list
        Names (DataFrames with string column names) or indices of the dropped columns.
    drop_reasons_ : dict
        Dropped column -> ``'constant'``, ``'near-constant'`` or ``'duplicate of <column>'``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoml.prep import DropUninformativeColumns
    >>> X = pd.DataFrame({"a": [1, 2, 3], "b": [7, 7, 7], "c": [1, 2, 3]})
    >>> drop = DropUninformativeColumns().fit(X)
    >>> drop.drop_reasons_
    {'b': 'constant', 'c': 'duplicate of a'}
    >>> list(drop.transform(X).columns)
    ['a']
    """

    _parameter_constraints = {
        "near_constant_threshold": [Interval(Real, 0, 1, closed="right")],
        "drop_duplicates": ["boolean"],
    }

    def __init__(self, near_constant_threshold=1.0, drop_duplicates=True):
        self.near_constant_threshold = near_constant_threshold
        self.drop_duplicates = drop_duplicates

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the columns to drop.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : DropUninformativeColumns
        """
        X = validate_table(self, X, reset=True)
        if X.shape[0] < 2:
            raise ValueError(
                f"DropUninformativeColumns needs at least 2 rows to tell columns apart; got {X.shape[0]} sample."
            )
        pd = _pandas()
        frame, keys = _as_frame(X), _keys(self)
        _check_cells(frame)
        reasons = {}
        kept_by_hash = {}  # hash of a kept column's values -> its positions; equal columns hash equally
        for j, key in enumerate(keys):
            column = frame.iloc[:, j]
            counts = _counts(column)
            if len(counts) <= 1:
                reasons[key] = "constant"
            elif counts.iloc[0] / counts.sum() >= self.near_constant_threshold:
                reasons[key] = "near-constant"
            elif self.drop_duplicates:
                digest = pd.util.hash_pandas_object(column, index=False).to_numpy().tobytes()
                twin = next((i for i in kept_by_hash.get(digest, []) if frame.iloc[:, i].equals(column)), None)
                if twin is None:
                    kept_by_hash.setdefault(digest, []).append(j)
                else:
                    reasons[key] = f"duplicate of {keys[twin]}"
        if len(reasons) == len(keys):
            raise ValueError(
                f"DropUninformativeColumns would drop every column ({reasons}); there is nothing to "
                "learn from. Check the data, or raise near_constant_threshold."
            )
        self.drop_reasons_ = reasons
        self.dropped_columns_ = list(reasons)
        self.support_ = np.array([key not in reasons for key in keys])
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def transform(self, X):
        """Drop the columns found in ``fit``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : DataFrame (for a DataFrame) or ndarray of shape (n_samples, n_kept)
        """
        check_is_fitted(self)
        if is_dataframe(X):
            return validate_table(self, X, reset=False).iloc[:, self.support_].copy()
        return super().transform(X)  # indexing copies: the caller's array is left alone

    def __sklearn_tags__(self):
        return _set_allow_nan(super().__sklearn_tags__())


class OutlierClipper(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Clip numeric columns to bounds learnt from the training data.

    With ``method='iqr'`` the bounds of a column are
    ``[q1 - factor * iqr, q3 + factor * iqr]`` (Tukey's fences); with
    ``method='quantile'`` they are the quantiles in ``quantile_range``.
    Missing values are ignored in ``fit`` and pass through ``transform``
    unchanged; a column with no value at all is not clipped.

    Parameters
    ----------
    method : {'iqr', 'quantile'}, default='iqr'
    factor : float >= 0, default=1.5
        Multiple of the interquartile range beyond the quartiles (``'iqr'`` only).
    quantile_range : tuple of two floats, default=(0.01, 0.99)
        Lower and upper quantile, ``0 <= lower < upper <= 1`` (``'quantile'`` only).

    Attributes
    ----------
    lower_, upper_ : ndarray of shape (n_features_in_,)
        The bounds of each column.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.prep import OutlierClipper
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    >>> clipper = OutlierClipper().fit(X)
    >>> clipper.upper_
    array([7.])
    >>> clipper.transform([[-10.0], [50.0], [np.nan]]).ravel()
    array([-1.,  7., nan])
    """

    _parameter_constraints = {
        "method": [StrOptions({"iqr", "quantile"})],
        "factor": [Interval(Real, 0, None, closed="left")],
        "quantile_range": [tuple, list],
    }

    def __init__(self, method="iqr", factor=1.5, quantile_range=(0.01, 0.99)):
        self.method = method
        self.factor = factor
        self.quantile_range = quantile_range

    def _validate(self, X, reset):
        if is_dataframe(X):
            pd = _pandas()
            other = [name for name, dtype in X.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
            if other:
                raise ValueError(
                    f"OutlierClipper clips numeric columns only; {other} are not numeric. Select the "
                    "numeric columns first, e.g. with ColumnTransformer and "
                    "make_column_selector(dtype_include='number')."
                )
        return validate_data(self, X, reset=reset, dtype=(np.float64, np.float32), ensure_all_finite="allow-nan")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the bounds of each column.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : OutlierClipper
        """
        if len(self.quantile_range) != 2 or not 0 <= self.quantile_range[0] < self.quantile_range[1] <= 1:
            raise ValueError(
                f"quantile_range must be two quantiles 0 <= lower < upper <= 1, got {self.quantile_range!r}."
            )
        X = self._validate(X, reset=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns: handled below
            if self.method == "iqr":
                q1, q3 = np.nanquantile(X, [0.25, 0.75], axis=0)
                lower, upper = q1 - self.factor * (q3 - q1), q3 + self.factor * (q3 - q1)
            else:
                lower, upper = np.nanquantile(X, self.quantile_range, axis=0)
        # No value to learn from: leave the column unclipped (NaN bounds would make np.clip return NaN).
        self.lower_ = np.where(np.isnan(lower), -np.inf, lower)
        self.upper_ = np.where(np.isnan(upper), np.inf, upper)
        return self

    def transform(self, X):
        """Clip each column to its bounds; missing values stay missing.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_clipped : ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        # np.clip returns a new array; casting the bounds keeps float32 input float32.
        return np.clip(X, self.lower_.astype(X.dtype), self.upper_.astype(X.dtype))

    def __sklearn_tags__(self):
        return _set_allow_nan(super().__sklearn_tags__())


class TypedImputer(TransformerMixin, BaseEstimator):
    """Impute each column by its type: numeric, boolean or categorical.

    Column types come from :func:`infer_column_types`. Numeric columns are
    imputed together by ``numeric_strategy`` and come back as float64;
    boolean and categorical columns get their most frequent value (ties: the
    value seen first; or, for
    categorical columns with ``categorical_strategy='constant'``, the string
    ``'missing'``). A column with no value at fit is filled with 0 when
    numeric and with ``'missing'`` otherwise. Every column can be imputed at
    transform, also one that had no missing value at fit.

    Parameters
    ----------
    numeric_strategy : {'median', 'mean', 'iterative'}, default='median'
        ``'iterative'`` models each numeric column from the others with
        scikit-learn's ``IterativeImputer``.
    categorical_strategy : {'most_frequent', 'constant'}, default='most_frequent'
    add_indicator : bool, default=False
        Append a 0/1 column ``<name>_missing`` for each column that had
        missing values at fit.

    Attributes
    ----------
    column_types_ : dict
        Column (DataFrame name or array index) -> ``'numeric'``, ``'boolean'`` or ``'categorical'``.
    numeric_imputer_ : SimpleImputer or IterativeImputer or None
        Fitted on the numeric columns; None when there are none.
    fill_values_ : dict
        Boolean or categorical column -> its fill value.
    indicator_features_ : ndarray of int
        Positions of the columns that get a missing indicator.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoml.prep import TypedImputer
    >>> X = pd.DataFrame({"age": [20.0, None, 40.0], "city": ["a", "a", None]})
    >>> imputer = TypedImputer(add_indicator=True).fit(X)
    >>> imputer.column_types_
    {'age': 'numeric', 'city': 'categorical'}
    >>> imputer.transform(X)
        age city  age_missing  city_missing
    0  20.0    a          0.0           0.0
    1  30.0    a          1.0           0.0
    2  40.0    a          0.0           1.0
    """

    _parameter_constraints = {
        "numeric_strategy": [StrOptions({"median", "mean", "iterative"})],
        "categorical_strategy": [StrOptions({"most_frequent", "constant"})],
        "add_indicator": ["boolean"],
    }

    def __init__(self, numeric_strategy="median", categorical_strategy="most_frequent", add_indicator=False):
        self.numeric_strategy = numeric_strategy
        self.categorical_strategy = categorical_strategy
        self.add_indicator = add_indicator

    def _numeric_positions(self):
        return [j for j, kind in enumerate(self.column_types_.values()) if kind == "numeric"]

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the column types and the fill values.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : TypedImputer
        """
        frame = _as_frame(validate_table(self, X, reset=True))
        _check_cells(frame)
        self.column_types_ = dict(zip(_keys(self), infer_column_types(frame).values()))
        numeric = self._numeric_positions()
        self.numeric_imputer_ = None
        if numeric:
            if self.numeric_strategy == "iterative":
                from sklearn.experimental import enable_iterative_imputer  # noqa: F401
                from sklearn.impute import IterativeImputer

                imputer = IterativeImputer(keep_empty_features=True)
            else:
                imputer = SimpleImputer(strategy=self.numeric_strategy, keep_empty_features=True)
            # keep_empty_features fills an all-missing numeric column with 0; set_output keeps
            # arrays inside whatever the global output config.
            self.numeric_imputer_ = imputer.set_output(transform="default").fit(_numeric_block(frame, numeric))
        self.fill_values_ = {}
        for j, (key, kind) in enumerate(self.column_types_.items()):
            if kind == "numeric":
                continue
            counts = _counts(frame.iloc[:, j])
            use_mode = len(counts) and (kind == "boolean" or self.categorical_strategy == "most_frequent")
            self.fill_values_[key] = counts.index[0] if use_mode else "missing"
        had_missing = frame.isna().any().to_numpy()
        self.indicator_features_ = np.flatnonzero(had_missing) if self.add_indicator else np.array([], dtype=int)
        return self

    def transform(self, X):
        """Fill the missing values, and append the indicators.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        X_imputed : DataFrame (for a DataFrame) or ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self)
        X = validate_table(self, X, reset=False)
        pd = _pandas()
        frame = _as_frame(X).copy()  # our own copy: the caller's data is never changed
        missing = frame.isna().to_numpy()
        numeric = self._numeric_positions()
        if numeric:
            imputed = self.numeric_imputer_.transform(_numeric_block(frame, numeric))
            for k, j in enumerate(numeric):
                frame.isetitem(j, imputed[:, k])
        for j, (key, kind) in enumerate(self.column_types_.items()):
            if kind == "numeric" or not missing[:, j].any():
                continue
            column, fill = frame.iloc[:, j], self.fill_values_[key]
            if isinstance(column.dtype, pd.CategoricalDtype) and fill not in column.cat.categories:
                column = column.cat.add_categories([fill])
            frame.isetitem(j, column.fillna(fill))
        if len(self.indicator_features_):
            names = self.get_feature_names_out()[self.n_features_in_ :]
            flags = missing[:, self.indicator_features_].astype(float)
            indicators = pd.DataFrame(flags, columns=names, index=frame.index)
            frame = pd.concat([frame, indicators], axis=1)
        return frame if is_dataframe(X) else frame.to_numpy()

    def get_feature_names_out(self, input_features=None):
        """The input names, then ``<name>_missing`` for each indicator.

        Parameters
        ----------
        input_features : array-like of str, default=None

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = _input_names(self, input_features)
        return np.concatenate([names, [f"{name}_missing" for name in names[self.indicator_features_]]]).astype(object)

    def __sklearn_tags__(self):
        return _set_allow_nan(super().__sklearn_tags__())


class RareCategoryEncoder(TransformerMixin, BaseEstimator):
    """Group rare categories into one, then one-hot or ordinal encode.

    In a DataFrame, the categorical columns (see :func:`infer_column_types`:
    object, string and category dtypes) are encoded and the others pass
    through unchanged after them; in an array every column is categorical.
    Categories seen less than ``min_frequency`` in ``fit`` form one rare
    category (scikit-learn's infrequent category, named
    ``<column>_infrequent_sklearn`` in one-hot output). This is scikit-learn's
    ``OneHotEncoder`` / ``OrdinalEncoder`` in a ``ColumnTransformer``.

    Parameters
    ----------
    min_frequency : float in (0, 1) or int >= 1, default=0.05
        Share (float) or count (int) of rows below which a category is rare.
    encoding : {'onehot', 'ordinal'}, default='onehot'
        One 0/1 column per category, or one column of codes per column (the
        rare category gets the last code; missing values stay NaN).
    handle_unknown : {'rare', 'error'}, default='rare'
        ``'rare'``: a category unseen in ``fit`` is encoded as the rare
        category of its column; when that column has no rare category, it
        becomes all zeros (one-hot) or -1 (ordinal). ``'error'``: raise.

    Attributes
    ----------
    categorical_features_ : ndarray of int
        Positions of the encoded columns.
    column_transformer_ : ColumnTransformer
        The fitted encoder (named ``'encoder'``) and the passthrough.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoml.prep import RareCategoryEncoder
    >>> X = pd.DataFrame({"colour": ["red"] * 4 + ["blue", "green"], "size": [1, 2, 3, 4, 5, 6]})
    >>> encoder = RareCategoryEncoder(min_frequency=2).fit(X)
    >>> list(encoder.get_feature_names_out())
    ['colour_red', 'colour_infrequent_sklearn', 'size']
    >>> encoder.transform(pd.DataFrame({"colour": ["red", "pink"], "size": [0, 0]}))
    array([[1., 0., 0.],
           [0., 1., 0.]])
    """

    _parameter_constraints = {
        "min_frequency": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="neither")],
        "encoding": [StrOptions({"onehot", "ordinal"})],
        "handle_unknown": [StrOptions({"rare", "error"})],
    }

    def __init__(self, min_frequency=0.05, encoding="onehot", handle_unknown="rare"):
        self.min_frequency = min_frequency
        self.encoding = encoding
        self.handle_unknown = handle_unknown

    def _encoder(self):
        if self.encoding == "onehot":
            unknown = "infrequent_if_exist" if self.handle_unknown == "rare" else "error"
            return OneHotEncoder(min_frequency=self.min_frequency, handle_unknown=unknown, sparse_output=False)
        if self.handle_unknown == "rare":  # -1 marks unknowns; transform moves them to the rare code
            return OrdinalEncoder(min_frequency=self.min_frequency, handle_unknown="use_encoded_value", unknown_value=-1)
        return OrdinalEncoder(min_frequency=self.min_frequency)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Learn the categories of each categorical column.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : RareCategoryEncoder
        """
        X = validate_table(self, X, reset=True)
        if is_dataframe(X):
            kinds = infer_column_types(X).values()
            self.categorical_features_ = np.array([j for j, k in enumerate(kinds) if k == "categorical"], dtype=int)
        else:
            self.categorical_features_ = np.arange(X.shape[1])
        self.column_transformer_ = ColumnTransformer(
            [("encoder", self._encoder(), self.categorical_features_)],
            remainder="passthrough",
            verbose_feature_names_out=False,
        ).set_output(transform="default")  # arrays inside, whatever the global output config
        self.column_transformer_.fit(X)
        return self

    def transform(self, X):
        """Encode the categorical columns; the others pass through after them.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        X_encoded : ndarray of shape (n_samples, n_features_out)
        """
        check_is_fitted(self)
        X = validate_table(self, X, reset=False)
        out = self.column_transformer_.transform(X)
        if self.encoding == "ordinal" and self.handle_unknown == "rare" and len(self.categorical_features_):
            encoder = self.column_transformer_.named_transformers_["encoder"]
            for k, (categories, rare) in enumerate(zip(encoder.categories_, encoder.infrequent_categories_)):
                if rare is not None:  # the rare code is the one after the frequent categories
                    out[out[:, k] == -1, k] = len(categories) - len(rare)
        return out

    def get_feature_names_out(self, input_features=None):
        """Names of the encoded columns, then of the passthrough columns.

        Parameters
        ----------
        input_features : array-like of str, default=None

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        return self.column_transformer_.get_feature_names_out(_input_names(self, input_features))

    def __sklearn_tags__(self):
        return _set_allow_nan(super().__sklearn_tags__())
