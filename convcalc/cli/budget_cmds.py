"""convcalc check | diff (budget checks for CI). Placeholder: filled in by issue 4."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
