"""GitHub Actions workflow commands: ``::error file=F,line=L,title=T::message`` per annotation
of the document (``convcalc check``: one per limit), then its closing line. Everything from a
spec is escaped as GitHub documents (``%``, CR and LF in messages; also ``:`` and ``,`` in
properties), so no name can start a line of its own or inject a workflow command."""

from __future__ import annotations

from collections.abc import Iterator

from ..doc import Doc, KeyValue, cell_text, safe
from . import Target

NAME = "github"
HELP = "GitHub Actions annotations"


def escape_data(s: str) -> str:
    """The message of a workflow command: ``%``, CR and LF are escaped."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """A property value (file, title): also ``:`` and ``,``."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def command(kind: str, message: str, file: str | None, line: int | None, title: str) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={line}")
    props.append(f"title={escape_property(title)}")
    return f"::{kind} {','.join(props)}::{escape_data(message)}"


def render(doc: Doc, target: Target) -> Iterator[str]:
    out = []
    if doc.annotations is not None:
        for a in doc.annotations:
            out.append(command(a.level, a.message, a.file, a.line, a.title))
    else:  # any other result: one notice with its title and totals
        facts = [f"{k}: {cell_text(v)}" for s in doc.sections if isinstance(s, KeyValue) for k, v in s.items]
        message = doc.title + (" (" + "; ".join(facts) + ")" if facts else "")
        out.append(command("notice", message, None, None, "convcalc"))
    if doc.closing:
        out.append(safe(doc.closing).replace("::", ": :"))
    yield "\n".join(out) + "\n"
