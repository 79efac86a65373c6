#!/usr/bin/env python3
"""How good is convcalc's roofline latency estimate? Per-layer CPU latencies measured with torch
against the estimate from a profile that ``convcalc devices measure`` made on the same machine.

    python benchmarks/latency_validation.py                 # measure a profile, time ~70 layers
    python benchmarks/latency_validation.py --all           # every distinct conv layer of the zoo
    python benchmarks/latency_validation.py --profile me.yaml --repeats 5 --limit 10

Layers: the distinct convolutions (standard, 1x1, grouped, depthwise, dilated, transposed) of
convcalc's model zoo (ResNet-50, VGG-16, MobileNet v1, ShuffleNet v1, AlexNet, GoogLeNet,
SqueezeNet, the DCGAN generator, a small U-Net), plus layers of well-known networks the zoo
lacks (ResNeXt-50's grouped 3x3, DeepLabv3's dilated ResNet and ASPP, MobileNet v2 and
EfficientNet-B0 depthwise convs, FCN/U-Net up-convolutions), picked evenly by MACs within each
class. Each becomes the torch module that runs it (nn.Conv2d / nn.ConvTranspose2d, rebuilt from
convcalc's cost: weight shape, stride, padding, dilation, groups, bias), batch 1, fp32, eval,
no_grad, torch's default threads (or --threads).

Two timings per layer, each the best of ``--repeats`` single calls (after warm-up calls):
  * cold: a read of a buffer twice the last-level cache before each call, so the input and the
    weights come from main memory, as the roofline assumes (no cache reuse);
  * warm: back-to-back calls on the same tensors, which then stay in the caches.

Reported: the Spearman rank correlation between estimate and measurement, the median and the
spread of measured / estimated, and how often (and by how much) the estimate, a lower bound,
exceeds the measurement. Results go to benchmarks/results/latency.md.
"""

from __future__ import annotations

import argparse
import datetime
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from math import prod

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results", "latency.md")
sys.path.insert(0, ROOT)

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from convcalc import network, spec, zoo  # noqa: E402
from convcalc.devices import load_profile, parse_text  # noqa: E402
from convcalc.layers import REGISTRY  # noqa: E402
from convcalc.network import iter_parts  # noqa: E402
from convcalc.roofline import estimate  # noqa: E402
from convcalc.traffic import layer_traffic  # noqa: E402

CONV_TYPES = ("conv", "depthwise", "pointwise", "transposed")
CLASSES = ("standard", "pointwise", "grouped", "depthwise", "dilated", "transposed")

# Layers of well-known networks that convcalc's zoo does not have: (source, type, input, params).
EXTRAS = [
    # ResNeXt-50 32x4d (Xie et al. 2017): the grouped 3x3 of each stage (32 groups)
    (
        "resnext50_32x4d conv2 (stage 1)",
        "conv",
        (128, 56, 56),
        dict(out_channels=128, kernel=3, padding=1, groups=32, bias=False),
    ),
    (
        "resnext50_32x4d conv2 (stage 2, stride 2)",
        "conv",
        (256, 56, 56),
        dict(out_channels=256, kernel=3, stride=2, padding=1, groups=32, bias=False),
    ),
    (
        "resnext50_32x4d conv2 (stage 3)",
        "conv",
        (512, 14, 14),
        dict(out_channels=512, kernel=3, padding=1, groups=32, bias=False),
    ),
    (
        "resnext50_32x4d conv2 (stage 4)",
        "conv",
        (1024, 7, 7),
        dict(out_channels=1024, kernel=3, padding=1, groups=32, bias=False),
    ),
    # RegNetY-400MF (Radosavovic et al. 2020): grouped 3x3, group width 8
    (
        "regnet_y_400mf block (208 ch, g=26)",
        "conv",
        (208, 14, 14),
        dict(out_channels=208, kernel=3, padding=1, groups=26, bias=False),
    ),
    # DeepLabv3 (Chen et al. 2017), ResNet-50 backbone at output stride 8 (520 px input: 65x65)
    (
        "deeplabv3 layer3 3x3 dilation 2",
        "conv",
        (256, 65, 65),
        dict(out_channels=256, kernel=3, padding=2, dilation=2, bias=False),
    ),
    (
        "deeplabv3 layer4 3x3 dilation 4",
        "conv",
        (512, 65, 65),
        dict(out_channels=512, kernel=3, padding=4, dilation=4, bias=False),
    ),
    (
        "deeplabv3 ASPP 3x3 rate 12 (33x33)",
        "conv",
        (2048, 33, 33),
        dict(out_channels=256, kernel=3, padding=12, dilation=12, bias=False),
    ),
    (
        "deeplabv3 ASPP 3x3 rate 24 (33x33)",
        "conv",
        (2048, 33, 33),
        dict(out_channels=256, kernel=3, padding=24, dilation=24, bias=False),
    ),
    (
        "deeplabv3 ASPP 3x3 rate 36 (65x65)",
        "conv",
        (512, 65, 65),
        dict(out_channels=256, kernel=3, padding=36, dilation=36, bias=False),
    ),
    # WaveNet-style / dilated context module (Yu & Koltun 2016): dilation 8 on a small map
    (
        "context module 3x3 dilation 8",
        "conv",
        (64, 64, 64),
        dict(out_channels=64, kernel=3, padding=8, dilation=8),
    ),
    # MobileNet v2 (Sandler et al. 2018) and EfficientNet-B0 (Tan & Le 2019) depthwise convs
    (
        "mobilenet_v2 block 2 dw 3x3 s2 (96 ch)",
        "depthwise",
        (96, 112, 112),
        dict(kernel=3, stride=2, padding=1, bias=False),
    ),
    (
        "mobilenet_v2 block 6 dw 3x3 (384 ch)",
        "depthwise",
        (384, 14, 14),
        dict(kernel=3, padding=1, bias=False),
    ),
    (
        "efficientnet_b0 stage 3 dw 5x5 s2 (144 ch)",
        "depthwise",
        (144, 56, 56),
        dict(kernel=5, stride=2, padding=2, bias=False),
    ),
    (
        "efficientnet_b0 stage 6 dw 5x5 (672 ch)",
        "depthwise",
        (672, 14, 14),
        dict(kernel=5, padding=2, bias=False),
    ),
    ("convnext_tiny stage 1 dw 7x7 (96 ch)", "depthwise", (96, 56, 56), dict(kernel=7, padding=3)),
    # up-convolutions: U-Net (Ronneberger et al. 2015) 2x2 s2, FCN-8s (Long et al. 2015) 16x16 s8
    (
        "unet up-conv 2x2 s2 (1024 -> 512, 28x28)",
        "transposed",
        (1024, 28, 28),
        dict(out_channels=512, kernel=2, stride=2),
    ),
    (
        "unet up-conv 2x2 s2 (128 -> 64, 196x196)",
        "transposed",
        (128, 196, 196),
        dict(out_channels=64, kernel=2, stride=2),
    ),
    (
        "fcn8s upscore 16x16 s8 (21 ch)",
        "transposed",
        (21, 34, 34),
        dict(out_channels=21, kernel=16, stride=8, bias=False),
    ),
    (
        "fcn upscore2 4x4 s2 (21 ch)",
        "transposed",
        (21, 16, 16),
        dict(out_channels=21, kernel=4, stride=2, bias=False),
    ),
    (
        "srgan-like up 4x4 s2 (256 -> 128, 32x32)",
        "transposed",
        (256, 32, 32),
        dict(out_channels=128, kernel=4, stride=2, padding=1),
    ),
]


# -- layers --------------------------------------------------------------------------------------
class Layer:
    """One conv-family layer: its convcalc cost and what torch needs to run it."""

    def __init__(self, source: str, cost):
        self.source = source
        self.cost = cost
        c = cost
        self.n = len(c.input_shape) - 1
        w = c.extra["weight_shape"]
        self.weight = w
        self.bias = c.params > prod(w)
        if c.type == "transposed":
            _, kernel, stride, pad, dil = c.rf
            self.kernel, self.stride, self.dilation = kernel, stride, dil
            self.groups = c.output_shape[0] // w[1]
            self.pad_lo = self.pad_hi = pad
            self.output_padding = tuple(
                o - ((i - 1) * s - 2 * p + d * (k - 1) + 1)
                for i, o, k, s, p, d in zip(c.input_shape[1:], c.output_shape[1:], kernel, stride, pad, dil)
            )
        else:
            _, _, stride, lo, dil = c.rf
            kernel = w[2:]
            self.kernel, self.stride, self.dilation = kernel, stride, dil
            self.groups = c.input_shape[0] // w[1]
            self.pad_lo = lo
            self.pad_hi = tuple(
                max(0, (o - 1) * s + d * (k - 1) + 1 - i - p)
                for i, o, k, s, p, d in zip(c.input_shape[1:], c.output_shape[1:], kernel, stride, lo, dil)
            )
            self.output_padding = None

    @property
    def cls(self) -> str:
        c_in = self.cost.input_shape[0]
        if self.cost.type == "transposed":
            return "transposed"
        if any(d > 1 for d in self.dilation):
            return "dilated"
        if self.groups == c_in and self.groups > 1:
            return "depthwise"
        if self.groups > 1:
            return "grouped"
        if all(k == 1 for k in self.kernel):
            return "pointwise"
        return "standard"

    @property
    def key(self) -> tuple:
        c = self.cost
        return (c.type, c.input_shape, c.output_shape, self.weight, c.rf, self.bias)

    def describe(self) -> str:
        k = "x".join(map(str, self.kernel))
        s = f" s{self.stride[0]}" if any(x > 1 for x in self.stride) else ""
        g = f" g{self.groups}" if self.groups > 1 else ""
        d = f" d{self.dilation[0]}" if any(x > 1 for x in self.dilation) else ""
        return f"{k}{s}{g}{d}"

    def module_and_input(self) -> tuple[nn.Module, torch.Tensor]:
        """The torch module and a batch-1 input (pre-padded when the padding is asymmetric:
        the conv alone is timed, not a separate pad kernel)."""
        c = self.cost
        c_in, c_out = c.input_shape[0], c.output_shape[0]
        x = torch.randn(1, *c.input_shape)
        if c.type == "transposed":
            cls = {1: nn.ConvTranspose1d, 2: nn.ConvTranspose2d, 3: nn.ConvTranspose3d}[self.n]
            m = cls(
                c_in,
                c_out,
                self.kernel,
                self.stride,
                self.pad_lo,
                self.output_padding,
                self.groups,
                self.bias,
                self.dilation,
            )
        else:
            cls = {1: nn.Conv1d, 2: nn.Conv2d, 3: nn.Conv3d}[self.n]
            if self.pad_lo == self.pad_hi:
                m = cls(
                    c_in, c_out, self.kernel, self.stride, self.pad_lo, self.dilation, self.groups, self.bias
                )
            else:
                pads = [p for lo, hi in reversed(list(zip(self.pad_lo, self.pad_hi))) for p in (lo, hi)]
                x = F.pad(x, pads)
                m = cls(c_in, c_out, self.kernel, self.stride, 0, self.dilation, self.groups, self.bias)
        m.eval()
        with torch.no_grad():
            y = m(x)
        if tuple(y.shape[1:]) != tuple(c.output_shape):
            raise AssertionError(f"{self.source}: torch gives {tuple(y.shape)}, convcalc {c.output_shape}")
        return m, x


def zoo_layers() -> list[Layer]:
    out = []
    for name in zoo.names():
        report = network.walk(spec.parse_text(zoo.read(name), f"zoo:{name}"))
        for row, parts in iter_parts(report):
            for r in parts or [row]:
                if r.cost.type in CONV_TYPES:
                    out.append(Layer(f"{name}: {r.name}", r.cost))
    return out


def extra_layers() -> list[Layer]:
    return [Layer(src, REGISTRY[t].build(p).cost(shape)) for src, t, shape, p in EXTRAS]


def distinct(layers: list[Layer]) -> list[Layer]:
    seen: dict[tuple, Layer] = {}
    for layer in layers:
        seen.setdefault(layer.key, layer)
    return list(seen.values())


def pick(layers: list[Layer], per_class: int) -> list[Layer]:
    """Up to ``per_class`` layers of each class, evenly spread over the class's MACs."""
    out = []
    for cls in CLASSES:
        group = sorted((x for x in layers if x.cls == cls), key=lambda x: x.cost.macs)
        if len(group) <= per_class:
            out += group
            continue
        idx = sorted({round(i * (len(group) - 1) / (per_class - 1)) for i in range(per_class)})
        out += [group[i] for i in idx]
    return out


# -- timing --------------------------------------------------------------------------------------
def llc_bytes() -> int:
    """The last-level cache's size (sysfs), or 32 MiB when it cannot be read."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for d in os.listdir(base):
            try:
                with open(os.path.join(base, d, "size")) as fh:
                    text = fh.read().strip()
                with open(os.path.join(base, d, "level")) as fh:
                    level = int(fh.read())
            except OSError:
                continue
            mult = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
            size = int(text.rstrip("KMG")) * mult
            if level >= 2:
                best = max(best, size)
    except OSError:
        pass
    return best or 32 * 2**20


def best_time(fn, repeats: int, before=None) -> float:
    for _ in range(3):
        fn()
    best = math.inf
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def time_layer(layer: Layer, repeats: int, flush) -> tuple[float, float]:
    m, x = layer.module_and_input()
    with torch.no_grad():
        warm = best_time(lambda: m(x), repeats)
        cold = best_time(lambda: m(x), repeats, before=flush)
    return warm, cold


# -- statistics ----------------------------------------------------------------------------------
def ranks(xs: list[float]) -> list[float]:
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    r = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            r[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return r


def spearman(a: list[float], b: list[float]) -> float:
    ra, rb = ranks(a), ranks(b)
    ma, mb = statistics.fmean(ra), statistics.fmean(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    va = math.sqrt(sum((x - ma) ** 2 for x in ra))
    vb = math.sqrt(sum((y - mb) ** 2 for y in rb))
    return cov / (va * vb)


def quantile(xs: list[float], q: float) -> float:
    s = sorted(xs)
    pos = q * (len(s) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def spread(ratios: list[float]) -> dict:
    return {
        "median": statistics.median(ratios),
        "p10": quantile(ratios, 0.1),
        "p90": quantile(ratios, 0.9),
        "min": min(ratios),
        "max": max(ratios),
        "geomean": math.exp(statistics.fmean(math.log(r) for r in ratios)),
        "below1": sum(r < 1 for r in ratios),
        "below09": sum(r < 0.9 for r in ratios),
    }


# -- main ----------------------------------------------------------------------------------------
def measure_profile(path: str, threads: int | None) -> None:
    cmd = [
        sys.executable,
        "-m",
        "convcalc",
        "devices",
        "measure",
        "--library",
        "torch",
        "--on",
        "cpu",
        "-o",
        path,
    ] + (["--threads", str(threads)] if threads else [])
    subprocess.run(cmd, check=True, cwd=ROOT)


def us(x: float) -> str:
    return f"{x * 1e6:,.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", help="a profile file (default: run `convcalc devices measure` first)")
    ap.add_argument("--repeats", type=int, default=10, help="timed calls per layer and mode (best counts)")
    ap.add_argument("--per-class", type=int, default=12, help="layers per class (default 12)")
    ap.add_argument("--all", action="store_true", help="every distinct layer (slow)")
    ap.add_argument("--limit", type=int, default=0, help="at most this many layers (a smoke run)")
    ap.add_argument("--output", default=RESULTS, help="where to write the Markdown results")
    ap.add_argument("--threads", type=int, default=0, help="torch threads for the profile and the layers")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    started = time.time()
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            profile_path = args.profile
        else:
            profile_path = os.path.join(tmp, "this-machine.yaml")
            print("measuring this machine: convcalc devices measure ...", flush=True)
            measure_profile(profile_path, args.threads or None)
        with open(profile_path, encoding="utf-8") as fh:
            profile_text = fh.read()
    profile = parse_text(profile_text, profile_path) if not args.profile else load_profile(args.profile)

    layers = distinct(zoo_layers() + extra_layers())
    chosen = layers if args.all else pick(layers, args.per_class)
    if args.limit:
        chosen = chosen[: args.limit]
    flush_buf = torch.ones(max(2 * llc_bytes(), 256 * 2**20) // 4)

    def flush() -> None:
        flush_buf.sum()

    rows = []
    for i, layer in enumerate(chosen, 1):
        t = layer_traffic(layer.cost, "fp32", 1)
        e = estimate(t, layer.cost, profile, "fp32")
        warm, cold = time_layer(layer, args.repeats, flush)
        est = float(e.latency_s)
        rows.append((layer, t, e, est, warm, cold))
        print(
            f"[{i:3}/{len(chosen)}] {layer.cls:10} {layer.source[:48]:48} est {us(est):>10} us"
            f"  cold {us(cold):>10}  warm {us(warm):>10}  cold/est {cold / est:5.2f}",
            flush=True,
        )
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    write(args, rows, profile, profile_text, len(layers), time.time() - started, (load_before, load_after))
    return 0


def write(args, rows, profile, profile_text: str, n_distinct: int, elapsed: float, load) -> None:
    est = [r[3] for r in rows]
    warm = [r[4] for r in rows]
    cold = [r[5] for r in rows]
    flops = [r[1].flops for r in rows]
    rc = [c / e for c, e in zip(cold, est)]
    rw = [w / e for w, e in zip(warm, est)]
    sc, sw = spread(rc), spread(rw)
    cpu = _cpu_model()
    lines = [
        "# Roofline latency estimate vs measured CPU latency",
        "",
        "Written by `python benchmarks/latency_validation.py"
        + (" --all" if args.all else "")
        + (f" --threads {args.threads}" if args.threads else "")
        + f" --repeats {args.repeats}`; see docs/latency.md for what the estimate is.",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; run took {elapsed / 60:.1f} min",
        f"- machine: {cpu}, {os.cpu_count()} logical CPUs, last-level cache {llc_bytes() // 2**20} MiB"
        f" (sysfs); Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; 1-minute load average {_load(load)}",
        f"- layers: {len(rows)} of the {n_distinct} distinct conv layers of the zoo and the extras "
        f"({', '.join(f'{c} {sum(r[0].cls == c for r in rows)}' for c in CLASSES)}); batch 1, fp32",
        f"- each time: the best of {args.repeats} single calls after 3 warm-up calls; cold = a read of"
        " a buffer twice the last-level cache before each call; warm = back-to-back calls",
        "- estimate: convcalc's roofline, max(FLOPs / peak, bytes / bandwidth) + launch overhead, with the"
        " profile below (measured on this machine by `convcalc devices measure` just before)",
        "",
        "## Summary",
        "",
        "| | cold cache | warm cache |",
        "|---|---:|---:|",
        f"| Spearman rank correlation, estimate vs measured | {spearman(est, cold):.3f} | {spearman(est, warm):.3f} |",
        f"| (FLOPs alone vs measured, for comparison) | {spearman(flops, cold):.3f} | {spearman(flops, warm):.3f} |",
        f"| median measured / estimated | {sc['median']:.2f} | {sw['median']:.2f} |",
        f"| geometric mean | {sc['geomean']:.2f} | {sw['geomean']:.2f} |",
        f"| 10th - 90th percentile | {sc['p10']:.2f} - {sc['p90']:.2f} | {sw['p10']:.2f} - {sw['p90']:.2f} |",
        f"| min - max | {sc['min']:.2f} - {sc['max']:.2f} | {sw['min']:.2f} - {sw['max']:.2f} |",
        f"| layers whose estimate exceeds the measurement (ratio < 1) | {sc['below1']} | {sw['below1']} |",
        f"| ... by more than 10% (ratio < 0.9) | {sc['below09']} | {sw['below09']} |",
        "",
        "Median measured / estimated per class (cold, warm):",
        "",
        "| class | layers | cold | warm | memory-bound (estimate) |",
        "|---|---:|---:|---:|---:|",
    ]
    for c in CLASSES:
        sel = [i for i, r in enumerate(rows) if r[0].cls == c]
        if sel:
            lines.append(
                f"| {c} | {len(sel)} | {statistics.median(rc[i] for i in sel):.2f} | "
                f"{statistics.median(rw[i] for i in sel):.2f} | {sum(rows[i][2].bound == 'memory' for i in sel)} |"
            )
    for bound in ("compute", "memory"):
        sel = [i for i, r in enumerate(rows) if r[2].bound == bound]
        if sel:
            lines.append(
                f"| all {bound}-bound | {len(sel)} | {statistics.median(rc[i] for i in sel):.2f} | "
                f"{statistics.median(rw[i] for i in sel):.2f} | |"
            )
    lines += [
        "",
        "## Profile used",
        "",
        "```yaml",
        profile_text.rstrip(),
        "```",
        "",
        "## Per layer",
        "",
        "Times in microseconds. AI = arithmetic intensity (FLOP/byte); achieved = FLOPs / cold time as a share"
        " of the profile's fp32 peak.",
        "",
        "| # | layer | class | input | conv | MFLOPs | MB moved | AI | bound | estimate | cold | warm |"
        " cold / est | warm / est | achieved |",
        "|---:|---|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    peak = profile.peak["fp32"]
    for i, (layer, t, e, est_s, warm_s, cold_s) in enumerate(rows, 1):
        ai = t.arithmetic_intensity
        lines.append(
            f"| {i} | {layer.source} | {layer.cls} | {'x'.join(map(str, layer.cost.input_shape))} | "
            f"{layer.describe()} -> {layer.cost.output_shape[0]} | {t.flops / 1e6:,.2f} | "
            f"{t.memory_traffic / 1e6:,.3f} | {float(ai) if ai is not None else 0:.1f} | {e.bound} | "
            f"{us(est_s)} | {us(cold_s)} | {us(warm_s)} | {cold_s / est_s:.2f} | {warm_s / est_s:.2f} | "
            f"{float(Fraction(t.flops) / Fraction(cold_s) / peak):.0%} |"
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"\nwrote {args.output}")
    print("\n".join(lines[10:24]))


def _load(load) -> str:
    before, after = load
    if before is None or after is None:
        return "unknown"
    text = f"{before:.1f} before, {after:.1f} after"
    if max(before, after) > 0.5 * (os.cpu_count() or 1):
        text += " (other work competed for the CPUs: times are noisier and the profile may be low)"
    return text


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    sys.exit(main())
