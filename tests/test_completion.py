"""Shell completion and ``python -m convcalc``, in-process (test_golden_output.py runs them in a
subprocess, as a shell does; here the same paths run where coverage sees them).

The completions are judged against what the CLI itself accepts: every column key completes
to one that ``report --columns`` takes, every device name to one that ``--device`` takes,
every ``zoo:NAME`` to a model that ``report`` reads."""

from __future__ import annotations

import io
import runpy
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import pytest

from convcalc.cli.completion import (
    REPORT_KEYS,
    complete_columns,
    complete_device,
    complete_spec,
    complete_zoo,
)


# -- the completion functions ----------------------------------------------------------------------
def test_spec_completes_zoo_models_only_after_zoo() -> None:
    assert complete_spec("zoo:res") == ["zoo:resnet50"]
    assert complete_spec("zo") == complete_spec("zoo:") == complete_spec("")
    assert "zoo:vgg16" in complete_spec("z") and "zoo:mobilenet_v1" in complete_spec("zoo:m")
    assert all(c.startswith("zoo:shufflenet_v1_") for c in complete_spec("zoo:shuff"))
    assert len(complete_spec("zoo:shufflenet_v1_")) == 11
    # anything else: nothing, so the shell completes file names
    assert complete_spec("lay") == complete_spec("./zoo:") == complete_spec("zoox") == []
    assert complete_spec("zoo:nothing") == []


def test_zoo_names_complete_with_or_without_the_prefix() -> None:
    assert complete_zoo("mobile") == ["mobilenet_v1"] == complete_zoo("zoo:mobile")
    assert complete_zoo("squeeze") == ["squeezenet1_0"]
    assert complete_zoo("x") == []


def test_every_completed_zoo_model_is_read(cli: Callable[..., Any]) -> None:
    for spec in complete_spec("zoo:"):
        r = cli("report", spec, "--format", "json")
        assert r.code == 0, (spec, r.err)


def test_devices_complete_keys_and_aliases_case_blind() -> None:
    assert complete_device("h1") == ["h100-pcie", "h100-pcie-80gb", "h100-sxm", "h100", "h100-sxm5"]
    assert complete_device("CORAL") == ["coral", "coral-edge-tpu", "coral-usb"]
    assert complete_device("nope") == []


def test_every_completed_device_is_taken(cli: Callable[..., Any]) -> None:
    names = complete_device("")
    assert {"t4", "tesla-t4", "rpi5", "laptop"} <= set(names)
    for name in names:
        # a known device: a latency, or a refusal naming what its profile lacks (the Edge TPU
        # has no fp32 peak nor a published bandwidth), never "unknown device"
        r = cli("report", "zoo:alexnet", "--device", name, "--format", "json")
        assert r.code == 0 or (r.code == 2 and "unknown device" not in r.err and "profile" in r.err), (
            name,
            r.err,
        )
    assert "unknown device 'nope'" in cli("report", "zoo:alexnet", "--device", "nope").err


def test_columns_complete_after_the_ones_typed() -> None:
    assert complete_columns("name,ma") == ["name,macs", "name,macs_share"]
    assert complete_columns("macs,ma") == ["macs,macs_share"]  # not twice
    assert complete_columns("") == list(REPORT_KEYS)
    assert complete_columns("params,flops,") == [
        f"params,flops,{k}" for k in REPORT_KEYS if k not in ("params", "flops")
    ]
    assert complete_columns("zz") == []


def test_every_column_key_is_taken(cli: Callable[..., Any]) -> None:
    for key in REPORT_KEYS:
        r = cli("report", "zoo:alexnet", "--device", "t4", "--columns", key)
        assert r.code == 0, (key, r.err)
    # and a key that is not one is refused: the list above is what --columns checks against
    assert cli("report", "zoo:alexnet", "--columns", "nonsense").code == 2


# -- the shell's request, through the CLI's own completion path -----------------------------------
def shell_complete(
    monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any], words: str, cword: int
) -> list[str]:
    monkeypatch.setenv("_CONVCALC_COMPLETE", "complete_bash")
    monkeypatch.setenv("COMP_WORDS", words)
    monkeypatch.setenv("COMP_CWORD", str(cword))
    r = cli(*words.split()[1:])
    assert r.code == 0, r.err
    return r.out.split()


def test_the_shell_gets_the_completions(monkeypatch: pytest.MonkeyPatch, cli: Callable[..., Any]) -> None:
    assert shell_complete(monkeypatch, cli, "convcalc report zoo:res", 2) == ["zoo:resnet50"]
    assert shell_complete(monkeypatch, cli, "convcalc zoo show mobile", 3) == ["mobilenet_v1"]
    assert shell_complete(monkeypatch, cli, "convcalc report x.yaml --columns name,ma", 4) == [
        "name,macs",
        "name,macs_share",
    ]
    assert shell_complete(monkeypatch, cli, "convcalc report x.yaml --device tesla", 4) == ["tesla-t4"]


# -- python -m convcalc ------------------------------------------------------------------------------
def run_module(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[int, str]:
    monkeypatch.setattr(sys, "argv", ["convcalc", *args])
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as e:
        runpy.run_module("convcalc", run_name="__main__")
    code = e.value.code
    return (code if isinstance(code, int) else 1), out.getvalue()


def test_python_m_convcalc_runs_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], cli: Callable[..., Any]
) -> None:
    code, out = run_module(monkeypatch, "report", "zoo:alexnet", "--format", "json")
    assert code == 0
    assert out == cli("report", "zoo:alexnet", "--format", "json").out
    code, out = run_module(monkeypatch, "report", "no-such-file.yaml")
    assert code == 2 and out == ""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("convcalc: error: ") and "no-such-file.yaml" in err[0]
