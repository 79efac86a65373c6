"""Typed exceptions. Every error a user can cause is a ConvcalcError; the CLI turns it
into one line on stderr and exit code 2. Nothing else should reach the user."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class ConvcalcError(Exception):
    """Bad input. ``where`` is a location prefix such as ``net.yaml:12`` (may be empty);
    ``field`` is the offending key/option in library terms (``groups``)."""

    exit_code = 2

    def __init__(self, message: str, *, field: str | None = None, where: str = ""):
        super().__init__(message)
        self.message = message
        self.field = field
        self.where = where

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message

    def located(self, where: str, prefix: str = "") -> ConvcalcError:
        """Return a copy placed at ``where`` (file:line), with ``prefix`` (a spec path)
        prepended to the message, unless it already has a location."""
        if self.where:
            return self
        msg = f"{prefix}: {self.message}" if prefix else self.message
        err = type(self)(msg, field=self.field, where=where)
        err.__cause__ = self
        return err


class GeometryError(ConvcalcError):
    """A layer cannot be applied to its input (groups do not divide channels, output < 1...).

    The message is a template whose ``{name}`` slots are fields with their values, so each
    front end can name them its own way: ``--groups 3`` on the command line, ``groups 3``
    in a spec. ``field`` is the field to blame (its spec line is reported)."""

    def __init__(self, template: str, *, field: str | None = None, where: str = "", **values: Any):
        self.template = template
        self.values = values
        super().__init__(self.render(default_namer), field=field, where=where)

    def render(self, namer: Callable[[str, Any], str]) -> str:
        return self.template.format_map({k: namer(k, v) for k, v in self.values.items()})

    def located(self, where: str, prefix: str = "") -> ConvcalcError:
        if self.where:
            return self
        msg = f"{prefix}: {self.message}" if prefix else self.message
        err = ConvcalcError(msg, field=self.field, where=where)
        err.__cause__ = self
        return err


def default_namer(name: str, value: Any) -> str:
    """How a spec (and the library) names a field in a message: ``groups 3``."""
    label = _SPEC_LABELS.get(name, name)
    return f"{label} {_fmt(value)}"


_SPEC_LABELS = {"in_channels": "input channels", "size": "input size"}


def _fmt(value: Any) -> str:
    if isinstance(value, (tuple, list)):
        return "x".join(str(v) for v in value)
    return str(value)


class SpecError(ConvcalcError):
    """A network spec is malformed: unknown key/type, wrong value type, bad YAML."""


class LimitError(ConvcalcError):
    """A spec exceeds a safety limit (expanded layer count, nesting depth, file size)."""


class BudgetInputError(ConvcalcError):
    """A budget limit or baseline cannot be read (``--max-macs lots``)."""
