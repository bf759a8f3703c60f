"""Plots of a fitted search (needs the ``plot`` extra: matplotlib)."""
import numpy as np
from sklearn.utils.validation import check_is_fitted


def _pyplot(function):
    """matplotlib's pyplot, or an ImportError that says how to install it for ``function``."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{function} needs matplotlib: pip install 'skautoml[plot]'.") from exc
    return plt


def plot_search(search, axes=None):
    """Plot the trials of a fitted search: score by trial, and score against size.

    Left: the validation score of each trial in the order they ran, with the
    best score so far as a line; failed trials are marked on the x axis.
    Right: score against the number of parameters, which shows what the extra
    size of the best networks buys (for a pipeline search: against the
    seconds each trial took). The score axes say what the score is: the
    validation accuracy of a classifier, the validation R² of a regressor.

    Parameters
    ----------
    search : fitted AutoNASClassifier, AutoNASRegressor, AutoMLClassifier or AutoMLRegressor
    axes : pair of matplotlib Axes, default=None
        Where to draw; a new figure with two panels when None.

    Returns
    -------
    axes : pair of matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skautoml import AutoNASClassifier
    >>> from skautoml.plotting import plot_search
    >>> clf = AutoNASClassifier(max_trials=3, max_epochs=3, random_state=0).fit(*load_iris(return_X_y=True))
    >>> left, right = plot_search(clf)
    """
    plt = _pyplot("plot_search")
    check_is_fitted(search, "search_results_")
    trained = search.search_results_["trial"] >= 0  # not the architectures refused by limits
    results = {name: column[trained] for name, column in search.search_results_.items()}
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    by_trial, by_size = axes
    score_name = getattr(search, "_score_name", None) or "validation score"
    trial, score = results["trial"], results["score"]
    ok = np.isfinite(score)
    by_trial.scatter(trial[ok], score[ok], s=18, label="trial")
    by_trial.step(trial[ok], np.fmax.accumulate(score[ok]), where="post", color="C1", label="best so far")
    if (~ok).any():
        bottom = np.nanmin(score) if ok.any() else 0.0
        by_trial.scatter(trial[~ok], np.full((~ok).sum(), bottom), marker="x", color="C3", label="failed")
    by_trial.set(xlabel="trial", ylabel=score_name, title="Search progress")
    by_trial.legend(loc="lower right")
    # Networks are priced by their parameters, pipelines by the seconds their trial took.
    cost, cost_label, scale = (
        ("n_params", "parameters", "log") if "n_params" in results else ("fit_seconds", "fit seconds (all folds)", "linear")
    )
    by_size.scatter(results[cost][ok], score[ok], s=18)
    best = search.best_index_
    by_size.scatter([results[cost][best]], [score[best]], s=60, facecolors="none", edgecolors="C1", label="best")
    by_size.set(xscale=scale, xlabel=cost_label, ylabel=score_name, title=f"Score against {cost_label.split(' (')[0]}")
    by_size.legend(loc="lower right")
    return axes


#: Axis labels of the costs of ``pareto_front_``.
_COST_LABELS = {"flops": "FLOPs of one sample", "n_params": "parameters", "latency_ms": "predicted latency (ms)"}


def plot_pareto(search, ax=None):
    """Plot the Pareto front of a fitted search: validation score against cost.

    Every ok trial at the highest resource the search reached is a point;
    the trials of ``pareto_front_`` (none beats them in both score and
    ``pareto_cost_``) are joined by a staircase, the best trial circled.

    Parameters
    ----------
    search : fitted AutoNASClassifier or AutoNASRegressor
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_iris
    >>> from skautoml import AutoNASClassifier
    >>> from skautoml.plotting import plot_pareto
    >>> clf = AutoNASClassifier(strategy="nsga2", max_trials=4, max_epochs=2, random_state=0)
    >>> ax = plot_pareto(clf.fit(*load_iris(return_X_y=True)))
    """
    plt = _pyplot("plot_pareto")
    check_is_fitted(search, "pareto_front_")
    results, front, cost = search.search_results_, search.pareto_front_, search.pareto_cost_
    ok = results["status"] == "ok"
    ok &= results["resource"] == results["resource"][ok].max()
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    ax.scatter(results[cost][ok], results["valid_score"][ok], s=18, color="C0", alpha=0.6, label="trial")
    ax.step(front[cost], front["valid_score"], where="post", color="C1", marker="o", ms=5, label="Pareto front")
    best = search.best_index_
    ax.scatter(
        [results[cost][best]], [results["valid_score"][best]], s=80, facecolors="none", edgecolors="C3", label="best"
    )
    score_name = getattr(search, "_score_name", None) or "validation score"
    ax.set(xscale="log", xlabel=_COST_LABELS[cost], ylabel=score_name, title=f"{score_name} against cost")
    ax.legend(loc="lower right")
    return ax
