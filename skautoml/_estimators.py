"""AutoNASClassifier and AutoNASRegressor: neural architecture search behind the scikit-learn API."""
import copy
import dataclasses
import math
import time
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from joblib import effective_n_jobs
import torch
from scipy.stats import rankdata
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ._utils._random import SEED_MAX, torch_seeded
from ._utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ._utils._device import resolve_device
from ._utils._validation import validate_network_input
from .nas import (
    NAS_STRATEGIES, NSGA2, SPACES, STRATEGIES, CNNSpace, CostLimits, CurveExtrapolation, Evaluator, FeasibleSpace,
    FitToTime, JointSpace, LatencyTable, MedianStopping, MLPSpace, MorphismSpace, SearchPlan, TrainingSpace,
    TrialPricer, default_image_space, pareto_mask, plan_search, stem_stride_for,
)

from .prep.augment import AugmentPolicySearch, BatchAugment, RandAugment, RandomCrop, UniformAugment
from .search import (
    RESOURCES, Budget, Fidelity, RefitReserve, SQLiteStorage, TrialResult, check_resumable_seed, fidelity_at,
    resolve_strategy, run_search, search_fingerprint, trial_seed,
)

#: Names accepted by ``AutoNASClassifier(augment=...)``, besides 'auto' (``AutoNASRegressor``: the first two).
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

#: Label smoothing of the classifier's cross-entropy, in the trials and the refit: the hand-written CNN's
#: recipe. The known-good network trained 40 epochs on distorted 28x28 digits scored 0.9763 without it and
#: 0.9827 with it (3 splits; benchmarks/README.md, bench_nas_default).
LABEL_SMOOTHING = 0.05

#: Names accepted by ``trial_stopping=...``.
TRIAL_STOPPING = {"median": MedianStopping, "extrapolation": CurveExtrapolation}

#: Columns of ``search_results_``, in order.
RESULT_COLUMNS = (
    "trial",
    "rank",
    "score",
    "status",
    "valid_score",
    "resource",
    "architecture",
    "params",
    "n_params",
    "flops",
    "latency_ms",
    "epochs",
    "best_epoch",
    "stopped_early",
    "curve",
    "train_seconds",
    "seed",
    "worker",
    "error",
)


#: The parameters both estimators document; ``{score}`` and the other fields are filled in per estimator.
_PARAMETERS_DOC = """search_space : {'auto', 'mlp', 'cnn', 'cell', 'factorized', 'hierarchical', 'morphism'} \
            or SearchSpace, default='auto'
        Where architectures come from. ``'auto'`` uses
        :func:`~skautoml.nas.default_image_space` for images (a
        :class:`~skautoml.nas.CNNSpace`, of up to 7 layers and 128 channels
        from 16 pixels a side) and :class:`~skautoml.nas.MLPSpace` otherwise; ``'cell'``
        (:class:`~skautoml.nas.CellSpace`, NASNet/DARTS cells), ``'factorized'``
        (:class:`~skautoml.nas.FactorizedSpace`, MnasNet-like stages) and
        ``'hierarchical'`` (:class:`~skautoml.nas.HierarchicalSpace`, motifs of
        motifs) take images (``'auto'``, ``'cnn'`` and ``'cell'`` give images of at
        least 16 pixels a side a stem of stride 2, see :func:`~skautoml.nas.plan_search`;
        a space passed as an instance keeps its ``stem_stride``); ``'morphism'`` is
        :class:`~skautoml.nas.MorphismSpace` (chains that morphisms grow) of the
        input's kind.
    strategy : {'auto', 'evolution', 'random', 'bayesian', 'reinforce', 'evolution+smbo', \
            'successive_halving', 'hyperband', 'bohb', 'nsga2', 'hill_climbing', 'morphism_bo', 'spos', 'enas', \
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
        the first half; for the classifier, a rung in which no trial scores 3
        standard errors above chance ends the search, and the refit gets its
        time. The others:
        regularised evolution, random search,
        Bayesian optimisation (scikit-optimize's Gaussian process), a REINFORCE
        recurrent controller, evolution whose children a surrogate screens, successive
        halving, Hyperband and BOHB over the fidelity (see ``resource``),
        NSGA-II (:class:`~skautoml.nas.NSGA2`), which keeps a Pareto
        population of score against FLOPs (``NSGA2(cost='params')`` or
        ``'latency'`` for the others; see ``pareto_front_``), or
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
        Share of the training data held out ({held_out}) to score trials.
    data_fraction : float, default=1.0
        Share of the remaining training data each trial trains on (a lower
        fidelity makes trials cheaper).
    batch_size : int, default=64
    lr : float, default=3e-3
        Learning rate of AdamW, annealed on a cosine schedule.
    patience : int or None, default=8
        Early-stopping patience (epochs without a lower validation loss).
    trial_stopping : {None, 'median', 'extrapolation'} or TrialStoppingRule, default=None
        Stops a trial after an epoch when the {score} curves of the
        trials finished so far say it will not pay:
        :class:`~skautoml.nas.MedianStopping` (below the median of finished
        trials at the same epoch) or :class:`~skautoml.nas.CurveExtrapolation`
        (its extrapolated curve stays below the best finished trial), with
        their default settings; an instance is copied and reset, never
        changed. Only full-fidelity trials are stopped or learned from.
        Finished curves reach the rule between rounds of parallel trials, so
        with ``n_jobs`` > 1 trials of one round do not learn from one another
        and the search can differ from the sequential one (which it equals
        without a rule).{trial_stopping}
    resource : {'epochs', 'data', 'both'}, default='epochs'
        What the resource of a multi-fidelity strategy (successive halving,
        Hyperband, BOHB) cuts, for a trial at share ``r`` of the full
        fidelity: ``'epochs'`` trains ``ceil(r * max_epochs)`` epochs (at
        least 1, on a cosine schedule of that length), ``'data'`` trains on a
        {subset} ``r * data_fraction`` of the training split, ``'both'``
        does both. Other strategies run every trial at full fidelity.
    input_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` of each row when
        2-D input holds flattened images.
    {augment}
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
        Of the one-shot strategies, SPOS trains its supernet along uniformly
        sampled paths of the whole space (as the paper does) and draws the
        paths it scores from the feasible ones; ENAS trains and scores only
        paths within the limits, its controller learning from refusals.
        DARTS, GDAS and PC-DARTS add a differentiable expected-cost term to
        their architecture loss and derive every architecture within the
        limits (cheaper operations on the same edges; see
        :class:`~skautoml.nas.oneshot.CellCosts`). The morphism strategies
        start from a root within the limits and draw only morphisms that
        stay within them.
    max_latency_ms : float or None, default=None
        Most predicted inference latency of one batch, in milliseconds, from
        ``latency_table``.
    latency_table : LatencyTable or None, default=None
        Prices ``max_latency_ms``; None uses
        ``LatencyTable(batch_size=1, n_threads=1)`` on the training device
        (built once per machine, in ``~/.cache/skautoml``), calibrated on
        10 networks of the search space when it has no calibration yet.
        It also prices the latency of every trial for an ``objective`` or
        ``strategy=NSGA2(cost='latency')``.
    objective : MnasNetReward or None, default=None
        A soft objective: each trained trial is scored by
        ``objective(score, latency_ms)`` instead of its {score} (MnasNet's
        reward, :class:`~skautoml.nas.MnasNetReward`, trades it against the
        latency ``latency_table`` predicts), so the strategies search for and
        the search chooses the best reward; ``valid_score`` in
        ``search_results_`` keeps the {score}. Unlike ``max_latency_ms``
        nothing is refused. Not with ``strategy='nsga2'``, which keeps
        score and cost apart.
    search_hyperparameters : bool, default=False
        Search the training hyperparameters with the architecture: one joint
        space (:class:`~skautoml.nas.JointSpace`) of the network space and a
        :class:`~skautoml.nas.TrainingSpace` centred on this estimator's
        settings (:meth:`~skautoml.nas.TrainingSpace.centred`): the learning
        rate ``lr`` times 1/4 to 4 (a factor-2 log grid), the weight decay
        0 and 1e-5 to 1e-2 (log grid, 1e-4 in the middle), the batch size
        ``batch_size`` halved, as it is and doubled, AdamW or SGD with
        Nesterov momentum (at ten times the learning rate), dropout before
        the classifier head (0, 0.1, 0.25, 0.5), and the augmentation of
        images: ``augment`` (a name, or the callable given), none, and
        ``'light'`` shifts and RandAugment for images of at least 16 pixels
        a side (tables: none). The known-good first architecture of a
        budgeted search trains with ``lr``, ``batch_size`` and ``augment``
        as given. Every strategy that trains each candidate from scratch
        searches it (random, evolution, Bayesian, REINFORCE, the
        multi-fidelity ones, NSGA-II); the one-shot, gradient and morphism
        strategies train weights shared or inherited across candidates,
        which one set of training settings must serve, and raise
        ``NotImplementedError``. ``best_params_`` holds both parts
        (``architecture`` and ``training``).
    storage : str or None, default=None
        An SQLite file that keeps every finished trial, committed at once
        (:class:`~skautoml.search.SQLiteStorage`); it needs an int ``random_state``. A fit killed at any moment
        and started again with the same file, data and parameters (``n_jobs``,
        ``verbose`` and ``device`` may differ) replays the stored trials into
        the strategy instead of training them again; with ``max_trials`` and
        no ``time_budget`` it ends with the result of an uninterrupted fit.
        ``strategy='auto'`` under a ``time_budget`` plans its fidelity from
        step times measured at the start, which differ from run to run, so
        its resumed search may propose other trials (a RuntimeError says so):
        set ``strategy`` and ``max_epochs`` to resume a budgeted search. The
        one-shot and morphism strategies keep trained networks between trials
        and cannot resume (``NotImplementedError``). A file of another search
        (other parameters or data) raises ValueError."""

#: The attributes both estimators document (see ``_PARAMETERS_DOC``).
_ATTRIBUTES_DOC = """best_architecture_ : architecture value of the search space
    best_params_ : dict
        The decisions of the best architecture.
    best_score_ : float
        Its {score} (its reward, under an ``objective``). The best trial is the one of rank 1: with a
        multi-fidelity strategy, the best of the trials at the highest
        resource that was reached (full fidelity, when any trial ran at
        full fidelity), since a score at lower fidelity is not comparable.
    best_index_ : int
        Its row in ``search_results_``.
    {best_estimator}
    search_results_ : dict of numpy arrays
        One row per trial, like ``cv_results_``; ``pandas.DataFrame(search_results_)``
        makes a table. Columns: ``trial`` (index), ``rank`` (1 is best: trials
        are ranked by ``resource``, highest first, then by ``score``; failed
        trials rank last), ``score`` ({score}, NaN when failed),
        ``status`` ('ok' or 'failed'), ``resource`` (share of the full
        fidelity the trial ran at; 1.0 except under a multi-fidelity
        strategy), ``architecture`` (the value), ``params`` (its decisions as
        a dict), ``n_params``, ``flops`` (of one forward pass of one sample),
        ``epochs`` (run), ``best_epoch`` (scored), ``stopped_early`` (whether
        ``trial_stopping`` ended it), ``valid_score`` (the {score}, which
        ``score`` is unless an ``objective`` rewarded it), ``latency_ms``
        (predicted, when the search priced it; else NaN), ``curve`` ({score} after each
        epoch, a tuple; empty when failed), ``train_seconds``, ``seed``,
        ``worker`` (host:pid that ran it) and ``error`` (text of a failure,
        else None).
    pareto_front_ : dict of numpy arrays
        The trials no other trial beats in both {score} and cost
        (``pareto_cost_``), among the ok trials at the highest resource
        reached, cheapest first; the columns of ``search_results_``.
        ``skautoml.plotting.plot_pareto`` draws it.
    pareto_cost_ : str
        The cost of ``pareto_front_``: ``'latency_ms'`` under an
        ``objective`` or ``NSGA2(cost='latency')``, ``'n_params'`` under
        ``NSGA2(cost='params')``, else ``'flops'``.
    search_space_ : SearchSpace
        The space searched (a :class:`~skautoml.nas.JointSpace` with
        ``search_hyperparameters``).
    plan_ : SearchPlan
        The strategy and full fidelity the search ran with (chosen by
        ``strategy='auto'``, else the parameters as given), and why.
    search_ended_ : str or None
        Why the search ended before its budget, when a rung scored no better
        than chance (see ``strategy``); None otherwise.
    final_space_ : SearchSpace
        The space ``best_estimator_`` was built in: ``search_space_``, or its
        deeper version when ``final_cells`` or ``final_channels`` is set.
    {targets}
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
    augment_choices_ : dict or None
        With ``search_hyperparameters``: the augmentations the searched
        ``augment`` names stand for; else None.
    trial_stopping_ : TrialStoppingRule or None
        The copy of ``trial_stopping`` the search used, holding the curves it
        learned from (``completed_curves``).
{augment_search}    search_seconds_, refit_seconds_ : float
        Wall time of the search and of the refit."""


#: What the two estimators' docstrings say differently, in the fields of ``_PARAMETERS_DOC`` and ``_ATTRIBUTES_DOC``.
_CLASSIFIER_AUGMENT_DOC = """augment : {'light', None, 'auto', 'randaugment', 'uniformaugment', 'mixup', 'cutmix'} or callable, \
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
        (an op, a policy) is applied as it is."""
_CLASSIFIER_BEST_DOC = """best_estimator_ : skorch.NeuralNetClassifier
        The best architecture trained on all the data (only with ``refit=True``)."""
_AUGMENT_SEARCH_DOC = """    augment_search_ : AugmentPolicySearch
        The policy search, with ``augment='auto'``.
"""
_REGRESSOR_TRIAL_STOPPING_DOC = """
        On R² curves, :class:`~skautoml.nas.CurveExtrapolation` bounds the
        asymptote of an extrapolated curve to [0, 1], as for an accuracy:
        an R² heading below 0 is extrapolated to no less than 0, which errs
        on the side of letting the trial run."""
_REGRESSOR_AUGMENT_DOC = """augment : {'light', None, 'randaugment', 'uniformaugment'} or callable, default='light'
        Augmentation of every training batch of image data, in every trial
        and in the refit (validation and prediction are never augmented);
        the targets stay as they are. ``'light'`` shifts images of at least
        16 pixels a side by up to 7.5 % of the side (see
        :class:`AutoNASClassifier`) and leaves smaller images and tables
        alone; None never augments; ``'randaugment'`` and
        ``'uniformaugment'`` stand for
        :class:`~skautoml.prep.augment.RandAugment` and
        :class:`~skautoml.prep.augment.UniformAugment`; a callable
        ``policy(images, generator)`` (an op, a policy, a
        :class:`~skautoml.prep.augment.BatchAugment` without ``mix``) is
        applied as it is. ``'mixup'``, ``'cutmix'`` and ``'auto'`` raise a
        ``ValueError``: mixup and cutmix mix class labels, and ``'auto'``
        searches a policy by the accuracy of a classifier."""
_REGRESSOR_BEST_DOC = """best_estimator_ : skorch.NeuralNetRegressor
        The best architecture trained on all the data (only with
        ``refit=True``), on the standardised targets: its own ``predict``
        gives standardised values of shape (n_samples, n_outputs_), which
        ``predict`` turns into the units of ``y``."""
_REGRESSOR_TARGETS_DOC = """n_outputs_ : int
        Targets predicted: 1 for 1-D ``y``, else its columns.
    target_mean_, target_scale_ : ndarray of shape (n_outputs_,)
        Mean and standard deviation of each target in the training data:
        the networks learn ``(y - target_mean_) / target_scale_``, and
        ``predict`` returns their outputs times ``target_scale_`` plus
        ``target_mean_``. A constant target has scale 0: the networks learn
        0 for it, and ``predict`` returns the constant."""


def _docs(**fields):
    """A class decorator: the shared parameters and attributes, with ``fields`` filled in, into its docstring."""

    def fill(cls):
        sections = f"Parameters\n    ----------\n    {_PARAMETERS_DOC}\n\n    Attributes\n    ----------\n    {_ATTRIBUTES_DOC}"
        doc = cls.__doc__.replace("{parameters_and_attributes}", sections)
        for name, text in fields.items():
            doc = doc.replace("{" + name + "}", text)
        cls.__doc__ = doc
        return cls

    return fill


class _BaseAutoNAS(BaseEstimator):
    """What AutoNASClassifier and AutoNASRegressor share: the parameters, the search, the refit and its record.

    ``fit`` validates, splits, searches, records and refits; a subclass says
    how its targets are validated and encoded (``_training_data``), split
    (``_split``) and counted (``_n_outputs``), what its score is called
    (``_score_name``) and how precisely one is known (``_score_standard_error``),
    which augmentations it takes, and how it predicts.
    """

    # Set by the subclasses:
    #: The trial score in words, for ``summary`` and ``plot_search``.
    _score_name = None
    #: The evaluator's ``task``.
    _task = None
    #: Splits off the validation data (a scikit-learn splitter class).
    _splitter = None

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
        "objective": [callable, None],
        "search_hyperparameters": ["boolean"],
        "storage": [str, None],
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
        objective=None,
        search_hyperparameters=False,
        storage=None,
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
        self.objective = objective
        self.search_hyperparameters = search_hyperparameters
        self.storage = storage

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Search architectures on ``X, y`` and (with ``refit``) train the best on all of it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,), or (n_samples, n_targets) for AutoNASRegressor
            Class labels (strings or integers) for AutoNASClassifier; finite
            numbers, one column per target, for AutoNASRegressor.

        Returns
        -------
        self : estimator
        """
        if self.max_trials is None and self.time_budget is None:
            raise ValueError("max_trials and time_budget are both None: set at least one of them to bound the search.")
        max_trials = self.max_trials
        if max_trials == "auto":
            max_trials = 20 if self.time_budget is None else None
        budget = Budget(max_trials, self.time_budget, self.max_epochs).start()
        fingerprint = None if self.storage is None else self._storage_fingerprint(X, y)
        X, y_encoded = self._training_data(X, y)
        self.device_ = resolve_device(self.device)
        self.search_space_ = self._resolve_space()
        self.final_space_ = self._resolve_final_space()
        rng = check_random_state(self.random_state)
        base_seed = int(rng.randint(SEED_MAX))
        data = self._split(X, y_encoded, rng)
        self.augment_ = self._resolve_augment(data, base_seed)
        self.augment_choices_ = self._join_training_space() if self.search_hyperparameters else None
        self.trial_stopping_ = self._resolve_trial_stopping()
        evaluator = self._evaluator(self.search_space_)
        self.plan_ = self._plan(len(X), len(data[0]), budget, base_seed, data[3])
        budget.max_epochs = self.plan_.max_epochs
        strategy = resolve_strategy(self.plan_.strategy, NAS_STRATEGIES)
        self._check_joint_strategy(strategy)
        limits = self._cost_limits(strategy, rng)
        pricer = self._pricer(strategy)
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
            objective=pricer,
            storage=self._storage(fingerprint),
        )
        self.search_seconds_ = budget.elapsed
        self.search_ended_ = self._ended_without_signal(strategy)
        baselines = tuple(strategy.initial_architectures) if getattr(strategy, "promote_initial", False) else ()
        self._record(
            results, baselines, n_valid=len(data[3]), rejected=() if limits is None else limits.rejected_,
            proxy=self._plan_cut_data(),
        )
        self._record_pareto(strategy)
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

    def _plan(self, n_samples, n_train, budget, seed, y_valid):
        """The :class:`SearchPlan`: ``plan_search``'s under ``strategy='auto'``, else the parameters as given.

        Its successive halving ends after a rung that scores no better than chance on ``y_valid`` by a few
        standard errors (``_chance_score``, ``_score_standard_error``).
        """
        if self.strategy != "auto":
            return SearchPlan(
                self.strategy, self.max_epochs, self.data_fraction, self.resource, "the strategy and fidelity as given",
                final_epochs=self.final_epochs,
            )
        args = self._step_args()
        time_left = None if budget.time_budget is None else budget.time_budget - budget.elapsed
        chance = self._chance_score(y_valid)
        if chance is not None:
            chance = (chance, self._score_standard_error(chance, len(y_valid)))
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
            chance=chance,
        )

    def _chance_score(self, y_valid):
        """The validation score of a network that learned nothing, or None for no such rule (the regressor's:
        the standard error of an R² near 0, about ``sqrt(2 / n_valid)``, makes a bar that trials at a ninth of
        the epochs often miss while learning)."""
        return None

    def _ended_without_signal(self, strategy):
        """Why ``strategy`` ended the search under its ``signal_threshold``, or None when it did not."""
        ended = getattr(strategy, "no_signal_", None)
        if ended is None:
            return None
        n_trials, resource = ended
        return (
            f"none of the {n_trials} trials of a rung at resource {resource:.3g} scored a {self._score_name} above "
            f"{strategy.signal_threshold:.4f} (chance level), so the refit got the time left"
        )

    def _cost_limits(self, strategy, rng):
        """The :class:`~skautoml.nas.CostLimits` of ``max_params``, ``max_flops``, ``max_latency_ms`` (None when unset).

        Raises before any training when no architecture of 200 sampled (nor an initial one) is within them.
        """
        settings = {"max_params": self.max_params, "max_flops": self.max_flops, "max_latency_ms": self.max_latency_ms}
        if all(value is None for value in settings.values()):
            return None
        if not getattr(strategy, "takes_limits", True):
            raise NotImplementedError(
                f"{type(strategy).__name__} does not take max_params, max_flops or max_latency_ms (its takes_limits "
                "is False). Use a strategy of skautoml.nas.NAS_STRATEGIES, which all do."
            )
        table = self._latency_table() if self.max_latency_ms is not None else None
        limits = CostLimits(self.search_space_, self.input_shape_, self._n_outputs(), latency_table=table, **settings)
        seed = np.random.default_rng(rng.randint(SEED_MAX))
        drawn = [self.search_space_.sample(seed) for _ in range(200)]
        limits.check_reachable([*getattr(strategy, "initial_architectures", ()), *drawn])
        return limits

    def _latency_table(self):
        """``latency_table``, or the default table of the training device (calibrated on its first use here)."""
        if self.latency_table is not None:
            return self.latency_table
        table = LatencyTable(device=self.device_)
        if table.calibration == (1.0, 0.0):  # first use on this machine
            table.calibrate(self.search_space_, self.input_shape_, self._n_outputs())
        return table

    def _pricer(self, strategy):
        """The search loop's :class:`~skautoml.nas.TrialPricer` when trials need a latency (an ``objective``,
        ``NSGA2(cost='latency')``), else None."""
        nsga = isinstance(strategy, NSGA2)
        if nsga and self.objective is not None:
            raise ValueError(
                f"strategy=NSGA2 keeps the Pareto front of {self._score_name} and cost, and objective="
                f"{self.objective!r} folds them into one reward: use one of them (objective with a single-objective "
                "strategy such as 'auto', 'evolution' or 'reinforce')."
            )
        if self.objective is None and not (nsga and strategy.cost == "latency"):
            return None
        table = self._latency_table()
        return TrialPricer(self.search_space_, self.input_shape_, self._n_outputs(), table, reward=self.objective)

    def _join_training_space(self):
        """Make ``search_space_`` (and ``final_space_``) joint spaces of networks and training settings centred on
        this estimator's; returns the augmentations the settings' names stand for."""
        if self.augment == "auto":
            raise ValueError(
                "augment='auto' searches an augmentation policy before the search; with search_hyperparameters=True "
                "the augmentation is one of the settings searched: pass augment='light', None or a named policy."
            )
        given = "none" if self.augment_ is None else self.augment if isinstance(self.augment, str) else "given"
        choices = {given: self.augment_, "none": None}
        if len(self.input_shape_) == 3:
            light = light_augment(self.input_shape_)
            choices.update({"light": light} if light is not None else {})
            choices.setdefault("randaugment", AUGMENTATIONS["randaugment"]())
        training = TrainingSpace.centred(self.lr, self.batch_size, augment=given, augments=tuple(choices))
        final_differs = self.final_space_ is not self.search_space_
        self.search_space_ = JointSpace(self.search_space_, training)
        self.final_space_ = JointSpace(self.final_space_, training) if final_differs else self.search_space_
        return choices

    def _check_joint_strategy(self, strategy):
        """``NotImplementedError`` for a joint search by a strategy whose candidates share or inherit weights."""
        shares = getattr(strategy, "shares_weights", False)
        if self.search_hyperparameters and (shares or getattr(strategy, "refits_trained_model", False)):
            what = "trains one weight-sharing supernet" if shares else "grows networks from trained parents"
            raise NotImplementedError(
                f"{type(strategy).__name__} {what}, whose weights one set of training settings must serve, so it "
                "cannot search them (search_hyperparameters=True). Use a strategy that trains each candidate from "
                "scratch ('auto', 'evolution', 'random', 'bayesian', 'reinforce', 'hyperband', 'bohb', 'nsga2'), "
                "or search_hyperparameters=False."
            )

    def _evaluator(self, space):
        """The evaluator that trains networks of ``space`` with this estimator's settings."""
        regression = self._task == "regression"
        return Evaluator(
            space,
            self.input_shape_,
            None if regression else self._n_outputs(),
            batch_size=self.batch_size,
            lr=self.lr,
            patience=self.patience,
            device=self.device_,
            augment=self.augment_,
            stopping_rule=self.trial_stopping_,
            task=self._task,
            n_outputs=self._n_outputs() if regression else None,
            label_smoothing=0.0 if regression else LABEL_SMOOTHING,
            augmentations=self.augment_choices_,
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

    def _storage(self, fingerprint):
        """The opened :class:`~skautoml.search.SQLiteStorage` of ``storage``, or None."""
        if self.storage is None:
            return None
        check_resumable_seed(self.storage, self.random_state)
        return SQLiteStorage(self.storage).open(fingerprint, round_size=effective_n_jobs(self.n_jobs))

    def _storage_fingerprint(self, X, y):
        """What makes two fits the same search: the parameters (but ``n_jobs``, ``verbose``, ``device``, ``storage``) and the data."""
        return search_fingerprint(self, X, y, exempt=("n_jobs", "verbose", "device", "storage"))

    def _refit_reserve(self, n_samples, n_train, strategy):
        """The :class:`~skautoml.search.RefitReserve` of this search: the refit repeats the best trial on all the data."""
        full = Fidelity(self.plan_.max_epochs, self.plan_.data_fraction)

        def trial_batches(resource):
            fraction = fidelity_at(full, resource, self.plan_.resource).data_fraction
            return math.ceil(fraction * n_train / self.batch_size)

        refit_batches = math.ceil(n_samples / self.batch_size)
        steps = _StepCostRatio(self.search_space_, self.final_space_, *self._step_args())
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
            step = _step_seconds(self.final_space_, self.best_architecture_, *self._step_args())
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

    def _resolve_space(self):
        images = len(self.input_shape_) == 3
        if self.search_space == "auto":
            return default_image_space(self.input_shape_) if images else MLPSpace()
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
        return self._search_augment(data, seed)

    def _split(self, X, y, rng):
        """Training and validation parts of ``X, y`` (``_splitter``: stratified by class, or at random)."""
        splitter = self._splitter(n_splits=1, test_size=self.validation_fraction, random_state=rng.randint(SEED_MAX))
        train, valid = next(splitter.split(np.zeros(len(y)), y))
        return X[train], y[train], X[valid], y[valid]

    def _step_args(self):
        """What :func:`_step_seconds` takes after the space and the architecture."""
        return self.input_shape_, self._n_outputs(), self.batch_size, self.device_, self._task

    def _record(self, results, baselines=(), n_valid=None, rejected=(), proxy=False):
        """Fill ``search_results_`` and choose ``best_index_``: the best score at the highest resource,
        or the best of the ``baselines`` at that resource when that score beats it by no more than one
        standard error of the score on ``n_valid`` samples (one-standard-error rule, see
        ``_score_standard_error``), or by
        anything when no trial reached full fidelity or when the full fidelity is itself a ``proxy`` (a
        plan that cut the training data: on generated shapes, a small network that led 9 epochs on 18 % of
        the data scored 0.60 once refit, where the baseline scores 0.97). The architectures of ``rejected``
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
            standard_error = self._score_standard_error(p, n_valid)
            # Below full fidelity the baseline stays whatever the margin: a search cut short in its second rung
            # chose a random network there that was 7x slower than the baseline, and its refit got 7 epochs.
            if proxy or resources[best_index] < 1 or p - scores[baseline] <= standard_error:
                best_index = baseline
        refused = {}  # once each, after the trials
        for architecture, cost, reason in rejected:
            refused.setdefault(architecture, TrialResult(
                architecture, math.nan, "infeasible", error=reason, n_params=cost.n_params, flops=cost.flops,
                resource=math.nan, seed=-1, worker="",
                latency_ms=math.nan if cost.latency_ms is None else cost.latency_ms,
            ))
        rows, n_refused = [*results, *refused.values()], len(refused)
        valid_scores = [r.raw_score if math.isfinite(r.raw_score) else r.score if r.ok else math.nan for r in rows]
        columns = {
            "trial": np.r_[np.arange(len(results)), np.full(n_refused, -1)],
            "rank": np.r_[rank, np.full(n_refused, len(results) + 1)],
            "score": np.r_[scores, np.full(n_refused, np.nan)],
            "valid_score": np.array(valid_scores, dtype=float),
            "status": np.array([r.status for r in rows]),
            "resource": np.array([r.resource for r in rows], dtype=float),
            "architecture": _object_array([r.architecture for r in rows]),
            "params": _object_array([_describe(r.architecture) for r in rows]),
            "n_params": np.array([r.n_params for r in rows]),
            "flops": np.array([r.flops for r in rows]),
            "latency_ms": np.array([r.latency_ms for r in rows], dtype=float),
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

    def _plan_cut_data(self):
        """Whether the plan's trials train on less of the training split than ``data_fraction`` asks."""
        return self.plan_.data_fraction < self.data_fraction

    def _record_pareto(self, strategy):
        """``pareto_front_`` and ``pareto_cost_`` from ``search_results_`` (see the attributes)."""
        cost = "flops"
        if self.objective is not None:
            cost = "latency_ms"
        elif isinstance(strategy, NSGA2):
            cost = strategy.cost_field
        results = self.search_results_
        ok = results["status"] == "ok"
        # Scores at a lower fidelity do not compare with full ones: the front is of the highest resource reached.
        candidates = np.flatnonzero(ok & (results["resource"] == results["resource"][ok].max()))
        front = candidates[pareto_mask(results["valid_score"][candidates], results[cost][candidates])]
        front = front[np.argsort(results[cost][front], kind="stable")]
        self.pareto_front_ = {name: column[front] for name, column in results.items()}
        self.pareto_cost_ = cost

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
            *([f"Search ended early: {self.search_ended_}."] if self.search_ended_ else []),
            f"Training batches augmented with {self.augment_!r}." if self.augment_ is not None else "No augmentation.",
            f"Best {self._score_name} {self.best_score_:.4f} (trial {self.best_index_}): "
            f"{self.best_architecture_}"
            if self.objective is None
            else f"Best reward {self.best_score_:.4f} of {self.objective!r} (trial {self.best_index_}: "
            f"{self._score_name} {results['valid_score'][self.best_index_]:.4f}, predicted "
            f"{results['latency_ms'][self.best_index_]:.3f} ms): {self.best_architecture_}",
            f"Pareto front of {self._score_name} against {self.pareto_cost_}: {len(self.pareto_front_['trial'])} "
            "trials (pareto_front_).",
        ]
        best_scored = int(np.flatnonzero(results["rank"] == 1)[0])  # the best score's trial (ties: the earliest)
        if best_scored != self.best_index_:
            if results["resource"][best_scored] < 1:
                why = "is below full fidelity, where no architecture replaces the baseline."
            elif self._plan_cut_data():
                why = (
                    f"is of trials on {self.plan_.data_fraction:.0%} of the training split, too little for it to "
                    "replace the baseline."
                )
            else:
                why = f"beats it by less than one standard error of a {self._score_name}."
            score = results["score"][best_scored]
            lines.append(f"Kept the baseline: the best score at its fidelity ({score:.4f}, trial {best_scored}) {why}")
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

    def __setstate__(self, state):
        super().__setstate__(state)
        # skorch loads a model saved on a GPU onto the CPU when no GPU is left.
        if hasattr(self, "best_estimator_"):
            self.device_ = str(self.best_estimator_.device)


@_docs(
    score="validation accuracy",
    held_out="stratified",
    subset="stratified",
    trial_stopping="",
    augment=_CLASSIFIER_AUGMENT_DOC,
    best_estimator=_CLASSIFIER_BEST_DOC,
    targets="classes_ : ndarray of shape (n_classes,)",
    augment_search=_AUGMENT_SEARCH_DOC,
)
class AutoNASClassifier(ClassifierMixin, _BaseAutoNAS):
    """Neural architecture search for classification, trained through skorch.

    ``fit`` splits off a stratified validation set, lets a search strategy
    propose architectures from a search space, trains each candidate for a
    few epochs (with early stopping) and scores it on the validation set,
    under a budget of trials and seconds. The best architecture is then
    trained again on all the data and used by ``predict``.

    Inputs are standardised inside the network (per feature, or per channel
    for images) with statistics of the training data, so raw features and
    raw pixel values work. Networks train on the cross-entropy with label
    smoothing of 0.05 (``LABEL_SMOOTHING``; the strong hand-written CNN's
    recipe), with AdamW on a cosine schedule.

    {parameters_and_attributes}

    See Also
    --------
    AutoNASRegressor : the same search for regression targets.
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

    _score_name = "validation accuracy"
    _task = "classification"
    _splitter = StratifiedShuffleSplit

    def _training_data(self, X, y):
        X, y = validate_network_input(self, X, y, reset=True, input_shape=self.input_shape)
        return X, self._encode_labels(y)

    def _n_outputs(self):
        return len(self.classes_)

    def _score_standard_error(self, accuracy, n_valid):
        """The binomial standard error of an accuracy on ``n_valid`` samples (at least that of one sample)."""
        return math.sqrt(max(accuracy * (1 - accuracy), 1 / n_valid) / n_valid)

    def _chance_score(self, y_valid):
        """The accuracy of always predicting the most frequent class of ``y_valid`` (encoded labels)."""
        return float(np.bincount(y_valid).max() / len(y_valid))

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

    def _search_augment(self, data, seed):
        """``augment='auto'``: the policy :class:`AugmentPolicySearch` finds on the training split, if it beats none."""
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


@_docs(
    score="validation R²",
    held_out="at random",
    subset="random",
    trial_stopping=_REGRESSOR_TRIAL_STOPPING_DOC,
    augment=_REGRESSOR_AUGMENT_DOC,
    best_estimator=_REGRESSOR_BEST_DOC,
    targets=_REGRESSOR_TARGETS_DOC,
    augment_search="",
)
class AutoNASRegressor(RegressorMixin, _BaseAutoNAS):
    """Neural architecture search for regression, trained through skorch.

    The search of :class:`AutoNASClassifier` for numeric targets: ``fit``
    splits off a validation set at random, lets a search strategy propose
    architectures from a search space, trains each candidate for a few
    epochs on the mean squared error (with early stopping on the validation
    loss) and scores it by its validation R² (the coefficient of
    determination, averaged over the targets, as scikit-learn's
    ``r2_score``), under a budget of trials and seconds. The best
    architecture is then trained again on all the data and used by
    ``predict``. Every strategy works as for the classifier, the one-shot
    and gradient ones included: their supernets train on the mean squared
    error and their subnets are scored by validation R².

    Inputs are standardised inside the network (per feature, or per channel
    for images), and so are the targets: the networks learn ``(y -
    target_mean_) / target_scale_``, with the mean and standard deviation of
    each target on the training data, and ``predict`` returns values in the
    units of ``y``. (An R² is the same on standardised targets as in their
    units, so trials compare.) ``y`` may be 1-D or 2-D of shape
    ``(n_samples, n_targets)``: several targets are predicted by the outputs
    of one network, trained on the mean squared error over all of them and
    scored by the mean of their R², and ``predict`` returns the shape ``y``
    had. A constant target is fitted too, and predicted as the constant,
    but every trial then scores an R² of 0 (scikit-learn's value for a
    constant target not predicted exactly by the network), so the search
    cannot tell architectures apart.

    The one-standard-error rule that keeps the known-good baseline of a
    budgeted search (``strategy='auto'``) uses, as the standard error of an
    R² on ``n_valid`` validation samples, ``(1 - R²) * sqrt(2 / n_valid)``:
    the relative standard error of a mean squared error when the errors are
    Gaussian, the variance of the validation targets taken as known.

    {parameters_and_attributes}

    See Also
    --------
    AutoNASClassifier : the same search for class labels.
    skautoml.export, skautoml.save_weights : deploy the network, with the targets' de-standardisation.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml import AutoNASRegressor
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 5))
    >>> y = 100 + 10 * (X[:, 0] - 2 * X[:, 1] + X[:, 2])
    >>> reg = AutoNASRegressor(max_trials=2, max_epochs=10, random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape
    (3,)
    >>> bool(reg.score(X, y) > 0.8)
    True
    """

    _score_name = "validation R²"
    _task = "regression"
    _splitter = ShuffleSplit

    def _training_data(self, X, y):
        """``X`` and the standardised targets, as float32 of shape (n_samples, n_outputs_)."""
        y = _regression_targets(y, type(self).__name__)
        X, y = validate_network_input(self, X, y, reset=True, input_shape=self.input_shape, multi_output=True)
        n_valid = math.ceil(self.validation_fraction * len(y))
        if len(y) - n_valid < 2:
            raise ValueError(
                f"Too few samples for a validation split: y holds {len(y)} sample(s) and validation_fraction="
                f"{self.validation_fraction} holds out {n_valid}, leaving {len(y) - n_valid} to train on; "
                f"{type(self).__name__} needs at least 2 to train on and 1 to validate: collect more data or "
                "lower validation_fraction."
            )
        self._target_ndim = y.ndim
        y = y.reshape(len(y), -1)
        self.n_outputs_ = y.shape[1]
        constant = np.ptp(y, axis=0) == 0
        # A constant target's mean is the constant (not a rounded sum over n) and its scale 0: the networks
        # learn 0 for it, and predict returns the constant whatever they output.
        self.target_mean_ = np.where(constant, y[0], y.mean(axis=0))
        self.target_scale_ = np.where(constant, 0.0, y.std(axis=0))
        divisor = np.where(constant, 1.0, self.target_scale_)
        return X, ((y - self.target_mean_) / divisor).astype(np.float32)

    def _n_outputs(self):
        return self.n_outputs_

    def _score_standard_error(self, r2, n_valid):
        """``(1 - R²) * sqrt(2 / n_valid)``: for Gaussian errors, the standard error of a mean squared error of
        ``n_valid`` samples is ``sqrt(2 / n_valid)`` times it, and an R² is one minus it over the targets' variance."""
        return max(1.0 - r2, 0.0) * math.sqrt(2.0 / n_valid)

    def _resolve_augment(self, data, seed):
        augment = self.augment
        mixing = getattr(augment, "mix", None) if isinstance(augment, BatchAugment) else None
        if isinstance(augment, str) and augment in ("mixup", "cutmix", "auto") or mixing is not None:
            what = augment if mixing is None else f"a BatchAugment with mix={mixing!r}"
            why = (
                "searches a policy by the validation accuracy of a classifier (AugmentPolicySearch), which needs class "
                "labels" if augment == "auto" else "mixes the labels of two images into soft class labels"
            )
            raise ValueError(
                f"augment={what!r} {why}; {type(self).__name__} has numeric targets. Use augment='light' (the "
                "default), None, 'randaugment', 'uniformaugment' or an image policy (a callable policy(images, "
                "generator), or a BatchAugment without mix)."
            )
        return super()._resolve_augment(data, seed)

    def predict(self, X):
        """Predicted targets, in the units of ``y``.

        Parameters
        ----------
        X : array-like shaped like the training data

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_targets)
            The shape ``y`` had in ``fit``.
        """
        X = self._network_input(X)
        y = self.best_estimator_.predict(X).astype(np.float64) * self.target_scale_ + self.target_mean_
        return y[:, 0] if self._target_ndim == 1 else y

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _regression_targets(y, name):
    """``y`` as a float64 array of finite numbers, 1-D or 2-D; None is left to scikit-learn's validation."""
    if y is None:
        return None
    if sp.issparse(y):
        raise ValueError(f"{name} takes dense targets, but y is a sparse matrix: pass y.toarray().")
    y = np.asarray(y)
    if y.ndim not in (1, 2) or y.ndim == 2 and y.shape[1] == 0:
        raise ValueError(
            f"y must be 1-D of shape (n_samples,) or 2-D of shape (n_samples, n_targets); got shape {y.shape}."
        )
    if y.dtype.kind == "c":
        raise ValueError(f"Complex data not supported: y holds complex numbers, and {name} needs real targets.")
    if y.dtype.kind not in "biuf":
        words = [v for v in y.ravel() if isinstance(v, (str, bytes))]
        try:
            if words or y.dtype.kind not in "O":
                raise TypeError
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            value = words[0] if words else y.ravel()[0]
            raise ValueError(
                f"{name} needs numeric targets, but y (dtype {y.dtype}) holds {value!r}, which is not a number. "
                "Class labels go to AutoNASClassifier; other targets must be converted to numbers."
            ) from None
    y = y.astype(np.float64)
    bad = ~np.isfinite(y)
    if bad.any():
        rows = np.flatnonzero(bad.reshape(len(y), -1).any(axis=1))
        raise ValueError(
            f"y holds {int(bad.sum())} NaN or infinite value(s), in rows {rows[:5].tolist()}"
            f"{' and more' if len(rows) > 5 else ''}; {name} needs finite targets. Drop those rows or impute the "
            "targets before fit."
        )
    return y


def _step_seconds(space, architecture, input_shape, n_outputs, batch_size, device, task="classification", repeats=3):
    """Seconds of one training step (forward and backward pass of a batch) of ``architecture`` in ``space``.

    The fastest of ``repeats`` steps after one warm-up step, on random data
    (class labels and the cross-entropy, or for ``task='regression'`` targets
    and the squared error); torch's random state is forked, so the caller's
    is left alone.
    """
    with torch_seeded(0, device):
        module = space.build(architecture, input_shape, n_outputs).to(device).train()
        X = torch.randn(batch_size, *input_shape, device=device)
        if task == "regression":
            y, loss = torch.randn(batch_size, n_outputs, device=device), torch.nn.functional.mse_loss
        else:
            y, loss = torch.randint(n_outputs, (batch_size,), device=device), torch.nn.functional.cross_entropy
        times = []
        for _ in range(repeats + 1):
            started = time.perf_counter()
            loss(module(X), y).backward()
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

    def __init__(
        self, space, final_space, input_shape, n_outputs, batch_size, device, task="classification", step_seconds=None
    ):
        self.spaces = (space, final_space)
        self.args = (input_shape, n_outputs, batch_size, device, task)
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
