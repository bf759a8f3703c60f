"""Wrapper feature selection: subsets of features scored by cross-validating an estimator.

``WrapperSelector`` owns the search loop: it asks a search strategy for a batch
of candidate subsets (boolean masks), cross-validates the estimator on each new
one (in parallel through joblib, one task per subset), tells the strategy the
scores, and stops when the strategy is done or the budget is spent. Strategies
speak a small ask/tell protocol (:class:`SubsetStrategy`), so a new search is
one short class: sequential forward and backward selection, bidirectional
search, beam search, a genetic algorithm and simulated annealing are here.
"""
import time
from abc import ABC, abstractmethod
import warnings
from numbers import Integral, Real

import numpy as np
from joblib import Parallel, delayed, effective_n_jobs
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier
from sklearn.exceptions import FitFailedWarning
from sklearn.feature_selection import SelectorMixin
from sklearn.metrics import check_scoring, get_scorer_names
from sklearn.model_selection import check_cv, cross_validate
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted

from .._utils._random import SEED_MAX
from ..search import Budget
from .._utils._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from .._utils._validation import check_finite, check_numeric_columns

__all__ = [
    "SUBSET_STRATEGIES",
    "Beam",
    "Bidirectional",
    "Genetic",
    "SequentialBackward",
    "SequentialForward",
    "SimulatedAnnealing",
    "SubsetStrategy",
    "WrapperSelector",
]


def _key(mask):
    return mask.tobytes()


def _best_of(items, size=None):
    """(mask, score) of the best of ``items`` (pairs); ties go to fewer features, then to the first."""
    best = None
    for mask, score in items:
        if size is not None and mask.sum() != size:
            continue
        if best is None or score > best[1] or (score == best[1] and mask.sum() < best[0].sum()):
            best = (mask, score)
    return best if best is not None else (None, -np.inf)


def _unit(n, j):
    mask = np.zeros(n, dtype=bool)
    mask[j] = True
    return mask


# ----------------------------------------------------------------------------- strategies


class SubsetStrategy(BaseEstimator, ABC):
    """A search over feature subsets that speaks ask/tell.

    A subset is a boolean mask of length ``n_features``. The protocol:

    - :meth:`start` binds the strategy to a problem (number of features, the
      number to select or None for a free size, ``tol``, a random generator)
      and returns ``self``;
    - :meth:`ask` returns a batch (a list) of masks to score; the masks of one
      batch are scored in parallel;
    - :meth:`tell` takes the same masks with their mean cross-validated scores
      (``-inf`` for a subset whose fit failed);
    - :attr:`done` says whether the search is over, and :meth:`result` gives the
      subset it selects.

    An instance holds only its settings until :meth:`start`;
    :class:`WrapperSelector` works on a copy, so the instance a user passes is
    never changed by ``fit``. Subclasses implement ``_start``, ``_ask`` and
    ``_tell`` and may override ``result``; the base class keeps every subset
    told in ``told_`` (a dict from ``mask.tobytes()`` to ``(mask, score)``)
    and calls ``_check_settings`` before ``_start``.

    Examples
    --------
    A strategy that tries the first 1, 2, ... ``n`` features in one batch:

    >>> import numpy as np
    >>> from skautoml.features import SubsetStrategy
    >>> class FirstFeatures(SubsetStrategy):
    ...     def __init__(self, n=3):
    ...         self.n = n
    ...     def _start(self):
    ...         pass
    ...     def _ask(self):
    ...         return [np.arange(self.n_features_) < size for size in range(1, self.n + 1)]
    ...     def _tell(self, masks, scores):
    ...         self.done = True
    >>> strategy = FirstFeatures(n=2).start(n_features=4)
    >>> masks = strategy.ask()
    >>> strategy.tell(masks, [0.7, 0.9])
    >>> strategy.done, strategy.result().tolist()
    (True, [True, True, False, False])
    """

    def start(self, n_features, n_select=None, tol=None, random_state=None):
        """Start a fresh search; returns ``self``.

        Parameters
        ----------
        n_features : int
            Length of the masks.
        n_select : int or None
            Number of features the result must have; None leaves it free.
        tol : float or None
            Smallest gain that lets a greedy step go on when ``n_select`` is
            None (see :class:`WrapperSelector`).
        random_state : None, int or numpy.random.Generator
            Source of the strategy's randomness.
        """
        self.n_features_ = int(n_features)
        self.n_select_ = None if n_select is None else int(n_select)
        self.tol_ = tol
        self.rng_ = np.random.default_rng(random_state)
        self._check_settings()
        self.told_ = {}
        self.done = False
        self._start()
        return self

    def ask(self):
        """The next batch of masks to score (an empty list once :attr:`done`)."""
        if not hasattr(self, "told_"):
            raise RuntimeError(f"call {type(self).__name__}.start(n_features, ...) before ask().")
        if self.done:
            return []
        return [np.array(mask, dtype=bool) for mask in self._ask()]

    def tell(self, masks, scores):
        """Report the mean scores of ``masks`` (NaN counts as ``-inf``)."""
        scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf, posinf=np.inf, neginf=-np.inf)
        masks = [np.asarray(mask, dtype=bool) for mask in masks]
        for mask, score in zip(masks, scores):
            self.told_.setdefault(_key(mask), (mask, float(score)))
        with np.errstate(invalid="ignore"):  # -inf - -inf: a gain between two failed subsets
            self._tell(masks, scores)

    def result(self):
        """The selected mask: by default the best subset told (of size ``n_select`` when set)."""
        return self._best(self.n_select_)[0]

    def _best(self, size=None):
        """(mask, score) of the best subset told; ties go to fewer features, then to the first told."""
        return _best_of(self.told_.values(), size)

    def _accepts(self, gain, *, adding):
        """Whether a greedy step with this score gain goes on when the size is free.

        With ``tol`` the step needs ``gain >= tol`` (scikit-learn's rule).
        Without it an added feature must raise the score and a removed one
        must not lower it: ties go to the smaller subset.
        """
        if self.tol_ is not None:
            return bool(gain >= self.tol_)
        return bool(gain > 0) if adding else bool(gain >= 0)

    def _check_settings(self):
        """Raise a ValueError for a bad setting (called by :meth:`start`)."""

    @abstractmethod
    def _start(self):
        """Set up the search state (``n_features_``, ``n_select_``, ``tol_``, ``rng_`` are set)."""

    @abstractmethod
    def _ask(self):
        """The next batch: a non-empty list of masks."""

    @abstractmethod
    def _tell(self, masks, scores):
        """Take the scores of the batch (an array, ``-inf`` for failures); set ``done`` when finished."""


class SequentialForward(SubsetStrategy):
    """Sequential forward selection: add the feature that helps most, one at a time.

    Each step scores the current subset plus each remaining feature and keeps
    the best (the lowest index among equal scores), exactly as scikit-learn's
    :class:`~sklearn.feature_selection.SequentialFeatureSelector` with
    ``direction='forward'``. With ``n_select`` it stops at that size; without,
    it stops at the first step that does not gain (see
    :meth:`SubsetStrategy._accepts`). The result is the last subset kept.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.features import SequentialForward
    >>> strategy = SequentialForward().start(n_features=3, n_select=1)
    >>> [mask.nonzero()[0].tolist() for mask in strategy.ask()]
    [[0], [1], [2]]
    >>> strategy.tell(strategy.ask(), [0.5, 0.9, 0.7])
    >>> strategy.done, strategy.result().nonzero()[0].tolist()
    (True, [1])
    """

    def __init__(self):
        pass

    def _start(self):
        self.current_ = np.zeros(self.n_features_, dtype=bool)
        self.score_ = -np.inf
        self.done = self.n_select_ == 0

    def _ask(self):
        return [self.current_ | _unit(self.n_features_, j) for j in np.flatnonzero(~self.current_)]

    def _tell(self, masks, scores):
        best = int(np.argmax(scores))  # the first of equal scores: the lowest feature index
        if self.n_select_ is None and not self._accepts(scores[best] - self.score_, adding=True):
            self.done = True
            return
        self.current_, self.score_ = masks[best].copy(), float(scores[best])
        size = int(self.current_.sum())
        self.done = size == self.n_features_ or size == self.n_select_

    def result(self):
        """The last subset kept."""
        return self.current_.copy()


class SequentialBackward(SubsetStrategy):
    """Sequential backward selection: remove the feature that hurts least, one at a time.

    Each step scores the current subset minus each of its features and keeps
    the best (removing the lowest index among equal scores), as scikit-learn's
    :class:`~sklearn.feature_selection.SequentialFeatureSelector` with
    ``direction='backward'``. With ``n_select`` it stops at that size; without,
    it first scores all the features and removes one while the score does not
    drop (or gains at least ``tol``). The result is the last subset kept.
    """

    def __init__(self):
        pass

    def _start(self):
        self.current_ = np.ones(self.n_features_, dtype=bool)
        self.score_ = -np.inf
        # The full set needs a score only as the baseline of a free size, or as the result.
        self._baseline = self.n_select_ is None or self.n_select_ == self.n_features_

    def _ask(self):
        if self._baseline:
            return [self.current_]
        return [self.current_ & ~_unit(self.n_features_, j) for j in np.flatnonzero(self.current_)]

    def _tell(self, masks, scores):
        if self._baseline:
            self._baseline = False
            self.score_ = float(scores[0])
            self.done = self.n_features_ == 1 or self.n_select_ == self.n_features_
            return
        best = int(np.argmax(scores))
        if self.n_select_ is None and not self._accepts(scores[best] - self.score_, adding=False):
            self.done = True
            return
        self.current_, self.score_ = masks[best].copy(), float(scores[best])
        size = int(self.current_.sum())
        self.done = size == 1 or size == self.n_select_

    def result(self):
        """The last subset kept."""
        return self.current_.copy()


class Bidirectional(SubsetStrategy):
    """Bidirectional search: forward from no feature and backward from all, until they meet.

    A forward search (subset ``F``) and a backward search (subset ``B``) take
    turns, one step each. Forward adds only features that backward still
    holds; backward removes only features that forward has not taken; so
    ``F`` stays inside ``B`` and the two meet. With ``n_select`` both stop at
    that size, where they are the same subset: the result. Without it each
    direction stops at its first step that does not gain (as
    :class:`SequentialForward` and :class:`SequentialBackward`) or when they
    meet, and the result is the better of ``F`` and ``B`` (``F`` on a tie).
    """

    def __init__(self):
        pass

    def _start(self):
        n = self.n_features_
        self.forward_ = np.zeros(n, dtype=bool)
        self.backward_ = np.ones(n, dtype=bool)
        self.forward_score_ = -np.inf
        self.backward_score_ = -np.inf
        self._baseline = self.n_select_ is None or self.n_select_ == n  # score the full set first
        self._forward_done = False
        self._backward_done = n == 1 or self.n_select_ == n
        self._turn = "forward"
        self._pending = None

    def _free(self):
        return np.flatnonzero(self.backward_ & ~self.forward_)

    def _ask(self):
        if self._turn == "backward" and self._backward_done:
            self._turn = "forward"
        if self._turn == "forward" and self._forward_done:
            self._turn = "backward"
        free = self._free()
        if self._turn == "forward":
            masks = [self.forward_ | _unit(self.n_features_, j) for j in free]
            self._pending = ("forward", len(masks), self._baseline)
            return masks + ([self.backward_.copy()] if self._baseline else [])
        self._pending = ("backward", len(free), False)
        return [self.backward_ & ~_unit(self.n_features_, j) for j in free]

    def _tell(self, masks, scores):
        side, n_moves, baseline = self._pending
        if baseline:
            self._baseline = False
            self.backward_score_ = float(scores[n_moves])
        if n_moves:
            best = int(np.argmax(scores[:n_moves]))
            if side == "forward":
                gain = scores[best] - self.forward_score_
                if self.n_select_ is None and not self._accepts(gain, adding=True):
                    self._forward_done = True
                else:
                    self.forward_, self.forward_score_ = masks[best].copy(), float(scores[best])
                    self._forward_done = self.forward_.sum() == self.n_select_
            else:
                gain = scores[best] - self.backward_score_
                if self.n_select_ is None and not self._accepts(gain, adding=False):
                    self._backward_done = True
                else:
                    self.backward_, self.backward_score_ = masks[best].copy(), float(scores[best])
                    size = self.backward_.sum()
                    self._backward_done = size == self.n_select_ or size == 1
        self._turn = "backward" if side == "forward" else "forward"
        met = np.array_equal(self.forward_, self.backward_)
        self.done = met or (self._forward_done and self._backward_done)

    def result(self):
        """``F`` = ``B`` with ``n_select``; otherwise the better of the two."""
        if self.n_select_ is not None or not self.forward_.any():
            return (self.forward_ if self.forward_.any() else self.backward_).copy()
        better = self.forward_score_ >= self.backward_score_
        return (self.forward_ if better else self.backward_).copy()


class Beam(SubsetStrategy):
    """Beam search: forward selection that keeps the best ``width`` subsets of each size.

    Each step scores every child (a kept subset plus one feature) of the
    ``width`` kept subsets and keeps the best ``width`` children (earlier
    candidates win ties). ``width=1`` is :class:`SequentialForward`. With
    ``n_select`` the result is the best subset of that size; without, the
    search grows while the best subset of the next size beats the best so far
    (by at least ``tol``), and the result is the best subset found.

    Parameters
    ----------
    width : int, default=3
        Subsets kept at each size.
    """

    def __init__(self, width=3):
        self.width = width

    def _check_settings(self):
        if not isinstance(self.width, Integral) or self.width < 1:
            raise ValueError(f"Beam needs an integer width >= 1; got width={self.width!r}.")

    def _start(self):
        self.beam_ = [np.zeros(self.n_features_, dtype=bool)]
        self.best_ = (None, -np.inf)
        self.size_ = 0

    def _ask(self):
        children = {}
        for parent in self.beam_:
            for j in np.flatnonzero(~parent):
                child = parent | _unit(self.n_features_, j)
                children.setdefault(_key(child), child)
        return list(children.values())

    def _tell(self, masks, scores):
        order = np.argsort(-scores, kind="stable")[: self.width]
        if self.n_select_ is None and not self._accepts(scores[order[0]] - self.best_[1], adding=True):
            self.done = True
            return
        self.beam_ = [masks[i].copy() for i in order]
        self.best_ = (self.beam_[0], float(scores[order[0]]))
        self.size_ += 1
        self.done = self.size_ == self.n_features_ or self.size_ == self.n_select_

    def result(self):
        """The best subset of size ``n_select``, or the best of the sizes grown."""
        return self.best_[0].copy()


class Genetic(SubsetStrategy):
    """A genetic algorithm over feature masks.

    Each generation is one batch. Parents are chosen by tournament, children
    made by uniform crossover and bit-flip mutation, and the ``n_elite`` best
    subsets pass unchanged to the next generation. With ``n_select`` every
    subset is repaired to exactly that size (random features switched on or
    off); otherwise the first generation has sizes drawn uniformly from 1 to
    ``n_features`` and no subset is empty. A child already scored is redrawn
    (up to 10 times), which keeps the population diverse. The result is the
    best subset scored.

    Parameters
    ----------
    population_size : int, default=20
    n_generations : int, default=20
        Generations scored, the first (random) one included.
    crossover_rate : float in [0, 1], default=0.9
        Chance that a child mixes two parents rather than copying one.
    mutation_rate : float in [0, 1] or None, default=None
        Chance that each bit flips; None means ``1 / n_features``.
    tournament_size : int, default=3
    n_elite : int, default=2
    """

    def __init__(
        self,
        population_size=20,
        n_generations=20,
        crossover_rate=0.9,
        mutation_rate=None,
        tournament_size=3,
        n_elite=2,
    ):
        self.population_size = population_size
        self.n_generations = n_generations
        self.crossover_rate = crossover_rate
        self.mutation_rate = mutation_rate
        self.tournament_size = tournament_size
        self.n_elite = n_elite

    def _check_settings(self):
        for name in ("population_size", "n_generations", "tournament_size"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"Genetic needs an integer {name} >= 1; got {name}={value!r}.")
        if not isinstance(self.n_elite, Integral) or not 0 <= self.n_elite <= self.population_size:
            raise ValueError(
                f"Genetic needs an integer n_elite in [0, population_size={self.population_size}]; "
                f"got n_elite={self.n_elite!r}."
            )
        for name in ("crossover_rate", "mutation_rate"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, Real) and 0 <= value <= 1):
                raise ValueError(f"Genetic needs {name} in [0, 1]; got {name}={value!r}.")

    def _start(self):
        self.generation_ = 0
        self.population_, taken = [], set()
        for _ in range(self.population_size):
            mask = self._unseen(self._random_mask, taken)
            taken.add(_key(mask))
            self.population_.append(mask)

    def _random_mask(self):
        n = self.n_features_
        size = self.n_select_ if self.n_select_ is not None else int(self.rng_.integers(1, n + 1))
        mask = np.zeros(n, dtype=bool)
        mask[self.rng_.choice(n, size=size, replace=False)] = True
        return mask

    def _repair(self, mask):
        count = int(mask.sum())
        if self.n_select_ is None:
            if count == 0:
                mask[self.rng_.integers(self.n_features_)] = True
        elif count > self.n_select_:
            mask[self.rng_.choice(np.flatnonzero(mask), size=count - self.n_select_, replace=False)] = False
        elif count < self.n_select_:
            mask[self.rng_.choice(np.flatnonzero(~mask), size=self.n_select_ - count, replace=False)] = True
        return mask

    def _unseen(self, make, taken=()):
        """A mask from ``make`` not scored nor in ``taken`` yet, if 10 draws find one."""
        for _ in range(10):
            mask = make()
            if _key(mask) not in self.told_ and _key(mask) not in taken:
                break
        return mask

    def _ask(self):
        return self.population_

    def _tell(self, masks, scores):
        self.generation_ += 1
        if self.generation_ >= self.n_generations:
            self.done = True
            return
        order = np.argsort(-scores, kind="stable")
        children = [masks[i].copy() for i in order[: self.n_elite]]
        taken = {_key(child) for child in children}
        rate = self.mutation_rate if self.mutation_rate is not None else 1.0 / self.n_features_

        def tournament():
            picks = self.rng_.choice(len(masks), size=min(self.tournament_size, len(masks)), replace=False)
            return masks[picks[np.argmax(scores[picks])]]

        def child():
            first, second = tournament(), tournament()
            if self.rng_.random() < self.crossover_rate:
                mask = np.where(self.rng_.random(self.n_features_) < 0.5, first, second)
            else:
                mask = first.copy()
            mask ^= self.rng_.random(self.n_features_) < rate
            return self._repair(mask)

        while len(children) < self.population_size:
            new = self._unseen(child, taken)
            taken.add(_key(new))
            children.append(new)
        self.population_ = children


class SimulatedAnnealing(SubsetStrategy):
    """Simulated annealing over feature masks.

    From a random subset, each step scores ``n_neighbours`` neighbours (one
    feature flipped; with ``n_select``, one feature swapped for another, so the
    size stays) and moves to the best of them by the Metropolis rule: always
    when it scores at least as well, else with probability
    ``exp(gain / temperature)``. The temperature starts at
    ``initial_temperature`` and is multiplied by ``cooling`` after each step.
    Neighbours not scored yet are preferred. The result is the best subset
    scored.

    Parameters
    ----------
    n_iterations : int, default=100
        Steps after scoring the starting subset.
    initial_temperature : float > 0, default=0.01
        In units of the score: the default suits scores in [0, 1] such as
        accuracy (a loss of 0.01 is first accepted with probability 1/e);
        scale it for scores on another scale.
    cooling : float in (0, 1], default=0.95
        Geometric cooling factor per step.
    n_neighbours : int, default=1
        Neighbours scored per step (in parallel under ``n_jobs``).
    """

    def __init__(self, n_iterations=100, initial_temperature=0.01, cooling=0.95, n_neighbours=1):
        self.n_iterations = n_iterations
        self.initial_temperature = initial_temperature
        self.cooling = cooling
        self.n_neighbours = n_neighbours

    def _check_settings(self):
        for name in ("n_iterations", "n_neighbours"):
            value = getattr(self, name)
            if not isinstance(value, Integral) or value < 1:
                raise ValueError(f"SimulatedAnnealing needs an integer {name} >= 1; got {name}={value!r}.")
        if not isinstance(self.initial_temperature, Real) or self.initial_temperature <= 0:
            raise ValueError(
                f"SimulatedAnnealing needs initial_temperature > 0; got {self.initial_temperature!r}."
            )
        if not isinstance(self.cooling, Real) or not 0 < self.cooling <= 1:
            raise ValueError(f"SimulatedAnnealing needs cooling in (0, 1]; got {self.cooling!r}.")

    def _start(self):
        n = self.n_features_
        size = self.n_select_ if self.n_select_ is not None else max(1, int(self.rng_.binomial(n, 0.5)))
        self.current_ = np.zeros(n, dtype=bool)
        self.current_[self.rng_.choice(n, size=size, replace=False)] = True
        self.score_ = None
        self.temperature_ = float(self.initial_temperature)
        self.iteration_ = 0

    def _neighbour(self):
        mask = self.current_.copy()
        if self.n_select_ is None:
            j = int(self.rng_.integers(self.n_features_))
            if mask[j] and mask.sum() == 1:  # never empty
                j = int(self.rng_.choice(np.flatnonzero(~mask)))
            mask[j] = not mask[j]
        else:
            mask[self.rng_.choice(np.flatnonzero(mask))] = False
            mask[self.rng_.choice(np.flatnonzero(~self.current_))] = True
        return mask

    def _ask(self):
        if self.score_ is None:
            return [self.current_]
        masks, taken = [], set()
        for _ in range(self.n_neighbours):
            for _ in range(10):
                mask = self._neighbour()
                if _key(mask) not in self.told_ and _key(mask) not in taken:
                    break
            taken.add(_key(mask))
            masks.append(mask)
        return masks

    def _tell(self, masks, scores):
        if self.score_ is None:
            self.score_ = float(scores[0])
            # One feature (or all of them to select): no neighbour exists.
            self.done = self.n_features_ == 1 or self.n_select_ == self.n_features_
            return
        best = int(np.argmax(scores))
        gain = scores[best] - self.score_
        draw = self.rng_.random()  # drawn every step, so the stream does not depend on the scores
        if gain >= 0 or draw < np.exp(gain / self.temperature_):
            self.current_, self.score_ = masks[best].copy(), float(scores[best])
        self.temperature_ *= self.cooling
        self.iteration_ += 1
        self.done = self.iteration_ >= self.n_iterations


#: Names accepted by ``WrapperSelector(search=...)``.
SUBSET_STRATEGIES = {
    "forward": SequentialForward,
    "backward": SequentialBackward,
    "bidirectional": Bidirectional,
    "beam": Beam,
    "genetic": Genetic,
    "annealing": SimulatedAnnealing,
}


# ----------------------------------------------------------------------------- selector


def _cross_validate_subset(estimator, X, y, splits, scorer):
    """Fold scores of ``estimator`` on ``X`` (already the subset's columns), seconds, error text."""
    started = time.perf_counter()
    try:
        # error_score='raise': the first failing fold ends the subset, and its error is kept as it is
        scores = cross_validate(estimator, X, y, cv=splits, scoring=scorer, error_score="raise")["test_score"]
    except Exception as error:  # a failed subset loses; the selector reports it
        return None, time.perf_counter() - started, f"{type(error).__name__}: {error}"
    return np.asarray(scores, dtype=float), time.perf_counter() - started, ""


def _object_array(values):
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


#: Columns of ``search_path_`` and their dtypes.
_PATH_COLUMNS = {
    "evaluation": int,
    "step": int,
    "features": object,
    "feature_indices": object,
    "n_features": int,
    "mean_score": float,
    "std_score": float,
    "fit_time": float,
    "status": object,
    "error": object,
}


class WrapperSelector(SelectorMixin, MetaEstimatorMixin, BaseEstimator):
    """Select features by searching subsets scored by cross-validating an estimator.

    A wrapper method: each candidate subset of features is scored by the mean
    cross-validated score of ``estimator`` fitted on those features only. The
    search strategy proposes subsets in batches; the batch is scored in
    parallel (``n_jobs``, one joblib task per subset), scores are cached so no
    subset is scored twice, and the search stops when the strategy is done or
    the budget (``max_evaluations``, ``time_budget``) is spent. Every subset
    scored is recorded in ``search_path_``.

    All subsets are scored on the same folds (the splits of ``cv`` are drawn
    once per fit). A subset whose fit or scoring raises scores ``-inf`` for
    the search and ``NaN`` in ``search_path_`` (status ``'failed'`` with the
    error); a :class:`~sklearn.exceptions.FitFailedWarning` counts them, and
    ``fit`` raises a ValueError when every subset failed.

    Parameters
    ----------
    estimator : estimator with ``fit``
        The model that scores subsets; cloned for every fold.
    search : {'forward', 'backward', 'bidirectional', 'beam', 'genetic', \
'annealing'} or SubsetStrategy, default='forward'
        The search strategy: a name (default settings) or an instance such as
        ``Beam(width=5)`` or ``Genetic(population_size=40)``; see
        :class:`SequentialForward`, :class:`SequentialBackward`,
        :class:`Bidirectional`, :class:`Beam`, :class:`Genetic` and
        :class:`SimulatedAnnealing`. The instance is copied, never changed.
    n_features_to_select : 'auto', int or float, default='auto'
        An int is the number of features to select, a float in (0, 1] that
        share of the features (at least one). Every strategy then returns
        exactly that many features, unless a budget stops it first.

        ``'auto'`` lets the size free. The greedy searches (forward, backward,
        bidirectional, beam) go on while a step gains: a step is taken when
        its score minus the current score is at least ``tol``; with
        ``tol=None`` an added feature must raise the score (gain > 0) and a
        removed one must not lower it (gain >= 0), so ties favour fewer
        features. Genetic and annealing search all sizes and return the best
        subset found. (scikit-learn's ``SequentialFeatureSelector`` differs
        here: its ``'auto'`` without ``tol`` selects half the features.)
    scoring : str, callable or None, default=None
        A scorer name or ``scorer(estimator, X, y)``; None uses the
        estimator's ``score``.
    cv : int, cross-validation generator or iterable, default=5
        As in :func:`~sklearn.model_selection.cross_val_score`: an int gives
        stratified folds for a classifier.
    max_evaluations : int or None, default=None
        At most this many subsets are cross-validated.
    time_budget : float or None, default=None
        Seconds for the search. Checked before each group of evaluations: a
        group starts only while its expected length (that of the last group)
        fits in the time left; the first evaluation always runs.
    tol : float or None, default=None
        See ``n_features_to_select='auto'``; a negative value accepts steps
        that lose up to ``-tol`` (useful to drop features backward at a small
        cost). Ignored with a fixed number of features.
    n_jobs : int or None, default=None
        Subsets of one batch cross-validated in parallel through joblib, one
        task per subset (the folds of a subset run in that task). The result
        does not depend on it. Process workers start by importing skautoml
        (seconds), so it pays when a search takes more than that.
    random_state : int, RandomState instance or None, default=None
        Seeds the stochastic strategies (genetic, annealing); a fixed seed
        gives the same search path.
    verbose : int, default=0
        Print one line per batch when > 0.

    Attributes
    ----------
    support_ : ndarray of shape (n_features_in_,), dtype=bool
        The selected features. When a budget stops the search early it is the
        best subset scored so far, of ``n_features_to_select`` features when
        one of that size was scored.
    best_score_ : float
        Mean cross-validated score of ``support_``.
    n_features_to_select_ : int
        Number of features selected.
    search_path_ : dict of ndarrays
        One row per subset cross-validated, in order (``pandas.DataFrame(
        selector.search_path_)`` is a table): ``'evaluation'`` (0, 1, ...),
        ``'step'`` (the batch), ``'features'`` (tuple of feature names),
        ``'feature_indices'`` (tuple of int), ``'n_features'``,
        ``'mean_score'``, ``'std_score'`` (over folds; NaN when failed),
        ``'fit_time'`` (seconds for all folds), ``'status'`` (``'ok'`` or
        ``'failed'``) and ``'error'``.
    n_evaluations_ : int
        Subsets cross-validated (rows of ``search_path_``).
    stopped_by_ : {'max_evaluations', 'time_budget'} or None
        The budget that ended the search, or None when the strategy finished.
    search_time_ : float
        Seconds the search took.
    strategy_ : SubsetStrategy
        The strategy after the search (its state, such as a final population).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    sklearn.feature_selection.SequentialFeatureSelector : forward and backward
        selection; ``search='forward'`` with an int ``n_features_to_select``
        selects the same features.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from skautoml.features import WrapperSelector
    >>> X, y = make_classification(n_samples=100, n_features=6, n_informative=2,
    ...                            n_redundant=0, shuffle=False, random_state=1)
    >>> selector = WrapperSelector(LogisticRegression(), n_features_to_select=2, cv=3)
    >>> selector.fit(X, y).get_support(indices=True)
    array([0, 1])
    >>> selector.n_evaluations_, selector.search_path_["n_features"].tolist()
    (11, [1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2])
    >>> selector.transform(X).shape
    (100, 2)
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit"])],
        "search": [StrOptions(set(SUBSET_STRATEGIES)), SubsetStrategy],
        "n_features_to_select": [
            StrOptions({"auto"}),
            Interval(Integral, 1, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
        ],
        "scoring": [StrOptions(set(get_scorer_names())), callable, None],
        "cv": ["cv_object"],
        "max_evaluations": [Interval(Integral, 1, None, closed="left"), None],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "tol": [Interval(Real, None, None, closed="neither"), None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator,
        search="forward",
        n_features_to_select="auto",
        scoring=None,
        cv=5,
        max_evaluations=None,
        time_budget=None,
        tol=None,
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.estimator = estimator
        self.search = search
        self.n_features_to_select = n_features_to_select
        self.scoring = scoring
        self.cv = cv
        self.max_evaluations = max_evaluations
        self.time_budget = time_budget
        self.tol = tol
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _validate_input(self, X, y):
        name = type(self).__name__
        inner = get_tags(self.estimator).input_tags
        check_numeric_columns(X, name)
        X, y = validate_data(
            self,
            X,
            y,
            accept_sparse="csc" if inner.sparse else False,  # csc: cheap column subsets
            ensure_all_finite="allow-nan" if inner.allow_nan else False,
            multi_output=True,
        )
        if not inner.allow_nan:
            check_finite(
                X,
                type(self.estimator).__name__,
                advice=" Or wrap an estimator that accepts NaN, such as HistGradientBoostingClassifier.",
            )
        if np.all(y == y[:1]):
            raise ValueError(
                f"y has one class (a constant value {y[:1].tolist()[0]!r} for all {len(y)} samples): "
                f"every subset of features would score the same, so {name} has nothing to select. "
                "Pass a target with at least two classes or values."
            )
        return X, y

    def _n_select(self, n_features):
        k = self.n_features_to_select
        if isinstance(k, str):
            return None
        if isinstance(k, Integral):
            if k > n_features:
                raise ValueError(
                    f"n_features_to_select={k} is more than the number of features of X, "
                    f"n_features={n_features}. Pass at most {n_features}, a share in (0, 1], or 'auto'."
                )
            return int(k)
        return max(1, int(n_features * k))

    def _strategy(self):
        if isinstance(self.search, str):
            return SUBSET_STRATEGIES[self.search]()
        return clone(self.search, safe=False)  # a fresh copy: the user's instance is never changed

    @_fit_context(prefer_skip_nested_validation=False)  # the estimator is validated by its own fit
    def fit(self, X, y, groups=None):
        """Search for the best subset of features.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        groups : array-like of shape (n_samples,), default=None
            Group labels for a group splitter such as ``GroupKFold``.

        Returns
        -------
        self : WrapperSelector
        """
        X, y = self._validate_input(X, y)
        n_features = X.shape[1]
        n_select = self._n_select(n_features)
        splits = list(check_cv(self.cv, y, classifier=is_classifier(self.estimator)).split(X, y, groups))
        scorer = check_scoring(self.estimator, scoring=self.scoring)
        seed = check_random_state(self.random_state).randint(SEED_MAX)
        strategy = self._strategy().start(n_features, n_select, self.tol, np.random.default_rng(seed))
        names = getattr(self, "feature_names_in_", None)
        names = np.asarray([f"x{j}" for j in range(n_features)] if names is None else names, dtype=object)

        budget = Budget(max_trials=self.max_evaluations, time_budget=self.time_budget).start()
        n_workers = effective_n_jobs(self.n_jobs)
        cache, rows = {}, []
        stopped_by, step, group_seconds = None, 0, 0.0
        parallel = Parallel(n_jobs=self.n_jobs) if n_workers > 1 else None

        def evaluate(masks):
            subsets = [np.flatnonzero(mask) for mask in masks]
            if parallel is None:
                return [_cross_validate_subset(self.estimator, X[:, idx], y, splits, scorer) for idx in subsets]
            jobs = (delayed(_cross_validate_subset)(self.estimator, X[:, idx], y, splits, scorer) for idx in subsets)
            return parallel(jobs)

        def may_start():
            return budget.may_start(len(rows), expected_trial_seconds=group_seconds)

        while not strategy.done:
            if not may_start():
                stopped_by = "max_evaluations" if budget.remaining_trials(len(rows)) == 0 else "time_budget"
                break
            masks = strategy.ask()
            if not masks:
                break
            new = {}
            for mask in masks:
                if mask.shape != (n_features,) or not mask.any():
                    raise ValueError(
                        f"{type(strategy).__name__} asked for a mask of shape {mask.shape} with "
                        f"{int(mask.sum())} features; masks must have shape ({n_features},) and select "
                        "at least one feature."
                    )
                if _key(mask) not in cache:
                    new.setdefault(_key(mask), mask)
            todo = list(new.values())
            # Under a time budget, evaluate one subset per worker at a time so the budget is checked often.
            group = len(todo) if self.time_budget is None else n_workers
            done = 0
            while done < len(todo):
                if done and not may_start():
                    break
                part = todo[done : done + min(group, budget.remaining_trials(len(rows)))]
                started = time.perf_counter()
                for mask, (scores, seconds, error) in zip(part, evaluate(part)):
                    idx = np.flatnonzero(mask)
                    failed = scores is None
                    mean = np.nan if failed else float(scores.mean())
                    cache[_key(mask)] = mean
                    rows.append(
                        {
                            "evaluation": len(rows),
                            "step": step,
                            "features": tuple(names[idx].tolist()),
                            "feature_indices": tuple(idx.tolist()),
                            "n_features": len(idx),
                            "mean_score": mean,
                            "std_score": np.nan if failed else float(scores.std()),
                            "fit_time": seconds,
                            "status": "failed" if failed else "ok",
                            "error": error,
                        }
                    )
                group_seconds = time.perf_counter() - started
                done += len(part)
            if done < len(todo):
                stopped_by = "max_evaluations" if budget.remaining_trials(len(rows)) == 0 else "time_budget"
                break
            strategy.tell(masks, [cache[_key(mask)] for mask in masks])
            if self.verbose:
                best = max((r["mean_score"] for r in rows if r["status"] == "ok"), default=np.nan)
                print(
                    f"[{type(self).__name__}] step {step}: {len(todo)} new subsets, {len(rows)} scored, "
                    f"best {best:.4f}, {budget.elapsed:.1f} s"
                )
            step += 1
        self.search_time_ = budget.elapsed

        failed = [row for row in rows if row["status"] == "failed"]
        if rows and len(failed) == len(rows):
            raise ValueError(
                f"Every one of the {len(rows)} subsets tried failed to cross-validate "
                f"{type(self.estimator).__name__}; the first error was: {failed[0]['error']}"
            )
        if failed:
            warnings.warn(
                f"{len(failed)} of {len(rows)} subsets failed to cross-validate and scored -inf in the "
                f"search (status 'failed' in search_path_); the first error was: {failed[0]['error']}",
                FitFailedWarning,
            )

        if stopped_by is None:
            support = strategy.result()
        else:  # the best subset scored so far, of the asked size when there is one
            scored = [(np.frombuffer(key, dtype=bool), -np.inf if np.isnan(s) else s) for key, s in cache.items()]
            support = _best_of(scored, n_select)[0]
            if support is None:
                support = _best_of(scored)[0]
        if support is None or not np.any(support):
            raise RuntimeError(f"{type(strategy).__name__} selected no feature; a strategy must select at least one.")
        self.support_ = np.array(support, dtype=bool)
        self.best_score_ = float(cache.get(_key(self.support_), np.nan))
        self.n_features_to_select_ = int(self.support_.sum())
        self.search_path_ = {
            name: _object_array([row[name] for row in rows])
            if name in ("features", "feature_indices", "status", "error")
            else np.asarray([row[name] for row in rows], dtype=dtype)
            for name, dtype in _PATH_COLUMNS.items()
        }
        self.n_evaluations_ = len(rows)
        self.stopped_by_ = stopped_by
        self.strategy_ = strategy
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        inner = get_tags(self.estimator).input_tags
        tags.input_tags.allow_nan = inner.allow_nan
        tags.input_tags.sparse = inner.sparse
        tags.target_tags.required = True
        return tags
