"""Receptive fields, exactly, with work that does not grow with the numbers in a spec.

Which pixels of the network's input can influence one output element? Per spatial dim, the
state is a map from an output index ``o`` to the interval [lo(o), hi(o)] of network-input
pixels that influence it (the extent of the theoretical field, gaps included, not clipped
at the image border). The receptive field reported is the largest hi(o) - lo(o) + 1 over
the output positions: for a chain of convolutions this is Araujo et al.'s recurrence (Distill
2019), r_out = r_in + (k_e - 1) * j_in and j_out = j_in * s. docs/receptive-field.md gives
the definition, the algorithm, the closed forms and a worked example; in short, each dim is
one of these forms (tagged tuples, chosen so that the common case stays a few integer ops):

  ("A", J, lo, hi)                    every output alike (period 1): lo(o) = lo + J*o
  ("F", J, A, C, L, bl, H, bh)        lo(o) = L + J*floor((A*o + bl)/C), hi likewise with
                                      H, bh: after upsampling, resizing, transposed convs and
                                      adaptive pooling (closed forms, whatever the factors)
  ("T", P, J, lo, hi, mono)           an explicit table of period P <= CAP with advance J
                                      (lo(o + P) = lo(o) + J; None where no input reaches o)
  ("S", P, J, lo, hi, c, el, eh)      a table (period P, no gaps, never decreasing) stretched
                                      by a large factor: lo(o) = LO(floor((o + el)/c)) with
                                      LO the table's map (a big upsampling after a merge)
  ("G", J, L, H, s, p, k)             a transposed conv with kernel k < stride s (gaps): o
                                      reads x iff 0 <= o + p - x*s < k; lo = L + J*x
  ("M", pieces, n)                    the union of several of the above whose grids differ
                                      (branches merged); n is the tensor's size in that dim
  ("W", lo, hi)                       every output sees every element of a tensor that saw
                                      the network input [lo, hi] (clipped to the input):
                                      after global/adaptive-to-1 pooling, "whole" layers
                                      (attention, instance/group norm) and what merges them
  None                                unknown: an exact answer would need more than the work
                                      bounds below (only for adversarial values)

Work per layer is bounded by constants (CAP, WORK_CAP, MAX_PIECES), never by strides,
kernels, scales or sizes; ``meter.steps`` counts the bounded enumerations for the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import lru_cache
from itertools import pairwise
from math import gcd
from typing import Any

CAP = 4096  # the longest explicit period (table entries per dim); longer ones use closed forms
WORK_CAP = 1 << 16  # elementary steps one table composition may take
MAX_PIECES = 8  # pieces of a union (branches on different grids) kept per dim
_CLOSED_FORMS = True  # False: explicit tables only (the tests' reference)

Dim = Any  # one of the tagged tuples above, or None (unknown)
Taps = tuple  # what one output reads in one dim (see _op_taps)


class Meter:
    """Counts the steps of every enumeration whose length depends on the state (tests bound
    it to show that no numeric value makes the work grow)."""

    __slots__ = ("steps",)

    def __init__(self) -> None:
        self.steps = 0


meter = Meter()


class State:
    """The receptive-field state of one tensor: one form per spatial dim, the tensor's own
    spatial shape, the network input's spatial size (for "whole" fields), and which network
    input it derives from."""

    __slots__ = ("dims", "shape", "size", "origin", "fresh")

    def __init__(
        self,
        dims: tuple[Dim, ...],
        shape: tuple[int | None, ...],
        size: tuple[int | None, ...],
        origin: object,
        fresh: bool = False,
    ):
        self.dims = dims
        self.shape = shape
        self.size = size
        self.origin = origin
        self.fresh = fresh  # still the network input itself

    def __repr__(self) -> str:
        return f"State({self.dims!r}, shape={self.shape!r}, size={self.size!r})"


_ID = ("A", 1, 0, 0)


def initial(input_shape: int | Sequence[int]) -> State | None:
    """The state of a network input: ``(C, *spatial)``, or (for old callers) the number of
    spatial dims, in which case the sizes are taken from the first layer that reads it."""
    size: tuple[int | None, ...]
    if isinstance(input_shape, int):
        n, size = input_shape, (None,) * input_shape
    else:
        n, size = len(input_shape) - 1, tuple(input_shape[1:])
    if n <= 0:
        return None
    return State((_ID,) * n, size, size, object(), True)


def apply(state: State | None, cost: Any) -> State | None:
    """The state after a single-input layer (a Cost), given the state before it."""
    if cost.parts:
        return fold_parts(state, cost.parts)[-1]
    op = cost.rf
    if op is None or state is None:
        return state
    kind = op[0]
    if kind == "drop":
        return None
    if kind == "merge":  # a merge read through one input: nothing to join
        return state
    if state.fresh and None in state.size:
        known = tuple(cost.input_shape[1:])
        state = State(state.dims, known, known, state.origin, True)
    dims, size = state.dims, state.size
    n_in, n_out = cost.input_shape, cost.output_shape
    shape = tuple(n_out[1:])
    if kind == "window":  # the common case, kept to a few integer operations per dim
        ks, ss = op[1], op[2]
        ps = op[3] if len(op) > 3 else None
        ds = op[4] if len(op) > 4 else None
        new = []
        for i, v in enumerate(dims):
            k, s = ks[i], ss[i]
            p = ps[i] if ps is not None else 0
            d = ds[i] if ds is not None else 1
            if v is not None and v[0] == "A" and not (n_out[i + 1] == 1 and n_in[i + 1] > 1):
                j = v[1]
                new.append(("A", j * s, v[2] - p * j, v[3] + (k - 1 - p) * j))
            else:
                t = _window_taps(k, s, p, d, n_in[i + 1], n_out[i + 1])
                new.append(_step(v, t, n_in[i + 1], n_out[i + 1], size[i]))
        return State(tuple(new), shape, size, state.origin)
    taps = _op_taps(op, len(dims), n_in, n_out)
    return State(
        tuple(_step(v, t, n_in[i + 1], n_out[i + 1], size[i]) for i, (v, t) in enumerate(zip(dims, taps))),
        shape,
        size,
        state.origin,
    )


def fold_parts(state: State | None, parts: Sequence[Any]) -> list[State | None]:
    """The state after each part of a composite (see layers/base.py for the roles): a
    "shortcut" part reads the composite's input; a "merge" part joins the branches."""
    out: list[State | None] = []
    cur, shortcut = state, state
    in_shape = parts[0].input_shape if parts else None
    cur_shape, sc_shape = in_shape, in_shape
    for p in parts:
        role = p.extra.get("role") if p.extra else None
        if role == "shortcut":
            shortcut, sc_shape = apply(state, p), p.output_shape
            out.append(shortcut)
            continue
        if role == "merge":
            cur = merge([cur, shortcut], [cur_shape, sc_shape], p.output_shape)
        else:
            cur = apply(cur, p)
        cur_shape = p.output_shape
        out.append(cur)
    return out


def merge(states: Any, in_shapes: Any = None, out_shape: Sequence[int] | None = None) -> State | None:
    """A multi-input layer (add, mul, concat): each output element sees the union of what
    its inputs' elements at the same position see; an input of size 1 in a dim is broadcast
    (its one element is read by every output). A concat along a spatial dim (an input
    shorter than the output there) is not a union: its dims are reported unknown.
    ``merge(a, b)`` (two states) is the older form; without shapes, each state's own is used."""
    if not isinstance(states, (list, tuple)):  # merge(a, b)
        a, b = states, in_shapes
        if a is not None and b is not None and a.shape == b.shape:  # the common case first
            fast = _merge_alike((a, b), a.shape, _known_size((a, b)))
            if fast is not None:
                return fast
        states, in_shapes, out_shape = [a, b], None, None
    if out_shape is not None and len(out_shape) <= 1:
        return None
    live = [s for s in states if s is not None]
    if not live:
        return None
    first = live[0]
    if in_shapes is not None:
        sp_in = [tuple(sh[1:]) for sh in in_shapes]
    else:
        sp_in = [s.shape if s is not None else () for s in states]
    if out_shape is not None:
        sp_out: tuple[int | None, ...] = tuple(out_shape[1:])
    else:  # torch's broadcasting: the largest size in each dim
        sp_out = tuple(
            max((sh[i] for sh in sp_in if len(sh) == len(first.shape) and sh[i] is not None), default=None)
            for i in range(len(first.shape))
        )
    n_dims = len(sp_out)
    size = _known_size(live)
    if len(size) != n_dims:
        size = (None,) * n_dims
    if all(sh == sp_out for sh in sp_in):
        fast = _merge_alike(states, sp_out, size)  # residual blocks, concats: every output alike
        if fast is not None:
            return fast
    unknown = State((None,) * n_dims, sp_out, size, first.origin)
    if any(s.origin is not first.origin for s in live):  # fields over different inputs
        return unknown
    for i, b in enumerate(sp_out):
        sizes = [sh[i] for sh in sp_in if len(sh) == n_dims and sh[i] is not None]
        if b is not None and sizes and (max(sizes) != b or any(a not in (b, 1) for a in sizes)):
            return unknown  # a concat along a spatial dim: each output reads one input
    dims = []
    for i in range(n_dims):
        n = sp_out[i]
        vals: list[Dim] = []
        for k, s in enumerate(states):
            j = i - (n_dims - len(s.dims)) if s is not None else -1
            if s is None or j < 0:  # no spatial dims (or fewer): not a field over this dim
                vals.append(None)
                continue
            v = s.dims[j]
            n_k = sp_in[k][j] if len(sp_in[k]) == len(s.dims) else None
            if n_k == 1 and n is not None and n > 1:
                v = _broadcast(v)
            vals.append(v)
        dims.append(_merge_dim(vals, n, size[i]))
    return State(tuple(dims), sp_out, size, first.origin)


def _merge_alike(
    states: Sequence[State | None], shape: tuple[int | None, ...], size: tuple[int | None, ...]
) -> State | None:
    """merge() of same-shaped inputs whose every dim is "A" with one advance, else None."""
    first = states[0]
    if first is None:
        return None
    dims = list(first.dims)
    for s in states[1:]:
        if s is None or s.origin is not first.origin or len(s.dims) != len(dims):
            return None
        for i, (a, b) in enumerate(zip(dims, s.dims)):
            if a is None or b is None or a[0] != "A" or b[0] != "A" or a[1] != b[1]:
                return None
            if b[2] < a[2] or b[3] > a[3]:
                dims[i] = ("A", a[1], min(a[2], b[2]), max(a[3], b[3]))
    return State(tuple(dims), shape, size, first.origin)


def _known_size(states: Sequence[State]) -> tuple[int | None, ...]:
    """The network input's size, from any state that knows it (initial(n) learns it late)."""
    for s in states:
        if None not in s.size:
            return s.size
    return states[0].size


def fields(state: State | None) -> tuple[int | None, ...] | None:
    """Receptive field per spatial dim, in input pixels (None for a dim whose exact value
    would need unbounded work), or None once the spatial dims are gone."""
    if state is None:
        return None
    return tuple(v[3] - v[2] + 1 if v is not None and v[0] == "A" else _field(v) for v in state.dims)


def span(state: State | None, dim: int, o: int) -> tuple[int, int] | None:
    """The interval of network-input pixels (in that dim) that output index ``o`` sees,
    unclipped, or None if it sees none (or the dim is unknown). For a "whole" dim: the
    clipped interval every output sees."""
    if state is None:
        return None
    v = state.dims[dim]
    if v is None:
        return None
    if v[0] == "W":
        return (v[1], v[2]) if v[2] >= v[1] else None
    return _eval(v, o)


# -- one dim: what a layer reads -------------------------------------------------------------
# ("win", s, p, d, n)        output o reads s*o - p + j*d for j < n (n >= 1)
# ("fl", a, c, elo, ehi)     output o reads every x from floor((a*o + elo)/c) to
#                            floor((a*o + ehi)/c) (a >= 0, c >= 1, elo <= ehi)
# ("tr", k, s, p, d)         a transposed conv with stride s > 1 that is not "fl"
# ("cub", a, c, e)           bicubic where only some outputs sit on an input pixel
# ("whole",)                 every input element
_IDENTITY_TAPS = ("win", 1, 0, 1, 1)


def _window_taps(k: int, s: int, p: int, d: int, n_in: int, n_out: int) -> Taps:
    taps = (k - 1) // d + 1 if d > 1 else k
    # one output whose window covers every input element is a global pooling: "whole"
    if n_out == 1 and n_in > 1 and d == 1 and p >= 0 and k - 1 - p >= n_in - 1:
        return ("whole",)
    return ("win", s, p, d, taps)


def _op_taps(op: tuple, n_dims: int, n_in: Sequence[int], n_out: Sequence[int]) -> list[Taps]:
    kind = op[0]
    if kind == "whole":
        return [("whole",)] * n_dims
    out: list[Taps] = []
    for i in range(n_dims):
        a, b = n_in[i + 1], n_out[i + 1]
        if kind == "transposed":  # ("transposed", kernel, stride, padding, dilation)
            k, s, p, d = op[1][i], op[2][i], op[3][i], op[4][i]
            if k == 1:
                d = 1
            if s == 1:  # o reads o + p - t*d for t < k: a window
                out.append(("win", 1, (k - 1) * d - p, d, k))
            elif d == 1 and k >= s:
                out.append(("fl", 1, s, p - k + s, p))
            else:
                out.append(("tr", k, s, p, d))
        elif kind == "upsample":  # ("upsample", mode, scale)
            f = op[2][i]
            out.append(_resize_taps(op[1], a, a * f, False, f))
        elif kind == "resize":  # ("resize", mode, in_size, out_size, align_corners, scale)
            scale = op[5][i] if len(op) > 5 and op[5] is not None else None
            out.append(_resize_taps(op[1], op[2][i], op[3][i], bool(op[4]), scale))
        elif kind == "adaptive":  # ("adaptive", in_size, out_size): torch's windows
            out.append(_adaptive_taps(op[1][i], op[2][i]))
        elif kind == "window":
            ps = op[3][i] if len(op) > 3 else 0
            ds = op[4][i] if len(op) > 4 else 1
            out.append(_window_taps(op[1][i], op[2][i], ps, ds, a, b))
        else:
            raise ValueError(f"unknown receptive-field op {kind!r}")  # a programming error
    return out


def _adaptive_taps(n_in: int, n_out: int) -> Taps:
    # output o pools [floor(o*n_in/n_out), ceil((o+1)*n_in/n_out)); to one output: everything
    if n_out == 1:
        return ("whole",)
    return ("fl", n_in, n_out, 0, n_in - 1)


def _ratio(x: Any) -> Fraction:
    """A user's scale factor, exactly (a float is read as the decimal it prints as); 0 if
    it is not a finite number (then the sizes' ratio is used, as torch does for scale <= 0)."""
    try:
        return Fraction(repr(x)) if isinstance(x, float) else Fraction(x)
    except (ValueError, OverflowError, TypeError):
        return Fraction(0)


def _resize_taps(mode: str, n_in: int, n_out: int, align: bool, scale: Any) -> Taps:
    """torch's source index (aten/src/ATen/native/UpSample.h), in exact arithmetic."""
    mode = mode.lower()
    if mode == "area":
        return _adaptive_taps(n_in, n_out)
    given = scale is not None and _ratio(scale) > 0
    if mode == "nearest":  # src = floor(o * in/out), or o * (1/scale) when a scale is given
        if n_out == n_in:  # torch copies
            return _IDENTITY_TAPS
        if n_out == 2 * n_in:  # torch shifts: o >> 1
            return ("fl", 1, 2, 0, 0)
        r = 1 / _ratio(scale) if given else Fraction(n_in, n_out)
        return ("fl", r.numerator, r.denominator, 0, 0)
    if align:  # src = o * (in - 1)/(out - 1)
        r = Fraction(n_in - 1, n_out - 1) if n_out > 1 else Fraction(0)
        a, c, e = r.numerator, r.denominator, 0
    else:  # src = (o + 1/2) * r - 1/2, r = 1/scale or in/out
        r = 1 / _ratio(scale) if given else Fraction(n_in, n_out)
        a, c, e = 2 * r.numerator, 2 * r.denominator, r.numerator - r.denominator
    if mode in ("linear", "bilinear", "trilinear"):  # floor(src) and ceil(src)
        return ("fl", a, c, e, e + c - 1)
    if mode in ("bicubic", "cubic"):  # floor(src)-1 .. floor(src)+2, or src alone if whole
        g = gcd(a, c)
        if e % g:  # src is never a whole number
            return ("fl", a, c, e - c, e + 2 * c)
        if c == g:  # always
            return ("fl", a, c, e, e)
        return ("cub", a, c, e)
    raise ValueError(f"unknown resize mode {mode!r}")  # a programming error


# -- one dim: a layer applied to a form --------------------------------------------------------
def _step(v: Dim, t: Taps, n_in: int, n_out: int, size: int | None) -> Dim:
    if v is None:
        return None
    tag, kind = v[0], t[0]
    if kind == "whole":
        return _to_whole(v, n_in, size)
    if tag == "W":
        return v
    if tag == "M":
        return _simplify([_step(p, t, n_in, n_out, size) for p in v[1]], n_out)
    if not _CLOSED_FORMS:
        return _compose_table(v, t)
    if tag == "A":
        _, j, lo, hi = v
        if kind == "win":
            _, s, p, d, n = t
            return ("A", j * s, lo - p * j, hi + ((n - 1) * d - p) * j)
        if kind == "fl":
            return _mk_f(j, t[1], t[2], lo, t[3], hi, t[4])
    elif tag == "F":
        _, j, a_, c_, lo, bl, hi, bh = v
        if kind == "win":
            _, s, p, d, n = t
            return _mk_f(j, a_ * s, c_, lo, bl - a_ * p, hi, bh + a_ * ((n - 1) * d - p))
        if kind == "fl" and a_ == 1:  # floor((floor(y/c) + b)/C) = floor((y + c*b)/(c*C))
            _, a, c, elo, ehi = t
            return _mk_f(j, a, c * c_, lo, elo + c * bl, hi, ehi + c * bh)
    elif tag == "G" and kind == "win":
        _, j, lo, hi, s_, p_, k_ = v
        _, s, p, d, n = t
        if s == 1 and (n == 1 or d <= k_):  # the windows' offsets stay one interval
            p2, k2 = p_ - p + (n - 1) * d, k_ + (n - 1) * d
            if k2 < s_:
                return ("G", j, lo, hi, s_, p2, k2)
            return _mk_f(j, 1, s_, lo, p2 - k2 + s_, hi, p2)
    out = _compose_table(v, t)
    if out is None and kind in ("win", "fl"):
        out = _stretch(v, t)
    if out is None and tag == "A" and kind == "tr" and (t[4] == 1 or t[1] == 1) and t[1] < t[2]:
        return ("G", v[1], v[2], v[3], t[2], t[3], t[1])
    return out


def _stretch(v: Dim, t: Taps) -> Dim:
    """A table read through taps whose floor map has a denominator too large for a table
    (a big upsampling): the table stretched ("S"), if the map has slope 1/c. Needs a table
    without gaps whose lo and hi never decrease (only the first and last taps count)."""
    if v[0] == "S":
        _, period, j, los, his, c, el, eh = v
    else:
        tab = _as_table(v)
        if tab is None or not tab[4] or None in tab[2]:
            return None
        period, j, los, his, _m = tab
        c, el, eh = 1, 0, 0
    if t[0] == "win":
        _, s, p, d, n = t
        a, cc, elo, ehi = s, 1, -p, (n - 1) * d - p
    else:
        _, a, cc, elo, ehi = t
    # floor((floor((a*o + e)/cc) + el)/c) = floor((a*o + e + cc*el)/(cc*c))
    big = cc * c
    g = gcd(a, big)
    if a != g:  # not of slope 1/c after reduction
        return None
    big //= g
    el2, eh2 = (elo + cc * el) // g, (ehi + cc * eh) // g
    if big == 1:  # back to a table: o reads the table's el2-th..eh2-th entries from o
        meter.steps += period
        lo = [los[(o + el2) % period] + j * ((o + el2) // period) for o in range(period)]
        hi = [his[(o + eh2) % period] + j * ((o + eh2) // period) for o in range(period)]
        return _normalise(period, j, lo, hi)
    return ("S", period, j, los, his, big, el2, eh2)


def _mk_f(j: int, a: int, c: int, lo: int, bl: int, hi: int, bh: int) -> Dim:
    """lo + j*floor((a*o + bl)/c), hi + j*floor((a*o + bh)/c), in normal form."""
    g = gcd(a, c)  # floor((g*a'*o + b)/(g*c')) = floor((a'*o + floor(b/g))/c')
    a, c, bl, bh = a // g, c // g, bl // g, bh // g
    if c == 1 or j == 0:
        return ("A", j * a, lo + j * bl, hi + j * bh)
    ql, bl = divmod(bl, c)
    qh, bh = divmod(bh, c)
    return ("F", j, a, c, lo + j * ql, bl, hi + j * qh, bh)


def _to_whole(v: Dim, n: int, size: int | None) -> Dim:
    """Every output reads all n elements of a tensor in state v: the network-input pixels
    that some element sees, clipped to the input."""
    if v[0] == "W":
        return v
    if size is None:
        return None
    rm = _range_minmax(v, n)
    if rm is None:
        return None
    if rm is _EMPTY:
        return ("W", 0, -1)
    return ("W", max(rm[0], 0), min(rm[1], size - 1))


_EMPTY: Any = ("empty",)


def _range_minmax(v: Dim, n: int) -> Any:
    """(min lo, max hi) over the outputs 0..n-1, _EMPTY if none reads anything, None if unknown."""
    if v is None:
        return None
    tag = v[0]
    if tag == "A":
        return (v[2], v[3] + v[1] * (n - 1))
    if tag == "F":
        _, j, a, c, lo, bl, hi, bh = v
        return (lo + j * (bl // c), hi + j * ((a * (n - 1) + bh) // c))
    if tag == "T":
        _, period, j, los, his, _m = v
        best: tuple[int, int] | None = None
        meter.steps += min(period, n)
        for r in range(min(period, n)):
            if los[r] is None:
                continue
            lo, hi = los[r], his[r] + j * ((n - 1 - r) // period)
            best = (lo, hi) if best is None else (min(best[0], lo), max(best[1], hi))
        return _EMPTY if best is None else best
    if tag == "G":
        _, j, lo, hi, s, p, k = v
        x0, x1 = -((k - 1 - p) // s), (n - 1 + p) // s
        return _EMPTY if x0 > x1 else (lo + j * x0, hi + j * x1)
    if tag == "S":  # never decreasing
        first, last = _eval(v, 0), _eval(v, n - 1)
        assert first is not None and last is not None
        return (first[0], last[1])
    if tag == "W":
        return (v[1], v[2])
    # M: the union of its pieces
    acc: Any = _EMPTY
    for p_ in v[1]:
        rm = _range_minmax(p_, n)
        if rm is None:
            return None
        if rm is not _EMPTY:
            acc = rm if acc is _EMPTY else (min(acc[0], rm[0]), max(acc[1], rm[1]))
    return acc


# -- explicit tables (the general route, for periods up to CAP) ------------------------------
def _as_table(v: Dim) -> tuple | None:
    """(P, J, lo, hi, mono) of a form, or None if its period is over CAP."""
    tag = v[0]
    if tag == "T":
        return v[1:]
    if tag == "A":
        return (1, v[1], (v[2],), (v[3],), True)
    if tag == "F":
        _, j, a, c, lo, bl, hi, bh = v
        if c > CAP:
            return None
        meter.steps += c
        return (
            c,
            j * a,
            tuple(lo + j * ((a * o + bl) // c) for o in range(c)),
            tuple(hi + j * ((a * o + bh) // c) for o in range(c)),
            True,
        )
    if tag == "G":
        _, j, lo, hi, s, p, k = v
        if s > CAP:
            return None
        meter.steps += s
        los: list[int | None] = []
        his: list[int | None] = []
        for o in range(s):
            r = (o + p) % s
            x = (o + p - r) // s
            los.append(lo + j * x if r < k else None)
            his.append(hi + j * x if r < k else None)
        return (s, j, tuple(los), tuple(his), True)
    if tag == "S":
        period, j, c = v[1], v[2], v[5]
        if period * c > CAP:
            return None
        meter.steps += period * c
        e = [_eval(v, o) for o in range(period * c)]
        return (period * c, j, tuple(x[0] for x in e if x), tuple(x[1] for x in e if x), True)
    return None


def _progression(t: Taps) -> tuple[int, int, Callable[[int], tuple[int, int]], int, int]:
    """(Q, X, reads, step, most): reads(o) = (first, count): output o reads first + i*step for
    i < count, and reads(o + Q) is reads(o) shifted by X; most bounds count."""
    kind = t[0]
    if kind == "win":
        _, s, p, d, n = t
        return 1, s, (lambda o: (s * o - p, n)), d, n
    if kind == "fl":
        _, a, c, elo, ehi = t
        g = gcd(a, c)

        def fl(o: int) -> tuple[int, int]:
            first = (a * o + elo) // c
            return first, (a * o + ehi) // c - first + 1

        return c // g, a // g, fl, 1, (ehi - elo) // c + 2
    if kind == "tr":
        _, k, s, p, d = t
        g = gcd(d, s)
        m = s // g
        inv = pow(d // g, -1, m) if m > 1 else 0

        def tr(o: int) -> tuple[int, int]:  # o reads x where o = x*s - p + t*d, t < k
            y = o + p
            if y % g:
                return 0, 0
            t0 = (y // g) * inv % m if m > 1 else 0  # the smallest tap index that fits
            if t0 >= k:
                return 0, 0
            count = (k - 1 - t0) // m + 1
            return (y - (t0 + (count - 1) * m) * d) // s, count

        return s, 1, tr, d // g, -(-k // m)
    if kind == "cub":
        _, a, c, e = t
        g = gcd(a, c)

        def cub(o: int) -> tuple[int, int]:
            x, r = divmod(a * o + e, c)
            return (x, 1) if r == 0 else (x - 1, 4)

        return c // g, a // g, cub, 1, 4
    raise ValueError(f"no progression for {kind!r}")  # a programming error


def _compose_table(v: Dim, t: Taps) -> Dim:
    """A form read through a layer's taps, as an explicit table (the general method): None
    when the period or the work would pass CAP / WORK_CAP."""
    tab = _as_table(v)
    if tab is None:
        return None
    period, j, los, his, mono = tab
    q, x, reads, step, most = _progression(t)
    g = gcd(period, x)
    new_period = q * (period // g)
    if new_period > CAP:
        return None
    gaps = None in los
    per = 1 if mono else 2 * min(most, period)
    if new_period * per + (period if gaps else 0) > WORK_CAP:
        return None
    meter.steps += new_period * per + (period if gaps else 0)
    new_lo: list[int | None] = []
    new_hi: list[int | None] = []
    if mono:
        # lo and hi never decrease over the defined outputs: only the first and the last
        # defined taps count (nxt/prv: how many steps to the nearest defined one)
        nxt, prv = _distances(los, step) if gaps else (None, None)
        for o in range(new_period):
            first, count = reads(o)
            last = first + (count - 1) * step
            if nxt is not None and prv is not None and count > 0:
                i, k = nxt[first % period], prv[last % period]
                if i is None or k is None or i >= count:
                    count = 0
                else:
                    first, last = first + i * step, last - k * step
            if count <= 0:
                new_lo.append(None)
                new_hi.append(None)
                continue
            q0, r0 = divmod(first, period)
            q1, r1 = divmod(last, period)
            new_lo.append(los[r0] + q0 * j)
            new_hi.append(his[r1] + q1 * j)
        return _normalise(new_period, j * (x // g), new_lo, new_hi)
    for o in range(new_period):
        first, count = reads(o)
        m = min(count, period // gcd(period, step))
        best_lo = best_hi = None
        for i in range(m):  # every residue once: its first tap has the lowest lo
            qq, rr = divmod(first + i * step, period)
            if los[rr] is not None:
                low = los[rr] + qq * j
                best_lo = low if best_lo is None or low < best_lo else best_lo
        for i in range(count - m, count):  # ... its last tap the highest hi
            qq, rr = divmod(first + i * step, period)
            if his[rr] is not None:
                high = his[rr] + qq * j
                best_hi = high if best_hi is None or high > best_hi else best_hi
        new_lo.append(best_lo)
        new_hi.append(best_hi)
    return _normalise(new_period, j * (x // g), new_lo, new_hi)


def _distances(vals: Sequence[int | None], step: int) -> tuple[list[int | None], list[int | None]]:
    """For each residue r of a table with gaps: the fewest steps of ``step`` from r forward
    (nxt) and backward (prv) to a defined entry (None if its orbit has none)."""
    period = len(vals)
    nxt: list[int | None] = [None] * period
    prv: list[int | None] = [None] * period
    g = gcd(period, step)
    cycle = period // g
    for start in range(g):  # each orbit r, r + step, ... of the residues
        orbit = [(start + i * step) % period for i in range(cycle)]
        for dist, order in ((nxt, orbit[::-1]), (prv, orbit)):
            run: int | None = None
            for r in order + order:  # twice around, so the wrap is seen
                run = 0 if vals[r] is not None else None if run is None else run + 1
                dist[r] = run
    return nxt, prv


def _normalise(period: int, advance: int, lo: list, hi: list) -> Dim:
    """The same map with its smallest period: "A" when every output is alike. ``mono``:
    lo and hi never decrease from one defined output to the next."""
    meter.steps += period
    for d in range(1, period):
        if period % d or (advance * d) % period:
            continue
        step = advance * d // period
        meter.steps += period
        if all(
            _shifted(lo, o, d, period, advance) == _add(lo[o], step)
            and _shifted(hi, o, d, period, advance) == _add(hi[o], step)
            for o in range(period)
        ):
            period, advance, lo, hi = d, step, lo[:d], hi[:d]
            break
    if period == 1 and lo[0] is not None:
        return ("A", advance, lo[0], hi[0])
    return ("T", period, advance, tuple(lo), tuple(hi), _monotone(lo, advance) and _monotone(hi, advance))


def _monotone(vals: Sequence[int | None], advance: int) -> bool:
    seq = [x for x in vals if x is not None]
    return not seq or (all(a <= b for a, b in pairwise(seq)) and seq[-1] <= seq[0] + advance)


def _shifted(vals: Sequence[int | None], o: int, d: int, period: int, advance: int) -> int | None:
    q, r = divmod(o + d, period)
    v = vals[r]
    return None if v is None else v + q * advance


def _add(v: int | None, step: int) -> int | None:
    return None if v is None else v + step


# -- merging -----------------------------------------------------------------------------------
def _eval(v: Dim, o: int) -> tuple[int, int] | None:
    """(lo, hi) at output o, or None if nothing reaches it."""
    tag = v[0]
    if tag == "A":
        return v[2] + v[1] * o, v[3] + v[1] * o
    if tag == "F":
        _, j, a, c, lo, bl, hi, bh = v
        return lo + j * ((a * o + bl) // c), hi + j * ((a * o + bh) // c)
    if tag == "T":
        q, r = divmod(o, v[1])
        if v[3][r] is None:
            return None
        return v[3][r] + q * v[2], v[4][r] + q * v[2]
    if tag == "G":
        _, j, lo, hi, s, p, k = v
        x, r = divmod(o + p, s)
        return (lo + j * x, hi + j * x) if r < k else None
    if tag == "S":
        _, period, j, los, his, c, el, eh = v
        ql, rl = divmod((o + el) // c, period)
        qh, rh = divmod((o + eh) // c, period)
        return los[rl] + j * ql, his[rh] + j * qh
    best = None  # M
    for p_ in v[1]:
        e = _eval(p_, o)
        if e is not None:
            best = e if best is None else (min(best[0], e[0]), max(best[1], e[1]))
    return best


def _broadcast(v: Dim) -> Dim:
    """A size-1 input read by every output: its one element, as a constant form."""
    if v is None or v[0] == "W":
        return v
    e = _eval(v, 0)
    if e is None:
        return ("T", 1, 0, (None,), (None,), False)
    return ("A", 0, e[0], e[1])


def _merge_dim(vals: list[Dim], n: int | None, size: int | None) -> Dim:
    wholes = [v for v in vals if v is not None and v[0] == "W"]
    if not wholes:
        if any(v is None for v in vals):
            return None
        return _simplify(vals, n)
    lo, hi = min(w[1] for w in wholes), max(w[2] for w in wholes)
    if size is not None and lo <= 0 and hi >= size - 1:
        return ("W", 0, size - 1)  # already all of the input
    for v in vals:
        if v is not None and v[0] == "W":
            continue
        if v is None or n is None or size is None:
            return None
        rm = _range_minmax(v, n)
        if rm is None:
            return None
        if rm is not _EMPTY:
            lo, hi = min(lo, max(rm[0], 0)), max(hi, min(rm[1], size - 1))
    return ("W", lo, hi)


def _period(v: Dim) -> int:
    tag = v[0]
    if tag == "S":
        return v[1] * v[5]
    return 1 if tag == "A" else v[1] if tag == "T" else v[3] if tag == "F" else v[4]


def _slope(v: Dim) -> Fraction:
    """Input pixels per output pixel, on average."""
    tag = v[0]
    if tag == "A":
        return Fraction(v[1])
    if tag == "T":
        return Fraction(v[2], v[1])
    if tag == "F":
        return Fraction(v[1] * v[2], v[3])
    if tag == "S":
        return Fraction(v[2], v[1] * v[5])
    return Fraction(v[1], v[4])  # G


def _is_empty(v: Dim) -> bool:
    return v[0] == "T" and all(x is None for x in v[3])


def _simplify(pieces: list[Dim], n: int | None) -> Dim:
    """The union of pieces (the fields of merged branches), in as few forms as possible:
    pieces on one grid become one table when their common period is at most CAP."""
    if any(p is None for p in pieces):
        return None
    flat: list[Dim] = []
    for p in pieces:
        flat.extend(p[1] if p[0] == "M" else (p,))
    flat = list(dict.fromkeys(flat))
    if len(flat) > 1:
        flat = [p for p in flat if not _is_empty(p)] or flat[:1]
    if len(flat) == 1:
        return flat[0]
    if all(p[0] == "A" and p[1] == flat[0][1] for p in flat):  # residual blocks: the fast case
        return ("A", flat[0][1], min(p[2] for p in flat), max(p[3] for p in flat))
    groups: dict[Fraction, list[Dim]] = {}
    for p in flat:
        groups.setdefault(_slope(p), []).append(p)
    out: list[Dim] = []
    for group in groups.values():
        small = [p for p in group if _period(p) <= CAP]
        big = [p for p in group if _period(p) > CAP]
        if len(small) > 1:
            united = _union_tables(small)
            small = [united] if united is not None else small
        out.extend(small + big)
    if len(out) > MAX_PIECES:
        return None
    return out[0] if len(out) == 1 else ("M", tuple(out), n)


def _union_tables(group: list[Dim]) -> Dim:
    period = 1
    for p in group:
        period = period * _period(p) // gcd(period, _period(p))
    if period > CAP or period * len(group) > WORK_CAP:
        return None
    meter.steps += period * len(group)
    lo: list[int | None] = [None] * period
    hi: list[int | None] = [None] * period
    advance = 0
    for p in group:
        tab = _as_table(p)
        assert tab is not None  # every period here is at most CAP
        pp, j, los, his, _m = tab
        advance = j * (period // pp)
        for o in range(period):
            q, r = divmod(o, pp)
            if los[r] is None:
                continue
            low, high = los[r] + q * j, his[r] + q * j
            cur_lo, cur_hi = lo[o], hi[o]
            lo[o] = low if cur_lo is None or low < cur_lo else cur_lo
            hi[o] = high if cur_hi is None or high > cur_hi else cur_hi
    return _normalise(period, advance, lo, hi)


# -- the field -------------------------------------------------------------------------------
def _field(v: Dim) -> int | None:
    if v is None:
        return None
    tag = v[0]
    if tag == "A":
        return v[3] - v[2] + 1
    if tag == "W":
        return max(v[2] - v[1] + 1, 0)
    if tag == "F":
        _, j, _a, _c, lo, bl, hi, bh = v  # floor((a*o + bh)/c) - floor((a*o + bl)/c) <= 1
        return hi - lo + 1 + (j if bh > bl else 0)
    if tag == "G":
        return v[3] - v[2] + 1
    if tag == "S":
        # output o reads entries x = floor((o + el)/c) and x + d of the table, d = floor((eh -
        # el)/c) for some o and d + 1 for others (when c does not divide eh - el), for every x
        _, period, j, los, his, c, el, eh = v
        d0, r = divmod(eh - el, c)
        meter.steps += period
        best = 0
        for d in (d0, d0 + 1) if r else (d0,):
            q, sh = divmod(d, period)
            for x in range(period):
                qq, rr = divmod(x + sh, period)
                best = max(best, his[rr] + j * (q + qq) - los[x] + 1)
        return best
    if tag == "T":
        meter.steps += v[1]
        return max((h - lo_ + 1 for lo_, h in zip(v[3], v[4]) if lo_ is not None), default=0)
    return _union_field(v[1], v[2])


_UNKNOWN: Any = ("unknown",)


@lru_cache(maxsize=256)
def _union_field(pieces: tuple, n: int | None) -> int | None:
    """max over o of (max hi - min lo) + 1 over the pieces defined at o: far from the
    borders (every phase) when the pieces share a grid; over the real positions 0..n-1 when
    their grids drift apart (then no output is far from the borders in the same way)."""
    mixed = len({_slope(p) for p in pieces}) > 1
    if mixed and n is None:
        return None
    best = None
    for hp in pieces:
        for lp in pieces:
            m = _pair_max(hp, lp, n if mixed else None)
            if m is _UNKNOWN:
                return None
            if m is not None:
                best = m if best is None else max(best, m)
    return 0 if best is None else best + 1


def _pair_max(hp: Dim, lp: Dim, n: int | None) -> Any:
    """max of hp.hi(o) - lp.lo(o) where both are defined: over every o (n None, same grid)
    or over 0..n-1; None if never both defined, _UNKNOWN if beyond the work bound."""
    ph, pl = _period(hp), _period(lp)
    q = ph * pl // gcd(ph, pl)
    sh, sl = _slope(hp), _slope(lp)
    if n is None or (sh == sl and n >= q):  # every phase: one common period
        if q <= CAP:
            return _scan(hp, lp, range(q))
        return _pair_closed(hp, lp)
    count = min(n, q)
    if count > CAP:
        return _UNKNOWN
    # the difference drifts by (sh - sl) per output: its maximum is in the last (or first) period
    return _scan(hp, lp, range(n - count, n) if sh > sl else range(count))


def _scan(hp: Dim, lp: Dim, positions: range) -> int | None:
    meter.steps += len(positions)
    best = None
    for o in positions:
        a, b = _eval(hp, o), _eval(lp, o)
        if a is not None and b is not None:
            d = a[1] - b[0]
            best = d if best is None or d > best else best
    return best


def _pair_closed(hp: Dim, lp: Dim) -> Any:
    """Closed forms for pieces on one grid whose common period is over CAP."""
    if hp is lp or hp == lp:
        f = _field(hp)
        return _UNKNOWN if f is None else f - 1
    if hp[0] == "F" and lp[0] == "F" and hp[1:4] == lp[1:4]:  # same J, A, C
        _, j, _a, c, _l, _bl, hi, bh = hp
        lo, bl = lp[4], lp[5]
        return hi - lo + j * -((bl - bh) // c)  # max of floor((x+bh)/c) - floor((x+bl)/c)
    if hp[0] == "F" and lp[0] == "A":  # same slope: c divides j; (a*o + bh) % c reaches 0
        _, j, _a, c, _l, _bl, hi, bh = hp
        return hi - lp[2] + j * bh // c
    if hp[0] == "A" and lp[0] == "F":  # ... and reaches c - 1
        _, j, _a, c, lo, bl, _h, _bh = lp
        return hp[3] - lo + j * (c - 1 - bl) // c
    return _UNKNOWN
