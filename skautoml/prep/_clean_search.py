"""Automatic cleaning: one transformer with sensible defaults, and a grid search over cleanings.

``AutoCleaner`` chains the cleaning transformers of :mod:`skautoml.prep` in a
scikit-learn ``Pipeline``. ``CleaningSearch`` is scikit-learn's ``GridSearchCV``
over a fixed grid of cleaning settings (by default 24 combinations) in an
imbalanced-learn ``Pipeline`` ``(cleaner, sampler, estimator)``: it keeps the
combination with the best cross-validated score of the downstream model.
"""
import re
from numbers import Integral, Real

import numpy as np
from imblearn.pipeline import Pipeline as SamplerPipeline
from sklearn.base import BaseEstimator, MetaEstimatorMixin, TransformerMixin, clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from .._utils._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from .._utils._validation import is_dataframe, validate_table
from ._cleaning import (
    DropUninformativeColumns,
    OutlierClipper,
    RareCategoryEncoder,
    TypedImputer,
    _input_names,
    _pandas,
    infer_column_types,
)
from ._samplers import DuplicateRowRemover, OutlierRowRemover

__all__ = ["AutoCleaner", "CleaningSearch"]


class AutoCleaner(TransformerMixin, BaseEstimator):
    """Clean a table in one step: impute, drop useless columns, encode, clip.

    ``fit`` builds and fits a scikit-learn :class:`~sklearn.pipeline.Pipeline`
    (``pipeline_``) of

    1. ``'imputer'``: :class:`TypedImputer` (numeric columns by
       ``numeric_strategy``, the others by their most frequent value),
    2. ``'dropper'``: :class:`DropUninformativeColumns` (constant,
       near-constant and duplicate columns),
    3. ``'encoder'``: :class:`RareCategoryEncoder` (categorical columns;
       rare and unknown categories share one code),
    4. ``'clipper'``: :class:`OutlierClipper` with Tukey's fences, only when
       ``clip_outliers``. Only the numeric columns are clipped: 0/1 columns,
       missing indicators and category codes keep infinite bounds.

    Column types come from :func:`infer_column_types`. An array is cleaned as
    a table of columns ``x0, x1, ...`` (object arrays get a dtype per column),
    so a numeric array is imputed, pruned and clipped, never one-hot encoded.
    The output is a float array, or a DataFrame under
    ``set_output(transform="pandas")``, which also applies to ``pipeline_``.

    Parameters
    ----------
    numeric_strategy : {'median', 'mean', 'iterative'}, default='median'
        How numeric columns are imputed (see :class:`TypedImputer`).
    add_indicator : bool, default=False
        Append a 0/1 ``<name>_missing`` column for each column that had
        missing values at fit.
    near_constant_threshold : float in (0, 1], default=1.0
        Share of the most frequent value at which a column is dropped; 1.0
        drops constant columns only.
    rare_min_frequency : float in (0, 1) or int >= 1, default=0.05
        Share (float) or count (int) of rows below which a category is rare.
    encoding : {'onehot', 'ordinal'}, default='onehot'
        How categorical columns are encoded (see :class:`RareCategoryEncoder`).
    clip_outliers : bool, default=True
        Clip numeric columns to ``[q1 - 1.5 iqr, q3 + 1.5 iqr]`` of the training data.

    Attributes
    ----------
    pipeline_ : Pipeline
        The fitted steps ``'imputer'``, ``'dropper'``, ``'encoder'`` and, with
        ``clip_outliers``, ``'clipper'``.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skautoml.prep import AutoCleaner
    >>> X = pd.DataFrame({
    ...     "age": [20.0, np.nan, 40.0, 30.0, 25.0, 35.0, 300.0],
    ...     "city": ["a", "a", None, "b", "a", "b", "a"],
    ...     "country": ["fr"] * 7,
    ... })
    >>> cleaner = AutoCleaner(rare_min_frequency=2).set_output(transform="pandas")
    >>> cleaner.fit_transform(X)
       city_a  city_b   age
    0     1.0     0.0  20.0
    1     1.0     0.0  32.5
    2     1.0     0.0  40.0
    3     0.0     1.0  30.0
    4     1.0     0.0  25.0
    5     0.0     1.0  35.0
    6     1.0     0.0  52.5
    >>> cleaner.pipeline_["dropper"].drop_reasons_
    {'country': 'constant'}
    """

    _parameter_constraints = {
        "numeric_strategy": [StrOptions({"median", "mean", "iterative"})],
        "add_indicator": ["boolean"],
        "near_constant_threshold": [Interval(Real, 0, 1, closed="right")],
        "rare_min_frequency": [Interval(Integral, 1, None, closed="left"), Interval(Real, 0, 1, closed="neither")],
        "encoding": [StrOptions({"onehot", "ordinal"})],
        "clip_outliers": ["boolean"],
    }

    def __init__(
        self,
        numeric_strategy="median",
        add_indicator=False,
        near_constant_threshold=1.0,
        rare_min_frequency=0.05,
        encoding="onehot",
        clip_outliers=True,
    ):
        self.numeric_strategy = numeric_strategy
        self.add_indicator = add_indicator
        self.near_constant_threshold = near_constant_threshold
        self.rare_min_frequency = rare_min_frequency
        self.encoding = encoding
        self.clip_outliers = clip_outliers

    def _frame(self, X, *, reset):
        """``X`` validated, as a DataFrame with string column names (``x0, x1, ...`` when it had none)."""
        if is_dataframe(X):
            frame = validate_table(self, X, reset=reset)
        else:
            X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite="allow-nan")
            frame = _pandas().DataFrame(X).infer_objects()  # object arrays: a dtype per column
        if not hasattr(self, "feature_names_in_"):
            frame = frame.set_axis([f"x{i}" for i in range(frame.shape[1])], axis=1)  # a new frame
        return frame

    def _propagate_output(self):
        # set_output's choice (kept by scikit-learn's mixin, also through clone) goes to the steps.
        transform = getattr(self, "_sklearn_output_config", {}).get("transform")
        self.pipeline_.set_output(transform=transform)
        if self.clip_outliers:  # the clipper was fitted on the encoder's arrays: keep them arrays
            self.pipeline_["encoder"].set_output(transform="default")

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Build and fit the cleaning pipeline.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : AutoCleaner
        """
        frame = self._frame(X, reset=True)
        steps = [
            ("imputer", TypedImputer(numeric_strategy=self.numeric_strategy, add_indicator=self.add_indicator)),
            ("dropper", DropUninformativeColumns(near_constant_threshold=self.near_constant_threshold)),
            ("encoder", RareCategoryEncoder(min_frequency=self.rare_min_frequency, encoding=self.encoding)),
        ]
        if self.clip_outliers:
            steps.append(("clipper", OutlierClipper()))
        self.pipeline_ = Pipeline(steps)
        self._propagate_output()
        if not self.clip_outliers:
            self.pipeline_.fit(frame)
            return self
        # Fit step by step: the clipper must know which of the encoder's outputs are numeric.
        kept = self.pipeline_[:2].fit_transform(frame)  # a DataFrame: the column types survive
        encoder = self.pipeline_["encoder"].fit(kept)
        encoded = encoder.transform(kept)
        kinds = infer_column_types(kept)
        passthrough = [name for j, name in enumerate(kept.columns) if j not in set(encoder.categorical_features_)]
        numeric = np.r_[
            np.zeros(encoded.shape[1] - len(passthrough), dtype=bool),  # the encoder's columns come first
            np.array([kinds[name] == "numeric" for name in passthrough], dtype=bool),
        ]
        clipper = self.pipeline_["clipper"].fit(encoded)
        clipper.lower_[~numeric] = -np.inf
        clipper.upper_[~numeric] = np.inf
        return self

    def transform(self, X):
        """Clean ``X`` with the fitted pipeline.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        X_clean : ndarray of shape (n_samples, n_features_out)
            A DataFrame under ``set_output(transform="pandas")``.
        """
        check_is_fitted(self)
        return self.pipeline_.transform(self._frame(X, reset=False))

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns.

        Parameters
        ----------
        input_features : array-like of str, default=None

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = _input_names(self, input_features)  # validated against what fit saw
        inner = self.pipeline_.get_feature_names_out()
        if hasattr(self, "feature_names_in_"):
            return inner
        # Fitted without column names: the steps saw x0, x1, ...; put the given names in their place.
        renamed = []
        for name in inner:
            position, suffix = re.fullmatch(r"x(\d+)(.*)", name).groups()
            renamed.append(f"{names[int(position)]}{suffix}")
        return np.asarray(renamed, dtype=object)

    def set_output(self, *, transform=None):
        """Set the output container of ``transform``, here and in ``pipeline_``.

        Parameters
        ----------
        transform : {'default', 'pandas', 'polars'} or None, default=None

        Returns
        -------
        self : AutoCleaner
        """
        super().set_output(transform=transform)
        if hasattr(self, "pipeline_"):
            self._propagate_output()
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


_STEP_NAMES = ("cleaner", "sampler", "estimator")


def _best_has(attr):
    """``available_if`` check: the fitted best pipeline, else the given estimator, has ``attr``."""

    def check(self):
        if hasattr(self, "best_pipeline_"):
            return hasattr(self.best_pipeline_, attr)
        return hasattr(self.estimator, attr)

    return check


class CleaningSearch(MetaEstimatorMixin, BaseEstimator):
    """Grid search over a fixed set of cleaning settings, scored by a downstream model.

    A thin wrapper around scikit-learn's
    :class:`~sklearn.model_selection.GridSearchCV`: every combination in
    ``param_grid`` (by default the 24 listed below) is set on the
    imbalanced-learn :class:`~imblearn.pipeline.Pipeline`
    ``[('cleaner', AutoCleaner()), ('sampler', 'passthrough'),
    ('estimator', estimator)]`` and scored by the mean ``scoring`` over the
    ``cv`` folds; the best combination (the first one among ties) is refitted
    on all the data. Nothing is learned across combinations: each is scored
    on its own, and the grid is only as good as the combinations it lists. A
    sampler removes rows of the training folds only, never at predict time.
    Fits that fail score NaN (with a warning) and lose.

    Not implemented: BoostClean (boosting over models trained on data
    cleaned in different ways) and AlphaClean (an adaptive search over a
    space of cleaning programs).

    Parameters
    ----------
    estimator : estimator with ``fit`` and ``predict``
        The downstream model; cloned.
    param_grid : dict or list of dicts, default=None
        A grid over the pipeline's steps, as for ``GridSearchCV``: keys
        ``'cleaner__<AutoCleaner parameter>'``, ``'sampler'`` (a sampler, or
        ``'passthrough'`` for none), ``'sampler__<parameter>'`` and
        ``'estimator__<parameter>'``. None means these 2 x 2 x 2 x 3 = 24
        combinations (imputation by median or ``IterativeImputer``, with or
        without missing-value indicators, with or without Tukey clipping of
        outliers; no row removal, duplicate rows removed, or outlier rows
        removed by an isolation forest)::

            {"cleaner__numeric_strategy": ["median", "iterative"],
             "cleaner__add_indicator": [False, True],
             "cleaner__clip_outliers": [True, False],
             "sampler": ["passthrough", DuplicateRowRemover(),
                         OutlierRowRemover(random_state=random_state)]}

    cv : int, cross-validation generator or iterable, default=5
        As in ``GridSearchCV``: an int gives stratified folds for a classifier.
    scoring : str, callable or None, default=None
        As in ``GridSearchCV``; None uses the estimator's ``score``
        (accuracy for a classifier, R² for a regressor).
    n_jobs : int or None, default=None
        Fits run in parallel through joblib.
    random_state : int, RandomState instance or None, default=None
        Seeds the ``OutlierRowRemover`` of the default grid.

    Attributes
    ----------
    best_params_ : dict
        The best combination.
    best_score_ : float
        Its mean cross-validated score.
    best_pipeline_ : imblearn.pipeline.Pipeline
        The pipeline with the best combination, refitted on all the data.
    cv_results_ : dict of ndarrays
        Every combination tried with its scores, as ``GridSearchCV.cv_results_``
        (``pandas.DataFrame(search.cv_results_)`` is a table).
    classes_ : ndarray of shape (n_classes,)
        The class labels, for a classifier.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skautoml.prep import CleaningSearch
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 2))
    >>> y = (X[:, 0] > 0).astype(int)
    >>> X[::10, 0] = 1e6                      # corrupted readings
    >>> X[::7, 1] = np.nan
    >>> search = CleaningSearch(
    ...     LogisticRegression(), param_grid={"cleaner__clip_outliers": [False, True]}, cv=3
    ... ).fit(X, y)
    >>> search.best_params_
    {'cleaner__clip_outliers': True}
    >>> len(search.cv_results_["params"])
    2
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict"])],
        "param_grid": [dict, list, None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(self, estimator, param_grid=None, cv=5, scoring=None, n_jobs=None, random_state=None):
        self.estimator = estimator
        self.param_grid = param_grid
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _pipeline(self):
        return SamplerPipeline(
            [("cleaner", AutoCleaner()), ("sampler", "passthrough"), ("estimator", clone(self.estimator))]
        )

    def _grid(self, pipeline):
        if self.param_grid is None:
            return {
                "cleaner__numeric_strategy": ["median", "iterative"],
                "cleaner__add_indicator": [False, True],
                "cleaner__clip_outliers": [True, False],
                "sampler": ["passthrough", DuplicateRowRemover(), OutlierRowRemover(random_state=self.random_state)],
            }
        grids = [self.param_grid] if isinstance(self.param_grid, dict) else list(self.param_grid)
        for grid in grids:
            if not isinstance(grid, dict) or not grid:
                raise ValueError(f"param_grid must be a non-empty dict or a list of them, got {self.param_grid!r}.")
            for key, values in grid.items():
                if not isinstance(key, str) or key.split("__")[0] not in _STEP_NAMES:
                    raise ValueError(
                        f"param_grid key {key!r} names no step: use 'cleaner__<parameter>', 'sampler', "
                        "'sampler__<parameter>' or 'estimator__<parameter>'."
                    )
                if isinstance(values, str) or not hasattr(values, "__len__") or len(values) == 0:
                    raise ValueError(f"param_grid[{key!r}] must be a non-empty list of values, got {values!r}.")
            # Unknown parameter names fail here, with scikit-learn's message, rather than in every fit.
            clone(pipeline).set_params(**{key: values[0] for key, values in grid.items()})
        return self.param_grid

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator and grid values are validated in fit
    def fit(self, X, y, **fit_params):
        """Score every combination by cross-validation and refit the best.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        **fit_params : dict
            Passed to the pipeline's ``fit``, e.g. ``estimator__sample_weight``.

        Returns
        -------
        self : CleaningSearch
        """
        if y is None:
            raise ValueError(f"{type(self).__name__} requires y to be passed, but the target y is None.")
        pipeline = self._pipeline()
        search = GridSearchCV(
            pipeline, self._grid(pipeline), cv=self.cv, scoring=self.scoring, n_jobs=self.n_jobs, refit=True
        ).fit(X, y, **fit_params)
        self.best_params_ = search.best_params_
        self.best_score_ = search.best_score_
        self.best_pipeline_ = search.best_estimator_
        self.cv_results_ = search.cv_results_
        cleaner = self.best_pipeline_["cleaner"]
        self.n_features_in_ = cleaner.n_features_in_
        if hasattr(cleaner, "feature_names_in_"):
            self.feature_names_in_ = cleaner.feature_names_in_
        if hasattr(self.best_pipeline_, "classes_"):
            self.classes_ = self.best_pipeline_.classes_
        return self

    def predict(self, X):
        """Predict with the best pipeline.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        return self.best_pipeline_.predict(X)

    @available_if(_best_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the best pipeline.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self.best_pipeline_.predict_proba(X)

    def score(self, X, y, sample_weight=None):
        """Score of the best pipeline on ``(X, y)``, by the estimator's ``score``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        params = {} if sample_weight is None else {"sample_weight": sample_weight}
        return self.best_pipeline_.score(X, y, **params)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator)
        tags.estimator_type = inner.estimator_type
        tags.classifier_tags = inner.classifier_tags
        tags.regressor_tags = inner.regressor_tags
        tags.target_tags.required = True
        tags.input_tags.allow_nan = True  # the cleaner imputes
        return tags
