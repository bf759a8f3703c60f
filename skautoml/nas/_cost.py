"""What an architecture costs before it is trained: parameters, FLOPs and inference latency.

:func:`architecture_cost` builds the network once and runs one sample
through it, reading off its parameter count, the FLOPs of that forward pass
(as PyTorch's ``FlopCounterMode`` counts them: two per multiply-accumulate)
and the operations it runs with their input shapes. A :class:`LatencyTable`
prices those operations: it holds the measured latency of every (operation,
input shape) it has seen on this device, thread count and batch size,
measures new ones on first sight, and keeps them in a JSON file of a cache
directory, so the table is built once per machine and a strategy prices
thousands of candidates in seconds. The prediction is the sum of the
operations' latencies, as in the lookup tables of FBNet and ProxylessNAS. That sum leaves out what runs outside the
operations (additions of skips, concatenations, the Python between them), so
:meth:`LatencyTable.calibrate` fits a scale and an overhead per operation to
a few networks timed whole by :func:`measure_latency`;
``benchmarks/bench_latency_table.py`` reports how far both are from the
measured latency.
"""
import json
import math
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.optimize import nnls
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from .._utils._threads import torch_threads

#: Format of a latency table's JSON file; a file of another version is ignored and rebuilt.
TABLE_VERSION = 1


@dataclass(frozen=True)
class ArchitectureCost:
    """The costs of one architecture.

    Attributes
    ----------
    n_params : int
        Trainable parameters.
    flops : int
        Floating-point operations of one forward pass of one sample.
    latency_ms : float or None
        Predicted inference latency of one batch in milliseconds (None when
        no latency table was given).
    """

    n_params: int
    flops: int
    latency_ms: float | None = None


#: Leaf modules whose FLOPs PyTorch's counter leaves at zero (it counts matrix products and convolutions only).
_UNCOUNTED = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.ReLU, nn.ReLU6, nn.GELU, nn.SiLU, nn.ELU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid,
    nn.Hardswish, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.Dropout, nn.Identity, nn.Flatten,
)


def _leaf_calls(network, sample_shape):
    """The leaf modules one forward pass of ``network`` runs, with their per-sample input shapes, and its FLOPs.

    FLOPs are counted from the hooks for convolutions and linear layers (as PyTorch's ``FlopCounterMode``
    counts them: two per multiply-add, no bias), which is several times faster than the counter; a network
    with any other leaf module (one that may hide a matrix product) is counted by the counter itself.
    """
    calls, flops, known = [], [0], [True]

    def record(module, inputs, output):
        calls.append((module, tuple(inputs[0].shape[1:])))
        if isinstance(module, nn.Conv2d):
            flops[0] += 2 * output[0].numel() * module.in_channels // module.groups * math.prod(module.kernel_size)
        elif isinstance(module, nn.Linear):
            flops[0] += 2 * output[0].numel() * module.in_features
        elif not isinstance(module, _UNCOUNTED):
            known[0] = False

    leaves = [m for m in network.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(record) for m in leaves]
    x = torch.zeros((1, *sample_shape))
    try:
        with torch.no_grad():
            network(x)
    finally:
        for hook in hooks:
            hook.remove()
    if not known[0]:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            network(x)
        flops[0] = int(counter.get_total_flops())
    return calls, flops[0]


def _traced(space, architecture, input_shape, n_outputs):
    """The network of ``architecture`` (in evaluation mode, on the CPU), its leaf calls and its FLOPs.

    The weights are drawn from a copy of torch's random state, so pricing leaves the caller's stream alone.
    """
    try:
        with torch.random.fork_rng(devices=[]):
            network = space.build(architecture, input_shape, n_outputs).eval()
        return (network, *_leaf_calls(network, input_shape))
    except Exception as error:
        raise ValueError(
            f"{type(space).__name__} could not run {architecture} on samples of input_shape={input_shape} "
            f"({type(error).__name__}: {error}). Pass the shape of one sample that the space takes: "
            "(C, H, W) for an image space, (n_features,) for a table."
        ) from error


def architecture_cost(space, architecture, input_shape, n_outputs, latency_table=None):
    """Parameters, FLOPs and (with a table) predicted latency of ``architecture``, without training it.

    Parameters
    ----------
    space : SearchSpace
        The space that builds ``architecture``.
    architecture : value of the space
    input_shape : tuple of int
        Shape of one sample (``(C, H, W)`` for images, ``(n_features,)`` for tables).
    n_outputs : int
        Classes (or outputs) of the head.
    latency_table : LatencyTable or None, default=None
        Prices the operations; None leaves ``latency_ms`` None.

    Returns
    -------
    ArchitectureCost

    Examples
    --------
    >>> from skautoml.nas import MLPArchitecture, MLPSpace, architecture_cost
    >>> cost = architecture_cost(MLPSpace(), MLPArchitecture(widths=(16,)), (10,), 3)
    >>> cost.n_params, cost.flops   # 10*16 + 16 + 16*3 + 3; two FLOPs per multiply-add
    (227, 416)
    """
    input_shape = tuple(int(side) for side in input_shape)
    return _priced(*_traced(space, architecture, input_shape, n_outputs), latency_table)


def module_cost(module, sample_shape, latency_table=None):
    """Parameters, FLOPs and (with a table) predicted latency of ``module`` (on the CPU, in evaluation mode).

    What :func:`architecture_cost` reads off a built network, for a part
    of one: a supernet prices its operations with it.

    Examples
    --------
    >>> from torch import nn
    >>> from skautoml.nas import module_cost
    >>> module_cost(nn.Linear(10, 3), (10,)).flops
    60
    """
    return _priced(module, *_leaf_calls(module, tuple(int(side) for side in sample_shape)), latency_table)


def _priced(module, calls, flops, latency_table):
    n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
    latency = None if latency_table is None else latency_table.price(calls)
    return ArchitectureCost(int(n_params), flops, latency)


def measure_latency(module, input_shape, batch_size=1, n_threads=1, device="cpu", repeats=30, warmup=5):
    """Median milliseconds of one inference pass of ``module`` on a batch of ``batch_size`` samples.

    Parameters
    ----------
    module : torch.nn.Module
        Timed in evaluation mode without gradients, on ``device`` (where it
        is moved); its training mode is restored afterwards.
    input_shape : tuple of int
        Shape of one sample.
    batch_size : int, default=1
    n_threads : int or None, default=1
        Torch threads while timing (None: as they are).
    device : str, default='cpu'
    repeats, warmup : int
        Timed passes (their median is returned) and untimed passes before them.

    Returns
    -------
    float

    Examples
    --------
    >>> from torch import nn
    >>> from skautoml.nas import measure_latency
    >>> measure_latency(nn.Linear(10, 3), (10,)) > 0
    True
    """
    was_training = module.training
    module = module.to(device).eval()
    x = torch.zeros((batch_size, *input_shape), device=device)
    synchronize = torch.cuda.synchronize if torch.device(device).type == "cuda" else (lambda: None)
    times = []
    with torch_threads(n_threads), torch.no_grad():
        for i in range(warmup + repeats):
            synchronize()
            started = time.perf_counter()
            module(x)
            synchronize()
            if i >= warmup:
                times.append(time.perf_counter() - started)
    module.train(was_training)
    return 1000.0 * statistics.median(times)


def default_cache_dir():
    """``$SKAUTOML_CACHE``, else ``$XDG_CACHE_HOME/skautoml``, else ``~/.cache/skautoml``."""
    if os.environ.get("SKAUTOML_CACHE"):
        return Path(os.environ["SKAUTOML_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "skautoml"


class LatencyTable:
    """Measured latency of every (operation, input shape) seen, per device, thread count and batch size.

    An operation is a leaf module (one without submodules: a convolution, a
    batch norm, an activation, a pooling, a linear layer), keyed by its
    ``repr`` (which names its type and settings) and the shape of one input
    sample. :meth:`price` sums the latencies of a network's operations,
    timing those it has not seen (each alone, by :func:`measure_latency`),
    and applies the :attr:`calibration`; the table is written to
    ``cache_dir`` whenever it measured something, and a later table of the
    same device, threads, batch size and torch version starts from it (a
    file it cannot read, or of another format version, is rebuilt).

    Parameters
    ----------
    batch_size : int, default=1
        Batch the latencies are of.
    n_threads : int or None, default=1
        Torch threads while measuring (None: as they are when measuring).
    device : str, default='cpu'
    cache_dir : str, Path, False or None, default=None
        Where the table is kept; None is :func:`default_cache_dir`, False
        keeps it in memory only.
    entries : dict or None, default=None
        Latencies to start from (``{key: milliseconds}`` as in :attr:`entries`):
        a table built elsewhere, or one a test supplies.
    calibration : (float, float) or None, default=None
        ``(scale, milliseconds per operation)`` of :meth:`price`; None keeps
        the cached one, else ``(1.0, 0.0)`` (the plain sum) until
        :meth:`calibrate` fits it.
    repeats : int, default=20
        Timed passes per new operation.

    Attributes
    ----------
    entries : dict
        ``{"<repr>|<input shape>": milliseconds}``.
    calibration : (float, float)
        Scale of the sum and overhead per operation (see :meth:`calibrate`).
    n_measured_ : int
        Operations this table has timed itself.

    Examples
    --------
    >>> from skautoml.nas import CNNSpace, LatencyTable, architecture_cost
    >>> import numpy as np
    >>> space = CNNSpace(max_layers=3)
    >>> table = LatencyTable(cache_dir=False)
    >>> cost = architecture_cost(space, space.sample(np.random.default_rng(0)), (1, 8, 8), 10, latency_table=table)
    >>> cost.latency_ms > 0
    True
    """

    def __init__(
        self, batch_size=1, n_threads=1, device="cpu", cache_dir=None, entries=None, calibration=None, repeats=20
    ):
        for name, value, allowed in (
            ("batch_size", batch_size, False), ("n_threads", n_threads, True), ("repeats", repeats, False)
        ):
            if not (value is None and allowed) and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive int{' or None' if allowed else ''}, got {value!r}.")
        self.batch_size = batch_size
        self.n_threads = n_threads
        self.device = device
        self.cache_dir = default_cache_dir() if cache_dir is None else cache_dir
        self.repeats = repeats
        self.entries, self.calibration = {}, (1.0, 0.0)
        if self.path is not None and self.path.exists():
            try:
                stored = json.loads(self.path.read_text())
            except (OSError, ValueError):  # unreadable or cut short: measured again
                stored = {}
            if stored.get("version") == TABLE_VERSION:
                self.entries.update(stored["entries"])
                self.calibration = tuple(stored.get("calibration", self.calibration))
        self.entries.update(entries or {})
        if calibration is not None:
            self.calibration = tuple(calibration)
        self.n_measured_ = 0

    @property
    def path(self):
        """The JSON file of this table in ``cache_dir`` (None when kept in memory)."""
        if self.cache_dir is False:
            return None
        threads = "default" if self.n_threads is None else self.n_threads
        name = f"latency_{self.device}_threads{threads}_batch{self.batch_size}_torch{torch.__version__}.json"
        return Path(self.cache_dir) / name.replace("/", "_").replace(":", "_").replace("+", "_")

    @staticmethod
    def key(module, sample_shape):
        """The table's key of ``module`` run on inputs of one sample's ``sample_shape``."""
        return f"{module!r}|{tuple(sample_shape)}"

    def price(self, calls):
        """Predicted milliseconds of a network that runs ``calls`` (``[(module, sample shape), ...]``).

        The sum of the operations' latencies (timing those not yet in the table), scaled by the
        :attr:`calibration`, plus its overhead per operation.
        """
        scale, per_call = self.calibration
        return scale * self._sum(calls) + per_call * len(calls)

    def _sum(self, calls):
        measured, total = 0, 0.0
        for module, shape in calls:
            key = self.key(module, shape)
            if key not in self.entries:
                self.entries[key] = self._measure(module, shape)
                measured += 1
            total += self.entries[key]
        if measured:
            self.n_measured_ += measured
            self.save()
        return total

    def calibrate(self, space, input_shape, n_outputs, n_networks=10, random_state=0):
        """Fit :attr:`calibration` to ``n_networks`` sampled from ``space``, timed whole; returns ``self``.

        Operations timed alone add up to less than a network timed whole: the network also runs what
        lies between them (skip additions, concatenations, the Python of its modules) and a larger
        working set. A least-squares fit of the measured latencies on the sums and the operation counts,
        in relative error, gives a scale and an overhead per operation (both at least 0). Calibrate on networks like those
        the table will price; the calibration is saved with the table.
        """
        rng = np.random.default_rng(random_state)
        rows, measured = [], []
        for _ in range(n_networks):
            network, calls, _ = _traced(space, space.sample(rng), tuple(input_shape), n_outputs)
            rows.append((self._sum(calls), len(calls)))
            measured.append(
                measure_latency(network, input_shape, self.batch_size, self.n_threads, self.device, self.repeats)
            )
        rows, measured = np.array(rows), np.array(measured)
        scale, per_call = nnls(rows / measured[:, None], np.ones(len(measured)))[0]  # least relative squares
        if scale <= 0:  # degenerate samples (all alike): a scale alone
            scale, per_call = float(np.sum(measured) / max(rows[:, 0].sum(), 1e-12)), 0.0
        self.calibration = (float(scale), float(per_call))
        self.save()
        return self

    def _measure(self, module, shape):
        return measure_latency(
            module, shape, self.batch_size, self.n_threads, self.device, repeats=self.repeats, warmup=3
        )

    def save(self):
        """Write the table to its JSON file (nothing when kept in memory)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "version": TABLE_VERSION, "device": self.device, "n_threads": self.n_threads,
            "batch_size": self.batch_size, "torch": torch.__version__, "entries": self.entries,
            "calibration": list(self.calibration),
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(document, indent=0, sort_keys=True))
        temporary.replace(self.path)  # a reader never sees half a file


#: The cost each limit of :class:`CostLimits` reads, and how it is written in a reason.
_LIMITS = (("max_params", "n_params", "parameters", "{:,}"), ("max_flops", "flops", "FLOPs", "{:,}"),
           ("max_latency_ms", "latency_ms", "ms predicted latency", "{:.3g}"))


class CostLimits:
    """Hard limits on what an architecture costs, checked before it is trained.

    Calling the limits on an architecture returns None when it is within all
    of them, else the reason it is not (``'31,658 parameters > max_params=20,000'``),
    and keeps the refusal in :attr:`rejected_`. Costs come from
    :func:`architecture_cost` (the latency from ``latency_table``) and are
    computed once per architecture.

    Parameters
    ----------
    space : SearchSpace
    input_shape : tuple of int
        Shape of one sample.
    n_outputs : int
    max_params, max_flops : int or None, default=None
        Most trainable parameters; most FLOPs of one forward pass of one sample.
    max_latency_ms : float or None, default=None
        Most predicted inference latency of one batch, in milliseconds.
    latency_table : LatencyTable or None, default=None
        Prices the latency; None builds ``LatencyTable()`` (batch of 1, one
        thread, the CPU, the default cache) when ``max_latency_ms`` is set.

    Attributes
    ----------
    rejected_ : list of (architecture, ArchitectureCost, str)
        Every refusal, in order (an architecture refused twice is listed twice).

    Examples
    --------
    >>> from skautoml.nas import CostLimits, MLPArchitecture, MLPSpace
    >>> limits = CostLimits(MLPSpace(), (10,), 3, max_params=100)
    >>> limits(MLPArchitecture(widths=(16,)))
    '227 parameters > max_params=100'
    >>> limits(MLPArchitecture(widths=(4,))) is None
    True
    """

    def __init__(self, space, input_shape, n_outputs, max_params=None, max_flops=None, max_latency_ms=None,
                 latency_table=None):
        for name, value in (("max_params", max_params), ("max_flops", max_flops), ("max_latency_ms", max_latency_ms)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(f"{name} must be a positive number or None, got {value!r}.")
        self.space, self.input_shape, self.n_outputs = space, tuple(input_shape), n_outputs
        self.limits = {"max_params": max_params, "max_flops": max_flops, "max_latency_ms": max_latency_ms}
        if max_latency_ms is not None and latency_table is None:
            latency_table = LatencyTable()
        self.latency_table = latency_table if max_latency_ms is not None else None
        self.rejected_ = []
        self._costs = {}

    @property
    def active(self):
        """Whether any limit is set."""
        return any(value is not None for value in self.limits.values())

    @property
    def bounds(self):
        """``{cost field: limit}`` of the limits set, e.g. ``{'n_params': 20000}`` (fields of :class:`ArchitectureCost`)."""
        return {field: self.limits[name] for name, field, _, _ in _LIMITS if self.limits[name] is not None}

    def cost(self, architecture):
        """The :class:`ArchitectureCost` of ``architecture`` (the latency only when it is limited)."""
        if architecture not in self._costs:
            self._costs[architecture] = architecture_cost(
                self.space, architecture, self.input_shape, self.n_outputs, self.latency_table
            )
        return self._costs[architecture]

    def reason(self, architecture):
        """Why ``architecture`` is over a limit, or None; records nothing."""
        cost = self.cost(architecture)
        over = [
            f"{fmt.format(getattr(cost, field))} {words} > {name}={fmt.format(self.limits[name])}"
            for name, field, words, fmt in _LIMITS
            if self.limits[name] is not None and getattr(cost, field) > self.limits[name]
        ]
        return "; ".join(over) or None

    def __call__(self, architecture):
        reason = self.reason(architecture)
        if reason is not None:
            self.rejected_.append((architecture, self.cost(architecture), reason))
        return reason

    def check_reachable(self, architectures):
        """Raise ``ValueError`` before any training when none of ``architectures`` is within the limits."""
        architectures = list(architectures)
        if any(self.reason(a) is None for a in architectures):
            return
        costs = [self.cost(a) for a in architectures]
        least = ", ".join(
            f"{words} {fmt.format(min(getattr(c, field) for c in costs))} ({name}={fmt.format(self.limits[name])})"
            for name, field, words, fmt in _LIMITS
            if self.limits[name] is not None
        )
        raise ValueError(
            f"No architecture of {len(architectures)} drawn from {type(self.space).__name__} is within the limits; "
            f"the least of each cost among them: {least}. Raise the limits, or search a space of smaller "
            "networks (fewer layers, narrower channels or widths)."
        )


class FeasibleSpace:
    """``space`` as strategies see it under ``limits``: ``sample`` and ``mutate`` draw again when over a limit.

    Each draw over a limit is recorded by ``limits``; after ``max_tries``
    draws the last one is returned anyway, for the search loop to refuse
    (and the strategy to be told). Everything else is ``space``'s.

    Parameters
    ----------
    space : SearchSpace
    limits : CostLimits
    max_tries : int, default=20
    """

    def __init__(self, space, limits, max_tries=20):
        self.space, self.limits, self.max_tries = space, limits, max_tries

    def __getattr__(self, name):
        if name in ("space", "limits", "max_tries"):  # unpickling: not set yet
            raise AttributeError(name)
        return getattr(self.space, name)

    def _drawn(self, draw):
        for _ in range(self.max_tries - 1):
            architecture = draw()
            if self.limits(architecture) is None:
                return architecture
        return draw()

    def sample(self, rng):
        return self._drawn(lambda: self.space.sample(rng))

    def mutate(self, architecture, rng):
        return self._drawn(lambda: self.space.mutate(architecture, rng))

    def sample_unseen(self, rng, seen, max_tries=100):
        return self._drawn(lambda: self.space.sample_unseen(rng, seen, max_tries))
