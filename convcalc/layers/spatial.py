"""Layers that change the spatial grid without weights: resizing (interpolation), padding,
cropping, and the sub-pixel rearrangements (pixel shuffle / unshuffle).

``resize`` follows torch's F.interpolate: to a ``size``, by a ``scale`` (output =
floor(i x scale), in double precision as torch computes it), or ``like`` another tensor (its
spatial size). Modes: ``nearest``; ``linear`` for any number of spatial dims (linear,
bilinear, trilinear by the input); ``bilinear`` (2 dims only), ``trilinear`` (3 dims only) and
``bicubic`` (2 dims only), as F.interpolate checks them. FLOPs per output element:
nearest 0 (a copy); n-linear 3 x (2^n - 1) (2^n - 1 lerps a + (b - a) t, as ``upsample``
counts them); bicubic 35 (torch's kernel: 4 cubic interpolations along a row, then 1 down the
column, each 4 multiplies and 3 adds). The interpolation weights, shared by whole rows, are
not counted.

``pixel_shuffle`` / ``pixel_unshuffle`` generalise torch's 2D nn.PixelShuffle/Unshuffle to
1 to 3 spatial dims: channel c * r^n + (offsets, first spatial dim first) moves to the output
position (i * r + offset) per dim; for 2 dims this is exactly torch's order.
"""

from __future__ import annotations

import math
from fractions import Fraction
from math import prod
from typing import Any

from ..errors import GeometryError, SpecError
from .base import Cost, Layer, Shape, per_dim, register
from .fields import Bool, Choice, Dims, Field, Int, Kind, Text, _got

LINEAR_FLOPS_PER_LERP = 3  # a + (b - a) * t
CUBIC_FLOPS_PER_INTERP = 7  # 4 multiplies, 3 adds
CUBIC_INTERPS_2D = 5  # 4 along the rows, 1 down the column


def _shape(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


class Scales(Kind):
    """A positive number, or one per spatial dim (list in YAML, ``2x1.5`` on the command line)."""

    metavar = "X|XxY"

    def _one(self, v: Any) -> int | float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValueError(f"must be a positive number or a list of them, got {_got(v)}")
        if not v > 0 or v == math.inf:
            raise ValueError(f"must be a finite number > 0, got {v}")
        return v

    def parse(self, value: Any) -> int | float | tuple[int | float, ...]:
        if isinstance(value, (list, tuple)):
            if not 1 <= len(value) <= 3:
                raise ValueError(f"needs 1 to 3 values (one per spatial dim), got {len(value)}")
            return tuple(self._one(v) for v in value)
        return self._one(value)

    def parse_text(self, text: str) -> int | float | tuple[int | float, ...]:
        try:
            values = [float(p) for p in text.strip().lower().split("x")]
        except ValueError:
            raise ValueError(f"must be a number or one per dim like 2x1.5, got {text!r}") from None
        return self.parse(values[0] if len(values) == 1 else values)

    def schema(self) -> dict:
        one = {"type": "number", "exclusiveMinimum": 0}
        return {"oneOf": [one, {"type": "array", "items": one, "minItems": 1, "maxItems": 3}]}

    def describe(self) -> str:
        return "number > 0 or one per dim"


def scaled_size(i: int, scale: float) -> int:
    """floor(i * scale) as torch computes it: the product in double precision (so 10 x 0.7 is 7,
    though the double nearest 0.7 is a little less). Beyond 2^53, where a double no longer holds
    every integer (and torch cannot run), exactly: i times the scale as written."""
    exact = i * Fraction(str(scale)) if isinstance(scale, float) else Fraction(i * scale)
    if exact < 2**53 and i < 2**53:
        return math.floor(float(i) * float(scale))
    return math.floor(exact)


RESIZE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear")
_MODE_DIMS = {"bilinear": 2, "bicubic": 2, "trilinear": 3}


@register
class Resize(Layer):
    type_name = "resize"
    summary = "interpolation to a size, by a scale, or like another tensor (torch's F.interpolate)"
    spatial = True
    ref_fields = ("like",)
    fields = (
        Field("size", Dims(1), None, help="output spatial size: an int or one per dim"),
        Field("scale", Scales(), None, help="scale factor, one or one per dim (output = floor(i x scale))"),
        Field("like", Text(), None, help="name of a tensor whose spatial size the output takes"),
        Field(
            "mode",
            Choice(*RESIZE_MODES),
            "nearest",
            help="nearest; linear (any dims); bilinear / bicubic (2D), trilinear (3D)",
        ),
        Field(
            "align_corners",
            Bool(),
            None,
            help="torch's align_corners (linear/bilinear/bicubic/trilinear only; default false)",
        ),
    )

    def validate(self) -> None:
        given = [f for f in ("size", "scale", "like") if self.params.get(f) is not None]
        if len(given) != 1:
            raise SpecError(
                "resize needs exactly one of size, scale, like"
                + (f"; got {' and '.join(given)}" if given else ""),
                field=given[1] if len(given) > 1 else None,
            )
        if self.mode == "nearest" and self.align_corners is not None:
            raise SpecError(
                "align_corners: only for the linear, bilinear, bicubic and trilinear modes "
                "(torch's rule), not nearest",
                field="align_corners",
            )

    def resolve_refs(self, shapes: dict[str, Shape]) -> Layer:
        if self.like is None or "like" not in shapes:
            return self
        ref = tuple(shapes["like"])
        if len(ref) < 2:
            raise GeometryError(
                f"like: tensor {self.like!r} has shape {_shape(ref)}, without spatial dims", field="like"
            )
        return self.replace(size=ref[1:])

    def _out(self, shape: Shape) -> tuple[int, ...]:
        n = self.require_spatial(shape)
        need = _MODE_DIMS.get(self.mode)
        if need is not None and need != n:
            raise GeometryError(
                f"mode {self.mode} needs {need} spatial dims, got input {_shape(shape)} "
                "(mode linear interpolates any number of dims)",
                field="mode",
            )
        size = self.params.get("size")
        if size is not None:
            if isinstance(size, tuple) and len(size) != n:
                src = f"like: tensor {self.like!r} has" if self.like is not None else "size has"
                dims = f"{len(size)} spatial dim{'s' if len(size) > 1 else ''}"
                raise GeometryError(
                    f"{src} {dims} but the input has {n} (input {_shape(shape)})",
                    field="like" if self.like is not None else "size",
                )
            return per_dim(self, "size", n)
        if self.scale is None:
            raise GeometryError(
                f"like: the size of tensor {self.like!r} is known only inside a network", field="like"
            )
        scale = self.scale if isinstance(self.scale, tuple) else (self.scale,) * n
        if len(scale) != n:
            raise GeometryError(
                f"scale has {len(scale)} values but the input has {n} spatial dims", field="scale"
            )
        out = tuple(scaled_size(i, s) for i, s in zip(shape[1:], scale))
        for d, (i, s, o) in enumerate(zip(shape[1:], scale, out)):
            if o < 1:
                raise GeometryError(
                    f"output size would be {o} (< 1): floor({i} x {s}) in spatial dim {d + 1}", field="scale"
                )
        return out

    def _per_output(self, n: int) -> int:
        if self.mode == "nearest":
            return 0
        if self.mode == "bicubic":
            return CUBIC_INTERPS_2D * CUBIC_FLOPS_PER_INTERP
        return LINEAR_FLOPS_PER_LERP * (2**n - 1)

    def cost(self, shape: Shape) -> Cost:
        out = self._out(shape)
        n = len(out)
        out_shape = (shape[0],) + out
        if self.scale is not None and self.params.get("size") is None:
            s = self.scale if isinstance(self.scale, tuple) else (self.scale,) * n
            scale: tuple | None = tuple(s)
        else:
            scale = None
        rf_mode = {"nearest": "nearest", "bicubic": "cubic"}.get(self.mode, "linear")
        return Cost(
            self.type_name,
            shape,
            out_shape,
            flops=self._per_output(n) * prod(out_shape),
            rf=("resize", rf_mode, tuple(shape[1:]), out, bool(self.align_corners), scale),
            extra={"mode": self.mode},
        )

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        out = c.output_shape[1:]
        n = len(out)
        if self.params.get("size") is not None:
            how = f"like tensor {self.like!r}" if self.like is not None else "size"
            lines = [f"resize ({self.mode}) to {how}: {_shape(shape)} -> {_shape(c.output_shape)}"]
        else:
            scale = self.scale if isinstance(self.scale, tuple) else (self.scale,) * n
            lines = [f"resize ({self.mode}) by scale: {_shape(shape)} -> {_shape(c.output_shape)}"]
            lines += [
                f"o{f' [dim {d + 1}]' if n > 1 else ''} = floor(i x scale) = floor({i} x {s}) = {o}"
                for d, (i, s, o) in enumerate(zip(shape[1:], scale, out))
            ]
        per = self._per_output(n)
        if self.mode == "nearest":
            why = "nearest: a copy"
        elif self.mode == "bicubic":
            why = f"{CUBIC_INTERPS_2D} cubic interpolations x {CUBIC_FLOPS_PER_INTERP}"
        else:
            why = f"{2**n - 1} lerps x {LINEAR_FLOPS_PER_LERP}"
        lines.append(
            f"FLOPs = {per} per output element ({why}) x {prod(c.output_shape):,} = {c.flops:,}; no parameters"
        )
        return lines


def _pad_dims(layer: Layer, shape: Shape) -> tuple[int, tuple[int, ...], tuple[int, ...]]:
    n = layer.require_spatial(shape)
    return n, per_dim(layer, "begin", n), per_dim(layer, "end", n)


@register
class Pad(Layer):
    type_name = "pad"
    summary = "padding: begin/end elements added per spatial dim (zeros, reflect, replicate)"
    spatial = True
    fields = (
        Field("begin", Dims(0), 0, help="elements added before, an int or one per spatial dim"),
        Field("end", Dims(0), 0, help="elements added after, an int or one per spatial dim"),
        Field(
            "mode",
            Choice("zeros", "reflect", "replicate", aliases={"constant": "zeros", "zero": "zeros"}),
            "zeros",
            help="zeros, reflect (mirror without the edge) or replicate (repeat the edge)",
        ),
    )

    def cost(self, shape: Shape) -> Cost:
        n, b, e = _pad_dims(self, shape)
        if self.mode == "reflect":
            for d, i in enumerate(shape[1:]):
                for name, p in (("begin", b[d]), ("end", e[d])):
                    if p >= i:
                        raise GeometryError(
                            f"reflect padding must be smaller than the input size (torch's rule): "
                            f"{name} {p} >= size {i} in spatial dim {d + 1}",
                            field=name,
                        )
        out = (shape[0],) + tuple(i + lo + hi for i, lo, hi in zip(shape[1:], b, e))
        return Cost(
            self.type_name,
            shape,
            out,
            rf=("window", (1,) * n, (1,) * n, b, (1,) * n),
            extra={"mode": self.mode},
        )

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        n, b, e = _pad_dims(self, shape)
        return [
            f"pad ({self.mode}): {_shape(shape)} -> {_shape(c.output_shape)}; no parameters, no FLOPs"
        ] + [
            f"o{f' [dim {d + 1}]' if n > 1 else ''} = begin + i + end = {b[d]} + {i} + {e[d]} = {o}"
            for d, (i, o) in enumerate(zip(shape[1:], c.output_shape[1:]))
        ]


@register
class Crop(Layer):
    type_name = "crop"
    summary = "cropping: begin/end elements removed per spatial dim (Chomp1d: {type: crop, end: 2})"
    spatial = True
    fields = (
        Field("begin", Dims(0), 0, help="elements removed at the start, an int or one per spatial dim"),
        Field("end", Dims(0), 0, help="elements removed at the end, an int or one per spatial dim"),
    )

    def cost(self, shape: Shape) -> Cost:
        n, b, e = _pad_dims(self, shape)
        out = tuple(i - lo - hi for i, lo, hi in zip(shape[1:], b, e))
        for d, (i, o) in enumerate(zip(shape[1:], out)):
            if o < 1:
                raise GeometryError(
                    f"output size would be {o} (< 1): removing {b[d]} + {e[d]} of {i} in spatial dim {d + 1}",
                    field="end" if e[d] else "begin",
                )
        return Cost(
            self.type_name,
            shape,
            (shape[0],) + out,
            rf=("window", (1,) * n, (1,) * n, tuple(-x for x in b), (1,) * n),
        )

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        n, b, e = _pad_dims(self, shape)
        return [f"crop: {_shape(shape)} -> {_shape(c.output_shape)}; no parameters, no FLOPs"] + [
            f"o{f' [dim {d + 1}]' if n > 1 else ''} = i - begin - end = {i} - {b[d]} - {e[d]} = {o}"
            for d, (i, o) in enumerate(zip(shape[1:], c.output_shape[1:]))
        ]


FACTOR = Field("factor", Int(1), help="the factor r applied to every spatial dim")


@register
class PixelShuffle(Layer):
    type_name = "pixel_shuffle"
    summary = "sub-pixel upsampling: [C r^n, *i] -> [C, *(i r)] (torch's PixelShuffle, any 1-3 dims)"
    spatial = True
    fields = (FACTOR,)

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        r = self.factor
        block = r**n
        if shape[0] % block:
            raise GeometryError(
                f"factor^{n} = {block} must divide the input channels {shape[0]} (input {_shape(shape)})",
                field="factor",
            )
        out = (shape[0] // block,) + tuple(i * r for i in shape[1:])
        return Cost(self.type_name, shape, out, rf=("upsample", "nearest", (r,) * n))

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        n, r = len(shape) - 1, self.factor
        return [
            f"pixel_shuffle: {_shape(shape)} -> {_shape(c.output_shape)}: C / r^n = {shape[0]} / {r}^{n}, "
            f"each spatial dim x {r}; a permutation (no FLOPs)"
        ]


@register
class PixelUnshuffle(Layer):
    type_name = "pixel_unshuffle"
    summary = "space-to-depth: [C, *(i r)] -> [C r^n, *i] (torch's PixelUnshuffle, any 1-3 dims)"
    spatial = True
    fields = (FACTOR,)

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        r = self.factor
        for d, i in enumerate(shape[1:]):
            if i % r:
                raise GeometryError(
                    f"factor {r} must divide every spatial size, got {i} in spatial dim {d + 1} "
                    f"(input {_shape(shape)})",
                    field="factor",
                )
        out = (shape[0] * r**n,) + tuple(i // r for i in shape[1:])
        return Cost(self.type_name, shape, out, rf=("window", (r,) * n, (r,) * n, (0,) * n, (1,) * n))

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        n, r = len(shape) - 1, self.factor
        return [
            f"pixel_unshuffle: {_shape(shape)} -> {_shape(c.output_shape)}: C x r^n = {shape[0]} x {r}^{n}, "
            f"each spatial dim / {r}; a permutation (no FLOPs)"
        ]
