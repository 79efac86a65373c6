"""--output (issue 12): atomic, never a temp file left behind (also when killed), ``-`` is
stdout and ``''`` an error, no overwriting of a read-only file or of an input, symlinks and
devices written through, modes kept.

The three ways a file is written are each tested: an anonymous O_TMPFILE file linked through
/proc/self/fd (or with AT_EMPTY_PATH), an anonymous file copied to a named one where it
cannot be linked, and a named temp file where O_TMPFILE does not exist.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_cli

from convcalc import output

PREFIX = "convcalc: error: "
GOOD = "input: [3, 8, 8]\nlayers: [{type: conv, out_channels: 4, kernel: 3}]\n"
HANG_GUARD_S = 300  # subprocesses: a guard against a hang, not a measurement


def one_line(r, *fragments: str) -> str:
    assert r.code == 2, r
    lines = r.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(PREFIX), r.err
    for f in fragments:
        assert f in lines[0], (f, lines[0])
    return lines[0]


def leftovers(directory) -> list[str]:
    return sorted(f for f in os.listdir(directory) if f.startswith(output.TEMP_PREFIX) or f.endswith(".tmp"))


# The three mechanisms, forced where the platform would pick another.
def _no_link(monkeypatch):
    real = os.link

    def link(src, dst, *a, **k):
        if str(src).startswith("/proc/self/fd/"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst, *a, **k)

    monkeypatch.setattr(os, "link", link)
    monkeypatch.setattr(output, "_linkat_empty_path", lambda fd, dest: False)


MECHANISMS = {
    "anonymous": lambda mp: None,
    "anonymous-copied": _no_link,
    "named": lambda mp: mp.setattr(output, "_anonymous", lambda directory, shown: None),
}


@pytest.fixture(params=sorted(MECHANISMS))
def mechanism(request, monkeypatch):
    if request.param != "named" and not hasattr(os, "O_TMPFILE"):
        pytest.fail("O_TMPFILE is missing: the anonymous mechanisms are Linux's (CI runs Linux)")
    MECHANISMS[request.param](monkeypatch)
    return request.param


def test_writes_replace_atomically_and_leave_nothing(tmp_path, spec_file, mechanism):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "r.json"
    target.write_text("OLD")
    os.chmod(target, 0o640)
    r = run_cli("report", spec_file(GOOD), "-f", "json", "--output", str(target))
    assert (r.code, r.out, r.err) == (0, "", ""), r
    assert json.loads(target.read_text())["layers"][0]["output_shape"] == [4, 6, 6]
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # the existing file's mode is kept
    assert os.listdir(out) == ["r.json"]


def test_a_new_file_gets_the_umask_mode(tmp_path, spec_file, mechanism):
    old = os.umask(0o027)
    try:
        r = run_cli("report", spec_file(GOOD), "-f", "csv", "--output", str(tmp_path / "new.csv"))
    finally:
        os.umask(old)
    assert r.code == 0, r
    assert stat.S_IMODE((tmp_path / "new.csv").stat().st_mode) == 0o640
    assert leftovers(tmp_path) == []


def test_a_failure_while_writing_keeps_the_old_file(tmp_path, mechanism):
    target = tmp_path / "r.txt"
    target.write_text("OLD")

    def chunks():
        yield "a" * 200_000
        raise output.ConvcalcError("the producer failed half way")

    with pytest.raises(output.ConvcalcError):
        output.write_atomic(str(target), chunks())
    assert target.read_text() == "OLD"
    assert os.listdir(tmp_path) == ["r.txt"]


def test_ctrl_c_while_writing_keeps_the_old_file(tmp_path, mechanism):
    target = tmp_path / "r.txt"
    target.write_text("OLD")

    def chunks():
        yield "a" * 200_000
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        output.write_atomic(str(target), chunks())
    assert target.read_text() == "OLD" and os.listdir(tmp_path) == ["r.txt"]


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "markdown"])
def test_output_dash_is_stdout(tmp_path, spec_file, monkeypatch, fmt):
    monkeypatch.chdir(tmp_path)
    spec = spec_file(GOOD)
    r = run_cli("report", spec, "-f", fmt, "--output", "-")
    plain = run_cli("report", spec, "-f", fmt)
    assert r.code == 0 and r.err == "", r
    assert r.out == plain.out and "conv" in r.out
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["check", "SPEC", "--max-macs", "1", "-f", "github"],
        ["conv", "-c", "3", "--size", "8", "-o", "4", "-k", "3", "-f", "json"],
        ["diff", "SPEC", "SPEC"],
        ["zoo", "-f", "json"],
    ],
)
def test_output_dash_is_stdout_for_every_command(tmp_path, spec_file, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    spec = spec_file(GOOD)
    args = [spec if a == "SPEC" else a for a in args]
    r = run_cli(*args, "--output", "-")
    assert r.code in (0, 1) and r.out.strip(), r
    assert not (tmp_path / "-").exists()


@pytest.mark.parametrize("fmt", ["table", "json", "csv"])
def test_output_empty_is_an_error(spec_file, fmt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = spec_file(GOOD)
    before = sorted(os.listdir(tmp_path))
    one_line(run_cli("report", spec, "-f", fmt, "--output", ""), "--output", "empty file name")
    assert sorted(os.listdir(tmp_path)) == before


def test_a_read_only_file_is_not_overwritten(tmp_path, spec_file):
    target = tmp_path / "locked.json"
    target.write_text("KEEP")
    os.chmod(target, 0o444)
    one_line(run_cli("report", spec_file(GOOD), "-f", "json", "--output", str(target)), "read-only")
    assert target.read_text() == "KEEP" and stat.S_IMODE(target.stat().st_mode) == 0o444
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("how", ["same", "dot-slash", "symlink", "hardlink"])
def test_the_input_spec_is_not_overwritten(tmp_path, monkeypatch, how):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.yaml").write_text(GOOD)
    target = {"same": "net.yaml", "dot-slash": "./net.yaml", "symlink": "link.yaml", "hardlink": "hard.yaml"}[
        how
    ]
    if how == "symlink":
        os.symlink("net.yaml", "link.yaml")
    if how == "hardlink":
        os.link("net.yaml", "hard.yaml")
    for fmt in ("table", "json"):
        one_line(run_cli("report", "net.yaml", "-f", fmt, "--output", target), "input", "refusing")
    assert (tmp_path / "net.yaml").read_text() == GOOD


def test_a_baseline_or_diff_input_is_not_overwritten(tmp_path, spec_file):
    spec = spec_file(GOOD)
    base = tmp_path / "base.json"
    assert run_cli("report", spec, "-f", "json", "--output", str(base)).code == 0
    saved = base.read_text()
    one_line(run_cli("check", spec, "--baseline", str(base), "--output", str(base)), "input")
    one_line(run_cli("diff", str(base), spec, "--output", str(base)), "input")
    one_line(run_cli("diff", f"{base}#tiny", spec, "--output", str(base)), "input")
    one_line(run_cli("diff", str(base), spec, "--output", spec), "input")
    assert base.read_text() == saved and (tmp_path / os.path.basename(spec)).read_text() == GOOD


def test_write_atomic_can_be_told_its_inputs(tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("INPUT")
    output.forget_inputs()
    with pytest.raises(output.OutputError, match="input"):
        output.write_atomic(str(src), "x", protect=[str(src)])
    output.forget_inputs()
    assert src.read_text() == "INPUT"


def test_a_dangling_symlink_is_written_through(tmp_path, spec_file, mechanism):
    link = tmp_path / "link.json"
    os.symlink("real.json", link)
    r = run_cli("report", spec_file(GOOD), "-f", "json", "--output", str(link))
    assert r.code == 0, r
    assert link.is_symlink() and os.readlink(link) == "real.json"
    assert json.loads((tmp_path / "real.json").read_text())["layers"]
    assert leftovers(tmp_path) == []


def test_a_symlink_to_a_file_replaces_the_file_not_the_link(tmp_path, spec_file, mechanism):
    (tmp_path / "real.json").write_text("OLD")
    os.symlink("real.json", tmp_path / "link.json")
    r = run_cli("report", spec_file(GOOD), "-f", "json", "--output", str(tmp_path / "link.json"))
    assert r.code == 0, r
    assert (tmp_path / "link.json").is_symlink() and json.loads((tmp_path / "real.json").read_text())


def test_a_symlink_loop_is_one_line(tmp_path, spec_file):
    os.symlink("b", tmp_path / "a")
    os.symlink("a", tmp_path / "b")
    one_line(run_cli("report", spec_file(GOOD), "--output", str(tmp_path / "a")), "--output")


# -- killed while writing: subprocesses ----------------------------------------------------------
FORCE_NAMED = (
    "import sys, convcalc.output as o; o._anonymous = lambda d, s: None; "
    "from convcalc.cli import main; sys.exit(main(sys.argv[1:]))"
)


def _writing(pid: int, directory: str) -> bool:
    """True while process ``pid`` holds a file open in ``directory`` other than its inputs:
    the output being written (an O_TMPFILE shows as '#inode (deleted)')."""
    fd_dir = f"/proc/{pid}/fd"
    try:
        names = os.listdir(fd_dir)
    except OSError:
        return False
    for fd in names:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue
        if target.startswith(directory + os.sep) and (
            "#" in target or os.path.basename(target).startswith(output.TEMP_PREFIX)
        ):
            return True
    return False


def _start_writing(tmp_path, named: bool) -> tuple[subprocess.Popen, str]:
    spec = tmp_path / "big.yaml"
    spec.write_text(
        "input: [4, 8, 8]\nlayers:\n  - type: repeat\n    times: 150000\n    layers:\n"
        "      - {type: conv, out_channels: 4, kernel: 3, padding: 1}\n"
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "report.json"
    target.write_text("OLD")
    args = ["report", str(spec), "-f", "json", "--output", str(target)]
    cmd = [sys.executable, "-c", FORCE_NAMED, *args] if named else [sys.executable, "-m", "convcalc", *args]
    env = {**os.environ, "PYTHONPATH": ROOT}
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + HANG_GUARD_S  # a hang guard only
    while not _writing(p.pid, str(out_dir)):
        assert p.poll() is None, f"finished before it was caught writing: {p.stderr.read()!r}"
        assert time.monotonic() < deadline, "never started writing"
        time.sleep(0.005)
    return p, str(out_dir)


@pytest.mark.parametrize(
    "sig, named",
    [
        (signal.SIGTERM, False),
        (signal.SIGHUP, False),
        (signal.SIGKILL, False),
        (signal.SIGTERM, True),
        (signal.SIGHUP, True),
        (signal.SIGINT, False),
        (signal.SIGINT, True),
    ],
)
def test_killed_while_writing_leaves_no_temp_file(tmp_path, sig, named):
    """SIGTERM, SIGHUP, SIGKILL or Ctrl-C in the middle of writing a 150,000-layer report:
    the old file stays as it was and nothing else is left (kill -9 with O_TMPFILE; the others
    with either mechanism). Linux: /proc shows when the file is being written."""
    assert os.path.isdir("/proc/self/fd"), "this test watches /proc/PID/fd (Linux, as CI)"
    p, out_dir = _start_writing(tmp_path, named)
    p.send_signal(sig)
    _, err = p.communicate(timeout=HANG_GUARD_S)
    if sig == signal.SIGINT:
        assert p.returncode == 130 and err.decode() == PREFIX + "interrupted\n"
    else:
        assert p.returncode == -sig, err  # it died by that signal, as without convcalc's handler
    assert os.listdir(out_dir) == ["report.json"]
    with open(os.path.join(out_dir, "report.json")) as fh:
        assert fh.read() == "OLD"


def test_output_dev_stdout_into_a_pipe(tmp_path):
    """/dev/stdout is a symlink to /proc/self/fd/1, here a pipe: written through, not
    replaced and not resolved to a file name."""
    (tmp_path / "net.yaml").write_text(GOOD)
    p = subprocess.run(
        [
            sys.executable,
            "-m",
            "convcalc",
            "report",
            str(tmp_path / "net.yaml"),
            "-f",
            "json",
            "--output",
            "/dev/stdout",
        ],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": ROOT},
        timeout=HANG_GUARD_S,
    )
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["layers"][0]["output_shape"] == [4, 6, 6]


def test_output_dev_stdout_redirected_to_a_file(tmp_path):
    """`--output /dev/stdout > out.json`: written into the shell's file, not renamed over it."""
    (tmp_path / "net.yaml").write_text(GOOD)
    out = tmp_path / "out.json"
    with open(out, "wb") as fh:
        p = subprocess.run(
            [sys.executable, "-m", "convcalc", "report", str(tmp_path / "net.yaml"), "-f", "json"]
            + ["--output", "/dev/stdout"],
            stdout=fh,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": ROOT},
            timeout=HANG_GUARD_S,
        )
        inode = os.fstat(fh.fileno()).st_ino
    assert p.returncode == 0, p.stderr
    assert os.stat(out).st_ino == inode  # the same file the shell opened
    assert json.loads(out.read_text())["layers"][0]["output_shape"] == [4, 6, 6]


# -- the pieces, in-process --------------------------------------------------------------------
def test_sigterm_while_writing_removes_the_temp_file_then_dies_by_it(tmp_path, monkeypatch):
    """In-process: a real SIGTERM raised while the named temp file is written. The file goes,
    then the process re-sends itself the signal with the default action (recorded here)."""
    target = tmp_path / "r.txt"
    target.write_text("OLD")
    monkeypatch.setattr(output, "_anonymous", lambda directory, shown: None)
    killed = []
    monkeypatch.setattr(output.os, "kill", lambda pid, sig: killed.append((pid, sig)))
    before = signal.getsignal(signal.SIGTERM)

    def chunks():
        yield "a" * 200_000
        assert leftovers(tmp_path), "the named temp file exists while writing"
        signal.raise_signal(signal.SIGTERM)
        yield "never written"

    with pytest.raises(BaseException) as e:
        output.write_atomic(str(target), chunks())
    assert type(e.value).__name__ == "_Terminated"
    assert killed == [(os.getpid(), signal.SIGTERM)]
    assert target.read_text() == "OLD" and os.listdir(tmp_path) == ["r.txt"]
    signal.signal(signal.SIGTERM, before)


def test_a_handler_the_caller_set_is_left_alone(tmp_path):
    seen = []
    old = signal.signal(signal.SIGHUP, lambda s, f: seen.append(s))
    try:
        output.write_atomic(str(tmp_path / "x.txt"), iter(["a", "b"]))
        assert signal.getsignal(signal.SIGHUP) is not signal.SIG_DFL and not seen
    finally:
        signal.signal(signal.SIGHUP, old)
    assert (tmp_path / "x.txt").read_text() == "ab\n"


def test_no_o_tmpfile_on_this_file_system_falls_back_to_a_named_file(tmp_path, monkeypatch):
    real_open = os.open

    def no_tmpfile(path, flags, *a, **k):
        if flags & getattr(os, "O_TMPFILE", 0) == getattr(os, "O_TMPFILE", -1):
            raise OSError(errno.EOPNOTSUPP, "Operation not supported")
        return real_open(path, flags, *a, **k)

    monkeypatch.setattr(output.os, "open", no_tmpfile)
    output.write_atomic(str(tmp_path / "x.txt"), "hello")
    assert (tmp_path / "x.txt").read_text() == "hello" and leftovers(tmp_path) == []


@pytest.mark.parametrize("name, fragment", [("a\0b", "cannot write"), ("", "empty file name")])
def test_impossible_names(tmp_path, name, fragment):
    with pytest.raises(output.OutputError, match=fragment):
        output.write_atomic(name if not name.startswith("a") else str(tmp_path / name), "x")


class _Stream:
    """A stdout stand-in that fails as a closed pipe or a narrow encoding does."""

    def __init__(self, fail=None, encoding="utf-8"):
        self.fail, self.encoding, self.text = fail, encoding, []

    def write(self, text):
        if self.fail is not None:
            raise self.fail
        text.encode(self.encoding)  # UnicodeEncodeError as a real stream would
        self.text.append(text)
        return len(text)

    def flush(self):
        if self.fail is not None:
            raise self.fail

    def isatty(self):
        return False


def test_guarded_stdout_drops_output_after_a_broken_pipe():
    g = output.GuardedStdout(_Stream(BrokenPipeError(errno.EPIPE, "Broken pipe")))
    assert g.write("abc") == 3 and g.closed_pipe
    g.flush()
    assert g.write("more") == 4 and g.isatty() is False


def test_guarded_stdout_raises_other_errors():
    g = output.GuardedStdout(_Stream(OSError(errno.ENOSPC, "No space left on device")))
    with pytest.raises(OSError, match="No space"):
        g.write("abc")
    with pytest.raises(OSError, match="No space"):
        g.flush()


def test_guarded_stdout_escapes_what_the_encoding_cannot_show():
    s = _Stream(encoding="ascii")
    g = output.GuardedStdout(s)
    g.write("caf\udce9 \u00e9 ok")
    assert s.text == ["caf\\udce9 \\xe9 ok"]


def test_guarded_stdout_without_a_stdout():
    g = output.GuardedStdout(None)
    assert g.closed_pipe and g.write("x") == 1
    g.flush()


def test_guard_stdout_restores_sys_stdout():
    real = sys.stdout
    with output.guard_stdout() as g:
        assert sys.stdout is g
    assert sys.stdout is real
