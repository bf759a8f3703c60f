"""Gradient-based one-shot strategies over the cell supernet: DARTS, GDAS and PC-DARTS.

They are ask/tell strategies of the one search loop
(:func:`~skautoml.search.run_search`), built on :class:`OneShotStrategy`.
Every trial is a *training trial*: its :class:`GradientTrial` warm start has
the evaluator train the strategy's supernet (a copy of it, relaxed) for
``epochs_per_trial`` epochs of the bilevel search, the weights on the
training split by the evaluator's optimiser and the architecture parameters
on the validation split by the :class:`ArchitectureStep` callback, and then
score the trial's architecture as a subnet with the inherited weights; the
trained supernet comes back to the strategy (``keep_model``).

What the relaxations compute (softmax mixtures, Gumbel samples, partial
channels, edge normalisation), how architectures are derived and how memory
is estimated belong to :class:`~skautoml.nas.oneshot.CellSupernet`; this
module decides which parameters step when, and on which data.
"""
import copy
import math
import warnings
from numbers import Integral, Real

import torch
from skorch.callbacks import Callback
from torch.nn import functional as F

from ..._utils._random import SEED_MAX, torch_seeded
from ...search import Proposal
from ._costs import CellCosts
from ._strategies import OneShotStrategy, SupernetTrial

#: The supernet attribute that carries the gradient search between trials (see :class:`ArchitectureStep`).
SEARCH_STATE = "gradient_search_state"
#: Share of free GPU memory a supernet may use when ``memory_limit`` is None.
GPU_MEMORY_SHARE = 0.8
#: DARTS's step for the finite-difference Hessian-vector product: ``0.01 / ||grad||``.
FINITE_DIFFERENCE_STEP = 0.01


class SupernetMemoryError(MemoryError):
    """No supernet of the fallbacks fits the memory limit (a gradient search cannot start)."""


def architecture_gradient(module, supernet, train_batch, valid_batch, order=1, lr=0.0, criterion=F.cross_entropy):
    """The gradient of the validation loss with respect to ``supernet.arch_parameters()`` (DARTS, eqs. 6-8).

    ``order=1``: :math:`\\nabla_\\alpha L_{val}(w, \\alpha)`. ``order=2``
    (the unrolled step, DARTS eq. 7): with :math:`w' = w - \\xi \\nabla_w
    L_{train}(w, \\alpha)` (``xi = lr``, a plain gradient step),
    :math:`\\nabla_\\alpha L_{val}(w', \\alpha) - \\xi \\nabla^2_{\\alpha, w}
    L_{train}(w, \\alpha) \\nabla_{w'} L_{val}(w', \\alpha)`, the
    Hessian-vector product by central finite differences (eq. 8) at
    :math:`w^\\pm = w \\pm \\epsilon \\nabla_{w'} L_{val}(w', \\alpha)`,
    :math:`\\epsilon = 0.01 / \\|\\nabla_{w'} L_{val}(w', \\alpha)\\|`. Both
    passes of the difference draw the same random numbers (GDAS's Gumbel
    samples). The weights are restored; no ``.grad`` is written.

    Parameters
    ----------
    module : nn.Module
        What computes the loss (the supernet, or the supernet behind the
        input standardisation), in the mode it is to compute in.
    supernet : CellSupernet
        The supernet inside ``module``, relaxed.
    train_batch, valid_batch : tuple of Tensor
        ``(X, y)``; ``train_batch`` is used by ``order=2`` only.
    order : {1, 2}, default=1
    lr : float, default=0.0
        :math:`\\xi`, the learning rate of the virtual step (``order=2``);
        0 gives the first-order gradient.
    criterion : callable, default=F.cross_entropy
        ``criterion(logits, y) -> loss``.

    Returns
    -------
    gradients : list of Tensor
        One per architecture parameter (zeros where the loss does not
        depend on it).

    Examples
    --------
    >>> import torch
    >>> from skautoml.nas import CellSpace
    >>> from skautoml.nas.oneshot import architecture_gradient
    >>> space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    >>> supernet = space.supernet((1, 8, 8), 10).relax("softmax")
    >>> batch = (torch.randn(8, 1, 8, 8), torch.arange(8))
    >>> first = architecture_gradient(supernet, supernet, batch, batch)
    >>> second = architecture_gradient(supernet, supernet, batch, batch, order=2, lr=0.1)
    >>> [tuple(g.shape) for g in second], torch.allclose(first[0], second[0])
    ([(5, 2), (5, 2)], False)
    """
    if order not in (1, 2) or isinstance(order, bool):
        raise ValueError(f"order must be 1 (first order) or 2 (the unrolled step); got order={order!r}.")
    alphas = list(supernet.arch_parameters())
    X_valid, y_valid = valid_batch
    if order == 1 or lr == 0:
        return _gradients(criterion(module(X_valid), y_valid), alphas)
    X_train, y_train = train_batch
    ids = {id(p) for p in alphas}
    weights = [p for p in module.parameters() if p.requires_grad and id(p) not in ids]
    saved = [p.detach().clone() for p in weights]
    try:
        train_grads = torch.autograd.grad(criterion(module(X_train), y_train), weights, allow_unused=True)
        _move(weights, saved, train_grads, -lr)  # w' = w - xi * dL_train/dw
        grads = torch.autograd.grad(criterion(module(X_valid), y_valid), alphas + weights, allow_unused=True)
        direct = [torch.zeros_like(p) if g is None else g for p, g in zip(alphas, grads)]
        valid_grads = grads[len(alphas) :]
        norm = math.sqrt(sum(float(g.pow(2).sum()) for g in valid_grads if g is not None))
        if norm == 0:
            return direct
        epsilon = FINITE_DIFFERENCE_STEP / norm
        device = X_train.device
        randomness = _rng_states(device)
        shifted = []
        for sign in (1.0, -1.0):
            _move(weights, saved, valid_grads, sign * epsilon)
            _set_rng_states(device, randomness)  # the same Gumbel samples at w+ and w-
            shifted.append(_gradients(criterion(module(X_train), y_train), alphas))
        return [d - lr * (plus - minus) / (2 * epsilon) for d, plus, minus in zip(direct, *shifted)]
    finally:
        _move(weights, saved, [None] * len(weights), 0.0)


def _gradients(loss, params):
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return [torch.zeros_like(p) if g is None else g for p, g in zip(params, grads)]


def _move(params, origin, direction, scale):
    """Set each parameter to its ``origin + scale * direction`` (the origin where the direction is None)."""
    with torch.no_grad():
        for p, start, step in zip(params, origin, direction):
            p.copy_(start if step is None else start + scale * step)


def _rng_states(device):
    states = [torch.get_rng_state()]
    if device.type == "cuda":
        states.append(torch.cuda.get_rng_state(device))
    return states


def _set_rng_states(device, states):
    torch.set_rng_state(states[0])
    if device.type == "cuda":
        torch.cuda.set_rng_state(states[1], device)


def search_state(supernet):
    """What a gradient search carries between trials on ``supernet``: a dict, created empty on first use.

    ``'epochs'``: the search epochs the supernet has trained (warm-up
    included); ``'optimizer'``: the ``state_dict`` of the architecture
    parameters' Adam (on the CPU), or None before the first step.
    """
    state = getattr(supernet, SEARCH_STATE, None)
    if state is None:
        state = {"epochs": 0, "optimizer": None}
        setattr(supernet, SEARCH_STATE, state)
    return state


def _cpu_state_dict(optimizer):
    """A copy of ``optimizer.state_dict()`` with its tensors on the CPU (loading moves them to the parameters)."""
    state = optimizer.state_dict()
    return {
        "state": {
            key: {name: value.detach().cpu().clone() if torch.is_tensor(value) else value for name, value in s.items()}
            for key, s in state["state"].items()
        },
        "param_groups": copy.deepcopy(state["param_groups"]),
    }


class ArchitectureStep(Callback):
    """A skorch callback: before each training batch, an Adam step of the architecture parameters on a validation batch.

    The net's module is ``Sequential(Standardize, supernet)`` with a relaxed
    :class:`~skautoml.nas.oneshot.CellSupernet` last. At the start of
    training an Adam over ``supernet.arch_parameters()`` is created and
    loads the state the supernet carries from earlier trials (see
    :func:`search_state`); at the end, its state and the epochs trained go
    back there. In every epoch after the first ``warmup_epochs`` of the
    search (counted over all trials), each training batch is preceded by
    an architecture step on the next validation batch (the validation data
    reshuffled, from ``seed``, whenever fewer than a batch remain), of
    :func:`architecture_gradient`'s order, with the weights' current
    learning rate as the virtual step's. The network weights are the net's
    optimiser's business.

    Parameters
    ----------
    valid_data : tuple of Tensor
        ``(X_valid, y_valid)`` on the training device.
    seed : int, default=0
        Order of the validation batches.
    order : {1, 2}, default=1
    lr : float, default=3e-4
    betas : tuple of float, default=(0.5, 0.999)
    weight_decay : float, default=1e-3
        Of the architecture parameters' Adam (DARTS's settings).
    warmup_epochs : int, default=0
        First epochs of the search that leave the architecture parameters alone.
    costs : CellCosts or None, default=None
        Hard cost limits: each step's loss adds ``cost_weight *``
        :meth:`CellCosts.penalty` of :meth:`CellCosts.relaxed_cost` on the
        edges of the architecture derived at the start of the epoch (zero
        while the derived cells are within every limit).
    cost_weight : float, default=1.0
        The weight of that term.

    Attributes
    ----------
    optimizer_ : torch.optim.Adam
    steps_ : int
        Architecture steps of this fit.
    cost_ : dict
        With ``costs``: the relaxed cost per limited field at the last step.
    """

    def __init__(
        self, valid_data, seed=0, order=1, lr=3e-4, betas=(0.5, 0.999), weight_decay=1e-3, warmup_epochs=0,
        costs=None, cost_weight=1.0,
    ):
        self.valid_data = valid_data
        self.seed = seed
        self.order = order
        self.lr = lr
        self.betas = betas
        self.weight_decay = weight_decay
        self.warmup_epochs = warmup_epochs
        self.costs = costs
        self.cost_weight = cost_weight

    def on_train_begin(self, net, **kwargs):
        supernet = net.module_[-1]
        settings = {"lr": self.lr, "betas": tuple(self.betas), "weight_decay": self.weight_decay}
        self.optimizer_ = torch.optim.Adam(supernet.arch_parameters(), **settings)
        saved = search_state(supernet)["optimizer"]
        if saved is not None:
            self.optimizer_.load_state_dict(saved)
            for group in self.optimizer_.param_groups:
                group.update(settings)  # this trial's settings, not the saved ones
        self.generator_ = torch.Generator().manual_seed(int(self.seed))
        self._order, self._position = None, 0
        self.steps_ = 0
        self.active_ = False
        self.cost_ = {}

    def on_epoch_begin(self, net, **kwargs):
        # The net's own on_epoch_begin has already added this epoch to its history.
        supernet = net.module_[-1]
        epoch = search_state(supernet)["epochs"] + len(net.history) - 1
        self.active_ = epoch >= self.warmup_epochs
        if self.active_ and self.costs is not None:
            self._edges = supernet.derive()  # whose edges the cost term counts this epoch

    def on_batch_begin(self, net, batch=None, training=False, **kwargs):
        if not (training and self.active_):
            return
        module = net.module_
        if not module.training:  # after the last epoch's validation pass (skorch sets the mode per batch)
            module.train()
        supernet = module[-1]
        xi = max(group["lr"] for group in net.optimizer_.param_groups)
        valid_batch = self._valid_batch(net.batch_size)
        grads = architecture_gradient(module, supernet, batch, valid_batch, self.order, xi, net.criterion_)
        if self.costs is not None:
            grads = self._with_cost_term(supernet, grads)
        for p, g in zip(supernet.arch_parameters(), grads):
            p.grad = g
        self.optimizer_.step()
        self.optimizer_.zero_grad(set_to_none=True)
        self.steps_ += 1

    def _with_cost_term(self, supernet, grads):
        """``grads`` plus the gradient of ``cost_weight * penalty`` (it depends on the alphas only)."""
        costs = self.costs.relaxed_cost(supernet, self._edges)
        self.cost_ = {field: float(cost.detach()) for field, cost in costs.items()}
        penalty = self.cost_weight * self.costs.penalty(costs)
        extra = torch.autograd.grad(penalty, supernet.arch_parameters(), allow_unused=True)
        return [g if e is None else g + e for g, e in zip(grads, extra)]

    def on_train_end(self, net, **kwargs):
        state = search_state(net.module_[-1])
        state["epochs"] += len(net.history)
        state["optimizer"] = _cpu_state_dict(self.optimizer_)

    def _valid_batch(self, batch_size):
        X, y = self.valid_data
        size = min(batch_size, len(X))
        if self._order is None or len(X) - self._position < size:
            self._order = torch.randperm(len(X), generator=self.generator_).to(X.device)
            self._position = 0
        rows = self._order[self._position : self._position + size]
        self._position += size
        return X[rows], y[rows]


def memory_limit_for(memory_limit, device):
    """The bytes a supernet may use: ``memory_limit``, else 80% of the free memory of a CUDA ``device``, else None."""
    if memory_limit is not None:
        return memory_limit
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(device)
        return GPU_MEMORY_SHARE * free
    return None


def _fallbacks(space, partial_channels):
    """Smaller search networks, in the order tried: more partial channels, then fewer cells (each with every k)."""
    channels = space.initial_channels
    ks = [partial_channels] + [k for k in range(2, channels + 1) if channels % k == 0 and k > (partial_channels or 1)]
    for n_cells in range(space.n_cells, space.n_reductions, -1):
        shallower = space if n_cells == space.n_cells else space.deeper(n_cells=n_cells)
        for k in ks:
            if (n_cells, k) != (space.n_cells, partial_channels):
                yield shallower, k


def _mib(n_bytes):
    return f"{n_bytes / 2**20:.1f} MiB"


class GradientTrial(SupernetTrial):
    """The warm start of a gradient trial: the relaxed supernet, the architecture step, the subnet to score.

    ``build`` returns a copy of the strategy's supernet (on the first trial
    a new one, its architecture parameters set to ``initial``, behind the
    evaluator's input standardisation), relaxed with ``relaxation`` at
    temperature ``tau``; ``net_params`` keeps the architecture parameters
    out of the evaluator's optimiser (a parameter group with learning rate
    and weight decay 0); ``callbacks`` adds the :class:`ArchitectureStep`;
    ``scored`` is the subnet of the architecture derived after training,
    with the inherited weights and recalibrated batch-norm statistics
    (:class:`SupernetTrial`'s).

    **Memory.** A new supernet's :meth:`~CellSupernet.estimate_memory`
    for the evaluator's batch size is compared with ``memory_limit`` (None:
    80% of the free memory of a CUDA device, no limit on the CPU). Above
    it, smaller search networks are tried in this order, and the first that
    fits is used, with a ``UserWarning`` that says which: partial channels
    (each ``k`` dividing ``initial_channels``, from the smallest above the
    current), then fewer cells (``space.deeper(n_cells=...)``, down to
    ``n_reductions + 1``, each with the full channels first). A shallower
    search network has the space's cell settings, so its architectures are
    the space's; the trials score them as shallower networks. When nothing
    fits, :class:`SupernetMemoryError`. The estimate leaves out the
    optimisers' states and the second order's copy of the weights.

    Parameters
    ----------
    module : nn.Module or None
        ``Sequential(Standardize, supernet)`` from an earlier trial; None
        creates the supernet.
    architecture : CellArchitecture
        Scored after training.
    space : CellSpace
    options : dict
        Settings of a new supernet (``partial_channels``).
    relaxation : {'softmax', 'gumbel'}
    tau : float or None
        The Gumbel-softmax temperature of this trial; None leaves it.
    initial : dict or None
        Architecture parameters (name: tensor) of a new supernet; a
        parameter it does not name (the betas of a partial-channel
        fallback) starts at zero.
    step : dict
        The :class:`ArchitectureStep`'s settings (``order``, ``lr``,
        ``betas``, ``weight_decay``, ``warmup_epochs``).
    memory_limit : float or None
    name : str
        The strategy's name, for messages.
    max_parameter_free : int or None
        The collapse rule of the derivation.
    costs : CellCosts or None
        Hard cost limits: the architecture step adds their cost term, and
        the scored architecture is derived within them.
    """

    def __init__(
        self, module, architecture, space, options=None, relaxation="softmax", tau=None, initial=None, step=None,
        memory_limit=None, name="DARTS", max_parameter_free=None, costs=None,
    ):
        super().__init__(module, architecture, "relax", space, options)
        self.relaxation = relaxation
        self.tau = tau
        self.initial = initial
        self.step = dict(step or {})
        self.memory_limit = memory_limit
        self.name = name
        self.max_parameter_free = max_parameter_free
        self.costs = costs

    def _prepare(self, module, seed):
        supernet = module[-1].relax(self.relaxation)
        if self.tau is not None:
            supernet.tau = self.tau
        arch = {id(p) for p in supernet.arch_parameters()}
        self._arch_names = [name for name, p in module.named_parameters() if id(p) in arch]

    def scored(self, module, X_train, seed):
        """The subnet of the architecture derived from the architecture parameters this trial trained."""
        self.architecture = self.scored_architecture = module[-1].derive(self.max_parameter_free, self.costs)
        return super().scored(module, X_train, seed)

    def net_params(self):
        # The weights' optimiser leaves the architecture parameters alone: lr 0, and no decoupled weight decay.
        return {"optimizer__param_groups": [(name, {"lr": 0.0, "weight_decay": 0.0}) for name in self._arch_names]}

    def callbacks(self, valid_data, seed):
        return [("architecture_step", ArchitectureStep(valid_data, seed, costs=self.costs, **self.step))]

    def _new_supernet(self, evaluator):
        supernet = self._fitting_supernet(evaluator)
        if self.initial is not None:
            arch = {id(p) for p in supernet.arch_parameters()}
            with torch.no_grad():
                for name, p in supernet.named_parameters():
                    if id(p) in arch:
                        p.copy_(self.initial[name] if name in self.initial else torch.zeros_like(p))
        return supernet


    def _fitting_supernet(self, evaluator):
        """The space's supernet, or the first fallback that fits the memory limit (with a warning)."""
        shape, n_outputs, batch_size = evaluator.input_shape, evaluator.n_outputs, evaluator.batch_size
        partial = self.options.get("partial_channels")
        supernet = self.space.supernet(shape, n_outputs, **self.options)
        limit = memory_limit_for(self.memory_limit, evaluator.device)
        if limit is None:
            return supernet
        need = supernet.estimate_memory(batch_size, self.relaxation)
        if need <= limit:
            return supernet
        space, k, smaller = self.space, partial, need
        for space, k in _fallbacks(self.space, partial):
            supernet = space.supernet(shape, n_outputs, **{**self.options, "partial_channels": k})
            smaller = supernet.estimate_memory(batch_size, self.relaxation)
            if smaller <= limit:
                break
        else:
            raise SupernetMemoryError(
                f"{self.name}: no search network fits the memory limit of {_mib(limit)} for batches of "
                f"{batch_size}: the smallest, {space.n_cells} cells with partial_channels={k}, needs about "
                f"{_mib(smaller)}. Use a smaller batch size or space, or SPOS (one path per batch)."
            )
        shallower = space.n_cells != self.space.n_cells
        what = [f"{space.n_cells} cells instead of {self.space.n_cells}"] * shallower
        what += [f"partial_channels={k}"] * (k != partial)
        warnings.warn(
            f"{self.name}: the supernet needs about {_mib(need)} for batches of {batch_size}, over the memory limit "
            f"of {_mib(limit)}; searching with {' and '.join(what)} (about {_mib(smaller)}) instead."
            + (" Trials score the architectures as networks of that depth; the refit builds the space's." * shallower),
            UserWarning,
            stacklevel=2,
        )
        return supernet


class DARTS(OneShotStrategy):
    """Differentiable architecture search (Liu et al., 2019) on the cell supernet, one search epoch per trial.

    **A trial** trains the supernet, relaxed by a softmax over the
    operations of every edge, for ``epochs_per_trial`` epochs of DARTS's
    bilevel search, through skorch: the network weights step on the
    training batches with the evaluator's optimiser (AdamW, its learning
    rate and cosine schedule; the architecture parameters are kept out of
    it), and before each training batch the architecture parameters step
    on a validation batch with their own Adam (lr ``arch_lr``, betas (0.5,
    0.999), weight decay ``arch_weight_decay``), first order or, with
    ``order=2``, the unrolled step (see :func:`architecture_gradient`). The
    first ``warmup_epochs`` epochs of the search train the weights only.
    Then the trial's architecture is scored as a subnet with the inherited
    weights (batch-norm statistics recalibrated on training data) on the
    validation data. The supernet is trained as a copy, which the strategy
    keeps when the trial succeeds; the Adam state of the architecture
    parameters travels with it (:func:`search_state`), so it carries over
    from trial to trial. ``ask(n)`` proposes one trial per round (epochs
    follow one another); ``max_trials`` counts these trials.

    **The trial's architecture** is derived (:meth:`CellSupernet.derive`,
    with the collapse rule ``max_parameter_free``) from the architecture
    parameters after the trial's epochs, and scored then. (The proposal
    names the architecture derived before the epochs; the result reports the
    one scored.) The initial architecture parameters are drawn (DARTS's
    ``1e-3 * N(0, 1)``) from the strategy's random state and given to the
    new supernet.

    **Memory** (before the first trial): above ``memory_limit``, the search
    falls back to partial channels, then to fewer cells, with a warning,
    or fails with a clear error (see :class:`GradientTrial`), which ends
    the search. After a fallback to fewer cells the refit trains the
    space's network from scratch (:meth:`final_warm_start` is None);
    otherwise it fine-tunes the inherited subnet.

    **Hard limits** (``max_params``, ``max_flops``, ``max_latency_ms`` of
    the estimator; the strategy is reset with a ``FeasibleSpace``): the
    operations are priced once (:class:`CellCosts`), each architecture
    step adds ``cost_weight * sum(max(0, cost / limit - 1))`` to the
    validation loss, the cost of the cells the alphas derive on the edges
    of the architecture derived at the start of the epoch, with the
    gradient of its expectation under the softmax (a per-operation lookup
    table, as in FBNet and ProxylessNAS; here a hinge at the limit, silent
    while the derived cells are within it), and every derived
    architecture is made feasible by replacing operations with cheaper ones
    of the same edges, then inputs if need be (:meth:`CellCosts.within`),
    so no trial scores and no refit trains an architecture over a limit.

    Simplified from DARTS: the architecture parameters learn on the
    search's validation split, the one trials are scored on (DARTS halves
    the training data); the weights train with AdamW, whose moments and
    cosine schedule restart in every trial (DARTS: momentum SGD annealed
    over the whole search); the unrolled step's virtual step is a plain
    gradient step at the weights' current learning rate (DARTS's reference
    includes momentum and weight decay); the operations keep their affine
    batch norms and the derived blocks combine by ``'add'`` (see
    :class:`CellSupernet`); the architecture is scored with inherited
    weights rather than retrained; ``warmup_epochs=2`` weight-only epochs
    first (DARTS has none; later work, e.g. PC-DARTS and SDARTS, warms up
    to keep early alphas from favouring parameter-free operations, which
    train fastest); no gradient clipping of the weights (DARTS clips at 5);
    the second order's extra forward passes also update batch-norm running
    statistics, which are recalibrated before scoring anyway.

    Parameters
    ----------
    epochs_per_trial : int, default=1
        Search epochs of one trial.
    order : {1, 2}, default=1
        First-order DARTS, or the second-order unrolled step.
    warmup_epochs : int, default=2
        First epochs of the search that train the weights only.
    arch_lr : float, default=3e-4
    arch_weight_decay : float, default=1e-3
        Of the architecture parameters' Adam.
    max_parameter_free : int or None, default=None
        At most this many parameter-free operations per derived cell (the
        collapse rule of :meth:`CellSupernet.derive`); None: no limit.
    memory_limit : float or None, default=None
        Bytes the supernet may use; None: 80% of the free memory of a CUDA
        device, no limit on the CPU.
    cost_weight : float, default=1.0
        Under hard limits, the weight of the expected-cost term in the
        architecture loss (see **Hard limits**).

    Attributes
    ----------
    module : nn.Module or None
        ``Sequential(Standardize, supernet)`` after the last successful trial.
    supernet_epochs_ : int
        Trials attempted.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.nas import Budget, CellSpace, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.oneshot import DARTS
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype("float32")
    >>> data = (X[:200], y[:200], X[200:300], y[200:300])
    >>> space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    >>> strategy = DARTS(warmup_epochs=1).reset(space, random_state=0)
    >>> results = run_search(strategy, Evaluator(space, (1, 8, 8), 10), data, Fidelity(1), Budget(max_trials=2).start(), 0)
    >>> [r.epochs for r in results], all(space.contains(r.architecture) for r in results)
    ([1, 1], True)
    """


    #: The supernet's relaxation (:meth:`CellSupernet.relax`).
    relaxation = "softmax"
    arch_betas = (0.5, 0.999)

    def __init__(
        self,
        epochs_per_trial=1,
        order=1,
        warmup_epochs=2,
        arch_lr=3e-4,
        arch_weight_decay=1e-3,
        max_parameter_free=None,
        memory_limit=None,
        cost_weight=1.0,
    ):
        self.epochs_per_trial = epochs_per_trial
        self.order = order
        self.warmup_epochs = warmup_epochs
        self.arch_lr = arch_lr
        self.arch_weight_decay = arch_weight_decay
        self.max_parameter_free = max_parameter_free
        self.memory_limit = memory_limit
        self.cost_weight = cost_weight

    def reset(self, space, random_state=None):
        self._check_settings()
        super().reset(space, random_state)
        if self.relaxation not in getattr(space, "supernet_relaxations", ()):
            raise ValueError(  # the type OneShotStrategy.reset raises for a space without a supernet
                f"{type(self).__name__} needs a supernet with the {self.relaxation!r} relaxation, which "
                f"{type(space).__name__}'s does not offer (CellSpace's does). Use search_space='cell', or SPOS or "
                "ENAS, which train paths."
            )
        self._check_space(space)
        limits = getattr(space, "limits", None)  # a FeasibleSpace under max_params, max_flops, max_latency_ms
        self._costs = None if limits is None or not limits.active else CellCosts(limits)
        self._stopped = False
        return self

    def _check_settings(self):
        self._check_positive_ints("epochs_per_trial")
        name = type(self).__name__
        if isinstance(self.order, bool) or self.order not in (1, 2):
            raise ValueError(f"{name} needs order=1 (first order) or order=2 (unrolled); got order={self.order!r}.")
        for key, value, optional in (
            ("warmup_epochs", self.warmup_epochs, False),
            ("max_parameter_free", self.max_parameter_free, True),
        ):
            if (value is not None or not optional) and (
                isinstance(value, bool) or not isinstance(value, Integral) or value < 0
            ):
                raise ValueError(f"{name} needs an integer {key} >= 0{' or None' * optional}; got {key}={value!r}.")
        for key, value, strict in (
            ("arch_lr", self.arch_lr, True),
            ("arch_weight_decay", self.arch_weight_decay, False),
            ("cost_weight", self.cost_weight, False),
            ("memory_limit", 1 if self.memory_limit is None else self.memory_limit, True),
        ):
            if isinstance(value, bool) or not isinstance(value, Real) or not (value > 0 or (value == 0 and not strict)):
                raise ValueError(f"{name} needs a {'positive' if strict else 'non-negative'} {key}; got {value!r}.")

    def _check_space(self, space):
        """Settings that depend on the space (PC-DARTS's partial channels)."""

    def _tau(self):
        """The Gumbel-softmax temperature of the next trial (None: the relaxation has none)."""
        return None

    def _initial_parameters(self):
        """The first supernet's architecture parameters, from the strategy's random state, and their architecture.

        Their shapes depend on the cell settings only, so a probe supernet
        of the fewest cells on one-pixel images has them.
        """
        probe_space = self.space.deeper(n_cells=self.space.n_reductions + 1)
        with torch_seeded(int(self._rng.integers(SEED_MAX))):
            probe = probe_space.supernet((1, 1, 1), 1, **self._supernet_options())
        arch = {id(p) for p in probe.arch_parameters()}
        initial = {name: p.detach().clone() for name, p in probe.named_parameters() if id(p) in arch}
        return initial, probe.derive(self.max_parameter_free, self._costs)

    def ask(self, n=None):
        self._check_reset(n)
        if self._stopped:
            return None if n is None else []
        initial = None
        if self.module is None:
            initial, architecture = self._initial_parameters()
        else:
            architecture = self.module[-1].derive(self.max_parameter_free, self._costs)
        step = {
            "order": self.order,
            "lr": self.arch_lr,
            "betas": self.arch_betas,
            "weight_decay": self.arch_weight_decay,
            "warmup_epochs": self.warmup_epochs,
            "cost_weight": self.cost_weight,
        }
        trial = GradientTrial(
            self.module, architecture, self.space, self._supernet_options(), self.relaxation, self._tau(), initial,
            step, self.memory_limit, type(self).__name__, self.max_parameter_free, self._costs,
        )
        trial.calibration_seed = self._calibration_seed  # every architecture calibrated on the same images
        proposal = Proposal(architecture, warm_start=trial, keep_model=True, epochs=self.epochs_per_trial)
        self._seen.add(architecture)
        return proposal if n is None else [proposal]

    def tell(self, candidate, result):
        super().tell(candidate, result)
        if self.module is None and not result.ok and (result.error or "").startswith(SupernetMemoryError.__name__):
            self._stopped = True  # every later trial would fail the same way

    def final_warm_start(self, architecture):
        """The subnet of ``architecture`` with the supernet's weights; None after a fallback to fewer cells."""
        if self.module is not None and self.module[-1].space.n_cells != self.space.n_cells:
            return None
        return super().final_warm_start(architecture)


class GDAS(DARTS):
    """GDAS (Dong and Yang, 2019): DARTS with one Gumbel-sampled operation per edge and an annealed temperature.

    A trial is :class:`DARTS`'s, with the relaxation ``'gumbel'``: every
    forward samples, per cell type and edge, one operation from the
    Gumbel-softmax of the alphas at temperature ``tau``, computes only
    that one, and passes the soft sample's gradient to the alphas (straight
    through; see :class:`CellSupernet`). The temperature is annealed
    linearly, per trial, from ``tau_max`` (first trial) to ``tau_min``
    (trial ``anneal_epochs``, and every later one), as GDAS anneals it over
    its search epochs; with several epochs per trial it stays the same
    within a trial.

    Choices and simplifications: no warm-up by default (GDAS has none); the
    architecture optimiser is DARTS's Adam, as in GDAS; first order by
    default (GDAS's update), ``order=2`` is offered, its finite-difference
    passes drawing the same sample; both cell types are searched, as in
    GDAS (its FRC variant fixes the reduction cell); the rest as in
    :class:`DARTS`.

    Parameters
    ----------
    tau_max, tau_min : float, default=10.0, 0.1
    anneal_epochs : int, default=20
        Trials over which the temperature goes from ``tau_max`` to ``tau_min``.
    epochs_per_trial, order, warmup_epochs, arch_lr, arch_weight_decay, max_parameter_free, memory_limit, cost_weight
        As in :class:`DARTS` (``warmup_epochs`` defaults to 0).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.nas import Budget, CellSpace, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.oneshot import GDAS
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype("float32")
    >>> data = (X[:200], y[:200], X[200:300], y[200:300])
    >>> space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    >>> strategy = GDAS(anneal_epochs=2).reset(space, random_state=0)
    >>> results = run_search(strategy, Evaluator(space, (1, 8, 8), 10), data, Fidelity(1), Budget(max_trials=2).start(), 0)
    >>> [r.epochs for r in results], strategy.module[-1].tau
    ([1, 1], 0.1)
    """

    relaxation = "gumbel"

    def __init__(
        self,
        tau_max=10.0,
        tau_min=0.1,
        anneal_epochs=20,
        epochs_per_trial=1,
        order=1,
        warmup_epochs=0,
        arch_lr=3e-4,
        arch_weight_decay=1e-3,
        max_parameter_free=None,
        memory_limit=None,
        cost_weight=1.0,
    ):
        super().__init__(
            epochs_per_trial, order, warmup_epochs, arch_lr, arch_weight_decay, max_parameter_free, memory_limit,
            cost_weight,
        )
        self.tau_max = tau_max
        self.tau_min = tau_min
        self.anneal_epochs = anneal_epochs

    def _check_settings(self):
        super()._check_settings()
        self._check_positive_ints("anneal_epochs")
        valid = all(isinstance(t, Real) and not isinstance(t, bool) for t in (self.tau_max, self.tau_min))
        if not (valid and 0 < self.tau_min <= self.tau_max):
            raise ValueError(
                f"GDAS needs 0 < tau_min <= tau_max; got tau_min={self.tau_min!r}, tau_max={self.tau_max!r}."
            )

    def _tau(self):
        progress = min(self.supernet_epochs_ / max(self.anneal_epochs - 1, 1), 1.0)
        return float((1 - progress) * self.tau_max + progress * self.tau_min)


class PCDARTS(DARTS):
    """PC-DARTS (Xu et al., 2020): DARTS on partial channels, with edge normalisation.

    A trial is :class:`DARTS`'s on a supernet with ``partial_channels=k``:
    each mixed edge computes its operations on ``1/k`` of the channels, the
    others bypass it, and each block weights its edges by the softmax of
    their betas, which learn with the alphas (same Adam) and weigh into
    the derived architecture (see :class:`CellSupernet`). Partial channels
    cut the memory of the relaxation about ``k``-fold, so a larger batch or
    search network fits.

    Simplifications: the operations on ``C/k`` channels are the first
    ``C/k`` channels of the full-width ones, sliced; otherwise as in
    :class:`DARTS` (PC-DARTS warms up for 15 of its 50 epochs; here
    ``warmup_epochs`` trials).

    Parameters
    ----------
    partial_channels : int, default=4
        ``k``: it must divide the space's ``initial_channels`` (a
        ``ValueError`` at ``reset`` otherwise).
    arch_lr : float, default=6e-4
        PC-DARTS's.
    epochs_per_trial, order, warmup_epochs, arch_weight_decay, max_parameter_free, memory_limit, cost_weight
        As in :class:`DARTS`.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skautoml.nas import Budget, CellSpace, Evaluator, Fidelity, run_search
    >>> from skautoml.nas.oneshot import PCDARTS
    >>> X, y = load_digits(return_X_y=True)
    >>> X = X.reshape(-1, 1, 8, 8).astype("float32")
    >>> data = (X[:200], y[:200], X[200:300], y[200:300])
    >>> space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    >>> strategy = PCDARTS(partial_channels=2, warmup_epochs=0).reset(space, random_state=0)
    >>> results = run_search(strategy, Evaluator(space, (1, 8, 8), 10), data, Fidelity(1), Budget(max_trials=1).start(), 0)
    >>> results[0].ok, strategy.module[-1].partial_channels
    (True, 2)
    """

    def __init__(
        self,
        partial_channels=4,
        epochs_per_trial=1,
        order=1,
        warmup_epochs=2,
        arch_lr=6e-4,
        arch_weight_decay=1e-3,
        max_parameter_free=None,
        memory_limit=None,
        cost_weight=1.0,
    ):
        super().__init__(
            epochs_per_trial, order, warmup_epochs, arch_lr, arch_weight_decay, max_parameter_free, memory_limit,
            cost_weight,
        )
        self.partial_channels = partial_channels

    def _check_space(self, space):
        k, channels = self.partial_channels, space.initial_channels
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 1 or channels % k:
            divisors = [d for d in range(1, channels + 1) if channels % d == 0]
            raise ValueError(
                f"PCDARTS needs partial_channels dividing the space's initial_channels={channels} (one of "
                f"{divisors}); got partial_channels={k!r}."
            )

    def _supernet_options(self):
        return {"partial_channels": self.partial_channels}
