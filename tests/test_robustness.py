"""Bounded, exact and safe under hostile input, the second round (issue 12): exit codes
whatever happens to stdout, messages that name what the user wrote, exact numbers, bounded
diffs, and a work budget for random specs and flags.

Speed is never measured here (timings belong to benchmarks/): bounds are counted, either as
lines of convcalc executed (tests/workmeter.py) or as the steps an algorithm reports.
Subprocess tests carry a generous ``timeout=`` only as a guard against a hang.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from workmeter import count_lines

PREFIX = "convcalc: error: "
HANG_GUARD_S = 300  # subprocesses: a guard against a hang, not a measurement
CONVCALC = [sys.executable, "-m", "convcalc"]


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "CLICOLOR_FORCE", "COLUMNS")}
    e.update(NO_COLOR="1", PYTHONPATH=ROOT, **extra)
    return e


def one_line(r, *fragments: str, code: int = 2) -> str:
    assert r.code == code, r
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), r.err
    msg = lines[0][len(PREFIX) :]
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    for bad in ("Traceback", "internal error", "NoneType", "YList", "YMap", "True'", "null null"):
        assert bad not in msg, msg
    return msg


SMALL = "name: small\ninput: [3, 16, 16]\nlayers:\n  - {type: conv, out_channels: 8, kernel: 3}\n"


def big_repeat(times: int) -> str:
    return (
        "name: big\ninput: [4, 8, 8]\nlayers:\n"
        f"  - type: repeat\n    times: {times}\n    layers:\n"
        "      - {type: conv, out_channels: 4, kernel: 3, padding: 1}\n"
    )


# -- exit codes whatever happens to stdout -----------------------------------------------------
@pytest.mark.parametrize(
    "args, code",
    [
        (["check", "zoo:resnet50", "--max-macs", "100G"], 0),
        (["check", "zoo:resnet50", "--max-macs", "1G"], 1),
        (["check", "zoo:resnet50", "--max-macs", "100G", "-f", "json"], 0),
        (["check", "zoo:resnet50", "--max-macs", "1G", "-f", "github"], 1),
        (["report", "zoo:resnet50", "--format", "json"], 0),
        (["report", "zoo:resnet50"], 0),
        (["report", "zoo:resnet50", "-f", "csv"], 0),
        (["diff", "zoo:resnet50", "zoo:vgg16", "--all"], 0),
        (["zoo"], 0),
        (["conv", "-c", "3", "--size", "8", "-o", "4", "-k", "3", "--explain"], 0),
    ],
)
def test_a_closed_pipe_keeps_the_exit_code_of_the_work(args, code):
    """The reader is gone before the first byte: every write fails with EPIPE. The run must
    end quietly with the exit code its work had (0 pass, 1 over budget), not Click's 1."""
    p = subprocess.Popen(CONVCALC + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    p.stdout.close()
    err = p.stderr.read()
    assert p.wait(timeout=HANG_GUARD_S) == code, err
    assert err == b"", err


@pytest.mark.parametrize("limit, code", [("100G", 0), ("1G", 1)])
def test_check_piped_into_head_with_pipefail(limit, code):
    """The issue's own case, through a shell: `set -o pipefail; convcalc check ... | head -1`."""
    cmd = " ".join(CONVCALC) + f" check zoo:resnet50 --max-macs {limit} | head -1"
    r = subprocess.run(
        ["bash", "-c", "set -o pipefail; " + cmd],
        capture_output=True,
        text=True,
        env=env(),
        timeout=HANG_GUARD_S,
    )
    assert r.returncode == code, r.stderr
    assert r.stdout.startswith("convcalc check ") and r.stdout.count("\n") == 1
    assert r.stderr == ""


@pytest.mark.parametrize(
    "args, code",
    [
        (["check", "zoo:alexnet", "--max-macs", "1G"], 0),
        (["check", "zoo:alexnet", "--max-macs", "1M"], 1),
        (["report", "zoo:alexnet", "-f", "json"], 0),
        (["report", "zoo:alexnet", "-f", "json", "--output", "/dev/stdout"], 0),
    ],
)
def test_a_closed_stdout_keeps_the_exit_code_of_the_work(args, code):
    """Started with stdout closed (`convcalc ... >&-`: Python then has no sys.stdout), or
    writing through /dev/stdout into a pipe nobody reads."""
    if "/dev/stdout" in args:
        p = subprocess.Popen(CONVCALC + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
        p.stdout.close()
    else:
        p = subprocess.Popen(
            ["bash", "-c", 'exec "$@" >&-', "convcalc", *CONVCALC, *args], stderr=subprocess.PIPE, env=env()
        )
    err = p.stderr.read()
    assert p.wait(timeout=HANG_GUARD_S) == code, err
    assert err == b"", err


def test_ctrl_c_says_interrupted_and_exits_130(tmp_path):
    spec = tmp_path / "big.yaml"
    spec.write_text(big_repeat(200_000))
    p = subprocess.Popen(
        CONVCALC + ["report", str(spec), "--format", "json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env(),
    )
    assert p.stdout.readline().startswith(b"{")  # it is working (and will block on the full pipe)
    p.send_signal(signal.SIGINT)
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=HANG_GUARD_S) == 130
    assert err == PREFIX + "interrupted\n"


def test_keyboard_interrupt_anywhere_is_exit_130(monkeypatch):
    from convcalc import network

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(network, "walk", interrupted)
    r = run_cli("report", "zoo:alexnet")
    assert (r.code, r.err) == (130, PREFIX + "interrupted\n")


def test_bare_convcalc_says_what_to_do():
    r = run_cli()
    msg = one_line(r, "no command given", "convcalc --help")
    for command in ("report", "check", "diff", "conv", "zoo"):
        assert command in msg


def test_help_and_version_exit_0():
    r = run_cli("--help")
    assert r.code == 0 and "report" in r.out and r.err == ""
    r = run_cli("--version")
    assert r.code == 0 and r.out.startswith("convcalc ")


def test_a_file_name_that_is_not_utf8(tmp_path):
    """Python carries such a name as lone surrogates: printing it to a strict UTF-8 stdout or
    into a UTF-8 file raised UnicodeEncodeError (exit 3). It is shown with a backslash escape."""
    d = os.fsencode(str(tmp_path))
    path = os.path.join(d, b"caf\xe9.yaml")
    with open(path, "wb") as fh:
        fh.write(SMALL.replace("name: small\n", "").encode())
    name = os.fsdecode(path)
    out = tmp_path / "out.json"
    r = run_cli("report", name, "-f", "json", "--output", str(out))
    assert (r.code, r.err) == (0, ""), r
    text = out.read_bytes().decode("utf-8")  # valid UTF-8, whatever the name
    assert "\\udce9" in text
    for args in (["report", name], ["report", name, "-f", "csv"], ["check", name, "--max-macs", "1"]):
        p = subprocess.run(
            CONVCALC + args, capture_output=True, env=env(PYTHONIOENCODING="utf-8"), timeout=HANG_GUARD_S
        )
        assert p.returncode in (0, 1), p.stderr
        assert b"Traceback" not in p.stderr and b"internal error" not in p.stderr
        p.stdout.decode("utf-8")


# -- messages name what the user wrote ----------------------------------------------------------
@pytest.mark.parametrize(
    "text, line, fragments",
    [
        ("input: [3, 8, 8]\non: 1\nlayers: [{type: identity}]\n", 2, ["unknown key 'on'"]),
        ("input: [3, 8, 8]\nyes: 1\nlayers: [{type: identity}]\n", 2, ["unknown key 'yes'"]),
        ("input: [3, 8, 8]\nnull: 1\nlayers: [{type: identity}]\n", 2, ["unknown key 'null'"]),
        ("input: [3, 8, 8]\nlayers: [null]\n", 2, ["got null"]),
        ("input: [3, 8, 8]\nlayers: [{type: null}]\n", 2, ["type: must be a string, got null"]),
        (
            "input: [3, 8, 8]\nbudget: {macs: null}\nlayers: [{type: identity}]\n",
            2,
            ["budget.macs", "got null"],
        ),
        ("input: [3, 8, 8]\nbudget: {macs: [1]}\nlayers: [{type: identity}]\n", 2, ["got a list [1]"]),
        ("input: [3, 8, 8]\nbudget: {macs: true}\nlayers: [{type: identity}]\n", 2, ["got a boolean true"]),
        ("input: [3, 8, 8]\nbudget: {macs: {a: 1}}\nlayers: [{type: identity}]\n", 2, ["got a mapping"]),
        ("input: [3, 8, 8]\nbudget: {macs: 1.5}\nlayers: [{type: identity}]\n", 2, ["whole number", "1.5"]),
        ("input: [3, 8, 8]\nbudget: {macs: .inf}\nlayers: [{type: identity}]\n", 2, [".inf"]),
    ],
)
def test_messages_show_values_as_written(spec_file, text, line, fragments):
    path = spec_file(text)
    msg = one_line(run_cli("check", path), *fragments)
    assert msg.startswith(f"{path}:{line}: "), msg


@pytest.mark.parametrize(
    "value, fragments",
    [
        ("010", ["YAML 1.1 reads 010 as an octal number (8)", "(10)", "'010'"]),
        ("0_17", ["octal"]),
        ("1:30", ["YAML 1.1 reads 1:30 as the base-60 number 90", "'1:30'"]),
        ("1:30.5", ["base-60"]),
        ("yes", ["YAML 1.1 reads yes as true"]),
        ("No", ["YAML 1.1 reads No as false"]),
        ("on", ["YAML 1.1 reads on as true"]),
        ("OFF", ["YAML 1.1 reads OFF as false"]),
        ("２２４", ["non-ASCII digit '２'", "0-9"]),
    ],
)
def test_yaml_11_surprises_are_errors_at_their_line(spec_file, value, fragments):
    path = spec_file(f"input: [3, 8, 8]\nlayers:\n  - type: conv\n    kernel: 1\n    out_channels: {value}\n")
    msg = one_line(run_cli("report", path), *fragments)
    assert msg.startswith(f"{path}:5: "), msg


@pytest.mark.parametrize(
    "key, value",
    [
        ("name", "'010'"),
        ("name", "'yes'"),
        ("name", "'1:30'"),
        ("name", "10"),
        ("bias", "true"),
        ("bias", "False"),
        ("out_channels", "0x10"),
        ("out_channels", "1_000"),
        ("out_channels", "0"),
    ],
)
def test_what_yaml_11_reads_plainly_still_works(spec_file, key, value):
    """The positive control: quoted words stay text; decimal, hex, true/false are fine."""
    layer = {"name": "n", "bias": "true", "out_channels": "4", key: value}
    path = spec_file(
        "input: [3, 8, 8]\nlayers:\n  - {type: conv, kernel: 1, "
        + ", ".join(f"{k}: {v}" for k, v in layer.items())
        + "}\n"
    )
    r = run_cli("report", path, "-f", "json")
    if value == "0":
        one_line(r, "out_channels: must be >= 1, got 0")
        return
    assert r.code == 0, r
    got = json.loads(r.out)["layers"][0]
    if key == "name":
        assert got["label"] == value.strip("'")


@pytest.mark.parametrize(
    "args",
    [
        ["conv", "-c", "3", "--size", "２２４", "-o", "4", "-k", "3"],
        ["conv", "-c", "３", "--size", "8", "-o", "4", "-k", "3"],
        ["conv", "-c", "3", "--size", "8", "-o", "４", "-k", "3"],
        ["conv", "-c", "3", "--size", "8", "-o", "4", "-k", "٣"],
        ["conv", "-c", "3", "--size", "8", "-o", "4", "-k", "3", "--batch", "２"],
        ["check", "zoo:alexnet", "--max-macs", "２３０M"],
        ["check", "zoo:alexnet", "--max-macs", "1G", "--width-mult", "０.5"],
        ["report", "zoo:alexnet", "--resolution", "２２４"],
        ["report", "zoo:alexnet", "--width-mult", "0.５"],
        ["report", "zoo:alexnet", "--top", "５"],
        ["size", "２２４", "-k", "3"],
        ["compare", "-c", "８", "--size", "8", "-o", "8"],
    ],
)
def test_non_ascii_digits_are_refused_everywhere_alike(args):
    one_line(run_cli(*args), "non-ASCII digit", "0-9")


def test_an_empty_spec_name_says_so():
    msg = one_line(run_cli("report", ""), "empty file name")
    assert msg.startswith("''")
    one_line(run_cli("diff", "", "zoo:alexnet"), "empty file name")


# -- exact numbers -----------------------------------------------------------------------------
def _check_json(spec_file, budget: str, *flags: str) -> dict:
    path = spec_file(f"input: [3, 8, 8]\nbudget: {{macs: {budget}}}\nlayers: [{{type: identity}}]\n")
    r = run_cli("check", path, "-f", "json", *flags)
    assert r.code in (0, 1), r
    return json.loads(r.out)


@pytest.mark.parametrize(
    "written, exact",
    [
        ("4.5e+22", 45 * 10**21),
        ("4.5E+22", 45 * 10**21),
        ("1.0e+25", 10**25),
        ("123456789012345678901.0", 123456789012345678901),  # 21 digits: no float holds it
        ("2.5e+3", 2500),
        ("1_000.0", 1000),
        ("4.5e22", None),  # YAML 1.1 has no float without a sign in the exponent: the string "4.5e22"
    ],
)
def test_budget_limits_in_yaml_are_exact(spec_file, written, exact):
    d = _check_json(spec_file, written)
    [v] = d["results"]
    if exact is None:
        exact = 45 * 10**21
    assert v["limit"] == exact
    assert type(v["limit"]) is int


def test_width_mult_is_exact(spec_file):
    c = 100000000000000003
    path = spec_file(f"input: [3, 4, 4]\nlayers:\n  - {{type: conv, out_channels: {c}, kernel: 1}}\n")
    for args in (("report", path, "-f", "json", "--width-mult", "0.5"), ("diff", path, path, "-f", "json")):
        r = run_cli(*args)
        assert r.code == 0, r
    r = run_cli("report", path, "-f", "json", "--width-mult", "0.5")
    assert json.loads(r.out)["layers"][0]["output_shape"][0] == c // 2 == 50000000000000001
    r = run_cli("report", path, "-f", "json", "--width-mult", "0.1,0.7")
    shapes = [rep["layers"][0]["output_shape"][0] for rep in json.loads(r.out)["reports"]]
    assert shapes == [c // 10, c * 7 // 10]


@settings(max_examples=200, deadline=None)
@given(c=st.integers(1, 10**60), num=st.integers(1, 10**6), places=st.integers(0, 6))
def test_layer_scaled_is_floor_of_the_exact_product(c, num, places):
    """Layer.scaled(alpha) == floor(c * alpha) with alpha the decimal written: as text
    (ExactFloat) and as a float (the decimal its repr shows)."""
    from convcalc.layers import REGISTRY
    from convcalc.numbers import ExactFloat

    text = str(Decimal(num).scaleb(-places))
    alpha = Fraction(text)
    conv = REGISTRY["conv"].build({"out_channels": c, "kernel": 1})
    expected = max(1, c * alpha.numerator // alpha.denominator)
    assert conv.scaled(ExactFloat(text)).params["out_channels"] == expected
    if len(text.replace(".", "").lstrip("0")) <= 15:  # a float holds this decimal: repr gives it back
        assert conv.scaled(float(text)).params["out_channels"] == expected


@settings(max_examples=300, deadline=None)
@given(n=st.one_of(st.integers(0, 10**6), st.integers(0, 10**40), st.integers(-(10**20), 0)))
def test_human_is_exact_and_sane(n):
    """Two decimals, rounded half to even from the exact value (Decimal is the oracle), below
    the largest suffix; the whole number beyond it. Never a float's digits."""
    from convcalc.numbers import human

    text = human(n)
    a = abs(n)
    scales = [("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3)]
    chosen = next(((s, sc) for s, sc in scales if a >= sc), None)
    if chosen is None:
        assert text == str(n)
        return
    s, sc = chosen
    q = (Decimal(a) / Decimal(sc)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    if q >= 1000:
        bigger = [x for x in scales if x[1] > sc]
        if not bigger:
            assert text == str(n)  # beyond 1000P: exact, no suffix
            return
        s, sc = bigger[-1]
        q = (Decimal(a) / Decimal(sc)).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
    assert text == ("-" if n < 0 else "") + f"{q}{s}"


def test_human_of_a_huge_number_is_the_number():
    from convcalc.numbers import human

    n = 8999999999999999684728251277877311353552633856 * 10**15
    assert human(n) == str(n)
    assert human(2**60, "B") == f"{2**60} B"
    assert human(3 * 2**40, "B") == "3.00 TiB"


@pytest.mark.parametrize(
    "args",
    [
        ["report", "zoo:alexnet", "--resolution", "1e30"],
        ["report", "zoo:alexnet", "--resolution", "1.5"],
        ["check", "zoo:alexnet", "--resolution", "1e30"],
        ["report", "zoo:alexnet", "--width-mult", "1e99"],
        ["report", "zoo:alexnet", "--width-mult", "nan"],
        ["check", "zoo:alexnet", "--width-mult", "inf"],
        ["conv", "-c", "9" * 2200, "--size", "8", "-o", "9" * 2200, "-k", "1"],
        ["conv", "-c", "3", "--size", "9" * 200, "-o", "4", "-k", "1", "-f", "json"],
        ["report", "zoo:alexnet", "--batch", "9" * 5000],
        ["check", "zoo:alexnet", "--max-macs", "9" * 100],
    ],
)
def test_absurd_option_values_are_exit_2(args):
    one_line(run_cli(*args))


def test_a_huge_resolution_is_an_answer_or_one_line():
    r = run_cli("report", "zoo:alexnet", "--resolution", str(10**30), "-f", "json")
    assert r.code in (0, 2), r
    if r.code == 2:
        one_line(r)


def test_the_digit_limit_is_the_documented_one():
    from convcalc.numbers import MAX_INT_DIGITS

    ok = "9" * MAX_INT_DIGITS
    r = run_cli("conv", "-c", "3", "--size", "8", "-o", ok, "-k", "1", "-f", "json")
    assert r.code == 0, r
    assert json.loads(r.out)["output_shape"][0] == int(ok)
    one_line(
        run_cli("conv", "-c", "3", "--size", "8", "-o", ok + "9", "-k", "1"),
        f"limit is {MAX_INT_DIGITS} digits",
    )
    one_line(run_cli("conv", "-c", "3", "--size", "8", "-o", "4", "-k", "1", "--batch", ok + "9"), "digits")


# -- saved reports: one validator, exit 2 for anything malformed ---------------------------------
@pytest.mark.parametrize(
    "field, value, fragment",
    [
        ("label", ["a"], "'label' must be a string or null, got [\"a\"]"),
        ("label", 3, "'label' must be a string or null"),
        ("name", None, "'name' must be a string, got null"),
        ("output_shape", [1, "2"], "'output_shape' must be a list of integers"),
        ("macs", 1.5, "'macs' must be an integer >= 0, got 1.5"),
    ],
)
def test_diff_with_a_malformed_saved_layer_is_exit_2(tmp_path, spec_file, field, value, fragment):
    r = run_cli("report", spec_file(SMALL), "-f", "json")
    doc = json.loads(r.out)
    doc["layers"][0][field] = value
    saved = tmp_path / "saved.json"
    saved.write_text(json.dumps(doc))
    for args in (
        ("diff", str(saved), spec_file(SMALL)),
        ("diff", spec_file(SMALL), str(saved), "-f", "json"),
    ):
        msg = one_line(run_cli(*args), fragment)
        assert msg.startswith(f"{saved}: layers[0]: "), msg


def test_baseline_and_diff_read_saved_reports_through_one_validator(monkeypatch, tmp_path, spec_file):
    from convcalc import saved

    calls = []
    real = saved.check_report
    monkeypatch.setattr(saved, "check_report", lambda *a, **k: calls.append(a[2:]) or real(*a, **k))
    spec = spec_file(SMALL)
    out = tmp_path / "base.json"
    assert run_cli("report", spec, "-f", "json", "--output", str(out)).code == 0
    assert run_cli("check", spec, "--baseline", str(out)).code == 0
    assert run_cli("diff", str(out), spec).code == 0
    assert len(calls) >= 2


# -- diff: the alignment's work is bounded --------------------------------------------------------
def _periodic(period: int, n: int = 2000) -> str:
    lines = [f"name: p{period}", "input: [8, 8, 8]", "layers:"]
    lines += [f"  - {{type: conv, out_channels: {8 * (1 + i % period)}, kernel: 1}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def test_diff_of_periodic_specs_is_bounded_by_work(spec_file):
    """Channels alternating with periods 2 and 3 (the issue's 43 s case): the sequence
    alignment counts its steps and stays within MAX_ALIGN_WORK; every layer is shown once."""
    from convcalc import parse_spec, walk
    from convcalc.diff import MAX_ALIGN_WORK, Work, align_by_sequence, diff_reports
    from convcalc.export import report_dict

    a = report_dict(walk(parse_spec(_periodic(2))))
    b = report_dict(walk(parse_spec(_periodic(3))))
    work = Work(MAX_ALIGN_WORK)
    pairs = align_by_sequence(a["layers"], b["layers"], work)
    assert work.used <= MAX_ALIGN_WORK
    if pairs is not None:
        assert sorted(i for i, _ in pairs if i is not None) == list(range(2000))
        assert sorted(j for _, j in pairs if j is not None) == list(range(2000))
    d = diff_reports(a, b)
    assert sum(d.counts().values()) >= 2000
    r = run_cli("diff", spec_file(_periodic(2)), spec_file(_periodic(3)), "-f", "json")
    assert r.code == 0, r


def test_an_alignment_over_budget_falls_back_to_names():
    from convcalc.diff import Work, align_by_sequence, diff_reports

    a = [
        {"name": f"l[{i}]", "type": "conv", "output_shape": [i % 2 + 1], "params": 0, "macs": 0}
        for i in range(300)
    ]
    b = [
        {"name": f"l[{i}]", "type": "conv", "output_shape": [i % 3 + 1], "params": 0, "macs": 0}
        for i in range(300)
    ]
    work = Work(1000)
    assert align_by_sequence(a, b, work) is None
    assert work.used > 1000  # it stopped at the first step over the budget
    d = diff_reports({"layers": a, "totals": {}}, {"layers": b, "totals": {}}, max_work=1000)
    assert d.alignment == "name" and len(d.rows) == 300


def _lcs(a: list, b: list) -> int:
    """The textbook dynamic programme: the oracle for the alignments' optimality."""
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


@settings(max_examples=300, deadline=None)
@given(
    a=st.lists(st.sampled_from("abc"), max_size=30),
    b=st.lists(st.sampled_from("abc"), max_size=30),
)
def test_sequence_alignment_is_a_longest_common_subsequence(a, b):
    from convcalc.diff import MAX_ALIGN_WORK, Work, common

    pairs = common(a, b, 0, len(a), 0, len(b), Work(MAX_ALIGN_WORK))
    assert all(a[i] == b[j] for i, j in pairs)
    assert all(p[0] < q[0] and p[1] < q[1] for p, q in itertools.pairwise(pairs))
    assert len(pairs) == _lcs(a, b)


@settings(max_examples=200, deadline=None)
@given(perm=st.permutations(list(range(12))), drop=st.sets(st.integers(0, 11)))
def test_name_alignment_keeps_the_most_names_in_order(perm, drop):
    from convcalc.diff import align_by_name

    a = [{"name": str(i)} for i in range(12)]
    b = [{"name": str(i)} for i in perm if i not in drop]
    pairs = align_by_name(a, b)
    matched = [(i, j) for i, j in pairs if i is not None and j is not None]
    assert all(a[i]["name"] == b[j]["name"] for i, j in matched)
    assert len(matched) == _lcs([x["name"] for x in a], [x["name"] for x in b])
    assert sorted(i for i, _ in pairs if i is not None) == list(range(12))
    assert sorted(j for _, j in pairs if j is not None) == list(range(len(b)))


def test_head_and_tail_trimming_costs_work_in_proportion(spec_file):
    """An insertion in the middle of 3,000 layers: the common head and tail are paired in
    linear work (this was a 5-second wall-clock assertion)."""
    from convcalc import parse_spec, walk
    from convcalc.diff import Work, align_by_sequence
    from convcalc.export import report_dict

    body = "".join(
        "  - {type: conv, out_channels: 8, kernel: 3, padding: same}\n  - {type: activation}\n"
        for _ in range(1500)
    )
    head = "name: deep\ninput: [8, 8, 8]\nlayers:\n"
    a = report_dict(walk(parse_spec(head + body + body)))["layers"]
    b = report_dict(walk(parse_spec(head + body + "  - {type: batchnorm}\n" + body)))["layers"]
    work = Work(10**9)
    pairs = align_by_sequence(a, b, work)
    assert pairs is not None and [p for p in pairs if p[0] is None] == [(None, 3000)]
    assert work.used <= 4 * (len(a) + len(b))


# -- work in proportion to the size of the input, whatever the values ------------------------------
# Every value goes up to 10**40 and beyond: channels, groups, features, input sizes, --batch,
# --resolution, and the spatial fields too (kernel, stride, dilation, padding, scale, output
# sizes), since receptive fields are computed with work bounded per layer by constants
# (receptive.py), not by enumerating a layer's taps; adaptive pooling is among the types drawn.
BIG = st.one_of(st.integers(1, 8), st.integers(1, 10**12), st.integers(1, 10**40))


def _field_value(kind):
    from convcalc.layers import fields as F

    ints = BIG
    if isinstance(kind, F.Padding):
        return st.one_of(
            st.sampled_from(["same", "valid"]) if kind.words else st.just(0), st.integers(0, 4), ints
        )
    if isinstance(kind, F.Dims):
        return st.one_of(ints, st.lists(ints, min_size=1, max_size=3))
    if isinstance(kind, F.Int):
        return ints
    if isinstance(kind, F.Bool):
        return st.booleans()
    if isinstance(kind, F.Choice):
        return st.sampled_from(kind.options)
    if isinstance(kind, F.Float):
        top = kind.maximum if kind.maximum is not None else 10.0
        return st.floats(kind.minimum, top, allow_nan=False)
    return st.text("abc", max_size=3)


def _layer():
    from convcalc.layers import REGISTRY

    names = sorted(n for n, c in REGISTRY.items() if c.arity == 1 and not c.ref_fields)

    @st.composite
    def layer(draw):
        name = draw(st.sampled_from(names))
        cls = REGISTRY[name]
        d = {"type": name}
        for f in cls.fields:
            if f.required or draw(st.integers(0, 3)) == 0:
                d[f.name] = draw(_field_value(f.kind))
        return d

    return layer()


def _block(inner):
    return st.one_of(
        st.builds(lambda ls: {"type": "sequential", "layers": ls}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda ls: {"type": "residual", "body": ls}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(
            lambda ls, t: {"type": "repeat", "times": t, "layers": ls},
            st.lists(inner, min_size=1, max_size=2),
            st.integers(1, 4),
        ),
    )


RANDOM_SPEC = st.fixed_dictionaries(
    {
        "input": st.lists(st.sampled_from([3, 16, 224, 10**12, 10**50, 10**90]), min_size=2, max_size=4),
        "layers": st.lists(st.recursive(_layer(), _block, max_leaves=6), min_size=1, max_size=6),
    },
    optional={"budget": st.fixed_dictionaries({"macs": st.sampled_from(["1", "600M", "1P"])})},
)
HUGE_SIZES = st.sampled_from([10**6, 10**12, 10**40, 10**90])


@st.composite
def _valid_spec(draw):
    """A spec that is valid whatever its (huge) channels and sizes: the walk runs to the end."""
    c = draw(BIG)
    dims = draw(st.integers(1, 3))
    body = st.one_of(
        st.builds(
            lambda o, k, s: {"type": "conv", "out_channels": o, "kernel": k, "stride": s, "padding": "same"},
            BIG,
            st.integers(1, 5),
            st.just(1),
        ),
        st.builds(lambda o: {"type": "pointwise", "out_channels": o}, BIG),
        st.builds(lambda k: {"type": "depthwise", "kernel": k, "padding": "same"}, st.integers(1, 5)),
        st.builds(lambda o: {"type": "separable", "out_channels": o, "kernel": 3, "padding": 1}, BIG),
        st.builds(
            lambda k: {"type": "pool", "kernel": k, "stride": 1, "padding": k // 2},
            st.sampled_from([1, 3, 5]),
        ),
        st.sampled_from([{"type": "batchnorm"}, {"type": "activation", "fn": "relu"}, {"type": "identity"}]),
        st.builds(lambda ls: {"type": "residual", "body": ls}, st.just([{"type": "batchnorm"}])),
    )
    layers = draw(st.lists(body, min_size=1, max_size=6))
    layers += [{"type": "global_pool"}, {"type": "flatten"}, {"type": "linear", "out_features": draw(BIG)}]
    return {"input": [c] + [draw(HUGE_SIZES) for _ in range(dims)], "layers": layers}


FLAGS = st.lists(
    st.sampled_from(
        [
            ["--batch", "3"],
            ["--batch", str(10**40)],
            ["--width-mult", "0.5"],
            ["--width-mult", "0.1,2.5"],
            ["--resolution", "7"],
            ["--resolution", str(10**12)],
            ["--depth", "0"],
            ["--top", "2"],
            ["-f", "json"],
            ["-f", "csv"],
            ["-f", "markdown"],
        ]
    ),
    max_size=3,
    unique_by=lambda f: f[0],
)
BASE_WORK = 200_000  # lines of convcalc: start-up, options, a report's fixed parts (~3,000 measured)
WORK_PER_BYTE = 500  # per byte of spec and expansion (a ~40-byte layer costs ~400 lines: ~10 a byte)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(spec=st.one_of(RANDOM_SPEC, _valid_spec()), flags=FLAGS, command=st.sampled_from(["report", "check"]))
def test_random_specs_and_flags_finish_within_work_proportional_to_their_size(tmp_path, spec, flags, command):
    """Random specs from every registered layer type with values up to 10**40 (see above for
    the spatial fields), and random flags: the lines of convcalc executed stay within
    BASE_WORK + WORK_PER_BYTE * (bytes of the spec x the layers each byte expands to, at most
    4 * 4 here). A loop over a value (a size, a count) would blow through it at once."""
    import yaml

    text = yaml.safe_dump(spec, sort_keys=False)
    p = tmp_path / "random.yaml"
    p.write_text(text)
    args = [command, str(p)] + [
        x
        for f in flags
        for x in f
        if command == "report" or f[0] in ("--batch", "--width-mult", "--resolution", "-f")
    ]
    if command == "check":
        args = [a if a not in ("csv", "markdown") else "json" for a in args]
    expansion = 16  # repeat (times <= 4) inside repeat at most
    limit = BASE_WORK + WORK_PER_BYTE * len(text.encode()) * expansion
    r, _ = count_lines(lambda: run_cli(*args), limit=limit)
    assert r.code in ((0, 1, 2) if command == "check" else (0, 2)), r
    assert "Traceback" not in r.err and "internal error" not in r.err, r


# -- the test suite itself: deterministic in CI ----------------------------------------------------
def test_hypothesis_is_derandomized_in_ci():
    """CONVCALC_CI=1 (as .ci/run sets it) loads the "ci" profile: the same examples every run,
    no database; elsewhere "dev" explores at random. The profile is the one in force."""
    ci = settings.get_profile("ci")
    assert ci.derandomize is True and ci.database is None
    assert settings.get_profile("dev").derandomize is False
    wanted = os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CONVCALC_CI") == "1" else "dev")
    assert settings.default.derandomize == settings.get_profile(wanted).derandomize


def test_no_test_module_overrides_the_profile_or_times_itself():
    """The profile decides randomness (no module sets derandomize or database), and no test
    asserts on the clock (timings belong to benchmarks/)."""
    import re

    here = os.path.dirname(os.path.abspath(__file__))
    for name in sorted(os.listdir(here)):
        if not name.endswith(".py") or name == "conftest.py":
            continue
        with open(os.path.join(here, name), encoding="utf-8") as fh:
            text = fh.read()
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
        assert not re.search(r"\b(derandomize|database)\s*=(?!=)", code), name
        assert not re.search(r"\b(perf_counter|process_time)\(|\btime\.time\(", code), name


# -- convcalc.numbers, directly ------------------------------------------------------------------
def test_exact_reads_every_kind_of_number():
    from convcalc.numbers import ExactFloat, exact

    assert exact(Fraction(1, 3)) == Fraction(1, 3)
    assert exact(7) == 7 and exact(0.7) == Fraction(7, 10) and exact("0.7") == Fraction(7, 10)
    assert exact(Decimal("1.25")) == Fraction(5, 4)
    assert exact(ExactFloat("0.30000000000000000001")) == Fraction(30000000000000000001, 10**20)
    for bad in (float("inf"), float("nan"), Decimal("NaN")):
        with pytest.raises(ValueError, match="finite"):
            exact(bad)
    with pytest.raises(TypeError):
        exact(True)


def test_exact_float_behaves_as_a_float_and_pickles():
    import pickle

    from convcalc.numbers import ExactFloat

    x = ExactFloat("0.1")
    assert x == 0.1 and f"{x:g}" == "0.1" and json.dumps(x) == "0.1"
    y = pickle.loads(pickle.dumps(x))
    assert y == x and y.exact == Fraction(1, 10)


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("x", "must be a number"),
        ("1e31", "out of range"),
        ("1" * 41, "more than 40 significant digits"),
        ("٣", "non-ASCII digit"),
    ],
)
def test_parse_decimal_refusals(text, fragment):
    from convcalc.numbers import parse_decimal

    with pytest.raises(ValueError, match=fragment):
        parse_decimal(text)


def test_parse_int_and_the_size_check():
    from convcalc.numbers import MAX_INT_DIGITS, check_int_size, parse_int

    assert parse_int(" 1_000 ") == 1000 and parse_int("-5") == -5
    for bad in ("1.0", "", "1__0", "0x10"):
        with pytest.raises(ValueError, match="must be an integer"):
            parse_int(bad)
    assert check_int_size(10**MAX_INT_DIGITS - 1) == 10**MAX_INT_DIGITS - 1
    for bad in (10**MAX_INT_DIGITS, -(10**MAX_INT_DIGITS)):
        with pytest.raises(ValueError, match="too long"):
            check_int_size(bad)


def test_floor_times_with_every_kind_of_factor():
    from convcalc.numbers import ExactFloat, floor_times

    c = 100000000000000003
    for factor in (0.5, ExactFloat("0.5"), Fraction(1, 2), Decimal("0.5"), "0.5"):
        assert floor_times(c, factor) == 50000000000000001
    assert floor_times(10, 0.7) == 7 and floor_times(10, 2) == 20


class _Custom(BaseException):
    pass


@pytest.mark.parametrize(
    "exc, code, fragment",
    [
        (RecursionError("deep"), 2, "input too large to process (RecursionError)"),
        (MemoryError(), 2, "input too large to process (MemoryError)"),
        (OverflowError("int too large to convert to float"), 2, "too large to compute with"),
        (ValueError("Exceeds the limit (4300 digits) for integer string conversion"), 2, "4,300 digits"),
        (BrokenPipeError(32, "Broken pipe"), 0, None),
        (RuntimeError("oops"), 3, "internal error: RuntimeError: oops (this is a bug in convcalc"),
        (SystemExit(4), 4, None),
    ],
)
def test_every_way_a_run_can_end_has_its_exit_code(monkeypatch, exc, code, fragment):
    from convcalc import network

    def fail(*a, **k):
        raise exc

    monkeypatch.setattr(network, "walk", fail)
    r = run_cli("report", "zoo:alexnet")
    assert r.code == code, r
    if fragment is None:
        assert r.err == ""
    else:
        assert r.err.count("\n") == 1 and fragment in r.err and "Traceback" not in r.err


def test_a_base_exception_that_is_not_ours_passes_through(monkeypatch):
    """Test harness signals (a hang guard's exception, the work meter's) are not swallowed."""
    from convcalc import network

    def fail(*a, **k):
        raise _Custom

    monkeypatch.setattr(network, "walk", fail)
    with pytest.raises(_Custom):
        run_cli("report", "zoo:alexnet")
