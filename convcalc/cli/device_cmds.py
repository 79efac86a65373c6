"""convcalc devices [measure | show]: the hardware profiles of the roofline latency estimate.

``convcalc devices`` lists the built-in profiles with their figures and sources;
``convcalc devices measure [-o FILE.yaml]`` measures this machine (torch or numpy) and writes a
profile file that ``--device FILE.yaml`` reads; ``convcalc devices show DEVICE`` prints one
profile (a built-in's YAML, to copy and edit, or a checked profile file).
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import COLUMNS_HELP, FORMAT_HELP, OUTPUT_HELP, WIDE_HELP, Format

DTYPE_COLUMNS = ("fp64", "fp32", "tf32", "fp16", "bf16", "int8")


def devices(
    ctx: typer.Context,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.table,
    output: Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")] = None,
    wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    columns: Annotated[str | None, typer.Option("--columns", help=COLUMNS_HELP, metavar="KEYS")] = None,
) -> None:
    """Hardware profiles for latency estimates: peak FLOP/s, memory bandwidth, sources.

    Each profile gives the dense peak FLOP/s per dtype and the memory bandwidth, with their sources.

    `convcalc devices` lists the built-in profiles. `convcalc devices measure -o FILE.yaml` measures this machine. A device is named by a profile's id or alias, or given as FILE.yaml."""
    if ctx.invoked_subcommand is not None:
        return
    from .. import devices as dv

    profiles = dv.builtins()
    from ..render.doc import Doc, Note, Table, col
    from .common import show

    def peak(p: dv.Profile, d: str) -> str | None:
        return dv.si_text(p.peak[d]) if d in p.peak else None

    doc = Doc(
        f"convcalc devices: {len(profiles)} built-in profiles",
        data={"devices": [p.as_dict() for p in profiles]},
    )
    rows = [
        [
            p.key,
            p.name,
            *(peak(p, d) for d in DTYPE_COLUMNS),
            dv.si_text(p.bandwidth) if p.bandwidth is not None else "not published",
        ]
        for p in profiles
    ]
    # the name wraps, so that narrow terminals never cut a number; rare dtypes go first
    name = col("name", "name", wrap=True)
    peaks = [
        col(
            d, d, numeric=True, optional=d in ("fp64", "tf32", "bf16"), drop=2 if d in ("fp64", "tf32") else 1
        )
        for d in DTYPE_COLUMNS
    ]
    doc.add(
        Table("", [col("id"), name, *peaks, col("bandwidth", "bandwidth B/s", numeric=True)], rows),
        primary=True,
    )
    source = col("source", wrap=True)
    doc.add(
        Table(
            "Sources (convcalc devices --format json: the figures taken and those a source could not confirm)",
            [col("id"), col("aliases", wrap=True), source],
            [[p.key, ", ".join(p.aliases), p.source.document if p.source else ""] for p in profiles],
        )
    )
    doc.add(
        Note(
            [
                "Peaks: dense (not sparse) operations per second from vendor datasheets, FLOP/s "
                "(int8: OP/s); SI suffixes, exact (19.5T = 19,500,000,000,000).",
                "tf32 is informative: --dtype has no tf32. Figures a source could not confirm are "
                "listed under 'unconfirmed' (convcalc devices --format json).",
                "convcalc devices measure -o FILE.yaml measures this machine; --device FILE.yaml reads it.",
            ]
        )
    )
    show(doc, format, output, wide, columns)


def measure(
    output: Annotated[
        str | None,
        typer.Option(
            "--output", "-o", help="Write the profile to FILE.yaml (default: stdout).", metavar="FILE"
        ),
    ] = None,
    library: Annotated[
        str, typer.Option("--library", help="torch, numpy or auto (torch if installed).", metavar="LIB")
    ] = "auto",
    on: Annotated[
        str,
        typer.Option("--on", help="torch's device: cpu, cuda, mps or auto (a GPU if any).", metavar="DEV"),
    ] = "auto",
    name: Annotated[str | None, typer.Option("--name", help="The profile's name.", metavar="NAME")] = None,
    max_size: Annotated[
        int | None,
        typer.Option(
            "--max-size",
            help="Largest matrix side for the peak (default 4096 on a CPU, 16384 on a GPU).",
            metavar="N",
        ),
    ] = None,
    copy_size: Annotated[
        str | None,
        typer.Option(
            "--copy-size",
            help="Buffer size for the bandwidth, e.g. 512MiB (default 512MiB on a CPU, 2GiB on a GPU, at most 1/16 of the memory).",
            metavar="BYTES",
        ),
    ] = None,
    repeats: Annotated[
        int, typer.Option("--repeats", help="Runs per figure; the best counts.", metavar="N")
    ] = 5,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="torch's CPU threads (default: torch's own choice).", metavar="N"),
    ] = None,
    dtypes: Annotated[
        str | None,
        typer.Option(
            "--dtypes", help="Comma-separated dtypes (default: all the device may have).", metavar="LIST"
        ),
    ] = None,
) -> None:
    """Measure this machine's peak FLOP/s per dtype (large matrix multiplies), memory bandwidth
    (large copies) and per-operation overhead, and write a profile file for --device.

    Needs torch or numpy (neither is a dependency of convcalc). Each figure is the best of several runs; see docs/latency.md for the method."""
    from ..budget import parse_quantity
    from ..devices.measure import busy, profile_yaml
    from ..devices.measure import measure as run_measure
    from ..errors import BudgetInputError, ConvcalcError
    from ..output import emit

    copy_bytes = None
    if copy_size is not None:
        try:
            copy_bytes = parse_quantity(copy_size, "memory")
        except BudgetInputError as e:
            raise ConvcalcError(f"--copy-size {copy_size}: {e.message}") from None
    wanted = None
    if dtypes is not None:
        wanted = tuple(d.strip() for d in dtypes.split(",") if d.strip())
        if not wanted:
            raise ConvcalcError("--dtypes: give at least one dtype, e.g. fp32,fp16")
    m = run_measure(library, on, max_size, copy_bytes, repeats, wanted, threads)
    emit(profile_yaml(m, name), output)
    warning = busy(m)
    if warning:
        import sys

        sys.stderr.write(f"convcalc: warning: {warning}\n")


def show(
    device: Annotated[
        str,
        typer.Argument(help="A built-in profile's id or alias, or a profile FILE.yaml.", metavar="DEVICE"),
    ],
    as_json: Annotated[
        bool, typer.Option("--json", help="The checked profile as JSON instead of its YAML file.")
    ] = False,
    output: Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")] = None,
) -> None:
    """Print one profile: a built-in's YAML file (to copy and edit), or a profile file once checked."""
    from .. import devices as dv
    from ..output import emit

    p = dv.load_profile(device)  # checks a user's file: FILE:LINE errors
    if as_json:
        from .common import emit_json

        emit_json(p.as_dict(), output)
        return
    from .. import yamlio

    emit(yamlio.read_text(dv.profile_path(p)), output)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="devices",
        invoke_without_command=True,
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    sub.callback(invoke_without_command=True)(devices)
    sub.command()(measure)
    sub.command()(show)
    app.add_typer(sub, name="devices")
