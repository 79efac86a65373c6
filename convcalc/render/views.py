"""Documents for results: one layer, one network report. Pure: builds Doc objects only."""

from __future__ import annotations

from .. import receptive
from ..budget import human
from ..conventions import CONVENTIONS, DTYPE_BYTES, SHORT
from ..layers.base import Cost
from .doc import Bar, Doc, KeyValue, Note, Table

LAYER_COLUMNS = [
    "layer",
    "type",
    "input",
    "output",
    "params",
    "MACs",
    "FLOPs",
    "activations",
    "receptive field",
]
NUMERIC = {4, 5, 6, 7}


def _rf_text(state) -> str | None:
    f = receptive.fields(state)
    return "x".join(map(str, f)) if f else None


def layer_doc(cost: Cost, batch: int = 1, explain: list[str] | None = None, name: str = "") -> Doc:
    """A single layer (and its parts) as a document: a summary, the parts of a composite, the
    formulas when asked, the conventions. CSV/Markdown's table is the layer row (and parts)."""
    name = name or cost.type
    n = len(cost.input_shape) - 1
    rf_in = receptive.initial(n)
    rf_out = receptive.apply(rf_in, cost)
    dims = f" ({n}D)" if n else ""
    doc = Doc(
        f"{cost.type}{dims}: {_shape(cost.input_shape)} -> {_shape(cost.output_shape)}"
        + (f", batch {batch}" if batch != 1 else "")
    )
    items = [("input shape", _shape(cost.input_shape)), ("output shape", _shape(cost.output_shape))]
    if cost.extra and "weight_shape" in cost.extra:
        items.append(("weight shape", _shape(cost.extra["weight_shape"])))
    items += [
        ("params", _num(cost.params)),
        ("MACs", _num(cost.macs * batch)),
        ("FLOPs", _num(cost.flops * batch)),
        ("activations", _num(cost.activations * batch)),
        ("receptive field", _rf_text(rf_out)),
    ]
    if cost.extra and "zero_insertion_macs" in cost.extra:
        z = cost.extra["zero_insertion_macs"] * batch
        ratio = z / max(cost.macs * batch, 1)
        items.append((f"MACs of the zero-insertion view ({ratio:.2f}x)", _num(z)))
    rows = []
    if cost.parts:
        states = receptive.fold_parts(rf_in, cost.parts)
        rows = [_cost_row(f"  {name}.{p.label}", p, batch, s) for p, s in zip(cost.parts, states)]
    table = Table(
        "Parts" if rows else "",
        LAYER_COLUMNS,
        rows,
        right=NUMERIC,
        indent_col=0,
        footer=[_cost_row(name, cost, batch, rf_out)],
    )
    doc.add(KeyValue("", items))
    if rows:
        doc.add(table, primary=True)
    else:
        doc.primary = table  # CSV / Markdown: the one row
    if explain:
        doc.add(Note(explain, title="How it is computed", style="", code=True))
    doc.add(Note([SHORT + "; see the README for all conventions"]))
    return doc


def _num(n: int) -> str:
    short = human(n)
    return f"{n:,}" + (f"  ({short})" if short != str(n) else "")


def _cost_row(name: str, cost: Cost, batch: int, rf_state) -> list:
    return [
        name,
        cost.type,
        cost.input_shape,
        cost.output_shape,
        cost.params,
        cost.macs * batch,
        cost.flops * batch,
        cost.activations * batch,
        _rf_text(rf_state),
    ]


def _shape(shape) -> str:
    return "x".join(map(str, shape))


def type_text(cost: Cost) -> str:
    """The type as tables show it: with the activation function or pooling mode."""
    extra = cost.extra
    if extra:
        detail = extra.get("fn") or extra.get("mode")
        if detail:
            return f"{cost.type} {detail}"
    return cost.type


# -- network reports ---------------------------------------------------------------------------
REPORT_COLUMNS = [
    "layer",
    "type",
    "output",
    "params",
    "MACs",
    "FLOPs",
    "activations",
    "receptive field",
    "MACs share",
]
FLAT_COLUMNS = [
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
]


def report_doc(
    report,
    dtype: str = "fp32",
    top: int | None = None,
    depth: int | None = None,
    flat: bool = False,
    max_rows: int = 100,
) -> Doc:
    """A network report. The Rich view (``flat=False``) is an indented tree with block headers
    and composite parts, summarised past ``max_rows`` lines; the flat view (CSV, Markdown) has
    one row per leaf layer, exactly the JSON's ``layers``, unless --top/--depth ask otherwise."""
    from ..export import memory

    net = report.network
    outs = getattr(report, "outputs", None) or {}
    if len(outs) > 1:  # several outputs (an FPN): each with its name
        title = f"{report.name}: {_shape(report.input_shape)} -> " + ", ".join(
            f"{n} {_shape(sh)}" for n, sh in outs.items()
        )
    else:
        title = f"{report.name}: {_shape(report.input_shape)} -> {_shape(report.output_shape)}"
    extras = []
    if report.batch != 1:
        extras.append(f"batch {report.batch}")
    if report.width_mult != 1:
        extras.append(f"width x{report.width_mult:g}")
    doc = Doc(title + (f" ({', '.join(extras)})" if extras else ""))
    if net.description:
        doc.add(Note([net.description], style="italic"))
    from ..layers.tensor import zero_cost_warnings

    warnings = zero_cost_warnings([r.cost for r in report.rows])
    if warnings:
        doc.add(Note(warnings, title="Warning", style="bold yellow"))
    doc.add(
        flat_table(report, top, depth) if flat else tree_table(report, top, depth, max_rows), primary=True
    )
    mem = memory(report, dtype)
    b = DTYPE_BYTES[dtype]
    doc.add(
        KeyValue(
            "Totals",
            [
                ("layers", len(report.rows)),
                ("params", f"{report.params:,}  ({human(report.params)})"),
                ("MACs", f"{report.macs:,}  ({human(report.macs)})"),
                ("FLOPs", f"{report.flops:,}  ({human(report.flops)})"),
                ("activations", f"{report.activations:,}  ({human(report.activations)})"),
                (f"weights ({dtype}, {b} B each)", _bytes(mem["weight_bytes"])),
                (f"all activations ({dtype})", _bytes(mem["activation_bytes"])),
                (f"peak live activations ({dtype})", _bytes(mem["peak_activation_bytes"])),
                ("memory (weights + peak)", _bytes(mem["memory"])),
            ],
        )
    )
    doc.add(by_type_table(report))
    doc.add(Note([f"{k}: {v}" for k, v in CONVENTIONS.items()], title="Conventions"))
    return doc


def _bytes(n: int) -> str:
    return f"{n:,} B  ({human(n, 'B')})"


def tree_table(report, top, depth, max_rows) -> Table:
    total_macs = report.macs or 1
    lines, note = _select(report, top, depth, max_rows, with_parts=True)
    rows = []
    for kind, obj, d in lines:
        indent = "  " * d
        if kind in ("row", "part"):
            r = obj
            label = f" ({r.label})" if r.label else ""
            rows.append(
                [
                    indent + r.name + label,
                    type_text(r.cost),
                    r.output_shape,
                    r.params,
                    r.macs,
                    r.flops,
                    r.activations,
                    _rf_text(r.rf),
                    Bar(r.macs / total_macs),
                ]
            )
        elif kind == "block":
            b, agg = obj
            label = f" ({b.label})" if b.label else ""
            rows.append(
                [
                    indent + b.name + label,
                    f"{b.kind} ({agg['layers']} layers)",
                    agg["output"],
                    agg["params"],
                    agg["macs"],
                    agg["flops"],
                    agg["activations"],
                    agg["rf"],
                    Bar(agg["macs"] / total_macs),
                ]
            )
        else:  # the header of an expanded block
            b = obj
            label = f" ({b.label})" if b.label else ""
            rows.append([indent + b.name + label, b.kind, None, None, None, None, None, None, None])
    footer = [
        [
            "total",
            "",
            report.output_shape,
            report.params,
            report.macs,
            report.flops,
            report.activations,
            None,
            Bar(1.0 if report.macs else 0.0),
        ]
    ]
    return Table(
        "Layers", REPORT_COLUMNS, rows, right={3, 4, 5, 6}, footer=footer, indent_col=0, caption=note
    )


def flat_table(report, top, depth) -> Table:
    total_macs = report.macs or 1
    if top is None and depth is None:
        lines, note = [("row", r, 0) for r in report.rows], ""
    else:
        lines, note = _select(report, top, depth, None, with_parts=False)
    rows = []
    for kind, obj, _ in lines:
        if kind == "row":
            r = obj
            rows.append(
                [
                    r.name,
                    r.label,
                    r.type,
                    r.input_shape,
                    r.output_shape,
                    r.params,
                    r.macs,
                    r.flops,
                    r.activations,
                    _rf_text(r.rf),
                    Bar(r.macs / total_macs),
                ]
            )
        elif kind == "block":
            b, agg = obj
            rows.append(
                [
                    b.name,
                    b.label,
                    b.kind,
                    agg["input"],
                    agg["output"],
                    agg["params"],
                    agg["macs"],
                    agg["flops"],
                    agg["activations"],
                    agg["rf"],
                    Bar(agg["macs"] / total_macs),
                ]
            )
    footer = [
        [
            "total",
            None,
            None,
            report.input_shape,
            report.output_shape,
            report.params,
            report.macs,
            report.flops,
            report.activations,
            None,
            Bar(1.0 if report.macs else 0.0),
        ]
    ]
    return Table("Layers", FLAT_COLUMNS, rows, right={5, 6, 7, 8}, footer=footer, caption=note)


def by_type_table(report) -> Table:
    """Totals per layer type, like MobileNet's Table 2. "weights %" is each type's share of the
    conv + linear parameters alone (what the papers count: no batchnorm)."""
    bt = report.by_type()
    tm, tp = report.macs or 1, report.params or 1
    tw = sum(v["params"] for v in bt.values() if v["macs"]) or 1
    rows = []
    for t, v in sorted(bt.items(), key=lambda kv: (-kv[1]["macs"], -kv[1]["params"], kv[0])):
        rows.append(
            [
                t,
                v["layers"],
                v["params"],
                f"{100 * v['params'] / tp:.2f}%",
                f"{100 * v['params'] / tw:.2f}%" if v["macs"] else None,
                v["macs"],
                f"{100 * v['macs'] / tm:.2f}%",
                v["flops"],
            ]
        )
    return Table(
        "By layer type (composites counted by their parts)",
        ["type", "layers", "params", "params %", "weights %", "MACs", "MACs %", "FLOPs"],
        rows,
        right={1, 2, 3, 4, 5, 6, 7},
        caption="weights %: share of the conv and linear parameters (no batchnorm), as papers count",
    )


def _select(report, top, depth, max_rows, with_parts: bool):
    """Which lines a table shows: ("row"|"part", Row, depth), ("head", Block, depth) or
    ("block", (Block, aggregate), depth). Returns (lines, caption)."""
    from ..network import iter_parts

    n = len(report.rows)
    if top is not None:
        keep = sorted(sorted(range(n), key=lambda i: -report.rows[i].macs)[:top])
        return (
            [("row", report.rows[i], 0) for i in keep],
            f"the {len(keep)} of {n} layers with the most MACs, in execution order",
        )
    parts = iter_parts(report) if with_parts else None
    if depth is not None:
        return _expanded(
            report, None, depth, heads=with_parts
        ), f"blocks at level {depth} and deeper are summarised"
    full = n + len(report.blocks) + sum(len(r.cost.parts) for r in report.rows)
    if max_rows is None or full <= max_rows:
        return _expanded(report, parts, None, heads=with_parts), ""
    depth = _fitting_depth(report, max_rows)
    if depth is None:
        lines, _ = _select(report, max_rows // 2, None, max_rows, with_parts)
        return lines, (
            f"showing the {max_rows // 2} of {n} layers with the most MACs; "
            "--top N, --depth D or --format json/csv for all"
        )
    return (
        _expanded(report, None, depth, heads=with_parts),
        f"{n:,} layers: blocks at level {depth} and deeper are summarised; --depth D, --top N "
        "or --format json/csv for all",
    )


def _fitting_depth(report, max_rows):
    best = None
    max_depth = max((r.depth for r in report.rows), default=0)
    for d in range(max_depth + 1):
        if _count_lines(report, d) <= max_rows:
            best = d
        else:
            break
    return best


def _count_lines(report, depth) -> int:
    """Lines of the table at ``depth``: leaves and blocks at that depth or shallower
    (blocks at ``depth`` are collapsed into one line)."""
    return sum(1 for r in report.rows if r.depth <= depth) + sum(
        1 for b in report.blocks if b.depth <= depth and b.end > b.start
    )


def _expanded(report, with_parts, depth, heads: bool = True):
    """Lines in execution order: block headers, rows, parts; blocks at ``depth`` collapsed."""
    rows, blocks = report.rows, report.blocks
    starts: dict[int, list] = {}
    for b in blocks:
        if b.end > b.start:
            starts.setdefault(b.start, []).append(b)
    parts_of = {}
    if with_parts is not None:
        for i, (_row, parts) in enumerate(with_parts):
            if parts:
                parts_of[i] = parts
    out = []
    i = 0
    n = len(rows)
    while i < n:
        collapsed = None
        for b in starts.get(i, []):  # outermost first (blocks were recorded on entry)
            if depth is not None and b.depth >= depth:
                collapsed = b
                break
            if heads:
                out.append(("head", b, b.depth))
        if collapsed is not None:
            out.append(("block", (collapsed, _aggregate(report, collapsed)), collapsed.depth))
            i = max(collapsed.end, i + 1)
            continue
        r = rows[i]
        out.append(("row", r, r.depth))
        for p in parts_of.get(i, ()):
            out.append(("part", p, r.depth + 1))
        i += 1
    return out


def _aggregate(report, b) -> dict:
    rs = report.rows[b.start : b.end]
    from math import prod

    return {
        "layers": len(rs),
        "input": rs[0].input_shape if rs else None,
        "output": rs[-1].output_shape if rs else None,
        "params": sum(r.cost.params for r in rs),
        "macs": sum(r.cost.macs for r in rs) * report.batch,
        "flops": sum(r.cost.flops for r in rs) * report.batch,
        "activations": sum(prod(r.cost.output_shape) for r in rs) * report.batch,
        "rf": _rf_text(rs[-1].rf) if rs else None,
    }
