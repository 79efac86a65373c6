"""convcalc import MODEL [-o spec.yaml]: a model file (ONNX) as an editable graph-form spec;
convcalc import --torch PKG.MOD:FACTORY --input 3x224x224: a live PyTorch model likewise.

The spec has the model's layers in order, each named from the model (``layer1.0.conv1``), with
the patterns convcalc recognises folded (depthwise and pointwise convolutions, squeeze-and-
excitation blocks, bias adds, GELU and SiLU), so that ``convcalc report spec.yaml`` gives
exactly the numbers of ``convcalc report MODEL``. A YAML spec given as MODEL is rewritten in
graph form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .inputs import AllowUnknownOpt, InputOpt
from .torch_cmds import TORCH_SOURCE_HELP

if TYPE_CHECKING:
    from ..network import Network

IMPORT_HELP = "\n\n".join(
    [
        "Write a model (an ONNX file) as an editable YAML spec in graph form.",
        "One layer per line, named from the model; `convcalc report` of the spec gives exactly the "
        "numbers of `convcalc report MODEL`.",
        "--input sets the input shape (needed when the file leaves a dim symbolic); --allow-unknown keeps "
        "operations convcalc cannot cost as zero-cost `opaque` layers (reports of the spec say so).",
        "--torch PKG.MOD:FACTORY instead of MODEL reads a live PyTorch model (torch installed; --input "
        "gives its input shape), captured by torch.fx: see docs/torch.md.",
    ]
)


def import_(
    model: Annotated[
        str | None,
        typer.Argument(
            help="A model file (.onnx), or a YAML spec to rewrite in graph form.", metavar="MODEL"
        ),
    ] = None,
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the spec to FILE (atomically) instead of stdout.", metavar="FILE"
        ),
    ] = None,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    torch: Annotated[
        str | None, typer.Option("--torch", help=TORCH_SOURCE_HELP, metavar="PKG.MOD:FACTORY")
    ] = None,
) -> None:
    """Write a model as an editable graph-form spec (help: IMPORT_HELP)."""
    from ..errors import ConvcalcError
    from ..output import emit
    from .inputs import load_network

    if (model is None) == (torch is None):
        raise ConvcalcError("import: name one model: MODEL (a file) or --torch PKG.MOD:FACTORY")
    if torch is not None:
        from .torch_cmds import torch_network

        emit(spec_text(torch_network(torch, input, allow_unknown), torch), output)
        return
    assert model is not None
    net = load_network(model, input, allow_unknown)
    emit(spec_text(net, model), output)


def spec_text(net: Network, source: str) -> str:
    """The spec of a loaded network (any input format), with a header saying where it came from."""
    from .. import __version__
    from ..layers.tensor import opaque_warnings
    from ..spec_writer import graph_spec

    graph = net.graph()
    header = [f"Imported from {source} by convcalc {__version__} import."]
    ops = [n.layer.params["op"] for n in graph.nodes if n.layer.type_name == "opaque"]
    header += [f"Warning: {w}" for w in opaque_warnings(ops)]
    return graph_spec(graph, name=net.name, description=net.description, header=header)


def register(app: typer.Typer) -> None:
    app.command("import", help=IMPORT_HELP)(import_)
