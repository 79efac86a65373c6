#!/usr/bin/env python3
"""Reading an ONNX file, measured: convcalc's wire-format reader against the two ways that
use the ``protobuf`` runtime (a vendored copy of ONNX's schema, and ``onnx.load`` itself), on
a ResNet-50 exported by torch with its weights embedded (~100 MB).

    python benchmarks/onnx_read.py              # 7 runs each (~1 min on 2 cores)
    python benchmarks/onnx_read.py --runs 3
    python benchmarks/onnx_read.py --hostile    # the reader's worst cases (~1 min)

Needs the test extra (torch and onnx build the model and the vendored schema; the measured
reader itself needs neither). Everything is written to a temp dir, removed at the end.

Each measurement is a fresh subprocess (median of the runs): import time is the time of the
``import`` statement alone (the interpreter's start-up excluded); parse time is reading the
file into the reader's own objects; "peak RSS" is the process's high-water mark after the
parse (VmHWM; the model is built in another subprocess, so that nothing big is inherited);
"parse raised peak by" is how much the parse raised it above what the process had after its
imports; "allocated, kept" is the growth of anonymous (private, allocated) resident memory
from before the parse to after it, the parsed model alive. Pages of a memory-mapped file
count in RSS (not in "allocated") when touched: they are the page cache's clean pages,
shared and reclaimable, not copies.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

# The vendored-schema module, as protoc writes one: the schema's serialized descriptor.
PB2_TEMPLATE = """\
from google.protobuf import descriptor_pool
from google.protobuf.internal import builder

DESCRIPTOR = descriptor_pool.Default().AddSerializedFile({blob!r})
builder.BuildMessageAndEnumDescriptors(DESCRIPTOR, globals())
builder.BuildTopDescriptorsAndMessages(DESCRIPTOR, "onnx_schema_pb2", globals())
"""

READERS = {
    "convcalc": (
        "from convcalc.frontends.onnx_proto import read_model",
        "model = read_model(PATH)",
        "convcalc.frontends.onnx_proto.read_model (mmap, weights skipped)",
    ),
    "protobuf": (
        "import onnx_schema_pb2 as pb",
        "with open(PATH, 'rb') as f:\n    model = pb.ModelProto.FromString(f.read())",
        "protobuf runtime + vendored schema: ModelProto.FromString(file bytes)",
    ),
    "protobuf-mmap": (
        "import mmap, onnx_schema_pb2 as pb",
        "with open(PATH, 'rb') as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:\n"
        "    view = memoryview(mm)\n    model = pb.ModelProto.FromString(view)\n    view.release()",
        "protobuf runtime + vendored schema, parsing a memoryview of an mmap",
    ),
    "onnx.load": (
        "import onnx",
        "model = onnx.load(PATH)",
        "onnx.load (protobuf runtime, numpy, the onnx package)",
    ),
}

CHILD = """
import resource, sys, time, json
PATH = sys.argv[1]

def status():
    # this process's own high-water mark (ru_maxrss would include its parent's) and its
    # anonymous (private, allocated) resident memory; Linux only, else ru_maxrss
    try:
        with open("/proc/self/status") as f:
            rows = dict(line.split(":", 1) for line in f)
        return int(rows["VmHWM"].split()[0]), int(rows["RssAnon"].split()[0])
    except OSError:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak // (1024 if sys.platform == "darwin" else 1), 0

t0 = time.perf_counter()
{imp}
t1 = time.perf_counter()
hwm0, anon0 = status()
t2 = time.perf_counter()
{parse}
t3 = time.perf_counter()
hwm1, anon1 = status()
print(json.dumps({{"import_s": t1 - t0, "parse_s": t3 - t2, "hwm0": hwm0, "hwm1": hwm1, "anon0": anon0, "anon1": anon1}}))
"""

YAML_REPORT = """
import sys, time
t0 = time.perf_counter()
from convcalc import load_spec, walk
report = walk(load_spec("zoo:resnet50"))
report.totals()
print(time.perf_counter() - t0)
"""


# -- hostile files: the reader's worst cases --------------------------------------------------
def _varint(n: int) -> bytes:
    out = bytearray()
    while n > 0x7F:
        out.append(n & 0x7F | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field(num: int, payload: bytes | int) -> bytes:
    if isinstance(payload, int):
        return _varint(num << 3) + _varint(payload)
    return _varint(num << 3 | 2) + _varint(len(payload)) + payload


def hostile_files() -> dict[str, bytes]:
    """Files built to cost the most per byte: each runs into the work limit (MAX_UNITS) or
    just fits under it."""
    n = 5_000_000

    def model(graph: bytes) -> bytes:
        return _field(1, 9) + _field(7, graph)

    def attr(body: bytes) -> bytes:
        return model(_field(1, _field(5, _field(1, b"a") + body)))

    return {
        "empty nodes": model(b"\x0a\x00" * (n // 8)),
        "nodes with one unique input name": model(
            b"".join(_field(1, _field(1, b"%x" % i)) for i in range(n // 12))
        ),
        "one node, unique input names": model(
            _field(1, b"".join(_field(1, b"%x" % i) for i in range(n // 2)))
        ),
        "one node, empty attributes": model(_field(1, b"\x2a\x00" * (n // 2))),
        "ints attribute, 1-byte values": attr(_field(20, 7) + _field(8, b"\x01" * n)),
        "ints attribute, 5-byte values": attr(_field(20, 7) + _field(8, b"\xff\xff\xff\xff\x0f" * (n // 5))),
        "strings attribute": attr(_field(20, 8) + b"\x4a\x01x" * (n // 3)),
        "value infos of 60 dims": model(
            b"".join(
                [_field(11, _field(1, b"v") + _field(2, _field(1, _field(2, b"\x0a\x02\x08\x05" * 60))))]
                * (n // 200)
            )
        ),
        "opset entries": _field(1, 9) + b"\x42\x00" * (n // 2) + _field(7, b""),
        "graph fields": _field(1, 9) + b"\x3a\x00" * (n // 2),
    }


HOSTILE_CHILD = """
import sys, time, tracemalloc
from convcalc.frontends.onnx_proto import parse_model, OnnxError
data = open(sys.argv[1], "rb").read()
t0 = time.perf_counter()
try:
    parse_model(data, "x")
    outcome = "read"
except OnnxError as e:
    outcome = "work limit" if "work units" in str(e) else str(e)
elapsed = time.perf_counter() - t0
tracemalloc.start()
try:
    parse_model(data, "x")
except OnnxError:
    pass
print(elapsed, tracemalloc.get_traced_memory()[1], outcome, sep="\t")
"""


def hostile(runs: int) -> None:
    print("| hostile file | size | time | peak allocated | outcome |")
    print("|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory(prefix="convcalc-onnx-hostile-") as tmp:
        env = child_env(tmp)
        for name, data in hostile_files().items():
            path = os.path.join(tmp, "h.onnx")
            with open(path, "wb") as f:
                f.write(data)
            rows = [run_child(HOSTILE_CHILD, [path], env).split("\t") for _ in range(runs)]
            t = statistics.median(float(r[0]) for r in rows)
            peak = max(int(r[1]) for r in rows)
            print(
                f"| {name} | {len(data) / 1e6:.1f} MB | {t:.2f} s | {peak / 2**20:.0f} MiB | {rows[0][2]} |"
            )


# -- the model ---------------------------------------------------------------------------------
def resnet50():  # torchvision's ResNet-50, without torchvision
    import torch
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, width: int, stride: int):
            super().__init__()
            cout = width * 4
            self.body = nn.Sequential(
                nn.Conv2d(cin, width, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, width, 3, stride, 1, bias=False),
                nn.BatchNorm2d(width),
                nn.ReLU(inplace=True),
                nn.Conv2d(width, cout, 1, bias=False),
                nn.BatchNorm2d(cout),
            )
            self.down = (
                nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                if stride != 1 or cin != cout
                else nn.Identity()
            )

        def forward(self, x):
            return torch.relu(self.body(x) + self.down(x))

    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            layers.append(Bottleneck(cin, width, stride if b == 0 else 1))
            cin = width * 4
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers).eval()


def build(tmp: str) -> str:
    import warnings

    import onnx
    import torch

    path = os.path.join(tmp, "resnet50.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(resnet50(), (torch.zeros(1, 3, 224, 224),), path, dynamo=False)
    blob = onnx.onnx_ml_pb2.DESCRIPTOR.serialized_pb
    with open(os.path.join(tmp, "onnx_schema_pb2.py"), "w", encoding="utf-8") as f:
        f.write(PB2_TEMPLATE.format(blob=blob))
    return path


# -- measuring ---------------------------------------------------------------------------------
def child_env(tmp: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (tmp, ROOT, env.get("PYTHONPATH", "")) if p)
    return env


def run_child(code: str, args: list[str], env: dict[str, str]) -> str:
    p = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if p.returncode:
        raise SystemExit(f"child failed:\n{p.stderr[-2000:]}")
    return p.stdout.strip().splitlines()[-1]


def measure(name: str, path: str, runs: int, env: dict[str, str]) -> dict[str, float]:
    imp, parse, _ = READERS[name]
    code = CHILD.format(imp=imp, parse=parse)
    run_child(code, [path], env)  # warm-up: bytecode caches, the file in the page cache
    rows = [json.loads(run_child(code, [path], env)) for _ in range(runs)]
    return {
        "import_ms": 1000 * statistics.median(r["import_s"] for r in rows),
        "parse_ms": 1000 * statistics.median(r["parse_s"] for r in rows),
        "peak_mib": max(r["hwm1"] for r in rows) / 1024,
        "parse_peak_mib": max(r["hwm1"] - r["hwm0"] for r in rows) / 1024,
        "kept_mib": max(r["anon1"] - r["anon0"] for r in rows) / 1024,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--hostile", action="store_true", help="measure the worst cases instead")
    ap.add_argument("--build", metavar="DIR", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.build:
        build(args.build)
        return
    if args.hostile:
        hostile(min(args.runs, 3))
        return
    with tempfile.TemporaryDirectory(prefix="convcalc-onnx-bench-") as tmp:
        t0 = time.perf_counter()
        # built in a subprocess: torch's memory stays out of this process and its children
        subprocess.run([sys.executable, __file__, "--build", tmp], check=True)
        path = os.path.join(tmp, "resnet50.onnx")
        size = os.path.getsize(path)
        print(f"model: ResNet-50, torch.onnx.export (BatchNorm folded), {size / 2**20:.1f} MiB "
              f"({time.perf_counter() - t0:.1f} s to build)", file=sys.stderr)  # fmt: skip
        env = child_env(tmp)
        results = {name: measure(name, path, args.runs, env) for name in READERS}
        yaml_ms = 1000 * statistics.median(float(run_child(YAML_REPORT, [], env)) for _ in range(args.runs))
    print(f"File: ResNet-50 exported by torch.onnx.export, weights embedded: {size:,} bytes "
          f"({size / 2**20:.1f} MiB). Median of {args.runs} fresh processes; Python {sys.version.split()[0]}.\n")  # fmt: skip
    print("| reader | import | parse | peak RSS | peak / file | parse raised peak by | allocated, kept |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(
            f"| {READERS[name][2]} | {r['import_ms']:.1f} ms | {r['parse_ms']:.1f} ms | "
            f"{r['peak_mib']:.1f} MiB | {r['peak_mib'] * 2**20 / size:.2f}x | "
            f"{r['parse_peak_mib']:.1f} MiB | {r['kept_mib']:.1f} MiB |"
        )
    print(
        f"\nFor scale: the same network from YAML (zoo:resnet50: import, load, walk) takes {yaml_ms:.1f} ms in-process."
    )


if __name__ == "__main__":
    main()
