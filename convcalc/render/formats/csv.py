"""CSV (RFC 4180, quoted where needed): the document's primary table, every row (streamed),
headers are the columns' keys (the JSON keys of the same values). Names keep their commas,
quotes and newlines (quoted); other control and bidi characters are escaped."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from ..doc import Doc, Table, cell_text, safe
from . import Target

NAME = "csv"
HELP = "CSV, one table"


def render(doc: Doc, target: Target) -> Iterator[str]:
    table = doc.primary
    if table is None:
        return
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    w.writerow([c.key for c in table.columns])
    for n, row in enumerate(_rows(table), 1):
        w.writerow([safe(cell_text(v, csv=True), keep="\n\r\t") for v in row])
        if n % 512 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def _rows(table: Table) -> Iterator[list[Any]]:
    yield from table.iter_rows()
    yield from table.footer
