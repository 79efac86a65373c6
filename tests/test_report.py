"""Network reports (issue 3): the JSON schema, formats that agree, receptive fields, options."""

import csv
import io
import json
import os
import re

import pytest

from convcalc import network, spec

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

EXAMPLE = os.path.join(ROOT, "layers.example.yaml")

VGG16_FEATURES = """
name: vgg16-features
input: [3, 224, 224]
x-conv: &c {type: conv, kernel: 3, padding: 1}
layers:
""" + "".join(
    "  - {type: pool, mode: max, kernel: 2, stride: 2}\n"
    if c == "M"
    else f"  - {{<<: *c, out_channels: {c}}}\n  - {{type: activation, fn: relu}}\n"
    for c in [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
)

SMALL = """
name: small
input: [3, 32, 32]
layers:
  - {type: conv, out_channels: 8, kernel: 3, padding: 1}
  - type: residual
    name: block
    body:
      - {type: conv, out_channels: 8, kernel: 3, padding: 1, bias: false}
      - {type: batchnorm}
  - type: concat
    branches:
      - [{type: pointwise, out_channels: 4}]
      - []
  - {type: repeat, times: 2, layers: [{type: separable, out_channels: 12, kernel: 3, padding: 1}]}
  - {type: global_pool}
  - {type: linear, out_features: 10}
"""


def test_vgg16_receptive_field_is_212():
    report = network.walk(spec.parse_text(VGG16_FEATURES))
    assert sum(1 for r in report.rows if r.type == "conv") == 13
    assert sum(1 for r in report.rows if r.type == "pool") == 5
    assert report.rows[-1].receptive_field == (212, 212)
    assert report.output_shape == (512, 7, 7)


def test_json_schema_of_report(cli, spec_file):
    path = spec_file(SMALL)
    d = json.loads(cli("report", path, "-f", "json").out)
    assert {"name", "input_shape", "output_shape", "layers", "totals"} <= d.keys()
    assert d["name"] == "small" and d["input_shape"] == [3, 32, 32] and d["output_shape"] == [10]
    keys = {
        "name",
        "type",
        "input_shape",
        "output_shape",
        "params",
        "macs",
        "flops",
        "activations",
        "receptive_field",
    }
    for layer in d["layers"]:
        assert keys <= layer.keys()
    names = [x["name"] for x in d["layers"]]
    assert names[:4] == ["conv1", "block.conv1", "block.batchnorm1", "block.add"]
    assert "concat1.branch1.pointwise1" in names and "concat1.concat" in names
    assert "repeat1.1" in names
    paths = [x["path"] for x in d["layers"]]  # where the spec wrote each layer
    assert paths[:4] == ["layers[0]", "layers[1].body[0]", "layers[1].body[1]", "layers[1].add"]
    assert "layers[2].branches[0][0]" in paths and "layers[2].concat" in paths
    assert "layers[3][1].layers[0]" in paths
    assert d["layers"][3]["inputs"] == ["block.batchnorm1", "conv1"]  # the residual add: body, shortcut
    assert d["outputs"] == {"linear1": [10]}
    assert d["layers"][1]["label"] is None
    assert d["layers"][-1]["receptive_field"] is None  # after flattening
    assert d["layers"][0]["receptive_field"] == [3, 3]
    assert {"params", "macs", "flops", "activations"} <= d["totals"].keys()


def test_rows_sum_to_totals_in_every_format(cli):
    d = json.loads(cli("report", EXAMPLE, "-f", "json").out)
    t = d["totals"]
    for key in ("params", "macs", "flops", "activations"):
        assert sum(x[key] for x in d["layers"]) == t[key]
    rows = list(csv.DictReader(io.StringIO(cli("report", EXAMPLE, "-f", "csv").out)))
    body, total = rows[:-1], rows[-1]
    assert total["name"] == "total"
    assert [r["name"] for r in body] == [x["name"] for x in d["layers"]]
    for key in ("params", "macs", "flops", "activations"):
        assert sum(int(r[key]) for r in body) == int(total[key]) == t[key]
    md = cli("report", EXAMPLE, "-f", "markdown").out
    table = md[md.index("| layer |") :].split("\n\n")[0].splitlines()
    cells = [
        [c.strip().strip("*").replace(",", "") for c in line.strip("|").split("|")] for line in table[2:]
    ]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    body, total = cells[:-1], cells[-1]
    assert [r[0] for r in body] == [x["name"] for x in d["layers"]]
    for key, head in (
        ("params", "params"),
        ("macs", "MACs"),
        ("flops", "FLOPs"),
        ("activations", "activations"),
    ):
        i = header.index(head)
        assert sum(int(r[i]) for r in body) == int(total[i]) == t[key]
    table_out = cli("report", EXAMPLE).out
    assert f"{t['macs']:,}" in table_out and f"{t['params']:,}" in table_out


def test_batch_scales_everything_but_params(cli, spec_file):
    path = spec_file(SMALL)
    one = json.loads(cli("report", path, "-f", "json").out)["totals"]
    four = json.loads(cli("report", path, "-f", "json", "--batch", "4").out)["totals"]
    assert four["params"] == one["params"]
    for key in ("macs", "flops", "activations"):
        assert four[key] == 4 * one[key]


def test_width_mult_and_resolution(spec_file):
    net = spec.parse_text(SMALL)
    half = network.walk(net, width_mult=0.5)
    convs = [r for r in half.rows if r.type in ("conv", "pointwise", "separable")]
    assert [r.output_shape[0] for r in convs] == [4, 4, 2, 6, 6]
    assert half.rows[-1].output_shape == (10,)  # linear keeps out_features
    big = network.walk(net.with_resolution(64))
    assert big.input_shape == (3, 64, 64) and big.rows[0].output_shape == (8, 64, 64)
    base = network.walk(net)
    assert big.macs > base.macs and big.params == base.params


def test_cli_width_and_resolution(cli, spec_file):
    path = spec_file(SMALL)
    d = json.loads(cli("report", path, "--width-mult", "0.5", "--resolution", "16", "-f", "json").out)
    assert d["input_shape"] == [3, 16, 16] and d["width_mult"] == 0.5
    assert d["layers"][0]["output_shape"] == [4, 16, 16]


def test_several_specs_give_a_summary(cli, spec_file):
    a, b = spec_file(SMALL), spec_file(VGG16_FEATURES)
    d = json.loads(cli("report", a, b, "-f", "json").out)
    assert [r["name"] for r in d["reports"]] == ["small", "vgg16-features"]
    assert [s["macs"] for s in d["summary"]] == [r["totals"]["macs"] for r in d["reports"]]
    table = cli("report", a, b).out
    assert "Summary" in table and "vgg16-features" in table
    rows = list(csv.DictReader(io.StringIO(cli("report", a, b, "-f", "csv").out)))
    assert {r["network"] for r in rows} == {"small", "vgg16-features"}


def test_by_type_breakdown_counts_composite_parts(spec_file):
    report = network.walk(spec.parse_text(SMALL))
    bt = report.by_type()
    assert "separable" not in bt and bt["depthwise"]["layers"] == 2 and bt["pointwise"]["layers"] == 3
    assert sum(v["macs"] for v in bt.values()) == report.macs
    assert sum(v["params"] for v in bt.values()) == report.params


def test_dtype_memory(cli, spec_file):
    path = spec_file(SMALL)
    t32 = json.loads(cli("report", path, "-f", "json").out)["totals"]
    t8 = json.loads(cli("report", path, "-f", "json", "--dtype", "int8").out)["totals"]
    assert t32["weight_bytes"] == 4 * t32["params"] and t8["weight_bytes"] == t8["params"]
    assert t32["memory"] == t32["weight_bytes"] + t32["peak_activation_bytes"]
    assert t32["activation_bytes"] == 4 * t32["activations"]


def test_large_tables_are_summarised(cli, spec_file):
    layers = "".join("  - {type: conv, out_channels: 4, kernel: 3, padding: 1}\n" for _ in range(300))
    path = spec_file("input: [4, 8, 8]\nlayers:\n" + layers)
    out = cli("report", path).out
    assert "with the most MACs" in out
    assert len(out.splitlines()) < 120
    top = cli("report", path, "--top", "5").out
    assert "the 5 of 300 layers" in top
    nested = (
        "input: [4, 8, 8]\nlayers:\n  - type: repeat\n    times: 200\n    layers:\n"
        "      - {type: conv, out_channels: 4, kernel: 3, padding: 1}\n      - {type: batchnorm}\n"
    )
    out = cli("report", spec_file(nested), "--depth", "0").out
    assert "repeat, 400 layers" in out


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        (
            "input: [3, 8, 8]\nlayers:\n  - {type: conv, out_channels: 4, kernel: 3, strid: 2}\n",
            3,
            "layers[0]: unknown key 'strid' for type conv (did you mean 'stride'?)",
        ),
        ("input: [3, 8, 8]\nlayers:\n  - {type: cnov, out_channels: 4}\n", 3, "did you mean 'conv'?"),
        (
            "input: [3, 8, 8]\nlayers:\n  - type: conv\n    out_channels: eight\n    kernel: 3\n",
            4,
            "out_channels: must be an integer, got a string 'eight'",
        ),
        (
            "input: [3, 8, 8]\nlayers:\n  - type: conv\n    out_channels: 4\n    kernel: 3\n    groups: 2\n",
            6,
            "groups 2 must divide input channels 3",
        ),
        (
            "input: [3, 8, 8]\nlayers:\n  - type: residual\n    body:\n      - {type: conv, out_channels: 4, kernel: 1}\n",
            3,
            "residual at layers[0]: body gives [4, 8, 8], shortcut gives [3, 8, 8]",
        ),
        ("input: [3, 8, 8]\nlayrs: []\n", 2, "unknown key 'layrs' for a spec (did you mean 'layers'?)"),
    ],
)
def test_spec_errors_name_file_and_line(cli, spec_file, text, line, fragment):
    path = spec_file(text)
    r = cli("report", path)
    assert r.code == 2
    assert r.err.startswith(f"convcalc: error: {path}:{line}: ")
    assert fragment in r.err and r.err.count("\n") == 1


def test_anchors_merge_keys_and_spliced_lists(spec_file):
    text = """
input: [3, 16, 16]
x-bn-relu: &bnr [{type: batchnorm}, {type: activation}]
x-conv: &c {type: conv, kernel: 3, padding: 1, bias: false}
layers:
  - {<<: *c, out_channels: 8}
  - *bnr
  - {<<: *c, out_channels: 16, stride: 2}
  - *bnr
"""
    report = network.walk(spec.parse_text(text))
    assert [r.name for r in report.rows] == ["conv1", "batchnorm1", "relu1", "conv2", "batchnorm2", "relu2"]
    assert [r.path for r in report.rows] == [
        "layers[0]",
        "layers[1][0]",
        "layers[1][1]",
        "layers[2]",
        "layers[3][0]",
        "layers[3][1]",
    ]
    assert report.output_shape == (16, 8, 8)


def test_schema_validates_example_specs(cli):
    import jsonschema

    schema = json.loads(cli("schema").out)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    import yaml

    examples = [EXAMPLE]
    zoo_dir = os.path.join(ROOT, "convcalc", "zoo")
    examples += [os.path.join(zoo_dir, f) for f in sorted(os.listdir(zoo_dir)) if f.endswith(".yaml")]
    for path in examples:
        with open(path) as fh:
            doc = yaml.safe_load(fh)
        errors = list(validator.iter_errors(doc))
        assert not errors, f"{path}: {errors[0].message}"
    for text in (SMALL, VGG16_FEATURES):
        assert not list(validator.iter_errors(yaml.safe_load(text)))
    bad = yaml.safe_load(
        "input: [3, 8, 8]\nlayers:\n  - {type: conv, out_channels: 4, kernel: 3, strid: 2}\n"
    )
    assert list(validator.iter_errors(bad))


def test_types_command_lists_every_type(cli):
    from convcalc.layers import REGISTRY

    out = cli("types").out
    for t in list(REGISTRY) + ["residual", "concat", "repeat", "sequential"]:
        assert re.search(rf"\b{t}\b", out)


def test_keep_channels_exempts_output_layers_from_width_mult():
    text = """
input: [3, 16, 16]
layers:
  - {type: conv, out_channels: 32, kernel: 3, padding: 1}
  - {type: conv, out_channels: 10, kernel: 1, keep_channels: true}
"""
    report = network.walk(spec.parse_text(text), width_mult=0.5)
    assert [r.output_shape[0] for r in report.rows] == [16, 10]
    assert report.rows[1].params == 10 * 16 + 10
