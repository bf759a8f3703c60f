"""Soft objectives of a search: a trial's score traded against what its network costs.

* :class:`MnasNetReward`: MnasNet's reward ACC x (LAT / T)^w (Tan et al.,
  2019), a soft latency target unlike the hard ``max_latency_ms``: every
  architecture is trained, and one slower than the target is not refused
  but scored lower.
* :class:`TrialPricer`: the search loop's ``objective`` hook (see
  :func:`~skautoml.search.run_search`) that prices each trial's
  architecture (:func:`~skautoml.nas.architecture_cost`, latency from a
  :class:`~skautoml.nas.LatencyTable`) and, with a reward, rescores it.
"""
import dataclasses
import math
from numbers import Real

from ._cost import architecture_cost


class MnasNetReward:
    """MnasNet's reward of a validation score and a latency: ``score * (latency_ms / target_ms) ** w``.

    With ``w < 0`` a network faster than the target gains a little and a
    slower one loses a little: with the paper's ``w = -0.07``, twice the
    target latency costs 4.7 % of the score and half of it gains 5 %, so
    the search trades accuracy against latency instead of refusing
    (compare ``max_latency_ms``). ``w_above`` sets another exponent above
    the target (MnasNet's ``alpha``/``beta`` pair: ``w=0, w_above=-1`` is
    close to a hard limit).

    The reward is defined for scores in [0, 1] (accuracies); a negative
    score (a regressor's R² below 0) and a NaN pass unchanged, as scaling
    them would favour the wrong networks.

    Parameters
    ----------
    target_ms : float
        Target latency in milliseconds, at the latency table's batch size
        and thread count.
    w : float, default=-0.07
        Exponent at or below the target; <= 0.
    w_above : float or None, default=None
        Exponent above the target; None uses ``w``.

    Examples
    --------
    >>> from skautoml.nas import MnasNetReward
    >>> reward = MnasNetReward(target_ms=2.0)
    >>> round(reward(0.95, latency_ms=4.0), 4), round(reward(0.95, latency_ms=1.0), 4)
    (0.905, 0.9972)
    """

    #: The cost the reward reads (a :class:`~skautoml.search.NSGA2` cost name).
    cost = "latency"

    def __init__(self, target_ms, w=-0.07, w_above=None):
        if isinstance(target_ms, bool) or not isinstance(target_ms, Real) or not target_ms > 0:
            raise ValueError(f"MnasNetReward: target_ms must be a positive number of milliseconds; got {target_ms!r}.")
        for name, value in (("w", w), ("w_above", w_above)):
            if value is None and name == "w_above":
                continue
            if isinstance(value, bool) or not isinstance(value, Real) or not value <= 0:
                raise ValueError(
                    f"MnasNetReward: {name} must be a number <= 0 (a positive exponent would reward slower "
                    f"networks); got {value!r}."
                )
        self.target_ms, self.w, self.w_above = float(target_ms), float(w), w_above

    def __call__(self, score, latency_ms):
        if not math.isfinite(score) or score < 0:
            return score
        if not latency_ms > 0:
            raise ValueError(f"MnasNetReward needs a positive latency; got {latency_ms!r} ms.")
        above = latency_ms > self.target_ms and self.w_above is not None
        return float(score * (latency_ms / self.target_ms) ** (self.w_above if above else self.w))

    def __repr__(self):
        above = "" if self.w_above is None else f", w_above={self.w_above}"
        return f"MnasNetReward(target_ms={self.target_ms}, w={self.w}{above})"


class TrialPricer:
    """Sets each trial's ``latency_ms`` (predicted, from ``latency_table``) and, with a reward, its score.

    A callable for :func:`~skautoml.search.run_search`'s ``objective``: an
    ok trial's score becomes ``reward(score, latency_ms)`` and the
    evaluator's score moves to ``raw_score``; a failed trial keeps its NaN
    score but gets its price (when its architecture builds). Prices are
    computed once per architecture, in the search's process.

    Parameters
    ----------
    space : SearchSpace
    input_shape : tuple of int
    n_outputs : int
    latency_table : LatencyTable
    reward : callable or None, default=None
        ``reward(score, latency_ms) -> float``, e.g. :class:`MnasNetReward`.

    Examples
    --------
    >>> from skautoml.nas import LatencyTable, MLPArchitecture, MLPSpace, MnasNetReward, TrialPricer
    >>> from skautoml.search import TrialResult
    >>> pricer = TrialPricer(MLPSpace(), (10,), 3, LatencyTable(cache_dir=False), reward=MnasNetReward(target_ms=1.0))
    >>> result = pricer(TrialResult(MLPArchitecture(widths=(16,)), 0.9, "ok"))
    >>> result.latency_ms > 0, result.raw_score, result.score > 0.9   # far below the 1 ms target: rewarded
    (True, 0.9, True)
    """

    def __init__(self, space, input_shape, n_outputs, latency_table, reward=None):
        self.space, self.input_shape, self.n_outputs = space, tuple(input_shape), n_outputs
        self.latency_table, self.reward = latency_table, reward
        self._latency = {}

    def latency_ms(self, architecture):
        """Predicted latency of ``architecture`` in milliseconds (cached)."""
        if architecture not in self._latency:
            cost = architecture_cost(self.space, architecture, self.input_shape, self.n_outputs, self.latency_table)
            self._latency[architecture] = float(cost.latency_ms)
        return self._latency[architecture]

    def __call__(self, result):
        try:
            latency = self.latency_ms(result.architecture)
        except Exception:  # noqa: BLE001 - a failed trial's architecture may not build; it keeps NaN
            if result.ok:
                raise
            return result
        changes = {"latency_ms": latency}
        if self.reward is not None and result.ok:
            changes.update(score=self.reward(result.score, latency), raw_score=result.score)
        return dataclasses.replace(result, **changes)
