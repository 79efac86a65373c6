"""PyTorch in: a live ``nn.Module`` as a convcalc graph (``--torch package.module:factory``).

The model is captured by torch's own tracer, ``torch.fx.symbolic_trace`` (torch.nn's modules stay
whole: an ``nn.Conv2d`` is read exactly from its attributes; a user's module is traced through to
the torch functions it calls), then run once on a sample of the input shape on the meta device
(shapes only, no arithmetic) with every fx node under its own ``FlopCounterMode``. Each fx node is
mapped to convcalc layers (``pytorch_graph._Importer``; the mapping of each module, function and
tensor method is in ``pytorch_ops``) and each mapping is checked on the spot against torch: the output shape, the
parameters the node reads and the MACs torch counts for it (FLOPs / 2) must equal convcalc's, or
the import stops with an error naming the node. So an imported model reports torch's own
``sum(p.numel())`` and FlopCounterMode MACs, or nothing.

What convcalc has no layer for is an unsupported op: an error listing each op with its count and
its first node, or with ``allow_unknown`` an ``opaque`` layer (zero cost, torch's output shape)
whose warning every output shows. Tensor plumbing with no cost is followed without a node:
``contiguous``, dtype casts, a permute to channels-last and back (ConvNeXt's block: LayerNorm
and Linear over the last dim are then ``layernorm`` and ``pointwise``), the reshape-permute-
reshape of a channel shuffle, a constant per-channel multiply-add (a frozen batch norm); where
such a view or pattern is read by anything else it becomes the layers it is (``transpose``,
``reshape``, ``elementwise``: ``materialize``). Other plumbing maps onto the tensor layer types
(``reshape``, ``transpose``, ``slice``, ``select``, ``dense``, ``matmul``, ``reduce``,
``softmax``, ``unary``, ``binary``, ``elementwise``).

torch is imported only when this module is used (it is never a dependency of convcalc).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from dataclasses import dataclass
from typing import Any

from ..errors import ConvcalcError
from ..graph import Graph
from ..layers.base import Shape
from ..network import Network
from ..tree import MAX_LAYERS
from .pytorch_graph import Imported, _Importer, _op_text

__all__ = ["Imported", "TorchNetwork", "import_model", "load_network", "load_source", "require_torch"]

INSTALL_HINT = "pip install torch"


def require_torch(what: str) -> Any:
    """The torch module, or an error (exit 2) with the line that installs it."""
    try:
        import torch
    except ImportError:
        raise ConvcalcError(
            f"{what} needs PyTorch in the same environment as convcalc: {INSTALL_HINT}"
        ) from None
    return torch


# -- loading a model ------------------------------------------------------------------------------------
@dataclass
class Source:
    """A model named on the command line: the object, its module, and names for messages."""

    text: str  # as given: package.module:factory
    obj: Any
    module: Any
    name: str


def load_source(text: str) -> Source:
    """``package.module:factory`` (or ``path/to/file.py:factory``): import the module (the
    current directory is searchable, as with ``python -m``) and find the attribute (dotted
    names reach inside). Errors name the part that failed."""
    opt = f"--torch {text}"
    mod_name, sep, attr = text.rpartition(":")
    if not sep or not mod_name or not attr:
        raise ConvcalcError(f"{opt}: expected package.module:factory (a callable returning an nn.Module)")
    require_torch("--torch")
    try:
        if mod_name.endswith(".py") or os.sep in mod_name or "/" in mod_name:
            module = _module_from_file(mod_name, opt)
        else:
            cwd = os.getcwd()
            if cwd not in sys.path:
                sys.path.insert(0, cwd)
            module = importlib.import_module(mod_name)
    except ConvcalcError:
        raise
    except ImportError as e:
        raise ConvcalcError(f"{opt}: cannot import {mod_name!r}: {e}") from None
    except Exception as e:  # the module's own code failed
        raise ConvcalcError(f"{opt}: importing {mod_name!r} failed: {type(e).__name__}: {e}") from None
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise ConvcalcError(f"{opt}: {mod_name!r} has no attribute {attr!r}")
        obj = getattr(obj, part)
    name = attr.rsplit(".", 1)[-1]
    if name == "build":  # the files export --torch writes: the file's name says more
        name = (
            (getattr(module, "__file__", None) or mod_name)
            .replace("\\", "/")
            .rsplit("/", 1)[-1]
            .removesuffix(".py")
        )
        name = name.removeprefix("convcalc_torch_")
    return Source(text, obj, module, name)


def _module_from_file(path: str, opt: str) -> Any:
    if not os.path.isfile(path):
        raise ConvcalcError(f"{opt}: no such file {path!r}")
    name = "convcalc_torch_" + "".join(c if c.isalnum() else "_" for c in os.path.basename(path)[:-3])
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ConvcalcError(f"{opt}: cannot load {path!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def build_model(source: Source) -> Any:
    """The nn.Module a source names: an instance, or what calling the factory returns."""
    torch = require_torch("--torch")
    obj = source.obj
    if not isinstance(obj, torch.nn.Module):
        if not callable(obj):
            raise ConvcalcError(
                f"--torch {source.text}: {type(obj).__name__} is neither an nn.Module nor callable"
            )
        try:
            obj = obj()
        except Exception as e:
            raise ConvcalcError(
                f"--torch {source.text}: calling it failed: {type(e).__name__}: {e}"
            ) from None
        if not isinstance(obj, torch.nn.Module):
            raise ConvcalcError(f"--torch {source.text}: returned {type(obj).__name__}, not an nn.Module")
    return obj


def default_input(source: Source) -> Shape | None:
    """``INPUT_SHAPE`` of the model's module, if it has one (the files ``export --torch``
    writes do): the shape of one sample, channels first, without the batch dim."""
    v = getattr(source.module, "INPUT_SHAPE", None)
    if isinstance(v, (tuple, list)) and 1 <= len(v) <= 4 and all(isinstance(d, int) and d >= 1 for d in v):
        return tuple(v)
    return None


# -- the network ------------------------------------------------------------------------------------------
class TorchNetwork(Network):
    """A live PyTorch model as a network: its graph is captured for the current input shape
    (so ``--resolution`` traces the model again at the new size)."""

    def __init__(self, model: Any, source: str, input_shape: Shape, allow_unknown: bool, name: str):
        super().__init__(
            name, tuple(input_shape), [], source=f"torch:{source}", description=f"PyTorch model {source}"
        )
        self.model = model
        self.allow_unknown = allow_unknown
        self._imports: dict[Shape, Imported] = {}

    def imported(self) -> Imported:
        got = self._imports.get(self.input_shape)
        if got is None:
            got = self._imports[self.input_shape] = import_model(
                self.model, self.input_shape, self.name, self.allow_unknown
            )
        return got

    def graph(self, max_layers: int = MAX_LAYERS) -> Graph:
        from ..errors import LimitError

        graph = self.imported().graph
        if len(graph.nodes) > max_layers:
            raise LimitError(f"the model has {len(graph.nodes):,} layers; the limit is {max_layers:,}")
        return graph

    @property
    def warnings(self) -> list[str]:
        return self.imported().warnings


def load_network(text: str, input_shape: Shape | None, allow_unknown: bool = False) -> TorchNetwork:
    """The network of ``--torch package.module:factory`` at ``input_shape`` (default: the
    ``INPUT_SHAPE`` of the model's module, as export --torch writes it); traced now, so that
    every error surfaces here."""
    src = load_source(text)
    shape = input_shape or default_input(src)
    if shape is None:
        raise ConvcalcError(
            f"--torch {text}: give --input CxHxW, the shape of one input sample (e.g. 3x224x224)"
        )
    net = TorchNetwork(build_model(src), text, shape, allow_unknown, src.name)
    net.graph()
    return net


def import_model(
    model: Any, input_shape: Shape, name: str = "model", allow_unknown: bool = False
) -> Imported:
    """Trace ``model`` (an nn.Module) and map it to a convcalc graph for one input sample of
    ``input_shape`` (channels first, without the batch dim); see the module docstring."""
    torch = require_torch("--torch")
    import torch.fx as fx

    was_training = model.training
    model.eval()
    try:
        try:
            gm = fx.symbolic_trace(model, concrete_args=_defaults(model, name))
        except ConvcalcError:
            raise
        except Exception as e:
            raise ConvcalcError(
                f"cannot trace {name} with torch.fx: {type(e).__name__}: {_one_line(e)} (control flow that "
                "depends on tensor values cannot be traced; see docs/torch.md)"
            ) from None
        values, flops = _run(torch, fx, gm, input_shape)
        importer = _Importer(torch, gm, values, flops, name, input_shape, allow_unknown, model)
        return importer.run()
    finally:
        model.train(was_training)


def _defaults(model: Any, name: str) -> dict[str, Any] | None:
    """forward's arguments after the input, at their defaults (traced as constants: ``mask=None``
    stays None); an argument without a default is a second input, which convcalc cannot read."""
    import inspect

    try:
        params = list(inspect.signature(model.forward).parameters.values())
    except (TypeError, ValueError):
        return None
    out: dict[str, Any] = {}
    for p in params[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise ConvcalcError(
                f"{name}: forward takes more than one input ({p.name!r} has no default); "
                "convcalc reads models of one input"
            )
        out[p.name] = p.default
    return out or None


def _one_line(e: BaseException | str) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 300 else text[:297] + "..."


def _run(torch: Any, fx: Any, gm: Any, input_shape: Shape) -> tuple[dict, dict]:
    """Run the traced module once on the meta device, recording every node's value and the
    FLOPs torch counts for it. The module's own tensors are swapped for meta ones only for the
    run (``functional_call``): the model is left as it was."""
    from torch.func import functional_call
    from torch.utils.flop_counter import FlopCounterMode

    values: dict = {}
    flops: dict = {}

    class Recorder(fx.Interpreter):
        def run_node(self, n: Any) -> Any:
            with FlopCounterMode(display=False) as counter:
                result = super().run_node(n)
            values[n] = result
            flops[n] = counter.get_total_flops()
            return result

    class Runner(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, *xs: Any) -> Any:
            return Recorder(self.inner).run(*xs)

    runner = Runner(gm)
    state = {
        name: torch.empty_like(t, device="meta")
        for name, t in (
            *runner.named_parameters(remove_duplicate=False),
            *runner.named_buffers(remove_duplicate=False),
        )
    }
    x = torch.zeros((1, *input_shape), device="meta")
    try:
        with torch.no_grad():
            functional_call(runner, state, (x,))
    except Exception as e:
        where = next((n for n in gm.graph.nodes if n.op != "output" and n not in values), None)
        at = ""
        if where is not None:
            at = (
                f" at module {where.target}"
                if where.op == "call_module"
                else f" at {where.name} ({_op_text(where)})"
            )
        message = str(e).split("\n\nWhile executing")[0]  # fx's addendum: the node, said above
        raise ConvcalcError(
            f"the model failed on an input of shape {list(input_shape)}{at}: {type(e).__name__}: {_one_line(message)}"
        ) from None
    return values, flops
