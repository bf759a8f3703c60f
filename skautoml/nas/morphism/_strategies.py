"""Searches that grow trained networks by morphisms: hill climbing (NASH) and Bayesian optimisation (Auto-Keras).

Unlike ask/tell strategies, these own their loop: a child is trained from
its parent's weights, so a proposal is a (trained parent, morphisms) pair
rather than an architecture alone.
"""
import copy
import math
import time
from dataclasses import dataclass

import numpy as np
import torch
from joblib import Parallel, cpu_count, delayed, effective_n_jobs
from sklearn.utils import check_random_state
from tqdm.auto import tqdm

from ..._utils._random import SEED_MAX, torch_seeded
from .._search import trial_seed
from ..evaluate._evaluator import TrialResult, _subsample, count_flops, failure_text
from ..strategy._base import Strategy
from ..strategy._bayesian import expected_improvement
from ._transforms import apply_morphism

# Inputs used to set the statistics of an inserted batch norm (see net2deeper).
_STATS_SAMPLES = 256


@dataclass(frozen=True)
class MorphismTrialResult(TrialResult):
    """A :class:`~skautoml.nas.TrialResult` that also says where the network came from.

    Attributes
    ----------
    parent : int or None
        Index of the trial whose trained network was morphed; None for a
        network trained from scratch.
    morphisms : tuple of Morphism
        The steps applied to the parent, in order.
    initial_valid_loss : float
        Validation loss before training: for a child, equal to its parent's
        ``valid_loss`` (the morphisms preserve the function); NaN if the
        trial failed first.
    valid_loss : float
        Validation loss of the weights kept after training (those of the
        epoch with the lowest validation loss under early stopping), whose
        validation accuracy is the ``score``.
    """

    parent: int | None = None
    morphisms: tuple = ()
    initial_valid_loss: float = math.nan
    valid_loss: float = math.nan


@dataclass(frozen=True)
class _Job:
    parent: int | None
    morphisms: tuple
    architecture: object


def _validate(module, X, y, batch_size):
    """Mean cross-entropy and accuracy of ``module`` on ``X, y`` in evaluation mode."""
    was_training = module.training
    module.eval()
    loss = correct = 0.0
    try:
        with torch.no_grad():
            for start in range(0, len(X), batch_size):
                logits, target = module(X[start : start + batch_size]), y[start : start + batch_size]
                loss += float(torch.nn.functional.cross_entropy(logits, target, reduction="sum"))
                correct += int((logits.argmax(dim=1) == target).sum())
    finally:
        module.train(was_training)
    return loss / max(len(X), 1), correct / max(len(X), 1)


def _run_trial(evaluator, job, parent_module, data, fidelity, seed, deadline, n_threads, noise):
    """Morph ``parent_module`` (or build the root), train and score it; never raises.

    Returns the result and the trained module on the CPU (None if the trial failed).
    """
    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    started = time.perf_counter()
    n_params = flops = 0
    initial_loss = math.nan
    common = {"parent": job.parent, "morphisms": job.morphisms, "seed": seed}
    try:
        # A fork of torch's generators: the trial is reproducible and the caller's state untouched.
        with torch_seeded(seed, evaluator.device):
            X_train, y_train, X_valid, y_valid = data
            X_train, y_train = _subsample(X_train, y_train, fidelity.data_fraction, seed)
            if parent_module is None:
                module = evaluator.build_module(job.architecture, X_train)
            else:
                rng = np.random.default_rng(seed)
                sample = X_train[np.sort(rng.permutation(len(X_train))[:_STATS_SAMPLES])]
                module, reached = apply_morphism(parent_module, job.morphisms, rng, noise, X=sample)
                if reached != job.architecture:
                    raise RuntimeError(f"the morphisms reached {reached}, not {job.architecture}")
            n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
            flops = count_flops(module, evaluator.input_shape)
            valid_data = evaluator._to_device(X_valid, y_valid)
            module.to(evaluator.device)
            initial_loss = _validate(module, *valid_data, evaluator.batch_size)[0]
            net = evaluator.make_net(module, fidelity.max_epochs, valid_data, deadline)
            net.fit(*evaluator._to_device(X_train, y_train))
            # Score the weights kept (children start from them), not an epoch of the history.
            valid_loss, score = _validate(net.module_, *valid_data, evaluator.batch_size)
            # Early stopping keeps its best epoch's weights; without it the last epoch's are kept.
            kept = int(np.argmin(net.history[:, "valid_loss"])) + 1 if evaluator.patience is not None else len(net.history)
            result = MorphismTrialResult(
                job.architecture,
                score=score,
                status="ok",
                curve=tuple(float(row.get("valid_acc", math.nan)) for row in net.history),
                n_params=n_params,
                flops=flops,
                train_seconds=time.perf_counter() - started,
                epochs=len(net.history),
                best_epoch=kept,
                initial_valid_loss=initial_loss,
                valid_loss=valid_loss,
                **common,
            )
            # Kept networks wait on the CPU: device memory holds only the ones training.
            return result, net.module_.cpu()
    except Exception as exc:  # noqa: BLE001 - a bad child must not end the search
        result = MorphismTrialResult(
            job.architecture,
            score=math.nan,
            status="failed",
            error=failure_text(exc),
            n_params=n_params,
            flops=flops,
            train_seconds=time.perf_counter() - started,
            initial_valid_loss=initial_loss,
            **common,
        )
        return result, None
    finally:
        torch.set_num_threads(previous)


class _Trials:
    """Runs jobs in rounds under the budget; holds the results and the kept networks."""

    def __init__(
        self, strategy, evaluator, data, fidelity, budget, base_seed, parallel, n_workers, refit_seconds, progress
    ):
        self.strategy = strategy
        self.evaluator = evaluator
        self.data = data
        self.fidelity = fidelity
        self.budget = budget
        self.base_seed = base_seed
        self.parallel = parallel
        self.n_workers = n_workers
        self.n_threads = max(1, cpu_count() // n_workers) if n_workers > 1 else None
        self.refit_seconds = refit_seconds
        self.progress = progress
        self.results = []
        self.modules = {}  # trial index -> trained network (CPU)

    def _reserved(self):
        return self.refit_seconds(self.results) if self.refit_seconds is not None else 0.0

    def capacity(self):
        """How many trials the next round may start (0: the budget is spent)."""
        longest = max((r.train_seconds for r in self.results), default=0.0)
        if not self.budget.may_start(len(self.results), longest, self._reserved()):
            return 0
        return min(self.n_workers, self.budget.remaining_trials(len(self.results)))

    def run_round(self, jobs):
        """Run ``jobs`` (at most :meth:`capacity`) in parallel; returns their trial indices."""
        first = len(self.results)
        seeds = [trial_seed(self.base_seed, first + i) for i in range(len(jobs))]
        reserved = self._reserved()
        deadline = None if self.budget.deadline is None else self.budget.deadline - reserved
        outputs = self.parallel(
            delayed(_run_trial)(
                self.evaluator,
                job,
                None if job.parent is None else self.modules[job.parent],
                self.data,
                self.fidelity,
                seed,
                deadline,
                self.n_threads,
                self.strategy.noise,
            )
            for job, seed in zip(jobs, seeds)
        )
        for index, (result, module) in enumerate(outputs, start=first):
            self.results.append(result)
            if module is not None:
                self.modules[index] = module
        scores = [r.score for r in self.results if r.ok]
        self.progress.set_postfix(best=f"{max(scores):.4f}" if scores else "-", refresh=False)
        self.progress.update(len(jobs))
        return list(range(first, len(self.results)))

    def keep(self, indices):
        """Forget the trained networks of every trial not in ``indices``."""
        indices = set(indices)
        self.modules = {i: m for i, m in self.modules.items() if i in indices}

    def ranked(self):
        """Indices of successful trials whose network is kept, best score first (earlier on ties)."""
        return sorted(self.modules, key=lambda i: (-self.results[i].score, i))


class MorphismStrategy:
    """What morphism searches share: settings, the trial loop, and the refit of the best network.

    Subclasses implement ``_search(trials)``, which proposes jobs and runs
    them through ``trials.run_round`` while ``trials.capacity()`` allows.

    Use: ``strategy.reset(space, random_state)``, then
    ``strategy.search(evaluator, data, fidelity, budget, base_seed)``; after
    it, ``fit_final`` trains the best network further on all the data.
    """

    _positive_ints = ()

    # Settings handling is the same as for ask/tell strategies.
    get_params = Strategy.get_params
    set_params = Strategy.set_params
    __repr__ = Strategy.__repr__

    def reset(self, space, random_state=None):
        """Bind to a :class:`MorphismSpace` and start afresh; returns ``self``."""
        if not all(hasattr(space, name) for name in ("morphisms", "random_morphism", "smallest")):
            raise ValueError(
                f"{type(self).__name__} grows networks by morphisms and needs a MorphismSpace; got "
                f"{type(space).__name__}. Use search_space='morphism' or a MorphismSpace instance."
            )
        for name in ("max_morphisms",) + self._positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if not (isinstance(self.noise, (int, float)) and self.noise >= 0):
            raise ValueError(f"noise must be a float >= 0, got {self.noise!r}.")
        if self.initial is not None and not space.contains(self.initial):
            raise ValueError(f"initial={self.initial} is not an architecture of {space}.")
        self.space = space
        seed = check_random_state(random_state).randint(SEED_MAX)
        self._rng = np.random.default_rng(seed)
        return self

    def search(
        self,
        evaluator,
        data,
        fidelity,
        budget,
        base_seed=0,
        *,
        n_jobs=None,
        refit_seconds=None,
        verbose=0,
        description="NAS",
    ):
        """Train a root network and then morphed children until the budget is spent.

        The arguments are those of :func:`skautoml.nas._search.run_search`
        without the strategy; ``evaluator.space`` must be the space of
        :meth:`reset`. Children of one round train in parallel through
        joblib (``n_jobs``). The evaluator's trial-stopping rule, if any, is
        not used: a child's learning curve starts where its parent's ended,
        so the curves of different trials are not comparable.

        Returns
        -------
        list of MorphismTrialResult
            In trial order; failed trials included.
        """
        if not hasattr(self, "_rng"):
            raise RuntimeError(f"call {type(self).__name__}.reset(space, random_state) before search().")
        if evaluator.space != self.space:
            raise ValueError(
                f"The evaluator builds networks of {evaluator.space}, but {type(self).__name__} "
                f"was reset with {self.space}; they must be the same space."
            )
        if getattr(evaluator, "stopping_rule", None) is not None:
            # A child's learning curve starts where its parent's ended: curves of
            # different trials are not comparable, so no rule stops trials here.
            evaluator = copy.copy(evaluator)
            evaluator.stopping_rule = None
        n_workers = effective_n_jobs(n_jobs)
        progress = tqdm(total=budget.max_trials, unit="trial", desc=description, disable=not verbose, leave=True)
        with Parallel(n_jobs=n_jobs) as parallel:
            trials = _Trials(
                self, evaluator, data, fidelity, budget, base_seed, parallel, n_workers, refit_seconds, progress
            )
            self._search(trials)
        progress.close()
        self.evaluator_ = evaluator
        self.results_ = trials.results
        ranked = trials.ranked()
        self.best_index_ = ranked[0] if ranked else None
        self.best_module_ = trials.modules[ranked[0]] if ranked else None
        return trials.results

    def _root(self):
        return _Job(None, (), self.space.smallest() if self.initial is None else self.initial)

    def _random_child(self, parent_index, architecture):
        """A job applying 1 to ``max_morphisms`` random morphisms to trial ``parent_index``; None if none is left."""
        steps = []
        for _ in range(int(self._rng.integers(1, self.max_morphisms + 1))):
            step = self.space.random_morphism(architecture, self._rng)
            if step is None:
                break
            steps.append(step)
            architecture = step.apply_to(architecture)
        return _Job(parent_index, tuple(steps), architecture) if steps else None

    def fit_final(self, architecture, X, y, epochs, schedule_epochs, seed, deadline=None, verbose=0):
        """Train the network of the best trial further on all of ``X, y``; returns the fitted skorch net.

        Same arguments as :meth:`skautoml.nas.Evaluator.fit_final`. The
        network starts from the weights the search trained (the schedule
        restarts, as in SGDR); an ``architecture`` other than the best trial's
        is trained from scratch by the evaluator.
        """
        if getattr(self, "best_module_", None) is None:
            raise RuntimeError(f"{type(self).__name__}.fit_final needs a search with a successful trial first.")
        if architecture != self.results_[self.best_index_].architecture:
            return self.evaluator_.fit_final(architecture, X, y, epochs, schedule_epochs, seed, deadline, verbose)
        with torch_seeded(seed, self.evaluator_.device):
            module = copy.deepcopy(self.best_module_)
            net = self.evaluator_.make_net(module, schedule_epochs, None, deadline, verbose=verbose)
            net.set_params(max_epochs=epochs)
            net.fit(*self.evaluator_._to_device(X, y))
        # The fitted net outlives the search: later training must not stop at its deadline.
        return net.set_params(callbacks__deadline__deadline=None)


class MorphismHillClimbing(MorphismStrategy):
    """Hill climbing by network morphisms (Elsken et al., 2017, "NASH").

    The first trial trains the root network (``initial``, by default the
    space's smallest) from scratch. Each generation then makes
    ``n_neighbours`` children of the current network, each by 1 to
    ``max_morphisms`` random function-preserving morphisms, and trains them
    starting from the current network's weights (``fidelity.max_epochs``
    epochs each). The best child becomes the current network when it scores
    higher; otherwise the current network stays and the next generation
    draws new children from it. The search ends when the budget is spent or
    the current network can grow no further within the space.

    Parameters
    ----------
    n_neighbours : int, default=8
        Children per generation.
    max_morphisms : int, default=3
        Most morphisms applied to make one child.
    noise : float, default=0.05
        Symmetry-breaking noise of Net2Wider, relative to the outgoing
        weights' standard deviation; it keeps the function (see
        :func:`~skautoml.nas.morphism.net2wider`).
    initial : MorphArchitecture or None, default=None
        The root; None starts from ``space.smallest()``.

    Attributes
    ----------
    results_ : list of MorphismTrialResult
    best_index_ : int or None
    best_module_ : nn.Module
        The trained network of the best trial.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml.nas import Budget, Evaluator, Fidelity
    >>> from skautoml.nas.morphism import MorphismHillClimbing, MorphismSpace
    >>> X, y = load_iris(return_X_y=True)
    >>> data = (X[::2], y[::2], X[1::2], y[1::2])
    >>> space = MorphismSpace(kind="mlp", widths=(4, 8))
    >>> strategy = MorphismHillClimbing(n_neighbours=2).reset(space, random_state=0)
    >>> results = strategy.search(Evaluator(space, (4,), 3), data, Fidelity(2), Budget(max_trials=3).start())
    >>> [r.parent for r in results]
    [None, 0, 0]
    """

    _positive_ints = ("n_neighbours",)

    def __init__(self, n_neighbours=8, max_morphisms=3, noise=0.05, initial=None):
        self.n_neighbours = n_neighbours
        self.max_morphisms = max_morphisms
        self.noise = noise
        self.initial = initial

    def _children(self, trials, current):
        if current is None:
            return [self._root()]
        architecture = trials.results[current].architecture
        children, made = [], set()
        for _ in range(self.n_neighbours):
            child = None
            for _ in range(10):  # prefer architectures not yet in this generation
                child = self._random_child(current, architecture)
                if child is None or child.architecture not in made:
                    break
            if child is None:
                return []
            made.add(child.architecture)
            children.append(child)
        return children

    def _search(self, trials):
        current, generation, pending = None, [], []
        while n_round := trials.capacity():
            if not pending:
                current = self._select(trials, current, generation)
                generation = []
                pending = self._children(trials, current)
                if not pending:
                    break  # the current network is as large as the space allows
            batch, pending = pending[:n_round], pending[n_round:]
            generation += trials.run_round(batch)
        self._select(trials, current, generation)

    def _select(self, trials, current, generation):
        """The better of the current network and the best of its generation; keeps only its network."""
        candidates = ([current] if current is not None else []) + [i for i in generation if i in trials.modules]
        best = max(candidates, key=lambda i: trials.results[i].score, default=None)
        trials.keep([] if best is None else [best])
        return best


class MorphismBayesian(MorphismStrategy):
    """Bayesian optimisation over morphisms of trained networks, after Auto-Keras (Jin et al., 2019).

    A pool holds the ``n_parents`` best trained networks. Each proposal makes
    ``n_candidates`` children of pool members (1 to ``max_morphisms`` random
    morphisms each, architectures not tried yet) and trains the one with the
    highest expected improvement under a Gaussian process fitted to
    ``space.encode(architecture) -> score`` of the trials so far, starting
    from its parent's weights. The first ``n_initial`` trials (the root
    included) take random children. The search ends when the budget is spent
    or no untried child turns up among the candidates.

    Auto-Keras's Gaussian process compares networks by an edit distance and
    optimises its acquisition by simulated annealing over the tree of
    morphisms; here the process is scikit-optimize's Matern kernel over the
    fixed-length encodings (as in :class:`~skautoml.nas.BayesianOptimization`)
    and the acquisition is maximised over the sampled children. Parallel
    rounds train the top candidates of one surrogate fit.

    Parameters
    ----------
    n_initial : int, default=4
    n_candidates : int, default=100
    n_parents : int, default=5
        Trained networks kept as parents.
    max_morphisms : int, default=3
    xi : float, default=0.01
        Exploration margin of expected improvement (in units of the score).
    noise : float, default=0.05
        Symmetry-breaking noise of Net2Wider (see :class:`MorphismHillClimbing`).
    initial : MorphArchitecture or None, default=None

    Attributes
    ----------
    results_ : list of MorphismTrialResult
    best_index_ : int or None
    best_module_ : nn.Module

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml.nas import Budget, Evaluator, Fidelity
    >>> from skautoml.nas.morphism import MorphismBayesian, MorphismSpace
    >>> X, y = load_iris(return_X_y=True)
    >>> data = (X[::2], y[::2], X[1::2], y[1::2])
    >>> space = MorphismSpace(kind="mlp", widths=(4, 8))
    >>> strategy = MorphismBayesian(n_initial=2, n_candidates=10).reset(space, random_state=0)
    >>> results = strategy.search(Evaluator(space, (4,), 3), data, Fidelity(2), Budget(max_trials=3).start())
    >>> len(results), results[0].parent
    (3, None)
    """

    _positive_ints = ("n_initial", "n_candidates", "n_parents")

    def __init__(self, n_initial=4, n_candidates=100, n_parents=5, max_morphisms=3, xi=0.01, noise=0.05, initial=None):
        self.n_initial = n_initial
        self.n_candidates = n_candidates
        self.n_parents = n_parents
        self.max_morphisms = max_morphisms
        self.xi = xi
        self.noise = noise
        self.initial = initial

    def _search(self, trials):
        while n_round := trials.capacity():
            parents = trials.ranked()[: self.n_parents]
            trials.keep(parents)
            if not parents:
                jobs = [self._root()]
            else:
                jobs = self._propose(trials, parents, n_round)
                if not jobs:
                    break  # every network in the pool is as large as the space allows
            trials.run_round(jobs)
        trials.keep(trials.ranked()[:1])

    def _propose(self, trials, parents, n_round):
        seen = {r.architecture for r in trials.results}
        candidates = {}
        for _ in range(self.n_candidates):
            parent = parents[int(self._rng.integers(len(parents)))]
            child = self._random_child(parent, trials.results[parent].architecture)
            if child is not None and child.architecture not in seen:
                candidates.setdefault(child.architecture, child)
        candidates = list(candidates.values())
        scored = [r for r in trials.results if r.ok]
        if len(scored) < self.n_initial or len({r.score for r in scored}) < 2 or len(candidates) <= n_round:
            return candidates[:n_round]
        improvement = self._expected_improvement(scored, [c.architecture for c in candidates])
        order = np.argsort(-improvement, kind="stable")[:n_round]
        return [candidates[i] for i in order]

    def _expected_improvement(self, scored, architectures):
        seed = int(self._rng.integers(SEED_MAX))
        return expected_improvement(
            self.space, [(r.architecture, r.score) for r in scored], architectures, "gp", self.xi, seed
        )
