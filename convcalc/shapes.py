"""Output-size arithmetic, one spatial dimension at a time. Pure integer functions.

Conventions are PyTorch's (they are also conv_arithmetic's, Dumoulin & Visin 2016):
  conv        o = floor((i + p_lo + p_hi - d(k-1) - 1) / s) + 1
  transposed  o = (i - 1)s - 2p + d(k-1) + output_padding + 1
  pooling     as conv, with floor or ceil, and a window may not start in the right padding.
"""

from __future__ import annotations


def effective_kernel(k: int, d: int = 1) -> int:
    """Span of a dilated kernel: d(k-1)+1 taps of the input."""
    return d * (k - 1) + 1


def conv_out(i: int, k: int, s: int = 1, pad_lo: int = 0, pad_hi: int | None = None, d: int = 1) -> int:
    """Output length of a convolution (may be < 1; callers decide if that is an error)."""
    if pad_hi is None:
        pad_hi = pad_lo
    return (i + pad_lo + pad_hi - effective_kernel(k, d)) // s + 1


def same_padding(i: int, k: int, s: int = 1, d: int = 1) -> tuple[int, int]:
    """(before, after) padding that makes o = ceil(i / s).

    For stride 1 this is PyTorch's ``padding='same'`` (extra pixel after); for larger strides
    PyTorch refuses 'same', and this is TensorFlow's rule (the MobileNet/ShuffleNet papers'
    "same" padding)."""
    out = -(-i // s)
    total = max((out - 1) * s + effective_kernel(k, d) - i, 0)
    return total // 2, total - total // 2


def transposed_out(i: int, k: int, s: int = 1, p: int = 0, d: int = 1, output_padding: int = 0) -> int:
    """Output length of a transposed convolution (PyTorch's ConvTranspose)."""
    return (i - 1) * s - 2 * p + effective_kernel(k, d) + output_padding


def pool_out(i: int, k: int, s: int, p: int = 0, d: int = 1, ceil_mode: bool = False) -> int:
    """Output length of max/avg pooling, PyTorch's rule (pooling_output_shape): with
    ``ceil_mode`` the division rounds up, but a last window that would start inside the
    right padding is dropped. May be < 1 (callers decide if that is an error)."""
    o = (i + 2 * p - effective_kernel(k, d) + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (o - 1) * s >= i + p:
        o -= 1
    return o


def zero_insertion(i: int, k: int, s: int, p: int, d: int = 1, output_padding: int = 0) -> dict:
    """The lecture's view of a transposed convolution as a direct one: insert z = s-1 zeros
    between input pixels, pad p' = d(k-1) - p on each side (k-p-1 for d=1; output_padding
    extra on one side), then convolve with stride 1. Returns the recipe's numbers."""
    z = s - 1
    stretched = (i - 1) * s + 1
    p_prime = d * (k - 1) - p
    padded = stretched + 2 * p_prime + output_padding
    out = conv_out(padded, k, 1, 0, 0, d)
    return {"z": z, "stretched": stretched, "p_prime": p_prime, "padded": padded, "out": out}
