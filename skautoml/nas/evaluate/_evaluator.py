"""Training and scoring of one candidate architecture through skorch."""
import math
import time

import numpy as np
import torch
from skorch import NeuralNetClassifier
from skorch.callbacks import Callback, EarlyStopping, LRScheduler
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..._utils._random import torch_seeded
from ...search import TrialResult
from ...search import failure_text as _exception_text
from ..space._modules import Standardize
from ._iterator import TensorBatchIterator
from ._stopping import StopTrialEarly


class TrialNet(NeuralNetClassifier):
    """skorch's classifier, minus a per-batch cost that small networks feel, plus augmentation.

    skorch switches every module to training or evaluation mode on every
    batch, walking all submodules each time; here a module already in the
    requested mode is left alone.

    ``augment`` (a :class:`~skautoml.prep.augment.BatchAugment`, or any
    callable ``augment(images, y, generator, n_classes) -> (images, targets)``)
    changes every training batch; targets may be soft labels, which the
    cross-entropy loss takes as class probabilities. Its randomness comes from
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


class Evaluator:
    """Trains candidate architectures through skorch and scores them.

    Holds everything that is the same for all trials of one search — the
    space, the shape of the input, the classes and the training settings — so
    that one trial is ``evaluate(architecture, data, fidelity, seed)``. Input
    standardisation (per feature, or per channel for images) is learned from
    the training data of each fit and becomes the first layer of the module,
    so the fitted net takes raw data.

    Parameters
    ----------
    space : SearchSpace
    input_shape : tuple of int
        Shape of one sample.
    n_classes : int
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
    """

    def __init__(
        self,
        space,
        input_shape,
        n_classes,
        batch_size=128,
        lr=3e-3,
        weight_decay=1e-4,
        patience=8,
        device="cpu",
        augment=None,
        stopping_rule=None,
    ):
        self.space = space
        self.input_shape = tuple(input_shape)
        self.n_classes = n_classes
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.device = device
        self.augment = augment
        self.stopping_rule = stopping_rule

    def build_module(self, architecture, X_train):
        """The network of ``architecture`` behind a standardisation of ``X_train``."""
        return self.standardized(self.space.build(architecture, self.input_shape, self.n_classes), X_train)

    def standardized(self, network, X_train):
        """``network`` behind a standardisation (per feature, or per channel for images) of ``X_train``."""
        axes = (0, 2, 3) if len(self.input_shape) == 3 else (0,)
        mean = X_train.mean(axis=axes, keepdims=True)[0]
        scale = X_train.std(axis=axes, keepdims=True)[0]
        scale[scale < 1e-8] = 1.0  # constant features and channels pass unchanged
        return nn.Sequential(Standardize(mean, scale), network)

    def make_net(self, module, max_epochs, valid_data=None, deadline=None, verbose=0, callbacks=(), **params):
        """An uninitialised skorch classifier around ``module``.

        ``callbacks`` are added to the trial's own; ``params`` are further
        skorch parameters (e.g. ``optimizer__param_groups``).
        """
        extra, callbacks = list(callbacks), [
            ("accuracy", ValidAccuracy()),
            ("lr_schedule", LRScheduler("CosineAnnealingLR", T_max=max(max_epochs, 1))),
            ("check_finite_loss", CheckFiniteLoss()),
            ("deadline", StopAtDeadline(deadline)),
        ]
        if valid_data is not None and self.patience is not None:
            callbacks.append(
                ("early_stopping", EarlyStopping(monitor="valid_loss", patience=self.patience, load_best=True))
            )
        if valid_data is not None and self.stopping_rule is not None:
            callbacks.append(("trial_stopping", StopTrialEarly(self.stopping_rule)))
        callbacks += extra
        return TrialNet(
            module,
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.AdamW,
            lr=self.lr,
            optimizer__weight_decay=self.weight_decay,
            max_epochs=max_epochs,
            batch_size=self.batch_size,
            iterator_train=TensorBatchIterator,
            iterator_train__shuffle=True,
            iterator_valid=TensorBatchIterator,
            train_split=None if valid_data is None else predefined_split(Dataset(*valid_data)),
            callbacks=callbacks,
            callbacks__valid_acc=None,  # replaced by ValidAccuracy
            device=self.device,
            augment=self.augment,
            n_classes=self.n_classes,
            verbose=verbose,
            # The epoch table costs time even when nothing is printed.
            **({} if verbose else {"callbacks__print_log": None}),
            **params,
        )

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
              weights, on the evaluator's device), scored by a validation
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
                X_train, y_train = stratified_subsample(X_train, y_train, fidelity.data_fraction, seed)
                if warm_start is None:
                    module = self.build_module(architecture, X_train)
                else:
                    module = warm_start.build(self, X_train, seed)
                scores_itself = not hasattr(warm_start, "scored")
                if scores_itself:
                    n_params, flops = _costs(module, self.input_shape)
                valid_data = self._to_device(X_valid, y_valid)
                if warm_start is not None and scores_itself and fidelity.max_epochs > 0:
                    initial_loss = _validation_score(module.to(self.device), *valid_data, self.batch_size)[0]
                history = ()
                if fidelity.max_epochs > 0:
                    extra = warm_start.callbacks(valid_data, seed) if hasattr(warm_start, "callbacks") else []
                    params = warm_start.net_params() if hasattr(warm_start, "net_params") else {}
                    # A module scored by its subnet is not validated per epoch: no early stopping restores
                    # or stops what its epochs trained (a supernet's own validation says nothing).
                    validation = valid_data if scores_itself else None
                    net = self.make_net(module, fidelity.max_epochs, validation, deadline, callbacks=extra, **params)
                    net.fit(*self._to_device(X_train, y_train))
                    module, history = net.module_, net.history
                if scores_itself and history:
                    best = _kept_epoch(net) - 1 if keep_model else int(np.argmin(history[:, "valid_loss"]))
                    valid_loss, score = float(history[best, "valid_loss"]), float(history[best, "valid_acc"])
                    best_epoch = best + 1
                else:
                    # A module scored as it is; or a subnet on the evaluator's device (the warm start's own,
                    # such as a strategy's supernet that a score-only trial reads, stays where it is).
                    scored = module.to(self.device) if scores_itself else warm_start.scored(module, X_train, seed)
                    # A gradient search scores the architecture its training derived.
                    architecture = getattr(warm_start, "scored_architecture", architecture)
                    if not scores_itself:
                        n_params, flops = _costs(scored, self.input_shape)
                    valid_loss, score = _validation_score(scored, *valid_data, self.batch_size)
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
                curve=tuple(float(row["valid_acc"]) for row in history if "valid_acc" in row),
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
            net = self.make_net(module, schedule_epochs, None, deadline, verbose=verbose, callbacks=callbacks)
            net.set_params(max_epochs=epochs)
            net.fit(*self._to_device(X, y))
        # The fitted net outlives the search: later training must not stop at its deadline.
        return net.set_params(callbacks__deadline__deadline=None)

    def _to_device(self, X, y):
        """Tensors on the training device, so batches are cut there without copies."""
        return (
            torch.as_tensor(X, dtype=torch.float32, device=self.device),
            torch.as_tensor(y, dtype=torch.int64, device=self.device),
        )


def _kept_epoch(net):
    """The epoch whose weights ``net`` holds after fit: early stopping's restored best, else the last."""
    early_stopping = dict(net.callbacks_).get("early_stopping")
    if early_stopping is not None and early_stopping.best_epoch_ > 0:
        return int(early_stopping.best_epoch_)
    return len(net.history)


def _costs(module, input_shape):
    """Trainable parameters and FLOPs of one forward pass of one sample."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad), count_flops(module, input_shape)


def _validation_score(module, X, y, batch_size):
    """Mean cross-entropy and accuracy of ``module`` on ``X, y`` in evaluation mode."""
    was_training = module.training
    module.eval()
    loss = correct = 0.0
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                logits, target = module(X[start : start + batch_size]), y[start : start + batch_size]
                loss += float(nn.functional.cross_entropy(logits, target, reduction="sum"))
                correct += int((logits.argmax(dim=1) == target).sum())
    finally:
        module.train(was_training)
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
