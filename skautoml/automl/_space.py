"""The space of whole pipelines: cleaning, an optional row sampler, features and a model family with its knobs.

A pipeline is a :class:`PipelineConfig`, a plain hashable value like an
architecture, so the strategies of :mod:`skautoml.search` that need only
``sample``, ``mutate`` and ``encode`` search :class:`PipelineSpace` through
the same contract (not REINFORCE, which needs the decision protocol). ``build`` turns a value into an unfitted imbalanced-learn
:class:`~imblearn.pipeline.Pipeline`.

Numeric knobs are :class:`Real` and :class:`Integer` dimensions on a linear
or log scale, quantised to ``levels`` evenly spaced points of that scale, so
values are exact, hashable and comparable (a search can tell it has seen
one) and the space's size is finite. A family's knobs exist only under that
family (conditional dimensions): its values carry them, and ``encode`` puts
an inactive family's knobs at their defaults.
"""
import importlib
import inspect
import math
from dataclasses import dataclass, field, replace

import numpy as np
from imblearn.pipeline import Pipeline
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.decomposition import PCA
from sklearn.feature_selection import SelectPercentile, f_classif, f_regression
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from ..features import EmbeddedSelector
from ..prep import AutoCleaner, AutoSMOTE, DatetimeEncoder, LabelNoiseFilter, OutlierRowRemover
from ..search import SearchSpace, choose, choose_other

#: Points of the scale a numeric knob takes.
LEVELS = 17
#: The leading steps of every pipeline (dates, cleaner): they depend on the cleaning options alone.
CLEANING_STEPS = 2


@dataclass(frozen=True)
class Real:
    """A float knob between ``low`` and ``high`` on a linear or log scale, quantised to ``levels`` points.

    Sampling and mutation give levels; ``default``, ``low_cost`` and a
    user's value may lie between them. ``default`` is where a family starts
    when it is chosen by a mutation;
    ``low_cost`` the value of its cheapest configuration (FLAML's
    ``low_cost_init_value``), ``default`` when None.
    """

    name: str
    low: float
    high: float
    default: float
    log: bool = False
    low_cost: float | None = None
    levels: int = LEVELS

    def __post_init__(self):
        if not self.low < self.high or (self.log and self.low <= 0):
            raise ValueError(f"{self.name}: need 0 < low < high on a log scale, low < high otherwise.")

    def _scale(self, value):
        return math.log(value) if self.log else float(value)

    def to_unit(self, value):
        """Position of ``value`` on the scale, in [0, 1]."""
        low, high = self._scale(self.low), self._scale(self.high)
        return float(np.clip((self._scale(value) - low) / (high - low), 0.0, 1.0))

    def from_unit(self, unit):
        """The level nearest to position ``unit`` of the scale."""
        level = round(float(np.clip(unit, 0.0, 1.0)) * (self.levels - 1)) / (self.levels - 1)
        low, high = self._scale(self.low), self._scale(self.high)
        value = low + level * (high - low)
        return self._cast(math.exp(value) if self.log else value)

    def _cast(self, value):
        return float(f"{value:.6g}")

    def sample(self, rng):
        return self.from_unit(rng.integers(self.levels) / (self.levels - 1))

    def mutate(self, value, rng):
        """A neighbouring level (a step of one to three levels either way)."""
        step = int(rng.integers(1, 4)) * (1 if rng.random() < 0.5 else -1)
        unit = self.to_unit(value) + step / (self.levels - 1)
        if not 0 <= unit <= 1:
            unit = self.to_unit(value) - step / (self.levels - 1)
        moved = self.from_unit(unit)
        return moved if moved != value else self.sample(rng)

    def n_values(self):
        return self.levels

    def starting(self):
        """The value of the family's cheapest configuration."""
        return self.default if self.low_cost is None else self.low_cost

    def contains(self, value):
        """Whether ``value`` is in the range (a default or a user's value need not be a level)."""
        return isinstance(value, (int, float)) and not isinstance(value, bool) and self.low <= value <= self.high


@dataclass(frozen=True)
class Integer(Real):
    """An integer knob: a :class:`Real` whose levels are rounded (repeated integers count once)."""

    def _cast(self, value):
        return int(round(value))

    def contains(self, value):
        return isinstance(value, (int, np.integer)) and super().contains(value)

    def n_values(self):
        return len({self.from_unit(i / (self.levels - 1)) for i in range(self.levels)})


@dataclass(frozen=True)
class Categorical:
    """A knob with a few named options."""

    name: str
    options: tuple
    default: object
    low_cost: object = None

    def to_unit(self, value):
        return self.options.index(value) / max(len(self.options) - 1, 1)

    def sample(self, rng):
        return choose(rng, self.options)

    def mutate(self, value, rng):
        return choose_other(rng, self.options, value)

    def n_values(self):
        return len(self.options)

    def starting(self):
        return self.default if self.low_cost is None else self.low_cost

    def contains(self, value):
        return value in self.options


@dataclass(frozen=True)
class ModelFamily:
    """A model family of the pipeline space: an estimator class, its fixed settings and its searched knobs.

    Parameters
    ----------
    name : str
    estimator : type or str
        A scikit-learn estimator class, or its import path ``'module:Name'``
        (imported only when the family is built, so that a family's heavy
        dependencies, torch for a network, load only when it runs);
        ``build`` calls it with ``fixed``, the knobs' values and, where it
        takes one, ``random_state``.
    dimensions : tuple of Real, Integer or Categorical
    fixed : dict
        Settings passed unchanged.
    scale : bool, default=False
        Whether the model needs standardised inputs (a ``StandardScaler``
        goes before it).
    cost : int, default=0
        Rank of its cheapest configuration's cost; low-cost starting
        configurations run cheapest first.

    Examples
    --------
    >>> from sklearn.linear_model import RidgeClassifier
    >>> family = ModelFamily("ridge", RidgeClassifier, (Real("alpha", 1e-3, 1e3, 1.0, log=True),), scale=True)
    >>> family.make({"alpha": 10.0}, random_state=0)
    RidgeClassifier(alpha=10.0, random_state=0)
    """

    name: str
    estimator: type
    dimensions: tuple = ()
    fixed: dict = field(default_factory=dict, hash=False, compare=False)
    scale: bool = False
    cost: int = 0

    def estimator_class(self):
        """The estimator class, imported now when ``estimator`` is its path."""
        if not isinstance(self.estimator, str):
            return self.estimator
        module, _, name = self.estimator.partition(":")
        return getattr(importlib.import_module(module), name)

    def make(self, params, random_state=None):
        """The unfitted estimator with ``params``."""
        estimator = self.estimator_class()
        settings = {**self.fixed, **params}
        if "random_state" in inspect.signature(estimator).parameters:
            settings["random_state"] = random_state
        return estimator(**settings)


def _trees(name, estimator, cost, **fixed):
    return ModelFamily(
        name,
        estimator,
        (
            Integer("n_estimators", 8, 512, 100, log=True, low_cost=8),
            Real("max_features", 0.1, 1.0, 0.5),
            Integer("min_samples_leaf", 1, 32, 1, log=True),
        ),
        {"n_jobs": 1, **fixed},
        cost=cost,
    )


def _boosting(estimator, cost):
    return ModelFamily(
        "hist_gradient_boosting",
        estimator,
        (
            Real("learning_rate", 0.01, 0.5, 0.1, log=True),
            Integer("max_iter", 16, 512, 100, log=True, low_cost=16),
            Integer("max_leaf_nodes", 4, 128, 31, log=True, low_cost=4),
            Integer("min_samples_leaf", 2, 128, 20, log=True),
            Real("l2_regularization", 1e-6, 10.0, 1e-6, log=True),
        ),
        cost=cost,
    )


def _mlp(estimator, cost):
    return ModelFamily(
        "mlp",
        estimator,
        (
            Categorical("hidden_layer_sizes", ((32,), (64,), (128,), (64, 64), (128, 64)), (64,), low_cost=(32,)),
            Real("alpha", 1e-6, 1e-1, 1e-4, log=True),
            Real("learning_rate_init", 1e-4, 3e-2, 1e-3, log=True),
        ),
        {"max_iter": 200, "early_stopping": True},
        scale=True,
        cost=cost,
    )


def _neighbours(estimator):
    return ModelFamily(
        "knn",
        estimator,
        (Integer("n_neighbors", 1, 64, 5, log=True), Categorical("weights", ("uniform", "distance"), "uniform")),
        scale=True,
        cost=1,
    )


def _kernel(name, estimator):
    return ModelFamily(
        name,
        estimator,
        (Real("C", 1e-2, 1e3, 1.0, log=True), Real("gamma", 1e-4, 1.0, 0.01, log=True)),
        scale=True,
        cost=4,
    )


def _families(linear, neighbours, forest, extra_trees, boosting, kernel, mlp):
    """The seven families of a task, by name."""
    families = (
        linear, _neighbours(neighbours), _trees("random_forest", forest, 2), _trees("extra_trees", extra_trees, 2),
        _boosting(boosting, 3), kernel, _mlp(mlp, 5),
    )
    return {family.name: family for family in families}


#: The model families of ``PipelineSpace(task='classification')``, by name.
CLASSIFIER_FAMILIES = _families(
    ModelFamily("linear", LogisticRegression, (Real("C", 1e-3, 1e3, 1.0, log=True),), {"max_iter": 1000}, scale=True),
    KNeighborsClassifier, RandomForestClassifier, ExtraTreesClassifier, HistGradientBoostingClassifier,
    _kernel("svc", SVC), MLPClassifier,
)
#: The model families of ``PipelineSpace(task='regression')``, by name.
REGRESSOR_FAMILIES = _families(
    ModelFamily("linear", Ridge, (Real("alpha", 1e-3, 1e3, 1.0, log=True),), scale=True),
    KNeighborsRegressor, RandomForestRegressor, ExtraTreesRegressor, HistGradientBoostingRegressor,
    _kernel("svr", SVR), MLPRegressor,
)

#: Options of the cleaning step (:class:`~skautoml.prep.AutoCleaner`'s parameters).
CLEANING = (
    Categorical("numeric_strategy", ("median", "mean"), "median"),
    Categorical("encoding", ("onehot", "ordinal"), "onehot"),
    Categorical("clip_outliers", (True, False), True),
)
#: Row samplers a classification pipeline may start with (the first is none).
SAMPLERS = ("none", "label_noise", "outlier_rows", "smote")
#: Feature steps (``'embedded'`` for classification only).
FEATURES = ("passthrough", "filter", "embedded", "pca")


@dataclass(frozen=True)
class PipelineConfig:
    """One pipeline of a :class:`PipelineSpace`: its steps' choices, each a sorted tuple of ``(name, value)``.

    Attributes
    ----------
    model : str
        The model family's name.
    params : tuple of (str, object)
        The family's knobs.
    cleaning : tuple of (str, object)
        :class:`~skautoml.prep.AutoCleaner`'s parameters.
    sampler : str
        One of ``SAMPLERS``.
    features : str
        One of ``FEATURES``.
    """

    model: str
    params: tuple = ()
    cleaning: tuple = ()
    sampler: str = "none"
    features: str = "passthrough"

    def __str__(self):
        knobs = ", ".join(f"{name}={value!r}" for name, value in self.params)
        steps = [f"{self.model}({knobs})"]
        if self.features != "passthrough":
            steps.insert(0, self.features)
        if self.sampler != "none":
            steps.insert(0, self.sampler)
        return " > ".join(steps)


class PipelineSpace(SearchSpace):
    """Whole pipelines: cleaning, an optional row sampler, features and a model family with its knobs.

    The pipeline ``build`` makes is, in order: :class:`~skautoml.prep.DatetimeEncoder`
    (datetime columns as their parts and seconds), :class:`~skautoml.prep.AutoCleaner`
    (imputation, uninformative columns, categorical encoding, outlier
    clipping: the ``CLEANING`` options), the row sampler (classification
    only: :class:`~skautoml.prep.LabelNoiseFilter`,
    :class:`~skautoml.prep.OutlierRowRemover` or, when ``samplers`` offers
    it, :class:`~skautoml.prep.AutoSMOTE`), a ``StandardScaler`` for the
    families that need one (and before a feature step), the feature step
    (``'filter'``: the better half of the features by the ANOVA or
    regression F statistic, scikit-learn's ``SelectPercentile``;
    ``'embedded'``: :class:`~skautoml.features.EmbeddedSelector` by forest
    importances, classification only; ``'pca'``: the principal components
    of 95 % of the variance), and the model. (skautoml's ``FilterSelector``
    and ``FeatureConstructor`` are not in the space yet: their ``k`` is a
    count of features, which is not known before the cleaning has run.)

    Parameters
    ----------
    task : {'classification', 'regression'}, default='classification'
    families : tuple of str or ModelFamily, or None
        The model families searched: names of ``CLASSIFIER_FAMILIES`` /
        ``REGRESSOR_FAMILIES``, or your own :class:`ModelFamily` (as FLAML's
        ``add_learner``). None: all of the task's.
    samplers : tuple of str or None
        Row samplers offered (classification); None offers ``'none'``,
        ``'label_noise'`` and ``'outlier_rows'`` (add ``'smote'`` for
        imbalanced classes).
    features : tuple of str, default=FEATURES
    cleaning : bool, default=True
        Whether the cleaning options are searched (else AutoCleaner's defaults).

    Examples
    --------
    >>> import numpy as np
    >>> space = PipelineSpace(families=("linear", "random_forest"))
    >>> config = space.sample(np.random.default_rng(0))
    >>> space.contains(config), space.contains(space.mutate(config, np.random.default_rng(1)))
    (True, True)
    >>> [str(c) for c in space.low_cost_configs()]
    ['linear(C=1.0)', 'random_forest(max_features=0.5, min_samples_leaf=1, n_estimators=8)']
    >>> space.build(space.low_cost_configs()[0]).steps[-1][1]
    LogisticRegression(max_iter=1000)
    """

    def __init__(self, task="classification", families=None, samplers=None, features=FEATURES, cleaning=True):
        self.task = task
        self.families = families
        self.samplers = samplers
        self.features = features
        self.cleaning = cleaning

    # --- what the space is made of

    def model_families(self):
        """The searched :class:`ModelFamily` values, by name, cheapest first."""
        if self.task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression'; got {self.task!r}.")
        known = CLASSIFIER_FAMILIES if self.task == "classification" else REGRESSOR_FAMILIES
        chosen = []
        for family in known if self.families is None else self.families:
            if isinstance(family, ModelFamily):
                chosen.append(family)
            elif family in known:
                chosen.append(known[family])
            else:
                raise ValueError(
                    f"Unknown model family {family!r} for {self.task}; the families are {sorted(known)}, "
                    "or pass a ModelFamily of your own."
                )
        if not chosen:
            raise ValueError("families is empty: name at least one model family.")
        names = [family.name for family in chosen]
        if len(set(names)) < len(names):
            raise ValueError(f"Model family names must be unique; got {names}.")
        return {family.name: family for family in sorted(chosen, key=lambda f: f.cost)}

    def sampler_options(self):
        if self.task == "regression":
            return ("none",)
        options = ("none", "label_noise", "outlier_rows") if self.samplers is None else tuple(self.samplers)
        unknown = [s for s in options if s not in SAMPLERS]
        if unknown or not options:
            raise ValueError(f"samplers must be a non-empty tuple of {SAMPLERS}; got {self.samplers!r}.")
        return options

    def feature_options(self):
        known = FEATURES if self.task == "classification" else tuple(f for f in FEATURES if f != "embedded")
        if not self.features or any(f not in FEATURES for f in self.features):
            raise ValueError(f"features must be a non-empty tuple of {FEATURES}; got {self.features!r}.")
        return tuple(f for f in self.features if f in known) or ("passthrough",)

    def _cleaning_dimensions(self):
        return CLEANING if self.cleaning else ()

    def _decisions(self, config):
        """The active dimensions of ``config`` as ``(kind, dimension)``: the steps', then its family's."""
        steps = [("cleaning", d) for d in self._cleaning_dimensions()]
        steps += [("sampler", Categorical("sampler", self.sampler_options(), "none"))]
        steps += [("features", Categorical("features", self.feature_options(), "passthrough"))]
        steps += [("model", Categorical("model", tuple(self.model_families()), None))]
        family = self.model_families()[config.model]
        return steps + [("params", d) for d in family.dimensions]

    # --- the space contract

    def _config(self, model, params, cleaning, sampler, features):
        return PipelineConfig(model, tuple(sorted(params.items())), tuple(sorted(cleaning.items())), sampler, features)

    def sample(self, rng):
        families = self.model_families()
        family = families[choose(rng, tuple(families))]
        return self._config(
            family.name,
            {d.name: d.sample(rng) for d in family.dimensions},
            {d.name: d.sample(rng) for d in self._cleaning_dimensions()},
            choose(rng, self.sampler_options()),
            choose(rng, self.feature_options()),
        )

    def mutate(self, config, rng):
        """``config`` with one active decision changed; a new family starts at its defaults."""
        decisions = [(kind, d) for kind, d in self._decisions(config) if d.n_values() > 1]
        if not decisions:
            return config  # a space of one pipeline
        kind, dimension = decisions[int(rng.integers(len(decisions)))]
        params, cleaning = dict(config.params), dict(config.cleaning)
        model, sampler, features = config.model, config.sampler, config.features
        if kind == "params":
            params[dimension.name] = dimension.mutate(params[dimension.name], rng)
        elif kind == "cleaning":
            cleaning[dimension.name] = dimension.mutate(cleaning[dimension.name], rng)
        elif kind == "sampler":
            sampler = dimension.mutate(sampler, rng)
        elif kind == "features":
            features = dimension.mutate(features, rng)
        else:
            model = dimension.mutate(model, rng)
            params = {d.name: d.default for d in self.model_families()[model].dimensions}
        return self._config(model, params, cleaning, sampler, features)

    def encode(self, config):
        """The steps' options one-hot, the family one-hot, then every family's knobs in [0, 1] (inactive: default)."""
        families = self.model_families()
        vector = [float(dict(config.cleaning).get(d.name) == o) for d in self._cleaning_dimensions() for o in d.options]
        vector += [float(config.sampler == s) for s in self.sampler_options()]
        vector += [float(config.features == f) for f in self.feature_options()]
        vector += [float(config.model == name) for name in families]
        params = dict(config.params)
        for name, family in families.items():
            for d in family.dimensions:
                value = params[d.name] if name == config.model else d.default
                vector.append(d.to_unit(value))
        return np.asarray(vector, dtype=float)

    def size(self):
        steps = math.prod(d.n_values() for d in self._cleaning_dimensions())
        steps *= len(self.sampler_options()) * len(self.feature_options())
        models = sum(math.prod(d.n_values() for d in f.dimensions) for f in self.model_families().values())
        return steps * models

    def contains(self, config):
        if not isinstance(config, PipelineConfig) or config.model not in self.model_families():
            return False
        family = self.model_families()[config.model]
        params, cleaning = dict(config.params), dict(config.cleaning)
        return (
            set(params) == {d.name for d in family.dimensions}
            and all(d.contains(params[d.name]) for d in family.dimensions)
            and set(cleaning) == {d.name for d in self._cleaning_dimensions()}
            and all(d.contains(cleaning[d.name]) for d in self._cleaning_dimensions())
            and config.sampler in self.sampler_options()
            and config.features in self.feature_options()
        )

    def default_config(self, model):
        """The pipeline of family ``model`` at its defaults, with the default steps."""
        family = self.model_families()[model]
        return self._config(
            model, {d.name: d.default for d in family.dimensions},
            {d.name: d.default for d in self._cleaning_dimensions()}, "none", "passthrough",
        )

    def low_cost_configs(self):
        """One configuration per family at its low-cost values, cheapest family first (a search's starting points).

        When ``'smote'`` is a sampler option (imbalanced classes), the cheapest family's start with SMOTE
        comes second: whether rebalancing pays is what a search on imbalanced classes should learn first,
        and on the cheapest model it costs least (a linear model with SMOTE led the default HistGradientBoosting
        by 7 points of balanced accuracy on bench_automl's dirty_linear).
        """
        configs = [
            self._config(
                family.name, {d.name: d.starting() for d in family.dimensions},
                {d.name: d.default for d in self._cleaning_dimensions()}, "none", "passthrough",
            )
            for family in self.model_families().values()
        ]
        if "smote" in self.sampler_options():
            configs.insert(1, replace(configs[0], sampler="smote"))
        return configs

    def build(self, config, input_shape=None, n_outputs=None, *, random_state=None):
        """The unfitted imbalanced-learn :class:`~imblearn.pipeline.Pipeline` of ``config``.

        ``input_shape`` and ``n_outputs`` (the contract's, for networks) are ignored.
        """
        family = self.model_families()[config.model]
        steps = [("dates", DatetimeEncoder()), ("cleaner", AutoCleaner(**dict(config.cleaning)))]
        if config.sampler == "label_noise":
            steps.append(("sampler", LabelNoiseFilter(cv=3, random_state=random_state)))
        elif config.sampler == "outlier_rows":
            steps.append(("sampler", OutlierRowRemover(random_state=random_state)))
        elif config.sampler == "smote":
            steps.append(("sampler", AutoSMOTE(random_state=random_state)))
        if family.scale or config.features != "passthrough":
            steps.append(("scaler", StandardScaler()))
        if config.features == "filter":
            statistic = f_classif if self.task == "classification" else f_regression
            steps.append(("features", SelectPercentile(statistic, percentile=50)))
        elif config.features == "embedded":
            steps.append(("features", EmbeddedSelector(method="tree", random_state=random_state)))
        elif config.features == "pca":
            steps.append(("features", PCA(n_components=0.95, svd_solver="full")))
        steps.append(("model", family.make(dict(config.params), random_state)))
        return Pipeline(steps)
