"""Documents for `convcalc fit` and `convcalc solve` (table, Markdown and CSV share them;
JSON comes from ``FitResult.as_dict`` and ``solve.solution_dicts``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..budget import METRIC_LABELS
from ..fit import SETTING_KEY, FitResult, Point, as_number, value_text
from ..solve import Geometry, Solution, forward
from .doc import Column, Doc, KeyValue, Mark, Note, Seconds, Table, col

SETTING_COLUMNS = {
    "width": [("width_mult", "width")],
    "resolution": [("resolution", "resolution")],
    "compound": [
        ("phi", "phi"),
        ("depth_mult", "depth"),
        ("width_mult", "width"),
        ("resolution", "resolution"),
    ],
}
TOTAL_COLUMNS = [
    ("params", "params"),
    ("macs", "MACs"),
    ("flops", "FLOPs"),
    ("activations", "activations"),
    ("memory", "memory"),
    ("memory_traffic", "traffic"),
]


def _setting_text(result: FitResult, p: Point) -> str:
    key = SETTING_KEY[result.vary]
    text = f"{key} {_value(p.setting[key])}"
    if result.vary == "compound":
        s = p.setting
        text += f" (depth x{s['depth_mult']:.4g}, width x{s['width_mult']:.4g}, resolution {s['resolution']})"
    return text


def _value(v: Any) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def _exceeded_text(result: FitResult, p: Point) -> str:
    totals = p.totals or {}
    return "; ".join(
        f"{METRIC_LABELS.get(m, m)} {value_text(totals[m])} > {value_text(result.limits[m])}"
        for m in p.exceeded
    )


def fit_doc(result: FitResult, name: str, source: str, sources: dict[str, str], device: Any = None) -> Doc:
    key = SETTING_KEY[result.vary]
    doc = Doc(f"fit {name}: the largest {key} within the limits")
    g = result.grid
    items: list[tuple[str, Any]] = [("spec", source)]
    grid_text = f"{key} = {as_number(g.base)} + n x {as_number(g.step)}, from {as_number(g.value(g.n_lo))} to {as_number(g.value(g.n_hi))}"
    items.append(("varied", grid_text))
    for m, limit in result.limits.items():
        items.append((f"limit: {METRIC_LABELS.get(m, m)}", f"{value_text(limit)} ({sources.get(m, 'flag')})"))
    if device is not None:
        items.append(("latency", f"estimated on {device.name} (roofline lower bound, unfused)"))
    opts = result.options
    if opts.get("divisor") is not None:
        items.append(
            ("channels", f"rounded to multiples of {opts['divisor']} (torchvision's _make_divisible)")
        )
    if result.vary == "compound":
        items.append(
            (
                "compound rule",
                f"depth {opts['alpha']:g}^phi, width {opts['beta']:g}^phi, "
                f"resolution {opts['base_resolution']} x {opts['gamma']:g}^phi",
            )
        )
    if result.best is not None:
        items.append(("best", _setting_text(result, result.best)))
    else:
        items.append(("best", "none: even the smallest valid setting breaks a limit"))
    if result.next is not None:
        label = "next (breaks a limit)" if result.best is not None else "smallest valid setting"
        items.append((label, f"{_setting_text(result, result.next)}: {_exceeded_text(result, result.next)}"))
    items.append(("settings evaluated", result.evaluations))
    doc.add(KeyValue("", items))

    cols = SETTING_COLUMNS[result.vary]
    dtype = opts.get("dtype", "fp32")
    header: list[Column] = [col(k, label, numeric=True) for k, label in cols] + [col("input_shape")]
    header += [
        col(k, f"memory ({dtype}, B)", numeric=True)
        if k == "memory"
        else col(k, f"traffic ({dtype}, B)", numeric=True, optional=True, drop=1)
        if k == "memory_traffic"
        else col(k, label, numeric=True)
        for k, label in TOTAL_COLUMNS
    ]
    timed = device is not None
    if timed:
        header.append(col("latency_s"))
    header += [col("fits"), col("role")]
    rows = []
    for p in result.frontier:
        totals = p.totals or {}
        mark = (
            "best"
            if p is result.best
            else ("next" if result.best is not None else "smallest")
            if p is result.next
            else ""
        )
        fits = (
            Mark("yes", "good", plain="yes")
            if p.fits
            else Mark("no: " + ", ".join(METRIC_LABELS.get(m, m) for m in p.exceeded), "bad")
        )
        rows.append(
            [p.setting[k] for k, _ in cols]
            + [tuple(p.input_shape or ())]
            + [totals.get(k) for k, _ in TOTAL_COLUMNS]
            + ([Seconds(totals.get("latency"))] if timed else [])
            + [fits, mark]
        )
    doc.add(Table("Frontier", header, rows), primary=True)
    notes = list(result.notes)
    notes.append(
        "exact counts at every setting shown (the network walked there); found by bisection on the grid, "
        "so only a few settings are walked; MACs = multiply-accumulates, FLOPs = 2 x MACs + bias adds"
    )
    doc.add(Note(notes))
    return doc


# -- solve ----------------------------------------------------------------------------------------------
def _padding_text(kind: str, g: Geometry) -> str:
    if kind == "conv" and g.padding != g.padding_after:
        return f"{g.padding}+{g.padding_after}"
    return str(g.padding)


def _dims(values: Sequence[Any]) -> str:
    values = [str(v) for v in values]
    return values[0] if len(set(values)) == 1 else "x".join(values)


def solve_doc(result: Solution, ranges_text: str, shown: int | None = None) -> Doc:
    """The solutions, simplest first; a terminal or Markdown table shows the first ``shown``
    (CSV and JSON hold every one)."""
    kind = result.kind
    what = {"conv": "convolution", "transposed": "transposed convolution", "pool": "pooling"}[kind]
    if kind == "pool":
        what += " (ceil mode)" if result.ceil_mode else " (floor mode)"
    size_in, size_out = "x".join(map(str, result.input_size)), "x".join(map(str, result.output_size))
    doc = Doc(f"solve {what}: {size_in} -> {size_out}")
    header = [col("n", "#", numeric=True), col("kernel"), col("stride"), col("padding"), col("dilation")]
    if kind == "transposed":
        header.append(col("output_padding", "output padding"))
    header += [col("extent", "extent d(k-1)+1"), col("output_size", "output")]

    def row(n: int | str, combo: Sequence[Geometry]) -> list[Any]:
        cells: list[Any] = [
            n,
            _dims([g.kernel for g in combo]),
            _dims([g.stride for g in combo]),
            _dims([_padding_text(kind, g) for g in combo]),
            _dims([g.dilation for g in combo]),
        ]
        if kind == "transposed":
            cells.append(_dims([g.output_padding for g in combo]))
        cells.append(_dims([g.extent for g in combo]))
        cells.append(
            "x".join(str(forward(kind, i, g, result.ceil_mode)) for i, g in zip(result.input_size, combo))
        )
        return cells

    if result.found:
        rows = [row(n, combo) for n, combo in enumerate(result.solutions, 1)]
        count = f"{result.total:,} geometr{'y' if result.total == 1 else 'ies'}"
        n_shown = len(rows) if shown is None else min(shown, len(rows))
        if n_shown < result.total:
            caption = f"the first {n_shown:,} of {result.total:,} shown: --limit N shows more, --format json or csv lists all"
            doc.add(Table("", header, rows, view=lambda: (rows[:n_shown], caption)), primary=True)
        else:
            doc.add(Table("", header, rows), primary=True)
        lines = [f"{count} with {ranges_text}, simplest first"]
    else:
        lines = [f"no geometry with {ranges_text} maps {size_in} to {size_out}"]
        if result.nearest:
            sizes = ", ".join("x".join(map(str, n.output_size)) for n in result.nearest)
            lines.append(f"nearest reachable output sizes: {sizes} (the simplest geometry for each below)")
            rows = [row(n.side, n.geometry) for n in result.nearest]
            header[0] = col("nearest")
            doc.add(Table("", header, rows), primary=True)
        if result.unreachable:
            dims = ", ".join(str(d + 1) for d in result.unreachable)
            lines.append(f"dim {dims}: no output size at all is reachable with these constraints")
    if kind == "conv":
        lines.append(
            "padding a+b: a before, b after (an odd total; TensorFlow's 'same' puts the extra after)"
        )
    if kind == "transposed":
        lines.append("o = (i-1)s - 2p + d(k-1) + output_padding + 1, 0 <= output_padding < max(s, d)")
    doc.add(Note(lines))
    return doc
