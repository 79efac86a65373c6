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
from .fields import Bool, Field, Int

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
