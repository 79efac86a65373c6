"""The graph core (issue 9): graph-form specs (name:, from:, inputs:, outputs:), merges,
name resolution, the errors a graph can have, liveness, and torch twins of random DAGs."""

from __future__ import annotations

import json
import re
from math import prod

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch_twin import network_module, torch_counts, torch_output_shapes

from convcalc.errors import ConvcalcError, SpecError
from convcalc.graph import Graph, GraphInput, Node
from convcalc.layers import REGISTRY
from convcalc.network import Network, peak_elements, walk
from convcalc.spec import parse_text

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def layer(t: str, **kw):
    return REGISTRY[t].build(kw)


def spec(layers, shape=(4, 16, 16), **top) -> str:
    return yaml.safe_dump({"input": list(shape), **top, "layers": layers}, sort_keys=False)


def assert_matches_torch(text: str) -> None:
    net = parse_text(text)
    report = walk(net)
    module = network_module(net)
    out, params, macs = torch_counts(module, net.input_shape)
    assert report.params == params and report.macs == macs
    assert list(report.outputs.values()) == torch_output_shapes(module, net.input_shape)
    assert tuple(report.output_shape) == out


# -- graph form ---------------------------------------------------------------------------------
SE_NET = spec([
    {"type": "conv", "name": "x", "out_channels": 8, "kernel": 3, "padding": 1},
    {"type": "global_pool"},
    {"type": "pointwise", "out_channels": 2},
    {"type": "activation", "fn": "relu"},
    {"type": "pointwise", "out_channels": 8},
    {"type": "activation", "fn": "sigmoid", "name": "gate"},
    {"type": "mul", "inputs": ["x", "gate"]},
])  # fmt: skip


def test_squeeze_excitation_gate_in_graph_form():
    report = walk(parse_text(SE_NET))
    mul = report.rows[-1]
    assert mul.type == "mul" and report.inputs_of(mul) == ["x", "gate"]
    assert mul.cost.input_shapes == ((8, 16, 16), (8, 1, 1))
    assert mul.output_shape == (8, 16, 16) and mul.flops == 8 * 16 * 16
    assert_matches_torch(SE_NET)


def test_from_reads_an_earlier_tensor_and_outputs_lists_several():
    text = spec(
        [
            {"type": "conv", "name": "c1", "out_channels": 8, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "conv", "name": "c2", "out_channels": 16, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "pointwise", "name": "p2", "out_channels": 4},
            {"type": "pointwise", "name": "p1", "from": "c1", "out_channels": 4},
            {"type": "upsample", "name": "up", "from": "p2", "scale": 2},
            {"type": "add", "name": "merged", "inputs": ["p1", "up"]},
        ],
        outputs=["merged", "p2"],
    )
    report = walk(parse_text(text))
    assert report.outputs == {"merged": (4, 8, 8), "p2": (4, 4, 4)}
    assert report.output_shape == (4, 8, 8)
    by_name = {r.name: r for r in report.rows}
    assert report.inputs_of(by_name["p1"]) == ["c1"]
    assert report.inputs_of(by_name["up"]) == ["p2"]
    assert_matches_torch(text)


def test_json_lists_every_output_and_each_layers_inputs(cli, spec_file):
    text = spec(
        [
            {"type": "conv", "name": "a", "out_channels": 8, "kernel": 1},
            {"type": "conv", "name": "b", "from": "input", "out_channels": 8, "kernel": 3, "padding": 1},
            {"type": "concat", "name": "cat", "inputs": ["a", "b", "input"]},
        ],
        outputs=["cat", "a"],
    )
    d = json.loads(cli("report", spec_file(text), "-f", "json").out)
    assert d["outputs"] == {"cat": [20, 16, 16], "a": [8, 16, 16]}
    assert d["output_shape"] == [20, 16, 16]
    assert [x["inputs"] for x in d["layers"]] == [["input"], ["input"], ["a", "b", "input"]]


def test_concat_along_a_spatial_axis():
    text = spec(
        [
            {"type": "identity", "name": "a"},
            {"type": "pool", "name": "b", "from": "input", "kernel": 2},
            {"type": "pool", "name": "c", "from": "input", "kernel": [1, 2]},
            {"type": "concat", "inputs": ["b", "c"], "axis": 1},
            {"type": "flatten", "name": "f"},
            {"type": "flatten", "from": "a"},
            {"type": "identity", "name": "g"},
        ],
        outputs=["f", "g"],
    )
    report = walk(parse_text(text))
    assert report.outputs["f"] == (4 * 24 * 8,)
    assert_matches_torch(text)


def test_broadcasting_and_its_errors():
    assert layer("add").cost((8, 4, 4), (1, 4, 4), (8, 1, 1)).output_shape == (8, 4, 4)
    assert layer("mul").cost((8, 4, 4), (4,)).output_shape == (8, 4, 4)  # right-aligned
    with pytest.raises(ConvcalcError, match=r"shapes \[8, 4, 4\] and \[3, 4, 4\] do not broadcast"):
        layer("add").cost((8, 4, 4), (3, 4, 4))
    with pytest.raises(
        ConvcalcError, match=r"differ in dim 2 \(every dim but the concatenated one must agree\)"
    ):
        layer("concat").cost((8, 4, 4), (8, 4, 5))


# -- name resolution ------------------------------------------------------------------------------
def test_a_name_means_the_most_recent_earlier_layer_and_inner_names_stay_inside():
    text = spec([
        {"type": "conv", "name": "x", "out_channels": 8, "kernel": 1},
        {"type": "sequential", "name": "blk", "layers": [
            {"type": "conv", "name": "x", "out_channels": 6, "kernel": 1},
            {"type": "conv", "name": "y", "from": "x", "out_channels": 5, "kernel": 1},  # the inner x
        ]},
        {"type": "conv", "name": "z", "from": "x", "out_channels": 3, "kernel": 1},  # the outer x: 8 channels
        {"type": "concat", "inputs": ["blk", "blk.y", "z"]},
    ])  # fmt: skip
    report = walk(parse_text(text))
    rows = {r.name: r for r in report.rows}
    assert rows["blk.y"].input_shape == (6, 16, 16)
    assert rows["z"].input_shape == (8, 16, 16)
    assert report.output_shape == (13, 16, 16)
    bad = spec([
        {"type": "sequential", "layers": [{"type": "identity", "name": "hidden"}]},
        {"type": "identity", "from": "hidden"},
    ])  # fmt: skip
    with pytest.raises(SpecError, match="no earlier layer or block is named 'hidden'"):
        walk(parse_text(bad))


def test_inside_a_repeat_the_same_copy_first_then_the_copy_before():
    # each copy adds its input to the previous copy's 'a' (DenseNet-style carry): copy 0 has no
    # earlier 'a' of its own, so it reads the one defined before the repeat.
    text = spec([
        {"type": "conv", "name": "a", "out_channels": 4, "kernel": 1},
        {"type": "repeat", "name": "rep", "times": 3, "layers": [
            {"type": "conv", "name": "c", "out_channels": 4, "kernel": 3, "padding": 1},
            {"type": "add", "name": "a", "inputs": ["c", "a"]},
        ]},
    ])  # fmt: skip
    report = walk(parse_text(text))
    adds = [r for r in report.rows if r.type == "add"]
    assert [r.name for r in adds] == ["rep.0.a", "rep.1.a", "rep.2.a"]
    assert [report.inputs_of(r) for r in adds] == [
        ["rep.0.c", "a"],
        ["rep.1.c", "rep.0.a"],
        ["rep.2.c", "rep.1.a"],
    ]
    assert_matches_torch(text)


def test_display_names():
    text = spec([
        {"type": "conv", "out_channels": 4, "kernel": 1},
        {"type": "activation", "fn": "relu6"},
        {"type": "activation", "fn": "relu"},
        {"type": "repeat", "name": "stage", "times": 2, "layers": [
            {"type": "residual", "body": [{"type": "conv", "out_channels": 4, "kernel": 1}]}]},
        {"type": "repeat", "times": 2, "layers": [
            {"type": "conv", "out_channels": 4, "kernel": 1}, {"type": "activation"}]},
        {"type": "conv", "name": "conv1", "out_channels": 4, "kernel": 1},
    ])  # fmt: skip
    names = [r.name for r in walk(parse_text(text)).rows]
    assert names == [
        "conv1", "relu6_1", "relu1",
        "stage.0.conv1", "stage.0.add", "stage.1.conv1", "stage.1.add",
        "repeat1.0.conv1", "repeat1.0.relu1", "repeat1.1.conv1", "repeat1.1.relu1",
        "conv1_2",
    ]  # fmt: skip


# -- errors ---------------------------------------------------------------------------------------
ERRORS = {  # layers, the text of the line the error must point at, the message
    "unknown": (
        [{"type": "conv", "name": "stem", "out_channels": 4, "kernel": 1}, {"type": "identity", "from": "stme"}],
        "from: stme",
        "layers[1]: from: no earlier layer or block is named 'stme' (did you mean 'stem'?)",
    ),
    "later": (
        [{"type": "identity", "from": "b"}, {"type": "identity", "name": "b"}],
        "from: b",
        "layers[0]: from: no earlier layer or block is named 'b'",
    ),
    "dangling": (
        [{"type": "conv", "name": "side", "out_channels": 4, "kernel": 1},
         {"type": "identity", "from": "input"}],
        "- type: conv",
        "layers[0]: the output of side is never used",
    ),
    "merge without inputs": ([{"type": "add"}], "- type: add", "layers[0]: add needs 'inputs: [A, B, ...]'"),
    "merge of one": ([{"type": "add", "inputs": ["input"]}], "inputs:", "layers[0]: add needs at least 2 inputs"),
    "bad inputs": ([{"type": "add", "inputs": "input"}], "inputs:", "layers[0]: inputs: must be a list"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(ERRORS))
def test_graph_errors_name_file_line_and_what(cli, spec_file, case):
    layers, at, message = ERRORS[case]
    text = spec(layers)
    line = next(i for i, x in enumerate(text.splitlines(), 1) if at in x)
    path = spec_file(text)
    r = cli("report", path)
    assert r.code == 2 and r.out == ""
    assert r.err.startswith(f"convcalc: error: {path}:{line}: {message}"), r.err
    assert r.err.count("\n") == 1


def test_unknown_output_name(cli, spec_file):
    text = spec([{"type": "identity", "name": "a"}], outputs=["a", "b"])
    line = text.splitlines().index("- b") + 1
    path = spec_file(text)
    r = cli("report", path)
    assert r.code == 2 and f"{path}:{line}: outputs: no earlier layer or block is named 'b'" in r.err, r.err


def test_anchored_list_of_branches_splices_into_several_branches():
    text = """
input: [4, 8, 8]
x-branches: &br
  - [{type: pointwise, out_channels: 2}]
  - [{type: pointwise, out_channels: 3}]
layers:
  - {type: concat, branches: [*br]}
"""
    report = walk(parse_text(text))
    assert report.output_shape == (5, 8, 8)
    assert report.inputs_of(report.rows[-1]) == ["concat1.branch1.pointwise1", "concat1.branch2.pointwise1"]


# -- liveness -------------------------------------------------------------------------------------
def test_peak_memory_of_a_unet_skip_held_across_levels():
    # enc1 (8x16x16 = 2048) is read again by the last concat: it stays alive through the bottom.
    text = spec(
        [
            {"type": "conv", "name": "enc1", "out_channels": 8, "kernel": 3, "padding": 1},  # 2048
            {"type": "pool", "kernel": 2},  # 8x8x8 = 512
            {"type": "conv", "name": "enc2", "out_channels": 16, "kernel": 3, "padding": 1},  # 1024
            {"type": "pool", "kernel": 2},  # 16x4x4 = 256
            {"type": "conv", "out_channels": 32, "kernel": 3, "padding": 1},  # 512
            {"type": "upsample", "name": "up1", "scale": 2},  # 32x8x8 = 2048
            {"type": "concat", "inputs": ["up1", "enc2"]},  # 48x8x8 = 3072
            {"type": "upsample", "name": "up2", "scale": 2},  # 48x16x16 = 12288
            {"type": "concat", "inputs": ["up2", "enc1"]},  # 56x16x16 = 14336
        ],
        shape=(3, 16, 16),
    )
    report = walk(parse_text(text))
    sizes = [prod(r.output_shape) for r in report.rows]
    assert sizes == [2048, 512, 1024, 256, 512, 2048, 3072, 12288, 14336]
    x = 3 * 16 * 16
    live_while = [
        x + 2048,  # enc1 from the input
        2048 + 512,  # pool: enc1 (held for the end) is its input
        2048 + 512 + 1024,
        2048 + 1024 + 256,  # enc2 is held for the first concat
        2048 + 1024 + 256 + 512,
        2048 + 1024 + 512 + 2048,
        2048 + 1024 + 2048 + 3072,
        2048 + 3072 + 12288,
        2048 + 12288 + 14336,
    ]
    assert report.peak_elements == max(live_while) == 28672


def test_peak_of_a_hand_built_graph_with_two_inputs():
    g = Graph("two", [GraphInput("a", (4, 8, 8)), GraphInput("b", (4, 8, 8))])
    g.nodes.append(Node("sum", layer("add"), (-1, -2)))
    g.nodes.append(Node("out", layer("conv", out_channels=2, kernel=1), (0,)))
    g.outputs.append(("out", 1))
    g.validate()
    assert peak_elements(g, [(4, 8, 8), (2, 8, 8)]) == 3 * 256
    report = walk(Network("two", (4, 8, 8), []), graph=g)
    assert report.outputs == {"out": (2, 8, 8)} and report.params == 10


# -- random DAGs against torch -------------------------------------------------------------------
def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def new_layer(draw, c: int, h: int, w: int, tensors: dict) -> tuple[dict, tuple]:
    """One of issue 9's layer types on a (c, h, w) tensor, and its output shape."""
    kind = draw(st.sampled_from([
        "layernorm", "groupnorm", "instancenorm", "scale", "squeeze_excite", "attention",
        "resize", "resize_like", "pad", "crop", "pixel_shuffle", "pixel_unshuffle",
    ]))  # fmt: skip
    same = (c, h, w)
    if kind == "layernorm":
        return {"type": kind, "affine": draw(st.booleans())}, same
    groups = [g for g in _divisors(c) if (c // g) * h * w > 1]  # torch refuses a group of one element
    if kind == "groupnorm" and groups:
        return {"type": kind, "groups": draw(st.sampled_from(groups))}, same
    if kind == "instancenorm" and h * w > 1:
        return {"type": kind, "affine": draw(st.booleans())}, same
    if kind == "scale":
        return {"type": kind, "bias": draw(st.booleans())}, same
    if kind == "squeeze_excite":
        gate = draw(st.sampled_from(["sigmoid", "hardsigmoid"]))
        return {"type": kind, "squeeze_channels": draw(st.integers(1, max(1, c))), "gate": gate}, same
    if kind == "attention":
        return {"type": kind, "heads": draw(st.sampled_from(_divisors(c))), "bias": draw(st.booleans())}, same
    if kind == "resize":
        mode = draw(st.sampled_from(["nearest", "bilinear", "bicubic"]))
        f = draw(st.sampled_from([2, 1.5, 0.5]))
        out = (c, int(h * f), int(w * f))
        if min(out[1:]) >= 1:
            return {"type": kind, "scale": f, "mode": mode}, out
    if kind == "resize_like":
        other = draw(st.sampled_from(sorted(tensors)))
        if len(tensors[other]) == 3:
            return {"type": "resize", "like": other, "mode": "nearest"}, (c, *tensors[other][1:])
    if kind == "pad":
        b, e = draw(st.integers(0, 2)), draw(st.integers(0, 2))
        mode = draw(st.sampled_from(["zeros", "replicate"]))
        return {"type": kind, "begin": b, "end": e, "mode": mode}, (c, h + b + e, w + b + e)
    if kind == "crop" and min(h, w) >= 3:
        return {"type": kind, "begin": 1, "end": 1}, (c, h - 2, w - 2)
    if kind == "pixel_shuffle" and c % 4 == 0:
        return {"type": kind, "factor": 2}, (c // 4, 2 * h, 2 * w)
    if kind == "pixel_unshuffle" and h % 2 == 0 and w % 2 == 0:
        return {"type": kind, "factor": 2}, (4 * c, h // 2, w // 2)
    return {"type": "layernorm"}, same


@st.composite
def dags(draw):
    """A random DAG spec: convs, pools and the layer types of issue 9 on a growing pool of named
    tensors, merges (add with broadcast gates, mul gates, concat) of earlier tensors, several
    outputs."""
    c0 = draw(st.integers(1, 4))
    size = draw(st.integers(6, 12))
    tensors = {"input": (c0, size, size)}
    layers = []
    for n in range(1, draw(st.integers(1, 7)) + 1):
        name = f"t{n}"
        kind = draw(st.sampled_from(["conv", "conv", "pool", "gate", "add", "concat", "act", "new", "new"]))
        src = draw(st.sampled_from(sorted(tensors)))
        c, h, w = tensors[src]
        if kind == "conv":
            out = draw(st.integers(1, 6))
            layers.append({"type": "conv", "name": name, "from": src, "out_channels": out, "kernel": 3, "padding": 1,
                           "bias": draw(st.booleans())})  # fmt: skip
            tensors[name] = (out, h, w)
        elif kind == "pool" and h >= 2 and w >= 2:
            layers.append({"type": "pool", "name": name, "from": src, "kernel": 2})
            tensors[name] = (c, h // 2, w // 2)
        elif kind == "gate":
            layers.append({"type": "global_pool", "name": f"{name}g", "from": src})
            layers.append({"type": "pointwise", "name": f"{name}f", "from": f"{name}g", "out_channels": c})
            layers.append({"type": "activation", "name": f"{name}s", "fn": "sigmoid", "from": f"{name}f"})
            layers.append({"type": "mul", "name": name, "inputs": [src, f"{name}s"]})
            tensors[f"{name}g"] = tensors[f"{name}f"] = tensors[f"{name}s"] = (c, 1, 1)
            tensors[name] = (c, h, w)
        elif kind in ("add", "concat"):
            same = sorted(
                k for k, v in tensors.items() if v[1:] == (h, w) and (kind == "concat" or v[0] == c)
            )
            others = draw(st.lists(st.sampled_from(same), min_size=1, max_size=3))
            ins = [src, *others]
            layers.append({"type": kind, "name": name, "inputs": ins})
            tensors[name] = (c if kind == "add" else sum(tensors[i][0] for i in ins), h, w)
        elif kind == "new":  # the layer types of modern convnets
            layer, shape = draw(new_layer(c, h, w, tensors))
            layers.append({"name": name, "from": src, **layer})
            tensors[name] = shape
        else:
            layers.append({"type": "activation", "name": name, "from": src, "fn": "relu"})
            tensors[name] = (c, h, w)
    if not layers:
        layers.append({"type": "identity", "name": "t0"})
    # every tensor nobody reads becomes an output (a graph may not drop a branch)
    read = {i for x in layers for i in x.get("inputs", [x.get("from")])}
    outputs = [x["name"] for x in layers if x["name"] not in read]
    return spec(layers, (c0, size, size), outputs=outputs)


@settings(max_examples=30, **SETTINGS)
@given(text=dags())
def test_random_dags_match_torch(text):
    assert_matches_torch(text)


def test_tree_blocks_compile_to_the_same_graph_as_their_graph_form():
    tree = spec([
        {"type": "conv", "out_channels": 4, "kernel": 1},
        {"type": "residual", "body": [{"type": "conv", "out_channels": 4, "kernel": 3, "padding": 1}]},
        {"type": "concat", "branches": [[{"type": "pointwise", "out_channels": 2}], []]},
    ])  # fmt: skip
    graph = spec([
        {"type": "conv", "name": "x", "out_channels": 4, "kernel": 1},
        {"type": "conv", "name": "b", "out_channels": 4, "kernel": 3, "padding": 1},
        {"type": "add", "name": "r", "inputs": ["b", "x"]},
        {"type": "pointwise", "name": "p", "out_channels": 2},
        {"type": "concat", "inputs": ["p", "r"]},
    ])  # fmt: skip
    a, b = walk(parse_text(tree)), walk(parse_text(graph))
    assert a.totals() == b.totals() and a.peak_elements == b.peak_elements
    assert [r.receptive_field for r in a.rows] == [r.receptive_field for r in b.rows]


def test_resolution_per_spatial_dim(cli, spec_file):
    path = spec_file(spec([{"type": "conv", "out_channels": 2, "kernel": 3}], shape=(1, 8, 8, 8)))
    d = json.loads(cli("report", path, "--resolution", "4x10x12", "-f", "json").out)
    assert d["input_shape"] == [1, 4, 10, 12] and d["output_shape"] == [2, 2, 8, 10]
    r = cli("report", path, "--resolution", "10x12")
    assert r.code == 2 and re.search(r"--resolution 10x12: the input has 3 spatial dims", r.err)
    r = cli("report", path, "--resolution", "6,4x5x6", "-f", "json")
    assert r.code == 0
    assert [x["input_shape"] for x in json.loads(r.out)["reports"]] == [[1, 6, 6, 6], [1, 4, 5, 6]]


def test_graph_form_specs_follow_the_json_schema():
    import jsonschema

    from convcalc.schema import spec_schema

    schema = spec_schema()
    jsonschema.validate(yaml.safe_load(SE_NET), schema)
    no_inputs = yaml.safe_load(SE_NET)
    no_inputs["layers"][-1].pop("inputs")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(no_inputs, schema)
    tree = {"input": [3, 8, 8], "layers": [{"type": "concat", "branches": [[], []]}], "outputs": ["x"]}
    jsonschema.validate(tree, schema)


def test_table_title_lists_every_output(cli, spec_file):
    text = spec(
        [
            {"type": "pool", "name": "a", "kernel": 2},
            {"type": "pool", "name": "b", "kernel": 4, "from": "input"},
        ],
        outputs=["a", "b"],
    )
    r = cli("report", spec_file(text))
    assert r.code == 0 and "-> a 4x8x8, b 4x4x4" in r.out.splitlines()[0]


def test_the_yaml_examples_of_docs_graphs_run():
    import os

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "graphs.md")
    with open(path, encoding="utf-8") as fh:
        blocks = re.findall(r"```yaml\n(.*?)```", fh.read(), re.S)
    assert len(blocks) == 3
    reports = [walk(parse_text(b, "docs/graphs.md")) for b in blocks]
    assert reports[0].output_shape == (64, 56, 56)
    assert reports[1].outputs == {"p1": (8, 32, 32), "p2": (8, 16, 16)}
    assert [r.name for r in reports[2].rows if r.type == "add"] == [
        "stage.0.acc",
        "stage.1.acc",
        "stage.2.acc",
    ]


def test_repeat_with_a_different_first_copy():
    # a ResNet-like stage: the first block downsamples with a projection, the others keep the shape
    text = spec([
        {"type": "repeat", "name": "stage", "times": 3,
         "first": [{"type": "residual",
                    "body": [{"type": "conv", "out_channels": 8, "kernel": 3, "stride": 2, "padding": 1}],
                    "shortcut": [{"type": "pointwise", "out_channels": 8, "stride": 2}]}],
         "layers": [{"type": "residual", "body": [{"type": "conv", "out_channels": 8, "kernel": 3, "padding": 1}]}]},
    ])  # fmt: skip
    report = walk(parse_text(text))
    assert report.output_shape == (8, 8, 8)
    names = [r.name for r in report.rows]
    assert names == ["stage.0.conv1", "stage.0.shortcut.pointwise1", "stage.0.add",
                     "stage.1.conv1", "stage.1.add", "stage.2.conv1", "stage.2.add"]  # fmt: skip
    assert report.rows[0].path == "layers[0].first[0].body[0]"
    assert report.rows[3].path == "layers[0][1].layers[0].body[0]"
    assert_matches_torch(text)


def test_receptive_field_through_a_gate_and_global_pooling_is_the_whole_input_by_gradient():
    """An SE-style gate (global pool, 1x1 conv, sigmoid, mul) makes every output pixel depend on
    every input pixel: torch's input gradient of one output pixel is non-zero everywhere, and
    convcalc says the field is the whole input (not the conv stack's 5x5, nor more than the
    input). A global pool then an upsample stays the whole input too."""
    from test_oracle_networks import make_positive

    for layers in (
        [
            {"type": "conv", "name": "x", "out_channels": 2, "kernel": 3, "padding": 1},
            {"type": "global_pool"},
            {"type": "pointwise", "out_channels": 2},
            {"type": "activation", "fn": "sigmoid", "name": "gate"},
            {"type": "mul", "inputs": ["x", "gate"]},
            {"type": "conv", "out_channels": 1, "kernel": 3, "padding": 1},
        ],
        [
            {"type": "global_pool"},
            {"type": "upsample", "scale": 20},
            {"type": "conv", "out_channels": 1, "kernel": 3},
        ],
    ):
        text = spec(layers, shape=(2, 20, 20))
        net = parse_text(text)
        assert walk(net).rows[-1].receptive_field == (20, 20)
        module = make_positive(network_module(net)).double()
        x = torch.ones((1, 2, 20, 20), dtype=torch.float64, requires_grad=True)
        y = module(x)
        y[0, :, y.shape[2] // 2, y.shape[3] // 2].sum().backward()
        assert bool((x.grad[0].abs().sum(0) > 0).all())  # every input pixel reaches it
