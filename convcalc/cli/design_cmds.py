"""convcalc fit | solve: design under a budget, and output sizes backwards.

``fit`` exits 0 when a setting meets every limit, 1 when even the smallest does not, 2 on bad
input. ``solve`` exits 0 when some geometry maps the input to the output, 1 when none does
(it then shows the nearest reachable sizes), 2 on bad input.
"""

from __future__ import annotations

import re
from enum import Enum
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated

import typer

from .common import COLUMNS_HELP, FORMAT_HELP, OUTPUT_HELP, WIDE_HELP, Format, check_min, parse_size
from .inputs import AllowUnknownOpt, InputOpt
from .network_cmds import BatchOpt, DeviceOpt, Dtype, DtypeOpt

if TYPE_CHECKING:
    from ..solve import Constraints, Ranges

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")]
WideOpt = Annotated[bool, typer.Option("--wide", help=WIDE_HELP)]
ColumnsOpt = Annotated[str | None, typer.Option("--columns", help=COLUMNS_HELP, metavar="KEYS")]


class Vary(str, Enum):
    width = "width"
    resolution = "resolution"
    compound = "compound"


def _limit_help(metric: str, what: str, example: str) -> str:
    return f"At most X {what} ({example}); overrides the spec's budget.{metric}."


MaxMacs = Annotated[
    str | None, typer.Option("--max-macs", metavar="X", help=_limit_help("macs", "MACs", "300M, 1.2G"))
]
MaxFlops = Annotated[
    str | None, typer.Option("--max-flops", metavar="X", help=_limit_help("flops", "FLOPs", "600M"))
]
MaxParams = Annotated[
    str | None,
    typer.Option("--max-params", metavar="X", help=_limit_help("params", "parameters", "4.5M, 800k")),
]
MaxActivations = Annotated[
    str | None,
    typer.Option(
        "--max-activations",
        metavar="X",
        help=_limit_help("activations", "activations (elements of every layer's output)", "20M"),
    ),
]
MaxMemory = Annotated[
    str | None,
    typer.Option(
        "--max-memory",
        metavar="X",
        help=_limit_help("memory", "bytes of weights + peak activations at --dtype", "16MiB, 20M"),
    ),
]

MaxTraffic = Annotated[
    str | None,
    typer.Option(
        "--max-traffic",
        metavar="X",
        help=_limit_help(
            "traffic", "bytes of memory traffic (every layer's reads and writes) at --dtype", "1G"
        ),
    ),
]
MaxLatency = Annotated[
    str | None,
    typer.Option(
        "--max-latency",
        metavar="T",
        help=_limit_help("latency", "seconds of estimated latency on --device (roofline lower bound)", "5ms"),
    ),
]

SHOWN = 50  # solutions a table or Markdown shows unless --limit says otherwise
_DECIMAL = re.compile(r"^\s*[+-]?[0-9]{1,12}(?:\.[0-9]{1,12})?(?:[eE][+-]?[0-9]{1,2})?\s*$")


def _exact(text: str | None, option: str) -> Fraction | None:
    """A decimal option value as an exact fraction (0.05 is 1/20, not a float near it)."""
    from ..errors import ConvcalcError

    if text is None:
        return None
    if not _DECIMAL.match(text):
        raise ConvcalcError(f"{option} {text!r}: must be a number like 0.05, 8 or -1.5")
    return Fraction(text.strip())


def fit(
    spec: Annotated[
        str, typer.Argument(help="Spec file (YAML), '-' for stdin, or zoo:NAME.", metavar="SPEC")
    ],
    max_macs: MaxMacs = None,
    max_flops: MaxFlops = None,
    max_params: MaxParams = None,
    max_activations: MaxActivations = None,
    max_memory: MaxMemory = None,
    max_traffic: MaxTraffic = None,
    max_latency: MaxLatency = None,
    device: DeviceOpt = None,
    vary: Annotated[
        Vary,
        typer.Option(
            "--vary",
            help="What to scale: width (the width multiplier), resolution (the input size) or compound "
            "(EfficientNet's depth, width and resolution together).",
        ),
    ] = Vary.width,
    step: Annotated[
        str | None,
        typer.Option(
            "--step",
            metavar="S",
            help="Grid step: a width multiplier step (default 0.05), pixels (default 8) or phi (default 0.1).",
        ),
    ] = None,
    divisor: Annotated[
        int | None,
        typer.Option(
            "--divisor",
            metavar="N",
            help="Round every scaled channel count to a multiple of N (MobileNetV2/EfficientNet: 8).",
        ),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="V",
            help="Smallest setting searched [default: width > 0, resolution 1, phi -4].",
        ),
    ] = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="V",
            help="Largest setting searched [default: width 4, resolution max(4096, 4 x the spec's), phi 10].",
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option("--alpha", metavar="A", help="Compound: depth grows as A^phi [default: 1.2]."),
    ] = None,
    beta: Annotated[
        float | None,
        typer.Option("--beta", metavar="B", help="Compound: width grows as B^phi [default: 1.1]."),
    ] = None,
    gamma: Annotated[
        float | None,
        typer.Option("--gamma", metavar="G", help="Compound: resolution grows as G^phi [default: 1.15]."),
    ] = None,
    width_mult: Annotated[
        float,
        typer.Option("--width-mult", metavar="A", help="With --vary resolution: a fixed width multiplier."),
    ] = 1.0,
    resolution: Annotated[
        int | None,
        typer.Option("--resolution", metavar="R", help="With --vary width: a fixed input resolution."),
    ] = None,
    batch: BatchOpt = 1,
    dtype: DtypeOpt = Dtype.fp32,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
) -> int:
    """The largest width, resolution or compound scaling of a network within budget limits."""
    from .. import budget as B
    from .. import fit as F
    from ..errors import ConvcalcError
    from .inputs import check_width, is_model_network, load_network

    check_min(batch, "--batch")
    flags = B.limit_flags(
        {
            "macs": max_macs,
            "flops": max_flops,
            "params": max_params,
            "activations": max_activations,
            "memory": max_memory,
            "traffic": max_traffic,
            "latency": max_latency,
        }
    )
    if vary != Vary.compound:
        given = [name for name, v in (("alpha", alpha), ("beta", beta), ("gamma", gamma)) if v is not None]
        if given:
            raise ConvcalcError(f"--{given[0]}: only with --vary compound")
    if divisor is not None:
        check_min(divisor, "--divisor")
    net = load_network(spec, input, allow_unknown)
    if vary != Vary.resolution and is_model_network(net):
        raise ConvcalcError(
            f"--vary {vary.value}: {spec} is a model file, whose channels and depth are fixed (--vary "
            "resolution scales its input; `convcalc import` makes a spec to scale otherwise)"
        )
    check_width(net, width_mult if width_mult is not None else 1, spec)
    limits, sources = B.merge_limits(net.budget, flags)
    from .budget_cmds import no_device, spec_device
    from .common import load_device

    profile = load_device(device, dtype.value) if device is not None else spec_device(net, dtype.value)
    if "latency" in limits and profile is None:
        raise no_device(net.source or spec, net, sources["latency"], max_latency)
    result = F.fit(
        net,
        limits,
        vary.value,
        step=_exact(step, "--step"),
        lo=_exact(from_, "--from"),
        hi=_exact(to, "--to"),
        divisor=divisor,
        alpha=F.ALPHA if alpha is None else alpha,
        beta=F.BETA if beta is None else beta,
        gamma=F.GAMMA if gamma is None else gamma,
        width_mult=width_mult,
        resolution=resolution,
        context=F.Context(dtype=dtype.value, batch=batch, device=profile),
    )
    from ..render.design_view import fit_doc
    from .common import show

    shown = {
        m: f"budget, line {net.budget_lines[m]}" if src == "budget" and net.budget_lines.get(m) else src
        for m, src in sources.items()
    }
    doc = fit_doc(result, net.name, net.source or spec, shown, profile)
    doc.data = {
        "spec": net.source or spec,
        "name": net.name,
        **result.as_dict(),
        "limit_sources": sources,
        "device": profile.name if profile is not None else None,
    }
    show(doc, format, output, wide, columns)
    return 0 if result.fits else 1


def _constraint(text: str | None, option: str, n: int, minimum: int) -> list[int | None]:
    """A fixed value per dim (``3`` or ``3x5``), or None per dim when not given."""
    from ..errors import ConvcalcError
    from ..layers.fields import Dims

    if text is None:
        return [None] * n
    try:
        v = Dims(minimum).parse_text(text)
    except ValueError as e:
        raise ConvcalcError(f"{option} {text!r}: {e}") from None
    if isinstance(v, int):
        return [v] * n
    if len(v) != n:
        raise ConvcalcError(
            f"{option} {text}: {len(v)} values, but the sizes have {n} dim{'s' if n != 1 else ''}"
        )
    return list(v)


def solve(
    in_: Annotated[
        str, typer.Option("--in", metavar="SIZE", help="Input size: 224, or one per dim: 224x160.")
    ],
    out: Annotated[str, typer.Option("--out", metavar="SIZE", help="Wanted output size: 112, or 112x80.")],
    kernel: Annotated[
        str | None, typer.Option("--kernel", "-k", metavar="K|KxK", help="Fix the kernel.")
    ] = None,
    stride: Annotated[
        str | None, typer.Option("--stride", "-s", metavar="S|SxS", help="Fix the stride.")
    ] = None,
    padding: Annotated[
        str | None,
        typer.Option("--padding", "-p", metavar="P|PxP", help="Fix the padding (per side, symmetric)."),
    ] = None,
    dilation: Annotated[
        str | None, typer.Option("--dilation", "-d", metavar="D|DxD", help="Fix the dilation.")
    ] = None,
    output_padding: Annotated[
        str | None,
        typer.Option("--output-padding", metavar="N", help="With --transposed: fix the output padding."),
    ] = None,
    transposed: Annotated[
        bool, typer.Option("--transposed", help="Solve a transposed convolution (upsampling).")
    ] = False,
    pool: Annotated[
        bool, typer.Option("--pool", help="Solve max pooling (ceil mode unless --no-ceil-mode).")
    ] = False,
    ceil_mode: Annotated[
        bool, typer.Option("--ceil-mode/--no-ceil-mode", help="With --pool: torch's ceil_mode.")
    ] = True,
    max_kernel: Annotated[
        int, typer.Option("--max-kernel", metavar="K", help="Largest kernel searched.")
    ] = 7,
    max_stride: Annotated[
        int, typer.Option("--max-stride", metavar="S", help="Largest stride searched.")
    ] = 4,
    max_dilation: Annotated[
        int, typer.Option("--max-dilation", metavar="D", help="Largest dilation searched.")
    ] = 4,
    limit: Annotated[
        int | None,
        typer.Option(
            "--limit",
            metavar="N",
            help=f"Show only the N simplest solutions in a table [default: {SHOWN}; json and csv list all].",
        ),
    ] = None,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> int:
    """Which kernel, stride, padding and dilation map an input size to an output size."""
    from .. import solve as S
    from ..errors import ConvcalcError

    if transposed and pool:
        raise ConvcalcError("--transposed and --pool: choose one")
    if not pool and not ceil_mode:
        raise ConvcalcError("--no-ceil-mode: only with --pool")
    if output_padding is not None and not transposed:
        raise ConvcalcError("--output-padding: only with --transposed")
    if limit is not None:
        check_min(limit, "--limit")
    kind = "transposed" if transposed else "pool" if pool else "conv"
    size_in = parse_size(in_, "--in")
    size_out = parse_size(out, "--out")
    n = len(size_in)
    if len(size_out) != n:
        raise ConvcalcError(
            f"--in {in_} has {n} dim{'s' if n != 1 else ''} but --out {out} has {len(size_out)}"
        )
    fixed = zip(
        _constraint(kernel, "--kernel", n, 1),
        _constraint(stride, "--stride", n, 1),
        _constraint(padding, "--padding", n, 0),
        _constraint(dilation, "--dilation", n, 1),
        _constraint(output_padding, "--output-padding", n, 0),
    )
    constraints: list[Constraints] = [S.Constraints(*c) for c in fixed]
    ranges = S.Ranges(max_kernel, max_stride, max_dilation)
    for option, v in (
        ("--max-kernel", max_kernel),
        ("--max-stride", max_stride),
        ("--max-dilation", max_dilation),
    ):
        if not 1 <= v <= S.MAX_RANGE:
            raise ConvcalcError(f"{option} {v}: must be 1 to {S.MAX_RANGE}")
    result = S.solve(kind, size_in, size_out, constraints, ranges, ceil_mode, limit)
    from ..render.design_view import solve_doc
    from .common import show

    doc = solve_doc(result, _ranges_text(kind, ranges, constraints), SHOWN if limit is None else limit)
    doc.data = S.solution_dicts(result)
    show(doc, format, output, wide, columns)
    return 0 if result.found else 1


def _ranges_text(kind: str, r: Ranges, constraints: list[Constraints]) -> str:
    """What was searched, for the table's note: ``kernel <= 7, stride 2, ...``."""
    parts = []
    for name, top in (("kernel", r.max_kernel), ("stride", r.max_stride), ("dilation", r.max_dilation)):
        fixed = [getattr(c, name) for c in constraints]
        if None in fixed:
            parts.append(f"{name} <= {top}")
        else:
            parts.append(f"{name} {'x'.join(map(str, fixed)) if len(set(fixed)) > 1 else fixed[0]}")
    if all(c.padding is not None for c in constraints):
        parts.append("padding as given")
    else:
        parts.append(
            {"conv": "padding <= d(k-1) a side", "transposed": "padding <= d(k-1)", "pool": "padding <= k/2"}[
                kind
            ]
        )
    return ", ".join(parts)


def register(app: typer.Typer) -> None:
    app.command()(fit)
    app.command()(solve)
