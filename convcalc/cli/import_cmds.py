"""convcalc import: a model as an editable spec (graph form, names from the model).

``convcalc import --torch package.module:factory --input 3x224x224 [-o spec.yaml]`` captures a
live PyTorch model (torch in the same environment) and writes the spec; ``convcalc report`` of
that spec gives exactly the numbers of ``convcalc report --torch ...``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .torch_cmds import ALLOW_UNKNOWN_HELP, INPUT_HELP, TORCH_SOURCE_HELP, parse_input, torch_network, warn


def import_(
    model: Annotated[
        str | None,
        typer.Argument(help="A model file (where a reader for its format is installed).", metavar="MODEL"),
    ] = None,
    torch: Annotated[
        str | None, typer.Option("--torch", help=TORCH_SOURCE_HELP, metavar="PKG.MOD:FACTORY")
    ] = None,
    input: Annotated[str | None, typer.Option("--input", help=INPUT_HELP, metavar="CxHxW")] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown", help=ALLOW_UNKNOWN_HELP)] = False,
    output: Annotated[
        str | None,
        typer.Option("--output", "-o", help="Write the spec to FILE (atomically).", metavar="FILE"),
    ] = None,
) -> None:
    """Write a model as an editable convcalc spec (graph form: name:, from:, inputs:, outputs:),
    with readable names taken from the model."""
    from ..errors import ConvcalcError
    from ..output import emit
    from ..spec_writer import graph_spec

    if model is not None and torch is not None:
        raise ConvcalcError("import: give a MODEL file or --torch PKG.MOD:FACTORY, not both")
    if torch is None:
        raise ConvcalcError(
            "import: name the model: --torch PKG.MOD:FACTORY (a PyTorch model)"
            + (f"; {model}: model files are not readable by this version" if model else "")
        )
    shape = parse_input(input) if input is not None else None
    net, graph, warnings = torch_network(torch, shape, allow_unknown)
    warn(warnings)
    comments = [f"written by convcalc import --torch {torch} --input {'x'.join(map(str, net.input_shape))}"]
    comments += [f"warning: {w}" for w in warnings]
    emit(graph_spec(graph, net.name, comments=comments), output)


def register(app: typer.Typer) -> None:
    app.command(name="import")(import_)
