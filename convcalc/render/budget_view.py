"""Views of ``convcalc check`` verdicts and ``convcalc diff`` changes: documents for the
Rich/Markdown/CSV renderers, and GitHub Actions annotations. Pure: builds text and Doc objects.

``style`` picks how the same rows read in each format: ``rich`` (colours), ``markdown``
(✅/❌ for a pull-request comment) or ``csv`` (plain numbers a script can read).
"""

from __future__ import annotations

from ..budget import METRIC_LABELS, CheckRun, Verdict, annotation_line, human, percent
from .doc import Doc, Note, Pct, Styled, Table

CHECK_COLUMNS = [
    "spec",
    "metric",
    "source",
    "value",
    "limit",
    "vs limit",
    "excess",
    "baseline",
    "change",
    "change %",
    "verdict",
]


def _unit(metric: str) -> str:
    return "B" if metric == "memory" else ""


def _h(n: int, metric: str) -> str:
    """1234567 -> '1,234,567 (1.23M)'."""
    short = human(n, _unit(metric))
    return f"{n:,}" + (f" ({short})" if short != str(n) and short != f"{n} B" else "")


def verdict_summary(v: Verdict) -> str:
    """One line naming the spec, the metric, the value, the limit and the excess."""
    label = METRIC_LABELS[v.metric]
    if v.source == "baseline":
        pct = v.change_percent
        grew = f"{v.change:+,}" + (f" ({pct:+.2f}%)" if pct is not None else "")
        head = (
            f"{v.spec}: {label} {_h(v.value, v.metric)} vs baseline {_h(v.baseline, v.metric)}: "
            f"{grew}; allowed +{v.allowed} (up to {v.limit:,})"
        )
        if v.passed:
            return head
        return head + f": over by {v.excess:,}"
    if v.passed:
        used = v.used_percent
        return f"{v.spec}: {label} {_h(v.value, v.metric)} within the limit {_h(v.limit, v.metric)}" + (
            f" ({used:.2f}% used)" if used is not None else ""
        )
    pct = v.excess_percent
    return (
        f"{v.spec}: {label} {_h(v.value, v.metric)} exceeds the limit {_h(v.limit, v.metric)} by "
        f"{v.excess:,}" + (f" (+{pct:,.2f}%)" if pct is not None else "")
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


def check_doc(run: CheckRun, style: str = "rich") -> Doc:
    ok, headline = _headline(run)
    if style == "markdown":
        doc = Doc(("✅ " if ok else "❌ ") + headline)
    else:
        doc = Doc()
        if style == "rich":
            doc.add(Note([headline], style="bold green" if ok else "bold red"))
    if run.baseline is not None and style != "csv" and run.allowance is not None:
        from ..budget import allowance_text

        doc.add(
            Note(
                [f"baseline: {run.baseline}, allowed increase: {allowance_text(run.allowance)} per total"],
                style="dim",
            )
        )
    rows = [_check_row(v, style) for v in run.verdicts]
    columns = CHECK_COLUMNS
    if style != "csv" and not any(v.source == "baseline" for v in run.verdicts):
        keep = [i for i, c in enumerate(CHECK_COLUMNS) if c not in ("baseline", "change", "change %")]
        columns = [CHECK_COLUMNS[i] for i in keep]
        rows = [[row[i] for i in keep] for row in rows]
    caption = (
        f"memory: weights + peak activations at {run.dtype}, in bytes"
        if any(v.metric == "memory" for v in run.verdicts)
        else ""
    )
    right = {
        i
        for i, c in enumerate(columns)
        if c in ("value", "limit", "vs limit", "excess", "baseline", "change", "change %")
    }
    table = Table("", columns, rows, right=right, caption=caption)
    if rows or style == "csv":
        doc.add(table, primary=True)
    fails = [verdict_summary(v) for v in run.failures]
    if fails and style != "csv":
        doc.add(Note(fails, title="Over the limit", style="red"))
    notes = [f"{n.spec}: {n.message}" for n in run.notes]
    if notes and style != "csv":
        doc.add(Note(notes, title="Notes", style="yellow"))
    return doc


def _check_row(v: Verdict, style: str) -> list:
    label = METRIC_LABELS[v.metric]
    source = f"baseline +{v.allowed}" if v.source == "baseline" else v.source
    vs = percent(v.value - v.limit, v.limit)
    if style == "csv":
        vs_cell = Pct(vs)
        verdict = "pass" if v.passed else "fail"
        change_pct = Pct(v.change_percent) if v.baseline is not None else None
    else:
        colour = "green" if v.passed else "bold red"
        vs_cell = Styled("n/a" if vs is None else f"{vs:+,.2f}%", colour)
        if style == "markdown":
            verdict = "✅ pass" if v.passed else "❌ **FAIL**"
        else:
            verdict = Styled("PASS" if v.passed else "FAIL", colour)
        change_pct = Pct(v.change_percent, signed=True) if v.baseline is not None else None
    change = v.change
    if change is not None and style != "csv":
        change = f"{change:+,}"
    return [
        v.spec,
        label,
        source,
        v.value,
        v.limit,
        vs_cell,
        v.excess if not v.passed else None,
        v.baseline,
        change,
        change_pct,
        verdict,
    ]


# -- GitHub Actions workflow commands ----------------------------------------------------------------
def escape_data(s: str) -> str:
    """The message of a workflow command: ``%``, CR and LF are escaped."""
    return s.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(s: str) -> str:
    """A property value (file, title): also ``:`` and ``,``."""
    return escape_data(s).replace(":", "%3A").replace(",", "%2C")


def _command(kind: str, message: str, file: str | None, line: int | None, title: str) -> str:
    props = []
    if file:
        props.append(f"file={escape_property(file)}")
        if line:
            props.append(f"line={line}")
    props.append(f"title={escape_property(title)}")
    return f"::{kind} {','.join(props)}::{escape_data(message)}"


def _is_file(spec: str) -> bool:
    return not (spec.startswith("zoo:") or spec in ("-", "<stdin>"))


def check_github(run: CheckRun, budget_lines: dict[str, dict]) -> str:
    """``::error`` per failed limit, ``::notice`` per passed one, ``::warning`` per note; each
    points at the spec file and the line of the limit's key in its ``budget:`` section.
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
        out.append(_command("notice" if v.passed else "error", verdict_summary(v), file, line, title))
    for n in run.notes:
        file = n.spec if _is_file(n.spec) else None
        kind = "notice" if n.kind == "no_limits" else "warning"
        out.append(_command(kind, f"{n.spec}: {n.message}", file, n.line, "convcalc check"))
    out.append(_headline(run)[1])
    return "\n".join(out) + "\n"


# -- convcalc diff ------------------------------------------------------------------------------------
DIFF_COLUMNS = [
    "",
    "layer",
    "type",
    "output",
    "old params",
    "new params",
    "Δ params",
    "old MACs",
    "new MACs",
    "Δ MACs",
]
DIFF_CSV_COLUMNS = [
    "status",
    "layer",
    "type",
    "output",
    "old_params",
    "new_params",
    "params_change",
    "old_macs",
    "new_macs",
    "macs_change",
]
_MARK = {"added": "+", "removed": "-", "changed": "~", "unchanged": "="}


def _shape(s) -> str:
    return "x".join(map(str, s)) if s else "-"


def _delta(n: int, style: str):
    if style == "csv":
        return n
    if n == 0:
        return "0"
    text = f"{n:+,}"
    return Styled(text, "red" if n > 0 else "green") if style == "rich" else text


def diff_doc(
    d, include_unchanged: bool = False, style: str = "rich", old_label: str = "", new_label: str = ""
) -> Doc:
    """``d``: a ``convcalc.diff.Diff``."""
    old_label, new_label = old_label or d.old_name, new_label or d.new_name
    doc = Doc(f"convcalc diff: {old_label} -> {new_label}")
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
        mark = r.status if style == "csv" else _MARK[r.status]
        if style == "rich":
            mark = Styled(
                mark, {"added": "yellow", "removed": "cyan", "changed": "magenta"}.get(r.status, "dim")
            )
        rows.append(
            [
                mark,
                name,
                typ,
                shape,
                o.get("params"),
                n.get("params"),
                _delta(r.delta("params"), style),
                o.get("macs"),
                n.get("macs"),
                _delta(r.delta("macs"), style),
            ]
        )
    columns = DIFF_COLUMNS if style != "csv" else DIFF_CSV_COLUMNS
    totals = Table(
        "Totals",
        ["metric", "old", "new", "change", "change %"],
        [
            [
                METRIC_LABELS.get(t.metric, t.metric),
                t.old,
                t.new,
                _delta(t.change, style),
                Pct(t.change_percent, signed=True),
            ]
            for t in d.totals
        ],
        right={1, 2, 3, 4},
    )
    c = d.counts()
    summary = [
        f"{c['changed']} changed, {c['added']} added, {c['removed']} removed, "
        f"{c['unchanged']} unchanged layers"
        + (
            " (unchanged rows hidden; --all shows them)"
            if c["unchanged"] and not include_unchanged and style != "csv"
            else ""
        )
    ]
    if d.alignment == "sequence":
        summary.append(
            "layer paths shifted (layers inserted or removed): layers were paired by their "
            "sequence of types and output shapes, not by path"
        )
    for metric in ("macs", "params"):
        top = d.largest(metric)
        total = next((t for t in d.totals if t.metric == metric), None)
        if top is not None:
            whole = f" (the total: {total.change:+,})" if total is not None else ""
            summary.append(
                f"largest {METRIC_LABELS[metric]} growth: {top.name} ({top.type}), "
                f"{top.delta(metric):+,}{whole}"
            )
    for k, a, b in d.settings:
        show = lambda v: _shape(v) if isinstance(v, list) else str(v)
        summary.append(
            f"warning: {k.replace('_', ' ')} differs ({show(a)} vs {show(b)}): the numbers are "
            "not like for like"
        )
    layers = Table("Layers", columns, rows, right={4, 5, 6, 7, 8, 9})
    if style == "csv":
        tp = next((t for t in d.totals if t.metric == "params"), None)
        tm = next((t for t in d.totals if t.metric == "macs"), None)
        if tp is not None and tm is not None:  # the totals, in the layer columns a script reads
            layers.footer = [["total", "", "", "", tp.old, tp.new, tp.change, tm.old, tm.new, tm.change]]
        doc.add(layers, primary=True)
        return doc
    doc.add(Note(summary, style=""))
    if rows:
        doc.add(layers, primary=True)
    else:
        doc.add(Note(["no layer changed"], style="green"))
    doc.add(totals, primary=not rows)
    return doc
