"""ONNX files written by torch's default exporter, ``torch.onnx.export(..., dynamo=True)``.

Since torch 2.9 the default is torch.export plus onnxscript: opset 18+, nodes named
``node_Conv_15`` with the module path in their metadata, an optimizer that folds constants and
BatchNorm into the Conv before it, other decompositions. Every model here is exported so
(tests/onnx_export.py, ``dynamo=True``: weights random, then stripped) and judged by torch as
in tests/test_onnx_import.py: FlopCounterMode's MACs and the shape of every output, exactly;
the parameters are the file's by the rule computed with the onnx package (``rule_params``),
which is torch's ``sum(p.numel())`` (plus the buffers the rule counts) when no BatchNorm was
folded; ``import`` then ``report`` of the spec gives the same rows. Layer names must be those
of the TorchScript exporter's file of the same model.

Left out, because the dynamo export itself cannot yet be mapped or fails in torch 2.13:

* ConvNeXt-T: torch.export writes the adaptive average pool after the channels-last blocks as
  ``as_strided``, which the exporter writes as a Reshape to one dim (batch included) and a
  Gather of indices computed from the batch size: not a layer convcalc can cost exactly.
* ``F.interpolate`` in mode ``nearest-exact``, and ``linear`` (1D): torch.export decomposes
  them into indexing (``aten._unsafe_index``), which the exporter writes as a Transpose that
  moves the batch dim and a ``GatherND`` of constant indices, not as ``Resize``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
import torch.nn.functional as F
from arch_twins import ARCHITECTURES
from onnx import TensorProto, helper
from onnx_export import export, fast_module, rule_params, truth
from test_onnx_import import (
    ARCH_SHAPES,
    SE,
    ZOO_SHAPES,
    ChannelsLast,
    Mean,
    import_and_report,
    report_json,
    rows,
)
from test_onnx_model_ops import ESPCN, ConvPReLU, Segmenter
from torch import nn
from zoo_twins import TWINS

from convcalc.frontends import onnx_proto as P

Cli = Callable[..., Any]  # conftest's cli fixture: run convcalc in-process


def has_batchnorm(module: nn.Module) -> bool:
    """BatchNorm, or torchvision's FrozenBatchNorm2d, whose buffer arithmetic the exporter's
    optimizer folds into one scale and one shift (half the buffers)."""
    return any("BatchNorm" in type(m).__name__ for m in module.modules())


def assert_dynamo_matches_torch(
    cli: Cli,
    module: nn.Module,
    shape: tuple[int, ...],
    tmp_path: Path,
    params: int | None = None,
    **kw: Any,
) -> dict[str, Any]:
    """Export with dynamo=True, report, compare with torch; import, report the spec, compare
    with the model's report. Returns the model's report. The parameters: torch's (plus the
    buffers the rule counts), or, with BatchNorms folded into the convolutions, the file's by
    the rule; ``params`` where the exporter adds constants of its own that the rule counts."""
    folded = has_batchnorm(module)
    path = export(module, shape, tmp_path / "model.onnx", dynamo=True, **kw)
    want = truth(module, shape)
    got = report_json(cli, path)
    assert got["input_shape"] == list(shape) and got["batch"] == 1
    if params is not None:
        assert got["totals"]["params"] == params
    elif folded:
        assert got["totals"]["params"] == rule_params(path)
    else:
        assert got["totals"]["params"] == want["params"] + want["buffers"]
    assert got["totals"]["macs"] == want["macs"]
    assert [tuple(s) for s in got["outputs"].values()] == want["outputs"]
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)
    assert again["totals"] == got["totals"]
    assert again["outputs"] == got["outputs"]
    names = [layer["name"] for layer in got["layers"]]
    assert not any(n.startswith("node_") for n in names), names  # every name from the module path
    return got


# -- the zoo and the ten architectures --------------------------------------------------------------
# A dynamo export takes 3 to 20 s whatever the input size, so the default run takes one model of
# each kind of structure: a chain with depthwise-separable convs (lecture_separable), transposed
# convs (dcgan_generator), concat branches (squeezenet1_0), U-Net skips and upsampling
# (unet_small), residual bottlenecks (resnet50), squeeze-and-excitation with SiLU
# (efficientnet_b0), dilations, resizing to the input and two outputs (deeplabv3_resnet50) and a
# 1D causal net (tcn). CONVCALC_FULL=1 runs every zoo twin and every architecture (about 4 more
# minutes on 2 cores; the eleven ShuffleNet v1 twins differ in widths and groups only: one stands
# for them). ConvNeXt-T: see the module's docstring.
FULL = os.environ.get("CONVCALC_FULL") == "1"
ZOO = sorted(
    n
    for n in TWINS
    if (FULL and (not n.startswith("shufflenet") or n == "shufflenet_v1_g3"))
    or n in ("lecture_separable", "dcgan_generator", "squeezenet1_0", "unet_small", "resnet50")
)
ARCHS = sorted(
    n
    for n in ARCHITECTURES
    if n != "convnext_tiny" and (FULL or n in ("efficientnet_b0", "deeplabv3_resnet50", "tcn"))
)


@pytest.mark.parametrize("name", ZOO)
def test_zoo_architecture_exported_by_dynamo(name: str, cli: Cli, tmp_path: Path) -> None:
    factory, shape = TWINS[name]
    assert_dynamo_matches_torch(cli, fast_module(factory), ZOO_SHAPES.get(name, shape), tmp_path)


@pytest.mark.parametrize("name", ARCHS)
def test_modern_architecture_exported_by_dynamo(name: str, cli: Cli, tmp_path: Path) -> None:
    factory, shape, _ = ARCHITECTURES[name]
    shape = ARCH_SHAPES.get(name, (3, 64, 64) if len(shape) == 3 else shape)
    report = assert_dynamo_matches_torch(cli, fast_module(factory), shape, tmp_path)
    types = {layer["type"] for layer in report["layers"]}
    folded = {
        "efficientnet_b0": {"squeeze_excite"},
        "regnet_y_400mf": {"squeeze_excite"},
        "mobilenet_v2": {"depthwise", "pointwise"},
        "tcn": {"crop", "select"},
    }.get(name, set())
    assert folded <= types, folded - types
    assert "transpose" not in types
    if name == "efficientnet_b0":
        fns = {layer.get("fn") for layer in report["layers"] if layer["type"] == "activation"}
        assert "silu" in fns


@pytest.mark.parametrize("batch", [1, 3])
def test_static_batch_exported_by_dynamo(batch: int, cli: Cli, tmp_path: Path) -> None:
    """Without a symbolic batch the file holds the batch size in its folded shapes (the
    TCN's ``y[:, :, -1]``)."""
    factory, _, _ = ARCHITECTURES["tcn"]
    assert_dynamo_matches_torch(cli, fast_module(factory), (1, 60), tmp_path, dynamic=False, batch=batch)


# -- names: the same from either exporter -----------------------------------------------------------
class Twice(nn.Module):
    """One module called three times, two merges in one module, a root-level op."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.ReLU()
        self.block = nn.Sequential(nn.Conv2d(4, 4, 1), nn.ReLU())

    def forward(self, x: torch.Tensor) -> Any:
        y = self.act(self.conv(x))
        z = self.act(self.block(y) + y)
        return self.act(z + x) * 2


@pytest.mark.parametrize(
    "factory,shape",
    [
        (TWINS["resnet50"][0], (3, 64, 64)),
        (Twice, (4, 8, 8)),
    ],
)
def test_names_are_the_torchscript_exporters(
    factory: Callable[[], nn.Module], shape: tuple[int, ...], cli: Cli, tmp_path: Path
) -> None:
    """The layers of a dynamo file are named as those of the TorchScript exporter's file of
    the same model with its BatchNorms folded (as the dynamo exporter's optimizer does):
    ``layer1.0.conv1`` from the Conv that carries the BatchNorm's path, ``layer1.0.relu_2``
    for a module's third call, ``layer1.0`` for the residual add."""
    torch.manual_seed(0)
    module = factory().eval()
    with torch.no_grad():  # distinct values: both exporters merge equal initializers
        for t in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
            t.copy_(torch.rand_like(t) + 0.5)
    legacy = export(module, shape, tmp_path / "legacy.onnx", weights=True, fold=True)
    dynamo = export(module, shape, tmp_path / "dynamo.onnx", dynamo=True)
    a = [(layer["name"], layer["type"]) for layer in report_json(cli, legacy)["layers"]]
    b = [(layer["name"], layer["type"]) for layer in report_json(cli, dynamo)["layers"]]
    assert [t for _, t in b] == [t for _, t in a]
    # a layer of a module (its path, its k-th call, one of its ops) has the same name; an op
    # called in a forward outside any child module is named by its ONNX op type, which the
    # two exporters may write differently (torch.flatten: Flatten, or Reshape)
    paths = {name for name, _ in module.named_modules() if name}

    def of_a_module(name: str) -> bool:
        return any(name.rsplit(sep, 1)[0] in paths for sep in ("_", ".")) or name in paths

    owned = [(x, y) for (x, _), (y, _) in zip(a, b) if of_a_module(x)]
    assert [y for _, y in owned] == [x for x, _ in owned]
    assert len(owned) > len(a) // 2  # most layers belong to a module


class TwoOutputs(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.act, self.head = nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 2, 1)

    def forward(self, x: torch.Tensor) -> Any:
        y = self.act(self.conv(x))
        return self.head(y), y.mean((2, 3))


@pytest.mark.parametrize("names", [None, ["seg", "pooled"]])
def test_outputs_named_by_the_user_name_their_layers(
    names: list[str] | None, cli: Cli, tmp_path: Path
) -> None:
    """The dynamo exporter names output tensors after torch's FX nodes (``convolution``,
    ``mean``): those do not name layers; names given with ``output_names`` do."""
    path = export(TwoOutputs(), (3, 8, 8), tmp_path / "m.onnx", dynamo=True, output_names=names)
    got = report_json(cli, path)
    assert list(got["outputs"]) == (names or ["head", "reducemean"])
    assert [layer["name"] for layer in got["layers"]] == ["conv", "act", *(names or ["head", "reducemean"])]
    again, _ = import_and_report(cli, path, tmp_path)
    assert again["outputs"] == got["outputs"]


# -- patterns folded back, new layers -----------------------------------------------------------------
def test_groupnorm_without_affine_exported_by_dynamo(cli: Cli, tmp_path: Path) -> None:
    """torch's GroupNorm without affine step multiplies by ones and adds zeros after it: the
    dynamo exporter stores them as initializers of [C, 1, 1], which the rule counts (the
    TorchScript exporter writes Constant nodes, which it does not): one groupnorm with its
    affine step."""
    report = assert_dynamo_matches_torch(
        cli, nn.GroupNorm(4, 8, affine=False), (8, 6, 6), tmp_path, params=2 * 8
    )
    assert [layer["type"] for layer in report["layers"]] == ["groupnorm"]


@pytest.mark.parametrize(
    "module,types",
    [
        (nn.GELU(), [("activation", "gelu")]),
        (nn.GELU(approximate="tanh"), None),
        (nn.SiLU(), [("activation", "silu")]),
        (nn.Hardswish(), [("activation", "hardswish")]),
        (nn.Mish(), [("activation", "mish")]),
        (nn.ReLU6(), [("activation", "relu6")]),
        (nn.GroupNorm(4, 8), [("groupnorm", None)]),
        (ChannelsLast(8), None),
        (SE(8, 2, nn.ReLU(), nn.Sigmoid()), [("squeeze_excite", None)]),
        (SE(8, 2, nn.SiLU(), nn.Hardsigmoid()), [("squeeze_excite", None)]),
        (Mean(), [("global_pool", None)]),
    ],
)
def test_patterns_exported_by_dynamo(
    module: nn.Module, types: list[tuple[str, str | None]] | None, cli: Cli, tmp_path: Path
) -> None:
    report = assert_dynamo_matches_torch(cli, module, (8, 6, 6), tmp_path)
    if types is not None:
        got = [(layer["type"], layer.get("fn")) for layer in report["layers"]]
        assert got == [(t, fn if fn is not None else got[i][1]) for i, (t, fn) in enumerate(types)]


class Interpolate(nn.Module):
    def __init__(self, **kw: Any) -> None:
        super().__init__()
        self.kw = kw

    def forward(self, x: torch.Tensor) -> Any:
        return F.interpolate(x, **self.kw)


@pytest.mark.parametrize(
    "module,shape,layer",
    [
        (ConvPReLU(False), (3, 10, 10), "prelu"),
        (ConvPReLU(True), (3, 10, 10), "prelu"),
        (nn.LocalResponseNorm(3), (8, 6, 6), None),
        (ESPCN(3), (1, 8, 6), "pixel_shuffle"),
        (ESPCN(2, unshuffle=True), (1, 8, 6), "pixel_unshuffle"),
        (Segmenter(5, "argmax"), (3, 16, 12), "reduce"),
        (Segmenter(5, "argmin", keepdim=True), (3, 16, 12), "reduce"),
        (Interpolate(scale_factor=2.0, mode="nearest"), (4, 5, 6), "resize"),
        (Interpolate(scale_factor=1.5, mode="bilinear"), (4, 5, 6), "resize"),
        (Interpolate(size=(3, 11), mode="bilinear", align_corners=True), (4, 5, 6), "resize"),
        (Interpolate(scale_factor=2.0, mode="bicubic"), (4, 5, 6), "resize"),
        (Interpolate(size=(3, 4, 5), mode="trilinear"), (2, 4, 5, 6), "resize"),
        (Interpolate(scale_factor=2.0, mode="nearest"), (2, 4, 5, 6), "resize"),
    ],
)
def test_layers_exported_by_dynamo(
    module: nn.Module, shape: tuple[int, ...], layer: str | None, cli: Cli, tmp_path: Path
) -> None:
    report = assert_dynamo_matches_torch(cli, module, shape, tmp_path)
    if layer is not None:
        assert layer in {row["type"] for row in report["layers"]}


# -- the reader: NodeProto.metadata_props ---------------------------------------------------------------
def test_reader_keeps_the_metadata_onnx_load_sees(tmp_path: Path) -> None:
    """Every node's kept metadata (NODE_METADATA_KEYS) is what onnx.load reads; the other
    entries (stack traces, FX nodes) are not kept."""
    path = export(Twice(), (4, 8, 8), tmp_path / "m.onnx", dynamo=True)
    model = onnx.load(path)
    nodes = P.read_model(path).graph.nodes
    assert len(nodes) == len(model.graph.node)
    seen: set[str] = set()
    for ours, theirs in zip(nodes, model.graph.node):
        want = {e.key: e.value for e in theirs.metadata_props if e.key in P.NODE_METADATA_KEYS}
        assert ours.metadata == want
        seen.update(want)
    assert P.NODE_METADATA_KEYS[0] in seen


@pytest.mark.parametrize("canonical", [True, False])
def test_reader_metadata_entries_of_any_form(canonical: bool) -> None:
    """Entries written as any protobuf writer may: value before key, a key without value,
    a key of a kept key's length that is not kept, a long unknown key (a two-byte length)."""
    scopes = "['', 'body', 'body.conv', 'conv2d']"
    node = helper.make_node("Relu", ["x"], ["y"], name="n")
    for key, value in [
        ("pkg.torch.onnx.stack_trace", "x" * 300),  # the same length as name_scopes
        ("k" * 200, "v"),
        (P.NODE_METADATA_KEYS[1], ""),
        (P.NODE_METADATA_KEYS[0], scopes),
    ]:
        node.metadata_props.add(key=key, value=value)
    raw = node.SerializeToString()
    if not canonical:  # the last entry again, its value first: the later key wins, as in protobuf
        entry = _field(2, scopes.replace("conv", "pool").encode()) + _field(
            1, P.NODE_METADATA_KEYS[0].encode()
        )
        raw += _field(9, entry)
    graph = helper.make_graph(
        [onnx.NodeProto.FromString(raw)],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    data = helper.make_model(graph).SerializeToString()
    (got,) = P.parse_model(data, "m.onnx").graph.nodes
    want_scopes = scopes if canonical else scopes.replace("conv", "pool")
    assert got.metadata == {P.NODE_METADATA_KEYS[0]: want_scopes, P.NODE_METADATA_KEYS[1]: ""}


def _field(num: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field (lengths under 128)."""
    assert len(payload) < 128
    return bytes([num << 3 | 2, len(payload)]) + payload


def test_hostile_module_paths_cost_their_length(cli: Cli, tmp_path: Path) -> None:
    """Module paths of 20,000 levels on 40 nodes (the work is linear in their length, so this
    reads at once), odd quoting and a path-less scope list: names come out, one per layer."""
    deep = ".".join(["m"] * 20_000)
    texts = [f"['', '{deep}', 'relu_{k}']" for k in range(40)]
    texts += ['["", "a\\"b", \'relu\']', "not a list", "['relu']"]
    nodes = []
    for k, text in enumerate(texts):
        node = helper.make_node("Relu", [f"t{k}"], [f"t{k + 1}"], name=f"node_relu_{k}")
        node.metadata_props.add(key=P.NODE_METADATA_KEYS[0], value=text)
        nodes.append(node)
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("t0", TensorProto.FLOAT, ["batch", 2, 3, 3])],
        [helper.make_tensor_value_info(f"t{len(texts)}", TensorProto.FLOAT, ["batch", 2, 3, 3])],
    )
    path = tmp_path / "deep.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    names = [layer["name"] for layer in report_json(cli, str(path))["layers"]]
    assert len(names) == len(set(names)) == len(texts)
    assert names[:2] == [deep + ".relu", deep + ".relu_1"]  # one call of a module, two ops
    # no path: the node's own name; the last, a graph output, is named by it
    assert names[-2:] == ["node_relu_41", f"t{len(texts)}"]
