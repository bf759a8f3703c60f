"""Neural embedded feature selection: a small network through skorch with a learned, penalised gate on every feature.

Apart from :mod:`._embedded` so that the model-based selector loads no torch.
"""
from numbers import Integral, Real

import numpy as np
import torch
from skorch import NeuralNetClassifier
from sklearn.base import BaseEstimator
from sklearn.feature_selection import SelectorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from torch import nn

from .._utils._compat import Interval, _fit_context
from .._utils._device import resolve_device
from .._utils._random import SEED_MAX, torch_seeded
from ..nas.evaluate import TensorBatchIterator
from ..nas.space import Standardize
from ._embedded import _check_selected
from ._filter import _check_k, _validate_classification

__all__ = ["NeuralFeatureSelector"]


class _GatedMLP(nn.Module):
    """Standardisation, stochastic gates on the features, then a small MLP.

    The gates follow Yamada et al., "Feature selection using stochastic
    gates" (ICML 2020): gate d is ``clamp(mu_d + 0.5 + eps, 0, 1)`` with
    ``eps ~ N(0, sigma^2)`` drawn per sample in training and 0 in
    evaluation. The noise stops the network from undoing a small gate by
    scaling up its weights; ``gate_penalty`` is the mean probability that a
    gate is open, a differentiable stand-in for the number of features used.
    """

    def __init__(self, n_features, n_classes, mean, scale, hidden_units=(64,), sigma=0.5):
        super().__init__()
        self.standardize = Standardize(mean, scale)
        self.mu = nn.Parameter(0.01 * torch.randn(n_features))
        self.sigma = sigma
        layers, width = [], n_features
        for units in hidden_units:
            layers += [nn.Linear(width, units), nn.ReLU()]
            width = units
        layers.append(nn.Linear(width, n_classes))
        self.mlp = nn.Sequential(*layers)

    def gates(self):
        """Gate values of evaluation mode, in [0, 1]."""
        return torch.clamp(self.mu + 0.5, 0.0, 1.0)

    def gate_penalty(self):
        return torch.special.ndtr((self.mu + 0.5) / self.sigma).mean()

    def forward(self, x):
        x = self.standardize(x)
        z = self.mu + 0.5
        if self.training:
            z = z + self.sigma * torch.randn_like(x)
        return self.mlp(x * torch.clamp(z, 0.0, 1.0))


class GatePenaltyNet(NeuralNetClassifier):
    """skorch's classifier with ``alpha`` times the module's ``gate_penalty()`` added to the loss."""

    def __init__(self, *args, alpha=0.1, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha = alpha

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        return loss + self.alpha * self.module_.gate_penalty()


class NeuralFeatureSelector(SelectorMixin, BaseEstimator):
    """Select the features a small neural network learns to keep its input gates open for.

    A skorch ``NeuralNetClassifier`` trains an MLP on standardised features
    (mean and standard deviation of the training data), each multiplied by a
    learned stochastic gate in [0, 1] (Yamada et al., ICML 2020). The loss is
    the cross-entropy plus ``alpha`` times the mean probability that a gate is
    open, so gates of features that do not help the classification close.
    Unlike L1 or tree importances, the network can use non-linear effects
    and interactions.

    Parameters
    ----------
    alpha : float >= 0, default=0.5
        Strength of the gate penalty; larger keeps fewer features.
    max_features : int or None, default=None
        Keep at most this many features (those of largest gate).
    threshold : float in [0, 1], default=0.5
        Gate value a feature needs to be kept. With ``threshold=0`` and
        ``max_features=k`` exactly k features are kept (gates that saturate
        at 0 or 1 are ordered by their underlying parameter).
    hidden_units : tuple of int, default=(64,)
        Widths of the hidden layers of the MLP.
    sigma : float > 0, default=0.5
        Standard deviation of the gate noise in training.
    max_epochs : int, default=100
    lr : float, default=0.01
        Learning rate of Adam.
    batch_size : int, default=128
    device : str, default='cpu'
        Torch device; ``'auto'`` uses CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds torch (weights, gate noise, batch order) inside ``fit`` without
        touching torch's global random state. The same seed gives the same
        gates on the CPU.
    verbose : int, default=0
        skorch's per-epoch log when > 0.

    Attributes
    ----------
    gates_ : ndarray of shape (n_features_in_,)
        Learned gate of each feature in [0, 1]: its importance.
    support_ : ndarray of bool of shape (n_features_in_,)
    net_ : GatePenaltyNet
        The fitted skorch net; it takes raw (unstandardised) float32 rows and
        predicts class indices into ``classes_``.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        Standardisation learnt from the training data (scale 1 for constant features).
    classes_ : ndarray
        Class labels.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    EmbeddedSelector : L1 or tree importances through ``SelectFromModel``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from skautoml.features import NeuralFeatureSelector
    >>> X, y = make_classification(n_samples=200, n_features=10, n_informative=3,
    ...                            n_redundant=0, shuffle=False, random_state=0)
    >>> selector = NeuralFeatureSelector(max_features=3, max_epochs=50, random_state=0)
    >>> selector.fit(X, y).get_support(indices=True)
    array([0, 1, 2])
    """

    _parameter_constraints = {
        "alpha": [Interval(Real, 0, None, closed="left")],
        "max_features": [Interval(Integral, 1, None, closed="left"), None],
        "threshold": [Interval(Real, 0, 1, closed="both")],
        "hidden_units": [tuple, list],
        "sigma": [Interval(Real, 0, None, closed="neither")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        alpha=0.5,
        *,
        max_features=None,
        threshold=0.5,
        hidden_units=(64,),
        sigma=0.5,
        max_epochs=100,
        lr=0.01,
        batch_size=128,
        device="cpu",
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.max_features = max_features
        self.threshold = threshold
        self.hidden_units = hidden_units
        self.sigma = sigma
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y):
        """Train the gated network and keep the features with open gates.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels.

        Returns
        -------
        self : NeuralFeatureSelector
        """
        X, y, codes = _validate_classification(self, X, y)
        n_features = X.shape[1]
        if self.max_features is not None:
            _check_k(self.max_features, n_features, what="max_features")
        if any(not isinstance(units, Integral) or units < 1 for units in self.hidden_units):
            raise ValueError(f"hidden_units must hold positive ints, got {self.hidden_units!r}.")
        device = resolve_device(self.device)
        self.classes_ = np.unique(y)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale < 1e-8] = 1.0  # constant features pass unchanged
        self.scale_ = scale
        seed = int(check_random_state(self.random_state).randint(SEED_MAX))
        net = GatePenaltyNet(
            _GatedMLP,
            module__n_features=n_features,
            module__n_classes=len(self.classes_),
            module__mean=self.mean_.astype(np.float32),
            module__scale=self.scale_.astype(np.float32),
            module__hidden_units=tuple(self.hidden_units),
            module__sigma=float(self.sigma),
            alpha=float(self.alpha),
            criterion=nn.CrossEntropyLoss,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,  # a fixed number of epochs on all the data
            iterator_train=TensorBatchIterator,
            iterator_train__shuffle=True,
            iterator_valid=TensorBatchIterator,
            classes=np.arange(len(self.classes_)),
            device=device,
            verbose=self.verbose,
            callbacks__valid_acc=None,
            # The epoch table costs time even when nothing is printed.
            **({} if self.verbose else {"callbacks__print_log": None}),
        )
        with torch_seeded(seed, device):
            net.fit(X.astype(np.float32), codes.astype(np.int64))
        self.net_ = net
        module = net.module_
        self.gates_ = module.gates().detach().cpu().numpy().astype(np.float64)
        # Saturated gates tie; their parameter mu still orders them.
        strength = module.mu.detach().cpu().numpy().astype(np.float64)
        if not np.isfinite(strength).all():
            raise ValueError("Training diverged (non-finite gates); lower lr.")
        support = self.gates_ >= self.threshold
        if self.max_features is not None and support.sum() > self.max_features:
            order = np.argsort(-np.where(support, strength, -np.inf), kind="stable")
            support = np.zeros(n_features, dtype=bool)
            support[order[: self.max_features]] = True
        _check_selected(
            support,
            type(self).__name__,
            f"every gate is below threshold={self.threshold}; lower alpha (the gate penalty) or threshold, "
            "or train longer (max_epochs).",
        )
        self.support_ = support
        return self

    def _get_support_mask(self):
        check_is_fitted(self)
        return self.support_
