"""convcalc export --torch | verify: a spec as a PyTorch module, and a spec checked by PyTorch or
against a real model.

``verify`` exits 0 when everything agrees, 1 when something differs (a table naming the layers
or totals), 2 on bad input or when PyTorch is needed and missing, like every command.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .common import FORMAT_HELP, OUTPUT_HELP, Format
from .inputs import AllowUnknownOpt, InputOpt

if TYPE_CHECKING:
    from ..frontends.pytorch import TorchNetwork
    from ..network import Network

SpecArg = Annotated[
    str,
    typer.Argument(
        help="A spec file (YAML), a model file (.onnx), '-' for stdin, or zoo:NAME.", metavar="SPEC"
    ),
]
OutputOpt = Annotated[str | None, typer.Option("--output", "-o", help=OUTPUT_HELP, metavar="FILE")]
ResOpt = Annotated[
    str | None,
    typer.Option(
        "--resolution",
        help="Set every spatial input dim to R, or each to one of DxHxW (the module is written for it).",
        metavar="R|DxHxW",
    ),
]
TORCH_SOURCE_HELP = (
    "A live PyTorch model: package.module:factory (a callable returning an nn.Module, or an "
    "nn.Module) or path/to/file.py:factory; needs torch in the same environment."
)


def load_network(ref: str, resolution: str | None = None, input: str | None = None) -> Network:
    """A spec or model file by reference (file, -, zoo:NAME), at a resolution if asked."""
    from .inputs import load_network as load
    from .network_cmds import with_resolution

    net = load(ref, input)
    return with_resolution(net, resolution, ref) if resolution is not None else net


def torch_network(source: str, input: str | None, allow_unknown: bool) -> TorchNetwork:
    """The network of ``--torch SOURCE`` (see ``convcalc.frontends.pytorch.load_network``), its
    warnings said on stderr."""
    from ..frontends import parse_input
    from ..frontends.pytorch import load_network as load

    net = load(source, parse_input(input), allow_unknown)
    warn(net.warnings)
    return net


def warn(lines: list[str]) -> None:
    import sys

    for line in lines:
        sys.stderr.write(f"convcalc: warning: {line}\n")


def export(
    spec: SpecArg,
    torch: Annotated[
        bool, typer.Option("--torch", help="Write a PyTorch module (a self-contained .py file).")
    ] = False,
    output: OutputOpt = None,
    resolution: ResOpt = None,
    input: InputOpt = None,
) -> None:
    """Write a spec as code: --torch, a self-contained PyTorch module.

    The file defines an nn.Module with the spec's layers, shapes and parameters, one submodule per
    layer named as the report's rows; build() returns it, INPUT_SHAPE is its input."""
    from ..errors import ConvcalcError
    from ..output import emit
    from ..torch_export import torch_source

    if not torch:
        raise ConvcalcError("export: choose what to write: --torch (a PyTorch module)")
    net = load_network(spec, resolution, input)
    module = torch_source(net.graph(), net.name, net.source)
    emit(module.text, output)


def verify(
    spec: SpecArg,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="A model to compare the spec with: its params, MACs and output shapes must be equal "
            "(an ONNX file, or another spec).",
            metavar="MODEL",
        ),
    ] = None,
    torch_source: Annotated[
        str | None, typer.Option("--torch", help=TORCH_SOURCE_HELP, metavar="PKG.MOD:FACTORY")
    ] = None,
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="With --against or --torch: the model's input shape without the batch (3x224x224); "
            "default: the spec's.",
            metavar="CxHxW",
        ),
    ] = None,
    allow_unknown: AllowUnknownOpt = False,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="Where PyTorch runs the forward pass: cpu, cuda, or meta (shapes and counts only, fastest).",
            metavar="DEVICE",
        ),
    ] = "cpu",
    resolution: ResOpt = None,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.table,
    output: Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")] = None,
) -> int:
    """Check a spec's numbers with PyTorch, or a spec against a real model.

    Alone: build the spec's module (as export --torch writes it), run one forward pass on zeros
    and compare every layer's output shape, params and MACs (FlopCounterMode) with convcalc's.
    With --against (a model file) or --torch (a live model): check that the spec and the model have
    the same params, MACs and output shapes, the CI guard against a drifting spec; a params
    difference exactly explained by BatchNorm folded into convs is reported and passes."""
    from .. import network
    from ..errors import ConvcalcError
    from ..render.verify_view import against_doc, verify_doc
    from .common import show

    if against is not None and torch_source is not None:
        raise ConvcalcError("verify: give --against MODEL or --torch PKG.MOD:FACTORY, not both")
    net = load_network(spec, resolution)
    report = network.walk(net)
    if against is None and torch_source is None:
        if input is not None or allow_unknown:
            raise ConvcalcError("verify: --input and --allow-unknown go with --against or --torch")
        from ..verify import verify_report

        result = verify_report(report, device)
        show(verify_doc(result), format, output)
        return 0 if result.ok else 1
    from ..verify import against as compare
    from .inputs import warn as warn_zero

    shape = input if input is not None else "x".join(map(str, net.input_shape))
    if torch_source is not None:
        model: Network = torch_network(torch_source, shape, allow_unknown)
    else:
        assert against is not None
        from .inputs import load_network as load

        model = load(against, shape, allow_unknown)
    model_report = network.walk(model)
    warn_zero(model_report)
    agreement = compare(report, model_report, torch_source or against)
    show(against_doc(agreement), format, output)
    return 0 if agreement.ok else 1


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command()(verify)
