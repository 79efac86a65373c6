"""convcalc size | compare | schema | types."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from ..layers.base import Layer
    from ..layers.fields import Kind

from .common import (
    COLUMNS_HELP,
    DEVICE_HELP,
    FORMAT_HELP,
    OUTPUT_HELP,
    WIDE_HELP,
    Format,
    check_min,
    cli_error,
    parse_size,
)
from .network_cmds import Dtype, DtypeOpt

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")]
WideOpt = Annotated[bool, typer.Option("--wide", help=WIDE_HELP)]
ColumnsOpt = Annotated[str | None, typer.Option("--columns", help=COLUMNS_HELP, metavar="KEYS")]


def size(
    size: Annotated[
        str,
        typer.Argument(
            help="Input size, one number per spatial dim: 224, 224x112, 16x112x112.", metavar="SIZE"
        ),
    ],
    kernel: Annotated[
        str, typer.Option("--kernel", "-k", help="Kernel size (int or one per dim).", metavar="K")
    ],
    stride: Annotated[str, typer.Option("--stride", "-s", help="Stride.", metavar="S")] = "1",
    padding: Annotated[
        str, typer.Option("--padding", "-p", help="Padding per side, or same/valid.", metavar="P")
    ] = "0",
    dilation: Annotated[str, typer.Option("--dilation", "-d", help="Dilation.", metavar="D")] = "1",
    transposed: Annotated[bool, typer.Option("--transposed", help="Transposed convolution.")] = False,
    output_padding: Annotated[
        str,
        typer.Option("--output-padding", help="Transposed only: extra output size on one side.", metavar="N"),
    ] = "0",
    ceil_mode: Annotated[
        bool, typer.Option("--ceil-mode", help="Pooling arithmetic with ceil (torch's ceil_mode=True).")
    ] = False,
    explain: Annotated[bool, typer.Option("--explain", help="Show the formula with the numbers.")] = False,
    format: Annotated[
        Format | None,
        typer.Option("--format", "-f", help=FORMAT_HELP + " Default: just the numbers."),
    ] = None,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Output-size arithmetic alone (conv, transposed conv or pooling), for one or more dims."""
    from ..errors import ConvcalcError
    from ..layers import REGISTRY
    from ..output import emit

    dims = parse_size(size, "SIZE")
    shape = (1,) + dims
    values = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
    if transposed:
        if ceil_mode:
            raise ConvcalcError("--ceil-mode is for pooling, not with --transposed")
        cls = REGISTRY["transposed"]
        values.update(out_channels="1", output_padding=output_padding)
    else:
        if output_padding.strip() != "0":
            raise ConvcalcError(f"--output-padding {output_padding}: only with --transposed")
        if ceil_mode:
            cls = REGISTRY["pool"]
            values.update(mode="max", ceil_mode="true")
        else:
            cls = REGISTRY["conv"]
            values.update(out_channels="1", bias="false")
    from .layer_cmds import build_layer

    layer = build_layer(cls, values)
    try:
        out = layer.cost(shape).output_shape[1:]
        lines = layer.size_lines(shape)
    except ConvcalcError as e:
        raise cli_error(e) from None
    if format is None:  # the plain answer, for scripts: 112x112
        emit(("\n".join(lines) + "\n" if explain else "") + "x".join(map(str, out)), output)
        return
    from ..render.doc import Doc, Note, Table, col
    from .common import show

    doc = Doc("output size" + (" (transposed)" if transposed else ""))
    k, s, d_ = _dims(layer, len(dims))
    doc.data = {"output_size": list(out), "input_size": list(dims)}
    doc.data.update(kernel=list(k), stride=list(s), dilation=list(d_))
    if explain:
        doc.data["explain"] = lines
    rows = [
        [i + 1, dims[i], k[i], s[i], _pad_text(layer, i, len(dims), shape), d_[i], out[i]]
        for i in range(len(dims))
    ]
    doc.add(
        Table(
            "",
            [
                col("dim", numeric=True),
                col("input", numeric=True),
                col("kernel", numeric=True),
                col("stride", numeric=True),
                col("padding"),
                col("dilation", numeric=True),
                col("output", numeric=True),
            ],
            rows,
        ),
        primary=True,
    )
    if explain:
        doc.add(Note(lines, title="How it is computed", tone="info", code=True))
    show(doc, format, output, wide, columns)


def _dims(layer: Layer, n: int) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]:
    from ..layers.base import per_dim

    k = per_dim(layer, "kernel", n)
    s = k if layer.params.get("stride") is None else per_dim(layer, "stride", n)
    return k, s, per_dim(layer, "dilation", n)


def _pad_text(layer: Layer, i: int, n: int, shape: tuple[int, ...]) -> str:
    p = layer.params["padding"]
    if isinstance(p, str):
        from ..layers.conv import resolve_padding

        k, s, d = _dims(layer, n)
        lo, hi = resolve_padding(p, n, shape[1:], k, s, d, layer)[i]
        return f"{p} ({lo}+{hi})"
    return str(p[i] if isinstance(p, tuple) else p)


def compare(
    in_channels: Annotated[int, typer.Option("--in-channels", "-c", help="Input channels.", metavar="N")],
    size: Annotated[str, typer.Option("--size", help="Input spatial size: 56, 56x56, 8x56x56.", metavar="S")],
    out_channels: Annotated[int, typer.Option("--out-channels", "-o", help="Output channels.", metavar="N")],
    kernel: Annotated[str, typer.Option("--kernel", "-k", help="Kernel size.", metavar="K")] = "3",
    stride: Annotated[str, typer.Option("--stride", "-s", help="Stride.", metavar="S")] = "1",
    padding: Annotated[
        str | None,
        typer.Option(
            "--padding",
            "-p",
            help="Padding per side, or same/valid. Default: 0, as `convcalc conv` (same keeps every "
            "variant's output size equal to the input's).",
            metavar="P",
            show_default=False,
        ),
    ] = None,
    groups: Annotated[
        int | None,
        typer.Option(
            "--groups",
            "-g",
            help="Groups of the grouped conv and "
            "the ShuffleNet unit [default: the first of 4, 3, 2, 8 "
            "that divides both channel counts].",
            metavar="G",
        ),
    ] = None,
    dilation: Annotated[
        int, typer.Option("--dilation", "-d", help="Dilation of the dilated variant.", metavar="D")
    ] = 2,
    bias: Annotated[
        bool | None,
        typer.Option("--bias/--no-bias", help="Biases. Default: on, as `convcalc conv`.", show_default=False),
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Batch size.", metavar="N")] = 1,
    dtype: DtypeOpt = Dtype.fp32,
    device: Annotated[str | None, typer.Option("--device", help=DEVICE_HELP, metavar="DEVICE")] = None,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Standard vs grouped vs depthwise-separable vs ShuffleNet unit vs dilated, side by side.

    With --device, each one's estimated latency beside its MACs."""
    from .. import compare as cmp
    from ..errors import ConvcalcError
    from ..layers.fields import Dims, Padding

    check_min(in_channels, "--in-channels")
    check_min(out_channels, "--out-channels")
    check_min(batch, "--batch")
    check_min(dilation, "--dilation")
    if groups is not None:
        check_min(groups, "--groups")
    shape = (in_channels,) + parse_size(size)
    try:
        k = _opt(Dims(1), kernel, "--kernel")
        s = _opt(Dims(1), stride, "--stride")
        p = _opt(Padding(), padding, "--padding") if padding is not None else None
        result = cmp.compare(shape, out_channels, k, s, p, groups, dilation, bias)
    except ConvcalcError as e:
        raise cli_error(e) from None
    from ..perf import Perf
    from ..render.compare_view import comparison_doc
    from .common import load_device, show

    d = dtype.value
    perf = Perf(d, batch, load_device(device, d))
    show(comparison_doc(result, batch, perf), format, output, wide, columns)


def _opt(kind: Kind, text: str, option: str) -> Any:
    from ..errors import ConvcalcError

    try:
        return kind.parse_text(text)
    except ValueError as e:
        raise ConvcalcError(f"{option}: {e}") from None


def schema(
    format: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="json: the JSON Schema; any other format lists the spec's types and keys (as `types`).",
        ),
    ] = Format.json,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """Print the JSON Schema of the spec format (for editors: yaml-language-server)."""
    from ..schema import spec_schema
    from .common import show

    doc = _types_doc()
    doc.data = spec_schema()
    show(doc, format, output, wide, columns)


def _types_doc() -> Any:
    from ..render.doc import Column, Doc, Table, col
    from ..schema import types_table

    rows = types_table()
    doc = Doc("Spec types (every layer and block also takes name: and from:)")
    doc.data = [{"type": t, "summary": s, "keys": k} for t, s, k in rows]
    keys = Column("keys", "keys")
    keys.wrap = True
    what = Column("what it is", "summary")
    what.wrap = True
    doc.add(
        Table(
            "",
            [col("type"), what, keys],
            [[t, s, ", ".join(f"{n}={d}" if d is not None else n for n, d in k)] for t, s, k in rows],
        ),
        primary=True,
    )
    return doc


def types(
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
    wide: WideOpt = False,
    columns: ColumnsOpt = None,
) -> None:
    """List the layer and block types of the spec format, with their keys."""
    from .common import show

    show(_types_doc(), format, output, wide, columns)


def register(app: typer.Typer) -> None:
    app.command()(size)
    app.command()(compare)
    app.command()(schema)
    app.command()(types)
