"""Function-preserving transforms of trained networks (Chen et al., 2016, "Net2Net").

Each transform returns a new module (the parent is left as it was) whose
output, in evaluation mode, equals the parent's up to rounding, together with
the new architecture. Batch norm is handled: widened units copy their
source's statistics and affine parameters, and an inserted layer's batch norm
is set up to undo its own normalisation.
"""
import copy

import numpy as np
import torch
from torch import nn

from ._modules import MorphLayer, MorphNet
from ._space import Morphism


def find_morph_net(module):
    """The :class:`MorphNet` in ``module`` (the module itself, or one wrapped, e.g. behind a standardisation)."""
    if isinstance(module, MorphNet):
        return module
    found = [m for m in module.modules() if isinstance(m, MorphNet)]
    if len(found) != 1:
        raise ValueError(
            f"Morphisms edit a network built by MorphismSpace (a MorphNet); {type(module).__name__} "
            f"holds {len(found)}."
        )
    return found[0]


def _copy(module):
    child = copy.deepcopy(module)
    return child, find_morph_net(child)


def _check_layer(net, layer):
    n_layers = len(net.layers)
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) or not 0 <= layer < n_layers:
        raise ValueError(f"layer must be an int in [0, {n_layers - 1}] for {net.architecture}; got {layer!r}.")


def _like(tensor):
    return {"device": tensor.device, "dtype": tensor.dtype}


def _new_norm(old, n_units, index=None):
    """A batch norm like ``old`` for ``n_units``, its per-unit state taken from ``old`` at ``index``."""
    norm = type(old)(n_units, eps=old.eps, momentum=old.momentum, **_like(old.weight))
    if index is not None:
        with torch.no_grad():
            for name in ("weight", "bias", "running_mean", "running_var"):
                getattr(norm, name).copy_(getattr(old, name)[index])
            norm.num_batches_tracked.copy_(old.num_batches_tracked)
    return norm


def _with_weight(old, weight):
    """A copy of the linear or convolution ``old`` (no bias) holding ``weight``."""
    if isinstance(old, nn.Linear):
        new = nn.Linear(weight.shape[1], weight.shape[0], bias=False, **_like(weight))
    else:
        size = weight.shape[-1]
        new = nn.Conv2d(weight.shape[1], weight.shape[0], size, padding=size // 2, bias=False, **_like(weight))
    with torch.no_grad():
        new.weight.copy_(weight)
    return new


def _with_input_weight(old, weight):
    """``old`` (the next layer's transform or the head) taking a wider input."""
    if isinstance(old, nn.Conv2d):
        return _with_weight(old, weight)
    new = nn.Linear(weight.shape[1], weight.shape[0], bias=old.bias is not None, **_like(weight))
    with torch.no_grad():
        new.weight.copy_(weight)
        if old.bias is not None:
            new.bias.copy_(old.bias)
    return new


def net2wider(module, layer, new_width, rng=None, noise=0.0):
    """Widen layer ``layer`` to ``new_width`` units, keeping the function (Net2Wider).

    The new units replicate randomly chosen existing units (their incoming
    weights and batch-norm state), and the outgoing weights of every
    replicated unit are divided among its copies. With ``noise > 0`` the
    copies' outgoing weights are perturbed to break their symmetry; the
    perturbations sum to zero over the copies of each unit, whose activations
    are equal, so the function is still preserved.

    Parameters
    ----------
    module : nn.Module
        A :class:`MorphNet`, or a module holding one.
    layer : int
    new_width : int
        Larger than the layer's width.
    rng : numpy.random.Generator, int or None
        Chooses the replicated units and the noise.
    noise : float, default=0.0
        Standard deviation of the perturbation, relative to that of the
        outgoing weights.

    Returns
    -------
    child : nn.Module
        A new module; ``module`` is left unchanged.
    architecture : MorphArchitecture
        The child's architecture.

    Examples
    --------
    >>> import torch
    >>> from skautoml.nas.morphism import MorphismSpace, net2wider
    >>> space = MorphismSpace(kind="mlp", widths=(4, 8))
    >>> parent = space.build(space.smallest(), (3,), 2).eval()
    >>> child, arch = net2wider(parent, 0, 8, rng=0)
    >>> arch.widths
    (8,)
    >>> x = torch.randn(5, 3)
    >>> bool(torch.allclose(child.eval()(x), parent(x), atol=1e-6))
    True
    """
    parent_net = find_morph_net(module)
    _check_layer(parent_net, layer)
    old_width = parent_net.architecture.widths[layer]
    if isinstance(new_width, bool) or not isinstance(new_width, (int, np.integer)) or new_width <= old_width:
        raise ValueError(f"Net2Wider needs new_width > {old_width} (layer {layer}'s width); got {new_width!r}.")
    rng = np.random.default_rng(rng)
    child, net = _copy(module)
    target = net.layers[layer]
    mapping = np.concatenate([np.arange(old_width), rng.integers(old_width, size=new_width - old_width)])
    counts = np.bincount(mapping, minlength=old_width)
    index = torch.as_tensor(mapping, device=target.transform.weight.device)
    # Incoming side: the copies compute exactly what their source computes.
    target.transform = _with_weight(target.transform, target.transform.weight.detach()[index])
    target.norm = _new_norm(target.norm, new_width, index)
    # Outgoing side: the copies of a unit share its outgoing weights.
    following = net.layers[layer + 1] if layer + 1 < len(net.layers) else None
    out = following.transform if following is not None else net.head
    weight = out.weight.detach()
    scale = torch.as_tensor(1.0 / counts[mapping], **_like(weight))
    shape = (1, new_width) + (1,) * (weight.dim() - 2)
    new_weight = weight[:, index] * scale.reshape(shape)
    if noise > 0:
        perturbation = torch.as_tensor(rng.standard_normal(tuple(new_weight.shape)), **_like(weight))
        perturbation *= noise * float(weight.std()) if weight.numel() > 1 else noise
        # Zero sum over the copies of each unit: their activations are equal.
        group_sum = torch.zeros_like(weight).index_add_(1, index, perturbation)
        perturbation -= group_sum[:, index] * scale.reshape(shape)
        new_weight = new_weight + perturbation
    new_out = _with_input_weight(out, new_weight)
    if following is not None:
        following.transform = new_out
    else:
        net.head = new_out
    architecture = Morphism("wider", int(layer), int(new_width)).apply_to(net.architecture)
    net.architecture = architecture
    return child, architecture


def _activation_stats(module, layer, X):
    """Per-unit mean and (biased) variance of the output of layer ``layer`` on the batch ``X``.

    Taken in training mode, where the new batch norm will see them, on a copy
    so that the running statistics of ``module`` stay as they are.
    """
    module = copy.deepcopy(module)
    net = find_morph_net(module)
    captured = []
    net.layers[layer].register_forward_hook(lambda _m, _i, output: captured.append(output.detach()))
    X = torch.as_tensor(X, **_like(net.head.weight))
    # Batch norm cannot train on one sample: then the running statistics serve.
    module.train(len(X) > 1)
    with torch.no_grad():
        module(X)
    output = captured[0]
    axes = (0, 2, 3) if output.dim() == 4 else (0,)
    return output.mean(dim=axes), output.var(dim=axes, unbiased=False)


def net2deeper(module, layer, kernel_size=None, X=None):
    """Insert an identity layer after layer ``layer``, keeping the function (Net2Deeper).

    The new layer has the width of its predecessor; its linear map (or
    ``kernel_size`` convolution) is the identity, and its batch norm undoes
    its own normalisation in evaluation mode: with running statistics
    ``mean, var``, weight ``sqrt(var + eps)`` and bias ``mean`` give
    ``norm(x) = x``. Its input comes out of a ReLU (or a max pooling of one),
    so the new ReLU passes it unchanged.

    With ``X`` (a batch of inputs of ``module``), ``mean`` and ``var`` are
    the statistics of the new layer's input on ``X`` in training mode, so
    that the new batch norm is nearly the identity in training mode too,
    where it normalises by batch statistics (exactly, on the batch ``X``);
    without ``X`` they are 0 and 1.

    Parameters
    ----------
    module : nn.Module
        A :class:`MorphNet`, or a module holding one.
    layer : int
        The new layer goes right after this one.
    kernel_size : odd int or None
        Kernel of an inserted convolution (required for CNNs, ignored for MLPs).
    X : array-like or tensor, optional
        Inputs of ``module`` for the batch-norm statistics.

    Returns
    -------
    child : nn.Module
    architecture : MorphArchitecture

    Examples
    --------
    >>> import torch
    >>> from skautoml.nas.morphism import MorphismSpace, net2deeper
    >>> space = MorphismSpace(kind="cnn", widths=(4,), kernel_sizes=(3,))
    >>> parent = space.build(space.smallest(), (1, 6, 6), 3).eval()
    >>> child, arch = net2deeper(parent, 0, kernel_size=3)
    >>> str(arch)
    'morph-cnn 4k3p-4k3'
    >>> x = torch.randn(2, 1, 6, 6)
    >>> bool(torch.allclose(child.eval()(x), parent(x), atol=1e-6))
    True
    """
    parent_net = find_morph_net(module)
    _check_layer(parent_net, layer)
    kind = parent_net.architecture.kind
    if kind == "mlp":
        kernel_size = None
    elif (
        kernel_size is None
        or isinstance(kernel_size, bool)
        or int(kernel_size) != kernel_size
        or kernel_size % 2 == 0
    ):
        raise ValueError(f"Net2Deeper on a CNN needs an odd kernel_size; got {kernel_size!r}.")
    width = parent_net.architecture.widths[layer]
    previous = parent_net.layers[layer]
    like = _like(previous.transform.weight)
    if X is not None:
        mean, var = _activation_stats(module, layer, X)
    else:
        mean, var = torch.zeros(width, **like), torch.ones(width, **like)
    child, net = _copy(module)
    if kind == "mlp":
        transform = nn.Linear(width, width, bias=False, **like)
        identity = torch.eye(width, **like)
    else:
        kernel_size = int(kernel_size)
        transform = nn.Conv2d(width, width, kernel_size, padding=kernel_size // 2, bias=False, **like)
        identity = torch.zeros(width, width, kernel_size, kernel_size, **like)
        centre = kernel_size // 2
        identity[torch.arange(width), torch.arange(width), centre, centre] = 1.0
    norm = _new_norm(previous.norm, width)
    with torch.no_grad():
        transform.weight.copy_(identity)
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)
        norm.weight.copy_(torch.sqrt(var + norm.eps))
        norm.bias.copy_(mean)
    net.layers.insert(layer + 1, MorphLayer(transform, norm))
    architecture = Morphism("deeper", int(layer), kernel_size).apply_to(net.architecture)
    net.architecture = architecture
    return child, architecture


def widen_kernel(module, layer, new_size):
    """Enlarge the kernel of convolution ``layer`` to ``new_size``, keeping the function.

    The kernel is zero-padded on every side and the 'same' padding grows
    with it, so every output pixel sums the same products (the new taps meet
    either zero weights or the zero padding).

    Parameters
    ----------
    module : nn.Module
        A :class:`MorphNet` of kind ``'cnn'``, or a module holding one.
    layer : int
    new_size : odd int
        Larger than the current kernel size.

    Returns
    -------
    child : nn.Module
    architecture : MorphArchitecture

    Examples
    --------
    >>> import torch
    >>> from skautoml.nas.morphism import MorphismSpace, widen_kernel
    >>> space = MorphismSpace(kind="cnn", widths=(4,), kernel_sizes=(3, 5))
    >>> parent = space.build(space.smallest(), (1, 6, 6), 3).eval()
    >>> child, arch = widen_kernel(parent, 0, 5)
    >>> arch.kernel_sizes
    (5,)
    >>> x = torch.randn(2, 1, 6, 6)
    >>> bool(torch.allclose(child.eval()(x), parent(x), atol=1e-6))
    True
    """
    parent_net = find_morph_net(module)
    if parent_net.architecture.kind != "cnn":
        raise ValueError(f"widen_kernel needs a CNN; {parent_net.architecture} has no kernels.")
    _check_layer(parent_net, layer)
    old_size = parent_net.architecture.kernel_sizes[layer]
    if (
        isinstance(new_size, bool)
        or not isinstance(new_size, (int, np.integer))
        or new_size <= old_size
        or new_size % 2 == 0
    ):
        raise ValueError(f"widen_kernel needs an odd new_size > {old_size} (layer {layer}'s kernel); got {new_size!r}.")
    child, net = _copy(module)
    target = net.layers[layer]
    pad = (int(new_size) - old_size) // 2
    weight = nn.functional.pad(target.transform.weight.detach(), (pad, pad, pad, pad))
    target.transform = _with_weight(target.transform, weight)
    architecture = Morphism("wider_kernel", int(layer), int(new_size)).apply_to(net.architecture)
    net.architecture = architecture
    return child, architecture


def apply_morphism(module, morphism, rng=None, noise=0.0, X=None):
    """Apply one :class:`Morphism` (or a sequence of them, in order) to a network.

    Parameters
    ----------
    module : nn.Module
        A :class:`MorphNet`, or a module holding one; left unchanged.
    morphism : Morphism or sequence of Morphism
    rng : numpy.random.Generator, int or None
        For Net2Wider's choice of units and noise.
    noise : float, default=0.0
        Symmetry-breaking noise of Net2Wider (see :func:`net2wider`).
    X : array-like or tensor, optional
        Inputs of ``module`` for the statistics of inserted batch norms (see
        :func:`net2deeper`).

    Returns
    -------
    child : nn.Module
    architecture : MorphArchitecture

    Examples
    --------
    >>> import torch
    >>> from skautoml.nas.morphism import Morphism, MorphismSpace, apply_morphism
    >>> space = MorphismSpace(kind="mlp", widths=(4, 8))
    >>> parent = space.build(space.smallest(), (3,), 2).eval()
    >>> child, arch = apply_morphism(parent, [Morphism("deeper", 0), Morphism("wider", 1, 8)], rng=0)
    >>> arch.widths
    (4, 8)
    >>> x = torch.randn(5, 3)
    >>> bool(torch.allclose(child.eval()(x), parent(x), atol=1e-6))
    True
    """
    if not isinstance(morphism, Morphism):
        rng = np.random.default_rng(rng)
        module, architecture = _copy(module)[0], find_morph_net(module).architecture
        for step in morphism:
            module, architecture = apply_morphism(module, step, rng, noise, X)
        return module, architecture
    if morphism.operation == "wider":
        return net2wider(module, morphism.layer, morphism.value, rng, noise)
    if morphism.operation == "deeper":
        return net2deeper(module, morphism.layer, morphism.value, X)
    if morphism.operation == "wider_kernel":
        return widen_kernel(module, morphism.layer, morphism.value)
    raise ValueError(f"unknown morphism operation {morphism.operation!r}.")
