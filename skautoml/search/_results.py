"""What the search loop passes around: proposals, fidelities and trial results."""
import math
import os
import socket
import traceback
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Fidelity:
    """How much training a trial gets: epochs and the fraction of training data."""

    max_epochs: int
    data_fraction: float = 1.0


@dataclass(frozen=True)
class Proposal:
    """A candidate to evaluate, with what the strategy asks of its trial.

    A strategy's ``ask`` returns plain values of the space or proposals; the
    search loop reads a plain value as ``Proposal(value)``.

    Attributes
    ----------
    architecture : value of the search space
    resource : float in (0, 1], default=1.0
        Share of the full fidelity to evaluate it at (multi-fidelity
        strategies); the loop maps a share to epochs, data or both.
    parent : int or None, default=None
        Index of the trial whose trained model this candidate starts from.
    warm_start : object or None, default=None
        What the evaluator builds the candidate's model from instead of
        training from scratch (for network morphisms: the parent's trained
        network and the steps to apply); it travels to the worker with the
        trial.
    keep_model : bool, default=False
        Return the trained model in ``TrialResult.model`` so the strategy can
        keep it (the loop drops it from the results it records).
    epochs : int or None, default=None
        The trial's epochs as the strategy sets them, instead of the
        search's (scaled by ``resource``); the data fraction stays the
        search's. One-shot strategies: supernet epochs per trial, 0 to score
        an architecture with inherited weights without training.
    """

    architecture: object
    resource: float = 1.0
    parent: int | None = None
    warm_start: object = field(default=None, repr=False, compare=False)
    keep_model: bool = False
    epochs: int | None = None


def as_proposal(candidate):
    """``candidate`` as a :class:`Proposal` (a plain value becomes one at full fidelity)."""
    return candidate if isinstance(candidate, Proposal) else Proposal(candidate)


@dataclass(frozen=True)
class TrialResult:
    """What one trial of a search produced.

    Attributes
    ----------
    architecture : value of the search space
    score : float
        Validation score (NaN when the trial failed); higher is better.
    status : {'ok', 'failed', 'infeasible'}
        ``'infeasible'``: refused before training by the search's limits
        (see ``run_search``'s ``constraint``); never a recorded trial.
    error : str or None
        The exception of a failed trial, with the line it came from.
    n_params : int
        Trainable parameters (0 when the model could not be built).
    flops : int
        Floating-point operations of one forward pass of one sample.
    train_seconds : float
        Seconds of building, training and scoring.
    epochs : int
        Epochs run (early stopping and deadlines may cut them short).
    best_epoch : int
        Epoch whose weights were scored; a refit trains this many epochs.
    seed : int
        Seed of the trial.
    worker : str
        ``host:pid`` of the process that ran the trial.
    curve : tuple of float
        Validation score after each epoch run (empty for a failed trial).
    stopped_early : bool
        Whether a trial-stopping rule ended the trial before its epochs ran
        out (patience-based early stopping and deadlines do not count).
    resource : float in (0, 1]
        Share of the full fidelity the trial ran at; the search loop sets it
        from the :class:`Proposal`.
    parent : int or None
        Index of the trial this one started from (see :class:`Proposal`);
        the search loop sets it.
    valid_loss : float
        Validation loss of the scored weights (NaN when not measured).
    initial_valid_loss : float
        Validation loss before training, for a trial that starts from a
        parent's weights (NaN otherwise): function-preserving morphisms keep
        it equal to the parent's ``valid_loss``.
    latency_ms : float
        Predicted inference latency in milliseconds, when the search priced
        it (a latency objective, limit or cost; NaN otherwise).
    raw_score : float
        The evaluator's validation score when an objective replaced
        ``score`` by a reward (see ``run_search``'s ``objective``); NaN
        when ``score`` is the evaluator's own.
    predict_seconds : float
        Seconds the trial spent predicting its validation data (0 when not measured).
    predictions : ndarray or None
        The validation predictions of a pipeline trial at full fidelity
        (out-of-fold, see :class:`~skautoml.automl.PipelineEvaluator`), which
        ensemble selection uses; None otherwise.
    model : object or None
        The trained model, only when the proposal asked for it; the search
        loop hands it to the strategy and records the result without it.
    """

    architecture: object
    score: float
    status: str
    error: str | None = None
    n_params: int = 0
    flops: int = 0
    train_seconds: float = 0.0
    epochs: int = 0
    best_epoch: int = 0
    seed: int = 0
    worker: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    curve: tuple = ()
    stopped_early: bool = False
    resource: float = 1.0
    parent: int | None = None
    valid_loss: float = math.nan
    initial_valid_loss: float = math.nan
    latency_ms: float = math.nan
    raw_score: float = math.nan
    predict_seconds: float = 0.0
    predictions: object = field(default=None, repr=False, compare=False)
    model: object = field(default=None, repr=False, compare=False)

    @property
    def ok(self):
        return self.status == "ok"


def failure_text(exc):
    """What a failed trial records: the exception and the line it came from."""
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ is not None else None
    place = f" ({os.path.basename(where.filename)}:{where.lineno})" if where is not None else ""
    return f"{type(exc).__name__}: {exc}{place}"
