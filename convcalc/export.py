"""Results as plain dicts (the JSON schema users' scripts rely on). Exact integers only.

Layer object keys: ``type``, ``input_shape``, ``output_shape`` (channels first, no batch),
``params``, ``macs``, ``flops``, ``activations``, ``receptive_field`` (per spatial dim, in
input pixels; null once the spatial dims are gone) and, for composites, ``parts`` (the same
objects). In a report each layer also has ``name`` (its path, e.g. ``layers[4].body[0]``)
and ``label`` (the spec's ``name:``, or null). Given a ``Perf`` (a dtype, and optionally a
device), every layer and part also has ``bytes_read``, ``bytes_written``, ``memory_traffic``,
``arithmetic_intensity`` and, with a device, ``latency_s`` and ``bound`` (see convcalc.perf).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import receptive
from .conventions import CONVENTIONS, DTYPE_BYTES
from .layers.base import Cost
from .perf import Perf, Tally

if TYPE_CHECKING:  # the single-layer commands never load the network walker
    from .network import Report, Row


def cost_dict(
    cost: Cost,
    batch: int = 1,
    rf_in: Any = None,
    rf_out: Any = None,
    perf: Perf | None = None,
    tally: Tally | None = None,
) -> dict[str, Any]:
    """One layer (or part) as a dict; ``rf_in``/``rf_out`` are receptive-field states; with
    ``perf`` (at this ``batch``) the traffic keys too (``tally``: the layer's, when known)."""
    if rf_out is None and rf_in is not None:
        rf_out = receptive.apply(rf_in, cost)
    d: dict[str, Any] = {
        "type": cost.type,
        "input_shape": list(cost.input_shape),
        "output_shape": list(cost.output_shape),
        "params": cost.params,
        "macs": cost.macs * batch,
        "flops": cost.flops * batch,
        "activations": cost.activations * batch,
        "receptive_field": _rf(rf_out),
    }
    if cost.extra:
        if "weight_shape" in cost.extra:
            d["weight_shape"] = list(cost.extra["weight_shape"])
        if "zero_insertion_macs" in cost.extra:
            d["zero_insertion_macs"] = cost.extra["zero_insertion_macs"] * batch
        for key in ("fn", "mode"):  # which activation / pooling
            if key in cost.extra:
                d[key] = cost.extra[key]
    if perf is not None:
        d.update(perf.keys(tally) if tally is not None else perf.cost_keys(cost))
    if cost.parts:
        states = receptive.fold_parts(rf_in, cost.parts)
        tallies: list[Any] = perf.parts(cost) if perf is not None else [None] * len(cost.parts)
        d["parts"] = [
            {"name": p.label, **cost_dict(p, batch, rf_out=s, perf=perf, tally=t)}
            for p, s, t in zip(cost.parts, states, tallies)
        ]
    return d


def _rf(state: Any) -> list[int | None] | None:
    f = receptive.fields(state)
    return list(f) if f is not None else None


def row_dict(
    row: Row, rf_in: Any, inputs: list[str] | None = None, perf: Perf | None = None
) -> dict[str, Any]:
    """A report's layer: its name, label, the tensors it reads (``inputs``), where the spec
    wrote it (``path``), then the cost keys (and the traffic keys, given ``perf``)."""
    d: dict[str, Any] = {"name": row.name, "label": row.label}
    if inputs is not None:
        d["inputs"] = inputs
    if row.path:
        d["path"] = row.path
    d.update(cost_dict(row.cost, row.batch, rf_in, row.rf, perf))
    return d


def memory(report: Report, dtype: str = "fp32") -> dict[str, int]:
    b = DTYPE_BYTES[dtype]
    weights = report.params * b
    peak = report.peak_elements * b
    return {
        "weight_bytes": weights,
        "activation_bytes": report.activations * b,
        "peak_activation_bytes": peak,
        "memory": weights + peak,
    }


def perf_of(report: Report, dtype: str = "fp32", device: Any = None) -> Perf:
    """The traffic (and latency on ``device``, a Profile) of this report's rows."""
    return Perf(dtype, report.batch, device)


def report_tally(report: Report, perf: Perf) -> Tally:
    """The sums of traffic and time over every row."""
    return perf.totals(r.cost for r in report.rows)


def totals(
    report: Report,
    dtype: str = "fp32",
    device: Any = None,
    perf: Perf | None = None,
    whole: Tally | None = None,
) -> dict[str, Any]:
    """Counts, memory, and traffic (with ``device``, a Profile: the latency estimate too).
    ``perf`` and ``whole`` (the sums of ``report_tally``), when already known, save the work."""
    perf = perf or perf_of(report, dtype, device)
    whole = whole if whole is not None else report_tally(report, perf)
    return {**report.totals(), **memory(report, dtype), **perf.total_keys(whole)}


def report_dict(
    report: Report, dtype: str = "fp32", lazy: bool = False, device: Any = None, whole: Tally | None = None
) -> dict:
    """The report as JSON-ready data; with ``lazy`` the layers are an iterator (for
    streaming a large report without holding every layer's dict). ``device`` (a Profile):
    each layer's and the total latency estimate (``whole``: the report's sums, if known)."""
    perf = perf_of(report, dtype, device)
    layers = (row_dict(r, s, report.inputs_of(r), perf) for r, s in zip(report.rows, report.rf_in))
    return {
        "name": report.name,
        "source": report.network.source,
        "input_shape": list(report.input_shape),
        "output_shape": list(report.output_shape),
        "outputs": {name: list(shape) for name, shape in report.outputs.items()},
        "batch": report.batch,
        "width_mult": report.width_mult,
        "dtype": dtype,
        "device": perf.device_dict(),
        "layers": layers if lazy else list(layers),
        "totals": totals(report, dtype, perf=perf, whole=whole),
        "by_type": report.by_type(),
        "conventions": CONVENTIONS,
        **_warnings(report),
    }


def _warnings(report: Report) -> dict:
    """``{"warnings": [...]}`` when the report counts operations as zero (never silently)."""
    from .layers.tensor import zero_cost_warnings

    lines = zero_cost_warnings([r.cost for r in report.rows])
    return {"warnings": lines} if lines else {}
