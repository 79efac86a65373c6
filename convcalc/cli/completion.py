"""Shell completion (``convcalc --install-completion``): zoo models after ``zoo:`` (anything
else falls back to the shell's file completion), zoo names for ``zoo show``, column keys for
``--columns``, device names for ``--device``. Layer types complete as the commands they are (``convcalc con<TAB>``) and
``--format`` from its choices."""

from __future__ import annotations


def _zoo_names() -> list[str]:
    from ..zoo import names

    return list(names())


def complete_spec(incomplete: str) -> list[str]:
    """``zoo:NAME`` for every zoo model matching; nothing else, so the shell completes files."""
    if not "zoo:".startswith(incomplete[:4]):
        return []
    return [f"zoo:{n}" for n in _zoo_names() if f"zoo:{n}".startswith(incomplete)]


def complete_zoo(incomplete: str) -> list[str]:
    return [n for n in _zoo_names() if n.startswith(incomplete.removeprefix("zoo:"))]


# the column keys of a report's layer table (for --columns)
REPORT_KEYS = (
    "name",
    "label",
    "type",
    "input_shape",
    "output_shape",
    "params",
    "macs",
    "flops",
    "activations",
    "receptive_field",
    "macs_share",
    "bytes_read",
    "bytes_written",
    "memory_traffic",
    "arithmetic_intensity",
    "latency_s",
    "bound",
)


def complete_device(incomplete: str) -> list[str]:
    """Built-in device ids and aliases (anything else: the shell completes a profile file)."""
    from ..devices import builtins

    names = [n for p in builtins() for n in (p.key, *p.aliases)]
    return [n for n in names if n.startswith(incomplete.lower())]


def complete_columns(incomplete: str) -> list[str]:
    """Keys of the report's columns, after the ones already typed (``name,ma<TAB>``)."""
    head, _, last = incomplete.rpartition(",")
    done = set(head.split(",")) if head else set()
    prefix = head + "," if head else ""
    return [prefix + k for k in REPORT_KEYS if k.startswith(last) and k not in done]
