"""The torch modules of morphable networks: plain chains that Net2Net transforms can edit."""
import math

import numpy as np
from torch import nn

from ..space._modules import conv_bn


class MorphLayer(nn.Module):
    """``transform`` (linear or convolution, no bias) -> batch norm -> ReLU -> ``pool``.

    The transform has no bias because the batch norm's shift plays its part.
    ``pool`` is a 2x2 max pooling or the identity.
    """

    def __init__(self, transform, norm, pool=None):
        super().__init__()
        self.transform = transform
        self.norm = norm
        self.act = nn.ReLU()
        self.pool = nn.Identity() if pool is None else pool

    def forward(self, x):
        return self.pool(self.act(self.norm(self.transform(x))))


def linear_layer(n_in, n_out):
    return MorphLayer(nn.Linear(n_in, n_out, bias=False), nn.BatchNorm1d(n_out))


def conv_layer(n_in, n_out, kernel_size, pool=False):
    conv, norm = conv_bn(n_in, n_out, kernel_size, relu=None)  # MorphLayer adds the ReLU
    return MorphLayer(conv, norm, nn.MaxPool2d(2, 2, ceil_mode=True) if pool else None)


class MorphNet(nn.Module):
    """A chain of :class:`MorphLayer` and a linear ``head``, built from a ``MorphArchitecture``.

    Tabular networks (``kind='mlp'``) flatten their input; image networks
    (``kind='cnn'``) keep the resolution with 'same' padding, halve it where
    the architecture pools (a pool at 1x1 becomes the identity), and average
    the last feature map over space before the head.

    Attributes
    ----------
    architecture : MorphArchitecture
        Kept up to date by the morphism transforms.
    input_shape : tuple of int
    """

    def __init__(self, architecture, input_shape, n_outputs):
        super().__init__()
        self.architecture = architecture
        self.input_shape = tuple(int(v) for v in input_shape)
        self.layers = nn.ModuleList()
        if architecture.kind == "mlp":
            n_in = int(np.prod(self.input_shape))
            for width in architecture.widths:
                self.layers.append(linear_layer(n_in, width))
                n_in = width
        else:
            if len(self.input_shape) != 3:
                raise ValueError(
                    "A morphism CNN takes images of shape (channels, height, width); got "
                    f"input_shape={self.input_shape}."
                )
            n_in, height, width = self.input_shape
            for n_out, size, pool in zip(architecture.widths, architecture.kernel_sizes, architecture.pools):
                pool = pool and (height > 1 or width > 1)
                self.layers.append(conv_layer(n_in, n_out, size, pool))
                if pool:
                    height, width = math.ceil(height / 2), math.ceil(width / 2)
                n_in = n_out
        self.head = nn.Linear(n_in, n_outputs)

    def forward(self, x):
        if self.architecture.kind == "mlp":
            x = x.flatten(1)
        for layer in self.layers:
            x = layer(x)
        if x.dim() == 4:
            x = x.mean(dim=(2, 3))
        return self.head(x)
