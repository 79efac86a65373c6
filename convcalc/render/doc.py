"""A small document model (tables, key/value blocks, notes) and its renderers.

Every command builds one ``Doc``; ``table`` (Rich), ``markdown`` and ``csv`` render that same
document, so the formats always hold the same rows. CSV holds only the document's primary
table (a CSV file is one table). JSON does not go through here: commands export dicts.
"""

from __future__ import annotations

import io
from typing import Any


class Bar:
    """A share (0..1) shown as a bar in tables and as a number in CSV."""

    __slots__ = ("share",)

    def __init__(self, share: float):
        self.share = share


class Pct:
    """A percentage cell (a float, or None for n/a)."""

    __slots__ = ("value", "signed")

    def __init__(self, value: float | None, signed: bool = False):
        self.value = value
        self.signed = signed


class Styled:
    """A cell with a Rich style (green/red verdicts); plain text elsewhere."""

    __slots__ = ("text", "style")

    def __init__(self, text: str, style: str):
        self.text = text
        self.style = style


class Table:
    def __init__(
        self,
        title: str,
        columns: list[str],
        rows: list[list[Any]] | None = None,
        right: set[int] | None = None,
        footer: list[list[Any]] | None = None,
        indent_col: int | None = None,
        caption: str = "",
    ):
        self.title = title
        self.columns = columns
        self.rows = rows if rows is not None else []
        self.footer = footer or []  # totals rows: bold in Rich, kept in CSV and Markdown
        self.right = right if right is not None else set()
        self.indent_col = indent_col
        self.caption = caption


class KeyValue:
    def __init__(self, title: str, items: list[tuple[str, Any]]):
        self.title = title
        self.items = items


class Note:
    """Lines of text; ``code`` lines (formulas) keep their layout in Markdown."""

    def __init__(self, lines: list[str], title: str = "", style: str = "dim", code: bool = False):
        self.lines = lines
        self.title = title
        self.style = style
        self.code = code


class Doc:
    def __init__(self, title: str = ""):
        self.title = title
        self.sections: list = []
        self.primary: Table | None = None

    def add(self, section, primary: bool = False):
        self.sections.append(section)
        if primary:
            self.primary = section
        return section


# -- cell formatting -------------------------------------------------------------------------
def shape_text(shape) -> str:
    return "x".join(str(x) for x in shape) if shape else "-"


def cell_text(v: Any, csv: bool = False) -> str:
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
    if isinstance(v, Bar):
        return f"{v.share:.6f}" if csv else f"{100 * v.share:5.1f}%"
    if isinstance(v, Pct):
        if v.value is None:
            return "" if csv else "n/a"
        return f"{v.value:.4f}" if csv else (f"{v.value:+.2f}%" if v.signed else f"{v.value:.2f}%")
    if isinstance(v, Styled):
        return v.text
    return str(v)


def bar_text(share: float, width: int = 12) -> str:
    eighths = round(max(0.0, min(1.0, share)) * width * 8)
    full, rest = divmod(eighths, 8)
    return "█" * full + ("▏▎▍▌▋▊▉"[rest - 1] if rest else "")


# -- markdown --------------------------------------------------------------------------------
def _md_escape(s: str) -> str:
    return s.replace("|", "\\|")


def to_markdown(doc: Doc) -> str:
    out: list[str] = []
    if doc.title:
        out += [f"## {doc.title}", ""]
    for sec in doc.sections:
        if isinstance(sec, Table):
            if sec.title:
                out += [f"### {sec.title}", ""]
            out.append("| " + " | ".join(_md_escape(c) for c in sec.columns) + " |")
            out.append(
                "|" + "|".join("---:" if i in sec.right else "---" for i in range(len(sec.columns))) + "|"
            )
            for row in sec.rows:
                out.append(
                    "| " + " | ".join(_md_cell(v, i == sec.indent_col) for i, v in enumerate(row)) + " |"
                )
            for row in sec.footer:
                out.append(
                    "| "
                    + " | ".join(f"**{_md_cell(v)}**" if cell_text(v) not in ("", "-") else "" for v in row)
                    + " |"
                )
            if sec.caption:
                out += ["", sec.caption]
            out.append("")
        elif isinstance(sec, KeyValue):
            if sec.title:
                out += [f"### {sec.title}", ""]
            out += ["| | |", "|---|---:|"]
            out += [f"| {_md_escape(k)} | {_md_cell(v)} |" for k, v in sec.items]
            out.append("")
        else:
            if sec.title:
                out += [f"### {sec.title}", ""]
            if sec.code:
                out += ["```"] + sec.lines + ["```"]
            else:
                out += [f"- {_md_escape(x)}" for x in sec.lines]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def _md_cell(v: Any, indent: bool = False) -> str:
    if isinstance(v, Bar):
        return f"{100 * v.share:.1f}% {bar_text(v.share, 8)}"
    text = _md_escape(cell_text(v))
    if indent:
        stripped = text.lstrip(" ")
        depth = (len(text) - len(stripped)) // 2
        return "&nbsp;&nbsp;" * depth + stripped
    return text


# -- csv ---------------------------------------------------------------------------------------
def to_csv(doc: Doc) -> str:
    import csv

    table = doc.primary
    buf = io.StringIO()
    if table is None:
        return ""
    w = csv.writer(buf, lineterminator="\n")
    w.writerow([_csv_header(c) for c in table.columns])
    for row in table.rows + table.footer:
        w.writerow([cell_text(v, csv=True).strip() for v in row])
    return buf.getvalue()


def _csv_header(name: str) -> str:
    return name.lower().replace(" ", "_").replace("%", "pct").replace("/", "_")


# -- rich ----------------------------------------------------------------------------------------
def to_rich(doc: Doc, console) -> None:
    from rich import box
    from rich.table import Table as RTable
    from rich.text import Text

    if doc.title:
        console.print(Text(doc.title, style="bold"))
    for sec in doc.sections:
        if isinstance(sec, Table):
            t = RTable(
                title=sec.title or None,
                box=box.SIMPLE_HEAD,
                title_justify="left",
                title_style="bold",
                caption=sec.caption or None,
                caption_justify="left",
                show_footer=False,
                pad_edge=False,
            )
            for i, c in enumerate(sec.columns):
                t.add_column(c, justify="right" if i in sec.right else "left", no_wrap=(i != sec.indent_col))
            for row in sec.rows:
                t.add_row(*[_rich_cell(v) for v in row])
            if sec.footer:
                t.add_section()
                for row in sec.footer:
                    t.add_row(*[_rich_cell(v) for v in row], style="bold")
            console.print(t)
        elif isinstance(sec, KeyValue):
            t = RTable(
                title=sec.title or None,
                box=box.SIMPLE,
                show_header=False,
                title_justify="left",
                title_style="bold",
                pad_edge=False,
            )
            t.add_column(style="cyan")
            t.add_column(justify="right")
            for k, v in sec.items:
                t.add_row(k, _rich_cell(v))
            console.print(t)
        else:
            if sec.title:
                console.print(Text(sec.title, style="bold"))
            for line in sec.lines:
                console.print(Text(line, style=sec.style))
            console.print()


def _rich_cell(v: Any):
    from rich.text import Text

    if isinstance(v, Bar):
        return Text(f"{bar_text(v.share)} {100 * v.share:4.1f}%", style="magenta")
    if isinstance(v, Styled):
        return Text(v.text, style=v.style)
    return Text(cell_text(v))
