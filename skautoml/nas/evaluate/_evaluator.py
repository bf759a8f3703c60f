"""Training and scoring of one candidate architecture through skorch."""
import math
import time
from typing import NamedTuple

import numpy as np
import torch
from skorch import NeuralNetClassifier, NeuralNetRegressor
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..._utils._random import torch_seeded
from ..._utils._skorch import callback_sink
from ...search import TrialResult
from ...search import failure_text as _exception_text
from ..space._joint import SGD_LR_SCALE, JointArchitecture
from ..space._modules import Standardize
from ._iterator import TensorBatchIterator
from ._stopping import StopTrialEarly


class _TrialTraining:
    """What the trial nets add to skorch's: no per-batch mode switch that small networks feel, and augmentation.

    skorch switches every module to training or evaluation mode on every
    batch, walking all submodules each time; here a module already in the
    requested mode is left alone.

    ``augment`` (a :class:`~skautoml.prep.augment.BatchAugment`, or any
    callable ``augment(images, y, generator, n_classes) -> (images, targets)``)
    changes every training batch; targets may be soft labels, which the
    cross-entropy loss takes as class probabilities (a regression net's
    augmentation leaves its targets as they are). Its randomness comes from
    a generator seeded from torch's global seed at the start of each fit.
    """

    def __init__(self, *args, augment=None, n_classes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.augment = augment
        self.n_classes = n_classes

    def fit_loop(self, X, y=None, epochs=None, **fit_params):
        if self.augment is not None:
            seed = int(torch.randint(2**62, (1,)))
            self.augment_generator_ = torch.Generator().manual_seed(seed)
        return super().fit_loop(X, y, epochs=epochs, **fit_params)

    def train_step_single(self, batch, **fit_params):
        if self.augment is None:
            return super().train_step_single(batch, **fit_params)
        self._set_training(True)
        Xi, yi = batch
        Xi, targets = self.augment(Xi, yi, self.augment_generator_, self.n_classes)
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, targets, X=Xi, training=True)
        loss.backward()
        return {"loss": loss, "y_pred": y_pred}

    def _set_training(self, training=True):
        for name in self._modules + self._criteria:
            module = getattr(self, name + "_")
            if isinstance(module, nn.Module) and module.training != training:
                module.train(training)


class TrialNet(_TrialTraining, NeuralNetClassifier):
    """skorch's classifier, trained the trials' way (see :class:`_TrialTraining`)."""


class TrialNetRegressor(_TrialTraining, NeuralNetRegressor):
    """skorch's regressor, trained the trials' way (see :class:`_TrialTraining`); targets of shape (N, n_outputs)."""


class NonFiniteLossError(ArithmeticError):
    """The training loss became NaN or infinite."""


class StopAtDeadline(Callback):
    """Ends training after the epoch during which ``deadline`` (a :class:`~skautoml.search.Deadline`) passed.

    Raising ``KeyboardInterrupt`` is skorch's way to end training early (its
    ``EarlyStopping`` does the same); the net stays usable.
    """

    def __init__(self, deadline):
        self.deadline = deadline

    def on_epoch_end(self, net, **kwargs):
        if self.deadline is not None and self.deadline.passed():
            raise KeyboardInterrupt


class FitToTime(Callback):
    """Re-plans training at every epoch's end so that it fills the time to ``end`` and its schedule ends there.

    A planned refit prices its epochs from a few timed training steps, which
    err by a third either way on a busy machine (on 2 CPU cores, a refit
    priced so for 170 s took 124 s; another, priced for 90 s, ran out at 56
    of 61 epochs with its cosine schedule unfinished). At each epoch's end,
    the seconds per epoch measured so far give the epochs that fit before
    ``end``: the cosine schedule's length (``T_max`` of the ``lr_schedule``
    callback) is set to them, and training stops there (at most the net's
    ``max_epochs``). The first epoch alone sets the first plan; from the
    second on, only the epochs after the first are timed, as the first
    carries the start-up.

    Parameters
    ----------
    end : Deadline
        When training should end (read on the deadline's own clock).

    Attributes
    ----------
    epochs_ : int or None
        The epochs planned at the last epoch's end (None before the first).
    """

    def __init__(self, end):
        self.end = end

    def on_train_begin(self, net, **kwargs):
        self.started_, self.epochs_ = self.end.clock(), None

    def on_epoch_end(self, net, **kwargs):
        done, now = len(net.history), self.end.clock()
        if done == 1:
            self.first_end_ = now
            per_epoch = now - self.started_
        else:
            per_epoch = (now - self.first_end_) / (done - 1)
        fit = int((self.end.at - now) / max(per_epoch, 1e-9))
        self.epochs_ = min(net.max_epochs, done + max(0, fit))
        dict(net.callbacks_)["lr_schedule"].lr_scheduler_.T_max = self.epochs_
        if done >= self.epochs_:
            raise KeyboardInterrupt


class CheckFiniteLoss(Callback):
    """Fails the trial as soon as an epoch's training loss is NaN or infinite."""

    def on_epoch_end(self, net, **kwargs):
        loss = net.history[-1, "train_loss"]
        if not math.isfinite(loss):
            raise NonFiniteLossError(f"training loss became {loss} in epoch {len(net.history)}")


class ValidAccuracy(Callback):
    """Records ``valid_acc`` from the predictions of the validation pass.

    skorch's default ``EpochScoring('accuracy')`` goes through a scikit-learn
    scorer every epoch, which costs as much as a small network's epoch; this
    counts correct predictions batch by batch instead.
    """

    def on_epoch_begin(self, net, **kwargs):
        self._correct, self._total = 0, 0

    def on_batch_end(self, net, batch, training, y_pred, **kwargs):
        if not training:
            y_true = batch[1]
            self._correct = self._correct + (y_pred.argmax(dim=1) == y_true).sum()
            self._total += len(y_true)

    def on_epoch_end(self, net, **kwargs):
        if self._total:
            net.history.record("valid_acc", int(self._correct) / self._total)


class ValidR2(Callback):
    """Records ``valid_r2``, the R² of the validation pass, from its predictions.

    The R² of each output (one minus its squared errors over its squares
    about the mean) averaged over the outputs, as scikit-learn's
    ``r2_score``; an output that is constant in the validation data scores
    1 when predicted exactly, else 0. Summed batch by batch on the device,
    as :class:`ValidAccuracy` counts.
    """

    def on_epoch_begin(self, net, **kwargs):
        self._sums, self._total = 0.0, 0

    def on_batch_end(self, net, batch, training, y_pred, **kwargs):
        if not training:
            y_true = batch[1]
            self._sums = self._sums + _r2_sums(y_pred, y_true)
            self._total += len(y_true)

    def on_epoch_end(self, net, **kwargs):
        if self._total:
            net.history.record("valid_r2", _r2(self._sums, self._total))


def _r2_sums(outputs, targets):
    """Per output: the squared errors, the targets and their squares, summed over the batch (float64)."""
    outputs, targets = outputs.double(), targets.double()
    return torch.stack([((outputs - targets) ** 2).sum(dim=0), targets.sum(dim=0), (targets**2).sum(dim=0)])


def _r2(sums, n):
    """R² averaged over the outputs, from :func:`_r2_sums` of ``n`` samples (scikit-learn's ``r2_score``)."""
    squared_errors, total, squares = sums.cpu().numpy()
    spread = squares - total**2 / n
    rounding = 1e-12 * np.maximum(squares, 1.0)  # what the sums cannot tell from zero
    constant = spread <= rounding
    scores = 1 - np.divide(squared_errors, spread, out=np.zeros_like(spread), where=~constant)
    scores[constant] = (squared_errors[constant] <= rounding[constant]).astype(float)
    return float(scores.mean())


class _Task(NamedTuple):
    """What differs between a classification and a regression evaluator (see ``Evaluator(task=...)``)."""

    net: type  # the skorch net class
    criterion: type
    target_dtype: torch.dtype
    score_key: str  # the history column of the validation score
    score_callback: tuple  # (name, Callback class) that records it
    net_params: dict  # further skorch parameters


class Evaluator:
    """Trains candidate architectures through skorch and scores them.

    Holds everything that is the same for all trials of one search — the
    space, the shape of the input, the task and the training settings — so
    that one trial is ``evaluate(architecture, data, fidelity, seed)``. Input
    standardisation (per feature, or per channel for images) is learned from
    the training data of each fit and becomes the first layer of the module,
    so the fitted net takes raw data.

    Classification (the default) trains on integer labels with the
    cross-entropy and scores the validation accuracy (``valid_acc`` in the
    history); ``task='regression'`` trains on float targets of shape
    ``(N, n_outputs)`` (1-D targets are taken as one output) with the mean
    squared error and scores the validation R² (``valid_r2``, averaged over
    the outputs, as scikit-learn's ``r2_score``), and a data fraction below 1
    keeps a random share of the training data instead of a stratified one.
    Targets are used as given: an estimator standardises them first.

    Parameters
    ----------
    space : SearchSpace
    input_shape : tuple of int
        Shape of one sample.
    n_classes : int or None
        Classes of a classification task (the outputs of its networks);
        None for regression.
    batch_size : int
    lr : float
        Learning rate of AdamW, annealed by a cosine schedule over
        ``max_epochs`` of the fidelity.
    weight_decay : float
    patience : int or None
        Early-stopping patience in epochs on the validation loss; None turns
        early stopping off.
    device : str
        A resolved torch device ('cpu', 'cuda', 'cuda:1').
    augment : callable or None
        Applied to every training batch of image data (see :class:`TrialNet`).
    stopping_rule : TrialStoppingRule or None
        Asked after every epoch of a trial whether to stop it (see
        :class:`~skautoml.nas.evaluate.StopTrialEarly`); None lets
        trials run their epochs. The search loop passes it the curves of
        finished full-fidelity trials between rounds of trials.
    task : {'classification', 'regression'}, default='classification'
    n_outputs : int or None, default=None
        Targets of a regression task (the outputs of its networks); None is
        one. A classification task has ``n_classes`` outputs.
    label_smoothing : float in [0, 1), default=0.0
        Label smoothing of a classification task's cross-entropy (in
        training, and so in the validation loss that early stopping reads;
        the scored accuracy is unchanged). Regression takes 0 only.
    augmentations : dict or None, default=None
        ``{name: callable or None}``: the augmentations the ``augment`` names
        of a :class:`~skautoml.nas.TrainingChoice` stand for (``'none'`` is
        always None).

    A value of a :class:`~skautoml.nas.JointSpace` (a
    :class:`~skautoml.nas.JointArchitecture`) trains with its own
    :class:`~skautoml.nas.TrainingChoice` instead of ``lr``,
    ``weight_decay``, ``batch_size`` and ``augment``: AdamW, or SGD with
    Nesterov momentum 0.9 at ``SGD_LR_SCALE`` times its learning rate, its
    batch size, and the augmentation its name stands for in
    ``augmentations``.

    Attributes
    ----------
    n_outputs : int
        Outputs of the networks built: ``n_classes``, or the regression's
        ``n_outputs``.
    score_key : str
        The history column of the per-epoch validation score:
        ``'valid_acc'`` or ``'valid_r2'``.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.nas import Evaluator, Fidelity, MLPArchitecture, MLPSpace
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3)).astype("float32")
    >>> y = X @ np.array([0.5, -1.0, 0.25], dtype="float32")
    >>> evaluator = Evaluator(MLPSpace(), (3,), batch_size=32, task="regression")
    >>> result = evaluator.evaluate(MLPArchitecture((32,)), X[:150], y[:150], X[150:], y[150:], Fidelity(20), seed=0)
    >>> result.status, result.score > 0.8  # the validation R²
    ('ok', True)
    """

    def __init__(
        self,
        space,
        input_shape,
        n_classes=None,
        batch_size=128,
        lr=3e-3,
        weight_decay=1e-4,
        patience=8,
        device="cpu",
        augment=None,
        stopping_rule=None,
        task="classification",
        n_outputs=None,
        label_smoothing=0.0,
        augmentations=None,
    ):
        # Not an estimator: checking here reports a bad value where it was written.
        if task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}; got task={task!r}.")
        if task == "classification" and (n_classes is None or n_outputs is not None):
            raise ValueError(
                "A classification Evaluator needs n_classes (its networks' outputs) and no n_outputs, which is for "
                f"task='regression'; got n_classes={n_classes!r}, n_outputs={n_outputs!r}."
            )
        if task == "regression" and n_classes is not None:
            raise ValueError(
                f"A regression Evaluator has no classes; got n_classes={n_classes!r}. Set n_outputs (the targets) "
                "instead, or task='classification'."
            )
        if not 0 <= label_smoothing < 1 or (task == "regression" and label_smoothing):
            raise ValueError(
                f"label_smoothing must be in [0, 1) for classification and 0 for regression; got {label_smoothing!r}."
            )
        self.space = space
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.label_smoothing = label_smoothing
        self.augmentations = augmentations
        self.task = task
        if task == "classification":
            self.n_outputs = n_classes
        else:
            self.n_outputs = 1 if n_outputs is None else int(n_outputs)
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.device = device
        self.augment = augment
        self.stopping_rule = stopping_rule
        self._task = TASKS[task]
        self.score_key = self._task.score_key

    def build_module(self, architecture, X_train):
        """The network of ``architecture`` behind a standardisation of ``X_train``."""
        return self.standardized(self.space.build(architecture, self.input_shape, self.n_outputs), X_train)

    def standardized(self, network, X_train):
        """``network`` behind a standardisation (per feature, or per channel for images) of ``X_train``."""
        axes = (0, 2, 3) if len(self.input_shape) == 3 else (0,)
        mean = X_train.mean(axis=axes, keepdims=True)[0]
        scale = X_train.std(axis=axes, keepdims=True)[0]
        scale[scale < 1e-8] = 1.0  # constant features and channels pass unchanged
        return nn.Sequential(Standardize(mean, scale), network)

    @property
    def memory_format(self):
        """The memory layout of the convolution weights: channels-last for images on the CPU, else as they are.

        A convolution puts its output in its weights' layout, so the batches
        follow, also in ``predict`` of a fitted model. PyTorch's CPU
        convolutions train 1.2-1.4x and infer 1.25-1.5x faster that way
        (benchmarks/README.md, "Channels-last images"); values are unchanged.
        On a GPU the layout is left as it is: it was not measured there.
        """
        if len(self.input_shape) == 3 and torch.device(self.device).type == "cpu":
            return torch.channels_last
        return torch.preserve_format

    def make_net(
        self, module, max_epochs, valid_data=None, deadline=None, verbose=0, callbacks=(), training=None, **params
    ):
        """An uninitialised skorch net around ``module``: a classifier, or a regressor for ``task='regression'``.

        ``callbacks`` are added to the trial's own; ``training`` (a
        :class:`~skautoml.nas.TrainingChoice`) replaces the evaluator's
        optimiser settings, batch size and augmentation; ``params`` are
        further skorch parameters (e.g. ``optimizer__param_groups``).
        """
        task = self._task
        settings = self._training_settings(training)
        score_name, score_callback = task.score_callback
        extra, callbacks = list(callbacks), [
            (score_name, score_callback()),
            ("lr_schedule", LRScheduler("CosineAnnealingLR", T_max=max(max_epochs, 1))),
            ("check_finite_loss", CheckFiniteLoss()),
            ("deadline", StopAtDeadline(deadline)),
        ]
        if valid_data is not None and self.patience is not None:
            sink = callback_sink(verbose)
            stopping = EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True, sink=sink)
            callbacks.append(("early_stopping", stopping))
        if valid_data is not None and self.stopping_rule is not None:
            callbacks.append(("trial_stopping", StopTrialEarly(self.stopping_rule, key=task.score_key)))
        callbacks += extra
        if self.label_smoothing:
            settings["criterion__label_smoothing"] = self.label_smoothing
        return task.net(
            module,
            criterion=task.criterion,
            max_epochs=max_epochs,
            iterator_train=TensorBatchIterator,
            iterator_train__shuffle=True,
            iterator_valid=TensorBatchIterator,
            train_split=None if valid_data is None else predefined_split(Dataset(*valid_data)),
            callbacks=callbacks,
            device=self.device,
            n_classes=self.n_classes,
            verbose=verbose,
            # The epoch table costs time even when nothing is printed.
            **({} if verbose else {"callbacks__print_log": None}),
            **task.net_params,
            **settings,
            **params,
        )

    def _training_settings(self, training):
        """The skorch settings of the optimiser, batch size and augmentation: the evaluator's, or ``training``'s."""
        if training is None:
            return {
                "optimizer": torch.optim.AdamW, "lr": self.lr, "optimizer__weight_decay": self.weight_decay,
                "batch_size": self.batch_size, "augment": self.augment,
            }
        augmentations = {"none": None, **(self.augmentations or {})}
        if training.augment not in augmentations:
            raise ValueError(
                f"augment={training.augment!r} of {training} names no augmentation of this Evaluator "
                f"(augmentations: {sorted(augmentations)})."
            )
        sgd = training.optimizer == "sgd"
        return {
            "optimizer": torch.optim.SGD if sgd else torch.optim.AdamW,
            "lr": training.lr * (SGD_LR_SCALE if sgd else 1.0),
            "optimizer__weight_decay": training.weight_decay,
            **({"optimizer__momentum": 0.9, "optimizer__nesterov": True} if sgd else {}),
            "batch_size": training.batch_size,
            "augment": augmentations[training.augment],
        }

    def evaluate(
        self, architecture, X_train, y_train, X_valid, y_valid, fidelity, seed, deadline=None, *, warm_start=None,
        keep_model=False,
    ):
        """Train ``architecture`` at ``fidelity`` and score it on the validation data.

        Never raises for a bad candidate: an exception, a NaN loss or running
        out of memory gives a result with ``status='failed'`` and the error.

        Parameters
        ----------
        architecture : value of the space
        X_train, y_train, X_valid, y_valid : ndarray
        fidelity : Fidelity
        seed : int
        deadline : Deadline or None
            Training stops after the epoch during which it passes.
        warm_start : object or None
            What the trial starts from instead of ``space.build``; its methods:

            * ``build(evaluator, X_train, seed) -> nn.Module``: the module to
              train (a morphed copy of a trained parent, a supernet);
            * ``callbacks(valid_data, seed) -> [(name, Callback), ...]`` and
              ``net_params() -> dict`` (optional): skorch callbacks and
              parameters added to the trial's net (a gradient search's
              architecture step on validation batches, its own parameter
              groups);
            * ``scored(module, X_train, seed) -> nn.Module`` (optional): the
              module to score after training (a subnet with inherited
              weights, on the evaluator's device and in its
              ``memory_format``), scored by a validation
              pass in evaluation mode, which also gives ``n_params`` and
              ``flops``; the trained module is then not validated per epoch
              (no early stopping, no trial-stopping rule). When the warm start then
              has a ``scored_architecture`` (the architecture a gradient
              search derived after training), the result reports that one.

            A warm start trained and scored as itself also records its
            validation loss before training (``initial_valid_loss``).
            ``fidelity.max_epochs == 0`` scores the warm start without
            training it.
        keep_model : bool
            Return the trained module (on the CPU) in ``result.model``. A
            module scored as itself is scored on the weights kept: those
            early stopping restores (the last epoch that improved the
            validation loss by its threshold), else the last epoch's.
        """
        started = time.perf_counter()
        n_params = flops = 0
        initial_loss = math.nan
        try:
            # Seeded in a fork: a search in this process leaves the caller's torch random state alone.
            with torch_seeded(seed, self.device):
                subsample = random_subsample if self.task == "regression" else stratified_subsample
                X_train, y_train = subsample(X_train, y_train, fidelity.data_fraction, seed)
                if warm_start is None:
                    module = self.build_module(architecture, X_train)
                else:
                    module = warm_start.build(self, X_train, seed)
                module = module.to(memory_format=self.memory_format)
                scores_itself = not hasattr(warm_start, "scored")
                if scores_itself:
                    n_params, flops = _costs(module, self.input_shape)
                valid_data = self._to_device(X_valid, y_valid)
                if warm_start is not None and scores_itself and fidelity.max_epochs > 0:
                    initial_loss = self.validation_score(module.to(self.device), *valid_data)[0]
                history = ()
                if fidelity.max_epochs > 0:
                    extra = warm_start.callbacks(valid_data, seed) if hasattr(warm_start, "callbacks") else []
                    params = warm_start.net_params() if hasattr(warm_start, "net_params") else {}
                    # A module scored by its subnet is not validated per epoch: no early stopping restores
                    # or stops what its epochs trained (a supernet's own validation says nothing).
                    validation = valid_data if scores_itself else None
                    net = self.make_net(
                        module, fidelity.max_epochs, validation, deadline, callbacks=extra,
                        training=_training_of(architecture), **params,
                    )
                    net.fit(*self._to_device(X_train, y_train))
                    module, history = net.module_, net.history
                if scores_itself and history:
                    best = _kept_epoch(net) - 1 if keep_model else int(np.argmin(history[:, "valid_loss"]))
                    valid_loss, score = float(history[best, "valid_loss"]), float(history[best, self.score_key])
                    best_epoch = best + 1
                else:
                    # A module scored as it is; or a subnet on the evaluator's device (the warm start's own,
                    # such as a strategy's supernet that a score-only trial reads, stays where it is).
                    scored = module.to(self.device) if scores_itself else warm_start.scored(module, X_train, seed)
                    # A gradient search scores the architecture its training derived.
                    architecture = getattr(warm_start, "scored_architecture", architecture)
                    if not scores_itself:
                        n_params, flops = _costs(scored, self.input_shape)
                    valid_loss, score = self.validation_score(scored, *valid_data)
                    best_epoch = 0  # the scored weights were not trained as this module
            return TrialResult(
                architecture,
                score=score,
                status="ok",
                n_params=n_params,
                flops=flops,
                train_seconds=time.perf_counter() - started,
                epochs=len(history),
                best_epoch=best_epoch,
                seed=seed,
                curve=tuple(float(row[self.score_key]) for row in history if self.score_key in row),
                stopped_early=bool(history[-1].get("stopped_early", False)) if history else False,
                valid_loss=valid_loss,
                initial_valid_loss=initial_loss,
                # Kept models wait on the CPU: device memory holds only the ones training.
                model=module.cpu() if keep_model else None,
            )
        except Exception as exc:  # noqa: BLE001 - a bad candidate must not end the search
            return TrialResult(
                architecture,
                score=math.nan,
                status="failed",
                error=failure_text(exc),
                n_params=n_params,
                flops=flops,
                train_seconds=time.perf_counter() - started,
                seed=seed,
                initial_valid_loss=initial_loss,
            )

    def fit_final(
        self, architecture, X, y, epochs, schedule_epochs, seed, deadline=None, verbose=0, warm_start=None, callbacks=()
    ):
        """Train ``architecture`` on all of ``X, y`` for ``epochs``; returns the fitted skorch net.

        The learning rate follows the cosine schedule of a trial of
        ``schedule_epochs`` epochs, stopped after ``epochs`` (the trial's best
        epoch), so the refit repeats the winning trial's training on more data.
        With a ``warm_start`` (see :meth:`evaluate`) the network starts from it
        and the schedule restarts, as in SGDR. ``callbacks`` are added to the
        net's (e.g. a :class:`FitToTime`).
        """
        with torch_seeded(seed, self.device):
            module = self.build_module(architecture, X) if warm_start is None else warm_start.build(self, X, seed)
            net = self.make_net(
                module, schedule_epochs, None, deadline, verbose=verbose, callbacks=callbacks,
                training=_training_of(architecture),
            )
            net.set_params(max_epochs=epochs)
            net.fit(*self._to_device(X, y))
        # The fitted net outlives the search: later training must not stop at its deadline.
        return net.set_params(callbacks__deadline__deadline=None)

    def validation_score(self, module, X, y):
        """Mean loss and score of ``module`` on tensors ``X, y`` in evaluation mode: cross-entropy and accuracy,
        or (regression) mean squared error and R²."""
        return _validation_score(module, X, y, self.batch_size, regression=self.task == "regression")

    def _to_device(self, X, y):
        """Tensors on the training device, so batches are cut there without copies (regression targets 2-D)."""
        y = torch.as_tensor(y, dtype=self._task.target_dtype, device=self.device)
        if self.task == "regression":
            y = y.reshape(len(y), -1)
            if y.shape[1] != self.n_outputs:
                raise ValueError(
                    f"The targets have {y.shape[1]} columns, but this Evaluator's networks have n_outputs="
                    f"{self.n_outputs} outputs: pass targets of shape (N, {self.n_outputs}) or set n_outputs."
                )
        return torch.as_tensor(X, dtype=torch.float32, device=self.device), y


def _training_of(architecture):
    """The :class:`~skautoml.nas.TrainingChoice` a joint value trains with, None for a plain architecture."""
    return architecture.training if isinstance(architecture, JointArchitecture) else None


def _kept_epoch(net):
    """The epoch whose weights ``net`` holds after fit: early stopping's restored best, else the last."""
    early_stopping = dict(net.callbacks_).get("early_stopping")
    if early_stopping is not None and early_stopping.best_epoch_ > 0:
        return int(early_stopping.best_epoch_)
    return len(net.history)


def _costs(module, input_shape):
    """Trainable parameters and FLOPs of one forward pass of one sample."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad), count_flops(module, input_shape)


def _validation_score(module, X, y, batch_size, regression=False):
    """Mean cross-entropy and accuracy of ``module`` on ``X, y`` in evaluation mode; with ``regression``, the
    mean squared error (over samples and outputs, as the training loss) and the R² (see :class:`ValidR2`)."""
    was_training = module.training
    module.eval()
    loss = correct = sums = 0.0
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                outputs, target = module(X[start : start + batch_size]), y[start : start + batch_size]
                if regression:
                    sums = sums + _r2_sums(outputs, target)
                else:
                    loss += float(nn.functional.cross_entropy(outputs, target, reduction="sum"))
                    correct += int((outputs.argmax(dim=1) == target).sum())
    finally:
        module.train(was_training)
    if regression:
        return float(sums[0].sum()) / y.numel(), _r2(sums, len(X))
    return loss / max(len(X), 1), correct / max(len(X), 1)


def failure_text(exc):
    """What a failed trial records: the exception and the line it came from.

    After running out of GPU memory, the cached memory is released first, so
    that the next trial starts clean.
    """
    if isinstance(exc, torch.OutOfMemoryError) and torch.cuda.is_available():
        torch.cuda.empty_cache()
    return _exception_text(exc)


def count_flops(module, input_shape):
    """Floating-point operations of one forward pass of one sample through ``module``."""
    was_training = module.training
    module.eval()
    device = next(module.parameters(), torch.zeros(())).device
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.zeros((1, *input_shape), device=device))
    finally:
        module.train(was_training)
    return int(counter.get_total_flops())


def stratified_subsample(X, y, fraction, seed):
    """A stratified ``fraction`` of ``(X, y)``, at least one sample per class (all of it when ``fraction >= 1``)."""
    if fraction >= 1.0:
        return X, y
    rng = np.random.default_rng(seed)
    keep = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        n_keep = max(1, round(fraction * len(members)))
        keep.append(rng.choice(members, size=n_keep, replace=False))
    keep = np.sort(np.concatenate(keep))
    return X[keep], y[keep]


def random_subsample(X, y, fraction, seed):
    """A random ``fraction`` of ``(X, y)``, at least two samples (all of it when ``fraction >= 1``)."""
    if fraction >= 1.0:
        return X, y
    n_keep = min(len(y), max(2, round(fraction * len(y))))
    keep = np.sort(np.random.default_rng(seed).choice(len(y), size=n_keep, replace=False))
    return X[keep], y[keep]


#: What ``Evaluator(task=...)`` trains and scores with.
TASKS = {
    "classification": _Task(
        TrialNet, nn.CrossEntropyLoss, torch.int64, "valid_acc", ("accuracy", ValidAccuracy),
        {"callbacks__valid_acc": None},  # skorch's own, replaced by ValidAccuracy
    ),
    "regression": _Task(TrialNetRegressor, nn.MSELoss, torch.float32, "valid_r2", ("r2", ValidR2), {}),
}
