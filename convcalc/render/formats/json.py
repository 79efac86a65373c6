"""JSON: the document's ``data``, two levels indented and anything deeper on one line, so a
report reads one layer a line. Lists may be iterators: a million-layer report streams."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from ..doc import Doc
from . import Target

NAME = "json"
HELP = "JSON for programs"


def render(doc: Doc, target: Target) -> Iterator[str]:
    yield from json_chunks(doc.data)


def _compact(v: Any) -> str:
    return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))


def json_chunks(obj: Any, level: int = 0) -> Iterator[str]:
    """``obj`` as JSON text in pieces; lists may be given as iterators (streamed, never held)."""
    if isinstance(obj, dict):
        if level >= 2 or not obj:
            yield _compact(obj)
            return
        pad = "  " * (level + 1)
        sep = "{\n"
        for k, v in obj.items():
            yield f"{sep}{pad}{_compact(k)}: "
            yield from json_chunks(v, level + 1)
            sep = ",\n"
        yield "\n" + "  " * level + "}"
        return
    if isinstance(obj, (list, tuple)) and (
        level >= 2 or all(v is None or isinstance(v, (int, float)) for v in obj)
    ):
        yield _compact(list(obj))
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
    yield _compact(obj)
