"""The command line: thin Typer commands over the library. ``main`` is the one place where
errors become messages and exit codes:

  0  success
  1  a budget check failed (convcalc check)
  2  bad input: one line on stderr naming what is wrong and where, never a traceback
  3  an internal error (a bug in convcalc: please report it)

Start-up time matters for one-off queries, so only the module of the command being run is
imported and registered (all of them for --help or an unknown command).
"""

from __future__ import annotations

import sys

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
    from ..errors import ConvcalcError

    if argv is None:
        argv = sys.argv[1:]
    try:
        rv = build_app(argv)(args=argv, prog_name="convcalc", standalone_mode=False)
    except ConvcalcError as e:
        from .common import cli_error

        return _fail(str(cli_error(e)), e.exit_code)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except BrokenPipeError:
        _silence_stdout()
        return 0
    except Exception as e:  # click's usage errors, without importing click ourselves
        if hasattr(e, "format_message") and hasattr(e, "exit_code"):
            return _fail(_usage_message(e), e.exit_code)
        if type(e).__name__ == "Abort":
            return _fail("aborted", 1)
        if isinstance(e, (RecursionError, MemoryError)):
            return _fail(f"input too large to process ({type(e).__name__})", 2)
        return _fail(
            f"internal error: {type(e).__name__}: {e} (this is a bug in convcalc; "
            "please report it with the command you ran)",
            3,
        )
    return rv if isinstance(rv, int) else 0


def _usage_message(e) -> str:
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


def _silence_stdout() -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except Exception:
        pass


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
