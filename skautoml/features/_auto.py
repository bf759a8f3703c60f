"""Automatic feature engineering: which construction, selection and extraction steps help a model.

``AutoFeatureEngineer`` cross-validates a downstream estimator behind the
scikit-learn ``Pipeline`` ``(construct, select, extract, model)`` for every
configuration of a search space (each step a candidate transformer or
``'passthrough'``) with scikit-learn's ``GridSearchCV``, keeps the best and
refits its feature steps on all the data. The configuration without any step
is always tried, so the chosen one never scores below the raw features.
"""
import inspect
import tempfile
import time
import warnings
from numbers import Integral

import numpy as np
from sklearn import config_context
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone, is_classifier, is_regressor
from sklearn.ensemble import ExtraTreesRegressor
from sklearn.exceptions import FitFailedWarning
from sklearn.feature_selection import SelectFromModel, SelectKBest, f_regression
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, ParameterGrid, ParameterSampler, StratifiedKFold, check_cv
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._utils._random import SEED_MAX
from .._utils._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from .._utils._validation import check_finite, check_numeric_columns
from ._construction import FeatureConstructor
from ._embedded import EmbeddedSelector
from ._extraction import FeatureExtractor
from ._filter import FilterSelector

__all__ = ["AutoFeatureEngineer"]

#: The feature steps, in the order they are applied.
STEPS = ("construct", "select", "extract")
# Parameters that say how a step runs, not what it computes: left out of the configuration names.
_HIDDEN_PARAMS = frozenset({"random_state", "n_jobs", "verbose"})
# ... and one that says what it computes even at its default ('pca', 'tree').
_ALWAYS_SHOWN = frozenset({"method"})
# The default constructor's operations; with many columns only products (the ranking of the
# candidates grows with n_pairs * n_operations and dominates the search on wide data).
_CONSTRUCT_OPERATIONS = ("product", "ratio", "sum", "difference")
_MAX_PAIRS_FOR_ALL_OPERATIONS = 500
_RAW = "raw features"


def _is_passthrough(step):
    return step is None or (isinstance(step, str) and step == "passthrough")


def _short(value):
    """A parameter value as it reads in a configuration name: estimators and functions by name."""
    if hasattr(value, "get_params"):
        return type(value).__name__
    if inspect.isfunction(value) or inspect.isbuiltin(value):
        return value.__name__
    return repr(value)


def _label(step):
    """``ClassName(changed=params)``, or ``'passthrough'``."""
    if _is_passthrough(step):
        return "passthrough"
    if not hasattr(step, "get_params"):
        return repr(step)
    try:
        signature = inspect.signature(type(step).__init__).parameters
    except (TypeError, ValueError):
        signature = {}
    params = step.get_params(deep=False)
    order = [name for name in signature if name in params] + sorted(set(params) - set(signature))
    parts = []
    for name in order:  # in the order of the signature, as the class is written
        value = params[name]
        if name in _HIDDEN_PARAMS:
            continue
        default = signature[name].default if name in signature else inspect.Parameter.empty
        unchanged = default is not inspect.Parameter.empty and (value is default or repr(value) == repr(default))
        if unchanged and name not in _ALWAYS_SHOWN:
            continue
        parts.append(f"{name}={_short(value)}")
    return f"{type(step).__name__}({', '.join(parts)})"


def _configuration_name(params):
    """``'construct=... | select=...'`` over the steps a configuration uses; ``'raw features'`` for none."""
    parts = []
    for step in STEPS:
        transformer = params.get(step, "passthrough")
        nested = {key.split("__", 1)[1]: value for key, value in params.items() if key.startswith(f"{step}__")}
        if _is_passthrough(transformer):
            continue
        if nested:
            transformer = clone(transformer).set_params(**nested)
        parts.append(f"{step}={_label(transformer)}")
    return " | ".join(parts) or _RAW


def _n_active(params):
    return sum(not _is_passthrough(params.get(step, "passthrough")) for step in STEPS)


def _seeded(estimator, seed):
    """A clone of ``estimator`` whose ``random_state`` parameters that are None (nested too) get ``seed``."""
    estimator = clone(estimator)
    if not hasattr(estimator, "get_params"):
        return estimator
    unset = {
        key: seed
        for key, value in estimator.get_params(deep=True).items()
        if (key == "random_state" or key.endswith("__random_state")) and value is None
    }
    return estimator.set_params(**unset) if unset else estimator


def _error_line(message):
    """The last ``SomeError: ...`` line of scikit-learn's fit-failure report, else its first line."""
    lines = [line.strip() for line in str(message).splitlines() if line.strip()]
    errors = [line for line in lines if line.split(":", 1)[0].endswith(("Error", "Exception", "Warning"))]
    return errors[-1] if errors else (lines[0] if lines else "")


class AutoFeatureEngineer(TransformerMixin, BaseEstimator):
    """Search which feature construction, selection and extraction steps help a model.

    A configuration fills the three steps of the scikit-learn
    :class:`~sklearn.pipeline.Pipeline` ``[('construct', ...), ('select',
    ...), ('extract', ...), ('model', estimator)]``, each with a transformer
    or ``'passthrough'`` (the step is skipped). Every configuration of
    ``search_space`` is scored by cross-validating that pipeline with
    :class:`~sklearn.model_selection.GridSearchCV` (``search='grid'``), or
    ``n_iter`` sampled ones are (``search='random'``); the best
    configuration's feature steps are then refitted on all the data and
    ``transform`` applies them. The downstream estimator stays the same in
    every configuration.

    The configuration with all three steps ``'passthrough'`` (the raw
    features) is always scored, first, on the same folds: its score is
    ``baseline_score_`` and ``best_score_ >= baseline_score_``. Ties go to
    the configuration with fewer steps, then to the one tried first. A
    configuration whose fit fails in a fold scores NaN, ranks last and is
    reported in one :class:`~sklearn.exceptions.FitFailedWarning`; the
    search goes on. Fitted transformers are cached during the search
    (``cache``), so a step shared by several configurations is fitted once
    per fold.

    The steps run in the order construct, select, extract: selection can
    drop constructed features, extraction sees what selection kept.

    **Default search space** (built in ``fit`` for the data's
    ``n_features`` and, for classification, ``n_classes``; each candidate
    scored with ``estimator`` and ``scoring`` where it scores anything)::

        [{"construct": ["passthrough", C],
          "select": ["passthrough", FilterSelector("anova", k="auto", cv=3),
                     EmbeddedSelector("tree", n_estimators=50)]},
         {"construct": ["passthrough", C],
          "extract": [FeatureExtractor("pca", n_components=max(1, n_features // 2)),
                      FeatureExtractor("lda", n_components=min(n_features, n_classes - 1))]}]

    with ``C = FeatureConstructor(operations=("product", "ratio", "sum",
    "difference"), max_features_added=3, max_candidates=5, cv=3)`` (only
    ``"product"`` when there are more than 500 pairs of columns, i.e. more
    than 32 columns; no constructor for a single column): 10 configurations.
    Selection and extraction are alternatives there; pass a search space to
    combine them. For a continuous target the selectors are
    ``SelectKBest(f_regression, k=max(1, n_features // 2))`` and
    ``SelectFromModel(ExtraTreesRegressor(n_estimators=50))`` and the only
    extractor is PCA (8 configurations).

    Parameters
    ----------
    estimator : estimator with ``fit``, default=None
        The downstream model that scores the configurations; cloned. None:
        ``make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))``
        for class labels, ``make_pipeline(StandardScaler(), Ridge())`` for a
        continuous target. Its ``random_state`` parameters that are None are
        set from ``random_state``.
    search_space : 'default', dict or list of dicts, default='default'
        A grid as for ``GridSearchCV``, or a list of them: keys ``'construct'``,
        ``'select'`` and ``'extract'`` with a list of candidates each
        (transformers or ``'passthrough'``), and ``'<step>__<parameter>'``
        with a list of values (with ``search='random'`` also a distribution
        with ``rvs``). A step a grid leaves out is ``'passthrough'``. The model
        is not part of the space: tune it outside (for example with
        ``estimator=GridSearchCV(...)``). Any transformer fits, for example
        :class:`~skautoml.features.WrapperSelector` or
        :class:`~skautoml.features.AutoencoderExtractor`. Candidates whose
        ``random_state`` parameters are None get one drawn from
        ``random_state``.
    search : {'grid', 'random'}, default='grid'
        Score every configuration, or ``n_iter`` configurations drawn with
        :class:`~sklearn.model_selection.ParameterSampler` (all of them when
        there are no more than ``n_iter``); the raw features are scored in
        addition.
    n_iter : int, default=10
        Number of sampled configurations of ``search='random'``.
    cv : int, cross-validation generator or iterable, default=5
        An int gives shuffled :class:`~sklearn.model_selection.StratifiedKFold`
        (classification) or :class:`~sklearn.model_selection.KFold` folds,
        seeded by ``random_state``. Every configuration is scored on the same
        folds.
    scoring : str, callable or None, default=None
        As in ``GridSearchCV``; None uses the estimator's ``score`` (accuracy
        or R²). The default candidates that score anything use it too.
    cache : bool, default=True
        Cache fitted steps in a temporary directory during the search
        (``Pipeline(memory=...)``), removed at the end of ``fit``.
    n_jobs : int or None, default=None
        Parallel fits (configuration x fold) through joblib.
    random_state : int, RandomState instance or None, default=None
        Seeds the folds, the random search, the default candidates, and the
        unset ``random_state`` of the estimator and the candidates: a fixed
        seed gives the same search.
    verbose : int, default=0
        ``GridSearchCV``'s progress messages, and a summary line, when > 0.

    Attributes
    ----------
    pipeline_ : Pipeline
        The best configuration's steps ``construct``, ``select`` and
        ``extract`` (without the model), fitted on all the data.
    best_steps_ : dict
        Step name -> fitted transformer of ``pipeline_``, or ``'passthrough'``.
    best_params_ : dict
        The best configuration, as the ``GridSearchCV`` parameters of the
        pipeline (unfitted candidates).
    best_config_ : str
        Its readable name, such as ``"select=FilterSelector(method='anova', k=5)"``, or
        ``'raw features'``.
    best_score_ : float
        Its mean cross-validated score.
    best_index_ : int
        Its row in ``cv_results_``.
    baseline_score_ : float
        Mean cross-validated score of the estimator on the raw features (row
        0 of ``cv_results_``).
    cv_results_ : dict of ndarrays
        Every configuration tried, one row each, raw features first, as
        ``GridSearchCV.cv_results_`` (``params``, ``mean_test_score``,
        ``split<i>_test_score``, ``rank_test_score``, fit times ...) plus
        ``'config'`` (readable names) and ``'n_steps'`` (steps used).
        ``pandas.DataFrame(fe.cv_results_)`` is a table.
    search_time_ : float
        Seconds of the search and the refit.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    skautoml.prep.CleaningSearch : the same kind of search over cleaning operations.
    sklearn.model_selection.GridSearchCV : the search underneath.

    Examples
    --------
    The classes depend on the product of the first two of six features.

    >>> import numpy as np
    >>> from skautoml.features import AutoFeatureEngineer
    >>> from skautoml.features import FeatureConstructor
    >>> from skautoml.features import FilterSelector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 6))
    >>> y = (X[:, 0] * X[:, 1] > 0).astype(int)
    >>> constructor = FeatureConstructor(operations=["product"], max_features_added=1, max_candidates=3, cv=3)
    >>> fe = AutoFeatureEngineer(
    ...     search_space={"construct": ["passthrough", constructor],
    ...                   "select": ["passthrough", FilterSelector(k=1)]},
    ...     cv=3, random_state=0,
    ... ).fit(X, y)
    >>> for config, score in zip(fe.cv_results_["config"], fe.cv_results_["mean_test_score"]):
    ...     print(f"{score:.2f}  {config}")  # doctest: +NORMALIZE_WHITESPACE
    0.58  raw features
    0.55  select=FilterSelector(method='anova', k=1)
    0.90  construct=FeatureConstructor(operations=['product'], max_features_added=1, max_candidates=3, cv=3)
    0.96  construct=FeatureConstructor(operations=['product'], max_features_added=1, max_candidates=3, cv=3) |
          select=FilterSelector(method='anova', k=1)
    >>> fe.get_feature_names_out()
    array(['x0*x1'], dtype=object)
    >>> fe.baseline_score_ < 0.6 < 0.9 < fe.best_score_
    True
    >>> fe.transform(X).shape
    (200, 1)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"]), None],
        "search_space": [StrOptions({"default"}), dict, list],
        "search": [StrOptions({"grid", "random"})],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "cache": ["boolean"],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator=None,
        search_space="default",
        search="grid",
        n_iter=10,
        cv=5,
        scoring=None,
        cache=True,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.search_space = search_space
        self.search = search
        self.n_iter = n_iter
        self.cv = cv
        self.scoring = scoring
        self.cache = cache
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ----------------------------------------------------------------- input

    def _validate(self, X, y="no_validation", *, reset):
        check_numeric_columns(X, type(self).__name__)
        kwargs = dict(reset=reset, dtype=np.float64, ensure_all_finite=False)
        if isinstance(y, str) and y == "no_validation":
            X = validate_data(self, X, **kwargs)
        else:
            X, y = validate_data(self, X, y, **kwargs)
        check_finite(X, type(self).__name__)
        return X, y

    def _task(self, y):
        """(is classification, number of classes or None); raises for a target that cannot be used."""
        kind = type_of_target(y, input_name="y", raise_unknown=True)
        if self.estimator is not None and (is_classifier(self.estimator) or is_regressor(self.estimator)):
            classification = is_classifier(self.estimator)
            if classification and kind not in ("binary", "multiclass"):
                raise ValueError(
                    f"Unknown label type {kind!r}: the estimator {type(self.estimator).__name__} is a "
                    "classifier and needs class labels."
                )
        elif kind in ("binary", "multiclass", "continuous"):
            classification = kind != "continuous"
        else:
            raise ValueError(
                f"AutoFeatureEngineer needs class labels or a continuous target; y is {kind!r}. "
                "Multi-output targets are not supported."
            )
        if classification:
            classes = np.unique(y)
            if len(classes) < 2:
                raise ValueError(
                    f"y has 1 class ({classes[0]!r}): with a constant target every configuration scores "
                    "the same, so AutoFeatureEngineer has nothing to choose. Check the labels."
                )
            return True, len(classes)
        if np.ptp(np.asarray(y, dtype=np.float64)) == 0:
            raise ValueError(
                "y is constant: every configuration would score the same, so AutoFeatureEngineer has "
                "nothing to choose. Check the target."
            )
        return False, None

    def _default_estimator(self, classification):
        if self.estimator is not None:
            return self.estimator
        if classification:
            return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        return make_pipeline(StandardScaler(), Ridge())

    def _splits(self, X, y, classification, seed):
        if isinstance(self.cv, Integral):
            folds = (StratifiedKFold if classification else KFold)(self.cv, shuffle=True, random_state=seed)
        else:
            folds = check_cv(self.cv, y, classifier=classification)
        return list(folds.split(X, y))

    # ---------------------------------------------------------- search space

    def _default_space(self, n_features, classification, n_classes, estimator, rng):
        def seed():
            return int(rng.randint(SEED_MAX))

        construct = ["passthrough"]
        if n_features >= 2:
            n_pairs = n_features * (n_features - 1) // 2
            operations = _CONSTRUCT_OPERATIONS if n_pairs <= _MAX_PAIRS_FOR_ALL_OPERATIONS else ("product",)
            construct.append(
                FeatureConstructor(
                    estimator=clone(estimator),
                    operations=operations,
                    max_features_added=3,
                    max_candidates=5,
                    scoring=self.scoring,
                    cv=3,
                    random_state=seed(),
                )
            )
        half = max(1, n_features // 2)
        if classification:
            select = [
                FilterSelector("anova", k="auto", estimator=clone(estimator), cv=3, scoring=self.scoring),
                EmbeddedSelector("tree", n_estimators=50, random_state=seed()),
            ]
            extract = [
                FeatureExtractor("pca", n_components=half, random_state=seed()),
                FeatureExtractor("lda", n_components=min(n_features, n_classes - 1)),
            ]
        else:
            select = [
                SelectKBest(f_regression, k=half),
                SelectFromModel(ExtraTreesRegressor(n_estimators=50, random_state=seed())),
            ]
            extract = [FeatureExtractor("pca", n_components=half, random_state=seed())]
        return [
            {"construct": construct, "select": ["passthrough", *select]},
            {"construct": construct, "extract": extract},
        ]

    def _check_space(self, pipeline):
        """The user's search space as a list of grids, every key and candidate checked."""
        space = self.search_space
        grids = [space] if isinstance(space, dict) else list(space)
        if not grids:
            raise ValueError("search_space is an empty list; pass 'default', a dict or a non-empty list of dicts.")
        random = self.search == "random"
        for grid in grids:
            if not isinstance(grid, dict) or not grid:
                raise ValueError(f"search_space must be 'default', a non-empty dict or a list of them; got {space!r}.")
            for key, values in grid.items():
                step = key.split("__", 1)[0] if isinstance(key, str) else key
                if step == "model":
                    raise ValueError(
                        f"search_space key {key!r} tunes the downstream model, which stays the same in every "
                        "configuration so that they compare on one model. Tune it outside, for example "
                        "with estimator=GridSearchCV(...)."
                    )
                if step not in STEPS:
                    raise ValueError(
                        f"search_space key {key!r} names no step: use 'construct', 'select', 'extract' or "
                        "'<step>__<parameter>'."
                    )
                is_distribution = random and key not in STEPS and hasattr(values, "rvs")
                if not is_distribution and (
                    isinstance(values, str) or not hasattr(values, "__len__") or len(values) == 0
                ):
                    raise ValueError(f"search_space[{key!r}] must be a non-empty list of candidates, got {values!r}.")
                if key in STEPS:
                    for candidate in values:
                        if not _is_passthrough(candidate) and not (
                            hasattr(candidate, "fit") and hasattr(candidate, "transform")
                        ):
                            raise ValueError(
                                f"search_space[{key!r}] holds {candidate!r}, which is neither a transformer "
                                "(with fit and transform) nor 'passthrough'."
                            )
            # Unknown parameter names fail here, once, rather than in every fit.
            probe = {
                key: values.rvs(random_state=0) if hasattr(values, "rvs") else values[0] for key, values in grid.items()
            }
            try:
                clone(pipeline).set_params(**probe)
            except (ValueError, AttributeError) as exc:
                raise ValueError(f"search_space {grid!r} does not fit the pipeline's steps: {exc}") from None
        return grids

    @staticmethod
    def _seed_space(grids, rng):
        """The grids with every candidate transformer replaced by a seeded clone (shared candidates stay shared)."""
        seeded = {}
        out = []
        for grid in grids:
            new = {}
            for key, values in grid.items():
                if key in STEPS:
                    candidates = []
                    for candidate in values:
                        if not _is_passthrough(candidate) and id(candidate) not in seeded:
                            seeded[id(candidate)] = (_seeded(candidate, int(rng.randint(SEED_MAX))), candidate)
                        candidates.append(candidate if _is_passthrough(candidate) else seeded[id(candidate)][0])
                    new[key] = candidates
                else:
                    new[key] = values
            out.append(new)
        return out

    def _configurations(self, grids, rng):
        """The configurations to score: raw features first, then by number of steps, each once."""
        seed = int(rng.randint(SEED_MAX))
        if self.search == "random":
            lists = all(not hasattr(values, "rvs") for grid in grids for values in grid.values())
            if lists and len(ParameterGrid(grids)) <= self.n_iter:
                configs = list(ParameterGrid(grids))
            else:
                configs = list(ParameterSampler(grids, self.n_iter, random_state=seed))
        else:
            configs = list(ParameterGrid(grids))
        unique, seen = [{}], {_RAW}
        for params in configs:
            if all(_is_passthrough(params.get(step, "passthrough")) for step in STEPS) and not any(
                "__" in key for key in params
            ):
                continue  # the raw features, already first
            # Same candidate objects and values -> same configuration (ParameterGrid repeats across grids).
            key = tuple(sorted((k, id(v) if hasattr(v, "get_params") else repr(v)) for k, v in params.items()))
            if key in seen:
                continue
            seen.add(key)
            unique.append(params)
        return unique[:1] + sorted(unique[1:], key=_n_active)  # stable: ties keep their order

    # ------------------------------------------------------------ public API

    @_fit_context(prefer_skip_nested_validation=False)  # candidates and the estimator validate their own
    def fit(self, X, y):
        """Score every configuration by cross-validation and refit the best one's feature steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Numeric, finite features.
        y : array-like of shape (n_samples,)
            Class labels or a continuous target.

        Returns
        -------
        self : AutoFeatureEngineer
        """
        started = time.perf_counter()
        X, y = self._validate(X, y, reset=True)
        classification, n_classes = self._task(y)
        rng = check_random_state(self.random_state)
        estimator = _seeded(self._default_estimator(classification), int(rng.randint(SEED_MAX)))
        splits = self._splits(X, y, classification, int(rng.randint(SEED_MAX)))
        steps = [(step, "passthrough") for step in STEPS]
        if isinstance(self.search_space, str):
            grids = self._default_space(X.shape[1], classification, n_classes, estimator, rng)
        else:
            grids = self._seed_space(self._check_space(Pipeline([*steps, ("model", estimator)])), rng)
        configs = self._configurations(grids, rng)
        names = [_configuration_name(params) for params in configs]

        # Inner steps exchange arrays whatever the global output setting, so that their feature names
        # (x0, x1, ...) are the ones get_feature_names_out replaces with this estimator's input names.
        with config_context(transform_output="default"), tempfile.TemporaryDirectory(prefix="skautoml-fe-") as cache:
            pipeline = Pipeline([*steps, ("model", estimator)], memory=cache if self.cache else None)
            search = GridSearchCV(
                pipeline,
                [{key: [value] for key, value in params.items()} for params in configs],
                scoring=self.scoring,
                cv=splits,
                n_jobs=self.n_jobs,
                refit=False,
                error_score=np.nan,
                verbose=self.verbose,
            )
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("default")
                search.fit(X, y)
            failures = self._report_warnings(caught)
            results = dict(search.cv_results_)
            results["config"] = np.asarray(names, dtype=object)
            results["n_steps"] = np.asarray([_n_active(params) for params in configs])
            means = np.asarray(results["mean_test_score"], dtype=float)
            if np.isnan(means[0]):
                raise ValueError(
                    "The estimator failed on the raw features (configuration 'raw features' scored NaN), so "
                    f"there is no baseline to improve on; check the estimator and the data. "
                    f"The error: {failures[0] if failures else 'not reported'}"
                )
            failed = np.flatnonzero(np.isnan(means))
            if failed.size:
                shown = ", ".join(repr(names[i]) for i in failed[:5]) + (" ..." if failed.size > 5 else "")
                warnings.warn(
                    f"{failed.size} of {len(configs)} configurations failed in at least one fold; they score "
                    f"NaN and rank last (see cv_results_): {shown}. First error: "
                    f"{failures[0] if failures else 'not reported'}",
                    FitFailedWarning,
                )
            best = int(np.argmax(np.where(np.isnan(means), -np.inf, means)))  # the first of ties
            feature_steps = Pipeline(steps).set_params(**clone(configs[best], safe=False))
            self.pipeline_ = feature_steps.fit(X, y)
        self.cv_results_ = results
        self.best_index_ = best
        self.best_params_ = configs[best]
        self.best_config_ = names[best]
        self.best_score_ = float(means[best])
        self.baseline_score_ = float(means[0])
        self.best_steps_ = {
            step: "passthrough" if _is_passthrough(transformer) else transformer
            for step, transformer in self.pipeline_.steps
        }
        self.search_time_ = time.perf_counter() - started
        if self.verbose:
            print(
                f"[AutoFeatureEngineer] {len(configs)} configurations in {self.search_time_:.1f} s; best "
                f"{self.best_score_:.4f} (raw features {self.baseline_score_:.4f}): {self.best_config_}"
            )
        return self

    @staticmethod
    def _report_warnings(caught):
        """Re-issue the warnings of the search except scikit-learn's fit-failure reports; return their errors."""
        failures = []
        for warning in caught:
            message = str(warning.message)
            if issubclass(warning.category, FitFailedWarning):
                failures.append(_error_line(message))
            elif issubclass(warning.category, UserWarning) and "test scores are non-finite" in message:
                continue  # said by the failure summary
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
        return failures

    def transform(self, X):
        """Apply the chosen feature steps.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out)
            A DataFrame under ``set_output(transform="pandas")``.
        """
        check_is_fitted(self)
        X, _ = self._validate(X, reset=False)
        if all(_is_passthrough(step) for step in self.best_steps_.values()):
            return X.copy()  # never hand back the caller's array
        with config_context(transform_output="default"):
            return self.pipeline_.transform(X)

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the input names through the chosen steps (``a*b``, ``pca0``).

        Parameters
        ----------
        input_features : array-like of str, default=None
            Input names; None uses ``feature_names_in_`` or ``x0, x1, ...``.

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = OneToOneFeatureMixin.get_feature_names_out(self, input_features)  # checked against fit
        return np.asarray(self.pipeline_.get_feature_names_out(names), dtype=object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags
