"""Augmentation of training batches on the fly, for networks trained through skorch."""
from numbers import Real

import torch
import torch.nn.functional as F

from ._image import _check_generator, cutmix, mixup

__all__ = ["BatchAugment"]

_MIXING = {"mixup": mixup, "cutmix": cutmix}


class BatchAugment:
    """Augment each training batch: an image policy, then optionally mixup or cutmix.

    :class:`~skautoml.AutoNASClassifier` calls it on every training batch of
    every trial and of the refit (``augment=BatchAugment(...)``); validation
    and prediction batches are never augmented. With ``mix``, the labels
    become soft labels mixed in the same proportions as the images, and the
    network is trained on them with the cross-entropy of soft targets.

    Parameters
    ----------
    policy : callable or None, default=None
        ``policy(images, generator) -> images`` on (N, C, H, W) tensors: an op
        such as :class:`Rotate`, :class:`RandAugment`, :class:`UniformAugment`
        or a searched :class:`AugmentPolicy`. None applies no image policy.
    mix : {None, 'mixup', 'cutmix'}, default=None
        Label-mixing augmentation applied after the policy.
    alpha : float > 0, default=1.0
        Beta-distribution parameter of ``mix``.

    Examples
    --------
    >>> import torch
    >>> from skautoml.prep.augment import BatchAugment, RandAugment
    >>> augment = BatchAugment(RandAugment(), mix="cutmix")
    >>> images, labels = torch.rand(8, 1, 8, 8), torch.arange(8) % 2
    >>> out, soft = augment(images, labels, torch.Generator().manual_seed(0), n_classes=2)
    >>> out.shape, soft.shape
    (torch.Size([8, 1, 8, 8]), torch.Size([8, 2]))
    """

    def __init__(self, policy=None, mix=None, alpha=1.0):
        # Not an estimator: checking here reports a bad value where it was written.
        if policy is not None and not callable(policy):
            raise ValueError(
                f"policy must be None or a callable policy(images, generator), got {policy!r}."
            )
        if mix is not None and mix not in _MIXING:
            raise ValueError(f"mix must be None, 'mixup' or 'cutmix', got {mix!r}.")
        if isinstance(alpha, bool) or not isinstance(alpha, Real) or not alpha > 0:
            raise ValueError(f"alpha must be a positive number, got {alpha!r}.")
        self.policy = policy
        self.mix = mix
        self.alpha = float(alpha)

    def __repr__(self):
        parts = [] if self.policy is None else [repr(self.policy)]
        if self.mix is not None:
            parts.append(f"mix={self.mix!r}, alpha={self.alpha}")
        return f"BatchAugment({', '.join(parts)})"

    def __call__(self, images, y, generator, n_classes):
        """Augment one batch.

        Parameters
        ----------
        images : torch.Tensor of shape (N, C, H, W)
        y : torch.Tensor of shape (N,)
            Integer class indices.
        generator : torch.Generator
        n_classes : int
            Width of the soft labels made by ``mix``.

        Returns
        -------
        images : torch.Tensor of the same shape
        targets : torch.Tensor
            ``y`` unchanged without ``mix``; otherwise soft labels of shape
            (N, n_classes).
        """
        _check_generator(generator)
        if self.policy is not None:
            images = self.policy(images, generator)
        if self.mix is None:
            return images, y
        one_hot = F.one_hot(y.long(), n_classes).to(torch.float32)
        return _MIXING[self.mix](images, one_hot, self.alpha, generator)
