"""Memory traffic and roofline latency of layers and networks at one dtype, batch and
(optionally) device: what reports, budgets, diffs, ``fit`` and ``compare`` show. The formulas
are those of ``convcalc.traffic`` and ``convcalc.roofline`` (see docs/latency.md); this module
applies them to ``Cost`` objects and report rows, sums them, and gives the JSON keys.
Pure; no I/O (a device is a parsed ``Profile``).

A report of 100,000 layers computes these for every row twice (the totals first, then the
streamed rows), so a layer's figures are kept as a few exact integers (``Tally``) rather than
``Fraction`` objects: per kernel (one per simple layer, one per part of a composite; views
none) its bytes, its FLOPs and whether it is memory-bound (``traffic * peak > FLOPs *
bandwidth``, exactly). A sum of kernels' latencies is then exact from integer sums::

    latency_s = sum(FLOPs of compute-bound kernels) / peak
              + sum(bytes of memory-bound kernels) / bandwidth + kernels * launch_overhead

and a float for JSON is one correctly rounded integer division. ``tests/test_perf.py`` checks
that this equals ``roofline.estimate`` exactly.

JSON keys (issue 14):

* every layer (and each part of a composite): ``bytes_read``, ``bytes_written``,
  ``memory_traffic``, ``arithmetic_intensity``; with a device also ``latency_s`` and ``bound``
  (``compute``, ``memory``, or null for a view, which launches no kernel);
* totals: the same four keys (sums; the intensity of the sums), and with a device
  ``latency_s`` (the sum), ``bound`` (of the majority of the time), ``memory_bound_share``
  (the share of the time spent in memory-bound kernels), ``compute_s`` and ``memory_s``.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from math import prod
from typing import TYPE_CHECKING, Any

from .conventions import DTYPE_BYTES, VIEWS

if TYPE_CHECKING:
    from .devices import Profile
    from .layers.base import Cost
    from .roofline import Estimate
    from .traffic import Traffic

# roofline.COMPUTE and roofline.MEMORY (that module, with its dataclasses, is imported only when
# an Estimate is built: a one-off query starts without it)
COMPUTE, MEMORY = "compute", "memory"

HEADLINE = "estimated latency on {device} (roofline lower bound, unfused)"


class Tally:
    """Exact integer sums over kernels: bytes read and written, FLOPs (of views too),
    FLOPs of compute-bound kernels, bytes of memory-bound kernels, and kernel counts."""

    __slots__ = (
        "compute_flops",
        "flops",
        "kernel_flops",
        "kernels",
        "memory_bytes",
        "memory_kernels",
        "read",
        "written",
    )

    def __init__(self) -> None:
        self.read = self.written = self.flops = self.kernel_flops = 0
        self.compute_flops = self.memory_bytes = self.kernels = self.memory_kernels = 0

    def add(self, other: Tally) -> Tally:
        self.read += other.read
        self.written += other.written
        self.flops += other.flops
        self.kernel_flops += other.kernel_flops
        self.compute_flops += other.compute_flops
        self.memory_bytes += other.memory_bytes
        self.kernels += other.kernels
        self.memory_kernels += other.memory_kernels
        return self

    @property
    def memory_traffic(self) -> int:
        return self.read + self.written


class Perf:
    """Traffic (and, with a ``device``, the roofline estimate) of layers at ``dtype`` and
    ``batch``. Building one checks that the device has a peak at the dtype and a bandwidth,
    so a bad combination is one clear error before any work."""

    __slots__ = ("_bw", "_den", "_oh_den", "_oh_num", "_peak", "batch", "bytes", "device", "dtype")

    def __init__(self, dtype: str = "fp32", batch: int = 1, device: Profile | None = None) -> None:
        b = DTYPE_BYTES.get(dtype)
        if b is None:
            from .traffic import dtype_bytes

            b = dtype_bytes(dtype)  # an unknown dtype: a clear error here, before any work
        self.bytes = b
        self.dtype, self.batch, self.device = dtype, batch, device
        self._peak = self._bw = self._oh_num = 0
        self._oh_den = self._den = 1
        if device is not None:
            self._peak = device.peak_for(dtype)
            self._bw = device.require_bandwidth()
            oh = device.launch_overhead
            self._oh_num, self._oh_den = oh.numerator, oh.denominator
            self._den = self._peak * self._bw * self._oh_den  # every time is a multiple of 1/_den

    # -- one layer -------------------------------------------------------------------------------
    def tally(self, cost: Cost) -> Tally:
        """One layer's sums (a composite: one kernel per part, unfused)."""
        if cost.parts:
            out = Tally()
            for p in self.parts(cost):
                out.add(p)
            return out
        return self._kernel(cost, None)

    def parts(self, cost: Cost) -> list[Tally]:
        """A composite's parts, each with its own traffic (a merge part reads both branches)."""
        from .traffic import layer_traffic

        return self._parts(cost, layer_traffic(cost, self.dtype, self.batch))

    def _parts(self, cost: Cost, t: Traffic) -> list[Tally]:
        out = []
        for pc, pt in zip(cost.parts, t.parts):
            if pc.parts:
                tally = Tally()
                for sub in self._parts(pc, pt):
                    tally.add(sub)
                out.append(tally)
            else:
                out.append(self._kernel(pc, pt))
        return out

    def _bytes(self, cost: Cost) -> tuple[int, int]:
        """(read, written) of a simple layer that is not a view: traffic.layer_traffic's
        formula, inline (every row of a large report goes through here)."""
        batch = self.batch
        inputs = 0
        for shape in cost.input_shapes:
            inputs += prod(shape)
        return (inputs * batch + cost.params) * self.bytes, prod(cost.output_shape) * batch * self.bytes

    def _kernel(self, cost: Cost, t: Traffic | None) -> Tally:
        out = Tally()
        flops = cost.flops * self.batch
        out.flops = flops
        if cost.type in VIEWS:
            return out
        if t is None:
            out.read, out.written = self._bytes(cost)
        else:
            out.read, out.written = t.bytes_read, t.bytes_written
        out.kernel_flops = flops
        out.kernels = 1
        if self.device is not None:
            traffic = out.read + out.written
            if traffic * self._peak > flops * self._bw:
                out.memory_bytes, out.memory_kernels = traffic, 1
            else:
                out.compute_flops = flops
        return out

    def totals(self, costs: Iterable[Cost]) -> Tally:
        """The sums over several layers (``tally`` of each, added; simple layers inline: a
        100,000-layer report sums them twice)."""
        out = Tally()
        batch, timed = self.batch, self.device is not None
        peak, bw = self._peak, self._bw
        read = written = flops = kflops = cflops = mbytes = kernels = mkernels = 0
        for c in costs:
            if c.parts:
                out.add(self.tally(c))
                continue
            f = c.flops * batch
            flops += f
            if c.type in VIEWS:
                continue
            r, w = self._bytes(c)
            read += r
            written += w
            kflops += f
            kernels += 1
            if timed:
                if (r + w) * peak > f * bw:
                    mbytes += r + w
                    mkernels += 1
                else:
                    cflops += f
        out.read += read
        out.written += written
        out.flops += flops
        out.kernel_flops += kflops
        out.compute_flops += cflops
        out.memory_bytes += mbytes
        out.kernels += kernels
        out.memory_kernels += mkernels
        return out

    # -- times ----------------------------------------------------------------------------------
    def _latency_num(self, t: Tally) -> int:
        """latency_s * _den, exactly."""
        return (
            t.compute_flops * self._bw * self._oh_den
            + t.memory_bytes * self._peak * self._oh_den
            + t.kernels * self._oh_num * self._peak * self._bw
        )

    def latency(self, t: Tally) -> Fraction | None:
        if self.device is None:
            return None
        return Fraction(self._latency_num(t), self._den)

    def latency_float(self, t: Tally) -> float | None:
        """``float(self.latency(t))``, correctly rounded, without building a Fraction."""
        if self.device is None:
            return None
        return self._latency_num(t) / self._den

    def bound(self, t: Tally) -> str | None:
        """``memory`` when memory-bound kernels hold more than half the time, else ``compute``;
        None without kernels (a view) or without a device."""
        if self.device is None or not t.kernels:
            return None
        if t.kernels == 1:
            return MEMORY if t.memory_kernels else COMPUTE
        mem = (
            t.memory_bytes * self._peak * self._oh_den
            + t.memory_kernels * self._oh_num * self._peak * self._bw
        )
        return MEMORY if 2 * mem > self._latency_num(t) else COMPUTE

    def estimate(self, t: Tally) -> Estimate | None:
        """The exact estimate of a sum (as ``roofline.summed`` of its kernels' estimates)."""
        if self.device is None:
            return None
        from .roofline import Estimate

        peak, bw, oh = self._peak, self._bw, self.device.launch_overhead
        latency = Fraction(self._latency_num(t), self._den)
        memory_bound = Fraction(t.memory_bytes, bw) + t.memory_kernels * oh
        return Estimate(
            latency,
            Fraction(t.kernel_flops, peak),
            Fraction(t.memory_traffic, bw),
            t.kernels * oh,
            memory_bound,
            t.kernels,
            self.bound(t),
        )

    # -- JSON -----------------------------------------------------------------------------------
    def cost_keys(self, cost: Cost) -> dict[str, Any]:
        """``keys(tally(cost))``; for a simple layer without building a Tally (every row of a
        streamed report)."""
        if cost.parts:
            return self.keys(self.tally(cost))
        f = cost.flops * self.batch
        r, w = (0, 0) if cost.type in VIEWS else self._bytes(cost)
        traffic = r + w
        d: dict[str, Any] = {
            "bytes_read": r,
            "bytes_written": w,
            "memory_traffic": traffic,
            "arithmetic_intensity": f / traffic if traffic else None,
        }
        if self.device is not None:
            if not traffic:
                d["latency_s"], d["bound"] = 0.0, None
            else:
                peak, bw = self._peak, self._bw
                memory = traffic * peak > f * bw
                num = (traffic * peak if memory else f * bw) * self._oh_den + self._oh_num * peak * bw
                d["latency_s"] = num / self._den
                d["bound"] = MEMORY if memory else COMPUTE
        return d

    def keys(self, t: Tally) -> dict[str, Any]:
        """A layer's JSON keys: the four traffic keys, and ``latency_s`` and ``bound`` with a device."""
        traffic = t.read + t.written
        d: dict[str, Any] = {
            "bytes_read": t.read,
            "bytes_written": t.written,
            "memory_traffic": traffic,
            "arithmetic_intensity": t.flops / traffic if traffic else None,
        }
        if self.device is not None:
            d["latency_s"] = self.latency_float(t)
            d["bound"] = self.bound(t)
        return d

    def total_keys(self, t: Tally) -> dict[str, Any]:
        """The totals' JSON keys: traffic, and with a device the estimate and its memory-bound share."""
        d = self.keys(t)
        e = self.estimate(t)
        if e is not None:
            share = e.memory_bound_share
            d["memory_bound_share"] = None if share is None else float(share)
            d["compute_s"] = float(e.compute_s)
            d["memory_s"] = float(e.memory_s)
        return d

    def device_dict(self) -> dict[str, Any] | None:
        """What a report says about the device it estimated for: enough to tell two apart."""
        p = self.device
        if p is None:
            return None
        return {
            "id": p.key or None,
            "name": p.name,
            "peak": self._peak,
            "bandwidth": self._bw,
            "launch_overhead_s": float(p.launch_overhead),
        }

    def headline(self) -> str:
        assert self.device is not None
        return HEADLINE.format(device=self.device.name)


def intensity(t: Tally) -> float | None:
    """FLOPs per byte (None when nothing moves)."""
    traffic = t.read + t.written
    return t.flops / traffic if traffic else None


def share_text(perf: Perf, t: Tally) -> str:
    """``83.1% of it memory-bound`` ("" when there is no time)."""
    e = perf.estimate(t)
    share = None if e is None else e.memory_bound_share
    if share is None:
        return ""
    return f"{100 * float(share):.1f}% of it memory-bound"
