"""Single-layer commands (convcalc conv|depthwise|...), generated from the layer registry:
a layer type's fields are its options, so adding a type adds its command."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import typer

from ..errors import ConvcalcError
from ..layers import REGISTRY, Layer
from ..layers.fields import Bool
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

_KW = inspect.Parameter.KEYWORD_ONLY


def _param(name: str, annotation: Any, option: Any) -> inspect.Parameter:
    return inspect.Parameter(name, _KW, default=option, annotation=annotation)


def common_head() -> list[inspect.Parameter]:
    return [
        _param(
            "in_channels", int, typer.Option(..., "--in-channels", "-c", help="Input channels.", metavar="N")
        ),
        _param(
            "size",
            str,
            typer.Option(
                ...,
                "--size",
                help="Input spatial size, one number per dim: 224, 224x224 or 16x112x112.",
                metavar="S",
            ),
        ),
    ]


def common_tail() -> list[inspect.Parameter]:
    return [
        _param(
            "batch",
            int,
            typer.Option(1, "--batch", help="Batch size (multiplies MACs, FLOPs, activations).", metavar="N"),
        ),
        _param(
            "dtype",
            _dtype_type(),
            typer.Option(
                "fp32",
                "--dtype",
                help="Element type for memory traffic and latency figures.",
                show_default=True,
            ),
        ),
        _param("device", str | None, typer.Option(None, "--device", help=DEVICE_HELP, metavar="DEVICE")),
        _param(
            "explain",
            bool,
            typer.Option(False, "--explain", help="Show the formulas with the numbers substituted."),
        ),
        _param("format", Format, typer.Option(Format.table, "--format", "-f", help=FORMAT_HELP)),
        _param("output", str | None, typer.Option(None, "--output", help=OUTPUT_HELP, metavar="FILE")),
        _param("wide", bool, typer.Option(False, "--wide", help=WIDE_HELP)),
        _param("columns", str | None, typer.Option(None, "--columns", help=COLUMNS_HELP, metavar="KEYS")),
    ]


def _dtype_type() -> type:
    from .common import Dtype

    return Dtype


def field_params(cls: type[Layer]) -> list[inspect.Parameter]:
    out = []
    for f in cls.fields:
        if not f.cli:
            continue
        if isinstance(f.kind, Bool):
            flag = f.name.replace("_", "-")
            opt = typer.Option(f.default, f"--{flag}/--no-{flag}", help=f.help[:1].upper() + f.help[1:] + ".")
            out.append(_param(f.name, bool, opt))
            continue
        decls = [f.option] + ([f.short] if f.short else [])
        help_text = f.help[:1].upper() + f.help[1:] + "."
        if f.required:
            opt = typer.Option(..., *decls, help=help_text, metavar=f.kind.metavar)
        else:
            shown = "x".join(map(str, f.default)) if isinstance(f.default, tuple) else f.default
            opt = typer.Option(
                None,
                *decls,
                help=help_text + (f" Default: {shown}." if shown is not None else ""),
                metavar=f.kind.metavar,
                show_default=False,
            )
        out.append(_param(f.name, str | None, opt))
    return out


def build_layer(cls: type[Layer], values: dict) -> Layer:
    """Parse command-line strings into a layer; errors name the options."""
    raw = {k: v for k, v in values.items() if v is not None}
    try:
        return cls.build(raw, text=True)
    except ConvcalcError as e:
        raise cli_error(e) from None


def input_shape(in_channels: int, size: str) -> tuple[int, ...]:
    check_min(in_channels, "--in-channels")
    return (in_channels,) + parse_size(size)


def run_layer(cls: type[Layer], kw: dict) -> None:
    in_channels, size = kw.pop("in_channels"), kw.pop("size")
    batch, explain, fmt, output = kw.pop("batch"), kw.pop("explain"), kw.pop("format"), kw.pop("output")
    wide, columns = kw.pop("wide"), kw.pop("columns")
    dtype, device = kw.pop("dtype"), kw.pop("device")
    dtype = getattr(dtype, "value", dtype)
    check_min(batch, "--batch")
    shape = input_shape(in_channels, size)
    layer = build_layer(cls, kw)
    try:
        cost = layer.cost(shape)
        lines = layer.explain(shape) if explain else None
    except ConvcalcError as e:
        raise cli_error(e) from None
    if lines is not None and batch != 1:
        lines.append(
            f"batch {batch}: MACs, FLOPs and activations above are per sample; x {batch} "
            f"= {cost.macs * batch:,} MACs, {cost.flops * batch:,} FLOPs"
        )
    from ..perf import Perf
    from ..render.views import layer_doc
    from .common import load_device, show

    perf = Perf(dtype, batch, load_device(device, dtype))
    show(layer_doc(cost, batch, lines, config=layer.params, perf=perf), fmt, output, wide, columns)


def make_command(cls: type[Layer]) -> Callable[..., None]:
    def command(**kw: Any) -> None:
        run_layer(cls, kw)

    command.__signature__ = inspect.Signature(common_head() + field_params(cls) + common_tail())  # type: ignore[attr-defined]
    command.__name__ = cls.type_name
    command.__doc__ = cls.summary[:1].upper() + cls.summary[1:] + "."
    return command


def register(app: typer.Typer) -> None:
    for cls in REGISTRY.values():
        if cls.command:
            command = make_command(cls)
            app.command(name=cls.type_name, help=command.__doc__)(command)
