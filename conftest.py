"""Settings for the whole test run (tests/ and the doctests in skautoml/)."""
import pytest
import torch
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def one_thread_per_test():
    """Torch and BLAS on one thread: the tests train many tiny networks and fit many small
    models, where extra intra-op threads only wait for each other (on a busy 2-core machine
    they made convolutions 100 times slower)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    with threadpool_limits(1):
        yield
    torch.set_num_threads(previous)
