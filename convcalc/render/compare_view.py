"""The comparison (convcalc compare) as a document: its conventions in the title, one row per
variant (rows that merely repeat another are left out, and said so), and statements computed
from the numbers."""

from __future__ import annotations

from typing import Any

from ..budget import human
from ..compare import Comparison, Variant
from .doc import Doc, Name, Note, Table, col


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


def comparison_doc(c: Comparison, batch: int = 1) -> Doc:
    std = c.standard
    shape = "x".join(map(str, c.shape))
    k = "x".join(map(str, c.kernel))
    doc = Doc(
        f"{shape} -> {c.out_channels} channels, kernel {k}, {conventions(c)}: "
        "what each kind of convolution costs"
    )
    doc.data = comparison_dict(c, batch)
    rows: list[list[Any]] = []
    omitted = []
    for v in c.variants:
        if v.repeats:
            omitted.append(f"{v.name}: the same layer as the {v.repeats} conv here, left out")
            continue
        if v.cost is None:
            note = f"impossible: {v.error}" + (f"; {v.hint}" if v.hint else "")
            rows.append([Name(v.name), "impossible", None, None, None, None, None, note])
            continue
        cost = v.cost
        rows.append(
            [
                Name(v.name),
                cost.output_shape,
                cost.params,
                cost.macs * batch,
                f"{_ratio(cost.params, std.params):.4f}" if std.params else None,
                f"{_ratio(cost.macs, std.macs):.4f}" if std.macs else None,
                "x".join(map(str, v.receptive_field)) if v.receptive_field else None,
                v.config,
            ]
        )
        if cost.parts and cost.type == "separable":
            for p in cost.parts:
                rows.append(
                    [
                        Name(p.label or p.type, 1, "part", full=f"{v.name}.{p.label}"),
                        p.output_shape,
                        p.params,
                        p.macs * batch,
                        f"{_ratio(p.params, std.params):.4f}" if std.params else None,
                        f"{_ratio(p.macs, std.macs):.4f}" if std.macs else None,
                        None,
                        "",
                    ]
                )
    notes = col("notes", "notes", optional=True, drop=1)
    notes.wrap = True
    doc.add(
        Table(
            "",
            [
                col("variant"),
                col("output_shape"),
                col("params"),
                col("macs"),
                col("params_ratio", "params / std", numeric=True, optional=True, drop=3),
                col("macs_ratio", "MACs / std", numeric=True),
                col("receptive_field", optional=True, drop=2),
                notes,
            ],
            rows,
        ),
        primary=True,
    )
    doc.add(Note(statements(c, batch) + omitted, tone="info"))
    return doc


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


def comparison_dict(c: Comparison, batch: int = 1) -> dict[str, Any]:
    from ..export import cost_dict
    from ..receptive import initial

    std = c.standard
    out = []
    for v in c.variants:
        d: dict[str, Any] = {"variant": v.name, "config": v.config}
        if v.cost is None:
            d["error"] = v.error
            if v.hint:
                d["possible_with"] = v.hint
        else:
            d.update(cost_dict(v.cost, batch, initial(len(c.shape) - 1)))
            d["params_ratio"] = _ratio(v.cost.params, std.params)
            d["macs_ratio"] = _ratio(v.cost.macs, std.macs)
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
        "variants": out,
        "mobilenet_ratio": {
            "formula": "1/C_out + 1/k^2",
            "value": float(ratio),
            "exact": f"{ratio.numerator}/{ratio.denominator}",
        },
    }
