"""AutoMLClassifier and AutoMLRegressor: whole pipelines searched from a raw table, refit, and ensembled."""
import time
import uuid
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer
from sklearn.model_selection import (
    GroupKFold,
    KFold,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, has_fit_parameter

from ._utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ._utils._random import SEED_MAX
from ._utils._validation import is_dataframe, validate_table
from .automl import (
    Integer, ModelFamily, PipelineEvaluator, PipelineHalving, PipelineSpace, WeightedEnsemble, check_ensemble_selection,
    ensemble_selection,
    forget_cleaned, prediction_score,
)
from .automl import Real as RealKnob
from .search import (
    STRATEGIES, Budget, Fidelity, SQLiteStorage, check_resumable_seed, resolve_strategy, run_search,
    search_fingerprint, trial_seed,
)

#: From this many rows, ``cv='auto'`` scores on one stratified hold-out of ``HOLDOUT_SHARE`` instead of folds.
HOLDOUT_FROM = 10_000
HOLDOUT_SHARE = 0.2
#: Folds of ``cv='auto'`` below ``HOLDOUT_FROM`` rows.
AUTO_FOLDS = 5
#: Training rows a fold keeps at the lowest fidelity of the default search (fewer rows say little).
MIN_ROWS = 200
#: Share of ``time_budget`` one trial may take with ``trial_time_limit='auto'``.
TRIAL_SHARE = 0.25
#: Best full-fidelity pipelines ensemble selection chooses from.
ENSEMBLE_LIBRARY = 20
#: Parts of the out-of-fold rows on which the ensemble must beat the best pipeline alone (see ``_ensemble``).
ENSEMBLE_CHECK_PARTS = 3
#: Largest share of ``time_budget`` the search keeps back for the refits.
MAX_REFIT_SHARE = 0.25
#: Ensemble members besides the best whose refits the search keeps time back for (more are refit if time is left).
RESERVED_MEMBER_REFITS = 3
#: ``families=None`` adds skautoml's NAS MLP from this many rows and this budget (or none): see ``nas_mlp_family``.
NAS_MIN_ROWS = 1_000
NAS_MIN_BUDGET = 300.0
#: Share of a trial's time limit the NAS MLP's architecture searches may take, split over the folds.
NAS_TRIAL_SHARE = 0.8


def nas_mlp_family(task="classification", seconds_per_fit=None):
    """skautoml's NAS MLP as a model family of the pipeline space: an architecture search in every fit.

    The model is :class:`~skautoml.AutoNASClassifier` (or ``AutoNASRegressor``)
    with ``search_space='mlp'``: each fold's fit (and the refit) searches
    chains of fully connected layers (depth, widths, activation, dropout,
    batch norm, skips; trained through skorch, on a GPU when there is one)
    on its own training rows and trains the best. The pipeline search tunes
    what the architecture search may spend and how it trains: ``max_trials``
    (architectures per fit; low cost 2), ``max_epochs`` (low cost 8) and
    ``lr``. ``seconds_per_fit`` caps each fit's architecture search (its
    ``time_budget``): the AutoML estimators give it ``NAS_TRIAL_SHARE`` of a
    trial's time limit over the folds, so that a trial ends by itself
    instead of being stopped. Torch loads only when the family runs.

    Parameters
    ----------
    task : {'classification', 'regression'}, default='classification'
    seconds_per_fit : float or None, default=None
        The ``time_budget`` of each fit's architecture search; None: only ``max_trials`` bounds it.

    Returns
    -------
    ModelFamily
        Named ``'nas_mlp'``.

    Examples
    --------
    >>> from skautoml._automl import nas_mlp_family
    >>> family = nas_mlp_family()
    >>> family.name, [knob.name for knob in family.dimensions]
    ('nas_mlp', ['max_trials', 'max_epochs', 'lr'])
    """
    estimator = "skautoml:AutoNASClassifier" if task == "classification" else "skautoml:AutoNASRegressor"
    return ModelFamily(
        "nas_mlp",
        estimator,
        (
            Integer("max_trials", 2, 16, 4, log=True, low_cost=2),
            Integer("max_epochs", 8, 64, 30, log=True, low_cost=8),
            RealKnob("lr", 3e-4, 1e-2, 3e-3, log=True),
        ),
        {"search_space": "mlp", "time_budget": seconds_per_fit, "n_jobs": 1, "verbose": 0},
        scale=True,
        cost=6,
    )


def _is_images(X):
    """Images are arrays of 3 or 4 dimensions, (n, H, W) or (n, C, H, W); a table has 2."""
    return not is_dataframe(X) and hasattr(X, "shape") and len(X.shape) in (3, 4)


class _RefitReserve:
    """Seconds to keep back for the refits (the best trial's per-fold fit, scaled to all rows, for it and the members)
    and for ensemble selection and its check (``score_seconds`` a call, ``ensemble_size`` calls per model of the
    library and pass).

    At most ``MAX_REFIT_SHARE`` of the budget: scaled up from a low fidelity the estimate can be many times
    too long (a forest's fixed costs do not grow with the rows), and it stopped searches at a third of their
    budget before any pipeline ran on whole folds (bench_automl, dirty_interactions at 30 s). Members that do
    not fit in the time left are not refit, and the best pipeline's refit may run past the budget by a trial.
    """

    def __init__(self, n_folds, n_rows, fold_rows, n_refits, ensemble_size=0, score_seconds=0.0):
        self.n_folds, self.n_rows, self.fold_rows, self.n_refits = n_folds, n_rows, fold_rows, n_refits
        self.ensemble_size, self.score_seconds = ensemble_size, score_seconds

    def __call__(self, results, time_budget):
        best = max((r for r in results if r.ok), key=lambda r: (r.resource, r.score), default=None)
        if best is None:
            return 0.1 * time_budget
        estimate = refit_seconds(best, self.n_folds, self.n_rows / self.fold_rows) * self.n_refits
        library = min(ENSEMBLE_LIBRARY, sum(r.ok and r.predictions is not None for r in results))
        estimate += self.score_seconds * self.ensemble_size * library * (1 + ENSEMBLE_CHECK_PARTS)
        return min(estimate, MAX_REFIT_SHARE * time_budget)


def _typical_trial_seconds(results):
    """The median length of the last ten trials: a time-limited trial stops at the search's deadline, so one
    slow trial need not keep the next from starting (the longest, the loop's default, ended searches early)."""
    return float(np.median([r.train_seconds for r in results[-10:]])) if results else 0.0


def refit_seconds(result, n_folds, rows_ratio):
    """What refitting the pipeline of ``result`` on all rows is expected to take: one fold's fit, scaled."""
    return result.train_seconds / n_folds / max(result.resource, 1e-3) * rows_ratio


class _AutoMLSearch(BaseEstimator):
    """What AutoMLClassifier and AutoMLRegressor share: the search, the refit and the ensemble."""

    _task = None

    _parameter_constraints = {
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "max_trials": [Interval(Integral, 1, None, closed="left"), None],
        "scoring": [str, callable, None],
        "cv": [StrOptions({"auto"}), Interval(Integral, 2, None, closed="left"), HasMethods(["split"]), list],
        "families": [list, tuple, None],
        "ensemble_size": [Interval(Integral, 0, None, closed="left")],
        "strategy": [StrOptions({"auto", *STRATEGIES}), HasMethods(["reset", "ask", "tell"])],
        "trial_time_limit": [StrOptions({"auto"}), Interval(Real, 0, None, closed="neither"), None],
        "initial_configs": [list, tuple],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "storage": [str, None],
    }

    def __init__(
        self,
        time_budget=60.0,
        max_trials=None,
        scoring=None,
        cv="auto",
        families=None,
        ensemble_size=10,
        strategy="auto",
        trial_time_limit="auto",
        initial_configs=(),
        n_jobs=None,
        random_state=None,
        verbose=0,
        storage=None,
    ):
        self.time_budget = time_budget
        self.max_trials = max_trials
        self.scoring = scoring
        self.cv = cv
        self.families = families
        self.ensemble_size = ensemble_size
        self.strategy = strategy
        self.trial_time_limit = trial_time_limit
        self.initial_configs = initial_configs
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.storage = storage

    # --- fit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, groups=None):
        """Search pipelines on ``X, y``, refit the best on all of it and (``ensemble_size > 0``) build the ensemble.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features), or images
            Numeric, boolean, string, categorical or datetime columns, with missing values;
            or images of shape (n_samples, H, W) or (n_samples, C, H, W), for the architecture search.
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, for the models' ``fit`` and the scores (only
            families whose model takes them are searched, and no row sampler).
        groups : array-like of shape (n_samples,), default=None
            Group labels: the folds keep every group on one side (with ``cv`` 'auto' or an int).

        Returns
        -------
        self
        """
        if self.max_trials is None and self.time_budget is None:
            raise ValueError("max_trials and time_budget are both None: set at least one of them to bound the search.")
        check_resumable_seed(self.storage, self.random_state)
        try:
            import pandas  # noqa: F401  (the cleaning steps need it, whatever X is)
        except ImportError:
            raise ImportError(f"{type(self).__name__} needs pandas: pip install 'skautoml[pandas]'.") from None
        if _is_images(X):
            return self._fit_images(X, y, sample_weight, groups)
        started = time.perf_counter()
        budget = Budget(self.max_trials, self.time_budget).start()
        X = validate_table(self, X, reset=True)
        fingerprint = None if self.storage is None else search_fingerprint(self, X, y, sample_weight, groups)
        y, labels = self._targets(y, X)
        sample_weight = self._check_weights(sample_weight, len(y))
        rng = check_random_state(self.random_state)
        base_seed = int(rng.randint(SEED_MAX))
        folds = self._folds(X, y, groups, base_seed)
        self.input_kind_ = "table"
        self.space_ = self._space(y, sample_weight, len(folds))
        self.scorer_ = self._scorer()
        fold_rows = float(np.mean([len(train) for train, _ in folds]))
        strategy = self._strategy(fold_rows)
        strategy.reset(self.space_, base_seed)
        data_token = uuid.uuid4().hex  # names this fit's data in the caches of cleaned folds
        evaluator = PipelineEvaluator(
            self.space_, self.scorer_, folds, self._classes(), self._trial_limit(), sample_weight, data_token
        )
        n_refits = 1 + min(self.ensemble_size, RESERVED_MEMBER_REFITS)
        budget.refit_reserve = _RefitReserve(
            len(folds), len(y), fold_rows, n_refits, self.ensemble_size, self._score_seconds(y, folds, sample_weight)
        )
        storage = None
        if self.storage is not None:
            storage = SQLiteStorage(self.storage).open(fingerprint, round_size=effective_n_jobs(self.n_jobs))
        results = run_search(
            strategy, evaluator, (X, y), Fidelity(1), budget, base_seed,
            n_jobs=self.n_jobs, verbose=self.verbose, description="pipelines", resource="data", storage=storage,
            expected_seconds=_typical_trial_seconds,
        )
        forget_cleaned(data_token)
        self.search_seconds_ = time.perf_counter() - started
        self._record(results)
        best = results[self.best_index_]
        self.best_config_ = best.architecture
        self.best_score_ = best.score
        self.best_pipeline_ = self._refit(best, X, labels, sample_weight, trial_seed(base_seed, self.best_index_))
        self.ensemble_, self.ensemble_check_ = None, None
        self.ensemble_indices_, self.ensemble_weights_ = np.array([], dtype=int), np.array([])
        if self.ensemble_size > 0:
            self.ensemble_ = self._ensemble(results, X, y, labels, sample_weight, folds, budget, base_seed)
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _fit_images(self, X, y, sample_weight, groups):
        """Images: the architecture search of ``AutoNASClassifier`` / ``AutoNASRegressor`` does the work.

        A pipeline of tabular steps has nothing to do on pixels. The NAS gets
        this fit's budget, trials, seed, jobs, verbosity and storage; it ranks
        architectures on its own hold-out (``validation_fraction``) by its
        own score, so ``scoring``, ``cv``, ``families`` and the ensemble apply
        to tables only.
        """
        if sample_weight is not None or groups is not None:
            raise ValueError(
                "sample_weight and groups apply to tables: the architecture search that fits images takes neither."
            )
        if self.scoring is not None:
            raise ValueError(
                f"scoring={self.scoring!r} applies to tables: on images the architecture search ranks networks by "
                "its validation score. Leave scoring=None, or use AutoNASClassifier / AutoNASRegressor directly."
            )
        from ._estimators import AutoNASClassifier, AutoNASRegressor  # here: torch loads only for images

        started = time.perf_counter()
        nas_class = AutoNASClassifier if self._task == "classification" else AutoNASRegressor
        nas = nas_class(
            time_budget=self.time_budget, max_trials="auto" if self.max_trials is None else self.max_trials,
            n_jobs=self.n_jobs, random_state=self.random_state, verbose=self.verbose, storage=self.storage,
        ).fit(X, y)
        self.search_seconds_ = nas.search_seconds_
        self.n_features_in_ = int(np.prod(nas.input_shape_))
        if hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        if self._task == "classification":
            self.classes_ = nas.classes_
        self.input_kind_ = "images"
        self.space_ = nas.search_space_
        found = nas.search_results_
        space_name = type(nas.search_space_).__name__.removesuffix("Space").lower()  # CNNSpace: nas_cnn
        family = np.array([f"nas_{space_name}"] * len(found["trial"]), dtype=object)
        self.search_results_ = {
            "trial": found["trial"], "score": found["score"], "status": found["status"], "error": found["error"],
            "resource": found["resource"], "family": family,
            "pipeline": np.array([str(a) for a in found["architecture"]], dtype=object),
            "config": found["architecture"],
            "fit_seconds": found["train_seconds"], "predict_seconds": np.full(len(family), np.nan),
            "seed": found["seed"], "worker": found["worker"],
        }
        self.best_index_ = int(nas.best_index_)
        self.best_config_ = nas.best_architecture_
        self.best_score_ = float(nas.best_score_)
        self.best_pipeline_ = Pipeline([("model", nas)])
        self.ensemble_, self.ensemble_check_ = None, None
        self.ensemble_indices_, self.ensemble_weights_ = np.array([], dtype=int), np.array([])
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _classes(self):
        """The class labels (the encoded targets index them), None for regression."""
        return None

    def _check_weights(self, sample_weight, n):
        if sample_weight is None:
            return None
        sample_weight = column_or_1d(np.asarray(sample_weight, dtype=float))
        if len(sample_weight) != n or not np.all(np.isfinite(sample_weight)) or np.any(sample_weight < 0):
            raise ValueError(
                f"sample_weight must hold {n} finite, non-negative numbers, one per row of X; got "
                f"{len(sample_weight)} values" + ("" if len(sample_weight) != n else " with negative or missing ones")
                + "."
            )
        if not sample_weight.any():
            raise ValueError("sample_weight must contain at least one non-zero number; every weight is 0.")
        return sample_weight

    def _space(self, y, sample_weight, n_folds):
        samplers = None
        if self._task == "classification":
            counts = np.bincount(y)
            imbalanced = counts.min() < 0.5 * counts.max()
            samplers = ("none", "label_noise", "outlier_rows") + (("smote",) if imbalanced else ())
        families = self._families(len(y), n_folds)
        if sample_weight is not None:
            samplers = ("none",)  # a sampler drops or adds rows, which their weights would not follow
            families = self._weighted_families(families)
        space = PipelineSpace(self._task, families=families, samplers=samplers)
        space.model_families()  # an unknown family fails here, before any trial
        return space

    def _families(self, n_rows, n_folds):
        """``families`` with ``'nas_mlp'`` made a family; None: the task's, and the NAS MLP when the data justify it.

        The NAS MLP runs an architecture search in each fold's fit, which costs more than whole
        searches of the other families, and on small tables networks seldom beat boosted trees. So
        ``families=None`` adds it from ``NAS_MIN_ROWS`` rows with a budget of at least
        ``NAS_MIN_BUDGET`` seconds (or none); naming it in ``families`` searches it anyway.
        """
        limit = self._trial_limit()
        nas = nas_mlp_family(self._task, None if limit is None else NAS_TRIAL_SHARE * limit / n_folds)
        if self.families is None:
            justified = n_rows >= NAS_MIN_ROWS and (self.time_budget is None or self.time_budget >= NAS_MIN_BUDGET)
            if not justified:
                return None
            return (*PipelineSpace(self._task).model_families(), nas)
        return tuple(nas if family == "nas_mlp" else family for family in self.families)

    def _weighted_families(self, families):
        """The families whose model's ``fit`` takes ``sample_weight``: all when the user named them, or say which do not."""
        known = PipelineSpace(self._task, families=families).model_families()
        takes = {name: has_fit_parameter(family.estimator_class(), "sample_weight") for name, family in known.items()}
        if self.families is not None and not all(takes.values()):
            refused = sorted(name for name, ok in takes.items() if not ok)
            raise ValueError(
                f"sample_weight was given, but the models of families {refused} do not take it in fit; "
                "leave them out of families, or leave families=None to search those that do."
            )
        return tuple(family for name, family in known.items() if takes[name])

    def _scoring(self):
        if self.scoring is None:
            return "balanced_accuracy" if self._task == "classification" else "r2"
        return self.scoring

    def _scoring_name(self):
        if getattr(self, "input_kind_", "table") == "images":
            return "the architecture search's validation score"
        return self._scoring() if isinstance(self._scoring(), str) else "the given scorer"

    @property
    def _score_name(self):
        """What ``score`` in ``search_results_`` is, for plots."""
        if getattr(self, "input_kind_", "table") == "images":
            return self._scoring_name()
        return f"{self._scoring_name()} (mean of the folds)"

    def _scorer(self):
        scoring = self._scoring()
        return get_scorer(scoring) if isinstance(scoring, str) else scoring

    def _folds(self, X, y, groups, seed):
        """The (train, valid) index pairs every trial uses."""
        n = len(y)
        classify = self._task == "classification"
        if groups is not None:
            groups = column_or_1d(np.asarray(groups))
            if len(groups) != n:
                raise ValueError(f"groups must hold one label per row of X: {n}; got {len(groups)}.")
        if isinstance(self.cv, list):
            return [(np.asarray(a), np.asarray(b)) for a, b in self.cv]
        if not isinstance(self.cv, (str, Integral)):  # a splitter (a str has a split method too)
            return [(np.asarray(a), np.asarray(b)) for a, b in self.cv.split(X, y, groups)]
        if self.cv == "auto" and n >= HOLDOUT_FROM and groups is None:
            splitter = (StratifiedShuffleSplit if classify else ShuffleSplit)(
                1, test_size=HOLDOUT_SHARE, random_state=seed
            )
            return list(splitter.split(np.zeros(n), y))
        n_folds = AUTO_FOLDS if self.cv == "auto" else self.cv
        if groups is not None:
            n_groups = len(np.unique(groups))
            if n_groups < 2:
                raise ValueError(f"groups has {n_groups} group; folds that keep groups apart need at least 2.")
            n_folds = min(n_folds, n_groups)
            splitter = (
                StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed % 2**31) if classify else GroupKFold(n_folds)
            )
            return list(splitter.split(np.zeros(n), y, groups))
        if classify:
            n_folds = max(2, min(n_folds, np.bincount(y).max()))
            splitter = StratifiedKFold(n_folds, shuffle=True, random_state=seed % 2**31)
        else:
            splitter = KFold(n_folds, shuffle=True, random_state=seed % 2**31)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
            return list(splitter.split(np.zeros(n), y))

    def _strategy(self, fold_rows):
        """The search: ``'auto'`` is :class:`PipelineHalving` from the low-cost starts (see the class docs).

        A strategy that takes starting points (``initial_architectures``) and has none gets the
        ``initial_configs``, then the space's low-cost ones; another strategy gets nothing.
        """
        starts = [*self.initial_configs]
        for config in starts:
            if not self.space_.contains(config):
                raise ValueError(f"initial config {config!r} is not a pipeline of this search's space.")
        starts += [c for c in self.space_.low_cost_configs() if c not in starts]
        if self.strategy == "auto":
            min_resource = float(min(1.0, max(1 / 9, MIN_ROWS / fold_rows)))
            return PipelineHalving(eta=3, min_resource=min_resource, initial_architectures=tuple(starts))
        strategy = resolve_strategy(self.strategy)
        if hasattr(strategy, "initial_architectures") and not strategy.initial_architectures:
            strategy.initial_architectures = tuple(starts)
        return strategy

    def _trial_limit(self):
        if self.trial_time_limit == "auto":
            return None if self.time_budget is None else TRIAL_SHARE * self.time_budget
        return self.trial_time_limit

    def _record(self, results):
        """``search_results_`` (one entry per trial) and ``best_index_`` (the best ok trial at the highest resource)."""
        ok = [i for i, r in enumerate(results) if r.ok]
        if not ok:
            errors = "; ".join(sorted({r.error for r in results if r.error})[:3])
            raise RuntimeError(f"Every one of the {len(results)} trials failed, so there is no pipeline to fit: {errors}")
        top = max(results[i].resource for i in ok)
        self.best_index_ = max((i for i in ok if results[i].resource == top), key=lambda i: results[i].score)
        self.search_results_ = {
            "trial": np.arange(len(results)),
            "score": np.array([r.score for r in results]),
            "status": np.array([r.status for r in results], dtype=object),
            "error": np.array([r.error for r in results], dtype=object),
            "resource": np.array([r.resource for r in results]),
            "family": np.array([r.architecture.model for r in results], dtype=object),
            "pipeline": np.array([str(r.architecture) for r in results], dtype=object),
            "config": np.array([r.architecture for r in results], dtype=object),
            "fit_seconds": np.array([r.train_seconds for r in results]),
            "predict_seconds": np.array([r.predict_seconds for r in results]),
            "seed": np.array([r.seed for r in results]),
            "worker": np.array([r.worker for r in results], dtype=object),
        }

    def _refit(self, result, X, y, sample_weight, seed):
        pipeline = self.space_.build(result.architecture, random_state=seed)
        fit_params = {} if sample_weight is None else {"model__sample_weight": sample_weight}
        return pipeline.fit(X, y, **fit_params)

    @staticmethod
    def _covered(folds, n_rows):
        """Rows with out-of-fold predictions: those of some fold's validation part."""
        covered = np.zeros(n_rows, dtype=bool)
        for _, valid in folds:
            covered[valid] = True
        return covered

    def _ensemble_score(self):
        """``score(targets, averaged, weights)`` of ensemble selection: the scorer on stored predictions."""
        classes = self._classes()

        def score(targets, averaged, weights):
            labels = targets if classes is None else classes[targets]  # the scorer sees the labels as given
            return prediction_score(self.scorer_, averaged, labels, classes, weights)

        return score

    def _score_seconds(self, y, folds, sample_weight):
        """What one score of ensemble selection takes: a timed score of (perfect) predictions of the out-of-fold rows."""
        if self.ensemble_size == 0:
            return 0.0
        covered = self._covered(folds, len(y))
        targets = y[covered]
        classes = self._classes()
        perfect = targets.astype(float) if classes is None else np.eye(len(classes))[targets]  # any scorer takes it
        weights = None if sample_weight is None else sample_weight[covered]
        score = self._ensemble_score()
        score(targets, perfect, weights)  # the first call pays for imports
        started = time.perf_counter()
        score(targets, perfect, weights)
        return time.perf_counter() - started

    def _check_parts(self, targets, seed):
        """``ENSEMBLE_CHECK_PARTS`` parts of the out-of-fold rows, stratified where every class allows it."""
        stratify = self._task == "classification" and np.bincount(targets).min() >= ENSEMBLE_CHECK_PARTS
        splitter = (StratifiedKFold if stratify else KFold)(ENSEMBLE_CHECK_PARTS, shuffle=True, random_state=seed % 2**31)
        return list(splitter.split(np.zeros(len(targets)), targets))

    def _ensemble(self, results, X, y, labels, sample_weight, folds, budget, base_seed):
        """Caruana's selection over the best full-fidelity pipelines' out-of-fold predictions, kept when it beats
        the best pipeline alone on held-out parts of those rows; members refit in time."""
        library = sorted(
            (i for i, r in enumerate(results) if r.ok and r.predictions is not None), key=lambda i: -results[i].score
        )[:ENSEMBLE_LIBRARY]
        if not library:
            return None
        covered = self._covered(folds, len(y))
        targets = y[covered]
        row_weights = None if sample_weight is None else sample_weight[covered]
        predictions = [results[i].predictions[covered] for i in library]
        score = self._ensemble_score()
        deadline = budget.refit_deadline(results)
        clock = time.perf_counter if deadline is None else deadline.clock
        started = clock()
        weights = ensemble_selection(predictions, targets, score, self.ensemble_size, sample_weight=row_weights)
        check_seconds = ENSEMBLE_CHECK_PARTS * (clock() - started)
        # With few rows the selection climbs on noise: it is kept only when it also wins on rows it did not see.
        if np.count_nonzero(weights) > 1 and (deadline is None or clock() + check_seconds <= deadline.at):
            single_best, ensemble = check_ensemble_selection(
                predictions, targets, score, self.ensemble_size, self._check_parts(targets, base_seed), row_weights
            )
            self.ensemble_check_ = {"single_best": single_best, "ensemble": ensemble}
            if ensemble <= single_best:
                return None
        members, kept = [], []
        rows_ratio = len(y) / float(np.mean([len(train) for train, _ in folds]))
        for position in np.argsort(-weights, kind="stable"):
            index = library[position]
            if weights[position] == 0:
                break
            if index == self.best_index_:
                members.append(self.best_pipeline_)
            elif deadline is None or deadline.clock() + refit_seconds(results[index], len(folds), rows_ratio) <= deadline.at:
                members.append(self._refit(results[index], X, labels, sample_weight, trial_seed(base_seed, index)))
            else:
                continue  # no time left to refit it: the ensemble goes on without it
            kept.append(position)
        if not kept:
            return None  # no member could be refit in time: the best pipeline predicts alone
        self.ensemble_indices_ = np.array([library[p] for p in kept])
        self.ensemble_weights_ = weights[kept] / weights[kept].sum()
        return WeightedEnsemble(members, self.ensemble_weights_, self._task, classes=self._classes())

    # --- after fit

    def _final_model(self):
        check_is_fitted(self, "best_pipeline_")
        return self.ensemble_ if self.ensemble_ is not None else self.best_pipeline_

    def _check_input(self, X):
        """A table checked against the fitted one; images as they are (the network checks their shape)."""
        if self.input_kind_ == "images":
            return X
        return validate_table(self, X, reset=False)

    def predict(self, X):
        """Predict with the ensemble (``ensemble_size > 0``), else the best pipeline.

        Parameters
        ----------
        X : DataFrame or array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        model = self._final_model()
        return model.predict(self._check_input(X))

    def leaderboard(self, top=None):
        """The full-fidelity pipelines that ran, best first: a dict of columns (``pandas.DataFrame(...)`` shows it).

        Columns: ``rank``, ``trial``, ``score``, ``fit_seconds`` (building,
        fitting and scoring every fold), ``predict_seconds`` (predicting the
        held-out rows), ``family``, ``pipeline`` (its steps) and
        ``ensemble_weight``.
        """
        check_is_fitted(self, "search_results_")
        results = self.search_results_
        top_resource = results["resource"][self.best_index_]
        rows = np.flatnonzero((results["status"] == "ok") & (results["resource"] == top_resource))
        rows = rows[np.argsort(-results["score"][rows], kind="stable")][:top]
        weights = dict(zip(self.ensemble_indices_, self.ensemble_weights_))
        board = {"rank": np.arange(1, len(rows) + 1)}
        board.update({name: results[name][rows] for name in ("trial", "score", "fit_seconds", "predict_seconds")})
        board.update({name: results[name][rows] for name in ("family", "pipeline")})
        board["ensemble_weight"] = np.array([weights.get(i, 0.0) for i in rows])
        return board

    def summary(self, top=5):
        """A readable account of the search: trials, the best pipeline, the ensemble."""
        check_is_fitted(self, "search_results_")
        results = self.search_results_
        n_failed = int((results["status"] == "failed").sum())
        lines = [
            f"{type(self).__name__}: {len(results['trial'])} trials ({n_failed} failed) in {self.search_seconds_:.1f} s, "
            f"scored by {self._scoring_name()}.",
            f"Best pipeline (trial {self.best_index_}, score {self.best_score_:.4f}): {self.best_config_}",
        ]
        if self.ensemble_ is not None:
            members = ", ".join(
                f"trial {i} ({w:.2f})" for i, w in zip(self.ensemble_indices_, self.ensemble_weights_)
            )
            lines.append(f"Ensemble of {len(self.ensemble_indices_)}: {members}")
        elif self.ensemble_check_ is not None:
            lines.append(
                f"No ensemble: on held-out out-of-fold rows the best pipeline alone scored "
                f"{self.ensemble_check_['single_best']:.4f}, ensemble selection {self.ensemble_check_['ensemble']:.4f}."
            )
        board = self.leaderboard(top)
        lines.append("Leaderboard:")
        for rank, trial, score, seconds, pipeline in zip(
            board["rank"], board["trial"], board["score"], board["fit_seconds"], board["pipeline"]
        ):
            lines.append(f"  {rank:>2}. trial {trial:>3}  {score:.4f}  {seconds:6.2f} s  {pipeline}")
        return "\n".join(lines)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        return tags


def _has_proba(estimator):
    """``predict_proba`` is there before fit, and after it when the model predicts with has it."""
    try:
        model = estimator._final_model()
    except Exception:  # not fitted: the method's check_is_fitted says so
        return True
    return hasattr(model, "predict_proba")


class AutoMLClassifier(ClassifierMixin, _AutoMLSearch):
    """Searches whole classification pipelines from a raw table: cleaning, a row sampler, features and a model.

    ``fit`` on images (``(n, H, W)`` or ``(n, C, H, W)`` arrays) runs
    :class:`~skautoml.AutoNASClassifier` with this fit's budget, trials,
    seed, jobs, verbosity and storage instead (``scoring``, ``cv``,
    ``families`` and the ensemble apply to tables). On a table, it
    cross-validates pipelines of a :class:`~skautoml.automl.PipelineSpace`
    on fixed folds, refits the best on all rows into ``best_pipeline_`` (a
    plain imbalanced-learn ``Pipeline``) and, when ``ensemble_size > 0``,
    builds ``ensemble_`` by Caruana's greedy selection over the best
    pipelines' out-of-fold predictions, kept when it beats the best pipeline
    alone on rows it did not climb on, refitting its members in the time
    left. ``predict`` uses the ensemble when there is one.

    The default search (``strategy='auto'``): **low-cost successive halving
    with a Gaussian process per family** (:class:`~skautoml.automl.PipelineHalving`).
    Each family's cheapest configuration runs first (cheapest family first,
    FLAML's low-cost starting points), then brackets of successive halving
    over the share of each fold's training rows (eta 3, from a ninth of
    them, at least 200 rows). 30 % of their new pipelines are random;
    a scikit-optimize Gaussian process over the knobs of the best family
    (or of a random one) proposes the others. Why: at small
    budgets most of what is learnt comes from a few cheap fits; halving
    spends full folds only on pipelines that were good on fewer rows; and
    a family's few knobs are what a model of the score learns from few
    trials. The other strategies of :mod:`skautoml.search` stay selectable
    (``'bayesian'``: one Gaussian process over the whole space; ``'bohb'``;
    ``'evolution'``; ...), and those that take starting points start from
    the low-cost pipelines too.

    Parameters
    ----------
    time_budget : float or None, default=60.0
        Seconds for the whole fit; the search keeps back what the refits
        are expected to take. A ``fit`` ends within the budget plus one trial.
    max_trials : int or None, default=None
        Trials at most (at any fidelity).
    scoring : str, callable or None, default=None
        A scikit-learn scorer. None: ``'balanced_accuracy'``, the mean recall
        of the classes: on imbalanced tables accuracy rewards predicting the
        majority class, and unlike log loss it needs no probabilities, which
        some families (SVC) do not give.
    cv : 'auto', int, splitter or list of (train, test), default='auto'
        'auto': 5 stratified folds, or one stratified hold-out of 20 % from
        10,000 rows (5 fits per trial cost too much there, and 2,000 held-out
        rows already score precisely). An int: that many stratified folds. A
        splitter: its folds (with ``groups`` if it takes them). A list: those
        index pairs.
    families : list of str or ModelFamily, or None
        Model families searched: ``'linear'``, ``'knn'``, ``'random_forest'``,
        ``'extra_trees'``, ``'hist_gradient_boosting'``, ``'svc'``, ``'mlp'``
        (scikit-learn's), ``'nas_mlp'`` (skautoml's NAS MLP, an architecture
        search in every fit: :func:`nas_mlp_family`), or your own
        :class:`~skautoml.automl.ModelFamily`. None: the first seven, and
        ``'nas_mlp'`` from ``NAS_MIN_ROWS`` (1,000) rows with a budget of at
        least ``NAS_MIN_BUDGET`` (300 s) or none.
    ensemble_size : int, default=10
        Greedy selection steps (members, counting repeats); 0: no ensemble.
        An ensemble of more than one pipeline is kept only when it beats the
        best pipeline alone on held-out parts of the out-of-fold rows (each
        choice made on the other parts); see ``ensemble_check_``.
    strategy : str or Strategy, default='auto'
        ``'auto'`` (above) or a strategy of :mod:`skautoml.search` by name
        or instance.
    trial_time_limit : 'auto', float or None, default='auto'
        Seconds one trial may take before it is stopped (it then runs in a
        worker process that is killed, so a slow configuration is stopped
        also at ``n_jobs=1``) and recorded as failed. 'auto': a quarter of
        ``time_budget``, none without one.
    initial_configs : sequence of PipelineConfig, default=()
        Pipelines to evaluate first (before the low-cost starts).
    n_jobs : int or None, default=None
        Trials run in parallel through joblib (Dask's backend scales them out).
    random_state : int, RandomState or None, default=None
    verbose : int, default=0
        A progress bar over trials when > 0.
    storage : str or None, default=None
        An SQLite file (standard-library ``sqlite3``) that keeps every finished
        trial, committed at once; it needs an int ``random_state``. A fit killed at any moment and started again
        with the same file, data and parameters (``n_jobs`` and ``verbose``
        may differ) goes on without running the stored trials again; with
        ``max_trials`` and no ``time_budget`` it ends with the result of an
        uninterrupted fit. Rounds keep the size of the first run's ``n_jobs``,
        so that the resumed search is the same search. A file of another
        search (other parameters or data) raises ValueError.

    Attributes
    ----------
    best_pipeline_ : imblearn.pipeline.Pipeline
        On images, a one-step ``Pipeline`` of the fitted ``AutoNASClassifier``.
    input_kind_ : {'table', 'images'}
        What ``fit`` was given.
    best_config_ : PipelineConfig
    best_score_ : float
    best_index_ : int
    ensemble_ : WeightedEnsemble or None
        None with ``ensemble_size=0``, or when the ensemble lost its check.
    ensemble_indices_, ensemble_weights_ : ndarray
        The trials of the ensemble's members and their weights.
    ensemble_check_ : dict or None
        The check's mean held-out scores, ``{'single_best': ..., 'ensemble': ...}``;
        None when it did not run (one pipeline chosen, no time left, no ensemble).
    classes_ : ndarray
    search_results_ : dict of ndarray
        One entry per trial: ``trial``, ``score`` (NaN when failed), ``status``,
        ``error``, ``resource`` (share of each fold's training rows), ``family``,
        ``pipeline`` (its steps, as text), ``config``, ``fit_seconds``,
        ``predict_seconds``, ``seed``, ``worker`` (``host:pid`` of the process
        that ran it, or that started the process of a time-limited trial).
    space_ : PipelineSpace
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had column names.

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from skautoml import AutoMLClassifier
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> clf = AutoMLClassifier(time_budget=None, max_trials=4, families=["linear", "random_forest"],
    ...                        cv=3, random_state=0).fit(X, y)
    >>> clf.best_config_.model, round(clf.best_score_, 2)
    ('linear', 0.97)
    >>> clf.predict(X[:3])
    array([0, 0, 0])
    """

    _task = "classification"

    def _targets(self, y, X):
        """The labels encoded as 0..n_classes-1 (for the trials' scores), and as given (for the refits)."""
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} labels; give one label per row.")
        check_classification_targets(y)
        self.classes_, encoded = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"AutoMLClassifier needs at least 2 classes in y; got 1 class: {self.classes_.tolist()}."
            )
        return encoded, y

    def _classes(self):
        return self.classes_

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Class probabilities of the ensemble (or the best pipeline), columns in the order of ``classes_``."""
        return self._final_model().predict_proba(self._check_input(X))


class AutoMLRegressor(RegressorMixin, _AutoMLSearch):
    """Searches whole regression pipelines from a raw table: cleaning, features and a model family.

    As :class:`AutoMLClassifier`, for a numeric target: no row sampler, the
    families ``'linear'`` (ridge), ``'knn'``, ``'random_forest'``,
    ``'extra_trees'``, ``'hist_gradient_boosting'``, ``'svr'``, ``'mlp'``,
    plain (not stratified) folds, and ``scoring=None`` is R².

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from skautoml import AutoMLRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = AutoMLRegressor(time_budget=None, max_trials=3, families=["linear"], cv=3, random_state=0).fit(X, y)
    >>> reg.best_config_.model, reg.predict(X[:2]).shape
    ('linear', (2,))
    """

    _task = "regression"

    def _targets(self, y, X):
        y = column_or_1d(np.asarray(y), warn=True)
        if len(y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} targets; give one target per row.")
        try:
            y = y.astype(float)
        except (TypeError, ValueError):
            raise ValueError("AutoMLRegressor needs numeric targets; y has values that are not numbers.") from None
        if not np.all(np.isfinite(y)):
            raise ValueError("y has missing or infinite values: drop those rows or fill in their targets.")
        return y, y
