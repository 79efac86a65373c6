"""HTML: one self-contained page (inline CSS, JavaScript and SVG; nothing fetched from a network).

Every section of the document: tables (every row; click a header to sort, exact integers
compared as integers), key/value blocks, notes, bar and line charts, and the network graph
drawn as boxes and arrows with its merges (adds, concats) as their own nodes, top to bottom,
as Netscope draws Caffe nets. All text is escaped (HTML and control/bidi characters)."""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from ..doc import (
    Bar,
    Chart,
    Delta,
    Doc,
    Graph,
    GraphNode,
    KeyValue,
    Lazy,
    Mark,
    Name,
    Note,
    Pct,
    Seconds,
    Table,
    cell_text,
    human,
    safe,
)
from . import Target

NAME = "html"
HELP = "one self-contained HTML page (sortable tables, charts, the network graph)"


def esc(s: str) -> str:
    return html.escape(safe(s), quote=True)


def render(doc: Doc, target: Target) -> Iterator[str]:
    title = doc.title or "convcalc"
    yield (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="generator" content="convcalc">\n<title>{esc(title)}</title>\n'
        f"<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
    )
    if doc.title:
        badge = ""
        if doc.status is not None:
            badge = (
                '<span class="badge pass">PASS</span> '
                if doc.status
                else '<span class="badge fail">FAIL</span> '
            )
        cls = "" if doc.status is None else (' class="pass"' if doc.status else ' class="fail"')
        yield f"<h1{cls}>{badge}{esc(doc.title)}</h1>\n"
    n_table = 0
    for sec in _ordered(doc.sections):
        if isinstance(sec, Lazy):
            sec = sec.build()
        if isinstance(sec, Table):
            n_table += 1
            yield from _table(sec, n_table)
        elif isinstance(sec, KeyValue):
            yield _kv(sec)
        elif isinstance(sec, Note):
            yield _note(sec)
        elif isinstance(sec, Chart):
            yield _chart(sec)
        elif isinstance(sec, Graph):
            yield _graph(sec)
    yield f"</main>\n<script>{JS}</script>\n</body>\n</html>\n"


def _ordered(sections: list[Any]) -> list[Any]:
    """A page reads best summary first: leading notes, key/value blocks and charts, then the
    tables (with the notes between them), the graph last."""
    lead = []
    for s in sections:
        if not isinstance(s, Note):
            break
        lead.append(s)
    rest = sections[len(lead) :]
    first = [s for s in rest if isinstance(s, (KeyValue, Chart, Lazy))]
    last = [s for s in rest if isinstance(s, Graph)]
    middle = [s for s in rest if s not in first and s not in last]
    return lead + first + middle + last


# -- tables ------------------------------------------------------------------------------------


def _sort_value(v: Any) -> str:
    """The value a column sorts by: exact integers as digits (compared as BigInt), else text."""
    if isinstance(v, bool) or v is None:
        return ""
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Delta):
        return str(v.value)
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, Bar):
        return repr(v.share)
    if isinstance(v, Pct):
        return "" if v.value is None else repr(v.value)
    if isinstance(v, Seconds):
        return "" if v.value is None else repr(float(v.value))
    return ""


def _cell(v: Any, numeric: bool) -> str:
    if isinstance(v, Bar):
        pct = 100 * v.share
        text = f'<span class="bar" style="width:{min(pct, 100):.1f}%"></span><span>{pct:.1f}%</span>'
    elif isinstance(v, Mark):
        text = f'<span class="mark {esc(v.tone)}">{esc(v.text)}</span>'
    elif isinstance(v, Name):
        pad = f' style="padding-left:{1.2 * v.depth:.1f}em"' if v.depth else ""
        label = f' <span class="label">({esc(v.label)})</span>' if v.label else ""
        text = (
            f'<span class="name {esc(v.kind)}"{pad}>{esc(v.whole if not v.depth else v.text)}</span>{label}'
        )
    else:
        text = esc(cell_text(v))
        if isinstance(v, Delta) and v.value:
            text = f'<span class="{"up" if v.value > 0 else "down"}">{text}</span>'
    sv = _sort_value(v) if numeric else ""
    attr = f' data-v="{sv}"' if sv else ""
    return f"<td{attr}{' class=num' if numeric else ''}>{text}</td>"


def _table(t: Table, n: int) -> Iterator[str]:
    head = "".join(
        f'<th data-key="{esc(c.key)}"{" class=num" if c.numeric else ""} title="sort by {esc(c.header)}">'
        f"{esc(c.header)}</th>"
        for c in t.columns
    )
    title = f"<h2>{esc(t.title)}</h2>\n" if t.title else ""
    yield (
        f'<section class="table">{title}<div class="scroll"><table class="data sortable" id="table{n}">'
        f"<thead><tr>{head}</tr></thead>\n<tbody>\n"
    )
    buf: list[str] = []
    for row in t.iter_rows():
        buf.append("<tr>" + "".join(_cell(v, c.numeric) for v, c in zip(row, t.columns)) + "</tr>\n")
        if len(buf) >= 256:
            yield "".join(buf)
            buf = []
    yield "".join(buf)
    yield "</tbody>\n"
    if t.footer:
        yield (
            "<tfoot>"
            + "".join(
                "<tr>" + "".join(_cell(v, c.numeric) for v, c in zip(row, t.columns)) + "</tr>"
                for row in t.footer
            )
            + "</tfoot>\n"
        )
    yield "</table></div>"
    if t.caption:
        yield f'<p class="caption">{esc(t.caption)}</p>'
    yield "</section>\n"


def _kv(s: KeyValue) -> str:
    title = f"<h2>{esc(s.title)}</h2>" if s.title else ""
    rows = "".join(f"<tr><th>{esc(k)}</th><td class=num>{esc(cell_text(v))}</td></tr>" for k, v in s.items)
    return f'<section class="kv">{title}<table class="kv">{rows}</table></section>\n'


def _note(s: Note) -> str:
    title = f"<h2>{esc(s.title)}</h2>" if s.title else ""
    if s.code:
        body = "<pre>" + "\n".join(esc(x) for x in s.lines) + "</pre>"
    else:
        body = "".join(f'<p class="{esc(s.tone)}">{esc(x)}</p>' for x in s.lines)
    return f'<section class="note">{title}{body}</section>\n'


# -- charts ------------------------------------------------------------------------------------

COLORS = {"MACs": "#3b6fd4", "params": "#d4793b"}


def _chart(c: Chart) -> str:
    if not c.labels:
        return ""
    if c.kind == "line":
        return _line_chart(c)
    return _bar_chart(c)


def _bar_chart(c: Chart) -> str:
    """One row of bars per series (its own scale), one bar per label; hover for the numbers."""
    n = len(c.labels)
    bw = 8 if n <= 120 else 4
    left, top, h, gap = 70, 24, 110, 36
    width = left + n * bw + 20
    height = top + len(c.series) * (h + gap)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(c.title)}">'
    ]
    for k, (name, values) in enumerate(c.series.items()):
        y0 = top + k * (h + gap)
        top_value = max(values) if values else 0
        color = COLORS.get(name, "#555")
        parts.append(
            f'<text x="4" y="{y0 + 12}" class="axis">{esc(name)}</text>'
            f'<text x="4" y="{y0 + 28}" class="axis">max {esc(human(top_value))}</text>'
            f'<line x1="{left}" y1="{y0 + h}" x2="{width - 10}" y2="{y0 + h}" class="base"/>'
        )
        for i, v in enumerate(values):
            bh = 0 if not top_value else max(1 if v else 0, round(h * v / top_value))
            parts.append(
                f'<rect x="{left + i * bw}" y="{y0 + h - bh}" width="{max(bw - 1, 1)}" height="{bh}" '
                f'fill="{color}"><title>{esc(c.labels[i])}: {v:,} {esc(name)}</title></rect>'
            )
    parts.append("</svg>")
    return f'<section class="chart"><h2>{esc(c.title)}</h2><div class="scroll">{"".join(parts)}</div></section>\n'


def _line_chart(c: Chart) -> str:
    """MACs and params against x, each on its own scale, points labelled."""
    n = len(c.labels)
    w, h, left, top = 520, 220, 60, 20
    charts = []
    for name, values in c.series.items():
        top_value = max(values) or 1
        color = COLORS.get(name, "#555")
        xs = [left + (i * (w - left - 30) / max(n - 1, 1)) for i in range(n)]
        ys = [top + (h - top - 40) * (1 - v / top_value) for v in values]
        pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
        marks = "".join(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{color}"><title>{esc(c.x_title)} {esc(lab)}: '
            f"{v:,} {esc(name)}</title></circle>"
            f'<text x="{x:.1f}" y="{h - 22}" class="axis" text-anchor="middle">{esc(lab)}</text>'
            f'<text x="{x:.1f}" y="{y - 8:.1f}" class="value" text-anchor="middle">{esc(human(v))}</text>'
            for x, y, v, lab in zip(xs, ys, values, c.labels)
        )
        charts.append(
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
            f'viewBox="0 0 {w} {h}" role="img" aria-label="{esc(name)}">'
            f'<text x="{w - 10}" y="14" class="axis" text-anchor="end">{esc(name)}</text>'
            f'<line x1="{left}" y1="{h - 40}" x2="{w - 10}" y2="{h - 40}" class="base"/>'
            f'<polyline points="{pts}" fill="none" stroke="{color}" stroke-width="2"/>{marks}'
            f'<text x="{w / 2:.0f}" y="{h - 4}" class="axis" text-anchor="middle">{esc(c.x_title)}</text></svg>'
        )
    return (
        f'<section class="chart"><h2>{esc(c.title)}</h2><div class="row">{"".join(charts)}</div></section>\n'
    )


# -- the network graph -------------------------------------------------------------------------


def layout(nodes: list[GraphNode]) -> dict[str, tuple[int, int]]:
    """(rank, slot) of each node: rank = longest path from an input, slots in each rank
    ordered by the mean slot of their inputs (so branches stay side by side)."""
    rank: dict[str, int] = {}
    for nd in nodes:
        rank[nd.id] = 1 + max((rank[i] for i in nd.inputs if i in rank), default=-1)
    by_rank: dict[int, list[GraphNode]] = {}
    for nd in nodes:
        by_rank.setdefault(rank[nd.id], []).append(nd)
    slot: dict[str, float] = {}
    pos: dict[str, tuple[int, int]] = {}
    for r in sorted(by_rank):
        row = by_rank[r]
        row.sort(key=lambda nd: sum(slot.get(i, 0) for i in nd.inputs) / max(len(nd.inputs), 1))
        for k, nd in enumerate(row):
            slot[nd.id] = k - (len(row) - 1) / 2
            pos[nd.id] = (r, k)
    return pos


def _graph(g: Graph) -> str:
    nodes = g.nodes()
    if not nodes:
        return '<section class="graph"><h2>Graph</h2><p>too many layers to draw</p></section>\n'
    pos = layout(nodes)
    width_of: dict[int, int] = {}
    for nd in nodes:
        r, _ = pos[nd.id]
        width_of[r] = width_of.get(r, 0) + 1
    bw, bh, gx, gy = 190, 40, 24, 26
    cols = max(width_of.values())
    width = cols * (bw + gx) + gx
    height = (max(r for r, _ in pos.values()) + 1) * (bh + gy) + gy

    def xy(nid: str) -> tuple[float, float]:
        r, k = pos[nid]
        n = width_of[r]
        x = (width - n * (bw + gx) + gx) / 2 + k * (bw + gx)
        return x, gy + r * (bh + gy)

    edges, boxes = [], []
    for nd in nodes:
        x, y = xy(nd.id)
        for i in nd.inputs:
            if i not in pos:
                continue
            x0, y0 = xy(i)
            a, b = x0 + bw / 2, y0 + bh
            c, d = x + bw / 2, y
            m = (b + d) / 2
            edges.append(f'<path d="M{a:.1f},{b:.1f} C{a:.1f},{m:.1f} {c:.1f},{m:.1f} {c:.1f},{d - 4:.1f}"/>')
        title = nd.title if len(nd.title) <= 28 else nd.title[:13] + "…" + nd.title[-14:]
        boxes.append(
            f'<g class="node {esc(nd.kind)}" data-id="{esc(nd.id)}"><title>{esc(nd.title)}: {esc(nd.detail)}</title>'
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw}" height="{bh}" rx="6"/>'
            f'<text x="{x + bw / 2:.1f}" y="{y + 16:.1f}" text-anchor="middle">{esc(title)}</text>'
            f'<text x="{x + bw / 2:.1f}" y="{y + 31:.1f}" text-anchor="middle" class="detail">{esc(nd.detail)}</text></g>'
        )
    svg = (
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(g.title)}">'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#777"/></marker></defs>'
        f'<g class="edges">{"".join(edges)}</g>{"".join(boxes)}</svg>'
    )
    return (
        f'<section class="graph"><h2>{esc(g.title)}</h2><p class="caption">{len(nodes) - 2:,} layers; '
        "merges (add, concat) are drawn as their own nodes</p>"
        f'<div class="scroll graphbox">{svg}</div></section>\n'
    )


CSS = """
:root{--fg:#1d232b;--muted:#667;--line:#d6dbe1;--bg:#fff;--head:#f3f5f8;--good:#1a7f37;--bad:#c62828}
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--fg);background:var(--bg)}main{max-width:1400px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:4px 0 14px}h1.pass{color:var(--good)}h1.fail{color:var(--bad)}
h2{font-size:16px;margin:22px 0 8px}section{margin-bottom:10px}
.scroll{overflow:auto;max-width:100%}section.table .scroll{max-height:70vh;border:1px solid var(--line)}.graphbox{max-height:80vh;border:1px solid var(--line);border-radius:6px}
table{border-collapse:collapse}table.data{font-variant-numeric:tabular-nums;min-width:50%}
table.data th,table.data td{padding:3px 10px;border-bottom:1px solid var(--line);white-space:nowrap;text-align:left}
table.data thead th{position:sticky;top:0;background:var(--head);cursor:pointer;user-select:none}
table.data thead th.sorted-asc::after{content:" \\25B2"}table.data thead th.sorted-desc::after{content:" \\25BC"}
table.data tfoot td{font-weight:600;border-top:2px solid var(--fg)}
.num{text-align:right!important}td .bar{display:inline-block;height:9px;background:#b9c8ef;margin-right:6px;
vertical-align:middle;max-width:80px}
table.kv th{text-align:left;font-weight:normal;color:var(--muted);padding:2px 16px 2px 0}
table.kv td{padding:2px 0}.name.block{font-weight:600}.name.more{font-style:italic}.name.part{color:var(--muted)}
.label{color:var(--muted)}.mark.good{color:var(--good);font-weight:600}.mark.bad{color:var(--bad);font-weight:700}
.up{color:var(--bad)}.down{color:var(--good)}.caption,.dim{color:var(--muted)}.bad{color:var(--bad)}
.warn{color:#9a6700}pre{background:var(--head);padding:10px;overflow:auto}
.badge{font-size:13px;padding:2px 8px;border-radius:10px;color:#fff;vertical-align:middle}
.badge.pass{background:var(--good)}.badge.fail{background:var(--bad)}
svg text{font:11px system-ui,sans-serif;fill:var(--fg)}svg .axis{fill:var(--muted)}svg .value{font-size:10px}
svg .base{stroke:var(--line)}.row{display:flex;flex-wrap:wrap;gap:16px}
svg.graph .edges path{fill:none;stroke:#999;stroke-width:1.3;marker-end:url(#arrow)}
svg.graph rect{fill:#eef3fb;stroke:#7d95c5}svg.graph .merge rect{fill:#fff4e5;stroke:#d49a3b}
svg.graph .input rect,svg.graph .output rect{fill:#e9f6ec;stroke:#5aa469}svg.graph .detail{fill:var(--muted);font-size:10px}
"""

JS = """
(function () {
  function key(td) {
    if (!td) return null;
    var v = td.getAttribute('data-v');
    if (v !== null && v !== '') {
      if (/^-?[0-9]+$/.test(v)) return {n: BigInt(v)};
      var f = parseFloat(v);
      if (!isNaN(f)) return {f: f};
    }
    return {s: td.textContent.trim()};
  }
  function cmp(a, b) {
    if (a.n !== undefined && b.n !== undefined) return a.n < b.n ? -1 : (a.n > b.n ? 1 : 0);
    var x = a.n !== undefined ? Number(a.n) : a.f, y = b.n !== undefined ? Number(b.n) : b.f;
    if (x !== undefined && y !== undefined) return x - y;
    return String(a.s || '').localeCompare(String(b.s || ''), undefined, {numeric: true});
  }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var desc = !th.classList.contains('sorted-desc');
        var keyed = rows.map(function (r, i) { return [key(r.cells[col]), i, r]; });
        keyed.sort(function (a, b) { var c = cmp(a[0], b[0]); return (desc ? -c : c) || a[1] - b[1]; });
        var frag = document.createDocumentFragment();
        keyed.forEach(function (k) { frag.appendChild(k[2]); });
        body.appendChild(frag);
        Array.prototype.forEach.call(heads, function (h) { h.classList.remove('sorted-asc', 'sorted-desc'); });
        th.classList.add(desc ? 'sorted-desc' : 'sorted-asc');
      });
    });
  });
})();
"""
