"""Datetime columns as numbers: the parts of a date a model can split on, and the time itself."""
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._utils._compat import _fit_context
from .._utils._validation import is_dataframe, validate_table
from ._cleaning import _input_names

#: The parts of a date ``DatetimeEncoder`` can extract.
PARTS = ("year", "month", "day", "weekday", "hour")
#: The ``Series.dt`` accessor of each part (0 is Monday).
_ACCESSORS = {"year": "year", "month": "month", "day": "day", "weekday": "day_of_week", "hour": "hour"}


class DatetimeEncoder(TransformerMixin, BaseEstimator):
    """Replace each datetime column of a DataFrame by numeric columns: its parts and its time in seconds.

    A model cannot use a date as a category (every date is new) nor as
    text; it can use the year, the month, the day of the month, the day of
    the week (0 is Monday), the hour, and the time itself. For each ``datetime64`` column
    (time-zone aware ones included) ``fit`` keeps the ``parts`` that vary in
    the training data (an hour that is always 0 says nothing), and
    ``transform`` puts ``<column>_<part>`` and ``<column>_seconds`` (seconds
    since 1970, float) in its place. Missing dates (``NaT``) give NaN, for an
    imputer after it. Other columns pass through unchanged, in their order,
    and a DataFrame stays a DataFrame (dtypes matter to what comes next);
    an array holds no datetime dtype and passes through as it is. With a
    datetime column, every output column name is a string: the names of
    ``get_feature_names_out``, so columns not all labelled by strings come
    out as ``x0``, ``x1_year``, ... as scikit-learn names unnamed columns.

    Parameters
    ----------
    parts : tuple of str, default=PARTS
        Which of ``'year'``, ``'month'``, ``'day'``, ``'weekday'``, ``'hour'`` to extract.

    Attributes
    ----------
    datetime_columns_ : list of str
        The datetime columns found in ``fit``.
    parts_ : dict
        Column -> the parts kept for it.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only for a DataFrame.

    Examples
    --------
    >>> import pandas as pd
    >>> from skautoml.prep import DatetimeEncoder
    >>> X = pd.DataFrame({"when": pd.to_datetime(["2024-01-31", "2024-03-02", None]), "n": [1, 2, 3]})
    >>> DatetimeEncoder().fit_transform(X).columns.tolist()   # one year: no when_year
    ['when_month', 'when_day', 'when_weekday', 'when_seconds', 'n']
    >>> DatetimeEncoder().fit_transform(X)["when_month"].tolist()
    [1.0, 3.0, nan]
    """

    _parameter_constraints = {"parts": [tuple, list]}

    def __init__(self, parts=PARTS):
        self.parts = parts

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find the datetime columns and the parts of each that vary.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : DatetimeEncoder
        """
        unknown = [p for p in self.parts if p not in PARTS]
        if unknown:
            raise ValueError(f"parts must be among {PARTS}; got {unknown}.")
        X = validate_table(self, X, reset=True)
        self.datetime_columns_, self.parts_ = [], {}
        self._parts_by_position = [None] * self.n_features_in_  # the names out follow positions, whatever the labels
        if not is_dataframe(X):
            return self
        import pandas as pd  # a DataFrame came in, so pandas is there

        for position, name in enumerate(X.columns):
            if pd.api.types.is_datetime64_any_dtype(X[name].dtype):
                self.datetime_columns_.append(name)
                self.parts_[name] = [p for p in self.parts if getattr(X[name].dt, _ACCESSORS[p]).nunique() > 1]
                self._parts_by_position[position] = self.parts_[name]
        return self

    def transform(self, X):
        """Put the parts and the seconds of each datetime column in its place.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        DataFrame or ndarray
            A new DataFrame when ``X`` is one (``X`` itself is not changed), else ``X`` validated.
        """
        check_is_fitted(self)
        X = validate_table(self, X, reset=False)
        if not self.datetime_columns_:
            return X
        import pandas as pd

        columns = []  # (name, values); the new names are strings, so all are (scikit-learn needs one kind)
        labels = _input_names(self, None)  # as get_feature_names_out names them: x0, x1... for unnamed columns
        for name, label, parts in zip(X.columns, labels, self._parts_by_position):
            if parts is None:
                columns.append((str(label), X[name]))
                continue
            dates = pd.to_datetime(X[name])
            for part in parts:
                columns.append((f"{label}_{part}", getattr(dates.dt, _ACCESSORS[part]).astype(float)))
            if dates.dt.tz is not None:
                dates = dates.dt.tz_convert("UTC").dt.tz_localize(None)
            columns.append((f"{label}_seconds", (dates - pd.Timestamp(0)).dt.total_seconds().astype(float)))
        names = [name for name, _ in columns]
        clashing = sorted({name for name in names if names.count(name) > 1})
        if clashing:
            raise ValueError(
                f"DatetimeEncoder's new columns {clashing} have the names of other columns; rename those columns."
            )
        return pd.DataFrame(dict(columns), index=X.index)

    def get_feature_names_out(self, input_features=None):
        """The output columns: each datetime column's parts and seconds in its place, the others as they were."""
        check_is_fitted(self)
        out = []
        for name, parts in zip(_input_names(self, input_features), self._parts_by_position):
            if parts is not None:
                out += [f"{name}_{part}" for part in parts] + [f"{name}_seconds"]
            else:
                out.append(str(name))
        return np.asarray(out, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        return tags
