"""Test-only: the torch twins of the layer types of issue 9 (norms, layer scale, merges, resize,
pad/crop, pixel shuffle, attention, squeeze-and-excitation), dispatched from
``torch_twin.layer_module``.

Each twin is built from the layer's parameters and the input shape(s) alone, with torch.nn
modules where torch has one (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm*d, nn.PixelShuffle,
F.interpolate, F.pad, torch.cat) and by hand where it has none (the channels-last LayerNorm2d of
ConvNeXt, layer scale, 1D/3D pixel shuffle, the explicit attention, torchvision's
SqueezeExcitation, which does not import here). ``torch_counts_multi`` measures a twin that
takes several inputs.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

INSTANCE_NORM = {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}
LINEAR_MODE = {1: "linear", 2: "bilinear", 3: "trilinear"}
PAD_MODE = {"zeros": "constant", "reflect": "reflect", "replicate": "replicate"}


def _n(in_shape) -> int:
    n = len(in_shape) - 1
    if not 1 <= n <= 3:
        raise ValueError(f"a spatial layer needs 1 to 3 spatial dims, got shape {in_shape}")
    return n


def _t(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


class ChannelsLastLayerNorm(nn.Module):
    """ConvNeXt's LayerNorm2d: nn.LayerNorm(C) over the channels at every position
    (x moved channels-last, normalised, moved back); any number of spatial dims."""

    def __init__(self, c: int, affine: bool, bias: bool):
        super().__init__()
        self.norm = nn.LayerNorm(c, elementwise_affine=affine, bias=bias)

    def forward(self, x):
        return self.norm(x.movedim(1, -1)).movedim(-1, 1)


class LayerScale(nn.Module):
    """ConvNeXt's layer scale: x * gamma with gamma a (C, 1, ..., 1) parameter (+ beta)."""

    def __init__(self, c: int, n: int, bias: bool):
        super().__init__()
        self.gamma = nn.Parameter(torch.full((c,) + (1,) * n, 1e-6))
        self.beta = nn.Parameter(torch.zeros((c,) + (1,) * n)) if bias else None

    def forward(self, x):
        y = x * self.gamma
        return y + self.beta if self.beta is not None else y


class Elementwise(nn.Module):
    """add / mul of several tensors with torch's broadcasting applied to each sample: every
    input (B, *shape) is viewed as (B, 1, ..., 1, *shape), so that the batch-less shapes are
    aligned on the right and the batch dims with each other."""

    def __init__(self, op: str, shapes):
        super().__init__()
        self.op = op
        self.rank = max(len(s) for s in shapes)

    def forward(self, *xs):
        xs = [x.reshape(x.shape[:1] + (1,) * (self.rank + 1 - x.dim()) + x.shape[1:]) for x in xs]
        y = xs[0]
        for x in xs[1:]:
            y = y + x if self.op == "add" else y * x
        return y


class Cat(nn.Module):
    """torch.cat of each sample's tensors (batch-less, so that torch judges ``axis`` exactly as
    the spec means it, negative axes included), stacked again into a batch."""

    def __init__(self, axis: int):
        super().__init__()
        self.axis = axis

    def forward(self, *xs):
        return torch.stack([torch.cat([x[b] for x in xs], dim=self.axis) for b in range(xs[0].shape[0])])


class Interpolate(nn.Module):
    def __init__(self, **kwargs):
        super().__init__()
        self.kwargs = kwargs

    def forward(self, x):
        return F.interpolate(x, **self.kwargs)


class Pad(nn.Module):
    def __init__(self, begin, end, mode: str):
        super().__init__()
        flat: list[int] = []
        for lo, hi in reversed(list(zip(begin, end))):  # F.pad wants the last dim first
            flat += [lo, hi]
        self.flat, self.mode = flat, mode

    def forward(self, x):
        return F.pad(x, self.flat, mode=self.mode)


class Crop(nn.Module):
    def __init__(self, begin, end):
        super().__init__()
        self.begin, self.end = begin, end

    def forward(self, x):
        for d, (b, e) in enumerate(zip(self.begin, self.end)):
            x = x.narrow(2 + d, b, x.shape[2 + d] - b - e)  # torch refuses a negative length
        return x


class PixelShuffleND(nn.Module):
    """Pixel shuffle over n spatial dims by view and permute: (B, C r^n, *i) -> (B, C, *(i r));
    for n = 2 it equals nn.PixelShuffle (a test proves it)."""

    def __init__(self, r: int, n: int):
        super().__init__()
        self.r, self.n = r, n

    def forward(self, x):
        b, c, size = x.shape[0], x.shape[1], x.shape[2:]
        r, n = self.r, self.n
        y = x.reshape(b, c // r**n, *([r] * n), *size)
        # (b, c, r_1..r_n, i_1..i_n) -> (b, c, i_1, r_1, ..., i_n, r_n)
        order = [0, 1] + [k for d in range(n) for k in (2 + n + d, 2 + d)]
        return y.permute(order).reshape(b, c // r**n, *(i * r for i in size))


class PixelUnshuffleND(nn.Module):
    """The inverse: (B, C, *(i r)) -> (B, C r^n, *i); for n = 2 nn.PixelUnshuffle."""

    def __init__(self, r: int, n: int):
        super().__init__()
        self.r, self.n = r, n

    def forward(self, x):
        b, c, size = x.shape[0], x.shape[1], x.shape[2:]
        r, n = self.r, self.n
        inner = [v for i in size for v in (i // r, r)]
        y = x.reshape(b, c, *inner)
        # (b, c, i_1, r_1, ..., i_n, r_n) -> (b, c, r_1..r_n, i_1..i_n)
        order = [0, 1] + [3 + 2 * d for d in range(n)] + [2 + 2 * d for d in range(n)]
        return y.permute(order).reshape(b, c * r**n, *(i // r for i in size))


class ExplicitAttention(nn.Module):
    """Multi-head self-attention written out: tokens = positions, E = C; q, k, v from one
    (3E, E) projection (as nn.MultiheadAttention's in_proj), softmax(q k^T / sqrt(d)) v per
    head, then the output projection. It is built from an nn.MultiheadAttention(e, heads, bias)
    (torch judges the configuration) and takes its weights, so that a test can compare them."""

    def __init__(self, e: int, heads: int, bias: bool):
        super().__init__()
        self.heads = heads
        self.in_proj = nn.Linear(e, 3 * e, bias=bias)
        self.out_proj = nn.Linear(e, e, bias=bias)
        self.load_from(nn.MultiheadAttention(e, heads, bias=bias))

    def load_from(self, mha: nn.MultiheadAttention) -> None:
        with torch.no_grad():
            self.in_proj.weight.copy_(mha.in_proj_weight)
            self.out_proj.weight.copy_(mha.out_proj.weight)
            if self.in_proj.bias is not None:
                self.in_proj.bias.copy_(mha.in_proj_bias)
                self.out_proj.bias.copy_(mha.out_proj.bias)

    def tokens_forward(self, t):  # (B, N, E) -> (B, N, E)
        b, n, e = t.shape
        h, d = self.heads, e // self.heads
        q, k, v = self.in_proj(t).split(e, dim=-1)
        q, k, v = (z.reshape(b, n, h, d).transpose(1, 2) for z in (q, k, v))
        scores = (q @ k.transpose(-2, -1)) / math.sqrt(d)
        y = scores.softmax(dim=-1) @ v
        return self.out_proj(y.transpose(1, 2).reshape(b, n, e))

    def forward(self, x):
        b, e, size = x.shape[0], x.shape[1], x.shape[2:]
        y = self.tokens_forward(x.flatten(2).transpose(1, 2))
        return y.transpose(1, 2).reshape(b, e, *size)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.SqueezeExcitation, rewritten for 1 to 3 spatial dims: adaptive average
    pool to 1, 1x1 conv C -> S (bias), activation, 1x1 conv S -> C (bias), gate, times input."""

    def __init__(self, n: int, c: int, s: int, activation: nn.Module, gate: nn.Module):
        super().__init__()
        from torch_twin import ADAPTIVE, CONV

        self.avgpool = ADAPTIVE["avg", n](1)
        self.fc1 = CONV[n](c, s, 1)
        self.fc2 = CONV[n](s, c, 1)
        self.activation = activation
        self.scale_activation = gate

    def forward(self, x):
        scale = self.scale_activation(self.fc2(self.activation(self.fc1(self.avgpool(x)))))
        return scale * x


def _resize(layer, in_shape):
    p = layer.params
    n = _n(in_shape)
    mode = p["mode"]
    if mode == "linear":
        mode = LINEAR_MODE[n]
    kwargs: dict = {"mode": mode}
    if p["align_corners"] is not None:
        kwargs["align_corners"] = p["align_corners"]
    if p["size"] is not None:
        kwargs["size"] = _t(p["size"], n)
    elif p["scale"] is not None:
        s = p["scale"]
        kwargs["scale_factor"] = tuple(float(x) for x in s) if isinstance(s, tuple) else float(s)
    else:
        raise ValueError("resize like: resolve the reference first")
    return Interpolate(**kwargs)


def _pixel(layer, in_shape, inverse: bool):
    n, r = _n(in_shape), layer.params["factor"]
    if n == 2:
        return nn.PixelUnshuffle(r) if inverse else nn.PixelShuffle(r)
    return PixelUnshuffleND(r, n) if inverse else PixelShuffleND(r, n)


def _squeeze_excite(layer, in_shape):
    from torch_twin import ACTIVATIONS

    p = layer.params
    n, c = _n(in_shape), in_shape[0]
    s = p["squeeze_channels"] if p["squeeze_channels"] is not None else max(1, c // p["reduction"])
    gate = nn.Sigmoid() if p["gate"] == "sigmoid" else nn.Hardsigmoid()
    return SqueezeExcitation(n, c, s, ACTIVATIONS[p["activation"]](), gate)


TWINS = {
    "layernorm": lambda layer, s: ChannelsLastLayerNorm(s[0], layer.params["affine"], layer.params["bias"]),
    "groupnorm": lambda layer, s: nn.GroupNorm(layer.params["groups"], s[0], affine=layer.params["affine"]),
    "instancenorm": lambda layer, s: INSTANCE_NORM[_n(s)](s[0], affine=layer.params["affine"]),
    "scale": lambda layer, s: LayerScale(s[0], len(s) - 1, layer.params["bias"]),
    "add": lambda layer, *shapes: Elementwise("add", shapes),
    "mul": lambda layer, *shapes: Elementwise("mul", shapes),
    "concat": lambda layer, *shapes: Cat(layer.params["axis"]),
    "resize": _resize,
    "pad": lambda layer, s: Pad(
        _t(layer.params["begin"], _n(s)), _t(layer.params["end"], _n(s)), PAD_MODE[layer.params["mode"]]
    ),
    "crop": lambda layer, s: Crop(_t(layer.params["begin"], _n(s)), _t(layer.params["end"], _n(s))),
    "pixel_shuffle": lambda layer, s: _pixel(layer, s, False),
    "pixel_unshuffle": lambda layer, s: _pixel(layer, s, True),
    "attention": lambda layer, s: ExplicitAttention(s[0], layer.params["heads"], layer.params["bias"]),
    "squeeze_excite": _squeeze_excite,
    "prelu": lambda layer, s: nn.PReLU(s[0] if layer.params["per_channel"] else 1),
    "lrn": lambda layer, s: nn.LocalResponseNorm(
        layer.params["size"], layer.params["alpha"], layer.params["beta"], layer.params["k"]
    ),
}


def torch_counts_multi(module: nn.Module, input_shapes, batch: int = 1):
    """(output shape without the batch, parameters, MACs) of a module taking one tensor per
    shape of ``input_shapes``, measured by torch as ``torch_twin.torch_counts`` does."""
    module.eval()
    xs = [torch.randn((batch,) + tuple(s)) for s in input_shapes]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(*xs)
    total = counter.get_total_flops()
    assert total % 2 == 0, f"FlopCounterMode total {total} is odd"
    return tuple(y.shape[1:]), sum(p.numel() for p in module.parameters()), total // 2


# -- the tensor operations of imported models (convcalc/layers/tensor.py) -------------------------
def _dim(axis: int, shape) -> int:
    """A batch-less axis of ``shape`` as a dim of the batched tensor (negative axes count from
    the end of the sample's shape: they never reach the batch)."""
    rank = len(shape)
    if not -rank <= axis < rank:
        raise IndexError(f"axis {axis} out of range for a sample of {rank} dims")
    return axis % rank + 1


class PerSample(nn.Module):
    """A function of one tensor, applied to the batch (``fn(x)`` sees (B, *shape))."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


class Aligned(nn.Module):
    """A function of several tensors with torch's broadcasting applied to each sample (as
    ``Elementwise``): every input is viewed with 1s inserted after the batch to the same rank."""

    def __init__(self, fn, shapes):
        super().__init__()
        self.fn = fn
        self.rank = max(len(s) for s in shapes)

    def forward(self, *xs):
        xs = [x.reshape(x.shape[:1] + (1,) * (self.rank + 1 - x.dim()) + x.shape[1:]) for x in xs]
        return self.fn(*xs)


class WithConstant(nn.Module):
    """x op c for a constant c of ``shape`` (a buffer: not a parameter), and ``learned``
    parameters behind it (the values the constant was computed from)."""

    OPS: ClassVar[dict] = {
        "add": torch.add,
        "sub": torch.sub,
        "mul": torch.mul,
        "div": torch.div,
        "pow": torch.pow,
        "max": torch.maximum,
        "min": torch.minimum,
    }

    def __init__(self, op: str, shape, learned: int):
        super().__init__()
        self.op = self.OPS[op]
        self.register_buffer("c", torch.full(tuple(shape), 0.5))
        self.learned = nn.Parameter(torch.zeros(learned)) if learned else None

    def forward(self, x):
        # per sample: the sample's shape and the constant's, aligned on the right
        r = max(x.dim() - 1, self.c.dim())
        x = x.reshape(x.shape[:1] + (1,) * (r + 1 - x.dim()) + x.shape[1:])
        c = self.c.reshape((1,) * (r + 1 - self.c.dim()) + tuple(self.c.shape))
        return self.op(x, c)


def _reduce(layer, shape):
    p = layer.params
    dims = [_dim(a, shape) for a in p["axes"]]
    op, keep = p["op"], p["keepdims"]
    if op == "mean":
        return PerSample(lambda x: x.mean(dim=dims, keepdim=keep))
    if op == "sum":
        return PerSample(lambda x: x.sum(dim=dims, keepdim=keep))
    if op == "max":
        return PerSample(lambda x: x.amax(dim=dims, keepdim=keep))
    if op == "min":
        return PerSample(lambda x: x.amin(dim=dims, keepdim=keep))
    if op in ("argmax", "argmin"):  # torch.argmax takes one dim (an int), as the layer
        (dim,) = dims
        fn = torch.argmax if op == "argmax" else torch.argmin
        return PerSample(lambda x: fn(x, dim=dim, keepdim=keep))

    def prod_all(x):  # torch.prod reduces one dim at a time: the highest first
        rank = x.dim()
        for d in sorted((d % rank for d in dims), reverse=True):
            x = x.prod(dim=d, keepdim=keep)
        return x

    return PerSample(prod_all)


def _slice(layer, shape):
    p = layer.params
    steps = p["steps"] or (1,) * len(p["axes"])

    def fn(x):
        index = [slice(None)] * x.dim()
        for a, s, e, st in zip(p["axes"], p["starts"], p["ends"], steps):
            index[_dim(a, shape)] = slice(s, e, st)
        return x[tuple(index)]

    return PerSample(fn)


UNARY = {
    "sqrt": torch.sqrt,
    "rsqrt": torch.rsqrt,
    "exp": torch.exp,
    "log": torch.log,
    "neg": torch.neg,
    "reciprocal": torch.reciprocal,
    "abs": torch.abs,
    "erf": torch.erf,
    "sin": torch.sin,
    "cos": torch.cos,
    "floor": torch.floor,
    "ceil": torch.ceil,
    "round": torch.round,
    "sign": torch.sign,
    "clamp": lambda x: torch.clamp(x, -1.0, 1.0),
    "square": torch.square,
}
BINARY = {"sub": torch.sub, "div": torch.div, "pow": torch.pow, "max": torch.maximum, "min": torch.minimum}


def _chain(fn):
    """fn of two tensors applied left to right over any number (torch.maximum of three ...)."""

    def chained(*xs):
        y = xs[0]
        for x in xs[1:]:
            y = fn(y, x)
        return y

    return chained


class Zeros(nn.Module):
    """An operation convcalc cannot cost: here, zeros of its output shape (no work counted)."""

    def __init__(self, shape):
        super().__init__()
        self.shape = tuple(shape)

    def forward(self, x):
        return x.new_zeros((x.shape[0],) + self.shape)


TWINS.update(
    {
        "reshape": lambda layer, s: PerSample(
            lambda x: x.reshape((x.shape[0],) + tuple(layer.params["shape"]))
        ),
        "transpose": lambda layer, s: PerSample(
            lambda x: x.permute(0, *(p + 1 for p in layer.params["perm"]))
        ),
        "slice": _slice,
        "select": lambda layer, s: PerSample(
            lambda x: x.select(_dim(layer.params["axis"], s), layer.params["index"])
        ),
        "dense": lambda layer, s: nn.Linear(s[-1], layer.params["out_features"], bias=layer.params["bias"]),
        "matmul": lambda layer, *shapes: Aligned(torch.matmul, shapes),
        "reduce": _reduce,
        "softmax": lambda layer, s: PerSample(
            lambda x: (torch.log_softmax if layer.params["log"] else torch.softmax)(
                x, dim=_dim(layer.params["axis"], s)
            )
        ),
        "unary": lambda layer, s: PerSample(UNARY[layer.params["fn"]]),
        "binary": lambda layer, *shapes: Aligned(_chain(BINARY[layer.params["op"]]), shapes),
        "elementwise": lambda layer, s: WithConstant(
            layer.params["op"], layer.params["shape"] or (), layer.params["learned"]
        ),
        "opaque": lambda layer, s: Zeros(layer.params["shape"]),
    }
)
