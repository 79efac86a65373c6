"""Networks: a spec (``Network``) compiles to a graph (``convcalc.graph``); ``walk`` runs the
analyses over the graph, node by node in topological order, into a ``Report``:

  costs       each node's ``Cost`` from its inputs' shapes (identical layer-and-shapes pairs
              are costed once)
  receptive   each node's receptive-field state (``convcalc.receptive``)
  liveness    a tensor lives from its producer to its last consumer (network outputs to the
              end); the peak is the largest sum of live tensors while a node runs

Everything here is pure: no YAML, no printing. Errors are ConvcalcError subclasses that carry
the spec location of the offending layer (when the network came from a file).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from math import prod
from typing import Any

from . import receptive
from .errors import ConvcalcError, LimitError
from .graph import NOWHERE, Graph, Loc, Node
from .layers.base import Cost, Layer, Shape
from .tree import (  # noqa: F401  (re-exported: the spec's tree)
    BLOCKS,
    MAX_LAYERS,
    MAX_NESTING,
    BlockItem,
    Concat,
    Item,
    LayerNode,
    Repeat,
    Residual,
    Sequential,
    compile_tree,
)


class Network:
    """A network as a spec gives it: input shape (C, *spatial), the items (layers and blocks),
    the named outputs (``None``: the last item's), budget and where it came from."""

    def __init__(
        self,
        name: str,
        input_shape: Sequence[int],
        layers: list[Item],
        budget: dict | None = None,
        source: str = "",
        loc: Loc = NOWHERE,
        description: str = "",
        budget_lines: dict | None = None,
        outputs: list[tuple[str, Loc]] | None = None,
    ):
        self.name = name
        self.input_shape: Shape = tuple(input_shape)
        self.layers = layers
        self.budget = budget or {}  # metric -> limit (int)
        self.budget_lines = budget_lines or {}  # metric -> spec line ("" -> the budget: line)
        self.source = source
        self.loc = loc
        self.description = description
        self.outputs = outputs

    def with_resolution(self, r: int | Sequence[int]) -> Network:
        """The same network on an input whose spatial dims are ``r`` (one size for all, or one
        per spatial dim)."""
        n = len(self.input_shape) - 1
        sizes = (r,) * n if isinstance(r, int) else tuple(r)
        if len(sizes) != n:
            raise ConvcalcError(
                f"--resolution {'x'.join(map(str, sizes))}: the input has {n} spatial dims "
                f"({'x'.join(map(str, self.input_shape[1:]))})"
            )
        other = copy.copy(self)
        other.input_shape = (self.input_shape[0], *sizes)
        return other

    def graph(self, max_layers: int = MAX_LAYERS) -> Graph:
        """The network as a graph (checked against the limits first)."""
        return compile_tree(self.name, self.input_shape, self.layers, self.outputs, self.loc, max_layers)


class Row:
    """One node of a walked network. Counts include the batch."""

    __slots__ = ("batch", "cost", "depth", "label", "name", "node", "rf")

    def __init__(
        self,
        name: str,
        label: str | None,
        depth: int,
        cost: Cost,
        batch: int,
        rf: Any,
        node: Node | None = None,
    ):
        self.name, self.label, self.depth, self.cost, self.batch, self.rf = (
            name,
            label,
            depth,
            cost,
            batch,
            rf,
        )
        self.node = node

    type = property(lambda self: self.cost.type)
    input_shape = property(lambda self: self.cost.input_shape)
    output_shape = property(lambda self: self.cost.output_shape)
    params = property(lambda self: self.cost.params)
    macs = property(lambda self: self.cost.macs * self.batch)
    flops = property(lambda self: self.cost.flops * self.batch)
    activations = property(lambda self: prod(self.cost.output_shape) * self.batch)

    @property
    def path(self) -> str:
        return self.node.path if self.node is not None else ""

    @property
    def receptive_field(self) -> tuple | None:
        return receptive.fields(self.rf)

    def parts(self, rf_in: Any) -> list[Row]:
        """Rows for a composite's parts (``rf_in``: the state before this layer)."""
        states = receptive.fold_parts(rf_in, self.cost.parts)
        return [
            Row(f"{self.name}.{p.label}", None, self.depth + 1, p, self.batch, s)
            for p, s in zip(self.cost.parts, states)
        ]


class Report:
    """The walked network: rows in topological order, display blocks, outputs and totals."""

    def __init__(
        self,
        network: Network,
        graph: Graph,
        rows: list[Row],
        rf_in: list,
        batch: int,
        peak_elements: int,
        width_mult: float,
        shapes: list[Shape],
    ):
        self.network = network
        self.graph = graph
        self.name = network.name
        self.input_shape = network.input_shape
        self.rows = rows
        self.blocks = graph.blocks
        self.rf_in = rf_in  # receptive-field state before each row (for parts)
        self.batch = batch
        self.peak_elements = peak_elements
        self.width_mult = width_mult
        in_shapes = [g.shape for g in graph.inputs]
        self.outputs: dict[str, Shape] = {
            name: (shapes[r] if r >= 0 else in_shapes[-1 - r]) for name, r in graph.outputs
        }
        self.output_shape = next(iter(self.outputs.values())) if self.outputs else network.input_shape
        self.params = sum(r.cost.params for r in rows)
        self.macs = sum(r.cost.macs for r in rows) * batch
        self.flops = sum(r.cost.flops for r in rows) * batch
        self.activations = sum(prod(r.cost.output_shape) for r in rows) * batch

    def totals(self) -> dict[str, int]:
        return {
            "params": self.params,
            "macs": self.macs,
            "flops": self.flops,
            "activations": self.activations,
        }

    def inputs_of(self, row: Row) -> list[str]:
        """The names of the tensors a row reads (data inputs, in order)."""
        if row.node is None:
            return []
        return [self.graph.tensor_name(r) for r in row.node.inputs]

    def by_type(self) -> dict[str, dict[str, int]]:
        """Totals per layer type; composites count under their parts' types
        (a separable conv's MACs go to depthwise and pointwise, as in MobileNet's Table 2)."""
        out: dict[str, dict[str, int]] = {}

        def add(cost: Cost) -> None:
            if cost.parts:
                for p in cost.parts:
                    add(p)
                return
            t = out.setdefault(cost.type, {"layers": 0, "params": 0, "macs": 0, "flops": 0})
            t["layers"] += 1
            t["params"] += cost.params
            t["macs"] += cost.macs * self.batch
            t["flops"] += cost.flops * self.batch

        for r in self.rows:
            add(r.cost)
        return out


def walk(
    network: Network,
    *,
    batch: int = 1,
    width_mult: float = 1.0,
    max_layers: int = MAX_LAYERS,
    graph: Graph | None = None,
    width_divisor: int | None = None,
) -> Report:
    """Compile the network (unless ``graph`` is given) and run the analyses over it.
    ``width_divisor``: channels under the width multiplier are rounded as torchvision's
    ``_make_divisible`` (MobileNetV2, EfficientNet)."""
    if graph is None:
        graph = network.graph(max_layers)
    elif len(graph.nodes) > max_layers:
        raise LimitError(f"the network has {len(graph.nodes):,} layers; the limit is {max_layers:,}")
    costs, shapes = cost_pass(graph, width_mult, width_divisor)
    rf_in, rf_out = receptive_pass(graph, costs)
    peak = peak_elements(graph, shapes)
    rows = [
        Row(node.name, node.label, node.depth, cost, batch, rf, node)
        for node, cost, rf in zip(graph.nodes, costs, rf_out)
    ]
    return Report(network, graph, rows, rf_in, batch, peak * batch, width_mult, shapes)


# -- passes ----------------------------------------------------------------------------------------
def cost_pass(
    graph: Graph, width_mult: float = 1.0, width_divisor: int | None = None
) -> tuple[list[Cost], list[Shape]]:
    """Each node's Cost (per sample) and output shape."""
    in_shapes = [g.shape for g in graph.inputs]
    shapes: list[Shape] = []
    costs: list[Cost] = []
    cache: dict[tuple, Cost] = {}
    scaled: dict[int, Layer] = {}

    def shape_of(r: int) -> Shape:
        return shapes[r] if r >= 0 else in_shapes[-1 - r]

    for node in graph.nodes:
        layer = node.layer
        if width_mult != 1 or width_divisor is not None:
            got = scaled.get(id(layer))
            if got is None:
                got = scaled[id(layer)] = layer.scaled(width_mult, width_divisor)
            layer = got
        ins = tuple(shape_of(r) for r in node.inputs)
        try:
            if node.refs:
                layer = layer.resolve_refs({f: shape_of(r) for f, r in node.refs})
                key: tuple = (layer, ins)
            else:
                key = (id(layer), ins)
            cost = cache.get(key)
            if cost is None:
                if node.check is not None:
                    node.check(ins)
                cost = cache[key] = layer.cost(*ins)
        except ConvcalcError as e:
            raise e.located(node.loc.at(e.field), node.path or node.name) from None
        costs.append(cost)
        shapes.append(cost.output_shape)
    return costs, shapes


def receptive_pass(graph: Graph, costs: list[Cost]) -> tuple[list, list]:
    """The receptive-field state before (merged inputs) and after each node."""
    initial = [receptive.initial(g.shape) for g in graph.inputs]
    before: list = []
    after: list = []

    def state_of(r: int) -> Any:
        return after[r] if r >= 0 else initial[-1 - r]

    for node, cost in zip(graph.nodes, costs):
        if node.layer.arity != 0:
            state = state_of(node.inputs[0])
            before.append(state)
            after.append(receptive.apply(state, cost))
            continue
        merged = receptive.merge([state_of(r) for r in node.inputs], cost.input_shapes, cost.output_shape)
        before.append(merged)
        after.append(merged)
    return before, after


def peak_elements(graph: Graph, shapes: list[Shape]) -> int:
    """The most elements alive at once (per sample): while a node runs, its inputs, its output
    and every tensor produced earlier and read later are alive; outputs live to the end."""
    n = len(graph.nodes)
    last = [-1] * n
    in_last = [-1] * len(graph.inputs)
    for i, node in enumerate(graph.nodes):
        for r in node.inputs:
            if r >= 0:
                last[r] = i
            else:
                in_last[-1 - r] = i
    for _, r in graph.outputs:
        if r >= 0:
            last[r] = n
        else:
            in_last[-1 - r] = n
    live = sum(prod(g.shape) for g, end in zip(graph.inputs, in_last) if end >= 0)
    peak = live
    for i, node in enumerate(graph.nodes):
        out = prod(shapes[i])
        if live + out > peak:
            peak = live + out
        if last[i] > i:
            live += out
        for r in set(node.inputs):
            if (last[r] if r >= 0 else in_last[-1 - r]) == i:
                live -= prod(shapes[r]) if r >= 0 else prod(graph.inputs[-1 - r].shape)
    return peak


def iter_parts(report: Report) -> Iterator[tuple[Row, list[Row]]]:
    """Each row with its parts' rows (empty for simple layers)."""
    for row, rf_in in zip(report.rows, report.rf_in):
        yield row, (row.parts(rf_in) if row.cost.parts else [])
