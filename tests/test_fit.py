"""convcalc fit: the answer is checked by running `convcalc report` at it and at the next step
(within the limits there, over them here), against a full sweep of the grid (nothing larger
fits), and for compound scaling against a spec rewritten by hand (repeat counts, width and
resolution set from the published rule, not by convcalc's depth scaling).

Limits are set from the network's own counts at chosen settings, so no test depends on a
hard-coded cost; published figures are used only where the issue asks for them.
"""

from __future__ import annotations

import json
import math
import re
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from convcalc import spec as S
from convcalc.fit import EVALUATORS, MAX_EVALS, Context, fit, scale_depth
from convcalc.layers.base import make_divisible
from convcalc.network import Repeat, walk

SETTINGS = dict(
    deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)


def fit_json(cli, *args):
    r = cli("fit", *args, "--format", "json")
    assert r.code in (0, 1), r
    return r.code, json.loads(r.out)


def report_totals(cli, spec, *args):
    r = cli("report", spec, *args, "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)["totals"]


# -- width, resolution, compound on MobileNet v1 (the proof) --------------------------------
def test_width_300M_mobilenet_checked_by_report(cli):
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M", "--vary", "width")
    assert code == 0 and d["vary"] == "width" and d["fits"] is True
    best, nxt = d["best"], d["next"]
    at_best = report_totals(cli, "zoo:mobilenet_v1", "--width-mult", repr(best["width_mult"]))
    at_next = report_totals(cli, "zoo:mobilenet_v1", "--width-mult", repr(nxt["width_mult"]))
    assert at_best["macs"] <= 300_000_000 < at_next["macs"]
    assert Fraction(repr(nxt["width_mult"])) - Fraction(repr(best["width_mult"])) == Fraction(1, 20)
    for key in ("macs", "params", "flops", "activations", "memory"):
        assert best[key] == at_best[key] and nxt[key] == at_next[key]
    assert nxt["exceeded"] == ["macs"] and best["exceeded"] == []
    # MobileNet's Table 6 puts 0.75 at 325 M mult-adds: over 300 M, so the answer is below it
    assert best["width_mult"] < 0.75 <= nxt["width_mult"]


def test_resolution_300M_mobilenet_checked_by_report(cli):
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M", "--vary", "resolution")
    assert code == 0
    best, nxt = d["best"]["resolution"], d["next"]["resolution"]
    assert nxt - best == 8 and (224 - best) % 8 == 0
    assert report_totals(cli, "zoo:mobilenet_v1", "--resolution", str(best))["macs"] <= 300_000_000
    assert report_totals(cli, "zoo:mobilenet_v1", "--resolution", str(nxt))["macs"] > 300_000_000
    # Table 7: 160 px is 290 M (published), 192 px 418 M
    assert 160 <= best < 192


def _mobilenet_by_hand(tmp_path, phi: float, alpha=1.2):
    """MobileNet v1's spec text with the repeat count rewritten as EfficientNet's rule says."""
    from convcalc import zoo

    text = zoo.read("mobilenet_v1")
    assert text.count("times: 5") == 1
    times = math.ceil(alpha**phi * 5)
    path = tmp_path / f"mobilenet_phi{phi}.yaml"
    path.write_text(text.replace("times: 5", f"times: {times}"))
    return str(path)


def test_compound_300M_mobilenet_checked_by_report(cli, tmp_path):
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M", "--vary", "compound")
    assert code == 0 and d["alpha"] == 1.2 and d["beta"] == 1.1 and d["gamma"] == 1.15
    for rec, inside in ((d["best"], True), (d["next"], False)):
        phi = rec["phi"]
        assert rec["width_mult"] == 1.1**phi and rec["depth_mult"] == 1.2**phi
        assert rec["resolution"] == math.floor(224 * 1.15**phi + 0.5)
        t = report_totals(
            cli,
            _mobilenet_by_hand(tmp_path, phi),
            "--width-mult",
            repr(rec["width_mult"]),
            "--resolution",
            str(rec["resolution"]),
        )
        assert (t["macs"] <= 300_000_000) is inside
        assert t["macs"] == rec["macs"] and t["params"] == rec["params"]
    assert round(d["next"]["phi"] - d["best"]["phi"], 9) == 0.1


def test_compound_grows_every_dimension_and_rounds_repeats_up(tmp_path):
    net = S.load("zoo:mobilenet_v1")
    r = fit(net, {"macs": 2_000_000_000}, "compound")
    phi = r.best.setting["phi"]
    assert phi > 0
    assert r.best.setting["resolution"] > 224 and r.best.setting["width_mult"] > 1
    by_hand = walk(
        S.load(_mobilenet_by_hand(tmp_path, phi)).with_resolution(r.best.setting["resolution"]),
        width_mult=1.1**phi,
    )
    assert by_hand.macs == r.best.totals["macs"]
    assert len(by_hand.rows) == len(walk(scale_depth(net, 1.2**phi)[0]).rows)


def test_params_limit_width(cli):
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-params", "2M")
    assert code == 0
    b, n = d["best"]["width_mult"], d["next"]["width_mult"]
    assert report_totals(cli, "zoo:mobilenet_v1", "--width-mult", repr(b))["params"] <= 2_000_000
    assert report_totals(cli, "zoo:mobilenet_v1", "--width-mult", repr(n))["params"] > 2_000_000


@pytest.mark.parametrize("dtype", ["fp32", "fp16"])
def test_memory_limit_resolution(cli, dtype):
    limit = 20 * 2**20
    code, d = fit_json(
        cli, "zoo:mobilenet_v1", "--max-memory", "20MiB", "--vary", "resolution", "--dtype", dtype
    )
    assert code == 0 and d["limits"] == {"memory": limit} and d["dtype"] == dtype
    b, n = d["best"]["resolution"], d["next"]["resolution"]
    t_b = report_totals(cli, "zoo:mobilenet_v1", "--resolution", str(b), "--dtype", dtype)
    t_n = report_totals(cli, "zoo:mobilenet_v1", "--resolution", str(n), "--dtype", dtype)
    assert t_b["memory"] <= limit < t_n["memory"]


def test_memory_limit_width_with_batch(cli):
    code, d = fit_json(cli, "zoo:resnet50", "--max-memory", "400MB", "--batch", "8")
    assert code == 0
    b, n = d["best"]["width_mult"], d["next"]["width_mult"]
    assert (
        report_totals(cli, "zoo:resnet50", "--width-mult", repr(b), "--batch", "8")["memory"] <= 400_000_000
    )
    assert report_totals(cli, "zoo:resnet50", "--width-mult", repr(n), "--batch", "8")["memory"] > 400_000_000


def test_several_limits_all_met_one_broken(cli):
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "400M", "--max-params", "2.5M")
    assert code == 0 and d["limits"] == {"macs": 400_000_000, "params": 2_500_000}
    t = report_totals(cli, "zoo:mobilenet_v1", "--width-mult", repr(d["best"]["width_mult"]))
    assert t["macs"] <= 400_000_000 and t["params"] <= 2_500_000
    t = report_totals(cli, "zoo:mobilenet_v1", "--width-mult", repr(d["next"]["width_mult"]))
    broken = [m for m, lim in (("macs", 400_000_000), ("params", 2_500_000)) if t[m] > lim]
    assert broken and broken == d["next"]["exceeded"]


def test_fixed_resolution_while_varying_width_and_fixed_width_while_varying_resolution(cli):
    _, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "100M", "--resolution", "160")
    assert d["best"]["input_shape"] == [3, 160, 160]
    w = repr(d["best"]["width_mult"])
    assert (
        report_totals(cli, "zoo:mobilenet_v1", "--width-mult", w, "--resolution", "160")["macs"]
        <= 100_000_000
    )
    _, d = fit_json(
        cli, "zoo:mobilenet_v1", "--max-macs", "100M", "--vary", "resolution", "--width-mult", "0.5"
    )
    r = str(d["best"]["resolution"])
    assert (
        report_totals(cli, "zoo:mobilenet_v1", "--width-mult", "0.5", "--resolution", r)["macs"]
        <= 100_000_000
    )
    r = str(d["next"]["resolution"])
    assert (
        report_totals(cli, "zoo:mobilenet_v1", "--width-mult", "0.5", "--resolution", r)["macs"] > 100_000_000
    )


# -- the spec's budget ------------------------------------------------------------------------------------
def _with_budget(text: str, budget: str) -> str:
    head, rest = text.split("\nname:", 1)
    return f"{head}\nname:{rest.split(chr(10), 1)[0]}\nbudget: {budget}\n{rest.split(chr(10), 1)[1]}"


def test_budget_from_the_spec_and_flags_override_it(cli, spec_file):
    from convcalc import zoo

    path = spec_file(_with_budget(zoo.read("mobilenet_v1"), "{macs: 300M}"))
    code, d = fit_json(cli, path)
    assert code == 0 and d["limits"] == {"macs": 300_000_000} and d["limit_sources"] == {"macs": "budget"}
    _, ref = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M")
    assert d["best"] == ref["best"] and d["next"] == ref["next"]
    code, d = fit_json(cli, path, "--max-macs", "150M")
    assert d["limits"] == {"macs": 150_000_000} and d["limit_sources"] == {"macs": "flag"}
    assert d["best"]["macs"] <= 150_000_000 < d["next"]["macs"]
    r = cli("fit", path)
    assert r.code == 0 and "budget, line" in r.out


# -- the answer is the largest fitting setting (full sweep of the grid) ------------------------------------
_SWEEPS: dict = {}


def _sweep(name: str, vary: str) -> list[tuple[Fraction, dict]]:
    """Every grid setting of the default range and its totals (None: invalid network)."""
    key = (name, vary)
    if key not in _SWEEPS:
        net = S.load(f"zoo:{name}")
        out = []
        if vary == "width":
            for n in range(1, 81):  # 0.05 .. 4
                w = Fraction(n, 20)
                out.append((w, _totals(net, width_mult=float(w))))
        else:
            r0 = net.input_shape[1]
            for r in range(r0 % 8 or 8, 1024 + 1, 8):
                out.append((Fraction(r), _totals(net.with_resolution(r))))
        _SWEEPS[key] = out
    return _SWEEPS[key]


def _totals(net, **kw):
    from convcalc.errors import ConvcalcError

    try:
        return walk(net, **kw).totals()
    except ConvcalcError:
        return None


@settings(max_examples=25, **SETTINGS)
@given(
    st.sampled_from(
        [
            ("mobilenet_v1", "width"),
            ("vgg16", "width"),
            ("resnet50", "resolution"),
            ("shufflenet_v1_g3", "width"),
        ]
    ),
    st.sampled_from(["macs", "params", "activations"]),
    st.floats(0.02, 0.98),
)
def test_best_is_the_largest_setting_that_fits(case, metric, share):
    name, vary = case
    sweep = [(v, t) for v, t in _sweep(name, vary) if t is not None]
    values = sorted({t[metric] for _, t in sweep})
    if len(values) < 2:  # the metric does not change with this setting (params vs resolution)
        return
    limit = values[int(share * (len(values) - 1))]
    if vary == "resolution":
        r = fit(S.load(f"zoo:{name}"), {metric: limit}, vary, hi=Fraction(1024))
    else:
        r = fit(S.load(f"zoo:{name}"), {metric: limit}, vary)
    fitting = [v for v, t in sweep if t[metric] <= limit]
    key = "width_mult" if vary == "width" else "resolution"
    assert Fraction(repr(r.best.setting[key])) == max(fitting)
    above = [v for v, _ in sweep if v > max(fitting)]
    assert Fraction(repr(r.next.setting[key])) == min(above)
    # bounded: a bracket by galloping and a bisection, a few probes around invalid settings
    assert r.evaluations <= 4 * math.ceil(math.log2(len(_sweep(name, vary)))) + 12


def test_invalid_settings_are_skipped(cli):
    """ShuffleNet's grouped convs need channel counts divisible by the groups: most widths are
    invalid networks. best and next are valid, and every grid width between them is invalid."""
    net = S.load("zoo:shufflenet_v1_g3")
    r = fit(net, {"macs": 100_000_000}, "width")
    b, n = Fraction(repr(r.best.setting["width_mult"])), Fraction(repr(r.next.setting["width_mult"]))
    assert n - b > Fraction(1, 20)  # something was skipped
    assert (
        _totals(net, width_mult=float(b))["macs"] <= 100_000_000 < _totals(net, width_mult=float(n))["macs"]
    )
    w = b + Fraction(1, 20)
    while w < n:
        assert _totals(net, width_mult=float(w)) is None
        w += Fraction(1, 20)
    assert all(p.valid for p in r.frontier)


def test_nothing_fits_exit_1(cli):
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "1k")
    assert code == 1 and d["fits"] is False and d["best"] is None
    assert d["next"]["width_mult"] == 0.05 and d["next"]["macs"] > 1000
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "1k", "--vary", "resolution")
    assert code == 1 and d["next"]["resolution"] == 8
    r = cli("fit", "zoo:mobilenet_v1", "--max-macs", "1k")
    assert r.code == 1 and "none" in r.out


def test_nothing_fits_starts_at_the_smallest_valid_input(cli):
    """VGG's five 2x2 pools need 32 px: below that the network is invalid, not too large."""
    code, d = fit_json(cli, "zoo:vgg16", "--max-macs", "1k", "--vary", "resolution")
    assert code == 1
    r = d["next"]["resolution"]
    assert _totals(S.load("zoo:vgg16").with_resolution(r)) is not None
    assert _totals(S.load("zoo:vgg16").with_resolution(r - 8)) is None


# -- --divisor (torchvision's _make_divisible) -------------------------------------------------------------
def torchvision_make_divisible(v: float, divisor: int, min_value=None) -> int:
    """torchvision/models/_utils.py, _make_divisible (BSD-3-Clause), verbatim."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    # Make sure that round down does not go down by more than 10%.
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


@settings(max_examples=200, **SETTINGS)
@given(st.integers(1, 4096), st.floats(0.01, 4.0), st.sampled_from([1, 2, 4, 8, 16]))
def test_make_divisible_is_torchvisions(c, w, divisor):
    assert make_divisible(c, w, divisor) == torchvision_make_divisible(c * w, divisor)


def test_make_divisible_published_mobilenet_v2_channels():
    """MobileNetV2's first conv (32 channels): 16 at width 0.35 and 0.5, 24 at 0.75, 48 at 1.4
    (torchvision's mobilenet_v2 and the TF-slim MobileNetV2 checkpoints)."""
    assert [make_divisible(32, w, 8) for w in (0.35, 0.5, 0.75, 1.0, 1.4)] == [16, 16, 24, 32, 48]


def test_divisor_rounds_every_scaled_channel_count(cli):
    net = S.load("zoo:mobilenet_v1")
    code, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M", "--divisor", "8")
    assert code == 0 and d["divisor"] == 8
    for rec, inside in ((d["best"], True), (d["next"], False)):
        report = walk(net, width_mult=rec["width_mult"], width_divisor=8)
        assert report.macs == rec["macs"] and (report.macs <= 300_000_000) is inside
        convs = [row for row in report.rows if row.type in ("conv", "depthwise", "pointwise")]
        assert convs and all(row.output_shape[0] % 8 == 0 for row in convs)


# -- depth scaling -------------------------------------------------------------------------------------------
def test_scale_depth_rounds_up_and_keeps_shared_subtrees(spec_file):
    text = """
name: nested
input: [4, 16, 16]
x-unit: &unit {type: conv, out_channels: 4, kernel: 3, padding: 1}
layers:
  - {type: repeat, times: 2, layers: [*unit, {type: repeat, times: 3, layers: [*unit]}]}
  - {type: residual, body: [{type: repeat, times: 1, layers: [*unit]}]}
  - {type: concat, branches: [[{type: repeat, times: 4, layers: [*unit]}], [*unit]]}
  - {type: sequential, layers: [{type: repeat, times: 5, layers: [*unit]}]}
"""
    net = S.load(spec_file(text))
    before = len(walk(net).rows)
    scaled, n = scale_depth(net, 1.1)
    assert n == 5
    # ceil(1.1 * times): 2 -> 3, 3 -> 4, 1 -> 2, 4 -> 5, 5 -> 6
    expect = 3 * (1 + 4) + (2 + 1) + (5 + 1 + 1) + 6
    assert len(walk(scaled).rows) == expect
    assert len(walk(net).rows) == before  # the original is unchanged

    def repeats(nodes, out):
        for node in nodes:
            if isinstance(node, Repeat):
                out.append(node.times)
            for attr in ("layers", "body", "shortcut"):
                repeats(getattr(node, attr, None) or [], out)
            for b in getattr(node, "branches", None) or []:
                repeats(b, out)
        return out

    assert repeats(scaled.layers, []) == [3, 4, 2, 5, 6]
    assert repeats(net.layers, []) == [2, 3, 1, 4, 5]
    assert scale_depth(net, 1.0)[0].layers[0].times == 2  # exact at phi = 0


def test_no_repeat_blocks_is_noted(cli):
    code, d = fit_json(cli, "zoo:vgg16", "--max-macs", "20G", "--vary", "compound")
    assert code == 0 and any("no repeat" in n for n in d["notes"])


# -- the extension point: a metric is one evaluator ---------------------------------------------------------
def test_a_new_metric_is_one_evaluator():
    """What latency estimates will plug into: an evaluator of (report, context)."""
    seen = []

    def toy_latency(report, ctx):
        seen.append(ctx.device)
        return report.macs // 1000 + 7

    evaluators = {**EVALUATORS, "latency": toy_latency}
    net = S.load("zoo:mobilenet_v1")
    r = fit(net, {"latency": 200_000}, "width", evaluators=evaluators, context=Context(device="toy"))
    assert r.best.totals["latency"] == r.best.totals["macs"] // 1000 + 7 <= 200_000
    assert r.next.totals["latency"] > 200_000 and set(seen) == {"toy"}


# -- formats ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "markdown", "csv"])
def test_formats_show_best_and_next(cli, fmt, tmp_path):
    r = cli("fit", "zoo:mobilenet_v1", "--max-macs", "300M", "-f", fmt)
    assert r.code == 0, r
    _, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M")
    assert "best" in r.out and "next" in r.out
    if fmt == "csv":
        rows = r.out.splitlines()
        assert rows[0].startswith("width_mult,input_shape,params,macs")
        best = next(line for line in rows if line.endswith(",best"))
        assert best.split(",")[0] == repr(d["best"]["width_mult"])
        assert f",{d['best']['macs']}," in best
    else:
        assert f"{d['best']['macs']:,}" in r.out
    out = tmp_path / "fit.out"
    assert cli("fit", "zoo:mobilenet_v1", "--max-macs", "300M", "-f", fmt, "--output", str(out)).code == 0
    if fmt == "table":  # a file is rendered 160 columns wide, stdout here 200: lines wrap apart
        assert "best" in out.read_text() and f"{d['best']['macs']:,}" in out.read_text()
    else:
        with open(out, encoding="utf-8", newline="") as fh:  # CSV lines end in CRLF (RFC 4180)
            assert fh.read() == r.out


def test_json_keys(cli):
    _, d = fit_json(cli, "zoo:mobilenet_v1", "--max-macs", "300M", "--vary", "compound")
    assert {"vary", "best", "next", "frontier"} <= d.keys()
    for rec in [d["best"], d["next"], *d["frontier"]]:
        assert {"phi", "macs", "params", "flops", "activations", "memory", "fits", "exceeded"} <= rec.keys()
    assert [p["phi"] for p in d["frontier"]] == sorted(p["phi"] for p in d["frontier"])
    assert d["best"] in d["frontier"] and d["next"] in d["frontier"]


# -- bad input: one line, exit 2 -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "args,needle",
    [
        ([], "no limits"),
        (["--max-macs", "lots"], "--max-macs"),
        (["--max-macs", "1P"], "no limit binds"),
        (["--max-macs", "300M", "--step", "0"], "--step"),
        (["--max-macs", "300M", "--step", "abc"], "--step"),
        (["--max-macs", "300M", "--step", "1e999"], "--step"),
        (["--max-macs", "300M", "--vary", "resolution", "--step", "0.5"], "whole number"),
        (["--max-macs", "300M", "--alpha", "1.3"], "only with --vary compound"),
        (["--max-macs", "300M", "--vary", "compound", "--alpha", "0.5"], "--alpha"),
        (["--max-macs", "300M", "--vary", "compound", "--gamma", "nan"], "--gamma"),
        (["--max-macs", "300M", "--from", "0"], "--from"),
        (["--max-macs", "300M", "--to", "100000"], "--to"),
        (["--max-macs", "300M", "--from", "2", "--to", "1"], "no width_mult"),
        (["--max-macs", "300M", "--step", "0.0000001"], "settings in the range"),
        (["--max-macs", "300M", "--divisor", "0"], "--divisor"),
        (["--max-macs", "300M", "--vary", "resolution", "--resolution", "160"], "--resolution"),
        (["--max-macs", "300M", "--vary", "compound", "--width-mult", "0.5"], "--width-mult"),
        (["--max-macs", "300M", "--width-mult", "0.5", "--resolution", "0"], "--resolution"),
        (["--max-macs", "300M", "--batch", "0"], "--batch"),
        (["--max-macs", "300M", "--vary", "depth"], "--vary"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli, args, needle):
    r = cli("fit", "zoo:mobilenet_v1", *args)
    assert r.code == 2, r
    assert needle in r.err, r.err
    assert r.err.count("\n") == 1 and "Traceback" not in r.err


def test_bad_spec_input_exit_2(cli, spec_file):
    flat = spec_file("name: flat\ninput: [100]\nlayers:\n  - {type: linear, out_features: 10}\n")
    r = cli("fit", flat, "--max-macs", "1k", "--vary", "resolution")
    assert r.code == 2 and "no spatial dims" in r.err
    wide = spec_file(
        "name: wide\ninput: [3, 64, 32]\nlayers:\n  - {type: conv, out_channels: 8, kernel: 3}\n"
    )
    r = cli("fit", wide, "--max-macs", "1M", "--vary", "compound")
    assert r.code == 2 and "not square" in r.err
    r = cli("fit", "zoo:nope", "--max-macs", "1M")
    assert r.code == 2 and "no zoo model" in r.err
    assert re.search(r"fit", cli("fit", "--help").out)


# -- EfficientNet (enable once examples/efficientnet_b0.yaml exists) ------------------------------------------
EFFICIENTNET_B1_B3 = {"B1": ("0.687G", 240), "B2": ("1.088G", 260), "B3": ("1.827G", 300)}
"""Mult-adds of EfficientNet-B1/B2/B3 as torchvision publishes them (its "GFLOPS" column:
0.687, 1.088, 1.827; the paper's Table 2 rounds them to 0.70B, 1.0B, 1.8B) and the resolutions
they use (240, 260, 300)."""


def check_compound_resolutions(cli, spec_path: str, budgets: dict, divisor: int = 8, *extra: str) -> dict:
    """For each (max MACs, published resolution): `fit --vary compound` must land within one
    step of the published resolution (one step: the resolution change between the answer and
    the neighbouring grid settings). Returns {name: (resolution found, published)}."""
    found = {}
    for name, (macs, published) in budgets.items():
        code, d = fit_json(
            cli, spec_path, "--max-macs", macs, "--vary", "compound", "--divisor", str(divisor), *extra
        )
        assert code == 0, (name, d)
        best, nxt = d["best"], d["next"]
        below = [p for p in d["frontier"] if p["phi"] < best["phi"]]
        step = max(
            nxt["resolution"] - best["resolution"],
            best["resolution"] - below[-1]["resolution"] if below else 0,
        )
        assert abs(best["resolution"] - published) <= step, (name, best["resolution"], published, step)
        found[name] = (best["resolution"], published)
    return found


def test_efficientnet_b0_scaled_to_b1_b3_budgets_lands_on_their_resolutions(cli):
    """The issue's proof for compound scaling: EfficientNet-B0 (with squeeze-excitation, stages
    as repeats with `first:` so depth scales as EfficientNet's round_repeats) scaled under
    B1/B2/B3's mult-adds lands within one step of 240, 260 and 300 px.

    The grid is EfficientNet's own half steps of phi (B1 ~ phi 0.5, B2 ~ 1, B3 ~ 2): on a finer
    grid B1 is not reproduced, because B1 is not on the compound curve: it keeps width 1.0
    where 1.1^0.5 = 1.049, so at B1's budget the rule spends the MACs on width (phi 0.2, 230 px).
    Measured here: B1 -> 224 px (phi 0; phi 0.5 = 240 px needs 742M > 687M), B2 -> 258, B3 -> 296."""
    found = check_compound_resolutions(
        cli, "examples/efficientnet_b0.yaml", EFFICIENTNET_B1_B3, 8, "--step", "0.5"
    )
    assert found == {"B1": (224, 240), "B2": (258, 260), "B3": (296, 300)}


def test_compound_resolution_check_on_budgets_set_by_hand(cli, tmp_path):
    """check_compound_resolutions itself, on MobileNet v1: budgets are the MACs of the network
    built by hand at phi = 1 and 2 (repeat count, width and resolution from the rule), so the
    expected resolutions are round(224 x 1.15^phi)."""
    budgets = {}
    for phi in (1, 2):
        r = math.floor(224 * 1.15**phi + 0.5)
        report = walk(
            S.load(_mobilenet_by_hand(tmp_path, phi)).with_resolution(r), width_mult=1.1**phi, width_divisor=8
        )
        budgets[f"phi={phi}"] = (str(report.macs), r)
    found = check_compound_resolutions(cli, "zoo:mobilenet_v1", budgets)
    assert found == {k: (r, r) for k, (_, r) in budgets.items()}


def test_evaluations_stay_bounded_for_a_coarse_or_fine_grid():
    net = S.load("zoo:mobilenet_v1")
    fine = fit(net, {"macs": 300_000_000}, "width", step=Fraction(1, 10000), hi=Fraction(100))
    assert fine.evaluations <= 2 * math.ceil(math.log2(100 * 10000)) + 8 < MAX_EVALS
    assert fine.best.totals["macs"] <= 300_000_000 < fine.next.totals["macs"]
    assert Fraction(repr(fine.next.setting["width_mult"])) - Fraction(
        repr(fine.best.setting["width_mult"])
    ) == Fraction(1, 10000)


def test_every_command_in_the_docs_runs(cli, monkeypatch):
    """docs/design-under-budget.md: each command of its sh blocks runs (exit 0, or 1 where the
    doc says there is no solution), never a usage error."""
    import os
    import shlex

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    monkeypatch.chdir(root)
    with open(os.path.join(root, "docs", "design-under-budget.md"), encoding="utf-8") as fh:
        text = fh.read()
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        for line in block.splitlines():
            line = line.split(" #", 1)[0].strip()
            if line:
                commands.append(shlex.split(line))
    assert len(commands) >= 15
    for argv in commands:
        assert argv[0] == "convcalc"
        r = cli(*argv[1:])
        want = 1 if argv[1:3] == ["solve", "--in"] and "110" in argv else 0
        assert r.code == want, (argv, r)
