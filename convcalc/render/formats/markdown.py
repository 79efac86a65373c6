"""Markdown (GitHub-flavoured): tables with every row, for a pull-request comment or a wiki.
Names are escaped (``|``, ``<``, backticks, control and bidi characters) so no spec can break
a table or inject markup; a pass/fail document starts with ✅ or ❌."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..doc import Bar, Doc, KeyValue, Mark, Name, Note, Table, bar_text, cell_text, safe
from . import Target

NAME = "markdown"
HELP = "Markdown tables"

_SPECIAL = str.maketrans({c: "\\" + c for c in "\\|`*<"})


def escape(s: str) -> str:
    """Text that reads as itself: no table break, code span, emphasis, HTML tag or link."""
    return safe(s).translate(_SPECIAL).replace("](", "]\\(")


def render(doc: Doc, target: Target) -> Iterator[str]:
    if doc.title:
        mark = "" if doc.status is None else ("✅ " if doc.status else "❌ ")
        yield f"## {mark}{escape(doc.title)}\n\n"
    for sec in doc.sections:
        out: list[str] = []
        if isinstance(sec, Table):
            if sec.title:
                out += [f"### {escape(sec.title)}", ""]
            out.append("| " + " | ".join(escape(c.header) for c in sec.columns) + " |")
            out.append("|" + "|".join("---:" if c.numeric else "---" for c in sec.columns) + "|")
            yield "\n".join(out) + "\n"
            out = []
            for i, row in enumerate(sec.iter_rows()):
                out.append("| " + " | ".join(_cell(v) for v in row) + " |")
                if i % 512 == 511:
                    yield "\n".join(out) + "\n"
                    out = []
            for row in sec.footer:
                out.append(
                    "| "
                    + " | ".join(f"**{_cell(v)}**" if cell_text(v) not in ("", "-") else "" for v in row)
                    + " |"
                )
            if sec.caption:
                out += ["", escape(sec.caption)]
        elif isinstance(sec, KeyValue):
            if sec.title:
                out += [f"### {escape(sec.title)}", ""]
            out += ["| | |", "|---|---:|"]
            out += [f"| {escape(k)} | {_cell(v)} |" for k, v in sec.items]
        elif isinstance(sec, Note):
            if sec.title:
                out += [f"### {escape(sec.title)}", ""]
            if sec.code:
                out += ["```"] + [safe(x).replace("```", "` ` `") for x in sec.lines] + ["```"]
            else:
                out += [f"- {escape(x)}" for x in sec.lines]
        else:
            continue  # charts and graphs: HTML only
        out.append("")
        yield "\n".join(out) + "\n"


def _cell(v: Any) -> str:
    if isinstance(v, Bar):
        return f"{100 * v.share:.1f}% {bar_text(v.share, 8)}"
    if isinstance(v, Mark):
        text = (v.symbol + " " if v.symbol else "") + escape(v.text)
        return f"**{text}**" if v.tone == "bad" else text
    if isinstance(v, Name):
        return "&nbsp;&nbsp;" * v.depth + escape(cell_text(v))
    return escape(cell_text(v))
