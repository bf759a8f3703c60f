"""The default pipeline search: successive halving whose new pipelines come from a Gaussian process per model family."""
import math
import warnings

from skopt import Optimizer
from skopt.space import Categorical as SkoptCategorical
from skopt.space import Integer as SkoptInteger
from skopt.space import Real as SkoptReal

from ..search import SuccessiveHalving
from ._space import Categorical, Integer, PipelineConfig


def _skopt_dimension(dimension):
    """The scikit-optimize dimension of one of a family's knobs."""
    if isinstance(dimension, Categorical):
        return SkoptCategorical(list(range(len(dimension.options))), name=dimension.name)  # indices: options may be tuples
    prior = "log-uniform" if dimension.log else "uniform"
    kind = SkoptInteger if isinstance(dimension, Integer) else SkoptReal
    return kind(dimension.low, dimension.high, prior=prior, name=dimension.name)


def _to_point(dimensions, params):
    return [d.options.index(params[d.name]) if isinstance(d, Categorical) else params[d.name] for d in dimensions]


def _from_point(dimensions, point):
    """The family's knobs of a scikit-optimize point, on their levels (so that values stay comparable)."""
    return {
        d.name: d.options[int(v)] if isinstance(d, Categorical) else d.from_unit(d.to_unit(v))
        for d, v in zip(dimensions, point)
    }


class PipelineHalving(SuccessiveHalving):
    """Successive halving over data whose new pipelines come from a Gaussian process per model family.

    The brackets, rungs and promotions are those of :class:`~skautoml.search.SuccessiveHalving`,
    the initial pipelines (the space's low-cost ones) run first. Each later
    new pipeline is, with probability ``random_fraction``, a random member
    of the space; otherwise it is proposed within one model family: the
    family of the best result so far, or (one time in three) of a random
    family. That family's results with the steps (cleaning, sampler,
    features) of its best pipeline, at the highest resource where there are
    at least ``n_min_points``, train a scikit-optimize ``Optimizer`` (a
    Gaussian process over the family's knobs, log-scaled where they are,
    with expected improvement), and its proposal keeps those steps. A family with too few
    results gets a random configuration of its knobs. Why within families:
    a family's knobs are what a model of the score can learn from few
    trials; one model over all families spends most of them learning which
    family is good, which the halving already tells.

    Parameters
    ----------
    eta, min_resource, n_configs, initial_architectures
        As for :class:`~skautoml.search.SuccessiveHalving`.
    random_fraction : float in [0, 1], default=0.3
        Share of new pipelines drawn at random (exploration).
    n_min_points : int, default=4
        Results a family needs at one resource before its Gaussian process is used.

    Attributes
    ----------
    n_model_proposals : int
        Pipelines proposed by a Gaussian process.

    Examples
    --------
    >>> from skautoml.automl import PipelineHalving, PipelineSpace
    >>> space = PipelineSpace(families=("linear", "random_forest"))
    >>> strategy = PipelineHalving(initial_architectures=tuple(space.low_cost_configs())).reset(space, 0)
    >>> [p.architecture.model for p in strategy.ask(2)]
    ['linear', 'random_forest']
    """

    def __init__(
        self, eta=3, min_resource=1 / 9, n_configs=None, initial_architectures=(), random_fraction=0.3,
        n_min_points=4,
    ):
        super().__init__(eta, min_resource, n_configs, initial_architectures)
        self.random_fraction = random_fraction
        self.n_min_points = n_min_points

    def reset(self, space, random_state=None):
        if not 0 <= self.random_fraction <= 1:
            raise ValueError(f"random_fraction must be in [0, 1]; got {self.random_fraction!r}.")
        if not isinstance(self.n_min_points, int) or self.n_min_points < 1:
            raise ValueError(f"n_min_points must be a positive int; got {self.n_min_points!r}.")
        super().reset(space, random_state)
        self.n_model_proposals = 0
        return self

    def _new_architecture(self):
        if self._initial or not self.observations or self._rng.random() < self.random_fraction:
            return super()._new_architecture()
        finite = [(a, r, s) for a, r, s in self.observations if math.isfinite(s)]
        if not finite:
            return super()._new_architecture()
        families = self.space.model_families()
        if self._rng.random() < 1 / 3:
            name = list(families)[int(self._rng.integers(len(families)))]
        else:
            name = max(finite, key=lambda o: (o[1], o[2]))[0].model  # the best at the highest resource
        return self._within(families[name], [o for o in finite if o[0].model == name])

    def _within(self, family, results):
        """A new pipeline of ``family`` from its ``results`` ``(config, resource, score)``."""
        if not results:
            return self._random_of(family, self.space.default_config(family.name))
        best = max(results, key=lambda o: (o[1], o[2]))[0]
        if not family.dimensions:
            return self.space.mutate(best, self._rng)
        by_resource = {}
        for config, resource, score in results:
            if (config.cleaning, config.sampler, config.features) == (best.cleaning, best.sampler, best.features):
                by_resource.setdefault(resource, {})[config] = score  # the knobs under the best's steps; last score
        usable = [r for r, seen in by_resource.items() if len(seen) >= self.n_min_points]
        if not usable:
            return self._random_of(family, best)
        seen = by_resource[max(usable)]
        dimensions = family.dimensions
        optimizer = Optimizer(
            [_skopt_dimension(d) for d in dimensions], base_estimator="GP", acq_func="EI",
            n_initial_points=1, random_state=int(self._rng.integers(2**31)),
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the GP's convergence and repeated-point warnings
            optimizer.tell([_to_point(dimensions, dict(c.params)) for c in seen], [-s for s in seen.values()])
            point = optimizer.ask()
        config = self._with_params(best, _from_point(dimensions, point))
        if config in self._seen:
            return self._random_of(family, best)
        self.n_model_proposals += 1
        return config

    def _random_of(self, family, steps):
        """A random configuration of ``family``'s knobs with the steps of ``steps``, unseen if 20 draws find one."""
        for _ in range(20):
            config = self._with_params(steps, {d.name: d.sample(self._rng) for d in family.dimensions}, family.name)
            if config not in self._seen:
                return config
        return super()._new_architecture()  # the family's levels are spent: anything unseen

    @staticmethod
    def _with_params(steps, params, model=None):
        return PipelineConfig(
            model or steps.model, tuple(sorted(params.items())), steps.cleaning, steps.sampler, steps.features
        )
