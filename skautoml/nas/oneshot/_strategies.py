"""One-shot strategies: train one supernet, score architectures with its inherited weights (SPOS, ENAS).

They are ask/tell strategies of the one search loop
(:func:`~skautoml.search.run_search`). Their proposals carry a
:class:`SupernetTrial` warm start: the evaluator trains the strategy's
supernet (a copy of it) for the proposal's epochs in the strategy's mode, then
scores the proposed architecture as a subnet with the inherited weights and
recalibrated batch-norm statistics, and hands the trained supernet back
(``keep_model``). A *trial* is therefore one architecture scored with
inherited weights, after ``epochs_per_trial`` supernet epochs (training
trials) or after none (search trials); ``max_trials`` counts both, and
``n_jobs`` parallelises only the search trials (a supernet trains one epoch
after the other).
"""
import copy

import numpy as np
import torch
from torch import nn

from ..._utils._random import SEED_MAX
from ...search import Proposal, RegularizedEvolution, ReinforceController, Strategy

#: Training samples that set a subnet's batch-norm statistics before it is scored. Half of what was used before
#: (512): on the tabulated digits space the supernet ranks as well with 256 (Kendall tau 0.554-0.585 against
#: 0.551-0.589; benchmarks/README.md), and recalibrating was most of what scoring a subnet costs.
CALIBRATION_SAMPLES = 256


def recalibrate_batch_norm(module, X, batch_size=64):
    """Reset the batch-norm statistics of ``module`` and estimate them on ``X`` (a tensor on its device).

    A subnet inherits statistics gathered over many paths, which fit none of
    them (SPOS, Guo et al. 2020, recomputes them per subnet); the cumulative
    average over ``X``, in batches of ``batch_size`` (the training batch of
    ``AutoNASClassifier``'s default, and faster per image on a CPU than
    larger ones), replaces them. Returns ``module`` in evaluation mode.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the calibration batches
    module.train()
    with torch.no_grad():
        for start in range(0, len(X), batch_size):
            batch = X[start : start + batch_size]
            if len(batch) > 1:  # batch norm needs two samples
                module(batch)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return module.eval()


class SupernetTrial:
    """The warm start of a one-shot trial: the strategy's supernet, how to train it, what to score.

    ``build`` returns a copy of the supernet (created on the first trial,
    behind the evaluator's input standardisation) in the training mode;
    ``scored`` turns the trained copy into the subnet of ``architecture``
    with the inherited weights and recalibrated batch-norm statistics.

    Parameters
    ----------
    module : nn.Module or None
        ``Sequential(Standardize, supernet)`` from an earlier trial; None
        creates the supernet with ``space.supernet(input_shape, n_outputs,
        **options)``.
    architecture : value of the space
        Scored after training.
    mode : {'sample', 'path'} or None
        What the training epochs train: a new uniform path per batch
        (``'sample'``, SPOS), the architecture's path (``'path'``, ENAS), or
        nothing to train (None). Subclasses add their own (the gradient
        strategies' ``'relax'``) by overriding ``_prepare``.
    space : SearchSpace
    options : dict
        Settings of a new supernet.
    """

    def __init__(self, module, architecture, mode, space, options=None, calibration_seed=None):
        self.module = module
        self.architecture = architecture
        self.mode = mode
        self.space = space
        self.options = dict(options or {})
        self.calibration_seed = calibration_seed
        self.device = "cpu"
        self.memory_format = torch.preserve_format

    def _on(self, evaluator):
        """Score on the evaluator's device, in its memory layout."""
        self.device, self.memory_format = evaluator.device, evaluator.memory_format

    def build(self, evaluator, X_train, seed):
        self._on(evaluator)
        if self.module is None:
            module = evaluator.standardized(self._new_supernet(evaluator), X_train)
        elif self.mode is None:
            module = self.module  # nothing trains it: scoring copies the subnet's weights out
        else:
            # A copy: the strategy's supernet changes only through a finished trial's result.
            module = copy.deepcopy(self.module)
        self._prepare(module, seed)
        return module

    def _new_supernet(self, evaluator):
        """The supernet of the first trial."""
        return self.space.supernet(evaluator.input_shape, evaluator.n_outputs, **self.options)

    def _prepare(self, module, seed):
        """Put the supernet (``module[-1]``) in the mode this trial trains."""
        if self.mode == "sample":
            module[-1].sample_paths(np.random.default_rng(seed))
        elif self.mode == "path":
            module[-1].set_path(self.architecture)

    def scored(self, module, X_train, seed):
        standardize, supernet = module
        subnet = nn.Sequential(copy.deepcopy(standardize), supernet.subnet(self.architecture))
        subnet = subnet.to(self.device, memory_format=self.memory_format)
        # The same calibration images for every architecture of a search (when the strategy fixes them).
        calibration_seed = seed if self.calibration_seed is None else self.calibration_seed
        rows = np.random.default_rng(calibration_seed).permutation(len(X_train))[:CALIBRATION_SAMPLES]
        X = torch.as_tensor(X_train[np.sort(rows)], dtype=torch.float32, device=self.device)
        return recalibrate_batch_norm(subnet, X)


class SubnetWarmStart:
    """The refit's warm start: the subnet of ``architecture`` with the supernet's weights (``final='inherit'``)."""

    def __init__(self, module, architecture):
        self.module = module
        self.architecture = architecture

    def build(self, evaluator, X_train, seed):
        trial = SupernetTrial(self.module, self.architecture, None, None)
        trial._on(evaluator)
        return trial.scored(self.module, X_train, seed).train()  # the subnet holds copies of the weights


class OneShotStrategy(Strategy):
    """What one-shot strategies share: the supernet they hold, its trials, and the inherited refit.

    Subclasses call :meth:`_training_trial` and :meth:`_search_trial` to make
    proposals; a training trial's result brings the trained supernet back,
    which the strategy keeps when the trial succeeded (a failed epoch leaves
    the supernet as it was).
    """

    shares_weights = True

    def reset(self, space, random_state=None):
        if not callable(getattr(space, "supernet", None)):
            raise ValueError(
                f"{type(self).__name__} trains a weight-sharing supernet, which {type(space).__name__} does not "
                "offer (it has no supernet method). Use search_space='cell' or 'cnn', or a strategy that trains "
                "architectures stand-alone ('evolution', 'random', 'bayesian')."
            )
        super().reset(space, random_state)
        self.module = None
        self.supernet_epochs_ = 0
        self._calibration_seed = int(self._rng.integers(SEED_MAX))
        return self

    def _supernet_options(self):
        return {}

    def _training_trial(self, architecture, mode):
        trial = SupernetTrial(
            self.module, architecture, mode, self.space, self._supernet_options(), self._calibration_seed
        )
        return Proposal(architecture, warm_start=trial, keep_model=True, epochs=self.epochs_per_trial)

    def _search_trial(self, architecture):
        trial = SupernetTrial(self.module, architecture, None, self.space, self._supernet_options(), self._calibration_seed)
        return Proposal(architecture, warm_start=trial, epochs=0)

    def tell(self, candidate, result):
        super().tell(candidate, result)
        if candidate.keep_model and result.status != "infeasible":  # a refused epoch trained nothing
            self.supernet_epochs_ += 1  # attempted, so that a failing epoch cannot stall the search
            if result.ok and result.model is not None:
                self.module = result.model

    def final_warm_start(self, architecture):
        """The subnet of ``architecture`` with the supernet's weights, for a refit that fine-tunes it."""
        return None if self.module is None else SubnetWarmStart(self.module, architecture)

    def _ask_one(self):
        raise NotImplementedError  # ask is overridden: proposals depend on the phase


class SPOS(OneShotStrategy):
    """Single-path one-shot search (Guo et al., 2020): uniform path sampling, then evolution on inherited weights.

    **Training.** The first ``supernet_epochs`` trials each train the
    supernet for ``epochs_per_trial`` epochs, every batch along a new
    uniformly sampled path (``space.sample``), and score one uniformly
    sampled architecture with the inherited weights. **Search.** Every later
    trial scores an architecture proposed by regularised evolution (the
    paper uses a genetic algorithm) as a subnet with the supernet's weights
    and batch-norm statistics recalibrated on training data, without
    training; ``n_jobs`` of them run in parallel. The supernet is not
    trained any further, so search trials cost a validation pass each.

    Parameters
    ----------
    supernet_epochs : int, default=10
        Training trials. Search trials cost a validation pass each, so give
        the search many more trials than this (``max_trials=100`` or a
        ``time_budget``): with ``AutoNASClassifier``'s default
        ``max_trials=20`` half of them train the supernet.
    epochs_per_trial : int, default=1
        Supernet epochs of one training trial.
    population_size, sample_size : int, default=10, 3
        Of the evolution (see :class:`~skautoml.nas.RegularizedEvolution`).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.nas import Budget, CNNSpace, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.oneshot import SPOS
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype("float32")
    >>> data = (X[:300], y[:300], X[300:400], y[300:400])
    >>> space = CNNSpace(max_layers=2, channels=(8, 16))
    >>> strategy = SPOS(supernet_epochs=2).reset(space, random_state=0)
    >>> results = run_search(strategy, Evaluator(space, (1, 8, 8), 10), data, Fidelity(5), Budget(max_trials=6).start(), 0)
    >>> [r.epochs for r in results]
    [1, 1, 0, 0, 0, 0]
    """

    def __init__(self, supernet_epochs=10, epochs_per_trial=1, population_size=10, sample_size=3):
        self.supernet_epochs = supernet_epochs
        self.epochs_per_trial = epochs_per_trial
        self.population_size = population_size
        self.sample_size = sample_size

    def reset(self, space, random_state=None):
        self._check_positive_ints("supernet_epochs", "epochs_per_trial")
        super().reset(space, random_state)
        evolution = RegularizedEvolution(self.population_size, self.sample_size)
        self._evolution = evolution.reset(space, int(self._rng.integers(SEED_MAX)))
        return self

    def ask(self, n=None):
        self._check_reset(n)
        if self.supernet_epochs_ < self.supernet_epochs:
            proposals = [self._training_trial(self.space.sample(self._rng), "sample")]
        elif self.module is None:
            return None if n is None else []  # every training epoch failed: nothing to search with
        else:
            proposals = [self._search_trial(a) for a in self._evolution.ask(1 if n is None else n)]
        for proposal in proposals:
            self._seen.add(proposal.architecture)
        return proposals[0] if n is None else proposals

    def tell(self, candidate, result):
        super().tell(candidate, result)
        if not candidate.keep_model:
            self._evolution.tell(candidate.architecture, result)


class ENAS(OneShotStrategy):
    """ENAS-style weight sharing with the REINFORCE controller (after Pham et al., 2018).

    Each trial takes an architecture from a
    :class:`~skautoml.nas.ReinforceController`, trains the shared weights
    along its path for ``epochs_per_trial`` epochs, and scores it with them
    (batch-norm statistics recalibrated); the score is the controller's
    reward. Simplified from ENAS: the shared weights train on one
    controller-sampled path per trial rather than a new one per batch, and
    the controller learns from one reward per trial (its ``batch_size``
    trials per update) rather than from validation batches between epochs;
    batch-norm statistics are recalibrated before a path is scored (SPOS's
    step, which ENAS does not take). A reward also reflects how recently
    the path's weights were trained, as in ENAS.
    Trials run one after the other (``n_jobs`` does not parallelise them).

    Parameters
    ----------
    epochs_per_trial : int, default=1
    controller : ReinforceController or None, default=None
        Its settings (copied); None uses the defaults.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.nas import Budget, CNNSpace, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.oneshot import ENAS
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype("float32")
    >>> data = (X[:300], y[:300], X[300:400], y[300:400])
    >>> space = CNNSpace(max_layers=2, channels=(8, 16))
    >>> strategy = ENAS().reset(space, random_state=0)
    >>> results = run_search(strategy, Evaluator(space, (1, 8, 8), 10), data, Fidelity(5), Budget(max_trials=3).start(), 0)
    >>> [r.epochs for r in results], strategy.supernet_epochs_
    ([1, 1, 1], 3)
    """

    def __init__(self, epochs_per_trial=1, controller=None):
        self.epochs_per_trial = epochs_per_trial
        self.controller = controller

    def reset(self, space, random_state=None):
        self._check_positive_ints("epochs_per_trial")
        super().reset(space, random_state)
        controller = ReinforceController() if self.controller is None else copy.deepcopy(self.controller)
        self._controller = controller.reset(space, int(self._rng.integers(SEED_MAX)))
        return self

    def ask(self, n=None):
        self._check_reset(n)
        proposal = self._training_trial(self._controller.ask(), "path")
        self._seen.add(proposal.architecture)
        return proposal if n is None else [proposal]

    def tell(self, candidate, result):
        super().tell(candidate, result)
        self._controller.tell(candidate.architecture, result)
