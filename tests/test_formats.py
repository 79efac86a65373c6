"""One output-format registry: every registered format is handled by every command, and no
command chooses how to print by looking at the format."""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest
from conftest import ROOT, run_cli

from convcalc.render import formats

EXAMPLE = os.path.join(ROOT, "layers.example.yaml")

COMMANDS = {
    "report": ["report", EXAMPLE],
    "report-multi": ["report", EXAMPLE, "zoo:alexnet"],
    "report-sweep": ["report", "zoo:squeezenet1_0", "--width-mult", "1,0.5"],
    "check": ["check", EXAMPLE, "--max-macs", "100M", "--max-params", "1M"],
    "diff": ["diff", "zoo:shufflenet_v1_g3", "zoo:shufflenet_v1_g8"],
    "compare": ["compare", "-c", "16", "--size", "32x32", "-o", "32", "-k", "3"],
    "size": ["size", "224", "-k", "3", "-s", "2"],
    "types": ["types"],
    "schema": ["schema"],
    "zoo": ["zoo"],
    "conv": ["conv", "-c", "3", "--size", "32x32", "-o", "8", "-k", "3"],
    "separable": ["separable", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5"],
    "shuffle": ["shuffle", "-c", "240", "--size", "28x28", "-o", "240", "-g", "3"],
    "report-device": ["report", EXAMPLE, "--device", "orin"],
    "report-multi-device": ["report", EXAMPLE, "zoo:alexnet", "--device", "h100", "--dtype", "fp16"],
    "check-latency": ["check", EXAMPLE, "--max-latency", "1ms", "--device", "orin", "--max-traffic", "100M"],
    "diff-device": ["diff", "zoo:shufflenet_v1_g3", "zoo:shufflenet_v1_g8", "--device", "h100"],
    "compare-device": ["compare", "-c", "16", "--size", "32x32", "-o", "32", "-k", "3", "--device", "t4"],
    "conv-device": ["conv", "-c", "3", "--size", "32x32", "-o", "8", "-k", "3", "--device", "rpi5"],
}


def test_the_registry_is_whole():
    assert [f.value for f in formats.Format] == list(formats.NAMES)
    for name in formats.NAMES:
        module = formats.get(name)
        assert name == module.NAME and module.HELP and callable(module.render)


@pytest.mark.parametrize("fmt", formats.NAMES)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_handles_every_format(command, fmt):
    r = run_cli(*COMMANDS[command], "--format", fmt)
    assert r.code in (0, 1), r.err
    assert r.err == ""
    out = r.out
    assert out.strip()
    if fmt == "json":
        json.loads(out)
    elif fmt == "csv":
        rows = list(csv.reader(io.StringIO(out, newline="")))
        assert rows and all(len(row) == len(rows[0]) for row in rows)
        assert all(re.fullmatch(r"[a-z_]+", h) for h in rows[0]), rows[0]  # keys, not headers
    elif fmt == "markdown":
        assert out.startswith(("## ", "| ")) or "\n| " in out
    elif fmt == "html":
        assert out.startswith("<!DOCTYPE html>") and out.rstrip().endswith("</html>")
    elif fmt == "github":
        lines = out.rstrip("\n").split("\n")
        assert lines[0].startswith(("::notice ", "::error ", "::warning "))
    else:
        assert "Traceback" not in out


def test_no_command_branches_on_the_format():
    cli = os.path.join(ROOT, "convcalc", "cli")
    for name in os.listdir(cli):
        if not name.endswith(".py"):
            continue
        with open(os.path.join(cli, name), encoding="utf-8") as fh:
            text = fh.read()
        assert not re.search(r"\b(format|fmt)(\.value)?\s*(==|!=|\bin\b)", text), name
        assert not re.search(r"(==|!=)\s*(Format|CheckFormat)\.|(Format|CheckFormat)\.\w+\s*(==|!=)", text), (
            name
        )
        assert not re.search(r"\[(format|fmt)(\.value)?\]", text), name  # no per-format dicts
