"""Feature construction: build new columns from pairs (or groups) of columns, keep those that help.

``FeatureConstructor`` generates candidate features with arithmetic, boolean
and nominal operations, ranks them by how well they track what the current
model gets wrong, and adds them one at a time while the cross-validated score
of a downstream estimator improves. A constructed feature is an
:class:`Expression`, a small value (operation, input columns) that
``transform`` recomputes on new data and that names itself (``x0*x3``).
"""
import re
import warnings
from dataclasses import dataclass, field, replace
from itertools import combinations, islice
from numbers import Integral, Number, Real
from types import MappingProxyType

import numpy as np
from joblib import Parallel, delayed
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone, is_classifier
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import check_scoring
from sklearn.model_selection import KFold, StratifiedKFold, check_cv, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, RobustScaler, TargetEncoder
from sklearn.utils import check_array, check_random_state, column_or_1d
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .._utils._random import SEED_MAX
from .._utils._compat import HasMethods, Interval, StrOptions, _fit_context, _safe_indexing, validate_data
from .._utils._validation import IMPUTE_ADVICE, is_dataframe

__all__ = ["OPERATIONS", "Expression", "FeatureConstructor"]

OPERATIONS = MappingProxyType(
    {
        "sum": "a+b (numeric)",
        "difference": "a-b (numeric)",
        "product": "a*b (numeric)",
        "ratio": "a/b, 0 where b == 0 (numeric)",
        "min": "min(a,b) (numeric)",
        "max": "max(a,b) (numeric)",
        "mean": "mean(a,b) = (a+b)/2 (numeric)",
        "log": "log(a) = sign(a) * log(1 + |a|) (numeric)",
        "square": "a^2 (numeric)",
        "and": "a & b (boolean)",
        "or": "a | b (boolean)",
        "not": "~a (boolean); also lets and, or, m_of_n use negated inputs",
        "cartesian": "cross(a,b): target encoding of the pair of categories (categorical)",
        "m_of_n": "M-of(a,b,c,...): 1 when at least M of the inputs are true (boolean)",
    }
)
"""Operation name -> what it computes and on which column kind."""

_UNARY = ("log", "square", "not")
_BINARY_NUMERIC = ("sum", "difference", "product", "ratio", "min", "max", "mean")
_INFIX = {"sum": "+", "difference": "-", "product": "*", "ratio": "/", "and": " & ", "or": " | "}
# Values of arithmetic features are clipped here, so that they and their squares
# (a scaler's variance) stay finite whatever the input.
_BOUND = 1e150
_MAX_M_OF_N = 5  # largest N of the M-of-N candidates
_CHUNK = 256  # candidates scored at once: bounds the memory of the ranking
_PLAIN_NAME = re.compile(r"^[\w.\[\]]+$")



def _operand(name, negated=False):
    """A name ready to sit next to an operator: parenthesised unless it is a plain word."""
    name = name if _PLAIN_NAME.match(name) else f"({name})"
    return f"~{name}" if negated else name


def _pandas():
    import pandas  # only reached with DataFrame input, so pandas is installed

    return pandas


class _Table:
    """Validated input: float values of the numeric and boolean columns, string keys of the categorical ones."""

    def __init__(self, values, keys):
        self.values = values  # (n_samples, n_features) float64; categorical columns hold 0
        self.keys = keys  # column position -> ndarray of str

    @property
    def n_samples(self):
        return self.values.shape[0]


def _category_keys(column):
    """One string per cell, equal for equal categories (numbers compare as floats: 1 and 1.0 match)."""
    cells = np.asarray(column, dtype=object)
    try:
        return cells.astype(np.float64).astype(str)
    except (TypeError, ValueError):
        return cells.astype(str)


@dataclass(frozen=True)
class Expression:
    """One constructed feature: an operation applied to input columns.

    A plain, hashable value (the fitted encoder of ``'cartesian'`` does not
    take part in comparisons), so ``transform`` can recompute it on new data.
    See :data:`OPERATIONS` for what each operation computes.

    Parameters
    ----------
    operation : str
        A key of :data:`OPERATIONS`.
    inputs : tuple of int
        Positions of the input columns: one for ``'log'``, ``'square'`` and
        ``'not'``, two or more for ``'m_of_n'``, two otherwise.
    negated : tuple of bool, default=()
        For ``'and'``, ``'or'`` and ``'m_of_n'``: which inputs enter negated
        (``~x``); empty means none.
    m : int, default=0
        The M of ``'m_of_n'``: how many inputs must be true.
    encoder : TargetEncoder, default=None
        The fitted encoder of a ``'cartesian'`` feature (set by
        :class:`FeatureConstructor`).

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.features import Expression
    >>> X = np.array([[2.0, 3.0, 1.0], [-1.0, 0.0, 0.0]])
    >>> ratio = Expression("ratio", (0, 1))
    >>> ratio.names(["a", "b", "c"]), ratio.evaluate(X).ravel().tolist()
    (['a/b'], [0.6666666666666666, 0.0])
    >>> Expression("m_of_n", (0, 1, 2), m=2).evaluate(X).ravel().tolist()
    [1.0, 0.0]
    """

    operation: str
    inputs: tuple
    negated: tuple = ()
    m: int = 0
    encoder: object = field(default=None, compare=False, repr=False)

    def __post_init__(self):
        if self.operation not in OPERATIONS:
            raise ValueError(f"Unknown operation {self.operation!r}; valid operations are {sorted(OPERATIONS)}.")
        n = len(self.inputs)
        if self.operation in _UNARY:
            ok = n == 1
        elif self.operation == "m_of_n":
            ok = n >= 2 and 1 <= self.m <= n
        else:
            ok = n == 2
        if not ok:
            raise ValueError(f"Operation {self.operation!r} cannot take inputs {self.inputs} (m={self.m}).")
        if self.negated and (len(self.negated) != n or self.operation not in ("and", "or", "m_of_n")):
            raise ValueError(f"negated={self.negated} does not fit operation {self.operation!r} on {n} inputs.")

    @property
    def n_outputs(self):
        """Number of columns: one, except ``'cartesian'`` for a multiclass target (one per class)."""
        if self.operation == "cartesian" and getattr(self.encoder, "target_type_", "") == "multiclass":
            return len(self.encoder.classes_)
        return 1

    def names(self, feature_names):
        """Readable names of the output columns, such as ``['x0*x3']``.

        Parameters
        ----------
        feature_names : sequence of str
            Names of the input columns.

        Returns
        -------
        list of str
        """
        names = [str(feature_names[j]) for j in self.inputs]
        negated = self.negated or (False,) * len(names)
        op = self.operation
        if op in ("sum", "difference", "product", "ratio"):
            name = _operand(names[0]) + _INFIX[op] + _operand(names[1])
        elif op in ("and", "or"):
            name = _operand(names[0], negated[0]) + _INFIX[op] + _operand(names[1], negated[1])
        elif op in ("min", "max", "mean", "log"):
            name = f"{op}({','.join(names)})"
        elif op == "square":
            name = f"{_operand(names[0])}^2"
        elif op == "not":
            name = _operand(names[0], True)
        elif op == "m_of_n":
            name = f"{self.m}-of({','.join(_operand(n, neg) if neg else n for n, neg in zip(names, negated))})"
        else:  # cartesian
            name = f"cross({','.join(names)})"
            if self.n_outputs > 1:
                return [f"{name}[{label}]" for label in self.encoder.classes_]
        return [name]

    def evaluate(self, X):
        """Compute the feature.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric columns for the arithmetic and boolean operations (a
            boolean value is true when nonzero); any values for
            ``'cartesian'``, whose encoder must be fitted.

        Returns
        -------
        ndarray of shape (n_samples, n_outputs), float64
            Always finite.
        """
        table = X if isinstance(X, _Table) else self._as_table(X)
        op = self.operation
        if op == "cartesian":
            if self.encoder is None:
                raise ValueError("A 'cartesian' expression needs its fitted encoder; FeatureConstructor fits it.")
            encoded = self.encoder.transform(_pair_keys(table, *self.inputs))
            return encoded.astype(np.float64).reshape(table.n_samples, -1)
        cols = [table.values[:, j] for j in self.inputs]
        if op in ("and", "or", "not", "m_of_n"):
            negated = self.negated or (False,) * len(cols)
            literals = [(c != 0) ^ neg for c, neg in zip(cols, negated)]
            if op == "and":
                out = literals[0] & literals[1]
            elif op == "or":
                out = literals[0] | literals[1]
            elif op == "not":
                out = ~literals[0]
            else:
                out = np.sum(literals, axis=0) >= self.m
            return out.astype(np.float64)[:, np.newaxis]
        a = cols[0]
        b = cols[1] if len(cols) > 1 else None
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if op == "sum":
                out = a + b
            elif op == "difference":
                out = a - b
            elif op == "product":
                out = a * b
            elif op == "ratio":
                out = np.divide(a, b, out=np.zeros_like(a), where=b != 0)
            elif op == "min":
                out = np.minimum(a, b)
            elif op == "max":
                out = np.maximum(a, b)
            elif op == "mean":
                out = 0.5 * a + 0.5 * b  # not (a + b) / 2, which can overflow
            elif op == "log":
                out = np.sign(a) * np.log1p(np.abs(a))
            else:  # square
                out = a * a
        return np.clip(out, -_BOUND, _BOUND)[:, np.newaxis]

    def _as_table(self, X):
        X = check_array(X, dtype=None, ensure_all_finite=False)
        keys = {}
        if self.operation == "cartesian":
            keys = {j: _category_keys(X[:, j]) for j in self.inputs}
            values = np.zeros(X.shape)
        else:
            values = check_array(X, dtype=np.float64)
        return _Table(values, keys)


def _pair_keys(table, i, j):
    """One category per row for the pair of columns (i, j); the separator cannot occur in normal text."""
    return np.char.add(np.char.add(table.keys[i], "\x1f"), table.keys[j]).reshape(-1, 1)


def _standardize(block):
    """Columns centred and scaled to unit variance; constant columns become 0."""
    block = block - block.mean(axis=0)
    std = block.std(axis=0)
    return np.divide(block, std, out=np.zeros_like(block), where=std > 1e-12 * (1 + np.abs(block).max(axis=0)))


def _signature(block):
    """Bytes equal for two blocks whose columns are equal up to scale, shift and sign."""
    z = np.round(_standardize(block), 6) + 0.0  # + 0.0 turns -0.0 into 0.0
    for k in range(z.shape[1]):
        nonzero = np.flatnonzero(np.abs(z[:, k]) > 1e-6)
        if len(nonzero) and z[nonzero[0], k] < 0:
            z[:, k] = -z[:, k]
    return z.tobytes()


def _fold_predictions(model, X_test, classes):
    """Predictions of a fold's model: (n, 1) for regression, probabilities over ``classes`` otherwise."""
    n = X_test.shape[0]
    if classes is None:
        return np.asarray(model.predict(X_test), dtype=np.float64).reshape(n, 1)
    pred = np.zeros((n, len(classes)))
    if hasattr(model, "predict_proba"):
        pred[:, np.searchsorted(classes, model.classes_)] = model.predict_proba(X_test)
    else:  # no probabilities: the predicted class counts as certain
        pred[np.arange(n), np.searchsorted(classes, model.predict(X_test))] = 1.0
    return pred


def _cross_validate_design(estimator, X, y, splits, scorer, classes, catch, n_jobs=None):
    """Cross-validate ``estimator`` on ``X``: (mean score, (oof predictions, covered rows), error text or None)."""
    try:
        # The fold models come back so that the residuals need no second round of fits.
        result = cross_validate(
            estimator, X, y, cv=splits, scoring=scorer, n_jobs=n_jobs, return_estimator=True, error_score="raise"
        )
        scores = np.asarray(result["test_score"], dtype=float)
        if not np.isfinite(scores).all():
            raise ValueError(f"the score is {scores[~np.isfinite(scores)][0]}")
        pred = np.zeros((len(y), 1 if classes is None else len(classes)))
        covered = np.zeros(len(y), dtype=bool)
        for (_, test), model in zip(splits, result["estimator"]):
            pred[test] = _fold_predictions(model, _safe_indexing(X, test), classes)
            covered[test] = True
        return float(scores.mean()), (pred, covered), None
    except Exception as exc:
        if not catch:
            raise
        return np.nan, None, f"{type(exc).__name__}: {exc}"


class FeatureConstructor(TransformerMixin, BaseEstimator):
    """Construct new features and keep those that raise a cross-validated score.

    **Column kinds.** Each input column is *categorical* (see
    ``categorical_features``), *boolean* (otherwise, when its training values
    are all 0 or 1, or its dtype is bool) or *numeric*. Operations (see
    :data:`OPERATIONS`):

    - numeric, on numeric columns and on pairs of a numeric and a boolean
      column: ``'sum'`` (``a+b``), ``'difference'`` (``a-b``),
      ``'product'`` (``a*b``), ``'ratio'`` (``a/b`` in both orders, 0 where
      ``b == 0``), ``'min'``, ``'max'``, ``'mean'``; on one numeric column:
      ``'log'`` (signed: ``sign(a) * log(1 + |a|)``, defined everywhere) and
      ``'square'`` (``a^2``). Results are clipped to ``[-1e150, 1e150]``, so
      outputs are finite for any finite input.
    - boolean, on boolean columns (true = nonzero): ``'and'`` (``a & b``),
      ``'or'`` (``a | b``), ``'not'`` (``~a``). With ``'not'``, ``'and'``,
      ``'or'`` and ``'m_of_n'`` also try negated inputs (``a & ~b``). ``~a``
      alone holds the same information as ``a``, so it is never kept.
    - nominal: ``'cartesian'`` on pairs of categorical columns: the pair of
      categories is one new category, target-encoded with scikit-learn's
      :class:`~sklearn.preprocessing.TargetEncoder` (the smoothed mean of the
      target per pair; for a multiclass target one column per class). A pair
      unseen in ``fit`` gets the target mean. ``fit_transform`` returns
      cross-fitted encodings, like ``TargetEncoder.fit_transform``, so a
      downstream model does not learn from encodings of its own labels.
      ``'m_of_n'`` on boolean columns: ``M-of(a,b,c)`` is 1 when at least M
      inputs are true; the inputs are the 3 to 5 boolean columns most
      correlated with the target (with the class they track best), negated
      where that correlation is negative (when ``'not'`` is allowed), and M
      runs over 1..N.

    Inputs of constructed features are the original columns (features of
    depth one: ``x0*x3``, not ``x0*x3*x5``).

    **Search.** Each step ranks every candidate by its squared correlation
    (Pearson or Spearman, whichever is larger, summed over classes) with the
    out-of-fold residuals of the current model: the one-hot target minus the
    predicted probabilities, or ``y`` minus the prediction for regression.
    Candidates equal to an original column, an added feature or a
    better-ranked candidate up to scale, shift and sign (``a+b`` and
    ``mean(a,b)``) are skipped. The top ``max_candidates`` are cross-validated
    with the current features (in parallel with ``n_jobs``); the best is
    added when it raises the mean CV score by at least ``min_improvement``
    (and by more than 0). The search stops after ``max_features_added``
    additions or when no candidate improves enough.

    **Output.** The original columns, then the added features. An array
    gives a float array (an object array for an object or text array); a
    DataFrame gives a DataFrame whose original columns keep their dtypes, so
    categorical columns stay categorical for a later encoder. The downstream
    estimator is scored on this output.

    Parameters
    ----------
    estimator : estimator object, default=None
        The downstream model that scores candidate features. None: for a
        classification target (binary or multiclass), a
        :class:`~sklearn.linear_model.LogisticRegression` (solver
        ``'newton-cholesky'`` for two classes and at most 50 columns with
        the added ones, else ``'lbfgs'``); for a continuous
        target, a :class:`~sklearn.linear_model.Ridge`; both after a
        :class:`~sklearn.preprocessing.RobustScaler` (ratios and products are
        heavy-tailed: scaling by their standard deviation would squeeze
        most rows together), with categorical columns one-hot encoded. An estimator given here must accept the
        output described above.
    operations : list or tuple of str, default=all of :data:`OPERATIONS`
        Operations used to build candidates.
    categorical_features : 'auto', array-like or None, default='auto'
        Categorical columns, given as positions, names (DataFrames with
        string column names) or a boolean mask. ``'auto'``: the object,
        string and category columns of a DataFrame, and the columns of an
        object array that hold text. None: none.
    max_features_added : int, default=10
        Most features added.
    max_candidates : int, default=20
        Candidates cross-validated at each step, the best-ranked first.
    min_improvement : float, default=0.005
        Smallest raise of the mean CV score for which a feature is added.
    scoring : str or callable, default=None
        Score to maximise (see :func:`sklearn.metrics.check_scoring`); None
        uses the estimator's ``score``: accuracy or R².
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled :class:`~sklearn.model_selection.StratifiedKFold`
        (classification) or :class:`~sklearn.model_selection.KFold`
        (regression) folds, seeded by ``random_state``. Every candidate is
        scored on the same folds, which also cross-fit the target encodings.
    n_jobs : int, default=None
        Parallel jobs through joblib: one task per candidate of a step (its
        folds in that task), and the folds of the first, baseline score;
        None means 1.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds and, when the estimator's own ``random_state`` (or a
        nested step's) is None, the estimator.

    Attributes
    ----------
    expressions_ : list of Expression
        The added features, in the order they were added.
    constructed_features_ : list of str
        Names of the added features' columns.
    feature_kinds_ : ndarray of str of shape (n_features_in_,)
        ``'numeric'``, ``'boolean'`` or ``'categorical'`` for each input column.
    base_score_ : float
        Mean CV score of the estimator on the original features.
    best_score_ : float
        Mean CV score on the output features.
    scores_ : list of float
        ``base_score_``, then the score after each addition.
    construction_path_ : dict of ndarray
        One row per cross-validated candidate: ``'step'``, ``'feature'``,
        ``'rank_score'``, ``'cv_score'``, ``'improvement'`` (over the score
        before that step), ``'kept'`` and ``'status'`` (``'ok'`` or the error
        of a failed fit; failed candidates are never kept). Load it with
        ``pandas.DataFrame(construction_path_)``.
    n_candidates_ : int
        Number of candidates generated at the first step, before duplicates
        were skipped and the best ``max_candidates`` taken.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    sklearn.preprocessing.PolynomialFeatures : all products up to a degree, unselected.
    sklearn.preprocessing.TargetEncoder : the encoder of ``'cartesian'`` features.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.features import FeatureConstructor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(300, 4))
    >>> y = (X[:, 0] * X[:, 2] > 0).astype(int)
    >>> constructor = FeatureConstructor(operations=["product", "sum"], max_candidates=4, cv=3,
    ...                                  random_state=0).fit(X, y)
    >>> constructor.constructed_features_
    ['x0*x2']
    >>> constructor.base_score_ < 0.6 < 0.9 < constructor.best_score_
    True
    >>> constructor.transform(X).shape
    (300, 5)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "operations": [list, tuple],
        "categorical_features": [StrOptions({"auto"}), "array-like", None],
        "max_features_added": [Interval(Integral, 1, None, closed="left")],
        "max_candidates": [Interval(Integral, 1, None, closed="left")],
        "min_improvement": [Interval(Real, 0, None, closed="left")],
        "scoring": [str, callable, None],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        operations=tuple(OPERATIONS),
        categorical_features="auto",
        max_features_added=10,
        max_candidates=20,
        min_improvement=0.005,
        scoring=None,
        cv=5,
        n_jobs=None,
        random_state=None,
    ):
        self.estimator = estimator
        self.operations = operations
        self.categorical_features = categorical_features
        self.max_features_added = max_features_added
        self.max_candidates = max_candidates
        self.min_improvement = min_improvement
        self.scoring = scoring
        self.cv = cv
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ----------------------------------------------------------------- input

    def _input_names(self):
        return [str(n) for n in getattr(self, "feature_names_in_", [f"x{j}" for j in range(self.n_features_in_)])]

    def _categorical_mask(self, X, columns):
        """Boolean mask of the categorical columns, from ``categorical_features`` (fit only)."""
        p = len(columns)
        spec = self.categorical_features
        if spec is None:
            return np.zeros(p, dtype=bool)
        if isinstance(spec, str):  # 'auto'
            if is_dataframe(X):
                pd = _pandas()
                types = pd.api.types
                return np.array([not (types.is_numeric_dtype(c) or types.is_bool_dtype(c)) for c in columns])
            if np.asarray(X).dtype.kind not in "OUS":
                return np.zeros(p, dtype=bool)
            return np.array([not _all_numbers(c) for c in columns])
        spec = np.asarray(spec)
        mask = np.zeros(p, dtype=bool)
        if spec.dtype.kind == "b":
            if spec.shape != (p,):
                raise ValueError(
                    f"categorical_features as a boolean mask needs {p} entries, one per column; got {spec.shape}."
                )
            return spec.copy()
        if spec.dtype.kind in "iu":
            bad = spec[(spec < -p) | (spec >= p)]
            if len(bad):
                raise ValueError(f"categorical_features has positions {bad.tolist()} outside the {p} columns of X.")
            mask[spec] = True
            return mask
        if spec.dtype.kind in "OUS":
            names = list(getattr(self, "feature_names_in_", []))
            if not names:
                raise ValueError(
                    "categorical_features names columns, but X has no string column names; pass positions instead."
                )
            unknown = [s for s in spec.tolist() if s not in names]
            if unknown:
                raise ValueError(
                    f"categorical_features names {unknown}, which are not columns of X; columns are {names}."
                )
            mask[[names.index(s) for s in spec.tolist()]] = True
            return mask
        raise ValueError(
            "categorical_features must be 'auto', None, or positions, names or a boolean mask; got "
            f"{self.categorical_features!r}."
        )

    def _validate(self, X, y="no_validation", *, reset):
        """Return (table, original X, y): X checked for size, NaN and kinds, y for a usable target."""
        name = type(self).__name__
        if reset and y is None:
            raise ValueError(f"This {name} estimator requires y to be passed, but the target y is None.")
        if is_dataframe(X):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0 or X.shape[1] == 0:
                raise ValueError(
                    f"{name} got a DataFrame of shape {X.shape}; it needs at least one row and one column."
                )
            columns = [X.iloc[:, j] for j in range(X.shape[1])]
        else:
            X = validate_data(self, X, reset=reset, dtype=None, ensure_all_finite=False)
            columns = [X[:, j] for j in range(X.shape[1])]
        if reset:
            categorical = self._categorical_mask(X, columns)
        else:
            categorical = self.feature_kinds_ == "categorical"
        names = self._input_names()
        values = np.zeros((X.shape[0], X.shape[1]))
        keys = {}
        for j, column in enumerate(columns):
            if categorical[j]:
                cells = np.asarray(column, dtype=object)
                _check_cells(cells, names[j])
                missing = _missing(cells)
                if missing.any():
                    raise ValueError(
                        f"Input X contains NaN ({int(missing.sum())} values) in column {names[j]!r}. {IMPUTE_ADVICE}"
                    )
                keys[j] = _category_keys(cells)
                continue
            if not is_dataframe(X) and column.dtype.kind == "O":
                _check_cells(column, names[j])
            try:
                if is_dataframe(X):
                    values[:, j] = column.to_numpy(dtype=np.float64, na_value=np.nan)
                else:
                    values[:, j] = column
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"Column {names[j]!r} is not numeric ({exc}). List it in categorical_features, or "
                    "encode it first."
                ) from None
        finite = np.isfinite(values)
        if not finite.all():
            n_nan = int(np.isnan(values).sum())
            bad = [names[j] for j in np.flatnonzero(~finite.all(axis=0))]
            raise ValueError(
                f"Input X contains NaN ({n_nan} values) or inf ({int((~finite).sum()) - n_nan} values) in "
                f"columns {bad[:5]}. {IMPUTE_ADVICE}"
            )
        if reset:
            kinds = np.where(categorical, "categorical", "numeric").astype(object)
            for j, column in enumerate(columns):
                if not categorical[j] and np.isin(values[:, j], (0.0, 1.0)).all():
                    kinds[j] = "boolean"
            self.feature_kinds_ = kinds
        if isinstance(y, str) and y == "no_validation":
            return _Table(values, keys), X, y
        y = check_array(y, ensure_2d=False, dtype=None, input_name="y")
        y = column_or_1d(y, warn=True)
        check_consistent_length(values, y)
        return _Table(values, keys), X, y

    # ------------------------------------------------------------ the search

    def _check_operations(self):
        ops = list(self.operations)
        unknown = [op for op in ops if op not in OPERATIONS]
        valid = f"valid operations are {sorted(OPERATIONS)}."
        if unknown:
            raise ValueError(f"Unknown operations {unknown} in operations={self.operations!r}; {valid}")
        if not ops:
            raise ValueError(f"operations is empty; {valid}")
        return set(ops)

    def _task(self, y):
        """(is classification, classes or None); raises for a target that cannot be used."""
        if self.estimator is not None:
            classification = is_classifier(self.estimator)
        else:
            kind = type_of_target(y, input_name="y")
            if kind not in ("binary", "multiclass", "continuous"):
                raise ValueError(
                    f"FeatureConstructor needs a binary, multiclass or continuous target; y is {kind}. "
                    "Unknown label type for the default estimator."
                )
            classification = kind != "continuous"
        if classification:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y has 1 class ({classes[0]!r}): a constant target leaves no feature to construct. "
                    "Check the labels."
                )
            return True, classes
        y_float = np.asarray(y, dtype=np.float64)
        if np.ptp(y_float) == 0:
            raise ValueError("y is constant: a constant target leaves no feature to construct. Check the target.")
        return False, None

    def _make_estimator(self, classification, classes, categorical, seed):
        if self.estimator is not None:
            estimator = clone(self.estimator)
        else:
            n_columns = len(categorical) + self.max_features_added
            if classification:
                # newton-cholesky is several times faster than lbfgs on the few columns typical here
                few = len(classes) == 2 and n_columns <= 50
                model = LogisticRegression(solver="newton-cholesky" if few else "lbfgs", max_iter=1000)
            else:
                model = Ridge()
            if categorical.any():
                scale = ColumnTransformer(
                    [("categories", OneHotEncoder(handle_unknown="ignore"), np.flatnonzero(categorical).tolist())],
                    remainder=RobustScaler(),
                )
            else:
                scale = RobustScaler()
            estimator = make_pipeline(scale, model)
        if self.random_state is not None:  # a seeded search also seeds an unseeded model
            unseeded = {
                key: seed
                for key, value in estimator.get_params(deep=True).items()
                if (key == "random_state" or key.endswith("__random_state")) and value is None
            }
            estimator.set_params(**unseeded)
        return estimator

    def _splits(self, y, classification, seed):
        n = len(y)
        cv = self.cv
        if cv is None or isinstance(cv, Integral):
            n_splits = 5 if cv is None else int(cv)
            splitter = (StratifiedKFold if classification else KFold)(n_splits, shuffle=True, random_state=seed)
        else:
            splitter = check_cv(cv, y, classifier=classification)
        return list(splitter.split(np.zeros((n, 1)), y))

    def _candidates(self, ops, table, target_z):
        """Every candidate expression, in a fixed order (which breaks ties in the ranking)."""
        kinds = self.feature_kinds_
        numeric = np.flatnonzero(kinds == "numeric").tolist()
        boolean = np.flatnonzero(kinds == "boolean").tolist()
        categorical = np.flatnonzero(kinds == "categorical").tolist()
        for op in ("log", "square"):
            if op in ops:
                yield from (Expression(op, (j,)) for j in numeric)
        binary = [op for op in _BINARY_NUMERIC if op in ops]
        for i, j in combinations(sorted(numeric + boolean), 2):
            if kinds[i] == kinds[j] == "boolean":
                continue  # and / or cover those
            for op in binary:
                if op != "ratio":
                    yield Expression(op, (i, j))
                    continue
                # a/b with a 0/1 column b is a*b, already a product
                if kinds[j] == "numeric":
                    yield Expression(op, (i, j))
                if kinds[i] == "numeric":
                    yield Expression(op, (j, i))
        if "not" in ops:
            yield from (Expression("not", (j,)) for j in boolean)
        signs = [(False, False)] + ([(False, True), (True, False), (True, True)] if "not" in ops else [])
        for i, j in combinations(boolean, 2):
            for op in ("and", "or"):
                if op in ops:
                    yield from (Expression(op, (i, j), negated=s if any(s) else ()) for s in signs)
        if "cartesian" in ops:
            yield from (Expression("cartesian", (i, j)) for i, j in combinations(categorical, 2))
        if "m_of_n" in ops and len(boolean) >= 3:
            yield from self._m_of_n_candidates(table, boolean, target_z, "not" in ops)

    def _m_of_n_candidates(self, table, boolean, target_z, allow_not):
        """M-of-N over the boolean columns most correlated with the target (3 <= N <= 5, 1 <= M <= N)."""
        corr = _standardize(table.values[:, boolean]).T @ target_z / table.n_samples  # (n_boolean, k)
        k = int(np.argmax((corr**2).sum(axis=0)))  # the class they explain most
        corr = corr[:, k]
        order = [i for i in np.argsort(-np.abs(corr), kind="stable") if allow_not or corr[i] > 0]
        for n in range(3, min(len(order), _MAX_M_OF_N) + 1):
            chosen = sorted(order[:n])
            inputs = tuple(boolean[i] for i in chosen)
            negated = tuple(bool(corr[i] < 0) for i in chosen)
            for m in range(1, n + 1):
                yield Expression("m_of_n", inputs, negated=negated if any(negated) else (), m=m)

    def _values(self, expression, table, cache):
        """Training values of a candidate: cross-fitted for 'cartesian' (cached, as the encoder is fitted once)."""
        if expression.operation != "cartesian":
            return expression.evaluate(table)
        return cache[expression.inputs][1]

    def _rank(self, ops, table, residual, target_z, excluded, cache):
        """The best ``max_candidates`` distinct candidates as [(expression, rank score)], and the count generated."""
        n = table.n_samples
        residual_z = _standardize(residual)
        residual_rank_z = _standardize(rankdata(residual, axis=0))
        scored = []
        candidates = iter(self._candidates(ops, table, target_z))
        while chunk := list(islice(candidates, _CHUNK)):
            blocks = [self._values(e, table, cache) for e in chunk]
            owners = np.repeat(np.arange(len(chunk)), [b.shape[1] for b in blocks])
            block = np.hstack(blocks)
            pearson = ((_standardize(block).T @ residual_z / n) ** 2).sum(axis=1)
            spearman = ((_standardize(rankdata(block, axis=0)).T @ residual_rank_z / n) ** 2).sum(axis=1)
            per_column = np.maximum(pearson, spearman)
            per_expression = np.full(len(chunk), -np.inf)
            np.maximum.at(per_expression, owners, per_column)
            scored.extend(zip(np.round(per_expression, 10), range(len(scored), len(scored) + len(chunk)), chunk))
        scored.sort(key=lambda item: (-item[0], item[1]))  # best first; ties: generated first
        picked, seen = [], set(excluded)
        for score, _, expression in scored:
            if len(picked) == self.max_candidates:
                break
            values = self._values(expression, table, cache)
            signature = _signature(values)
            if signature in seen or not np.isfinite(score):
                continue
            seen.add(signature)
            picked.append((expression, float(score), values))
        return picked, len(scored)

    def _fit_cartesian(self, table, y, classification, classes, splits):
        """Per categorical pair: (final encoder, cross-fitted training values), fitted once per fit."""
        cache = {}
        categorical = np.flatnonzero(self.feature_kinds_ == "categorical").tolist()
        target_type = "continuous" if not classification else ("binary" if len(classes) == 2 else "multiclass")
        for i, j in combinations(categorical, 2):
            keys = _pair_keys(table, i, j)
            encoder = TargetEncoder(target_type=target_type).fit(keys, y)
            width = len(classes) if target_type == "multiclass" else 1
            crossfit = np.zeros((len(y), width))
            for train, test in splits:
                fold = TargetEncoder(target_type=target_type).fit(keys[train], y[train])
                out = fold.transform(keys[test]).reshape(len(test), -1)
                if target_type == "multiclass":  # a fold may lack a class: its column stays 0
                    crossfit[np.ix_(test, np.searchsorted(classes, fold.classes_))] = out
                else:
                    crossfit[test] = out
            cache[(i, j)] = (encoder, crossfit)
        return cache

    def _design(self, X, blocks, names):
        """The output: X's columns, then the constructed blocks named ``names``."""
        n_in = self.n_features_in_
        if is_dataframe(X):
            pd = _pandas()
            frame = X if hasattr(self, "feature_names_in_") else X.set_axis(names[:n_in], axis=1)
            if not blocks:
                return frame.copy()
            extra = pd.DataFrame(np.hstack(blocks), index=frame.index, columns=names[n_in:])
            return pd.concat([frame, extra], axis=1)
        if X.dtype.kind in "OUS":  # text categories: keep them as they are
            return np.hstack([X.astype(object), *(b.astype(object) for b in blocks)])
        return np.hstack([X.astype(np.float64), *blocks])

    def _evaluate(self, estimator, designs, y, splits, scorer, classes):
        """Cross-validate each design in ``designs`` (an iterable), one joblib task per design.

        Returns [(mean score, (oof predictions, covered rows), error text or None)]; a design
        whose fit, prediction or score fails gets a NaN score and its error.
        """
        jobs = (
            delayed(_cross_validate_design)(estimator, X_design, y, splits, scorer, classes, catch=True)
            for X_design in designs
        )
        return Parallel(n_jobs=self.n_jobs)(jobs)

    def _fit(self, X, y):
        ops = self._check_operations()
        table, X, y = self._validate(X, y, reset=True)
        n_splits = 5 if self.cv is None else self.cv
        if isinstance(n_splits, Integral) and len(y) < n_splits:
            raise ValueError(
                f"FeatureConstructor cross-validates with {n_splits} folds and needs at least {n_splits} "
                f"samples; got n_samples={len(y)}."
            )
        classification, classes = self._task(y)
        rng = check_random_state(self.random_state)
        cv_seed, model_seed = (int(s) for s in rng.randint(SEED_MAX, size=2))
        splits = self._splits(y, classification, cv_seed)
        estimator = self._make_estimator(classification, classes, self.feature_kinds_ == "categorical", model_seed)
        scorer = check_scoring(estimator, scoring=self.scoring)
        if classification:
            target = (y[:, np.newaxis] == classes).astype(np.float64)
        else:
            target = np.asarray(y, dtype=np.float64)[:, np.newaxis]
        # two classes: the positive class alone, so that "correlated with the target" has one sign
        target_z = _standardize(target[:, 1:] if target.shape[1] == 2 else target)
        cache = self._fit_cartesian(table, y, classification, classes, splits)
        input_names = self._input_names()
        names = list(input_names)
        kept, blocks = [], []
        excluded = {_signature(table.values[:, [j]]) for j in np.flatnonzero(self.feature_kinds_ != "categorical")}
        design = self._design(X, blocks, names)
        score, (pred, covered), _ = _cross_validate_design(
            estimator, design, y, splits, scorer, classes, catch=False, n_jobs=self.n_jobs
        )
        self.base_score_ = score
        self.scores_ = [score]
        path = {key: [] for key in ("step", "feature", "rank_score", "cv_score", "improvement", "kept", "status")}
        self.n_candidates_ = 0
        failures = []
        for step in range(1, self.max_features_added + 1):
            residual = np.where(covered[:, np.newaxis], target - pred, 0.0)
            picked, n_generated = self._rank(ops, table, residual, target_z, excluded, cache)
            if step == 1:
                self.n_candidates_ = n_generated
            if not picked:
                break
            picked = [(self._with_encoder(e, cache), s, v) for e, s, v in picked]
            candidate_names = [e.names(input_names) for e, _, _ in picked]
            designs = (self._design(X, [*blocks, v], names + n) for (_, _, v), n in zip(picked, candidate_names))
            results = self._evaluate(estimator, designs, y, splits, scorer, classes)
            cv_scores = np.array([r[0] for r in results])
            best = int(np.nanargmax(cv_scores)) if np.isfinite(cv_scores).any() else None
            improvement = np.round(cv_scores - score, 12)  # float noise is no improvement
            keep = best is not None and improvement[best] > 0 and improvement[best] >= self.min_improvement
            for k, ((expression, rank_score, _), result) in enumerate(zip(picked, results)):
                path["step"].append(step)
                path["feature"].append(", ".join(candidate_names[k]))
                path["rank_score"].append(rank_score)
                path["cv_score"].append(result[0])
                path["improvement"].append(improvement[k])
                path["kept"].append(bool(keep and k == best))
                path["status"].append("ok" if result[2] is None else result[2])
                if result[2] is not None:
                    failures.append(result[2])
            if not keep:
                break
            expression, _, values = picked[best]
            kept.append(expression)
            blocks.append(values)
            names += candidate_names[best]
            excluded.add(_signature(values))
            score, (pred, covered), _ = results[best]
            self.scores_.append(score)
        if failures:
            warnings.warn(
                f"{len(failures)} candidate features could not be scored and were skipped; the first error: "
                f"{failures[0]}",
                UserWarning,
            )
        self.expressions_ = kept
        self.constructed_features_ = names[len(input_names) :]
        self.best_score_ = score
        self.construction_path_ = {
            key: np.array(values, dtype=object if key in ("feature", "status") else None)
            for key, values in path.items()
        }
        if not len(self.construction_path_["step"]):  # typed empty columns
            self.construction_path_.update(
                step=np.array([], dtype=int), rank_score=np.array([]), cv_score=np.array([]),
                improvement=np.array([]), kept=np.array([], dtype=bool),
            )
        return X, blocks, names

    @staticmethod
    def _with_encoder(expression, cache):
        if expression.operation != "cartesian":
            return expression
        return replace(expression, encoder=cache[expression.inputs][0])

    # ------------------------------------------------------------ public API

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Search for features that raise the estimator's cross-validated score.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels or a continuous target.

        Returns
        -------
        self : FeatureConstructor
        """
        self._fit(X, y)
        return self

    @_fit_context(prefer_skip_nested_validation=False)
    def fit_transform(self, X, y=None):
        """Fit, then return the training data with the added features.

        Equal to ``fit(X, y).transform(X)`` except for ``'cartesian'``
        features, which come cross-fitted (see the class description).

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)

        Returns
        -------
        X_new : ndarray or DataFrame of shape (n_samples, n_features_in_ + n_added_columns)
        """
        X, blocks, names = self._fit(X, y)
        return self._design(X, blocks, names)

    def transform(self, X):
        """Append the added features, recomputed on ``X``.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray or DataFrame of shape (n_samples, n_features_in_ + n_added_columns)
            A DataFrame for a DataFrame, an array otherwise.
        """
        check_is_fitted(self)
        table, X, _ = self._validate(X, reset=False)
        blocks = [expression.evaluate(table) for expression in self.expressions_]
        return self._design(X, blocks, list(self.get_feature_names_out()))

    def get_feature_names_out(self, input_features=None):
        """The input names, then the readable names of the added features (``x0*x3``).

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input names; None uses ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = [str(n) for n in OneToOneFeatureMixin.get_feature_names_out(self, input_features)]
        constructed = [n for expression in self.expressions_ for n in expression.names(names)]
        return np.asarray(names + constructed, dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags


def _all_numbers(column):
    try:
        np.asarray(column, dtype=object).astype(np.float64)
    except (TypeError, ValueError):
        return False
    return True


def _check_cells(cells, name):
    """Cells of object columns must be strings or numbers."""
    for value in cells:
        if not isinstance(value, (str, Number, np.generic)) and value is not None:
            raise TypeError(
                f"Column {name!r} holds a {type(value).__name__}, but the argument must be a string or a "
                "number in every cell: convert or drop such cells first."
            )


def _missing(cells):
    """True where an object cell is missing (None, NaN, pandas.NA)."""
    try:
        return np.asarray(_pandas().isna(cells), dtype=bool)
    except ImportError:
        return np.array([value is None or value != value for value in cells], dtype=bool)
