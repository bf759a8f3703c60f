"""Searches that grow trained networks by morphisms: hill climbing (NASH) and Bayesian optimisation (Auto-Keras).

They are ask/tell strategies of the one search loop (:func:`~skautoml.search.run_search`):
a proposal carries a warm start, :class:`MorphedParent` (a trained parent
network and the morphisms to apply to it), and asks for the trained network
back (``keep_model``), which the strategy keeps while it may still be a
parent. The refit trains the best network further
(:meth:`MorphismStrategy.final_warm_start`).
"""
import copy
import dataclasses

import numpy as np

from ..._utils._random import SEED_MAX
from ...search import Proposal, Strategy, expected_improvement
from ._transforms import apply_morphism

# Inputs used to set the statistics of an inserted batch norm (see net2deeper).
_STATS_SAMPLES = 256


class MorphedParent:
    """A warm start: the trained network of trial ``parent`` with ``morphisms`` applied.

    The evaluator calls :meth:`build` instead of building the architecture
    from scratch. The morphisms preserve the function, so the child starts
    where its parent stopped.

    Parameters
    ----------
    module : nn.Module
        The parent's trained network (left unchanged).
    morphisms : tuple of Morphism
        Steps to apply, in order; none gives a copy of the parent.
    architecture : MorphArchitecture
        What the steps must reach.
    noise : float
        Symmetry-breaking noise of Net2Wider (see :func:`~skautoml.nas.morphism.net2wider`).
    """

    def __init__(self, module, morphisms, architecture, noise):
        self.module = module
        self.morphisms = tuple(morphisms)
        self.architecture = architecture
        self.noise = noise

    def build(self, evaluator, X_train, seed):
        """The child network; ``X_train`` sets the statistics of inserted batch norms."""
        if not self.morphisms:
            return copy.deepcopy(self.module)
        rng = np.random.default_rng(seed)
        sample = X_train[np.sort(rng.permutation(len(X_train))[:_STATS_SAMPLES])]
        module, reached = apply_morphism(self.module, self.morphisms, rng, self.noise, X=sample)
        if reached != self.architecture:
            raise RuntimeError(f"the morphisms reached {reached}, not {self.architecture}")
        return module


class MorphismStrategy(Strategy):
    """What morphism searches share: settings, the kept networks, and the refit of the best one.

    Subclasses implement ``ask(n)`` from the trials told so far
    (``self.results``, in trial order) and the networks kept
    (``self.modules``: trial index -> trained network), using
    :meth:`_root` and :meth:`_random_child` to make proposals, and
    :meth:`_keep` to forget the networks that can no longer be parents.
    A trial's network is kept when it succeeds.

    **Hard limits** (the strategy reset with a ``FeasibleSpace``): the root
    must be within them (a ``ValueError`` at ``reset`` otherwise: a
    morphism only grows a network, so nothing would be). A child is built
    one morphism at a time, each drawn from the morphisms whose result is
    within the limits (every one priced before the draw; those over a
    limit are never candidates, so nothing is refused or recorded); so no
    child is over a limit, and a network that cannot grow within the
    limits has no children.
    """

    _positive_ints = ()
    refits_trained_model = True

    def reset(self, space, random_state=None):
        """Bind to a :class:`MorphismSpace` and start afresh; returns ``self``."""
        if not all(hasattr(space, name) for name in ("morphisms", "random_morphism", "smallest")):
            raise ValueError(
                f"{type(self).__name__} grows networks by morphisms and needs a MorphismSpace; got "
                f"{type(space).__name__}. Use search_space='morphism' or a MorphismSpace instance."
            )
        self._check_positive_ints("max_morphisms", *self._positive_ints)
        if not (isinstance(self.noise, (int, float)) and self.noise >= 0):
            raise ValueError(f"noise must be a float >= 0, got {self.noise!r}.")
        if self.initial is not None and not space.contains(self.initial):
            raise ValueError(f"initial={self.initial} is not an architecture of {space}.")
        limits = getattr(space, "limits", None)  # a FeasibleSpace under max_params, max_flops, max_latency_ms
        self._limits = limits if limits is not None and limits.active else None
        root = self._root_architecture(space)
        reason = None if self._limits is None else self._limits.reason(root)
        if reason is not None:
            raise ValueError(
                f"{type(self).__name__} grows every network from {root}, which is over the limits ({reason}); "
                "morphisms only add to a network, so none would be within them. Raise the limits, or pass a "
                "smaller initial architecture."
            )
        super().reset(space, random_state)
        self.results, self.modules, self.steps = [], {}, {}
        return self

    def tell(self, candidate, result):
        """Record the result and keep its trained network (``result.model``) when it succeeded."""
        super().tell(candidate, result)
        index = len(self.results)
        if result.ok and result.model is not None:
            self.modules[index] = result.model
        warm_start = getattr(candidate, "warm_start", None)
        self.steps[index] = () if warm_start is None else warm_start.morphisms
        # The network lives in ``modules`` while it may be a parent; results do not hold it.
        self.results.append(dataclasses.replace(result, model=None))

    def _keep(self, indices):
        """Forget the trained networks of every trial not in ``indices``."""
        indices = set(indices)
        self.modules = {i: m for i, m in self.modules.items() if i in indices}

    def _ranked(self):
        """Indices of successful trials whose network is kept, best score first (earlier on ties)."""
        return sorted(self.modules, key=lambda i: (-self.results[i].score, i))

    def _root(self):
        """The first trial: ``initial`` or the space's smallest network, trained from scratch."""
        return Proposal(self._root_architecture(self.space), keep_model=True)

    def _root_architecture(self, space):
        return space.smallest() if self.initial is None else self.initial

    def _random_child(self, parent_index, architecture):
        """A proposal applying 1 to ``max_morphisms`` random morphisms to trial ``parent_index``; None if none is left."""
        steps = []
        for _ in range(int(self._rng.integers(1, self.max_morphisms + 1))):
            step = self._random_morphism(architecture)
            if step is None:
                break
            steps.append(step)
            architecture = step.apply_to(architecture)
        if not steps:
            return None
        warm_start = MorphedParent(self.modules[parent_index], steps, architecture, self.noise)
        return Proposal(architecture, parent=parent_index, warm_start=warm_start, keep_model=True)

    def _random_morphism(self, architecture):
        """A random morphism of ``architecture`` whose result is within the limits; None if there is none."""
        if self._limits is None:
            return self.space.random_morphism(architecture, self._rng)

        def within(step):
            return self._limits.reason(step.apply_to(architecture)) is None

        return self.space.random_morphism(architecture, self._rng, allowed=within)

    def final_warm_start(self, architecture):
        """The best kept network of ``architecture``, to train further in the refit (None: train from scratch)."""
        for index in self._ranked():
            if self.results[index].architecture == architecture:
                return MorphedParent(self.modules[index], (), architecture, self.noise)
        return None

    def _ask_one(self):
        raise NotImplementedError  # ask is overridden: proposals depend on the whole round


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
    results : list of TrialResult
        The trials told so far, in trial order (``parent`` says which trial
        a child grew from).
    steps : dict of int to tuple of Morphism
        The morphisms that made each trial's network from its parent's
        (empty for a network trained from scratch).
    modules : dict of int to nn.Module
        The trained networks kept: the current network and the children of
        the generation in progress.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml.nas import Budget, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.morphism import MorphismHillClimbing, MorphismSpace
    >>> X, y = load_iris(return_X_y=True)
    >>> data = (X[::2], y[::2], X[1::2], y[1::2])
    >>> space = MorphismSpace(kind="mlp", widths=(4, 8))
    >>> strategy = MorphismHillClimbing(n_neighbours=2).reset(space, random_state=0)
    >>> evaluator = Evaluator(space, (4,), 3)
    >>> results = run_search(strategy, evaluator, data, Fidelity(2), Budget(max_trials=3).start(), base_seed=0)
    >>> [r.parent for r in results]
    [None, 0, 0]
    """

    _positive_ints = ("n_neighbours",)

    def __init__(self, n_neighbours=8, max_morphisms=3, noise=0.05, initial=None):
        self.n_neighbours = n_neighbours
        self.max_morphisms = max_morphisms
        self.noise = noise
        self.initial = initial

    def reset(self, space, random_state=None):
        super().reset(space, random_state)
        self._current, self._generation_start, self._pending = None, 0, []
        return self

    def ask(self, n=None):
        """The next children of the current network (the root first); none once it cannot grow."""
        self._check_reset(n)
        if not self._pending:
            generation = range(self._generation_start, len(self.results))
            self._current = self._select(self._current, generation)
            self._generation_start = len(self.results)
            self._pending = self._children(self._current)
        count = 1 if n is None else n
        batch, self._pending = self._pending[:count], self._pending[count:]
        if n is None:
            return batch[0] if batch else None
        return batch

    def _children(self, current):
        if current is None:
            return [self._root()]
        architecture = self.results[current].architecture
        children, made = [], set()
        for _ in range(self.n_neighbours):
            child = None
            for _ in range(10):  # prefer architectures not yet in this generation
                child = self._random_child(current, architecture)
                if child is None or child.architecture not in made:
                    break
            if child is None:
                return []  # the current network is as large as the space allows
            made.add(child.architecture)
            children.append(child)
        return children

    def _select(self, current, generation):
        """The better of the current network and the best of its generation; keeps only its network."""
        candidates = ([current] if current is not None else []) + [i for i in generation if i in self.modules]
        best = max(candidates, key=lambda i: self.results[i].score, default=None)
        self._keep([] if best is None else [best])
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
    results : list of TrialResult
    steps : dict of int to tuple of Morphism
    modules : dict of int to nn.Module
        The trained networks of the pool of parents.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml.nas import Budget, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.morphism import MorphismBayesian, MorphismSpace
    >>> X, y = load_iris(return_X_y=True)
    >>> data = (X[::2], y[::2], X[1::2], y[1::2])
    >>> space = MorphismSpace(kind="mlp", widths=(4, 8))
    >>> strategy = MorphismBayesian(n_initial=2, n_candidates=10).reset(space, random_state=0)
    >>> evaluator = Evaluator(space, (4,), 3)
    >>> results = run_search(strategy, evaluator, data, Fidelity(2), Budget(max_trials=3).start(), base_seed=0)
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

    def ask(self, n=None):
        """The children of highest expected improvement (the root first); none once no untried child turns up."""
        self._check_reset(n)
        parents = self._ranked()[: self.n_parents]
        self._keep(parents)
        if not parents:
            batch = [self._root()]
        else:
            batch = self._propose(parents, 1 if n is None else n)
        if n is None:
            return batch[0] if batch else None
        return batch

    def _propose(self, parents, n_round):
        seen = {r.architecture for r in self.results}
        candidates = {}
        for _ in range(self.n_candidates):
            parent = parents[int(self._rng.integers(len(parents)))]
            child = self._random_child(parent, self.results[parent].architecture)
            if child is not None and child.architecture not in seen:
                candidates.setdefault(child.architecture, child)
        candidates = list(candidates.values())
        scored = [r for r in self.results if r.ok]
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
