"""Test-only helper: the PyTorch twin of a convcalc layer or network.

torch is the judge in the oracle tests: every layer type of ``convcalc.layers.REGISTRY`` is
rebuilt here from the exact ``torch.nn`` modules (nn.Conv*, nn.ConvTranspose*, nn.BatchNorm*,
nn.MaxPool*, nn.AvgPool*, nn.Adaptive*, nn.Linear, nn.Upsample, ...), and ``torch_counts``
measures the twin: the output shape of a real forward pass, ``sum(p.numel())`` and
``FlopCounterMode``'s total / 2 (torch counts a multiply-accumulate as 2 FLOPs).

Nothing here asks convcalc for a shape or a count: a layer's twin is built from the layer's
parameters and the input shape alone, and a network's twin learns the input shape of each layer
by running the previous (already built) torch modules on a probe tensor.
"""

from __future__ import annotations

import itertools
from math import prod

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call
from torch.utils.flop_counter import FlopCounterMode

from convcalc.network import Network

CONV = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}
CONVT = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}
BN = {0: nn.BatchNorm1d, 1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}
MAXPOOL = {1: nn.MaxPool1d, 2: nn.MaxPool2d, 3: nn.MaxPool3d}
AVGPOOL = {1: nn.AvgPool1d, 2: nn.AvgPool2d, 3: nn.AvgPool3d}
ADAPTIVE = {
    ("avg", 1): nn.AdaptiveAvgPool1d,
    ("avg", 2): nn.AdaptiveAvgPool2d,
    ("avg", 3): nn.AdaptiveAvgPool3d,
    ("max", 1): nn.AdaptiveMaxPool1d,
    ("max", 2): nn.AdaptiveMaxPool2d,
    ("max", 3): nn.AdaptiveMaxPool3d,
}
UPSAMPLE_LINEAR = {1: "linear", 2: "bilinear", 3: "trilinear"}

ACTIVATIONS = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "selu": nn.SELU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "hardsigmoid": nn.Hardsigmoid,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
    "gelu": lambda: nn.GELU(approximate="tanh"),
    "mish": nn.Mish,
    "softplus": nn.Softplus,
    "softmax": lambda: nn.Softmax(dim=1),
    "identity": nn.Identity,
}


def _spatial(in_shape) -> int:
    n = len(in_shape) - 1
    if not 1 <= n <= 3:
        # torch's Conv1d would silently read a (N, C) batch as one unbatched (C, L) sample
        raise ValueError(f"a spatial layer needs 1 to 3 spatial dims, got shape {in_shape}")
    return n


def _t(v, n):
    """An int or a per-dim tuple, as torch takes it (a tuple of the wrong length goes to torch
    unchanged, so that torch decides)."""
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def tf_same_padding(i: int, k: int, s: int, d: int) -> tuple[int, int]:
    """TensorFlow's 'SAME' padding for one dim: output ceil(i/s), the odd pixel after."""
    out = -(-i // s)
    total = max((out - 1) * s + d * (k - 1) + 1 - i, 0)
    return total // 2, total - total // 2


class TFSamePad(nn.Module):
    """F.pad with TensorFlow's SAME padding (stride > 1, where torch refuses padding='same')."""

    def __init__(self, pads):
        super().__init__()
        self.pads = tuple(pads)  # ((before, after), ...) per spatial dim, first dim first

    def forward(self, x):
        flat = []
        for lo, hi in reversed(self.pads):  # F.pad wants the last dim first
            flat += [lo, hi]
        return F.pad(x, flat)


def conv_module(n, c_in, c_out, kernel, stride, padding, dilation, groups, bias, size):
    """nn.ConvNd with convcalc's padding words: 'valid'; 'same' = torch's padding='same' for
    stride 1 and TensorFlow's rule (F.pad, then padding 0) for larger strides."""
    cls = CONV[n]
    k, s, d = _t(kernel, n), _t(stride, n), _t(dilation, n)
    if padding == "same" and any(x != 1 for x in s):
        pads = [tf_same_padding(i, kk, ss, dd) for i, kk, ss, dd in zip(size, k, s, d)]
        return nn.Sequential(TFSamePad(pads), cls(c_in, c_out, k, s, 0, d, groups, bias))
    if padding in ("same", "valid"):
        return cls(c_in, c_out, k, s, padding=padding, dilation=d, groups=groups, bias=bias)
    return cls(c_in, c_out, k, s, _t(padding, n), d, groups, bias)


class ChannelShuffleAnyRank(nn.Module):
    """ShuffleNet's channel shuffle for a (N, C) input, where nn.ChannelShuffle wants > 2 dims."""

    def __init__(self, groups):
        super().__init__()
        self.groups = groups

    def forward(self, x):
        n, c = x.shape[:2]
        if c % self.groups:
            raise RuntimeError(f"channels {c} not divisible by groups {self.groups}")
        return x.view(n, self.groups, c // self.groups, *x.shape[2:]).transpose(1, 2).reshape(x.shape)


def channel_shuffle(groups, n):
    return nn.ChannelShuffle(groups) if n >= 1 else ChannelShuffleAnyRank(groups)


def strict_add(a, b):
    """A residual add: both operands must have the same shape (no broadcasting by accident)."""
    if a.shape != b.shape:
        raise RuntimeError(f"residual add of {tuple(a.shape)} and {tuple(b.shape)}")
    return a + b


class ShuffleUnitTwin(nn.Module):
    """ShuffleNet v1 unit (Zhang et al. 2018, Fig. 2 b/c):
    1x1 GConv (no bias) -> BN -> ReLU -> channel shuffle -> k x k depthwise, stride s
    (no bias, padding k//2) -> BN -> 1x1 GConv -> BN; stride 1: + x; stride > 1:
    cat([main, AvgPool(3, s, padding 1)(x)], dim 1); then ReLU."""

    def __init__(self, n, c_in, c_out, groups, stride, kernel, bottleneck, first_grouped, batchnorm):
        super().__init__()
        s, k = _t(stride, n), _t(kernel, n)
        self.down = max(s) > 1
        m = bottleneck if bottleneck is not None else c_out // 4
        main_out = c_out - c_in if self.down else c_out
        if m < 1 or main_out < 1:
            raise ValueError(f"a convolution needs >= 1 output channel (bottleneck {m}, main {main_out})")
        conv, bn = CONV[n], BN[n]
        layers = [conv(c_in, m, 1, groups=groups if first_grouped else 1, bias=False)]
        if batchnorm:
            layers.append(bn(m))
        layers += [
            nn.ReLU(),
            channel_shuffle(groups, n),
            conv(m, m, k, s, tuple(kk // 2 for kk in k), groups=m, bias=False),
        ]
        if batchnorm:
            layers.append(bn(m))
        layers.append(conv(m, main_out, 1, groups=groups, bias=False))
        if batchnorm:
            layers.append(bn(main_out))
        self.main = nn.Sequential(*layers)
        self.shortcut = AVGPOOL[n](3, s, 1) if self.down else None
        self.relu = nn.ReLU()

    def forward(self, x):
        y = self.main(x)
        y = torch.cat([y, self.shortcut(x)], 1) if self.down else strict_add(y, x)
        return self.relu(y)


def layer_module(layer, in_shape, *more_shapes) -> nn.Module:
    """The torch.nn twin of one convcalc layer applied to ``in_shape`` = (C, *spatial); a merge
    (add, mul, concat) also gets its other inputs' shapes, and its twin takes that many tensors."""
    t = layer.type_name
    from twin_layers import TWINS  # the layers of issue 9

    if t in TWINS:
        return TWINS[t](layer, tuple(in_shape), *(tuple(s) for s in more_shapes))
    p = layer.params
    in_shape = tuple(in_shape)
    c_in, size = in_shape[0], in_shape[1:]
    if t == "conv":
        n = _spatial(in_shape)
        return conv_module(
            n,
            c_in,
            p["out_channels"],
            p["kernel"],
            p["stride"],
            p["padding"],
            p["dilation"],
            p["groups"],
            p["bias"],
            size,
        )
    if t == "depthwise":
        n = _spatial(in_shape)
        c_out = p["out_channels"] if p["out_channels"] is not None else c_in * p["multiplier"]
        return conv_module(
            n, c_in, c_out, p["kernel"], p["stride"], p["padding"], p["dilation"], c_in, p["bias"], size
        )
    if t == "pointwise":
        n = _spatial(in_shape)
        return CONV[n](c_in, p["out_channels"], 1, _t(p["stride"], n), 0, 1, p["groups"], p["bias"])
    if t == "transposed":
        n = _spatial(in_shape)
        return CONVT[n](
            c_in,
            p["out_channels"],
            _t(p["kernel"], n),
            _t(p["stride"], n),
            _t(p["padding"], n),
            _t(p["output_padding"], n),
            p["groups"],
            p["bias"],
            _t(p["dilation"], n),
        )
    if t == "separable":
        n = _spatial(in_shape)
        mid = c_in * p["multiplier"]
        dw = conv_module(
            n, c_in, mid, p["kernel"], p["stride"], p["padding"], p["dilation"], c_in, p["bias"], size
        )
        return nn.Sequential(dw, CONV[n](mid, p["out_channels"], 1, bias=p["bias"]))
    if t == "shuffle":
        n = _spatial(in_shape)
        return ShuffleUnitTwin(
            n,
            c_in,
            p["out_channels"],
            p["groups"],
            p["stride"],
            p["kernel"],
            p["bottleneck"],
            p["first_grouped"],
            p["batchnorm"],
        )
    if t == "batchnorm":
        if len(size) > 3:
            raise ValueError("batchnorm: at most 3 spatial dims")
        return BN[len(size)](c_in, affine=p["affine"])
    if t == "activation":
        return ACTIVATIONS[p["fn"]]()
    if t == "pool":
        n = _spatial(in_shape)
        k = _t(p["kernel"], n)
        s = k if p["stride"] is None else _t(p["stride"], n)
        if p["mode"] == "max":
            return MAXPOOL[n](k, s, _t(p["padding"], n), _t(p["dilation"], n), ceil_mode=p["ceil_mode"])
        return AVGPOOL[n](k, s, _t(p["padding"], n), ceil_mode=p["ceil_mode"])
    if t == "global_pool":
        n = _spatial(in_shape)
        return ADAPTIVE[p["mode"], n](1)
    if t == "adaptive_pool":
        n = _spatial(in_shape)
        return ADAPTIVE[p["mode"], n](_t(p["output_size"], n))
    if t == "channel_shuffle":
        return channel_shuffle(p["groups"], len(size))
    if t == "flatten":
        return nn.Flatten()
    if t == "linear":
        return nn.Sequential(nn.Flatten(), nn.Linear(prod(in_shape), p["out_features"], bias=p["bias"]))
    if t == "dropout":
        return nn.Dropout(p["p"])
    if t == "identity":
        return nn.Identity()
    if t == "upsample":
        n = _spatial(in_shape)
        mode = "nearest" if p["mode"] == "nearest" else UPSAMPLE_LINEAR[n]
        return nn.Upsample(scale_factor=tuple(float(x) for x in _t(p["scale"], n)), mode=mode)
    raise NotImplementedError(f"no torch twin for layer type {t!r}")


# -- networks ---------------------------------------------------------------------------------
class AddTwin(nn.Module):
    """A sum of tensors: strict (same shapes) for a residual block's add, broadcasting as
    torch does for a spec's ``add`` layer."""

    def __init__(self, strict: bool):
        super().__init__()
        self.strict = strict

    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = strict_add(out, x) if self.strict else out + x
        return out


class MulTwin(nn.Module):
    def forward(self, *xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class ConcatTwin(nn.Module):
    def __init__(self, axis: int):
        super().__init__()
        self.dim = axis + 1  # after the batch dim

    def forward(self, *xs):
        return torch.cat(xs, self.dim)


def merge_module(layer, strict: bool = False) -> nn.Module:
    t = layer.type_name
    if t == "add":
        return AddTwin(strict)
    if t == "mul":
        return MulTwin()
    if t == "concat":
        return ConcatTwin(layer.params.get("axis", 0))
    raise NotImplementedError(t)


def probe_shape(module: nn.Module, *in_shapes) -> tuple:
    """The output shape (without the batch) of ``module`` on one sample of each input shape:
    a forward pass on the meta device (shapes only, torch's own shape checks), or a real one
    for an operator without a meta kernel."""
    state = {
        k: torch.empty_like(v, device="meta")
        for k, v in itertools.chain(module.named_parameters(), module.named_buffers())
    }
    was = module.training
    module.eval()
    try:
        with torch.no_grad():
            try:
                args = tuple(torch.zeros((1,) + tuple(s), device="meta") for s in in_shapes)
                y = functional_call(module, state, args)
            except NotImplementedError:
                y = module(*(torch.zeros((1,) + tuple(s)) for s in in_shapes))
    finally:
        module.train(was)
    return tuple(y.shape[1:])


class GraphTwin(nn.Module):
    """The torch twin of a convcalc graph: one module per node (so repeated layers have their
    own parameters), run in the graph's order. The graph gives only the wiring; every shape
    comes from torch (each module is probed on its inputs' torch shapes)."""

    def __init__(self, graph, leaf_hook=None):
        super().__init__()
        self.wiring = [node.inputs for node in graph.nodes]
        self.outputs = [r for _, r in graph.outputs]
        shapes: list = []
        in_shapes = [tuple(g.shape) for g in graph.inputs]

        def shape_of(r):
            return shapes[r] if r >= 0 else in_shapes[-1 - r]

        mods = []
        for node in graph.nodes:
            ins = [shape_of(r) for r in node.inputs]
            layer = node.layer
            if node.refs:
                layer = layer.resolve_refs({f: shape_of(r) for f, r in node.refs})
            if layer.arity == 0:
                m = merge_module(layer, strict=node.check is not None and layer.type_name == "add")
            else:
                m = layer_module(layer, ins[0])
                if leaf_hook is not None:
                    m = leaf_hook(layer, ins[0], m)
            mods.append(m)
            shapes.append(probe_shape(m, *ins))
        self.nodes = nn.ModuleList(mods)

    def forward(self, *xs):
        vals = []
        for m, inputs in zip(self.nodes, self.wiring):
            vals.append(m(*(vals[r] if r >= 0 else xs[-1 - r] for r in inputs)))
        outs = [vals[r] if r >= 0 else xs[-1 - r] for r in self.outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def network_module(network: Network, leaf_hook=None) -> nn.Module:
    """The torch.nn twin of a whole convcalc network. ``leaf_hook(layer, in_shape, module)``
    may replace each single-input layer's module (the receptive-field tests use it)."""
    return GraphTwin(network.graph(), leaf_hook)


# -- measuring ----------------------------------------------------------------------------------
def torch_counts(module: nn.Module, input_shape, batch: int = 1, device: str = "cpu"):
    """(output shape without the batch, parameters, MACs) of ``module`` on a batch of
    ``input_shape`` inputs, measured by torch: a forward pass under FlopCounterMode
    (FLOPs / 2 = MACs), in eval mode and without gradients."""
    module.eval()
    x = torch.randn((batch,) + tuple(input_shape), device=device)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        y = module(x)
    total = counter.get_total_flops()
    assert total % 2 == 0, f"FlopCounterMode total {total} is odd"
    params = sum(p.numel() for p in module.parameters())
    first = y[0] if isinstance(y, tuple) else y
    return tuple(first.shape[1:]), params, total // 2


def torch_output_shapes(module: nn.Module, input_shape) -> list[tuple]:
    """The shape (without the batch) of every output of ``module`` on one sample."""
    module.eval()
    with torch.no_grad():
        y = module(torch.zeros((1,) + tuple(input_shape)))
    return [tuple(t.shape[1:]) for t in (y if isinstance(y, tuple) else (y,))]
