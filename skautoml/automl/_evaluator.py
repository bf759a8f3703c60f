"""Cross-validation of one pipeline on fixed folds, under a time limit, keeping its out-of-fold predictions."""
import concurrent.futures
import math
import multiprocessing
import threading
import time
import warnings
from collections import OrderedDict

import numpy as np
from joblib.externals.loky import ProcessPoolExecutor
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import get_scorer
from sklearn.model_selection import train_test_split
from sklearn.utils import _safe_indexing

from ..search import TrialResult, failure_text
from ._space import CLEANING_STEPS

#: Seconds an idle trial worker waits for the next trial before it exits.
WORKER_IDLE_SECONDS = 60
#: Bytes of cleaned fold data a process keeps for later trials (see ``cleaned_fold``).
CLEANED_CACHE_BYTES = 256 * 2**20

# (data token, cleaning options, fold, rows) -> (cleaned training rows, cleaned held-out rows, bytes), oldest first.
_CLEANED = OrderedDict()
# Each thread's worker process for trials under a time limit (threads of a Dask worker each have their own).
_WORKERS = threading.local()


class TrialTimeout(RuntimeError):
    """A trial ran past its time limit and its worker process was stopped."""


class _Predictions(BaseEstimator):
    """Stored predictions behind the estimator interface, so any scikit-learn scorer scores them.

    ``X`` is the array of row positions whose predictions are returned.
    """

    def __init__(self, values, classes=None):
        self.values = values
        self.classes = classes

    def __sklearn_is_fitted__(self):
        return True

    @property
    def classes_(self):
        return self.classes

    def predict(self, X):
        rows = np.asarray(X).ravel().astype(int)
        if self.classes is None:
            return self.values[rows]
        return self.classes[np.argmax(self.values[rows], axis=1)]

    def predict_proba(self, X):
        return self.values[np.asarray(X).ravel().astype(int)]


class _ClassPredictions(ClassifierMixin, _Predictions):
    pass


class _ValuePredictions(RegressorMixin, _Predictions):
    pass


def prediction_score(scorer, predictions, y, classes=None, sample_weight=None):
    """``scorer``'s score of stored ``predictions`` of targets ``y``.

    Classification: ``predictions`` are class probabilities of ``classes``
    (one-hot rows for a model without ``predict_proba``); regression: values.
    """
    model = _ValuePredictions(predictions) if classes is None else _ClassPredictions(predictions, classes)
    rows = np.arange(len(y)).reshape(-1, 1)
    if sample_weight is None:
        return float(scorer(model, rows, y))
    return float(scorer(model, rows, y, sample_weight=sample_weight))


def _fold_rows(train, y, fraction, fold):
    """The share ``fraction`` of the training rows of ``fold``: the same rows for every trial (stratified when possible)."""
    if fraction >= 1:
        return train
    n = max(2, int(round(fraction * len(train))))
    if n >= len(train):
        return train
    try:
        kept, _ = train_test_split(train, train_size=n, stratify=y[train], random_state=fold)
    except ValueError:  # a class too rare to stratify, or a regression target
        kept, _ = train_test_split(train, train_size=n, random_state=fold)
    return np.sort(kept)


def _model_predictions(model, X, n_classes):
    """Class probabilities over ``range(n_classes)`` (one-hot for a model without them), or values."""
    if n_classes is None:
        return np.asarray(model.predict(X), dtype=float)
    columns = np.asarray(model.classes_).astype(int)
    n_rows = _n_rows(X)
    probabilities = np.zeros((n_rows, n_classes))
    if hasattr(model, "predict_proba"):
        probabilities[:, columns] = model.predict_proba(X)
    else:
        probabilities[np.arange(n_rows), np.asarray(model.predict(X)).astype(int)] = 1.0
    return probabilities


def _n_rows(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


def cleaned_fold(cleaner, X, rows, valid, key):
    """``X``'s ``rows`` and ``valid`` rows through ``cleaner`` fitted on ``rows``, from this process's cache when seen.

    Every pipeline starts with its cleaning steps, and pipelines that share
    the cleaning options clean a fold identically (the cleaner is
    deterministic), so a search cleans each (options, fold, share of rows)
    once per process, not once per trial (on 600 rows the cleaner's fit
    costs 5-15 times a logistic regression's). ``key`` None caches nothing.
    The cache holds at most ``CLEANED_CACHE_BYTES``, dropping the oldest.
    """
    if key is not None and key in _CLEANED:
        _CLEANED.move_to_end(key)
        return _CLEANED[key][:2]
    train = cleaner.fit_transform(_safe_indexing(X, rows))
    held_out = cleaner.transform(_safe_indexing(X, valid))
    if key is not None:
        _CLEANED[key] = (train, held_out, _nbytes(train) + _nbytes(held_out))
        while sum(entry[2] for entry in _CLEANED.values()) > CLEANED_CACHE_BYTES and len(_CLEANED) > 1:
            _CLEANED.popitem(last=False)
    return train, held_out


def _nbytes(table):
    """Bytes of an array or a DataFrame (a cleaner under ``set_output(transform='pandas')`` gives one)."""
    if hasattr(table, "memory_usage"):
        return int(table.memory_usage(deep=False).sum())
    return int(getattr(table, "nbytes", 0))


def forget_cleaned(data_token):
    """Drop this process's cached folds of ``data_token`` (a fit calls it when its search is over)."""
    for key in [key for key in _CLEANED if key[0] == data_token]:
        del _CLEANED[key]


def cross_validate_config(
    space, config, X, y, folds, fraction, seed, scoring, classes=None, sample_weight=None, data_token=None
):
    """Fit ``config``'s pipeline on each fold's training rows (a share ``fraction`` of them) and predict the rest.

    The cleaning steps come from :func:`cleaned_fold` (cached under
    ``data_token``, which names this data), the rest of the pipeline is fitted
    on its output. Returns ``(fold_scores, out_of_fold, seconds,
    predict_seconds)``: ``seconds`` those of the whole call, ``predict_seconds``
    those of predicting the cleaned held-out rows; ``out_of_fold`` holds every
    row's prediction by the fold that held it out (the mean of the folds', when
    repeated folds hold it out more than once; rows no fold holds out: NaN).
    Warnings of the candidates (constant features, convergence) are silenced:
    a search runs hundreds of them, and a failure is recorded as its error.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _cross_validate(space, config, X, y, folds, fraction, seed, scoring, classes, sample_weight, data_token)


def _cross_validate(space, config, X, y, folds, fraction, seed, scoring, classes, sample_weight, data_token):
    scorer = get_scorer(scoring) if isinstance(scoring, str) else scoring
    n_classes = None if classes is None else len(classes)
    shape = (len(y),) if n_classes is None else (len(y), n_classes)
    summed, times_held = np.zeros(shape), np.zeros(len(y))
    scores, predict_seconds, started_all = [], 0.0, time.perf_counter()
    for fold, (train, valid) in enumerate(folds):
        rows = _fold_rows(train, y, fraction, fold)
        pipeline = space.build(config, random_state=seed)
        key = None if data_token is None else (data_token, config.cleaning, fold, len(rows))
        cleaned, held_out = cleaned_fold(pipeline[:CLEANING_STEPS], X, rows, valid, key)
        rest = pipeline[CLEANING_STEPS:]
        fit_params = {} if sample_weight is None else {"model__sample_weight": sample_weight[rows]}
        rest.fit(cleaned, y[rows], **fit_params)
        started = time.perf_counter()
        predictions = _model_predictions(rest, held_out, n_classes)
        predict_seconds += time.perf_counter() - started
        summed[valid] += predictions
        times_held[valid] += 1
        weights = None if sample_weight is None else sample_weight[valid]
        targets = y[valid] if classes is None else classes[y[valid]]  # the scorer sees the labels as given
        scores.append(prediction_score(scorer, predictions, targets, classes, weights))
    with np.errstate(invalid="ignore"):  # 0 / 0: rows no fold holds out
        out_of_fold = summed / (times_held if n_classes is None else times_held[:, None])
    return scores, out_of_fold, time.perf_counter() - started_all, predict_seconds


def _loaded(*objects):
    """Nothing: unpickling ``objects`` in a worker imports their modules."""


def call_with_time_limit(function, args, seconds, preload=()):
    """``function(*args)`` in a worker process, stopped after ``seconds``: its result, or :class:`TrialTimeout`.

    Each thread has its own worker process (a loky executor of one
    worker), kept for the trials after the first, so that trials of
    several threads (a Dask worker's) neither queue behind one another nor
    stop one another. A trial that runs past its limit is stopped by
    killing its worker (the thread's next trial starts a new one). This is
    what makes a trial stoppable also at ``n_jobs=1``: scikit-learn
    estimators offer no way to interrupt ``fit``, and a thread cannot be
    killed. The worker first unpickles ``preload`` without a limit, so that
    its start-up and imports (seconds for pandas and imbalanced-learn) do
    not count as the trial's.

    A daemonic process may not start one (Python forbids it; Dask's workers
    are daemonic unless ``distributed.worker.daemon`` is False): there the
    trial runs in the process itself, without its limit.
    """
    if multiprocessing.current_process().daemon:
        return function(*args)
    executor = getattr(_WORKERS, "executor", None)
    if executor is None:
        executor = _WORKERS.executor = ProcessPoolExecutor(max_workers=1, timeout=WORKER_IDLE_SECONDS)
    executor.submit(_loaded, *preload).result()
    future = executor.submit(function, *args)
    try:
        return future.result(timeout=seconds)
    except concurrent.futures.TimeoutError:
        _WORKERS.executor = None
        executor.shutdown(wait=False, kill_workers=True)
        raise TrialTimeout(f"the trial ran past its time limit of {seconds:.1f} s and was stopped") from None


class PipelineEvaluator:
    """Turns a :class:`~skautoml.automl.PipelineConfig` into a :class:`~skautoml.search.TrialResult` by cross-validation.

    Every trial runs on the same ``folds``; at a data fraction below 1 each
    fold trains on the same stratified share of its training rows for every
    trial, and is scored on all of its held-out rows. The result's ``score``
    is the mean fold score; at full fidelity its ``predictions`` are the
    out-of-fold predictions (class probabilities, or values) that ensemble
    selection uses. A trial that raises is recorded as failed with its
    error; a trial that runs past ``time_limit`` seconds, or past the
    search's deadline, is stopped (it runs in a worker process then, see
    :func:`call_with_time_limit`) and recorded as failed.

    Parameters
    ----------
    space : PipelineSpace
    scoring : str or callable
        A scikit-learn scorer (higher is better).
    folds : list of (train, valid) index arrays
    classes : ndarray or None
        The class labels; the targets ``y`` a trial gets are indices into it
        (``0..len(classes)-1``), and the scorer sees the labels themselves
        (so a scorer's ``pos_label`` names a label as given). None for regression.
    time_limit : float or None, default=None
        Seconds one trial may take; None: only the search's deadline (if any) limits it.
    sample_weight : ndarray or None, default=None
        Weights of the rows, passed to the model's ``fit`` and to the scorer.
    data_token : str or None, default=None
        A name unique to this data (``X``, ``y`` and ``folds``), under which
        each process keeps the cleaned folds for later trials
        (:func:`cleaned_fold`); None cleans every fold for every trial.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.model_selection import StratifiedKFold
    >>> from skautoml.automl import PipelineEvaluator, PipelineSpace
    >>> from skautoml.search import Fidelity
    >>> X, y = load_iris(return_X_y=True)
    >>> space = PipelineSpace(families=("linear",))
    >>> folds = list(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    >>> evaluator = PipelineEvaluator(space, "balanced_accuracy", folds, classes=np.array(["setosa", "versicolor", "virginica"]))
    >>> result = evaluator.evaluate(space.low_cost_configs()[0], X, y, Fidelity(1), seed=0)
    >>> result.status, round(result.score, 2), result.predictions.shape
    ('ok', 0.95, (150, 3))
    """

    def __init__(self, space, scoring, folds, classes=None, time_limit=None, sample_weight=None, data_token=None):
        self.space = space
        self.data_token = data_token
        self.scoring = scoring
        self.folds = folds
        self.classes = classes
        self.time_limit = time_limit
        self.sample_weight = sample_weight

    def _limit(self, deadline):
        """Seconds the trial may run, or None for no limit."""
        limits = [] if self.time_limit is None else [self.time_limit]
        if deadline is not None:
            limits.append(deadline.at - deadline.clock())
        return max(min(limits), 0.1) if limits else None

    def evaluate(self, config, X, y, fidelity, seed, deadline=None):
        started = time.perf_counter()
        fraction = float(fidelity.data_fraction)
        args = (
            self.space, config, X, y, self.folds, fraction, seed, self.scoring, self.classes, self.sample_weight,
            self.data_token,
        )
        limit = self._limit(deadline)
        try:
            if limit is None:
                scores, out_of_fold, seconds, predict_seconds = cross_validate_config(*args)
            else:
                scores, out_of_fold, seconds, predict_seconds = call_with_time_limit(
                    cross_validate_config, args, limit, preload=(self.space,)
                )
        except Exception as exc:  # a failing candidate is recorded and the search goes on
            return TrialResult(
                config, math.nan, "failed", error=failure_text(exc), seed=seed,
                train_seconds=time.perf_counter() - started,
            )
        score = float(np.mean(scores))
        if not math.isfinite(score):
            return TrialResult(
                config, math.nan, "failed", error=f"the score was {score}", seed=seed,
                train_seconds=time.perf_counter() - started,
            )
        return TrialResult(
            config,
            score,
            "ok",
            seed=seed,
            train_seconds=seconds,  # in the worker: not its start-up or the data's transfer
            predict_seconds=predict_seconds,
            predictions=out_of_fold.astype(np.float32) if fraction >= 1 else None,
        )
