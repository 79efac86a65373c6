"""Tables for a terminal (or a pipe, or a file): every number whole, at any width.

When a table is wider than the target, in this order: names (and other long text) are
shortened in the middle (``stage2…conv2``) or wrapped, optional columns are dropped (a note
names them and the options that bring them back), and only then are numbers shown with units
(``4.09G``, also said in a note). A number is never cut. With no width (a file, ``--wide``)
everything is shown at its natural width. Trees are drawn with guides (``├─``, ``└─``).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Iterator
from typing import Any

from ..doc import (
    Bar,
    Column,
    Delta,
    Doc,
    KeyValue,
    Mark,
    Name,
    Note,
    Seconds,
    Table,
    bar_text,
    cell_text,
    human,
    name_text,
    record,
    safe,
)
from . import Target

NAME = "table"
HELP = "a table for a terminal"

GAP = 2  # spaces between columns
NAME_MIN = 10  # a shortened name keeps at least this many characters
SOFT_MIN = 26  # ... and this many while there are optional columns left to drop
WRAP_MIN = 18
_TONE = {"good": "green", "bad": "bold red", "warn": "yellow", "info": "", "dim": "dim"}


def render(doc: Doc, target: Target) -> Iterator[str]:
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(
        file=buf,
        width=100_000,
        force_terminal=target.color,
        color_system="auto" if target.color else None,
        no_color=not target.color,
        highlight=False,
        markup=False,
        emoji=False,
        legacy_windows=False,
        force_jupyter=False,
        force_interactive=False,
    )
    width = None if target.wide else target.width

    def line(text: Text | str, style: str = "") -> None:
        t = text if isinstance(text, Text) else Text(text, style=style)
        console.print(t, crop=False, soft_wrap=True)

    def prose(text: str, style: str = "") -> None:
        """A sentence, wrapped between words (never inside one) to the width."""
        for piece in wrap_words(text, width):
            line(piece, style)

    def take() -> str:
        s = buf.getvalue()
        buf.seek(0)
        buf.truncate()
        return s

    if doc.title:
        tone = "" if doc.status is None else ("good" if doc.status else "bad")
        prose(safe(doc.title), "bold " + _TONE[tone] if tone else "bold")
        line("")
    for sec in doc.sections:
        if isinstance(sec, Table):
            for text in table_lines(sec, width, target):
                if isinstance(text, str):
                    prose(text, "dim")
                else:
                    line(text)
            line("")
        elif isinstance(sec, KeyValue):
            if sec.title:
                line(safe(sec.title), "bold")
            rows = [(safe(k), safe(cell_text(v))) for k, v in sec.items]
            kw = max((len(k) for k, _ in rows), default=0)
            for k, v in rows:
                # a long value wraps between words, under its column
                room = None if width is None else max(width - kw - 2, WRAP_MIN)
                pieces = wrap_words(v, room)
                t = Text()
                t.append(k.ljust(kw), style="cyan")
                t.append("  " + pieces[0])
                line(t)
                for piece in pieces[1:]:
                    line(" " * (kw + 2) + piece)
            line("")
        elif isinstance(sec, Note):
            if sec.title:
                line(safe(sec.title), "bold")
            for ln in sec.lines:
                if sec.code:
                    for piece in wrap_terms(safe(ln), width):
                        line(piece, _TONE.get(sec.tone, ""))
                else:
                    prose(safe(ln), _TONE.get(sec.tone, ""))
            line("")
        yield take()  # charts and graphs: HTML only
    yield take()


# -- layout ------------------------------------------------------------------------------------


@record
class Layout:
    keep: list[int]
    short: bool
    widths: dict[int, int]  # column -> width
    dropped: list[Column]
    fits: bool
    wrap: frozenset[int] = frozenset()  # text columns wrapped at spaces (the last resort)


def table_lines(
    table: Table, width: int | None, target: Target | None = None, index: list[int] | None = None
) -> list[Any]:
    """The table as Rich ``Text`` lines (title, header, rule, rows, footer) and its notes as
    strings. ``index``, when given, receives the line number of each row's first line."""
    from rich.text import Text

    rows, caption = table.shown()
    cols = table.columns
    guides = tree_guides(rows) if rows and any(isinstance(r[0], Name) for r in rows) else None
    chosen = table.chosen
    lay = fit(table, rows, guides, width, allow_drop=not chosen)
    out: list[Any] = []
    if table.title:
        out.append(Text(safe(table.title), style="bold"))
    heads = {i: safe(cols[i].header) for i in lay.keep}
    cells = [_row_cells(r, cols, lay, guides[n] if guides else "") for n, r in enumerate(rows)]
    foot = [_row_cells(r, cols, lay, "") for r in table.footer]

    def join(parts: dict[int, list[tuple[str, str]]], bold: bool = False) -> list[Any]:
        height = max((len(p) for p in parts.values()), default=1)
        lines = []
        for k in range(height):
            t = Text(style="bold" if bold else "")
            for j, i in enumerate(lay.keep):
                piece = parts[i][k] if k < len(parts[i]) else ("", "")
                text, style = piece
                w = lay.widths[i]
                pad = " " * max(0, w - _len(text))
                if j:
                    t.append(" " * GAP)
                if cols[i].numeric:
                    t.append(pad)
                    t.append(text, style=style)
                elif j < len(lay.keep) - 1:
                    t.append(text, style=style)
                    t.append(pad)
                else:
                    t.append(text, style=style)
            t.rstrip()
            lines.append(t)
        return lines

    out += join(
        {
            i: [(p, "bold") for p in textwrap.wrap(heads[i], lay.widths[i], break_long_words=False) or [""]]
            if _len(heads[i]) > lay.widths[i]
            else [(heads[i], "bold")]
            for i in lay.keep
        }
    )
    total = sum(lay.widths[i] for i in lay.keep) + GAP * (len(lay.keep) - 1)
    out.append(Text("─" * total, style="dim"))
    for c in cells:
        if index is not None:
            index.append(len(out))
        out += join(c)
    if foot:
        out.append(Text("─" * total, style="dim"))
        for c in foot:
            out += join(c, bold=True)
    notes = [caption] if caption else []
    if lay.dropped:
        names = ", ".join(f"{c.header} ({c.key})" if c.header != c.key else c.header for c in lay.dropped)
        notes.append(
            f"not shown, to fit {width} columns: {names}; --wide shows every column, --columns KEY,... "
            "chooses them"
        )
    if lay.short:
        notes.append(
            f"numbers rounded to fit {width} columns: k = 10^3, M = 10^6, G = 10^9, T = 10^12; "
            "KiB/MiB/GiB for bytes (--wide shows exact counts)"
        )
    out += [safe(n) for n in notes]  # prose: wrapped by the caller
    return out


def _len(s: str) -> int:
    from rich.cells import cell_len

    return cell_len(s)


def fit(
    table: Table, rows: list[list[Any]], guides: list[str] | None, width: int | None, allow_drop: bool = True
) -> Layout:
    """The first layout that fits ``width``: all columns with exact numbers, then dropping
    optional columns one by one, then the same with numbers in units."""
    cols = table.columns
    every = [i for i in range(len(cols)) if not (cols[i].optional and _empty(rows, table.footer, i))]
    order = sorted((i for i in every if cols[i].optional), key=lambda i: (-cols[i].drop, -i))
    if not allow_drop:
        order = []
    nat = {s: _natural(table, rows, guides, s) for s in (False, True)}
    shortable = any(cols[i].numeric for i in every)
    n = len(order)
    # names keep SOFT_MIN characters while optional columns go (exact numbers, then rounded);
    # then names go down to NAME_MIN; at last any text column wraps between its words
    tiers = [(False, k, "soft") for k in range(n + 1)]
    if shortable:
        tiers.append((True, n, "soft"))
    tiers += [(False, n, "hard")] + ([(True, n, "hard")] if shortable else []) + [(shortable, n, "wrap")]
    last = None
    for short, k, tier in tiers:
        gone = set(order[:k])
        keep = [i for i in every if i not in gone]
        floors = dict(nat[short])
        wrap: frozenset[int] = frozenset()
        if tier == "soft":
            floors = {i: (w, max(f, min(w, SOFT_MIN))) for i, (w, f) in floors.items()}
        elif tier == "wrap":
            wrap = frozenset(i for i in keep if _wordy(cols[i], rows, i))
            for i in wrap:
                floors[i] = (floors[i][0], min(floors[i][1], _word_floor(table, rows, i)))
        lay = _try(cols, keep, floors, width, short)
        lay.dropped = [cols[i] for i in order[:k]]
        lay.wrap = wrap
        if lay.fits:
            return lay
        last = lay
    assert last is not None or not every
    if last is None:
        return Layout([], False, {}, [], True)
    return last


def _natural(
    table: Table, rows: list[list[Any]], guides: list[str] | None, short: bool
) -> dict[int, tuple[int, int]]:
    """column -> (natural width, smallest width it may be squeezed to)."""
    out = {}
    for i, c in enumerate(table.columns):
        w = _len(safe(c.header))
        for n, r in enumerate(rows):
            w = max(w, _len(_text(r[i], c, short, guides[n] if guides and i == 0 else "")))
        for r in table.footer:
            w = max(w, _len(_text(r[i], c, short, "")))
        if _squeezable(c, rows, i):
            floor = max(_len(c.header), NAME_MIN if _is_name(rows, i) else WRAP_MIN)
            if guides and i == 0:
                floor += max((len(g) for g in guides), default=0)
            out[i] = (w, min(w, floor))
        else:
            out[i] = (w, w)
    return out


def _wordy(c: Column, rows: list[list[Any]], i: int) -> bool:
    return not c.numeric and not (i == 0 or any(isinstance(r[i], Name) for r in rows[:50]))


def _word_floor(table: Table, rows: list[list[Any]], i: int) -> int:
    c = table.columns[i]
    words = [w for r in rows + table.footer for w in _text(r[i], c, False, "").split()]
    return max([_len(w) for w in words] + [_len(w) for w in c.header.split()] + [1])


def _empty(rows: list[list[Any]], footer: list[list[Any]], i: int) -> bool:
    return all(r[i] is None or r[i] == "" for r in rows) and all(r[i] is None or r[i] == "" for r in footer)


def _is_name(rows: list[list[Any]], i: int) -> bool:
    return i == 0 or any(isinstance(r[i], Name) for r in rows[:50])


def _squeezable(c: Column, rows: list[list[Any]], i: int) -> bool:
    return not c.numeric and (c.wrap or _is_name(rows, i) or c.key in _TEXTY)


_TEXTY = {"spec", "network", "notes", "summary", "keys", "source", "label", "name"}


def _try(
    cols: list[Column], keep: list[int], nat: dict[int, tuple[int, int]], width: int | None, short: bool
) -> Layout:
    widths = {i: nat[i][0] for i in keep}
    if width is None:
        return Layout(keep, short, widths, [], True)
    total = sum(widths.values()) + GAP * (len(keep) - 1)
    excess = total - width
    if excess > 0:
        # squeeze the widest flexible columns first, never below their floor
        wraps = [i for i in keep if cols[i].wrap and nat[i][1] < nat[i][0]]
        for i in wraps:  # long text wraps before names are shortened
            step = min(excess, widths[i] - nat[i][1])
            widths[i] -= step
            excess -= step
        flex = sorted((i for i in keep if nat[i][1] < widths[i]), key=lambda i: -widths[i])
        while excess > 0 and flex:
            flex.sort(key=lambda i: -(widths[i] - nat[i][1]))
            i = flex[0]
            room = widths[i] - nat[i][1]
            if room <= 0:
                break
            # take from the column with the most room, but spread: at most what levels it
            second = widths[flex[1]] - nat[flex[1]][1] if len(flex) > 1 else 0
            step = min(excess, max(1, room - second) if second < room else 1)
            widths[i] -= step
            excess -= step
    return Layout(keep, short, widths, [], excess <= 0)


# -- cells -------------------------------------------------------------------------------------


def _text(v: Any, c: Column, short: bool, guide: str) -> str:
    if isinstance(v, Name):
        return guide + safe(name_text(v))
    if isinstance(v, Bar):
        return f"{bar_text(v.share)} {100 * v.share:5.1f}%"
    if short and c.numeric and isinstance(v, int) and not isinstance(v, bool) and abs(v) >= 1000:
        return human(v, c.unit)
    if short and c.numeric and isinstance(v, Delta) and abs(v.value) >= 1000:
        return ("+" if v.value > 0 else "") + human(v.value, c.unit)
    return safe(cell_text(v))


def _style(v: Any) -> str:
    if isinstance(v, Mark):
        return _TONE.get(v.tone, "")
    if isinstance(v, Delta):
        return "red" if v.value > 0 else ("green" if v.value < 0 else "")
    if isinstance(v, Seconds) and v.signed and v.value:
        return "red" if v.value > 0 else "green"
    if isinstance(v, Bar):
        return "magenta"
    if isinstance(v, Name):
        return {"block": "bold", "more": "italic", "part": "dim", "total": "bold"}.get(v.kind, "")
    return ""


def _row_cells(
    row: list[Any], cols: list[Column], lay: Layout, guide: str
) -> dict[int, list[tuple[str, str]]]:
    out = {}
    for i in lay.keep:
        v = row[i]
        w = lay.widths[i]
        text = _text(v, cols[i], lay.short, guide if i == 0 else "")
        style = _style(v)
        if _len(text) <= w:
            out[i] = [(text, style)]
        elif isinstance(v, Name) or not (_wrappable(cols[i]) or i in lay.wrap):
            g = guide if i == 0 and isinstance(v, Name) else ""
            out[i] = [(g + shorten(text[len(g) :], w - _len(g)), style)]
        else:
            out[i] = [(p, style) for p in textwrap.wrap(text, w, break_long_words=False) or [""]]
    return out


def _wrappable(c: Column) -> bool:
    return bool(c.wrap) or c.key in ("notes", "keys", "summary", "what")


def shorten(s: str, width: int) -> str:
    """``s`` cut in the middle to ``width`` characters: ``stage2.bl…k1.conv2``."""
    if _len(s) <= width:
        return s
    if width <= 1:
        return "…"
    keep = width - 1
    head = (keep + 1) // 2
    tail = keep - head
    return s[:head] + "…" + (s[-tail:] if tail else "")


def tree_guides(rows: list[list[Any]]) -> list[str]:
    """Guide prefixes (``├─``, ``│ └─``) for rows whose first cell is a ``Name`` at a depth."""
    depths = [r[0].depth if isinstance(r[0], Name) else 0 for r in rows]
    n = len(depths)
    last = [True] * n
    seen: dict[int, bool] = {}  # depth -> a later row at this depth comes before a shallower one
    for i in range(n - 1, -1, -1):
        d = depths[i]
        last[i] = not seen.get(d, False)
        seen[d] = True
        for k in [k for k in seen if k > d]:
            seen[k] = False
    out = []
    open_: dict[int, bool] = {}  # depth -> the latest row at that depth has later siblings
    for i, d in enumerate(depths):
        open_[d] = not last[i]
        if d == 0:
            out.append("")
            continue
        prefix = "".join("│ " if open_.get(a, False) else "  " for a in range(1, d))
        out.append(prefix + ("└─" if last[i] else "├─"))
    return out


def wrap_words(text: str, width: int | None) -> list[str]:
    """Prose wrapped at spaces to ``width`` (continuation lines indented); a word longer than
    the width is kept whole, never split."""
    if width is None or _len(text) <= width:
        return [text]
    indent = " " * (len(text) - len(text.lstrip(" ")))
    return textwrap.wrap(
        text,
        width,
        initial_indent="",
        subsequent_indent=indent + "  ",
        break_long_words=False,
        break_on_hyphens=False,
    ) or [text]


OPS = {"=", "+", "-", "x", "*", "/", "×", "·", "->", "<=", ">=", "<", ">", "~"}


def wrap_terms(line: str, width: int | None) -> list[str]:
    """A formula wrapped between terms (before ``=``, ``+``, ``x``, ``*``, ``/``...), never
    inside one; continuation lines are indented."""
    if width is None or _len(line) <= width:
        return [line]
    indent = len(line) - len(line.lstrip(" "))
    terms: list[str] = []
    for w in line.strip(" ").split(" "):
        if terms and w not in OPS:
            terms[-1] += " " + w
        else:
            terms.append(w)
    out: list[str] = []
    pad = " " * (indent + 4)
    cur: list[str] = []  # the terms of the current line
    first = True

    def text(ts: list[str], lead: bool) -> str:
        return (" " * indent if lead else pad) + " ".join(ts)

    for t in terms:
        if cur and _len(text(cur + [t], first)) > width:
            # prefer to break before an "=" of this line (a whole side of the equation per line)
            eqs = [k for k in range(1, len(cur)) if cur[k].startswith("= ")]
            k = eqs[-1] if eqs and _len(text(cur[: eqs[-1]], first)) >= width * 0.4 else len(cur)
            out.append(text(cur[:k], first))
            cur, first = cur[k:], False
        cur.append(t)
    out.append(text(cur, first))
    return out
