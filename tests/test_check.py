"""convcalc check: limits, SI parsing, precedence, baselines, output formats, exit codes.

Totals are computed with the library first and limits are set relative to them (total: pass,
total - 1: fail), so no test depends on a hard-coded cost."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from fractions import Fraction

import pytest

from convcalc import budget as B
from convcalc.errors import BudgetInputError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SPEC = """\
name: tiny
input: [3, 32, 32]
layers:
  - {type: conv, out_channels: 8, kernel: 3, padding: same}
  - {type: activation}
  - {type: conv, out_channels: 16, kernel: 3, stride: 2}
  - {type: global_pool}
"""

WIDER = SPEC.replace("out_channels: 16", "out_channels: 20")


def with_budget(spec: str, budget: dict) -> str:
    """The spec with a block-style budget section after its name line."""
    lines = "".join(f"  {k}: {v}\n" for k, v in budget.items())
    head, rest = spec.split("\n", 1)
    return f"{head}\nbudget:\n{lines}{rest}"


def totals_of(path: str, dtype: str = "fp32", batch: int = 1) -> dict:
    """The report's JSON totals, with the memory traffic also under its budget name."""
    from convcalc import load_spec, walk
    from convcalc.export import totals

    t = totals(walk(load_spec(path), batch=batch), dtype)
    t["traffic"] = t["memory_traffic"]
    return t


# what a baseline compares without --device: the counts and the memory traffic
COMPARED = (*B.METRICS, "traffic")


def line_of(text: str, prefix: str) -> int:
    """1-based line of the first line starting with ``prefix``."""
    for i, line in enumerate(text.splitlines(), 1):
        if line.startswith(prefix):
            return i
    raise AssertionError(f"no line starts with {prefix!r}")


def check_json(cli, *args):
    r = cli("check", *args, "--format", "json")
    return r, (json.loads(r.out) if r.out else None)


# -- exit codes and limits exactly at / just over the total -------------------------------------------
@pytest.mark.parametrize("metric", B.METRICS)
def test_flag_limit_at_total_passes_and_one_below_fails(cli, spec_file, metric):
    path = spec_file(SPEC)
    total = totals_of(path)[metric]
    assert total > 1
    r, d = check_json(cli, path, f"--max-{metric}", str(total))
    assert r.code == 0, r
    assert d["passed"] is True
    [res] = d["results"]
    assert (res["metric"], res["value"], res["limit"], res["passed"], res["excess"], res["source"]) == (
        metric,
        total,
        total,
        True,
        0,
        "flag",
    )

    r, d = check_json(cli, path, f"--max-{metric}", str(total - 1))
    assert r.code == 1, r
    assert d["passed"] is False
    [res] = d["results"]
    assert (res["value"], res["limit"], res["passed"], res["excess"]) == (total, total - 1, False, 1)
    assert res["spec"] == path


@pytest.mark.parametrize("metric", B.METRICS)
def test_budget_section_limit_at_total_passes_and_one_below_fails(cli, spec_file, metric):
    total = totals_of(spec_file(SPEC))[metric]
    ok = spec_file(with_budget(SPEC, {metric: total}))
    over = spec_file(with_budget(SPEC, {metric: total - 1}))
    r, d = check_json(cli, ok)
    assert r.code == 0 and d["results"][0]["source"] == "budget" and d["results"][0]["limit"] == total
    r, d = check_json(cli, over)
    assert r.code == 1 and d["results"][0]["passed"] is False and d["results"][0]["excess"] == 1


def test_failure_output_names_spec_metric_value_limit_and_excess(cli, spec_file):
    path = spec_file(SPEC)
    macs = totals_of(path)["macs"]
    limit = macs - 1000
    r = cli("check", path, "--max-macs", str(limit))
    assert r.code == 1
    # a long sentence wraps between words (continuation lines indented): join them back
    text = r.out.replace("\n  ", " ")
    summary = [line for line in text.splitlines() if "exceeds the limit" in line]
    assert len(summary) == 1, r.out
    line = summary[0]
    assert path in line and "MACs" in line
    assert f"{macs:,}" in line and f"{limit:,}" in line and "by 1,000" in line
    assert f"+{100 * 1000 / limit:.2f}%" in line
    assert "FAIL" in r.out and "failed: 1 of 1" in r.out


def test_all_within_budget_exit_0_and_table_says_pass(cli, spec_file):
    path = spec_file(SPEC)
    t = totals_of(path)
    r = cli("check", path, "--max-macs", str(t["macs"]), "--max-params", str(t["params"] + 5))
    assert r.code == 0, r
    assert "PASS" in r.out and "FAIL" not in r.out and "passed: all 2 limits met" in r.out
    assert r.err == ""


def test_one_spec_over_among_several_is_exit_1(cli, spec_file):
    small, big = spec_file(SPEC), spec_file(WIDER)
    limit = totals_of(small)["params"]
    assert totals_of(big)["params"] > limit
    r, d = check_json(cli, small, big, "--max-params", str(limit))
    assert r.code == 1
    by_spec = {s["spec"]: s for s in d["specs"]}
    assert by_spec[small]["passed"] is True and by_spec[big]["passed"] is False
    assert [x["spec"] for x in d["results"] if not x["passed"]] == [big]


@pytest.mark.parametrize("bad", ["lots", "1.2.3M", "-5M", "5X", "1.0000001k", "", "1e99999999", "9" * 5000])
def test_bad_limit_is_exit_2_with_one_line(cli, spec_file, bad):
    path = spec_file(SPEC)
    r = cli("check", path, "--max-macs", bad)
    assert r.code == 2
    assert r.out == ""
    assert r.err.startswith("convcalc: error: --max-macs ") and r.err.count("\n") == 1, r.err
    assert len(r.err) < 200


def test_bad_limit_message_reads_like_the_contract(cli, spec_file):
    r = cli("check", spec_file(SPEC), "--max-macs", "lots")
    assert r.err == "convcalc: error: --max-macs 'lots' is not a number like 600M, 4.5M, 1.2G or 800k\n"


def test_unreadable_spec_is_exit_2(cli, tmp_path):
    r = cli("check", str(tmp_path / "missing.yaml"), "--max-macs", "1M")
    assert r.code == 2 and "missing.yaml: no such file" in r.err and r.out == ""


def test_bad_budget_in_spec_is_exit_2_with_its_line(cli, spec_file):
    text = with_budget(SPEC, {"macs": "lots"})
    path = spec_file(text)
    r = cli("check", path)
    assert r.code == 2
    assert f"{path}:{line_of(text, '  macs:')}: budget.macs:" in r.err


def test_unknown_budget_key_is_exit_2(cli, spec_file):
    r = cli("check", spec_file(with_budget(SPEC, {"maks": "1M"})))
    assert r.code == 2 and "unknown key 'maks'" in r.err


def test_no_limits_passes_with_a_visible_note(cli, spec_file):
    path = spec_file(SPEC)
    r = cli("check", path)
    assert r.code == 0
    assert "no limits" in r.out and path in r.out
    r, d = check_json(cli, path)
    assert r.code == 0 and d["passed"] is True and d["results"] == []
    assert [(n["spec"], n["kind"]) for n in d["notes"]] == [(path, "no_limits")]
    r = cli("check", path, "--format", "github")
    assert r.code == 0 and f"::notice file={path},line=1," in r.out and "no limits" in r.out


def test_a_spec_without_limits_beside_one_with_limits(cli, spec_file):
    limited = spec_file(with_budget(SPEC, {"params": "1M"}))
    bare = spec_file(SPEC)
    r, d = check_json(cli, limited, bare)
    assert r.code == 0
    assert [n["spec"] for n in d["notes"]] == [bare]
    assert [x["spec"] for x in d["results"]] == [limited]


def test_stdin_spec(cli):
    r = cli("check", "-", "--max-params", "1", "--format", "json", stdin=SPEC)
    assert r.code == 1
    assert json.loads(r.out)["results"][0]["spec"] == "<stdin>"


def test_unknown_zoo_model_is_exit_2(cli):
    r = cli("check", "zoo:no-such-model", "--max-macs", "1M")
    assert r.code == 2 and "no zoo model" in r.err


def test_usage_error_without_spec_is_exit_2(cli):
    assert cli("check").code == 2


# -- the options shared with report ------------------------------------------------------------------
def test_batch_scales_macs_limits(cli, spec_file):
    path = spec_file(SPEC)
    macs2 = totals_of(path, batch=2)["macs"]
    assert macs2 == 2 * totals_of(path)["macs"]
    assert cli("check", path, "--batch", "2", "--max-macs", str(macs2)).code == 0
    assert cli("check", path, "--batch", "2", "--max-macs", str(macs2 - 1)).code == 1


def test_dtype_sets_the_bytes_of_memory(cli, spec_file):
    path = spec_file(SPEC)
    mem16 = totals_of(path, "fp16")["memory"]
    assert mem16 < totals_of(path)["memory"]
    assert cli("check", path, "--dtype", "fp16", "--max-memory", str(mem16)).code == 0
    assert cli("check", path, "--max-memory", str(mem16)).code == 1


def test_resolution_and_width_mult_are_applied(cli, spec_file):
    path = spec_file(SPEC)
    base = totals_of(path)["macs"]
    r, d = check_json(cli, path, "--resolution", "64", "--max-macs", str(base))
    assert r.code == 1 and d["results"][0]["value"] > base
    r, d = check_json(cli, path, "--width-mult", "0.5", "--max-macs", str(base))
    assert r.code == 0 and d["results"][0]["value"] < base
    assert cli("check", path, "--batch", "0", "--max-macs", "1M").code == 2


# -- SI parsing --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text, expected",
    [
        ("0", 0),
        ("600", 600),
        ("800k", 800_000),
        ("800K", 800_000),
        ("600M", 600_000_000),
        ("4.5M", 4_500_000),
        ("1.2G", 1_200_000_000),
        ("2T", 2 * 10**12),
        ("1P", 10**15),
        ("1.2B", 1_200_000_000),
        ("2b", 2_000_000_000),
        ("1_000_000", 10**6),
        ("1e3", 1000),
        ("2.5e3k", 2_500_000),
        (" 600 M ", 600_000_000),
        ("0.001k", 1),
    ],
)
def test_si_suffixes(text, expected):
    assert B.parse_limit(text, "macs") == expected
    assert isinstance(B.parse_limit(text, "macs"), int)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1KiB", 1024),
        ("4MiB", 4 * 2**20),
        ("1.5GiB", 3 * 2**29),
        ("1TiB", 2**40),
        ("16MB", 16 * 10**6),
        ("16kB", 16_000),
        ("100B", 100),
        ("1.2G", 1_200_000_000),
        ("4096", 4096),
        ("0.5KiB", 512),
    ],
)
def test_memory_suffixes(text, expected):
    assert B.parse_limit(text, "memory") == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("lots", "is not a number"),
        ("1.2.3M", "is not a number"),
        ("-5M", "must be >= 0"),
        ("5X", "unknown suffix 'X'"),
        ("1.0000001k", "is not a whole number (1000.0001)"),
        ("", "is not a number"),
        ("1.5", "is not a whole number"),
        ("5m", "unknown suffix 'm'"),
        ("1e99999999", "out of range"),
        ("1" * 50, "out of range"),
        ("1__0", "is not a number"),
        (".5M", "is not a number"),
        ("+5M", "is not a number"),
    ],
)
def test_bad_quantities(text, fragment):
    with pytest.raises(BudgetInputError) as e:
        B.parse_limit(text, "macs")
    assert fragment in e.value.message


def test_binary_suffixes_are_for_memory_only():
    with pytest.raises(BudgetInputError, match="unknown suffix 'MiB'"):
        B.parse_limit("4MiB", "macs")
    with pytest.raises(BudgetInputError, match="unknown suffix 'b'"):
        B.parse_limit("4b", "memory")


def test_huge_exponents_are_refused_before_any_big_number_is_built(monkeypatch):
    """Refused from the text's length and exponent alone: no Fraction (which would build a
    400 MB integer for 1e99999999) is ever made. Counted, not timed."""
    made = []
    real = B.Fraction
    monkeypatch.setattr(B, "Fraction", lambda *a: made.append(a) or real(*a))
    for text in ("1e99999999", "1e-99999999", "9" * 100_000):
        with pytest.raises(BudgetInputError, match="out of range"):
            B.parse_quantity(text)
    assert made == []


def test_numbers_from_yaml_values():
    assert B.parse_limit(600000000, "macs") == 600_000_000
    assert B.parse_limit(4.5e6, "params") == 4_500_000
    for bad in (True, -1, 1.5, float("nan"), float("inf"), [1]):
        with pytest.raises(BudgetInputError):
            B.parse_limit(bad, "macs")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("5%", ("percent", Fraction(5))),
        ("0.5%", ("percent", Fraction(1, 2))),
        ("0%", ("percent", Fraction(0))),
        ("2M", ("absolute", Fraction(2_000_000))),
        ("800k", ("absolute", Fraction(800_000))),
        ("0", ("absolute", Fraction(0))),
    ],
)
def test_allowances(text, expected):
    assert B.parse_allowance(text) == expected


@pytest.mark.parametrize("text", ["-5%", "x%", "%", "1/2%", "1e9999999%", "lots", "-2M", "5%%"])
def test_bad_allowances(text):
    with pytest.raises(BudgetInputError):
        B.parse_allowance(text)


# -- precedence ----------------------------------------------------------------------------------------
def test_flag_overrides_the_budget_section_for_that_key_only(cli, spec_file):
    t = totals_of(spec_file(SPEC))
    path = spec_file(with_budget(SPEC, {"macs": t["macs"] - 1, "params": t["params"]}))
    r, d = check_json(cli, path)
    assert r.code == 1
    r, d = check_json(cli, path, "--max-macs", str(t["macs"]))
    assert r.code == 0
    got = {x["metric"]: (x["limit"], x["source"]) for x in d["results"]}
    assert got == {"macs": (t["macs"], "flag"), "params": (t["params"], "budget")}
    # and the other way round: the file would pass, the flag fails
    ok = spec_file(with_budget(SPEC, {"macs": t["macs"]}))
    r, d = check_json(cli, ok, "--max-macs", str(t["macs"] - 1))
    assert r.code == 1 and d["results"][0]["source"] == "flag"


def test_merge_limits_unit():
    limits, sources = B.merge_limits({"macs": 10, "params": 5}, {"macs": 20, "flops": 7})
    assert limits == {"macs": 20, "flops": 7, "params": 5}
    assert sources == {"macs": "flag", "flops": "flag", "params": "budget"}


def test_verdict_equal_passes_and_excess():
    v = B.Verdict("s", "macs", 100, 100, "flag")
    assert v.passed and v.excess == 0 and v.as_dict()["excess"] == 0
    v = B.Verdict("s", "macs", 101, 100, "flag")
    assert not v.passed and v.excess == 1 and v.excess_percent == pytest.approx(1.0)


# -- baselines -----------------------------------------------------------------------------------------
@pytest.fixture
def saved(cli, tmp_path, spec_file):
    """A baseline report of SPEC saved by `convcalc report --format json`, and its spec."""
    spec = spec_file(SPEC, "net.yaml")
    out = str(tmp_path / "baseline.json")
    r = cli("report", spec, "--format", "json", "--output", out)
    assert r.code == 0, r
    return spec, out


def _growth(old: dict, new: dict) -> dict:
    return {m: new[m] - old[m] for m in COMPARED}


def test_baseline_unchanged_passes_with_zero_allowance(cli, saved):
    spec, base = saved
    r, d = check_json(cli, spec, "--baseline", base)
    assert r.code == 0
    assert {x["metric"] for x in d["results"]} == set(COMPARED)
    for x in d["results"]:
        assert x["source"] == "baseline" and x["change"] == 0 and x["baseline"] == x["value"]
        assert x["change_percent"] == 0.0


def test_baseline_growth_absolute_allowance(cli, saved, spec_file):
    spec, base = saved
    new = spec_file(WIDER, "net_wider.yaml")
    growth = _growth(totals_of(spec), totals_of(new))
    most = max(growth.values())
    assert most > 0
    r, d = check_json(cli, new, "--baseline", base, "--max-increase", str(most))
    assert r.code == 0, d
    r, d = check_json(cli, new, "--baseline", base, "--max-increase", str(most - 1))
    assert r.code == 1
    failed = {x["metric"] for x in d["results"] if not x["passed"]}
    assert failed == {m for m, g in growth.items() if g == most}
    x = next(x for x in d["results"] if not x["passed"])
    assert x["change"] == most and x["excess"] == 1 and x["allowed_increase"] == most - 1


def _pct_text(p: Fraction, up: bool) -> str:
    """``p`` percent as text with 4 decimals: rounded up (>= p), or strictly below p."""
    scaled = p * 10**4
    n = math.ceil(scaled) if up else math.ceil(scaled) - 1
    assert (Fraction(n, 10**4) >= p) if up else (Fraction(n, 10**4) < p)
    return f"{n // 10**4}.{n % 10**4:04d}%"


def test_baseline_growth_percent_allowance(cli, saved, spec_file):
    spec, base = saved
    new = spec_file(WIDER, "net_wider.yaml")
    old_t, new_t = totals_of(spec), totals_of(new)
    pct = {m: Fraction(100 * (new_t[m] - old_t[m]), old_t[m]) for m in COMPARED}
    worst = max(pct, key=pct.get)
    r, d = check_json(cli, new, "--baseline", base, "--max-increase", _pct_text(pct[worst], up=True))
    assert r.code == 0, d
    r, d = check_json(cli, new, "--baseline", base, "--max-increase", _pct_text(pct[worst], up=False))
    assert r.code == 1
    assert worst in {x["metric"] for x in d["results"] if not x["passed"]}
    x = next(x for x in d["results"] if x["metric"] == worst)
    assert x["change_percent"] == pytest.approx(float(pct[worst]))
    assert x["baseline"] == old_t[worst] and x["value"] == new_t[worst]


def test_baseline_verdict_shows_old_new_change_and_percent(cli, saved, spec_file):
    spec, base = saved
    new = spec_file(WIDER, "net_wider.yaml")
    old_t, new_t = totals_of(spec), totals_of(new)
    r = cli("check", new, "--baseline", base, "--max-increase", "1%", "--wide")
    assert r.code == 1
    assert f"{old_t['macs']:,}" in r.out and f"{new_t['macs']:,}" in r.out
    assert f"+{new_t['macs'] - old_t['macs']:,}" in r.out
    assert f"+{100 * (new_t['macs'] - old_t['macs']) / old_t['macs']:.2f}%" in r.out
    assert "baseline +1%" in r.out
    r = cli("check", new, "--baseline", base, "--max-increase", "1%", "--format", "markdown")
    assert (
        "| spec | network | metric | source | value | limit | vs limit | excess | baseline | change "
        "| change % | verdict |" in r.out
    )


def test_shrinking_always_passes(cli, tmp_path, spec_file):
    big = spec_file(WIDER, "net.yaml")
    out = str(tmp_path / "b.json")
    assert cli("report", big, "--format", "json", "--output", out).code == 0
    small = spec_file(SPEC, "small.yaml")
    r, d = check_json(cli, small, "--baseline", out)
    assert r.code == 0 and all(x["change"] <= 0 for x in d["results"])


def test_multi_report_baseline_matches_by_name(cli, tmp_path, spec_file):
    a = spec_file(SPEC, "a.yaml")
    other = spec_file(
        SPEC.replace("name: tiny", "name: other").replace("out_channels: 8", "out_channels: 4"), "o.yaml"
    )
    out = str(tmp_path / "multi.json")
    assert cli("report", a, other, "--format", "json", "--output", out).code == 0
    with open(out) as fh:
        saved = json.load(fh)
    assert "reports" in saved
    r, d = check_json(cli, other, a, "--baseline", out)
    assert r.code == 0, d
    base_of = {(x["spec"], x["metric"]): x["baseline"] for x in d["results"]}
    assert base_of[(other, "macs")] == totals_of(other)["macs"]
    assert base_of[(a, "macs")] == totals_of(a)["macs"]
    assert totals_of(other)["macs"] != totals_of(a)["macs"]
    # a spec that is not in the baseline (new in this change): a note, not a failure
    new = spec_file(SPEC.replace("name: tiny", "name: brand-new"), "n.yaml")
    r, d = check_json(cli, new, "--baseline", out)
    assert r.code == 0 and d["results"] == []
    kinds = {n["kind"] for n in d["notes"]}
    assert "baseline_missing" in kinds and "no_limits" in kinds


def test_single_report_baseline_compared_even_if_renamed(cli, saved, spec_file):
    _, base = saved
    renamed = spec_file(SPEC.replace("name: tiny", "name: renamed"))
    r, d = check_json(cli, renamed, "--baseline", base)
    assert r.code == 0 and len(d["results"]) == len(COMPARED)
    assert [n["kind"] for n in d["notes"]] == ["baseline_name"]


def test_baseline_with_other_settings_warns(cli, tmp_path, spec_file):
    spec = spec_file(SPEC)
    out = str(tmp_path / "b8.json")
    assert cli("report", spec, "--format", "json", "--batch", "8", "--output", out).code == 0
    r, d = check_json(cli, spec, "--baseline", out)
    assert r.code == 0  # batch 1 is smaller than batch 8: it "shrank"
    [note] = [n for n in d["notes"] if n["kind"] == "baseline_settings"]
    assert "batch 8 in the baseline vs 1 now" in note["message"]


def test_baseline_and_limits_together(cli, saved):
    spec, base = saved
    t = totals_of(spec)
    r, d = check_json(cli, spec, "--baseline", base, "--max-params", str(t["params"] - 1))
    assert r.code == 1
    assert {x["source"] for x in d["results"]} == {"flag", "baseline"}
    assert [x["metric"] for x in d["results"] if not x["passed"]] == ["params"]
    assert d["baseline"]["max_increase"] == {"kind": "percent", "amount": 0.0, "text": "0%"}


@pytest.mark.parametrize(
    "content, fragment",
    [
        (None, "no such file"),
        ("", "is empty"),
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('{"name": "x"}', "neither 'totals' nor 'reports'"),
        ('{"totals": {"macs": "big"}}', "totals.macs must be an integer"),
        ('{"totals": {"macs": -1}}', "totals.macs must be an integer"),
        ('{"totals": {"macs": true}}', "totals.macs must be an integer"),
        ('{"totals": {"weight_bytes": 3}}', "has none of"),
        ('{"totals": []}', "'totals' must be an object"),
        ('{"reports": []}', "'reports' must be a non-empty list"),
        ('{"reports": [3]}', "a report must be an object"),
        ("\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_baseline_file_is_exit_2(cli, spec_file, tmp_path, content, fragment):
    path = tmp_path / "base.json"
    if content is not None:
        if content == "\xff\xfe":
            path.write_bytes(b"\xff\xfe\x00")
        else:
            path.write_text(content)
    r = cli("check", spec_file(SPEC), "--baseline", str(path), "--max-increase", "5%")
    assert r.code == 2, r
    assert r.out == ""
    assert r.err.startswith(f"convcalc: error: --baseline {path}") and r.err.count("\n") == 1
    assert fragment in r.err


def test_baseline_that_is_a_directory(cli, spec_file, tmp_path):
    r = cli("check", spec_file(SPEC), "--baseline", str(tmp_path))
    assert r.code == 2 and "is a directory" in r.err


def test_ambiguous_multi_report_baseline(cli, spec_file, tmp_path):
    doc = {"reports": [{"name": "tiny", "totals": {"macs": 1}}, {"name": "tiny", "totals": {"macs": 2}}]}
    (tmp_path / "amb.json").write_text(json.dumps(doc))
    r = cli("check", spec_file(SPEC), "--baseline", str(tmp_path / "amb.json"))
    assert r.code == 2 and "2 reports are named 'tiny'" in r.err


def test_max_increase_needs_baseline_and_a_valid_amount(cli, saved):
    spec, base = saved
    r = cli("check", spec, "--max-increase", "5%")
    assert r.code == 2 and "--max-increase needs --baseline" in r.err
    r = cli("check", spec, "--baseline", base, "--max-increase", "lots")
    assert r.code == 2 and r.err.startswith("convcalc: error: --max-increase 'lots'")


def test_judge_baseline_floor_rounding():
    # 5% of 30 is 1.5: growing by 1 passes, by 2 fails
    [v] = B.judge_baseline("s", {"macs": 31}, {"macs": 30}, ("percent", Fraction(5)), metrics=("macs",))
    assert v.passed and v.limit == 31
    [v] = B.judge_baseline("s", {"macs": 32}, {"macs": 30}, ("percent", Fraction(5)), metrics=("macs",))
    assert not v.passed and v.change == 2 and v.change_percent == pytest.approx(100 * 2 / 30)
    # a baseline of zero allows no growth under a percentage
    [v] = B.judge_baseline("s", {"macs": 1}, {"macs": 0}, ("percent", Fraction(50)), metrics=("macs",))
    assert not v.passed and v.change_percent is None


# -- output formats ------------------------------------------------------------------------------------
def test_json_format_keys(cli, spec_file):
    path = spec_file(with_budget(SPEC, {"params": "1M"}))
    r, d = check_json(cli, path, "--max-macs", "1")
    assert r.code == 1
    assert d["passed"] is False and d["checked"] == 2 and d["failed"] == 1
    for x in d["results"]:
        assert {"spec", "metric", "value", "limit", "passed", "excess", "source"} <= set(x)
    macs = next(x for x in d["results"] if x["metric"] == "macs")
    assert macs["source"] == "flag" and macs["passed"] is False and macs["excess"] == macs["value"] - 1
    params = next(x for x in d["results"] if x["metric"] == "params")
    assert params["source"] == "budget" and params["limit"] == 1_000_000 and params["passed"] is True


def test_markdown_has_verdict_heading_and_table(cli, spec_file):
    path = spec_file(SPEC)
    macs = totals_of(path)["macs"]
    r = cli("check", path, "--max-macs", str(macs - 1), "--format", "markdown")
    assert r.code == 1
    lines = r.out.splitlines()
    assert lines[0].startswith("## ❌")
    header = next(i for i, line in enumerate(lines) if line.startswith("| spec | network | metric |"))
    assert re.match(r"^\|(---:?\|)+$", lines[header + 1])
    row = lines[header + 2]
    "spec" + path.rsplit("spec", 1)[1].split(".")[0]  # a spec without name: is named after its file
    assert row.startswith(f"| {path} | ") and f" | MACs | flag | {macs:,} | {macs - 1:,} |" in row, row
    assert "FAIL" in row
    # no baseline: no baseline columns
    assert lines[header] == (
        "| spec | network | metric | source | value | limit | vs limit | excess | verdict |"
    )
    r = cli("check", path, "--max-macs", str(macs), "--format", "markdown")
    assert r.code == 0 and r.out.startswith("## ✅")


def test_csv_has_one_row_per_limit_with_plain_numbers(cli, spec_file):
    path = spec_file(SPEC)
    t = totals_of(path)
    r = cli(
        "check", path, "--max-macs", str(t["macs"] - 1), "--max-params", str(t["params"]), "--format", "csv"
    )
    assert r.code == 1
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [(x["metric"], int(x["value"]), int(x["limit"]), x["verdict"]) for x in rows] == [
        ("MACs", t["macs"], t["macs"] - 1, "fail"),
        ("params", t["params"], t["params"], "pass"),
    ]
    assert int(rows[0]["excess"]) == 1 and rows[1]["excess"] == ""


def test_output_file_is_written_and_exit_code_kept(cli, spec_file, tmp_path):
    path = spec_file(SPEC)
    out = tmp_path / "verdict.json"
    r = cli("check", path, "--max-params", "1", "--format", "json", "--output", str(out))
    assert r.code == 1 and r.out == ""
    assert json.loads(out.read_text())["passed"] is False
    out_md = tmp_path / "verdict.md"
    assert cli("check", path, "--max-params", "1M", "--format", "markdown", "--output", str(out_md)).code == 0
    assert out_md.read_text().startswith("## ✅")


def test_github_annotations_point_at_the_limit_key_line(cli, spec_file):
    t = totals_of(spec_file(SPEC))
    text = with_budget(SPEC, {"params": t["params"], "macs": t["macs"] - 1})
    path = spec_file(text)
    r = cli("check", path, "--format", "github")
    assert r.code == 1
    errors = [x for x in r.out.splitlines() if x.startswith("::error ")]
    notices = [x for x in r.out.splitlines() if x.startswith("::notice ")]
    assert len(errors) == 1 and len(notices) == 1
    assert errors[0].startswith(f"::error file={path},line={line_of(text, '  macs:')},title=")
    assert notices[0].startswith(f"::notice file={path},line={line_of(text, '  params:')},title=")
    assert line_of(text, "  macs:") != line_of(text, "  params:")
    message = errors[0].split("::", 2)[2]
    assert f"{t['macs']:,}" in message and "%25" in message and "%" not in message.replace("%25", "")


def test_github_annotation_line_for_flags(cli, spec_file):
    # a flag for a key the budget section does not have: the `budget:` line
    text = with_budget(SPEC, {"params": "1M"})
    path = spec_file(text)
    r = cli("check", path, "--max-macs", "1", "--format", "github")
    err = next(x for x in r.out.splitlines() if x.startswith("::error "))
    assert f"line={line_of(text, 'budget:')}," in err
    # no budget section at all: line 1
    bare = spec_file(SPEC)
    r = cli("check", bare, "--max-macs", "1", "--format", "github")
    assert r.code == 1 and f"::error file={bare},line=1," in r.out


def test_github_escapes_file_and_title(cli, tmp_path):
    path = tmp_path / "odd,name:1.yaml"
    path.write_text(SPEC)
    r = cli("check", str(path), "--max-macs", "1", "--format", "github")
    assert r.code == 1
    err = next(x for x in r.out.splitlines() if x.startswith("::error "))
    escaped = str(path).replace(",", "%2C").replace(":", "%3A")
    assert err.startswith(f"::error file={escaped},line=1,title=convcalc%3A MACs over budget::")


def test_github_escaping_rules():
    from convcalc.render.budget_view import escape_data, escape_property

    assert escape_data("50% a\r\nb: c, d") == "50%25 a%0D%0Ab: c, d"
    assert escape_property("50% a\r\nb: c, d") == "50%25 a%0D%0Ab%3A c%2C d"


def test_github_baseline_failures_point_at_budget_line_or_1(cli, saved, spec_file):
    _, base = saved
    new = spec_file(WIDER, "net.yaml")
    r = cli("check", new, "--baseline", base, "--format", "github")
    assert r.code == 1
    errors = [x for x in r.out.splitlines() if x.startswith("::error ")]
    assert errors and all(x.startswith(f"::error file={new},line=1,") for x in errors)
    assert "baseline" in errors[0]


def test_annotation_line_rule():
    lines = {"": 3, "macs": 4}
    assert B.annotation_line("macs", lines) == 4
    assert B.annotation_line("params", lines) == 3
    assert B.annotation_line("params", {}) == 1
    assert B.annotation_line("macs", lines, "baseline") == 3


# -- the pre-commit hook --------------------------------------------------------------------------------
def test_pre_commit_hook_definition():
    import yaml

    with open(os.path.join(ROOT, ".pre-commit-hooks.yaml"), encoding="utf-8") as fh:
        hooks = yaml.safe_load(fh)
    [hook] = [h for h in hooks if h["id"] == "convcalc-check"]
    assert hook["entry"] == "convcalc check" and hook["language"] == "python"
    assert hook["pass_filenames"] is True
    files = re.compile(hook["files"])
    for yes in ("models/resnet.yaml", "src/models/a/b.yml", "net.convcalc.yaml", "x/y.convcalc.yml"):
        assert files.search(yes), yes
    for no in (
        ".github/workflows/ci.yml",
        "docker-compose.yaml",
        "models.yaml",
        "mymodels/a.yaml",
        "models/readme.md",
        "net.convcalc.yaml.bak",
    ):
        assert not files.search(no), no
