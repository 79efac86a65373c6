#!/usr/bin/env python3
"""Hostile inputs, timed: the wall-clock bounds that the test suite no longer asserts (a
loaded CI machine makes any time bound in a test a coin toss; the tests count work instead,
see tests/workmeter.py). Each case runs the real CLI in a subprocess (warm-up, then the
median of several runs) and is checked against its bound.

    python benchmarks/hostile.py              # all cases; exit 1 if a bound is missed
    python benchmarks/hostile.py --runs 1     # quicker
    python benchmarks/hostile.py --output benchmarks/results-hostile.md

Bounds are generous (a 2-core machine, other work running): they catch an algorithm gone
quadratic or a limit checked too late, not a few percent.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CONVCALC = [sys.executable, "-m", "convcalc"]
HEAD = "name: hostile\ninput: [3, 8, 8]\nlayers:\n"


def laughs(block: str) -> str:
    """9 levels x 10 aliases: 10**10 layers if expanded."""
    ten = ", ".join(["{type: identity}"] * 10)
    lines = ["name: lol", "input: [3, 8, 8]", f"x-l0: &l0 [{ten}]"]
    for i in range(1, 10):
        inner = {
            "sequential": f"{{type: sequential, layers: *l{i - 1}}}",
            "repeat": f"{{type: repeat, times: 1, layers: *l{i - 1}}}",
            "list": f"*l{i - 1}",
        }[block]
        lines.append(f"x-l{i}: &l{i} [" + ", ".join([inner] * 10) + "]")
    lines.append("layers: *l9")
    return "\n".join(lines) + "\n"


def nested(depth: int = 2500) -> str:
    lines = [HEAD.rstrip("\n")]
    for i in range(depth):
        pad = "  " * i
        lines += [pad + "- type: sequential", pad + "  layers:"]
    lines.append("  " * depth + "- {type: identity}")
    return "\n".join(lines) + "\n"


def periodic(period: int, n: int = 2000) -> str:
    lines = [f"name: p{period}", "input: [8, 8, 8]", "layers:"]
    lines += [f"  - {{type: conv, out_channels: {8 * (1 + i % period)}, kernel: 1}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def head_tail(insert: bool) -> str:
    body = "".join(
        "  - {type: conv, out_channels: 8, kernel: 3, padding: same}\n  - {type: activation}\n"
        for _ in range(1500)
    )
    return (
        "name: deep\ninput: [8, 8, 8]\nlayers:\n"
        + body
        + ("  - {type: batchnorm}\n" if insert else "")
        + body
    )


def cases(tmp: str) -> list[tuple[str, list[str], float, tuple[int, ...]]]:
    """(name, convcalc arguments, bound in seconds, accepted exit codes)."""

    def spec(name: str, text: str) -> str:
        path = os.path.join(tmp, name)
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return path

    huge = os.path.join(tmp, "huge.yaml")
    with open(huge, "wb") as fh:
        fh.truncate(32 * 1024 * 1024 + 1)  # sparse, one byte over the limit
    out: list[tuple[str, list[str], float, tuple[int, ...]]] = [
        ("max-macs 1e99999999", ["check", "zoo:alexnet", "--max-macs", "1e99999999"], 1.0, (2,)),
        ("max-macs of 100,000 digits", ["check", "zoo:alexnet", "--max-macs", "9" * 100_000], 1.0, (2,)),
        ("a file over the size limit", ["report", huge], 1.0, (2,)),
        (
            "repeat 10**12 times",
            [
                "report",
                spec(
                    "trillion.yaml",
                    HEAD + "  - type: repeat\n    times: 1000000000000\n    layers:\n"
                    "      - {type: conv, out_channels: 3, kernel: 3, padding: 1}\n",
                ),
                "-f",
                "json",
            ],
            1.0,
            (2,),
        ),
        ("2,500 nested blocks", ["report", spec("nested.yaml", nested())], 2.0, (2,)),
        (
            "diff: an insertion in 3,000 layers",
            ["diff", spec("a.yaml", head_tail(False)), spec("b.yaml", head_tail(True))],
            5.0,
            (0,),
        ),
        (
            "diff: 2,000 layers, periods 2 and 3",
            ["diff", spec("p2.yaml", periodic(2)), spec("p3.yaml", periodic(3)), "-f", "json"],
            10.0,
            (0,),
        ),
    ]
    for block in ("sequential", "repeat", "list"):
        path = spec(f"laughs-{block}.yaml", laughs(block))
        out.append((f"billion laughs ({block}), report json", ["report", path, "-f", "json"], 1.0, (2,)))
        out.append((f"billion laughs ({block}), check", ["check", path, "--max-macs", "1"], 1.0, (2,)))
    return out


def run_once(args: list[str]) -> tuple[float, int]:
    env = {**os.environ, "PYTHONPATH": ROOT}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode caches on, as on a user's machine
    t0 = time.perf_counter()
    p = subprocess.run(CONVCALC + args, capture_output=True, env=env, timeout=600)
    return time.perf_counter() - t0, p.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs per case (median counts)")
    ap.add_argument("--output", metavar="FILE", help="also write the table as Markdown")
    opts = ap.parse_args(argv)
    rows = []
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        startup = statistics.median(run_once(["--version"])[0] for _ in range(3))
        for name, args, bound, codes in cases(tmp):
            run_once(args)  # warm-up
            times, code = [], None
            for _ in range(opts.runs):
                t, code = run_once(args)
                times.append(t)
            median = statistics.median(times)
            ok = median <= bound and code in codes
            failed += not ok
            rows.append((name, median, bound, code, "pass" if ok else "FAIL"))
            print(f"  {'pass' if ok else 'FAIL'}  {name}: {median:.2f} s (bound {bound:.1f} s), exit {code}")
    print(f"start-up (convcalc --version): {startup:.2f} s")
    if opts.output:
        lines = [
            "# Hostile inputs, timed",
            "",
            f"Median of {opts.runs} run(s) after a warm-up, {os.cpu_count()} CPUs, Python "
            f"{sys.version.split()[0]}; `convcalc --version` takes {startup:.2f} s here.",
            "",
            "| case | median | bound | exit | verdict |",
            "|---|---:|---:|---:|---|",
        ]
        lines += [f"| {n} | {m:.2f} s | {b:.1f} s | {c} | {v} |" for n, m, b, c, v in rows]
        with open(opts.output, "w", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
