"""Greedy ensemble selection (Caruana et al., 2004) and the weighted ensemble it builds (numpy, scikit-learn)."""
import numbers

import numpy as np
from sklearn.utils.metaestimators import available_if

__all__ = ["WeightedEnsemble", "check_ensemble_selection", "ensemble_selection"]


def ensemble_selection(predictions, y, score, size, sample_weight=None):
    """Weights of a greedy ensemble chosen with replacement from a library of models' predictions.

    Starting from the empty ensemble, each of ``size`` steps adds the model
    whose addition gives the best ``score`` of the ensemble's average
    prediction; a model may be added many times, so its weight is the number
    of times it was added over ``size`` (Caruana, Niculescu-Mizil, Crew and
    Ksikes, "Ensemble selection from libraries of models", ICML 2004, as in
    auto-sklearn's ``EnsembleSelection``). Ties go to the lower index. The
    running sum of the chosen predictions is kept, so a step costs one
    vectorised average and one ``score`` call per model.

    Parameters
    ----------
    predictions : sequence of array-like, all of one shape
        One array per model: shape (n_samples,) for regression, or
        (n_samples, n_classes) class probabilities. Models with NaN or
        infinite predictions are skipped (weight 0).
    y : array-like of shape (n_samples,)
        The targets; for classification the class indices 0..n_classes-1
        of the probability columns.
    score : callable
        ``score(y, averaged_prediction, sample_weight)`` returns a float,
        higher is better. A NaN score counts as the worst.
    size : int
        Number of greedy steps (ensemble members, counting repeats); at least 1.
    sample_weight : array-like of shape (n_samples,), default=None
        Passed to ``score`` unchanged.

    Returns
    -------
    weights : ndarray of shape (n_models,)
        Times each model was chosen over ``size``; sums to 1.

    Raises
    ------
    ValueError
        When ``size`` is not an integer of at least 1, ``predictions`` is
        empty, the arrays' shapes differ or disagree with ``y``, or every
        model's predictions are non-finite.

    Examples
    --------
    Two regressors biased in opposite directions average to the truth:

    >>> import numpy as np
    >>> y = np.array([0.0, 1.0, 2.0, 3.0])
    >>> def neg_mse(y, pred, sample_weight):
    ...     return -np.average((y - pred) ** 2, weights=sample_weight)
    >>> ensemble_selection([y + 1, y - 1, y + 2], y, neg_mse, size=4)
    array([0.5, 0.5, 0. ])
    """
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"size must be an integer of at least 1 (the number of greedy steps); got {size!r}.")
    predictions = [np.asarray(p, dtype=float) for p in predictions]
    if not predictions:
        raise ValueError("predictions is empty; pass one array of predictions per model in the library.")
    shape = predictions[0].shape
    wrong = [i for i, p in enumerate(predictions) if p.shape != shape]
    if wrong:
        raise ValueError(
            f"every model's predictions must have one shape; model 0 has {shape} but model {wrong[0]} has "
            f"{predictions[wrong[0]].shape}. Predict every model on the same samples (and the same classes)."
        )
    n_samples = len(y)
    if not shape or shape[0] != n_samples:
        raise ValueError(
            f"predictions have shape {shape} but y has {n_samples} samples; pass predictions of shape "
            "(n_samples,) or (n_samples, n_classes) for the samples of y."
        )
    if sample_weight is not None and len(sample_weight) != n_samples:
        raise ValueError(f"sample_weight has {len(sample_weight)} entries but y has {n_samples} samples.")
    usable = np.flatnonzero([np.isfinite(p).all() for p in predictions])
    if usable.size == 0:
        raise ValueError(
            f"all {len(predictions)} models have NaN or infinite predictions, so there is nothing to select; "
            "check the models that failed to fit or predict."
        )
    picks = _greedy_picks(predictions, usable, y, score, size, sample_weight)
    return np.bincount(picks, minlength=len(predictions)) / size


def _greedy_picks(predictions, usable, y, score, size, sample_weight):
    """The model chosen at each of ``size`` steps, among ``usable``; the first is the best model alone."""
    picks = []
    running = np.zeros(predictions[0].shape)
    for step in range(1, size + 1):
        scores = np.array([float(score(y, (running + predictions[i]) / step, sample_weight)) for i in usable])
        scores[np.isnan(scores)] = -np.inf
        best = usable[np.argmax(scores)]  # argmax takes the first maximum: ties go to the lower index
        picks.append(best)
        running += predictions[best]
    return picks


def check_ensemble_selection(predictions, y, score, size, parts, sample_weight=None):
    """Held-out scores of ensemble selection and of the single best model, to choose between them.

    Greedy selection overfits the rows it climbs on when they are few
    (Caruana et al. 2004, section 4), and so does picking the best of many
    models. Each ``(fit_rows, held_rows)`` of ``parts`` makes both choices
    on ``fit_rows`` (:func:`ensemble_selection` with ``size`` steps; the
    model of the best ``score``, which is its first step) and scores them on ``held_rows``. With
    parts whose held rows cover every row once, the two means are
    cross-validated scores of the two procedures.

    Parameters
    ----------
    predictions, y, score, size, sample_weight
        As for :func:`ensemble_selection`; models with NaN or infinite predictions are left out.
    parts : sequence of (array-like, array-like)
        ``(fit_rows, held_rows)`` positions into ``y``.

    Returns
    -------
    single_best, ensemble : float
        Mean held-out ``score`` over ``parts`` of the single best model and of the ensemble.

    Examples
    --------
    >>> import numpy as np
    >>> y = np.arange(8.0)
    >>> def neg_mse(y, pred, sample_weight):
    ...     return -np.average((y - pred) ** 2, weights=sample_weight)
    >>> parts = [(np.arange(4, 8), np.arange(4)), (np.arange(4), np.arange(4, 8))]
    >>> check_ensemble_selection([y + 1, y - 1], y, neg_mse, 2, parts)
    (-1.0, 0.0)
    """
    y = np.asarray(y)
    if not len(parts):
        raise ValueError("parts is empty; pass at least one (fit_rows, held_rows) pair.")
    predictions = [p for p in (np.asarray(p, dtype=float) for p in predictions) if np.isfinite(p).all()]
    if not predictions:
        raise ValueError("every model has NaN or infinite predictions, so there is nothing to check.")

    def rows(values, index):
        return None if values is None else np.asarray(values)[index]

    single_best, ensemble = [], []
    for fit_rows, held_rows in parts:
        fit_rows, held_rows = np.asarray(fit_rows), np.asarray(held_rows)
        fitted = [p[fit_rows] for p in predictions]
        picks = _greedy_picks(fitted, range(len(fitted)), y[fit_rows], score, size, rows(sample_weight, fit_rows))
        weights = np.bincount(picks, minlength=len(fitted)) / size
        held = [p[held_rows] for p in predictions]
        single_best.append(float(score(y[held_rows], held[picks[0]], rows(sample_weight, held_rows))))
        averaged = sum(w * p for w, p in zip(weights, held) if w > 0)
        ensemble.append(float(score(y[held_rows], averaged, rows(sample_weight, held_rows))))
    return float(np.mean(single_best)), float(np.mean(ensemble))


def _describe(estimator):
    """Short name of ``estimator``; a pipeline is named by its final step."""
    steps = getattr(estimator, "steps", None)
    if steps:
        return f"{type(estimator).__name__}({type(steps[-1][1]).__name__})"
    return type(estimator).__name__


def _label_indices(classes, labels):
    """Positions of ``labels`` in ``classes`` (any order); ValueError for a label not in ``classes``."""
    labels = np.asarray(labels)
    sorter = np.argsort(classes, kind="stable")
    found = np.searchsorted(classes, labels, sorter=sorter)
    indices = sorter[np.minimum(found, len(classes) - 1)]
    unknown = classes[indices] != labels
    if np.any(unknown):
        raise ValueError(
            f"label {labels[unknown].tolist()[0]!r} is not one of the ensemble's classes {classes.tolist()}; "
            "pass classes holding every label the members were fitted on."
        )
    return indices


class WeightedEnsemble:
    """Fitted estimators combined by fixed weights, e.g. those of :func:`ensemble_selection`.

    Classification averages the members' class probabilities, each member's
    columns moved to the position of its ``classes_`` in ``classes`` (a
    member fitted on fewer classes puts probability 0 on the others; one
    without ``classes_`` must give its columns in the order of ``classes``).
    ``predict_proba`` exists only when every member has it; ``predict``
    counts a member without it as one-hot rows of its ``predict``. Regression
    predicts the weighted mean of the members' predictions.

    Parameters
    ----------
    estimators : sequence of fitted estimators
        The members (scikit-learn estimators or pipelines), already fitted.
    weights : array-like of shape (n_estimators,)
        Non-negative, not all 0; scaled to sum to 1. Members of weight 0
        are dropped.
    task : {'classification', 'regression'}
    classes : array-like of shape (n_classes,), default=None
        The class labels in the order of ``predict_proba``'s columns;
        required for classification, not allowed for regression.

    Attributes
    ----------
    estimators_ : list
        The members of positive weight.
    weights_ : ndarray of shape (n_members,)
        Their weights, summing to 1.
    classes_ : ndarray of shape (n_classes,) or None
        The class labels; None for regression.
    task : str

    Raises
    ------
    ValueError
        When estimators and weights differ in length, a weight is negative
        or non-finite, all weights are 0, ``task`` is unknown, ``classes``
        is missing (classification), given (regression) or has repeats, or
        a member knows a class that ``classes`` lacks.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.tree import DecisionTreeClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> members = [LogisticRegression(max_iter=500).fit(X, y), DecisionTreeClassifier(random_state=0).fit(X, y)]
    >>> ensemble = WeightedEnsemble(members, [0.75, 0.25], "classification", classes=[0, 1, 2])
    >>> ensemble
    WeightedEnsemble(classification: LogisticRegression 0.75, DecisionTreeClassifier 0.25)
    >>> ensemble.predict(X[[0, 50, 100]])
    array([0, 1, 2])
    >>> bool(np.allclose(ensemble.predict_proba(X).sum(axis=1), 1))
    True
    """

    def __init__(self, estimators, weights, task, classes=None):
        estimators = list(estimators)
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (len(estimators),):
            raise ValueError(
                f"weights must hold one number per estimator; got shape {weights.shape} for {len(estimators)} "
                "estimators."
            )
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise ValueError(f"weights must be finite and non-negative; got {weights.tolist()}.")
        if weights.sum() <= 0:
            raise ValueError("at least one weight must be positive; an ensemble needs a member.")
        if task not in ("classification", "regression"):
            raise ValueError(f"task must be 'classification' or 'regression'; got {task!r}.")
        if task == "classification" and classes is None:
            raise ValueError("classes is required for classification: the labels in predict_proba's column order.")
        if task == "regression" and classes is not None:
            raise ValueError("classes is only for classification; pass classes=None for regression.")

        kept = np.flatnonzero(weights > 0)
        self.task = task
        self.estimators_ = [estimators[i] for i in kept]
        self.weights_ = weights[kept] / weights[kept].sum()
        self.classes_ = None
        self._columns = None
        if task == "classification":
            self.classes_ = np.asarray(classes)
            if self.classes_.ndim != 1 or len(np.unique(self.classes_)) != len(self.classes_):
                raise ValueError(f"classes must be a 1-d array of distinct labels; got {classes!r}.")
            # None: the member has no classes_, so its columns are taken to be in the order of classes
            self._columns = [
                None if getattr(e, "classes_", None) is None else _label_indices(self.classes_, e.classes_)
                for e in self.estimators_
            ]

    def __repr__(self):
        members = ", ".join(f"{_describe(e)} {w:.3g}" for e, w in zip(self.estimators_, self.weights_))
        return f"{type(self).__name__}({self.task}: {members})"

    def __sklearn_is_fitted__(self):
        return True

    def _has_proba(self):
        """``available_if`` check: classification and every member has ``predict_proba``."""
        if self.task != "classification":
            raise AttributeError("predict_proba is only for classification; this ensemble is a regressor.")
        lacking = [_describe(e) for e in self.estimators_ if not hasattr(e, "predict_proba")]
        if lacking:
            raise AttributeError(f"predict_proba needs every member to have it; {', '.join(lacking)} does not.")
        return True

    def _member_votes(self, estimator, columns, X):
        """A member's class probabilities aligned to ``classes_``, or one-hot rows of its ``predict``."""
        if not hasattr(estimator, "predict_proba"):
            indices = _label_indices(self.classes_, np.asarray(estimator.predict(X)).ravel())
            votes = np.zeros((len(indices), len(self.classes_)))
            votes[np.arange(len(indices)), indices] = 1.0
            return votes
        member = np.asarray(estimator.predict_proba(X), dtype=float)
        expected = len(self.classes_) if columns is None else len(columns)
        if member.ndim != 2 or member.shape[1] != expected:
            raise ValueError(
                f"{_describe(estimator)}.predict_proba returned shape {member.shape}; expected {expected} "
                "columns, one per class it was fitted on."
            )
        if columns is None:
            return member
        aligned = np.zeros((len(member), len(self.classes_)))
        aligned[:, columns] = member
        return aligned

    def _averaged(self, X):
        return sum(w * self._member_votes(e, c, X) for e, w, c in zip(self.estimators_, self.weights_, self._columns))

    @available_if(_has_proba)
    def predict_proba(self, X):
        """Weighted average of the members' class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns in the order of ``classes_``.
        """
        return self._averaged(X)

    def predict(self, X):
        """Predict classes or regression targets (weighted mean).

        A class is the argmax of the weighted average of the members' class
        probabilities, a member without them counting as one-hot rows of its
        ``predict`` (a weighted vote): the average that
        :func:`ensemble_selection` scored the out-of-fold predictions by.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        if self.task == "regression":
            return sum(w * np.asarray(e.predict(X), dtype=float) for e, w in zip(self.estimators_, self.weights_))
        return self.classes_[np.argmax(self._averaged(X), axis=1)]  # a tie goes to the earlier class in classes_
