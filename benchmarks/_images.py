"""Image sets at realistic sizes and the strong hand-written CNN they are measured against.

* ``digits_images(size)``: scikit-learn's 8x8 digits, upscaled bilinearly to
  ``size x size`` (1 channel, pixel values 0..16).
* ``distorted_digits(size, copies)``: each 8x8 digit upscaled and drawn
  ``copies`` times under a random affine warp (rotation, scale, shear,
  shift) with pixel noise — an MNIST-like set of ~5,400 28x28 images whose
  ``groups`` (the original digit) let a split keep every copy of a test
  digit out of training.
* ``shapes_images(n, size)``: a generated 3 x size x size set of 10 classes —
  a filled or outlined shape (disc, square, triangle, cross, ring, bar,
  diamond, two discs, L, X) in a random colour, position and scale, on a
  background of random colour gradients and pixel noise.
* ``HandWrittenCNN``: the issue's strong baseline — two conv-BN-ReLU pairs at
  32 and 64 channels with max pooling, a 128-channel conv, global pooling,
  dropout; AdamW with a one-cycle schedule, random shifts of +-2 pixels (of
  28: scaled with the size), label smoothing 0.05; trained for a wall time.
"""
import math
import time

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn
from torch.nn import functional as F


def digits_images(size):
    """Digits as (1797, 1, size, size) float32 images and their labels."""
    X, y = load_digits(return_X_y=True)
    X = torch.as_tensor(X.reshape(-1, 1, 8, 8), dtype=torch.float32)
    if size != 8:
        X = F.interpolate(X, size=(size, size), mode="bilinear", align_corners=False)
    return X.numpy(), y


def distorted_digits(size=28, copies=3, seed=0):
    """``copies`` random affine warps of every digit at ``size x size``: images (in [0, 16]), labels, groups."""
    X, y = digits_images(size)
    generator = torch.Generator().manual_seed(seed)
    n = len(X) * copies
    images = torch.as_tensor(X).repeat(copies, 1, 1, 1)

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator)

    angle, scale = uniform(-0.4, 0.4), uniform(0.7, 1.1)
    shear, shift = uniform(-0.35, 0.35), torch.stack([uniform(-0.15, 0.15), uniform(-0.15, 0.15)], 1)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin + shear, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, images.shape, align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    warped = (warped + torch.randn(warped.shape, generator=generator) * 3.0).clamp(0, 16)
    return warped.numpy(), np.tile(y, copies), np.tile(np.arange(len(y)), copies)


def _shape_mask(kind, yy, xx, cy, cx, r, filled):
    dy, dx = yy - cy, xx - cx
    dist = np.sqrt(dy**2 + dx**2)
    cheb = np.maximum(np.abs(dy), np.abs(dx))
    width = max(r * 0.3, 1.0)
    if kind == 0:  # disc
        m = dist <= r
    elif kind == 1:  # square
        m = cheb <= r * 0.85
    elif kind == 2:  # triangle, apex up
        m = (dy <= r * 0.8) & (dy >= -r) & (np.abs(dx) <= (dy + r) * 0.6)
    elif kind == 3:  # plus
        m = ((np.abs(dx) <= width) & (np.abs(dy) <= r)) | ((np.abs(dy) <= width) & (np.abs(dx) <= r))
    elif kind == 4:  # ring
        return (dist <= r) & (dist >= r * 0.55)
    elif kind == 5:  # horizontal bar
        m = (np.abs(dy) <= width) & (np.abs(dx) <= r * 1.2)
    elif kind == 6:  # diamond
        m = np.abs(dy) + np.abs(dx) <= r
    elif kind == 7:  # two discs
        m = (np.sqrt(dy**2 + (dx - r * 0.6) ** 2) <= r * 0.45) | (np.sqrt(dy**2 + (dx + r * 0.6) ** 2) <= r * 0.45)
    elif kind == 8:  # L
        m = ((np.abs(dx + r * 0.6) <= width) & (np.abs(dy) <= r)) | ((np.abs(dy - r * 0.8) <= width) & (np.abs(dx) <= r))
    else:  # X
        m = (np.abs(dy - dx) <= width * 1.2) | (np.abs(dy + dx) <= width * 1.2)
        m &= cheb <= r
    if not filled:
        inner = _shape_mask(kind, yy, xx, cy, cx, r * 0.6, True)
        m = m & ~inner
    return m


def shapes_images(n=3000, size=32, seed=0):
    """A generated (n, 3, size, size) float32 set of 10 shape classes in [0, 1], and labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    X = np.empty((n, 3, size, size), dtype=np.float32)
    y = np.arange(n) % 10
    rng.shuffle(y)
    for i in range(n):
        a, b = rng.random(3), rng.random(3)
        angle = rng.uniform(0, 2 * math.pi)
        ramp = (np.cos(angle) * xx + np.sin(angle) * yy) / size
        ramp = (ramp - ramp.min()) / max(np.ptp(ramp), 1e-6)
        background = a[:, None, None] * (1 - ramp) + b[:, None, None] * ramp
        background += rng.normal(0, 0.08, (3, size, size))
        r = rng.uniform(0.18, 0.32) * size
        cy, cx = rng.uniform(r, size - r, 2)
        mask = _shape_mask(y[i], yy, xx, cy, cx, r, filled=rng.random() < 0.7)
        colour = rng.random(3)
        while np.abs(colour - background[:, int(cy), int(cx)]).sum() < 0.6:
            colour = rng.random(3)
        image = np.where(mask[None], colour[:, None, None] + rng.normal(0, 0.05, (3, size, size)), background)
        X[i] = np.clip(image, 0, 1)
    return X, y


class _Net(nn.Module):
    def __init__(self, n_channels, n_classes):
        super().__init__()

        def block(n_in, n_out):
            return [nn.Conv2d(n_in, n_out, 3, padding=1, bias=False), nn.BatchNorm2d(n_out), nn.ReLU()]

        self.features = nn.Sequential(
            *block(n_channels, 32), *block(32, 32), nn.MaxPool2d(2),
            *block(32, 64), *block(64, 64), nn.MaxPool2d(2),
            *block(64, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
        )
        self.head = nn.Linear(128, n_classes)

    def forward(self, x):
        return self.head(self.features(x))


def _shift(x, pad, generator):
    """Random whole-pixel shifts of up to ``pad`` pixels per axis (zero padding after standardising)."""
    n, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h)[None])[:, None, :, None].expand(n, x.shape[1], h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (dx[:, None] + torch.arange(w)[None])[:, None, None, :].expand(n, x.shape[1], h, w)
    return out.gather(3, cols)


def _one_cycle(progress, warmup=0.3, start=0.04, end=1e-4):
    """One-cycle learning-rate factor at ``progress`` in [0, 1]: cosine up over ``warmup``, then cosine down."""
    if progress < warmup:
        return start + (1 - start) * (1 - math.cos(math.pi * progress / warmup)) / 2
    return end + (1 - end) * (1 + math.cos(math.pi * (progress - warmup) / (1 - warmup))) / 2


class HandWrittenCNN:
    """The strong hand-written baseline, trained for ``seconds`` of wall time on a one-cycle schedule of that time."""

    def __init__(self, seconds, batch_size=64, lr=3e-3, weight_decay=5e-4, smoothing=0.05, seed=0):
        self.seconds, self.batch_size, self.lr = seconds, batch_size, lr
        self.weight_decay, self.smoothing, self.seed = weight_decay, smoothing, seed

    def fit(self, X, y):
        started = time.perf_counter()
        torch.manual_seed(self.seed)
        generator = torch.Generator().manual_seed(self.seed)
        X = torch.as_tensor(X, dtype=torch.float32)
        self.mean = X.mean(dim=(0, 2, 3), keepdim=True)
        self.std = X.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
        X = (X - self.mean) / self.std
        y = torch.as_tensor(y, dtype=torch.int64)
        self.classes_ = np.unique(y.numpy())
        self.net = _Net(X.shape[1], len(self.classes_))
        optimizer = torch.optim.AdamW(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        pad = max(1, round(2 * X.shape[-1] / 28))
        # A one-cycle schedule over the wall time rather than over steps, so the training fills the time exactly.
        self.epochs_ = 0
        while time.perf_counter() - started < self.seconds:
            self._epoch(X, y, optimizer, started, pad, generator)
            self.epochs_ += 1
        self.fit_seconds_ = time.perf_counter() - started
        return self

    def _epoch(self, X, y, optimizer, started, pad, generator):
        self.net.train()
        order = torch.randperm(len(X), generator=generator)
        for start in range(0, len(X), self.batch_size):
            progress = min((time.perf_counter() - started) / self.seconds, 1.0)
            for group in optimizer.param_groups:
                group["lr"] = self.lr * _one_cycle(progress)
            batch = order[start : start + self.batch_size]
            loss = F.cross_entropy(self.net(_shift(X[batch], pad, generator)), y[batch], label_smoothing=self.smoothing)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def predict(self, X):
        self.net.eval()
        X = (torch.as_tensor(X, dtype=torch.float32) - self.mean) / self.std
        with torch.no_grad():
            logits = torch.cat([self.net(X[i : i + 512]) for i in range(0, len(X), 512)])
        return self.classes_[logits.argmax(1).numpy()]

    def score(self, X, y):
        return float(np.mean(self.predict(X) == np.asarray(y)))
