#!/usr/bin/env python3
"""``convcalc report MODEL.onnx`` against the same network from YAML, measured.

The issue's target: a 100 MB ONNX file with embedded weights (ResNet-50 class) reports in no
more than 3x the time of the same network from YAML, and its peak memory stays under twice the
file's size.

    python benchmarks/onnx_report.py            # 7 runs each (~1 min on 2 cores)
    python benchmarks/onnx_report.py --runs 3

Needs the test extra (torch exports the model). The file is ResNet-50 (torchvision's, rebuilt
in benchmarks/onnx_read.py) exported by ``torch.onnx.export`` with its weights embedded and
BatchNorm kept (``do_constant_folding=False``: the same 175 layers as ``zoo:resnet50``), in a
temp dir removed at the end.

Two measurements, each in fresh processes (median of the runs, after a warm-up run that puts
the file in the page cache):

* **command**: ``convcalc report X --format json`` run in-process by ``convcalc.cli.main``
  (imports included, the interpreter's start-up excluded, output to /dev/null);
* **work**: loading and walking the network and building the report's JSON data, after the
  imports.

"peak RSS" is the process's high-water mark (VmHWM) at the end, and "peak / file" compares it
with the ONNX file's size; pages of the memory-mapped file count in RSS when touched (clean,
shared page-cache pages, not copies).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

CHILD = """
import os, sys, time, json
REF = sys.argv[1]

def hwm():
    with open("/proc/self/status") as f:
        rows = dict(line.split(":", 1) for line in f)
    return int(rows["VmHWM"].split()[0])

t0 = time.perf_counter()
if sys.argv[2] == "command":
    from convcalc.cli import main
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    try:
        code = main(["report", REF, "--format", "json"])
        sys.stdout.flush()
    finally:
        os.dup2(out, 1)
    assert code == 0, code
    t1 = time.perf_counter()
    start = t0
else:
    from convcalc import network
    from convcalc.export import report_dict
    from convcalc.frontends import load
    start = time.perf_counter()
    d = report_dict(network.walk(load(REF)))
    assert d["totals"]["params"] > 0
    t1 = time.perf_counter()
print(json.dumps({"s": t1 - start, "hwm_kib": hwm()}))
"""


def build(tmp: str) -> str:
    import warnings

    import torch

    sys.path.insert(0, HERE)
    from onnx_read import resnet50

    path = os.path.join(tmp, "resnet50.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            resnet50(), (torch.zeros(1, 3, 224, 224),), path, dynamo=False, do_constant_folding=False
        )
    return path


def run(ref: str, what: str, runs: int) -> dict[str, float]:
    # bytecode cached as for any installed package (an environment may turn the cache off)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (ROOT, env.get("PYTHONPATH", "")) if p)

    def once() -> dict:
        p = subprocess.run(
            [sys.executable, "-c", CHILD, ref, what], capture_output=True, text=True, env=env, cwd=ROOT
        )
        if p.returncode:
            raise SystemExit(f"child failed:\n{p.stderr[-2000:]}")
        return json.loads(p.stdout.strip().splitlines()[-1])

    once()  # warm-up: bytecode caches, the file in the page cache
    rows = [once() for _ in range(runs)]
    return {
        "ms": 1000 * statistics.median(r["s"] for r in rows),
        "peak_mib": max(r["hwm_kib"] for r in rows) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--build", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(args.build)
        return
    with tempfile.TemporaryDirectory(prefix="convcalc-onnx-report-") as tmp:
        # built in a subprocess: torch's memory stays out of the measured processes
        subprocess.run([sys.executable, __file__, "--build", tmp], check=True)
        path = os.path.join(tmp, "resnet50.onnx")
        size = os.path.getsize(path)
        results = {
            (src, what): run(ref, what, args.runs)
            for src, ref in (("ONNX", path), ("YAML", "zoo:resnet50"))
            for what in ("command", "work")
        }
    print(
        f"File: ResNet-50 exported by torch.onnx.export, weights embedded, BatchNorm kept: {size:,} bytes "
        f"({size / 2**20:.1f} MiB). Median of {args.runs} fresh processes; Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}.\n"
    )
    print("| input | measured | time | ONNX / YAML | peak RSS | peak / ONNX file |")
    print("|---|---|---:|---:|---:|---:|")
    for what, label in (
        ("command", "`report --format json` (imports included)"),
        ("work", "load, walk, JSON data"),
    ):
        for src in ("ONNX", "YAML"):
            r = results[src, what]
            ratio = r["ms"] / results["YAML", what]["ms"]
            print(
                f"| {src} | {label} | {r['ms']:.1f} ms | {ratio:.2f}x | {r['peak_mib']:.1f} MiB | "
                f"{r['peak_mib'] * 2**20 / size:.2f}x |"
            )


if __name__ == "__main__":
    main()
