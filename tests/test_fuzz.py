"""Fuzzing (issue 6): random and mutated specs, and random option values, through the real CLI
in-process. Whatever the input, convcalc answers (exit 0), fails a budget (exit 1, check only)
or refuses with ONE line on stderr (exit 2): never a traceback, an internal error (exit 3) or
a hang.

The mutated specs start from valid ones (layers.example.yaml, every zoo model, a few below)
and break them with one edit: delete, duplicate or truncate a line, change a number to
0/-1/huge/float/string, rename a key, change an indentation, insert a random character.
"""

from __future__ import annotations

import glob
import os
import re
import signal
import string

import pytest
from conftest import ROOT, run_cli
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PREFIX = "convcalc: error: "
TIME_LIMIT_S = 120  # a hang guard (SIGALRM), not a speed test: a hang fails instead of stalling CI

BUILTIN = [
    # residual, concat, repeat, budget
    """name: built-in-blocks
input: [3, 32, 32]
budget: {macs: 50M, params: 1M, memory: 16MiB}
layers:
  - {type: conv, out_channels: 16, kernel: 3, stride: 2, padding: 1, bias: false}
  - {type: batchnorm}
  - {type: activation, fn: relu6}
  - type: residual
    name: res
    body:
      - {type: conv, out_channels: 16, kernel: 3, padding: same}
      - {type: batchnorm}
    shortcut: []
  - type: concat
    branches:
      - [{type: pointwise, out_channels: 8}]
      - [{type: separable, out_channels: 8, kernel: 3, padding: 1}]
      - []
  - type: repeat
    times: 3
    layers:
      - {type: depthwise, kernel: 3, padding: 1}
      - {type: pointwise, out_channels: 32}
  - {type: pool, mode: avg, kernel: 2}
  - {type: global_pool}
  - {type: flatten}
  - {type: linear, out_features: 10}
""",
    # anchors, aliases, merge keys, x- keys, block style
    """name: built-in-anchors
description: anchors and merge keys
input: [8, 16, 16]
x-conv: &conv
  type: conv
  kernel: 3
  padding: 1
  out_channels: 8
x-pair: &pair
  - <<: *conv
    stride: 1
  - {type: activation, fn: gelu}
layers:
  - *pair
  - type: sequential
    name: twice
    layers: [*pair, *pair]
  - {<<: *conv, out_channels: 12, dilation: 2, padding: 2}
  - {type: upsample, scale: 2}
  - {type: transposed, out_channels: 4, kernel: 4, stride: 2, padding: 1}
  - {type: shuffle, out_channels: 24, groups: 2, stride: 2}
""",
    # 1-D and 3-D inputs
    """name: built-in-dims
input: [2, 8, 16, 16]
layers:
  - {type: conv, out_channels: 4, kernel: [3, 3, 3], padding: [1, 1, 1]}
  - {type: pool, mode: max, kernel: 2, ceil_mode: true}
  - {type: adaptive_pool, output_size: [1, 2, 2]}
  - {type: dropout, p: 0.2}
  - {type: identity}
""",
]


def _seeds() -> list[tuple[str, str]]:
    out = [(f"builtin{i}", text) for i, text in enumerate(BUILTIN)]
    paths = [os.path.join(ROOT, "layers.example.yaml")]
    paths += sorted(glob.glob(os.path.join(ROOT, "convcalc", "zoo", "*.yaml")))
    for p in paths:
        if os.path.isfile(p):
            with open(p, encoding="utf-8") as fh:
                out.append((os.path.basename(p), fh.read()))
    return out


SEEDS = _seeds()

NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")
KEY = re.compile(r"^(\s*-?\s*)([A-Za-z_][\w-]*)(\s*:)", re.M)
REPLACEMENTS = [
    "0",
    "-1",
    "1000000000000",
    str(10**30),
    str(2**64 + 1),
    "2.5",
    "1e3",
    "'7'",
    "seven",
    "null",
    "true",
    "[]",
    "{}",
    "[1, 2, 3, 4]",
    ".nan",
    "-.inf",
    "0x10",
    "~",
]
KEY_NAMES = [
    "type",
    "layers",
    "kernel",
    "strid",
    "out_channel",
    "times",
    "input",
    "budget",
    "<<",
    "body",
    "branches",
    "x-note",
    "name",
    "padding",
    "groups",
    "TYPE",
    "",
    "k e y",
]
CHARS = list(string.printable) + ["\u00e9", "\u2028", "\ufeff", "\t", "&", "*", "!", "|", ">", "%", "@", "`"]


def mutate(text: str, data) -> str:
    """One random edit of ``text``."""
    lines = text.split("\n")
    kind = data.draw(
        st.sampled_from(["delete", "duplicate", "number", "key", "indent", "char", "truncate", "swap"]),
        label="mutation",
    )
    i = data.draw(st.integers(0, max(len(lines) - 1, 0)), label="line")
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, lines[i])
    elif kind == "swap" and len(lines) > 1:
        j = data.draw(st.integers(0, len(lines) - 1), label="other line")
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "number":
        spots = [(n, m) for n, line in enumerate(lines) for m in NUMBER.finditer(line)]
        if spots:
            n, m = data.draw(st.sampled_from(spots), label="number")
            new = data.draw(st.sampled_from(REPLACEMENTS), label="value")
            lines[n] = lines[n][: m.start()] + new + lines[n][m.end() :]
    elif kind == "key":
        spots = [(n, m) for n, line in enumerate(lines) for m in KEY.finditer(line)]
        if spots:
            n, m = data.draw(st.sampled_from(spots), label="key")
            new = data.draw(
                st.one_of(
                    st.sampled_from(KEY_NAMES), st.text(string.ascii_lowercase + "_", min_size=1, max_size=8)
                ),
                label="name",
            )
            lines[n] = lines[n][: m.start(2)] + new + lines[n][m.end(2) :]
    elif kind == "indent":
        delta = data.draw(st.sampled_from([-4, -2, -1, 1, 2, 4]), label="delta")
        line = lines[i]
        lines[i] = (
            (" " * delta + line) if delta > 0 else line[min(-delta, len(line) - len(line.lstrip(" "))) :]
        )
    elif kind == "char":
        pos = data.draw(st.integers(0, len(lines[i])), label="column")
        ch = data.draw(st.sampled_from(CHARS), label="char")
        lines[i] = lines[i][:pos] + ch + lines[i][pos:]
    else:  # truncate the file at a random character
        joined = "\n".join(lines)
        cut = data.draw(st.integers(0, len(joined)), label="cut")
        return joined[:cut]
    return "\n".join(lines)


class Hang(BaseException):
    """Raised by the alarm: a BaseException, so that convcalc's own handlers cannot swallow it."""


@pytest.fixture
def time_limit():
    def on_alarm(signum, frame):
        raise Hang(f"no answer within {TIME_LIMIT_S} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def run_limited(*args: str):
    signal.alarm(TIME_LIMIT_S)
    try:
        return run_cli(*args)
    finally:
        signal.alarm(0)


def check_outcome(r, allowed=(0, 2), what=""):
    assert r.code in allowed, f"{what}: {r}"
    assert "Traceback" not in r.err and "Traceback" not in r.out, f"{what}: {r}"
    if r.code == 2:
        lines = r.err.splitlines()
        assert len(lines) == 1, f"{what}: {r.err!r}"
        assert lines[0].startswith(PREFIX) and len(lines[0]) > len(PREFIX), f"{what}: {r.err!r}"
    elif r.code == 0:
        assert r.err == "", f"{what}: {r}"


def run_spec_commands(path: str, what: str) -> None:
    check_outcome(run_limited("report", path), (0, 2), f"report {what}")
    check_outcome(run_limited("report", path, "--format", "json"), (0, 2), f"report -f json {what}")
    check_outcome(run_limited("check", path, "--max-macs", "1k"), (0, 1, 2), f"check {what}")


FUZZ = settings(  # derandomized in CI, random locally: the profile (tests/conftest.py) decides
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)


def test_the_seeds_are_valid(tmp_path):
    """The fuzzers' starting points must work as they are (else the mutations prove little)."""
    assert len(SEEDS) >= 4
    for name, text in SEEDS:
        p = tmp_path / "seed.yaml"
        p.write_text(text, encoding="utf-8")
        r = run_cli("report", str(p), "--format", "json")
        assert r.code == 0, (name, r)


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_mutated_specs(tmp_path, time_limit, data):
    name, text = data.draw(st.sampled_from(SEEDS), label="seed")
    mutated = mutate(text, data)
    p = tmp_path / "mutant.yaml"
    p.write_text(mutated, encoding="utf-8")
    run_spec_commands(str(p), f"({name} mutated)")


@settings(FUZZ, max_examples=60)
@given(data=st.data())
def test_twice_mutated_specs(tmp_path, time_limit, data):
    name, text = data.draw(st.sampled_from(SEEDS), label="seed")
    mutated = mutate(mutate(text, data), data)
    p = tmp_path / "mutant2.yaml"
    p.write_text(mutated, encoding="utf-8")
    run_spec_commands(str(p), f"({name} mutated twice)")


# -- random specs: random structure (valid YAML) and random text ------------------------------
LAYER_TYPES = [
    "conv",
    "depthwise",
    "pointwise",
    "transposed",
    "separable",
    "shuffle",
    "pool",
    "global_pool",
    "adaptive_pool",
    "batchnorm",
    "activation",
    "linear",
    "flatten",
    "dropout",
    "identity",
    "upsample",
    "channel_shuffle",
    "sequential",
    "residual",
    "concat",
    "repeat",
    "bogus",
]
FIELD_NAMES = [
    "out_channels",
    "kernel",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "mode",
    "fn",
    "times",
    "layers",
    "body",
    "shortcut",
    "branches",
    "out_features",
    "scale",
    "output_size",
    "multiplier",
    "p",
    "ceil_mode",
    "name",
    "x-extra",
    "kernal",
]
SCALARS = st.one_of(
    st.integers(-3, 40),
    st.integers(-(10**40), 10**40),
    st.sampled_from([0, 1, 2, 3, 1000, 65536]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.sampled_from(["same", "valid", "max", "avg", "relu", "gelu", "nearest", "3x3", ""]),
    st.text(max_size=6),
)


def layer_strategy():
    values = st.recursive(
        SCALARS,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELD_NAMES), inner, max_size=3)
        ),
        max_leaves=8,
    )
    return st.builds(
        lambda t, fields: {"type": t, **fields},
        st.sampled_from(LAYER_TYPES),
        st.dictionaries(st.sampled_from(FIELD_NAMES), values, max_size=4),
    )


SPEC_STRATEGY = st.fixed_dictionaries(
    {
        "input": st.one_of(st.lists(st.integers(-2, 64), min_size=0, max_size=5), SCALARS),
        "layers": st.one_of(st.lists(layer_strategy(), max_size=6), SCALARS),
    },
    optional={
        "name": SCALARS,
        "budget": st.dictionaries(
            st.sampled_from(["macs", "params", "memory", "bogus"]),
            st.one_of(SCALARS, st.sampled_from(["1M", "2k", "1.5G", "x"])),
            max_size=2,
        ),
    },
)


@settings(FUZZ, max_examples=80)
@given(spec=SPEC_STRATEGY)
def test_random_structured_specs(tmp_path, time_limit, spec):
    import yaml

    p = tmp_path / "random.yaml"
    p.write_text(yaml.safe_dump(spec, allow_unicode=True, sort_keys=False), encoding="utf-8")
    run_spec_commands(str(p), "(random structure)")


@settings(FUZZ, max_examples=120)
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.text(alphabet=st.sampled_from(list("[]{}:-,&*!|>'\"#%@ \n\t?abc123<")), max_size=200),
    )
)
def test_random_text(tmp_path, time_limit, text):
    p = tmp_path / "noise.yaml"
    p.write_text(text, encoding="utf-8", errors="surrogatepass")
    run_spec_commands(str(p), "(random text)")


@settings(FUZZ, max_examples=60)
@given(data=st.binary(max_size=300))
def test_random_bytes(tmp_path, time_limit, data):
    p = tmp_path / "bytes.yaml"
    p.write_bytes(data)
    run_spec_commands(str(p), "(random bytes)")


# -- single-layer commands with random option values ------------------------------------------
GARBAGE = [
    "3x",
    "x3",
    "0x5",
    "3x3",
    "1x1x1",
    "2x2x2x2",
    "",
    " ",
    "abc",
    "-1",
    "0",
    "-0",
    "1e3",
    "3.5",
    "99999999999999999999",
    str(10**30),
    "same",
    "valid",
    "SAME",
    "x",
    "\u0663",
    "1_0",
    "0x10",
    "+3",
    "3 ",
    "\t4",
    "nan",
    "inf",
    "--",
    "-k",
    "true",
]
VALUE = st.one_of(
    st.sampled_from(GARBAGE),
    st.integers(-10, 300).map(str),
    st.text(alphabet="0123456789x-", min_size=1, max_size=6),
    st.text(max_size=5),
)
LAYER_OPTIONS = {
    "conv": ["-o", "-k", "-s", "-p", "-d", "-g", "--bias", "--no-bias"],
    "depthwise": ["-k", "-s", "-p", "-d", "--multiplier", "-o"],
    "pointwise": ["-o", "-s", "-g"],
    "transposed": ["-o", "-k", "-s", "-p", "--output-padding", "-d", "-g"],
    "separable": ["-o", "-k", "-s", "-p", "-d", "--multiplier"],
    "shuffle": ["-o", "-g", "-s", "-k", "--bottleneck"],
}
FLAGS = {"--bias", "--no-bias", "--explain"}


@settings(FUZZ, max_examples=400)
@given(data=st.data())
def test_single_layer_commands_with_random_options(time_limit, data):
    cmd = data.draw(st.sampled_from(sorted(LAYER_OPTIONS)), label="command")
    args = [cmd, "-c", data.draw(VALUE, label="-c"), "--size", data.draw(VALUE, label="--size")]
    for opt in data.draw(
        st.lists(st.sampled_from(LAYER_OPTIONS[cmd] + ["--batch", "--explain"]), max_size=5, unique=True),
        label="options",
    ):
        args += [opt] if opt in FLAGS else [opt, data.draw(VALUE, label=opt)]
    args += data.draw(
        st.sampled_from(
            [[], ["--format", "json"], ["--format", "csv"], ["--format", "markdown"], ["--format", "xml"]]
        ),
        label="format",
    )
    check_outcome(run_limited(*args), (0, 2), " ".join(args))


@settings(FUZZ, max_examples=200)
@given(data=st.data())
def test_size_and_compare_with_random_options(time_limit, data):
    if data.draw(st.booleans(), label="size?"):
        args = ["size", data.draw(VALUE, label="SIZE")]
        for opt in data.draw(
            st.lists(
                st.sampled_from(
                    ["-k", "-s", "-p", "-d", "--output-padding", "--transposed", "--ceil-mode", "--explain"]
                ),
                max_size=4,
                unique=True,
            ),
            label="options",
        ):
            args += (
                [opt]
                if opt in ("--transposed", "--ceil-mode", "--explain")
                else [opt, data.draw(VALUE, label=opt)]
            )
        if "-k" not in args:
            args += ["-k", data.draw(VALUE, label="-k")]
    else:
        args = [
            "compare",
            "-c",
            data.draw(VALUE, label="-c"),
            "--size",
            data.draw(VALUE, label="--size"),
            "-o",
            data.draw(VALUE, label="-o"),
        ]
        for opt in data.draw(
            st.lists(st.sampled_from(["-k", "-s", "-p", "-g", "-d", "--batch"]), max_size=3, unique=True),
            label="options",
        ):
            args += [opt, data.draw(VALUE, label=opt)]
    args += data.draw(st.sampled_from([[], ["--format", "json"], ["--format", "markdown"]]), label="format")
    check_outcome(run_limited(*args), (0, 2), " ".join(args))


@settings(FUZZ, max_examples=100)
@given(data=st.data())
def test_report_and_check_options_with_random_values(tmp_path, time_limit, data):
    p = tmp_path / "ok.yaml"
    p.write_text(BUILTIN[0], encoding="utf-8")
    cmd = data.draw(st.sampled_from(["report", "check"]), label="command")
    args = [cmd, str(p)]
    opts = (
        ["--batch", "--width-mult", "--resolution", "--dtype", "--top", "--depth"]
        if cmd == "report"
        else [
            "--max-macs",
            "--max-params",
            "--max-flops",
            "--max-memory",
            "--max-activations",
            "--batch",
            "--dtype",
        ]
    )
    for opt in data.draw(st.lists(st.sampled_from(opts), max_size=3, unique=True), label="options"):
        args += [
            opt,
            data.draw(
                st.one_of(
                    VALUE,
                    st.sampled_from(["0.5", "1e-9", "1e308", "fp16", "int4", "1.5G", "4MiB", "600M", "1k"]),
                ),
                label=opt,
            ),
        ]
    check_outcome(run_limited(*args), (0, 1, 2) if cmd == "check" else (0, 2), " ".join(args))


# -- the YAML reader against PyYAML ------------------------------------------------------------
# yamlio builds values from libyaml's events itself (lines kept, aliases shared, tags refused).
# PyYAML's own SafeLoader is the oracle: wherever both read a text, the values must be the same,
# except where yamlio deliberately differs, and then it must say so: keys are text as written
# (``on:`` is "on", not True), YAML 1.1's surprises (010, 1:30, yes/no/on/off) and duplicate
# keys are errors, integers are limited in digits, timestamps stay text, non-data tags are refused.


def _plain_key(text: str):
    """What PyYAML makes of a key written as ``text``."""
    import yaml

    try:
        return yaml.safe_load(text) if text else None
    except yaml.YAMLError:
        return text


def _agree(ours, theirs, path="$"):
    import datetime
    import math

    if isinstance(theirs, (datetime.date, datetime.datetime)):
        assert isinstance(ours, str), f"{path}: {ours!r} vs {theirs!r}"
        return
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), f"{path}: {ours!r} vs {theirs!r}"
        assert len(ours) == len(theirs), f"{path}: keys {list(ours)} vs {list(theirs)}"
        for k, v in theirs.items():
            if isinstance(k, str) and k in ours:
                mine = k
            else:  # a key PyYAML resolved (1, True, None): ours is its text
                matches = [t for t in ours if not isinstance(k, str) and _plain_key(t) == k]
                assert matches, f"{path}: no key for {k!r} in {list(ours)}"
                mine = matches[0]
            assert isinstance(mine, str)
            _agree(ours[mine], v, f"{path}.{mine}")
        return
    if isinstance(theirs, list):
        assert isinstance(ours, list) and len(ours) == len(theirs), f"{path}: {ours!r} vs {theirs!r}"
        for i, (a, b) in enumerate(zip(ours, theirs)):
            _agree(a, b, f"{path}[{i}]")
        return
    if isinstance(theirs, float) and math.isnan(theirs):
        assert isinstance(ours, float) and math.isnan(ours), f"{path}: {ours!r} vs nan"
        return
    assert type(ours) is type(theirs) or (isinstance(ours, float) and type(theirs) is float), (
        f"{path}: {type(ours).__name__} {ours!r} vs {type(theirs).__name__} {theirs!r}"
    )
    assert ours == theirs, f"{path}: {ours!r} vs {theirs!r}"


DELIBERATE = (
    "YAML 1.1 reads",
    "duplicate key",
    "digits",
    "non-ASCII digit",
    "not allowed",
    "nesting deeper",
    "keys must be plain strings",
    "more than one YAML document",
    "recursive alias",
)


def assert_reader_matches_pyyaml(text: str) -> None:
    import yaml

    from convcalc import yamlio
    from convcalc.errors import ConvcalcError

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the parser yamlio reads events from
    try:
        theirs = yaml.load(text, Loader=loader)
        pyyaml_error = None
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as e:  # also 010 -> 8 etc. refused by us
        theirs, pyyaml_error = None, e
    try:
        ours = yamlio.load(text, "<t>")
    except ConvcalcError as e:
        if pyyaml_error is None:
            assert any(d in e.message for d in DELIBERATE), f"only yamlio refuses {text!r}: {e}"
        return
    if pyyaml_error is not None and "duplicate anchor" in str(pyyaml_error):
        return  # YAML lets an anchor be redefined (an alias takes the latest): PyYAML refuses
    assert pyyaml_error is None, f"only PyYAML refuses {text!r}: {pyyaml_error}"
    if "!" in text:
        return  # a '!'-tagged scalar is text (YAML's non-specific tag); PyYAML resolves it
    if "<<" in text:
        return  # merging a list of mappings: the first wins (yaml.org/type/merge); PyYAML, the last
    _agree(ours, theirs)


READER_TOKENS = list("[]{}:-, \n#abcx_y0129.e+~/()'\"&*!") + [
    "  ",
    "\n  ",
    "\n    ",
    "\n- ",
    ": ",
    "- ",
    "true",
    "null",
    "yes",
    "on",
    "010",
    "1e3",
    "0x1",
    "1_0",
    ".inf",
    "0o7",
    "2001-12-14",
    "1:2",
    "x-",
    "key: ",
    "{a: 1}",
    "[1, 2]",
    "&a ",
    "*a",
    "<<: ",
    "type: conv",
    "\n  - {type: identity}",
]


@settings(FUZZ, max_examples=300)
@given(data=st.data())
def test_reader_matches_pyyaml_on_mutated_specs(data):
    _name, text = data.draw(st.sampled_from(SEEDS), label="seed")
    assert_reader_matches_pyyaml(text)
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        text = mutate(text, data)
        assert_reader_matches_pyyaml(text)


@settings(FUZZ, max_examples=80)
@given(
    spec=SPEC_STRATEGY,
    style=st.sampled_from([None, True, False]),
    width=st.sampled_from([20, 80, 1000]),
    indent=st.sampled_from([2, 3, 4]),
)
def test_reader_matches_pyyaml_on_dumped_specs(spec, style, width, indent):
    import yaml

    text = yaml.safe_dump(
        spec, default_flow_style=style, sort_keys=False, width=width, indent=indent, allow_unicode=True
    )
    assert_reader_matches_pyyaml(text)


@settings(FUZZ, max_examples=600)
@given(text=st.lists(st.sampled_from(READER_TOKENS), max_size=40).map("".join))
def test_reader_matches_pyyaml_on_random_text(text):
    assert_reader_matches_pyyaml(text)


# -- saved reports (diff, check --baseline): any JSON is an answer or one line, never exit 3 ----
def _saved_report() -> dict:
    import json

    r = run_cli("report", os.path.join(ROOT, "convcalc", "zoo", "alexnet.yaml"), "--format", "json")
    assert r.code == 0, r
    return json.loads(r.out)


JSON_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**30),
    st.floats(allow_nan=False),
    st.text(max_size=5),
    st.lists(st.integers(0, 5), max_size=3),
    st.lists(st.text(max_size=2), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(0, 3), max_size=2),
)


def _mutate_json(doc, data):
    """Replace, delete or retype one value somewhere in ``doc`` (in place)."""
    node = doc
    for _ in range(data.draw(st.integers(0, 4), label="depth")):
        if isinstance(node, dict) and node:
            child = node[data.draw(st.sampled_from(sorted(node)), label="key")]
        elif isinstance(node, list) and node:
            child = node[data.draw(st.integers(0, len(node) - 1), label="index")]
        else:
            break
        if not isinstance(child, (dict, list)):
            break
        node = child
    if isinstance(node, dict) and node:
        key = data.draw(st.sampled_from(sorted(node)), label="target")
        if data.draw(st.booleans(), label="delete?"):
            del node[key]
        else:
            node[key] = data.draw(JSON_JUNK, label="value")
    elif isinstance(node, list) and node:
        node[data.draw(st.integers(0, len(node) - 1), label="target")] = data.draw(JSON_JUNK, label="value")


@settings(FUZZ, max_examples=150)
@given(data=st.data())
def test_mutated_saved_reports_for_diff_and_check(tmp_path, time_limit, data):
    import json

    doc = _saved_report()
    for _ in range(data.draw(st.integers(1, 3), label="edits")):
        _mutate_json(doc, data)
    if data.draw(st.booleans(), label="several?"):
        doc = {"reports": [doc, _saved_report()], "summary": data.draw(JSON_JUNK, label="summary")}
    path = tmp_path / "saved.json"
    path.write_text(json.dumps(doc))
    spec = os.path.join(ROOT, "convcalc", "zoo", "alexnet.yaml")
    check_outcome(run_limited("diff", str(path), spec), (0, 2), "diff saved spec")
    check_outcome(run_limited("diff", spec, str(path), "-f", "json"), (0, 2), "diff spec saved")
    check_outcome(run_limited("check", spec, "--baseline", str(path)), (0, 1, 2), "check --baseline")


# -- --output: any target, any command and format: an answer or one line, never a lost file ------
@settings(FUZZ, max_examples=120)
@given(data=st.data())
def test_output_targets_with_random_commands(tmp_path_factory, time_limit, data):
    import stat

    tmp = tmp_path_factory.mktemp("out")
    spec = tmp / "net.yaml"
    spec.write_text(BUILTIN[0], encoding="utf-8")
    ro = tmp / "ro.json"
    ro.write_text("KEEP")
    os.chmod(ro, 0o444)
    (tmp / "dir").mkdir()
    os.symlink("made.json", tmp / "dangling")
    targets = ["-", "", ".", str(tmp / "dir"), str(tmp / "x.json"), str(tmp / "no" / "x"), str(ro), str(spec)]
    targets += [str(tmp / "dangling"), "/dev/null", str(tmp / "dir" / "..")]
    target = data.draw(st.sampled_from(targets), label="target")
    command = data.draw(
        st.sampled_from(
            [
                ["report", str(spec)],
                ["check", str(spec), "--max-macs", "1k"],
                ["diff", str(spec), str(spec)],
                ["conv", "-c", "3", "--size", "8", "-o", "4", "-k", "3"],
                ["zoo"],
                ["types"],
                ["size", "224", "-k", "3"],
            ]
        ),
        label="command",
    )
    fmt = data.draw(st.sampled_from([[], ["-f", "json"], ["-f", "csv"], ["-f", "markdown"]]), label="format")
    if command[0] == "size" and fmt:
        fmt = ["-f", "json"]
    r = run_limited(*command, *fmt, "--output", target)
    check_outcome(r, (0, 1, 2) if command[0] == "check" else (0, 2), f"{command} --output {target!r}")
    assert ro.read_text() == "KEEP" and stat.S_IMODE(ro.stat().st_mode) == 0o444
    if str(spec) in command:  # an input of this run is never overwritten
        assert spec.read_text(encoding="utf-8") == BUILTIN[0]
    assert not [f for f in os.listdir(tmp) if f.endswith(".tmp")]
