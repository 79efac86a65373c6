"""The lecture's central question as a table: for one input, output channels and kernel,
what do a standard, grouped, depthwise-separable, ShuffleNet-unit and dilated convolution
cost? Pure: returns costs, the reason a variant is impossible (and what would make it
possible), and which variants merely repeat another.

Padding and bias default to the single-layer commands' defaults (``convcalc conv``: padding 0,
bias on), so ``compare`` and ``conv`` agree for the same flags; ``--padding same`` keeps every
variant's output size equal to the input's.
"""

from __future__ import annotations

from fractions import Fraction
from math import prod
from typing import Any

from . import receptive
from .errors import ConvcalcError
from .layers.base import Cost
from .layers.composite import Separable, ShuffleUnit
from .layers.conv import Conv

GROUP_CANDIDATES = (4, 3, 2, 8)
HINT_SEARCH = 4096  # output channel counts tried when looking for a possible ShuffleNet unit


def conv_defaults() -> tuple[Any, bool]:
    """(padding, bias) as ``convcalc conv`` has them: the registry's field defaults."""
    fields = {f.name: f.default for f in Conv.fields}
    return fields["padding"], bool(fields["bias"])


class Variant:
    __slots__ = ("name", "config", "cost", "error", "receptive_field", "hint", "repeats")

    def __init__(
        self,
        name: str,
        config: str,
        cost: Cost | None = None,
        error: str = "",
        receptive_field: tuple[int | None, ...] | None = None,
        hint: str = "",
    ):
        self.name, self.config, self.cost, self.error = name, config, cost, error
        self.receptive_field = receptive_field
        self.hint = hint  # for an impossible variant: what would make it possible
        self.repeats = ""  # the earlier variant this one merely repeats (same layer, same cost)


class Comparison:
    def __init__(
        self,
        shape: tuple[int, ...],
        out_channels: int,
        kernel: tuple[int, ...],
        variants: list[Variant],
        groups: int,
        dilation: int,
        groups_auto: bool,
        stride: Any = 1,
        padding: Any = 0,
        bias: bool = True,
    ):
        self.shape = shape
        self.out_channels = out_channels
        self.kernel = kernel
        self.variants = variants
        self.groups = groups
        self.dilation = dilation
        self.groups_auto = groups_auto
        self.stride = stride
        self.padding = padding
        self.bias = bias

    @property
    def standard(self) -> Cost:
        cost = self.variants[0].cost
        assert cost is not None
        return cost

    def variant(self, prefix: str) -> Variant | None:
        return next((v for v in self.variants if v.name.startswith(prefix)), None)

    def mobilenet_ratio(self) -> Fraction:
        """MobileNet's analytic cost ratio, depthwise-separable / standard = 1/C_out + 1/k^2."""
        return Fraction(1, self.out_channels) + Fraction(1, prod(self.kernel))


def pick_groups(c_in: int, c_out: int) -> int:
    for g in GROUP_CANDIDATES:
        if c_in % g == 0 and c_out % g == 0:
            return g
    return 1


def _shuffle(out_channels: int, groups: int, stride: Any, kernel: Any) -> ShuffleUnit:
    return ShuffleUnit(
        out_channels=out_channels,
        groups=groups,
        stride=stride,
        kernel=kernel,
        bottleneck=None,
        first_grouped=True,
        batchnorm=True,
    )


def _possible(shape: tuple[int, ...], out_channels: int, groups: int, stride: Any, kernel: Any) -> bool:
    try:
        _shuffle(out_channels, groups, stride, kernel).cost(shape)
    except ConvcalcError:
        return False
    return True


def shuffle_hint(shape: tuple[int, ...], out_channels: int, groups: int, stride: Any, kernel: Any) -> str:
    """What would make the ShuffleNet unit possible, changing as little as it can: other
    groups, the nearest output channels, or a stride of 2 (a concat shortcut); the search is
    bounded."""
    c_in = shape[0]
    down = _max(stride) > 1
    others = [g for g in dict.fromkeys((*GROUP_CANDIDATES, 1)) if g != groups]

    def flags(c: int, g: int, s: Any) -> str:
        out = []
        if s != stride:
            out.append(f"-s {s}")
        if c != out_channels:
            out.append(f"-o {c}")
        if g != groups:
            out.append(f"--groups {g}")
        return " ".join(out)

    def nearby(lo: int) -> list[int]:
        cs = [out_channels] if out_channels >= lo else []
        for d in range(1, HINT_SEARCH + 1):
            cs += [c for c in (out_channels + d, out_channels - d) if c >= lo]
        return cs

    for g in others:
        if _possible(shape, out_channels, g, stride, kernel):
            return "possible with " + flags(out_channels, g, stride)
    plans: list[tuple[Any, list[int]]] = [(stride, [c_in] if not down else nearby(c_in + 1))]
    if not down:
        plans.append((2, nearby(c_in + 1)))
    for s, cs in plans:
        for c in cs:
            for g in (groups, *others):
                if _possible(shape, c, g, s, kernel):
                    return "possible with " + flags(c, g, s)
    return "no nearby -o, --groups or -s makes it possible"


def compare(
    shape: tuple[int, ...],
    out_channels: int,
    kernel: Any,
    stride: Any = 1,
    padding: Any = None,
    groups: int | None = None,
    dilation: int = 2,
    bias: bool | None = None,
) -> Comparison:
    """Every variant's cost. ``padding``/``bias`` None: the single-layer commands' defaults."""
    default_padding, default_bias = conv_defaults()
    padding = default_padding if padding is None else padding
    bias = default_bias if bias is None else bias
    n = len(shape) - 1
    k = kernel if isinstance(kernel, tuple) else (kernel,) * n
    auto = groups is None
    g = pick_groups(shape[0], out_channels) if auto else groups
    assert g is not None
    common = dict(out_channels=out_channels, kernel=kernel, stride=stride, padding=padding, bias=bias)
    specs: list[tuple[str, str, Any, str]] = [
        ("standard", "g=1", Conv(dilation=1, groups=1, **common), ""),
        (f"grouped (g={g})", f"g={g}", Conv(dilation=1, groups=g, **common), "standard" if g == 1 else ""),
        (
            "depthwise-separable",
            "depthwise k x k + pointwise 1x1",
            Separable(dilation=1, multiplier=1, **common),
            "",
        ),
        (
            f"ShuffleNet unit (g={g})",
            f"m = C_out/4, {'add' if _max(stride) == 1 else 'concat'} shortcut",
            _shuffle(out_channels, g, stride, kernel),
            "",
        ),
        (
            f"dilated (d={dilation})",
            f"d={dilation}: same weights, wider field",
            Conv(dilation=dilation, groups=1, **common),
            "standard" if dilation == 1 or all(x == 1 for x in k) else "",
        ),
    ]
    variants = []
    for name, config, layer, repeats in specs:
        try:
            cost = layer.cost(shape)
        except ConvcalcError as e:
            hint = shuffle_hint(shape, out_channels, g, stride, kernel) if name.startswith("Shuffle") else ""
            variants.append(Variant(name, config, error=e.message, hint=hint))
            continue
        rf = receptive.fields(receptive.apply(receptive.initial(n), cost))
        v = Variant(name, config, cost, receptive_field=rf)
        v.repeats = repeats
        variants.append(v)
    if variants[0].cost is None:
        raise ConvcalcError(f"a standard conv is impossible here: {variants[0].error}")
    return Comparison(shape, out_channels, k, variants, g, dilation, auto, stride, padding, bias)


def _max(v: Any) -> int:
    return max(v) if isinstance(v, tuple) else int(v)
