"""Torch's thread count for a block of work, without importing torch."""
import sys
from contextlib import contextmanager


@contextmanager
def torch_threads(n_threads):
    """Run the block with ``n_threads`` torch threads, then restore the previous count.

    None, or torch not loaded yet (a search whose evaluator never imports
    it), leaves the threads as they are: this never imports torch.
    """
    torch = sys.modules.get("torch")
    if n_threads is None or torch is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
