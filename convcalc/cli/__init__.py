"""The command line: thin Typer commands over the library. ``main`` is the one place where
errors become messages and exit codes:

  0  success
  1  a budget check failed (convcalc check)
  2  bad input: one line on stderr naming what is wrong and where, never a traceback
  3  an internal error (a bug in convcalc: please report it)
  130  interrupted (Ctrl-C): "interrupted" on stderr

Whatever happens to stdout, the exit code is the work's: when the reader of a pipe goes
away (``convcalc check ... | head -1``) the rest of the output is dropped quietly and a passing
check still exits 0 (``output.guard_stdout``).

Every command's options are hardened in one place (``_harden``), so that each command and
format behaves alike: integers are ASCII digits within ``numbers.MAX_INT_DIGITS``, decimals
are read exactly, ``--output -`` is stdout and ``--output ''`` an error, and the files named
as arguments (specs, saved reports) or by ``--baseline`` are never overwritten by ``--output``.

Start-up time matters for one-off queries, so only the module of the command being run is
imported and registered (all of them for --help or an unknown command).
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from typing import Any

import typer

HELP = (
    "The cost of convolutional networks, computed analytically: shapes, parameters, MACs, "
    "FLOPs, memory and receptive fields, for one layer or a whole network."
)

# command -> module of convcalc.cli that registers it (layer commands: see _command_module)
_MODULES = {
    "size": "misc_cmds",
    "compare": "misc_cmds",
    "schema": "misc_cmds",
    "types": "misc_cmds",
    "report": "network_cmds",
    "check": "budget_cmds",
    "diff": "budget_cmds",
    "zoo": "zoo_cmds",
    "fit": "design_cmds",
    "solve": "design_cmds",
    "devices": "device_cmds",
    "export": "torch_cmds",
    "verify": "torch_cmds",
    "import": "import_cmds",
}
_ALL = (
    "layer_cmds",
    "misc_cmds",
    "network_cmds",
    "budget_cmds",
    "zoo_cmds",
    "design_cmds",
    "device_cmds",
    "torch_cmds",
    "import_cmds",
)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        sys.stdout.write(f"convcalc {__version__}\n")
        raise typer.Exit(0)


def _root(
    version: bool | None = typer.Option(
        None, "--version", callback=_version, is_eager=True, help="Show the version and exit."
    ),
) -> None:
    pass


_root.__doc__ = HELP


def _command_module(name: str | None) -> str | None:
    if name in _MODULES:
        return _MODULES[name]
    if name:
        from ..layers import REGISTRY

        cls = REGISTRY.get(name)
        if cls is not None and cls.command:
            return "layer_cmds"
    return None


def build_app(argv: list[str] | None = None) -> typer.Typer:
    """The Typer app, with only the invoked command's module registered when it is known."""
    import importlib

    app = typer.Typer(
        name="convcalc",
        no_args_is_help=True,
        add_completion=True,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    first = next((a for a in (argv or []) if not a.startswith("-")), None)
    module = _command_module(first)
    for name in [module] if module else _ALL:
        importlib.import_module(f".{name}", __name__).register(app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code (see the module doc)."""
    from .. import output

    if argv is None:
        argv = sys.argv[1:]
    output.forget_inputs()
    with output.guard_stdout() as stdout:
        try:
            code = _run(argv)
        except BaseException as e:  # every outcome becomes an exit code here
            code = _outcome(e)
        stdout.flush()  # what is still buffered: a closed pipe is found here, not at exit
    return code


def _run(argv: list[str]) -> int:
    app = build_app(argv)
    from typer.main import get_command

    group = get_command(app)
    if os.environ.get("_CONVCALC_COMPLETE"):  # the shell asks for completions: click's own path
        group.main(args=list(argv), prog_name="convcalc", complete_var="_CONVCALC_COMPLETE")
        return 0
    if not argv:
        names = ", ".join(sorted(getattr(group, "commands", {})))
        return _fail(
            f"no command given: convcalc COMMAND [OPTIONS] (commands: {names}; see 'convcalc --help')", 2
        )
    _harden(group)
    with group.make_context("convcalc", list(argv)) as ctx:
        rv = group.invoke(ctx)
    return rv if isinstance(rv, int) else 0


def _outcome(e: BaseException) -> int:
    """The exit code (and the one line on stderr) for how a run ended."""
    from ..errors import ConvcalcError

    if isinstance(e, ConvcalcError):
        from .common import cli_error

        return _fail(str(cli_error(e)), e.exit_code)
    if isinstance(e, KeyboardInterrupt):
        return _fail("interrupted", 130)
    if isinstance(e, SystemExit):
        return e.code if isinstance(e.code, int) else (0 if e.code is None else _fail(str(e.code), 1))
    if type(e).__name__ == "Exit" and isinstance(getattr(e, "exit_code", None), int):
        return int(e.exit_code)  # type: ignore[attr-defined]  # --help, --version: click's Exit
    if hasattr(e, "format_message") and isinstance(getattr(e, "exit_code", None), int):
        return _fail(_usage_message(e), int(e.exit_code))  # type: ignore[attr-defined]  # usage errors
    if type(e).__name__ == "Abort":
        return _fail("aborted", 1)
    if isinstance(e, (BrokenPipeError, ConnectionResetError)) or (
        isinstance(e, OSError) and e.errno == errno.EPIPE
    ):
        return 0  # a pipe closed where stdout was not guarded: nothing more to say
    if isinstance(e, (RecursionError, MemoryError)):
        return _fail(f"input too large to process ({type(e).__name__})", 2)
    if isinstance(e, OverflowError):
        return _fail(f"a number is too large to compute with ({e})", 2)
    if isinstance(e, ValueError) and "integer string conversion" in str(e):
        return _fail("a result has more than 4,300 digits: too large to print", 2)
    if not isinstance(e, Exception):
        raise e
    return _fail(
        f"internal error: {type(e).__name__}: {e} (this is a bug in convcalc; "
        "please report it with the command you ran)",
        3,
    )


def _harden(group: Any) -> None:
    """Give every command's options the same rules (see the module doc). Works on the click
    objects Typer builds, so each command is covered without code of its own."""
    seen: set[int] = set()
    stack = [group]
    while stack:
        cmd = stack.pop()
        if id(cmd) in seen:
            continue
        seen.add(id(cmd))
        stack.extend(getattr(cmd, "commands", {}).values())
        for p in getattr(cmd, "params", ()):
            kind = type(p.type).__name__
            if kind == "IntParamType":
                p.type = _strict(p.type, _parse_int)
            elif kind == "FloatParamType":
                p.type = _strict(p.type, _parse_decimal)
            if p.name == "output":
                p.callback = _chain(p.callback, _output_value)
            elif p.param_type_name == "argument" or p.name == "baseline":
                p.callback = _chain(p.callback, _input_value)


def _parse_int(text: str) -> int:
    from ..numbers import parse_int

    return parse_int(text)


def _parse_decimal(text: str) -> float:
    from ..numbers import ExactFloat

    return ExactFloat(text)


_STRICT: dict[type, type] = {}


def _strict(ptype: Any, parse: Callable[[str], Any]) -> Any:
    """``ptype`` (click's INT or FLOAT) converting text with ``parse`` instead."""
    base = type(ptype)
    key = (base, parse)
    cls = _STRICT.get(key)  # type: ignore[call-overload]
    if cls is None:

        def convert(self: Any, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, str):
                try:
                    return parse(value)
                except ValueError as e:
                    self.fail(str(e), param, ctx)
            return base.convert(self, value, param, ctx)

        cls = _STRICT[key] = type(f"Strict{base.__name__}", (base,), {"convert": convert})  # type: ignore[index]
    strict = cls.__new__(cls)
    strict.__dict__.update(ptype.__dict__)
    return strict


def _chain(first: Callable | None, then: Callable[[Any, Any, Any], Any]) -> Callable:
    def callback(ctx: Any, param: Any, value: Any) -> Any:
        if first is not None:
            value = first(ctx, param, value)
        return then(ctx, param, value)

    return callback


def _output_value(ctx: Any, param: Any, value: Any) -> Any:
    if value == "":
        raise _bad_parameter("an empty file name (use --output - for stdout)", ctx, param)
    return None if value == "-" else value


def _bad_parameter(message: str, ctx: Any, param: Any) -> Exception:
    """Click's BadParameter (a usage error: exit 2), from the click Typer runs on (its own
    copy in typer >= 0.26, the click package before), without importing click here."""
    mod: Any = sys.modules.get("typer._click.exceptions") or sys.modules["click.exceptions"]
    return mod.BadParameter(message, ctx=ctx, param=param)


def _input_value(ctx: Any, param: Any, value: Any) -> Any:
    from .. import output

    for v in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(v, str) and v and v != "-":
            output.note_input(v)
            if "#" in v:  # a saved report's FILE.json#NAME
                output.note_input(v.rsplit("#", 1)[0])
    return value


def _usage_message(e: Any) -> str:
    msg = " ".join(str(e.format_message()).split())
    ctx = getattr(e, "ctx", None)
    cmd = getattr(ctx, "command_path", "") if ctx is not None else ""
    hint = f" (see '{cmd} --help')" if cmd else ""
    return msg + hint


def _fail(message: str, code: int) -> int:
    # One line, whatever the user typed: control characters are shown escaped.
    message = "".join(c if c.isprintable() else repr(c)[1:-1] for c in message)
    try:
        sys.stderr.write(f"convcalc: error: {message}\n")
        sys.stderr.flush()
    except Exception:
        pass
    return code


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
