"""The output formats: one module each, behind one small interface.

A format module defines ``NAME``, ``HELP`` and ``render(doc, target) -> Iterator[str]``, which
turns a ``convcalc.render.doc.Doc`` into text (pieces, so big outputs stream). Commands build a
``Doc`` and call ``emit``; none of them knows which format was asked. Adding a format is adding
its module and its line in ``_MODULES``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from ..doc import record

if TYPE_CHECKING:
    from ..doc import Doc

# name -> module of this package (the order is the order of --help)
_MODULES = {
    "table": "table",
    "json": "json",
    "csv": "csv",
    "markdown": "markdown",
    "html": "html",
    "github": "github",
}
NAMES: tuple[str, ...] = tuple(_MODULES)


class Format(str, Enum):
    """The --format choices of every command (Typer needs an Enum): the modules above."""

    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"
    html = "html"
    github = "github"


assert tuple(f.value for f in Format) == NAMES, "Format and _MODULES list the same formats"

FORMAT_HELP = (
    "Output format: table (a terminal), json, csv, markdown (a pull-request comment), "
    "html (one self-contained page) or github (GitHub Actions annotations)."
)


@record(frozen=True)
class Target:
    """Where the output goes. ``width``: the columns a table may use (None: any, as in a file
    or a pipe without $COLUMNS). ``wide``: every column, exact numbers, whatever the width.
    ``columns``: the keys of the primary table's columns to show (--columns)."""

    width: int | None = None
    color: bool = False
    color_system: str | None = None
    wide: bool = False
    columns: tuple[str, ...] | None = None


class OutputFormat(Protocol):
    NAME: str
    HELP: str

    def render(self, doc: Doc, target: Target) -> Iterator[str]: ...


def get(name: str) -> OutputFormat:
    """The format module called ``name`` (a ``Format`` member or its value)."""
    key = getattr(name, "value", name)
    module: Any = importlib.import_module(f".{_MODULES[key]}", __name__)
    return module  # a module with NAME, HELP and render: an OutputFormat


def target_for(output: str | None, wide: bool = False, columns: str | None = None) -> Target:
    """The target of a run: a file (unbounded), a terminal (its width, colour) or a pipe
    ($COLUMNS when set, else unbounded)."""
    keys = parse_columns(columns)
    if output and output != "-":
        return Target(None, False, None, wide, keys)
    stream = sys.stdout
    isatty = False
    with contextlib.suppress(AttributeError, ValueError):
        isatty = stream.isatty()
    cols = os.environ.get("COLUMNS", "")
    env_width = int(cols) if cols.isdecimal() and cols.isascii() and int(cols) >= 20 else None
    if isatty:
        import shutil

        width = env_width or shutil.get_terminal_size((80, 24)).columns
        color = "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"
        return Target(width, color, "auto" if color else None, wide, keys)
    return Target(env_width, False, None, wide, keys)


def parse_columns(text: str | None) -> tuple[str, ...] | None:
    if text is None:
        return None
    keys = tuple(k.strip() for k in text.split(",") if k.strip())
    if not keys:
        from ...errors import ConvcalcError

        raise ConvcalcError(f"--columns {text!r}: name at least one column")
    return keys


def select_columns(doc: Doc, keys: tuple[str, ...]) -> None:
    """Keep only the columns ``keys`` (in that order) of the document's primary table."""
    from ...errors import ConvcalcError

    table = doc.primary
    if table is None:
        raise ConvcalcError("--columns: this output has no table")
    have = [c.key for c in table.columns]
    unknown = [k for k in keys if k not in have]
    if unknown:
        raise ConvcalcError(f"--columns: no column {unknown[0]!r} here; the columns are {', '.join(have)}")
    idx = [have.index(k) for k in keys]
    rows, view = table.rows, table.view
    table.columns = [table.columns[i] for i in idx]

    def pick(row: list) -> list:
        return [row[i] for i in idx]

    if callable(rows):
        table.rows = lambda: (pick(r) for r in rows())
    else:
        table.rows = [pick(r) for r in rows]
    table.footer = [pick(r) for r in table.footer]
    if view is not None:

        def picked_view() -> tuple[list[list], str]:
            shown, caption = view()
            return [pick(r) for r in shown], caption

        table.view = picked_view
    table.chosen = True


def render(doc: Doc, fmt: str, target: Target) -> Iterator[str]:
    if target.columns is not None:
        select_columns(doc, target.columns)
    return get(fmt).render(doc, target)


def emit(doc: Doc, fmt: str, output: str | None, wide: bool = False, columns: str | None = None) -> None:
    """Render ``doc`` as ``fmt`` to stdout or to the file ``output`` (written atomically)."""
    from ...output import emit_chunks

    target = target_for(output, wide, columns)
    chunks = render(doc, fmt, target)
    emit_chunks(_ending(chunks), output)


def _ending(chunks: Iterator[str]) -> Iterator[str]:
    """The pieces without a final newline (emit_chunks adds one)."""
    held = ""
    for c in chunks:
        if not c:
            continue
        if held:
            yield held
        held = c
    yield held.rstrip("\n")
