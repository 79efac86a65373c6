"""Keep the README's examples true: every fenced block after a line

    <!-- run: convcalc ARGS... -->

is the real output of that command, run from the repository root. ``--check`` reports blocks
that differ (the test suite runs it); without it the README is rewritten in place.

    python scripts/readme_examples.py          # refresh the outputs
    python scripts/readme_examples.py --check  # exit 1 if any output is stale
"""

from __future__ import annotations

import io
import os
import re
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
MARKER = re.compile(r"^<!-- run: (convcalc .*?) -->$")


def run(command: str) -> str:
    from convcalc.cli import main

    os.environ["COLUMNS"] = "200"  # tables as wide as when piped; pytest exports COLUMNS=80
    args = shlex.split(command)[1:]
    out, err = io.StringIO(), io.StringIO()
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main(args)
    finally:
        os.chdir(cwd)
    text = "\n".join(line.rstrip() for line in (out.getvalue() + err.getvalue()).splitlines())
    text = text.strip("\n")
    if code:
        text += f"\n[exit code {code}]"
    return f"$ {command}\n{text}"


def refresh(text: str) -> tuple[str, list[str]]:
    """The README with every marked block re-run, and the commands whose output changed."""
    lines = text.split("\n")
    out: list[str] = []
    stale: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        out.append(line)
        m = MARKER.match(line)
        i += 1
        if not m:
            continue
        if i >= len(lines) or not lines[i].startswith("```"):
            raise SystemExit(f"README.md:{i}: a run marker must be followed by a fenced block")
        fence = lines[i]
        j = i + 1
        close = fence[: len(fence) - len(fence.lstrip("`"))]  # as many backticks as the opening
        while j < len(lines) and lines[j] != close:
            j += 1
        old = "\n".join(lines[i + 1 : j])
        new = run(m.group(1))
        if old != new:
            stale.append(m.group(1))
        out += [fence, new, close]
        i = j + 1
    return "\n".join(out), stale


def main() -> int:
    check = "--check" in sys.argv[1:]
    with open(README, encoding="utf-8") as fh:
        text = fh.read()
    new, stale = refresh(text)
    if check:
        for cmd in stale:
            print(f"stale README output: {cmd}")
        return 1 if stale else 0
    if new != text:
        with open(README, "w", encoding="utf-8") as fh:
            fh.write(new)
    print(f"{len(stale)} example(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
