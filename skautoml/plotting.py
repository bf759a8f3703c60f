"""Plots of a fitted search (needs the ``plot`` extra: matplotlib)."""
import numpy as np
from sklearn.utils.validation import check_is_fitted


def plot_search(search, axes=None):
    """Plot the trials of a fitted search: score by trial, and score against size.

    Left: the validation score of each trial in the order they ran, with the
    best score so far as a line; failed trials are marked on the x axis.
    Right: score against the number of parameters, which shows what the extra
    size of the best networks buys.

    Parameters
    ----------
    search : fitted AutoNASClassifier
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
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("plot_search needs matplotlib: pip install 'skautoml[plot]'.") from exc
    check_is_fitted(search, "search_results_")
    trained = search.search_results_["trial"] >= 0  # not the architectures refused by limits
    results = {name: column[trained] for name, column in search.search_results_.items()}
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    by_trial, by_size = axes
    trial, score = results["trial"], results["score"]
    ok = np.isfinite(score)
    by_trial.scatter(trial[ok], score[ok], s=18, label="trial")
    by_trial.step(trial[ok], np.fmax.accumulate(score[ok]), where="post", color="C1", label="best so far")
    if (~ok).any():
        bottom = np.nanmin(score) if ok.any() else 0.0
        by_trial.scatter(trial[~ok], np.full((~ok).sum(), bottom), marker="x", color="C3", label="failed")
    by_trial.set(xlabel="trial", ylabel="validation accuracy", title="Search progress")
    by_trial.legend(loc="lower right")
    by_size.scatter(results["n_params"][ok], score[ok], s=18)
    best = search.best_index_
    by_size.scatter([results["n_params"][best]], [score[best]], s=60, facecolors="none", edgecolors="C1", label="best")
    by_size.set(xscale="log", xlabel="parameters", ylabel="validation accuracy", title="Score against size")
    by_size.legend(loc="lower right")
    return axes
