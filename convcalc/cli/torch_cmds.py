"""convcalc export --torch | verify: a spec as a PyTorch module, and a spec checked by PyTorch or
against a real model.

``verify`` exits 0 when everything agrees (one line), 1 when something differs (a table naming
the layers or totals), 2 on bad input or when PyTorch is needed and missing, like every command.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import FORMAT_HELP, OUTPUT_HELP, Format

SpecArg = Annotated[
    str, typer.Argument(help="A spec file (YAML), '-' for stdin, or zoo:NAME.", metavar="SPEC")
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
    "A PyTorch model: package.module:factory (a callable returning an nn.Module, or an nn.Module), "
    "or path/to/file.py:factory. Needs torch in the same environment."
)
INPUT_HELP = "The shape of one input sample, channels first, without the batch: 3x224x224."
ALLOW_UNKNOWN_HELP = "Count ops convcalc cannot cost as zero, with a warning, instead of refusing the model."


def parse_input(text: str, option: str = "--input") -> tuple[int, ...]:
    """``3x224x224`` -> (3, 224, 224): channels and 0 to 3 spatial sizes, each >= 1."""
    from ..errors import ConvcalcError

    parts = text.strip().lower().replace("×", "x").replace(",", "x").split("x")
    try:
        dims = tuple(int(p) for p in parts)
    except ValueError:
        raise ConvcalcError(f"{option} {text!r}: must be sizes like 3x224x224 (channels first)") from None
    if not 1 <= len(dims) <= 4:
        raise ConvcalcError(
            f"{option} {text!r}: needs channels and 0 to 3 spatial sizes, got {len(dims)} values"
        )
    if any(d < 1 for d in dims):
        raise ConvcalcError(f"{option} {text!r}: every size must be >= 1")
    return dims


def load_network(ref: str, resolution: str | None = None) -> Any:
    """A spec by reference (file, -, zoo:NAME), at a resolution if asked."""
    from .. import spec
    from .network_cmds import with_resolution

    net = spec.load(ref)
    return with_resolution(net, resolution, ref) if resolution is not None else net


def export(
    spec: SpecArg,
    torch: Annotated[
        bool, typer.Option("--torch", help="Write a PyTorch module (a self-contained .py file).")
    ] = False,
    output: OutputOpt = None,
    resolution: ResOpt = None,
) -> None:
    """Write a spec as code: --torch gives a self-contained Python file defining an nn.Module with
    the spec's layers, shapes and parameters (build() returns it; INPUT_SHAPE is its input)."""
    from ..errors import ConvcalcError
    from ..output import emit
    from ..torch_export import torch_source

    if not torch:
        raise ConvcalcError("export: choose what to write: --torch (a PyTorch module)")
    net = load_network(spec, resolution)
    module = torch_source(net.graph(), net.name, net.source)
    emit(module.text, output)


def verify(
    spec: SpecArg,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="A model to compare the spec with: its params, MACs and output shapes must be equal "
            "(a model file, e.g. an ONNX file where supported, or another spec).",
            metavar="MODEL",
        ),
    ] = None,
    torch_source: Annotated[
        str | None, typer.Option("--torch", help=TORCH_SOURCE_HELP, metavar="PKG.MOD:FACTORY")
    ] = None,
    input: Annotated[
        str | None,
        typer.Option("--input", help=INPUT_HELP + " Default: the spec's input.", metavar="CxHxW"),
    ] = None,
    allow_unknown: Annotated[bool, typer.Option("--allow-unknown", help=ALLOW_UNKNOWN_HELP)] = False,
    device: Annotated[
        str,
        typer.Option(
            "--device",
            help="Where PyTorch runs the forward pass: cpu, cuda, or meta (shapes and counts only, fastest).",
            metavar="DEVICE",
        ),
    ] = "cpu",
    resolution: ResOpt = None,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format("table"),
    output: Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")] = None,
) -> int:
    """Check a spec's numbers with PyTorch: build its module (as export --torch writes it), run one
    forward pass on zeros and compare every layer's output shape, params and MACs (FlopCounterMode)
    with convcalc's. With --against MODEL or --torch PKG.MOD:FACTORY: check that the spec and a real
    model have the same params, MACs and output shapes (a CI guard against a drifting spec); a params
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
            raise ConvcalcError("verify: --input and --allow-unknown go with --torch (or --against)")
        from ..verify import verify_report

        result = verify_report(report, device)
        show(verify_doc(result), format, output)
        return 0 if result.ok else 1
    from ..verify import against as compare

    shape = parse_input(input) if input is not None else tuple(net.input_shape)
    if torch_source is not None:
        model_report, warnings = torch_report(torch_source, shape, allow_unknown)
    else:
        assert against is not None
        model_report, warnings = load_network_report(against, shape if input is not None else None)
    warn(warnings)
    agreement = compare(report, model_report, torch_source or against)
    show(against_doc(agreement), format, output)
    return 0 if agreement.ok else 1


def load_network_report(ref: str, input_shape: tuple[int, ...] | None) -> tuple[Any, list[str]]:
    """The report of a model file or spec named by ``ref`` (see load_network)."""
    from .. import network

    net = load_network(ref)
    if input_shape is not None:
        from ..errors import ConvcalcError

        if len(input_shape) != len(net.input_shape) or input_shape[0] != net.input_shape[0]:
            raise ConvcalcError(
                f"--input {'x'.join(map(str, input_shape))}: {ref} takes {list(net.input_shape)}"
            )
        net = net.with_resolution(input_shape[1:]) if len(input_shape) > 1 else net
    return network.walk(net), []


def torch_report(
    source: str, input_shape: tuple[int, ...] | None, allow_unknown: bool, batch: int = 1
) -> tuple[Any, list[str]]:
    """Import a live PyTorch model (``--torch``) and walk it: (report, warnings)."""
    from .. import network

    net, graph, warnings = torch_network(source, input_shape, allow_unknown)
    return network.walk(net, graph=graph, batch=batch), warnings


def torch_network(
    source: str, input_shape: tuple[int, ...] | None, allow_unknown: bool
) -> tuple[Any, Any, list[str]]:
    """(Network, Graph, warnings) of a ``--torch`` source at ``input_shape`` (default: the
    ``INPUT_SHAPE`` of the model's module, as export --torch writes it)."""
    from ..errors import ConvcalcError
    from ..frontends import pytorch
    from ..network import Network

    src = pytorch.load_source(source)
    shape = input_shape or pytorch.default_input(src)
    if shape is None:
        raise ConvcalcError(
            f"--torch {source}: give --input CxHxW, the shape of one input sample (e.g. 3x224x224)"
        )
    model = pytorch.build_model(src)
    imported = pytorch.import_model(model, shape, src.name, allow_unknown)
    net = Network(src.name, shape, [], source=f"torch:{source}")
    return net, imported.graph, imported.warnings


def warn(lines: list[str]) -> None:
    import sys

    for line in lines:
        sys.stderr.write(f"convcalc: warning: {line}\n")


def register(app: typer.Typer) -> None:
    app.command()(export)
    app.command()(verify)
