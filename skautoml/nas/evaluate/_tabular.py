"""A tabulated NAS benchmark: every architecture of a small cell space, trained once, looked up.

The survey's NAS-Bench lesson: comparing search strategies fairly needs many
repeated searches, and training networks makes each one cost hours. A table
of architectures trained once in advance (NAS-Bench-101 and -201 did this
for CIFAR-10) turns a trial into a lookup, so a strategy runs 100 trials
over 20 seeds in seconds, and every strategy is scored on the same numbers.

skautoml ships such a table for a small :class:`~skautoml.nas.CellSpace` on
scikit-learn's 8x8 digits images (``benchmarks/build_nas_table.py`` makes
it; :func:`load_nas_table` reads it). For each architecture it holds the
validation loss and accuracy and the test accuracy after every epoch of one
seeded training run, the epoch times, the parameters and the FLOPs.
:class:`TabularEvaluator` answers ``evaluate`` from a table in place of
training, with the same signature and :class:`TrialResult` as
:class:`~skautoml.nas.Evaluator`, so ``run_search`` and every ask/tell
strategy use it unchanged.

Blocks that add their two branches are symmetric: ``op_a(a) + op_b(b)`` and
``op_b(b) + op_a(a)`` build the same network up to the order of its
parameters, but are counted apart by ``CellSpace.size``. The table trains
one of them (the canonical form, :func:`canonical_architecture`) and answers
for both, as NAS-Bench-101 answers for isomorphic graphs. A table of only a
sample of its space is searched through :class:`TabularSpace`, which keeps
proposals in the table.
"""
import gzip
import importlib.resources
import itertools
import json
import math
import os
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from skorch.callbacks import Callback

from ..._utils._random import torch_seeded
from ...search import SearchSpace
from ..space._cell import Block, CellArchitecture, CellSpace
from ._evaluator import Evaluator, TrialResult, count_flops

#: File name of the table shipped in ``skautoml/nas/data``.
DEFAULT_TABLE = "nas_table_digits.json.gz"
_FORMAT = "skautoml-nas-table"
_VERSION = 1
# The settings of a CellSpace that a table records (they fix the networks).
_SPACE_PARAMS = ("n_blocks", "operations", "combine", "n_cells", "initial_channels", "n_reductions")


def canonical_architecture(architecture):
    """The representative that a table stores for ``architecture``.

    In every block that adds its branches, the two ``(input, operation)``
    branches are put in sorted order; blocks that concatenate are kept as
    they are (concatenation order changes the network). Equal networks of
    this kind map to one value; architectures of other spaces are returned
    unchanged.

    Examples
    --------
    >>> from skautoml.nas import Block, CellArchitecture
    >>> swapped = CellArchitecture(
    ...     normal=(Block(1, 0, "maxpool", "conv3x3"),), reduction=(Block(0, 1, "conv3x3", "identity"),)
    ... )
    >>> canonical_architecture(swapped).normal
    (Block(input1=0, input2=1, op1='conv3x3', op2='maxpool', combine='add'),)
    """
    if not isinstance(architecture, CellArchitecture):
        return architecture

    def block(b):
        if not isinstance(b, Block) or b.combine != "add":
            return b
        (input1, op1), (input2, op2) = sorted([(b.input1, b.op1), (b.input2, b.op2)])
        return replace(b, input1=input1, input2=input2, op1=op1, op2=op2)

    def cell(blocks):
        return tuple(block(b) for b in blocks) if isinstance(blocks, tuple) else blocks

    return CellArchitecture(normal=cell(architecture.normal), reduction=cell(architecture.reduction))


def enumerate_architectures(space, max_count=100_000):
    """Every canonical architecture of the :class:`CellSpace` ``space``, in a fixed order.

    Symmetric duplicates (see :func:`canonical_architecture`) appear once.
    Raises ``ValueError`` when there are more than ``max_count``: a table of
    the whole space is meant for small spaces only.

    Examples
    --------
    >>> from skautoml.nas import CellSpace
    >>> space = CellSpace(n_blocks=1, operations=("conv3x3", "maxpool", "identity"), combine=("add",))
    >>> space.size(), len(enumerate_architectures(space))
    (1296, 441)
    """
    if not isinstance(space, CellSpace):
        raise TypeError(f"enumerate_architectures needs a CellSpace; got {type(space).__name__}.")
    space._check_params()

    def block_options(i):
        branches = [(index, op) for index in range(2 + i) for op in space.operations]
        options = []
        for combine in space.combine:
            pairs = (
                itertools.combinations_with_replacement(branches, 2)
                if combine == "add"
                else itertools.product(branches, repeat=2)
            )
            # Added branches in sorted order: the canonical form, whatever the order of the operations.
            pairs = (sorted(pair) if combine == "add" else pair for pair in pairs)
            options += [Block(a[0], b[0], a[1], b[1], combine) for a, b in pairs]
        return options

    per_block = [block_options(i) for i in range(space.n_blocks)]
    n_cells = math.prod(len(options) for options in per_block)
    if n_cells**2 > max_count:
        raise ValueError(
            f"{space!r} has {n_cells ** 2} architectures without symmetric duplicates, more than "
            f"max_count={max_count}; tabulate a smaller space (fewer blocks or operations)."
        )
    cells = list(itertools.product(*per_block))
    return [CellArchitecture(normal=n, reduction=r) for n, r in itertools.product(cells, cells)]


@dataclass(frozen=True)
class TableEntry:
    """The recorded training run of one architecture.

    Curves hold one value per epoch, epoch 1 first.

    Attributes
    ----------
    architecture : CellArchitecture
        In canonical form.
    valid_loss, valid_acc, test_acc : tuple of float
        Validation loss and accuracy and test accuracy after each epoch.
    epoch_seconds : tuple of float
        Processor time of each epoch (training and validation pass) with one
        torch thread: what the epoch takes on an idle core. Tables are built
        on shared machines, where wall times vary with the load.
    build_seconds : float
        Processor time of building the network and counting its FLOPs.
    wall_seconds : float or None
        Wall time of the whole run as it happened (for the record).
    n_params : int
    flops : int
        Of one forward pass of one sample (``count_flops``).
    seed : int
        Torch seed of the run.
    """

    architecture: CellArchitecture
    valid_loss: tuple
    valid_acc: tuple
    test_acc: tuple
    epoch_seconds: tuple
    build_seconds: float
    n_params: int
    flops: int
    seed: int = 0
    wall_seconds: float | None = None

    @property
    def n_epochs(self):
        return len(self.valid_acc)

    def best_epoch(self, epochs=None):
        """Epoch (from 1) with the lowest validation loss among the first ``epochs``.

        The epoch :class:`~skautoml.nas.Evaluator` scores; ties go to the
        earlier epoch, as ``numpy.argmin``.
        """
        epochs = self.n_epochs if epochs is None else min(int(epochs), self.n_epochs)
        return int(np.argmin(self.valid_loss[:epochs])) + 1

    def score(self, epochs=None):
        """Validation accuracy at :meth:`best_epoch` (what a trial of ``epochs`` epochs reports)."""
        return self.valid_acc[self.best_epoch(epochs) - 1]

    def test_score(self, epochs=None):
        """Test accuracy of the weights :meth:`score` was measured on."""
        return self.test_acc[self.best_epoch(epochs) - 1]

    def seconds(self, epochs=None):
        """Time of a trial of ``epochs`` epochs on an idle core: building plus those epochs."""
        epochs = self.n_epochs if epochs is None else min(int(epochs), self.n_epochs)
        return self.build_seconds + float(sum(self.epoch_seconds[:epochs]))

    def to_json(self):
        def cell(blocks):
            return [[b.input1, b.input2, b.op1, b.op2, b.combine] for b in blocks]

        return {
            "normal": cell(self.architecture.normal),
            "reduction": cell(self.architecture.reduction),
            "valid_loss": [round(float(v), 5) for v in self.valid_loss],
            "valid_acc": [round(float(v), 6) for v in self.valid_acc],
            "test_acc": [round(float(v), 6) for v in self.test_acc],
            "epoch_seconds": [round(float(v), 4) for v in self.epoch_seconds],
            "build_seconds": round(float(self.build_seconds), 4),
            "n_params": int(self.n_params),
            "flops": int(self.flops),
            "seed": int(self.seed),
            "wall_seconds": None if self.wall_seconds is None else round(float(self.wall_seconds), 3),
        }

    @classmethod
    def from_json(cls, record):
        def cell(rows):
            return tuple(Block(int(i1), int(i2), str(o1), str(o2), str(c)) for i1, i2, o1, o2, c in rows)

        return cls(
            architecture=CellArchitecture(normal=cell(record["normal"]), reduction=cell(record["reduction"])),
            valid_loss=tuple(float(v) for v in record["valid_loss"]),
            valid_acc=tuple(float(v) for v in record["valid_acc"]),
            test_acc=tuple(float(v) for v in record["test_acc"]),
            epoch_seconds=tuple(float(v) for v in record["epoch_seconds"]),
            build_seconds=float(record["build_seconds"]),
            n_params=int(record["n_params"]),
            flops=int(record["flops"]),
            seed=int(record.get("seed", 0)),
            wall_seconds=None if record.get("wall_seconds") is None else float(record["wall_seconds"]),
        )


class NASTable:
    """Trained architectures of one :class:`~skautoml.nas.CellSpace`, looked up by architecture.

    Parameters
    ----------
    space : CellSpace
        The space the architectures were trained in (its depth and width
        fixed the networks).
    entries : iterable of TableEntry
        One per architecture, all with curves of the same number of epochs.
    info : dict or None
        How the table was made (data, split, training settings, machine);
        kept in the file, never read by the lookups.

    Attributes
    ----------
    max_epochs : int
        Epochs of every recorded run.

    See Also
    --------
    load_nas_table : read a table file, the shipped one by default.
    TabularEvaluator : answers trials from a table.

    Examples
    --------
    >>> table = load_nas_table()  # the table shipped with skautoml
    >>> table.max_epochs
    20
    >>> len(table) <= table.space.size()
    True
    >>> arch, score = table.best()
    >>> table.entry(arch).score() == score
    True
    """

    def __init__(self, space, entries, info=None):
        if not isinstance(space, CellSpace):
            raise TypeError(f"NASTable holds architectures of a CellSpace; got {type(space).__name__}.")
        self.space = space
        self.info = dict(info or {})
        self._entries = {}
        for entry in entries:
            architecture = canonical_architecture(entry.architecture)
            if not space.contains(architecture):
                raise ValueError(f"{architecture} is not an architecture of {space!r}.")
            if architecture in self._entries:
                raise ValueError(f"the table has two entries for {architecture} (after canonical ordering).")
            self._entries[architecture] = replace(entry, architecture=architecture)
        lengths = {len(curve) for e in self._entries.values() for curve in (e.valid_loss, e.valid_acc, e.test_acc, e.epoch_seconds)}
        if len(lengths) > 1 or 0 in lengths:
            raise ValueError(f"every curve of a table must have the same, positive, number of epochs; got {sorted(lengths)}.")
        self.max_epochs = lengths.pop() if lengths else 0

    def __len__(self):
        return len(self._entries)

    def __iter__(self):
        return iter(self._entries.values())

    def __contains__(self, architecture):
        return canonical_architecture(architecture) in self._entries

    def __repr__(self):
        return f"NASTable({self.space!r}, {len(self)} architectures, {self.max_epochs} epochs)"

    def __eq__(self, other):
        return (
            type(other) is type(self)
            and self.space == other.space
            and self._entries == other._entries
            and self.info == other.info
        )

    def __hash__(self):
        return hash((repr(self), tuple(self._entries)))

    @property
    def complete(self):
        """Whether the table holds every architecture of its space (symmetric forms counted once)."""
        if getattr(self, "_complete", None) is None:
            self._complete = len(self) == len(enumerate_architectures(self.space, max_count=10**7))
        return self._complete

    @property
    def architectures(self):
        """The tabulated architectures (canonical forms), in table order."""
        return list(self._entries)

    def entry(self, architecture):
        """The :class:`TableEntry` of ``architecture`` (any symmetric form); KeyError when absent."""
        try:
            return self._entries[canonical_architecture(architecture)]
        except (KeyError, TypeError):
            raise KeyError(
                f"{architecture} is not in the table ({len(self)} architectures of {self.space!r})."
            ) from None

    def best(self, epochs=None, key="score"):
        """The architecture with the highest ``key`` (``'score'`` or ``'test_score'``) and that value.

        ``epochs`` as for :meth:`TableEntry.score`. Ties go to the first in table order.
        """
        if not self._entries:
            raise ValueError("the table is empty.")
        if key not in ("score", "test_score"):
            raise ValueError(f"key must be 'score' or 'test_score'; got {key!r}.")
        values = [(getattr(e, key)(epochs), e.architecture) for e in self._entries.values()]
        value, architecture = max(values, key=lambda item: item[0])
        return architecture, value

    def _encodings(self):
        """The architectures and their ``space.encode`` rows, computed once."""
        if getattr(self, "_codes", None) is None:
            architectures = self.architectures
            self._codes = (architectures, np.array([self.space.encode(a) for a in architectures]))
        return self._codes

    def to_json(self):
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "space": {"class": "CellSpace", "params": {k: _jsonable(getattr(self.space, k)) for k in _SPACE_PARAMS}},
            "info": self.info,
            "entries": [entry.to_json() for entry in self._entries.values()],
        }

    @classmethod
    def from_json(cls, document):
        if not isinstance(document, dict) or document.get("format") != _FORMAT:
            raise ValueError(f"not a skautoml NAS table (expected format {_FORMAT!r}).")
        if document.get("version") != _VERSION:
            raise ValueError(f"NAS table version {document.get('version')!r} is not supported (expected {_VERSION}).")
        params = {k: tuple(v) if isinstance(v, list) else v for k, v in document["space"]["params"].items()}
        return cls(CellSpace(**params), [TableEntry.from_json(r) for r in document["entries"]], document.get("info"))

    def save(self, path):
        """Write the table to ``path`` as gzip-compressed JSON (``.json.gz``); returns the path.

        Written to a temporary file first and renamed, so an interrupted save
        never leaves half a table.
        """
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # One temporary file per process: several may save the same table.
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        # No name or time in the gzip header: the same table gives the same bytes.
        with open(tmp, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as stream:
            stream.write(json.dumps(self.to_json(), separators=(",", ":")).encode())
        tmp.replace(path)
        return path


def _jsonable(value):
    return list(value) if isinstance(value, tuple) else value


def load_nas_table(path=None):
    """Read a NAS table: the one shipped with skautoml, or the file at ``path``.

    Parameters
    ----------
    path : str, path-like or None
        A ``.json.gz`` file written by :meth:`NASTable.save` (for example by
        ``benchmarks/build_nas_table.py --out``). None reads the table shipped
        in the package (``skautoml/nas/data/nas_table_digits.json.gz``).

    Returns
    -------
    NASTable

    Examples
    --------
    >>> table = load_nas_table()
    >>> table.space.operations
    ('conv3x3', 'maxpool', 'identity')
    """
    if path is None:
        resource = importlib.resources.files("skautoml.nas").joinpath("data", DEFAULT_TABLE)
        if not resource.is_file():
            raise FileNotFoundError(
                f"the NAS table {DEFAULT_TABLE} is not in this installation of skautoml; build one with "
                "benchmarks/build_nas_table.py and pass its path."
            )
        data = resource.read_bytes()
    else:
        data = Path(path).read_bytes()
    try:
        document = json.loads(gzip.decompress(data))
    except (OSError, EOFError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read a NAS table from {path or DEFAULT_TABLE}: {exc}") from exc
    return NASTable.from_json(document)


class TabularSpace(SearchSpace):
    """The architectures of a :class:`NASTable`, as a search space.

    Strategies searching ``table.space`` may propose architectures that a
    table of a sample of the space does not hold. Searching this space
    instead keeps every proposal in the table: :meth:`sample` draws from
    ``table.space`` until it draws a tabulated architecture (so the
    distribution is the space's own, restricted to the table), and
    :meth:`mutate` applies ``table.space.mutate`` until the child is a
    tabulated architecture other than the parent; when 20 tries find none, it
    returns a tabulated architecture nearest to the parent in encoding
    (L1 distance of ``table.space.encode``, ties drawn at random). Values are
    the canonical forms the table stores; encoding and building are those
    of ``table.space``. Over a complete table, it is ``table.space`` without
    symmetric duplicates.

    Parameters
    ----------
    table : NASTable

    Examples
    --------
    >>> import numpy as np
    >>> table = load_nas_table()
    >>> space = TabularSpace(table)
    >>> space.size() == len(table)
    True
    >>> rng = np.random.default_rng(0)
    >>> arch = space.sample(rng)
    >>> arch in table and space.mutate(arch, rng) in table
    True
    """

    takes_images = True

    def __init__(self, table):
        self.table = table

    def _check(self):
        if not isinstance(self.table, NASTable) or not len(self.table):
            raise ValueError(f"TabularSpace needs a non-empty NASTable; got {self.table!r}.")

    def sample(self, rng):
        self._check()
        for _ in range(1000):
            architecture = canonical_architecture(self.table.space.sample(rng))
            if architecture in self.table:
                return architecture
        # A table holding a tiny part of its space: draw from the table directly.
        architectures = self.table.architectures
        return architectures[int(rng.integers(len(architectures)))]

    def mutate(self, architecture, rng):
        self._check()
        parent = canonical_architecture(architecture)
        if len(self.table) == 1:
            return parent
        for _ in range(20):
            child = canonical_architecture(self.table.space.mutate(parent, rng))
            if child != parent and child in self.table:
                return child
        architectures, codes = self.table._encodings()
        distance = np.abs(codes - self.table.space.encode(parent)).sum(axis=1)
        distance[[a == parent for a in architectures]] = np.inf
        nearest = np.flatnonzero(distance == distance.min())
        return architectures[int(nearest[int(rng.integers(len(nearest)))])]

    def encode(self, architecture):
        return self.table.space.encode(architecture)

    def build(self, architecture, input_shape, n_outputs):
        if not self.contains(architecture):
            raise ValueError(f"{architecture} is not in the table of this TabularSpace.")
        return self.table.space.build(architecture, input_shape, n_outputs)

    def size(self):
        return len(self.table)

    def contains(self, architecture):
        return self.table.space.contains(architecture) and architecture in self.table


class TabularEvaluator:
    """Answers trials from a :class:`NASTable` instead of training: a trial costs a lookup.

    Has the ``evaluate`` method of :class:`~skautoml.nas.Evaluator`, so
    ``run_search`` and every ask/tell strategy run against it unchanged; the
    data arguments are ignored (the table was trained on its own split, see
    ``table.info``).

    A trial of ``fidelity.max_epochs`` epochs (capped at the table's
    ``max_epochs``) reports what :class:`~skautoml.nas.Evaluator` with
    ``patience=None`` reports: the validation accuracy at the epoch with the
    lowest validation loss among the first ``max_epochs`` epochs, and the
    recorded time of building the network and of those epochs (processor
    time with one thread: the time on an idle core); ``curve`` is the
    recorded validation accuracy of those epochs. Fewer epochs read the start
    of the recorded run, whose cosine learning-rate schedule spans all
    ``table.max_epochs`` epochs (as NAS-Bench-201's per-epoch curves do), not
    a shorter schedule of their own. Only full-data trials are tabulated:
    ``fidelity.data_fraction`` below 1 raises ``ValueError``. The wall clock
    is not simulated: ``deadline`` is accepted and ignored.

    An architecture missing from the table (of another space, or left out of
    a partial table) gives a trial with ``status='failed'`` and says why, as
    a failed training does.

    Parameters
    ----------
    table : NASTable

    Attributes
    ----------
    space : CellSpace or TabularSpace
        The space to search: the table's own when the table holds all of it,
        otherwise ``TabularSpace(table)``, so that every proposal is in the
        table.

    See Also
    --------
    load_nas_table : read a table.
    skautoml.nas.Evaluator : trains for real.

    Examples
    --------
    >>> from skautoml.nas import Budget, Fidelity, RandomSearch, run_search
    >>> evaluator = TabularEvaluator.load_default()
    >>> strategy = RandomSearch().reset(evaluator.space, random_state=0)
    >>> budget = Budget(max_trials=30).start()
    >>> results = run_search(strategy, evaluator, (None,) * 4, Fidelity(20), budget, base_seed=0)
    >>> best_found = max(r.score for r in results)
    >>> regret = evaluator.table.best()[1] - best_found
    >>> 0 <= regret < 0.05
    True
    """

    def __init__(self, table):
        self.table = table

    @classmethod
    def load_default(cls):
        """An evaluator over the table shipped with skautoml."""
        return cls(load_nas_table())

    @classmethod
    def from_file(cls, path):
        """An evaluator over the table file at ``path``."""
        return cls(load_nas_table(path))

    @property
    def space(self):
        return self.table.space if self.table.complete else TabularSpace(self.table)

    def __repr__(self):
        return f"TabularEvaluator({self.table!r})"

    def evaluate(self, architecture, X_train, y_train, X_valid, y_valid, fidelity, seed, deadline=None):
        """The recorded result of ``architecture`` at ``fidelity``, as a :class:`TrialResult`."""
        if fidelity.data_fraction != 1.0:
            raise ValueError(
                f"the NAS table records training on all the training data; got "
                f"data_fraction={fidelity.data_fraction}. Use Fidelity(max_epochs) with data_fraction=1.0."
            )
        if int(fidelity.max_epochs) < 1:
            raise ValueError(f"fidelity.max_epochs must be >= 1; got {fidelity.max_epochs}.")
        try:
            entry = self.table.entry(architecture)
        except KeyError as exc:
            return TrialResult(architecture, score=math.nan, status="failed", error=f"KeyError: {exc.args[0]}", seed=seed)
        epochs = min(int(fidelity.max_epochs), self.table.max_epochs)
        best_epoch = entry.best_epoch(epochs)
        return TrialResult(
            architecture,
            score=entry.valid_acc[best_epoch - 1],
            status="ok",
            n_params=entry.n_params,
            flops=entry.flops,
            train_seconds=entry.seconds(epochs),
            epochs=epochs,
            best_epoch=best_epoch,
            seed=seed,
            curve=entry.valid_acc[:epochs],
        )


# --------------------------------------------------------------------------- building a table


class _EpochProcessTime(Callback):
    """Records ``cpu_dur``, the processor time of each epoch (steady under machine load, unlike ``dur``)."""

    def on_epoch_begin(self, net, **kwargs):
        self._started = time.process_time()

    def on_epoch_end(self, net, **kwargs):
        net.history.record("cpu_dur", time.process_time() - self._started)


class _TestAccuracy(Callback):
    """Records ``test_acc`` after every epoch, on held-out data the training never sees."""

    def __init__(self, X, y):
        self.X, self.y = X, y

    def on_epoch_end(self, net, **kwargs):
        module = net.module_
        was_training = module.training
        module.train(False)
        with torch.no_grad():
            correct = (module(self.X).argmax(dim=1) == self.y).sum()
        module.train(was_training)
        net.history.record("test_acc", int(correct) / len(self.y))


def tabulate_architecture(
    space,
    architecture,
    data,
    max_epochs=20,
    seed=0,
    batch_size=64,
    lr=3e-3,
    weight_decay=1e-4,
):
    """Train ``architecture`` once, to the end, and record it as a :class:`TableEntry`.

    Training is that of :class:`~skautoml.nas.Evaluator` with
    ``patience=None`` (skorch, AdamW, a cosine schedule over ``max_epochs``,
    input standardisation learned from the training data), seeded with
    ``seed``; after every epoch the validation loss and accuracy and the
    accuracy on the test data are recorded, and the processor time of the
    epoch (run it with ``torch.set_num_threads(1)`` for that to be the time
    on one core).

    Parameters
    ----------
    space : CellSpace
    architecture : CellArchitecture
        Stored in canonical form; the network trained is the canonical one.
    data : tuple
        ``(X_train, y_train, X_valid, y_valid, X_test, y_test)``; images of
        shape ``(N, C, H, W)``, labels ``0 .. n_classes - 1``.
    max_epochs, seed, batch_size, lr, weight_decay
        Training settings.

    Returns
    -------
    TableEntry
    """
    X_train, y_train, X_valid, y_valid, X_test, y_test = data
    architecture = canonical_architecture(architecture)
    n_classes = int(max(np.max(y_train), np.max(y_valid), np.max(y_test))) + 1
    evaluator = Evaluator(
        space, X_train.shape[1:], n_classes, batch_size=batch_size, lr=lr, weight_decay=weight_decay, patience=None
    )
    started, started_cpu = time.perf_counter(), time.process_time()
    # Seeded like a trial (a fork of torch's generators), leaving the caller's random state alone.
    with torch_seeded(seed, evaluator.device):
        module = evaluator.build_module(architecture, X_train)
        n_params = sum(p.numel() for p in module.parameters() if p.requires_grad)
        flops = count_flops(module, evaluator.input_shape)
        net = evaluator.make_net(module, max_epochs, evaluator._to_device(X_valid, y_valid))
        # First of the added callbacks, so the test pass is not counted in the epoch times.
        net.callbacks.insert(0, ("process_time", _EpochProcessTime()))
        net.callbacks.append(("test_accuracy", _TestAccuracy(*evaluator._to_device(X_test, y_test))))
        build_seconds = time.process_time() - started_cpu
        net.fit(*evaluator._to_device(X_train, y_train))
    wall_seconds = time.perf_counter() - started
    history = net.history
    return TableEntry(
        architecture=architecture,
        valid_loss=tuple(float(v) for v in history[:, "valid_loss"]),
        valid_acc=tuple(float(v) for v in history[:, "valid_acc"]),
        test_acc=tuple(float(v) for v in history[:, "test_acc"]),
        epoch_seconds=tuple(float(v) for v in history[:, "cpu_dur"]),
        build_seconds=build_seconds,
        n_params=int(n_params),
        flops=int(flops),
        seed=int(seed),
        wall_seconds=wall_seconds,
    )
