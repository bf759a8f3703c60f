"""AutoNASClassifier: neural architecture search behind the scikit-learn API."""
import copy
import dataclasses
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._utils._random import SEED_MAX, torch_seeded
from ._utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ._utils._device import resolve_device
from ._utils._validation import validate_network_input
from .nas import (
    NAS_STRATEGIES, SPACES, STRATEGIES, CNNSpace, CostLimits, CurveExtrapolation, Evaluator, FeasibleSpace, FitToTime,
    LatencyTable, MedianStopping, MLPSpace, MorphismSpace, SearchPlan, plan_search, stem_stride_for,
)

from .prep.augment import AugmentPolicySearch, BatchAugment, RandAugment, RandomCrop, UniformAugment
from .search import (
    RESOURCES, Budget, Fidelity, RefitReserve, TrialResult, fidelity_at, resolve_strategy, run_search, trial_seed,
)

#: Names accepted by ``AutoNASClassifier(augment=...)``, besides 'auto'.
AUGMENTATIONS = {
    "randaugment": lambda: BatchAugment(RandAugment()),
    "uniformaugment": lambda: BatchAugment(UniformAugment()),
    "mixup": lambda: BatchAugment(mix="mixup"),
    "cutmix": lambda: BatchAugment(mix="cutmix"),
}


def light_augment(input_shape):
    """``augment='light'``: random whole-pixel shifts of up to 7.5 % of the side (2 pixels of 28) for images
    of at least 16 pixels a side, None for smaller images (a pixel of 8 is an eighth of the digit) and tables."""
    if stem_stride_for(input_shape) == 1:
        return None
    return BatchAugment(RandomCrop(magnitude=0.3, probability=1.0))


#: A planned refit's seconds per epoch over its measured training steps (the optimiser step, batching):
#: on 2 CPU cores, refits at 28x28 and 32x32 took 0.9-1.0 times their steps (benchmarks/README.md,
#: bench_nas_default); the margin keeps the cosine schedule from being cut by the deadline.
REFIT_OVERHEAD = 1.2
#: The most epochs a planned refit's re-plan (:class:`~skautoml.nas.FitToTime`) may give it, over those priced.
REFIT_REPLAN_LIMIT = 3

#: Names accepted by ``AutoNASClassifier(trial_stopping=...)``.
TRIAL_STOPPING = {"median": MedianStopping, "extrapolation": CurveExtrapolation}

#: Columns of ``search_results_``, in order.
RESULT_COLUMNS = (
    "trial",
    "rank",
    "score",
    "status",
    "resource",
    "architecture",
    "params",
    "n_params",
    "flops",
    "epochs",
    "best_epoch",
    "stopped_early",
    "curve",
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
    search_space : {'auto', 'mlp', 'cnn', 'cell', 'factorized', 'hierarchical', 'morphism'} \
            or SearchSpace, default='auto'
        Where architectures come from. ``'auto'`` uses :class:`~skautoml.nas.CNNSpace`
        for images and :class:`~skautoml.nas.MLPSpace` otherwise; ``'cell'``
        (:class:`~skautoml.nas.CellSpace`, NASNet/DARTS cells), ``'factorized'``
        (:class:`~skautoml.nas.FactorizedSpace`, MnasNet-like stages) and
        ``'hierarchical'`` (:class:`~skautoml.nas.HierarchicalSpace`, motifs of
        motifs) take images (``'auto'``, ``'cnn'`` and ``'cell'`` give images of at
        least 16 pixels a side a stem of stride 2, see :func:`~skautoml.nas.plan_search`;
        a space passed as an instance keeps its ``stem_stride``); ``'morphism'`` is
        :class:`~skautoml.nas.MorphismSpace` (chains that morphisms grow) of the
        input's kind.
    strategy : {'auto', 'evolution', 'random', 'bayesian', 'reinforce', 'evolution+smbo', \
            'successive_halving', 'hyperband', 'bohb', 'hill_climbing', 'morphism_bo', 'spos', 'enas', \
            'darts', 'gdas', 'pcdarts'} \
            or Strategy, default='auto'
        How architectures are proposed. ``'auto'`` chooses from the data
        size, the budget and measured training-step times
        (:func:`~skautoml.nas.plan_search`; ``plan_`` says what and why):
        without a time budget, or when it holds 40 full trials and the
        refit, regularised evolution at full fidelity; otherwise successive
        halving of 27 architectures over epochs, starting with a known-good
        one that goes up every rung as a baseline, the last half of the
        budget kept for the refit (which trains the epochs the time left
        holds), and the full-fidelity epochs (at most ``max_epochs``) and, if
        need be, the share of the training split cut so that a bracket fits
        the first half. The others:
        regularised evolution, random search,
        Bayesian optimisation (scikit-optimize's Gaussian process), a REINFORCE
        recurrent controller, evolution whose children a surrogate screens, successive
        halving, Hyperband and BOHB over the fidelity (see ``resource``), or
        morphism hill climbing and morphism Bayesian optimisation, which grow
        trained networks by function-preserving steps (they need
        ``search_space='morphism'``, train children from their parents'
        weights, and refit by training the best network further on all the data),
        or the one-shot strategies SPOS and ENAS, which train one weight-sharing
        supernet of the space ('cnn' or 'cell') and score architectures with its
        weights, and the gradient strategies DARTS, GDAS and PC-DARTS, which
        relax the cell supernet (``search_space='cell'``) (see
        :mod:`skautoml.nas.oneshot`: a trial is one architecture scored with
        inherited weights, after a supernet epoch while the supernet trains). An instance is copied, never changed. A strategy may also choose each
        trial's share of the full fidelity, by proposing
        :class:`~skautoml.search.Proposal` values (the multi-fidelity ones do;
        see ``resource``).
    max_trials : int, None or 'auto', default='auto'
        Trials to run at most, at any fidelity. ``'auto'``: 20 without a
        time budget, no limit with one (the budget ends the search). At
        least one of ``max_trials`` and ``time_budget`` must be set.
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
    trial_stopping : {None, 'median', 'extrapolation'} or TrialStoppingRule, default=None
        Stops a trial after an epoch when the validation-accuracy curves of
        the trials finished so far say it will not pay:
        :class:`~skautoml.nas.MedianStopping` (below the median of finished
        trials at the same epoch) or :class:`~skautoml.nas.CurveExtrapolation`
        (its extrapolated curve stays below the best finished trial), with
        their default settings; an instance is copied and reset, never
        changed. Only full-fidelity trials are stopped or learned from.
        Finished curves reach the rule between rounds of parallel trials, so
        with ``n_jobs`` > 1 trials of one round do not learn from one another
        and the search can differ from the sequential one (which it equals
        without a rule).
    resource : {'epochs', 'data', 'both'}, default='epochs'
        What the resource of a multi-fidelity strategy (successive halving,
        Hyperband, BOHB) cuts, for a trial at share ``r`` of the full
        fidelity: ``'epochs'`` trains ``ceil(r * max_epochs)`` epochs (at
        least 1, on a cosine schedule of that length), ``'data'`` trains on a
        stratified ``r * data_fraction`` of the training split, ``'both'``
        does both. Other strategies run every trial at full fidelity.
    input_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of each row when
        2-D input holds flattened images.
    augment : {'light', None, 'auto', 'randaugment', 'uniformaugment', 'mixup', 'cutmix'} or callable, \
            default='light'
        Augmentation of every training batch of image data, in every trial
        and in the refit (validation and prediction are never augmented).
        ``'light'`` shifts images of at least 16 pixels a side by up to 7.5 %
        of the side (2 pixels of 28; :class:`~skautoml.prep.augment.RandomCrop`)
        and leaves smaller images (a pixel of an 8x8 digit is an eighth of
        it) and tables alone; None never augments. The other names stand
        for :class:`~skautoml.prep.augment.RandAugment`,
        :class:`~skautoml.prep.augment.UniformAugment` and label-mixing mixup
        and cutmix (trained on the mixed soft labels). ``'auto'`` first
        searches a policy on the training split with
        :class:`~skautoml.prep.augment.AugmentPolicySearch` (Bayesian
        optimisation, 10 policies, proxy trainings of at most 15 epochs,
        within a quarter of ``time_budget`` when one is set; the search's
        time counts in the budget) and uses it when it beats no augmentation.
        A :class:`~skautoml.prep.augment.BatchAugment` combines a policy with
        mixup or cutmix; any other callable ``policy(images, generator)``
        (an op, a policy) is applied as it is.
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
    final_cells, final_channels : int or None, default=None
        Two-stage search (NASNet, DARTS): search cells on a shallow, narrow
        network, then stack the best cell deeper and wider for the final
        model. When either is set, the refit builds the best architecture in
        ``search_space_.deeper(n_cells=final_cells, initial_channels=final_channels)``
        (None keeps the searched value) and trains that network from scratch
        on all the data. Needs a space with a ``deeper`` method, such as
        :class:`~skautoml.nas.CellSpace` (``search_space='cell'``).
    final_epochs : int or None, default=None
        Epochs of the refit, on a cosine schedule of that length. None
        repeats the best trial's training up to its best epoch (or all
        ``max_epochs`` after a multi-fidelity search). Set it with
        ``final_cells`` to search at a low fidelity (small ``max_epochs``,
        ``data_fraction``) and train the final network at full fidelity.
        The time kept back for the refit (see ``time_budget``) is scaled by
        these epochs and by the measured time of a training step of the
        final network over the searched one.
    final : {'auto', 'retrain', 'inherit'}, default='auto'
        How the best architecture becomes ``best_estimator_``. ``'retrain'``
        trains it from scratch on all the data (two-stage: with
        ``final_cells`` / ``final_channels`` stacked deeper); ``'inherit'``
        starts from the weights the search trained and fine-tunes them on
        all the data (one stage: the subnet of a one-shot strategy's
        supernet, or a morphism strategy's trained network; other
        strategies keep no weights and raise). ``'auto'`` inherits for the
        morphism strategies and retrains otherwise. A refit from scratch
        after a one-shot search trains ``final_epochs`` or ``max_epochs``
        epochs (no trial trained the architecture on its own); the one-shot
        trials themselves train the supernet for their strategy's
        ``epochs_per_trial`` (not ``max_epochs``) on ``data_fraction`` of the
        training split.
    max_params, max_flops : int or None, default=None
        Most trainable parameters, and most FLOPs of one forward pass of one
        sample, of any network the search trains (see
        :class:`~skautoml.nas.CostLimits`). Costs are computed before
        training (:func:`~skautoml.nas.architecture_cost`); a candidate over
        a limit is drawn again by the strategy's sampling or mutation, and
        one proposed anyway is refused: never trained, not counted as a
        trial, told to the strategy as ``'infeasible'`` and recorded in
        ``search_results_`` (status ``'infeasible'``, trial -1, the reason in
        ``error``). When none of 200 sampled architectures (and the initial
        ones) is within the limits, ``fit`` raises before any training.
        The one-shot, gradient and morphism strategies do not take limits
        yet (``NotImplementedError``).
    max_latency_ms : float or None, default=None
        Most predicted inference latency of one batch, in milliseconds, from
        ``latency_table``.
    latency_table : LatencyTable or None, default=None
        Prices ``max_latency_ms``; None uses
        ``LatencyTable(batch_size=1, n_threads=1)`` on the training device
        (built once per machine, in ``~/.cache/skautoml``), calibrated on
        10 networks of the search space when it has no calibration yet.

    Attributes
    ----------
    best_architecture_ : architecture value of the search space
    best_params_ : dict
        The decisions of the best architecture.
    best_score_ : float
        Its validation accuracy. The best trial is the one of rank 1: with a
        multi-fidelity strategy, the best of the trials at the highest
        resource that was reached (full fidelity, when any trial ran at
        full fidelity), since a score at lower fidelity is not comparable.
    best_index_ : int
        Its row in ``search_results_``.
    best_estimator_ : skorch.NeuralNetClassifier
        The best architecture trained on all the data (only with ``refit=True``).
    search_results_ : dict of numpy arrays
        One row per trial, like ``cv_results_``; ``pandas.DataFrame(search_results_)``
        makes a table. Columns: ``trial`` (index), ``rank`` (1 is best: trials
        are ranked by ``resource``, highest first, then by ``score``; failed
        trials rank last), ``score`` (validation accuracy, NaN when failed),
        ``status`` ('ok' or 'failed'), ``resource`` (share of the full
        fidelity the trial ran at; 1.0 except under a multi-fidelity
        strategy), ``architecture`` (the value), ``params`` (its decisions as
        a dict), ``n_params``, ``flops`` (of one forward pass of one sample),
        ``epochs`` (run), ``best_epoch`` (scored), ``stopped_early`` (whether
        ``trial_stopping`` ended it), ``curve`` (validation accuracy after each
        epoch, a tuple; empty when failed), ``train_seconds``, ``seed``,
        ``worker`` (host:pid that ran it) and ``error`` (text of a failure,
        else None).
    search_space_ : SearchSpace
        The space searched.
    plan_ : SearchPlan
        The strategy and full fidelity the search ran with (chosen by
        ``strategy='auto'``, else the parameters as given), and why.
    final_space_ : SearchSpace
        The space ``best_estimator_`` was built in: ``search_space_``, or its
        deeper version when ``final_cells`` or ``final_channels`` is set.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
        Features of 2-D input, or values per image for image input.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of int
        Shape of one sample as the network sees it.
    device_ : str
        The device used.
    augment_ : BatchAugment or None
        The augmentation applied to training batches.
    trial_stopping_ : TrialStoppingRule or None
        The copy of ``trial_stopping`` the search used, holding the curves it
        learned from (``completed_curves``).
    augment_search_ : AugmentPolicySearch
        The policy search, with ``augment='auto'``.
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
        "search_space": [
            StrOptions({"auto", "morphism", *SPACES}),
            HasMethods(["sample", "mutate", "encode", "build"]),
        ],
        "strategy": [StrOptions({"auto", *STRATEGIES}), HasMethods(["reset", "ask", "tell"])],
        "max_trials": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), None],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "data_fraction": [Interval(Real, 0, 1, closed="right")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "trial_stopping": [StrOptions(set(TRIAL_STOPPING)), HasMethods(["reset", "observe", "should_stop"]), None],
        "resource": [StrOptions(set(RESOURCES))],
        "input_shape": [tuple, list, None],
        "augment": [StrOptions({"auto", "light", *AUGMENTATIONS}), callable, None],
        "device": [str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "refit": ["boolean"],
        "final_cells": [Interval(Integral, 1, None, closed="left"), None],
        "final_channels": [Interval(Integral, 1, None, closed="left"), None],
        "final_epochs": [Interval(Integral, 1, None, closed="left"), None],
        "final": [StrOptions({"auto", "retrain", "inherit"})],
        "max_params": [Interval(Integral, 1, None, closed="left"), None],
        "max_flops": [Interval(Integral, 1, None, closed="left"), None],
        "max_latency_ms": [Interval(Real, 0, None, closed="neither"), None],
        "latency_table": [HasMethods(["price"]), None],
    }

    def __init__(
        self,
        search_space="auto",
        strategy="auto",
        max_trials="auto",
        time_budget=None,
        max_epochs=30,
        validation_fraction=0.2,
        data_fraction=1.0,
        batch_size=64,
        lr=3e-3,
        patience=8,
        trial_stopping=None,
        resource="epochs",
        input_shape=None,
        augment="light",
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
        refit=True,
        final_cells=None,
        final_channels=None,
        final_epochs=None,
        final="auto",
        max_params=None,
        max_flops=None,
        max_latency_ms=None,
        latency_table=None,
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
        self.trial_stopping = trial_stopping
        self.resource = resource
        self.input_shape = input_shape
        self.augment = augment
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.refit = refit
        self.final_cells = final_cells
        self.final_channels = final_channels
        self.final_epochs = final_epochs
        self.final = final
        self.max_params = max_params
        self.max_flops = max_flops
        self.max_latency_ms = max_latency_ms
        self.latency_table = latency_table

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
        if self.max_trials is None and self.time_budget is None:
            raise ValueError("max_trials and time_budget are both None: set at least one of them to bound the search.")
        max_trials = self.max_trials
        if max_trials == "auto":
            max_trials = 20 if self.time_budget is None else None
        budget = Budget(max_trials, self.time_budget, self.max_epochs).start()
        X, y = validate_network_input(self, X, y, reset=True, input_shape=self.input_shape)
        y_encoded = self._encode_labels(y)
        self.device_ = resolve_device(self.device)
        self.search_space_ = self._resolve_space()
        self.final_space_ = self._resolve_final_space()
        rng = check_random_state(self.random_state)
        base_seed = int(rng.randint(SEED_MAX))
        data = self._split(X, y_encoded, rng)
        self.augment_ = self._resolve_augment(data, base_seed)
        self.trial_stopping_ = self._resolve_trial_stopping()
        evaluator = self._evaluator(self.search_space_)
        self.plan_ = self._plan(len(X), len(data[0]), budget, base_seed)
        budget.max_epochs = self.plan_.max_epochs
        strategy = resolve_strategy(self.plan_.strategy, NAS_STRATEGIES)
        limits = self._cost_limits(strategy, rng)
        strategy.reset(self.search_space_ if limits is None else FeasibleSpace(self.search_space_, limits), base_seed)
        inherit = self._inherits(strategy)
        if self.refit:
            reserve = self._refit_reserve(len(X), len(data[0]), strategy)
            # A plan that gives the refit a share of the budget keeps that share back, whatever the trials say.
            fixed = self.plan_.final_seconds
            budget.refit_reserve = reserve if fixed is None else (lambda results, time_budget: fixed)

        results = run_search(
            strategy,
            evaluator,
            data,
            Fidelity(self.plan_.max_epochs, self.plan_.data_fraction),
            budget,
            base_seed,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            description="NAS",
            resource=self.plan_.resource,
            constraint=limits,
        )
        self.search_seconds_ = budget.elapsed
        baselines = tuple(strategy.initial_architectures) if getattr(strategy, "promote_initial", False) else ()
        self._record(results, baselines, n_valid=len(data[3]), rejected=() if limits is None else limits.rejected_)
        if hasattr(self, "best_estimator_"):
            del self.best_estimator_  # from an earlier fit
        if self.refit:
            warm_start = strategy.final_warm_start(self.best_architecture_) if inherit else None
            if inherit and warm_start is None:
                warnings.warn(
                    f"{type(strategy).__name__} holds no trained weights of {self.best_architecture_} to fine-tune "
                    "(no training trial succeeded, or the search ran on a smaller network); the refit trains it "
                    "from scratch.",
                    UserWarning,
                )
            self._refit(evaluator, results, X, y_encoded, base_seed, budget, warm_start)
        self.refit_seconds_ = budget.elapsed - self.search_seconds_
        if self.verbose:
            print(self.summary())
        return self

    def _plan(self, n_samples, n_train, budget, seed):
        """The :class:`SearchPlan`: ``plan_search``'s under ``strategy='auto'``, else the parameters as given."""
        if self.strategy != "auto":
            return SearchPlan(
                self.strategy, self.max_epochs, self.data_fraction, self.resource, "the strategy and fidelity as given",
                final_epochs=self.final_epochs,
            )
        args = (self.input_shape_, len(self.classes_), self.batch_size, self.device_)
        time_left = None if budget.time_budget is None else budget.time_budget - budget.elapsed
        return plan_search(
            self.search_space_,
            n_train,
            n_samples,
            time_left,
            self.max_epochs,
            self.batch_size,
            lambda architecture: _step_seconds(self.search_space_, architecture, *args),
            data_fraction=self.data_fraction,
            final_epochs=self.final_epochs,
            random_state=seed,
        )

    def _cost_limits(self, strategy, rng):
        """The :class:`~skautoml.nas.CostLimits` of ``max_params``, ``max_flops``, ``max_latency_ms`` (None when unset).

        Raises before any training when no architecture of 200 sampled (nor an initial one) is within them.
        """
        settings = {"max_params": self.max_params, "max_flops": self.max_flops, "max_latency_ms": self.max_latency_ms}
        if all(value is None for value in settings.values()):
            return None
        shares = getattr(strategy, "shares_weights", False)
        if shares or getattr(strategy, "refits_trained_model", False):
            what = "trains a weight-sharing supernet" if shares else "grows networks from trained parents"
            raise NotImplementedError(
                f"{type(strategy).__name__} {what}, which does not take max_params, max_flops or max_latency_ms "
                "yet. Use a strategy that trains each architecture from scratch ('auto', 'evolution', 'random', "
                "'bayesian', 'reinforce', 'hyperband', 'bohb')."
            )
        table = self.latency_table
        if table is None and self.max_latency_ms is not None:
            table = LatencyTable(device=self.device_)
            if table.calibration == (1.0, 0.0):  # first use on this machine
                table.calibrate(self.search_space_, self.input_shape_, len(self.classes_))
        limits = CostLimits(self.search_space_, self.input_shape_, len(self.classes_), latency_table=table, **settings)
        seed = np.random.default_rng(rng.randint(SEED_MAX))
        drawn = [self.search_space_.sample(seed) for _ in range(200)]
        limits.check_reachable([*getattr(strategy, "initial_architectures", ()), *drawn])
        return limits

    def _evaluator(self, space):
        """The evaluator that trains networks of ``space`` with this estimator's settings."""
        return Evaluator(
            space,
            self.input_shape_,
            len(self.classes_),
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            device=self.device_,
            augment=self.augment_,
            stopping_rule=self.trial_stopping_,
        )

    def _inherits(self, strategy):
        """Whether the refit fine-tunes weights the search trained (checked before any training)."""
        keeps = getattr(strategy, "refits_trained_model", False)
        inherit = self.final == "inherit" or (self.final == "auto" and keeps)
        if inherit and not (keeps or getattr(strategy, "shares_weights", False)):
            raise ValueError(
                f"final='inherit' fine-tunes the weights the search trained, which {type(strategy).__name__} "
                "does not keep (it trains every architecture from scratch). Use a one-shot or gradient strategy "
                "('spos', 'enas', 'darts', 'gdas', 'pcdarts'), a morphism strategy, or final='retrain'."
            )
        if inherit and self.final_space_ is not self.search_space_:
            raise ValueError(
                f"The refit of {type(strategy).__name__} trains the network the search trained further "
                f"(final={self.final!r}), so it cannot stack the architecture deeper: leave final_cells and "
                "final_channels None, or set final='retrain'."
            )
        return inherit

    def _refit_reserve(self, n_samples, n_train, strategy):
        """The :class:`~skautoml.search.RefitReserve` of this search: the refit repeats the best trial on all the data."""
        full = Fidelity(self.plan_.max_epochs, self.plan_.data_fraction)

        def trial_batches(resource):
            fraction = fidelity_at(full, resource, self.plan_.resource).data_fraction
            return math.ceil(fraction * n_train / self.batch_size)

        shape, n_classes = self.input_shape_, len(self.classes_)
        refit_batches = math.ceil(n_samples / self.batch_size)
        steps = _StepCostRatio(self.search_space_, self.final_space_, shape, n_classes, self.batch_size, self.device_)
        cost_ratio = epoch_seconds = None
        if getattr(strategy, "shares_weights", False):
            # Scored with a supernet's weights: the refit's epochs cost what the final network's steps cost.
            epoch_seconds = lambda result: steps.seconds(result.architecture) * refit_batches  # noqa: E731
        elif self.final_space_ is not self.search_space_:
            cost_ratio = steps
        return RefitReserve(refit_batches, trial_batches, self._final_epochs, cost_ratio, epoch_seconds)

    def _refit(self, evaluator, results, X, y, base_seed, budget, warm_start):
        """Train the best architecture on all of ``X, y`` into ``best_estimator_`` (from ``warm_start`` when given).

        Under a plan's ``final_seconds``, the refit trains the epochs that the time left holds, on a
        cosine schedule of that length; an epoch is priced at ``REFIT_OVERHEAD`` times the measured
        training step of the final network, times its batches. (The trials' own seconds per epoch
        overstate it: they include the validation and, for short trials, the first epoch's start-up.)
        """
        plan = self.plan_
        fit_to_time = None
        if plan.final_seconds is None:
            epochs = self._final_epochs(results[self.best_index_])
            schedule_epochs = plan.max_epochs if plan.final_epochs is None else plan.final_epochs
        else:
            step = _step_seconds(
                self.final_space_, self.best_architecture_, self.input_shape_, len(self.classes_), self.batch_size,
                self.device_,
            )
            per_epoch = REFIT_OVERHEAD * step * math.ceil(len(X) / self.batch_size)
            schedule_epochs = max(1, int((budget.time_budget - budget.elapsed) / max(per_epoch, 1e-9)))
            # Each epoch's end re-plans the epochs from those timed (up to REFIT_REPLAN_LIMIT times those priced).
            fit_to_time = FitToTime(budget.deadline)
            epochs = REFIT_REPLAN_LIMIT * schedule_epochs
        trainer = evaluator if self.final_space_ is self.search_space_ else self._evaluator(self.final_space_)
        self.best_estimator_ = trainer.fit_final(
            self.best_architecture_,
            X,
            y,
            epochs=epochs,
            schedule_epochs=schedule_epochs,
            seed=trial_seed(base_seed, self.best_index_),
            deadline=budget.refit_deadline(results),
            verbose=int(self.verbose >= 2),
            warm_start=warm_start,
            callbacks=() if fit_to_time is None else [("fit_to_time", fit_to_time)],
        )
        if fit_to_time is not None:
            epochs = fit_to_time.epochs_ or epochs
        if len(self.best_estimator_.history) < epochs:
            warnings.warn(
                f"time_budget={self.time_budget} ran out during the refit after "
                f"{len(self.best_estimator_.history)} of {epochs} epochs; the final model may "
                "be undertrained. Raise time_budget or lower max_epochs (or final_epochs).",
                UserWarning,
            )

    def _final_epochs(self, best):
        """Epochs of the refit of the trial ``best``: the plan's ``final_epochs``, else its best epoch, else ``max_epochs``."""
        if self.plan_.final_epochs is not None:
            return self.plan_.final_epochs
        return _refit_epochs(best, self.plan_.max_epochs)

    def _resolve_final_space(self):
        """The space of the final network: the searched one, or it stacked deeper and wider."""
        if self.final_cells is None and self.final_channels is None:
            return self.search_space_
        if not hasattr(self.search_space_, "deeper"):
            raise ValueError(
                f"final_cells and final_channels stack the searched cell deeper, which "
                f"{type(self.search_space_).__name__} cannot do (it has no deeper method). Use "
                "search_space='cell' (CellSpace) or leave final_cells and final_channels None."
            )
        return self.search_space_.deeper(n_cells=self.final_cells, initial_channels=self.final_channels)

    def _resolve_trial_stopping(self):
        """A reset copy of the trial-stopping rule (the parameter is never changed), or None."""
        if self.trial_stopping is None:
            return None
        if isinstance(self.trial_stopping, str):
            return TRIAL_STOPPING[self.trial_stopping]().reset()
        return copy.deepcopy(self.trial_stopping).reset()

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
            return CNNSpace(stem_stride=stem_stride_for(self.input_shape_)) if images else MLPSpace()
        if self.search_space == "morphism":
            return MorphismSpace(kind="cnn" if images else "mlp")
        if not isinstance(self.search_space, str):
            space = self.search_space
        else:
            space = SPACES[self.search_space]()
            if images and hasattr(space, "stem_stride"):  # a space named, not given: the default stem for the size
                space.stem_stride = stem_stride_for(self.input_shape_)
        if getattr(space, "takes_images", False) and not images:
            raise ValueError(
                f"{type(space).__name__} needs images, but X is tabular with {self.n_features_in_} "
                "features. Pass (N, H, W) or (N, C, H, W) arrays, set input_shape for flattened "
                "images, or use search_space='mlp'."
            )
        return space

    def _resolve_augment(self, data, seed):
        if hasattr(self, "augment_search_"):
            del self.augment_search_  # from an earlier fit
        if self.augment is None:
            return None
        if self.augment == "light":
            return light_augment(self.input_shape_)
        if len(self.input_shape_) != 3:
            raise ValueError(
                f"augment={self.augment!r} augments images, but X is tabular with "
                f"{self.n_features_in_} features. Pass (N, H, W) or (N, C, H, W) arrays, set "
                "input_shape for flattened images, or set augment='light' or None."
            )
        if isinstance(self.augment, BatchAugment):
            return self.augment
        if callable(self.augment):
            return BatchAugment(self.augment)
        if self.augment != "auto":
            return AUGMENTATIONS[self.augment]()
        search = AugmentPolicySearch(
            max_trials=10,
            time_budget=None if self.time_budget is None else self.time_budget / 4,
            proxy_epochs=min(self.max_epochs, 15),
            batch_size=self.batch_size,
            lr=self.lr,
            device=self.device_,
            n_jobs=self.n_jobs,
            random_state=seed,
            verbose=self.verbose,
        )
        self.augment_search_ = search.fit(data[0], self.classes_[data[1]])
        return BatchAugment(search.best_policy_) if search.best_policy_.sub_policies else None

    def _split(self, X, y, rng):
        splitter = StratifiedShuffleSplit(
            n_splits=1, test_size=self.validation_fraction, random_state=rng.randint(SEED_MAX)
        )
        train, valid = next(splitter.split(np.zeros(len(y)), y))
        return X[train], y[train], X[valid], y[valid]

    def _record(self, results, baselines=(), n_valid=None, rejected=()):
        """Fill ``search_results_`` and choose ``best_index_``: the best score at the highest resource,
        or the best of the ``baselines`` at that resource when that score beats it by no more than one
        standard error of a validation accuracy on ``n_valid`` samples (one-standard-error rule), or by
        anything when no trial reached full fidelity. The architectures of ``rejected``
        (``(architecture, cost, reason)``, see ``CostLimits``) follow the trials, once each, as rows of
        status ``'infeasible'`` and trial -1."""
        scores = np.array([r.score if r.ok else np.nan for r in results])
        ok = np.isfinite(scores)
        if not ok.any():
            errors = sorted({r.error for r in results})
            raise ValueError(
                f"All {len(results)} trials failed, so no architecture could be chosen. "
                f"Errors: {errors[:3]}. Check the data, the search space and lr."
            )
        resources = np.array([r.resource for r in results], dtype=float)
        # By resource, then score (a low-fidelity score is not comparable to a full one);
        # failed trials last; equal keys share the smallest rank.
        key = np.full(len(results), np.inf)
        by_resource = rankdata(-resources[ok], method="dense")
        key[ok] = by_resource * (len(results) + 1) + rankdata(-scores[ok], method="dense")
        rank = rankdata(key, method="min").astype(int)
        # The first of the best: ties go to the earlier (usually cheaper to find) trial.
        best_index = int(np.lexsort((np.arange(len(results)), key))[0])
        tied = [
            i for i in np.flatnonzero(ok)
            if results[i].architecture in baselines and resources[i] == resources[best_index]
        ]
        if tied and best_index not in tied:
            baseline = max(tied, key=lambda i: (scores[i], -i))
            p = scores[best_index]
            standard_error = math.sqrt(max(p * (1 - p), 1 / n_valid) / n_valid)
            # Below full fidelity the baseline stays whatever the margin: a search cut short in its second rung
            # chose a random network there that was 7x slower than the baseline, and its refit got 7 epochs.
            if resources[best_index] < 1 or p - scores[baseline] <= standard_error:
                best_index = baseline
        refused = {}  # once each, after the trials
        for architecture, cost, reason in rejected:
            refused.setdefault(architecture, TrialResult(
                architecture, math.nan, "infeasible", error=reason, n_params=cost.n_params, flops=cost.flops,
                resource=math.nan, seed=-1, worker="",
            ))
        rows, n_refused = [*results, *refused.values()], len(refused)
        columns = {
            "trial": np.r_[np.arange(len(results)), np.full(n_refused, -1)],
            "rank": np.r_[rank, np.full(n_refused, len(results) + 1)],
            "score": np.r_[scores, np.full(n_refused, np.nan)],
            "status": np.array([r.status for r in rows]),
            "resource": np.array([r.resource for r in rows], dtype=float),
            "architecture": _object_array([r.architecture for r in rows]),
            "params": _object_array([_describe(r.architecture) for r in rows]),
            "n_params": np.array([r.n_params for r in rows]),
            "flops": np.array([r.flops for r in rows]),
            "epochs": np.array([r.epochs for r in rows]),
            "best_epoch": np.array([r.best_epoch for r in rows]),
            "stopped_early": np.array([r.stopped_early for r in rows], dtype=bool),
            "curve": _object_array([tuple(r.curve) for r in rows]),
            "train_seconds": np.array([r.train_seconds for r in rows]),
            "seed": np.array([r.seed for r in rows]),
            "worker": np.array([r.worker for r in rows]),
            "error": _object_array([r.error for r in rows]),
        }
        self.search_results_ = {name: columns[name] for name in RESULT_COLUMNS}
        self.n_trials_ = len(results)
        self.best_index_ = best_index
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
        n_refused = int((results["status"] == "infeasible").sum())
        refused = f", {n_refused} architectures refused by the limits" if n_refused else ""
        lines = [
            f"{type(self).__name__}: {self.n_trials_} trials ({n_failed} failed{refused}) in "
            f"{self.search_seconds_:.1f} s on {self.device_}; refit {self.refit_seconds_:.1f} s.",
            f"Search plan: {self.plan_.reason}.",
            f"Training batches augmented with {self.augment_!r}." if self.augment_ is not None else "No augmentation.",
            f"Best validation accuracy {self.best_score_:.4f} (trial {self.best_index_}): "
            f"{self.best_architecture_}",
        ]
        top = int(np.flatnonzero(results["rank"] == 1)[0])  # the best score's trial (ties: the earliest)
        if top != self.best_index_:
            why = (
                "beats it by less than one standard error of a validation accuracy."
                if results["resource"][top] == 1
                else "is below full fidelity, where no architecture replaces the baseline."
            )
            score = results["score"][top]
            lines.append(f"Kept the baseline: the best score at its fidelity ({score:.4f}, trial {top}) {why}")
        if self.final_space_ is not self.search_space_:
            lines.append(f"Final network: the best architecture built in {self.final_space_!r}.")
        if (results["resource"] < 1).any():
            n_full = int((results["resource"] == 1).sum())
            lines.append(
                f"{n_full} trials at full fidelity; trials at a lower resource rank below them "
                "(see the resource column of search_results_)."
            )
        lines += [
            "",
            f"{'rank':>4} {'trial':>5} {'score':>7} {'params':>9} {'MFLOPs':>8} {'epochs':>6} {'seconds':>7}  architecture",
        ]
        board = self.leaderboard(top)
        for row in range(len(board["trial"])):
            score = board["score"][row]
            lines.append(
                f"{board['rank'][row]:>4} {board['trial'][row]:>5} "
                f"{board['status'][row] if math.isnan(score) else f'{score:.4f}':>7} {board['n_params'][row]:>9,} "
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


def _step_seconds(space, architecture, input_shape, n_classes, batch_size, device, repeats=3):
    """Seconds of one training step (forward and backward pass of a batch) of ``architecture`` in ``space``.

    The fastest of ``repeats`` steps after one warm-up step, on random data;
    torch's random state is forked, so the caller's is left alone.
    """
    with torch_seeded(0, device):
        module = space.build(architecture, input_shape, n_classes).to(device).train()
        X = torch.randn(batch_size, *input_shape, device=device)
        y = torch.randint(n_classes, (batch_size,), device=device)
        times = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            torch.nn.functional.cross_entropy(module(X), y).backward()
            if torch.device(device).type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - started)
    return min(times[1:])


class _StepCostRatio:
    """Time of a training step of the final network over the searched one's, measured once per architecture.

    Measured rather than derived from FLOPs: small networks cost more per
    layer than per FLOP, so the FLOPs ratio overstates it. ``step_seconds``
    is injectable so that tests use fake timings.
    """

    def __init__(self, space, final_space, input_shape, n_classes, batch_size, device, step_seconds=None):
        self.spaces = (space, final_space)
        self.args = (input_shape, n_classes, batch_size, device)
        self.step_seconds = _step_seconds if step_seconds is None else step_seconds
        self.measured = {}

    def seconds(self, architecture, final=True):
        """Seconds of one training step of ``architecture`` in the final (or the searched) space."""
        key = (architecture, final)
        if key not in self.measured:
            self.measured[key] = self.step_seconds(self.spaces[final], architecture, *self.args)
        return self.measured[key]

    def __call__(self, result):
        return self.seconds(result.architecture) / self.seconds(result.architecture, final=False)


def _refit_epochs(result, max_epochs):
    """Epochs of the refit: the best epoch of a full-fidelity trial, else full fidelity.

    A trial scored with a supernet's weights (best epoch 0: it did not train the architecture
    itself) says nothing of how long the architecture trains, nor does a low-fidelity one.
    """
    return result.best_epoch if result.resource >= 1 and result.best_epoch >= 1 else max_epochs


def _describe(architecture):
    """The decisions of an architecture as a dict."""
    if dataclasses.is_dataclass(architecture):
        return dataclasses.asdict(architecture)
    return {"architecture": architecture}


def _object_array(values):
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array
