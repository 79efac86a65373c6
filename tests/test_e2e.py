"""End to end, as CI runs it: the installed `convcalc` console script in a subprocess.

report --format json to a file (the baseline), then check with a budget under and over the
totals, then check a grown model against the baseline, asserting exit codes and outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEC = """\
name: e2e-net
input: [3, 64, 64]
budget:
  params: 50k
  macs: 1G
layers:
  - {type: conv, out_channels: 16, kernel: 3, stride: 2, padding: same}
  - {type: batchnorm}
  - {type: activation}
  - {type: separable, out_channels: 32, kernel: 3, padding: same}
  - {type: global_pool}
  - {type: flatten}
  - {type: linear, out_features: 10}
"""
GROWN = SPEC.replace("out_channels: 32", "out_channels: 64")


def convcalc_exe() -> str:
    """The installed console script: on PATH, or next to this interpreter (a venv's bin/)."""
    exe = shutil.which("convcalc")
    if exe is None:
        beside = os.path.join(
            os.path.dirname(sys.executable), "convcalc" + (".exe" if os.name == "nt" else "")
        )
        exe = beside if os.path.isfile(beside) else None
    assert exe is not None, "the convcalc console script is not installed (pip install -e .)"
    return exe


def run(cwd, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [convcalc_exe(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )


def test_ci_flow(tmp_path):
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "net.yaml").write_text(SPEC)
    spec = "models/net.yaml"

    # 1. the baseline, as the main branch would save it
    r = run(tmp_path, "report", spec, "--format", "json", "--output", "baseline.json")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    totals = json.loads((tmp_path / "baseline.json").read_text())["totals"]
    macs, params = totals["macs"], totals["params"]
    assert 0 < params <= 50_000 and 0 < macs <= 10**9  # the spec's own budget passes

    # 2. the spec's own budget: within
    r = run(tmp_path, "check", spec)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS" in r.stdout and "FAIL" not in r.stdout

    # 3. limits exactly at the totals pass; one below fails and says so
    r = run(tmp_path, "check", spec, "--max-macs", str(macs), "--max-params", str(params))
    assert r.returncode == 0, r.stdout
    r = run(tmp_path, "check", spec, "--max-macs", str(macs - 1), "--format", "json")
    assert r.returncode == 1
    verdict = json.loads(r.stdout)
    assert verdict["passed"] is False
    failed = [x for x in verdict["results"] if not x["passed"]]
    assert [(x["spec"], x["metric"], x["value"], x["limit"], x["excess"]) for x in failed] == [
        (spec, "macs", macs, macs - 1, 1)
    ]

    # 4. GitHub annotations point at the budget key of the failing limit
    r = run(tmp_path, "check", spec, "--max-params", str(params - 1), "--format", "github")
    assert r.returncode == 1
    params_line = SPEC.splitlines().index("  params: 50k") + 1
    assert f"::error file={spec},line={params_line},title=" in r.stdout

    # 5. a grown model against the saved baseline
    (tmp_path / "models" / "grown.yaml").write_text(GROWN)
    grown = "models/grown.yaml"
    r = run(
        tmp_path, "check", grown, "--baseline", "baseline.json", "--max-increase", "5%", "--format", "json"
    )
    assert r.returncode == 1, r.stderr
    d = json.loads(r.stdout)
    assert {x["source"] for x in d["results"]} == {"budget", "baseline"}
    mac = next(x for x in d["results"] if x["metric"] == "macs" and x["source"] == "baseline")
    assert mac["baseline"] == macs and mac["change"] > 0.05 * macs and mac["passed"] is False
    assert [x["passed"] for x in d["results"] if x["source"] == "budget"] == [True, True]
    r = run(tmp_path, "check", grown, "--baseline", "baseline.json", "--max-increase", "1000%")
    assert r.returncode == 0, r.stdout
    r = run(tmp_path, "check", spec, "--baseline", "baseline.json", "--format", "markdown")
    assert r.returncode == 0 and r.stdout.startswith("## ✅")

    # 6. which layer grew
    r = run(tmp_path, "diff", "baseline.json", grown, "--format", "json")
    assert r.returncode == 0, r.stderr
    changed = {x["name"] for x in json.loads(r.stdout)["layers"]}
    assert "separable1" in changed

    # 7. bad input: exit 2, one line on stderr, nothing on stdout
    r = run(tmp_path, "check", spec, "--max-macs", "lots")
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr == "convcalc: error: --max-macs 'lots' is not a number like 600M, 4.5M, 1.2G or 800k\n"
    r = run(tmp_path, "check", spec, "--baseline", "missing.json")
    assert r.returncode == 2 and r.stderr.strip() == "convcalc: error: --baseline missing.json: no such file"


# -- start-up: a command loads only what it needs (benchmarks/ measures the time) -------------------
_LOADED = """
import contextlib, io, json, sys
from convcalc.cli import run
sys.argv = ["convcalc", *json.loads(sys.argv[1])]
try:
    with contextlib.redirect_stdout(io.StringIO()):
        run()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    "args,absent",
    [
        (
            ["conv", "-c", "3", "--size", "224", "-o", "64", "-k", "3", "--format", "json"],
            [
                "convcalc.network",
                "convcalc.graph",
                "convcalc.budget",
                "convcalc.yamlio",
                "convcalc.cli.network_cmds",
                "yaml",
                "rich",
            ],
        ),
        (["conv", "-c", "3", "--size", "224", "-o", "64", "-k", "3"], ["convcalc.network", "yaml"]),
        (
            ["report", "layers.example.yaml", "--format", "json"],
            ["convcalc.frontends.onnx", "convcalc.frontends.pytorch", "torch", "onnx", "rich"],
        ),
    ],
)
def test_a_command_loads_only_what_it_needs(args, absent):
    """Start-up is what a one-off query costs: a single-layer command never loads the network
    walker, the YAML parser or the budget module; a YAML report never loads the model front ends."""
    out = subprocess.run(
        [sys.executable, "-c", _LOADED, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    loaded = set(json.loads(out))
    assert "convcalc.layers" in loaded  # the command ran
    assert not loaded.intersection(absent), loaded.intersection(absent)
