"""Feature extraction: FeatureExtractor, AutoencoderExtractor, NetworkFeatureExtractor."""
import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits, load_iris
from sklearn.decomposition import PCA, FastICA, KernelPCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.manifold import Isomap
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline, make_pipeline
from skorch import NeuralNetClassifier
from threadpoolctl import threadpool_limits
from torch import nn

from skautoml import AutoNASClassifier
from skautoml.features import AutoencoderExtractor, FeatureExtractor, NetworkFeatureExtractor


TINY_NAS = dict(max_trials=1, max_epochs=2, device="cpu", random_state=0)
TINY_AE = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=5, device="cpu", random_state=0)

# The smallest settings that still do real work, so the checks run fast.


@pytest.fixture(autouse=True, scope="module")
def one_blas_thread():
    """Small matrices gain nothing from BLAS threads, and lose much on a busy machine."""
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.data[:400], data.images[:400], data.target[:400]


@pytest.fixture(scope="module")
def nas_mlp(digits):
    """AutoNAS on 300 tabular digits; the last 100 are held out."""
    X, _, y = digits
    return AutoNASClassifier(max_trials=1, max_epochs=8, device="cpu", random_state=0).fit(X[:300], y[:300])


@pytest.fixture(scope="module")
def nas_cnn(digits):
    _, images, y = digits
    return AutoNASClassifier(max_trials=1, max_epochs=2, device="cpu", random_state=0).fit(images[:200], y[:200])


@pytest.fixture(scope="module")
def autoencoder(digits):
    X = digits[0]
    return AutoencoderExtractor(n_components=8, max_epochs=20, device="cpu", random_state=0).fit(X)


# ---------------------------------------------------------------- FeatureExtractor


@pytest.mark.parametrize(
    "method, reference, params",
    [
        ("pca", PCA(n_components=2), {}),
        ("ica", FastICA(n_components=2, random_state=0), {}),
        (
            "kernel_pca",
            KernelPCA(n_components=2, kernel="rbf", gamma=0.5, random_state=0),
            {"kernel": "rbf", "gamma": 0.5},
        ),
        ("isomap", Isomap(n_components=2, n_neighbors=10), {"n_neighbors": 10}),
        ("lda", LinearDiscriminantAnalysis(n_components=2), {}),
    ],
)
def test_feature_extractor_delegates_to_scikit_learn(iris, method, reference, params):
    X, y = iris
    extractor = FeatureExtractor(method, n_components=2, method_params=params or None, random_state=0).fit(X, y)
    expected = reference.fit(X, y).transform(X)
    features = extractor.transform(X)
    assert features.shape == (150, 2) and extractor.n_components_ == 2
    assert type(extractor.extractor_) is type(reference)
    np.testing.assert_allclose(features, expected, rtol=1e-6, atol=1e-8)
    assert list(extractor.get_feature_names_out()) == [f"{method}0", f"{method}1"]
    assert not hasattr(extractor, "cv_scores_")


def test_auto_picks_the_best_cross_validated_candidate(digits):
    X, _, y = digits
    estimator = RidgeClassifier()
    extractor = FeatureExtractor("pca", n_components="auto", estimator=estimator, cv=3).fit(X, y)
    grid = extractor.n_components_grid_
    assert list(grid) == [1, 2, 4, 8, 16, 32, 64]  # powers of two, then n_features
    assert extractor.cv_scores_.shape == grid.shape
    assert extractor.n_components_ == grid[np.argmax(extractor.cv_scores_)]
    assert extractor.n_components_ >= 8  # one or two components cannot separate ten digits
    assert extractor.transform(X).shape == (400, extractor.n_components_)
    # The scores are those of the extractor refitted inside each fold.
    cv = StratifiedKFold(3)
    for k, score in zip(grid[:3], extractor.cv_scores_[:3]):
        expected = cross_val_score(make_pipeline(PCA(n_components=int(k)), estimator), X, y, cv=cv).mean()
        assert score == pytest.approx(expected)
    assert extractor.cv_results_["param_extract__n_components"].tolist() == list(grid)


def test_auto_with_candidate_list_and_default_estimator(iris):
    X, y = iris
    extractor = FeatureExtractor("lda", n_components=[2, 1], cv=3).fit(X, y)
    assert list(extractor.n_components_grid_) == [1, 2]
    assert extractor.n_components_ in (1, 2)
    assert np.all((extractor.cv_scores_ > 0.8) & (extractor.cv_scores_ <= 1.0))
    # A continuous target is scored by a regressor (R^2), not a classifier.
    regression = FeatureExtractor("pca", cv=KFold(3, shuffle=True, random_state=0)).fit(X[:, 1:], X[:, 0])
    assert list(regression.n_components_grid_) == [1, 2, 3]
    assert regression.cv_scores_.max() > 0.5


def test_lda_with_too_many_components_raises(iris):
    X, y = iris
    with pytest.raises(ValueError, match=r"n_components=3 .*n_classes - 1=2"):
        FeatureExtractor("lda", n_components=3).fit(X, y)
    with pytest.raises(ValueError, match=r"candidates \[3\]"):
        FeatureExtractor("lda", n_components=[1, 3]).fit(X, y)


def test_more_components_than_features_raises_except_kernel_pca(iris):
    X, y = iris
    for method in ("pca", "ica", "isomap"):
        with pytest.raises(ValueError, match=r"n_components=5 is more .*n_features=4"):
            FeatureExtractor(method, n_components=5).fit(X)
    # Kernel PCA's components live in the kernel's feature space: more is allowed.
    assert FeatureExtractor("kernel_pca", n_components=5, method_params={"kernel": "rbf"}).fit_transform(X).shape == (
        150,
        5,
    )


def test_supervised_settings_need_a_usable_target(iris):
    X, y = iris
    with pytest.raises(ValueError, match="requires y to be passed"):
        FeatureExtractor("pca", n_components="auto").fit(X)
    with pytest.raises(ValueError, match="requires y to be passed"):
        FeatureExtractor("lda", n_components=1).fit(X)
    with pytest.raises(ValueError, match="at least 2 classes.*1 class"):
        FeatureExtractor("pca", n_components="auto").fit(X, np.zeros(150))
    with pytest.raises(ValueError, match="at least 2 classes.*1 class"):
        FeatureExtractor("lda", n_components=1).fit(X, np.ones(150))
    with pytest.raises(ValueError, match="Unknown label type"):
        FeatureExtractor("lda", n_components=1).fit(X, X[:, 0])
    # An unsupervised method with fixed n_components ignores y, even a constant one.
    FeatureExtractor("pca", n_components=2).fit(X, np.zeros(150))


def test_method_params_are_checked(iris):
    X, _ = iris
    extractor = FeatureExtractor("kernel_pca", n_components=2, method_params={"kernel": "poly", "degree": 2}).fit(X)
    assert extractor.extractor_.kernel == "poly" and extractor.extractor_.degree == 2
    with pytest.raises(ValueError, match="does not fit PCA.*parameters are"):
        FeatureExtractor("pca", n_components=2, method_params={"kernel": "rbf"}).fit(X)
    with pytest.raises(ValueError, match="method_params sets 'n_components'"):
        FeatureExtractor("pca", n_components=2, method_params={"n_components": 3}).fit(X)


# ---------------------------------------------------------------- AutoencoderExtractor


def test_autoencoder_learns_to_reconstruct(autoencoder, digits):
    X = digits[0]
    ae = autoencoder
    features = ae.transform(X)
    assert features.shape == (400, 8) and features.dtype == np.float64
    assert list(ae.get_feature_names_out()[:2]) == ["autoencoder0", "autoencoder1"]
    assert ae.loss_curve_[-1] < 0.6 * ae.loss_curve_[0]
    assert len(ae.loss_curve_) == len(ae.validation_loss_curve_) == ae.n_epochs_
    # Predicting the mean scores 1 per standardised feature; 8 of 64 dimensions do far better.
    assert ae.reconstruction_error_ < 0.5
    # transform is the encoder applied to the standardised inputs.
    Z = torch.as_tensor(((X - ae.mean_) / ae.scale_).astype(np.float32))
    ae.net_.module_.eval()
    with torch.no_grad():
        np.testing.assert_allclose(features, ae.net_.module_.encoder(Z).numpy(), rtol=1e-5, atol=1e-5)
    # inverse_transform decodes: its error is the reconstruction error, in raw units.
    reconstruction = ae.inverse_transform(features)
    assert reconstruction.shape == X.shape
    assert np.mean(((reconstruction - X) / ae.scale_) ** 2) == pytest.approx(ae.reconstruction_error_, rel=1e-3)


def test_autoencoder_is_deterministic_and_seeded(digits):
    X = digits[0][:200]
    params = dict(n_components=4, hidden_layer_sizes=(16,), max_epochs=4, device="cpu")
    first = AutoencoderExtractor(**params, random_state=1).fit(X)
    again = AutoencoderExtractor(**params, random_state=1).fit(X)
    other = AutoencoderExtractor(**params, random_state=2).fit(X)
    np.testing.assert_array_equal(first.transform(X), again.transform(X))
    np.testing.assert_array_equal(first.loss_curve_, again.loss_curve_)
    assert not np.allclose(first.transform(X), other.transform(X))


@pytest.mark.parametrize("corruption", ["gaussian", "masking"])
def test_denoising_corrupts_training_inputs_only(digits, corruption):
    X = digits[0][:200]
    params = dict(n_components=4, hidden_layer_sizes=(16,), max_epochs=4, device="cpu", random_state=0)
    plain = AutoencoderExtractor(**params).fit(X)
    denoising = AutoencoderExtractor(**params, corruption=corruption, corruption_level=0.5).fit(X)
    # Same seed, same initial weights: only the corruption can make the training differ.
    assert not np.allclose(plain.transform(X), denoising.transform(X))
    assert denoising.loss_curve_[0] > plain.loss_curve_[0]  # noisy inputs are harder to reconstruct
    # The trained module corrupts in training mode only: features are repeatable.
    np.testing.assert_array_equal(denoising.transform(X), denoising.transform(X))
    module = denoising.net_.module_
    x = torch.ones((3, 64))
    module.train()
    assert not torch.equal(module.corrupt(x), x)
    module.eval()


def test_autoencoder_validation_and_errors(digits):
    X = digits[0][:100]
    ae = AutoencoderExtractor(n_components=2, max_epochs=3, validation_fraction=None, device="cpu", random_state=0)
    ae.fit(X)
    assert ae.validation_loss_curve_ is None and ae.n_epochs_ == 3
    with pytest.raises(ValueError, match="n_components=65 is more than the n_features=64"):
        AutoencoderExtractor(n_components=65).fit(X)
    with pytest.raises(ValueError, match="mask every input"):
        AutoencoderExtractor(n_components=2, corruption="masking", corruption_level=1.0).fit(X)
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        AutoencoderExtractor(n_components=2, hidden_layer_sizes=(8, 0)).fit(X)
    with pytest.raises(ValueError, match=r"shape \(n_samples, 2\)"):
        ae.inverse_transform(np.zeros((2, 3)))


# ---------------------------------------------------------------- NetworkFeatureExtractor


def test_network_features_of_an_mlp_are_the_head_input(nas_mlp, digits):
    X, _, y = digits
    extractor = NetworkFeatureExtractor(nas_mlp, prefit=True).fit(X[:300])
    features = extractor.transform(X)
    width = nas_mlp.best_architecture_.widths[-1]
    assert features.shape == (400, width) == (400, extractor.n_features_out_)
    assert extractor.layer_ == "1.head"
    assert list(extractor.get_feature_names_out()[:2]) == ["hidden0", "hidden1"]
    # A manual forward pass up to the head: standardisation, then the blocks.
    module = nas_mlp.best_estimator_.module_.eval()
    with torch.no_grad():
        manual = module[1].blocks(module[0](torch.as_tensor(X, dtype=torch.float32)).flatten(1)).numpy()
    np.testing.assert_allclose(features, manual, rtol=1e-5, atol=1e-5)
    # The same features by naming the layer whose output they are.
    named = NetworkFeatureExtractor(nas_mlp, layer="1.blocks", prefit=True).fit(X[:300])
    np.testing.assert_allclose(named.transform(X), features, rtol=1e-6, atol=1e-6)
    # A linear model on the learnt features does well on held-out digits.
    linear = LogisticRegression(max_iter=2000).fit(features[:300], y[:300])
    assert linear.score(features[300:], y[300:]) > 0.85


def test_network_features_of_a_cnn(nas_cnn, digits):
    _, images, _ = digits
    extractor = NetworkFeatureExtractor(nas_cnn, prefit=True).fit(images[:200])
    features = extractor.transform(images)
    network = nas_cnn.best_estimator_.module_[1]
    assert features.shape == (400, network.head.in_features)
    # Manual forward: every layer of the CNN with its skips, pooled, without the head.
    module = nas_cnn.best_estimator_.module_.eval()
    with torch.no_grad():
        x = module[0](torch.as_tensor(images[:, None], dtype=torch.float32))
        nodes = [network.stem(x)]
        for index, layer in enumerate(network.layers, start=1):
            nodes.append(layer(network._with_skips(nodes[-1], index, nodes)))
        pooled = network._with_skips(nodes[-1], len(network.layers) + 1, nodes).mean(dim=(2, 3)).numpy()
    np.testing.assert_allclose(features, pooled, rtol=1e-5, atol=1e-5)
    # Flattened rows with input_shape give the same features.
    rows = NetworkFeatureExtractor(nas_cnn, prefit=True, input_shape=(8, 8)).fit(images[:200].reshape(200, 64))
    np.testing.assert_allclose(rows.transform(images.reshape(400, 64)), features, rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        extractor.transform(images[:, :6, :6])


def test_network_is_trained_in_fit_unless_prefit(iris):
    X, y = iris
    network = AutoNASClassifier(**TINY_NAS)
    extractor = NetworkFeatureExtractor(network).fit(X, y)
    assert not hasattr(network, "best_estimator_")  # a clone was trained
    assert extractor.transform(X).shape == (150, extractor.network_.best_architecture_.widths[-1])
    with pytest.raises(NotFittedError, match=r"prefit=True\) needs a fitted network"):
        NetworkFeatureExtractor(network, prefit=True).fit(X)
    no_model = AutoNASClassifier(**TINY_NAS, refit=False).fit(X, y)
    with pytest.raises(NotFittedError, match=r"prefit=True\) needs a fitted network"):
        NetworkFeatureExtractor(no_model, prefit=True).fit(X)
    with pytest.raises(ValueError, match="requires y to be passed"):
        NetworkFeatureExtractor(network).fit(X)
    with pytest.raises(ValueError, match="at least 2 classes.*1 class"):
        NetworkFeatureExtractor(network).fit(X, np.zeros(150, dtype=int))


def test_network_extractor_takes_skorch_nets_and_torch_modules(iris):
    X, y = iris
    X = X.astype(np.float32)
    torch.manual_seed(0)
    module = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 6), nn.Tanh(), nn.Linear(6, 3))
    net = NeuralNetClassifier(module, max_epochs=3, train_split=None, verbose=0)
    extractor = NetworkFeatureExtractor(net).fit(X, y)
    assert extractor.layer_ == "4" and extractor.transform(X).shape == (150, 6)
    with torch.no_grad():
        expected = extractor.network_.module_[:4](torch.as_tensor(X)).numpy()
    np.testing.assert_allclose(extractor.transform(X), expected, rtol=1e-6)
    with pytest.raises(NotFittedError):
        NetworkFeatureExtractor(clone(net), prefit=True).fit(X)
    # A bare module is taken as trained, and can only be prefit.
    bare = NetworkFeatureExtractor(module, layer="1", prefit=True).fit(X)
    assert bare.transform(X).shape == (150, 16) and (bare.transform(X) >= 0).all()  # after the ReLU
    with pytest.raises(ValueError, match="cannot train a bare torch module"):
        NetworkFeatureExtractor(module).fit(X, y)
    with pytest.raises(ValueError, match="layer='nope' is not a submodule.*'0', '1'"):
        NetworkFeatureExtractor(module, layer="nope", prefit=True).fit(X)
    with pytest.raises(ValueError, match="no torch.nn.Linear"):
        NetworkFeatureExtractor(nn.Sequential(nn.Tanh()), prefit=True).fit(X)
    with pytest.raises(ValueError, match="cannot take samples of shape"):
        NetworkFeatureExtractor(module, prefit=True).fit(X[:, :3])
    with pytest.raises(ValueError, match="network must be an AutoNASClassifier.*got LogisticRegression"):
        NetworkFeatureExtractor(LogisticRegression()).fit(X, y)


# ---------------------------------------------------------------- all three


@pytest.fixture(scope="module")
def fitted_extractors(iris):
    X, y = iris
    nas = AutoNASClassifier(**TINY_NAS).fit(X, y)
    return [
        FeatureExtractor("pca", n_components=2).fit(X),
        AutoencoderExtractor(n_components=2, max_epochs=3, device="cpu", random_state=0).fit(X),
        NetworkFeatureExtractor(nas, prefit=True).fit(X),
    ]


@pytest.mark.parametrize("which", [0, 1, 2])
def test_nan_points_to_imputation(fitted_extractors, iris, which):
    X, y = iris
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    extractor = fitted_extractors[which]
    with pytest.raises(ValueError, match="NaN.*impute|NaN.*Impute"):
        clone(extractor).fit(X_nan, y)
    with pytest.raises(ValueError, match="NaN.*impute|NaN.*Impute"):
        extractor.transform(X_nan)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_inputs_unchanged_pandas_output_and_pickle(fitted_extractors, iris, which):
    pd = pytest.importorskip("pandas")
    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    frame_before, y_before = frame.copy(), y.copy()
    extractor = clone(fitted_extractors[which])
    if isinstance(extractor, NetworkFeatureExtractor):
        extractor.set_params(network=fitted_extractors[which].network)  # clone unfits the network
    extractor.set_output(transform="pandas").fit(frame, y)
    out = extractor.transform(frame)
    pd.testing.assert_frame_equal(frame, frame_before)
    np.testing.assert_array_equal(y, y_before)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == list(extractor.get_feature_names_out())
    assert list(extractor.feature_names_in_) == ["sl", "sw", "pl", "pw"]
    loaded = pickle.loads(pickle.dumps(extractor))
    pd.testing.assert_frame_equal(loaded.transform(frame), out)


def test_pipeline_and_grid_search(iris):
    X, y = iris
    pipeline = Pipeline([("extract", FeatureExtractor(n_components=2)), ("model", LogisticRegression(max_iter=500))])
    search = GridSearchCV(
        pipeline, {"extract__method": ["pca", "lda"], "extract__n_components": [1, 2]}, cv=3
    ).fit(X, y)
    assert search.best_score_ > 0.9
    assert search.best_params_["extract__method"] in ("pca", "lda")
    network = make_pipeline(NetworkFeatureExtractor(AutoNASClassifier(**TINY_NAS)), LogisticRegression(max_iter=500))
    assert network.fit(X, y).score(X, y) > 0.6
