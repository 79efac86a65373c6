"""A network as PyTorch source: ``convcalc export --torch``.

``torch_source(graph)`` writes a self-contained Python file (it imports only torch) defining an
``nn.Module`` equivalent to the network: the same layers, shapes and parameters, one submodule
per graph node, a ``forward`` that follows the graph (merges, several outputs), ``build()`` and
``INPUT_SHAPE``. Writing it needs no torch: this module only makes text.

Every layer type has one emitter in ``EMITTERS`` (type name -> function of the layer and its
input shapes giving a constructor expression and the helper classes it needs); adding a layer
type means adding its emitter here (a test fails for a registered type without one). Module
names follow the report's row names: ``stage2.block1.conv2`` is ``self.stage2.block1.conv2``
(blocks become containers, a repeat's copies are numbered like ``nn.Sequential``'s), so the
state dict keys, the per-module counts of torch's FlopCounterMode and convcalc's rows line up.
The module is written for the network's input shape: 'same' padding at a stride > 1 pads by the
amounts computed for it (TensorFlow's rule, as ``F.pad`` then the convolution), and a linear
layer's input features are fixed, as in any PyTorch model.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from math import prod
from typing import Any

from . import shapes as shape_math
from .errors import ConvcalcError
from .graph import Graph
from .layers.base import Layer, Shape, per_dim

# -- what an emitter returns ------------------------------------------------------------------------


@dataclass(frozen=True)
class Emit:
    """A constructor expression (``nn.Conv2d(3, 64, 7, stride=2, padding=3, bias=False)``) and the
    helper definitions (names in ``HELPERS``) it uses."""

    code: str
    helpers: tuple[str, ...] = ()


Emitter = Callable[[Layer, tuple[Shape, ...]], Emit]


class ExportError(ConvcalcError):
    """A layer that cannot be written (a bug: every registered type has an emitter)."""


EMITTERS: dict[str, Emitter] = {}


def emitter(*type_names: str) -> Callable[[Emitter], Emitter]:
    """Register the emitter of one or more layer types."""

    def deco(fn: Emitter) -> Emitter:
        for t in type_names:
            if t in EMITTERS:
                raise RuntimeError(f"layer type {t!r} has two emitters")
            EMITTERS[t] = fn
        return fn

    return deco


# -- formatting values as Python source ---------------------------------------------------------------
def py(v: Any) -> str:
    """A value (int, float, bool, str, None, tuples of them) as Python source."""
    if isinstance(v, tuple):
        return "(" + ", ".join(py(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    return repr(v)


def dims(v: int | tuple[int, ...]) -> int | tuple[int, ...]:
    """A per-dim tuple written as one int when every dim agrees (as torch code usually is)."""
    if isinstance(v, tuple) and len(set(v)) == 1:
        return v[0]
    return v


def call(fn: str, *args: Any, **kwargs: Any) -> str:
    """``fn(arg, ..., key=value, ...)`` with the values written by ``py``; keyword arguments whose
    value is ``_DEFAULT`` are left out."""
    parts = [py(a) for a in args]
    parts += [f"{k}={py(v)}" for k, v in kwargs.items() if v is not _DEFAULT]
    return f"{fn}({', '.join(parts)})"


class _Default:
    def __repr__(self) -> str:  # pragma: no cover - never written
        return "<default>"


_DEFAULT: Any = _Default()


def kw(value: Any, default: Any) -> Any:
    """``value``, or the marker that leaves a keyword out when it is torch's default."""
    return _DEFAULT if value == default else value


def _n(shape: Shape) -> int:
    return len(shape) - 1


# -- helper definitions written into the file when used -----------------------------------------------
# name -> (source, names of the helpers it needs)
HELPERS: dict[str, tuple[str, tuple[str, ...]]] = {}


def helper(name: str, source: str, needs: tuple[str, ...] = ()) -> None:
    HELPERS[name] = (source.strip("\n") + "\n", needs)


helper(
    "Block",
    '''
class Block(nn.Module):
    """A group of layers (a block of the spec, or a repeat's copies, numbered from 0)."""

    def __getitem__(self, key):
        return self._modules[str(key)]
''',
)

for _k in (1, 2, 3):
    helper(
        f"Conv{_k}dSame",
        f'''
class Conv{_k}dSame(nn.Conv{_k}d):
    """nn.Conv{_k}d with TensorFlow's 'SAME' padding at a stride > 1 (torch's padding='same' is for
    stride 1 only): F.pad by ``pads`` (computed for INPUT_SHAPE; the odd pixel after), then the
    convolution without padding."""

    def __init__(self, *args, pads=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.pads = pads  # F.pad's order: the last dim first

    def forward(self, x):
        return super().forward(F.pad(x, self.pads))
''',
    )

helper(
    "FlatLinear",
    '''
class FlatLinear(nn.Linear):
    """nn.Linear on the flattened sample (channels and spatial dims)."""

    def forward(self, x):
        return super().forward(x.flatten(1))
''',
)

helper(
    "ChannelShuffle",
    '''
class ChannelShuffle(nn.Module):
    """ShuffleNet's channel shuffle for any rank (nn.ChannelShuffle needs spatial dims)."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c = x.shape[0], x.shape[1]
        return x.reshape(n, self.groups, c // self.groups, -1).transpose(1, 2).reshape(x.shape)
''',
)

helper(
    "Add",
    '''
class Add(nn.Module):
    """The sum of several tensors. ``lift`` (when the inputs' ranks differ): unit dims to insert
    after the batch dim of each input, so that the shapes without the batch broadcast aligned
    on the right (as convcalc's add and mul do)."""

    def __init__(self, lift=None):
        super().__init__()
        self.lift = lift

    def forward(self, *xs):
        if self.lift is not None:
            xs = [x[(slice(None),) + (None,) * k] for x, k in zip(xs, self.lift)]
        y = xs[0]
        for x in xs[1:]:
            y = y + x
        return y
''',
)

helper(
    "Mul",
    '''
class Mul(nn.Module):
    """The element-wise product of several tensors (``lift``: as Add's)."""

    def __init__(self, lift=None):
        super().__init__()
        self.lift = lift

    def forward(self, *xs):
        if self.lift is not None:
            xs = [x[(slice(None),) + (None,) * k] for x, k in zip(xs, self.lift)]
        y = xs[0]
        for x in xs[1:]:
            y = y * x
        return y
''',
)

helper(
    "Cat",
    '''
class Cat(nn.Module):
    """torch.cat of several tensors along ``dim`` (of the batched tensors)."""

    def __init__(self, dim):
        super().__init__()
        self.dim = dim

    def forward(self, *xs):
        return torch.cat(xs, self.dim)
''',
)

helper(
    "ChannelLayerNorm",
    '''
class ChannelLayerNorm(nn.LayerNorm):
    """nn.LayerNorm over the channels at each position of a channels-first tensor (ConvNeXt's
    LayerNorm2d): channels last, normalise, channels first again."""

    def forward(self, x):
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)
''',
)

helper(
    "LayerScale",
    '''
class LayerScale(nn.Module):
    """A learnable per-channel multiply (ConvNeXt's layer scale), with an optional shift."""

    def __init__(self, channels, spatial_dims, bias=False):
        super().__init__()
        shape = (channels,) + (1,) * spatial_dims
        self.gamma = nn.Parameter(torch.ones(shape))
        self.beta = nn.Parameter(torch.zeros(shape)) if bias else None

    def forward(self, x):
        y = x * self.gamma
        return y if self.beta is None else y + self.beta
''',
)

helper(
    "ResizeLike",
    '''
class ResizeLike(nn.Module):
    """F.interpolate to the spatial size of another tensor (the second argument)."""

    def __init__(self, mode="nearest", align_corners=None):
        super().__init__()
        self.mode, self.align_corners = mode, align_corners

    def forward(self, x, like):
        return F.interpolate(x, size=like.shape[2:], mode=self.mode, align_corners=self.align_corners)
''',
)

helper(
    "Crop",
    '''
class Crop(nn.Module):
    """Removes ``begin`` elements at the start and ``end`` at the end of each spatial dim."""

    def __init__(self, begin, end):
        super().__init__()
        self.index = (slice(None), slice(None)) + tuple(slice(b, -e if e else None) for b, e in zip(begin, end))

    def forward(self, x):
        return x[self.index]
''',
)

helper(
    "PixelShuffleND",
    '''
class PixelShuffleND(nn.Module):
    """Pixel shuffle over any number of spatial dims: (B, C r^n, *i) -> (B, C, *(i r)); for 2
    spatial dims it is nn.PixelShuffle."""

    def __init__(self, factor, spatial_dims):
        super().__init__()
        self.r, self.n = factor, spatial_dims

    def forward(self, x):
        r, n = self.r, self.n
        b, c, size = x.shape[0], x.shape[1], x.shape[2:]
        y = x.reshape(b, c // r**n, *([r] * n), *size)
        order = [0, 1] + [k for d in range(n) for k in (2 + n + d, 2 + d)]
        return y.permute(order).reshape(b, c // r**n, *(i * r for i in size))
''',
)

helper(
    "PixelUnshuffleND",
    '''
class PixelUnshuffleND(nn.Module):
    """Pixel unshuffle over any number of spatial dims: (B, C, *(i r)) -> (B, C r^n, *i); for 2
    spatial dims it is nn.PixelUnshuffle."""

    def __init__(self, factor, spatial_dims):
        super().__init__()
        self.r, self.n = factor, spatial_dims

    def forward(self, x):
        r, n = self.r, self.n
        b, c, size = x.shape[0], x.shape[1], x.shape[2:]
        y = x.reshape(b, c, *[v for i in size for v in (i // r, r)])
        order = [0, 1] + [3 + 2 * d for d in range(n)] + [2 + 2 * d for d in range(n)]
        return y.permute(order).reshape(b, c * r**n, *(i // r for i in size))
''',
)

helper(
    "SelfAttention",
    '''
class SelfAttention(nn.Module):
    """Multi-head self-attention over the spatial positions (tokens) with the channels as the
    embedding, written out (q, k, v from one projection as nn.MultiheadAttention's in_proj;
    softmax(q k^T / sqrt(d)) v per head; the output projection), so that every matrix product
    is visible to torch's FlopCounterMode."""

    def __init__(self, embed_dim, heads, size, bias=True):
        super().__init__()
        self.heads, self.size = heads, tuple(size)  # the spatial size (of INPUT_SHAPE's layer input)
        self.in_proj = nn.Linear(embed_dim, 3 * embed_dim, bias=bias)
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)

    def forward(self, x):
        e, h = self.in_proj.in_features, self.heads
        n = 1
        for s in self.size:
            n *= s
        qkv = self.in_proj(x.flatten(2).transpose(1, 2))  # (B, N tokens, 3E)
        q, k, v = (qkv[:, :, i * e : (i + 1) * e].reshape(-1, n, h, e // h).transpose(1, 2) for i in range(3))
        y = ((q @ k.transpose(-2, -1)) / (e // h) ** 0.5).softmax(dim=-1) @ v
        return self.out_proj(y.transpose(1, 2).reshape(-1, n, e)).transpose(1, 2).reshape((-1, e) + self.size)
''',
)

helper(
    "Separable",
    '''
class Separable(nn.Module):
    """A depthwise convolution, then a pointwise (1x1) one: the MobileNet building block."""

    def __init__(self, depthwise, pointwise):
        super().__init__()
        self.depthwise, self.pointwise = depthwise, pointwise

    def forward(self, x):
        return self.pointwise(self.depthwise(x))
''',
)

helper(
    "SqueezeExcitation",
    '''
class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation for 1 to 3 spatial dims: global average pool, 1x1 conv
    C -> S, activation, 1x1 conv S -> C, gate, times the input."""

    def __init__(self, spatial_dims, channels, squeeze, activation, gate):
        super().__init__()
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[spatial_dims - 1]
        self.avgpool = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[spatial_dims - 1](1)
        self.fc1 = conv(channels, squeeze, 1)
        self.fc2 = conv(squeeze, channels, 1)
        self.activation = activation
        self.scale_activation = gate

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x
''',
)

helper(
    "ShuffleUnit",
    '''
class ShuffleUnit(nn.Module):
    """ShuffleNet v1 unit (Zhang et al. 2018, Fig. 2 b/c): 1x1 group conv, BN, ReLU, channel
    shuffle, k x k depthwise conv (stride s), BN, 1x1 group conv, BN; stride 1: + the input;
    stride > 1: concatenated with a 3x3 average pool of the input; then ReLU."""

    def __init__(self, spatial_dims, c_in, c_out, groups, stride, kernel, bottleneck, first_grouped, batchnorm):
        super().__init__()
        n = spatial_dims
        conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[n - 1]
        bn = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[n - 1]
        self.down = max(stride) > 1
        main = c_out - c_in if self.down else c_out
        self.gconv1 = conv(c_in, bottleneck, 1, groups=groups if first_grouped else 1, bias=False)
        self.bn1 = bn(bottleneck) if batchnorm else None
        self.relu1 = nn.ReLU()
        self.shuffle = nn.ChannelShuffle(groups)
        pad = tuple(k // 2 for k in kernel)
        self.dwconv = conv(bottleneck, bottleneck, kernel, stride, pad, groups=bottleneck, bias=False)
        self.bn2 = bn(bottleneck) if batchnorm else None
        self.gconv2 = conv(bottleneck, main, 1, groups=groups, bias=False)
        self.bn3 = bn(main) if batchnorm else None
        avgpool = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d)[n - 1]
        self.shortcut_pool = avgpool(3, stride, 1) if self.down else None
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.gconv1(x)
        if self.bn1 is not None:
            y = self.bn1(y)
        y = self.dwconv(self.shuffle(self.relu1(y)))
        if self.bn2 is not None:
            y = self.bn2(y)
        y = self.gconv2(y)
        if self.bn3 is not None:
            y = self.bn3(y)
        y = torch.cat([y, self.shortcut_pool(x)], 1) if self.down else y + x
        return self.relu(y)
''',
)


# -- the emitters ---------------------------------------------------------------------------------------
CONV = "nn.Conv{n}d"
ACTIVATIONS = {
    "relu": "nn.ReLU()",
    "relu6": "nn.ReLU6()",
    "leaky_relu": "nn.LeakyReLU()",
    "elu": "nn.ELU()",
    "selu": "nn.SELU()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
    "hardsigmoid": "nn.Hardsigmoid()",
    "silu": "nn.SiLU()",
    "hardswish": "nn.Hardswish()",
    "gelu": 'nn.GELU(approximate="tanh")',
    "mish": "nn.Mish()",
    "softplus": "nn.Softplus()",
    "softmax": "nn.Softmax(dim=1)",
    "identity": "nn.Identity()",
}
LINEAR_MODES = {1: "linear", 2: "bilinear", 3: "trilinear"}
PAD_MODULES = {
    "zeros": "nn.ZeroPad{n}d",
    "reflect": "nn.ReflectionPad{n}d",
    "replicate": "nn.ReplicationPad{n}d",
}


def conv_module(
    shape: Shape,
    c_out: int,
    kernel: int | tuple[int, ...],
    stride: int | tuple[int, ...],
    padding: Any,
    dilation: int | tuple[int, ...],
    groups: int,
    bias: bool,
    layer: Layer,
) -> Emit:
    """nn.ConvNd with convcalc's padding words: 'valid' (0), 'same' (torch's padding='same' at
    stride 1; TensorFlow's rule, F.pad then no padding, at a larger stride)."""
    n = _n(shape)
    k = kernel if isinstance(kernel, tuple) else (kernel,) * n
    s = stride if isinstance(stride, tuple) else (stride,) * n
    d = dilation if isinstance(dilation, tuple) else (dilation,) * n
    keys = dict(
        stride=kw(dims(s), 1),
        padding=_DEFAULT,
        dilation=kw(dims(d), 1),
        groups=kw(groups, 1),
        bias=kw(bias, True),
    )
    if padding == "same" and any(x != 1 for x in s):
        pads: list[int] = []
        for i, kk, ss, dd in reversed(list(zip(shape[1:], k, s, d))):
            pads += shape_math.same_padding(i, kk, ss, dd)
        return Emit(
            call(f"Conv{n}dSame", shape[0], c_out, dims(k), **keys, pads=tuple(pads)), (f"Conv{n}dSame",)
        )
    if padding == "same":
        keys["padding"] = "same"
    elif padding != "valid":
        keys["padding"] = kw(dims(per_dim(layer, "padding", n)), 0)
    return Emit(call(CONV.format(n=n), shape[0], c_out, dims(k), **keys))


@emitter("conv")
def _conv(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p = layer.params
    return conv_module(
        shapes[0],
        p["out_channels"],
        p["kernel"],
        p["stride"],
        p["padding"],
        p["dilation"],
        p["groups"],
        p["bias"],
        layer,
    )


def _depthwise_module(layer: Layer, shape: Shape, c_out: int | None) -> Emit:
    p = layer.params
    out = c_out if c_out is not None else shape[0] * p["multiplier"]
    return conv_module(
        shape, out, p["kernel"], p["stride"], p["padding"], p["dilation"], shape[0], p["bias"], layer
    )


@emitter("depthwise")
def _depthwise(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return _depthwise_module(layer, shapes[0], layer.params["out_channels"])


@emitter("pointwise")
def _pointwise(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, shape = layer.params, shapes[0]
    n = _n(shape)
    stride = dims(per_dim(layer, "stride", n))
    return Emit(
        call(
            CONV.format(n=n),
            shape[0],
            p["out_channels"],
            1,
            stride=kw(stride, 1),
            groups=kw(p["groups"], 1),
            bias=kw(p["bias"], True),
        )
    )


@emitter("transposed")
def _transposed(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, shape = layer.params, shapes[0]
    n = _n(shape)

    def d(name: str) -> int | tuple[int, ...]:
        return dims(per_dim(layer, name, n))

    return Emit(
        call(
            f"nn.ConvTranspose{n}d",
            shape[0],
            p["out_channels"],
            d("kernel"),
            stride=kw(d("stride"), 1),
            padding=kw(d("padding"), 0),
            output_padding=kw(d("output_padding"), 0),
            groups=kw(p["groups"], 1),
            bias=kw(p["bias"], True),
            dilation=kw(d("dilation"), 1),
        )
    )


@emitter("separable")
def _separable(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, shape = layer.params, shapes[0]
    dw = _depthwise_module(layer, shape, None)
    pw = call(
        CONV.format(n=_n(shape)), shape[0] * p["multiplier"], p["out_channels"], 1, bias=kw(p["bias"], True)
    )
    return Emit(f"Separable({dw.code}, {pw})", ("Separable", *dw.helpers))


@emitter("shuffle")
def _shuffle(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, shape = layer.params, shapes[0]
    n = _n(shape)
    bottleneck = p["bottleneck"] if p["bottleneck"] is not None else p["out_channels"] // 4
    return Emit(
        call(
            "ShuffleUnit",
            n,
            shape[0],
            p["out_channels"],
            p["groups"],
            per_dim(layer, "stride", n),
            per_dim(layer, "kernel", n),
            bottleneck,
            p["first_grouped"],
            p["batchnorm"],
        ),
        ("ShuffleUnit",),
    )


@emitter("squeeze_excite")
def _squeeze_excite(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    shape = shapes[0]
    s = layer.squeeze(shape[0])
    gate = "nn.Sigmoid()" if layer.params["gate"] == "sigmoid" else "nn.Hardsigmoid()"
    act = ACTIVATIONS[layer.params["activation"]]
    return Emit(f"SqueezeExcitation({_n(shape)}, {shape[0]}, {s}, {act}, {gate})", ("SqueezeExcitation",))


@emitter("batchnorm")
def _batchnorm(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    shape = shapes[0]
    n = max(1, _n(shape))
    return Emit(call(f"nn.BatchNorm{n}d", shape[0], affine=kw(layer.params["affine"], True)))


@emitter("activation")
def _activation(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit(ACTIVATIONS[layer.params["fn"]])


@emitter("pool")
def _pool(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, n = layer.params, _n(shapes[0])
    k = per_dim(layer, "kernel", n)
    s = k if p["stride"] is None else per_dim(layer, "stride", n)
    pad = dims(per_dim(layer, "padding", n))
    if p["mode"] == "max":
        dil = dims(per_dim(layer, "dilation", n))
        return Emit(
            call(
                f"nn.MaxPool{n}d",
                dims(k),
                dims(s),
                padding=kw(pad, 0),
                dilation=kw(dil, 1),
                ceil_mode=kw(p["ceil_mode"], False),
            )
        )
    return Emit(
        call(f"nn.AvgPool{n}d", dims(k), dims(s), padding=kw(pad, 0), ceil_mode=kw(p["ceil_mode"], False))
    )


@emitter("global_pool")
def _global_pool(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    mode = "Avg" if layer.params["mode"] == "avg" else "Max"
    return Emit(f"nn.Adaptive{mode}Pool{_n(shapes[0])}d(1)")


@emitter("adaptive_pool")
def _adaptive_pool(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    n = _n(shapes[0])
    mode = "Avg" if layer.params["mode"] == "avg" else "Max"
    return Emit(call(f"nn.Adaptive{mode}Pool{n}d", dims(per_dim(layer, "output_size", n))))


@emitter("channel_shuffle")
def _channel_shuffle(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    g = layer.params["groups"]
    if _n(shapes[0]) >= 1:
        return Emit(f"nn.ChannelShuffle({g})")
    return Emit(f"ChannelShuffle({g})", ("ChannelShuffle",))


@emitter("flatten")
def _flatten(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit("nn.Flatten()")


@emitter("linear")
def _linear(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    shape = shapes[0]
    cls = "nn.Linear" if len(shape) == 1 else "FlatLinear"
    code = call(cls, prod(shape), layer.params["out_features"], bias=kw(layer.params["bias"], True))
    return Emit(code, () if len(shape) == 1 else ("FlatLinear",))


@emitter("dropout")
def _dropout(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p = layer.params["p"]
    return Emit("nn.Dropout()" if p == 0.5 else f"nn.Dropout({py(p)})")


@emitter("identity")
def _identity(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit("nn.Identity()")


@emitter("upsample")
def _upsample(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    n = _n(shapes[0])
    mode = "nearest" if layer.params["mode"] == "nearest" else LINEAR_MODES[n]
    return Emit(call("nn.Upsample", scale_factor=dims(per_dim(layer, "scale", n)), mode=mode))


@emitter("layernorm")
def _layernorm(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, shape = layer.params, shapes[0]
    cls = "nn.LayerNorm" if len(shape) == 1 else "ChannelLayerNorm"
    code = call(
        cls, shape[0], elementwise_affine=kw(p["affine"], True), bias=kw(p["bias"] or not p["affine"], True)
    )
    return Emit(code, () if len(shape) == 1 else ("ChannelLayerNorm",))


@emitter("groupnorm")
def _groupnorm(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit(
        call("nn.GroupNorm", layer.params["groups"], shapes[0][0], affine=kw(layer.params["affine"], True))
    )


@emitter("instancenorm")
def _instancenorm(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    shape = shapes[0]
    return Emit(call(f"nn.InstanceNorm{_n(shape)}d", shape[0], affine=kw(layer.params["affine"], False)))


@emitter("scale")
def _scale(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    shape = shapes[0]
    return Emit(
        call("LayerScale", shape[0], _n(shape), bias=kw(layer.params["bias"], False)), ("LayerScale",)
    )


def _lift(shapes: tuple[Shape, ...]) -> tuple[int, ...] | None:
    rank = max(len(s) for s in shapes)
    lift = tuple(rank - len(s) for s in shapes)
    return lift if any(lift) else None


@emitter("add", "mul")
def _elementwise(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    cls = "Add" if layer.type_name == "add" else "Mul"
    lift = _lift(shapes)
    return Emit(f"{cls}()" if lift is None else call(cls, lift), (cls,))


@emitter("concat")
def _concat(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    axis = layer.params["axis"]
    return Emit(call("Cat", axis + 1 if axis >= 0 else axis), ("Cat",))


@emitter("resize")
def _resize(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, n = layer.params, _n(shapes[0])
    mode = LINEAR_MODES[n] if p["mode"] == "linear" else p["mode"]
    align = kw(p["align_corners"], None)
    if p["like"] is not None:
        return Emit(call("ResizeLike", mode=kw(mode, "nearest"), align_corners=align), ("ResizeLike",))
    if p["size"] is not None:
        return Emit(call("nn.Upsample", size=dims(per_dim(layer, "size", n)), mode=mode, align_corners=align))
    scale = p["scale"]
    return Emit(
        call(
            "nn.Upsample",
            scale_factor=dims(scale) if isinstance(scale, tuple) else scale,
            mode=mode,
            align_corners=align,
        )
    )


@emitter("pad")
def _pad(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    n = _n(shapes[0])
    begin, end = per_dim(layer, "begin", n), per_dim(layer, "end", n)
    flat: list[int] = []
    for lo, hi in reversed(list(zip(begin, end))):  # torch's order: the last dim first
        flat += [lo, hi]
    return Emit(call(PAD_MODULES[layer.params["mode"]].format(n=n), tuple(flat)))


@emitter("crop")
def _crop(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    n = _n(shapes[0])
    return Emit(call("Crop", per_dim(layer, "begin", n), per_dim(layer, "end", n)), ("Crop",))


@emitter("pixel_shuffle", "pixel_unshuffle")
def _pixel(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    n, r = _n(shapes[0]), layer.params["factor"]
    name = "PixelShuffle" if layer.type_name == "pixel_shuffle" else "PixelUnshuffle"
    if n == 2:
        return Emit(f"nn.{name}({r})")
    return Emit(f"{name}ND({r}, {n})", (f"{name}ND",))


@emitter("attention")
def _attention(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    shape = shapes[0]
    return Emit(
        call(
            "SelfAttention",
            shape[0],
            layer.params["heads"],
            tuple(shape[1:]),
            bias=kw(layer.params["bias"], True),
        ),
        ("SelfAttention",),
    )


# -- tensor operations (the plumbing of imported models: convcalc/layers/tensor.py) -----------------------
helper(
    "Reshape",
    '''
class Reshape(nn.Module):
    """A new shape for each sample (-1: inferred), the batch dim kept."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.reshape((x.shape[0],) + self.shape)
''',
)

helper(
    "Permute",
    '''
class Permute(nn.Module):
    """A permutation of each sample's axes (``dims``: of the batched tensor, the batch first)."""

    def __init__(self, dims):
        super().__init__()
        self.dims = tuple(dims)

    def forward(self, x):
        return x.permute(self.dims)
''',
)

helper(
    "Index",
    '''
class Index(nn.Module):
    """Python indexing of the batched tensor (slices, or one index that drops its dim)."""

    def __init__(self, index):
        super().__init__()
        self.index = tuple(index)

    def forward(self, x):
        return x[self.index]
''',
)

helper(
    "MatMul",
    '''
class MatMul(nn.Module):
    """torch.matmul of two tensors per sample (``lift``: as Add's, so the leading dims of
    samples of different ranks broadcast as convcalc's matmul does)."""

    def __init__(self, lift=None):
        super().__init__()
        self.lift = lift

    def forward(self, a, b):
        if self.lift is not None:
            a, b = (x[(slice(None),) + (None,) * k] for x, k in zip((a, b), self.lift))
        return a @ b
''',
)

helper(
    "Reduce",
    '''
class Reduce(nn.Module):
    """mean, sum, max (amax), min (amin) or prod over dims of the batched tensor."""

    def __init__(self, op, dims, keepdim):
        super().__init__()
        self.op, self.dims, self.keepdim = op, tuple(dims), keepdim

    def forward(self, x):
        if self.op == "prod":
            for d in sorted(self.dims, reverse=True):
                x = x.prod(d, keepdim=True)
            return x if self.keepdim else x.squeeze(self.dims)
        fn = {"mean": torch.mean, "sum": torch.sum, "max": torch.amax, "min": torch.amin}[self.op]
        return fn(x, self.dims, keepdim=self.keepdim)
''',
)

helper(
    "Unary",
    '''
class Unary(nn.Module):
    """An element-wise function (clamp: to [-1, 1]; square: x * x)."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        if self.fn == "clamp":
            return x.clamp(-1.0, 1.0)
        if self.fn == "square":
            return x * x
        return getattr(torch, self.fn)(x)
''',
)

helper(
    "Binary",
    '''
class Binary(nn.Module):
    """sub, div, pow, max or min of two tensors, broadcast per sample (``lift``: as Add's)."""

    def __init__(self, op, lift=None):
        super().__init__()
        self.op, self.lift = op, lift

    def forward(self, a, b):
        if self.lift is not None:
            a, b = (x[(slice(None),) + (None,) * k] for x, k in zip((a, b), self.lift))
        return {"sub": torch.sub, "div": torch.div, "pow": torch.pow, "max": torch.maximum, "min": torch.minimum}[
            self.op
        ](a, b)
''',
)

helper(
    "Constant",
    '''
class Constant(nn.Module):
    """An operation with a constant operand of ``shape`` (per sample, broadcast on the right):
    a learned parameter when ``learned`` is its size, else a fixed buffer (and, if ``learned``,
    the learned values it was made from, e.g. a bias a model file stores expanded). ``lift``: unit
    dims to insert after the batch dim when the constant has more dims than a sample."""

    def __init__(self, op, shape, learned, lift=0):
        super().__init__()
        self.op, self.lift = op, lift
        value = torch.ones(shape)
        if learned and learned == value.numel():
            self.value = nn.Parameter(value)
        else:
            self.register_buffer("value", value)
            self.learned = nn.Parameter(torch.zeros(learned)) if learned else None

    def forward(self, x):
        c = self.value
        if self.lift:
            x = x[(slice(None),) + (None,) * self.lift]
        return {
            "add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
            "max": torch.maximum, "min": torch.minimum,
        }[self.op](x, c)
''',
)

helper(
    "Opaque",
    '''
class Opaque(nn.Module):
    """An operation convcalc does not cost (``op``): zeros of its output shape, nothing computed."""

    def __init__(self, op, shape):
        super().__init__()
        self.op, self.shape = op, tuple(shape)

    def forward(self, x):
        return x.new_zeros((x.shape[0],) + self.shape)
''',
)


def _dim(axis: int, rank: int) -> int:
    """A batch-less axis (negative from the end) as a dim of the batched tensor."""
    return axis % rank + 1


@emitter("reshape")
def _reshape(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit(call("Reshape", tuple(layer.params["shape"])), ("Reshape",))


@emitter("transpose")
def _transpose(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit(call("Permute", (0, *(p + 1 for p in layer.params["perm"]))), ("Permute",))


def _index_text(index: list[Any]) -> str:
    def one(i: Any) -> str:
        if isinstance(i, slice):
            return f"slice({i.start!r}, {i.stop!r}, {i.step!r})"
        return repr(i)

    return "(" + ", ".join(one(i) for i in index) + ("," if len(index) == 1 else "") + ")"


@emitter("slice")
def _slice(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, rank = layer.params, len(shapes[0])
    index: list[Any] = [slice(None)] * (rank + 1)
    steps = p.get("steps") or (1,) * len(p["axes"])
    for a, b, e, st in zip(p["axes"], p["starts"], p["ends"], steps):
        index[_dim(a, rank)] = slice(b, e, None if st == 1 else st)
    return Emit(f"Index({_index_text(index)})", ("Index",))


@emitter("select")
def _select(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    rank = len(shapes[0])
    index: list[Any] = [slice(None)] * _dim(layer.params["axis"], rank) + [layer.params["index"]]
    return Emit(f"Index({_index_text(index)})", ("Index",))


@emitter("dense")
def _dense(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p = layer.params
    return Emit(call("nn.Linear", shapes[0][-1], p["out_features"], bias=kw(p["bias"], True)))


@emitter("matmul")
def _matmul(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    lift = _lift(shapes)
    return Emit("MatMul()" if lift is None else call("MatMul", lift), ("MatMul",))


@emitter("reduce")
def _reduce(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p, rank = layer.params, len(shapes[0])
    dims_ = tuple(sorted(_dim(a, rank) for a in p["axes"]))
    return Emit(call("Reduce", p["op"], dims_, p["keepdims"]), ("Reduce",))


@emitter("softmax")
def _softmax(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    cls = "nn.LogSoftmax" if layer.params["log"] else "nn.Softmax"
    return Emit(f"{cls}(dim={_dim(layer.params['axis'], len(shapes[0]))})")


@emitter("unary")
def _unary(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit(call("Unary", layer.params["fn"]), ("Unary",))


@emitter("binary")
def _binary(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    lift = _lift(shapes)
    return Emit(call("Binary", layer.params["op"], **({"lift": lift} if lift else {})), ("Binary",))


@emitter("elementwise")
def _elementwise_constant(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    p = layer.params
    shape = tuple(p.get("shape") or ())
    lift = max(0, len(shape) - len(shapes[0]))
    extra = {"lift": lift} if lift else {}
    return Emit(call("Constant", p["op"], shape, p.get("learned", 0), **extra), ("Constant",))


@emitter("opaque")
def _opaque(layer: Layer, shapes: tuple[Shape, ...]) -> Emit:
    return Emit(call("Opaque", layer.params["op"], tuple(layer.params["shape"])), ("Opaque",))


# -- names ---------------------------------------------------------------------------------------------
# nn.Module's own attributes: a submodule may not take these names.
_MODULE_ATTRIBUTES = frozenset(
    [
        "T_destination",
        "add_module",
        "apply",
        "bfloat16",
        "buffers",
        "call_super_init",
        "children",
        "compile",
        "cpu",
        "cuda",
        "double",
        "dump_patches",
        "eval",
        "extra_repr",
        "float",
        "forward",
        "get_buffer",
        "get_extra_state",
        "get_parameter",
        "get_submodule",
        "half",
        "ipu",
        "load_state_dict",
        "modules",
        "mtia",
        "named_buffers",
        "named_children",
        "named_modules",
        "named_parameters",
        "parameters",
        "register_backward_hook",
        "register_buffer",
        "register_forward_hook",
        "register_forward_pre_hook",
        "register_full_backward_hook",
        "register_full_backward_pre_hook",
        "register_load_state_dict_post_hook",
        "register_load_state_dict_pre_hook",
        "register_module",
        "register_parameter",
        "register_state_dict_post_hook",
        "register_state_dict_pre_hook",
        "requires_grad_",
        "set_extra_state",
        "set_submodule",
        "share_memory",
        "state_dict",
        "to",
        "to_empty",
        "train",
        "training",
        "type",
        "xpu",
        "zero_grad",
    ]
)
# names the forward's local variables may not take
_RESERVED_LOCALS = frozenset({"self", "torch", "nn", "F", "x"}) | frozenset(dir(builtins))
_NOT_WORD = re.compile(r"[^0-9A-Za-z_]+")


def module_name(text: str) -> str:
    """A part of a row name as a submodule name: digits stay (a repeat's copy, ``self.stage[0]``);
    otherwise a Python identifier that is not one of nn.Module's attributes."""
    if text.isdigit() and text.isascii():
        return str(int(text))
    name = _NOT_WORD.sub("_", text).strip("_")
    if not name or name[0].isdigit():
        name = "m" + name
    if keyword.iskeyword(name) or name in _MODULE_ATTRIBUTES:
        name += "_"
    return name


def accessor(path: Sequence[str], root: str = "self") -> str:
    """Python reaching the submodule at ``path``: ``self.stage[0].conv1``."""
    out = root
    for part in path:
        out += f"[{part}]" if part.isdigit() else f".{part}"
    return out


class ModuleNames:
    """Allocates a unique submodule path for each row name, containers first: ``a.b.c`` puts
    leaf ``c`` in container ``b`` in container ``a``. A name whose container is taken by a leaf
    (or two rows whose names clean up alike) gets a ``_2`` suffix."""

    def __init__(self) -> None:
        self.children: dict[tuple[str, ...], dict[str, bool]] = {(): {}}  # path -> name -> is container
        self.containers: dict[tuple[str, ...], tuple[str, ...]] = {(): ()}  # row-name prefix -> path
        self.new_containers: list[tuple[str, ...]] = []

    def _fresh(self, parent: tuple[str, ...], base: str) -> str:
        taken = self.children[parent]
        name, k = base, 2
        while name in taken:
            name = f"{base}_{k}" if not base.isdigit() else f"m{base}_{k}"
            k += 1
        return name

    def add(self, row_name: str) -> tuple[str, ...]:
        parts = row_name.split(".")
        parent: tuple[str, ...] = ()
        for i in range(1, len(parts)):
            key = tuple(parts[:i])
            got = self.containers.get(key)
            if got is None:
                name = self._fresh(parent, module_name(parts[i - 1]))
                got = parent + (name,)
                self.children[parent][name] = True
                self.children[got] = {}
                self.containers[key] = got
                self.new_containers.append(got)
            parent = got
        leaf = self._fresh(parent, module_name(parts[-1]))
        self.children[parent][leaf] = False
        return parent + (leaf,)


def variable_name(text: str) -> str:
    name = _NOT_WORD.sub("_", text.replace(".", "_")).strip("_")
    if not name or name[0].isdigit():
        name = "t_" + name
    if keyword.iskeyword(name) or name in _RESERVED_LOCALS:
        name += "_"
    return name


def class_name(text: str) -> str:
    words = [w for w in re.split(r"[^0-9A-Za-z]+", text) if w]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    if not name or name[0].isdigit():
        name = "Net" + name
    if name in HELPERS or keyword.iskeyword(name) or name in ("F", "nn", "torch", "Block"):
        name += "Net"
    return name


def _comment(text: str) -> str:
    """Text safe inside a one-line comment or docstring."""
    return "".join(c if c.isprintable() and c not in "\\\"'" else repr(c)[1:-1] for c in text)


def _shape_text(shape: Shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


# -- the file ------------------------------------------------------------------------------------------
@dataclass
class TorchModule:
    """The written file and what a caller needs to find each node in the built module:
    ``paths[i]`` is node i's submodule path (``("stage", "0", "conv1")``)."""

    text: str
    class_name: str
    paths: list[tuple[str, ...]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def qualified_name(self, i: int) -> str:
        """Node i's module name as torch's FlopCounterMode reports it (``Net.stage.0.conv1``)."""
        return ".".join((self.class_name, *self.paths[i]))


def torch_source(graph: Graph, name: str, source: str = "") -> TorchModule:
    """The PyTorch file of a graph (see the module docstring). Shapes come from convcalc's own
    pass, so a spec that convcalc rejects is rejected here with the same error."""
    from .network import cost_pass

    _, out_shapes = cost_pass(graph)
    in_shapes = [g.shape for g in graph.inputs]

    def shape_of(r: int) -> Shape:
        return out_shapes[r] if r >= 0 else in_shapes[-1 - r]

    cls = class_name(name)
    names = ModuleNames()
    helpers_used: list[str] = ["Block"]
    init: list[str] = []
    paths: list[tuple[str, ...]] = []
    for node in graph.nodes:
        fn = EMITTERS.get(node.layer.type_name)
        if fn is None:
            raise ExportError(f"no PyTorch emitter for layer type {node.layer.type_name!r}")
        emit = fn(node.layer, tuple(shape_of(r) for r in node.inputs))
        helpers_used.extend(emit.helpers)
        path = names.add(node.name)
        for c in names.new_containers:
            init.append(_assign(c, "Block()"))
        names.new_containers.clear()
        init.append(_assign(path, emit.code))
        paths.append(path)

    forward = _forward(graph, paths, out_shapes)
    outputs = [n for n, _ in graph.outputs]
    origin = f" from {_comment(source)}" if source else ""
    lines = [
        f'"""{_comment(name)}: a PyTorch module written by convcalc export --torch{origin}.',
        "",
        "Self-contained: it imports only torch. build() returns the module (one submodule per layer of",
        "the spec, named as convcalc's report names its rows); INPUT_SHAPE is one input sample",
        "(channels first, without the batch dim), OUTPUTS the names of what forward returns, in order.",
        '"""',
        "",
        "import torch",
        "import torch.nn.functional as F",
        "from torch import nn",
        "",
        f"INPUT_SHAPE = {py(tuple(in_shapes[0]))}",
        f"INPUT_SHAPES = {py(tuple(tuple(s) for s in in_shapes))}",
        f"OUTPUTS = {py(tuple(outputs))}",
        "",
    ]
    for h in _ordered_helpers(helpers_used):
        lines += ["", HELPERS[h][0]]
    lines += ["", f"class {cls}(Block):", "    def __init__(self):", "        super().__init__()"]
    lines += ["        " + x for x in init]
    lines += [""] + ["    " + x if x else "" for x in forward]
    lines += [
        "",
        "",
        "def build():",
        f'    """A new {_comment(cls)} (call .eval() for inference)."""',
        f"    return {cls}()",
        "",
        "",
        'if __name__ == "__main__":',
        "    model = build().eval()",
        "    with torch.no_grad():",
        "        ys = model(*(torch.zeros((1,) + s) for s in INPUT_SHAPES))",
        "    ys = ys if isinstance(ys, tuple) else (ys,)",
        "    for name, y in zip(OUTPUTS, ys):",
        '        print(f"{name}: {tuple(y.shape[1:])}")',
        '    print(f"params: {sum(p.numel() for p in model.parameters()):,}")',
        "",
    ]
    return TorchModule("\n".join(lines), cls, paths, outputs)


def _assign(path: tuple[str, ...], code: str) -> str:
    parent, leaf = accessor(path[:-1]), path[-1]
    if leaf.isdigit():
        return f"{parent}.add_module({leaf!r}, {code})"
    return f"{parent}.{leaf} = {code}"


def _ordered_helpers(names: Iterable[str]) -> list[str]:
    out: list[str] = []

    def visit(h: str) -> None:
        if h in out:
            return
        for dep in HELPERS[h][1]:
            visit(dep)
        out.append(h)

    for h in dict.fromkeys(names):
        visit(h)
    return out


def _forward(graph: Graph, paths: list[tuple[str, ...]], shapes: list[Shape]) -> list[str]:
    """The forward method: one line per node; a tensor read once, by the very next node, and not
    an output, flows through ``x``; every other tensor has its own name."""
    n_nodes = len(graph.nodes)
    reads = [0] * n_nodes
    in_reads = [0] * len(graph.inputs)
    next_only = [False] * n_nodes
    in_next_only = [False] * len(graph.inputs)
    outputs = {r for _, r in graph.outputs}
    for i, node in enumerate(graph.nodes):
        for r in Graph.reads(node):
            if r >= 0:
                reads[r] += 1
                next_only[r] = reads[r] == 1 and i == r + 1
            else:
                in_reads[-1 - r] += 1
                in_next_only[-1 - r] = in_reads[-1 - r] == 1 and i == 0
    used: set[str] = set()

    def fresh(text: str) -> str:
        base = variable_name(text)
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        return name

    in_vars = [
        "x"
        if len(graph.inputs) == 1 and in_next_only[k] and in_reads[k] == 1 and -1 - k not in outputs
        else fresh(g.name)
        for k, g in enumerate(graph.inputs)
    ]
    out_vars: list[str] = []
    body: list[str] = []
    for i, node in enumerate(graph.nodes):
        args = [out_vars[r] if r >= 0 else in_vars[-1 - r] for r in node.inputs]
        args += [out_vars[r] if r >= 0 else in_vars[-1 - r] for _, r in node.refs]
        var = "x" if next_only[i] and reads[i] == 1 and i not in outputs else fresh(node.name)
        out_vars.append(var)
        body.append(f"    {var} = {accessor(paths[i])}({', '.join(args)})  # {_shape_text(shapes[i])}")
    results = [out_vars[r] if r >= 0 else in_vars[-1 - r] for _, r in graph.outputs]
    return [f"def forward(self, {', '.join(in_vars)}):", *body, f"    return {', '.join(results)}"]
