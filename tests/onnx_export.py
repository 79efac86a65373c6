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
    dynamo: bool = False,
) -> str:
    """Export ``module`` on an input of ``shape`` (batch-less) to ``path``; the input is named
    ``input`` with a symbolic batch dim (``dynamic``), else the file says ``batch``.
    ``dynamo=True``: torch's default exporter instead (see ``export_dynamo``; ``opset``,
    ``fold`` and ``weights`` do not apply)."""
    if dynamo:
        return export_dynamo(module, shape, path, dynamic=dynamic, batch=batch, output_names=output_names)
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


def export_dynamo(
    module: nn.Module,
    shape: tuple[int, ...],
    path,
    *,
    dynamic: bool = True,
    batch: int = 1,
    output_names: list[str] | None = None,
) -> str:
    """Export with ``torch.onnx.export(..., dynamo=True)``, torch's default since 2.9
    (torch.export, then onnxscript's translation and optimizer: opset 18+, BatchNorm folded
    into the Conv before it, constants folded) with everything else at its default, as users
    get it. A symbolic batch dim comes from ``dynamic_shapes`` (a ``torch.export.Dim``, which
    must have a range that includes the traced batch: batch 1 is specialised unless the range
    says otherwise, so the trace runs on a batch of 2). The file is then made weight-free
    like ``export``'s: every floating-point initializer too big for the reader to decode
    (more than 64 values) keeps its dims and loses its data.

    The module's floating-point parameters and buffers are first given distinct random
    values in [0.5, 1.5) (seeded): the optimizer drops a bias of zeros and stores equal
    tensors once, which the zeroed weights of ``fast_module`` would make it do everywhere."""
    module.eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for t in list(module.parameters()) + list(module.buffers()):
            if t.is_floating_point():
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if dynamic:
                x = torch.zeros((2, *shape))
                dims = ({0: torch.export.Dim("batch", min=1)},)
            else:
                x, dims = torch.zeros((batch, *shape)), None
            program = torch.onnx.export(
                module,
                (x,),
                None,
                dynamo=True,
                dynamic_shapes=dims,
                input_names=["input"],
                output_names=output_names,
                verbose=False,
            )
    finally:
        torch.set_num_threads(threads)
    model = program.model_proto
    floats = {TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.BFLOAT16}
    for t in model.graph.initializer:
        n = 1
        for d in t.dims:
            n *= d
        if t.data_type in floats and n > 64:
            t.ClearField("raw_data")
            t.ClearField("float_data")
            t.ClearField("double_data")
            t.ClearField("int32_data")
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
