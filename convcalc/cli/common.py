"""What every command shares: output formats, writing, parsing of CLI-only values, and how a
library error names command-line options."""

from __future__ import annotations

from enum import Enum
from typing import Any

from ..errors import ConvcalcError, GeometryError
from ..render.formats import FORMAT_HELP, Format  # noqa: F401  (the --format choices)

OUTPUT_HELP = "Write to FILE (atomically) instead of stdout; tables are written whole, at any width."
WIDE_HELP = "Tables: every column and exact numbers, however wide (default: fit the terminal)."
COLUMNS_HELP = (
    "Tables, CSV, Markdown: show only these columns of the main table, in this order (their CSV "
    "names, comma-separated: name,params,macs)."
)
DEVICE_HELP = (
    "Estimate latency on DEVICE: a built-in profile (`convcalc devices` lists them: h100, orin, "
    "rpi5...) or a profile FILE.yaml. Adds latency and bound per layer and in total: a roofline "
    "lower bound, unfused (docs: latency)."
)


def load_device(ref: str | None, dtype: str) -> Any:
    """The profile ``--device`` names (None without one), checked for a peak at ``dtype`` and a
    bandwidth, so a bad pair is one clear error before any work."""
    if ref is None:
        return None
    from ..devices import load_profile
    from ..perf import Perf

    profile = load_profile(ref)
    Perf(dtype, 1, profile)
    return profile


def show(doc: Any, fmt: Any, output: str | None, wide: bool = False, columns: str | None = None) -> None:
    """Render a command's document in the format asked (the one place a format is chosen)."""
    from ..render import formats

    formats.emit(doc, fmt.value if hasattr(fmt, "value") else str(fmt), output, wide, columns)


def render(doc: Any, fmt: Any, output: str | None) -> None:
    """``show`` without --wide/--columns (kept for commands written against it)."""
    show(doc, fmt, output)


def json_chunks(obj: Any, level: int = 0) -> Any:
    """JSON text in pieces (see ``convcalc.render.formats.json``)."""
    from ..render.formats.json import json_chunks as chunks

    return chunks(obj, level)


def emit_json(obj: Any, output: str | None) -> None:
    """Write JSON data (streamed: lists may be iterators)."""
    from ..render.doc import Doc

    show(Doc(data=obj), "json", output)


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


class Dtype(str, Enum):
    """The element types of --dtype (memory, memory traffic and latency figures)."""

    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    int8 = "int8"
    fp64 = "fp64"
