"""Limits of a search: how many trials, how many seconds, how many epochs."""
import time
from dataclasses import dataclass, field


@dataclass
class Budget:
    """The limits of one search and the clock that enforces them.

    Every loop of a search asks :meth:`may_start` before it starts trials, so
    a time budget holds whatever the strategy.

    Parameters
    ----------
    max_trials : int or None
        Stop after this many trials have been started. ``None``: no limit.
    time_budget : float or None
        Seconds for the whole search, refit included. ``None``: no limit.
    max_epochs : int
        Training epochs of one trial at full fidelity.
    """

    max_trials: int | None = None
    time_budget: float | None = None
    max_epochs: int = 20
    started_at: float | None = field(default=None, repr=False)

    def start(self):
        """Start the clock; returns ``self``."""
        self.started_at = time.time()
        return self

    @property
    def elapsed(self):
        """Seconds since :meth:`start`."""
        return time.time() - self.started_at

    @property
    def deadline(self):
        """Wall-clock time (``time.time()``) when the budget ends, or None."""
        if self.time_budget is None:
            return None
        return self.started_at + self.time_budget

    def remaining_trials(self, n_started):
        """How many more trials may start (a large number when unlimited)."""
        if self.max_trials is None:
            return 2**31
        return max(0, self.max_trials - n_started)

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
