"""Documents for results: one layer, one network report, several reports. Pure: builds
``Doc`` objects (sections for people, ``data`` for programs); the formats render them.

A report's layer table holds every leaf layer (CSV, Markdown, HTML); a terminal sees a bounded
tree of it (``report_view``): blocks with their subtotals and guides, the blocks of a
``repeat`` shown like written-out copies, collapsed a level at a time when the whole tree would
be too long, or the layers with the most MACs and one row summing the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from math import prod
from typing import TYPE_CHECKING, Any

from .. import receptive
from ..conventions import CONVENTIONS, DTYPE_BYTES, SHORT
from ..layers.base import Cost
from .doc import (
    Bar,
    Chart,
    Column,
    Doc,
    Graph,
    GraphNode,
    KeyValue,
    Lazy,
    Name,
    Note,
    Seconds,
    Table,
    col,
    human,
    record,
    seconds_text,
)

if TYPE_CHECKING:
    from ..devices import Profile
    from ..perf import Perf, Tally

MAX_ROWS = 100  # lines of a report's terminal table before blocks are collapsed
# Shown as their contents, not as a level: a repeat whose copies hold blocks (so its copies look
# like written-out copies), and always a copy of several items (it is those items, written out).
TRANSPARENT = frozenset({"repeat", "copy"})


def _rf_text(state: Any) -> str | None:
    """A receptive field per spatial dim (``3x3``); ``?`` for a dim that is not known exactly."""
    f = receptive.fields(state)
    return "x".join("?" if x is None else str(x) for x in f) if f else None


def _shape(shape: Any) -> str:
    return "x".join(map(str, shape))


def _num(n: int) -> str:
    short = human(n)
    return f"{n:,}" + (f"  ({short})" if short != str(n) else "")


# -- one layer -----------------------------------------------------------------------------------


def perf_columns(perf: Perf | None, drop: int = 0) -> list[Column]:
    """The traffic columns (bytes read and written, traffic, intensity), and with a device the
    latency estimate and its bound. Without a device the traffic columns are the first optional
    ones to go; with one, latency and bound are the last (``drop``: the others' base)."""
    if perf is None:
        return []
    device = perf.device is not None
    base = drop if not device else drop + 2
    cols = [
        col("bytes_read", unit="B", optional=True, drop=base + 4),
        col("bytes_written", unit="B", optional=True, drop=base + 3),
        col("memory_traffic", unit="B", optional=True, drop=base + 1),
        col("arithmetic_intensity", optional=True, drop=base + 2),
    ]
    if device:
        cols += [col("latency_s", optional=True, drop=0), col("bound", optional=True, drop=1)]
    return cols


def perf_cells(perf: Perf | None, t: Tally | None) -> list[Any]:
    """The cells of ``perf_columns`` for one line."""
    if perf is None:
        return []
    if t is None:
        return [None] * len(perf_columns(perf))
    from ..perf import intensity

    out: list[Any] = [t.read, t.written, t.read + t.written, intensity(t)]
    if perf.device is not None:
        out += [Seconds(perf.latency(t)), perf.bound(t)]
    return out


def layer_columns(perf: Perf | None = None) -> list[Column]:
    return [
        col("name", "layer"),
        col("type"),
        col("input_shape"),
        col("output_shape"),
        col("params"),
        col("macs"),
        col("flops", optional=True, drop=3),
        col("activations", optional=True, drop=2),
        col("receptive_field", optional=True, drop=1),
        *perf_columns(perf, 4),
    ]


def perf_items(perf: Perf, t: Tally) -> list[tuple[str, Any]]:
    """Key/value lines of traffic and, with a device, the latency estimate and its bound."""
    from ..perf import intensity

    ai = intensity(t)
    items: list[tuple[str, Any]] = [
        (f"memory traffic ({perf.dtype}, unfused)", _bytes(t.read + t.written)),
        ("  read (inputs + weights)", _bytes(t.read)),
        ("  written (outputs)", _bytes(t.written)),
        ("arithmetic intensity", "- (nothing moves)" if ai is None else f"{ai:,.4g} FLOP/byte"),
    ]
    if perf.device is not None:
        device = perf.device
        items.append(
            (
                "estimated latency",
                f"{seconds_text(perf.latency(t))} on {device.name} (roofline lower bound, unfused)",
            )
        )
        bound = perf.bound(t)
        ridge = f"the ridge point of {device.name} at {perf.dtype} is {_ridge(perf)} FLOP/byte"
        if bound is None:
            items.append(("bound", "- (no kernel runs)"))
        elif t.kernels == 1:
            items.append(("bound", f"{bound} ({ridge})"))
        else:
            items.append(("bound", f"{bound} ({_share(perf, t)} of the time memory-bound; {ridge})"))
    return items


def _share(perf: Perf, t: Tally) -> str:
    e = perf.estimate(t)
    share = None if e is None else e.memory_bound_share
    return "-" if share is None else f"{100 * float(share):.1f}%"


def _ridge(perf: Perf) -> str:
    """peak / bandwidth: the intensity above which a kernel is compute-bound."""
    p = perf.device
    assert p is not None
    return f"{p.peak_for(perf.dtype) / p.require_bandwidth():,.4g}"


def layer_doc(
    cost: Cost,
    batch: int = 1,
    explain: list[str] | None = None,
    name: str = "",
    config: dict | None = None,
    perf: Perf | None = None,
) -> Doc:
    """A single layer (and its parts): a summary, the parts of a composite, the formulas when
    asked, the conventions. The primary table is the layer row (and its parts). ``perf`` (at
    this batch): memory traffic, and with a device the latency estimate."""
    from ..export import cost_dict

    name = name or cost.type
    n = len(cost.input_shape) - 1
    rf_in = receptive.initial(n)
    rf_out = receptive.apply(rf_in, cost)
    dims = f" ({n}D)" if n else ""
    doc = Doc(
        f"{cost.type}{dims}: {_shape(cost.input_shape)} -> {_shape(cost.output_shape)}"
        + (f", batch {batch}" if batch != 1 else "")
    )
    data = cost_dict(cost, batch, rf_in, perf=perf)
    data["batch"] = batch
    if perf is not None:
        data["dtype"] = perf.dtype
        data["device"] = perf.device_dict()
    if config is not None:
        data["config"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in config.items()}
    if explain is not None:
        data["explain"] = explain
    doc.data = data
    items: list[tuple[str, Any]] = [
        ("input shape", _shape(cost.input_shape)),
        ("output shape", _shape(cost.output_shape)),
    ]
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
    whole = perf.tally(cost) if perf is not None else None
    if perf is not None and whole is not None:  # (both or neither)
        items += perf_items(perf, whole)
    rows = []
    if cost.parts:
        states = receptive.fold_parts(rf_in, cost.parts)
        tallies: list[Any] = perf.parts(cost) if perf is not None else [None] * len(cost.parts)
        rows = [
            _cost_row(Name(p.label or p.type, 1, "part", full=f"{name}.{p.label}"), p, batch, s, perf, t)
            for p, s, t in zip(cost.parts, states, tallies)
        ]
    table = Table(
        "Parts" if rows else "",
        layer_columns(perf),
        rows,
        footer=[_cost_row(Name(name, 0, "total"), cost, batch, rf_out, perf, whole)],
    )
    doc.add(KeyValue("", items))
    if rows:
        doc.add(table, primary=True)
    else:
        doc.primary = table  # CSV: the one row
    if explain:
        doc.add(Note(explain, title="How it is computed", tone="info", code=True))
    doc.add(Note([SHORT + "; see the docs' conventions page for all of them"]))
    return doc


def _cost_row(
    name: Name, cost: Cost, batch: int, rf_state: Any, perf: Perf | None = None, t: Tally | None = None
) -> list[Any]:
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
        *perf_cells(perf, t),
    ]


def type_text(cost: Cost) -> str:
    """The type as tables show it: with the activation function or pooling mode."""
    extra = cost.extra
    if extra:
        detail = extra.get("fn") or extra.get("mode")
        if detail:
            return f"{cost.type} {detail}"
    return cost.type


# -- network reports -----------------------------------------------------------------------------


def report_columns(sources: bool = False, perf: Perf | None = None) -> list[Column]:
    """The per-layer columns of a report (with ``sources``: spec and network first; with
    ``perf``: traffic, and with a device latency and bound, last)."""
    head = [col("spec", optional=True, drop=1), col("network")] if sources else []
    return head + [
        col("name", "layer"),
        col("label", optional=True, drop=6),
        col("type"),
        col("input_shape", optional=True, drop=7),
        col("output_shape"),
        col("params"),
        col("macs"),
        col("flops", optional=True, drop=5),
        col("activations", optional=True, drop=4),
        col("receptive_field", optional=True, drop=2),
        col("macs_share", optional=True, drop=3),
        *perf_columns(perf, 7),
    ]


@record
class Line:
    """A line of a report's tree: a layer, a part, a block (with subtotals) or the rest."""

    kind: str  # layer | part | block | more
    name: str
    text: str
    depth: int
    label: str | None
    type: str
    input_shape: Any
    output_shape: Any
    params: int
    macs: int
    flops: int
    activations: int
    rf: str | None
    tally: Any = None  # a perf.Tally when the report shows traffic


def _shown_label(name: str, label: str | None) -> str | None:
    """The label, unless the name already says it (a name is made of its labels)."""
    if not label:
        return None
    last = name[len(name) - len(label) :] if name.endswith(label) else name.rsplit(".", 1)[-1]
    if last == label or (last.startswith(label + "_") and last[len(label) + 1 :].isdigit()):
        return None
    return label


def _row_line(r: Any, depth: int, text: str, kind: str = "layer", tally: Tally | None = None) -> Line:
    return Line(
        kind,
        r.name,
        text,
        depth,
        r.label,
        type_text(r.cost),
        r.input_shape,
        r.output_shape,
        r.params,
        r.macs,
        r.flops,
        r.activations,
        _rf_text(r.rf),
        tally,
    )


def _cells(
    line: Line,
    total_macs: int,
    sources: tuple[str, str] | None = None,
    tree: bool = False,
    perf: Perf | None = None,
) -> list[Any]:
    """A line's cells; in a ``tree`` (a terminal) the label follows the name, as written."""
    head: list[Any] = list(sources) if sources else []
    return head + [
        Name(
            line.text, line.depth, line.kind, _shown_label(line.name, line.label) if tree else None, line.name
        ),
        None if tree else line.label,
        line.type,
        line.input_shape,
        line.output_shape,
        line.params,
        line.macs,
        line.flops,
        line.activations,
        line.rf,
        Bar(line.macs / total_macs) if total_macs else Bar(0.0),
        *perf_cells(perf, line.tally),
    ]


class Tree:
    """The block structure of a report for display: each block's parent and display depth
    (``repeat`` blocks are transparent: their copies sit where written-out copies would)."""

    def __init__(self, report: Any):
        self.report = report
        rows = report.rows
        blocks = [b for b in report.blocks if b.end > b.start]
        self.blocks = blocks
        # pre-order walk: blocks open at their start, close at their end
        self.row_parent: list[int] = [-1] * len(rows)  # index into blocks, -1: top level
        self.block_parent: list[int] = [-1] * len(blocks)
        self.ddepth: list[int] = [0] * len(blocks)  # display depth of each block
        self.row_depth: list[int] = [0] * len(rows)
        self.block_parent_any: list[int] = [-1] * len(blocks)  # transparent blocks included
        self.row_parent_any: list[int] = [-1] * len(rows)
        starts: dict[int, list[int]] = {}
        for k, b in enumerate(blocks):
            starts.setdefault(b.start, []).append(k)
        # a repeat whose copies hold blocks is shown as those blocks, like written-out copies;
        # a repeat of plain layers stays one (collapsible) block
        has_child_block = [False] * len(blocks)
        open_: list[int] = []
        for k, b in enumerate(blocks):
            while open_ and not self._inside(b, blocks[open_[-1]]):
                open_.pop()
            if b.kind != "copy":  # a real block: its ancestors up to the first real one hold it
                for j in reversed(open_):
                    has_child_block[j] = True
                    if blocks[j].kind != "copy":
                        break
            open_.append(k)
        self.transparent = [
            b.kind == "copy" or (b.kind in TRANSPARENT and has_child_block[k]) for k, b in enumerate(blocks)
        ]
        stack: list[int] = []
        shown: list[int] = []  # the non-transparent blocks on the stack
        for i in range(len(rows)):
            while stack and blocks[stack[-1]].end <= i:
                if shown and shown[-1] == stack[-1]:
                    shown.pop()
                stack.pop()
            for k in sorted(starts.get(i, ()), key=lambda k: blocks[k].depth):
                while stack and not self._inside(blocks[k], blocks[stack[-1]]):
                    if shown and shown[-1] == stack[-1]:
                        shown.pop()
                    stack.pop()
                self.block_parent[k] = shown[-1] if shown else -1
                self.block_parent_any[k] = stack[-1] if stack else -1
                self.ddepth[k] = len(shown)
                stack.append(k)
                if not self.transparent[k]:
                    shown.append(k)
            self.row_parent[i] = shown[-1] if shown else -1
            self.row_parent_any[i] = stack[-1] if stack else -1
            self.row_depth[i] = len(shown)

    @staticmethod
    def _inside(b: Any, outer: Any) -> bool:
        return outer.start <= b.start and b.end <= outer.end and outer.depth < b.depth

    def visible(self, k: int) -> bool:
        return not self.transparent[k]

    def rel(self, name: str, parent: int) -> str:
        """A name relative to its enclosing block (``stage2.block1.conv2`` -> ``conv2``)."""
        if parent < 0:
            return name
        p = self.blocks[parent].name
        if name.startswith(p) and len(name) > len(p) and name[len(p)] in ".[":
            rest = name[len(p) :]
            return rest[1:] if rest[0] == "." else rest
        return name

    def lines_at(self, level: int) -> int:
        """Lines of the tree with blocks at display depth ``level`` collapsed."""
        n = sum(1 for d in self.row_depth if d <= level)
        return n + sum(1 for k, d in enumerate(self.ddepth) if d <= level and self.visible(k))

    def full_lines(self) -> int:
        parts = sum(len(r.cost.parts) for r in self.report.rows)
        return len(self.report.rows) + sum(1 for k in range(len(self.blocks)) if self.visible(k)) + parts


def aggregate(report: Any, start: int, end: int, perf: Perf | None = None) -> dict[str, Any]:
    rs = report.rows[start:end]
    return {
        "tally": perf.totals(r.cost for r in rs) if perf is not None else None,
        "layers": len(rs),
        "input": rs[0].input_shape if rs else None,
        "output": rs[-1].output_shape if rs else None,
        "params": sum(r.cost.params for r in rs),
        "macs": sum(r.cost.macs for r in rs) * report.batch,
        "flops": sum(r.cost.flops for r in rs) * report.batch,
        "activations": sum(prod(r.cost.output_shape) for r in rs) * report.batch,
        "rf": _rf_text(rs[-1].rf) if rs else None,
    }


def _block_line(tree: Tree, k: int, collapsed: bool, perf: Perf | None = None) -> Line:
    b = tree.blocks[k]
    agg = aggregate(tree.report, b.start, b.end, perf)
    n = agg["layers"]
    return Line(
        "block",
        b.name,
        tree.rel(b.name, tree.block_parent[k]),
        tree.ddepth[k],
        b.label,
        f"{b.kind}, {n} layer{'s' if n != 1 else ''}" if collapsed else b.kind,
        agg["input"],
        agg["output"],
        agg["params"],
        agg["macs"],
        agg["flops"],
        agg["activations"],
        agg["rf"],
        agg["tally"],
    )


def tree_lines(report: Any, level: int | None, parts: bool, perf: Perf | None = None) -> list[Line]:
    """The tree in execution order; blocks at display depth ``level`` collapsed (None: none)."""
    from ..network import iter_parts

    tree = Tree(report)
    starts: dict[int, list[int]] = {}
    for k, b in enumerate(tree.blocks):
        starts.setdefault(b.start, []).append(k)
    part_rows = iter_parts(report) if parts else None
    out: list[Line] = []
    i, n = 0, len(report.rows)
    while i < n:
        skip_to = None
        for k in sorted(starts.get(i, ()), key=lambda k: tree.blocks[k].depth):
            if not tree.visible(k):
                continue
            if level is not None and tree.ddepth[k] >= level:
                out.append(_block_line(tree, k, True, perf))
                skip_to = tree.blocks[k].end
                break
            out.append(_block_line(tree, k, False, perf))
        if skip_to is not None:
            if part_rows is not None:
                for _ in range(skip_to - i):
                    next(part_rows)
            i = skip_to
            continue
        r = report.rows[i]
        d = tree.row_depth[i]
        out.append(_row_line(r, d, tree.rel(r.name, tree.row_parent[i]), tally=_tally(perf, r)))
        if part_rows is not None:
            _, ps = next(part_rows)
            tallies: list[Any] = perf.parts(r.cost) if perf is not None and ps else [None] * len(ps)
            for p, t in zip(ps, tallies):
                out.append(_row_line(p, d + 1, p.name[len(r.name) + 1 :], "part", t))
        i += 1
    return out


def _tally(perf: Perf | None, r: Any) -> Tally | None:
    return perf.tally(r.cost) if perf is not None else None


def top_lines(report: Any, top: int, perf: Perf | None = None) -> tuple[list[Line], str]:
    """The ``top`` layers with the most MACs (ties: the earlier layer first), in network
    order, and one line summing the rest, so the lines add up to the totals."""
    rows = report.rows
    n = len(rows)
    keep = sorted(sorted(range(n), key=lambda i: (-rows[i].macs, i))[:top])
    out = [_row_line(rows[i], 0, rows[i].name, tally=_tally(perf, rows[i])) for i in keep]
    rest = n - len(keep)
    if rest:
        kept = set(keep)
        others = [rows[i] for i in range(n) if i not in kept]
        out.append(
            Line(
                "more",
                f"{rest} more layers",
                f"{rest:,} more layer{'s' if rest != 1 else ''}",
                0,
                None,
                "",
                None,
                None,
                sum(r.params for r in others),
                sum(r.macs for r in others),
                sum(r.flops for r in others),
                sum(r.activations for r in others),
                None,
                perf.totals(r.cost for r in others) if perf is not None else None,
            )
        )
    caption = (
        f"the {len(keep):,} of {n:,} layers with the most MACs (ties: the earlier layer), in network "
        "order; the last row sums the others"
    )
    return out, caption


def report_view(
    report: Any,
    top: int | None,
    depth: int | None,
    max_rows: int | None,
    parts: bool = True,
    perf: Perf | None = None,
) -> tuple[list[Line], str]:
    """The lines a bounded table shows, and a caption saying how they were chosen."""
    if top is not None:
        return top_lines(report, top, perf)
    tree = Tree(report)
    if depth is not None:
        return tree_lines(report, depth, False, perf), (
            f"blocks at level {depth} and deeper are summarised (block rows show the subtotals of their layers)"
        )
    if max_rows is None or tree.full_lines() <= max_rows:
        return tree_lines(report, None, parts, perf), (
            "block rows show the subtotals of the layers under them" if tree.blocks else ""
        )
    max_level = max(tree.ddepth, default=-1)
    best = None
    for level in range(max_level + 1):
        if tree.lines_at(level) <= max_rows:
            best = level
        else:
            break
    if best is None:
        lines, caption = top_lines(report, max_rows // 2, perf)
        return lines, caption + "; --top N, --depth D or --format json/csv/html for every layer"
    return tree_lines(report, best, False, perf), (
        f"{len(report.rows):,} layers: blocks at level {best} and deeper are summarised, block rows "
        "show their subtotals; --depth D, --top N or --format json/csv/html for every layer"
    )


def _flat_lines(report: Any, perf: Perf | None = None) -> Iterator[Line]:
    for r in report.rows:  # full names: no indentation
        yield _row_line(r, 0, r.name, tally=_tally(perf, r))


def layer_table(
    report: Any,
    top: int | None = None,
    depth: int | None = None,
    max_rows: int | None = MAX_ROWS,
    sources: tuple[str, str] | None = None,
    perf: Perf | None = None,
    whole: Tally | None = None,
) -> Table:
    """The per-layer table: every leaf layer (``rows``) or, with --top/--depth, their
    selection; a terminal sees ``report_view``. ``perf``: traffic columns (and latency with
    a device); ``whole``: the report's sums, when already known."""
    total = report.macs
    if perf is not None and whole is None:
        from ..export import report_tally

        whole = report_tally(report, perf)

    def cells(lines: Iterable[Line], tree: bool = False) -> Iterator[list[Any]]:
        for line in lines:
            yield _cells(line, total, sources, tree, perf)

    if top is None and depth is None:

        def rows() -> Iterator[list[Any]]:
            return cells(_flat_lines(report, perf))

    else:
        chosen, _ = report_view(report, top, depth, None, parts=False, perf=perf)

        def rows() -> Iterator[list[Any]]:
            return cells(chosen)

    def view() -> tuple[list[list[Any]], str]:
        lines, caption = report_view(report, top, depth, max_rows, perf=perf)
        return list(cells(lines, tree=True)), caption

    columns = report_columns(bool(sources), perf)
    footer = [
        (list(sources) if sources else [])
        + [
            Name("total", 0, "total"),
            None,
            "",
            report.input_shape,
            report.output_shape,
            report.params,
            report.macs,
            report.flops,
            report.activations,
            None,
            Bar(1.0 if report.macs else 0.0),
            *perf_cells(perf, whole),
        ]
    ]
    return Table("Layers", columns, rows, footer=footer, view=view)


def report_doc(
    report: Any,
    dtype: str = "fp32",
    top: int | None = None,
    depth: int | None = None,
    max_rows: int | None = MAX_ROWS,
    data: bool = True,
    device: Profile | None = None,
) -> Doc:
    """A network report: the layer table, totals, totals per type, conventions; for HTML a
    chart per layer and the graph. ``data``: the JSON report (layers streamed). Memory traffic
    at ``dtype`` per layer and in total; with a ``device`` the latency estimate too."""
    from ..export import memory, perf_of, report_dict, report_tally

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
    perf = perf_of(report, dtype, device)
    whole = report_tally(report, perf)
    if data:
        doc.data = report_dict(report, dtype, lazy=True, device=device, whole=whole)
    if getattr(net, "description", ""):
        doc.add(Note([net.description], tone="info"))
    from ..layers.tensor import zero_cost_warnings

    warnings = zero_cost_warnings([r.cost for r in report.rows])
    if warnings:  # operations counted as zero (--allow-unknown): never a silent zero
        doc.add(Note(warnings, title="Warning", tone="bad"))
    if device is not None:
        doc.add(Note([latency_headline(perf, whole)], tone="bold"))
    doc.add(layer_table(report, top, depth, max_rows, perf=perf, whole=whole), primary=True)
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
                *perf_items(perf, whole),
            ],
        )
    )
    doc.add(by_type_table(report))
    doc.add(Lazy(lambda: layer_chart(report)))
    doc.add(Graph(f"{report.name}: graph", lambda: graph_nodes(report)))
    doc.add(Note([f"{k}: {v}" for k, v in CONVENTIONS.items()], title="Conventions"))
    return doc


def _bytes(n: int) -> str:
    short = human(n, "B")
    return f"{n:,} B" + (f"  ({short})" if short != f"{n} B" else "")


def latency_headline(perf: Perf, t: Tally) -> str:
    """``estimated latency on DEVICE (roofline lower bound, unfused): 1.234 ms, ...``."""
    from ..perf import share_text

    share = share_text(perf, t)
    return (
        f"{perf.headline()}: {seconds_text(perf.latency(t))} at {perf.dtype}"
        + (f", batch {perf.batch}" if perf.batch != 1 else "")
        + (f"; {share}" if share else "")
    )


def by_type_table(report: Any) -> Table:
    """Totals per layer type, like MobileNet's Table 2. "weights %" is each type's share of the
    conv + linear parameters alone (what the papers count: no batchnorm)."""
    from .doc import Pct

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
                Pct(100 * v["params"] / tp),
                Pct(100 * v["params"] / tw) if v["macs"] else None,
                v["macs"],
                Pct(100 * v["macs"] / tm),
                v["flops"],
            ]
        )
    return Table(
        "By layer type (composites counted by their parts)",
        [
            col("type"),
            col("layers", numeric=True),
            col("params"),
            col("params_pct", "params %", numeric=True, optional=True, drop=2),
            col("weights_pct", "weights %", numeric=True, optional=True, drop=1),
            col("macs"),
            col("macs_pct", "MACs %", numeric=True, optional=True, drop=3),
            col("flops", optional=True, drop=4),
        ],
        rows,
        caption="weights %: share of the conv and linear parameters (no batchnorm), as papers count",
    )


MAX_CHART_BARS = 400


def layer_chart(report: Any) -> Chart:
    """MACs and params per layer (or per top-level block, or the largest layers, for big nets)."""
    rows = report.rows
    if len(rows) <= MAX_CHART_BARS:
        labels = [r.name + (f" ({r.label})" if r.label else "") for r in rows]
        macs = [r.macs for r in rows]
        params = [r.params for r in rows]
        title = "MACs and params per layer"
    else:
        lines, _ = report_view(report, None, None, MAX_CHART_BARS, parts=False)
        labels = [ln.name for ln in lines]
        macs = [ln.macs for ln in lines]
        params = [ln.params for ln in lines]
        title = "MACs and params per block"
    return Chart(title, "bar", labels, {"MACs": macs, "params": params})


MAX_GRAPH_NODES = 2000


def graph_nodes(report: Any) -> list[GraphNode]:
    """The network as (node, inputs): from the rows' ``inputs`` when the report has them,
    else derived from the blocks (a residual's add reads its body and shortcut, a concat its
    branches). Empty past ``MAX_GRAPH_NODES``."""
    rows = report.rows
    if len(rows) > MAX_GRAPH_NODES:
        return []
    nodes = [GraphNode("input", (), "input", _shape(report.input_shape), "input")]

    def node(r: Any, inputs: tuple[str, ...]) -> GraphNode:
        kind = "merge" if len(inputs) > 1 or r.type in ("add", "concat", "mul") else "layer"
        title = r.name + (f" ({r.label})" if r.label else "")
        return GraphNode(r.name, inputs, title, f"{type_text(r.cost)} {_shape(r.output_shape)}", kind)

    if rows and all(getattr(r, "inputs", None) is not None for r in rows):
        known = {r.name for r in rows}
        for r in rows:
            ins = tuple(x if x in known else "input" for x in r.inputs)
            nodes.append(node(r, ins or ("input",)))
        outs = getattr(report, "outputs", None) or [rows[-1].name]
        for k, o in enumerate(outs):
            oid = o if isinstance(o, str) else getattr(o, "name", str(o))
            nodes.append(
                GraphNode(f"output{k}", (oid if oid in known else rows[-1].name,), "output", "", "output")
            )
        return nodes

    tree = Tree(report)
    children: dict[int, list[tuple[str, int]]] = {}  # block -> [("row"|"block", index)]
    top: list[tuple[str, int]] = []
    for k in range(len(tree.blocks)):
        p = tree.block_parent_any[k]
        (children.setdefault(p, []) if p >= 0 else top).append(("block", k))
    for i in range(len(rows)):
        p = tree.row_parent_any[i]
        (children.setdefault(p, []) if p >= 0 else top).append(("row", i))

    def order(items: list[tuple[str, int]]) -> list[tuple[str, int]]:
        def start(it: tuple[str, int]) -> tuple[int, int]:
            kind, idx = it
            return (tree.blocks[idx].start, 0) if kind == "block" else (idx, 1)

        return sorted(items, key=start)

    def chain(items: list[tuple[str, int]], x: str) -> str:
        for it in order(items):
            x = emit(it, x)
        return x

    def emit(it: tuple[str, int], x: str) -> str:
        kind, idx = it
        if kind == "row":
            nodes.append(node(rows[idx], (x,)))
            return rows[idx].name
        b = tree.blocks[idx]
        items = children.get(idx, [])
        if b.kind in ("residual", "concat"):
            last = rows[b.end - 1]
            groups: dict[str, list[tuple[str, int]]] = {}
            for c in items:
                cname = rows[c[1]].name if c[0] == "row" else tree.blocks[c[1]].name
                if c == ("row", b.end - 1):
                    continue
                rest = cname[len(b.name) :].lstrip(".")
                key = rest.split(".")[0].split("[")[0] + (
                    rest.split("]")[0] if rest.startswith("branches") else ""
                )
                groups.setdefault(key, []).append(c)
            ins = tuple(chain(g, x) for g in groups.values())
            if b.kind == "residual" and len(ins) < 2:
                ins = ins + (x,)  # identity shortcut
            nodes.append(node(last, ins or (x,)))
            return last.name
        return chain(items, x)

    last = chain(top, "input")
    nodes.append(GraphNode("output", (last,), "output", _shape(report.output_shape), "output"))
    return nodes


# -- several reports -----------------------------------------------------------------------------


def summary_columns(device: bool = False) -> list[Column]:
    latency = [col("latency_s", optional=True, drop=0)] if device else []
    return [
        col("spec", optional=True, drop=2),
        col("network"),
        col("input_shape", optional=True, drop=3),
        col("output_shape", optional=True, drop=4),
        col("params"),
        col("macs"),
        col("flops", optional=True, drop=5),
        col("activations", optional=True, drop=6),
        col("memory", "memory (B)", unit="B", optional=True, drop=1),
        col("memory_traffic", unit="B", optional=True, drop=7),
        *latency,
    ]


def summary_dicts(reports: list[Any], dtype: str, device: Profile | None = None) -> list[dict[str, Any]]:
    from ..export import totals

    return [
        {
            "name": r.name,
            "source": r.network.source,
            "input_shape": list(r.input_shape),
            "output_shape": list(r.output_shape),
            **totals(r, dtype, device),
        }
        for r in reports
    ]


def summary_table(
    reports: list[Any], dtype: str, title: str = "Summary", device: Profile | None = None
) -> Table:
    rows = [
        [
            source_of(r),
            s["name"],
            tuple(s["input_shape"]),
            tuple(s["output_shape"]),
            s["params"],
            s["macs"],
            s["flops"],
            s["activations"],
            s["memory"],
            s["memory_traffic"],
            *([Seconds(s["latency_s"])] if device is not None else []),
        ]
        for r, s in zip(reports, summary_dicts(reports, dtype, device))
    ]
    cols = summary_columns(device is not None)
    for c in cols:
        if c.key == "memory":
            c.header = f"memory ({dtype}, B)"
        elif c.key == "memory_traffic":
            c.header = f"traffic ({dtype}, B)"
    caption = f"latency: {perf_headline_of(device)}" if device is not None else ""
    return Table(title, cols, rows, caption=caption)


def perf_headline_of(device: Profile) -> str:
    from ..perf import HEADLINE

    return HEADLINE.format(device=device.name)


def source_of(report: Any) -> str:
    return str(getattr(report.network, "source", "") or "-")


def multi_report_doc(
    reports: list[Any], dtype: str, top: int | None, depth: int | None, device: Profile | None = None
) -> Doc:
    """Several specs: each report's sections under its title, then a summary naming each
    network by its file and name. CSV: one table of every layer with spec and network first."""
    from ..export import perf_of, report_dict

    doc = Doc()
    doc.data = {
        "reports": [report_dict(r, dtype, device=device) for r in reports],
        "summary": summary_dicts(reports, dtype, device),
    }
    for r in reports:
        part = report_doc(r, dtype, top, depth, data=False, device=device)
        doc.sections.append(Note([f"{part.title}  [{source_of(r)}]"], tone="bold"))
        doc.sections.extend(s for s in part.sections if not isinstance(s, Graph))
    summary = summary_table(reports, dtype, device=device)
    doc.add(summary)
    perfs = [perf_of(r, dtype, device) for r in reports]
    tables = [
        layer_table(r, top, depth, sources=(source_of(r), r.name), perf=p) for r, p in zip(reports, perfs)
    ]

    def rows() -> Iterator[list[Any]]:
        for t in tables:
            yield from t.iter_rows()

    every = Table("Layers of every network", report_columns(True, perfs[0] if perfs else None), rows)
    doc.primary = every  # CSV: every layer; --columns picks from it
    return doc


def sweep_doc(
    reports: list[Any],
    dtype: str,
    widths: list[float],
    resolutions: list[Any],
    device: Profile | None = None,
) -> Doc:
    """A sweep (--width-mult / --resolution lists): one summary row per variant, and for HTML
    MACs and params against the multiplier (or resolution)."""
    from ..export import report_dict

    doc = Doc(f"{len(reports)} variants")
    doc.data = {
        "reports": [report_dict(r, dtype, device=device) for r in reports],
        "summary": summary_dicts(reports, dtype, device),
    }
    table = summary_table(reports, dtype, "Summary", device)
    for row, r in zip(table.rows if isinstance(table.rows, list) else [], reports):
        row[1] = r.network.name  # the width and resolution have columns of their own
    for k, extra in enumerate((col("width_mult", "width", numeric=True), col("resolution", numeric=True))):
        table.columns.insert(2 + k, extra)
    for row, r in zip(table.rows if isinstance(table.rows, list) else [], reports):
        row.insert(2, _fmt_float(r.width_mult))
        row.insert(3, "x".join(map(str, r.input_shape[1:])) or "-")
    doc.add(table, primary=True)
    doc.add(Note(["MACs and params as in the reports; --format json gives every layer of every variant"]))
    specs = sorted({source_of(r) for r in reports})
    for spec in specs:
        mine = [r for r in reports if source_of(r) == spec]
        if len(widths) > 1:
            for res in resolutions:
                sel = [
                    r
                    for r in mine
                    if res is None
                    or r.input_shape[1:]
                    == (res if isinstance(res, tuple) else (res,) * (len(r.input_shape) - 1))
                ]
                if len(sel) > 1:
                    doc.add(_sweep_chart(sel, "width multiplier", [_fmt_float(r.width_mult) for r in sel]))
        if len(resolutions) > 1:
            for w in widths:
                sel = [r for r in mine if r.width_mult == w]
                if len(sel) > 1:
                    doc.add(
                        _sweep_chart(sel, "resolution", ["x".join(map(str, r.input_shape[1:])) for r in sel])
                    )
    return doc


def _sweep_chart(reports: list[Any], x_title: str, xs: list[str]) -> Chart:
    name = reports[0].network.name
    return Chart(
        f"{name}: MACs and params against the {x_title}",
        "line",
        xs,
        {"MACs": [r.macs for r in reports], "params": [r.params for r in reports]},
        x_title,
    )


def _fmt_float(x: float) -> str:
    return f"{x:g}"
