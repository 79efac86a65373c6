"""What changed between two network reports: per layer and in total. Pure: no I/O, no
Typer, no Rich.

Both sides are dicts in the schema of ``convcalc report --format json`` (``export.report_dict``),
whether they came from a spec walked just now or from a saved file (checked by
``convcalc.saved``), so the two are compared the same way.

Layers are paired in one of two ways, whichever shows the smaller diff (ties: by name):

* by name: the layer path (``layers[4].body[0]``), the natural key while the structure is
  unchanged (a wider conv is one changed row, and its successor, whose input grew, another).
  Paths are unique, so the best pairing in order is a longest increasing subsequence:
  O(n log n), whatever the names;
* by sequence: inserting a layer shifts every later path, so pairing by name would show every
  later layer as changed. Instead the two sequences of (label, type, output shape) signatures
  are aligned (a shortest edit script, Myers 1986), and within each stretch that could not be
  matched, the types alone (so a conv whose width changed still pairs with itself). An
  inserted layer is then one added row.

The sequence alignment costs O((N + M) * D) steps for D edits: cheap for the diffs people
make (a few layers changed), quadratic for two unrelated networks. Its steps are counted and
bounded by ``MAX_ALIGN_WORK``; past it the sequence alignment is given up and layers are
paired by name, so a diff's time is bounded by its size whatever the layers are.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import saved

ROW_METRICS = ("params", "macs", "flops", "activations")
# compared where both sides have them (reports saved before convcalc counted traffic lack it;
# latency_s needs --device): bytes are exact, a latency is a float of seconds
PERF_METRICS = ("memory_traffic", "latency_s")
TOTAL_METRICS = ("params", "macs", "flops", "activations", "memory", *PERF_METRICS)
SETTINGS = ("input_shape", "batch", "width_mult", "dtype", "device")
MAX_ALIGN_WORK = 2_000_000  # steps (diagonals visited + elements compared) of the sequence alignment


# -- reading a report dict -------------------------------------------------------------------------
def select_report(doc: Any, where: str, name: str | None = None) -> dict:
    """The report in a saved JSON document: the document itself, or one of ``{"reports": [...]}``
    (the only one, or the one called ``name``). Validated, so a diff never dies on a KeyError."""
    return saved.select(doc, where, name)


def validate_report(r: Any, where: str) -> dict:
    """Check a report dict as ``diff`` reads it (layers and totals); returns it."""
    if not isinstance(r, dict):
        raise saved.SavedReportError(f"{where}: a report must be an object, got {saved.json_type(r)}")
    return saved.check_report(r, where, layers=True)


# -- the diff ----------------------------------------------------------------------------------------
@dataclass(slots=True)
class LayerChange:
    """One row of the diff: a layer of the old report, of the new one, or both."""

    old: dict | None
    new: dict | None

    @property
    def status(self) -> str:
        if self.old is None:
            return "added"
        if self.new is None:
            return "removed"
        return "unchanged" if _same(self.old, self.new) else "changed"

    @property
    def layer(self) -> dict:
        """The new layer, or the old one where the new side has none."""
        layer = self.new if self.new is not None else self.old
        assert layer is not None, "a LayerChange has at least one side"
        return layer

    @property
    def name(self) -> str:
        return str(self.layer["name"])

    @property
    def type(self) -> str:
        return str(self.layer["type"])

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


@dataclass(slots=True)
class TotalChange:
    """A total's change (``latency_s``: floats of seconds; every other metric exact)."""

    metric: str
    old: Any
    new: Any

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


@dataclass(slots=True)
class Diff:
    old_name: str
    new_name: str
    rows: list[LayerChange]  # every layer of both reports, in execution order
    totals: list[TotalChange]
    alignment: str  # "name", "path" or "sequence"
    settings: list[tuple[str, Any, Any]]  # (setting, old, new) that differ: the comparison may mislead
    old_totals: dict = field(default_factory=dict)
    new_totals: dict = field(default_factory=dict)

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


def diff_reports(old: dict, new: dict, max_work: int = MAX_ALIGN_WORK) -> Diff:
    """Compare two report dicts (see ``select_report``). ``max_work`` bounds the steps of the
    sequence alignment (see the module doc)."""
    a, b = old.get("layers") or [], new.get("layers") or []
    method, pairs = "name", align_by_name(a, b)
    cost = _cost(a, b, pairs)
    if cost and all("path" in x for x in a) and all("path" in x for x in b):
        by_path = align_by_name(a, b, key="path")
        c = _cost(a, b, by_path)
        if c < cost:  # the same places in the spec: a layer replaced by another type
            method, pairs, cost = "path", by_path, c
    if cost:
        by_seq = align_by_sequence(a, b, Work(max_work))
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
    return Diff(str(old.get("name", "")), str(new.get("name", "")), rows, totals, method, settings, ta, tb)


def _device_name(d: Any) -> Any:
    return d.get("name") if isinstance(d, dict) else d


Pair = tuple["int | None", "int | None"]
Pairs = list[Pair]


def _cost(a: list[dict], b: list[dict], pairs: Pairs) -> int:
    """Rows a reader must look at: added, removed, or paired but different."""
    return sum(1 for i, j in pairs if i is None or j is None or not _same(a[i], b[j]))


# -- pairing by name: a longest increasing subsequence -----------------------------------------------
def align_by_name(a: list[dict], b: list[dict], key: str = "name") -> Pairs:
    """Pair layers with the same name (or another ``key``: ``path``, where the spec wrote
    them), as many as keep both orders; the rest are removed (old) or added (new). A name
    written twice pairs its k-th occurrences."""
    where: dict[tuple[Any, int], int] = {}
    seen: dict[Any, int] = {}
    for j, x in enumerate(b):
        k = seen[x[key]] = seen.get(x[key], -1) + 1
        where[(x[key], k)] = j
    seen.clear()
    candidates: list[tuple[int, int]] = []
    for i, x in enumerate(a):
        k = seen[x[key]] = seen.get(x[key], -1) + 1
        hit = where.get((x[key], k))
        if hit is not None:
            candidates.append((i, hit))
    return _fill(_increasing(candidates), len(a), len(b))


def _increasing(cands: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest run of ``cands`` (increasing in i) whose j also increase: patience sorting,
    O(n log n)."""
    tails: list[int] = []  # tails[L]: the smallest j ending an increasing run of length L + 1
    tail_at: list[int] = []  # index in cands of that run's last element
    back = [-1] * len(cands)
    for c, (_, j) in enumerate(cands):
        L = bisect_left(tails, j)
        if len(tails) == L:
            tails.append(j)
            tail_at.append(c)
        else:
            tails[L] = j
            tail_at[L] = c
        back[c] = tail_at[L - 1] if L else -1
    out = []
    c = tail_at[-1] if tail_at else -1
    while c >= 0:
        out.append(cands[c])
        c = back[c]
    out.reverse()
    return out


def _fill(
    matches: list[tuple[int, int]],
    n: int,
    m: int,
    oa: int = 0,
    ob: int = 0,
    inner: Callable[[int, int, int, int], Pairs] | None = None,
) -> Pairs:
    """Every index of both sides in order, from increasing matched pairs (offset by oa/ob):
    between two matches, the old side's layers are removed and the new side's added, or, when
    both sides have some and ``inner`` is given, ``inner`` pairs that stretch."""
    out: Pairs = []
    i0 = j0 = 0
    for i, j in matches + [(n, m)]:
        if inner is not None and i > i0 and j > j0:
            out += inner(oa + i0, oa + i, ob + j0, ob + j)
        else:
            out += [(oa + x, None) for x in range(i0, i)]
            out += [(None, ob + y) for y in range(j0, j)]
        if i < n or j < m:
            out.append((oa + i, ob + j))
        i0, j0 = i + 1, j + 1
    return out


# -- pairing by sequence: a shortest edit script, with bounded work ----------------------------------
class Work:
    """A budget of steps; ``spend`` raises OverBudget once it is used up."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int):
        self.limit = self.left = limit

    @property
    def used(self) -> int:
        return self.limit - self.left

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise OverBudget


class OverBudget(Exception):
    """The alignment needs more steps than its budget."""


def align_by_sequence(a: list[dict], b: list[dict], work: Work | None = None) -> Pairs | None:
    """Pair layers by aligning (label, type, output shape) signatures, then types within each
    stretch left unmatched. None when that takes more steps than ``work`` allows."""
    work = work if work is not None else Work(MAX_ALIGN_WORK)
    sa = [(x.get("label"), x["type"], tuple(x["output_shape"])) for x in a]
    sb = [(x.get("label"), x["type"], tuple(x["output_shape"])) for x in b]
    types_a, types_b = [x["type"] for x in a], [x["type"] for x in b]

    def by_type(i1: int, i2: int, j1: int, j2: int) -> Pairs:
        return _fill(common(types_a, types_b, i1, i2, j1, j2, work), i2 - i1, j2 - j1, i1, j1)

    try:
        return _fill(common(sa, sb, 0, len(sa), 0, len(sb), work), len(sa), len(sb), inner=by_type)
    except OverBudget:
        return None


def common(
    a: Sequence[Hashable], b: Sequence[Hashable], i1: int, i2: int, j1: int, j2: int, work: Work
) -> list[tuple[int, int]]:
    """Matched pairs (relative to i1, j1) of a longest common subsequence of a[i1:i2] and
    b[j1:j2]: the common head and tail directly, the middle by Myers' O((N + M) D) algorithm."""
    lo = 0
    while i1 + lo < i2 and j1 + lo < j2 and a[i1 + lo] == b[j1 + lo]:
        lo += 1
    hi = 0
    while i2 - hi > i1 + lo and j2 - hi > j1 + lo and a[i2 - 1 - hi] == b[j2 - 1 - hi]:
        hi += 1
    work.spend(lo + hi + 1)
    head = [(k, k) for k in range(lo)]
    n, m = i2 - i1 - lo - hi, j2 - j1 - lo - hi
    middle = _myers(a, b, i1 + lo, j1 + lo, n, m, work) if n and m else []
    tail = [(n + lo + k, m + lo + k) for k in range(hi)]
    return head + [(i + lo, j + lo) for i, j in middle] + tail


def _myers(
    a: Sequence[Hashable], b: Sequence[Hashable], oa: int, ob: int, n: int, m: int, work: Work
) -> list[tuple[int, int]]:
    """Myers' greedy shortest edit script of a[oa:oa+n] vs b[ob:ob+m], as the matched pairs
    (relative to oa, ob). Each round d costs d + 1 steps plus the elements compared, and keeps
    d + 1 numbers for the way back: time and memory both within ``work``."""
    size = n + m
    v = [0] * (2 * size + 3)  # v[k + size + 1]: the furthest x reached on diagonal k = x - y
    off = size + 1
    trace: list[list[int]] = []
    for d in range(size + 1):
        work.spend(d + 1)
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]  # down: a layer of b inserted
            else:
                x = v[off + k - 1] + 1  # right: a layer of a deleted
            y = x - k
            x0 = x
            while x < n and y < m and a[oa + x] == b[ob + y]:
                x += 1
                y += 1
            if x != x0:
                work.spend(x - x0)
            v[off + k] = x
            if x >= n and y >= m:
                trace.append(v[off - d : off + d + 1 : 2])
                return _back(trace, n, m)
        trace.append(v[off - d : off + d + 1 : 2])
    raise AssertionError("unreachable: d = n + m always reaches the end")  # pragma: no cover


def _back(trace: list[list[int]], n: int, m: int) -> list[tuple[int, int]]:
    """The matched pairs of the path that ``_myers`` found, from its end back to (0, 0).
    ``trace[d]`` holds x on diagonals -d, -d + 2, ..., d after round d."""
    pairs: list[tuple[int, int]] = []
    x, y = n, m
    for d in range(len(trace) - 1, 0, -1):
        prev = trace[d - 1]
        k = x - y
        if k == -d or (k != d and prev[(k - 1 + d - 1) // 2] < prev[(k + 1 + d - 1) // 2]):
            sx = prev[(k + 1 + d - 1) // 2]  # came down from diagonal k + 1
            before = (sx, sx - k - 1)
        else:
            sx = prev[(k - 1 + d - 1) // 2] + 1  # came right from diagonal k - 1
            before = (sx - 1, sx - k)
        while x > sx:  # the snake of round d: matched pairs
            x -= 1
            y -= 1
            pairs.append((x, y))
        x, y = before
    while x > 0 and y > 0:  # round 0: the common head
        x -= 1
        y -= 1
        pairs.append((x, y))
    pairs.reverse()
    return pairs
