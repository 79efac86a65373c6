"""Golden outputs: the lecture's compare example, the "N more layers" row, the completion
script, the CSV headers of every command. ``CONVCALC_UPDATE_GOLDEN=1 pytest tests/test_golden_output.py``
rewrites the golden files (then read the diff before committing it)."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest
from conftest import ROOT, run_cli

GOLDEN = os.path.join(ROOT, "tests", "golden")
EXAMPLE = os.path.join(ROOT, "layers.example.yaml")


def golden(name: str, text: str) -> None:
    path = os.path.join(GOLDEN, name)
    if os.environ.get("CONVCALC_UPDATE_GOLDEN") == "1":
        with open(path, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
    with open(path, encoding="utf-8", newline="") as fh:
        assert text == fh.read(), f"{name} differs (CONVCALC_UPDATE_GOLDEN=1 to rewrite)"


# -- compare: the lecture's example, with the single-layer commands' defaults ----------------------
def test_compare_prints_the_lectures_numbers(monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    args = ["compare", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5"]
    r = run_cli(*args)
    assert r.code == 0
    assert "1,228,800" in r.out and "53,952" in r.out
    assert "padding 0, with bias" in r.out.split("\n\n")[0].replace("\n  ", " ")
    golden("compare_lecture.txt", r.out)
    d = json.loads(run_cli(*args, "-f", "json").out)
    std, grouped, sep, shuffle, dil = d["variants"]
    assert (d["padding"], d["bias"]) == (0, True)
    assert std["macs"] == 256 * 3 * 5 * 5 * 8 * 8 == 1_228_800  # the lecture's slide
    assert sep["macs"] == 3 * 25 * 64 + 3 * 256 * 64 == 53_952
    assert grouped["repeats"] == "standard"  # g = 1 repeats the standard conv: no row of its own
    assert not any(line.startswith("grouped") for line in r.out.split("\n\n")[1].splitlines())
    assert "grouped (g=1): the same layer as the standard conv here, left out" in r.out
    assert "error" in shuffle and shuffle["possible_with"] == "possible with -s 2"
    assert dil["output_shape"] == [256, 4, 4] and dil["macs"] < std["macs"]


def test_compare_agrees_with_conv_for_the_same_flags():
    c = json.loads(
        run_cli("compare", "-c", "16", "--size", "20x20", "-o", "32", "-k", "3", "-s", "2", "-f", "json").out
    )
    conv = json.loads(
        run_cli("conv", "-c", "16", "--size", "20x20", "-o", "32", "-k", "3", "-s", "2", "-f", "json").out
    )
    std = c["variants"][0]
    for key in ("output_shape", "params", "macs", "flops"):
        assert std[key] == conv[key]
    same = json.loads(
        run_cli(
            "compare",
            "-c",
            "16",
            "--size",
            "20x20",
            "-o",
            "32",
            "-k",
            "3",
            "-p",
            "same",
            "--no-bias",
            "-f",
            "json",
        ).out
    )
    assert all(v["output_shape"][1:] == [20, 20] for v in same["variants"] if "output_shape" in v)
    assert same["variants"][0]["params"] == 16 * 32 * 9


def test_compare_footer_is_computed(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    small = run_cli("compare", "-c", "8", "--size", "9x9", "-o", "8", "-k", "3").out
    assert "The dilated conv (d = 2) has the same params and fewer MACs" in small
    assert "its output is 5x5, not 7x7" in small
    same = run_cli("compare", "-c", "8", "--size", "9x9", "-o", "8", "-k", "3", "-p", "same").out
    assert "has the same params and the same MACs" in same and "5x5 vs 3x3" in same


# -- "N more layers": the rows shown always add up to the total ------------------------------------
def test_more_row_sums_the_rest(monkeypatch, spec_file):
    monkeypatch.setenv("COLUMNS", "120")
    layers = "".join(
        f"  - {{type: conv, out_channels: {4 + (i % 3)}, kernel: 3, padding: 1}}\n" for i in range(200)
    )
    path = spec_file("name: long\ninput: [4, 8, 8]\nlayers:\n" + layers, "long.yaml")
    rows = list(csv.DictReader(io.StringIO(run_cli("report", path, "--top", "7", "-f", "csv").out)))
    body, total = rows[:-1], rows[-1]
    assert len(body) == 8 and body[-1]["name"] == "193 more layers" and total["name"] == "total"
    for key in ("params", "macs", "flops", "activations"):
        assert sum(int(r[key]) for r in body) == int(total[key])
    # ties (equal MACs) are broken in network order: the earliest layers of the largest size
    d = json.loads(run_cli("report", path, "-f", "json").out)
    top = sorted(range(200), key=lambda i: (-d["layers"][i]["macs"], i))[:7]
    assert [r["name"] for r in body[:-1]] == [d["layers"][i]["name"] for i in sorted(top)]
    out = run_cli("report", path).out  # 200 layers: the terminal table is summarised
    assert "150 more layers" in out and "ties: the earlier layer" in out.replace("\n  ", " ")
    golden("more_rows.txt", run_cli("report", path, "--top", "3").out)


# -- completion -------------------------------------------------------------------------------------
def complete(words: str, cword: int) -> list[str]:
    env = dict(os.environ, COMP_WORDS=words, COMP_CWORD=str(cword), _CONVCALC_COMPLETE="complete_bash")
    r = subprocess.run(
        [sys.executable, "-m", "convcalc"], env=env, capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


def test_completion_script_and_completions():
    # Typer's documented way to name the shell in a test (instead of detecting the parent shell)
    env = dict(os.environ, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    r = subprocess.run(
        [sys.executable, "-m", "convcalc", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    assert r.returncode == 0
    golden("completion.bash", r.stdout)
    assert "_CONVCALC_COMPLETE=complete_bash" in r.stdout
    assert complete("convcalc report zoo:res", 2) == ["zoo:resnet50"]
    assert "zoo:vgg16" in complete("convcalc check zoo:", 2)
    assert complete("convcalc report lay", 2) == []  # the shell completes file names
    assert complete("convcalc zoo show mobile", 3) == ["mobilenet_v1"]
    assert {"conv", "compare"} <= set(complete("convcalc co", 1))  # layer types are commands
    assert complete("convcalc report x.yaml --columns name,ma", 4) == ["name,macs", "name,macs_share"]
    assert "html" in complete("convcalc report x.yaml --format ", 4)


def test_help_offers_completion():
    r = run_cli("--help")
    assert "--install-completion" in r.out and "--show-completion" in r.out


# -- CSV headers: one naming scheme (the JSON keys) --------------------------------------------------
CSV_HEADERS = {
    (
        "conv",
        "-c",
        "3",
        "--size",
        "8x8",
        "-o",
        "4",
        "-k",
        "3",
    ): "name,type,input_shape,output_shape,params,macs,flops,activations,receptive_field"
    ",bytes_read,bytes_written,memory_traffic,arithmetic_intensity",
    (
        "report",
        EXAMPLE,
    ): "name,label,type,input_shape,output_shape,params,macs,flops,activations,receptive_field,macs_share"
    ",bytes_read,bytes_written,memory_traffic,arithmetic_intensity",
    (
        "report",
        EXAMPLE,
        "zoo:alexnet",
    ): "spec,network,name,label,type,input_shape,output_shape,params,macs,flops,activations,receptive_field,macs_share"
    ",bytes_read,bytes_written,memory_traffic,arithmetic_intensity",
    (
        "report",
        "zoo:alexnet",
        "--width-mult",
        "1,0.5",
    ): "spec,network,width_mult,resolution,input_shape,output_shape,params,macs,flops,activations,memory,"
    "memory_traffic",
    ("check", EXAMPLE, "--max-macs", "1G"): "spec,network,metric,source,value,limit,vs_limit,excess,verdict",
    (
        "diff",
        "zoo:shufflenet_v1_g3",
        "zoo:shufflenet_v1_g8",
    ): "status,name,type,output_shape,old_params,new_params,params_change,old_macs,new_macs,macs_change,"
    "memory_traffic_change",
    (
        "compare",
        "-c",
        "8",
        "--size",
        "8x8",
        "-o",
        "8",
        "-k",
        "3",
    ): "variant,output_shape,params,macs,params_ratio,macs_ratio,memory_traffic,arithmetic_intensity,"
    "receptive_field,notes",
    ("zoo",): "name,input_shape,params,macs,cite",
    ("types",): "type,summary,keys",
    ("size", "224", "-k", "3"): "dim,input,kernel,stride,padding,dilation,output",
}


@pytest.mark.parametrize("args", list(CSV_HEADERS), ids=lambda a: " ".join(a[:2]))
def test_csv_headers(args):
    r = run_cli(*args, "-f", "csv")
    assert r.code in (0, 1), r.err
    assert r.out.split("\r\n")[0] == CSV_HEADERS[args]
    if args[0] in ("report", "conv", "diff") and "--width-mult" not in args:  # named as the JSON keys
        d = json.loads(run_cli(*args, "-f", "json").out)
        layer = (d.get("layers") or (d.get("reports") or [{}])[0].get("layers") or [d])[0]
        keys = set(layer) | {
            "name",
            "macs_share",
            "spec",
            "network",
            "status",
            "params_change",
            "macs_change",
            "memory_traffic_change",
        }
        keys |= {f"{a}_{m}" for a in ("old", "new") for m in ("params", "macs")}
        assert set(CSV_HEADERS[args].split(",")) <= keys | {"output_shape"}
