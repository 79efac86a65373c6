"""convcalc check | diff: budget checks and change reports for CI.

``check`` exits 0 when every spec is within every limit, 1 when at least one limit is exceeded,
and 2 on bad input (an unreadable spec or baseline, a limit like ``lots``), like every command.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .common import FORMAT_HELP, OUTPUT_HELP, Format
from .inputs import AllowUnknownOpt, InputOpt
from .network_cmds import (
    BatchOpt,
    ColumnsOpt,
    DeviceOpt,
    Dtype,
    DtypeOpt,
    OptSpecsArg,
    ResOpt,
    TorchOpt,
    WideOpt,
    WidthOpt,
)

CheckFormat = Format  # check takes every format (github: the annotations)


def _limit_option(metric: str, what: str, example: str) -> Any:
    return typer.Option(
        f"--max-{metric}",
        metavar="X",
        help=f"Fail when {what} exceed X ({example}); overrides the spec's budget.{metric}.",
    )


MaxMacs = Annotated[str | None, _limit_option("macs", "the MACs", "600M, 1.2G")]
MaxFlops = Annotated[str | None, _limit_option("flops", "the FLOPs", "1.2G")]
MaxParams = Annotated[str | None, _limit_option("params", "the parameters", "4.5M, 800k")]
MaxActivations = Annotated[
    str | None, _limit_option("activations", "the activations (elements of every layer's output)", "20M")
]
MaxMemory = Annotated[
    str | None,
    _limit_option("memory", "weights + peak activations, in bytes at --dtype", "16MiB, 1.5GiB, 20M"),
]
MaxTraffic = Annotated[
    str | None,
    _limit_option(
        "traffic", "the memory traffic (bytes every layer reads and writes, unfused) at --dtype", "1G, 512MiB"
    ),
]
MaxLatency = Annotated[
    str | None,
    _limit_option("latency", "the estimated latency on --device (roofline lower bound)", "5ms, 250us"),
]
OutputOpt = Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")]


def check(
    specs: OptSpecsArg = None,
    max_macs: MaxMacs = None,
    max_flops: MaxFlops = None,
    max_params: MaxParams = None,
    max_activations: MaxActivations = None,
    max_memory: MaxMemory = None,
    max_traffic: MaxTraffic = None,
    max_latency: MaxLatency = None,
    device: DeviceOpt = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            metavar="REPORT.json",
            help="Compare each total with a report saved by `convcalc report --format json` "
            "(one report, or several: matched by name).",
        ),
    ] = None,
    max_increase: Annotated[
        str | None,
        typer.Option(
            "--max-increase",
            metavar="X",
            help="With --baseline: how much each total may grow, as a share (5%) or an amount (2M). "
            "Default 0%: no growth.",
        ),
    ] = None,
    batch: BatchOpt = 1,
    width_mult: WidthOpt = 1.0,
    resolution: ResOpt = None,
    dtype: DtypeOpt = Dtype.fp32,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
    torch: TorchOpt = None,
) -> int:
    """Check networks against budgets for CI (help: CHECK_HELP)."""
    from .. import budget as B
    from ..errors import BudgetInputError
    from ..export import perf_of, report_tally
    from ..export import totals as totals_of
    from .common import load_device
    from .network_cmds import _specs_or_torch, load_reports

    specs = _specs_or_torch(specs, torch)

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
    allowance = None
    entries = None
    if max_increase is not None and baseline is None:
        raise BudgetInputError(
            "--max-increase needs --baseline REPORT.json (a report saved by `convcalc report --format json`)"
        )
    if baseline is not None:
        try:
            allowance = B.parse_allowance(max_increase if max_increase is not None else "0%")
        except BudgetInputError as e:
            raise BudgetInputError(f"--max-increase {e.message}") from None
        if baseline == "-" and "-" in specs:
            raise BudgetInputError("--baseline -: stdin is already a spec")
        where = f"--baseline {baseline}"
        entries = B.baseline_entries(read_json(baseline, where), where)

    d = dtype.value
    flag_device = load_device(device, d)
    from .inputs import warnings_of

    reports = load_reports(specs, batch, width_mult, resolution, input, allow_unknown, torch)
    verdicts, notes, names, budget_lines = [], [], [], {}
    for r in reports:
        net = r.network
        ref, name = net.source or r.name, r.name
        names.append((ref, name))
        notes += [B.Note(ref, "zero_cost", line, name) for line in warnings_of(r)]
        budget_lines[ref] = net.budget_lines
        limits, sources = B.merge_limits(net.budget, flags)
        profile = flag_device if flag_device is not None else spec_device(net, d)
        if "latency" in limits and profile is None:
            raise no_device(ref, net, sources["latency"], max_latency)
        perf = perf_of(r, d, profile)
        whole = report_tally(r, perf)
        totals = totals_of(r, d, perf=perf)
        totals["traffic"] = whole.memory_traffic
        device_name = None
        if profile is not None:
            totals["latency"] = perf.latency(whole)
            device_name = profile.name
        lines = {m: net.budget_lines[m] for m in limits if sources[m] == "budget" and m in net.budget_lines}
        mine = B.judge(ref, totals, limits, sources, lines, name=name, device=device_name)
        if entries is not None:
            entry, message = B.find_baseline(entries, name, ref, len(reports), f"--baseline {baseline}")
            if message:
                notes.append(
                    B.Note(ref, "baseline_missing" if entry is None else "baseline_name", message, name)
                )
            if entry is not None and allowance is not None:
                mine += B.judge_baseline(
                    ref, totals, entry.totals, allowance, metrics=B.ALL_METRICS, name=name, device=device_name
                )
                if "latency" in entry.totals and "latency" in totals and allowance[0] != "percent":
                    notes.append(
                        B.Note(
                            ref,
                            "baseline_latency",
                            f"latency not compared with the baseline: --max-increase {B.allowance_text(allowance)} "
                            "is an amount, not a share like 5%",
                            name,
                        )
                    )
                differ = B.settings_mismatch(
                    entry,
                    {
                        "batch": r.batch,
                        "width_mult": r.width_mult,
                        "dtype": d,
                        "input_shape": list(r.input_shape),
                        "device": device_name,
                    },
                )
                if differ:
                    notes.append(
                        B.Note(
                            ref,
                            "baseline_settings",
                            "the baseline was computed with different "
                            "settings (" + "; ".join(differ) + "): the comparison is not like "
                            "for like",
                            name,
                        )
                    )
        if not mine:
            notes.append(
                B.Note(
                    ref,
                    "no_limits",
                    "no limits: the spec has no budget: section and no --max-* "
                    "flag was given, so nothing was checked",
                    name,
                )
            )
        verdicts += mine
    run = B.CheckRun(verdicts, notes, names, baseline, allowance, d)

    from ..render.budget_view import check_doc
    from .common import show

    show(check_doc(run, budget_lines), format, output, wide, columns)
    return 0 if run.passed else 1


def spec_device(net: Any, dtype: str) -> Any:
    """The profile a spec's ``budget.device`` names (None without one); a profile file is found
    relative to the spec's directory. Errors point at the spec line."""
    import os

    from ..errors import ConvcalcError, SpecError
    from .common import load_device

    ref = net.budget.get("device")
    if ref is None:
        return None
    source = net.source or ""
    looks_like_path = ref.endswith((".yaml", ".yml")) or "/" in ref or os.sep in ref
    if looks_like_path and not os.path.isabs(ref) and os.path.isfile(source):
        ref = os.path.join(os.path.dirname(source), ref)
    line = net.budget_lines.get("device") or net.budget_lines.get("")
    where = f"{source}:{line}" if source and line else source
    try:
        return load_device(ref, dtype)
    except SpecError as e:
        if e.where and e.where != ref:
            raise  # an error inside the profile file: its own FILE:LINE
        raise SpecError(f"budget.device: {e}", where=where) from None  # the file itself
    except ConvcalcError as e:
        raise SpecError(f"budget.device: {e.message}", where=where) from None


def no_device(ref: str, net: Any, source: str, flag_text: str | None) -> Exception:
    """A latency limit without a device: the error names the limit and both ways to give one."""
    from ..devices import duration_text
    from ..errors import BudgetInputError, SpecError

    if source == "budget":
        line = net.budget_lines.get("latency") or net.budget_lines.get("")
        return SpecError(
            f"budget.latency: {duration_text(net.budget['latency'])} needs a device: add budget.device "
            "(a name from `convcalc devices`, or a profile file) or give --device",
            where=f"{ref}:{line}" if line else ref,
        )
    return BudgetInputError(
        f"--max-latency {flag_text} needs a device: give --device DEVICE "
        f"(`convcalc devices` lists them) or budget.device in {ref}"
    )


def read_json(path: str, where: str) -> Any:
    """Parse a JSON file (``-``: stdin); every failure is one line naming ``where``."""
    from ..errors import BudgetInputError
    from ..yamlio import MAX_FILE_BYTES

    try:
        if path == "-":
            import sys

            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with open(path, "rb") as fh:
                data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise BudgetInputError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise BudgetInputError(f"{where}: is a directory, not a JSON report") from None
    except OSError as e:
        raise BudgetInputError(f"{where}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_FILE_BYTES:
        raise BudgetInputError(f"{where}: larger than {MAX_FILE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BudgetInputError(f"{where}: is not UTF-8 text (not a JSON report)") from None
    return parse_json(text, where)


def parse_json(text: str, where: str) -> Any:
    import json

    from ..errors import BudgetInputError

    if not text.strip():
        raise BudgetInputError(f"{where}: is empty (expected a JSON report)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BudgetInputError(f"{where}:{e.lineno}:{e.colno}: not valid JSON ({e.msg})") from None
    except (ValueError, RecursionError) as e:
        raise BudgetInputError(f"{where}: not valid JSON ({type(e).__name__}: {str(e)[:80]})") from None


# -- convcalc diff -------------------------------------------------------------------------------------
def diff(
    old: Annotated[
        str,
        typer.Argument(
            help="The old network: a spec, a model file (.onnx), zoo:NAME, '-' or a report saved by "
            "`convcalc report --format json` (FILE.json#NAME picks one "
            "of several).",
            metavar="OLD",
        ),
    ],
    new: Annotated[str, typer.Argument(help="The new network, likewise.", metavar="NEW")],
    all_: Annotated[bool, typer.Option("--all", help="Include unchanged layers.")] = False,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.table,
    batch: BatchOpt = 1,
    width_mult: WidthOpt = 1.0,
    resolution: ResOpt = None,
    dtype: DtypeOpt = Dtype.fp32,
    device: DeviceOpt = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
    input: InputOpt = None,
    allow_unknown: AllowUnknownOpt = False,
) -> None:
    """Per-layer and total changes between two networks (help: DIFF_HELP)."""
    from ..diff import diff_reports
    from ..errors import ConvcalcError
    from .common import load_device
    from .network_cmds import load_reports

    load_reports([], batch, width_mult, resolution)  # validates the options
    if old == "-" and new == "-":
        raise ConvcalcError("OLD and NEW cannot both be '-' (stdin)")
    profile = load_device(device, dtype.value)
    a = _load_side(old, batch, width_mult, resolution, dtype.value, profile, input, allow_unknown)
    b = _load_side(new, batch, width_mult, resolution, dtype.value, profile, input, allow_unknown)
    result = diff_reports(a, b)
    from ..render.budget_view import diff_doc
    from .common import show

    doc = diff_doc(result, all_, old, new)
    warnings = [f"{side}: {w}" for side, d in (("old", a), ("new", b)) for w in d.get("warnings", [])]
    if warnings:  # operations counted as zero (--allow-unknown): said on every output
        from ..render.doc import Note

        doc.data = {**doc.data, "warnings": warnings}
        doc.sections.insert(0, Note(warnings, title="Warning", tone="bad"))
    show(doc, format, output, wide, columns)


def _load_side(
    ref: str,
    batch: int,
    width_mult: float,
    resolution: str | None,
    dtype: str,
    device: Any = None,
    input: str | None = None,
    allow_unknown: bool = False,
) -> dict:
    """A report dict from a spec or a model file (walked now) or a saved JSON report."""
    import os

    from .. import network, spec, yamlio
    from ..diff import select_report
    from ..errors import ConvcalcError
    from ..export import report_dict
    from ..frontends import is_model

    if is_model(ref):
        from .network_cmds import load_reports

        (walked,) = load_reports([ref], batch, width_mult, resolution, input, allow_unknown)
        return report_dict(walked, dtype, device=device)
    selector = None
    path = ref
    if ref == "-":
        import sys

        text, where = yamlio.decode(sys.stdin.buffer.read(yamlio.MAX_FILE_BYTES + 1), "<stdin>"), "<stdin>"
    elif ref.startswith("zoo:"):
        text, where = spec.read(ref)
    else:
        if "#" in ref and not os.path.exists(ref):
            path, selector = ref.rsplit("#", 1)
        text, where = yamlio.read_text(path), path
    stripped = text.lstrip()
    if path.lower().endswith(".json") or stripped.startswith("{"):
        try:
            doc = parse_json(text, where)
        except ConvcalcError:
            if path.lower().endswith(".json"):
                raise
            doc = None  # a YAML flow mapping, `{name: x, ...}`: a spec after all
        if doc is not None:
            return select_report(doc, where, selector)
    if selector is not None:
        raise ConvcalcError(f"{ref}: #NAME picks a report in a saved JSON file; {path} is a spec")
    net = spec.parse_text(text, where)
    if resolution is not None:
        from .network_cmds import with_resolution

        net = with_resolution(net, resolution, ref)
    return report_dict(network.walk(net, batch=batch, width_mult=width_mult), dtype, device=device)


# Typer keeps single line breaks of a docstring: the help is written one paragraph a string.
CHECK_HELP = "\n\n".join(
    [
        "Check networks against budgets (MACs, FLOPs, params, activations, memory) for CI.",
        "Limits come from --max-* flags and each spec's budget: section (a flag overrides the spec's value "
        "for that key); a value equal to its limit passes. --baseline compares each total with a saved report.",
        "Exit status: 0 every spec within every limit, 1 at least one limit exceeded, 2 bad input.",
    ]
)
DIFF_HELP = "\n\n".join(
    [
        "Per-layer and total changes between two networks: which layer made the model grow.",
        "Layers are paired by path; when layers were inserted or removed (paths shift), by their sequence of "
        "types and output shapes, so an insertion is one added row. --batch, --width-mult, --resolution, "
        "--dtype and --device apply to specs, not to saved reports.",
        "Memory traffic changes are shown for every spec (and saved report that has them); latency changes "
        "with --device, or when both saved reports carry a latency.",
    ]
)


def register(app: typer.Typer) -> None:
    app.command(help=CHECK_HELP)(check)
    app.command(help=DIFF_HELP)(diff)
