"""The comparison table (convcalc compare) as a document and as a dict."""

from __future__ import annotations

from ..budget import human
from ..compare import Comparison
from .doc import Doc, Note, Table


def _ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def comparison_doc(c: Comparison, batch: int = 1) -> Doc:
    std = c.standard
    shape = "x".join(map(str, c.shape))
    k = "x".join(map(str, c.kernel))
    doc = Doc(f"{shape} -> {c.out_channels} channels, kernel {k}: what each kind of convolution costs")
    rows = []
    for v in c.variants:
        if v.cost is None:
            rows.append([v.name, "impossible", None, None, None, None, None, v.error])
            continue
        cost = v.cost
        rows.append(
            [
                v.name,
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
                        f"  {p.label}",
                        p.output_shape,
                        p.params,
                        p.macs * batch,
                        f"{_ratio(p.params, std.params):.4f}" if std.params else None,
                        f"{_ratio(p.macs, std.macs):.4f}" if std.macs else None,
                        None,
                        "",
                    ]
                )
    doc.add(
        Table(
            "",
            ["variant", "output", "params", "MACs", "params / std", "MACs / std", "receptive field", "notes"],
            rows,
            right={2, 3, 4, 5},
            indent_col=0,
        ),
        primary=True,
    )
    ratio = c.mobilenet_ratio()
    sep = c.variants[2].cost
    lines = [
        f"MobileNet's ratio, depthwise-separable / standard = 1/C_out + 1/k^2 = 1/{c.out_channels} + "
        f"1/{_kk(c.kernel)} = {float(ratio):.4f}"
        + (f"; computed here: {sep.macs / std.macs:.4f}" if sep is not None and std.macs else "")
    ]
    if sep is not None and std.macs:
        lines.append(
            f"Why cheaper: a standard conv mixes space and channels at once (C_in*C_out*k^2 MACs per "
            f"output pixel); separable filters space per channel (C_in*k^2) then mixes channels "
            f"(C_in*C_out): {human(std.macs * batch)} vs {human(sep.macs * batch)} MACs here."
        )
    if c.groups_auto:
        lines.append(f"groups g = {c.groups} chosen automatically (--groups G to choose).")
    lines.append(
        f"The dilated conv has the standard conv's params and MACs but a wider receptive field "
        f"(d = {c.dilation})."
    )
    doc.add(Note(lines, style=""))
    return doc


def _kk(kernel) -> str:
    from math import prod

    return str(prod(kernel))


def comparison_dict(c: Comparison, batch: int = 1) -> dict:
    from ..export import cost_dict
    from ..receptive import initial

    std = c.standard
    out = []
    for v in c.variants:
        d: dict = {"variant": v.name, "config": v.config}
        if v.cost is None:
            d["error"] = v.error
        else:
            d.update(cost_dict(v.cost, batch, initial(len(c.shape) - 1)))
            d["params_ratio"] = _ratio(v.cost.params, std.params)
            d["macs_ratio"] = _ratio(v.cost.macs, std.macs)
        out.append(d)
    ratio = c.mobilenet_ratio()
    return {
        "input_shape": list(c.shape),
        "out_channels": c.out_channels,
        "kernel": list(c.kernel),
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
