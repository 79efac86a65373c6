"""No table ever loses a digit: every command's table at 60, 80, 100, 120 and 200 columns, in a
terminal (colour, its width), piped with $COLUMNS, and written with --output.

For each table of each command's document, at each width: every number a row shows appears whole
in that row's line (or, when the table says it rounded to fit, as exactly the short form of the
number), no ellipsis touches a number, and every such number is one of the command's own JSON
output (so the table shows the same figures a program reads)."""

from __future__ import annotations

import json
import re

import pytest
from conftest import ROOT, run_cli

from convcalc.render import formats
from convcalc.render.doc import Delta, Doc, Name, Table, human
from convcalc.render.formats import table as table_format

EXAMPLE = f"{ROOT}/layers.example.yaml"
WIDTHS = [60, 80, 100, 120, 200]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _baseline(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("base") / "base.json"
    r = run_cli(
        "report",
        "zoo:mobilenet_v1",
        "--width-mult",
        "0.75",
        "--device",
        "orin",
        "-f",
        "json",
        "--output",
        str(path),
    )
    assert r.code == 0, r.err
    return str(path)


COMMANDS = {
    "report": ["report", EXAMPLE],
    "report-resnet50": ["report", "zoo:resnet50"],
    "report-top": ["report", "zoo:vgg16", "--top", "5"],
    "report-depth": ["report", "zoo:googlenet", "--depth", "1"],
    "report-multi": ["report", EXAMPLE, "zoo:alexnet"],
    "report-sweep": ["report", "zoo:mobilenet_v1", "--width-mult", "1,0.75,0.5,0.25"],
    "check": ["check", "zoo:resnet50", "--max-macs", "4G", "--max-params", "30M", "--max-memory", "200MiB"],
    "check-baseline": ["check", "zoo:mobilenet_v1", "--baseline", "BASELINE", "--max-increase", "5%"],
    "diff": ["diff", "zoo:shufflenet_v1_g3", "zoo:shufflenet_v1_g8"],
    "compare": ["compare", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5"],
    "compare-same": ["compare", "-c", "512", "--size", "14x14", "-o", "512", "-k", "3", "-p", "same"],
    "size": ["size", "224x224", "-k", "3", "-s", "2", "-p", "1", "-f", "table", "--explain"],
    "types": ["types"],
    "schema": ["schema", "-f", "table"],
    "zoo": ["zoo"],
    "conv": [
        "conv",
        "-c",
        "3",
        "--size",
        "224x224",
        "-o",
        "64",
        "-k",
        "7",
        "-s",
        "2",
        "-p",
        "3",
        "--explain",
    ],
    "separable": ["separable", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5", "--explain"],
    "transposed": ["transposed", "-c", "512", "--size", "4x4", "-o", "256", "-k", "4", "-s", "2", "-p", "1"],
    "shuffle": ["shuffle", "-c", "240", "--size", "28x28", "-o", "240", "-g", "3"],
    # memory traffic and latency (issue 14)
    "report-device": ["report", "zoo:resnet50", "--device", "h100"],
    "report-top-device": ["report", "zoo:mobilenet_v1", "--top", "5", "--device", "orin", "--dtype", "fp16"],
    "report-sweep-device": ["report", "zoo:mobilenet_v1", "--width-mult", "1,0.5", "--device", "rpi5"],
    "check-latency": [
        "check",
        "zoo:resnet50",
        "--max-latency",
        "1ms",
        "--device",
        "h100",
        "--max-traffic",
        "1GiB",
    ],
    "check-baseline-device": ["check", "zoo:mobilenet_v1", "--baseline", "BASELINE", "--device", "orin"],
    "diff-device": ["diff", "zoo:shufflenet_v1_g3", "zoo:shufflenet_v1_g8", "--device", "orin"],
    "compare-device": [
        "compare",
        "-c",
        "128",
        "--size",
        "56x56",
        "-o",
        "128",
        "-k",
        "3",
        "-p",
        "same",
        "--device",
        "h100",
    ],
    "separable-device": ["separable", "-c", "3", "--size", "12x12", "-o", "256", "-k", "5", "--device", "l4"],
}


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _baseline(tmp_path_factory)


def _args(name: str, baseline: str) -> list[str]:
    return [baseline if a == "BASELINE" else a for a in COMMANDS[name]]


def capture(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> Doc:
    """The document a command renders (whatever the format)."""
    seen: list[Doc] = []
    monkeypatch.setattr(formats, "emit", lambda doc, *a, **k: seen.append(doc))
    r = run_cli(*args)
    assert r.code in (0, 1), r.err
    assert len(seen) == 1
    return seen[0]


def json_numbers(obj: object) -> set[int]:
    out: set[int] = set()
    if isinstance(obj, bool):
        return out
    if isinstance(obj, int):
        out.add(obj)
    elif isinstance(obj, dict):
        for v in obj.values():
            out |= json_numbers(v)
    elif isinstance(obj, list):
        for v in obj:
            out |= json_numbers(v)
    return out


def whole(text: str, line: str) -> bool:
    return re.search(r"(?<![\d,.])" + re.escape(text) + r"(?![\d,.])", line) is not None


def check_table(table: Table, width: int, numbers: set[int], where: str) -> None:
    """Slice each numeric cell out of its row's line (columns sit at fixed offsets) and compare
    it with the number it stands for."""
    index: list[int] = []
    lines = table_format.table_lines(table, width, index=index)
    rows, _ = table.shown()
    guides = table_format.tree_guides(rows) if any(isinstance(r[0], Name) for r in rows) else None
    lay = table_format.fit(table, rows, guides, width)
    text = [ANSI.sub("", str(x.plain if hasattr(x, "plain") else x)) for x in lines]
    assert len(index) == len(rows)
    starts, pos = {}, 0
    for i in lay.keep:
        starts[i] = pos
        pos += lay.widths[i] + table_format.GAP
    for n, row in enumerate(rows):
        line = text[index[n]]
        name = row[0]
        summed = isinstance(name, Name) and name.kind in ("block", "more")
        for i in lay.keep:
            c, v = table.columns[i], row[i]
            if not c.numeric:
                continue
            cell = line[starts[i] : starts[i] + lay.widths[i]].strip()
            assert "…" not in cell, f"{where}: a number cut: {line!r}"
            value = v.value if isinstance(v, Delta) else v
            if not isinstance(value, int) or isinstance(value, bool):
                continue
            if lay.short and abs(value) >= 1000:
                shown = ("+" if isinstance(v, Delta) and value > 0 else "") + human(value, c.unit)
            else:
                shown = f"{value:+,}" if isinstance(v, Delta) and value else f"{value:,}"
            assert cell == shown, f"{where}: {shown!r} shown as {cell!r} in {line!r}"
            if not summed:
                assert abs(value) in numbers or value in numbers, (
                    f"{where}: {value} is not in the JSON output"
                )


def _numeric_part(line: str) -> str:
    """A line without its first column (names may be shortened with an ellipsis)."""
    return re.sub(r"^\S*(?: \(\S*\))?", "", line)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_no_number_is_cut_at_any_width(monkeypatch: pytest.MonkeyPatch, baseline: str, name: str) -> None:
    args = _args(name, baseline)
    doc = capture(monkeypatch, args)
    monkeypatch.undo()
    r = (
        run_cli(*args, "-f", "json")
        if "-f" not in args
        else run_cli(*[*args[: args.index("-f")], "-f", "json"])
    )
    assert r.code in (0, 1), r.err
    numbers = json_numbers(json.loads(r.out))
    tables = doc.tables() or ([doc.primary] if doc.primary else [])
    assert tables, name
    for width in WIDTHS:
        for k, t in enumerate(tables):
            check_table(t, width, numbers, f"{name} at {width}, table {k}")


def _pipe(monkeypatch: pytest.MonkeyPatch, args: list[str], width: int, tty: bool) -> str:
    import sys

    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    if tty:
        import io

        class Tty(io.StringIO):
            def isatty(self) -> bool:
                return True

        out = Tty()
        monkeypatch.setattr(sys, "stdout", out)
        from convcalc.cli import main

        code = main(args)
        monkeypatch.undo()
        assert code in (0, 1)
        return out.getvalue()
    r = run_cli(*args)
    assert r.code in (0, 1), r.err
    return r.out


@pytest.mark.parametrize(
    "name",
    [
        "report-resnet50",
        "report-sweep",
        "compare",
        "check-baseline",
        "diff",
        "zoo",
        "types",
        "report-device",
        "compare-device",
        "check-latency",
    ],
)
@pytest.mark.parametrize("tty", [False, True], ids=["pipe", "terminal"])
def test_output_fits_the_width_and_keeps_totals_whole(
    monkeypatch: pytest.MonkeyPatch, baseline: str, name: str, tty: bool
) -> None:
    args = _args(name, baseline)
    for width in WIDTHS:
        out = _pipe(monkeypatch, args, width, tty)
        plain = ANSI.sub("", out)
        if tty:
            assert "\x1b[" in out  # a terminal gets colour
        for line in plain.splitlines():
            assert len(line) <= width, f"{name} at {width}: {line!r}"
        if name == "report-resnet50":
            assert "25,557,032" in plain and "4,089,184,256" in plain
            for line in plain.splitlines():
                assert not re.search(r"\d…|…\d", _numeric_part(line)), line


def test_output_file_is_whole_and_unclipped(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    path = tmp_path / "r.txt"
    r = run_cli("report", "zoo:resnet50", "--output", str(path))
    assert r.code == 0 and r.out == ""
    text = path.read_text(encoding="utf-8")
    d = json.loads(run_cli("report", "zoo:resnet50", "-f", "json").out)
    assert "not shown" not in text and "rounded" not in text  # every column, exact numbers
    for layer in d["layers"][:4]:
        assert f"{layer['macs']:,}" in text
    names = [ln.split()[0] for ln in text.splitlines() if ln.startswith(("├", "└", "layers"))]
    assert not any("…" in n for n in names)


def test_wide_shows_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    out = run_cli("report", EXAMPLE, "--wide").out
    head = next(line for line in out.splitlines() if line.startswith("layer "))
    for h in ("FLOPs", "activations", "receptive field", "MACs share"):
        assert h in head
    assert "not shown" not in out


def test_columns_chooses_and_names_a_bad_key() -> None:
    r = run_cli("report", EXAMPLE, "--columns", "name,macs", "-f", "csv")
    assert r.code == 0 and r.out.splitlines()[0] == "name,macs"
    r = run_cli("report", EXAMPLE, "--columns", "name,bogus")
    assert r.code == 2 and "no column 'bogus'" in r.err and "macs" in r.err


def test_dropped_columns_are_named_with_the_options_that_bring_them_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    out = run_cli("report", "zoo:resnet50").out.replace("\n  ", " ")
    assert "not shown, to fit 80 columns:" in out and "FLOPs" in out
    assert "--wide" in out and "--columns" in out


def test_short_units_are_said(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "60")
    out = run_cli("report", "zoo:resnet50").out.replace("\n  ", " ")
    assert "4.09G" in out and "numbers rounded to fit 60 columns" in out


def test_explain_wraps_between_terms() -> None:
    from convcalc.render.formats.table import wrap_terms

    line = "MACs = C_out * C_in/g * prod(k) * prod(out) = 256 * 3 * 25 * 64 = 1,228,800"
    for width in (20, 30, 40, 60):
        pieces = wrap_terms(line, width)
        assert " ".join(p.strip() for p in pieces) == line
        for p in pieces[1:]:
            assert p.strip().split(" ")[0] in table_format.OPS  # each piece starts with an operator
        assert "1,228,800" in pieces[-1]
