"""ONNX models as convcalc graphs: ``report model.onnx``, ``import model.onnx``.

The reader (``onnx_proto``) gives the file's nodes and initializers; this module maps them onto
convcalc's layers, one graph node per layer, with exact counts:

* **Values.** Every ONNX tensor becomes either an *activation* (a tensor of the network: a
  graph node's output or the input, batch first in ONNX, batch-less in convcalc) or a
  *constant* (an initializer, a ``Constant``, or anything computed from constants and from the
  shapes of activations: ``Shape``, ``Gather``, ``Concat`` ...). Constants are folded here, with
  the batch size kept as a symbol, so that a ``Reshape`` or ``Resize`` fed by a shape
  computation gets static sizes. Their values are decoded only when small (the reader's rule);
  weights are never read, only their dims.
* **Parameters** are the floating-point initializers (and ``Constant`` tensors) of more than
  one element that reach a layer as data, each counted once; a constant computed from
  several of them carries all of them. BatchNorm's running mean and variance and every input
  that carries shapes, axes, indices, pads or scales are not parameters.
* **Layers.** Each op maps onto the convcalc type that computes exactly the same thing (a
  ``Conv`` with ``group`` equal to its channels is ``depthwise``, a 1x1 one ``pointwise``);
  tensor plumbing maps onto the generic types of ``layers/tensor.py``. Patterns that torch
  expands into several ops are folded back where that is exact: ``x * sigmoid(x)`` is
  ``silu``, ``x * 0.5 * (1 + erf(x / sqrt 2))`` is ``gelu``, a MatMul and its bias Add one
  ``dense``, a transpose to channels-last and back around a LayerNorm and Linear layers is
  ``layernorm`` and ``pointwise`` on the channels-first tensor, GroupNorm's
  reshape/InstanceNorm/reshape/scale/bias is ``groupnorm``, a squeeze-and-excitation block is
  ``squeeze_excite``. docs/onnx.md has the table.
* **Names** come from the model: ``/layer1/layer1.0/conv1/Conv`` is ``layer1.0.conv1``.

An op convcalc cannot cost is an error listing every such op type, how often it occurs and its
first node; with ``allow_unknown`` each is an ``opaque`` layer of zero cost (its output shape
from the file's shape information), which every report states.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConvcalcError, SpecError
from ..graph import Graph, GraphInput, Loc, Node
from ..layers import REGISTRY
from ..layers.base import Cost, Layer, Shape
from ..network import Network
from ..tree import MAX_LAYERS
from . import onnx_proto as P

MAX_FOLD = 1024  # a folded constant keeps its values up to this many elements (shapes, axes)
INT64_MAX = 2**63 - 1


class _Batch:
    """The batch size in folded shape values: symbolic, whatever the file says."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "batch"


BATCH = _Batch()


# -- values ------------------------------------------------------------------------------------
@dataclass(slots=True)
class Act:
    """A tensor of the network: the output of graph node ``ref`` (or an input, ``ref < 0``) of
    batch-less shape ``shape``. ``cl``: the ONNX tensor is this one with its channels moved last
    (a transpose that convcalc keeps implicit); ``via`` names the op that did it."""

    ref: int
    shape: Shape
    cl: bool = False
    via: str = ""

    @property
    def logical(self) -> Shape:
        """The shape as the ONNX model sees it (without the batch)."""
        return self.shape[1:] + self.shape[:1] if self.cl else self.shape


@dataclass(slots=True)
class Const:
    """A tensor known without running the network: its dims, its values (flat, row-major;
    None when unknown or too big to keep), whether it is floating-point, and the parameters
    behind it (``sources``: name -> element count)."""

    dims: tuple[int, ...]
    values: tuple[Any, ...] | None
    is_float: bool
    sources: dict[str, int] = field(default_factory=dict)

    @property
    def numel(self) -> int:
        return math.prod(self.dims)

    def scalar(self) -> Any:
        if self.values is not None and len(self.values) == 1:
            return self.values[0]
        return None


Value = Act | Const


class Unsupported(Exception):
    """This node cannot be costed (an op convcalc does not know, or an attribute it cannot
    map): ``reason`` completes 'node X (Op): ...'."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class _Pending:
    """A graph node being built: its layer, inputs, the ONNX node it comes from (``origin``,
    for its name) and a suffix when one ONNX node gives several convcalc nodes."""

    layer: Layer
    inputs: tuple[int, ...]
    origin: str
    op: str
    cost: Cost
    suffix: str = ""
    label: str = ""


# -- the entry points --------------------------------------------------------------------------
SUPPORTED_NOTE = "convcalc cannot cost it"


def input_spec(model: P.Model, where: str, override: Sequence[int] | None) -> tuple[str, Shape, Any]:
    """(name, batch-less shape, batch dim) of the model's one data input, with ``override``
    (``--input``) applied; an error names a symbolic or unknown dim that is not given."""
    inputs = model.graph.data_inputs
    if len(inputs) != 1:
        names = ", ".join(repr(v.name) for v in inputs[:4]) or "none"
        raise SpecError(
            f"the model has {len(inputs)} inputs ({names}); convcalc reads models with one", where=where
        )
    info = inputs[0]
    if info.shape is None:
        if override is None:
            raise SpecError(
                f"input {info.name!r} has no shape in the file: give it with --input, e.g. --input 3x224x224",
                where=where,
            )
        return info.name, tuple(override), BATCH
    dims = info.shape
    if len(dims) < 2:
        raise SpecError(
            f"input {info.name!r} has shape {_dims(dims)}: convcalc needs a batch dim and at least one more",
            where=where,
        )
    batch = dims[0] if isinstance(dims[0], int) else BATCH
    rest = dims[1:]
    if override is not None:
        if len(override) != len(rest):
            raise SpecError(
                f"--input {'x'.join(map(str, override))} has {len(override)} dims, but input {info.name!r} "
                f"has {len(rest)} after the batch ({_dims(dims)})",
                where=where,
            )
        return info.name, tuple(override), batch
    for k, d in enumerate(rest):
        if not isinstance(d, int) or d < 1:
            what = f"symbolic dim {d!r}" if isinstance(d, str) else "a dim of unknown size"
            raise SpecError(
                f"input {info.name!r} {_dims(dims)} has {what} (dim {k + 1}): give the input's size "
                f"with --input, e.g. --input {'x'.join(str(x) if isinstance(x, int) else '224' for x in rest)}",
                where=where,
            )
    if len(rest) > 4:
        raise SpecError(
            f"input {info.name!r} has {len(rest)} dims after the batch; convcalc reads up to 4", where=where
        )
    return info.name, tuple(int(d) for d in rest), batch


def _dims(dims: Sequence[Any]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def check_ops(model: P.Model, where: str) -> list[tuple[str, int, str]]:
    """The op types of the model that convcalc has no mapping for: (op, count, first node)."""
    found: dict[str, list[Any]] = {}
    for k, node in enumerate(model.graph.nodes):
        key = node.op_type if node.domain in ("", "ai.onnx") else f"{node.domain}.{node.op_type}"
        if node.domain in ("", "ai.onnx") and (node.op_type in HANDLERS or node.op_type in FOLDERS):
            continue
        entry = found.setdefault(key, [0, node.name or f"#{k}"])
        entry[0] += 1
    return [(op, n, first) for op, (n, first) in found.items()]


def unsupported_message(ops: list[tuple[str, int, str]]) -> str:
    listed = "; ".join(f"{op} x{n} (first: {first!r})" for op, n, first in ops)
    total = sum(n for _, n, _ in ops)
    return (
        f"{total} node{'s' if total > 1 else ''} of {len(ops)} op type{'s' if len(ops) > 1 else ''} "
        f"convcalc cannot cost: {listed}; --allow-unknown counts them as zero"
    )


def to_graph(
    model: P.Model, where: str, input_shape: Sequence[int] | None = None, allow_unknown: bool = False
) -> Graph:
    """The model as a convcalc graph, for an input of ``input_shape`` (batch-less; None: the
    file's). Raises SpecError (exit 2) naming the node for anything it cannot map."""
    if not allow_unknown:
        bad = check_ops(model, where)
        if bad:
            raise SpecError(unsupported_message(bad), where=where)
    _name, shape, batch = input_spec(model, where, input_shape)
    return _Converter(model, where, shape, batch, allow_unknown).run()


class OnnxNetwork(Network):
    """A network read from an ONNX file: its graph is built from the model for the current
    input shape (so ``--resolution`` re-folds the model's shape computations)."""

    def __init__(self, model: P.Model, where: str, input_shape: Shape, allow_unknown: bool, name: str):
        super().__init__(name, input_shape, [], source=where, loc=Loc(where), description=_describe(model))
        self.model = model
        self.allow_unknown = allow_unknown
        self._graphs: dict[Shape, Graph] = {}

    def graph(self, max_layers: int = MAX_LAYERS) -> Graph:
        got = self._graphs.get(self.input_shape)
        if got is None:
            got = self._graphs[self.input_shape] = to_graph(
                self.model, self.source, self.input_shape, self.allow_unknown
            )
        return got


def _describe(model: P.Model) -> str:
    opset = model.opset()
    bits = [model.producer or "unknown producer"]
    if opset is not None:
        bits.append(f"opset {opset}")
    return f"ONNX model ({', '.join(bits)})"


def load(path: str, input_shape: Sequence[int] | None = None, allow_unknown: bool = False) -> OnnxNetwork:
    """Read an ONNX file as a network: checked for unsupported ops and for its input shape
    here, its graph built (and every node checked) now."""
    model = P.read_model(path)
    return network_of(model, path, input_shape, allow_unknown)


def network_of(
    model: P.Model, where: str, input_shape: Sequence[int] | None = None, allow_unknown: bool = False
) -> OnnxNetwork:
    if not allow_unknown:
        bad = check_ops(model, where)
        if bad:
            raise SpecError(unsupported_message(bad), where=where)
    _, shape, _ = input_spec(model, where, input_shape)
    net = OnnxNetwork(model, where, shape, allow_unknown, _model_name(where))
    net.graph()  # map it now: every error surfaces at load time
    return net


def _model_name(where: str) -> str:
    import os

    base = os.path.basename(where)
    return base[:-5] if base.lower().endswith(".onnx") else base or "model"


# -- folding constants -------------------------------------------------------------------------
def _const_of_tensor(t: P.Tensor, key: str) -> Const:
    is_float = t.data_type in P.FLOAT_TYPES
    sources = {key: t.numel} if is_float and t.numel > 1 else {}
    values = t.values
    if values is not None:
        values = tuple(int(v) if isinstance(v, bool) else v for v in values)
    return Const(tuple(t.dims), values, is_float, sources)


def _merge_sources(*consts: Const) -> dict[str, int]:
    out: dict[str, int] = {}
    for c in consts:
        out.update(c.sources)
    return out


def _keep(values: Iterable[Any] | None, n: int) -> tuple[Any, ...] | None:
    if values is None or n > MAX_FOLD:
        return None
    return tuple(values)


def _ints(c: Const | None, what: str) -> list[int]:
    """The values of a constant as integers (shapes, axes ...), or Unsupported."""
    if c is None or c.values is None:
        raise Unsupported(f"its {what} is not a constant that convcalc can fold")
    out = []
    for v in c.values:
        if v is BATCH:
            raise Unsupported(f"its {what} depends on the batch size")
        if isinstance(v, float):
            if v != int(v):
                raise Unsupported(f"its {what} holds a fraction ({v})")
            v = int(v)
        out.append(int(v))
    return out


def _bcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise Unsupported(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(out)


def _flat_index(dims: Sequence[int], idx: Sequence[int]) -> int:
    k = 0
    for d, i in zip(dims, idx):
        k = k * d + i
    return k


def _bcast_values(c: Const, out_dims: tuple[int, ...]) -> list[Any]:
    assert c.values is not None
    nd = len(out_dims)
    dims = (1,) * (nd - len(c.dims)) + tuple(c.dims)
    out = []
    for idx in _indices(out_dims):
        src = [0 if d == 1 else i for d, i in zip(dims, idx)]
        out.append(c.values[_flat_index(dims, src)])
    return out


def _indices(dims: Sequence[int]) -> Iterable[tuple[int, ...]]:
    if not dims:
        yield ()
        return
    import itertools

    yield from itertools.product(*(range(d) for d in dims))


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is BATCH or b is BATCH:
        if op == "Mul" and (a == 1 or b == 1):
            return b if a == 1 else a
        if op in ("Add", "Sub") and b == 0:
            return a
        if op == "Div" and b == 1:
            return a
        raise _Unknown
    if op == "Add":
        return a + b
    if op == "Sub":
        return a - b
    if op == "Mul":
        return a * b
    if op == "Div":
        if isinstance(a, int) and isinstance(b, int):
            if b == 0:
                raise _Unknown
            q = abs(a) // abs(b)  # C's integer division (truncation), as ONNX runtimes do
            return q if (a >= 0) == (b >= 0) else -q
        return a / b if b else math.copysign(math.inf, a) if a else math.nan
    if op == "Pow":
        try:
            return a**b
        except (OverflowError, ZeroDivisionError):
            raise _Unknown from None
    if op == "Max":
        return max(a, b)
    if op == "Min":
        return min(a, b)
    if op == "Mod":
        if b == 0:
            raise _Unknown
        return a % b
    if op == "Equal":
        return int(a == b)
    if op == "Less":
        return int(a < b)
    if op == "Greater":
        return int(a > b)
    raise _Unknown


class _Unknown(Exception):
    """A folded value that cannot be computed (it depends on the batch size, or overflows)."""


def _fold_elementwise(op: str, ins: list[Const]) -> Const:
    dims: tuple[int, ...] = ()
    for c in ins:
        dims = _bcast(dims, c.dims)
    n = math.prod(dims)
    values = None
    if all(c.values is not None for c in ins) and n <= MAX_FOLD:
        cols = [_bcast_values(c, dims) for c in ins]
        try:
            acc = cols[0]
            for other in cols[1:]:
                acc = [_arith(op, a, b) for a, b in zip(acc, other)]
            values = tuple(acc)
        except (_Unknown, TypeError):
            values = None
    is_float = any(c.is_float for c in ins) and op not in ("Equal", "Less", "Greater")
    return Const(dims, values, is_float, _merge_sources(*ins))


def _unary_value(op: str, v: Any) -> Any:
    if v is BATCH:
        if op in ("Identity", "Cast", "Floor", "Ceil", "Round", "Abs"):
            return v
        raise _Unknown
    if op == "Neg":
        return -v
    if op == "Sqrt":
        return math.sqrt(v) if v >= 0 else math.nan
    if op == "Reciprocal":
        return 1 / v if v else math.inf
    if op == "Floor":
        return math.floor(v) if isinstance(v, float) and math.isfinite(v) else v
    if op == "Ceil":
        return math.ceil(v) if isinstance(v, float) and math.isfinite(v) else v
    if op == "Abs":
        return abs(v)
    if op == "Not":
        return int(not v)
    if op == "Exp":
        try:
            return math.exp(v)
        except OverflowError:
            return math.inf
    if op == "Log":
        return math.log(v) if v > 0 else (-math.inf if v == 0 else math.nan)
    raise _Unknown


def _cast_value(v: Any, to: int) -> Any:
    if v is BATCH:
        return v
    if to in P.FLOAT_TYPES:
        return float(v)
    if to == P.BOOL:
        return int(bool(v))
    if isinstance(v, float):
        if not math.isfinite(v):
            raise _Unknown
        return int(v)  # truncation toward zero, as a cast does
    return v


def _attr(node: P.Node, name: str, default: Any = None) -> Any:
    return node.attrs.get(name, default)


def _fold_unary(node: P.Node, ins: list[Const | None]) -> list[Const]:
    (x,) = _need(ins, 1)
    values = None
    if x.values is not None:
        try:
            if node.op_type == "Cast":
                to = _attr(node, "to", P.INT64)
                values = tuple(_cast_value(v, to) for v in x.values)
            else:
                values = tuple(_unary_value(node.op_type, v) for v in x.values)
        except (_Unknown, TypeError, ValueError):
            values = None
    is_float = x.is_float
    if node.op_type == "Cast":
        is_float = _attr(node, "to", P.INT64) in P.FLOAT_TYPES
    elif node.op_type == "Not":
        is_float = False
    return [Const(x.dims, values, is_float, dict(x.sources))]


def _need(ins: list[Const | None], n: int) -> list[Const]:
    got = list(ins[:n])
    if len(got) < n or any(c is None for c in got):
        raise Unsupported(f"needs {n} input{'s' if n > 1 else ''}")
    return [c for c in got if c is not None]


def _fold_binary(node: P.Node, ins: list[Const | None]) -> list[Const]:
    a, b = _need(ins, 2)
    return [_fold_elementwise(node.op_type, [a, b])]


def _fold_variadic(node: P.Node, ins: list[Const | None]) -> list[Const]:
    cs = [c for c in ins if c is not None]
    if not cs:
        raise Unsupported("has no inputs")
    return [_fold_elementwise(node.op_type, cs)]


def _fold_constant(node: P.Node, ins: list[Const | None]) -> list[Const]:
    key = node.outputs[0] if node.outputs else node.name
    if "value" in node.attrs and isinstance(node.attrs["value"], P.Tensor):
        return [_const_of_tensor(node.attrs["value"], key)]
    for name, is_float in (("value_float", True), ("value_int", False)):
        if name in node.attrs:
            return [Const((), (node.attrs[name],), is_float)]
    for name, is_float in (("value_floats", True), ("value_ints", False)):
        if name in node.attrs:
            vals = tuple(node.attrs[name])
            return [
                Const(
                    (len(vals),),
                    _keep(vals, len(vals)),
                    is_float,
                    {key: len(vals)} if is_float and len(vals) > 1 else {},
                )
            ]
    raise Unsupported("holds a kind of value convcalc does not read (a sparse tensor or strings)")


def _norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise Unsupported(f"{what} {axis} is out of range for {rank} dims")
    return axis % rank if rank else 0


def _fold_shape(shape: tuple[Any, ...], node: P.Node) -> Const:
    rank = len(shape)
    start = _attr(node, "start", 0)
    end = _attr(node, "end", rank)
    lo, hi, _ = slice(start, end).indices(rank)
    vals = tuple(shape[lo:hi])
    return Const((len(vals),), vals, False)


def _fold_gather(node: P.Node, data: Const, idx: Const) -> Const:
    axis = _norm_axis(_attr(node, "axis", 0), len(data.dims))
    indices = _ints(idx, "indices") if idx.values is not None else None
    out_dims = data.dims[:axis] + idx.dims + data.dims[axis + 1 :]
    n = math.prod(out_dims)
    values = None
    if data.values is not None and indices is not None and n <= MAX_FOLD:
        size = data.dims[axis]
        for i in indices:
            if not -size <= i < size:
                raise Unsupported(f"index {i} is out of range for a dim of size {size}")
        outer = math.prod(data.dims[:axis])
        inner = math.prod(data.dims[axis + 1 :])
        vals = []
        for o in range(outer):
            for i in indices:
                base = (o * size + (i % size)) * inner
                vals.extend(data.values[base : base + inner])
        values = tuple(vals)
    return Const(out_dims, values, data.is_float, dict(data.sources))


def _axes_input(node: P.Node, ins: list[Const | None], k: int) -> list[int] | None:
    """Axes given as an attribute (older opsets) or as input ``k`` (newer)."""
    if "axes" in node.attrs:
        return list(node.attrs["axes"])
    if len(ins) > k and ins[k] is not None:
        return _ints(ins[k], "axes")
    return None


def _squeeze_dims(dims: tuple[int, ...], axes: list[int] | None) -> tuple[int, ...]:
    rank = len(dims)
    if axes is None:
        return tuple(d for d in dims if d != 1)
    norm = {_norm_axis(a, rank, "axes") for a in axes}
    for a in norm:
        if dims[a] != 1:
            raise Unsupported(f"squeezes axis {a}, of size {dims[a]}")
    return tuple(d for i, d in enumerate(dims) if i not in norm)


def _unsqueeze_dims(dims: tuple[int, ...], axes: list[int]) -> tuple[int, ...]:
    rank = len(dims) + len(axes)
    norm = sorted(_norm_axis(a, rank, "axes") for a in axes)
    if len(set(norm)) != len(norm):
        raise Unsupported("names an axis twice")
    out = list(dims)
    for a in norm:
        out.insert(a, 1)
    return tuple(out)


def _slice_params(node: P.Node, ins: list[Any], rank: int) -> list[tuple[int, int, int, int]]:
    """(axis, start, end, step) per sliced axis, from the attributes (opset < 10) or inputs."""
    if "starts" in node.attrs:
        starts = list(node.attrs["starts"])
        ends = list(node.attrs["ends"])
        axes = list(node.attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts = _ints(ins[1] if len(ins) > 1 else None, "starts")
        ends = _ints(ins[2] if len(ins) > 2 else None, "ends")
        axes = _ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = _ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise Unsupported("starts, ends, axes and steps differ in length")
    out = []
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = _norm_axis(a, rank, "axes")
        if a in seen:
            raise Unsupported("slices an axis twice")
        seen.add(a)
        if st == 0:
            raise Unsupported("has a step of 0")
        out.append((a, s, e, st))
    return out


def _clamped(size: int, s: int, e: int, st: int) -> range:
    """ONNX's clamping of a slice (the same as Python's for these bounds)."""
    s = max(-(2**63), min(s, 2**63 - 1))
    e = max(-(2**63), min(e, 2**63 - 1))
    return range(*slice(s, e, st).indices(size))


def _fold_slice(node: P.Node, ins: list[Const | None]) -> list[Const]:
    data = ins[0]
    if data is None:
        raise Unsupported("has no data input")
    params = _slice_params(node, ins, len(data.dims))
    ranges = [range(d) for d in data.dims]
    for a, s, e, st in params:
        ranges[a] = _clamped(data.dims[a], s, e, st)
    out_dims = tuple(len(r) for r in ranges)
    n = math.prod(out_dims)
    values = None
    if data.values is not None and n <= MAX_FOLD:
        import itertools

        values = tuple(data.values[_flat_index(data.dims, idx)] for idx in itertools.product(*ranges))
    return [Const(out_dims, values, data.is_float, dict(data.sources))]


def _fold_concat(node: P.Node, ins: list[Const | None]) -> list[Const]:
    cs = [c for c in ins if c is not None]
    if not cs:
        raise Unsupported("has no inputs")
    rank = len(cs[0].dims)
    if any(len(c.dims) != rank for c in cs):
        raise Unsupported("joins tensors of different ranks")
    axis = _norm_axis(_attr(node, "axis", 0), rank)
    for c in cs:
        if c.dims[:axis] != cs[0].dims[:axis] or c.dims[axis + 1 :] != cs[0].dims[axis + 1 :]:
            raise Unsupported("joins tensors whose other dims differ")
    out_dims = cs[0].dims[:axis] + (sum(c.dims[axis] for c in cs),) + cs[0].dims[axis + 1 :]
    n = math.prod(out_dims)
    values = None
    if all(c.values is not None for c in cs) and n <= MAX_FOLD:
        outer = math.prod(out_dims[:axis])
        vals: list[Any] = []
        for o in range(outer):
            for c in cs:
                assert c.values is not None
                chunk = math.prod(c.dims[axis:])
                vals.extend(c.values[o * chunk : (o + 1) * chunk])
        values = tuple(vals)
    return [Const(out_dims, values, any(c.is_float for c in cs), _merge_sources(*cs))]


def reshape_target(dims: Sequence[int], target: list[int], allowzero: bool) -> tuple[int, ...]:
    """ONNX Reshape's output shape for an input of ``dims``."""
    out: list[int] = []
    infer = None
    for i, t in enumerate(target):
        if t == 0 and not allowzero:
            if i >= len(dims):
                raise Unsupported(f"copies dim {i} (shape value 0), which the input does not have")
            out.append(dims[i])
        elif t == -1:
            if infer is not None:
                raise Unsupported("has two -1 entries in its shape")
            infer = i
            out.append(1)
        elif t < 0:
            raise Unsupported(f"has a negative size {t} in its shape")
        else:
            out.append(t)
    n, known = math.prod(dims), math.prod(out)
    if infer is not None:
        if known == 0 or n % known:
            raise Unsupported(f"cannot reshape {_dims(dims)} to {target}")
        out[infer] = n // known
    elif n != known:
        raise Unsupported(f"cannot reshape {_dims(dims)} to {_dims(out)}: the element counts differ")
    return tuple(out)


def _fold_reshape(node: P.Node, ins: list[Const | None]) -> list[Const]:
    data, shape = _need(ins, 2)
    target = reshape_target(data.dims, _ints(shape, "shape"), bool(_attr(node, "allowzero", 0)))
    return [Const(tuple(target), data.values, data.is_float, dict(data.sources))]


def _fold_transpose(node: P.Node, ins: list[Const | None]) -> list[Const]:
    (x,) = _need(ins, 1)
    rank = len(x.dims)
    perm = list(_attr(node, "perm", list(range(rank - 1, -1, -1))))
    if sorted(perm) != list(range(rank)):
        raise Unsupported(f"perm {perm} is not a permutation of {rank} axes")
    out_dims = tuple(x.dims[p] for p in perm)
    values = None
    if x.values is not None and x.numel <= MAX_FOLD:
        vals = []
        for idx in _indices(out_dims):
            src = [0] * rank
            for k, p in enumerate(perm):
                src[p] = idx[k]
            vals.append(x.values[_flat_index(x.dims, src)])
        values = tuple(vals)
    return [Const(out_dims, values, x.is_float, dict(x.sources))]


def _fold_squeeze(node: P.Node, ins: list[Const | None]) -> list[Const]:
    x = ins[0]
    if x is None:
        raise Unsupported("has no data input")
    return [Const(_squeeze_dims(x.dims, _axes_input(node, ins, 1)), x.values, x.is_float, dict(x.sources))]


def _fold_unsqueeze(node: P.Node, ins: list[Const | None]) -> list[Const]:
    x = ins[0]
    if x is None:
        raise Unsupported("has no data input")
    axes = _axes_input(node, ins, 1)
    if axes is None:
        raise Unsupported("has no axes")
    return [Const(_unsqueeze_dims(x.dims, axes), x.values, x.is_float, dict(x.sources))]


def _fold_flatten(node: P.Node, ins: list[Const | None]) -> list[Const]:
    (x,) = _need(ins, 1)
    rank = len(x.dims)
    axis = _attr(node, "axis", 1)
    axis = axis + rank if axis < 0 else axis
    if not 0 <= axis <= rank:
        raise Unsupported(f"axis {axis} is out of range")
    dims = (math.prod(x.dims[:axis]), math.prod(x.dims[axis:]))
    return [Const(dims, x.values, x.is_float, dict(x.sources))]


def _fold_constant_of_shape(node: P.Node, ins: list[Const | None]) -> list[Const]:
    (shape,) = _need(ins, 1)
    dims = tuple(_ints(shape, "shape"))
    value = node.attrs.get("value")
    fill: Any = 0.0
    is_float = True
    if isinstance(value, P.Tensor):
        is_float = value.data_type in P.FLOAT_TYPES
        fill = value.values[0] if value.values else (0.0 if is_float else 0)
    n = math.prod(dims)
    return [Const(dims, (fill,) * n if n <= MAX_FOLD else None, is_float)]


def _fold_range(node: P.Node, ins: list[Const | None]) -> list[Const]:
    start, limit, delta = (c.scalar() if c is not None else None for c in _need(ins, 3))
    if any(v is None or v is BATCH for v in (start, limit, delta)) or delta == 0:
        raise Unsupported("has bounds that convcalc cannot fold")
    n = max(math.ceil((limit - start) / delta), 0)
    is_float = any(isinstance(v, float) for v in (start, limit, delta))
    values = tuple(start + k * delta for k in range(n)) if n <= MAX_FOLD else None
    return [Const((n,), values, is_float)]


def _fold_expand(node: P.Node, ins: list[Const | None]) -> list[Const]:
    x, shape = _need(ins, 2)
    dims = _bcast(x.dims, _ints(shape, "shape"))
    n = math.prod(dims)
    values = tuple(_bcast_values(x, dims)) if x.values is not None and n <= MAX_FOLD else None
    return [Const(dims, values, x.is_float, dict(x.sources))]


def _fold_where(node: P.Node, ins: list[Const | None]) -> list[Const]:
    cond, a, b = _need(ins, 3)
    dims = _bcast(_bcast(cond.dims, a.dims), b.dims)
    n = math.prod(dims)
    values = None
    if all(c.values is not None for c in (cond, a, b)) and n <= MAX_FOLD:
        cv, av, bv = (_bcast_values(c, dims) for c in (cond, a, b))
        if BATCH not in cv:
            values = tuple(x if c else y for c, x, y in zip(cv, av, bv))
    return [Const(dims, values, a.is_float or b.is_float, _merge_sources(a, b))]


def _fold_size(node: P.Node, ins: list[Const | None]) -> list[Const]:
    (x,) = _need(ins, 1)
    return [Const((), (x.numel,), False)]


def _fold_identity(node: P.Node, ins: list[Const | None]) -> list[Const]:
    (x,) = _need(ins, 1)
    return [x] + ([Const(x.dims, None, False)] if len(node.outputs) > 1 else [])


def _fold_split(node: P.Node, ins: list[Const | None]) -> list[Const]:
    x = ins[0]
    if x is None:
        raise Unsupported("has no data input")
    axis = _norm_axis(_attr(node, "axis", 0), len(x.dims))
    sizes = _split_sizes(node, ins, x.dims[axis])
    outs = []
    start = 0
    for s in sizes:
        sub = P.Node("Slice", node.name, "", [], [], {"starts": [start], "ends": [start + s], "axes": [axis]})
        outs.extend(_fold_slice(sub, [x]))
        start += s
    return outs


def _split_sizes(node: P.Node, ins: list[Any], size: int) -> list[int]:
    if "split" in node.attrs:
        sizes = list(node.attrs["split"])
    elif len(ins) > 1 and ins[1] is not None:
        sizes = _ints(ins[1], "split")
    else:
        n = _attr(node, "num_outputs", len(node.outputs))
        if n < 1:
            raise Unsupported("has no outputs")
        chunk = -(-size // n)
        sizes = [min(chunk, max(size - k * chunk, 0)) for k in range(n)]
    if sum(sizes) != size or any(s < 0 for s in sizes):
        raise Unsupported(f"splits a dim of size {size} into {sizes}")
    if len(sizes) != len(node.outputs):
        raise Unsupported(f"has {len(node.outputs)} outputs for {len(sizes)} parts")
    return sizes


def _fold_reduce(node: P.Node, ins: list[Const | None]) -> list[Const]:
    x = ins[0]
    if x is None:
        raise Unsupported("has no data input")
    rank = len(x.dims)
    axes = _axes_input(node, ins, 1)
    keep = bool(_attr(node, "keepdims", 1))
    if axes is None or not axes:
        if _attr(node, "noop_with_empty_axes", 0):
            return [x]
        axes = list(range(rank))
    norm = sorted({_norm_axis(a, rank, "axes") for a in axes})
    dims = (
        tuple(1 if i in norm else d for i, d in enumerate(x.dims))
        if keep
        else tuple(d for i, d in enumerate(x.dims) if i not in norm)
    )
    values = None
    if x.values is not None and norm == list(range(rank)) and node.op_type == "ReduceProd":
        try:
            acc: Any = 1
            for v in x.values:
                acc = _arith("Mul", acc, v)
            values = (acc,)
        except _Unknown:
            values = None
    return [Const(dims, values, x.is_float, dict(x.sources))]


FOLDERS: dict[str, Callable[[P.Node, list[Const | None]], list[Const]]] = {
    "Constant": _fold_constant,
    "Identity": _fold_identity,
    "Cast": _fold_unary,
    "CastLike": lambda node, ins: _fold_unary(
        P.Node(
            "Cast",
            node.name,
            "",
            node.inputs,
            node.outputs,
            {"to": P.FLOAT if (ins[1] and ins[1].is_float) else P.INT64},
        ),
        ins[:1],
    ),
    "Neg": _fold_unary,
    "Sqrt": _fold_unary,
    "Reciprocal": _fold_unary,
    "Floor": _fold_unary,
    "Ceil": _fold_unary,
    "Abs": _fold_unary,
    "Not": _fold_unary,
    "Exp": _fold_unary,
    "Log": _fold_unary,
    "Add": _fold_binary,
    "Sub": _fold_binary,
    "Mul": _fold_binary,
    "Div": _fold_binary,
    "Pow": _fold_binary,
    "Mod": _fold_binary,
    "Equal": _fold_binary,
    "Less": _fold_binary,
    "Greater": _fold_binary,
    "Max": _fold_variadic,
    "Min": _fold_variadic,
    "Gather": lambda node, ins: [_fold_gather(node, *_need(ins, 2))],
    "Slice": _fold_slice,
    "Concat": _fold_concat,
    "Reshape": _fold_reshape,
    "Transpose": _fold_transpose,
    "Squeeze": _fold_squeeze,
    "Unsqueeze": _fold_unsqueeze,
    "Flatten": _fold_flatten,
    "ConstantOfShape": _fold_constant_of_shape,
    "Range": _fold_range,
    "Expand": _fold_expand,
    "Where": _fold_where,
    "Size": _fold_size,
    "Split": _fold_split,
    "ReduceProd": _fold_reduce,
    "ReduceMean": _fold_reduce,
    "ReduceSum": _fold_reduce,
    "ReduceMax": _fold_reduce,
    "ReduceMin": _fold_reduce,
    "Dropout": _fold_identity,
}


# -- patterns folded before mapping --------------------------------------------------------------
def _static_scalar(graph: P.Graph, producers: dict[str, P.Node], name: str) -> Any:
    """The value of a one-element initializer or Constant, or None."""
    t = graph.initializers.get(name)
    if t is None:
        node = producers.get(name)
        if node is None or node.op_type != "Constant":
            return None
        t = node.attrs.get("value")
        if not isinstance(t, P.Tensor):
            v = node.attrs.get("value_float", node.attrs.get("value_int"))
            return v
    if t.values is not None and len(t.values) == 1:
        return t.values[0]
    return None


def _static_values(graph: P.Graph, producers: dict[str, P.Node], name: str) -> tuple[Any, ...] | None:
    t = graph.initializers.get(name)
    if t is None:
        node = producers.get(name)
        if node is None or node.op_type != "Constant":
            return None
        t = node.attrs.get("value")
        if not isinstance(t, P.Tensor):
            return None
    return t.values


def _close(v: Any, want: float, tol: float = 1e-5) -> bool:
    return (
        isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v - want) <= tol * max(1.0, abs(want))
    )


class _Patterns:
    """Rewrites of the node list: several ONNX nodes that compute one activation (or one
    GroupNorm) become one node of a private op type, when nothing else reads their insides."""

    def __init__(self, graph: P.Graph, nodes: list[P.Node]):
        self.graph = graph
        self.nodes = nodes
        self.producers: dict[str, P.Node] = {}
        self.uses: dict[str, int] = {}
        for node in nodes:
            for out in node.outputs:
                if out:
                    self.producers[out] = node
            for name in node.inputs:
                if name:
                    self.uses[name] = self.uses.get(name, 0) + 1
        for v in graph.outputs:
            self.uses[v.name] = self.uses.get(v.name, 0) + 1

    def only(self, name: str, op: str) -> P.Node | None:
        """The producer of ``name`` if it is an ``op`` node read only here."""
        node = self.producers.get(name)
        if node is None or node.op_type != op or self.uses.get(name, 0) != 1:
            return None
        return node

    def scalar(self, name: str) -> Any:
        return _static_scalar(self.graph, self.producers, name)

    def run(self) -> list[P.Node]:
        removed: set[int] = set()
        replaced: dict[int, P.Node] = {}
        for node in self.nodes:
            if id(node) in removed:
                continue
            got = None
            if node.op_type == "Mul":
                got = self.silu_like(node) or self.gelu(node)
            elif node.op_type == "Reshape":
                got = self.group_norm(node)
            if got is not None:
                fused, inner = got
                for n in inner:
                    removed.add(id(n))
                replaced[id(node)] = fused
        return [replaced.get(id(n), n) for n in self.nodes if id(n) not in removed or id(n) in replaced]

    def silu_like(self, node: P.Node) -> tuple[P.Node, list[P.Node]] | None:
        """x * sigmoid(x) (SiLU), x * hardsigmoid(x) (hardswish), x * tanh(softplus(x)) (mish)."""
        if len(node.inputs) != 2:
            return None
        for x, g in (node.inputs, node.inputs[::-1]):
            sig = self.only(g, "Sigmoid")
            if sig is not None and sig.inputs[0] == x:
                return self._fused("_Silu", node, x, [sig])
            hs = self.only(g, "HardSigmoid")
            if (
                hs is not None
                and hs.inputs[0] == x
                and _close(hs.attrs.get("alpha", 0.2), 1 / 6)
                and _close(hs.attrs.get("beta", 0.5), 0.5)
            ):
                return self._fused("HardSwish", node, x, [hs])
            tanh = self.only(g, "Tanh")
            if tanh is not None:
                sp = self.only(tanh.inputs[0], "Softplus")
                if sp is not None and sp.inputs[0] == x:
                    return self._fused("Mish", node, x, [tanh, sp])
        return None

    def _fused(
        self, op: str, root: P.Node, x: str, inner: list[P.Node], attrs: dict | None = None
    ) -> tuple[P.Node, list[P.Node]]:
        return P.Node(op, root.name, "", [x], list(root.outputs), attrs or {}), inner

    def gelu(self, root: P.Node) -> tuple[P.Node, list[P.Node]] | None:
        """x * 0.5 * (1 + erf(x / sqrt 2)), its products in any order (torch's exact GELU)."""
        factors: list[str] = []
        inner: list[P.Node] = []
        stack = list(root.inputs)
        while stack:
            name = stack.pop()
            mul = self.only(name, "Mul")
            if mul is not None and len(inner) < 4:
                inner.append(mul)
                stack.extend(mul.inputs)
            else:
                factors.append(name)
        consts, others = [], []
        for f in factors:
            v = self.scalar(f)
            (consts if v is not None else others).append((f, v))
        if len(others) != 2:
            return None
        product = 1.0
        for _, v in consts:
            product *= v
        if not _close(product, 0.5):
            return None
        for (x, _), (a, _) in (others, others[::-1]):
            add = self.only(a, "Add")
            if add is None or len(add.inputs) != 2:
                continue
            for e, one in (add.inputs, add.inputs[::-1]):
                erf = self.only(e, "Erf")
                if erf is None or not _close(self.scalar(one), 1.0):
                    continue
                div = self.only(erf.inputs[0], "Div")
                ok = (
                    div is not None
                    and div.inputs[0] == x
                    and _close(self.scalar(div.inputs[1]), math.sqrt(2))
                )
                if not ok:
                    div = self.only(erf.inputs[0], "Mul")
                    ok = (
                        div is not None
                        and x in div.inputs
                        and _close(
                            self.scalar(div.inputs[1] if div.inputs[0] == x else div.inputs[0]),
                            1 / math.sqrt(2),
                        )
                    )
                if ok and div is not None:
                    return self._fused("Gelu", root, x, [*inner, add, erf, div])
        return None

    def group_norm(self, last: P.Node) -> tuple[P.Node, list[P.Node]] | None:
        """torch's GroupNorm before opset 18: Reshape(x, [0, G, -1]), InstanceNormalization
        with a scale of ones and a bias of zeros, Reshape back (then its weight and bias,
        mapped afterwards)."""
        inst = self.only(last.inputs[0], "InstanceNormalization")
        if inst is None or len(inst.inputs) < 3:
            return None
        first = self.only(inst.inputs[0], "Reshape")
        if first is None:
            return None
        ones = _static_values(self.graph, self.producers, inst.inputs[1])
        zeros = _static_values(self.graph, self.producers, inst.inputs[2])
        target = _static_values(self.graph, self.producers, first.inputs[1])
        if ones is None or zeros is None or target is None or len(target) != 3:
            return None
        if (
            any(v != 1 for v in ones)
            or any(v != 0 for v in zeros)
            or target[2] != -1
            or len(ones) != target[1]
        ):
            return None
        attrs = {"groups": int(target[1]), "first": target[0]}
        return (
            P.Node("_GroupNorm", inst.name, "", [first.inputs[0], last.inputs[1]], list(last.outputs), attrs),
            [first, inst],
        )


# -- mapping -------------------------------------------------------------------------------------
def _dimval(values: Sequence[int]) -> int | list[int]:
    """A per-dim field as a spec writes it: one int when every dim agrees."""
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values


ACTIVATIONS = {
    "Relu": "relu",
    "LeakyRelu": "leaky_relu",
    "Elu": "elu",
    "Selu": "selu",
    "Sigmoid": "sigmoid",
    "Tanh": "tanh",
    "HardSigmoid": "hardsigmoid",
    "HardSwish": "hardswish",
    "Softplus": "softplus",
    "Mish": "mish",
    "Gelu": "gelu",
    "_Silu": "silu",
}
UNARY = {
    "Sqrt": "sqrt",
    "Exp": "exp",
    "Log": "log",
    "Neg": "neg",
    "Reciprocal": "reciprocal",
    "Abs": "abs",
    "Erf": "erf",
    "Sin": "sin",
    "Cos": "cos",
    "Floor": "floor",
    "Ceil": "ceil",
    "Round": "round",
    "Sign": "sign",
}
BINARY = {"Add": "add", "Sub": "sub", "Mul": "mul", "Div": "div", "Pow": "pow", "Max": "max", "Min": "min"}
REDUCE = {
    "ReduceMean": "mean",
    "ReduceSum": "sum",
    "ReduceMax": "max",
    "ReduceMin": "min",
    "ReduceProd": "prod",
}


class _Converter:
    def __init__(self, model: P.Model, where: str, shape: Shape, batch: Any, allow_unknown: bool):
        self.model = model
        self.g = model.graph
        self.where = where
        self.in_shape = tuple(shape)
        self.batch = batch
        self.allow_unknown = allow_unknown
        self.opset = model.opset() or 1
        self.values: dict[str, Value] = {}
        self.pending: list[_Pending] = []
        self.shapes: list[Shape] = []
        self.counted: dict[str, str] = {}  # parameter source -> the node that counted it
        self.absorbed: set[int] = set()  # nodes folded into an earlier one
        self.cf_views: dict[int, Act] = {}  # channels-last views made explicit, by ref
        self.consumers: dict[str, list[P.Node]] = {}
        self.outputs_read: set[str] = {v.name for v in self.g.outputs}
        self.labels: dict[int, str] = {}  # ref -> a name for it taken from the graph's outputs
        self.opaque = False

    # -- driving -----------------------------------------------------------------------------
    def run(self) -> Graph:
        order = P.dataflow_order(self.g, self.where)
        order = _Patterns(self.g, order).run()
        for node in order:
            for name in node.inputs:
                if name:
                    self.consumers.setdefault(name, []).append(node)
        for name, t in self.g.initializers.items():
            self.values[name] = _const_of_tensor(t, name)
        in_name = self.g.data_inputs[0].name
        # constants first (weights reshaped or transposed by the exporter), so that a node can
        # look at the constants its consumers will combine it with
        rest = []
        for node in order:
            if not self._fold_static(node):
                rest.append(node)
        self.values[in_name] = Act(-1, self.in_shape)
        for node in rest:
            if id(node) in self.absorbed:
                continue
            self._visit(node)
        outputs = []
        for v in self.g.outputs:
            val = self.values.get(v.name)
            if not isinstance(val, Act):
                raise SpecError(
                    f"graph output {v.name!r} is a constant, not computed from the input", where=self.where
                )
            val = self.cf(val)
            outputs.append((v.name, val.ref))
            if _readable(v.name) and val.ref >= 0 and val.ref not in self.labels:
                self.labels[val.ref] = v.name
        if self.opaque and self.in_shape != self._file_shape():
            raise SpecError(
                "the input size differs from the file's, but the output shapes of the operations counted "
                "as zero (--allow-unknown) are the file's: report this model at its own input size",
                where=self.where,
            )
        return self._build(outputs)

    def _file_shape(self) -> Shape | None:
        dims = self.g.data_inputs[0].shape
        if dims is None or not all(isinstance(d, int) for d in dims[1:]):
            return None
        return tuple(int(d) for d in dims[1:])

    def _fold_static(self, node: P.Node) -> bool:
        """Fold a node whose inputs are all constants known before the input's shape."""
        folder = FOLDERS.get(node.op_type)
        if folder is None or node.domain not in ("", "ai.onnx"):
            return False
        ins: list[Const | None] = []
        for name in node.inputs:
            if not name:
                ins.append(None)
                continue
            v = self.values.get(name)
            if not isinstance(v, Const):
                return False
            ins.append(v)
        if not node.inputs and node.op_type != "Constant":
            return False
        try:
            outs = folder(node, ins)
        except Unsupported:
            return False
        self._assign(node, outs)
        return True

    def _assign(self, node: P.Node, outs: Sequence[Value | None]) -> None:
        for name, v in zip(node.outputs, outs):
            if name and v is not None:
                self.values[name] = v

    def label(self, node: P.Node) -> str:
        return f"node {P._q(node.name)} ({node.op_type})" if node.name else f"a {node.op_type} node"

    def _visit(self, node: P.Node) -> None:
        ins: list[Value | None] = []
        for name in node.inputs:
            if not name:
                ins.append(None)
                continue
            v = self.values.get(name)
            if v is None:  # produced by a node that gave no value for it (an unused output)
                raise SpecError(
                    f"{self.label(node)} reads {name!r}, which its producer does not give", where=self.where
                )
            ins.append(v)
        try:
            if node.domain not in ("", "ai.onnx"):
                raise Unsupported(f"is an op of domain {node.domain!r}, which {SUPPORTED_NOTE}")
            handler = HANDLERS.get(node.op_type)
            if handler is not None:
                outs = handler(self, node, ins)
            elif node.op_type in FOLDERS and all(v is None or isinstance(v, Const) for v in ins):
                outs = list(
                    FOLDERS[node.op_type](
                        node, [v if isinstance(v, Const) or v is None else None for v in ins]
                    )
                )
            elif node.op_type in FOLDERS:
                raise Unsupported(f"computes on activations, which {SUPPORTED_NOTE}")
            else:
                raise Unsupported(SUPPORTED_NOTE)
        except Unsupported as e:
            outs = self._unsupported(node, e.reason, ins)
        self._assign(node, outs)

    def _unsupported(self, node: P.Node, reason: str, ins: list[Value | None]) -> list[Value | None]:
        if not self.allow_unknown:
            raise SpecError(
                f"{self.label(node)}: {reason} (--allow-unknown counts it as zero)", where=self.where
            )
        acts = [v for v in ins if isinstance(v, Act)]
        outs: list[Value | None] = []
        for k, out in enumerate(node.outputs):
            if not out or (out not in self.consumers and out not in self.outputs_read):
                outs.append(None)
                continue
            dims = self._recorded_shape(out)
            if dims is None:
                raise SpecError(
                    f"{self.label(node)}: {reason}; --allow-unknown would count it as zero, but the file does "
                    f"not record the shape of its output {out!r} (run ONNX shape inference on the model)",
                    where=self.where,
                )
            if not acts:
                outs.append(Const(dims, None, True))
                continue
            if len(dims) < 2:
                raise SpecError(
                    f"{self.label(node)}: {reason}; its output {out!r} has shape {_dims(dims)}, without a batch "
                    "and a channel dim",
                    where=self.where,
                )
            x = self.cf(acts[0])
            layer = self.build(node, "opaque", {"op": node.op_type, "shape": list(dims[1:])})
            self.opaque = True
            outs.append(self.emit(node, layer, [x], f".{k}" if len(node.outputs) > 1 else ""))
        return outs

    def _recorded_shape(self, name: str) -> tuple[int, ...] | None:
        info = self.g.value_info.get(name)
        if info is None:
            info = next((v for v in self.g.outputs if v.name == name), None)
        if info is None or info.shape is None:
            return None
        dims = list(info.shape)
        if dims and not isinstance(dims[0], int):
            dims[0] = 1  # the batch
        if not all(isinstance(d, int) and d >= 1 for d in dims):
            return None
        return tuple(int(d) for d in dims)

    # -- building blocks ---------------------------------------------------------------------
    def act(self, v: Value | None, what: str = "its input") -> Act:
        if isinstance(v, Act):
            return v
        raise Unsupported(
            f"{what} is {'missing' if v is None else 'a constant'}: it computes on constants only"
        )

    def const(self, v: Value | None, what: str) -> Const:
        if isinstance(v, Const):
            return v
        raise Unsupported(
            f"its {what} is {'missing' if v is None else 'computed by the network'}, not a constant"
        )

    def build(self, node: P.Node, type_name: str, values: dict[str, Any]) -> Layer:
        try:
            return REGISTRY[type_name].build(values)
        except ConvcalcError as e:
            raise SpecError(f"{self.label(node)}: {e.message}", where=self.where) from None

    def emit(
        self, node: P.Node, layer: Layer, inputs: Sequence[Act], suffix: str = "", cl: bool = False
    ) -> Act:
        """Add a graph node; ``inputs`` are channels-first activations."""
        shapes = tuple(a.shape for a in inputs)
        try:
            cost = layer.cost(*shapes)
        except ConvcalcError as e:
            raise SpecError(f"{self.label(node)}: {e.message}", where=self.where) from None
        self.pending.append(
            _Pending(
                layer, tuple(a.ref for a in inputs), node.name or node.op_type, node.op_type, cost, suffix
            )
        )
        self.shapes.append(tuple(cost.output_shape))
        return Act(len(self.pending) - 1, tuple(cost.output_shape), cl, inputs[0].via if cl else "")

    def cf(self, x: Act) -> Act:
        """The channels-first tensor of an activation: a channels-last view becomes a
        transpose node (once per tensor)."""
        if not x.cl:
            return x
        got = self.cf_views.get(x.ref)
        if got is None:
            n = len(x.shape) - 1
            layer = REGISTRY["transpose"].build({"perm": list(range(1, n + 1)) + [0]})
            cost = layer.cost(x.shape)
            self.pending.append(_Pending(layer, (x.ref,), x.via or "transpose", "Transpose", cost))
            self.shapes.append(tuple(cost.output_shape))
            got = self.cf_views[x.ref] = Act(len(self.pending) - 1, tuple(cost.output_shape))
        return got

    def take(self, consts: Iterable[Const | None], node: P.Node) -> int:
        """Count the parameters behind these constants that no layer has counted yet."""
        total = 0
        for c in consts:
            if c is None:
                continue
            for key, n in c.sources.items():
                if key not in self.counted:
                    self.counted[key] = node.name
                    total += n
        return total

    def shared(self, c: Value | None) -> bool:
        """Whether a constant holds parameters that a layer has counted already (one
        initializer read by two layers, or deduplicated by the exporter: counted once)."""
        return isinstance(c, Const) and any(k in self.counted for k in c.sources)

    def affine(
        self, node: P.Node, y: Act, parts: Sequence[tuple[str, Const | None]], suffix: str = ""
    ) -> Act:
        """Per-channel multiplies and adds by constants, as ``elementwise`` layers counting only
        the parameters not counted before (a bias or norm weight shared with another layer)."""
        shape = [y.shape[0]] + [1] * (len(y.shape) - 1)
        for k, (op, c) in enumerate(parts):
            if c is None:
                continue
            values: dict[str, Any] = {"op": op, "shape": shape}
            taken = self.take([c], node)
            if taken:
                values["learned"] = taken
            tag = ".bias" if op == "add" else ".scale"
            y = self.emit(
                node,
                self.build(node, "elementwise", values),
                [y],
                suffix + tag if k or suffix else tag,
                cl=y.cl,
            )
        return y

    def expect(self, consts: Sequence[Const | None], layer: Layer, shape: Shape, node: P.Node) -> None:
        """The parameters behind ``consts`` must be exactly the layer's."""
        shared = [k for c in consts if c is not None for k in c.sources if k in self.counted]
        got = self.take(consts, node)
        want = layer.cost(shape).params
        if shared:
            raise SpecError(
                f"{self.label(node)}: its weights {shared[0]!r} were already counted for node "
                f"{self.counted[shared[0]]!r}: weights shared between layers are not supported",
                where=self.where,
            )
        if got != want:
            raise SpecError(
                f"{self.label(node)}: its weights are computed from {got:,} parameter values, but a "
                f"{layer.type_name} of this shape has {want:,} (fold the model's constants, e.g. export "
                "with do_constant_folding=True)",
                where=self.where,
            )

    def single(self, name: str, op: str | tuple[str, ...]) -> P.Node | None:
        """The one node reading ``name``, if it is an ``op`` node (and no output reads it)."""
        users = self.consumers.get(name, [])
        ops = (op,) if isinstance(op, str) else op
        if len(users) != 1 or name in self.outputs_read or users[0].op_type not in ops:
            return None
        return users[0]

    def other(self, node: P.Node, name: str) -> Value | None:
        """The operand of a two-input node that is not ``name``."""
        if len(node.inputs) != 2:
            return None
        a, b = node.inputs
        if a == name and b != name:
            return self.values.get(b)
        if b == name and a != name:
            return self.values.get(a)
        return None

    def absorb(self, node: P.Node, value: Act) -> None:
        self.absorbed.add(id(node))
        self._assign(node, [value])

    def batch_ok(self, v: Any) -> bool:
        """Whether a folded size is the batch dim."""
        return v is BATCH or (isinstance(self.batch, int) and v == self.batch)

    # -- building the graph --------------------------------------------------------------------
    def _build(self, outputs: list[tuple[str, int]]) -> Graph:
        pending, remap = _collapse_squeeze_excite(self.pending)
        outputs = [(n, remap[r] if r >= 0 else r) for n, r in outputs]
        labels = {remap[r]: v for r, v in self.labels.items() if remap.get(r, -1) >= 0}
        names = _display_names(pending, labels)
        graph = Graph(_model_name(self.where), [GraphInput("input", self.in_shape)])
        loc = Loc(self.where)
        for p, name in zip(pending, names):
            graph.nodes.append(Node(name, p.layer, p.inputs, (), None, p.origin, loc, 0))
        graph.outputs = [(graph.tensor_name(r), r) for _, r in outputs]
        return graph


def _readable(name: str) -> bool:
    return (
        bool(re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.\-]*", name))
        and "output_" not in name
        and not name.startswith("onnx")
    )


def _scope(origin: str) -> tuple[str, str]:
    """(module path, leaf) of an ONNX node name as torch's exporter writes it:
    '/layer1/layer1.0/conv1/Conv' is ('layer1.0.conv1', 'Conv'), '/features/features.1/block/
    block.0/Conv' is ('features.1.block.0', 'Conv')."""
    if not origin.startswith("/"):
        return "", origin
    parts = [p for p in origin.split("/") if p]
    if not parts:
        return "", origin
    path = prev = ""
    for p in parts[:-1]:
        # a child of a Sequential is named 'parent.k' after its parent's own name
        if prev and p.startswith(prev + "."):
            path += p[len(prev) :]
        else:
            path = f"{path}.{p}" if path else p
        prev = p
    return path, parts[-1]


def _clean(name: str) -> str:
    name = re.sub(r"\s+", "_", name.strip()).strip(".")
    return name or "node"


def _display_names(pending: list[_Pending], labels: dict[int, str]) -> list[str]:
    scopes = [_scope(p.origin) for p in pending]
    origins: dict[str, set[str]] = {}
    for (scope, _), p in zip(scopes, pending):
        origins.setdefault(scope, set()).add(p.origin)
    per_scope = {scope: len(o) for scope, o in origins.items()}
    used: set[str] = {"input"}
    out = []
    for i, ((scope, leaf), p) in enumerate(zip(scopes, pending)):
        if i in labels:
            base = labels[i]
        elif scope and per_scope.get(scope, 0) == 1:
            base = scope
        elif scope:
            base = f"{scope}.{leaf.lower()}"
        else:
            base = leaf if not leaf[:1].isupper() else leaf.lower()
        base = _clean(base + p.suffix)
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out.append(name)
    return out


def _collapse_squeeze_excite(pending: list[_Pending]) -> tuple[list[_Pending], dict[int, int]]:
    """global_pool avg -> pointwise (bias) -> activation -> pointwise (bias) -> sigmoid or
    hardsigmoid -> mul with the pool's input, nothing else reading the inside: one
    squeeze_excite, which computes exactly that."""
    n = len(pending)
    readers: list[list[int]] = [[] for _ in range(n)]
    for i, p in enumerate(pending):
        for r in p.inputs:
            if r >= 0:
                readers[r].append(i)
    drop: set[int] = set()
    replace: dict[int, _Pending] = {}
    for i, p in enumerate(pending):
        if p.layer.type_name != "mul" or len(p.inputs) != 2:
            continue
        for x, g in (p.inputs, p.inputs[::-1]):
            chain = _se_chain(pending, readers, g, x, i)
            if chain is None:
                continue
            pool, fc1, act, _fc2, gate = (pending[k] for k in chain)
            shape = pool.cost.input_shape
            s = fc1.cost.output_shape[0]
            layer = REGISTRY["squeeze_excite"].build(
                {"squeeze_channels": s, "activation": act.layer.params["fn"], "gate": gate.layer.params["fn"]}
            )
            try:
                cost = layer.cost(shape)
            except ConvcalcError:
                continue
            parts = [pending[k].cost for k in chain] + [p.cost]
            if (
                cost.params != sum(c.params for c in parts)
                or cost.macs != sum(c.macs for c in parts)
                or cost.flops != sum(c.flops for c in parts)
                or cost.output_shape != p.cost.output_shape
            ):
                continue
            drop.update(chain)
            replace[i] = _Pending(layer, (x,), p.origin, p.op, cost, p.suffix)
            break
    if not replace:
        return pending, {i: i for i in range(n)}
    out: list[_Pending] = []
    remap: dict[int, int] = {}
    for i, p in enumerate(pending):
        if i in drop:
            continue
        q = replace.get(i, p)
        q.inputs = tuple(remap[r] if r >= 0 else r for r in q.inputs)
        remap[i] = len(out)
        out.append(q)
    return out, remap


def _se_chain(
    pending: list[_Pending], readers: list[list[int]], g: int, x: int, mul: int
) -> list[int] | None:
    if g < 0:
        return None
    want = [
        ("activation", ("sigmoid", "hardsigmoid")),
        ("pointwise", None),
        ("activation", None),
        ("pointwise", None),
        ("global_pool", None),
    ]
    chain = []
    k = g
    for t, fns in want:
        if k < 0:
            return None
        p = pending[k]
        if p.layer.type_name != t or len(p.inputs) != 1:
            return None
        if readers[k] != [chain[-1] if chain else mul]:
            return None
        if fns is not None and p.layer.params.get("fn") not in fns:
            return None
        if t == "pointwise" and (
            not p.layer.params["bias"] or p.layer.params["groups"] != 1 or p.layer.params["stride"] != 1
        ):
            return None
        if t == "global_pool" and (p.layer.params["mode"] != "avg" or p.inputs[0] != x):
            return None
        chain.append(k)
        k = p.inputs[0]
    chain.reverse()  # pool, fc1, act, fc2, gate
    pool, fc2 = pending[chain[0]], pending[chain[3]]
    if fc2.cost.output_shape[0] != pool.cost.input_shape[0]:
        return None
    return chain


# -- the handlers: one per op type (node, inputs) -> outputs ---------------------------------------
Handler = Callable[[_Converter, P.Node, list[Value | None]], list[Value | None]]
HANDLERS: dict[str, Handler] = {}


def handles(*ops: str) -> Callable[[Handler], Handler]:
    def deco(fn: Handler) -> Handler:
        for op in ops:
            HANDLERS[op] = fn
        return fn

    return deco


def _padding(
    size: Shape, k: Sequence[int], s: Sequence[int], d: Sequence[int], node: P.Node
) -> tuple[list[int], list[int]]:
    """(begin, end) padding per spatial dim from ``pads`` and ``auto_pad``."""
    n = len(k)
    auto = str(node.attrs.get("auto_pad", "NOTSET"))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        from ..shapes import same_padding

        pairs = [same_padding(i, kk, ss, dd) for i, kk, ss, dd in zip(size, k, s, d)]
        if auto == "SAME_LOWER":
            pairs = [(hi, lo) for lo, hi in pairs]
        return [p[0] for p in pairs], [p[1] for p in pairs]
    if auto == "VALID":
        return [0] * n, [0] * n
    if auto not in ("NOTSET", ""):
        raise Unsupported(f"has auto_pad {auto!r}")
    pads = list(node.attrs.get("pads", [0] * (2 * n)))
    if len(pads) != 2 * n or any(p < 0 for p in pads):
        raise Unsupported(f"has pads {pads} for {n} spatial dims")
    return pads[:n], pads[n:]


def _spatial_attr(node: P.Node, name: str, n: int, default: int = 1) -> list[int]:
    v = list(node.attrs.get(name, [default] * n))
    if len(v) != n or any(x < 1 for x in v):
        raise Unsupported(f"has {name} {v} for {n} spatial dims")
    return v


def _conv_padding(
    cv: _Converter, node: P.Node, x: Act, k: list[int], s: list[int], d: list[int]
) -> tuple[Any, Act]:
    """The padding a convcalc conv takes, and its input: an explicit pad node first when the
    padding is neither symmetric nor TensorFlow's 'same'."""
    from ..shapes import same_padding

    begin, end = _padding(x.shape[1:], k, s, d, node)
    if begin == end:
        return _dimval(begin) if begin else 0, x
    same = [same_padding(i, kk, ss, dd) for i, kk, ss, dd in zip(x.shape[1:], k, s, d)]
    if [p[0] for p in same] == begin and [p[1] for p in same] == end:
        return "same", x
    pad = cv.build(node, "pad", {"begin": _dimval(begin), "end": _dimval(end)})
    return 0, cv.emit(node, pad, [x], ".pad")


@handles("Conv")
def _conv(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    w = cv.const(ins[1] if len(ins) > 1 else None, "weight")
    b = ins[2] if len(ins) > 2 else None
    if b is not None and not isinstance(b, Const):
        raise Unsupported("its bias is computed by the network")
    n = len(x.shape) - 1
    if not 1 <= n <= 3:
        raise Unsupported(f"is a convolution over {n} spatial dims; convcalc has 1 to 3")
    if len(w.dims) != n + 2:
        raise Unsupported(f"has a weight of dims {_dims(w.dims)} for an input of {n} spatial dims")
    m, cg, k = w.dims[0], w.dims[1], list(w.dims[2:])
    g = int(node.attrs.get("group", 1))
    c = x.shape[0]
    if g < 1 or cg * g != c:
        raise SpecError(
            f"{cv.label(node)}: its weight {_dims(w.dims)} with group {g} takes {cg * g} input channels, "
            f"but its input {_dims(x.shape)} has {c}",
            where=cv.where,
        )
    if "kernel_shape" in node.attrs and list(node.attrs["kernel_shape"]) != k:
        raise Unsupported(
            f"has kernel_shape {node.attrs['kernel_shape']} but a weight of dims {_dims(w.dims)}"
        )
    s = _spatial_attr(node, "strides", n)
    d = _spatial_attr(node, "dilations", n)
    padding, x = _conv_padding(cv, node, x, k, s, d)
    shared_bias = cv.shared(b)
    bias = b is not None and not shared_bias
    if g == c and c > 1 and m % c == 0:
        values: dict[str, Any] = {"kernel": _dimval(k), "stride": _dimval(s), "padding": padding}
        values.update(dilation=_dimval(d), multiplier=m // c, bias=bias)
        layer = cv.build(node, "depthwise", values)
    elif all(kk == 1 for kk in k) and padding in (0, "valid", "same"):
        layer = cv.build(
            node, "pointwise", {"out_channels": m, "stride": _dimval(s), "groups": g, "bias": bias}
        )
    else:
        values = {"out_channels": m, "kernel": _dimval(k), "stride": _dimval(s), "padding": padding}
        values.update(dilation=_dimval(d), groups=g, bias=bias)
        layer = cv.build(node, "conv", values)
    cv.expect([w, b if bias and isinstance(b, Const) else None], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if shared_bias and isinstance(b, Const):
        y = cv.affine(node, y, [("add", b)])
    return [y]


@handles("ConvTranspose")
def _conv_transpose(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    w = cv.const(ins[1] if len(ins) > 1 else None, "weight")
    b = ins[2] if len(ins) > 2 else None
    if b is not None and not isinstance(b, Const):
        raise Unsupported("its bias is computed by the network")
    n = len(x.shape) - 1
    if not 1 <= n <= 3 or len(w.dims) != n + 2:
        raise Unsupported(f"has a weight of dims {_dims(w.dims)} for an input of {n} spatial dims")
    g = int(node.attrs.get("group", 1))
    c, m, k = w.dims[0], w.dims[1] * g, list(w.dims[2:])
    if c != x.shape[0]:
        raise SpecError(
            f"{cv.label(node)}: its weight {_dims(w.dims)} takes {c} input channels, but its input "
            f"{_dims(x.shape)} has {x.shape[0]}",
            where=cv.where,
        )
    s = _spatial_attr(node, "strides", n)
    d = _spatial_attr(node, "dilations", n)
    op = list(node.attrs.get("output_padding", [0] * n))
    if len(op) != n or any(v < 0 for v in op):
        raise Unsupported(f"has output_padding {op}")
    auto = str(node.attrs.get("auto_pad", "NOTSET"))
    out_shape = node.attrs.get("output_shape")
    if out_shape is not None or auto in ("SAME_UPPER", "SAME_LOWER"):
        want = list(out_shape)[-n:] if out_shape is not None else [i * ss for i, ss in zip(x.shape[1:], s)]
        begin, end = [], []
        for i, kk, ss, dd, oo, o in zip(x.shape[1:], k, s, d, op, want):
            total = ss * (i - 1) + oo + (kk - 1) * dd + 1 - o
            if total < 0:
                raise Unsupported(f"asks for an output of {want}, larger than its kernel and strides give")
            if auto == "SAME_UPPER":
                begin.append(total // 2)
                end.append(total - total // 2)
            else:
                begin.append(total - total // 2)
                end.append(total // 2)
    elif auto == "VALID" or auto in ("NOTSET", ""):
        pads = list(node.attrs.get("pads", [0] * (2 * n)))
        if len(pads) != 2 * n or any(p < 0 for p in pads) or (auto == "VALID" and any(pads)):
            raise Unsupported(f"has pads {pads}")
        begin, end = pads[:n], pads[n:]
    else:
        raise Unsupported(f"has auto_pad {auto!r}")
    p = [min(lo, hi) for lo, hi in zip(begin, end)]
    shared_bias = cv.shared(b)
    bias = b is not None and not shared_bias
    values = {"out_channels": m, "kernel": _dimval(k), "stride": _dimval(s), "padding": _dimval(p)}
    values.update(output_padding=_dimval(op), dilation=_dimval(d), groups=g, bias=bias)
    layer = cv.build(node, "transposed", values)
    cv.expect([w, b if bias and isinstance(b, Const) else None], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if shared_bias and isinstance(b, Const):
        y = cv.affine(node, y, [("add", b)])
    extra_b = [lo - q for lo, q in zip(begin, p)]
    extra_e = [hi - q for hi, q in zip(end, p)]
    if any(extra_b) or any(extra_e):
        crop = cv.build(node, "crop", {"begin": _dimval(extra_b), "end": _dimval(extra_e)})
        y = cv.emit(node, crop, [y], ".crop")
    return [y]


def _bias_after(cv: _Converter, node: P.Node, n_out: int) -> tuple[P.Node, Const] | None:
    """The Add right after ``node`` that adds a learned vector of ``n_out`` along the last
    axis: a Linear layer's bias."""
    out = node.outputs[0]
    add = cv.single(out, "Add")
    if add is None:
        return None
    b = cv.other(add, out)
    if not isinstance(b, Const) or b.numel != n_out or not b.dims or b.dims[-1] != n_out:
        return None
    if sum(b.sources.values()) != n_out or any(k in cv.counted for k in b.sources):
        return None
    return add, b


@handles("Gemm")
def _gemm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    w = cv.const(ins[1] if len(ins) > 1 else None, "weight")
    c = ins[2] if len(ins) > 2 else None
    if node.attrs.get("transA", 0):
        raise Unsupported("transposes its input (transA), which would move the batch dim")
    if len(x.shape) != 1 or len(w.dims) != 2:
        raise Unsupported(f"multiplies an input {_dims(x.shape)} by a weight {_dims(w.dims)}")
    k, n = (w.dims[1], w.dims[0]) if node.attrs.get("transB", 0) else w.dims
    if k != x.shape[0]:
        raise SpecError(
            f"{cv.label(node)}: its weight {_dims(w.dims)} takes {k} features, but its input has {x.shape[0]}",
            where=cv.where,
        )
    if c is None or (isinstance(c, Const) and c.numel == n and c.dims[-1:] == (n,) and not cv.shared(c)):
        layer = cv.build(node, "linear", {"out_features": n, "bias": c is not None})
        cv.expect([w, c if isinstance(c, Const) else None], layer, x.shape, node)
        return [cv.emit(node, layer, [x])]
    layer = cv.build(node, "linear", {"out_features": n, "bias": False})
    cv.expect([w], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if isinstance(c, Const):
        if len(c.dims) == 2 and c.dims[0] != 1:
            raise Unsupported(f"adds a bias of dims {_dims(c.dims)}, one per sample of a fixed batch")
        values = {
            "op": "add",
            "shape": list(c.dims[-1:]) if c.numel > 1 else [],
            "learned": cv.take([c], node),
        }
        return [cv.emit(node, cv.build(node, "elementwise", values), [y], ".bias")]
    bias = cv.cf(cv.act(c, "its bias"))
    return [cv.emit(node, cv.build(node, "add", {}), [y, bias], ".bias")]


@handles("MatMul")
def _matmul(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    a, b = (ins + [None, None])[:2]
    if isinstance(a, Act) and isinstance(b, Const):
        if len(b.dims) != 2:
            raise Unsupported(
                f"multiplies by a constant of dims {_dims(b.dims)} (convcalc maps a weight matrix)"
            )
        k, n = b.dims
        bias = _bias_after(cv, node, n)
        if a.cl:
            kind, values, x, cl = "pointwise", {"out_channels": n, "bias": bias is not None}, a, True
            if len(a.shape) < 2:
                raise Unsupported("is a channels-last product without spatial dims")
        else:
            kind, x, cl = ("linear" if len(a.shape) == 1 else "dense"), a, False
            values = {"out_features": n, "bias": bias is not None}
        if x.logical[-1] != k:
            raise SpecError(
                f"{cv.label(node)}: {_dims(x.logical)} @ {_dims(b.dims)}: the inner dims differ",
                where=cv.where,
            )
        layer = cv.build(node, kind, values)
        cv.expect([b, bias[1] if bias else None], layer, x.shape, node)
        y = cv.emit(node, layer, [x], cl=cl)
        if bias is not None:
            cv.absorb(bias[0], y)
        return [y]
    if isinstance(a, Act) and isinstance(b, Act):
        x, z = cv.cf(a), cv.cf(b)
        if len(x.shape) != len(z.shape) or len(x.shape) < 2:
            raise Unsupported(
                f"multiplies {_dims(x.shape)} by {_dims(z.shape)} (per sample): the batch dims would not line up"
            )
        return [cv.emit(node, cv.build(node, "matmul", {}), [x, z])]
    if isinstance(b, Act):
        raise Unsupported("multiplies a constant by an activation (W @ x)")
    raise Unsupported("has a missing input")


@handles("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min")
def _binary(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    present = [v for v in ins if v is not None]
    if all(isinstance(v, Const) for v in present):
        return list(FOLDERS[node.op_type](node, [v for v in ins if isinstance(v, Const) or v is None]))  # type: ignore[misc]
    if len(ins) != 2 or len(present) != 2:
        raise Unsupported(f"has {len(present)} inputs; convcalc maps two")
    a, b = present
    op = BINARY[node.op_type]
    if isinstance(a, Act) and isinstance(b, Act):
        if a.cl and b.cl and len(a.shape) == len(b.shape):
            x, z, cl = a, b, True
        else:
            x, z, cl = cv.cf(a), cv.cf(b), False
        if len(x.shape) != len(z.shape):
            raise Unsupported(
                f"combines tensors of shapes {_dims(x.logical)} and {_dims(z.logical)} (and the batch): "
                "of different ranks, the batch dims would not line up"
            )
        kind, values = (op, {}) if op in ("add", "mul") else ("binary", {"op": op})
        return [cv.emit(node, cv.build(node, kind, values), [x, z], cl=cl)]
    x = a if isinstance(a, Act) else b
    c = b if isinstance(a, Act) else a
    assert isinstance(x, Act) and isinstance(c, Const)
    full = len(x.logical) + 1
    if len(c.dims) > full:
        raise Unsupported(f"combines a tensor of {full} dims with a constant of {len(c.dims)}")
    dims = c.dims
    if len(dims) == full:
        if dims[0] != 1:
            raise Unsupported(
                f"combines the input with a constant of dims {_dims(dims)}: one per sample of a fixed batch"
            )
        dims = dims[1:]
    while (
        dims and dims[0] == 1 and len(dims) > 0 and math.prod(dims) == math.prod(dims[1:]) and len(dims) > 1
    ):
        dims = dims[1:]  # leading 1s change nothing (the rank is the input's or less)
    cl = False
    if x.cl:
        rank = len(x.shape)
        if math.prod(dims) == 1 and len(dims) <= rank:
            cs: tuple[int, ...] = ()
            cl = True
        elif dims and dims[-1] == x.shape[0] and math.prod(dims) == x.shape[0]:
            cs, cl = (x.shape[0],) + (1,) * (rank - 1), True
        else:
            x = cv.cf(x)
            cs = tuple(dims)
    else:
        cs = tuple(dims) if math.prod(dims) > 1 else ()
    if x.cl and not cl:
        x = cv.cf(x)
    c_in = x.shape[0]
    vector = cs == (c_in,) + (1,) * (len(x.shape) - 1) and len(x.shape) > 1
    learned = sum(v for k, v in c.sources.items() if k not in cv.counted)
    if op == "mul" and vector and learned == c_in:
        bias = _scale_bias_after(cv, node, c_in, cs, x.cl)
        layer = cv.build(node, "scale", {"bias": bias is not None})
        cv.expect([c, bias[1] if bias else None], layer, x.shape, node)
        y = cv.emit(node, layer, [x], cl=cl)
        if bias is not None:
            cv.absorb(bias[0], y)
        return [y]
    values: dict[str, Any] = {"op": op}
    if cs:
        values["shape"] = list(cs)
    taken = cv.take([c], node)
    if taken:
        values["learned"] = taken
    return [cv.emit(node, cv.build(node, "elementwise", values), [x], cl=cl)]


def _scale_bias_after(
    cv: _Converter, node: P.Node, c_in: int, cs: tuple[int, ...], cl: bool
) -> tuple[P.Node, Const] | None:
    """The Add after a layer-scale Mul that adds a learned vector of the same shape."""
    out = node.outputs[0]
    add = cv.single(out, "Add")
    if add is None:
        return None
    b = cv.other(add, out)
    if not isinstance(b, Const) or b.numel != c_in:
        return None
    dims = tuple(b.dims)
    while len(dims) > 1 and dims[0] == 1:
        dims = dims[1:]
    want = (c_in,) if cl else cs
    if (cl and dims != (c_in,)) or (
        not cl and (len(dims) > len(cs) or dims != cs[len(cs) - len(dims) :] or dims[0] != c_in)
    ):
        return None
    if sum(b.sources.values()) != c_in or any(k in cv.counted for k in b.sources):
        return None
    del want
    return add, b


def _affine_after(cv: _Converter, out: str, c: int, rank: int) -> tuple[list[P.Node], list[Const]] | None:
    """Mul by a learned per-channel weight, then Add of a learned per-channel bias, right
    after a normalisation without its own: its affine step."""
    mul = cv.single(out, "Mul")
    if mul is None:
        return None
    w = cv.other(mul, out)
    add = cv.single(mul.outputs[0], "Add")
    if add is None:
        return None
    b = cv.other(add, mul.outputs[0])
    ok = []
    for t in (w, b):
        if not isinstance(t, Const) or t.numel != c:
            return None
        dims = tuple(t.dims)
        while len(dims) > 1 and dims[0] == 1:
            dims = dims[1:]
        if dims != (c,) + (1,) * (len(dims) - 1) or len(dims) > rank:
            return None
        if sum(t.sources.values()) != c or any(k in cv.counted for k in t.sources):
            return None
        ok.append(t)
    return [mul, add], ok


@handles("BatchNormalization")
def _batchnorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    if any(cv.consumers.get(o) or o in cv.outputs_read for o in node.outputs[1:] if o):
        raise Unsupported("has its training outputs (running statistics) read")
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    bias = cv.const(ins[2] if len(ins) > 2 else None, "bias")
    c = x.shape[0]
    if scale.numel != c or bias.numel != c:
        raise SpecError(
            f"{cv.label(node)}: scale {_dims(scale.dims)} and bias {_dims(bias.dims)} for {c} channels",
            where=cv.where,
        )
    if cv.shared(scale) or cv.shared(bias):  # as its multiply and add: 2 FLOPs per element too
        return [cv.affine(node, x, [("mul", scale), ("add", bias)])]
    layer = cv.build(node, "batchnorm", {"affine": True})
    cv.expect([scale, bias], layer, x.shape, node)
    return [cv.emit(node, layer, [x])]


@handles("InstanceNormalization")
def _instancenorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    bias = cv.const(ins[2] if len(ins) > 2 else None, "bias")
    if scale.numel != x.shape[0] or bias.numel != x.shape[0]:
        raise SpecError(f"{cv.label(node)}: scale and bias do not have one value per channel", where=cv.where)
    shared = cv.shared(scale) or cv.shared(bias)
    layer = cv.build(node, "instancenorm", {"affine": not shared})
    if shared:
        return [cv.affine(node, cv.emit(node, layer, [x]), [("mul", scale), ("add", bias)])]
    cv.expect([scale, bias], layer, x.shape, node)
    return [cv.emit(node, layer, [x])]


@handles("_GroupNorm")
def _groupnorm_parts(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    g = int(node.attrs["groups"])
    first = node.attrs.get("first")
    if not (first == 0 or cv.batch_ok(first)):
        raise Unsupported("reshapes the batch dim")
    back = ins[1]
    full = (cv.batch,) + x.shape
    if isinstance(back, Const) and back.values is not None:
        vals = list(back.values)
        ok = len(vals) == len(full) and all(
            v == f or (i == 0 and (cv.batch_ok(v) or v == 0 or v == -1)) or (v == 0 and i < len(full))
            for i, (v, f) in enumerate(zip(vals, full))
        )
        if not ok and vals.count(-1) == 1 and len(vals) == len(full):
            ok = all(
                v in (f, -1, 0) or (i == 0 and cv.batch_ok(v)) for i, (v, f) in enumerate(zip(vals, full))
            )
        if not ok:
            raise Unsupported(f"normalises groups and reshapes them to {vals}, not back to {_dims(full)}")
    else:
        raise Unsupported("reshapes its groups back to a shape convcalc cannot fold")
    rank = len(x.shape)
    affine = _affine_after(cv, node.outputs[0], x.shape[0], rank + 1)
    layer = cv.build(node, "groupnorm", {"groups": g, "affine": affine is not None})
    if affine is not None:
        cv.expect(affine[1], layer, x.shape, node)
    y = cv.emit(node, layer, [x])
    if affine is not None:
        for n in affine[0]:
            cv.absorb(n, y)
    return [y]


@handles("GroupNormalization")
def _groupnorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    bias = cv.const(ins[2] if len(ins) > 2 else None, "bias")
    g = int(node.attrs.get("num_groups", 0))
    c = x.shape[0]
    if scale.numel != c or bias.numel != c:
        raise Unsupported(
            f"scales per group ({scale.numel} values for {c} channels: opset 18's GroupNormalization), "
            "which convcalc's groupnorm does not"
        )
    shared = cv.shared(scale) or cv.shared(bias)
    layer = cv.build(node, "groupnorm", {"groups": g, "affine": not shared})
    if shared:
        return [cv.affine(node, cv.emit(node, layer, [x]), [("mul", scale), ("add", bias)])]
    cv.expect([scale, bias], layer, x.shape, node)
    return [cv.emit(node, layer, [x])]


@handles("LayerNormalization")
def _layernorm(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.act(ins[0])
    scale = cv.const(ins[1] if len(ins) > 1 else None, "scale")
    b = ins[2] if len(ins) > 2 else None
    if b is not None and not isinstance(b, Const):
        raise Unsupported("its bias is computed by the network")
    if any(cv.consumers.get(o) or o in cv.outputs_read for o in node.outputs[1:] if o):
        raise Unsupported("has its mean or variance outputs read")
    full = len(x.logical) + 1
    axis = int(node.attrs.get("axis", -1))
    axis = axis + full if axis < 0 else axis
    if axis != full - 1 or not (x.cl or len(x.shape) == 1):
        raise Unsupported(
            f"normalises over dims {axis}..{full - 1} of {_dims(x.logical)} (and the batch); convcalc's "
            "layernorm normalises the channels at each position"
        )
    c = x.shape[0]
    if scale.numel != c or (isinstance(b, Const) and b.numel != c):
        raise SpecError(f"{cv.label(node)}: scale and bias do not have one value per channel", where=cv.where)
    bc = b if isinstance(b, Const) else None
    if cv.shared(scale) or cv.shared(bc):
        y = cv.emit(node, cv.build(node, "layernorm", {"affine": False}), [x], cl=x.cl)
        return [cv.affine(node, y, [("mul", scale), ("add", bc)])]
    layer = cv.build(node, "layernorm", {"affine": True, "bias": b is not None})
    cv.expect([scale, bc], layer, x.shape, node)
    return [cv.emit(node, layer, [x], cl=x.cl)]


def _activation(cv: _Converter, node: P.Node, x: Act, fn: str, kind: str = "activation") -> Act:
    key = "fn"
    return cv.emit(node, cv.build(node, kind, {key: fn}), [x], cl=x.cl)


@handles(*ACTIVATIONS)
def _act(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    return [_activation(cv, node, cv.act(ins[0]), ACTIVATIONS[node.op_type])]


@handles(*UNARY)
def _unary(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        if node.op_type in FOLDERS:
            return list(FOLDERS[node.op_type](node, [ins[0]]))
        return [Const(ins[0].dims, None, ins[0].is_float, dict(ins[0].sources))]
    return [_activation(cv, node, cv.act(ins[0]), UNARY[node.op_type], "unary")]


@handles("Clip")
def _clip(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.act(ins[0])
    lo: Any = node.attrs.get("min")
    hi: Any = node.attrs.get("max")
    if len(ins) > 1 and ins[1] is not None:
        lo = cv.const(ins[1], "min").scalar()
    if len(ins) > 2 and ins[2] is not None:
        hi = cv.const(ins[2], "max").scalar()
    if lo == 0 and hi == 6:
        return [_activation(cv, node, x, "relu6")]
    if lo == 0 and hi is None:
        return [_activation(cv, node, x, "relu")]
    return [_activation(cv, node, x, "clamp", "unary")]


@handles("Softmax", "LogSoftmax")
def _softmax(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.act(ins[0])
    full = len(x.logical) + 1
    default = -1 if cv.opset >= 13 else 1
    axis = int(node.attrs.get("axis", default))
    axis = axis + full if axis < 0 else axis
    if not 0 <= axis < full:
        raise Unsupported(f"axis {axis} is out of range")
    if axis == 0:
        raise Unsupported("normalises over the batch dim")
    if cv.opset < 13 and axis != full - 1:
        raise Unsupported("normalises the flattened dims from its axis on (before opset 13)")
    log = node.op_type == "LogSoftmax"
    a = axis - 1
    if (x.cl and a == len(x.logical) - 1) or (not x.cl and a == 0):
        if not log:
            return [_activation(cv, node, x, "softmax")]
        return [cv.emit(node, cv.build(node, "softmax", {"axis": 0, "log": True}), [x], cl=x.cl)]
    x = cv.cf(x)
    return [cv.emit(node, cv.build(node, "softmax", {"axis": a, "log": log}), [x])]


def _pool_padding(
    cv: _Converter, node: P.Node, x: Act, k: list[int], s: list[int], d: list[int], ceil: bool
) -> tuple[int | list[int], Act]:
    begin, end = _padding(x.shape[1:], k, s, d, node)
    if begin == end and all(p <= kk // 2 for p, kk in zip(begin, k)):
        return _dimval(begin) if any(begin) else 0, x
    if ceil:
        raise Unsupported(f"pads {begin}/{end} with ceil_mode, which torch's pooling cannot express")
    pad = cv.build(node, "pad", {"begin": _dimval(begin), "end": _dimval(end)})
    return 0, cv.emit(node, pad, [x], ".pad")


@handles("MaxPool", "AveragePool")
def _pool(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    if (
        len(node.outputs) > 1
        and node.outputs[1]
        and (cv.consumers.get(node.outputs[1]) or node.outputs[1] in cv.outputs_read)
    ):
        raise Unsupported("has its indices output read")
    n = len(x.shape) - 1
    if not 1 <= n <= 3:
        raise Unsupported(f"pools over {n} spatial dims; convcalc has 1 to 3")
    k = list(node.attrs.get("kernel_shape", []))
    if len(k) != n or any(v < 1 for v in k):
        raise Unsupported(f"has kernel_shape {k} for {n} spatial dims")
    s = _spatial_attr(node, "strides", n)
    d = _spatial_attr(node, "dilations", n)
    ceil = bool(node.attrs.get("ceil_mode", 0))
    mode = "max" if node.op_type == "MaxPool" else "avg"
    if mode == "avg" and any(v != 1 for v in d):
        raise Unsupported("is an average pooling with dilation")
    padding, x = _pool_padding(cv, node, x, k, s, d, ceil)
    values: dict[str, Any] = {"mode": mode, "kernel": _dimval(k), "stride": _dimval(s), "padding": padding}
    if mode == "max":
        values["dilation"] = _dimval(d)
    values["ceil_mode"] = ceil
    return [cv.emit(node, cv.build(node, "pool", values), [x])]


@handles("GlobalAveragePool", "GlobalMaxPool")
def _global_pool(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    mode = "avg" if node.op_type == "GlobalAveragePool" else "max"
    return [cv.emit(node, cv.build(node, "global_pool", {"mode": mode}), [x])]


@handles(*REDUCE)
def _reduce(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if not isinstance(ins[0], Act):
        return list(FOLDERS[node.op_type](node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.cf(ins[0])
    full = len(x.shape) + 1
    axes = _axes_input(node, [v if isinstance(v, Const) else None for v in ins], 1)
    if len(ins) > 1 and isinstance(ins[1], Act):
        raise Unsupported("its axes are computed by the network")
    if not axes:
        if node.attrs.get("noop_with_empty_axes", 0):
            return [x]
        raise Unsupported("reduces every dim, the batch's too")
    norm = sorted({_norm_axis(a, full, "axes") for a in axes})
    if 0 in norm:
        raise Unsupported("reduces over the batch dim")
    keep = bool(node.attrs.get("keepdims", 1))
    bl = [a - 1 for a in norm]
    op = REDUCE[node.op_type]
    n = len(x.shape) - 1
    if op in ("mean", "max") and keep and 1 <= n <= 3 and bl == list(range(1, n + 1)):
        return [cv.emit(node, cv.build(node, "global_pool", {"mode": "avg" if op == "mean" else "max"}), [x])]
    return [cv.emit(node, cv.build(node, "reduce", {"op": op, "axes": bl, "keepdims": keep}), [x])]


@handles("Concat")
def _concat(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    present = [v for v in ins if v is not None]
    if all(isinstance(v, Const) for v in present):
        return _fold_concat(node, [v if isinstance(v, Const) else None for v in ins])  # type: ignore[return-value]
    if not all(isinstance(v, Act) for v in present):
        raise Unsupported("joins activations with a constant (a learned token?)")
    acts = [cv.cf(v) for v in present if isinstance(v, Act)]
    full = len(acts[0].shape) + 1
    if any(len(a.shape) + 1 != full for a in acts):
        raise Unsupported("joins tensors of different ranks")
    axis = int(node.attrs.get("axis", 0))
    axis = axis + full if axis < 0 else axis
    if axis == 0:
        raise Unsupported("concatenates along the batch dim")
    if len(acts) == 1:
        return [acts[0]]
    return [cv.emit(node, cv.build(node, "concat", {"axis": axis - 1}), acts)]


def _slice_node(
    cv: _Converter, node: P.Node, x: Act, parts: list[tuple[int, int, int, int]], suffix: str = ""
) -> Act:
    """Slice of ``x`` along batch-less axes: (axis, start, stop, step), concrete. A slice of
    spatial dims only, step 1, is a crop."""
    parts = [p for p in parts if not (p[1] == 0 and p[2] == x.shape[p[0]] and p[3] == 1)]
    if not parts:
        return x
    n = len(x.shape) - 1
    if all(a > 0 and st == 1 for a, _, _, st in parts) and 1 <= n <= 3:
        begin, end = [0] * n, [0] * n
        for a, lo, hi, _ in parts:
            begin[a - 1], end[a - 1] = lo, x.shape[a] - hi
        layer = cv.build(node, "crop", {"begin": _dimval(begin), "end": _dimval(end)})
    else:
        values: dict[str, Any] = {
            "axes": [p[0] for p in parts],
            "starts": [p[1] for p in parts],
            "ends": [p[2] for p in parts],
        }
        if any(p[3] != 1 for p in parts):
            values["steps"] = [p[3] for p in parts]
        layer = cv.build(node, "slice", values)
    return cv.emit(node, layer, [x], suffix)


@handles("Slice")
def _slice(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_slice(node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.cf(cv.act(ins[0]))
    consts = [ins[0]] + [cv.const(v, "bounds") if v is not None else None for v in ins[1:]]
    full = len(x.shape) + 1
    parts = []
    for a, s, e, st in _slice_params(node, consts, full):
        if st < 1:
            raise Unsupported(f"has a step of {st} (a reversed slice)")
        if a == 0:
            if s not in (0, -(2**63)) or not (e >= INT64_MAX // 2 or cv.batch_ok(e)):
                raise Unsupported("slices the batch dim")
            continue
        r = _clamped(x.shape[a - 1], s, e, st)
        if len(r) < 1:
            raise Unsupported(f"gives an empty slice of dim {a}")
        parts.append((a - 1, r.start, r.stop if r.step == 1 else r.start + (len(r) - 1) * r.step + 1, r.step))
    return [_slice_node(cv, node, x, parts)]


@handles("Split")
def _split(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_split(node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.cf(cv.act(ins[0]))
    full = len(x.shape) + 1
    axis = _norm_axis(int(node.attrs.get("axis", 0)), full)
    if axis == 0:
        raise Unsupported("splits the batch dim")
    sizes = _split_sizes(
        node, [None] + [v if isinstance(v, Const) else None for v in ins[1:]], x.shape[axis - 1]
    )
    outs: list[Value | None] = []
    start = 0
    for k, (name, size) in enumerate(zip(node.outputs, sizes)):
        if name and (cv.consumers.get(name) or name in cv.outputs_read):
            outs.append(_slice_node(cv, node, x, [(axis - 1, start, start + size, 1)], f".{k}"))
        else:
            outs.append(None)
        start += size
    return outs


@handles("Gather")
def _gather(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    data, idx = (ins + [None, None])[:2]
    if isinstance(data, Const) and isinstance(idx, Const):
        return [_fold_gather(node, data, idx)]
    if not isinstance(data, Act) or not isinstance(idx, Const):
        raise Unsupported("looks up a table with indices computed by the network (an embedding)")
    x = cv.cf(data)
    full = len(x.shape) + 1
    axis = _norm_axis(int(node.attrs.get("axis", 0)), full)
    if axis == 0:
        raise Unsupported("gathers along the batch dim")
    size = x.shape[axis - 1]
    indices = _ints(idx, "indices")
    for i in indices:
        if not -size <= i < size:
            raise SpecError(
                f"{cv.label(node)}: index {i} is out of range for a dim of size {size}", where=cv.where
            )
    if idx.dims == ():
        layer = cv.build(node, "select", {"axis": axis - 1, "index": indices[0]})
        return [cv.emit(node, layer, [x])]
    norm = [i % size for i in indices]
    if len(idx.dims) == 1 and norm == list(range(norm[0], norm[0] + len(norm))):
        return [_slice_node(cv, node, x, [(axis - 1, norm[0], norm[0] + len(norm), 1)])]
    raise Unsupported(f"gathers indices {indices[:8]} (not one index or a contiguous range)")


def _reshape_act(cv: _Converter, node: P.Node, x: Act, target: Sequence[Any], allowzero: bool) -> Act:
    full = (BATCH,) + x.logical
    t = list(target)
    if not t:
        raise Unsupported("reshapes to a scalar")
    head = t[0]
    if (head == 0 and not allowzero) or cv.batch_ok(head):
        rest_t = t[1:]
    elif head == -1:
        rest = list(t[1:])
        if any(v is BATCH or v == -1 for v in rest):
            raise Unsupported("merges the batch dim into another")
        rest_t = rest
    elif head == 1 and not isinstance(cv.batch, int):
        rest_t = t[1:]  # an exporter's fixed batch of 1 in a model whose batch is symbolic
    else:
        raise Unsupported(f"reshapes to {list(target)}, whose first dim is not the batch")
    out: list[int] = []
    infer = None
    for i, v in enumerate(rest_t):
        if v is BATCH:
            raise Unsupported("moves the batch dim")
        if v == 0 and not allowzero:
            if i + 1 >= len(full):
                raise Unsupported(f"copies dim {i + 1}, which its input {_dims(full)} does not have")
            out.append(full[i + 1])
        elif v == -1:
            if infer is not None:
                raise Unsupported("has two -1 entries in its shape")
            infer = i
            out.append(1)
        elif isinstance(v, int) and v > 0:
            out.append(v)
        else:
            raise Unsupported(f"has a size {v} in its shape")
    n = math.prod(x.shape)
    known = math.prod(out)
    if infer is not None:
        if n % known:
            raise Unsupported(f"cannot reshape {_dims(full)} to {list(target)}")
        out[infer] = n // known
    if math.prod(out) != n:
        if head == -1 and n % math.prod(out) == 0:
            raise Unsupported(
                f"reshapes {_dims(full)} to {list(target)}: the batch dim would absorb other dims"
            )
        raise Unsupported(f"cannot reshape {_dims(full)} to {list(target)}: the element counts differ")
    if not out:
        raise Unsupported("leaves a single value per sample")
    shape = tuple(out)
    if shape == x.logical:
        return x
    x = cv.cf(x)
    if shape == (n,) and len(x.shape) > 1:
        return cv.emit(node, cv.build(node, "flatten", {}), [x])
    return cv.emit(node, cv.build(node, "reshape", {"shape": list(shape)}), [x])


@handles("Reshape")
def _reshape(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_reshape(node, [ins[0], cv.const(ins[1] if len(ins) > 1 else None, "shape")]))
    x = cv.act(ins[0])
    shape = cv.const(ins[1] if len(ins) > 1 else None, "shape")
    if shape.values is None:
        raise Unsupported("its target shape is not a constant that convcalc can fold")
    vals = [v if v is BATCH else int(v) for v in shape.values]
    return [_reshape_act(cv, node, x, vals, bool(node.attrs.get("allowzero", 0)))]


@handles("Flatten")
def _flatten(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_flatten(node, [ins[0]]))
    x = cv.act(ins[0])
    full = len(x.logical) + 1
    axis = int(node.attrs.get("axis", 1))
    axis = axis + full if axis < 0 else axis
    if axis != 1:
        raise Unsupported(f"flattens from axis {axis}, which merges the batch dim with others")
    if len(x.logical) == 1:
        return [x]
    return [cv.emit(node, cv.build(node, "flatten", {}), [cv.cf(x)])]


@handles("Squeeze", "Unsqueeze")
def _squeeze(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    consts = [v if isinstance(v, Const) else None for v in ins]
    if isinstance(ins[0], Const):
        return list(FOLDERS[node.op_type](node, consts))
    x = cv.act(ins[0])
    full = (BATCH,) + x.logical
    axes = _axes_input(node, consts, 1)
    if node.op_type == "Squeeze":
        if axes is None:
            dims = (BATCH,) + tuple(d for d in x.logical if d != 1)
        else:
            norm = {_norm_axis(a, len(full), "axes") for a in axes}
            if 0 in norm:
                raise Unsupported("squeezes the batch dim")
            for a in norm:
                if full[a] != 1:
                    raise Unsupported(f"squeezes dim {a}, of size {full[a]}")
            dims = tuple(d for i, d in enumerate(full) if i not in norm)
    else:
        if axes is None:
            raise Unsupported("has no axes")
        rank = len(full) + len(axes)
        norm_u = sorted(_norm_axis(a, rank, "axes") for a in axes)
        if 0 in norm_u:
            raise Unsupported("adds a dim before the batch")
        lst = list(full)
        for a in norm_u:
            lst.insert(a, 1)
        dims = tuple(lst)
    return [_reshape_act(cv, node, x, [0] + [int(d) for d in dims[1:]], False)]


@handles("Transpose")
def _transpose(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_transpose(node, [ins[0]]))
    x = cv.act(ins[0])
    full = len(x.logical) + 1
    perm = [int(p) for p in node.attrs.get("perm", range(full - 1, -1, -1))]
    if sorted(perm) != list(range(full)):
        raise Unsupported(f"perm {perm} is not a permutation of {full} dims")
    if perm[0] != 0:
        raise Unsupported(f"perm {perm} moves the batch dim")
    p = [q - 1 for q in perm[1:]]
    n = len(p) - 1
    if p == list(range(n + 1)):
        return [x]
    if not x.cl and n >= 1 and p == list(range(1, n + 1)) + [0]:
        return [Act(x.ref, x.shape, True, node.name or "transpose")]
    if x.cl and n >= 1 and p == [n] + list(range(n)):
        return [Act(x.ref, x.shape, False)]
    x = cv.cf(x)
    return [cv.emit(node, cv.build(node, "transpose", {"perm": p}), [x])]


@handles("Resize", "Upsample")
def _resize(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    full = len(x.shape) + 1
    n = full - 2
    if not 1 <= n <= 3:
        raise Unsupported(f"resizes {n} spatial dims; convcalc has 1 to 3")
    if node.attrs.get("antialias", 0):
        raise Unsupported("antialiases (a wider filter when downsampling)")
    if str(node.attrs.get("keep_aspect_ratio_policy", "stretch")) != "stretch":
        raise Unsupported("keeps the aspect ratio")
    if "axes" in node.attrs:
        raise Unsupported("resizes only some axes")
    scales: Const | None = None
    sizes: Const | None = None
    if node.op_type == "Upsample" or (node.op_type == "Resize" and cv.opset < 11):
        if "scales" in node.attrs:
            vals = tuple(node.attrs["scales"])
            scales = Const((len(vals),), vals, True)
        elif len(ins) > 1 and ins[1] is not None:
            scales = cv.const(ins[1], "scales")
    else:
        if len(ins) > 3 and ins[3] is not None:
            sizes = cv.const(ins[3], "sizes")
        elif len(ins) > 2 and ins[2] is not None:
            scales = cv.const(ins[2], "scales")
    mode = str(node.attrs.get("mode", "nearest"))
    ctm = str(node.attrs.get("coordinate_transformation_mode", "half_pixel"))
    values: dict[str, Any] = {}
    if sizes is not None and sizes.numel > 0:
        if sizes.values is None or len(sizes.values) != full:
            raise Unsupported("its output sizes are not constants that convcalc can fold")
        if not cv.batch_ok(sizes.values[0]) or sizes.values[1] != x.shape[0]:
            raise Unsupported(f"resizes the batch or channel dims (sizes {list(sizes.values)})")
        values["size"] = _dimval([int(v) for v in sizes.values[2:]])
    elif scales is not None and scales.numel > 0:
        if scales.values is None or len(scales.values) != full:
            raise Unsupported("its scales are not constants that convcalc can fold")
        if scales.values[0] != 1 or scales.values[1] != 1:
            raise Unsupported(f"scales the batch or channel dims (scales {list(scales.values)})")
        sc = [float(v) for v in scales.values[2:]]
        if any(not v > 0 or not math.isfinite(v) for v in sc):
            raise Unsupported(f"has scales {sc}")
        sc_vals: list[int | float] = [int(v) if v == int(v) else v for v in sc]
        values["scale"] = sc_vals[0] if len(set(sc_vals)) == 1 else sc_vals
    else:
        raise Unsupported("has neither scales nor sizes")
    if mode == "nearest":
        values["mode"] = "nearest"
    elif mode in ("linear", "bilinear", "trilinear"):
        values["mode"] = {1: "linear", 2: "bilinear", 3: "trilinear"}[n]
        if ctm == "align_corners":
            values["align_corners"] = True
    elif mode == "cubic":
        if n != 2:
            raise Unsupported("is a cubic resize of other than 2 spatial dims")
        values["mode"] = "bicubic"
        if ctm == "align_corners":
            values["align_corners"] = True
    else:
        raise Unsupported(f"has mode {mode!r}")
    return [cv.emit(node, cv.build(node, "resize", values), [x])]


@handles("Pad")
def _pad(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    x = cv.cf(cv.act(ins[0]))
    full = len(x.shape) + 1
    if "pads" in node.attrs:
        pads = list(node.attrs["pads"])
    else:
        pads = _ints(cv.const(ins[1] if len(ins) > 1 else None, "pads"), "pads")
    axes = list(range(full))
    if len(ins) > 3 and ins[3] is not None:
        axes = [_norm_axis(a, full, "axes") for a in _ints(cv.const(ins[3], "axes"), "axes")]
    if len(pads) != 2 * len(axes):
        raise Unsupported(f"has {len(pads)} pads for {len(axes)} dims")
    begin = dict(zip(axes, pads[: len(axes)]))
    end = dict(zip(axes, pads[len(axes) :]))
    for a in (0, 1):
        if begin.get(a, 0) or end.get(a, 0):
            raise Unsupported("pads the " + ("batch" if a == 0 else "channel") + " dim")
    n = full - 2
    if not 1 <= n <= 3:
        raise Unsupported(f"pads {n} spatial dims; convcalc has 1 to 3")
    mode = str(node.attrs.get("mode", "constant"))
    kinds = {"constant": "zeros", "reflect": "reflect", "edge": "replicate"}
    if mode not in kinds:
        raise Unsupported(f"has mode {mode!r}")
    b = [begin.get(a, 0) for a in range(2, full)]
    e = [end.get(a, 0) for a in range(2, full)]
    y = x
    if any(v > 0 for v in b + e):
        values = {"begin": _dimval([max(v, 0) for v in b]), "end": _dimval([max(v, 0) for v in e])}
        values["mode"] = kinds[mode]
        y = cv.emit(node, cv.build(node, "pad", values), [y])
    if any(v < 0 for v in b + e):
        values = {"begin": _dimval([max(-v, 0) for v in b]), "end": _dimval([max(-v, 0) for v in e])}
        y = cv.emit(node, cv.build(node, "crop", values), [y], ".crop" if y is not x else "")
    return [y]


@handles("Identity", "Dropout", "Cast", "CastLike")
def _alias(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        folder = FOLDERS[node.op_type]
        return list(folder(node, [v if isinstance(v, Const) else None for v in ins]))
    x = cv.act(ins[0])
    if node.op_type == "Dropout":
        if (
            len(node.outputs) > 1
            and node.outputs[1]
            and (cv.consumers.get(node.outputs[1]) or node.outputs[1] in cv.outputs_read)
        ):
            raise Unsupported("has its mask output read")
        return [x, None]
    return [x]


@handles("Shape", "Size")
def _shape_of(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    v = ins[0]
    if isinstance(v, Const):
        dims: tuple[Any, ...] = v.dims
    else:
        x = cv.act(v)
        dims = (cv.batch,) + x.logical
    if node.op_type == "Size":
        if any(d is BATCH for d in dims):
            return [Const((), None, False)]
        return [Const((), (math.prod(dims),), False)]
    return [_fold_shape(dims, node)]


@handles("Expand")
def _expand(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    if isinstance(ins[0], Const):
        return list(_fold_expand(node, [ins[0], cv.const(ins[1] if len(ins) > 1 else None, "shape")]))
    x = cv.act(ins[0])
    target = cv.const(ins[1] if len(ins) > 1 else None, "shape")
    if target.values is None:
        raise Unsupported("its target shape is not a constant that convcalc can fold")
    full = (1,) + x.logical
    t = [1 if v is BATCH or (cv.batch_ok(v) and i == 0) else int(v) for i, v in enumerate(target.values)]
    if len(t) > len(full) or _bcast(full, t) != full:
        raise Unsupported(f"expands {_dims(x.logical)} to {list(target.values)}")
    return [x]


@handles("Constant")
def _constant(cv: _Converter, node: P.Node, ins: list[Value | None]) -> list[Value | None]:
    return list(_fold_constant(node, []))
