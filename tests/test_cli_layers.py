"""The single-layer CLI contract (issue 2): commands, options, JSON keys, formats, exit codes."""

import csv
import io
import json

import pytest

LAYER_KEYS = {"type", "input_shape", "output_shape", "params", "macs", "flops"}


def test_conv_json_contract(cli):
    r = cli(
        "conv",
        "-c",
        "3",
        "--size",
        "224x224",
        "-o",
        "32",
        "-k",
        "3",
        "-s",
        "2",
        "-p",
        "1",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d.keys() >= LAYER_KEYS
    assert d["type"] == "conv"
    assert d["input_shape"] == [3, 224, 224] and d["output_shape"] == [32, 112, 112]
    assert d["params"] == 32 * 3 * 9 + 32
    assert d["macs"] == 32 * 3 * 9 * 112 * 112
    assert d["flops"] == 2 * d["macs"] + 32 * 112 * 112
    assert all(isinstance(d[k], int) for k in ("params", "macs", "flops", "activations"))


def test_long_option_names(cli):
    r = cli(
        "conv",
        "--in-channels",
        "16",
        "--size",
        "8x8",
        "--out-channels",
        "8",
        "--kernel",
        "3x1",
        "--stride",
        "1x2",
        "--padding",
        "1x0",
        "--dilation",
        "1",
        "--groups",
        "2",
        "--no-bias",
        "--batch",
        "4",
        "--format",
        "json",
    )
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert d["output_shape"] == [8, 8, 4]
    assert d["params"] == 8 * 8 * 3
    assert d["macs"] == 4 * 8 * 8 * 3 * 8 * 4
    assert d["batch"] == 4


@pytest.mark.parametrize("size,dims", [("100", 1), ("32x32", 2), ("8x16x16", 3)])
def test_spatial_dims_come_from_size(cli, size, dims):
    r = cli("conv", "-c", "4", "--size", size, "-o", "4", "-k", "3", "-f", "json")
    assert r.code == 0, r.err
    assert len(json.loads(r.out)["output_shape"]) == 1 + dims


def test_composites_list_their_parts(cli):
    r = cli("separable", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5", "-f", "json")
    d = json.loads(r.out)
    assert [p["name"] for p in d["parts"]] == ["depthwise", "pointwise"]
    assert [p["macs"] for p in d["parts"]] == [4800, 49152] and d["macs"] == 53952
    for p in d["parts"]:
        assert p.keys() >= LAYER_KEYS
    r = cli(
        "shuffle",
        "-c",
        "24",
        "--size",
        "56x56",
        "-o",
        "240",
        "-g",
        "3",
        "-s",
        "2",
        "--no-first-grouped",
        "-f",
        "json",
    )
    d = json.loads(r.out)
    assert r.code == 0, r.err
    assert d["output_shape"] == [240, 28, 28]
    assert d["macs"] == sum(p["macs"] for p in d["parts"])
    assert d["params"] == sum(p["params"] for p in d["parts"])
    names = [p["name"] for p in d["parts"]]
    assert names.index("gconv1") < names.index("shuffle") < names.index("dwconv") < names.index("gconv2")
    assert "shortcut_pool" in names and "concat" in names


def test_depthwise_multiplier(cli):
    d = json.loads(
        cli(
            "depthwise",
            "-c",
            "8",
            "--size",
            "10x10",
            "-k",
            "3",
            "--multiplier",
            "3",
            "--no-bias",
            "-f",
            "json",
        ).out
    )
    assert d["output_shape"] == [24, 8, 8] and d["params"] == 24 * 9


def test_transposed_json_has_both_counts(cli):
    d = json.loads(
        cli(
            "transposed",
            "-c",
            "512",
            "--size",
            "4x4",
            "-o",
            "256",
            "-k",
            "4",
            "-s",
            "2",
            "-p",
            "1",
            "--no-bias",
            "-f",
            "json",
        ).out
    )
    assert d["output_shape"] == [256, 8, 8]
    assert d["macs"] == 512 * 256 * 16 * 16  # per input element
    assert d["zero_insertion_macs"] == 256 * 512 * 16 * 64  # the direct conv over zeros


def test_explain_substitutes_numbers(cli):
    r = cli(
        "conv",
        "-c",
        "3",
        "--size",
        "224x224",
        "-o",
        "32",
        "-k",
        "3",
        "-s",
        "2",
        "-p",
        "1",
        "--explain",
        "--wide",
    )
    assert (
        "o [dim 1] = floor((i + 2p - d(k-1) - 1)/s) + 1 = floor((224 + 2*1 - 1*(3-1) - 1)/2) + 1 = 112"
        in r.out
    )
    r = cli(
        "transposed",
        "-c",
        "4",
        "--size",
        "4",
        "-o",
        "2",
        "-k",
        "4",
        "-s",
        "2",
        "-p",
        "1",
        "--explain",
        "--wide",
    )
    assert "o = (i-1)s - 2p + d(k-1) + output_padding + 1 = (4-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 8" in r.out
    assert "z = s-1 = 1" in r.out and "p' = k - p - 1 = 2" in r.out and "s' = 1" in r.out
    j = json.loads(
        cli("separable", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5", "--explain", "-f", "json").out
    )
    assert any("1/C_out + 1/prod(k)" in line for line in j["explain"])


@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_every_format(cli, fmt):
    r = cli("separable", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5", "-f", fmt)
    assert r.code == 0, r.err
    assert "53,952" in r.out or "53952" in r.out
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(r.out)))
        assert [row["name"].strip() for row in rows] == [
            "separable.depthwise",
            "separable.pointwise",
            "separable",
        ]
        assert int(rows[0]["macs"]) + int(rows[1]["macs"]) == int(rows[2]["macs"])
    if fmt == "markdown":
        assert "| layer |" in r.out


def test_size_command(cli):
    r = cli("size", "224x112", "-k", "3", "-s", "2", "-p", "1", "--format", "json")
    assert r.code == 0 and json.loads(r.out)["output_size"] == [112, 56]
    assert cli("size", "224x112", "-k", "3", "-s", "2", "-p", "1").out.strip() == "112x56"
    assert cli("size", "7", "-k", "3", "-d", "2").out.strip() == "3"
    assert (
        cli("size", "3", "-k", "3", "-s", "2", "-p", "1", "--transposed", "--output-padding", "1").out.strip()
        == "6"
    )
    assert cli("size", "224", "-k", "3", "-s", "2", "-p", "same").out.strip() == "112"
    assert cli("size", "112", "-k", "3", "-s", "2", "--ceil-mode").out.strip() == "56"
    r = cli("size", "224", "-k", "3", "-s", "2", "-p", "1", "--explain")
    assert "floor((224 + 2*1 - 1*(3-1) - 1)/2) + 1 = 112" in r.out
    for fmt in ("table", "markdown", "csv"):
        assert cli("size", "224x112", "-k", "3", "-s", "2", "-p", "1", "-f", fmt).code == 0


def test_compare_table(cli):
    r = cli("compare", "-c", "512", "--size", "14x14", "-o", "512", "-k", "3", "-p", "same", "-f", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    names = [v["variant"] for v in d["variants"]]
    assert names[0] == "standard" and names[2] == "depthwise-separable"
    assert any(n.startswith("grouped") for n in names) and any(n.startswith("ShuffleNet") for n in names)
    assert any(n.startswith("dilated") for n in names)
    std, grouped, sep, shuffle, dil = d["variants"]
    assert std["macs"] == 512 * 512 * 9 * 196
    assert grouped["macs"] * d["groups"] == std["macs"]
    assert sep["macs_ratio"] == pytest.approx(1 / 512 + 1 / 9)
    assert d["mobilenet_ratio"]["value"] == pytest.approx(1 / 512 + 1 / 9)
    assert dil["macs"] == std["macs"] and dil["receptive_field"] == [5, 5]
    assert shuffle["macs"] < sep["macs"]
    for fmt in ("table", "markdown", "csv"):
        r = cli("compare", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5", "-p", "0", "-f", fmt)
        assert r.code == 0 and "impossible" in r.out  # the ShuffleNet unit needs in == out at stride 1


BAD = [
    (
        ["conv", "-c", "16", "--size", "32", "-o", "8", "-k", "3", "-g", "3"],
        "--groups 3 must divide --in-channels 16",
    ),
    (["conv", "-c", "16", "--size", "32x32", "-o", "8", "-k", "3x3x3"], "--kernel 3x3x3 has 3 values"),
    (["conv", "-c", "16", "--size", "2", "-o", "8", "-k", "5"], "output size would be -2"),
    (["conv", "-c", "16", "--size", "32", "-o", "0", "-k", "3"], "--out-channels: must be >= 1"),
    (["conv", "-c", "0", "--size", "32", "-o", "8", "-k", "3"], "--in-channels 0: must be >= 1"),
    (["conv", "-c", "4", "--size", "32x0", "-o", "8", "-k", "3"], "--size '32x0'"),
    (["conv", "-c", "4", "--size", "big", "-o", "8", "-k", "3"], "--size 'big'"),
    (["conv", "-c", "4", "--size", "32", "-o", "8", "-k", "three"], "--kernel: must be an integer"),
    (
        ["transposed", "-c", "4", "--size", "8", "-o", "4", "-k", "3", "-s", "2", "--output-padding", "2"],
        "--output-padding 2 must be < max(stride, dilation) = 2",
    ),
    (["transposed", "-c", "4", "--size", "8", "-o", "4", "-k", "3", "-p", "same"], "--padding"),
    (["depthwise", "-c", "16", "--size", "32", "-k", "3", "-o", "40"], "--out-channels 40 must equal"),
    (["conv", "-c", "4", "--size", "32", "-k", "3"], "--out-channels"),
    (["conv", "-c", "4", "--size", "32", "-o", "4", "-k", "3", "--frobnicate"], "--frobnicate"),
    (["conv", "-c", "x", "--size", "32", "-o", "4", "-k", "3"], "--in-channels"),
    (["size", "0", "-k", "3"], "SIZE '0'"),
    (["size", "5", "-k", "3", "--output-padding", "1"], "--output-padding 1: only with --transposed"),
    (["nonsense"], "No such command"),
]


@pytest.mark.parametrize("args,fragment", BAD)
def test_bad_input_is_one_line_exit_2(cli, args, fragment):
    r = cli(*args)
    assert r.code == 2
    assert r.out == ""
    assert r.err.count("\n") == 1 and r.err.startswith("convcalc: error: ")
    assert fragment in r.err
    assert "Traceback" not in r.err


def test_help_lists_every_command(cli):
    r = cli("--help")
    assert r.code == 0
    for cmd in (
        "conv",
        "depthwise",
        "pointwise",
        "separable",
        "transposed",
        "shuffle",
        "size",
        "compare",
        "report",
        "schema",
    ):
        assert cmd in r.out


def test_output_file_is_written(cli, tmp_path):
    out = tmp_path / "conv.json"
    r = cli("conv", "-c", "3", "--size", "8x8", "-o", "4", "-k", "3", "-f", "json", "--output", str(out))
    assert r.code == 0 and r.out == ""
    assert json.loads(out.read_text())["output_shape"] == [4, 6, 6]
