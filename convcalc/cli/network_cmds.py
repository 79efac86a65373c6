"""convcalc report: whole networks from YAML specs."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..network import Network, Report

from .common import COLUMNS_HELP, DEVICE_HELP, FORMAT_HELP, OUTPUT_HELP, WIDE_HELP, Dtype, Format, check_min
from .inputs import AllowUnknownOpt, InputOpt


def _complete_spec(incomplete: str) -> list[str]:
    from .completion import complete_spec

    return complete_spec(incomplete)


def _complete_columns(incomplete: str) -> list[str]:
    from .completion import complete_columns

    return complete_columns(incomplete)


SpecsArg = Annotated[
    list[str],
    typer.Argument(
        help="Spec files (YAML), model files (.onnx), '-' for stdin, or zoo:NAME.",
        metavar="SPEC...",
        autocompletion=_complete_spec,
    ),
]
BatchOpt = Annotated[int, typer.Option("--batch", help="Batch size.", metavar="N")]
WidthOpt = Annotated[
    float,
    typer.Option(
        "--width-mult",
        help="MobileNet's width multiplier: every conv-like out_channels becomes int(c*A), at least 1.",
        metavar="A",
    ),
]
ResOpt = Annotated[
    str | None,
    typer.Option(
        "--resolution",
        help="Set every spatial input dim to R, or each to one of DxHxW (16x112x112 for video).",
        metavar="R|DxHxW",
    ),
]
DtypeOpt = Annotated[
    Dtype, typer.Option("--dtype", help="Element type for memory, memory traffic and latency figures.")
]


def _complete_device(incomplete: str) -> list[str]:
    from .completion import complete_device

    return complete_device(incomplete)


DeviceOpt = Annotated[
    str | None, typer.Option("--device", help=DEVICE_HELP, metavar="DEVICE", autocompletion=_complete_device)
]
WideOpt = Annotated[bool, typer.Option("--wide", help=WIDE_HELP)]
ColumnsOpt = Annotated[
    str | None, typer.Option("--columns", help=COLUMNS_HELP, metavar="KEYS", autocompletion=_complete_columns)
]
# report sweeps: several values, comma-separated, give one report per combination
WidthListOpt = Annotated[
    str,
    typer.Option(
        "--width-mult",
        metavar="A[,A...]",
        help="MobileNet's width multiplier: every conv-like out_channels becomes int(c*A), at least 1. "
        "Several values (1,0.75,0.5) give one report each and a summary.",
    ),
]
ResListOpt = Annotated[
    str | None,
    typer.Option(
        "--resolution",
        metavar="R[,R...]",
        help="Set every spatial input dim to R, or each to one of DxHxW (16x112x112). Several values "
        "(224,192,160) give one report each.",
    ),
]


# a live PyTorch model instead of (or besides) specs: report/check --torch PKG.MOD:FACTORY
OptSpecsArg = Annotated[
    list[str] | None,
    typer.Argument(
        help="Spec files (YAML), '-' for stdin, or zoo:NAME (none with --torch).",
        metavar="SPEC...",
        autocompletion=_complete_spec,
    ),
]
TorchOpt = Annotated[
    str | None,
    typer.Option(
        "--torch",
        help="Also a live PyTorch model: package.module:factory (a callable returning an nn.Module) "
        "or path/to/file.py:factory; needs torch installed.",
        metavar="PKG.MOD:FACTORY",
    ),
]


def _values(text: Any, parse: Callable[[str], Any], option: str) -> list[Any]:
    from ..errors import ConvcalcError

    if not isinstance(text, str):
        return [text]
    out = []
    for part in text.split(","):
        try:
            out.append(parse(part.strip()))
        except ValueError as e:  # "must be an integer, got '1e30'", "'２' is a non-ASCII digit"...
            raise ConvcalcError(f"{option} {text!r}: {e}") from None
    return out


def parse_resolution(text: str) -> int | tuple[int, ...]:
    """``224`` (every spatial dim) or ``16x112x112`` (one per dim), each >= 1."""
    from .common import parse_size

    dims = parse_size(text, "--resolution")
    return dims[0] if len(dims) == 1 else dims


def with_resolution(net: Network, r: int | tuple[int, ...] | str, ref: str) -> Network:
    """The network at resolution ``r`` (an int or a tuple from parse_resolution)."""
    from ..errors import ConvcalcError

    if isinstance(r, str):
        r = parse_resolution(r)
    if len(net.input_shape) == 1:
        raise ConvcalcError(f"--resolution: {ref} has no spatial input dims")
    return net.with_resolution(r)


def load_reports(
    specs: list[str],
    batch: int = 1,
    width_mult: Any = 1.0,
    resolution: Any = None,
    input: str | None = None,
    allow_unknown: bool = False,
    torch: str | None = None,
) -> list[Report]:
    """Load and walk each spec or model file (and the ``--torch`` model), once per width
    multiplier and resolution (a value or a comma-separated list); errors carry FILE:LINE."""
    from .. import network
    from ..errors import ConvcalcError
    from ..numbers import ExactFloat
    from .inputs import check_width, load_network, warn

    check_min(batch, "--batch")
    widths = _values(width_mult, ExactFloat, "--width-mult")  # exact: 0.1 is 1/10
    for w in widths:
        if not (w > 0) or w == float("inf"):
            raise ConvcalcError(f"--width-mult {w}: must be a number > 0")
    resolutions = _values(resolution, parse_resolution, "--resolution")
    sweep = len(widths) * len(resolutions) > 1
    reports = []
    for ref in specs:
        base = load_network(ref, input, allow_unknown)
        for r in resolutions:
            net = base
            if r is not None:
                net = with_resolution(net, r, ref)
            for w in widths:
                check_width(net, w, ref)
                report = network.walk(net, batch=batch, width_mult=w)
                warn(report)
                if sweep:
                    report.name = f"{report.name} (width x{w:g}, {'x'.join(map(str, net.input_shape[1:]))})"
                reports.append(report)
    if torch is not None:
        reports += _torch_reports(torch, input, allow_unknown, batch, widths, resolutions, sweep)
    return reports


def _torch_reports(
    source: str,
    input: str | None,
    allow_unknown: bool,
    batch: int,
    widths: list[Any],
    resolutions: list[Any],
    sweep: bool,
) -> list[Report]:
    """The reports of the ``--torch`` model, once per width multiplier and resolution."""
    from .. import network
    from .inputs import check_width, warn
    from .torch_cmds import torch_network

    base = torch_network(source, input, allow_unknown)
    ref = f"--torch {source}"
    out = []
    for r in resolutions:
        net = base if r is None else with_resolution(base, r, ref)
        for w in widths:
            check_width(net, w, ref)
            report = network.walk(net, batch=batch, width_mult=w)
            warn(report)
            if sweep:
                report.name = f"{report.name} (width x{w:g}, {'x'.join(map(str, net.input_shape[1:]))})"
            out.append(report)
    return out


def report(
    specs: OptSpecsArg = None,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.table,
    batch: BatchOpt = 1,
    width_mult: WidthListOpt = "1",
    resolution: ResListOpt = None,
    dtype: DtypeOpt = Dtype.fp32,
    device: DeviceOpt = None,
    top: Annotated[
        int | None, typer.Option("--top", help="Show only the N layers with the most MACs.", metavar="N")
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option(
            "--depth",
            help="Summarise blocks nested at level D and deeper (0: top-level blocks become one row each).",
            metavar="D",
        ),
    ] = None,
    output: Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")] = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    torch: TorchOpt = None,
) -> None:
    """Per-layer report of whole networks: shapes, params, MACs, FLOPs, memory, receptive fields.

    Also memory traffic per layer, and with --device a roofline latency estimate."""
    from ..render import views
    from .common import load_device, show

    if top is not None:
        check_min(top, "--top")
    if depth is not None:
        check_min(depth, "--depth", 0)
    specs = _specs_or_torch(specs, torch)
    d = dtype.value
    profile = load_device(device, d)
    reports = load_reports(specs, batch, width_mult, resolution, input, allow_unknown, torch)
    if len(reports) > len(specs) + (torch is not None):  # a sweep: the comparison is the point
        widths = _values(width_mult, float, "--width-mult")
        resolutions = _values(resolution, parse_resolution, "--resolution")
        doc = views.sweep_doc(reports, d, widths, resolutions, profile)
    elif len(reports) == 1:
        doc = views.report_doc(reports[0], d, top, depth, device=profile)
    else:
        doc = views.multi_report_doc(reports, d, top, depth, profile)
    show(doc, format, output, wide, columns)


def _specs_or_torch(specs: list[str] | None, torch: str | None) -> list[str]:
    from ..errors import ConvcalcError

    if not specs and torch is None:
        raise ConvcalcError("name the networks: SPEC... and/or --torch PKG.MOD:FACTORY")
    return list(specs or [])


def register(app: typer.Typer) -> None:
    app.command()(report)
