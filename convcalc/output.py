"""Writing results: to stdout, or atomically to a file (a temp file, then rename), so a run
that fails leaves no partial file behind."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

from .errors import ConvcalcError


def write_atomic(path: str, text) -> None:
    """Write ``text`` (a string, or an iterable of strings) to ``path`` atomically.

    Only a regular file (or a new one) is replaced by rename: ``/dev/stdout``, ``/dev/null``,
    a FIFO or any other special file is written through, and a symlink's target is replaced,
    not the link (a rename over them would put a regular file in their place)."""
    import stat

    try:
        st = os.stat(path)
    except OSError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISDIR(st.st_mode):
            raise ConvcalcError(f"--output {path}: is a directory")
        try:
            with open(path, "w", encoding="utf-8", newline="") as fh:
                if isinstance(text, str):
                    fh.write(text)
                else:
                    for chunk in _batched(text):
                        fh.write(chunk)
        except OSError as e:
            raise ConvcalcError(f"--output {path}: cannot write: {e.strerror or e}") from None
        return
    path = os.path.realpath(path) if st is not None else path  # through a symlink to its file
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".convcalc-", suffix=".tmp", dir=directory)
    except OSError as e:
        raise ConvcalcError(f"--output {path}: cannot write there: {e.strerror or e}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            if isinstance(text, str):
                fh.write(text)
            else:
                for chunk in _batched(text):
                    fh.write(chunk)
        os.chmod(tmp, _mode_for(path))  # mkstemp makes 0600; give what open() would
        os.replace(tmp, path)
    except OSError as e:
        _unlink(tmp)
        raise ConvcalcError(f"--output {path}: cannot write: {e.strerror or e}") from None
    except BaseException:
        _unlink(tmp)
        raise


def _mode_for(path: str) -> int:
    """An existing file keeps its mode; a new one gets 0666 minus the umask."""
    try:
        return os.stat(path).st_mode & 0o7777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _unlink(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _batched(chunks, size: int = 1 << 16):
    """Join small pieces into ~64 KiB writes."""
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


def emit_chunks(chunks, output: str | None = None) -> None:
    """Like ``emit`` for text made in pieces (ends with a newline); nothing is held whole."""
    if output:
        write_atomic(output, chunks)
        return
    for chunk in _batched(chunks):
        sys.stdout.write(chunk)
    sys.stdout.flush()


def emit(text: str, output: str | None = None) -> None:
    """Print ``text`` (ending in a newline), or write it to ``output`` atomically."""
    if not text.endswith("\n"):
        text += "\n"
    if output:
        write_atomic(output, text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
