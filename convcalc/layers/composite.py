"""Layers made of parts: the depthwise-separable convolution, the ShuffleNet unit and the
squeeze-and-excitation block.
Each is a small composition of the conv presets; its counts are the sums of its parts'."""

from __future__ import annotations

from math import prod

from ..errors import GeometryError
from .base import Cost, Layer, Shape, composite, labelled, per_dim, register
from .conv import Depthwise, Pointwise, _shape
from .fields import (
    BIAS,
    DILATION,
    KEEP_CHANNELS,
    KERNEL,
    OUT_CHANNELS,
    PADDING,
    STRIDE,
    Bool,
    Choice,
    Field,
    Int,
)
from .simple import (
    ACTIVATION_ALIASES,
    ACTIVATION_FLOPS,
    Activation,
    BatchNorm,
    ChannelShuffle,
    GlobalPool,
    Pool,
    elementwise,
)

MULTIPLIER = Field("multiplier", Int(1), 1, help="channel multiplier of the depthwise step")


@register
class Separable(Layer):
    type_name = "separable"
    summary = "depthwise (k x k) then pointwise (1x1): the MobileNet building block"
    command = True
    spatial = True
    width_field = "out_channels"
    fields = (OUT_CHANNELS, KERNEL, STRIDE, PADDING, DILATION, MULTIPLIER, BIAS, KEEP_CHANNELS)

    def _parts(self) -> tuple[Layer, Layer]:
        dw = Depthwise(
            kernel=self.kernel,
            stride=self.stride,
            padding=self.padding,
            dilation=self.dilation,
            multiplier=self.multiplier,
            out_channels=None,
            bias=self.bias,
        )
        pw = Pointwise(out_channels=self.out_channels, stride=1, groups=1, bias=self.bias)
        return dw, pw

    def cost(self, shape: Shape) -> Cost:
        self.require_spatial(shape)
        dw, pw = self._parts()
        d = labelled(dw.cost(shape), "depthwise")
        p = labelled(pw.cost(d.output_shape), "pointwise")
        c_in, n_out = shape[0], prod(p.output_shape[1:])
        k = per_dim(self, "kernel", len(shape) - 1)
        standard = c_in * self.out_channels * prod(k) * n_out
        return composite(self.type_name, shape, [d, p], extra={"standard_macs": standard})

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        dw, pw = self._parts()
        lines = ["step 1, depthwise:"] + ["  " + x for x in dw.explain(shape)]
        lines += ["step 2, pointwise:"] + ["  " + x for x in pw.explain(c.parts[0].output_shape)]
        lines.append(
            f"total: params {c.parts[0].params:,} + {c.parts[1].params:,} = {c.params:,}; "
            f"MACs {c.parts[0].macs:,} + {c.parts[1].macs:,} = {c.macs:,}"
        )
        std = c.info("standard_macs")
        k = per_dim(self, "kernel", len(shape) - 1)
        if std:
            kk = prod(k)
            line = (
                f"a standard conv (kernel {'x'.join(map(str, k))}, same output) takes {std:,} MACs; "
                f"separable / standard = {c.macs:,} / {std:,} = {c.macs / std:.4f}"
            )
            if self.multiplier == 1:
                line += f" = 1/C_out + 1/prod(k) = 1/{self.out_channels} + 1/{kk} (MobileNet's ratio)"
            lines.append(line)
        return lines


@register
class ShuffleUnit(Layer):
    type_name = "shuffle"
    summary = "ShuffleNet v1 unit: 1x1 GConv, shuffle, 3x3 DW (stride 1 or 2), 1x1 GConv, add/concat"
    command = True
    spatial = True
    width_field = "out_channels"
    fields = (
        OUT_CHANNELS,
        Field("groups", Int(1), 3, help="groups of the 1x1 convolutions (the paper's g)", short="-g"),
        STRIDE.with_default(1),
        KERNEL.with_default(3),
        Field("bottleneck", Int(1), None, help="bottleneck channels m (default: out_channels / 4)"),
        Field(
            "first_grouped",
            Bool(),
            True,
            help="group the first 1x1 conv (ShuffleNet leaves it ungrouped in the first unit of stage 2)",
        ),
        Field("batchnorm", Bool(), True, help="BN after each conv, as in the paper"),
        KEEP_CHANNELS,
    )

    def _main_channels(self, c_in: int) -> int:
        s = self.stride if isinstance(self.stride, int) else max(self.stride)
        return self.out_channels - c_in if s > 1 else self.out_channels

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        c_in, c_out, g = shape[0], self.out_channels, self.groups
        stride = per_dim(self, "stride", n)
        kernel = per_dim(self, "kernel", n)
        down = max(stride) > 1
        m = self.bottleneck if self.bottleneck is not None else c_out // 4
        if m < 1:
            raise GeometryError(
                "{out_channels} is too small for a bottleneck of out_channels/4",
                field="out_channels",
                out_channels=c_out,
            )
        main_out = self._main_channels(c_in)
        if down and main_out < 1:
            raise GeometryError(
                "with stride 2 the unit concatenates its input, so {out_channels} must exceed {in_channels}",
                field="out_channels",
                out_channels=c_out,
                in_channels=c_in,
            )
        if not down and c_in != c_out:
            raise GeometryError(
                "with stride 1 the unit adds its input, so {out_channels} must equal {in_channels}",
                field="out_channels",
                out_channels=c_out,
                in_channels=c_in,
            )
        g1 = g if self.first_grouped else 1
        if c_in % g1:
            raise GeometryError(
                "{groups} must divide {in_channels}", field="groups", groups=g, in_channels=c_in
            )
        if m % g:
            raise GeometryError(
                "{groups} must divide the bottleneck {bottleneck}", field="groups", groups=g, bottleneck=m
            )
        if main_out % g:
            raise GeometryError(
                "{groups} must divide the main branch's output channels {channels}",
                field="groups",
                groups=g,
                channels=main_out,
            )
        bn = self.batchnorm
        parts: list[Cost] = []

        def add(layer: Layer, label: str, inp: Shape) -> Shape:
            parts.append(labelled(layer.cost(inp), label))
            return parts[-1].output_shape

        x = add(Pointwise(out_channels=m, stride=1, groups=g1, bias=False), "gconv1", shape)
        if bn:
            x = add(BatchNorm(affine=True), "bn1", x)
        x = add(Activation(fn="relu"), "relu1", x)
        x = add(ChannelShuffle(groups=g), "shuffle", x)
        pad = tuple(k // 2 for k in kernel)
        x = add(
            Depthwise(
                kernel=kernel,
                stride=stride,
                padding=pad,
                dilation=1,
                multiplier=1,
                out_channels=None,
                bias=False,
            ),
            "dwconv",
            x,
        )
        if bn:
            x = add(BatchNorm(affine=True), "bn2", x)
        x = add(Pointwise(out_channels=main_out, stride=1, groups=g, bias=False), "gconv2", x)
        if bn:
            x = add(BatchNorm(affine=True), "bn3", x)
        if down:
            sc = labelled(
                Pool(mode="avg", kernel=3, stride=stride, padding=1, dilation=1, ceil_mode=False).cost(shape),
                "shortcut_pool",
                "shortcut",
            )
            if sc.output_shape[1:] != x[1:]:
                raise GeometryError(
                    f"the avg-pool shortcut gives {_shape(sc.output_shape)} but the "
                    f"main branch {_shape(x)}: use an odd {{kernel}}",
                    field="kernel",
                    kernel=kernel[0],
                )
            parts.append(sc)
            out = (main_out + c_in,) + x[1:]
            parts.append(labelled(elementwise("concat", x, out, 0), "concat", "merge"))
        else:
            if x != shape:  # an even kernel grows the depthwise output by one
                raise GeometryError(
                    f"the main branch gives {_shape(x)} but the identity shortcut "
                    f"{_shape(shape)}: use an odd {{kernel}}",
                    field="kernel",
                    kernel=kernel[0],
                )
            out = x
            parts.append(labelled(elementwise("add", x, out, prod(out)), "add", "merge"))
        parts.append(labelled(Activation(fn="relu").cost(out), "relu"))
        return composite(self.type_name, shape, parts, extra={"bottleneck": m})

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        m = c.info("bottleneck")
        lines = [
            f"ShuffleNet unit: input {_shape(shape)}, output {_shape(c.output_shape)}, "
            f"g = {self.groups}, bottleneck m = {m}"
            + (" (out_channels/4)" if self.bottleneck is None else "")
        ]
        for p in c.parts:
            if p.params or p.macs:
                lines.append(
                    f"  {p.label:<14} {_shape(p.input_shape)} -> {_shape(p.output_shape)}: "
                    f"params {p.params:,}, MACs {p.macs:,}"
                )
            else:
                lines.append(
                    f"  {p.label:<14} {_shape(p.input_shape)} -> {_shape(p.output_shape)}: {p.flops:,} FLOPs"
                )
        convs = [p for p in c.parts if p.macs]
        lines.append(
            "MACs = "
            + " + ".join(p.label for p in convs)
            + " = "
            + " + ".join(f"{p.macs:,}" for p in convs)
            + f" = {c.macs:,}"
        )
        return lines


@register
class SqueezeExcite(Layer):
    type_name = "squeeze_excite"
    summary = "squeeze-and-excitation: x times a gate of 1x1 convs C -> S -> C over its global average"
    spatial = True
    fields = (
        Field("squeeze_channels", Int(1), None, help="channels S of the squeeze (give this or reduction)"),
        Field(
            "reduction", Int(1), None, help="S = C // reduction, at least 1 (give this or squeeze_channels)"
        ),
        Field(
            "activation",
            Choice(*ACTIVATION_FLOPS, aliases=ACTIVATION_ALIASES),
            "relu",
            help="activation after the squeeze (any fn of the activation type)",
        ),
        Field(
            "gate",
            Choice("sigmoid", "hardsigmoid", aliases={"hard_sigmoid": "hardsigmoid"}),
            "sigmoid",
            help="the gate: sigmoid, or hardsigmoid (MobileNetV3)",
        ),
    )

    def validate(self) -> None:
        if (self.squeeze_channels is None) == (self.reduction is None):
            from ..errors import SpecError

            both = self.squeeze_channels is not None
            raise SpecError(
                "squeeze_excite needs exactly one of squeeze_channels, reduction"
                + ("; got both" if both else ""),
                field="reduction" if both else None,
            )

    def squeeze(self, c: int) -> int:
        return self.squeeze_channels if self.squeeze_channels is not None else max(1, c // self.reduction)

    def cost(self, shape: Shape) -> Cost:
        from .merge import Mul

        self.require_spatial(shape)
        s = self.squeeze(shape[0])
        parts = [labelled(GlobalPool(mode="avg").cost(shape), "squeeze")]
        parts.append(
            labelled(
                Pointwise(out_channels=s, stride=1, groups=1, bias=True).cost(parts[-1].output_shape), "fc1"
            )
        )
        parts.append(labelled(Activation(fn=self.activation).cost(parts[-1].output_shape), self.activation))
        parts.append(
            labelled(
                Pointwise(out_channels=shape[0], stride=1, groups=1, bias=True).cost(parts[-1].output_shape),
                "fc2",
            )
        )
        parts.append(labelled(Activation(fn=self.gate).cost(parts[-1].output_shape), self.gate))
        parts.append(labelled(Mul().cost(shape, parts[-1].output_shape), "scale", "merge"))
        return composite(self.type_name, shape, parts, extra={"squeeze_channels": s})

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        s, ch = self.squeeze(shape[0]), shape[0]
        how = f"C // reduction = {ch} // {self.reduction}" if self.squeeze_channels is None else "given"
        lines = [f"squeeze-and-excitation: input {_shape(shape)}, C = {ch}, S = {s} ({how})"]
        for p in c.parts:
            counts = f"params {p.params:,}, MACs {p.macs:,}, " if p.params or p.macs else ""
            lines.append(
                f"  {p.label:<12} {_shape(p.input_shape)} -> {_shape(p.output_shape)}: {counts}{p.flops:,} FLOPs"
            )
        lines.append(
            f"params = (C S + S) + (S C + C) = ({ch}*{s} + {s}) + ({s}*{ch} + {ch}) = {c.params:,}; "
            f"MACs = 2 C S = {c.macs:,}"
        )
        return lines
