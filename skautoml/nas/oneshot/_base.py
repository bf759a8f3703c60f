"""The supernet contract: the weights of every architecture of a space, held once."""
from torch import nn


class Supernet(nn.Module):
    """Weight sharing over a search space: any architecture of the space is a path through it.

    A supernet holds each candidate operation's weights once (per edge, or at
    the largest width, sliced for narrower layers), so architectures trained
    or scored through it share them. What ``forward`` computes is set by its
    mode:

    * ``set_path(architecture)``: that architecture only; in eval mode the
      output equals ``subnet(architecture)``'s;
    * ``sample_paths(rng)``: a new architecture ``space.sample(rng)`` for
      every training forward (single-path one-shot, SPOS), drawn from the
      given numpy Generator; in eval mode the last path drawn is used;
    * relaxations (``'softmax'`` for DARTS, ``'gumbel'`` for GDAS, with
      partial channels for PC-DARTS), for supernets that offer them: see the
      subclass.

    Parameters
    ----------
    space : SearchSpace
        The space whose architectures are the paths.
    input_shape : tuple of int
        Shape of one sample, ``(channels, height, width)``.
    n_outputs : int
        Logits per sample.

    Notes
    -----
    Subclasses implement :meth:`forward` for their modes, :meth:`subnet`
    (a plain module of ``space.build(architecture, ...)``'s structure with
    the inherited weights copied in, so it trains and pickles like any
    network of the space). In forward, the path is :meth:`current_path`.
    """

    def __init__(self, space, input_shape, n_outputs):
        super().__init__()
        self.space = space
        self.input_shape = tuple(input_shape)
        self.n_outputs = n_outputs
        self.path = None
        self.rng = None

    def set_path(self, architecture):
        """Use only ``architecture`` (None: sample paths, or the relaxation); returns ``self``."""
        if architecture is not None:
            self._check(architecture)
        self.path, self.rng = architecture, None
        return self

    def _check(self, architecture):
        """A clear ``ValueError`` for an architecture the space does not hold."""
        if not self.space.contains(architecture):
            raise ValueError(f"{architecture} is not an architecture of {self.space}.")

    def sample_paths(self, rng):
        """Draw a new path ``space.sample(rng)`` at every training forward (rng: a numpy Generator); returns ``self``."""
        self.path, self.rng = None, rng
        return self

    def current_path(self):
        """The architecture this forward computes: the one set, or a new sample while training in sampling mode."""
        if self.rng is not None and (self.training or self.path is None):
            self.path = self.space.sample(self.rng)
        return self.path

    def subnet(self, architecture):
        """``architecture`` as a plain module (``space.build``'s structure) with its inherited weights."""
        raise NotImplementedError
