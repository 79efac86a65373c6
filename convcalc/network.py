"""Networks: a tree of layers and blocks, walked in execution order into per-layer rows.

Blocks (structural, not layers):
  sequential  layers in order                      rows: layers[i].layers[j]
  residual    output = body(x) + shortcut(x)       rows: .body[j], .shortcut[j], then .add
              (no shortcut: identity)
  concat      channel concatenation of branches     rows: .branches[b][j], then .concat
              (an empty branch is the identity)
  repeat      ``times`` copies of ``layers``         rows: layers[i][t].layers[j]

Everything here is pure: no YAML, no printing. ``walk`` raises ConvcalcError subclasses
that carry the spec location of the offending layer (when the network came from a file).
"""

from __future__ import annotations

from collections.abc import Iterator
from math import prod

from . import receptive
from .errors import ConvcalcError, GeometryError, LimitError
from .layers.base import Cost, Layer
from .layers.simple import ADD_FLOPS_PER_ELEMENT, elementwise

MAX_LAYERS = 2_000_000  # expanded leaf rows a walk may produce
MAX_NESTING = 100  # block nesting depth


_NO_KEY_LINES: dict = {}  # shared by every Loc without key lines; never written to


class Loc:
    """Where a node was written: file, line, and the line of each of its keys."""

    __slots__ = ("file", "line", "key_lines")

    def __init__(self, file: str = "", line: int = 0, key_lines: dict | None = None):
        self.file = file
        self.line = line
        self.key_lines = key_lines or _NO_KEY_LINES

    def at(self, key: str | None = None) -> str:
        if not self.file:
            return ""
        line = self.key_lines.get(key, self.line) if key else self.line
        return f"{self.file}:{line}" if line else self.file


NOWHERE = Loc()


class Node:
    __slots__ = ("label", "loc")
    kind = "node"


class LayerNode(Node):
    __slots__ = ("layer",)
    kind = "layer"

    def __init__(self, layer: Layer, label: str | None = None, loc: Loc = NOWHERE):
        self.layer, self.label, self.loc = layer, label, loc


class Sequential(Node):
    """Layers in order. ``inline``: written as a nested list (e.g. an anchored list of layers
    spliced into another), its rows are named ``layers[1][0]`` rather than ``layers[1].layers[0]``."""

    __slots__ = ("layers", "inline")
    kind = "sequential"

    def __init__(
        self, layers: list[Node], label: str | None = None, loc: Loc = NOWHERE, inline: bool = False
    ):
        self.layers, self.label, self.loc, self.inline = layers, label, loc, inline


class Residual(Node):
    __slots__ = ("body", "shortcut")
    kind = "residual"

    def __init__(
        self,
        body: list[Node],
        shortcut: list[Node] | None = None,
        label: str | None = None,
        loc: Loc = NOWHERE,
    ):
        self.body, self.shortcut, self.label, self.loc = body, shortcut, label, loc


class Concat(Node):
    __slots__ = ("branches",)
    kind = "concat"

    def __init__(self, branches: list[list[Node]], label: str | None = None, loc: Loc = NOWHERE):
        self.branches, self.label, self.loc = branches, label, loc


class Repeat(Node):
    __slots__ = ("times", "layers")
    kind = "repeat"

    def __init__(self, times: int, layers: list[Node], label: str | None = None, loc: Loc = NOWHERE):
        self.times, self.layers, self.label, self.loc = times, layers, label, loc


class Network:
    """A whole network: input shape (C, *spatial) and a list of nodes."""

    def __init__(
        self,
        name: str,
        input_shape: tuple,
        layers: list[Node],
        budget: dict | None = None,
        source: str = "",
        loc: Loc = NOWHERE,
        description: str = "",
        budget_lines: dict | None = None,
    ):
        self.name = name
        self.input_shape = tuple(input_shape)
        self.layers = layers
        self.budget = budget or {}  # metric -> limit (int)
        self.budget_lines = budget_lines or {}  # metric -> spec line ("" -> the budget: line)
        self.source = source
        self.loc = loc
        self.description = description

    def with_resolution(self, r: int) -> Network:
        """The same network on an input whose every spatial dim is ``r``."""
        import copy

        other = copy.copy(self)
        other.input_shape = (self.input_shape[0],) + (r,) * (len(self.input_shape) - 1)
        return other


class Row:
    """One leaf layer of a walked network. Counts include the batch."""

    __slots__ = ("name", "label", "depth", "cost", "batch", "rf")

    def __init__(self, name: str, label: str | None, depth: int, cost: Cost, batch: int, rf):
        self.name, self.label, self.depth, self.cost, self.batch, self.rf = (
            name,
            label,
            depth,
            cost,
            batch,
            rf,
        )

    type = property(lambda self: self.cost.type)
    input_shape = property(lambda self: self.cost.input_shape)
    output_shape = property(lambda self: self.cost.output_shape)
    params = property(lambda self: self.cost.params)
    macs = property(lambda self: self.cost.macs * self.batch)
    flops = property(lambda self: self.cost.flops * self.batch)
    activations = property(lambda self: prod(self.cost.output_shape) * self.batch)
    parts_cost = property(lambda self: self.cost.parts)

    @property
    def receptive_field(self) -> tuple | None:
        return receptive.fields(self.rf)

    def parts(self, rf_in) -> list[Row]:
        """Rows for a composite's parts (``rf_in``: the state before this layer)."""
        states = receptive.fold_parts(rf_in, self.cost.parts)
        return [
            Row(f"{self.name}.{p.label}", None, self.depth + 1, p, self.batch, s)
            for p, s in zip(self.cost.parts, states)
        ]


class Block:
    """A block header for display: rows[start:end] belong to it."""

    __slots__ = ("name", "kind", "label", "depth", "start", "end")

    def __init__(self, name, kind, label, depth, start):
        self.name, self.kind, self.label, self.depth, self.start, self.end = (
            name,
            kind,
            label,
            depth,
            start,
            start,
        )


class Report:
    """The walked network: rows in execution order, block headers and totals."""

    def __init__(
        self,
        network: Network,
        rows: list[Row],
        blocks: list[Block],
        rf_in: list,
        batch: int,
        peak_elements: int,
        width_mult: float,
    ):
        self.network = network
        self.name = network.name
        self.input_shape = network.input_shape
        self.rows = rows
        self.blocks = blocks
        self.rf_in = rf_in  # receptive-field state before each row (for parts)
        self.batch = batch
        self.peak_elements = peak_elements
        self.width_mult = width_mult
        self.output_shape = rows[-1].output_shape if rows else network.input_shape
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


def count_leaves(nodes: list[Node], memo: dict | None = None, limit: int | None = None) -> int:
    """Rows a walk would produce, computed without expanding (shared nodes counted once each).
    With ``limit``, a ``repeat`` whose ``times`` takes the count past it is refused at that line."""
    memo = {} if memo is None else memo
    total = 0
    for node in nodes:
        key = id(node)
        n = memo.get(key)
        if n is None:
            if isinstance(node, LayerNode):
                n = 1
            elif isinstance(node, Sequential):
                n = count_leaves(node.layers, memo, limit)
            elif isinstance(node, Residual):
                n = count_leaves(node.body, memo, limit) + count_leaves(node.shortcut or [], memo, limit) + 1
            elif isinstance(node, Concat):
                n = sum(count_leaves(b, memo, limit) for b in node.branches) + 1
            else:
                inner = count_leaves(node.layers, memo, limit)
                n = node.times * inner
                if limit is not None and n > limit >= inner:  # this repeat's times crosses it
                    raise LimitError(
                        f"this repeat expands to {n:,} layers; the limit is {limit:,}",
                        where=node.loc.at("times"),
                    )
            memo[key] = n
        total += n
    return total


def walk(
    network: Network,
    *,
    batch: int = 1,
    width_mult: float = 1.0,
    max_layers: int = MAX_LAYERS,
    width_divisor: int | None = None,
) -> Report:
    """Propagate shapes through the network and cost every layer."""
    n_rows = count_leaves(network.layers, limit=max_layers)
    if n_rows > max_layers:
        raise LimitError(
            f"the network expands to {n_rows:,} layers; the limit is {max_layers:,}",
            where=network.loc.at("layers"),
        )
    return _Walker(network, batch, width_mult, width_divisor).run()


class _Walker:
    def __init__(self, network: Network, batch: int, width_mult: float, width_divisor: int | None = None):
        self.network = network
        self.batch = batch
        self.width_mult = width_mult
        self.width_divisor = width_divisor  # channels rounded as torchvision's _make_divisible
        self.rows: list[Row] = []
        self.rf_in: list = []
        self.blocks: list[Block] = []
        self.cache: dict[tuple, Cost] = {}
        self.scaled: dict[int, Layer] = {}
        self.peak = 0

    def run(self) -> Report:
        shape = self.network.input_shape
        state = receptive.initial(len(shape) - 1)
        self.seq(self.network.layers, "layers", shape, state, 0, 0)
        return Report(
            self.network,
            self.rows,
            self.blocks,
            self.rf_in,
            self.batch,
            self.peak * self.batch,
            self.width_mult,
        )

    # Each method returns (shape, rf_state). ``held`` counts elements kept alive by enclosing
    # blocks (a residual's input, finished concat branches), for the peak-memory estimate.
    def seq(self, nodes, prefix: str, shape, state, depth: int, held: int):
        for i, node in enumerate(nodes):
            shape, state = self.node(node, f"{prefix}[{i}]", shape, state, depth, held)
        return shape, state

    def node(self, node: Node, name: str, shape, state, depth: int, held: int):
        if depth > MAX_NESTING:
            raise LimitError(f"blocks nested deeper than {MAX_NESTING} levels", where=node.loc.at())
        if isinstance(node, LayerNode):
            return self.leaf(node, name, shape, state, depth, held)
        block = Block(name, node.kind, node.label, depth, len(self.rows))
        self.blocks.append(block)
        if isinstance(node, Sequential):
            out = self.seq(
                node.layers, name if node.inline else f"{name}.layers", shape, state, depth + 1, held
            )
        elif isinstance(node, Repeat):
            out = shape, state
            for t in range(node.times):
                out = self.seq(node.layers, f"{name}[{t}].layers", out[0], out[1], depth + 1, held)
        elif isinstance(node, Residual):
            out = self.residual(node, name, shape, state, depth, held)
        else:
            out = self.concat(node, name, shape, state, depth, held)
        block.end = len(self.rows)
        return out

    def leaf(self, node: LayerNode, name: str, shape, state, depth: int, held: int):
        layer = node.layer
        if self.width_mult != 1 or self.width_divisor is not None:
            scaled = self.scaled.get(id(layer))
            if scaled is None:
                scaled = self.scaled[id(layer)] = layer.scaled(self.width_mult, self.width_divisor)
            layer = scaled
        key = (id(layer), shape)
        cost = self.cache.get(key)
        if cost is None:
            try:
                cost = layer.cost(shape)
            except ConvcalcError as e:
                raise e.located(node.loc.at(e.field), name) from None
            self.cache[key] = cost
        self.rf_in.append(state)
        state = receptive.apply(state, cost)
        self.rows.append(Row(name, node.label, depth, cost, self.batch, state))
        live = held + prod(shape) + prod(cost.output_shape)
        if live > self.peak:
            self.peak = live
        return cost.output_shape, state

    def synthetic(self, type_name: str, name: str, in_shape, out_shape, flops: int, state, depth: int):
        cost = elementwise(type_name, in_shape, out_shape, flops)
        self.rf_in.append(state)
        self.rows.append(Row(name, None, depth + 1, cost, self.batch, state))

    def residual(self, node: Residual, name: str, shape, state, depth: int, held: int):
        x = prod(shape)
        body_shape, body_state = self.seq(node.body, f"{name}.body", shape, state, depth + 1, held + x)
        if node.shortcut:
            sc_shape, sc_state = self.seq(
                node.shortcut, f"{name}.shortcut", shape, state, depth + 1, held + prod(body_shape)
            )
        else:
            sc_shape, sc_state = shape, state
        if body_shape != sc_shape:
            raise GeometryError(
                f"residual at {name}: body gives {list(body_shape)}, shortcut gives {list(sc_shape)}"
            ).located(node.loc.at())
        state = receptive.merge(body_state, sc_state)
        self.synthetic(
            "add",
            f"{name}.add",
            body_shape,
            body_shape,
            ADD_FLOPS_PER_ELEMENT * prod(body_shape),
            state,
            depth,
        )
        return body_shape, state

    def concat(self, node: Concat, name: str, shape, state, depth: int, held: int):
        outs = []
        merged = None
        done = 0
        for b, branch in enumerate(node.branches):
            s, st = self.seq(
                branch, f"{name}.branches[{b}]", shape, state, depth + 1, held + prod(shape) + done
            )
            if outs and s[1:] != outs[0][1:]:
                raise GeometryError(
                    f"concat at {name}: branches[{b}] gives {list(s)}, but branches[0] gives "
                    f"{list(outs[0])}: all but the channel dim must match"
                ).located(node.loc.at())
            outs.append(s)
            done += prod(s)
            merged = st if b == 0 else receptive.merge(merged, st)
        out = (sum(s[0] for s in outs),) + outs[0][1:]
        self.synthetic("concat", f"{name}.concat", shape, out, 0, merged, depth)
        return out, merged


def iter_parts(report: Report) -> Iterator[tuple[Row, list[Row]]]:
    """Each row with its parts' rows (empty for simple layers)."""
    for row, rf_in in zip(report.rows, report.rf_in):
        yield row, (row.parts(rf_in) if row.cost.parts else [])
