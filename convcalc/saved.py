"""Reports saved by ``convcalc report --format json``, read back: the one validator behind
``check --baseline`` (totals) and ``diff`` (layers and totals). Pure; no I/O.

A saved document is one report (an object with ``totals``, and ``layers`` for a diff) or
several: ``{"reports": [...], "summary": [...]}``. Everything a consumer reads is checked
here, so that a hand-edited or foreign file gives one clear line (exit 2), never a KeyError
or a TypeError further on.
"""

from __future__ import annotations

from typing import Any

from .errors import ConvcalcError

METRICS = ("macs", "flops", "params", "activations", "memory")
LAYER_COUNTS = ("params", "macs")  # required in every saved layer
LAYER_OPTIONAL_COUNTS = ("flops", "activations", "memory_traffic")
HINT = "expected the output of `convcalc report --format json`"


class SavedReportError(ConvcalcError):
    """A saved report that cannot be read back."""


def _fail(where: str, at: str, message: str) -> SavedReportError:
    place = f"{where}: {at}: " if at else f"{where}: "
    return SavedReportError(f"{place}{message} ({HINT})")


def json_type(v: Any) -> str:
    """How JSON calls a value's type: ``an object``, ``a list``, ``null``..."""
    if isinstance(v, bool):
        return "a boolean"
    if isinstance(v, (int, float)):
        return "a number"
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(type(v), "a value")


def shown(v: Any, limit: int = 40) -> str:
    """A JSON value as JSON writes it, cut short."""
    import json

    try:
        text = json.dumps(v, ensure_ascii=False)
    except (TypeError, ValueError):
        text = json_type(v)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def reports(doc: Any, where: str) -> list[tuple[str, dict]]:
    """``(path, report)`` for each report of a saved document (``path``: ``reports[2]``, or
    ``""`` for a single report), each checked to be an object with valid totals."""
    if not isinstance(doc, dict):
        raise _fail(where, "", f"a saved report must be a JSON object, got {json_type(doc)}")
    if "reports" in doc:
        items = doc["reports"]
        if not isinstance(items, list) or not items:
            raise _fail(where, "", "'reports' must be a non-empty list")
        out = []
        for i, r in enumerate(items):
            at = f"reports[{i}]"
            if not isinstance(r, dict):
                raise _fail(where, at, f"a report must be an object, got {json_type(r)}")
            out.append((at, check_report(r, where, at)))
        return out
    if "totals" not in doc and "layers" not in doc:
        raise _fail(where, "", "has neither 'totals' nor 'reports'")
    return [("", check_report(doc, where, ""))]


def check_report(r: dict, where: str, at: str = "", *, layers: bool = False) -> dict:
    """Check one report's name, totals and (with ``layers``) its layers; returns it."""
    name = r.get("name")
    if name is not None and not isinstance(name, str):
        raise _fail(where, at, f"'name' must be a string, got {shown(name)}")
    if layers:
        check_layers(r.get("layers"), where, at)
    totals = r.get("totals")
    if not isinstance(totals, dict):
        raise _fail(where, at, f"'totals' must be an object, got {json_type(totals)}")
    for m in METRICS:
        if m in totals and not is_count(totals[m]):
            raise _fail(where, at, f"totals.{m} must be an integer >= 0, got {shown(totals[m])}")
    if totals.get("memory_traffic") is not None and not is_count(totals["memory_traffic"]):
        raise _fail(
            where, at, f"totals.memory_traffic must be an integer >= 0, got {shown(totals['memory_traffic'])}"
        )
    if totals.get("latency_s") is not None and not is_seconds(totals["latency_s"]):
        raise _fail(
            where, at, f"totals.latency_s must be a number of seconds >= 0, got {shown(totals['latency_s'])}"
        )
    return r


def is_seconds(v: Any) -> bool:
    """A latency in a saved report: a finite number >= 0 (a float of seconds)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf")


def check_layers(layers: Any, where: str, at: str) -> None:
    """Every field of a saved layer that ``diff`` reads, with the type it must have."""
    if not isinstance(layers, list):
        raise _fail(where, at, f"'layers' must be a list, got {json_type(layers)}")
    for i, layer in enumerate(layers):
        here = f"{at}: layers[{i}]" if at else f"layers[{i}]"
        if not isinstance(layer, dict):
            raise _fail(where, here, f"must be an object, got {json_type(layer)}")
        for k in ("name", "type"):
            if not isinstance(layer.get(k), str):
                raise _fail(where, here, f"'{k}' must be a string, got {shown(layer.get(k))}")
        label = layer.get("label")
        if label is not None and not isinstance(label, str):
            raise _fail(where, here, f"'label' must be a string or null, got {shown(label)}")
        shape = layer.get("output_shape")
        if not isinstance(shape, list) or not all(is_count(x) for x in shape):
            raise _fail(where, here, f"'output_shape' must be a list of integers, got {shown(shape)}")
        for k in LAYER_COUNTS:
            if not is_count(layer.get(k)):
                raise _fail(where, here, f"'{k}' must be an integer >= 0, got {shown(layer.get(k))}")
        for k in LAYER_OPTIONAL_COUNTS:
            if k in layer and not is_count(layer[k]):
                raise _fail(where, here, f"'{k}' must be an integer >= 0, got {shown(layer[k])}")
        if layer.get("latency_s") is not None and not is_seconds(layer["latency_s"]):
            raise _fail(
                where, here, f"'latency_s' must be a number of seconds >= 0, got {shown(layer['latency_s'])}"
            )


def select(doc: Any, where: str, name: str | None = None) -> dict:
    """The one report of a saved document that a diff compares: the document itself, or one
    of ``{"reports": [...]}`` (the only one, or the one called ``name``), layers checked."""
    found = reports(doc, where)
    if name is None:
        if len(found) != 1:
            names = ", ".join(str(r.get("name")) for _, r in found)
            raise SavedReportError(
                f"{where} holds {len(found)} reports ({names}); pick one with {where}#NAME"
            )
        at, r = found[0]
    else:
        hits = [(at, r) for at, r in found if r.get("name") == name]
        if len(hits) != 1:
            what = "no report" if not hits else f"{len(hits)} reports"
            if "reports" not in doc:
                raise SavedReportError(f"{where}: the report is named {doc.get('name')!r}, not {name!r}")
            names = ", ".join(str(r.get("name")) for _, r in found)
            raise SavedReportError(f"{where}: {what} named {name!r} (it holds {names})")
        at, r = hits[0]
    return check_report(r, where, at, layers=True)
