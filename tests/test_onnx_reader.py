"""The ONNX reader (convcalc.frontends.onnx_proto) against the ``onnx`` package's own parse.

Real models are exported with ``torch.onnx.export`` in the tests (into tmp_path: no model
file is committed); every record is compared with what ``onnx.load`` (the protobuf runtime
with ONNX's schema) reads from the same file: nodes with their attributes, initializers'
dims, types and small values (numpy_helper.to_array), inputs and outputs with their shapes,
opsets. Then hostile files: truncated, not ONNX at all, absurd dims, huge claimed lengths,
deep nesting, cycles and undefined tensors (for dataflow_order), and a fuzz test of mutated
bytes: the reader returns or raises SpecError, nothing else, in bounded time and memory.
"""

from __future__ import annotations

import functools
import math
import os
import signal
import tempfile
import threading
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

from convcalc.errors import LimitError, SpecError
from convcalc.frontends import onnx_proto
from convcalc.frontends.onnx_proto import (
    MAX_FLOAT_VALUES,
    MAX_INT_VALUES,
    Model,
    Node,
    OnnxError,
    Opaque,
    Tensor,
    ValueInfo,
    dataflow_order,
    parse_model,
    read_model,
)

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # as test_oracle_networks


# -- exporting -----------------------------------------------------------------------------------
def export(path, module: nn.Module, *inputs: torch.Tensor, opset: int = 17, fold: bool = True, dynamic=False):
    """torch.onnx.export (TorchScript exporter: works offline, no onnxscript) to ``path``."""
    names = [f"in{k}" for k in range(len(inputs))]
    axes = {n: {0: "batch"} for n in names} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            tuple(inputs),
            str(path),
            dynamo=False,
            opset_version=opset,
            do_constant_folding=fold,
            input_names=names,
            dynamic_axes=axes,
        )
    return str(path)


def with_shapes(path: str) -> str:
    """Run ONNX shape inference, so that the file has value_info records too."""
    model = onnx.shape_inference.infer_shapes(onnx.load(path))
    onnx.save(model, path)
    return path


# -- the oracle: onnx.load's view of the same file -----------------------------------------------
def decoded(t: TensorProto) -> bool:
    """Whether the reader promises values for this tensor (its documented rule)."""
    n = math.prod(t.dims)
    if t.data_location == TensorProto.EXTERNAL:
        return False
    if t.data_type in onnx_proto.INT_TYPES:
        return n <= MAX_INT_VALUES
    return t.data_type in onnx_proto.FLOAT_TYPES and n <= MAX_FLOAT_VALUES


def expected_values(t: TensorProto) -> list:
    arr = numpy_helper.to_array(t)
    if t.data_type == TensorProto.BFLOAT16:
        arr = arr.astype(np.float32)
    return arr.ravel().tolist()


def assert_tensor(mine: Tensor, t: TensorProto, what: str) -> None:
    assert mine.name == t.name, what
    assert mine.dims == tuple(t.dims), what
    assert mine.data_type == t.data_type, what
    assert mine.external == (t.data_location == TensorProto.EXTERNAL), what
    if decoded(t):
        assert mine.values is not None, f"{what}: values not decoded"
        assert list(mine.values) == expected_values(t), what
        assert [type(v) for v in mine.values] == [type(v) for v in expected_values(t)], what
    else:
        assert mine.values is None, f"{what}: values decoded, but they are not small"


def expected_attr(a: onnx.AttributeProto):
    A = onnx.AttributeProto
    if a.type == A.STRING:
        return a.s.decode("utf-8", "replace")
    if a.type == A.STRINGS:
        return [s.decode("utf-8", "replace") for s in a.strings]
    if a.type == A.GRAPH:
        return Opaque("graph", a.g.ByteSize())
    if a.type == A.GRAPHS:
        return [Opaque("graph", g.ByteSize()) for g in a.graphs]
    if a.type == A.SPARSE_TENSOR:
        return Opaque("sparse_tensor", a.sparse_tensor.ByteSize())
    if a.type == A.TYPE_PROTO:
        return Opaque("type_proto", a.tp.ByteSize())
    if a.type == A.TYPE_PROTOS:
        return [Opaque("type_proto", t.ByteSize()) for t in a.type_protos]
    return helper.get_attribute_value(a)


def assert_attr(mine, a: onnx.AttributeProto, what: str) -> None:
    want = expected_attr(a)
    if a.type == onnx.AttributeProto.TENSOR:
        assert isinstance(mine, Tensor), what
        assert_tensor(mine, want, what)
    elif a.type == onnx.AttributeProto.TENSORS:
        assert len(mine) == len(want), what
        for k, (m, w) in enumerate(zip(mine, want)):
            assert_tensor(m, w, f"{what}[{k}]")
    else:
        assert mine == want, f"{what}: {mine!r} != {want!r}"
        assert type(mine) is type(want), what
        if isinstance(want, list):
            assert [type(v) for v in mine] == [type(v) for v in want], what


def expected_info(v: onnx.ValueInfoProto) -> ValueInfo:
    t = v.type
    if t.WhichOneof("value") not in ("tensor_type", "sparse_tensor_type"):
        return ValueInfo(v.name, 0, None)
    tt = t.tensor_type if t.HasField("tensor_type") else t.sparse_tensor_type
    if not tt.HasField("shape"):
        return ValueInfo(v.name, tt.elem_type, None)
    dims = []
    for d in tt.shape.dim:
        if d.HasField("dim_value"):
            dims.append(d.dim_value if d.dim_value >= 0 else None)
        elif d.HasField("dim_param"):
            dims.append(d.dim_param)
        else:
            dims.append(None)
    return ValueInfo(v.name, tt.elem_type, tuple(dims))


def assert_matches_onnx(model: Model, path: str) -> onnx.ModelProto:
    """Every record of ``model`` against onnx.load(path) (external data not loaded)."""
    ref = onnx.load(path, load_external_data=False)
    assert model.ir_version == ref.ir_version
    assert model.producer == " ".join(p for p in (ref.producer_name, ref.producer_version) if p)
    assert model.opsets == {o.domain: o.version for o in ref.opset_import}
    g, rg = model.graph, ref.graph
    assert g.name == rg.name
    assert len(g.nodes) == len(rg.node)
    for k, (n, rn) in enumerate(zip(g.nodes, rg.node)):
        what = f"node {k} {rn.name} ({rn.op_type})"
        assert (n.op_type, n.name, n.domain) == (rn.op_type, rn.name, rn.domain), what
        assert n.inputs == list(rn.input), what
        assert n.outputs == list(rn.output), what
        assert list(n.attrs) == [a.name for a in rn.attribute], what
        for a in rn.attribute:
            assert_attr(n.attrs[a.name], a, f"{what} attribute {a.name}")
    assert list(g.initializers) == [t.name for t in rg.initializer]
    for t in rg.initializer:
        assert_tensor(g.initializers[t.name], t, f"initializer {t.name}")
    assert g.inputs == [expected_info(v) for v in rg.input]
    assert g.outputs == [expected_info(v) for v in rg.output]
    assert g.value_info == {v.name: expected_info(v) for v in rg.value_info}
    return ref


# -- real models ---------------------------------------------------------------------------------
class Convs(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.dw = nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=16, bias=False)
        self.g = nn.Conv2d(16, 8, (1, 3), padding=(0, 1), groups=4)
        self.same = nn.Conv2d(8, 8, 4, padding="same")
        self.c1d = nn.Conv1d(8, 4, 5, stride=3)
        self.c3d = nn.Conv3d(1, 2, (2, 3, 3), padding=(0, 1, 1))

    def forward(self, x):
        y = self.same(self.g(self.dw(self.c1(x))))
        z = self.c1d(y.flatten(2))
        w = self.c3d(y[:, :3].unsqueeze(1))
        return z, w


class Transposed(nn.Module):
    def __init__(self):
        super().__init__()
        self.t1 = nn.ConvTranspose2d(8, 6, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.t2 = nn.ConvTranspose2d(6, 4, 4, stride=2, dilation=2, bias=False)
        self.t1d = nn.ConvTranspose1d(4, 2, 3, stride=3)

    def forward(self, x):
        y = self.t2(self.t1(x))
        return self.t1d(y.mean(dim=2))


class Norms(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 8, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(8)
        self.inorm = nn.InstanceNorm2d(8, affine=True)
        self.gn = nn.GroupNorm(2, 8)
        self.ln = nn.LayerNorm(6)
        self.bn1 = nn.BatchNorm1d(8)

    def forward(self, x):
        y = self.gn(self.inorm(torch.relu(self.bn(self.conv(x)))))
        y = self.ln(y)
        return self.bn1(y.flatten(2))


class Pools(nn.Module):
    def forward(self, x):
        a = F.max_pool2d(x, 3, 2, 1, ceil_mode=True)
        b = F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)
        c = F.adaptive_avg_pool2d(x, 1) + F.adaptive_max_pool2d(x, 1)
        d = F.max_pool1d(x.flatten(2), 4)
        e = F.avg_pool2d(x, 2, ceil_mode=True)
        return a, b, c, d, e


class Resizes(nn.Module):
    def forward(self, x):
        a = F.interpolate(x, scale_factor=2.0, mode="nearest")
        b = F.interpolate(x, scale_factor=(1.5, 2.0), mode="bilinear", align_corners=False)
        c = F.interpolate(x, size=(11, 13), mode="bilinear", align_corners=True)
        return a, b, c


class Shapes(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 1)

    def forward(self, x):
        y = self.conv(x)
        parts = torch.chunk(y, 3, dim=1)
        z = torch.cat([parts[2], parts[0], y[:, 1:3]], dim=1)[:, :, 1:5]
        z = z.permute(0, 2, 3, 1).contiguous()
        flat = z.view(z.size(0), -1)  # Shape -> Gather -> Unsqueeze -> Concat -> Reshape
        first, rest = torch.split(y, [2, 4], dim=1)  # Split
        return flat.unsqueeze(1).squeeze(1), torch.flatten(y, 1), first * 2, rest


class Dense(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 7)
        self.w = nn.Parameter(torch.randn(12, 5))
        self.seq = nn.Linear(12, 3, bias=False)

    def forward(self, x):
        return self.fc(x[:, 0]), x @ self.w, self.seq(x)


class ConstReshape(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(48, 10)

    def forward(self, x):
        return self.fc(x.reshape(1, -1))


class Activations(nn.Module):
    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.3)

    def forward(self, x):
        a = F.relu6(x) + F.hardswish(x) + torch.sigmoid(x) + F.leaky_relu(x, 0.125)
        b = F.gelu(x) * torch.tanh(x) - F.hardsigmoid(x)
        c = torch.softmax(self.drop(x), dim=1) / 3.0
        return a, b, c.clamp(-1.0, 2.5)


MODELS = {
    "convs": lambda: (Convs(), torch.randn(1, 3, 16, 20)),
    "transposed": lambda: (Transposed(), torch.randn(1, 8, 5, 7)),
    "norms": lambda: (Norms(), torch.randn(2, 4, 5, 6)),
    "pools": lambda: (Pools(), torch.randn(1, 3, 9, 11)),
    "resizes": lambda: (Resizes(), torch.randn(1, 2, 5, 6)),
    "shapes": lambda: (Shapes(), torch.randn(2, 4, 6, 6)),
    "dense": lambda: (Dense(), torch.randn(2, 4, 12)),
    "const-reshape": lambda: (ConstReshape(), torch.randn(1, 3, 4, 4)),
    "activations": lambda: (Activations(), torch.randn(2, 5, 3)),
}


@pytest.mark.parametrize("opset", [11, 17])
@pytest.mark.parametrize("name", list(MODELS))
def test_exported_models_match_onnx_load(tmp_path, name, opset):
    torch.manual_seed(0)
    module, x = MODELS[name]()
    fold = name != "norms"  # keep BatchNorm as BatchNormalization nodes there
    path = with_shapes(export(tmp_path / f"{name}.onnx", module, x, opset=opset, fold=fold, dynamic=True))
    model = read_model(path)
    ref = assert_matches_onnx(model, path)
    assert model.opset() == opset
    assert ref.graph.node and ref.graph.value_info, "the export should have nodes and inferred shapes"
    # the symbolic batch dim arrives as a dim_param
    assert model.graph.data_inputs[0].shape[0] == "batch"
    assert list(model.graph.data_inputs[0].shape[1:]) == list(x.shape[1:])
    assert dataflow_order(model.graph, path) == model.graph.nodes


def test_the_expected_ops_are_exported(tmp_path):
    """The models above do exercise the ops the reader is meant for."""
    seen: set[str] = set()
    for name, make in MODELS.items():
        module, x = make()
        seen |= {
            n.op_type
            for n in read_model(
                export(tmp_path / f"{name}.onnx", module, x, fold=name != "norms")
            ).graph.nodes
        }
    for op in (
        "Conv", "ConvTranspose", "BatchNormalization", "InstanceNormalization", "MaxPool",
        "AveragePool", "GlobalAveragePool", "Resize", "Reshape", "Concat",
        "Gemm", "MatMul", "Shape", "Gather", "Unsqueeze", "Transpose", "Split", "Slice",
        "Clip", "Sigmoid", "LeakyRelu", "Softmax", "Erf", "HardSigmoid", "Flatten",
    ):  # fmt: skip
        assert op in seen, op


def test_constant_fed_reshape_exposes_its_shape(tmp_path):
    """What the mapping phase folds: the Reshape's shape input, decoded, wherever it is."""
    module, x = MODELS["const-reshape"]()
    for fold in (False, True):
        model = read_model(export(tmp_path / f"r{fold}.onnx", module, x, fold=fold))
        g = model.graph
        [reshape] = [n for n in g.nodes if n.op_type == "Reshape"]
        shape_name = reshape.inputs[1]
        if shape_name in g.initializers:
            shape = g.initializers[shape_name]
        else:
            [const] = [n for n in g.nodes if shape_name in n.outputs]
            assert const.op_type == "Constant"
            shape = const.attrs["value"]
        assert shape.data_type == TensorProto.INT64
        assert shape.values == (1, -1)


def test_batchnorm_kept_and_weights_not_decoded(tmp_path):
    module, x = MODELS["norms"]()
    model = read_model(export(tmp_path / "bn.onnx", module, x, fold=False))
    [bn, *_] = [n for n in model.graph.nodes if n.op_type == "BatchNormalization"]
    assert bn.attrs["epsilon"] == pytest.approx(1e-5)
    conv_w = model.graph.initializers["conv.weight"]
    assert conv_w.dims == (8, 4, 3, 3) and conv_w.values is None and conv_w.numel == 288


def test_big_model_weights_are_skipped(tmp_path):
    """A few MB of weights: dims exact, nothing decoded, and the reader's own allocations stay
    far below the file's size."""
    module = nn.Sequential(nn.Conv2d(64, 256, 3), nn.Conv2d(256, 256, 3), nn.Flatten(), nn.LazyLinear(100))
    x = torch.randn(1, 64, 8, 8)
    module(x)
    path = export(tmp_path / "big.onnx", module, x)
    size = os.path.getsize(path)
    assert size > 4_000_000
    tracemalloc.start()
    try:
        model = read_model(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert_matches_onnx(model, path)
    assert peak < size / 20, f"reader allocated {peak:,} bytes for a {size:,}-byte file"
    assert sum(t.numel for t in model.graph.initializers.values()) == sum(
        p.numel() for p in module.parameters()
    )


def test_external_data_reads_without_the_data_file(tmp_path):
    module, x = MODELS["convs"]()
    path = export(tmp_path / "inline.onnx", module, x)
    proto = onnx.load(path)
    ext = str(tmp_path / "ext.onnx")
    onnx.save_model(proto, ext, save_as_external_data=True, location="ext.weights", size_threshold=256)
    os.remove(tmp_path / "ext.weights")
    model = read_model(ext)
    assert_matches_onnx(model, ext)
    external = [t for t in model.graph.initializers.values() if t.external]
    inline = [t for t in model.graph.initializers.values() if not t.external]
    assert external and inline, "the threshold should leave some tensors inline"
    assert all(t.values is None for t in external)
    # the same dims and types as the self-contained file
    whole = read_model(path).graph.initializers
    assert {k: (t.dims, t.data_type) for k, t in model.graph.initializers.items()} == {
        k: (t.dims, t.data_type) for k, t in whole.items()
    }


def test_parse_model_takes_bytes_and_memoryview(tmp_path):
    module, x = MODELS["dense"]()
    path = export(tmp_path / "d.onnx", module, x)
    data = Path(path).read_bytes()
    a, b = parse_model(data, "x"), parse_model(memoryview(data), "x")
    assert a == read_model(path) == b


def test_read_model_without_mmap(tmp_path, monkeypatch):
    """Where a file cannot be mapped (a pipe, some file systems) it is read, to the same result."""
    module, x = MODELS["shapes"]()
    path = export(tmp_path / "s.onnx", module, x)
    mapped = read_model(path)

    def refuse(*args, **kwargs):
        raise OSError("no mmap here")

    monkeypatch.setattr(onnx_proto.mmap, "mmap", refuse)
    assert read_model(path) == mapped


def test_read_model_from_a_pipe(tmp_path):
    module, x = MODELS["dense"]()
    path = export(tmp_path / "d.onnx", module, x)
    data = Path(path).read_bytes()
    fifo = tmp_path / "pipe.onnx"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    try:
        model = read_model(str(fifo))
    finally:
        writer.join()
    assert model == read_model(path)


def test_endless_device_stops_at_the_stream_limit(monkeypatch):
    monkeypatch.setattr(onnx_proto, "MAX_STREAM_BYTES", 3 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as e:
            read_model("/dev/zero")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line(e, "/dev/zero", "larger than 3,145,728 bytes, the limit for a stream")
    assert peak < 10 << 20


# -- tensors and attributes of every kind, against numpy_helper ------------------------------------
DTYPES = {
    TensorProto.FLOAT: np.float32, TensorProto.DOUBLE: np.float64, TensorProto.FLOAT16: np.float16,
    TensorProto.INT64: np.int64, TensorProto.INT32: np.int32, TensorProto.INT16: np.int16,
    TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8, TensorProto.UINT16: np.uint16,
    TensorProto.UINT32: np.uint32, TensorProto.UINT64: np.uint64, TensorProto.BOOL: np.bool_,
}  # fmt: skip


def model_bytes(initializers=(), nodes=(), inputs=(), outputs=(), value_info=(), opset=17) -> bytes:
    graph = helper.make_graph(
        list(nodes), "g", list(inputs), list(outputs), list(initializers), value_info=list(value_info)
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model.SerializeToString()


@st.composite
def tensors(draw):
    dtype = draw(st.sampled_from(sorted(DTYPES) + [TensorProto.BFLOAT16]))
    small = MAX_FLOAT_VALUES if dtype in onnx_proto.FLOAT_TYPES else MAX_INT_VALUES
    limit = draw(st.sampled_from([3, small, small + 1, 2 * small]))
    dims = draw(st.lists(st.integers(0, limit), max_size=3).filter(lambda d: math.prod(d) <= 2 * small))
    n = math.prod(dims)
    if dtype == TensorProto.BOOL:
        vals = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    elif dtype in onnx_proto.FLOAT_TYPES:
        width = 16 if dtype in (TensorProto.FLOAT16, TensorProto.BFLOAT16) else 32
        vals = draw(
            st.lists(st.floats(width=width, allow_nan=False, allow_infinity=False), min_size=n, max_size=n)
        )
    else:
        info = np.iinfo(DTYPES[dtype])
        vals = draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n))
    raw = draw(st.booleans()) and dtype != TensorProto.BFLOAT16
    if raw:
        return numpy_helper.from_array(np.array(vals, dtype=DTYPES[dtype]).reshape(dims), name="t")
    return helper.make_tensor("t", dtype, dims, vals)


@settings(max_examples=150, **SETTINGS)
@given(t=tensors())
def test_tensor_decoding_matches_numpy_helper(t):
    """Raw and typed storage of every decodable type, small and just too big to decode, as
    an initializer and as a Constant's value."""
    node = helper.make_node("Constant", [], ["c"], value=t)
    model = parse_model(model_bytes([t], [node]), "t")
    assert_tensor(model.graph.initializers["t"], t, "initializer")
    assert_tensor(model.graph.nodes[0].attrs["value"], t, "Constant value")


def test_every_attribute_type():
    t = helper.make_tensor("k", TensorProto.INT64, [3], [1, -2, 3])
    body = helper.make_graph([helper.make_node("Relu", ["a"], ["b"])], "body", [], [])
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sv", TensorProto.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("si", TensorProto.INT64, [2], [0, 3]),
        [4],
    )
    node = helper.make_node(
        "Custom",
        ["x", "", "y"],
        ["z"],
        name="n\u00e9",
        domain="my.domain",
        f=0.1,
        i=-(2**62),
        s="caf\u00e9",
        bad=b"\xff\xfe ok",
        t=t,
        g=body,
        floats=[1.5, -0.25],
        ints=[-1, 0, 2**40],
        strings=[b"a", b"\xff"],
        tensors=[t, t],
        graphs=[body, body],
        sp=sparse,
        tp=helper.make_tensor_type_proto(TensorProto.FLOAT, [2, "n"]),
    )
    node.attribute.append(helper.make_attribute("empty_ints", [], attr_type=onnx.AttributeProto.INTS))
    data = model_bytes(nodes=[node])
    model = parse_model(data, "attrs")
    [mine] = model.graph.nodes
    [ref] = onnx.load_from_string(data).graph.node
    assert list(mine.attrs) == [a.name for a in ref.attribute]
    for a in ref.attribute:
        assert_attr(mine.attrs[a.name], a, a.name)
    assert mine.attrs["bad"] == "\ufffd\ufffd ok"
    assert mine.inputs == ["x", "", "y"] and mine.domain == "my.domain"
    assert mine.attrs["g"].kind == "graph" and mine.attrs["g"].nbytes > 0


def test_attribute_without_type_field():
    """IR version 1 files had no AttributeProto.type: the value's field says it."""
    node = helper.make_node("Op", [], ["y"], alpha=0.5, axes=[1, 2], mode="x")
    for a in node.attribute:
        a.ClearField("type")
    [mine] = parse_model(model_bytes(nodes=[node]), "x").graph.nodes
    assert mine.attrs == {"alpha": 0.5, "axes": [1, 2], "mode": "x"}


def test_value_infos_of_every_kind():
    infos = [
        helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, "n", None, 7]),
        helper.make_tensor_value_info("b", TensorProto.INT64, None),  # unknown rank
        helper.make_tensor_value_info("c", TensorProto.FLOAT16, []),  # a scalar
        helper.make_value_info("d", helper.make_sequence_type_proto(helper.make_tensor_type_proto(1, [2]))),
        helper.make_sparse_tensor_value_info("e", TensorProto.FLOAT, [3, 4]),
    ]
    neg = helper.make_tensor_value_info("f", TensorProto.FLOAT, [2, 3])
    neg.type.tensor_type.shape.dim[1].dim_value = -1  # old converters' "unknown"
    infos.append(neg)
    data = model_bytes(inputs=infos, outputs=infos[:1], value_info=infos[1:])
    model = parse_model(data, "vi")
    assert_matches_onnx_bytes(model, data)
    assert model.graph.inputs[0].shape == (1, "n", None, 7)
    assert model.graph.inputs[1].shape is None and model.graph.inputs[2].shape == ()
    assert model.graph.inputs[3] == ValueInfo("d", 0, None)
    assert model.graph.inputs[5].shape == (2, None)


def assert_matches_onnx_bytes(model: Model, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.onnx")
        with open(path, "wb") as f:
            f.write(data)
        assert_matches_onnx(model, path)


def test_sparse_initializer_and_old_style_inputs():
    """Initializers listed as graph inputs (IR < 4) and a sparse initializer."""
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    sparse = helper.make_sparse_tensor(
        helper.make_tensor("sw", TensorProto.FLOAT, [2], [1.0, 2.0]),
        helper.make_tensor("", TensorProto.INT64, [2], [0, 5]),
        [3, 4],
    )
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"]), helper.make_node("Add", ["y", "sw"], ["z"])],
        "g",
        [helper.make_tensor_value_info("x", 1, [2, 4]), helper.make_tensor_value_info("w", 1, [4, 3])],
        [helper.make_tensor_value_info("z", 1, [2, 3])],
        [w],
        sparse_initializer=[sparse],
    )
    model = parse_model(helper.make_model(graph).SerializeToString(), "sp")
    assert [v.name for v in model.graph.data_inputs] == ["x"]
    assert model.graph.initializers["sw"] == Tensor("sw", (3, 4), TensorProto.FLOAT, None, False)
    assert [n.op_type for n in dataflow_order(model.graph)] == ["MatMul", "Add"]


def test_repeated_message_fields_merge_as_protobuf_does():
    """Two ModelProto.graph fields are one graph (protobuf merges them): onnx.load agrees."""
    a = model_bytes(
        nodes=[helper.make_node("Relu", ["x"], ["y"])], inputs=[helper.make_tensor_value_info("x", 1, [2])]
    )
    b = model_bytes(
        nodes=[helper.make_node("Neg", ["y"], ["z"])], outputs=[helper.make_tensor_value_info("z", 1, [2])]
    )
    data = a + b
    model = parse_model(data, "merged")
    assert [n.op_type for n in model.graph.nodes] == ["Relu", "Neg"]
    assert_matches_onnx_bytes(model, data)


# -- data flow -----------------------------------------------------------------------------------
def graph_of(nodes, inputs=("x",), outputs=("y",), initializers=()):
    data = model_bytes(
        initializers=[numpy_helper.from_array(np.zeros(2, np.float32), n) for n in initializers],
        nodes=nodes,
        inputs=[helper.make_tensor_value_info(n, 1, [2]) for n in inputs],
        outputs=[helper.make_tensor_value_info(n, 1, [2]) for n in outputs],
    )
    return parse_model(data, "g.onnx").graph


def test_dataflow_order_sorts_out_of_order_files():
    g = graph_of([
        helper.make_node("Relu", ["a"], ["y"], name="last"),
        helper.make_node("Add", ["x", "w"], ["a"], name="first"),
    ], initializers=["w"])  # fmt: skip
    assert [n.name for n in dataflow_order(g)] == ["first", "last"]


def test_cyclic_graph_is_an_error_naming_the_cycle():
    g = graph_of([
        helper.make_node("Relu", ["x"], ["a"], name="start"),
        helper.make_node("Add", ["a", "c"], ["b"], name="add"),
        helper.make_node("Neg", ["b"], ["c"], name="neg"),
        helper.make_node("Relu", ["c"], ["y"], name="end"),
    ])  # fmt: skip
    with pytest.raises(SpecError) as e:
        dataflow_order(g, "g.onnx")
    msg = str(e.value)
    assert msg.startswith("g.onnx: the graph has a cycle: ") and "\n" not in msg
    assert "'add' (Add)" in msg and "'neg' (Neg)" in msg and "start" not in msg


def test_undefined_tensor_is_an_error_naming_node_and_tensor():
    g = graph_of([helper.make_node("Add", ["x", "ghost"], ["y"], name="add1")])
    with pytest.raises(SpecError, match=r"^g\.onnx: node 'add1' \(Add\) reads 'ghost', which no node"):
        dataflow_order(g, "g.onnx")


def test_tensor_defined_twice_and_missing_output():
    g = graph_of(
        [helper.make_node("Relu", ["x"], ["y"], name="a"), helper.make_node("Neg", ["x"], ["y"], name="b")]
    )
    with pytest.raises(SpecError, match=r"tensor 'y' is produced twice: by node 'a' .* and by node 'b'"):
        dataflow_order(g)
    g = graph_of([helper.make_node("Relu", ["x"], ["x"], name="a")], outputs=())
    with pytest.raises(SpecError, match="writes 'x', which is already an initializer or graph input"):
        dataflow_order(g)
    g = graph_of([helper.make_node("Relu", ["x"], ["z"])], outputs=("y",))
    with pytest.raises(SpecError, match="graph output 'y' is not produced by any node"):
        dataflow_order(g)


# -- hostile files -------------------------------------------------------------------------------
def varint(n: int) -> bytes:
    out = bytearray()
    n &= (1 << 64) - 1
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num: int, payload: bytes | int) -> bytes:
    """One protobuf field, written by hand (independent of the code under test)."""
    if isinstance(payload, int):
        return varint(num << 3) + varint(payload)
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def small_model() -> bytes:
    module = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(), nn.Linear(64, 5)
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = export(
            os.path.join(tmp, "small.onnx"), module, torch.randn(1, 3, 4, 4), fold=False, dynamic=True
        )
        return Path(with_shapes(path)).read_bytes()


@functools.cache
def seed_model() -> bytes:
    return small_model()


def one_line(e: pytest.ExceptionInfo, where: str, *fragments: str) -> str:
    msg = str(e.value)
    assert isinstance(e.value, SpecError)
    assert "\n" not in msg and msg.startswith(f"{where}: "), msg
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    return msg


def bounded_parse(data: bytes, where: str = "h.onnx"):
    """parse_model under tracemalloc: returns (result or exception info, peak bytes)."""
    tracemalloc.start()
    try:
        try:
            result = parse_model(data, where)
        except SpecError as e:
            result = e
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_truncated_files(tmp_path):
    data = seed_model()
    for cut in sorted({1, 2, 5, 17, len(data) // 3, len(data) // 2, len(data) - 40, len(data) - 1}):
        p = tmp_path / f"cut{cut}.onnx"
        p.write_bytes(data[:cut])
        with pytest.raises(SpecError) as e:
            read_model(str(p))
        one_line(e, str(p))
        assert any(s in str(e.value) for s in ("truncated at byte", "claims", "not an ONNX model")), str(
            e.value
        )
    # a cut inside the graph, reported as what it is
    p = tmp_path / "half.onnx"
    p.write_bytes(data[: len(data) // 2])
    with pytest.raises(SpecError) as e:
        read_model(str(p))
    one_line(e, str(p), "field ModelProto.graph claims", "but only", "remain")


@pytest.mark.parametrize(
    "content, looks",
    [
        (b"name: net\ninput: [3, 224, 224]\nlayers:\n  - {type: conv, out_channels: 8}\n", "text"),
        (b'{"input": [3, 32, 32], "layers": []}', "text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10", "a PNG image"),
        (b"PK\x03\x04\x14\x00\x00\x00\x08\x00archive/data.pkl", "a ZIP archive"),
        (b"\x80\x02}q\x00(X\x05\x00\x00\x00state", "a Python pickle"),
    ],
)
def test_not_onnx_at_all(tmp_path, content, looks):
    p = tmp_path / "model.onnx"
    p.write_bytes(content)
    with pytest.raises(SpecError) as e:
        read_model(str(p))
    one_line(e, str(p), "not an ONNX model", looks)


def test_empty_missing_and_directory(tmp_path):
    p = tmp_path / "empty.onnx"
    p.write_bytes(b"")
    with pytest.raises(SpecError) as e:
        read_model(str(p))
    one_line(e, str(p), "not an ONNX model: the file is empty")
    with pytest.raises(SpecError) as e:
        read_model(str(tmp_path / "nope.onnx"))
    one_line(e, str(tmp_path / "nope.onnx"), "no such file")
    with pytest.raises(SpecError) as e:
        read_model(str(tmp_path))
    one_line(e, str(tmp_path), "is a directory")


def test_binary_that_is_no_model():
    for data in (bytes(range(256)), b"\x08\x07", b"\x08\x07\x12\x03abc"):  # the last: no graph
        with pytest.raises(SpecError) as e:
            parse_model(data, "b.onnx")
        one_line(e, "b.onnx", "not an ONNX model")


def test_file_over_the_limit_is_refused_before_reading(tmp_path):
    p = tmp_path / "huge.onnx"
    with open(p, "wb") as f:
        f.truncate(onnx_proto.MAX_FILE_BYTES + 1)  # sparse: no disk space, no data
    tracemalloc.start()
    try:
        with pytest.raises(LimitError) as e:
            read_model(str(p))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    one_line(e, str(p), "the limit is 2,147,483,648")
    assert peak < 1_000_000


def test_huge_claimed_length():
    """A length field claiming 1 GB (and 2**63) with a few bytes behind it."""
    for claim in (10**9, 2**63):
        for data in (
            field(1, 9) + varint(7 << 3 | 2) + varint(claim) + b"\x0a\x00",  # ModelProto.graph
            field(1, 9) + field(7, varint(5 << 3 | 2) + varint(claim) + b"abc"),  # an initializer
            field(1, 9) + field(7, field(5, field(1, 2) + varint(9 << 3 | 2) + varint(claim))),  # raw_data
        ):
            result, peak = bounded_parse(data)
            assert isinstance(result, SpecError), result
            assert f"claims {claim:,} bytes but only" in str(result)
            assert peak < 100_000


def tensor_model(tensor: bytes) -> bytes:
    return field(1, 9) + field(7, field(5, tensor))


def test_absurd_dims_are_recorded_never_allocated():
    dims = b"".join(field(1, 10**9) for _ in range(3))
    # no data (a weight-free file): read, dims exact
    result, peak = bounded_parse(tensor_model(dims + field(2, 1) + field(8, b"w")))
    assert isinstance(result, Model), result
    w = result.graph.initializers["w"]
    assert w.dims == (10**9,) * 3 and w.numel == 10**27 and w.values is None
    assert peak < 100_000
    # with data that cannot match: an error naming the tensor (raw_data, float_data), or,
    # for varint-packed data that is not decoded, read as dims and no values
    cases = [
        (TensorProto.FLOAT, field(9, b"\0" * 16), "raw_data holds 16 bytes but dims 1000000000x1000000000x"),
        (TensorProto.FLOAT, field(4, b"\0" * 16), "holds 4 values but dims 1000000000x1000000000x"),
        (TensorProto.INT64, field(7, b"\1" * 16), None),
    ]
    for dtype, data_field, error in cases:
        result, peak = bounded_parse(tensor_model(dims + field(2, dtype) + field(8, b"w") + data_field))
        assert peak < 100_000
        if error is None:
            assert isinstance(result, Model) and result.graph.initializers["w"].values is None
        else:
            assert isinstance(result, SpecError) and "tensor 'w'" in str(result) and error in str(result)
    # 10**9 dims claimed by a packed field: the count limit, no list of a billion
    packed = varint(1 << 3 | 2) + varint(10**9) + b"\x01" * 200
    result, peak = bounded_parse(tensor_model(packed))
    assert isinstance(result, SpecError) and "claims 1,000,000,000 bytes" in str(result)
    result, peak = bounded_parse(tensor_model(field(1, b"\x01" * 100_000)))
    assert isinstance(result, LimitError) and "more than 64 dims" in str(result)
    assert peak < 1_000_000
    # a negative dim
    result, _ = bounded_parse(tensor_model(field(1, 3) + field(1, -2) + field(8, b"n")))
    assert isinstance(result, SpecError) and "'n' has a negative dim (3x-2)" in str(result)
    # value_info with a 10**9 dim: recorded
    info = helper.make_tensor_value_info("x", TensorProto.FLOAT, [10**9, 10**9])
    model = parse_model(model_bytes(inputs=[info]), "x")
    assert model.graph.inputs[0].shape == (10**9, 10**9)


def nested(inner: bytes, levels: list[tuple[bytes, int]]) -> bytes:
    """``inner`` wrapped in length-delimited levels (innermost first), each level being
    ``lead + field(num, <the level inside>)``; built in linear time."""
    heads = []
    length = len(inner)
    for lead, num in levels:
        head = lead + varint(num << 3 | 2) + varint(length)
        heads.append(head)
        length += len(head)
    return b"".join(reversed(heads)) + inner


def test_deep_nesting_does_not_recurse():
    """Subgraphs nested 100,000 deep and a type nested as deep: kept opaque, no recursion."""
    depth = 100_000
    # TypeProto{sequence_type{elem_type{sequence_type{... tensor_type{elem_type: FLOAT}}}}}
    typ = nested(field(1, field(1, 1)), [(b"", 1), (b"", 4)] * depth)
    info = field(1, b"s") + field(2, typ)
    # If nodes whose attribute 'then_branch' holds a graph with the next If node
    attr_head = field(1, b"then_branch") + field(20, 5)
    graph = nested(b"", [(attr_head, 6), (field(4, b"If"), 5), (field(2, b"g"), 1)] * depth)
    data = field(1, 9) + field(7, graph + field(11, info))
    assert len(data) > 2_000_000
    result, peak = bounded_parse(data)
    assert isinstance(result, Model), result
    [node] = result.graph.nodes
    assert node.op_type == "If" and isinstance(node.attrs["then_branch"], Opaque)
    assert node.attrs["then_branch"].kind == "graph" and node.attrs["then_branch"].nbytes > 1_000_000
    assert result.graph.inputs == [ValueInfo("s", 0, None)]
    assert peak < 100_000


def test_work_limit_stops_a_file_of_countless_empty_records(monkeypatch):
    """Millions of 2-byte empty nodes (or unknown fields) stop at the work limit."""
    monkeypatch.setattr(onnx_proto, "MAX_UNITS", 50_000)
    for record in (b"\x0a\x00", b"\xf8\x01\x00"):  # GraphProto.node {}, an unknown varint field
        data = field(1, 9) + field(7, record * 100_000)
        result, peak = bounded_parse(data)
        assert peak < 10_000_000
        assert isinstance(result, LimitError), result
        assert "more than 50,000 work units" in str(result)


def test_work_limit_is_far_above_real_models():
    data = seed_model()
    parser = onnx_proto._Parser(data, "x")
    parser.model()
    assert parser.units * 100 < onnx_proto.MAX_UNITS


def test_corrupt_wire_format():
    cases = {
        b"\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01": "longer than 10 bytes",
        b"\x08\x01\x3b": "invalid wire type 3",  # a protobuf group
        b"\x08\x01\x00": "invalid field number 0",
        b"\x08\x01\x3a\x02\x0a": "claims 2 bytes but only 1 remain",
        b"\x08\x01\x38\x01": "field ModelProto.graph at byte 2 has wire type 0, expected 2",
    }
    for data, fragment in cases.items():
        with pytest.raises(SpecError) as e:
            parse_model(data, "c.onnx")
        one_line(e, "c.onnx", fragment)
    # inside a node: truncated varint
    node = field(4, b"Conv") + b"\x18"  # NodeProto.<field 3 varint> with no value
    with pytest.raises(SpecError) as e:
        parse_model(field(1, 9) + field(7, field(1, node)), "c.onnx")
    one_line(e, "c.onnx", "truncated at byte")


def test_duplicate_initializer_names():
    t = numpy_helper.from_array(np.zeros(3, np.float32), "w")
    with pytest.raises(SpecError) as e:
        parse_model(model_bytes([t, t]), "d.onnx")
    one_line(e, "d.onnx", "two initializers are named 'w'")


def test_names_in_messages_are_one_line():
    bad = helper.make_tensor("a\nb", TensorProto.INT64, [2], [1, 2])
    raw = bad.SerializeToString() + field(9, b"\0" * 3)  # raw_data of the wrong size
    with pytest.raises(SpecError) as e:
        parse_model(tensor_model(raw), "n.onnx")
    one_line(e, "n.onnx", "tensor 'a\\nb': raw_data holds 3 bytes but dims 2 of INT64 need 16")


# -- fuzzing -------------------------------------------------------------------------------------
HUGE = [varint(v) for v in (2**31, 10**9, 2**32 - 1, 2**63, 2**64 - 1)] + [b"\xff" * 10, b"\x80" * 10]
TIME_LIMIT_S = 10  # per example, by SIGALRM: a hang fails the test instead of stalling it


class Hang(BaseException):
    pass


def mutate(draw, data: bytearray) -> bytearray:
    """One to three edits: truncate, flip a bit, insert a huge varint, set a byte, delete or
    duplicate a run."""
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["truncate", "flip", "huge", "byte", "delete", "duplicate"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "truncate":
            del data[at:]
        elif kind == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "huge":
            data[at:at] = draw(st.sampled_from(HUGE))
        elif kind == "byte" and data:
            data[at] = draw(st.integers(0, 255))
        elif kind == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        else:
            data[at:at] = data[at : at + draw(st.integers(1, 64))]
    return data


@functools.cache
def seed_records() -> tuple[bytes, list[tuple[int, bytes]]]:
    """The seed model as (ModelProto fields but the graph, [(GraphProto field, record bytes)])."""
    proto = onnx.load_from_string(seed_model())
    graph = proto.graph
    proto.ClearField("graph")
    records = [(1, n.SerializeToString()) for n in graph.node]
    records += [(5, t.SerializeToString()) for t in graph.initializer]
    for num, infos in ((11, graph.input), (12, graph.output), (13, graph.value_info)):
        records += [(num, v.SerializeToString()) for v in infos]
    return proto.SerializeToString(), records


@st.composite
def mutated(draw) -> bytes:
    """The whole file mutated, or (to reach the inner messages) one node, initializer or value
    info mutated and the file put together around it with the right lengths."""
    if draw(st.booleans()):
        return bytes(mutate(draw, bytearray(seed_model())))
    head, records = seed_records()
    k = draw(st.integers(0, len(records) - 1))
    parts = [
        field(num, bytes(mutate(draw, bytearray(rec))) if i == k else rec)
        for i, (num, rec) in enumerate(records)
    ]
    return head + field(7, b"".join(parts))


@settings(max_examples=400, **SETTINGS)
@given(data=mutated())
def test_mutated_models_return_or_raise_spec_error(data):
    def on_alarm(signum, frame):
        raise Hang(f"no answer within {TIME_LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TIME_LIMIT_S)
    try:
        result, peak = bounded_parse(data)
        if isinstance(result, Model):
            dataflow_order_or_error(result.graph)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert isinstance(result, (Model, SpecError)), result
    if isinstance(result, SpecError):
        assert "\n" not in str(result) and str(result).startswith("h.onnx: ")
    # memory: a small multiple of the input, never anything a claimed length asked for
    assert peak < 200 * len(data) + 200_000, f"{peak:,} bytes for {len(data):,}"


def dataflow_order_or_error(graph) -> None:
    try:
        order = dataflow_order(graph, "h.onnx")
    except OnnxError as e:
        assert "\n" not in str(e)
    else:
        assert sorted(map(id, order)) == sorted(map(id, graph.nodes))
        assert all(isinstance(n, Node) for n in order)
