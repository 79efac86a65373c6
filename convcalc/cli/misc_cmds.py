"""convcalc size | compare | schema | types."""

from __future__ import annotations

from typing import Annotated

import typer

from .common import FORMAT_HELP, OUTPUT_HELP, Format, check_min, cli_error, parse_size

FormatOpt = Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)]
OutputOpt = Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")]


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
        typer.Option("--format", "-f", help="json, table, csv or markdown (default: just the numbers)."),
    ] = None,
    output: OutputOpt = None,
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
    if format is None:
        emit(("\n".join(lines) + "\n" if explain else "") + "x".join(map(str, out)), output)
    elif format == Format.json:
        from .common import emit_json

        d = {"output_size": list(out), "input_size": list(dims)}
        if explain:
            d["explain"] = lines
        emit_json(d, output)
    else:
        from ..render.doc import Doc, Note, Table
        from .common import render

        doc = Doc("output size" + (" (transposed)" if transposed else ""))
        k, s, d_ = _dims(layer, len(dims))
        rows = [
            [i + 1, dims[i], k[i], s[i], _pad_text(layer, i, len(dims), shape), d_[i], out[i]]
            for i in range(len(dims))
        ]
        doc.add(
            Table(
                "",
                ["dim", "input", "kernel", "stride", "padding", "dilation", "output"],
                rows,
                right={0, 1, 2, 3, 5, 6},
            ),
            primary=True,
        )
        if explain:
            doc.add(Note(lines, title="How it is computed", style="", code=True))
        render(doc, format, output)


def _dims(layer, n):
    from ..layers.base import per_dim

    k = per_dim(layer, "kernel", n)
    s = k if layer.params.get("stride") is None else per_dim(layer, "stride", n)
    return k, s, per_dim(layer, "dilation", n)


def _pad_text(layer, i, n, shape):
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
        str,
        typer.Option(
            "--padding",
            "-p",
            help="Padding (default same, so every variant gives the same output size).",
            metavar="P",
        ),
    ] = "same",
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
        bool,
        typer.Option("--bias/--no-bias", help="Biases (off by default here, as in the papers' comparisons)."),
    ] = False,
    batch: Annotated[int, typer.Option("--batch", help="Batch size.", metavar="N")] = 1,
    format: FormatOpt = Format.table,
    output: OutputOpt = None,
) -> None:
    """Standard vs grouped vs depthwise-separable vs ShuffleNet unit vs dilated, side by side."""
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
        p = _opt(Padding(), padding, "--padding")
        result = cmp.compare(shape, out_channels, k, s, p, groups, dilation, bias)
    except ConvcalcError as e:
        raise cli_error(e) from None
    from ..render.compare_view import comparison_dict, comparison_doc

    if format == Format.json:
        from .common import emit_json

        emit_json(comparison_dict(result, batch), output)
    else:
        from .common import render

        render(comparison_doc(result, batch), format, output)


def _opt(kind, text: str, option: str):
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
            help="json (a JSON Schema is JSON; `convcalc types` lists the same keys as a table).",
        ),
    ] = Format.json,
    output: OutputOpt = None,
) -> None:
    """Print the JSON Schema of the spec format (for editors: yaml-language-server)."""
    from ..errors import ConvcalcError
    from ..schema import spec_schema
    from .common import emit_json

    if format != Format.json:
        raise ConvcalcError(
            f"--format {format.value}: the schema is JSON; `convcalc types --format "
            f"{format.value}` lists the spec's types and keys"
        )
    emit_json(spec_schema(), output)


def types(format: FormatOpt = Format.table, output: OutputOpt = None) -> None:
    """List the layer and block types of the spec format, with their keys."""
    from ..schema import types_table

    rows = types_table()
    if format == Format.json:
        from .common import emit_json

        emit_json([{"type": t, "summary": s, "keys": k} for t, s, k in rows], output)
        return
    from ..render.doc import Doc, Table
    from .common import render

    doc = Doc("Spec types (every layer also takes name:)")
    doc.add(
        Table(
            "",
            ["type", "what it is", "keys"],
            [[t, s, ", ".join(f"{n}={d}" if d is not None else n for n, d in k)] for t, s, k in rows],
            indent_col=2,
        ),
        primary=True,
    )
    render(doc, format, output)


def register(app: typer.Typer) -> None:
    app.command()(size)
    app.command()(compare)
    app.command()(schema)
    app.command()(types)
