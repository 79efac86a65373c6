"""Keep every command output shown in README.md and docs/*.md true, with cog (cogapp).

Each example is a cog block whose generator runs the command here, in-process, from the
repository root, at a fixed width (100 columns, piped), and writes its output as a fenced block:

    <!-- [[[cog run("convcalc conv -c 3 --size 224x224 -o 32 -k 3") ]]] -->
    ```text
    $ convcalc conv -c 3 --size 224x224 -o 32 -k 3
    ...
    ```
    <!-- [[[end]]] -->

    python scripts/cogdocs.py          # regenerate every output in place
    python scripts/cogdocs.py --check  # exit 1 if any output is stale (the tests run this)
"""

from __future__ import annotations

import glob
import io
import os
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WIDTH = 100


def files() -> list[str]:
    """README.md and every page of docs/ that has a cog block."""
    out = [os.path.join(ROOT, "README.md")]
    for path in sorted(glob.glob(os.path.join(ROOT, "docs", "**", "*.md"), recursive=True)):
        with open(path, encoding="utf-8") as fh:
            if "[[[cog" in fh.read():
                out.append(path)
    return out


def output(command: str, width: int = WIDTH) -> str:
    """What ``command`` (``convcalc ...``) prints, as a person would see it piped at ``width``
    columns."""
    from convcalc.cli import main

    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = str(width)
    args = shlex.split(command)[1:]
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(cwd)
        if old is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = old
    text = "\n".join(line.rstrip() for line in (out.getvalue() + err.getvalue()).splitlines()).strip("\n")
    if code:
        text += f"\n[exit code {code}]"
    return text


def run(command: str, lang: str = "text", width: int = WIDTH) -> None:
    """The cog generator: the command and its output as one fenced block."""
    import cog  # provided by cogapp while it runs

    shown = f"COLUMNS={width} {command}" if width != WIDTH else command
    text = f"$ {shown}\n{output(command, width)}"
    fence = "```"
    while fence in text:
        fence += "`"
    cog.outl(f"{fence}{lang}\n{text}\n{fence}")


def main(argv: list[str] | None = None) -> int:
    from cogapp import Cog

    argv = sys.argv[1:] if argv is None else argv
    check = "--check" in argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    args = ["cog", "-p", "from cogdocs import run", "--check" if check else "-r", *files()]
    return Cog().main(args)


if __name__ == "__main__":
    sys.exit(main())
