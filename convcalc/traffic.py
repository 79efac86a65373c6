"""Memory traffic and arithmetic intensity per layer: the unfused lower bound. Pure; no I/O.

For one layer (one ``Cost``) at a dtype of ``B`` bytes per element and a batch of ``N``::

    bytes_read     = (sum over its data inputs of prod(shape)) * N * B   # activations
                   + params * B                                          # weights and bias, once
    bytes_written  = prod(output_shape) * N * B
    memory_traffic = bytes_read + bytes_written
    arithmetic_intensity = FLOPs * N / memory_traffic                    # FLOPs per byte

This is what a layer must move if it runs as its own kernel and nothing stays in a cache
between kernels: each layer reads its inputs and its weights once and writes its output once.
It is a *lower bound* on the traffic of an unfused implementation (tiling that re-reads
inputs or weights only adds to it) and an *upper bound* on what a fused one moves (fusion
keeps intermediate tensors on chip).

Decisions (see docs/latency.md):

* **Every data input counts.** A merge (add, mul, concat) reads each of its inputs; a
  ``Cost`` lists them in ``input_shapes``. Shape-only references (resize's ``like:``) are not
  data inputs and move nothing.
* **Parameters are read once per layer, whatever the batch**, at the same dtype as the
  activations (an int8 model's int32 biases are counted at 1 byte: a small undercount).
  Batchnorm's ``params`` are its folded scale and shift (2 per channel): the running
  statistics are not read at inference once folded.
* **Composites are unfused: the sum of their parts.** A separable conv writes its depthwise
  output and the pointwise conv reads it back; a ShuffleNet unit's parts each read and write.
  A part whose role is ``merge`` (the unit's add or concat) reads both branches: its recorded
  input, and the output of the unit's ``shortcut`` part (or, with none, the unit's input).
* **Views move nothing.** ``identity``, ``dropout`` (an identity at inference) and
  ``flatten`` (a view of a contiguous tensor) launch no kernel: zero traffic, and no
  intensity. Every other layer, element-wise ones and permutations (channel_shuffle)
  included, reads its input and writes its output.

Counts are exact integers; the intensity is an exact ``Fraction`` (``float`` for JSON).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import prod
from typing import TYPE_CHECKING

from .conventions import VIEWS  # layer types that move no data: see the module docstring
from .errors import ConvcalcError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .layers.base import Cost, Shape

KEYS = ("bytes_read", "bytes_written", "memory_traffic", "arithmetic_intensity")


def dtype_bytes(dtype: str) -> int:
    """Bytes per element of a dtype name (fp32, fp16, bf16, int8, fp64)."""
    from .conventions import DTYPE_BYTES

    try:
        return DTYPE_BYTES[dtype]
    except KeyError:
        from ._suggest import did_you_mean

        raise ConvcalcError(
            f"unknown dtype {dtype!r}{did_you_mean(dtype, DTYPE_BYTES)} (use {', '.join(DTYPE_BYTES)})"
        ) from None


@dataclass(frozen=True)
class Traffic:
    """Bytes one layer (or a sum of layers) moves, with the FLOPs it does (batch included).

    ``parts``: a composite's parts, each a Traffic (their sums are this one's counts)."""

    bytes_read: int
    bytes_written: int
    flops: int
    parts: tuple[Traffic, ...] = ()

    @property
    def memory_traffic(self) -> int:
        return self.bytes_read + self.bytes_written

    @property
    def arithmetic_intensity(self) -> Fraction | None:
        """FLOPs per byte, exact; None when nothing moves (a view)."""
        t = self.memory_traffic
        return Fraction(self.flops, t) if t else None

    def __add__(self, other: Traffic) -> Traffic:
        return Traffic(
            self.bytes_read + other.bytes_read,
            self.bytes_written + other.bytes_written,
            self.flops + other.flops,
        )

    def as_dict(self) -> dict[str, int | float | None]:
        """The four JSON keys; the intensity as a float (None when nothing moves)."""
        ai = self.arithmetic_intensity
        return {
            "bytes_read": self.bytes_read,
            "bytes_written": self.bytes_written,
            "memory_traffic": self.memory_traffic,
            "arithmetic_intensity": None if ai is None else float(ai),
        }


ZERO = Traffic(0, 0, 0)


def layer_traffic(cost: Cost, dtype: str = "fp32", batch: int = 1) -> Traffic:
    """The traffic of one layer (a composite: the sum of its parts', unfused)."""
    if batch < 1:
        raise ConvcalcError(f"batch must be >= 1, got {batch}")
    return _traffic(cost, dtype_bytes(dtype), batch, ())


def total(traffics: Iterable[Traffic]) -> Traffic:
    """The sum of several layers' traffic (a network's totals)."""
    out = ZERO
    for t in traffics:
        out = out + t
    return out


def _traffic(cost: Cost, b: int, batch: int, extra_inputs: tuple[Shape, ...]) -> Traffic:
    if cost.parts:
        parts = []
        shortcut_out: Shape | None = None
        for p in cost.parts:
            role = (p.extra or {}).get("role")
            extra: tuple[Shape, ...] = ()
            if role == "merge" and len(p.input_shapes) == 1:
                # the other branch: the shortcut part's output, or the identity (the unit's input)
                extra = (shortcut_out if shortcut_out is not None else cost.input_shape,)
            parts.append(_traffic(p, b, batch, extra))
            if role == "shortcut":
                shortcut_out = p.output_shape
        t = total(parts)
        return Traffic(t.bytes_read, t.bytes_written, t.flops, tuple(parts))
    if cost.type in VIEWS:
        return Traffic(0, 0, cost.flops * batch)
    inputs = sum(prod(s) for s in cost.input_shapes) + sum(prod(s) for s in extra_inputs)
    read = (inputs * batch + cost.params) * b
    written = prod(cost.output_shape) * batch * b
    return Traffic(read, written, cost.flops * batch)
