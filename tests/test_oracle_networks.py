"""Oracle tests: whole convcalc networks (YAML spec text) against their torch.nn twins, and
convcalc's receptive fields against the support of torch's input gradient.

Totals: ``walk(net, batch=b)``'s params, MACs and output shape must equal torch's measurement
of the twin (sum(p.numel()), FlopCounterMode / 2, the shape of a real forward pass). Receptive
fields: with positive weights (max pools read as average pools of the same window), the input
pixels whose gradient is non-zero for one output pixel are exactly those that can influence it;
their extent per dim, for an output pixel far from the borders, is the receptive field.
"""

from __future__ import annotations

from math import gcd

import pytest
import torch
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn
from torch_twin import AVGPOOL, CONV, network_module, torch_counts

from convcalc import zoo
from convcalc.network import walk
from convcalc.spec import parse_text

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_network_matches_torch(text: str, batch: int = 1, device: str = "cpu") -> None:
    net = parse_text(text)
    report = walk(net, batch=batch)
    if device == "meta":
        with torch.device("meta"):
            module = network_module(net)
    else:
        module = network_module(net)
    out, params, macs = torch_counts(module, net.input_shape, batch, device=device)
    assert tuple(report.output_shape) == out, f"output shape: convcalc {report.output_shape}, torch {out}"
    assert report.params == params, f"params: convcalc {report.params}, torch {params}"
    assert report.macs == macs, f"MACs: convcalc {report.macs}, torch {macs}"


# -- hand-written networks ------------------------------------------------------------------
SPECS = {
    "sequential-2d": """
input: [3, 32, 32]
layers:
  - {type: conv, out_channels: 16, kernel: 3, stride: 2, padding: same, bias: false}
  - {type: batchnorm}
  - {type: activation, fn: relu6}
  - {type: pool, mode: max, kernel: 3, stride: 2, padding: 1}
  - {type: depthwise, kernel: 3, padding: 1}
  - {type: pointwise, out_channels: 24, groups: 2}
  - {type: separable, out_channels: 32, kernel: 5, stride: 2, padding: same}
  - {type: channel_shuffle, groups: 4}
  - {type: global_pool}
  - {type: flatten}
  - {type: dropout, p: 0.2}
  - {type: linear, out_features: 10}
""",
    "residual-identity": """
input: [8, 12, 12]
layers:
  - type: residual
    body:
      - {type: conv, out_channels: 8, kernel: 3, padding: 1, bias: false}
      - {type: batchnorm}
      - {type: activation}
      - {type: conv, out_channels: 8, kernel: 3, padding: same, bias: false}
      - {type: batchnorm}
  - {type: activation}
""",
    "residual-projection": """
input: [8, 15, 15]
layers:
  - type: residual
    body:
      - {type: pointwise, out_channels: 4, bias: false}
      - {type: conv, out_channels: 4, kernel: 3, stride: 2, padding: 1, bias: false}
      - {type: pointwise, out_channels: 16, bias: false}
    shortcut:
      - {type: pointwise, out_channels: 16, stride: 2, bias: false}
      - {type: batchnorm}
""",
    "concat-with-identity-branch": """
input: [6, 10, 10]
layers:
  - type: concat
    branches:
      - []
      - [{type: conv, out_channels: 4, kernel: 3, padding: 1}]
      - [{type: pointwise, out_channels: 2}, {type: conv, out_channels: 3, kernel: 5, padding: 2}]
      - [{type: pool, mode: max, kernel: 3, stride: 1, padding: 1}, {type: pointwise, out_channels: 5}]
      -
  - {type: pointwise, out_channels: 7}
""",
    "repeat": """
input: [4, 9, 9]
layers:
  - type: repeat
    times: 3
    layers:
      - {type: conv, out_channels: 4, kernel: 3, padding: 1}
      - {type: activation, fn: silu}
  - type: repeat
    times: 2
    layers:
      - {type: conv, out_channels: 6, kernel: 3, stride: 2, padding: same}
""",
    "nested-blocks": """
input: [8, 16, 16]
layers:
  - type: sequential
    layers:
      - type: repeat
        times: 2
        layers:
          - type: residual
            body:
              - type: concat
                branches:
                  - [{type: pointwise, out_channels: 4}]
                  - [{type: separable, out_channels: 4, kernel: 3, padding: same}]
              - {type: batchnorm}
      - type: residual
        body:
          - {type: shuffle, out_channels: 8, groups: 2}
        shortcut:
          - type: sequential
            layers: [{type: identity}]
  - {type: adaptive_pool, output_size: [2, 3]}
  - {type: linear, out_features: 5, bias: false}
""",
    "yaml-anchors-reuse-a-layer": """
input: [4, 8, 8]
x-conv: &c {type: conv, out_channels: 4, kernel: 3, padding: 1}
layers: [*c, *c, {type: residual, body: [*c, *c]}, *c]
""",
    "1d-signal": """
input: [2, 40]
layers:
  - {type: conv, out_channels: 8, kernel: 7, stride: 2, padding: 3, dilation: 1}
  - {type: conv, out_channels: 8, kernel: 3, dilation: 2, padding: same}
  - {type: pool, mode: avg, kernel: 2, ceil_mode: true}
  - {type: transposed, out_channels: 4, kernel: 4, stride: 2, padding: 1}
  - {type: upsample, scale: 2, mode: linear}
  - {type: shuffle, out_channels: 8, groups: 2, stride: 2, bottleneck: 2}
  - {type: adaptive_pool, mode: max, output_size: 5}
  - {type: linear, out_features: 3}
""",
    "3d-volume": """
input: [2, 8, 10, 9]
layers:
  - {type: conv, out_channels: 6, kernel: [3, 3, 1], padding: [1, 1, 0]}
  - {type: pool, mode: max, kernel: 2, ceil_mode: true}
  - {type: shuffle, out_channels: 12, groups: 3, stride: 2, bottleneck: 3, first_grouped: false}
  - {type: depthwise, kernel: 3, padding: same, multiplier: 2}
  - {type: transposed, out_channels: 4, kernel: 2, stride: 2, groups: 2}
  - {type: global_pool, mode: max}
  - {type: flatten}
  - {type: linear, out_features: 2}
""",
    "dcgan-like-decoder": """
input: [16, 1, 1]
layers:
  - {type: transposed, out_channels: 32, kernel: 4, bias: false}
  - {type: batchnorm}
  - {type: activation}
  - {type: transposed, out_channels: 16, kernel: 4, stride: 2, padding: 1, bias: false}
  - {type: batchnorm}
  - {type: activation}
  - {type: transposed, out_channels: 3, kernel: 4, stride: 2, padding: 1, bias: false}
  - {type: activation, fn: tanh}
""",
    "shufflenet-stage": """
input: [24, 14, 14]
layers:
  - {type: shuffle, out_channels: 240, groups: 3, stride: 2, first_grouped: false}
  - {type: repeat, times: 3, layers: [{type: shuffle, out_channels: 240, groups: 3}]}
""",
    "vector-mlp": """
input: [20]
layers:
  - {type: linear, out_features: 16}
  - {type: batchnorm}
  - {type: activation, fn: gelu}
  - {type: channel_shuffle, groups: 4}
  - {type: residual, body: [{type: linear, out_features: 16, bias: false}]}
  - {type: concat, branches: [[], [{type: linear, out_features: 4}]]}
  - {type: linear, out_features: 2}
""",
}


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize("name", list(SPECS))
def test_hand_written_networks_match_torch(name, batch):
    assert_network_matches_torch(SPECS[name], batch)


@pytest.mark.parametrize("name", zoo.names())
def test_zoo_models_match_torch(name):
    """Every shipped model, on the meta device (torch's shapes and counts, no arithmetic)."""
    assert_network_matches_torch(zoo.read(name), 1, device="meta")


# -- random networks ------------------------------------------------------------------------
MAX_C = 16


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def divisors(x: int) -> list[int]:
    return [d for d in range(1, min(x, 4) + 1) if x % d == 0]


class NetGen:
    """Draws random valid layers and blocks, tracking the shape by torch's size rules."""

    def __init__(self, draw):
        self.draw = draw

    def int(self, lo, hi):
        return self.draw(st.integers(lo, hi))

    def pick(self, options):
        return self.draw(st.sampled_from(options))

    # shape-preserving items (channels and spatial sizes unchanged)
    def keep(self, shape, depth):
        c, _sp, n = shape[0], shape[1:], len(shape) - 1
        options = ["batchnorm", "activation", "dropout", "identity", "channel_shuffle"]
        if n == 0:
            options.append("linear_c")
        else:
            options += [
                "pointwise_c",
                "conv_same",
                "depthwise",
                "separable_c",
                "maxpool3s1",
                "shuffle1",
                "transposed_c",
            ]
        if depth < 2:
            options += ["residual", "repeat", "sequential_keep"]
        kind = self.pick(options)
        g = self.pick(divisors(c))
        if kind == "batchnorm":
            return {"type": "batchnorm", "affine": self.draw(st.booleans())}
        if kind == "activation":
            return {"type": "activation", "fn": self.pick(["relu", "relu6", "sigmoid", "hardswish", "gelu"])}
        if kind == "dropout":
            return {"type": "dropout", "p": 0.1}
        if kind == "identity":
            return {"type": "identity"}
        if kind == "pointwise_c":
            return {"type": "pointwise", "out_channels": c, "groups": g, "bias": self.draw(st.booleans())}
        if kind == "channel_shuffle":
            return {"type": "channel_shuffle", "groups": g}
        if kind == "linear_c":
            return {"type": "linear", "out_features": c}
        if kind == "conv_same":
            return {
                "type": "conv",
                "out_channels": c,
                "kernel": self.int(1, 5),
                "padding": "same",
                "dilation": self.int(1, 2),
                "groups": g,
            }
        if kind == "depthwise":
            return {"type": "depthwise", "kernel": self.int(1, 4), "padding": "same", "bias": False}
        if kind == "separable_c":
            k = self.pick([1, 3, 5])
            return {"type": "separable", "out_channels": c, "kernel": k, "padding": k // 2}
        if kind == "maxpool3s1":
            return {"type": "pool", "mode": "max", "kernel": 3, "stride": 1, "padding": 1}
        if kind == "shuffle1":
            return {
                "type": "shuffle",
                "out_channels": c,
                "groups": g,
                "bottleneck": g * self.int(1, 2),
                "kernel": self.pick([1, 3]),
                "batchnorm": self.draw(st.booleans()),
            }
        if kind == "transposed_c":
            return {"type": "transposed", "out_channels": c, "kernel": 3, "padding": 1, "groups": g}
        if kind == "residual":
            return {"type": "residual", "body": [self.keep(shape, depth + 1) for _ in range(self.int(1, 2))]}
        if kind == "repeat":
            return {
                "type": "repeat",
                "times": self.int(1, 3),
                "layers": [self.keep(shape, depth + 1) for _ in range(self.int(1, 2))],
            }
        return {"type": "sequential", "layers": [self.keep(shape, depth + 1) for _ in range(self.int(1, 2))]}

    # any item: returns (spec, new shape)
    def any(self, shape, depth):
        c, sp, n = shape[0], shape[1:], len(shape) - 1
        options = ["keep", "keep", "linear"]
        if n:
            options += [
                "conv",
                "conv_explicit",
                "depthwise2",
                "pointwise",
                "separable",
                "pool2",
                "pool3s2",
                "shuffle2",
                "adaptive",
            ]
            if max(sp) <= 8:
                options += ["transposed_up", "upsample"]
            if depth < 2:
                options += ["residual_proj", "concat", "concat", "sequential"]
        kind = self.pick(options)
        if kind == "keep":
            return self.keep(shape, depth), shape
        if kind == "linear":
            f = self.int(1, MAX_C)
            return {"type": "linear", "out_features": f, "bias": self.draw(st.booleans())}, (f,)
        if kind == "conv":
            c2, s = self.int(1, MAX_C), self.int(1, 2)
            g = self.pick(divisors(gcd(c, c2)))
            spec = {
                "type": "conv",
                "out_channels": c2,
                "kernel": self.int(1, 5),
                "stride": s,
                "padding": "same",
                "dilation": self.int(1, 2),
                "groups": g,
            }
            return spec, (c2,) + tuple(ceil_div(i, s) for i in sp)
        if kind == "conv_explicit":
            k, s, d = self.int(1, 3), self.int(1, 3), self.int(1, 2)
            p = self.int(0, 2)
            if min(sp) + 2 * p < d * (k - 1) + 1:
                p = d * (k - 1)  # enough for any size >= 1
            c2 = self.int(1, MAX_C)
            out = tuple((i + 2 * p - d * (k - 1) - 1) // s + 1 for i in sp)
            return {
                "type": "conv",
                "out_channels": c2,
                "kernel": k,
                "stride": s,
                "padding": p,
                "dilation": d,
            }, (c2,) + out
        if kind == "depthwise2":
            m = 2 if 2 * c <= 2 * MAX_C else 1
            s = self.int(1, 2)
            return (
                {"type": "depthwise", "kernel": 3, "stride": s, "padding": "same", "multiplier": m},
                (c * m,) + tuple(ceil_div(i, s) for i in sp),
            )
        if kind == "pointwise":
            c2, s = self.int(1, MAX_C), self.int(1, 2)
            return (
                {
                    "type": "pointwise",
                    "out_channels": c2,
                    "stride": s,
                    "groups": self.pick(divisors(gcd(c, c2))),
                },
                (c2,) + tuple((i - 1) // s + 1 for i in sp),
            )
        if kind == "separable":
            c2, s = self.int(1, MAX_C), self.int(1, 2)
            return (
                {
                    "type": "separable",
                    "out_channels": c2,
                    "kernel": 3,
                    "stride": s,
                    "padding": "same",
                    "bias": False,
                },
                (c2,) + tuple(ceil_div(i, s) for i in sp),
            )
        if kind == "pool2":
            if min(sp) < 2:
                return self.keep(shape, depth), shape
            mode = self.pick(["max", "avg"])
            return {"type": "pool", "mode": mode, "kernel": 2}, (c,) + tuple(i // 2 for i in sp)
        if kind == "pool3s2":
            mode = "max" if n == 3 and min(sp) < 3 else self.pick(["max", "avg"])
            return (
                {"type": "pool", "mode": mode, "kernel": 3, "stride": 2, "padding": 1},
                (c,) + tuple((i - 1) // 2 + 1 for i in sp),
            )
        if kind == "shuffle2":
            if n == 3 and min(sp) < 3:  # torch's avg_pool3d: unpadded input >= kernel 3
                return self.keep(shape, depth), shape
            g = self.pick(divisors(c))
            c2 = c + g * self.int(1, 3)
            return (
                {
                    "type": "shuffle",
                    "out_channels": c2,
                    "groups": g,
                    "stride": 2,
                    "bottleneck": g * self.int(1, 2),
                    "first_grouped": self.draw(st.booleans()),
                },
                (c2,) + tuple((i - 1) // 2 + 1 for i in sp),
            )
        if kind == "adaptive":
            out = [self.int(1, 3) for _ in sp]
            return (
                {"type": "adaptive_pool", "mode": self.pick(["avg", "max"]), "output_size": out},
                (c,) + tuple(out),
            )
        if kind == "transposed_up":
            c2 = self.int(1, MAX_C)
            if self.draw(st.booleans()):
                return (
                    {"type": "transposed", "out_channels": c2, "kernel": 2, "stride": 2},
                    (c2,) + tuple(2 * i for i in sp),
                )
            return (
                {"type": "transposed", "out_channels": c2, "kernel": 4, "stride": 2, "padding": 1},
                (c2,) + tuple(2 * i for i in sp),
            )
        if kind == "upsample":
            return (
                {"type": "upsample", "scale": 2, "mode": self.pick(["nearest", "linear"])},
                (c,) + tuple(2 * i for i in sp),
            )
        if kind == "residual_proj":
            c2, s = self.int(1, MAX_C), self.int(1, 2)
            out = (c2,) + tuple(ceil_div(i, s) for i in sp)
            body = [{"type": "conv", "out_channels": c2, "kernel": 3, "stride": s, "padding": "same"}]
            body += [self.keep(out, depth + 1) for _ in range(self.int(0, 2))]
            shortcut = [{"type": "pointwise", "out_channels": c2, "stride": s, "bias": False}]
            if self.draw(st.booleans()):
                shortcut.append({"type": "batchnorm"})
            return {"type": "residual", "body": body, "shortcut": shortcut}, out
        if kind == "concat":
            branches, total = [], 0
            for _ in range(self.int(1, 3)):
                what = self.pick(["empty", "conv", "pool"])
                if what == "empty":
                    branches.append([])
                    total += c
                elif what == "conv":
                    ci = self.int(1, 8)
                    br = [
                        {
                            "type": "conv",
                            "out_channels": ci,
                            "kernel": self.pick([1, 3, 5]),
                            "padding": "same",
                        }
                    ]
                    br += [self.keep((ci,) + sp, depth + 1) for _ in range(self.int(0, 1))]
                    branches.append(br)
                    total += ci
                else:
                    branches.append([{"type": "pool", "mode": "max", "kernel": 3, "stride": 1, "padding": 1}])
                    total += c
            return {"type": "concat", "branches": branches}, (total,) + sp
        layers = []
        for _ in range(self.int(1, 3)):
            spec, shape = self.any(shape, depth + 1)
            layers.append(spec)
        return {"type": "sequential", "layers": layers}, shape


@st.composite
def network_specs(draw):
    n = draw(st.integers(0, 3)) if draw(st.integers(0, 9)) == 0 else draw(st.integers(1, 3))
    top = {0: 1, 1: 24, 2: 12, 3: 6}[n]
    shape = (draw(st.integers(1, 8)),) + tuple(draw(st.integers(1, top)) for _ in range(n))
    gen = NetGen(draw)
    layers, cur = [], shape
    for _ in range(draw(st.integers(1, 5))):
        spec, cur = gen.any(cur, 0)
        layers.append(spec)
    head = draw(st.sampled_from(["none", "none", "linear", "global"]))
    if head == "linear":
        layers.append({"type": "linear", "out_features": draw(st.integers(1, 10))})
    elif head == "global" and len(cur) > 1:
        layers += [{"type": "global_pool"}, {"type": "flatten"}, {"type": "linear", "out_features": 3}]
    spec = {"name": "random", "input": list(shape), "layers": layers}
    return yaml.safe_dump(spec, sort_keys=False), draw(st.integers(1, 2))


@settings(max_examples=60, **SETTINGS)
@given(case=network_specs())
def test_random_networks_match_torch(case):
    text, batch = case
    assert_network_matches_torch(text, batch)


# -- receptive fields, by gradient -----------------------------------------------------------
WEIGHTED = (
    nn.Conv1d,
    nn.Conv2d,
    nn.Conv3d,
    nn.ConvTranspose1d,
    nn.ConvTranspose2d,
    nn.ConvTranspose3d,
    nn.Linear,
)


def make_positive(module: nn.Module) -> nn.Module:
    """Every weight 1/fan-in (positive, and the activations stay O(1)), every bias 0."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, WEIGHTED):
                m.weight.fill_(1.0 / m.weight[0].numel())
                if m.bias is not None:
                    m.bias.zero_()
    return module


def rf_hook(layer, in_shape, module):
    """A leaf's module for the gradient test: max pooling routes the gradient to one pixel per
    window, so it becomes a sum over the same window (average pool, or a ones depthwise conv
    when dilated); everything else gets positive weights."""
    p = layer.params
    if layer.type_name == "pool" and p["mode"] == "max":
        n, c = len(in_shape) - 1, in_shape[0]
        k = p["kernel"]
        s = k if p["stride"] is None else p["stride"]
        d = p["dilation"] if isinstance(p["dilation"], tuple) else (p["dilation"],) * n
        if all(x == 1 for x in d):
            module = AVGPOOL[n](k, s, p["padding"], ceil_mode=p["ceil_mode"])
        else:
            assert not p["ceil_mode"], "the window-sum stand-in has no ceil_mode"
            module = CONV[n](c, c, k, s, p["padding"], d, groups=c, bias=False)
    return make_positive(module)


def gradient_extent(module: nn.Module, in_shape, positions) -> tuple:
    """Per spatial dim, the largest extent (last - first + 1) of the input pixels with a
    non-zero gradient of one output pixel (summed over its channels), over ``positions``.
    Fails if a support touches the input's border (the input would be too small)."""
    module.eval()
    for q in module.parameters():
        q.requires_grad_(False)
    x = torch.ones((len(positions),) + tuple(in_shape), dtype=torch.float64, requires_grad=True)
    module = module.double()
    y = module(x)
    assert y.dim() == x.dim(), "the spatial dims must survive"
    sel = sum(y[(b, slice(None)) + tuple(pos)].sum() for b, pos in enumerate(positions))
    sel.backward()
    n = len(in_shape) - 1
    best = [0] * n
    for b in range(len(positions)):
        support = x.grad[b].abs().sum(0) > 0
        if not support.any():  # e.g. a transposed conv whose dilated taps skip this output pixel
            continue
        for dim in range(n):
            other = tuple(i for i in range(n) if i != dim)
            hit = support.any(dim=other) if other else support
            idx = hit.nonzero().flatten()
            lo, hi = int(idx.min()), int(idx.max())
            assert lo > 0 and hi < in_shape[1 + dim] - 1, "support reaches the border: input too small"
            best[dim] = max(best[dim], hi - lo + 1)
    assert min(best) > 0, "no output pixel depends on any input pixel"
    return tuple(best), tuple(y.shape[2:])


def convcalc_rf(text: str):
    report = walk(parse_text(text))
    return report.rows[-1].receptive_field


def torch_rf(text: str, positions=None, window: int = 1):
    """The gradient extent for the central output pixel, or the largest over a central window
    of ``window`` pixels per dim (to meet every phase of a fractional jump)."""
    net = parse_text(text)
    module = network_module(net, leaf_hook=rf_hook)
    with torch.no_grad():
        out = module.double()(torch.zeros((1,) + net.input_shape, dtype=torch.float64)).shape[2:]
    if positions is None:
        ranges = [range(max(0, o // 2 - window // 2), min(o, o // 2 - window // 2 + window)) for o in out]
        positions = [tuple(p) for p in _product(ranges)]
    return gradient_extent(module, net.input_shape, positions)[0]


def _product(ranges):
    if not ranges:
        return [()]
    return [(a,) + rest for a in ranges[0] for rest in _product(ranges[1:])]


VGG16_FEATURES = """
input: [3, 320, 320]
x-pool: &pool {type: pool, mode: max, kernel: 2, stride: 2}
x-relu: &relu {type: activation, fn: relu}
layers:
""" + "".join(
    "  - *pool\n"
    if v == "M"
    else f"  - {{type: conv, out_channels: {v}, kernel: 3, padding: 1}}\n  - *relu\n"
    for v in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
)


def test_vgg16_receptive_field_is_212_by_gradient():
    """VGG-16's feature extractor (torchvision config D): the published receptive field is 212
    (Araujo et al., Distill 2019); torch's gradient support and convcalc must both say so."""
    net = parse_text(VGG16_FEATURES)
    module = network_module(net, leaf_hook=rf_hook).float()
    for q in module.parameters():
        q.requires_grad_(False)
    x = torch.ones((1,) + net.input_shape, requires_grad=True)
    y = module(x)
    assert tuple(y.shape[1:]) == (512, 10, 10)
    y[0, :, 5, 5].sum().backward()
    support = x.grad[0].abs().sum(0) > 0
    rows = support.any(1).nonzero().flatten()
    cols = support.any(0).nonzero().flatten()
    assert int(rows.min()) > 0 and int(rows.max()) < 319 and int(cols.min()) > 0 and int(cols.max()) < 319
    extent = (int(rows.max() - rows.min()) + 1, int(cols.max() - cols.min()) + 1)
    assert extent == (212, 212)
    assert convcalc_rf(VGG16_FEATURES) == extent


def _layers_spec(shape, layers) -> str:
    return yaml.safe_dump({"input": list(shape), "layers": layers}, sort_keys=False)


@st.composite
def conv_pool_stacks(draw):
    """1D/2D stacks of convs (dilated, strided, 'same' or explicit padding) and pools
    (max/avg, dilated max, ceil_mode), total stride at most 8, with an input large enough."""
    n = draw(st.integers(1, 2))
    layers, jump, bound = [], [1] * n, [1] * n
    for _ in range(draw(st.integers(1, 4))):
        k = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
        room = [8 // j for j in jump]
        s = [draw(st.integers(1, min(3, r))) for r in room]
        kind = draw(st.sampled_from(["conv", "conv", "depthwise", "pool"]))
        if kind == "pool":
            mode = draw(st.sampled_from(["max", "avg"]))
            d = draw(st.lists(st.integers(1, 2), min_size=n, max_size=n)) if mode == "max" else [1] * n
            pad = [draw(st.integers(0, kk // 2)) for kk in k]
            spec = {
                "type": "pool",
                "mode": mode,
                "kernel": k,
                "stride": s,
                "padding": pad,
                "ceil_mode": draw(st.booleans()) if max(d) == 1 else False,
            }
            if mode == "max":
                spec["dilation"] = d
        else:
            d = draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))
            pad = draw(st.one_of(st.just("same"), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
            spec = {"type": kind, "kernel": k, "stride": s, "dilation": d, "padding": pad}
            if kind == "conv":
                spec["out_channels"] = draw(st.integers(1, 2))
        layers.append(spec)
        for i in range(n):
            bound[i] += (d[i] * (k[i] - 1) + 3) * jump[i]  # generous: the window plus padding
            jump[i] *= s[i]
    size = [2 * b + 4 * j + 8 for b, j in zip(bound, jump)]
    return _layers_spec((draw(st.integers(1, 2)),) + tuple(size), layers)


@settings(max_examples=25, **SETTINGS)
@given(text=conv_pool_stacks())
@example(
    text=_layers_spec(
        (1, 120),
        [
            {"type": "conv", "out_channels": 1, "kernel": 3, "dilation": 2, "padding": "same"},
            {"type": "pool", "mode": "max", "kernel": 2, "stride": 2},
            {"type": "conv", "out_channels": 1, "kernel": 3, "dilation": 3, "stride": 2, "padding": 0},
        ],
    )
)
@example(
    text=_layers_spec(
        (1, 90, 90),
        [
            {"type": "conv", "out_channels": 2, "kernel": [3, 5], "stride": [2, 1], "padding": "same"},
            {"type": "pool", "mode": "max", "kernel": 3, "stride": 2, "dilation": 2, "padding": 1},
            {"type": "depthwise", "kernel": 3, "stride": 3, "padding": "same"},
        ],
    )
)
def test_conv_pool_stack_receptive_field_matches_gradient(text):
    assert torch_rf(text, window=2) == convcalc_rf(text)


@st.composite
def up_stacks(draw):
    """1D stacks of transposed convs (any kernel, stride, dilation), upsampling and stride-1
    convs: the jump becomes fractional."""
    layers, span_sum, up = [], 0, 1
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["transposed", "transposed", "upsample", "conv"]))
        if kind == "transposed":
            k, s, d = draw(st.integers(1, 5)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
            spec = {
                "type": "transposed",
                "out_channels": 1,
                "kernel": k,
                "stride": s,
                "dilation": d,
                "padding": draw(st.integers(0, 2)),
                "output_padding": draw(st.integers(0, max(s, d) - 1)),
            }
            span_sum += d * k + 2
            up *= s
        elif kind == "upsample":
            s = draw(st.integers(1, 3))
            spec = {"type": "upsample", "scale": s, "mode": draw(st.sampled_from(["nearest", "linear"]))}
            span_sum += 2
            up *= s
        else:
            k, d = draw(st.integers(1, 4)), draw(st.integers(1, 2))
            spec = {"type": "conv", "out_channels": 1, "kernel": k, "dilation": d, "padding": "same"}
            span_sum += d * k
        layers.append(spec)
    return _layers_spec((1, 2 * span_sum + 12), layers), min(2 * up + 1, 41)


@settings(max_examples=25, **SETTINGS)
@given(case=up_stacks())
def test_transposed_stack_receptive_field_matches_gradient(case):
    text, window = case
    assert torch_rf(text, window=window) == convcalc_rf(text)


def _t(k, s, p=0, d=1, op=0):
    return {
        "type": "transposed",
        "out_channels": 1,
        "kernel": k,
        "stride": s,
        "padding": p,
        "dilation": d,
        "output_padding": op,
    }


UP_STACKS = {
    # single layers: how many input pixels one output pixel can see (the max over its phases)
    "transposed-k4-s2-p1": [_t(4, 2, 1)],
    "transposed-k5-s3-d2": [_t(5, 3, d=2)],
    "transposed-k3-s2-d2": [_t(3, 2, d=2)],  # odd output pixels see nothing
    "transposed-k7-s3-d3": [_t(7, 3, d=3, op=2)],
    "upsample-nearest-x3": [{"type": "upsample", "scale": 3}],
    "upsample-linear-x2": [{"type": "upsample", "scale": 2, "mode": "linear"}],
    "transposed-then-conv": [_t(4, 2, 1), {"type": "conv", "out_channels": 1, "kernel": 3, "padding": 1}],
    # scale 1 is the identity: each output pixel is its own input pixel (torch: 1)
    "upsample-linear-x1": [{"type": "upsample", "scale": 1, "mode": "linear"}],
    # stacks: the jump is fractional after the first layer
    "transposed-k3-s2-twice": [_t(3, 2), _t(3, 2)],
    "transposed-k4-s2-p1-twice": [_t(4, 2, 1), _t(4, 2, 1)],
    "upsample-linear-x3-then-x2": [
        {"type": "upsample", "scale": 3, "mode": "linear"},
        {"type": "upsample", "scale": 2, "mode": "linear"},
    ],
}


@pytest.mark.parametrize("name", list(UP_STACKS))
def test_up_layers_receptive_field_matches_gradient(name):
    text = _layers_spec((1, 30), UP_STACKS[name])
    assert torch_rf(text, window=19) == convcalc_rf(text)


RF_BLOCKS = {
    "residual-centred": (
        [1, 40],
        [
            {
                "type": "residual",
                "body": [
                    {"type": "conv", "out_channels": 1, "kernel": 3, "padding": 1},
                    {"type": "conv", "out_channels": 1, "kernel": 5, "padding": 2},
                ],
            }
        ],
    ),
    "residual-projection-stride2": (
        [1, 40, 40],
        [
            {
                "type": "residual",
                "body": [{"type": "conv", "out_channels": 2, "kernel": 3, "stride": 2, "padding": 1}],
                "shortcut": [{"type": "pointwise", "out_channels": 2, "stride": 2}],
            },
            {"type": "conv", "out_channels": 1, "kernel": 3},
        ],
    ),
    "concat-inception-like": (
        [1, 40],
        [
            {
                "type": "concat",
                "branches": [
                    [],
                    [{"type": "conv", "out_channels": 1, "kernel": 5, "padding": 2}],
                    [
                        {"type": "pool", "mode": "max", "kernel": 3, "stride": 1, "padding": 1},
                        {"type": "conv", "out_channels": 1, "kernel": 3, "padding": 1},
                    ],
                ],
            }
        ],
    ),
    "shuffle-unit-stride2": (
        [3, 40, 40],
        [
            {"type": "shuffle", "out_channels": 6, "groups": 3, "stride": 2, "bottleneck": 3, "kernel": 5},
            {"type": "shuffle", "out_channels": 6, "groups": 3, "bottleneck": 3},
        ],
    ),
    # the body sees pixels o..o+2 (two even 'same' kernels put their extra pixel after), the
    # shortcut o-1..o+1: the sum depends on o-1..o+2, 4 pixels
    "residual-offset-branches": (
        [1, 40],
        [
            {
                "type": "residual",
                "body": [
                    {"type": "conv", "out_channels": 1, "kernel": 2, "padding": "same"},
                    {"type": "conv", "out_channels": 1, "kernel": 2, "padding": "same"},
                ],
                "shortcut": [{"type": "conv", "out_channels": 1, "kernel": 3, "padding": "same"}],
            }
        ],
    ),
    # the same two branches concatenated: the output pixel's channels see o-1..o+2
    "concat-offset-branches": (
        [1, 40],
        [
            {
                "type": "concat",
                "branches": [
                    [
                        {"type": "conv", "out_channels": 1, "kernel": 2, "padding": "same"},
                        {"type": "conv", "out_channels": 1, "kernel": 2, "padding": "same"},
                    ],
                    [{"type": "conv", "out_channels": 1, "kernel": 3, "padding": "same"}],
                ],
            }
        ],
    ),
}


@pytest.mark.parametrize("name", list(RF_BLOCKS))
def test_block_receptive_field_matches_gradient(name):
    shape, layers = RF_BLOCKS[name]
    text = _layers_spec(shape, layers)
    assert torch_rf(text, window=2) == convcalc_rf(text)
