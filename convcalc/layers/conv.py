"""The convolution family. One formula (``conv_cost``) serves them all:

    weight = (C_out, C_in/g, *k)                  transposed: (C_in, C_out/g, *k)
    MACs   = prod(weight) * prod(out_spatial)     transposed: prod(weight) * prod(in_spatial)
    params = prod(weight) + (C_out if bias)
    FLOPs  = 2 * MACs + (C_out * prod(out_spatial) if bias)   # one add per output element

Depthwise, pointwise, grouped and dilated convolutions are presets of it.
"""

from __future__ import annotations

from math import prod
from typing import Any

from .. import shapes
from ..errors import GeometryError
from .base import Cost, Layer, Shape, per_dim, register
from .fields import (
    BIAS,
    DILATION,
    GROUPS,
    KEEP_CHANNELS,
    KERNEL,
    OUT_CHANNELS,
    PADDING,
    STRIDE,
    Dims,
    Field,
    Int,
    Padding,
)

Pads = tuple[tuple[int, int], ...]  # (before, after) per spatial dim
# (out_channels, kernel, stride, pads, dilation, groups) of a conv for one input shape
Geometry = tuple[int, tuple[int, ...], tuple[int, ...], Pads, tuple[int, ...], int]


def _values(**values: Any) -> dict[str, Any]:
    """Template values of a GeometryError (a dict of Any, for the type checker)."""
    return values


def resolve_padding(
    padding: Any, n: int, size: tuple, kernel: tuple, stride: tuple, dilation: tuple, layer: Layer
) -> tuple[tuple[int, int], ...]:
    """(before, after) padding per spatial dim from an int, a per-dim tuple, 'valid' or 'same'."""
    if padding == "valid":
        return ((0, 0),) * n
    if padding == "same":
        return tuple(shapes.same_padding(i, k, s, d) for i, k, s, d in zip(size, kernel, stride, dilation))
    pads = per_dim(layer, "padding", n)
    return tuple((p, p) for p in pads)


def _check_groups(groups: int, c_in: int, c_out: int, out_name: str = "out_channels") -> None:
    if c_in % groups:
        raise GeometryError(
            "{groups} must divide {in_channels}", field="groups", groups=groups, in_channels=c_in
        )
    if c_out % groups:
        raise GeometryError(
            f"{{groups}} must divide {{{out_name}}}",
            field="groups",
            **_values(groups=groups, **{out_name: c_out}),
        )


def conv_cost(
    type_name: str,
    shape: Shape,
    out_channels: int,
    kernel: tuple,
    stride: tuple,
    pads: tuple,
    dilation: tuple,
    groups: int,
    bias: bool,
) -> Cost:
    """Direct convolution. ``pads`` is ((before, after), ...) per spatial dim."""
    c_in, size = shape[0], shape[1:]
    out = tuple(
        shapes.conv_out(i, k, s, lo, hi, d)
        for i, k, s, (lo, hi), d in zip(size, kernel, stride, pads, dilation)
    )
    weight = (out_channels, c_in // groups) + tuple(kernel)
    w = prod(weight)
    out_elems = out_channels * prod(out)
    macs = w * prod(out)
    rf = (
        "window",
        tuple(shapes.effective_kernel(k, d) for k, d in zip(kernel, dilation)),
        tuple(stride),
        tuple(lo for lo, _ in pads),
        tuple(dilation),
    )
    return Cost(
        type_name,
        shape,
        (out_channels,) + out,
        params=w + (out_channels if bias else 0),
        macs=macs,
        flops=2 * macs + (out_elems if bias else 0),
        rf=rf,
        extra={"weight_shape": weight},
    )


class _ConvBase(Layer):
    """Shared by conv, depthwise, pointwise: geometry checks and the explanation."""

    spatial = True
    width_field = "out_channels"

    def _geometry(self, shape: Shape) -> Geometry:
        """(out_channels, kernel, stride, pads, dilation, groups) for this input."""
        raise NotImplementedError

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        c_out, kernel, stride, pads, dilation, groups = self._geometry(shape)
        _check_groups(groups, shape[0], c_out)
        cost = conv_cost(self.type_name, shape, c_out, kernel, stride, pads, dilation, groups, self.bias)
        for dim, o in enumerate(cost.output_shape[1:]):
            if o < 1:
                raise GeometryError(
                    f"output {'size' if n == 1 else f'dim {dim + 1}'} would be {o} (< 1): input "
                    f"size {shape[1 + dim]} is smaller than the dilated {{kernel}} "
                    f"(d(k-1)+1 = {shapes.effective_kernel(kernel[dim], dilation[dim])}) plus padding",
                    field="kernel",
                    kernel=kernel[dim],
                )
        return cost

    def size_lines(self, shape: Shape) -> list[str]:
        """The output-size formula per spatial dim, numbers substituted."""
        c = self.cost(shape)
        _, kernel, stride, pads, dilation, _ = self._geometry(shape)
        n = len(shape) - 1
        lines = []
        for dim in range(n):
            i, k, s, (lo, hi), d = shape[1 + dim], kernel[dim], stride[dim], pads[dim], dilation[dim]
            o = c.output_shape[1 + dim]
            tag = f" [dim {dim + 1}]" if n > 1 else ""
            if lo == hi:
                lines.append(
                    f"o{tag} = floor((i + 2p - d(k-1) - 1)/s) + 1 = "
                    f"floor(({i} + 2*{lo} - {d}*({k}-1) - 1)/{s}) + 1 = {o}"
                )
            else:
                lines.append(
                    f"o{tag} = floor((i + p_before + p_after - d(k-1) - 1)/s) + 1 = "
                    f"floor(({i} + {lo} + {hi} - {d}*({k}-1) - 1)/{s}) + 1 = {o}"
                    "  ('same': TensorFlow's padding, the extra pixel after)"
                )
        return lines

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        _, kernel, _stride, _pads, _dilation, groups = self._geometry(shape)
        n = len(shape) - 1
        c_in, c_out = shape[0], c.output_shape[0]
        weight = c.info("weight_shape")
        lines = [
            f"{self.type_name} ({n}D): input {_shape(shape)}, groups g = {groups}, "
            f"weight (C_out, C_in/g, *k) = {_shape(weight)}"
        ]
        lines += self.size_lines(shape)
        ks = "*".join(str(k) for k in kernel)
        outs = "*".join(str(o) for o in c.output_shape[1:])
        w = prod(weight)
        bias_p = f" + {c_out} (bias)" if self.bias else ""
        lines.append(
            f"params = C_out * C_in/g * prod(k){' + C_out' if self.bias else ''} = "
            f"{c_out} * {c_in // groups} * {ks}{bias_p} = {c.params:,}"
        )
        lines.append(
            f"MACs = C_out * C_in/g * prod(k) * prod(o) = {c_out} * {c_in // groups} * {ks} * "
            f"{outs} = {w:,} * {prod(c.output_shape[1:]):,} = {c.macs:,}"
        )
        bias_f = (
            f" + {c_out * prod(c.output_shape[1:]):,} (one bias add per output element)" if self.bias else ""
        )
        lines.append(f"FLOPs = 2 * MACs{bias_f} = {c.flops:,}")
        std = prod(c.output_shape[1:]) * c_out * c_in * prod(kernel)
        if groups > 1 and std:
            lines.append(
                f"a standard conv (g = 1) would take {std:,} MACs: grouping divides them by g = {groups}"
            )
        return lines


@register
class Conv(_ConvBase):
    type_name = "conv"
    summary = "standard convolution, 1D/2D/3D, with stride, padding, dilation, groups and bias"
    command = True
    fields = (OUT_CHANNELS, KERNEL, STRIDE, PADDING, DILATION, GROUPS, BIAS, KEEP_CHANNELS)

    def _geometry(self, shape: Shape) -> Geometry:
        n = len(shape) - 1
        k = per_dim(self, "kernel", n)
        s = per_dim(self, "stride", n)
        d = per_dim(self, "dilation", n)
        return (
            self.out_channels,
            k,
            s,
            resolve_padding(self.padding, n, shape[1:], k, s, d, self),
            d,
            self.groups,
        )


@register
class Depthwise(_ConvBase):
    type_name = "depthwise"
    summary = "depthwise convolution: groups = input channels, each makes `multiplier` maps"
    command = True
    fields = (
        KERNEL,
        STRIDE,
        PADDING,
        DILATION,
        Field("multiplier", Int(1), 1, help="channel multiplier: output maps per input channel"),
        OUT_CHANNELS.with_default(None),
        BIAS,
        KEEP_CHANNELS,
    )

    def _geometry(self, shape: Shape) -> Geometry:
        n = len(shape) - 1
        c_in = shape[0]
        c_out = c_in * self.multiplier
        if self.out_channels is not None and self.out_channels != c_out:
            if self.multiplier != 1 or self.out_channels % c_in:
                raise GeometryError(
                    "{out_channels} must equal {in_channels} x {multiplier}",
                    field="out_channels",
                    out_channels=self.out_channels,
                    in_channels=c_in,
                    multiplier=self.multiplier,
                )
            c_out = self.out_channels
        k = per_dim(self, "kernel", n)
        s = per_dim(self, "stride", n)
        d = per_dim(self, "dilation", n)
        return c_out, k, s, resolve_padding(self.padding, n, shape[1:], k, s, d, self), d, c_in


@register
class Pointwise(_ConvBase):
    type_name = "pointwise"
    summary = "1x1 convolution (channel mixing), optionally grouped or strided"
    command = True
    fields = (OUT_CHANNELS, STRIDE, GROUPS, BIAS, KEEP_CHANNELS)

    def _geometry(self, shape: Shape) -> Geometry:
        n = len(shape) - 1
        return self.out_channels, (1,) * n, per_dim(self, "stride", n), ((0, 0),) * n, (1,) * n, self.groups


@register
class Transposed(Layer):
    type_name = "transposed"
    summary = "transposed convolution ('deconvolution'), MACs counted per input element"
    command = True
    spatial = True
    width_field = "out_channels"
    fields = (
        OUT_CHANNELS,
        KERNEL,
        STRIDE,
        Field("padding", Padding(words=False), 0, help="padding (removed from the output)", short="-p"),
        Field("output_padding", Dims(0), 0, help="extra size on one side of the output"),
        DILATION,
        GROUPS,
        BIAS,
        KEEP_CHANNELS,
    )

    def _dims(self, shape: Shape) -> tuple[tuple[int, ...], ...]:
        n = len(shape) - 1
        return tuple(
            per_dim(self, f, n) for f in ("kernel", "stride", "padding", "dilation", "output_padding")
        )

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        kernel, stride, pad, dil, opad = self._dims(shape)
        c_in, size = shape[0], shape[1:]
        c_out, g = self.out_channels, self.groups
        _check_groups(g, c_in, c_out)
        for dim in range(n):
            if opad[dim] >= max(stride[dim], dil[dim]):
                raise GeometryError(
                    f"{{output_padding}} must be < max(stride, dilation) = {max(stride[dim], dil[dim])}",
                    field="output_padding",
                    output_padding=opad[dim],
                )
        out = tuple(
            shapes.transposed_out(i, k, s, p, d, a)
            for i, k, s, p, d, a in zip(size, kernel, stride, pad, dil, opad)
        )
        for dim, o in enumerate(out):
            if o < 1:
                raise GeometryError(
                    f"output {'size' if n == 1 else f'dim {dim + 1}'} would be {o} (< 1): "
                    "{padding} is too large",
                    field="padding",
                    padding=pad[dim],
                )
        weight = (c_in, c_out // g) + tuple(kernel)
        w = prod(weight)
        macs = w * prod(size)
        out_elems = c_out * prod(out)
        # Zero-insertion view (the lecture's): a stride-1 conv over the stretched, padded input.
        dense = c_out * (c_in // g) * prod(kernel) * prod(out)
        rf = ("transposed", tuple(kernel), tuple(stride), tuple(pad), tuple(dil))
        return Cost(
            self.type_name,
            shape,
            (c_out,) + out,
            params=w + (c_out if self.bias else 0),
            macs=macs,
            flops=2 * macs + (out_elems if self.bias else 0),
            rf=rf,
            extra={"weight_shape": weight, "zero_insertion_macs": dense},
        )

    def size_lines(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        kernel, stride, pad, dil, opad = self._dims(shape)
        n = len(shape) - 1
        lines = []
        for dim in range(n):
            i, k, s, p, d, a = shape[1 + dim], kernel[dim], stride[dim], pad[dim], dil[dim], opad[dim]
            o = c.output_shape[1 + dim]
            z = shapes.zero_insertion(i, k, s, p, d, a)
            tag = f" [dim {dim + 1}]" if n > 1 else ""
            lines.append(
                f"o{tag} = (i-1)s - 2p + d(k-1) + output_padding + 1 = "
                f"({i}-1)*{s} - 2*{p} + {d}*({k}-1) + {a} + 1 = {o}"
            )
            pp = "d(k-1) - p" if d != 1 else "k - p - 1"
            lines.append(
                f"  as a direct conv{tag}: z = s-1 = {z['z']} zeros between pixels "
                f"({i} -> {z['stretched']}), p' = {pp} = {z['p_prime']} zeros per side"
                + (f" (+{a} output padding)" if a else "")
                + f" ({z['padded']}), then stride s' = 1: "
                f"{z['padded']} - {d}*({k}-1) = {z['out']}"
            )
        return lines

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        kernel = self._dims(shape)[0]
        n = len(shape) - 1
        c_in, c_out, g = shape[0], self.out_channels, self.groups
        lines = [
            f"transposed ({n}D): input {_shape(shape)}, groups g = {g}, "
            f"weight (C_in, C_out/g, *k) = {_shape(c.info('weight_shape'))}"
        ]
        lines += self.size_lines(shape)
        ks = "*".join(map(str, kernel))
        ins = "*".join(map(str, shape[1:]))
        lines.append(
            f"params = C_in * C_out/g * prod(k){' + C_out' if self.bias else ''} = "
            f"{c_in} * {c_out // g} * {ks}{f' + {c_out}' if self.bias else ''} = {c.params:,}"
        )
        lines.append(
            f"MACs (per input element, the useful work) = C_in * C_out/g * prod(k) * prod(i) = "
            f"{c_in} * {c_out // g} * {ks} * {ins} = {c.macs:,}"
        )
        dense = c.info("zero_insertion_macs")
        outs = "*".join(map(str, c.output_shape[1:]))
        ratio = f" ({dense / c.macs:.2f}x, mostly multiplications by inserted zeros)" if c.macs else ""
        lines.append(
            f"MACs of the zero-insertion view = C_out * C_in/g * prod(k) * prod(o) = "
            f"{c_out} * {c_in // g} * {ks} * {outs} = {dense:,}{ratio}"
        )
        bias_f = f" + {c_out * prod(c.output_shape[1:]):,} (bias adds)" if self.bias else ""
        lines.append(f"FLOPs = 2 * MACs{bias_f} = {c.flops:,}")
        return lines


def _shape(shape: Shape) -> str:
    return "[" + ", ".join(str(x) for x in shape) + "]"
