"""Shell completion (``convcalc --install-completion``): zoo models after ``zoo:``, files
otherwise, zoo names for ``zoo show``, column keys for ``--columns``. Layer types complete as
the commands they are (``convcalc con<TAB>``) and ``--format`` from its choices."""

from __future__ import annotations

from typing import Any


def _zoo_names() -> list[str]:
    from ..zoo import names

    return list(names())


def _item(value: str, kind: str = "plain", help: str | None = None) -> Any:
    from typer._click.shell_completion import CompletionItem  # typer's own click (typer < 0.29)

    return CompletionItem(value, type=kind, help=help)


def complete_spec(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """``zoo:NAME`` for every zoo model matching, and the shell's file completion."""
    out = [_item(f"zoo:{n}") for n in _zoo_names() if f"zoo:{n}".startswith(incomplete)]
    if not incomplete.startswith("zoo:"):
        out.append(_item(incomplete, "file"))
    return out


def complete_zoo(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    return [_item(n) for n in _zoo_names() if n.startswith(incomplete.removeprefix("zoo:"))]


# the column keys a table of each command has (for --columns)
_REPORT_KEYS = (
    "name,label,type,input_shape,output_shape,params,macs,flops,activations,receptive_field,macs_share"
)


def complete_columns(ctx: Any, param: Any, incomplete: str) -> list[Any]:
    """Keys of the report's columns, after the ones already typed (``name,ma<TAB>``)."""
    head, _, last = incomplete.rpartition(",")
    done = set(head.split(",")) if head else set()
    prefix = head + "," if head else ""
    return [_item(prefix + k) for k in _REPORT_KEYS.split(",") if k.startswith(last) and k not in done]
