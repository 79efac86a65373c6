"""Merges: layers that read two or more tensors (``arity = 0``). In a spec they take
``inputs: [A, B, ...]``; the tree blocks make them too (a residual's add, a concat's concat).

  add, mul  element-wise, PyTorch broadcasting of the batch-less shapes (right-aligned; a dim
            of 1 stretches): (n - 1) FLOPs per output element for n inputs
  concat    along ``axis`` (0: channels); every other dim must match; a copy: no FLOPs
"""

from __future__ import annotations

from math import prod

from ..errors import GeometryError
from .base import Cost, Layer, Shape, register
from .fields import Field, Int


def _show(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def broadcast(shapes: tuple[Shape, ...], what: str) -> Shape:
    """PyTorch's broadcast of batch-less shapes: right-aligned, a 1 stretches to any size."""
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        sizes = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        if len(sizes) > 1:
            shown = " and ".join(_show(s) for s in shapes)
            raise GeometryError(f"{what}: shapes {shown} do not broadcast (dim {i} differs)")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


class _Elementwise(Layer):
    arity = 0
    fields = ()

    def cost(self, *shapes: Shape) -> Cost:
        out = broadcast(shapes, self.type_name)
        return Cost(
            self.type_name,
            shapes[0],
            out,
            flops=(len(shapes) - 1) * prod(out),
            rf=("merge",),
            input_shapes=tuple(shapes),
        )


@register
class Add(_Elementwise):
    type_name = "add"
    summary = "element-wise sum of two or more tensors (inputs: [A, B, ...]), broadcasting as torch"


@register
class Mul(_Elementwise):
    type_name = "mul"
    summary = "element-wise product (inputs: [A, B, ...]), broadcasting as torch: x * gate is the SE gate"


@register
class Concat(Layer):
    type_name = "concat"
    summary = "concatenation of two or more tensors (inputs: [A, B, ...]) along an axis (channels)"
    arity = 0
    fields = (
        Field("axis", Int(0), 0, help="the dim to join along: 0 = channels, 1 = the first spatial dim"),
    )

    def cost(self, *shapes: Shape) -> Cost:
        axis = self.axis
        first = shapes[0]
        for s in shapes:
            if len(s) != len(first):
                raise GeometryError(f"concat: shapes {_show(first)} and {_show(s)} differ in rank")
        if axis >= len(first):
            raise GeometryError(f"concat: axis {axis} is out of range for shape {_show(first)}")
        for s in shapes[1:]:
            if s[:axis] + s[axis + 1 :] != first[:axis] + first[axis + 1 :]:
                raise GeometryError(
                    f"concat: {_show(s)} and {_show(first)} must match in every dim but axis {axis}"
                )
        out = first[:axis] + (sum(s[axis] for s in shapes),) + first[axis + 1 :]
        return Cost(self.type_name, first, out, rf=("merge",), input_shapes=tuple(shapes))
