"""Neural architecture search: network spaces, the skorch evaluator, morphisms, tabulated benchmarks.

It builds on the search core (:mod:`skautoml.search`): a space says what an
architecture is and builds it into a torch module, a strategy proposes
architectures by ask/tell, the :class:`Evaluator` trains and scores one, and
:func:`run_search` (the loop ``AutoNASClassifier`` runs) joins them under a
:class:`Budget`. The search core's names are exported here too, so NAS code
needs one import. A :class:`TabularEvaluator` answers trials from a table of
trained architectures, so strategies can be compared over many seeds in
seconds.
"""
from .._utils._lazy import lazy_exports

__getattr__, __dir__, __all__ = lazy_exports(
    __name__,
    {
        "..search": [
            "BOHB",
            "BayesianOptimization",
            "Budget",
            "Deadline",
            "Fidelity",
            "Hyperband",
            "NSGA2",
            "Proposal",
            "RandomSearch",
            "RefitReserve",
            "RegularizedEvolution",
            "ReinforceController",
            "SearchSpace",
            "Strategy",
            "SuccessiveHalving",
            "SurrogateEvolution",
            "TrialResult",
            "pareto_mask",
            "run_search",
        ],
        "._cost": [
            "ArchitectureCost", "CostLimits", "FeasibleSpace", "LatencyTable", "architecture_cost", "measure_latency",
            "module_cost",
        ],
        ".evaluate": [
            "CurveExtrapolation",
            "Evaluator",
            "FitToTime",
            "MedianStopping",
            "NASTable",
            "TableEntry",
            "TabularEvaluator",
            "TabularSpace",
            "TrialStoppingRule",
            "canonical_architecture",
            "enumerate_architectures",
            "load_nas_table",
            "tabulate_architecture",
        ],
        ".space": [
            "Block",
            "CellArchitecture",
            "CellSpace",
            "CNNArchitecture",
            "CNNLayer",
            "CNNSpace",
            "FactorizedArchitecture",
            "FactorizedSpace",
            "HierarchicalArchitecture",
            "HierarchicalSpace",
            "JointArchitecture",
            "JointSpace",
            "MLPArchitecture",
            "MLPSpace",
            "StageChoice",
            "TrainingChoice",
            "TrainingSpace",
        ],
        ".morphism": [
            "MorphArchitecture",
            "Morphism",
            "MorphismBayesian",
            "MorphismHillClimbing",
            "MorphismSpace",
            "apply_morphism",
            "net2deeper",
            "net2wider",
            "widen_kernel",
        ],
        "._rank": [
            "LowFidelity",
            "RankCorrelation",
            "SeedNoise",
            "SurrogateEstimator",
            "rank_correlation",
            "seed_noise_sample",
            "top_k_overlap",
        ],
        "._objectives": ["MnasNetReward", "TrialPricer"],
        "._plan": ["SearchPlan", "default_image_space", "known_good_architecture", "plan_search", "stem_stride_for"],
        "._registry": ["NAS_STRATEGIES", "SPACES", "STRATEGIES"],
    },
)
