"""The comparison (convcalc compare) as a document: its conventions in the title, one row per
variant (rows that merely repeat another are left out, and said so), and statements computed
from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..compare import Comparison, Variant
from ..numbers import human
from .doc import Doc, Name, Note, Seconds, Table, col, seconds_text

if TYPE_CHECKING:
    from ..perf import Perf, Tally


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def _pad_text(p: Any) -> str:
    if isinstance(p, tuple):
        return "x".join(map(str, p))
    return str(p)


def conventions(c: Comparison) -> str:
    stride = _pad_text(c.stride)
    return f"stride {stride}, padding {_pad_text(c.padding)}, {'with' if c.bias else 'no'} bias" + (
        " (as convcalc conv; --padding same keeps the size)" if c.padding != "same" else ""
    )


def comparison_doc(c: Comparison, batch: int = 1, perf: Perf | None = None) -> Doc:
    """One row per variant (and the parts of the separable one); with ``perf`` (at this batch)
    each variant's memory traffic and intensity, and with a device its estimated latency
    beside its MACs; the footer says what follows from the numbers."""
    from ..perf import Perf

    perf = perf or Perf("fp32", batch)
    std = c.standard
    std_t = perf.tally(std)
    std_lat = perf.latency(std_t)
    device = perf.device is not None
    shape = "x".join(map(str, c.shape))
    k = "x".join(map(str, c.kernel))
    doc = Doc(
        f"{shape} -> {c.out_channels} channels, kernel {k}, {conventions(c)}: "
        "what each kind of convolution costs"
    )
    doc.data = comparison_dict(c, batch, perf)

    def perf_cells(t: Tally | None) -> list[Any]:
        if t is None:
            return [None] * (5 if device else 2)
        from ..perf import intensity

        out: list[Any] = [t.read + t.written, intensity(t)]
        if device:
            lat = perf.latency(t)
            ratio = f"{float(lat / std_lat):.4f}" if lat is not None and std_lat else None
            out = [Seconds(lat), ratio, *out, perf.bound(t)]
        return out

    def row(name: Name, shape: Any, cost: Any, t: Tally | None, rf: Any, note: str) -> list[Any]:
        cells = perf_cells(t)
        lead = cells[:2] if device else []
        rest = cells[2:] if device else cells
        return [
            name,
            shape,
            cost.params,
            cost.macs * batch,
            *lead,
            f"{_ratio(cost.params, std.params):.4f}" if std.params else None,
            f"{_ratio(cost.macs, std.macs):.4f}" if std.macs else None,
            *rest,
            rf,
            note,
        ]

    width = 5 if device else 2
    rows: list[list[Any]] = []
    omitted = []
    for v in c.variants:
        if v.repeats:
            omitted.append(f"{v.name}: the same layer as the {v.repeats} conv here, left out")
            continue
        if v.cost is None:
            note = f"impossible: {v.error}" + (f"; {v.hint}" if v.hint else "")
            rows.append([Name(v.name), "impossible", None, None, *([None] * width), None, None, None, note])
            continue
        cost = v.cost
        rf = "x".join(map(str, v.receptive_field)) if v.receptive_field else None
        rows.append(row(Name(v.name), cost.output_shape, cost, perf.tally(cost), rf, v.config))
        if cost.parts and cost.type == "separable":
            for p, t in zip(cost.parts, perf.parts(cost)):
                name = Name(p.label or p.type, 1, "part", full=f"{v.name}.{p.label}")
                rows.append(row(name, p.output_shape, p, t, None, ""))
    notes = col("notes", "notes", optional=True, drop=1)
    notes.wrap = True
    lead_cols = (
        [
            col("latency_s", optional=True, drop=0),
            col("latency_ratio", "time / std", numeric=True, optional=True, drop=0),
        ]
        if device
        else []
    )
    traffic_cols = [
        col("memory_traffic", f"traffic ({perf.dtype})", unit="B", optional=True, drop=4),
        col("arithmetic_intensity", optional=True, drop=5),
    ]
    if device:
        traffic_cols.append(col("bound", optional=True, drop=3))
    doc.add(
        Table(
            "",
            [
                col("variant"),
                col("output_shape"),
                col("params"),
                col("macs"),
                *lead_cols,
                col("params_ratio", "params / std", numeric=True, optional=True, drop=3),
                col("macs_ratio", "MACs / std", numeric=True),
                *traffic_cols,
                col("receptive_field", optional=True, drop=2),
                notes,
            ],
            rows,
        ),
        primary=True,
    )
    doc.add(Note(statements(c, batch) + time_statements(c, perf) + omitted, tone="info"))
    return doc


def time_statements(c: Comparison, perf: Perf) -> list[str]:
    """Where a MAC saving stops being a time saving (ShuffleNet v2's point): for each variant
    with fewer MACs than the standard conv and the same output, its MAC ratio beside its
    traffic ratio, and with a device beside its estimated time ratio. Every number is computed
    here."""
    from ..perf import intensity

    std = c.standard
    st = perf.tally(std)
    std_lat = perf.latency(st)
    device = perf.device
    out = []
    for v in c.variants:
        cost = v.cost
        if cost is None or v.repeats or v is c.variants[0] or not cost.macs or cost.macs >= std.macs:
            continue
        if cost.output_shape != std.output_shape:  # not the same job: the dilated conv at padding 0
            continue
        t = perf.tally(cost)
        fewer = std.macs / cost.macs
        if device is not None and std_lat:
            lat = perf.latency(t)
            assert lat is not None
            faster = float(std_lat / lat)
            e = perf.estimate(t)
            share = e.memory_bound_share if e is not None else None
            if share is None:
                mem = ""
            elif share == 0:
                mem = "it is compute-bound"
            elif share == 1:
                mem = "it is memory-bound"
            else:
                mem = f"{100 * float(share):.0f}% of its time is memory-bound"
            if faster >= fewer * 0.95:
                how = f"and {faster:.2f}x less estimated time"
            elif faster >= 1:
                how = f"but only {faster:.2f}x less estimated time"
            else:
                how = f"yet {1 / faster:.2f}x more estimated time"
            out.append(
                f"{v.name} on {device.name} at {perf.dtype}: {fewer:.2f}x fewer MACs than the standard conv "
                f"{how} ({seconds_text(lat)} vs {seconds_text(std_lat)})" + (f"; {mem}" if mem else "") + "."
            )
        else:
            if not t.memory_traffic or not st.memory_traffic:
                continue
            less = st.memory_traffic / t.memory_traffic
            if less >= fewer * 0.95:
                how = f"and {less:.2f}x less memory traffic"
            elif less >= 1:
                how = f"but only {less:.2f}x less memory traffic"
            else:
                how = f"yet {1 / less:.2f}x more memory traffic"
            ai, std_ai = intensity(t), intensity(st)
            out.append(
                f"{v.name}: {fewer:.2f}x fewer MACs than the standard conv {how} at {perf.dtype} "
                f"({ai:.3g} vs {std_ai:.3g} FLOP/byte)."
            )
    if out and device is None:
        out.append(
            "Where memory bounds the time, it falls with the traffic, not the MACs: --device DEVICE "
            "estimates each variant's latency."
        )
    return out


def statements(c: Comparison, batch: int = 1) -> list[str]:
    """The footer: each sentence follows from this comparison's numbers."""
    std = c.standard
    lines = []
    sep = _cost(c.variant("depthwise-separable"))
    ratio = c.mobilenet_ratio()
    same_size = sep is not None and sep.output_shape == std.output_shape
    line = (
        f"MobileNet's ratio, depthwise-separable / standard MACs = 1/C_out + 1/k^2 = 1/{c.out_channels} + "
        f"1/{_kk(c.kernel)} = {float(ratio):.4f}"
    )
    if sep is not None and std.macs:
        line += f"; computed here: {sep.macs / std.macs:.4f}"
        if not same_size:
            line += " (their outputs differ in size, so the formula does not apply exactly)"
    lines.append(line)
    if sep is not None and std.macs:
        cheaper = sep.macs < std.macs
        lines.append(
            f"{'Why cheaper' if cheaper else 'Not cheaper here'}: a standard conv mixes space and channels at "
            f"once (C_in*C_out*k^2 MACs per output pixel); separable filters space per channel (C_in*k^2) "
            f"then mixes channels (C_in*C_out): {human(std.macs * batch)} vs {human(sep.macs * batch)} "
            "MACs here."
        )
    grouped = c.variant("grouped")
    if c.groups_auto and not (grouped is not None and grouped.repeats):
        lines.append(f"groups g = {c.groups} chosen automatically (--groups G to choose).")
    dil_v = c.variant("dilated")
    dil = _cost(dil_v)
    if dil_v is not None and dil is not None and not dil_v.repeats:
        lines.append(_dilated_statement(c, std, dil, dil_v))
    elif dil_v is not None and dil_v.cost is None:
        lines.append(f"The dilated conv (d = {c.dilation}) is impossible here: {dil_v.error}.")
    return lines


def _dilated_statement(c: Comparison, std: Any, dil: Any, v: Variant) -> str:
    std_rf = c.variants[0].receptive_field
    rf = v.receptive_field
    same_params = dil.params == std.params
    head = f"The dilated conv (d = {c.dilation}) has {'the same' if same_params else 'different'} params"
    if dil.macs == std.macs:
        macs = "the same MACs"
    else:
        shape = "x".join(map(str, dil.output_shape[1:]))
        std_shape = "x".join(map(str, std.output_shape[1:]))
        fewer = "fewer" if dil.macs < std.macs else "more"
        macs = (
            f"{fewer} MACs ({dil.macs:,} vs {std.macs:,}: its output is {shape}, not {std_shape}, "
            f"at padding {_pad_text(c.padding)})"
        )
    if rf and std_rf:
        field = f"a receptive field of {'x'.join(map(str, rf))} vs {'x'.join(map(str, std_rf))}"
    else:
        field = "no spatial receptive field to compare"
    return f"{head} and {macs}, and {field}."


def _cost(v: Variant | None) -> Any:
    return v.cost if v is not None else None


def _kk(kernel: tuple[int, ...]) -> str:
    from math import prod

    return str(prod(kernel))


def comparison_dict(c: Comparison, batch: int = 1, perf: Perf | None = None) -> dict[str, Any]:
    from ..export import cost_dict
    from ..receptive import initial

    std = c.standard
    std_lat = perf.latency(perf.tally(std)) if perf is not None else None
    out = []
    for v in c.variants:
        d: dict[str, Any] = {"variant": v.name, "config": v.config}
        if v.cost is None:
            d["error"] = v.error
            if v.hint:
                d["possible_with"] = v.hint
        else:
            d.update(cost_dict(v.cost, batch, initial(len(c.shape) - 1), perf=perf))
            d["params_ratio"] = _ratio(v.cost.params, std.params)
            d["macs_ratio"] = _ratio(v.cost.macs, std.macs)
            if perf is not None:
                t = perf.tally(v.cost)
                d["traffic_ratio"] = _ratio(t.memory_traffic, perf.tally(std).memory_traffic)
                lat = perf.latency(t)
                if lat is not None:
                    d["latency_ratio"] = float(lat / std_lat) if std_lat else None
        if v.repeats:
            d["repeats"] = v.repeats
        out.append(d)
    ratio = c.mobilenet_ratio()
    return {
        "input_shape": list(c.shape),
        "out_channels": c.out_channels,
        "kernel": list(c.kernel),
        "stride": list(c.stride) if isinstance(c.stride, tuple) else c.stride,
        "padding": list(c.padding) if isinstance(c.padding, tuple) else c.padding,
        "bias": c.bias,
        "groups": c.groups,
        "dilation": c.dilation,
        "batch": batch,
        "dtype": perf.dtype if perf is not None else None,
        "device": perf.device_dict() if perf is not None else None,
        "variants": out,
        "mobilenet_ratio": {
            "formula": "1/C_out + 1/k^2",
            "value": float(ratio),
            "exact": f"{ratio.numerator}/{ratio.denominator}",
        },
    }
