"""convcalc zoo [show NAME]: the reference model zoo (convcalc/zoo/*.yaml).

``convcalc zoo`` lists the models with their computed totals and sources; ``convcalc zoo show
NAME`` prints a spec (to save and edit); ``convcalc report zoo:NAME`` reports one.
"""

from __future__ import annotations

from typing import Annotated

import typer

from .common import COLUMNS_HELP, FORMAT_HELP, OUTPUT_HELP, WIDE_HELP, Format

OutputOpt = Annotated[str | None, typer.Option("--output", help=OUTPUT_HELP, metavar="FILE")]


def zoo(
    ctx: typer.Context,
    format: Annotated[Format, typer.Option("--format", "-f", help=FORMAT_HELP)] = Format.table,
    output: OutputOpt = None,
    wide: Annotated[bool, typer.Option("--wide", help=WIDE_HELP)] = False,
    columns: Annotated[str | None, typer.Option("--columns", help=COLUMNS_HELP, metavar="KEYS")] = None,
) -> None:
    """The reference model zoo: published networks, their params, MACs and sources.

    `convcalc zoo` lists the models, `convcalc zoo show NAME` prints a spec,
    `convcalc report zoo:NAME` reports one."""
    if ctx.invoked_subcommand is not None:
        return
    from .. import zoo as z

    models = z.catalog()
    from ..render.doc import Doc, Note, Table, col
    from .common import show as show_doc

    doc = Doc(f"convcalc model zoo: {len(models)} models", data={"models": models})
    rows = [[m["name"], tuple(m["input_shape"]), m["params"], m["macs"], m["cite"]] for m in models]
    cite = col("cite", "source", optional=True, drop=1)
    cite.wrap = True
    doc.add(
        Table("", [col("name", "model"), col("input_shape"), col("params"), col("macs"), cite], rows),
        primary=True,
    )
    doc.add(
        Note(
            [
                "params and MACs: computed by convcalc at batch 1 (MACs = the papers' mult-adds).",
                "Each spec's header cites its source and explains any difference from the published figures.",
                "convcalc zoo show NAME prints a spec; convcalc report zoo:NAME reports it.",
            ]
        )
    )
    show_doc(doc, format, output, wide, columns)


def _complete_zoo(incomplete: str) -> list[str]:
    from .completion import complete_zoo

    return complete_zoo(incomplete)


def show(
    name: Annotated[
        str,
        typer.Argument(
            help="A zoo model (convcalc zoo lists them).", metavar="NAME", autocompletion=_complete_zoo
        ),
    ],
    output: OutputOpt = None,
) -> None:
    """Print a zoo model's spec (YAML, with its source header), to save and edit."""
    from .. import zoo as z
    from ..output import emit

    if name.startswith("zoo:"):
        name = name[4:]
    emit(z.read(name), output)


def register(app: typer.Typer) -> None:
    sub = typer.Typer(
        name="zoo",
        invoke_without_command=True,
        no_args_is_help=False,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    sub.callback(invoke_without_command=True)(zoo)
    sub.command()(show)
    app.add_typer(sub, name="zoo")
