"""Limits of a search: how many trials, how many seconds, how many epochs, and the clock that enforces them."""
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Deadline:
    """A point in time on ``clock``'s scale; it travels with each trial to the worker that runs it.

    Parameters
    ----------
    at : float
        The end, in ``clock()`` seconds.
    clock : callable, default=time.time
        Seconds now; the wall clock by default, which processes and (roughly)
        machines share. The clock is pickled with the deadline into the
        worker that runs a trial, so it must read the same time there: a fake
        clock works for sequential trials (``n_jobs=1``) or threads only.
    """

    at: float
    clock: Callable[[], float] = time.time

    def passed(self):
        return self.clock() >= self.at

    def shifted(self, seconds):
        """The deadline ``seconds`` later (earlier when negative), on the same clock."""
        return Deadline(self.at + seconds, self.clock)


@dataclass
class Budget:
    """The limits of one search and the clock that enforces them.

    Every loop of a search asks :meth:`may_start` before it starts trials, so
    a time budget holds whatever the strategy. Under a time budget the loop
    keeps back :meth:`reserved_seconds` for the final refit, as predicted by
    ``refit_reserve`` from the trials so far.

    Parameters
    ----------
    max_trials : int or None
        Stop after this many trials have been started. ``None``: no limit.
    time_budget : float or None
        Seconds for the whole search, refit included. ``None``: no limit.
    max_epochs : int
        Training epochs of one trial at full fidelity.
    clock : callable, default=time.time
        Seconds now; inject a fake clock to test budgets exactly (see
        :class:`Deadline` for what a clock must do under parallel trials).
    refit_reserve : callable or None
        ``refit_reserve(results, time_budget) -> seconds`` to keep back for
        the refit, e.g. a :class:`RefitReserve`; None keeps nothing back.

    Examples
    --------
    >>> clock = iter([0.0, 4.0, 9.0]).__next__   # a fake clock: start, then two readings
    >>> budget = Budget(time_budget=10, clock=clock).start()
    >>> budget.may_start(1, expected_trial_seconds=5)   # 4 s elapsed + 5 s fits in 10 s
    True
    >>> budget.may_start(2, expected_trial_seconds=5)   # 9 s elapsed + 5 s does not
    False
    """

    max_trials: int | None = None
    time_budget: float | None = None
    max_epochs: int = 20
    clock: Callable[[], float] = field(default=time.time, repr=False)
    refit_reserve: Callable | None = field(default=None, repr=False)
    started_at: float | None = field(default=None, repr=False)

    def start(self):
        """Start the clock; returns ``self``."""
        self.started_at = self.clock()
        return self

    @property
    def elapsed(self):
        """Seconds since :meth:`start`."""
        return self.clock() - self.started_at

    @property
    def deadline(self):
        """The :class:`Deadline` when the budget ends, or None without a time budget."""
        if self.time_budget is None:
            return None
        return Deadline(self.started_at + self.time_budget, self.clock)

    def remaining_trials(self, n_started):
        """How many more trials may start (a large number when unlimited)."""
        if self.max_trials is None:
            return 2**31
        return max(0, self.max_trials - n_started)

    def reserved_seconds(self, results):
        """Seconds to keep back for the refit, given the results so far (0 without a time budget)."""
        if self.time_budget is None or self.refit_reserve is None:
            return 0.0
        return float(self.refit_reserve(results, self.time_budget))

    def may_start(self, n_started, expected_trial_seconds=0.0, reserved_seconds=0.0):
        """Whether another trial may start.

        A trial may start while the trial limit is not reached and, under a
        time budget, when the expected length of one more trial plus the time
        kept back for the refit still fits in what is left. The first trial
        always starts, so that every search has a result.
        """
        if self.remaining_trials(n_started) == 0:
            return False
        if self.time_budget is None or n_started == 0:
            return True
        needed = expected_trial_seconds + reserved_seconds
        return self.elapsed + needed <= self.time_budget

    def trial_deadline(self, results):
        """When trials must stop training: the budget's end less the refit reserve (None: no limit)."""
        if self.deadline is None:
            return None
        return self.deadline.shifted(-self.reserved_seconds(results))

    def refit_deadline(self, results):
        """When the refit must stop: the budget's end plus the longest trial, the overshoot a time budget allows."""
        if self.deadline is None:
            return None
        return self.deadline.shifted(max((r.train_seconds for r in results), default=0.0))


@dataclass(frozen=True)
class RefitReserve:
    """Seconds to keep back for the final refit, predicted from the trials so far.

    The refit repeats the best trial's training (the best ok trial at the
    highest resource) on all the data: its seconds per epoch, scaled by the
    refit's batches per epoch over the trial's, by ``cost_ratio`` (a final
    network larger than the searched one) and by the refit's epochs. Before
    any trial has finished, the budget is split so that a first trial and
    its refit fit together. Small networks cost per batch more than per
    sample, hence batches rather than samples.

    Parameters
    ----------
    refit_batches : int
        Batches of one refit epoch.
    trial_batches : callable
        ``trial_batches(resource) -> int``: batches of one trial epoch at a
        share of the full fidelity.
    refit_epochs : callable
        ``refit_epochs(result) -> int``: epochs of the refit of that trial.
    cost_ratio : callable or None, default=None
        ``cost_ratio(result) -> float``: time of a training step of the final
        network over the searched one's; None is 1.
    epoch_seconds : callable or None, default=None
        ``epoch_seconds(result) -> float``: seconds of one refit epoch of
        that trial's architecture, for trials that did not train it
        stand-alone (scored with a supernet's weights); it replaces the
        estimate from the trial's own time (and ``cost_ratio``).

    Examples
    --------
    >>> from skautoml.search import TrialResult
    >>> reserve = RefitReserve(refit_batches=10, trial_batches=lambda resource: 8, refit_epochs=lambda r: r.best_epoch)
    >>> reserve([], time_budget=90)            # no trial yet: 90 * 10 / (10 + 8)
    50.0
    >>> trial = TrialResult("a", 0.9, "ok", train_seconds=4.0, epochs=4, best_epoch=3)
    >>> reserve([trial], time_budget=90)       # 1 s per epoch * 10 / 8 batches * 3 epochs
    3.75
    """

    refit_batches: int
    trial_batches: Callable[[float], int]
    refit_epochs: Callable[[object], int]
    cost_ratio: Callable[[object], float] | None = None
    epoch_seconds: Callable[[object], float] | None = None

    def __call__(self, results, time_budget):
        best = max((r for r in results if r.ok), key=lambda r: (r.resource, r.score), default=None)
        if best is None:
            return time_budget * self.refit_batches / (self.refit_batches + self.trial_batches(1.0))
        if self.epoch_seconds is not None:
            return self.epoch_seconds(best) * self.refit_epochs(best)
        seconds_per_epoch = best.train_seconds / max(best.epochs, 1)
        batches = max(self.trial_batches(best.resource), 1)
        cost = 1.0 if self.cost_ratio is None else self.cost_ratio(best)
        return seconds_per_epoch * self.refit_batches / batches * cost * self.refit_epochs(best)
