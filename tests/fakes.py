"""Fakes that make budget tests exact: a clock the test moves, and trials that take a set time on it."""
import dataclasses


class FakeClock:
    """Seconds that pass only when the test says so (``advance``)."""

    def __init__(self, start=1000.0):
        self.now = float(start)

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


class TickingEvaluator:
    """Wraps an evaluator so that each trial takes ``seconds`` (a number, or a function of the trial's result) on ``clock``.

    The wrapped evaluator does the real work; the result's ``train_seconds``
    is the fake duration, and the deadline the trial was given is recorded.
    """

    def __init__(self, evaluator, clock, seconds=1.0):
        self.evaluator = evaluator
        self.clock = clock
        self.seconds = seconds
        self.deadlines = []

    stopping_rule = None  # rules are tested with real evaluators

    def evaluate(self, architecture, *args, **kwargs):
        deadline = args[6] if len(args) > 6 else kwargs.get("deadline")
        self.deadlines.append(deadline)
        result = self.evaluator.evaluate(architecture, *args, **kwargs)
        seconds = self.seconds(result) if callable(self.seconds) else self.seconds
        self.clock.advance(seconds)
        return dataclasses.replace(result, train_seconds=seconds)


def Tick(clock, seconds=1.0):
    """A skorch callback that moves ``clock`` on by ``seconds`` at the end of every epoch."""
    from skorch.callbacks import Callback

    class _Tick(Callback):
        def on_epoch_end(self, net, **kwargs):
            clock.advance(seconds)

    return _Tick()
