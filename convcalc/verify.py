"""``convcalc verify``: a spec's numbers checked by PyTorch, or against a real model.

``verify_report(report)`` writes the network's PyTorch module (``torch_export``), builds it, runs
one forward pass on zeros and measures every layer's module: the output shape (a forward hook),
the parameters (``sum(p.numel())``) and the MACs (torch's ``FlopCounterMode``, per module, / 2).
Each is compared with convcalc's row for that layer; the result lists every disagreement.

``against(spec, model)`` compares two reports (a hand-written spec and a model: an ONNX file, a
live torch module): their params, MACs and output shapes must be equal, except a params
difference that BatchNorm folded into the convolutions explains exactly (an exporter's doing).
FLOPs and activations are not compared (exporters drop dropout and fold BatchNorm).

torch is imported only by ``verify_report`` and only when asked for (it is never a dependency
of convcalc); ``against`` is pure.
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field
from math import prod
from typing import Any

from .errors import ConvcalcError
from .frontends.pytorch import require_torch
from .layers.base import Shape
from .network import Report


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


MAX_BYTES = 8 * 2**30  # what a forward pass off the meta device may hold: weights and every output


def verify_report(report: Report, device: str = "cpu") -> Verification:
    """Build the report's network in PyTorch and compare every layer (see the module doc).
    ``device``: where the forward pass runs ("cpu", "cuda", or "meta": shapes and counts only,
    without arithmetic)."""
    from .torch_export import torch_source

    if report.batch != 1:
        raise ConvcalcError("verify compares one sample: use batch 1")
    need = 4 * (report.params + report.activations + sum(prod(g.shape) for g in report.graph.inputs))
    if device != "meta" and need > MAX_BYTES:
        raise ConvcalcError(
            f"verify on {device} would hold {need / 2**30:,.1f} GiB (fp32 weights and every layer's output); "
            "--device meta checks the same shapes and counts without the arithmetic"
        )
    torch = require_torch("convcalc verify")
    from torch.utils.flop_counter import FlopCounterMode

    check_device(torch, device)
    exported = torch_source(report.graph, report.name, report.network.source)
    try:
        model = build_model(load_source(exported.text).build, device)
    except Exception as e:  # no room on the device, or torch refuses it
        raise ConvcalcError(
            f"PyTorch could not build the module on {device}: {type(e).__name__}: {e}"
        ) from None
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
        shape = tuple(got.shape[1:]) if got is not None and hasattr(got, "shape") else None
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
            out.append(Mismatch(name, "output", "network output shape", list(ours), list(theirs)))
    total = counter.get_total_flops()
    return Verification(
        report.name,
        len(report.rows),
        sum(p.numel() for p in model.parameters()),
        total // 2,
        {name: tuple(y.shape[1:]) for name, y in zip(report.outputs, got_outputs)},
        out,
    )


def check_device(torch: Any, device: str) -> None:
    """A device torch knows and has (``cuda`` needs a CUDA build and a GPU)."""
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConvcalcError(
            f"--device {device!r}: not a device PyTorch knows (cpu, cuda, cuda:1, meta ...)"
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConvcalcError(f"--device {device}: this PyTorch has no CUDA device (use cpu or meta)")


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


# -- a spec against a model ----------------------------------------------------------------------------
FOLDABLE = ("conv", "depthwise", "pointwise")  # what torch.onnx.export folds a following BatchNorm into


@dataclass
class Quantity:
    """One compared total: what, the spec's value, the model's, whether they agree, and why
    (``note``: a difference that is explained, e.g. BatchNorm folding)."""

    what: str
    spec: Any
    model: Any
    ok: bool
    note: str = ""


@dataclass
class Agreement:
    """A spec against a model: the totals compared, and the layers (paired by name, where the
    two name them alike) that differ."""

    spec: str
    model: str
    quantities: list[Quantity]
    layers: list[Mismatch] = field(default_factory=list)
    paired: int = 0  # layers found under the same name in both

    @property
    def ok(self) -> bool:
        return all(q.ok for q in self.quantities)


def bn_folding(spec: Report) -> tuple[int, int]:
    """(the params BatchNorm folding removes from the spec, how many BatchNorm layers fold):
    each BatchNorm whose input is a convolution read by nothing else becomes the convolution's
    bias, so its params (2C with affine, else 0) go and a bias (C) comes, unless the conv had
    one already."""
    graph = spec.graph
    readers = [0] * len(graph.nodes)
    for node in graph.nodes:
        for r in graph.reads(node):
            if r >= 0:
                readers[r] += 1
    for _, r in graph.outputs:
        if r >= 0:
            readers[r] += 1
    delta = count = 0
    for i, node in enumerate(graph.nodes):
        if node.layer.type_name != "batchnorm" or len(node.inputs) != 1:
            continue
        src = node.inputs[0]
        if src < 0 or readers[src] != 1:
            continue
        conv = graph.nodes[src].layer
        if conv.type_name not in FOLDABLE:
            continue
        channels = spec.rows[i].output_shape[0]
        delta += spec.rows[i].params - (0 if conv.params.get("bias") else channels)
        count += 1
    return delta, count


def module_paths(report: Report) -> list[str]:
    """Each row's submodule path in the module ``export --torch`` writes (``layer1_56.conv1``)."""
    from .torch_export import ModuleNames

    names = ModuleNames()
    return [".".join(names.add(r.name)) for r in report.rows]


def against(spec: Report, model: Report, model_label: str | None = None) -> Agreement:
    """Compare a spec's report with a model's (see the module docstring); ``model_label`` names
    the model in messages (default: its name)."""
    q: list[Quantity] = []
    diff = spec.params - model.params
    note = ""
    ok = diff == 0
    if diff:
        delta, folded = bn_folding(spec)
        bn_spec = sum(1 for r in spec.rows if r.type == "batchnorm")
        bn_model = sum(1 for r in model.rows if r.type == "batchnorm")
        if delta == diff and folded and bn_spec - bn_model == folded:
            ok = True
            note = (
                f"the model has {diff:,} fewer: the spec's {folded} BatchNorm layers after convolutions are "
                "folded into them (their weights become the convs' biases), exactly"
            )
    q.append(Quantity("params", spec.params, model.params, ok, note))
    q.append(Quantity("MACs", spec.macs, model.macs, spec.macs == model.macs))
    outs_spec, outs_model = list(spec.outputs.items()), list(model.outputs.items())
    if len(outs_spec) != len(outs_model):
        q.append(Quantity("outputs", len(outs_spec), len(outs_model), False))
    for k, ((ns, ss), (nm, sm)) in enumerate(zip(outs_spec, outs_model)):
        what = "output shape" if len(outs_spec) == 1 else f"output {k + 1} shape ({ns} / {nm})"
        q.append(Quantity(what, list(ss), list(sm), tuple(ss) == tuple(sm)))
    rows_model = {r.name: r for r in model.rows}
    layers: list[Mismatch] = []
    paired = 0
    for r, path in zip(spec.rows, module_paths(spec)):
        # the same name, or the submodule export --torch gives the spec's layer (a model written
        # by it and edited: its module names are the spec's row names made Python names)
        m = rows_model.get(r.name) or rows_model.get(path)
        if m is None:
            continue
        paired += 1
        for what, a, b in (
            ("output shape", list(r.output_shape), list(m.output_shape)),
            ("params", r.params, m.params),
            ("MACs", r.macs, m.macs),
        ):
            if a != b:
                layers.append(Mismatch(r.name, r.type, what, a, b))
    return Agreement(spec.name, model_label or model.name, q, layers, paired)
