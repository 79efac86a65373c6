"""``convcalc verify``: convcalc's numbers checked by PyTorch, layer by layer.

``verify_report(report)`` writes the network's PyTorch module (``torch_export``), builds it, runs
one forward pass on zeros and measures every layer's module: the output shape (a forward hook),
the parameters (``sum(p.numel())``) and the MACs (torch's ``FlopCounterMode``, per module, / 2).
Each is compared with convcalc's row for that layer; the result lists every disagreement.

torch is imported only here and only when asked for (it is never a dependency of convcalc).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from typing import Any

from .errors import ConvcalcError
from .layers.base import Shape
from .network import Report

INSTALL_HINT = "pip install torch"


def require_torch(what: str) -> Any:
    """The torch module, or an error (exit 2) saying how to install it."""
    try:
        import torch
    except ImportError:
        raise ConvcalcError(
            f"{what} needs PyTorch in the same environment as convcalc: {INSTALL_HINT}"
        ) from None
    return torch


def load_source(text: str, name: str = "convcalc_export") -> types.ModuleType:
    """A module object from Python source (the file ``export --torch`` writes)."""
    module = types.ModuleType(name)
    module.__file__ = f"<{name}>"
    exec(compile(text, module.__file__, "exec"), module.__dict__)
    return module


@dataclass
class Mismatch:
    """One quantity of one layer on which convcalc and torch disagree."""

    layer: str
    type: str
    quantity: str  # "output shape", "params", "MACs", "output"
    convcalc: Any
    torch: Any


@dataclass
class Verification:
    """The outcome: torch's totals and every disagreement (none: all agree)."""

    name: str
    layers: int
    params: int
    macs: int
    outputs: dict[str, Shape]
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches


def verify_report(report: Report, device: str = "cpu") -> Verification:
    """Build the report's network in PyTorch and compare every layer (see the module doc).
    ``device``: where the forward pass runs ("cpu", "cuda", or "meta": shapes and counts only,
    without arithmetic)."""
    from .torch_export import torch_source

    if report.batch != 1:
        raise ConvcalcError("verify compares one sample: use batch 1")
    torch = require_torch("convcalc verify")
    from torch.utils.flop_counter import FlopCounterMode

    exported = torch_source(report.graph, report.name, report.network.source)
    model = build_model(load_source(exported.text).build, device)
    modules = [model.get_submodule(".".join(p)) for p in exported.paths]
    seen: dict[int, Any] = {}

    def hook(i: int) -> Any:
        def record(module: Any, args: Any, output: Any) -> None:
            seen[i] = output

        return record

    handles = [m.register_forward_hook(hook(i)) for i, m in enumerate(modules)]
    inputs = [torch.zeros((1, *g.shape), device=device) for g in report.graph.inputs]
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            ys = model(*inputs)
    except Exception as e:  # torch refused the module: a disagreement, said plainly
        raise ConvcalcError(f"PyTorch could not run the exported module: {type(e).__name__}: {e}") from None
    finally:
        for h in handles:
            h.remove()
    flops = {k: sum(v.values()) for k, v in counter.get_flop_counts().items()}
    out: list[Mismatch] = []
    for i, row in enumerate(report.rows):
        m = modules[i]
        got = seen.get(i)
        shape = tuple(got.shape[1:]) if hasattr(got, "shape") else None
        params = sum(p.numel() for p in m.parameters())
        f = flops.get(exported.qualified_name(i), 0)
        checks = (
            ("output shape", list(row.output_shape), list(shape) if shape is not None else "not run"),
            ("params", row.params, params),
            ("MACs", row.cost.macs, f // 2 if f % 2 == 0 else f / 2),
        )
        for what, ours, theirs in checks:
            if ours != theirs:
                out.append(Mismatch(row.name, row.type, what, ours, theirs))
    got_outputs = list(ys) if isinstance(ys, tuple) else [ys]
    for (name, ours), y in zip(report.outputs.items(), got_outputs):
        theirs = tuple(y.shape[1:])
        if tuple(ours) != theirs:
            out.append(Mismatch(name, "output", "output", list(ours), list(theirs)))
    total = counter.get_total_flops()
    return Verification(
        report.name,
        len(report.rows),
        sum(p.numel() for p in model.parameters()),
        total // 2,
        {name: tuple(y.shape[1:]) for name, y in zip(report.outputs, got_outputs)},
        out,
    )


def build_model(factory: Any, device: str = "cpu") -> Any:
    """``factory()`` constructed on the meta device (no weight initialisation), then given
    zeroed storage on ``device`` (unless that is meta), in eval mode."""
    torch = require_torch("convcalc verify")
    with torch.device("meta"):
        model = factory()
    if device != "meta":
        model = model.to_empty(device=device)
        with torch.no_grad():
            for t in (*model.parameters(), *model.buffers()):
                t.zero_()
    return model.eval()
