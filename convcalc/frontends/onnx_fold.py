"""Constant folding for the ONNX mapping: every op that computes on constants (shapes, axes,
weights reshaped by the exporter), with the batch size kept as a symbol. A folded constant
keeps its values when small (``MAX_FOLD`` elements), else only its dims; a weight's values are
never known, only its dims and the parameters behind it."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from . import onnx_proto as P
from .onnx_values import BATCH, MAX_FOLD, Const, Unsupported, bcast, dims_text, ints, norm_axis


def _const_of_tensor(t: P.Tensor, key: str) -> Const:
    is_float = t.data_type in P.FLOAT_TYPES
    sources = {key: t.numel} if is_float and t.numel > 0 else {}
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


def _batch_arith(op: str, a: Any, b: Any) -> Any:
    """``op`` where ``a`` or ``b`` is the batch size: known when it does not depend on its
    value, a positive integer (the comparisons with -1 that exporters write before an
    Expand: the batch is never -1)."""
    if op == "Mul" and (a == 1 or b == 1):
        return b if a == 1 else a
    if op in ("Add", "Sub") and b == 0:
        return a
    if op == "Add" and a == 0:
        return b
    if op == "Div" and b == 1:
        return a
    if a is BATCH and b is BATCH:
        if op in ("Max", "Min"):
            return a
        if op in ("Equal", "Less", "Greater"):
            return int(op == "Equal")
        raise _Unknown
    k = b if a is BATCH else a
    if isinstance(k, (int, float)) and k < 1:  # the batch is greater than k
        if op == "Equal":
            return 0
        if op in ("Less", "Greater"):
            return int((op == "Greater") == (a is BATCH))
        if op in ("Max", "Min"):
            return BATCH if op == "Max" else k
    raise _Unknown


def _arith(op: str, a: Any, b: Any) -> Any:
    if a is BATCH or b is BATCH:
        return _batch_arith(op, a, b)
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
    if op == "FMod":  # Mod with fmod=1: the remainder takes the dividend's sign, as C's fmod
        if b == 0:
            raise _Unknown
        if isinstance(a, int) and isinstance(b, int):
            r = abs(a) % abs(b)
            return r if a >= 0 else -r
        return math.fmod(a, b)
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
        dims = bcast(dims, c.dims)
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
    op = "FMod" if node.op_type == "Mod" and _attr(node, "fmod", 0) else node.op_type
    return [_fold_elementwise(op, [a, b])]


def _fold_variadic(node: P.Node, ins: list[Const | None]) -> list[Const]:
    cs = [c for c in ins if c is not None]
    if not cs:
        raise Unsupported("has no inputs")
    return [_fold_elementwise(node.op_type, cs)]


def _fold_constant(node: P.Node, ins: list[Const | None]) -> list[Const]:
    """A Constant node's tensor: not a parameter (the rule counts initializers; exporters put
    their own constants here: GroupNorm's and InstanceNorm's ones and zeros, eps, shapes)."""
    if "value" in node.attrs and isinstance(node.attrs["value"], P.Tensor):
        c = _const_of_tensor(node.attrs["value"], "")
        return [Const(c.dims, c.values, c.is_float)]
    for name, is_float in (("value_float", True), ("value_int", False)):
        if name in node.attrs:
            return [Const((), (node.attrs[name],), is_float)]
    for name, is_float in (("value_floats", True), ("value_ints", False)):
        if name in node.attrs:
            vals = tuple(node.attrs[name])
            return [Const((len(vals),), _keep(vals, len(vals)), is_float)]
    raise Unsupported("holds a kind of value convcalc does not read (a sparse tensor or strings)")


def _fold_shape(shape: tuple[Any, ...], node: P.Node) -> Const:
    rank = len(shape)
    start = _attr(node, "start", 0)
    end = _attr(node, "end", rank)
    lo, hi, _ = slice(start, end).indices(rank)
    vals = tuple(shape[lo:hi])
    return Const((len(vals),), vals, False)


def _fold_gather(node: P.Node, data: Const, idx: Const) -> Const:
    axis = norm_axis(_attr(node, "axis", 0), len(data.dims))
    indices = ints(idx, "indices") if idx.values is not None else None
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
        vals: list[Any] = []
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
        return ints(ins[k], "axes")
    return None


def _squeeze_dims(dims: tuple[int, ...], axes: list[int] | None) -> tuple[int, ...]:
    rank = len(dims)
    if axes is None:
        return tuple(d for d in dims if d != 1)
    norm = {norm_axis(a, rank, "axes") for a in axes}
    for a in norm:
        if dims[a] != 1:
            raise Unsupported(f"squeezes axis {a}, of size {dims[a]}")
    return tuple(d for i, d in enumerate(dims) if i not in norm)


def _unsqueeze_dims(dims: tuple[int, ...], axes: list[int]) -> tuple[int, ...]:
    rank = len(dims) + len(axes)
    norm = sorted(norm_axis(a, rank, "axes") for a in axes)
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
        starts = ints(ins[1] if len(ins) > 1 else None, "starts")
        ends = ints(ins[2] if len(ins) > 2 else None, "ends")
        axes = ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    if not len(starts) == len(ends) == len(axes) == len(steps):
        raise Unsupported("starts, ends, axes and steps differ in length")
    out = []
    seen = set()
    for s, e, a, st in zip(starts, ends, axes, steps):
        a = norm_axis(a, rank, "axes")
        if a in seen:
            raise Unsupported("slices an axis twice")
        seen.add(a)
        if st == 0:
            raise Unsupported("has a step of 0")
        out.append((a, s, e, st))
    return out


def _clamped(size: int, s: int, e: int, st: int) -> range:
    """ONNX's clamping of a slice: negative bounds count from the end, then the start is
    clamped to [0, size] and the end to [0, size] for a positive step, [0, size - 1] and
    [-1, size - 1] for a negative one (unlike Python's, a start before the first element
    with a negative step is the first element)."""
    s = s + size if s < 0 else s
    e = e + size if e < 0 else e
    if st > 0:
        return range(min(max(s, 0), size), min(max(e, 0), size), st)
    return range(min(max(s, 0), size - 1), min(max(e, -1), size - 1), st)


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
    axis = norm_axis(_attr(node, "axis", 0), rank)
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
            raise Unsupported(f"cannot reshape {dims_text(dims)} to {target}")
        out[infer] = n // known
    elif n != known:
        raise Unsupported(f"cannot reshape {dims_text(dims)} to {dims_text(out)}: the element counts differ")
    return tuple(out)


def _fold_reshape(node: P.Node, ins: list[Const | None]) -> list[Const]:
    data, shape = _need(ins, 2)
    target = reshape_target(data.dims, ints(shape, "shape"), bool(_attr(node, "allowzero", 0)))
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
    dims = tuple(ints(shape, "shape"))
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
    if all(isinstance(v, int) for v in (start, limit, delta)):
        n = max(-((start - limit) // delta), 0)  # exact, however large
    else:
        n = max(math.ceil((limit - start) / delta), 0)
    is_float = any(isinstance(v, float) for v in (start, limit, delta))
    values = tuple(start + k * delta for k in range(n)) if n <= MAX_FOLD else None
    return [Const((n,), values, is_float)]


def _fold_expand(node: P.Node, ins: list[Const | None]) -> list[Const]:
    x, shape = _need(ins, 2)
    dims = bcast(x.dims, ints(shape, "shape"))
    n = math.prod(dims)
    values = tuple(_bcast_values(x, dims)) if x.values is not None and n <= MAX_FOLD else None
    return [Const(dims, values, x.is_float, dict(x.sources))]


def _fold_where(node: P.Node, ins: list[Const | None]) -> list[Const]:
    cond, a, b = _need(ins, 3)
    dims = bcast(bcast(cond.dims, a.dims), b.dims)
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
    axis = norm_axis(_attr(node, "axis", 0), len(x.dims))
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
        sizes = ints(ins[1], "split")
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
    norm = sorted({norm_axis(a, rank, "axes") for a in axes})
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
