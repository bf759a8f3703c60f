"""A skorch iterator that batches in-memory data by indexing."""
import numpy as np
import torch
from torch.utils.data import DataLoader


class TensorBatchIterator:
    """Mini-batches of an in-memory dataset, cut by indexing whole tensors.

    skorch's default ``DataLoader`` fetches samples one by one and collates
    them; for small networks on in-memory arrays that per-sample Python work
    costs as much as the training. This iterator converts the data to tensors
    once and slices them, and otherwise behaves like a ``DataLoader``
    (``batch_size``, ``shuffle``). Datasets that do not hold arrays fall back
    to ``DataLoader``.

    When shuffling (training), a last batch of a single sample is left out:
    batch normalisation cannot train on it.

    Use it as ``iterator_train`` / ``iterator_valid`` of a skorch net.
    """

    def __init__(self, dataset, batch_size=128, shuffle=False, **loader_kwargs):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.loader_kwargs = loader_kwargs
        X, y = getattr(dataset, "X", None), getattr(dataset, "y", None)
        self._in_memory = isinstance(X, (np.ndarray, torch.Tensor)) and (
            y is None or isinstance(y, (np.ndarray, torch.Tensor))
        )
        if self._in_memory:
            self._X = torch.as_tensor(X)
            self._y = None if y is None else torch.as_tensor(y)

    def _n_used(self):
        """Samples per epoch: a training batch of one sample breaks batch norm, so it is left
        out; with shuffling the left-out sample is a different one each epoch."""
        n_samples = len(self.dataset)
        if self.shuffle and n_samples % self.batch_size == 1 and n_samples > 1:
            return n_samples - 1
        return n_samples

    def __len__(self):
        return -(-self._n_used() // self.batch_size)

    def __iter__(self):
        if not self._in_memory:
            yield from DataLoader(
                self.dataset, batch_size=self.batch_size, shuffle=self.shuffle, **self.loader_kwargs
            )
            return
        order = torch.randperm(len(self._X)).to(self._X.device) if self.shuffle else None
        for start in range(0, self._n_used(), self.batch_size):
            if order is None:
                index = slice(start, start + self.batch_size)
            else:
                index = order[start : start + self.batch_size]
            yield self._X[index], None if self._y is None else self._y[index]
