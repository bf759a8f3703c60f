"""Seeding torch without touching the caller's random state."""
import contextlib

#: Largest seed drawn for a sub-component: ``RandomState`` and ``random_state`` accept it.
SEED_MAX = 2**31 - 1


@contextlib.contextmanager
def torch_seeded(seed, device="cpu"):
    """Run the block with torch's global generators seeded by ``seed``, then restore them.

    Module initialisation, dropout and batch shuffling draw from torch's global
    generators; forking them keeps a fit reproducible without changing the
    random state of the code that called it.
    """
    import torch  # here: modules that only need SEED_MAX must not load torch

    device = torch.device(device)
    devices = []
    if device.type == "cuda":
        devices = [torch.cuda.current_device() if device.index is None else device.index]
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
