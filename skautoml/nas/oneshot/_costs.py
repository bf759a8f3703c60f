"""Hard cost limits for the gradient strategies: an expected cost of the relaxed cells, and a feasible discretisation.

DARTS, GDAS and PC-DARTS never train one architecture at a time, so hard
limits cannot refuse candidates before training as they do for the other
strategies. Instead (as FBNet and ProxylessNAS price a relaxed network by a
per-operation lookup table) :class:`CellCosts` prices every operation on
every edge of every cell position once, and gives

* a **relaxed cost** of the cells, the cost of the operations the
  architecture parameters derive, differentiable through its expectation
  under their softmax, which the architecture step adds to its loss as
  ``cost_weight * sum(max(0, cost / limit - 1))``, and
* a **feasible discretisation**: the derived architecture, its operations
  (then, if need be, its blocks' inputs) replaced greedily by cheaper ones
  until the exact cost (``CostLimits``) is within every limit.
"""
import dataclasses

import numpy as np
import torch

from .._cost import module_cost
from ..space._cell import CellArchitecture, CellSpace, cell_operation
from ._cell import (
    PARAMETER_FREE_OPERATIONS,
    _block_offsets,
    _live_cells,
    cells_at_positions,
    derivable_operations,
    edge_input_shape,
    state_shapes,
)


class CellCosts:
    """What each operation of a :class:`~skautoml.nas.CellSpace` costs at each cell position, under hard limits.

    Every (operation, input shape, stride) of the space's cells is built
    alone and priced by :func:`~skautoml.nas.module_cost` (parameters,
    FLOPs, and latency from the limits' table), once. The cost of a cell
    architecture is then the *base* (stem, input calibrations, block
    combinations, output projections, head: what the operations do not
    decide) plus its operations' costs; the base of an architecture is its
    exact cost (``limits.cost``) less its operations' prices.

    **Relaxed cost** (:meth:`relaxed_cost`): on an architecture's edges (the
    two chosen inputs of every block, in the cells that reach the head), its
    value is the base plus the price of each edge's strongest operation
    other than ``'zero'`` (which a derivation never picks): the exact cost
    of the cells the alphas derive on those edges. Its gradient is that of
    the expected cost, each operation weighted by the softmax of its edge's
    alphas over the operations other than ``'zero'`` (straight through, as
    GDAS passes its hard samples' gradients), so the hinge penalty is
    silent exactly while the derived cells are within the limits, and pushes
    the alphas from the expensive operations towards the cheap ones while
    they are not. Simplified: the edges are held fixed, so the gradient
    moves the operations only (an edge's choice moves the base, which the
    term does not differentiate), and the collapse rule's replacements
    (``max_parameter_free``) are not priced.

    **Feasible discretisation** (:meth:`within`): while the exact cost is
    over a limit, replace one operation (of a block input, per cell type)
    by a cheaper operation of the same edge: of the replacements that alone
    bring the cost (as the tables estimate it) within every limit, the one
    that loses the least strength; if none does, the one that loses the
    least strength per unit of the over-limit costs saved (each cost
    relative to its limit). Never ``'zero'``, and never a parameter-free
    operation beyond ``max_parameter_free``. When no operation change lowers
    the over-limit costs, a block input moves to another earlier state, with
    the cheapest allowed operation on that edge, by the same rule, priced
    exactly (an input moves the calibrations and the output projection,
    which the tables do not hold). When neither lowers them, a
    ``ValueError`` says so: the greedy repair is not a search, and a limit it
    cannot reach may still be met by other cells.

    Parameters
    ----------
    limits : CostLimits
        Limits on architectures of a ``CellSpace`` (with its input shape
        and, for a latency limit, its table).

    Attributes
    ----------
    bounds : dict
        ``{cost field: limit}`` (``limits.bounds``).
    tables : dict of str to ndarray
        Per cost field, the price of each operation on each edge of each
        cell position: shape ``(n_cells, n_edges, n_operations)``, edges in
        the alpha tables' row order.

    Examples
    --------
    >>> import torch
    >>> from skautoml.nas import CellSpace, CostLimits
    >>> from skautoml.nas.oneshot import CellCosts
    >>> _ = torch.manual_seed(0)
    >>> space = CellSpace(n_blocks=2, n_cells=2, initial_channels=4, n_reductions=1, operations=("conv3x3", "maxpool"))
    >>> supernet = space.supernet((1, 8, 8), 10)
    >>> limits = CostLimits(space, (1, 8, 8), 10, max_params=1000)
    >>> costs = CellCosts(limits)
    >>> arch = supernet.derive()
    >>> limits.cost(arch).n_params
    1166
    >>> relaxed = costs.relaxed_cost(supernet, arch)
    >>> relaxed["n_params"].item(), relaxed["n_params"].requires_grad, costs.penalty(relaxed).item() > 0
    (1166.0, True, True)
    >>> feasible = costs.within(arch, supernet.strengths())
    >>> limits.reason(feasible) is None, limits.cost(feasible).n_params
    (True, 574)
    """

    def __init__(self, limits):
        space = limits.space
        if not isinstance(space, CellSpace):
            raise TypeError(f"CellCosts prices the cells of a CellSpace; the limits are on a {type(space).__name__}.")
        self.limits = limits
        self.space = space
        self.bounds = limits.bounds
        self.layout = space.layout()
        self._offsets = _block_offsets(space.n_blocks)
        shapes = state_shapes(space, limits.input_shape)
        operations = space.operations
        n_edges = self._offsets[-1] + space.n_blocks + 1
        self.tables = {field: np.zeros((len(self.layout), n_edges, len(operations))) for field in self.bounds}
        priced = {}
        for k, kind in enumerate(self.layout):
            for i, start in enumerate(self._offsets):
                for j in range(2 + i):
                    shape, stride = edge_input_shape(shapes, k, j, kind == "reduction")
                    for o, op in enumerate(operations):
                        key = (op, shape, stride)
                        if key not in priced:
                            with torch.random.fork_rng(devices=[]):  # pricing leaves the caller's stream alone
                                module = cell_operation(op, shape[0], stride).eval()
                            priced[key] = module_cost(module, shape, limits.latency_table)
                        for field, table in self.tables.items():
                            table[k, start + j, o] = getattr(priced[key], field)
        self._nonzero = np.isin(np.arange(len(operations)), derivable_operations(operations))
        self._weights = {}

    # ------------------------------------------------------------------ relaxed cost

    def _live_positions(self, architecture):
        """The cell positions of ``architecture`` that reach the head (``space.build`` prunes the others)."""
        return [k for k, live in enumerate(_live_cells(cells_at_positions(self.layout, architecture))) if live]

    def _choices(self, architecture):
        """``(position, row, operation index)`` of every block input of the cells that reach the head."""
        index, cells = self.space.operations.index, cells_at_positions(self.layout, architecture)
        return [
            (k, self._offsets[i] + j, index(op))
            for k in self._live_positions(architecture)
            for i, block in enumerate(cells[k])
            for j, op in ((block.input1, block.op1), (block.input2, block.op2))
        ]

    def _per_type(self, architecture):
        """Per cost field: the base, and per cell type the summed prices on the architecture's edges."""
        if architecture not in self._weights:
            exact = self.limits.cost(architecture)
            choices = self._choices(architecture)
            fields = {}
            for field, table in self.tables.items():
                weights = {kind: np.zeros(table.shape[1:]) for kind in ("normal", "reduction")}
                for k, row, _ in choices:
                    weights[self.layout[k]][row] += table[k, row]
                base = getattr(exact, field) - sum(table[k, row, o] for k, row, o in choices)
                fields[field] = (float(base), weights)
            self._weights = {architecture: fields}  # the last one: steps of an epoch share it
        return self._weights[architecture]

    def relaxed_cost(self, supernet, architecture):
        """``{field: cost}`` of the cells ``supernet``'s alphas derive on ``architecture``'s edges, as tensors whose
        gradient is that of the expected cost (straight through)."""
        costs = {}
        for field, (base, weights) in self._per_type(architecture).items():
            total = 0.0
            for kind, weight in weights.items():
                alpha = getattr(supernet, f"alpha_{kind}")
                weight = torch.as_tensor(weight, dtype=alpha.dtype, device=alpha.device)
                logits = alpha.masked_fill(torch.as_tensor(~self._nonzero, device=alpha.device), float("-inf"))
                probabilities = torch.softmax(logits, dim=-1)
                chosen = torch.zeros_like(probabilities).scatter_(-1, logits.argmax(dim=-1, keepdim=True), 1.0)
                expected, derived = (probabilities * weight).sum(), (chosen * weight).sum()
                total = total + expected + (derived - expected).detach()
            costs[field] = base + total
        return costs

    def penalty(self, costs):
        """``sum(max(0, cost / limit - 1))`` over the limits of ``costs`` (:meth:`relaxed_cost`'s): zero while the
        derived cells are within every limit."""
        return sum(torch.relu(cost / self.bounds[field] - 1.0) for field, cost in costs.items())

    # ------------------------------------------------------------------ discretisation

    def within(self, architecture, strengths, max_parameter_free=None):
        """``architecture`` with operations (then, if need be, inputs) replaced by cheaper ones until it is within
        the limits.

        Parameters
        ----------
        architecture : CellArchitecture
            A derived architecture.
        strengths : dict of str to ndarray
            Per cell type, the derivation's strength of every operation on
            every edge (:meth:`CellSupernet.strengths`).
        max_parameter_free : int or None, default=None
            No replacement makes a cell hold more parameter-free operations.

        Returns
        -------
        architecture : CellArchitecture
        """
        cells = {"normal": list(architecture.normal), "reduction": list(architecture.reduction)}
        n_slots = 2 * sum(len(blocks) for blocks in cells.values())
        for _ in range(4 * n_slots * len(self.space.operations)):
            reason = self.limits.reason(architecture)
            if reason is None:
                return architecture
            exact = self.limits.cost(architecture)
            slots = list(self._slots(architecture, cells, max_parameter_free))
            replacement = self._pick(self._operation_changes(slots, strengths), exact)
            if replacement is None:
                replacement = self._pick(self._input_changes(architecture, cells, slots, strengths, exact), exact)
            if replacement is None:
                raise ValueError(
                    f"The architecture derived from the supernet is over the limits ({reason}), and the greedy "
                    "repair found no change of an operation or a block input that lowers the costs over them. "
                    "Raise the limits (or limit one cost instead of several), or search a space of smaller cells "
                    "(fewer blocks or channels)."
                )
            architecture = self._replaced(cells, *replacement)
        raise ValueError(f"The feasible discretisation found no architecture within the limits ({reason}).")

    def _replaced(self, cells, kind, i, slot, j, op):
        """The architecture of ``cells`` with block ``i``'s input ``slot`` of cell type ``kind`` set to ``(j, op)``."""
        fields = ("input1", "op1") if slot == 0 else ("input2", "op2")
        cells[kind][i] = dataclasses.replace(cells[kind][i], **dict(zip(fields, (j, op))))
        return CellArchitecture(normal=tuple(cells["normal"]), reduction=tuple(cells["reduction"]))

    def _slots(self, architecture, cells, max_parameter_free):
        """Per block input: ``(kind, block, slot, input, operation index, live positions, operations allowed)``."""
        operations = self.space.operations
        positions = self._live_positions(architecture)
        for kind, blocks in cells.items():
            live = [k for k in positions if self.layout[k] == kind]
            if not live:  # a cell type no position reaching the head uses costs nothing
                continue
            n_free = sum(op in PARAMETER_FREE_OPERATIONS for block in blocks for op in (block.op1, block.op2))
            full = max_parameter_free is not None and n_free >= max_parameter_free
            for i, block in enumerate(blocks):
                for slot, (j, current) in enumerate(((block.input1, block.op1), (block.input2, block.op2))):
                    adds_free = full and current not in PARAMETER_FREE_OPERATIONS
                    allowed = [
                        o for o, op in enumerate(operations)
                        if self._nonzero[o] and not (adds_free and op in PARAMETER_FREE_OPERATIONS)
                    ]
                    yield kind, i, slot, j, operations.index(current), live, allowed

    def _operation_changes(self, slots, strengths):
        """Each other operation on a block input's edge: ``(replacement, cost saved per field, strength lost)``."""
        for kind, i, slot, j, now, live, allowed in slots:
            row = self._offsets[i] + j
            for o in allowed:
                if o != now:
                    saved = {f: (t[live, row, now] - t[live, row, o]).sum() for f, t in self.tables.items()}
                    lost = strengths[kind][row, now] - strengths[kind][row, o]
                    yield (kind, i, slot, j, self.space.operations[o]), saved, lost

    def _input_changes(self, architecture, cells, slots, strengths, exact):
        """Each other input of a block (not its other one) with the cheapest allowed operation on its edge (all
        limited costs, each relative to its limit), priced exactly (an input moves the calibrations and the
        output projection, which the tables do not hold)."""
        for kind, i, slot, j, now, live, allowed in slots:
            block = cells[kind][i]
            other = block.input2 if slot == 0 else block.input1
            for new in range(2 + i):
                if new in (j, other) or not allowed:
                    continue
                row = self._offsets[i] + new
                o = min(allowed, key=lambda option: sum(
                    self.tables[field][live, row, option].sum() / bound for field, bound in self.bounds.items()
                ))
                replacement = (kind, i, slot, new, self.space.operations[o])
                candidate = self._replaced({k: list(v) for k, v in cells.items()}, *replacement)
                cost = self.limits.cost(candidate)
                saved = {field: getattr(exact, field) - getattr(cost, field) for field in self.bounds}
                lost = strengths[kind][self._offsets[i] + j, now] - strengths[kind][row, o]
                yield replacement, saved, lost

    def _pick(self, changes, exact):
        """Of the changes that alone bring the cost within every limit, the one losing least strength; if none
        does, the one losing least strength per unit of the over-limit costs saved (each relative to its limit);
        None when no change lowers them."""
        over = {field: bound for field, bound in self.bounds.items() if getattr(exact, field) > bound}
        enough = ratio = None
        for replacement, saved, lost in changes:
            relative = sum(saved[field] / bound for field, bound in over.items())
            if relative <= 0:
                continue
            if all(getattr(exact, field) - saved[field] <= bound for field, bound in self.bounds.items()):
                if enough is None or lost < enough[0]:
                    enough = (lost, replacement)
            elif ratio is None or lost / relative < ratio[0]:
                ratio = (lost / relative, replacement)
        best = enough or ratio
        return None if best is None else best[1]
