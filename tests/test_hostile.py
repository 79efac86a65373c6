"""Hostile and broken input (issue 6): every bad input gets ONE line on stderr,
``convcalc: error: FILE:LINE: message``, exit status 2, never a traceback, a hang or a crash.

Everything runs through the real CLI in-process (``run_cli``); specs are temp files.
"""

from __future__ import annotations

import json
import os
import re
import stat

import pytest
from conftest import run_cli
from workmeter import count_lines

PREFIX = "convcalc: error: "


def one_line_error(r, where: str | None = None, *fragments: str, code: int = 2) -> str:
    """Assert a clean failure: exit ``code``, nothing on stdout, exactly one stderr line that
    starts with ``WHERE: `` (when given) and contains each fragment. Returns the message."""
    assert r.code == code, r
    assert "Traceback" not in r.err, r.err
    lines = r.err.splitlines()
    assert len(lines) == 1, r.err
    assert r.err.endswith("\n")
    msg = lines[0]
    assert msg.startswith(PREFIX), msg
    msg = msg[len(PREFIX) :]
    if where is not None:
        assert msg.startswith(where + ": "), f"expected location {where!r} in {msg!r}"
    for f in fragments:
        assert f in msg, f"{f!r} not in {msg!r}"
    for crash in ("RecursionError", "MemoryError", "internal error", "too large to process"):
        assert crash not in msg, msg
    return msg


def report(path: str, *extra: str):
    return run_cli("report", path, *extra)


HEAD = "name: hostile\ninput: [3, 8, 8]\nlayers:\n"  # layers start on line 4


# -- code execution through YAML tags ---------------------------------------------------------
@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/object:os.system",
    ],
)
def test_python_object_tags_are_refused_and_never_run(spec_file, tmp_path, tag):
    marker = tmp_path / "PWNED"
    path = spec_file(HEAD + f"  - type: conv\n    kernel: 3\n    out_channels: {tag} ['touch {marker}']\n")
    for fmt in ("json", "table"):
        r = report(path, "--format", fmt)
        one_line_error(r, f"{path}:6", "not allowed", "python/object")
    assert not marker.exists()
    assert not (tmp_path.parent / "PWNED").exists()


def test_python_object_tag_at_the_top_level_is_refused(spec_file, tmp_path):
    marker = tmp_path / "PWNED"
    path = spec_file(f"!!python/object/apply:os.system ['touch {marker}']\n")
    one_line_error(report(path), f"{path}:1", "not allowed")
    assert not marker.exists()


def test_python_name_tag_is_refused(spec_file):
    path = spec_file(HEAD + "  - {type: !!python/name:os.system '', out_channels: 3}\n")
    one_line_error(report(path), f"{path}:4", "!!python/name:os.system", "not allowed")


@pytest.mark.parametrize(
    "text,line",
    [
        ("  - !!binary aGVsbG8=\n", 4),
        ("  - !!set {a, b}\n", 4),
        ("  - !custom {type: identity}\n", 4),
        ("  - {type: identity, name: !!omap [a: 1]}\n", 4),
    ],
)
def test_other_non_data_tags_are_refused(spec_file, text, line):
    path = spec_file(HEAD + text)
    one_line_error(report(path), f"{path}:{line}", "not allowed")


# -- unknown keys and types ---------------------------------------------------------------------
def test_unknown_layer_key_suggests_the_right_one(spec_file):
    path = spec_file(HEAD + "  - type: conv\n    out_channels: 4\n    kernel: 3\n    strid: 2\n")
    one_line_error(report(path), f"{path}:7", "layers[0]", "unknown key 'strid'", "did you mean 'stride'?")


def test_unknown_layer_type_suggests_the_right_one(spec_file):
    path = spec_file(HEAD + "  - {type: identity}\n  - type: convv\n    out_channels: 4\n")
    one_line_error(
        report(path), f"{path}:5", "layers[1]", "unknown layer type 'convv'", "did you mean 'conv'?"
    )


def test_unknown_top_level_key_suggests_the_right_one(spec_file):
    path = spec_file("input: [3, 8, 8]\nlayer:\n  - {type: identity}\n")
    one_line_error(report(path), f"{path}:2", "unknown key 'layer'", "did you mean 'layers'?")


def test_unknown_block_key_suggests_the_right_one(spec_file):
    path = spec_file(HEAD + "  - type: repeat\n    times: 2\n    layer: [{type: identity}]\n")
    one_line_error(report(path), f"{path}:6", "unknown key 'layer'", "did you mean 'layers'?")


def test_unknown_budget_key_suggests_the_right_one(spec_file):
    path = spec_file("input: [3, 8, 8]\nbudget:\n  macs: 1G\n  parms: 5M\nlayers: [{type: identity}]\n")
    one_line_error(run_cli("check", path), f"{path}:4", "unknown key 'parms'", "did you mean 'params'?")


# -- wrong value types --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value,shown",
    [
        ("eight", "a string 'eight'"),
        ("true", "a boolean"),
        ("8.5", "a float 8.5"),
        ("[8]", "a list"),
        ("null", "null"),
        ("{a: 1}", "a mapping"),
        ("'8'", "a string '8'"),
    ],
)
def test_wrong_type_for_a_required_integer(spec_file, value, shown):
    path = spec_file(HEAD + "  - type: conv\n    kernel: 3\n    out_channels: " + value + "\n")
    one_line_error(report(path), f"{path}:6", "layers[0]", "out_channels", "must be an integer", shown)


@pytest.mark.parametrize(
    "key,value",
    [("bias", "maybe"), ("bias", "1"), ("padding", "big"), ("kernel", "[3, 3, 3, 3]"), ("stride", "[]")],
)
def test_wrong_values_for_optional_fields(spec_file, key, value):
    other = "    kernel: 3\n" if key != "kernel" else "    dilation: 1\n"
    path = spec_file(HEAD + "  - type: conv\n    out_channels: 4\n" + other + f"    {key}: {value}\n")
    one_line_error(report(path), f"{path}:7", "layers[0]", key)


@pytest.mark.parametrize(
    "text,line,fragment",
    [
        ("input: 224\nlayers: [{type: identity}]\n", 1, "input"),
        ("input: [3, 8, 8]\nlayers: 5\n", 2, "must be a list of layers"),
        ("input: [3, 8, 8]\nlayers: [5]\n", 2, "a layer must be a mapping"),
        ("input: [3, 8, 8]\nlayers:\n  - conv\n", 3, "a layer must be a mapping"),
        ("input: [3, 8, 8]\nlayers:\n  - {out_channels: 3}\n", 3, "needs a 'type'"),
        ("input: [3, 8, 8]\nlayers:\n  - {type: 5}\n", 3, "type: must be a string"),
        ("input: [3, 8, 8]\nlayers: []\n", 2, "at least one layer"),
        ("input: [3, 8, 8]\n", 1, "missing required key 'layers'"),
        ("layers: [{type: identity}]\n", 1, "missing required key 'input'"),
        ("input: [3, 8, 8]\nname: [a]\nlayers: [{type: identity}]\n", 2, "name"),
        ("input: [3, 8, 8]\nbudget: 5\nlayers: [{type: identity}]\n", 2, "budget"),
        ("input: [3, 8, 8]\nbudget: {macs: lots}\nlayers: [{type: identity}]\n", 2, "budget.macs"),
        (
            "input: [3, 8, 8]\nlayers:\n  - {type: repeat, times: 2.5, layers: [{type: identity}]}\n",
            3,
            "times",
        ),
        ("input: [3, 8, 8]\nlayers:\n  - {type: concat, branches: 7}\n", 3, "branches"),
    ],
)
def test_malformed_structure(spec_file, text, line, fragment):
    path = spec_file(text)
    one_line_error(report(path), f"{path}:{line}", fragment)


# -- sizes and geometry ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "layer,fragment",
    [
        ("{type: conv, out_channels: 0, kernel: 3}", "out_channels: must be >= 1, got 0"),
        ("{type: conv, out_channels: -4, kernel: 3}", "out_channels: must be >= 1, got -4"),
        ("{type: conv, out_channels: 4, kernel: 0}", "kernel"),
        ("{type: conv, out_channels: 4, kernel: 3, stride: -1}", "stride"),
        ("{type: conv, out_channels: 4, kernel: 3, padding: -1}", "padding"),
        ("{type: pool, kernel: 2, stride: 0}", "stride"),
        ("{type: repeat, times: 0, layers: [{type: identity}]}", "times"),
        ("{type: repeat, times: -3, layers: [{type: identity}]}", "times"),
    ],
)
def test_zero_and_negative_sizes(spec_file, layer, fragment):
    path = spec_file(HEAD + f"  - {layer}\n")
    one_line_error(report(path), f"{path}:4", fragment)


@pytest.mark.parametrize(
    "shape", ["[3, 0, 8]", "[0, 8, 8]", "[3, -8, 8]", "[3, 8.0, 8]", "[]", "[3, 8, 8, 8, 8]", "['3', 8]"]
)
def test_bad_input_shapes(spec_file, shape):
    path = spec_file(f"name: x\ninput: {shape}\nlayers: [{{type: identity}}]\n")
    one_line_error(report(path), f"{path}:2", "input")


def test_impossible_geometry_points_at_the_kernel(spec_file):
    path = spec_file(HEAD + "  - {type: identity}\n  - type: conv\n    out_channels: 4\n    kernel: 11\n")
    msg = one_line_error(report(path), f"{path}:7", "layers[1]", "would be", "kernel 11")
    assert "(< 1)" in msg


def test_groups_that_do_not_divide(spec_file):
    path = spec_file(HEAD + "  - type: conv\n    out_channels: 4\n    kernel: 3\n    groups: 2\n")
    one_line_error(report(path), f"{path}:7", "groups 2 must divide")


def test_residual_shape_mismatch_names_both_shapes(spec_file):
    path = spec_file(
        HEAD + "  - {type: identity}\n"
        "  - type: residual\n"
        "    body:\n"
        "      - {type: conv, out_channels: 16, kernel: 1}\n"
    )
    one_line_error(report(path), f"{path}:5", "residual at layers[1]", "[16, 8, 8]", "[3, 8, 8]")


def test_residual_with_a_shortcut_that_disagrees(spec_file):
    path = spec_file(
        HEAD + "  - type: residual\n"
        "    body: [{type: conv, out_channels: 8, kernel: 3, stride: 2, padding: 1}]\n"
        "    shortcut: [{type: conv, out_channels: 8, kernel: 1}]\n"
    )
    one_line_error(report(path), f"{path}:4", "[8, 4, 4]", "[8, 8, 8]")


def test_concat_shape_mismatch_names_both_shapes(spec_file):
    path = spec_file(
        HEAD + "  - type: concat\n"
        "    branches:\n"
        "      - [{type: conv, out_channels: 4, kernel: 1}]\n"
        "      - [{type: conv, out_channels: 6, kernel: 1, stride: 2}]\n"
    )
    one_line_error(report(path), f"{path}:4", "concat at layers[0]", "[6, 4, 4]", "[4, 8, 8]")


def test_a_spatial_layer_after_flatten(spec_file):
    path = spec_file(HEAD + "  - {type: flatten}\n  - {type: conv, out_channels: 4, kernel: 3}\n")
    one_line_error(report(path), f"{path}:5", "layers[1]")


# -- files that are not specs -------------------------------------------------------------------
@pytest.mark.parametrize("text", ["", "   \n\n\t \n", "# only a comment\n", "---\n", "---\n...\n"])
def test_empty_files(spec_file, text):
    path = spec_file(text)
    msg = one_line_error(report(path))
    assert msg.startswith((path + ":", path + ": "))
    assert "empty" in msg or "mapping" in msg


@pytest.mark.parametrize(
    "text,what", [("- a\n- b\n", "a list"), ("hello\n", "a string"), ("42\n", "int"), ("[1, 2]\n", "a list")]
)
def test_top_level_that_is_not_a_mapping(spec_file, text, what):
    path = spec_file(text)
    one_line_error(report(path), f"{path}:1", "must be a mapping", what)


def test_more_than_one_document(spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers: [{type: identity}]\n---\ninput: [3]\n")
    one_line_error(report(path), f"{path}:3", "more than one YAML document")


@pytest.mark.parametrize(
    "text,line",
    [
        ("input: [3, 8, 8]\nlayers:\n\t- {type: identity}\n", 3),  # a tab indent
        ("input: [3, 8, 8]\nlayers: [{type: identity}\n", 3),  # unclosed flow list
        ("input: [3, 8, 8]\nlayers:\n  - {type: identity\n  - x\n", 5),  # unclosed flow map
        ("input: [3, 8, 8]\n  bad: indent\nlayers: []\n", 2),
        ("input: 'unterminated\nlayers: []\n", 3),
        ("input: [3, 8, 8]\nlayers: *nothing\n", 2),  # undefined alias
    ],
)
def test_invalid_yaml_syntax(spec_file, text, line):
    path = spec_file(text)
    one_line_error(report(path), f"{path}:{line}")


def test_an_unclosed_bracket_names_where_it_opened(spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers:\n  - {type: identity\n\n\n  - x\n")
    one_line_error(report(path), f"{path}:7", "invalid YAML", "flow mapping on line 3")


def test_non_utf8_bytes_name_the_line(tmp_path):
    p = tmp_path / "latin1.yaml"
    p.write_bytes(b"input: [3, 8, 8]\nname: caf\xe9\nlayers: [{type: identity}]\n")
    one_line_error(report(str(p)), f"{p}:2", "not UTF-8", "0xe9")


def test_binary_file_with_nul_bytes(tmp_path):
    p = tmp_path / "model.yaml"
    p.write_bytes(b"\x7fELF\x02\x01\x01\x00\x00\x00\x00" + bytes(range(256)) * 4)
    one_line_error(report(str(p)), str(p), "binary")


def test_control_characters(tmp_path):
    p = tmp_path / "ctl.yaml"
    p.write_bytes(b"input: [3, 8, 8]\nname: a\x07b\nlayers: [{type: identity}]\n")
    msg = one_line_error(report(str(p)))
    assert msg.startswith(str(p))


def test_missing_file():
    r = report("/nonexistent/dir/net.yaml")
    one_line_error(r, "/nonexistent/dir/net.yaml", "no such file")


def test_a_directory(tmp_path):
    one_line_error(report(str(tmp_path)), str(tmp_path), "directory")


def test_unreadable_file(spec_file, monkeypatch):
    """A file that cannot be opened. chmod 000 does not stop root (CI runs as root), so the
    refusal is made by the open itself, for every user: EACCES, as the kernel gives it."""
    import builtins

    path = spec_file(HEAD + "  - {type: identity}\n")
    real_open = builtins.open

    def no_access(file, *a, **k):
        if file == path:
            raise PermissionError(13, "Permission denied", file)
        return real_open(file, *a, **k)

    monkeypatch.setattr(builtins, "open", no_access)
    one_line_error(report(path), path, "cannot read: Permission denied")


def test_unreadable_file_by_mode_for_other_users(spec_file):
    """The same through the file system, where the mode can stop this user (not root)."""
    path = spec_file(HEAD + "  - {type: identity}\n")
    os.chmod(path, 0)
    try:
        readable = os.access(path, os.R_OK)  # True for root whatever the mode
        r = report(path)
        if readable:
            assert r.code == 0, r
        else:
            one_line_error(r, path, "cannot read")
    finally:
        os.chmod(path, 0o644)


def test_file_larger_than_the_size_limit(tmp_path):
    from convcalc.yamlio import MAX_FILE_BYTES

    p = tmp_path / "huge.yaml"
    with open(p, "wb") as fh:  # sparse: costs no disk
        fh.truncate(MAX_FILE_BYTES + 1)
    # refused from its size alone: the file is never opened, let alone read
    import builtins

    real_open, opened = builtins.open, []

    def spy(file, *a, **k):
        opened.append(file)
        return real_open(file, *a, **k)

    builtins.open = spy
    try:
        r = report(str(p))
    finally:
        builtins.open = real_open
    assert str(p) not in opened
    one_line_error(r, str(p), "limit", f"{MAX_FILE_BYTES:,}")


def test_stdin_larger_than_the_size_limit(monkeypatch):
    import io
    import sys

    from convcalc.yamlio import MAX_FILE_BYTES

    class Stdin:
        buffer = io.BytesIO(b"#" * (MAX_FILE_BYTES + 10))

    monkeypatch.setattr(sys, "stdin", Stdin())
    r = report("-")
    one_line_error(r, "<stdin>", "limit")


# -- expansion bombs and nesting ---------------------------------------------------------------
def _laughs(block: str) -> str:
    """9 levels x 10 aliases: 10**10 leaves if expanded."""
    ten = ", ".join(["{type: identity}"] * 10)
    lines = ["name: lol", "input: [3, 8, 8]", f"x-l0: &l0 [{ten}]"]
    for i in range(1, 10):
        inner = (
            f"{{type: sequential, layers: *l{i - 1}}}"
            if block == "sequential"
            else f"{{type: repeat, times: 1, layers: *l{i - 1}}}"
            if block == "repeat"
            else f"*l{i - 1}"
        )
        lines.append(f"x-l{i}: &l{i} [" + ", ".join([inner] * 10) + "]")
    lines.append("layers: *l9")  # line 13
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("block", ["sequential", "repeat", "list"])
def test_billion_laughs_is_refused_fast_without_expansion(spec_file, block):
    path = spec_file(_laughs(block))
    for cmd in (("report", path, "--format", "json"), ("report", path), ("check", path, "--max-macs", "1")):
        # counted, not timed: 10**10 layers expanded would be billions of lines of convcalc
        r, _ = count_lines(lambda cmd=cmd: run_cli(*cmd), limit=200_000)
        one_line_error(r, f"{path}:13", "10,000,000,000 layers", "limit")


def test_repeat_a_trillion_times_is_refused_fast(spec_file):
    path = spec_file(
        HEAD + "  - type: repeat\n    times: 1000000000000\n    layers:\n"
        "      - {type: conv, out_channels: 3, kernel: 3, padding: 1}\n"
    )
    r, _ = count_lines(lambda: report(path, "--format", "json"), limit=50_000)
    msg = one_line_error(r, None, "1,000,000,000,000 layers", "limit")
    assert re.match(re.escape(path) + r":(3|4|5): ", msg), msg  # the layers: key, the repeat or its times


def test_repeat_with_a_huge_times_of_many_digits(spec_file):
    path = spec_file(HEAD + "  - {type: repeat, times: " + "9" * 300 + ", layers: [{type: identity}]}\n")
    one_line_error(report(path), None, "limit")


def test_thousands_of_nested_sequential_blocks_block_style(spec_file):
    depth = 2500  # the compact form (a list at its key's indentation): 2 columns a level
    lines = [HEAD.rstrip("\n")]
    for i in range(depth):
        pad = "  " * i
        lines += [pad + "- type: sequential", pad + "  layers:"]
    lines.append("  " * depth + "- {type: identity}")
    path = spec_file("\n".join(lines) + "\n")
    r, _ = count_lines(lambda: report(path), limit=200_000)
    msg = one_line_error(r)
    assert re.match(re.escape(path) + r":\d+: ", msg) and "nest" in msg, msg


def test_thousands_of_nested_sequential_blocks_flow_style(spec_file):
    depth = 5000
    text = "{type: sequential, layers: [" * depth + "{type: identity}" + "]}" * depth
    path = spec_file(HEAD + "  - " + text + "\n")
    msg = one_line_error(report(path))
    assert msg.startswith(f"{path}:4: ") and "nest" in msg, msg


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_deeply_nested_flow_lists(spec_file, depth):
    path = spec_file(HEAD[: -len("layers:\n")] + "layers: " + "[" * depth + "]" * depth + "\n")
    msg = one_line_error(report(path))
    assert msg.startswith(f"{path}:3: ") and "nest" in msg, msg


def _nested_blocks(depth: int, block: str = "sequential") -> str:
    opener = {
        "sequential": "{type: sequential, layers: [",
        "repeat": "{type: repeat, times: 1, layers: [",
        "residual": "{type: residual, body: [",
    }[block]
    return HEAD + "  - " + opener * depth + "{type: conv, out_channels: 3, kernel: 1}" + "]}" * depth + "\n"


@pytest.mark.parametrize("block", ["sequential", "repeat", "residual"])
def test_nesting_up_to_the_limit_works(spec_file, block):
    """network.MAX_NESTING (100) nested blocks work in every format; the limits refuse only
    what is deeper, and then with a location."""
    from convcalc.network import MAX_NESTING

    path = spec_file(_nested_blocks(MAX_NESTING, block))
    for fmt in ("json", "table", "csv"):
        r = report(path, "--format", fmt)
        assert r.code == 0 and r.err == "", r
    r = run_cli("check", path, "--max-macs", "1")
    assert r.code == 1 and "Traceback" not in r.err, r
    deeper = spec_file(_nested_blocks(MAX_NESTING + 1, block))
    one_line_error(report(deeper), f"{deeper}:4", "nested deeper than")


def test_nesting_through_a_chain_of_aliases(spec_file):
    """Aliases nest without nesting the text: 600 levels of them must not recurse forever."""
    lines = ["input: [3, 8, 8]", "x-a0: &a0 [{type: identity}]"]
    for i in range(1, 600):
        lines.append(f"x-a{i}: &a{i} [{{type: sequential, layers: *a{i - 1}}}]")
    lines.append("layers: *a599")
    path = spec_file("\n".join(lines) + "\n")
    for cmd in (("report", path), ("report", path, "-f", "json"), ("check", path)):
        msg = one_line_error(run_cli(*cmd))
        assert re.match(re.escape(path) + r":\d+: ", msg) and "nest" in msg, msg


@pytest.mark.parametrize(
    "text,line",
    [
        ("input: [3, 8, 8]\nlayers: &a [*a]\n", 2),
        ("input: [3, 8, 8]\nlayers:\n  - &m {type: sequential, layers: [*m]}\n", 3),
        ("input: [3, 8, 8]\nx: &a {b: *a}\nlayers: [{type: identity}]\n", 2),
    ],
)
def test_recursive_alias_is_refused(spec_file, text, line):
    path = spec_file(text)
    one_line_error(report(path), f"{path}:{line}", "recursive alias")


# -- duplicate keys, merge keys -----------------------------------------------------------------
def test_duplicate_keys_are_refused_with_both_lines(spec_file):
    path = spec_file(HEAD + "  - type: conv\n    kernel: 3\n    out_channels: 4\n    kernel: 5\n")
    one_line_error(report(path), f"{path}:7", "duplicate key 'kernel'", "first on line 5")


def test_duplicate_top_level_keys(spec_file):
    path = spec_file("input: [3, 8, 8]\nlayers: [{type: identity}]\ninput: [3, 4, 4]\n")
    one_line_error(report(path), f"{path}:3", "duplicate key 'input'", "first on line 1")


def test_merge_keys_work_and_explicit_keys_win(spec_file):
    """The positive control for the hostile cases: merge keys (YAML 1.1) still work."""
    path = spec_file(
        "input: [3, 8, 8]\n"
        "x-c: &c {type: conv, kernel: 3, out_channels: 99, padding: 1}\n"
        "layers:\n"
        "  - {<<: *c, out_channels: 4}\n"
    )
    r = report(path, "--format", "json")
    assert r.code == 0, r
    layer = json.loads(r.out)["layers"][0]
    assert layer["output_shape"] == [4, 8, 8]


def test_merge_of_a_non_mapping_is_refused(spec_file):
    path = spec_file("input: [3, 8, 8]\nx-l: &l [1, 2]\nlayers:\n  - {<<: *l, type: identity}\n")
    one_line_error(report(path), f"{path}:4", "merge key")


def test_a_mapping_as_a_key_is_refused(spec_file):
    path = spec_file("input: [3, 8, 8]\n? [a, b]\n: 1\nlayers: [{type: identity}]\n")
    one_line_error(report(path), f"{path}:2", "keys must be plain strings")


# -- numbers -----------------------------------------------------------------------------------
def test_huge_valid_numbers_are_exact_integers(spec_file):
    c = 10**30
    path = spec_file(
        f"input: [3, 5, 5]\nlayers:\n  - {{type: conv, out_channels: {c}, kernel: 3, padding: 1}}\n"
    )
    r = report(path, "--format", "json")
    assert r.code == 0, r
    layer = json.loads(r.out)["layers"][0]
    weight = c * 3 * 3 * 3
    assert layer["params"] == weight + c  # weights + bias, exactly
    assert layer["macs"] == weight * 5 * 5
    assert layer["flops"] == 2 * weight * 5 * 5 + c * 5 * 5
    assert layer["output_shape"] == [c, 5, 5]
    r = report(path)  # the table prints them exactly too
    assert r.code == 0, r
    assert f"{weight + c:,}" in r.out


def test_huge_input_size_is_exact(spec_file):
    n = 10**21
    path = spec_file(f"input: [1, {n}]\nlayers:\n  - {{type: conv, out_channels: 2, kernel: 3}}\n")
    r = report(path, "--format", "json")
    assert r.code == 0, r
    layer = json.loads(r.out)["layers"][0]
    assert layer["output_shape"] == [2, n - 2]
    assert layer["macs"] == 2 * 1 * 3 * (n - 2)


# Sizes within the documented limit (numbers.MAX_INT_DIGITS digits) whose products are beyond
# a float's range (1.8e308): exact ints must not go through floats anywhere.
HUGE = 10**99


@pytest.mark.parametrize(
    "cmd",
    [
        ("report",),
        ("report", "-f", "csv"),
        ("report", "-f", "markdown"),
        ("report", "--width-mult", "0.5", "-f", "json"),
        ("check",),
        ("check", "-f", "json"),
    ],
)
def test_numbers_beyond_float_range_are_exact(spec_file, cmd):
    path = spec_file(
        f"input: [{HUGE}, {HUGE}, {HUGE}]\nbudget: {{macs: 1}}\n"
        f"layers:\n  - {{type: conv, out_channels: {HUGE}, kernel: 1, bias: false}}\n"
    )
    r = run_cli(cmd[0], path, *cmd[1:])
    assert r.code == (1 if cmd[0] == "check" else 0), r
    assert "Traceback" not in r.err
    out_c = HUGE // 2 if "--width-mult" in cmd else HUGE
    macs = out_c * HUGE * HUGE * HUGE
    assert macs >= 10**395  # far beyond a float
    if cmd[0] == "check" and "json" in cmd:
        [v] = json.loads(r.out)["results"]
        assert (v["value"], v["limit"], v["excess"]) == (macs, 1, macs - 1)
    elif "json" in cmd:
        layer = json.loads(r.out)["layers"][0]
        assert layer["macs"] == macs and layer["output_shape"] == [out_c, HUGE, HUGE]
    elif "csv" in cmd or "markdown" in cmd:
        assert str(macs) in r.out.replace(",", "")
    # (a Rich table may wrap a 400-digit cell over lines: the formats above are checked)


@pytest.mark.parametrize("digits", [101, 400, 2200])
def test_integers_beyond_the_digit_limit_are_refused_at_their_line(spec_file, digits):
    from convcalc.numbers import MAX_INT_DIGITS

    assert digits > MAX_INT_DIGITS
    path = spec_file(HEAD + f"  - {{type: conv, kernel: 1, out_channels: {'9' * digits}}}\n")
    one_line_error(report(path), f"{path}:4", f"{digits:,} digits", f"limit is {MAX_INT_DIGITS} digits")
    ok = spec_file(HEAD + f"  - {{type: conv, kernel: 1, out_channels: {'9' * MAX_INT_DIGITS}}}\n")
    assert report(ok, "-f", "json").code == 0


def test_a_number_with_too_many_digits_for_python(spec_file):
    path = spec_file(HEAD + "  - type: conv\n    kernel: 3\n    out_channels: " + "9" * 5000 + "\n")
    one_line_error(report(path), f"{path}:6", "too long")


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e400", "0x1F", "0o17", "1_000"])
def test_odd_yaml_numbers(spec_file, value):
    path = spec_file(HEAD + f"  - {{type: conv, kernel: 1, out_channels: {value}}}\n")
    r = report(path, "--format", "json")
    if r.code == 0:  # YAML 1.1 ints (hex, octal, underscores) are ints
        assert value in ("0x1F", "0o17", "1_000") and json.loads(r.out)["layers"][0]["output_shape"][0] > 0
    else:
        one_line_error(r, f"{path}:4", "out_channels")


# -- --output: errors and atomicity ------------------------------------------------------------
GOOD = "input: [3, 8, 8]\nlayers: [{type: conv, out_channels: 4, kernel: 3}]\n"
BAD = "input: [3, 8, 8]\nlayers: [{type: conv, out_channels: 4, kernel: 30}]\n"


@pytest.mark.parametrize(
    "cmd",
    [
        ("report", "SPEC", "--format", "json"),
        ("report", "SPEC"),
        ("conv", "-c", "3", "--size", "8", "-o", "4", "-k", "3"),
        ("check", "SPEC", "--format", "json"),
    ],
)
def test_output_into_a_missing_directory(spec_file, tmp_path, cmd):
    path = spec_file(GOOD)
    target = tmp_path / "no" / "such" / "dir" / "out.json"
    r = run_cli(*[path if a == "SPEC" else a for a in cmd], "--output", str(target))
    one_line_error(r, None, "--output", str(target))
    assert not target.parent.exists()


def test_output_to_a_directory(spec_file, tmp_path):
    r = run_cli("report", spec_file(GOOD), "--output", str(tmp_path))
    one_line_error(r, None, "--output")
    assert tmp_path.is_dir()


def _leftovers(directory) -> list[str]:
    return sorted(f for f in os.listdir(directory) if f.startswith(".") or f.endswith(".tmp"))


@pytest.mark.parametrize("fmt", ["json", "table", "csv"])
def test_failing_run_leaves_the_existing_output_untouched(spec_file, tmp_path, fmt):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "existing.json"
    existing.write_text('{"old": true}\n')
    before = existing.stat()
    r = run_cli("report", spec_file(BAD), "--format", fmt, "--output", str(existing))
    one_line_error(r, None, "kernel 30")
    assert existing.read_text() == '{"old": true}\n'
    assert existing.stat().st_mtime_ns == before.st_mtime_ns
    assert _leftovers(out_dir) == []
    assert sorted(os.listdir(out_dir)) == ["existing.json"]


def test_successful_run_replaces_the_output_and_leaves_no_temp_files(spec_file, tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    existing = out_dir / "existing.json"
    existing.write_text("OLD")
    r = run_cli("report", spec_file(GOOD), "--format", "json", "--output", str(existing))
    assert r.code == 0 and r.out == "" and r.err == "", r
    assert json.loads(existing.read_text())["layers"][0]["output_shape"] == [4, 6, 6]
    assert sorted(os.listdir(out_dir)) == ["existing.json"]


def test_output_to_a_device_writes_through_it(spec_file, tmp_path):
    """``--output /dev/stdout`` (or any device or FIFO) must be written to, not replaced by a
    regular file: the atomic temp-file-and-rename is for regular files only. Tested on a
    private twin of /dev/null, never on the real /dev (replacing a real device node is what
    this test guards against)."""
    dev = tmp_path / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError):
        pytest.skip("cannot create a device node here (needs root)")
    r = run_cli("report", spec_file(GOOD), "--format", "json", "--output", str(dev))
    assert r.code == 0, r
    assert stat.S_ISCHR(os.lstat(dev).st_mode), "--output replaced a device node with a regular file"
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("bad", ["[3, true]", "[3, 1.0]", "[3, '1']"])
def test_a_bad_value_equal_to_a_good_one_is_still_refused(spec_file, bad):
    """true == 1 and 1.0 == 1 in Python: a cache of built layers must not let a bad value pass
    for a good one seen before it (each layer is checked as written)."""
    path = spec_file(
        HEAD + "  - {type: conv, out_channels: 4, kernel: [3, 1], padding: [1, 0]}\n"
        f"  - {{type: conv, out_channels: 4, kernel: {bad}, padding: [1, 0]}}\n"
    )
    one_line_error(report(path, "--format", "json"), f"{path}:5", "layers[1]", "kernel")
    alone = spec_file(HEAD + f"  - {{type: conv, out_channels: 4, kernel: {bad}, padding: [1, 0]}}\n")
    one_line_error(report(alone), f"{alone}:4", "layers[0]", "kernel")
