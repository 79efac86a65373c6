"""ONNX models in (issue 10, items 1 and 2): ``convcalc report MODEL.onnx`` and ``convcalc import``.

torch is the judge. Every model is exported here with ``torch.onnx.export`` (weight-free files:
tests/onnx_export.py), then:

* ``report model.onnx`` must give torch's ``sum(p.numel())`` (plus the float buffers the
  model reads as data, which the issue's rule counts: FrozenBatchNorm's), FlopCounterMode's
  MACs and the shape of every output, exactly;
* ``import model.onnx`` then ``report spec.yaml`` must give the same layers (names, types,
  shapes, params, MACs, FLOPs, activations, inputs), totals and outputs.

Models: every architecture of convcalc's zoo (tests/zoo_twins.py), the ten architectures of
tests/arch_twins.py, random networks of many op kinds (hypothesis), and hostile files.
"""

from __future__ import annotations

import json

import onnx
import pytest
import torch
import torch.nn.functional as F
import yaml
from arch_twins import ARCHITECTURES
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper
from onnx_export import export, fast_module, rule_params, truth
from torch import nn
from zoo_twins import TWINS

SETTINGS = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)

# the layer keys two reports of the same model must agree on
KEYS = ("name", "type", "input_shape", "output_shape", "params", "macs", "flops", "activations", "inputs")


def report_json(cli, *args: str) -> dict:
    r = cli("report", *args, "--format", "json")
    assert r.code == 0, r.err
    return json.loads(r.out)


def rows(report: dict) -> list[dict]:
    return [{k: layer.get(k) for k in KEYS} for layer in report["layers"]]


def import_and_report(cli, path: str, tmp_path, *args: str) -> tuple[dict, str]:
    out = tmp_path / "imported.yaml"
    r = cli("import", path, "-o", str(out), *args)
    assert r.code == 0, r.err
    text = out.read_text()
    return report_json(cli, str(out)), text


def assert_matches_torch(cli, module: nn.Module, shape: tuple[int, ...], tmp_path, path=None, **kw) -> dict:
    """Export (unless ``path`` is the export), report, compare with torch; import, report the
    spec, compare with the model's report. Returns the model's report."""
    if path is None:
        path = export(module, shape, tmp_path / "model.onnx", **kw)
    want = truth(module, shape)
    got = report_json(cli, path)
    assert got["input_shape"] == list(shape) and got["batch"] == 1
    assert got["totals"]["params"] == want["params"] + want["buffers"]
    assert got["totals"]["macs"] == want["macs"]
    assert [tuple(s) for s in got["outputs"].values()] == want["outputs"]
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)
    assert again["totals"] == got["totals"]
    assert again["outputs"] == got["outputs"]
    return got


# -- every zoo architecture and the ten modern ones ------------------------------------------------
# small inputs where the architecture allows (a fixed pooling window or an adaptive pooling to
# a size the exporter must divide needs the model's own size)
ZOO_SHAPES = {
    "mobilenet_v1": (3, 64, 64),
    "resnet50": (3, 64, 64),
    "googlenet": (3, 64, 64),
    "squeezenet1_0": (3, 64, 64),
    "unet_small": (3, 64, 64),
}
ARCH_SHAPES = {"inception_v3": (3, 75, 75), "tcn": (1, 200)}


@pytest.mark.parametrize("name", sorted(TWINS))
def test_zoo_architecture_through_onnx(name, cli, tmp_path):
    factory, shape = TWINS[name]
    assert_matches_torch(cli, fast_module(factory), ZOO_SHAPES.get(name, shape), tmp_path)


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_modern_architecture_through_onnx(name, cli, tmp_path):
    factory, shape, _ = ARCHITECTURES[name]
    shape = ARCH_SHAPES.get(name, (3, 64, 64) if len(shape) == 3 else shape)
    report = assert_matches_torch(cli, fast_module(factory), shape, tmp_path)
    types = {layer["type"] for layer in report["layers"]}
    folded = {  # the patterns each architecture's export expands and the mapping folds back
        "efficientnet_b0": {"squeeze_excite"},
        "regnet_y_400mf": {"squeeze_excite"},
        "mobilenet_v2": {"depthwise", "pointwise"},
        "convnext_tiny": {"layernorm", "pointwise", "scale", "depthwise"},
        "tcn": {"crop", "select"},
    }.get(name, set())
    assert folded <= types, folded - types
    assert "transpose" not in types  # channels-last views stay implicit where exact
    if name == "efficientnet_b0":
        fns = {layer.get("fn") for layer in report["layers"] if layer["type"] == "activation"}
        assert "silu" in fns


@pytest.mark.parametrize("batch", [1, 3])
@pytest.mark.parametrize(
    "name,shape", [("shufflenet_v1_g3", None), ("tcn", (1, 60)), ("deeplabv3_resnet50", (3, 40, 40))]
)
def test_static_batch_exports(name, shape, batch, cli, tmp_path):
    """A file exported without a symbolic batch holds its batch size in every folded shape
    (``x.view(-1, C)``, ``y[:, :, -1]``, a resize to ``x.shape[-2:]``): the report is per sample."""
    factory, default = TWINS[name] if name in TWINS else ARCHITECTURES[name][:2]
    assert_matches_torch(cli, fast_module(factory), shape or default, tmp_path, dynamic=False, batch=batch)


def test_names_come_from_the_model(cli, tmp_path):
    factory, _ = TWINS["resnet50"]
    path = export(fast_module(factory), (3, 64, 64), tmp_path / "r.onnx")
    names = [layer["name"] for layer in report_json(cli, path)["layers"]]
    for n in ("conv1", "bn1", "maxpool", "layer1.0.conv1", "layer1.0.downsample.0", "layer4.2.conv3", "fc"):
        assert n in names, n
    assert len(set(names)) == len(names)


def test_folded_batchnorm_is_what_the_file_holds(cli, tmp_path):
    """With BatchNorm folded into the convs (the exporter's default), params are the file's
    (by the issue's rule, computed with the onnx package) and the MACs torch's."""
    torch.manual_seed(0)
    for name in ("mobilenet_v1", "unet_small"):
        factory, _ = TWINS[name]
        module = factory().eval()
        with torch.no_grad():  # distinct values: the exporter merges equal initializers
            for t in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
                t.copy_(torch.rand_like(t) + 0.5)
        shape = ZOO_SHAPES[name]
        path = export(module, shape, tmp_path / f"{name}.onnx", weights=True, fold=True)
        want = truth(module, shape)
        got = report_json(cli, path)
        assert got["totals"]["macs"] == want["macs"]
        assert got["totals"]["params"] == rule_params(path) < want["params"]
        assert "batchnorm" not in {layer["type"] for layer in got["layers"]}


def test_initializers_merged_by_the_exporter_count_once(cli, tmp_path):
    """Freshly built BatchNorms hold equal weights, which the exporter stores once: the rule
    counts each initializer once (a layer reading one counted before counts none of it)."""
    module = nn.Sequential(
        nn.Conv2d(3, 8, 3),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3),
        nn.BatchNorm2d(8),
        nn.Conv2d(8, 4, 1),
    ).eval()
    path = export(module, (3, 12, 12), tmp_path / "m.onnx", weights=True)
    got = report_json(cli, path)
    assert got["totals"]["params"] == rule_params(path) < sum(p.numel() for p in module.parameters())
    assert got["totals"]["macs"] == truth(module, (3, 12, 12))["macs"]
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)


# -- patterns folded back into one layer ----------------------------------------------------------
class ChannelsLast(nn.Module):
    """ConvNeXt's pattern: to channels-last, LayerNorm, Linear, GELU, Linear, layer scale, back."""

    def __init__(self, c: int):
        super().__init__()
        self.norm = nn.LayerNorm(c)
        self.fc1 = nn.Linear(c, 4 * c)
        self.fc2 = nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.ones(c))

    def forward(self, x):
        y = self.fc2(F.gelu(self.fc1(self.norm(x.permute(0, 2, 3, 1)))))
        return (self.gamma * y).permute(0, 3, 1, 2) + x


class SE(nn.Module):
    def __init__(self, c: int, s: int, act, gate):
        super().__init__()
        self.fc1, self.fc2, self.act, self.gate = nn.Conv2d(c, s, 1), nn.Conv2d(s, c, 1), act, gate

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class Mean(nn.Module):
    def forward(self, x):
        return x.mean((2, 3), keepdim=True)


@pytest.mark.parametrize(
    "module,types",
    [
        (nn.GELU(), [("activation", "gelu")]),
        (nn.GELU(approximate="tanh"), None),  # op by op, still exact
        (nn.SiLU(), [("activation", "silu")]),
        (nn.Hardswish(), [("activation", "hardswish")]),
        (nn.Mish(), [("activation", "mish")]),
        (nn.ReLU6(), [("activation", "relu6")]),
        (nn.GroupNorm(4, 8), [("groupnorm", None)]),
        # the exporter multiplies by 1 and adds 0 after it: in the file, so counted
        (
            nn.GroupNorm(8, 8, affine=False),
            [("groupnorm", None), ("elementwise", None), ("elementwise", None)],
        ),
        (
            ChannelsLast(8),
            [
                ("layernorm", None),
                ("pointwise", None),
                ("activation", "gelu"),
                ("pointwise", None),
                ("scale", None),
                ("add", None),
            ],
        ),
        (SE(8, 2, nn.ReLU(), nn.Sigmoid()), [("squeeze_excite", None)]),
        (SE(8, 2, nn.SiLU(), nn.Hardsigmoid()), [("squeeze_excite", None)]),
        (Mean(), [("global_pool", None)]),
    ],
)
def test_patterns_fold_into_one_layer(module, types, cli, tmp_path):
    report = assert_matches_torch(cli, module, (8, 6, 6), tmp_path)
    if types is not None:
        got = [(layer["type"], layer.get("fn")) for layer in report["layers"]]
        assert got == [(t, fn if fn is not None else got[i][1]) for i, (t, fn) in enumerate(types)]


class SEAndGate(nn.Module):
    """A squeeze-and-excitation whose gate (or pooled vector) is also an output of the model."""

    def __init__(self, out: str):
        super().__init__()
        self.se, self.out = SE(8, 2, nn.ReLU(), nn.Sigmoid()), out

    def forward(self, x):
        se = self.se
        pooled = F.adaptive_avg_pool2d(x, 1)
        gate = se.gate(se.fc2(se.act(se.fc1(pooled))))
        return x * gate, (gate if self.out == "gate" else pooled)


@pytest.mark.parametrize("out", ["gate", "pooled"])
def test_squeeze_excite_whose_inside_is_an_output_stays_op_by_op(out, cli, tmp_path):
    """The gate or the pooled vector is a graph output: the chain is not folded into one
    squeeze_excite (that tensor must exist), and the model reports as torch counts it."""
    report = assert_matches_torch(cli, SEAndGate(out), (8, 6, 6), tmp_path)
    types = [layer["type"] for layer in report["layers"]]
    assert "squeeze_excite" not in types and "mul" in types


# -- random networks: many op kinds, each exported and judged by torch -------------------------------
class Net(nn.Module):
    def __init__(self, blocks, head):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = head

    def forward(self, x):
        for b in self.blocks:
            x = b(x)
        return self.head(x) if self.head is not None else x


class Fn(nn.Module):
    """A function of the input, with submodules (their parameters count)."""

    def __init__(self, fn, *mods):
        super().__init__()
        self.mods = nn.ModuleList(mods)
        self.fn = fn

    def forward(self, x):
        return self.fn(x, *self.mods)


ACTS = [
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Hardsigmoid,
    nn.Hardswish,
    nn.SiLU,
    nn.GELU,
    nn.ELU,
    nn.Softplus,
    nn.Mish,
]


@st.composite
def blocks(draw, c: int, h: int, w: int):
    """One block on an input of c channels: (module, its output channels)."""
    kind = draw(
        st.sampled_from(
            [
                "conv",
                "conv",
                "depthwise",
                "transposed",
                "bn",
                "act",
                "pool",
                "residual",
                "concat",
                "shuffle",
                "resize",
                "pad",
                "slice",
                "split",
                "cl",
                "norm",
                "se",
                "attention",
                "softmax",
                "scale",
            ]
        )
    )
    if kind == "conv":
        k = draw(st.integers(1, 3))
        s = draw(st.integers(1, 2))
        p = draw(st.integers(0, k // 2 + 1))
        d = draw(st.integers(1, 2))
        g = draw(st.sampled_from([g for g in (1, 2, 4) if c % g == 0]))
        o = g * draw(st.integers(1, 4))
        same = draw(st.booleans()) and s == 1
        m = nn.Conv2d(c, o, k, s, "same" if same else p, d, g, bias=draw(st.booleans()))
        return m, o
    if kind == "depthwise":
        m = nn.Conv2d(c, c * draw(st.integers(1, 2)), 3, draw(st.integers(1, 2)), 1, groups=c, bias=False)
        return m, m.out_channels
    if kind == "transposed":
        s = draw(st.integers(1, 2))
        m = nn.ConvTranspose2d(
            c,
            draw(st.integers(1, 8)),
            draw(st.integers(1, 3)),
            s,
            draw(st.integers(0, 1)),
            output_padding=draw(st.integers(0, s - 1)),
        )
        return m, m.out_channels
    if kind == "bn":
        return nn.BatchNorm2d(c), c
    if kind == "act":
        return draw(st.sampled_from(ACTS))(), c
    if kind == "pool":
        k = draw(st.integers(1, 3))
        cls = draw(st.sampled_from([nn.MaxPool2d, nn.AvgPool2d]))
        return cls(k, draw(st.integers(1, 2)), draw(st.integers(0, k // 2)), ceil_mode=draw(st.booleans())), c
    if kind == "residual":
        return Fn(lambda x, conv: x + conv(x), nn.Conv2d(c, c, 3, padding=1)), c
    if kind == "concat":
        o = draw(st.integers(1, 6))
        return Fn(lambda x, conv: torch.cat([x, F.relu(conv(x))], 1), nn.Conv2d(c, o, 1)), c + o
    if kind == "shuffle":
        g = draw(st.sampled_from([g for g in (1, 2, 4) if c % g == 0]))
        return Fn(
            lambda x: (
                x.reshape(x.shape[0], g, x.shape[1] // g, x.shape[2], x.shape[3])
                .transpose(1, 2)
                .reshape(x.shape)
            )
        ), c
    if kind == "resize":
        how = draw(st.sampled_from(["scale", "size", "like"]))
        mode = draw(st.sampled_from(["nearest", "bilinear"]))
        ac = {"align_corners": draw(st.booleans())} if mode == "bilinear" else {}
        if how == "scale":
            sc = draw(st.sampled_from([2.0, 0.5, 1.5]))
            return Fn(lambda x: F.interpolate(x, scale_factor=sc, mode=mode, **ac)), c
        if how == "size":
            size = (draw(st.integers(1, 9)), draw(st.integers(1, 9)))
            return Fn(lambda x: F.interpolate(x, size=size, mode=mode, **ac)), c
        return Fn(lambda x: F.interpolate(x[:, :, ::2, ::2], size=x.shape[-2:], mode=mode, **ac) + x), c
    if kind == "pad":
        pads = [draw(st.integers(0, 2)) for _ in range(4)]
        mode = draw(st.sampled_from(["constant", "reflect", "replicate"]))
        return Fn(lambda x: F.pad(x, pads, mode=mode)), c
    if kind == "slice":
        return Fn(lambda x: x[:, :, 1:, : x.shape[3] - 1]) if draw(st.booleans()) else Fn(
            lambda x: x[:, :, ::2, 1::2]
        ), c
    if kind == "split":
        if c < 2:
            return nn.Identity(), c
        sizes = [c // 2, c - c // 2]

        def split(x):
            a, b = torch.split(x, sizes, 1)
            return torch.cat([F.relu(a), b * 2], 1)

        return Fn(split), c
    if kind in ("cl", "norm"):
        # with one channel their weights are one element each, which older opsets apply with
        # arithmetic ops (LayerNorm before opset 17, GroupNorm's affine step): not parameters
        # by the rule (an arithmetic constant counts when it has more than one element)
        assume(c >= 2)
    if kind in ("cl", "norm"):
        # with one channel their weights are one element each, which older opsets apply with
        # arithmetic ops (LayerNorm before opset 17, GroupNorm's affine step): not parameters
        # by the rule (an arithmetic constant counts when it has more than one element)
        assume(c >= 2)
    if kind == "cl":
        return ChannelsLast(c), c
    if kind == "norm":
        g = draw(st.sampled_from([g for g in (1, 2, c) if c % g == 0]))
        return draw(
            st.sampled_from([nn.GroupNorm(g, c), nn.InstanceNorm2d(c, affine=True), nn.InstanceNorm2d(c)])
        ), c
    if kind == "se":
        return SE(
            c, draw(st.integers(1, 4)), nn.ReLU(), draw(st.sampled_from([nn.Sigmoid(), nn.Hardsigmoid()]))
        ), c
    if kind == "attention":

        def attend(x, q):
            t = x.flatten(2).transpose(1, 2)  # (B, N, C)
            a = torch.softmax(q(t) @ t.transpose(1, 2) / 2.0, dim=-1)  # (B, N, N)
            return (a @ t).transpose(1, 2).reshape(x.shape)

        return Fn(attend, nn.Linear(c, c)), c
    if kind == "softmax":
        axis = draw(st.sampled_from([1, -1]))
        return Fn(lambda x: torch.softmax(x, dim=axis)), c
    # a layer scale; the rule counts an arithmetic constant of more than one element, so two
    # channels at least (a conv's weight counts whatever its size)
    assume(c >= 2)
    gamma = nn.Parameter(torch.ones(c, 1, 1))
    mod = nn.Module()
    mod.gamma = gamma
    return Fn(lambda x, m: x * m.gamma + 1.0, mod), c


@st.composite
def networks(draw):
    c, h, w = draw(st.integers(1, 6)), draw(st.integers(6, 14)), draw(st.integers(6, 14))
    shape = (c, h, w)
    mods = []
    for _ in range(draw(st.integers(1, 5))):
        m, c = draw(blocks(c, h, w))
        mods.append(m)
        # the spatial size follows from torch: probe it
        with torch.no_grad():
            try:
                y = Net(mods, None).eval()(torch.zeros((1, *shape)))
            except RuntimeError:
                assume(False)
        c, h, w = y.shape[1], y.shape[2], y.shape[3]
        assume(h >= 1 and w >= 1 and h * w <= 400)
    head = draw(st.sampled_from(["none", "linear", "pool"]))
    if head == "linear":
        head_mod: nn.Module | None = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, draw(st.integers(1, 10)))
        )
    elif head == "pool":
        head_mod = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 3), nn.Softmax(dim=1))
    else:
        head_mod = None
    return Net(mods, head_mod).eval(), shape, draw(st.sampled_from([11, 13, 17, 18]))


@settings(max_examples=30, **SETTINGS)
@given(case=networks())
def test_random_networks_match_torch(case, cli, tmp_path_factory):
    module, shape, opset = case
    tmp = tmp_path_factory.mktemp("net")
    try:
        path = export(module, shape, tmp / "model.onnx", opset=opset)
    except Exception as e:  # what torch's exporter refuses (an op at an opset): not a test of convcalc
        assume(not type(e).__module__.startswith("torch"))
        raise
    assert_matches_torch(cli, module, shape, tmp, path=path)


# -- hostile files: exit 2, one line -------------------------------------------------------------
def onnx_file(tmp_path, nodes, inputs, outputs, inits=(), value_info=(), opset=17, name="m.onnx") -> str:
    graph = helper.make_graph(
        list(nodes), "g", list(inputs), list(outputs), list(inits), value_info=list(value_info)
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / name
    path.write_bytes(model.SerializeToString())
    return str(path)


def tensor(name, dims):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def weight(name, dims):
    return TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(dims))  # dims only


def one_line_error(r, *fragments: str) -> str:
    assert r.code == 2, (r.code, r.out, r.err)
    assert r.out == ""
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("convcalc: error: "), r.err
    assert "Traceback" not in r.err
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def test_node_reading_an_undefined_tensor(cli, tmp_path):
    path = onnx_file(
        tmp_path,
        [helper.make_node("Relu", ["nope"], ["y"], name="r")],
        [tensor("x", [1, 3, 4, 4])],
        [tensor("y", None)],
    )
    one_line_error(cli("report", path), "'nope'", "which no node, initializer or graph input defines")


def test_cyclic_graph(cli, tmp_path):
    nodes = [
        helper.make_node("Add", ["x", "b"], ["a"], name="add"),
        helper.make_node("Relu", ["a"], ["b"], name="relu"),
    ]
    path = onnx_file(tmp_path, nodes, [tensor("x", [1, 3, 4, 4])], [tensor("a", None)])
    one_line_error(cli("report", path), "cycle", "'add'", "'relu'")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(num: int, payload: bytes) -> bytes:
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def test_a_billion_claimed_dims(cli, tmp_path):
    # an initializer whose packed dims field claims 10^9 bytes of dims in a small file
    dims = _varint(1 << 3 | 2) + _varint(10**9) + b"\x01" * 64
    graph = _field(5, _field(8, b"w") + dims)
    path = tmp_path / "dims.onnx"
    path.write_bytes(_varint(1 << 3) + _varint(8) + _field(7, graph))
    one_line_error(cli("report", str(path)), "1,000,000,000")


def test_a_weight_claiming_a_billion_input_channels(cli, tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    path = onnx_file(
        tmp_path, nodes, [tensor("x", [1, 3, 8, 8])], [tensor("y", None)], [weight("w", [16, 10**9, 3, 3])]
    )
    one_line_error(cli("report", path), "'conv'", "1000000000 input channels", "has 3")


def test_billion_pixel_dims_give_exact_numbers(cli, tmp_path):
    """Dims of 10^9 that agree with each other are a (large) network: exact integers."""
    n = 10**9
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["y"], name="conv", kernel_shape=[3, 3]),
        helper.make_node("Relu", ["y"], ["z"], name="relu"),
    ]
    path = onnx_file(
        tmp_path, nodes, [tensor("x", ["b", 3, n, n])], [tensor("z", None)], [weight("w", [8, 3, 3, 3])]
    )
    got = report_json(cli, path)
    out = n - 2
    assert got["output_shape"] == [8, out, out]
    assert got["totals"]["macs"] == 8 * 3 * 9 * out * out
    assert got["totals"]["params"] == 8 * 3 * 9


def test_symbolic_dims_need_input(cli, tmp_path):
    nodes = [helper.make_node("Conv", ["image", "w"], ["y"], name="conv", kernel_shape=[3, 3])]
    path = onnx_file(
        tmp_path,
        nodes,
        [tensor("image", ["batch", 3, "height", "width"])],
        [tensor("y", None)],
        [weight("w", [4, 3, 3, 3])],
    )
    one_line_error(cli("report", path), "'image'", "'height'", "--input")
    got = report_json(cli, path, "--input", "3x10x12")
    assert got["input_shape"] == [3, 10, 12] and got["output_shape"] == [4, 8, 10]
    one_line_error(cli("report", path, "--input", "3x10"), "--input 3x10", "has 2 dims")
    one_line_error(cli("report", path, "--input", "3xtenx12"), "--input")


def _unknown_model(tmp_path, with_shapes=True) -> str:
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Foo", ["c"], ["f"], name="foo1"),
        helper.make_node("Relu", ["f"], ["r"], name="relu"),
        helper.make_node("Foo", ["r"], ["g"], name="foo2"),
        helper.make_node("Bar", ["g"], ["h"], name="bar"),
    ]
    shapes = (
        [tensor("f", ["b", 4, 8, 8]), tensor("g", ["b", 4, 4, 4]), tensor("h", ["b", 10])]
        if with_shapes
        else []
    )
    return onnx_file(
        tmp_path,
        nodes,
        [tensor("x", ["b", 3, 8, 8])],
        [tensor("h", None)],
        [weight("w", [4, 3, 3, 3])],
        shapes,
    )


def test_unknown_ops_are_listed_with_counts_and_first_node(cli, tmp_path):
    path = _unknown_model(tmp_path)
    line = one_line_error(
        cli("report", path), "Foo x2 (first: 'foo1')", "Bar x1 (first: 'bar')", "--allow-unknown"
    )
    assert "3 nodes of 2 op types" in line
    one_line_error(cli("import", path), "Foo x2")
    one_line_error(cli("check", path, "--max-macs", "1G"), "Foo x2")


def test_allow_unknown_counts_zero_and_says_so_everywhere(cli, tmp_path):
    path = _unknown_model(tmp_path)
    r = cli("report", path, "--allow-unknown", "--format", "json")
    assert r.code == 0, r.err
    assert "convcalc: warning:" in r.err and "counted as zero" in r.err
    d = json.loads(r.out)
    assert d["warnings"] and "Foo x2" in d["warnings"][0] and "Bar x1" in d["warnings"][0]
    assert [layer["type"] for layer in d["layers"]] == ["conv", "opaque", "activation", "opaque", "opaque"]
    assert d["output_shape"] == [10]
    assert d["totals"]["macs"] == 4 * 3 * 9 * 64  # the conv alone
    for fmt in ("table", "markdown"):
        r = cli("report", path, "--allow-unknown", "--format", fmt)
        assert r.code == 0 and "counted as zero" in r.out and "counted as zero" in r.err
    r = cli("check", path, "--allow-unknown", "--max-macs", "1G", "--format", "json")
    assert r.code == 0 and "counted as zero" in r.out
    spec = tmp_path / "s.yaml"
    assert cli("import", path, "--allow-unknown", "-o", str(spec)).code == 0
    assert "# Warning:" in spec.read_text() and "type: opaque" in spec.read_text()
    r = cli("report", str(spec), "--format", "json")
    assert r.code == 0 and "counted as zero" in r.err
    assert json.loads(r.out)["warnings"] == d["warnings"]
    r = cli("diff", path, str(spec), "--allow-unknown", "--format", "json")
    assert r.code == 0 and len(json.loads(r.out)["warnings"]) == 2
    # the recorded shapes are the file's: another input size cannot be costed
    one_line_error(cli("report", path, "--allow-unknown", "--input", "3x16x16"), "input size differs")


def test_allow_unknown_needs_the_shape_of_the_unknown_output(cli, tmp_path):
    path = _unknown_model(tmp_path, with_shapes=False)
    one_line_error(
        cli("report", path, "--allow-unknown"), "'foo1'", "does not record the shape", "shape inference"
    )


def test_an_op_of_another_domain_is_unknown(cli, tmp_path):
    node = helper.make_node("Relu", ["x"], ["y"], name="mine", domain="com.example")
    graph = helper.make_graph([node], "g", [tensor("x", [1, 3, 4, 4])], [tensor("y", None)])
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.example", 1)]
    )
    path = tmp_path / "d.onnx"
    path.write_bytes(model.SerializeToString())
    one_line_error(cli("report", str(path)), "com.example.Relu x1 (first: 'mine')")


@pytest.mark.parametrize(
    "nodes,inits,fragment",
    [
        # the batch moved
        (
            [helper.make_node("Transpose", ["x"], ["y"], name="t", perm=[1, 0, 2, 3])],
            [],
            "moves the batch dim",
        ),
        # a reshape that merges the batch with the channels
        (
            [helper.make_node("Reshape", ["x", "s"], ["y"], name="r")],
            [helper.make_tensor("s", TensorProto.INT64, [2], [-1, 8])],
            "batch",
        ),
        # padding the channels
        (
            [helper.make_node("Pad", ["x", "p"], ["y"], name="pad")],
            [helper.make_tensor("p", TensorProto.INT64, [8], [0, 1, 0, 0, 0, 1, 0, 0])],
            "pads the channel dim",
        ),
        # a reshape target computed by the network from data, not shapes
        (
            [
                helper.make_node("Cast", ["x"], ["c"], name="cast", to=7),
                helper.make_node("Reshape", ["x", "c"], ["y"], name="r"),
            ],
            [],
            "'r'",
        ),
    ],
)
def test_what_convcalc_cannot_map_is_named(nodes, inits, fragment, cli, tmp_path):
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", 4, 2, 2])], [tensor("y", None)], inits)
    one_line_error(cli("report", path), fragment, "--allow-unknown")


def test_not_onnx_and_truncated_files(cli, tmp_path):
    factory, shape = TWINS["lecture_separable"]
    path = export(fast_module(factory), shape, tmp_path / "l.onnx")
    with open(path, "rb") as fh:
        data = fh.read()
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(data[: len(data) // 2])
    one_line_error(cli("report", str(cut)), str(cut))
    bad = tmp_path / "bad.onnx"
    bad.write_text("input: [3, 8, 8]\nlayers: []\n")
    one_line_error(cli("report", str(bad)), "not an ONNX model")


# -- the commands and their options ----------------------------------------------------------------
def test_resolution_and_input_refold_the_model_as_torch_would(cli, tmp_path):
    factory = ARCHITECTURES["deeplabv3_resnet50"][0]
    module = fast_module(factory)
    path = export(module, (3, 64, 64), tmp_path / "d.onnx")
    want = truth(module, (3, 48, 80))
    for args in (("--resolution", "48x80"), ("--input", "3x48x80")):
        got = report_json(cli, path, *args)
        assert got["totals"]["macs"] == want["macs"]
        assert [tuple(s) for s in got["outputs"].values()] == want["outputs"]


def test_width_mult_is_for_specs(cli, tmp_path):
    factory, shape = TWINS["lecture_separable"]
    path = export(fast_module(factory), shape, tmp_path / "l.onnx")
    one_line_error(cli("report", path, "--width-mult", "0.5"), "--width-mult", "model file")


def test_stdin_check_and_diff_take_model_files(cli, tmp_path):
    import io
    import sys

    factory = TWINS["squeezenet1_0"][0]
    path = export(fast_module(factory), (3, 64, 64), tmp_path / "s.onnx")
    want = report_json(cli, path)
    old = sys.stdin
    with open(path, "rb") as fh:
        sys.stdin = io.TextIOWrapper(io.BytesIO(fh.read()))
    try:
        got = report_json(cli, "-")
    finally:
        sys.stdin = old
    assert got["totals"] == want["totals"]
    r = cli("check", path, "--max-macs", str(want["totals"]["macs"] - 1))
    assert r.code == 1
    assert cli("check", path, "--max-macs", str(want["totals"]["macs"])).code == 0
    spec = tmp_path / "s.yaml"
    assert cli("import", path, "-o", str(spec)).code == 0
    d = json.loads(cli("diff", path, str(spec), "--format", "json").out)
    assert d["totals"]["params"]["change"] == 0 and d["totals"]["macs"]["change"] == 0
    assert d["counts"]["unchanged"] == len(want["layers"]) and d["layers"] == []


def test_external_data_file_need_not_exist(cli, tmp_path):
    factory, shape = TWINS["dcgan_generator"]
    module = fast_module(factory)
    path = export(module, shape, tmp_path / "g.onnx", weights=True)
    model = onnx.load(path)
    onnx.save_model(
        model, str(tmp_path / "ext.onnx"), save_as_external_data=True, location="ext.data", size_threshold=0
    )
    (tmp_path / "ext.data").unlink()
    got = report_json(cli, str(tmp_path / "ext.onnx"))
    # the exporter stores equal weights once (zeros here): the rule counts what the file holds
    assert got["totals"]["params"] == rule_params(str(tmp_path / "ext.onnx"))
    assert got["totals"]["macs"] == truth(module, shape)["macs"]


# -- the spec writer ---------------------------------------------------------------------------
@settings(max_examples=200, **SETTINGS)
@given(st.one_of(st.text(min_size=1, max_size=12), st.floats(allow_nan=False), st.integers(), st.booleans()))
def test_scalars_read_back_as_written(v):
    from convcalc.spec_writer import scalar

    got = yaml.safe_load(f"k: {scalar(v)}")["k"]
    assert got == v and type(got) is type(v)


@pytest.mark.parametrize("name", ["resnet50", "googlenet", "unet_small", "shufflenet_v1_g3", "squeezenet1_0"])
def test_zoo_specs_rewritten_in_graph_form_report_the_same(name, cli, tmp_path):
    want = report_json(cli, f"zoo:{name}")
    got, text = import_and_report(cli, f"zoo:{name}", tmp_path)
    assert "  - {type: " in text  # one flow mapping per layer, no blocks
    assert not any(f"type: {b}" in text for b in ("repeat", "residual", "sequential", "concat, branches"))
    assert [{k: r[k] for k in KEYS if k != "name"} for r in rows(got)] == [
        {k: r[k] for k in KEYS if k != "name"} for r in rows(want)
    ]
    assert [r["name"] for r in got["layers"]] == [r["name"] for r in want["layers"]]
    assert got["totals"] == want["totals"]


# -- fuzzing: any mutation of a real export reports or fails with one line, never a crash ----------
class _Small(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, 2, 1)
        self.bn = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, 1, 1, groups=8)
        self.fc = nn.Linear(8 * 4 * 4, 5)

    def forward(self, x):
        y = F.relu(self.bn(self.conv(x)))
        y = torch.cat([self.dw(y), F.max_pool2d(y, 3, 1, 1)], 1)[:, :8]
        y = F.interpolate(F.pad(y, [1, 0, 0, 1]), size=(4, 4), mode="bilinear")
        return torch.softmax(self.fc(y.transpose(2, 3).reshape(y.shape[0], -1)), dim=1)


_ATTRS = [
    "group",
    "pads",
    "strides",
    "kernel_shape",
    "axis",
    "perm",
    "to",
    "mode",
    "axes",
    "dilations",
    "ceil_mode",
    "allowzero",
    "split",
    "keepdims",
    "transB",
    "coordinate_transformation_mode",
]
_OPS = [
    "Conv",
    "Relu",
    "Add",
    "Mul",
    "Reshape",
    "Gather",
    "Resize",
    "Pad",
    "Transpose",
    "Concat",
    "MatMul",
    "Gemm",
    "Slice",
    "Split",
    "BatchNormalization",
    "Softmax",
    "Shape",
    "Unsqueeze",
    "MaxPool",
    "_Silu",
    "_GroupNorm",
]
_VALUES = st.one_of(
    st.integers(-5, 10**12),
    st.lists(st.integers(-3, 10**10), max_size=6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["", "linear", "align_corners", "x" * 300]),
)


@pytest.fixture(scope="module")
def small_model(tmp_path_factory) -> str:
    return export(_Small().eval(), (3, 8, 8), tmp_path_factory.mktemp("small") / "s.onnx")


@settings(max_examples=150, **SETTINGS)
@given(data=st.data())
def test_mutated_models_report_or_fail_in_one_line(small_model, data, cli, tmp_path_factory):
    model = onnx.load(small_model)
    graph = model.graph
    for _ in range(data.draw(st.integers(1, 3))):
        kind = data.draw(st.sampled_from(["attr", "input", "op", "dims"]))
        node = graph.node[data.draw(st.integers(0, len(graph.node) - 1))]
        if kind == "attr":
            name = data.draw(st.sampled_from(_ATTRS + [a.name for a in node.attribute]))
            for k, a in enumerate(node.attribute):
                if a.name == name:
                    del node.attribute[k]
                    break
            value = data.draw(_VALUES)
            kind = onnx.AttributeProto.INTS if isinstance(value, list) else None
            node.attribute.append(helper.make_attribute(name, value, attr_type=kind))
        elif kind == "input" and node.input:
            k = data.draw(st.integers(0, len(node.input) - 1))
            others = (
                [n.output[0] for n in graph.node if n.output]
                + [t.name for t in graph.initializer]
                + ["", "input"]
            )
            node.input[k] = data.draw(st.sampled_from(others))
        elif kind == "op":
            node.op_type = data.draw(st.sampled_from(_OPS))
        elif graph.initializer:
            t = graph.initializer[data.draw(st.integers(0, len(graph.initializer) - 1))]
            del t.dims[:]
            t.dims.extend(data.draw(st.lists(st.integers(0, 10**9), max_size=5)))
    path = tmp_path_factory.mktemp("fuzz") / "m.onnx"
    path.write_bytes(model.SerializeToString())
    for args in ((), ("--allow-unknown",)):
        r = cli("report", str(path), *args, "--format", "json")
        assert r.code in (0, 2), r.err
        if r.code == 2:
            one_line_error(r)


def test_fit_scales_a_model_files_input_only(cli, tmp_path):
    factory = TWINS["squeezenet1_0"][0]
    path = export(fast_module(factory), (3, 64, 64), tmp_path / "s.onnx")
    r = cli("fit", path, "--max-macs", "100M", "--vary", "resolution", "--format", "json")
    assert r.code == 0, r.err
    best = json.loads(r.out)["best"]["resolution"]
    assert report_json(cli, path, "--resolution", str(best))["totals"]["macs"] <= 100_000_000
    one_line_error(cli("fit", path, "--max-macs", "100M"), "--vary width", "model file")


def test_named_outputs_name_their_layers(cli, tmp_path):
    factory = ARCHITECTURES["deeplabv3_resnet50"][0]
    module = fast_module(factory)
    path = export(module, (3, 32, 32), tmp_path / "d.onnx", output_names=["out", "aux"])
    got = report_json(cli, path)
    assert list(got["outputs"]) == ["out", "aux"]
    assert got["outputs"]["out"] == [21, 32, 32]
    again, text = import_and_report(cli, path, tmp_path)
    assert "outputs: [out, aux]" in text
    assert again["outputs"] == got["outputs"]


def test_imported_specs_follow_the_spec_schema(cli, tmp_path):
    import jsonschema

    schema = json.loads(cli("schema").out)
    for name, shape in (("convnext_tiny", (3, 32, 32)), ("tcn", (1, 40)), ("efficientnet_b0", (3, 32, 32))):
        path = export(fast_module(ARCHITECTURES[name][0]), shape, tmp_path / f"{name}.onnx")
        _, text = import_and_report(cli, path, tmp_path)
        jsonschema.validate(yaml.safe_load(text), schema)
