"""Layers around the convolutions: normalisation, activations, pooling, reshaping, linear.

None of these has MACs except ``linear`` (a matrix product, as torch counts it). Their
element-wise work is counted in FLOPs with the per-element costs below; they are
conventions (there is no single right number for exp or tanh), stated in every report.
"""

from __future__ import annotations

from math import gcd, prod

from .. import shapes
from ..errors import GeometryError
from .base import Cost, Layer, Shape, per_dim, register
from .fields import Bool, Choice, Dims, Field, Float, Int

# FLOPs per element of each activation (the cost model; see the README's conventions).
ACTIVATION_FLOPS = {
    "relu": 1,  # max(x, 0)
    "relu6": 2,  # min(max(x, 0), 6)
    "leaky_relu": 2,  # compare, multiply
    "elu": 3,  # compare, exp, subtract
    "selu": 4,  # elu + scale
    "sigmoid": 4,  # negate, exp, add, divide
    "tanh": 4,  # counted like sigmoid
    "hardsigmoid": 3,  # add, scale, clamp
    "silu": 5,  # sigmoid + multiply (a.k.a. swish)
    "hardswish": 4,  # hardsigmoid + multiply
    "gelu": 8,  # tanh approximation: cube, 2 mult-adds, tanh, 1 + x, halve
    "mish": 8,  # softplus (exp, log1p) + tanh + multiply
    "softplus": 2,  # exp, log1p
    "softmax": 3,  # exp, sum, divide (over channels)
    "identity": 0,
}
ACTIVATION_ALIASES = {
    "swish": "silu",
    "hard_swish": "hardswish",
    "hard_sigmoid": "hardsigmoid",
    "leakyrelu": "leaky_relu",
    "linear": "identity",
    "none": "identity",
}

BN_FLOPS_PER_ELEMENT = 2  # inference: (x - mean) * scale + shift, folded into one mult-add
ADD_FLOPS_PER_ELEMENT = 1  # residual add


def _dims_text(dims: tuple[int, ...]) -> str:
    return "x".join(map(str, dims))


def elementwise(type_name: str, in_shape: Shape, out_shape: Shape, flops: int) -> Cost:
    """A parameter-free operation that leaves the receptive field alone (add, concat...)."""
    return Cost(type_name, in_shape, out_shape, flops=flops)


@register
class BatchNorm(Layer):
    type_name = "batchnorm"
    summary = "batch normalisation: 2 x C parameters (weight and bias), 2 FLOPs per element"
    fields = (Field("affine", Bool(), True, help="learnable scale and shift (torch's default)"),)

    def cost(self, shape: Shape) -> Cost:
        return Cost(
            self.type_name,
            shape,
            shape,
            params=2 * shape[0] if self.affine else 0,
            flops=BN_FLOPS_PER_ELEMENT * prod(shape),
        )


@register
class Activation(Layer):
    type_name = "activation"
    summary = "element-wise non-linearity (relu, relu6, sigmoid, tanh, gelu, silu, hardswish...)"
    fields = (
        Field("fn", Choice(*ACTIVATION_FLOPS, aliases=ACTIVATION_ALIASES), "relu", help="the function"),
    )

    def cost(self, shape: Shape) -> Cost:
        return Cost(
            self.type_name, shape, shape, flops=ACTIVATION_FLOPS[self.fn] * prod(shape), extra={"fn": self.fn}
        )


PRELU_FLOPS_PER_ELEMENT = ACTIVATION_FLOPS["leaky_relu"]  # compare, multiply by the slope


@register
class PReLU(Layer):
    """torch's nn.PReLU: max(0, x) + a min(0, x) with a learned slope ``a``, one for the whole
    tensor (torch's default ``num_parameters=1``) or one per channel (``per_channel``). FLOPs as
    leaky_relu: a compare and a multiply per element. Element-wise: the field is unchanged."""

    type_name = "prelu"
    summary = "PReLU: leaky ReLU with a learned slope (1 parameter, or one per channel), 2 FLOPs per element"
    fields = (
        Field(
            "per_channel",
            Bool(),
            False,
            help="one slope per channel (torch's num_parameters=C); default one for all (num_parameters=1)",
        ),
    )

    def cost(self, shape: Shape) -> Cost:
        return Cost(
            self.type_name,
            shape,
            shape,
            params=shape[0] if self.per_channel else 1,
            flops=PRELU_FLOPS_PER_ELEMENT * prod(shape),
        )

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        slopes = f"one per channel, C = {shape[0]}" if self.per_channel else "one for every element"
        return [
            f"prelu: {list(shape)} -> {list(c.output_shape)}, y = max(0, x) + a min(0, x)",
            f"params = {c.params:,} (the slope a: {slopes})",
            f"FLOPs = {PRELU_FLOPS_PER_ELEMENT} (compare, multiply) per element x {prod(shape):,} = {c.flops:,}",
        ]


@register
class Pool(Layer):
    type_name = "pool"
    summary = "max or average pooling (stride defaults to the kernel, as in torch)"
    spatial = True
    fields = (
        Field(
            "mode", Choice("max", "avg", aliases={"average": "avg", "mean": "avg"}), "max", help="max or avg"
        ),
        Field("kernel", Dims(1), help="window size", short="-k"),
        Field("stride", Dims(1), None, help="stride (default: the kernel size)", short="-s"),
        Field("padding", Dims(0), 0, help="padding per side (at most half the window)", short="-p"),
        Field("dilation", Dims(1), 1, help="dilation (max pooling only)", short="-d"),
        Field("ceil_mode", Bool(), False, help="round the output size up (torch's ceil_mode)"),
    )

    def validate(self) -> None:
        d = self.dilation
        if self.mode == "avg" and (d if isinstance(d, int) else max(d)) != 1:
            from ..errors import SpecError

            raise SpecError("dilation: average pooling has no dilation", field="dilation")

    def _dims(self, n: int) -> tuple[tuple[int, ...], ...]:
        k = per_dim(self, "kernel", n)
        s = k if self.stride is None else per_dim(self, "stride", n)
        return k, s, per_dim(self, "padding", n), per_dim(self, "dilation", n)

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        k, s, p, d = self._dims(n)
        for dim in range(n):
            if p[dim] > k[dim] // 2:  # torch: "pad should be at most half of kernel size"
                raise GeometryError(
                    f"{{padding}} must be at most half the kernel ({k[dim] // 2})",
                    field="padding",
                    padding=p[dim],
                )
        if self.mode == "avg" and n == 3 and any(i < kk for i, kk in zip(shape[1:], k)):
            # PyTorch's AvgPool3d refuses this even with padding ("input image smaller than
            # kernel size"); 1D and 2D average pooling accept it.
            raise GeometryError(
                "3D average pooling needs every input dim >= the {kernel} "
                f"(PyTorch's rule), got input {_dims_text(shape[1:])}",
                field="kernel",
                kernel=k if len(set(k)) > 1 else k[0],
            )
        out = tuple(
            shapes.pool_out(i, kk, ss, pp, dd, self.ceil_mode)
            for i, kk, ss, pp, dd in zip(shape[1:], k, s, p, d)
        )
        for dim, o in enumerate(out):
            if o < 1:
                raise GeometryError(
                    f"output size would be {o} (< 1): input size {shape[1 + dim]} "
                    "is smaller than the {kernel}",
                    field="kernel",
                    kernel=k[dim],
                )
        out_shape = (shape[0],) + out
        window = prod(k)
        per_out = window - 1 if self.mode == "max" else window  # compares, or adds + 1 divide
        return Cost(
            self.type_name,
            shape,
            out_shape,
            flops=per_out * prod(out_shape),
            rf=("window", tuple(shapes.effective_kernel(kk, dd) for kk, dd in zip(k, d)), s, p, d),
            extra={"mode": self.mode},
        )

    def size_lines(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        n = len(shape) - 1
        k, s, p, d = self._dims(n)
        rnd = "ceil" if self.ceil_mode else "floor"
        lines = []
        for dim in range(n):
            tag = f" [dim {dim + 1}]" if n > 1 else ""
            i, o = shape[1 + dim], c.output_shape[1 + dim]
            line = (
                f"o{tag} = {rnd}((i + 2p - d(k-1) - 1)/s) + 1 = {rnd}(({i} + 2*{p[dim]} - "
                f"{d[dim]}*({k[dim]}-1) - 1)/{s[dim]}) + 1"
            )
            raw = -(-(i + 2 * p[dim] - shapes.effective_kernel(k[dim], d[dim])) // s[dim]) + 1
            if self.ceil_mode and raw != o:
                line += " - 1 (the last window would start in the padding)"
            lines.append(f"{line} = {o}")
        return lines

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        n = len(shape) - 1
        lines = [f"{self.mode} pool ({n}D): input {list(shape)}"] + self.size_lines(shape)
        lines.append(
            f"FLOPs = {'(prod(k) - 1) compares' if self.mode == 'max' else 'prod(k) adds/divides'} "
            f"per output element = {c.flops:,}"
        )
        return lines


@register
class GlobalPool(Layer):
    type_name = "global_pool"
    summary = "global average or max pooling: every spatial dim becomes 1"
    spatial = True
    fields = (
        Field(
            "mode", Choice("avg", "max", aliases={"average": "avg", "mean": "avg"}), "avg", help="avg or max"
        ),
    )

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        size = shape[1:]
        window = prod(size)
        per_out = window - 1 if self.mode == "max" else window
        return Cost(
            self.type_name,
            shape,
            (shape[0],) + (1,) * n,
            flops=per_out * shape[0],
            rf=("window", size, size),
            extra={"mode": self.mode},
        )


@register
class AdaptivePool(Layer):
    type_name = "adaptive_pool"
    summary = "adaptive average or max pooling to a fixed output size (torch's AdaptiveAvgPool)"
    spatial = True
    fields = (
        Field(
            "mode", Choice("avg", "max", aliases={"average": "avg", "mean": "avg"}), "avg", help="avg or max"
        ),
        Field("output_size", Dims(1), help="output size, an int or one per dim"),
    )

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        out = per_dim(self, "output_size", n)
        # torch's windows: [floor(j*i/o), ceil((j+1)*i/o)) along each dim. Their sizes add up to
        # i + o - gcd(i, o): the sum of the ceilings exceeds that of the floors by i, plus one
        # for each j whose j*i/o is not an integer (o - gcd of them). Closed form: no loop over o.
        total_window = prod(i + o - gcd(i, o) for i, o in zip(shape[1:], out))
        count = prod(out)
        flops = shape[0] * (total_window - (count if self.mode == "max" else 0))
        return Cost(
            self.type_name,
            shape,
            (shape[0],) + out,
            flops=flops,
            rf=("adaptive", tuple(shape[1:]), out),
            extra={"mode": self.mode},
        )


@register
class ChannelShuffle(Layer):
    type_name = "channel_shuffle"
    summary = "ShuffleNet's channel shuffle between groups (a permutation: no FLOPs)"
    fields = (Field("groups", Int(1), help="number of groups", short="-g"),)

    def cost(self, shape: Shape) -> Cost:
        if shape[0] % self.groups:
            raise GeometryError(
                "{groups} must divide {in_channels}", field="groups", groups=self.groups, in_channels=shape[0]
            )
        return Cost(self.type_name, shape, shape)


@register
class Flatten(Layer):
    type_name = "flatten"
    summary = "flatten channels and spatial dims into one vector"
    fields = ()

    def cost(self, shape: Shape) -> Cost:
        return Cost(self.type_name, shape, (prod(shape),), rf=("drop",))


@register
class Linear(Layer):
    type_name = "linear"
    summary = "fully connected layer (flattens a spatial input first)"
    fields = (
        Field("out_features", Int(1), help="output features", short="-o"),
        Field("bias", Bool(), True, help="learnable bias (torch's default: on)"),
    )

    def cost(self, shape: Shape) -> Cost:
        fin = prod(shape)
        fout = self.out_features
        macs = fin * fout
        return Cost(
            self.type_name,
            shape,
            (fout,),
            params=macs + (fout if self.bias else 0),
            macs=macs,
            flops=2 * macs + (fout if self.bias else 0),
            rf=("drop",),
            extra={"weight_shape": (fout, fin)},
        )

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        fin = prod(shape)
        b = f" + {self.out_features}" if self.bias else ""
        return [
            f"linear: in_features = prod({list(shape)}) = {fin:,}",
            f"params = in * out{' + out' if self.bias else ''} = {fin:,} * {self.out_features}{b} = {c.params:,}",
            f"MACs = in * out = {c.macs:,}; FLOPs = 2 * MACs{b and ' + out (bias)'} = {c.flops:,}",
        ]


@register
class Dropout(Layer):
    type_name = "dropout"
    summary = "dropout (identity at inference: no cost)"
    fields = (Field("p", Float(0.0, 1.0), 0.5, help="drop probability"),)

    def cost(self, shape: Shape) -> Cost:
        return Cost(self.type_name, shape, shape)


@register
class Identity(Layer):
    type_name = "identity"
    summary = "does nothing (a placeholder)"
    fields = ()

    def cost(self, shape: Shape) -> Cost:
        return Cost(self.type_name, shape, shape)


@register
class Upsample(Layer):
    type_name = "upsample"
    summary = "nearest or (bi/tri)linear upsampling by an integer factor"
    spatial = True
    fields = (
        Field("scale", Dims(1), 2, help="integer scale factor, one or one per dim"),
        Field(
            "mode",
            Choice("nearest", "linear", aliases={"bilinear": "linear", "trilinear": "linear"}),
            "nearest",
            help="nearest, or linear (bilinear / trilinear by dims)",
        ),
    )

    def cost(self, shape: Shape) -> Cost:
        n = self.require_spatial(shape)
        f = per_dim(self, "scale", n)
        out = (shape[0],) + tuple(i * s for i, s in zip(shape[1:], f))
        # linear: 2^n - 1 lerps per output element, each a subtract, a multiply and an add
        per_out = 0 if self.mode == "nearest" else 3 * (2**n - 1)
        return Cost(
            self.type_name,
            shape,
            out,
            flops=per_out * prod(out),
            rf=("upsample", self.mode, f),
            extra={"mode": self.mode},
        )
