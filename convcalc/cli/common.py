"""What every command shares: output formats, writing, parsing of CLI-only values, and how a
library error names command-line options."""

from __future__ import annotations

from enum import Enum
from typing import Any

from ..errors import ConvcalcError, GeometryError


class Format(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"
    markdown = "markdown"


FORMAT_HELP = "Output format: table (Rich), json, csv or markdown."
OUTPUT_HELP = "Write to FILE (atomically) instead of stdout."


def json_chunks(obj: Any, level: int = 0):
    """JSON for people and programs, in pieces: the outer two levels indented, anything deeper
    (a layer, a result) compact on one line, lists of numbers (shapes) inline; lists may be
    given as iterators (streamed, never held)."""
    import json

    def compact(v):
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    if isinstance(obj, dict):
        if level >= 2 or not obj:
            yield compact(obj)
            return
        pad = "  " * (level + 1)
        sep = "{\n"
        for k, v in obj.items():
            yield f"{sep}{pad}{compact(k)}: "
            yield from json_chunks(v, level + 1)
            sep = ",\n"
        yield "\n" + "  " * level + "}"
        return
    if isinstance(obj, (list, tuple)) and (
        level >= 2 or all(v is None or isinstance(v, (int, float)) for v in obj)
    ):
        yield compact(list(obj))
        return
    if isinstance(obj, (list, tuple)) or hasattr(obj, "__next__"):
        pad = "  " * (level + 1)
        sep = "[\n"
        for v in obj:
            yield sep + pad
            yield from json_chunks(v, level + 1)
            sep = ",\n"
        yield "[]" if sep == "[\n" else "\n" + "  " * level + "]"
        return
    yield compact(obj)


def render(doc, fmt: Format, output: str | None) -> None:
    """Print or write a Doc in a tabular format."""
    from ..output import emit
    from ..render import doc as d

    if fmt == Format.markdown:
        emit(d.to_markdown(doc), output)
    elif fmt == Format.csv:
        emit(d.to_csv(doc), output)
    elif output:
        import io

        from rich.console import Console

        buf = io.StringIO()
        d.to_rich(doc, Console(file=buf, width=160, color_system=None, force_terminal=False))
        emit(buf.getvalue(), output)
    else:
        import os
        import sys

        from rich.console import Console

        # Piped or redirected: wide enough that no column is cut (or $COLUMNS if set).
        if sys.stdout.isatty():
            console = Console()
        else:
            cols = os.environ.get("COLUMNS", "")
            console = Console(width=int(cols) if cols.isdigit() and int(cols) >= 40 else 200)
        d.to_rich(doc, console)


def emit_json(obj: Any, output: str | None) -> None:
    """Write JSON (see json_chunks), streamed: a report's layers may be an iterator."""
    from ..output import emit_chunks

    emit_chunks(json_chunks(obj), output)


# Library field names -> the options that set them, for messages like
# "--groups 3 must divide --in-channels 16".
def option_namer(name: str, value: Any) -> str:
    shown = "x".join(map(str, value)) if isinstance(value, (tuple, list)) else value
    if name in ("in_channels", "size") or name in _OPTION_FIELDS:
        return f"--{name.replace('_', '-')} {shown}"
    return f"{name.replace('_', ' ')} {shown}"


_OPTION_FIELDS = {
    "out_channels",
    "kernel",
    "stride",
    "padding",
    "dilation",
    "groups",
    "output_padding",
    "multiplier",
    "bottleneck",
    "batch",
}


def cli_error(err: ConvcalcError) -> ConvcalcError:
    """Re-word a library error for the command line (fields become option names)."""
    if isinstance(err, GeometryError):
        return ConvcalcError(err.render(option_namer), field=err.field)
    if err.field and err.message.startswith(f"{err.field}:"):
        opt = "--" + err.field.replace("_", "-")
        return ConvcalcError(opt + err.message[len(err.field) :], field=err.field)
    return err


def parse_size(text: str, option: str = "--size") -> tuple[int, ...]:
    """``224`` / ``224x224`` / ``16x112x112`` -> a tuple of 1 to 3 sizes >= 1."""
    from ..numbers import non_ascii_digit, parse_int

    parts = text.strip().lower().replace("×", "x").split("x")
    try:
        dims = tuple(parse_int(p) for p in parts)
    except ValueError as e:
        if non_ascii_digit(text) or "too long" in str(e):  # the rule for every number: say so
            raise ConvcalcError(f"{option}: {e}") from None
        raise ConvcalcError(f"{option} {text!r}: must be sizes like 224, 224x224 or 16x112x112") from None
    if not 1 <= len(dims) <= 3:
        raise ConvcalcError(f"{option} {text!r}: needs 1 to 3 spatial sizes, got {len(dims)}")
    bad = [d for d in dims if d < 1]
    if bad:
        raise ConvcalcError(f"{option} {text!r}: every size must be >= 1")
    return dims


def check_min(value: int, option: str, minimum: int = 1) -> int:
    if value < minimum:
        raise ConvcalcError(f"{option} {value}: must be >= {minimum}")
    return value
