"""Merges: the layers that read two or more tensors (``arity = 0``).

``add`` and ``mul`` broadcast as PyTorch does, over the shapes without the batch, aligned on
the right: two sizes agree when they are equal or one of them is 1 (a missing leading dim
counts as 1), so ``[C, 1, 1]`` times ``[C, H, W]`` is a squeeze-and-excitation gate. FLOPs:
one add (or multiply) per output element for each input after the first. ``concat`` joins its
inputs along ``axis`` (0: channels); every other dim must agree; no FLOPs (a copy).
"""

from __future__ import annotations

from math import prod

from ..errors import GeometryError
from .base import Cost, Layer, Shape, register
from .fields import Field, Int


def _shape(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _need_two(layer: Layer, shapes: tuple[Shape, ...]) -> None:
    if len(shapes) < 2:
        raise GeometryError(f"{layer.type_name} needs at least 2 inputs, got {len(shapes)}")


def broadcast(type_name: str, shapes: tuple[Shape, ...]) -> Shape:
    """PyTorch's broadcast of batch-less shapes, aligned on the right; GeometryError naming the
    shapes when they do not broadcast."""
    n = max(len(s) for s in shapes)
    padded = [(1,) * (n - len(s)) + tuple(s) for s in shapes]
    out = []
    for d in range(n):
        sizes = list(dict.fromkeys(s[d] for s in padded if s[d] != 1))
        if len(sizes) > 1:
            listed = ", ".join(_shape(s) for s in shapes[:-1]) + " and " + _shape(shapes[-1])
            where = f"dim {d}" if all(len(s) == n for s in shapes) else f"dim {d - n} (from the right)"
            clash = " against ".join(map(str, sizes))
            raise GeometryError(
                f"{type_name}: shapes {listed} do not broadcast: sizes {clash} in {where} "
                "(sizes must be equal or 1, aligned on the right as in PyTorch)"
            )
        out.append(max(sizes, default=1))
    return tuple(out)


class _Elementwise(Layer):
    """add, mul: broadcast, then one operation per output element per extra input."""

    arity = 0
    fields = ()
    op = ""

    def cost(self, *shapes: Shape) -> Cost:
        _need_two(self, shapes)
        out = broadcast(self.type_name, shapes)
        return Cost(
            self.type_name,
            shapes[0],
            out,
            flops=(len(shapes) - 1) * prod(out),
            rf=("merge",),
            input_shapes=tuple(shapes),
        )

    def explain(self, *shapes: Shape) -> list[str]:
        c = self.cost(*shapes)
        return [
            f"{self.type_name}: {f' {self.op} '.join(_shape(s) for s in shapes)} -> "
            f"{_shape(c.output_shape)} (broadcast, aligned on the right)",
            f"FLOPs = (inputs - 1) x output elements = {len(shapes) - 1} x {prod(c.output_shape):,} "
            f"= {c.flops:,}",
        ]


@register
class Add(_Elementwise):
    type_name = "add"
    summary = "element-wise sum of two or more tensors (inputs: [A, B, ...]; PyTorch broadcasting)"
    op = "+"


@register
class Mul(_Elementwise):
    type_name = "mul"
    summary = "element-wise product (PyTorch broadcasting: a [C,1,1] gate times [C,H,W])"
    op = "*"


@register
class ConcatLayer(Layer):
    type_name = "concat"
    summary = "concatenation of two or more tensors (inputs: [A, B, ...]) along axis (0: channels)"
    arity = 0
    fields = (
        Field(
            "axis",
            Int(-4),
            0,
            help="axis of the batch-less shape to join along: 0 channels, 1.. spatial dims, negative from the end",
        ),
    )

    def cost(self, *shapes: Shape) -> Cost:
        # one input is allowed here: a concat block of a single branch (specs ask for 2+ inputs)
        rank = len(shapes[0])
        listed = ", ".join(_shape(s) for s in shapes)
        if any(len(s) != rank for s in shapes):
            raise GeometryError(f"concat: inputs {listed} have different numbers of dims")
        axis = self.axis
        if not -rank <= axis < rank:
            raise GeometryError(
                f"{{axis}} is out of range for inputs with {rank} dims (0 to {rank - 1}, or -{rank} to -1)",
                field="axis",
                axis=axis,
            )
        axis %= rank
        for d in range(rank):
            if d != axis and len({s[d] for s in shapes}) > 1:
                raise GeometryError(
                    f"concat along axis {axis}: inputs {listed} differ in dim {d} "
                    "(every dim but the concatenated one must agree)",
                    field="axis",
                )
        out = tuple(shapes[0][:axis]) + (sum(s[axis] for s in shapes),) + tuple(shapes[0][axis + 1 :])
        return Cost(self.type_name, shapes[0], out, rf=("merge",), input_shapes=tuple(shapes))

    def explain(self, *shapes: Shape) -> list[str]:
        c = self.cost(*shapes)
        axis = self.axis % len(shapes[0])
        sizes = " + ".join(str(s[axis]) for s in shapes)
        return [
            f"concat along axis {axis}: {', '.join(_shape(s) for s in shapes)} -> {_shape(c.output_shape)} "
            f"({sizes} = {c.output_shape[axis]}); no parameters, no FLOPs (a copy)"
        ]
