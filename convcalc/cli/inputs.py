"""What the commands that read a network share about its input: a spec or a model file
(``convcalc.frontends``), the model-file options ``--input`` and ``--allow-unknown``, and the
warning line on stderr for operations counted as zero."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from ..network import Network, Report

InputOpt = Annotated[
    str | None,
    typer.Option(
        "--input",
        metavar="CxHxW",
        help="Input shape without the batch (3x224x224): sets or overrides a model file's "
        "(needed when the ONNX file leaves a dim symbolic).",
    ),
]
AllowUnknownOpt = Annotated[
    bool,
    typer.Option(
        "--allow-unknown",
        help="Count operations of a model file that convcalc cannot cost as zero (every output says "
        "so) instead of failing.",
    ),
]


def load_network(ref: str, input: str | None = None, allow_unknown: bool = False) -> Network:
    """The network of a SPEC argument: a YAML spec, ``zoo:NAME``, ``-`` or an ONNX file."""
    from ..frontends import Options, load, parse_input

    return load(ref, Options(parse_input(input), allow_unknown))


def is_model_network(net: Network) -> bool:
    """Whether a network was read from a model file (fixed channels, no blocks to repeat)."""
    return not net.layers and getattr(net, "model", None) is not None


def check_width(net: Network, width_mult: float, ref: str) -> None:
    if width_mult == 1:
        return
    from ..errors import ConvcalcError

    if is_model_network(net):
        raise ConvcalcError(
            f"--width-mult: {ref} is a model file, whose channels are fixed (import it as a spec with "
            "`convcalc import` and scale that)"
        )


def warnings_of(report: Report) -> list[str]:
    from ..layers.tensor import zero_cost_warnings

    return zero_cost_warnings([r.cost for r in report.rows])


def warn(report: Report) -> None:
    """Say on stderr what the report counts as zero (its tables and JSON say it too)."""
    for line in warnings_of(report):
        sys.stderr.write(f"convcalc: warning: {report.network.source or report.name}: {line}\n")
