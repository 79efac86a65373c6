"""Views of ``convcalc check`` verdicts and ``convcalc diff`` changes: documents for the
Rich/Markdown/CSV renderers, and GitHub Actions annotations. Pure: builds text and Doc objects.

Cells are semantic (``Mark`` for a verdict, ``Delta`` for a change): each format shows them
its own way (colours, ✅/❌, plain numbers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..budget import METRIC_LABELS, CheckRun, Verdict, annotation_line, percent
from ..numbers import human
from .doc import Annotation, Column, Delta, Doc, Mark, Name, Note, Pct, Seconds, Table, col, seconds_text
from .formats.github import escape_data, escape_property  # noqa: F401  (tests import them here)

if TYPE_CHECKING:
    from ..diff import Diff


def _unit(metric: str) -> str:
    return "B" if metric in ("memory", "traffic") else ""


def _h(n: Any, metric: str) -> str:
    """1234567 -> '1,234,567 (1.23M)'; a latency (seconds) -> '4.213 ms'."""
    if metric == "latency":
        return seconds_text(n)
    short = human(n, _unit(metric))
    return f"{n:,}" + (f" ({short})" if short != str(n) and short != f"{n} B" else "")


def _times(*values: Any, signed: tuple[bool, ...] = ()) -> list[str]:
    """Times as text with enough significant digits (4 to 15) that different values never read
    the same: a latency just over its limit must not print as equal to it."""
    signs = signed or (False,) * len(values)
    for digits in range(4, 16):
        texts = [seconds_text(x, s, digits) for x, s in zip(values, signs)]
        if all(texts[i] != texts[j] for i in range(len(values)) for j in range(i) if values[i] != values[j]):
            return texts
    return texts


def _n(n: Any, metric: str) -> str:
    """A change or an excess: '1,234' (a latency: a time)."""
    return seconds_text(n) if metric == "latency" else f"{n:,}"


def verdict_summary(v: Verdict) -> str:
    """One line naming the spec, the metric, the value, the limit and the excess."""
    label = METRIC_LABELS[v.metric]
    on = f" on {v.device}" if v.metric == "latency" and v.device else ""
    if v.metric == "latency":
        value, limit = _times(v.value, v.limit)
        if v.baseline is not None:
            value, base, limit = _times(v.value, v.baseline, v.limit)
    else:
        value, limit = _h(v.value, v.metric), _h(v.limit, v.metric)
        base = _h(v.baseline, v.metric) if v.baseline is not None else ""
    if v.source == "baseline" and v.baseline is not None:
        pct = v.change_percent
        change = _times(v.change, signed=(True,))[0] if v.metric == "latency" else f"{v.change:+,}"
        grew = change + (f" ({pct:+.2f}%)" if pct is not None else "")
        upto = limit if v.metric == "latency" else f"{v.limit:,}"
        head = (
            f"{v.spec}: {label}{on} {value} vs baseline {base}: {grew}; allowed +{v.allowed} (up to {upto})"
        )
        if v.passed:
            return head
        return head + f": over by {_n(v.excess, v.metric)}"
    if v.passed:
        used = v.used_percent
        return f"{v.spec}: {label}{on} {value} within the limit {limit}" + (
            f" ({used:.2f}% used)" if used is not None else ""
        )
    pct = v.excess_percent
    return f"{v.spec}: {label}{on} {value} exceeds the limit {limit} by {_n(v.excess, v.metric)}" + (
        f" (+{pct:,.2f}%)" if pct is not None else ""
    )


def _headline(run: CheckRun) -> tuple[bool, str]:
    n, bad = len(run.verdicts), len(run.failures)
    specs = len(run.specs)
    of_specs = f"{specs} spec" + ("s" if specs != 1 else "")
    if bad:
        return False, f"convcalc check failed: {bad} of {n} limits exceeded ({of_specs})"
    if n:
        return True, f"convcalc check passed: all {n} limits met ({of_specs})"
    return True, f"convcalc check passed: no limits to check ({of_specs})"


def check_doc(run: CheckRun, budget_lines: dict[str, dict] | None = None) -> Doc:
    """The verdicts of ``convcalc check``: a pass/fail headline, one row per limit (named by
    spec file and network name), what is over and why, notes; GitHub annotations; the JSON."""
    ok, headline = _headline(run)
    doc = Doc(headline, status=ok, data=run.as_dict())
    if run.baseline is not None and run.allowance is not None:
        from ..budget import allowance_text

        doc.add(
            Note([f"baseline: {run.baseline}, allowed increase: {allowance_text(run.allowance)} per total"])
        )
    with_baseline = any(v.source == "baseline" for v in run.verdicts)
    rows = [_check_row(v) for v in run.verdicts]
    columns = [
        col("spec"),
        col("network", optional=True, drop=2),
        col("metric"),
        col("source", optional=True, drop=5),
        col("value", numeric=True, unit=""),
        col("limit", numeric=True),
        col("vs_limit", "vs limit", numeric=True, optional=True, drop=4),
        col("excess", numeric=True, optional=True, drop=3),
        col("baseline", numeric=True, optional=True, drop=7),
        col("change", numeric=True, optional=True, drop=5),
        col("change_pct", "change %", numeric=True, optional=True, drop=6),
        col("verdict"),
    ]
    for c in columns:
        if c.key in ("value", "limit", "excess", "baseline", "change"):
            c.unit = ""
    if not with_baseline:
        keep = [i for i, c in enumerate(columns) if c.key not in ("baseline", "change", "change_pct")]
        columns = [columns[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    said = []
    if any(v.metric == "memory" for v in run.verdicts):
        said.append(f"memory: weights + peak activations at {run.dtype}, in bytes")
    if any(v.metric == "traffic" for v in run.verdicts):
        said.append(f"traffic: bytes every layer reads and writes at {run.dtype} (unfused)")
    devices = sorted({v.device for v in run.verdicts if v.metric == "latency" and v.device})
    if devices:
        said.append(f"latency: roofline lower bound (unfused) on {', '.join(devices)} at {run.dtype}")
    caption = "; ".join(said)
    table = Table("", columns, rows, caption=caption)
    if rows:
        doc.add(table, primary=True)
    else:
        doc.primary = table  # CSV: the header alone
    fails = [verdict_summary(v) for v in run.failures]
    if fails:
        doc.add(Note(fails, title="Over the limit", tone="bad"))
    notes = [f"{n.spec}: {n.message}" for n in run.notes]
    if notes:
        doc.add(Note(notes, title="Notes", tone="warn"))
    doc.annotations = check_annotations(run, budget_lines or {})
    doc.closing = headline
    return doc


def _check_row(v: Verdict) -> list:
    label = METRIC_LABELS[v.metric]
    source = f"baseline +{v.allowed}" if v.source == "baseline" else v.source
    vs = percent(v.value - v.limit, v.limit)
    tone = "good" if v.passed else "bad"
    if v.metric == "latency":  # times: cells that read as times (seconds in CSV)
        t = Seconds
        return [
            v.spec,
            v.name,
            label,
            source,
            t(v.value),
            t(v.limit),
            Pct(vs, signed=True),
            t(v.excess) if not v.passed else None,
            t(v.baseline) if v.baseline is not None else None,
            t(v.change, signed=True) if v.change is not None else None,
            Pct(v.change_percent, signed=True) if v.baseline is not None else None,
            _verdict_mark(v, tone),
        ]
    return [
        v.spec,
        v.name,
        label,
        source,
        v.value,
        v.limit,
        Pct(vs, signed=True),
        v.excess if not v.passed else None,
        v.baseline,
        Delta(int(v.change)) if v.change is not None else None,
        Pct(v.change_percent, signed=True) if v.baseline is not None else None,
        _verdict_mark(v, tone),
    ]


def _verdict_mark(v: Verdict, tone: str) -> Mark:
    return Mark(
        "PASS" if v.passed else "FAIL", tone, "✅" if v.passed else "❌", "pass" if v.passed else "fail"
    )


# -- GitHub Actions workflow commands ----------------------------------------------------------------
def _is_file(spec: str) -> bool:
    return not (spec.startswith("zoo:") or spec in ("-", "<stdin>"))


def check_annotations(run: CheckRun, budget_lines: dict[str, dict]) -> list[Annotation]:
    """``error`` per failed limit, ``notice`` per passed one, ``warning`` per note; each points
    at the spec file and the line of the limit's key in its ``budget:`` section.
    ``budget_lines``: spec -> Network.budget_lines."""
    out = []
    for v in run.verdicts:
        lines = budget_lines.get(v.spec, {})
        line = annotation_line(v.metric, lines, v.source)
        label = METRIC_LABELS[v.metric]
        if v.source == "baseline":
            title = f"convcalc: {label} {'within' if v.passed else 'over'} the allowed growth (+{v.allowed})"
        else:
            title = f"convcalc: {label} {'within' if v.passed else 'over'} budget"
        file = v.spec if _is_file(v.spec) else None
        out.append(Annotation("notice" if v.passed else "error", verdict_summary(v), title, file, line))
    for n in run.notes:
        file = n.spec if _is_file(n.spec) else None
        kind = "notice" if n.kind == "no_limits" else "warning"
        out.append(Annotation(kind, f"{n.spec}: {n.message}", "convcalc check", file, n.line))
    return out


def check_github(run: CheckRun, budget_lines: dict[str, dict]) -> str:
    """The annotations as GitHub workflow commands, then the headline."""
    from .formats import Target
    from .formats.github import render

    return "".join(render(check_doc(run, budget_lines), Target()))


# -- convcalc diff ------------------------------------------------------------------------------------
_MARK = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}
_MARK_TONE = {"added": "warn", "removed": "info", "changed": "warn", "unchanged": "dim"}


def _shape(s: Any) -> str:
    return "x".join(map(str, s)) if s else "-"


def diff_columns(latency: bool = False) -> list[Column]:
    """The layer table's columns (``latency``: a Δ latency column, when the reports have one)."""
    timed = [col("latency_s_change", "Δ latency", numeric=True, optional=True, drop=0)] if latency else []
    return [
        col("status", ""),
        col("name", "layer"),
        col("type"),
        col("output_shape"),
        col("old_params", "old params", numeric=True, optional=True, drop=3),
        col("new_params", "new params", numeric=True, optional=True, drop=4),
        col("params_change", "Δ params", numeric=True),
        col("old_macs", "old MACs", numeric=True, optional=True, drop=1),
        col("new_macs", "new MACs", numeric=True, optional=True, drop=2),
        col("macs_change", "Δ MACs", numeric=True),
        col("memory_traffic_change", "Δ traffic", numeric=True, unit="B", optional=True, drop=1),
        *timed,
    ]


def _seconds_or_none(v: Any, signed: bool = False) -> Seconds | None:
    return None if v is None else Seconds(v, signed)


def diff_doc(d: Diff, include_unchanged: bool = False, old_label: str = "", new_label: str = "") -> Doc:
    """``d``: a ``convcalc.diff.Diff``. The status column reads +/-/~/= in tables (added,
    removed, changed, unchanged in CSV)."""
    old_label, new_label = old_label or d.old_name, new_label or d.new_name
    doc = Doc(f"convcalc diff: {old_label} -> {new_label}")
    doc.data = {"old_source": old_label, "new_source": new_label, **d.as_dict(include_unchanged)}
    timed = any(t.metric == "latency_s" for t in d.totals)
    rows = []
    for r in d.rows if include_unchanged else d.changed_rows():
        o, n = r.old or {}, r.new or {}
        name = r.name
        if r.old is not None and r.new is not None and o["name"] != n["name"]:
            name = f"{o['name']} -> {n['name']}"
        if o.get("label") or n.get("label"):
            name += f" ({n.get('label') or o.get('label')})"
        typ = f"{o['type']} -> {n['type']}" if o and n and o["type"] != n["type"] else r.type
        so, sn = o.get("output_shape"), n.get("output_shape")
        shape = (
            _shape(sn if sn is not None else so)
            if so is None or sn is None or list(so) == list(sn)
            else f"{_shape(so)} -> {_shape(sn)}"
        )
        rows.append(
            [
                Mark(_MARK[r.status], _MARK_TONE[r.status], plain=r.status),
                Name(name),
                typ,
                shape,
                o.get("params"),
                n.get("params"),
                Delta(r.delta("params")),
                o.get("macs"),
                n.get("macs"),
                Delta(r.delta("macs")),
                _delta_or_none(r.perf_delta("memory_traffic")),
                *([_seconds_or_none(r.perf_delta("latency_s"), signed=True)] if timed else []),
            ]
        )
    totals = Table(
        "Totals",
        [
            col("metric"),
            col("old", numeric=True),
            col("new", numeric=True),
            col("change", numeric=True),
            col("change_pct", "change %", numeric=True),
        ],
        [_total_row(t) for t in d.totals],
        caption=_totals_caption(d),
    )
    c = d.counts()
    summary = [
        f"{c['changed']} changed, {c['added']} added, {c['removed']} removed, "
        f"{c['unchanged']} unchanged layers"
        + (" (unchanged rows hidden; --all shows them)" if c["unchanged"] and not include_unchanged else "")
    ]
    if d.alignment == "sequence":
        summary.append(
            "layer paths shifted (layers inserted or removed): layers were paired by their "
            "sequence of types and output shapes, not by path"
        )
    for metric in ("memory_traffic", "latency_s"):
        side = d.missing(metric)
        if side is not None:
            what = "memory traffic" if metric == "memory_traffic" else "latency"
            why = (
                "saved without --device; give --device to estimate specs, or save both with it"
                if metric == "latency_s"
                else "saved by an older convcalc"
            )
            summary.append(f"{what}: not compared, the {side} report has none ({why})")
    for metric in ("macs", "params", "memory_traffic"):
        top = d.largest(metric)
        total = next((t for t in d.totals if t.metric == metric), None)
        if top is not None:
            whole = f" (the total: {total.change:+,})" if total is not None else ""
            summary.append(
                f"largest {_LABELS.get(metric, metric)} growth: {top.name} ({top.type}), "
                f"{top.delta(metric):+,}{whole}"
            )
    for k, a, b in d.settings:
        show = lambda v: _shape(v) if isinstance(v, list) else str(v)
        summary.append(
            f"warning: {k.replace('_', ' ')} differs ({show(a)} vs {show(b)}): the numbers are "
            "not like for like"
        )
    layers = Table("Layers", diff_columns(timed), rows)
    tp = next((t for t in d.totals if t.metric == "params"), None)
    tm = next((t for t in d.totals if t.metric == "macs"), None)
    if tp is not None and tm is not None:  # the totals, in the layer columns
        layers.footer = [
            [
                Mark("Σ", "info", plain="total"),
                Name("total", 0, "total"),
                "",
                "",
                tp.old,
                tp.new,
                Delta(tp.change),
                tm.old,
                tm.new,
                Delta(tm.change),
                _delta_or_none(_total_change(d, "memory_traffic")),
                *([_seconds_or_none(_total_change(d, "latency_s"), signed=True)] if timed else []),
            ]
        ]
    doc.add(Note(summary, tone="info"))
    if rows:
        doc.add(layers, primary=True)
    else:
        doc.add(Note(["no layer changed"], tone="good"))
        doc.primary = layers
    doc.add(totals)
    return doc


_LABELS = {**METRIC_LABELS, "memory_traffic": "memory traffic", "latency_s": "latency"}


def _delta_or_none(v: Any) -> Delta | None:
    return None if v is None else Delta(v)


def _total_change(d: Diff, metric: str) -> Any:
    t = next((t for t in d.totals if t.metric == metric), None)
    return None if t is None else t.change


def _total_row(t: Any) -> list[Any]:
    label = _LABELS.get(t.metric, t.metric)
    if t.metric == "latency_s":
        return [
            label,
            Seconds(t.old),
            Seconds(t.new),
            Seconds(t.change, True),
            Pct(t.change_percent, signed=True),
        ]
    return [label, t.old, t.new, Delta(t.change), Pct(t.change_percent, signed=True)]


def _totals_caption(d: Diff) -> str:
    said = []
    if any(t.metric == "memory_traffic" for t in d.totals):
        said.append("memory traffic: bytes every layer reads and writes (unfused)")
    if any(t.metric == "latency_s" for t in d.totals):
        said.append("latency: the roofline lower bound of the reports' device")
    return "; ".join(said)
