"""The shared document model: what a command says, independent of how it is shown.

Every command builds one ``Doc``: sections (tables, key/value blocks, notes, charts, a graph)
for people, ``data`` (JSON-ready, lists may be lazy iterators) for programs, and optionally
``annotations`` (CI messages pointing at spec lines). The output formats in
``convcalc.render.formats`` render a ``Doc``; no command knows which format is asked.

Cells are plain values (ints, strings, shapes as tuples, None) or small semantic types
(``Name`` for tree rows, ``Bar``, ``Pct``, ``Delta``, ``Mark``): each format decides how they
read (colours in a terminal, emoji in Markdown, plain numbers in CSV). Pure: no I/O.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

# Records without the cost of ``dataclasses`` at start-up (a one-off JSON query must start as
# fast as Typer allows; generating a dozen dataclasses took ~6 ms): ``record`` gives a class an
# ``__init__`` from its annotated fields and defaults, an ``__eq__`` and a ``__repr__``.
_T = TypeVar("_T")


class _Factory:
    __slots__ = ("make",)

    def __init__(self, make: Callable[[], Any]):
        self.make = make


def field(*, default_factory: Callable[[], Any]) -> Any:
    return _Factory(default_factory)


def _record(cls: type[_T]) -> type[_T]:
    names = [n for n in cls.__dict__.get("__annotations__", {}) if not n.startswith("_")]  # noqa: RUF063
    defaults = {n: cls.__dict__[n] for n in names if n in cls.__dict__}
    post = getattr(cls, "__post_init__", None)

    def __init__(self: Any, *args: Any, **kw: Any) -> None:
        if len(args) > len(names):
            raise TypeError(f"{cls.__name__}() takes {len(names)} arguments")
        values = dict(zip(names, args))
        for k, v in kw.items():
            if k not in names or k in values:
                raise TypeError(f"{cls.__name__}(): unexpected or repeated argument {k!r}")
            values[k] = v
        for n in names:
            if n in values:
                v = values[n]
            elif n in defaults:
                d = defaults[n]
                v = d.make() if isinstance(d, _Factory) else d
            else:
                raise TypeError(f"{cls.__name__}() missing argument {n!r}")
            object.__setattr__(self, n, v)
        if post is not None:
            post(self)

    def __eq__(self: Any, other: object) -> bool:
        return type(other) is type(self) and all(getattr(self, n) == getattr(other, n) for n in names)

    def __repr__(self: Any) -> str:
        return f"{cls.__name__}(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in names) + ")"

    cls.__init__ = __init__  # type: ignore[method-assign]
    cls.__eq__ = __eq__  # type: ignore[method-assign]
    cls.__hash__ = None  # type: ignore[assignment]
    cls.__repr__ = __repr__  # type: ignore[method-assign]
    return cls


if TYPE_CHECKING:
    from dataclasses import dataclass as record
else:

    def record(*args: Any, **kw: Any) -> Any:
        if args and isinstance(args[0], type):
            return _record(args[0])
        return _record

# -- cells -------------------------------------------------------------------------------------


@record(frozen=True)
class Bar:
    """A share (0..1): a bar and a percentage in a terminal, a number in CSV."""

    share: float


@record(frozen=True)
class Pct:
    """A percentage (a float, or None for n/a); ``signed`` shows the + of a growth."""

    value: float | None
    signed: bool = False


@record(frozen=True)
class Delta:
    """A signed integer change: red when it grows, green when it shrinks (in colour)."""

    value: int


@record(frozen=True)
class Seconds:
    """A time in seconds (an estimate, exact or a float): ``4.213 ms`` in tables (4 significant
    digits, the unit chosen to show it), seconds in CSV; ``signed`` shows the + of a growth."""

    value: Any
    signed: bool = False


@record(frozen=True)
class Mark:
    """A verdict or status word with a tone: ``good``, ``bad``, ``info`` or ``dim``.

    ``text`` is what tables show; ``symbol`` (an emoji) prefixes it in Markdown; ``plain``, when
    given, is what CSV holds (``pass``, ``added``)."""

    text: str
    tone: str = "info"
    symbol: str = ""
    plain: str = ""


@record(frozen=True)
class Name:
    """The first cell of a tree row: ``text`` at nesting ``depth`` (tables draw guides).

    ``kind``: ``layer``, ``part`` (of a composite layer), ``block`` (a row with the subtotals of
    the rows under it), ``more`` (the rows not shown, summed) or ``total``. ``full`` is the
    whole name (CSV, JSON); ``text`` may be a shorter name relative to the enclosing block."""

    text: str
    depth: int = 0
    kind: str = "layer"
    label: str | None = None
    full: str = ""

    @property
    def whole(self) -> str:
        return self.full or self.text


# -- columns -----------------------------------------------------------------------------------


@record
class Column:
    """A table column. ``key``: its machine name (CSV header, the JSON key of the same value);
    ``header``: what people read. A ``numeric`` column is right-aligned and never cut: when a
    table does not fit, ``optional`` columns are dropped first (highest ``drop`` first), then
    numbers are shortened to units (``4.09G``). ``unit`` "B" shortens to KiB/MiB/GiB."""

    header: str
    key: str
    numeric: bool = False
    optional: bool = False
    drop: int = 0
    unit: str = ""
    wrap: bool = False  # long text that wraps over lines (names are shortened instead)


# One vocabulary for every command: the same quantity has the same header and key everywhere.
_VOCAB: dict[str, tuple[str, bool]] = {
    "name": ("layer", False),
    "label": ("label", False),
    "type": ("type", False),
    "input_shape": ("input", False),
    "output_shape": ("output", False),
    "weight_shape": ("weight", False),
    "params": ("params", True),
    "macs": ("MACs", True),
    "flops": ("FLOPs", True),
    "activations": ("activations", True),
    "receptive_field": ("receptive field", False),
    "macs_share": ("MACs share", True),
    "memory": ("memory", True),
    "spec": ("spec", False),
    "network": ("network", False),
    "bytes_read": ("bytes read", True),
    "bytes_written": ("bytes written", True),
    "memory_traffic": ("traffic", True),
    "arithmetic_intensity": ("FLOP/byte", True),
    "latency_s": ("latency", True),
    "bound": ("bound", False),
}


def col(key: str, header: str | None = None, *, optional: bool = False, drop: int = 0, **kw: Any) -> Column:
    """A column of the shared vocabulary (or a new one when ``key`` is not in it)."""
    head, numeric = _VOCAB.get(key, (key.replace("_", " "), False))
    return Column(
        header if header is not None else head,
        key,
        numeric=kw.pop("numeric", numeric),
        optional=optional,
        drop=drop,
        **kw,
    )


# -- sections ----------------------------------------------------------------------------------

Rows = list[list[Any]]


@record
class Table:
    """A table. ``rows`` holds every row (a list, or a callable giving an iterator, so a CSV of
    a million layers streams); ``view``, when given, is what a terminal shows instead: a bounded
    selection (``view()`` -> (rows, caption)), e.g. a tree with collapsed blocks."""

    title: str
    columns: list[Column]
    rows: Rows | Callable[[], Iterable[list[Any]]] = field(default_factory=list)
    footer: Rows = field(default_factory=list)
    caption: str = ""
    view: Callable[[], tuple[Rows, str]] | None = None
    chosen: bool = False  # the columns were chosen by the user (--columns): none is dropped

    def __post_init__(self) -> None:
        self.columns = [c if isinstance(c, Column) else col(c) for c in self.columns]

    def iter_rows(self) -> Iterator[list[Any]]:
        rows = self.rows
        yield from (rows() if callable(rows) else rows)

    def shown(self) -> tuple[Rows, str]:
        """(rows, caption) as a bounded view shows them."""
        if self.view is not None:
            rows, caption = self.view()
            return rows, " ".join(x for x in (caption, self.caption) if x)
        return list(self.iter_rows()), self.caption


@record
class KeyValue:
    title: str
    items: list[tuple[str, Any]]


@record
class Note:
    """Lines of text; ``code`` lines (formulas) keep their layout; ``tone`` as in ``Mark``."""

    lines: list[str]
    title: str = ""
    tone: str = "dim"
    code: bool = False


@record
class Chart:
    """Series of numbers (for HTML charts): ``kind`` "bar" (one bar per label) or "line"
    (``labels`` are x values). ``series``: name -> values. Text formats skip charts."""

    title: str
    kind: str
    labels: list[str]
    series: dict[str, list[int]]
    x_title: str = ""


@record(frozen=True)
class GraphNode:
    """A node of a network drawing: an id, the ids it reads, and what to print on it."""

    id: str
    inputs: tuple[str, ...]
    title: str
    detail: str = ""
    kind: str = "layer"  # layer | merge | input | output


@record
class Graph:
    """The network as nodes and edges (HTML draws it); built lazily by ``nodes()``."""

    title: str
    nodes: Callable[[], list[GraphNode]]


@record
class Lazy:
    """A section built only by the formats that show it (HTML's charts of a big report)."""

    build: Callable[[], Table | KeyValue | Note | Chart | Graph]


Section = Table | KeyValue | Note | Chart | Graph | Lazy


@record(frozen=True)
class Annotation:
    """A CI message about a spec (GitHub's ``::error file=,line=,title=::message``)."""

    level: str  # error | warning | notice
    message: str
    title: str
    file: str | None = None
    line: int | None = None


@record
class Doc:
    """One command's result. ``status`` (True/False/None) is a pass/fail verdict shown first."""

    title: str = ""
    sections: list[Section] = field(default_factory=list)
    data: Any = None
    primary: Table | None = None
    status: bool | None = None
    annotations: list[Annotation] | None = None
    closing: str = ""  # a last plain line (GitHub: the headline after the annotations)

    def add(self, section: Section, primary: bool = False) -> Section:
        self.sections.append(section)
        if primary and isinstance(section, Table):
            self.primary = section
        return section

    def tables(self) -> list[Table]:
        return [s for s in self.sections if isinstance(s, Table)]


# -- text helpers shared by the formats --------------------------------------------------------

_BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _unsafe(c: str) -> bool:
    return c in _BIDI or unicodedata.category(c) in ("Cc", "Zl", "Zp") or c == "\ufeff"


def safe(s: str, keep: str = "") -> str:
    """``s`` with control, line-separator and bidi-override characters escaped (``\\x1b``,
    ``\\u202e``), so no name can move the cursor, recolour a terminal or reorder a line.
    Characters in ``keep`` (CSV keeps newlines, which its quoting carries) stay as they are."""
    if s.isprintable() and not any(c in _BIDI for c in s):
        return s
    out = []
    for c in s:
        if c in keep or not _unsafe(c):
            out.append(c)
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
    return "".join(out)


def shape_text(shape: Any) -> str:
    return "x".join(str(x) for x in shape) if shape else "-"


def name_text(n: Name) -> str:
    return n.text + (f" ({n.label})" if n.label else "")


def cell_text(v: Any, csv: bool = False) -> str:
    """A cell as plain text; ``csv``: numbers without grouping, shares as fractions."""
    if v is None:
        return "" if csv else "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return str(v) if csv else f"{v:,}"
    if isinstance(v, float):
        return repr(v) if csv else f"{v:,.4g}"
    if isinstance(v, tuple):
        return shape_text(v)
    if isinstance(v, Name):
        return v.whole if csv else name_text(v)
    if isinstance(v, Bar):
        return f"{v.share:.6f}" if csv else f"{100 * v.share:.1f}%"
    if isinstance(v, Pct):
        if v.value is None:
            return "" if csv else "n/a"
        return f"{v.value:.4f}" if csv else (f"{v.value:+,.2f}%" if v.signed else f"{v.value:,.2f}%")
    if isinstance(v, Delta):
        return str(v.value) if csv else ("0" if v.value == 0 else f"{v.value:+,}")
    if isinstance(v, Seconds):
        if v.value is None:
            return "" if csv else "-"
        return repr(float(v.value)) if csv else seconds_text(v.value, v.signed)
    if isinstance(v, Mark):
        return (v.plain or v.text) if csv else v.text
    return str(v)


_TIME_UNITS = (("s", 1), ("ms", 10**3), ("µs", 10**6), ("ns", 10**9))


def seconds_text(value: Any, signed: bool = False, digits: int = 4) -> str:
    """A time for people: ``4.213 ms``, ``812.5 µs``, ``+1.5 ms`` (``digits`` significant
    digits, the largest unit that shows it as at least 1)."""
    x = float(value)
    if x == 0:
        return "0 s"
    a = abs(x)
    unit, scale = _TIME_UNITS[-1]
    for u, k in _TIME_UNITS:
        if a * k >= 1:
            unit, scale = u, k
            break
    v = x * scale
    sign = "+" if signed else ""
    text = f"{v:{sign},.0f}" if abs(v) >= 10**digits else f"{v:{sign}.{digits}g}"
    return f"{text} {unit}"


def bar_text(share: float, width: int = 12) -> str:
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")


def human(n: int, unit: str = "") -> str:
    """Exact-enough short form (``4.09G``) of an integer; see ``convcalc.numbers.human``."""
    from ..numbers import human as h

    return h(n, unit)
