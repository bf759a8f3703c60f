"""Multi-fidelity strategies: successive halving, Hyperband and BOHB.

These strategies decide not only which architecture to try but also at what
share of the full fidelity (the *resource*: epochs, data or both, as the
search loop maps it): their ``ask`` returns
:class:`~skautoml.search.Proposal` values, and the loop evaluates each at its
resource and tells the result back with the proposal. They set
``multi_fidelity = True``.
"""
import math
from collections import defaultdict
from numbers import Integral, Real

import numpy as np
from sklearn.neighbors import KernelDensity

from .._results import Proposal
from ._base import Strategy
from ._bayesian import candidate_pool


def n_halvings(eta, min_resource):
    """The largest ``s`` with ``eta ** -s >= min_resource``: rungs above the lowest one."""
    s = 0
    while eta ** -(s + 1) >= min_resource * (1 - 1e-9):
        s += 1
    return s


def halving_rungs(n_configs, s, eta):
    """The rungs ``((n_0, r_0), ..., (n_s, 1.0))`` of a successive-halving bracket.

    Rung ``i`` evaluates ``floor(n_configs / eta**i)`` configurations (at
    least one) at resource ``eta ** (i - s)``; each rung's best ``1/eta`` go
    on to the next.
    """
    return tuple((max(1, n_configs // eta**i), float(eta ** (i - s))) for i in range(s + 1))


def hyperband_brackets(eta, min_resource):
    """The brackets of one Hyperband iteration (Li et al., 2017, Algorithm 1).

    With ``R = 1 / min_resource`` and ``s_max = floor(log_eta(R))``, bracket
    ``s`` (from ``s_max`` down to 0) starts ``n = ceil((s_max + 1) / (s + 1)
    * eta**s)`` configurations at resource ``eta**-s`` and halves them by
    ``eta`` up to full resource.

    Returns
    -------
    brackets : list of tuple of (int, float)
        One tuple of rungs ``(n_i, r_i)`` per bracket, as :func:`halving_rungs`.

    Examples
    --------
    >>> for rungs in hyperband_brackets(eta=3, min_resource=1 / 9):
    ...     print([(n, round(r, 3)) for n, r in rungs])
    [(9, 0.111), (3, 0.333), (1, 1.0)]
    [(5, 0.333), (1, 1.0)]
    [(3, 1.0)]
    """
    s_max = n_halvings(eta, min_resource)
    # ceil((s_max + 1) * eta**s / (s + 1)) in integers, free of rounding.
    return [halving_rungs(-(-(s_max + 1) * eta**s // (s + 1)), s, eta) for s in range(s_max, -1, -1)]


class _Bracket:
    """The state of one successive-halving bracket: who ran at which rung and how well."""

    def __init__(self, rungs, baselines=frozenset()):
        self.rungs = rungs
        self.baselines = baselines  # go up every rung they finish, beside the best
        self.members = [[] for _ in rungs]  # architectures issued, per rung, in order
        self.scores = [{} for _ in rungs]  # slot -> score, per rung
        self.waiting = [[] for _ in rungs]  # promoted but not yet issued
        self.size = [rungs[0][0]] + [None] * (len(rungs) - 1)  # known once the rung below is complete
        self.done = False

    def record(self, rung, slot, score):
        self.scores[rung][slot] = score
        if len(self.scores[rung]) < self.size[rung]:
            return
        if rung == len(self.rungs) - 1:
            self.done = True
            return
        # Failed trials (NaN) rank last and are never promoted, baselines neither; ties go to the earlier slot.
        scores = self.scores[rung]
        order = sorted(scores, key=lambda s: (not math.isfinite(scores[s]), -scores[s], s))
        n_best = self.rungs[rung + 1][0]
        is_baseline = [member in self.baselines for member in self.members[rung]]
        # Baselines run first, so that a search cut short has them at the highest rung it reached.
        promoted = [s for s in order if is_baseline[s]] + [s for s in order[:n_best] if not is_baseline[s]]
        keep = [self.members[rung][s] for s in promoted if math.isfinite(scores[s])]
        self.size[rung + 1] = len(keep)
        self.waiting[rung + 1] = keep
        self.done = not keep


class SuccessiveHalving(Strategy):
    """Evaluate many architectures cheaply, then the best ``1/eta`` at ``eta`` times the resource.

    A bracket starts ``n_configs`` random architectures at the lowest
    resource ``eta**-s``, where ``s`` is the number of halvings that
    ``min_resource`` allows; when all results of a rung are in, the best
    ``1/eta`` of them (rounded down; failed trials never) run again at
    ``eta`` times the resource, up to full fidelity (Jamieson and Talwalkar,
    2016). Then the next bracket starts, and so on until the budget is
    spent. Every evaluation counts as a trial, whatever its resource, and a
    promoted architecture trains again from scratch.

    Parallel asks never wait: ``ask(n)`` returns ``n`` proposals, taking
    promotions first, then the rest of the current bracket's first rung,
    then the first rung of a new bracket while earlier ones wait for
    results. Asked one at a time and told in order, the brackets run one
    after the other, as in the paper.

    Parameters
    ----------
    eta : int, default=3
        Halving rate: a rung keeps its best ``1/eta`` and gives them ``eta``
        times the resource.
    min_resource : float in (0, 1], default=1/9
        Smallest share of the full fidelity; the lowest rung runs at
        ``eta**-s``, the smallest power of ``1/eta`` not below it.
    n_configs : int or None, default=None
        Architectures per bracket; None starts ``eta**s``, so that one reaches
        full fidelity.
    initial_architectures : tuple, default=()
        Architectures the first bracket starts with, before random ones (a
        known-good network, starting points from an earlier search).
    promote_initial : bool, default=False
        Whether the initial architectures go up every rung of their bracket
        (unless they fail), beside the best ``1/eta``: baselines that the
        others must beat at full fidelity, not at the lowest rung, where a
        network may not yet have learned anything and the ranking is noise.
        They run first in each rung (a search cut short has them at the
        highest rung it reached); each costs one more trial per rung. A
        departure from successive halving, which promotes by score alone.
    signal_threshold : float or None, default=None
        A score that some trial of each rung must beat (say chance plus a few
        standard errors of the score): the search ends, asking nothing more,
        once a rung is complete whose finished trials all score at or below
        it. At a fidelity where no network has learned anything yet, halving
        promotes noise, and a time budget is better spent elsewhere (by
        ``AutoNASClassifier``'s plan: on the refit). None never ends a search.

    Attributes
    ----------
    multi_fidelity : bool
        True: :meth:`ask` returns :class:`~skautoml.search.Proposal` values with a resource.
    history : list of (architecture, float)
        Every result told, in order (as for every strategy).
    observations : list of (architecture, float, float)
        ``(architecture, resource, score)`` of every result told.
    no_signal_ : tuple of (int, float) or None
        ``(trials, resource)`` of the rung that ended the search under
        ``signal_threshold``; None while the search goes on.

    See Also
    --------
    Hyperband : brackets that trade the number of configurations for resource.
    BOHB : Hyperband with model-based sampling.

    Examples
    --------
    >>> from skautoml.nas import MLPSpace, SuccessiveHalving
    >>> strategy = SuccessiveHalving(eta=2, min_resource=1 / 4).reset(MLPSpace(), random_state=0)
    >>> [round(p.resource, 2) for p in strategy.ask(4)]
    [0.25, 0.25, 0.25, 0.25]
    """

    multi_fidelity = True

    def __init__(
        self, eta=3, min_resource=1 / 9, n_configs=None, initial_architectures=(), promote_initial=False,
        signal_threshold=None,
    ):
        self.eta = eta
        self.min_resource = min_resource
        self.n_configs = n_configs
        self.initial_architectures = initial_architectures
        self.promote_initial = promote_initial
        self.signal_threshold = signal_threshold

    def reset(self, space, random_state=None):
        self._check_params()
        super().reset(space, random_state)
        self.observations = []
        self._active = []  # brackets still running, oldest first
        self._n_brackets = 0
        self._pending = defaultdict(list)  # architecture -> [(bracket, rung, slot)], oldest first
        self._initial = list(getattr(self, "initial_architectures", ()))
        self._baselines = frozenset(self._initial) if getattr(self, "promote_initial", False) else frozenset()
        self.no_signal_ = None
        for architecture in self._initial:
            if not space.contains(architecture):
                raise ValueError(
                    f"{type(self).__name__}: initial architecture {architecture} is not in {type(space).__name__}."
                )
        return self

    def _check_params(self):
        if not isinstance(self.eta, Integral) or isinstance(self.eta, bool) or self.eta < 2:
            raise ValueError(f"{type(self).__name__} needs an integer eta >= 2; got eta={self.eta!r}.")
        if (
            not isinstance(self.min_resource, Real)
            or isinstance(self.min_resource, bool)
            or not 0 < self.min_resource <= 1
        ):
            raise ValueError(
                f"{type(self).__name__} needs 0 < min_resource <= 1 (a share of the full fidelity); "
                f"got min_resource={self.min_resource!r}."
            )
        n_configs = getattr(self, "n_configs", None)
        if n_configs is not None and (
            not isinstance(n_configs, Integral) or isinstance(n_configs, bool) or n_configs < 1
        ):
            raise ValueError(f"n_configs must be a positive integer or None; got n_configs={n_configs!r}.")
        threshold = getattr(self, "signal_threshold", None)
        if threshold is not None and (
            not isinstance(threshold, Real) or isinstance(threshold, bool) or not math.isfinite(threshold)
        ):
            raise ValueError(
                f"signal_threshold must be a finite score or None; got signal_threshold={threshold!r}."
            )

    def bracket_shapes(self):
        """The rungs ``((n_i, r_i), ...)`` of the brackets, in the order they start (then repeat)."""
        s = n_halvings(self.eta, self.min_resource)
        n_configs = self.eta**s if self.n_configs is None else self.n_configs
        return [halving_rungs(n_configs, s, self.eta)]

    def ask(self, n=None):
        """Propose one :class:`~skautoml.search.Proposal`, or a list of ``n``; none once a rung had no signal."""
        if getattr(self, "no_signal_", None) is None:
            return super().ask(n)
        self._check_reset(n)
        return None if n is None else []

    def _propose(self):
        # ``ask`` (the base's) gives :class:`~skautoml.search.Proposal` values: an architecture and its resource.
        return self._next_proposal()

    def _ask_one(self):
        return self._next_proposal().architecture

    def _next_proposal(self):
        for bracket in self._active:  # promotions first, the highest rung first
            for rung in range(len(bracket.rungs) - 1, 0, -1):
                if bracket.waiting[rung]:
                    return self._issue(bracket, rung, bracket.waiting[rung].pop(0))
        for bracket in self._active:
            if len(bracket.members[0]) < bracket.size[0]:
                return self._issue(bracket, 0, self._new_architecture())
        shapes = self.bracket_shapes()
        bracket = _Bracket(shapes[self._n_brackets % len(shapes)], self._baselines)
        self._n_brackets += 1
        self._active.append(bracket)
        return self._issue(bracket, 0, self._new_architecture())

    def _new_architecture(self):
        """An architecture for the lowest rung of a bracket: the initial ones first, then unseen random ones."""
        if self._initial:
            return self._initial.pop(0)
        return self.space.sample_unseen(self._rng, self._seen)

    def _issue(self, bracket, rung, architecture):
        self._seen.add(architecture)
        self._pending[architecture].append((bracket, rung, len(bracket.members[rung])))
        bracket.members[rung].append(architecture)
        return Proposal(architecture, bracket.rungs[rung][1])

    def tell(self, architecture, result):
        """Report the result of a trial asked as ``architecture`` or as its :class:`Proposal`.

        A plain architecture is matched with its oldest unanswered proposal;
        a result for an architecture that was never asked is recorded at
        ``result.resource`` (1.0 when it has none) and starts nothing.
        """
        asked = isinstance(architecture, Proposal)
        resource = architecture.resource if asked else getattr(result, "resource", 1.0)
        if asked:
            architecture = architecture.architecture
        tickets = self._pending.get(architecture, [])
        matching = [t for t in tickets if t[0].rungs[t[1]][1] == resource] if asked else []
        ticket = (matching or tickets or [None])[0]
        super().tell(architecture, result)
        score = float(result.score)
        if ticket is None:
            self.observations.append((architecture, float(resource), score))
            return
        tickets.remove(ticket)
        if not tickets:
            del self._pending[architecture]
        bracket, rung, slot = ticket
        self.observations.append((architecture, bracket.rungs[rung][1], score))
        bracket.record(rung, slot, score if math.isfinite(score) else math.nan)
        threshold = getattr(self, "signal_threshold", None)
        if threshold is not None and self.no_signal_ is None and len(bracket.scores[rung]) == bracket.size[rung]:
            finished = [s for s in bracket.scores[rung].values() if math.isfinite(s)]  # failures say nothing
            if finished and max(finished) <= threshold:
                self.no_signal_ = (bracket.size[rung], bracket.rungs[rung][1])
        if bracket.done and bracket in self._active:
            self._active.remove(bracket)


class Hyperband(SuccessiveHalving):
    """Successive halving over brackets that trade many cheap trials for fewer expensive ones.

    One Hyperband iteration (Li et al., 2017) runs a bracket for each
    number of halvings ``s = s_max, ..., 0``, where ``s_max =
    floor(log_eta(1 / min_resource))``: bracket ``s`` starts ``ceil((s_max
    + 1) / (s + 1) * eta**s)`` random architectures at resource ``eta**-s``
    and keeps the best ``1/eta`` of each rung for the next (see
    :func:`hyperband_brackets`). The most aggressive bracket comes first;
    the last trains a few architectures at full fidelity only, which hedges
    against low fidelities that rank badly. Iterations repeat until the
    budget is spent. ``max_trials`` counts evaluations at every fidelity:
    with the defaults one iteration is 9 + 3 + 1, 5 + 1 and 3 trials, 22 in
    all, of which 5 run at full fidelity. Parallel asks behave as in
    :class:`SuccessiveHalving`.

    Parameters
    ----------
    eta : int, default=3
        Halving rate.
    min_resource : float in (0, 1], default=1/9
        Smallest share of the full fidelity (``1/R`` in the paper).

    Attributes
    ----------
    multi_fidelity : bool
        True: :meth:`ask` returns :class:`~skautoml.search.Proposal` values with a resource.
    history : list of (architecture, float)
    observations : list of (architecture, float, float)
        ``(architecture, resource, score)`` of every result told.

    See Also
    --------
    SuccessiveHalving : one kind of bracket, repeated.
    BOHB : Hyperband with model-based sampling.

    Examples
    --------
    >>> from skautoml.nas import Hyperband, MLPSpace
    >>> strategy = Hyperband(eta=3, min_resource=1 / 3).reset(MLPSpace(), random_state=0)
    >>> proposal = strategy.ask()
    >>> round(proposal.resource, 3)
    0.333
    """

    def __init__(self, eta=3, min_resource=1 / 9):
        self.eta = eta
        self.min_resource = min_resource

    def bracket_shapes(self):
        return hyperband_brackets(self.eta, self.min_resource)


class BOHB(Hyperband):
    """Hyperband whose new architectures come from a density-ratio model of good results.

    As in Falkner et al. (2018), every new architecture of a bracket is
    random with probability ``random_fraction`` and otherwise proposed by a
    TPE-style model: on the largest resource with at least ``n_min_points``
    results, the results are split into the best ``top_fraction`` (at least
    one; failed trials are always among the bad) and the rest, and kernel
    density estimates ``l`` and ``g`` of their encodings (``space.encode``)
    are fitted. Of ``n_candidates`` unseen candidates, random samples and
    mutations of the good architectures, the one with the largest
    ``l(x) / g(x)`` is proposed. Promotions, brackets and parallel asks are
    those of :class:`Hyperband`.

    The densities are simplified for discrete spaces: isotropic Gaussian
    kernels (scikit-learn's ``KernelDensity``, Scott's bandwidth) on the
    encodings standardised by the spread of all results at that resource,
    and candidates drawn from the space rather than from the good density.

    Parameters
    ----------
    eta : int, default=3
    min_resource : float in (0, 1], default=1/9
    n_min_points : int or None, default=None
        Results at one resource needed before the model is used there.
        None: the length of the encoding plus one, as in the paper, but at
        most 8: an isotropic kernel is never degenerate, and a long one-hot
        encoding would otherwise keep the model off for a whole small search.
    top_fraction : float in (0, 1), default=0.15
        Share of results that makes the good density.
    random_fraction : float in [0, 1], default=1/3
        Probability that a new architecture is random (keeps exploring).
    n_candidates : int, default=64
        Candidates scored by the density ratio per proposal.

    Attributes
    ----------
    multi_fidelity : bool
    history : list of (architecture, float)
    observations : list of (architecture, float, float)
        ``(architecture, resource, score)`` of every result told.
    n_model_proposals : int
        New architectures that came from the model rather than at random.

    See Also
    --------
    Hyperband : the same brackets with random sampling.
    BayesianOptimization : a Gaussian-process model at full fidelity.

    Examples
    --------
    >>> from skautoml.nas import BOHB, MLPSpace
    >>> strategy = BOHB(min_resource=1 / 3).reset(MLPSpace(), random_state=0)
    >>> len(strategy.ask(3))
    3
    """

    def __init__(
        self, eta=3, min_resource=1 / 9, n_min_points=None, top_fraction=0.15, random_fraction=1 / 3, n_candidates=64
    ):
        self.eta = eta
        self.min_resource = min_resource
        self.n_min_points = n_min_points
        self.top_fraction = top_fraction
        self.random_fraction = random_fraction
        self.n_candidates = n_candidates

    def _check_params(self):
        super()._check_params()
        if self.n_min_points is not None and (
            not isinstance(self.n_min_points, Integral) or isinstance(self.n_min_points, bool) or self.n_min_points < 2
        ):
            raise ValueError(f"n_min_points must be an integer >= 2 or None; got n_min_points={self.n_min_points!r}.")
        if not isinstance(self.top_fraction, Real) or not 0 < self.top_fraction < 1:
            raise ValueError(f"top_fraction must be in (0, 1); got top_fraction={self.top_fraction!r}.")
        if not isinstance(self.random_fraction, Real) or not 0 <= self.random_fraction <= 1:
            raise ValueError(f"random_fraction must be in [0, 1]; got random_fraction={self.random_fraction!r}.")
        if not isinstance(self.n_candidates, Integral) or isinstance(self.n_candidates, bool) or self.n_candidates < 1:
            raise ValueError(f"n_candidates must be a positive integer; got n_candidates={self.n_candidates!r}.")

    def reset(self, space, random_state=None):
        super().reset(space, random_state)
        self.n_model_proposals = 0
        return self

    def _new_architecture(self):
        if self._rng.random() < self.random_fraction:
            return super()._new_architecture()
        model = self._model()
        if model is None:
            return super()._new_architecture()
        _, good, low, scale, l_density, g_density = model
        candidates = candidate_pool(self.space, good, self.n_candidates, self._rng, self._seen)
        if not candidates:
            return super()._new_architecture()
        encoded = (np.array([self.space.encode(a) for a in candidates], dtype=float) - low) / scale
        ratio = l_density.score_samples(encoded) - g_density.score_samples(encoded)
        self.n_model_proposals += 1
        return candidates[int(np.argmax(ratio))]

    def _model(self):
        """``(resource, good architectures, shift, scale, l, g)`` on the largest resource with enough results.

        None while no resource has enough results, or none that succeeded.
        """
        by_resource = defaultdict(list)
        for architecture, resource, score in self.observations:
            by_resource[resource].append((architecture, score))
        if not by_resource:
            return None
        dimension = len(self.space.encode(self.observations[0][0]))
        n_min = min(dimension + 1, 8) if self.n_min_points is None else self.n_min_points
        for resource in sorted(by_resource, reverse=True):
            results = by_resource[resource]
            if len(results) >= max(n_min, 2):
                break
        else:
            return None
        # Best first; failed (NaN) last; ties in the order told.
        order = sorted(range(len(results)), key=lambda i: (not math.isfinite(results[i][1]), -results[i][1], i))
        n_finite = sum(math.isfinite(score) for _, score in results)
        n_good = min(max(1, math.ceil(self.top_fraction * len(results))), n_finite, len(results) - 1)
        if n_good < 1:
            return None  # nothing succeeded at this resource: no good density
        encoded = np.array([self.space.encode(results[i][0]) for i in order], dtype=float)
        low = encoded.mean(axis=0)
        scale = encoded.std(axis=0)
        scale[scale < 1e-12] = 1.0
        encoded = (encoded - low) / scale
        l_density = KernelDensity(bandwidth="scott").fit(encoded[:n_good])
        g_density = KernelDensity(bandwidth="scott").fit(encoded[n_good:])
        good = [results[i][0] for i in order[:n_good]]
        return resource, good, low, scale, l_density, g_density
