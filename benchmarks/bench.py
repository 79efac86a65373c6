#!/usr/bin/env python3
"""convcalc's speed, measured: wall-clock medians of real subprocesses, as ratios to the
interpreter's own start-up (``python -c pass`` with this same interpreter and venv).

    python benchmarks/bench.py            # full run (~6 min on 2 cores); writes benchmarks/results.md
    python benchmarks/bench.py --quick    # fewer runs (~3 min)
    python benchmarks/bench.py --only repeat   # only the benchmarks whose name contains "repeat"

Needs nothing but ``pip install -e .`` (plain Python: subprocess, statistics, resource).
Every command runs with stdout to /dev/null; each benchmark has warm-up runs (not timed,
they also fill the __pycache__) and then timed runs, of which the median counts. Peak memory
is ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a small launcher process that runs
only that command (the largest over the timed runs). Generated specs go to a temp dir that
is removed at the end.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results.md")

JSON_QUERY = [
    "conv",
    "-c",
    "3",
    "--size",
    "224x224",
    "-o",
    "32",
    "-k",
    "3",
    "-s",
    "2",
    "-p",
    "1",
    "--format",
    "json",
]
TABLE_QUERY = JSON_QUERY[:-2]
SIZE_QUERY = ["size", "224", "-k", "3", "-s", "2", "-p", "1"]


# -- commands ----------------------------------------------------------------------------------
def convcalc_cmd() -> list[str]:
    """The installed console script next to this interpreter (what a user runs), else -m."""
    bindir = os.path.dirname(sys.executable)
    for name in ("convcalc", "convcalc.exe"):
        script = os.path.join(bindir, name)
        if os.path.isfile(script) and os.access(script, os.X_OK):
            return [script]
    return [sys.executable, "-m", "convcalc"]


# Each run goes through this small launcher: it times the command and reports the peak RSS
# of that one child (resource.getrusage(RUSAGE_CHILDREN).ru_maxrss of a process that ran
# nothing else). Measured from this script instead, the peak would include this script's
# own memory (Linux keeps a forked child's high-water mark across exec).
LAUNCHER = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
elapsed = time.perf_counter() - t0
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if sys.platform == "darwin":
    rss //= 1024
sys.stderr.buffer.write(p.stderr[-4000:])
print(elapsed, p.returncode, rss)
"""


# Children may write their bytecode caches, as on any user's machine: with
# PYTHONDONTWRITEBYTECODE set (some CI images and sandboxes set it), every run would compile
# convcalc from source again and measure the compiler. The warm-up runs fill the caches.
CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def run_once(cmd: list[str]) -> tuple[float, int, int, str]:
    """(seconds, exit code, peak RSS in KiB, stderr) of one run of ``cmd``."""
    p = subprocess.run(
        [sys.executable, "-c", LAUNCHER, *cmd], stdin=subprocess.DEVNULL, capture_output=True, env=CHILD_ENV
    )
    err = p.stderr.decode("utf-8", "replace")
    try:
        elapsed, code, rss = p.stdout.split()
        return float(elapsed), int(code), int(rss), err
    except ValueError:
        return float("nan"), p.returncode or -1, 0, err or p.stdout.decode("utf-8", "replace")


class Result:
    def __init__(self, name: str, what: str, times: list[float], rss_kib: int, error: str = ""):
        self.name, self.what, self.times, self.rss_kib, self.error = name, what, times, rss_kib, error

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")


def measure(name: str, what: str, cmd: list[str], runs: int, warmup: int) -> Result:
    for _ in range(warmup):
        _, code, _, err = run_once(cmd)
        if code != 0:
            first = (err.strip().splitlines() or [f"exit {code}"])[-1]
            return Result(name, what, [], 0, f"exit {code}: {first}")
    times, peak = [], 0
    for _ in range(runs):
        t, code, rss, err = run_once(cmd)
        if code != 0:
            first = (err.strip().splitlines() or [f"exit {code}"])[-1]
            return Result(name, what, times, peak, f"exit {code}: {first}")
        times.append(t)
        peak = max(peak, rss)
    return Result(name, what, times, peak)


# -- generated specs -----------------------------------------------------------------------------
FLAT_CYCLE = (
    "  - {type: conv, out_channels: 16, kernel: 3, padding: 1}",
    "  - {type: batchnorm}",
    "  - {type: activation, fn: relu}",
    "  - {type: depthwise, kernel: 3, padding: 1}",
    "  - {type: pointwise, out_channels: 16, bias: false}",
)


def flat_spec(n: int) -> str:
    """A flat list of ``n`` layers, one flow-style mapping a line."""
    lines = [f"name: flat-{n}", "input: [16, 16, 16]", "layers:"]
    lines += [FLAT_CYCLE[i % len(FLAT_CYCLE)] for i in range(n)]
    return "\n".join(lines) + "\n"


def repeat_spec(times: int) -> str:
    """``times`` copies of a 2-layer block: 2 * times rows from a 10-line file."""
    return (
        f"name: repeat-{times}\n"
        "input: [16, 32, 32]\n"
        "layers:\n"
        "  - type: repeat\n"
        f"    times: {times}\n"
        "    layers:\n"
        "      - {type: conv, out_channels: 16, kernel: 3, padding: 1, bias: false}\n"
        "      - {type: activation, fn: relu6}\n"
    )


RESIDUAL_BLOCK = """\
  # residual block {i}
  - type: residual
    name: block{i}
    body:
      - type: conv
        out_channels: 32
        kernel: 3
        padding: 1
        bias: false
      - type: batchnorm
      - type: activation
        fn: relu
      - type: conv
        out_channels: 32
        kernel: [3, 3]
        padding: same
        bias: false
      - type: batchnorm
  - {{type: activation, fn: relu}}
"""


def lines_spec(n_lines: int) -> str:
    """A hand-written-looking spec (block style, comments, residual blocks) of ~n_lines lines."""
    head = [
        "name: long-file",
        "description: a generated spec of block-style residual blocks",
        "input: [32, 28, 28]",
        "budget: {macs: 100G, params: 100M}",
        "layers:",
    ]
    out = list(head)
    i = 0
    while len(out) < n_lines:
        out.extend(RESIDUAL_BLOCK.format(i=i).splitlines())
        i += 1
    out = out[:n_lines]
    # do not cut a block in half: drop the trailing partial block
    while out and not out[-1].startswith("  - {type: activation"):
        out.pop()
    return "\n".join(out) + "\n"


def zoo_names() -> list[str]:
    """The zoo's models as ``convcalc zoo --format json`` lists them; if that command is not
    there (an older tree), the package's convcalc/zoo/*.yaml; [] for an empty zoo."""
    import json

    try:
        p = subprocess.run(
            convcalc_cmd() + ["zoo", "--format", "json"],
            capture_output=True,
            text=True,
            timeout=60,
            env=CHILD_ENV,
        )
        if p.returncode == 0:
            return [m["name"] for m in json.loads(p.stdout).get("models", [])]
    except (OSError, ValueError, KeyError, TypeError, subprocess.SubprocessError):
        pass
    import importlib.util

    spec = importlib.util.find_spec("convcalc")
    if spec is None or not spec.submodule_search_locations:
        return []
    zoo_dir = os.path.join(next(iter(spec.submodule_search_locations)), "zoo")
    if not os.path.isdir(zoo_dir):
        return []
    return sorted(f[:-5] for f in os.listdir(zoo_dir) if f.endswith(".yaml"))


# -- the plan ------------------------------------------------------------------------------------
def plan(tmp: str, quick: bool) -> list[tuple[str, str, list[str], int, int]]:
    """(name, description, command, runs, warm-up) for each benchmark."""
    cc = convcalc_cmd()
    py = sys.executable
    r_small, r_big, r_huge = (7, 5, 3) if quick else (21, 11, 5)
    w_small, w_big = (2, 1) if quick else (3, 1)
    files = {}
    for n in (1_000, 10_000, 100_000):
        files[f"flat{n // 1000}k"] = (flat_spec(n), f"flat spec, {n:,} layers")
    files["repeat20k"] = (repeat_spec(10_000), "20,000 layers expanded from repeat")
    files["lines10k"] = (lines_spec(10_000), "10,000-line block-style spec")
    paths = {}
    for key, (text, _) in files.items():
        p = os.path.join(tmp, key + ".yaml")
        with open(p, "w", encoding="utf-8") as fh:
            fh.write(text)
        paths[key] = p
    out = [
        ("python_startup", "python -c pass (the unit)", [py, "-c", "pass"], r_small * 2, w_small),
        (
            "bare_typer",
            "bare one-command Typer app",
            [py, os.path.join(HERE, "bare_typer.py"), "--name", "x"],
            r_small,
            w_small,
        ),
        ("query_json", "conv ... --format json", cc + JSON_QUERY, r_small, w_small),
        ("query_table", "conv ... (table)", cc + TABLE_QUERY, r_small, w_small),
        ("size", "size 224 -k 3 -s 2 -p 1", cc + SIZE_QUERY, r_small, w_small),
    ]
    for key in ("flat1k", "flat10k", "flat100k", "repeat20k", "lines10k"):
        runs = r_huge if key == "flat100k" else (r_big if key != "flat1k" else r_small)
        desc = files[key][1]
        out.append(
            (
                f"{key}_json",
                f"report --format json: {desc}",
                cc + ["report", paths[key], "--format", "json"],
                runs,
                w_big,
            )
        )
        out.append((f"{key}_table", f"report (table): {desc}", cc + ["report", paths[key]], runs, w_big))
    for name in zoo_names():
        out.append(
            (
                f"zoo_{name}_json",
                f"report --format json zoo:{name}",
                cc + ["report", f"zoo:{name}", "--format", "json"],
                r_small,
                w_small,
            )
        )
        out.append(
            (
                f"zoo_{name}_table",
                f"report zoo:{name} (table)",
                cc + ["report", f"zoo:{name}"],
                r_small,
                w_small,
            )
        )
    return out


# -- targets -------------------------------------------------------------------------------------
MIB = 1024


def targets(res: dict[str, Result]) -> list[tuple[str, str, str | None]]:
    """(target, measured, "pass"/"FAIL"/None when not measured)."""
    unit = res.get("python_startup")
    base = unit.median if unit and unit.times else None

    def ratio(name):
        r = res.get(name)
        if base is None or r is None or not r.times or r.error:
            return None
        return r.median / base

    out = []

    def add(label, value, limit, fmt="{:.1f}x"):
        if value is None:
            out.append((label, "not measured", None))
        else:
            out.append((label, fmt.format(value), "pass" if value <= limit else "FAIL"))

    add("one-off JSON query <= 7x start-up", ratio("query_json"), 7)
    qj, bt = res.get("query_json"), res.get("bare_typer")
    rel = (qj.median / bt.median) if qj and bt and qj.times and bt.times and not qj.error else None
    add("one-off JSON query <= 1.3x the bare Typer app", rel, 1.3, "{:.2f}x")
    add("one-off table query <= 10x start-up", ratio("query_table"), 10)
    add("20,000 layers from repeat (JSON) <= 40x", ratio("repeat20k_json"), 40)
    add("20,000 layers from repeat (table) <= 40x", ratio("repeat20k_table"), 40)
    add("10,000-line spec (JSON) <= 60x", ratio("lines10k_json"), 60)
    add("10,000-line spec (table) <= 60x", ratio("lines10k_table"), 60)
    for fmt in ("json", "table"):
        t1, t10, t100 = (res.get(f"flat{k}_{fmt}") for k in ("1k", "10k", "100k"))
        if all(r is not None and r.times and not r.error for r in (t1, t10, t100)):
            s1 = (t10.median - t1.median) / 9_000
            s2 = (t100.median - t10.median) / 90_000
            add(
                f"linear in layers ({fmt}): per-layer cost 10k->100k <= 1.5x that of 1k->10k",
                s2 / s1 if s1 > 0 else None,
                1.5,
                "{:.2f}x",
            )
        else:
            out.append((f"linear in layers ({fmt})", "not measured", None))
    for fmt in ("json", "table"):
        r = res.get(f"flat100k_{fmt}")
        mem = r.rss_kib / MIB if r and r.times and not r.error else None
        add(f"100k-layer report ({fmt}) peak memory < 200 MiB", mem, 200, "{:.0f} MiB")
    return out


# -- output --------------------------------------------------------------------------------------
def table_lines(results: list[Result], base: float | None) -> list[str]:
    rows = [("benchmark", "median", "x start-up", "peak RSS", "runs", "what")]
    for r in results:
        if r.error:
            rows.append((r.name, "error", "", "", str(len(r.times)), f"{r.what}: {r.error}"))
            continue
        ratio = f"{r.median / base:.1f}x" if base else "?"
        rows.append(
            (
                r.name,
                f"{r.median * 1000:.0f} ms",
                ratio,
                f"{r.rss_kib / MIB:.0f} MiB",
                str(len(r.times)),
                r.what,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    out = []
    for j, row in enumerate(rows):
        cells = [row[i].ljust(widths[i]) if i == 0 else row[i].rjust(widths[i]) for i in range(len(widths))]
        out.append("  ".join(cells) + "  " + row[-1])
        if j == 0:
            out.append("-" * (sum(widths) + 2 * len(widths) + 20))
    return out


def machine() -> str:
    return (
        f"{os.cpu_count()} cores (nproc {_nproc()}), Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.machine()}"
    )


def _nproc() -> str:
    try:
        return str(len(os.sched_getaffinity(0)))
    except AttributeError:
        return str(os.cpu_count())


def _versions() -> str:
    from importlib import metadata

    out = []
    for dist in ("convcalc", "typer", "rich", "PyYAML"):
        try:
            out.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            out.append(f"{dist} (not installed)")
    return ", ".join(out)


def write_markdown(
    path: str, results: list[Result], tgts, base: float | None, quick: bool, zoo: list[str]
) -> None:
    now = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    md = [
        "# convcalc benchmark results",
        "",
        f"- date: {now}",
        f"- machine: {machine()}",
        f"- packages: {_versions()}",
        f"- runs: {'--quick' if quick else 'full'}; median wall time of subprocesses after warm-up, "
        "stdout to /dev/null",
        f"- unit: `python -c pass` = {base * 1000:.1f} ms" if base else "- unit: not measured",
        f"- zoo models: {', '.join(zoo) if zoo else 'none (the zoo is empty)'}",
        "- bytecode caches on (PYTHONDONTWRITEBYTECODE is dropped for the measured commands, as on "
        "a user's machine); peak RSS: getrusage(RUSAGE_CHILDREN).ru_maxrss of a launcher that runs "
        "only that command",
        "- linear: the per-layer cost between the 10k and 100k flat specs, over that between 1k and "
        "10k (about 1 when the cost is linear; 10 would be quadratic)",
        "",
        "## Targets",
        "",
        "| target | measured | verdict |",
        "|---|---:|---|",
    ]
    for label, value, verdict in tgts:
        md.append(f"| {label} | {value} | {verdict or 'n/a'} |")
    md += [
        "",
        "## All benchmarks",
        "",
        "| benchmark | median | x start-up | peak RSS | runs | what |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        if r.error:
            md.append(f"| {r.name} | error | | | {len(r.times)} | {r.what}: {r.error} |")
        else:
            ratio = f"{r.median / base:.1f}x" if base else "?"
            md.append(
                f"| {r.name} | {r.median * 1000:.0f} ms | {ratio} | {r.rss_kib / MIB:.0f} MiB | "
                f"{len(r.times)} | {r.what} |"
            )
    md += ["", "Regenerate with `python benchmarks/bench.py` (add `--quick` for fewer runs).", ""]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(md))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer runs")
    ap.add_argument(
        "--only",
        metavar="NAME",
        action="append",
        help="run only benchmarks whose name contains NAME (repeatable); python_startup always runs",
    )
    ap.add_argument(
        "--output",
        metavar="FILE",
        default=None,
        help=f"markdown results file (default {os.path.relpath(RESULTS, ROOT)}; "
        "not written with --only unless given)",
    )
    args = ap.parse_args(argv)

    zoo = zoo_names()
    results: dict[str, Result] = {}
    order: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="convcalc-bench-") as tmp:
        todo = plan(tmp, args.quick)
        if args.only:
            todo = [t for t in todo if t[0] == "python_startup" or any(o in t[0] for o in args.only)]
        if not zoo:
            print("zoo: no models (convcalc zoo is empty); nothing to measure there", file=sys.stderr)
        for name, what, cmd, runs, warmup in todo:
            print(f"  {name} ...", end="", flush=True, file=sys.stderr)
            r = measure(name, what, cmd, runs, warmup)
            print(f" {r.median * 1000:.0f} ms" if not r.error else f" {r.error}", file=sys.stderr)
            results[name] = r
            order.append(r)
    base = results["python_startup"].median if results["python_startup"].times else None
    tgts = targets(results)
    print()
    print(f"machine: {machine()}")
    print("\n".join(table_lines(order, base)))
    print()
    print("targets:")
    for label, value, verdict in tgts:
        print(f"  {(verdict or 'n/a'):4}  {label}: {value}")
    path = args.output or (None if args.only else RESULTS)
    if path:
        write_markdown(path, order, tgts, base, args.quick, zoo)
        print(f"\nwrote {os.path.relpath(path)}")
    failed = any(v == "FAIL" for _, _, v in tgts) or any(r.error for r in order)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
