"""Documents of ``convcalc verify``: a spec checked by PyTorch layer by layer, or a spec
against a model (totals, and the layers that differ where both name them alike)."""

from __future__ import annotations

from typing import Any

from ..verify import Agreement, Mismatch, Verification
from .doc import Doc, Mark, Note, Table, col


def _cell(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _mismatch_table(title: str, rows: list[Mismatch], ours: str, theirs: str) -> Table:
    columns = [col("layer"), col("type"), col("quantity"), col("convcalc", ours), col("other", theirs)]
    return Table(
        title, columns, [[m.layer, m.type, m.quantity, _cell(m.convcalc), _cell(m.torch)] for m in rows]
    )


def _mismatch_dict(m: Mismatch, ours: str = "convcalc", theirs: str = "torch") -> dict:
    return {"layer": m.layer, "type": m.type, "quantity": m.quantity, ours: m.convcalc, theirs: m.torch}


def verify_doc(v: Verification) -> Doc:
    """One line when every layer agrees; else the headline and a table of the disagreements."""
    layers = f"{v.layers} layer{'s' if v.layers != 1 else ''}"
    if v.ok:
        headline = f"convcalc verify: {v.name}: all {layers} agree with PyTorch: params {v.params:,}, MACs {v.macs:,}"
    else:
        bad = len({m.layer for m in v.mismatches})
        headline = f"convcalc verify failed: {v.name}: {bad} of {layers} disagree with PyTorch"
    data = {
        "name": v.name,
        "ok": v.ok,
        "layers": v.layers,
        "params": v.params,
        "macs": v.macs,
        "outputs": {n: list(s) for n, s in v.outputs.items()},
        "mismatches": [_mismatch_dict(m) for m in v.mismatches],
    }
    doc = Doc(headline, status=v.ok, data=data)
    table = _mismatch_table("", v.mismatches, "convcalc", "PyTorch")
    if v.mismatches:
        doc.add(table, primary=True)
        doc.add(
            Note(
                [
                    "PyTorch: the module `convcalc export --torch` writes for this spec, measured per layer "
                    "(forward hooks, sum(p.numel()), FlopCounterMode / 2)"
                ]
            )
        )
    else:
        doc.primary = table
    doc.closing = headline if v.mismatches else ""
    return doc


def against_doc(a: Agreement) -> Doc:
    """The totals of a spec and a model side by side, with a verdict each."""
    if a.ok:
        headline = f"convcalc verify: {a.spec} agrees with {a.model}: params, MACs and output shapes"
    else:
        bad = ", ".join(q.what for q in a.quantities if not q.ok)
        headline = f"convcalc verify failed: {a.spec} differs from {a.model}: {bad}"
    data = {
        "spec": a.spec,
        "model": a.model,
        "ok": a.ok,
        "quantities": [
            {
                "what": q.what,
                "spec": q.spec,
                "model": q.model,
                "ok": q.ok,
                **({"note": q.note} if q.note else {}),
            }
            for q in a.quantities
        ],
        "layers": [_mismatch_dict(m, "spec", "model") for m in a.layers],
        "paired_layers": a.paired,
    }
    doc = Doc(headline, status=a.ok, data=data)
    rows = [
        [q.what, _cell(q.spec), _cell(q.model), Mark("ok" if q.ok else "differs", "good" if q.ok else "bad")]
        for q in a.quantities
    ]
    doc.add(Table("", [col("quantity"), col("spec"), col("model"), col("verdict")], rows), primary=True)
    notes = [q.note for q in a.quantities if q.note]
    if notes:
        doc.add(Note(notes, tone="info"))
    if a.layers:
        doc.add(_mismatch_table("Layers that differ (paired by name)", a.layers, "spec", "model"))
    elif not a.ok and not a.paired:
        doc.add(
            Note(
                [
                    "no layer has the same name in both, so none is compared one by one: "
                    "`convcalc import` writes a spec named like the model, and `convcalc diff` compares two specs"
                ],
                tone="dim",
            )
        )
    return doc
