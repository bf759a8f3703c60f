"""Searched augmentation policies (the AutoAugment family) on skautoml's search machinery.

A policy is a value of :class:`PolicySpace`, so the strategies of
:mod:`skautoml.search` (random search, regularised evolution, Bayesian
optimisation on scikit-optimize) search policies as they search
architectures, under the same :class:`~skautoml.nas.Budget` and through the
same joblib loop. A policy's score is the validation accuracy of a short proxy
training of a small fixed CNN with the policy applied to every training batch.
"""
import copy
import dataclasses
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from ..._utils._random import SEED_MAX
from ..._utils._compat import HasMethods, Interval, StrOptions, _fit_context
from ..._utils._device import resolve_device
from ..._utils._validation import validate_network_input
from ...nas import CNNArchitecture, CNNLayer, CNNSpace, Evaluator
from ...search import (
    STRATEGIES,
    Budget,
    Fidelity,
    SearchSpace,
    choose,
    choose_other,
    one_hot,
    resolve_strategy,
    run_search,
)
from ._batch import BatchAugment
from ._image import DEFAULT_POLICY_OPS, _as_batch, _check_generator, _check_value_range, _ImageOp, _rand, _range, _restore

__all__ = ["AugmentPolicy", "AugmentPolicySearch", "PolicyOp", "PolicySpace"]


@dataclass(frozen=True)
class PolicyOp:
    """One op of a sub-policy: the op's class name, its magnitude and its probability."""

    op: str
    magnitude: float
    probability: float

    def __str__(self):
        return f"{self.op}(m={self.magnitude:.1f}, p={self.probability:.1f})"


class AugmentPolicy:
    """An AutoAugment-style policy: each image gets one sub-policy, drawn uniformly.

    A sub-policy is a sequence of ops, each applied with its own probability
    and magnitude, one after the other. An empty policy leaves images as they
    are. Images that share a sub-policy and an op are processed in one
    batched call.

    Parameters
    ----------
    sub_policies : sequence of sequences of ops
        Each op an instance such as ``Rotate(magnitude=0.3, probability=0.8)``.
    value_range : (float, float) or None, default=None
        Range of the output; ``None`` uses the input batch's minimum and maximum.

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import AugmentPolicy, Cutout, Rotate, Translate
    >>> policy = AugmentPolicy([[Rotate(0.3, 0.8), Cutout(0.5, 0.4)], [Translate(0.6, 1.0)]])
    >>> policy(torch.rand(16, 1, 8, 8), torch.Generator().manual_seed(0)).shape
    torch.Size([16, 1, 8, 8])
    """

    def __init__(self, sub_policies, value_range=None):
        sub_policies = tuple(tuple(sub) for sub in sub_policies)
        if not all(isinstance(op, _ImageOp) for sub in sub_policies for op in sub):
            raise ValueError(
                "sub_policies must be a list of lists of op instances from skautoml.prep.augment, "
                f"e.g. [[Rotate(0.3, 0.8), Cutout(0.5, 0.4)]]; got {sub_policies!r}."
            )
        self.sub_policies = sub_policies
        self.value_range = _check_value_range(value_range)

    def __repr__(self):
        subs = ", ".join("[" + ", ".join(map(repr, sub)) + "]" for sub in self.sub_policies)
        return f"AugmentPolicy([{subs}])"

    def __call__(self, images, generator):
        """Augment a batch (same shape, dtype and device; ``images`` is not modified)."""
        _check_generator(generator)
        x, info = _as_batch(images)
        lo, hi = _range(x, self.value_range)
        out = x.clone()
        if self.sub_policies:
            n, k = x.shape[0], len(self.sub_policies)
            choice = torch.floor(_rand((n,), generator, x) * k).long().clamp_max(k - 1)
            for index, sub in enumerate(self.sub_policies):
                members = torch.nonzero(choice == index).flatten()
                for op in sub:
                    apply = _rand((members.numel(),), generator, x) < op.probability
                    chosen = members[apply]
                    if chosen.numel():
                        magnitude = torch.full((chosen.numel(),), op.magnitude, dtype=x.dtype, device=x.device)
                        res = op._apply(out[chosen], magnitude, lo, hi, generator)
                        out[chosen] = torch.maximum(torch.minimum(res, hi), lo)
        return _restore(out, info, lo, hi)


class PolicySpace(SearchSpace):
    """Augmentation policies as a search space: sub-policies of (op, magnitude, probability).

    A value is a tuple of ``n_sub_policies`` tuples of ``ops_per_sub_policy``
    :class:`PolicyOp`; magnitudes and probabilities take ``levels`` evenly
    spaced values in [0, 1] (AutoAugment uses 10 and 11). :meth:`build`
    returns the :class:`AugmentPolicy` of a value (``input_shape`` and
    ``n_outputs`` are not used). Every strategy of :mod:`skautoml.search`
    searches it.

    Parameters
    ----------
    n_sub_policies : int, default=5
    ops_per_sub_policy : int, default=2
    ops : tuple of op classes or None, default=None
        ``None`` is the default of :class:`RandAugment` (no flips or channel shuffles).
    levels : int, default=11
        Values of magnitudes and probabilities: 0, 1/(levels-1), ..., 1.

    Examples
    --------
    >>> import numpy as np
    >>> from skautoml.prep.augment import PolicySpace
    >>> space = PolicySpace(n_sub_policies=2)
    >>> policy = space.build(space.sample(np.random.default_rng(0)))
    >>> len(policy.sub_policies)
    2
    """

    takes_images = True

    def __init__(self, n_sub_policies=5, ops_per_sub_policy=2, ops=None, levels=11):
        self.n_sub_policies = n_sub_policies
        self.ops_per_sub_policy = ops_per_sub_policy
        self.ops = ops
        self.levels = levels

    def _op_classes(self):
        ops = DEFAULT_POLICY_OPS if self.ops is None else tuple(self.ops)
        if not ops or not all(isinstance(op, type) and issubclass(op, _ImageOp) for op in ops):
            raise ValueError(f"ops must be None or a non-empty list of op classes, got {self.ops!r}.")
        return {op.__name__: op for op in ops}

    def _values(self):
        for name in ("n_sub_policies", "ops_per_sub_policy"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if isinstance(self.levels, bool) or not isinstance(self.levels, Integral) or self.levels < 2:
            raise ValueError(f"levels must be an integer >= 2, got {self.levels!r}.")
        return tuple(round(i / (self.levels - 1), 6) for i in range(self.levels))

    def sample(self, rng):
        names, values = tuple(self._op_classes()), self._values()
        return tuple(
            tuple(
                PolicyOp(choose(rng, names), choose(rng, values), choose(rng, values))
                for _ in range(self.ops_per_sub_policy)
            )
            for _ in range(self.n_sub_policies)
        )

    def mutate(self, policy, rng):
        names, values = tuple(self._op_classes()), self._values()
        subs = [list(sub) for sub in policy]
        i, j = int(rng.integers(len(subs))), int(rng.integers(len(subs[0])))
        op = subs[i][j]
        field = ("op", "magnitude", "probability")[int(rng.integers(3))]
        options = names if field == "op" else values
        subs[i][j] = dataclasses.replace(op, **{field: choose_other(rng, options, getattr(op, field))})
        return tuple(tuple(sub) for sub in subs)

    def encode(self, policy):
        names = tuple(self._op_classes())
        return np.concatenate(
            [np.r_[one_hot(op.op, names), op.magnitude, op.probability] for sub in policy for op in sub]
        )

    def build(self, policy, input_shape=None, n_outputs=None):
        classes = self._op_classes()
        return AugmentPolicy(
            [[classes[op.op](op.magnitude, op.probability) for op in sub] for sub in policy]
        )

    def size(self):
        per_op = len(self._op_classes()) * len(self._values()) ** 2
        return per_op ** (self.n_sub_policies * self.ops_per_sub_policy)

    def contains(self, policy):
        names, values = set(self._op_classes()), set(self._values())
        return (
            isinstance(policy, tuple)
            and len(policy) == self.n_sub_policies
            and all(
                isinstance(sub, tuple)
                and len(sub) == self.ops_per_sub_policy
                and all(
                    isinstance(op, PolicyOp)
                    and op.op in names
                    and op.magnitude in values
                    and op.probability in values
                    for op in sub
                )
                for sub in policy
            )
        )

    def decisions(self):
        """The policy as categorical decisions, for the REINFORCE controller.

        Returns
        -------
        decisions : list of (str, int)
            ``(name, n_options)`` per sub-policy, per op: which op, its
            magnitude level, its probability level.
        """
        n_ops, n_values = len(self._op_classes()), len(self._values())
        fields = (("op", n_ops), ("magnitude", n_values), ("probability", n_values))
        return [
            (f"sub{i}.op{j}.{field}", n)
            for i in range(self.n_sub_policies)
            for j in range(self.ops_per_sub_policy)
            for field, n in fields
        ]

    def from_decisions(self, tokens):
        """The policy of one option index per entry of :meth:`decisions`."""
        names, values = tuple(self._op_classes()), self._values()
        ops = [
            PolicyOp(names[tokens[k]], values[tokens[k + 1]], values[tokens[k + 2]]) for k in range(0, len(tokens), 3)
        ]
        n = self.ops_per_sub_policy
        return tuple(tuple(ops[i * n : (i + 1) * n]) for i in range(self.n_sub_policies))

    def to_decisions(self, policy):
        """The option indices that :meth:`from_decisions` turns into ``policy``."""
        names, values = tuple(self._op_classes()), self._values()
        return [
            value
            for sub in policy
            for op in sub
            for value in (names.index(op.op), values.index(op.magnitude), values.index(op.probability))
        ]


#: The proxy network: a stem, a convolution, pooling, a wider convolution.
PROXY_ARCHITECTURE = CNNArchitecture(16, (CNNLayer("conv3x3", 32), CNNLayer("maxpool"), CNNLayer("conv3x3", 64)))


class _ProxyEvaluator:
    """Scores a policy by cross-validated short trainings of one fixed CNN with that policy.

    Every policy is trained with the same seed and folds (common random
    numbers), so that differences between scores come from the policies,
    not from initial weights, batch order or the split.
    """

    def __init__(self, space, evaluator, architecture, seed):
        self.space = space
        self.evaluator = evaluator
        self.architecture = architecture
        self.seed = seed

    def evaluate(self, policy, X, y, folds, fidelity, seed, deadline=None):
        # ``seed`` (the trial's) is not used: every policy trains with ``self.seed``.
        evaluator = copy.copy(self.evaluator)
        evaluator.augment = _augment_of(self.space, policy)
        results = []
        for train, valid in folds:
            result = evaluator.evaluate(
                self.architecture, X[train], y[train], X[valid], y[valid], fidelity, self.seed, deadline
            )
            results.append(result)
            if not result.ok:
                break
        return dataclasses.replace(
            results[-1],
            architecture=policy,
            score=float(np.mean([r.score for r in results])),
            train_seconds=sum(r.train_seconds for r in results),
            epochs=sum(r.epochs for r in results),
        )


def _augment_of(space, policy):
    return None if policy is None else BatchAugment(space.build(policy))


class AugmentPolicySearch(BaseEstimator):
    """Search an augmentation policy for image data, scored by a short proxy training.

    The AutoAugment idea at a small cost: a strategy proposes policies from a
    :class:`PolicySpace`; each is scored by training a small fixed CNN for
    ``proxy_epochs`` epochs on a stratified part of the images with the policy
    applied to every batch, and measuring accuracy on the rest, over ``cv``
    folds. A first
    trial trains without augmentation; ``best_policy_`` is the best searched
    policy when it beats that baseline, and the empty policy otherwise.

    Parameters
    ----------
    strategy : {'bayesian', 'evolution', 'random'} or Strategy, default='bayesian'
        ``'bayesian'`` is Bayesian optimisation with scikit-optimize's Gaussian
        process over the policies' encodings.
    space : PolicySpace or None, default=None
        ``None`` is ``PolicySpace()``.
    max_trials : int or None, default=20
        Policies to try (the baseline not counted).
    time_budget : float or None, default=None
        Seconds for the whole search, baseline included.
    proxy_epochs : int, default=20
        Epochs of each proxy training.
    cv : int, default=3
        Stratified folds: a policy's score is the mean validation accuracy of
        its ``cv`` proxy trainings, so that every image counts once in the
        score (small image sets make single splits noisy).
    batch_size : int, default=64
    lr : float, default=3e-3
    proxy_architecture : CNNArchitecture or None, default=None
        The proxy network; ``None`` is a stem, a 3x3 convolution, max pooling
        and a wider 3x3 convolution.
    device : str, default='auto'
    n_jobs : int or None, default=None
        Policies tried in parallel through joblib.
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
        A progress bar over trials when > 0.

    Attributes
    ----------
    best_policy_ : AugmentPolicy
    best_score_ : float
        Proxy validation accuracy of ``best_policy_`` (of the baseline when
        no policy beat it).
    baseline_score_ : float
        Proxy validation accuracy without augmentation.
    search_results_ : dict of numpy arrays
        One row per trial: ``trial`` (0 is the baseline), ``policy`` (text),
        ``score``, ``status``, ``train_seconds`` and ``error``.
    n_features_in_ : int
    input_shape_ : tuple of int

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.prep.augment import AugmentPolicySearch
    >>> digits = load_digits()
    >>> search = AugmentPolicySearch(strategy="random", max_trials=2, proxy_epochs=2, random_state=0)
    >>> search = search.fit(digits.images[:200], digits.target[:200])
    >>> len(search.search_results_["score"])
    3
    """

    _parameter_constraints = {
        "strategy": [StrOptions(set(STRATEGIES)), HasMethods(["reset", "ask", "tell"])],
        "space": [HasMethods(["sample", "mutate", "encode", "build"]), None],
        "max_trials": [Interval(Integral, 1, None, closed="left"), None],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "proxy_epochs": [Interval(Integral, 1, None, closed="left")],
        "cv": [Interval(Integral, 2, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "proxy_architecture": [CNNArchitecture, None],
        "device": [str],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        strategy="bayesian",
        space=None,
        max_trials=20,
        time_budget=None,
        proxy_epochs=20,
        cv=3,
        batch_size=64,
        lr=3e-3,
        proxy_architecture=None,
        device="auto",
        n_jobs=None,
        random_state=None,
        verbose=0,
    ):
        self.strategy = strategy
        self.space = space
        self.max_trials = max_trials
        self.time_budget = time_budget
        self.proxy_epochs = proxy_epochs
        self.cv = cv
        self.batch_size = batch_size
        self.lr = lr
        self.proxy_architecture = proxy_architecture
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Search a policy for the images ``X`` with labels ``y``.

        Parameters
        ----------
        X : array-like of shape (N, H, W) or (N, C, H, W)
            Images; not modified.
        y : array-like of shape (N,)

        Returns
        -------
        self : AugmentPolicySearch
        """
        if self.max_trials is None and self.time_budget is None:
            raise ValueError("max_trials and time_budget are both None: set at least one of them to bound the search.")
        # The baseline is one more trial than max_trials.
        budget = Budget(None if self.max_trials is None else self.max_trials + 1, self.time_budget).start()
        strategy = resolve_strategy(self.strategy)
        if getattr(strategy, "multi_fidelity", False):
            raise ValueError(
                f"{type(self).__name__} scores every policy at the same fidelity; "
                f"{type(strategy).__name__} is a multi-fidelity strategy. Use 'bayesian', "
                "'evolution' or 'random'."
            )
        if np.ndim(X) not in (3, 4):
            raise ValueError(
                f"{type(self).__name__} searches policies for images of shape (N, H, W) or "
                f"(N, C, H, W); X has shape {np.shape(X)}. Reshape flattened rows to images first."
            )
        X, y = validate_network_input(self, X, y, reset=True)
        check_classification_targets(y)
        classes, y = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 classes; y holds 1 class.")
        rng = check_random_state(self.random_state)
        base_seed = int(rng.randint(SEED_MAX))
        counts = np.bincount(y)
        if counts.min() < self.cv:
            raise ValueError(
                f"cv={self.cv} stratified folds need at least {self.cv} images of every class; "
                f"class {classes[np.argmin(counts)].item()!r} has {counts.min()}. Lower cv or add images."
            )
        folds = list(StratifiedKFold(self.cv, shuffle=True, random_state=base_seed).split(X, y))
        space = PolicySpace() if self.space is None else self.space
        evaluator = Evaluator(
            CNNSpace(),
            self.input_shape_,
            len(classes),
            batch_size=self.batch_size,
            lr=self.lr,
            patience=None,
            device=resolve_device(self.device),
        )
        architecture = PROXY_ARCHITECTURE if self.proxy_architecture is None else self.proxy_architecture
        proxy = _ProxyEvaluator(space, evaluator, architecture, base_seed)
        strategy = _WithBaseline(strategy.reset(space, base_seed))
        results = run_search(
            strategy,
            proxy,
            (X, y, folds),
            Fidelity(self.proxy_epochs),
            budget,
            base_seed,
            n_jobs=self.n_jobs,
            verbose=self.verbose,
            description="policies",
        )
        self._record(space, results)
        return self

    def _record(self, space, results):
        if not results[0].ok:
            # Nothing is set: a failed fit leaves no attributes of an earlier one behind.
            for name in ("best_policy_", "best_score_", "baseline_score_", "search_results_"):
                if hasattr(self, name):
                    delattr(self, name)
            raise RuntimeError(f"The proxy training without augmentation failed: {results[0].error}")
        scores = np.array([r.score for r in results], dtype=float)
        self.search_results_ = {
            "trial": np.arange(len(results)),
            "policy": np.array(
                ["none" if r.architecture is None else _describe(r.architecture) for r in results], dtype=object
            ),
            "score": scores,
            "status": np.array([r.status for r in results], dtype=object),
            "train_seconds": np.array([r.train_seconds for r in results]),
            "error": np.array([r.error for r in results], dtype=object),
        }
        self.baseline_score_ = float(scores[0])
        searched = scores[1:]
        best = int(np.nanargmax(searched)) + 1 if np.isfinite(searched).any() else 0
        if best and scores[best] > self.baseline_score_:
            self.best_policy_ = space.build(results[best].architecture)
            self.best_score_ = float(scores[best])
        else:
            self.best_policy_ = AugmentPolicy([])
            self.best_score_ = self.baseline_score_

    def summary(self):
        """A short text report of the search."""
        check_is_fitted(self, "best_policy_")
        n = len(self.search_results_["score"]) - 1
        failed = int(np.sum(self.search_results_["status"] == "failed"))
        verdict = (
            f"best policy {self.best_score_:.4f} vs {self.baseline_score_:.4f} without augmentation"
            if self.best_policy_.sub_policies
            else f"no policy beat training without augmentation ({self.baseline_score_:.4f})"
        )
        return f"{type(self).__name__}: {n} policies tried ({failed} failed); {verdict}.\n{self.best_policy_!r}"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags


class _WithBaseline:
    """A strategy whose first proposal is ``None``: training without augmentation."""

    def __init__(self, strategy):
        self.strategy = strategy
        self.baseline_asked = False

    def ask(self, n):
        proposals = []
        if not self.baseline_asked:
            self.baseline_asked = True
            proposals.append(None)
        if len(proposals) < n:
            proposals += self.strategy.ask(n - len(proposals))
        return proposals

    def tell(self, policy, result):
        if policy is not None:
            self.strategy.tell(policy, result)


def _describe(policy):
    return " | ".join(", ".join(map(str, sub)) for sub in policy)
