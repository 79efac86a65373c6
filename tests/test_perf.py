"""Memory traffic and latency in every command (issue 14, phase 2): convcalc.perf against the
phase-1 formulas (convcalc.traffic, convcalc.roofline), and the JSON keys of `report`, the
single-layer commands, `compare`, `check`, `diff` and `fit` on hand-computed layers and
networks, with latencies on a small profile file.

Every expected byte count below is written out from the layers' shapes (B = 4 bytes in fp32),
not taken from convcalc; FLOPs come from convcalc's own ``flops`` (checked against torch in the
oracle tests); latencies are recomputed here with exact fractions from those two.
"""

from __future__ import annotations

import json
from fractions import Fraction

import pytest
from conftest import run_cli
from hypothesis import given, settings
from hypothesis import strategies as st
from test_oracle_networks import SETTINGS
from test_traffic import conv_layers

from convcalc.devices import parse_text
from convcalc.layers import REGISTRY
from convcalc.perf import COMPUTE, MEMORY, Perf
from convcalc.roofline import COMPUTE as R_COMPUTE
from convcalc.roofline import MEMORY as R_MEMORY
from convcalc.roofline import layer_estimate, summed
from convcalc.traffic import layer_traffic, total

# 1 GFLOP/s in fp32, 100 MB/s, 5 us per kernel: ridge point 10 FLOP/byte; every time is a
# terminating decimal (bytes / 10^8, FLOPs / 10^9), so limits can be written exactly
BOARD_YAML = "name: board\npeak: {fp32: 1G, fp16: 4G}\nbandwidth: 100M\nlaunch_overhead: 5us\n"
BOARD = parse_text(BOARD_YAML, "board.yaml")
PEAK, BW, OVERHEAD = 10**9, 10**8, Fraction(5, 10**6)

NET = """\
name: small
input: [8, 16, 16]
layers:
  - {type: conv, name: c1, out_channels: 16, kernel: 3, padding: 1, bias: false}
  - type: residual
    name: res
    body:
      - {type: depthwise, name: dw, kernel: 3, padding: 1, bias: false}
      - {type: batchnorm, name: bn}
  - {type: activation, name: relu, fn: relu}
  - {type: separable, name: sep, out_channels: 32, kernel: 3, padding: 1, bias: false}
  - {type: global_pool, name: gap}
  - {type: flatten, name: flat}
  - {type: linear, name: fc, out_features: 10}
"""
# (bytes read, bytes written) of each row in fp32, from the shapes:
EXPECTED_BYTES = {
    "c1": (4 * (8 * 256 + 16 * 8 * 9), 4 * 16 * 256),  # input + weights; output 16x16x16
    "dw": (4 * (16 * 256 + 16 * 9), 4 * 16 * 256),
    "bn": (4 * (16 * 256 + 2 * 16), 4 * 16 * 256),  # folded scale and shift
    "add": (4 * 2 * 16 * 256, 4 * 16 * 256),  # the residual add reads body and shortcut
    "relu": (4 * 16 * 256, 4 * 16 * 256),
    # separable: depthwise (input + 16*9) then pointwise (intermediate + 16*32), unfused
    "sep": (4 * (16 * 256 + 16 * 9) + 4 * (16 * 256 + 16 * 32), 4 * 16 * 256 + 4 * 32 * 256),
    "gap": (4 * 32 * 256, 4 * 32),
    "flat": (0, 0),  # a view
    "fc": (4 * (32 + 32 * 10 + 10), 4 * 10),
}


@pytest.fixture
def net(spec_file):
    return spec_file(NET, "small.yaml")


@pytest.fixture
def board(tmp_path):
    p = tmp_path / "board.yaml"
    p.write_text(BOARD_YAML, encoding="utf-8")
    return str(p)


def report_json(*args: str) -> dict:
    r = run_cli("report", *args, "-f", "json")
    assert r.code == 0, r
    return json.loads(r.out)


def short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def kernel_time(flops: int, traffic: int) -> tuple[Fraction, str]:
    """One kernel on BOARD, by the formula: max(FLOPs / peak, bytes / bandwidth) + overhead."""
    compute, memory = Fraction(flops, PEAK), Fraction(traffic, BW)
    return max(compute, memory) + OVERHEAD, ("memory" if memory > compute else "compute")


# -- convcalc.perf against the phase-1 formulas -------------------------------------------------------
def test_bound_names_are_roofline_s():
    assert (COMPUTE, MEMORY) == (R_COMPUTE, R_MEMORY)


@st.composite
def any_layer(draw):
    kind = draw(st.sampled_from(["conv_family", "shuffle", "view", "pool"]))
    if kind == "conv_family":
        return draw(conv_layers())
    if kind == "shuffle":
        g = draw(st.sampled_from([1, 2, 3]))
        c = 4 * g * draw(st.integers(1, 3))
        stride = draw(st.sampled_from([1, 2]))
        out = c if stride == 1 else c + 4 * g * draw(st.integers(1, 2))
        layer = REGISTRY["shuffle"].build({"out_channels": out, "groups": g, "stride": stride})
        return layer, (c, draw(st.integers(4, 9)), draw(st.integers(4, 9)))
    if kind == "view":
        return REGISTRY[draw(st.sampled_from(["flatten", "dropout", "identity"]))].build({}), (3, 4, 4)
    return REGISTRY["pool"].build({"kernel": 2}), (draw(st.integers(1, 8)), 8, 8)


@settings(max_examples=80, **SETTINGS)
@given(
    st.lists(any_layer(), min_size=1, max_size=4),
    st.integers(1, 4),
    st.sampled_from(["fp32", "fp16"]),
    st.integers(1, 10**6),
    st.integers(1, 10**6),
    st.integers(0, 10),
)
def test_perf_equals_traffic_and_roofline_exactly(layers, batch, dtype, peak_m, bw_m, overhead_us):
    profile = parse_text(
        f"peak: {{fp32: {peak_m}M, fp16: {2 * peak_m}M}}\nbandwidth: {bw_m}M\nlaunch_overhead: {overhead_us}us\n"
    )
    perf = Perf(dtype, batch, profile)
    costs = [layer.cost(shape) for layer, shape in layers]
    estimates = []
    for c in costs:
        t = perf.tally(c)
        ref_t = layer_traffic(c, dtype, batch)
        assert (t.read, t.written, t.flops) == (ref_t.bytes_read, ref_t.bytes_written, ref_t.flops)
        ref = layer_estimate(c, profile, dtype, batch)
        e = perf.estimate(t)
        assert e is not None
        assert (e.latency_s, e.compute_s, e.memory_s, e.overhead_s, e.memory_bound_s, e.kernels, e.bound) == (
            ref.latency_s,
            ref.compute_s,
            ref.memory_s,
            ref.overhead_s,
            ref.memory_bound_s,
            ref.kernels,
            ref.bound,
        )
        keys = perf.cost_keys(c)
        assert keys == perf.keys(t)
        assert keys["latency_s"] == float(ref.latency_s) and keys["bound"] == ref.bound
        assert keys["arithmetic_intensity"] == ref_t.as_dict()["arithmetic_intensity"]
        if c.parts:
            for part, ref_part in zip(perf.parts(c), ref_t.parts):
                assert (part.read, part.written) == (ref_part.bytes_read, ref_part.bytes_written)
        estimates.append(ref)
    whole = perf.totals(costs)
    s = summed(estimates)
    ref_total = total(layer_traffic(c, dtype, batch) for c in costs)
    assert (whole.read, whole.written, whole.flops) == (
        ref_total.bytes_read,
        ref_total.bytes_written,
        ref_total.flops,
    )
    e = perf.estimate(whole)
    assert e is not None
    assert (e.latency_s, e.memory_bound_s, e.kernels, e.bound) == (
        s.latency_s,
        s.memory_bound_s,
        s.kernels,
        s.bound,
    )
    assert perf.latency(whole) == s.latency_s and perf.latency_float(whole) == float(s.latency_s)


def test_bad_dtype_and_device_pairs_are_clear_errors():
    from convcalc.devices import load_profile
    from convcalc.errors import ConvcalcError

    with pytest.raises(ConvcalcError, match="unknown dtype 'fp17'"):
        Perf("fp17")
    with pytest.raises(ConvcalcError, match="has no int8 peak"):
        Perf("int8", 1, BOARD)
    with pytest.raises(ConvcalcError, match="no memory bandwidth"):
        Perf("int8", 1, load_profile("edge-tpu"))


# -- report: every row and the totals ------------------------------------------------------------------
def test_report_rows_and_totals_hand_computed(net):
    d = report_json(net)
    rows = {short(x["name"]): x for x in d["layers"]}
    assert set(rows) == set(EXPECTED_BYTES)
    for name, (read, written) in EXPECTED_BYTES.items():
        x = rows[name]
        assert (x["bytes_read"], x["bytes_written"], x["memory_traffic"]) == (
            read,
            written,
            read + written,
        ), name
        ai = x["arithmetic_intensity"]
        assert ai == (x["flops"] / (read + written) if read + written else None), name
        assert "latency_s" not in x and "bound" not in x  # no device
    assert rows["add"]["inputs"] == ["res.bn", "c1"]  # it reads both operands
    t = d["totals"]
    read = sum(r for r, _ in EXPECTED_BYTES.values())
    written = sum(w for _, w in EXPECTED_BYTES.values())
    assert (t["bytes_read"], t["bytes_written"], t["memory_traffic"]) == (read, written, read + written)
    assert t["arithmetic_intensity"] == t["flops"] / (read + written)
    # every output but the flatten view's, plus the separable conv's intermediate (unfused)
    assert t["bytes_written"] == t["activation_bytes"] - 4 * 32 + 4 * 16 * 256
    assert d["device"] is None and "latency_s" not in t


def test_composite_row_is_the_sum_of_its_parts(net):
    d = report_json(net)
    sep = next(x for x in d["layers"] if short(x["name"]) == "sep")
    dw, pw = sep["parts"]
    assert (dw["bytes_read"], dw["bytes_written"]) == (4 * (16 * 256 + 16 * 9), 4 * 16 * 256)
    assert (pw["bytes_read"], pw["bytes_written"]) == (4 * (16 * 256 + 16 * 32), 4 * 32 * 256)
    for k in ("bytes_read", "bytes_written", "memory_traffic"):
        assert sep[k] == dw[k] + pw[k]


@pytest.mark.parametrize("dtype,b", [("fp16", 2), ("int8", 1), ("fp64", 8)])
def test_dtype_scales_every_byte(net, dtype, b):
    d = report_json(net, "--dtype", dtype)
    for x in d["layers"]:
        read, written = EXPECTED_BYTES[short(x["name"])]
        assert (x["bytes_read"], x["bytes_written"]) == (read // 4 * b, written // 4 * b)


def test_batch_multiplies_activations_not_weights(net):
    d = report_json(net, "--batch", "3")
    c1 = next(x for x in d["layers"] if short(x["name"]) == "c1")
    assert c1["bytes_read"] == 4 * (3 * 8 * 256 + 16 * 8 * 9)
    assert c1["bytes_written"] == 3 * 4 * 16 * 256


def test_report_latency_per_row_and_total_on_a_profile_file(net, board):
    d = report_json(net, "--device", board)
    assert d["device"] == {
        "id": None,
        "name": "board",
        "peak": PEAK,
        "bandwidth": BW,
        "launch_overhead_s": 5e-06,
    }
    total_s, memory_s = Fraction(0), Fraction(0)
    for x in d["layers"]:
        name = short(x["name"])
        if name == "flat":  # a view: no kernel, no time, no launch
            assert (x["latency_s"], x["bound"]) == (0.0, None)
            continue
        if name == "sep":  # two kernels, each its own roofline and overhead
            parts = [kernel_time(p["flops"], p["memory_traffic"]) for p in x["parts"]]
            lat = sum(t for t, _ in parts)
            mem = sum(t for t, b in parts if b == "memory")
            bound = "memory" if 2 * mem > lat else "compute"
            for p, (t, b) in zip(x["parts"], parts):
                assert (p["latency_s"], p["bound"]) == (float(t), b)
        else:
            read, written = EXPECTED_BYTES[name]
            lat, bound = kernel_time(x["flops"], read + written)
            mem = lat if bound == "memory" else Fraction(0)
        assert (x["latency_s"], x["bound"]) == (float(lat), bound), name
        total_s += lat
        memory_s += mem
    t = d["totals"]
    assert t["latency_s"] == float(total_s)
    assert t["memory_bound_share"] == float(memory_s / total_s)
    assert t["bound"] == ("memory" if 2 * memory_s > total_s else "compute")
    assert t["compute_s"] == float(Fraction(t["flops"], PEAK))
    assert t["memory_s"] == float(Fraction(t["memory_traffic"], BW))


def test_report_table_headline_columns_and_block_subtotals(net, board, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    r = run_cli("report", net, "--device", board)
    assert r.code == 0, r
    d = report_json(net, "--device", board)
    from convcalc.render.doc import seconds_text

    headline = f"estimated latency on board (roofline lower bound, unfused): {seconds_text(d['totals']['latency_s'])}"
    assert headline in r.out.replace("\n  ", " ")
    head = next(line for line in r.out.splitlines() if line.startswith("layer "))
    assert "latency" in head and "bound" in head
    # the residual block's row carries the subtotals of its layers
    from convcalc import load_spec, walk
    from convcalc.devices import load_profile
    from convcalc.perf import Perf
    from convcalc.render.views import tree_lines

    report = walk(load_spec(net))
    perf = Perf("fp32", 1, load_profile(board))
    lines = tree_lines(report, None, False, perf)
    block = next(ln for ln in lines if ln.kind == "block" and ln.name == "res")
    inside = [x for x in d["layers"] if x["name"].startswith("res.")]
    assert [short(x["name"]) for x in inside] == ["dw", "bn", "add"]
    assert block.tally.read == sum(x["bytes_read"] for x in inside)
    assert block.tally.written == sum(x["bytes_written"] for x in inside)
    assert float(perf.latency(block.tally)) == pytest.approx(sum(x["latency_s"] for x in inside), rel=1e-12)


def test_report_columns_choose_the_new_keys(net, board):
    r = run_cli(
        "report", net, "--device", board, "-f", "csv", "--columns", "name,memory_traffic,latency_s,bound"
    )
    assert r.code == 0, r
    lines = r.out.strip().split("\r\n")
    assert lines[0] == "name,memory_traffic,latency_s,bound"
    d = report_json(net, "--device", board)
    for line, x in zip(lines[1:], d["layers"]):
        name, traffic, lat, bound = line.split(",")
        assert (name, int(traffic), bound or None) == (x["name"], x["memory_traffic"], x["bound"])
        assert float(lat) == x["latency_s"]


def test_device_and_dtype_errors_are_one_line(net):
    r = run_cli("report", net, "--device", "h10")
    assert r.code == 2 and "unknown device 'h10'" in r.err and "did you mean" in r.err
    r = run_cli("report", net, "--device", "t4", "--dtype", "bf16")
    assert r.code == 2 and "has no bf16 peak" in r.err and "Traceback" not in r.err


# -- the single-layer commands ---------------------------------------------------------------------------
def layer_json(*args: str) -> dict:
    r = run_cli(*args, "-f", "json")
    assert r.code == 0, r
    return json.loads(r.out)


def test_conv3x3_keys():
    d = layer_json("conv", "-c", "16", "--size", "8x8", "-o", "32", "-k", "3", "-p", "1")
    read, written = 4 * (16 * 64 + 32 * 16 * 9 + 32), 4 * 32 * 64
    flops = 2 * 32 * 16 * 9 * 64 + 32 * 64
    assert (d["bytes_read"], d["bytes_written"], d["memory_traffic"]) == (read, written, read + written)
    assert d["arithmetic_intensity"] == flops / (read + written)
    assert d["dtype"] == "fp32" and d["device"] is None


def test_depthwise_is_memory_bound_at_about_2_flop_per_byte():
    d = layer_json(
        "depthwise", "-c", "32", "--size", "56x56", "-k", "3", "-p", "1", "--no-bias", "--device", "a100-40gb"
    )
    traffic = 4 * (2 * 32 * 3136 + 32 * 9)
    assert d["memory_traffic"] == traffic
    assert d["arithmetic_intensity"] == 2 * 32 * 9 * 3136 / traffic
    assert d["bound"] == "memory"
    assert d["latency_s"] == float(Fraction(traffic, 1_555_000_000_000))  # A100 40GB: 1,555 GB/s


def test_pointwise_traffic_is_shufflenet_v2_mac_in_fp16():
    h = w = 28
    c1, c2 = 64, 128
    d = layer_json(
        "pointwise", "-c", str(c1), "--size", f"{h}x{w}", "-o", str(c2), "--no-bias", "--dtype", "fp16"
    )
    assert d["memory_traffic"] == 2 * (h * w * (c1 + c2) + c1 * c2)


def test_transposed_conv_keys_and_batch():
    d = layer_json(
        "transposed",
        "-c",
        "64",
        "--size",
        "8x8",
        "-o",
        "32",
        "-k",
        "4",
        "-s",
        "2",
        "-p",
        "1",
        "--no-bias",
        "--batch",
        "2",
    )
    assert d["bytes_read"] == 4 * (2 * 64 * 64 + 64 * 32 * 16)
    assert d["bytes_written"] == 4 * 2 * 32 * 256


def test_separable_parts_and_latency_on_a_profile(board):
    d = layer_json(
        "separable",
        "-c",
        "16",
        "--size",
        "16x16",
        "-o",
        "32",
        "-k",
        "3",
        "-p",
        "1",
        "--no-bias",
        "--device",
        board,
    )
    dw, pw = d["parts"]
    t_dw, b_dw = kernel_time(dw["flops"], 4 * (16 * 256 + 16 * 9) + 4 * 16 * 256)
    t_pw, b_pw = kernel_time(pw["flops"], 4 * (16 * 256 + 16 * 32) + 4 * 32 * 256)
    assert (dw["latency_s"], dw["bound"], pw["latency_s"], pw["bound"]) == (
        float(t_dw),
        b_dw,
        float(t_pw),
        b_pw,
    )
    assert d["latency_s"] == float(t_dw + t_pw)


def test_layer_table_says_the_estimate(board, monkeypatch):
    monkeypatch.setenv("COLUMNS", "120")
    r = run_cli("conv", "-c", "16", "--size", "8x8", "-o", "32", "-k", "3", "-p", "1", "--device", board)
    assert r.code == 0, r
    assert "memory traffic (fp32, unfused)" in r.out and "arithmetic intensity" in r.out
    assert "on board (roofline lower bound, unfused)" in r.out
    assert "bound" in r.out and "ridge point of board at fp32 is 10 FLOP/byte" in r.out


# -- compare ---------------------------------------------------------------------------------------------
def test_compare_latency_beside_macs_and_the_computed_footer(monkeypatch):
    monkeypatch.setenv("COLUMNS", "240")
    args = [
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
    ]
    r = run_cli(*args)
    assert r.code == 0, r
    d = layer_json(*args)
    std, sep = d["variants"][0], next(v for v in d["variants"] if v["variant"] == "depthwise-separable")
    assert sep["latency_ratio"] == sep["latency_s"] / std["latency_s"] or sep[
        "latency_ratio"
    ] == pytest.approx(sep["latency_s"] / std["latency_s"], rel=1e-12)
    assert sep["traffic_ratio"] == sep["memory_traffic"] / std["memory_traffic"]
    fewer = std["macs"] / sep["macs"]
    faster = std["latency_s"] / sep["latency_s"]
    assert faster < fewer  # where a MAC saving becomes a smaller time saving
    text = r.out.replace("\n  ", " ")
    assert f"depthwise-separable on NVIDIA H100 SXM at fp32: {fewer:.2f}x fewer MACs" in text
    assert f"but only {faster:.2f}x less estimated time" in text
    head = next(line for line in r.out.splitlines() if line.startswith("variant"))
    assert head.index("MACs") < head.index("latency") < head.index("MACs / std")


def test_compare_without_a_device_compares_traffic():
    d = layer_json("compare", "-c", "64", "--size", "28x28", "-o", "64", "-k", "3", "-p", "same")
    assert d["device"] is None and d["dtype"] == "fp32"
    for v in d["variants"]:
        if "error" not in v:
            assert {"bytes_read", "bytes_written", "memory_traffic", "arithmetic_intensity"} <= v.keys()
            assert "latency_s" not in v
    r = run_cli("compare", "-c", "64", "--size", "28x28", "-o", "64", "-k", "3", "-p", "same")
    std, sep = d["variants"][0], next(v for v in d["variants"] if v["variant"] == "depthwise-separable")
    ratio = std["memory_traffic"] / sep["memory_traffic"]
    text = r.out.replace("\n  ", " ")
    word = f"yet {1 / ratio:.2f}x more" if ratio < 1 else f"{ratio:.2f}x less"
    assert f"depthwise-separable: {std['macs'] / sep['macs']:.2f}x fewer MACs than the standard conv" in text
    assert word in text


# -- check: budgets on traffic and latency -----------------------------------------------------------------
def check_json(*args: str):
    r = run_cli("check", *args, "-f", "json")
    return r, (json.loads(r.out) if r.out else None)


def exact_ns(seconds: Fraction) -> str:
    """A time as an exact decimal number of nanoseconds (BOARD's times are terminating decimals)."""
    ns = seconds * 10**9
    whole, rest = divmod(ns, 1)
    digits = ""
    while rest:
        rest *= 10
        d, rest = divmod(rest, 1)
        digits += str(d)
        assert len(digits) < 30
    return f"{whole}{'.' + digits if digits else ''}ns"


def exact_latency(net: str, board: str) -> Fraction:
    from convcalc import load_spec, walk
    from convcalc.devices import load_profile
    from convcalc.export import report_tally

    report = walk(load_spec(net))
    perf = Perf("fp32", 1, load_profile(board))
    lat = perf.latency(report_tally(report, perf))
    assert lat is not None
    return lat


def test_max_traffic_at_the_boundary(net):
    total = sum(r + w for r, w in EXPECTED_BYTES.values())
    r, d = check_json(net, "--max-traffic", str(total))
    assert r.code == 0 and d["results"][0]["metric"] == "traffic" and d["results"][0]["value"] == total
    r, d = check_json(net, "--max-traffic", str(total - 1))
    assert r.code == 1 and d["results"][0]["excess"] == 1
    r, d = check_json(net, "--max-traffic", "1MiB")
    assert r.code == 0 and d["results"][0]["limit"] == 2**20


def test_max_latency_at_the_exact_boundary(net, board):
    lat = exact_latency(net, board)
    r, d = check_json(net, "--device", board, "--max-latency", exact_ns(lat))
    assert r.code == 0, r
    [res] = d["results"]
    assert (res["metric"], res["passed"], res["value"], res["limit"]) == (
        "latency",
        True,
        float(lat),
        float(lat),
    )
    assert res["device"] == "board" and res["unit"] == "s"
    r, d = check_json(net, "--device", board, "--max-latency", exact_ns(lat - Fraction(1, 10**12)))
    assert r.code == 1 and d["results"][0]["passed"] is False
    r = run_cli("check", net, "--device", board, "--max-latency", exact_ns(lat - Fraction(1, 10**12)))
    # a latency just over its limit never prints as equal to it
    line = next(x for x in r.out.replace("\n  ", " ").splitlines() if "exceeds the limit" in x)
    value, limit = line.split("latency on board ")[1].split(" exceeds the limit ")
    assert value != limit.split(" by ")[0]


def test_budget_section_latency_device_traffic(tmp_path, board):
    spec = tmp_path / "net.yaml"
    profile = tmp_path / "board.yaml"
    profile.write_text(BOARD_YAML, encoding="utf-8")
    spec.write_text(NET, encoding="utf-8")
    lat = exact_latency(str(spec), str(profile))
    total = sum(r + w for r, w in EXPECTED_BYTES.values())
    for latency, traffic, code in (
        (exact_ns(lat), str(total), 0),
        (exact_ns(lat - Fraction(1, 10**12)), str(total), 1),
        (exact_ns(lat), str(total - 1), 1),
    ):
        text = NET.replace(
            "input: [8, 16, 16]\n",
            f"input: [8, 16, 16]\nbudget:\n  latency: {latency}\n  device: board.yaml\n  traffic: {traffic}\n",
        )
        spec.write_text(text, encoding="utf-8")
        r, d = check_json(str(spec))  # the device file is found next to the spec
        assert r.code == code, r
        by = {x["metric"]: x for x in d["results"]}
        assert set(by) == {"traffic", "latency"}
        assert by["latency"]["source"] == "budget" and by["latency"]["line"] == 4
        assert by["traffic"]["line"] == 6


def test_a_latency_limit_needs_a_device(spec_file):
    path = spec_file(NET.replace("input: [8, 16, 16]\n", "input: [8, 16, 16]\nbudget:\n  latency: 5ms\n"))
    r = run_cli("check", path)
    assert r.code == 2 and r.err.startswith(f"convcalc: error: {path}:4: budget.latency: 5ms needs a device")
    assert "budget.device" in r.err and "--device" in r.err and len(r.err.strip().splitlines()) == 1
    r = run_cli("check", spec_file(NET), "--max-latency", "5ms")
    assert r.code == 2 and "--max-latency 5ms needs a device" in r.err and "--device" in r.err
    assert run_cli("check", path, "--device", "h100").code == 0  # the flag gives the device


@pytest.mark.parametrize(
    "budget,line,message",
    [
        ("  latency: 5\n  device: h100\n", 4, "budget.latency: needs a unit"),
        ("  latency: 5ms\n  device: h10\n", 5, "budget.device: unknown device 'h10'"),
        ("  latency: 5ms\n  device: [h100]\n", 5, "budget.device: must be a device name"),
        ("  traffic: lots\n", 4, "budget.traffic: 'lots' is not a number"),
        ("  latency: 5ms\n  device: edge-tpu\n", 5, "budget.device: device 'Google Edge TPU"),
    ],
)
def test_budget_errors_name_file_line_and_key(spec_file, budget, line, message):
    path = spec_file(NET.replace("input: [8, 16, 16]\n", "input: [8, 16, 16]\nbudget:\n" + budget))
    r = run_cli("check", path)
    assert r.code == 2, r
    assert r.err.startswith(f"convcalc: error: {path}:{line}: {message}"), r.err


def test_a_missing_profile_file_is_named_at_the_budget_line(tmp_path):
    spec = tmp_path / "net.yaml"
    spec.write_text(
        NET.replace("input: [8, 16, 16]\n", "input: [8, 16, 16]\nbudget: {latency: 5ms, device: gone.yaml}\n")
    )
    r = run_cli("check", str(spec))
    assert r.code == 2
    assert r.err.startswith(
        f"convcalc: error: {spec}:3: budget.device: {tmp_path / 'gone.yaml'}: no such file"
    ), r.err


def test_the_schema_knows_the_new_budget_keys():
    import jsonschema

    from convcalc.schema import spec_schema

    schema = spec_schema()
    base = {"input": [3, 8, 8], "layers": [{"type": "identity"}]}
    ok = {**base, "budget": {"latency": "5ms", "device": "orin", "traffic": "1G"}}
    jsonschema.validate(ok, schema)
    for bad in ({"latency": "5"}, {"device": ""}, {"traffic": "lots"}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate({**base, "budget": bad}, schema)


def test_baseline_compares_traffic_and_latency(tmp_path, net, board, spec_file):
    saved = str(tmp_path / "base.json")
    assert run_cli("report", net, "--device", board, "-f", "json", "--output", saved).code == 0
    r, d = check_json(net, "--baseline", saved, "--device", board)
    assert r.code == 0, r
    by = {x["metric"]: x for x in d["results"]}
    assert {"traffic", "latency"} <= set(by)
    assert by["latency"]["change"] == 0.0 and by["traffic"]["change"] == 0
    # one more layer: a ReLU after the first conv
    wider = spec_file(
        NET.replace("  - type: residual\n", "  - {type: activation, fn: relu}\n  - type: residual\n")
    )
    r, d = check_json(wider, "--baseline", saved, "--device", board)
    assert r.code == 1
    by = {x["metric"]: x for x in d["results"]}
    relu = 2 * 4 * 16 * 256  # the inserted ReLU reads and writes 16x16x16
    assert by["traffic"]["change"] == relu and not by["traffic"]["passed"]
    assert by["latency"]["change"] == pytest.approx(float(Fraction(relu, BW) + OVERHEAD), rel=1e-9)
    assert by["latency"]["passed"] is False and by["latency"]["device"] == "board"
    # a share allows it (exactly: the share of growth is computed here); a time is never
    # compared with an absolute allowance
    pct = 100 * by["latency"]["change"] / by["latency"]["baseline"]
    r, d = check_json(wider, "--baseline", saved, "--device", board, "--max-increase", f"{pct * 1.0001:.6f}%")
    assert next(x for x in d["results"] if x["metric"] == "latency")["passed"] is True
    r, d = check_json(wider, "--baseline", saved, "--device", board, "--max-increase", f"{pct * 0.9999:.6f}%")
    assert next(x for x in d["results"] if x["metric"] == "latency")["passed"] is False
    r, d = check_json(wider, "--baseline", saved, "--device", board, "--max-increase", "1M")
    assert "latency" not in {x["metric"] for x in d["results"]}
    assert "baseline_latency" in {n["kind"] for n in d["notes"]}
    # without --device the saved latency is not compared
    r, d = check_json(net, "--baseline", saved)
    assert "latency" not in {x["metric"] for x in d["results"]}


# -- diff ---------------------------------------------------------------------------------------------------
def test_diff_shows_traffic_and_latency_changes(tmp_path, net, board, spec_file):
    wider = spec_file(NET.replace("out_features: 10", "out_features: 20"))
    r = run_cli("diff", net, wider, "--device", board, "-f", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    extra = 4 * (32 * 10 + 10) + 4 * 10  # 10 more outputs: 330 more weights read, 10 more written
    assert d["totals"]["memory_traffic"]["change"] == extra
    [fc] = d["layers"]
    assert fc["memory_traffic_change"] == extra
    old_t, new_t = (
        report_json(net, "--device", board)["totals"],
        report_json(wider, "--device", board)["totals"],
    )
    assert (
        d["totals"]["latency_s"]["old"] == old_t["latency_s"]
        and d["totals"]["latency_s"]["new"] == new_t["latency_s"]
    )
    assert fc["latency_s_change"] == pytest.approx(new_t["latency_s"] - old_t["latency_s"], rel=1e-9)
    # saved reports that both carry a latency: compared without --device
    a, b = str(tmp_path / "a.json"), str(tmp_path / "b.json")
    assert run_cli("report", net, "--device", board, "-f", "json", "--output", a).code == 0
    assert run_cli("report", wider, "--device", board, "-f", "json", "--output", b).code == 0
    d2 = json.loads(run_cli("diff", a, b, "-f", "json").out)
    assert d2["totals"]["latency_s"] == d["totals"]["latency_s"]
    r = run_cli("diff", a, b, "--wide")
    assert "Δ latency" in r.out and "latency" in r.out.split("Totals")[1]
    # one side without a latency: said, not compared
    r = run_cli("diff", a, wider, "-f", "json")
    assert "latency_s" not in json.loads(r.out)["totals"]
    r = run_cli("diff", a, wider)
    assert "latency: not compared, the new report has none" in r.out.replace("\n  ", " ")


def test_diff_warns_when_devices_differ(net, board):
    r = run_cli("diff", net, net, "--device", board)
    assert "device differs" not in r.out
    from convcalc.diff import diff_reports

    a = report_json(net, "--device", board)
    b = report_json(net, "--device", "h100")
    d = diff_reports(a, b)
    assert ("device", "board", "NVIDIA H100 SXM") in d.settings


# -- fit --------------------------------------------------------------------------------------------------
def test_fit_max_latency(net, board):
    r = run_cli("fit", net, "--max-latency", "2ms", "--device", board, "-f", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["limits"] == {"latency": 0.002} and d["device"] == "board"
    assert d["best"]["latency"] <= 0.002 < d["next"]["latency"]
    assert d["next"]["exceeded"] == ["latency"]
    # the evaluator is the report's own estimate at that width
    w = d["best"]["width_mult"]
    rep = report_json(net, "--width-mult", str(w), "--device", board)
    assert rep["totals"]["latency_s"] == d["best"]["latency"]
    r = run_cli("fit", net, "--max-latency", "2ms")
    assert r.code == 2 and "--max-latency 2ms needs a device" in r.err


def test_fit_max_traffic(net):
    r = run_cli("fit", net, "--max-traffic", "500k", "-f", "json")
    assert r.code == 0, r
    d = json.loads(r.out)
    assert d["best"]["traffic"] <= 500_000 < d["next"]["traffic"]
    assert d["best"]["traffic"] == d["best"]["memory_traffic"]
