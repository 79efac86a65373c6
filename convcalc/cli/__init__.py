"""The command line: thin Typer commands over the library. ``main`` is the one place where
errors become messages and exit codes:

  0  success
  1  a budget check failed (convcalc check)
  2  bad input: one line on stderr naming what is wrong and where, never a traceback
  3  an internal error (a bug in convcalc: please report it)
"""

from __future__ import annotations

import sys

import typer

from . import budget_cmds, layer_cmds, misc_cmds, network_cmds, zoo_cmds

app = typer.Typer(
    name="convcalc",
    help="The cost of convolutional networks, computed analytically: shapes, parameters, "
         "MACs, FLOPs, memory and receptive fields, for one layer or a whole network.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
layer_cmds.register(app)
misc_cmds.register(app)
network_cmds.register(app)
budget_cmds.register(app)
zoo_cmds.register(app)


def main(argv: list[str] | None = None) -> int:
    from ..errors import ConvcalcError

    try:
        rv = app(args=argv, prog_name="convcalc", standalone_mode=False)
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
        return _fail(f"internal error: {type(e).__name__}: {e} (this is a bug in convcalc; "
                     "please report it with the command you ran)", 3)
    return rv if isinstance(rv, int) else 0


def _usage_message(e) -> str:
    msg = " ".join(str(e.format_message()).split())
    ctx = getattr(e, "ctx", None)
    cmd = getattr(ctx, "command_path", "") if ctx is not None else ""
    hint = f" (see '{cmd} --help')" if cmd else ""
    return msg + hint


def _fail(message: str, code: int) -> int:
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
