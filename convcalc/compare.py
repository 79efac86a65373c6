"""The lecture's central question as a table: for one input, output channels and kernel,
what do a standard, grouped, depthwise-separable, ShuffleNet-unit and dilated convolution
cost? Pure: returns costs, or the reason a variant is impossible for these numbers."""

from __future__ import annotations

from fractions import Fraction
from math import prod

from . import receptive
from .errors import ConvcalcError
from .layers.composite import Separable, ShuffleUnit
from .layers.conv import Conv

GROUP_CANDIDATES = (4, 3, 2, 8)


class Variant:
    __slots__ = ("name", "config", "cost", "error", "receptive_field")

    def __init__(self, name: str, config: str, cost=None, error: str = "", receptive_field=None):
        self.name, self.config, self.cost, self.error = name, config, cost, error
        self.receptive_field = receptive_field


class Comparison:
    def __init__(self, shape, out_channels, kernel, variants, groups, dilation, groups_auto):
        self.shape = shape
        self.out_channels = out_channels
        self.kernel = kernel
        self.variants = variants
        self.groups = groups
        self.dilation = dilation
        self.groups_auto = groups_auto

    @property
    def standard(self):
        return self.variants[0].cost

    def mobilenet_ratio(self) -> Fraction:
        """MobileNet's analytic cost ratio, depthwise-separable / standard = 1/C_out + 1/k^2."""
        return Fraction(1, self.out_channels) + Fraction(1, prod(self.kernel))


def pick_groups(c_in: int, c_out: int) -> int:
    for g in GROUP_CANDIDATES:
        if c_in % g == 0 and c_out % g == 0:
            return g
    return 1


def compare(
    shape: tuple,
    out_channels: int,
    kernel,
    stride=1,
    padding="same",
    groups: int | None = None,
    dilation: int = 2,
    bias: bool = False,
) -> Comparison:
    n = len(shape) - 1
    k = kernel if isinstance(kernel, tuple) else (kernel,) * n
    auto = groups is None
    g = pick_groups(shape[0], out_channels) if auto else groups
    common = dict(out_channels=out_channels, kernel=kernel, stride=stride, padding=padding, bias=bias)
    specs = [
        ("standard", "g=1", Conv(dilation=1, groups=1, **common)),
        (f"grouped (g={g})", f"g={g}", Conv(dilation=1, groups=g, **common)),
        (
            "depthwise-separable",
            "depthwise k x k + pointwise 1x1",
            Separable(dilation=1, multiplier=1, **common),
        ),
        (
            f"ShuffleNet unit (g={g})",
            f"m = C_out/4, {'add' if _max(stride) == 1 else 'concat'} shortcut",
            ShuffleUnit(
                out_channels=out_channels,
                groups=g,
                stride=stride,
                kernel=kernel,
                bottleneck=None,
                first_grouped=True,
                batchnorm=True,
            ),
        ),
        (
            f"dilated (d={dilation})",
            f"d={dilation}: same weights, wider field",
            Conv(dilation=dilation, groups=1, **common),
        ),
    ]
    variants = []
    for name, config, layer in specs:
        try:
            cost = layer.cost(shape)
        except ConvcalcError as e:
            variants.append(Variant(name, config, error=e.message))
            continue
        rf = receptive.fields(receptive.apply(receptive.initial(n), cost))
        variants.append(Variant(name, config, cost, receptive_field=rf))
    if variants[0].cost is None:
        raise ConvcalcError(f"a standard conv is impossible here: {variants[0].error}")
    return Comparison(shape, out_channels, k, variants, g, dilation, auto)


def _max(v) -> int:
    return max(v) if isinstance(v, tuple) else v
