"""AutoNASClassifier: neural architecture search behind the scikit-learn API."""
import copy
import dataclasses
import math
import warnings
from numbers import Integral, Real

import numpy as np
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._utils._budget import Budget
from ._utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ._utils._device import resolve_device
from ._utils._validation import validate_network_input
from .nas._search import run_search, trial_seed
from .nas.evaluate import Evaluator, Fidelity
from .nas.space import CNNSpace, MLPSpace
from .nas.strategy import STRATEGIES

#: Names accepted by ``AutoNASClassifier(search_space=...)``.
SPACES = {"mlp": MLPSpace, "cnn": CNNSpace}

#: Columns of ``search_results_``, in order.
RESULT_COLUMNS = (
    "trial",
    "rank",
    "score",
    "status",
    "architecture",
    "params",
    "n_params",
    "flops",
    "epochs",
    "best_epoch",
    "train_seconds",
    "seed",
    "worker",
    "error",
)


class AutoNASClassifier(ClassifierMixin, BaseEstimator):
    """Neural architecture search for classification, trained through skorch.

    ``fit`` splits off a stratified validation set, lets a search strategy
    propose architectures from a search space, trains each candidate for a
    few epochs (with early stopping) and scores it on the validation set,
    under a budget of trials and seconds. The best architecture is then
    trained again on all the data and used by ``predict``.

    Inputs are standardised inside the network (per feature, or per channel
    for images) with statistics of the training data, so raw features and
    raw pixel values work.

    Parameters
    ----------
    search_space : {'auto', 'mlp', 'cnn'} or SearchSpace, default='auto'
        Where architectures come from. ``'auto'`` uses :class:`~skautoml.nas.CNNSpace`
        for images and :class:`~skautoml.nas.MLPSpace` otherwise.
    strategy : {'evolution', 'random'} or Strategy, default='evolution'
        How architectures are proposed: regularised evolution or random search.
        An instance is copied, never changed.
    max_trials : int or None, default=20
        Trials to run at most. At least one of ``max_trials`` and
        ``time_budget`` must be set.
    time_budget : float or None, default=None
        Seconds for the whole ``fit``, refit included. No trial starts when the
        time left would not hold it and the expected refit, and trials stop
        training at the end of the epoch that reaches the time kept for the
        refit. Should the refit take longer than expected, it stops once it
        has overrun the budget by the length of the longest trial, with a
        warning: ``fit`` overshoots by no more than one trial's length.
    max_epochs : int, default=30
        Epochs of one trial; early stopping may end it sooner.
    validation_fraction : float, default=0.2
        Share of the training data held out (stratified) to score trials.
    data_fraction : float, default=1.0
        Share of the remaining training data each trial trains on (a lower
        fidelity makes trials cheaper).
    batch_size : int, default=64
    lr : float, default=3e-3
        Learning rate of AdamW, annealed on a cosine schedule.
    patience : int or None, default=8
        Early-stopping patience (epochs without a lower validation loss).
    input_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of each row when
        2-D input holds flattened images.
    device : str, default='auto'
        Torch device; ``'auto'`` picks CUDA when available.
    n_jobs : int, default=None
        Trials run in parallel through joblib; under
        ``joblib.parallel_backend('dask')`` they run on the Dask workers.
    random_state : int, RandomState instance or None, default=None
        Seeds the split, the strategy and each trial (a trial's seed depends
        only on this and the trial's index).
    verbose : int, default=0
        1: a progress bar over trials and a summary at the end; 2: also the
        epochs of the refit.
    refit : bool, default=True
        Train the best architecture on all the data. With ``refit=False`` the
        search results are kept but the estimator cannot predict.

    Attributes
    ----------
    best_architecture_ : architecture value of the search space
    best_params_ : dict
        The decisions of the best architecture.
    best_score_ : float
        Its validation accuracy.
    best_index_ : int
        Its row in ``search_results_``.
    best_estimator_ : skorch.NeuralNetClassifier
        The best architecture trained on all the data (only with ``refit=True``).
    search_results_ : dict of numpy arrays
        One row per trial, like ``cv_results_``; ``pandas.DataFrame(search_results_)``
        makes a table. Columns: ``trial`` (index), ``rank`` (1 is best; failed
        trials rank last), ``score`` (validation accuracy, NaN when failed),
        ``status`` ('ok' or 'failed'), ``architecture`` (the value),
        ``params`` (its decisions as a dict), ``n_params``, ``flops`` (of one
        forward pass of one sample), ``epochs`` (run), ``best_epoch`` (scored),
        ``train_seconds``, ``seed``, ``worker`` (host:pid that ran it) and
        ``error`` (text of a failure, else None).
    search_space_ : SearchSpace
        The space searched.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Features of 2-D input, or values per image for image input.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of int
        Shape of one sample as the network sees it.
    device_ : str
        The device used.
    search_seconds_, refit_seconds_ : float
        Wall time of the search and of the refit.

    See Also
    --------
    skautoml.nas.CNNSpace, skautoml.nas.MLPSpace : the built-in search spaces.
    skautoml.nas.RegularizedEvolution, skautoml.nas.RandomSearch : the strategies.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml import AutoNASClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoNASClassifier(max_trials=2, max_epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(X[:3]).shape
    (3,)
    >>> len(clf.search_results_["score"])
    2
    """

    _parameter_constraints = {
        "search_space": [StrOptions({"auto", *SPACES}), HasMethods(["sample", "mutate", "encode", "build"])],
        "strategy": [StrOptions(set(STRATEGIES)), HasMethods(["reset", "ask", "tell"])],
        "max_trials": [Interval(Integral, 1, None, closed="left"), None],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "data_fraction": [Interval(Real, 0, 1, closed="right")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "input_shape": [tuple, list, None],
        "device": [str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "refit": ["boolean"],
    }

    def __init__(
        self,
        search_space="auto",
        strategy="evolution",
        max_trials=20,
        time_budget=None,
        max_epochs=30,
        validation_fraction=0.2,
        data_fraction=1.0,
        batch_size=64,
        lr=3e-3,
        patience=8,
        input_shape=None,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        refit=True,
    ):
        self.search_space = search_space
        self.strategy = strategy
        self.max_trials = max_trials
        self.time_budget = time_budget
        self.max_epochs = max_epochs
        self.validation_fraction = validation_fraction
        self.data_fraction = data_fraction
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.input_shape = input_shape
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.refit = refit

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Search architectures on ``X, y`` and (with ``refit``) train the best on all of it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,)
            Class labels (strings or integers).

        Returns
        -------
        self : AutoNASClassifier
        """
        budget = Budget(self.max_trials, self.time_budget, self.max_epochs).start()
        if self.max_trials is None and self.time_budget is None:
            raise ValueError("max_trials and time_budget are both None: set at least one of them to bound the search.")
        X, y = validate_network_input(self, X, y, reset=True, input_shape=self.input_shape)
        y_encoded = self._encode_labels(y)
        self.device_ = resolve_device(self.device)
        self.search_space_ = self._resolve_space()
        rng = check_random_state(self.random_state)
        base_seed = int(rng.randint(2**31 - 1))
        data = self._split(X, y_encoded, rng)

        evaluator = Evaluator(
            self.search_space_,
            self.input_shape_,
            len(self.classes_),
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            device=self.device_,
        )
        strategy = self._resolve_strategy().reset(self.search_space_, base_seed)

        # Small networks cost per batch more than per sample: estimate in batches.
        refit_batches = math.ceil(len(X) / self.batch_size)
        trial_batches = math.ceil(self.data_fraction * len(data[0]) / self.batch_size)

        def refit_seconds(results):
            """Seconds to keep back for the refit, given the trials so far."""
            if not self.refit or self.time_budget is None:
                return 0.0
            best = max((r for r in results if r.ok), key=lambda r: r.score, default=None)
            if best is None:
                # Before any result: split the budget so that a first trial and
                # its refit on all the data fit together.
                return self.time_budget * refit_batches / (refit_batches + trial_batches)
            # The refit repeats the best trial up to its best epoch, on all the data.
            seconds_per_epoch = best.train_seconds / max(best.epochs, 1)
            return seconds_per_epoch * refit_batches / trial_batches * best.best_epoch

        results = run_search(
            strategy,
            evaluator,
            data,
            Fidelity(budget.max_epochs, self.data_fraction),
            budget,
            base_seed,
            n_jobs=self.n_jobs,
            refit_seconds=refit_seconds,
            verbose=self.verbose,
        )
        self.search_seconds_ = budget.elapsed
        self._record(results)
        if hasattr(self, "best_estimator_"):
            del self.best_estimator_  # from an earlier fit
        if self.refit:
            best = results[self.best_index_]
            self.best_estimator_ = evaluator.fit_final(
                self.best_architecture_,
                X,
                y_encoded,
                epochs=max(best.best_epoch, 1),
                schedule_epochs=self.max_epochs,
                seed=trial_seed(base_seed, self.best_index_),
                deadline=self._refit_deadline(budget),
                verbose=int(self.verbose >= 2),
            )
            refit_epochs = len(self.best_estimator_.history)
            if refit_epochs < best.best_epoch:
                warnings.warn(
                    f"time_budget={self.time_budget} ran out during the refit after {refit_epochs} "
                    f"of {best.best_epoch} epochs; the final model may be undertrained. Raise "
                    "time_budget or lower max_epochs.",
                    UserWarning,
                )
        self.refit_seconds_ = budget.elapsed - self.search_seconds_
        if self.verbose:
            print(self.summary())
        return self

    def _refit_deadline(self, budget):
        """The budget's end plus the longest trial: the overshoot a time budget allows."""
        if budget.deadline is None:
            return None
        return budget.deadline + float(self.search_results_["train_seconds"].max())

    def _encode_labels(self, y):
        check_classification_targets(y)
        self.classes_, y_encoded, counts = np.unique(y, return_inverse=True, return_counts=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 classes; y holds 1 class ({self.classes_[0].item()!r})."
            )
        n_valid = math.ceil(self.validation_fraction * len(y))
        if counts.min() < 2 or n_valid < len(self.classes_) or len(y) - n_valid < len(self.classes_):
            rare = self.classes_[np.argmin(counts)].item()
            raise ValueError(
                f"Too few samples for a stratified validation split: class {rare!r} has "
                f"{counts.min()} sample(s) and validation_fraction={self.validation_fraction} "
                f"holds out {n_valid} of {len(y)} samples for {len(self.classes_)} classes. Each "
                "class needs at least 2 samples, and both parts at least one sample per class: "
                "collect more data or change validation_fraction."
            )
        return y_encoded.astype(np.int64)

    def _resolve_space(self):
        images = len(self.input_shape_) == 3
        if self.search_space == "auto":
            return CNNSpace() if images else MLPSpace()
        space = SPACES[self.search_space]() if isinstance(self.search_space, str) else self.search_space
        if getattr(space, "takes_images", False) and not images:
            raise ValueError(
                f"{type(space).__name__} needs images, but X is tabular with {self.n_features_in_} "
                "features. Pass (N, H, W) or (N, C, H, W) arrays, set input_shape for flattened "
                "images, or use search_space='mlp'."
            )
        return space

    def _resolve_strategy(self):
        if isinstance(self.strategy, str):
            return STRATEGIES[self.strategy]()
        return copy.deepcopy(self.strategy)

    def _split(self, X, y, rng):
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=rng.randint(2**31 - 1)
        )
        train, valid = next(splitter.split(np.zeros(len(y)), y))
        return X[train], y[train], X[valid], y[valid]

    def _record(self, results):
        scores = np.array([r.score if r.ok else np.nan for r in results])
        ok = np.isfinite(scores)
        if not ok.any():
            errors = sorted({r.error for r in results})
            raise ValueError(
                f"All {len(results)} trials failed, so no architecture could be chosen. "
                f"Errors: {errors[:3]}. Check the data, the search space and lr."
            )
        rank = rankdata(np.where(ok, -scores, np.inf), method="min").astype(int)
        columns = {
            "trial": np.arange(len(results)),
            "rank": rank,
            "score": scores,
            "status": np.array([r.status for r in results]),
            "architecture": _object_array([r.architecture for r in results]),
            "params": _object_array([_describe(r.architecture) for r in results]),
            "n_params": np.array([r.n_params for r in results]),
            "flops": np.array([r.flops for r in results]),
            "epochs": np.array([r.epochs for r in results]),
            "best_epoch": np.array([r.best_epoch for r in results]),
            "train_seconds": np.array([r.train_seconds for r in results]),
            "seed": np.array([r.seed for r in results]),
            "worker": np.array([r.worker for r in results]),
            "error": _object_array([r.error for r in results]),
        }
        self.search_results_ = {name: columns[name] for name in RESULT_COLUMNS}
        self.n_trials_ = len(results)
        # The first of the best: ties go to the earlier (usually cheaper to find) trial.
        self.best_index_ = int(np.nanargmax(scores))
        self.best_score_ = float(scores[self.best_index_])
        self.best_architecture_ = results[self.best_index_].architecture
        self.best_params_ = _describe(self.best_architecture_)

    def leaderboard(self, top=10):
        """The ``top`` trials by validation score, as a dict of arrays (best first).

        The columns are those of ``search_results_``;
        ``pandas.DataFrame(clf.leaderboard())`` shows it as a table.
        """
        check_is_fitted(self, "search_results_")
        order = np.lexsort((self.search_results_["trial"], self.search_results_["rank"]))[:top]
        return {name: column[order] for name, column in self.search_results_.items()}

    def summary(self, top=10):
        """A readable report of the search: counts, times and the leaderboard."""
        check_is_fitted(self, "search_results_")
        results = self.search_results_
        n_failed = int((results["status"] == "failed").sum())
        lines = [
            f"{type(self).__name__}: {self.n_trials_} trials ({n_failed} failed) in "
            f"{self.search_seconds_:.1f} s on {self.device_}; refit {self.refit_seconds_:.1f} s.",
            f"Best validation accuracy {self.best_score_:.4f} (trial {self.best_index_}): "
            f"{self.best_architecture_}",
            "",
            f"{'rank':>4} {'trial':>5} {'score':>7} {'params':>9} {'MFLOPs':>8} {'epochs':>6} {'seconds':>7}  architecture",
        ]
        board = self.leaderboard(top)
        for row in range(len(board["trial"])):
            score = board["score"][row]
            lines.append(
                f"{board['rank'][row]:>4} {board['trial'][row]:>5} "
                f"{'failed' if math.isnan(score) else f'{score:.4f}':>7} {board['n_params'][row]:>9,} "
                f"{board['flops'][row] / 1e6:>8.2f} {board['epochs'][row]:>6} "
                f"{board['train_seconds'][row]:>7.1f}  {board['architecture'][row]}"
            )
        return "\n".join(lines)

    def _network_input(self, X):
        check_is_fitted(self, "search_results_")
        if not hasattr(self, "best_estimator_"):
            raise AttributeError(
                f"This {type(self).__name__} was fitted with refit=False and has no model to "
                "predict with; fit it with refit=True."
            )
        return validate_network_input(self, X, reset=False, input_shape=self.input_shape)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_``.

        Parameters
        ----------
        X : array-like shaped like the training data

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        X = self._network_input(X)
        proba = self.best_estimator_.predict_proba(X).astype(np.float64)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X):
        """Predicted class labels.

        Parameters
        ----------
        X : array-like shaped like the training data

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    def __setstate__(self, state):
        super().__setstate__(state)
        # skorch loads a model saved on a GPU onto the CPU when no GPU is left.
        if hasattr(self, "best_estimator_"):
            self.device_ = str(self.best_estimator_.device)


def _describe(architecture):
    """The decisions of an architecture as a dict."""
    if dataclasses.is_dataclass(architecture):
        return dataclasses.asdict(architecture)
    return {"architecture": architecture}


def _object_array(values):
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
