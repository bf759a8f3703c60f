"""Batched image augmentation in plain torch: ops, mixup/cutmix, policies, a sampler.

Every op works on a whole batch at once (no Python loop over images) on the
device of the tensor it is given, so it runs on the GPU when the images are
there. Randomness comes only from the ``torch.Generator`` passed in (random
numbers are drawn on the generator's device, then moved to the images'
device), never from torch's global random state.

Images are ``(N, C, H, W)`` or ``(N, H, W)`` tensors. Outputs keep the shape,
the dtype (integer images are rounded back) and the value range: results are
clamped to ``value_range`` or, when it is ``None``, to the minimum and maximum
of the input batch. Pixels moved in from outside the image (rotations,
translations, crops, cutout) take the low end of that range.
"""
from numbers import Integral, Real

import numpy as np
import torch
import torch.nn.functional as F
from imblearn.base import BaseSampler
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets

from ..._utils._random import SEED_MAX
from ..._utils._compat import Interval, StrOptions

__all__ = [
    "Brightness",
    "ChannelShuffle",
    "Contrast",
    "Cutout",
    "ElasticDeform",
    "GaussianBlur",
    "HorizontalFlip",
    "ImageAugmenter",
    "RandAugment",
    "RandomCrop",
    "Rotate",
    "Scale",
    "Translate",
    "UniformAugment",
    "VerticalFlip",
    "cutmix",
    "mixup",
]


# --------------------------------------------------------------------------- helpers
def _check_unit(name, value):
    if isinstance(value, bool) or not isinstance(value, Real) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}.")
    return float(value)


def _check_value_range(value_range):
    if value_range is None:
        return None
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise ValueError(f"value_range must be None or a pair (low, high), got {value_range!r}.") from None
    if not lo < hi:
        raise ValueError(f"value_range must have low < high, got {value_range!r}.")
    return lo, hi


def _check_generator(generator):
    if not isinstance(generator, torch.Generator):
        raise ValueError(
            "generator must be a torch.Generator, e.g. torch.Generator().manual_seed(0); "
            f"got {type(generator).__name__}."
        )


def _as_batch(images):
    """Return a float (N, C, H, W) view of ``images`` and what is needed to undo it."""
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a torch.Tensor, got {type(images).__name__}.")
    if images.ndim not in (3, 4):
        raise ValueError(
            f"images must have shape (N, H, W) or (N, C, H, W), got {images.ndim} dimensions "
            f"{tuple(images.shape)}."
        )
    if images.dtype == torch.bool or images.is_complex():
        raise ValueError(f"images must be real numbers, got dtype {images.dtype}.")
    x = images.unsqueeze(1) if images.ndim == 3 else images
    if not x.is_floating_point():
        x = x.to(torch.float32)
    return x, (images.ndim, images.dtype)


def _restore(x, info, lo, hi):
    ndim, dtype = info
    if not dtype.is_floating_point:
        x = x.round()
    x = torch.maximum(torch.minimum(x, hi), lo).to(dtype)
    return x.squeeze(1) if ndim == 3 else x


def _range(x, value_range):
    """Low and high ends, as 0-d tensors on the images' device."""
    if value_range is None:
        if x.numel() == 0:
            return x.new_tensor(0.0), x.new_tensor(1.0)
        return x.amin().detach(), x.amax().detach()
    return x.new_tensor(value_range[0]), x.new_tensor(value_range[1])


def _rand(shape, generator, like):
    """Uniform [0, 1) numbers from ``generator``, moved to the images' device and dtype."""
    return torch.rand(shape, generator=generator, device=generator.device).to(like.device, like.dtype)


def _sign(n, generator, like):
    return torch.where(_rand((n,), generator, like) < 0.5, -1.0, 1.0).to(like.dtype)


def _warp(x, theta, lo):
    """Apply per-image affine maps (N, 2, 3), in normalised output->input coordinates."""
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    # Shift by ``lo`` so that zero padding means "fill with the low end of the range".
    return F.grid_sample(x - lo, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + lo


def _shift_int(x, dy, dx, fill):
    """Shift each image by whole pixels (dy, dx: (N,) long); exposed pixels get ``fill``."""
    n, c, h, w = x.shape
    ys = torch.arange(h, device=x.device)[None, :] - dy[:, None]  # (N, H) source rows
    xs = torch.arange(w, device=x.device)[None, :] - dx[:, None]  # (N, W) source columns
    valid = ((ys >= 0) & (ys < h))[:, :, None] & ((xs >= 0) & (xs < w))[:, None, :]
    out = x.gather(2, ys.clamp(0, h - 1)[:, None, :, None].expand(n, c, h, w))
    out = out.gather(3, xs.clamp(0, w - 1)[:, None, None, :].expand(n, c, h, w))
    return torch.where(valid[:, None], out, fill)


def _gaussian_blur(x, sigma):
    """Separable Gaussian blur with a per-image ``sigma`` (N,); sigma 0 leaves the image as is."""
    n, c, h, w = x.shape
    max_sigma = float(sigma.max()) if n else 0.0
    if max_sigma <= 0:
        return x
    radius = max(1, min(int(np.ceil(3 * max_sigma)), max(h, w) - 1))
    offsets = torch.arange(-radius, radius + 1, device=x.device, dtype=x.dtype)
    safe = sigma.clamp_min(1e-6)[:, None]
    kernel = torch.exp(-0.5 * (offsets[None, :] / safe) ** 2)
    kernel = torch.where(sigma[:, None] > 0, kernel, (offsets == 0).to(x.dtype)[None, :])
    kernel = kernel / kernel.sum(dim=1, keepdim=True)  # (N, K)
    kernel = kernel.repeat_interleave(c, dim=0)  # (N*C, K): one kernel per image and channel
    flat = x.reshape(1, n * c, h, w)
    flat = F.pad(flat, (radius, radius, radius, radius), mode="replicate")
    flat = F.conv2d(flat, kernel[:, None, :, None], groups=n * c)  # along H
    flat = F.conv2d(flat, kernel[:, None, None, :], groups=n * c)  # along W
    return flat.reshape(n, c, h, w)


# --------------------------------------------------------------------------- ops
class _ImageOp:
    """Base class: subclasses implement ``_apply(x, magnitude, lo, hi, generator)``.

    ``x`` is a float (N, C, H, W) tensor, ``magnitude`` a (N,) tensor in [0, 1]
    (policies give each image its own), ``lo`` and ``hi`` 0-d tensors.
    """

    def __init__(self, magnitude=0.5, probability=0.5, value_range=None):
        # Ops are plain callables, not estimators: checking here reports a bad
        # value where it was written.
        self.magnitude = _check_unit("magnitude", magnitude)
        self.probability = _check_unit("probability", probability)
        self.value_range = _check_value_range(value_range)

    def __repr__(self):
        return (
            f"{type(self).__name__}(magnitude={self.magnitude}, probability={self.probability}"
            + (f", value_range={self.value_range})" if self.value_range is not None else ")")
        )

    def __call__(self, images, generator):
        """Augment a batch; each image is changed with probability ``probability``.

        Parameters
        ----------
        images : torch.Tensor of shape (N, C, H, W) or (N, H, W)
            The batch; it is not modified.
        generator : torch.Generator
            Source of all randomness.

        Returns
        -------
        torch.Tensor
            Same shape, dtype and device as ``images``.
        """
        _check_generator(generator)
        x, info = _as_batch(images)
        lo, hi = _range(x, self.value_range)
        n = x.shape[0]
        apply = _rand((n,), generator, x) < self.probability
        magnitude = torch.full((n,), self.magnitude, dtype=x.dtype, device=x.device)
        out = self._apply(x, magnitude, lo, hi, generator)
        out = torch.where(apply[:, None, None, None], out, x)
        return _restore(out, info, lo, hi)

    def _apply(self, x, magnitude, lo, hi, generator):
        raise NotImplementedError


_OP_DOC_TAIL = """
    Parameters
    ----------
    magnitude : float in [0, 1], default=0.5
        Strength, mapped to the op's natural range as described above.
    probability : float in [0, 1], default=0.5
        Chance that each image is changed.
    value_range : (float, float) or None, default=None
        Range the output is clamped to, and whose low end fills pixels moved in
        from outside; ``None`` uses the minimum and maximum of the input batch.
"""


def _doc(cls):
    cls.__doc__ = cls.__doc__.replace("{params}", _OP_DOC_TAIL.strip("\n"))
    return cls


@_doc
class Rotate(_ImageOp):
    """Rotate about the centre by ``30 * magnitude`` degrees, clockwise or not at random.

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import Rotate
    >>> images = torch.rand(4, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> out = Rotate(magnitude=0.5, probability=1.0)(images, torch.Generator().manual_seed(1))
    >>> out.shape, out.dtype
    (torch.Size([4, 3, 8, 8]), torch.float32)
    """

    max_degrees = 30.0

    def _apply(self, x, magnitude, lo, hi, generator):
        n, _, h, w = x.shape
        angle = torch.deg2rad(magnitude * self.max_degrees) * _sign(n, generator, x)
        cos, sin = torch.cos(angle), torch.sin(angle)
        zero = torch.zeros_like(angle)
        # Normalised coordinates are stretched by the aspect ratio: rotate in pixel units.
        theta = torch.stack(
            [torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1
        )
        return _warp(x, theta, lo)


@_doc
class Scale(_ImageOp):
    """Zoom about the centre by a factor ``1 +/- 0.4 * magnitude`` (in or out at random).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import Scale
    >>> images = torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> Scale(probability=1.0)(images, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 8, 8])
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        n = x.shape[0]
        factor = 1.0 + 0.4 * magnitude * _sign(n, generator, x)
        inv = 1.0 / factor
        zero = torch.zeros_like(inv)
        theta = torch.stack([torch.stack([inv, zero, zero], 1), torch.stack([zero, inv, zero], 1)], 1)
        return _warp(x, theta, lo)


@_doc
class Translate(_ImageOp):
    """Shift by up to ``0.3 * magnitude`` of the width and height (uniform in each axis).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import Translate
    >>> images = torch.rand(2, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> Translate(probability=1.0)(images, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 1, 8, 8])
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        n = x.shape[0]
        # A shift of ``f`` of the size is ``2 f`` in normalised [-1, 1] coordinates.
        t = (2 * _rand((n, 2), generator, x) - 1) * (0.6 * magnitude)[:, None]
        one, zero = torch.ones_like(magnitude), torch.zeros_like(magnitude)
        theta = torch.stack(
            [torch.stack([one, zero, -t[:, 0]], 1), torch.stack([zero, one, -t[:, 1]], 1)], 1
        )
        return _warp(x, theta, lo)


@_doc
class RandomCrop(_ImageOp):
    """Pad by ``p = round(0.25 * magnitude * min(H, W))`` pixels, crop back at a random place.

    Padding uses the low end of the value range; the crop is pixel-exact (no
    interpolation). This is a random whole-pixel shift of up to ``p`` pixels.

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import RandomCrop
    >>> images = torch.arange(16.0).reshape(1, 4, 4)
    >>> RandomCrop(magnitude=1.0, probability=1.0)(images, torch.Generator().manual_seed(0)).shape
    torch.Size([1, 4, 4])
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        n, _, h, w = x.shape
        pad = torch.round(0.25 * magnitude * min(h, w))
        u = _rand((n, 2), generator, x)
        # Offset of the crop in the padded image is uniform over 0..2p, i.e. shift in -p..p.
        shift = (torch.floor(u * (2 * pad[:, None] + 1)) - pad[:, None]).long()
        return _shift_int(x, shift[:, 0], shift[:, 1], lo)


class _Flip(_ImageOp):
    _dim = -1

    def _apply(self, x, magnitude, lo, hi, generator):
        return x.flip(self._dim)


@_doc
class HorizontalFlip(_Flip):
    """Mirror left to right (``magnitude`` is ignored).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import HorizontalFlip
    >>> HorizontalFlip(probability=1.0)(torch.tensor([[[1.0, 2.0]]]), torch.Generator())
    tensor([[[2., 1.]]])
    """

    _dim = -1


@_doc
class VerticalFlip(_Flip):
    """Mirror top to bottom (``magnitude`` is ignored).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import VerticalFlip
    >>> VerticalFlip(probability=1.0)(torch.tensor([[[1.0], [2.0]]]), torch.Generator())
    tensor([[[2.],
             [1.]]])
    """

    _dim = -2


@_doc
class Brightness(_ImageOp):
    """Add ``+/- 0.5 * magnitude * (high - low)`` to every pixel (brighter or darker at random).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import Brightness
    >>> images = torch.full((1, 2, 2), 0.5)
    >>> Brightness(1.0, 1.0, value_range=(0, 1))(images, torch.Generator().manual_seed(0)).unique()
    tensor([1.])
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        delta = 0.5 * magnitude * _sign(x.shape[0], generator, x) * (hi - lo)
        return x + delta[:, None, None, None]


@_doc
class Contrast(_ImageOp):
    """Scale distances to each image's mean by ``1 +/- 0.9 * magnitude`` (more or less contrast).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import Contrast
    >>> images = torch.tensor([[[0.25, 0.75]]])
    >>> Contrast(1.0, 1.0, value_range=(0, 1))(images, torch.Generator().manual_seed(0))
    tensor([[[0.0250, 0.9750]]])
    >>> Contrast(1.0, 1.0, value_range=(0, 1))(images, torch.Generator().manual_seed(1))
    tensor([[[0.4750, 0.5250]]])
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        factor = 1.0 + 0.9 * magnitude * _sign(x.shape[0], generator, x)
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return mean + factor[:, None, None, None] * (x - mean)


@_doc
class GaussianBlur(_ImageOp):
    """Gaussian blur with ``sigma = 2 * magnitude`` pixels (0 leaves the image unchanged).

    The kernel radius is ``ceil(3 * sigma)``, at most the image size minus one;
    borders are replicated.

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import GaussianBlur
    >>> images = torch.zeros(1, 5, 5)
    >>> images[0, 2, 2] = 1.0
    >>> out = GaussianBlur(0.5, 1.0)(images, torch.Generator())
    >>> bool(out[0, 2, 2] < 1.0), bool(out[0, 2, 1] > 0.0)
    (True, True)
    """

    max_sigma = 2.0

    def _apply(self, x, magnitude, lo, hi, generator):
        return _gaussian_blur(x, self.max_sigma * magnitude)


@_doc
class ChannelShuffle(_ImageOp):
    """Permute the channels of each image at random (``magnitude`` is ignored).

    Single-channel images are left unchanged.

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import ChannelShuffle
    >>> images = torch.arange(3.0).reshape(1, 3, 1, 1)
    >>> out = ChannelShuffle(probability=1.0)(images, torch.Generator().manual_seed(0))
    >>> sorted(out.flatten().tolist())
    [0.0, 1.0, 2.0]
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        n, c, h, w = x.shape
        perm = _rand((n, c), generator, x).argsort(dim=1)
        return x.gather(1, perm[:, :, None, None].expand(n, c, h, w))


@_doc
class ElasticDeform(_ImageOp):
    """Elastic deformation: a smooth random displacement field moves pixels.

    Uniform noise per pixel is blurred with ``sigma = max(1, min(H, W) / 8)``,
    rescaled so that the largest displacement is ``0.1 * magnitude`` of the
    image size, then the image is resampled bilinearly.

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import ElasticDeform
    >>> images = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> ElasticDeform(probability=1.0)(images, torch.Generator().manual_seed(0)).shape
    torch.Size([2, 3, 16, 16])
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        n, _, h, w = x.shape
        noise = 2 * _rand((n, 2, h, w), generator, x) - 1
        sigma = torch.full((n,), max(1.0, min(h, w) / 8), dtype=x.dtype, device=x.device)
        field = _gaussian_blur(noise, sigma)
        peak = field.abs().amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)
        # 0.1 of the size is 0.2 in normalised [-1, 1] coordinates.
        field = field / peak * (0.2 * magnitude)[:, None, None, None]
        identity = torch.eye(2, 3, dtype=x.dtype, device=x.device).expand(n, 2, 3)
        grid = F.affine_grid(identity, list(x.shape), align_corners=False)
        grid = grid + field.permute(0, 2, 3, 1)
        return F.grid_sample(x - lo, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + lo


@_doc
class Cutout(_ImageOp):
    """Random erasing: fill a square of side ``round(0.5 * magnitude * min(H, W))`` with the low end.

    The square's centre is uniform over the image, so it may be clipped by the
    border (as in the Cutout paper).

    {params}

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import Cutout
    >>> images = torch.ones(1, 8, 8)
    >>> out = Cutout(0.5, 1.0, value_range=(0, 1))(images, torch.Generator().manual_seed(0))
    >>> bool((out == 0).any())
    True
    """

    def _apply(self, x, magnitude, lo, hi, generator):
        n, _, h, w = x.shape
        side = torch.round(0.5 * magnitude * min(h, w))
        centre = _rand((n, 2), generator, x) * x.new_tensor([h, w])
        top = torch.floor(centre[:, 0] - side / 2)
        left = torch.floor(centre[:, 1] - side / 2)
        rows = torch.arange(h, device=x.device, dtype=x.dtype)[None, :]
        cols = torch.arange(w, device=x.device, dtype=x.dtype)[None, :]
        in_rows = (rows >= top[:, None]) & (rows < (top + side)[:, None])
        in_cols = (cols >= left[:, None]) & (cols < (left + side)[:, None])
        box = in_rows[:, :, None] & in_cols[:, None, :]
        return torch.where(box[:, None], lo, x)


ALL_OPS = (
    Rotate, Scale, Translate, RandomCrop, HorizontalFlip, VerticalFlip,
    Brightness, Contrast, GaussianBlur, ChannelShuffle, ElasticDeform, Cutout,
)
# Flips and channel shuffles are left out of the policies' defaults: they
# change the meaning of many images (a mirrored digit, a blue/red swap).
DEFAULT_POLICY_OPS = (
    Rotate, Scale, Translate, RandomCrop, Brightness, Contrast, GaussianBlur, ElasticDeform, Cutout,
)


# --------------------------------------------------------------------------- mixup / cutmix
def _check_mix_inputs(images, y_onehot, alpha, generator):
    _check_generator(generator)
    if isinstance(alpha, bool) or not isinstance(alpha, Real) or not alpha > 0:
        raise ValueError(f"alpha must be a positive number, got {alpha!r}.")
    is_numpy = isinstance(images, np.ndarray)
    x = torch.from_numpy(images) if is_numpy else images
    y = torch.as_tensor(y_onehot)
    x, info = _as_batch(x)
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise ValueError(
            f"y_onehot must have shape (n_images, n_classes) = ({x.shape[0]}, n_classes), "
            f"got {tuple(y.shape)}."
        )
    y = y.to(x.device, x.dtype if x.is_floating_point() else torch.float32)
    return x, info, y, is_numpy


def _beta(alpha, n, generator):
    # torch's Beta sampler has no generator argument: seed a numpy Generator from ours.
    seed = int(torch.randint(0, 2**62, (1,), generator=generator, device=generator.device))
    return np.random.default_rng(seed).beta(alpha, alpha, size=n)


def _partners(n, generator, device):
    return torch.randperm(n, generator=generator, device=generator.device).to(device)


def _finish(out, y_mixed, info, is_numpy, lo, hi):
    out = _restore(out, info, lo, hi)
    if is_numpy:
        return out.numpy(), y_mixed.numpy()
    return out, y_mixed


def mixup(images, y_onehot, alpha, generator):
    """Mixup: blend each image (and its label) with another image of the batch.

    Image ``i`` becomes ``lam_i * x_i + (1 - lam_i) * x_j`` with ``j`` from a
    random permutation of the batch and ``lam_i ~ Beta(alpha, alpha)`` drawn per
    image; the labels are mixed with the same ``lam_i``.

    Parameters
    ----------
    images : torch.Tensor or ndarray of shape (N, C, H, W) or (N, H, W)
        The batch; it is not modified.
    y_onehot : array-like of shape (N, n_classes)
        One-hot (or soft) labels.
    alpha : float > 0
        Parameter of the Beta distribution.
    generator : torch.Generator
        Source of all randomness.

    Returns
    -------
    images_mixed : same type, shape and dtype as ``images``
    y_mixed : torch.Tensor or ndarray of shape (N, n_classes)
        Soft labels; rows sum to 1 when the rows of ``y_onehot`` do.

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import mixup
    >>> images, y = torch.rand(4, 1, 8, 8), torch.eye(4)
    >>> mixed, y_mixed = mixup(images, y, alpha=0.4, generator=torch.Generator().manual_seed(0))
    >>> torch.allclose(y_mixed.sum(1), torch.ones(4))
    True
    """
    x, info, y, is_numpy = _check_mix_inputs(images, y_onehot, alpha, generator)
    n = x.shape[0]
    lo, hi = _range(x, None)
    lam = torch.as_tensor(_beta(alpha, n, generator), dtype=x.dtype, device=x.device)
    perm = _partners(n, generator, x.device)
    out = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
    lam_y = lam.to(y.dtype)[:, None]
    return _finish(out, lam_y * y + (1 - lam_y) * y[perm], info, is_numpy, lo, hi)


def cutmix(images, y_onehot, alpha, generator):
    """CutMix: paste a random box of another image of the batch into each image.

    For image ``i``, ``lam ~ Beta(alpha, alpha)`` sets the box to
    ``sqrt(1 - lam)`` of the height and width around a uniform random centre;
    the box is clipped by the border, and the labels are mixed with the area
    actually pasted: ``y_i * (1 - area) + y_j * area`` (area as a fraction of
    the image).

    Parameters
    ----------
    images : torch.Tensor or ndarray of shape (N, C, H, W) or (N, H, W)
        The batch; it is not modified.
    y_onehot : array-like of shape (N, n_classes)
        One-hot (or soft) labels.
    alpha : float > 0
        Parameter of the Beta distribution.
    generator : torch.Generator
        Source of all randomness.

    Returns
    -------
    images_mixed : same type, shape and dtype as ``images``
    y_mixed : torch.Tensor or ndarray of shape (N, n_classes)

    Examples
    --------
    >>> import numpy as np, torch
    >>> from skautoml.prep.augment import cutmix
    >>> images, y = np.zeros((4, 8, 8)), np.eye(4)
    >>> mixed, y_mixed = cutmix(images, y, alpha=1.0, generator=torch.Generator().manual_seed(0))
    >>> mixed.shape, np.allclose(y_mixed.sum(1), 1)
    ((4, 8, 8), True)
    """
    x, info, y, is_numpy = _check_mix_inputs(images, y_onehot, alpha, generator)
    n, _, h, w = x.shape
    lo, hi = _range(x, None)
    lam = torch.as_tensor(_beta(alpha, n, generator), dtype=x.dtype, device=x.device)
    perm = _partners(n, generator, x.device)
    centre = _rand((n, 2), generator, x) * x.new_tensor([h, w])
    cut = torch.sqrt(1 - lam)
    top = torch.round(centre[:, 0] - cut * h / 2).clamp(0, h)
    bottom = torch.round(centre[:, 0] + cut * h / 2).clamp(0, h)
    left = torch.round(centre[:, 1] - cut * w / 2).clamp(0, w)
    right = torch.round(centre[:, 1] + cut * w / 2).clamp(0, w)
    rows = torch.arange(h, device=x.device, dtype=x.dtype)[None, :]
    cols = torch.arange(w, device=x.device, dtype=x.dtype)[None, :]
    in_rows = (rows >= top[:, None]) & (rows < bottom[:, None])
    in_cols = (cols >= left[:, None]) & (cols < right[:, None])
    box = in_rows[:, :, None] & in_cols[:, None, :]
    out = torch.where(box[:, None], x[perm], x)
    area = ((bottom - top) * (right - left) / (h * w)).to(y.dtype)[:, None]
    return _finish(out, (1 - area) * y + area * y[perm], info, is_numpy, lo, hi)


# --------------------------------------------------------------------------- policies
def _check_ops(ops):
    ops = DEFAULT_POLICY_OPS if ops is None else tuple(ops)
    if not ops or not all(isinstance(op, type) and issubclass(op, _ImageOp) for op in ops):
        raise ValueError(
            "ops must be None or a non-empty list of op classes from skautoml.prep.augment "
            f"(e.g. [Rotate, Cutout]), got {ops!r}."
        )
    return ops


def _check_n_ops(n_ops):
    if isinstance(n_ops, bool) or not isinstance(n_ops, Integral) or n_ops < 1:
        raise ValueError(f"n_ops must be a positive integer, got {n_ops!r}.")
    return int(n_ops)


class _Policy:
    def __call__(self, images, generator):
        """Augment a batch.

        Parameters
        ----------
        images : torch.Tensor of shape (N, C, H, W) or (N, H, W)
            The batch; it is not modified.
        generator : torch.Generator
            Source of all randomness.

        Returns
        -------
        torch.Tensor
            Same shape, dtype and device as ``images``.
        """
        _check_generator(generator)
        x, info = _as_batch(images)
        lo, hi = _range(x, self.value_range)
        n = x.shape[0]
        ops = [op(probability=1.0) for op in self._ops]
        out = x
        for _ in range(self.n_ops):
            choice = torch.floor(_rand((n,), generator, x) * len(ops)).long().clamp_max(len(ops) - 1)
            magnitude, apply = self._draw(n, generator, x)
            choice = torch.where(apply, choice, -1)  # -1: this image skips this slot
            out = out.clone() if out is x else out
            for j, op in enumerate(ops):
                idx = torch.nonzero(choice == j).flatten()
                if idx.numel():
                    # Each op sees only its images, all at once; clamp between ops
                    # so that no op works on values outside the range.
                    res = op._apply(out[idx], magnitude[idx], lo, hi, generator)
                    out[idx] = torch.maximum(torch.minimum(res, hi), lo)
        return _restore(out, info, lo, hi)


class RandAugment(_Policy):
    """RandAugment: ``n_ops`` ops in a row, each drawn uniformly per image, all of magnitude M.

    For each of the ``n_ops`` slots every image draws its own op uniformly from
    ``ops`` (with replacement across slots); all ops use the same ``magnitude``
    and are always applied (as in the RandAugment paper). The images that drew
    the same op are processed together in one batched call.

    Parameters
    ----------
    n_ops : int, default=2
        Number of ops applied to each image.
    magnitude : float in [0, 1], default=0.5
        Magnitude of every op.
    ops : list of op classes or None, default=None
        The ops to draw from; ``None`` means Rotate, Scale, Translate,
        RandomCrop, Brightness, Contrast, GaussianBlur, ElasticDeform and
        Cutout (flips and channel shuffles change what many images show, so
        they are opt-in).
    value_range : (float, float) or None, default=None
        Range of the output; ``None`` uses the input batch's minimum and maximum.

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import RandAugment
    >>> images = torch.rand(16, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    >>> out = RandAugment(n_ops=2, magnitude=0.5)(images, torch.Generator().manual_seed(0))
    >>> out.shape, bool(out.min() >= images.min()), bool(out.max() <= images.max())
    (torch.Size([16, 3, 32, 32]), True, True)
    """

    def __init__(self, n_ops=2, magnitude=0.5, ops=None, value_range=None):
        self.n_ops = _check_n_ops(n_ops)
        self.magnitude = _check_unit("magnitude", magnitude)
        self.ops = ops
        self._ops = _check_ops(ops)
        self.value_range = _check_value_range(value_range)

    def __repr__(self):
        return f"RandAugment(n_ops={self.n_ops}, magnitude={self.magnitude})"

    def _draw(self, n, generator, like):
        return (
            torch.full((n,), self.magnitude, dtype=like.dtype, device=like.device),
            torch.ones(n, dtype=torch.bool, device=like.device),
        )


class UniformAugment(_Policy):
    """UniformAugment: ``n_ops`` slots, each a uniform op with a uniform magnitude and probability.

    For each slot and each image: an op drawn uniformly from ``ops``, a
    magnitude drawn uniformly from [0, 1], and a probability ``p ~ U(0, 1)``
    with which the op is applied (as in the UniformAugment paper). Nothing is
    to tune but ``n_ops``.

    Parameters
    ----------
    n_ops : int, default=2
        Number of slots.
    ops : list of op classes or None, default=None
        The ops to draw from; ``None`` is the same default as :class:`RandAugment`.
    value_range : (float, float) or None, default=None
        Range of the output; ``None`` uses the input batch's minimum and maximum.

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import UniformAugment
    >>> images = torch.rand(16, 8, 8, generator=torch.Generator().manual_seed(0))
    >>> UniformAugment()(images, torch.Generator().manual_seed(0)).shape
    torch.Size([16, 8, 8])
    """

    def __init__(self, n_ops=2, ops=None, value_range=None):
        self.n_ops = _check_n_ops(n_ops)
        self.ops = ops
        self._ops = _check_ops(ops)
        self.value_range = _check_value_range(value_range)

    def __repr__(self):
        return f"UniformAugment(n_ops={self.n_ops})"

    def _draw(self, n, generator, like):
        u = _rand((n, 3), generator, like)
        return u[:, 0], u[:, 1] < u[:, 2]  # magnitude ~ U(0, 1); applied with p ~ U(0, 1)


# --------------------------------------------------------------------------- sampler
class ImageAugmenter(BaseSampler):
    """Over-sample image data with augmented copies of every image.

    ``fit_resample`` returns the original images first, then ``n_copies``
    augmented copies of the whole set (copy ``k`` of image ``i`` is row
    ``(k + 1) * N + i``), each with the label of its source image. Use it in
    an :class:`imblearn.pipeline.Pipeline` so that only training folds are
    augmented.

    imbalanced-learn's own input checks accept 2-D ``X`` only; images are
    ``(N, H, W)`` or ``(N, C, H, W)``, so ``fit_resample`` and ``fit`` are
    overridden with checks for image arrays (finite real numbers, a label per
    image) before ``_fit_resample``. Every class is augmented alike, so there
    is no ``sampling_strategy``.

    Parameters
    ----------
    policy : {'randaugment', 'uniformaugment'} or callable, default='randaugment'
        How each copy is made: :class:`RandAugment` (with ``n_ops`` and
        ``magnitude``), :class:`UniformAugment` (with ``n_ops``), or any
        callable ``policy(images, generator) -> images`` on (N, C, H, W)
        tensors, such as a single op.
    n_copies : int, default=1
        Augmented copies per image.
    n_ops : int, default=2
        Ops per image for the built-in policies.
    magnitude : float in [0, 1], default=0.5
        Magnitude for ``'randaugment'``.
    batch_size : int, default=1024
        Images augmented per call, to bound memory.
    random_state : int, RandomState instance or None, default=None
        Seeds the torch.Generator that drives the augmentation.

    Attributes
    ----------
    sample_indices_ : ndarray of shape (N * (n_copies + 1),)
        Index of the source image of each output row.
    input_shape_ : tuple
        Shape of one image, ``(H, W)`` or ``(C, H, W)``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.prep.augment import ImageAugmenter
    >>> digits = load_digits()
    >>> X, y = digits.images[:100], digits.target[:100]
    >>> X_res, y_res = ImageAugmenter(n_copies=1, random_state=0).fit_resample(X, y)
    >>> X_res.shape, y_res.shape
    ((200, 8, 8), (200,))
    >>> bool((X_res[:100] == X).all() and (y_res[100:] == y).all())
    True
    """

    _sampling_type = "over-sampling"

    _parameter_constraints: dict = {
        "policy": [StrOptions({"randaugment", "uniformaugment"}), callable],
        "n_copies": [Interval(Integral, 1, None, closed="left")],
        "n_ops": [Interval(Integral, 1, None, closed="left")],
        "magnitude": [Interval(Real, 0, 1, closed="both")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self, policy="randaugment", n_copies=1, n_ops=2, magnitude=0.5, batch_size=1024, random_state=None
    ):
        self.policy = policy
        self.n_copies = n_copies
        self.n_ops = n_ops
        self.magnitude = magnitude
        self.batch_size = batch_size
        self.random_state = random_state

    def _check_images(self, X, y):
        if isinstance(X, torch.Tensor):
            X = X.detach().cpu().numpy()
        X = np.asarray(X)
        if X.ndim not in (3, 4):
            raise ValueError(
                f"ImageAugmenter expects images of shape (N, H, W) or (N, C, H, W), got an array "
                f"with {X.ndim} dimensions {X.shape}; reshape flattened rows to images first."
            )
        if X.dtype.kind not in "iuf":
            raise ValueError(f"ImageAugmenter expects real-valued images, got dtype {X.dtype}.")
        if X.dtype.kind == "f" and not np.isfinite(X).all():
            raise ValueError("ImageAugmenter: the images contain NaN or infinite values.")
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(X):
            raise ValueError(
                f"y must be 1-D with one label per image ({len(X)}), got shape {y.shape}."
            )
        check_classification_targets(y)
        if len(X) == 0:
            raise ValueError("ImageAugmenter needs at least one image, got 0.")
        return X, y

    def fit(self, X, y):
        """Check the parameters and inputs; use ``fit_resample`` to augment.

        Parameters
        ----------
        X : ndarray of shape (N, H, W) or (N, C, H, W)
        y : array-like of shape (N,)

        Returns
        -------
        self : ImageAugmenter
        """
        self._validate_params()
        X, _ = self._check_images(X, y)
        self.input_shape_ = X.shape[1:]
        return self

    def fit_resample(self, X, y):
        """Return the images followed by ``n_copies`` augmented copies, with their labels.

        Parameters
        ----------
        X : ndarray of shape (N, H, W) or (N, C, H, W)
            Images; not modified.
        y : array-like of shape (N,)
            Labels.

        Returns
        -------
        X_resampled : ndarray of shape (N * (n_copies + 1), ...)
            Same dtype as ``X``.
        y_resampled : ndarray of shape (N * (n_copies + 1),)
        """
        self._validate_params()
        X, y = self._check_images(X, y)
        self.input_shape_ = X.shape[1:]
        return self._fit_resample(X, y)

    def _policy(self, X):
        # The built-in policies get the whole data set's range, so that every
        # batch is clamped alike.
        lo, hi = float(X.min()), float(X.max())
        value_range = (lo, hi) if lo < hi else None
        if self.policy == "randaugment":
            return RandAugment(n_ops=self.n_ops, magnitude=self.magnitude, value_range=value_range)
        if self.policy == "uniformaugment":
            return UniformAugment(n_ops=self.n_ops, value_range=value_range)
        return self.policy

    def _fit_resample(self, X, y):
        policy = self._policy(X)
        seed = int(check_random_state(self.random_state).randint(SEED_MAX))
        generator = torch.Generator().manual_seed(seed)
        n = len(X)
        images = torch.from_numpy(np.ascontiguousarray(X))
        if images.ndim == 3:
            images = images.unsqueeze(1)
        copies = [X]
        for _ in range(self.n_copies):
            parts = []
            for start in range(0, n, self.batch_size):
                batch = images[start:start + self.batch_size]
                parts.append(self._augment_batch(policy, batch, generator))
            copies.append(torch.cat(parts).reshape(X.shape).numpy().astype(X.dtype, copy=False))
        self.sample_indices_ = np.tile(np.arange(n), self.n_copies + 1)
        return np.concatenate(copies), y[self.sample_indices_]

    def _augment_batch(self, policy, batch, generator):
        out = policy(batch.clone(), generator)
        if not isinstance(out, torch.Tensor) or out.shape != batch.shape:
            raise ValueError(
                f"policy must return a tensor of the batch's shape {tuple(batch.shape)}, got "
                f"{type(out).__name__} {tuple(getattr(out, 'shape', ()))}."
            )
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.sampler_tags.sample_indices = True
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        return tags
