"""What changed between two network reports: per layer and in total. Pure: no I/O, no
Typer, no Rich.

Both sides are dicts in the schema of ``convcalc report --format json`` (``export.report_dict``),
whether they came from a spec walked just now or from a saved file, so the two are compared the
same way.

Layers are paired in one of two ways, whichever shows the smaller diff (ties: by name):

* by name: the layer path (``layers[4].body[0]``), the natural key while the structure is
  unchanged (a wider conv is one changed row, and its successor, whose input grew, another);
* by sequence: inserting a layer shifts every later path, so pairing by name would show every
  later layer as changed. Instead ``difflib.SequenceMatcher`` aligns the two sequences of
  (label, type, output shape) signatures, and within each stretch it could not match, aligns
  by type alone (so a conv whose width changed still pairs with itself). An inserted layer
  is then one added row.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import Any

from .errors import ConvcalcError

ROW_METRICS = ("params", "macs", "flops", "activations")
# compared where both sides have them (reports saved before convcalc counted traffic lack it;
# latency_s needs --device): bytes are exact, a latency is a float of seconds
PERF_METRICS = ("memory_traffic", "latency_s")
TOTAL_METRICS = ("params", "macs", "flops", "activations", "memory", *PERF_METRICS)
SETTINGS = ("input_shape", "batch", "width_mult", "dtype", "device")
MAX_ALIGN_WORK = 4_000_000  # len(a) * len(b) of the stretch SequenceMatcher may align


# -- reading a report dict -------------------------------------------------------------------------
def select_report(doc: Any, where: str, name: str | None = None) -> dict:
    """The report in a saved JSON document: the document itself, or one of ``{"reports": [...]}``
    (the only one, or the one called ``name``). Validated, so a diff never dies on a KeyError."""
    if not isinstance(doc, dict):
        raise ConvcalcError(
            f"{where}: expected a report saved by `convcalc report --format json`, got {_json_type(doc)}"
        )
    if "reports" in doc:
        reports = doc["reports"]
        if not isinstance(reports, list) or not reports:
            raise ConvcalcError(f"{where}: 'reports' must be a non-empty list")
        names = [r.get("name") if isinstance(r, dict) else None for r in reports]
        if name is None:
            if len(reports) != 1:
                shown = ", ".join(str(n) for n in names)
                raise ConvcalcError(
                    f"{where} holds {len(reports)} reports ({shown}); pick one with {where}#NAME"
                )
            return validate_report(reports[0], f"{where}: reports[0]")
        hits = [i for i, n in enumerate(names) if n == name]
        if len(hits) != 1:
            what = "no report" if not hits else f"{len(hits)} reports"
            raise ConvcalcError(f"{where}: {what} named {name!r} (it holds {', '.join(map(str, names))})")
        return validate_report(reports[hits[0]], f"{where}: reports[{hits[0]}]")
    if name is not None and doc.get("name") != name:
        raise ConvcalcError(f"{where}: the report is named {doc.get('name')!r}, not {name!r}")
    return validate_report(doc, where)


def validate_report(r: dict, where: str) -> dict:
    if not isinstance(r, dict):
        raise ConvcalcError(f"{where}: a report must be an object, got {_json_type(r)}")
    layers = r.get("layers")
    if not isinstance(layers, list):
        raise ConvcalcError(
            f"{where}: 'layers' must be a list (is this the output of `convcalc report --format json`?)"
        )
    for i, layer in enumerate(layers):
        at = f"{where}: layers[{i}]"
        if not isinstance(layer, dict):
            raise ConvcalcError(f"{at}: must be an object, got {_json_type(layer)}")
        for k in ("name", "type"):
            if not isinstance(layer.get(k), str):
                raise ConvcalcError(f"{at}: '{k}' must be a string")
        shape = layer.get("output_shape")
        if not isinstance(shape, list) or not all(_is_count(x) for x in shape):
            raise ConvcalcError(f"{at}: 'output_shape' must be a list of integers")
        for k in ("params", "macs"):
            if not _is_count(layer.get(k)):
                raise ConvcalcError(f"{at}: '{k}' must be an integer >= 0")
        for k in ("flops", "activations", "memory_traffic"):
            if k in layer and not _is_count(layer[k]):
                raise ConvcalcError(f"{at}: '{k}' must be an integer >= 0")
        if layer.get("latency_s") is not None and not _is_seconds(layer["latency_s"]):
            raise ConvcalcError(f"{at}: 'latency_s' must be a number of seconds >= 0")
    totals = r.get("totals")
    if not isinstance(totals, dict):
        raise ConvcalcError(f"{where}: 'totals' must be an object")
    for k in TOTAL_METRICS:
        if k == "latency_s":
            if totals.get(k) is not None and not _is_seconds(totals[k]):
                raise ConvcalcError(f"{where}: totals.{k} must be a number of seconds >= 0")
        elif k in totals and not _is_count(totals[k]):
            raise ConvcalcError(f"{where}: totals.{k} must be an integer >= 0")
    return r


def _is_seconds(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v < float("inf")


def _is_count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _json_type(v: Any) -> str:
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        type(None): "null",
        int: "a number",
        float: "a number",
    }.get(type(v), type(v).__name__)


# -- the diff ----------------------------------------------------------------------------------------
class LayerChange:
    """One row of the diff: a layer of the old report, of the new one, or both."""

    __slots__ = ("old", "new")

    def __init__(self, old: dict | None, new: dict | None):
        self.old, self.new = old, new

    @property
    def status(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "unchanged" if _same(self.old, self.new) else "changed"

    @property
    def name(self) -> str:
        return (self.new or self.old)["name"]

    @property
    def type(self) -> str:
        return (self.new or self.old)["type"]

    def get(self, side: str, metric: str) -> int | None:
        layer = self.old if side == "old" else self.new
        return None if layer is None else layer.get(metric)

    def delta(self, metric: str) -> int:
        return (self.get("new", metric) or 0) - (self.get("old", metric) or 0)

    def has(self, metric: str) -> bool:
        """Whether the layers present on either side carry ``metric`` (traffic, latency)."""
        return all(layer.get(metric) is not None for layer in (self.old, self.new) if layer is not None)

    def perf_delta(self, metric: str) -> Any:
        """The change of a PERF_METRICS value, or None when a side does not carry it."""
        return self.delta(metric) if self.has(metric) else None

    def as_dict(self) -> dict:
        o, n = self.old or {}, self.new or {}
        d: dict = {
            "status": self.status,
            "name": self.name,
            "old_name": o.get("name"),
            "new_name": n.get("name"),
            "label": n.get("label") or o.get("label"),
            "type": self.type,
            "old_type": o.get("type"),
            "new_type": n.get("type"),
            "old_output_shape": o.get("output_shape"),
            "new_output_shape": n.get("output_shape"),
        }
        for m in ROW_METRICS:
            d[f"old_{m}"] = o.get(m)
            d[f"new_{m}"] = n.get(m)
            d[f"{m}_change"] = self.delta(m)
        for m in PERF_METRICS:
            if o.get(m) is not None or n.get(m) is not None:
                d[f"old_{m}"] = o.get(m)
                d[f"new_{m}"] = n.get(m)
                d[f"{m}_change"] = self.perf_delta(m)
        return d


def _same(a: dict, b: dict) -> bool:
    return (
        a["type"] == b["type"]
        and list(a["output_shape"]) == list(b["output_shape"])
        and all(a.get(m) == b.get(m) for m in ROW_METRICS)
        and all(a.get(m) == b.get(m) for m in PERF_METRICS if a.get(m) is not None and b.get(m) is not None)
    )


class TotalChange:
    """A total's change (``latency_s``: floats of seconds; every other metric exact)."""

    __slots__ = ("metric", "old", "new")

    def __init__(self, metric: str, old: Any, new: Any):
        self.metric, self.old, self.new = metric, old, new

    @property
    def change(self) -> Any:
        return self.new - self.old

    @property
    def change_percent(self) -> float | None:
        from .budget import percent

        return percent(self.change, self.old)

    def as_dict(self) -> dict:
        return {
            "metric": self.metric,
            "old": self.old,
            "new": self.new,
            "change": self.change,
            "change_percent": self.change_percent,
        }


class Diff:
    def __init__(
        self,
        old: dict,
        new: dict,
        rows: list[LayerChange],
        totals: list[TotalChange],
        alignment: str,
        settings: list[tuple[str, Any, Any]],
    ):
        self.old_name, self.new_name = str(old.get("name", "")), str(new.get("name", ""))
        self.old_totals, self.new_totals = old.get("totals") or {}, new.get("totals") or {}
        self.rows = rows  # every layer of both reports, in execution order
        self.totals = totals
        self.alignment = alignment  # "name", "path" or "sequence"
        self.settings = settings  # (setting, old, new) that differ: the comparison may mislead

    def counts(self) -> dict[str, int]:
        c = {"added": 0, "removed": 0, "changed": 0, "unchanged": 0}
        for r in self.rows:
            c[r.status] += 1
        return c

    def changed_rows(self) -> list[LayerChange]:
        return [r for r in self.rows if r.status != "unchanged"]

    def largest(self, metric: str = "macs") -> LayerChange | None:
        """The row whose ``metric`` grew the most (None if nothing grew)."""
        rows = [r for r in self.rows if r.has(metric)] if metric in PERF_METRICS else self.rows
        best = max(rows, key=lambda r: r.delta(metric), default=None)
        return best if best is not None and best.delta(metric) > 0 else None

    def missing(self, metric: str) -> str | None:
        """Which side's totals lack ``metric`` when the other has it (None: both or neither)."""
        a, b = self.old_totals.get(metric) is not None, self.new_totals.get(metric) is not None
        return None if a == b else ("old" if b else "new")

    def as_dict(self, include_unchanged: bool = False) -> dict:
        rows = self.rows if include_unchanged else self.changed_rows()
        return {
            "old": self.old_name,
            "new": self.new_name,
            "alignment": self.alignment,
            "counts": self.counts(),
            "layers": [r.as_dict() for r in rows],
            "totals": {t.metric: t.as_dict() for t in self.totals},
            "settings_differ": [{"setting": k, "old": a, "new": b} for k, a, b in self.settings],
        }


def diff_reports(old: dict, new: dict) -> Diff:
    """Compare two report dicts (see ``select_report``)."""
    a, b = old.get("layers") or [], new.get("layers") or []
    method, pairs = "name", align_by_name(a, b)
    cost = _cost(a, b, pairs)
    if cost and all("path" in x for x in a) and all("path" in x for x in b):
        by_path = _merge([x["path"] for x in a], [x["path"] for x in b], 0, 0, inner=None)
        c = _cost(a, b, by_path)
        if c < cost:  # the same places in the spec: a layer replaced by another type
            method, pairs, cost = "path", by_path, c
    if cost:
        by_seq = align_by_sequence(a, b)
        if by_seq is not None and _cost(a, b, by_seq) < cost:
            method, pairs = "sequence", by_seq
    rows = [LayerChange(a[i] if i is not None else None, b[j] if j is not None else None) for i, j in pairs]
    ta, tb = old.get("totals") or {}, new.get("totals") or {}
    totals = [
        TotalChange(m, ta[m], tb[m])
        for m in TOTAL_METRICS
        if m in ta and m in tb and ta[m] is not None and tb[m] is not None
    ]
    settings = []
    for k in SETTINGS:
        a_, b_ = old.get(k), new.get(k)
        if k == "device":  # the device a latency was estimated on: its name, where both have one
            a_, b_ = _device_name(a_), _device_name(b_)
            if a_ is None or b_ is None:
                continue
        if k in old and k in new and a_ != b_:
            settings.append((k, a_, b_))
    return Diff(old, new, rows, totals, method, settings)


def _device_name(d: Any) -> Any:
    return d.get("name") if isinstance(d, dict) else d


Pairs = list[tuple["int | None", "int | None"]]


def _cost(a: list[dict], b: list[dict], pairs: Pairs) -> int:
    """Rows a reader must look at: added, removed, or paired but different."""
    return sum(1 for i, j in pairs if i is None or j is None or not _same(a[i], b[j]))


def align_by_name(a: list[dict], b: list[dict]) -> Pairs:
    """Pair layers with the same path; the rest are removed (old) or added (new)."""
    return _merge([x["name"] for x in a], [x["name"] for x in b], 0, 0, inner=None)


def align_by_sequence(a: list[dict], b: list[dict]) -> Pairs | None:
    """Pair layers by aligning (label, type, output shape) signatures, then types within each
    stretch left unmatched. None when the unmatched middle is too long to align quickly."""
    sa = [(x.get("label"), x["type"], tuple(x["output_shape"])) for x in a]
    sb = [(x.get("label"), x["type"], tuple(x["output_shape"])) for x in b]
    # The common head and tail are paired directly: SequenceMatcher only sees the middle.
    lo = 0
    while lo < len(sa) and lo < len(sb) and sa[lo] == sb[lo]:
        lo += 1
    hi = 0
    while hi < len(sa) - lo and hi < len(sb) - lo and sa[-1 - hi] == sb[-1 - hi]:
        hi += 1
    mid_a, mid_b = sa[lo : len(sa) - hi], sb[lo : len(sb) - hi]
    if len(mid_a) * len(mid_b) > MAX_ALIGN_WORK:
        return None
    types_a, types_b = [x["type"] for x in a], [x["type"] for x in b]

    def by_type(i1, i2, j1, j2):
        return _merge(types_a[i1:i2], types_b[j1:j2], i1, j1, inner=None)

    pairs: Pairs = [(i, i) for i in range(lo)]
    pairs += _merge(mid_a, mid_b, lo, lo, inner=by_type)
    pairs += [(len(sa) - hi + k, len(sb) - hi + k) for k in range(hi)]
    return pairs


def _merge(ka: list, kb: list, oa: int, ob: int, inner) -> Pairs:
    """Pairs of indices (offset by oa/ob) from SequenceMatcher over keys ``ka``/``kb``; an
    unmatched stretch goes to ``inner`` if given, else is removed-then-added."""
    out: Pairs = []
    sm = SequenceMatcher(None, ka, kb, autojunk=False)
    for tag, i1, i2, j1, j2 in sm.get_opcodes():
        if tag == "equal":
            out += [(oa + i1 + k, ob + j1 + k) for k in range(i2 - i1)]
        elif inner is not None and tag == "replace":
            out += inner(oa + i1, oa + i2, ob + j1, ob + j2)
        else:
            out += [(oa + i, None) for i in range(i1, i2)]
            out += [(None, ob + j) for j in range(j1, j2)]
    return out
