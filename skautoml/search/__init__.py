"""The search core: the space contract, ask/tell strategies, the one loop and its budget.

Every search of skautoml — architectures (:mod:`skautoml.nas`), augmentation
policies (:mod:`skautoml.prep.augment`), and whole pipelines later — is a
:class:`SearchSpace` whose values a :class:`Strategy` proposes by ask/tell,
an evaluator that turns a value into a :class:`TrialResult`, and
:func:`run_search`, which joins them under a :class:`Budget`. This package
imports neither :mod:`skautoml.nas` nor :mod:`skautoml.prep`; of its own
modules only the REINFORCE controller loads torch, when it is used.
"""
from .._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "._budget": ["Budget", "Deadline", "RefitReserve"],
        "._loop": ["RESOURCES", "fidelity_at", "run_search", "trial_seed"],
        "._pareto": ["crowding_distance", "non_dominated_fronts", "pareto_mask"],
        "._results": ["Fidelity", "Proposal", "TrialResult", "as_proposal", "failure_text"],
        "._space": ["SearchSpace", "choose", "choose_other", "one_hot"],
        "._storage": ["SQLiteStorage", "check_resumable_seed", "search_fingerprint"],
        ".strategy": [
            "BOHB",
            "STRATEGIES",
            "BayesianOptimization",
            "Hyperband",
            "NSGA2",
            "RandomSearch",
            "RegularizedEvolution",
            "ReinforceController",
            "Strategy",
            "SuccessiveHalving",
            "SurrogateEvolution",
            "expected_improvement",
            "fit_surrogate",
            "resolve_strategy",
        ],
    },
)
