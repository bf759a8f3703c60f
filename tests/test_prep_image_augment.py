"""Tests for the batched image augmentation in skautoml.prep.augment._image.

``ImageAugmenter`` takes (N, H, W) / (N, C, H, W) arrays, which scikit-learn's
and imbalanced-learn's estimator checks cannot feed (they build 2-D X), so its
sampler behaviour is tested directly here instead of with those checks.
"""
import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from skautoml.prep.augment import (
    Brightness,
    ChannelShuffle,
    Contrast,
    Cutout,
    ElasticDeform,
    GaussianBlur,
    HorizontalFlip,
    ImageAugmenter,
    RandAugment,
    RandomCrop,
    Rotate,
    Scale,
    Translate,
    UniformAugment,
    VerticalFlip,
    cutmix,
    mixup,
)

OPS = [
    Rotate, Scale, Translate, RandomCrop, HorizontalFlip, VerticalFlip,
    Brightness, Contrast, GaussianBlur, ChannelShuffle, ElasticDeform, Cutout,
]


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def images():
    # Values in [0.2, 0.8]: the output must stay inside that range.
    return 0.2 + 0.6 * torch.rand(6, 3, 10, 12, generator=gen(123))


@pytest.mark.parametrize("op", OPS, ids=lambda c: c.__name__)
def test_op_keeps_shape_dtype_range_and_input(op, images):
    before = images.clone()
    for x in (images, images.double(), images[:, 0], (images * 255).round().to(torch.uint8)):
        out = op(magnitude=0.9, probability=1.0)(x, gen())
        assert out.shape == x.shape and out.dtype == x.dtype
        assert out.min() >= x.min() and out.max() <= x.max()
    assert torch.equal(images, before)


@pytest.mark.parametrize("op", OPS, ids=lambda c: c.__name__)
def test_probability_zero_is_identity_and_one_changes(op, images):
    assert torch.equal(op(magnitude=0.8, probability=0.0)(images, gen()), images)
    out = op(magnitude=0.8, probability=1.0)(images, gen())
    assert not torch.equal(out, images)


@pytest.mark.parametrize("op", OPS, ids=lambda c: c.__name__)
def test_deterministic_with_seeded_generator(op, images):
    a = op(magnitude=0.7, probability=0.5)(images, gen(5))
    b = op(magnitude=0.7, probability=0.5)(images, gen(5))
    assert torch.equal(a, b)


def test_flip_twice_is_identity(images):
    for op in (HorizontalFlip(probability=1.0), VerticalFlip(probability=1.0)):
        assert torch.equal(op(op(images, gen()), gen()), images)


def test_zero_magnitude_geometry_is_identity(images):
    for op in (Rotate, Scale, Translate, RandomCrop, GaussianBlur, Cutout, ElasticDeform):
        out = op(magnitude=0.0, probability=1.0)(images, gen())
        torch.testing.assert_close(out, images, atol=1e-5, rtol=0, msg=op.__name__)


def test_value_range_is_used():
    x = torch.full((2, 1, 4, 4), 0.5)
    out = Brightness(1.0, 1.0, value_range=(0.0, 1.0))(x, gen())
    assert set(out.unique().tolist()) <= {0.0, 1.0}


def test_mixup_labels_follow_the_images():
    n = 8
    # Image i is constant i, so the mixed value tells lambda.
    x = torch.arange(n, dtype=torch.float64)[:, None, None].expand(n, 4, 4).clone()
    y = torch.eye(n, dtype=torch.float64)
    out, y_mix = mixup(x, y, alpha=0.4, generator=gen())
    torch.testing.assert_close(y_mix.sum(1), torch.ones(n, dtype=torch.float64))
    expected = (y_mix * torch.arange(n, dtype=torch.float64)).sum(1)
    torch.testing.assert_close(out[:, 0, 0], expected)
    assert torch.equal(x, torch.arange(n, dtype=torch.float64)[:, None, None].expand(n, 4, 4))


def test_cutmix_label_weight_equals_pasted_area():
    n = 16
    x = np.broadcast_to(np.arange(n, dtype=float)[:, None, None, None], (n, 2, 8, 8)).copy()
    x_before = x.copy()
    y = np.eye(n)
    out, y_mix = cutmix(x, y, alpha=1.0, generator=gen(3))
    assert isinstance(out, np.ndarray) and out.shape == x.shape
    np.testing.assert_allclose(y_mix.sum(1), 1.0)
    for i in range(n):
        kept = (out[i] == i).mean()  # own pixels (all, when paired with itself)
        np.testing.assert_allclose(y_mix[i, i], kept)
    np.testing.assert_array_equal(x, x_before)


def test_mix_bad_input():
    with pytest.raises(ValueError, match="y_onehot"):
        mixup(torch.zeros(4, 3, 3), torch.eye(3), 1.0, gen())
    with pytest.raises(ValueError, match="alpha"):
        cutmix(torch.zeros(4, 3, 3), torch.eye(4), 0.0, gen())


@pytest.mark.parametrize("policy", [RandAugment(n_ops=2, magnitude=0.6), UniformAugment(n_ops=3)],
                         ids=repr)
def test_policies(policy, images):
    out = policy(images, gen(1))
    assert out.shape == images.shape and out.dtype == images.dtype
    assert out.min() >= images.min() and out.max() <= images.max()
    assert not torch.equal(out, images)
    assert torch.equal(out, policy(images, gen(1)))
    assert RandAugment(ops=[HorizontalFlip], n_ops=2)(images, gen()).equal(images)  # flip twice


def test_image_augmenter_on_digits():
    digits = load_digits()
    X, y = digits.images[:120], digits.target[:120]
    X_before = X.copy()
    sampler = ImageAugmenter(n_copies=1, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert X_res.shape == (240, 8, 8) and X_res.dtype == X.dtype
    np.testing.assert_array_equal(X_res[:120], X)
    np.testing.assert_array_equal(y_res, np.concatenate([y, y]))
    np.testing.assert_array_equal(sampler.sample_indices_, np.tile(np.arange(120), 2))
    assert not np.array_equal(X_res[120:], X)
    assert X_res.min() >= X.min() and X_res.max() <= X.max()
    np.testing.assert_array_equal(X, X_before)
    X_again, _ = ImageAugmenter(n_copies=1, random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X_res, X_again)


def test_image_augmenter_options():
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, size=(10, 3, 6, 6), dtype=np.uint8)
    y = np.array(["a", "b"] * 5)
    X_res, y_res = ImageAugmenter(
        policy="uniformaugment", n_copies=2, batch_size=4, random_state=1
    ).fit_resample(X, y)
    assert X_res.shape == (30, 3, 6, 6) and X_res.dtype == np.uint8
    assert list(y_res) == list(y) * 3
    X_res, _ = ImageAugmenter(policy=HorizontalFlip(probability=1.0), random_state=0).fit_resample(X, y)
    np.testing.assert_array_equal(X_res[10:], X[..., ::-1])
    assert ImageAugmenter().fit(X, y).input_shape_ == (3, 6, 6)


def test_bad_input_errors(images):
    with pytest.raises(ValueError, match="magnitude"):
        Rotate(magnitude=1.5)
    with pytest.raises(ValueError, match="probability"):
        Cutout(probability=-0.1)
    with pytest.raises(ValueError, match="dimensions"):
        Rotate()(images[0, 0], gen())
    with pytest.raises(ValueError, match="torch.Generator"):
        Rotate()(images, np.random.default_rng(0))
    with pytest.raises(ValueError, match="magnitude"):
        RandAugment(magnitude=2)
    with pytest.raises(ValueError, match="ops"):
        UniformAugment(ops=[len])
    y = np.zeros(5)
    with pytest.raises(ValueError, match="dimensions"):
        ImageAugmenter().fit_resample(np.zeros((5, 64)), y)
    with pytest.raises(ValueError, match="one label per image"):
        ImageAugmenter().fit_resample(np.zeros((5, 8, 8)), np.zeros(4))
    with pytest.raises(ValueError, match="NaN"):
        ImageAugmenter().fit_resample(np.full((5, 8, 8), np.nan), y)
    with pytest.raises(ValueError, match="magnitude"):
        ImageAugmenter(magnitude=1.5).fit_resample(np.zeros((5, 8, 8)), y)
    with pytest.raises(ValueError, match="n_copies"):
        ImageAugmenter(n_copies=0).fit_resample(np.zeros((5, 8, 8)), y)
