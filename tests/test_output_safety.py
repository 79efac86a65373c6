"""Output that no spec can subvert: control and bidi characters in names are escaped in every
human format, GitHub annotations cannot be injected, CSV is RFC 4180 (names round-trip)."""

from __future__ import annotations

import csv
import io
import json

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st

EVIL = "net\x1b[31mred\u202eevil\x07"
LAYER = "conv\x1b]0;title\x07\u2066x"


def spec_text(name: str, label: str) -> str:
    return (
        f"name: {json.dumps(name)}\ninput: [3, 16, 16]\nbudget: {{macs: 10}}\nlayers:\n"
        f"  - {{type: conv, out_channels: 4, kernel: 3, name: {json.dumps(label)}}}\n"
        "  - {type: activation, fn: relu}\n"
    )


RAW = ("\x1b", "\u202e", "\u2066", "\x07")


@pytest.mark.parametrize("fmt", ["table", "markdown", "html"])
@pytest.mark.parametrize("command", ["report", "check"])
def test_control_and_bidi_characters_are_escaped_in_human_formats(spec_file, fmt, command):
    path = spec_file(spec_text(EVIL, LAYER))
    r = run_cli(command, path, "-f", fmt, "--wide")  # every column: the name is shown
    assert r.code in (0, 1), r.err
    for c in RAW:
        assert c not in r.out, (fmt, repr(c))
    assert "\\x1b" in r.out  # shown, escaped


def test_csv_keeps_names_exact_but_escapes_terminal_controls(spec_file):
    path = spec_file(spec_text('a, "quoted"\nname', 'conv, "one"\nline two'))
    r = run_cli("report", path, "-f", "csv")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert rows[0]["label"] == 'conv, "one"\nline two'
    r = run_cli("report", spec_file(spec_text(EVIL, LAYER)), "-f", "csv")
    for c in RAW:
        assert c not in r.out


def test_multi_spec_csv_round_trips_names_with_commas_quotes_and_newlines(spec_file):
    names = ["a,b", 'say "hi"', "two\nlines", "plain"]
    paths = [spec_file(spec_text(n, f'layer {k}, "x"\r\ny')) for k, n in enumerate(names)]
    r = run_cli("report", *paths, "-f", "csv")
    assert r.code == 0, r.err
    rows = list(csv.DictReader(io.StringIO(r.out, newline="")))
    assert list(rows[0])[:3] == ["spec", "network", "name"]
    seen = [(row["spec"], row["network"]) for row in rows]
    for p, n in zip(paths, names):
        assert (p, n) in seen
    assert {row["label"] for row in rows if row["label"]} == {f'layer {k}, "x"\r\ny' for k in range(4)}
    d = json.loads(run_cli("report", *paths, "-f", "json").out)
    assert len(rows) == sum(len(x["layers"]) for x in d["reports"])


def _github(spec_file, name: str, label: str, filename: str | None = None) -> tuple[str, dict]:
    path = spec_file(spec_text(name, label), filename)
    r = run_cli("check", path, "--max-params", "1", "-f", "github")
    j = json.loads(run_cli("check", path, "--max-params", "1", "-f", "json").out)
    assert r.code == 1
    return r.out, j


def _check_annotations(out: str, j: dict) -> None:
    lines = out.split("\n")
    commands = [ln for ln in lines if ln.startswith("::")]
    assert len(commands) == len(j["results"]) + len(j["notes"])  # one per verdict and note, no more
    for ln in commands:
        assert ln.startswith(("::error ", "::notice ", "::warning "))
        props, _, message = ln[2:].partition("::")
        _kind, _, props = props.partition(" ")
        for prop in props.split(","):
            key, _, value = prop.partition("=")
            assert key in ("file", "line", "title") and ":" not in value and "," not in value
        assert "\r" not in message
    assert not any(ln.startswith("::") for ln in lines if ln not in commands)


@pytest.mark.parametrize(
    "name",
    [
        "x\n::error file=a.yaml,line=1::injected",
        "x\r\n::add-mask::secret",
        "%0A::error::pct",
        "a,b:c::d",
        "::stop-commands::token",
    ],
)
def test_github_annotations_cannot_be_injected(spec_file, name):
    out, j = _github(spec_file, name, name)
    _check_annotations(out, j)


def test_github_annotations_escape_the_file_name(spec_file, tmp_path):
    out, j = _github(spec_file, "n", "l", "evil\n::error::x,y:z.yaml")
    _check_annotations(out, j)
    assert "file=" in out and "%0A" in out and "%3A" in out and "%2C" in out


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.sampled_from([*":,%\r\n\x1b\u202e ae", "::", "\n::", "%0A"]), min_size=1, max_size=12).map(
        "".join
    )
)
def test_no_name_produces_an_unintended_workflow_command(name):
    from convcalc.budget import CheckRun, Note, Verdict
    from convcalc.render.budget_view import check_github

    run = CheckRun(
        [Verdict(name, "macs", 10, 5, "flag", name=name), Verdict(name, "params", 1, 5, "budget", name=name)],
        [Note(name, "baseline_missing", f"no baseline for {name}", name)],
        [(name, name)],
    )
    out = check_github(run, {name: {"params": 3}})
    lines = out.split("\n")
    assert sum(ln.startswith("::") for ln in lines) == 3
