"""``convcalc verify`` (issue 10 item 4): a spec's numbers checked by PyTorch layer by layer, and
a spec against a real model (a live torch module, another spec).

verify must pass where convcalc and torch agree and fail, naming the layer, where they do not:
the failures here are made on purpose (a convcalc formula made wrong, a kernel changed in the
written file, a spec that drifted from its model).
"""

from __future__ import annotations

import json
import sys

import pytest
import torch  # at top level: CI must fail, not skip, without torch
import yaml
from arch_twins import ARCHITECTURES

from convcalc.errors import ConvcalcError
from convcalc.layers import REGISTRY
from convcalc.layers.base import Cost
from convcalc.network import walk
from convcalc.spec import load, parse_text
from convcalc.verify import against, bn_folding, verify_report

SMALL = {
    "input": [3, 16, 16],
    "layers": [
        {"type": "conv", "name": "stem", "out_channels": 8, "kernel": 3, "padding": 1, "bias": False},
        {"type": "batchnorm", "name": "bn"},
        {"type": "activation", "fn": "relu", "name": "act"},
        {
            "type": "residual",
            "name": "block",
            "body": [{"type": "conv", "out_channels": 8, "kernel": 3, "padding": 1}],
        },
        {"type": "global_pool", "name": "pool"},
        {"type": "flatten", "name": "flat"},
        {"type": "linear", "name": "fc", "out_features": 10},
    ],
}


def small(**changes) -> str:
    doc = json.loads(json.dumps(SMALL))
    for k, v in changes.items():
        doc[k] = v
    return yaml.safe_dump(doc, sort_keys=False)


@pytest.fixture
def wide(monkeypatch):
    """Tables as wide as they need: the assertions below read whole lines."""
    monkeypatch.setenv("COLUMNS", "1000")


# -- verify SPEC ----------------------------------------------------------------------------------
def test_verify_passes_in_one_line(cli, spec_file, monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    r = cli("verify", spec_file(small()))
    assert r.code == 0, r.err
    report = walk(parse_text(small()))
    assert r.out == (
        f"convcalc verify: spec0: all {len(report.rows)} layers agree with PyTorch: params "
        f"{report.params:,}, MACs {report.macs:,}\n"
    )
    d = json.loads(cli("verify", spec_file(small()), "-f", "json").out)
    assert d == {
        "name": "spec1",
        "ok": True,
        "layers": len(report.rows),
        "params": report.params,
        "macs": report.macs,
        "outputs": {"fc": [10]},
        "mismatches": [],
    }


def test_verify_names_the_layer_a_wrong_formula_gets_wrong(cli, spec_file, monkeypatch):
    """A convcalc bug made on purpose: conv's params off by one, pointwise's MACs doubled."""
    conv, pointwise = REGISTRY["conv"], REGISTRY["pointwise"]
    conv_cost, pw_cost = conv.cost, pointwise.cost

    def bad_conv(self, shape):
        c = conv_cost(self, shape)
        return Cost(
            c.type, c.input_shape, c.output_shape, c.params + 1, c.macs, c.flops, c.rf, c.parts, c.extra
        )

    def bad_pointwise(self, shape):
        c = pw_cost(self, shape)
        return Cost(
            c.type, c.input_shape, c.output_shape, c.params, 2 * c.macs, c.flops, c.rf, c.parts, c.extra
        )

    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setattr(conv, "cost", bad_conv)
    monkeypatch.setattr(pointwise, "cost", bad_pointwise)
    text = small(
        layers=[
            *SMALL["layers"][:4],
            {"type": "pointwise", "name": "proj", "out_channels": 4},
            *SMALL["layers"][4:],
        ]
    )
    r = cli("verify", spec_file(text))
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0] == "convcalc verify failed: spec0: 3 of 9 layers disagree with PyTorch"
    rows = [line.split() for line in lines if line.startswith(("stem", "block", "proj"))]
    assert rows == [
        ["stem", "conv", "params", "217", "216"],
        ["block.conv1", "conv", "params", "585", "584"],
        ["proj", "pointwise", "MACs", "16,384", "8,192"],
    ]
    d = json.loads(cli("verify", spec_file(text), "-f", "json").out)
    assert d["ok"] is False
    assert d["mismatches"][0] == {
        "layer": "stem",
        "type": "conv",
        "quantity": "params",
        "convcalc": 217,
        "torch": 216,
    }


def test_verify_names_a_layer_whose_output_shape_is_wrong(monkeypatch):
    pool = REGISTRY["pool"]
    real = pool.cost

    def bad(self, shape):
        c = real(self, shape)
        out = (c.output_shape[0], *(o + 1 for o in c.output_shape[1:]))
        return Cost(c.type, c.input_shape, out, c.params, c.macs, c.flops, c.rf, c.parts, c.extra)

    monkeypatch.setattr(pool, "cost", bad)
    net = parse_text(
        small(
            layers=[
                {"type": "pool", "name": "p", "kernel": 2},
                {"type": "conv", "name": "c", "out_channels": 2, "kernel": 3},
            ]
        )
    )
    result = verify_report(walk(net), "meta")
    assert not result.ok
    # the pool's output is wrong, so the conv after it is costed on the wrong input too
    assert [(m.layer, m.quantity, m.convcalc, m.torch) for m in result.mismatches] == [
        ("p", "output shape", [3, 9, 9], [3, 8, 8]),
        ("c", "output shape", [2, 7, 7], [2, 6, 6]),
        ("c", "MACs", 2 * 3 * 9 * 7 * 7, 2 * 3 * 9 * 6 * 6),
        ("c", "network output shape", [2, 7, 7], [2, 6, 6]),
    ]


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_verify_runs_on_cpu_or_meta(device):
    result = verify_report(walk(load("zoo:unet_small")), device)
    assert result.ok, result.mismatches
    report = walk(load("zoo:unet_small"))
    assert (result.params, result.macs) == (report.params, report.macs)
    assert result.outputs == report.outputs


def test_verify_without_torch_says_how_to_install_it(cli, spec_file, monkeypatch, tmp_path):
    from onnx_export import export, fast_module
    from torch import nn

    onnx_file = str(tmp_path / "m.onnx")
    export(
        fast_module(lambda: nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU())), (3, 16, 16), onnx_file
    )
    spec = spec_file(
        yaml.safe_dump(
            {
                "input": [3, 16, 16],
                "layers": [
                    {"type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
                    {"type": "activation"},
                ],
            }
        )
    )
    for name in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch raises ImportError
    r = cli("verify", spec_file(small()))
    assert r.code == 2 and r.out == ""
    assert (
        r.err
        == "convcalc: error: convcalc verify needs PyTorch in the same environment as convcalc: pip install torch\n"
    )
    r = cli("report", "--torch", "models:net", "--input", "3x8x8")
    assert r.code == 2 and r.err.endswith(
        "needs PyTorch in the same environment as convcalc: pip install torch\n"
    )
    # what needs no torch works without it: writing the module, a spec against an ONNX file
    r = cli("export", "--torch", spec)
    assert r.code == 0 and "nn.Conv2d(3, 8, 3, padding=1)" in r.out
    r = cli("verify", spec, "--against", onnx_file)
    assert r.code == 0, r.err


def test_verify_option_errors(cli, spec_file):
    path = spec_file(small())
    for args, message in (
        (("--against", path, "--torch", "a:b"), "not both"),
        (("--input", "3x8x8"), "--input and --allow-unknown go with --against or --torch"),
        (("--torch", "nocolon"), "expected package.module:factory"),
        (("--torch", "no_such_module_xyz:f"), "cannot import 'no_such_module_xyz'"),
    ):
        r = cli("verify", path, *args)
        assert r.code == 2 and message in r.err and r.err.count("\n") == 1, (args, r.err)


# -- verify SPEC --torch / --against ----------------------------------------------------------------
def test_a_kernel_changed_in_the_written_file_fails_naming_the_layer(cli, spec_file, tmp_path, wide):
    path = spec_file(small())
    model = tmp_path / "model.py"
    assert cli("export", "--torch", path, "-o", str(model)).code == 0
    r = cli("verify", path, "--torch", f"{model}:build")
    assert r.code == 0, r.out + r.err
    assert r.out.startswith(f"convcalc verify: spec0 agrees with {model}:build")
    text = model.read_text()
    line = "self.block.conv1 = nn.Conv2d(8, 8, 3, padding=1)"
    assert line in text
    model.write_text(text.replace(line, "self.block.conv1 = nn.Conv2d(8, 8, 5, padding=2)"))
    r = cli("verify", path, "--torch", f"{model}:build", "-f", "json")
    assert r.code == 1
    d = json.loads(r.out)
    assert [(q["what"], q["ok"]) for q in d["quantities"]] == [
        ("params", False),
        ("MACs", False),
        ("output shape", True),
    ]
    assert [(x["layer"], x["quantity"], x["spec"], x["model"]) for x in d["layers"]] == [
        ("block.conv1", "params", 8 * 8 * 9 + 8, 8 * 8 * 25 + 8),
        ("block.conv1", "MACs", 8 * 8 * 9 * 256, 8 * 8 * 25 * 256),
    ]
    r = cli("verify", path, "--torch", f"{model}:build")
    assert r.code == 1 and "block.conv1" in r.out


def test_a_spec_that_drifted_from_its_model_fails(cli, spec_file, tmp_path, wide):
    (tmp_path / "mymodels.py").write_text(
        "import torch.nn as nn\n"
        "def net():\n"
        "    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 16, 3, stride=2))\n"
    )
    spec_ok = spec_file(
        yaml.safe_dump(
            {
                "input": [3, 32, 32],
                "layers": [
                    {"type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
                    {"type": "activation"},
                    {"type": "conv", "out_channels": 16, "kernel": 3, "stride": 2},
                ],
            }
        )
    )
    source = f"{tmp_path / 'mymodels.py'}:net"
    assert cli("verify", spec_ok, "--torch", source).code == 0
    with open(spec_ok) as fh:
        drifted = spec_file(fh.read().replace("out_channels: 16", "out_channels: 12"))
    r = cli("verify", drifted, "--torch", source)
    assert r.code == 1
    assert "differs from" in r.out.splitlines()[0] and "params, MACs, output shape" in r.out.splitlines()[0]
    # a model at another input size: the shapes differ too
    r = cli("verify", spec_ok, "--torch", source, "--input", "3x30x30")
    assert r.code == 1 and "MACs" in r.out.splitlines()[0]


def test_against_another_spec(cli, spec_file, wide):
    a = spec_file(small())
    assert cli("verify", a, "--against", spec_file(small())).code == 0
    wider = small(layers=[{**SMALL["layers"][0], "out_channels": 8}, *SMALL["layers"][1:]])
    assert cli("verify", a, "--against", spec_file(wider)).code == 0
    r = cli("verify", a, "--against", "zoo:lecture_separable")
    assert r.code == 1
    assert "no layer has the same name in both" in r.out


FOLD_SPEC = {
    "input": [3, 16, 16],
    "layers": [
        {"type": "conv", "name": "c1", "out_channels": 8, "kernel": 3, "bias": False},
        {"type": "batchnorm", "name": "b1"},
        {"type": "activation", "name": "r1"},
        {"type": "conv", "name": "c2", "out_channels": 4, "kernel": 3},  # with a bias already
        {"type": "batchnorm", "name": "b2"},
        {"type": "global_pool", "name": "g"},
        {"type": "batchnorm", "name": "b3"},  # after a pool: not foldable
    ],
}


def folded(spec: dict) -> dict:
    """What torch.onnx.export leaves of a spec: each BatchNorm after a conv folded into it (the
    conv gets a bias)."""
    out = []
    for layer in spec["layers"]:
        if layer["type"] == "batchnorm" and out and out[-1]["type"] == "conv":
            out[-1] = {**out[-1], "bias": True}
            continue
        out.append(layer)
    return {**spec, "layers": out}


def test_batchnorm_folded_into_convs_explains_a_params_difference():
    spec = walk(parse_text(yaml.safe_dump(FOLD_SPEC)))
    model = walk(parse_text(yaml.safe_dump(folded(FOLD_SPEC))))
    delta, count = bn_folding(spec)
    # b1: 2 x 8 go, a bias of 8 comes; b2: 2 x 4 go, c2 had its bias
    assert (delta, count) == (16 - 8 + 8, 2)
    assert spec.params - model.params == delta
    a = against(spec, model)
    assert a.ok
    params = a.quantities[0]
    assert params.what == "params" and params.ok and "2 BatchNorm layers" in params.note
    # a params difference that folding does not explain fails
    other = dict(folded(FOLD_SPEC))
    other["layers"] = [{**other["layers"][0], "out_channels": 9}, *other["layers"][1:]]
    assert not against(spec, walk(parse_text(yaml.safe_dump(other)))).quantities[0].ok
    # the same difference, but the model kept its BatchNorms (and lost something else): fails
    kept = json.loads(json.dumps(FOLD_SPEC))
    kept["layers"][-1] = {"type": "identity", "name": "b3"}
    kept["layers"].insert(0, {"type": "pad", "name": "p"})
    assert not against(spec, walk(parse_text(yaml.safe_dump(kept)))).ok


def test_against_compares_every_output():
    two = {
        "input": [3, 8, 8],
        "outputs": ["a", "b"],
        "layers": [
            {"type": "conv", "name": "a", "out_channels": 4, "kernel": 1},
            {"type": "pool", "name": "b", "from": "input", "kernel": 2},
        ],
    }
    spec = walk(parse_text(yaml.safe_dump(two)))
    swapped = dict(two, outputs=["b", "a"])
    a = against(spec, walk(parse_text(yaml.safe_dump(swapped))))
    assert [(q.what, q.ok) for q in a.quantities] == [
        ("params", True),
        ("MACs", True),
        ("output 1 shape (a / b)", False),
        ("output 2 shape (b / a)", False),
    ]


def test_errors_of_a_torch_source_are_one_line(cli, spec_file, tmp_path):
    path = spec_file(small())
    (tmp_path / "bad.py").write_text(
        "import torch\n"
        "def boom():\n    raise RuntimeError('no weights here')\n"
        "def number():\n    return 3\n"
        "NOT_CALLABLE = 3\n"
        "raise_at_import = None\n"
    )
    (tmp_path / "broken.py").write_text("raise ValueError('broken module')\n")
    for source, message in (
        (f"{tmp_path / 'bad.py'}:boom", "calling it failed: RuntimeError: no weights here"),
        (f"{tmp_path / 'bad.py'}:number", "returned int, not an nn.Module"),
        (f"{tmp_path / 'bad.py'}:NOT_CALLABLE", "int is neither an nn.Module nor callable"),
        (f"{tmp_path / 'bad.py'}:missing", "has no attribute 'missing'"),
        (f"{tmp_path / 'broken.py'}:f", "failed: ValueError: broken module"),
        (f"{tmp_path / 'absent.py'}:f", "no such file"),
    ):
        r = cli("verify", path, "--torch", source)
        assert r.code == 2 and message in r.err and r.err.count("\n") == 1, (source, r.err)
    with pytest.raises(ConvcalcError, match=r"expected package\.module:factory"):
        from convcalc.frontends.pytorch import load_source

        load_source(":f")
    assert torch.__version__


def test_verify_refuses_what_would_not_fit_and_devices_it_lacks(cli, spec_file):
    huge = spec_file(
        yaml.safe_dump({"input": [1, 65536, 32768], "layers": [{"type": "pointwise", "out_channels": 1}]})
    )
    r = cli("verify", huge)
    assert r.code == 2 and r.err.count("\n") == 1
    assert "would hold 16.0 GiB (fp32 weights and every layer's output); --device meta" in r.err
    small_spec = spec_file(small())
    r = cli("verify", small_spec, "--device", "cuda")
    if torch.cuda.is_available():  # a GPU machine: the check runs there
        assert r.code == 0, r.err
    else:
        assert r.code == 2 and "this PyTorch has no CUDA device" in r.err
    r = cli("verify", small_spec, "--device", "gpu0")
    assert r.code == 2 and "--device 'gpu0': not a device PyTorch knows" in r.err


def test_against_an_onnx_export_with_batchnorm_folded(cli, spec_file, tmp_path, wide):
    """torch.onnx.export with constant folding merges each BatchNorm after a conv into the conv:
    the file has fewer params than the spec, exactly the folded BatchNorms' (and says so)."""
    from onnx_export import export, fast_module
    from torch import nn

    def net():
        return nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 4, 3, padding=1),
            nn.BatchNorm2d(4),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4, 10),
        )

    module = fast_module(net)
    folded, plain = str(tmp_path / "folded.onnx"), str(tmp_path / "plain.onnx")
    export(module, (3, 16, 16), folded, weights=True, fold=True)
    export(module, (3, 16, 16), plain)
    spec = {
        "input": [3, 16, 16],
        "layers": [
            {"type": "conv", "out_channels": 8, "kernel": 3, "padding": 1, "bias": False},
            {"type": "batchnorm"},
            {"type": "activation"},
            {"type": "conv", "out_channels": 4, "kernel": 3, "padding": 1},
            {"type": "batchnorm"},
            {"type": "global_pool"},
            {"type": "flatten"},
            {"type": "linear", "out_features": 10},
        ],
    }
    path = spec_file(yaml.safe_dump(spec))
    params = sum(p.numel() for p in module.parameters())
    d = json.loads(cli("verify", path, "--against", plain, "-f", "json").out)
    assert d["ok"] and d["quantities"][0] == {"what": "params", "spec": params, "model": params, "ok": True}
    r = cli("verify", path, "--against", folded, "-f", "json")
    assert r.code == 0
    q = json.loads(r.out)["quantities"][0]
    assert (q["spec"], q["model"], q["ok"]) == (params, params - 2 * 8 - 2 * 4 + 8, True)  # c1 gains a bias
    assert "2 BatchNorm layers after convolutions are folded" in q["note"]
    spec["layers"][3]["out_channels"] = 5  # the spec drifted: the model still has 4
    r = cli("verify", spec_file(yaml.safe_dump(spec)), "--against", folded)
    assert r.code == 1 and "differs from" in r.out.splitlines()[0]


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_onnx_files_verify_layer_by_layer(name, cli, tmp_path):
    """verify of an ONNX file: the mapping of the ONNX front end, checked by torch on the module
    export --torch writes for it (small inputs: the counts per layer do not need 224 pixels)."""
    from onnx_export import export, fast_module

    factory, shape, _ = ARCHITECTURES[name]
    small = shape if len(shape) == 2 else (shape[0], 96, 96) if name == "inception_v3" else (shape[0], 64, 64)
    path = str(tmp_path / f"{name}.onnx")
    export(fast_module(factory), small, path)
    r = cli("verify", path, "--device", "meta")
    assert r.code == 0, r.out + r.err
    assert r.out.startswith(f"convcalc verify: {name}: all ")
