"""Normalisation computed from the sample itself (layer, group and instance norm) and the
learnable per-channel multiply of ConvNeXt (layer scale).

Unlike inference-time batch norm (a folded scale and shift), these layers compute their
statistics from every sample, at inference too. FLOPs convention, per element normalised:
1 add for the mean's sum, 1 subtract (centre), 1 multiply (square), 1 add for the variance's
sum, 1 multiply by 1/std = ``NORM_FLOPS_PER_ELEMENT`` (5); per group of statistics (the set
of elements sharing one mean and variance): add eps and take the reciprocal square root =
``NORM_FLOPS_PER_GROUP`` (2; the two divisions by the group size are folded into the sums);
then the affine step: 1 multiply, plus 1 add with a bias. No MACs (torch counts none).
"""

from __future__ import annotations

from math import prod

from ..errors import GeometryError
from .base import Cost, Layer, Shape, register
from .fields import Bool, Field, Float, Int

NORM_FLOPS_PER_ELEMENT = 5  # mean sum, centre, square, variance sum, scale by 1/std
NORM_FLOPS_PER_GROUP = 2  # + eps, rsqrt


def _shape(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def norm_cost(type_name: str, shape: Shape, groups: int, weight: bool, bias: bool, rf: tuple | None) -> Cost:
    """A normalisation with ``groups`` sets of statistics per sample and an optional per-channel
    affine step (``weight``: C multipliers, ``bias``: C shifts)."""
    c, elems = shape[0], prod(shape)
    affine = (1 if weight else 0) + (1 if bias else 0)
    return Cost(
        type_name,
        shape,
        shape,
        params=c * affine,
        flops=(NORM_FLOPS_PER_ELEMENT + affine) * elems + NORM_FLOPS_PER_GROUP * groups,
        rf=rf,
        extra={"groups": groups},
    )


def _norm_explain(layer: Layer, shape: Shape, what: str, group_size: str) -> list[str]:
    c = layer.cost(shape)
    g = c.extra["groups"] if c.extra else 0
    elems = prod(shape)
    affine = c.params // shape[0]
    lines = [
        f"{layer.type_name}: input {_shape(shape)}; {what}: {g:,} mean/variance pairs of {group_size}",
        f"params = {affine} x C = {affine} x {shape[0]} = {c.params:,}"
        + ("" if affine else " (no affine step)"),
        f"FLOPs = ({NORM_FLOPS_PER_ELEMENT} + {affine}) per element x {elems:,} + "
        f"{NORM_FLOPS_PER_GROUP} per statistics group x {g:,} = {c.flops:,}",
    ]
    return lines


@register
class LayerNorm(Layer):
    type_name = "layernorm"
    summary = "layer norm over the channels at each position (ConvNeXt's LayerNorm2d), 2 x C params"
    fields = (
        Field(
            "affine", Bool(), True, help="learnable per-channel weight and bias (torch's elementwise_affine)"
        ),
        Field("bias", Bool(), True, help="the affine step's bias (torch's bias=False: weight only)"),
    )

    def cost(self, shape: Shape) -> Cost:
        positions = prod(shape[1:])
        return norm_cost(self.type_name, shape, positions, self.affine, self.affine and self.bias, None)

    def explain(self, shape: Shape) -> list[str]:
        return _norm_explain(self, shape, "one per position", f"C = {shape[0]} channels")


@register
class GroupNorm(Layer):
    type_name = "groupnorm"
    summary = "group norm: statistics per group of channels over all positions (torch's GroupNorm)"
    fields = (
        Field("groups", Int(1), help="number of channel groups (must divide the channels)", short="-g"),
        Field("affine", Bool(), True, help="learnable per-channel weight and bias (torch's default)"),
    )

    def cost(self, shape: Shape) -> Cost:
        c, g = shape[0], self.groups
        if c % g:
            raise GeometryError("{groups} must divide {in_channels}", field="groups", groups=g, in_channels=c)
        if c // g * prod(shape[1:]) == 1:
            raise GeometryError(
                f"each group holds a single element (C/groups x positions = 1 for input {_shape(shape)}), "
                "whose normalised value is always 0 (torch refuses it)",
                field="groups",
            )
        return norm_cost(self.type_name, shape, g, self.affine, self.affine, ("whole",))

    def explain(self, shape: Shape) -> list[str]:
        per = shape[0] // self.groups * prod(shape[1:])
        return _norm_explain(self, shape, "one per group", f"C/groups x positions = {per:,} elements")


@register
class InstanceNorm(Layer):
    type_name = "instancenorm"
    summary = "instance norm: statistics per channel over all positions (torch's InstanceNorm)"
    spatial = True
    fields = (
        Field("affine", Bool(), False, help="learnable per-channel weight and bias (torch's default: off)"),
    )

    def cost(self, shape: Shape) -> Cost:
        self.require_spatial(shape)
        if prod(shape[1:]) == 1:
            raise GeometryError(
                f"needs more than one position per channel, got input {_shape(shape)} "
                "(a single element normalises to 0; torch refuses it)"
            )
        return norm_cost(self.type_name, shape, shape[0], self.affine, self.affine, ("whole",))

    def explain(self, shape: Shape) -> list[str]:
        return _norm_explain(self, shape, "one per channel", f"{prod(shape[1:]):,} positions")


LRN_FLOPS_BESIDES_SUM = 5  # per element: square, multiply by alpha/size, add k, pow, divide


@register
class LRN(Layer):
    """torch's nn.LocalResponseNorm(size, alpha, beta, k) (AlexNet, GoogLeNet): each element
    divided by (k + alpha/size x the sum of the squares of ``size`` neighbouring channels at its
    position)^beta, the window zero-padded at the ends of the channels. No parameters, no MACs.
    FLOPs per element (a convention): 1 square, size - 1 adds of the window's sum, 1 multiply by
    alpha/size, 1 add of k, 1 power, 1 divide = size + 4. alpha, beta and k change no count but
    are kept (export writes them). Mixes channels only: the spatial field is unchanged. Needs an
    input of 2 or more dims (channels and at least one more), as torch's 3D-or-more with the batch."""

    type_name = "lrn"
    summary = "local response normalisation across channels (AlexNet): no params, size + 4 FLOPs per element"
    fields = (
        Field("size", Int(1), help="channels in the window (torch's size)", short="-n"),
        Field("alpha", Float(0.0), 1e-4, help="multiplicative factor (torch's default 1e-4)"),
        Field("beta", Float(0.0), 0.75, help="exponent (torch's default 0.75)"),
        Field("k", Float(0.0), 1.0, help="additive constant (torch's default 1; ONNX's bias)"),
    )

    def per_element(self) -> int:
        """size + 4: the window's size - 1 adds and the other five steps."""
        return self.size - 1 + LRN_FLOPS_BESIDES_SUM

    def cost(self, shape: Shape) -> Cost:
        if len(shape) < 2:
            raise GeometryError(
                f"lrn needs an input of channels and at least one more dim (torch's 3D or more with the "
                f"batch), got {_shape(shape)}"
            )
        return Cost(self.type_name, shape, shape, flops=self.per_element() * prod(shape))

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        return [
            f"lrn: input {_shape(shape)}, x / (k + alpha/size x sum of x^2 over {self.size} channels)^beta",
            "params = 0, MACs = 0",
            f"FLOPs = (size + 4) per element (square, size - 1 adds, scale, + k, pow, divide) = "
            f"{self.per_element()} x {prod(shape):,} = {c.flops:,}",
        ]


@register
class Scale(Layer):
    type_name = "scale"
    summary = "learnable per-channel multiply (ConvNeXt's layer scale): C params, 1 FLOP per element"
    fields = (Field("bias", Bool(), False, help="also a learnable per-channel shift (C more parameters)"),)

    def cost(self, shape: Shape) -> Cost:
        per = 2 if self.bias else 1
        return Cost(self.type_name, shape, shape, params=per * shape[0], flops=per * prod(shape))

    def explain(self, shape: Shape) -> list[str]:
        c = self.cost(shape)
        per = 2 if self.bias else 1
        what = "multiply and add" if self.bias else "multiply"
        return [
            f"scale: input {_shape(shape)}, y = x * gamma{' + beta' if self.bias else ''} "
            f"(gamma{', beta' if self.bias else ''}: one per channel)",
            f"params = {per} x C = {per} x {shape[0]} = {c.params:,}",
            f"FLOPs = {per} ({what}) per element x {prod(shape):,} = {c.flops:,}",
        ]
