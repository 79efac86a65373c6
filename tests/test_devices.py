"""Device profiles (convcalc.devices): the built-in profiles and their cited figures, profile
files (good ones, and every bad one with FILE:LINE), and the `convcalc devices` and
`convcalc devices measure` commands (issue 14)."""

from __future__ import annotations

import json
import re
from fractions import Fraction

import pytest

from convcalc import devices as dv
from convcalc.devices import load_profile, parse_duration, parse_text
from convcalc.errors import ConvcalcError, SpecError

REQUIRED_IDS = {
    "a100-40gb": "A100 40GB",
    "a100-80gb": "A100 80GB",
    "h100-sxm": "H100 SXM",
    "h100-pcie": "H100 PCIe",
    "h200": "H200",
    "l4": "L4",
    "t4": "T4",
    "jetson-agx-orin": "AGX Orin",
    "jetson-orin-nano": "Orin Nano",
    "rpi5": "Raspberry Pi 5",
    "apple-m2-gpu": "M2",
    "edge-tpu": "Edge TPU",
    "x86-laptop": "x86 laptop",
}


# -- built-in profiles ---------------------------------------------------------------------------
def test_every_required_device_is_built_in():
    profiles = {p.key: p for p in dv.builtins()}
    assert set(REQUIRED_IDS) <= set(profiles)
    for key, words in REQUIRED_IDS.items():
        assert words in profiles[key].name


def test_builtins_cite_their_sources():
    for p in dv.builtins():
        assert p.source is not None, p.key
        assert p.source.document and p.source.url.startswith("https://"), p.key
        assert p.source.figures, p.key
        assert p.peak, p.key


def test_names_and_aliases_resolve_and_are_unique():
    seen: dict[str, str] = {}
    for p in dv.builtins():
        for n in (p.key, p.name, *p.aliases):
            k = dv.normalise(n)
            assert seen.setdefault(k, p.key) == p.key, f"{n!r} names {seen[k]} and {p.key}"
            assert load_profile(n) is p
            assert load_profile(n.upper()) is p
    assert load_profile("orin").key == "jetson-agx-orin"
    assert load_profile("NVIDIA H100 SXM").key == "h100-sxm"
    assert load_profile("Jetson_Orin_Nano").key == "jetson-orin-nano"


def test_quick_name_index_agrees_with_the_full_parse():
    from convcalc.devices import _index

    full = {dv.normalise(n): p.key for p in dv.builtins() for n in (p.key, p.name, *p.aliases)}
    assert _index() == full


def test_unknown_device_suggests():
    with pytest.raises(ConvcalcError, match=r"unknown device 'h10' \(did you mean 'h100'\?\)"):
        load_profile("h10")
    with pytest.raises(ConvcalcError, match="convcalc devices"):
        load_profile("quantum-abacus")


LABELS = {
    "fp64": r"FP64",
    "fp32": r"FP32|Single-Precision",
    "tf32": r"TF32",
    "fp16": r"FP16",
    "bf16": r"BFLOAT16",
    "int8": r"INT8|int8",
}
_NUM = re.compile(r"(?<![A-Za-z\d.,])(\d[\d,]*(?:\.\d+)?)(?!\d)")


def _numbers(line: str) -> set[Fraction]:
    return {Fraction(m.replace(",", "")) for m in _NUM.findall(line)}


def _cited(value: int, lines: list[str], label: str, units: dict[str, int]) -> bool:
    """Whether ``value`` (or half of a sparse figure) is printed on a line that names it."""
    for line in lines:
        if not re.search(label, line):
            continue
        for unit, scale in units.items():
            if unit in line:
                nums = _numbers(line)
                sparse = "*" in line or "sparse" in line.lower()
                if Fraction(value, scale) in nums or (sparse and Fraction(2 * value, scale) in nums):
                    return True
    return False


@pytest.mark.parametrize("key", sorted(REQUIRED_IDS))
def test_each_figure_is_cited_or_declared_unconfirmed(key):
    """Every peak and bandwidth is either printed in the cited figures (dense, or the sparse
    figure that is twice it) or listed as unconfirmed: a typo in a YAML file fails here."""
    p = load_profile(key)
    assert p.source is not None
    figures, unconfirmed = list(p.source.figures), list(p.source.unconfirmed)
    flops = {"TFLOP": 10**12, "teraFLOP": 10**12, "TOP": 10**12, "GFLOP": 10**9, "GOP": 10**9}
    for dtype, value in p.peak.items():
        ok = _cited(value, figures, LABELS[dtype], flops) or any(
            re.search(rf"\b{dtype}\b", u) for u in unconfirmed
        )
        assert ok, f"{key}: peak.{dtype} = {dv.si_text(value)} is neither cited nor declared unconfirmed"
    if p.bandwidth is not None:
        ok = _cited(p.bandwidth, figures, r"(?i)bandwidth|GB/s|TB/s", {"TB/s": 10**12, "GB/s": 10**9}) or any(
            u.startswith("bandwidth") for u in unconfirmed
        )
        assert ok, f"{key}: bandwidth {dv.si_text(p.bandwidth)} is neither cited nor declared unconfirmed"
    else:
        assert any(u.startswith("bandwidth") for u in unconfirmed)


def test_nvidia_dense_figures_are_half_the_sparse_ones():
    h100 = load_profile("h100")
    assert h100.peak["fp16"] * 2 == 1979 * 10**12 and h100.peak["int8"] * 2 == 3958 * 10**12
    assert load_profile("l4").peak["int8"] * 2 == 485 * 10**12
    assert load_profile("a100-80gb").peak["fp16"] == 312 * 10**12  # printed dense


def test_every_peak_dtype_has_a_report_dtype_or_is_tf32():
    from convcalc.conventions import DTYPE_BYTES

    assert set(dv.PEAK_DTYPES) == set(DTYPE_BYTES) | {"tf32"}


# -- profile files: good ---------------------------------------------------------------------------
ISSUE_EXAMPLE = """\
name: my-board
peak: {fp32: 1.2T, fp16: 2.4T, int8: 9.6T}   # FLOP/s (int8: OP/s), SI suffixes as in budgets
bandwidth: 51.2G                             # bytes/s
launch_overhead: 5us                         # optional, added per layer
"""


def test_the_issue_example(tmp_path):
    f = tmp_path / "board.yaml"
    f.write_text(ISSUE_EXAMPLE)
    p = load_profile(str(f))
    assert p.name == "my-board" and p.key == ""
    assert p.peak == {"fp32": 1_200_000_000_000, "fp16": 2_400_000_000_000, "int8": 9_600_000_000_000}
    assert p.bandwidth == 51_200_000_000
    assert p.launch_overhead == Fraction(5, 10**6)


@pytest.mark.parametrize(
    "line,expected",
    [
        ("bandwidth: 51.2GB", 51_200_000_000),
        ("bandwidth: 51.2GB/s", 51_200_000_000),
        ("bandwidth: 100GiB", 100 * 2**30),
        ("bandwidth: 17068000000", 17_068_000_000),
        ("bandwidth: 1.2e+12", 1_200_000_000_000),  # a YAML float, read from its decimal text
        ("bandwidth: 1.555e12", 1_555_000_000_000),
    ],
)
def test_bandwidth_forms(line, expected):
    assert parse_text(f"peak: {{fp32: 1T}}\n{line}\n").bandwidth == expected


@pytest.mark.parametrize(
    "text,seconds",
    [
        ("5us", Fraction(5, 10**6)),
        ("5µs", Fraction(5, 10**6)),
        ("0.5ms", Fraction(1, 2000)),
        ("2500ns", Fraction(25, 10**7)),
        ("1s", Fraction(1)),
        ("0", Fraction(0)),
        (0, Fraction(0)),
        ("0.000001 s", Fraction(1, 10**6)),
    ],
)
def test_durations_are_exact(text, seconds):
    assert parse_duration(text) == seconds


def test_optional_keys_defaults_and_x_keys():
    p = parse_text("x-note: ignored\npeak:\n  fp32: 1T\n  x-later: 2T\n", "dir/my_board.yaml")
    assert p.name == "my_board" and p.bandwidth is None and p.launch_overhead == 0
    assert p.source is None and p.peak == {"fp32": 10**12}
    p2 = parse_text(
        "name: b\npeak: {int8: 1T, fp64: 2T}\nbandwidth: 1G\nsource: my notes\naliases: [x]\nnotes: hi\n"
    )
    assert list(p2.peak) == ["fp64", "int8"]  # a fixed order, whatever the file's
    assert p2.source is not None and p2.source.document == "my notes" and p2.aliases == ("x",)


def test_display_helpers_are_exact():
    assert dv.si_text(19_500_000_000_000) == "19.5T"
    assert dv.si_text(17_068_000_000) == "17.068G"
    assert dv.si_text(1_979_000_000_000_000) == "1.979P"
    assert dv.si_text(999) == "999"
    assert dv.duration_text(Fraction(5, 10**6)) == "5us"
    assert dv.duration_text(Fraction(1, 2000)) == "500us"
    assert dv.duration_text(Fraction(3, 2)) == "1.5s"
    assert dv.exact_decimal(Fraction(1, 3)).startswith("~")


# -- profile files: bad, each with FILE:LINE ------------------------------------------------------
BAD = [
    ("", "board.yaml: is empty"),
    ("- a\n- b\n", "board.yaml:1: a device profile must be a mapping"),
    (
        "name: b\npeak: {fp32: 1T}\nbandwith: 1G\n",
        "board.yaml:3: unknown key 'bandwith' for a device profile (did you mean 'bandwidth'?)",
    ),
    ("name: b\nbandwidth: 1G\n", "board.yaml:1: missing required key 'peak'"),
    ("name: b\npeak: 1.2T\n", "board.yaml:2: peak: must be a mapping of dtype to FLOP/s"),
    (
        "name: b\npeak: {}\n",
        "board.yaml:2: peak: must be a mapping of dtype to FLOP/s like {fp32: 1.2T}, got an empty mapping",
    ),
    (
        "name: b\npeak:\n  fp32: 1T\n  fp322: 2T\n",
        "board.yaml:4: peak: unknown key 'fp322' for peak (dtypes) (did you mean 'fp32'?)",
    ),
    (
        "name: b\npeak:\n  fp32: lots\n",
        "board.yaml:3: peak.fp32: 'lots' is not a number of operations per second like 1.2T",
    ),
    ("name: b\npeak:\n  fp32: 1.2X\n", "board.yaml:3: peak.fp32: '1.2X': unknown suffix 'X'"),
    ("name: b\npeak:\n  fp32: 0\n", "board.yaml:3: peak.fp32: must be > 0, got 0"),
    ("name: b\npeak:\n  fp32: -1T\n", "board.yaml:3: peak.fp32: '-1T' must be >= 0"),
    ("name: b\npeak:\n  fp32: 1.5\n", "board.yaml:3: peak.fp32: '1.5' is not a whole number (1.5)"),
    (
        "name: b\npeak:\n  fp32: [1]\n",
        "board.yaml:3: peak.fp32: must be a number of operations per second like 1.2T, got a list",
    ),
    (
        "peak: {fp32: 1T}\nbandwidth: fast\n",
        "board.yaml:2: bandwidth: 'fast' is not a bandwidth in bytes/s like 51.2G",
    ),
    (
        "peak: {fp32: 1T}\nbandwidth: true\n",
        "board.yaml:2: bandwidth: must be a bandwidth in bytes/s like 51.2G, got a boolean",
    ),
    ("peak: {fp32: 1T}\nbandwidth: 0\n", "board.yaml:2: bandwidth: must be > 0"),
    ("peak: {fp32: 1T}\nlaunch_overhead: 5\n", "board.yaml:2: launch_overhead: needs a unit"),
    ("peak: {fp32: 1T}\nlaunch_overhead: 0.5\n", "board.yaml:2: launch_overhead: needs a unit"),
    (
        "peak: {fp32: 1T}\nlaunch_overhead: 5 sec\n",
        "board.yaml:2: launch_overhead: '5 sec': unknown unit 'sec' (use s, ms, us, ns)",
    ),
    ("peak: {fp32: 1T}\nlaunch_overhead: -5us\n", "board.yaml:2: launch_overhead: must be >= 0"),
    (
        "peak: {fp32: 1T}\nlaunch_overhead: soon\n",
        "board.yaml:2: launch_overhead: 'soon' is not a time like 5us or 0.5ms",
    ),
    ("name: [a]\npeak: {fp32: 1T}\n", "board.yaml:1: name: must be a non-empty string, got ['a']"),
    ("peak: {fp32: 1T}\nsource: [a]\n", "board.yaml:2: source: must be a string or a mapping, got a list"),
    ("peak: {fp32: 1T}\nsource:\n  url: https://x\n", "board.yaml:3: source: needs 'document'"),
    (
        "peak: {fp32: 1T}\nsource:\n  document: d\n  figurs: [a]\n",
        "board.yaml:4: source: unknown key 'figurs' for source (did you mean 'figures'?)",
    ),
    (
        "peak: {fp32: 1T}\nsource:\n  document: d\n  figures: [1, 2]\n",
        "board.yaml:4: source.figures: must be a string or a list of strings",
    ),
    ("peak: {fp32: 1T}\naliases: {a: 1}\n", "board.yaml:2: aliases: must be a string or a list of strings"),
    ("peak: {fp32: 1T}\nnotes: [x]\n", "board.yaml:2: notes: must be a string"),
    ("peak: {fp32: 1T}\npeak: {fp16: 1T}\n", "board.yaml:2: "),
    ("peak: {fp32: 1T\n", "board.yaml:"),
]


@pytest.mark.parametrize("text,message", BAD)
def test_bad_profile_files(tmp_path, text, message):
    f = tmp_path / "board.yaml"
    f.write_text(text)
    with pytest.raises(SpecError) as e:
        load_profile(str(f))
    got = str(e.value).replace(str(tmp_path) + "/", "")
    assert got.startswith(message), got
    assert re.match(r"board\.yaml(:\d+)?: ", got), got


def test_bad_paths(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_profile(str(tmp_path / "missing.yaml"))
    with pytest.raises(SpecError, match="is a directory"):
        load_profile(str(tmp_path) + "/")


# -- convcalc devices --------------------------------------------------------------------------------
def test_devices_table_lists_every_profile(cli):
    r = cli("devices")
    assert r.code == 0, r.err
    for key in REQUIRED_IDS:
        assert key in r.out
    assert "19.5T" in r.out and "17.068G" in r.out and "not published" in r.out


def test_devices_json(cli):
    r = cli("devices", "--format", "json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    by_id = {x["id"]: x for x in d["devices"]}
    assert set(REQUIRED_IDS) <= set(by_id)
    a100 = by_id["a100-40gb"]
    assert a100["peak"]["fp32"] == 19_500_000_000_000 and a100["bandwidth"] == 1_555_000_000_000
    assert a100["source"]["url"].startswith("https://") and a100["source"]["figures"]
    assert by_id["edge-tpu"]["bandwidth"] is None
    assert all(isinstance(v, int) for x in d["devices"] for v in x["peak"].values())


@pytest.mark.parametrize("fmt,marker", [("csv", "id,name,fp64"), ("markdown", "| id |")])
def test_devices_other_formats(cli, fmt, marker):
    r = cli("devices", "--format", fmt)
    assert r.code == 0, r.err
    assert marker in r.out and "jetson-agx-orin" in r.out


# -- convcalc devices measure -----------------------------------------------------------------------
TINY = ("--max-size", "32", "--copy-size", "64KiB", "--repeats", "1")


@pytest.mark.parametrize("library", ["torch", "numpy"])
def test_measure_writes_a_profile_that_loads(cli, tmp_path, library):
    out = tmp_path / "me.yaml"
    r = cli("devices", "measure", "--library", library, *TINY, "-o", str(out), "--name", "ci box")
    assert r.code == 0, r.err
    p = load_profile(str(out))
    assert p.name == "ci box"
    assert p.peak["fp32"] > 0 and p.peak["fp64"] > 0 and p.bandwidth and p.bandwidth > 0
    assert p.launch_overhead > 0
    assert p.source is not None and library in p.source.document
    if library == "numpy":  # numpy has no fast fp16/int8 multiply: said so, not invented
        assert "int8" not in p.peak and any(u.startswith("int8") for u in p.source.unconfirmed)
    else:
        assert {"fp16", "bf16", "int8"} <= set(p.peak)


def test_measure_to_stdout_is_a_valid_profile(cli):
    import torch

    threads = torch.get_num_threads()
    try:
        r = cli(
            "devices",
            "measure",
            "--library",
            "torch",
            "--on",
            "cpu",
            "--dtypes",
            "fp32",
            "--threads",
            "1",
            *TINY,
        )
    finally:
        torch.set_num_threads(threads)
    assert r.code == 0, r.err
    p = parse_text(r.out, "<stdout>")
    assert list(p.peak) == ["fp32"]
    assert p.source is not None and p.source.document.endswith("on cpu, 1 thread")


def test_measure_without_torch_or_numpy(cli, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in ("torch", "numpy") else real(name, *a)
    )
    r = cli("devices", "measure", *TINY)
    assert r.code == 2
    assert "pip install torch" in r.err and "Traceback" not in r.err
    r = cli("devices", "measure", "--library", "numpy", *TINY)
    assert r.code == 2 and "pip install numpy" in r.err


@pytest.mark.parametrize(
    "args,message",
    [
        (("--repeats", "0"), "--repeats 0: must be 1 to 1000"),
        (("--repeats", "1000000"), "--repeats 1000000: must be 1 to 1000"),
        (("--max-size", "1000000"), "--max-size 1000000: must be 8 to 65536"),
        (("--copy-size", "1000TiB"), "the three buffers would take more than half"),
        (("--copy-size", "lots"), "--copy-size lots"),
        (("--copy-size", "1KiB"), "must be at least 4096 bytes"),
        (("--max-size", "2"), "--max-size 2: must be 8 to 65536"),
        (("--library", "jax"), "--library jax: use auto, torch or numpy"),
        (("--on", "tpu"), "--on tpu: use auto, cpu, cuda or mps"),
        (("--dtypes", "fp99"), "--dtypes: unknown fp99"),
        (("--dtypes", ","), "--dtypes: give at least one dtype"),
        (("--library", "numpy", "--on", "cuda"), "numpy measures the CPU only"),
        (("--threads", "0"), "--threads 0: must be >= 1"),
        (("--library", "numpy", "--threads", "1"), "--threads: numpy's BLAS threads"),
    ],
)
def test_measure_bad_options(cli, args, message):
    r = cli("devices", "measure", *TINY, *args)
    assert r.code == 2, r
    assert message in r.err and "Traceback" not in r.err


def test_measure_on_a_missing_gpu(cli):
    import torch

    r = cli("devices", "measure", "--library", "torch", "--on", "cuda", *TINY)
    if torch.cuda.is_available():  # pragma: no cover - CI has no GPU
        assert r.code == 0 and "cuda" in r.out
    else:
        assert r.code == 2 and "no CUDA device" in r.err


def test_round_sig():
    from convcalc.devices.measure import round_sig

    assert round_sig(336_912_345_678.9) == 336_900_000_000
    assert round_sig(1234.4) == 1234 and round_sig(12_345_678) == 12_350_000
    assert round_sig(7.2) == 7
    with pytest.raises(ValueError):
        round_sig(0.0)


def test_busy_machine_warning():
    from convcalc.devices.measure import Measurement, busy, profile_yaml

    m = Measurement(
        "torch 0", "cpu", 2, 1, peak={"fp32": (10**9, "fp32: 1 GFLOP/s")}, bandwidth=(10**9, "bw")
    )
    assert busy(m) == ""
    m.load = (0.0, 0.1)
    assert busy(m) == ""
    m.load = (1000.0, 1000.0)
    assert "other work competed" in busy(m)
    p = parse_text(profile_yaml(m, "x", when="today"))
    assert p.notes.startswith("Warning: the 1-minute load average was 1000.0")
    assert p.peak == {"fp32": 10**9} and p.bandwidth == 10**9 and p.launch_overhead == 0


def test_measure_control_flow_with_a_fake_library():
    """Skipped dtypes say why; running out of memory at a larger size keeps the smaller sizes'
    best; the bandwidth streams through chunks."""
    from convcalc.devices.measure import _Backend

    calls: list[tuple[str, int]] = []

    class Fake(_Backend):
        library, device = "fake 1.0", "cpu"

        def matmul(self, dtype, n):
            calls.append((dtype, n))
            if dtype == "fp16":
                return None
            if dtype == "bf16":
                raise RuntimeError("no bf16 kernel\nsecond line")
            if n > 512:
                raise MemoryError("out of memory")
            return lambda: None

        def buffers(self, nbytes, chunk):
            return [(lambda: None, lambda: None)] * (nbytes // chunk)

        def tiny_add(self):
            return lambda: None

    m = Fake().run(2048, 64 * 2**20, 2, ("fp32", "fp16", "bf16"))
    assert [n for d, n in calls if d == "fp32"] == [256, 512, 1024]
    assert m.peak["fp32"][0] > 0
    assert "from 256 to 512" in m.peak["fp32"][1]
    assert m.skipped == {
        "fp16": "fake 1.0 has no fp16 matrix multiply on cpu",
        "bf16": "RuntimeError: no bf16 kernel",
    }
    assert "64 MiB buffers in 16 MiB chunks" in m.bandwidth[1]
    assert m.launch_overhead is not None and m.launch_overhead[0] > 0


def test_devices_show(cli, tmp_path):
    r = cli("devices", "show", "orin")
    assert r.code == 0, r.err
    copy = tmp_path / "my-orin.yaml"
    copy.write_text(r.out)
    p = load_profile(str(copy))  # a built-in, copied, is a valid profile file
    assert p.peak == load_profile("jetson-agx-orin").peak and p.key == ""
    r = cli("devices", "show", "h100", "--json")
    assert r.code == 0 and json.loads(r.out)["peak"]["fp16"] == 989_500_000_000_000
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\npeak: {fp32: 1X}\n")
    r = cli("devices", "show", str(bad))
    assert r.code == 2 and r.err.strip().endswith(
        "bad.yaml:2: peak.fp32: '1X': unknown suffix 'X' (use k, M, G, T)"
    )
    r = cli("devices", "show", "orin", "--format", "csv")
    assert r.code == 2 and "--format" in r.err  # the YAML file, or --json
    r = cli("devices", "show", "h10")
    assert r.code == 2 and "did you mean 'h100'" in r.err
