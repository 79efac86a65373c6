"""Roofline latency estimate per layer on a device profile. Pure; no I/O.

For one layer (one kernel) at a dtype, with ``Traffic`` from convcalc.traffic::

    compute_s = FLOPs / peak[dtype]
    memory_s  = memory_traffic / bandwidth
    latency_s = max(compute_s, memory_s) + launch_overhead
    bound     = "memory" if memory_s > compute_s else "compute"

It is a lower bound on the time of an unfused implementation that reaches the device's peak
and bandwidth: no fusion, no cache reuse between layers, perfect kernel efficiency (see
docs/latency.md). Times are exact ``Fraction`` seconds (``float`` for JSON).

Composites are unfused (as in convcalc.traffic): a separable conv is two kernels, each with its
own roofline and launch overhead; the composite's latency is their sum and its ``bound`` is that
of the parts holding most of its time. Views (identity, dropout, flatten) launch no kernel: no
time, no overhead, ``bound`` None.

Totals: the sum of the layers' latencies and the share of that time spent in memory-bound
kernels (``memory_bound_share``, 0 to 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from .traffic import VIEWS, Traffic, layer_traffic

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .devices import Profile
    from .layers.base import Cost

COMPUTE, MEMORY = "compute", "memory"


@dataclass(frozen=True)
class Estimate:
    """One layer's (or a sum's) estimated time in seconds, exact.

    ``memory_bound_s``: the part of ``latency_s`` spent in memory-bound kernels; ``kernels``:
    how many kernels it counts (views none, a composite one per part)."""

    latency_s: Fraction
    compute_s: Fraction
    memory_s: Fraction
    overhead_s: Fraction
    memory_bound_s: Fraction
    kernels: int
    bound: str | None
    parts: tuple[Estimate, ...] = ()

    @property
    def memory_bound_share(self) -> Fraction | None:
        """The share (0..1) of the time that is memory-bound; None when there is no time."""
        return self.memory_bound_s / self.latency_s if self.latency_s else None

    def as_dict(self) -> dict[str, float | int | str | None]:
        share = self.memory_bound_share
        return {
            "latency_s": float(self.latency_s),
            "bound": self.bound,
            "compute_s": float(self.compute_s),
            "memory_s": float(self.memory_s),
            "memory_bound_share": None if share is None else float(share),
        }


def estimate(traffic: Traffic, cost: Cost, profile: Profile, dtype: str) -> Estimate:
    """The estimate of one layer from its ``Cost`` and its ``Traffic`` (same dtype and batch)."""
    peak = profile.peak_for(dtype)
    bandwidth = profile.require_bandwidth()
    return _estimate(traffic, cost, peak, bandwidth, profile.launch_overhead)


def layer_estimate(cost: Cost, profile: Profile, dtype: str = "fp32", batch: int = 1) -> Estimate:
    """Traffic and estimate of one layer in one call."""
    return estimate(layer_traffic(cost, dtype, batch), cost, profile, dtype)


def _estimate(t: Traffic, cost: Cost, peak: int, bandwidth: int, overhead: Fraction) -> Estimate:
    if cost.parts:
        parts = tuple(_estimate(pt, pc, peak, bandwidth, overhead) for pt, pc in zip(t.parts, cost.parts))
        s = summed(parts)
        return Estimate(
            s.latency_s,
            s.compute_s,
            s.memory_s,
            s.overhead_s,
            s.memory_bound_s,
            s.kernels,
            _majority(s),
            parts,
        )
    if cost.type in VIEWS:
        z = Fraction(0)
        return Estimate(z, z, z, z, z, 0, None)
    compute = Fraction(t.flops, peak)
    memory = Fraction(t.memory_traffic, bandwidth)
    bound = MEMORY if memory > compute else COMPUTE
    latency = max(compute, memory) + overhead
    return Estimate(latency, compute, memory, overhead, latency if bound == MEMORY else Fraction(0), 1, bound)


def summed(estimates: Iterable[Estimate]) -> Estimate:
    """The totals of several layers: summed times, and the bound of the majority of the time."""
    z = Fraction(0)
    lat = comp = mem = over = mb = z
    kernels = 0
    for e in estimates:
        lat += e.latency_s
        comp += e.compute_s
        mem += e.memory_s
        over += e.overhead_s
        mb += e.memory_bound_s
        kernels += e.kernels
    s = Estimate(lat, comp, mem, over, mb, kernels, None)
    return Estimate(lat, comp, mem, over, mb, kernels, _majority(s))


def _majority(s: Estimate) -> str | None:
    """``memory`` when memory-bound kernels hold more of the time than compute-bound ones."""
    if not s.kernels:
        return None
    return MEMORY if 2 * s.memory_bound_s > s.latency_s else COMPUTE
