"""Writing results: to stdout, or to a file named by ``--output``.

Files (``write_atomic``):

* ``-`` is stdout; an empty name is an error.
* A regular file (new or existing) is replaced atomically, so a run that fails or is killed
  never leaves a partial file, and no temporary file is left behind:
    - on Linux the text goes to an *anonymous* file (``O_TMPFILE``) in the target's directory,
      linked into place only once complete (``linkat`` through ``/proc/self/fd``): a run
      killed at any point, even by SIGKILL, leaves nothing (the kernel drops the unnamed
      file). Replacing an existing file links it under a temporary name and renames it over
      the target: a SIGKILL in the microseconds between those two calls is the one moment a
      ``.convcalc-*.tmp`` name can be left;
    - elsewhere (no ``O_TMPFILE``, no ``/proc``, or a file system without it) a named
      temporary file is used, removed on any error, Ctrl-C, SIGTERM or SIGHUP; only SIGKILL
      can leave it.
* An existing file keeps its mode; a new one gets 0666 minus the umask.
* A file that nobody may write (no write bit, like ``chmod a-w``), or that this process
  may not write, is refused (exit 2), as a shell's ``>`` refuses it, and so is a file this
  run reads as input (the spec, a baseline): ``note_input`` (for the process) and
  ``write_atomic(..., protect=)`` (for one call).
* A symlink is written through: its target is replaced (or created, for a dangling link),
  never the link itself. Devices, FIFOs and other special files, and any name under ``/dev``
  or ``/proc`` (``/dev/stdout``, even redirected to a file), are written to directly.

Standard output (``guard_stdout``): when the reader goes away (``convcalc check ... | head``),
the rest of the output is dropped quietly and the command ends with the exit code of its work;
text the terminal's encoding cannot show (a file name that is not UTF-8) is written with
backslash escapes instead of failing.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from typing import IO, Any

from .errors import ConvcalcError

TEMP_PREFIX = ".convcalc-"
TEMP_SUFFIX = ".tmp"
ENCODING_ERRORS = "backslashreplace"  # what cannot be encoded is written as \udcff, \xe9...

# (st_dev, st_ino) of the files this run reads as input: never overwritten by --output
_inputs: set[tuple[int, int]] = set()


def note_input(path: str) -> None:
    """Remember, for the rest of the process, that ``path`` is read as input (a spec, a
    baseline), so that ``--output`` refuses to overwrite it (also through another name: a
    link, ``./spec.yaml``)."""
    identity = _identity(path)
    if identity is not None:
        _inputs.add(identity)


def _identity(path: str) -> tuple[int, int] | None:
    """(device, inode) of a regular file, or None."""
    try:
        st = os.stat(path)
    except (OSError, ValueError, TypeError):
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _is_system_name(path: str) -> bool:
    """/dev/stdout, /dev/fd/3, /proc/self/fd/1: names for an open file, written through even
    when that file is a regular one (``--output /dev/stdout > report.txt``)."""
    return os.path.abspath(path).startswith(("/dev/", "/proc/"))


def forget_inputs() -> None:
    _inputs.clear()


class OutputError(ConvcalcError):
    """--output cannot be written (a directory, a read-only file, the input itself...)."""


def _fail(path: str, message: str) -> OutputError:
    return OutputError(f"--output {path}: {message}")


def write_atomic(path: str, text: str | Iterable[str], protect: Iterable[str] = ()) -> None:
    """Write ``text`` (a string, or an iterable of strings) to the file ``path`` (see the
    module doc). ``protect``: more input paths that must not be overwritten."""
    if path == "-":
        _to_stdout(text)
        return
    if path == "":
        raise _fail("''", "an empty file name (use --output - for stdout)")
    inputs = _inputs | {i for i in map(_identity, protect) if i is not None}
    try:
        st = os.stat(path)  # through symlinks (/dev/stdout is one, to /proc/self/fd/1)
    except FileNotFoundError:
        st = None
    except (OSError, ValueError) as e:  # a symlink loop, a NUL in the name...
        raise _fail(path, f"cannot write: {_reason(e)}") from None
    # a symlink is written through: its file is replaced, or created when the link dangles
    target = os.path.realpath(path) if os.path.islink(path) else path
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            raise _fail(path, "is a directory")
        if (st.st_dev, st.st_ino) in inputs:
            raise _fail(path, "is an input of this run: refusing to overwrite it")
        if not stat.S_ISREG(st.st_mode) or _is_system_name(path):
            _write_through(path, text)  # a device, a FIFO, /dev/stdout redirected to a file
            return
        if not st.st_mode & 0o222 or not os.access(target, os.W_OK):
            raise _fail(path, "is read-only: refusing to overwrite it")
        mode = st.st_mode & 0o7777
    else:
        mode = 0o666 & ~_umask()
    directory = os.path.dirname(os.path.abspath(target))
    with _cleanup_on_signals() as pending:
        fd = _anonymous(directory, path)
        if fd is not None:
            _write_anonymous(fd, target, text, mode, path, pending)
        else:
            _write_named(directory, target, text, mode, path, pending)


def _reason(e: BaseException) -> str:
    return (e.strerror if isinstance(e, OSError) else None) or str(e)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _write_through(path: str, text: str | Iterable[str]) -> None:
    """A device, FIFO or other special file: written to, never replaced."""
    try:
        with open(path, "w", encoding="utf-8", errors=ENCODING_ERRORS, newline="") as fh:
            _write_all(fh, text)
    except OSError as e:
        if e.errno == errno.EPIPE:  # /dev/stdout into a pipe whose reader is gone: as for stdout
            return
        raise _fail(path, f"cannot write: {_reason(e)}") from None


def _write_all(fh: IO[str], text: str | Iterable[str]) -> None:
    if isinstance(text, str):
        fh.write(text)
    else:
        for chunk in _batched(text):
            fh.write(chunk)


# -- O_TMPFILE: an unnamed file, linked into place when complete -----------------------------------
def _anonymous(directory: str, shown: str) -> int | None:
    """An unnamed file in ``directory`` (Linux O_TMPFILE), or None where unsupported."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag:
        return None
    try:
        return os.open(directory, flag | os.O_RDWR | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as e:
        if e.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOTSUP):
            return None  # the file system cannot: fall back to a named temp file
        raise _fail(shown, f"cannot write there: {_reason(e)}") from None


def _write_anonymous(
    fd: int, target: str, text: str | Iterable[str], mode: int, shown: str, pending: list[str]
) -> None:
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=ENCODING_ERRORS, newline="", closefd=False) as fh:
            _write_all(fh, text)
        os.fchmod(fd, mode)
        _into_place(fd, target, mode, pending)
    except OSError as e:
        raise _fail(shown, f"cannot write: {_reason(e)}") from None
    finally:
        os.close(fd)


def _into_place(fd: int, target: str, mode: int, pending: list[str]) -> None:
    """Give the complete unnamed file the name ``target`` (replacing what is there)."""
    with contextlib.suppress(FileExistsError):
        if _link(fd, target):
            return  # a new file: it had no name until now
    directory = os.path.dirname(os.path.abspath(target))
    tmp = _temp_name(directory)
    pending.append(tmp)
    try:
        if not _link(fd, tmp):  # no way to name an unnamed file here: copy it to a named one
            _copy_to(fd, tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        pending.remove(tmp)


def _link(fd: int, dest: str) -> bool:
    """linkat() the unnamed file ``fd`` to ``dest``: through /proc/self/fd (any user), else
    with AT_EMPTY_PATH (needs CAP_DAC_READ_SEARCH; some sandboxes allow only this one).
    False when neither is possible; FileExistsError when ``dest`` exists."""
    try:
        os.link(f"/proc/self/fd/{fd}", dest, follow_symlinks=True)
        return True
    except FileExistsError:
        raise
    except OSError:
        pass
    return _linkat_empty_path(fd, dest)


def _linkat_empty_path(fd: int, dest: str) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        at_fdcwd, at_empty_path = -100, 0x1000
        if libc.linkat(fd, b"", at_fdcwd, os.fsencode(dest), at_empty_path) == 0:
            return True
        err = ctypes.get_errno()
    except (OSError, AttributeError, ValueError):
        return False
    if err == errno.EEXIST:
        raise FileExistsError(err, os.strerror(err), dest)
    return False


def _temp_name(directory: str) -> str:
    return os.path.join(directory, f"{TEMP_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}")


def _copy_to(fd: int, dest: str, mode: int) -> None:
    """Copy the unnamed file's bytes to a new file ``dest`` (the last resort: the named file
    exists only while it is copied)."""
    out = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            view = memoryview(block)
            while view:
                view = view[os.write(out, view) :]
        os.fchmod(out, mode)
    finally:
        os.close(out)


# -- elsewhere: a named temporary file, removed on error and on SIGTERM / SIGHUP ------------------
def _write_named(
    directory: str, target: str, text: str | Iterable[str], mode: int, shown: str, pending: list[str]
) -> None:
    tmp = ""
    try:
        for _ in range(100):
            tmp = _temp_name(directory)
            pending.append(tmp)  # before it exists: a signal at any point finds it
            try:
                fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
                break
            except FileExistsError:
                pending.remove(tmp)
        else:  # pragma: no cover - 100 random names taken
            raise OSError(errno.EEXIST, "no free temporary name")
    except OSError as e:
        if tmp in pending:
            pending.remove(tmp)
        raise _fail(shown, f"cannot write there: {_reason(e)}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors=ENCODING_ERRORS, newline="") as fh:
            _write_all(fh, text)
        os.chmod(tmp, mode)  # created 0600; give what open() would
        os.replace(tmp, target)
    except OSError as e:
        _unlink(tmp)
        raise _fail(shown, f"cannot write: {_reason(e)}") from None
    except BaseException:
        _unlink(tmp)
        raise
    finally:
        pending.remove(tmp)


class _Terminated(BaseException):
    """SIGTERM or SIGHUP while a file is being written: unwound so that the temp file goes."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextlib.contextmanager
def _cleanup_on_signals() -> Iterator[list[str]]:
    """While the body runs, SIGTERM and SIGHUP unwind it (removing what ``pending`` names) and
    then end the process by that signal, as it would have ended without us."""
    import signal
    import threading

    pending: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield pending
        return
    signums = [
        s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None
    ]
    old: dict[int, Any] = {}

    def handler(signum: int, frame: object) -> None:
        raise _Terminated(signum)

    try:
        for s in signums:
            if signal.getsignal(s) in (signal.SIG_DFL, None):  # a handler set by the caller stays
                old[s] = signal.signal(s, handler)
        yield pending
    except _Terminated as t:
        for s in old:  # a second signal must not cut the clean-up short
            signal.signal(s, signal.SIG_IGN)
        for tmp in pending:
            _unlink(tmp)
        old.clear()
        signal.signal(t.signum, signal.SIG_DFL)
        os.kill(os.getpid(), t.signum)  # die by the signal, as without us
        raise  # pragma: no cover - not reached
    except BaseException:  # Ctrl-C or an error, wherever it struck: nothing is left behind
        for tmp in pending:
            _unlink(tmp)
        raise
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _batched(chunks: Iterable[str], size: int = 1 << 16) -> Iterator[str]:
    """Join small pieces into ~64 KiB writes (and end with a newline)."""
    buf: list[str] = []
    n = 0
    for c in chunks:
        buf.append(c)
        n += len(c)
        if n >= size:
            yield "".join(buf)
            buf, n = [], 0
    buf.append("\n")
    yield "".join(buf)


# -- stdout --------------------------------------------------------------------------------------
def _to_stdout(text: str | Iterable[str]) -> None:
    if isinstance(text, str):
        sys.stdout.write(text)
    else:
        for chunk in _batched(text):
            sys.stdout.write(chunk)
    sys.stdout.flush()


def emit_chunks(chunks: Iterable[str], output: str | None = None) -> None:
    """Like ``emit`` for text made in pieces (ends with a newline); nothing is held whole."""
    if output is not None:
        write_atomic(output, chunks)
    else:
        _to_stdout(chunks)


def emit(text: str, output: str | None = None) -> None:
    """Print ``text`` (ending in a newline), or write it to ``output`` (``-``: stdout)."""
    if not text.endswith("\n"):
        text += "\n"
    if output is not None:
        write_atomic(output, text)
    else:
        _to_stdout(text)


class GuardedStdout:
    """A stand-in for ``sys.stdout`` (see ``guard_stdout``): a closed pipe ends the output
    quietly (``closed_pipe`` is then True), unencodable text is escaped, the rest is passed
    through to the real stream."""

    def __init__(self, stream: Any):
        self.closed_pipe = stream is None  # started with stdout closed (`convcalc ... >&-`)
        self._stream = stream if stream is not None else open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115

    def write(self, text: str) -> int:
        if self.closed_pipe:
            return len(text)
        try:
            return self._stream.write(text)
        except UnicodeEncodeError:
            enc = getattr(self._stream, "encoding", None) or "utf-8"
            return self._guard(
                lambda: self._stream.write(text.encode(enc, ENCODING_ERRORS).decode(enc)), text
            )
        except OSError as e:
            return self._broken(e, text)

    def _guard(self, write: Any, text: str) -> int:
        try:
            return int(write())
        except OSError as e:
            return self._broken(e, text)

    def flush(self) -> None:
        if self.closed_pipe:
            return
        try:
            self._stream.flush()
        except OSError as e:
            self._broken(e, "")

    def _broken(self, e: OSError, text: str) -> int:
        # EPIPE: the reader is gone (Windows says EINVAL)
        if e.errno != errno.EPIPE and not (os.name == "nt" and e.errno == errno.EINVAL):
            raise e
        self.closed_pipe = True
        _silence(self._stream)
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _silence(stream: Any) -> None:
    """Point the stream's descriptor at /dev/null, so that what is still buffered (flushed at
    exit) goes nowhere instead of raising again."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    with contextlib.suppress(OSError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)


@contextlib.contextmanager
def guard_stdout() -> Iterator[GuardedStdout]:
    """Run the body with ``sys.stdout`` guarded (see GuardedStdout); restored afterwards."""
    real = sys.stdout
    guarded = GuardedStdout(real)
    sys.stdout = guarded
    try:
        yield guarded
    finally:
        if sys.stdout is guarded:
            sys.stdout = real
