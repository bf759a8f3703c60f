"""Random search."""
from ._base import Strategy


class RandomSearch(Strategy):
    """Sample architectures independently and uniformly per decision.

    Repeats are avoided while the space has unseen architectures. The
    baseline every other strategy has to beat (Li and Talwalkar, 2019).

    Examples
    --------
    >>> from skautoml.nas import MLPSpace, RandomSearch
    >>> strategy = RandomSearch().reset(MLPSpace(), random_state=0)
    >>> batch = strategy.ask(4)
    >>> len(batch)
    4
    """

    def _ask_one(self):
        return self.space.sample_unseen(self._rng, self._seen)
