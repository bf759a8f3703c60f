"""Pareto dominance over trial objectives: non-dominated fronts and crowding distance (numpy only)."""
import numpy as np


def non_dominated_fronts(objectives):
    """Indices of ``objectives`` (rows of values to minimise) by Pareto front, best front first.

    Row ``a`` dominates row ``b`` when it is no worse in every column and
    better in at least one. The first front holds the rows nothing
    dominates, the second those only the first dominates, and so on (the
    fast non-dominated sort of NSGA-II, Deb et al., 2002; rows are few, so
    the pairwise comparison is one numpy broadcast).

    Parameters
    ----------
    objectives : array-like of shape (n_points, n_objectives)

    Returns
    -------
    fronts : list of ndarray of int

    Examples
    --------
    >>> non_dominated_fronts([[1, 3], [2, 2], [3, 3], [2, 4]])
    [array([0, 1]), array([2, 3])]
    """
    points = np.asarray(objectives, dtype=float)
    if points.ndim != 2:
        raise ValueError(f"objectives must be 2-d (points x objectives); got shape {points.shape}.")
    no_worse = (points[:, None, :] <= points[None, :, :]).all(axis=2)
    better = (points[:, None, :] < points[None, :, :]).any(axis=2)
    dominates = no_worse & better  # dominates[a, b]: a dominates b
    n_dominating = dominates.sum(axis=0)
    fronts, left = [], np.ones(len(points), dtype=bool)
    while left.any():
        front = np.flatnonzero(left & (n_dominating == 0))
        fronts.append(front)
        left[front] = False
        n_dominating = n_dominating - dominates[front].sum(axis=0)
    return fronts


def crowding_distance(objectives):
    """NSGA-II's crowding distance of each row of one front: larger is lonelier.

    Per objective, the rows are sorted and each gets the gap between its two
    neighbours over the objective's range; the extremes get infinity, so a
    truncated front keeps its ends.

    Examples
    --------
    >>> crowding_distance([[1, 3], [2, 2], [3, 1]])
    array([inf,  2., inf])
    """
    points = np.asarray(objectives, dtype=float)
    distance = np.zeros(len(points))
    if len(points) <= 2:
        return np.full(len(points), np.inf)
    for column in points.T:
        order = np.argsort(column, kind="stable")
        span = column[order[-1]] - column[order[0]]
        distance[order[[0, -1]]] = np.inf
        if span > 0:
            distance[order[1:-1]] += (column[order[2:]] - column[order[:-2]]) / span
    return distance


def pareto_mask(score, cost):
    """Which points no other point beats in both ``score`` (higher is better) and ``cost`` (lower is better).

    NaN scores or costs are never on the front; equal points are all on it.

    Examples
    --------
    >>> pareto_mask([0.9, 0.95, 0.8, 0.95], [10, 20, 30, 25])
    array([ True,  True, False, False])
    """
    score, cost = np.asarray(score, dtype=float), np.asarray(cost, dtype=float)
    mask = np.zeros(len(score), dtype=bool)
    finite = np.flatnonzero(np.isfinite(score) & np.isfinite(cost))
    if len(finite):
        first = non_dominated_fronts(np.column_stack([-score[finite], cost[finite]]))[0]
        mask[finite[first]] = True
    return mask
