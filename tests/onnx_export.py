"""Test-only: exporting torch models to ONNX files for the mapping tests, and torch's own counts.

``export`` writes a model with ``torch.onnx.export`` (the TorchScript exporter: offline, no
onnxscript). By default the file is weight-free: exported with ``export_params=False``, then
every weight (a graph input of the export) becomes an initializer with its dims and no data,
as a file whose weights live in a missing external file reads. Nothing is deduplicated that
way (the exporter merges initializers of equal values), so the file's parameters are exactly
the module's. ``weights=True`` embeds them.

``truth`` is the judge: ``sum(p.numel())``, FlopCounterMode's total / 2 and the shape of every
output, from a forward pass of the module (on the meta device: torch's shape functions and
FLOP formulas without the arithmetic).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import onnx
import torch
from onnx import TensorProto
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


def fast_module(factory: Callable[[], nn.Module]) -> nn.Module:
    """A module built on the meta device, then given zeroed CPU storage: no weight
    initialisation to wait for, and a quick forward pass for the exporter's trace."""
    with torch.device("meta"):
        module = factory()
    module = module.to_empty(device="cpu")
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            t.zero_()
    return module.eval()


def export(
    module: nn.Module,
    shape: tuple[int, ...],
    path,
    *,
    opset: int = 17,
    weights: bool = False,
    fold: bool = False,
    dynamic: bool = True,
    batch: int = 1,
    output_names: list[str] | None = None,
) -> str:
    """Export ``module`` on an input of ``shape`` (batch-less) to ``path``; the input is named
    ``input`` with a symbolic batch dim (``dynamic``), else the file says ``batch``."""
    module.eval()
    buf = io.BytesIO()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the trace's forward pass: tests run one process per core
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (torch.zeros((batch, *shape)),),
                buf,
                dynamo=False,
                opset_version=opset,
                do_constant_folding=fold,
                export_params=weights,
                keep_initializers_as_inputs=not weights,
                input_names=["input"],
                output_names=output_names,
                dynamic_axes={"input": {0: "batch"}} if dynamic else None,
            )
    finally:
        torch.set_num_threads(threads)
    model = onnx.load_from_string(buf.getvalue())
    if not weights:
        graph = model.graph
        data = [v for v in graph.input if v.name == "input"]
        for v in graph.input:
            if v.name != "input":
                t = v.type.tensor_type
                graph.initializer.append(
                    TensorProto(name=v.name, data_type=t.elem_type, dims=[d.dim_value for d in t.shape.dim])
                )
        del graph.input[:]
        graph.input.extend(data)
    onnx.save(model, str(path))
    return str(path)


def truth(module: nn.Module, shape: tuple[int, ...]) -> dict:
    """torch's numbers for ``module`` on one sample: params, MACs, the output shapes, and the
    float buffers of more than one element outside batch norms (FrozenBatchNorm's weight,
    bias, mean and variance: not parameters in torch, but initializers the model reads as
    data, which the ONNX rule counts)."""
    meta = module.to("meta").eval()
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        y = meta(torch.zeros((1, *shape), device="meta"))
    flops = counter.get_total_flops()
    assert flops % 2 == 0
    ys = y if isinstance(y, tuple) else (y,)
    buffers = sum(
        b.numel()
        for m in meta.modules()
        if not isinstance(m, nn.modules.batchnorm._BatchNorm)
        for b in m.buffers(recurse=False)
        if b.is_floating_point() and b.numel() > 1
    )
    return {
        "params": sum(p.numel() for p in meta.parameters()),
        "buffers": buffers,
        "macs": flops // 2,
        "outputs": [tuple(t.shape[1:]) for t in ys],
    }


def rule_params(path: str) -> int:
    """The issue's rule for an ONNX file's parameters, computed with the onnx package: float
    initializers (and Constant tensors) of more than one element that some node reads, each
    once, except BatchNormalization's mean and variance (inputs 3 and 4)."""
    model = onnx.load(path, load_external_data=False)
    graph = model.graph
    floats = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    sizes = {}
    for t in graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if t.data_type in floats and n > 1:
            sizes[t.name] = n
    stats = set()
    read = set()
    for node in graph.node:
        if node.op_type == "BatchNormalization":
            stats.update(node.input[3:5])
        read.update(node.input)
    return sum(n for name, n in sizes.items() if name in read and name not in stats)
