"""Plots of a fitted search."""
import numpy as np
import pytest
from sklearn.datasets import load_iris

from skautoml import AutoNASClassifier
from skautoml.nas import MLPSpace

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

from skautoml.plotting import plot_pareto, plot_search  # noqa: E402


class FailingWideSpace(MLPSpace):
    def build(self, architecture, input_shape, n_outputs):
        if max(architecture.widths) > 16:
            raise RuntimeError("too wide")
        return super().build(architecture, input_shape, n_outputs)


def test_plot_search_draws_every_trial_and_marks_failures(tmp_path):
    X, y = load_iris(return_X_y=True)
    space = FailingWideSpace(max_layers=1, widths=(8, 16, 32))
    clf = AutoNASClassifier(search_space=space, strategy="random", max_trials=6, max_epochs=2, random_state=0)
    clf.fit(X, y)
    by_trial, by_size = plot_search(clf)
    n_ok = int(np.isfinite(clf.search_results_["score"]).sum())
    n_failed = clf.n_trials_ - n_ok
    assert n_failed > 0
    labels = [collection.get_label() for collection in by_trial.collections]
    assert labels == ["trial", "failed"]
    assert len(by_trial.collections[0].get_offsets()) == n_ok
    assert len(by_trial.collections[1].get_offsets()) == n_failed
    assert by_size.get_xscale() == "log"
    by_trial.figure.savefig(tmp_path / "search.png")
    assert (tmp_path / "search.png").stat().st_size > 0


def test_plot_search_leaves_out_architectures_refused_by_limits():
    X, y = load_iris(return_X_y=True)
    clf = AutoNASClassifier(
        search_space=MLPSpace(max_layers=2, widths=(8, 64, 256)), strategy="random", max_trials=3, max_epochs=1,
        max_params=2_000, random_state=0,
    ).fit(X, y)
    assert (clf.search_results_["status"] == "infeasible").any()
    by_trial, _ = plot_search(clf)
    assert [c.get_label() for c in by_trial.collections] == ["trial"]
    assert len(by_trial.collections[0].get_offsets()) == clf.n_trials_


def test_plot_search_needs_a_fitted_search():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        plot_search(AutoNASClassifier())


def test_plot_pareto_draws_every_trial_and_the_front(tmp_path):
    X, y = load_iris(return_X_y=True)
    space = FailingWideSpace(max_layers=2, widths=(4, 8, 16, 32))
    clf = AutoNASClassifier(search_space=space, strategy="nsga2", max_trials=8, max_epochs=2, random_state=0).fit(X, y)
    ax = plot_pareto(clf)
    points, best = ax.collections
    n_ok = int((clf.search_results_["status"] == "ok").sum())
    assert len(points.get_offsets()) == n_ok < clf.n_trials_  # failed trials have no cost or score to draw
    (front,) = ax.lines
    np.testing.assert_array_equal(front.get_xdata(), clf.pareto_front_["flops"])
    np.testing.assert_array_equal(front.get_ydata(), clf.pareto_front_["valid_score"])
    assert ax.get_xlabel() == "FLOPs of one sample" and ax.get_ylabel() == "validation accuracy"
    ax.figure.savefig(tmp_path / "pareto.png")
    with pytest.raises(Exception, match="not fitted"):
        plot_pareto(AutoNASClassifier())
