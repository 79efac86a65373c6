"""convcalc zoo (the reference model zoo). Placeholder: filled in by issue 5."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    pass
