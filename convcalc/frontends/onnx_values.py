"""The values of an ONNX model while it is mapped: activations, constants and the batch size.

Every ONNX tensor is an ``Act`` (a tensor of the network: a graph node's output, batch-less
shape) or a ``Const`` (known without running the network: initializers, ``Constant``s, shape
computations). Shape computations keep the batch size as the symbol ``BATCH``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..layers.base import Cost, Layer, Shape

MAX_FOLD = 1024  # a folded constant keeps its values up to this many elements (shapes, axes)
INT64_MAX = 2**63 - 1


class _Batch:
    """The batch size in folded shape values, when the file leaves it symbolic."""

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
class Pending:
    """A graph node being built: its layer, inputs, the ONNX node it comes from (``origin``,
    for its name) and a suffix when one ONNX node gives several convcalc nodes."""

    layer: Layer
    inputs: tuple[int, ...]
    origin: str
    op: str
    cost: Cost
    suffix: str = ""


# -- helpers shared by the folding and the handlers ------------------------------------------------
def dims_text(dims: Sequence[Any]) -> str:
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def ints(c: Const | None, what: str) -> list[int]:
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


def bcast(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    n = max(len(a), len(b))
    pa = (1,) * (n - len(a)) + tuple(a)
    pb = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(pa, pb):
        if x != y and 1 not in (x, y):
            raise Unsupported(f"shapes {list(a)} and {list(b)} do not broadcast")
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(out)


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise Unsupported(f"{what} {axis} is out of range for {rank} dims")
    return axis % rank if rank else 0


def dimval(values: Sequence[int]) -> int | list[int]:
    """A per-dim field as a spec writes it: one int when every dim agrees."""
    values = [int(v) for v in values]
    return values[0] if len(set(values)) == 1 else values
