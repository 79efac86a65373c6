"""ONNX ops of real models (PRelu, LRN, ArgMax/ArgMin, DepthToSpace/SpaceToDepth, variadic
Sum/Mean/Max/Min) through ``convcalc report MODEL.onnx`` and ``convcalc import``.

torch and onnxruntime are the judges. Models torch's exporter writes (PReLU, PixelShuffle,
PixelUnshuffle, argmax) are exported with ``torch.onnx.export`` and checked as every exported
model is (tests/test_onnx_import.py: params, MACs and output shapes equal torch's; the imported
spec reports the same rows). Ops torch's exporter does not write (LRN: it decomposes
nn.LocalResponseNorm into some sixty ops, among them an ``If``; DepthToSpace in DCR mode;
SpaceToDepth; Sum, Mean, Max, Min of three inputs) are built with onnx.helper and run by
onnxruntime, whose output shapes (and, for LRN, values against nn.LocalResponseNorm) are the
reference.
"""

from __future__ import annotations

import math

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper, numpy_helper
from test_onnx_import import (
    SETTINGS,
    assert_matches_torch,
    import_and_report,
    one_line_error,
    onnx_file,
    report_json,
    rows,
    tensor,
    weight,
)
from torch import nn


def ort_run(path: str, x: np.ndarray) -> list[np.ndarray]:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x})


def types(report: dict) -> list[tuple]:
    return [(layer["type"], layer.get("mode")) for layer in report["layers"]]


def layer_of(report: dict, t: str) -> dict:
    (found,) = [layer for layer in report["layers"] if layer["type"] == t]
    return found


# -- exported by torch ---------------------------------------------------------------------------------
class ConvPReLU(nn.Module):
    """A face-recognition / ENet style stem: conv, PReLU shared or per channel, then a linear
    head with a per-feature PReLU on a flat input."""

    def __init__(self, per_channel: bool):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.PReLU(8 if per_channel else 1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)
        self.act2 = nn.PReLU(5 if per_channel else 1)

    def forward(self, x):
        return self.act2(self.fc(self.pool(self.act(self.conv(x))).flatten(1)))


class Segmenter(nn.Module):
    """The end of an exported segmentation model: class scores, upsampled, argmax over them."""

    def __init__(self, classes: int = 5, op: str = "argmax", keepdim: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1), nn.PReLU(8), nn.Conv2d(8, classes, 1)
        )
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.op, self.keepdim = op, keepdim

    def forward(self, x):
        y = self.up(self.body(x))
        return getattr(torch, self.op)(y, dim=1, keepdim=self.keepdim)


class ESPCN(nn.Module):
    """ESPCN-style super-resolution (Shi et al. 2016): convolutions, then a sub-pixel
    convolution (PixelShuffle), and the inverse for good measure."""

    def __init__(self, r: int = 3, unshuffle: bool = False):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 16, 5, padding=2), nn.Tanh(), nn.Conv2d(16, r * r, 3, padding=1)
        )
        self.shuffle = nn.PixelShuffle(r)
        self.unshuffle = nn.PixelUnshuffle(r) if unshuffle else None

    def forward(self, x):
        y = self.shuffle(self.body(x))
        return self.unshuffle(y) if self.unshuffle is not None else y


@pytest.mark.parametrize("per_channel", [False, True])
@pytest.mark.parametrize("opset", [11, 17])
def test_prelu_exported_by_torch(per_channel, opset, cli, tmp_path):
    torch.manual_seed(0)
    report = assert_matches_torch(cli, ConvPReLU(per_channel), (3, 10, 10), tmp_path, opset=opset)
    prelus = [layer for layer in report["layers"] if layer["type"] == "prelu"]
    assert [layer["params"] for layer in prelus] == ([8, 5] if per_channel else [1, 1])


@pytest.mark.parametrize("op", ["argmax", "argmin"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_argmax_at_the_end_of_a_segmentation_net(op, keepdim, cli, tmp_path):
    report = assert_matches_torch(cli, Segmenter(5, op, keepdim), (3, 16, 12), tmp_path)
    last = report["layers"][-1]
    assert last["type"] == "reduce" and last["output_shape"] == ([1, 16, 12] if keepdim else [16, 12])
    assert last["flops"] == (5 - 1) * 16 * 12  # classes - 1 compares per pixel


@pytest.mark.parametrize("r,unshuffle", [(3, False), (2, True)])
def test_pixel_shuffle_exported_by_torch(r, unshuffle, cli, tmp_path):
    report = assert_matches_torch(cli, ESPCN(r, unshuffle), (1, 8, 6), tmp_path)
    # torch 2.13 writes PixelShuffle as DepthToSpace (CRD), PixelUnshuffle as Reshape/Transpose/Reshape,
    # which is folded back into one pixel_unshuffle
    assert ("pixel_shuffle", None) in types(report)
    assert (("pixel_unshuffle", None) in types(report)) == unshuffle
    assert report["layers"][-1]["output_shape"] == ([r * r, 8, 6] if unshuffle else [1, 8 * r, 6 * r])


# -- permutations written as Reshape -> Transpose -> Reshape --------------------------------------------
class HandPixelShuffle(nn.Module):
    """PixelShuffle written out (torch's own order, as the exporter writes nn.PixelShuffle
    before opset 11); ``dcr``: DepthToSpace's DCR order instead, the same shapes."""

    def __init__(self, r: int, dcr: bool = False):
        super().__init__()
        self.r, self.dcr = r, dcr

    def forward(self, x):
        n, c, h, w = x.shape
        r, k = self.r, c // (self.r * self.r)
        if self.dcr:
            y = x.view(n, r, r, k, h, w).permute(0, 3, 4, 1, 5, 2)
        else:
            y = x.view(n, k, r, r, h, w).permute(0, 1, 4, 2, 5, 3)
        return y.reshape(n, k, h * r, w * r)


class SwappedUnshuffle(nn.Module):
    """PixelUnshuffle's shapes with the two offsets swapped: the column offset varies slowest."""

    def __init__(self, r: int):
        super().__init__()
        self.r = r

    def forward(self, x):
        n, c, h, w = x.shape
        r = self.r
        y = x.view(n, c, h // r, r, w // r, r).permute(0, 1, 5, 3, 2, 4)
        return y.reshape(n, c * r * r, h // r, w // r)


class ShuffleNetShuffle(nn.Module):
    """ShuffleNet's channel shuffle as its reference code writes it; ``spatial_too``: the
    same, also transposing a square image (the same shapes, another permutation)."""

    def __init__(self, groups: int, spatial_too: bool = False):
        super().__init__()
        self.groups, self.spatial_too = groups, spatial_too

    def forward(self, x):
        n, c, h, w = x.shape
        y = x.view(n, self.groups, c // self.groups, h, w)
        y = y.permute(0, 2, 1, 4, 3) if self.spatial_too else y.transpose(1, 2)
        return y.reshape(n, c, h, w)


class Sandwich(nn.Module):
    """conv, the permutation, conv: a receptive field to carry through it."""

    def __init__(self, c: int, mid: nn.Module, c_mid: int):
        super().__init__()
        self.conv1 = nn.Conv2d(3, c, 3, padding=1)
        self.mid = mid
        self.conv2 = nn.Conv2d(c_mid, 4, 3, padding=1)

    def forward(self, x):
        return self.conv2(self.mid(self.conv1(x)))


def sandwich_spec(shape: tuple[int, ...], c: int, mid: str) -> str:
    return (
        f"input: {list(shape)}\nlayers:\n"
        f"  - {{type: conv, out_channels: {c}, kernel: 3, padding: 1}}\n"
        f"  - {mid}\n"
        "  - {type: conv, out_channels: 4, kernel: 3, padding: 1}\n"
    )


PERMUTATIONS = [
    # module, its middle layer as a spec writes it (None: no such layer, it stays as is)
    (lambda: nn.PixelUnshuffle(2), 8, 32, "{type: pixel_unshuffle, factor: 2}"),
    (lambda: nn.PixelShuffle(2), 8, 2, "{type: pixel_shuffle, factor: 2}"),
    (lambda: HandPixelShuffle(2), 8, 2, "{type: pixel_shuffle, factor: 2}"),
    (lambda: ShuffleNetShuffle(4), 12, 12, "{type: channel_shuffle, groups: 4}"),
    (lambda: ShuffleNetShuffle(3), 12, 12, "{type: channel_shuffle, groups: 3}"),
    (lambda: SwappedUnshuffle(2), 8, 32, None),
    (lambda: HandPixelShuffle(2, dcr=True), 8, 2, None),
    (lambda: ShuffleNetShuffle(4, spatial_too=True), 12, 12, None),
]


@pytest.mark.parametrize("opset", [11, 13, 17])
@pytest.mark.parametrize("make,c,c_mid,mid", PERMUTATIONS)
def test_permutations_exported_by_torch(make, c, c_mid, mid, opset, cli, tmp_path, spec_file):
    """torch's PixelUnshuffle, PixelShuffle (and the same written out) and ShuffleNet's channel
    shuffle fold into the layer that moves the elements the same way: one layer of that type;
    params, MACs, outputs as torch's; the same rows and receptive fields as the network written
    as a spec; import round-trips (assert_matches_torch). Look-alikes of the same shapes and
    another permutation stay reshape/transpose layers."""
    shape = (3, 8, 8)
    torch.manual_seed(0)
    report = assert_matches_torch(cli, Sandwich(c, make(), c_mid), shape, tmp_path, opset=opset)
    got = [layer["type"] for layer in report["layers"]]
    if mid is None:
        assert got[0] == "conv" and got[-1] == "conv" and "transpose" in got
        assert not {"pixel_shuffle", "pixel_unshuffle", "channel_shuffle"} & set(got)
        return
    twin = report_json(cli, spec_file(sandwich_spec(shape, c, mid)))
    keys = ("type", "input_shape", "output_shape", "params", "macs", "flops", "receptive_field")
    assert [{k: layer[k] for k in keys} for layer in report["layers"]] == [
        {k: layer[k] for k in keys} for layer in twin["layers"]
    ]
    assert report["layers"][-1]["receptive_field"] is not None


def test_pixel_shuffle_before_opset_11_is_written_out_and_folded(cli, tmp_path):
    report = assert_matches_torch(cli, nn.PixelShuffle(3), (18, 4, 5), tmp_path, opset=9)
    assert [layer["type"] for layer in report["layers"]] == ["pixel_shuffle"]


@st.composite
def written_permutations(draw):
    """A Reshape -> Transpose -> Reshape of the shapes of pixel_unshuffle, pixel_shuffle (2
    spatial dims) or channel_shuffle (1 to 3 spatial dims), factor or groups > 1 (not an
    identity), its perm the layer's or any other (another that moves only dims of size 1 is
    the same permutation)."""
    kind = draw(st.sampled_from(["pixel_unshuffle", "pixel_shuffle", "channel_shuffle"]))
    if kind == "channel_shuffle":
        g, k = draw(st.integers(2, 4)), draw(st.integers(2, 4))
        size = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
        shape, dims, out = (g * k, *size), (g, k, *size), (g * k, *size)
        perm = (1, 0, *range(2, len(dims)))
        values = {"groups": g}
    else:
        r, c = draw(st.integers(2, 3)), draw(st.integers(1, 3))
        h, w = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        values = {"factor": r}
        if kind == "pixel_unshuffle":
            shape, dims, out = (c, h * r, w * r), (c, h, r, w, r), (c * r * r, h, w)
            perm = (0, 2, 4, 1, 3)
        else:
            shape, dims, out = (c * r * r, h, w), (c, r, r, h, w), (c, h * r, w * r)
            perm = (0, 3, 1, 4, 2)
    if draw(st.booleans()):
        perm = tuple(draw(st.permutations(range(len(dims)))))
    return kind, values, shape, dims, perm, out


@settings(max_examples=40, **SETTINGS)
@given(case=written_permutations())
def test_written_permutations_fold_exactly_when_they_move_the_same_elements(case, cli, tmp_path_factory):
    """onnxruntime runs the three ops; torch's pixel_unshuffle / pixel_shuffle / channel_shuffle
    is the reference. convcalc reports one layer of that type exactly when the outputs are equal
    (the same element for element); otherwise reshape/transpose layers, of the same shapes."""
    kind, values, shape, dims, perm, out = case
    tmp_path = tmp_path_factory.mktemp("perm")
    nodes = [
        helper.make_node("Reshape", ["x", "d"], ["a"], name="split"),
        helper.make_node("Transpose", ["a"], ["t"], name="move", perm=[0, *(p + 1 for p in perm)]),
        helper.make_node("Reshape", ["t", "o"], ["y"], name="join"),
    ]
    inits = [
        numpy_helper.from_array(np.array([-1, *dims], dtype=np.int64), "d"),
        numpy_helper.from_array(np.array([-1, *out], dtype=np.int64), "o"),
    ]
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", *shape])], [tensor("y", None)], inits)
    x = np.arange(2 * math.prod(shape), dtype=np.float32).reshape(2, *shape)
    (y,) = ort_run(path, x)
    t = torch.from_numpy(x)
    if kind == "pixel_unshuffle":
        want = torch.pixel_unshuffle(t, values["factor"])
    elif kind == "pixel_shuffle":
        want = torch.pixel_shuffle(t, values["factor"])
    else:
        want = F.channel_shuffle(t.reshape(2, shape[0], -1), values["groups"]).reshape(t.shape)
    same = np.array_equal(y, want.numpy())
    got = report_json(cli, path)
    assert [tuple(s) for s in got["outputs"].values()] == [y.shape[1:]]
    types = [layer["type"] for layer in got["layers"]]
    if same:
        assert types == [kind]
    else:
        assert not {"pixel_shuffle", "pixel_unshuffle", "channel_shuffle"} & set(types)
    assert got["totals"]["params"] == got["totals"]["macs"] == got["totals"]["flops"] == 0
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)


@pytest.mark.parametrize("inside", ["a", "t"])
@pytest.mark.parametrize("how", ["read", "output"])
def test_a_permutation_whose_inside_is_read_elsewhere_stays(inside, how, cli, tmp_path):
    """torch's PixelUnshuffle order, but its reshaped or transposed tensor is also read by a
    Relu, or is an output of the graph: the three stay, so that tensor exists."""
    nodes = [
        helper.make_node("Reshape", ["x", "d"], ["a"], name="split"),
        helper.make_node("Transpose", ["a"], ["t"], name="move", perm=[0, 1, 3, 5, 2, 4]),
        helper.make_node("Reshape", ["t", "o"], ["y"], name="join"),
    ]
    outputs = [tensor("y", None)]
    if how == "read":
        nodes.append(helper.make_node("Relu", [inside], ["z"], name="other"))
        outputs.append(tensor("z", None))
    else:
        outputs.append(tensor(inside, None))
    inits = [
        numpy_helper.from_array(np.array([-1, 3, 2, 2, 3, 2], dtype=np.int64), "d"),
        numpy_helper.from_array(np.array([-1, 12, 2, 3], dtype=np.int64), "o"),
    ]
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", 3, 4, 6])], outputs, inits)
    want = [o.shape[1:] for o in ort_run(path, np.random.rand(2, 3, 4, 6).astype(np.float32))]
    got = report_json(cli, path)
    assert [tuple(s) for s in got["outputs"].values()] == want
    types = [layer["type"] for layer in got["layers"]]
    assert "pixel_unshuffle" not in types and types[:3] == ["reshape", "transpose", "reshape"]
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)


# -- built by hand, judged by onnxruntime ------------------------------------------------------------------
@pytest.mark.parametrize(
    "op,attrs,shape",
    [
        ("DepthToSpace", {"blocksize": 2, "mode": "DCR"}, (12, 3, 5)),
        ("DepthToSpace", {"blocksize": 3, "mode": "CRD"}, (9, 2, 4)),
        ("DepthToSpace", {"blocksize": 2}, (4, 1, 1)),  # DCR by default
        ("SpaceToDepth", {"blocksize": 2}, (3, 4, 6)),
    ],
)
def test_depth_to_space_by_hand(op, attrs, shape, cli, tmp_path):
    path = onnx_file(
        tmp_path,
        [helper.make_node(op, ["x"], ["y"], name="d2s", **attrs)],
        [tensor("x", ["b", *shape])],
        [tensor("y", None)],
    )
    (want,) = ort_run(path, np.random.rand(2, *shape).astype(np.float32))
    got = report_json(cli, path)
    assert got["outputs"] and [tuple(s) for s in got["outputs"].values()] == [want.shape[1:]]
    (layer,) = got["layers"]
    assert layer["type"] == ("pixel_shuffle" if op == "DepthToSpace" else "pixel_unshuffle")
    assert (layer["params"], layer["macs"], layer["flops"]) == (0, 0, 0)
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)


def test_depth_to_space_dcr_and_crd_move_the_same_elements():
    """The two modes differ in the order of the channels only (so their shapes and costs are the
    same): each output is a permutation of the input's values."""
    x = np.random.rand(1, 8, 2, 3).astype(np.float32)
    outs = []
    for mode in ("DCR", "CRD"):
        graph = helper.make_graph(
            [helper.make_node("DepthToSpace", ["x"], ["y"], blocksize=2, mode=mode)],
            "g",
            [tensor("x", [1, 8, 2, 3])],
            [tensor("y", None)],
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outs.append(session.run(None, {"x": x})[0])
    assert outs[0].shape == outs[1].shape == (1, 2, 4, 6)
    assert sorted(outs[0].ravel()) == sorted(outs[1].ravel()) == sorted(x.ravel())
    assert not np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize(
    "attrs,shape",
    [
        ({"size": 5, "alpha": 1e-4, "beta": 0.75, "bias": 2.0}, (16, 7, 7)),  # AlexNet (model zoo)
        ({"size": 5, "alpha": 1e-4, "beta": 0.75}, (8, 5, 5)),  # GoogLeNet: bias 1 by default
        ({"size": 3}, (4, 9)),  # 1D, every default
        ({"size": 7, "alpha": 0.5, "beta": 0.25, "bias": 1.5}, (3, 2, 3, 2)),  # 3D, window > channels
    ],
)
def test_lrn_by_hand(attrs, shape, cli, tmp_path):
    """An LRN node as the ONNX model zoo's AlexNet and GoogLeNet have them: onnxruntime's output
    (for [N, C, H, W], all it runs) equals nn.LocalResponseNorm's with the same attributes (the
    mapping means the same computation); convcalc's report has its shape, no params, no MACs, and (size + 4) FLOPs
    per element; the imported spec reports the same and keeps alpha, beta, k."""
    path = onnx_file(
        tmp_path,
        [helper.make_node("LRN", ["x"], ["y"], name="norm1", **attrs)],
        [tensor("x", ["b", *shape])],
        [tensor("y", None)],
    )
    x = np.random.rand(2, *shape).astype(np.float32)
    reference = nn.LocalResponseNorm(
        attrs["size"], attrs.get("alpha", 1e-4), attrs.get("beta", 0.75), attrs.get("bias", 1.0)
    )
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
    if len(shape) == 3:  # onnxruntime's LRN takes [N, C, H, W] only
        (ort_out,) = ort_run(path, x)
        np.testing.assert_allclose(ort_out, want, rtol=1e-5, atol=1e-6)
    got = report_json(cli, path)
    (layer,) = got["layers"]
    assert layer["type"] == "lrn" and tuple(layer["output_shape"]) == want.shape[1:]
    assert (layer["params"], layer["macs"]) == (0, 0)
    assert layer["flops"] == (attrs["size"] + 4) * math.prod(shape)
    again, text = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)
    (spec_layer,) = yaml.safe_load(text)["layers"]
    twin = nn.LocalResponseNorm(
        spec_layer["size"],
        spec_layer.get("alpha", 1e-4),
        spec_layer.get("beta", 0.75),
        spec_layer.get("k", 1.0),
    )
    assert spec_layer.get("alpha", 1e-4) == attrs.get("alpha", 1e-4)  # written as the file's decimal
    assert spec_layer.get("k", 1.0) == attrs.get("bias", 1.0)
    with torch.no_grad():
        torch.testing.assert_close(twin(torch.from_numpy(x)).numpy(), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
def test_variadic_ops_of_three_inputs(op, cli, tmp_path):
    """Sum/Mean/Max/Min of three activations, one of them broadcast ([N, C, 1, 1]): the output
    shape is onnxruntime's; the op costs (n - 1) per output element (Mean: n, the sum and one
    divide); import round-trips."""
    c, h, w = 4, 5, 3
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="a"),
        helper.make_node("Sigmoid", ["x"], ["s"], name="s"),
        helper.make_node("GlobalAveragePool", ["x"], ["g"], name="g"),
        helper.make_node(op, ["a", "s", "g"], ["y"], name="merge"),
    ]
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", c, h, w])], [tensor("y", None)])
    (want,) = ort_run(path, np.random.rand(2, c, h, w).astype(np.float32))
    got = report_json(cli, path)
    assert [tuple(s) for s in got["outputs"].values()] == [want.shape[1:]]
    merge = got["layers"][3:]  # after a, s, g (the last is named by the graph's output)
    out = math.prod(want.shape[1:])
    assert sum(layer["flops"] for layer in merge) == (3 if op == "Mean" else 2) * out
    assert [layer["type"] for layer in merge] == {
        "Sum": ["add"],
        "Mean": ["add", "elementwise"],
        "Max": ["binary"],
        "Min": ["binary"],
    }[op]
    assert got["totals"]["params"] == 0 and got["totals"]["macs"] == 0
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)


@pytest.mark.parametrize("op", ["Sum", "Mean", "Max", "Min"])
def test_variadic_ops_of_one_and_two_inputs(op, cli, tmp_path):
    """One input passes on (no layer); two are the binary op, a learned constant included."""
    nodes = [
        helper.make_node("Relu", ["x"], ["a"], name="a"),
        helper.make_node(op, ["a"], ["m1"], name="one"),
        helper.make_node(op, ["m1", "x"], ["m2"], name="two"),
    ]
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", 4, 5, 5])], [tensor("m2", None)])
    (want,) = ort_run(path, np.random.rand(1, 4, 5, 5).astype(np.float32))
    got = report_json(cli, path)
    assert [tuple(s) for s in got["outputs"].values()] == [want.shape[1:]]
    assert got["layers"][0]["name"] == "a" and "one" not in [layer["name"] for layer in got["layers"]]
    assert sum(layer["flops"] for layer in got["layers"][1:]) == (2 if op == "Mean" else 1) * 100
    # with a learned per-channel constant
    nodes = [helper.make_node(op, ["x", "c"], ["y"], name="withc")]
    path = onnx_file(
        tmp_path,
        nodes,
        [tensor("x", ["b", 4, 5, 5])],
        [tensor("y", None)],
        [weight("c", [4, 1, 1])],
        name="c.onnx",
    )
    if op == "Mean":
        one_line_error(cli("report", path), "'withc'", "constants")
    else:
        got = report_json(cli, path)
        assert got["totals"]["params"] == 4 and got["totals"]["flops"] == 100
        assert got["outputs"] and [tuple(s) for s in got["outputs"].values()] == [(4, 5, 5)]


# -- what cannot be mapped, or is wrong: exit 2, one line ------------------------------------------------------
@pytest.mark.parametrize(
    "nodes,inits,fragments",
    [
        # a slope per column (aligned on the right with W), not per channel
        (
            [helper.make_node("PRelu", ["x", "a"], ["y"], name="p")],
            [weight("a", [6])],
            ["'p'", "slope of dims [6]"],
        ),
        # one slope per element
        (
            [helper.make_node("PRelu", ["x", "a"], ["y"], name="p")],
            [weight("a", [4, 5, 6])],
            ["slope of dims [4, 5, 6]"],
        ),
        # the slope computed by the network
        ([helper.make_node("PRelu", ["x", "x"], ["y"], name="p")], [], ["slope is computed"]),
        # argmax along the batch
        ([helper.make_node("ArgMax", ["x"], ["y"], name="am", axis=0)], [], ["'am'", "batch"]),
        # a blocksize that does not divide the channels
        (
            [helper.make_node("DepthToSpace", ["x"], ["y"], name="d", blocksize=3)],
            [],
            ["'d'", "factor^2 = 9 must divide the input channels 4"],
        ),
        # a blocksize that does not divide the size
        (
            [helper.make_node("SpaceToDepth", ["x"], ["y"], name="d", blocksize=4)],
            [],
            ["'d'", "factor"],
        ),
        ([helper.make_node("LRN", ["x"], ["y"], name="n", size=0)], [], ["'n'", "size: must be >= 1, got 0"]),
        ([helper.make_node("LRN", ["x"], ["y"], name="n")], [], ["'n'", "has no size"]),
        (
            [helper.make_node("DepthToSpace", ["x"], ["y"], name="d", blocksize=2, mode="XYZ")],
            [],
            ["'d'", "mode 'XYZ'"],
        ),
    ],
)
def test_bad_uses_are_one_line_errors(nodes, inits, fragments, cli, tmp_path):
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", 4, 5, 6])], [tensor("y", None)], inits)
    one_line_error(cli("report", path), *fragments)


def test_prelu_on_a_channels_last_view(cli, tmp_path):
    """PRelu with a [C] slope on a channels-last tensor (between the transposes of a ConvNeXt-style
    block) is one slope per channel; the transposes stay implicit."""
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], name="to_cl", perm=[0, 2, 3, 1]),
        helper.make_node("PRelu", ["t", "a"], ["p"], name="act"),
        helper.make_node("Transpose", ["p"], ["y"], name="back", perm=[0, 3, 1, 2]),
    ]
    path = onnx_file(tmp_path, nodes, [tensor("x", ["b", 4, 5, 6])], [tensor("y", None)], [weight("a", [4])])
    got = report_json(cli, path)
    assert [(layer["type"], layer["params"], layer["flops"]) for layer in got["layers"]] == [
        ("prelu", 4, 2 * 120)
    ]
    assert [tuple(s) for s in got["outputs"].values()] == [(4, 5, 6)]
    again, _ = import_and_report(cli, path, tmp_path)
    assert rows(again) == rows(got)
