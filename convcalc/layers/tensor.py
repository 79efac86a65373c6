"""Tensor operations: the plumbing of imported models that has no convolutional meaning.

Models exported to ONNX (or captured from torch) reshape, transpose, slice and reduce their
tensors, multiply activations with activations and apply arithmetic with constants. These
layers give each such operation exact counts, on batch-less shapes of any rank (``(C, *rest)``
as everywhere in convcalc; an axis is an index into that shape, 0 the channels, negative from
the end), so that a model's report needs no approximation:

  reshape      a new shape, same elements                        no FLOPs
  transpose    a permutation of the axes                         no FLOPs
  slice        starts:ends:steps along some axes                 no FLOPs
  select       one index along an axis (the axis is removed)     no FLOPs
  dense        nn.Linear on the last axis: (..., K) -> (..., N)  MACs = prod(...) K N
  matmul       the matrix product of two tensors (torch.matmul)  MACs = prod(batch) M K N
  reduce       mean / sum / max / min / prod over axes,          mean: 1 per input element;
               argmax / argmin along one axis (indices)          others: (window - 1) per output
  softmax      softmax (or log-softmax) along an axis            3 (log: 4) per element
  unary        an element-wise function (sqrt, exp, erf ...)     per element, see UNARY_FLOPS
  binary       sub / div / pow / max / min of two tensors        1 per output element
               (max / min of n tensors)                          (n - 1 per output element)
  elementwise  an operation with a constant operand              1 per output element
  opaque       an operation convcalc cannot cost: zero, said so  0 (and a warning)

Receptive fields: an operation that keeps every position where it was (unary, elementwise on
the same shape, a reduction or softmax over the channels) leaves the field unchanged; a slice
along spatial axes is a 1-tap window with the slice's step; a reduction of a whole spatial
axis (keeping it) is a window of that axis; anything that moves positions (reshape, transpose,
select, dense over a spatial axis, softmax along one, opaque) ends the field ("drop": shown as
none), which is never a wrong number.
"""

from __future__ import annotations

from math import prod
from typing import Any

from ..errors import GeometryError, SpecError
from .base import Cost, Layer, Shape, register
from .fields import Bool, Choice, Field, Int, Kind, Text, _got
from .merge import broadcast


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


class Ints(Kind):
    """A list of integers (YAML list; ``1,2,3`` on the command line), each >= ``minimum``
    (None: any), with ``min_len`` to ``max_len`` entries."""

    metavar = "N,N..."

    def __init__(self, minimum: int | None = None, min_len: int = 0, max_len: int = 64):
        self.minimum = minimum
        self.min_len = min_len
        self.max_len = max_len

    def parse(self, value: Any) -> tuple[int, ...]:
        if isinstance(value, bool) or not isinstance(value, (list, tuple, int)):
            raise ValueError(f"must be a list of integers, got {_got(value)}")
        values = [value] if isinstance(value, int) else list(value)
        if not self.min_len <= len(values) <= self.max_len:
            raise ValueError(f"needs {self.min_len} to {self.max_len} values, got {len(values)}")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int):
                raise ValueError(f"must be a list of integers, got {_got(v)} in it")
            if self.minimum is not None and v < self.minimum:
                raise ValueError(f"every value must be >= {self.minimum}, got {v}")
        return tuple(values)

    def parse_text(self, text: str) -> tuple[int, ...]:
        parts = [p for p in text.replace("x", ",").split(",") if p.strip()]
        try:
            return self.parse([int(p) for p in parts])
        except ValueError as e:
            if "must" in str(e) or "needs" in str(e):
                raise
            raise ValueError(f"must be integers like 1,2,3, got {text!r}") from None

    def schema(self) -> dict:
        item: dict = {"type": "integer"}
        if self.minimum is not None:
            item["minimum"] = self.minimum
        return {"type": "array", "items": item, "minItems": self.min_len, "maxItems": self.max_len}

    def describe(self) -> str:
        lo = f" >= {self.minimum}" if self.minimum is not None else ""
        return f"list of ints{lo}"


def _axis(layer: Layer, axis: int, rank: int, field: str = "axis") -> int:
    """An axis of a batch-less shape of ``rank`` dims, negative from the end."""
    if not -rank <= axis < rank:
        raise GeometryError(
            f"{field} {axis} is out of range for an input of {rank} dims (0 to {rank - 1}, or -{rank} to -1)",
            field=field,
        )
    return axis % rank


def _axes(layer: Layer, axes: tuple[int, ...], rank: int, field: str = "axes") -> tuple[int, ...]:
    out = tuple(_axis(layer, a, rank, field) for a in axes)
    if len(set(out)) != len(out):
        raise GeometryError(
            f"{field} names an axis twice: {list(axes)} for an input of {rank} dims", field=field
        )
    return out


def _drop_unless_same(shape: Shape, out: Shape) -> tuple | None:
    return None if tuple(out) == tuple(shape) else ("drop",)


# -- shapes ------------------------------------------------------------------------------------
@register
class Reshape(Layer):
    type_name = "reshape"
    summary = "a new shape with the same elements (torch's reshape/view, per sample): no FLOPs"
    fields = (
        Field(
            "shape",
            Ints(minimum=-1, min_len=1),
            help="the new shape without the batch; one entry may be -1 (inferred)",
        ),
    )

    def validate(self) -> None:
        if any(v == 0 for v in self.shape) or sum(1 for v in self.shape if v == -1) > 1:
            raise SpecError("shape: sizes must be >= 1, with at most one -1 (inferred)", field="shape")

    def target(self, shape: Shape) -> Shape:
        n = prod(shape)
        known = prod(v for v in self.shape if v != -1)
        if -1 in self.shape:
            if n % known:
                raise GeometryError(
                    f"cannot reshape {_shape(shape)} ({n:,} elements) to {list(self.shape)}: "
                    f"{n:,} is not a multiple of {known:,}",
                    field="shape",
                )
            return tuple(n // known if v == -1 else v for v in self.shape)
        if known != n:
            raise GeometryError(
                f"cannot reshape {_shape(shape)} ({n:,} elements) to {_shape(self.shape)} ({known:,} elements)",
                field="shape",
            )
        return tuple(self.shape)

    def cost(self, shape: Shape) -> Cost:
        out = self.target(shape)
        return Cost(self.type_name, shape, out, rf=_drop_unless_same(shape, out))


@register
class Transpose(Layer):
    type_name = "transpose"
    summary = "a permutation of the axes (torch's permute, per sample): no FLOPs"
    fields = (Field("perm", Ints(minimum=0, min_len=1), help="output axis k is input axis perm[k]"),)

    def validate(self) -> None:
        if sorted(self.perm) != list(range(len(self.perm))):
            raise SpecError(
                f"perm: must be a permutation of 0..{len(self.perm) - 1}, got {list(self.perm)}", field="perm"
            )

    def cost(self, shape: Shape) -> Cost:
        if len(self.perm) != len(shape):
            raise GeometryError(
                f"perm has {len(self.perm)} axes but the input {_shape(shape)} has {len(shape)}", field="perm"
            )
        out = tuple(shape[p] for p in self.perm)
        identity = list(self.perm) == list(range(len(shape)))
        return Cost(self.type_name, shape, out, rf=None if identity else ("drop",))


@register
class Slice(Layer):
    type_name = "slice"
    summary = "starts:ends:steps along some axes (Python slicing, per sample): no FLOPs"
    fields = (
        Field(
            "axes", Ints(min_len=1, max_len=64), help="the axes sliced (0: channels; negative from the end)"
        ),
        Field("starts", Ints(min_len=1, max_len=64), help="first index per axis (negative from the end)"),
        Field(
            "ends", Ints(min_len=1, max_len=64), help="end index per axis, exclusive (negative from the end)"
        ),
        Field("steps", Ints(minimum=1, min_len=1, max_len=64), None, help="step per axis (default: 1 each)"),
    )

    def validate(self) -> None:
        n = len(self.axes)
        if len(self.starts) != n or len(self.ends) != n or (self.steps and len(self.steps) != n):
            raise SpecError("axes, starts, ends (and steps) need one value per sliced axis", field="starts")

    def ranges(self, shape: Shape) -> list[tuple[int, int, int, int]]:
        """(axis, start, step, length) per sliced axis, clamped as Python slices are."""
        axes = _axes(self, self.axes, len(shape))
        steps = self.steps or (1,) * len(axes)
        out = []
        for a, s, e, st in zip(axes, self.starts, self.ends, steps):
            size = shape[a]
            lo, hi, _ = slice(s, e, st).indices(size)
            length = max(0, -(-(hi - lo) // st))
            if length < 1:
                raise GeometryError(
                    f"slice {s}:{e}:{st} of axis {a} (size {size}) is empty (input {_shape(shape)})",
                    field="starts",
                )
            out.append((a, lo, st, length))
        return out

    def cost(self, shape: Shape) -> Cost:
        out = list(shape)
        ranges = self.ranges(shape)
        for a, _, _, length in ranges:
            out[a] = length
        n = len(shape) - 1
        rf: tuple | None = None
        spatial = [r for r in ranges if r[0] > 0]
        if spatial and n:
            begin, stride = [0] * n, [1] * n
            for a, lo, st, _ in spatial:
                begin[a - 1], stride[a - 1] = -lo, st
            rf = ("window", (1,) * n, tuple(stride), tuple(begin), (1,) * n)
        return Cost(self.type_name, shape, tuple(out), rf=rf)


@register
class Select(Layer):
    type_name = "select"
    summary = "one index along an axis, which is removed (torch's x.select(axis, index)): no FLOPs"
    fields = (
        Field("axis", Int(-64), help="the axis (0: channels; negative from the end)"),
        Field("index", Int(-(2**63)), help="the index along it (negative from the end)"),
    )

    def cost(self, shape: Shape) -> Cost:
        if len(shape) < 2:
            raise GeometryError(
                f"select needs an input of 2 or more dims (one remains), got {_shape(shape)}", field="axis"
            )
        a = _axis(self, self.axis, len(shape))
        if not -shape[a] <= self.index < shape[a]:
            raise GeometryError(
                f"index {self.index} is out of range for axis {a} of size {shape[a]}", field="index"
            )
        out = shape[:a] + shape[a + 1 :]
        return Cost(self.type_name, shape, out, rf=("drop",))


# -- products ----------------------------------------------------------------------------------
@register
class Dense(Layer):
    type_name = "dense"
    summary = "nn.Linear on the last axis: (..., K) -> (..., N), every other axis kept"
    fields = (
        Field("out_features", Int(1), help="N, the output features", short="-o"),
        Field("bias", Bool(), True, help="learnable bias (torch's default: on)"),
    )

    def cost(self, shape: Shape) -> Cost:
        k, n = shape[-1], self.out_features
        rows = prod(shape[:-1])
        macs = rows * k * n
        return Cost(
            self.type_name,
            shape,
            shape[:-1] + (n,),
            params=k * n + (n if self.bias else 0),
            macs=macs,
            flops=2 * macs + (rows * n if self.bias else 0),
            rf=("drop",),
            extra={"weight_shape": (n, k)},
        )


@register
class MatMul(Layer):
    type_name = "matmul"
    summary = "matrix product of two tensors, torch.matmul per sample (inputs: [A, B]): MACs = batch M K N"
    arity = 0
    fields = ()

    def cost(self, *shapes: Shape) -> Cost:
        if len(shapes) != 2:
            raise GeometryError(f"matmul multiplies exactly 2 tensors, got {len(shapes)}")
        a, b = shapes
        if len(a) < 2 or len(b) < 2:
            raise GeometryError(
                f"matmul needs inputs of 2 or more dims (matrices, per sample), got {_shape(a)} and {_shape(b)}"
            )
        if a[-1] != b[-2]:
            raise GeometryError(
                f"matmul: {_shape(a)} @ {_shape(b)}: the last dim of the first ({a[-1]}) must equal the "
                f"second-to-last of the second ({b[-2]})"
            )
        lead = broadcast("matmul", (a[:-2] or (1,), b[:-2] or (1,)))
        if len(a) == 2 and len(b) == 2:
            lead = ()
        out = tuple(lead) + (a[-2], b[-1])
        macs = prod(lead) * a[-2] * a[-1] * b[-1]
        return Cost(self.type_name, a, out, macs=macs, flops=2 * macs, rf=("merge",), input_shapes=(a, b))


# -- reductions and element-wise work ------------------------------------------------------------
REDUCE_OPS = ("mean", "sum", "max", "min", "prod", "argmax", "argmin")
INDEX_OPS = ("argmax", "argmin")  # their output holds indices (torch's int64), along exactly one axis


@register
class Reduce(Layer):
    type_name = "reduce"
    summary = "mean, sum, max, min, prod, argmax or argmin over axes (torch's x.mean(dims) ...)"
    fields = (
        Field(
            "op",
            Choice(*REDUCE_OPS),
            "mean",
            help="mean, sum, max, min, prod, or argmax / argmin (the index; exactly one axis)",
        ),
        Field("axes", Ints(min_len=1), help="the axes reduced (0: channels; negative from the end)"),
        Field("keepdims", Bool(), True, help="keep each reduced axis with size 1 (torch's keepdim)"),
    )

    def validate(self) -> None:
        if self.op in INDEX_OPS and len(self.axes) != 1:
            raise SpecError(
                f"axes: {self.op} reduces exactly one axis (torch.{self.op}'s dim), got {len(self.axes)}: "
                f"{list(self.axes)}",
                field="axes",
            )

    def cost(self, shape: Shape) -> Cost:
        axes = _axes(self, self.axes, len(shape))
        if not self.keepdims and len(axes) == len(shape):
            raise GeometryError(
                f"reducing every axis of {_shape(shape)} without keepdims leaves no dims (one value per "
                "sample): keep them",
                field="keepdims",
            )
        window = prod(shape[a] for a in axes)
        if self.keepdims:
            out = tuple(1 if d in axes else s for d, s in enumerate(shape))
        else:
            out = tuple(s for d, s in enumerate(shape) if d not in axes)
        count = prod(out)
        per_out = window if self.op == "mean" else window - 1
        n = len(shape) - 1
        rf: tuple | None = None
        spatial = [a for a in axes if a > 0]
        if spatial:
            if self.keepdims and n:
                k = tuple(shape[d + 1] if d + 1 in axes else 1 for d in range(n))
                rf = ("window", k, k)
            else:
                rf = ("drop",)
        elif not self.keepdims:
            rf = ("drop",)
        return Cost(self.type_name, shape, out, flops=per_out * count, rf=rf, extra={"mode": self.op})


SOFTMAX_FLOPS = 3  # exp, sum, divide (as the softmax activation)
LOG_SOFTMAX_FLOPS = 4  # exp, sum, log, subtract


@register
class Softmax(Layer):
    type_name = "softmax"
    summary = "softmax or log-softmax along an axis: 3 (log: 4) FLOPs per element"
    fields = (
        Field("axis", Int(-64), -1, help="the axis normalised (0: channels; negative from the end)"),
        Field("log", Bool(), False, help="log-softmax (torch's log_softmax)"),
    )

    def cost(self, shape: Shape) -> Cost:
        a = _axis(self, self.axis, len(shape))
        per = LOG_SOFTMAX_FLOPS if self.log else SOFTMAX_FLOPS
        return Cost(
            self.type_name,
            shape,
            shape,
            flops=per * prod(shape),
            rf=None if a == 0 else ("drop",),
            extra={"fn": "log_softmax" if self.log else "softmax"},
        )


# FLOPs per element of each element-wise function (a convention, like the activations')
UNARY_FLOPS = {
    "sqrt": 1,
    "rsqrt": 2,  # square root, reciprocal
    "exp": 1,
    "log": 1,
    "neg": 1,
    "reciprocal": 1,
    "abs": 1,
    "erf": 4,  # counted like tanh: so x * 0.5 * (1 + erf(x / sqrt 2)) is gelu's 8
    "sin": 1,
    "cos": 1,
    "floor": 1,
    "ceil": 1,
    "round": 1,
    "sign": 1,
    "clamp": 2,  # max, min
    "square": 1,
}


@register
class Unary(Layer):
    type_name = "unary"
    summary = "an element-wise function that is not an activation (sqrt, exp, log, erf, clamp ...)"
    fields = (Field("fn", Choice(*UNARY_FLOPS), help="the function"),)

    def cost(self, shape: Shape) -> Cost:
        return Cost(
            self.type_name, shape, shape, flops=UNARY_FLOPS[self.fn] * prod(shape), extra={"fn": self.fn}
        )


BINARY_OPS = ("sub", "div", "pow", "max", "min")
VARIADIC_BINARY_OPS = ("max", "min")  # of any number of tensors (ONNX's Max, Min): n - 1 per output


@register
class Binary(Layer):
    type_name = "binary"
    summary = (
        "sub, div, pow, max or min of two tensors (max, min: or more; inputs: [A, B]; PyTorch broadcasting)"
    )
    arity = 0
    fields = (Field("op", Choice(*BINARY_OPS), help="a - b, a / b, a ** b, max(a, b) or min(a, b)"),)

    def cost(self, *shapes: Shape) -> Cost:
        if self.op in VARIADIC_BINARY_OPS:
            if len(shapes) < 2:
                raise GeometryError(f"binary {self.op} takes 2 or more tensors, got {len(shapes)}")
        elif len(shapes) != 2:
            raise GeometryError(f"binary {self.op} takes exactly 2 tensors, got {len(shapes)}")
        out = broadcast(self.op, shapes)
        return Cost(
            self.type_name,
            shapes[0],
            out,
            flops=(len(shapes) - 1) * prod(out),
            rf=("merge",),
            input_shapes=tuple(shapes),
            extra={"mode": self.op},
        )


ELEMENTWISE_OPS = ("add", "sub", "mul", "div", "pow", "max", "min")


@register
class Elementwise(Layer):
    type_name = "elementwise"
    summary = "an element-wise operation with a constant operand (x * c, x + bias, x / 255 ...)"
    fields = (
        Field("op", Choice(*ELEMENTWISE_OPS), help="add, sub, mul, div, pow, max or min (either side)"),
        Field(
            "shape",
            Ints(minimum=1, min_len=0),
            None,
            help="the constant's shape without the batch, broadcast as PyTorch does (default: a scalar)",
        ),
        Field(
            "learned",
            Int(0),
            0,
            help="parameters: the learned values behind the constant (0: fixed; a learned bias of C: C)",
        ),
    )

    def cost(self, shape: Shape) -> Cost:
        out = (
            broadcast(self.op, (shape, tuple(self.shape))) if self.shape else tuple(shape)
        )  # None, []: a scalar
        return Cost(
            self.type_name,
            shape,
            out,
            params=self.learned,
            flops=prod(out),
            rf=_drop_unless_same(shape, out),
            extra={"mode": self.op},
        )


@register
class Opaque(Layer):
    type_name = "opaque"
    summary = "an operation convcalc cannot cost, counted as zero (and said so): its output shape only"
    fields = (
        Field("op", Text(), help="what it is (an ONNX op type: NonMaxSuppression ...)"),
        Field("shape", Ints(minimum=1, min_len=1), help="its output shape without the batch"),
    )

    def cost(self, shape: Shape) -> Cost:
        return Cost(self.type_name, shape, tuple(self.shape), rf=("drop",), extra={"mode": self.op})


def zero_cost_warnings(costs: list[Cost]) -> list[str]:
    """One line about the ``opaque`` layers among ``costs``: they are counted as zero, and every
    output must say so (never a silent zero)."""
    return opaque_warnings([(c.extra or {}).get("mode", "?") for c in costs if c.type == Opaque.type_name])


def opaque_warnings(ops: list[str]) -> list[str]:
    """The warning for opaque layers of these ``op`` values (none: no warning)."""
    counts: dict[str, int] = {}
    for op in ops:
        counts[op] = counts.get(op, 0) + 1
    if not counts:
        return []
    listed = ", ".join(f"{op} x{n}" for op, n in counts.items())
    total = len(ops)
    return [
        f"{total} operation{'s' if total > 1 else ''} convcalc cannot cost {'are' if total > 1 else 'is'} "
        f"counted as zero ({listed}): the totals are lower bounds"
    ]
