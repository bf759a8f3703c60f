"""Feature extraction: new features computed from all the input features.

Three transformers:

- :class:`FeatureExtractor` is one front end over scikit-learn's PCA,
  FastICA, kernel PCA, Isomap and linear discriminant analysis, with the
  number of components given or chosen by cross-validating a downstream
  estimator.
- :class:`AutoencoderExtractor` trains an autoencoder (plain or denoising)
  through skorch and returns its bottleneck.
- :class:`NetworkFeatureExtractor` returns the hidden units of a trained
  network — by default those feeding its classification layer — for example
  of the best network of an :class:`~skautoml.AutoNASClassifier`.
"""
import copy
import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin, clone, is_classifier
from sklearn.decomposition import PCA, FastICA, KernelPCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.manifold import Isomap
from sklearn.model_selection import GridSearchCV, check_cv
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_array, check_random_state
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet, NeuralNetRegressor
from skorch.callbacks import EarlyStopping
from skorch.dataset import Dataset
from skorch.helper import predefined_split
from torch import nn

from .._utils._compat import HasMethods, Interval, StrOptions, _fit_context, validate_data
from .._utils._device import resolve_device
from .._utils._random import SEED_MAX, torch_seeded
from .._utils._skorch import callback_sink
from .._utils._validation import check_finite, check_numeric_columns, validate_network_input
from ..nas.evaluate import TensorBatchIterator
from ..nas.space import ACTIVATIONS

__all__ = ["AutoencoderExtractor", "FeatureExtractor", "NetworkFeatureExtractor"]

#: ``FeatureExtractor(method=...)`` -> the scikit-learn class it delegates to.
METHODS = {
    "pca": PCA,
    "ica": FastICA,
    "kernel_pca": KernelPCA,
    "isomap": Isomap,
    "lda": LinearDiscriminantAnalysis,
}


def _validate_rows(estimator, X, y="no_validation", *, reset):
    """``X`` as a finite float64 or float32 2-D array (and ``y`` checked against it, when given);
    sets ``n_features_in_`` on ``reset``."""
    check_numeric_columns(X, type(estimator).__name__)
    kwargs = dict(reset=reset, dtype=[np.float64, np.float32], ensure_all_finite=False)
    if isinstance(y, str) and y == "no_validation":
        X = validate_data(estimator, X, **kwargs)
    else:
        X, y = validate_data(estimator, X, y, **kwargs)
    check_finite(X, type(estimator).__name__)
    return X if isinstance(y, str) and y == "no_validation" else (X, y)


def _check_two_classes(y, estimator, why, hint):
    values = np.unique(y)
    if len(values) < 2:
        raise ValueError(
            f"{type(estimator).__name__} {why} needs a target with at least 2 classes (or values); "
            f"y holds 1 class ({values[0].item()!r}). {hint}"
        )


def _feature_names(estimator, prefix, n_out, input_features):
    """``prefix0, prefix1, ...``, after checking ``input_features`` as scikit-learn does."""
    check_is_fitted(estimator, "n_features_in_")
    OneToOneFeatureMixin.get_feature_names_out(estimator, input_features)  # raises on a mismatch
    return np.asarray([f"{prefix}{i}" for i in range(n_out)], dtype=object)


def _fixed_batches(X, batch_size, device):
    """``(tensor, n_rows)`` pairs covering ``X``, every tensor of exactly ``batch_size`` rows.

    The last batch is padded with zeros. BLAS picks other kernels for small
    batches, whose float32 results differ in the last bits; with one shape
    for every forward pass a row's features do not depend on how the caller
    split the data.
    """
    for start in range(0, len(X), batch_size):
        chunk = torch.as_tensor(X[start : start + batch_size], device=device)
        n_rows = len(chunk)
        if n_rows < batch_size:
            chunk = torch.cat([chunk, chunk.new_zeros((batch_size - n_rows, *chunk.shape[1:]))])
        yield chunk, n_rows


def _output_dtype(X):
    return X.dtype if X.dtype in (np.float32, np.float64) else np.float64


def _set_float_tags(tags):
    tags.transformer_tags.preserves_dtype = ["float64", "float32"]
    return tags


class FeatureExtractor(TransformerMixin, BaseEstimator):
    """PCA, ICA, kernel PCA, Isomap or LDA, with ``n_components`` given or chosen by cross-validation.

    The work is delegated to scikit-learn's :class:`~sklearn.decomposition.PCA`,
    :class:`~sklearn.decomposition.FastICA`, :class:`~sklearn.decomposition.KernelPCA`,
    :class:`~sklearn.manifold.Isomap` and
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis`; this
    class adds one interface over them and the choice of the number of
    components.

    With ``n_components='auto'`` (or a list of candidates) the number of
    components is chosen by cross-validating ``estimator`` on the extracted
    features, each candidate in a :class:`~sklearn.pipeline.Pipeline` so that
    the extractor is fitted on the training folds only
    (:class:`~sklearn.model_selection.GridSearchCV`). Ties go to the fewest
    components. The ``'auto'`` candidates are 1, 2, 4, 8, ... (powers of two)
    and the largest number allowed: ``n_features`` capped by the smallest
    training fold (LDA: ``n_classes - 1``).

    Parameters
    ----------
    method : {'pca', 'ica', 'kernel_pca', 'isomap', 'lda'}, default='pca'
        The extraction method. ``'lda'`` is supervised and needs class labels.
    n_components : int, 'auto' or list of int, default='auto'
        Number of features to extract. An int is used as given; it may not
        exceed the number of input features (except for ``'kernel_pca'``,
        whose components live in the kernel's feature space), nor
        ``n_classes - 1`` for ``'lda'``. ``'auto'`` or a list picks the best
        of the candidates by cross-validation and needs ``y``.
    method_params : dict, default=None
        Further parameters of the scikit-learn class, for example
        ``{'kernel': 'rbf', 'gamma': 0.1}`` for kernel PCA or
        ``{'n_neighbors': 10}`` for Isomap. ``n_components`` and
        ``random_state`` are set by this class.
    estimator : estimator, default=None
        Scores the candidates of ``'auto'``. None: standardisation followed
        by :class:`~sklearn.linear_model.LogisticRegression` for class
        labels, :class:`~sklearn.linear_model.Ridge` for continuous targets.
    cv : int, cross-validation generator or iterable, default=5
        As in :class:`~sklearn.model_selection.GridSearchCV` (stratified
        folds for classifiers).
    scoring : str or callable, default=None
        As in ``GridSearchCV``; None uses the estimator's ``score``.
    n_jobs : int, default=None
        Parallel fits of the cross-validation.
    random_state : int, RandomState instance or None, default=None
        Passed to the methods that use randomness (ICA, kernel PCA and PCA's
        randomized solvers).

    Attributes
    ----------
    extractor_ : estimator
        The fitted scikit-learn object; ``transform`` calls its ``transform``.
    n_components_ : int
        Number of extracted features.
    n_components_grid_ : ndarray of int
        The candidates cross-validated (only with ``'auto'`` or a list).
    cv_scores_ : ndarray of float
        Mean cross-validated score of each candidate (only with ``'auto'`` or a list).
    cv_results_ : dict of numpy arrays
        The full ``cv_results_`` of the search (only with ``'auto'`` or a list).
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    AutoencoderExtractor : non-linear features from the bottleneck of an autoencoder.
    NetworkFeatureExtractor : the hidden units of a trained network.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml.features import FeatureExtractor
    >>> X, y = load_iris(return_X_y=True)
    >>> pca = FeatureExtractor("pca", n_components=2).fit(X)
    >>> pca.transform(X).shape
    (150, 2)
    >>> list(pca.get_feature_names_out())
    ['pca0', 'pca1']
    >>> auto = FeatureExtractor("pca", n_components="auto", cv=3).fit(X, y)
    >>> auto.n_components_grid_
    array([1, 2, 4])
    >>> auto.cv_scores_.round(3)
    array([0.94 , 0.947, 0.94 ])
    >>> auto.n_components_
    2
    """

    _parameter_constraints = {
        "method": [StrOptions(set(METHODS))],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"}), list, tuple],
        "method_params": [dict, None],
        "estimator": [HasMethods(["fit"]), None],
        "cv": ["cv_object"],
        "scoring": [str, callable, None],
        "n_jobs": [Integral, None],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        method="pca",
        n_components="auto",
        method_params=None,
        estimator=None,
        cv=5,
        scoring=None,
        n_jobs=None,
        random_state=None,
    ):
        self.method = method
        self.n_components = n_components
        self.method_params = method_params
        self.estimator = estimator
        self.cv = cv
        self.scoring = scoring
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _searched(self):
        return not isinstance(self.n_components, Integral)

    def _make_extractor(self, n_components):
        params = dict(self.method_params or {})
        for reserved in ("n_components", "random_state"):
            if reserved in params:
                raise ValueError(
                    f"method_params sets {reserved!r}; pass it as FeatureExtractor's own parameter instead."
                )
        cls = METHODS[self.method]
        if "random_state" in cls().get_params():
            params["random_state"] = self.random_state
        try:
            return cls(n_components=n_components, **params)
        except TypeError as exc:
            raise ValueError(
                f"method_params={self.method_params!r} does not fit {cls.__name__}: {exc}. Its "
                f"parameters are {sorted(cls().get_params())}."
            ) from None

    def _limit(self, n_features, n_classes=None):
        """Largest n_components the method allows for these data, and why (for messages)."""
        if self.method == "lda":
            limit = min(n_features, n_classes - 1)
            return limit, f"min(n_features={n_features}, n_classes - 1={n_classes - 1})"
        return n_features, f"n_features={n_features}"

    def _default_estimator(self, y):
        if self.estimator is not None:
            return clone(self.estimator)
        if type_of_target(y) in ("continuous", "continuous-multioutput"):
            return make_pipeline(StandardScaler(), Ridge())
        return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit the extractor, choosing ``n_components`` first when asked to.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Needed by ``'lda'`` and by ``n_components='auto'`` or a list.

        Returns
        -------
        self : FeatureExtractor
        """
        supervised = self.method == "lda" or self._searched()
        if not supervised:
            X = _validate_rows(self, X, reset=True)
        else:
            if y is None:
                what = "method='lda'" if self.method == "lda" else f"n_components={self.n_components!r}"
                raise ValueError(
                    f"FeatureExtractor with {what} learns from the target: it requires y to be passed, "
                    "but the target y is None. Pass y, or use an unsupervised method with an int n_components."
                )
            X, y = _validate_rows(self, X, y, reset=True)
            if self.method == "lda":
                check_classification_targets(y)
            why = "with method='lda'" if self.method == "lda" else f"with n_components={self.n_components!r}"
            hint = "Check the target, or use an unsupervised method with an int n_components."
            _check_two_classes(y, self, why, hint)
        n_features = X.shape[1]
        n_classes = len(np.unique(y)) if self.method == "lda" else None
        limit, reason = self._limit(n_features, n_classes)

        for attribute in ("n_components_grid_", "cv_scores_", "cv_results_"):
            if hasattr(self, attribute):
                delattr(self, attribute)  # from an earlier fit with a search
        if not self._searched():
            if self.n_components > limit and self.method != "kernel_pca":
                raise ValueError(
                    f"n_components={self.n_components} is more than {self.method} can extract from "
                    f"these data: at most {reason}. Lower n_components, or use n_components='auto'."
                )
            self.n_components_ = int(self.n_components)
        else:
            self.n_components_ = self._search(X, y, limit, reason)
        self.extractor_ = self._make_extractor(self.n_components_)
        if self.method == "lda":
            self.extractor_.fit(X, y)
        else:
            self.extractor_.fit(X)
        return self

    def _search(self, X, y, limit, reason):
        estimator = self._default_estimator(y)
        cv = check_cv(self.cv, y, classifier=is_classifier(estimator))
        splits = list(cv.split(X, y))
        smallest_train = min(len(train) for train, _ in splits)
        if isinstance(self.n_components, str):
            largest = min(limit, smallest_train) if self.method != "lda" else limit
            grid = [2**k for k in range(int(math.log2(max(largest, 1))) + 1) if 2**k < largest] + [largest]
        else:
            values = list(self.n_components)
            if not values or not all(isinstance(v, Integral) and not isinstance(v, bool) and v >= 1 for v in values):
                raise ValueError(
                    f"n_components={self.n_components!r}: a list of candidates must hold positive ints."
                )
            grid = sorted({int(v) for v in values})
            too_many = [v for v in grid if v > limit]
            if too_many and self.method != "kernel_pca":
                raise ValueError(
                    f"n_components candidates {too_many} are more than {self.method} can extract from "
                    f"these data: at most {reason}. Drop them from the list."
                )
        pipeline = Pipeline([("extract", self._make_extractor(grid[0])), ("estimator", estimator)])
        search = GridSearchCV(
            pipeline,
            {"extract__n_components": grid},
            scoring=self.scoring,
            cv=splits,
            n_jobs=self.n_jobs,
            refit=False,
            error_score="raise",
        )
        search.fit(X, y)
        self.n_components_grid_ = np.asarray(grid)
        self.cv_results_ = search.cv_results_
        self.cv_scores_ = np.asarray(search.cv_results_["mean_test_score"], dtype=float)
        # rank_test_score ranks ties equally; argmin takes the first, which has the fewest components.
        return int(grid[int(np.argmin(search.cv_results_["rank_test_score"]))])

    def transform(self, X):
        """Extract ``n_components_`` features.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self, "extractor_")
        X = _validate_rows(self, X, reset=False)
        return self.extractor_.transform(X)

    def get_feature_names_out(self, input_features=None):
        """``<method>0, <method>1, ...``, for example ``pca0, pca1``."""
        check_is_fitted(self, "extractor_")
        return _feature_names(self, self.method, self.n_components_, input_features)

    def __sklearn_tags__(self):
        tags = _set_float_tags(super().__sklearn_tags__())
        tags.target_tags.required = self.method == "lda" or self._searched()
        return tags


class _Autoencoder(nn.Module):
    """Encoder ``n_features -> hidden -> n_components`` and its mirror image as decoder.

    In training mode the input is corrupted before encoding (denoising
    autoencoder); the loss compares the output with the clean input.
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes, activation, corruption, corruption_level):
        super().__init__()
        self.corruption = corruption
        self.corruption_level = corruption_level
        widths = [n_features, *hidden_layer_sizes]
        encoder = []
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            encoder += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
        # A linear bottleneck: its units are the extracted features.
        self.encoder = nn.Sequential(*encoder, nn.Linear(widths[-1], n_components))
        decoder, reverse = [], [n_components, *widths[::-1][:-1]]
        for n_in, n_out in zip(reverse[:-1], reverse[1:]):
            decoder += [nn.Linear(n_in, n_out), ACTIVATIONS[activation]()]
        self.decoder = nn.Sequential(*decoder, nn.Linear(reverse[-1], n_features))

    def corrupt(self, x):
        if self.corruption == "gaussian":
            return x + self.corruption_level * torch.randn_like(x)
        if self.corruption == "masking":
            return x * (torch.rand_like(x) >= self.corruption_level)
        return x

    def forward(self, x):
        if self.training:
            x = self.corrupt(x)
        return self.decoder(self.encoder(x))


class AutoencoderExtractor(TransformerMixin, BaseEstimator):
    """The bottleneck of an autoencoder trained through skorch (plain or denoising).

    The inputs are standardised (statistics of the training data), then a
    multilayer perceptron ``n_features -> hidden_layer_sizes -> n_components``
    (the encoder, with a linear bottleneck) and its mirror image (the
    decoder) are trained with Adam to reconstruct them, minimising the mean
    squared error. ``transform`` returns the bottleneck.

    A denoising autoencoder corrupts its inputs during training only and
    learns to reconstruct the clean inputs, which makes its features more
    robust: ``corruption='gaussian'`` adds Gaussian noise of standard
    deviation ``corruption_level`` (in standardised units),
    ``corruption='masking'`` sets a fraction ``corruption_level`` of the
    inputs to zero (their mean).

    Parameters
    ----------
    n_components : int, default=8
        Width of the bottleneck: the number of extracted features. At most
        the number of input features.
    hidden_layer_sizes : tuple of int, default=(64,)
        Widths of the encoder's hidden layers; the decoder mirrors them.
        ``()`` makes a linear autoencoder.
    activation : {'relu', 'gelu', 'tanh', 'elu'}, default='relu'
    corruption : {None, 'gaussian', 'masking'}, default=None
        None trains a plain autoencoder.
    corruption_level : float, default=0.2
        Noise standard deviation (``'gaussian'``) or share of masked inputs
        (``'masking'``, below 1).
    max_epochs : int, default=100
    lr : float, default=1e-3
        Learning rate of Adam.
    batch_size : int, default=64
    validation_fraction : float or None, default=0.1
        Share of the rows held out to measure the validation loss for early
        stopping; None trains on all rows for ``max_epochs``.
    patience : int or None, default=10
        Epochs without a lower validation loss before training stops (the
        weights of the best epoch are kept); None turns early stopping off.
    device : str, default='auto'
        Torch device; ``'auto'`` picks CUDA when available.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the initial weights, the batch order and
        the corruption; on the CPU a fixed value gives the same features.
    verbose : int, default=0
        1 prints skorch's table of epochs.

    Attributes
    ----------
    net_ : skorch.NeuralNetRegressor
        The trained autoencoder; ``net_.module_.encoder`` is the encoder.
    mean_, scale_ : ndarray of shape (n_features_in_,)
        The standardisation of the inputs.
    loss_curve_ : ndarray
        Training loss (mean squared reconstruction error of the corrupted
        inputs, in standardised units) after each epoch.
    validation_loss_curve_ : ndarray or None
        Validation loss of clean inputs after each epoch (None without validation).
    reconstruction_error_ : float
        Mean squared error of reconstructing the clean training data,
        standardised, with the final weights.
    n_epochs_ : int
        Epochs run.
    device_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.

    See Also
    --------
    FeatureExtractor : linear and manifold methods of scikit-learn.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.features import AutoencoderExtractor
    >>> X = load_digits().data[:100]
    >>> ae = AutoencoderExtractor(n_components=4, hidden_layer_sizes=(16,), max_epochs=5, device="cpu",
    ...                           random_state=0).fit(X)
    >>> ae.transform(X).shape
    (100, 4)
    >>> bool(ae.loss_curve_[-1] < ae.loss_curve_[0])
    True
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "corruption": [StrOptions({"gaussian", "masking"}), None],
        "corruption_level": [Interval(Real, 0, None, closed="left")],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "lr": [Interval(Real, 0, None, closed="neither")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither"), None],
        "patience": [Interval(Integral, 1, None, closed="left"), None],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=8,
        hidden_layer_sizes=(64,),
        activation="relu",
        corruption=None,
        corruption_level=0.2,
        max_epochs=100,
        lr=1e-3,
        batch_size=64,
        validation_fraction=0.1,
        patience=10,
        device="auto",
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.corruption = corruption
        self.corruption_level = corruption_level
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _check_params(self, n_samples, n_features):
        hidden = tuple(self.hidden_layer_sizes)
        if not all(isinstance(width, Integral) and width >= 1 for width in hidden):
            raise ValueError(f"hidden_layer_sizes={self.hidden_layer_sizes!r} must hold positive ints.")
        if self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} is more than the n_features={n_features} features "
                "of X; an autoencoder's bottleneck must be narrower. Lower n_components."
            )
        if self.corruption == "masking" and self.corruption_level >= 1:
            raise ValueError(
                f"corruption_level={self.corruption_level} would mask every input; use a share below 1."
            )
        n_valid = 0 if self.validation_fraction is None else math.ceil(self.validation_fraction * n_samples)
        if n_samples - n_valid < 1:
            raise ValueError(
                f"AutoencoderExtractor got n_samples={n_samples}, too few to hold out "
                f"validation_fraction={self.validation_fraction} and still train; pass more rows or "
                "set validation_fraction=None."
            )
        return hidden, n_valid

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Train the autoencoder on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self : AutoencoderExtractor
        """
        X = _validate_rows(self, X, reset=True)
        hidden, n_valid = self._check_params(*X.shape)
        self.device_ = resolve_device(self.device)
        self.mean_ = X.mean(axis=0)
        scale = X.std(axis=0)
        scale[scale < 1e-8] = 1.0  # constant features pass unchanged
        self.scale_ = scale
        # On the training device once, so batches are cut there without copies.
        Z = torch.as_tensor(self._standardize(X), device=self.device_)

        rng = check_random_state(self.random_state)
        seed = int(rng.randint(SEED_MAX))
        order = torch.as_tensor(rng.permutation(len(Z)), device=self.device_)
        valid, train = order[:n_valid], order[n_valid:]
        callbacks = []
        if n_valid and self.patience is not None:
            stopping = EarlyStopping(patience=self.patience, load_best=True, sink=callback_sink(False))
            callbacks.append(("early_stopping", stopping))
        self.net_ = NeuralNetRegressor(
            _Autoencoder,
            module__n_features=X.shape[1],
            module__n_components=self.n_components,
            module__hidden_layer_sizes=hidden,
            module__activation=self.activation,
            module__corruption=self.corruption,
            module__corruption_level=self.corruption_level,
            criterion=nn.MSELoss,
            optimizer=torch.optim.Adam,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            iterator_train=TensorBatchIterator,
            iterator_train__shuffle=True,
            iterator_valid=TensorBatchIterator,
            train_split=predefined_split(Dataset(Z[valid], Z[valid])) if n_valid else None,
            callbacks=callbacks,
            device=self.device_,
            verbose=self.verbose,
            **({} if self.verbose else {"callbacks__print_log": None}),
        )
        with torch_seeded(seed, self.device_):
            self.net_.fit(Z[train], Z[train])
        self.loss_curve_ = np.asarray(self.net_.history[:, "train_loss"], dtype=float)
        self.validation_loss_curve_ = (
            np.asarray(self.net_.history[:, "valid_loss"], dtype=float) if n_valid else None
        )
        self.n_epochs_ = len(self.net_.history)
        reconstruction = self._run(self.net_.module_, Z)
        self.reconstruction_error_ = float(torch.mean((reconstruction - Z) ** 2))
        return self

    def _standardize(self, X):
        return ((X - self.mean_) / self.scale_).astype(np.float32)

    def _run(self, function, Z, batch_size=512):
        """``function`` (a part of the module, in evaluation mode) over the rows of ``Z``, in batches."""
        module = self.net_.module_
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                parts = [function(batch)[:n_rows] for batch, n_rows in _fixed_batches(Z, batch_size, self.device_)]
        finally:
            module.train(was_training)
        return torch.cat(parts)

    def transform(self, X):
        """The bottleneck of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self, "net_")
        X = _validate_rows(self, X, reset=False)
        features = self._run(self.net_.module_.encoder, self._standardize(X))
        return features.cpu().numpy().astype(_output_dtype(X))

    def inverse_transform(self, X):
        """Decode bottleneck features back to the input space (the reconstruction).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)

        Returns
        -------
        X_original : ndarray of shape (n_samples, n_features_in_)
        """
        check_is_fitted(self, "net_")
        Z = check_array(X, dtype=[np.float64, np.float32])
        if Z.shape[1] != self.n_components:
            raise ValueError(
                f"inverse_transform takes bottleneck features of shape (n_samples, {self.n_components}); "
                f"got shape {Z.shape}."
            )
        decoded = self._run(self.net_.module_.decoder, Z.astype(np.float32)).cpu().numpy()
        return decoded * self.scale_ + self.mean_

    def get_feature_names_out(self, input_features=None):
        """``autoencoder0, autoencoder1, ...``."""
        check_is_fitted(self, "net_")
        return _feature_names(self, "autoencoder", self.n_components, input_features)

    def __sklearn_tags__(self):
        return _set_float_tags(super().__sklearn_tags__())


def _is_search(network):
    """A search estimator whose fitted ``best_estimator_`` is the network (AutoNASClassifier)."""
    return not isinstance(network, (NeuralNet, nn.Module)) and hasattr(network, "fit")


class NetworkFeatureExtractor(TransformerMixin, BaseEstimator):
    """The hidden units of a trained network as features.

    By default the features are the input of the network's final
    classification layer (the penultimate representation: the last hidden
    layer of an MLP, the globally pooled channels of a CNN); ``layer`` picks
    the output of another submodule instead. They can feed any scikit-learn
    model, for example a linear model or a gradient-boosted ensemble on top
    of the features that a neural architecture search learnt.

    Like :class:`~sklearn.feature_selection.SelectFromModel`, ``fit`` trains a
    copy of ``network`` on ``(X, y)`` unless ``prefit=True``, in which case
    the network must already be fitted: ``fit`` then trains nothing, it
    copies the network, validates ``X`` and records the number of features.

    Parameters
    ----------
    network : AutoNASClassifier, skorch net or torch.nn.Module
        An :class:`~skautoml.AutoNASClassifier` (or another estimator whose
        fitted ``best_estimator_`` is a skorch net): the features come from
        its best network, which standardises its input itself. A skorch net
        (``NeuralNet``, ``NeuralNetClassifier``...): its ``module_``. A torch
        module (``prefit=True`` only): used as given, taken as trained.
    layer : str, default=None
        Name of a submodule (as in ``module.named_modules()``) whose output,
        flattened, becomes the features. None: the input of the
        classification layer, which is the submodule named ``head`` when the
        network has a linear one (the networks of skautoml's search spaces),
        otherwise the last ``torch.nn.Linear`` registered.
    prefit : bool, default=False
        Whether ``network`` is already fitted. False: ``fit`` trains a clone
        of it on ``(X, y)`` (a skorch net gets ``X`` as a float32 array,
        reshaped to ``input_shape`` if given, and ``y`` unchanged).
    input_shape : tuple of int, default=None
        ``(height, width)`` or ``(channels, height, width)`` when 2-D rows
        hold flattened images. None takes the ``input_shape`` of an
        ``AutoNASClassifier`` network.
    batch_size : int, default=256
        Samples per forward pass in ``transform``.

    Attributes
    ----------
    network_ : estimator or torch.nn.Module
        The fitted network (a clone trained in ``fit``, or a copy of the prefit one).
    layer_ : str
        Name of the submodule whose input (``layer=None``) or output gives the features.
    n_features_out_ : int
        Number of extracted features.
    n_features_in_ : int
        Features of 2-D input, or values per image for image input.
    feature_names_in_ : ndarray of str
        Column names, when ``X`` was a DataFrame with string column names.
    input_shape_ : tuple of int
        Shape of one sample as the network sees it.

    See Also
    --------
    skautoml.AutoNASClassifier : searches the network.
    AutoencoderExtractor : unsupervised features from an autoencoder's bottleneck.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skautoml import AutoNASClassifier
    >>> from skautoml.features import NetworkFeatureExtractor
    >>> X, y = load_iris(return_X_y=True)
    >>> nas = AutoNASClassifier(max_trials=1, max_epochs=5, device="cpu", random_state=0).fit(X, y)
    >>> extractor = NetworkFeatureExtractor(nas, prefit=True).fit(X)
    >>> features = extractor.transform(X)
    >>> features.shape[1] == extractor.n_features_out_ == nas.best_architecture_.widths[-1]
    True
    >>> extractor.layer_
    '1.head'
    """

    _parameter_constraints = {
        "network": [HasMethods(["fit"]), nn.Module],
        "layer": [str, None],
        "prefit": ["boolean"],
        "input_shape": [tuple, list, None],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, network, layer=None, prefit=False, input_shape=None, batch_size=256):
        self.network = network
        self.layer = layer
        self.prefit = prefit
        self.input_shape = input_shape
        self.batch_size = batch_size

    def _input_shape(self):
        if self.input_shape is not None or not _is_search(self.network):
            return self.input_shape
        return getattr(self.network, "input_shape", None)

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Train a clone of the network on ``X, y`` (unless ``prefit``) and find the feature layer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), (n_samples, H, W) or (n_samples, C, H, W)
        y : array-like of shape (n_samples,), default=None
            Needed unless ``prefit=True``.

        Returns
        -------
        self : NetworkFeatureExtractor
        """
        network = self.network
        if not self.prefit:
            if isinstance(network, nn.Module):
                raise ValueError(
                    "NetworkFeatureExtractor cannot train a bare torch module: pass prefit=True for a "
                    "trained module, or wrap it in a skorch net (skorch.NeuralNetClassifier(module)) to "
                    "train it in fit."
                )
            if y is None:
                raise ValueError(
                    "NetworkFeatureExtractor(prefit=False) trains the network on (X, y): it requires y "
                    "to be passed, but the target y is None. Pass y, or pass a fitted network with prefit=True."
                )
        if y is None:
            X_net = validate_network_input(self, X, reset=True, input_shape=self._input_shape())
        else:
            X_net, y = validate_network_input(self, X, y, reset=True, input_shape=self._input_shape())
        if not self.prefit:
            if is_classifier(network):
                check_classification_targets(y)
                _check_two_classes(y, self, "with prefit=False", "Check the target.")
            if _is_search(network):
                self.network_ = clone(network).fit(X, y)  # the search validates and reshapes X itself
                if not hasattr(self.network_, "best_estimator_"):
                    raise ValueError(
                        "network must be an AutoNASClassifier (or another search whose best_estimator_ "
                        f"is a skorch net), a skorch net or a torch.nn.Module; got {type(network).__name__}, "
                        "which has no best_estimator_ after fit."
                    )
            else:
                self.network_ = clone(network).fit(X_net, y)
        else:
            self._check_prefit(network)
            self.network_ = copy.deepcopy(network)
        if _is_search(self.network_):
            if not isinstance(self.network_.best_estimator_, NeuralNet):
                raise ValueError(
                    "network must be an AutoNASClassifier (or another search whose best_estimator_ is a "
                    f"skorch net), a skorch net or a torch.nn.Module; the {type(network).__name__} given "
                    f"has a best_estimator_ of type {type(self.network_.best_estimator_).__name__}."
                )
            self._check_matches_search(self.network_)
        module = self._module()
        self.layer_ = self._find_layer(module)
        self.n_features_out_ = int(self._features(X_net[:1]).shape[1])
        return self

    def _check_prefit(self, network):
        if isinstance(network, nn.Module):
            return  # nothing tells whether a bare module is trained: it is taken as trained
        try:
            if isinstance(network, NeuralNet):
                network.check_is_fitted()
            else:
                check_is_fitted(network)
                if not hasattr(network, "best_estimator_"):
                    raise NotFittedError(
                        "it has no best_estimator_; a search fitted with refit=False keeps no model"
                    )
        except NotFittedError as exc:
            raise NotFittedError(
                f"NetworkFeatureExtractor(prefit=True) needs a fitted network, but the "
                f"{type(network).__name__} given is not ({exc}). Fit it first (with refit=True for a "
                "search), or set prefit=False to train it in fit."
            ) from None

    def _check_matches_search(self, search):
        shape = getattr(search, "input_shape_", None)
        if shape is not None and tuple(shape) != tuple(self.input_shape_):
            raise ValueError(
                f"X has samples of shape {tuple(self.input_shape_)}, but the network was fitted on samples "
                f"of shape {tuple(shape)}. Pass data shaped like its training data (or set input_shape)."
            )
        names = getattr(search, "feature_names_in_", None)
        if names is not None and not np.array_equal(names, getattr(self, "feature_names_in_", names)):
            raise ValueError(
                "X has different column names than the network's training data; pass the same columns."
            )

    def _module(self):
        network = self.network_
        if _is_search(network):
            network = network.best_estimator_
        return network.module_ if isinstance(network, NeuralNet) else network

    def _device(self, module):
        parameter = next(module.parameters(), None)
        return torch.device("cpu") if parameter is None else parameter.device

    def _find_layer(self, module):
        named = dict(module.named_modules())
        if self.layer is not None:
            if self.layer not in named or self.layer == "":
                names = [name for name in named if name]
                raise ValueError(
                    f"layer={self.layer!r} is not a submodule of the network. Its submodules are "
                    f"{names[:30]}{' ...' if len(names) > 30 else ''}."
                )
            return self.layer
        linear = [name for name, sub in named.items() if isinstance(sub, nn.Linear)]
        heads = [name for name in linear if name.rsplit(".", 1)[-1] == "head"]
        if heads:
            return heads[-1]
        if not linear:
            raise ValueError(
                "The network has no torch.nn.Linear classification layer whose input could be the "
                "features; name the layer to read with layer='<submodule name>'."
            )
        return linear[-1]

    def _features(self, X):
        """Run the network on ``X`` (validated, float32) and collect the hooked tensor."""
        module = self._module()
        device = self._device(module)
        take_input = self.layer is None
        captured = []

        def hook(submodule, inputs, output):
            value = inputs[0] if take_input else output
            if not isinstance(value, torch.Tensor):
                raise ValueError(
                    f"The {'input' if take_input else 'output'} of layer {self.layer_!r} is a "
                    f"{type(value).__name__}, not a tensor; choose another layer."
                )
            captured.append(value.detach().flatten(1))

        handle = module.get_submodule(self.layer_).register_forward_hook(hook)
        was_training = module.training
        module.eval()
        try:
            with torch.no_grad():
                for batch, n_rows in _fixed_batches(X, self.batch_size, device):
                    n_before = len(captured)
                    try:
                        module(batch)
                    except RuntimeError as exc:
                        raise ValueError(
                            f"The network cannot take samples of shape {X.shape[1:]}: {exc}. Pass data "
                            "shaped like its training data, or set input_shape."
                        ) from exc
                    if len(captured) != n_before + 1:
                        raise ValueError(
                            f"Layer {self.layer_!r} ran {len(captured) - n_before} times in one forward "
                            "pass; it must run exactly once. Choose another layer."
                        )
                    captured[-1] = captured[-1][:n_rows].cpu()
        finally:
            handle.remove()
            module.train(was_training)
        return torch.cat(captured).numpy()

    def transform(self, X):
        """The hidden units of the network for ``X``.

        Parameters
        ----------
        X : array-like shaped like the training data

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features_out_)
            float32 for float32 input, float64 otherwise.
        """
        check_is_fitted(self, "network_")
        dtype = np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64
        X_net = validate_network_input(self, X, reset=False, input_shape=self._input_shape())
        return self._features(X_net).astype(dtype)

    def get_feature_names_out(self, input_features=None):
        """``hidden0, hidden1, ...``."""
        check_is_fitted(self, "network_")
        return _feature_names(self, "hidden", self.n_features_out_, input_features)

    def __sklearn_tags__(self):
        tags = _set_float_tags(super().__sklearn_tags__())
        tags.target_tags.required = not self.prefit
        return tags
