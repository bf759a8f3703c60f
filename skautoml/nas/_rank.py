"""Rank correlation: how well a cheap estimator orders architectures, compared with stand-alone training.

Every way of scoring an architecture more cheaply than training it alone to
the end — fewer epochs, a surrogate model of the encoding, the inherited
weights of a supernet — is worth what its ranking is worth: a search only
compares architectures. The survey (Section 6.1.1) measures this with
Kendall's tau between the cheap scores and the stand-alone ones, and with the
overlap of the two top-k sets. :func:`rank_correlation` measures both on
architectures of the shipped :class:`~skautoml.nas.NASTable` (or on any
architectures, with a stand-alone ``reference`` of your own), and reports
beside them how well stand-alone training agrees with itself: the same
measures between the two seeds of the table's seed-noise sample.

Cheap estimators are plain callables ``architecture -> score``;
:class:`LowFidelity` (the table's curve after fewer epochs) and
:class:`SurrogateEstimator` (a regressor over ``space.encode``) are shipped.
A supernet's inherited-weight score plugs in the same way.
"""
import math
import warnings
from dataclasses import dataclass
from numbers import Integral
from typing import NamedTuple

import numpy as np
from scipy.stats import kendalltau
from sklearn.utils import check_random_state
from threadpoolctl import threadpool_limits

from .._utils._random import SEED_MAX
from ..search import fit_surrogate
from .evaluate import canonical_architecture, load_nas_table

_METRICS = ("valid", "test")
_SURROGATES = ("gp", "rf")


@dataclass(frozen=True)
class RankCorrelation:
    """What :func:`rank_correlation` measured.

    Attributes
    ----------
    tau : float
        Kendall's tau-b between the estimator's scores and the reference
        (``scipy.stats.kendalltau``; ties counted as tau-b does); NaN when
        either is constant.
    p_value : float
        Of the test that tau is 0 (``kendalltau``'s).
    top_k_overlap : float
        Share of the estimator's ``top_k`` best architectures that are among
        the reference's ``top_k`` best, in [0, 1] (see :func:`top_k_overlap`).
    top_k : int
    n : int
        Architectures measured (after dropping non-finite scores).
    ceiling_tau, ceiling_top_k : float or None
        The same two measures between the two seeds of the table's
        seed-noise sample: how well stand-alone training agrees with itself
        (``ceiling_top_k`` is the mean over taking either seed as the
        reference; tau is symmetric).
        None without a table, without a seed-noise record in it, or
        (``ceiling_top_k``) when ``top_k`` exceeds the sample.
    ceiling_n : int or None
        Architectures of the seed-noise sample.
    architectures : tuple
        The architectures measured, in the order scored.
    scores, reference_scores : tuple of float
        The estimator's and the reference's scores of ``architectures``.
    dropped : tuple
        Architectures left out because a score of theirs was not finite.
    """

    tau: float
    p_value: float
    top_k_overlap: float
    top_k: int
    n: int
    ceiling_tau: float | None
    ceiling_top_k: float | None
    ceiling_n: int | None
    architectures: tuple
    scores: tuple
    reference_scores: tuple
    dropped: tuple = ()


class SeedNoise(NamedTuple):
    """Stand-alone scores of the same architectures trained with two seeds (see :func:`seed_noise_sample`)."""

    architectures: tuple | None
    first: np.ndarray
    second: np.ndarray
    seeds: tuple


def seed_noise_sample(table, metric="valid"):
    """The table's seed-noise sample: architectures trained again with another seed.

    ``benchmarks/build_nas_table.py --noise-sample n`` retrains the table's
    first ``n`` architectures (in table order) with the next seed and records
    both scores in ``table.info['seed_noise']``. The architectures are
    recovered as the table's first ``n`` entries when their recorded scores
    match the first seed's column (validation and test accuracy alike);
    otherwise they are None and only the scores are known.

    Parameters
    ----------
    table : NASTable
    metric : {'valid', 'test'}, default='valid'
        Validation accuracy (what a search ranks by) or test accuracy, each
        at the epoch of lowest validation loss.

    Returns
    -------
    SeedNoise or None
        ``(architectures, first, second, seeds)``: ``first`` the table's run
        (its seed), ``second`` the retraining; None when the table records no
        sample.

    Examples
    --------
    >>> from skautoml.nas import load_nas_table
    >>> noise = seed_noise_sample(load_nas_table())
    >>> len(noise.architectures), noise.seeds
    (30, (0, 1))
    """
    _check_metric(metric)
    record = (getattr(table, "info", None) or {}).get("seed_noise")
    if not record or not record.get("pairs"):
        return None
    pairs = np.asarray(record["pairs"], dtype=float)
    columns = record.get("columns", ["valid_seed0", "valid_seed1", "test_seed0", "test_seed1"])
    first = pairs[:, columns.index("valid_seed0" if metric == "valid" else "test_seed0")]
    second = pairs[:, columns.index("valid_seed1" if metric == "valid" else "test_seed1")]
    leading = list(table)[: len(pairs)]
    recorded = np.array([[e.score(), e.test_score()] for e in leading], dtype=float).reshape(-1, 2)
    expected = pairs[:, [columns.index("valid_seed0"), columns.index("test_seed0")]]
    matches = recorded.shape == expected.shape and np.allclose(recorded, expected, rtol=0, atol=1e-6)
    architectures = tuple(e.architecture for e in leading) if matches else None
    seed = int(record.get("seed", 1))
    return SeedNoise(architectures, first, second, (seed - 1, seed))


def top_k_overlap(reference, estimate, k):
    """Share of the estimator's ``k`` best that are among the reference's ``k`` best.

    Scores on a finite validation set tie often (the shipped table has 29
    distinct validation accuracies over 441 architectures), so both top-k
    sets are defined without an arbitrary tie-break: an architecture tied
    with the reference's ``k``-th best counts as among its ``k`` best, and
    architectures tied at the estimator's ``k``-th place share its remaining
    places equally (the expected overlap of a random tie-break). An
    estimator equal to the reference gives 1; one that reverses it gives 0
    when the two top-k sets can be disjoint.

    Parameters
    ----------
    reference, estimate : array-like of shape (n,)
        Finite scores, higher is better.
    k : int
        1 to n.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> top_k_overlap([4, 3, 2, 1], [4, 3, 2, 1], k=2), top_k_overlap([4, 3, 2, 1], [1, 2, 3, 4], k=2)
    (1.0, 0.0)
    >>> top_k_overlap([4, 3, 2, 1], [9, 5, 5, 0], k=2)  # the 2nd place is a tie of the 2nd and 3rd
    0.75
    """
    reference, estimate = np.asarray(reference, dtype=float), np.asarray(estimate, dtype=float)
    k = _check_top_k(k, len(reference))
    if estimate.shape != reference.shape:
        raise ValueError(f"reference and estimate differ in shape: {reference.shape} and {estimate.shape}.")
    in_reference = reference >= np.sort(reference)[::-1][k - 1]
    kth = np.sort(estimate)[::-1][k - 1]
    above, tied = estimate > kth, estimate == kth
    # In whole numbers, divided once: an estimator equal to the reference gives exactly 1.
    n_tied, places = int(tied.sum()), k - int(above.sum())
    hits = int((above & in_reference).sum()) * n_tied + int((tied & in_reference).sum()) * places
    return hits / (k * n_tied)


class LowFidelity:
    """The table's score of an architecture after ``epochs`` epochs of its stand-alone run.

    Exactly what :class:`~skautoml.nas.TabularEvaluator` reports for a trial
    at ``Fidelity(max_epochs=epochs)``: the validation accuracy at the epoch
    of lowest validation loss among the first ``epochs`` (the start of the
    recorded run, whose cosine schedule spans all ``table.max_epochs``).
    At ``epochs=table.max_epochs`` it is the stand-alone score itself.

    Parameters
    ----------
    table : NASTable
    epochs : int or None, default=None
        1 to ``table.max_epochs``; None for all of them.
    metric : {'valid', 'test'}, default='valid'
        Validation accuracy, or test accuracy of the same weights.

    Examples
    --------
    >>> from skautoml.nas import load_nas_table
    >>> table = load_nas_table()
    >>> arch = table.architectures[0]
    >>> LowFidelity(table, epochs=5)(arch) == table.entry(arch).score(5)
    True
    """

    def __init__(self, table, epochs=None, metric="valid"):
        self.table = table
        self.epochs = epochs
        self.metric = metric

    def __repr__(self):
        return f"LowFidelity(epochs={self.epochs!r}, metric={self.metric!r})"

    def __call__(self, architecture):
        _check_metric(self.metric)
        epochs, max_epochs = self.epochs, self.table.max_epochs
        if epochs is not None and (
            isinstance(epochs, bool) or not isinstance(epochs, Integral) or not 1 <= epochs <= max_epochs
        ):
            raise ValueError(f"epochs must be an integer from 1 to the table's {max_epochs}, or None; got {epochs!r}.")
        entry = self.table.entry(architecture)
        return entry.score(epochs) if self.metric == "valid" else entry.test_score(epochs)


class SurrogateEstimator:
    """A regressor of ``space.encode(architecture) -> score``, fitted on some architectures, scoring others.

    The surrogate of :class:`~skautoml.search.BayesianOptimization`:
    scikit-optimize's Gaussian process (Matern kernel) or random forest, fed
    encodings scaled to [0, 1] per decision by the span of the training
    encodings. Architectures are encoded in canonical form
    (:func:`~skautoml.nas.canonical_architecture`), so both orders of a
    symmetric block score alike. Measure it on architectures it was not
    fitted on (``rank_correlation(..., exclude=train)``).

    Parameters
    ----------
    space : SearchSpace
        Its ``encode`` is the surrogate's input.
    surrogate : {'gp', 'rf'} or regressor, default='gp'
        A regressor is cloned (with ``random_state`` set when it has one).
    random_state : int, RandomState or None
        Seed of the surrogate, drawn in :meth:`fit`.

    Attributes
    ----------
    model_ : regressor
        The fitted surrogate.
    n_train_ : int

    Examples
    --------
    >>> from skautoml.nas import load_nas_table
    >>> table = load_nas_table()
    >>> train = table.architectures[:50]
    >>> surrogate = SurrogateEstimator(table.space, "rf", random_state=0)
    >>> surrogate = surrogate.fit(train, [table.entry(a).score() for a in train])
    >>> 0 < surrogate(table.architectures[60]) < 1
    True
    """

    def __init__(self, space, surrogate="gp", random_state=None):
        self.space = space
        self.surrogate = surrogate
        self.random_state = random_state

    def fit(self, architectures, scores):
        """Fit on ``architectures`` and their ``scores`` (a sequence, or a callable ``architecture -> score``)."""
        if not (self.surrogate in _SURROGATES or hasattr(self.surrogate, "predict")):
            raise ValueError(f"surrogate must be one of {_SURROGATES} or a regressor; got {self.surrogate!r}.")
        architectures = list(architectures)
        y = np.asarray([scores(a) for a in architectures] if callable(scores) else scores, dtype=float)
        if y.shape != (len(architectures),):
            raise ValueError(f"{len(architectures)} architectures but scores of shape {y.shape}.")
        if not np.isfinite(y).all() or len(np.unique(y)) < 2:
            raise ValueError("the surrogate needs finite scores with at least two different values.")
        X = self._encode(architectures)
        self._low = X.min(0)
        span = X.max(0) - self._low
        self._span = np.where(span == 0, 1.0, span)
        seed = int(check_random_state(self.random_state).randint(SEED_MAX))
        self.model_, self.n_train_ = fit_surrogate(self.surrogate, self._scale(X), y, seed), len(y)
        return self

    def predict(self, architectures):
        """Predicted scores of ``architectures``, one array for all (what :func:`rank_correlation` asks)."""
        if not hasattr(self, "model_"):
            raise RuntimeError("this SurrogateEstimator is not fitted yet; call fit(architectures, scores) first.")
        with threadpool_limits(1):
            return np.asarray(self.model_.predict(self._scale(self._encode(list(architectures)))), dtype=float)

    def __call__(self, architecture):
        return float(self.predict([architecture])[0])

    def _encode(self, architectures):
        return np.array([self.space.encode(canonical_architecture(a)) for a in architectures], dtype=float)

    def _scale(self, X):
        return (X - self._low) / self._span


def rank_correlation(
    estimator,
    architectures=None,
    *,
    reference=None,
    table=None,
    n_architectures=30,
    top_k=5,
    exclude=(),
    random_state=None,
):
    """How well a cheap estimator ranks architectures compared with stand-alone training.

    Scores ``architectures`` (by default ``n_architectures`` drawn from the
    table) with ``estimator`` and with the stand-alone ``reference``, and
    reports Kendall's tau between the two and the overlap of their top-k
    sets, with the same measures between two stand-alone trainings of
    different seeds beside them (the table's seed-noise sample): the
    estimator against how well stand-alone training agrees with itself.

    Parameters
    ----------
    estimator : callable or object
        The cheap score, higher is better: a callable ``architecture ->
        score``, an object with ``score(architecture)``, or one with
        ``predict(architectures)`` returning all scores at once (asked
        first; :class:`SurrogateEstimator` has it). :class:`LowFidelity` and
        :class:`SurrogateEstimator` are shipped; a supernet plugs in as
        ``lambda a: accuracy of the path a with the supernet's shared
        weights``.
    architectures : sequence or None, default=None
        Architectures to measure (3 or more, no two equal in canonical
        form). None draws ``n_architectures`` of the table at random.
    reference : {'valid', 'test'}, callable, object or None, default=None
        The stand-alone score. None or ``'valid'``: the table's validation
        accuracy after all its epochs (what a search ranks by; the seed
        noise was recorded for it too); ``'test'``: its test accuracy.
        A callable (or object, as for ``estimator``) scores architectures
        outside the table, for example by training them through
        :func:`~skautoml.nas.tabulate_architecture`; its ceiling is the
        table's validation-accuracy seed noise.
    table : NASTable or None, default=None
        Where architectures are drawn from, the reference is read from and
        the ceiling comes from. None: the shipped table, loaded when one of
        those needs it (with a callable ``reference`` and given
        ``architectures`` no table is used, and there is no ceiling).
    n_architectures : int or None, default=30
        How many to draw when ``architectures`` is None; None for all that
        ``exclude`` leaves.
    top_k : int, default=5
        Size of the top sets compared; at most the number measured.
    exclude : collection, default=()
        Architectures never measured (any symmetric form), such as the
        training set of a surrogate.
    random_state : int, RandomState or None, default=None
        Seed of the draw.

    Returns
    -------
    RankCorrelation

    Raises
    ------
    ValueError
        Fewer than 3 architectures (before or after dropping), repeated
        architectures, ``top_k`` outside 1 to their number, an architecture
        missing from the table when the table is the reference.

    Warns
    -----
    UserWarning
        When scores of the estimator or the reference are NaN or infinite
        (a failed trial reports NaN): those architectures are dropped,
        listed in ``dropped``, and the rest is measured.

    Notes
    -----
    The ceiling is tau and top-k overlap between two stand-alone trainings
    with different seeds, measured on the table's seed-noise sample (30
    architectures for the shipped table; tau does not depend on how many,
    top-k overlap does). An estimator reaching it ranks as consistently as
    retraining does. It is not a bound: a noise-free estimate of each
    architecture's mean score agrees with one noisy training better than
    two noisy trainings agree with each other, and :class:`LowFidelity`
    reads the very run the table's reference comes from, so it shares that
    run's seed noise (to compare it with an independent training, pass the
    seed-noise sample's second seed as ``reference``, see
    ``benchmarks/bench_rank_correlation.py``).

    Examples
    --------
    >>> from skautoml.nas import LowFidelity, load_nas_table, rank_correlation
    >>> table = load_nas_table()
    >>> result = rank_correlation(LowFidelity(table, epochs=5), table=table, random_state=0)
    >>> result.n, round(result.tau, 2), result.top_k_overlap
    (30, 0.7, 1.0)
    >>> round(result.ceiling_tau, 2), result.ceiling_top_k  # seed 0 against seed 1 on 30 architectures
    (0.54, 0.36)
    >>> rank_correlation(LowFidelity(table), table=table, random_state=0).tau  # all 20 epochs: the reference
    1.0
    """
    named_reference = reference is None or isinstance(reference, str)
    metric = "valid" if reference is None or not named_reference else reference
    _check_metric(metric)
    if table is None and (architectures is None or named_reference):
        table = load_nas_table()
    excluded = {canonical_architecture(a) for a in exclude}

    if architectures is None:
        pool = [a for a in table.architectures if a not in excluded]
        if n_architectures is None:
            n_architectures = len(pool)
        if isinstance(n_architectures, bool) or not isinstance(n_architectures, Integral) or n_architectures < 3:
            raise ValueError(f"n_architectures must be an integer of at least 3, or None; got {n_architectures!r}.")
        if n_architectures > len(pool):
            raise ValueError(f"n_architectures={n_architectures} but only {len(pool)} architectures are there to draw.")
        seed = int(check_random_state(random_state).randint(SEED_MAX))
        chosen = np.random.default_rng(seed).choice(len(pool), size=n_architectures, replace=False)
        architectures = [pool[i] for i in chosen]
    else:
        architectures = [a for a in architectures if canonical_architecture(a) not in excluded]
        canonical = [canonical_architecture(a) for a in architectures]
        if len(set(canonical)) != len(canonical):
            raise ValueError("architectures holds the same architecture twice (up to the order of added branches).")
    _check_count(len(architectures))
    _check_top_k(top_k, len(architectures))

    if named_reference:
        missing = [a for a in architectures if a not in table]
        if missing:
            raise ValueError(
                f"{len(missing)} architectures are not in the table (the first: {missing[0]}); pass "
                "reference= a callable that scores them stand-alone."
            )
        reference = LowFidelity(table, metric=metric)
    estimate = _score_all(estimator, architectures, "estimator")
    truth = _score_all(reference, architectures, "reference")

    finite = np.isfinite(estimate) & np.isfinite(truth)
    dropped = tuple(a for a, ok in zip(architectures, finite) if not ok)
    if dropped:
        warnings.warn(
            f"{len(dropped)} of {len(architectures)} architectures have a non-finite score "
            f"({int(np.sum(~np.isfinite(estimate)))} from the estimator, {int(np.sum(~np.isfinite(truth)))} "
            "from the reference) and are left out.",
            UserWarning,
            stacklevel=2,
        )
        architectures = [a for a, ok in zip(architectures, finite) if ok]
        estimate, truth = estimate[finite], truth[finite]
        _check_count(len(architectures), "after dropping non-finite scores")
        _check_top_k(top_k, len(architectures))

    tau, p_value = _kendall(truth, estimate)
    ceiling_tau = ceiling_top_k = ceiling_n = None
    # A callable reference is taken to measure validation accuracy, as the table's runs do.
    noise = None if table is None else seed_noise_sample(table, metric)
    if noise is not None and len(noise.first) >= 3:
        ceiling_n = len(noise.first)
        ceiling_tau = _kendall(noise.first, noise.second)[0]
        if top_k <= ceiling_n:
            # Neither seed is the better reference: the overlap is asymmetric under ties, so both ways, averaged.
            ceiling_top_k = (
                top_k_overlap(noise.first, noise.second, top_k) + top_k_overlap(noise.second, noise.first, top_k)
            ) / 2
    return RankCorrelation(
        tau=tau,
        p_value=p_value,
        top_k_overlap=top_k_overlap(truth, estimate, top_k),
        top_k=int(top_k),
        n=len(architectures),
        ceiling_tau=ceiling_tau,
        ceiling_top_k=ceiling_top_k,
        ceiling_n=ceiling_n,
        architectures=tuple(architectures),
        scores=tuple(float(v) for v in estimate),
        reference_scores=tuple(float(v) for v in truth),
        dropped=dropped,
    )


def _kendall(x, y):
    with warnings.catch_warnings():
        # A constant side gives NaN, which is the answer; no warning needed.
        warnings.simplefilter("ignore", RuntimeWarning)
        result = kendalltau(x, y)
    return float(result.statistic), float(result.pvalue)


def _score_all(scorer, architectures, what):
    """One float per architecture from a callable, ``score(architecture)`` or ``predict(architectures)``."""
    if hasattr(scorer, "predict"):
        values = scorer.predict(list(architectures))
    elif callable(scorer):
        values = [scorer(a) for a in architectures]
    elif hasattr(scorer, "score"):
        values = [scorer.score(a) for a in architectures]
    else:
        raise TypeError(
            f"the {what} must be a callable architecture -> score, or have score(architecture) or "
            f"predict(architectures); got {type(scorer).__name__}."
        )
    values = np.array([math.nan if v is None else v for v in values], dtype=float)
    if values.shape != (len(architectures),):
        raise ValueError(f"the {what} gave scores of shape {values.shape} for {len(architectures)} architectures.")
    return values


def _check_metric(metric):
    if metric not in _METRICS:
        raise ValueError(f"the reference metric must be one of {_METRICS}; got {metric!r}.")


def _check_count(n, when=""):
    if n < 3:
        raise ValueError(f"rank correlation needs at least 3 architectures{' ' + when if when else ''}; got {n}.")


def _check_top_k(k, n):
    if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= n:
        raise ValueError(f"top_k must be an integer from 1 to the {n} architectures measured; got {k!r}.")
    return int(k)
